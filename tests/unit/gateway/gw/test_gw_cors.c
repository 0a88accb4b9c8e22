/*
 * Unit tests of gateway/gw_cors.c's pure parts: reading GATEWAY_CORS_ORIGINS, matching
 * an Origin against it, and CSRF prevention's rule for GET requests (a non-simple
 * Content-Type or a preflight header).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "gw_cors.h"

static void origins_are_parsed_and_matched(void **state)
{
    (void)state;
    gw_cors_config_t c;
    memset(&c, 0, sizeof(c));
    char err[256];
    assert_int_equal(gw_cors_parse_origins("https://Shop.example, http://localhost:5173/ ,https://[::1]:8443", &c,
                                           err, sizeof(err)),
                     0);
    assert_false(c.any);
    assert_int_equal(c.norigins, 3);
    assert_string_equal(c.origins[0], "https://shop.example");
    assert_string_equal(c.origins[1], "http://localhost:5173");
    assert_true(gw_cors_origin_allowed(&c, "https://shop.example"));
    assert_true(gw_cors_origin_allowed(&c, "HTTPS://SHOP.EXAMPLE"));
    assert_true(gw_cors_origin_allowed(&c, "http://localhost:5173"));
    assert_true(gw_cors_origin_allowed(&c, "https://[::1]:8443"));
    assert_false(gw_cors_origin_allowed(&c, "http://shop.example"));         /* another scheme */
    assert_false(gw_cors_origin_allowed(&c, "https://shop.example.evil.io")); /* a prefix is not a match */
    assert_false(gw_cors_origin_allowed(&c, "https://evil.io"));
    assert_false(gw_cors_origin_allowed(&c, "http://localhost:5174"));
    assert_false(gw_cors_origin_allowed(&c, "null"));
    assert_false(gw_cors_origin_allowed(&c, ""));
    assert_false(gw_cors_origin_allowed(&c, NULL));
    gw_cors_config_free(&c);
}

static void star_allows_every_origin(void **state)
{
    (void)state;
    gw_cors_config_t c;
    memset(&c, 0, sizeof(c));
    char err[256];
    assert_int_equal(gw_cors_parse_origins("*", &c, err, sizeof(err)), 0);
    assert_true(c.any);
    assert_true(gw_cors_origin_allowed(&c, "https://anything.example"));
    assert_false(gw_cors_origin_allowed(&c, NULL));
    gw_cors_config_free(&c);
    /* empty: no cross-origin page may call */
    assert_int_equal(gw_cors_parse_origins("", &c, err, sizeof(err)), 0);
    assert_false(c.any);
    assert_false(gw_cors_origin_allowed(&c, "https://shop.example"));
    gw_cors_config_free(&c);
}

static void malformed_origins_are_refused(void **state)
{
    (void)state;
    gw_cors_config_t c;
    memset(&c, 0, sizeof(c));
    char err[256];
    const char *bad[] = {"shop.example", "https://", "https://shop.example/path", "://x", "https://a b", "https://x?y"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        err[0] = '\0';
        assert_int_equal(gw_cors_parse_origins(bad[i], &c, err, sizeof(err)), -1);
        assert_non_null(strstr(err, "is not an origin"));
        assert_int_equal(c.norigins, 0);
    }
}

static void csrf_prevention_wants_a_preflighted_get(void **state)
{
    (void)state;
    gw_cors_config_t c = {.csrf = true};
    /* what a browser sends without a preflight: refused */
    assert_false(gw_csrf_ok(&c, NULL, NULL, NULL));
    assert_false(gw_csrf_ok(&c, "text/plain", NULL, NULL));
    assert_false(gw_csrf_ok(&c, "text/plain; charset=utf-8", NULL, NULL));
    assert_false(gw_csrf_ok(&c, " Multipart/Form-Data; boundary=x", NULL, NULL));
    assert_false(gw_csrf_ok(&c, "application/x-www-form-urlencoded", "", ""));
    /* what only a preflighted request can carry: allowed */
    assert_true(gw_csrf_ok(&c, "application/json", NULL, NULL));
    assert_true(gw_csrf_ok(&c, NULL, "true", NULL));
    assert_true(gw_csrf_ok(&c, "text/plain", NULL, "ProductPage"));
    c.csrf = false;
    assert_true(gw_csrf_ok(&c, NULL, NULL, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(origins_are_parsed_and_matched),
        cmocka_unit_test(star_allows_every_origin),
        cmocka_unit_test(malformed_origins_are_refused),
        cmocka_unit_test(csrf_prevention_wants_a_preflighted_get),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
