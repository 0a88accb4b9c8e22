/*
 * Unit tests of gateway/gw_sub_event.c and lib/mc_order_view.c: events are checked
 * before anyone sees them, and who sees what of an order follows the rule (checked
 * against an independent statement of it here) and is exactly what the order service's
 * API shows (ord_view in services/order/lifecycle.c, which maps its actors onto the same
 * rule) — on thousands of seeded random orders and every kind of viewer: admins, the
 * customer, other customers, each seller, sellers of other orders, a seller who bought
 * from themselves.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_sub_event.h"
#include "lifecycle.h"

static const char *const PEOPLE[] = {"64b7f0c2a1b2c3d4e5f60001", "64b7f0c2a1b2c3d4e5f60002", "64b7f0c2a1b2c3d4e5f60003",
                                     "64b7f0c2a1b2c3d4e5f60004", "64b7f0c2a1b2c3d4e5f60005", "64b7f0c2a1b2c3d4e5f60006"};
#define NPEOPLE 6

static unsigned rnd(unsigned *seed, unsigned n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (*seed >> 16) % n;
}

/* An order as the order service stores it: lines of 1 to 4 sellers, totals, a coupon. */
static json_t *random_order(unsigned *seed)
{
    const char *customer = PEOPLE[rnd(seed, NPEOPLE)];
    json_t *items = json_array(), *sellers = json_array();
    unsigned n = 1 + rnd(seed, 5);
    json_int_t sub = 0, disc = 0;
    for (unsigned i = 0; i < n; ++i) {
        const char *s = PEOPLE[rnd(seed, NPEOPLE)];
        json_int_t price = 100 + rnd(seed, 10000), q = 1 + rnd(seed, 3), d = rnd(seed, 2) ? rnd(seed, 100) : 0;
        json_array_append_new(items, json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I}", "productId", "64b7f0c2a1b2c3d4e5f6ffff",
                                               "sellerId", s, "name", "Thing", "unitPrice", price, "quantity", q, "subtotal",
                                               price * q, "discount", d, "total", price * q - d));
        sub += price * q;
        disc += d;
        bool seen = false;
        size_t k;
        json_t *x;
        json_array_foreach(sellers, k, x) seen = seen || strcmp(json_string_value(x), s) == 0;
        if (!seen)
            json_array_append_new(sellers, json_string(s));
    }
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o,s:I,s:I,s:i,s:i,s:I,s:{s:s,s:I},s:s,s:i,s:s}", "id",
                     "64b7f0c2a1b2c3d4e5f6aaaa", "customerId", customer, "status", "confirmed", "paymentStatus", "paid",
                     "currency", "USD", "items", items, "sellerIds", sellers, "subtotal", sub, "discount", disc, "shipping",
                     499, "tax", 120, "total", sub - disc + 619, "coupon", "code", "SAVE", "discount", disc, "day",
                     "2026-11-21", "version", 1 + (int)rnd(seed, 9), "createdAt", "2026-11-21T10:00:00.000Z");
}

/* The rule, stated independently of lib/mc_order_view.c. */
static json_t *expected_view(const json_t *order, const char *user, mc_role_t role)
{
    bool customer = strcmp(json_string_value(json_object_get(order, "customerId")), user) == 0;
    json_t *o = json_deep_copy(order);
    json_object_del(o, "day");
    if (role == MC_ROLE_ADMIN || customer) {
        json_object_set_new(o, "view", json_string("full"));
        return o;
    }
    json_t *mine = json_array();
    json_int_t sums[3] = {0, 0, 0};
    static const char *const keys[3] = {"subtotal", "discount", "total"};
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(order, "items"), i, it)
    {
        if (strcmp(json_string_value(json_object_get(it, "sellerId")), user) != 0)
            continue;
        json_array_append(mine, it);
        for (int k = 0; k < 3; ++k)
            sums[k] += json_integer_value(json_object_get(it, keys[k]));
    }
    if (role != MC_ROLE_SELLER || json_array_size(mine) == 0) {
        json_decref(mine);
        json_decref(o);
        return NULL;
    }
    json_object_set_new(o, "items", mine);
    for (int k = 0; k < 3; ++k)
        json_object_set_new(o, keys[k], json_integer(sums[k]));
    json_object_set_new(o, "sellerIds", json_pack("[s]", user));
    json_object_set_new(o, "shipping", json_null());
    json_object_set_new(o, "tax", json_null());
    json_object_set_new(o, "coupon", json_null());
    json_object_set_new(o, "view", json_string("seller"));
    return o;
}

