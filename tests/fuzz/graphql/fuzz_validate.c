/*
 * libFuzzer target: parse + validate against a schema with every kind of type, then
 * — for documents that pass — the limits check and execution against a fixed root
 * value (abstract types, lists, nulls, wrong types), with the response written.
 * Whatever the input, nothing may crash, leak, hang or read out of bounds.
 */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static const char SDL[] =
    "schema { query: Query mutation: Mutation subscription: Subscription }\n"
    "directive @http(service: String!, path: String = \"/\") repeatable on FIELD_DEFINITION | OBJECT\n"
    "scalar DateTime\n"
    "enum Color { RED GREEN BLUE }\n"
    "interface Node { id: ID! }\n"
    "interface Named implements Node { id: ID! name: String }\n"
    "type Human implements Named & Node @http(service: \"h\") { id: ID! name: String friends(first: Int = 2): [Named] "
    "pets: [Pet!]! born: DateTime color: Color }\n"
    "type Droid implements Named & Node { id: ID! name: String friends(first: Int): [Named] function: String! }\n"
    "type Pet { name: String! owner: Human tags: [[String!]] }\n"
    "union Thing = Human | Droid | Pet\n"
    "input Filter { color: Color = RED, names: [String!], nested: Filter, when: DateTime }\n"
    "input One @oneOf { a: Int, b: String }\n"
    "type Query {\n"
    "  node(id: ID!): Node\n"
    "  things(filter: Filter, first: Int = 10, one: One): [Thing]\n"
    "  human(id: ID = \"1\"): Human @http(service: \"h\", path: \"/humans\")\n"
    "  scalars(i: Int, f: Float, s: String, b: Boolean, c: Color, d: DateTime): String\n"
    "  deprecated: Int @deprecated(reason: \"no\")\n"
    "}\n"
    "type Mutation { rename(id: ID!, name: String!): Human }\n"
    "type Subscription { changed(id: ID): Node }\n";

static const char ROOT[] =
    "{\"node\":{\"__typename\":\"Human\",\"id\":\"1\",\"name\":\"H\",\"pets\":[{\"name\":\"p\",\"tags\":[[\"a\"],null]}],"
    "\"friends\":[{\"__typename\":\"Droid\",\"id\":\"2\",\"function\":null},null,{\"__typename\":\"Nope\"}]},"
    "\"things\":[{\"__typename\":\"Pet\",\"name\":\"x\",\"owner\":{\"id\":5,\"color\":\"RED\"}},{\"__typename\":\"Droid\","
    "\"id\":\"d\",\"function\":\"f\",\"name\":7},\"str\",{}],"
    "\"human\":{\"id\":\"1\",\"name\":\"h\",\"pets\":[],\"born\":\"2020\",\"color\":\"PURPLE\"},"
    "\"scalars\":\"s\",\"deprecated\":1,\"rename\":{\"id\":\"1\",\"pets\":null},\"changed\":null}";

static gql_schema *schema;
static json_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    gql_errors e;
    gql_errors_init(&e);
    gql_sdl_file f = {"fuzz.graphql", SDL, sizeof SDL - 1};
    schema = gql_schema_build(&f, 1, NULL, &e);
    gql_errors_free(&e);
    json_error_t je;
    root = json_loads(ROOT, 0, &je);
    if (!schema || !root)
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = gql_parse((const char *)data, size, NULL, &e);
    if (d && gql_validate(schema, d, NULL, &e) == 0) {
        gql_limits l;
        memset(&l, 0, sizeof l);
        l.max_depth = 50;
        l.max_cost = 100000;
        gql_limits_check(schema, d, NULL, NULL, &l, NULL, &e);
        gql_exec_options o;
        memset(&o, 0, sizeof o);
        o.root = root;
        o.run_nulled_subtrees = size & 1;
        json_t *vars = json_pack("{s:s,s:i,s:[s,s]}", "id", "1", "first", 3, "names", "a", "b");
        o.variables = vars;
        gql_buf out;
        gql_buf_init(&out, 1 << 20);
        gql_execute_sync(schema, d, &o, &out);
        gql_buf_free(&out);
        json_decref(vars);
    }
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_errors_write_json(&e, &out, false);
    gql_buf_free(&out);
    gql_document_free(d);
    gql_errors_free(&e);
    return 0;
}
