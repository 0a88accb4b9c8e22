/*
 * The catalog index: every product's filter, sort and search fields in this process's
 * memory, so that list pages, searches and suggestions that miss the Redis cache are
 * answered without a database query. FerretDB evaluates every filter by decoding every
 * document of the collection (about 0.3 ms per product), which makes an uncached search
 * over a few thousand products take seconds; from memory it takes microseconds.
 *
 * Freshness. A snapshot belongs to one tag of the list namespace (cache.h:
 * "<epoch>.<products:ver>"), the same version every write that can change a list bumps
 * before it answers. A query runs against the snapshot of the tag it read, loading it
 * when this process has none for that tag: so a list never misses a write its client
 * already saw answered. A snapshot also expires after SN_MAX_AGE_MS, because stock changes
 * by reservations do not bump the namespace (the in-stock filter then lags by at most
 * that long, as a cached page does). One load runs at a time per process; concurrent
 * queries of the same tag wait for it (single flight), on the thread pool.
 *
 * The same queries are answered by MongoDB (store.h) when there is no tag (Redis down),
 * when PRODUCT_QUERY_INDEX=database, or for a catalog larger than the configured maximum;
 * both paths give the same answers (same filters, orders, cursors and relevance), which
 * the integration tests check by running in both modes.
 *
 * Functions here block (they may load from the database): thread pool only.
 */
#ifndef PRODUCT_SNAPSHOT_H
#define PRODUCT_SNAPSHOT_H

#include <stdbool.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "listing.h"
#include "store.h"

#define SN_MAX_AGE_MS 120000

/* max_products: above it the index is not used (0 disables it). */
void sn_global_init(size_t max_products);
void sn_global_dispose(void);
/* Snapshots loaded and pages answered since start (for /internal/stats). */
void sn_counts(unsigned long *loads, unsigned long *queries);

/* Answers a list or search page from the snapshot of tag. 1 answered (page filled), 0 the
 * index cannot answer (no tag, disabled, too many products: ask the database), -1 a
 * database error while loading (err). */
int sn_query(mongoc_database_t *db, const char *tag, const pl_query_t *q, ps_page_t *page, bson_error_t *err);
/* The same for suggestions: *out a new array of {id, name, slug}. */
int sn_suggest(mongoc_database_t *db, const char *tag, const pl_query_t *q, json_t **out, bson_error_t *err);

/* --- for tests: the evaluation without the loading ------------------------------------ */

typedef struct sn_row {
    char id[25], category[25], seller[25];
    bool active, featured;
    int64_t price, stock, created_ms;
    double rating;
    int64_t reviews;
    char *name, *slug, *name_key;
    char **tags;
    size_t ntags;
    ps_list_t kw, kw_name, kw_tags;
} sn_row_t;

/* Fills a row from a stored product document (model.h). false when it lacks an id. */
bool sn_row_from_doc(const bson_t *doc, sn_row_t *row);
void sn_row_free(sn_row_t *row);
/* Evaluates a list/search query over rows (any order). */
void sn_eval(const sn_row_t *rows, size_t n, const pl_query_t *q, ps_page_t *page);
/* Evaluates a suggestion query over rows. */
json_t *sn_eval_suggest(const sn_row_t *rows, size_t n, const pl_query_t *q);

#endif
