/*
 * Unit tests of validation beyond graphql-js's own cases (which run in the
 * conformance suite): the error limit, rule selection, and documents built to be
 * expensive — repeated and nested fields for the field-merging rule, fragment chains
 * and spread trees for the fragment rules. Each must finish (ctest's timeout is the
 * alarm) with the expected verdict; none may recurse without bound.
 */
#include "gql_test.h"

static const char *SDL = "type Query { a: T f(x: Int): T l: [T] s: String }\n"
                         "type T { a: T b: String c: Int f(x: Int): T l: [T] }\n"
                         "type Subscription { one: Int two: Int }\n";

static gql_schema *schema;

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

/* Repeats `unit` n times inside `prefix … suffix`. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
    size_t lp = strlen(prefix), lu = strlen(unit), ls = strlen(suffix);
    char *s = malloc(lp + lu * n + ls + 1);
    memcpy(s, prefix, lp);
    for (size_t i = 0; i < n; i++)
        memcpy(s + lp + i * lu, unit, lu);
    memcpy(s + lp + lu * n, suffix, ls + 1);
    return s;
}

static uint32_t count_errors(const char *q, const gql_validate_options *o, char **first)
{
    gql_document *d = doc_of(q);
    gql_errors e;
    gql_errors_init(&e);
    uint32_t n = gql_validate(schema, d, o, &e);
    if (first)
        *first = e.head ? strdup(e.head->message) : NULL;
    gql_errors_free(&e);
    gql_document_free(d);
    return n;
}

static void test_error_limit(void **state)
{
    (void)state;
    char *q = repeat("{ ", "nope ", 150, "}");
    gql_document *d = doc_of(q);
    gql_errors e;
    gql_errors_init(&e);
    assert_int_equal(gql_validate(schema, d, NULL, &e), 101);
    assert_string_equal(e.tail->message, "Too many validation errors, error limit reached. Validation aborted.");
    gql_errors_free(&e);
    gql_errors_init(&e);
    gql_validate_options o = {0};
    o.max_errors = 3;
    assert_int_equal(gql_validate(schema, d, &o, &e), 4);
    assert_null(d->validated_for);
    gql_errors_free(&e);
    gql_document_free(d);
    free(q);
}

static void test_rule_selection(void **state)
{
    (void)state;
    gql_validate_options o = {0};
    o.rules = GQL_RULE_BIT(GQL_RULE_NO_UNUSED_FRAGMENTS);
    char *first;
    assert_int_equal(count_errors("{ nope } fragment F on T { b }", &o, &first), 1);
    assert_string_equal(first, "Fragment \"F\" is never used.");
    free(first);
    assert_int_equal(gql_rule_by_name("OverlappingFieldsCanBeMergedRule"), GQL_RULE_OVERLAPPING_FIELDS_CAN_BE_MERGED);
    assert_int_equal(gql_rule_by_name("NoSuchRule"), -1);
    /* the optional rules graphql-js ships */
    o.rules = GQL_RULE_BIT(GQL_RULE_NO_SCHEMA_INTROSPECTION);
    assert_int_equal(count_errors("{ __schema { queryType { name } } }", &o, NULL), 2); /* as graphql-js */
}

static void test_identical_fields_are_cheap(void **state)
{
    (void)state;
    /* 20k copies of the same field, each with a sub-selection: graphql-js compares
     * every pair (200M comparisons); identical spread-free fields share a class */
    char *q = repeat("{ ", "a { b c a { b } } ", 20000, "}");
    assert_int_equal(count_errors(q, NULL, NULL), 0);
    free(q);
    /* nested duplication, exponential when compared naively */
    char *inner = strdup("b");
    for (int i = 0; i < 12; i++) {
        char *next = malloc(strlen(inner) * 2 + 32);
        sprintf(next, "a { %s } a { %s }", inner, inner);
        free(inner);
        inner = next;
    }
    char *q2 = malloc(strlen(inner) + 8);
    sprintf(q2, "{ %s }", inner);
    assert_int_equal(count_errors(q2, NULL, NULL), 0);
    free(inner);
    free(q2);
}

