/*
 * Unit tests of gateway/gw_upstream.c's pure parts (the file is included to reach them):
 * the exponential backoff with full jitter and its cap, the retry budget (earned by
 * calls and by time, capped, spent by retries), and which failures are retried and
 * which the circuit breaker hears of.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "gw_upstream.c"

static void backoff_grows_with_full_jitter_up_to_the_cap(void **state)
{
    (void)state;
    gw_up_config_t cfg = {.backoff_ms = 25, .backoff_max_ms = 1000};
    /* the upper end of the jitter doubles per attempt */
    assert_int_equal(gw_up_backoff_ms(&cfg, 1, 0.9999999), 25);
    assert_int_equal(gw_up_backoff_ms(&cfg, 2, 0.9999999), 50);
    assert_int_equal(gw_up_backoff_ms(&cfg, 3, 0.9999999), 100);
    assert_int_equal(gw_up_backoff_ms(&cfg, 6, 0.9999999), 800);
    assert_int_equal(gw_up_backoff_ms(&cfg, 7, 0.9999999), 1000); /* capped */
    assert_int_equal(gw_up_backoff_ms(&cfg, 60, 0.9999999), 1000);
    /* anywhere from zero */
    assert_int_equal(gw_up_backoff_ms(&cfg, 3, 0), 0);
    assert_int_equal(gw_up_backoff_ms(&cfg, 3, 0.5), 50);
    /* out-of-range randoms are clamped */
    assert_int_equal(gw_up_backoff_ms(&cfg, 1, -1), 0);
    assert_int_equal(gw_up_backoff_ms(&cfg, 1, 7), 25);
}

static void the_budget_limits_retries(void **state)
{
    (void)state;
    gw_upstreams_t up;
    memset(&up, 0, sizeof(up));
    up.cfg.budget_percent = 20;
    up.cfg.budget_min_per_s = 0;
    gw_up_worker_t w;
    memset(&w, 0, sizeof(w));
    w.up = &up;
    w.budget[0].last_ns = mc_mono_ns();
    /* no calls, no time: nothing to spend */
    assert_false(budget_take(&w, 0));
    /* 10 calls at 20 % earn two retries */
    for (int i = 0; i < 10; ++i)
        budget_earn(&w, 0);
    assert_true(budget_take(&w, 0));
    assert_true(budget_take(&w, 0));
    assert_false(budget_take(&w, 0));
    /* the budget is per service */
    assert_false(budget_take(&w, 1));
    /* capped */
    for (int i = 0; i < 10000; ++i)
        budget_earn(&w, 0);
    assert_true(w.budget[0].tokens <= GW_UP_BUDGET_CAP);
    /* time earns budget_min_per_s tokens per second */
    up.cfg.budget_min_per_s = 5;
    w.budget[2].tokens = 0;
    w.budget[2].last_ns = mc_mono_ns() - 1000000000ull; /* a second ago */
    for (int i = 0; i < 5; ++i)
        assert_true(budget_take(&w, 2));
    assert_false(budget_take(&w, 2));
}

static void what_is_retried_and_what_counts(void **state)
{
    (void)state;
    mc_http_response_t r = {0};
    r.err = "connection failed";
    assert_true(worth_retrying(&r));
    assert_true(is_failure(&r));
    r.err = "connection closed";
    assert_true(worth_retrying(&r));
    r.err = "timeout"; /* the service had its time */
    assert_false(worth_retrying(&r));
    assert_true(is_failure(&r));
    assert_int_equal(result_of(&r), GW_UP_TIMEOUT);
    r.err = "response too large"; /* our limit: the breaker does not hear of it */
    assert_true(no_verdict(&r));
    r.err = NULL;
    r.status = 503;
    assert_true(worth_retrying(&r));
    assert_true(is_failure(&r));
    assert_int_equal(result_of(&r), GW_UP_5XX);
    r.status = 500; /* a bug, not an outage: not repeated */
    assert_false(worth_retrying(&r));
    assert_true(is_failure(&r));
    r.status = 404;
    assert_false(worth_retrying(&r));
    assert_false(is_failure(&r));
    assert_int_equal(result_of(&r), GW_UP_4XX);
    r.status = 200;
    assert_int_equal(result_of(&r), GW_UP_2XX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(backoff_grows_with_full_jitter_up_to_the_cap),
        cmocka_unit_test(the_budget_limits_retries),
        cmocka_unit_test(what_is_retried_and_what_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
