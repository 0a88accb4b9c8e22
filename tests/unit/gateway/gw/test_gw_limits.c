/*
 * Unit tests of gateway/gw_limits.c: every limit refused names itself in the error's
 * extensions (limit, measured, maximum), introspection can be refused while __typename
 * stays, and "Did you mean …?" is cut from messages the way Apollo Server does it.
 */
#include "../graphql/gql_test.h"
#include "gw_gateway.h"
#include "gw_limits.h"

static const char *SDL = "type Query { products(first: Int): [Product] user(id: ID): User }\n"
                         "type Product { id: ID name: String reviews(first: Int): [Review] }\n"
                         "type Review { stars: Int author: User }\n"
                         "type User { name: String friends(first: Int): [User] }\n";

static gql_schema *schema;
static gw_config_t cfg;

static int setup(void **state)
{
    (void)state;
    schema = schema_of(SDL);
    memset(&cfg, 0, sizeof(cfg));
    cfg.limits.max_tokens = 10000;
    cfg.limits.max_depth = 6;
    cfg.limits.max_aliases = 3;
    cfg.limits.max_directives = 2;
    cfg.limits.max_root_fields = 2;
    cfg.limits.max_cost = 1000;
    cfg.limits.default_list_size = 10;
    cfg.limits.ignore_introspection = true;
    cfg.introspection = true;
    cfg.suggestions = true;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gql_schema_unref(schema);
    return 0;
}

/* Applies the limits; returns the errors as JSON (caller frees) and the count. */
static json_t *apply(const char *q, uint32_t *n, gql_operation_stats *st)
{
    gql_document *d = valid_doc(schema, q);
    gql_errors e;
    gql_errors_init(&e);
    gql_operation_stats s;
    *n = gw_limits_apply(&cfg, schema, d, NULL, NULL, &s, &e);
    if (st != NULL)
        *st = s;
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(&e, &b, false);
    json_t *v = json_loads(gql_buf_cstr(&b), 0, NULL);
    gql_buf_free(&b);
    gql_errors_free(&e);
    gql_document_free(d);
    return v;
}

static void within_the_limits_nothing_is_reported(void **state)
{
    (void)state;
    uint32_t n;
    gql_operation_stats st;
    json_t *v = apply("{ products(first: 5) { name reviews(first: 2) { stars } } }", &n, &st);
    assert_int_equal(n, 0);
    assert_int_equal(json_array_size(v), 0);
    assert_int_equal(st.cost, 1 + 5 * (1 + 1 + 2 * 1));
    json_decref(v);
}

static void each_limit_names_itself(void **state)
{
    (void)state;
    uint32_t n;
    /* an alias bomb: four aliases of a cheap field */
    json_t *v = apply("{ user(id: 1) { a: name b: name c: name d: name } }", &n, NULL);
    assert_int_equal(n, 1);
    json_t *ext = json_object_get(json_array_get(v, 0), "extensions");
    assert_string_equal(json_string_value(json_object_get(ext, "code")), "BAD_USER_INPUT");
    assert_string_equal(json_string_value(json_object_get(ext, "limit")), "aliases");
    assert_int_equal(json_integer_value(json_object_get(ext, "measured")), 4);
    assert_int_equal(json_integer_value(json_object_get(ext, "maximum")), 3);
    json_decref(v);

    /* a cost bomb: list sizes multiply */
    v = apply("{ products(first: 100) { reviews(first: 100) { author { name } } } }", &n, NULL);
    assert_int_equal(n, 1);
    ext = json_object_get(json_array_get(v, 0), "extensions");
    assert_string_equal(json_string_value(json_object_get(ext, "limit")), "cost");
    assert_true(json_integer_value(json_object_get(ext, "measured")) > 10000);
    assert_int_equal(json_integer_value(json_object_get(ext, "maximum")), 1000);
    json_decref(v);

    /* deep, many root fields and directives at once: one error each, each named */
    v = apply("{ a: user(id: 1) { friends(first: 1) { friends(first: 1) { friends(first: 1) { friends(first: 1) { "
              "friends(first: 1) { name @include(if: true) @skip(if: false) __typename @include(if: true) } } } } } } "
              "b: user(id: 2) { name } c: user(id: 3) { name } }",
              &n, NULL);
    assert_int_equal(n, 3);
    const char *want[] = {"depth", "directives", "rootFields"};
    for (size_t i = 0; i < 3; ++i) {
        ext = json_object_get(json_array_get(v, i), "extensions");
        assert_string_equal(json_string_value(json_object_get(ext, "limit")), want[i]);
        assert_non_null(json_object_get(ext, "measured"));
    }
    json_decref(v);
}

static void introspection_can_be_refused(void **state)
{
    (void)state;
    cfg.introspection = false;
    gql_validate_options vo = gw_limits_validate_options(&cfg);
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = doc_of("{ __schema { types { name } } }");
    assert_true(gql_validate(schema, d, &vo, &e) > 0);
    assert_non_null(strstr(e.head->message, "introspection"));
    gql_document_free(d);
    gql_errors_free(&e);
    gql_errors_init(&e);
    d = doc_of("{ __typename products(first: 1) { __typename id } }");
    assert_int_equal(gql_validate(schema, d, &vo, &e), 0);
    gql_document_free(d);
    gql_errors_free(&e);
    cfg.introspection = true;
    vo = gw_limits_validate_options(&cfg);
    gql_errors_init(&e);
    d = doc_of("{ __schema { types { name } } }");
    assert_int_equal(gql_validate(schema, d, &vo, &e), 0);
    gql_document_free(d);
    gql_errors_free(&e);
}

static void suggestions_are_cut(void **state)
{
    (void)state;
    char m1[] = "Cannot query field \"nme\" on type \"User\". Did you mean \"name\"?";
    size_t n = gw_message_hide_suggestion(m1, strlen(m1));
    assert_string_equal(m1, "Cannot query field \"nme\" on type \"User\".");
    assert_int_equal(n, strlen(m1));
    char m2[] = "Unknown type \"Prodct\". Did you mean \"Product\"?";
    gw_message_hide_suggestion(m2, strlen(m2));
    assert_string_equal(m2, "Unknown type \"Prodct\".");
    char m3[] = "Cannot query field \"zzz\" on type \"User\".";
    assert_int_equal(gw_message_hide_suggestion(m3, strlen(m3)), strlen(m3));
    assert_string_equal(m3, "Cannot query field \"zzz\" on type \"User\".");

    /* on the validator's own errors */
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = doc_of("{ user(id: 1) { nme } }");
    assert_true(gql_validate(schema, d, NULL, &e) > 0);
    assert_non_null(strstr(e.head->message, "Did you mean"));
    gw_errors_hide_suggestions(&e);
    assert_null(strstr(e.head->message, "Did you mean"));
    assert_int_equal(e.head->message_len, strlen(e.head->message));
    gql_document_free(d);
    gql_errors_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(within_the_limits_nothing_is_reported),
        cmocka_unit_test(each_limit_names_itself),
        cmocka_unit_test(introspection_can_be_refused),
        cmocka_unit_test(suggestions_are_cut),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
