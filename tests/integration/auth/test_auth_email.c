/*
 * Integration tests of the auth service's email flows against a real SMTP server
 * (aiosmtpd): every token comes from a received message, never from an API response.
 * Verification, welcome, forgotten password and reset (single use, expiry, superseded
 * tokens, concurrent use), no enumeration, delivery while the SMTP server is down or
 * refusing, and two auth processes sharing one outbox without sending anything twice.
 */
#include <mongoc/mongoc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth_util.h"

#define MAIL_WAIT_MS 20000

static mh_smtp_t *smtp;
static mh_service_t *second;  /* another auth process on the same database and SMTP server */
static mh_service_t *short_ttl; /* reset tokens live one second */
static char e_smtp[128];

static const char *const base_env[] = {"RATE_LIMIT_LOGIN_IP=off", "RATE_LIMIT_REGISTER_IP=off",
                                       "RATE_LIMIT_FORGOT_IP=off", "RATE_LIMIT_FORGOT_EMAIL=off",
                                       "RATE_LIMIT_VERIFY_USER=off", "RATE_LIMIT_TOKEN_IP=off",
                                       "MAIL_POLL_MS=100", "MAIL_RETRY_BASE_MS=100", "MAIL_RETRY_MAX_MS=400",
                                       "APP_URL=https://shop.example", "LOGIN_FREE_ATTEMPTS=1000", NULL};

static mh_service_t *start_auth(const char *extra)
{
    static char db[128];
    snprintf(db, sizeof(db), "MONGODB_DB=%s", mh_mongo_db("mercato-auth"));
    const char *env[16];
    size_t n = 0;
    for (const char *const *e = base_env; *e != NULL; ++e)
        env[n++] = *e;
    env[n++] = e_smtp;
    env[n++] = db; /* every instance shares the one database */
    if (extra != NULL)
        env[n++] = extra;
    env[n] = NULL;
    return mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env});
}

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0 || (smtp = mh_smtp_start()) == NULL)
        return -1;
    snprintf(e_smtp, sizeof(e_smtp), "SMTP_URL=%s", mh_smtp_url(smtp));
    auth_svc = start_auth(NULL);
    return auth_svc != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int r = 0;
    if (second != NULL && mh_service_stop(second) != 0)
        r = -1;
    if (short_ttl != NULL && mh_service_stop(short_ttl) != 0)
        r = -1;
    if (auth_svc == NULL || mh_service_stop(auth_svc) != 0)
        r = -1;
    mh_smtp_free(smtp);
    return r;
}

/* Waits for a message and takes its token. */
static json_t *wait_mail(const char *to, const char *subject, char *token)
{
    json_t *m = mh_smtp_wait(smtp, to, subject, MAIL_WAIT_MS);
    if (m == NULL)
        fail_msg("no message '%s' to %s arrived", subject, to);
    if (token != NULL && !mh_smtp_token(m, token))
        fail_msg("the message '%s' to %s holds no token: %s", subject, to, au_str(m, "text"));
    return m;
}

/* --- verification ------------------------------------------------------------------------------ */

static void verify_email_from_the_message(void **state)
{
    (void)state;
    const char *email = au_email("verify");
    char em[128];
    snprintf(em, sizeof(em), "%s", email);
    json_t *s = au_register(em, "verify my address", "Vera");
    char token[44];
    json_t *m = wait_mail(em, "Confirm your email address", token);
    /* a well-formed message: link under APP_URL, our headers */
    assert_non_null(strstr(au_str(m, "text"), "https://shop.example/verify-email?token="));
    assert_non_null(strstr(au_str(m, "text"), "Hello Vera,"));
    json_t *hdrs = json_object_get(m, "headers");
    assert_non_null(au_str(hdrs, "Message-ID"));
    assert_string_equal(au_str(hdrs, "Auto-Submitted"), "auto-generated");
    assert_string_equal(au_str(m, "from"), "no-reply@mercato.invalid");
    json_decref(m);
    /* the token is nowhere in the API's answer */
    char *dump = json_dumps(s, 0);
    assert_null(strstr(dump, token));
    free(dump);

    mh_response_t r = au_post("/api/auth/validate-token", NULL, json_pack("{s:s,s:s}", "token", token, "type", "verify"));
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "valid")));
    mh_response_free(&r);
    r = au_post("/api/auth/validate-token", NULL, json_pack("{s:s,s:s}", "token", token, "type", "reset"));
    assert_true(json_is_false(json_object_get(r.json, "valid"))); /* a verification token is no reset token */
    mh_response_free(&r);
    au_expect(au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", token, "password", "stolen password")),
              401, "UNAUTHENTICATED");

    r = au_post("/api/auth/verify-email", NULL, json_pack("{s:s}", "token", token));
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.json, "emailVerified")));
    mh_response_free(&r);
    /* single use */
    au_expect(au_post("/api/auth/verify-email", NULL, json_pack("{s:s}", "token", token)), 409, "CONFLICT");
    r = au_post("/api/auth/validate-token", NULL, json_pack("{s:s,s:s}", "token", token, "type", "verify"));
    assert_string_equal(au_str(r.json, "reason"), "used");
    mh_response_free(&r);
    m = wait_mail(em, "Welcome to Mercato", NULL);
    json_decref(m);
    /* already verified: nothing more to send */
    au_expect(au_post("/api/auth/verify-email/send", au_str(s, "accessToken"), NULL), 409, "CONFLICT");
    au_expect(au_post("/api/auth/verify-email", NULL, json_pack("{s:s}", "token", "CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC")),
              401, "UNAUTHENTICATED");
    json_decref(s);
}

