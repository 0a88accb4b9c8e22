/*
 * The life of the WebSocket endpoint (gw_live.h): configuration, the schema's
 * subscription fields checked at start, and per worker a libwebsockets context on the
 * worker's own loop (LWS_SERVER_OPTION_LIBUV with the loop as a foreign loop; lws never
 * runs a loop of its own) with one vhost that listens nowhere — sockets come from the
 * accept hook (gw_ws_accept.c).
 *
 * Shutdown of a worker: the shutdown hook closes every WebSocket with 1012 ("reconnect")
 * after what is queued for it; the dispose hook, once the HTTP side is done, ends every
 * operation at once (they use the worker's HTTP client, which closes next), waits for the
 * sockets still closing until SHUTDOWN_TIMEOUT_MS after the shutdown began, then destroys
 * the lws context. With a foreign loop lws 4.1 destroys in two calls: the first starts
 * closing its handles; the second, once none of them is left on the loop (they carry the
 * context as their data), frees the context.
 */
#include <stdlib.h>
#include <string.h>
#include "gw_live_internal.h"
#include "gw_ws_peek.h"
#include "mc_config.h"
#include "mc_log.h"
#include "mc_util.h"

/* lws keeps some process-wide state (its log settings, the event-library plugin): its
 * contexts are created and destroyed one at a time. */
static uv_once_t lws_once = UV_ONCE_INIT;
static uv_mutex_t lws_mutex;

static void lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        --n;
    if (level & LLL_ERR)
        mc_log_error("libwebsockets: %.*s", (int)n, line);
    else if (level & LLL_WARN)
        mc_log_warn("libwebsockets: %.*s", (int)n, line);
    else
        mc_log_debug("libwebsockets: %.*s", (int)n, line);
}

static void lws_global_init(void)
{
    uv_mutex_init(&lws_mutex);
    /* LOG_LEVEL=debug shows lws's own account of each connection too */
    int levels = LLL_ERR | LLL_WARN;
    if (mc_log_enabled(MC_LOG_DEBUG))
        levels |= LLL_NOTICE | LLL_INFO;
    lws_set_log_level(levels, lws_log);
}

static const struct lws_protocols protocols[] = {
    {
        .name = GW_WS_SUBPROTOCOL,
        .callback = gw_ws_callback,
        .per_session_data_size = sizeof(gw_wsconn_t *),
        .rx_buffer_size = 1024, /* per connection; larger messages arrive in pieces */
    },
    {0},
};

/* --- the process ------------------------------------------------------------------------------- */

static int check_schema(const gw_schema_t *schema)
{
    const gql_type *sub = schema->gql->subscription;
    int errors = 0;
    for (uint32_t i = 0; sub != NULL && i < sub->nfields; ++i) {
        const gql_field *f = &sub->fields[i];
        const gw_field_t *b = f->user;
        const char *why = NULL;
        int scope = gw_sub_field_scope(f, &why);
        if (scope >= 0 && (b == NULL || !b->auth))
            why = "a subscription field needs @auth: events belong to someone";
        else if (scope == GW_SCOPE_ALL && (b->roles & ~(unsigned)MC_ROLE_ADMIN) != 0)
            why = "@orderEvents(scope: ALL) is for @auth(roles: [ADMIN]) only";
        else if (scope == GW_SCOPE_ORDER) {
            bool has_id = false;
            for (uint32_t a = 0; a < f->nargs; ++a)
                has_id = has_id || (strcmp(f->args[a].name, "id") == 0 && f->args[a].type->kind == GQL_KIND_NON_NULL);
            if (!has_id)
                why = "@orderEvents(scope: ORDER) needs a non-null argument `id`";
        }
        if (why != NULL) {
            const gql_source *src = f->source;
            mc_log_error("%s: Subscription.%s: %s", src != NULL && src->name != NULL ? src->name : "schema", f->name,
                         why);
            ++errors;
        }
    }
    return errors == 0 ? 0 : -1;
}

