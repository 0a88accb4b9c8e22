/*
 * Unit tests of gql_util, gql_arena and gql_buf: the exact text formats graphql-js
 * produces (JavaScript number formatting, inspect(), suggestions) and the memory
 * primitives' limits.
 */
#include "gql_test.h"
#include "gql_util.h"

static void check_number(double d, const char *expected)
{
    char out[40];
    int n = gql__js_number(out, d);
    if (strcmp(out, expected) != 0 || (size_t)n != strlen(expected)) {
        print_error("js_number(%.17g): expected %s, got %s\n", d, expected, out);
        fail();
    }
}

/* Expected strings are what node prints for String(d). */
static void test_js_number(void **state)
{
    (void)state;
    check_number(0, "0");
    check_number(-0.0, "0");
    check_number(1, "1");
    check_number(-1.5, "-1.5");
    check_number(0.1, "0.1");
    check_number(0.1 + 0.2, "0.30000000000000004");
    check_number(100, "100");
    check_number(1e21, "1e+21");
    check_number(1e20, "100000000000000000000");
    check_number(123456789012345680000.0, "123456789012345680000");
    check_number(1e-6, "0.000001");
    check_number(1e-7, "1e-7");
    check_number(1.5e-7, "1.5e-7");
    check_number(123e-20, "1.23e-18");
    check_number(5e-324, "5e-324");
    check_number(1.7976931348623157e308, "1.7976931348623157e+308");
    check_number(4.35, "4.35");
    check_number(2.5e-5, "0.000025");
    check_number(9007199254740993.0, "9007199254740992");
    check_number(1234.5678, "1234.5678");
    check_number(-123456.789e10, "-1234567890000000");
    check_number(0.000001234, "0.000001234");
    check_number(1e300 * 1e10, "Infinity");
}

static void test_fmt_i64(void **state)
{
    (void)state;
    char out[24];
    gql__fmt_i64(out, 0);
    assert_string_equal(out, "0");
    gql__fmt_i64(out, -2147483648LL);
    assert_string_equal(out, "-2147483648");
    gql__fmt_i64(out, INT64_MIN);
    assert_string_equal(out, "-9223372036854775808");
    gql__fmt_i64(out, 1000000007);
    assert_string_equal(out, "1000000007");
}

static char *inspect(const char *json)
{
    json_error_t e;
    json_t *v = json_loads(json, JSON_DECODE_ANY, &e);
    assert_non_null(v);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql__inspect_json(&b, v);
    json_decref(v);
    return gql_buf_steal(&b, NULL);
}

static void test_inspect(void **state)
{
    (void)state;
    assert_json_eq(inspect("\"a\\\"b\""), "\"a\\\"b\"");
    assert_json_eq(inspect("{\"a\": 1, \"b\": [true, null]}"), "{ a: 1, b: [true, null] }");
    assert_json_eq(inspect("{}"), "{}");
    assert_json_eq(inspect("[]"), "[]");
    /* depth: the third level prints as [Object] / [Array] */
    assert_json_eq(inspect("{\"a\": {\"b\": {\"c\": 1}}}"), "{ a: { b: [Object] } }");
    assert_json_eq(inspect("[[[1]]]"), "[[[Array]]]");
    /* more than ten items are elided */
    assert_json_eq(inspect("[1,2,3,4,5,6,7,8,9,10,11]"), "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... 1 more item]");
    assert_json_eq(inspect("[1,2,3,4,5,6,7,8,9,10,11,12]"), "[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, ... 2 more items]");
    /* JavaScript lists integer-like keys first, ascending */
    assert_json_eq(inspect("{\"b\": 1, \"2\": 2, \"a\": 3, \"1\": 4}"), "{ 1: 4, 2: 2, b: 1, a: 3 }");
    assert_json_eq(inspect("1.5"), "1.5");
}

static void test_suggestions(void **state)
{
    (void)state;
    gql_str opts[] = {gql_str_c("name"), gql_str_c("nickname"), gql_str_c("names"), gql_str_c("id"), gql_str_c("Name")};
    uint32_t idx[5];
    uint32_t n = gql__suggestion_list("nam", 3, opts, 5, idx);
    /* distance order, then natural order: Name (1, case only) name (1) names (2) */
    assert_int_equal(n, 3);
    assert_string_equal(opts[idx[0]].s, "Name");
    assert_string_equal(opts[idx[1]].s, "name");
    assert_string_equal(opts[idx[2]].s, "names");
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_str many[] = {gql_str_c("a"), gql_str_c("b"), gql_str_c("c"), gql_str_c("d"), gql_str_c("e"), gql_str_c("f")};
    gql__did_you_mean(&b, NULL, many, 6);
    assert_string_equal(gql_buf_cstr(&b), " Did you mean \"a\", \"b\", \"c\", \"d\", or \"e\"?");
    gql_buf_reset(&b);
    gql__did_you_mean(&b, "the enum value", many, 2);
    assert_string_equal(gql_buf_cstr(&b), " Did you mean the enum value \"a\" or \"b\"?");
    gql_buf_free(&b);
    assert_true(gql__natural_compare("a2", 2, "a10", 3) < 0);
    assert_true(gql__natural_compare("a10", 3, "a9", 2) > 0);
    assert_true(gql__natural_compare("b", 1, "a", 1) > 0);
}

