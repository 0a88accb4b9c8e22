/*
 * Integration tests of the auth service against real FerretDB and Redis: accounts,
 * sessions and their rotation, the attacks of the issue (forged, expired, misdirected
 * and tampered tokens, alg none, an HS256 token keyed with the RSA public key, refresh
 * tokens as access tokens, refresh-token reuse, customers on admin routes, registering as
 * admin, operator injection), administration, public profiles, addresses, concurrency
 * (parallel refreshes of one token, a password change racing a profile edit, parallel
 * address creation at the limit) and a clean shutdown.
 *
 * Email flows are in test_auth_email.c, Google sign-in in test_auth_google.c, rate limits
 * in test_auth_limits.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "auth_util.h"

static mh_service_t *rs_svc; /* a second instance signing with RS256 */
static char *rs_public, *rs_private;
static char *admin;

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    /* Generous limits: this file tests everything but the limits. */
    /* Two workers: the races below then also run on two event loops at once. */
    static const char *const env[] = {"RATE_LIMIT_LOGIN_IP=off", "RATE_LIMIT_REGISTER_IP=off", "RATE_LIMIT_REFRESH_IP=off",
                                      "RATE_LIMIT_TOKEN_IP=off", "LOGIN_FREE_ATTEMPTS=1000", "WORKERS=2", NULL};
    auth_svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env});
    if (auth_svc == NULL)
        return -1;
    if (mh_rsa_keypair(&rs_public, &rs_private) != 0)
        return -1;
    static char pubfile[1024], privfile[1024], e_pub[1100], e_priv[1100], e_db[128];
    snprintf(pubfile, sizeof(pubfile), "%s/jwt-public.pem", mh_tmpdir());
    snprintf(privfile, sizeof(privfile), "%s/jwt-private.pem", mh_tmpdir());
    FILE *f = fopen(pubfile, "w");
    fputs(rs_public, f);
    fclose(f);
    f = fopen(privfile, "w");
    fputs(rs_private, f);
    fclose(f);
    snprintf(e_pub, sizeof(e_pub), "JWT_PUBLIC_KEY_FILE=%s", pubfile);
    snprintf(e_priv, sizeof(e_priv), "JWT_PRIVATE_KEY_FILE=%s", privfile);
    snprintf(e_db, sizeof(e_db), "MONGODB_DB=%s", mh_mongo_db("rs256"));
    const char *rs_env[] = {"JWT_ALG=RS256", "JWT_SECRET=", e_pub, e_priv, e_db, NULL};
    rs_svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = rs_env});
    if (rs_svc == NULL)
        return -1;
    admin = mh_token(MH_TEST_USER_ID, "admin");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(admin);
    free(rs_public);
    free(rs_private);
    /* A clean exit (status 0) after SIGTERM is part of what is tested. */
    int a = rs_svc != NULL ? mh_service_stop(rs_svc) : -1;
    int b = auth_svc != NULL ? mh_service_stop(auth_svc) : -1;
    return a == 0 && b == 0 ? 0 : -1;
}

static json_t *get_json(const char *url, const char *token, long want)
{
    mh_response_t r = mh_get(url, token);
    if (r.status != want) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "GET %s: %ld %.900s", url, r.status, r.body);
        mh_response_free(&r);
        fail_msg("%s", msg);
    }
    json_t *j = json_incref(r.json);
    mh_response_free(&r);
    return j;
}

static const char *access_of(json_t *session)
{
    return au_str(session, "accessToken");
}

static const char *refresh_of(json_t *session)
{
    return au_str(session, "refreshToken");
}

/* --- accounts and sessions ----------------------------------------------------------------------- */

static void register_login_me(void **state)
{
    (void)state;
    const char *email = au_email("Reg");
    json_t *s = au_register(email, "correct horse battery", "  Ada Lovelace ");
    json_t *u = json_object_get(s, "user");
    assert_string_equal(au_str(u, "email"), email);
    assert_string_equal(au_str(u, "name"), "Ada Lovelace"); /* trimmed */
    assert_string_equal(au_str(u, "role"), "customer");
    assert_true(json_is_false(json_object_get(u, "emailVerified")));
    assert_true(json_is_true(json_object_get(u, "hasPassword")));
    assert_null(json_object_get(u, "passwordHash")); /* never leaves the service */
    assert_null(json_object_get(u, "epoch"));
    assert_string_equal(au_str(s, "tokenType"), "Bearer");
    assert_int_equal(json_integer_value(json_object_get(s, "expiresIn")), 900);
    assert_int_equal(strlen(refresh_of(s)), 43);

    /* the access token carries what the issue asks for */
    json_t *claims = au_jwt_payload(access_of(s));
    assert_string_equal(au_str(claims, "sub"), au_str(u, "id"));
    assert_string_equal(au_str(claims, "role"), "customer");
    assert_string_equal(au_str(claims, "typ"), "access");
    assert_string_equal(au_str(claims, "iss"), MH_JWT_ISSUER);
    assert_string_equal(au_str(claims, "aud"), MH_JWT_AUDIENCE);
    assert_non_null(au_str(claims, "jti"));
    assert_int_equal(json_integer_value(json_object_get(claims, "exp")) - json_integer_value(json_object_get(claims, "iat")),
                     900);
    json_decref(claims);

    json_t *me = get_json(au_url("/api/users/me"), access_of(s), 200);
    assert_string_equal(au_str(me, "id"), au_str(u, "id"));
    json_decref(me);

    /* the email is compared case-insensitively */
    char upper[128];
    snprintf(upper, sizeof(upper), "%s", email);
    for (char *p = upper; *p; ++p)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    json_t *l = au_login_ok(upper, "correct horse battery");
    assert_string_equal(au_str(json_object_get(l, "user"), "id"), au_str(u, "id"));
    json_decref(l);
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s}", "email", upper, "password", "another password", "name", "X")),
              409, "CONFLICT");

    /* no enumeration: a wrong password and an unknown account get the very same answer */
    mh_response_t wrong = au_login(email, "not the password");
    mh_response_t unknown = au_login(au_email("nobody"), "not the password");
    assert_int_equal(wrong.status, 401);
    assert_int_equal(unknown.status, 401);
    assert_string_equal(wrong.body, unknown.body);
    mh_response_free(&wrong);
    mh_response_free(&unknown);
    json_decref(s);
}