gw_live_t *gw_live_create(mc_server_t *srv, gw_gateway_t *g)
{
    uv_once(&lws_once, lws_global_init);
    gw_live_t *live = calloc(1, sizeof(*live));
    if (live == NULL)
        return NULL;
    gw_live_config_t *c = &live->cfg;
    c->init_timeout_ms = (unsigned)mc_env_int("GATEWAY_WS_INIT_TIMEOUT_MS", 3000, 100, 600000);
    c->max_connections = (unsigned)mc_env_int("GATEWAY_WS_MAX_CONNECTIONS", 20000, 1, 10000000);
    c->max_operations = (unsigned)mc_env_int("GATEWAY_WS_MAX_OPERATIONS", 100, 1, 100000);
    c->max_message_bytes = (size_t)mc_env_int("GATEWAY_WS_MAX_MESSAGE_BYTES", 65536, 1024, 16 << 20);
    c->max_buffered_bytes = (size_t)mc_env_int("GATEWAY_WS_MAX_BUFFERED_BYTES", 1 << 20, 4096, 1 << 30);
    c->max_pending_events = (unsigned)mc_env_int("GATEWAY_WS_MAX_PENDING_EVENTS", 1000, 1, 10000000);
    c->ping_interval_s = (unsigned)mc_env_int("GATEWAY_WS_PING_INTERVAL_S", 30, 1, 3600);
    c->recent_orders = (unsigned)mc_env_int("GATEWAY_WS_RECENT_ORDERS", 65536, 16, 10000000);
    const mc_config_t *cfg = mc_server_config(srv);
    live->srv = srv;
    live->g = g;
    live->jwt = mc_server_jwt(srv);
    live->internal_key = cfg->internal_key;
    live->redis_url = cfg->redis_url;
    live->shutdown_timeout_ms = cfg->shutdown_timeout_ms;
    atomic_init(&live->connections, 0);
    atomic_init(&live->subscriptions, 0);
    if (g->schema == NULL || check_schema(g->schema) != 0) {
        mc_log_error("the schema's subscription fields are invalid; the gateway does not start");
        free(live);
        return NULL;
    }
    gw_hub_t *hub = &live->hub;
    uv_mutex_init(&hub->lock);
    hub->n = cfg->workers;
    hub->inboxes = calloc(hub->n, sizeof(*hub->inboxes));
    atomic_init(&hub->up, false);
    return live;
}

void gw_live_free(gw_live_t *live)
{
    if (live == NULL)
        return;
    uv_mutex_destroy(&live->hub.lock);
    free(live->hub.inboxes);
    free(live);
}

bool gw_live_events_up(const gw_live_t *live)
{
    return atomic_load(&((gw_live_t *)live)->hub.up);
}

unsigned gw_live_connections(const gw_live_t *live)
{
    return atomic_load(&((gw_live_t *)live)->connections);
}

unsigned gw_live_subscriptions(const gw_live_t *live)
{
    return atomic_load(&((gw_live_t *)live)->subscriptions);
}

/* --- a worker ------------------------------------------------------------------------------------ */

static void on_keepalive(uv_timer_t *t);

int gw_live_worker_init(gw_live_t *live, mc_worker_t *mw, gw_worker_t *w)
{
    gw_live_worker_t *lw = calloc(1, sizeof(*lw));
    if (lw == NULL)
        return -1;
    lw->live = live;
    lw->mw = mw;
    lw->gw = w;
    lw->loop = mc_worker_loop(mw);
    lw->index = mc_worker_index(mw);
    uv_timer_init(lw->loop, &lw->timer);
    lw->timer.data = lw;
    ++lw->open_handles;
    uv_timer_init(lw->loop, &lw->keepalive);
    lw->keepalive.data = lw;
    ++lw->open_handles;
    w->live = lw; /* from here on, dispose cleans up whatever follows */
    if (gw_sub_worker_init(lw) != 0)
        return -1;

    /* Pings are ours (gw_ws_keepalive, every second or half interval). lws's own validity checks
     * are off — a policy whose secs_since_valid_hangup is 0 — rather than left to lws's
     * default (a ping after 300 s): its ping path stalled connections' writable callbacks
     * (see gw_ws_keepalive), and every pong re-armed a per-connection timer in a sorted
     * list, a walk of every connection per pong (at 10,000 WebSockets, pings every 5 s
     * made the gateway fall seconds behind). */
    lw->retry.secs_since_valid_ping = 0;
    lw->retry.secs_since_valid_hangup = 0;
    /* every second (or half interval): each connection is pinged close to when it fell
     * silent, so connections opened over a minute are not all pinged in one burst */
    uint64_t tick = (uint64_t)live->cfg.ping_interval_s * 500;
    if (tick > 1000)
        tick = 1000;
    uv_timer_start(&lw->keepalive, on_keepalive, tick, tick);
    void *loops[1] = {lw->loop};
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    info.protocols = protocols;
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.user = lw;
    info.pcontext = &lw->ctx;
    info.max_http_header_data = GW_WS_PEEK_MAX;
    info.timeout_secs = 10;
    info.retry_and_idle_policy = &lw->retry;
    info.server_string = "mercato";
    uv_mutex_lock(&lws_mutex);
    lw->ctx = lws_create_context(&info);
    uv_mutex_unlock(&lws_mutex);
    if (lw->ctx == NULL) {
        mc_log_error("worker %u: libwebsockets did not start (is the libuv event library plugin, "
                     "libwebsockets-evlib-uv, installed?)",
                     lw->index);
        return -1;
    }
    lw->vh = lws_get_vhost_by_name(lw->ctx, "default");
    if (lw->vh == NULL) {
        mc_log_error("worker %u: libwebsockets has no vhost", lw->index);
        return -1;
    }
    return gw_hub_worker_init(&live->hub, lw, live->redis_url);
}

