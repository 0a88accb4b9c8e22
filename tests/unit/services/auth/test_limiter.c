/*
 * Unit tests of services/auth/limiter.c, the rate-limit arithmetic (the same steps as the
 * Redis script): bursts, steady rates and exact waits, all-or-nothing over several keys,
 * the login backoff, and bounded memory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include "limiter.h"

static void burst_then_steady_rate(void **state)
{
    (void)state;
    auth_limiter_t *l = auth_limiter_create(1024);
    const char *keys[] = {"ip:1"};
    auth_rate_t rate[] = {{5, 60}}; /* 5 per minute: one every 12 s */
    int64_t now = 1000000, wait;
    for (int i = 0; i < 5; ++i)
        assert_true(auth_limiter_take(l, now, keys, rate, 1, NULL, NULL, &wait));
    assert_false(auth_limiter_take(l, now, keys, rate, 1, NULL, NULL, &wait));
    assert_int_equal(wait, 12000);
    assert_false(auth_limiter_take(l, now + 11999, keys, rate, 1, NULL, NULL, &wait));
    assert_int_equal(wait, 1);
    assert_true(auth_limiter_take(l, now + 12000, keys, rate, 1, NULL, NULL, &wait));
    assert_false(auth_limiter_take(l, now + 12000, keys, rate, 1, NULL, NULL, &wait));
    /* after a full window the whole burst is back */
    for (int i = 0; i < 5; ++i)
        assert_true(auth_limiter_take(l, now + 200000, keys, rate, 1, NULL, NULL, &wait));
    assert_false(auth_limiter_take(l, now + 200000, keys, rate, 1, NULL, NULL, &wait));
    /* a limit of 0 is no limit */
    auth_rate_t off[] = {{0, 1}};
    for (int i = 0; i < 100; ++i)
        assert_true(auth_limiter_take(l, now, keys, off, 1, NULL, NULL, &wait));
    auth_limiter_free(l);
}

static void all_or_nothing(void **state)
{
    (void)state;
    auth_limiter_t *l = auth_limiter_create(1024);
    const char *keys[] = {"ip:2", "email:x"};
    auth_rate_t rates[] = {{10, 60}, {2, 3600}};
    int64_t now = 5000, wait;
    assert_true(auth_limiter_take(l, now, keys, rates, 2, NULL, NULL, &wait));
    assert_true(auth_limiter_take(l, now, keys, rates, 2, NULL, NULL, &wait));
    assert_false(auth_limiter_take(l, now, keys, rates, 2, NULL, NULL, &wait)); /* the email's limit */
    assert_int_equal(wait, 1800000);
    /* the refused call charged nothing: the address still has 8 left */
    for (int i = 0; i < 8; ++i)
        assert_true(auth_limiter_take(l, now, keys, rates, 1, NULL, NULL, &wait));
    assert_false(auth_limiter_take(l, now, keys, rates, 1, NULL, NULL, &wait));
    auth_limiter_free(l);
}

static void login_backoff(void **state)
{
    (void)state;
    auth_limiter_t *l = auth_limiter_create(1024);
    auth_backoff_t bo = {3, 1000, 5000};
    int64_t now = 100000, wait;
    /* attempts 1, 2 free; the 3rd passes and makes the next wait 1 s */
    for (int i = 0; i < 3; ++i)
        assert_true(auth_limiter_take(l, now, NULL, NULL, 0, "acct", &bo, &wait));
    assert_false(auth_limiter_take(l, now + 999, NULL, NULL, 0, "acct", &bo, &wait));
    assert_int_equal(wait, 1);
    assert_true(auth_limiter_take(l, now + 1000, NULL, NULL, 0, "acct", &bo, &wait)); /* 4th: next wait 2 s */
    assert_false(auth_limiter_take(l, now + 2999, NULL, NULL, 0, "acct", &bo, &wait));
    assert_true(auth_limiter_take(l, now + 3000, NULL, NULL, 0, "acct", &bo, &wait)); /* 5th: 4 s */
    assert_false(auth_limiter_take(l, now + 6999, NULL, NULL, 0, "acct", &bo, &wait));
    assert_true(auth_limiter_take(l, now + 7000, NULL, NULL, 0, "acct", &bo, &wait)); /* 6th: capped at 5 s */
    assert_false(auth_limiter_take(l, now + 11999, NULL, NULL, 0, "acct", &bo, &wait));
    assert_true(auth_limiter_take(l, now + 12000, NULL, NULL, 0, "acct", &bo, &wait));
    /* success forgets */
    auth_limiter_forget(l, "acct");
    for (int i = 0; i < 3; ++i)
        assert_true(auth_limiter_take(l, now + 12000, NULL, NULL, 0, "acct", &bo, &wait));
    assert_false(auth_limiter_take(l, now + 12000, NULL, NULL, 0, "acct", &bo, &wait));
    /* another account is unaffected */
    assert_true(auth_limiter_take(l, now + 12000, NULL, NULL, 0, "other", &bo, &wait));
    auth_limiter_free(l);
}

static void bounded_memory(void **state)
{
    (void)state;
    auth_limiter_t *l = auth_limiter_create(64);
    auth_rate_t rate[] = {{1, 3600}};
    int64_t wait;
    char key[32];
    /* far more keys than slots: nothing breaks, the newest keys are still limited */
    for (int i = 0; i < 10000; ++i) {
        snprintf(key, sizeof(key), "k%d", i);
        const char *keys[] = {key};
        assert_true(auth_limiter_take(l, 1000, keys, rate, 1, NULL, NULL, &wait));
    }
    const char *last[] = {key};
    assert_false(auth_limiter_take(l, 1000, last, rate, 1, NULL, NULL, &wait));
    auth_limiter_free(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(burst_then_steady_rate),
        cmocka_unit_test(all_or_nothing),
        cmocka_unit_test(login_backoff),
        cmocka_unit_test(bounded_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
