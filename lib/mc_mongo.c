/*
 * Implementation of mc_mongo.h (everything but mc_mongo_submit_req, which lives in
 * mc_mongo_req.c so that this file does not depend on the HTTP core).
 *
 * Threads. Jobs run on the libuv thread pool, which libuv sizes once, from
 * UV_THREADPOOL_SIZE, the first time any loop queues work; mc_server_run sets it (default
 * 16) before its workers start, so this module never touches it. That size bounds how
 * many jobs talk to the database at once; the mongoc pool's own maximum (100 by default)
 * is larger, so a job never waits for a client. The same thread pool also runs libuv's
 * file-system requests and name look-ups (mc_redis, mc_http use it for those).
 *
 * Fail fast. The state `down` is shared by every thread (atomics only). A job that
 * finds the database unreachable (MC_ERR_UNAVAILABLE) marks it down and sets the next
 * probe time MONGODB_RETRY_MS ahead; until then, jobs are answered UNAVAILABLE without
 * running, and the answer comes through a zero timer on the submitting loop rather than
 * the thread pool (which may be full of jobs that are still waiting for a server). After
 * the probe time one job — the first to claim `probing` — runs normally as the probe;
 * if it gets anything but UNAVAILABLE the database is up again.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mc_config.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_util.h"

/* Defaults appended to a URI that does not set them: a down server is noticed in about
 * two seconds instead of the driver's 30 (selection) or 10 (connect); a hung one after
 * five. */
#define MC_MONGO_CONNECT_TIMEOUT_MS 2000
#define MC_MONGO_SELECTION_TIMEOUT_MS 2000
#define MC_MONGO_SOCKET_TIMEOUT_MS 5000
/* Pause between attempts of the blocking start-up helpers. */
#define MC_MONGO_BLOCKING_RETRY_MS 250

struct mc_mongo {
    mongoc_uri_t *uri;
    mongoc_client_pool_t *pool;
    char *dbname;
    unsigned retry_ms;
    atomic_bool down;
    atomic_llong next_probe_ms; /* monotonic milliseconds */
    atomic_bool probing;
};

/* One queued job. Fast-failed jobs use `timer` instead of `work`. */
typedef struct mc_mongo_job {
    union {
        uv_work_t work;
        uv_timer_t timer;
    } u;
    mc_mongo_t *m;
    mc_mongo_work_cb work_cb;
    mc_mongo_done_cb done_cb;
    void *arg;
    bool probe;
    mc_mongo_result_t res;
} mc_mongo_job_t;

static __thread mc_mongo_t *tl_current;

static long long mono_ms(void)
{
    return (long long)(mc_mono_ns() / 1000000u);
}

mc_mongo_t *mc_mongo_current(void)
{
    return tl_current;
}

const char *mc_mongo_dbname(const mc_mongo_t *m)
{
    return m->dbname;
}

/* --- up/down state -------------------------------------------------------------------- */

static void mark_down(mc_mongo_t *m, const bson_error_t *err)
{
    atomic_store(&m->next_probe_ms, mono_ms() + (long long)m->retry_ms);
    if (!atomic_exchange(&m->down, true))
        mc_log_warn("mongodb: unreachable (%s); failing fast, probing every %u ms", err != NULL ? err->message : "?",
                    m->retry_ms);
}

static void mark_up(mc_mongo_t *m)
{
    if (atomic_exchange(&m->down, false))
        mc_log_info("mongodb: reachable again");
}

/* Decides whether a job may run now. Sets *probe when it runs as the probe. */
static bool may_run(mc_mongo_t *m, bool *probe)
{
    if (*probe || !atomic_load(&m->down))
        return true;
    if (mono_ms() < atomic_load(&m->next_probe_ms))
        return false;
    bool expected = false;
    if (atomic_compare_exchange_strong(&m->probing, &expected, true)) {
        *probe = true;
        return true;
    }
    return false;
}

static void set_fast_fail(mc_mongo_t *m, mc_mongo_result_t *res)
{
    res->err = MC_ERR_UNAVAILABLE;
    bson_set_error(&res->bson, MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE,
                   "database unavailable (retrying every %u ms)", m->retry_ms);
}

