/*
 * Unit tests of the executor's asynchronous model — what the gateway relies on and
 * graphql-js comparisons cannot show: every field of a level handed out before the
 * executor waits (so N look-ups become one batch), completion in any order with the
 * response in request order, serial mutations, the information resolvers get,
 * custom scalars and type resolution hooks, subscriptions, and the error paths.
 */
#include "gql_test.h"

static const char *SDL =
    "directive @http(service: String!, path: String!) on FIELD_DEFINITION\n"
    "scalar Money\n"
    "type Query {\n"
    "  products(first: Int = 3): [Product!]! @http(service: \"product\", path: \"/api/products\")\n"
    "  node(id: ID!): Node\n"
    "  echo(a: Int = 7, b: [String] = \"x\", c: In): String\n"
    "  slow: Int\n"
    "}\n"
    "input In { x: Int! y: Money }\n"
    "interface Node { id: ID! }\n"
    "type Product implements Node { id: ID! name: String! price: Money seller: Seller category: Category }\n"
    "type Seller implements Node { id: ID! name: String rating: Float }\n"
    "type Category { name: String! }\n"
    "type Mutation { first: Step second: Step third: Int }\n"
    "type Step { n: Int later: Int }\n"
    "type Subscription { priceChanged(id: ID!, threshold: Int = 10): Product }\n";

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

/* ---- a gateway-like resolver: product.seller is fetched later, in batches ---------- */

typedef struct batch {
    gql_ticket *tickets[1024];
    uint32_t n;
    uint32_t dispatches;      /* on_dispatched calls */
    uint32_t sizes[16];       /* pending tickets at each dispatch */
    uint32_t resolver_calls;
    int order[16];            /* mutation root fields, in call order */
    uint32_t norder;
} batch;

static gql_resolve_status resolve(void *ud, const gql_field_info *info, gql_resolution *out)
{
    batch *b = ud;
    b->resolver_calls++;
    if (strcmp(info->parent_type->name, "Product") == 0 && strcmp(info->field->name, "seller") == 0) {
        gql_ticket *t = gql_field_defer(info);
        assert_non_null(t);
        b->tickets[b->n++] = t;
        return GQL_PENDING;
    }
    if (strcmp(info->parent_type->name, "Mutation") == 0) {
        b->order[b->norder++] = strcmp(info->field->name, "first") == 0 ? 1 : strcmp(info->field->name, "second") == 0 ? 2 : 3;
        if (strcmp(info->field->name, "first") == 0) {
            b->tickets[b->n++] = gql_field_defer(info);
            return GQL_PENDING;
        }
    }
    if (strcmp(info->field->name, "later") == 0) {
        b->tickets[b->n++] = gql_field_defer(info);
        return GQL_PENDING;
    }
    return gql_default_resolver(NULL, info, out);
}

static void on_dispatched(void *ud, gql_exec *e)
{
    batch *b = ud;
    if (b->dispatches < 16)
        b->sizes[b->dispatches] = gql_exec_pending(e);
    b->dispatches++;
}

static json_t *products_root(int n)
{
    json_t *list = json_array();
    for (int i = 0; i < n; i++) {
        json_t *p = json_pack("{s:s,s:s,s:i}", "id", "p", "name", "Product", "price", 100 * i);
        char id[16];
        snprintf(id, sizeof id, "p%d", i);
        json_object_set_new(p, "id", json_string(id));
        json_array_append_new(list, p);
    }
    return json_pack("{s:o}", "products", list);
}

static void test_level_is_dispatched_whole(void **state)
{
    (void)state;
    batch b;
    memset(&b, 0, sizeof b);
    json_t *root = products_root(100);
    gql_document *d = valid_doc(schema, "{ products(first: 100) { id seller { id name } name } }");
    gql_exec_options o = {0};
    o.root = root;
    o.resolve = resolve;
    o.resolve_ud = &b;
    o.on_dispatched = on_dispatched;
    o.on_dispatched_ud = &b;
    gql_exec *e = gql_exec_new(schema, d, &o);
    assert_int_equal(gql_exec_run(e), GQL_EXEC_WAITING);
    /* all 100 sellers are pending at the first (and only) dispatch: one batch */
    assert_int_equal(b.n, 100);
    assert_int_equal(b.dispatches, 1);
    assert_int_equal(b.sizes[0], 100);
    /* the gateway answers the batch in reverse order */
    for (int i = 99; i >= 0; i--) {
        const gql_field_info *info = gql_ticket_info(b.tickets[i]);
        assert_string_equal(json_string_value(json_object_get(info->parent, "name")), "Product");
        json_t *path = gql_field_path(info);
        assert_int_equal(json_integer_value(json_array_get(path, 1)), i);
        assert_string_equal(json_string_value(json_array_get(path, 2)), "seller");
        json_decref(path);
        char name[16];
        snprintf(name, sizeof name, "S%d", i);
        gql_ticket_resolve(b.tickets[i], json_pack("{s:s,s:s}", "id", "s", "name", name));
    }
    assert_int_equal(gql_exec_run(e), GQL_EXEC_DONE);
    gql_buf out;
    gql_buf_init(&out, 0);
    assert_int_equal(gql_exec_write_response(e, &out), 0);
    const char *r = gql_buf_cstr(&out);
    /* request order, not completion order */
    assert_non_null(strstr(r, "{\"data\":{\"products\":[{\"id\":\"p0\",\"seller\":{\"id\":\"s\",\"name\":\"S0\"},\"name\":\"Product\"},"
                              "{\"id\":\"p1\",\"seller\":{\"id\":\"s\",\"name\":\"S1\"}"));
    gql_buf_free(&out);
    gql_exec_free(e);
    gql_document_free(d);
    json_decref(root);
}

