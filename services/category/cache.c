/*
 * Implementation of cache.h.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_redis.h"
#include "mc_util.h"
#include "store.h"

/* KEYS[1] version key, KEYS[2] data key prefix; ARGV[1] the caller's version, ARGV[2] a
 * fresh token to install when there is no version yet. */
static const char script_src[] = "local v = redis.call('GET', KEYS[1])\n"
                                 "if not v then redis.call('SET', KEYS[1], ARGV[2]); v = ARGV[2] end\n"
                                 "if v == ARGV[1] then return {v} end\n"
                                 "return {v, redis.call('GET', KEYS[2] .. v)}\n";
static mc_redis_script_t *script;
static atomic_int invalidation_pending;

typedef struct waiter {
    mc_req_t *req;
    cat_snapshot_cb cb;
    struct waiter *next;
} waiter_t;

/* One database read in flight on a worker, and the requests waiting for it. */
typedef struct load {
    mc_worker_t *w;
    char version[33]; /* "" = uncached read (Redis down) */
    unsigned write_seq;
    waiter_t *waiters;
    json_t *list; /* result, set by the work callback */
    bson_error_t err;
    bool too_many;
    struct load *next;
} load_t;

typedef struct cat_worker {
    cat_snapshot_t *current;
    int64_t current_at_ms;
    unsigned write_seq; /* local writes, so an uncached read never joins an older load */
    load_t *loads;
} cat_worker_t;

void cat_cache_global_init(void)
{
    script = mc_redis_script_create(script_src);
}

void cat_cache_global_dispose(void)
{
    mc_redis_script_free(script);
    script = NULL;
}

int cat_cache_worker_init(mc_worker_t *w)
{
    mc_worker_set_data(w, calloc(1, sizeof(cat_worker_t)));
    return 0;
}

void cat_cache_worker_dispose(mc_worker_t *w)
{
    cat_worker_t *cw = mc_worker_data(w);
    cat_snapshot_release(cw->current);
    free(cw);
    mc_worker_set_data(w, NULL);
}

static void deliver(waiter_t *list, cat_snapshot_t *snap, mc_err_t err, const char *msg)
{
    while (list != NULL) {
        waiter_t *next = list->next;
        list->cb(list->req, snap, err, msg);
        mc_req_release(list->req);
        free(list);
        list = next;
    }
}

static void load_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    load_t *l = arg;
    l->list = cat_store_load_all(db, &l->err);
    if (l->list == NULL)
        mc_mongo_fail(mc_mongo_current(), res, &l->err);
}

static void load_done(void *arg, const mc_mongo_result_t *res)
{
    load_t *l = arg;
    cat_worker_t *cw = mc_worker_data(l->w);
    /* unlink */
    for (load_t **pp = &cw->loads; *pp != NULL; pp = &(*pp)->next)
        if (*pp == l) {
            *pp = l->next;
            break;
        }
    if (res->err != MC_OK || l->list == NULL) {
        const char *msg = res->err == MC_ERR_UNAVAILABLE ? "the category database is unavailable" : "reading categories failed";
        if (res->err != MC_ERR_UNAVAILABLE)
            mc_log_error("loading categories: %s", res->bson.message);
        deliver(l->waiters, NULL, res->err == MC_OK ? MC_ERR_INTERNAL : res->err, msg);
        json_decref(l->list);
        free(l);
        return;
    }
    if (l->version[0] != '\0') {
        /* Fill the cache under the version read before loading. */
        char *data = json_dumps(l->list, JSON_COMPACT);
        mc_redis_t *r = mc_worker_redis(l->w);
        if (data != NULL && r != NULL) {
            char key[64];
            snprintf(key, sizeof(key), "category:all:%s", l->version);
            mc_redis_cmd(r, NULL, NULL, "SET %s %s EX %d", key, data, CATEGORY_CACHE_TTL);
        }
        free(data);
    }
    cat_snapshot_t *snap = cat_snapshot_build(l->list, l->version);
    l->list = NULL;
    if (snap == NULL) {
        deliver(l->waiters, NULL, MC_ERR_INTERNAL, "stored categories are malformed");
    } else {
        if (l->version[0] != '\0') {
            cat_snapshot_release(cw->current);
            cat_snapshot_retain(snap);
            cw->current = snap;
            cw->current_at_ms = mc_now_ms();
        }
        deliver(l->waiters, snap, MC_OK, NULL);
        cat_snapshot_release(snap);
    }
    free(l);
}

/* Joins a load of the same version in flight, or starts one. */
static void load_from_db(mc_req_t *req, cat_snapshot_cb cb, const char *version)
{
    mc_worker_t *w = mc_req_worker(req);
    cat_worker_t *cw = mc_worker_data(w);
    waiter_t *wt = malloc(sizeof(*wt));
    wt->req = req;
    wt->cb = cb;
    mc_req_retain(req);
    for (load_t *l = cw->loads; l != NULL; l = l->next) {
        if (strcmp(l->version, version) == 0 && (version[0] != '\0' || l->write_seq == cw->write_seq)) {
            wt->next = l->waiters;
            l->waiters = wt;
            return;
        }
    }
    load_t *l = calloc(1, sizeof(*l));
    l->w = w;
    snprintf(l->version, sizeof(l->version), "%s", version);
    l->write_seq = cw->write_seq;
    wt->next = NULL;
    l->waiters = wt;
    if (mc_mongo_submit(mc_server_mongo(mc_req_server(req)), mc_worker_loop(w), load_work, load_done, l) != 0) {
        deliver(l->waiters, NULL, MC_ERR_INTERNAL, "could not queue the database read");
        free(l);
        return;
    }
    l->next = cw->loads;
    cw->loads = l;
}