/* --- error classification ------------------------------------------------------------- */

/* The mapping of mc_mongo_classify without the side effect; pure, unit-tested. */
static mc_err_t classify_error(const bson_error_t *e)
{
    if (e == NULL || (e->domain == 0 && e->code == 0))
        return MC_ERR_INTERNAL;
    switch (e->domain) {
    case MONGOC_ERROR_SERVER_SELECTION: /* no server answered within the selection timeout */
    case MONGOC_ERROR_STREAM:           /* resolve, connect, socket errors and socket timeouts */
    case MONGOC_ERROR_PROTOCOL:         /* a reply cut off or garbled: the connection broke */
        return MC_ERR_UNAVAILABLE;
    case MONGOC_ERROR_CLIENT:
        return e->code == MONGOC_ERROR_CLIENT_NOT_READY || e->code == MONGOC_ERROR_CLIENT_NO_ACCEPTABLE_PEER
                   ? MC_ERR_UNAVAILABLE
                   : MC_ERR_INTERNAL;
    default:
        break;
    }
    bool from_server = e->domain == MONGOC_ERROR_SERVER || e->domain == MONGOC_ERROR_WRITE_CONCERN ||
                       e->domain == MONGOC_ERROR_QUERY;
    bool write_domain = from_server || e->domain == MONGOC_ERROR_COLLECTION || e->domain == MONGOC_ERROR_COMMAND ||
                        e->domain == MONGOC_ERROR_INSERT;
    if (write_domain && (e->code == 11000 || e->code == 11001 || e->code == 12582))
        return MC_ERR_CONFLICT; /* duplicate key (12582: the same through a write concern) */
    /* FerretDB 1.24 reports a unique-index violation by an update (not by an insert) as
     * InternalError (1) carrying its backend's message. */
    if (e->domain == MONGOC_ERROR_SERVER && e->code == 1 &&
        (strstr(e->message, "UNIQUE constraint failed") != NULL ||
         strstr(e->message, "duplicate key value violates unique constraint") != NULL))
        return MC_ERR_CONFLICT;
    /* FerretDB on SQLite under write contention: the backend's lock timed out. Transient:
     * the client may retry (503), but the database is not down. */
    if (e->domain == MONGOC_ERROR_SERVER && e->code == 1 &&
        (strstr(e->message, "SQLITE_BUSY") != NULL || strstr(e->message, "database is locked") != NULL))
        return MC_ERR_UNAVAILABLE;
    if (!from_server)
        return MC_ERR_INTERNAL;
    switch (e->code) {
    case 50: /* MaxTimeMSExpired: the operation's own limit, not the server's absence */
        return MC_ERR_TIMEOUT;
    case 6:     /* HostUnreachable */
    case 7:     /* HostNotFound */
    case 89:    /* NetworkTimeout */
    case 91:    /* ShutdownInProgress */
    case 189:   /* PrimarySteppedDown */
    case 9001:  /* SocketException */
    case 10058: /* LegacyNotPrimary */
    case 10107: /* NotWritablePrimary */
    case 11600: /* InterruptedAtShutdown */
    case 11602: /* InterruptedDueToReplStateChange */
    case 13435: /* NotPrimaryNoSecondaryOk */
    case 13436: /* NotPrimaryOrSecondary */
        return MC_ERR_UNAVAILABLE;
    default:
        return MC_ERR_INTERNAL;
    }
}

bool mc_mongo_is_duplicate(const bson_error_t *err)
{
    return classify_error(err) == MC_ERR_CONFLICT;
}

static bool is_busy(const bson_error_t *e)
{
    return e->domain == MONGOC_ERROR_SERVER && e->code == 1 &&
           (strstr(e->message, "SQLITE_BUSY") != NULL || strstr(e->message, "database is locked") != NULL);
}

mc_err_t mc_mongo_classify(mc_mongo_t *m, const bson_error_t *err)
{
    mc_err_t kind = classify_error(err);
    if (kind == MC_ERR_UNAVAILABLE && m != NULL && !is_busy(err))
        mark_down(m, err);
    return kind;
}

