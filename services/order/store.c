/*
 * Implementation of store.h.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mc_bson_json.h"
#include "mc_log.h"
#include "mc_util.h"
#include "settings.h"
#include "store.h"

#define ORDER_BJ (MC_BJ_ID | MC_BJ_DATES)
#define SCAN_LIMIT 1000 /* documents read from the small collections (outbox, checkouts, tasks) per pass */

/* --- helpers ------------------------------------------------------------------------------------ */

static void clear_error(bson_error_t *err)
{
    memset(err, 0, sizeof(*err));
}

/* The first document matching filter, as JSON; NULL when none (err cleared) or on error. */
static json_t *find_one(mongoc_collection_t *c, const bson_t *filter, unsigned flags, bson_error_t *err)
{
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    json_t *out = NULL;
    clear_error(err);
    if (mongoc_cursor_next(cur, &doc))
        out = mc_bson_to_json(doc, flags);
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    return out;
}

/* A document of a collection keyed by a string _id. */
static json_t *find_str_id(mongoc_database_t *db, const char *coll, const char *id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, coll);
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    json_t *out = find_one(c, f, MC_BJ_DATES, err);
    bson_destroy(f);
    mongoc_collection_destroy(c);
    return out;
}

/* Every document of a (small) collection, up to SCAN_LIMIT, in insertion order. */
static json_t *scan(mongoc_database_t *db, const char *coll, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, coll);
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("limit", BCON_INT64(SCAN_LIMIT));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    json_t *out = json_array();
    const bson_t *doc;
    clear_error(err);
    while (mongoc_cursor_next(cur, &doc))
        json_array_append_new(out, mc_bson_to_json(doc, MC_BJ_DATES));
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    mongoc_collection_destroy(c);
    return out;
}

/* True when FerretDB's SQLite was busy with another writer: the statement did nothing, so
 * a single-document write may simply be sent again. */
static bool busy(const bson_error_t *err)
{
    return strstr(err->message, "database is locked") != NULL || strstr(err->message, "SQLITE_BUSY") != NULL;
}

/* Waits 2, 4, 8… ms before sending a write again. */
static void backoff(int attempt)
{
    struct timespec ts = {0, (long)(2 << attempt) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Inserts a JSON document, sent again while SQLite is busy. */
static bool insert_json(mongoc_database_t *db, const char *coll, const json_t *doc, unsigned flags, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, coll);
    bson_t b = BSON_INITIALIZER;
    bool ok = mc_json_to_bson(doc, &b, flags);
    if (!ok)
        bson_set_error(err, MONGOC_ERROR_BSON, 1, "document cannot be stored");
    else
        for (int attempt = 0; !(ok = mongoc_collection_insert_one(c, &b, NULL, NULL, err)) && busy(err) && attempt < 5; ++attempt)
            backoff(attempt);
    bson_destroy(&b);
    mongoc_collection_destroy(c);
    return ok;
}

/* Deletes by string _id, sent again while SQLite is busy. */
static bool delete_str_id(mongoc_database_t *db, const char *coll, const char *id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, coll);
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    bool ok;
    for (int attempt = 0; !(ok = mongoc_collection_delete_one(c, f, NULL, NULL, err)) && busy(err) && attempt < 5; ++attempt)
        backoff(attempt);
    bson_destroy(f);
    mongoc_collection_destroy(c);
    return ok;
}

static int64_t time_of(const json_t *o, const char *k)
{
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL || mc_time_parse(s, &ms) != 0)
        return 0;
    return ms;
}

/* A one- or two-field index spec. */
static bson_t *index_one(const char *name, bool unique, const char *k1, int d1, const char *k2, int d2)
{
    bson_t *a = bson_new(), d, key;
    BSON_APPEND_DOCUMENT_BEGIN(a, "0", &d);
    BSON_APPEND_DOCUMENT_BEGIN(&d, "key", &key);
    BSON_APPEND_INT32(&key, k1, d1);
    if (k2 != NULL)
        BSON_APPEND_INT32(&key, k2, d2);
    bson_append_document_end(&d, &key);
    BSON_APPEND_UTF8(&d, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&d, "unique", true);
    bson_append_document_end(a, &d);
    return a;
}

int ord_store_init(mc_mongo_t *m, bson_error_t *err)
{
    /* The unique number; the rest serve the queries on MongoDB (FerretDB scans anyway). */
    static const struct {
        const char *name;
        bool unique;
        const char *k1;
        int d1;
        const char *k2;
        int d2;
    } idx[] = {
        {"number_unique", true, "number", 1, NULL, 0},
        {"customer_newest", false, "customerId", 1, "createdAt", -1},
        {"seller_newest", false, "sellerIds", 1, "createdAt", -1},
        {"status_newest", false, "status", 1, "createdAt", -1},
        {"newest", false, "createdAt", -1, "_id", -1},
    };
    /* the janitor's look-up of expired keys */
    bson_t *exp = index_one("expiry", false, "expiresAt", 1, NULL, 0);
    int rexp = mc_mongo_create_indexes(m, "idempotency", exp, 30000, err);
    bson_destroy(exp);
    if (rexp != 0)
        return rexp;
    for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); ++i) {
        bson_t *spec = index_one(idx[i].name, idx[i].unique, idx[i].k1, idx[i].d1, idx[i].k2, idx[i].d2);
        int r = mc_mongo_create_indexes(m, "orders", spec, 30000, err);
        bson_destroy(spec);
        if (r != 0)
            return r;
    }
    return 0;
}

/* --- order numbers ---------------------------------------------------------------------------- */

static pthread_mutex_t num_mu = PTHREAD_MUTEX_INITIALIZER;
static int num_year;
static int64_t num_next, num_end; /* next number to hand out, last one of the block */

static int utc_year(int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    return tm.tm_year + 1900;
}

