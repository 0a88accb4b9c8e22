/*
 * What the files of gw_live share (see gw_live.h for the pieces). Nothing outside
 * gw_live*.c, gw_ws_*.c and gw_sub*.c includes this.
 */
#ifndef GW_LIVE_INTERNAL_H
#define GW_LIVE_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <libwebsockets.h>
#include "gw_live.h"
#include "gw_sub_event.h"
#include "gw_versions.h"
#include "mc_jwt.h"
#include "mc_redis.h"

typedef struct gw_live_worker gw_live_worker_t;
typedef struct gw_wsconn gw_wsconn_t;
typedef struct gw_sub gw_sub_t;
typedef struct gw_peeker gw_peeker_t;
typedef struct gw_hub_msg gw_hub_msg_t;

/* --- the hub: order events from Redis to every worker (gw_sub_hub.c) ------------------ */

/* A worker's queue of messages from worker 0 (the one subscribed to Redis). */
typedef struct gw_inbox {
    gw_live_worker_t *lw;
    uv_async_t async;
    gw_hub_msg_t **msgs; /* under the hub's lock */
    size_t n, cap;
    bool open;
    uint64_t dropped;
} gw_inbox_t;

typedef struct gw_hub {
    uv_mutex_t lock;
    gw_inbox_t **inboxes; /* one per worker, by index (NULL until it registers) */
    unsigned n;
    mc_redis_sub_t *sub;  /* worker 0's */
    atomic_bool up;
} gw_hub_t;

/* Registers the worker's inbox; worker 0 also subscribes. -1 after logging. */
int gw_hub_worker_init(gw_hub_t *hub, gw_live_worker_t *lw, const char *redis_url);
/* Closes the worker's inbox (and worker 0's subscription); the loop must run on. */
void gw_hub_worker_close(gw_hub_t *hub, gw_live_worker_t *lw);

/* --- the process -------------------------------------------------------------------------- */

struct gw_live {
    gw_live_config_t cfg;
    mc_server_t *srv;
    gw_gateway_t *g;
    const mc_jwt_t *jwt;
    const char *internal_key;
    const char *redis_url;
    unsigned shutdown_timeout_ms;
    atomic_uint connections; /* WebSockets open (handed to lws) in the process */
    atomic_uint subscriptions; /* subscriptions active in the process */
    gw_hub_t hub;
};

/* --- a worker ------------------------------------------------------------------------------- */

/* A bucket of the subscription index: every subscription keyed by one order or user id. */
typedef struct gw_ibucket {
    struct gw_ibucket *next;
    char key[32];
    gw_sub_t *head;
} gw_ibucket_t;

typedef struct gw_index {
    gw_ibucket_t **table;
    uint32_t cap, count; /* buckets in use */
} gw_index_t;

struct gw_live_worker {
    gw_live_t *live;
    mc_worker_t *mw;
    gw_worker_t *gw; /* the operation runner (NULL once disposed) */
    uv_loop_t *loop;
    unsigned index;
    struct lws_context *ctx; /* NULL once destroyed */
    struct lws_vhost *vh;
    lws_retry_bo_t retry;    /* lws's own ping/hang-up policy: kept out of the way (gw_live.c) */
    uv_timer_t keepalive;    /* idle pings and dead peers (gw_ws_keepalive) */
    bool shutting_down, disposing, lws_destroying;
    gw_peeker_t *peekers;    /* connections being looked at */
    gw_wsconn_t *conns;      /* WebSockets */
    unsigned nconns;
    /* subscriptions */
    gw_index_t by_order;     /* scope ORDER, by order id */
    gw_index_t by_user;      /* scopes CUSTOMER and SELLER, by the subscriber's id */
    gw_sub_t *all;           /* scope ALL */
    unsigned nsubs;
    gw_sub_t *run_head, *run_tail; /* subscriptions with an event to run */
    struct gw_sub_pending *pending; /* subscribe messages waiting for the rate limiter (gw_sub.c) */
    uv_idle_t runner;
    bool runner_active;
    gw_versions_t *versions;
    uint64_t events, dropped_events;
    gw_inbox_t inbox;
    bool runner_open;
    /* closing */
    uv_timer_t timer;        /* shutdown deadline, then waiting for lws's handles */
    int64_t deadline_ms;
    unsigned open_handles;   /* timer, runner, inbox: the worker's part is freed when all closed */
};

