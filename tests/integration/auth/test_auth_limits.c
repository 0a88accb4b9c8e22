/*
 * Integration tests of the auth service's abuse resistance: per-address limits (with
 * client addresses from a trusted X-Forwarded-For, IPv6 by /64), the per-account login
 * backoff (also for accounts that do not exist, and against parallel guessing), limits on
 * password-reset and verification messages, the in-process fallback while Redis is down
 * (login keeps working, limits keep holding), and the hash gate refusing an overload.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth_util.h"

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    static const char *const env[] = {"RATE_LIMIT_LOGIN_IP=5/60", "RATE_LIMIT_REGISTER_IP=off", "LOGIN_FREE_ATTEMPTS=3",
                                      "LOGIN_BACKOFF_BASE_MS=4000", "LOGIN_BACKOFF_MAX_MS=8000",
                                      "RATE_LIMIT_FORGOT_IP=off", "RATE_LIMIT_FORGOT_EMAIL=2/3600",
                                      "RATE_LIMIT_VERIFY_USER=1/3600", NULL};
    auth_svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env});
    return auth_svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    return auth_svc != NULL && mh_service_stop(auth_svc) == 0 ? 0 : -1;
}

static mh_response_t login_from(const char *email, const char *password, const char *ip)
{
    return au_post_as("/api/auth/login", NULL, json_pack("{s:s,s:s}", "email", email, "password", password), ip);
}

static void expect_limited(mh_response_t r)
{
    if (r.status != 429) {
        char msg[512];
        snprintf(msg, sizeof(msg), "expected 429, got %ld %.400s", r.status, r.body);
        mh_response_free(&r);
        fail_msg("%s", msg);
    }
    const char *after = mh_header(&r, "retry-after");
    assert_non_null(after);
    assert_true(atoi(after) >= 1);
    assert_string_equal(mh_error_code(&r), "RATE_LIMITED");
    mh_response_free(&r);
}

static void per_address_login_limit(void **state)
{
    (void)state;
    for (int i = 0; i < 5; ++i)
        au_expect(login_from(au_email("ipA"), "whatever pass", "10.0.0.1"), 401, "UNAUTHENTICATED");
    expect_limited(login_from(au_email("ipA"), "whatever pass", "10.0.0.1"));
    /* another client is not affected */
    au_expect(login_from(au_email("ipB"), "whatever pass", "10.0.0.2"), 401, "UNAUTHENTICATED");
    /* IPv6 clients are counted by /64 */
    for (int i = 0; i < 5; ++i)
        au_expect(login_from(au_email("v6"), "whatever pass", i % 2 ? "2001:db8:1:2::1" : "2001:db8:1:2:ffff::9"), 401,
                  "UNAUTHENTICATED");
    expect_limited(login_from(au_email("v6"), "whatever pass", "2001:db8:1:2:abcd::1"));
    au_expect(login_from(au_email("v6"), "whatever pass", "2001:db8:1:3::1"), 401, "UNAUTHENTICATED");

    /* X-Forwarded-For is only believed with the internal key: without it, these count
     * against the connection's own address */
    char xff[] = "X-Forwarded-For: 10.9.9.9";
    const char *hdrs[] = {xff, NULL};
    for (int i = 0; i < 5; ++i) {
        mh_request_t req = {.method = "POST", .url = au_url("/api/auth/login"), .headers = hdrs,
                            .json = json_pack("{s:s,s:s}", "email", au_email("peer"), "password", "whatever pass")};
        mh_response_t r;
        mh_http(&req, &r);
        json_decref((json_t *)req.json);
        au_expect(r, 401, "UNAUTHENTICATED");
    }
    expect_limited(au_login(au_email("peer"), "whatever pass"));
}

static bool correct_password_works(void *arg)
{
    mh_response_t r = login_from((const char *)arg, "the right password", "10.1.1.1");
    bool ok = r.status == 200;
    mh_response_free(&r);
    return ok;
}

static void account_backoff(void **state)
{
    (void)state;
    char em[128], ghost[128];
    snprintf(em, sizeof(em), "%s", au_email("backoff"));
    snprintf(ghost, sizeof(ghost), "%s", au_email("backoff-ghost"));
    json_t *s = au_register(em, "the right password", "Backoff");
    json_decref(s);
    /* each attempt from another address: only the account's own limit is in play */
    for (int i = 0; i < 3; ++i) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.1.0.%d", i + 1);
        au_expect(login_from(em, "a wrong password", ip), 401, "UNAUTHENTICATED");
        au_expect(login_from(ghost, "a wrong password", ip), 401, "UNAUTHENTICATED");
    }
    /* now the account waits, whatever the password and whether it exists */
    expect_limited(login_from(em, "a wrong password", "10.1.0.10"));
    expect_limited(login_from(em, "the right password", "10.1.0.11"));
    expect_limited(login_from(ghost, "a wrong password", "10.1.0.12"));
    /* after the wait the right password works, and resets the count */
    assert_true(mh_wait_until(correct_password_works, em, 20000));
    au_expect(login_from(em, "a wrong password", "10.1.0.20"), 401, "UNAUTHENTICATED");
}

typedef struct guess {
    const char *url, *email;
    long status[20];
} guess_t;