static void test_utf8(void **state)
{
    (void)state;
    uint32_t cp;
    const unsigned char ok[] = {0xF0, 0x9F, 0x98, 0x80};
    assert_int_equal(gql__utf8_decode(ok, ok + 4, &cp), 4);
    assert_int_equal(cp, 0x1F600);
    const unsigned char surrogate[] = {0xED, 0xA0, 0x80};
    assert_int_equal(gql__utf8_decode(surrogate, surrogate + 3, &cp), 1);
    assert_int_equal(cp, 0xFFFD);
    const unsigned char truncated[] = {0xE2, 0x82};
    assert_int_equal(gql__utf8_decode(truncated, truncated + 2, &cp), 2);
    assert_int_equal(cp, 0xFFFD);
    assert_int_equal(gql__utf16_len("a\xC3\xA9\xF0\x9F\x98\x80", 7), 4);
    assert_true(gql__utf8_valid("h\xC3\xA9", 3));
    assert_false(gql__utf8_valid("\xC3", 1));
}

static void test_js_string_to_number(void **state)
{
    (void)state;
    double d;
    assert_true(gql__js_string_to_number("  12 ", 5, &d));
    assert_true(d == 12);
    assert_true(gql__js_string_to_number("0x10", 4, &d));
    assert_true(d == 16);
    assert_true(gql__js_string_to_number("", 0, &d));
    assert_true(d == 0);
    assert_true(gql__js_string_to_number("-Infinity", 9, &d));
    assert_true(d < 0 && d * 0 != 0);
    assert_false(gql__js_string_to_number("1e", 2, &d));
    assert_false(gql__js_string_to_number("abc", 3, &d));
    assert_false(gql__js_string_to_number("inf", 3, &d));
    assert_true(gql__js_string_to_number(".5", 2, &d));
    assert_true(d == 0.5);
}

static void test_arena_limit(void **state)
{
    (void)state;
    gql_arena a;
    gql_arena_init(&a, 64 * 1024);
    size_t total = 0;
    while (gql_arena_alloc(&a, 1000))
        total += 1000;
    assert_true(a.failed);
    assert_true(total < 64 * 1024 && total > 32 * 1024);
    gql_arena_free(&a);
    /* reusable after free, large blocks get their own chunk */
    char *big = gql_arena_alloc(&a, 50000);
    assert_non_null(big);
    memset(big, 1, 50000);
    char *s = gql_arena_printf(&a, "%s-%d", "x", 42);
    assert_string_equal(s, "x-42");
    gql_arena_free(&a);
}

static void test_buf_ceiling(void **state)
{
    (void)state;
    gql_buf b;
    gql_buf_init(&b, 10);
    assert_int_equal(gql_buf_puts(&b, "0123456789"), 0);
    assert_int_equal(gql_buf_putc(&b, 'x'), -1);
    assert_true(b.overflow);
    assert_int_equal(gql_buf_putc(&b, 'y'), -1); /* sticky */
    assert_string_equal(gql_buf_cstr(&b), "0123456789");
    gql_buf_free(&b);
}

static void test_json_string_escapes(void **state)
{
    (void)state;
    gql_buf b;
    gql_buf_init(&b, 0);
    gql__buf_json_string(&b, "a\"\\\n\x01\x7f\xc3\xa9", 8);
    assert_string_equal(gql_buf_cstr(&b), "\"a\\\"\\\\\\n\\u0001\x7f\xc3\xa9\"");
    gql_buf_reset(&b);
    gql__buf_graphql_string(&b, "\x7f\xc2\x80\xc2\xa0", 5);
    assert_string_equal(gql_buf_cstr(&b), "\"\\u007F\\u0080\xc2\xa0\"");
    gql_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_js_number),     cmocka_unit_test(test_fmt_i64),
        cmocka_unit_test(test_inspect),       cmocka_unit_test(test_suggestions),
        cmocka_unit_test(test_utf8),          cmocka_unit_test(test_js_string_to_number),
        cmocka_unit_test(test_arena_limit),   cmocka_unit_test(test_buf_ceiling),
        cmocka_unit_test(test_json_string_escapes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
