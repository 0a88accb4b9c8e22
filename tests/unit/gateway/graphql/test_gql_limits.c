/*
 * Unit tests of the request limits: each measurement (depth, aliases, directives,
 * root fields, cost) through fragments and list sizes, and the errors for each
 * limit exceeded.
 */
#include "gql_test.h"

static const char *SDL = "type Query { shop: Shop products(first: Int, limit: Int = 5): [Product] me: User }\n"
                         "type Shop { products(first: Int): [Product] name: String }\n"
                         "type Product { id: ID reviews(last: Int): [Review] tags: [String] }\n"
                         "type Review { stars: Int author: User }\n"
                         "type User { name: String friends: [User] }\n";

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

static gql_operation_stats measure(const char *q, json_t *vars, const gql_limits *l, uint32_t *exceeded, char **first)
{
    gql_document *d = valid_doc(schema, q);
    gql_errors e;
    gql_errors_init(&e);
    gql_operation_stats st;
    uint32_t n = gql_limits_check(schema, d, NULL, vars, l, &st, &e);
    if (exceeded)
        *exceeded = n;
    if (first)
        *first = e.head ? strdup(e.head->message) : NULL;
    gql_errors_free(&e);
    gql_document_free(d);
    return st;
}

static void test_depth(void **state)
{
    (void)state;
    gql_operation_stats st = measure("{ me { name } }", NULL, NULL, NULL, NULL);
    assert_int_equal(st.depth, 2);
    st = measure("{ shop { products { reviews { author { friends { name } } } } } }", NULL, NULL, NULL, NULL);
    assert_int_equal(st.depth, 6);
    /* through fragments, inline or named */
    st = measure("{ ...Q } fragment Q on Query { shop { ... on Shop { products { ...P } } } } "
                 "fragment P on Product { reviews { stars } }",
                 NULL, NULL, NULL, NULL);
    assert_int_equal(st.depth, 4);
    gql_limits l = {0};
    l.max_depth = 3;
    uint32_t n;
    char *first;
    measure("{ shop { products { reviews { stars } } } }", NULL, &l, &n, &first);
    assert_int_equal(n, 1);
    assert_string_equal(first, "The query is too deep: depth 4 exceeds the maximum of 3.");
    free(first);
    /* introspection may be left out of the limits */
    l.ignore_introspection = true;
    st = measure("{ __schema { types { fields { type { name } } } } me { name } }", NULL, &l, &n, NULL);
    assert_int_equal(n, 0);
    assert_int_equal(st.depth, 2);
    /* but aliases of __typename are an alias bomb all the same */
    st = measure("{ me { a: __typename b: __typename c: __typename } }", NULL, &l, &n, NULL);
    assert_int_equal(st.aliases, 3);
}

static void test_aliases_and_directives_count_expansions(void **state)
{
    (void)state;
    /* the fragment is spread three times: its two aliases count three times */
    gql_operation_stats st =
        measure("{ a: me { ...U } b: me { ...U } me { ...U @include(if: true) } } fragment U on User { x: name y: name }",
                NULL, NULL, NULL, NULL);
    assert_int_equal(st.aliases, 2 + 3 * 2);
    assert_int_equal(st.directives, 1);
    assert_int_equal(st.root_fields, 3);
    gql_limits l = {0};
    l.max_aliases = 5;
    l.max_root_fields = 2;
    uint32_t n;
    char *first;
    measure("{ a: me { ...U } b: me { ...U } me { ...U } } fragment U on User { x: name y: name }", NULL, &l, &n, &first);
    assert_int_equal(n, 2);
    assert_string_equal(first, "The query uses 8 aliases, more than the maximum of 5.");
    free(first);
}

static void test_cost(void **state)
{
    (void)state;
    /* products(first: 10) { id reviews(last: 3) { stars } } = 1 + 10 * (1 + (1 + 3 * 1)) */
    gql_operation_stats st = measure("{ products(first: 10) { id reviews(last: 3) { stars } } }", NULL, NULL, NULL, NULL);
    assert_int_equal(st.cost, 1 + 10 * (1 + (1 + 3 * 1)));
    /* no size argument: the argument's default (limit: Int = 5); none at all: 10 */
    st = measure("{ products { id } }", NULL, NULL, NULL, NULL);
    assert_int_equal(st.cost, 1 + 5 * 1);
    st = measure("{ shop { products { id } } }", NULL, NULL, NULL, NULL);
    assert_int_equal(st.cost, 1 + 1 * (1 + 10 * 1));
    /* from variables */
    json_t *vars = json_pack("{s:i}", "n", 1000);
    st = measure("query ($n: Int) { products(first: $n) { tags } }", vars, NULL, NULL, NULL);
    assert_int_equal(st.cost, 1 + 1000 * 1);
    json_decref(vars);
    /* configured size arguments and default */
    const char *size_args[] = {"last"};
    gql_limits l = {0};
    l.size_args = size_args;
    l.nsize_args = 1;
    l.default_list_size = 2;
    l.max_cost = 20;
    uint32_t n;
    char *first;
    st = measure("{ products(first: 100) { reviews(last: 4) { author { friends { name } } } } }", NULL, &l, &n, &first);
    /* products: no `last` -> 2; reviews(last: 4); friends -> 2 */
    assert_int_equal(st.cost, 1 + 2 * (1 + 4 * (1 + (1 + 2 * 1))));
    assert_int_equal(n, 1);
    assert_string_equal(first, "The query is too expensive: estimated cost 35 exceeds the maximum of 20.");
    free(first);
}

