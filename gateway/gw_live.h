/*
 * gw_live: live order tracking — GraphQL subscriptions over WebSocket
 * (graphql-transport-ws) on the gateway's port and path, ws://host:4000/graphql.
 *
 * Pieces (docs/gateway.md, "Subscriptions over WebSocket"):
 *
 *   gw_ws_accept.c   each new connection is routed by its first bytes (recv MSG_PEEK):
 *                    WebSocket upgrades of /graphql to libwebsockets, everything else to
 *                    h2o (lib/mc_server's accept hook)
 *   gw_ws_conn.c     the graphql-transport-ws protocol on libwebsockets, which runs on
 *                    the worker's own libuv loop (one lws context per worker)
 *   gw_sub.c         subscriptions: where each is indexed (by order, by user, all),
 *                    which events it gets, and running its selection set for each with
 *                    the gateway's operation runner (gw_op: nested fields are fetched from
 *                    the services like in any query)
 *   gw_sub_hub.c     one Redis subscription to the order events per process (worker 0),
 *                    fanned out to every worker's loop
 *   gw_sub_event.c   an event checked, and shown as each subscriber may see the order
 *   gw_versions.c    per-order versions, to drop duplicate and late events
 *
 * Threads: everything of a worker (its connections, subscriptions, lws context) lives on
 * that worker's loop; only the hub's queues are shared, under a mutex.
 */
#ifndef GW_LIVE_H
#define GW_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include "gw_gateway.h"
#include "mc_server.h"

/* Limits and timings (docs/configuration.md, "Gateway: subscriptions"). */
typedef struct gw_live_config {
    unsigned init_timeout_ms;     /* GATEWAY_WS_INIT_TIMEOUT_MS: connection_init must come within */
    unsigned max_connections;     /* GATEWAY_WS_MAX_CONNECTIONS: WebSockets per process */
    unsigned max_operations;      /* GATEWAY_WS_MAX_OPERATIONS: active operations per connection */
    size_t max_message_bytes;     /* GATEWAY_WS_MAX_MESSAGE_BYTES: one message from a client */
    size_t max_buffered_bytes;    /* GATEWAY_WS_MAX_BUFFERED_BYTES: bytes waiting to go to one client */
    unsigned max_pending_events;  /* GATEWAY_WS_MAX_PENDING_EVENTS: events waiting to run, per connection */
    unsigned ping_interval_s;     /* GATEWAY_WS_PING_INTERVAL_S: idle time before a WebSocket ping */
    unsigned recent_orders;       /* GATEWAY_WS_RECENT_ORDERS: orders whose last version is remembered */
} gw_live_config_t;

typedef struct gw_live gw_live_t;

/* Reads the configuration and checks the schema's subscription fields (each bound by
 * @orderEvents, as docs/gateway.md says). Once, on the main thread, after the schema is
 * loaded. NULL after logging why (the gateway does not start). */
gw_live_t *gw_live_create(mc_server_t *srv, gw_gateway_t *g);
/* After every worker stopped. */
void gw_live_free(gw_live_t *live);

/* On a worker's thread: its lws context, its share of the event hub (worker 0 also
 * subscribes to Redis). Sets w->live. -1 after logging. */
int gw_live_worker_init(gw_live_t *live, mc_worker_t *mw, gw_worker_t *w);
/* The accept hook (mc_server_opts_t.accept). */
bool gw_live_accept(mc_worker_t *mw, mc_conn_t *conn);
/* The shutdown hook (mc_server_opts_t.worker_shutdown): every WebSocket is closed with
 * 1012 (reconnect elsewhere); those that do not finish closing within
 * SHUTDOWN_TIMEOUT_MS are dropped. */
void gw_live_worker_shutdown(mc_worker_t *mw);
/* From the worker's dispose hook, before its HTTP client closes: ends every operation at
 * once, then finishes closing the sockets and the lws context on the loop (which must run
 * on) and frees the worker's part. Clears w->live. */
void gw_live_worker_dispose(gw_worker_t *w);

/* For /ready: whether the process's Redis subscription to the order events is up. */
bool gw_live_events_up(const gw_live_t *live);
/* WebSockets open in the process, and subscriptions active on them. */
unsigned gw_live_connections(const gw_live_t *live);
unsigned gw_live_subscriptions(const gw_live_t *live);

#endif
