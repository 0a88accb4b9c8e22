/*
 * Order events and the background sweeper.
 *
 * Publishing. Every change writes its event into the outbox (store.h) before anything is
 * published; the request that made the change then publishes it on Redis (channel
 * orders:events) and removes the entry. When Redis is down, the entry simply stays, so a
 * Redis outage loses no event: the sweeper publishes what is left once Redis is back, per
 * order in version order, and a change whose predecessor is still in the outbox leaves
 * its own event to the sweeper too ("deferred"), so that an order's events reach
 * subscribers in order. Delivery is at least once: an event published just before a crash
 * (or by two processes' sweepers) may come twice, with the same version, which is what
 * subscribers de-duplicate by.
 *
 * The sweeper runs on worker 0 every ORDER_SWEEP_INTERVAL_MS, one pass at a time:
 *   1. publish the outbox entries that are due (rolling orders forward to the entries
 *      of writers that died, see store.h) and remove them;
 *   2. settle checkouts whose lease expired (checkout.c): commit the stock of the ones that
 *      became orders, release the stock and coupon of the others, and store the answer
 *      under their Idempotency-Key (or forget the key); an order whose stock reservation
 *      expired before it could be committed is cancelled;
 *   3. retry the releases of cancelled orders that could not be done at the time.
 * With several processes, several sweepers may do the same work: every step is idempotent.
 */
#include <stdlib.h>
#include <string.h>
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_redis.h"
#include "mc_util.h"
#include "order.h"
#include "settings.h"
#include "store.h"
#include "upstream.h"

#define DRAIN_BATCH 200
#define SETTLE_BATCH 20
#define TASK_BATCH 20
#define TASK_MIN_AGE_MS 10000 /* a release younger than this may still be done by its request */
#define JANITOR_MS 600000     /* expired Idempotency-Keys are deleted this often */

typedef struct pub {
    void (*cb)(void *, bool);
    void *data;
} pub_t;

/* PUBLISH answered: the number of receivers is a success whatever it is. */
static void on_pub(redisReply *reply, const char *err, void *data)
{
    pub_t *p = data;
    bool ok = reply != NULL && reply->type == REDIS_REPLY_INTEGER;
    if (!ok)
        mc_log_warn("publishing an order event failed (%s); the sweeper will publish it", err ? err : reply ? reply->str : "?");
    p->cb(p->data, ok);
    free(p);
}

void ord_publish(mc_worker_t *w, const char *message, void (*cb)(void *, bool), void *data)
{
    mc_redis_t *r = mc_worker_redis(w);
    pub_t *p = malloc(sizeof(*p));
    p->cb = cb;
    p->data = data;
    if (r == NULL || !mc_redis_up(r) || mc_redis_cmd(r, on_pub, p, "PUBLISH %s %s", ORDER_EVENTS_CHANNEL, message) != 0) {
        free(p);
        cb(data, false);
    }
}

/* --- the sweeper ----------------------------------------------------------------------------- */

typedef struct sweeper {
    mc_worker_t *w;
    uv_timer_t timer;
    bool busy, closing, timer_closed;
    int64_t janitor_at; /* when expired keys were last deleted (a scan of their collection) */
    int pending_db; /* jobs whose done callback has not run yet */
    json_t *due, *expired, *tasks;
    size_t next;         /* index in the current list */
    size_t publishing;   /* PUBLISH replies outstanding */
    json_t *published;   /* entry ids to remove */
    /* the checkout being settled */
    json_t *cur;
    ord_settle_t settle;
    json_t *order;
    bool stock_ok, stock_gone;
    bson_error_t bson;
} sweeper_t;

static void pass_end(sweeper_t *s);
static void settle_next(sweeper_t *s);
static void task_next(sweeper_t *s);

/* Drops what one pass read. */
static void free_lists(sweeper_t *s)
{
    json_decref(s->due);
    json_decref(s->expired);
    json_decref(s->tasks);
    json_decref(s->published);
    json_decref(s->cur);
    json_decref(s->order);
    s->due = s->expired = s->tasks = s->published = s->cur = s->order = NULL;
}

