/*
 * Unit tests of the catalog index's evaluation (snapshot.c): filters, every order with its
 * cursors, totals, relevance and suggestions over rows made from stored documents.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "mc_util.h"
#include "model.h"
#include "snapshot.h"

#define CAT_A "aaaaaaaaaaaaaaaaaaaaaaaa"
#define CAT_B "bbbbbbbbbbbbbbbbbbbbbbbb"
#define SELLER_1 "111111111111111111111111"
#define SELLER_2 "222222222222222222222222"

static sn_row_t rows[6];
static size_t nrows;

static void add(const char *id, const char *name, long long price, const char *cat, const char *seller, long long stock,
                double rating, bool active, bool featured, long long created_ms, const char *tags_json)
{
    char ts[MC_TIME_BUFSZ];
    json_t *api = json_pack("{s:s,s:s,s:s,s:s,s:I,s:s,s:[],s:s,s:s,s:o,s:I,s:f,s:i,s:b,s:b,s:s,s:s}", "id", id, "name", name,
                            "slug", "s", "description", "", "price", (json_int_t)price, "currency", "USD", "images", "categoryId",
                            cat, "sellerId", seller, "tags", json_loads(tags_json, 0, NULL), "stock", (json_int_t)stock,
                            "ratingAverage", rating, "ratingCount", 1, "isActive", active, "isFeatured", featured, "createdAt",
                            mc_time_format(created_ms, ts), "updatedAt", ts);
    bson_t *doc = pm_doc_build(api, NULL);
    assert_true(sn_row_from_doc(doc, &rows[nrows++]));
    bson_destroy(doc);
    json_decref(api);
}

static int setup(void **state)
{
    add("000000000000000000000001", "Steel Kettle", 2500, CAT_A, SELLER_1, 4, 4.5, true, false, 1000, "[\"steel\",\"tea\"]");
    add("000000000000000000000002", "Tea Pot", 1800, CAT_A, SELLER_2, 0, 3.0, true, true, 2000, "[\"tea\"]");
    add("000000000000000000000003", "Mug", 900, CAT_B, SELLER_1, 10, 4.5, true, false, 3000, "[]");
    add("000000000000000000000004", "Whisk", 900, CAT_B, SELLER_1, 3, 0, true, false, 4000, "[\"steel\"]");
    add("000000000000000000000005", "Hidden Kettle", 100, CAT_A, SELLER_1, 5, 5, false, false, 5000, "[]");
    add("000000000000000000000006", "Electric Kettle", 3000, CAT_B, SELLER_2, 1, 2.0, true, false, 6000, "[\"steel\"]");
    return 0;
}

static int teardown(void **state)
{
    for (size_t i = 0; i < nrows; ++i)
        sn_row_free(&rows[i]);
    return 0;
}

/* The ids (last digit) of every page of q, following the cursors. */
static void pages(pl_query_t *q, const char *want, long long total)
{
    char got[32] = "";
    q->has_cursor = false;
    for (int guard = 0; guard < 10; ++guard) {
        ps_page_t p;
        sn_eval(rows, nrows, q, &p);
        assert_int_equal(p.total, total);
        for (size_t i = 0; i < p.n; ++i) {
            size_t k = strlen(got);
            got[k] = p.ids[i][23];
            got[k + 1] = '\0';
            assert_string_equal(p.at[i].id, p.ids[i]);
        }
        bool more = p.has_next;
        if (p.n > 0) {
            /* the cursor goes through its text form, as a client passes it */
            char text[PL_CURSOR_MAX];
            pl_cursor_format(&p.at[p.n - 1], text);
            assert_true(pl_cursor_parse(text, &q->cursor));
            q->has_cursor = true;
        }
        ps_page_free(&p);
        if (!more)
            break;
    }
    assert_string_equal(got, want);
}

static void orders_and_pages(void **state)
{
    pl_query_t q;
    pl_query_init(&q);
    q.limit = 2;
    q.sort = PL_SORT_NEWEST;
    pages(&q, "64321", 5);
    q.sort = PL_SORT_PRICE_ASC; /* ties by id */
    pages(&q, "34216", 5);
    q.sort = PL_SORT_PRICE_DESC;
    pages(&q, "61243", 5);
    q.sort = PL_SORT_RATING; /* 4.5 twice: id descending */
    pages(&q, "31264", 5);
    q.sort = PL_SORT_NAME;
    q.limit = 1;
    pages(&q, "63124", 5); /* Electric Kettle, Mug, Steel Kettle, Tea Pot, Whisk */
}

static void filters(void **state)
{
    pl_query_t q;
    pl_query_init(&q);
    q.limit = 10;
    q.sort = PL_SORT_PRICE_ASC;
    char cats[1][25] = {CAT_B};
    q.categories = cats, q.ncategories = 1;
    pages(&q, "346", 3);
    q.ncategories = 0;
    snprintf(q.seller_id, sizeof(q.seller_id), "%s", SELLER_1);
    pages(&q, "341", 3);
    q.seller_id[0] = '\0';
    q.has_min_price = true, q.min_price = 900, q.has_max_price = true, q.max_price = 1800;
    pages(&q, "342", 3);
    q.has_min_price = q.has_max_price = false;
    q.in_stock = 0;
    pages(&q, "2", 1);
    q.in_stock = 1;
    q.featured = 0;
    pages(&q, "3416", 4);
    q.featured = -1, q.in_stock = -1;
    strcpy(q.tags[0], "steel"), strcpy(q.tags[1], "tea"), q.ntags = 2;
    pages(&q, "1", 1);
    q.ntags = 0;
    q.active = false;
    pages(&q, "5", 1);
}

static void relevance_and_suggestions(void **state)
{
    pl_query_t q;
    pl_query_init(&q);
    q.kind = PL_SEARCH;
    q.sort = PL_SORT_RELEVANCE;
    q.limit = 1;
    q.has_text = true;
    ps_query_parse(&q.text, "kettle", 6);
    pages(&q, "61", 2); /* both names contain it; equal scores: newest first; the inactive one never */
    pl_query_free(&q);
    pl_query_init(&q);
    q.kind = PL_SEARCH;
    q.sort = PL_SORT_RELEVANCE;
    q.limit = 5;
    q.has_text = true;
    ps_query_parse(&q.text, "tea", 3);
    pages(&q, "21", 2); /* the name beats the tag */
    pl_query_free(&q);

    pl_query_init(&q);
    q.kind = PL_SUGGEST;
    q.limit = 5;
    q.has_text = true;
    ps_query_parse(&q.text, "ke", 2);
    json_t *s = sn_eval_suggest(rows, nrows, &q);
    assert_int_equal(json_array_size(s), 2);
    json_decref(s);
    pl_query_free(&q);
    pl_query_init(&q);
    q.kind = PL_SUGGEST;
    q.limit = 5;
    q.has_text = true;
    ps_query_parse(&q.text, "electric ke", 11);
    s = sn_eval_suggest(rows, nrows, &q);
    assert_int_equal(json_array_size(s), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(s, 0), "name")), "Electric Kettle");
    json_decref(s);
    pl_query_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(orders_and_pages),
        cmocka_unit_test(filters),
        cmocka_unit_test(relevance_and_suggestions),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
