/*
 * gql_print: printing documents and schemas exactly as graphql-js's print() and
 * printSchema() do, so printed output can be compared byte for byte and documents
 * can be normalised (e.g. for caching or forwarding).
 */
#ifndef GQL_PRINT_H
#define GQL_PRINT_H

#include "gql_ast.h"
#include "gql_buf.h"

struct gql_schema;

/* Appends print(document) to `out`. Returns 0, or -1 if the buffer refused to grow. */
int gql_print_document(const gql_document *doc, gql_buf *out);
/* Appends print(value). */
int gql_print_value(const gql_value *v, gql_buf *out);
/* Appends print(type reference), e.g. "[Int!]!". */
int gql_print_type_node(const gql_type_node *t, gql_buf *out);
/* Appends printSchema(schema). */
int gql_print_schema(const struct gql_schema *schema, gql_buf *out);

#endif
