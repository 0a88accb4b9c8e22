/*
 * Unit tests of gateway/gw_apq.c without Redis: the SHA-256 of a document, every answer
 * of the persisted-query protocol (a plain query, a hash registered, found in the
 * worker's memory, not found, not supported, malformed extensions, a hash that does
 * not match its query) and trusted documents (both file formats, every kind of bad
 * entry refused, by hash and by text, nothing else runs). Redis and two gateways are in
 * the integration test.
 */
#include <ctype.h>
#include <unistd.h>
#include "../graphql/gql_test.h"
#include "gw_apq.h"

static const char *SDL = "type Query { category(id: ID!): Category }\ntype Category { name: String }\n";
static const char Q1[] = "query ApqPage { category(id: \"apq1\") { name } }";
static const char H1[] = "c08daf41a0f0bf8382cc3d947a9156cb3ba840f101961a973c1a9ed7aaffd689";
static const char Q2[] = "{ __typename }";
static const char H2[] = "7f56e67dd21ab3f30d1ff8b7bed08893f0a0db86449836189b361dd1e56ddb4b";

static gql_schema *schema;
static gw_apq_result_t got;
static char got_text[256];
static int calls;

static int setup(void **state)
{
    (void)state;
    schema = schema_of(SDL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gql_schema_unref(schema);
    return 0;
}

static void on_result(const gw_apq_result_t *r, void *data)
{
    (void)data;
    got = *r;
    got_text[0] = '\0';
    if (r->text != NULL)
        snprintf(got_text, sizeof(got_text), "%.*s", (int)r->len, r->text);
    ++calls;
}

/* Resolves a request {query, extensions} given as JSON text (either may be absent). */
static void resolve(const gw_apq_config_t *cfg, const gw_trusted_t *t, gw_apq_worker_t *w, const char *request)
{
    json_t *req = json_loads(request, 0, NULL);
    assert_non_null(req);
    calls = 0;
    gw_apq_resolve(cfg, t, w, NULL, json_object_get(req, "query"), json_object_get(req, "extensions"), on_result, NULL);
    assert_int_equal(calls, 1); /* without Redis: at once */
    json_decref(req);
}

static char *request_of(const char *query, const char *hash, int version)
{
    json_t *r = json_object();
    if (query != NULL)
        json_object_set_new(r, "query", json_string(query));
    if (hash != NULL)
        json_object_set_new(r, "extensions", json_pack("{s:{s:i,s:s}}", "persistedQuery", "version", version,
                                                       "sha256Hash", hash));
    char *s = json_dumps(r, 0);
    json_decref(r);
    return s;
}

static void sha256_in_hex(void **state)
{
    (void)state;
    char out[65];
    gw_sha256_hex(Q1, strlen(Q1), out);
    assert_string_equal(out, H1);
    gw_sha256_hex("", 0, out);
    assert_string_equal(out, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

static void the_protocol(void **state)
{
    (void)state;
    gw_apq_config_t cfg = {.enabled = true, .ttl_s = 60};
    gw_apq_worker_t *w = gw_apq_worker_create(1 << 20);
    char *rq;

    resolve(&cfg, NULL, w, "{\"query\": \"{ __typename }\"}");
    assert_int_equal(got.status, GW_APQ_PLAIN);
    assert_string_equal(got_text, Q2);

    /* a hash alone, unknown: PersistedQueryNotFound (200) */
    resolve(&cfg, NULL, w, rq = request_of(NULL, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_NOT_FOUND);
    assert_string_equal(got.message, "PersistedQueryNotFound");
    assert_string_equal(got.code, "PERSISTED_QUERY_NOT_FOUND");
    assert_int_equal(got.http_status, 200);

    /* the hash with its query: run and register (upper-case hex is the same hash) */
    char upper[65];
    for (int i = 0; i < 65; ++i)
        upper[i] = (char)toupper((unsigned char)H1[i]);
    resolve(&cfg, NULL, w, rq = request_of(Q1, upper, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_REGISTER);
    assert_string_equal(got.hash, H1);
    assert_string_equal(got_text, Q1);
    gw_apq_register(&cfg, w, NULL, got.hash, Q1, strlen(Q1));

    /* now the hash alone is found */
    resolve(&cfg, NULL, w, rq = request_of(NULL, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_FOUND);
    assert_string_equal(got_text, Q1);

    /* a hash that is not the query's */
    resolve(&cfg, NULL, w, rq = request_of(Q2, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_BAD_REQUEST);
    assert_string_equal(got.message, "provided sha does not match query");
    assert_int_equal(got.http_status, 400);

    /* malformed extensions */
    resolve(&cfg, NULL, w, rq = request_of(NULL, H1, 2));
    free(rq);
    assert_int_equal(got.status, GW_APQ_BAD_REQUEST);
    assert_non_null(strstr(got.message, "version"));
    resolve(&cfg, NULL, w, rq = request_of(NULL, "abc", 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_BAD_REQUEST);
    resolve(&cfg, NULL, w, "{\"extensions\": {\"persistedQuery\": \"x\"}}");
    assert_int_equal(got.status, GW_APQ_BAD_REQUEST);

    /* off: not supported, even for a known hash */
    cfg.enabled = false;
    resolve(&cfg, NULL, w, rq = request_of(NULL, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_NOT_SUPPORTED);
    assert_string_equal(got.code, "PERSISTED_QUERY_NOT_SUPPORTED");
    gw_apq_worker_free(w);
}

static void the_worker_memory_is_bounded(void **state)
{
    (void)state;
    gw_apq_config_t cfg = {.enabled = true, .ttl_s = 60};
    gw_apq_worker_t *w = gw_apq_worker_create(60); /* fits one of the two documents */
    gw_apq_register(&cfg, w, NULL, H1, Q1, strlen(Q1));
    char *rq;
    resolve(&cfg, NULL, w, rq = request_of(NULL, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_FOUND);
    gw_apq_register(&cfg, w, NULL, H2, Q2, strlen(Q2));
    resolve(&cfg, NULL, w, rq = request_of(NULL, H2, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_FOUND);
    resolve(&cfg, NULL, w, rq = request_of(NULL, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_NOT_FOUND); /* emptied to make room */
    gw_apq_worker_free(w);
}

static char *write_tmp(const char *name, const char *text)
{
    char *path = malloc(256);
    snprintf(path, 256, "/tmp/test_gw_apq_%d_%s", (int)getpid(), name);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
    return path;
}

static gw_trusted_t *load(const char *path, gql_errors *e)
{
    gql_errors_init(e);
    gql_validate_options vo = {0};
    return gw_trusted_load(path, schema, &vo, e);
}

static void trusted_documents(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof(text),
             "{\"format\":\"apollo-persisted-query-manifest\",\"version\":1,\"operations\":["
             "{\"id\":\"%s\",\"name\":\"ApqPage\",\"type\":\"query\",\"body\":\"%s\"}]}",
             H1, "query ApqPage { category(id: \\\"apq1\\\") { name } }");
    char *path = write_tmp("manifest.json", text);
    gql_errors e;
    gw_trusted_t *t = load(path, &e);
    assert_non_null(t);
    assert_int_equal(e.count, 0);
    gql_errors_free(&e);
    assert_int_equal(gw_trusted_count(t), 1);

    gw_apq_config_t cfg = {.enabled = true, .ttl_s = 60};
    char *rq;
    /* by hash, by exact text */
    resolve(&cfg, t, NULL, rq = request_of(NULL, H1, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_FOUND);
    assert_string_equal(got_text, Q1);
    resolve(&cfg, t, NULL, rq = request_of(Q1, NULL, 0));
    free(rq);
    assert_int_equal(got.status, GW_APQ_PLAIN);
    /* nothing else */
    resolve(&cfg, t, NULL, rq = request_of(Q2, NULL, 0));
    free(rq);
    assert_int_equal(got.status, GW_APQ_NOT_TRUSTED);
    assert_string_equal(got.code, "QUERY_NOT_IN_SAFELIST");
    assert_int_equal(got.http_status, 400);
    resolve(&cfg, t, NULL, rq = request_of(NULL, H2, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_NOT_IN_LIST);
    assert_string_equal(got.code, "PERSISTED_QUERY_NOT_IN_LIST");
    /* nor registered: a hash with its query that is not on the list */
    resolve(&cfg, t, NULL, rq = request_of(Q2, H2, 1));
    free(rq);
    assert_int_equal(got.status, GW_APQ_NOT_IN_LIST);
    gw_trusted_unref(t);
    unlink(path);
    free(path);

    /* the plain format */
    snprintf(text, sizeof(text), "{\"%s\": \"{ __typename }\"}", H2);
    path = write_tmp("plain.json", text);
    t = load(path, &e);
    assert_non_null(t);
    gql_errors_free(&e);
    assert_non_null(gw_trusted_find(t, H2, NULL));
    gw_trusted_unref(t);
    unlink(path);
    free(path);
}

static void bad_trusted_files_are_refused(void **state)
{
    (void)state;
    char text[1024];
    const char *bad[] = {
        /* a hash that is not its document's */
        "{\"c08daf41a0f0bf8382cc3d947a9156cb3ba840f101961a973c1a9ed7aaffd689\": \"{ __typename }\"}",
        /* not a hash */
        "{\"abc\": \"{ __typename }\"}",
        /* not valid against the schema */
        "{\"%s\": \"{ nope }\"}",
        /* not JSON */
        "{\"a\": ",
        /* not a document */
        "[1, 2]",
    };
    const char *want[] = {"is not the SHA-256", "SHA-256 in hex", "Cannot query field", "plain.json:", "must be an object"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        char nope[65];
        gw_sha256_hex("{ nope }", 8, nope);
        if (i == 2)
            snprintf(text, sizeof(text), "{\"%s\": \"{ nope }\"}", nope);
        else
            snprintf(text, sizeof(text), "%s", bad[i]);
        char *path = write_tmp("plain.json", text);
        gql_errors e;
        assert_null(load(path, &e));
        assert_true(e.count >= 1);
        if (strstr(e.head->message, want[i]) == NULL)
            fail_msg("case %zu: %s", i, e.head->message);
        gql_errors_free(&e);
        unlink(path);
        free(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sha256_in_hex),
        cmocka_unit_test(the_protocol),
        cmocka_unit_test(the_worker_memory_is_bounded),
        cmocka_unit_test(trusted_documents),
        cmocka_unit_test(bad_trusted_files_are_refused),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
