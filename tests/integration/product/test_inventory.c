/*
 * Integration tests of stock reservations, with two product-service processes on one
 * FerretDB (whose updates are read-then-write): no overselling under 200 concurrent
 * reservations spread over both processes, a ledger that sums to the stock, idempotency
 * by order id (also for concurrent duplicates), all-or-none, commit/release, expiry, and
 * every refusal.
 */
#include <string.h>
#include "common.h"

static const char *cat;

static int setup(void **state)
{
    /* a fast sweep, so that expiry is seen within a test */
    if (pt_start(2, (const char *const[]){"RESERVATION_SWEEP_MS=200", NULL}) != 0)
        return -1;
    cat = pt_category("Inventory", NULL);
    return 0;
}

static int teardown(void **state)
{
    return pt_stop() == 0 ? 0 : -1;
}

static json_t *stocked(const char *name, long long stock)
{
    return pt_product(pt_seller, json_pack("{s:s,s:i,s:s,s:I}", "name", name, "price", 500, "categoryId", cat, "stock",
                                           (json_int_t)stock));
}

static long long stock_of(int which, const char *id)
{
    json_t *p = pt_get(pt_url(which, "/api/products/%s", id), NULL);
    long long s = pt_int(p, "stock");
    json_decref(p);
    return s;
}

static json_t *reservation_body(const char *order, const char *id, long long qty)
{
    return json_pack("{s:s,s:[{s:s,s:I}]}", "orderId", order, "items", "productId", id, "quantity", (json_int_t)qty);
}

/* Every ledger entry of a product (all pages), newest first. Checks the chain: each
 * balance is the previous one plus the delta, seqs count down by one, no balance is
 * negative. Returns the sum of the deltas. */
static long long ledger_sum(const char *id, size_t *entries)
{
    long long sum = 0, prev_seq = -1, prev_balance = -1, prev_delta = 0;
    char cursor[32] = "";
    *entries = 0;
    for (;;) {
        json_t *page = pt_get(cursor[0] ? pt_url(0, "/api/products/%s/stock/movements?limit=200&cursor=%s", id, cursor)
                                        : pt_url(0, "/api/products/%s/stock/movements?limit=200", id),
                              pt_admin);
        json_t *items = json_object_get(page, "items"), *m;
        size_t i;
        json_array_foreach(items, i, m)
        {
            long long seq = pt_int(m, "seq"), bal = pt_int(m, "balance"), delta = pt_int(m, "delta");
            assert_true(bal >= 0);
            if (prev_seq >= 0) {
                assert_int_equal(seq, prev_seq - 1);
                assert_int_equal(bal + prev_delta, prev_balance);
            }
            prev_seq = seq, prev_balance = bal, prev_delta = delta;
            sum += delta;
            ++*entries;
        }
        json_t *pi = json_object_get(page, "pageInfo");
        bool more = json_is_true(json_object_get(pi, "hasNextPage"));
        if (more)
            snprintf(cursor, sizeof(cursor), "%s", pt_str(pi, "endCursor"));
        json_decref(page);
        if (!more)
            break;
    }
    assert_int_equal(prev_seq, 1); /* the chain reaches the first entry */
    json_t *first = pt_get(pt_url(1, "/api/products/%s/stock/movements?limit=1", id), pt_admin);
    assert_int_equal(pt_int(first, "totalCount"), (long long)*entries);
    json_decref(first);
    return sum;
}

/* --- the test ------------------------------------------------------------------ */

#define RACERS 200

