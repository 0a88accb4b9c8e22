/*
 * The order service's HTTP handlers (checkout itself is in checkout.c).
 *
 *   cart      GET /api/cart, POST /api/cart/items, PUT|DELETE /api/cart/items/{productId},
 *             DELETE /api/cart                                      (any signed-in user)
 *   orders    POST /api/orders (checkout), GET /api/orders (own), GET /api/orders/{id},
 *             GET /api/orders/number/{number}
 *   changes   POST /api/orders/{id}/confirm|process|ship|deliver|cancel|payment
 *   sellers   GET /api/orders/seller, GET /api/orders/seller/stats
 *   admins    GET /api/orders/admin, GET /api/orders/admin/dashboard
 *
 * Refusals: 400 malformed input; 401/403 credentials and roles; 404 an unknown order or
 * one the caller may not see (never a 403 that would confirm it exists), an unknown
 * product, a cart line that is not there; 409 a transition the order's status does not
 * allow, a cart bound reached, a product no longer sold; 503 Redis (carts), the database
 * or another service unavailable.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cart.h"
#include "lifecycle.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "order.h"
#include "routes.h"
#include "settings.h"
#include "store.h"
#include "upstream.h"

#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define STATS_DEFAULT_DAYS 30
#define STATS_MAX_DAYS 366
#define DAY_MS 86400000LL

/* --- helpers ------------------------------------------------------------------------------------ */

void ord_actor_of(mc_req_t *req, ord_actor_t *a)
{
    memset(a, 0, sizeof(*a));
    const mc_claims_t *c = mc_req_claims(req, NULL);
    if (c != NULL) {
        snprintf(a->user_id, sizeof(a->user_id), "%s", c->sub);
        a->role = c->role;
    }
}

void ord_answer_db(mc_req_t *req, const mc_mongo_result_t *res)
{
    if (res->err == MC_ERR_UNAVAILABLE)
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the order database is unavailable; retry later");
    else
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "the order database failed: %s", res->bson.message);
}

/* A path parameter as a lower-case ObjectId; answers 400 and returns NULL otherwise. */
static char *lower_oid(mc_req_t *req, const char *name)
{
    char *id = (char *)mc_req_param(req, name);
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

const char *ord_path_id(mc_req_t *req)
{
    return lower_oid(req, "id");
}

/* The optional JSON body of a change: NULL with *ok true when there is none. */
static json_t *optional_body(mc_req_t *req, bool *ok)
{
    size_t len;
    mc_req_body(req, &len);
    *ok = true;
    if (len == 0)
        return NULL;
    json_t *b = mc_req_json(req, true);
    *ok = b != NULL;
    return b;
}

/* --- cart --------------------------------------------------------------------------------------- */

typedef struct cart_ctx {
    char user[25];
    json_t *lines;
    int status;
    const char *product; /* add: the product checked before adding */
    int64_t quantity;
} cart_ctx_t;

/* Frees the cart request's state. */
static void cart_ctx_free(void *p)
{
    cart_ctx_t *c = p;
    json_decref(c->lines);
}

/* The cart request's state, as the request's data. */
static cart_ctx_t *cart_ctx(mc_req_t *req)
{
    cart_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    ord_actor_t a;
    ord_actor_of(req, &a);
    snprintf(c->user, sizeof(c->user), "%s", a.user_id);
    c->status = 200;
    mc_req_on_free(req, cart_ctx_free, c);
    mc_req_set_data(req, c);
    return c;
}

/* Carts live only in Redis. */
static void answer_cart_unavailable(mc_req_t *req)
{
    mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "carts are unavailable (Redis is down); retry later");
}

/* The cart as the client sees it: every line re-priced from the products (NULL when the
 * product service answered nothing for that id). */
