/*
 * Implementation of janitor.h.
 */
#include <stdlib.h>
#include "janitor.h"
#include "mc_config.h"
#include "mc_log.h"
#include "mc_util.h"
#include "store.h"

struct auth_janitor {
    uv_timer_t timer;
    mc_mongo_t *mongo;
    uv_loop_t *loop;
    unsigned interval_ms;
    bool running, closing, closed;
};

static void maybe_free(auth_janitor_t *j)
{
    if (j->closing && j->closed && !j->running)
        free(j);
}

static void purge_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    (void)arg;
    bson_error_t err;
    long n = auth_store_purge(db, mc_now_ms(), &err);
    if (n < 0)
        mc_mongo_fail(mc_mongo_current(), res, &err);
    else if (n > 0)
        mc_log_info("janitor: removed %ld expired documents", n);
}

static void purge_done(void *arg, const mc_mongo_result_t *res)
{
    auth_janitor_t *j = arg;
    j->running = false;
    if (res->err != MC_OK && res->err != MC_ERR_UNAVAILABLE)
        mc_log_warn("janitor: purge failed: %s", res->bson.message);
    maybe_free(j);
}

static void on_timer(uv_timer_t *t)
{
    auth_janitor_t *j = t->data;
    if (j->running || j->closing)
        return;
    j->running = true;
    if (mc_mongo_submit(j->mongo, j->loop, purge_work, purge_done, j) != 0)
        j->running = false;
}

int auth_janitor_start(auth_worker_t *aw)
{
    auth_janitor_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    j->loop = mc_worker_loop(aw->w);
    j->mongo = mc_server_mongo(mc_worker_server(aw->w));
    j->interval_ms = (unsigned)mc_env_int("JANITOR_INTERVAL_SECONDS", 600, 1, 86400) * 1000u;
    uv_timer_init(j->loop, &j->timer);
    j->timer.data = j;
    uv_timer_start(&j->timer, on_timer, j->interval_ms, j->interval_ms);
    aw->janitor = j;
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    auth_janitor_t *j = h->data;
    j->closed = true;
    maybe_free(j);
}

void auth_janitor_stop(auth_worker_t *aw)
{
    auth_janitor_t *j = aw->janitor;
    if (j == NULL)
        return;
    aw->janitor = NULL;
    j->closing = true;
    uv_close((uv_handle_t *)&j->timer, on_closed);
}
