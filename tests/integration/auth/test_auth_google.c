/*
 * Integration tests of Sign in with Google: ID tokens signed with locally generated RSA
 * keys published as a JWK set (a file for one instance, an HTTP URL for another, whose
 * keys are then rotated), every way a token can be wrong, account creation, linking to an
 * existing account by a Google-verified email (and what that does to an unverified
 * password), and disabled accounts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "auth_util.h"

#define CLIENT "client-a.apps.example"

static char *pub1, *priv1, *pub2, *priv2, *pub_other, *priv_other;
static mh_service_t *url_svc, *jwks_server;
static mh_smtp_t *smtp;
static char *admin;

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* {"keys":[…]} of the given public keys, written to path. */
static void write_jwks(const char *path, const char *pa, const char *kida, const char *pb, const char *kidb)
{
    json_t *keys = json_array();
    json_array_append_new(keys, mh_jwk(pa, kida));
    if (pb != NULL)
        json_array_append_new(keys, mh_jwk(pb, kidb));
    json_t *set = json_pack("{s:o}", "keys", keys);
    char *text = json_dumps(set, 0);
    char tmp[1100];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    write_file(tmp, text);
    rename(tmp, path); /* whole, never half-written */
    free(text);
    json_decref(set);
}

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    if (mh_rsa_keypair(&pub1, &priv1) != 0 || mh_rsa_keypair(&pub2, &priv2) != 0 ||
        mh_rsa_keypair(&pub_other, &priv_other) != 0)
        return -1;
    if ((smtp = mh_smtp_start()) == NULL)
        return -1;
    static char file[1024], e_file[1100], e_smtp[128];
    snprintf(e_smtp, sizeof(e_smtp), "SMTP_URL=%s", mh_smtp_url(smtp));
    snprintf(file, sizeof(file), "%s/google-jwks.json", mh_tmpdir());
    write_jwks(file, pub1, "kid-1", pub2, "kid-2");
    snprintf(e_file, sizeof(e_file), "GOOGLE_JWKS_FILE=%s", file);
    const char *env[] = {e_file, e_smtp, "MAIL_POLL_MS=100", "GOOGLE_CLIENT_ID=other-client," CLIENT, "RATE_LIMIT_GOOGLE_IP=off",
                         "RATE_LIMIT_LOGIN_IP=off", "RATE_LIMIT_REGISTER_IP=off", "RATE_LIMIT_REFRESH_IP=off", NULL};
    auth_svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env});
    admin = mh_token(MH_TEST_USER_ID, "admin");
    return auth_svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int r = 0;
    if (url_svc != NULL && mh_service_stop(url_svc) != 0)
        r = -1;
    if (jwks_server != NULL && mh_service_stop(jwks_server) != 0)
        r = -1;
    if (auth_svc == NULL || mh_service_stop(auth_svc) != 0)
        r = -1;
    mh_smtp_free(smtp);
    free(pub1), free(priv1), free(pub2), free(priv2), free(pub_other), free(priv_other);
    free(admin);
    return r;
}

/* The claims of a good Google ID token for sub/email, issued now. */
static json_t *google_claims(const char *sub, const char *email, bool verified)
{
    int64_t now = (int64_t)time(NULL);
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:I,s:I}", "iss", "https://accounts.google.com", "aud", CLIENT, "sub", sub,
                     "email", email, "email_verified", verified, "name", "Grace Hopper", "iat", (json_int_t)now, "exp",
                     (json_int_t)(now + 3600));
}

static char *sign(const json_t *claims, const char *kid, const char *priv)
{
    return mh_token_sign(json_pack("{s:s,s:s,s:s}", "alg", "RS256", "kid", kid, "typ", "JWT"), claims, priv, strlen(priv));
}

static mh_response_t google(const char *id_token)
{
    return au_post("/api/auth/google", NULL, json_pack("{s:s}", "idToken", id_token));
}

static int64_t user_count(void)
{
    mh_response_t r = mh_get(au_url("/api/users?limit=1"), admin);
    int64_t n = r.status == 200 ? json_integer_value(json_object_get(r.json, "totalCount")) : -1;
    mh_response_free(&r);
    return n;
}

