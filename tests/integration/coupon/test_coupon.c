/*
 * Integration tests of the coupon service against a real FerretDB: administration,
 * every reason a code does not apply, redemption and release (idempotent, tombstones),
 * usage limits under concurrency (overall and per customer), the service-only endpoints,
 * bad input, and the database going away.
 */
#include <string.h>
#include <time.h>
#include "harness.h"

static mh_service_t *svc, *categories;
static char *admin, *customer, *seller;
static char customer_id[25];
static char category_url[128];

static int setup(void **state)
{
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    categories = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (categories == NULL)
        return -1;
    snprintf(category_url, sizeof(category_url), "CATEGORY_URL=%s", mh_service_url(categories));
    svc = mh_service_start("mercato-coupon", &(mh_service_opts_t){.wait_ready = true, .env = (const char *const[]){category_url, NULL}});
    if (svc == NULL)
        return -1;
    mh_oid(customer_id);
    admin = mh_token(MH_TEST_USER_ID, "admin");
    customer = mh_token(customer_id, "customer");
    seller = mh_token(MH_TEST_USER_ID, "seller");
    return 0;
}

static int teardown(void **state)
{
    free(admin);
    free(customer);
    free(seller);
    int rc = svc != NULL && mh_service_stop(svc) == 0 ? 0 : -1;
    return categories != NULL && mh_service_stop(categories) == 0 ? rc : -1;
}

/* --- helpers ----------------------------------------------------------------------------------- */

static const char *url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const char *url(const char *fmt, ...)
{
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return mh_url(svc, path);
}

static void expect(mh_response_t r, long status, const char *code)
{
    if (r.status != status || (code != NULL && (mh_error_code(&r) == NULL || strcmp(mh_error_code(&r), code) != 0)))
        fail_msg("expected %ld %s, got %ld: %s", status, code ? code : "", r.status, r.body);
    mh_response_free(&r);
}