static void test_field_info_and_args(void **state)
{
    (void)state;
    batch b;
    memset(&b, 0, sizeof b);
    json_t *root = products_root(3);
    gql_document *d = valid_doc(schema, "query ($n: Int) { products(first: $n) { id seller { id } } }");
    gql_exec_options o = {0};
    o.root = root;
    o.resolve = resolve;
    o.resolve_ud = &b;
    json_t *vars = json_pack("{s:i}", "n", 2);
    o.variables = vars;
    gql_exec *e = gql_exec_new(schema, d, &o);
    assert_int_equal(gql_exec_run(e), GQL_EXEC_WAITING);
    const gql_field_info *info = gql_ticket_info(b.tickets[0]);
    assert_string_equal(info->parent_type->name, "Product");
    assert_string_equal(info->field->name, "seller");
    assert_int_equal(info->nnodes, 1);
    assert_true(gql_str_eqc(info->response_key, "seller"));
    for (uint32_t i = 0; i < b.n; i++)
        gql_ticket_fail(b.tickets[i], "upstream unavailable", json_pack("{s:s}", "code", "UPSTREAM_UNAVAILABLE"));
    assert_int_equal(gql_exec_run(e), GQL_EXEC_DONE);
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_exec_write_response(e, &out);
    assert_non_null(strstr(gql_buf_cstr(&out),
                           "{\"errors\":[{\"message\":\"upstream unavailable\",\"locations\":[{\"line\":1,\"column\":44}],"
                           "\"path\":[\"products\",0,\"seller\"],\"extensions\":{\"code\":\"UPSTREAM_UNAVAILABLE\"}},"));
    assert_non_null(strstr(gql_buf_cstr(&out), "\"data\":{\"products\":[{\"id\":\"p0\",\"seller\":null},"));
    gql_buf_free(&out);
    gql_exec_free(e);
    gql_document_free(d);
    json_decref(vars);
    json_decref(root);
}

static gql_resolve_status capture_args(void *ud, const gql_field_info *info, gql_resolution *out)
{
    if (strcmp(info->field->name, "echo") == 0) {
        char *s = json_dumps(info->args, JSON_COMPACT | JSON_SORT_KEYS);
        out->value = json_string(s);
        free(s);
        /* the field's SDL directives are at hand */
        return GQL_RESOLVED;
    }
    if (strcmp(info->field->name, "products") == 0) {
        const gql_applied_directive *http = gql_directives_find(info->field->directives, info->field->ndirectives, "http");
        *(const char **)ud = json_string_value(json_object_get(http->args, "path"));
        out->value = json_array();
        return GQL_RESOLVED;
    }
    return gql_default_resolver(NULL, info, out);
}

static void test_coerced_arguments(void **state)
{
    (void)state;
    const char *path = NULL;
    gql_exec_options o = {0};
    o.resolve = capture_args;
    o.resolve_ud = &path;
    assert_json_eq(run_query(schema, "{ echo products { id } }", NULL, &o),
                   "{\"data\":{\"echo\":\"{\\\"a\\\":7,\\\"b\\\":[\\\"x\\\"]}\",\"products\":[]}}");
    assert_string_equal(path, "/api/products");
    assert_json_eq(run_query(schema, "{ echo(a: 1, b: \"y\", c: {x: 2}) }", NULL, &o),
                   "{\"data\":{\"echo\":\"{\\\"a\\\":1,\\\"b\\\":[\\\"y\\\"],\\\"c\\\":{\\\"x\\\":2}}\"}}");
}