static void new_account_then_same_account(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("grace"));
    json_t *c = google_claims("google-sub-1001", em, true);
    char *t = sign(c, "kid-1", priv1);
    mh_response_t r = google(t);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "isNewUser")));
    json_t *u = json_object_get(r.json, "user");
    assert_string_equal(au_str(u, "email"), em);
    assert_string_equal(au_str(u, "name"), "Grace Hopper");
    assert_true(json_is_true(json_object_get(u, "emailVerified")));
    assert_true(json_is_true(json_object_get(u, "googleLinked")));
    assert_true(json_is_false(json_object_get(u, "hasPassword")));
    char id[25];
    snprintf(id, sizeof(id), "%s", au_str(u, "id"));
    /* a usable session */
    mh_response_t m = mh_get(au_url("/api/users/me"), au_str(r.json, "accessToken"));
    assert_int_equal(m.status, 200);
    mh_response_free(&m);
    mh_response_free(&r);
    free(t);

    /* the second key signs as well; same subject, same account */
    t = sign(c, "kid-2", priv2);
    r = google(t);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "isNewUser")));
    assert_string_equal(au_str(json_object_get(r.json, "user"), "id"), id);
    mh_response_free(&r);
    free(t);
    /* no password to log in with, no password to change */
    au_expect(au_login(em, "anything at all"), 401, "UNAUTHENTICATED");
    json_decref(c);
}

static void bad_id_tokens_change_nothing(void **state)
{
    (void)state;
    int64_t before = user_count();
    assert_true(before >= 0);
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("evil"));
    int64_t now = (int64_t)time(NULL);
    json_t *c = google_claims("google-sub-evil", em, true);
    char *t;

    t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "none", "kid", "kid-1"), c, NULL, 0);
    au_expect(google(t), 401, "UNAUTHENTICATED");
    free(t);
    t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "HS256", "kid", "kid-1"), c, pub1, strlen(pub1));
    au_expect(google(t), 401, "UNAUTHENTICATED");
    free(t);
    t = sign(c, "kid-1", priv_other); /* someone else's key under Google's kid */
    au_expect(google(t), 401, "UNAUTHENTICATED");
    free(t);
    t = sign(c, "kid-unknown", priv1);
    au_expect(google(t), 401, "UNAUTHENTICATED");
    free(t);
    t = mh_token_sign(json_pack("{s:s}", "alg", "RS256"), c, priv1, strlen(priv1)); /* no kid */
    au_expect(google(t), 401, "UNAUTHENTICATED");
    free(t);

    struct {
        const char *key;
        json_t *value;
    } bad[] = {
        {"iss", json_string("https://accounts.evil.example")},
        {"aud", json_string("someone-elses-client")},
        {"exp", json_integer(now - 3600)},
        {"iat", json_integer(now + 3600)},
        {"nbf", json_integer(now + 3600)},
        {"sub", json_integer(42)},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        json_t *cc = json_deep_copy(c);
        json_object_set_new(cc, bad[i].key, bad[i].value);
        t = sign(cc, "kid-1", priv1);
        mh_response_t r = google(t);
        if (r.status != 401)
            fail_msg("claim %s: expected 401, got %ld %s", bad[i].key, r.status, r.body);
        mh_response_free(&r);
        free(t);
        json_decref(cc);
    }
    /* tampered: the payload changed after signing */
    t = sign(c, "kid-1", priv1);
    json_t *victim = json_deep_copy(c);
    json_object_set_new(victim, "email", json_string("victim@example.com"));
    char *other = sign(victim, "kid-1", priv_other);
    const char *s1 = strchr(strchr(t, '.') + 1, '.'), *s2 = strchr(strchr(other, '.') + 1, '.');
    char tampered[8192];
    snprintf(tampered, sizeof(tampered), "%.*s%s", (int)(s2 - other), other, s1);
    au_expect(google(tampered), 401, "UNAUTHENTICATED");
    free(other);
    free(t);
    json_decref(victim);
    /* garbage */
    au_expect(google("not.a.token"), 401, "UNAUTHENTICATED");
    au_expect(au_post("/api/auth/google", NULL, json_pack("{s:{s:n}}", "idToken", "$ne")), 400, "BAD_REQUEST");
    /* Google did not verify the address: no account from it */
    json_object_set_new(c, "email_verified", json_false());
    t = sign(c, "kid-1", priv1);
    au_expect(google(t), 403, "FORBIDDEN");
    free(t);
    json_decref(c);
    assert_int_equal(user_count(), before);
}

