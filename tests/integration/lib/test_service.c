/*
 * End-to-end test of the runtime through demo_service (a real process built on lib/):
 * JWT checks at the door, MongoDB jobs through the request's pool, Redis on the worker
 * loop, the HTTP client towards an upstream, /ready following the stores, behaviour
 * while FerretDB and Redis are stopped and after they return, and a clean exit 0 on
 * SIGTERM. Run a second time under valgrind (ctest label `valgrind`) with
 * MERCATO_HARNESS_VALGRIND=1.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "mc_util.h"

static mh_service_t *svc, *upstream;
static char *admin, *customer;

static int setup(void **state)
{
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    mh_service_opts_t up = {.valgrind = -1};
    if ((upstream = mh_service_start(MC_TEST_DIR "/http_fixture.py", &up)) == NULL)
        return -1;
    char env_upstream[128], env_retry[] = "MONGODB_RETRY_MS=200";
    snprintf(env_upstream, sizeof(env_upstream), "UPSTREAM_URL=%s", mh_service_url(upstream));
    const char *env[] = {env_upstream, env_retry, "WORKERS=2", "SHUTDOWN_TIMEOUT_MS=3000", NULL};
    mh_service_opts_t opts = {.env = env, .wait_ready = true};
    if ((svc = mh_service_start("demo_service", &opts)) == NULL)
        return -1;
    admin = mh_token(MH_TEST_USER_ID, "admin");
    customer = mh_token(MH_TEST_USER_ID, "customer");
    return 0;
}

static int teardown(void **state)
{
    free(admin);
    free(customer);
    int a = mh_service_stop(svc); /* the service must exit cleanly: status 0 */
    int b = mh_service_stop(upstream);
    return a == 0 && b == 0 ? 0 : -1;
}

static json_t *title(const char *t)
{
    return json_pack("{s:s}", "title", t);
}

/* True once /ready reports both checks up. A worker's Redis connection is made after the
   service starts listening (Redis is optional), so right after start /ready may still say
   "degraded" for a moment on a busy machine. */
static bool both_up(void *arg)
{
    (void)arg;
    mh_response_t r = mh_get(mh_url(svc, "/ready"), NULL);
    json_t *checks = json_object_get(r.json, "checks");
    const char *m = json_string_value(json_object_get(json_object_get(checks, "mongodb"), "status"));
    const char *rd = json_string_value(json_object_get(json_object_get(checks, "redis"), "status"));
    bool up = r.status == 200 && m != NULL && rd != NULL && strcmp(m, "up") == 0 && strcmp(rd, "up") == 0;
    mh_response_free(&r);
    return up;
}

static void health_and_ready(void **state)
{
    mh_response_t r = mh_get(mh_url(svc, "/health"), NULL);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    assert_true(mh_wait_until(both_up, NULL, 10000));
    r = mh_get(mh_url(svc, "/ready"), NULL);
    assert_int_equal(r.status, 200);
    json_t *checks = json_object_get(r.json, "checks");
    assert_string_equal(json_string_value(json_object_get(json_object_get(checks, "mongodb"), "status")), "up");
    assert_string_equal(json_string_value(json_object_get(json_object_get(checks, "redis"), "status")), "up");
    mh_response_free(&r);
}

static void tokens_are_checked(void **state)
{
    mh_response_t r = mh_send("POST", mh_url(svc, "/api/notes"), NULL, title("a"));
    assert_int_equal(r.status, 401);
    assert_string_equal(mh_error_code(&r), "UNAUTHENTICATED");
    mh_response_free(&r);
    r = mh_send("POST", mh_url(svc, "/api/notes"), customer, title("a"));
    assert_int_equal(r.status, 403);
    mh_response_free(&r);

    /* forged: alg none, another key, expired, wrong audience */
    json_t *claims = mh_claims(MH_TEST_USER_ID, "admin", mc_now_ms() / 1000);
    json_t *none = json_pack("{s:s}", "alg", "none");
    char *t1 = mh_token_sign(none, claims, NULL, 0); /* steals none */
    const char *other = "not-the-service-secret-but-long-enough-1234";
    char *t2 = mh_token_sign(NULL, claims, other, strlen(other));
    char *t3 = mh_token_at(MH_TEST_USER_ID, "admin", mc_now_ms() / 1000 - 3600);
    json_object_set_new(claims, "aud", json_string("someone-else"));
    char *t4 = mh_token_sign(NULL, claims, NULL, 0);
    const char *forged[] = {t1, t2, t3, t4, "garbage"};
    for (size_t i = 0; i < sizeof(forged) / sizeof(forged[0]); ++i) {
        r = mh_send("POST", mh_url(svc, "/api/notes"), forged[i], title("forged"));
        if (r.status != 401)
            fail_msg("forged token %zu got %ld", i, r.status);
        mh_response_free(&r);
    }
    free(t1);
    free(t2);
    free(t3);
    free(t4);
    json_decref(claims);
}

