/*
 * Implementation of the helpers of service.h that every route file uses.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "rules.h"
#include "service.h"
#include "store.h"

auth_worker_t *auth_worker_of(mc_req_t *req)
{
    return mc_worker_data(mc_req_worker(req));
}

static const mc_jwt_t *the_jwt;

const mc_jwt_t *auth_jwt(void)
{
    return the_jwt;
}

void auth_set_jwt(const mc_jwt_t *jwt)
{
    the_jwt = jwt;
}

void auth_answer_db_error(mc_req_t *req, const mc_mongo_result_t *res)
{
    if (res->err == MC_ERR_UNAVAILABLE) {
        mc_req_add_header(req, "retry-after", "2");
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the account database is unavailable; retry later");
        return;
    }
    mc_log(MC_LOG_ERROR, mc_req_id(req), "database error: %s", res->bson.message);
    mc_respond_error(req, MC_ERR_INTERNAL, NULL, "the operation failed");
}

const char *auth_path_id(mc_req_t *req, const char *what)
{
    char *id = (char *)mc_req_param(req, "id"); /* the request's own copy: lowered in place */
    if (id == NULL || !mc_is_object_id(id, strlen(id))) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST,
                         json_pack("[{s:s,s:s}]", "field", "id", "message", "must be an id (24 hexadecimal digits)"),
                         "the %s id in the path must be 24 hexadecimal digits", what);
        return NULL;
    }
    for (char *p = id; *p; ++p)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return id;
}

