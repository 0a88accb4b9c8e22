/*
 * Integration tests of checkout and the order lifecycle with every real service: FerretDB,
 * Redis, category, product (prices, stock reservations), coupon, order — and auth-issued
 * tokens when the auth service is built. Full journeys (cart → checkout → confirm → ship →
 * deliver), cancellation with the stock and the coupon given back, every refused
 * transition, someone else's order, prices that never come from the client, idempotency
 * keys (same body, other body, concurrent), 200 concurrent checkouts for 50 units of stock,
 * 50 concurrent checkouts for a coupon limited to 10 uses, the events a subscriber sees,
 * a Redis outage, a checkout whose order service dies half-way, queries and statistics.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "harness.h"

static mh_service_t *category_svc, *product_svc, *coupon_svc, *order_svc, *auth_svc;
static mh_sub_t *events;
static char *admin;
static char env_urls[5][600];
static const char *order_env[16];
/* the crash test's process: a short lease, so that its sweeper acts within seconds */
static const char *crash_env[16];

/* --- users ---------------------------------------------------------------------------------- */

typedef struct user {
    char id[25];
    char *token;
} user_t;

static user_t customer, customer2, seller_a, seller_b, seller_c;

/* A user with a token: registered and signed in through the auth service when it is
 * built (sellers promoted by an admin, then signed in again), else minted. */
static void make_user(user_t *u, const char *role, const char *name)
{
    if (auth_svc == NULL) {
        mh_oid(u->id);
        u->token = mh_token(u->id, role);
        return;
    }
    char email[128];
    static int n;
    snprintf(email, sizeof(email), "%s.%d.%ld@example.com", name, ++n, (long)getpid());
    mh_response_t r = mh_send("POST", mh_url(auth_svc, "/api/auth/register"), NULL,
                              json_pack("{s:s,s:s,s:s}", "email", email, "password", "correct horse battery", "name", name));
    if (r.status != 201)
        fail_msg("register %s: %ld %s", email, r.status, r.body);
    json_t *user = json_object_get(r.json, "user");
    snprintf(u->id, sizeof(u->id), "%s", json_string_value(json_object_get(user, "id")));
    mh_response_free(&r);
    if (strcmp(role, "customer") != 0) {
        char path[128];
        snprintf(path, sizeof(path), "/api/users/%s/role", u->id);
        r = mh_send("PUT", mh_url(auth_svc, path), admin, json_pack("{s:s}", "role", role));
        if (r.status != 200)
            fail_msg("role %s: %ld %s", role, r.status, r.body);
        mh_response_free(&r);
    }
    r = mh_send("POST", mh_url(auth_svc, "/api/auth/login"), NULL, json_pack("{s:s,s:s}", "email", email, "password", "correct horse battery"));
    if (r.status != 200)
        fail_msg("login %s: %ld %s", email, r.status, r.body);
    json_t *tokens = json_object_get(r.json, "tokens") ? json_object_get(r.json, "tokens") : r.json;
    u->token = strdup(json_string_value(json_object_get(tokens, "accessToken")));
    mh_response_free(&r);
}

/* --- services ---------------------------------------------------------------------------------- */

static int start_order_with(const char *const *env)
{
    order_svc = mh_service_start("mercato-order", &(mh_service_opts_t){.wait_ready = true, .env = env});
    return order_svc != NULL ? 0 : -1;
}

static int start_order(void)
{
    return start_order_with(order_env);
}

static int setup(void **state)
{
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    admin = mh_token(MH_TEST_USER_ID, "admin");
    /* Shared, loaded test machines: hundreds of checkouts at once make FerretDB answer
     * slowly; the default 5 s socket timeout would turn that into 503s. */
    const char *uri = mh_mongo_uri();
    size_t ulen = strlen(uri);
    snprintf(env_urls[3], sizeof(env_urls[3]), "MONGODB_URI=%s%ssocketTimeoutMS=60000", uri,
             strchr(uri, '?') ? "&" : (ulen > 0 && uri[ulen - 1] == '/') ? "?" : "/?");
    category_svc = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (category_svc == NULL)
        return -1;
    snprintf(env_urls[0], sizeof(env_urls[0]), "CATEGORY_URL=%s", mh_service_url(category_svc));
    const char *const cat_env[] = {env_urls[0], env_urls[3], NULL};
    product_svc = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = cat_env});
    coupon_svc = mh_service_start("mercato-coupon", &(mh_service_opts_t){.wait_ready = true, .env = cat_env});
    if (product_svc == NULL || coupon_svc == NULL)
        return -1;
    char auth_bin[512];
    snprintf(auth_bin, sizeof(auth_bin), "%s/mercato-auth", MERCATO_BIN_DIR);
    if (access(auth_bin, X_OK) == 0) {
        /* a handful of demo accounts from one address: no registration or sign-in limits */
        static const char *const auth_env[] = {"RATE_LIMIT_REGISTER_IP=off", "RATE_LIMIT_LOGIN_IP=off", NULL};
        auth_svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = auth_env});
        if (auth_svc == NULL)
            return -1;
    } else {
        fprintf(stderr, "note: the auth service is not built; tokens are minted with the test secret\n");
    }
    snprintf(env_urls[1], sizeof(env_urls[1]), "PRODUCT_URL=%s", mh_service_url(product_svc));
    snprintf(env_urls[2], sizeof(env_urls[2]), "COUPON_URL=%s", mh_service_url(coupon_svc));
    size_t n = 0;
    order_env[n++] = env_urls[1];
    order_env[n++] = env_urls[2];
    order_env[n++] = env_urls[3];
    order_env[n++] = "ORDER_TAX_RATE_BPS=800";
    order_env[n++] = "ORDER_SHIPPING_FEE=499";
    order_env[n++] = "ORDER_FREE_SHIPPING_MIN=5000";
    order_env[n++] = "ORDER_SWEEP_INTERVAL_MS=100";
    for (size_t i = 0; i < n; ++i)
        crash_env[i] = order_env[i];
    /* loaded machines: 200 checkouts at once make the product service slow to answer */
    order_env[n] = "UPSTREAM_TIMEOUT_MS=30000";
    order_env[n + 1] = "CHECKOUT_LEASE_SECONDS=300";
    order_env[n + 2] = NULL;
    crash_env[n] = "UPSTREAM_TIMEOUT_MS=1000";
    crash_env[n + 1] = "CHECKOUT_LEASE_SECONDS=13";
    crash_env[n + 2] = NULL;
    if (start_order() != 0)
        return -1;
    make_user(&customer, "customer", "Carla");
    make_user(&customer2, "customer", "Chen");
    make_user(&seller_a, "seller", "Ana");
    make_user(&seller_b, "seller", "Bo");
    make_user(&seller_c, "seller", "Cy");
    events = mh_sub_start("orders:events");
    return events != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    mh_sub_stop(events);
    int rc = 0;
    mh_service_t *all[] = {order_svc, auth_svc, coupon_svc, product_svc, category_svc};
    for (size_t i = 0; i < 5; ++i)
        if (all[i] != NULL && mh_service_stop(all[i]) != 0)
            rc = -1;
    user_t *users[] = {&customer, &customer2, &seller_a, &seller_b, &seller_c};
    for (size_t i = 0; i < 5; ++i)
        free(users[i]->token);
    free(admin);
    return rc;
}

