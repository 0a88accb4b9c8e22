/*
 * Unit tests of the order totals (services/order/money.c): shipping thresholds, tax
 * rounding half up, discounts clamped, and no overflow at the API's bounds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "money.h"

static void shipping_and_tax(void **state)
{
    ord_rules_t r = {.tax_rate_bps = 800, .shipping_fee = 499, .free_shipping_min = 5000};
    ord_totals_t t;
    ord_totals(&r, 4000, 0, &t);
    assert_int_equal(t.shipping, 499);
    assert_int_equal(t.tax, 320);
    assert_int_equal(t.total, 4000 + 499 + 320);
    /* the threshold counts the amount after the discount */
    ord_totals(&r, 5500, 600, &t);
    assert_int_equal(t.shipping, 499);
    ord_totals(&r, 5600, 600, &t);
    assert_int_equal(t.shipping, 0);
    assert_int_equal(t.tax, 400);
    assert_int_equal(t.total, 5400);
    /* a minimum of 0 waives shipping always */
    r.free_shipping_min = 0;
    ord_totals(&r, 1, 0, &t);
    assert_int_equal(t.shipping, 0);
}

static void tax_rounds_half_up(void **state)
{
    assert_int_equal(ord_tax(1, 5000), 1);     /* 0.5 -> 1 */
    assert_int_equal(ord_tax(1, 4999), 0);     /* 0.4999 -> 0 */
    assert_int_equal(ord_tax(1999, 825), 165); /* 164.9175 -> 165 */
    assert_int_equal(ord_tax(100, 0), 0);
    assert_int_equal(ord_tax(0, 1000), 0);
    assert_int_equal(ord_tax(-5, 1000), 0);
}

static void discounts_are_clamped(void **state)
{
    ord_rules_t r = {.tax_rate_bps = 1000, .shipping_fee = 500, .free_shipping_min = 100000};
    ord_totals_t t;
    ord_totals(&r, 1000, 5000, &t);
    assert_int_equal(t.discount, 1000);
    assert_int_equal(t.tax, 0);
    assert_int_equal(t.total, 500); /* never negative: only shipping is left */
    ord_totals(&r, 1000, -20, &t);
    assert_int_equal(t.discount, 0);
}

static void no_overflow_at_the_bounds(void **state)
{
    ord_rules_t r = {.tax_rate_bps = 10000, .shipping_fee = 100000000, .free_shipping_min = 10000000000LL};
    int64_t subtotal = ORDER_MAX_PRICE * 10000 * 100; /* 100 lines of 10,000 at the highest price */
    ord_totals_t t;
    ord_totals(&r, subtotal, 0, &t);
    assert_true(t.tax == subtotal);
    assert_true(t.total == 2 * subtotal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(shipping_and_tax),
        cmocka_unit_test(tax_rounds_half_up),
        cmocka_unit_test(discounts_are_clamped),
        cmocka_unit_test(no_overflow_at_the_bounds),
    };
    return cmocka_run_group_tests_name("order totals", tests, NULL, NULL);
}