void auth_submit(mc_req_t *req, mc_mongo_work_cb work, mc_mongo_req_done_cb done, void *arg)
{
    if (mc_mongo_submit_req(req, work, done, arg) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the operation");
}

void auth_fail(auth_outcome_t *o, mc_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    o->err = err;
    vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
    va_end(ap);
}

static void outcome_free(void *p)
{
    auth_outcome_t *o = p;
    json_decref(o->details);
    json_decref(o->body);
}

void auth_outcome_init(mc_req_t *req, auth_outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    mc_req_on_free(req, outcome_free, o);
}

void auth_answer(mc_req_t *req, const mc_mongo_result_t *res, auth_outcome_t *o)
{
    if (o->kick_mail)
        auth_mailer_kick(); /* whatever happened next, the message is in the outbox */
    if (res != NULL && res->err != MC_OK) {
        auth_answer_db_error(req, res);
        return;
    }
    if (o->err != MC_OK) {
        mc_respond_error(req, o->err, json_incref(o->details), "%s", o->msg);
        return;
    }
    if (o->location != NULL)
        mc_req_add_header(req, "location", o->location);
    if (o->status == 204 || o->body == NULL)
        mc_respond_empty(req, o->status ? o->status : 204);
    else
        mc_respond_json(req, o->status ? o->status : 200, json_incref(o->body));
}

json_t *auth_user_view(json_t *u)
{
    json_t *v = json_object();
    static const char *const copy[] = {"id",       "email",     "name",    "phone",
                                       "role",     "emailVerified",       "disabled",
                                       "googleLinked", "defaultShippingAddressId", "defaultBillingAddressId",
                                       "createdAt", "updatedAt"};
    for (size_t i = 0; i < MC_ARRAY_SIZE(copy); ++i) {
        json_t *x = json_object_get(u, copy[i]);
        json_object_set(v, copy[i], x != NULL ? x : json_null());
    }
    if (!json_is_boolean(json_object_get(v, "googleLinked")))
        json_object_set_new(v, "googleLinked", json_false());
    json_object_set_new(v, "hasPassword", json_boolean(json_is_string(json_object_get(u, "passwordHash"))));
    return v;
}

json_t *auth_user_public(json_t *u)
{
    return json_pack("{s:O,s:O,s:O}", "id", json_object_get(u, "id"), "name", json_object_get(u, "name"), "role",
                     json_object_get(u, "role"));
}

const char *auth_user_id(json_t *u)
{
    return json_string_value(json_object_get(u, "id"));
}

int64_t auth_user_epoch(json_t *u)
{
    return json_integer_value(json_object_get(u, "epoch"));
}

json_t *auth_user_update_locked(mongoc_database_t *db, const char *user_id, auth_mutate_fn mutate, void *arg,
                                auth_outcome_t *o, mc_mongo_result_t *res)
{
    char token[33];
    bson_error_t err;
    int l = auth_user_lock(db, user_id, token, AUTH_LOCK_WAIT_MS, &err);
    if (l < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return NULL;
    }
    if (l > 0) {
        auth_fail(o, MC_ERR_CONFLICT, "the account is being changed by another request; retry");
        return NULL;
    }
    json_t *out = NULL;
    json_t *user = auth_user_get(db, user_id, &err);
    if (user == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            auth_fail(o, MC_ERR_NOT_FOUND, "user %s not found", user_id);
        goto unlock;
    }
    json_t *fields = mutate(db, user, arg, o);
    if (o->err != MC_OK) {
        json_decref(fields);
        goto unlock;
    }
    if (fields == NULL || json_object_size(fields) == 0) {
        json_decref(fields);
        out = json_incref(user);
        goto unlock;
    }
    int r = auth_user_set(db, user_id, fields, mc_now_ms(), &err);
    json_decref(fields);
    if (r < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        goto unlock;
    }
    if (r > 0) {
        auth_fail(o, MC_ERR_NOT_FOUND, "user %s not found", user_id);
        goto unlock;
    }
    out = auth_user_get(db, user_id, &err);
    if (out == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            auth_fail(o, MC_ERR_NOT_FOUND, "user %s not found", user_id);
    }
unlock:
    json_decref(user);
    auth_user_unlock(db, user_id, token);
    return out;
}

const char *auth_valid_email(mc_valid_t *v, const char *key, unsigned flags, char *lower)
{
    const char *e = mc_valid_str(v, key, 3, AUTH_EMAIL_MAX, flags);
    if (e == NULL)
        return NULL;
    if (!auth_email_valid(e, strlen(e))) {
        mc_valid_error(v, key, "must be an email address (local@domain.tld, ASCII letters and digits)");
        return NULL;
    }
    auth_email_lower(e, strlen(e), lower);
    return e;
}

const char *auth_valid_new_password(mc_valid_t *v, const char *key)
{
    return mc_valid_str(v, key, AUTH_PASSWORD_MIN, AUTH_PASSWORD_MAX, MC_V_REQUIRED);
}

const char *auth_valid_password(mc_valid_t *v, const char *key)
{
    return mc_valid_str(v, key, 1, AUTH_PASSWORD_MAX, MC_V_REQUIRED);
}

const char *auth_valid_text(mc_valid_t *v, const char *key, size_t max, unsigned flags)
{
    const char *s = mc_valid_str(v, key, 1, max, flags & ~(unsigned)MC_V_TRIM);
    if (s == NULL)
        return NULL;
    size_t a = 0, b = strlen(s);
    while (a < b && s[a] == ' ')
        ++a;
    while (b > a && s[b - 1] == ' ')
        --b;
    if (a == b) {
        mc_valid_error(v, key, "must contain a character other than a space");
        return NULL;
    }
    return mc_req_strndup(v->req, s + a, b - a);
}

const char *auth_valid_name(mc_valid_t *v, const char *key, unsigned flags)
{
    return auth_valid_text(v, key, AUTH_NAME_MAX, flags);
}

const char *auth_valid_phone(mc_valid_t *v, const char *key, unsigned flags)
{
    const char *p = mc_valid_str(v, key, 8, 16, flags);
    if (p != NULL && !auth_phone_valid(p, strlen(p))) {
        mc_valid_error(v, key, "must be an E.164 number: +, then 7 to 15 digits, the first not 0");
        return NULL;
    }
    return p;
}

const char *auth_valid_token(mc_valid_t *v, const char *key)
{
    const char *t = mc_valid_str(v, key, AUTH_TOKEN_CHARS, AUTH_TOKEN_CHARS, MC_V_REQUIRED);
    if (t != NULL && !auth_token_wellformed(t, strlen(t))) {
        mc_valid_error(v, key, "must be a token as issued (43 characters of A-Z a-z 0-9 - _)");
        return NULL;
    }
    return t;
}