static void resend_verification(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("resend"));
    json_t *s = au_register(em, "resend it please", "Res");
    char first[44], second_tok[44];
    json_t *m = wait_mail(em, "Confirm your email address", first);
    json_decref(m);
    au_expect(au_post("/api/auth/verify-email/send", NULL, NULL), 401, "UNAUTHENTICATED");
    mh_response_t r = au_post("/api/auth/verify-email/send", au_str(s, "accessToken"), NULL);
    assert_int_equal(r.status, 202);
    mh_response_free(&r);
    m = wait_mail(em, "Confirm your email address", second_tok);
    json_decref(m);
    assert_string_not_equal(first, second_tok);
    r = au_post("/api/auth/verify-email", NULL, json_pack("{s:s}", "token", second_tok));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    json_decref(s);
}

/* --- forgotten password ------------------------------------------------------------------------------ */

static void forgot_and_reset(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("forgot"));
    json_t *s = au_register(em, "the old password", "Fergus");
    json_t *other = au_login_ok(em, "the old password");
    json_t *m = wait_mail(em, "Confirm your email address", NULL);
    json_decref(m);

    /* the same answer for a registered and an unknown address */
    const char *ghost = au_email("ghost");
    char gh[128];
    snprintf(gh, sizeof(gh), "%s", ghost);
    mh_response_t known = au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em));
    mh_response_t unknown = au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", gh));
    assert_int_equal(known.status, 202);
    assert_int_equal(unknown.status, 202);
    assert_string_equal(known.body, unknown.body);
    mh_response_free(&known);
    mh_response_free(&unknown);

    char token[44];
    m = wait_mail(em, "Reset your Mercato password", token);
    assert_non_null(strstr(au_str(m, "text"), "https://shop.example/reset-password?token="));
    json_decref(m);

    mh_response_t r = au_post("/api/auth/validate-token", NULL, json_pack("{s:s,s:s}", "token", token, "type", "reset"));
    assert_true(json_is_true(json_object_get(r.json, "valid")));
    mh_response_free(&r);
    au_expect(au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", token, "password", "short")), 400,
              "BAD_REQUEST");
    au_expect(au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", token, "password", "the new password")),
              204, NULL);
    /* used twice */
    au_expect(au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", token, "password", "a third password")),
              409, "CONFLICT");
    au_expect(au_login(em, "the old password"), 401, "UNAUTHENTICATED");
    au_expect(au_login(em, "a third password"), 401, "UNAUTHENTICATED");
    json_t *l = au_login_ok(em, "the new password");
    /* the reset proved the address */
    assert_true(json_is_true(json_object_get(json_object_get(l, "user"), "emailVerified")));
    json_decref(l);
    /* every earlier session ended */
    au_expect(au_refresh(au_str(s, "refreshToken")), 401, "UNAUTHENTICATED");
    au_expect(au_refresh(au_str(other, "refreshToken")), 401, "UNAUTHENTICATED");
    m = wait_mail(em, "Your Mercato password was changed", NULL);
    json_decref(m);

    /* the unknown address never got anything: one more message to it would have arrived by
     * now, since the known one's reset arrived after it was asked */
    assert_int_equal(mh_smtp_count(smtp, gh, NULL), 0);
    json_decref(s);
    json_decref(other);
}

