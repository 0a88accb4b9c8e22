/*
 * Unit tests of gateway/gw_versions.c: per-order versions admit each newer version once,
 * drop repeats and older ones, and forget the order changed least recently when full.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include "gw_versions.h"

static void newer_versions_only(void **state)
{
    (void)state;
    gw_versions_t *v = gw_versions_create(8);
    assert_true(gw_versions_admit(v, "aaaaaaaaaaaaaaaaaaaaaaa1", 1));
    assert_false(gw_versions_admit(v, "aaaaaaaaaaaaaaaaaaaaaaa1", 1)); /* a duplicate */
    assert_true(gw_versions_admit(v, "aaaaaaaaaaaaaaaaaaaaaaa1", 2));
    assert_true(gw_versions_admit(v, "aaaaaaaaaaaaaaaaaaaaaaa1", 5)); /* a gap is delivered */
    assert_false(gw_versions_admit(v, "aaaaaaaaaaaaaaaaaaaaaaa1", 3)); /* late */
    assert_true(gw_versions_admit(v, "aaaaaaaaaaaaaaaaaaaaaaa2", 3)); /* orders are independent */
    assert_int_equal(gw_versions_count(v), 2);
    gw_versions_free(v);
}

static void bounded_and_least_recent_first(void **state)
{
    (void)state;
    gw_versions_t *v = gw_versions_create(100);
    char id[32];
    for (int i = 0; i < 100; ++i) {
        snprintf(id, sizeof(id), "%024d", i);
        assert_true(gw_versions_admit(v, id, 1));
    }
    /* order 0 changes again: it is now the most recent */
    snprintf(id, sizeof(id), "%024d", 0);
    assert_true(gw_versions_admit(v, id, 2));
    /* 50 new orders push out orders 1..50, not 0 */
    for (int i = 100; i < 150; ++i) {
        snprintf(id, sizeof(id), "%024d", i);
        assert_true(gw_versions_admit(v, id, 1));
    }
    assert_int_equal(gw_versions_count(v), 100);
    snprintf(id, sizeof(id), "%024d", 0);
    assert_false(gw_versions_admit(v, id, 2)); /* still remembered */
    snprintf(id, sizeof(id), "%024d", 51);
    assert_false(gw_versions_admit(v, id, 1)); /* still remembered */
    snprintf(id, sizeof(id), "%024d", 1);
    assert_true(gw_versions_admit(v, id, 1)); /* forgotten: taken as new */
    /* a long churn keeps the table consistent */
    for (int i = 0; i < 100000; ++i) {
        snprintf(id, sizeof(id), "%024d", i % 977);
        gw_versions_admit(v, id, i);
    }
    assert_int_equal(gw_versions_count(v), 100);
    for (int i = 99900; i < 100000; ++i) {
        snprintf(id, sizeof(id), "%024d", i % 977);
        assert_false(gw_versions_admit(v, id, i));
    }
    gw_versions_free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(newer_versions_only),
        cmocka_unit_test(bounded_and_least_recent_first),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