static void register_refusals(void **state)
{
    (void)state;
    const char *email = au_email("refuse");
    /* registering as admin */
    mh_response_t r = au_post("/api/auth/register", NULL,
                              json_pack("{s:s,s:s,s:s,s:s}", "email", email, "password", "long enough", "name", "Mallory", "role",
                                        "admin"));
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.body, "\"role\""));
    mh_response_free(&r);
    /* nothing was created: the address is still free */
    json_t *s = au_register_role(email, "long enough", "Mallory", "seller");
    assert_string_equal(au_str(json_object_get(s, "user"), "role"), "seller");
    json_decref(s);

    /* operator injection never reaches a query */
    au_expect(au_post("/api/auth/login", NULL, json_pack("{s:{s:n},s:s}", "email", "$ne", "password", "x")), 400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/login", NULL, json_pack("{s:s,s:{s:s}}", "email", email, "password", "$gt", "")), 400,
              "BAD_REQUEST");
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:{s:s},s:s,s:s}", "email", "$regex", ".*", "password", "long enough", "name", "x")),
              400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:{s:n}}", "email", "$ne")), 400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/refresh", NULL, json_pack("{s:{s:n}}", "refreshToken", "$ne")), 400, "BAD_REQUEST");

    /* input limits */
    char longpw[130];
    memset(longpw, 'p', 129);
    longpw[129] = '\0';
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s}", "email", au_email("short"), "password", "1234567", "name", "x")),
              400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s}", "email", au_email("long"), "password", longpw, "name", "x")),
              400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s}", "email", "not-an-email", "password", "long enough", "name", "x")),
              400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s,s:s}", "email", au_email("ph"), "password", "long enough", "name", "x", "phone",
                                "12345")),
              400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s,s:b}", "email", au_email("extra"), "password", "long enough", "name", "x",
                                "isAdmin", 1)),
              400, "BAD_REQUEST");
    au_expect(au_post("/api/auth/register", NULL,
                      json_pack("{s:s,s:s,s:s}", "email", au_email("blank"), "password", "long enough", "name", "   ")),
              400, "BAD_REQUEST");
    /* malformed bodies */
    mh_request_t raw = {.method = "POST", .url = au_url("/api/auth/login"), .body = "{\"email\":", .content_type = "application/json"};
    mh_response_t rr;
    mh_http(&raw, &rr);
    au_expect(rr, 400, "BAD_REQUEST");
    raw.body = "email=a@b.co";
    raw.content_type = "application/x-www-form-urlencoded";
    mh_http(&raw, &rr);
    au_expect(rr, 415, NULL);
    size_t big = 2u << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'a', big);
    huge[0] = '"';
    huge[big - 1] = '"';
    huge[big] = '\0';
    raw.body = huge;
    raw.content_type = "application/json";
    mh_http(&raw, &rr);
    au_expect(rr, 413, NULL);
    free(huge);
}