static json_t *cart_view(json_t *lines, json_t *products)
{
    json_t *items = json_array();
    json_int_t count = 0, subtotal = 0;
    bool problems = false;
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l)
    {
        const char *pid = json_string_value(json_object_get(l, "productId"));
        json_int_t q = json_integer_value(json_object_get(l, "quantity"));
        json_t *p = products ? json_object_get(products, pid) : NULL;
        json_t *item = json_pack("{s:s,s:I,s:O}", "productId", pid, "quantity", q, "addedAt", json_object_get(l, "addedAt"));
        const char *problem = NULL;
        count += q;
        if (p == NULL) {
            problem = "NOT_FOUND";
            json_object_set_new(item, "name", json_null());
            json_object_set_new(item, "image", json_null());
            json_object_set_new(item, "unitPrice", json_null());
            json_object_set_new(item, "lineTotal", json_null());
            json_object_set_new(item, "stock", json_null());
        } else {
            json_int_t price = json_integer_value(json_object_get(p, "price")), stock = json_integer_value(json_object_get(p, "stock"));
            json_t *images = json_object_get(p, "images");
            json_object_set(item, "name", json_object_get(p, "name"));
            json_object_set(item, "image", json_is_array(images) && json_is_string(json_array_get(images, 0)) ? json_array_get(images, 0) : json_null());
            json_object_set_new(item, "unitPrice", json_integer(price));
            json_object_set_new(item, "lineTotal", json_integer(price * q));
            json_object_set_new(item, "stock", json_integer(stock));
            if (!json_is_true(json_object_get(p, "isActive")) ||
                strcmp(json_string_value(json_object_get(p, "currency")), ord_settings.currency) != 0)
                problem = "UNAVAILABLE";
            else if (stock <= 0)
                problem = "OUT_OF_STOCK";
            else if (stock < q)
                problem = "INSUFFICIENT_STOCK";
            else
                subtotal += price * q;
        }
        json_object_set_new(item, "available", json_boolean(problem == NULL));
        json_object_set_new(item, "problem", problem ? json_string(problem) : json_null());
        problems = problems || problem != NULL;
        json_array_append_new(items, item);
    }
    return json_pack("{s:o,s:I,s:I,s:s,s:b}", "items", items, "itemCount", count, "subtotal", subtotal, "currency", ord_settings.currency,
                     "hasProblems", problems);
}

/* The cart priced with the products the product service returned. */
static void on_cart_products(void *data, const up_res_t *r)
{
    mc_req_t *req = data;
    cart_ctx_t *c = mc_req_data(req);
    if (r->status != 200 || !json_is_array(json_object_get(r->json, "items"))) {
        if (r->status == 0 || r->status >= 500)
            mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the product service is unavailable (%s); retry later", r->err ? r->err : "error");
        else
            mc_respond_error(req, MC_ERR_UPSTREAM, NULL, "the product service answered %d", r->status);
        mc_req_release(req);
        return;
    }
    json_t *products = json_object();
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(r->json, "items"), i, p)
    {
        if (up_product_checked(p) == NULL)
            continue;
        char low[25];
        snprintf(low, sizeof(low), "%s", json_string_value(json_object_get(p, "id")));
        for (char *x = low; *x; ++x)
            if (*x >= 'A' && *x <= 'F')
                *x = (char)(*x - 'A' + 'a');
        json_object_set(products, low, p);
    }
    mc_respond_json(req, c->status, cart_view(c->lines, products));
    json_decref(products);
    mc_req_release(req);
}

/* Answers with the cart: an empty one at once, otherwise priced (product service). */
static void answer_cart_lines(mc_req_t *req, int rc, json_t *lines)
{
    cart_ctx_t *c = mc_req_data(req);
    if (rc != CART_OK) {
        answer_cart_unavailable(req);
        return;
    }
    if (json_array_size(lines) == 0) {
        mc_respond_json(req, c->status, cart_view(lines, NULL));
        return;
    }
    c->lines = json_incref(lines);
    json_t *ids = json_array();
    size_t i;
    json_t *l;
    json_array_foreach(lines, i, l) json_array_append(ids, json_object_get(l, "productId"));
    mc_req_retain(req);
    if (up_products(mc_req_worker(req), ids, mc_req_id(req), on_cart_products, req) != 0) {
        mc_req_release(req);
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not call the product service");
    }
    json_decref(ids);
}