static void reset_token_superseded_by_another_reset(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("twice"));
    json_t *s = au_register(em, "password number one", "Twice");
    au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em)), 202, NULL);
    char t1[44], t2[44];
    json_t *m = wait_mail(em, "Reset your Mercato password", t1);
    json_decref(m);
    au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em)), 202, NULL);
    m = wait_mail(em, "Reset your Mercato password", t2);
    json_decref(m);
    au_expect(au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", t2, "password", "password number two")),
              204, NULL);
    mh_response_t r = au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", t1, "password", "password three"));
    assert_int_equal(r.status, 401);
    assert_string_equal(au_str(json_object_get(json_object_get(r.json, "error"), "details"), "reason"), "superseded");
    mh_response_free(&r);
    json_t *l = au_login_ok(em, "password number two");
    json_decref(l);
    json_decref(s);
}

static bool token_expired(void *arg)
{
    mh_response_t r = au_post("/api/auth/validate-token", NULL, json_pack("{s:s,s:s}", "token", (const char *)arg, "type", "reset"));
    bool expired = r.status == 200 && au_str(r.json, "reason") != NULL && strcmp(au_str(r.json, "reason"), "expired") == 0;
    mh_response_free(&r);
    return expired;
}

static void reset_token_expires(void **state)
{
    (void)state;
    short_ttl = start_auth("RESET_TOKEN_TTL_SECONDS=1");
    assert_non_null(short_ttl);
    mh_service_t *saved = auth_svc;
    auth_svc = short_ttl;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("expire"));
    json_t *s = au_register(em, "expiring password", "Exp");
    au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em)), 202, NULL);
    char token[44];
    json_t *m = wait_mail(em, "Reset your Mercato password", token);
    assert_non_null(strstr(au_str(m, "text"), "1 second"));
    json_decref(m);
    assert_true(mh_wait_until(token_expired, token, 10000));
    mh_response_t r = au_post("/api/auth/reset-password", NULL, json_pack("{s:s,s:s}", "token", token, "password", "too late now"));
    assert_int_equal(r.status, 401);
    assert_string_equal(au_str(json_object_get(json_object_get(r.json, "error"), "details"), "reason"), "expired");
    mh_response_free(&r);
    json_t *l = au_login_ok(em, "expiring password"); /* unchanged */
    json_decref(l);
    json_decref(s);
    auth_svc = saved;
    /* it would deliver mail too: the delivery tests below watch one process at a time */
    int st = mh_service_stop(short_ttl);
    short_ttl = NULL;
    assert_int_equal(st, 0);
}

typedef struct reset_race {
    const char *url;
    char token[44];
    long status[6];
} reset_race_t;

static void reset_once(int i, void *arg)
{
    reset_race_t *r = arg;
    char pw[32];
    snprintf(pw, sizeof(pw), "racing password %d", i);
    mh_response_t res = au_post_url(r->url, NULL, json_pack("{s:s,s:s}", "token", r->token, "password", pw), NULL);
    r->status[i] = res.status;
    mh_response_free(&res);
}

static void reset_token_used_concurrently(void **state)
{
    (void)state;
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("race"));
    json_t *s = au_register(em, "before the race", "Racer");
    au_expect(au_post("/api/auth/forgot-password", NULL, json_pack("{s:s}", "email", em)), 202, NULL);
    reset_race_t race = {.url = au_url("/api/auth/reset-password")};
    json_t *m = wait_mail(em, "Reset your Mercato password", race.token);
    json_decref(m);
    au_parallel(6, reset_once, &race);
    int winner = -1, ok = 0, conflicts = 0;
    for (int i = 0; i < 6; ++i) {
        if (race.status[i] == 204) {
            ++ok;
            winner = i;
        }
        conflicts += race.status[i] == 409;
    }
    assert_int_equal(ok, 1);
    assert_int_equal(conflicts, 5);
    for (int i = 0; i < 6; ++i) {
        char pw[32];
        snprintf(pw, sizeof(pw), "racing password %d", i);
        mh_response_t r = au_login(em, pw);
        assert_int_equal(r.status, i == winner ? 200 : 401);
        mh_response_free(&r);
    }
    json_decref(s);
}

/* --- delivery ------------------------------------------------------------------------------------------------ */