static const char *str(json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static json_int_t num(json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *const internal_hdr[] = {"X-Internal-Key: " MH_INTERNAL_KEY, NULL};

/* A request with the internal key. Steals body. */
static mh_response_t internal(const char *method, const char *u, json_t *body)
{
    mh_response_t r;
    mh_http(&(mh_request_t){.method = method, .url = u, .json = body, .headers = internal_hdr}, &r);
    json_decref(body);
    return r;
}

/* Creates a coupon (admin) from a JSON body; returns its id in a static ring. */
static const char *create(json_t *body)
{
    static char ids[16][25];
    static int next;
    mh_response_t r = mh_send("POST", url("/api/coupons"), admin, body);
    if (r.status != 201)
        fail_msg("create: %ld %s", r.status, r.body);
    char *id = ids[next++ % 16];
    snprintf(id, 25, "%s", str(r.json, "id"));
    mh_response_free(&r);
    return id;
}

static json_t *one_line(const char *category, json_int_t price, json_int_t qty)
{
    char pid[25];
    mh_oid(pid);
    return json_pack("[{s:s,s:s?,s:I,s:I}]", "productId", pid, "categoryId", category, "unitPrice", price, "quantity", qty);
}

/* validate → the reason ("OK" when valid) and the discount. */
static const char *validate(const char *code, const char *cust, json_t *lines, json_int_t *discount)
{
    static char reason[64];
    mh_response_t r = internal("POST", url("/api/coupons/validate"),
                               json_pack("{s:s,s:s?,s:o}", "code", code, "customerId", cust, "lines", lines));
    if (r.status != 200)
        fail_msg("validate: %ld %s", r.status, r.body);
    bool valid = json_is_true(json_object_get(r.json, "valid"));
    snprintf(reason, sizeof(reason), "%s", valid ? "OK" : str(r.json, "reason"));
    if (discount)
        *discount = valid ? num(r.json, "discount") : -1;
    mh_response_free(&r);
    return reason;
}

static mh_response_t redeem(const char *code, const char *order, const char *cust, json_t *lines)
{
    return internal("POST", url("/api/coupons/redemptions"),
                    json_pack("{s:s,s:s,s:s,s:o}", "code", code, "orderId", order, "customerId", cust, "lines", lines));
}

static json_int_t used_count(const char *id)
{
    mh_response_t r = mh_get(url("/api/coupons/%s", id), admin);
    assert_int_equal(r.status, 200);
    json_int_t n = num(r.json, "usedCount");
    mh_response_free(&r);
    return n;
}

/* --- administration ---------------------------------------------------------------------------- */

static void create_read_update_delete(void **state)
{
    mh_response_t r = mh_send("POST", url("/api/coupons"), admin,
                              json_pack("{s:s,s:s,s:i,s:i,s:i,s:s,s:[s]}", "code", "spring-sale", "type", "percentage", "value", 15,
                                        "maxDiscount", 2500, "minOrderAmount", 1000, "expiresAt", "2031-05-01T00:00:00+02:00",
                                        "categoryIds", "ABCDEF0123456789ABCDEF01"));
    assert_int_equal(r.status, 201);
    assert_string_equal(str(r.json, "code"), "SPRING-SALE"); /* case-insensitive, stored upper */
    assert_string_equal(str(r.json, "expiresAt"), "2031-04-30T22:00:00.000Z");
    assert_true(json_is_null(json_object_get(r.json, "startsAt")));
    assert_true(json_is_null(json_object_get(r.json, "maxUses")));
    assert_true(json_is_true(json_object_get(r.json, "isActive")));
    assert_int_equal(num(r.json, "usedCount"), 0);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r.json, "categoryIds"), 0)), "abcdef0123456789abcdef01");
    char id[25];
    snprintf(id, sizeof(id), "%s", str(r.json, "id"));
    char loc[64];
    snprintf(loc, sizeof(loc), "/api/coupons/%s", id);
    assert_string_equal(mh_header(&r, "location"), loc);
    mh_response_free(&r);

    /* the code is unique whatever its case */
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:i}", "code", "Spring-Sale", "type", "fixed", "value", 5)),
           409, "CONFLICT");
    r = mh_get(url("/api/coupons/code/spring-SALE"), admin);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "id"), id);
    mh_response_free(&r);

    r = mh_send("PATCH", url("/api/coupons/%s", id), admin, json_pack("{s:n,s:s,s:i}", "maxDiscount", "description", "Spring", "maxUses", 3));
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "maxDiscount")));
    assert_string_equal(str(r.json, "description"), "Spring");
    assert_int_equal(num(r.json, "maxUses"), 3);
    assert_int_equal(num(r.json, "value"), 15);
    mh_response_free(&r);
    /* changes that contradict the stored coupon: 409, nothing changes */
    expect(mh_send("PATCH", url("/api/coupons/%s", id), admin, json_pack("{s:i}", "value", 150)), 409, "CONFLICT");
    expect(mh_send("PATCH", url("/api/coupons/%s", id), admin, json_pack("{s:s}", "startsAt", "2032-01-01T00:00:00Z")), 409,
           "CONFLICT");
    r = mh_send("PATCH", url("/api/coupons/%s", id), admin, json_pack("{s:s,s:i}", "type", "fixed", "value", 150));
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "type"), "fixed");
    mh_response_free(&r);

    r = mh_send("POST", url("/api/coupons/%s/deactivate", id), admin, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "isActive")));
    mh_response_free(&r);
    r = mh_get(url("/api/coupons?isActive=false&code=spr"), admin);
    assert_int_equal(r.status, 200);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 1);
    mh_response_free(&r);
    r = mh_send("POST", url("/api/coupons/%s/activate", id), admin, NULL);
    assert_true(json_is_true(json_object_get(r.json, "isActive")));
    mh_response_free(&r);

    expect(mh_send("DELETE", url("/api/coupons/%s", id), admin, NULL), 204, NULL);
    expect(mh_get(url("/api/coupons/%s", id), admin), 404, "NOT_FOUND");
    expect(mh_send("DELETE", url("/api/coupons/%s", id), admin, NULL), 404, "NOT_FOUND");
    expect(mh_get(url("/api/coupons/code/SPRING-SALE"), admin), 404, "NOT_FOUND");
}

