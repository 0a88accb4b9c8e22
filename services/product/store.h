/*
 * The product service's MongoDB access to products and locks: the only file that knows
 * how products are stored and queried (model.h has the document). The stock ledger and
 * reservations live in store_inventory.c (inventory.h), reviews in store_reviews.c
 * (reviews.h). Every function here blocks, so it runs inside an mc_mongo work callback on
 * the thread pool, never on an event loop.
 *
 * FerretDB applies an update as read-then-write of the whole document, so two concurrent
 * writers of one product document could silently undo each other's fields (an edit and a
 * stock-cache refresh, say). Every writer of a product document therefore holds that
 * product's lock: a document in `locks` whose _id ("product:<id>") is unique — inserting
 * it is atomic on MongoDB and FerretDB alike. A lock outlives its holder by at most
 * PS_LOCK_TTL_MS (a crashed process), after which the next writer breaks it. The lock
 * guards only derived and edited fields; stock correctness never depends on it (it rests
 * on the ledger's unique keys, inventory.h).
 *
 * Queries run on MongoDB through the indexes created by ps_store_init. FerretDB 1.x pushes
 * only `{_id: …}` filters down to SQLite and evaluates everything else in memory, which is
 * why hot paths here and in the ledger read by _id, and why list pages are cached.
 */
#ifndef PRODUCT_STORE_H
#define PRODUCT_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "listing.h"
#include "mc_mongo.h"
#include "model.h"

#define PS_LOCK_TTL_MS 10000
#define PS_SEARCH_MAX_CANDIDATES 1000 /* matches ranked by relevance (the newest ones) */
#define PS_SUGGEST_MAX_CANDIDATES 200

/* Creates the indexes of every collection of the service. Blocking; for start-up. */
int ps_store_init(mc_mongo_t *m, bson_error_t *err);

/* --- locks ------------------------------------------------------------------------------ */

/* Takes the lock `name`, waiting up to wait_ms. Returns 0 with token filled (33 bytes), 1
 * when still held by someone else after the wait, -1 on a database error. */
int ps_lock(mongoc_database_t *db, const char *name, char *token, unsigned wait_ms, bson_error_t *err);
void ps_unlock(mongoc_database_t *db, const char *name, const char *token);

/* --- products --------------------------------------------------------------------------- */

/* 1 and *out (API object) + *in when found, 0 when not, -1 on a database error. */
int ps_product_find(mongoc_database_t *db, const char *id, json_t **out, pm_internal_t *in, bson_error_t *err);
/* 1 and id (25 bytes) when a product has this slug, 0 when none, -1 on error. */
int ps_product_find_slug(mongoc_database_t *db, const char *slug, char *id, bson_error_t *err);
/* Inserts a complete API object. 0, or -1 (a taken slug: mc_mongo_is_duplicate(err)). */
int ps_product_insert(mongoc_database_t *db, const json_t *api, const pm_internal_t *in, bson_error_t *err);
/* Replaces the stored document with a complete API object (the caller holds the lock).
 * 1 replaced, 0 not found, -1 error (a taken slug: mc_mongo_is_duplicate(err)). */
int ps_product_replace(mongoc_database_t *db, const json_t *api, const pm_internal_t *in, bson_error_t *err);
/* 1 deleted, 0 not found, -1 error. */
int ps_product_delete(mongoc_database_t *db, const char *id, bson_error_t *err);

/* One page of a list or search: ids in order, each item's position (its cursor: the next
 * page after it starts there), whether more follow, and how many match in all. */
typedef struct ps_page {
    char (*ids)[25];
    pl_cursor_t *at; /* at[i] is the position of ids[i] */
    size_t n;
    bool has_next;
    int64_t total;
} ps_page_t;

/* An empty page for up to limit items. */
void ps_page_init(ps_page_t *p, int64_t limit);
/* Appends an item at position c (the page has room: callers stop at the limit). */
void ps_page_push(ps_page_t *p, const pl_cursor_t *c);
void ps_page_free(ps_page_t *p);
/* Runs a list or search query (q->kind PL_LIST or PL_SEARCH). 0, or -1 on error. */
int ps_product_query(mongoc_database_t *db, const pl_query_t *q, ps_page_t *page, bson_error_t *err);
/* Name suggestions for q (PL_SUGGEST): a new array of {id, name, slug}. NULL on error. */
json_t *ps_product_suggest(mongoc_database_t *db, const pl_query_t *q, bson_error_t *err);

#endif
