/*
 * Product operations as the routes need them, each one blocking job on the thread pool
 * built from the store (store.h), the ledger (inventory.h) and the reviews (reviews.h).
 * Every write of a product document holds that product's lock (see store.h); the
 * operations report refusals (not found, not yours, slug taken, …) in a prod_result_t and
 * database failures through mc_mongo_fail.
 */
#ifndef PRODUCT_PRODUCT_H
#define PRODUCT_PRODUCT_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "inventory.h"
#include "mc_error.h"
#include "mc_jwt.h"
#include "mc_mongo.h"

#define PROD_LOCK_WAIT_MS 5000

typedef struct prod_result {
    mc_err_t err;   /* MC_OK, or the refusal */
    char msg[256];
    json_t *details;
    json_t *value;  /* the product (or other answer) on success */
    bool lists_changed;
} prod_result_t;

void prod_result_free(prod_result_t *r);

/* The caller, for ownership checks and the ledger. */
typedef struct prod_caller {
    char sub[25];
    mc_role_t role;
} prod_caller_t;

/* The cache loader of product:{id} (arg: the id): its payload (model.h) with the stock of
 * the newest ledger entry, or NULL when it does not exist. */
void prod_load(mongoc_database_t *db, const char *tag, void *arg, char **out, size_t *outlen, mc_mongo_result_t *res);

/* Creates a product from validated API fields (name, slug, description, price, currency,
 * images, categoryId, sellerId, tags, isActive, isFeatured) and its initial stock (the
 * ledger's first entry). A generated slug that is taken gets -2, -3, … */
void prod_create(mongoc_database_t *db, json_t *fields, bool slug_generated, int64_t stock, const prod_caller_t *who,
                 prod_result_t *out, mc_mongo_result_t *res);
/* Changes fields of a product its caller may edit (its seller or an admin). */
void prod_update(mongoc_database_t *db, const char *id, json_t *changes, const prod_caller_t *who, prod_result_t *out,
                 mc_mongo_result_t *res);
/* Deletes a product (and its reviews) its caller may edit. Its ledger stays, for audit. */
void prod_delete(mongoc_database_t *db, const char *id, const prod_caller_t *who, prod_result_t *out,
                 mc_mongo_result_t *res);
/* A manual stock change by the product's seller or an admin: by delta, or to an absolute
 * value. out->value = {productId, stock, movement}. */
void prod_adjust_stock(mongoc_database_t *db, const char *id, bool absolute, int64_t amount, const char *reason,
                       const prod_caller_t *who, prod_result_t *out, mc_mongo_result_t *res);
/* The ledger of a product, newest first (its seller or an admin). */
void prod_movements(mongoc_database_t *db, const char *id, int64_t before, int64_t limit, const prod_caller_t *who,
                    prod_result_t *out, mc_mongo_result_t *res);

/* Rewrites the stock cache of a product document from its ledger. 0 done (or nothing to
 * do), 1 the lock was busy (try later), -1 database error. */
int prod_refresh_stock(mongoc_database_t *db, const char *id, unsigned lock_wait_ms, bson_error_t *err);
/* Recomputes the rating of a product from its reviews, under its lock. 0, 1 busy, -1. */
int prod_refresh_rating(mongoc_database_t *db, const char *id, unsigned lock_wait_ms, bson_error_t *err);

#endif