static void list_pages(void **state)
{
    for (int i = 0; i < 5; ++i) {
        char code[32];
        snprintf(code, sizeof(code), "PAGE%d", i);
        create(json_pack("{s:s,s:s,s:i}", "code", code, "type", "fixed", "value", 100 + i));
    }
    char cursor[128] = "";
    int seen = 0;
    for (int page = 0; page < 5; ++page) {
        mh_response_t r = mh_get(cursor[0] ? url("/api/coupons?code=page&limit=2&cursor=%s", cursor) : url("/api/coupons?code=page&limit=2"),
                                 admin);
        assert_int_equal(r.status, 200);
        assert_int_equal(json_integer_value(json_object_get(r.json, "totalCount")), 5);
        size_t n = json_array_size(json_object_get(r.json, "items"));
        assert_int_equal(json_array_size(json_object_get(r.json, "cursors")), n);
        seen += (int)n;
        json_t *pi = json_object_get(r.json, "pageInfo");
        if (n > 0)
            assert_string_equal(str(pi, "endCursor"), json_string_value(json_array_get(json_object_get(r.json, "cursors"), n - 1)));
        bool more = json_is_true(json_object_get(pi, "hasNextPage"));
        if (more)
            snprintf(cursor, sizeof(cursor), "%s", str(pi, "endCursor"));
        mh_response_free(&r);
        if (!more)
            break;
    }
    assert_int_equal(seen, 5);
    expect(mh_get(url("/api/coupons?cursor=12.xyz"), admin), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/coupons?limit=0"), admin), 400, "BAD_REQUEST");
}

/* --- validation ---------------------------------------------------------------------------------- */

/* Creates a category (admin) in the category service; returns its id (static ring). */
static const char *category(const char *name, const char *parent)
{
    static char ids[8][25];
    static int next;
    mh_response_t r = mh_send("POST", mh_url(categories, "/api/categories"), admin,
                              json_pack("{s:s,s:s?}", "name", name, "parentId", parent));
    if (r.status != 201)
        fail_msg("category: %ld %s", r.status, r.body);
    char *id = ids[next++ % 8];
    snprintf(id, 25, "%s", str(r.json, "id"));
    mh_response_free(&r);
    return id;
}

static void every_reason(void **state)
{
    char cat[25], other[25];
    snprintf(cat, sizeof(cat), "%s", category("Shoes", NULL));
    snprintf(other, sizeof(other), "%s", category("Books", NULL));
    char trainers[25];
    snprintf(trainers, sizeof(trainers), "%s", category("Trainers", cat));
    json_int_t d;
    assert_string_equal(validate("NOSUCHCODE", NULL, one_line(NULL, 1000, 1), NULL), "UNKNOWN");
    create(json_pack("{s:s,s:s,s:i,s:b}", "code", "OFFLINE", "type", "percentage", "value", 10, "isActive", 0));
    assert_string_equal(validate("offline", NULL, one_line(NULL, 1000, 1), NULL), "INACTIVE");
    create(json_pack("{s:s,s:s,s:i,s:s}", "code", "LATER", "type", "percentage", "value", 10, "startsAt", "2099-01-01T00:00:00Z"));
    assert_string_equal(validate("LATER", NULL, one_line(NULL, 1000, 1), NULL), "NOT_STARTED");
    create(json_pack("{s:s,s:s,s:i,s:s}", "code", "GONE", "type", "percentage", "value", 10, "expiresAt", "2001-01-01T00:00:00Z"));
    assert_string_equal(validate("GONE", NULL, one_line(NULL, 1000, 1), NULL), "EXPIRED");
    create(json_pack("{s:s,s:s,s:i,s:i}", "code", "BIGSPEND", "type", "fixed", "value", 500, "minOrderAmount", 5000));
    assert_string_equal(validate("BIGSPEND", NULL, one_line(NULL, 4999, 1), NULL), "BELOW_MINIMUM");
    assert_string_equal(validate("BIGSPEND", NULL, one_line(NULL, 2500, 2), &d), "OK");
    assert_int_equal(d, 500);
    create(json_pack("{s:s,s:s,s:i,s:[s]}", "code", "SHOESONLY", "type", "percentage", "value", 50, "categoryIds", cat));
    assert_string_equal(validate("SHOESONLY", NULL, one_line(other, 1000, 1), NULL), "NOT_APPLICABLE");
    assert_string_equal(validate("SHOESONLY", NULL, one_line(NULL, 1000, 1), NULL), "NOT_APPLICABLE");

    /* a mixed cart: only the category's line is discounted, per line and in total */
    /* a coupon for a category applies below it too */
    assert_string_equal(validate("SHOESONLY", NULL, one_line(trainers, 1000, 1), &d), "OK");
    assert_int_equal(d, 500);
    json_t *lines = json_pack("[{s:s,s:s,s:i,s:i},{s:s,s:s,s:i,s:i}]", "productId", "cccccccccccccccccccccccc", "categoryId", cat,
                              "unitPrice", 1999, "quantity", 3, "productId", "dddddddddddddddddddddddd", "categoryId", other,
                              "unitPrice", 10000, "quantity", 1);
    mh_response_t r = internal("POST", url("/api/coupons/validate"), json_pack("{s:s,s:O}", "code", "shoesonly", "lines", lines));
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "valid")));
    assert_int_equal(num(r.json, "discount"), 2998); /* floor(5997 / 2) */
    assert_int_equal(num(r.json, "subtotal"), 15997);
    json_t *ld = json_object_get(r.json, "lines");
    assert_int_equal(num(json_array_get(ld, 0), "discount"), 2998);
    assert_int_equal(num(json_array_get(ld, 1), "discount"), 0);
    mh_response_free(&r);
    json_decref(lines);

    /* a fixed coupon never takes more than the eligible amount: the total stays >= 0 */
    create(json_pack("{s:s,s:s,s:i}", "code", "HUGE", "type", "fixed", "value", 1000000));
    assert_string_equal(validate("HUGE", NULL, one_line(NULL, 250, 2), &d), "OK");
    assert_int_equal(d, 500);

    /* customers validate for themselves; someone else's id is refused */
    r = mh_send("POST", url("/api/coupons/validate"), customer,
                json_pack("{s:s,s:o}", "code", "HUGE", "lines", one_line(NULL, 100, 1)));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    char someone[25];
    mh_oid(someone);
    expect(mh_send("POST", url("/api/coupons/validate"), customer,
                   json_pack("{s:s,s:s,s:o}", "code", "HUGE", "customerId", someone, "lines", one_line(NULL, 100, 1))),
           403, "FORBIDDEN");
    expect(mh_send("POST", url("/api/coupons/validate"), NULL, json_pack("{s:s,s:o}", "code", "HUGE", "lines", one_line(NULL, 100, 1))),
           401, "UNAUTHENTICATED");
}

