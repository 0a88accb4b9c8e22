/*
 * The user's own account: profile, password change, email verification, and the
 * forgotten-password flow.
 *
 * Verification and reset tokens are single-use: spending one inserts its hash into
 * action_used, a unique key, so of two concurrent uses exactly one succeeds. A reset token
 * also carries the user's epoch when it was issued: once the password changed (by any
 * means, this reset included) every other outstanding reset token is dead.
 *
 * Refusals:
 *   400 malformed input
 *   401 no valid access token; a verification or reset token that is unknown, expired or
 *       superseded
 *   403 the current password is wrong (password change), or the account has none
 *   404 the account of the access token no longer exists
 *   409 a token already used; the email is already verified; a concurrent change
 *   429 rate limited
 *   503 the database is unreachable, or password hashing is saturated
 */
#include <string.h>
#include "config.h"
#include "hashgate.h"
#include "mailer.h"
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "ratelimit.h"
#include "routes.h"
#include "rules.h"
#include "service.h"
#include "session.h"
#include "store.h"
#include "tokens.h"

typedef struct acct_ctx {
    auth_outcome_t o;
    char uid[25];
    json_t *user;     /* as read before hashing */
    json_t *action;   /* the verification/reset token's document */
    json_t *fields;   /* profile changes */
    const char *token, *kind, *ip, *ua;
    char email_lower[AUTH_EMAIL_MAX + 1];
    char token_hash[AUTH_TOKEN_HASH_HEX];
    auth_hash_job_t hash;
    const char *backoff_key;
} acct_ctx_t;

static void acct_free(void *p)
{
    acct_ctx_t *c = p;
    json_decref(c->user);
    json_decref(c->action);
    json_decref(c->fields);
}

static acct_ctx_t *acct_new(mc_req_t *req)
{
    acct_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    mc_req_on_free(req, acct_free, c);
    mc_req_set_data(req, c);
    return c;
}

static void acct_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    acct_ctx_t *c = arg;
    if (c->o.err == MC_ERR_UNAUTHENTICATED)
        mc_req_add_header(req, "www-authenticate", "Bearer");
    auth_answer(req, res, &c->o);
}

/* Reads the caller's account into c->user; false (o or res set) when it is gone. */
static bool load_self(mongoc_database_t *db, acct_ctx_t *c, mc_mongo_result_t *res)
{
    bson_error_t err;
    c->user = auth_user_get(db, c->uid, &err);
    if (c->user != NULL)
        return true;
    if (err.code != 0)
        mc_mongo_fail(mc_mongo_current(), res, &err);
    else
        auth_fail(&c->o, MC_ERR_NOT_FOUND, "the account of this token no longer exists");
    return false;
}

/* --- profile ------------------------------------------------------------------------------------- */

static void me_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    if (load_self(db, c, res)) {
        c->o.status = 200;
        c->o.body = auth_user_view(c->user);
    }
}

void auth_h_me(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    acct_ctx_t *c = acct_new(req);
    memcpy(c->uid, mc_req_claims(req, NULL)->sub, 25);
    auth_submit(req, me_work, acct_done, c);
}

static json_t *profile_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    (void)user;
    (void)o;
    return json_incref(((acct_ctx_t *)arg)->fields);
}

static void me_update_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    json_t *u = auth_user_update_locked(db, c->uid, profile_mutate, c, &c->o, res);
    if (u != NULL) {
        c->o.status = 200;
        c->o.body = auth_user_view(u);
        json_decref(u);
    } else if (c->o.err == MC_ERR_NOT_FOUND) {
        auth_fail(&c->o, MC_ERR_NOT_FOUND, "the account of this token no longer exists");
    }
}

