/*
 * Unit tests of gateway/gw_scalars.c: Money's formatting in the currencies' own
 * decimals, and the DateTime and Long scalars' checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "gw_scalars.h"

static void check_money(int64_t amount, const char *cur, const char *want)
{
    gql_buf b;
    gql_buf_init(&b, 0);
    gw_money_format(amount, cur, &b);
    if (strcmp(gql_buf_cstr(&b), want) != 0)
        fail_msg("%lld %s: '%s', expected '%s'", (long long)amount, cur, gql_buf_cstr(&b), want);
    gql_buf_free(&b);
}

static void money_reads_as_people_read_it(void **state)
{
    (void)state;
    check_money(1999, "USD", "$19.99");
    check_money(5, "USD", "$0.05");
    check_money(0, "EUR", "€0.00");
    check_money(123456789, "GBP", "£1,234,567.89");
    check_money(5000000000LL, "USD", "$50,000,000.00");
    check_money(-250, "USD", "-$2.50");
    check_money(1500, "JPY", "¥1,500");
    check_money(12345, "KWD", "12.345 KWD");
    check_money(100000, "CHF", "1,000.00 CHF");
    check_money(42, "XYZ", "0.42 XYZ");
    check_money(9007199254740991LL, "USD", "$90,071,992,547,409.91");
    check_money(-9007199254740991LL, "JPY", "-¥9,007,199,254,740,991");
    assert_int_equal(gw_currency_decimals("JPY"), 0);
    assert_int_equal(gw_currency_decimals("BHD"), 3);
    assert_int_equal(gw_currency_decimals("ABC"), 2);
}

static int parse(const char *scalar, json_t *v, gql_buf *err)
{
    gql_type t;
    memset(&t, 0, sizeof(t));
    t.name = scalar;
    gql_scalar_hooks h = gw_scalar_hooks();
    json_t *out = NULL;
    int r = h.parse_value(h.ud, &t, v, &out, err);
    int s = h.serialize(h.ud, &t, v, &out, err);
    assert_int_equal(r, s);
    assert_null(out); /* values pass through unchanged */
    json_decref(v);
    return r;
}

static void datetime_and_long_check_their_values(void **state)
{
    (void)state;
    gql_buf err;
    gql_buf_init(&err, 0);
    assert_int_equal(parse("DateTime", json_string("2026-11-21T19:40:00.123Z"), &err), 0);
    assert_int_equal(parse("DateTime", json_string("2026-11-21T19:40:00+02:00"), &err), 0);
    assert_int_equal(parse("DateTime", json_string("yesterday"), &err), -1);
    assert_non_null(strstr(gql_buf_cstr(&err), "RFC 3339"));
    gql_buf_reset(&err);
    assert_int_equal(parse("DateTime", json_integer(5), &err), -1);
    gql_buf_reset(&err);
    assert_int_equal(parse("Long", json_integer(9007199254740991LL), &err), 0);
    assert_int_equal(parse("Long", json_integer(-9007199254740991LL), &err), 0);
    assert_int_equal(parse("Long", json_integer(9007199254740992LL), &err), -1);
    gql_buf_reset(&err);
    assert_int_equal(parse("Long", json_real(1.5), &err), -1);
    gql_buf_reset(&err);
    assert_int_equal(parse("Long", json_string("12"), &err), -1);
    gql_buf_reset(&err);
    assert_int_equal(parse("Other", json_string("anything"), &err), 0);
    gql_buf_free(&err);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(money_reads_as_people_read_it),
        cmocka_unit_test(datetime_and_long_check_their_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
