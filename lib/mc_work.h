/*
 * mc_work: blocking or CPU-heavy work (password hashing, an SMTP exchange, reading a
 * key set over HTTPS) run on the libuv thread pool, with the continuation back on the
 * loop that asked for it. The event loop never runs the work itself.
 *
 * The pool is the one MongoDB jobs use (see mc_mongo.h: UV_THREADPOOL_SIZE). Work that
 * can occupy a thread for long — Argon2 takes tens of milliseconds and megabytes of
 * memory — should be bounded by its caller, so that it never fills the pool and starves
 * the database jobs queued behind it.
 *
 * As with libuv: if a function that takes a callback returns an error, the callback will
 * not be called.
 */
#ifndef MC_WORK_H
#define MC_WORK_H

#include <stdbool.h>
#include <uv.h>

typedef struct mc_req mc_req_t;

/* Runs on a thread-pool thread. Must not touch loop-owned state (requests, handles,
 * Redis); `arg` is the caller's and is not shared with the loop until `done`. */
typedef void (*mc_work_fn)(void *arg);
/* Runs on the submitting loop once `work` has returned. The work always runs: nothing
 * can cancel it (the uv_work_t is private), and a loop with queued work keeps running. */
typedef void (*mc_work_done_fn)(void *arg);

/* Queues work for loop. Returns 0, or -1 when it cannot be queued (out of memory); done
 * then never runs. done never runs inside mc_work_submit. */
int mc_work_submit(uv_loop_t *loop, mc_work_fn work, mc_work_done_fn done, void *arg);

/* The same on behalf of a request: the request is retained until `done` has run, so
 * `done` may answer it (or continue with more asynchronous steps) even if the client has
 * gone meanwhile (mc_req_gone tells; the answer is then dropped). */
typedef void (*mc_work_req_done_fn)(mc_req_t *req, void *arg);
int mc_work_submit_req(mc_req_t *req, mc_work_fn work, mc_work_req_done_fn done, void *arg);

#endif