/* GET /api/cart */
static void h_cart_get(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    cart_ctx_t *c = cart_ctx(req);
    cart_read(req, c->user, answer_cart_lines);
}

/* After a change: answer with the cart as it now is. */
static void on_cart_written(mc_req_t *req, int rc, int64_t quantity)
{
    cart_ctx_t *c = mc_req_data(req);
    switch (rc) {
    case CART_OK:
        cart_read(req, c->user, answer_cart_lines);
        return;
    case CART_ERR_TOO_MANY:
        mc_respond_error(req, MC_ERR_CONFLICT, json_pack("{s:s,s:I,s:I}", "reason", "QUANTITY_LIMIT", "max", (json_int_t)ord_settings.max_quantity,
                                                        "inCart", (json_int_t)quantity),
                         "a cart line holds at most %lld of a product", (long long)ord_settings.max_quantity);
        return;
    case CART_ERR_FULL:
        mc_respond_error(req, MC_ERR_CONFLICT, json_pack("{s:s,s:I}", "reason", "CART_FULL", "max", (json_int_t)ord_settings.max_lines),
                         "a cart holds at most %lld products", (long long)ord_settings.max_lines);
        return;
    case CART_ERR_ABSENT:
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "this product is not in the cart");
        return;
    default:
        answer_cart_unavailable(req);
    }
}

/* The product to add exists and is sold: add it. */
static void on_add_product(void *data, const up_res_t *r)
{
    mc_req_t *req = data;
    cart_ctx_t *c = mc_req_data(req);
    json_t *p = r->status == 200 ? json_array_get(json_object_get(r->json, "items"), 0) : NULL;
    if (r->status != 200) {
        if (r->status == 0 || r->status >= 500)
            mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the product service is unavailable (%s); retry later", r->err ? r->err : "error");
        else
            mc_respond_error(req, MC_ERR_UPSTREAM, NULL, "the product service answered %d", r->status);
    } else if (p == NULL) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, json_pack("[{s:s,s:s}]", "field", "productId", "message", "does not exist"),
                         "product %s does not exist", c->product);
    } else if (up_product_checked(p) == NULL) {
        mc_respond_error(req, MC_ERR_UPSTREAM, NULL, "the product service sent a malformed product");
    } else if (!json_is_true(json_object_get(p, "isActive"))) {
        mc_respond_error(req, MC_ERR_CONFLICT, json_pack("{s:s}", "reason", "UNAVAILABLE"), "product %s is not sold any more", c->product);
    } else {
        c->status = 200;
        cart_add(req, c->user, c->product, c->quantity, on_cart_written);
    }
    mc_req_release(req);
}

/* POST /api/cart/items: checks the product with the product service first. */
static void h_cart_add(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"productId", "quantity", NULL};
    mc_valid_only(&v, known);
    cart_ctx_t *c = cart_ctx(req);
    c->product = mc_valid_oid(&v, "productId", MC_V_REQUIRED);
    c->quantity = 1;
    mc_valid_int(&v, "quantity", 1, ord_settings.max_quantity, 0, &c->quantity);
    if (mc_valid_fail(&v))
        return;
    json_t *ids = json_pack("[s]", c->product);
    mc_req_retain(req);
    if (up_products(mc_req_worker(req), ids, mc_req_id(req), on_add_product, req) != 0) {
        mc_req_release(req);
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not call the product service");
    }
    json_decref(ids);
}