/* Claims the block after the highest known one of the year. */
static int claim_block(mongoc_database_t *db, int year, int64_t now_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "number_blocks");
    bson_t *filter = BCON_NEW("year", BCON_INT32(year));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    int64_t max = -1;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "block") && bson_iter_as_int64(&it) > max)
            max = bson_iter_as_int64(&it);
    }
    int rc = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    for (int64_t b = max + 1; rc == 0; ++b) {
        char id[48];
        snprintf(id, sizeof(id), "%d:%lld", year, (long long)b);
        bson_t *d = BCON_NEW("_id", BCON_UTF8(id), "year", BCON_INT32(year), "block", BCON_INT64(b), "claimedAt",
                             BCON_DATE_TIME(now_ms));
        bool ok = mongoc_collection_insert_one(c, d, NULL, NULL, err);
        bson_destroy(d);
        if (ok) {
            num_year = year;
            num_next = b * ORD_NUMBER_BLOCK + 1;
            num_end = b * ORD_NUMBER_BLOCK + ORD_NUMBER_BLOCK;
            break;
        }
        if (!mc_mongo_is_duplicate(err))
            rc = -1; /* another process took this block: try the next */
    }
    mongoc_collection_destroy(c);
    return rc;
}

/* A forked child must not hand out its parent's numbers: it starts with no block. */
static void numbers_after_fork(void)
{
    pthread_mutex_init(&num_mu, NULL);
    num_year = 0;
    num_next = num_end = 0;
}

static pthread_once_t num_once = PTHREAD_ONCE_INIT;

/* Registers the fork handler once. */
static void numbers_once(void)
{
    pthread_atfork(NULL, NULL, numbers_after_fork);
}

int ord_number_next(mongoc_database_t *db, int64_t now_ms, char out[32], bson_error_t *err)
{
    int year = utc_year(now_ms);
    pthread_once(&num_once, numbers_once);
    pthread_mutex_lock(&num_mu);
    int rc = 0;
    if (year != num_year || num_next == 0 || num_next > num_end)
        rc = claim_block(db, year, now_ms, err);
    if (rc == 0)
        snprintf(out, 32, "MC-%04d-%06lld", year, (long long)num_next++);
    pthread_mutex_unlock(&num_mu);
    return rc;
}

/* --- orders ---------------------------------------------------------------------------------- */

json_t *ord_get(mongoc_database_t *db, const char *id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "orders");
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id);
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    json_t *out = find_one(c, f, ORDER_BJ, err);
    bson_destroy(f);
    mongoc_collection_destroy(c);
    return out;
}

json_t *ord_get_by_number(mongoc_database_t *db, const char *number, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "orders");
    bson_t *f = BCON_NEW("number", BCON_UTF8(number));
    json_t *out = find_one(c, f, ORDER_BJ, err);
    bson_destroy(f);
    mongoc_collection_destroy(c);
    return out;
}

/* Writes the order document as given (insert, or replace by _id). Two writers upserting
 * the same new document at once (a commit and a roll-forward of it) can both miss it and
 * both insert on FerretDB: the loser sees a duplicate key and replaces instead. */
static bool write_order(mongoc_database_t *db, const json_t *order, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "orders");
    bson_t b = BSON_INITIALIZER;
    bool ok = mc_json_to_bson(order, &b, ORDER_BJ);
    if (!ok) {
        bson_set_error(err, MONGOC_ERROR_BSON, 1, "order cannot be stored");
    } else {
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, json_string_value(json_object_get(order, "id")));
        bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
        bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
        for (int attempt = 0; attempt < 6; ++attempt) {
            ok = mongoc_collection_replace_one(c, f, &b, opts, NULL, err);
            if (ok || !(mc_mongo_is_duplicate(err) || busy(err)))
                break;
            if (busy(err))
                backoff(attempt);
        }
        bson_destroy(opts);
        bson_destroy(f);
    }
    bson_destroy(&b);
    mongoc_collection_destroy(c);
    return ok;
}

/* The outbox entry of an order's latest change (its version claim and its event). */
static json_t *outbox_entry(const json_t *order, const char *type, const char *message, int64_t now_ms, bool deferred)
{
    char id[64], ts[MC_TIME_BUFSZ];
    json_int_t v = json_integer_value(json_object_get(order, "version"));
    snprintf(id, sizeof(id), "%s:%lld", json_string_value(json_object_get(order, "id")), (long long)v);
    return json_pack("{s:s,s:O,s:I,s:s,s:s,s:s,s:b,s:b}", "_id", id, "orderId", json_object_get(order, "id"), "version", v,
                     "type", type, "at", mc_time_format(now_ms, ts), "message", message, "deferred", deferred, "aborted", 0);
}

/* The order an outbox entry carries. */
static json_t *entry_order(const json_t *entry)
{
    const char *msg = json_string_value(json_object_get(entry, "message"));
    json_t *ev = msg != NULL ? json_loads(msg, 0, NULL) : NULL;
    json_t *o = json_incref(json_object_get(ev, "order"));
    json_decref(ev);
    if (o != NULL) {
        /* the stored document keeps its day (the event omits it) */
        int64_t ms = time_of(o, "createdAt");
        char ts[MC_TIME_BUFSZ];
        mc_time_format(ms, ts);
        ts[10] = '\0';
        json_object_set_new(o, "day", json_string(ts));
        json_object_del(o, "view");
    }
    return o;
}

/* Brings the order document up to the entry's version (its writer died). */
static bool roll_forward(mongoc_database_t *db, const json_t *entry, bson_error_t *err)
{
    json_t *o = entry_order(entry);
    if (o == NULL) {
        bson_set_error(err, MONGOC_ERROR_BSON, 1, "outbox entry %s holds no order", json_string_value(json_object_get(entry, "_id")));
        return false;
    }
    mc_log_warn("rolling order %s forward to version %lld (its writer did not finish)",
                json_string_value(json_object_get(o, "id")), (long long)json_integer_value(json_object_get(o, "version")));
    bool ok = write_order(db, o, err);
    json_decref(o);
    return ok;
}