void mc_mongo_fail(mc_mongo_t *m, mc_mongo_result_t *res, const bson_error_t *err)
{
    res->err = mc_mongo_classify(m, err);
    if (err != NULL && &res->bson != err)
        res->bson = *err;
}

/* --- creation ---------------------------------------------------------------------------- */

/* The driver logs to stderr in its own format (and at DEBUG level chatters about every
 * monitoring round): route its lines into our JSON log instead. Called from any thread;
 * mc_log writes each line with one write(2). */
static void driver_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    mc_log_level_t l;
    switch (level) {
    case MONGOC_LOG_LEVEL_ERROR:
    case MONGOC_LOG_LEVEL_CRITICAL:
        l = MC_LOG_ERROR;
        break;
    case MONGOC_LOG_LEVEL_WARNING:
        l = MC_LOG_WARN;
        break;
    case MONGOC_LOG_LEVEL_MESSAGE:
    case MONGOC_LOG_LEVEL_INFO:
        l = MC_LOG_INFO;
        break;
    default:
        l = MC_LOG_DEBUG;
        break;
    }
    if (strstr(message, "endSessions") != NULL) /* FerretDB 1.x lacks it; harmless at shutdown */
        l = MC_LOG_DEBUG;
    if (mc_log_enabled(l))
        mc_log(l, NULL, "mongoc %s: %s", domain, message);
}

static void install_driver_log(void)
{
    mongoc_log_trace_disable();
    mongoc_log_set_handler(driver_log, NULL);
}

static bool dbname_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > 63)
        return false;
    return strpbrk(s, "/\\. \"$*<>:|?") == NULL;
}