static void two_processes_never_oversell(void **state)
{
    json_t *p = stocked("Limited Edition Sneakers", 50);
    char id[25];
    pt_id(p, id);
    json_decref(p);

    static mh_request_t reqs[RACERS];
    static mh_response_t res[RACERS];
    static char bodies[RACERS][160], urls[2][256];
    snprintf(urls[0], sizeof(urls[0]), "%s", pt_url(0, "/api/inventory/reservations"));
    snprintf(urls[1], sizeof(urls[1]), "%s", pt_url(1, "/api/inventory/reservations"));
    static const char *const hdrs[] = {"X-Internal-Key: " MH_INTERNAL_KEY, "Content-Type: application/json", NULL};
    for (int i = 0; i < RACERS; ++i) {
        snprintf(bodies[i], sizeof(bodies[i]), "{\"orderId\":\"race-%d\",\"items\":[{\"productId\":\"%s\",\"quantity\":1}]}", i, id);
        reqs[i] = (mh_request_t){.method = "POST", .url = urls[i % 2], .body = bodies[i], .headers = hdrs, .timeout_ms = 120000};
    }
    assert_int_equal(mh_http_parallel(reqs, RACERS, res), 0);
    int won = 0, lost = 0;
    bool won_by[RACERS] = {false};
    for (int i = 0; i < RACERS; ++i) {
        if (res[i].status == 201) {
            ++won;
            won_by[i] = true;
            assert_string_equal(pt_str(res[i].json, "status"), "reserved");
        } else if (res[i].status == 409) {
            ++lost;
            assert_string_equal(mh_error_code(&res[i]), "CONFLICT");
            json_t *d = json_array_get(json_object_get(json_object_get(res[i].json, "error"), "details"), 0);
            assert_string_equal(pt_str(d, "productId"), id);
            assert_int_equal(pt_int(d, "requested"), 1);
            assert_int_equal(pt_int(d, "available"), 0);
        } else {
            fail_msg("reservation %d: %ld %s", i, res[i].status, res[i].body);
        }
        mh_response_free(&res[i]);
    }
    assert_int_equal(won, 50);
    assert_int_equal(lost, 150);
    /* final stock 0, seen by both processes */
    assert_int_equal(stock_of(0, id), 0);
    assert_int_equal(stock_of(1, id), 0);
    /* the ledger: the initial 50 and 50 reservations of one unit, summing to the stock */
    size_t entries;
    assert_int_equal(ledger_sum(id, &entries), 0);
    assert_int_equal(entries, 51);
    /* repeating any reservation changes nothing: a winner gets its reservation back, a
     * loser is refused again */
    for (int i = 0; i < RACERS; i += 7) {
        char order[16];
        snprintf(order, sizeof(order), "race-%d", i);
        mh_response_t r = pt_internal("POST", pt_url((i + 1) % 2, "/api/inventory/reservations"), reservation_body(order, id, 1));
        assert_int_equal(r.status, won_by[i] ? 200 : 409);
        mh_response_free(&r);
    }
    assert_int_equal(stock_of(0, id), 0);
    assert_int_equal(ledger_sum(id, &entries), 0);
    assert_int_equal(entries, 51);
}

/* Manual stock changes by the seller race with reservations: the stock still never goes
 * below zero and the ledger still sums to it. */
static void mixed_writers_keep_the_ledger_consistent(void **state)
{
    json_t *p = stocked("Mixed Writers Mug", 20);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    enum { N = 60 };
    static mh_request_t reqs[N];
    static mh_response_t res[N];
    static char bodies[N][200], urls[N][256], auth[1024];
    static const char *const ihdrs[] = {"X-Internal-Key: " MH_INTERNAL_KEY, "Content-Type: application/json", NULL};
    static const char *hdrs[3];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", pt_seller);
    hdrs[0] = auth, hdrs[1] = "Content-Type: application/json", hdrs[2] = NULL;
    for (int i = 0; i < N; ++i) {
        if (i % 3 == 0) { /* the seller removes one unit */
            snprintf(urls[i], sizeof(urls[i]), "%s", pt_url(i % 2, "/api/products/%s/stock", id));
            snprintf(bodies[i], sizeof(bodies[i]), "{\"delta\":-1,\"reason\":\"damaged\"}");
            reqs[i] = (mh_request_t){.method = "POST", .url = urls[i], .body = bodies[i], .headers = hdrs, .timeout_ms = 120000};
        } else {
            snprintf(urls[i], sizeof(urls[i]), "%s", pt_url(i % 2, "/api/inventory/reservations"));
            snprintf(bodies[i], sizeof(bodies[i]), "{\"orderId\":\"mixed-%d\",\"items\":[{\"productId\":\"%s\",\"quantity\":1}]}", i, id);
            reqs[i] = (mh_request_t){.method = "POST", .url = urls[i], .body = bodies[i], .headers = ihdrs, .timeout_ms = 120000};
        }
    }
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int taken = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 200 || res[i].status == 201)
            ++taken;
        else if (res[i].status != 409)
            fail_msg("request %d: %ld %s", i, res[i].status, res[i].body);
        mh_response_free(&res[i]);
    }
    assert_int_equal(taken, 20);
    assert_int_equal(stock_of(1, id), 0);
    size_t entries;
    assert_int_equal(ledger_sum(id, &entries), 0);
    assert_int_equal(entries, 21);
}

