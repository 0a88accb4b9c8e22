/*
 * Register, log in, refresh, log out, log out everywhere, sign in with Google.
 *
 * Each handler validates its input, charges its rate limits (ratelimit.h), hashes on the
 * thread pool when a password is involved (hashgate.h) and runs its database work as
 * jobs (store.h, session.h). Refusals:
 *   400 malformed input; registering as admin
 *   401 wrong email or password (the same answer whether the account exists or not), a
 *       refresh token that is unknown, expired, spent (which also revokes its session),
 *       or whose session ended; an ID token that does not verify
 *   403 a disabled account (only after the right password); a Google email not verified
 *   404 Google sign-in is not configured
 *   409 the email is already registered
 *   429 rate limited (Retry-After)
 *   503 the database is unreachable, or password hashing is saturated
 */
#include <string.h>
#include "config.h"
#include "google.h"
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

/* The User-Agent for the session record (at most 256 bytes are kept). */
static const char *user_agent(mc_req_t *req)
{
    const char *ua = mc_req_header(req, "user-agent");
    return ua != NULL ? ua : "";
}

/* --- register ------------------------------------------------------------------------------ */

typedef struct reg_ctx {
    auth_outcome_t o;
    const char *email, *name, *phone, *role, *ip, *ua;
    char email_lower[AUTH_EMAIL_MAX + 1];
    auth_hash_job_t hash;
    char verify_token[AUTH_TOKEN_CHARS + 1];
} reg_ctx_t;

static void register_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    reg_ctx_t *c = arg;
    bson_error_t err;
    auth_new_user_t nu = {c->email, c->email_lower, c->name, c->phone, c->role, c->hash.new_phc, false, false};
    json_t *user = auth_user_insert(db, &nu, mc_now_ms(), &err);
    if (user == NULL) {
        if (mc_mongo_is_duplicate(&err)) {
            auth_fail(&c->o, MC_ERR_CONFLICT, "this email address is already registered");
            c->o.details = json_pack("[{s:s,s:s}]", "field", "email", "message", "is already registered");
        } else {
            mc_mongo_fail(mc_mongo_current(), res, &err);
        }
        return;
    }
    /* The verification message is queued with the account: it exists exactly when the
     * account does. */
    const auth_config_t *cfg = auth_cfg();
    int64_t now = mc_now_ms();
    char hash[AUTH_TOKEN_HASH_HEX];
    auth_token_new(c->verify_token);
    auth_token_hash(c->verify_token, AUTH_TOKEN_CHARS, hash);
    int64_t exp = now + (int64_t)cfg->verify_ttl_s * 1000;
    if (auth_action_insert(db, hash, "verify", auth_user_id(user), 0, c->email_lower, now, exp, &err) != 0 ||
        auth_mail_enqueue(db, AUTH_MAIL_VERIFY, c->email, c->name, c->verify_token, cfg->verify_ttl_s, now, exp, &err) != 0) {
        mc_log_warn("register: queueing the verification message for %s failed: %s", auth_user_id(user), err.message);
    } else {
        c->o.kick_mail = true;
    }
    auth_tokens_t t;
    if (auth_session_start(db, auth_jwt(), user, c->ip, c->ua, &t, &err) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        json_decref(user);
        return;
    }
    c->o.status = 201;
    c->o.body = auth_tokens_json(&t, auth_user_view(user));
    json_decref(user);
}

static void register_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    auth_answer(req, res, arg);
}

static void register_hashed(mc_req_t *req, auth_hash_job_t *job)
{
    reg_ctx_t *c = mc_req_data(req);
    if (!job->have_new) {
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "hashing the password failed");
        return;
    }
    auth_submit(req, register_work, register_done, c);
}

static void register_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    reg_ctx_t *c = mc_req_data(req);
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_hash_run(req, &c->hash, register_hashed);
}

void auth_h_register(mc_req_t *req)
{
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"email", "password", "name", "phone", "role", NULL};
    mc_valid_only(&v, known);
    reg_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    c->email = auth_valid_email(&v, "email", MC_V_REQUIRED, c->email_lower);
    const char *pw = auth_valid_new_password(&v, "password");
    c->name = auth_valid_name(&v, "name", MC_V_REQUIRED);
    c->phone = auth_valid_phone(&v, "phone", MC_V_NULLABLE);
    json_t *role = json_object_get(body, "role");
    if (json_is_string(role) && strcmp(json_string_value(role), "admin") == 0) {
        mc_valid_error(&v, "role", "cannot be admin: only an administrator grants that role");
        c->role = NULL;
    } else {
        static const char *const roles[] = {"customer", "seller", NULL};
        c->role = mc_valid_enum(&v, "role", roles, 0);
        if (c->role == NULL)
            c->role = "customer";
    }
    if (mc_valid_fail(&v))
        return;
    c->ip = auth_client_ip(req);
    c->ua = user_agent(req);
    c->hash.new_password = pw;
    c->hash.new_password_len = strlen(pw);
    mc_req_set_data(req, c);
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "register-ip", c->ip, false, auth_cfg()->rl_register_ip);
    auth_rl_take(req, &rl, register_limited);
}