/* --- helpers ----------------------------------------------------------------------------------- */

static const char *ourl(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *ourl(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return mh_url(order_svc, path);
}

static const char *str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t num(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static void expect(mh_response_t r, long status, const char *code)
{
    if (r.status != status || (code != NULL && (mh_error_code(&r) == NULL || strcmp(mh_error_code(&r), code) != 0)))
        fail_msg("expected %ld %s, got %ld: %s", status, code ? code : "", r.status, r.body);
    mh_response_free(&r);
}

static const char *reason_of(const mh_response_t *r)
{
    return str(json_object_get(json_object_get(r->json, "error"), "details"), "reason");
}

static const char *category(const char *name)
{
    static char ids[8][25];
    static int next;
    mh_response_t r = mh_send("POST", mh_url(category_svc, "/api/categories"), admin, json_pack("{s:s}", "name", name));
    if (r.status != 201)
        fail_msg("category: %ld %s", r.status, r.body);
    char *id = ids[next++ % 8];
    snprintf(id, 25, "%s", str(r.json, "id"));
    mh_response_free(&r);
    return id;
}

/* A product of seller at price with stock; its id into out. */
static void product(const user_t *seller, const char *name, json_int_t price, json_int_t stock, const char *cat, char out[25])
{
    static const char *def_cat;
    static char def_buf[25];
    if (cat == NULL) {
        if (def_cat == NULL) {
            snprintf(def_buf, sizeof(def_buf), "%s", category("Checkout Things"));
            def_cat = def_buf;
        }
        cat = def_cat;
    }
    mh_response_t r = mh_send("POST", mh_url(product_svc, "/api/products"), seller->token,
                              json_pack("{s:s,s:I,s:s,s:I,s:[s]}", "name", name, "price", price, "categoryId", cat, "stock", stock,
                                        "images", "https://img.example/p.png"));
    if (r.status != 201)
        fail_msg("product: %ld %s", r.status, r.body);
    snprintf(out, 25, "%s", str(r.json, "id"));
    mh_response_free(&r);
}

static json_int_t stock_of(const char *pid)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/products/%s", pid);
    mh_response_t r = mh_get(mh_url(product_svc, path), NULL);
    assert_int_equal(r.status, 200);
    json_int_t s = num(r.json, "stock");
    mh_response_free(&r);
    return s;
}

static void set_price(const char *pid, const user_t *seller, json_int_t price)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/products/%s", pid);
    expect(mh_send("PATCH", mh_url(product_svc, path), seller->token, json_pack("{s:I}", "price", price)), 200, NULL);
}

static const char *coupon(json_t *body)
{
    static char ids[8][25];
    static int next;
    mh_response_t r = mh_send("POST", mh_url(coupon_svc, "/api/coupons"), admin, body);
    if (r.status != 201)
        fail_msg("coupon: %ld %s", r.status, r.body);
    char *id = ids[next++ % 8];
    snprintf(id, 25, "%s", str(r.json, "id"));
    mh_response_free(&r);
    return id;
}

static json_int_t coupon_uses(const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/api/coupons/%s", id);
    mh_response_t r = mh_get(mh_url(coupon_svc, path), admin);
    assert_int_equal(r.status, 200);
    json_int_t n = num(r.json, "usedCount");
    mh_response_free(&r);
    return n;
}

static json_t *address(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s}", "name", "Carla Diaz", "line1", "12 Rue de la Paix", "city", "Paris", "postalCode", "75002",
                     "country", "FR");
}

/* Checks out the given lines ([productId, quantity] pairs as JSON); returns the response. */
static mh_response_t checkout(const user_t *u, json_t *items, const char *coupon_code)
{
    json_t *body = json_pack("{s:o}", "shippingAddress", address());
    if (items != NULL)
        json_object_set_new(body, "items", items);
    if (coupon_code != NULL)
        json_object_set_new(body, "couponCode", json_string(coupon_code));
    return mh_send("POST", ourl("/api/orders"), u->token, body);
}

static json_t *one(const char *pid, json_int_t q)
{
    return json_pack("[{s:s,s:I}]", "productId", pid, "quantity", q);
}

/* Places an order of one line; returns it (new reference). */
static json_t *place(const user_t *u, const char *pid, json_int_t q, const char *coupon_code)
{
    mh_response_t r = checkout(u, one(pid, q), coupon_code);
    if (r.status != 201)
        fail_msg("checkout: %ld %s", r.status, r.body);
    json_t *o = json_incref(r.json);
    mh_response_free(&r);
    return o;
}

static mh_response_t act(const user_t *u, const char *token, const char *id, const char *what, json_t *body)
{
    return mh_send("POST", ourl("/api/orders/%s/%s", id, what), u ? u->token : token, body);
}

/* The events of an order seen so far, in arrival order (new array). */
static json_t *events_of(const char *order_id)
{
    json_t *out = json_array();
    size_t n = mh_sub_count(events);
    for (size_t i = 0; i < n; ++i) {
        json_t *e = mh_sub_message(events, i);
        if (e != NULL && strcmp(str(e, "orderId") ? str(e, "orderId") : "", order_id) == 0)
            json_array_append(out, e);
        json_decref(e);
    }
    return out;
}

typedef struct ev_wait {
    const char *id;
    size_t n;
} ev_wait_t;

static bool has_events(void *p)
{
    ev_wait_t *w = p;
    json_t *e = events_of(w->id);
    bool ok = json_array_size(e) >= w->n;
    json_decref(e);
    return ok;
}