static bool log_says(void *arg)
{
    FILE *f = fopen(mh_service_log(auth_svc), "r");
    char line[4096];
    bool found = false;
    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, (const char *)arg) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

static void delivered_after_the_smtp_server_comes_back(void **state)
{
    (void)state;
    assert_int_equal(mh_smtp_stop(smtp), 0);
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("later"));
    json_t *s = au_register(em, "mail comes later", "Later");
    /* failed attempts happen meanwhile (retries every 100-400 ms) */
    assert_true(mh_wait_until(log_says, "attempt 2 failed", MAIL_WAIT_MS));
    assert_int_equal(mh_smtp_restart(smtp), 0);
    char token[44];
    json_t *m = wait_mail(em, "Confirm your email address", token);
    json_decref(m);
    /* and exactly once */
    assert_int_equal(mh_smtp_count(smtp, em, "Confirm your email address"), 1);
    mh_response_t r = au_post("/api/auth/verify-email", NULL, json_pack("{s:s}", "token", token));
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    json_decref(s);
}

static bool outbox_settled(void *arg);

static void temporary_refusal_is_retried(void **state)
{
    (void)state;
    assert_int_equal(mh_smtp_refuse(smtp, 451), 0);
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("greylist"));
    json_t *s = au_register(em, "greylisted user", "Grey");
    assert_true(mh_wait_until(log_says, "(SMTP 451)", MAIL_WAIT_MS));
    assert_int_equal(mh_smtp_count(smtp, em, NULL), 0);
    assert_int_equal(mh_smtp_refuse(smtp, 0), 0);
    json_t *m = wait_mail(em, "Confirm your email address", NULL);
    json_decref(m);
    /* nothing is left waiting for the next test */
    assert_true(mh_wait_until(outbox_settled, NULL, MAIL_WAIT_MS));
    json_decref(s);
}

/* The outbox documents' statuses by id, read directly (what the service recorded). */
static json_t *outbox_statuses(void)
{
    mongoc_client_t *c = mongoc_client_new(mh_mongo_uri());
    mongoc_collection_t *col = mongoc_client_get_collection(c, mh_mongo_db("mercato-auth"), "outbox");
    bson_t filter = BSON_INITIALIZER;
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, &filter, NULL, NULL);
    const bson_t *doc;
    json_t *out = json_object();
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        char id[25];
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
            bson_oid_to_string(bson_iter_oid(&it), id);
        else
            continue;
        if (bson_iter_init_find(&it, doc, "status") && BSON_ITER_HOLDS_UTF8(&it))
            json_object_set_new(out, id, json_string(bson_iter_utf8(&it, NULL)));
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(&filter);
    mongoc_collection_destroy(col);
    mongoc_client_destroy(c);
    return out;
}

/* True when no settled message still holds its text (the token of its link). */
static bool settled_texts_erased(void)
{
    mongoc_client_t *c = mongoc_client_new(mh_mongo_uri());
    mongoc_collection_t *col = mongoc_client_get_collection(c, mh_mongo_db("mercato-auth"), "outbox");
    bson_t *filter = BCON_NEW("status", "{", "$ne", BCON_UTF8("pending"), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, filter, NULL, NULL);
    const bson_t *doc;
    bool erased = true;
    size_t n = 0;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        ++n;
        if (bson_iter_init_find(&it, doc, "text") && BSON_ITER_HOLDS_UTF8(&it))
            erased = false;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(col);
    mongoc_client_destroy(c);
    return erased && n > 0;
}

static bool outbox_settled(void *arg)
{
    (void)arg;
    json_t *st = outbox_statuses();
    const char *k;
    json_t *v;
    bool settled = true;
    json_object_foreach(st, k, v)
    {
        if (strcmp(json_string_value(v), "pending") == 0)
            settled = false;
    }
    json_decref(st);
    return settled;
}

/* The statuses of the messages to `to`, e.g. "failed" or "sent,sent". */
static void statuses_of(const char *to, char *out, size_t outlen)
{
    mongoc_client_t *c = mongoc_client_new(mh_mongo_uri());
    mongoc_collection_t *col = mongoc_client_get_collection(c, mh_mongo_db("mercato-auth"), "outbox");
    bson_t *filter = BCON_NEW("to", BCON_UTF8(to));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(col, filter, NULL, NULL);
    const bson_t *doc;
    out[0] = '\0';
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "status") && BSON_ITER_HOLDS_UTF8(&it))
            snprintf(out + strlen(out), outlen - strlen(out), "%s%s", out[0] ? "," : "", bson_iter_utf8(&it, NULL));
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(col);
    mongoc_client_destroy(c);
}

