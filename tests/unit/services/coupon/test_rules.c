/*
 * Unit tests of the coupon rules (services/coupon/rules.c): the reasons in their order,
 * percentage and fixed discounts with caps, categories, and the split over lines (exact
 * sums, never more than a line, never negative) — including a randomised check of the
 * split's invariants.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "rules.h"

#define NOW 1800000000000LL
#define CAT_A "aaaaaaaaaaaaaaaaaaaaaaaa"
#define CAT_B "bbbbbbbbbbbbbbbbbbbbbbbb"

static cpn_rule_t percent(int64_t v)
{
    cpn_rule_t r;
    memset(&r, 0, sizeof(r));
    r.type = CPN_PERCENTAGE;
    r.value = v;
    r.active = true;
    return r;
}

static void percentage_on_every_line(void **state)
{
    cpn_rule_t r = percent(10);
    cpn_line_t lines[] = {{"p1", CAT_A, 1999, 2, 0}, {"p2", CAT_B, 500, 1, 0}};
    int64_t total, sub;
    assert_int_equal(cpn_evaluate(&r, lines, 2, NOW, 0, 0, &total, &sub), CPN_OK);
    assert_int_equal(sub, 4498);
    assert_int_equal(total, 449); /* floor(4498 / 10) */
    assert_int_equal(lines[0].discount + lines[1].discount, 449);
    /* proportional: 3998/4498 of 449 = 399.08, 500/4498 of 449 = 49.9 -> 399 + 50 */
    assert_int_equal(lines[0].discount, 399);
    assert_int_equal(lines[1].discount, 50);
}

static void cap_and_fixed(void **state)
{
    cpn_rule_t r = percent(50);
    r.max_discount = 1000;
    cpn_line_t lines[] = {{"p1", NULL, 10000, 1, 0}};
    int64_t total;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_OK);
    assert_int_equal(total, 1000);
    /* a fixed amount larger than the cart takes the cart, never more */
    r = percent(0);
    r.type = CPN_FIXED;
    r.value = 5000;
    cpn_line_t small[] = {{"p1", NULL, 300, 2, 0}, {"p2", NULL, 1, 1, 0}};
    assert_int_equal(cpn_evaluate(&r, small, 2, NOW, 0, 0, &total, NULL), CPN_OK);
    assert_int_equal(total, 601);
    assert_int_equal(small[0].discount, 600);
    assert_int_equal(small[1].discount, 1);
    /* 100 % takes everything, exactly */
    r = percent(100);
    cpn_line_t all[] = {{"p1", NULL, 333, 3, 0}, {"p2", NULL, 7, 1, 0}};
    assert_int_equal(cpn_evaluate(&r, all, 2, NOW, 0, 0, &total, NULL), CPN_OK);
    assert_int_equal(total, 1006);
    assert_int_equal(all[0].discount, 999);
    assert_int_equal(all[1].discount, 7);
}

static void categories_restrict_the_eligible_amount(void **state)
{
    const char *cats[] = {CAT_A};
    cpn_rule_t r = percent(20);
    r.categories = cats;
    r.ncategories = 1;
    cpn_line_t lines[] = {{"p1", CAT_A, 1000, 1, 0}, {"p2", CAT_B, 5000, 1, 0}, {"p3", NULL, 700, 1, 0}};
    int64_t total;
    assert_int_equal(cpn_evaluate(&r, lines, 3, NOW, 0, 0, &total, NULL), CPN_OK);
    assert_int_equal(total, 200);
    assert_int_equal(lines[0].discount, 200);
    assert_int_equal(lines[1].discount, 0);
    assert_int_equal(lines[2].discount, 0);
    /* a fixed amount is capped by the eligible lines only */
    r.type = CPN_FIXED;
    r.value = 4000;
    assert_int_equal(cpn_evaluate(&r, lines, 3, NOW, 0, 0, &total, NULL), CPN_OK);
    assert_int_equal(total, 1000);
    /* nothing in the categories */
    cpn_line_t other[] = {{"p2", CAT_B, 5000, 1, 0}};
    assert_int_equal(cpn_evaluate(&r, other, 1, NOW, 0, 0, &total, NULL), CPN_NOT_APPLICABLE);
    assert_int_equal(total, 0);
    assert_int_equal(other[0].discount, 0);
}