/* PUT /api/cart/items/{productId} */
static void h_cart_set(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *pid = lower_oid(req, "productId");
    if (pid == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"quantity", NULL};
    mc_valid_only(&v, known);
    int64_t q = 0;
    mc_valid_int(&v, "quantity", 1, ord_settings.max_quantity, MC_V_REQUIRED, &q);
    if (mc_valid_fail(&v))
        return;
    cart_ctx_t *c = cart_ctx(req);
    cart_set(req, c->user, pid, q, on_cart_written);
}

/* DELETE /api/cart/items/{productId} */
static void h_cart_remove(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *pid = lower_oid(req, "productId");
    if (pid == NULL)
        return;
    cart_ctx_t *c = cart_ctx(req);
    cart_remove(req, c->user, pid, on_cart_written);
}

/* DEL answered. */
static void on_cart_cleared(mc_req_t *req, int rc, int64_t q)
{
    if (rc != CART_OK)
        answer_cart_unavailable(req);
    else
        mc_respond_empty(req, 204);
}

/* DELETE /api/cart */
static void h_cart_clear(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    cart_ctx_t *c = cart_ctx(req);
    cart_clear(req, c->user, on_cart_cleared);
}

/* --- reading orders -------------------------------------------------------------------------------- */

typedef enum { Q_ONE, Q_NUMBER, Q_LIST, Q_STATS } query_kind_t;

typedef struct query {
    query_kind_t kind;
    ord_actor_t actor;
    const char *id;
    const char *number;
    ord_query_t q;
    const char *stats_seller;
    int64_t from, to;
    json_t *result;
    bson_error_t bson;
} query_t;

/* Frees a query's result. */
static void query_free(void *p)
{
    json_decref(((query_t *)p)->result);
}

/* On the thread pool: one read of the store. */
static void query_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    query_t *q = arg;
    memset(&q->bson, 0, sizeof(q->bson));
    switch (q->kind) {
    case Q_ONE:
        q->result = ord_get(db, q->id, &q->bson);
        break;
    case Q_NUMBER:
        q->result = ord_get_by_number(db, q->number, &q->bson);
        break;
    case Q_LIST:
        q->result = ord_list(db, &q->q, &q->bson);
        break;
    case Q_STATS:
        q->result = ord_stats(db, q->stats_seller, q->from, q->to, &q->bson);
        break;
    }
    if (q->result == NULL && q->bson.code != 0)
        mc_mongo_fail(mc_mongo_current(), res, &q->bson);
}

/* Answers a read with what the caller may see (ord_view); lists keep cursors aligned. */
static void query_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    query_t *q = arg;
    if (res->err != MC_OK) {
        ord_answer_db(req, res);
        return;
    }
    if (q->kind == Q_ONE || q->kind == Q_NUMBER) {
        json_t *view = q->result != NULL ? ord_view(q->result, &q->actor) : NULL;
        if (view == NULL)
            mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "order not found");
        else
            mc_respond_json(req, 200, view);
        return;
    }
    if (q->kind == Q_STATS) {
        mc_respond_json(req, 200, json_incref(q->result));
        return;
    }
    json_t *items = json_array(), *cursors = json_array();
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(q->result, "items"), i, o)
    {
        json_t *view = ord_view(o, &q->actor);
        if (view == NULL)
            continue;
        json_array_append_new(items, view);
        json_array_append(cursors, json_array_get(json_object_get(q->result, "cursors"), i));
    }
    json_t *last = json_array_get(cursors, json_array_size(cursors) - 1);
    mc_respond_json(req, 200,
                    json_pack("{s:o,s:O,s:O,s:{s:O,s:O}}", "items", items, "cursors", cursors, "totalCount",
                              json_object_get(q->result, "totalCount"), "pageInfo", "hasNextPage",
                              json_object_get(q->result, "hasNextPage"), "endCursor", last != NULL ? last : json_null()));
    json_decref(cursors);
}

