/*
 * The graphql-transport-ws protocol on a libwebsockets connection (gw_live.h).
 *
 * A connection's life:
 *   1. lws finishes the handshake (only connections offering the subprotocol reach lws,
 *      see gw_ws_accept.c) and calls ESTABLISHED: the connection_init timer starts
 *      (GATEWAY_WS_INIT_TIMEOUT_MS; then 4408).
 *   2. connection_init: its payload's `authorization` ("Bearer <access token>", the
 *      member's name in any case, as the playground and Apollo clients send it) is
 *      verified like an HTTP request's header; a bad token closes with 4403, none makes
 *      the connection anonymous (queries of public data only). A second init is 4429.
 *      The ack starts the token's expiry timer: at expiry every operation gets an
 *      UNAUTHENTICATED error and the socket closes with 4403 — nothing after that moment
 *      is delivered on the old token's authority.
 *   3. subscribe before the ack is 4401; an id that is active is 4409; otherwise the
 *      operation runs (gw_sub.c). complete ends one. ping is answered with pong (its
 *      payload echoed); pong is ignored. Anything else, or a malformed message, is 4400.
 *
 * Messages leave through a queue that lws drains when the socket is writable. The queue
 * (bytes) and the events waiting to run (count) are capped per connection: a client too
 * slow to read is closed with 1013 and a reason, rather than growing the gateway's
 * memory. Closing drops what is queued; the operations end when lws reports the socket
 * closed (CLOSED), which is the only place a connection is freed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw_live_internal.h"
#include "gw_ws_msg.h"
#include "gw_ws_peek.h"
#include "mc_log.h"
#include "mc_util.h"

static uint64_t next_serial;

/* --- sending ------------------------------------------------------------------------------- */

static void out_free_all(gw_wsconn_t *c)
{
    while (c->out_head != NULL) {
        gw_wsout_t *m = c->out_head;
        c->out_head = m->next;
        free(m);
    }
    c->out_tail = NULL;
    c->out_bytes = 0;
}

bool gw_ws_send(gw_wsconn_t *c, const char *text, size_t len)
{
    if (c->closing || c->wsi == NULL)
        return false;
    const gw_live_config_t *cfg = &c->lw->live->cfg;
    if (c->out_bytes + len > cfg->max_buffered_bytes) {
        char why[124];
        snprintf(why, sizeof(why), "Too slow: more than %zu bytes waiting to be sent", cfg->max_buffered_bytes);
        gw_ws_close(c, 1013, why);
        return false;
    }
    gw_wsout_t *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (m == NULL) {
        gw_ws_close(c, 1011, "Out of memory");
        return false;
    }
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, text, len);
    if (c->out_tail != NULL)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += len;
    lws_callback_on_writable(c->wsi);
    return true;
}

static void send_literal(gw_wsconn_t *c, const char *text)
{
    gw_ws_send(c, text, strlen(text));
}

static void close_with(gw_wsconn_t *c, uint16_t code, const char *reason, bool flush)
{
    if (c->closing || c->wsi == NULL)
        return;
    c->closing = true;
    c->flush = flush;
    c->close_code = code;
    size_t n = gw_utf8_cut(reason, strlen(reason), sizeof(c->close_reason) - 1);
    memcpy(c->close_reason, reason, n);
    c->close_reason[n] = '\0';
    if (!flush)
        out_free_all(c);
    uv_timer_stop(&c->timer);
    mc_log_json(code == 1012 ? MC_LOG_DEBUG : MC_LOG_INFO, NULL,
                json_pack("{s:I,s:i,s:s,s:s}", "connection", (json_int_t)c->serial, "code", code, "reason", c->close_reason,
                          "client", c->client_address),
                "closing a WebSocket");
    /* The close frame goes out from the writable callback; a socket that never becomes
     * writable again (a client that stopped reading) is dropped after a few seconds. */
    lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 5);
    lws_callback_on_writable(c->wsi);
}

void gw_ws_close(gw_wsconn_t *c, uint16_t code, const char *reason)
{
    close_with(c, code, reason, false);
}

void gw_ws_close_flush(gw_wsconn_t *c, uint16_t code, const char *reason)
{
    close_with(c, code, reason, true);
}