static void same_as_the_rule_and_the_order_service(const json_t *order, const char *user, mc_role_t role)
{
    ord_actor_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.user_id, sizeof(a.user_id), "%s", user);
    a.role = role;
    json_t *want = expected_view(order, user, role);
    json_t *theirs = ord_view(order, &a);
    mc_order_view_t v = mc_order_visibility(order, false, role, user);
    json_t *ours = mc_order_view(order, v, user);
    if ((want == NULL) != (ours == NULL) || (want != NULL && !json_equal(want, ours)) || (theirs == NULL) != (ours == NULL) ||
        (theirs != NULL && !json_equal(theirs, ours))) {
        char *o = json_dumps(order, JSON_COMPACT), *w = want ? json_dumps(want, JSON_COMPACT) : NULL,
             *t = theirs ? json_dumps(theirs, JSON_COMPACT) : NULL, *g = ours ? json_dumps(ours, JSON_COMPACT) : NULL;
        fail_msg("%s as %s:\n order: %s\n the rule: %s\n order service: %s\n gateway: %s", user, mc_role_name(role), o,
                 w ? w : "(none)", t ? t : "(none)", g ? g : "(none)");
    }
    if (ours != NULL)
        assert_string_equal(json_string_value(json_object_get(ours, "view")), v == MC_ORDER_FULL ? "full" : "seller");
    json_decref(want);
    json_decref(theirs);
    json_decref(ours);
}

static void everyone_sees_what_the_order_service_shows(void **state)
{
    (void)state;
    unsigned seed = 20261121;
    static const mc_role_t roles[] = {MC_ROLE_CUSTOMER, MC_ROLE_SELLER, MC_ROLE_ADMIN};
    unsigned sellers = 0, nothing = 0;
    for (int i = 0; i < 3000; ++i) {
        json_t *order = random_order(&seed);
        for (unsigned p = 0; p < NPEOPLE; ++p)
            for (unsigned r = 0; r < 3; ++r) {
                same_as_the_rule_and_the_order_service(order, PEOPLE[p], roles[r]);
                mc_order_view_t v = mc_order_visibility(order, false, roles[r], PEOPLE[p]);
                sellers += v == MC_ORDER_SELLER;
                nothing += v == MC_ORDER_HIDDEN;
            }
        json_decref(order);
    }
    /* the random orders did exercise every case */
    assert_true(sellers > 1000);
    assert_true(nothing > 1000);
    assert_int_equal(mc_order_visibility(NULL, false, MC_ROLE_ADMIN, PEOPLE[0]), MC_ORDER_HIDDEN);
    /* nobody (an empty id) is no one's customer or seller */
    json_t *order = random_order(&seed);
    assert_int_equal(mc_order_visibility(order, false, MC_ROLE_SELLER, ""), MC_ORDER_HIDDEN);
    assert_int_equal(mc_order_visibility(order, true, MC_ROLE_CUSTOMER, ""), MC_ORDER_FULL);
    json_decref(order);
}

static void a_sellers_view(void **state)
{
    (void)state;
    json_t *order = json_pack("{s:s,s:s,s:[{s:s,s:I,s:I,s:I},{s:s,s:I,s:I,s:I}],s:[s,s],s:I,s:I,s:I,s:I,s:I,s:{s:s}}",
                              "id", "64b7f0c2a1b2c3d4e5f6aaaa", "customerId", PEOPLE[0], "items", "sellerId", PEOPLE[1],
                              "subtotal", (json_int_t)1000, "discount", (json_int_t)100, "total", (json_int_t)900,
                              "sellerId", PEOPLE[2], "subtotal", (json_int_t)500, "discount", (json_int_t)0, "total",
                              (json_int_t)500, "sellerIds", PEOPLE[1], PEOPLE[2], "subtotal", (json_int_t)1500, "discount",
                              (json_int_t)100, "shipping", (json_int_t)499, "tax", (json_int_t)120, "total",
                              (json_int_t)2019, "coupon", "code", "SAVE");
    assert_int_equal(mc_order_visibility(order, false, MC_ROLE_SELLER, PEOPLE[2]), MC_ORDER_SELLER);
    json_t *v = mc_order_view(order, MC_ORDER_SELLER, PEOPLE[2]);
    assert_int_equal(json_array_size(json_object_get(v, "items")), 1);
    assert_int_equal(json_integer_value(json_object_get(v, "subtotal")), 500);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 500);
    assert_true(json_is_null(json_object_get(v, "shipping")));
    assert_true(json_is_null(json_object_get(v, "tax")));
    assert_true(json_is_null(json_object_get(v, "coupon")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(v, "sellerIds"), 0)), PEOPLE[2]);
    assert_int_equal(json_array_size(json_object_get(v, "sellerIds")), 1);
    json_decref(v);
    /* the original is untouched */
    assert_int_equal(json_array_size(json_object_get(order, "items")), 2);
    json_decref(order);
}