/* --- login ------------------------------------------------------------------------------------ */

typedef struct login_ctx {
    auth_outcome_t o;
    char email_lower[AUTH_EMAIL_MAX + 1];
    const char *password, *ip, *ua, *backoff_key;
    json_t *user;           /* the account, NULL when there is none */
    auth_hash_job_t hash;
} login_ctx_t;

static void login_ctx_free(void *p)
{
    login_ctx_t *c = p;
    json_decref(c->user);
}

static void login_find_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    login_ctx_t *c = arg;
    bson_error_t err;
    c->user = auth_user_by_email(db, c->email_lower, &err);
    if (c->user == NULL && err.code != 0)
        mc_mongo_fail(mc_mongo_current(), res, &err);
}

/* Replaces an outdated hash with the fresh one computed from the right password — unless
 * the password changed meanwhile (then the newer password wins). */
static json_t *rehash_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    (void)o;
    login_ctx_t *c = arg;
    const char *now_phc = json_string_value(json_object_get(user, "passwordHash"));
    const char *was = json_string_value(json_object_get(c->user, "passwordHash"));
    if (now_phc == NULL || was == NULL || strcmp(now_phc, was) != 0)
        return NULL;
    return json_pack("{s:s}", "passwordHash", c->hash.new_phc);
}

static void login_session_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    login_ctx_t *c = arg;
    bson_error_t err;
    if (c->hash.have_new) {
        auth_outcome_t scratch = {0};
        mc_mongo_result_t r2 = {0};
        json_t *u = auth_user_update_locked(db, auth_user_id(c->user), rehash_mutate, c, &scratch, &r2);
        if (u != NULL)
            mc_log_info("login: password hash of %s upgraded to the configured Argon2id parameters", auth_user_id(u));
        json_decref(u); /* a failed upgrade is retried at the next login; the login goes on */
        json_decref(scratch.details);
        json_decref(scratch.body);
    }
    auth_tokens_t t;
    if (auth_session_start(db, auth_jwt(), c->user, c->ip, c->ua, &t, &err) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    c->o.status = 200;
    c->o.body = auth_tokens_json(&t, auth_user_view(c->user));
}

static void login_session_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    login_ctx_t *c = arg;
    if (res->err == MC_OK && c->o.err == MC_OK)
        auth_rl_forget(req, c->backoff_key);
    auth_answer(req, res, &c->o);
}

static void login_verified(mc_req_t *req, auth_hash_job_t *job)
{
    login_ctx_t *c = mc_req_data(req);
    if (job->verified != 1) {
        if (job->verified < 0)
            mc_log(MC_LOG_ERROR, mc_req_id(req), "login: the stored hash of %s is unreadable", auth_user_id(c->user));
        mc_log_json(MC_LOG_INFO, mc_req_id(req), json_pack("{s:s,s:s}", "event", "login_failed", "ip", c->ip),
                    "login failed");
        mc_req_add_header(req, "www-authenticate", "Bearer");
        mc_respond_error(req, MC_ERR_UNAUTHENTICATED, NULL, "invalid email or password");
        return;
    }
    if (json_is_true(json_object_get(c->user, "disabled"))) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "this account is disabled");
        return;
    }
    auth_submit(req, login_session_work, login_session_done, c);
}

static void login_found(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    login_ctx_t *c = arg;
    if (res->err != MC_OK) {
        auth_answer_db_error(req, res);
        return;
    }
    /* Unknown account or no password (Google only): the dummy hash, same cost, no match. */
    c->hash.verify = true;
    c->hash.phc = c->user != NULL ? json_string_value(json_object_get(c->user, "passwordHash")) : NULL;
    c->hash.password = c->password;
    c->hash.password_len = strlen(c->password);
    c->hash.rehash_on_match = true;
    auth_hash_run(req, &c->hash, login_verified);
}

