/*
 * libFuzzer target: building a schema from arbitrary SDL (split in two files at the
 * first form feed, to exercise cross-file extensions), then printing it and running
 * the full introspection query on it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char INTROSPECTION[] =
    "{ __schema { queryType { name } mutationType { name } types { kind name description specifiedByURL isOneOf "
    "fields(includeDeprecated: true) { name args { name type { name } defaultValue } type { kind name ofType { kind "
    "name ofType { kind name } } } isDeprecated deprecationReason } inputFields { name defaultValue } interfaces { name } "
    "enumValues(includeDeprecated: true) { name } possibleTypes { name } } directives { name locations isRepeatable args "
    "{ name defaultValue } } } }";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    const char *split = memchr(text, '\f', size);
    gql_sdl_file files[2] = {{"a.graphql", text, split ? (size_t)(split - text) : size},
                             {"b.graphql", split ? split + 1 : "", split ? size - (size_t)(split - text) - 1 : 0}};
    gql_errors e;
    gql_errors_init(&e);
    gql_schema *s = gql_schema_build(files, split ? 2 : 1, NULL, &e);
    if (s) {
        gql_buf out;
        gql_buf_init(&out, 0);
        gql_print_schema(s, &out);
        gql_document *d = gql_parse(INTROSPECTION, sizeof INTROSPECTION - 1, NULL, &e);
        if (d && gql_validate(s, d, NULL, &e) == 0) {
            gql_buf_reset(&out);
            gql_execute_sync(s, d, NULL, &out);
        }
        gql_document_free(d);
        gql_buf_free(&out);
        gql_schema_unref(s);
    }
    gql_errors_free(&e);
    return 0;
}
