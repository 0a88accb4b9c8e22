/*
 * Stock reservation routes, for other services only (X-Internal-Key): the order service
 * reserves an order's items at checkout, commits them when the order is confirmed and
 * releases them when it is cancelled. The guarantees are inventory.h's; this file only
 * validates, runs the job, and makes the stock change visible (cache versions of the
 * products whose stock moved, and their documents' stock cache) before answering.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "inventory.h"
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "routes.h"
#include "service.h"

typedef enum { OP_RESERVE, OP_COMMIT, OP_RELEASE, OP_GET } res_op_t;

typedef struct res_req {
    res_op_t op;
    char order_id[INV_ORDER_ID_MAX + 1];
    inv_item_t items[INV_MAX_ITEMS];
    size_t n;
    int64_t ttl_s;
    inv_actor_t actor;
    inv_outcome_t out;
} res_req_t;

static void res_free(void *p)
{
    inv_outcome_free(&((res_req_t *)p)->out);
}

static bool valid_order_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > INV_ORDER_ID_MAX)
        return false;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return false;
    }
    return true;
}

/* Who moves the stock: the calling service, on behalf of the user whose token it
 * forwarded (when it did). */
static res_req_t *res_new(mc_req_t *req, res_op_t op)
{
    res_req_t *r = mc_req_alloc(req, sizeof(*r));
    r->op = op;
    r->actor.type = "service";
    prod_caller_t who;
    if (rt_caller(req, &who)) {
        snprintf(r->actor.id, sizeof(r->actor.id), "%s", who.sub);
        snprintf(r->actor.role, sizeof(r->actor.role), "%s", mc_role_name(who.role));
    }
    mc_req_set_data(req, r);
    mc_req_on_free(req, res_free, r);
    return r;
}

static void answer(mc_req_t *req)
{
    res_req_t *r = mc_req_data(req);
    inv_outcome_t *o = &r->out;
    if (o->err != MC_OK) {
        mc_respond_error(req, o->err, json_incref(o->details), "%s", o->msg);
        return;
    }
    mc_respond_json(req, o->status, json_incref(o->body));
}

static void work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    res_req_t *r = arg;
    switch (r->op) {
    case OP_RESERVE:
        inv_reserve(db, r->order_id, r->items, r->n, r->ttl_s, &r->actor, &r->out);
        break;
    case OP_COMMIT:
        inv_commit(db, r->order_id, &r->actor, &r->out);
        break;
    case OP_RELEASE:
        inv_release(db, r->order_id, &r->actor, &r->out);
        break;
    case OP_GET:
        inv_get(db, r->order_id, &r->out);
        break;
    }
    if (r->out.db_failed) {
        res->err = r->out.err;
        res->bson = r->out.bson;
    }
}

static void done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    res_req_t *r = arg;
    if (res->err != MC_OK && !r->out.db_failed) {
        rt_db_error(req, res); /* the job did not run (the database is known to be down) */
        return;
    }
    if (r->out.db_failed && r->out.err != MC_ERR_UNAVAILABLE)
        mc_log(MC_LOG_ERROR, mc_req_id(req), "reservation %s: %s", r->order_id, r->out.bson.message);
    if (r->out.ntouched == 0) {
        answer(req);
        return;
    }
    /* Stock moved (even if a later step failed): show it before answering. */
    for (size_t i = 0; i < r->out.ntouched; ++i)
        ps_refresh_schedule(mc_req_worker(req), r->out.touched[i]);
    pc_invalidate(req, r->out.touched, r->out.ntouched, false, answer);
}

