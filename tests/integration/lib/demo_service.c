/*
 * demo_service: the smallest real service built on lib/, for end-to-end tests of the
 * runtime (not shipped). It touches every data module the way a real service does:
 *
 *   POST /api/notes           admin only; {"title"} → 201 {"id","title"}; a title is
 *                              unique (index created at start-up) → 409 on a duplicate
 *   GET  /api/notes/:id       → 200 {"id","title"} | 400 malformed id | 404
 *   PUT  /api/cache/:key      any role; body {"value"} → 204 (Redis SET with a TTL)
 *   GET  /api/cache/:key      → 200 {"value"} | 404 | 503 when Redis is down
 *   GET  /api/upstream?path=  → the status and body of GET UPSTREAM_URL+path, called
 *                              through the worker's HTTP client with this request's id
 *
 * MongoDB down answers 503 UNAVAILABLE at once (fail-fast), Redis down 503 on the cache
 * routes only; /ready reports both (Redis not required).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_config.h"
#include "mc_http.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_redis.h"
#include "mc_req.h"
#include "mc_server.h"
#include "mc_util.h"

#define DEMO_MAX_TITLE 200

/* --- notes (MongoDB) ------------------------------------------------------------------- */

typedef struct note_job {
    bson_oid_t oid;
    char title[DEMO_MAX_TITLE + 1];
    bool found;
} note_job_t;

static void insert_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    note_job_t *j = arg;
    bson_error_t err;
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "notes");
    bson_oid_init(&j->oid, NULL);
    bson_t *doc = BCON_NEW("_id", BCON_OID(&j->oid), "title", BCON_UTF8(j->title));
    if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err))
        mc_mongo_fail(mc_mongo_current(), res, &err);
    bson_destroy(doc);
    mongoc_collection_destroy(coll);
}

static void find_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    note_job_t *j = arg;
    bson_error_t err;
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "notes");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&j->oid));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(coll, filter, NULL, NULL);
    const bson_t *doc;
    if (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "title") && BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(j->title, sizeof(j->title), "%s", bson_iter_utf8(&it, NULL));
            j->found = true;
        }
    } else if (mongoc_cursor_error(cur, &err)) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
}

static json_t *note_json(const note_job_t *j)
{
    char id[25];
    bson_oid_to_string(&j->oid, id);
    return json_pack("{s:s,s:s}", "id", id, "title", j->title);
}

static void respond_db_error(mc_req_t *req, const mc_mongo_result_t *res)
{
    if (res->err == MC_ERR_CONFLICT)
        mc_respond_error(req, MC_ERR_CONFLICT, NULL, "a note with this title exists");
    else if (res->err == MC_ERR_UNAVAILABLE)
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the database is unavailable");
    else
        mc_respond_error(req, res->err, NULL, "database error");
}

static void insert_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    if (res->err != MC_OK)
        respond_db_error(req, res);
    else
        mc_respond_json(req, 201, note_json(arg));
}

static void create_note(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    const char *title = json_string_value(json_object_get(body, "title"));
    if (title == NULL || *title == '\0' || strlen(title) > DEMO_MAX_TITLE) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "title: 1..%d characters", DEMO_MAX_TITLE);
        return;
    }
    note_job_t *j = mc_req_alloc(req, sizeof(*j));
    snprintf(j->title, sizeof(j->title), "%s", title);
    if (mc_mongo_submit_req(req, insert_work, insert_done, j) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the job");
}

static void find_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    note_job_t *j = arg;
    if (res->err != MC_OK)
        respond_db_error(req, res);
    else if (!j->found)
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "no such note");
    else
        mc_respond_json(req, 200, note_json(j));
}

static void get_note(mc_req_t *req)
{
    note_job_t *j = mc_req_alloc(req, sizeof(*j));
    if (!mc_mongo_oid_parse(mc_req_param(req, "id"), &j->oid)) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "id: not an ObjectId");
        return;
    }
    if (mc_mongo_submit_req(req, find_work, find_done, j) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the job");
}