/* --- redemption ------------------------------------------------------------------------------------ */

static void redeem_is_idempotent_and_release_returns_the_use(void **state)
{
    const char *id = create(json_pack("{s:s,s:s,s:i,s:i,s:i}", "code", "ONCE", "type", "percentage", "value", 20, "maxUses", 1,
                                      "maxUsesPerCustomer", 1));
    char cid[25], order1[25], order2[25];
    snprintf(cid, sizeof(cid), "%s", id);
    mh_oid(order1);
    mh_oid(order2);
    mh_response_t r = redeem("once", order1, customer_id, one_line(NULL, 1000, 2));
    assert_int_equal(r.status, 201);
    assert_int_equal(num(r.json, "discount"), 400);
    assert_string_equal(str(r.json, "orderId"), order1);
    assert_string_equal(str(r.json, "status"), "active");
    mh_response_free(&r);
    /* the same order again: the same redemption, no second use */
    r = redeem("ONCE", order1, customer_id, one_line(NULL, 1000, 2));
    assert_int_equal(r.status, 200);
    assert_int_equal(num(r.json, "discount"), 400);
    mh_response_free(&r);
    assert_int_equal(used_count(cid), 1);
    /* the limit is reached */
    r = redeem("ONCE", order2, customer_id, one_line(NULL, 1000, 2));
    assert_int_equal(r.status, 409);
    assert_string_equal(str(json_object_get(json_object_get(r.json, "error"), "details"), "reason"), "USED_UP_FOR_CUSTOMER");
    mh_response_free(&r);
    char other_customer[25];
    mh_oid(other_customer);
    r = redeem("ONCE", order2, other_customer, one_line(NULL, 1000, 2));
    assert_int_equal(r.status, 409);
    assert_string_equal(str(json_object_get(json_object_get(r.json, "error"), "details"), "reason"), "USED_UP");
    mh_response_free(&r);
    assert_string_equal(validate("ONCE", other_customer, one_line(NULL, 1000, 1), NULL), "USED_UP");
    /* the order is cancelled: the use returns, twice is the same as once */
    r = internal("POST", url("/api/coupons/redemptions/%s/release", order1), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "released");
    mh_response_free(&r);
    expect(internal("POST", url("/api/coupons/redemptions/%s/release", order1), NULL), 200, NULL);
    assert_int_equal(used_count(cid), 0);
    /* a released order cannot redeem again; another order can */
    expect(redeem("ONCE", order1, customer_id, one_line(NULL, 1000, 2)), 409, "CONFLICT");
    expect(redeem("ONCE", order2, customer_id, one_line(NULL, 1000, 2)), 201, NULL);
    assert_int_equal(used_count(cid), 1);
    /* an order that redeemed one code cannot redeem another */
    create(json_pack("{s:s,s:s,s:i}", "code", "OTHERCODE", "type", "fixed", "value", 10));
    expect(redeem("OTHERCODE", order2, customer_id, one_line(NULL, 1000, 2)), 409, "CONFLICT");

    /* releasing an order that never redeemed leaves a record that refuses a late redemption */
    char late[25];
    mh_oid(late);
    r = internal("POST", url("/api/coupons/redemptions/%s/release", late), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "status"), "released");
    mh_response_free(&r);
    expect(redeem("OTHERCODE", late, customer_id, one_line(NULL, 1000, 2)), 409, "CONFLICT");
    r = internal("GET", url("/api/coupons/redemptions/%s", order2), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.json, "code"), "ONCE");
    mh_response_free(&r);
    char none[25];
    mh_oid(none);
    expect(internal("GET", url("/api/coupons/redemptions/%s", none), NULL), 404, "NOT_FOUND");

    /* rules are checked at redemption too, with the reason */
    r = redeem("GONE", none, customer_id, one_line(NULL, 1000, 2));
    assert_int_equal(r.status, 409);
    assert_string_equal(str(json_object_get(json_object_get(r.json, "error"), "details"), "reason"), "EXPIRED");
    mh_response_free(&r);
    r = redeem("NOPE-NOPE", none, customer_id, one_line(NULL, 1000, 2));
    assert_int_equal(r.status, 404);
    assert_string_equal(str(json_object_get(json_object_get(r.json, "error"), "details"), "reason"), "UNKNOWN");
    mh_response_free(&r);
}