/* Relay connections: the size argument is on the field, the lists are below it. */
static void test_cost_of_connections(void **state)
{
    (void)state;
    gql_schema *cs = schema_of("type Query { products(first: Int = 20, after: String): ProductConnection }\n"
                               "type ProductConnection { edges: [Edge] nodes: [Product] totalCount: Int "
                               "pageInfo: PageInfo }\n"
                               "type PageInfo { hasNextPage: Boolean }\n"
                               "type Edge { cursor: String node: Product }\n"
                               "type Product { name: String reviews(first: Int = 10): ReviewConnection tags: [String] }\n"
                               "type ReviewConnection { nodes: [Review] }\n"
                               "type Review { stars: Int }\n");
    gql_operation_stats st;
    gql_errors e;
    gql_errors_init(&e);
    const char *queries[] = {
        /* edges sized by first: 1 + (edges 1 + 50 * (node 1 + name 1)) + totalCount 1 */
        "{ products(first: 50) { edges { node { name } } totalCount } }",
        /* the argument's default (20); pageInfo is not multiplied */
        "{ products { nodes { name } pageInfo { hasNextPage } } }",
        /* nested connections multiply: 1 + (nodes 1 + 100 * (1 + (reviews 1 + (nodes 1 + 30 * 1)))) */
        "{ products(first: 100) { nodes { name reviews(first: 30) { nodes { stars } } } } }",
        /* a list below a node keeps the default size (tags: 10 * 0 subfields = leaf) */
        "{ products(first: 2) { nodes { tags } } }",
    };
    const uint64_t want[] = {
        1 + (1 + 50 * (1 + 1)) + 1,
        1 + (1 + 20 * 1) + (1 + 1),
        1 + (1 + 100 * (1 + (1 + (1 + 30 * 1)))),
        1 + (1 + 2 * 1),
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); ++i) {
        gql_document *d = valid_doc(cs, queries[i]);
        assert_int_equal(gql_limits_check(cs, d, NULL, NULL, NULL, &st, &e), 0);
        if (st.cost != want[i])
            fail_msg("%s: cost %llu, want %llu", queries[i], (unsigned long long)st.cost, (unsigned long long)want[i]);
        gql_document_free(d);
    }
    /* from a variable, through a fragment spread inside the connection */
    json_t *vars = json_pack("{s:i}", "n", 1000);
    gql_document *d = valid_doc(cs, "query ($n: Int) { products(first: $n) { ...C } } "
                                    "fragment C on ProductConnection { nodes { name } }");
    assert_int_equal(gql_limits_check(cs, d, NULL, vars, NULL, &st, &e), 0);
    assert_int_equal(st.cost, 1 + (1 + 1000 * 1));
    gql_document_free(d);
    json_decref(vars);
    gql_errors_free(&e);
    gql_schema_unref(cs);
}

static void test_huge_multipliers_saturate(void **state)
{
    (void)state;
    gql_operation_stats st = measure("{ products(first: 2000000000) { reviews(last: 2000000000) { author { friends { "
                                     "friends { friends { name } } } } } } }",
                                     NULL, NULL, NULL, NULL);
    assert_true(st.cost > 1000000000000ull);
    /* exponential fragment fan-out is measured in linear time */
    char *q = malloc(64 * 100 + 128);
    char *p = q + sprintf(q, "{ me { ...F0 } }\n");
    for (int i = 0; i < 60; i++)
        p += sprintf(p, "fragment F%d on User { a%d: friends { ...F%d } b%d: friends { ...F%d } }\n", i, i, i + 1, i, i + 1);
    sprintf(p, "fragment F60 on User { name }\n");
    gql_limits l = {0};
    l.max_aliases = 1000;
    uint32_t n;
    st = measure(q, NULL, &l, &n, NULL);
    assert_true(st.aliases == UINT32_MAX || st.aliases > 1000000);
    assert_true(n >= 1);
    free(q);
}

static void test_tokens(void **state)
{
    (void)state;
    gql_limits l = {0};
    l.max_tokens = 3;
    uint32_t n;
    char *first;
    gql_operation_stats st = measure("{ me { name } }", NULL, &l, &n, &first);
    assert_int_equal(st.tokens, 6);
    assert_int_equal(n, 1);
    assert_string_equal(first, "The document has 6 tokens, more than the maximum of 3.");
    free(first);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_depth),
        cmocka_unit_test(test_aliases_and_directives_count_expansions),
        cmocka_unit_test(test_cost),
        cmocka_unit_test(test_cost_of_connections),
        cmocka_unit_test(test_huge_multipliers_saturate),
        cmocka_unit_test(test_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