/* Once what had to go out is out, lws closes: it sends our close frame and waits for
 * the client's (5 s at most). lws is told from its timer callback (LWS_CALLBACK_TIMER,
 * right away), not by returning -1 here: on the libuv loop, the distribution's lws 4.1.6
 * (a debug build) closes a connection whose writable callback failed a second time at
 * once ("uv repeat test"), dropping the socket before the close frame is out — the
 * client would see 1006 instead of the code. */
static void start_close(gw_wsconn_t *c)
{
    c->close_started = true;
    lws_close_reason(c->wsi, (enum lws_close_status)c->close_code, (unsigned char *)c->close_reason,
                     strlen(c->close_reason));
    lws_set_timer_usecs(c->wsi, 1);
}

static int on_writable(gw_wsconn_t *c)
{
    if (c->close_started)
        return 0;
    if (c->closing && c->out_head == NULL) {
        start_close(c);
        return 0;
    }
    if (c->ping_due && !c->closing) {
        /* a control frame, between two messages (each message is one lws_write); with a
         * payload, because lws 4.1.6 does not report an empty pong (RECEIVE_PONG) */
        unsigned char ping[LWS_PRE + 8];
        memcpy(ping + LWS_PRE, "mercato!", 8);
        c->ping_due = false;
        if (lws_write(c->wsi, ping + LWS_PRE, 8, LWS_WRITE_PING) < 0)
            return -1;
        if (c->out_head != NULL && lws_send_pipe_choked(c->wsi)) {
            lws_callback_on_writable(c->wsi);
            return 0;
        }
    }
    while (c->out_head != NULL) {
        gw_wsout_t *m = c->out_head;
        int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        if (n < 0)
            return -1;
        c->out_head = m->next;
        if (c->out_head == NULL)
            c->out_tail = NULL;
        c->out_bytes -= m->len;
        free(m);
        /* lws keeps what the socket did not take; the rest waits for the next round */
        if (c->out_head != NULL && lws_send_pipe_choked(c->wsi))
            break;
    }
    if (c->out_head != NULL || c->closing) /* more to send, or the close after it */
        lws_callback_on_writable(c->wsi);
    return 0;
}

/* --- keepalive -------------------------------------------------------------------------------- */

/* Our own pings rather than lws's "validity" policy: with the distribution's lws 4.1.6 on
 * the libuv loop, a connection whose validity ping fell due stopped getting its writable
 * callbacks — messages queued for it waited, sometimes for good (bench/subscriptions
 * showed events lost at 10,000 subscribers once the first pings fell due). Pings sent
 * from our own writable callback go through the same path as every message. */
void gw_ws_keepalive(gw_live_worker_t *lw)
{
    uint64_t now = uv_now(lw->loop);
    uint64_t idle = (uint64_t)lw->live->cfg.ping_interval_s * 1000;
    for (gw_wsconn_t *c = lw->conns; c != NULL; c = c->next) {
        if (c->closing || c->wsi == NULL)
            continue;
        uint64_t silent = now - c->last_rx_ms;
        if (silent >= 2 * idle) {
            gw_ws_close(c, 1001, "No answer to ping: the connection is presumed dead");
        } else if (silent >= idle && !c->ping_due) {
            c->ping_due = true;
            lws_callback_on_writable(c->wsi);
        }
    }
}

/* --- timers ----------------------------------------------------------------------------------- */

static void on_timer(uv_timer_t *t)
{
    gw_wsconn_t *c = t->data;
    if (c->closing || c->wsi == NULL)
        return;
    if (!c->init_received) {
        gw_ws_close(c, 4408, "Connection initialisation timeout");
        return;
    }
    /* the access token expired */
    gw_sub_fail_all(c, "The access token expired; sign in again and reconnect with the new token.", "UNAUTHENTICATED");
    gw_ws_close_flush(c, 4403, "Forbidden: the access token expired");
}

static void on_conn_timer_closed(uv_handle_t *h)
{
    gw_wsconn_t *c = h->data;
    free(c->rx);
    free(c->authorization);
    free(c);
}

/* --- connection_init ---------------------------------------------------------------------------- */

/* The access token of the init payload: its `authorization` member (any case) as
 * "Bearer <token>". Returns 1 with the token, 0 when there is none, -1 with a reason when
 * it is malformed. */
