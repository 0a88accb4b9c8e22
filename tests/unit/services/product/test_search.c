/*
 * Unit tests of search.c: folding, stemming, tokens, suggestion prefixes, relevance.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "search.h"

static void fold(const char *in, const char *want)
{
    char out[256];
    ps_fold(in, strlen(in), out, sizeof(out));
    assert_string_equal(out, want);
}

static void folds_case_accents_and_separators(void **state)
{
    fold("Crème Brûlée", "creme brulee");
    fold("  ÆSIR   Straße!!", "aesir strasse");
    fold("Œuvre Ĳssel Łódź Þór", "oeuvre ijssel lodz thor");
    fold("ПРИВЕТ Мир", "привет мир");
    fold("ΑΒΓ", "αβγ");
    fold("Wi-Fi 6E/802.11ax — 5GHz™", "wi fi 6e 802 11ax 5ghz");
    fold("emoji 🎧 headphones", "emoji headphones");
    fold("bad \xff\xfe bytes \xc3", "bad bytes");
    fold("漢字 かな", "漢字 かな");
    fold("", "");
    fold("!!!", "");
}

static void fold_never_splits_a_character(void **state)
{
    char out[6];
    /* "aé" is 3 bytes folded to "ae"; "日" is 3 bytes: "ae 日" would need 6+1 */
    ps_fold("aé 日本", strlen("aé 日本"), out, sizeof(out));
    assert_string_equal(out, "ae");
    char key[PS_NAME_KEY_BYTES + 1];
    char name[300];
    memset(name, 0, sizeof(name));
    for (int i = 0; i < 40; ++i)
        strcat(name, "é");
    size_t n = ps_name_key(name, strlen(name), key);
    assert_true(n <= PS_NAME_KEY_BYTES);
    assert_int_equal(n, strlen(key));
}

static void stem(const char *in, const char *want)
{
    char buf[64];
    strcpy(buf, in);
    ps_stem(buf);
    assert_string_equal(buf, want);
}

static void stems_plurals(void **state)
{
    stem("batteries", "battery");
    stem("boxes", "box");
    stem("watches", "watch");
    stem("dishes", "dish");
    stem("shoes", "shoe");
    stem("glasses", "glass");
    stem("headphones", "headphone");
    stem("cats", "cat");
    stem("glass", "glass");
    stem("bus", "bus");
    stem("status", "status");
    stem("analysis", "analysis");
    stem("its", "its");      /* short words stay */
    stem("128gbs", "128gbs"); /* not only letters */
    stem("тесты", "тесты");
}

static void tokenizes_without_stop_words_and_duplicates(void **state)
{
    ps_list_t l;
    ps_list_init(&l, 100);
    const char *text = "The Best of the BEST headphones, a 5 star pick for 2024";
    ps_tokenize(text, strlen(text), &l, true, true);
    assert_true(ps_list_has(&l, "best"));
    assert_true(ps_list_has(&l, "headphone"));
    assert_true(ps_list_has(&l, "5"));
    assert_true(ps_list_has(&l, "star"));
    assert_true(ps_list_has(&l, "2024"));
    assert_false(ps_list_has(&l, "the"));
    assert_false(ps_list_has(&l, "of"));
    assert_false(ps_list_has(&l, "a"));
    size_t best = 0;
    for (size_t i = 0; i < l.n; ++i)
        best += strcmp(l.v[i], "best") == 0;
    assert_int_equal(best, 1);
    ps_list_free(&l);
    /* the cap holds */
    ps_list_init(&l, 3);
    ps_tokenize("one two three four five", strlen("one two three four five"), &l, false, false);
    assert_int_equal(l.n, 3);
    ps_list_free(&l);
}

