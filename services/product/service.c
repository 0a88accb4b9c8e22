/*
 * Implementation of service.h: per-worker state, the background refresh of product
 * documents' stock and rating caches, and the periodic sweep of expired reservations.
 */
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "inventory.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_util.h"
#include "product.h"
#include "service.h"

#define REFRESH_DEBOUNCE_MS 20
#define REFRESH_RETRY_MS 200
#define REFRESH_LOCK_WAIT_MS 300
#define REFRESH_BATCH 64
#define SWEEP_BATCH 100

ps_config_t ps_config;
ps_stats_t ps_stats;

/* A product whose document cache needs rewriting. */
typedef struct pr_pending {
    char id[25];
    bool stock, rating;
    struct pr_pending *next;
} pr_pending_t;

ps_worker_t *ps_worker(mc_worker_t *w)
{
    return mc_worker_data(w);
}

void ps_worker_job_begin(ps_worker_t *pw)
{
    ++pw->jobs;
}

static void free_pending(pr_pending_t *p)
{
    while (p != NULL) {
        pr_pending_t *next = p->next;
        free(p);
        p = next;
    }
}

void ps_worker_job_end(ps_worker_t *pw)
{
    if (--pw->jobs == 0 && pw->disposed) {
        free_pending(pw->pending);
        free(pw);
    }
}

/* --- refresh ------------------------------------------------------------------------------------ */

typedef struct refresh_job {
    ps_worker_t *pw;
    pr_pending_t *items; /* taken from the pending list */
    pr_pending_t *busy;  /* set by the work: to retry */
} refresh_job_t;

static void refresh_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    refresh_job_t *j = arg;
    pr_pending_t *p = j->items;
    while (p != NULL) {
        pr_pending_t *next = p->next;
        bson_error_t err;
        int rs = p->stock ? prod_refresh_stock(db, p->id, REFRESH_LOCK_WAIT_MS, &err) : 0;
        int rr = rs >= 0 && p->rating ? prod_refresh_rating(db, p->id, REFRESH_LOCK_WAIT_MS, &err) : 0;
        if (rs < 0 || rr < 0) {
            /* the database failed: the next movement or review schedules it again */
            mc_log_warn("refreshing the caches of product %s: %s", p->id, err.message);
            free(p);
        } else if (rs > 0 || rr > 0) {
            p->next = j->busy;
            j->busy = p;
        } else {
            free(p);
        }
        p = next;
    }
    j->items = NULL;
}

static void refresh_start(uv_timer_t *t);

static void add_pending(ps_worker_t *pw, const char *id, bool stock, bool rating)
{
    for (pr_pending_t *p = pw->pending; p != NULL; p = p->next)
        if (strcmp(p->id, id) == 0) {
            p->stock |= stock;
            p->rating |= rating;
            return;
        }
    pr_pending_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    snprintf(p->id, sizeof(p->id), "%s", id);
    p->stock = stock;
    p->rating = rating;
    p->next = pw->pending;
    pw->pending = p;
}

static void refresh_done(void *arg, const mc_mongo_result_t *res)
{
    refresh_job_t *j = arg;
    ps_worker_t *pw = j->pw;
    pw->refresh_running = false;
    free_pending(j->items);
    unsigned delay = REFRESH_DEBOUNCE_MS;
    if (!pw->disposed) {
        while (j->busy != NULL) {
            pr_pending_t *p = j->busy;
            j->busy = p->next;
            add_pending(pw, p->id, p->stock, p->rating);
            free(p);
            delay = REFRESH_RETRY_MS;
        }
        if (pw->pending != NULL)
            uv_timer_start(&pw->refresh_timer, refresh_start, delay, 0);
    }
    free_pending(j->busy);
    free(j);
    ps_worker_job_end(pw);
}

static void refresh_start(uv_timer_t *t)
{
    ps_worker_t *pw = t->data;
    if (pw->refresh_running || pw->pending == NULL || pw->disposed)
        return;
    refresh_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    j->pw = pw;
    /* at most REFRESH_BATCH per job; the rest waits for the next round */
    pr_pending_t **tail = &pw->pending;
    for (int k = 0; *tail != NULL && k < REFRESH_BATCH; ++k)
        tail = &(*tail)->next;
    j->items = pw->pending;
    pw->pending = *tail;
    *tail = NULL;
    pw->refresh_running = true;
    ps_worker_job_begin(pw);
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(pw->w)), mc_worker_loop(pw->w), refresh_work, refresh_done, j) != 0) {
        pw->refresh_running = false;
        free_pending(j->items);
        free(j);
        ps_worker_job_end(pw);
    }
}