/* --- semantics -------------------------------------------------------------------------------- */

static void all_or_none(void **state)
{
    json_t *a = stocked("Plenty", 10), *b = stocked("Scarce", 1);
    char ida[25], idb[25];
    pt_id(a, ida), pt_id(b, idb);
    json_decref(a), json_decref(b);
    mh_response_t r = pt_internal("POST", pt_url(0, "/api/inventory/reservations"),
                                  json_pack("{s:s,s:[{s:s,s:i},{s:s,s:i}]}", "orderId", "aon-1", "items", "productId", ida,
                                            "quantity", 3, "productId", idb, "quantity", 2));
    assert_int_equal(r.status, 409);
    json_t *d = json_object_get(json_object_get(r.json, "error"), "details");
    assert_int_equal(json_array_size(d), 1);
    assert_string_equal(pt_str(json_array_get(d, 0), "productId"), idb);
    assert_int_equal(pt_int(json_array_get(d, 0), "requested"), 2);
    assert_int_equal(pt_int(json_array_get(d, 0), "available"), 1);
    mh_response_free(&r);
    assert_int_equal(stock_of(0, ida), 10);
    assert_int_equal(stock_of(0, idb), 1);
    /* both fit: both are taken, in one reservation; a product named twice counts once */
    r = pt_internal("POST", pt_url(1, "/api/inventory/reservations"),
                    json_pack("{s:s,s:[{s:s,s:i},{s:s,s:i},{s:s,s:i}]}", "orderId", "aon-2", "items", "productId", idb,
                              "quantity", 1, "productId", ida, "quantity", 3, "productId", ida, "quantity", 4));
    assert_int_equal(r.status, 201);
    assert_int_equal(json_array_size(json_object_get(r.json, "items")), 2);
    mh_response_free(&r);
    assert_int_equal(stock_of(0, ida), 3);
    assert_int_equal(stock_of(1, idb), 0);
}

