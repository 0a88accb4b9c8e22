/*
 * Unit tests of listing.c: cursors and cache keys.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "listing.h"

#define ID "0123456789abcdef01234567"

static void round_trip(pl_sort_t s, long long num, const char *str)
{
    pl_cursor_t c = {.sort = s, .num = num}, back;
    snprintf(c.str, sizeof(c.str), "%s", str ? str : "");
    memcpy(c.id, ID, 25);
    char text[PL_CURSOR_MAX];
    pl_cursor_format(&c, text);
    assert_true(pl_cursor_parse(text, &back));
    assert_int_equal(back.sort, s);
    assert_string_equal(back.id, ID);
    if (s == PL_SORT_NAME)
        assert_string_equal(back.str, str);
    else
        assert_int_equal(back.num, num);
}

static void cursors_round_trip(void **state)
{
    round_trip(PL_SORT_NEWEST, 1795294248668, NULL);
    round_trip(PL_SORT_PRICE_ASC, 0, NULL);
    round_trip(PL_SORT_PRICE_DESC, 100000000000LL, NULL);
    round_trip(PL_SORT_RATING, 433, NULL);
    round_trip(PL_SORT_RELEVANCE, 75, NULL);
    round_trip(PL_SORT_NAME, 0, "creme brulee 日本");
    round_trip(PL_SORT_NAME, 0, "");
}

static void refuses_malformed_cursors(void **state)
{
    static const char *const bad[] = {
        "",
        "n",
        "n.",
        "x.1." ID,
        "n.." ID,
        "n.-1." ID,
        "n.1e3." ID,
        "n.1234567890123456789." ID, /* 19 digits */
        "n.1.0123456789ABCDEF01234567", /* upper-case id */
        "n.1.0123456789abcdef0123456",  /* short id */
        "n.1.0123456789abcdef012345678", /* long id */
        "a.6." ID,                      /* odd hex */
        "a.zz." ID,
        "a.41." ID ".x",
        NULL,
    };
    pl_cursor_t c;
    for (int i = 0; bad[i] != NULL; ++i)
        if (pl_cursor_parse(bad[i], &c))
            fail_msg("accepted %s", bad[i]);
    char long_name[2 + 130 + 1 + 24 + 1] = "a.";
    for (int i = 0; i < 65; ++i)
        strcat(long_name, "61");
    strcat(long_name, "." ID);
    assert_false(pl_cursor_parse(long_name, &c)); /* 65 bytes: longer than any name key */
}

static void name_cursor_bytes_become_a_valid_string(void **state)
{
    pl_cursor_t c;
    /* "ab" NUL "cd": cut at the NUL */
    assert_true(pl_cursor_parse("a.6162006364." ID, &c));
    assert_string_equal(c.str, "ab");
    /* "ab" then a lone continuation byte: cut before it */
    assert_true(pl_cursor_parse("a.616280." ID, &c));
    assert_string_equal(c.str, "ab");
    /* a truncated 3-byte character */
    assert_true(pl_cursor_parse("a.41e697." ID, &c));
    assert_string_equal(c.str, "A");
}

static void key_of(pl_query_t *q, char *out)
{
    pl_query_cache_key(q, out, 160);
}

static void cache_keys_follow_the_answer(void **state)
{
    pl_query_t a, b;
    char ka[160], kb[160];
    pl_query_init(&a);
    pl_query_init(&b);
    key_of(&a, ka);
    key_of(&b, kb);
    assert_string_equal(ka, kb);
    assert_int_equal(strncmp(ka, "products:page:", 14), 0);
    assert_int_equal(pl_query_ttl(&a), 120);

    /* tag order does not matter; tags do */
    strcpy(a.tags[0], "red"), strcpy(a.tags[1], "wool"), a.ntags = 2;
    strcpy(b.tags[0], "wool"), strcpy(b.tags[1], "red"), b.ntags = 2;
    key_of(&a, ka);
    key_of(&b, kb);
    assert_string_equal(ka, kb);
    b.ntags = 1;
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);
    b.ntags = 2;

    /* every filter counts */
    b.has_max_price = true, b.max_price = 100;
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);
    b.has_max_price = false;
    b.in_stock = 1;
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);
    b.in_stock = -1;
    b.active = false;
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);
    b.active = true;
    b.limit = 21;
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);
    b.limit = 20;
    b.has_cursor = true;
    b.cursor.sort = PL_SORT_NEWEST, b.cursor.num = 5, memcpy(b.cursor.id, ID, 25);
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);
    b.has_cursor = false;

    /* a category list: its own prefix and TTL; its descendants are part of the key */
    char cats1[2][25] = {"aaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbb"};
    char cats2[2][25] = {"bbbbbbbbbbbbbbbbbbbbbbbb", "aaaaaaaaaaaaaaaaaaaaaaaa"};
    strcpy(a.category_id, cats1[0]);
    strcpy(b.category_id, cats1[0]);
    a.categories = cats1, a.ncategories = 2;
    b.categories = cats2, b.ncategories = 2;
    key_of(&a, ka);
    key_of(&b, kb);
    assert_string_equal(ka, kb);
    assert_int_equal(strncmp(ka, "products:category:aaaaaaaaaaaaaaaaaaaaaaaa:", 43), 0);
    assert_int_equal(pl_query_ttl(&a), 300);
    b.ncategories = 1; /* a category moved away: another key */
    key_of(&b, kb);
    assert_string_not_equal(ka, kb);

    /* searches */
    pl_query_t s;
    pl_query_init(&s);
    s.kind = PL_SEARCH;
    s.has_text = true;
    ps_query_parse(&s.text, "Wool Socks", 10);
    key_of(&s, ka);
    assert_int_equal(strncmp(ka, "products:search:", 16), 0);
    assert_int_equal(pl_query_ttl(&s), 60);
    pl_query_free(&s);
    pl_query_init(&s);
    s.kind = PL_SEARCH;
    s.has_text = true;
    ps_query_parse(&s.text, "wool  SOCK", 10); /* the same words once folded */
    key_of(&s, kb);
    assert_string_not_equal(ka, kb); /* the phrase differs ("wool sock"), and ranks differently */
    pl_query_free(&s);
}

static void sort_names(void **state)
{
    pl_sort_t s;
    assert_true(pl_sort_parse("price_desc", &s));
    assert_int_equal(s, PL_SORT_PRICE_DESC);
    assert_false(pl_sort_parse("price", &s));
    assert_string_equal(pl_sort_name(PL_SORT_RELEVANCE), "relevance");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cursors_round_trip),
        cmocka_unit_test(refuses_malformed_cursors),
        cmocka_unit_test(name_cursor_bytes_become_a_valid_string),
        cmocka_unit_test(cache_keys_follow_the_answer),
        cmocka_unit_test(sort_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
