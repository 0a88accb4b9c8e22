/*
 * gw_op: one GraphQL operation executed against the services.
 *
 * The engine (gateway/graphql) hands out every field of a level, across all list
 * items, before it waits. For each field the resolver here
 *   - checks @auth against the verified token (UNAUTHENTICATED / FORBIDDEN errors, no
 *     upstream call),
 *   - answers at once what the parent already holds (@from, @money, enum spellings),
 *   - turns an @http field into a REST call (identical GET calls of the operation are
 *     made once; a later identical one reuses the answer),
 *   - queues a @batch field's key in its batch group (keys already loaded in this
 *     operation are answered from the loader cache).
 * When the level is handed out, `on_dispatched` flushes the batch groups: the keys of
 * a group become one call per `max` keys. Every call of a level is in flight at the
 * same time (mc_http, keep-alive pools). Answers complete the fields' tickets; the
 * operation runs again once per loop iteration (an idle handle), so answers that
 * arrive together feed one next level, which is what keeps "one call per level".
 *
 * Upstream failures become errors on the fields that needed the call, with
 * extensions.code from DESIGN.md; everything else of the operation still resolves.
 *
 * Not tied to HTTP: the owner (the GraphQL-over-HTTP handler now, a WebSocket
 * subscription later) gets `done` once and writes the result wherever it goes.
 * Everything runs on the loop of the worker that owns the operation.
 */
#ifndef GW_OP_H
#define GW_OP_H

#include <stdbool.h>
#include <uv.h>
#include "gql.h"
#include "gw_schema.h"
#include "gw_upstream.h"
#include "mc_http.h"
#include "mc_jwt.h"

typedef struct gw_op gw_op_t;

/* What the gateway keeps per worker loop. */
typedef struct gw_worker {
    uv_loop_t *loop;
    mc_http_client_t *http;
    gw_up_worker_t *up;    /* calls to the services: breakers, retries, deadline (gw_upstream.h) */
    uv_idle_t idle;        /* runs operations whose fields were completed */
    bool idle_active;
    gw_op_t *run_head;     /* operations waiting for that run */
    unsigned default_timeout_ms; /* upstream call timeout when the binding sets none */
    bool closing;
    void *docs;            /* the document cache (gw_http.c) */
    struct gw_apq_worker *apq; /* persisted queries this worker knows (gw_apq.h) */
    json_t *inflight;      /* identical queries in flight: key → leader (gw_http.c) */
    struct gw_live_worker *live; /* the worker's WebSockets and subscriptions (gw_live.h) */
    void *data;            /* the owner's */
    void (*on_closed)(struct gw_worker *w);
} gw_worker_t;

/* Initialises w on loop (the idle handle); http is the loop's client. */
void gw_worker_init(gw_worker_t *w, uv_loop_t *loop, mc_http_client_t *http, unsigned default_timeout_ms);
/* Closes the idle handle (the loop must run on); on_closed (may be NULL) runs once it
 * is closed, when w may be freed. Operations must have ended. */
void gw_worker_close(gw_worker_t *w, void (*on_closed)(gw_worker_t *w));

typedef struct gw_op_opts {
    gw_worker_t *w;
    gw_schema_t *schema;        /* a reference is taken */
    const gql_document *doc;    /* validated against schema; must outlive the operation */
    const char *operation_name; /* may be NULL; must outlive the operation */
    json_t *variables;          /* borrowed; must outlive the operation */
    const mc_claims_t *claims;  /* the verified token, or NULL (copied) */
    const char *unauthenticated_why; /* why there are no claims ("expired"), static */
    const char *authorization;  /* the Authorization header to forward, or NULL (copied) */
    const char *request_id;     /* forwarded as X-Request-Id (copied) */
    const char *client_address; /* sent as X-Forwarded-For to services marked forward_client (copied) */
    const char *internal_key;   /* INTERNAL_API_KEY, sent with it; NULL: neither is sent */
    uint64_t deadline_ns;       /* mc_mono_ns() time after which no call is waited for; 0: none */
    json_t *root;               /* the root value (borrowed; must outlive the operation), or NULL
                                   for an empty object; a subscription event runs with the event */
    /* Called once when the result is complete (possibly inside gw_op_start). The
     * owner writes the response and then calls gw_op_free. */
    void (*done)(gw_op_t *op, void *data);
    /* Asked before each step: true makes the operation stop (calls are cancelled) and
     * `done` is called at once. May be NULL. */
    bool (*gone)(void *data);
    void *data;
} gw_op_opts_t;

/* Starts executing. Returns the operation while it waits for services; when it
 * completes at once (introspection, __typename, an error before any call), `done` is
 * called just before this returns NULL. */
gw_op_t *gw_op_start(const gw_op_opts_t *o);
/* The engine's request, for writing the response (valid until gw_op_free). */
gql_exec *gw_op_exec(gw_op_t *op);
/* Upstream calls the operation made (after deduplication and batching). */
unsigned gw_op_calls(const gw_op_t *op);
/* True when the operation was stopped because its client went away. */
bool gw_op_aborted(const gw_op_t *op);
/* Frees the operation (after `done`). */
void gw_op_free(gw_op_t *op);

/* The operation of doc that name selects (NULL name: the only one). NULL when there is
 * none or the choice is ambiguous; the engine then reports why. Used before execution
 * to learn the operation's kind (query, mutation, subscription). */
const gql_operation_node *gw_select_operation(const gql_document *doc, const char *name);

/* Gives every error without extensions.code the code INTERNAL (errors the engine
 * raised itself: a non-null field that came back null, a value a scalar refused). */
void gw_errors_default_code(const gql_errors *errs, const char *code);

#endif
