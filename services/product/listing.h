/*
 * A catalog query — filters, text, sort order, page size and cursor — as one value that
 * the routes fill from the query string, the store turns into a MongoDB query, and the
 * cache turns into a key. Pure: no I/O, unit-tested.
 *
 * Cursors are keyset positions: "<sort letter>.<sort value>.<id of the last item>". The
 * next page starts strictly after that (value, id) pair in the sort order, so pages stay
 * consistent when products are added or removed in between. The letters: n newest,
 * p price ascending, P price descending, r rating, a name (value: hex of the folded name
 * key), s relevance (value: the score). A cursor continues the order it was made for: when
 * a request gives one, its letter decides the order (the `sort` parameter is then
 * ignored), so every string of the documented pattern is a valid position.
 */
#ifndef PRODUCT_LISTING_H
#define PRODUCT_LISTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "search.h"

#define PL_MAX_TAGS 10
#define PL_TAG_MAX_CHARS 40
#define PL_MAX_CATEGORIES 5000 /* a category and its descendants (the category service's cap) */
#define PL_CURSOR_MAX 200      /* longest cursor text, NUL included */
#define PL_KEY_HEX 32          /* hex digits of a query's cache key hash */

typedef enum pl_sort {
    PL_SORT_NEWEST,
    PL_SORT_PRICE_ASC,
    PL_SORT_PRICE_DESC,
    PL_SORT_RATING,
    PL_SORT_NAME,
    PL_SORT_RELEVANCE,
    PL_SORT__COUNT
} pl_sort_t;

/* "newest", "price_asc", "price_desc", "rating", "name", "relevance". */
const char *pl_sort_name(pl_sort_t s);
bool pl_sort_parse(const char *name, pl_sort_t *out);

typedef struct pl_cursor {
    pl_sort_t sort;
    int64_t num;                      /* newest: ms; price; rating ×100; relevance score */
    char str[PS_NAME_KEY_BYTES + 1];  /* name sort: the folded name key */
    char id[25];                      /* the last item's id, lower-case hex */
} pl_cursor_t;

/* Parses a cursor; false when malformed (see the pattern in the OpenAPI document). A name
 * key that decodes to bytes that are not UTF-8 text is cut at the first bad byte: still
 * a position, never a broken string sent to the database. */
bool pl_cursor_parse(const char *s, pl_cursor_t *c);
/* Formats a cursor into out (PL_CURSOR_MAX bytes). */
void pl_cursor_format(const pl_cursor_t *c, char *out);

typedef enum pl_kind { PL_LIST, PL_SEARCH, PL_SUGGEST } pl_kind_t;

typedef struct pl_query {
    pl_kind_t kind;
    /* filters; empty strings mean "any" */
    char category_id[25];
    char (*categories)[25]; /* the category and its descendants (owned by the caller) */
    size_t ncategories;
    char seller_id[25];
    bool has_min_price, has_max_price;
    int64_t min_price, max_price;
    int in_stock;  /* -1 any, 0 out of stock only, 1 in stock only */
    int featured;  /* -1 any, 0/1 */
    bool active;   /* true: active products (the default); false: inactive ones */
    char tags[PL_MAX_TAGS][PL_TAG_MAX_CHARS + 1];
    size_t ntags;
    /* text (search and suggestions) */
    bool has_text;
    ps_query_t text;
    /* order and page */
    pl_sort_t sort;
    int64_t limit;
    bool has_cursor;
    pl_cursor_t cursor;
} pl_query_t;

/* Defaults: a list of active products, newest first, 20 per page. */
void pl_query_init(pl_query_t *q);
void pl_query_free(pl_query_t *q);

/* The cache key of a query: "products:search:<hash>" for searches and suggestions,
 * "products:category:<category id>:<hash>" for lists filtered by a category,
 * "products:page:<hash>" for other lists. The hash covers every field that changes the
 * answer — the category's current descendants included, so moving a category in the
 * category service yields new keys. out needs 128 bytes. */
void pl_query_cache_key(const pl_query_t *q, char *out, size_t outsz);
/* The cache TTL of a query in seconds: search 60, category 300, list 120. */
int pl_query_ttl(const pl_query_t *q);

#endif
