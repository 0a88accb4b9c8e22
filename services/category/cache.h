/*
 * The category snapshot cache: one Redis round trip per read, at most one database read
 * per worker for concurrent misses, and never a stale read after a write.
 *
 * Redis holds `category:ver` (a random version token) and `category:all:<ver>` (every
 * category as JSON, CATEGORY_CACHE_TTL seconds). A read runs one script that returns the
 * current version and, only when the worker's own parsed snapshot is of another version,
 * the cached JSON. A miss reads MongoDB and stores the JSON under the version it read
 * first, so a load racing with a write can only fill a key nobody asks for any more.
 * Every write sets a new random version token before it answers. A random token (rather
 * than a counter) means a Redis that lost its data can never bring an old version back.
 *
 * With Redis down, reads go to MongoDB (uncached) and the service keeps working; a write
 * made while Redis is down changes the version as soon as Redis is back.
 */
#ifndef CATEGORY_CACHE_H
#define CATEGORY_CACHE_H

#include <stdbool.h>
#include "mc_req.h"
#include "tree.h"

#define CATEGORY_CACHE_TTL 300

/* snap is NULL on failure (err/msg then say why); it is valid during the call (retain it
 * to keep it). Runs exactly once, possibly before cat_snapshot_get returns. */
typedef void (*cat_snapshot_cb)(mc_req_t *req, cat_snapshot_t *snap, mc_err_t err, const char *msg);
void cat_snapshot_get(mc_req_t *req, cat_snapshot_cb cb);

/* After a successful write: drops this worker's snapshot and sets a new version in
 * Redis; `done` runs when that is done (or failed and was marked pending). */
void cat_cache_invalidate(mc_req_t *req, void (*done)(mc_req_t *req));

/* Per-worker set-up and tear-down, and the Redis state hook (flushes a pending
 * invalidation when Redis comes back). */
int cat_cache_worker_init(mc_worker_t *w);
void cat_cache_worker_dispose(mc_worker_t *w);
void cat_cache_redis_state(mc_worker_t *w, bool up);
void cat_cache_global_init(void);
void cat_cache_global_dispose(void);

#endif
