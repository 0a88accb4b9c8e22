/*
 * gw_limits: what the gateway refuses before any upstream call, and what it tells
 * clients about its schema.
 *
 *   - query limits (the engine's gql_limits, configured here): tokens, depth, aliases,
 *     directives, root fields and an estimated cost in which list sizes (`first`)
 *     multiply their sub-selection. A document over a limit is refused with one error
 *     per limit, naming it: the message says what was measured and the maximum, and
 *     extensions carry {code: "BAD_USER_INPUT", limit, measured, maximum}.
 *   - introspection (`__schema`, `__type`) can be turned off (off in production): the
 *     document then fails validation with graphql-js's NoSchemaIntrospectionCustom
 *     message. `__typename` stays allowed.
 *   - "Did you mean …?" suggestions, which spell out the schema's field, type and
 *     argument names to anyone probing it, can be hidden (hidden in production): the
 *     suggestion is cut from every message the way Apollo Server hides them, so the
 *     rest of graphql-js's wording stays intact.
 *
 * Why here and not in the engine: the engine reports graphql-js's messages exactly;
 * what a deployment shows its clients is the gateway's decision.
 */
#ifndef GW_LIMITS_H
#define GW_LIMITS_H

#include <stdbool.h>
#include "gql.h"

struct gw_config;

/* Reads GATEWAY_MAX_* , GATEWAY_DEFAULT_LIST_SIZE, GATEWAY_INTROSPECTION and
 * GATEWAY_SUGGESTIONS into cfg (exits naming a malformed variable). */
void gw_limits_config_load(struct gw_config *cfg, bool production);

/* Checks the selected operation against the limits. Returns the number of limits
 * exceeded (an error each, with the extensions above, counted in the metrics); st
 * receives the measurements (its cost prices the request for the rate limiter). */
uint32_t gw_limits_apply(const struct gw_config *cfg, const gql_schema *s, const gql_document *doc,
                         const char *operation_name, json_t *variables, gql_operation_stats *st, gql_errors *errs);

/* Marks the parser's token-limit error (when errs holds it) like the other limits. */
void gw_limits_mark_tokens(const struct gw_config *cfg, gql_errors *errs);

/* The validation options for the configuration: the specified rules, plus
 * NoSchemaIntrospectionCustom when introspection is off. */
gql_validate_options gw_limits_validate_options(const struct gw_config *cfg);
/* Counts introspection refusals in errs (for the metrics). */
void gw_limits_count_introspection(const gql_errors *errs);

/* Cuts " Did you mean …?" off every message of errs. */
void gw_errors_hide_suggestions(gql_errors *errs);
/* The same for one message in place; returns its new length. */
size_t gw_message_hide_suggestion(char *msg, size_t len);

#endif
