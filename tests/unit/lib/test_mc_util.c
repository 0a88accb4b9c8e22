/*
 * Unit tests of lib/mc_util.c: time, hex, URL decoding, slugs, bounded buffers.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "mc_util.h"

static void time_round_trip(void **state)
{
    char buf[MC_TIME_BUFSZ];
    assert_string_equal(mc_time_format(0, buf), "1970-01-01T00:00:00.000Z");
    assert_string_equal(mc_time_format(1795290000123, buf), "2026-11-21T19:40:00.123Z");
    int64_t ms;
    assert_int_equal(mc_time_parse("2026-11-21T19:40:00.123Z", &ms), 0);
    assert_int_equal(ms, 1795290000123);
    assert_int_equal(mc_time_parse("2026-11-21T21:40:00+02:00", &ms), 0);
    assert_int_equal(ms, 1795290000000);
    assert_int_equal(mc_time_parse("2024-02-29T00:00:00Z", &ms), 0);
    assert_int_equal(mc_time_parse("2023-02-29T00:00:00Z", &ms), -1);
    assert_int_equal(mc_time_parse("2026-13-01T00:00:00Z", &ms), -1);
    assert_int_equal(mc_time_parse("2026-11-21T19:40:00", &ms), -1); /* no zone */
    assert_int_equal(mc_time_parse("2026-11-21T19:40:00Zjunk", &ms), -1);
    assert_int_equal(mc_time_parse("", &ms), -1);
    assert_int_equal(mc_time_format(-1, buf) != NULL, 1);
    assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
}

static void hex_and_ids(void **state)
{
    char out[9];
    unsigned char in[4] = {0xde, 0xad, 0x01, 0xff}, back[4];
    mc_hex_encode(in, 4, out);
    assert_string_equal(out, "dead01ff");
    assert_int_equal(mc_hex_decode(out, 8, back, 4), 0);
    assert_memory_equal(in, back, 4);
    assert_int_equal(mc_hex_decode("zz", 2, back, 1), -1);
    assert_int_equal(mc_hex_decode("abc", 3, back, 1), -1);
    assert_true(mc_is_object_id("507f1f77bcf86cd799439011", 24));
    assert_true(mc_is_object_id("507F1F77BCF86CD799439011", 24));
    assert_false(mc_is_object_id("507f1f77bcf86cd79943901", 23));
    assert_false(mc_is_object_id("507f1f77bcf86cd79943901g", 24));
    assert_false(mc_is_object_id(NULL, 24));
    char b64[16];
    assert_int_equal(mc_base64url_encode("\xfb\xff", 2, b64), 3);
    assert_string_equal(b64, "-_8");
    unsigned char raw[8];
    assert_int_equal(mc_base64url_decode("-_8", 3, raw, sizeof(raw)), 2);
    assert_memory_equal(raw, "\xfb\xff", 2);
    assert_int_equal(mc_base64url_decode("a", 1, raw, sizeof(raw)), -1);    /* impossible length */
    assert_int_equal(mc_base64url_decode("ab+/", 4, raw, sizeof(raw)), -1); /* not the url alphabet */
    assert_int_equal(mc_base64url_decode("AAAAAAAAAAAA", 12, raw, 4), -1);  /* does not fit */
}

static void url_decoding(void **state)
{
    char out[32];
    assert_int_equal(mc_url_decode("a%20b+c", 7, out, true), 5);
    assert_string_equal(out, "a b c");
    assert_int_equal(mc_url_decode("a+b", 3, out, false), 3);
    assert_string_equal(out, "a+b");
    assert_int_equal(mc_url_decode("%4", 2, out, false), -1);
    assert_int_equal(mc_url_decode("%", 1, out, false), -1);
    assert_int_equal(mc_url_decode("%zz", 3, out, false), -1);
    assert_int_equal(mc_url_decode("a%00b", 5, out, false), -1); /* NUL never gets through */
}

static void slugs(void **state)
{
    char out[16];
    assert_int_equal(mc_slugify("Home & Kitchen", 14, out, sizeof(out)), 12);
    assert_string_equal(out, "home-kitchen");
    mc_slugify("  --Crème Brûlée!! ", 19, out, sizeof(out));
    assert_string_equal(out, "creme-brulee");
    assert_int_equal(mc_slugify("日本", strlen("日本"), out, sizeof(out)), 0);
    mc_slugify("a very long name indeed", 23, out, sizeof(out));
    assert_true(strlen(out) < sizeof(out));
    assert_true(out[strlen(out) - 1] != '-');
}

static void bounded_buffer(void **state)
{
    mc_buf_t b;
    mc_buf_init(&b, 10);
    assert_int_equal(mc_buf_append(&b, "12345", 5), 0);
    assert_int_equal(mc_buf_appendf(&b, "%d", 6789), 0);
    assert_string_equal(b.data, "123456789");
    assert_int_equal(mc_buf_append(&b, "ab", 2), -1); /* would exceed the cap */
    assert_string_equal(b.data, "123456789");         /* unchanged */
    assert_int_equal(mc_buf_append(&b, "a", 1), 0);
    mc_buf_free(&b);
}

static void constant_time_equal(void **state)
{
    assert_true(mc_ct_equal("abc", 3, "abc", 3));
    assert_false(mc_ct_equal("abc", 3, "abd", 3));
    assert_false(mc_ct_equal("abc", 3, "abcd", 4));
}

/* The published FNV-1a 32-bit test vectors; a hash continued piece by piece is the
 * hash of the whole. */
static void fnv1a(void **state)
{
    (void)state;
    assert_int_equal(mc_fnv1a(MC_FNV1A_INIT, "", 0), 0x811c9dc5u);
    assert_int_equal(mc_fnv1a(MC_FNV1A_INIT, "a", 1), 0xe40c292cu);
    assert_int_equal(mc_fnv1a(MC_FNV1A_INIT, "foobar", 6), 0xbf9cf968u);
    assert_int_equal(mc_fnv1a_str(MC_FNV1A_INIT, "foobar"), 0xbf9cf968u);
    assert_int_equal(mc_fnv1a_str(mc_fnv1a(MC_FNV1A_INIT, "foo", 3), "bar"), 0xbf9cf968u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_round_trip), cmocka_unit_test(hex_and_ids), cmocka_unit_test(url_decoding),
        cmocka_unit_test(slugs),           cmocka_unit_test(bounded_buffer), cmocka_unit_test(constant_time_equal),
        cmocka_unit_test(fnv1a),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
