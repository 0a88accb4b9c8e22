/*
 * Unit tests of gateway/gw_http.c's pure parts (the file is included to reach them):
 * choosing the response's media type from Accept, recognising a JSON request body, and
 * the document cache's reuse and eviction.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "gw_http.c"

static void accept_chooses_the_media_type(void **state)
{
    (void)state;
    assert_int_equal(negotiate(NULL), MEDIA_JSON);
    assert_int_equal(negotiate(""), MEDIA_JSON);
    assert_int_equal(negotiate("application/graphql-response+json"), MEDIA_GQL);
    assert_int_equal(negotiate("application/json"), MEDIA_JSON);
    assert_int_equal(negotiate("*/*"), MEDIA_JSON);
    assert_int_equal(negotiate("application/*"), MEDIA_JSON);
    assert_int_equal(negotiate("application/json, application/graphql-response+json"), MEDIA_GQL);
    assert_int_equal(negotiate("application/graphql-response+json;q=0.5, application/json"), MEDIA_JSON);
    assert_int_equal(negotiate("application/json;q=0.9, application/graphql-response+json; charset=utf-8"), MEDIA_GQL);
    assert_int_equal(negotiate("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), MEDIA_HTML);
    assert_int_equal(negotiate("application/json, multipart/mixed"), MEDIA_JSON);
    assert_int_equal(negotiate("text/plain"), MEDIA_NONE);
    assert_int_equal(negotiate("application/json;q=0"), MEDIA_NONE);
    assert_int_equal(negotiate("APPLICATION/JSON"), MEDIA_JSON);
}

static void request_bodies_must_be_json(void **state)
{
    (void)state;
    assert_true(json_content_type("application/json"));
    assert_true(json_content_type("application/json; charset=utf-8"));
    assert_true(json_content_type("application/json;charset=UTF-8"));
    assert_true(json_content_type("Application/JSON ; charset=\"utf-8\""));
    assert_false(json_content_type("application/json; charset=latin1"));
    assert_false(json_content_type("application/graphql"));
    assert_false(json_content_type("text/plain"));
    assert_false(json_content_type("application/jsonx"));
}

static void documents_are_cached_and_evicted(void **state)
{
    (void)state;
    gql_sdl_file f = {"t.graphql", "type Query { a: Int b: Int }", 28};
    gql_errors errs;
    gql_errors_init(&errs);
    gql_schema *s = gql_schema_build(&f, 1, NULL, &errs);
    assert_non_null(s);
    gw_gateway_t g;
    memset(&g, 0, sizeof(g));
    g.cfg.limits.max_tokens = 100;
    gw_doccache_t *c = gw_doccache_create(2);
    gw_doc_t *d1 = get_document(c, &g, s, "{ a }", 5, &errs);
    gw_doc_t *again = get_document(c, &g, s, "{ a }", 5, &errs);
    assert_ptr_equal(d1, again); /* parsed and validated once */
    doc_release(again);
    gw_doc_t *d2 = get_document(c, &g, s, "{ b }", 5, &errs);
    gw_doc_t *d3 = get_document(c, &g, s, "{ a b }", 7, &errs); /* evicts "{ a }", still in use */
    assert_non_null(d2);
    assert_non_null(d3);
    assert_int_equal(c->count, 2);
    assert_false(d1->cached);
    assert_non_null(d1->doc); /* its user keeps it alive */
    doc_release(d1);
    /* invalid documents are not cached and report their errors */
    assert_null(get_document(c, &g, s, "{ nope }", 8, &errs));
    assert_int_equal(errs.count, 1);
    assert_null(get_document(c, &g, s, "{ a", 3, &errs));
    assert_int_equal(errs.count, 2);
    /* a reloaded schema: validated again */
    gql_schema *s2 = gql_schema_build(&f, 1, NULL, &errs);
    gw_doc_t *d4 = get_document(c, &g, s2, "{ b }", 5, &errs);
    assert_ptr_not_equal(d4, d2);
    assert_ptr_equal(d4->schema, s2);
    doc_release(d2);
    doc_release(d3);
    doc_release(d4);
    gw_doccache_free(c);
    gql_schema_unref(s);
    gql_schema_unref(s2);
    gql_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accept_chooses_the_media_type),
        cmocka_unit_test(request_bodies_must_be_json),
        cmocka_unit_test(documents_are_cached_and_evicted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
