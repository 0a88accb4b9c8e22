/*
 * Implementation of upstream.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_http.h"
#include "mc_log.h"
#include "mc_util.h"
#include "money.h"
#include "settings.h"
#include "upstream.h"

typedef struct call {
    up_cb cb;
    void *data;
    char *body;
    mc_http_call_t *handle;
    struct call *next, *prev;
} call_t;

/* The calls in flight on this worker's thread (each worker runs one loop on one thread),
 * so that a shutdown can fail them instead of leaving their callers waiting forever. */
static __thread call_t *live;
static __thread bool closing;

/* Takes a call off this worker's list of calls in flight. */
static void unlink_call(call_t *c)
{
    if (c->prev)
        c->prev->next = c->next;
    else
        live = c->next;
    if (c->next)
        c->next->prev = c->prev;
}

/* The answer, parsed, to the caller; then the call is freed. */
static void on_response(const mc_http_response_t *r, void *arg)
{
    call_t *c = arg;
    unlink_call(c);
    up_res_t res = {.status = r->status, .err = r->err};
    if (r->err == NULL && r->body_len > 0)
        res.json = json_loadb(r->body, r->body_len, 0, NULL);
    c->cb(c->data, &res);
    json_decref(res.json);
    free(c->body);
    free(c);
}

int up_call(mc_worker_t *w, const char *method, const char *url, json_t *body, bool internal, const char *request_id, up_cb cb,
            void *data)
{
    mc_http_client_t *client = closing ? NULL : mc_worker_http(w);
    const char *key = mc_server_config(mc_worker_server(w))->internal_key;
    if (client == NULL || (internal && key == NULL)) {
        json_decref(body);
        return -1;
    }
    call_t *c = calloc(1, sizeof(*c));
    c->cb = cb;
    c->data = data;
    if (body != NULL) {
        c->body = json_dumps(body, JSON_COMPACT);
        json_decref(body);
    }
    mc_http_header_t hdr = {"X-Internal-Key", key};
    mc_http_request_t req = {
        .method = method,
        .url = url,
        .headers = internal ? &hdr : NULL,
        .nheaders = internal ? 1 : 0,
        .body = c->body,
        .body_len = c->body ? strlen(c->body) : 0,
        .timeout_ms = (unsigned)ord_settings.upstream_timeout_ms,
        .request_id = request_id,
    };
    if (mc_http_fetch(client, &req, on_response, c, &c->handle) != 0) {
        free(c->body);
        free(c);
        return -1;
    }
    c->next = live;
    if (live)
        live->prev = c;
    live = c;
    return 0;
}

void up_abort_all(void)
{
    closing = true;
    while (live != NULL) {
        call_t *c = live;
        unlink_call(c);
        mc_http_cancel(c->handle);
        up_res_t res = {.status = 0, .err = "shutting down"};
        c->cb(c->data, &res);
        free(c->body);
        free(c);
    }
}

int up_products(mc_worker_t *w, const json_t *ids, const char *request_id, up_cb cb, void *data)
{
    mc_buf_t u;
    mc_buf_init(&u, 8192);
    mc_buf_appendf(&u, "%s/api/products/batch?ids=", ord_settings.product_url);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id) mc_buf_appendf(&u, "%s%s", i ? "," : "", json_string_value(id));
    mc_buf_append(&u, "", 1);
    int r = up_call(w, "GET", u.data, NULL, false, request_id, cb, data);
    mc_buf_free(&u);
    return r;
}

const json_t *up_product_checked(const json_t *p)
{
    const json_t *price = json_object_get(p, "price"), *stock = json_object_get(p, "stock");
    const json_t *cat = json_object_get(p, "categoryId");
    if (!json_is_object(p) || !json_is_string(json_object_get(p, "id")) || !json_is_string(json_object_get(p, "name")) ||
        !json_is_integer(price) || json_integer_value(price) < 0 || json_integer_value(price) > ORDER_MAX_PRICE ||
        !json_is_string(json_object_get(p, "currency")) || !json_is_string(json_object_get(p, "sellerId")) ||
        !(json_is_null(cat) || json_is_string(cat) || cat == NULL) || !json_is_integer(stock) ||
        !json_is_boolean(json_object_get(p, "isActive")))
        return NULL;
    const char *seller = json_string_value(json_object_get(p, "sellerId"));
    if (!mc_is_object_id(seller, strlen(seller)))
        return NULL;
    return p;
}

typedef struct rel {
    int pending;
    bool ok;
    void (*cb)(void *, bool);
    void *data;
} rel_t;

/* One release answered (or the initial reference dropped): the last one reports. */
static void rel_done(rel_t *r)
{
    if (--r->pending > 0)
        return;
    r->cb(r->data, r->ok);
    free(r);
}

/* 404: nothing was ever reserved or redeemed under this order; that is released too. */
static void on_released(void *data, const up_res_t *res)
{
    rel_t *r = data;
    if (!(res->status == 200 || res->status == 404)) {
        r->ok = false;
        mc_log_warn("release failed (%d %s); it will be retried", res->status, res->err ? res->err : "");
    }
    rel_done(r);
}

int up_release_all(mc_worker_t *w, const char *order_id, bool coupon, const char *request_id, void (*cb)(void *, bool),
                   void *data)
{
    rel_t *r = calloc(1, sizeof(*r));
    r->ok = true;
    r->cb = cb;
    r->data = data;
    r->pending = 1;
    char url[512];
    snprintf(url, sizeof(url), "%s/api/inventory/reservations/%s/release", ord_settings.product_url, order_id);
    ++r->pending;
    if (up_call(w, "POST", url, NULL, true, request_id, on_released, r) != 0) {
        --r->pending;
        r->ok = false;
    }
    if (coupon) {
        snprintf(url, sizeof(url), "%s/api/coupons/redemptions/%s/release", ord_settings.coupon_url, order_id);
        ++r->pending;
        if (up_call(w, "POST", url, NULL, true, request_id, on_released, r) != 0) {
            --r->pending;
            r->ok = false;
        }
    }
    rel_done(r); /* the initial reference: cb runs once both answered */
    return 0;
}