static void test_mutations_run_serially(void **state)
{
    (void)state;
    batch b;
    memset(&b, 0, sizeof b);
    json_t *root = json_pack("{s:{s:i,s:i},s:{s:i,s:i},s:i}", "first", "n", 1, "later", 10, "second", "n", 2, "later", 20,
                             "third", 3);
    gql_document *d = valid_doc(schema, "mutation { third first { n later } second { n later } }");
    gql_exec_options o = {0};
    o.root = root;
    o.resolve = resolve;
    o.resolve_ud = &b;
    gql_exec *e = gql_exec_new(schema, d, &o);
    /* third runs, then first defers: second must wait for first and its subtree */
    assert_int_equal(gql_exec_run(e), GQL_EXEC_WAITING);
    assert_int_equal(b.norder, 2);
    assert_int_equal(b.order[0], 3);
    assert_int_equal(b.order[1], 1);
    gql_ticket_resolve(b.tickets[0], json_pack("{s:i,s:i}", "n", 1, "later", 10));
    assert_int_equal(gql_exec_run(e), GQL_EXEC_WAITING); /* first.later is pending now */
    assert_int_equal(b.norder, 2);
    gql_ticket_resolve(b.tickets[1], json_integer(11));
    assert_int_equal(gql_exec_run(e), GQL_EXEC_WAITING); /* second ran; its `later` waits */
    assert_int_equal(b.norder, 3);
    assert_int_equal(b.order[2], 2);
    gql_ticket_resolve(b.tickets[2], json_integer(22));
    assert_int_equal(gql_exec_run(e), GQL_EXEC_DONE);
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_exec_write_response(e, &out);
    assert_string_equal(gql_buf_cstr(&out),
                        "{\"data\":{\"third\":3,\"first\":{\"n\":1,\"later\":11},\"second\":{\"n\":2,\"later\":22}}}");
    gql_buf_free(&out);
    gql_exec_free(e);
    gql_document_free(d);
    json_decref(root);
}

static void test_free_with_pending_tickets(void **state)
{
    (void)state;
    batch b;
    memset(&b, 0, sizeof b);
    json_t *root = products_root(5);
    gql_document *d = valid_doc(schema, "{ products { seller { id } } }");
    gql_exec_options o = {0};
    o.root = root;
    o.resolve = resolve;
    o.resolve_ud = &b;
    gql_exec *e = gql_exec_new(schema, d, &o);
    assert_int_equal(gql_exec_run(e), GQL_EXEC_WAITING);
    gql_ticket_fail(b.tickets[0], "x", json_object()); /* completed but not run */
    gql_exec_free(e);                                  /* the client went away */
    gql_document_free(d);
    json_decref(root);
}

/* Under a nulled object, the gateway does not call upstreams by default. */
static gql_resolve_status count_calls(void *ud, const gql_field_info *info, gql_resolution *out)
{
    uint32_t *calls = ud;
    (*calls)++;
    if (strcmp(info->field->name, "name") == 0 && strcmp(info->parent_type->name, "Product") == 0) {
        out->value = NULL; /* String! -> nulls the product */
        return GQL_RESOLVED;
    }
    return gql_default_resolver(NULL, info, out);
}

static void test_nulled_subtrees_are_skipped(void **state)
{
    (void)state;
    uint32_t calls = 0;
    gql_exec_options o = {0};
    o.resolve = count_calls;
    o.resolve_ud = &calls;
    /* products: [Product!]! so the whole data nulls; seller's subtree is never run */
    char *r = run_query(schema, "{ products { seller { id name rating } name id } }",
                        "{\"products\":[{\"id\":\"1\",\"seller\":{\"id\":\"s\",\"name\":\"n\",\"rating\":1}}]}", &o);
    assert_string_equal(r, "{\"errors\":[{\"message\":\"Cannot return null for non-nullable field Product.name.\","
                           "\"locations\":[{\"line\":1,\"column\":40}],\"path\":[\"products\",0,\"name\"]}],\"data\":null}");
    free(r);
    /* products, seller, name: the seller's fields were not resolved */
    assert_int_equal(calls, 3);
    calls = 0;
    o.run_nulled_subtrees = true;
    r = run_query(schema, "{ products { seller { id name rating } name id } }",
                  "{\"products\":[{\"id\":\"1\",\"seller\":{\"id\":\"s\",\"name\":\"n\",\"rating\":1}}]}", &o);
    free(r);
    assert_int_equal(calls, 6);
}

