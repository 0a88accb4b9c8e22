/*
 * Unit tests of gateway/gw_ratelimit.c's pure parts: policies as N/S, who a client is
 * (user, IPv4 address, IPv6 /64), the headers of an answer, and that a limiter that is
 * off or cannot reach Redis decides at once (fail-open, fail-closed). The script itself
 * runs against a real Redis in the integration tests.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "gw_ratelimit.h"

static void policies_are_parsed(void **state)
{
    (void)state;
    gw_rl_policy_t p;
    assert_int_equal(gw_rl_parse_policy("600/60", &p), 0);
    assert_int_equal(p.quota, 600);
    assert_int_equal(p.window_s, 60);
    assert_int_equal(gw_rl_parse_policy("off", &p), 0);
    assert_int_equal(p.quota, 0);
    const char *bad[] = {"", "600", "600/", "/60", "0/60", "600/0", "-1/60", "600/60s", "6x/60", "600/700000"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_int_equal(gw_rl_parse_policy(bad[i], &p), -1);
}

static void on_in_production_only_by_default(void **state)
{
    (void)state;
    unsetenv("GATEWAY_RATE_LIMIT");
    unsetenv("GATEWAY_RATE_LIMIT_COST");
    unsetenv("GATEWAY_RATE_LIMIT_FAIL");
    gw_rl_config_t cfg;
    gw_rl_config_load(&cfg, 20000, true);
    assert_int_equal(cfg.policy[GW_RL_REQUESTS].quota, 600);
    assert_int_equal(cfg.policy[GW_RL_REQUESTS].window_s, 60);
    assert_int_equal(cfg.policy[GW_RL_COST].quota, 200000);
    assert_false(cfg.fail_closed);
    gw_rl_config_load(&cfg, 20000, false);
    assert_int_equal(cfg.policy[GW_RL_REQUESTS].quota, 0);
    assert_int_equal(cfg.policy[GW_RL_COST].quota, 0);
    setenv("GATEWAY_RATE_LIMIT", "5/1", 1);
    setenv("GATEWAY_RATE_LIMIT_FAIL", "closed", 1);
    gw_rl_config_load(&cfg, 20000, false);
    assert_int_equal(cfg.policy[GW_RL_REQUESTS].quota, 5);
    assert_true(cfg.fail_closed);
    unsetenv("GATEWAY_RATE_LIMIT");
    unsetenv("GATEWAY_RATE_LIMIT_FAIL");
}

static void identities(void **state)
{
    (void)state;
    char buf[128];
    mc_claims_t claims;
    memset(&claims, 0, sizeof(claims));
    strcpy(claims.sub, "64b7f0c2a1b2c3d4e5f60001");
    assert_string_equal(gw_ratelimit_identity(&claims, "10.0.0.1", buf, sizeof(buf)), "u:64b7f0c2a1b2c3d4e5f60001");
    assert_string_equal(gw_ratelimit_identity(NULL, "10.0.0.1", buf, sizeof(buf)), "ip:10.0.0.1");
    /* one IPv6 subscriber holds a /64: every address in it is one client */
    char a[128];
    strcpy(a, gw_ratelimit_identity(NULL, "2001:db8:1:2:aaaa::1", buf, sizeof(buf)));
    assert_string_equal(a, "ip:2001:0db8:0001:0002::/64");
    assert_string_equal(gw_ratelimit_identity(NULL, "2001:db8:1:2:ffff:ffff:ffff:ffff", buf, sizeof(buf)), a);
    assert_string_not_equal(gw_ratelimit_identity(NULL, "2001:db8:1:3::1", buf, sizeof(buf)), a);
    assert_string_equal(gw_ratelimit_identity(NULL, NULL, buf, sizeof(buf)), "ip:unknown");
}

static gw_rl_result_t got;
static int calls;

static void on_result(const gw_rl_result_t *r, void *data)
{
    (void)data;
    got = *r;
    ++calls;
}

static void without_redis_it_fails_open_or_closed(void **state)
{
    (void)state;
    gw_rl_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    assert_int_equal(gw_rl_parse_policy("10/60", &cfg.policy[GW_RL_REQUESTS]), 0);
    gw_ratelimit_t *rl = gw_ratelimit_create(&cfg);
    assert_true(gw_ratelimit_enabled(rl));
    calls = 0;
    gw_ratelimit_check(rl, NULL, "ip:10.0.0.1", 5, on_result, NULL);
    assert_int_equal(calls, 1); /* at once */
    assert_true(got.allowed);
    assert_true(got.unavailable);
    assert_false(got.known);
    gw_ratelimit_free(rl);

    cfg.fail_closed = true;
    rl = gw_ratelimit_create(&cfg);
    gw_ratelimit_check(rl, NULL, "ip:10.0.0.1", 5, on_result, NULL);
    assert_int_equal(calls, 2);
    assert_false(got.allowed);
    assert_true(got.unavailable);
    gw_ratelimit_free(rl);
}

static void off_allows_everything_at_once(void **state)
{
    (void)state;
    gw_rl_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.fail_closed = true;
    gw_ratelimit_t *rl = gw_ratelimit_create(&cfg);
    assert_false(gw_ratelimit_enabled(rl));
    calls = 0;
    gw_ratelimit_check(rl, NULL, "ip:10.0.0.1", 1000000, on_result, NULL);
    assert_int_equal(calls, 1);
    assert_true(got.allowed);
    assert_false(got.unavailable);
    gw_ratelimit_free(rl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policies_are_parsed),
        cmocka_unit_test(on_in_production_only_by_default),
        cmocka_unit_test(identities),
        cmocka_unit_test(without_redis_it_fails_open_or_closed),
        cmocka_unit_test(off_allows_everything_at_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