static void notes_in_mongodb(void **state)
{
    mh_response_t r = mh_send("POST", mh_url(svc, "/api/notes"), admin, title("first note"));
    assert_int_equal(r.status, 201);
    char id[25];
    snprintf(id, sizeof(id), "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
    char path[64];
    snprintf(path, sizeof(path), "/api/notes/%s", id);
    r = mh_get(mh_url(svc, path), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "title")), "first note");
    mh_response_free(&r);

    r = mh_send("POST", mh_url(svc, "/api/notes"), admin, title("first note")); /* unique index */
    assert_int_equal(r.status, 409);
    assert_string_equal(mh_error_code(&r), "CONFLICT");
    mh_response_free(&r);
    r = mh_get(mh_url(svc, "/api/notes/not-an-id"), NULL);
    assert_int_equal(r.status, 400);
    mh_response_free(&r);
    char unknown[25];
    mh_oid(unknown);
    snprintf(path, sizeof(path), "/api/notes/%s", unknown);
    r = mh_get(mh_url(svc, path), NULL);
    assert_int_equal(r.status, 404);
    mh_response_free(&r);
}

static void cache_in_redis(void **state)
{
    mh_response_t r = mh_send("PUT", mh_url(svc, "/api/cache/colour"), customer, json_pack("{s:s}", "value", "blue"));
    assert_int_equal(r.status, 204);
    mh_response_free(&r);
    r = mh_get(mh_url(svc, "/api/cache/colour"), NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.json, "value")), "blue");
    mh_response_free(&r);
    assert_string_equal(mh_redis_cli("GET demo:colour"), "blue");
    r = mh_get(mh_url(svc, "/api/cache/absent"), NULL);
    assert_int_equal(r.status, 404);
    mh_response_free(&r);
}

static void upstream_calls_carry_the_request_id(void **state)
{
    const char *hdrs[] = {"X-Request-Id: trace-abc.123", NULL};
    mh_request_t req = {.url = mh_url(svc, "/api/upstream?path=/echo"), .headers = hdrs};
    mh_response_t r;
    assert_int_equal(mh_http(&req, &r), 0);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "headers"), "x-request-id")),
                        "trace-abc.123");
    mh_response_free(&r);
    r = mh_get(mh_url(svc, "/api/upstream?path=/status%3Fcode%3D418"), NULL);
    assert_int_equal(r.status, 418);
    mh_response_free(&r);
    r = mh_get(mh_url(svc, "/api/upstream?path=/never"), NULL); /* the service's own 2 s limit */
    assert_int_equal(r.status, 502);
    mh_response_free(&r);
}

typedef struct status_probe {
    const char *url;
    long want;
} status_probe_t;

static bool answers(void *arg)
{
    status_probe_t *p = arg;
    mh_response_t r = mh_get(p->url, NULL);
    bool ok = r.status == p->want;
    mh_response_free(&r);
    return ok;
}

static void redis_down_and_back(void **state)
{
    assert_int_equal(mh_redis_kill(), 0);
    status_probe_t p = {mh_url(svc, "/api/cache/colour"), 503};
    assert_true(mh_wait_until(answers, &p, 20000));
    mh_response_t r = mh_get(mh_url(svc, "/ready"), NULL);
    assert_int_equal(r.status, 200); /* Redis is not required: degraded */
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "degraded");
    mh_response_free(&r);
    r = mh_get(mh_url(svc, "/health"), NULL);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);

    assert_int_equal(mh_redis_start(), 0); /* empty again (no persistence) */
    p.want = 404;
    assert_true(mh_wait_until(answers, &p, 30000));
    status_probe_t ready = {mh_url(svc, "/ready"), 200};
    assert_true(answers(&ready));
}

static void mongodb_down_and_back(void **state)
{
    if (!mh_mongo_controllable())
        skip();
    mh_response_t r = mh_send("POST", mh_url(svc, "/api/notes"), admin, title("before the outage"));
    assert_int_equal(r.status, 201);
    char path[64];
    snprintf(path, sizeof(path), "/api/notes/%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);

    assert_int_equal(mh_mongo_stop(), 0);
    status_probe_t p = {mh_url(svc, path), 503};
    assert_true(mh_wait_until(answers, &p, 30000));
    r = mh_get(mh_url(svc, path), NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(mh_error_code(&r), "UNAVAILABLE");
    mh_response_free(&r);
    r = mh_get(mh_url(svc, "/ready"), NULL);
    assert_int_equal(r.status, 503);
    mh_response_free(&r);

    assert_int_equal(mh_mongo_start(), 0);
    p.want = 200;
    assert_true(mh_wait_until(answers, &p, 30000)); /* recovered by itself, data kept */
    status_probe_t ready = {mh_url(svc, "/ready"), 200};
    assert_true(mh_wait_until(answers, &ready, 30000));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_and_ready),
        cmocka_unit_test(tokens_are_checked),
        cmocka_unit_test(notes_in_mongodb),
        cmocka_unit_test(cache_in_redis),
        cmocka_unit_test(upstream_calls_carry_the_request_id),
        cmocka_unit_test(redis_down_and_back),
        cmocka_unit_test(mongodb_down_and_back),
    };
    return mh_run_group("demo service", tests, setup, teardown);
}