static int init_token(json_t *payload, const char **token, size_t *len, const char **why)
{
    if (payload == NULL)
        return 0;
    const char *k;
    json_t *v;
    json_t *found = NULL;
    json_object_foreach(payload, k, v)
    {
        if (strcasecmp(k, "authorization") == 0) {
            if (found != NULL) {
                *why = "more than one authorization";
                return -1;
            }
            found = v;
        }
    }
    if (found == NULL || json_is_null(found))
        return 0;
    if (!json_is_string(found)) {
        *why = "the authorization must be a string \"Bearer <access token>\"";
        return -1;
    }
    const char *s = json_string_value(found);
    size_t n = json_string_length(found);
    if (n < 7 || strncasecmp(s, "Bearer ", 7) != 0) {
        *why = "the authorization must be \"Bearer <access token>\"";
        return -1;
    }
    s += 7;
    n -= 7;
    while (n > 0 && *s == ' ') {
        ++s;
        --n;
    }
    if (n == 0) {
        *why = "missing bearer token";
        return -1;
    }
    *token = s;
    *len = n;
    return 1;
}

static void on_init(gw_wsconn_t *c, json_t *payload)
{
    if (c->init_received) {
        gw_ws_close(c, 4429, "Too many initialisation requests");
        return;
    }
    c->init_received = true;
    uv_timer_stop(&c->timer);
    const char *token = NULL, *why = NULL;
    size_t tlen = 0;
    int r = init_token(payload, &token, &tlen, &why);
    if (r < 0) {
        char reason[124];
        snprintf(reason, sizeof(reason), "Forbidden: %s", why);
        gw_ws_close(c, 4403, reason);
        return;
    }
    int64_t now_ms = mc_now_ms();
    if (r > 0) {
        if (mc_jwt_verify(c->lw->live->jwt, token, tlen, now_ms / 1000, &c->claims, &why) != 0 ||
            c->claims.exp * 1000 <= now_ms) {
            char reason[124];
            snprintf(reason, sizeof(reason), "Forbidden: %s", why != NULL ? why : "expired");
            gw_ws_close(c, 4403, reason);
            return;
        }
        c->has_claims = true;
        c->authorization = malloc(tlen + 8);
        memcpy(c->authorization, "Bearer ", 7);
        memcpy(c->authorization + 7, token, tlen);
        c->authorization[tlen + 7] = '\0';
        uv_timer_start(&c->timer, on_timer, (uint64_t)(c->claims.exp * 1000 - now_ms), 0);
    }
    c->acked = true;
    send_literal(c, "{\"type\":\"connection_ack\"}");
}

/* --- messages -------------------------------------------------------------------------------- */

static void on_message(gw_wsconn_t *c)
{
    if (c->rx_binary) {
        gw_ws_close(c, 4400, "Invalid message: binary messages are not part of the protocol");
        return;
    }
    gw_ws_msg_t m;
    char why[160];
    if (gw_ws_msg_parse(c->rx, c->rxlen, &m, why, sizeof(why)) != 0) {
        gw_ws_msg_free(&m);
        gw_ws_close(c, 4400, why);
        return;
    }
    switch (m.type) {
    case GW_MSG_CONNECTION_INIT:
        on_init(c, m.payload);
        break;
    case GW_MSG_PING:
        if (m.payload != NULL) {
            json_t *pong = json_pack("{s:s,s:O}", "type", "pong", "payload", m.payload);
            char *s = json_dumps(pong, JSON_COMPACT);
            json_decref(pong);
            if (s != NULL)
                gw_ws_send(c, s, strlen(s));
            free(s);
        } else {
            send_literal(c, "{\"type\":\"pong\"}");
        }
        break;
    case GW_MSG_PONG:
        break;
    case GW_MSG_SUBSCRIBE:
        if (!c->acked) {
            gw_ws_close(c, 4401, "Unauthorized");
            break;
        }
        gw_sub_start(c, m.id, m.id_len, m.query, m.query_len, m.operation_name, m.variables);
        break;
    case GW_MSG_COMPLETE:
        gw_sub_complete(c, m.id, m.id_len);
        break;
    }
    gw_ws_msg_free(&m);
}

