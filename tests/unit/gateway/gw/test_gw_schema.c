/*
 * Unit tests of gateway/gw_schema.c: the binding directives compile into what a
 * request needs, every mistake is an error naming file, line and column, enum values
 * convert both ways, and the repository's own schema/ loads.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_schema.h"

static char *prelude;
static size_t prelude_len;
static gw_services_t svcs;

static int setup(void **state)
{
    (void)state;
    FILE *fp = fopen(MERCATO_SOURCE_DIR "/schema/gateway.graphql", "rb");
    assert_non_null(fp);
    prelude = malloc(1 << 20);
    prelude_len = fread(prelude, 1, 1 << 20, fp);
    fclose(fp);
    static const char *const names[] = {"auth", "product", "order", "category", "coupon"};
    for (unsigned i = 0; i < 5; ++i) {
        svcs.s[i].name = names[i];
        svcs.s[i].url = "http://127.0.0.1:9";
    }
    svcs.n = 5;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(prelude);
    return 0;
}

/* Builds the prelude plus one file "t.graphql"; on failure the errors are printed into
 * msgs. */
static gw_schema_t *build(const char *sdl, char *msgs, size_t msglen)
{
    gql_sdl_file files[2] = {{"gateway.graphql", prelude, prelude_len}, {"t.graphql", sdl, strlen(sdl)}};
    gql_errors errs;
    gql_errors_init(&errs);
    gw_schema_t *s = gw_schema_build(files, 2, &svcs, &errs);
    gql_buf out;
    gql_buf_init(&out, 0);
    gw_errors_print(&errs, &out);
    snprintf(msgs, msglen, "%s", gql_buf_cstr(&out));
    gql_buf_free(&out);
    gql_errors_free(&errs);
    return s;
}

static const char BASE[] =
    "type Thing { id: ID! status: ThingStatus! sort: ThingSort\n"
    "  price: Money! @money(amount: \"price\", currency: \"cur\")\n"
    "  other: Thing @batch(service: \"product\", path: \"/api/things/batch\", key: \"{parent.otherId}\", max: 2)\n"
    "  label: String @from(path: \"meta.label\")\n"
    "  parts: [Thing!] @from(path: \"items\", with: [\"cur\", \"otherId\"]) }\n"
    "enum ThingStatus { PENDING PRICE_ASC OLD @restValue(name: \"legacy-old\") }\n"
    "enum ThingSort { NEWEST PRICE_ASC }\n"
    "input ThingFilter { status: ThingStatus statuses: [ThingStatus!] name: String nested: ThingFilter }\n"
    "type ThingConnection @connection { edges: [ThingEdge!]! nodes: [Thing!]! pageInfo: PageInfo! totalCount: Int! }\n"
    "type ThingEdge { cursor: String! node: Thing! }\n"
    "extend type Query {\n"
    "  thing(id: ID!): Thing @http(service: \"product\", path: \"/api/things/{args.id}\", notFound: NULL)\n"
    "  things(filter: ThingFilter, sort: ThingSort = NEWEST, first: Int = 10, after: String): ThingConnection\n"
    "    @http(service: \"product\", path: \"/api/things\", query: [\"status={args.filter.status}\", \"s={args.filter.statuses}\","
    "          \"sort={args.sort}\", \"limit={args.first}\", \"cursor={args.after}\"])\n"
    "  secret: String @auth(roles: [ADMIN, SELLER]) @http(service: \"auth\", path: \"/x\")\n"
    "}\n"
    "extend type Mutation {\n"
    "  make(input: ThingFilter!): Thing @auth @http(service: \"product\", method: POST, path: \"/api/things\", body: \"{args.input}\",\n"
    "    headers: [\"Idempotency-Key: {args.input.name}\"])\n"
    "  drop(id: ID!): Boolean @http(service: \"product\", method: DELETE, path: \"/api/things/{args.id}\", result: \"true\")\n"
    "}\n";