/* Waits for n events of the order and checks they are versions 1..n in order, each once. */
static json_t *expect_events(const char *id, size_t n)
{
    ev_wait_t w = {id, n};
    if (!mh_wait_until(has_events, &w, 15000)) {
        json_t *e = events_of(id);
        fail_msg("order %s: %zu events, expected %zu", id, json_array_size(e), n);
    }
    json_t *e = events_of(id);
    assert_int_equal(json_array_size(e), n);
    for (size_t i = 0; i < n; ++i) {
        json_t *ev = json_array_get(e, i);
        assert_int_equal(num(ev, "version"), (json_int_t)i + 1);
        assert_int_equal(num(json_object_get(ev, "order"), "version"), (json_int_t)i + 1);
        assert_string_equal(str(ev, "status"), str(json_object_get(ev, "order"), "status"));
    }
    return e;
}

/* After an outage delivery is at least once: waits until versions 1..n all arrived and
 * checks that their first arrivals are in order (what a subscriber that ignores versions
 * it has seen relies on). */
static bool has_versions(void *p)
{
    ev_wait_t *w = p;
    json_t *e = events_of(w->id);
    bool seen[64] = {false};
    size_t i;
    json_t *ev;
    json_array_foreach(e, i, ev)
    {
        json_int_t v = num(ev, "version");
        if (v >= 1 && v < 64)
            seen[v] = true;
    }
    json_decref(e);
    for (size_t v = 1; v <= w->n; ++v)
        if (!seen[v])
            return false;
    return true;
}

static void expect_versions_in_order(const char *id, size_t n)
{
    ev_wait_t w = {id, n};
    assert_true(mh_wait_until(has_versions, &w, 20000));
    json_t *e = events_of(id);
    json_int_t highest = 0;
    size_t i;
    json_t *ev;
    json_array_foreach(e, i, ev)
    {
        json_int_t v = num(ev, "version");
        if (v > highest) {
            assert_int_equal(v, highest + 1); /* a new version is always the next one */
            highest = v;
        }
    }
    assert_int_equal(highest, (json_int_t)n);
    json_decref(e);
}

/* --- journeys ------------------------------------------------------------------------------------ */

static void cart_to_delivery(void **state)
{
    char lamp[25], mug[25];
    product(&seller_a, "Desk Lamp", 2599, 10, NULL, lamp);
    product(&seller_b, "Mug", 899, 5, NULL, mug);
    /* the cart: add, add again (merged), change, and read it priced */
    expect(mh_send("DELETE", ourl("/api/cart"), customer.token, NULL), 204, NULL);
    mh_response_t r = mh_send("POST", ourl("/api/cart/items"), customer.token, json_pack("{s:s,s:i}", "productId", lamp, "quantity", 1));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    expect(mh_send("POST", ourl("/api/cart/items"), customer.token, json_pack("{s:s}", "productId", lamp)), 200, NULL);
    expect(mh_send("POST", ourl("/api/cart/items"), customer.token, json_pack("{s:s,s:i}", "productId", mug, "quantity", 7)), 200, NULL);
    r = mh_get(ourl("/api/cart"), customer.token);
    assert_int_equal(r.status, 200);
    json_t *items = json_object_get(r.json, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(str(json_array_get(items, 0), "productId"), lamp);
    assert_int_equal(num(json_array_get(items, 0), "quantity"), 2);
    assert_int_equal(num(json_array_get(items, 0), "unitPrice"), 2599);
    assert_true(json_is_true(json_object_get(json_array_get(items, 0), "available")));
    /* 7 mugs, 5 in stock: flagged */
    assert_string_equal(str(json_array_get(items, 1), "problem"), "INSUFFICIENT_STOCK");
    assert_true(json_is_true(json_object_get(r.json, "hasProblems")));
    assert_int_equal(num(r.json, "itemCount"), 9);
    assert_int_equal(num(r.json, "subtotal"), 2 * 2599);
    mh_response_free(&r);
    r = mh_send("PUT", ourl("/api/cart/items/%s", mug), customer.token, json_pack("{s:i}", "quantity", 3));
    assert_int_equal(r.status, 200);
    assert_false(json_is_true(json_object_get(r.json, "hasProblems")));
    mh_response_free(&r);

    /* the price changes after it went into the cart: the order takes the new one */
    set_price(lamp, &seller_a, 2499);
    coupon(json_pack("{s:s,s:s,s:i}", "code", "JOURNEY10", "type", "percentage", "value", 10));
    size_t before = mh_sub_count(events);
    (void)before;
    r = checkout(&customer, NULL, "journey10");
    assert_int_equal(r.status, 201);
    json_t *o = json_incref(r.json);
    char id[25], number[32], loc[64];
    snprintf(id, sizeof(id), "%s", str(o, "id"));
    snprintf(number, sizeof(number), "%s", str(o, "number"));
    snprintf(loc, sizeof(loc), "/api/orders/%s", id);
    assert_string_equal(mh_header(&r, "location"), loc);
    mh_response_free(&r);
    assert_int_equal(strncmp(number, "MC-", 3), 0);
    assert_string_equal(str(o, "status"), "pending");
    assert_string_equal(str(o, "paymentStatus"), "unpaid");
    assert_string_equal(str(o, "customerId"), customer.id);
    /* 2 × 24.99 + 3 × 8.99 = 76.95; 10 % off = 7.69 (floor); net 69.26: free shipping;
     * tax 8 % of 69.26 = 5.5408 -> 5.54 */
    assert_int_equal(num(o, "subtotal"), 7695);
    assert_int_equal(num(o, "discount"), 769);
    assert_int_equal(num(o, "shipping"), 0);
    assert_int_equal(num(o, "tax"), 554);
    assert_int_equal(num(o, "total"), 7695 - 769 + 554);
    assert_string_equal(str(json_object_get(o, "coupon"), "code"), "JOURNEY10");
    json_t *lines = json_object_get(o, "items");
    assert_int_equal(num(json_array_get(lines, 0), "unitPrice"), 2499);
    assert_int_equal(num(json_array_get(lines, 0), "discount") + num(json_array_get(lines, 1), "discount"), 769);
    assert_int_equal(json_array_size(json_object_get(o, "sellerIds")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "timeline")), 1);
    /* the ordered lines left the cart; the stock is taken */
    r = mh_get(ourl("/api/cart"), customer.token);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 0);
    mh_response_free(&r);
    assert_int_equal(stock_of(lamp), 8);
    assert_int_equal(stock_of(mug), 2);

    /* the lifecycle, by sellers and admins */
    expect(act(&customer, NULL, id, "confirm", NULL), 403, "FORBIDDEN");
    r = act(&seller_a, NULL, id, "confirm", json_pack("{s:s}", "note", "in stock"));
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "confirmed");
    assert_string_equal(str(r.json, "view"), "seller");
    mh_response_free(&r);
    expect(act(&seller_b, NULL, id, "process", NULL), 200, NULL);
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "paid")), 200, NULL);
    r = act(&seller_a, NULL, id, "ship", json_pack("{s:s,s:s}", "carrier", "DHL", "trackingNumber", "JD014600006281"));
    assert_int_equal(r.status, 200);
    assert_string_equal(str(json_object_get(r.json, "shipment"), "trackingNumber"), "JD014600006281");
    mh_response_free(&r);
    r = act(NULL, admin, id, "deliver", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "delivered");
    assert_int_equal(num(r.json, "version"), 6);
    json_t *tl = json_object_get(r.json, "timeline");
    assert_int_equal(json_array_size(tl), 6);
    assert_string_equal(str(json_array_get(tl, 1), "note"), "in stock");
    assert_string_equal(str(json_object_get(json_array_get(tl, 1), "by"), "userId"), seller_a.id);
    assert_string_equal(str(json_object_get(json_array_get(tl, 3), "by"), "role"), "admin");
    mh_response_free(&r);

    /* who sees what */
    r = mh_get(ourl("/api/orders/%s", id), customer.token);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "view"), "full");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    mh_response_free(&r);
    r = mh_get(ourl("/api/orders/number/%s", number), seller_b.token);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "view"), "seller");
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    assert_string_equal(str(json_array_get(json_object_get(r.json, "items"), 0), "productId"), mug);
    assert_true(json_is_null(json_object_get(r.json, "tax")));
    mh_response_free(&r);
    expect(mh_get(ourl("/api/orders/%s", id), customer2.token), 404, "NOT_FOUND");
    expect(mh_get(ourl("/api/orders/%s", id), seller_c.token), 404, "NOT_FOUND");
    expect(mh_get(ourl("/api/orders/number/%s", number), customer2.token), 404, "NOT_FOUND");
    expect(act(&customer2, NULL, id, "cancel", NULL), 404, "NOT_FOUND");

    /* one event per change, in order, each with the whole order, its customer and sellers */
    json_t *ev = expect_events(id, 6);
    assert_string_equal(str(json_array_get(ev, 0), "type"), "order.created");
    assert_string_equal(str(json_array_get(ev, 5), "type"), "order.updated");
    assert_string_equal(str(json_array_get(ev, 5), "status"), "delivered");
    assert_string_equal(str(json_array_get(ev, 0), "customerId"), customer.id);
    assert_int_equal(json_array_size(json_object_get(json_array_get(ev, 0), "sellerIds")), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(json_array_get(ev, 2), "order"), "items")), 2);
    json_decref(ev);
    json_decref(o);
}