static void refresh_rotates_and_reuse_revokes(void **state)
{
    (void)state;
    const char *email = au_email("rot");
    json_t *s = au_register(email, "rotate me please", "Rot");
    json_t *other = au_login_ok(email, "rotate me please"); /* a second, independent session */
    char rt1[64], rt2[64], rt3[64];
    snprintf(rt1, sizeof(rt1), "%s", refresh_of(s));

    mh_response_t r = au_refresh(rt1);
    assert_int_equal(r.status, 200);
    snprintf(rt2, sizeof(rt2), "%s", au_str(r.json, "refreshToken"));
    assert_string_not_equal(rt1, rt2);
    json_t *me = get_json(au_url("/api/users/me"), au_str(r.json, "accessToken"), 200);
    json_decref(me);
    mh_response_free(&r);

    r = au_refresh(rt2);
    assert_int_equal(r.status, 200);
    snprintf(rt3, sizeof(rt3), "%s", au_str(r.json, "refreshToken"));
    mh_response_free(&r);

    /* rt1 again: reuse. The whole family is revoked, rt3 included. */
    au_expect(au_refresh(rt1), 401, "UNAUTHENTICATED");
    au_expect(au_refresh(rt3), 401, "UNAUTHENTICATED");
    au_expect(au_refresh(rt2), 401, "UNAUTHENTICATED");
    /* the other session is untouched */
    r = au_refresh(refresh_of(other));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);

    /* unknown and malformed tokens */
    au_expect(au_refresh("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), 401, "UNAUTHENTICATED");
    au_expect(au_refresh("short"), 400, "BAD_REQUEST");
    json_decref(s);
    json_decref(other);
}

typedef struct race {
    const char *url;
    char token[64];
    long status[16];
    char next[16][64]; /* the refresh token a 200 handed out */
} race_t;

static void refresh_once(int i, void *arg)
{
    race_t *r = arg;
    mh_response_t res = au_post_url(r->url, NULL, json_pack("{s:s}", "refreshToken", r->token), NULL);
    r->status[i] = res.status;
    if (res.status == 200)
        snprintf(r->next[i], sizeof(r->next[i]), "%s", json_string_value(json_object_get(res.json, "refreshToken")));
    mh_response_free(&res);
}

static void concurrent_refreshes_of_one_token(void **state)
{
    (void)state;
    json_t *s = au_register(au_email("race"), "race condition", "Racer");
    race_t race = {.url = au_url("/api/auth/refresh")};
    snprintf(race.token, sizeof(race.token), "%s", refresh_of(s));
    au_parallel(8, refresh_once, &race);
    int ok = 0, denied = 0;
    for (int i = 0; i < 8; ++i) {
        ok += race.status[i] == 200;
        denied += race.status[i] == 401;
    }
    /* At most one spends it (the winner may also see the session revoked by a loser's reuse
     * first); every other is a reuse, which ends the session: whatever the winner got is
     * dead as well. */
    assert_true(ok <= 1);
    assert_int_equal(ok + denied, 8);
    for (int i = 0; i < 8; ++i)
        if (race.status[i] == 200)
            au_expect(au_refresh(race.next[i]), 401, "UNAUTHENTICATED");
    au_expect(au_refresh(race.token), 401, "UNAUTHENTICATED");
    json_decref(s);
}

static void logout_and_logout_everywhere(void **state)
{
    (void)state;
    const char *email = au_email("out");
    json_t *a = au_register(email, "sign me out", "Out");
    json_t *b = au_login_ok(email, "sign me out");
    json_t *c = au_login_ok(email, "sign me out");

    au_expect(au_post("/api/auth/logout", NULL, json_pack("{s:s}", "refreshToken", refresh_of(a))), 204, NULL);
    au_expect(au_refresh(refresh_of(a)), 401, "UNAUTHENTICATED");
    /* logging out an unknown session is not an error */
    au_expect(au_post("/api/auth/logout", NULL, json_pack("{s:s}", "refreshToken", "BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB")),
              204, NULL);
    mh_response_t r = au_refresh(refresh_of(b));
    assert_int_equal(r.status, 200);
    char b2[64];
    snprintf(b2, sizeof(b2), "%s", au_str(r.json, "refreshToken"));
    mh_response_free(&r);

    au_expect(au_post("/api/auth/logout-all", NULL, NULL), 401, "UNAUTHENTICATED");
    au_expect(au_post("/api/auth/logout-all", access_of(c), NULL), 204, NULL);
    au_expect(au_refresh(b2), 401, "UNAUTHENTICATED");
    au_expect(au_refresh(refresh_of(c)), 401, "UNAUTHENTICATED");
    /* signing in again works */
    json_t *d = au_login_ok(email, "sign me out");
    r = au_refresh(refresh_of(d));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    json_decref(a);
    json_decref(b);
    json_decref(c);
    json_decref(d);
}

static void change_password(void **state)
{
    (void)state;
    const char *email = au_email("chpw");
    json_t *s = au_register(email, "first password", "Changer");
    au_expect(au_post("/api/auth/change-password", access_of(s),
                      json_pack("{s:s,s:s}", "currentPassword", "wrong password", "newPassword", "second password")),
              403, "FORBIDDEN");
    au_expect(au_post("/api/auth/change-password", NULL,
                      json_pack("{s:s,s:s}", "currentPassword", "first password", "newPassword", "second password")),
              401, "UNAUTHENTICATED");
    mh_response_t r = au_post("/api/auth/change-password", access_of(s),
                              json_pack("{s:s,s:s}", "currentPassword", "first password", "newPassword", "second password"));
    assert_int_equal(r.status, 200);
    char fresh[64];
    snprintf(fresh, sizeof(fresh), "%s", au_str(r.json, "refreshToken"));
    mh_response_free(&r);
    /* every earlier session ended; the one returned works */
    au_expect(au_refresh(refresh_of(s)), 401, "UNAUTHENTICATED");
    r = au_refresh(fresh);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    au_expect(au_login(email, "first password"), 401, "UNAUTHENTICATED");
    json_t *l = au_login_ok(email, "second password");
    json_decref(l);
    json_decref(s);
}

typedef struct pw_race {
    const char *url_change, *url_me;
    const char *token;
    long change_status;
} pw_race_t;

static void pw_race_one(int i, void *arg)
{
    pw_race_t *p = arg;
    if (i == 0) {
        mh_response_t r = au_post_url(p->url_change, p->token,
                                      json_pack("{s:s,s:s}", "currentPassword", "before the race", "newPassword", "after the race"),
                                      NULL);
        p->change_status = r.status;
        mh_response_free(&r);
        return;
    }
    for (int k = 0; k < 5; ++k) {
        char name[32];
        snprintf(name, sizeof(name), "Name %d-%d", i, k);
        mh_request_t req = {.method = "PATCH", .url = p->url_me, .token = p->token, .json = json_pack("{s:s}", "name", name)};
        mh_response_t r;
        mh_http(&req, &r);
        json_decref((json_t *)req.json);
        mh_response_free(&r);
    }
}

static void password_change_survives_concurrent_profile_edits(void **state)
{
    (void)state;
    const char *email = au_email("pwrace");
    json_t *s = au_register(email, "before the race", "Racer");
    pw_race_t p = {.url_change = au_url("/api/auth/change-password"), .url_me = au_url("/api/users/me"), .token = access_of(s)};
    au_parallel(4, pw_race_one, &p);
    assert_int_equal(p.change_status, 200);
    /* no profile write put the old hash back */
    au_expect(au_login(email, "before the race"), 401, "UNAUTHENTICATED");
    json_t *l = au_login_ok(email, "after the race");
    assert_non_null(strstr(au_str(json_object_get(l, "user"), "name"), "Name "));
    json_decref(l);
    json_decref(s);
}

static void profile(void **state)
{
    (void)state;
    json_t *s = au_register(au_email("prof"), "profile owner", "Prof");
    const char *tok = access_of(s);
    mh_request_t req = {.method = "PATCH", .url = au_url("/api/users/me"), .token = tok};
    mh_response_t r;
    req.json = json_pack("{s:s,s:s}", "name", " New Name ", "phone", "+4930123456");
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    assert_int_equal(r.status, 200);
    assert_string_equal(au_str(r.json, "name"), "New Name");
    assert_string_equal(au_str(r.json, "phone"), "+4930123456");
    mh_response_free(&r);
    req.json = json_pack("{s:n}", "phone");
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(json_object_get(r.json, "phone")));
    mh_response_free(&r);
    const char *bad[] = {"{\"email\":\"x@example.com\"}", "{\"role\":\"admin\"}", "{}", "{\"phone\":\"0301234\"}",
                         "{\"name\":{\"$set\":\"x\"}}", "{\"password\":\"12345678\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        mh_request_t b = {.method = "PATCH", .url = au_url("/api/users/me"), .token = tok, .body = bad[i],
                          .content_type = "application/json"};
        mh_http(&b, &r);
        au_expect(r, 400, "BAD_REQUEST");
    }
    json_t *me = get_json(au_url("/api/users/me"), tok, 200);
    assert_string_equal(au_str(me, "role"), "customer");
    json_decref(me);
    json_decref(s);
}

