/*
 * The route table and what the handlers share.
 */
#include <stdio.h>
#include <string.h>
#include <stdlib.h>
#include "mc_util.h"
#include "model.h"
#include "routes.h"
#include "service.h"
#include "snapshot.h"

const char *rt_path_id(mc_req_t *req, const char *name)
{
    char *id = (char *)mc_req_param(req, name); /* the request's own copy: lowered in place */
    if (id == NULL || !mc_is_object_id(id, strlen(id))) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST,
                         json_pack("[{s:s,s:s}]", "field", name, "message", "must be an id (24 hexadecimal digits)"),
                         "the %s in the path must be 24 hexadecimal digits", name);
        return NULL;
    }
    for (char *p = id; *p; ++p)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return id;
}

bool rt_caller(mc_req_t *req, prod_caller_t *who)
{
    const mc_claims_t *c = mc_req_claims(req, NULL);
    memset(who, 0, sizeof(*who));
    if (c == NULL)
        return false;
    snprintf(who->sub, sizeof(who->sub), "%s", c->sub);
    who->role = c->role;
    return true;
}

bool rt_may_see_inactive(mc_req_t *req, const char *seller)
{
    prod_caller_t who;
    if (!rt_caller(req, &who))
        return false;
    return who.role == MC_ROLE_ADMIN || (who.role == MC_ROLE_SELLER && strcmp(who.sub, seller) == 0);
}

void rt_db_error(mc_req_t *req, const mc_mongo_result_t *res)
{
    mc_err_t err = res->err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL;
    mc_respond_error(req, err, NULL, "%s",
                     err == MC_ERR_UNAVAILABLE ? "the product database is unavailable; retry later" : "the operation failed");
}

void rt_respond_text(mc_req_t *req, int status, const char *json, size_t len)
{
    mc_respond_raw(req, status, "application/json", json, len);
}

void rt_answer_result(mc_req_t *req, const prod_result_t *r, int status)
{
    if (r->err != MC_OK) {
        mc_respond_error(req, r->err, json_incref(r->details), "%s", r->msg);
        return;
    }
    if (status == 204) {
        mc_respond_empty(req, 204);
        return;
    }
    char *text = pm_dump(r->value);
    if (text == NULL) {
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not write the answer");
        return;
    }
    rt_respond_text(req, status, text, strlen(text));
    free(text);
}

void rt_stats(mc_req_t *req)
{
    if (!mc_req_require_internal(req))
        return;
    unsigned long index_loads, index_queries;
    sn_counts(&index_loads, &index_queries);
    mc_respond_json(req, 200,
                    json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "productLoads", (json_int_t)atomic_load(&ps_stats.product_loads),
                              "pageLoads", (json_int_t)atomic_load(&ps_stats.page_loads), "cacheHits",
                              (json_int_t)atomic_load(&ps_stats.cache_hits), "cacheMisses",
                              (json_int_t)atomic_load(&ps_stats.cache_misses), "joinedLoads",
                              (json_int_t)atomic_load(&ps_stats.joined_loads), "indexLoads",
                              (json_int_t)index_loads, "indexQueries", (json_int_t)index_queries, "reservations",
                              (json_int_t)atomic_load(&ps_stats.reservations), "sweeps",
                              (json_int_t)atomic_load(&ps_stats.sweeps)));
}

const mc_route_t product_routes[] = {
    {"GET", "/api/products", rt_products_list},
    {"POST", "/api/products", rt_product_create},
    {"GET", "/api/products/search", rt_products_search},
    {"GET", "/api/products/suggest", rt_products_suggest},
    {"GET", "/api/products/batch", rt_products_batch},
    {"GET", "/api/products/slug/:slug", rt_product_get_slug},
    {"GET", "/api/products/seller/:sellerId", rt_products_by_seller},
    {"GET", "/api/products/:id", rt_product_get},
    {"PATCH", "/api/products/:id", rt_product_update},
    {"DELETE", "/api/products/:id", rt_product_delete},
    {"POST", "/api/products/:id/stock", rt_product_stock},
    {"GET", "/api/products/:id/stock/movements", rt_product_movements},
    {"GET", "/api/products/:id/reviews", rt_reviews_list},
    {"POST", "/api/products/:id/reviews", rt_review_create},
    {"DELETE", "/api/products/:id/reviews/:reviewId", rt_review_delete},
    {"POST", "/api/products/:id/reviews/:reviewId/helpful", rt_review_helpful},
    {"POST", "/api/inventory/reservations", rt_reservation_create},
    {"GET", "/api/inventory/reservations/:orderId", rt_reservation_get},
    {"POST", "/api/inventory/reservations/:orderId/commit", rt_reservation_commit},
    {"POST", "/api/inventory/reservations/:orderId/release", rt_reservation_release},
    {"GET", "/internal/stats", rt_stats},
};
const size_t product_nroutes = sizeof(product_routes) / sizeof(product_routes[0]);
