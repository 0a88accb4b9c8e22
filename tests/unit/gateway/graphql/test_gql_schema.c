/*
 * Unit tests of schema building: several files with extensions, errors naming file
 * and position, custom directives kept with their coerced arguments (what the
 * gateway binds REST calls with), defaults, reference counting and use of one
 * schema from several threads at once.
 */
#include <pthread.h>

#include "gql_test.h"

static const char *PRODUCTS = "directive @http(service: String!, path: String!, method: Method = GET) on FIELD_DEFINITION\n"
                              "directive @key(fields: String!) repeatable on OBJECT\n"
                              "directive @auth(requires: Role = USER) on FIELD_DEFINITION | OBJECT\n"
                              "enum Method { GET POST }\n"
                              "enum Role { USER ADMIN }\n"
                              "type Query {\n"
                              "  product(id: ID!): Product @http(service: \"product\", path: \"/api/products/{args.id}\")\n"
                              "}\n"
                              "type Product @key(fields: \"id\") @key(fields: \"sku\") @auth { id: ID! sku: String }\n";

static const char *ORDERS = "extend type Query {\n"
                            "  orders(first: Int = 20): [Order!]! @auth(requires: ADMIN) @http(service: \"order\", path: \"/api/orders\", method: POST)\n"
                            "}\n"
                            "type Order { id: ID! product: Product }\n"
                            "extend type Product { orderCount: Int }\n";

