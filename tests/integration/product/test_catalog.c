/*
 * Integration tests of the catalog: every product route through two product processes
 * on one database, the permission rules, hostile input, search and suggestions, and the
 * cache — a write is never followed by a stale read (also across processes and Redis
 * outages), concurrent misses make one database read, and Redis down changes nothing
 * visible.
 */
#include <signal.h>
#include <string.h>
#include <time.h>
#include "common.h"

static int setup(void **state)
{
    return pt_start(2, NULL);
}

static int teardown(void **state)
{
    return pt_stop() == 0 ? 0 : -1;
}

static json_t *make(const char *token, const char *name, long long price, const char *cat)
{
    return pt_product(token, json_pack("{s:s,s:I,s:s}", "name", name, "price", (json_int_t)price, "categoryId", cat));
}

static bool has_id(const json_t *items, const char *id)
{
    size_t i;
    json_t *p;
    json_array_foreach(items, i, p) if (strcmp(pt_str(p, "id"), id) == 0) return true;
    return false;
}

/* --- writes and ownership -------------------------------------------------------------- */

static void create_read_update_delete(void **state)
{
    const char *cat = pt_category("Kitchen", NULL);
    char catid[25];
    strcpy(catid, cat);
    mh_response_t r = mh_send("POST", pt_url(0, "/api/products"), pt_seller,
                              json_pack("{s:s,s:s,s:i,s:s,s:[s,s],s:[s],s:i}", "name", "  Cast Iron Skillet ", "description",
                                        "Pre-seasoned.\nOven safe.", "price", 3999, "categoryId", catid, "tags", "cookware",
                                        "cast-iron", "images", "https://img.example/skillet.jpg", "stock", 12));
    assert_int_equal(r.status, 201);
    json_t *p = r.json;
    char id[25], loc[64];
    pt_id(p, id);
    snprintf(loc, sizeof(loc), "/api/products/%s", id);
    assert_string_equal(mh_header(&r, "location"), loc);
    assert_string_equal(pt_str(p, "name"), "Cast Iron Skillet");
    assert_string_equal(pt_str(p, "slug"), "cast-iron-skillet");
    assert_string_equal(pt_str(p, "sellerId"), PT_SELLER_ID);
    assert_string_equal(pt_str(p, "currency"), "USD");
    assert_int_equal(pt_int(p, "stock"), 12);
    assert_int_equal(pt_int(p, "ratingCount"), 0);
    assert_true(json_is_true(json_object_get(p, "isActive")));
    assert_true(json_is_false(json_object_get(p, "isFeatured")));
    assert_int_equal(json_object_size(p), 17);
    mh_response_free(&r);

    /* every read path, from the other process */
    json_t *g = pt_get(pt_url(1, "/api/products/%s", id), NULL);
    assert_string_equal(pt_str(g, "description"), "Pre-seasoned.\nOven safe.");
    assert_int_equal(pt_int(g, "price"), 3999);
    json_decref(g);
    g = pt_get(pt_url(1, "/api/products/slug/cast-iron-skillet"), NULL);
    assert_string_equal(pt_str(g, "id"), id);
    json_decref(g);

    /* the same name again: the derived slug gets a suffix; a given slug in use is a 409 */
    json_t *twin = make(pt_seller, "Cast Iron Skillet", 10, catid);
    assert_string_equal(pt_str(twin, "slug"), "cast-iron-skillet-2");
    char twin_id[25];
    pt_id(twin, twin_id);
    json_decref(twin);
    pt_expect(mh_send("POST", pt_url(0, "/api/products"), pt_seller,
                      json_pack("{s:s,s:i,s:s,s:s}", "name", "X", "price", 1, "categoryId", catid, "slug", "cast-iron-skillet")),
              409, "CONFLICT");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", twin_id), pt_seller, json_pack("{s:s}", "slug", "cast-iron-skillet")),
              409, "CONFLICT");

    /* only its seller and admins change it */
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller2, json_pack("{s:i}", "price", 1)), 403, "FORBIDDEN");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_customer, json_pack("{s:i}", "price", 1)), 403, "FORBIDDEN");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), NULL, json_pack("{s:i}", "price", 1)), 401, "UNAUTHENTICATED");
    r = mh_send("PATCH", pt_url(1, "/api/products/%s", id), pt_seller, json_pack("{s:i,s:[s]}", "price", 3499, "tags", "sale"));
    assert_int_equal(r.status, 200);
    assert_int_equal(pt_int(r.json, "price"), 3499);
    assert_int_equal(pt_int(r.json, "stock"), 12);
    assert_string_equal(pt_str(r.json, "name"), "Cast Iron Skillet"); /* untouched fields stay */
    mh_response_free(&r);
    /* featuring is for admins */
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:b}", "isFeatured", 1)), 403, "FORBIDDEN");
    r = mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_admin, json_pack("{s:b}", "isFeatured", 1));
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "isFeatured")));
    mh_response_free(&r);
    g = pt_get(pt_url(1, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(g, "price"), 3499);
    assert_true(json_is_true(json_object_get(g, "isFeatured")));
    json_decref(g);
    /* stock and seller do not change here */
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:i}", "stock", 100)), 400, "BAD_REQUEST");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_admin, json_pack("{s:s}", "sellerId", PT_SELLER2_ID)), 400,
              "BAD_REQUEST");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{}")), 400, "BAD_REQUEST");

    /* sellers create for themselves; admins for anyone */
    pt_expect(mh_send("POST", pt_url(0, "/api/products"), pt_seller,
                      json_pack("{s:s,s:i,s:s,s:s}", "name", "Not Mine", "price", 1, "categoryId", catid, "sellerId", PT_SELLER2_ID)),
              403, "FORBIDDEN");
    pt_expect(mh_send("POST", pt_url(0, "/api/products"), pt_customer,
                      json_pack("{s:s,s:i,s:s}", "name", "Customer", "price", 1, "categoryId", catid)),
              403, "FORBIDDEN");
    pt_expect(mh_send("POST", pt_url(0, "/api/products"), pt_seller,
                      json_pack("{s:s,s:i,s:s,s:b}", "name", "Featured", "price", 1, "categoryId", catid, "isFeatured", 1)),
              403, "FORBIDDEN");
    json_t *by_admin = pt_product(pt_admin, json_pack("{s:s,s:i,s:s,s:s}", "name", "For Seller Two", "price", 5, "categoryId",
                                                      catid, "sellerId", PT_SELLER2_ID));
    assert_string_equal(pt_str(by_admin, "sellerId"), PT_SELLER2_ID);
    json_decref(by_admin);

    /* delete: not by another seller; then gone everywhere */
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s", id), pt_seller2, NULL), 403, "FORBIDDEN");
    r = mh_send("DELETE", pt_url(0, "/api/products/%s", id), pt_seller, NULL);
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    mh_response_free(&r);
    pt_expect(mh_get(pt_url(1, "/api/products/%s", id), NULL), 404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(1, "/api/products/slug/cast-iron-skillet"), NULL), 404, "NOT_FOUND");
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s", id), pt_seller, NULL), 404, "NOT_FOUND");
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:i}", "price", 1)), 404, "NOT_FOUND");
}