ord_commit_t ord_commit(mongoc_database_t *db, json_t *order, int64_t now_ms, char **message, bool *written, bson_error_t *err)
{
    char number[32];
    *message = NULL;
    *written = false;
    if (ord_number_next(db, now_ms, number, err) != 0)
        return COMMIT_UNKNOWN; /* nothing written yet: an abort is safe, and the sweeper will do it */
    json_object_set_new(order, "number", json_string(number));
    json_t *ev = ord_event(order, "order.created", now_ms);
    *message = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    json_t *entry = outbox_entry(order, "order.created", *message, now_ms, false);
    bool ok = insert_json(db, "outbox", entry, MC_BJ_DATES, err);
    json_decref(entry);
    if (!ok) {
        if (!mc_mongo_is_duplicate(err))
            return COMMIT_UNKNOWN;
        char id[64];
        snprintf(id, sizeof(id), "%s:1", json_string_value(json_object_get(order, "id")));
        json_t *e = find_str_id(db, "outbox", id, err);
        bool aborted = e != NULL && json_is_true(json_object_get(e, "aborted"));
        json_decref(e);
        if (e == NULL)
            return COMMIT_UNKNOWN;
        if (aborted)
            return COMMIT_ABORTED;
    }
    bson_error_t werr;
    *written = write_order(db, order, &werr);
    if (!*written)
        mc_log_warn("order %s: the document will be written by the sweeper: %s", json_string_value(json_object_get(order, "id")),
                    werr.message);
    return COMMIT_DONE;
}

void ord_changed_free(ord_changed_t *c)
{
    json_decref(c->order);
    free(c->message);
    memset(c, 0, sizeof(*c));
}

/* A short wait while another writer finishes its change of the same order. */
static void pause_ms(long ms)
{
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, NULL);
}

int ord_change(mongoc_database_t *db, const char *id, const ord_actor_t *a, const ord_change_t *c, int64_t now_ms,
               ord_changed_t *out, bool *found, bson_error_t *err)
{
    memset(out, 0, sizeof(*out));
    *found = true;
    for (int attempt = 0; attempt < 200; ++attempt) {
        json_t *doc = ord_get(db, id, err);
        if (doc == NULL) {
            if (err->code != 0)
                return -1;
            *found = false;
            return 0;
        }
        out->verdict = ord_decide(doc, a, c, out->why, sizeof(out->why));
        if (out->verdict != ORD_OK) {
            out->order = doc;
            return 0;
        }
        json_int_t v = json_integer_value(json_object_get(doc, "version"));
        json_t *next = ord_apply(doc, a, c, now_ms);
        /* an older event still unpublished: this one must wait for it (ordering) */
        char prev[64];
        snprintf(prev, sizeof(prev), "%s:%lld", id, (long long)v);
        json_t *pe = find_str_id(db, "outbox", prev, err);
        if (pe == NULL && err->code != 0) {
            json_decref(doc);
            json_decref(next);
            return -1;
        }
        out->deferred = pe != NULL;
        json_decref(pe);
        json_t *ev = ord_event(next, ord_event_type(c->act), now_ms);
        char *msg = json_dumps(ev, JSON_COMPACT);
        json_decref(ev);
        json_t *entry = outbox_entry(next, ord_event_type(c->act), msg, now_ms, out->deferred);
        snprintf(out->entry, sizeof(out->entry), "%s", json_string_value(json_object_get(entry, "_id")));
        bool claimed = insert_json(db, "outbox", entry, MC_BJ_DATES, err);
        json_decref(entry);
        if (!claimed) {
            free(msg);
            json_decref(next);
            json_decref(doc);
            if (!mc_mongo_is_duplicate(err))
                return -1;
            /* Someone else's change of this version: wait for it, or finish it for them. */
            json_t *other = find_str_id(db, "outbox", out->entry, err);
            if (other == NULL && err->code != 0)
                return -1;
            if (other != NULL && now_ms - time_of(other, "at") >= ORD_ROLL_FORWARD_MS && !json_is_true(json_object_get(other, "aborted"))) {
                json_t *cur = ord_get(db, id, err);
                if (cur != NULL && json_integer_value(json_object_get(cur, "version")) < v + 1 && !roll_forward(db, other, err)) {
                    json_decref(cur);
                    json_decref(other);
                    return -1;
                }
                json_decref(cur);
            } else {
                pause_ms(5 + (attempt % 8) * 5);
            }
            json_decref(other);
            now_ms = mc_now_ms();
            continue;
        }
        /* Claimed: make sure the order did not move on meanwhile (an older claim of this
         * version was already published and removed). */
        json_t *cur = ord_get(db, id, err);
        if (cur == NULL || json_integer_value(json_object_get(cur, "version")) != v) {
            bson_error_t e2;
            delete_str_id(db, "outbox", out->entry, &e2);
            json_decref(cur);
            json_decref(next);
            json_decref(doc);
            free(msg);
            if (cur == NULL && err->code != 0)
                return -1;
            now_ms = mc_now_ms();
            continue;
        }
        json_decref(cur);
        json_decref(doc);
        out->written = write_order(db, next, err);
        if (!out->written) {
            /* The claim stands: the order will be rolled forward to it. */
            mc_log_warn("order %s version %lld: document not written (%s); it will be rolled forward", id, (long long)(v + 1),
                        err->message);
        }
        if (c->act == ACT_CANCEL) {
            char tid[64], ts[MC_TIME_BUFSZ];
            snprintf(tid, sizeof(tid), "%s:release", id);
            json_t *task = json_pack("{s:s,s:s,s:b,s:s}", "_id", tid, "orderId", id, "coupon",
                                     json_is_object(json_object_get(next, "coupon")), "at", mc_time_format(now_ms, ts));
            bson_error_t e2;
            if (!insert_json(db, "tasks", task, MC_BJ_DATES, &e2) && !mc_mongo_is_duplicate(&e2))
                mc_log_warn("order %s: release task not recorded (%s); the drainer will add it", id, e2.message);
            json_decref(task);
        }
        out->order = next;
        out->message = msg;
        clear_error(err);
        return 0;
    }
    out->verdict = ORD_ILLEGAL;
    out->conflict = true;
    snprintf(out->why, sizeof(out->why), "the order is being changed by others at the same moment; retry");
    return 0;
}

