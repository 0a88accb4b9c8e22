/*
 * Unit tests of the order lifecycle (services/order/lifecycle.c): every transition from
 * every status for every kind of caller, what a change records, and who sees what.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "lifecycle.h"

#define CUSTOMER "aaaaaaaaaaaaaaaaaaaaaaaa"
#define SELLER_A "bbbbbbbbbbbbbbbbbbbbbbbb"
#define SELLER_B "cccccccccccccccccccccccc"
#define STRANGER "dddddddddddddddddddddddd"
#define ADMIN "eeeeeeeeeeeeeeeeeeeeeeee"
#define NOW 1800000000000LL

static json_t *order(const char *status, const char *payment)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:[s,s],s:[{s:s,s:s,s:i,s:i,s:i},{s:s,s:s,s:i,s:i,s:i}],s:i,s:i,s:i,s:i,s:i,"
                     "s:{s:s,s:i},s:[],s:i,s:s}",
                     "id", "ffffffffffffffffffffffff", "number", "MC-2026-000001", "customerId", CUSTOMER, "status", status,
                     "paymentStatus", payment, "sellerIds", SELLER_A, SELLER_B, "items", "productId", "111111111111111111111111",
                     "sellerId", SELLER_A, "subtotal", 1000, "discount", 100, "total", 900, "productId", "222222222222222222222222",
                     "sellerId", SELLER_B, "subtotal", 3000, "discount", 300, "total", 2700, "subtotal", 4000, "discount", 400,
                     "shipping", 0, "tax", 288, "total", 3888, "coupon", "code", "TEN", "discount", 400, "timeline", "version", 3,
                     "day", "2027-01-15");
}

static ord_actor_t actor(const char *id, mc_role_t role)
{
    ord_actor_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.user_id, sizeof(a.user_id), "%s", id);
    a.role = role;
    return a;
}

static const char *const statuses[] = {"pending", "confirmed", "processing", "shipped", "delivered", "cancelled"};

/* The expected verdict of act from status for a caller kind (0 customer-owner, 1 seller
 * of the order, 2 admin, 3 stranger customer, 4 seller not in the order). */
static ord_verdict_t expected(ord_action_t act, const char *status, const char *payment, int who)
{
    if (who == 3 || who == 4)
        return ORD_NOT_VISIBLE;
    if (act == ACT_PAY || act == ACT_REFUND) {
        if (who != 2)
            return ORD_FORBIDDEN;
        return strcmp(payment, act == ACT_PAY ? "unpaid" : "paid") == 0 ? ORD_OK : ORD_ILLEGAL;
    }
    if (act == ACT_CANCEL)
        return strcmp(status, "pending") == 0 || strcmp(status, "confirmed") == 0 || strcmp(status, "processing") == 0 ? ORD_OK
                                                                                                                      : ORD_ILLEGAL;
    if (who == 0)
        return ORD_FORBIDDEN;
    static const char *const from[] = {"pending", "confirmed", "processing", "shipped"};
    return strcmp(status, from[act]) == 0 ? ORD_OK : ORD_ILLEGAL;
}

static void every_transition(void **state)
{
    ord_actor_t who[5] = {actor(CUSTOMER, MC_ROLE_CUSTOMER), actor(SELLER_A, MC_ROLE_SELLER), actor(ADMIN, MC_ROLE_ADMIN),
                          actor(STRANGER, MC_ROLE_CUSTOMER), actor(STRANGER, MC_ROLE_SELLER)};
    static const char *const pays[] = {"unpaid", "paid", "refunded"};
    int checked = 0;
    for (size_t s = 0; s < 6; ++s)
        for (size_t p = 0; p < 3; ++p)
            for (int act = ACT_CONFIRM; act <= ACT_REFUND; ++act)
                for (int w = 0; w < 5; ++w) {
                    json_t *o = order(statuses[s], pays[p]);
                    ord_change_t c = {.act = (ord_action_t)act, .carrier = "DHL", .tracking = "JD0001"};
                    char why[256] = "";
                    ord_verdict_t v = ord_decide(o, &who[w], &c, why, sizeof(why));
                    if (v != expected((ord_action_t)act, statuses[s], pays[p], w))
                        fail_msg("%s from %s/%s by %d: got %d (%s)", ord_action_name((ord_action_t)act), statuses[s], pays[p], w, v, why);
                    if (v != ORD_OK)
                        assert_true(strlen(why) > 0);
                    json_decref(o);
                    ++checked;
                }
    assert_int_equal(checked, 6 * 3 * 7 * 5);
    /* the system may do what an admin may */
    ord_actor_t sys = {.system = true};
    json_t *o = order("pending", "unpaid");
    ord_change_t c = {.act = ACT_CANCEL};
    char why[256];
    assert_int_equal(ord_decide(o, &sys, &c, why, sizeof(why)), ORD_OK);
    json_decref(o);
}