static void idempotent_by_order_id(void **state)
{
    json_t *p = stocked("Idempotent Lamp", 30);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    mh_response_t r = pt_internal("POST", pt_url(0, "/api/inventory/reservations"), reservation_body("idem-1", id, 4));
    assert_int_equal(r.status, 201);
    char expires[64];
    snprintf(expires, sizeof(expires), "%s", pt_str(r.json, "expiresAt"));
    mh_response_free(&r);
    r = pt_internal("POST", pt_url(1, "/api/inventory/reservations"), reservation_body("idem-1", id, 4));
    assert_int_equal(r.status, 200);
    assert_string_equal(pt_str(r.json, "status"), "reserved");
    assert_string_equal(pt_str(r.json, "expiresAt"), expires);
    mh_response_free(&r);
    assert_int_equal(stock_of(0, id), 26);
    /* the same order id with other items */
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations"), reservation_body("idem-1", id, 5)), 422,
              "UNPROCESSABLE");
    assert_int_equal(stock_of(0, id), 26);

    /* 20 identical calls at once, over both processes: the stock moves once */
    enum { N = 20 };
    static mh_request_t reqs[N];
    static mh_response_t res[N];
    static char body[160], urls[2][256];
    static const char *const hdrs[] = {"X-Internal-Key: " MH_INTERNAL_KEY, "Content-Type: application/json", NULL};
    snprintf(body, sizeof(body), "{\"orderId\":\"idem-burst\",\"items\":[{\"productId\":\"%s\",\"quantity\":2}]}", id);
    snprintf(urls[0], sizeof(urls[0]), "%s", pt_url(0, "/api/inventory/reservations"));
    snprintf(urls[1], sizeof(urls[1]), "%s", pt_url(1, "/api/inventory/reservations"));
    for (int i = 0; i < N; ++i)
        reqs[i] = (mh_request_t){.method = "POST", .url = urls[i % 2], .body = body, .headers = hdrs, .timeout_ms = 60000};
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int created = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 201)
            ++created;
        else if (res[i].status != 200)
            fail_msg("call %d: %ld %s", i, res[i].status, res[i].body);
        assert_string_equal(pt_str(res[i].json, "status"), "reserved");
        mh_response_free(&res[i]);
    }
    assert_int_equal(created, 1);
    assert_int_equal(stock_of(1, id), 24);
    size_t entries;
    assert_int_equal(ledger_sum(id, &entries), 24);
    assert_int_equal(entries, 3);
}

static const char *status_of(const char *order)
{
    static char s[32];
    mh_response_t r = pt_internal("GET", pt_url(1, "/api/inventory/reservations/%s", order), NULL);
    assert_int_equal(r.status, 200);
    snprintf(s, sizeof(s), "%s", pt_str(r.json, "status"));
    mh_response_free(&r);
    return s;
}

