/*
 * Calls to the category service (CATEGORY_URL) through the worker's asynchronous HTTP
 * client: a product's category must exist (checked on every write that sets it), and a
 * category filter covers the category and all its descendants. Never blocks the loop;
 * the request is retained until the callback ran. A category service that is down or
 * answers badly makes the call fail with MC_ERR_UNAVAILABLE (503), an unknown category
 * with MC_ERR_NOT_FOUND.
 */
#ifndef PRODUCT_CATEGORIES_H
#define PRODUCT_CATEGORIES_H

#include <stdbool.h>
#include <stddef.h>
#include "mc_req.h"

/* err MC_OK: the category exists (active says whether it is active). */
typedef void (*cc_check_cb)(mc_req_t *req, mc_err_t err, const char *msg, bool active, void *arg);
void cc_check(mc_req_t *req, const char *category_id, cc_check_cb cb, void *arg);

/* err MC_OK: ids[0] is the category itself, then its descendants (n in all). ids is
 * valid during the call. */
typedef void (*cc_descendants_cb)(mc_req_t *req, mc_err_t err, const char *msg, char (*ids)[25], size_t n, void *arg);
void cc_descendants(mc_req_t *req, const char *category_id, cc_descendants_cb cb, void *arg);

#endif