/* --- cache (Redis) ------------------------------------------------------------------------ */

/* A Redis reply for a request: the request is retained until the reply (or failure). */
static void cache_get_reply(redisReply *reply, const char *err, void *data)
{
    mc_req_t *req = data;
    if (reply == NULL)
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "cache unavailable (%s)", err);
    else if (reply->type == REDIS_REPLY_NIL)
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "no such key");
    else if (reply->type == REDIS_REPLY_STRING)
        mc_respond_json(req, 200, json_pack("{s:s%}", "value", reply->str, reply->len));
    else
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "unexpected reply");
    mc_req_release(req);
}

static void cache_set_reply(redisReply *reply, const char *err, void *data)
{
    mc_req_t *req = data;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "cache unavailable (%s)", err != NULL ? err : reply->str);
    else
        mc_respond_empty(req, 204);
    mc_req_release(req);
}

static void get_cache(mc_req_t *req)
{
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    mc_req_retain(req);
    if (mc_redis_cmd(r, cache_get_reply, req, "GET demo:%s", mc_req_param(req, "key")) != 0) {
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "cache unavailable");
        mc_req_release(req);
    }
}

static void put_cache(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    const char *value = json_string_value(json_object_get(body, "value"));
    if (value == NULL) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "value: a string is required");
        return;
    }
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    mc_req_retain(req);
    if (mc_redis_cmd(r, cache_set_reply, req, "SET demo:%s %s EX 600", mc_req_param(req, "key"), value) != 0) {
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "cache unavailable");
        mc_req_release(req);
    }
}

/* --- upstream (HTTP client) ----------------------------------------------------------------- */

static void upstream_done(const mc_http_response_t *res, void *data)
{
    mc_req_t *req = data;
    if (res->err != NULL)
        mc_respond_error(req, MC_ERR_UPSTREAM, NULL, "upstream: %s", res->err);
    else
        mc_respond_raw(req, res->status, "application/json", res->body, res->body_len);
    mc_req_release(req);
}

static void get_upstream(mc_req_t *req)
{
    const char *base = mc_env_str("UPSTREAM_URL", NULL), *path = mc_req_query(req, "path");
    if (base == NULL || path == NULL || path[0] != '/') {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "path: required, starting with /");
        return;
    }
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", base, path);
    mc_http_request_t call = {.url = url, .request_id = mc_req_id(req), .timeout_ms = 2000};
    mc_req_retain(req);
    if (mc_http_fetch(mc_worker_http(mc_req_worker(req)), &call, upstream_done, req, NULL) != 0) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "path: not a valid URL path");
        mc_req_release(req);
    }
}

/* --- start-up ---------------------------------------------------------------------------------- */

static int demo_init(mc_server_t *srv)
{
    bson_t *indexes = BCON_NEW("0", "{", "key", "{", "title", BCON_INT32(1), "}", "name", BCON_UTF8("title_unique"),
                               "unique", BCON_BOOL(true), "}");
    bson_error_t err;
    int rc = mc_mongo_create_indexes(mc_server_mongo(srv), "notes", indexes, 30000, &err);
    bson_destroy(indexes);
    if (rc != 0)
        mc_log_error("createIndexes notes: %s", err.message);
    return rc;
}

int main(void)
{
    static const mc_route_t routes[] = {
        {"POST", "/api/notes", create_note},
        {"GET", "/api/notes/:id", get_note},
        {"GET", "/api/cache/:key", get_cache},
        {"PUT", "/api/cache/:key", put_cache},
        {"GET", "/api/upstream", get_upstream},
    };
    mc_config_t cfg;
    mc_config_load(&cfg, "demo", 4999);
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = routes,
        .nroutes = MC_ARRAY_SIZE(routes),
        .use_mongo = true,
        .use_redis = true,
        .redis_required = false,
        .use_jwt = true,
        .init = demo_init,
    };
    int rc = mc_server_run(&opts);
    mongoc_cleanup();
    return rc;
}