mc_mongo_t *mc_mongo_create(const char *uri, const char *dbname, const char *appname, char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    if (!dbname_ok(dbname)) {
        snprintf(err, errlen, "invalid database name '%.64s'", dbname != NULL ? dbname : "");
        return NULL;
    }
    mongoc_init(); /* once per process; later calls do nothing */
    static pthread_once_t log_once = PTHREAD_ONCE_INIT;
    pthread_once(&log_once, install_driver_log);
    bson_error_t berr;
    mongoc_uri_t *u = mongoc_uri_new_with_error(uri != NULL ? uri : "", &berr);
    if (u == NULL) {
        snprintf(err, errlen, "invalid MongoDB URI: %s", berr.message);
        return NULL;
    }
    static const struct {
        const char *key;
        int32_t value;
    } defaults[] = {
        {MONGOC_URI_CONNECTTIMEOUTMS, MC_MONGO_CONNECT_TIMEOUT_MS},
        {MONGOC_URI_SERVERSELECTIONTIMEOUTMS, MC_MONGO_SELECTION_TIMEOUT_MS},
        {MONGOC_URI_SOCKETTIMEOUTMS, MC_MONGO_SOCKET_TIMEOUT_MS},
    };
    for (size_t i = 0; i < MC_ARRAY_SIZE(defaults); ++i)
        if (!mongoc_uri_has_option(u, defaults[i].key))
            mongoc_uri_set_option_as_int32(u, defaults[i].key, defaults[i].value);

    mc_mongo_t *m = calloc(1, sizeof(*m));
    if (m == NULL || (m->dbname = strdup(dbname)) == NULL) {
        free(m);
        mongoc_uri_destroy(u);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    m->uri = u;
    m->retry_ms = (unsigned)mc_env_int("MONGODB_RETRY_MS", 1000, 10, 600000);
    atomic_init(&m->down, false);
    atomic_init(&m->next_probe_ms, 0);
    atomic_init(&m->probing, false);
    if ((m->pool = mongoc_client_pool_new(u)) == NULL) {
        snprintf(err, errlen, "cannot create the MongoDB client pool (check the URI's options)");
        mc_mongo_destroy(m);
        return NULL;
    }
    /* Both must happen before the first pop. */
    mongoc_client_pool_set_error_api(m->pool, MONGOC_ERROR_API_VERSION_2);
    if (appname != NULL && *appname != '\0') {
        char name[64];
        snprintf(name, sizeof(name), "mercato-%s", appname);
        mongoc_client_pool_set_appname(m->pool, name);
    }
    return m;
}

void mc_mongo_destroy(mc_mongo_t *m)
{
    if (m == NULL)
        return;
    if (m->pool != NULL)
        mongoc_client_pool_destroy(m->pool);
    mongoc_uri_destroy(m->uri);
    free(m->dbname);
    free(m);
}

/* --- jobs ------------------------------------------------------------------------------- */

/* Runs fn with a pooled client on the calling thread; shared by jobs and the blocking
 * helpers. Returns false when no client could be had. */
static bool with_client(mc_mongo_t *m, mc_mongo_work_cb fn, void *arg, mc_mongo_result_t *res)
{
    mongoc_client_t *client = mongoc_client_pool_pop(m->pool);
    if (client == NULL) {
        res->err = MC_ERR_INTERNAL;
        bson_set_error(&res->bson, MONGOC_ERROR_POOL, 0, "no client from the pool");
        return false;
    }
    mongoc_database_t *db = mongoc_client_get_database(client, m->dbname);
    mc_mongo_t *prev = tl_current;
    tl_current = m;
    fn(client, db, arg, res);
    tl_current = prev;
    mongoc_database_destroy(db);
    mongoc_client_pool_push(m->pool, client);
    return true;
}

static void job_work(uv_work_t *w)
{
    mc_mongo_job_t *j = (mc_mongo_job_t *)w;
    mc_mongo_t *m = j->m;
    /* The database may have gone down while the job waited in the queue. */
    if (!may_run(m, &j->probe)) {
        set_fast_fail(m, &j->res);
        return;
    }
    if (with_client(m, j->work_cb, j->arg, &j->res)) {
        if (j->res.err == MC_ERR_UNAVAILABLE)
            mark_down(m, &j->res.bson);
        else
            mark_up(m);
    }
    if (j->probe)
        atomic_store(&m->probing, false);
}

static void job_after_work(uv_work_t *w, int status)
{
    mc_mongo_job_t *j = (mc_mongo_job_t *)w;
    if (status != 0) { /* cancelled: never ran */
        set_fast_fail(j->m, &j->res);
        if (j->probe)
            atomic_store(&j->m->probing, false);
    }
    j->done_cb(j->arg, &j->res);
    free(j);
}

static void job_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

static void job_fast_fail(uv_timer_t *t)
{
    mc_mongo_job_t *j = t->data;
    j->done_cb(j->arg, &j->res);
    uv_close((uv_handle_t *)t, job_timer_closed);
}

int mc_mongo_submit(mc_mongo_t *m, uv_loop_t *loop, mc_mongo_work_cb work, mc_mongo_done_cb done, void *arg)
{
    if (m == NULL || loop == NULL || work == NULL || done == NULL)
        return -1;
    mc_mongo_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    j->m = m;
    j->work_cb = work;
    j->done_cb = done;
    j->arg = arg;
    if (!may_run(m, &j->probe)) {
        set_fast_fail(m, &j->res);
        if (uv_timer_init(loop, &j->u.timer) != 0) {
            free(j);
            return -1;
        }
        j->u.timer.data = j;
        uv_timer_start(&j->u.timer, job_fast_fail, 0, 0);
        return 0;
    }
    if (uv_queue_work(loop, &j->u.work, job_work, job_after_work) != 0) {
        if (j->probe)
            atomic_store(&m->probing, false);
        free(j);
        return -1;
    }
    return 0;
}

/* --- ping and indexes ---------------------------------------------------------------------- */

static void ping_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    bson_t cmd = BSON_INITIALIZER;
    bson_error_t err;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    if (!mongoc_client_command_simple(client, "admin", &cmd, NULL, NULL, &err))
        mc_mongo_fail(mc_mongo_current(), res, &err);
    bson_destroy(&cmd);
}

typedef struct ping_ctx {
    void (*cb)(void *arg, bool ok, const char *msg);
    void *arg;
} ping_ctx_t;

static void ping_done(void *arg, const mc_mongo_result_t *res)
{
    ping_ctx_t *p = arg;
    p->cb(p->arg, res->err == MC_OK, res->err == MC_OK ? NULL : res->bson.message);
    free(p);
}

