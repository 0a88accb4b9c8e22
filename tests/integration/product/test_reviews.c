/*
 * Integration tests of reviews (once per customer, paginated, helpful once per user,
 * deleted by author or admin) and of the rating staying exact under concurrent reviews
 * written through two processes; and of manual stock changes and their ledger.
 */
#include <math.h>
#include <string.h>
#include "common.h"

static char cat[25];

static int setup(void **state)
{
    if (pt_start(2, NULL) != 0)
        return -1;
    strcpy(cat, pt_category("Reviewed Things", NULL));
    return 0;
}

static int teardown(void **state)
{
    return pt_stop() == 0 ? 0 : -1;
}

static void new_product(const char *name, char *id)
{
    json_t *p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s,s:i}", "name", name, "price", 2500, "categoryId", cat, "stock", 10));
    pt_id(p, id);
    json_decref(p);
}

static json_t *review(const char *token, const char *id, int stars, const char *title)
{
    mh_response_t r = mh_send("POST", pt_url(0, "/api/products/%s/reviews", id), token,
                              json_pack("{s:i,s:s,s:s}", "rating", stars, "title", title, "body", "Solid.\nWould buy again."));
    if (r.status != 201)
        fail_msg("review: %ld %s", r.status, r.body);
    json_t *j = json_incref(r.json);
    mh_response_free(&r);
    return j;
}

