/*
 * mc_http: asynchronous HTTP/1.1 client for calls between services (order → product,
 * product → category, gateway → services), on h2o's http1client with one keep-alive
 * socket pool per origin. Never blocks the loop.
 *
 * Every call has a timeout (connect + whole response) and a cap on the response size.
 * The caller's request id is sent as X-Request-Id so logs can be joined, and its W3C
 * trace as traceparent (mc_trace.h).
 *
 * Calls start on the next loop iteration (never inside mc_http_fetch), at most
 * pool_capacity at a time per origin (the others wait, their timeout running). Host
 * names are resolved once per origin on the libuv thread pool (IPv4 preferred) and the
 * address is kept for the client's life. Request bodies are sent with Content-Length;
 * responses may use Content-Length, chunked encoding or end at the connection's close.
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
    /* W3C trace context to send (mc_trace.h). NULL: when request_id names a request in
     * flight on this thread, its trace goes on with a fresh span id (and its tracestate);
     * otherwise none is sent. */
    const char *traceparent;
    const char *tracestate; /* with an explicit traceparent only; may be NULL */
} mc_http_request_t;

typedef struct mc_http_response {
    int status;          /* 0 when err is set */
    /* NULL, or why the call failed: "timeout", "connection failed" (refused, unreachable),
     * "connection closed" (before the response was complete), "bad response",
     * "response too large", "name resolution failed", "out of memory". */
    const char *err;
    const char *body;    /* NUL-terminated, valid during the callback only */
    size_t body_len;
    const mc_http_header_t *headers; /* names in lower case; valid during the callback only */
    size_t nheaders;
} mc_http_response_t;

typedef void (*mc_http_cb)(const mc_http_response_t *res, void *data);

/* Starts a call; the request is copied. Returns 0 and stores a handle in *call (may be
 * NULL); -1 on a malformed URL or request — a CR/LF in a header, a header the client
 * writes itself (Host, Content-Length, Transfer-Encoding, Connection, X-Request-Id,
 * Upgrade, TE, traceparent, tracestate), body_len without a body, a closing client — and cb is then not called.
 * cb runs exactly once on the loop unless the call is cancelled. The handle is valid until
 * cb has returned or the call was cancelled. */
int mc_http_fetch(mc_http_client_t *c, const mc_http_request_t *req, mc_http_cb cb, void *data, mc_http_call_t **call);
/* Cancels a call in flight; its callback will not run. A no-op once the callback runs. */
void mc_http_cancel(mc_http_call_t *call);

#endif