/* --- attacks on access tokens ---------------------------------------------------------------------------- */

/* A token and the answer it must get on GET /api/users/me. */
static void expect_refused(const char *url, const char *token, const char *what)
{
    mh_response_t r = mh_get(url, token);
    if (r.status != 401 || mh_error_code(&r) == NULL || strcmp(mh_error_code(&r), "UNAUTHENTICATED") != 0) {
        char msg[512];
        snprintf(msg, sizeof(msg), "%s: expected 401, got %ld %.300s", what, r.status, r.body);
        mh_response_free(&r);
        fail_msg("%s", msg);
    }
    mh_response_free(&r);
}

static void forged_and_misdirected_tokens(void **state)
{
    (void)state;
    json_t *s = au_register(au_email("victim"), "victim password", "Victim");
    const char *uid = au_str(json_object_get(s, "user"), "id");
    const char *me = au_url("/api/users/me");
    int64_t now = (int64_t)time(NULL);
    char *t;

    /* the genuine one works */
    json_t *ok = get_json(me, access_of(s), 200);
    json_decref(ok);

    json_t *c = mh_claims(uid, "customer", now);
    t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "none", "typ", "JWT"), c, NULL, 0);
    expect_refused(me, t, "alg none");
    free(t);
    t = mh_token_sign(json_pack("{s:s}", "alg", "HS512"), c, MH_JWT_SECRET, strlen(MH_JWT_SECRET));
    expect_refused(me, t, "alg HS512");
    free(t);
    t = mh_token_sign(NULL, c, "another secret that is long enough 0123456789", 45);
    expect_refused(me, t, "other secret");
    free(t);
    json_decref(c);

    t = mh_token_at(uid, "customer", now - 3600);
    expect_refused(me, t, "expired");
    free(t);
    c = mh_claims(uid, "customer", now);
    json_object_set_new(c, "nbf", json_integer(now + 3600));
    t = mh_token_sign(NULL, c, NULL, 0);
    expect_refused(me, t, "not yet valid");
    free(t);
    json_decref(c);
    c = mh_claims(uid, "customer", now);
    json_object_set_new(c, "iss", json_string("someone-else"));
    t = mh_token_sign(NULL, c, NULL, 0);
    expect_refused(me, t, "wrong iss");
    free(t);
    json_decref(c);
    c = mh_claims(uid, "customer", now);
    json_object_set_new(c, "aud", json_string("another-platform"));
    t = mh_token_sign(NULL, c, NULL, 0);
    expect_refused(me, t, "wrong aud");
    free(t);
    json_decref(c);
    c = mh_claims(uid, "customer", now);
    json_object_set_new(c, "typ", json_string("refresh"));
    t = mh_token_sign(NULL, c, NULL, 0);
    expect_refused(me, t, "typ refresh");
    free(t);
    json_decref(c);

    /* tampered: the payload says admin, the signature is the customer's */
    const char *genuine = access_of(s);
    const char *d2 = strchr(strchr(genuine, '.') + 1, '.');
    json_t *payload = au_jwt_payload(genuine);
    json_object_set_new(payload, "role", json_string("admin"));
    char *forged_hdr_claims = mh_token_sign(NULL, payload, "x", 1); /* only its first two parts are used */
    char tampered[2048];
    const char *f2 = strchr(strchr(forged_hdr_claims, '.') + 1, '.');
    snprintf(tampered, sizeof(tampered), "%.*s%s", (int)(f2 - forged_hdr_claims), forged_hdr_claims, d2);
    expect_refused(me, tampered, "tampered payload");
    mh_response_t r = mh_get(au_url("/api/users"), tampered);
    au_expect(r, 401, "UNAUTHENTICATED");
    free(forged_hdr_claims);
    json_decref(payload);

    /* a refresh token is no access token */
    expect_refused(me, refresh_of(s), "refresh token as access token");
    /* and still works as a refresh token: nothing changed */
    r = au_refresh(refresh_of(s));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    json_decref(s);
}