static void login_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, login_find_work, login_found, mc_req_data(req));
}

void auth_h_login(mc_req_t *req)
{
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"email", "password", NULL};
    mc_valid_only(&v, known);
    login_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    mc_req_on_free(req, login_ctx_free, c);
    auth_valid_email(&v, "email", MC_V_REQUIRED, c->email_lower);
    c->password = auth_valid_password(&v, "password");
    if (mc_valid_fail(&v))
        return;
    c->ip = auth_client_ip(req);
    c->ua = user_agent(req);
    c->backoff_key = auth_rl_backoff_key(req, c->email_lower);
    mc_req_set_data(req, c);
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "login-ip", c->ip, false, auth_cfg()->rl_login_ip);
    rl.backoff_key = c->backoff_key;
    auth_rl_take(req, &rl, login_limited);
}

/* --- refresh ----------------------------------------------------------------------------------- */

typedef struct refresh_ctx {
    auth_outcome_t o;
    const char *token;
    bool logout; /* POST /api/auth/logout: revoke instead of rotating */
} refresh_ctx_t;

static void refresh_fail(refresh_ctx_t *c, const char *msg)
{
    auth_fail(&c->o, MC_ERR_UNAUTHENTICATED, "%s", msg);
}

static void refresh_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    refresh_ctx_t *c = arg;
    bson_error_t err;
    int64_t now = mc_now_ms();
    char hash[AUTH_TOKEN_HASH_HEX];
    auth_token_hash(c->token, strlen(c->token), hash);
    json_t *rt = auth_refresh_get(db, hash, &err), *fam = NULL, *user = NULL;
    if (rt == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else if (c->logout)
            c->o.status = 204; /* logging out an unknown session: nothing to do */
        else
            refresh_fail(c, "invalid refresh token");
        return;
    }
    const char *family = json_string_value(json_object_get(rt, "familyId"));
    const char *uid = json_string_value(json_object_get(rt, "userId"));
    if (family == NULL || uid == NULL) {
        refresh_fail(c, "invalid refresh token");
        goto done;
    }
    if (c->logout) {
        if (auth_family_revoke(db, family, "logout", now, &err) != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            c->o.status = 204;
        goto done;
    }
    if (json_integer_value(json_object_get(rt, "expiresAtMs")) <= now) {
        refresh_fail(c, "the refresh token has expired");
        goto done;
    }
    int spent = auth_refresh_spend(db, hash, family, now, json_integer_value(json_object_get(rt, "expiresAtMs")), &err);
    if (spent < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        goto done;
    }
    if (spent == 1) {
        /* Reuse: one of the two holders of this token is not its owner. End the session for
         * both; the owner logs in again, the thief is out. */
        if (auth_family_revoke(db, family, "reuse", now, &err) != 0) {
            mc_mongo_fail(mc_mongo_current(), res, &err);
            goto done;
        }
        mc_log_json(MC_LOG_WARN, NULL, json_pack("{s:s,s:s,s:s}", "event", "refresh_reuse", "userId", uid, "family", family),
                    "a spent refresh token was presented again: the session is revoked");
        refresh_fail(c, "this refresh token was already used; the session has been revoked");
        goto done;
    }
    int revoked = auth_family_is_revoked(db, family, &err);
    if (revoked < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        goto done;
    }
    fam = revoked == 0 ? auth_family_get(db, family, &err) : NULL;
    if (fam == NULL && err.code != 0 && revoked == 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        goto done;
    }
    if (revoked == 1 || fam == NULL || json_integer_value(json_object_get(fam, "expiresAtMs")) <= now) {
        refresh_fail(c, "the session has ended");
        goto done;
    }
    user = auth_user_get(db, uid, &err);
    if (user == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            refresh_fail(c, "the account no longer exists");
        goto done;
    }
    if (json_is_true(json_object_get(user, "disabled"))) {
        refresh_fail(c, "this account is disabled");
        goto done;
    }
    if (auth_user_epoch(user) != json_integer_value(json_object_get(fam, "epoch"))) {
        refresh_fail(c, "the session has ended (password changed or signed out everywhere)");
        goto done;
    }
    auth_tokens_t t;
    if (auth_session_rotate(db, auth_jwt(), user, family,
                            json_integer_value(json_object_get(fam, "expiresAtMs")), &t, &err) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        goto done;
    }
    c->o.status = 200;
    c->o.body = auth_tokens_json(&t, NULL);
done:
    json_decref(rt);
    json_decref(fam);
    json_decref(user);
}