int mc_mongo_ping(mc_mongo_t *m, uv_loop_t *loop, void (*cb)(void *arg, bool ok, const char *msg), void *arg)
{
    ping_ctx_t *p = malloc(sizeof(*p));
    if (p == NULL || cb == NULL) {
        free(p);
        return -1;
    }
    p->cb = cb;
    p->arg = arg;
    if (mc_mongo_submit(m, loop, ping_work, ping_done, p) != 0) {
        free(p);
        return -1;
    }
    return 0;
}

int mc_mongo_ping_blocking(mc_mongo_t *m, bson_error_t *err)
{
    mc_mongo_result_t res;
    memset(&res, 0, sizeof(res));
    if (with_client(m, ping_work, NULL, &res) && res.err == MC_OK) {
        mark_up(m);
        return 0;
    }
    if (err != NULL)
        *err = res.bson;
    return -1;
}

typedef struct index_ctx {
    const char *collection;
    const bson_t *indexes;
} index_ctx_t;

/* One createIndexes command per index: FerretDB 1.24 panics (and drops the connection)
 * when one command names several indexes that already exist, which is exactly what every
 * restart of a service does. One index at a time is idempotent on both servers. */
static void index_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    index_ctx_t *x = arg;
    bson_iter_t it;
    if (!bson_iter_init(&it, x->indexes))
        return;
    while (bson_iter_next(&it) && res->err == MC_OK) {
        if (!BSON_ITER_HOLDS_DOCUMENT(&it))
            continue;
        uint32_t len;
        const uint8_t *data;
        bson_iter_document(&it, &len, &data);
        bson_t spec, cmd = BSON_INITIALIZER, one, reply;
        bson_error_t err;
        if (!bson_init_static(&spec, data, len))
            continue;
        BSON_APPEND_UTF8(&cmd, "createIndexes", x->collection);
        BSON_APPEND_ARRAY_BEGIN(&cmd, "indexes", &one);
        BSON_APPEND_DOCUMENT(&one, "0", &spec);
        bson_append_array_end(&cmd, &one);
        if (!mongoc_database_write_command_with_opts(db, &cmd, NULL, &reply, &err))
            mc_mongo_fail(mc_mongo_current(), res, &err);
        bson_destroy(&reply);
        bson_destroy(&cmd);
    }
}

int mc_mongo_create_indexes(mc_mongo_t *m, const char *collection, const bson_t *indexes, unsigned wait_ms,
                            bson_error_t *err)
{
    index_ctx_t x = {collection, indexes};
    long long deadline = mono_ms() + wait_ms;
    for (;;) {
        mc_mongo_result_t res;
        memset(&res, 0, sizeof(res));
        bool got = with_client(m, index_work, &x, &res);
        if (got && res.err == MC_OK) {
            mark_up(m);
            return 0;
        }
        if (!got || res.err != MC_ERR_UNAVAILABLE || mono_ms() >= deadline) {
            if (err != NULL)
                *err = res.bson;
            return -1;
        }
        long long left = deadline - mono_ms();
        long long pause = left < MC_MONGO_BLOCKING_RETRY_MS ? (left > 0 ? left : 0) : MC_MONGO_BLOCKING_RETRY_MS;
        struct timespec ts = {(time_t)(pause / 1000), (long)(pause % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
}

bool mc_mongo_oid_parse(const char *hex, bson_oid_t *oid)
{
    if (hex == NULL || !mc_is_object_id(hex, strnlen(hex, 25)))
        return false;
    bson_oid_init_from_string(oid, hex);
    return true;
}

long mc_mongo_delete(mongoc_database_t *db, const char *collection, const bson_t *filter, bool many,
                     bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, collection);
    bson_t reply;
    long n = -1;
    bool ok = many ? mongoc_collection_delete_many(c, filter, NULL, &reply, err)
                   : mongoc_collection_delete_one(c, filter, NULL, &reply, err);
    if (ok) {
        bson_iter_t it;
        n = bson_iter_init_find(&it, &reply, "deletedCount") ? (long)bson_iter_as_int64(&it) : 0;
    }
    bson_destroy(&reply);
    mongoc_collection_destroy(c);
    return n;
}
