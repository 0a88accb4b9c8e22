/*
 * gql_limits: the engine's request limits — tokens, depth, aliases, directives,
 * root fields and an estimated cost — checked after validation and before
 * execution, each rejecting with a clear error.
 *
 * Why in the engine: these are properties of the document, and computing them
 * needs the schema (which fields are lists) and the fragment graph; the gateway only
 * chooses the numbers. Fragments are expanded logically (a fragment spread twice
 * counts twice) with memoisation, so a document cannot make the check itself
 * expensive. Adding a limit means adding a field here and one counter in the walk.
 *
 * The cost model: every field costs 1; a field returning a list multiplies the cost
 * of its sub-selection by its size argument (the first of `size_args` present —
 * `first`, `last`, `limit` by default — from a literal, a variable or the argument's
 * default), or by `default_list_size` when there is none. A field that returns an
 * object but has a size argument — a Relay connection, `products(first: 50)` — gives
 * that size to the list fields directly below it that have none of their own (its
 * `edges` and `nodes`). Inline fragments and fragment spreads add their selections (an
 * upper bound for abstract types).
 */
#ifndef GQL_LIMITS_H
#define GQL_LIMITS_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gql_ast.h"
#include "gql_error.h"
#include "gql_schema.h"

typedef struct gql_limits {
    uint32_t max_tokens;      /* 0 = unlimited (also pass it to gql_parse()) */
    uint32_t max_depth;       /* field nesting depth; 0 = unlimited */
    uint32_t max_aliases;     /* aliased fields after fragment expansion; 0 = unlimited */
    uint32_t max_directives;  /* directives used after fragment expansion; 0 = unlimited */
    uint32_t max_root_fields; /* fields selected on the root type; 0 = unlimited */
    uint64_t max_cost;        /* estimated cost; 0 = unlimited */
    /* cost model */
    uint32_t default_list_size;   /* 0 = 10 */
    const char *const *size_args; /* NULL = {"first", "last", "limit"} */
    uint32_t nsize_args;
    bool ignore_introspection;    /* introspection fields count toward no limit */
} gql_limits;

/* What was measured, for logging and metrics. */
typedef struct gql_operation_stats {
    uint32_t tokens;
    uint32_t depth;
    uint32_t aliases;
    uint32_t directives;
    uint32_t root_fields;
    uint64_t cost;
} gql_operation_stats;

/* Measures the selected operation of a validated document (`variables` may supply
 * size arguments; NULL when none) and checks it against `limits`. Returns the number
 * of limits exceeded (an error each, located at the operation); `stats` may be NULL. */
uint32_t gql_limits_check(const gql_schema *s, const gql_document *doc, const char *operation_name, json_t *variables,
                          const gql_limits *limits, gql_operation_stats *stats, gql_errors *errors);

#endif
