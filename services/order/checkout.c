/*
 * Checkout: POST /api/orders turns a cart (or the given lines), a shipping address and an
 * optional coupon code into an order. A saga without transactions, step by step:
 *
 *   1. validate the body; with an Idempotency-Key, look the key up (a finished request
 *      with the same body is answered again as it was, another body is a 422, one still
 *      running a 409)
 *   2. the lines: from the body, or from the cart (Redis)
 *   3. prices and sellers from the product service — never from the client
 *   4. record the checkout (MongoDB: checkouts, and the key) — before any side effect
 *   5. reserve the stock (product service, all lines or none)
 *   6. redeem the coupon (coupon service), which computes the discount per line
 *   7. commit: the order's version-1 outbox entry, then the order document (store.h)
 *   8. commit the stock reservation (the stock is sold)
 *   9. publish order.created, forget the checkout, store the answer under the key
 *  10. answer 201, and remove the ordered lines from the cart
 *
 * Any failure before 7 undoes what was done (release the stock, release the coupon) and
 * answers precisely: 404 an unknown product or coupon code, 409 not enough stock (with
 * what is available), a product no longer sold, an empty cart or a coupon that does not
 * apply (with the reason), 502/503 a service that answered badly or not at all. When the
 * undo itself fails, or this process dies anywhere in between, the checkout record stays;
 * once its lease (CHECKOUT_LEASE_SECONDS) has expired, the sweeper (events.c) settles it:
 * it either finds the version-1 entry (the order exists: it commits the stock and stores
 * the answer) or writes an aborted version 1 first — which makes a commit still on its
 * way fail — and releases the stock and the coupon. The product side also lets an
 * uncommitted reservation expire.
 *
 * The saga runs to its end even if the client goes away (the answer is then dropped).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "cart.h"
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "money.h"
#include "order.h"
#include "settings.h"
#include "store.h"
#include "upstream.h"

#define IDEM_KEY_MAX 255
#define NOTE_MAX 500

typedef struct co {
    mc_req_t *req;
    mc_worker_t *w;
    ord_actor_t actor;
    char order_id[25];
    /* input */
    json_t *lines;    /* [{productId, quantity}], distinct products */
    bool from_cart;
    json_t *address;
    char *note;
    char coupon[40]; /* normalised code or "" */
    char idem_id[320];
    bool has_idem;
    char hash[65];
    /* progress */
    json_t *products; /* id -> product */
    json_t *order;
    char *message;
    bool recorded, reserve_sent, reserved, redeem_sent, redeemed, stock_committed, published, written;
    json_t *discounts; /* productId -> discount */
    int64_t discount;
    /* outcome */
    int status;
    mc_err_t err;
    char msg[300];
    json_t *details;
    json_t *answer;     /* the body of a success */
    char *answer_text;  /* what the key stores */
    /* job results */
    mc_mongo_result_t res;
    bson_error_t bson;
    ord_idem_t idem;
    int replay_status;
    char *replay_body;
    ord_commit_t commit;
} co_t;

/* Frees the checkout state (the request is released separately, by co_end). */
static void co_free(co_t *c)
{
    json_decref(c->lines);
    json_decref(c->address);
    free(c->note);
    json_decref(c->products);
    json_decref(c->order);
    free(c->message);
    json_decref(c->discounts);
    json_decref(c->details);
    json_decref(c->answer);
    free(c->answer_text);
    free(c->replay_body);
    free(c);
}

/* Every path ends here exactly once. */
static void co_end(co_t *c)
{
    mc_req_t *req = c->req;
    if (c->err != MC_OK) {
        mc_respond_error(req, c->err, json_incref(c->details), "%s", c->msg);
    } else {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/orders/%s", c->order_id);
        mc_req_add_header(req, "location", loc);
        mc_respond_json(req, 201, json_incref(c->answer));
        if (c->from_cart) {
            json_t *ids = json_array();
            size_t i;
            json_t *l;
            json_array_foreach(c->lines, i, l) json_array_append(ids, json_object_get(l, "productId"));
            cart_remove_lines(c->w, c->actor.user_id, ids);
            json_decref(ids);
        }
    }
    co_free(c);
    mc_req_release(req);
}

static void co_set_error(co_t *c, mc_err_t err, json_t *details, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records how the checkout is refused; the answer goes out in co_end. */
static void co_set_error(co_t *c, mc_err_t err, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->msg, sizeof(c->msg), fmt, ap);
    va_end(ap);
    c->err = err;
    json_decref(c->details);
    c->details = details;
}

