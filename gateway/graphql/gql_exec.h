/*
 * gql_exec: executing a validated operation, with resolvers that may answer later.
 *
 * Why level-wise: the gateway turns fields into REST calls. If the executor resolved
 * depth-first and waited on each pending field, N products would cost N upstream
 * calls. Instead it hands out *every* field it can reach — across all list items and
 * sibling objects — before waiting, then calls `on_dispatched`, where the gateway
 * flushes its batch (a DataLoader tick): N look-ups become one call. Completions may
 * arrive in any order; the response keeps request order.
 *
 * The life of a request:
 *
 *     gql_exec *e = gql_exec_new(schema, doc, &opts);   // never NULL
 *     while (gql_exec_run(e) == GQL_EXEC_WAITING)       // resolvers were called
 *         ... event loop: upstream answers arrive, the gateway calls
 *             gql_ticket_resolve(t, value) / gql_ticket_fail(t, msg, ext) ...
 *     gql_exec_write_response(e, &buf);                 // {"errors":…,"data":…}
 *     gql_exec_free(e);
 *
 * Resolvers are called only from inside gql_exec_run(), never from a completion
 * function, so a gateway can complete tickets from any callback safely (on the loop
 * thread that owns the request). A resolver either answers at once
 * (GQL_RESOLVED, filling `out`) or takes a ticket with gql_field_defer() and returns
 * GQL_PENDING; the ticket must then be completed exactly once, or the request freed.
 *
 * Values are JSON (jansson). Semantics follow graphql-js 16 and the specification:
 * the default resolver reads the property named like the field from the parent
 * object; abstract types resolve by the value's `__typename` (or `resolve_type`);
 * null propagation, error paths and locations, serial mutation root fields,
 * @skip/@include, response keys in request order. Errors are listed in the order a
 * synchronous depth-first execution (graphql-js) would produce them.
 *
 * Memory: everything of a request lives in its arena and dies with gql_exec_free().
 */
#ifndef GQL_EXEC_H
#define GQL_EXEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gql_ast.h"
#include "gql_buf.h"
#include "gql_error.h"
#include "gql_schema.h"

typedef struct gql_exec gql_exec;
typedef struct gql_ticket gql_ticket;

/* What a resolver knows about the field it resolves. Valid during the resolver call
 * and, for a deferred field, until its ticket is completed. */
typedef struct gql_field_info {
    gql_exec *exec;
    const gql_type *parent_type;
    const gql_field *field;        /* the schema field, with its SDL directives */
    gql_str response_key;
    json_t *parent;                /* parent value (borrowed; may be NULL = null) */
    json_t *args;                  /* coerced arguments, defaults applied (borrowed object) */
    const gql_field_node *const *nodes; /* the merged field nodes of the request */
    uint32_t nnodes;
    void *context;                 /* gql_exec_options.context */
    /* internal */
    void *_slot;
} gql_field_info;

/* A resolver's immediate answer. */
typedef struct gql_resolution {
    json_t *value;      /* new reference; NULL means null */
    const char *error;  /* non-NULL: the field fails with this message (copied) */
    json_t *extensions; /* with an error: extensions (reference stolen), or NULL */
} gql_resolution;

typedef enum gql_resolve_status { GQL_RESOLVED = 0, GQL_PENDING = 1 } gql_resolve_status;

/* A field resolver. `out` is zeroed before the call. */
typedef gql_resolve_status (*gql_resolver)(void *ud, const gql_field_info *info, gql_resolution *out);

/* The built-in resolver: the parent's property named like the field (borrowed value,
 * reference added in out->value). Custom resolvers may delegate to it. */
gql_resolve_status gql_default_resolver(void *ud, const gql_field_info *info, gql_resolution *out);

/* Turns the field being resolved into a pending one; call from a resolver, then
 * return GQL_PENDING. The ticket stays valid until completed or the exec is freed. */
gql_ticket *gql_field_defer(const gql_field_info *info);
/* The field info of a pending field (same lifetime as the ticket). */
const gql_field_info *gql_ticket_info(const gql_ticket *t);
/* Completes a pending field with a value (reference stolen; NULL = null). Does not
 * call resolvers; call gql_exec_run() afterwards (after a whole batch is fine). */
void gql_ticket_resolve(gql_ticket *t, json_t *value);
/* Completes a pending field with an error (message copied, extensions stolen). */
void gql_ticket_fail(gql_ticket *t, const char *message, json_t *extensions);