static void schedule(mc_worker_t *w, const char *id, bool stock, bool rating)
{
    ps_worker_t *pw = ps_worker(w);
    if (pw == NULL || pw->disposed)
        return;
    add_pending(pw, id, stock, rating);
    if (!pw->refresh_running && !uv_is_active((uv_handle_t *)&pw->refresh_timer))
        uv_timer_start(&pw->refresh_timer, refresh_start, REFRESH_DEBOUNCE_MS, 0);
}

void ps_refresh_schedule(mc_worker_t *w, const char *product_id)
{
    schedule(w, product_id, true, false);
}

void ps_refresh_rating_schedule(mc_worker_t *w, const char *product_id)
{
    schedule(w, product_id, false, true);
}

/* --- sweep -------------------------------------------------------------------------------------- */

typedef struct sweep_job {
    ps_worker_t *pw;
    json_t *touched;
    int count;
} sweep_job_t;

static void sweep_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    sweep_job_t *j = arg;
    bson_error_t err;
    j->count = inv_sweep(db, mc_now_ms(), SWEEP_BATCH, j->touched, &err);
    if (j->count < 0)
        mc_mongo_fail(mc_mongo_current(), res, &err);
}

static void sweep_tick(uv_timer_t *t);

static void sweep_done(void *arg, const mc_mongo_result_t *res)
{
    sweep_job_t *j = arg;
    ps_worker_t *pw = j->pw;
    pw->sweep_running = false;
    atomic_fetch_add(&ps_stats.sweeps, 1);
    if (res->err != MC_OK && res->err != MC_ERR_UNAVAILABLE)
        mc_log_error("sweeping expired reservations: %s", res->bson.message);
    size_t n = json_array_size(j->touched);
    if (!pw->disposed && n > 0) {
        char(*ids)[25] = calloc(n, sizeof(*ids));
        if (ids == NULL)
            abort();
        size_t k = 0;
        for (size_t i = 0; i < n; ++i) {
            const char *id = json_string_value(json_array_get(j->touched, i));
            if (id != NULL && strlen(id) == 24) {
                memcpy(ids[k++], id, 25);
                ps_refresh_schedule(pw->w, id);
            }
        }
        pc_invalidate_bg(pw->w, ids, k, false);
        free(ids);
    }
    /* a full batch: there may be more right away */
    if (!pw->disposed && j->count == SWEEP_BATCH)
        uv_timer_start(&pw->sweep_timer, sweep_tick, 0, ps_config.sweep_ms);
    json_decref(j->touched);
    free(j);
    ps_worker_job_end(pw);
}

static void sweep_tick(uv_timer_t *t)
{
    ps_worker_t *pw = t->data;
    if (pw->sweep_running || pw->disposed)
        return;
    sweep_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        abort();
    j->pw = pw;
    j->touched = json_array();
    pw->sweep_running = true;
    ps_worker_job_begin(pw);
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(pw->w)), mc_worker_loop(pw->w), sweep_work, sweep_done, j) != 0) {
        pw->sweep_running = false;
        json_decref(j->touched);
        free(j);
        ps_worker_job_end(pw);
    }
}

/* --- life cycle ------------------------------------------------------------------------------------- */

int ps_worker_init(mc_worker_t *w)
{
    ps_worker_t *pw = calloc(1, sizeof(*pw));
    if (pw == NULL)
        return -1;
    pw->w = w;
    pw->jobs = 1; /* the worker's own reference, dropped at dispose */
    uv_timer_init(mc_worker_loop(w), &pw->refresh_timer);
    pw->refresh_timer.data = pw;
    uv_timer_init(mc_worker_loop(w), &pw->sweep_timer);
    pw->sweep_timer.data = pw;
    /* one sweeper per process is enough: every process sweeps the same collection */
    if (mc_worker_index(w) == 0)
        uv_timer_start(&pw->sweep_timer, sweep_tick, ps_config.sweep_ms, ps_config.sweep_ms);
    mc_worker_set_data(w, pw);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    ps_worker_job_end(h->data);
}

void ps_worker_dispose(mc_worker_t *w)
{
    ps_worker_t *pw = ps_worker(w);
    if (pw == NULL)
        return;
    pw->disposed = true;
    mc_worker_set_data(w, NULL);
    free_pending(pw->pending);
    pw->pending = NULL;
    ps_worker_job_begin(pw);
    ps_worker_job_begin(pw);
    uv_close((uv_handle_t *)&pw->refresh_timer, on_timer_closed);
    uv_close((uv_handle_t *)&pw->sweep_timer, on_timer_closed);
    ps_worker_job_end(pw); /* the worker's own reference */
}

void ps_redis_state(mc_worker_t *w, bool up)
{
    pc_redis_state(w, up);
}
