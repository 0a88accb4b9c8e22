/*
 * mc_mongo: MongoDB (or FerretDB) access that never blocks an event loop.
 *
 * mongo-c-driver calls are synchronous, so every operation is a job: `work` runs on the
 * libuv thread pool with a client popped from a mongoc_client_pool_t (thread-safe) and
 * the service's database, then `done` runs back on the loop that submitted it. The pool
 * is shared by every worker of the process.
 *
 * While the database is unreachable, jobs fail fast (MC_ERR_UNAVAILABLE) instead of
 * each waiting out a server-selection timeout: after a failure the module probes again
 * at most every MONGODB_RETRY_MS (default 1000), and recovers by itself when the server
 * returns. A URI without them gets connectTimeoutMS=2000, serverSelectionTimeoutMS=2000
 * and socketTimeoutMS=5000. The driver's own log lines go to mc_log.
 *
 * Thread pool: jobs run on libuv's thread pool, whose size libuv reads from
 * UV_THREADPOOL_SIZE once, when any loop of the process first queues work. mc_server_run
 * sets it (default 16) before its workers start; a program that uses this module without
 * mc_server_run and wants more than libuv's 4 threads must set it before its first job.
 * The pool size bounds the number of jobs talking to the database at once.
 */
#ifndef MC_MONGO_H
#define MC_MONGO_H

#include <stdbool.h>
#include <stddef.h>
#include <mongoc/mongoc.h>
#include <uv.h>
#include "mc_error.h"

typedef struct mc_mongo mc_mongo_t;
typedef struct mc_req mc_req_t;

/* Creates the pool for uri and database dbname. Does not connect yet. The URI gets short
 * connect/server-selection timeouts unless it sets its own. NULL + err on a bad URI. */
mc_mongo_t *mc_mongo_create(const char *uri, const char *dbname, const char *appname, char *err, size_t errlen);
/* Only once every job has completed (their loops have run their done callbacks). */
void mc_mongo_destroy(mc_mongo_t *m);
const char *mc_mongo_dbname(const mc_mongo_t *m);

/* The outcome a work callback reports. */
typedef struct mc_mongo_result {
    mc_err_t err;     /* MC_OK, or the kind of failure (see mc_mongo_classify) */
    bson_error_t bson; /* the driver's error when err != MC_OK */
} mc_mongo_result_t;

/* Runs on a thread-pool thread. `db` belongs to `client`; both are valid only during the
 * call. Must not touch loop-owned state. */
typedef void (*mc_mongo_work_cb)(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res);
/* Runs on the submitting loop after work. res->err is MC_ERR_UNAVAILABLE without work
 * having run when the database is known to be down. */
typedef void (*mc_mongo_done_cb)(void *arg, const mc_mongo_result_t *res);

/* Queues a job. Returns 0; -1 when it cannot be queued (then neither callback runs).
 * done never runs inside mc_mongo_submit, even for a job that fails fast. */
int mc_mongo_submit(mc_mongo_t *m, uv_loop_t *loop, mc_mongo_work_cb work, mc_mongo_done_cb done, void *arg);

/* The same for a request: the request is retained until `done` has run, so `done` may
 * answer it (check mc_req_gone when the answer is expensive). */
typedef void (*mc_mongo_req_done_cb)(mc_req_t *req, void *arg, const mc_mongo_result_t *res);
int mc_mongo_submit_req(mc_req_t *req, mc_mongo_work_cb work, mc_mongo_req_done_cb done, void *arg);

/* Maps a driver error: duplicate key (11000, 11001, 12582, and FerretDB 1.x's
 * InternalError for an update that breaks a unique index) → MC_ERR_CONFLICT — compare
 * with this, not with the code 11000, which FerretDB does not always send; server selection,
 * socket, connection, timeouts → MC_ERR_UNAVAILABLE; the rest → MC_ERR_INTERNAL. Also
 * notes the database as down for the fail-fast logic when it is UNAVAILABLE. */
mc_err_t mc_mongo_classify(mc_mongo_t *m, const bson_error_t *err);
/* True when err is a unique-index violation, however the server reported it (MongoDB
 * 11000/11001, FerretDB's code 1 on updates). Pure: no fail-fast side effect. */
bool mc_mongo_is_duplicate(const bson_error_t *err);
/* Convenience for work callbacks: classify and store into res. */
void mc_mongo_fail(mc_mongo_t *m, mc_mongo_result_t *res, const bson_error_t *err);
/* The mc_mongo_t a work callback runs for (thread-local during work). */
mc_mongo_t *mc_mongo_current(void);

/* Blocking helpers for start-up (the server's init hook), never on a loop. */
/* Sends createIndexes for `collection` with `indexes` (a BSON array of index specs).
 * Retries for up to wait_ms while the database is unreachable. */
int mc_mongo_create_indexes(mc_mongo_t *m, const char *collection, const bson_t *indexes, unsigned wait_ms,
                            bson_error_t *err);
/* Runs {ping:1}; 0 when the server answers. Blocking. */
int mc_mongo_ping_blocking(mc_mongo_t *m, bson_error_t *err);
/* Asynchronous ping for /ready: cb(arg, ok, error message). */
int mc_mongo_ping(mc_mongo_t *m, uv_loop_t *loop, void (*cb)(void *arg, bool ok, const char *msg), void *arg);

/* The ObjectId in hex (24 chars) → bson_oid_t; false when malformed. */
bool mc_mongo_oid_parse(const char *hex, bson_oid_t *oid);

/* delete_one (many false) or delete_many on filter, blocking (worker threads only): the
 * number of documents removed, or -1 with err set. */
long mc_mongo_delete(mongoc_database_t *db, const char *collection, const bson_t *filter, bool many,
                     bson_error_t *err);

#endif
