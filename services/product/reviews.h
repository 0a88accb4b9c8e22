/*
 * Reviews and helpful votes in MongoDB (implemented in store_reviews.c). Blocking: run in
 * mc_mongo work callbacks.
 *
 *   reviews      {_id: ObjectId, productId: ObjectId, userId: ObjectId, rating: 1..5, title,
 *                 body, helpfulCount, createdAt, updatedAt}
 *                 unique (productId, userId): a customer reviews a product once, however
 *                 many requests race (a unique index is atomic on FerretDB too)
 *   review_votes {_id: "<reviewId>:<userId>", reviewId, userId, at}: once per user by _id
 *
 * Derived values are recomputed from these sources rather than incremented (FerretDB's
 * `$inc` is read-then-write and loses concurrent increments): a product's rating from its
 * reviews (rv_rating_stats), a review's helpfulCount from its votes (rv_count_votes). The
 * writer of a derived value holds the lock of the document it writes (store.h), so two
 * recomputations never interleave: the last one to run read every review or vote written
 * before it started.
 */
#ifndef PRODUCT_REVIEWS_H
#define PRODUCT_REVIEWS_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <mongoc/mongoc.h>

#define RV_TITLE_MAX_CHARS 200
#define RV_BODY_MAX_CHARS 5000
#define RV_CURSOR_MAX 64

/* Review list orders and their cursors: "n.<createdAt ms>.<id>" (newest first) and
 * "h.<helpfulCount>.<id>" (most helpful first). */
typedef struct rv_cursor {
    char sort; /* 'n' or 'h' */
    int64_t num;
    char id[25];
} rv_cursor_t;

bool rv_cursor_parse(const char *s, rv_cursor_t *c);
void rv_cursor_format(const rv_cursor_t *c, char *out); /* RV_CURSOR_MAX bytes */

/* Inserts a review; *out is its API object. 0, or -1 (already reviewed:
 * mc_mongo_is_duplicate(err)). */
int rv_insert(mongoc_database_t *db, const char *product_id, const char *user_id, int64_t rating, const char *title,
              const char *body, json_t **out, bson_error_t *err);
/* 1 with *out when found, 0 when not, -1 on error. */
int rv_find(mongoc_database_t *db, const char *review_id, json_t **out, bson_error_t *err);
/* Deletes a review and its votes. 1 deleted, 0 not found, -1 error. */
int rv_delete(mongoc_database_t *db, const char *review_id, bson_error_t *err);
/* Deletes every review of a product (the product is being deleted). 0, or -1. */
int rv_delete_for_product(mongoc_database_t *db, const char *product_id, bson_error_t *err);
/* A page of a product's reviews in order sort ('n' or 'h') after cursor (may be NULL):
 * *items and *cursors (cursors[i] positioned at items[i]), *has_next, and *total, the
 * product's number of reviews. 0, or -1 on error. */
int rv_list(mongoc_database_t *db, const char *product_id, char sort, const rv_cursor_t *after, int64_t limit,
            json_t **items, json_t **cursors, bool *has_next, int64_t *total, bson_error_t *err);
/* The sum of stars and the number of reviews of a product, from the reviews themselves. */
int rv_rating_stats(mongoc_database_t *db, const char *product_id, int64_t *sum, int64_t *count, bson_error_t *err);
/* Records a helpful vote. 0, or -1 (voted before: mc_mongo_is_duplicate(err)). */
int rv_vote(mongoc_database_t *db, const char *review_id, const char *user_id, bson_error_t *err);
int rv_count_votes(mongoc_database_t *db, const char *review_id, int64_t *n, bson_error_t *err);
/* Sets helpfulCount (the caller holds the review's lock). 0, or -1. */
int rv_set_helpful(mongoc_database_t *db, const char *review_id, int64_t n, bson_error_t *err);

#endif
