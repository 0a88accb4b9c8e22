/*
 * Unit tests of gateway/gw_json.c, differential against jansson's json_loadb
 * (JSON_DECODE_ANY): the same values for the same texts, the same refusals — over a
 * corpus of edge cases and thousands of seeded random documents and mutations of them.
 * The one deliberate difference: integers beyond 64 bits become reals (jansson refuses).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_json.h"

static void same(const char *text, size_t len)
{
    json_error_t jerr;
    json_t *a = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    char err[256];
    json_t *b = gw_json_parse(text, len, err, sizeof(err));
    if (a == NULL && strstr(jerr.text, "too big integer") != NULL) { /* the one difference */
        assert_true(b == NULL || json_is_real(b) || json_is_object(b) || json_is_array(b));
        json_decref(b);
        return;
    }
    if ((a == NULL) != (b == NULL))
        fail_msg("%.*s\n  jansson: %s\n  gw_json: %s", (int)len, text, a ? "accepted" : jerr.text, b ? "accepted" : err);
    if (a != NULL && !json_equal(a, b)) {
        char *x = json_dumps(a, JSON_ENCODE_ANY), *y = json_dumps(b, JSON_ENCODE_ANY);
        fail_msg("%.*s\n  jansson: %s\n  gw_json: %s", (int)len, text, x, y);
    }
    if (a == NULL)
        assert_true(err[0] != '\0');
    json_decref(a);
    json_decref(b);
}

static void edge_cases_match_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "{}", "[]", " \t\r\n{ } ", "null", "true", "false", "0", "-0", "1", "-1", "12345678901234567890",
        "9223372036854775807", "-9223372036854775808", "9223372036854775808", "1.5", "-1.5e10", "1E-5", "1e+2",
        "0.0", "1e400", "-1e400", "1e-400", "01", "1.", ".5", "-", "+1", "1e", "1e+", "0x10", "NaN", "Infinity",
        "\"\"", "\"abc\"", "\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"", "\"\\u0041\\u00e9\\u20AC\"", "\"\\ud83d\\ude00\"",
        "\"\\ud83d\"", "\"\\ude00\"", "\"\\ud83dx\"", "\"\\u0000\"", "\"\\u12\"", "\"\\x\"", "\"caf\xc3\xa9\"",
        "\"\xe2\x82\xac\"", "\"\xf0\x9f\x98\x80\"", "\"\xc3\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "\"\xf4\x90\x80\x80\"",
        "\"\xff\"", "\"a\tb\"", "\"a\nb\"", "\"unterminated", "{\"a\":1,\"b\":[1,2,{\"c\":null}]}", "{\"a\":1,}",
        "[1,]", "[,1]", "{\"a\" 1}", "{a:1}", "{\"a\":1 \"b\":2}", "[1 2]", "[[[[[]]]]]", "{\"\":\"\"}",
        "{\"a\\u00e9\":1}", "{\"a\":1,\"a\":2}", "tru", "nul", "falsey", "[true false]", "\"a\" \"b\"", "1 2", "",
        "   ", "[\"\\u00e9\xc3\xa9\"]", "{\"k\\n\":\"v\\t\",\"k2\":[\"x\\\"y\"]}",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i)
        same(cases[i], strlen(cases[i]));
    /* a NUL byte in the text */
    same("\"a\0b\"", 5);
    same("[1]\0", 4);
    /* nesting: within the limit, and beyond it (gw_json refuses, jansson too at 2048) */
    char deep[8192];
    size_t n = 0;
    for (int i = 0; i < 200; ++i)
        deep[n++] = '[';
    for (int i = 0; i < 200; ++i)
        deep[n++] = ']';
    same(deep, n);
    n = 0;
    for (int i = 0; i < 3000; ++i)
        deep[n++] = '[';
    assert_null(gw_json_parse(deep, n, NULL, 0));
}

/* A seeded random generator of JSON texts (valid ones, with escapes, UTF-8, numbers). */
static uint64_t rng = 88172645463325252ull;
static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

static void gen(char *out, size_t *n, size_t cap, int depth)
{
    static const char *const strs[] = {"\"\"", "\"plain\"", "\"a\\\"q\"", "\"\\u00e9t\xc3\xa9\"", "\"\\ud83d\\ude00!\"",
                                       "\"tab\\t\\n\"", "\"\xe2\x82\xac 5\"", "\"\\/\\\\\""};
    static const char *const nums[] = {"0", "-7", "42", "3.25", "-0.5e-3", "1e9", "123456789012", "2.5E+2"};
    if (*n + 64 >= cap)
        return;
    unsigned k = depth > 4 ? rnd(5) : rnd(7);
    const char *lit = NULL;
    switch (k) {
    case 0: lit = strs[rnd(8)]; break;
    case 1: lit = nums[rnd(8)]; break;
    case 2: lit = rnd(2) ? "true" : "false"; break;
    case 3: lit = "null"; break;
    case 4: lit = strs[rnd(8)]; break;
    case 5: {
        out[(*n)++] = '[';
        unsigned m = rnd(4);
        for (unsigned i = 0; i < m; ++i) {
            if (i)
                out[(*n)++] = ',';
            if (rnd(3) == 0)
                out[(*n)++] = ' ';
            gen(out, n, cap, depth + 1);
        }
        out[(*n)++] = ']';
        return;
    }
    default: {
        out[(*n)++] = '{';
        unsigned m = rnd(4);
        for (unsigned i = 0; i < m; ++i) {
            if (i)
                out[(*n)++] = ',';
            *n += (size_t)snprintf(out + *n, cap - *n, "\"k%u%s\":", rnd(5), rnd(4) == 0 ? "\\u00e9" : "");
            gen(out, n, cap, depth + 1);
        }
        out[(*n)++] = '}';
        return;
    }
    }
    size_t l = strlen(lit);
    memcpy(out + *n, lit, l);
    *n += l;
}

static void random_documents_and_mutations_match_jansson(void **state)
{
    (void)state;
    char doc[16384];
    static const char flips[] = "{}[]\",:\\u0x\xc3\xff \t-.eE9";
    for (int i = 0; i < 4000; ++i) {
        size_t n = 0;
        gen(doc, &n, sizeof(doc) - 1, 0);
        same(doc, n);
        /* mutate: replace, insert or cut a byte */
        for (int m = 0; m < 3; ++m) {
            char mut[16400];
            memcpy(mut, doc, n);
            size_t len = n;
            size_t at = n ? rnd((unsigned)n) : 0;
            switch (rnd(3)) {
            case 0:
                if (len)
                    mut[at] = flips[rnd(sizeof(flips) - 1)];
                break;
            case 1:
                memmove(mut + at + 1, mut + at, len - at);
                mut[at] = flips[rnd(sizeof(flips) - 1)];
                ++len;
                break;
            default:
                len = at;
                break;
            }
            same(mut, len);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(edge_cases_match_jansson),
        cmocka_unit_test(random_documents_and_mutations_match_jansson),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
