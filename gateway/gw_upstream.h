/*
 * gw_upstream: how the gateway calls a service — on top of mc_http, with a circuit
 * breaker per service, retries of idempotent calls within a retry budget, an overall
 * deadline, and the upstream metrics.
 *
 * A call (gw_up_fetch) goes through these steps:
 *   1. the deadline: a call whose operation is out of time fails at once ("timeout"),
 *      and an attempt never waits beyond the deadline (its timeout is cut to what is
 *      left);
 *   2. the service's breaker (gw_breaker.h): while open the call fails at once
 *      ("circuit open") without touching the network;
 *   3. the attempt, on the worker's mc_http client (keep-alive pools);
 *   4. a GET (idempotent: no side effect on the service) that failed in a way worth
 *      repeating — refused or dropped connection, 502, 503, 504 — is tried again after
 *      an exponential backoff with full jitter (random between 0 and base·2^attempt,
 *      at most backoff_max), at most `retries` times, while the breaker admits it, the
 *      deadline leaves room for it, and the service's retry budget has a token. A
 *      timeout is not retried: the service had its time, and a hanging service would
 *      hold the request twice as long. POST, PUT, PATCH and DELETE are never retried.
 *
 * The retry budget (per service and worker) keeps retries from multiplying the load on
 * a service that is failing: every first attempt earns budget_percent/100 of a token,
 * the budget also earns budget_min_per_s tokens per second (so a quiet gateway can still
 * retry), holds at most GW_UP_BUDGET_CAP tokens, and a retry spends one.
 *
 * Threads: gw_upstreams_t (the breakers) is shared by the workers; a gw_up_worker_t and
 * its calls belong to one worker's loop. Callbacks follow mc_http's rules: cb runs
 * exactly once on the loop, never inside gw_up_fetch, unless the call is cancelled.
 */
#ifndef GW_UPSTREAM_H
#define GW_UPSTREAM_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>
#include "gw_breaker.h"
#include "gw_schema.h"
#include "mc_http.h"

#define GW_UP_BUDGET_CAP 100.0

typedef struct gw_up_config {
    unsigned retries;          /* GATEWAY_RETRIES: extra attempts of an idempotent call */
    unsigned backoff_ms;       /* GATEWAY_RETRY_BACKOFF_MS: base of the exponential backoff */
    unsigned backoff_max_ms;   /* GATEWAY_RETRY_BACKOFF_MAX_MS: its cap */
    unsigned budget_percent;   /* GATEWAY_RETRY_BUDGET_PERCENT: retries per 100 calls */
    unsigned budget_min_per_s; /* GATEWAY_RETRY_BUDGET_MIN_PER_SECOND: retries always allowed per second */
    gw_breaker_config_t breaker;
} gw_up_config_t;

/* Process-wide: a breaker per service. */
typedef struct gw_upstreams {
    gw_up_config_t cfg;
    unsigned n;
    gw_breaker_t breakers[GW_MAX_SERVICES];
} gw_upstreams_t;

/* Reads the configuration (exits naming a malformed variable). */
void gw_up_config_load(gw_up_config_t *cfg);
gw_upstreams_t *gw_upstreams_create(const gw_services_t *svcs, const gw_up_config_t *cfg);
void gw_upstreams_free(gw_upstreams_t *up);

typedef struct gw_up_worker gw_up_worker_t;
typedef struct gw_up_call gw_up_call_t;

/* A worker's caller on its loop, with its HTTP client (borrowed; it must outlive every
 * call). */
gw_up_worker_t *gw_up_worker_create(gw_upstreams_t *up, uv_loop_t *loop, mc_http_client_t *http);
/* Cancels every call still open (their callbacks do not run) and frees the worker's
 * caller once its timers are closed (the loop must run on). */
void gw_up_worker_close(gw_up_worker_t *w);

/* Starts a call to service svc. req is copied; req->timeout_ms must be set (per
 * attempt); deadline_ns is an absolute mc_mono_ns() time or 0 for none. Returns 0 with
 * the handle in *call, or -1 (cb not called) when the request cannot be made. */
int gw_up_fetch(gw_up_worker_t *w, unsigned svc, const mc_http_request_t *req, uint64_t deadline_ns, mc_http_cb cb,
                void *data, gw_up_call_t **call);
/* Cancels a call: its callback will not run. No-op once the callback ran. */
void gw_up_cancel(gw_up_call_t *call);

/* The backoff before retry number `attempt` (1 for the first retry), given a random
 * number in [0, 1): full jitter in [0, min(max, base·2^(attempt-1))]. Pure. */
unsigned gw_up_backoff_ms(const gw_up_config_t *cfg, unsigned attempt, double random01);

#endif
