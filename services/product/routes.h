/*
 * The product service's HTTP handlers (routes_products.c, routes_reviews.c,
 * routes_inventory.c) and what they share (routes.c). Handlers validate their input field
 * by field (mc_valid), read through the cache (cache.h), write through one database job
 * (product.h, inventory.h, reviews.h), invalidate the cache and answer.
 *
 * Refusals, with their statuses:
 *   400 malformed input (a field of the wrong type, out of range, unknown; a bad cursor)
 *   401 no or invalid token (or internal key); 403 a role or an owner that may not
 *   404 the product, review, reservation or category (path or body) does not exist, or an
 *       inactive product asked for by someone who may not see it
 *   409 a slug in use, a second review, a second helpful vote, not enough stock, a
 *       reservation in another state, a product locked by another change for too long
 *   422 an inactive product or category where an active one is needed, an order id reused
 *       with other items
 *   503 the database or the category service is unreachable
 */
#ifndef PRODUCT_ROUTES_H
#define PRODUCT_ROUTES_H

#include <stdbool.h>
#include <stddef.h>
#include "mc_mongo.h"
#include "mc_req.h"
#include "mc_server.h"
#include "product.h"

extern const mc_route_t product_routes[];
extern const size_t product_nroutes;

/* The route parameter `name`, checked to be an ObjectId and lower-cased in place;
 * answers 400 and returns NULL when malformed. */
const char *rt_path_id(mc_req_t *req, const char *name);
/* The verified caller, when there is one (no answer either way). */
bool rt_caller(mc_req_t *req, prod_caller_t *who);
/* Answers a failed database job (503 when unreachable, 500 otherwise). */
void rt_db_error(mc_req_t *req, const mc_mongo_result_t *res);
/* Answers a refusal or success of a prod_result_t (value as JSON, status on success). */
void rt_answer_result(mc_req_t *req, const prod_result_t *r, int status);
/* Answers a JSON text as is. */
void rt_respond_text(mc_req_t *req, int status, const char *json, size_t len);
/* May this caller see an inactive product of this seller? */
bool rt_may_see_inactive(mc_req_t *req, const char *seller);

/* Handlers. */
void rt_products_list(mc_req_t *req);
void rt_products_search(mc_req_t *req);
void rt_products_suggest(mc_req_t *req);
void rt_products_batch(mc_req_t *req);
void rt_products_by_seller(mc_req_t *req);
void rt_product_get(mc_req_t *req);
void rt_product_get_slug(mc_req_t *req);
void rt_product_create(mc_req_t *req);
void rt_product_update(mc_req_t *req);
void rt_product_delete(mc_req_t *req);
void rt_product_stock(mc_req_t *req);
void rt_product_movements(mc_req_t *req);
void rt_reviews_list(mc_req_t *req);
void rt_review_create(mc_req_t *req);
void rt_review_delete(mc_req_t *req);
void rt_review_helpful(mc_req_t *req);
void rt_reservation_create(mc_req_t *req);
void rt_reservation_get(mc_req_t *req);
void rt_reservation_commit(mc_req_t *req);
void rt_reservation_release(mc_req_t *req);
void rt_stats(mc_req_t *req);

#endif