static void submit(mc_req_t *req, res_req_t *r)
{
    if (r->op == OP_RESERVE)
        atomic_fetch_add(&ps_stats.reservations, 1);
    if (mc_mongo_submit_req(req, work, done, r) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the stock operation");
}

static int cmp_item(const void *a, const void *b)
{
    return strcmp(((const inv_item_t *)a)->product_id, ((const inv_item_t *)b)->product_id);
}

void rt_reservation_create(mc_req_t *req)
{
    if (!mc_req_require_internal(req))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    res_req_t *r = res_new(req, OP_RESERVE);
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"orderId", "items", "ttlSeconds", NULL};
    mc_valid_only(&v, known);
    const char *order = mc_valid_str(&v, "orderId", 1, INV_ORDER_ID_MAX, MC_V_REQUIRED);
    if (order != NULL && !valid_order_id(order))
        mc_valid_error(&v, "orderId", "must be 1 to %d characters of A-Z, a-z, 0-9, _ and -", INV_ORDER_ID_MAX);
    else if (order != NULL)
        snprintf(r->order_id, sizeof(r->order_id), "%s", order);
    r->ttl_s = INV_DEFAULT_TTL_S;
    mc_valid_int(&v, "ttlSeconds", 1, INV_TTL_MAX_S, 0, &r->ttl_s);
    json_t *items = json_object_get(body, "items");
    if (items == NULL) {
        mc_valid_error(&v, "items", "is required");
    } else if (!json_is_array(items) || json_array_size(items) == 0 || json_array_size(items) > INV_MAX_ITEMS) {
        mc_valid_error(&v, "items", "must be an array of 1 to %d items", INV_MAX_ITEMS);
    } else {
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            char field[32];
            snprintf(field, sizeof(field), "items[%zu]", i);
            if (!json_is_object(it)) {
                mc_valid_error(&v, field, "must be an object {productId, quantity}");
                continue;
            }
            mc_valid_t iv;
            mc_valid_init(&iv, req, it);
            static const char *const item_known[] = {"productId", "quantity", NULL};
            mc_valid_only(&iv, item_known);
            const char *pid = mc_valid_oid(&iv, "productId", MC_V_REQUIRED);
            int64_t qty = 0;
            bool has_qty = mc_valid_int(&iv, "quantity", 1, INV_QTY_MAX, MC_V_REQUIRED, &qty);
            if (!mc_valid_ok(&iv)) {
                json_t *first = json_array_get(iv.errors, 0);
                mc_valid_error(&v, field, "%s %s", json_string_value(json_object_get(first, "field")),
                               json_string_value(json_object_get(first, "message")));
                continue;
            }
            if (pid == NULL || !has_qty)
                continue;
            /* the same product twice counts once, with both quantities */
            size_t k = 0;
            while (k < r->n && strcmp(r->items[k].product_id, pid) != 0)
                ++k;
            if (k == r->n) {
                memcpy(r->items[k].product_id, pid, 25);
                r->items[k].quantity = 0;
                ++r->n;
            }
            r->items[k].quantity += qty;
        }
    }
    if (mc_valid_fail(&v))
        return;
    /* a fixed order: every call of every process reserves lines in the same sequence */
    qsort(r->items, r->n, sizeof(r->items[0]), cmp_item);
    submit(req, r);
}

static res_req_t *by_order(mc_req_t *req, res_op_t op)
{
    if (!mc_req_require_internal(req))
        return NULL;
    const char *order = mc_req_param(req, "orderId");
    if (order == NULL || !valid_order_id(order)) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST,
                         json_pack("[{s:s,s:s}]", "field", "orderId", "message", "must be 1 to 64 characters of A-Z, a-z, 0-9, _ and -"),
                         "the order id in the path is malformed");
        return NULL;
    }
    res_req_t *r = res_new(req, op);
    snprintf(r->order_id, sizeof(r->order_id), "%s", order);
    return r;
}

void rt_reservation_get(mc_req_t *req)
{
    res_req_t *r = by_order(req, OP_GET);
    if (r != NULL)
        submit(req, r);
}

void rt_reservation_commit(mc_req_t *req)
{
    res_req_t *r = by_order(req, OP_COMMIT);
    if (r != NULL)
        submit(req, r);
}

void rt_reservation_release(mc_req_t *req)
{
    res_req_t *r = by_order(req, OP_RELEASE);
    if (r != NULL)
        submit(req, r);
}