/* 50 orders redeem a coupon limited to 10 uses at the same moment: exactly 10 succeed. */
static void limit_holds_under_concurrency(void **state)
{
    enum { N = 50, LIMIT = 10 };
    const char *id = create(json_pack("{s:s,s:s,s:i,s:i}", "code", "RUSH10", "type", "fixed", "value", 100, "maxUses", LIMIT));
    char cid[25];
    snprintf(cid, sizeof(cid), "%s", id);
    mh_request_t reqs[N];
    char *bodies[N];
    for (int i = 0; i < N; ++i) {
        char order[25], cust[25];
        mh_oid(order);
        mh_oid(cust);
        json_t *b = json_pack("{s:s,s:s,s:s,s:o}", "code", "RUSH10", "orderId", order, "customerId", cust, "lines", one_line(NULL, 1000, 1));
        bodies[i] = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        reqs[i] = (mh_request_t){.method = "POST", .url = url("/api/coupons/redemptions"), .body = bodies[i],
                                 .content_type = "application/json", .headers = internal_hdr, .timeout_ms = 60000};
    }
    mh_response_t res[N];
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int ok = 0, used_up = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 201)
            ++ok;
        else if (res[i].status == 409 &&
                 strcmp(str(json_object_get(json_object_get(res[i].json, "error"), "details"), "reason") ?: "", "USED_UP") == 0)
            ++used_up;
        else
            fail_msg("unexpected answer %ld %s", res[i].status, res[i].body);
        mh_response_free(&res[i]);
        free(bodies[i]);
    }
    assert_int_equal(ok, LIMIT);
    assert_int_equal(used_up, N - LIMIT);
    assert_int_equal(used_count(cid), LIMIT);
}