/* --- outbox ------------------------------------------------------------------------------------- */

void ord_outbox_delete(mongoc_database_t *db, const char *entry_id)
{
    bson_error_t err;
    if (!delete_str_id(db, "outbox", entry_id, &err))
        mc_log_warn("outbox entry %s not removed (%s); it will be published again", entry_id, err.message);
}

/* Outbox entries by order, then version. */
static int by_order_version(const void *a, const void *b)
{
    const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
    int c = strcmp(json_string_value(json_object_get(x, "orderId")) ?: "", json_string_value(json_object_get(y, "orderId")) ?: "");
    if (c != 0)
        return c;
    json_int_t vx = json_integer_value(json_object_get(x, "version")), vy = json_integer_value(json_object_get(y, "version"));
    return vx < vy ? -1 : vx > vy;
}

/* A cancellation's release task, recreated when its writer died before recording it. */
static void ensure_task(mongoc_database_t *db, const json_t *entry)
{
    json_t *o = entry_order(entry);
    if (o == NULL)
        return;
    char tid[64];
    const char *oid = json_string_value(json_object_get(o, "id"));
    snprintf(tid, sizeof(tid), "%s:release", oid);
    json_t *task = json_pack("{s:s,s:s,s:b,s:O}", "_id", tid, "orderId", oid, "coupon", json_is_object(json_object_get(o, "coupon")),
                             "at", json_object_get(entry, "at"));
    bson_error_t e;
    insert_json(db, "tasks", task, MC_BJ_DATES, &e);
    json_decref(task);
    json_decref(o);
}

json_t *ord_outbox_due(mongoc_database_t *db, int64_t now_ms, int limit, bson_error_t *err)
{
    json_t *all = scan(db, "outbox", err);
    if (all == NULL)
        return NULL;
    size_t n = json_array_size(all);
    json_t **v = calloc(n ? n : 1, sizeof(json_t *));
    for (size_t i = 0; i < n; ++i)
        v[i] = json_array_get(all, i);
    qsort(v, n, sizeof(json_t *), by_order_version);
    json_t *out = json_array();
    for (size_t i = 0; i < n && (int)json_array_size(out) < limit;) {
        const char *oid = json_string_value(json_object_get(v[i], "orderId"));
        size_t j = i;
        while (j < n && strcmp(json_string_value(json_object_get(v[j], "orderId")) ?: "", oid ?: "") == 0)
            ++j;
        /* entries i..j-1 are this order's, oldest first */
        const json_t *first = v[i];
        bool skip = oid == NULL || !mc_is_object_id(oid, strlen(oid)) || json_is_true(json_object_get(first, "aborted")) ||
                    (!json_is_true(json_object_get(first, "deferred")) && now_ms - time_of(first, "at") < ORD_FAST_PATH_MS);
        json_t *doc = NULL;
        if (!skip) {
            doc = ord_get(db, oid, err);
            if (doc == NULL && err->code != 0)
                break;
        }
        json_int_t have = doc != NULL ? json_integer_value(json_object_get(doc, "version")) : 0;
        for (size_t k = i; k < j && !skip && (int)json_array_size(out) < limit; ++k) {
            const json_t *e = v[k];
            json_int_t ver = json_integer_value(json_object_get(e, "version"));
            if (json_is_true(json_object_get(e, "aborted")))
                break;
            if (have < ver) {
                if (now_ms - time_of(e, "at") < ORD_ROLL_FORWARD_MS)
                    break; /* its writer may still be at work: publish nothing it has not written */
                if (!roll_forward(db, e, err))
                    break;
                have = ver;
            }
            const char *type = json_string_value(json_object_get(e, "type"));
            if (type != NULL && strcmp(type, "order.cancelled") == 0)
                ensure_task(db, e);
            json_array_append_new(out, json_pack("{s:O,s:O}", "id", json_object_get(e, "_id"), "message", json_object_get(e, "message")));
        }
        json_decref(doc);
        i = j;
    }
    free(v);
    json_decref(all);
    clear_error(err);
    return out;
}

/* --- checkouts ----------------------------------------------------------------------------------- */

int ord_checkout_begin(mongoc_database_t *db, const char *order_id, const char *customer, const char *coupon,
                       const char *idem_id, int64_t now_ms, int64_t lease_ms, bson_error_t *err)
{
    char ts[MC_TIME_BUFSZ], lease[MC_TIME_BUFSZ];
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s}", "_id", order_id, "customerId", customer, "leaseUntil",
                            mc_time_format(now_ms + lease_ms, lease), "couponCode", coupon, "idemKey", idem_id, "createdAt",
                            mc_time_format(now_ms, ts));
    bool ok = insert_json(db, "checkouts", doc, MC_BJ_DATES, err);
    json_decref(doc);
    return ok ? 0 : -1;
}

void ord_checkout_end(mongoc_database_t *db, const char *order_id)
{
    bson_error_t err;
    if (!delete_str_id(db, "checkouts", order_id, &err))
        mc_log_warn("checkout %s not removed (%s); the sweeper will settle it again", order_id, err.message);
}

json_t *ord_checkout_expired(mongoc_database_t *db, int64_t now_ms, int limit, bson_error_t *err)
{
    json_t *all = scan(db, "checkouts", err);
    if (all == NULL)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *c;
    json_array_foreach(all, i, c) if (time_of(c, "leaseUntil") < now_ms && (int)json_array_size(out) < limit)
        json_array_append(out, c);
    json_decref(all);
    return out;
}

