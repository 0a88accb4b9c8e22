/*
 * gql_values: input coercion — literals to values (valueFromAST), JSON variables to
 * values (coerceInputValue), the built-in scalars' parse rules, and printing a value
 * back as a literal (astFromValue + print) for introspection's defaultValue.
 *
 * Why one module: the same rules run when a schema is built (defaults, directive
 * arguments in SDL), when a document is validated (ValuesOfCorrectType) and when it
 * is executed (arguments, variables); keeping them together keeps them identical.
 * Every function follows graphql-js 16 exactly, including its error messages.
 *
 * Values are jansson JSON. Results are new references owned by the caller.
 * Recursion follows the input type (bounded by the schema's nesting) or the literal
 * (bounded by GQL_MAX_NESTING).
 */
#ifndef GQL_VALUES_H
#define GQL_VALUES_H

#include <jansson.h>
#include <stdbool.h>

#include "gql_ast.h"
#include "gql_buf.h"
#include "gql_schema.h"

/* graphql-js valueFromAST(): true with *out set (new reference; JSON null for null)
 * when the literal is valid for `type`; false ("undefined") otherwise. `variables`
 * (an object of coerced values, or NULL) resolves variable references. */
bool gql__value_from_ast(const gql_schema *s, const gql_value *node, const gql_type *type, json_t *variables,
                         json_t **out);

/* graphql-js valueFromASTUntyped(): NULL means undefined (a missing variable). */
json_t *gql__value_from_ast_untyped(const gql_value *node, json_t *variables);

/* A leaf type's parseLiteral(). Returns 1 with *out on success; 0 for "undefined"
 * (no message); -1 for an error whose message is written to `err`. */
int gql__parse_literal(const gql_schema *s, const gql_type *leaf, const gql_value *node, json_t *variables,
                       json_t **out, gql_buf *err);

/* A leaf type's parseValue() (variables). Same return convention; on -1 the
 * message is in `err`; on 0 there was no message (custom scalar said undefined). */
int gql__parse_value(const gql_schema *s, const gql_type *leaf, json_t *value, json_t **out, gql_buf *err);

/* Error reporting for coerceInputValue: `path` lists the keys/indexes below the
 * value, `invalid` the offending value (borrowed), `msg` the reason. */
typedef void (*gql__coerce_error_fn)(void *ud, const gql_path_segment *path, uint32_t npath, json_t *invalid,
                                     const char *msg, size_t msglen);

/* graphql-js coerceInputValue(): returns the coerced value (new reference) or NULL
 * after reporting at least one error through `onerr`. */
json_t *gql__coerce_input_value(const gql_schema *s, json_t *input, const gql_type *type, gql__coerce_error_fn onerr,
                                void *ud);

/* graphql-js print(astFromValue(value, type)): appends the literal and returns true,
 * or returns false when astFromValue gives null (nothing appended). */
bool gql__print_value_literal(const gql_schema *s, json_t *value, const gql_type *type, gql_buf *out);

/* graphql-js printPathArray(): appends `.key` / `[index]` steps. */
void gql__print_path(gql_buf *out, const gql_path_segment *path, uint32_t npath);

/* A coerced value shared by all `undefined` results is never returned; these two
 * are convenience checks on JSON numbers as JavaScript sees them. */
bool gql__json_is_number(const json_t *v);
double gql__json_number(const json_t *v);

#endif