static void rs256_and_hs256_with_the_public_key(void **state)
{
    (void)state;
    mh_service_t *saved = auth_svc;
    auth_svc = rs_svc;
    json_t *s = au_register(au_email("rsa"), "rsa user password", "Rivest");
    const char *me = au_url("/api/users/me");
    json_t *ok = get_json(me, access_of(s), 200);
    json_decref(ok);
    const char *uid = au_str(json_object_get(s, "user"), "id");
    int64_t now = (int64_t)time(NULL);
    json_t *c = mh_claims(uid, "admin", now);
    /* the classic confusion: HS256 keyed with the RSA public key that verifiers hold */
    char *t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "HS256", "typ", "JWT"), c, rs_public, strlen(rs_public));
    expect_refused(me, t, "HS256 signed with the RSA public key");
    mh_response_t r = mh_get(au_url("/api/users"), t);
    au_expect(r, 401, "UNAUTHENTICATED");
    free(t);
    /* a token of the HS256 instance is worthless here, and the other way round */
    t = mh_token(uid, "customer");
    expect_refused(me, t, "HS256 token on an RS256 service");
    free(t);
    t = mh_token_sign(json_pack("{s:s}", "alg", "none"), c, NULL, 0);
    expect_refused(me, t, "alg none (RS256 service)");
    free(t);
    /* a correctly signed RS256 admin token works */
    t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "RS256", "typ", "JWT"), c, rs_private, strlen(rs_private));
    r = mh_get(au_url("/api/users?limit=1"), t);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    free(t);
    json_decref(c);
    auth_svc = saved;
    expect_refused(au_url("/api/users/me"), access_of(s), "RS256 token on the HS256 service");
    json_decref(s);
}

/* --- administration ------------------------------------------------------------------------------------------ */

static void customers_cannot_administer(void **state)
{
    (void)state;
    json_t *c = au_register(au_email("cust"), "just a customer", "Customer");
    json_t *v = au_register(au_email("target"), "the target user", "Target");
    const char *tok = access_of(c), *vid = au_str(json_object_get(v, "user"), "id");
    au_expect(mh_get(au_url("/api/users"), tok), 403, "FORBIDDEN");
    au_expect(mh_get(au_url("/api/users/%s", vid), tok), 403, "FORBIDDEN");
    mh_request_t req = {.method = "PUT", .url = au_url("/api/users/%s/role", au_str(json_object_get(c, "user"), "id")),
                        .token = tok, .json = json_pack("{s:s}", "role", "admin")};
    mh_response_t r;
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    au_expect(r, 403, "FORBIDDEN");
    char path[128];
    snprintf(path, sizeof(path), "/api/users/%s/disable", vid);
    au_expect(au_post(path, tok, NULL), 403, "FORBIDDEN");
    req = (mh_request_t){.method = "DELETE", .url = au_url("/api/users/%s", vid), .token = tok};
    mh_http(&req, &r);
    au_expect(r, 403, "FORBIDDEN");
    /* a seller neither */
    json_t *sel = au_register_role(au_email("sel"), "just a seller", "Seller", "seller");
    au_expect(mh_get(au_url("/api/users"), access_of(sel)), 403, "FORBIDDEN");
    /* nothing changed */
    json_t *me = get_json(au_url("/api/users/me"), tok, 200);
    assert_string_equal(au_str(me, "role"), "customer");
    json_decref(me);
    json_t *l = au_login_ok(au_str(json_object_get(v, "user"), "email"), "the target user");
    json_decref(l);
    json_decref(c);
    json_decref(v);
    json_decref(sel);
}