/* --- failure: undo, then forget ------------------------------------------------------------------ */

static void fail_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    co_t *c = arg;
    /* the checkout is settled: nothing of it remains to undo */
    ord_checkout_end(db, c->order_id);
    if (c->has_idem) {
        if (mc_err_http_status(c->err) < 500) {
            json_t *body = json_pack("{s:{s:s,s:s}}", "error", "code", mc_err_code(c->err), "message", c->msg);
            if (c->details != NULL)
                json_object_set(json_object_get(body, "error"), "details", c->details);
            char *text = json_dumps(body, JSON_COMPACT);
            ord_idem_finish(db, c->idem_id, mc_err_http_status(c->err), text, mc_now_ms());
            free(text);
            json_decref(body);
        } else {
            ord_idem_drop(db, c->idem_id); /* a retry with the key runs again */
        }
    }
}

/* The undo is recorded: answer. */
static void fail_done(void *arg, const mc_mongo_result_t *res)
{
    co_end(arg);
}

/* The releases answered: forget the checkout, or leave it to the sweeper when they failed. */
static void on_undone(void *data, bool ok)
{
    co_t *c = data;
    if (!ok) {
        /* The record stays: the sweeper undoes it once the lease has expired. */
        mc_log(MC_LOG_WARN, mc_req_id(c->req), "checkout %s: undo incomplete; the sweeper will finish it", c->order_id);
        co_end(c);
        return;
    }
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(c->w)), mc_worker_loop(c->w), fail_work, fail_done, c) != 0)
        co_end(c);
}

/* The checkout cannot complete: undo what may have happened, then answer c->err. */
static void co_fail(co_t *c)
{
    if (!c->recorded) {
        co_end(c);
        return;
    }
    bool stock = c->reserve_sent, coupon = c->redeem_sent;
    if (!stock && !coupon) {
        on_undone(c, true);
        return;
    }
    up_release_all(c->w, c->order_id, coupon, mc_req_id(c->req), on_undone, c);
}

/* --- 9. finish ----------------------------------------------------------------------------------- */

static void finish_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    co_t *c = arg;
    /* Without its document the order lives in its outbox entry and checkout record,
     * which the sweeper rolls forward from: both stay. */
    if (c->published && c->written) {
        char entry[64];
        snprintf(entry, sizeof(entry), "%s:1", c->order_id);
        ord_outbox_delete(db, entry);
    }
    if (c->stock_committed && c->written)
        ord_checkout_end(db, c->order_id);
    if (c->has_idem && c->stock_committed)
        ord_idem_finish(db, c->idem_id, 201, c->answer_text, mc_now_ms());
}

/* Everything is recorded: answer 201. */
static void finish_done(void *arg, const mc_mongo_result_t *res)
{
    co_end(arg);
}

/* Runs finish_work (or answers at once when it cannot be queued: the sweeper tidies up). */
static void co_finish(co_t *c)
{
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(c->w)), mc_worker_loop(c->w), finish_work, finish_done, c) != 0)
        co_end(c);
}

/* order.created went out (or waits in the outbox for the sweeper). */
static void on_published(void *data, bool ok)
{
    co_t *c = data;
    c->published = ok;
    co_finish(c);
}

/* --- 8. commit the stock -------------------------------------------------------------------------- */

static void on_stock_committed(void *data, const up_res_t *r)
{
    co_t *c = data;
    c->stock_committed = r->status == 200;
    if (!c->stock_committed)
        mc_log(MC_LOG_WARN, mc_req_id(c->req), "order %s: stock commit answered %d %s; the sweeper retries", c->order_id, r->status,
               r->err ? r->err : "");
    ord_publish(c->w, c->message, on_published, c);
}

/* --- 7. commit the order ---------------------------------------------------------------------------- */

static void commit_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    co_t *c = arg;
    c->commit = ord_commit(db, c->order, mc_now_ms(), &c->message, &c->written, &c->bson);
    if (c->commit == COMMIT_UNKNOWN)
        mc_mongo_fail(mc_mongo_current(), res, &c->bson);
}