void gw_live_worker_shutdown(mc_worker_t *mw)
{
    gw_worker_t *w = mc_worker_data(mw);
    gw_live_worker_t *lw = w != NULL ? w->live : NULL;
    if (lw == NULL || lw->shutting_down)
        return;
    lw->shutting_down = true;
    lw->deadline_ms = mc_now_ms() + lw->live->shutdown_timeout_ms;
    gw_ws_accept_close_all(lw);
    for (gw_wsconn_t *c = lw->conns; c != NULL; c = c->next)
        gw_ws_close_flush(c, 1012, "The gateway is restarting: reconnect");
}

void gw_live_handle_closed(gw_live_worker_t *lw)
{
    if (--lw->open_handles == 0)
        free(lw);
}

static void on_timer_closed(uv_handle_t *h)
{
    gw_live_handle_closed(h->data);
}

static void on_keepalive(uv_timer_t *t)
{
    gw_live_worker_t *lw = t->data;
    if (!lw->shutting_down)
        gw_ws_keepalive(lw);
}

typedef struct ctx_search {
    const void *ctx;
    bool found;
} ctx_search_t;

static void find_ctx_handle(uv_handle_t *h, void *arg)
{
    ctx_search_t *cs = arg;
    if (h->data == cs->ctx)
        cs->found = true;
}

/* Every 20 ms while disposing: first the sockets' closing (until the deadline), then the
 * two steps of lws's destruction, then our own handles. */
static void on_dispose_tick(uv_timer_t *t)
{
    gw_live_worker_t *lw = t->data;
    if (!lw->lws_destroying) {
        if (lw->nconns > 0 && mc_now_ms() < lw->deadline_ms)
            return;
        if (lw->nconns > 0)
            mc_log_warn("worker %u: %u WebSocket(s) still closing at the shutdown deadline; dropping them", lw->index,
                        lw->nconns);
        lw->lws_destroying = true;
        if (lw->ctx != NULL) {
            uv_mutex_lock(&lws_mutex);
            lws_context_destroy(lw->ctx); /* starts closing every lws handle */
            uv_mutex_unlock(&lws_mutex);
        }
        return;
    }
    if (lw->ctx != NULL) {
        ctx_search_t cs = {lw->ctx, false};
        uv_walk(lw->loop, find_ctx_handle, &cs);
        if (cs.found)
            return;
        uv_mutex_lock(&lws_mutex);
        lws_context_destroy(lw->ctx); /* frees it; lw->ctx becomes NULL */
        uv_mutex_unlock(&lws_mutex);
        lw->ctx = NULL;
    }
    /* lws reported every socket closed; anything left was never established */
    while (lw->conns != NULL)
        gw_ws_conn_closed(lw->conns);
    uv_timer_stop(&lw->timer);
    uv_close((uv_handle_t *)&lw->timer, on_timer_closed);
}

void gw_live_worker_dispose(gw_worker_t *w)
{
    gw_live_worker_t *lw = w->live;
    if (lw == NULL)
        return;
    w->live = NULL;
    if (!lw->shutting_down) {
        lw->shutting_down = true;
        lw->deadline_ms = mc_now_ms(); /* no graceful period without a shutdown */
    }
    lw->disposing = true;
    gw_ws_accept_close_all(lw);
    for (gw_wsconn_t *c = lw->conns; c != NULL; c = c->next) {
        gw_sub_end_all(c); /* their operations use the worker's HTTP client */
        gw_ws_close_flush(c, 1012, "The gateway is restarting: reconnect");
    }
    lw->gw = NULL;
    uv_timer_stop(&lw->keepalive);
    uv_close((uv_handle_t *)&lw->keepalive, on_timer_closed);
    gw_hub_worker_close(&lw->live->hub, lw);
    gw_sub_worker_close(lw);
    uv_timer_start(&lw->timer, on_dispose_tick, 0, 20);
}