static void admin_manages_users(void **state)
{
    (void)state;
    const char *email = au_email("managed");
    char em[128];
    snprintf(em, sizeof(em), "%s", email);
    json_t *s = au_register(em, "managed password", "Managed Person");
    char id[25];
    snprintf(id, sizeof(id), "%s", au_str(json_object_get(s, "user"), "id"));

    json_t *u = get_json(au_url("/api/users/%s", id), admin, 200);
    assert_string_equal(au_str(u, "email"), em);
    json_decref(u);
    au_expect(mh_get(au_url("/api/users/%s", "0123456789abcdef01234567"), admin), 404, "NOT_FOUND");
    au_expect(mh_get(au_url("/api/users/%s", "nope"), admin), 400, "BAD_REQUEST");

    /* search by name and email, filter by role, paginate */
    json_t *list = get_json(au_url("/api/users?q=managed%%20pers"), admin, 200);
    assert_int_equal(json_integer_value(json_object_get(list, "totalCount")), 1);
    assert_string_equal(au_str(json_array_get(json_object_get(list, "items"), 0), "id"), id);
    json_decref(list);
    list = get_json(au_url("/api/users?q=%.12s", em), admin, 200);
    assert_true(json_integer_value(json_object_get(list, "totalCount")) >= 1);
    json_decref(list);
    list = get_json(au_url("/api/users?q=.*"), admin, 200); /* a literal, not a regular expression */
    assert_int_equal(json_integer_value(json_object_get(list, "totalCount")), 0);
    json_decref(list);
    list = get_json(au_url("/api/users?role=seller&limit=200"), admin, 200);
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(list, "items"), i, it) assert_string_equal(au_str(it, "role"), "seller");
    json_decref(list);
    json_t *p1 = get_json(au_url("/api/users?limit=2"), admin, 200);
    assert_int_equal(json_array_size(json_object_get(p1, "items")), 2);
    assert_true(json_is_true(json_object_get(json_object_get(p1, "pageInfo"), "hasNextPage")));
    const char *cursor = au_str(json_object_get(p1, "pageInfo"), "endCursor");
    assert_string_equal(json_string_value(json_array_get(json_object_get(p1, "cursors"), 1)), cursor);
    assert_string_equal(json_string_value(json_array_get(json_object_get(p1, "cursors"), 0)),
                        au_str(json_array_get(json_object_get(p1, "items"), 0), "id"));
    json_t *p2 = get_json(au_url("/api/users?limit=2&cursor=%s", cursor), admin, 200);
    assert_string_not_equal(au_str(json_array_get(json_object_get(p2, "items"), 0), "id"),
                            au_str(json_array_get(json_object_get(p1, "items"), 1), "id"));
    json_decref(p1);
    json_decref(p2);
    au_expect(mh_get(au_url("/api/users?limit=0"), admin), 400, "BAD_REQUEST");
    au_expect(mh_get(au_url("/api/users?role=root"), admin), 400, "BAD_REQUEST");
    au_expect(mh_get(au_url("/api/users?sort=x"), admin), 400, "BAD_REQUEST");

    /* role change: effective at the next refresh */
    mh_request_t req = {.method = "PUT", .url = au_url("/api/users/%s/role", id), .token = admin,
                        .json = json_pack("{s:s}", "role", "seller")};
    mh_response_t r;
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    assert_int_equal(r.status, 200);
    assert_string_equal(au_str(r.json, "role"), "seller");
    mh_response_free(&r);
    r = au_refresh(refresh_of(s));
    assert_int_equal(r.status, 200);
    json_t *claims = au_jwt_payload(au_str(r.json, "accessToken"));
    assert_string_equal(au_str(claims, "role"), "seller");
    char rt[64];
    snprintf(rt, sizeof(rt), "%s", au_str(r.json, "refreshToken"));
    json_decref(claims);
    mh_response_free(&r);

    /* disable: sessions end, sign-in refused; enable: sign-in again */
    au_expect(au_post_as("/api/users/x/disable", admin, NULL, NULL), 400, "BAD_REQUEST");
    char path[128];
    snprintf(path, sizeof(path), "/api/users/%s/disable", id);
    r = au_post(path, admin, NULL);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "disabled")));
    mh_response_free(&r);
    au_expect(au_refresh(rt), 401, "UNAUTHENTICATED");
    au_expect(au_login(em, "managed password"), 403, "FORBIDDEN");
    au_expect(au_login(em, "a wrong password"), 401, "UNAUTHENTICATED"); /* no hint without the password */
    snprintf(path, sizeof(path), "/api/users/%s/enable", id);
    au_expect(au_post(path, admin, NULL), 200, NULL);
    json_t *l = au_login_ok(em, "managed password");
    json_decref(l);

    /* an administrator cannot act on themselves */
    json_t *adm = au_register(au_email("adm"), "admin to be", "Admin");
    char aid[25];
    snprintf(aid, sizeof(aid), "%s", au_str(json_object_get(adm, "user"), "id"));
    req = (mh_request_t){.method = "PUT", .url = au_url("/api/users/%s/role", aid), .token = admin,
                         .json = json_pack("{s:s}", "role", "admin")};
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    json_t *as_admin = au_login_ok(au_str(json_object_get(adm, "user"), "email"), "admin to be");
    const char *atok = access_of(as_admin);
    snprintf(path, sizeof(path), "/api/users/%s/disable", aid);
    au_expect(au_post(path, atok, NULL), 409, "CONFLICT");
    req = (mh_request_t){.method = "DELETE", .url = au_url("/api/users/%s", aid), .token = atok};
    mh_http(&req, &r);
    au_expect(r, 409, "CONFLICT");
    req = (mh_request_t){.method = "PUT", .url = au_url("/api/users/%s/role", aid), .token = atok,
                         .json = json_pack("{s:s}", "role", "customer")};
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    au_expect(r, 409, "CONFLICT");

    /* delete */
    req = (mh_request_t){.method = "DELETE", .url = au_url("/api/users/%s", id), .token = atok};
    mh_http(&req, &r);
    au_expect(r, 204, NULL);
    au_expect(mh_get(au_url("/api/users/%s", id), atok), 404, "NOT_FOUND");
    au_expect(au_login(em, "managed password"), 401, "UNAUTHENTICATED");
    mh_http(&req, &r);
    au_expect(r, 404, "NOT_FOUND");
    /* the address is free again */
    json_t *again = au_register(em, "managed password", "Again");
    json_decref(again);
    json_decref(adm);
    json_decref(as_admin);
    json_decref(s);
}