/* Committed: commit the stock. Aborted by the sweeper: undo. Unknown: leave it to the sweeper. */
static void commit_done(void *arg, const mc_mongo_result_t *res)
{
    co_t *c = arg;
    /* A job can fail without its work having run (the database known to be down): then
     * nothing was written, and c->commit still says COMMIT_UNKNOWN. */
    if (res->err != MC_OK)
        c->commit = COMMIT_UNKNOWN;
    if (c->commit == COMMIT_ABORTED) {
        co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "the checkout took too long and was undone; retry");
        co_fail(c);
        return;
    }
    if (c->commit == COMMIT_UNKNOWN) {
        /* Whether the order exists is for the sweeper to settle after the lease: no undo. */
        mc_log(MC_LOG_WARN, mc_req_id(c->req), "order %s: commit outcome unknown (%s)", c->order_id,
               res->err != MC_OK ? res->bson.message : "no answer");
        co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "the order database is unavailable; the checkout will be settled shortly");
        co_end(c);
        return;
    }
    c->answer = ord_view(c->order, &c->actor);
    c->answer_text = json_dumps(c->answer, JSON_COMPACT);
    char url[512];
    snprintf(url, sizeof(url), "%s/api/inventory/reservations/%s/commit", ord_settings.product_url, c->order_id);
    if (up_call(c->w, "POST", url, NULL, true, mc_req_id(c->req), on_stock_committed, c) != 0) {
        up_res_t none = {0, "could not start the call", NULL};
        on_stock_committed(c, &none);
    }
}

/* The order document from the priced lines, the coupon's discounts and the totals (money.h). */
static json_t *build_order(co_t *c)
{
    ord_rules_t rules = {ord_settings.tax_rate_bps, ord_settings.shipping_fee, ord_settings.free_shipping_min};
    json_t *items = json_array(), *sellers = json_array();
    int64_t subtotal = 0, discount = 0;
    size_t i;
    json_t *l;
    json_array_foreach(c->lines, i, l)
    {
        const char *pid = json_string_value(json_object_get(l, "productId"));
        json_t *p = json_object_get(c->products, pid);
        int64_t q = json_integer_value(json_object_get(l, "quantity"));
        int64_t price = json_integer_value(json_object_get(p, "price"));
        int64_t d = c->discounts ? json_integer_value(json_object_get(c->discounts, pid)) : 0;
        int64_t sub = price * q;
        if (d < 0 || d > sub)
            d = d < 0 ? 0 : sub;
        json_t *images = json_object_get(p, "images");
        json_t *image = json_is_array(images) && json_is_string(json_array_get(images, 0)) ? json_array_get(images, 0) : json_null();
        json_t *cat = json_object_get(p, "categoryId");
        json_array_append_new(items, json_pack("{s:s,s:O,s:O,s:O,s:O,s:I,s:I,s:I,s:I,s:I}", "productId", pid, "sellerId",
                                               json_object_get(p, "sellerId"), "name", json_object_get(p, "name"), "categoryId",
                                               json_is_string(cat) ? cat : json_null(), "image", image, "unitPrice", (json_int_t)price,
                                               "quantity", (json_int_t)q, "subtotal", (json_int_t)sub, "discount", (json_int_t)d,
                                               "total", (json_int_t)(sub - d)));
        bool seen = false;
        size_t k;
        json_t *s;
        json_array_foreach(sellers, k, s) seen = seen || json_equal(s, json_object_get(p, "sellerId"));
        if (!seen)
            json_array_append(sellers, json_object_get(p, "sellerId"));
        subtotal += sub;
        discount += d;
    }
    ord_totals_t t;
    ord_totals(&rules, subtotal, discount, &t);
    int64_t now = mc_now_ms();
    char ts[MC_TIME_BUFSZ], day[MC_TIME_BUFSZ];
    mc_time_format(now, ts);
    memcpy(day, ts, 10);
    day[10] = '\0';
    json_t *coupon = c->coupon[0] ? json_pack("{s:s,s:I}", "code", c->coupon, "discount", (json_int_t)t.discount) : json_null();
    json_t *tl = json_array();
    json_array_append_new(tl, ord_timeline_entry("pending", "unpaid", &c->actor, NULL, now));
    return json_pack("{s:s,s:n,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:I,s:I,s:I,s:o,s:O,s:s?,s:n,s:n,s:n,s:o,s:i,s:s,s:s,s:s}", "id",
                     c->order_id, "number", "customerId", c->actor.user_id, "status", "pending", "paymentStatus", "unpaid", "currency",
                     ord_settings.currency, "items", items, "sellerIds", sellers, "subtotal", (json_int_t)t.subtotal, "discount",
                     (json_int_t)t.discount, "shipping", (json_int_t)t.shipping, "tax", (json_int_t)t.tax, "total",
                     (json_int_t)t.total, "coupon", coupon, "shippingAddress", c->address, "note", c->note, "shipment",
                     "deliveredAt", "cancellation", "timeline", tl, "version", 1, "createdAt", ts, "updatedAt", ts, "day", day);
}