static void on_receive(gw_wsconn_t *c, const void *in, size_t len, bool final, bool binary)
{
    if (!c->rx_active) { /* the first piece of a message */
        c->rx_active = true;
        c->rxlen = 0;
        c->rx_binary = binary;
    }
    size_t max = c->lw->live->cfg.max_message_bytes;
    if (c->rxlen + len > max) {
        char why[124];
        snprintf(why, sizeof(why), "Message too big: the limit is %zu bytes", max);
        gw_ws_close(c, 1009, why);
        return;
    }
    if (c->rxlen + len + 1 > c->rxcap) {
        size_t cap = c->rxcap ? c->rxcap : 1024;
        while (cap < c->rxlen + len + 1)
            cap *= 2;
        char *p = realloc(c->rx, cap);
        if (p == NULL) {
            gw_ws_close(c, 1011, "Out of memory");
            return;
        }
        c->rx = p;
        c->rxcap = cap;
    }
    memcpy(c->rx + c->rxlen, in, len);
    c->rxlen += len;
    if (!final)
        return;
    c->rx_active = false;
    on_message(c);
    c->rxlen = 0;
    /* a large message's buffer is not kept for a connection's whole life */
    if (c->rxcap > 16384) {
        free(c->rx);
        c->rx = NULL;
        c->rxcap = 0;
    }
}

/* --- the connection's start and end --------------------------------------------------------- */

/* The client's address: the peer, or behind a trusted proxy the last X-Forwarded-For
 * entry (as for HTTP requests, gw_client_address). */
static void client_address(gw_wsconn_t *c, struct lws *wsi)
{
    char buf[512];
    if (c->lw->live->g->cfg.trust_forwarded_for && lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_X_FORWARDED_FOR) > 0) {
        const char *last = strrchr(buf, ',');
        last = last != NULL ? last + 1 : buf;
        while (*last == ' ' || *last == '\t')
            ++last;
        size_t n = strcspn(last, " \t");
        bool ok = n > 0 && n < sizeof(c->client_address);
        for (size_t i = 0; ok && i < n; ++i)
            ok = strchr("0123456789abcdefABCDEF.:", last[i]) != NULL;
        if (ok) {
            memcpy(c->client_address, last, n);
            c->client_address[n] = '\0';
            return;
        }
    }
    lws_get_peer_simple(wsi, c->client_address, sizeof(c->client_address));
}

static int on_established(struct lws *wsi, gw_wsconn_t **slot)
{
    gw_live_worker_t *lw = lws_context_user(lws_get_context(wsi));
    gw_wsconn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return -1;
    c->lw = lw;
    c->wsi = wsi;
    c->serial = ++next_serial;
    uv_timer_init(lw->loop, &c->timer);
    c->timer.data = c;
    c->last_rx_ms = uv_now(lw->loop);
    client_address(c, wsi);
    *slot = c;
    c->next = lw->conns;
    if (lw->conns != NULL)
        lw->conns->prev = c;
    lw->conns = c;
    ++lw->nconns;
    atomic_fetch_add(&lw->live->connections, 1);
    if (lw->shutting_down) {
        gw_ws_close_flush(c, 1012, "The gateway is restarting: reconnect");
        return 0;
    }
    uv_timer_start(&c->timer, on_timer, lw->live->cfg.init_timeout_ms, 0);
    return 0;
}

void gw_ws_conn_closed(gw_wsconn_t *c)
{
    gw_live_worker_t *lw = c->lw;
    c->closing = true;
    c->wsi = NULL;
    gw_sub_end_all(c);
    out_free_all(c);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        lw->conns = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    --lw->nconns;
    atomic_fetch_sub(&lw->live->connections, 1);
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, on_conn_timer_closed);
}

int gw_ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    gw_wsconn_t **slot = user;
    gw_wsconn_t *c = slot != NULL ? *slot : NULL;
    switch (reason) {
    case LWS_CALLBACK_ESTABLISHED:
        return on_established(wsi, slot);
    case LWS_CALLBACK_RECEIVE_PONG:
        if (c != NULL)
            c->last_rx_ms = uv_now(c->lw->loop);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        if (c == NULL || c->closing)
            return 0;
        c->last_rx_ms = uv_now(c->lw->loop);
        on_receive(c, in, len, lws_is_final_fragment(wsi) != 0, lws_frame_is_binary(wsi) != 0);
        return 0;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        if (c == NULL)
            return 0;
        return on_writable(c);
    case LWS_CALLBACK_TIMER:
        /* start_close: lws sends the close frame set by lws_close_reason */
        return c != NULL && c->close_started ? -1 : 0;
    case LWS_CALLBACK_CLOSED:
        if (c != NULL) {
            *slot = NULL;
            gw_ws_conn_closed(c);
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}
