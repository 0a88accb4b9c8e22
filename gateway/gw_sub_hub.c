/*
 * The order events from Redis to every worker (gw_live.h).
 *
 * One subscription per process: worker 0 subscribes to `orders:events` with lib's
 * mc_redis_sub (its own connection, which subscribes again by itself after Redis
 * restarts or the connection drops). Every message is handled on worker 0's loop at once
 * and queued, shared and reference-counted, for every other worker, whose uv_async wakes
 * its loop. Each worker keeps its own subscriptions, so it parses the message itself;
 * nothing JSON crosses a thread. A worker's queue is bounded: a worker that stopped
 * draining loses the newest messages (logged) rather than growing without end.
 *
 * Any gateway process can serve any subscriber: each one subscribes.
 */
#include <stdlib.h>
#include <string.h>
#include "gw_live_internal.h"
#include "mc_log.h"

#define GW_EVENTS_CHANNEL "orders:events"
/* Messages a worker may have waiting (about a minute at 1,000 events/s). */
#define GW_INBOX_MAX 65536

struct gw_hub_msg {
    atomic_uint refs;
    size_t len;
    char data[];
};

static void msg_release(gw_hub_msg_t *m)
{
    if (atomic_fetch_sub(&m->refs, 1) == 1)
        free(m);
}

/* On a worker's loop: the messages queued for it, in order. */
static void on_inbox(uv_async_t *a)
{
    gw_inbox_t *in = a->data;
    gw_hub_t *hub = &in->lw->live->hub;
    uv_mutex_lock(&hub->lock);
    gw_hub_msg_t **msgs = in->msgs;
    size_t n = in->n;
    uint64_t dropped = in->dropped;
    in->msgs = NULL;
    in->n = in->cap = 0;
    in->dropped = 0;
    uv_mutex_unlock(&hub->lock);
    if (dropped > 0)
        mc_log_error("worker %u: %llu order events dropped: its queue was full", in->lw->index,
                     (unsigned long long)dropped);
    for (size_t i = 0; i < n; ++i) {
        gw_sub_on_message(in->lw, msgs[i]->data, msgs[i]->len);
        msg_release(msgs[i]);
    }
    free(msgs);
}

/* On worker 0's loop: a message from Redis. */
static void on_message(const char *pattern, const char *channel, size_t chlen, const char *msg, size_t msglen, void *data)
{
    (void)pattern;
    (void)channel;
    (void)chlen;
    gw_hub_t *hub = data;
    gw_live_worker_t *self = NULL;
    if (hub->n > 1) {
        gw_hub_msg_t *m = malloc(sizeof(*m) + msglen);
        if (m != NULL) {
            atomic_init(&m->refs, 1);
            m->len = msglen;
            memcpy(m->data, msg, msglen);
            uv_mutex_lock(&hub->lock);
            for (unsigned i = 1; i < hub->n; ++i) {
                gw_inbox_t *in = hub->inboxes[i];
                if (in == NULL || !in->open)
                    continue;
                if (in->n >= GW_INBOX_MAX) {
                    ++in->dropped;
                    uv_async_send(&in->async);
                    continue;
                }
                if (in->n == in->cap) {
                    size_t cap = in->cap ? in->cap * 2 : 64;
                    gw_hub_msg_t **p = realloc(in->msgs, cap * sizeof(*p));
                    if (p == NULL) {
                        ++in->dropped;
                        continue;
                    }
                    in->msgs = p;
                    in->cap = cap;
                }
                atomic_fetch_add(&m->refs, 1);
                in->msgs[in->n++] = m;
                uv_async_send(&in->async);
            }
            uv_mutex_unlock(&hub->lock);
            msg_release(m);
        } else {
            mc_log_error("an order event could not be passed on to the other workers (out of memory)");
        }
    }
    uv_mutex_lock(&hub->lock);
    if (hub->inboxes[0] != NULL && hub->inboxes[0]->open)
        self = hub->inboxes[0]->lw;
    uv_mutex_unlock(&hub->lock);
    if (self != NULL)
        gw_sub_on_message(self, msg, msglen);
}

static void on_sub_state(mc_redis_t *r, bool up, void *data)
{
    (void)r;
    gw_hub_t *hub = data;
    bool was = atomic_exchange(&hub->up, up);
    if (up && !was)
        mc_log_info("subscribed to the order events (Redis %s)", GW_EVENTS_CHANNEL);
    else if (!up && was)
        mc_log_warn("the Redis subscription to the order events is down; it resubscribes by itself "
                    "(events published meanwhile are not delivered)");
}

int gw_hub_worker_init(gw_hub_t *hub, gw_live_worker_t *lw, const char *redis_url)
{
    gw_inbox_t *in = &lw->inbox;
    in->lw = lw;
    uv_async_init(lw->loop, &in->async, on_inbox);
    in->async.data = in;
    ++lw->open_handles;
    uv_mutex_lock(&hub->lock);
    in->open = true;
    hub->inboxes[lw->index] = in;
    uv_mutex_unlock(&hub->lock);
    if (lw->index != 0)
        return 0;
    char err[256];
    mc_redis_opts_t ro = {.on_state = on_sub_state, .data = hub};
    hub->sub = mc_redis_sub_create(lw->loop, redis_url, on_message, hub, &ro, err, sizeof(err));
    if (hub->sub == NULL) {
        mc_log_error("REDIS_URL: %s", err);
        return -1;
    }
    if (mc_redis_sub_subscribe(hub->sub, GW_EVENTS_CHANNEL) != 0) {
        mc_log_error("cannot subscribe to %s", GW_EVENTS_CHANNEL);
        return -1;
    }
    return 0;
}

static void on_inbox_closed(uv_handle_t *h)
{
    gw_inbox_t *in = h->data;
    gw_live_handle_closed(in->lw);
}

void gw_hub_worker_close(gw_hub_t *hub, gw_live_worker_t *lw)
{
    gw_inbox_t *in = &lw->inbox;
    if (in->lw == NULL) /* never initialised */
        return;
    uv_mutex_lock(&hub->lock);
    in->open = false;
    hub->inboxes[lw->index] = NULL;
    gw_hub_msg_t **msgs = in->msgs;
    size_t n = in->n;
    in->msgs = NULL;
    in->n = in->cap = 0;
    uv_mutex_unlock(&hub->lock);
    for (size_t i = 0; i < n; ++i)
        msg_release(msgs[i]);
    free(msgs);
    if (lw->index == 0 && hub->sub != NULL) {
        mc_redis_sub_close(hub->sub, NULL, NULL);
        hub->sub = NULL;
        atomic_store(&hub->up, false);
    }
    uv_close((uv_handle_t *)&in->async, on_inbox_closed);
}