/* Step 7: store the order. */
static void co_commit(co_t *c)
{
    c->order = build_order(c);
    c->commit = COMMIT_UNKNOWN; /* until the job says otherwise */
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(c->w)), mc_worker_loop(c->w), commit_work, commit_done, c) != 0) {
        co_set_error(c, MC_ERR_INTERNAL, NULL, "could not queue the commit");
        co_fail(c);
    }
}

/* --- 6. redeem the coupon ---------------------------------------------------------------------------- */

static void on_redeemed(void *data, const up_res_t *r)
{
    co_t *c = data;
    json_t *err = json_object_get(r->json, "error");
    json_t *reason = json_object_get(json_object_get(err, "details"), "reason");
    if (r->status == 201 || r->status == 200) {
        c->redeemed = true;
        c->discounts = json_object();
        size_t i;
        json_t *l;
        json_array_foreach(json_object_get(r->json, "lines"), i, l)
        {
            const char *pid = json_string_value(json_object_get(l, "productId"));
            if (pid != NULL && json_is_integer(json_object_get(l, "discount")))
                json_object_set(c->discounts, pid, json_object_get(l, "discount"));
        }
        co_commit(c);
        return;
    }
    if (r->status == 404) {
        c->redeem_sent = false; /* nothing was redeemed */
        co_set_error(c, MC_ERR_NOT_FOUND, json_pack("{s:s,s:s}", "field", "couponCode", "reason", "UNKNOWN"),
                     "there is no coupon with code %s", c->coupon);
    } else if (r->status == 409) {
        c->redeem_sent = false;
        co_set_error(c, MC_ERR_CONFLICT, json_pack("{s:s,s:O}", "field", "couponCode", "reason", json_is_string(reason) ? reason : json_null()),
                     "coupon %s cannot be used: %s", c->coupon,
                     json_string_value(json_object_get(err, "message")) ? json_string_value(json_object_get(err, "message")) : "refused");
    } else if (r->status == 0 || r->status >= 500) {
        co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "the coupon service is unavailable (%s); retry later", r->err ? r->err : "error");
    } else {
        co_set_error(c, MC_ERR_UPSTREAM, NULL, "the coupon service answered %d", r->status);
    }
    co_fail(c);
}

/* Step 6: redeem the coupon (skipped without a code). */
static void co_redeem(co_t *c)
{
    if (c->coupon[0] == '\0') {
        co_commit(c);
        return;
    }
    json_t *lines = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(c->lines, i, l)
    {
        const char *pid = json_string_value(json_object_get(l, "productId"));
        json_t *p = json_object_get(c->products, pid);
        json_t *cat = json_object_get(p, "categoryId");
        bool cat_ok = json_is_string(cat) && mc_is_object_id(json_string_value(cat), json_string_length(cat));
        json_array_append_new(lines, json_pack("{s:s,s:O,s:O,s:O}", "productId", pid, "categoryId", cat_ok ? cat : json_null(),
                                               "unitPrice", json_object_get(p, "price"), "quantity", json_object_get(l, "quantity")));
    }
    char url[512];
    snprintf(url, sizeof(url), "%s/api/coupons/redemptions", ord_settings.coupon_url);
    c->redeem_sent = true;
    json_t *body = json_pack("{s:s,s:s,s:s,s:o}", "code", c->coupon, "orderId", c->order_id, "customerId", c->actor.user_id, "lines", lines);
    if (up_call(c->w, "POST", url, body, true, mc_req_id(c->req), on_redeemed, c) != 0) {
        up_res_t none = {0, "could not start the call", NULL};
        on_redeemed(c, &none);
    }
}

/* --- 5. reserve the stock ----------------------------------------------------------------------------- */

