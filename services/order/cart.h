/*
 * Carts in Redis: the hash `cart:<userId>` maps a product id to "<quantity>:<added at ms>".
 * Every access (reading included) pushes the expiry CART_TTL_SECONDS away, so a cart
 * disappears after that long idle. Each change is one Lua script, so the bounds (lines
 * per cart, quantity per line) hold under concurrent requests of the same user.
 *
 * A cart lives only in Redis: with Redis down the cart endpoints answer 503 and checkout
 * works only from explicit lines. Losing Redis loses carts, never orders.
 */
#ifndef ORDER_CART_H
#define ORDER_CART_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include "mc_req.h"

void cart_global_init(void);
void cart_global_dispose(void);

/* Outcomes of a change. */
enum {
    CART_OK = 0,
    CART_ERR_REDIS = -10,  /* Redis down or failing */
    CART_ERR_TOO_MANY = -1, /* the line would exceed the quantity bound */
    CART_ERR_FULL = -2,     /* the cart has the maximum number of lines */
    CART_ERR_ABSENT = -3,   /* no such line */
};

/* lines: [{productId, quantity, addedAt}] oldest first (borrowed for the call); NULL with
 * rc CART_ERR_REDIS. */
typedef void (*cart_read_cb)(mc_req_t *req, int rc, json_t *lines);
/* rc: CART_OK (quantity: the line's quantity now) or an error above (quantity: the line's
 * current quantity for CART_ERR_TOO_MANY). */
typedef void (*cart_write_cb)(mc_req_t *req, int rc, int64_t quantity);

void cart_read(mc_req_t *req, const char *user, cart_read_cb cb);
/* Adds quantity to a line (creating it). */
void cart_add(mc_req_t *req, const char *user, const char *product, int64_t quantity, cart_write_cb cb);
/* Sets an existing line's quantity. */
void cart_set(mc_req_t *req, const char *user, const char *product, int64_t quantity, cart_write_cb cb);
/* Removes a line (CART_ERR_ABSENT when there was none). */
void cart_remove(mc_req_t *req, const char *user, const char *product, cart_write_cb cb);
/* Empties the cart. */
void cart_clear(mc_req_t *req, const char *user, cart_write_cb cb);
/* After a checkout from the cart: removes the ordered lines (fire and forget). */
void cart_remove_lines(mc_worker_t *w, const char *user, const json_t *product_ids);

#endif