/* Picks the concrete object type of an abstract-typed value; return NULL and write
 * a message to `err` to fail the field. */
typedef const gql_type *(*gql_type_resolver)(void *ud, const gql_field_info *info, json_t *value,
                                             const gql_type *abstract_type, gql_buf *err);

typedef struct gql_exec_options {
    const char *operation_name; /* NULL: the document's only operation */
    json_t *variables;          /* raw variable values (borrowed object), NULL = none */
    json_t *root;               /* root value (borrowed; must outlive the exec) */
    gql_resolver resolve;       /* NULL: gql_default_resolver for every field */
    void *resolve_ud;
    gql_type_resolver resolve_type; /* NULL: the value's __typename */
    void *resolve_type_ud;
    /* Called from gql_exec_run() when every resolvable field has been handed out and
     * at least one is pending: flush batches here. */
    void (*on_dispatched)(void *ud, gql_exec *e);
    void *on_dispatched_ud;
    void *context;             /* handed to resolvers in gql_field_info */
    size_t arena_limit;        /* 0 = GQL_ARENA_DEFAULT_LIMIT */
    size_t max_response_bytes; /* 0 = GQL_BUF_DEFAULT_MAX */
    uint32_t max_errors;       /* field errors kept (0 = 10000); later ones are counted only */
    /* Keep resolving below objects that a non-null error has already nulled, as a
     * synchronous graphql-js does (the errors then match graphql-js exactly). Off by
     * default: the gateway should not call upstreams for data it will discard. */
    bool run_nulled_subtrees;
} gql_exec_options;

typedef enum gql_exec_state { GQL_EXEC_DONE = 0, GQL_EXEC_WAITING = 1 } gql_exec_state;

/* Prepares the execution of an operation of `doc`, which must have passed
 * gql_validate() against `s`. Selects the operation and coerces variables (errors
 * there end the request with errors and no data). Never returns NULL except when
 * memory is exhausted. The schema and document must outlive the exec. */
gql_exec *gql_exec_new(const gql_schema *s, const gql_document *doc, const gql_exec_options *opts);
/* Runs every field that can run now. Returns GQL_EXEC_DONE when the result is
 * complete, GQL_EXEC_WAITING when tickets are pending. */
gql_exec_state gql_exec_run(gql_exec *e);
/* Number of tickets handed out and not yet completed. */
uint32_t gql_exec_pending(const gql_exec *e);
/* Writes the response as graphql-js's JSON.stringify(result) would: {"data":…} or
 * {"errors":[…],"data":…}, or {"errors":[…]} when execution never started. Returns 0,
 * or -1 when the response exceeds max_response_bytes. Call once done. */
int gql_exec_write_response(gql_exec *e, gql_buf *out);
/* True when execution started, i.e. the response has a `data` member (false after
 * operation selection or variable errors). */
bool gql_exec_has_data(const gql_exec *e);
/* The errors so far (in response order once done). */
const gql_errors *gql_exec_errors(gql_exec *e);
/* Frees the request. Pending tickets become invalid and must not be completed. */
void gql_exec_free(gql_exec *e);

/* The response path of a field as JSON (new array), e.g. ["products",3,"seller"]. */
json_t *gql_field_path(const gql_field_info *info);

/* Runs an operation to completion with resolvers that never defer, writing the
 * response. Returns 0 on success (errors are part of the response). */
int gql_execute_sync(const gql_schema *s, const gql_document *doc, const gql_exec_options *opts, gql_buf *out);

/* ---- subscriptions --------------------------------------------------------------- */

/* What the gateway needs to set up the source stream of a subscription operation
 * (the first half of the specification's CreateSourceEventStream). */
typedef struct gql_subscription_root {
    const gql_field *field;     /* the root field */
    gql_str response_key;
    json_t *args;               /* coerced arguments (new reference, caller frees) */
    json_t *variables;          /* coerced variables (new reference, caller frees) */
} gql_subscription_root;

/* Finds the root field of the subscription operation and coerces its arguments.
 * Returns 0, or -1 after appending errors (not a subscription, variable or argument
 * errors). Each event is then executed with gql_exec_new() on the same operation
 * with the event as `root` — the specification's ExecuteSubscriptionEvent. */
int gql_subscription_prepare(const gql_schema *s, const gql_document *doc, const char *operation_name,
                             json_t *variables, gql_subscription_root *out, gql_errors *errors);

#endif