static void on_reserved(void *data, const up_res_t *r)
{
    co_t *c = data;
    json_t *err = json_object_get(r->json, "error");
    const char *state = json_string_value(json_object_get(r->json, "status"));
    if ((r->status == 201 || r->status == 200) && state != NULL && strcmp(state, "reserved") == 0) {
        c->reserved = true;
        co_redeem(c);
        return;
    }
    if (r->status == 201 || r->status == 200) {
        /* a reservation of this order that is not held (released, expired, failed) */
        co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "the stock could not be held (reservation %s); retry", state ? state : "unknown");
    } else if (r->status == 409) {
        c->reserve_sent = false; /* all or none: nothing is held */
        json_t *d = json_object_get(err, "details");
        co_set_error(c, MC_ERR_CONFLICT, json_pack("{s:s,s:O}", "reason", "OUT_OF_STOCK", "items", json_is_array(d) ? d : json_array()),
                     "not enough stock for some products");
    } else if (r->status == 404) {
        c->reserve_sent = false;
        co_set_error(c, MC_ERR_NOT_FOUND, json_pack("{s:s}", "reason", "UNKNOWN_PRODUCT"), "a product of the order no longer exists");
    } else if (r->status == 422) {
        c->reserve_sent = false;
        co_set_error(c, MC_ERR_CONFLICT, json_pack("{s:s}", "reason", "UNAVAILABLE"), "a product of the order is no longer sold");
    } else if (r->status == 0 || r->status >= 500) {
        co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "the product service is unavailable (%s); retry later", r->err ? r->err : "error");
    } else {
        co_set_error(c, MC_ERR_UPSTREAM, NULL, "the product service answered %d to the reservation", r->status);
    }
    co_fail(c);
}

/* Step 5: reserve the stock of every line, all or none. */
static void co_reserve(co_t *c)
{
    json_t *items = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(c->lines, i, l)
        json_array_append_new(items, json_pack("{s:O,s:O}", "productId", json_object_get(l, "productId"), "quantity", json_object_get(l, "quantity")));
    char url[512];
    snprintf(url, sizeof(url), "%s/api/inventory/reservations", ord_settings.product_url);
    c->reserve_sent = true;
    json_t *body = json_pack("{s:s,s:o,s:I}", "orderId", c->order_id, "items", items, "ttlSeconds", (json_int_t)ord_settings.reservation_ttl_s);
    if (up_call(c->w, "POST", url, body, true, mc_req_id(c->req), on_reserved, c) != 0) {
        up_res_t none = {0, "could not start the call", NULL};
        on_reserved(c, &none);
    }
}

/* --- 4. record ----------------------------------------------------------------------------------------- */

static void record_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    co_t *c = arg;
    int64_t now = mc_now_ms();
    c->idem = IDEM_NEW;
    if (c->has_idem &&
        ord_idem_begin(db, c->idem_id, c->hash, c->order_id, now, &c->idem, &c->replay_status, &c->replay_body, &c->bson) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &c->bson);
        return;
    }
    if (c->idem != IDEM_NEW)
        return;
    if (ord_checkout_begin(db, c->order_id, c->actor.user_id, c->coupon[0] ? c->coupon : NULL, c->has_idem ? c->idem_id : NULL, now,
                           ord_settings.lease_ms, &c->bson) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &c->bson);
        if (c->has_idem)
            ord_idem_drop(db, c->idem_id);
    }
}

/* Answers from the key's record (a replay, a mismatch or a request still running). */
static bool answered_by_key(co_t *c)
{
    switch (c->idem) {
    case IDEM_REPLAY: {
        mc_req_add_header(c->req, "idempotent-replayed", "true");
        if (c->replay_status == 201) {
            json_t *o = json_loads(c->replay_body, 0, NULL);
            const char *id = json_string_value(json_object_get(o, "id"));
            if (id != NULL) {
                char loc[64];
                snprintf(loc, sizeof(loc), "/api/orders/%s", id);
                mc_req_add_header(c->req, "location", loc);
            }
            json_decref(o);
        }
        mc_req_t *req = c->req;
        mc_respond_raw(req, c->replay_status, "application/json", c->replay_body, strlen(c->replay_body));
        co_free(c);
        mc_req_release(req);
        return true;
    }
    case IDEM_MISMATCH:
        co_set_error(c, MC_ERR_UNPROCESSABLE, json_pack("{s:s}", "header", "Idempotency-Key"),
                     "this Idempotency-Key was used with another request body");
        co_end(c);
        return true;
    case IDEM_RUNNING:
        co_set_error(c, MC_ERR_CONFLICT, json_pack("{s:s}", "header", "Idempotency-Key"),
                     "a request with this Idempotency-Key is still being processed; retry later");
        co_end(c);
        return true;
    case IDEM_NEW:
        break;
    }
    return false;
}

/* Recorded: reserve. A key that was recorded meanwhile by another request answers here. */
static void record_done(void *arg, const mc_mongo_result_t *res)
{
    co_t *c = arg;
    if (res->err != MC_OK) {
        co_set_error(c, res->err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, NULL, "%s",
                     res->err == MC_ERR_UNAVAILABLE ? "the order database is unavailable; retry later" : "recording the checkout failed");
        co_end(c);
        return;
    }
    if (answered_by_key(c))
        return;
    c->recorded = true;
    co_reserve(c);
}