static void test_conflicts_stay_bounded(void **state)
{
    (void)state;
    /* many conflicting aliases: errors stop at the limit */
    char *q = malloc(5000 * 24 + 16);
    char *p = q + sprintf(q, "{ ");
    for (int i = 0; i < 5000; i++)
        p += sprintf(p, "x: f(x: %d) { b } ", i);
    strcpy(p, "}");
    assert_int_equal(count_errors(q, NULL, NULL), 101);
    free(q);
    /* many distinct non-conflicting same-named fields: either checked or refused as
     * too complex by the work budget, never run for seconds */
    q = malloc(3000 * 32 + 16);
    p = q + sprintf(q, "{ ");
    for (int i = 0; i < 3000; i++)
        p += sprintf(p, "a { a%d: b } ", i);
    strcpy(p, "}");
    char *first = NULL;
    uint32_t n = count_errors(q, NULL, &first);
    assert_true(n == 0 || (n == 1 && strstr(first, "too complex")));
    free(first);
    free(q);
    /* a small budget turns the check into one clear error */
    gql_validate_options o = {0};
    o.max_overlap_work = 100;
    q = malloc(100 * 24 + 8);
    p = q + sprintf(q, "{ ");
    for (int i = 0; i < 100; i++)
        p += sprintf(p, "a { a%d: b } ", i);
    strcpy(p, "}");
    assert_int_equal(count_errors(q, &o, &first), 1);
    assert_string_equal(first, "The document is too complex to check that its fields can be merged.");
    free(first);
    free(q);
}

static void test_fragment_chains(void **state)
{
    (void)state;
    /* 20000 fragments spreading the next one: iterative cycle detection and usage
     * collection, bounded recursion for the rules that follow spreads */
    size_t n = 20000;
    char *q = malloc(n * 64 + 64);
    char *p = q + sprintf(q, "{ a { ...F0 } }\n");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "fragment F%zu on T { b ...F%zu }\n", i, i + 1);
    p += sprintf(p, "fragment F%zu on T { c }\n", n);
    char *first = NULL;
    uint32_t errors = count_errors(q, NULL, &first);
    /* valid except that the chain is too deep to be merged-checked */
    assert_true(errors == 0 || (errors == 1 && strstr(first, "too complex")));
    free(first);
    /* close the chain into a cycle */
    sprintf(strrchr(q, 'f'), "fragment F%zu on T { c ...F0 }\n", n);
    errors = count_errors(q, NULL, &first);
    assert_true(errors >= 1);
    assert_non_null(strstr(first, "Cannot spread fragment"));
    free(first);
    free(q);
}

static void test_introspection_depth_spread_tree(void **state)
{
    (void)state;
    /* each fragment spreads the next twice: 2^25 paths for a naive walk */
    char *q = malloc(64 * 64 + 256);
    char *p = q + sprintf(q, "{ __schema { types { ...F0 } } }\n");
    for (int i = 0; i < 25; i++)
        p += sprintf(p, "fragment F%d on __Type { ...F%d ofType { ...F%d } }\n", i, i + 1, i + 1);
    sprintf(p, "fragment F25 on __Type { name fields { name } }\n");
    gql_validate_options o = {0};
    o.rules = GQL_RULE_BIT(GQL_RULE_MAX_INTROSPECTION_DEPTH);
    char *first = NULL;
    assert_int_equal(count_errors(q, &o, &first), 0);
    free(first);
    free(q);
    /* and the rule does fire three list levels down */
    assert_int_equal(count_errors("{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }", &o,
                                  &first),
                     1);
    assert_string_equal(first, "Maximum introspection depth exceeded");
    free(first);
}

static void test_subscription_root_with_variable_directive(void **state)
{
    (void)state;
    /* graphql-js throws from validate() here; the specification's CollectFields with
     * no variables keeps both fields, so the operation selects two root fields */
    gql_validate_options o = {0};
    o.rules = GQL_RULE_BIT(GQL_RULE_SINGLE_FIELD_SUBSCRIPTIONS);
    char *first = NULL;
    assert_int_equal(count_errors("subscription ($x: Boolean!) { one @skip(if: $x) two }", &o, &first), 1);
    assert_string_equal(first, "Anonymous Subscription must select only one top level field.");
    free(first);
    assert_int_equal(count_errors("subscription { one @skip(if: true) two }", &o, NULL), 0);
}

static void test_marks_validated(void **state)
{
    (void)state;
    gql_document *d = doc_of("{ s }");
    gql_errors e;
    gql_errors_init(&e);
    assert_int_equal(gql_validate(schema, d, NULL, &e), 0);
    assert_ptr_equal(d->validated_for, schema);
    gql_errors_free(&e);
    gql_document_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_limit),
        cmocka_unit_test(test_rule_selection),
        cmocka_unit_test(test_identical_fields_are_cheap),
        cmocka_unit_test(test_conflicts_stay_bounded),
        cmocka_unit_test(test_fragment_chains),
        cmocka_unit_test(test_introspection_depth_spread_tree),
        cmocka_unit_test(test_subscription_root_with_variable_directive),
        cmocka_unit_test(test_marks_validated),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