/* One customer, 20 orders at once, a coupon usable twice per customer: exactly 2. */
static void per_customer_limit_holds_under_concurrency(void **state)
{
    enum { N = 20 };
    const char *id = create(json_pack("{s:s,s:s,s:i,s:i}", "code", "TWICE", "type", "fixed", "value", 100, "maxUsesPerCustomer", 2));
    char cid[25], cust[25];
    snprintf(cid, sizeof(cid), "%s", id);
    mh_oid(cust);
    mh_request_t reqs[N];
    char *bodies[N];
    for (int i = 0; i < N; ++i) {
        char order[25];
        mh_oid(order);
        json_t *b = json_pack("{s:s,s:s,s:s,s:o}", "code", "TWICE", "orderId", order, "customerId", cust, "lines", one_line(NULL, 1000, 1));
        bodies[i] = json_dumps(b, JSON_COMPACT);
        json_decref(b);
        reqs[i] = (mh_request_t){.method = "POST", .url = url("/api/coupons/redemptions"), .body = bodies[i],
                                 .content_type = "application/json", .headers = internal_hdr, .timeout_ms = 60000};
    }
    mh_response_t res[N];
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int ok = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 201)
            ++ok;
        else if (res[i].status != 409)
            fail_msg("unexpected answer %ld %s", res[i].status, res[i].body);
        mh_response_free(&res[i]);
        free(bodies[i]);
    }
    assert_int_equal(ok, 2);
    assert_int_equal(used_count(cid), 2);
    assert_string_equal(validate("TWICE", cust, one_line(NULL, 1000, 1), NULL), "USED_UP_FOR_CUSTOMER");
}