int ord_checkout_settle(mongoc_database_t *db, const char *order_id, int64_t now_ms, ord_settle_t *out, json_t **order,
                        bson_error_t *err)
{
    char id[64], ts[MC_TIME_BUFSZ];
    snprintf(id, sizeof(id), "%s:1", order_id);
    *order = NULL;
    for (int attempt = 0; attempt < 3; ++attempt) {
        json_t *e = find_str_id(db, "outbox", id, err);
        if (e == NULL && err->code != 0)
            return -1;
        if (e != NULL) {
            if (json_is_true(json_object_get(e, "aborted"))) {
                *out = SETTLE_ABORTED;
                json_decref(e);
                return 0;
            }
            json_t *doc = ord_get(db, order_id, err);
            if (doc == NULL && err->code != 0) {
                json_decref(e);
                return -1;
            }
            if (doc == NULL) {
                if (!roll_forward(db, e, err)) {
                    json_decref(e);
                    return -1;
                }
                doc = ord_get(db, order_id, err);
            }
            json_decref(e);
            if (doc == NULL)
                return -1;
            *out = SETTLE_COMMITTED;
            *order = doc;
            return 0;
        }
        json_t *doc = ord_get(db, order_id, err);
        if (doc == NULL && err->code != 0)
            return -1;
        if (doc != NULL) { /* committed, published and the entry removed */
            *out = SETTLE_COMMITTED;
            *order = doc;
            return 0;
        }
        json_t *abort = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:b,s:b}", "_id", id, "orderId", order_id, "version", 1, "type",
                                  "checkout.aborted", "at", mc_time_format(now_ms, ts), "message", "", "deferred", 0, "aborted", 1);
        bool ok = insert_json(db, "outbox", abort, MC_BJ_DATES, err);
        json_decref(abort);
        if (ok) {
            *out = SETTLE_ABORTED;
            return 0;
        }
        if (!mc_mongo_is_duplicate(err))
            return -1;
        /* the checkout committed at this very moment: look again */
    }
    bson_set_error(err, MONGOC_ERROR_QUERY, 1, "checkout %s did not settle", order_id);
    return -1;
}

/* --- idempotency ----------------------------------------------------------------------------------- */

/* Judges an existing record of the key. 1 when it decided (*out set), 0 when the record is
 * to be ignored (expired, or its request died before any side effect: it was removed),
 * -1 on error. */
static int idem_judge(mongoc_database_t *db, json_t *rec, const char *idem_id, const char *hash, int64_t now_ms, ord_idem_t *out,
                      int *status, char **body, bson_error_t *err)
{
    const char *state = json_string_value(json_object_get(rec, "state"));
    if (time_of(rec, "expiresAt") <= now_ms) {
        delete_str_id(db, "idempotency", idem_id, err);
        return 0;
    }
    if (strcmp(json_string_value(json_object_get(rec, "hash")) ?: "", hash) != 0) {
        *out = IDEM_MISMATCH;
        return 1;
    }
    if (state != NULL && strcmp(state, "done") == 0) {
        *out = IDEM_REPLAY;
        *status = (int)json_integer_value(json_object_get(rec, "status"));
        const char *b = json_string_value(json_object_get(rec, "body"));
        *body = strdup(b != NULL ? b : "");
        return 1;
    }
    if (time_of(rec, "leaseUntil") > now_ms) {
        *out = IDEM_RUNNING;
        return 1;
    }
    /* Its request died. With a checkout record, the sweeper settles it (and this record);
     * with an order, only the answer is missing; with neither, it never got as far as a
     * side effect: start over. */
    const char *prev = json_string_value(json_object_get(rec, "orderId"));
    if (prev == NULL || !mc_is_object_id(prev, strlen(prev))) {
        delete_str_id(db, "idempotency", idem_id, err);
        return 0;
    }
    json_t *co = find_str_id(db, "checkouts", prev, err);
    if (co == NULL && err->code != 0)
        return -1;
    if (co != NULL) {
        json_decref(co);
        *out = IDEM_RUNNING;
        return 1;
    }
    json_t *ord = ord_get(db, prev, err);
    if (ord == NULL && err->code != 0)
        return -1;
    if (ord == NULL) {
        delete_str_id(db, "idempotency", idem_id, err);
        return 0;
    }
    ord_actor_t owner = {.role = MC_ROLE_CUSTOMER};
    snprintf(owner.user_id, sizeof(owner.user_id), "%.24s", idem_id);
    json_t *view = ord_view(ord, &owner);
    *body = view != NULL ? json_dumps(view, JSON_COMPACT) : strdup("{}");
    json_decref(view);
    json_decref(ord);
    *status = 201;
    *out = IDEM_REPLAY;
    ord_idem_finish(db, idem_id, 201, *body, now_ms);
    return 1;
}

int ord_idem_peek(mongoc_database_t *db, const char *idem_id, const char *hash, int64_t now_ms, ord_idem_t *out, int *status,
                  char **body, bson_error_t *err)
{
    *out = IDEM_NEW;
    *body = NULL;
    json_t *rec = find_str_id(db, "idempotency", idem_id, err);
    if (rec == NULL)
        return err->code != 0 ? -1 : 0;
    int r = idem_judge(db, rec, idem_id, hash, now_ms, out, status, body, err);
    json_decref(rec);
    if (r == 0)
        *out = IDEM_NEW;
    return r < 0 ? -1 : 0;
}

int ord_idem_begin(mongoc_database_t *db, const char *idem_id, const char *hash, const char *order_id, int64_t now_ms,
                   ord_idem_t *out, int *status, char **body, bson_error_t *err)
{
    /* the key's lease outlives the checkout's, whose record then tells what happened */
    int64_t lease_ms = ord_settings.lease_ms + 30000, ttl_ms = ord_settings.idem_ttl_ms;
    char ts[MC_TIME_BUFSZ], lease[MC_TIME_BUFSZ], exp[MC_TIME_BUFSZ];
    *body = NULL;
    for (int attempt = 0; attempt < 4; ++attempt) {
        json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:s}", "_id", idem_id, "hash", hash, "state", "running", "orderId",
                                order_id, "leaseUntil", mc_time_format(now_ms + lease_ms, lease), "expiresAt",
                                mc_time_format(now_ms + ttl_ms, exp), "createdAt", mc_time_format(now_ms, ts));
        bool ok = insert_json(db, "idempotency", doc, MC_BJ_DATES, err);
        json_decref(doc);
        if (ok) {
            *out = IDEM_NEW;
            return 0;
        }
        if (!mc_mongo_is_duplicate(err))
            return -1;
        json_t *rec = find_str_id(db, "idempotency", idem_id, err);
        if (rec == NULL) {
            if (err->code != 0)
                return -1;
            continue; /* removed meanwhile */
        }
        int r = idem_judge(db, rec, idem_id, hash, now_ms, out, status, body, err);
        json_decref(rec);
        if (r != 0)
            return r < 0 ? -1 : 0;
    }
    bson_set_error(err, MONGOC_ERROR_QUERY, 1, "idempotency key did not settle");
    return -1;
}