static const gql_type *by_prefix(void *ud, const gql_field_info *info, json_t *value, const gql_type *abstract,
                                 gql_buf *err)
{
    (void)info;
    const gql_schema *s = ud;
    const char *id = json_string_value(json_object_get(value, "id"));
    if (!id) {
        gql_buf_puts(err, "cannot tell the type of this node");
        return NULL;
    }
    (void)abstract;
    return id[0] == 'p' ? gql_schema_type(s, "Product", 7) : gql_schema_type(s, "Seller", 6);
}

static void test_type_resolver_hook(void **state)
{
    (void)state;
    gql_exec_options o = {0};
    o.resolve_type = by_prefix;
    o.resolve_type_ud = schema;
    assert_json_eq(run_query(schema, "{ node(id: 1) { __typename id ... on Seller { rating } } }",
                             "{\"node\":{\"id\":\"s1\",\"rating\":4.5}}", &o),
                   "{\"data\":{\"node\":{\"__typename\":\"Seller\",\"id\":\"s1\",\"rating\":4.5}}}");
    assert_json_eq(run_query(schema, "{ node(id: 1) { id } }", "{\"node\":{}}", &o),
                   "{\"errors\":[{\"message\":\"cannot tell the type of this node\",\"locations\":[{\"line\":1,\"column\":3}],"
                   "\"path\":[\"node\"]}],\"data\":{\"node\":null}}");
}

static int money_out(void *ud, const gql_type *t, json_t *v, json_t **out, gql_buf *err)
{
    (void)ud;
    if (strcmp(t->name, "Money") != 0)
        return 0;
    if (!json_is_integer(v)) {
        gql_buf_puts(err, "Money must be integer cents");
        return -1;
    }
    char s[32];
    snprintf(s, sizeof s, "%lld.%02lld", (long long)json_integer_value(v) / 100, (long long)json_integer_value(v) % 100);
    *out = json_string(s);
    return 0;
}

static int money_in(void *ud, const gql_type *t, json_t *v, json_t **out, gql_buf *err)
{
    (void)ud;
    (void)t;
    (void)out;
    if (!json_is_integer(v)) {
        gql_buf_puts(err, "Money is given in integer cents");
        return -1;
    }
    return 0;
}

static void test_custom_scalar_hooks(void **state)
{
    (void)state;
    gql_schema_options so = {0};
    so.scalars.serialize = money_out;
    so.scalars.parse_value = money_in;
    gql_sdl_file f = {"s.graphql", SDL, strlen(SDL)};
    gql_errors e;
    gql_errors_init(&e);
    gql_schema *s = gql_schema_build(&f, 1, &so, &e);
    assert_non_null(s);
    assert_json_eq(run_query(s, "{ products { price } }", "{\"products\":[{\"price\":1999},{\"price\":\"x\"}]}", NULL),
                   "{\"errors\":[{\"message\":\"Money must be integer cents\",\"locations\":[{\"line\":1,\"column\":14}],"
                   "\"path\":[\"products\",1,\"price\"]}],\"data\":{\"products\":[{\"price\":\"19.99\"},{\"price\":null}]}}");
    gql_document *d = valid_doc(s, "query ($c: In) { echo(c: $c) }");
    gql_exec_options o = {0};
    json_t *vars = json_pack("{s:{s:i,s:s}}", "c", "x", 1, "y", "12.5");
    o.variables = vars;
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_execute_sync(s, d, &o, &out);
    assert_string_equal(gql_buf_cstr(&out), "{\"errors\":[{\"message\":\"Variable \\\"$c\\\" got invalid value \\\"12.5\\\" at "
                                            "\\\"c.y\\\"; Money is given in integer cents\",\"locations\":[{\"line\":1,"
                                            "\"column\":8}]}]}");
    gql_buf_free(&out);
    json_decref(vars);
    gql_document_free(d);
    gql_schema_unref(s);
    gql_errors_free(&e);
}