/* --- 3. prices ----------------------------------------------------------------------------------------- */

static void on_products(void *data, const up_res_t *r)
{
    co_t *c = data;
    if (r->status != 200 || !json_is_array(json_object_get(r->json, "items"))) {
        if (r->status == 0 || r->status >= 500)
            co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "the product service is unavailable (%s); retry later", r->err ? r->err : "error");
        else
            co_set_error(c, MC_ERR_UPSTREAM, NULL, "the product service answered %d to a price look-up", r->status);
        co_end(c);
        return;
    }
    c->products = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r->json, "items"), i, p)
    {
        if (up_product_checked(p) == NULL) {
            co_set_error(c, MC_ERR_UPSTREAM, NULL, "the product service sent a malformed product");
            co_end(c);
            return;
        }
        char low[25];
        snprintf(low, sizeof(low), "%s", json_string_value(json_object_get(p, "id")));
        for (char *x = low; *x; ++x)
            if (*x >= 'A' && *x <= 'F')
                *x = (char)(*x - 'A' + 'a');
        json_object_set(c->products, low, p);
    }
    json_t *missing = json_array(), *unavailable = json_array();
    json_t *l;
    json_array_foreach(c->lines, i, l)
    {
        json_t *pid = json_object_get(l, "productId");
        json_t *prod = json_object_get(c->products, json_string_value(pid));
        if (prod == NULL)
            json_array_append(missing, pid);
        else if (!json_is_true(json_object_get(prod, "isActive")) ||
                 strcmp(json_string_value(json_object_get(prod, "currency")), ord_settings.currency) != 0)
            json_array_append(unavailable, pid);
    }
    if (json_array_size(missing) > 0) {
        co_set_error(c, MC_ERR_NOT_FOUND, json_pack("{s:s,s:O}", "reason", "UNKNOWN_PRODUCT", "productIds", missing),
                     "%zu product(s) of the order do not exist", json_array_size(missing));
    } else if (json_array_size(unavailable) > 0) {
        co_set_error(c, MC_ERR_CONFLICT, json_pack("{s:s,s:O}", "reason", "UNAVAILABLE", "productIds", unavailable),
                     "%zu product(s) of the order are not sold (inactive, or not priced in %s)", json_array_size(unavailable),
                     ord_settings.currency);
    }
    json_decref(missing);
    json_decref(unavailable);
    if (c->err != MC_OK) {
        co_end(c);
        return;
    }
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(c->w)), mc_worker_loop(c->w), record_work, record_done, c) != 0) {
        co_set_error(c, MC_ERR_INTERNAL, NULL, "could not queue the checkout");
        co_end(c);
    }
}

/* Step 3: ask the product service for every line's product. */
static void co_prices(co_t *c)
{
    json_t *ids = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(c->lines, i, l) json_array_append(ids, json_object_get(l, "productId"));
    int r = up_products(c->w, ids, mc_req_id(c->req), on_products, c);
    json_decref(ids);
    if (r != 0) {
        co_set_error(c, MC_ERR_INTERNAL, NULL, "could not call the product service");
        co_end(c);
    }
}

/* --- 2. lines --------------------------------------------------------------------------------------------- */

static void on_cart(mc_req_t *req, int rc, json_t *lines)
{
    co_t *c = mc_req_data(req);
    if (rc != CART_OK) {
        co_set_error(c, MC_ERR_UNAVAILABLE, NULL, "carts are unavailable (Redis is down); order with explicit items or retry later");
        co_end(c);
        return;
    }
    if (json_array_size(lines) == 0) {
        co_set_error(c, MC_ERR_CONFLICT, json_pack("{s:s}", "reason", "EMPTY_CART"), "the cart is empty");
        co_end(c);
        return;
    }
    c->lines = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
        json_array_append_new(c->lines, json_pack("{s:O,s:O}", "productId", json_object_get(l, "productId"), "quantity", json_object_get(l, "quantity")));
    co_prices(c);
}

/* 1b. with a key: a finished or running request with this key answers now */
static void lookup_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    co_t *c = arg;
    /* the same logic as recording, without inserting: a record found decides */
    memset(&c->bson, 0, sizeof(c->bson));
    c->idem = IDEM_NEW;
    if (ord_idem_peek(db, c->idem_id, c->hash, mc_now_ms(), &c->idem, &c->replay_status, &c->replay_body, &c->bson) != 0)
        mc_mongo_fail(mc_mongo_current(), res, &c->bson);
}