/* A read for the calling user. */
static query_t *new_query(mc_req_t *req, query_kind_t kind)
{
    query_t *q = mc_req_alloc(req, sizeof(*q));
    q->kind = kind;
    ord_actor_of(req, &q->actor);
    mc_req_on_free(req, query_free, q);
    return q;
}

/* Queues the read. */
static void run_query(mc_req_t *req, query_t *q)
{
    if (mc_mongo_submit_req(req, query_work, query_done, q) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the query");
}

/* GET /api/orders/{id}: 404 for an order the caller may not see. */
static void h_get(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = ord_path_id(req);
    if (id == NULL)
        return;
    query_t *q = new_query(req, Q_ONE);
    q->id = id;
    run_query(req, q);
}

/* MC-YYYY-NNNNNN with at least six digits. */
static bool valid_number(const char *s)
{
    size_t n = strlen(s);
    if (n < 14 || n > 20 || strncmp(s, "MC-", 3) != 0 || s[7] != '-')
        return false;
    for (size_t i = 3; i < n; ++i)
        if (i != 7 && !(s[i] >= '0' && s[i] <= '9'))
            return false;
    return true;
}

/* GET /api/orders/number/{number} */
static void h_get_number(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *number = mc_req_param(req, "number");
    if (number == NULL || !valid_number(number)) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, json_pack("[{s:s,s:s}]", "field", "number", "message", "must look like MC-2026-000123"),
                         "an order number looks like MC-2026-000123");
        return;
    }
    query_t *q = new_query(req, Q_NUMBER);
    q->number = number;
    run_query(req, q);
}

static const char *const statuses[] = {"pending", "confirmed", "processing", "shipped", "delivered", "cancelled", NULL};
static const char *const payments[] = {"unpaid", "paid", "refunded", NULL};

/* The query parameters shared by the lists; false when they failed (answered). */
static bool read_list_params(mc_req_t *req, mc_valid_t *v, ord_query_t *q)
{
    q->limit = LIST_DEFAULT_LIMIT;
    q->status = mc_valid_query_enum(v, "status", statuses);
    mc_valid_query_int(v, "limit", 1, LIST_MAX_LIMIT, &q->limit);
    const char *cursor = mc_req_query(req, "cursor");
    if (cursor != NULL) {
        const char *dot = strchr(cursor, '.');
        char *end = NULL;
        long long ms = dot != NULL ? strtoll(cursor, &end, 10) : 0;
        if (dot == NULL || end != dot || dot == cursor || dot - cursor > 15 || !mc_is_object_id(dot + 1, strlen(dot + 1)) ||
            (cursor[0] == '-' && dot - cursor == 1)) {
            mc_valid_error(v, "cursor", "is malformed (pass the endCursor of the previous page)");
        } else {
            q->has_after = true;
            q->after_ms = ms;
            for (int i = 0; i < 24; ++i) {
                char c = dot[1 + i];
                q->after_id[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
            }
            q->after_id[24] = '\0';
        }
    }
    return true;
}

/* An RFC 3339 query parameter. */
static bool query_time(mc_req_t *req, mc_valid_t *v, const char *name, bool *has, int64_t *ms)
{
    const char *s = mc_req_query(req, name);
    *has = false;
    if (s == NULL)
        return true;
    if (mc_time_parse(s, ms) != 0) {
        mc_valid_error(v, name, "must be an RFC 3339 date-time such as 2026-01-31T00:00:00Z");
        return false;
    }
    *has = true;
    return true;
}

/* GET /api/orders: the caller's own orders. */
static void h_list_own(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"status", "limit", "cursor", NULL};
    mc_valid_query_only(&v, known);
    query_t *q = new_query(req, Q_LIST);
    read_list_params(req, &v, &q->q);
    if (mc_valid_fail(&v))
        return;
    q->q.customer = q->actor.user_id;
    run_query(req, q);
}