void ord_idem_finish(mongoc_database_t *db, const char *idem_id, int status, const char *body, int64_t now_ms)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "idempotency");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(idem_id));
    bson_t *u = BCON_NEW("$set", "{", "state", BCON_UTF8("done"), "status", BCON_INT32(status), "body", BCON_UTF8(body),
                         "finishedAt", BCON_DATE_TIME(now_ms), "}");
    bson_error_t err;
    if (!mongoc_collection_update_one(c, f, u, NULL, NULL, &err))
        mc_log_warn("idempotency record %s not finished: %s", idem_id, err.message);
    bson_destroy(u);
    bson_destroy(f);
    mongoc_collection_destroy(c);
}

void ord_idem_drop(mongoc_database_t *db, const char *idem_id)
{
    bson_error_t err;
    delete_str_id(db, "idempotency", idem_id, &err);
}

void ord_idem_expire(mongoc_database_t *db, int64_t now_ms)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "idempotency");
    bson_t *f = BCON_NEW("expiresAt", "{", "$lt", BCON_DATE_TIME(now_ms), "}");
    bson_error_t err;
    if (!mongoc_collection_delete_many(c, f, NULL, NULL, &err))
        mc_log_warn("expired idempotency keys not deleted: %s", err.message);
    bson_destroy(f);
    mongoc_collection_destroy(c);
}

/* --- tasks ----------------------------------------------------------------------------------------- */

void ord_task_done(mongoc_database_t *db, const char *order_id)
{
    char tid[64];
    snprintf(tid, sizeof(tid), "%s:release", order_id);
    bson_error_t err;
    delete_str_id(db, "tasks", tid, &err);
}

json_t *ord_tasks_due(mongoc_database_t *db, int64_t now_ms, int64_t min_age_ms, int limit, bson_error_t *err)
{
    json_t *all = scan(db, "tasks", err);
    if (all == NULL)
        return NULL;
    json_t *out = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(all, i, t) if (now_ms - time_of(t, "at") >= min_age_ms && (int)json_array_size(out) < limit)
        json_array_append(out, t);
    json_decref(all);
    return out;
}

/* --- queries ----------------------------------------------------------------------------------------- */

static void append_range(bson_t *f, const char *key, bool has_from, int64_t from, bool has_to, int64_t to)
{
    if (!has_from && !has_to)
        return;
    bson_t r;
    BSON_APPEND_DOCUMENT_BEGIN(f, key, &r);
    if (has_from)
        BSON_APPEND_DATE_TIME(&r, "$gte", from);
    if (has_to)
        BSON_APPEND_DATE_TIME(&r, "$lt", to);
    bson_append_document_end(f, &r);
}

json_t *ord_list(mongoc_database_t *db, const ord_query_t *q, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "orders");
    bson_t base = BSON_INITIALIZER, filter;
    if (q->customer)
        BSON_APPEND_UTF8(&base, "customerId", q->customer);
    if (q->seller)
        BSON_APPEND_UTF8(&base, "sellerIds", q->seller);
    if (q->status)
        BSON_APPEND_UTF8(&base, "status", q->status);
    if (q->payment)
        BSON_APPEND_UTF8(&base, "paymentStatus", q->payment);
    append_range(&base, "createdAt", q->has_from, q->from_ms, q->has_to, q->to_ms);
    bson_copy_to(&base, &filter);
    json_t *out = NULL, *items = json_array(), *cursors = json_array();
    mongoc_cursor_t *cur = NULL;
    bson_t *opts = NULL;
    int64_t total = mongoc_collection_count_documents(c, &base, NULL, NULL, NULL, err);
    if (total < 0)
        goto Done;
    if (q->has_after) {
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, q->after_id);
        bson_t or, a, b, lt;
        BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &or);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &a);
        BSON_APPEND_DOCUMENT_BEGIN(&a, "createdAt", &lt);
        BSON_APPEND_DATE_TIME(&lt, "$lt", q->after_ms);
        bson_append_document_end(&a, &lt);
        bson_append_document_end(&or, &a);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &b);
        BSON_APPEND_DATE_TIME(&b, "createdAt", q->after_ms);
        BSON_APPEND_DOCUMENT_BEGIN(&b, "_id", &lt);
        BSON_APPEND_OID(&lt, "$lt", &oid);
        bson_append_document_end(&b, &lt);
        bson_append_document_end(&or, &b);
        bson_append_array_end(&filter, &or);
    }
    opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(q->limit + 1));
    cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc))
        json_array_append_new(items, mc_bson_to_json(doc, ORDER_BJ));
    if (mongoc_cursor_error(cur, err))
        goto Done;
    bool more = json_array_size(items) > (size_t)q->limit;
    if (more)
        json_array_remove(items, (size_t)q->limit);
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        char buf[64];
        snprintf(buf, sizeof(buf), "%lld.%s", (long long)time_of(it, "createdAt"), json_string_value(json_object_get(it, "id")));
        json_array_append_new(cursors, json_string(buf));
    }
    out = json_pack("{s:O,s:O,s:I,s:b}", "items", items, "cursors", cursors, "totalCount", (json_int_t)total, "hasNextPage", more);