void auth_h_me_update(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    if (mc_valid_has(&v, "email"))
        mc_valid_error(&v, "email", "cannot be changed");
    if (mc_valid_has(&v, "role"))
        mc_valid_error(&v, "role", "is changed by an administrator");
    if (mc_valid_has(&v, "password"))
        mc_valid_error(&v, "password", "is changed with POST /api/auth/change-password");
    static const char *const known[] = {"name", "phone", "email", "role", "password", NULL};
    mc_valid_only(&v, known);
    acct_ctx_t *c = acct_new(req);
    c->fields = json_object();
    const char *name = auth_valid_name(&v, "name", 0);
    if (name != NULL)
        json_object_set_new(c->fields, "name", json_string(name));
    const char *phone = auth_valid_phone(&v, "phone", MC_V_NULLABLE);
    if (phone != NULL || mc_valid_is_null(&v, "phone"))
        json_object_set_new(c->fields, "phone", phone != NULL ? json_string(phone) : json_null());
    if (mc_valid_ok(&v) && json_object_size(c->fields) == 0)
        mc_valid_error(&v, "body", "names no field to change (name, phone)");
    if (mc_valid_fail(&v))
        return;
    memcpy(c->uid, mc_req_claims(req, NULL)->sub, 25);
    auth_submit(req, me_update_work, acct_done, c);
}

/* --- password change -------------------------------------------------------------------------------- */

static json_t *password_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    acct_ctx_t *c = arg;
    const char *now_phc = json_string_value(json_object_get(user, "passwordHash"));
    const char *was = json_string_value(json_object_get(c->user, "passwordHash"));
    if (now_phc == NULL || was == NULL || strcmp(now_phc, was) != 0) {
        auth_fail(o, MC_ERR_CONFLICT, "the password was changed by another request meanwhile; retry");
        return NULL;
    }
    /* A new epoch ends every session of the account, this one included. */
    return json_pack("{s:s,s:I}", "passwordHash", c->hash.new_phc, "epoch", (json_int_t)(auth_user_epoch(user) + 1));
}

static void change_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    bson_error_t err;
    json_t *u = auth_user_update_locked(db, c->uid, password_mutate, c, &c->o, res);
    if (u == NULL)
        return;
    int64_t now = mc_now_ms();
    if (auth_mail_enqueue(db, AUTH_MAIL_PASSWORD_CHANGED, json_string_value(json_object_get(u, "email")),
                          json_string_value(json_object_get(u, "name")), NULL, 0, now, 0, &err) == 0)
        c->o.kick_mail = true;
    /* A fresh session for the device that made the change. */
    auth_tokens_t t;
    if (auth_session_start(db, auth_jwt(), u, c->ip, c->ua, &t, &err) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
    } else {
        c->o.status = 200;
        c->o.body = auth_tokens_json(&t, auth_user_view(u));
    }
    json_decref(u);
}

static void change_hashed(mc_req_t *req, auth_hash_job_t *job)
{
    acct_ctx_t *c = mc_req_data(req);
    if (job->verified != 1) {
        mc_respond_error(req, MC_ERR_FORBIDDEN,
                         json_pack("[{s:s,s:s}]", "field", "currentPassword", "message", "is not the current password"),
                         "the current password is wrong");
        return;
    }
    if (!job->have_new) {
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "hashing the password failed");
        return;
    }
    auth_rl_forget(req, c->backoff_key);
    auth_submit(req, change_work, acct_done, c);
}

static void change_loaded(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    acct_ctx_t *c = arg;
    if (res->err != MC_OK || c->o.err != MC_OK) {
        auth_answer(req, res, &c->o);
        return;
    }
    c->hash.phc = json_string_value(json_object_get(c->user, "passwordHash"));
    if (c->hash.phc == NULL) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL,
                         "this account has no password yet (Google sign-in); set one with POST /api/auth/forgot-password");
        return;
    }
    c->hash.verify = true;
    auth_hash_run(req, &c->hash, change_hashed);
}

static void load_self_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    load_self(db, arg, res);
}

static void change_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, load_self_work, change_loaded, mc_req_data(req));
}

