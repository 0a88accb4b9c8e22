/*
 * Private structures of the HTTP core (mc_server.c, mc_req.c, mc_router.c). Nothing
 * outside lib/ includes this file; services use mc_server.h and mc_req.h.
 */
#ifndef MC_INTERNAL_H
#define MC_INTERNAL_H

#include <stdatomic.h>
#include <h2o.h>
#include "mc_server.h"
#include "mc_req.h"
#include "mc_trace.h"

#define MC_MAX_ROUTE_SEGMENTS 12
#define MC_MAX_ROUTE_PARAMS 6
#define MC_MAX_RESPONSE_HEADERS 16

/* A compiled route: its pattern split into segments; a segment starting with ':' is a
 * parameter. */
typedef struct mc_route_compiled {
    const mc_route_t *route;
    size_t nsegs;
    h2o_iovec_t segs[MC_MAX_ROUTE_SEGMENTS];
} mc_route_compiled_t;

typedef struct mc_router {
    mc_route_compiled_t *routes;
    size_t nroutes;
} mc_router_t;

typedef struct mc_route_match {
    const mc_route_t *route; /* NULL: no route for this path and method */
    bool path_known;         /* some route has this path (for 405) */
    char allow[64];          /* methods allowed on this path, for the Allow header */
    size_t nparams;
    h2o_iovec_t names[MC_MAX_ROUTE_PARAMS];
    h2o_iovec_t values[MC_MAX_ROUTE_PARAMS]; /* raw (still percent-encoded) */
} mc_route_match_t;

/* Compiles routes; -1 (logged) when a pattern is malformed. */
int mc_router_init(mc_router_t *r, const mc_route_t *routes, size_t n);
void mc_router_dispose(mc_router_t *r);
/* Matches method and path (no query string). Literal segments win over parameters. */
void mc_router_match(const mc_router_t *r, const char *method, size_t mlen, const char *path, size_t plen,
                     mc_route_match_t *m);

struct mc_server {
    mc_server_opts_t opts;
    h2o_globalconf_t h2o_config;
    mc_router_t router;
    mc_mongo_t *mongo;
    mc_jwt_t *jwt;
    mc_worker_t *workers;
    unsigned nworkers;
    struct sockaddr_storage bind_addr;
    socklen_t bind_addrlen;
    atomic_int shutting_down;
};

/* One accepted connection; freed in the close callback h2o's socket calls. */
typedef struct mc_conn {
    uv_tcp_t tcp; /* first member: the handle pointer is the struct pointer */
    h2o_linklist_t link;
    mc_worker_t *worker;
} mc_conn_t;

struct mc_worker {
    mc_server_t *srv;
    unsigned index;
    uv_thread_t thread;
    uv_loop_t loop;
    h2o_context_t h2o_ctx;
    h2o_accept_ctx_t accept_ctx;
    uv_tcp_t listener;
    bool listening;
    uv_async_t wake;           /* the main thread asks for shutdown through this */
    uv_timer_t shutdown_timer; /* the graceful-shutdown deadline */
    bool shutdown_started, connections_closing, disposed;
    h2o_linklist_t conns; /* mc_conn_t, every open client connection */
    size_t nconns;
    size_t inflight;      /* requests h2o has not disposed yet */
    mc_redis_t *redis;
    mc_http_client_t *http;
    void *data;
    int start_status;     /* 0 ok, -1 failed (reported to the main thread) */
    uv_sem_t *started;    /* posted once the worker listens (or failed) */
};

/* A response header queued before answering. */
typedef struct mc_hdr {
    const char *name, *value;
} mc_hdr_t;

typedef struct mc_free_cb {
    void (*cb)(void *);
    void *arg;
    struct mc_free_cb *next;
} mc_free_cb_t;

struct mc_req {
    h2o_req_t *h2o; /* NULL once h2o disposed its request (client gone or answer sent) */
    mc_worker_t *worker;
    unsigned refcnt;
    bool answered;
    h2o_mem_pool_t pool;
    uint64_t start_ns;
    char id[129];
    const char *method;
    const char *path;
    size_t path_len;
    const mc_route_t *route;
    size_t nparams;
    const char *param_names[MC_MAX_ROUTE_PARAMS];
    const char *param_values[MC_MAX_ROUTE_PARAMS];
    /* query string, parsed on first use */
    bool query_parsed;
    size_t nquery;
    const char **query_names;
    const char **query_values;
    json_t *json;
    bool claims_checked;
    const mc_claims_t *claims;
    mc_claims_t claims_storage;
    const char *claims_why;
    size_t nhdrs;
    mc_hdr_t hdrs[MC_MAX_RESPONSE_HEADERS];
    mc_free_cb_t *on_free;
    void *data;
    char peer[64];
    mc_trace_t trace;               /* W3C trace context: the caller's or a new one */
    mc_trace_binding_t trace_binding; /* the trace bound to `id` on the worker thread */
    json_t *log_fields;             /* extra members of the access-log line, or NULL */
};

/* Called by the server's h2o handler for every request. */
void mc_req_dispatch(mc_worker_t *w, h2o_req_t *h2o_req);
/* The request-disposed hook: lets the worker's shutdown proceed when the last one ends. */
void mc_worker_request_ended(mc_worker_t *w);

#endif
