/*
 * mc_trace: W3C Trace Context (traceparent / tracestate) for every process.
 *
 * Why: a request that crosses the gateway and two services leaves log lines in three
 * processes. The request id joins them when every hop forwards it, but tracing systems
 * (and clients that already trace) speak `traceparent`: a 16-byte trace id shared by
 * every hop and an 8-byte id of the calling span. Every process accepts an incoming
 * `traceparent` (or starts a trace), writes the trace id into its log lines, and sends
 * a `traceparent` with a fresh span id on each call it makes to another service.
 *
 * How the trace reaches log lines and outgoing calls without threading it through every
 * function: while a request lives, its trace is bound to its request id in a table of
 * the worker thread (requests never change threads). mc_log looks the request id of a
 * line up there, and mc_http looks up the request id of a call. A request id given by
 * two concurrent clients finds the most recently bound trace (ids are the clients' to
 * choose; both are the same client's in practice).
 *
 * Format (https://www.w3.org/TR/trace-context/): "00-<32 hex>-<16 hex>-<2 hex>", lower
 * case; an all-zero trace or span id is invalid. A later version is read by its first
 * four fields as the specification asks; version ff is invalid.
 */
#ifndef MC_TRACE_H
#define MC_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MC_TRACEPARENT_LEN 55 /* "00-" 32 "-" 16 "-" 2 */
#define MC_TRACESTATE_MAX 512

typedef struct mc_trace {
    char trace_id[33]; /* 32 lower-case hex digits */
    char span_id[17];  /* this process's span for the request */
    uint8_t flags;     /* trace-flags (bit 0: sampled) */
    const char *tracestate; /* the caller's tracestate, passed on unchanged; NULL when none */
} mc_trace_t;

/* Reads a traceparent header value. 0 and *out filled (trace id, the caller's span id as
 * span_id, flags; tracestate NULL), or -1 when it is malformed. */
int mc_trace_parse(const char *traceparent, size_t len, mc_trace_t *out);
/* A new trace (random trace id and span id, flags 0). */
void mc_trace_new(mc_trace_t *out);
/* The trace of an incoming request: the caller's trace with a new span id of our own, or
 * a new trace when traceparent is NULL or malformed. tracestate (may be NULL) is kept by
 * pointer when it is at most MC_TRACESTATE_MAX characters of visible ASCII. */
void mc_trace_for_request(const char *traceparent, size_t len, const char *tracestate, mc_trace_t *out);
/* Writes the traceparent for a call made on behalf of t: its trace id, a fresh span id,
 * its flags. out needs MC_TRACEPARENT_LEN + 1 bytes. */
void mc_trace_child(const mc_trace_t *t, char *out);
/* A random span id (16 hex digits, NUL-terminated into out[17]); never all zero. */
void mc_trace_span_id(char *out);

/* --- the worker thread's table of live requests ------------------------------------------ */

/* A binding; lives inside the request that owns it. */
typedef struct mc_trace_binding {
    struct mc_trace_binding *next;
    const char *request_id; /* must stay valid while bound */
    uint32_t hash;
    const mc_trace_t *trace;
} mc_trace_binding_t;

/* Binds trace to request_id on this thread until mc_trace_unbind. b, request_id and trace
 * must outlive the binding. */
void mc_trace_bind(mc_trace_binding_t *b, const char *request_id, const mc_trace_t *trace);
/* Removes a binding made on this thread (no-op when it is not bound). */
void mc_trace_unbind(mc_trace_binding_t *b);
/* The trace bound to request_id on this thread, or NULL. */
const mc_trace_t *mc_trace_find(const char *request_id);

#endif
