/*
 * mc_server: the HTTP server every Mercato process runs, on h2o + libuv.
 *
 * WORKERS threads each run their own libuv loop and h2o context and accept on their
 * own SO_REUSEPORT socket bound to HOST:PORT, so the kernel spreads connections.
 * Requests are dispatched through a route table (method + pattern with `:name`
 * parameters); unknown paths get 404 and known paths with another method 405, both in
 * the error envelope. Built in: GET /health (the process is alive), GET /ready (its
 * MongoDB and Redis answer), GET /openapi.json (the service's OpenAPI document).
 *
 * SIGHUP runs the optional reload hook (the gateway reloads its schema).
 *
 * SIGTERM/SIGINT start a graceful shutdown: listeners close at once, responses stop
 * offering keep-alive, in-flight requests get SHUTDOWN_TIMEOUT_MS to finish, then idle
 * connections are closed, the per-worker resources are disposed, and mc_server_run
 * returns 0.
 */
#ifndef MC_SERVER_H
#define MC_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "mc_config.h"

typedef struct mc_server mc_server_t;
typedef struct mc_worker mc_worker_t;
typedef struct mc_req mc_req_t;
typedef struct mc_mongo mc_mongo_t;
typedef struct mc_redis mc_redis_t;
typedef struct mc_jwt mc_jwt_t;
typedef struct mc_http_client mc_http_client_t;
typedef struct mc_conn mc_conn_t;

/* A route handler runs on the worker's loop. It must answer the request exactly once,
 * now or later (see mc_req.h), and must never block. */
typedef void (*mc_handler_t)(mc_req_t *req);

typedef struct mc_route {
    const char *method;  /* "GET", "POST", "PUT", "PATCH", "DELETE" */
    const char *pattern; /* "/api/categories/:id"; literal segments win over parameters */
    mc_handler_t handler;
} mc_route_t;

typedef struct mc_server_opts {
    const mc_config_t *cfg;
    const mc_route_t *routes;
    size_t nroutes;
    const char *openapi_json; /* served at /openapi.json; may be NULL */
    size_t openapi_len;
    bool use_mongo;      /* create the MongoDB pool (mc_server_mongo) and check it in /ready */
    bool use_redis;      /* give each worker a Redis connection and check it in /ready */
    bool redis_required; /* Redis down makes /ready answer 503 (otherwise "degraded", 200) */
    bool use_jwt;        /* load the JWT settings (JWT_*) so handlers can authenticate */
    /* Once, before the workers start, on the main thread; may block (create indexes,
     * read files). Non-zero stops the process. */
    int (*init)(mc_server_t *srv);
    /* On each worker's thread, before it accepts; create per-worker state in w. */
    int (*worker_init)(mc_worker_t *w);
    /* On each worker's thread at shutdown, after the last request ended. May start
     * asynchronous closes: the loop runs until every handle is closed. */
    void (*worker_dispose)(mc_worker_t *w);
    /* On a worker's loop whenever its Redis connection comes up or goes down (may be
     * NULL). */
    void (*redis_state)(mc_worker_t *w, bool up);
    /* Optional (the gateway's schema reload): on the main thread whenever the process
     * receives SIGHUP, while the workers serve on. Without it SIGHUP keeps its default
     * action. */
    void (*reload)(mc_server_t *srv);
    /* Once, on the main thread, after every worker stopped. */
    void (*dispose)(mc_server_t *srv);
    void *data; /* the service's own global state */
    /* Answers GET /ready instead of the built-in check of MongoDB and Redis (may be NULL).
     * The gateway uses it to summarise the services it calls. */
    mc_handler_t ready;
    /* Optional; services leave it NULL. Sees each accepted connection on the worker's
     * loop before h2o does (the gateway hands WebSocket upgrades to libwebsockets on the
     * same port this way). Returning false lets h2o serve it at once. Returning true
     * keeps it: the hook then calls exactly one of mc_conn_serve, mc_conn_detach or
     * mc_conn_close for it, now or later, on this worker's loop. A kept connection
     * counts as open for the graceful shutdown, which shuts its socket down (the hook
     * sees the end of the stream) and waits for it like for any other. */
    bool (*accept)(mc_worker_t *w, mc_conn_t *conn);
    /* Optional: on each worker's loop when a graceful shutdown begins, before its
     * connections are closed (the gateway starts closing its WebSockets here). */
    void (*worker_shutdown)(mc_worker_t *w);
} mc_server_opts_t;

/* Starts the server and blocks until it has shut down. Returns the process exit code:
 * 0 after a graceful shutdown, non-zero when it could not start (the reason is logged). */
int mc_server_run(const mc_server_opts_t *opts);

const mc_config_t *mc_server_config(const mc_server_t *srv);
void *mc_server_data(const mc_server_t *srv);
/* The process-wide MongoDB pool (NULL unless use_mongo). */
mc_mongo_t *mc_server_mongo(const mc_server_t *srv);
/* The JWT verifier/signer (NULL unless use_jwt). */
const mc_jwt_t *mc_server_jwt(const mc_server_t *srv);
/* True once a graceful shutdown has begun (SIGTERM/SIGINT). Thread-safe. */
bool mc_server_shutting_down(const mc_server_t *srv);

uv_loop_t *mc_worker_loop(const mc_worker_t *w);
mc_server_t *mc_worker_server(const mc_worker_t *w);
/* This worker's Redis connection (NULL unless use_redis). */
mc_redis_t *mc_worker_redis(const mc_worker_t *w);
/* This worker's HTTP client for calls to other services, created on first use. */
mc_http_client_t *mc_worker_http(mc_worker_t *w);
void *mc_worker_data(const mc_worker_t *w);
void mc_worker_set_data(mc_worker_t *w, void *data);
/* Index of the worker, 0..WORKERS-1. */
unsigned mc_worker_index(const mc_worker_t *w);

/* A connection kept by the accept hook (mc_server_opts_t.accept). */
/* Its socket, to look at the first bytes with recv(MSG_PEEK) — never read from it. */
int mc_conn_fd(const mc_conn_t *c);
/* h2o serves it after all: every byte not consumed is still there for h2o. */
void mc_conn_serve(mc_conn_t *c);
/* Takes the socket away from the server: returns a duplicate of it (non-blocking,
 * close-on-exec) that the caller owns from now on, or -1 (errno set). The connection
 * itself is closed and forgotten either way; the returned socket does not count for
 * the graceful shutdown. */
int mc_conn_detach(mc_conn_t *c);
/* Closes it without serving it. */
void mc_conn_close(mc_conn_t *c);

#endif
