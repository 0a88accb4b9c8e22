/*
 * Unit tests of model.c: the product document, its API shape and its cached payload.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "model.h"

static json_t *sample(void)
{
    json_error_t e;
    json_t *api = json_loads("{\"id\":\"6b0204280e4b1471ce0a5a11\",\"name\":\"Wool Socks\",\"slug\":\"wool-socks\","
                             "\"description\":\"Warm\\nsocks\",\"price\":1299,\"currency\":\"EUR\","
                             "\"images\":[\"https://img.example/1.png\"],\"categoryId\":\"6b0204288c67cf0d74054012\","
                             "\"sellerId\":\"0000000000000000000000aa\",\"tags\":[\"winter\",\"wool\"],\"stock\":7,"
                             "\"ratingAverage\":4.33,\"ratingCount\":3,\"isActive\":true,\"isFeatured\":false,"
                             "\"createdAt\":\"2026-11-21T20:50:48.668Z\",\"updatedAt\":\"2026-11-21T20:51:00.000Z\"}",
                             0, &e);
    assert_non_null(api);
    return api;
}

static void document_round_trip(void **state)
{
    json_t *api = sample();
    pm_internal_t in = {12, 13}, back;
    bson_t *doc = pm_doc_build(api, &in);
    json_t *again = pm_doc_to_json(doc, &back);
    assert_true(json_equal(api, again));
    assert_int_equal(back.stock_seq, 12);
    assert_int_equal(back.rating_sum, 13);
    /* the search fields are stored, not shown */
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, doc, "kw"));
    assert_true(bson_iter_init_find(&it, doc, "kwPre"));
    assert_true(bson_iter_init_find(&it, doc, "nameKey"));
    assert_string_equal(bson_iter_utf8(&it, NULL), "wool socks");
    assert_null(json_object_get(again, "kw"));
    assert_null(json_object_get(again, "stockSeq"));
    assert_null(json_object_get(again, "ratingSum"));
    assert_int_equal(json_object_size(again), 17);
    bson_destroy(doc);
    json_decref(again);
    json_decref(api);
}

static void missing_fields_read_as_defaults(void **state)
{
    bson_t *doc = BCON_NEW("name", BCON_UTF8("x"));
    json_t *o = pm_doc_to_json(doc, NULL);
    assert_int_equal(json_object_size(o), 17);
    assert_true(json_is_array(json_object_get(o, "tags")));
    assert_int_equal(json_integer_value(json_object_get(o, "stock")), 0);
    json_decref(o);
    bson_destroy(doc);
}

static void rating_averages(void **state)
{
    assert_true(pm_rating_average(0, 0) == 0.0);
    assert_true(pm_rating_average(13, 3) == 4.33);
    assert_true(pm_rating_average(2, 3) == 0.67);
    assert_true(pm_rating_average(5, 1) == 5.0);
    assert_true(pm_rating_average(9, 2) == 4.5);
    assert_true(pm_rating_average(7, 8) == 0.88); /* .875 rounds half up */
    /* equal inputs give equal doubles (the cursor of the rating order relies on it) */
    assert_true(pm_rating_average(400, 97) == pm_rating_average(400, 97));
}

static void payloads(void **state)
{
    json_t *api = sample();
    char *p = pm_payload(api);
    bool active;
    char seller[25];
    const char *json;
    size_t len;
    assert_true(pm_payload_parse(p, strlen(p), &active, seller, &json, &len));
    assert_true(active);
    assert_string_equal(seller, "0000000000000000000000aa");
    json_t *back = json_loadb(json, len, 0, NULL);
    assert_true(json_equal(back, api));
    /* the text is compact and keeps two decimals readable */
    assert_non_null(strstr(json, "\"ratingAverage\":4.33,"));
    json_decref(back);
    free(p);
    json_object_set_new(api, "isActive", json_false());
    p = pm_payload(api);
    assert_true(pm_payload_parse(p, strlen(p), &active, seller, &json, &len));
    assert_false(active);
    free(p);
    assert_false(pm_payload_parse("X000000000000000000000000\n{}", 28, &active, seller, &json, &len));
    assert_false(pm_payload_parse("A0000", 5, &active, seller, &json, &len));
    assert_false(pm_payload_parse(NULL, 0, &active, seller, &json, &len));
    json_decref(api);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(document_round_trip),
        cmocka_unit_test(missing_fields_read_as_defaults),
        cmocka_unit_test(rating_averages),
        cmocka_unit_test(payloads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