static void test_multi_file_and_directives(void **state)
{
    (void)state;
    gql_sdl_file files[] = {{"products.graphql", PRODUCTS, strlen(PRODUCTS)}, {"orders.graphql", ORDERS, strlen(ORDERS)}};
    gql_errors e;
    gql_errors_init(&e);
    gql_schema *s = gql_schema_build(files, 2, NULL, &e);
    if (!s)
        fail_with_errors("build", &e);
    const gql_type *q = gql_schema_type(s, "Query", 5);
    assert_non_null(q);
    assert_int_equal(q->nfields, 2);
    const gql_field *orders = gql_type_field(q, "orders", 6);
    assert_non_null(orders);
    assert_string_equal(orders->source->name, "orders.graphql");
    /* field directives with coerced arguments, defaults applied */
    assert_int_equal(orders->ndirectives, 2);
    const gql_applied_directive *http = gql_directives_find(orders->directives, orders->ndirectives, "http");
    assert_non_null(http);
    char *args = json_dumps(http->args, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(args, "{\"method\":\"POST\",\"path\":\"/api/orders\",\"service\":\"order\"}");
    free(args);
    const gql_field *product = gql_type_field(q, "product", 7);
    http = gql_directives_find(product->directives, product->ndirectives, "http");
    args = json_dumps(http->args, JSON_SORT_KEYS | JSON_COMPACT);
    assert_string_equal(args, "{\"method\":\"GET\",\"path\":\"/api/products/{args.id}\",\"service\":\"product\"}");
    free(args);
    const gql_applied_directive *auth = gql_directives_find(orders->directives, orders->ndirectives, "auth");
    assert_string_equal(json_string_value(json_object_get(auth->args, "requires")), "ADMIN");
    /* type-level directives, repeatable ones in order */
    const gql_type *p = gql_schema_type(s, "Product", 7);
    assert_int_equal(p->ndirectives, 3);
    assert_string_equal(json_string_value(json_object_get(p->directives[0].args, "fields")), "id");
    assert_string_equal(json_string_value(json_object_get(p->directives[1].args, "fields")), "sku");
    assert_string_equal(json_string_value(json_object_get(p->directives[2].args, "requires")), "USER");
    /* extension fields come after the definition's */
    assert_int_equal(p->nfields, 3);
    assert_string_equal(p->fields[2].name, "orderCount");
    /* argument defaults */
    const gql_input_value *first = gql_field_arg(orders, "first", 5);
    assert_true(first->has_default);
    assert_int_equal(json_integer_value(first->default_value), 20);
    assert_string_equal(first->default_printed, "20");
    gql_schema_unref(s);
    gql_errors_free(&e);
}

static void test_errors_name_files(void **state)
{
    (void)state;
    const char *a = "type Query { a: Int }\ntype Dup { x: Int }\n";
    const char *b = "\n\ntype Dup { y: Int }\nextend type Missing { z: Int }\n";
    gql_sdl_file files[] = {{"a.graphql", a, strlen(a)}, {"b.graphql", b, strlen(b)}};
    char *errs = schema_errors_of(files, 2);
    assert_non_null(strstr(errs, "There can be only one type named \\\"Dup\\\".\",\"locations\":[{\"line\":2,\"column\":6,"
                                 "\"file\":\"a.graphql\"},{\"line\":3,\"column\":6,\"file\":\"b.graphql\"}]"));
    assert_non_null(strstr(errs, "Cannot extend type \\\"Missing\\\" because it is not defined."));
    free(errs);
    /* syntax errors name the file too */
    const char *bad = "type Query {\n  a: Int\n";
    gql_sdl_file f = {"broken.graphql", bad, strlen(bad)};
    errs = schema_errors_of(&f, 1);
    assert_string_equal(errs, "[{\"message\":\"Syntax Error: Expected Name, found <EOF>.\",\"locations\":[{\"line\":3,"
                              "\"column\":1,\"file\":\"broken.graphql\"}]}]");
    free(errs);
}

/* The build fails with an error whose message contains `fragment`. */
static void check_invalid(const char *sdl, const char *fragment)
{
    gql_sdl_file f = {"s.graphql", sdl, strlen(sdl)};
    gql_errors e;
    gql_errors_init(&e);
    assert_null(gql_schema_build(&f, 1, NULL, &e));
    for (gql_error *x = e.head; x; x = x->next)
        if (strstr(x->message, fragment)) {
            gql_errors_free(&e);
            return;
        }
    fail_with_errors(fragment, &e);
}

static void test_type_system_rules(void **state)
{
    (void)state;
    check_invalid("type Query { a: In } input In { x: Int }", "The type of Query.a must be Output Type but got: In.");
    check_invalid("type Query { a(x: Query): Int }", "The type of Query.a(x:) must be Input Type but got: Query.");
    check_invalid("interface I { a: Int } type Query implements I { b: Int }",
                  "Interface field I.a expected but Query does not provide it.");
    check_invalid("interface I { a: Int } type Query implements I { a: String }",
                  "Interface field I.a expects type Int but Query.a is type String.");
    check_invalid("interface I { a(x: Int): Int } type Query implements I { a: Int }",
                  "Interface field argument I.a(x:) expected but Query.a does not provide it.");
    check_invalid("interface I { a: Int } interface J implements I { a: Int } type Query implements J { a: Int }",
                  "Type Query must implement I because it is implemented by J.");
    check_invalid("type Query { a: U } union U = Query | String",
                  "Union type U can only include Object types, it cannot include String.");
    check_invalid("type Query { a: U } type B { b: Int } union U = B | B", "Union type U can only include type B once.");
    check_invalid("type Query { a: Int } input A { b: B! } input B { a: A! }",
                  "Cannot reference Input Object \"A\" within itself through a series of non-null fields: \"b.a\".");
    check_invalid("type Query { __a: Int }", "Name \"__a\" must not begin with \"__\"");
    check_invalid("type Query { a: Int } type Mutation", "Type Mutation must define one or more fields.");
    check_invalid("schema { query: Q }", "Unknown type \"Q\".");
    check_invalid("type Query { a: Int } schema { query: Query } schema { query: Query }",
                  "Must provide only one schema definition.");
    check_invalid("type Q { a: Int }", "Query root type must be provided.");
    check_invalid("type Query { a(x: Int! @deprecated): Int }", "Required argument Query.a(x:) cannot be deprecated.");
    check_invalid("type Query { a: Int } input O @oneOf { a: Int! b: Int = 1 }", "OneOf input field O.a must be nullable.");
    /* directives applied in SDL are validated like any other use */
    check_invalid("directive @d(n: Int!) on FIELD_DEFINITION type Query { a: Int @d }",
                  "Directive \"@d\" argument \"n\" of type \"Int!\" is required, but it was not provided.");
    check_invalid("directive @d(n: Int!) on FIELD_DEFINITION type Query { a: Int @d(n: \"x\") }",
                  "Int cannot represent non-integer value: \"x\"");
    check_invalid("directive @d on OBJECT type Query { a: Int @d }", "Directive \"@d\" may not be used on FIELD_DEFINITION.");
    check_invalid("type Query { a: Int @nope }", "Unknown directive \"@nope\".");
    check_invalid("directive @d(n: Int) on FIELD_DEFINITION type Query { a: Int @d(m: 1) }",
                  "Unknown argument \"m\" on directive \"@d\". Did you mean \"n\"?");
    check_invalid("type Query { a: Int @deprecated @deprecated }",
                  "The directive \"@deprecated\" can only be used once at this location.");
    /* defaults must be valid for their types; defaults that need themselves are refused */
    check_invalid("type Query { a(x: Int = \"one\"): Int }", "Int cannot represent non-integer value: \"one\"");
    check_invalid("type Query { a(x: In = {}): Int } input In { b: In2 = {} } input In2 { c: In = {} }",
                  "refers to itself");
    check_invalid("query { a } type Query { a: Int }", "Executable definitions are not allowed in a schema");
    check_invalid("type Query { a: Int } extend scalar Query @specifiedBy(url: \"x\")", "Cannot extend non-scalar type");
}

static void test_builtins(void **state)
{
    (void)state;
    gql_schema *s = schema_of("type Query { a: Int }");
    /* graphql-js includes only the built-in scalars that are referenced */
    assert_non_null(gql_schema_type(s, "Int", 3));
    assert_non_null(gql_schema_type(s, "String", 6));
    assert_non_null(gql_schema_type(s, "Boolean", 7));
    assert_null(gql_schema_type(s, "Float", 5));
    assert_null(gql_schema_type(s, "ID", 2));
    assert_non_null(gql_schema_type(s, "__Schema", 8));
    assert_int_equal(s->ndirectives, 5);
    assert_string_equal(s->directives[0]->name, "include");
    assert_string_equal(s->directives[4]->name, "oneOf");
    assert_ptr_equal(s->query, gql_schema_type(s, "Query", 5));
    assert_null(s->mutation);
    gql_schema_unref(s);
}

static int parse_money(void *ud, const gql_type *t, json_t *v, json_t **out, gql_buf *err)
{
    (void)ud;
    if (strcmp(t->name, "Money") != 0)
        return 0;
    if (!json_is_integer(v)) {
        gql_buf_puts(err, "Money is an integer number of cents.");
        return -1;
    }
    *out = json_integer(json_integer_value(v));
    return 0;
}

static void test_scalar_hooks_in_defaults(void **state)
{
    (void)state;
    const char *sdl = "scalar Money type Query { price(min: Money = 100): Int bad(min: Money = \"1.5\"): Int }";
    gql_schema_options o;
    memset(&o, 0, sizeof o);
    o.scalars.parse_literal = parse_money;
    gql_sdl_file f = {"m.graphql", sdl, strlen(sdl)};
    gql_errors e;
    gql_errors_init(&e);
    assert_null(gql_schema_build(&f, 1, &o, &e));
    assert_string_equal(e.head->message, "Money is an integer number of cents.");
    gql_errors_free(&e);
}

/* One schema, many threads validating and executing at once; the last unref frees. */
typedef struct thread_arg {
    gql_schema *s;
    int ok;
} thread_arg;

static void *worker(void *p)
{
    thread_arg *a = p;
    gql_schema *s = a->s; /* a reference taken for this request by the dispatcher */
    a->ok = 1;
    for (int i = 0; i < 200; i++) {
        const char *q = "{ product(id: 1) { id sku orderCount } __schema { types { name } } }";
        gql_errors e;
        gql_errors_init(&e);
        gql_document *d = gql_parse(q, strlen(q), NULL, &e);
        if (!d || gql_validate(s, d, NULL, &e)) {
            a->ok = 0;
        } else {
            json_t *root = json_pack("{s:{s:s,s:s,s:i}}", "product", "id", "p1", "sku", "S", "orderCount", i);
            gql_exec_options o;
            memset(&o, 0, sizeof o);
            o.root = root;
            gql_buf out;
            gql_buf_init(&out, 0);
            gql_execute_sync(s, d, &o, &out);
            if (!strstr(gql_buf_cstr(&out), "\"sku\":\"S\""))
                a->ok = 0;
            gql_buf_free(&out);
            json_decref(root);
        }
        gql_document_free(d);
        gql_errors_free(&e);
    }
    gql_schema_unref(s);
    return NULL;
}

static void test_shared_between_threads(void **state)
{
    (void)state;
    gql_sdl_file files[] = {{"products.graphql", PRODUCTS, strlen(PRODUCTS)}, {"orders.graphql", ORDERS, strlen(ORDERS)}};
    gql_errors e;
    gql_errors_init(&e);
    gql_schema *s = gql_schema_build(files, 2, NULL, &e);
    assert_non_null(s);
    pthread_t t[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].s = gql_schema_ref(s);
        pthread_create(&t[i], NULL, worker, &args[i]);
    }
    /* a hot reload drops the loader's reference while requests still run */
    gql_schema_unref(s);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_true(args[i].ok);
    }
    gql_errors_free(&e);
}

static void test_print_schema_keeps_order(void **state)
{
    (void)state;
    gql_schema *s = schema_of("type Query { b: B a: A } type B { x: Int } type A { y: Float }");
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_print_schema(s, &b);
    assert_string_equal(gql_buf_cstr(&b), "type Query {\n  b: B\n  a: A\n}\n\ntype B {\n  x: Int\n}\n\ntype A {\n  y: Float\n}");
    /* and graphql-js's type map order: Int after B (first referenced there), Float after A */
    assert_string_equal(s->types[0]->name, "Query");
    assert_string_equal(s->types[1]->name, "B");
    assert_string_equal(s->types[2]->name, "Int");
    assert_string_equal(s->types[3]->name, "A");
    assert_string_equal(s->types[4]->name, "Float");
    gql_buf_free(&b);
    gql_schema_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_file_and_directives), cmocka_unit_test(test_errors_name_files),
        cmocka_unit_test(test_type_system_rules),         cmocka_unit_test(test_builtins),
        cmocka_unit_test(test_scalar_hooks_in_defaults),  cmocka_unit_test(test_shared_between_threads),
        cmocka_unit_test(test_print_schema_keeps_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