Done:
    json_decref(items);
    json_decref(cursors);
    if (cur != NULL)
        mongoc_cursor_destroy(cur);
    if (opts != NULL)
        bson_destroy(opts);
    bson_destroy(&filter);
    bson_destroy(&base);
    mongoc_collection_destroy(c);
    return out;
}

/* A number an aggregation computed: servers may give a sum as an int32, an int64 or a
 * double (FerretDB does for $sum over int64 fields). */
static json_int_t agg_num(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v))
        return (json_int_t)(json_real_value(v) + (json_real_value(v) >= 0 ? 0.5 : -0.5));
    return 0;
}

/* Runs an aggregation; the result documents as JSON, or NULL on error. */
static json_t *aggregate(mongoc_database_t *db, const bson_t *pipeline, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "orders");
    mongoc_cursor_t *cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, pipeline, NULL, NULL);
    json_t *out = json_array();
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc))
        json_array_append_new(out, mc_bson_to_json(doc, MC_BJ_DATES));
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    return out;
}

/* One measure by aggregation: the orders created in [from, to) (the seller's, the live
 * ones — not cancelled — when asked), optionally one document per line of the seller's
 * (lines), grouped by `key` with one sum `acc` (a field path, or NULL to count). Returns
 * [{_id, v}] or NULL on error.
 *
 * Two FerretDB 1.24 traps shape this: it hands every accumulator of a $group the same
 * iterator over the group's documents, so only the first one sees them (the others return
 * 0) — hence one accumulator per $group; and its $unwind keeps only `_id` and the unwound
 * field — hence a measure over lines can group by the line's fields or the order's `_id`,
 * nothing else of the order. key: a field path, "product" ({productId, name} of a line) or
 * "order_day" ({order, day}). */
static json_t *measure(mongoc_database_t *db, const char *seller, int64_t from, int64_t to, bool live, bool lines,
                       const char *key, const char *acc, bson_error_t *err)
{
    bson_t pipeline = BSON_INITIALIZER, st, m, ne, g, k, sum;
    int n = 0;
    char idx[8];
    snprintf(idx, sizeof(idx), "%d", n++);
    BSON_APPEND_DOCUMENT_BEGIN(&pipeline, idx, &st);
    BSON_APPEND_DOCUMENT_BEGIN(&st, "$match", &m);
    append_range(&m, "createdAt", true, from, true, to);
    if (seller)
        BSON_APPEND_UTF8(&m, "sellerIds", seller);
    if (live) {
        BSON_APPEND_DOCUMENT_BEGIN(&m, "status", &ne);
        BSON_APPEND_UTF8(&ne, "$ne", "cancelled");
        bson_append_document_end(&m, &ne);
    }
    bson_append_document_end(&st, &m);
    bson_append_document_end(&pipeline, &st);
    if (lines) {
        snprintf(idx, sizeof(idx), "%d", n++);
        BCON_APPEND(&pipeline, idx, "{", "$unwind", BCON_UTF8("$items"), "}");
        if (seller) {
            snprintf(idx, sizeof(idx), "%d", n++);
            BCON_APPEND(&pipeline, idx, "{", "$match", "{", "items.sellerId", BCON_UTF8(seller), "}", "}");
        }
    }
    snprintf(idx, sizeof(idx), "%d", n++);
    BSON_APPEND_DOCUMENT_BEGIN(&pipeline, idx, &st);
    BSON_APPEND_DOCUMENT_BEGIN(&st, "$group", &g);
    if (strcmp(key, "product") == 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&g, "_id", &k);
        BSON_APPEND_UTF8(&k, "productId", "$items.productId");
        BSON_APPEND_UTF8(&k, "name", "$items.name");
        bson_append_document_end(&g, &k);
    } else if (strcmp(key, "order_day") == 0) {
        BSON_APPEND_DOCUMENT_BEGIN(&g, "_id", &k);
        BSON_APPEND_UTF8(&k, "order", "$_id");
        BSON_APPEND_UTF8(&k, "day", "$day");
        bson_append_document_end(&g, &k);
    } else {
        BSON_APPEND_UTF8(&g, "_id", key);
    }
    BSON_APPEND_DOCUMENT_BEGIN(&g, "v", &sum);
    if (acc != NULL)
        BSON_APPEND_UTF8(&sum, "$sum", acc);
    else
        BSON_APPEND_INT32(&sum, "$sum", 1);
    bson_append_document_end(&g, &sum);
    bson_append_document_end(&st, &g);
    bson_append_document_end(&pipeline, &st);
    json_t *out = aggregate(db, &pipeline, err);
    bson_destroy(&pipeline);
    return out;
}

/* The value of group key (a string) in [{_id, v}], 0 when absent. */
static json_int_t value_of(const json_t *groups, const char *key)
{
    size_t i;
    json_t *g;
    json_array_foreach(groups, i, g)
    {
        const char *id = json_string_value(json_object_get(g, "_id"));
        if (id != NULL && strcmp(id, key) == 0)
            return agg_num(json_object_get(g, "v"));
    }
    return 0;
}