static void public_profiles_batch(void **state)
{
    (void)state;
    json_t *a = au_register(au_email("pubA"), "public a pass", "Alice Public");
    json_t *b = au_register_role(au_email("pubB"), "public b pass", "Bob Seller", "seller");
    const char *ia = au_str(json_object_get(a, "user"), "id"), *ib = au_str(json_object_get(b, "user"), "id");
    char missing[25];
    mh_oid(missing);
    char upper[25];
    snprintf(upper, sizeof(upper), "%s", ib);
    for (char *p = upper; *p; ++p)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    json_t *res = get_json(au_url("/api/users/batch?ids=%s,%s,%s,%s", upper, missing, ia, ib), NULL, 200);
    json_t *items = json_object_get(res, "items");
    assert_int_equal(json_array_size(items), 2);
    json_t *first = json_array_get(items, 0);
    assert_string_equal(au_str(first, "id"), ib);
    assert_string_equal(au_str(first, "name"), "Bob Seller");
    assert_string_equal(au_str(first, "role"), "seller");
    assert_int_equal(json_object_size(first), 3); /* id, name, role: nothing private */
    assert_int_equal(json_array_size(json_object_get(res, "missing")), 1);
    assert_string_equal(json_string_value(json_array_get(json_object_get(res, "missing"), 0)), missing);
    json_decref(res);
    au_expect(mh_get(au_url("/api/users/batch"), NULL), 400, "BAD_REQUEST");
    au_expect(mh_get(au_url("/api/users/batch?ids=xyz"), NULL), 400, "BAD_REQUEST");
    char many[101 * 25 + 1] = "";
    for (int i = 0; i < 101; ++i) {
        char id[25];
        mh_oid(id);
        strcat(many, id);
        if (i < 100)
            strcat(many, ",");
    }
    au_expect(mh_get(au_url("/api/users/batch?ids=%s", many), NULL), 400, "BAD_REQUEST");
    json_decref(a);
    json_decref(b);
}

/* --- addresses ------------------------------------------------------------------------------------------------- */

static json_t *address_body(const char *label)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "label", label, "fullName", "Ada Lovelace", "line1", "12 St James's Square",
                     "city", "London", "postalCode", "SW1Y 4JH", "country", "GB");
}

static void addresses(void **state)
{
    (void)state;
    json_t *s = au_register(au_email("addr"), "address owner", "Owner");
    json_t *o = au_register(au_email("addr2"), "another owner", "Other");
    const char *tok = access_of(s);

    json_t *list = get_json(au_url("/api/addresses"), tok, 200);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 0);
    json_decref(list);

    mh_response_t r = au_post("/api/addresses", tok, address_body("Home"));
    assert_int_equal(r.status, 201);
    char home[25], loc[64];
    snprintf(home, sizeof(home), "%s", au_str(r.json, "id"));
    snprintf(loc, sizeof(loc), "/api/addresses/%s", home);
    assert_string_equal(mh_header(&r, "location"), loc);
    assert_true(json_is_true(json_object_get(r.json, "isDefaultShipping"))); /* the first one */
    assert_true(json_is_true(json_object_get(r.json, "isDefaultBilling")));
    assert_true(json_is_null(json_object_get(r.json, "line2")));
    mh_response_free(&r);
    r = au_post("/api/addresses", tok, address_body("Office"));
    assert_int_equal(r.status, 201);
    char office[25];
    snprintf(office, sizeof(office), "%s", au_str(r.json, "id"));
    assert_true(json_is_false(json_object_get(r.json, "isDefaultShipping")));
    mh_response_free(&r);

    /* update */
    mh_request_t req = {.method = "PATCH", .url = au_url("/api/addresses/%s", office), .token = tok,
                        .json = json_pack("{s:s,s:s}", "city", "Cambridge", "line2", "Floor 2")};
    mh_http(&req, &r);
    json_decref((json_t *)req.json);
    assert_int_equal(r.status, 200);
    assert_string_equal(au_str(r.json, "city"), "Cambridge");
    assert_string_equal(au_str(r.json, "line1"), "12 St James's Square");
    mh_response_free(&r);
    const char *bad[] = {"{\"country\":\"gb\"}", "{\"postalCode\":\"-12\"}", "{\"city\":null}", "{}",
                         "{\"isDefaultShipping\":true}", "{\"city\":{\"$ne\":1}}", "{\"userId\":\"64b7f0c2a1b2c3d4e5f60718\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        mh_request_t b = {.method = "PATCH", .url = au_url("/api/addresses/%s", office), .token = tok, .body = bad[i],
                          .content_type = "application/json"};
        mh_http(&b, &r);
        au_expect(r, 400, "BAD_REQUEST");
    }

    /* defaults */
    char path[128];
    snprintf(path, sizeof(path), "/api/addresses/%s/default", office);
    r = au_post(path, tok, json_pack("{s:s}", "type", "shipping"));
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "isDefaultShipping")));
    assert_true(json_is_false(json_object_get(r.json, "isDefaultBilling")));
    mh_response_free(&r);
    json_t *me = get_json(au_url("/api/users/me"), tok, 200);
    assert_string_equal(au_str(me, "defaultShippingAddressId"), office);
    assert_string_equal(au_str(me, "defaultBillingAddressId"), home);
    json_decref(me);
    au_expect(au_post(path, tok, json_pack("{s:s}", "type", "gift")), 400, "BAD_REQUEST");

    /* someone else's address does not exist for them */
    const char *otok = access_of(o);
    au_expect(mh_get(au_url("/api/addresses/%s", home), otok), 404, "NOT_FOUND");
    req = (mh_request_t){.method = "DELETE", .url = au_url("/api/addresses/%s", home), .token = otok};
    mh_http(&req, &r);
    au_expect(r, 404, "NOT_FOUND");
    au_expect(au_post(path, otok, json_pack("{s:s}", "type", "both")), 404, "NOT_FOUND");
    au_expect(mh_get(au_url("/api/addresses"), NULL), 401, "UNAUTHENTICATED");

    /* deleting the shipping default leaves none */
    req = (mh_request_t){.method = "DELETE", .url = au_url("/api/addresses/%s", office), .token = tok};
    mh_http(&req, &r);
    au_expect(r, 204, NULL);
    me = get_json(au_url("/api/users/me"), tok, 200);
    assert_true(json_is_null(json_object_get(me, "defaultShippingAddressId")));
    assert_string_equal(au_str(me, "defaultBillingAddressId"), home);
    json_decref(me);
    list = get_json(au_url("/api/addresses"), tok, 200);
    assert_int_equal(json_array_size(json_object_get(list, "items")), 1);
    json_decref(list);
    json_t *one = get_json(au_url("/api/addresses/%s", home), tok, 200);
    assert_string_equal(au_str(one, "label"), "Home");
    json_decref(one);
    json_decref(s);
    json_decref(o);
}