static void cancellation_returns_stock_and_coupon(void **state)
{
    char pid[25];
    product(&seller_a, "Kettle", 4000, 3, NULL, pid);
    const char *cid = coupon(json_pack("{s:s,s:s,s:i,s:i}", "code", "ONLYONE", "type", "fixed", "value", 500, "maxUses", 1));
    char coupon_id[25];
    snprintf(coupon_id, sizeof(coupon_id), "%s", cid);
    json_t *o = place(&customer, pid, 2, "ONLYONE");
    char id[25];
    snprintf(id, sizeof(id), "%s", str(o, "id"));
    assert_int_equal(num(o, "discount"), 500);
    assert_int_equal(num(o, "shipping"), 0); /* 80.00 - 5.00 = 75.00: over 50.00, shipping is free */
    json_decref(o);
    assert_int_equal(stock_of(pid), 1);
    assert_int_equal(coupon_uses(coupon_id), 1);
    /* the coupon is used up: another customer cannot have it */
    mh_response_t r = checkout(&customer2, one(pid, 1), "ONLYONE");
    assert_int_equal(r.status, 409);
    assert_string_equal(reason_of(&r), "USED_UP");
    mh_response_free(&r);
    assert_int_equal(stock_of(pid), 1); /* the refused checkout gave its stock back */
    /* cancelled by the customer: stock and coupon return */
    r = act(&customer, NULL, id, "cancel", json_pack("{s:s}", "reason", "changed my mind"));
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "cancelled");
    assert_string_equal(str(json_object_get(r.json, "cancellation"), "reason"), "changed my mind");
    mh_response_free(&r);
    assert_int_equal(stock_of(pid), 3);
    assert_int_equal(coupon_uses(coupon_id), 0);
    json_t *ev = expect_events(id, 2);
    assert_string_equal(str(json_array_get(ev, 1), "type"), "order.cancelled");
    json_decref(ev);
    o = place(&customer2, pid, 1, "ONLYONE");
    json_decref(o);
}

static void every_refused_transition(void **state)
{
    char pid[25];
    product(&seller_a, "Stapler", 1000, 50, NULL, pid);
    json_t *o = place(&customer, pid, 1, NULL);
    char id[25];
    snprintf(id, sizeof(id), "%s", str(o, "id"));
    json_decref(o);
    /* pending: only confirm and cancel */
    expect(act(&seller_a, NULL, id, "process", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "ship", json_pack("{s:s,s:s}", "carrier", "UPS", "trackingNumber", "1Z")), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "deliver", NULL), 409, "CONFLICT");
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "refunded")), 409, "CONFLICT");
    /* roles */
    expect(act(&customer, NULL, id, "confirm", NULL), 403, "FORBIDDEN");
    expect(act(&seller_a, NULL, id, "payment", json_pack("{s:s}", "paymentStatus", "paid")), 403, "FORBIDDEN");
    expect(act(&customer, NULL, id, "payment", json_pack("{s:s}", "paymentStatus", "paid")), 403, "FORBIDDEN");
    expect(act(&seller_c, NULL, id, "confirm", NULL), 404, "NOT_FOUND");
    /* bad bodies */
    expect(act(&seller_a, NULL, id, "ship", NULL), 400, "BAD_REQUEST");
    expect(act(&seller_a, NULL, id, "ship", json_pack("{s:s}", "carrier", "UPS")), 400, "BAD_REQUEST");
    expect(act(&seller_a, NULL, id, "confirm", json_pack("{s:i}", "note", 5)), 400, "BAD_REQUEST");
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "unpaid")), 400, "BAD_REQUEST");
    /* confirmed: not again, not delivered, not shipped before processing */
    expect(act(&seller_a, NULL, id, "confirm", NULL), 200, NULL);
    expect(act(&seller_a, NULL, id, "confirm", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "ship", json_pack("{s:s,s:s}", "carrier", "UPS", "trackingNumber", "1Z")), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "deliver", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "process", NULL), 200, NULL);
    expect(act(&seller_a, NULL, id, "process", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "ship", json_pack("{s:s,s:s}", "carrier", "UPS", "trackingNumber", "1Z")), 200, NULL);
    /* shipped: no cancellation, by anyone */
    mh_response_t r = act(&customer, NULL, id, "cancel", NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(str(json_object_get(json_object_get(r.json, "error"), "details"), "status"), "shipped");
    mh_response_free(&r);
    expect(act(NULL, admin, id, "cancel", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "confirm", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "deliver", NULL), 200, NULL);
    /* delivered: nothing but payment */
    expect(act(&seller_a, NULL, id, "deliver", NULL), 409, "CONFLICT");
    expect(act(NULL, admin, id, "cancel", NULL), 409, "CONFLICT");
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "paid")), 200, NULL);
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "paid")), 409, "CONFLICT");
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "refunded")), 200, NULL);
    expect(act(NULL, admin, id, "payment", json_pack("{s:s}", "paymentStatus", "refunded")), 409, "CONFLICT");
    /* a cancelled order stays cancelled */
    o = place(&customer, pid, 1, NULL);
    snprintf(id, sizeof(id), "%s", str(o, "id"));
    json_decref(o);
    expect(act(&seller_a, NULL, id, "cancel", NULL), 200, NULL);
    expect(act(&seller_a, NULL, id, "cancel", NULL), 409, "CONFLICT");
    expect(act(&seller_a, NULL, id, "confirm", NULL), 409, "CONFLICT");
    /* unknown orders and malformed ids */
    char ghost[25];
    mh_oid(ghost);
    expect(act(NULL, admin, ghost, "confirm", NULL), 404, "NOT_FOUND");
    expect(mh_get(ourl("/api/orders/%s", ghost), admin), 404, "NOT_FOUND");
    expect(mh_get(ourl("/api/orders/not-an-id"), admin), 400, "BAD_REQUEST");
    expect(mh_get(ourl("/api/orders/number/MC-1"), admin), 400, "BAD_REQUEST");
}