static void reviews_once_and_rate(void **state)
{
    char id[25];
    new_product("Reviewed Blender", id);
    json_t *a = review(pt_customer, id, 5, "  Great  ");
    assert_string_equal(pt_str(a, "title"), "Great");
    assert_string_equal(pt_str(a, "userId"), PT_CUSTOMER_ID);
    assert_int_equal(pt_int(a, "helpfulCount"), 0);
    char rid[25];
    pt_id(a, rid);
    json_decref(a);
    /* the rating shows at once, on both processes */
    json_t *p = pt_get(pt_url(1, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(p, "ratingCount"), 1);
    assert_true(json_real_value(json_object_get(p, "ratingAverage")) == 5.0);
    json_decref(p);
    /* once per customer */
    pt_expect(mh_send("POST", pt_url(1, "/api/products/%s/reviews", id), pt_customer, json_pack("{s:i,s:s}", "rating", 1, "title", "Again")),
              409, "CONFLICT");
    /* customers only */
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews", id), pt_seller, json_pack("{s:i,s:s}", "rating", 5, "title", "Mine")),
              403, "FORBIDDEN");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews", id), pt_admin, json_pack("{s:i,s:s}", "rating", 5, "title", "Admin")),
              403, "FORBIDDEN");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews", id), NULL, json_pack("{s:i,s:s}", "rating", 5, "title", "Anon")),
              401, "UNAUTHENTICATED");
    json_t *b = review(pt_customer2, id, 2, "Meh");
    char rid2[25];
    pt_id(b, rid2);
    json_decref(b);
    p = pt_get(pt_url(0, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(p, "ratingCount"), 2);
    assert_true(json_real_value(json_object_get(p, "ratingAverage")) == 3.5);
    json_decref(p);
    /* bad reviews */
    static const char *const bad[] = {"{\"rating\":0,\"title\":\"x\"}", "{\"rating\":6,\"title\":\"x\"}", "{\"rating\":4.5,\"title\":\"x\"}",
                                      "{\"rating\":\"5\",\"title\":\"x\"}", "{\"rating\":5}", "{\"rating\":5,\"title\":\"   \"}",
                                      "{\"rating\":5,\"title\":{\"$ne\":1}}", "{\"rating\":5,\"title\":\"x\",\"userId\":\"x\"}", NULL};
    for (int i = 0; bad[i] != NULL; ++i) {
        mh_response_t r;
        char *other = mh_token("64b7f0c2a1b2c3d4e5f600c9", "customer");
        mh_http(&(mh_request_t){.method = "POST", .url = pt_url(0, "/api/products/%s/reviews", id), .token = other, .body = bad[i],
                                .content_type = "application/json"},
                &r);
        free(other);
        pt_expect(r, 400, "BAD_REQUEST");
    }
    char ghost[25];
    mh_oid(ghost);
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews", ghost), pt_customer, json_pack("{s:i,s:s}", "rating", 5, "title", "x")),
              404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(0, "/api/products/%s/reviews", ghost), NULL), 404, "NOT_FOUND");

    /* helpful: once per user, never one's own */
    mh_response_t r = mh_send("POST", pt_url(1, "/api/products/%s/reviews/%s/helpful", id, rid), pt_customer2, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(pt_int(r.json, "helpfulCount"), 1);
    mh_response_free(&r);
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews/%s/helpful", id, rid), pt_customer2, NULL), 409, "CONFLICT");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews/%s/helpful", id, rid), pt_customer, NULL), 403, "FORBIDDEN");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews/%s/helpful", id, rid), NULL, NULL), 401, "UNAUTHENTICATED");
    r = mh_send("POST", pt_url(0, "/api/products/%s/reviews/%s/helpful", id, rid), pt_seller, NULL);
    assert_int_equal(pt_int(r.json, "helpfulCount"), 2);
    mh_response_free(&r);
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/reviews/%s/helpful", ghost, rid), pt_seller2, NULL), 404, "NOT_FOUND");

    /* lists: newest first, and most helpful first */
    json_t *l = pt_get(pt_url(0, "/api/products/%s/reviews", id), NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(l, "items"), 0), "id"), rid2);
    assert_int_equal(pt_int(l, "totalCount"), 2);
    assert_int_equal(json_array_size(json_object_get(l, "cursors")), 2);
    assert_string_equal(json_string_value(json_array_get(json_object_get(l, "cursors"), 1)),
                        pt_str(json_object_get(l, "pageInfo"), "endCursor"));
    json_decref(l);
    l = pt_get(pt_url(0, "/api/products/%s/reviews?sort=helpful&limit=1", id), NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(l, "items"), 0), "id"), rid);
    assert_int_equal(pt_int(json_array_get(json_object_get(l, "items"), 0), "helpfulCount"), 2);
    char cursor[64];
    snprintf(cursor, sizeof(cursor), "%s", pt_str(json_object_get(l, "pageInfo"), "endCursor"));
    json_decref(l);
    l = pt_get(pt_url(1, "/api/products/%s/reviews?limit=1&cursor=%s", id, cursor), NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(l, "items"), 0), "id"), rid2);
    assert_true(json_is_false(json_object_get(json_object_get(l, "pageInfo"), "hasNextPage")));
    json_decref(l);
    pt_expect(mh_get(pt_url(0, "/api/products/%s/reviews?limit=51", id), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/%s/reviews?cursor=x", id), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/%s/reviews?sort=stars", id), NULL), 400, "BAD_REQUEST");

    /* delete: the author or an admin */
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s/reviews/%s", id, rid), pt_customer2, NULL), 403, "FORBIDDEN");
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s/reviews/%s", id, rid), pt_seller, NULL), 403, "FORBIDDEN");
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s/reviews/%s", ghost, rid), pt_admin, NULL), 404, "NOT_FOUND");
    pt_expect(mh_send("DELETE", pt_url(1, "/api/products/%s/reviews/%s", id, rid), pt_customer, NULL), 204, NULL);
    p = pt_get(pt_url(0, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(p, "ratingCount"), 1);
    assert_true(json_real_value(json_object_get(p, "ratingAverage")) == 2.0);
    json_decref(p);
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s/reviews/%s", id, rid2), pt_admin, NULL), 204, NULL);
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s/reviews/%s", id, rid2), pt_admin, NULL), 404, "NOT_FOUND");
    p = pt_get(pt_url(1, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(p, "ratingCount"), 0);
    assert_true(json_real_value(json_object_get(p, "ratingAverage")) == 0.0);
    json_decref(p);
    /* the customer may review again after deleting */
    json_decref(review(pt_customer, id, 4, "Second thoughts"));
}

/* 40 customers review at once through both processes: the rating counts every one of
 * them and averages them exactly. */
static void concurrent_reviews_keep_the_rating_exact(void **state)
{
    char id[25];
    new_product("Popular Toaster", id);
    enum { N = 40 };
    static mh_request_t reqs[N];
    static mh_response_t res[N];
    static char *tokens[N], bodies[N][96], urls[2][256];
    snprintf(urls[0], sizeof(urls[0]), "%s", pt_url(0, "/api/products/%s/reviews", id));
    snprintf(urls[1], sizeof(urls[1]), "%s", pt_url(1, "/api/products/%s/reviews", id));
    long long sum = 0;
    for (int i = 0; i < N; ++i) {
        char uid[25];
        snprintf(uid, sizeof(uid), "64b7f0c2a1b2c3d4e5f6%04x", 0x1000 + i);
        tokens[i] = mh_token(uid, "customer");
        int stars = 1 + (i * 7) % 5;
        sum += stars;
        snprintf(bodies[i], sizeof(bodies[i]), "{\"rating\":%d,\"title\":\"Review %d\"}", stars, i);
        reqs[i] = (mh_request_t){.method = "POST", .url = urls[i % 2], .token = tokens[i], .body = bodies[i],
                                 .content_type = "application/json", .timeout_ms = 120000};
    }
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    for (int i = 0; i < N; ++i) {
        if (res[i].status != 201)
            fail_msg("review %d: %ld %s", i, res[i].status, res[i].body);
        mh_response_free(&res[i]);
        free(tokens[i]);
    }
    for (int w = 0; w < 2; ++w) {
        json_t *p = pt_get(pt_url(w, "/api/products/%s", id), NULL);
        assert_int_equal(pt_int(p, "ratingCount"), N);
        double want = floor((double)sum * 100.0 / N + 0.5) / 100.0;
        assert_true(fabs(json_real_value(json_object_get(p, "ratingAverage")) - want) < 1e-9);
        json_decref(p);
    }
    /* and a burst of helpful votes on one review counts each voter once */
    json_t *l = pt_get(pt_url(0, "/api/products/%s/reviews?limit=1", id), NULL);
    char rid[25];
    snprintf(rid, sizeof(rid), "%s", pt_str(json_array_get(json_object_get(l, "items"), 0), "id"));
    json_decref(l);
    snprintf(urls[0], sizeof(urls[0]), "%s", pt_url(0, "/api/products/%s/reviews/%s/helpful", id, rid));
    snprintf(urls[1], sizeof(urls[1]), "%s", pt_url(1, "/api/products/%s/reviews/%s/helpful", id, rid));
    for (int i = 0; i < N; ++i) {
        char uid[25];
        snprintf(uid, sizeof(uid), "64b7f0c2a1b2c3d4e5f6%04x", 0x2000 + i / 2); /* each voter twice */
        tokens[i] = mh_token(uid, "customer");
        reqs[i] = (mh_request_t){.method = "POST", .url = urls[i % 2], .token = tokens[i], .timeout_ms = 120000};
    }
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    int ok = 0;
    for (int i = 0; i < N; ++i) {
        if (res[i].status == 200)
            ++ok;
        else if (res[i].status != 409)
            fail_msg("vote %d: %ld %s", i, res[i].status, res[i].body);
        mh_response_free(&res[i]);
        free(tokens[i]);
    }
    assert_int_equal(ok, N / 2);
    l = pt_get(pt_url(1, "/api/products/%s/reviews?sort=helpful&limit=1", id), NULL);
    json_t *top = json_array_get(json_object_get(l, "items"), 0);
    assert_string_equal(pt_str(top, "id"), rid);
    assert_int_equal(pt_int(top, "helpfulCount"), N / 2);
    json_decref(l);
}

static void stock_changes_and_their_ledger(void **state)
{
    char id[25];
    new_product("Stocked Shelf", id); /* stock 10 */
    mh_response_t r = mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i,s:s}", "delta", 5, "reason", "delivery"));
    assert_int_equal(r.status, 200);
    assert_int_equal(pt_int(r.json, "stock"), 15);
    assert_int_equal(pt_int(json_object_get(r.json, "movement"), "delta"), 5);
    mh_response_free(&r);
    r = mh_send("POST", pt_url(1, "/api/products/%s/stock", id), pt_admin, json_pack("{s:i,s:s}", "stock", 4, "reason", "stocktake"));
    assert_int_equal(r.status, 200);
    assert_int_equal(pt_int(r.json, "stock"), 4);
    assert_int_equal(pt_int(json_object_get(r.json, "movement"), "delta"), -11);
    mh_response_free(&r);
    /* never below zero */
    r = mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i}", "delta", -5));
    assert_int_equal(r.status, 409);
    assert_int_equal(pt_int(json_array_get(json_object_get(json_object_get(r.json, "error"), "details"), 0), "available"), 4);
    mh_response_free(&r);
    /* whose product */
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller2, json_pack("{s:i}", "delta", 1)), 403, "FORBIDDEN");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_customer, json_pack("{s:i}", "delta", 1)), 403, "FORBIDDEN");
    pt_expect(mh_get(pt_url(0, "/api/products/%s/stock/movements", id), pt_seller2), 403, "FORBIDDEN");
    pt_expect(mh_get(pt_url(0, "/api/products/%s/stock/movements", id), NULL), 401, "UNAUTHENTICATED");
    /* bad changes */
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{}")), 400, "BAD_REQUEST");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i,s:i}", "delta", 1, "stock", 5)), 400,
              "BAD_REQUEST");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i}", "stock", -1)), 400, "BAD_REQUEST");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:f}", "delta", 1.5)), 400, "BAD_REQUEST");
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i,s:s}", "delta", 1, "reason", "")), 400,
              "BAD_REQUEST");
    char ghost[25];
    mh_oid(ghost);
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", ghost), pt_admin, json_pack("{s:i}", "delta", 1)), 404, "NOT_FOUND");
    /* the product shows the new stock on both processes */
    for (int w = 0; w < 2; ++w) {
        json_t *p = pt_get(pt_url(w, "/api/products/%s", id), NULL);
        assert_int_equal(pt_int(p, "stock"), 4);
        json_decref(p);
    }
    /* the ledger: newest first, page by page, who and why, summing to the stock */
    json_t *m = pt_get(pt_url(0, "/api/products/%s/stock/movements?limit=2", id), pt_seller);
    json_t *items = json_object_get(m, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(pt_int(m, "totalCount"), 3);
    assert_string_equal(json_string_value(json_array_get(json_object_get(m, "cursors"), 0)), "3");
    assert_string_equal(pt_str(json_array_get(items, 0), "reason"), "stocktake");
    assert_string_equal(pt_str(json_object_get(json_array_get(items, 0), "actor"), "role"), "admin");
    assert_string_equal(pt_str(json_object_get(json_array_get(items, 1), "actor"), "id"), PT_SELLER_ID);
    long long sum = pt_int(json_array_get(items, 0), "delta") + pt_int(json_array_get(items, 1), "delta");
    char cursor[32];
    snprintf(cursor, sizeof(cursor), "%s", pt_str(json_object_get(m, "pageInfo"), "endCursor"));
    json_decref(m);
    m = pt_get(pt_url(1, "/api/products/%s/stock/movements?limit=2&cursor=%s", id, cursor), pt_admin);
    items = json_object_get(m, "items");
    assert_int_equal(json_array_size(items), 1);
    assert_string_equal(pt_str(json_array_get(items, 0), "kind"), "initial");
    sum += pt_int(json_array_get(items, 0), "delta");
    assert_true(json_is_false(json_object_get(json_object_get(m, "pageInfo"), "hasNextPage")));
    json_decref(m);
    assert_int_equal(sum, 4);
    pt_expect(mh_get(pt_url(0, "/api/products/%s/stock/movements?cursor=0", id), pt_seller), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/%s/stock/movements?limit=201", id), pt_seller), 400, "BAD_REQUEST");
    /* the in-stock filter follows the stock */
    pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i}", "stock", 0)), 200, NULL);
    json_t *l = pt_get(pt_url(1, "/api/products?categoryId=%s&inStock=false", cat), NULL);
    bool found = false;
    for (size_t i = 0; i < json_array_size(json_object_get(l, "items")); ++i)
        found = found || strcmp(pt_str(json_array_get(json_object_get(l, "items"), i), "id"), id) == 0;
    assert_true(found);
    json_decref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(reviews_once_and_rate),
        cmocka_unit_test(concurrent_reviews_keep_the_rating_exact),
        cmocka_unit_test(stock_changes_and_their_ledger),
    };
    return mh_run_group("product/reviews", tests, setup, teardown);
}