typedef struct addr_race {
    const char *url, *token;
    long status[25];
} addr_race_t;

static void add_address(int i, void *arg)
{
    addr_race_t *a = arg;
    mh_response_t r = au_post_url(a->url, a->token, address_body("Race"), NULL);
    a->status[i] = r.status;
    mh_response_free(&r);
}

static void address_limit_holds_under_concurrency(void **state)
{
    (void)state;
    json_t *s = au_register(au_email("many"), "many addresses", "Many");
    addr_race_t a = {.url = au_url("/api/addresses"), .token = access_of(s)};
    au_parallel(25, add_address, &a);
    int created = 0, refused = 0;
    for (int i = 0; i < 25; ++i) {
        created += a.status[i] == 201;
        refused += a.status[i] == 409;
    }
    json_t *list = get_json(au_url("/api/addresses"), a.token, 200);
    size_t n = json_array_size(json_object_get(list, "items"));
    json_decref(list);
    assert_int_equal(n, 20);
    assert_int_equal(created, 20);
    assert_int_equal(refused, 5);
    json_decref(s);
}

/* --- the rest ---------------------------------------------------------------------------------------------------- */

static void health_openapi_and_google_off(void **state)
{
    (void)state;
    json_t *h = get_json(au_url("/health"), NULL, 200);
    json_decref(h);
    json_t *doc = get_json(au_url("/openapi.json"), NULL, 200);
    assert_non_null(json_object_get(json_object_get(doc, "paths"), "/api/auth/login"));
    json_decref(doc);
    /* this instance has no GOOGLE_CLIENT_ID */
    au_expect(au_post("/api/auth/google", NULL, json_pack("{s:s}", "idToken", "a.b.c")), 404, "NOT_FOUND");
    /* a deleted account's token: 404 on its own routes */
    char ghost[25];
    mh_oid(ghost);
    char *t = mh_token(ghost, "customer");
    au_expect(mh_get(au_url("/api/users/me"), t), 404, "NOT_FOUND");
    au_expect(au_post("/api/auth/logout-all", t, NULL), 404, "NOT_FOUND");
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_login_me),
        cmocka_unit_test(register_refusals),
        cmocka_unit_test(refresh_rotates_and_reuse_revokes),
        cmocka_unit_test(concurrent_refreshes_of_one_token),
        cmocka_unit_test(logout_and_logout_everywhere),
        cmocka_unit_test(change_password),
        cmocka_unit_test(password_change_survives_concurrent_profile_edits),
        cmocka_unit_test(profile),
        cmocka_unit_test(forged_and_misdirected_tokens),
        cmocka_unit_test(rs256_and_hs256_with_the_public_key),
        cmocka_unit_test(customers_cannot_administer),
        cmocka_unit_test(admin_manages_users),
        cmocka_unit_test(public_profiles_batch),
        cmocka_unit_test(addresses),
        cmocka_unit_test(address_limit_holds_under_concurrency),
        cmocka_unit_test(health_openapi_and_google_off),
    };
    return mh_run_group("auth", tests, setup, teardown);
}