void auth_h_change_password(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"currentPassword", "newPassword", NULL};
    mc_valid_only(&v, known);
    acct_ctx_t *c = acct_new(req);
    const char *cur = auth_valid_password(&v, "currentPassword");
    const char *neu = auth_valid_new_password(&v, "newPassword");
    if (mc_valid_fail(&v))
        return;
    memcpy(c->uid, mc_req_claims(req, NULL)->sub, 25);
    c->ip = auth_client_ip(req);
    c->ua = mc_req_header(req, "user-agent");
    c->hash.password = cur;
    c->hash.password_len = strlen(cur);
    c->hash.new_password = neu;
    c->hash.new_password_len = strlen(neu);
    /* Someone holding a stolen access token must not be able to guess the password
     * through this route faster than through login. */
    c->backoff_key = auth_rl_backoff_key(req, c->uid);
    auth_rl_check_t rl = {0};
    rl.backoff_key = c->backoff_key;
    auth_rl_take(req, &rl, change_limited);
}

/* --- email verification ---------------------------------------------------------------------------------- */

static void verify_send_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    if (!load_self(db, c, res))
        return;
    if (json_is_true(json_object_get(c->user, "emailVerified"))) {
        auth_fail(&c->o, MC_ERR_CONFLICT, "the email address is already verified");
        return;
    }
    const auth_config_t *cfg = auth_cfg();
    bson_error_t err;
    int64_t now = mc_now_ms(), exp = now + (int64_t)cfg->verify_ttl_s * 1000;
    char token[AUTH_TOKEN_CHARS + 1], hash[AUTH_TOKEN_HASH_HEX];
    auth_token_new(token);
    auth_token_hash(token, AUTH_TOKEN_CHARS, hash);
    const char *email = json_string_value(json_object_get(c->user, "email"));
    if (auth_action_insert(db, hash, "verify", c->uid, auth_user_epoch(c->user),
                           json_string_value(json_object_get(c->user, "emailLower")), now, exp, &err) != 0 ||
        auth_mail_enqueue(db, AUTH_MAIL_VERIFY, email, json_string_value(json_object_get(c->user, "name")), token,
                          cfg->verify_ttl_s, now, exp, &err) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    c->o.kick_mail = true;
    c->o.status = 202;
    c->o.body = json_pack("{s:s}", "message", "a verification message is on its way");
}

static void verify_send_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, verify_send_work, acct_done, mc_req_data(req));
}

void auth_h_verify_send(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    acct_ctx_t *c = acct_new(req);
    memcpy(c->uid, mc_req_claims(req, NULL)->sub, 25);
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "verify-user", c->uid, false, auth_cfg()->rl_verify_user);
    auth_rl_add(req, &rl, "verify-ip", auth_client_ip(req), false, auth_cfg()->rl_token_ip);
    auth_rl_take(req, &rl, verify_send_limited);
}

/* Reads the token's document (c->action) and its user (c->user) and checks, in this
 * order, that it exists and is of the right kind, is not spent, has not expired and — for
 * reset tokens — was issued under the user's current epoch. false with o set (details
 * {reason}) when the token is not usable; a later spend_action is still the decisive,
 * atomic check of single use. */
