/*
 * Internal declarations shared by the schema, validation and execution modules.
 * Not part of the public API (names start with `gql__`).
 */
#ifndef GQL_SCHEMA_INTERNAL_H
#define GQL_SCHEMA_INTERNAL_H

#include "gql_schema.h"
#include "gql_util.h"

extern const char gql__prelude_sdl[];

/* graphql-js typeFromAST(): resolves a type reference of a document against the
 * schema; wrapper types are allocated in `a` (the shared schema is never written).
 * NULL when the named type is unknown. */
const gql_type *gql__type_from_ast(const gql_schema *s, const gql_type_node *node, gql_arena *a);

/* Structural type equality (graphql-js isEqualType). */
bool gql__type_eq(const gql_type *a, const gql_type *b);

/* Reports a problem with a constant literal against its type, graphql-js
 * ValuesOfCorrectType style; `where` is the node the message is about. */
typedef void (*gql__literal_error_fn)(void *ud, const gql_value *where, const char *msg, size_t len);
/* Checks a constant literal (SDL default or directive argument) the way the
 * ValuesOfCorrectType rule would; returns the number of problems reported. */
int gql__check_literal(const gql_schema *s, const gql_value *node, const gql_type *type, gql__literal_error_fn fn,
                       void *ud);

/* Printing schemas (gql_schema_print.c). */
int gql__print_schema(const gql_schema *s, gql_buf *out);

#endif