/* --- checkout refusals ---------------------------------------------------------------------------- */

static void prices_never_come_from_the_client(void **state)
{
    char pid[25];
    product(&seller_a, "Fountain Pen", 12000, 5, NULL, pid);
    /* a price, a total or a discount in the body is refused; nothing is ordered */
    expect(checkout(&customer, json_pack("[{s:s,s:i,s:i}]", "productId", pid, "quantity", 1, "unitPrice", 1), NULL), 400,
           "BAD_REQUEST");
    mh_response_t r = mh_send("POST", ourl("/api/orders"), customer.token,
                              json_pack("{s:o,s:o,s:i}", "shippingAddress", address(), "items", one(pid, 1), "total", 1));
    expect(r, 400, "BAD_REQUEST");
    assert_int_equal(stock_of(pid), 5);
    /* the order takes the product service's price, and follows a price change */
    json_t *o = place(&customer, pid, 1, NULL);
    assert_int_equal(num(json_array_get(json_object_get(o, "items"), 0), "unitPrice"), 12000);
    json_decref(o);
    set_price(pid, &seller_a, 9900);
    o = place(&customer, pid, 1, NULL);
    assert_int_equal(num(json_array_get(json_object_get(o, "items"), 0), "unitPrice"), 9900);
    assert_int_equal(num(o, "subtotal"), 9900);
    json_decref(o);
}

