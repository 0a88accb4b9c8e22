/*
 * A coupon limited to categories applies to products in those categories *and below
 * them* (a coupon for Electronics applies to a laptop in Electronics > Computers >
 * Laptops). The category service knows the tree (GET /api/categories/{id}/descendants);
 * its answers are kept per worker for CATEGORY_CACHE_MS, so a tree change reaches the
 * coupons within that time. A category that no longer exists stands for itself.
 */
#ifndef COUPON_CATEGORIES_H
#define COUPON_CATEGORIES_H

#include <jansson.h>
#include "mc_error.h"
#include "mc_req.h"

#define CATEGORY_CACHE_MS 60000

/* CATEGORY_URL, read once at start (main.c). */
extern const char *cpn_category_url;

/* Calls cb(req, expanded, MC_OK) with the ids and every descendant of them (a new array,
 * borrowed for the call), or cb(req, NULL, MC_ERR_UNAVAILABLE) when the category service
 * cannot tell. cb may run before this returns. */
void cpn_expand_categories(mc_req_t *req, const json_t *ids, void (*cb)(mc_req_t *req, json_t *expanded, mc_err_t err));

/* Per-worker set-up and tear-down of the cache. */
int cpn_categories_worker_init(mc_worker_t *w);
void cpn_categories_worker_dispose(mc_worker_t *w);

#endif