/* GET /api/orders/seller: a seller's orders (admins: any seller's, or all). */
static void h_list_seller(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"status", "limit", "cursor", "sellerId", NULL};
    mc_valid_query_only(&v, known);
    query_t *q = new_query(req, Q_LIST);
    read_list_params(req, &v, &q->q);
    const char *seller = mc_valid_query_oid(&v, "sellerId");
    if (mc_valid_fail(&v))
        return;
    if (q->actor.role == MC_ROLE_SELLER) {
        if (seller != NULL && strcmp(seller, q->actor.user_id) != 0) {
            mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "sellers see their own orders only");
            return;
        }
        seller = q->actor.user_id;
    }
    q->q.seller = seller; /* an administrator without sellerId: every seller's */
    run_query(req, q);
}

/* GET /api/orders/admin: every order, with filters. */
static void h_list_admin(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"status", "paymentStatus", "customerId", "sellerId", "from", "to", "limit", "cursor", NULL};
    mc_valid_query_only(&v, known);
    query_t *q = new_query(req, Q_LIST);
    read_list_params(req, &v, &q->q);
    q->q.payment = mc_valid_query_enum(&v, "paymentStatus", payments);
    q->q.customer = mc_valid_query_oid(&v, "customerId");
    q->q.seller = mc_valid_query_oid(&v, "sellerId");
    query_time(req, &v, "from", &q->q.has_from, &q->q.from_ms);
    query_time(req, &v, "to", &q->q.has_to, &q->q.to_ms);
    if (mc_valid_fail(&v))
        return;
    run_query(req, q);
}

/* from/to of the statistics: by default the last 30 days; at most 366 days, counted back
 * from `to` (an empty or inverted range reports nothing). */
static bool stats_range(mc_req_t *req, mc_valid_t *v, query_t *q)
{
    bool hf, ht;
    int64_t from = 0, to = 0;
    query_time(req, v, "from", &hf, &from);
    query_time(req, v, "to", &ht, &to);
    if (!mc_valid_ok(v))
        return false;
    if (!ht)
        to = mc_now_ms();
    if (!hf)
        from = to - STATS_DEFAULT_DAYS * DAY_MS;
    if (to - from > STATS_MAX_DAYS * DAY_MS)
        from = to - STATS_MAX_DAYS * DAY_MS;
    if (from > to)
        from = to;
    q->from = from;
    q->to = to;
    return true;
}

/* GET /api/orders/seller/stats */
static void h_seller_stats(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"from", "to", "sellerId", NULL};
    mc_valid_query_only(&v, known);
    query_t *q = new_query(req, Q_STATS);
    const char *seller = mc_valid_query_oid(&v, "sellerId");
    stats_range(req, &v, q);
    if (mc_valid_fail(&v))
        return;
    if (q->actor.role == MC_ROLE_SELLER) {
        if (seller != NULL && strcmp(seller, q->actor.user_id) != 0) {
            mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "sellers see their own statistics only");
            return;
        }
        seller = q->actor.user_id;
    }
    q->stats_seller = seller; /* an administrator without sellerId: every seller (the dashboard) */
    run_query(req, q);
}

/* GET /api/orders/admin/dashboard */
static void h_dashboard(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"from", "to", NULL};
    mc_valid_query_only(&v, known);
    query_t *q = new_query(req, Q_STATS);
    stats_range(req, &v, q);
    if (mc_valid_fail(&v))
        return;
    run_query(req, q);
}

/* --- changes ------------------------------------------------------------------------------------------- */

typedef struct act {
    mc_req_t *req;
    mc_worker_t *w;
    ord_actor_t actor;
    const char *id;
    ord_change_t change;
    ord_changed_t out;
    bool found, published, released;
    bson_error_t bson;
} act_t;

/* Frees a change's outcome. */
static void act_free(void *p)
{
    act_t *a = p;
    ord_changed_free(&a->out);
}