/* The sweeper is freed once it is closing and nothing of it is outstanding. */
static void maybe_free(sweeper_t *s)
{
    if (s->closing && s->timer_closed && s->pending_db == 0 && s->publishing == 0) {
        free_lists(s);
        free(s);
    }
}

/* Runs a job for the sweeper; false when it could not be queued. */
static bool submit(sweeper_t *s, mc_mongo_work_cb work, mc_mongo_done_cb done)
{
    ++s->pending_db;
    if (mc_mongo_submit(mc_server_mongo(mc_worker_server(s->w)), mc_worker_loop(s->w), work, done, s) != 0) {
        --s->pending_db;
        return false;
    }
    return true;
}

/* Every done callback starts with this: false when the sweeper is shutting down (and
 * frees it once nothing else is outstanding). */
static bool job_returned(sweeper_t *s)
{
    --s->pending_db;
    if (s->closing) {
        maybe_free(s);
        return false;
    }
    return true;
}

/* --- 3. tasks --------------------------------------------------------------------------------- */

static void task_done_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    ord_task_done(db, json_string_value(json_object_get(json_array_get(s->tasks, s->next), "orderId")));
}

/* Next task. */
static void task_done_done(void *arg, const mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    if (!job_returned(s))
        return;
    ++s->next;
    task_next(s);
}

/* A cancelled order's stock and coupon are back: remove the task (or retry next pass). */
static void on_task_released(void *data, bool ok)
{
    sweeper_t *s = data;
    if (s->closing)
        return;
    if (!ok) {
        /* a service is failing: the rest waits for the next pass, so that one outage
         * never holds the outbox drain up for more than one call's timeout */
        pass_end(s);
        return;
    }
    if (!submit(s, task_done_work, task_done_done)) {
        ++s->next;
        task_next(s);
    }
}

/* Step 3, one task at a time. */
static void task_next(sweeper_t *s)
{
    json_t *t = json_array_get(s->tasks, s->next);
    if (t == NULL) {
        pass_end(s);
        return;
    }
    const char *oid = json_string_value(json_object_get(t, "orderId"));
    if (oid == NULL || !mc_is_object_id(oid, strlen(oid))) {
        ++s->next;
        task_next(s);
        return;
    }
    up_release_all(s->w, oid, json_is_true(json_object_get(t, "coupon")), NULL, on_task_released, s);
}

/* --- 2. expired checkouts ------------------------------------------------------------------------ */

static const char *cur_id(sweeper_t *s)
{
    return json_string_value(json_object_get(s->cur, "_id"));
}

/* Forgets the checkout; stores (committed) or forgets (aborted) its key's answer. */
static void end_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    const char *idem = json_string_value(json_object_get(s->cur, "idemKey"));
    int64_t now = mc_now_ms();
    if (s->settle == SETTLE_COMMITTED && s->stock_gone) {
        /* The stock reservation expired before it could be committed: the order cannot be
         * honoured; cancel it (the release task and the event follow the usual path). */
        ord_actor_t system = {.system = true};
        ord_change_t c = {.act = ACT_CANCEL, .note = "the stock could not be committed in time"};
        ord_changed_t out;
        bool found;
        if (ord_change(db, cur_id(s), &system, &c, now, &out, &found, &s->bson) == 0 && out.verdict == ORD_OK) {
            json_decref(s->order);
            s->order = json_incref(out.order);
        }
        ord_changed_free(&out);
    }
    if (idem != NULL) {
        if (s->settle == SETTLE_COMMITTED && s->order != NULL) {
            ord_actor_t owner = {.role = MC_ROLE_CUSTOMER};
            snprintf(owner.user_id, sizeof(owner.user_id), "%s", json_string_value(json_object_get(s->cur, "customerId")) ?: "");
            json_t *view = ord_view(s->order, &owner);
            char *text = json_dumps(view, JSON_COMPACT);
            ord_idem_finish(db, idem, 201, text ? text : "{}", now);
            free(text);
            json_decref(view);
        } else {
            ord_idem_drop(db, idem);
        }
    }
    ord_checkout_end(db, cur_id(s));
}