/* Released uses are found again even when they are below the hint. */
static void released_uses_are_reused(void **state)
{
    const char *id = create(json_pack("{s:s,s:s,s:i,s:i}", "code", "THREE", "type", "fixed", "value", 1, "maxUses", 3));
    char cid[25], orders[4][25];
    snprintf(cid, sizeof(cid), "%s", id);
    for (int i = 0; i < 4; ++i) {
        char cust[25];
        mh_oid(orders[i]);
        mh_oid(cust);
        expect(redeem("THREE", orders[i], cust, one_line(NULL, 10, 1)), i < 3 ? 201 : 409, NULL);
    }
    expect(internal("POST", url("/api/coupons/redemptions/%s/release", orders[0]), NULL), 200, NULL);
    char cust[25];
    mh_oid(cust);
    expect(redeem("THREE", orders[3], cust, one_line(NULL, 10, 1)), 201, NULL);
    assert_int_equal(used_count(cid), 3);
    char order5[25];
    mh_oid(order5);
    expect(redeem("THREE", order5, cust, one_line(NULL, 10, 1)), 409, "CONFLICT");
}

/* --- refusals ------------------------------------------------------------------------------------- */

static void service_endpoints_need_the_internal_key(void **state)
{
    char order[25];
    mh_oid(order);
    json_t *b = json_pack("{s:s,s:s,s:s,s:o}", "code", "HUGE", "orderId", order, "customerId", customer_id, "lines", one_line(NULL, 1, 1));
    expect(mh_send("POST", url("/api/coupons/redemptions"), admin, json_incref(b)), 401, "UNAUTHENTICATED");
    mh_response_t r;
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/coupons/redemptions"), .json = b,
                            .headers = (const char *const[]){"X-Internal-Key: wrong-key-wrong-key-wrong-key-wrong", NULL}},
            &r);
    expect(r, 401, "UNAUTHENTICATED");
    json_decref(b);
    expect(mh_send("POST", url("/api/coupons/redemptions/%s/release", order), admin, NULL), 401, "UNAUTHENTICATED");
    expect(mh_get(url("/api/coupons/redemptions/%s", order), customer), 403, "FORBIDDEN");
    /* admin routes */
    expect(mh_get(url("/api/coupons"), customer), 403, "FORBIDDEN");
    expect(mh_get(url("/api/coupons"), seller), 403, "FORBIDDEN");
    expect(mh_get(url("/api/coupons"), NULL), 401, "UNAUTHENTICATED");
    expect(mh_send("POST", url("/api/coupons"), customer, json_pack("{s:s,s:s,s:i}", "code", "MINE", "type", "fixed", "value", 1)), 403,
           "FORBIDDEN");
    char *expired = mh_token_at(MH_TEST_USER_ID, "admin", time(NULL) - 7200);
    expect(mh_get(url("/api/coupons"), expired), 401, "UNAUTHENTICATED");
    free(expired);
}