/* Answers with the changed order as the caller may see it. */
static void act_answer(act_t *a)
{
    json_t *view = ord_view(a->out.order, &a->actor);
    mc_respond_json(a->req, 200, view != NULL ? view : json_object());
}

/* On the thread pool: remove what the fast path made unnecessary. */
static void act_finish_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    act_t *a = arg;
    if (a->published && a->out.written) /* unwritten: the entry stays for the roll-forward */
        ord_outbox_delete(db, a->out.entry);
    if (a->released)
        ord_task_done(db, a->id);
}

/* Then answer. */
static void act_finish_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    act_answer(arg);
}

/* Runs act_finish_work when there is something to remove. */
static void act_finish(act_t *a)
{
    if ((!a->published && !a->released) || mc_mongo_submit_req(a->req, act_finish_work, act_finish_done, a) != 0)
        act_answer(a);
}

/* The event went out (or waits in the outbox). */
static void act_on_published(void *data, bool ok)
{
    act_t *a = data;
    a->published = ok;
    act_finish(a);
    mc_req_release(a->req);
}

/* Publishes the change's event, unless an older one of the order must go first. */
static void act_publish(act_t *a)
{
    mc_req_retain(a->req);
    if (a->out.deferred)
        act_on_published(a, false); /* an older event goes first: the sweeper publishes both */
    else
        ord_publish(a->w, a->out.message, act_on_published, a);
}

/* A cancellation's stock and coupon are back (or the task retries). */
static void act_on_released(void *data, bool ok)
{
    act_t *a = data;
    a->released = ok;
    act_publish(a);
    mc_req_release(a->req);
}

/* On the thread pool: the change under its version claim (store.h). */
static void act_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    act_t *a = arg;
    memset(&a->bson, 0, sizeof(a->bson));
    if (ord_change(db, a->id, &a->actor, &a->change, mc_now_ms(), &a->out, &a->found, &a->bson) != 0)
        mc_mongo_fail(mc_mongo_current(), res, &a->bson);
}

/* Refused (404/403/409), or done: a cancellation releases, then the event goes out. */
static void act_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    act_t *a = arg;
    if (res->err != MC_OK) {
        ord_answer_db(req, res);
        return;
    }
    if (!a->found || a->out.verdict == ORD_NOT_VISIBLE) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "order not found");
        return;
    }
    if (a->out.verdict == ORD_FORBIDDEN) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "%s", a->out.why);
        return;
    }
    if (a->out.verdict == ORD_ILLEGAL) {
        mc_respond_error(req, MC_ERR_CONFLICT,
                         json_pack("{s:O,s:O,s:s}", "status", json_object_get(a->out.order, "status") ?: json_null(), "paymentStatus",
                                   json_object_get(a->out.order, "paymentStatus") ?: json_null(), "action", ord_action_name(a->change.act)),
                         "%s", a->out.why);
        return;
    }
    if (a->change.act == ACT_CANCEL) {
        /* give back the stock and the coupon now; the task retries if this fails */
        mc_req_retain(req);
        up_release_all(a->w, a->id, json_is_object(json_object_get(a->out.order, "coupon")), mc_req_id(req), act_on_released, a);
        return;
    }
    act_publish(a);
}

