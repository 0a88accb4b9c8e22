/*
 * gql_validate: every validation rule of the specification's section 5, run the way
 * graphql-js runs them (one document walk, rules interleaved in graphql-js's order,
 * identical messages and locations, at most `max_errors` errors).
 *
 * Why graphql-js's order and wording: clients and tests compare error output; being
 * byte-compatible with the reference implementation makes the gateway a drop-in
 * replacement. Where graphql-js deviates from the specification (it throws from
 * validate() for @skip(if: $var) on subscription root fields), the specification wins.
 *
 * Hostile documents: OverlappingFieldsCanBeMerged memoises comparisons (structurally
 * identical fields are compared once) and has a work budget; every recursion over
 * fragments is iterative or depth-bounded. A document that exceeds the budget is
 * rejected with one error instead of being validated for seconds.
 */
#ifndef GQL_VALIDATE_H
#define GQL_VALIDATE_H

#include <stdbool.h>
#include <stdint.h>

#include "gql_ast.h"
#include "gql_error.h"
#include "gql_schema.h"

/* Rules, in graphql-js's specifiedRules order (the order errors interleave in). */
typedef enum gql_rule {
    GQL_RULE_EXECUTABLE_DEFINITIONS,
    GQL_RULE_UNIQUE_OPERATION_NAMES,
    GQL_RULE_LONE_ANONYMOUS_OPERATION,
    GQL_RULE_SINGLE_FIELD_SUBSCRIPTIONS,
    GQL_RULE_KNOWN_TYPE_NAMES,
    GQL_RULE_FRAGMENTS_ON_COMPOSITE_TYPES,
    GQL_RULE_VARIABLES_ARE_INPUT_TYPES,
    GQL_RULE_SCALAR_LEAFS,
    GQL_RULE_FIELDS_ON_CORRECT_TYPE,
    GQL_RULE_UNIQUE_FRAGMENT_NAMES,
    GQL_RULE_KNOWN_FRAGMENT_NAMES,
    GQL_RULE_NO_UNUSED_FRAGMENTS,
    GQL_RULE_POSSIBLE_FRAGMENT_SPREADS,
    GQL_RULE_NO_FRAGMENT_CYCLES,
    GQL_RULE_UNIQUE_VARIABLE_NAMES,
    GQL_RULE_NO_UNDEFINED_VARIABLES,
    GQL_RULE_NO_UNUSED_VARIABLES,
    GQL_RULE_KNOWN_DIRECTIVES,
    GQL_RULE_UNIQUE_DIRECTIVES_PER_LOCATION,
    GQL_RULE_KNOWN_ARGUMENT_NAMES,
    GQL_RULE_UNIQUE_ARGUMENT_NAMES,
    GQL_RULE_VALUES_OF_CORRECT_TYPE,
    GQL_RULE_PROVIDED_REQUIRED_ARGUMENTS,
    GQL_RULE_VARIABLES_IN_ALLOWED_POSITION,
    GQL_RULE_OVERLAPPING_FIELDS_CAN_BE_MERGED,
    GQL_RULE_UNIQUE_INPUT_FIELD_NAMES,
    GQL_RULE_MAX_INTROSPECTION_DEPTH,
    /* optional rules graphql-js ships but does not run by default */
    GQL_RULE_NO_DEPRECATED,
    GQL_RULE_NO_SCHEMA_INTROSPECTION,
    GQL_RULE_COUNT
} gql_rule;

#define GQL_RULE_BIT(r) (1ull << (r))
/* The specification's rules (plus graphql-js's MaxIntrospectionDepth). */
#define GQL_RULES_SPECIFIED ((1ull << (GQL_RULE_MAX_INTROSPECTION_DEPTH + 1)) - 1)

/* graphql-js name of a rule without the "Rule" suffix ("FieldsOnCorrectType"), and
 * the reverse lookup (-1 when unknown). */
const char *gql_rule_name(gql_rule r);
int gql_rule_by_name(const char *name);

typedef struct gql_validate_options {
    uint64_t rules;       /* bit set of gql_rule; 0 = GQL_RULES_SPECIFIED */
    uint32_t max_errors;  /* 0 = 100, as graphql-js */
    uint64_t max_overlap_work; /* comparison budget of field merging; 0 = default */
} gql_validate_options;

/* Validates `doc` against `s`, appending errors to `errors`. Returns the number of
 * errors added (0 = valid; the document is then marked as validated for `s`).
 * `opts` may be NULL. */
uint32_t gql_validate(const gql_schema *s, gql_document *doc, const gql_validate_options *opts, gql_errors *errors);

#endif
