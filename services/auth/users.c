/*
 * Administration of users (admin access token), and the public profiles other services
 * resolve (GET /api/users/batch, no token: id, name and role only).
 *
 * An administrator cannot change their own role, disable or delete themselves: the last
 * administrator could otherwise lock everyone out, and a stolen admin token could not be
 * stopped by another admin demoting it if it could re-promote itself (it cannot anyway:
 * roles are checked from the token, which says admin until it expires).
 *
 * Disabling a user ends their sessions (epoch) and stops new ones; access tokens already
 * issued live out their short lifetime (JWT_ACCESS_TTL_SECONDS), like a role change, which
 * takes effect at the next refresh.
 *
 * Refusals: 400 malformed input, 401/403 not an admin, 404 unknown user, 409 acting on
 * oneself or a concurrent change, 503 database unreachable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "routes.h"
#include "rules.h"
#include "service.h"
#include "store.h"

#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 200
#define BATCH_MAX_IDS 100
#define QUERY_MAX_CHARS 100

typedef struct users_ctx {
    auth_outcome_t o;
    char id[25];
    auth_user_query_t q;
    json_t *ids;
    const char *role;
    bool disable;
} users_ctx_t;

static void users_free(void *p)
{
    json_decref(((users_ctx_t *)p)->ids);
}

static users_ctx_t *ctx_new(mc_req_t *req)
{
    users_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    mc_req_on_free(req, users_free, c);
    return c;
}

static void users_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    auth_answer(req, res, &((users_ctx_t *)arg)->o);
}

/* --- list ------------------------------------------------------------------------------------------ */

static void list_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    users_ctx_t *c = arg;
    bson_error_t err;
    int64_t total = 0;
    /* One more than the page: tells whether there is a next page. */
    auth_user_query_t q = c->q;
    q.limit = c->q.limit + 1;
    json_t *users = auth_users_list(db, &q, &total, &err);
    if (users == NULL) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    bool more = json_array_size(users) > (size_t)c->q.limit;
    /* A user's cursor is its id: the next page starts below it (newest first). */
    json_t *items = json_array(), *cursors = json_array();
    size_t i;
    json_t *u;
    const char *last = NULL;
    json_array_foreach(users, i, u)
    {
        if (i == (size_t)c->q.limit)
            break;
        json_array_append_new(items, auth_user_view(u));
        last = auth_user_id(u);
        json_array_append_new(cursors, json_string(last));
    }
    c->o.status = 200;
    c->o.body = json_pack("{s:o,s:o,s:I,s:{s:b,s:o}}", "items", items, "cursors", cursors, "totalCount", (json_int_t)total,
                          "pageInfo", "hasNextPage", more, "endCursor", last != NULL ? json_string(last) : json_null());
    json_decref(users);
}

void auth_h_users_list(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"q", "role", "disabled", "limit", "cursor", NULL};
    mc_valid_query_only(&v, known);
    users_ctx_t *c = ctx_new(req);
    c->q.limit = LIST_DEFAULT_LIMIT;
    mc_valid_query_int(&v, "limit", 1, LIST_MAX_LIMIT, &c->q.limit);
    const char *q = mc_valid_query_str(&v, "q", 1, QUERY_MAX_CHARS);
    if (q != NULL) {
        char *lower = mc_req_strndup(req, q, strlen(q));
        auth_email_lower(q, strlen(q), lower); /* emails are matched in lower case */
        c->q.q = lower;
    }
    static const char *const roles[] = {"customer", "seller", "admin", NULL};
    c->q.role = mc_valid_query_enum(&v, "role", roles);
    bool disabled;
    c->q.disabled = mc_valid_query_bool(&v, "disabled", &disabled) ? (disabled ? 1 : 0) : -1;
    c->q.after = mc_valid_query_oid(&v, "cursor");
    if (mc_valid_fail(&v))
        return;
    auth_submit(req, list_work, users_done, c);
}

/* --- public profiles ---------------------------------------------------------------------------------- */

static void batch_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    users_ctx_t *c = arg;
    bson_error_t err;
    json_t *found = auth_users_by_ids(db, c->ids, &err);
    if (found == NULL) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    json_t *items = json_array(), *missing = json_array(), *id;
    size_t i;
    /* In the order asked. */
    json_array_foreach(c->ids, i, id)
    {
        json_t *hit = NULL, *u;
        size_t k;
        json_array_foreach(found, k, u)
        {
            if (strcmp(auth_user_id(u), json_string_value(id)) == 0)
                hit = u;
        }
        if (hit != NULL)
            json_array_append_new(items, auth_user_public(hit));
        else
            json_array_append(missing, id);
    }
    json_decref(found);
    c->o.status = 200;
    c->o.body = json_pack("{s:o,s:o}", "items", items, "missing", missing);
}