/* POST /api/orders/{id}/{confirm|process|ship|deliver|cancel|payment}: the bodies differ. */
static void h_action(mc_req_t *req, ord_action_t act)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = ord_path_id(req);
    if (id == NULL)
        return;
    bool ok;
    json_t *body = optional_body(req, &ok);
    if (!ok)
        return;
    act_t *a = mc_req_alloc(req, sizeof(*a));
    a->req = req;
    a->w = mc_req_worker(req);
    a->id = id;
    a->change.act = act;
    ord_actor_of(req, &a->actor);
    mc_req_on_free(req, act_free, a);
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    if (act == ACT_SHIP) {
        static const char *const known[] = {"carrier", "trackingNumber", "note", NULL};
        if (body == NULL)
            mc_valid_error(&v, "body", "is required: {carrier, trackingNumber}");
        else
            mc_valid_only(&v, known);
        a->change.carrier = mc_valid_str(&v, "carrier", 1, 100, MC_V_REQUIRED | MC_V_TRIM);
        a->change.tracking = mc_valid_str(&v, "trackingNumber", 1, 100, MC_V_REQUIRED | MC_V_TRIM);
        a->change.note = mc_valid_str(&v, "note", 0, 500, MC_V_NULLABLE | MC_V_MULTILINE);
    } else if (act == ACT_CANCEL) {
        static const char *const known[] = {"reason", NULL};
        if (body != NULL)
            mc_valid_only(&v, known);
        a->change.note = body ? mc_valid_str(&v, "reason", 0, 500, MC_V_NULLABLE | MC_V_MULTILINE) : NULL;
    } else if (act == ACT_PAY) {
        static const char *const known[] = {"paymentStatus", "note", NULL};
        static const char *const to[] = {"paid", "refunded", NULL};
        if (body == NULL)
            mc_valid_error(&v, "body", "is required: {paymentStatus}");
        else
            mc_valid_only(&v, known);
        const char *ps = mc_valid_enum(&v, "paymentStatus", to, MC_V_REQUIRED);
        if (ps != NULL && strcmp(ps, "refunded") == 0)
            a->change.act = ACT_REFUND;
        a->change.note = mc_valid_str(&v, "note", 0, 500, MC_V_NULLABLE | MC_V_MULTILINE);
    } else {
        static const char *const known[] = {"note", NULL};
        if (body != NULL)
            mc_valid_only(&v, known);
        a->change.note = body ? mc_valid_str(&v, "note", 0, 500, MC_V_NULLABLE | MC_V_MULTILINE) : NULL;
    }
    if (mc_valid_fail(&v))
        return;
    if (mc_mongo_submit_req(req, act_work, act_done, a) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the change");
}

static void h_confirm(mc_req_t *req)
{
    h_action(req, ACT_CONFIRM);
}
static void h_process(mc_req_t *req)
{
    h_action(req, ACT_PROCESS);
}
static void h_ship(mc_req_t *req)
{
    h_action(req, ACT_SHIP);
}
static void h_deliver(mc_req_t *req)
{
    h_action(req, ACT_DELIVER);
}
static void h_cancel(mc_req_t *req)
{
    h_action(req, ACT_CANCEL);
}
static void h_payment(mc_req_t *req)
{
    h_action(req, ACT_PAY);
}

const mc_route_t order_routes[] = {
    {"GET", "/api/cart", h_cart_get},
    {"DELETE", "/api/cart", h_cart_clear},
    {"POST", "/api/cart/items", h_cart_add},
    {"PUT", "/api/cart/items/:productId", h_cart_set},
    {"DELETE", "/api/cart/items/:productId", h_cart_remove},
    {"POST", "/api/orders", ord_h_checkout},
    {"GET", "/api/orders", h_list_own},
    {"GET", "/api/orders/seller", h_list_seller},
    {"GET", "/api/orders/seller/stats", h_seller_stats},
    {"GET", "/api/orders/admin", h_list_admin},
    {"GET", "/api/orders/admin/dashboard", h_dashboard},
    {"GET", "/api/orders/number/:number", h_get_number},
    {"GET", "/api/orders/:id", h_get},
    {"POST", "/api/orders/:id/confirm", h_confirm},
    {"POST", "/api/orders/:id/process", h_process},
    {"POST", "/api/orders/:id/ship", h_ship},
    {"POST", "/api/orders/:id/deliver", h_deliver},
    {"POST", "/api/orders/:id/cancel", h_cancel},
    {"POST", "/api/orders/:id/payment", h_payment},
};
const size_t order_nroutes = sizeof(order_routes) / sizeof(order_routes[0]);