static void links_to_existing_accounts(void **state)
{
    (void)state;
    /* someone registered this address with a password but never proved they own it */
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("squat"));
    json_t *squatter = au_register(em, "squatter password", "Squatter");
    json_t *c = google_claims("google-sub-owner", em, true);
    char *t = sign(c, "kid-1", priv1);
    mh_response_t r = google(t);
    assert_int_equal(r.status, 200);
    assert_true(json_is_false(json_object_get(r.json, "isNewUser")));
    json_t *u = json_object_get(r.json, "user");
    assert_string_equal(au_str(u, "id"), au_str(json_object_get(squatter, "user"), "id"));
    assert_true(json_is_true(json_object_get(u, "emailVerified")));
    assert_true(json_is_false(json_object_get(u, "hasPassword"))); /* the unproven password is gone */
    mh_response_free(&r);
    free(t);
    au_expect(au_login(em, "squatter password"), 401, "UNAUTHENTICATED");
    au_expect(au_refresh(au_str(squatter, "refreshToken")), 401, "UNAUTHENTICATED");
    json_decref(c);
    json_decref(squatter);

    /* a verified account keeps its password and gains Google */
    char em2[128], token[44];
    snprintf(em2, sizeof(em2), "%s", au_email("owner"));
    json_t *owner = au_register(em2, "owner password", "Owner");
    json_t *m = mh_smtp_wait(smtp, em2, "Confirm your email address", 20000);
    assert_non_null(m);
    assert_true(mh_smtp_token(m, token));
    json_decref(m);
    au_expect(au_post("/api/auth/verify-email", NULL, json_pack("{s:s}", "token", token)), 200, NULL);
    c = google_claims("google-sub-owner-2", em2, true);
    t = sign(c, "kid-2", priv2);
    r = google(t);
    assert_int_equal(r.status, 200);
    assert_string_equal(au_str(json_object_get(r.json, "user"), "id"), au_str(json_object_get(owner, "user"), "id"));
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "user"), "hasPassword")));
    assert_true(json_is_true(json_object_get(json_object_get(r.json, "user"), "googleLinked")));
    mh_response_free(&r);
    free(t);
    json_decref(c);
    json_t *l = au_login_ok(em2, "owner password");
    json_decref(l);
    /* its sessions survived the linking */
    r = au_refresh(au_str(owner, "refreshToken"));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    json_decref(owner);

    /* a disabled account cannot sign in with Google either */
    char em3[128];
    snprintf(em3, sizeof(em3), "%s", au_email("off"));
    c = google_claims("google-sub-disabled", em3, true);
    t = sign(c, "kid-1", priv1);
    r = google(t);
    assert_int_equal(r.status, 200);
    char path[128];
    snprintf(path, sizeof(path), "/api/users/%s/disable", au_str(json_object_get(r.json, "user"), "id"));
    mh_response_free(&r);
    au_expect(au_post(path, admin, NULL), 200, NULL);
    au_expect(google(t), 403, "FORBIDDEN");
    free(t);
    json_decref(c);
}

static bool signs_in_with_key3(void *arg)
{
    mh_response_t r = google((const char *)arg);
    bool ok = r.status == 200;
    mh_response_free(&r);
    return ok;
}

static void jwks_from_a_url_and_key_rotation(void **state)
{
    (void)state;
    /* the key set over HTTP (jwks_server.py serves the file as it is at each request) */
    char path[1100];
    snprintf(path, sizeof(path), "%s/certs.json", mh_tmpdir());
    write_jwks(path, pub1, "kid-1", NULL, NULL);
    const char *args[] = {MC_TEST_DIR "/jwks_server.py", path, NULL};
    jwks_server = mh_service_start("/usr/bin/python3", &(mh_service_opts_t){.args = args, .valgrind = -1});
    assert_non_null(jwks_server);
    static char e_url[256];
    snprintf(e_url, sizeof(e_url), "GOOGLE_JWKS_URL=%s/certs", mh_service_url(jwks_server));
    const char *env[] = {e_url, "GOOGLE_CLIENT_ID=" CLIENT, "GOOGLE_JWKS_REFRESH_SECONDS=10", "RATE_LIMIT_GOOGLE_IP=off", NULL};
    url_svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env});
    assert_non_null(url_svc);
    mh_service_t *saved = auth_svc;
    auth_svc = url_svc;

    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("rotate"));
    json_t *c = google_claims("google-sub-rotate", em, true);
    char *t1 = sign(c, "kid-1", priv1), *t3 = sign(c, "kid-3", priv_other);
    mh_response_t r = google(t1);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    au_expect(google(t3), 401, "UNAUTHENTICATED"); /* not published yet */

    /* Google rotates: kid-3 appears, kid-1 goes. The service picks it up on its refresh. */
    write_jwks(path, pub_other, "kid-3", NULL, NULL);
    assert_true(mh_wait_until(signs_in_with_key3, t3, 30000));
    au_expect(google(t1), 401, "UNAUTHENTICATED");
    free(t1);
    free(t3);
    json_decref(c);
    auth_svc = saved;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(new_account_then_same_account),
        cmocka_unit_test(bad_id_tokens_change_nothing),
        cmocka_unit_test(links_to_existing_accounts),
        cmocka_unit_test(jwks_from_a_url_and_key_rotation),
    };
    return mh_run_group("auth_google", tests, setup, teardown);
}
