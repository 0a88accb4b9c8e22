/*
 * Unit tests of gateway/gw_breaker.c: the circuit breaker's states with time passed in —
 * it opens on the error rate over the window (not before min_calls), fails fast while
 * open, lets a limited number of probes through when half-open, closes on a probe's
 * success and opens again on its failure; old failures leave the window; late answers
 * of calls made before it opened do not restart the open period.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "gw_breaker.h"

static const gw_breaker_config_t CFG = {
    .enabled = true, .error_percent = 50, .min_calls = 4, .window_ms = 1000, .open_ms = 500, .probes = 1,
};

static void call(gw_breaker_t *b, bool ok, uint64_t now)
{
    gw_admit_t a = gw_breaker_admit(b, now);
    assert_int_equal(a, GW_ADMIT_CALL);
    gw_breaker_record(b, a, ok, now);
}

static void opens_on_the_error_rate_after_min_calls(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    call(&b, false, 10);
    call(&b, false, 20);
    call(&b, false, 30); /* 3 of 3 failed, but fewer than min_calls */
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_CLOSED);
    call(&b, true, 40);
    call(&b, true, 50);
    call(&b, false, 60); /* 4 of 6 failed: 66 % ≥ 50 % */
    uint64_t rejected, opened, closed;
    assert_int_equal(gw_breaker_snapshot(&b, &rejected, &opened, &closed), GW_BREAKER_OPEN);
    assert_int_equal(opened, 1);
    /* open: every call fails fast and is counted */
    assert_int_equal(gw_breaker_admit(&b, 100), GW_ADMIT_REJECT);
    assert_int_equal(gw_breaker_admit(&b, 559), GW_ADMIT_REJECT);
    gw_breaker_snapshot(&b, &rejected, NULL, NULL);
    assert_int_equal(rejected, 2);
    gw_breaker_destroy(&b);
}

static void successes_keep_it_closed(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    for (int i = 0; i < 100; ++i)
        call(&b, i % 4 != 3, (uint64_t)i * 5); /* a quarter fail: under 50 % */
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_CLOSED);
    gw_breaker_destroy(&b);
}

static void old_failures_leave_the_window(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    call(&b, false, 0);
    call(&b, false, 10);
    call(&b, false, 20);
    /* more than a window later: the three failures are forgotten */
    call(&b, false, 2000);
    call(&b, true, 2010);
    call(&b, true, 2020);
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_CLOSED);
    call(&b, true, 2030);
    call(&b, false, 2040); /* 2 of 5 */
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_CLOSED);
    call(&b, false, 2050); /* 3 of 6 = 50 % */
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_OPEN);
    gw_breaker_destroy(&b);
}

static void open_breaker(gw_breaker_t *b, uint64_t now)
{
    for (int i = 0; i < 4; ++i)
        call(b, false, now + (uint64_t)i);
    assert_int_equal(gw_breaker_snapshot(b, NULL, NULL, NULL), GW_BREAKER_OPEN);
}

static void half_open_probes_close_it(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    open_breaker(&b, 0);
    /* after open_ms: one probe goes, the others fail fast while it is out */
    gw_admit_t p = gw_breaker_admit(&b, 600);
    assert_int_equal(p, GW_ADMIT_PROBE);
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_HALF_OPEN);
    assert_int_equal(gw_breaker_admit(&b, 601), GW_ADMIT_REJECT);
    gw_breaker_record(&b, p, true, 650);
    uint64_t opened, closed;
    assert_int_equal(gw_breaker_snapshot(&b, NULL, &opened, &closed), GW_BREAKER_CLOSED);
    assert_int_equal(opened, 1);
    assert_int_equal(closed, 1);
    /* closed again with an empty window: one failure does not reopen it */
    call(&b, false, 660);
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_CLOSED);
    gw_breaker_destroy(&b);
}

static void a_failed_probe_opens_it_again(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    open_breaker(&b, 0);
    gw_admit_t p = gw_breaker_admit(&b, 600);
    assert_int_equal(p, GW_ADMIT_PROBE);
    gw_breaker_record(&b, p, false, 700);
    uint64_t opened;
    assert_int_equal(gw_breaker_snapshot(&b, NULL, &opened, NULL), GW_BREAKER_OPEN);
    assert_int_equal(opened, 2);
    /* a new open period from the probe's failure */
    assert_int_equal(gw_breaker_admit(&b, 1150), GW_ADMIT_REJECT);
    assert_int_equal(gw_breaker_admit(&b, 1200), GW_ADMIT_PROBE);
    gw_breaker_destroy(&b);
}

static void a_cancelled_probe_frees_its_slot(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    open_breaker(&b, 0);
    gw_admit_t p = gw_breaker_admit(&b, 600);
    assert_int_equal(p, GW_ADMIT_PROBE);
    assert_int_equal(gw_breaker_admit(&b, 601), GW_ADMIT_REJECT);
    gw_breaker_release(&b, p);
    assert_int_equal(gw_breaker_admit(&b, 602), GW_ADMIT_PROBE);
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_HALF_OPEN);
    gw_breaker_destroy(&b);
}

static void late_answers_do_not_restart_the_open_period(void **state)
{
    (void)state;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &CFG);
    gw_admit_t late[3];
    for (int i = 0; i < 3; ++i)
        late[i] = gw_breaker_admit(&b, 0);
    open_breaker(&b, 1);
    for (int i = 0; i < 3; ++i)
        gw_breaker_record(&b, late[i], false, 400);
    uint64_t opened;
    gw_breaker_snapshot(&b, NULL, &opened, NULL);
    assert_int_equal(opened, 1);
    assert_int_equal(gw_breaker_admit(&b, 510), GW_ADMIT_PROBE); /* 500 ms after the opening, not the late answers */
    gw_breaker_destroy(&b);
}

static void disabled_admits_everything(void **state)
{
    (void)state;
    gw_breaker_config_t cfg = CFG;
    cfg.enabled = false;
    gw_breaker_t b;
    gw_breaker_init(&b, "product", &cfg);
    for (int i = 0; i < 50; ++i)
        call(&b, false, (uint64_t)i);
    assert_int_equal(gw_breaker_snapshot(&b, NULL, NULL, NULL), GW_BREAKER_CLOSED);
    gw_breaker_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(opens_on_the_error_rate_after_min_calls),
        cmocka_unit_test(successes_keep_it_closed),
        cmocka_unit_test(old_failures_leave_the_window),
        cmocka_unit_test(half_open_probes_close_it),
        cmocka_unit_test(a_failed_probe_opens_it_again),
        cmocka_unit_test(a_cancelled_probe_frees_its_slot),
        cmocka_unit_test(late_answers_do_not_restart_the_open_period),
        cmocka_unit_test(disabled_admits_everything),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