static bool load_action(mongoc_database_t *db, acct_ctx_t *c, mc_mongo_result_t *res)
{
    bson_error_t err;
    auth_token_hash(c->token, strlen(c->token), c->token_hash);
    c->action = auth_action_get(db, c->token_hash, &err);
    if (c->action == NULL && err.code != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return false;
    }
    const char *kind = json_string_value(json_object_get(c->action, "kind"));
    if (c->action == NULL || kind == NULL || strcmp(kind, c->kind) != 0) {
        auth_fail(&c->o, MC_ERR_UNAUTHENTICATED, "the token is not valid");
        c->o.details = json_pack("{s:s}", "reason", "invalid");
        return false;
    }
    int spent = auth_action_is_spent(db, c->token_hash, &err);
    if (spent < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return false;
    }
    if (spent == 1) {
        auth_fail(&c->o, MC_ERR_CONFLICT, "the token has already been used");
        c->o.details = json_pack("{s:s}", "reason", "used");
        return false;
    }
    if (json_integer_value(json_object_get(c->action, "expiresAtMs")) <= mc_now_ms()) {
        auth_fail(&c->o, MC_ERR_UNAUTHENTICATED, "the token has expired; ask for a new one");
        c->o.details = json_pack("{s:s}", "reason", "expired");
        return false;
    }
    const char *uid = json_string_value(json_object_get(c->action, "userId"));
    snprintf(c->uid, sizeof(c->uid), "%s", uid != NULL ? uid : "");
    c->user = auth_user_get(db, c->uid, &err);
    if (c->user == NULL) {
        if (err.code != 0) {
            mc_mongo_fail(mc_mongo_current(), res, &err);
        } else {
            auth_fail(&c->o, MC_ERR_UNAUTHENTICATED, "the token is not valid");
            c->o.details = json_pack("{s:s}", "reason", "invalid");
        }
        return false;
    }
    if (strcmp(kind, "reset") == 0 &&
        json_integer_value(json_object_get(c->action, "epoch")) != auth_user_epoch(c->user)) {
        auth_fail(&c->o, MC_ERR_UNAUTHENTICATED, "the token is no longer valid: the password changed since it was sent");
        c->o.details = json_pack("{s:s}", "reason", "superseded");
        return false;
    }
    return true;
}

/* Spends the token: false with o set when it was spent before. */
static bool spend_action(mongoc_database_t *db, acct_ctx_t *c, mc_mongo_result_t *res)
{
    bson_error_t err;
    int r = auth_action_spend(db, c->token_hash, mc_now_ms(), json_integer_value(json_object_get(c->action, "expiresAtMs")),
                              &err);
    if (r < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return false;
    }
    if (r == 1) {
        auth_fail(&c->o, MC_ERR_CONFLICT, "the token has already been used");
        c->o.details = json_pack("{s:s}", "reason", "used");
        return false;
    }
    return true;
}

static json_t *verified_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    acct_ctx_t *c = arg;
    const char *email = json_string_value(json_object_get(c->action, "email"));
    const char *now_email = json_string_value(json_object_get(user, "emailLower"));
    if (email == NULL || now_email == NULL || strcmp(email, now_email) != 0) {
        auth_fail(o, MC_ERR_UNAUTHENTICATED, "the token is not valid for the account's current address");
        return NULL;
    }
    return json_is_true(json_object_get(user, "emailVerified")) ? NULL : json_pack("{s:b}", "emailVerified", 1);
}

static void verify_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    if (!load_action(db, c, res) || !spend_action(db, c, res))
        return;
    bool was_verified = json_is_true(json_object_get(c->user, "emailVerified"));
    json_t *u = auth_user_update_locked(db, c->uid, verified_mutate, c, &c->o, res);
    if (u == NULL)
        return;
    bson_error_t err;
    if (!was_verified && json_is_true(json_object_get(u, "emailVerified")) &&
        auth_mail_enqueue(db, AUTH_MAIL_WELCOME, json_string_value(json_object_get(u, "email")),
                          json_string_value(json_object_get(u, "name")), NULL, 0, mc_now_ms(), 0, &err) == 0)
        c->o.kick_mail = true;
    c->o.status = 200;
    c->o.body = auth_user_view(u);
    json_decref(u);
}

/* Shared by verify, reset and validate: {token} (and more) → rate limit → work. */
static acct_ctx_t *token_request(mc_req_t *req, const char *const *known, const char *kind)
{
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return NULL;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    mc_valid_only(&v, known);
    acct_ctx_t *c = acct_new(req);
    c->kind = kind;
    c->token = auth_valid_token(&v, "token");
    if (kind == NULL) { /* validate-token names the kind */
        static const char *const kinds[] = {"verify", "reset", NULL};
        c->kind = mc_valid_enum(&v, "type", kinds, MC_V_REQUIRED);
    } else if (strcmp(kind, "reset") == 0) {
        const char *pw = auth_valid_new_password(&v, "password");
        c->hash.new_password = pw;
        c->hash.new_password_len = pw != NULL ? strlen(pw) : 0;
    }
    if (mc_valid_fail(&v))
        return NULL;
    c->ip = auth_client_ip(req);
    return c;
}

