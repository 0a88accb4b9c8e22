/*
 * Calls from the order service to the product and coupon services (docs/services.md has
 * the contracts), on the worker's asynchronous HTTP client. Service-only endpoints get
 * X-Internal-Key. Every function here runs on a worker loop and never blocks.
 *
 * The compensations (releasing stock and a coupon redemption) are idempotent on the other
 * side, so they may be repeated by the request that failed, by the sweeper after a crash,
 * or both.
 */
#ifndef ORDER_UPSTREAM_H
#define ORDER_UPSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "mc_server.h"

typedef struct up_res {
    int status;      /* 0 when no answer came (err says why) */
    const char *err; /* transport failure, or NULL */
    json_t *json;    /* the body parsed (borrowed for the callback), or NULL */
} up_res_t;

typedef void (*up_cb)(void *data, const up_res_t *res);

/* One call: method, absolute url, body (stolen, may be NULL), internal (send the key).
 * Returns 0 and calls cb exactly once later (unless the worker shuts down first); -1 when
 * the call cannot start (cb not called). */
int up_call(mc_worker_t *w, const char *method, const char *url, json_t *body, bool internal, const char *request_id, up_cb cb,
            void *data);

/* At a worker's shutdown, on its thread: every call in flight fails now ("shutting
 * down") and later calls cannot start, so no caller waits for an answer that the closing
 * HTTP client would never deliver. */
void up_abort_all(void);

/* GET PRODUCT_URL/api/products/batch?ids=… (ids: array of up to 100 id strings). */
int up_products(mc_worker_t *w, const json_t *ids, const char *request_id, up_cb cb, void *data);

/* A product of a batch answer checked for what an order needs: id, name, price (0..10^12),
 * currency, sellerId, categoryId (or null), stock, isActive, images. NULL when malformed. */
const json_t *up_product_checked(const json_t *p);

/* Releases what a checkout or a cancelled order holds: the stock reservation of order_id
 * and, when coupon, its coupon redemption. cb(data, ok): ok when both are released (or
 * were never there). cb runs exactly once, possibly before this returns (when no call
 * could start, with ok false). */
int up_release_all(mc_worker_t *w, const char *order_id, bool coupon, const char *request_id,
                   void (*cb)(void *data, bool ok), void *data);

#endif