static void a_change_records_itself(void **state)
{
    json_t *o = order("processing", "paid");
    ord_actor_t s = actor(SELLER_A, MC_ROLE_SELLER);
    ord_change_t c = {.act = ACT_SHIP, .carrier = "DHL", .tracking = "JD014600003", .note = "two boxes"};
    json_t *n = ord_apply(o, &s, &c, NOW);
    assert_string_equal(json_string_value(json_object_get(n, "status")), "shipped");
    assert_int_equal(json_integer_value(json_object_get(n, "version")), 4);
    json_t *ship = json_object_get(n, "shipment");
    assert_string_equal(json_string_value(json_object_get(ship, "carrier")), "DHL");
    assert_string_equal(json_string_value(json_object_get(ship, "trackingNumber")), "JD014600003");
    json_t *tl = json_object_get(n, "timeline");
    assert_int_equal(json_array_size(tl), 1);
    json_t *e = json_array_get(tl, 0);
    assert_string_equal(json_string_value(json_object_get(e, "status")), "shipped");
    assert_string_equal(json_string_value(json_object_get(e, "note")), "two boxes");
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "by"), "userId")), SELLER_A);
    assert_string_equal(json_string_value(json_object_get(json_object_get(e, "by"), "role")), "seller");
    assert_string_equal(json_string_value(json_object_get(o, "status")), "processing"); /* the input is untouched */
    /* payment changes keep the status and record the payment */
    ord_actor_t a = actor(ADMIN, MC_ROLE_ADMIN);
    ord_change_t r = {.act = ACT_REFUND};
    json_t *m = ord_apply(n, &a, &r, NOW + 1);
    assert_string_equal(json_string_value(json_object_get(m, "status")), "shipped");
    assert_string_equal(json_string_value(json_object_get(m, "paymentStatus")), "refunded");
    assert_int_equal(json_array_size(json_object_get(m, "timeline")), 2);
    /* the event carries the whole order, its customer and its sellers */
    json_t *ev = ord_event(m, ord_event_type(ACT_REFUND), NOW + 1);
    assert_string_equal(json_string_value(json_object_get(ev, "type")), "order.updated");
    assert_int_equal(json_integer_value(json_object_get(ev, "version")), 5);
    assert_string_equal(json_string_value(json_object_get(ev, "customerId")), CUSTOMER);
    assert_int_equal(json_array_size(json_object_get(ev, "sellerIds")), 2);
    assert_int_equal(json_array_size(json_object_get(json_object_get(ev, "order"), "items")), 2);
    assert_null(json_object_get(json_object_get(ev, "order"), "day"));
    json_decref(ev);
    /* a system cancellation names no user */
    ord_actor_t sys = {.system = true};
    ord_change_t cc = {.act = ACT_CANCEL, .note = "expired"};
    json_t *x = ord_apply(o, &sys, &cc, NOW);
    assert_string_equal(json_string_value(json_object_get(ev = ord_event(x, ord_event_type(ACT_CANCEL), NOW), "type")), "order.cancelled");
    json_t *by = json_object_get(json_object_get(x, "cancellation"), "by");
    assert_true(json_is_null(json_object_get(by, "userId")));
    assert_string_equal(json_string_value(json_object_get(by, "role")), "system");
    json_decref(ev);
    json_decref(x);
    json_decref(m);
    json_decref(n);
    json_decref(o);
}

static void who_sees_what(void **state)
{
    json_t *o = order("pending", "unpaid");
    ord_actor_t owner = actor(CUSTOMER, MC_ROLE_CUSTOMER), a = actor(ADMIN, MC_ROLE_ADMIN), s = actor(SELLER_B, MC_ROLE_SELLER);
    ord_actor_t stranger = actor(STRANGER, MC_ROLE_CUSTOMER), other_seller = actor(STRANGER, MC_ROLE_SELLER);
    /* a customer whose id is a seller's of the order is still a customer: not a seller view */
    ord_actor_t customer_b = actor(SELLER_B, MC_ROLE_CUSTOMER);
    json_t *v = ord_view(o, &owner);
    assert_string_equal(json_string_value(json_object_get(v, "view")), "full");
    assert_int_equal(json_array_size(json_object_get(v, "items")), 2);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 3888);
    assert_null(json_object_get(v, "day"));
    json_decref(v);
    v = ord_view(o, &a);
    assert_string_equal(json_string_value(json_object_get(v, "view")), "full");
    json_decref(v);
    v = ord_view(o, &s);
    assert_string_equal(json_string_value(json_object_get(v, "view")), "seller");
    assert_int_equal(json_array_size(json_object_get(v, "items")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(v, "items"), 0), "sellerId")), SELLER_B);
    assert_int_equal(json_integer_value(json_object_get(v, "subtotal")), 3000);
    assert_int_equal(json_integer_value(json_object_get(v, "discount")), 300);
    assert_int_equal(json_integer_value(json_object_get(v, "total")), 2700);
    assert_true(json_is_null(json_object_get(v, "tax")));
    assert_true(json_is_null(json_object_get(v, "coupon")));
    assert_int_equal(json_array_size(json_object_get(v, "sellerIds")), 1);
    json_decref(v);
    assert_null(ord_view(o, &stranger));
    assert_null(ord_view(o, &other_seller));
    assert_null(ord_view(o, &customer_b));
    json_decref(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_transition),
        cmocka_unit_test(a_change_records_itself),
        cmocka_unit_test(who_sees_what),
    };
    return cmocka_run_group_tests_name("order lifecycle", tests, NULL, NULL);
}