static void inactive_products_are_hidden(void **state)
{
    const char *cat = pt_category("Hidden Things", NULL);
    char catid[25];
    strcpy(catid, cat);
    json_t *p = make(pt_seller, "Prototype Gadget", 100, catid);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    json_decref(pt_get(pt_url(0, "/api/products/%s", id), NULL)); /* cached while active */
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:b}", "isActive", 0)), 200, NULL);
    pt_expect(mh_get(pt_url(1, "/api/products/%s", id), NULL), 404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(1, "/api/products/%s", id), pt_customer), 404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(1, "/api/products/%s", id), pt_seller2), 404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(1, "/api/products/slug/prototype-gadget"), pt_customer), 404, "NOT_FOUND");
    json_decref(pt_get(pt_url(1, "/api/products/%s", id), pt_seller));
    json_decref(pt_get(pt_url(1, "/api/products/%s", id), pt_admin));
    json_decref(pt_get(pt_url(1, "/api/products/slug/prototype-gadget"), pt_seller));
    /* lists: not among active ones; inactive ones for admins and their own seller */
    json_t *l = pt_get(pt_url(0, "/api/products?categoryId=%s", catid), NULL);
    assert_false(has_id(json_object_get(l, "items"), id));
    json_decref(l);
    pt_expect(mh_get(pt_url(0, "/api/products?isActive=false"), NULL), 401, "UNAUTHENTICATED");
    pt_expect(mh_get(pt_url(0, "/api/products?isActive=false"), pt_customer), 403, "FORBIDDEN");
    pt_expect(mh_get(pt_url(0, "/api/products?isActive=false&sellerId=%s", PT_SELLER_ID), pt_seller2), 403, "FORBIDDEN");
    l = pt_get(pt_url(0, "/api/products?isActive=false&sellerId=%s", PT_SELLER_ID), pt_seller);
    assert_true(has_id(json_object_get(l, "items"), id));
    json_decref(l);
    l = pt_get(pt_url(0, "/api/products/seller/%s?isActive=false", PT_SELLER_ID), pt_seller);
    assert_true(has_id(json_object_get(l, "items"), id));
    json_decref(l);
    l = pt_get(pt_url(1, "/api/products?isActive=false&categoryId=%s", catid), pt_admin);
    assert_true(has_id(json_object_get(l, "items"), id));
    json_decref(l);
    /* the batch includes it (the caller decides) */
    l = pt_get(pt_url(0, "/api/products/batch?ids=%s", id), NULL);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(l, "items"), 0), "isActive")));
    json_decref(l);
    /* search and suggestions never show it */
    l = pt_get(pt_url(0, "/api/products/search?q=prototype+gadget"), NULL);
    assert_false(has_id(json_object_get(l, "items"), id));
    json_decref(l);
    l = pt_get(pt_url(0, "/api/products/suggest?q=protot"), NULL);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 0);
    json_decref(l);
}

/* --- lists ---------------------------------------------------------------------------------- */

typedef struct fixture {
    char root[25], child[25], grandchild[25], other[25];
    char ids[12][25];
} fixture_t;

static fixture_t fx;

static void build_fixture(void)
{
    strcpy(fx.root, pt_category("List Root", NULL));
    strcpy(fx.child, pt_category("List Child", fx.root));
    strcpy(fx.grandchild, pt_category("List Grandchild", fx.child));
    strcpy(fx.other, pt_category("List Other", NULL));
    struct {
        const char *name;
        int price;
        const char *cat;
        const char *seller;
        int stock;
        bool featured;
        const char *tags[2];
    } spec[12] = {
        {"Alpha Kettle", 2500, fx.root, "s1", 4, false, {"steel", "tea"}},
        {"Bravo Teapot", 1800, fx.child, "s1", 0, true, {"tea", NULL}},
        {"Charlie Mug", 900, fx.grandchild, "s2", 10, false, {"tea", "ceramic"}},
        {"Delta Whisk", 700, fx.grandchild, "s1", 3, false, {"steel", NULL}},
        {"Echo Pan", 4200, fx.child, "s2", 0, false, {NULL, NULL}},
        {"Foxtrot Pot", 5100, fx.root, "s1", 7, true, {"steel", NULL}},
        {"Golf Spoon", 300, fx.root, "s2", 100, false, {"steel", "tea"}},
        {"Hotel Tray", 1500, fx.grandchild, "s1", 2, false, {NULL, NULL}},
        {"India Bowl", 1100, fx.child, "s2", 1, false, {"ceramic", NULL}},
        {"Juliet Jar", 650, fx.root, "s1", 0, false, {NULL, NULL}},
        {"Kilo Grater", 1300, fx.other, "s1", 5, false, {"steel", NULL}},
        {"Lima Sieve", 800, fx.other, "s2", 5, false, {NULL, NULL}},
    };
    for (int i = 0; i < 12; ++i) {
        json_t *tags = json_array();
        for (int k = 0; k < 2; ++k)
            if (spec[i].tags[k] != NULL)
                json_array_append_new(tags, json_string(spec[i].tags[k]));
        json_t *f = json_pack("{s:s,s:i,s:s,s:i,s:o,s:s}", "name", spec[i].name, "price", spec[i].price, "categoryId",
                              spec[i].cat, "stock", spec[i].stock, "tags", tags, "sellerId",
                              strcmp(spec[i].seller, "s1") == 0 ? PT_SELLER_ID : PT_SELLER2_ID);
        if (spec[i].featured)
            json_object_set_new(f, "isFeatured", json_true());
        json_t *p = pt_product(pt_admin, f);
        pt_id(p, fx.ids[i]);
        json_decref(p);
    }
}

/* Names of every product of a list URL, following every page with limit `page`. */
static json_t *all_names(const char *base, int page)
{
    json_t *names = json_array();
    char cursor[256] = "";
    for (int guard = 0; guard < 50; ++guard) {
        char u[1024];
        snprintf(u, sizeof(u), "%s%slimit=%d%s%s", base, strchr(base, '?') ? "&" : "?", page, cursor[0] ? "&cursor=" : "", cursor);
        json_t *l = pt_get(u, NULL);
        json_t *items = json_object_get(l, "items"), *p;
        size_t i;
        assert_true(json_array_size(items) <= (size_t)page);
        /* one cursor per item, the last of them the end cursor */
        json_t *cursors = json_object_get(l, "cursors");
        assert_int_equal(json_array_size(cursors), json_array_size(items));
        if (json_array_size(items) > 0)
            assert_string_equal(json_string_value(json_array_get(cursors, json_array_size(cursors) - 1)),
                                pt_str(json_object_get(l, "pageInfo"), "endCursor"));
        assert_true(json_is_integer(json_object_get(l, "totalCount")));
        json_array_foreach(items, i, p) json_array_append_new(names, json_string(pt_str(p, "name")));
        json_t *pi = json_object_get(l, "pageInfo");
        bool more = json_is_true(json_object_get(pi, "hasNextPage"));
        if (more)
            snprintf(cursor, sizeof(cursor), "%s", pt_str(pi, "endCursor"));
        json_decref(l);
        if (!more)
            return names;
    }
    fail_msg("pagination did not end");
    return names;
}

