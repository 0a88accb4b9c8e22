/*
 * What the parts of the product service share: its settings and the state each worker
 * loop keeps (cache loads in flight, the stock-cache refresh queue, the expiry sweep).
 *
 * Background database jobs (refreshes, sweeps, cache loads whose clients left) may finish
 * after the worker's dispose hook ran, so the state counts its jobs and is freed by
 * whichever of the two — the dispose hook or the last job — comes last.
 */
#ifndef PRODUCT_SERVICE_H
#define PRODUCT_SERVICE_H

#include <stdbool.h>
#include <stdatomic.h>
#include <uv.h>
#include "mc_server.h"

typedef struct ps_config {
    const char *category_url;     /* CATEGORY_URL */
    unsigned category_timeout_ms; /* CATEGORY_TIMEOUT_MS */
    unsigned sweep_ms;            /* RESERVATION_SWEEP_MS */
    size_t index_max_products;    /* PRODUCT_INDEX_MAX_PRODUCTS, 0 with PRODUCT_QUERY_INDEX=database */
} ps_config_t;

extern ps_config_t ps_config;

/* Counters for GET /internal/stats (process-wide). */
typedef struct ps_stats {
    atomic_ulong product_loads; /* database reads of one product for the cache */
    atomic_ulong page_loads;    /* database queries of list, search and suggestion pages */
    atomic_ulong cache_hits;
    atomic_ulong cache_misses;
    atomic_ulong joined_loads;  /* requests served by a load another request started */
    atomic_ulong reservations;
    atomic_ulong sweeps;
} ps_stats_t;

extern ps_stats_t ps_stats;

struct pc_flight;
struct pr_pending;

typedef struct ps_worker {
    mc_worker_t *w;
    unsigned jobs;      /* background jobs and cache loads in flight */
    bool disposed;
    /* cache.c */
    struct pc_flight *flights;
    unsigned write_seq; /* local writes, so an uncached read never joins an older load */
    /* refresh.c */
    uv_timer_t refresh_timer;
    struct pr_pending *pending;
    bool refresh_running;
    uv_timer_t sweep_timer;
    bool sweep_running;
} ps_worker_t;

ps_worker_t *ps_worker(mc_worker_t *w);
/* mc_server hooks. */
int ps_worker_init(mc_worker_t *w);
void ps_worker_dispose(mc_worker_t *w);
void ps_redis_state(mc_worker_t *w, bool up);
/* A background job starts / ends (frees the state after dispose and the last job). */
void ps_worker_job_begin(ps_worker_t *pw);
void ps_worker_job_end(ps_worker_t *pw);

/* Rewrites the stock cache of a product document soon (debounced, coalesced per worker,
 * retried while its lock is busy): the `stock` a filter sees follows the ledger. */
void ps_refresh_schedule(mc_worker_t *w, const char *product_id);
/* The same for the rating (after a review was written or deleted whose own refresh could
 * not take the lock). */
void ps_refresh_rating_schedule(mc_worker_t *w, const char *product_id);

#endif