/* A handle of the worker's part was closed (its close callback calls this). */
void gw_live_handle_closed(gw_live_worker_t *lw);

/* --- connections (gw_ws_conn.c) ------------------------------------------------------------- */

/* An outgoing message: LWS_PRE bytes of room, then the text. */
typedef struct gw_wsout {
    struct gw_wsout *next;
    size_t len;
    unsigned char buf[];
} gw_wsout_t;

struct gw_wsconn {
    gw_live_worker_t *lw;
    struct lws *wsi;        /* NULL once lws closed it */
    gw_wsconn_t *prev, *next;
    uv_timer_t timer;       /* connection_init timeout, then the token's expiry */
    uint64_t serial;
    bool init_received, acked, closing;
    bool flush;             /* closing: send what is queued first */
    bool close_started;     /* lws was asked to close (lws_close_reason) */
    uint16_t close_code;
    char close_reason[124];
    bool has_claims;
    mc_claims_t claims;
    char *authorization;    /* "Bearer …", forwarded to the services */
    char client_address[64];
    /* the message being received */
    char *rx;
    size_t rxlen, rxcap;
    bool rx_active, rx_binary;
    /* keepalive: when the client last sent anything (uv_now), and a ping owed to it */
    uint64_t last_rx_ms;
    bool ping_due;
    /* outgoing */
    gw_wsout_t *out_head, *out_tail;
    size_t out_bytes;
    unsigned pending_events;
    /* operations, by id */
    gw_sub_t *ops;
    unsigned nops;
    unsigned npending;      /* subscribe messages waiting for the rate limiter (gw_sub.c) */
};

/* The lws protocol callback. */
int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len);
/* Queues a text message (copied). Returns false when the connection is closing (or starts
 * closing because the client is too slow): the message was not queued. */
bool gw_ws_send(gw_wsconn_t *c, const char *text, size_t len);
/* Closes with a code and reason (once; later calls do nothing). Queued messages are
 * dropped — or with gw_ws_close_flush sent first; nothing more is queued. Operations end
 * when lws reports the socket closed. */
void gw_ws_close(gw_wsconn_t *c, uint16_t code, const char *reason);
void gw_ws_close_flush(gw_wsconn_t *c, uint16_t code, const char *reason);
/* Frees a connection lws reported closed (its operations too). */
void gw_ws_conn_closed(gw_wsconn_t *c);
/* The worker's keepalive round (every second, or half the ping interval): a connection the client has
 * been silent on for GATEWAY_WS_PING_INTERVAL_S is owed a ping; silent twice as long, it
 * is presumed dead and closed. */
void gw_ws_keepalive(gw_live_worker_t *lw);

/* --- subscriptions and operations (gw_sub.c) -------------------------------------------------- */

typedef enum gw_evscope {
    GW_SCOPE_ORDER,
    GW_SCOPE_CUSTOMER,
    GW_SCOPE_SELLER,
    GW_SCOPE_ALL,
} gw_evscope_t;

/* The scope an @orderEvents field names, or -1 (with why) for a field without one. */
int gw_sub_field_scope(const gql_field *f, const char **why);

/* A subscribe message: starts the operation `id` (a subscription, or a query or mutation
 * answered once). Every outcome is a message to the client (next, error, complete). */
void gw_sub_start(gw_wsconn_t *c, const char *id, size_t idlen, const char *query, size_t qlen,
                  const char *operation_name, json_t *variables);
/* A complete message: ends the operation `id` (unknown ids are ignored). */
void gw_sub_complete(gw_wsconn_t *c, const char *id, size_t idlen);
/* Sends an error to every operation of the connection and ends them (token expiry). */
void gw_sub_fail_all(gw_wsconn_t *c, const char *message, const char *code);
/* Ends every operation of the connection without a message. */
void gw_sub_end_all(gw_wsconn_t *c);
/* An order event message from the hub, on the worker's loop. */
void gw_sub_on_message(gw_live_worker_t *lw, const char *msg, size_t len);
/* Worker state of the subscriptions: init (the runner) and the end of everything. */
int gw_sub_worker_init(gw_live_worker_t *lw);
void gw_sub_worker_close(gw_live_worker_t *lw);

/* --- accepting (gw_ws_accept.c) ------------------------------------------------------------- */

/* Stops looking at every connection still being peeked at (shutdown). */
void gw_ws_accept_close_all(gw_live_worker_t *lw);

#endif
