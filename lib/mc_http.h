/*
 * mc_http: asynchronous HTTP/1.1 client for calls between services (order → product,
 * product → category, gateway → services), on h2o's http1client with one keep-alive
 * socket pool per origin. Never blocks the loop.
 *
 * Every call has a timeout (connect + whole response) and a cap on the response size.
 * The caller's request id is sent as X-Request-Id so logs can be joined.
 */
#ifndef MC_HTTP_H
#define MC_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct mc_http_client mc_http_client_t;
typedef struct mc_http_call mc_http_call_t;

typedef struct mc_http_client_opts {
    unsigned default_timeout_ms;    /* 0 = 5000 */
    size_t max_response_bytes;      /* 0 = 8 MiB */
    unsigned pool_capacity;         /* keep-alive sockets per origin, 0 = 64 */
    unsigned keepalive_timeout_ms;  /* idle sockets are closed after this, 0 = 10000 */
} mc_http_client_opts_t;

/* One client per loop. */
mc_http_client_t *mc_http_client_create(uv_loop_t *loop, const mc_http_client_opts_t *opts);
/* Cancels every call in flight (their callbacks are not called), closes idle sockets,
 * and frees the client once everything is closed (the loop must run on). */
void mc_http_client_close(mc_http_client_t *c);

typedef struct mc_http_header {
    const char *name;
    const char *value;
} mc_http_header_t;

typedef struct mc_http_request {
    const char *method;  /* "GET" … */
    const char *url;     /* "http://host:port/path?query" (http only) */
    const mc_http_header_t *headers;
    size_t nheaders;
    const void *body; /* may be NULL */
    size_t body_len;
    const char *content_type; /* default application/json when body is set */
    unsigned timeout_ms;      /* 0 = the client's default */
    const char *request_id;   /* sent as X-Request-Id when set */
} mc_http_request_t;

typedef struct mc_http_response {
    int status;          /* 0 when err is set */
    const char *err;     /* NULL, or why the call failed: "timeout", "connection refused", … */
    const char *body;    /* NUL-terminated, valid during the callback only */
    size_t body_len;
    const mc_http_header_t *headers; /* valid during the callback only */
    size_t nheaders;
} mc_http_response_t;

typedef void (*mc_http_cb)(const mc_http_response_t *res, void *data);

/* Starts a call; the request is copied. Returns 0 and stores a handle in *call (may be
 * NULL); -1 on a malformed URL (cb is then not called). cb runs exactly once on the
 * loop unless the call is cancelled. */
int mc_http_fetch(mc_http_client_t *c, const mc_http_request_t *req, mc_http_cb cb, void *data, mc_http_call_t **call);
/* Cancels a call in flight; its callback will not run. */
void mc_http_cancel(mc_http_call_t *call);

#endif