json_t *ord_stats(mongoc_database_t *db, const char *seller, int64_t from_ms, int64_t to_ms, bson_error_t *err)
{
    json_t *out = NULL, *by_status = NULL, *by_pay = NULL, *qty = NULL, *rev = NULL, *day_orders = NULL, *day_rev = NULL;
    json_t *order_rev = NULL, *order_day = NULL;
    /* orders by status (every order with the seller's products, or every order) */
    if ((by_status = measure(db, seller, from_ms, to_ms, false, false, "$status", NULL, err)) == NULL)
        goto Done;
    if (seller == NULL && (by_pay = measure(db, NULL, from_ms, to_ms, false, false, "$paymentStatus", NULL, err)) == NULL)
        goto Done;
    /* live lines (the seller's only) by product: units, and revenue after discounts */
    if ((qty = measure(db, seller, from_ms, to_ms, true, true, "product", "$items.quantity", err)) == NULL ||
        (rev = measure(db, seller, from_ms, to_ms, true, true, "product", "$items.total", err)) == NULL)
        goto Done;
    /* per day: live orders, and revenue (the seller's lines, or order totals) */
    if ((day_orders = measure(db, seller, from_ms, to_ms, true, false, "$day", NULL, err)) == NULL)
        goto Done;
    if (seller == NULL) {
        if ((day_rev = measure(db, NULL, from_ms, to_ms, true, false, "$day", "$total", err)) == NULL)
            goto Done;
    } else {
        /* the seller's revenue per order (over their lines), joined with each order's day */
        if ((order_rev = measure(db, seller, from_ms, to_ms, true, true, "$_id", "$items.total", err)) == NULL ||
            (order_day = measure(db, seller, from_ms, to_ms, true, false, "order_day", NULL, err)) == NULL)
            goto Done;
        json_t *days = json_object();
        size_t a, b;
        json_t *od, *orv;
        json_array_foreach(order_day, a, od)
        {
            const char *oid = json_string_value(json_object_get(json_object_get(od, "_id"), "order"));
            const char *day = json_string_value(json_object_get(json_object_get(od, "_id"), "day"));
            if (oid == NULL || day == NULL)
                continue;
            json_array_foreach(order_rev, b, orv) if (strcmp(json_string_value(json_object_get(orv, "_id")) ?: "", oid) == 0)
            {
                json_int_t have = json_integer_value(json_object_get(days, day));
                json_object_set_new(days, day, json_integer(have + agg_num(json_object_get(orv, "v"))));
            }
        }
        day_rev = json_array();
        const char *day;
        json_t *v;
        json_object_foreach(days, day, v) json_array_append_new(day_rev, json_pack("{s:s,s:O}", "_id", day, "v", v));
        json_decref(days);
    }

    static const char *const statuses[] = {"pending", "confirmed", "processing", "shipped", "delivered", "cancelled"};
    json_t *counts = json_object();
    json_int_t orders = 0;
    for (size_t i = 0; i < 6; ++i) {
        json_int_t n = value_of(by_status, statuses[i]);
        json_object_set_new(counts, statuses[i], json_integer(n));
        orders += n;
    }
    /* products: merge groups of one product sold under several names (the latest wins) */
    json_t *products = json_object();
    json_int_t items_sold = 0;
    size_t i;
    json_t *g;
    for (int pass = 0; pass < 2; ++pass) {
        json_array_foreach(pass == 0 ? qty : rev, i, g)
        {
            json_t *id = json_object_get(g, "_id");
            const char *pid = json_string_value(json_object_get(id, "productId"));
            if (pid == NULL)
                continue;
            json_int_t v = agg_num(json_object_get(g, "v"));
            json_t *p = json_object_get(products, pid);
            if (p == NULL) {
                p = json_pack("{s:s,s:O,s:I,s:I}", "productId", pid, "name", json_object_get(id, "name") ?: json_null(), "quantity",
                              (json_int_t)0, "revenue", (json_int_t)0);
                json_object_set_new(products, pid, p);
            }
            const char *field = pass == 0 ? "quantity" : "revenue";
            json_object_set_new(p, field, json_integer(json_integer_value(json_object_get(p, field)) + v));
            if (pass == 0)
                items_sold += v;
        }
    }
    /* top 10 by revenue, then units, then id */
    json_t *top = json_array();
    for (int k = 0; k < 10; ++k) {
        const char *key, *best_key = NULL;
        json_t *p, *best = NULL;
        json_object_foreach(products, key, p)
        {
            if (json_is_true(json_object_get(p, "taken")))
                continue;
            json_int_t r = json_integer_value(json_object_get(p, "revenue")), q = json_integer_value(json_object_get(p, "quantity"));
            json_int_t br = best ? json_integer_value(json_object_get(best, "revenue")) : 0;
            json_int_t bq = best ? json_integer_value(json_object_get(best, "quantity")) : 0;
            if (best == NULL || r > br || (r == br && q > bq) || (r == br && q == bq && strcmp(key, best_key) < 0)) {
                best = p;
                best_key = key;
            }
        }
        if (best == NULL)
            break;
        json_array_append_new(top, json_deep_copy(best));
        json_object_set_new(best, "taken", json_true());
    }
    json_decref(products);
    /* per-day series, every day of the range */
    json_t *series = json_array();
    json_int_t live = 0, revenue = 0;
    for (int64_t d = from_ms - (from_ms % 86400000 + 86400000) % 86400000; d < to_ms; d += 86400000) {
        char ts[MC_TIME_BUFSZ];
        mc_time_format(d, ts);
        ts[10] = '\0';
        json_int_t n = value_of(day_orders, ts), r = value_of(day_rev, ts);
        live += n;
        revenue += r;
        json_array_append_new(series, json_pack("{s:s,s:I,s:I}", "day", ts, "orders", n, "revenue", r));
    }
    char fts[MC_TIME_BUFSZ], tts[MC_TIME_BUFSZ];
    out = json_pack("{s:s,s:s,s:I,s:o,s:I,s:I,s:I,s:o,s:o}", "from", mc_time_format(from_ms, fts), "to", mc_time_format(to_ms, tts),
                    "orders", orders, "ordersByStatus", counts, "revenue", revenue, "itemsSold", items_sold, "averageOrderValue",
                    live > 0 ? revenue / live : 0, "topProducts", top, "perDay", series);
    if (seller != NULL) {
        json_object_set_new(out, "sellerId", json_string(seller));
    } else {
        json_t *pay = json_object();
        static const char *const payments[] = {"unpaid", "paid", "refunded"};
        for (size_t k = 0; k < 3; ++k)
            json_object_set_new(pay, payments[k], json_integer(value_of(by_pay, payments[k])));
        json_object_set_new(out, "ordersByPaymentStatus", pay);
    }
Done:
    json_decref(by_status);
    json_decref(by_pay);
    json_decref(qty);
    json_decref(rev);
    json_decref(day_orders);
    json_decref(day_rev);
    json_decref(order_rev);
    json_decref(order_day);
    return out;
}