void auth_h_users_batch(mc_req_t *req)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"ids", NULL};
    mc_valid_query_only(&v, known);
    users_ctx_t *c = ctx_new(req);
    c->ids = json_array();
    const char *list = mc_req_query(req, "ids");
    if (list == NULL || *list == '\0') {
        mc_valid_error(&v, "ids", "is required (comma-separated ids)");
    } else {
        size_t count = 0;
        for (const char *p = list;;) {
            size_t n = strcspn(p, ",");
            if (!mc_is_object_id(p, n)) {
                mc_valid_error(&v, "ids", "must be comma-separated ids of 24 hexadecimal digits");
                break;
            }
            char low[25];
            for (size_t k = 0; k < 24; ++k)
                low[k] = (p[k] >= 'A' && p[k] <= 'F') ? (char)(p[k] - 'A' + 'a') : p[k];
            low[24] = '\0';
            bool dup = false;
            for (size_t k = 0; k < json_array_size(c->ids) && !dup; ++k)
                dup = strcmp(json_string_value(json_array_get(c->ids, k)), low) == 0;
            if (!dup)
                json_array_append_new(c->ids, json_string(low));
            if (++count > BATCH_MAX_IDS) {
                mc_valid_error(&v, "ids", "must name at most %d ids", BATCH_MAX_IDS);
                break;
            }
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
    }
    if (mc_valid_fail(&v))
        return;
    auth_submit(req, batch_work, users_done, c);
}

/* --- one user ---------------------------------------------------------------------------------------------- */

static void get_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    users_ctx_t *c = arg;
    bson_error_t err;
    json_t *u = auth_user_get(db, c->id, &err);
    if (u == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            auth_fail(&c->o, MC_ERR_NOT_FOUND, "user %s not found", c->id);
        return;
    }
    c->o.status = 200;
    c->o.body = auth_user_view(u);
    json_decref(u);
}

/* The admin route prologue: an admin token and a valid :id. */
static users_ctx_t *admin_target(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return NULL;
    const char *id = auth_path_id(req, "user");
    if (id == NULL)
        return NULL;
    users_ctx_t *c = ctx_new(req);
    memcpy(c->id, id, 25);
    return c;
}

static bool not_self(mc_req_t *req, users_ctx_t *c, const char *what)
{
    if (strcmp(mc_req_claims(req, NULL)->sub, c->id) == 0) {
        mc_respond_error(req, MC_ERR_CONFLICT, NULL, "administrators cannot %s themselves; ask another administrator", what);
        return false;
    }
    return true;
}

void auth_h_user_get(mc_req_t *req)
{
    users_ctx_t *c = admin_target(req);
    if (c != NULL)
        auth_submit(req, get_work, users_done, c);
}

static json_t *role_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    (void)o;
    users_ctx_t *c = arg;
    const char *was = json_string_value(json_object_get(user, "role"));
    return was != NULL && strcmp(was, c->role) == 0 ? NULL : json_pack("{s:s}", "role", c->role);
}

static json_t *disable_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    (void)db;
    (void)o;
    users_ctx_t *c = arg;
    if (json_is_true(json_object_get(user, "disabled")) == c->disable)
        return NULL;
    /* Disabling ends every session; enabling starts from a clean slate too. */
    return json_pack("{s:b,s:I}", "disabled", c->disable, "epoch", (json_int_t)(auth_user_epoch(user) + 1));
}

static void update_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    users_ctx_t *c = arg;
    json_t *u = auth_user_update_locked(db, c->id, c->role != NULL ? role_mutate : disable_mutate, c, &c->o, res);
    if (u == NULL)
        return;
    mc_log_json(MC_LOG_INFO, NULL,
                json_pack("{s:s,s:s,s:s}", "event", c->role != NULL ? "role_changed" : c->disable ? "user_disabled" : "user_enabled",
                          "userId", c->id, "role", json_string_value(json_object_get(u, "role"))),
                "account changed by an administrator");
    c->o.status = 200;
    c->o.body = auth_user_view(u);
    json_decref(u);
}

void auth_h_user_role(mc_req_t *req)
{
    users_ctx_t *c = admin_target(req);
    if (c == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"role", NULL};
    mc_valid_only(&v, known);
    static const char *const roles[] = {"customer", "seller", "admin", NULL};
    c->role = mc_valid_enum(&v, "role", roles, MC_V_REQUIRED);
    if (mc_valid_fail(&v) || !not_self(req, c, "change the role of"))
        return;
    auth_submit(req, update_work, users_done, c);
}

static void set_disabled(mc_req_t *req, bool disable)
{
    users_ctx_t *c = admin_target(req);
    if (c == NULL || !not_self(req, c, disable ? "disable" : "enable"))
        return;
    c->disable = disable;
    auth_submit(req, update_work, users_done, c);
}

void auth_h_user_disable(mc_req_t *req)
{
    set_disabled(req, true);
}

void auth_h_user_enable(mc_req_t *req)
{
    set_disabled(req, false);
}

static void delete_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    users_ctx_t *c = arg;
    bson_error_t err;
    char token[33];
    /* Under the lock, so no concurrent change writes the document back. */
    int l = auth_user_lock(db, c->id, token, AUTH_LOCK_WAIT_MS, &err);
    if (l != 0) {
        if (l < 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            auth_fail(&c->o, MC_ERR_CONFLICT, "the account is being changed by another request; retry");
        return;
    }
    int r = auth_user_delete(db, c->id, &err);
    auth_user_unlock(db, c->id, token);
    if (r < 0)
        mc_mongo_fail(mc_mongo_current(), res, &err);
    else if (r > 0)
        auth_fail(&c->o, MC_ERR_NOT_FOUND, "user %s not found", c->id);
    else {
        mc_log_json(MC_LOG_INFO, NULL, json_pack("{s:s,s:s}", "event", "user_deleted", "userId", c->id),
                    "account deleted by an administrator");
        c->o.status = 204;
    }
}

void auth_h_user_delete(mc_req_t *req)
{
    users_ctx_t *c = admin_target(req);
    if (c == NULL || !not_self(req, c, "delete"))
        return;
    auth_submit(req, delete_work, users_done, c);
}
