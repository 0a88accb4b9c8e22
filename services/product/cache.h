/*
 * The product cache in Redis: read-through, single-flight, invalidated by versions so a
 * write never leaves a stale read behind and no `KEYS` scan is ever needed.
 *
 * Keys (TTL):
 *   product:{id}                   one product (5 min)
 *   products:page:{hash}           a list page: its ids and pageInfo (2 min)
 *   products:category:{id}:{hash}  a list page filtered by a category (5 min)
 *   products:search:{hash}         a search or suggestion page (1 min)
 *   product:slug:{slug}            the id of a slug (2 min)
 * and the version tokens they are checked against:
 *   product:{id}:ver               bumped by every write of that product (stock included)
 *   products:ver                   bumped by every write that can change a list, a search
 *                                  or a slug (create, edit, delete, manual stock change,
 *                                  rating change)
 *   products:epoch:{database}      bumped when an invalidation could not reach Redis (named
 *                                  after the database, so that two databases sharing a
 *                                  Redis never read each other's values)
 * Every cached value is stored as "<epoch>.<version>\n<payload>"; a read (one Lua script,
 * one round trip) returns the payload only when that tag is still current, otherwise the
 * current tag. A load stores its result under the tag it read *before* loading, and only
 * if that tag is still current — so a load that raced with a write can never install old
 * data under the new version. Writers bump the version before they answer: a client that
 * just wrote reads its write, from any process. Versions are random tokens, so a Redis
 * that lost its data cannot bring an old version back.
 *
 * List pages cache ids only; their products are read through product:{id} (in the same
 * script when the page hits), so a page never shows an old price, name or stock. Which
 * products belong on a page can lag stock changes by reservations (those bump only the
 * product's version, not products:ver): the `inStock` filter of a cached page is at most
 * one TTL old, while the stock each item shows is current.
 *
 * Single flight: concurrent misses of one key with one tag on a worker share one database
 * read; the finished read stays joinable until its result is in Redis, so no miss in
 * between starts another. With Redis down every read goes to MongoDB (still single-flight
 * among concurrent misses) and nothing breaks; a write made then bumps products:epoch as
 * soon as Redis is back.
 */
#ifndef PRODUCT_CACHE_H
#define PRODUCT_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <mongoc/mongoc.h>
#include "mc_mongo.h"
#include "mc_req.h"
#include "service.h"

#define PC_PRODUCT_TTL 300
#define PC_SLUG_TTL 120
#define PC_VERSION_TTL 86400
#define PC_MAX_BATCH 100

/* Loads a value on the thread pool: *out (malloc'd) and *outlen, or *out NULL for "does
 * not exist"; a failure goes into res (mc_mongo_fail). tag is the version tag the value
 * will be cached under ("" when uncached), for loaders that answer from a snapshot of that
 * version (snapshot.h). */
typedef void (*pc_load_fn)(mongoc_database_t *db, const char *tag, void *arg, char **out, size_t *outlen,
                           mc_mongo_result_t *res);

/* A value, or (data NULL, err MC_OK) "does not exist", or an error. data is valid during
 * the call. Runs exactly once, possibly before the function that takes it returns. */
typedef void (*pc_cb)(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg);

/* Products: values[i] (len lens[i]) is product ids[i]'s payload, or NULL when it does not
 * exist. */
typedef void (*pc_many_cb)(mc_req_t *req, mc_err_t err, const char *const *values, const size_t *lens, void *cbarg);

/* A page: its payload ("<id>,<id>…\n<pageInfo JSON>") and its products, in order. */
typedef void (*pc_page_cb)(mc_req_t *req, mc_err_t err, const char *page, size_t page_len, const char *const *values,
                           const size_t *lens, size_t n, void *cbarg);

/* The loader of one product (product.c) and the service's database name, set once at
 * start. */
void pc_init(pc_load_fn product_loader, const char *dbname);
void pc_dispose(void);

void pc_product_get(mc_req_t *req, const char *id, pc_cb cb, void *cbarg);
/* ids: distinct lower-case ids, at most PC_MAX_BATCH. */
void pc_products_get(mc_req_t *req, char (*ids)[25], size_t n, pc_many_cb cb, void *cbarg);
/* A list/search page under products:ver. load/arg produce the page payload on a miss;
 * free_arg (may be NULL) frees arg when the cache no longer needs it. */
void pc_page_get(mc_req_t *req, const char *key, int ttl, pc_load_fn load, void *arg, void (*free_arg)(void *),
                 pc_page_cb cb, void *cbarg);
/* Any other value under products:ver (suggestions, slug → id). */
void pc_value_get(mc_req_t *req, const char *key, int ttl, pc_load_fn load, void *arg, void (*free_arg)(void *),
                  pc_cb cb, void *cbarg);

/* After a successful write: bumps the versions of the products ids (n may be 0) and, when
 * lists, products:ver. done(req) runs when Redis has them — or when that failed and the
 * epoch bump was queued for Redis's return. */
void pc_invalidate(mc_req_t *req, char (*ids)[25], size_t n, bool lists, void (*done)(mc_req_t *req));
/* The same without a request (background work): fire and forget. */
void pc_invalidate_bg(mc_worker_t *w, char (*ids)[25], size_t n, bool lists);

/* The worker's Redis came up or went down: flushes a queued epoch bump. */
void pc_redis_state(mc_worker_t *w, bool up);

#endif