static void bindings_compile_into_what_requests_need(void **state)
{
    (void)state;
    char msgs[4096];
    gw_schema_t *s = build(BASE, msgs, sizeof(msgs));
    if (s == NULL)
        fail_msg("%s", msgs);
    const gql_type *q = gql_schema_type(s->gql, "Query", 5);
    const gw_field_t *thing = gql_type_field(q, "thing", 5)->user;
    assert_int_equal(thing->kind, GW_FIELD_HTTP);
    assert_string_equal(s->services.s[thing->http->service].name, "product");
    assert_true(thing->http->not_found_null);
    assert_true(thing->http->dedupe);
    const gw_field_t *things = gql_type_field(q, "things", 6)->user;
    assert_true(things->connection);
    assert_int_equal(things->http->nquery, 5);
    assert_string_equal(things->http->query[1].name, "s");
    /* {args.filter.status} knows its type: enum values can be converted */
    assert_string_equal(things->http->query[0].value.parts[0].expr->type->name, "ThingStatus");
    const gw_field_t *secret = gql_type_field(q, "secret", 6)->user;
    assert_true(secret->auth);
    assert_int_equal(secret->roles, 4 | 2); /* MC_ROLE_ADMIN | MC_ROLE_SELLER */
    const gql_type *t = gql_schema_type(s->gql, "Thing", 5);
    const gw_field_t *status = gql_type_field(t, "status", 6)->user;
    assert_non_null(status->out_enum);
    assert_int_equal(((const gw_field_t *)gql_type_field(t, "price", 5)->user)->kind, GW_FIELD_MONEY);
    const gw_field_t *other = gql_type_field(t, "other", 5)->user;
    assert_int_equal(other->batch->max, 2);
    assert_string_equal(other->batch->param, "ids");
    assert_null(gql_type_field(t, "id", 2)->user); /* plain fields keep the engine's fast path */
    const gw_field_t *parts = gql_type_field(t, "parts", 5)->user;
    assert_int_equal(parts->kind, GW_FIELD_FROM);
    assert_int_equal(parts->nwith, 2);
    assert_string_equal(parts->with[1], "otherId");
    const gql_type *m = gql_schema_type(s->gql, "Mutation", 8);
    const gw_field_t *make = gql_type_field(m, "make", 4)->user;
    assert_false(make->http->dedupe);
    assert_int_equal(make->http->nbody, 1);
    assert_null(make->http->body[0].key);
    assert_string_equal(make->http->headers[0].name, "Idempotency-Key");
    const gw_field_t *drop = gql_type_field(m, "drop", 4)->user;
    assert_true(json_is_true(drop->http->result_json));
    gw_schema_unref(s);
}

static void enum_values_convert_both_ways(void **state)
{
    (void)state;
    char msgs[4096];
    gw_schema_t *s = build(BASE, msgs, sizeof(msgs));
    assert_non_null(s);
    const gql_type *st = gql_schema_type(s->gql, "ThingStatus", 11);
    const gw_enum_t *e = ((const gw_type_t *)st->user)->enm;
    assert_string_equal(gw_enum_from_rest(e, "price_asc", 9), "PRICE_ASC");
    assert_string_equal(gw_enum_from_rest(e, "legacy-old", 10), "OLD");
    assert_string_equal(gw_enum_from_rest(e, "PENDING", 7), "PENDING"); /* GraphQL's spelling is understood */
    assert_null(gw_enum_from_rest(e, "old", 3));
    const gql_type *filter = gql_schema_type(s->gql, "ThingFilter", 11);
    json_t *in = json_pack("{s:s,s:[s,s],s:s,s:{s:s}}", "status", "PRICE_ASC", "statuses", "OLD", "PENDING", "name",
                           "PRICE_ASC", "nested", "status", "OLD");
    json_t *out = gw_to_rest(filter, in);
    json_t *want = json_pack("{s:s,s:[s,s],s:s,s:{s:s}}", "status", "price_asc", "statuses", "legacy-old", "pending",
                             "name", "PRICE_ASC", "nested", "status", "legacy-old");
    assert_true(json_equal(out, want));
    json_decref(in);
    json_decref(out);
    json_decref(want);
    gw_schema_unref(s);
}