/* Done with this checkout (settled or left for the next pass): the next one. */
static void next_checkout(sweeper_t *s)
{
    json_decref(s->cur);
    json_decref(s->order);
    s->cur = s->order = NULL;
    ++s->next;
    settle_next(s);
}

/* Settled: log it and go on. */
static void end_done(void *arg, const mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    if (!job_returned(s))
        return;
    if (res->err != MC_OK) { /* not settled after all: again at the next pass */
        next_checkout(s);
        return;
    }
    mc_log_info("checkout %s settled by the sweeper: %s", cur_id(s),
                s->settle == SETTLE_ABORTED ? "undone" : s->stock_gone ? "order cancelled (stock expired)" : "order placed");
    next_checkout(s);
}

/* Runs end_work. */
static void end_checkout(sweeper_t *s)
{
    if (!submit(s, end_work, end_done))
        next_checkout(s);
}

/* An aborted checkout's stock and coupon are back: forget it. */
static void on_checkout_released(void *data, bool ok)
{
    sweeper_t *s = data;
    if (s->closing)
        return;
    if (ok)
        end_checkout(s);
    else
        pass_end(s); /* a service is failing: again at the next pass */
}

/* A committed checkout's stock: sold, or gone (then the order is cancelled). */
static void on_checkout_committed(void *data, const up_res_t *r)
{
    sweeper_t *s = data;
    if (s->closing)
        return;
    if (r->status == 200) {
        s->stock_ok = true;
        end_checkout(s);
    } else if (r->status == 404 || r->status == 409) {
        /* gone: expired, or released by a cancellation that came first */
        const char *status = json_string_value(json_object_get(s->order, "status"));
        s->stock_gone = status == NULL || strcmp(status, "cancelled") != 0;
        end_checkout(s);
    } else {
        pass_end(s); /* the product service is failing: again at the next pass */
    }
}

/* On the thread pool: committed or aborted (and, when nobody decided, abort it now). */
static void settle_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    if (ord_checkout_settle(db, cur_id(s), mc_now_ms(), &s->settle, &s->order, &s->bson) != 0)
        mc_mongo_fail(mc_mongo_current(), res, &s->bson);
}

/* Then release (aborted) or commit the stock (committed). */
static void settle_done(void *arg, const mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    if (!job_returned(s))
        return;
    if (res->err != MC_OK) {
        next_checkout(s);
        return;
    }
    if (s->settle == SETTLE_ABORTED) {
        up_release_all(s->w, cur_id(s), json_is_string(json_object_get(s->cur, "couponCode")), NULL, on_checkout_released, s);
        return;
    }
    char url[512];
    snprintf(url, sizeof(url), "%s/api/inventory/reservations/%s/commit", ord_settings.product_url, cur_id(s));
    if (up_call(s->w, "POST", url, NULL, true, NULL, on_checkout_committed, s) != 0)
        next_checkout(s);
}

/* Step 2, one expired checkout at a time. */
static void settle_next(sweeper_t *s)
{
    json_t *c = json_array_get(s->expired, s->next);
    if (c == NULL) {
        s->next = 0;
        task_next(s);
        return;
    }
    const char *id = json_string_value(json_object_get(c, "_id"));
    if (id == NULL || !mc_is_object_id(id, strlen(id))) {
        ++s->next;
        settle_next(s);
        return;
    }
    s->cur = json_incref(c);
    s->stock_ok = s->stock_gone = false;
    if (!submit(s, settle_work, settle_done))
        next_checkout(s);
}

/* --- 1. outbox ---------------------------------------------------------------------------------- */

static void unpublish_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    size_t i;
    json_t *id;
    json_array_foreach(s->published, i, id) ord_outbox_delete(db, json_string_value(id));
}

/* Then step 2. */
static void unpublish_done(void *arg, const mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    if (!job_returned(s))
        return;
    s->next = 0;
    settle_next(s);
}

typedef struct drained {
    sweeper_t *s;
    json_t *id;
} drained_t;