static void permanent_refusal_is_not_retried(void **state)
{
    (void)state;
    assert_true(mh_wait_until(outbox_settled, NULL, MAIL_WAIT_MS));
    assert_int_equal(mh_smtp_refuse(smtp, 550), 0);
    char em[128];
    snprintf(em, sizeof(em), "%s", au_email("bounce"));
    json_t *s = au_register(em, "bounced address", "Bounce");
    assert_true(mh_wait_until(outbox_settled, NULL, MAIL_WAIT_MS));
    assert_int_equal(mh_smtp_refuse(smtp, 0), 0);
    char st[256];
    statuses_of(em, st, sizeof(st));
    assert_string_equal(st, "failed"); /* refused once, for good: not retried */
    assert_int_equal(mh_smtp_count(smtp, em, NULL), 0);
    json_decref(s);
}

static bool both_retrying(void *arg)
{
    (void)arg;
    mh_service_t *saved = auth_svc;
    bool a = log_says("failed");
    auth_svc = second;
    bool b = log_says("failed");
    auth_svc = saved;
    return a && b;
}

static size_t log_count(mh_service_t *s, const char *needle)
{
    FILE *f = fopen(mh_service_log(s), "r");
    char line[4096];
    size_t n = 0;
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        n += strstr(line, needle) != NULL;
    if (f != NULL)
        fclose(f);
    return n;
}

static void two_processes_never_send_twice(void **state)
{
    (void)state;
    second = start_auth("WORKERS=2"); /* requests on worker 1 wake the delivery on worker 0 */
    assert_non_null(second);
    /* While the SMTP server is down, messages pile up in the one outbox and both processes
     * keep retrying them; when it comes back, both race for the same messages. */
    assert_int_equal(mh_smtp_stop(smtp), 0);
    enum { N = 24 };
    char emails[N][128];
    for (int i = 0; i < N; ++i) {
        snprintf(emails[i], sizeof(emails[i]), "%s", au_email("pair"));
        mh_service_t *saved = auth_svc;
        if (i % 2)
            auth_svc = second;
        json_t *s = au_register(emails[i], "two processes", "Pair");
        json_decref(s);
        auth_svc = saved;
    }
    assert_true(mh_wait_until(both_retrying, NULL, MAIL_WAIT_MS));
    size_t before = log_count(second, "delivered");
    assert_int_equal(mh_smtp_restart(smtp), 0);
    for (int i = 0; i < N; ++i) {
        json_t *m = wait_mail(emails[i], "Confirm your email address", NULL);
        json_decref(m);
    }
    assert_true(mh_wait_until(outbox_settled, NULL, MAIL_WAIT_MS));
    for (int i = 0; i < N; ++i)
        assert_int_equal(mh_smtp_count(smtp, emails[i], NULL), 1);
    /* Message-IDs are unique across everything received */
    json_t *all = mh_smtp_messages(smtp);
    size_t n = json_array_size(all);
    for (size_t i = 0; i < n; ++i)
        for (size_t j = i + 1; j < n; ++j)
            assert_string_not_equal(au_str(json_array_get(all, i), "messageId"), au_str(json_array_get(all, j), "messageId"));
    json_decref(all);
    /* delivered messages no longer hold their tokens */
    assert_true(settled_texts_erased());
    /* the work was really shared: both processes delivered some of them */
    assert_true(log_count(second, "delivered") > before);
    assert_true(log_count(auth_svc, "delivered") > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(verify_email_from_the_message),
        cmocka_unit_test(resend_verification),
        cmocka_unit_test(forgot_and_reset),
        cmocka_unit_test(reset_token_superseded_by_another_reset),
        cmocka_unit_test(reset_token_expires),
        cmocka_unit_test(reset_token_used_concurrently),
        cmocka_unit_test(delivered_after_the_smtp_server_comes_back),
        cmocka_unit_test(temporary_refusal_is_retried),
        cmocka_unit_test(permanent_refusal_is_not_retried),
        cmocka_unit_test(two_processes_never_send_twice),
    };
    return mh_run_group("auth_email", tests, setup, teardown);
}