/* Each mistake is refused with a message and a location in t.graphql. */
static void mistakes_are_errors_with_file_and_line(void **state)
{
    (void)state;
    static const struct {
        const char *sdl, *says;
    } bad[] = {
        {"extend type Query { a: String @http(service: \"prodct\", path: \"/x\") }", "unknown service 'prodct'"},
        {"extend type Query { a(id: ID): String @http(service: \"product\", path: \"/x/{args.ids}\") }",
         "names no argument"},
        {"extend type Query { a: String @http(service: \"product\", path: \"x\") }", "must start with '/'"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x/\") }", "segment"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x/../y\") }", "segment"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x?y=1\") }", "query parameters go in query:"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", query: [\"novalue\"]) }",
         "name={template}"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", headers: [\"Authorization: x\"]) }",
         "may not set Authorization"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", headers: [\"X-Internal-Key: x\"]) }",
         "may not set X-Internal-Key"},
        {"extend type Query { a: String! @http(service: \"product\", path: \"/x\") }", "make its type nullable"},
        {"extend type Query { a: String! @auth }", "make its type nullable"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", body: \"{args.x}\") }",
         "needs method POST"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", result: \"not json\") }",
         "must be a JSON value"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", select: \"a..b\") }", "empty name"},
        {"extend type Query { a(f: F): String @http(service: \"product\", path: \"/x/{args.f}\") } input F { x: Int }",
         "is not a single scalar"},
        {"extend type Query { a(f: [Int]): String @http(service: \"product\", path: \"/x/{args.f}\") }",
         "is not a single scalar"},
        {"extend type Query { a: String @batch(service: \"product\", path: \"/x\", key: \"{parent.a}-{parent.b}\") }",
         "must be one expression"},
        {"extend type Query { a: String @batch(service: \"product\", path: \"/x\", key: \"{parent.a}\", max: 0) }",
         "max:) must be 1 to 1000"},
        {"extend type Query { a: String @from(path: \"x\") @money(amount: \"a\", currency: \"c\") }", "takes one of"},
        {"extend type Query { a: String @money(amount: \"a\", currency: \"c\") }", "of type Money"},
        {"extend type Query { a: C } type C @connection { edges: [String] }", "list of edge objects"},
        {"extend type Query { a: C @http(service: \"product\", path: \"/x\") } type C @connection { total: Int }",
         "not one"},
        {"extend type Query { a: C } type C @connection { totalCount: Int }", "bind it with @http"},
        {"extend type Query { a: String @http(service: \"product\", path: \"/x\", timeoutMs: 0) }", "1 to 600000"},
        {"extend type Query { a: String @http(service: \"product\") }", "path"},
        {"extend type Query { a: String @nope }", "Unknown directive"},
    };
    char msgs[4096], sdl[1024];
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        snprintf(sdl, sizeof(sdl), "%s extend type Mutation { m: Int }", bad[i].sdl);
        gw_schema_t *s = build(sdl, msgs, sizeof(msgs));
        if (s != NULL)
            fail_msg("accepted: %s", bad[i].sdl);
        if (strstr(msgs, bad[i].says) == NULL || strstr(msgs, "t.graphql:1:") == NULL)
            fail_msg("%s\n  gave: %s  expected: t.graphql:1:…%s", bad[i].sdl, msgs, bad[i].says);
    }
}

static void the_repository_schema_loads(void **state)
{
    (void)state;
    gql_errors errs;
    gql_errors_init(&errs);
    gw_schema_t *s = gw_schema_load(MERCATO_SOURCE_DIR "/schema", &svcs, &errs);
    if (s == NULL) {
        gql_buf out;
        gql_buf_init(&out, 0);
        gw_errors_print(&errs, &out);
        fail_msg("%s", gql_buf_cstr(&out));
    }
    assert_true(s->nbound > 50);
    /* every type and field has a description (the API's documentation) */
    for (uint32_t i = 0; i < s->gql->ntypes; ++i) {
        const gql_type *t = s->gql->types[i];
        if (t->builtin || t->name[0] == '_')
            continue;
        if (t->description == NULL)
            fail_msg("type %s has no description", t->name);
        for (uint32_t j = 0; j < t->nfields; ++j)
            if (t->fields[j].description == NULL)
                fail_msg("field %s.%s has no description", t->name, t->fields[j].name);
        for (uint32_t j = 0; j < t->ninput_fields; ++j)
            if (t->input_fields[j].description == NULL)
                fail_msg("input field %s.%s has no description", t->name, t->input_fields[j].name);
        for (uint32_t j = 0; j < t->nvalues; ++j)
            if (t->values[j].description == NULL)
                fail_msg("enum value %s.%s has no description", t->name, t->values[j].name);
    }
    gw_schema_unref(s);
    gql_errors_free(&errs);
    /* a directory that is not there */
    gql_errors_init(&errs);
    assert_null(gw_schema_load(MERCATO_SOURCE_DIR "/no-such-dir", &svcs, &errs));
    assert_non_null(strstr(errs.head->message, "cannot open"));
    gql_errors_free(&errs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bindings_compile_into_what_requests_need),
        cmocka_unit_test(enum_values_convert_both_ways),
        cmocka_unit_test(mistakes_are_errors_with_file_and_line),
        cmocka_unit_test(the_repository_schema_loads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