/* Step 2: the lines, from the body or the cart. */
static void co_lines(co_t *c)
{
    if (c->from_cart) {
        mc_req_set_data(c->req, c);
        cart_read(c->req, c->actor.user_id, on_cart);
    } else {
        co_prices(c);
    }
}

/* A finished, running or mismatching request with this key answers now; else go on. */
static void lookup_done(void *arg, const mc_mongo_result_t *res)
{
    co_t *c = arg;
    if (res->err != MC_OK) {
        co_set_error(c, res->err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, NULL, "%s",
                     res->err == MC_ERR_UNAVAILABLE ? "the order database is unavailable; retry later" : "reading the idempotency key failed");
        co_end(c);
        return;
    }
    if (answered_by_key(c))
        return;
    co_lines(c);
}

/* --- 1. the request ------------------------------------------------------------------------------------------ */

static void sha256_hex(const char *s, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    EVP_Digest(s, len, md, &n, EVP_sha256(), NULL);
    mc_hex_encode(md, 32, out);
}

/* Reads and checks shippingAddress; returns a clean copy or NULL (errors reported). */
static json_t *read_address(mc_valid_t *v, mc_req_t *req)
{
    json_t *a = json_object_get(v->obj, "shippingAddress");
    if (a == NULL) {
        mc_valid_error(v, "shippingAddress", "is required");
        return NULL;
    }
    if (!json_is_object(a)) {
        mc_valid_error(v, "shippingAddress", "must be an object");
        return NULL;
    }
    mc_valid_t av;
    mc_valid_init(&av, req, a);
    static const char *const known[] = {"name", "line1", "line2", "city", "region", "postalCode", "country", "phone", NULL};
    mc_valid_only(&av, known);
    const char *name = mc_valid_str(&av, "name", 1, 100, MC_V_REQUIRED | MC_V_TRIM);
    const char *line1 = mc_valid_str(&av, "line1", 1, 200, MC_V_REQUIRED | MC_V_TRIM);
    const char *line2 = mc_valid_str(&av, "line2", 0, 200, MC_V_NULLABLE | MC_V_TRIM);
    const char *city = mc_valid_str(&av, "city", 1, 100, MC_V_REQUIRED | MC_V_TRIM);
    const char *region = mc_valid_str(&av, "region", 0, 100, MC_V_NULLABLE | MC_V_TRIM);
    const char *postal = mc_valid_str(&av, "postalCode", 1, 20, MC_V_REQUIRED);
    const char *country = mc_valid_str(&av, "country", 2, 2, MC_V_REQUIRED);
    const char *phone = mc_valid_str(&av, "phone", 3, 30, MC_V_NULLABLE);
    if (postal != NULL)
        for (const char *p = postal; *p; ++p)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == ' ' || *p == '-')) {
                mc_valid_error(&av, "postalCode", "must be letters, digits, spaces or '-'");
                postal = NULL;
                break;
            }
    if (country != NULL && !(country[0] >= 'A' && country[0] <= 'Z' && country[1] >= 'A' && country[1] <= 'Z')) {
        mc_valid_error(&av, "country", "must be an ISO 3166 code of two upper-case letters");
        country = NULL;
    }
    if (phone != NULL)
        for (const char *p = phone; *p; ++p)
            if (!((*p >= '0' && *p <= '9') || *p == '+' || *p == ' ' || *p == '(' || *p == ')' || *p == '-' || *p == '.')) {
                mc_valid_error(&av, "phone", "must be digits, spaces and + ( ) - .");
                phone = NULL;
                break;
            }
    size_t i;
    json_t *e;
    json_array_foreach(av.errors, i, e)
    {
        char field[64];
        snprintf(field, sizeof(field), "shippingAddress.%s", json_string_value(json_object_get(e, "field")));
        mc_valid_error(v, field, "%s", json_string_value(json_object_get(e, "message")));
    }
    if (!mc_valid_ok(&av))
        return NULL;
    return json_pack("{s:s,s:s,s:s?,s:s,s:s?,s:s,s:s,s:s?}", "name", name, "line1", line1, "line2", line2, "city", city, "region",
                     region, "postalCode", postal, "country", country, "phone", phone);
}