static void reasons_in_order(void **state)
{
    cpn_line_t lines[] = {{"p1", CAT_A, 1000, 1, 0}};
    int64_t total;
    cpn_rule_t r = percent(10);
    r.active = false;
    r.has_expiry = true;
    r.expires_at_ms = NOW - 1;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_INACTIVE);
    r.active = true;
    r.has_start = true;
    r.starts_at_ms = NOW + 1;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_NOT_STARTED);
    r.starts_at_ms = NOW;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_EXPIRED);
    r.expires_at_ms = NOW; /* exclusive */
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_EXPIRED);
    r.expires_at_ms = NOW + 1;
    r.max_uses = 5;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 5, 0, &total, NULL), CPN_USED_UP);
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 4, 0, &total, NULL), CPN_OK);
    r.max_uses_per_customer = 1;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 4, 1, &total, NULL), CPN_USED_UP_FOR_CUSTOMER);
    r.min_order = 1001;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_BELOW_MINIMUM);
    r.min_order = 1000;
    assert_int_equal(cpn_evaluate(&r, lines, 1, NOW, 0, 0, &total, NULL), CPN_OK);
    assert_string_equal(cpn_reason_name(CPN_USED_UP_FOR_CUSTOMER), "USED_UP_FOR_CUSTOMER");
    assert_string_equal(cpn_reason_name(CPN_NOT_APPLICABLE), "NOT_APPLICABLE");
}

static void extreme_amounts_do_not_overflow(void **state)
{
    cpn_rule_t r = percent(99);
    cpn_line_t lines[COUPON_MAX_LINES];
    for (int i = 0; i < COUPON_MAX_LINES; ++i)
        lines[i] = (cpn_line_t){"p", NULL, COUPON_MAX_AMOUNT, COUPON_MAX_QUANTITY, 0};
    int64_t total, sub;
    assert_int_equal(cpn_evaluate(&r, lines, COUPON_MAX_LINES, NOW, 0, 0, &total, &sub), CPN_OK);
    assert_true(sub == COUPON_MAX_AMOUNT * COUPON_MAX_QUANTITY * COUPON_MAX_LINES);
    assert_true(total == sub / 100 * 99);
    int64_t sum = 0;
    for (int i = 0; i < COUPON_MAX_LINES; ++i)
        sum += lines[i].discount;
    assert_true(sum == total);
}

/* The split's invariants on many random inputs: exact sum, 0 <= share <= weight, zero
 * weights get nothing, and a share differs from the exact proportion by less than one. */
static void split_invariants(void **state)
{
    srand(20261121);
    for (int round = 0; round < 20000; ++round) {
        size_t n = 1 + (size_t)(rand() % 12);
        int64_t w[12], out[12], sum = 0;
        for (size_t i = 0; i < n; ++i) {
            w[i] = rand() % 4 == 0 ? 0 : (int64_t)(rand() % 100000);
            sum += w[i];
        }
        int64_t amount = sum ? (int64_t)(rand() % (sum + 1)) : 0;
        cpn_split(amount, w, out, n);
        int64_t got = 0;
        for (size_t i = 0; i < n; ++i) {
            assert_true(out[i] >= 0 && out[i] <= w[i]);
            if (w[i] == 0)
                assert_int_equal(out[i], 0);
            double exact = sum ? (double)amount * (double)w[i] / (double)sum : 0;
            assert_true((double)out[i] > exact - 1.0 && (double)out[i] < exact + 1.0);
            got += out[i];
        }
        assert_int_equal(got, sum ? amount : 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(percentage_on_every_line),
        cmocka_unit_test(cap_and_fixed),
        cmocka_unit_test(categories_restrict_the_eligible_amount),
        cmocka_unit_test(reasons_in_order),
        cmocka_unit_test(extreme_amounts_do_not_overflow),
        cmocka_unit_test(split_invariants),
    };
    return cmocka_run_group_tests_name("coupon rules", tests, NULL, NULL);
}