static void test_subscription(void **state)
{
    (void)state;
    gql_document *d = valid_doc(schema, "subscription S($id: ID!) { changed: priceChanged(id: $id) { id price } }");
    json_t *vars = json_pack("{s:s}", "id", "p7");
    gql_subscription_root root;
    gql_errors e;
    gql_errors_init(&e);
    assert_int_equal(gql_subscription_prepare(schema, d, NULL, vars, &root, &e), 0);
    assert_string_equal(root.field->name, "priceChanged");
    assert_true(gql_str_eqc(root.response_key, "changed"));
    char *args = json_dumps(root.args, JSON_COMPACT | JSON_SORT_KEYS);
    assert_string_equal(args, "{\"id\":\"p7\",\"threshold\":10}");
    free(args);
    json_decref(root.args);
    json_decref(root.variables);
    /* each event runs the selection with the event as root value */
    json_t *event = json_pack("{s:{s:s,s:i}}", "priceChanged", "id", "p7", "price", 42);
    gql_exec_options o = {0};
    o.variables = vars;
    o.root = event;
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_execute_sync(schema, d, &o, &out);
    assert_string_equal(gql_buf_cstr(&out), "{\"data\":{\"changed\":{\"id\":\"p7\",\"price\":42}}}");
    gql_buf_free(&out);
    json_decref(event);
    /* not a subscription */
    gql_document *q = valid_doc(schema, "{ slow }");
    assert_int_equal(gql_subscription_prepare(schema, q, NULL, NULL, &root, &e), -1);
    assert_string_equal(e.head->message, "The operation is not a subscription.");
    gql_document_free(q);
    gql_document_free(d);
    json_decref(vars);
    gql_errors_free(&e);
}

static void test_request_errors(void **state)
{
    (void)state;
    /* unvalidated documents are refused */
    gql_document *d = doc_of("{ slow }");
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_execute_sync(schema, d, NULL, &out);
    assert_string_equal(gql_buf_cstr(&out), "{\"errors\":[{\"message\":\"The document must be validated against this schema "
                                            "before it is executed.\"}]}");
    gql_document_free(d);
    /* operation selection */
    d = valid_doc(schema, "query A { slow } query B { slow }");
    gql_buf_reset(&out);
    gql_execute_sync(schema, d, NULL, &out);
    assert_string_equal(gql_buf_cstr(&out),
                        "{\"errors\":[{\"message\":\"Must provide operation name if query contains multiple operations.\"}]}");
    gql_exec_options o = {0};
    o.operation_name = "C";
    gql_buf_reset(&out);
    gql_execute_sync(schema, d, &o, &out);
    assert_string_equal(gql_buf_cstr(&out), "{\"errors\":[{\"message\":\"Unknown operation named \\\"C\\\".\"}]}");
    /* the response ceiling */
    o.operation_name = "A";
    o.max_response_bytes = 5;
    gql_exec *e = gql_exec_new(schema, d, &o);
    gql_exec_run(e);
    gql_buf small;
    gql_buf_init(&small, 5);
    assert_int_equal(gql_exec_write_response(e, &small), -1);
    gql_buf_free(&small);
    gql_exec_free(e);
    gql_document_free(d);
    gql_buf_free(&out);
}

static void test_deep_results_need_no_recursion(void **state)
{
    (void)state;
    /* fragments nest selections beyond the parser's nesting cap; the result tree is
     * written without recursion */
    gql_schema *s = schema_of("type Query { n: N } type N { n: N v: Int }");
    size_t k = 400;
    char *q = malloc(k * 48 + 64);
    char *p = q + sprintf(q, "{ n { ...F0 } }\n");
    for (size_t i = 0; i < k; i++)
        p += sprintf(p, "fragment F%zu on N { n { ...F%zu } }\n", i, i + 1);
    sprintf(p, "fragment F%zu on N { v }\n", k);
    json_t *root = json_object(), *cur = root;
    for (size_t i = 0; i < k + 1; i++) {
        json_t *n = json_object();
        json_object_set_new(cur, "n", n);
        cur = n;
    }
    json_object_set_new(cur, "v", json_integer(7));
    gql_document *d = doc_of(q);
    gql_errors e;
    gql_errors_init(&e);
    gql_validate_options vo = {0};
    vo.rules = GQL_RULES_SPECIFIED & ~GQL_RULE_BIT(GQL_RULE_OVERLAPPING_FIELDS_CAN_BE_MERGED);
    assert_int_equal(gql_validate(s, d, &vo, &e), 0);
    gql_exec_options o = {0};
    o.root = root;
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_execute_sync(s, d, &o, &out);
    assert_non_null(strstr(gql_buf_cstr(&out), "{\"v\":7}"));
    gql_buf_free(&out);
    gql_document_free(d);
    json_decref(root);
    gql_errors_free(&e);
    free(q);
    gql_schema_unref(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_is_dispatched_whole), cmocka_unit_test(test_field_info_and_args),
        cmocka_unit_test(test_coerced_arguments),         cmocka_unit_test(test_mutations_run_serially),
        cmocka_unit_test(test_free_with_pending_tickets), cmocka_unit_test(test_nulled_subtrees_are_skipped),
        cmocka_unit_test(test_type_resolver_hook),        cmocka_unit_test(test_custom_scalar_hooks),
        cmocka_unit_test(test_subscription),              cmocka_unit_test(test_request_errors),
        cmocka_unit_test(test_deep_results_need_no_recursion),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
