/*
 * gw_breaker: a circuit breaker for one service, shared by every worker of the process.
 *
 * Why: when a service is down or drowning, every request that needs it waits for a
 * connection to fail or a timeout to expire, holds a connection slot while it does, and
 * adds load to a service that needs less. The breaker watches the outcome of the calls
 * to its service over a sliding window; when enough of them fail it opens, and calls
 * fail at once ("circuit open", UPSTREAM_UNAVAILABLE on their fields) without touching
 * the network. After the open period it lets a few probe calls through (half-open): a
 * probe that succeeds closes it, one that fails opens it again for another period.
 *
 * States and transitions:
 *   closed     calls go; the window counts successes and failures. When the window
 *              holds at least min_calls calls and error_percent of them failed: open.
 *   open       calls fail fast for open_ms; then the next call is a probe: half-open.
 *   half-open  at most `probes` calls in flight, each a probe; others fail fast. A
 *              probe's success closes (the window starts empty), a failure opens.
 *
 * A failure is a call that got no answer (refused, dropped, timed out, garbage) or a
 * 5xx; a 4xx is the service working as intended. A call cancelled by its operation
 * counts as neither (gw_breaker_release).
 *
 * Time is passed in (monotonic milliseconds), so the logic is unit-tested without
 * waiting. Thread-safe (a mutex; held for a few instructions per call).
 */
#ifndef GW_BREAKER_H
#define GW_BREAKER_H

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

#define GW_BREAKER_BUCKETS 10

typedef struct gw_breaker_config {
    bool enabled;           /* GATEWAY_BREAKER */
    unsigned error_percent; /* GATEWAY_BREAKER_ERROR_PERCENT: failures that open it (1-100) */
    unsigned min_calls;     /* GATEWAY_BREAKER_MIN_CALLS: calls in the window before it may open */
    unsigned window_ms;     /* GATEWAY_BREAKER_WINDOW_MS: the sliding window */
    unsigned open_ms;       /* GATEWAY_BREAKER_OPEN_MS: how long it stays open before probing */
    unsigned probes;        /* GATEWAY_BREAKER_PROBES: concurrent probe calls while half-open */
} gw_breaker_config_t;

typedef enum gw_breaker_state {
    GW_BREAKER_CLOSED = 0,
    GW_BREAKER_HALF_OPEN = 1,
    GW_BREAKER_OPEN = 2,
} gw_breaker_state_t;

/* What gw_breaker_admit decided for a call. */
typedef enum gw_admit {
    GW_ADMIT_REJECT, /* fail fast */
    GW_ADMIT_CALL,   /* an ordinary call */
    GW_ADMIT_PROBE,  /* a half-open probe: report its outcome like any call */
} gw_admit_t;

typedef struct gw_breaker {
    uv_mutex_t mu;
    gw_breaker_config_t cfg;
    const char *name; /* the service, for the log lines of transitions */
    gw_breaker_state_t state;
    uint64_t opened_at_ms;
    unsigned probes_inflight;
    struct {
        uint64_t epoch; /* which bucket period the counts belong to */
        uint32_t ok, failed;
    } buckets[GW_BREAKER_BUCKETS];
    /* For /metrics (read with the mutex). */
    uint64_t rejected;    /* calls failed fast */
    uint64_t opened;      /* transitions to open */
    uint64_t closed;      /* transitions back to closed */
} gw_breaker_t;

void gw_breaker_init(gw_breaker_t *b, const char *name, const gw_breaker_config_t *cfg);
void gw_breaker_destroy(gw_breaker_t *b);
/* May a call go now? Every admitted call (CALL or PROBE) must be followed by exactly
 * one gw_breaker_record or gw_breaker_release with the same admission. */
gw_admit_t gw_breaker_admit(gw_breaker_t *b, uint64_t now_ms);
/* The outcome of an admitted call: ok (an answer below 500) or failed. */
void gw_breaker_record(gw_breaker_t *b, gw_admit_t admitted, bool ok, uint64_t now_ms);
/* An admitted call that ended without an outcome (cancelled): frees its probe slot. */
void gw_breaker_release(gw_breaker_t *b, gw_admit_t admitted);
/* The state for /metrics, with the counters. */
gw_breaker_state_t gw_breaker_snapshot(gw_breaker_t *b, uint64_t *rejected, uint64_t *opened, uint64_t *closed);

#endif