static void refresh_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    refresh_ctx_t *c = arg;
    if (c->o.err == MC_ERR_UNAUTHENTICATED)
        mc_req_add_header(req, "www-authenticate", "Bearer");
    auth_answer(req, res, &c->o);
}

static void refresh_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    auth_submit(req, refresh_work, refresh_done, mc_req_data(req));
}

static void refresh_or_logout(mc_req_t *req, bool logout)
{
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"refreshToken", NULL};
    mc_valid_only(&v, known);
    refresh_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    c->token = auth_valid_token(&v, "refreshToken");
    c->logout = logout;
    if (mc_valid_fail(&v))
        return;
    mc_req_set_data(req, c);
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "refresh-ip", auth_client_ip(req), false, auth_cfg()->rl_refresh_ip);
    auth_rl_take(req, &rl, refresh_limited);
}

void auth_h_refresh(mc_req_t *req)
{
    refresh_or_logout(req, false);
}

void auth_h_logout(mc_req_t *req)
{
    refresh_or_logout(req, true);
}

/* --- log out everywhere ---------------------------------------------------------------------------- */

static json_t *bump_epoch(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    (void)arg;
    (void)o;
    return json_pack("{s:I}", "epoch", (json_int_t)(auth_user_epoch(user) + 1));
}

typedef struct simple_ctx {
    auth_outcome_t o;
    char uid[25];
} simple_ctx_t;

static void logout_all_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    simple_ctx_t *c = arg;
    json_t *u = auth_user_update_locked(db, c->uid, bump_epoch, NULL, &c->o, res);
    if (u != NULL)
        c->o.status = 204;
    json_decref(u);
}

static void simple_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    simple_ctx_t *c = arg;
    auth_answer(req, res, &c->o);
}

void auth_h_logout_all(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    simple_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    memcpy(c->uid, mc_req_claims(req, NULL)->sub, 25);
    auth_submit(req, logout_all_work, simple_done, c);
}

/* --- Google ------------------------------------------------------------------------------------------ */

typedef struct google_ctx {
    auth_outcome_t o;
    const char *token;
    auth_google_identity_t id;
    const char *ip, *ua;
} google_ctx_t;

/* Linking Google to an existing account by its email. When that account's address was
 * never confirmed, whoever registered it did not prove they own the mailbox — Google just
 * did for this person — so the unproven password is removed and its sessions ended: an
 * attacker who registered someone else's address first cannot keep a way in. */
static json_t *link_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    (void)arg;
    (void)o;
    json_t *set = json_pack("{s:b}", "googleLinked", 1);
    if (!json_is_true(json_object_get(user, "emailVerified"))) {
        json_object_set_new(set, "emailVerified", json_true());
        json_object_set_new(set, "passwordHash", json_null());
        json_object_set_new(set, "epoch", json_integer(auth_user_epoch(user) + 1));
    }
    return set;
}