static const char EVENT[] =
    "{\"type\":\"order.updated\",\"orderId\":\"64b7f0c2a1b2c3d4e5f6aaaa\",\"customerId\":\"64b7f0c2a1b2c3d4e5f60001\","
    "\"sellerIds\":[\"64b7f0c2a1b2c3d4e5f60002\"],\"status\":\"confirmed\",\"version\":2,\"at\":\"2026-11-21T10:00:00.000Z\","
    "\"order\":{\"id\":\"64b7f0c2a1b2c3d4e5f6aaaa\",\"customerId\":\"64b7f0c2a1b2c3d4e5f60001\","
    "\"sellerIds\":[\"64b7f0c2a1b2c3d4e5f60002\"],\"status\":\"confirmed\",\"version\":2,\"items\":[]}}";

static void events_are_checked(void **state)
{
    (void)state;
    gw_order_event_t ev;
    char why[128];
    assert_int_equal(gw_order_event_parse(EVENT, strlen(EVENT), &ev, why, sizeof(why)), 0);
    assert_string_equal(ev.type, "order.updated");
    assert_string_equal(ev.order_id, "64b7f0c2a1b2c3d4e5f6aaaa");
    assert_string_equal(ev.customer_id, "64b7f0c2a1b2c3d4e5f60001");
    assert_int_equal(ev.version, 2);
    json_t *p = gw_order_event_payload(&ev, json_pack("{s:s}", "id", "x"));
    assert_string_equal(json_string_value(json_object_get(p, "type")), "order.updated");
    assert_int_equal(json_integer_value(json_object_get(p, "version")), 2);
    assert_string_equal(json_string_value(json_object_get(p, "at")), "2026-11-21T10:00:00.000Z");
    assert_string_equal(json_string_value(json_object_get(json_object_get(p, "order"), "id")), "x");
    json_decref(p);
    gw_order_event_free(&ev);

    /* each broken part: the event is dropped with a reason */
    static const struct {
        const char *from, *to;
    } breaks[] = {
        {"\"order.updated\"", "\"order.deleted\""},
        {"\"type\":\"order.updated\",", ""},
        {"\"orderId\":\"64b7f0c2a1b2c3d4e5f6aaaa\"", "\"orderId\":\"../../x\""},
        {"\"customerId\":\"64b7f0c2a1b2c3d4e5f60001\",\"sellerIds\":[\"64b7f0c2a1b2c3d4e5f60002\"],\"status\":\"confirmed\","
         "\"version\":2,\"at\"",
         "\"customerId\":\"\",\"sellerIds\":[\"64b7f0c2a1b2c3d4e5f60002\"],\"status\":\"confirmed\",\"version\":2,\"at\""},
        {"\"sellerIds\":[\"64b7f0c2a1b2c3d4e5f60002\"],\"status\":\"confirmed\",\"version\":2,\"at\"",
         "\"sellerIds\":[2],\"status\":\"confirmed\",\"version\":2,\"at\""},
        {"\"version\":2,\"at\"", "\"version\":0,\"at\""},
        {"\"version\":2,\"at\"", "\"version\":\"2\",\"at\""},
        {"\"at\":\"2026-11-21T10:00:00.000Z\",", ""},
        {",\"items\":[]}}", "}}"},
    };
    for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); ++i) {
        char text[2048];
        const char *at = strstr(EVENT, breaks[i].from);
        assert_non_null(at);
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - EVENT), EVENT, breaks[i].to, at + strlen(breaks[i].from));
        int r = gw_order_event_parse(text, strlen(text), &ev, why, sizeof(why));
        if (i == sizeof(breaks) / sizeof(breaks[0]) - 1) /* items are not required */
            assert_int_equal(r, 0);
        else if (r != -1)
            fail_msg("accepted: %s", text);
        gw_order_event_free(&ev);
    }
    /* the routing fields must describe the order carried */
    static const char *const lies[] = {
        "\"order\":{\"id\":\"64b7f0c2a1b2c3d4e5f6bbbb\"",
        "\"order\":{\"id\":\"64b7f0c2a1b2c3d4e5f6aaaa\",\"customerId\":\"64b7f0c2a1b2c3d4e5f60009\"",
    };
    for (size_t i = 0; i < 2; ++i) {
        char text[2048];
        const char *at = strstr(EVENT, "\"order\":{");
        const char *rest = strstr(at, i == 0 ? ",\"customerId\"" : ",\"sellerIds\"");
        snprintf(text, sizeof(text), "%.*s%s%s", (int)(at - EVENT), EVENT, lies[i], rest);
        assert_int_equal(gw_order_event_parse(text, strlen(text), &ev, why, sizeof(why)), -1);
        assert_non_null(strstr(why, "differ"));
        gw_order_event_free(&ev);
    }
    assert_int_equal(gw_order_event_parse("[]", 2, &ev, why, sizeof(why)), -1);
    gw_order_event_free(&ev);
    assert_int_equal(gw_order_event_parse("{", 1, &ev, why, sizeof(why)), -1);
    gw_order_event_free(&ev);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(everyone_sees_what_the_order_service_shows),
        cmocka_unit_test(a_sellers_view),
        cmocka_unit_test(events_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