/* Reads items: merged by product (ids lower-cased), quantities bounded. */
static json_t *read_items(mc_valid_t *v, mc_req_t *req)
{
    json_t *items = json_object_get(v->obj, "items");
    if (!json_is_array(items) || json_array_size(items) < 1 || json_array_size(items) > (size_t)ord_settings.max_lines) {
        mc_valid_error(v, "items", "must be an array of 1 to %lld lines", (long long)ord_settings.max_lines);
        return NULL;
    }
    json_t *out = json_array();
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        char field[32];
        snprintf(field, sizeof(field), "items[%zu]", i);
        if (!json_is_object(it)) {
            mc_valid_error(v, field, "must be an object");
            continue;
        }
        mc_valid_t iv;
        mc_valid_init(&iv, req, it);
        static const char *const known[] = {"productId", "quantity", NULL};
        mc_valid_only(&iv, known);
        const char *pid = mc_valid_oid(&iv, "productId", MC_V_REQUIRED);
        int64_t q = 0;
        mc_valid_int(&iv, "quantity", 1, ord_settings.max_quantity, MC_V_REQUIRED, &q);
        size_t k;
        json_t *e;
        json_array_foreach(iv.errors, k, e)
            mc_valid_error(v, field, "%s %s", json_string_value(json_object_get(e, "field")), json_string_value(json_object_get(e, "message")));
        if (!mc_valid_ok(&iv))
            continue;
        json_t *l;
        bool merged = false;
        json_array_foreach(out, k, l) if (strcmp(json_string_value(json_object_get(l, "productId")), pid) == 0)
        {
            json_object_set_new(l, "quantity", json_integer(json_integer_value(json_object_get(l, "quantity")) + q));
            merged = true;
        }
        if (!merged)
            json_array_append_new(out, json_pack("{s:s,s:I}", "productId", pid, "quantity", (json_int_t)q));
    }
    return out;
}

void ord_h_checkout(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *key = mc_req_header(req, "idempotency-key");
    if (key != NULL) {
        size_t n = strlen(key);
        bool ok = n >= 1 && n <= IDEM_KEY_MAX;
        for (size_t i = 0; i < n && ok; ++i)
            ok = key[i] >= 0x21 && key[i] <= 0x7e;
        if (!ok) {
            mc_respond_error(req, MC_ERR_BAD_REQUEST,
                             json_pack("[{s:s,s:s}]", "field", "Idempotency-Key", "message", "must be 1 to 255 visible ASCII characters"),
                             "the Idempotency-Key header must be 1 to 255 visible ASCII characters");
            return;
        }
    }
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"items", "shippingAddress", "couponCode", "note", NULL};
    mc_valid_only(&v, known);
    co_t *c = calloc(1, sizeof(*c));
    c->address = read_address(&v, req);
    if (json_object_get(body, "items") != NULL)
        c->lines = read_items(&v, req);
    else
        c->from_cart = true;
    const char *code = mc_valid_str(&v, "couponCode", 3, 32, MC_V_NULLABLE);
    if (code != NULL) {
        bool ok = true;
        size_t n = strlen(code);
        for (size_t i = 0; i < n; ++i) {
            char ch = code[i];
            if (ch >= 'a' && ch <= 'z')
                ch = (char)(ch - 'a' + 'A');
            else if (!((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
                ok = false;
            c->coupon[i] = ch;
        }
        c->coupon[n] = '\0';
        if (!ok) {
            mc_valid_error(&v, "couponCode", "must be 3 to 32 letters, digits, '_' or '-'");
            c->coupon[0] = '\0';
        }
    }
    const char *note = mc_valid_str(&v, "note", 0, NOTE_MAX, MC_V_NULLABLE | MC_V_MULTILINE);
    if (mc_valid_fail(&v)) {
        co_free(c);
        return;
    }
    c->note = note ? strdup(note) : NULL;
    c->req = req;
    c->w = mc_req_worker(req);
    mc_req_retain(req);
    ord_actor_of(req, &c->actor);
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, c->order_id);
    if (key != NULL) {
        c->has_idem = true;
        snprintf(c->idem_id, sizeof(c->idem_id), "%s:%s", c->actor.user_id, key);
        char *canon = json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
        sha256_hex(canon, strlen(canon), c->hash);
        free(canon);
        if (mc_mongo_submit(mc_server_mongo(mc_req_server(req)), mc_worker_loop(c->w), lookup_work, lookup_done, c) != 0) {
            co_set_error(c, MC_ERR_INTERNAL, NULL, "could not queue the key look-up");
            co_end(c);
        }
        return;
    }
    co_lines(c);
}