/* Counts a PUBLISH reply (or the end of sending); the last one moves on. */
static void drain_step(sweeper_t *s)
{
    if (--s->publishing > 0)
        return;
    if (s->closing) {
        maybe_free(s);
        return;
    }
    if (json_array_size(s->published) > 0 && submit(s, unpublish_work, unpublish_done))
        return;
    s->next = 0;
    settle_next(s);
}

static void on_drained(void *data, bool ok)
{
    drained_t *d = data;
    sweeper_t *s = d->s;
    if (ok && !s->closing)
        json_array_append(s->published, d->id);
    json_decref(d->id);
    free(d);
    drain_step(s);
}

/* On the thread pool: what this pass has to do (three small collections). */
static void scan_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    int64_t now = mc_now_ms();
    bson_error_t err;
    s->due = ord_outbox_due(db, now, DRAIN_BATCH, &err);
    if (s->due == NULL)
        mc_mongo_fail(mc_mongo_current(), res, &err);
    s->expired = ord_checkout_expired(db, now, SETTLE_BATCH, &err);
    s->tasks = ord_tasks_due(db, now, TASK_MIN_AGE_MS, TASK_BATCH, &err);
    if (now - s->janitor_at >= JANITOR_MS) {
        s->janitor_at = now;
        ord_idem_expire(db, now);
    }
}

/* Step 1: publish the due entries in order on this worker's Redis connection. */
static void scan_done(void *arg, const mc_mongo_result_t *res)
{
    sweeper_t *s = arg;
    if (!job_returned(s))
        return;
    if (s->expired == NULL)
        s->expired = json_array();
    if (s->tasks == NULL)
        s->tasks = json_array();
    s->published = json_array();
    size_t n = json_array_size(s->due);
    mc_redis_t *r = mc_worker_redis(s->w);
    if (n == 0 || r == NULL || !mc_redis_up(r)) {
        s->next = 0;
        settle_next(s);
        return;
    }
    /* One connection keeps the order: PUBLISH replies and deliveries follow the sends.
     * The extra count keeps the batch open while sending (a reply may come at once). */
    s->publishing = n + 1;
    size_t i;
    json_t *e;
    json_array_foreach(s->due, i, e)
    {
        drained_t *d = malloc(sizeof(*d));
        d->s = s;
        d->id = json_incref(json_object_get(e, "id"));
        ord_publish(s->w, json_string_value(json_object_get(e, "message")), on_drained, d);
    }
    drain_step(s);
}

/* The pass is over (or ends early because another service is failing); the next tick may
 * start another. */
static void pass_end(sweeper_t *s)
{
    free_lists(s);
    s->busy = false;
}

/* Every ORDER_SWEEP_INTERVAL_MS: a pass, unless one is still running. */
static void on_tick(uv_timer_t *t)
{
    sweeper_t *s = t->data;
    if (s->busy || s->closing)
        return;
    s->busy = true;
    if (!submit(s, scan_work, scan_done))
        s->busy = false;
}

/* The timer is closed: the sweeper may be freed. */
static void on_timer_closed(uv_handle_t *h)
{
    sweeper_t *s = h->data;
    s->timer_closed = true;
    maybe_free(s);
}

/* One sweeper per process, on worker 0 (kept in a thread-local: each worker is a thread). */
static __thread sweeper_t *sweeper;

int ord_events_worker_init(mc_worker_t *w)
{
    if (mc_worker_index(w) != 0)
        return 0;
    sweeper_t *s = calloc(1, sizeof(*s));
    s->w = w;
    uv_timer_init(mc_worker_loop(w), &s->timer);
    s->timer.data = s;
    uv_timer_start(&s->timer, on_tick, (uint64_t)ord_settings.sweep_ms, (uint64_t)ord_settings.sweep_ms);
    sweeper = s;
    return 0;
}

void ord_events_worker_dispose(mc_worker_t *w)
{
    sweeper_t *s = sweeper;
    sweeper = NULL;
    if (s != NULL) {
        s->closing = true; /* its callbacks stop where they are */
        uv_timer_stop(&s->timer);
        uv_close((uv_handle_t *)&s->timer, on_timer_closed);
    }
    /* every call still waiting for another service fails now, so every saga ends */
    up_abort_all();
}