static void google_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    google_ctx_t *c = arg;
    bson_error_t err;
    int64_t now = mc_now_ms();
    char uid[25];
    json_t *user = NULL;
    bool created = false;
    int linked = auth_google_link_get(db, c->id.sub, uid, &err);
    if (linked < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    if (linked == 1) {
        user = auth_user_get(db, uid, &err);
        if (user == NULL && err.code != 0) {
            mc_mongo_fail(mc_mongo_current(), res, &err);
            return;
        }
        if (user == NULL) { /* the account was deleted: the link is stale */
            bson_t *f = BCON_NEW("_id", BCON_UTF8(c->id.sub));
            mongoc_collection_t *col = mongoc_database_get_collection(db, "google_links");
            mongoc_collection_delete_one(col, f, NULL, NULL, NULL);
            mongoc_collection_destroy(col);
            bson_destroy(f);
        }
    }
    if (user == NULL) {
        if (c->id.email[0] == '\0' || !c->id.email_verified) {
            auth_fail(&c->o, MC_ERR_FORBIDDEN, "Google has not verified an email address for this account");
            return;
        }
        char lower[AUTH_EMAIL_MAX + 1];
        auth_email_lower(c->id.email, strlen(c->id.email), lower);
        user = auth_user_by_email(db, lower, &err);
        if (user == NULL && err.code != 0) {
            mc_mongo_fail(mc_mongo_current(), res, &err);
            return;
        }
        if (user == NULL) {
            char name[sizeof(c->id.name)];
            if (c->id.name[0] != '\0') {
                snprintf(name, sizeof(name), "%s", c->id.name);
            } else { /* the local part of the address */
                size_t n = strcspn(c->id.email, "@");
                snprintf(name, sizeof(name), "%.*s", (int)(n < AUTH_NAME_MAX ? n : AUTH_NAME_MAX), c->id.email);
            }
            auth_new_user_t nu = {c->id.email, lower, name, NULL, "customer", NULL, true, true};
            user = auth_user_insert(db, &nu, now, &err);
            if (user != NULL) {
                created = true;
            } else if (mc_mongo_is_duplicate(&err)) { /* registered meanwhile: link to it */
                user = auth_user_by_email(db, lower, &err);
            }
            if (user == NULL) {
                if (err.code != 0)
                    mc_mongo_fail(mc_mongo_current(), res, &err);
                else
                    auth_fail(&c->o, MC_ERR_CONFLICT, "the account changed meanwhile; retry");
                return;
            }
        }
        if (!created) {
            json_t *u2 = auth_user_update_locked(db, auth_user_id(user), link_mutate, NULL, &c->o, res);
            json_decref(user);
            user = u2;
            if (user == NULL)
                return;
        }
        int r = auth_google_link_insert(db, c->id.sub, auth_user_id(user), c->id.email, now, &err);
        if (r < 0) {
            mc_mongo_fail(mc_mongo_current(), res, &err);
            json_decref(user);
            return;
        }
        if (r == 1) { /* linked concurrently: it must be to the same account */
            char other[25];
            if (auth_google_link_get(db, c->id.sub, other, &err) != 1 || strcmp(other, auth_user_id(user)) != 0) {
                auth_fail(&c->o, MC_ERR_CONFLICT, "this Google account is linked to another account");
                json_decref(user);
                return;
            }
        }
        if (created && auth_mail_enqueue(db, AUTH_MAIL_WELCOME, c->id.email, json_string_value(json_object_get(user, "name")),
                                         NULL, 0, now, 0, &err) == 0)
            c->o.kick_mail = true;
    }
    if (json_is_true(json_object_get(user, "disabled"))) {
        auth_fail(&c->o, MC_ERR_FORBIDDEN, "this account is disabled");
        json_decref(user);
        return;
    }
    auth_tokens_t t;
    if (auth_session_start(db, auth_jwt(), user, c->ip, c->ua, &t, &err) != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        json_decref(user);
        return;
    }
    c->o.status = 200;
    c->o.body = auth_tokens_json(&t, auth_user_view(user));
    json_object_set_new(c->o.body, "isNewUser", json_boolean(created));
    json_decref(user);
}

static void google_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    auth_answer(req, res, &((google_ctx_t *)arg)->o);
}

static void google_limited(mc_req_t *req, bool allowed, int64_t retry_ms)
{
    google_ctx_t *c = mc_req_data(req);
    if (!allowed) {
        auth_rl_refuse(req, retry_ms);
        return;
    }
    const char *tok = c->token;
    auth_jwks_t *keys = auth_google_keys();
    const char *why = "no Google signing keys are loaded";
    int r = keys != NULL ? auth_google_verify(keys, tok, strlen(tok), auth_cfg()->google_client_ids, mc_now_ms() / 1000,
                                              30, &c->id, &why)
                         : -1;
    auth_jwks_release(keys);
    if (r != 0) {
        mc_log_json(MC_LOG_INFO, mc_req_id(req), json_pack("{s:s,s:s}", "event", "google_rejected", "why", why),
                    "Google ID token rejected");
        mc_req_add_header(req, "www-authenticate", "Bearer");
        mc_respond_error(req, MC_ERR_UNAUTHENTICATED, NULL, "the Google ID token is not valid: %s", why);
        return;
    }
    auth_submit(req, google_work, google_done, c);
}

void auth_h_google(mc_req_t *req)
{
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"idToken", NULL};
    mc_valid_only(&v, known);
    const char *tok = mc_valid_str(&v, "idToken", 1, AUTH_GOOGLE_MAX_TOKEN, MC_V_REQUIRED);
    if (mc_valid_fail(&v))
        return;
    if (!auth_google_enabled()) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "Google sign-in is not enabled on this server");
        return;
    }
    google_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    c->token = tok;
    c->ip = auth_client_ip(req);
    c->ua = user_agent(req);
    mc_req_set_data(req, c);
    auth_rl_check_t rl = {0};
    auth_rl_add(req, &rl, "google-ip", c->ip, false, auth_cfg()->rl_google_ip);
    auth_rl_take(req, &rl, google_limited);
}