static void bad_input_is_refused(void **state)
{
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:i}", "code", "PCT", "type", "percentage", "value", 101)),
           400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:i}", "code", "a b", "type", "fixed", "value", 1)), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:i}", "code", "AB", "type", "fixed", "value", 1)), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:i}", "code", "OK1", "type", "bogo", "value", 1)), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:f}", "code", "OK2", "type", "fixed", "value", 1.5)), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:{s:n},s:s,s:i}", "code", "$ne", "type", "fixed", "value", 1)), 400,
           "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin,
                   json_pack("{s:s,s:s,s:i,s:s}", "code", "OK3", "type", "fixed", "value", 1, "expiresAt", "tomorrow")),
           400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin,
                   json_pack("{s:s,s:s,s:i,s:s,s:s}", "code", "OK4", "type", "fixed", "value", 1, "startsAt", "2030-01-02T00:00:00Z",
                             "expiresAt", "2030-01-01T00:00:00Z")),
           409, "CONFLICT");
    expect(mh_send("POST", url("/api/coupons"), admin,
                   json_pack("{s:s,s:s,s:i,s:[s,s]}", "code", "OK5", "type", "fixed", "value", 1, "categoryIds",
                             "aaaaaaaaaaaaaaaaaaaaaaaa", "AAAAAAAAAAAAAAAAAAAAAAAA")),
           400, "BAD_REQUEST");
    expect(mh_send("POST", url("/api/coupons"), admin, json_pack("{s:s,s:s,s:i,s:i}", "code", "OK6", "type", "fixed", "value", 1, "_id", 1)),
           400, "BAD_REQUEST");
    expect(mh_send("PATCH", url("/api/coupons/%s", MH_TEST_USER_ID), admin, json_pack("{}")), 400, "BAD_REQUEST");
    expect(mh_send("PATCH", url("/api/coupons/%s", MH_TEST_USER_ID), admin, json_pack("{s:i}", "value", 5)), 404, "NOT_FOUND");
    expect(mh_get(url("/api/coupons/not-an-id"), admin), 400, "BAD_REQUEST");
    expect(mh_get(url("/api/coupons/code/x"), admin), 400, "BAD_REQUEST");
    /* lines */
    expect(internal("POST", url("/api/coupons/validate"), json_pack("{s:s,s:[]}", "code", "HUGE", "lines")), 400, "BAD_REQUEST");
    expect(internal("POST", url("/api/coupons/validate"),
                    json_pack("{s:s,s:[{s:s,s:i,s:i}]}", "code", "HUGE", "lines", "productId", "x", "unitPrice", 1, "quantity", 1)),
           400, "BAD_REQUEST");
    expect(internal("POST", url("/api/coupons/validate"),
                    json_pack("{s:s,s:[{s:s,s:i,s:i}]}", "code", "HUGE", "lines", "productId", MH_TEST_USER_ID, "unitPrice", -1,
                              "quantity", 1)),
           400, "BAD_REQUEST");
    expect(internal("POST", url("/api/coupons/validate"),
                    json_pack("{s:s,s:[{s:s,s:i,s:i}]}", "code", "HUGE", "lines", "productId", MH_TEST_USER_ID, "unitPrice", 1,
                              "quantity", 0)),
           400, "BAD_REQUEST");
    mh_response_t r;
    mh_http(&(mh_request_t){.method = "POST", .url = url("/api/coupons/validate"), .headers = internal_hdr, .body = "{\"code\":",
                            .content_type = "application/json"},
            &r);
    expect(r, 400, "BAD_REQUEST");
    expect(internal("POST", url("/api/coupons/redemptions/not-an-id/release"), NULL), 400, "BAD_REQUEST");
}

static bool ready_is(void *arg)
{
    mh_response_t r = mh_get(url("/ready"), NULL);
    bool ok = r.json != NULL && strcmp(str(r.json, "status") ? str(r.json, "status") : "", (const char *)arg) == 0;
    mh_response_free(&r);
    return ok;
}

static void answers_503_without_the_database(void **state)
{
    if (!mh_mongo_controllable())
        skip();
    assert_int_equal(mh_mongo_stop(), 0);
    char order[25];
    mh_oid(order);
    mh_response_t r = redeem("HUGE", order, customer_id, one_line(NULL, 1000, 1));
    assert_int_equal(r.status, 503);
    assert_string_equal(mh_error_code(&r), "UNAVAILABLE");
    mh_response_free(&r);
    expect(mh_get(url("/api/coupons"), admin), 503, "UNAVAILABLE");
    assert_int_equal(mh_mongo_start(), 0);
    assert_true(mh_wait_until(ready_is, "ready", 20000));
    expect(redeem("HUGE", order, customer_id, one_line(NULL, 1000, 1)), 201, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_read_update_delete),
        cmocka_unit_test(list_pages),
        cmocka_unit_test(every_reason),
        cmocka_unit_test(redeem_is_idempotent_and_release_returns_the_use),
        cmocka_unit_test(limit_holds_under_concurrency),
        cmocka_unit_test(per_customer_limit_holds_under_concurrency),
        cmocka_unit_test(released_uses_are_reused),
        cmocka_unit_test(service_endpoints_need_the_internal_key),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(answers_503_without_the_database),
    };
    return mh_run_group("coupon", tests, setup, teardown);
}