static void take_token_limit(mc_req_t *req, acct_ctx_t *c, auth_rl_cb then)
{
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "token-ip", c->ip, false, auth_cfg()->rl_token_ip);
    auth_rl_take(req, &rl, then);
}

static void verify_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, verify_work, acct_done, mc_req_data(req));
}

void auth_h_verify(mc_req_t *req)
{
    static const char *const known[] = {"token", NULL};
    acct_ctx_t *c = token_request(req, known, "verify");
    if (c != NULL)
        take_token_limit(req, c, verify_limited);
}

/* --- forgotten password ------------------------------------------------------------------------------------ */

static void forgot_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    bson_error_t err;
    json_t *u = auth_user_by_email(db, c->email_lower, &err);
    if (u == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        return; /* no account: nothing is sent, and the client cannot tell */
    }
    if (json_is_true(json_object_get(u, "disabled"))) {
        json_decref(u);
        return;
    }
    const auth_config_t *cfg = auth_cfg();
    int64_t now = mc_now_ms(), exp = now + (int64_t)cfg->reset_ttl_s * 1000;
    char token[AUTH_TOKEN_CHARS + 1], hash[AUTH_TOKEN_HASH_HEX];
    auth_token_new(token);
    auth_token_hash(token, AUTH_TOKEN_CHARS, hash);
    if (auth_action_insert(db, hash, "reset", auth_user_id(u), auth_user_epoch(u), c->email_lower, now, exp, &err) != 0 ||
        auth_mail_enqueue(db, AUTH_MAIL_RESET, json_string_value(json_object_get(u, "email")),
                          json_string_value(json_object_get(u, "name")), token, cfg->reset_ttl_s, now, exp, &err) != 0)
        mc_mongo_fail(mc_mongo_current(), res, &err);
    else
        c->o.kick_mail = true;
    json_decref(u);
}

static void forgot_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    acct_ctx_t *c = arg;
    if (c->o.kick_mail)
        auth_mailer_kick();
    if (res->err != MC_OK)
        mc_log(MC_LOG_WARN, mc_req_id(req), "forgot-password: the reset could not be prepared (%s)",
               res->err == MC_ERR_UNAVAILABLE ? "database unavailable" : res->bson.message);
    /* answered before the work started */
}

static void forgot_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    /* The answer goes out before the account is even looked up: it is the same whether the
     * address is registered or not, and so is its timing. */
    mc_respond_json(req, 202, json_pack("{s:s}", "message",
                                        "if an account uses this address, a message with a reset link is on its way"));
    if (mc_mongo_submit_req(req, forgot_work, forgot_done, mc_req_data(req)) != 0)
        mc_log(MC_LOG_ERROR, mc_req_id(req), "forgot-password: could not queue the work");
}

void auth_h_forgot(mc_req_t *req)
{
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"email", NULL};
    mc_valid_only(&v, known);
    acct_ctx_t *c = acct_new(req);
    auth_valid_email(&v, "email", MC_V_REQUIRED, c->email_lower);
    if (mc_valid_fail(&v))
        return;
    c->ip = auth_client_ip(req);
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "forgot-ip", c->ip, false, auth_cfg()->rl_forgot_ip);
    auth_rl_add(req, &rl, "forgot-email", c->email_lower, true, auth_cfg()->rl_forgot_email);
    auth_rl_take(req, &rl, forgot_limited);
}

/* --- password reset ------------------------------------------------------------------------------------------ */

