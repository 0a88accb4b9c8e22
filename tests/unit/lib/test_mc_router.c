/*
 * Unit tests of lib/mc_router.c: literal segments beat parameters, 405 information,
 * trailing slashes, malformed paths.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "mc_internal.h"

static void h1(mc_req_t *r) {}
static void h2(mc_req_t *r) {}
static void h3(mc_req_t *r) {}
static void h4(mc_req_t *r) {}

static const mc_route_t routes[] = {
    {"GET", "/api/things/:id", h1},
    {"GET", "/api/things/tree", h2},
    {"DELETE", "/api/things/:id", h3},
    {"GET", "/api/things/:id/parts/:part", h4},
};

static void match(const mc_router_t *r, const char *method, const char *path, mc_route_match_t *m)
{
    mc_router_match(r, method, strlen(method), path, strlen(path), m);
}

static void literal_beats_parameter(void **state)
{
    mc_router_t r;
    assert_int_equal(mc_router_init(&r, routes, 4), 0);
    mc_route_match_t m;
    match(&r, "GET", "/api/things/tree", &m);
    assert_ptr_equal(m.route, &routes[1]);
    match(&r, "GET", "/api/things/abc", &m);
    assert_ptr_equal(m.route, &routes[0]);
    assert_int_equal(m.nparams, 1);
    assert_memory_equal(m.values[0].base, "abc", 3);
    match(&r, "GET", "/api/things/a/parts/b/", &m); /* trailing slash ignored */
    assert_ptr_equal(m.route, &routes[3]);
    assert_int_equal(m.nparams, 2);
    assert_memory_equal(m.names[1].base, "part", 4);
    match(&r, "HEAD", "/api/things/abc", &m); /* HEAD answered by GET */
    assert_ptr_equal(m.route, &routes[0]);
    mc_router_dispose(&r);
}

static void method_not_allowed(void **state)
{
    mc_router_t r;
    assert_int_equal(mc_router_init(&r, routes, 4), 0);
    mc_route_match_t m;
    match(&r, "POST", "/api/things/abc", &m);
    assert_null(m.route);
    assert_true(m.path_known);
    assert_string_equal(m.allow, "GET, DELETE");
    match(&r, "GET", "/api/nothing", &m);
    assert_null(m.route);
    assert_false(m.path_known);
    mc_router_dispose(&r);
}

static void malformed_paths(void **state)
{
    mc_router_t r;
    assert_int_equal(mc_router_init(&r, routes, 4), 0);
    mc_route_match_t m;
    const char *bad[] = {"", "api/things/a", "/api//things/a", "/api/things//", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        match(&r, "GET", bad[i], &m);
        assert_null(m.route);
        assert_false(m.path_known);
    }
    mc_router_dispose(&r);
}

static void bad_pattern_refused(void **state)
{
    static const mc_route_t bad[] = {{"GET", "no-slash", h1}};
    mc_router_t r;
    assert_int_equal(mc_router_init(&r, bad, 1), -1);
    mc_router_dispose(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(literal_beats_parameter),
        cmocka_unit_test(method_not_allowed),
        cmocka_unit_test(malformed_paths),
        cmocka_unit_test(bad_pattern_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