static void checkout_refusals(void **state)
{
    char pid[25], ghost[25];
    product(&seller_a, "Rare Vase", 50000, 1, NULL, pid);
    mh_oid(ghost);
    mh_response_t r = checkout(&customer, one(ghost, 1), NULL);
    assert_int_equal(r.status, 404);
    assert_string_equal(reason_of(&r), "UNKNOWN_PRODUCT");
    mh_response_free(&r);
    r = checkout(&customer, one(pid, 2), NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(reason_of(&r), "OUT_OF_STOCK");
    mh_response_free(&r);
    r = checkout(&customer, one(pid, 1), "NOSUCHCODE");
    assert_int_equal(r.status, 404);
    mh_response_free(&r);
    assert_int_equal(stock_of(pid), 1); /* the reservation was given back */
    expect(mh_send("DELETE", ourl("/api/cart"), customer2.token, NULL), 204, NULL);
    r = checkout(&customer2, NULL, NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(reason_of(&r), "EMPTY_CART");
    mh_response_free(&r);
    /* a product no longer sold */
    char path[128];
    snprintf(path, sizeof(path), "/api/products/%s", pid);
    expect(mh_send("PATCH", mh_url(product_svc, path), seller_a.token, json_pack("{s:b}", "isActive", 0)), 200, NULL);
    r = checkout(&customer, one(pid, 1), NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(reason_of(&r), "UNAVAILABLE");
    mh_response_free(&r);
    /* hostile and malformed input */
    expect(mh_send("POST", ourl("/api/orders"), customer.token, json_pack("{s:o}", "items", one(pid, 1))), 400, "BAD_REQUEST");
    expect(checkout(&customer, one(pid, 0), NULL), 400, "BAD_REQUEST");
    expect(checkout(&customer, one(pid, 101), NULL), 400, "BAD_REQUEST");
    expect(checkout(&customer, json_pack("[{s:{s:n},s:i}]", "productId", "$ne", "quantity", 1), NULL), 400, "BAD_REQUEST");
    expect(checkout(&customer, one(pid, 1), "bad code!"), 400, "BAD_REQUEST");
    json_t *bad_addr = address();
    json_object_set_new(bad_addr, "country", json_string("France"));
    expect(mh_send("POST", ourl("/api/orders"), customer.token, json_pack("{s:o,s:o}", "shippingAddress", bad_addr, "items", one(pid, 1))),
           400, "BAD_REQUEST");
    expect(mh_send("POST", ourl("/api/orders"), NULL, json_pack("{s:o,s:o}", "shippingAddress", address(), "items", one(pid, 1))), 401,
           "UNAUTHENTICATED");
    mh_http(&(mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer.token, .body = "{\"items\":",
                            .content_type = "application/json"},
            &r);
    expect(r, 400, "BAD_REQUEST");
    mh_http(&(mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer.token, .body = "{}",
                            .content_type = "application/json", .headers = (const char *const[]){"Idempotency-Key: has space", NULL}},
            &r);
    expect(r, 400, "BAD_REQUEST");
    /* the cart's bounds */
    expect(mh_send("POST", ourl("/api/cart/items"), customer2.token, json_pack("{s:s,s:i}", "productId", ghost, "quantity", 1)), 404,
           "NOT_FOUND");
    char cheap[25];
    product(&seller_b, "Pencil", 50, 1000, NULL, cheap);
    expect(mh_send("POST", ourl("/api/cart/items"), customer2.token, json_pack("{s:s,s:i}", "productId", cheap, "quantity", 60)), 200,
           NULL);
    r = mh_send("POST", ourl("/api/cart/items"), customer2.token, json_pack("{s:s,s:i}", "productId", cheap, "quantity", 41));
    assert_int_equal(r.status, 409);
    assert_string_equal(reason_of(&r), "QUANTITY_LIMIT");
    mh_response_free(&r);
    expect(mh_send("PUT", ourl("/api/cart/items/%s", ghost), customer2.token, json_pack("{s:i}", "quantity", 1)), 404, "NOT_FOUND");
    expect(mh_send("DELETE", ourl("/api/cart/items/%s", ghost), customer2.token, NULL), 404, "NOT_FOUND");
    expect(mh_send("DELETE", ourl("/api/cart/items/%s", cheap), customer2.token, NULL), 200, NULL);
}

typedef struct stock_is {
    const char *pid;
    json_int_t want;
} stock_is_t;

static bool stock_back(void *p)
{
    stock_is_t *s = p;
    return stock_of(s->pid) == s->want;
}

/* --- idempotency -------------------------------------------------------------------------------------- */

static mh_response_t keyed(const user_t *u, const char *key, json_t *body)
{
    char hdr[300];
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
    mh_response_t r;
    mh_http(&(mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = u->token, .json = body,
                            .headers = (const char *const[]){hdr, NULL}},
            &r);
    json_decref(body);
    return r;
}

static void idempotency_keys(void **state)
{
    char pid[25];
    product(&seller_a, "Notebook", 300, 100, NULL, pid);
    json_t *body = json_pack("{s:o,s:o}", "shippingAddress", address(), "items", one(pid, 2));
    mh_response_t first = keyed(&customer, "order-42", json_deep_copy(body));
    assert_int_equal(first.status, 201);
    /* the same key and body: the same order, nothing new */
    mh_response_t again = keyed(&customer, "order-42", json_deep_copy(body));
    assert_int_equal(again.status, 201);
    assert_string_equal(mh_header(&again, "idempotent-replayed"), "true");
    assert_string_equal(str(again.json, "id"), str(first.json, "id"));
    assert_string_equal(str(again.json, "number"), str(first.json, "number"));
    assert_int_equal(stock_of(pid), 98);
    mh_response_free(&again);
    /* the same key, another body: 422, nothing new */
    json_t *other = json_pack("{s:o,s:o}", "shippingAddress", address(), "items", one(pid, 3));
    expect(keyed(&customer, "order-42", other), 422, "UNPROCESSABLE");
    assert_int_equal(stock_of(pid), 98);
    /* the key is the customer's: another customer's same key is another checkout */
    mh_response_t theirs = keyed(&customer2, "order-42", json_deep_copy(body));
    assert_int_equal(theirs.status, 201);
    assert_string_not_equal(str(theirs.json, "id"), str(first.json, "id"));
    mh_response_free(&theirs);
    mh_response_free(&first);

    /* the same key ten times at once: one order; the others get it replayed or a 409 */
    enum { N = 10 };
    mh_request_t reqs[N];
    char *text = json_dumps(body, JSON_COMPACT);
    static const char *const burst_hdr[] = {"Idempotency-Key: burst-7", NULL};
    for (int i = 0; i < N; ++i)
        reqs[i] = (mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer.token, .body = text,
                                 .content_type = "application/json", .headers = burst_hdr, .timeout_ms = 60000};
    mh_response_t res[N];
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    char order_id[25] = "";
    int created = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 201) {
            if (order_id[0] == '\0')
                snprintf(order_id, sizeof(order_id), "%s", str(res[i].json, "id"));
            assert_string_equal(str(res[i].json, "id"), order_id);
            ++created;
        } else if (res[i].status != 409) {
            fail_msg("unexpected %ld %s", res[i].status, res[i].body);
        }
        mh_response_free(&res[i]);
    }
    assert_true(created >= 1);
    assert_int_equal(stock_of(pid), 98 - 2 - 2);
    free(text);

    /* a request with the key still running is a 409, deterministically: the first one
     * waits for the (paused) coupon service after recording the key and reserving */
    coupon(json_pack("{s:s,s:s,s:i}", "code", "SLOWPOKE", "type", "fixed", "value", 100));
    json_t *slow = json_pack("{s:o,s:o,s:s}", "shippingAddress", address(), "items", one(pid, 1), "couponCode", "SLOWPOKE");
    text = json_dumps(slow, JSON_COMPACT);
    assert_int_equal(mh_service_signal(coupon_svc, SIGSTOP), 0);
    json_int_t before = stock_of(pid);
    pid_t first_client = fork();
    if (first_client == 0) {
        mh_response_t fr;
        mh_http(&(mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer.token, .body = text,
                                .content_type = "application/json", .headers = (const char *const[]){"Idempotency-Key: slow-1", NULL},
                                .timeout_ms = 60000},
                &fr);
        _exit(fr.status == 201 ? 0 : 1);
    }
    stock_is_t held = {pid, before - 1};
    assert_true(mh_wait_until(stock_back, &held, 15000));
    mh_response_t busy = keyed(&customer, "slow-1", json_deep_copy(slow));
    assert_int_equal(busy.status, 409);
    assert_string_equal(str(json_object_get(json_object_get(busy.json, "error"), "details"), "header"), "Idempotency-Key");
    mh_response_free(&busy);
    kill(mh_service_pid(coupon_svc), SIGCONT);
    int st;
    waitpid(first_client, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    mh_response_t replay = keyed(&customer, "slow-1", json_deep_copy(slow));
    assert_int_equal(replay.status, 201);
    assert_string_equal(mh_header(&replay, "idempotent-replayed"), "true");
    mh_response_free(&replay);
    assert_int_equal(stock_of(pid), before - 1);
    free(text);
    json_decref(slow);
    json_decref(body);
}

/* --- concurrency -------------------------------------------------------------------------------------------- */

/* 200 checkouts at once (one customer's, all at the same moment) for a product with 50 in
 * stock: exactly 50 orders, stock 0. */
static void two_hundred_checkouts_for_fifty(void **state)
{
    enum { N = 200, STOCK = 50 };
    user_t shop;
    make_user(&shop, "seller", "Sneakerhead");
    char pid[25];
    product(&shop, "Limited Sneaker", 15000, STOCK, NULL, pid);
    static mh_request_t reqs[N];
    static mh_response_t res[N];
    json_t *body = json_pack("{s:o,s:o}", "shippingAddress", address(), "items", one(pid, 1));
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    for (int i = 0; i < N; ++i)
        reqs[i] = (mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer2.token, .body = text,
                                 .content_type = "application/json", .timeout_ms = 120000};
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int placed = 0, refused = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 201)
            ++placed;
        else if (res[i].status == 409 && strcmp(reason_of(&res[i]) ?: "", "OUT_OF_STOCK") == 0)
            ++refused;
        else
            fail_msg("unexpected %ld %s", res[i].status, res[i].body);
        mh_response_free(&res[i]);
    }
    free(text);
    assert_int_equal(placed, STOCK);
    assert_int_equal(refused, N - STOCK);
    assert_int_equal(stock_of(pid), 0);
    /* and the orders are there: exactly 50 with the product */
    mh_response_t r = mh_get(ourl("/api/orders/seller?limit=1"), shop.token);
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "totalCount"), STOCK);
    mh_response_free(&r);
    free(shop.token);
}