typedef struct read_ctx {
    mc_req_t *req;
    cat_snapshot_cb cb;
} read_ctx_t;

static void on_script(redisReply *reply, const char *err, void *data)
{
    read_ctx_t *rc = data;
    mc_req_t *req = rc->req;
    cat_snapshot_cb cb = rc->cb;
    free(rc);
    cat_worker_t *cw = mc_worker_data(mc_req_worker(req));
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
        reply->element[0]->type != REDIS_REPLY_STRING || reply->element[0]->len >= 33) {
        /* Redis failed us: read the database, uncached. */
        load_from_db(req, cb, "");
        mc_req_release(req);
        return;
    }
    char version[33];
    memcpy(version, reply->element[0]->str, reply->element[0]->len);
    version[reply->element[0]->len] = '\0';
    if (reply->elements == 1 && cw->current != NULL && strcmp(cw->current->version, version) == 0) {
        cb(req, cw->current, MC_OK, NULL);
    } else if (reply->elements == 2 && reply->element[1]->type == REDIS_REPLY_STRING) {
        json_t *list = json_loadb(reply->element[1]->str, reply->element[1]->len, 0, NULL);
        cat_snapshot_t *snap = json_is_array(list) ? cat_snapshot_build(list, version) : (json_decref(list), NULL);
        if (snap != NULL) {
            cat_snapshot_release(cw->current);
            cw->current = snap;
            cw->current_at_ms = mc_now_ms();
            cb(req, snap, MC_OK, NULL);
        } else {
            load_from_db(req, cb, version);
        }
    } else {
        load_from_db(req, cb, version);
    }
    mc_req_release(req);
}

void cat_snapshot_get(mc_req_t *req, cat_snapshot_cb cb)
{
    mc_worker_t *w = mc_req_worker(req);
    cat_worker_t *cw = mc_worker_data(w);
    mc_redis_t *r = mc_worker_redis(w);
    if (r == NULL || !mc_redis_up(r)) {
        load_from_db(req, cb, "");
        return;
    }
    /* A snapshot older than the cache TTL is not trusted: ask for the data again. */
    const char *known = cw->current != NULL && mc_now_ms() - cw->current_at_ms < CATEGORY_CACHE_TTL * 1000
                            ? cw->current->version
                            : "";
    char fresh[33];
    unsigned char rnd[16];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), fresh);
    const char *args[4] = {"category:ver", "category:all:", known, fresh};
    size_t lens[4] = {strlen(args[0]), strlen(args[1]), strlen(known), strlen(fresh)};
    read_ctx_t *rc = malloc(sizeof(*rc));
    rc->req = req;
    rc->cb = cb;
    mc_req_retain(req);
    if (mc_redis_eval(r, script, on_script, rc, 2, 2, args, lens) != 0) {
        free(rc);
        mc_req_release(req);
        load_from_db(req, cb, "");
    }
}

typedef struct inval_ctx {
    mc_req_t *req;
    void (*done)(mc_req_t *);
} inval_ctx_t;

static void on_version_set(redisReply *reply, const char *err, void *data)
{
    inval_ctx_t *ic = data;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        mc_log(MC_LOG_WARN, mc_req_id(ic->req), "could not change the cache version (%s); will retry when Redis is back",
               err ? err : reply->str);
        atomic_store(&invalidation_pending, 1);
    }
    ic->done(ic->req);
    mc_req_release(ic->req);
    free(ic);
}

static int set_new_version(mc_redis_t *r, mc_redis_cb cb, void *data)
{
    char token[33];
    unsigned char rnd[16];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), token);
    return mc_redis_cmd(r, cb, data, "SET category:ver %s", token);
}

void cat_cache_invalidate(mc_req_t *req, void (*done)(mc_req_t *req))
{
    mc_worker_t *w = mc_req_worker(req);
    cat_worker_t *cw = mc_worker_data(w);
    cat_snapshot_release(cw->current);
    cw->current = NULL;
    ++cw->write_seq;
    mc_redis_t *r = mc_worker_redis(w);
    inval_ctx_t *ic = malloc(sizeof(*ic));
    ic->req = req;
    ic->done = done;
    mc_req_retain(req);
    if (r == NULL || set_new_version(r, on_version_set, ic) != 0) {
        atomic_store(&invalidation_pending, 1);
        mc_req_release(req);
        free(ic);
        done(req);
    }
}

static void on_pending_flushed(redisReply *reply, const char *err, void *data)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        atomic_store(&invalidation_pending, 1);
    else
        mc_log_info("cache version changed after Redis came back");
}

void cat_cache_redis_state(mc_worker_t *w, bool up)
{
    if (!up || !atomic_exchange(&invalidation_pending, 0))
        return;
    if (set_new_version(mc_worker_redis(w), on_pending_flushed, NULL) != 0)
        atomic_store(&invalidation_pending, 1);
}