static json_t *reset_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    acct_ctx_t *c = arg;
    if (json_integer_value(json_object_get(c->action, "epoch")) != auth_user_epoch(user)) {
        auth_fail(o, MC_ERR_UNAUTHENTICATED, "the token is no longer valid: the password changed since it was sent");
        o->details = json_pack("{s:s}", "reason", "superseded");
        return NULL;
    }
    /* Receiving the reset message proves the address too. */
    return json_pack("{s:s,s:I,s:b}", "passwordHash", c->hash.new_phc, "epoch", (json_int_t)(auth_user_epoch(user) + 1),
                     "emailVerified", 1);
}

static void reset_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    if (!spend_action(db, c, res))
        return;
    json_t *u = auth_user_update_locked(db, c->uid, reset_mutate, c, &c->o, res);
    if (u == NULL) {
        if (c->o.err == MC_ERR_NOT_FOUND)
            auth_fail(&c->o, MC_ERR_UNAUTHENTICATED, "the token is not valid");
        return;
    }
    bson_error_t err;
    if (auth_mail_enqueue(db, AUTH_MAIL_PASSWORD_CHANGED, json_string_value(json_object_get(u, "email")),
                          json_string_value(json_object_get(u, "name")), NULL, 0, mc_now_ms(), 0, &err) == 0)
        c->o.kick_mail = true;
    snprintf(c->email_lower, sizeof(c->email_lower), "%s", json_string_value(json_object_get(u, "emailLower")));
    c->o.status = 204;
    json_decref(u);
}

static void reset_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    acct_ctx_t *c = arg;
    /* The owner proved they read the mailbox: lift the login backoff on the account. */
    if (res->err == MC_OK && c->o.err == MC_OK && c->email_lower[0] != '\0')
        auth_rl_forget(req, auth_rl_backoff_key(req, c->email_lower));
    acct_done(req, arg, res);
}

static void reset_hashed(mc_req_t *req, auth_hash_job_t *job)
{
    if (!job->have_new) {
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "hashing the password failed");
        return;
    }
    auth_submit(req, reset_work, reset_done, mc_req_data(req));
}

/* Checks the token before paying for a hash; the decisive check (spending it) comes after. */
static void reset_check_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    load_action(db, arg, res);
}

static void reset_checked(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    acct_ctx_t *c = arg;
    if (res->err != MC_OK || c->o.err != MC_OK) {
        acct_done(req, arg, res);
        return;
    }
    auth_hash_run(req, &c->hash, reset_hashed);
}

static void reset_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, reset_check_work, reset_checked, mc_req_data(req));
}

void auth_h_reset(mc_req_t *req)
{
    static const char *const known[] = {"token", "password", NULL};
    acct_ctx_t *c = token_request(req, known, "reset");
    if (c != NULL)
        take_token_limit(req, c, reset_limited);
}

/* --- token validation ------------------------------------------------------------------------------------------ */

static void validate_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    acct_ctx_t *c = arg;
    char exp[MC_TIME_BUFSZ];
    if (!load_action(db, c, res)) {
        if (res->err == MC_OK) { /* an unusable token is an answer here, not an error */
            const char *reason = json_string_value(json_object_get(c->o.details, "reason"));
            c->o.body = json_pack("{s:b,s:s,s:s}", "valid", 0, "type", c->kind, "reason", reason ? reason : "invalid");
            c->o.err = MC_OK;
            json_decref(c->o.details);
            c->o.details = NULL;
            c->o.status = 200;
        }
        return;
    }
    c->o.status = 200;
    c->o.body = json_pack("{s:b,s:s,s:s}", "valid", 1, "type", c->kind, "expiresAt",
                          mc_time_format(json_integer_value(json_object_get(c->action, "expiresAtMs")), exp));
}

static void validate_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, validate_work, acct_done, mc_req_data(req));
}

void auth_h_validate_token(mc_req_t *req)
{
    static const char *const known[] = {"token", "type", NULL};
    acct_ctx_t *c = token_request(req, known, NULL);
    if (c != NULL)
        take_token_limit(req, c, validate_limited);
}