/* 50 checkouts at once with a coupon limited to 10 uses: exactly 10 orders get it. */
static void coupon_limit_under_fifty_checkouts(void **state)
{
    enum { N = 50, LIMIT = 10 };
    char pid[25];
    product(&seller_b, "Headphones", 8000, 1000, NULL, pid);
    const char *cid = coupon(json_pack("{s:s,s:s,s:i,s:i}", "code", "FIRST10", "type", "percentage", "value", 25, "maxUses", LIMIT));
    char coupon_id[25];
    snprintf(coupon_id, sizeof(coupon_id), "%s", cid);
    static mh_request_t reqs[N];
    static mh_response_t res[N];
    json_t *body = json_pack("{s:o,s:o,s:s}", "shippingAddress", address(), "items", one(pid, 1), "couponCode", "FIRST10");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    for (int i = 0; i < N; ++i)
        reqs[i] = (mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer2.token, .body = text,
                                 .content_type = "application/json", .timeout_ms = 120000};
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int placed = 0, used_up = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 201) {
            ++placed;
            assert_int_equal(num(res[i].json, "discount"), 2000);
        } else if (res[i].status == 409 && strcmp(reason_of(&res[i]) ?: "", "USED_UP") == 0) {
            ++used_up;
        } else {
            fail_msg("unexpected %ld %s", res[i].status, res[i].body);
        }
        mh_response_free(&res[i]);
    }
    free(text);
    assert_int_equal(placed, LIMIT);
    assert_int_equal(used_up, N - LIMIT);
    assert_int_equal(coupon_uses(coupon_id), LIMIT);
    /* every refused checkout gave its reserved unit back */
    assert_int_equal(stock_of(pid), 1000 - LIMIT);
}

/* --- failures ------------------------------------------------------------------------------------------ */

static bool coupon_back(void *p)
{
    return coupon_uses(p) == 0;
}

/* The order service dies while a checkout waits for the coupon service (stock reserved):
 * restarted, its sweeper settles the checkout once the lease is over and gives the stock
 * and the coupon back. */
static void a_checkout_cut_short_is_undone(void **state)
{
    assert_int_equal(mh_service_stop(order_svc), 0);
    assert_int_equal(start_order_with(crash_env), 0);
    char pid[25];
    product(&seller_a, "Tent", 20000, 4, NULL, pid);
    const char *cid = coupon(json_pack("{s:s,s:s,s:i,s:i}", "code", "CRASH5", "type", "fixed", "value", 500, "maxUses", 5));
    char coupon_id[25];
    snprintf(coupon_id, sizeof(coupon_id), "%s", cid);
    assert_int_equal(mh_service_signal(coupon_svc, SIGSTOP), 0);
    json_t *body = json_pack("{s:o,s:o,s:s}", "shippingAddress", address(), "items", one(pid, 2), "couponCode", "CRASH5");
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    pid_t client = fork();
    if (client == 0) {
        mh_response_t r;
        mh_http(&(mh_request_t){.method = "POST", .url = ourl("/api/orders"), .token = customer.token, .body = text,
                                .content_type = "application/json", .timeout_ms = 30000},
                &r);
        _exit(0);
    }
    /* the stock is reserved once the checkout reached the coupon service */
    stock_is_t reserved = {pid, 2};
    assert_true(mh_wait_until(stock_back, &reserved, 15000));
    assert_int_equal(mh_service_signal(order_svc, SIGKILL), 0);
    assert_int_not_equal(mh_service_stop(order_svc), 0); /* it died: not a clean exit */
    waitpid(client, NULL, 0);
    kill(mh_service_pid(coupon_svc), SIGCONT);
    assert_int_equal(start_order_with(crash_env), 0);
    stock_is_t back = {pid, 4};
    assert_true(mh_wait_until(stock_back, &back, 30000));
    assert_true(mh_wait_until(coupon_back, coupon_id, 30000));
    /* and no order of it exists */
    mh_response_t r = mh_get(ourl("/api/orders?limit=100"), customer.token);
    size_t i;
    json_t *o;
    json_array_foreach(json_object_get(r.json, "items"), i, o)
        assert_false(strcmp(str(json_array_get(json_object_get(o, "items"), 0), "productId"), pid) == 0);
    mh_response_free(&r);
    free(text);
    assert_int_equal(mh_service_stop(order_svc), 0);
    assert_int_equal(start_order(), 0);
}

static bool cart_answers(void *p)
{
    mh_response_t r = mh_get(ourl("/api/cart"), customer.token);
    bool ok = r.status == (long)(intptr_t)p;
    mh_response_free(&r);
    return ok;
}

/* Redis stops answering: orders go on, their events wait in the outbox and arrive, in
 * order, once Redis is back; carts answer 503 meanwhile. */
static void redis_outage_loses_no_event(void **state)
{
    char pid[25];
    product(&seller_b, "Blender", 6000, 10, NULL, pid);
    json_t *o = place(&customer, pid, 1, NULL);
    char id[25];
    snprintf(id, sizeof(id), "%s", str(o, "id"));
    json_decref(o);
    json_decref(expect_events(id, 1));
    assert_int_equal(mh_redis_pause(), 0);
    expect(act(&seller_b, NULL, id, "confirm", NULL), 200, NULL);
    expect(act(&seller_b, NULL, id, "process", NULL), 200, NULL);
    assert_true(mh_wait_until(cart_answers, (void *)(intptr_t)503, 10000));
    json_t *during = place(&customer2, pid, 1, NULL); /* explicit lines need no Redis */
    char id2[25];
    snprintf(id2, sizeof(id2), "%s", str(during, "id"));
    json_decref(during);
    assert_int_equal(mh_redis_resume(), 0);
    expect_versions_in_order(id, 3);
    expect_versions_in_order(id2, 1);
    assert_true(mh_wait_until(cart_answers, (void *)(intptr_t)200, 10000));
}