static void expect_names(json_t *names, const char *const *want)
{
    size_t n = 0;
    while (want[n] != NULL)
        ++n;
    char *dump = json_dumps(names, 0);
    if (json_array_size(names) != n)
        fail_msg("got %s", dump);
    for (size_t i = 0; i < n; ++i)
        if (strcmp(json_string_value(json_array_get(names, i)), want[i]) != 0)
            fail_msg("at %zu: got %s", i, dump);
    free(dump);
    json_decref(names);
}

static void lists_filter_sort_and_paginate(void **state)
{
    build_fixture();
    char base[512];
    snprintf(base, sizeof(base), "%s", pt_url(0, "/api/products?categoryId=%s", fx.root));
    /* the root category includes its descendants; sorted by price, page by page */
    static const char *const by_price[] = {"Golf Spoon", "Juliet Jar", "Delta Whisk", "Charlie Mug", "India Bowl", "Hotel Tray",
                                           "Bravo Teapot", "Alpha Kettle", "Echo Pan", "Foxtrot Pot", NULL};
    char u[1200];
    snprintf(u, sizeof(u), "%s&sort=price_asc", base);
    for (int page = 1; page <= 4; ++page)
        expect_names(all_names(u, page), by_price);
    snprintf(u, sizeof(u), "%s&sort=price_desc", base);
    static const char *const by_price_desc[] = {"Foxtrot Pot", "Echo Pan", "Alpha Kettle", "Bravo Teapot", "Hotel Tray", "India Bowl",
                                                "Charlie Mug", "Delta Whisk", "Juliet Jar", "Golf Spoon", NULL};
    expect_names(all_names(u, 3), by_price_desc);
    snprintf(u, sizeof(u), "%s&sort=name", base);
    static const char *const by_name[] = {"Alpha Kettle", "Bravo Teapot", "Charlie Mug", "Delta Whisk", "Echo Pan", "Foxtrot Pot",
                                          "Golf Spoon", "Hotel Tray", "India Bowl", "Juliet Jar", NULL};
    expect_names(all_names(u, 4), by_name);
    static const char *const newest[] = {"Juliet Jar", "India Bowl", "Hotel Tray", "Golf Spoon", "Foxtrot Pot", "Echo Pan",
                                         "Delta Whisk", "Charlie Mug", "Bravo Teapot", "Alpha Kettle", NULL};
    expect_names(all_names(base, 3), newest);
    /* totalCount counts every match, whatever the page; an item's cursor continues after it */
    snprintf(u, sizeof(u), "%s&sort=name&limit=4", base);
    json_t *first = pt_get(u, NULL);
    assert_int_equal(pt_int(first, "totalCount"), 10);
    char mid[256];
    snprintf(mid, sizeof(mid), "%s", json_string_value(json_array_get(json_object_get(first, "cursors"), 1)));
    json_decref(first);
    snprintf(u, sizeof(u), "%s&sort=name&limit=2&cursor=%s", base, mid);
    first = pt_get(u, NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(first, "items"), 0), "name"), "Charlie Mug");
    assert_int_equal(pt_int(first, "totalCount"), 10);
    json_decref(first);
    /* a child category: itself and below */
    snprintf(u, sizeof(u), "%s", pt_url(1, "/api/products?categoryId=%s&sort=name", fx.child));
    static const char *const child[] = {"Bravo Teapot", "Charlie Mug", "Delta Whisk", "Echo Pan", "Hotel Tray", "India Bowl", NULL};
    expect_names(all_names(u, 5), child);
    /* filters */
    snprintf(u, sizeof(u), "%s&sort=name&minPrice=900&maxPrice=2500", base);
    static const char *const range[] = {"Alpha Kettle", "Bravo Teapot", "Charlie Mug", "Hotel Tray", "India Bowl", NULL};
    expect_names(all_names(u, 10), range);
    snprintf(u, sizeof(u), "%s&minPrice=3000&maxPrice=1000", base);
    static const char *const none[] = {NULL};
    expect_names(all_names(u, 10), none);
    snprintf(u, sizeof(u), "%s&sort=name&inStock=false", base);
    static const char *const sold_out[] = {"Bravo Teapot", "Echo Pan", "Juliet Jar", NULL};
    expect_names(all_names(u, 10), sold_out);
    snprintf(u, sizeof(u), "%s&sort=name&inStock=true&isFeatured=true", base);
    static const char *const featured[] = {"Foxtrot Pot", NULL};
    expect_names(all_names(u, 10), featured);
    snprintf(u, sizeof(u), "%s&sort=name&tag=tea&tag=steel", base);
    static const char *const tagged[] = {"Alpha Kettle", "Golf Spoon", NULL};
    expect_names(all_names(u, 10), tagged);
    snprintf(u, sizeof(u), "%s&sort=name&sellerId=%s", base, PT_SELLER2_ID);
    static const char *const seller2[] = {"Charlie Mug", "Echo Pan", "Golf Spoon", "India Bowl", NULL};
    expect_names(all_names(u, 2), seller2);
    snprintf(u, sizeof(u), "%s", pt_url(0, "/api/products/seller/%s?sort=name&categoryId=%s", PT_SELLER2_ID, fx.other));
    static const char *const seller2_other[] = {"Lima Sieve", NULL};
    expect_names(all_names(u, 2), seller2_other);

    /* a cursor stays valid when the item it came from is deleted meanwhile */
    snprintf(u, sizeof(u), "%s&sort=price_asc&limit=2", base);
    json_t *l = pt_get(u, NULL);
    char cursor[256];
    snprintf(cursor, sizeof(cursor), "%s", pt_str(json_object_get(l, "pageInfo"), "endCursor"));
    json_decref(l);
    pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s", fx.ids[9]), pt_admin, NULL), 204, NULL); /* Juliet Jar */
    snprintf(u, sizeof(u), "%s&sort=price_asc&limit=1&cursor=%s", base, cursor);
    l = pt_get(u, NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(l, "items"), 0), "name"), "Delta Whisk");
    json_decref(l);
    /* a cursor decides its order: sort is then ignored */
    snprintf(u, sizeof(u), "%s&sort=name&limit=1&cursor=%s", base, cursor);
    l = pt_get(u, NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(l, "items"), 0), "name"), "Delta Whisk");
    json_decref(l);

    /* moving a category in the category service changes what its lists contain, at once */
    pt_expect(mh_send("POST", pt_cat_url("/api/categories/%s/move", fx.grandchild), pt_admin,
                      json_pack("{s:s}", "parentId", fx.other)),
              200, NULL);
    snprintf(u, sizeof(u), "%s", pt_url(1, "/api/products?categoryId=%s&sort=name", fx.child));
    static const char *const child_after[] = {"Bravo Teapot", "Echo Pan", "India Bowl", NULL};
    expect_names(all_names(u, 10), child_after);

    /* refusals */
    pt_expect(mh_get(pt_url(0, "/api/products?limit=101"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?limit=0"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?limit=1000000000000"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?cursor=garbage"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?cursor=s.10.0123456789abcdef01234567"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?cursor=n.1.0123456789ABCDEF01234567"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?cursor=a.zz.0123456789abcdef01234567"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?sort=cheapest"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?sort=relevance"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?minPrice=-1"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?inStock=maybe"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?tag=a&tag=b&tag=c&tag=d&tag=e&tag=f&tag=g&tag=h&tag=i&tag=j&tag=k"), NULL), 400,
              "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products?colour=red"), NULL), 400, "BAD_REQUEST");
    char ghost[25];
    mh_oid(ghost);
    pt_expect(mh_get(pt_url(0, "/api/products?categoryId=%s", ghost), NULL), 404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(0, "/api/products/seller/not-an-id"), NULL), 400, "BAD_REQUEST");
}