static void guess_once(int i, void *arg)
{
    guess_t *g = arg;
    char ip[32];
    snprintf(ip, sizeof(ip), "10.2.0.%d", i + 1);
    mh_response_t r = au_post_url(g->url, NULL, json_pack("{s:s,s:s}", "email", g->email, "password", "guessing..."), ip);
    g->status[i] = r.status;
    mh_response_free(&r);
}

static void parallel_guesses_get_the_free_attempts_only(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("parallel"));
    json_t *s = au_register(em, "not guessable at all", "Parallel");
    json_decref(s);
    guess_t g = {.url = au_url("/api/auth/login"), .email = em};
    au_parallel(20, guess_once, &g);
    int wrong = 0, limited = 0;
    for (int i = 0; i < 20; ++i) {
        wrong += g.status[i] == 401;
        limited += g.status[i] == 429;
    }
    /* attempts are counted before any password is checked: parallel guesses cannot all
     * slip in before the first failure is recorded */
    assert_int_equal(wrong, 3);
    assert_int_equal(limited, 17);
}

static void reset_and_verification_messages_are_limited(void **state)
{
    (void)state;
    char em[128], ghost[128];
    snprintf(em, sizeof(em), "%s", au_email("forgot"));
    snprintf(ghost, sizeof(ghost), "%s", au_email("forgot-ghost"));
    json_t *s = au_register(em, "forgetful person", "Forgetful");
    for (int i = 0; i < 2; ++i) {
        au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em)), 202, NULL);
        au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", ghost)), 202, NULL);
    }
    /* the same limit whether or not the account exists */
    expect_limited(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em)));
    expect_limited(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", ghost)));
    au_expect(au_post("/api/auth/verify-email/send", au_str(s, "accessToken"), NULL), 202, NULL);
    expect_limited(au_post("/api/auth/verify-email/send", au_str(s, "accessToken"), NULL));
    json_decref(s);
}

static void limits_hold_and_login_works_without_redis(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("noredis"));
    json_t *s = au_register(em, "redis is down", "NoRedis");
    json_decref(s);
    assert_int_equal(mh_redis_stop(), 0);
    /* sign-in keeps working */
    mh_response_t r = login_from(em, "redis is down", "10.3.0.1");
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    /* and the limits hold, per process now */
    for (int i = 0; i < 4; ++i)
        au_expect(login_from(au_email("noredis-ip"), "whatever pass", "10.3.0.1"), 401, "UNAUTHENTICATED");
    expect_limited(login_from(au_email("noredis-ip"), "whatever pass", "10.3.0.1"));
    for (int i = 0; i < 3; ++i) {
        char ip[32];
        snprintf(ip, sizeof(ip), "10.3.1.%d", i + 1);
        au_expect(login_from(em, "a wrong password", ip), 401, "UNAUTHENTICATED");
    }
    expect_limited(login_from(em, "redis is down", "10.3.1.9"));
    /* readiness reports Redis as degraded, not the service as down */
    mh_response_t ready = mh_get(au_url("/ready"), NULL);
    assert_int_equal(ready.status, 200);
    mh_response_free(&ready);
    assert_int_equal(mh_redis_start(), 0);
}

typedef struct flood {
    const char *url;
    long status[12];
    const char *retry_after[12];
} flood_t;

static void flood_once(int i, void *arg)
{
    flood_t *f = arg;
    char ip[32];
    snprintf(ip, sizeof(ip), "10.4.0.%d", i + 1);
    char em[64];
    snprintf(em, sizeof(em), "flood-%d@example.com", i);
    mh_response_t r = au_post_url(f->url, NULL, json_pack("{s:s,s:s}", "email", em, "password", "flooding"), ip);
    f->status[i] = r.status;
    f->retry_after[i] = mh_header(&r, "retry-after") != NULL ? "yes" : NULL;
    mh_response_free(&r);
}

static void hashing_overload_is_refused_not_queued_forever(void **state)
{
    (void)state;
    /* Slow hashes (about ten times the default cost), so the flood surely overlaps them. */
    const char *env[] = {"HASH_CONCURRENCY=1", "HASH_QUEUE=1", "ARGON2_ITERATIONS=20", "RATE_LIMIT_LOGIN_IP=off", NULL};
    mh_service_t *small = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env});
    assert_non_null(small);
    mh_service_t *saved = auth_svc;
    auth_svc = small;
    flood_t f = {.url = au_url("/api/auth/login")};
    au_parallel(12, flood_once, &f);
    int refused = 0, answered = 0;
    for (int i = 0; i < 12; ++i) {
        if (f.status[i] == 503) {
            ++refused;
            assert_non_null(f.retry_after[i]);
        }
        answered += f.status[i] == 401;
    }
    assert_int_equal(refused + answered, 12);
    assert_true(refused >= 1);
    assert_true(answered >= 2); /* the one hashing and the one queued */
    /* and the service is fine afterwards */
    au_expect(login_from("flood-0@example.com", "flooding", "10.4.1.1"), 401, "UNAUTHENTICATED");
    auth_svc = saved;
    assert_int_equal(mh_service_stop(small), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(per_address_login_limit),
        cmocka_unit_test(account_backoff),
        cmocka_unit_test(parallel_guesses_get_the_free_attempts_only),
        cmocka_unit_test(reset_and_verification_messages_are_limited),
        cmocka_unit_test(limits_hold_and_login_works_without_redis),
        cmocka_unit_test(hashing_overload_is_refused_not_queued_forever),
    };
    return mh_run_group("auth_limits", tests, setup, teardown);
}