/* --- queries ------------------------------------------------------------------------------------------- */

static void queries_and_statistics(void **state)
{
    user_t buyer, shop, other_shop;
    make_user(&buyer, "customer", "Quinn");
    make_user(&shop, "seller", "Sal");
    make_user(&other_shop, "seller", "Otto");
    char a[25], b[25], c[25];
    product(&shop, "Chair", 5000, 100, NULL, a);
    product(&shop, "Table", 20000, 100, NULL, b);
    product(&other_shop, "Rug", 7000, 100, NULL, c);
    char ids[5][25];
    for (int i = 0; i < 5; ++i) {
        json_t *items = json_pack("[{s:s,s:i},{s:s,s:i}]", "productId", i % 2 ? b : a, "quantity", 1 + i, "productId", c, "quantity", 1);
        mh_response_t r = checkout(&buyer, items, NULL);
        assert_int_equal(r.status, 201);
        snprintf(ids[i], sizeof(ids[i]), "%s", str(r.json, "id"));
        mh_response_free(&r);
    }
    expect(act(&shop, NULL, ids[0], "confirm", NULL), 200, NULL);
    expect(act(&buyer, NULL, ids[1], "cancel", NULL), 200, NULL);

    /* own orders: newest first, by status, paginated */
    mh_response_t r = mh_get(ourl("/api/orders?limit=2"), buyer.token);
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "totalCount"), 5);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    assert_string_equal(str(json_array_get(json_object_get(r.json, "items"), 0), "id"), ids[4]);
    char cursor[128];
    snprintf(cursor, sizeof(cursor), "%s", str(json_object_get(r.json, "pageInfo"), "endCursor"));
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "pageInfo"), "hasNextPage")));
    mh_response_free(&r);
    r = mh_get(ourl("/api/orders?limit=10&cursor=%s", cursor), buyer.token);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 3);
    assert_string_equal(str(json_array_get(json_object_get(r.json, "items"), 2), "id"), ids[0]);
    mh_response_free(&r);
    r = mh_get(ourl("/api/orders?status=cancelled"), buyer.token);
    assert_int_equal(num(r.json, "totalCount"), 1);
    mh_response_free(&r);
    r = mh_get(ourl("/api/orders"), customer2.token);
    size_t k;
    json_t *it;
    json_array_foreach(json_object_get(r.json, "items"), k, it) assert_string_equal(str(it, "customerId"), customer2.id);
    mh_response_free(&r);

    /* a seller's orders: theirs only, with their lines only */
    r = mh_get(ourl("/api/orders/seller?limit=100"), other_shop.token);
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "totalCount"), 5);
    json_array_foreach(json_object_get(r.json, "items"), k, it)
    {
        assert_string_equal(str(it, "view"), "seller");
        assert_int_equal(json_array_size(json_object_get(it, "items")), 1);
        assert_string_equal(str(json_array_get(json_object_get(it, "items"), 0), "productId"), c);
        assert_int_equal(num(it, "total"), 7000);
    }
    mh_response_free(&r);
    expect(mh_get(ourl("/api/orders/seller?sellerId=%s", shop.id), other_shop.token), 403, "FORBIDDEN");
    expect(mh_get(ourl("/api/orders/seller"), buyer.token), 403, "FORBIDDEN");
    /* admins: filters */
    r = mh_get(ourl("/api/orders/admin?customerId=%s&status=pending", buyer.id), admin);
    assert_int_equal(num(r.json, "totalCount"), 3);
    mh_response_free(&r);
    expect(mh_get(ourl("/api/orders/admin"), buyer.token), 403, "FORBIDDEN");

    /* seller statistics: orders by status, revenue of their lines (cancelled excluded),
     * items sold, top products, today in the series */
    r = mh_get(ourl("/api/orders/seller/stats"), shop.token);
    assert_int_equal(r.status, 200);
    json_t *st = r.json;
    assert_int_equal(num(st, "orders"), 5);
    assert_int_equal(num(json_object_get(st, "ordersByStatus"), "cancelled"), 1);
    assert_int_equal(num(json_object_get(st, "ordersByStatus"), "confirmed"), 1);
    /* live: order 0 (1 chair), 2 (3 chairs), 3 (4 tables), 4 (5 chairs) */
    assert_int_equal(num(st, "revenue"), 9 * 5000 + 4 * 20000);
    assert_int_equal(num(st, "itemsSold"), 13);
    json_t *top = json_object_get(st, "topProducts");
    assert_string_equal(str(json_array_get(top, 0), "productId"), b);
    assert_string_equal(str(json_array_get(top, 0), "name"), "Table");
    assert_int_equal(num(json_array_get(top, 1), "quantity"), 9);
    json_int_t day_orders = 0, day_revenue = 0;
    json_array_foreach(json_object_get(st, "perDay"), k, it)
    {
        day_orders += num(it, "orders");
        day_revenue += num(it, "revenue");
    }
    assert_int_equal(day_orders, 4);
    assert_int_equal(day_revenue, 9 * 5000 + 4 * 20000);
    mh_response_free(&r);
    /* the dashboard counts everything */
    r = mh_get(ourl("/api/orders/admin/dashboard"), admin);
    assert_int_equal(r.status, 200);
    assert_true(num(r.json, "orders") >= 5);
    assert_true(num(json_object_get(r.json, "ordersByPaymentStatus"), "unpaid") >= 4);
    mh_response_free(&r);
    expect(mh_get(ourl("/api/orders/admin/dashboard"), shop.token), 403, "FORBIDDEN");
    free(buyer.token);
    free(shop.token);
    free(other_shop.token);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cart_to_delivery),
        cmocka_unit_test(cancellation_returns_stock_and_coupon),
        cmocka_unit_test(every_refused_transition),
        cmocka_unit_test(prices_never_come_from_the_client),
        cmocka_unit_test(checkout_refusals),
        cmocka_unit_test(idempotency_keys),
        cmocka_unit_test(two_hundred_checkouts_for_fifty),
        cmocka_unit_test(coupon_limit_under_fifty_checkouts),
        cmocka_unit_test(a_checkout_cut_short_is_undone),
        cmocka_unit_test(redis_outage_loses_no_event),
        cmocka_unit_test(queries_and_statistics),
    };
    return mh_run_group("order", tests, setup, teardown);
}