static void operator_and_regex_text_is_just_words(void **state)
{
    ps_list_t l;
    ps_list_init(&l, 100);
    const char *hostile = "{\"$ne\": null} .* ^a+$ $where this.price > 0 (a|b)";
    ps_tokenize(hostile, strlen(hostile), &l, true, true);
    for (size_t i = 0; i < l.n; ++i)
        for (const char *p = l.v[i]; *p; ++p)
            assert_true((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9'));
    assert_true(ps_list_has(&l, "ne"));
    assert_true(ps_list_has(&l, "where"));
    ps_list_free(&l);
}

static void indexes_names_tags_descriptions_and_prefixes(void **state)
{
    const char *tags[] = {"noise-cancelling", "wireless"};
    ps_index_t idx;
    ps_index_build(&idx, "Sony WH-1000XM5 Headphones", "Great battery life for long flights.", tags, 2);
    assert_true(ps_list_has(&idx.kw_name, "sony"));
    assert_true(ps_list_has(&idx.kw_name, "headphone"));
    assert_true(ps_list_has(&idx.kw_name, "1000xm5"));
    assert_true(ps_list_has(&idx.kw_tags, "noise"));
    assert_true(ps_list_has(&idx.kw_tags, "cancelling"));
    assert_true(ps_list_has(&idx.kw, "battery"));
    assert_true(ps_list_has(&idx.kw, "flight"));
    assert_true(ps_list_has(&idx.kw, "sony"));
    assert_false(ps_list_has(&idx.prefixes, "h")); /* at least PS_PREFIX_MIN_CHARS */
    assert_true(ps_list_has(&idx.prefixes, "he"));
    assert_true(ps_list_has(&idx.prefixes, "head"));
    assert_true(ps_list_has(&idx.prefixes, "headphon")); /* at most PS_PREFIX_MAX_CHARS */
    assert_false(ps_list_has(&idx.prefixes, "headphone"));
    assert_true(ps_list_has(&idx.prefixes, "so"));
    assert_true(ps_list_has(&idx.prefixes, "wh"));
    assert_false(ps_list_has(&idx.prefixes, "battery")); /* names only */
    ps_index_free(&idx);
    /* multi-byte characters count as one */
    ps_index_build(&idx, "Ĉĉĉĉĉĉĉĉĉĉ", "", NULL, 0);
    assert_true(ps_list_has(&idx.prefixes, "cc"));
    assert_true(ps_list_has(&idx.prefixes, "cccccccc"));
    ps_index_free(&idx);
    ps_index_build(&idx, "日本語のテキスト", "", NULL, 0);
    assert_true(ps_list_has(&idx.prefixes, "日本"));
    assert_true(ps_list_has(&idx.prefixes, "日本語のテキスト"));
    ps_index_free(&idx);
}

static void parses_queries(void **state)
{
    ps_query_t q;
    ps_query_parse(&q, "Sony the Headph", strlen("Sony the Headph"));
    assert_int_equal(q.tokens.n, 2);
    assert_true(ps_list_has(&q.tokens, "sony"));
    assert_true(ps_list_has(&q.tokens, "headph"));
    assert_string_equal(q.last, "headph");
    assert_string_equal(q.last_key, "headph");
    assert_int_equal(q.complete.n, 1);
    assert_string_equal(q.complete.v[0], "sony");
    assert_string_equal(q.phrase, "sony the headph");
    ps_query_free(&q);
    ps_query_parse(&q, "the of", strlen("the of"));
    assert_int_equal(q.tokens.n, 0);
    assert_string_equal(q.last, "of");
    ps_query_free(&q);
    ps_query_parse(&q, "!!!", strlen("!!!"));
    assert_int_equal(q.tokens.n, 0);
    assert_string_equal(q.last, "");
    ps_query_free(&q);
    ps_query_parse(&q, "a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8 9", strlen("a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8 9"));
    assert_true(q.tokens.n <= PS_MAX_QUERY_TOKENS);
    ps_query_free(&q);
    /* a long last word is cut to the longest stored prefix */
    ps_query_parse(&q, "supercalifragilisticexpialidocious", strlen("supercalifragilisticexpialidocious"));
    assert_string_equal(q.last, "supercalifragilisticexpialidocious");
    assert_string_equal(q.last_key, "supercal");
    ps_query_free(&q);
    ps_query_parse(&q, "sony h", strlen("sony h"));
    assert_string_equal(q.last, "h");
    assert_string_equal(q.last_key, ""); /* too short to look up */
    ps_query_free(&q);
}

static void checks_name_prefixes(void **state)
{
    assert_true(ps_name_has_prefix("Sony WH-1000XM5 Headphones", "headphones"));
    assert_true(ps_name_has_prefix("Sony WH-1000XM5 Headphones", "1000x"));
    assert_true(ps_name_has_prefix("Crème Brûlée Torch", "bru"));
    assert_false(ps_name_has_prefix("Sony WH-1000XM5 Headphones", "headphonez"));
    assert_false(ps_name_has_prefix("Sony", ""));
}

static int score_of(const char *query, const char *name, const char *const *tags, size_t ntags, const char *desc)
{
    ps_index_t idx;
    ps_index_build(&idx, name, desc, tags, ntags);
    ps_query_t q;
    ps_query_parse(&q, query, strlen(query));
    char key[PS_NAME_KEY_BYTES + 1];
    ps_name_key(name, strlen(name), key);
    int s = ps_score(&q, &idx.kw, &idx.kw_name, &idx.kw_tags, key);
    ps_query_free(&q);
    ps_index_free(&idx);
    return s;
}

static void ranks_name_over_tags_over_description(void **state)
{
    const char *audio[] = {"audio"};
    int in_name = score_of("speaker", "Bluetooth Speaker", NULL, 0, "");
    int in_tags = score_of("speaker", "Soundbar Max", (const char *[]){"speaker"}, 1, "");
    int in_desc = score_of("speaker", "Soundbar Max", audio, 1, "Replaces your speaker");
    assert_true(in_name > in_tags);
    assert_true(in_tags > in_desc);
    assert_true(in_desc > 0);
    assert_int_equal(score_of("speaker", "Soundbar Max", audio, 1, "nothing here"), 0);
    /* a name that starts with the query beats one that only contains its words */
    assert_true(score_of("bluetooth speaker", "Bluetooth Speaker Mini", NULL, 0, "") >
                score_of("bluetooth speaker", "Mini Speaker Bluetooth", NULL, 0, ""));
    /* plural and singular match each other */
    assert_true(score_of("batteries", "AA Battery Pack", NULL, 0, "") > 0);
    assert_int_equal(score_of("the", "The Thing", NULL, 0, ""), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(folds_case_accents_and_separators),
        cmocka_unit_test(fold_never_splits_a_character),
        cmocka_unit_test(stems_plurals),
        cmocka_unit_test(tokenizes_without_stop_words_and_duplicates),
        cmocka_unit_test(operator_and_regex_text_is_just_words),
        cmocka_unit_test(indexes_names_tags_descriptions_and_prefixes),
        cmocka_unit_test(parses_queries),
        cmocka_unit_test(checks_name_prefixes),
        cmocka_unit_test(ranks_name_over_tags_over_description),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