static void commit_and_release(void **state)
{
    json_t *p = stocked("Transitions Kettle", 10);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    /* reserve → commit (idempotent) → release after commit returns the stock */
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations"), reservation_body("tr-1", id, 3)), 201, NULL);
    assert_int_equal(stock_of(0, id), 7);
    mh_response_t r = pt_internal("POST", pt_url(1, "/api/inventory/reservations/tr-1/commit"), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(pt_str(r.json, "status"), "committed");
    mh_response_free(&r);
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations/tr-1/commit"), NULL), 200, NULL);
    assert_int_equal(stock_of(0, id), 7); /* sold */
    r = pt_internal("POST", pt_url(0, "/api/inventory/reservations/tr-1/release"), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(pt_str(r.json, "status"), "released");
    mh_response_free(&r);
    assert_int_equal(stock_of(1, id), 10);
    pt_expect(pt_internal("POST", pt_url(1, "/api/inventory/reservations/tr-1/release"), NULL), 200, NULL);
    assert_int_equal(stock_of(1, id), 10); /* once only */
    pt_expect(pt_internal("POST", pt_url(1, "/api/inventory/reservations/tr-1/commit"), NULL), 409, "CONFLICT");

    /* reserve → release → commit is refused, the stock is back */
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations"), reservation_body("tr-2", id, 4)), 201, NULL);
    assert_int_equal(stock_of(0, id), 6);
    pt_expect(pt_internal("POST", pt_url(1, "/api/inventory/reservations/tr-2/release"), NULL), 200, NULL);
    assert_int_equal(stock_of(0, id), 10);
    r = pt_internal("POST", pt_url(0, "/api/inventory/reservations/tr-2/commit"), NULL);
    assert_int_equal(r.status, 409);
    assert_string_equal(pt_str(json_object_get(json_object_get(r.json, "error"), "details"), "status"), "released");
    mh_response_free(&r);
    assert_string_equal(status_of("tr-2"), "released");
    /* a repeated reserve of a released order answers it as it is, and takes nothing */
    r = pt_internal("POST", pt_url(0, "/api/inventory/reservations"), reservation_body("tr-2", id, 4));
    assert_int_equal(r.status, 200);
    assert_string_equal(pt_str(r.json, "status"), "released");
    mh_response_free(&r);
    assert_int_equal(stock_of(0, id), 10);

    /* unknown orders */
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations/nope/commit"), NULL), 404, "NOT_FOUND");
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations/nope/release"), NULL), 404, "NOT_FOUND");
    pt_expect(pt_internal("GET", pt_url(0, "/api/inventory/reservations/nope"), NULL), 404, "NOT_FOUND");
    size_t entries;
    assert_int_equal(ledger_sum(id, &entries), 10);
}

typedef struct wait_stock {
    const char *id;
    long long want;
} wait_stock_t;

static bool stock_is(void *arg)
{
    wait_stock_t *w = arg;
    return stock_of(0, w->id) == w->want;
}

static bool past(void *arg)
{
    return mh_now_ms() >= *(uint64_t *)arg;
}

static long long sweeps(int which)
{
    mh_response_t r = pt_internal("GET", pt_url(which, "/internal/stats"), NULL);
    assert_int_equal(r.status, 200);
    long long n = pt_int(r.json, "sweeps");
    mh_response_free(&r);
    return n;
}

typedef struct sweeps_wait {
    long long want[2];
} sweeps_t;

static bool swept(void *arg)
{
    sweeps_t *w = arg;
    return sweeps(0) >= w->want[0] && sweeps(1) >= w->want[1];
}

static void expiry_returns_the_stock(void **state)
{
    json_t *p = stocked("Expiring Scarf", 5);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    mh_response_t r = pt_internal("POST", pt_url(0, "/api/inventory/reservations"),
                                  json_pack("{s:s,s:i,s:[{s:s,s:i}]}", "orderId", "exp-1", "ttlSeconds", 1, "items",
                                            "productId", id, "quantity", 5));
    assert_int_equal(r.status, 201);
    mh_response_free(&r);
    assert_int_equal(stock_of(0, id), 0);
    /* the sweep of either process returns it; nobody calls anything */
    assert_true(mh_wait_until(stock_is, &(wait_stock_t){id, 5}, 15000));
    assert_string_equal(status_of("exp-1"), "expired");
    r = pt_internal("POST", pt_url(1, "/api/inventory/reservations/exp-1/commit"), NULL);
    assert_int_equal(r.status, 409);
    mh_response_free(&r);
    r = pt_internal("POST", pt_url(1, "/api/inventory/reservations/exp-1/release"), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(pt_str(r.json, "status"), "expired");
    mh_response_free(&r);
    assert_int_equal(stock_of(0, id), 5);
    /* the ledger says who and why */
    json_t *m = pt_get(pt_url(0, "/api/products/%s/stock/movements?limit=1", id), pt_seller);
    json_t *last = json_array_get(json_object_get(m, "items"), 0);
    assert_string_equal(pt_str(last, "kind"), "return");
    assert_string_equal(pt_str(last, "reason"), "expired");
    assert_string_equal(pt_str(last, "orderId"), "exp-1");
    assert_string_equal(pt_str(json_object_get(last, "actor"), "type"), "system");
    json_decref(m);
    /* committing in time keeps the stock sold after the expiry time */
    p = stocked("Committed In Time", 2);
    pt_id(p, id);
    json_decref(p);
    r = pt_internal("POST", pt_url(0, "/api/inventory/reservations"),
                    json_pack("{s:s,s:i,s:[{s:s,s:i}]}", "orderId", "exp-2", "ttlSeconds", 2, "items", "productId", id,
                              "quantity", 2));
    assert_int_equal(r.status, 201);
    mh_response_free(&r);
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations/exp-2/commit"), NULL), 200, NULL);
    /* past the expiry time, both processes sweep twice more: committed stock stays sold */
    assert_true(mh_wait_until(past, &(uint64_t){mh_now_ms() + 2500}, 10000));
    sweeps_t w = {{sweeps(0) + 2, sweeps(1) + 2}};
    assert_true(mh_wait_until(swept, &w, 15000));
    assert_int_equal(stock_of(0, id), 0);
    assert_string_equal(status_of("exp-2"), "committed");
}

static void refusals(void **state)
{
    json_t *p = stocked("Refusal Stool", 3);
    char id[25], ghost[25];
    pt_id(p, id);
    json_decref(p);
    mh_oid(ghost);
    const char *u = pt_url(0, "/api/inventory/reservations");
    char url[256];
    snprintf(url, sizeof(url), "%s", u);
    /* no key, a wrong key, a user token instead */
    pt_expect(mh_send("POST", url, NULL, reservation_body("ref-1", id, 1)), 401, "UNAUTHENTICATED");
    mh_response_t r;
    json_t *body = reservation_body("ref-1", id, 1);
    mh_http(&(mh_request_t){.method = "POST", .url = url, .json = body,
                            .headers = (const char *const[]){"X-Internal-Key: wrong-wrong-wrong-wrong-wrong-wrong-wrong", NULL}},
            &r);
    json_decref(body);
    pt_expect(r, 401, "UNAUTHENTICATED");
    pt_expect(mh_send("POST", url, pt_admin, reservation_body("ref-1", id, 1)), 401, "UNAUTHENTICATED");
    /* unknown and inactive products */
    r = pt_internal("POST", url, reservation_body("ref-2", ghost, 1));
    assert_int_equal(r.status, 404);
    assert_string_equal(pt_str(json_array_get(json_object_get(json_object_get(r.json, "error"), "details"), 0), "productId"),
                        ghost);
    mh_response_free(&r);
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:b}", "isActive", 0)), 200, NULL);
    pt_expect(pt_internal("POST", url, reservation_body("ref-3", id, 1)), 422, "UNPROCESSABLE");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:b}", "isActive", 1)), 200, NULL);
    /* malformed input */
    pt_expect(pt_internal("POST", url, reservation_body("", id, 1)), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, reservation_body("has:colon", id, 1)), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, reservation_body("ok", id, 0)), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, reservation_body("ok", id, -2)), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, reservation_body("ok", "not-an-id", 1)), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, json_pack("{s:s,s:[]}", "orderId", "ok", "items")), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, json_pack("{s:s,s:[{s:{s:n},s:i}]}", "orderId", "ok", "items", "productId", "$ne",
                                                 "quantity", 1)),
              400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, json_pack("{s:{s:s},s:[{s:s,s:i}]}", "orderId", "$gt", "", "items", "productId", id,
                                                 "quantity", 1)),
              400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, json_pack("{s:s,s:i,s:[{s:s,s:i}]}", "orderId", "ok", "ttlSeconds", 0, "items",
                                                 "productId", id, "quantity", 1)),
              400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", url, json_pack("{s:s,s:[{s:s,s:i}],s:i}", "orderId", "ok", "items", "productId", id,
                                                 "quantity", 1, "extra", 1)),
              400, "BAD_REQUEST");
    json_t *many = json_array();
    for (int i = 0; i < 101; ++i) {
        char oid[25];
        mh_oid(oid);
        json_array_append_new(many, json_pack("{s:s,s:i}", "productId", oid, "quantity", 1));
    }
    pt_expect(pt_internal("POST", url, json_pack("{s:s,s:o}", "orderId", "ok", "items", many)), 400, "BAD_REQUEST");
    pt_expect(pt_internal("POST", pt_url(0, "/api/inventory/reservations/bad%%20id/commit"), NULL), 400, "BAD_REQUEST");
    /* nothing above moved the stock */
    assert_int_equal(stock_of(0, id), 3);
    /* the stats are internal too */
    pt_expect(mh_get(pt_url(0, "/internal/stats"), pt_admin), 401, "UNAUTHENTICATED");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(two_processes_never_oversell),
        cmocka_unit_test(mixed_writers_keep_the_ledger_consistent),
        cmocka_unit_test(all_or_none),
        cmocka_unit_test(idempotent_by_order_id),
        cmocka_unit_test(commit_and_release),
        cmocka_unit_test(expiry_returns_the_stock),
        cmocka_unit_test(refusals),
    };
    return mh_run_group("product/inventory", tests, setup, teardown);
}
