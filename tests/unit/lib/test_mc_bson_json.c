/*
 * Unit tests of lib/mc_bson_json: the round trip of API objects, ids and dates, names the
 * databases refuse, and hostile nesting.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "mc_bson_json.h"

static void round_trip_with_ids_and_dates(void **state)
{
    json_t *in = json_pack("{s:s,s:s,s:I,s:f,s:b,s:n,s:[i,s,{s:s}],s:{s:s,s:s},s:s}", "id", "64B7F0C2A1B2C3D4E5F60718", "name", "Lamp",
                           "price", (json_int_t)9007199254740993LL, "ratio", 0.5, "ok", 1, "none", "list", 1, "two", "at",
                           "2026-01-02T03:04:05Z", "nested", "updatedAt", "2026-01-02T03:04:05.678+02:00", "note", "x", "notADate",
                           "2026-01-02T03:04:05Z");
    bson_t b = BSON_INITIALIZER;
    assert_true(mc_json_to_bson(in, &b, MC_BJ_ID | MC_BJ_DATES));
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, &b, "_id") && BSON_ITER_HOLDS_OID(&it));
    assert_false(bson_iter_init_find(&it, &b, "id"));
    assert_true(bson_iter_init_find(&it, &b, "price") && BSON_ITER_HOLDS_INT64(&it));
    assert_true(bson_iter_init_find(&it, &b, "notADate") && BSON_ITER_HOLDS_UTF8(&it)); /* only *At names are dates */
    bson_iter_t child;
    assert_true(bson_iter_init_find(&it, &b, "nested") && bson_iter_recurse(&it, &child) && bson_iter_find(&child, "updatedAt") &&
                BSON_ITER_HOLDS_DATE_TIME(&child));
    json_t *out = mc_bson_to_json(&b, MC_BJ_ID | MC_BJ_DATES);
    assert_string_equal(json_string_value(json_object_get(out, "id")), "64b7f0c2a1b2c3d4e5f60718");
    assert_true(json_integer_value(json_object_get(out, "price")) == 9007199254740993LL);
    assert_true(json_is_null(json_object_get(out, "none")));
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(out, "list"), 2), "at")), "2026-01-02T03:04:05.000Z");
    assert_string_equal(json_string_value(json_object_get(json_object_get(out, "nested"), "updatedAt")), "2026-01-02T01:04:05.678Z");
    json_decref(out);
    /* without the rules, everything stays as it is */
    bson_t plain = BSON_INITIALIZER;
    assert_true(mc_json_to_bson(in, &plain, 0));
    assert_true(bson_iter_init_find(&it, &plain, "id") && BSON_ITER_HOLDS_UTF8(&it));
    bson_destroy(&plain);
    bson_destroy(&b);
    json_decref(in);
}

static void refused_names_and_values(void **state)
{
    const char *bad[] = {"{\"$set\":1}", "{\"a.b\":1}", "{\"\":1}", "{\"x\":{\"$ne\":null}}", "[1,2]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        json_t *j = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        bson_t b = BSON_INITIALIZER;
        assert_false(mc_json_to_bson(j, &b, MC_BJ_DATES));
        bson_destroy(&b);
        json_decref(j);
    }
    /* a NUL inside a string */
    json_t *j = json_pack("{s:s#}", "s", "a\0b", (size_t)3);
    bson_t b = BSON_INITIALIZER;
    assert_false(mc_json_to_bson(j, &b, 0));
    bson_destroy(&b);
    json_decref(j);
}

static void deep_nesting_is_refused(void **state)
{
    json_t *root = json_object(), *cur = root;
    for (int i = 0; i < 40; ++i) {
        json_t *next = json_object();
        json_object_set_new(cur, "n", next);
        cur = next;
    }
    bson_t b = BSON_INITIALIZER;
    assert_false(mc_json_to_bson(root, &b, 0));
    bson_destroy(&b);
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(round_trip_with_ids_and_dates),
        cmocka_unit_test(refused_names_and_values),
        cmocka_unit_test(deep_nesting_is_refused),
    };
    return cmocka_run_group_tests_name("mc_bson_json", tests, NULL, NULL);
}