/* --- search ------------------------------------------------------------------------------------ */

static void search_ranks_and_suggests(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Audio Search", NULL));
    char ids[5][25];
    json_t *p;
    p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s}", "name", "Wireless Bluetooth Speaker", "price", 5000, "categoryId", cat));
    pt_id(p, ids[0]), json_decref(p);
    p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s}", "name", "Speaker Stand", "price", 2000, "categoryId", cat));
    pt_id(p, ids[1]), json_decref(p);
    p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s,s:[s]}", "name", "Soundbar Max", "price", 9000, "categoryId", cat, "tags", "speakers"));
    pt_id(p, ids[2]), json_decref(p);
    p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s,s:s}", "name", "Desk Lamp", "price", 3000, "categoryId", cat, "description",
                                        "Fits between your speakers."));
    pt_id(p, ids[3]), json_decref(p);
    p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s}", "name", "Ceramic Vase", "price", 1000, "categoryId", cat));
    pt_id(p, ids[4]), json_decref(p);

    /* name match (starting with the query first), then tag, then description */
    json_t *r = pt_get(pt_url(0, "/api/products/search?q=speaker&categoryId=%s", cat), NULL);
    json_t *items = json_object_get(r, "items");
    assert_int_equal(json_array_size(items), 4);
    assert_int_equal(pt_int(r, "totalCount"), 4);
    assert_int_equal(json_array_size(json_object_get(r, "cursors")), 4);
    assert_string_equal(pt_str(json_array_get(items, 0), "id"), ids[1]);
    assert_string_equal(pt_str(json_array_get(items, 1), "id"), ids[0]);
    assert_string_equal(pt_str(json_array_get(items, 2), "id"), ids[2]);
    assert_string_equal(pt_str(json_array_get(items, 3), "id"), ids[3]);
    json_decref(r);
    /* the same order page by page, and for the plural */
    char cursor[256] = "";
    for (int i = 0; i < 4; ++i) {
        json_t *pg = pt_get(cursor[0] ? pt_url(1, "/api/products/search?q=Speakers&categoryId=%s&limit=1&cursor=%s", cat, cursor)
                                      : pt_url(1, "/api/products/search?q=Speakers&categoryId=%s&limit=1", cat),
                            NULL);
        static const int order[] = {1, 0, 2, 3};
        assert_string_equal(pt_str(json_array_get(json_object_get(pg, "items"), 0), "id"), ids[order[i]]);
        json_t *pi = json_object_get(pg, "pageInfo");
        assert_int_equal(json_is_true(json_object_get(pi, "hasNextPage")), i < 3);
        snprintf(cursor, sizeof(cursor), "%s", pt_str(pi, "endCursor"));
        json_decref(pg);
    }
    /* every word must match; other orders; nothing searchable */
    r = pt_get(pt_url(0, "/api/products/search?q=bluetooth%%20SPEAKER"), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "items")), 1);
    assert_string_equal(pt_str(json_array_get(json_object_get(r, "items"), 0), "id"), ids[0]);
    json_decref(r);
    r = pt_get(pt_url(0, "/api/products/search?q=speaker&categoryId=%s&sort=price_asc", cat), NULL);
    assert_string_equal(pt_str(json_array_get(json_object_get(r, "items"), 0), "id"), ids[1]);
    assert_string_equal(pt_str(json_array_get(json_object_get(r, "items"), 3), "id"), ids[2]);
    json_decref(r);
    r = pt_get(pt_url(0, "/api/products/search?q=the+of"), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    r = pt_get(pt_url(0, "/api/products/search?q=speaker&categoryId=%s&maxPrice=2500", cat), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "items")), 1);
    json_decref(r);

    /* suggestions: name word prefixes */
    r = pt_get(pt_url(0, "/api/products/suggest?q=spea"), NULL);
    items = json_object_get(r, "items");
    assert_true(json_array_size(items) >= 2);
    assert_string_equal(pt_str(json_array_get(items, 0), "name"), "Speaker Stand"); /* starts with it */
    assert_true(has_id(items, ids[0]));
    assert_false(has_id(items, ids[2])); /* tags do not count */
    json_decref(r);
    r = pt_get(pt_url(1, "/api/products/suggest?q=wireless%%20spe&limit=5"), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "items")), 1);
    assert_string_equal(pt_str(json_array_get(json_object_get(r, "items"), 0), "slug"), "wireless-bluetooth-speaker");
    json_decref(r);
    r = pt_get(pt_url(1, "/api/products/suggest?q=zzzq"), NULL);
    assert_int_equal(json_array_size(json_object_get(r, "items")), 0);
    json_decref(r);
    /* a renamed product is found by its new name at once */
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", ids[4]), pt_seller, json_pack("{s:s}", "name", "Porcelain Vase")), 200,
              NULL);
    r = pt_get(pt_url(1, "/api/products/search?q=porcelain"), NULL);
    assert_true(has_id(json_object_get(r, "items"), ids[4]));
    json_decref(r);
    r = pt_get(pt_url(1, "/api/products/suggest?q=porc"), NULL);
    assert_true(has_id(json_object_get(r, "items"), ids[4]));
    json_decref(r);
    /* refusals */
    pt_expect(mh_get(pt_url(0, "/api/products/search"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/search?q="), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/suggest?q=a&limit=21"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/search?q=a&cursor=s.1.zz"), NULL), 400, "BAD_REQUEST");
}

/* Hostile text in search and filters is data, never a regex or an operator. */
static void injection_is_refused_or_inert(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Injection", NULL));
    json_t *p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s}", "name", "Plain Widget", "price", 100, "categoryId", cat));
    json_decref(p);
    static const char *const hostile[] = {
        "%7B%22%24ne%22%3Anull%7D", /* {"$ne":null} */
        ".%2A",                     /* .* */
        "%5EP",                     /* ^P */
        "%24where",                 /* $where */
        "a%7Cb",                    /* a|b */
        "%5C",                      /* \ */
        "(((((((((((",
        "%2A%2A%2A",
        NULL,
    };
    for (int i = 0; hostile[i] != NULL; ++i) {
        /* none of them is a word of "Plain Widget" once its punctuation is dropped */
        json_t *r = pt_get(pt_url(0, "/api/products/search?q=%s&categoryId=%s", hostile[i], cat), NULL);
        assert_int_equal(json_array_size(json_object_get(r, "items")), 0);
        json_decref(r);
    }
    /* suggestions: punctuation is no prefix of anything; "^P" is the prefix "p" */
    static const char *const punctuation[] = {".%2A", "(((((", "%2A%2A%2A", "%5C", "%24", NULL};
    for (int i = 0; punctuation[i] != NULL; ++i) {
        json_t *r = pt_get(pt_url(0, "/api/products/suggest?q=%s", punctuation[i]), NULL);
        assert_int_equal(json_array_size(json_object_get(r, "items")), 0);
        json_decref(r);
    }
    json_t *sg = pt_get(pt_url(0, "/api/products/suggest?q=%%5EPlai"), NULL);
    assert_int_equal(json_array_size(json_object_get(sg, "items")), 1);
    assert_string_equal(pt_str(json_array_get(json_object_get(sg, "items"), 0), "name"), "Plain Widget");
    json_decref(sg);
    /* a NUL byte or a control character in the query */
    pt_expect(mh_get(pt_url(0, "/api/products/search?q=%%00"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/search?q=a%%01b"), NULL), 400, "BAD_REQUEST");
    /* operators in filters */
    static const char *const bad_filters[] = {
        "categoryId[$ne]=x",
        "categoryId=%7B%22%24ne%22%3Anull%7D",
        "sellerId=.%2A",
        "minPrice[$gt]=0",
        "minPrice=%7B%22%24gt%22%3A0%7D",
        "tag=%24gt",
        "tag=.%2A",
        "sort=%24natural",
        "isActive=%7B%22%24ne%22%3Atrue%7D",
        "cursor=n.1.%7B%22%24gt%22%3A%22%22%7D",
        NULL,
    };
    for (int i = 0; bad_filters[i] != NULL; ++i)
        pt_expect(mh_get(pt_url(0, "/api/products?%s", bad_filters[i]), NULL), 400, "BAD_REQUEST");
    /* operators in bodies */
    const char *const bad_bodies[] = {
        "{\"name\":{\"$gt\":\"\"},\"price\":1,\"categoryId\":\"@\"}",
        "{\"name\":\"x\",\"price\":{\"$gt\":0},\"categoryId\":\"@\"}",
        "{\"name\":\"x\",\"price\":1,\"categoryId\":{\"$exists\":true},\"z\":\"@\"}",
        "{\"name\":\"x\",\"price\":1,\"categoryId\":\"@\",\"tags\":[{\"$ne\":1}]}",
        "{\"name\":\"x\",\"price\":1,\"categoryId\":\"@\",\"$where\":\"1\"}",
        "{\"name\":\"x\",\"price\":1,\"categoryId\":\"@\",\"slug\":\".*\"}",
        NULL,
    };
    for (int i = 0; bad_bodies[i] != NULL; ++i) {
        /* the category id goes where the @ is */
        char body[512];
        const char *at = strchr(bad_bodies[i], '@');
        snprintf(body, sizeof(body), "%.*s%s%s", (int)(at - bad_bodies[i]), bad_bodies[i], cat, at + 1);
        mh_response_t r;
        mh_http(&(mh_request_t){.method = "POST", .url = pt_url(0, "/api/products"), .token = pt_seller, .body = body,
                                .content_type = "application/json"},
                &r);
        pt_expect(r, 400, "BAD_REQUEST");
    }
    /* and nothing was created */
    json_t *l = pt_get(pt_url(0, "/api/products?categoryId=%s", cat), NULL);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 1);
    json_decref(l);
}

/* --- batch and slugs --------------------------------------------------------------------------- */

static void batch_and_slugs(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Batchable", NULL));
    char a[25], b[25], ghost[25];
    json_t *p = make(pt_seller, "Batch One", 1, cat);
    pt_id(p, a), json_decref(p);
    p = make(pt_seller, "Batch Two", 2, cat);
    pt_id(p, b), json_decref(p);
    mh_oid(ghost);
    char upper[25];
    for (int i = 0; i < 25; ++i)
        upper[i] = (char)(a[i] >= 'a' && a[i] <= 'f' ? a[i] - 32 : a[i]);
    json_t *r = pt_get(pt_url(0, "/api/products/batch?ids=%s,%s,%s,%s", b, ghost, upper, b), NULL);
    json_t *items = json_object_get(r, "items");
    assert_int_equal(json_array_size(items), 2);
    assert_string_equal(pt_str(json_array_get(items, 0), "id"), b); /* the order asked */
    assert_string_equal(pt_str(json_array_get(items, 1), "id"), a);
    assert_int_equal(json_array_size(json_object_get(r, "missing")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(r, "missing"), 0)), ghost);
    json_decref(r);
    /* a write shows in the batch at once */
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", a), pt_seller, json_pack("{s:i}", "price", 77)), 200, NULL);
    r = pt_get(pt_url(1, "/api/products/batch?ids=%s", a), NULL);
    assert_int_equal(pt_int(json_array_get(json_object_get(r, "items"), 0), "price"), 77);
    json_decref(r);
    /* 100 ids are fine, 101 are not */
    char list[101 * 25 + 1] = "";
    for (int i = 0; i < 101; ++i) {
        char oid[25];
        mh_oid(oid);
        if (i == 100) {
            r = pt_get(pt_url(0, "/api/products/batch?ids=%s", list), NULL);
            assert_int_equal(json_array_size(json_object_get(r, "missing")), 100);
            json_decref(r);
        }
        strcat(list, i ? "," : "");
        strcat(list, oid);
    }
    pt_expect(mh_get(pt_url(0, "/api/products/batch?ids=%s", list), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/batch?ids=abc"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/batch?ids=%s,", a), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/batch"), NULL), 400, "BAD_REQUEST");

    /* slugs follow renames at once: the old one is gone, the new one answers */
    json_decref(pt_get(pt_url(1, "/api/products/slug/batch-one"), NULL));
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", a), pt_seller, json_pack("{s:s}", "slug", "batch-first")), 200, NULL);
    pt_expect(mh_get(pt_url(1, "/api/products/slug/batch-one"), NULL), 404, "NOT_FOUND");
    r = pt_get(pt_url(1, "/api/products/slug/batch-first"), NULL);
    assert_string_equal(pt_str(r, "id"), a);
    json_decref(r);
    pt_expect(mh_get(pt_url(0, "/api/products/slug/Not_A_Slug"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/slug/no-such-product"), NULL), 404, "NOT_FOUND");
}

/* --- refusals ------------------------------------------------------------------------------------ */

static void bad_input_is_refused(void **state)
{
    char cat[25], inactive[25], ghost[25];
    strcpy(cat, pt_category("Refusals", NULL));
    strcpy(inactive, pt_category("Retired", NULL));
    pt_expect(mh_send("PATCH", pt_cat_url("/api/categories/%s", inactive), pt_admin, json_pack("{s:b}", "isActive", 0)), 200, NULL);
    mh_oid(ghost);
    const char *u = pt_url(0, "/api/products");
    char url[256];
    snprintf(url, sizeof(url), "%s", u);
#define BAD(fmt, ...) pt_expect(mh_send("POST", url, pt_seller, json_pack(fmt, __VA_ARGS__)), 400, "BAD_REQUEST")
    BAD("{s:s,s:i,s:s}", "name", "Negative", "price", -1, "categoryId", cat);
    BAD("{s:s,s:i,s:s,s:i}", "name", "Negative Stock", "price", 1, "categoryId", cat, "stock", -5);
    BAD("{s:s,s:I,s:s}", "name", "Too Dear", "price", (json_int_t)100000000001LL, "categoryId", cat);
    BAD("{s:s,s:f,s:s}", "name", "Fraction", "price", 1.5, "categoryId", cat);
    BAD("{s:s,s:s,s:s}", "name", "String Price", "price", "100", "categoryId", cat);
    BAD("{s:s,s:i}", "name", "No Category", "price", 1);
    BAD("{s:s,s:i,s:s}", "name", "", "price", 1, "categoryId", cat);
    BAD("{s:s,s:i,s:s}", "name", "    ", "price", 1, "categoryId", cat);
    BAD("{s:s,s:i,s:s}", "name", "tab\there", "price", 1, "categoryId", cat);
    BAD("{s:s,s:i,s:s}", "name", "Bad Category", "price", 1, "categoryId", "not-an-id");
    BAD("{s:s,s:i,s:s,s:s}", "name", "Lower Currency", "price", 1, "categoryId", cat, "currency", "usd");
    BAD("{s:s,s:i,s:s,s:[s]}", "name", "Bad Image", "price", 1, "categoryId", cat, "images", "javascript:alert(1)");
    BAD("{s:s,s:i,s:s,s:[s,s]}", "name", "Dup Tags", "price", 1, "categoryId", cat, "tags", "a", "a");
    BAD("{s:s,s:i,s:s,s:[s]}", "name", "Bad Tag", "price", 1, "categoryId", cat, "tags", "Has Space");
    BAD("{s:s,s:i,s:s,s:s}", "name", "Bad Slug", "price", 1, "categoryId", cat, "slug", "Bad_Slug");
    BAD("{s:s,s:i,s:s,s:i}", "name", "Unknown Field", "price", 1, "categoryId", cat, "discount", 5);
    BAD("{s:s,s:i,s:s,s:s}", "name", "Bad Active", "price", 1, "categoryId", cat, "isActive", "yes");
#undef BAD
    char longname[202];
    memset(longname, 'n', 201);
    longname[201] = '\0';
    pt_expect(mh_send("POST", url, pt_seller, json_pack("{s:s,s:i,s:s}", "name", longname, "price", 1, "categoryId", cat)), 400,
              "BAD_REQUEST");
    json_t *tags = json_array();
    for (int i = 0; i < 21; ++i)
        json_array_append_new(tags, json_sprintf("t%d", i));
    pt_expect(mh_send("POST", url, pt_seller, json_pack("{s:s,s:i,s:s,s:o}", "name", "Many Tags", "price", 1, "categoryId", cat, "tags", tags)),
              400, "BAD_REQUEST");
    /* every problem at once */
    mh_response_t r = mh_send("POST", url, pt_seller, json_pack("{s:i,s:i,s:s}", "name", 5, "price", -1, "categoryId", "x"));
    assert_int_equal(r.status, 400);
    assert_int_equal(json_array_size(json_object_get(json_object_get(r.json, "error"), "details")), 3);
    mh_response_free(&r);
    /* categories that do not exist or are not active */
    r = mh_send("POST", url, pt_seller, json_pack("{s:s,s:i,s:s}", "name", "Ghost Category", "price", 1, "categoryId", ghost));
    assert_int_equal(r.status, 404);
    assert_string_equal(pt_str(json_array_get(json_object_get(json_object_get(r.json, "error"), "details"), 0), "field"),
                        "categoryId");
    mh_response_free(&r);
    pt_expect(mh_send("POST", url, pt_seller, json_pack("{s:s,s:i,s:s}", "name", "Retired Category", "price", 1, "categoryId", inactive)),
              422, "UNPROCESSABLE");
    /* malformed bodies */
    mh_http(&(mh_request_t){.method = "POST", .url = url, .token = pt_seller, .body = "{\"name\":", .content_type = "application/json"}, &r);
    pt_expect(r, 400, "BAD_REQUEST");
    mh_http(&(mh_request_t){.method = "POST", .url = url, .token = pt_seller, .body = "{\"name\":\"a\",\"name\":\"b\"}",
                            .content_type = "application/json"},
            &r);
    pt_expect(r, 400, "BAD_REQUEST");
    mh_http(&(mh_request_t){.method = "POST", .url = url, .token = pt_seller, .body = "name=x", .content_type = "text/plain"}, &r);
    pt_expect(r, 415, "UNSUPPORTED_MEDIA_TYPE");
    size_t big = (1 << 20) + 100;
    char *huge = malloc(big + 1);
    memset(huge, ' ', big);
    memcpy(huge, "{\"name\":\"x\"", 11);
    huge[big - 1] = '}';
    huge[big] = '\0';
    mh_http(&(mh_request_t){.method = "POST", .url = url, .token = pt_seller, .body = huge, .content_type = "application/json"}, &r);
    free(huge);
    pt_expect(r, 413, "PAYLOAD_TOO_LARGE");
    /* paths */
    pt_expect(mh_get(pt_url(0, "/api/products/not-an-id"), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_get(pt_url(0, "/api/products/%s", ghost), NULL), 404, "NOT_FOUND");
    pt_expect(mh_get(pt_url(0, "/api/products/%s?x=1", ghost), NULL), 400, "BAD_REQUEST");
    pt_expect(mh_send("PUT", pt_url(0, "/api/products/%s", ghost), pt_admin, json_pack("{}")), 405, "METHOD_NOT_ALLOWED");
    pt_expect(mh_get(pt_url(0, "/api/nothing"), NULL), 404, "NOT_FOUND");
    /* nothing was created in the category */
    json_t *l = pt_get(pt_url(0, "/api/products?categoryId=%s", cat), NULL);
    assert_int_equal(json_array_size(json_object_get(l, "items")), 0);
    json_decref(l);
}

static void forged_tokens_cannot_write(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Guarded", NULL));
    json_t *p = make(pt_seller, "Guarded Item", 100, cat);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    json_t *claims = mh_claims(PT_SELLER_ID, "seller", time(NULL));
    char *other = mh_token_sign(NULL, claims, "another-secret-another-secret-0123456789", 40);
    char *none = mh_token_sign(json_pack("{s:s,s:s}", "alg", "none", "typ", "JWT"), claims, NULL, 0);
    json_decref(claims);
    char *expired = mh_token_at(PT_SELLER_ID, "seller", time(NULL) - 7200);
    char *tampered = strdup(pt_customer);
    char *dot = strchr(tampered, '.');
    dot[2] = dot[2] == 'A' ? 'B' : 'A';
    const char *bad[] = {other, none, expired, tampered, "garbage"};
    for (size_t i = 0; i < 5; ++i) {
        pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), bad[i], json_pack("{s:i}", "price", 1)), 401, "UNAUTHENTICATED");
        pt_expect(mh_send("DELETE", pt_url(0, "/api/products/%s", id), bad[i], NULL), 401, "UNAUTHENTICATED");
        pt_expect(mh_send("POST", pt_url(0, "/api/products"), bad[i], json_pack("{s:s,s:i,s:s}", "name", "F", "price", 1, "categoryId", cat)),
                  401, "UNAUTHENTICATED");
        pt_expect(mh_send("POST", pt_url(0, "/api/products/%s/stock", id), bad[i], json_pack("{s:i}", "delta", 5)), 401,
                  "UNAUTHENTICATED");
    }
    free(other), free(none), free(expired), free(tampered);
    json_t *g = pt_get(pt_url(0, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(g, "price"), 100);
    assert_int_equal(pt_int(g, "stock"), 0);
    json_decref(g);
}

/* --- the cache ----------------------------------------------------------------------------------- */

static void writes_are_never_followed_by_stale_reads(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Fresh Reads", NULL));
    json_t *p = pt_product(pt_seller, json_pack("{s:s,s:i,s:s,s:i}", "name", "Fresh Round 0", "price", 1000, "categoryId", cat, "stock", 10));
    char id[25];
    pt_id(p, id);
    json_decref(p);
    for (int round = 1; round <= 8; ++round) {
        /* warm every cache on both processes */
        for (int w = 0; w < 2; ++w) {
            json_decref(pt_get(pt_url(w, "/api/products/%s", id), NULL));
            json_decref(pt_get(pt_url(w, "/api/products?categoryId=%s", cat), NULL));
            json_decref(pt_get(pt_url(w, "/api/products?sort=price_asc&categoryId=%s", cat), NULL));
            json_decref(pt_get(pt_url(w, "/api/products/search?q=fresh"), NULL));
            json_decref(pt_get(pt_url(w, "/api/products/batch?ids=%s", id), NULL));
        }
        char name[32];
        snprintf(name, sizeof(name), "Fresh Round %d", round);
        int writer = round % 2, reader = 1 - writer;
        pt_expect(mh_send("PATCH", pt_url(writer, "/api/products/%s", id), pt_seller, json_pack("{s:s,s:i}", "name", name, "price", 1000 + round)),
                  200, NULL);
        pt_expect(mh_send("POST", pt_url(writer, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i,s:s}", "delta", 1, "reason", "restock")),
                  200, NULL);
        for (int w = 0; w < 2; ++w) {
            int which = w == 0 ? reader : writer;
            json_t *g = pt_get(pt_url(which, "/api/products/%s", id), NULL);
            assert_string_equal(pt_str(g, "name"), name);
            assert_int_equal(pt_int(g, "price"), 1000 + round);
            assert_int_equal(pt_int(g, "stock"), 10 + round);
            json_decref(g);
            json_t *l = pt_get(pt_url(which, "/api/products?categoryId=%s", cat), NULL);
            assert_string_equal(pt_str(json_array_get(json_object_get(l, "items"), 0), "name"), name);
            assert_int_equal(pt_int(json_array_get(json_object_get(l, "items"), 0), "stock"), 10 + round);
            json_decref(l);
            l = pt_get(pt_url(which, "/api/products/search?q=fresh"), NULL);
            json_t *hit = json_array_get(json_object_get(l, "items"), 0);
            assert_string_equal(pt_str(hit, "name"), name);
            json_decref(l);
            l = pt_get(pt_url(which, "/api/products/batch?ids=%s", id), NULL);
            assert_int_equal(pt_int(json_array_get(json_object_get(l, "items"), 0), "price"), 1000 + round);
            json_decref(l);
        }
    }
}

static long long stat(int which, const char *name)
{
    mh_response_t r = pt_internal("GET", pt_url(which, "/internal/stats"), NULL);
    assert_int_equal(r.status, 200);
    long long v = pt_int(r.json, name);
    mh_response_free(&r);
    return v;
}

static void concurrent_misses_make_one_database_read(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Single Flight", NULL));
    json_t *p = make(pt_seller, "Hot Product", 999, cat);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    enum { N = 50 };
    static mh_request_t reqs[N];
    static mh_response_t res[N];
    static char url[256], list_url[256];
    for (int round = 0; round < 3; ++round) {
        /* a write: the next read of the product misses */
        pt_expect(mh_send("PATCH", pt_url(1, "/api/products/%s", id), pt_seller, json_pack("{s:i}", "price", 1000 + round)), 200, NULL);
        long long before = stat(0, "productLoads");
        snprintf(url, sizeof(url), "%s", pt_url(0, "/api/products/%s", id));
        for (int i = 0; i < N; ++i)
            reqs[i] = (mh_request_t){.url = url};
        assert_int_equal(mh_http_parallel(reqs, N, res), 0);
        for (int i = 0; i < N; ++i) {
            assert_int_equal(res[i].status, 200);
            assert_int_equal(pt_int(res[i].json, "price"), 1000 + round);
            mh_response_free(&res[i]);
        }
        assert_int_equal(stat(0, "productLoads") - before, 1);
    }
    /* the same for a list page */
    pt_expect(mh_send("PATCH", pt_url(1, "/api/products/%s", id), pt_seller, json_pack("{s:i}", "price", 5)), 200, NULL);
    json_decref(pt_get(pt_url(0, "/api/products/%s", id), NULL)); /* the product itself is cached */
    long long before = stat(0, "pageLoads");
    snprintf(list_url, sizeof(list_url), "%s", pt_url(0, "/api/products?sort=name&sellerId=%s&limit=7", PT_SELLER_ID));
    for (int i = 0; i < N; ++i)
        reqs[i] = (mh_request_t){.url = list_url};
    assert_int_equal(mh_http_parallel(reqs, N, res), 0);
    for (int i = 0; i < N; ++i) {
        assert_int_equal(res[i].status, 200);
        mh_response_free(&res[i]);
    }
    assert_int_equal(stat(0, "pageLoads") - before, 1);
    /* and a cached read makes none */
    before = stat(0, "productLoads");
    json_decref(pt_get(pt_url(0, "/api/products/%s", id), NULL));
    assert_int_equal(stat(0, "productLoads"), before);
}

static bool ready_is(void *arg)
{
    const char *want = arg;
    mh_response_t c = mh_get(pt_cat_url("/ready"), NULL); /* the category service uses Redis too */
    bool ok = c.json != NULL && pt_str(c.json, "status") != NULL && strcmp(pt_str(c.json, "status"), want) == 0;
    mh_response_free(&c);
    for (int w = 0; w < 2; ++w) {
        mh_response_t r = mh_get(pt_url(w, "/ready"), NULL);
        ok = ok && r.json != NULL && pt_str(r.json, "status") != NULL && strcmp(pt_str(r.json, "status"), want) == 0;
        mh_response_free(&r);
    }
    return ok;
}

static void works_without_redis_and_stays_fresh_after(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Redis Outage", NULL));
    json_t *p = make(pt_seller, "Outage Lamp", 100, cat);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    for (int w = 0; w < 2; ++w) { /* cached in Redis */
        json_decref(pt_get(pt_url(w, "/api/products/%s", id), NULL));
        json_decref(pt_get(pt_url(w, "/api/products?categoryId=%s", cat), NULL));
    }
    /* Redis stops answering (it keeps its data): both processes fall back to MongoDB */
    assert_int_equal(mh_redis_pause(), 0);
    assert_true(mh_wait_until(ready_is, "degraded", 15000));
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:i}", "price", 200)), 200, NULL);
    json_t *g = pt_get(pt_url(1, "/api/products/%s", id), NULL);
    assert_int_equal(pt_int(g, "price"), 200);
    json_decref(g);
    json_t *l = pt_get(pt_url(0, "/api/products?categoryId=%s", cat), NULL);
    assert_int_equal(pt_int(json_array_get(json_object_get(l, "items"), 0), "price"), 200);
    json_decref(l);
    json_t *made = make(pt_seller, "Made During Outage", 5, cat);
    json_decref(made);
    pt_expect(mh_send("POST", pt_url(1, "/api/products/%s/stock", id), pt_seller, json_pack("{s:i}", "stock", 9)), 200, NULL);
    /* Redis answers again, with the values cached before the writes: none may show */
    assert_int_equal(mh_redis_resume(), 0);
    assert_true(mh_wait_until(ready_is, "ready", 20000));
    for (int w = 0; w < 2; ++w) {
        g = pt_get(pt_url(w, "/api/products/%s", id), NULL);
        assert_int_equal(pt_int(g, "price"), 200);
        assert_int_equal(pt_int(g, "stock"), 9);
        json_decref(g);
        l = pt_get(pt_url(w, "/api/products?categoryId=%s", cat), NULL);
        assert_int_equal(json_array_size(json_object_get(l, "items")), 2);
        json_decref(l);
    }
    /* and caching resumed */
    long long before = stat(0, "cacheHits");
    json_decref(pt_get(pt_url(0, "/api/products/%s", id), NULL));
    json_decref(pt_get(pt_url(0, "/api/products/%s", id), NULL));
    assert_true(stat(0, "cacheHits") > before);
}

static void category_service_down_is_a_503(void **state)
{
    char cat[25];
    strcpy(cat, pt_category("Before Outage", NULL));
    json_t *p = make(pt_seller, "Outage Chair", 100, cat);
    char id[25];
    pt_id(p, id);
    json_decref(p);
    uint16_t port = mh_service_port(pt_category_svc);
    assert_int_equal(mh_service_stop(pt_category_svc), 0);
    pt_category_svc = NULL;
    mh_response_t r = mh_send("POST", pt_url(0, "/api/products"), pt_seller,
                              json_pack("{s:s,s:i,s:s}", "name", "Cannot Check", "price", 1, "categoryId", cat));
    assert_int_equal(r.status, 503);
    assert_string_equal(mh_error_code(&r), "UNAVAILABLE");
    mh_response_free(&r);
    pt_expect(mh_get(pt_url(0, "/api/products?categoryId=%s", cat), NULL), 503, "UNAVAILABLE");
    /* what needs no category keeps working */
    json_decref(pt_get(pt_url(1, "/api/products/%s", id), NULL));
    pt_expect(mh_send("PATCH", pt_url(0, "/api/products/%s", id), pt_seller, json_pack("{s:i}", "price", 150)), 200, NULL);
    /* back on its port: checks work again */
    pt_category_svc = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true, .port = port});
    assert_non_null(pt_category_svc);
    json_decref(make(pt_seller, "Checked Again", 1, cat));
}

/* The run answered list and search queries through the configured path. */
static void used_the_configured_query_path(void **state)
{
    const char *mode = getenv("PRODUCT_TEST_QUERY_INDEX");
    long long queries = stat(0, "indexQueries") + stat(1, "indexQueries");
    if (mode != NULL && strcmp(mode, "database") == 0) {
        assert_int_equal(queries, 0);
    } else {
        assert_true(queries > 20);
        assert_true(stat(0, "indexLoads") > 0);
    }
}

static void serves_its_openapi_document(void **state)
{
    json_t *doc = pt_get(pt_url(0, "/openapi.json"), NULL);
    assert_string_equal(pt_str(doc, "openapi"), "3.0.3");
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/api/inventory/reservations"));
    json_decref(doc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(create_read_update_delete),
        cmocka_unit_test(inactive_products_are_hidden),
        cmocka_unit_test(lists_filter_sort_and_paginate),
        cmocka_unit_test(search_ranks_and_suggests),
        cmocka_unit_test(injection_is_refused_or_inert),
        cmocka_unit_test(batch_and_slugs),
        cmocka_unit_test(bad_input_is_refused),
        cmocka_unit_test(forged_tokens_cannot_write),
        cmocka_unit_test(writes_are_never_followed_by_stale_reads),
        cmocka_unit_test(concurrent_misses_make_one_database_read),
        cmocka_unit_test(works_without_redis_and_stays_fresh_after),
        cmocka_unit_test(category_service_down_is_a_503),
        cmocka_unit_test(used_the_configured_query_path),
        cmocka_unit_test(serves_its_openapi_document),
    };
    return mh_run_group("product/catalog", tests, setup, teardown);
}
