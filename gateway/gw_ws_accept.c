/*
 * Routing each new connection of the gateway's port (gw_live.h): lib/mc_server's accept
 * hook hands every accepted connection here before h2o sees it.
 *
 * The first bytes are read with recv(MSG_PEEK) when the socket becomes readable —
 * nothing is consumed — and classified (gw_ws_peek.h):
 *   - anything but a WebSocket upgrade of /graphql: h2o serves the connection
 *     (mc_conn_serve) and reads the request itself;
 *   - an upgrade offering graphql-transport-ws: the socket is taken from the server
 *     (mc_conn_detach) and adopted by libwebsockets, which reads the same request and
 *     completes the handshake;
 *   - an upgrade not offering it, or one the gateway cannot take (too many connections,
 *     shutting down): the gateway completes the handshake itself and closes at once with
 *     4406, 1013 or 1012; an upgrade that is not a valid handshake gets a 400.
 *
 * A head that arrives in pieces is peeked at again after a short pause that doubles
 * (1 ms to 64 ms): the poll is level-triggered, so waiting on it with unread bytes would
 * spin. A connection that has not shown a complete head within GW_PEEK_TIMEOUT_MS goes
 * to h2o, whose own timeouts deal with it. The poll handle is closed — which removes the
 * socket from epoll at once — before the socket is given to h2o or lws.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "gw_live_internal.h"
#include "gw_ws_peek.h"
#include "mc_log.h"
#include "mc_util.h"

#define GW_PEEK_TIMEOUT_MS 10000
/* After turning a WebSocket away, how long the gateway waits for the client's close. */
#define GW_LINGER_MS 1000

typedef enum { PEEKING, LINGERING, DONE } peek_state_t;

struct gw_peeker {
    gw_live_worker_t *lw;
    gw_peeker_t *prev, *next;
    mc_conn_t *conn; /* PEEKING */
    int fd;          /* LINGERING: the socket, detached */
    peek_state_t state;
    uv_poll_t poll;
    uv_timer_t timer;
    bool poll_open;
    unsigned handles; /* open handles; freed when 0 */
    int64_t deadline_ms;
    unsigned delay_ms;
};

static void unlink_peeker(gw_peeker_t *p)
{
    gw_live_worker_t *lw = p->lw;
    if (p->prev != NULL)
        p->prev->next = p->next;
    else if (lw->peekers == p)
        lw->peekers = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    p->prev = p->next = NULL;
}

static void on_handle_closed(uv_handle_t *h)
{
    gw_peeker_t *p = h->data;
    if (--p->handles == 0)
        free(p);
}

static void close_poll(gw_peeker_t *p)
{
    if (!p->poll_open)
        return;
    p->poll_open = false;
    uv_poll_stop(&p->poll);
    uv_close((uv_handle_t *)&p->poll, on_handle_closed); /* takes the socket out of epoll now */
}

/* The peeker is done: its handles close, it frees itself. */
static void finish(gw_peeker_t *p)
{
    p->state = DONE;
    unlink_peeker(p);
    close_poll(p);
    uv_timer_stop(&p->timer);
    uv_close((uv_handle_t *)&p->timer, on_handle_closed);
}

static void to_h2o(gw_peeker_t *p)
{
    mc_conn_t *conn = p->conn;
    p->conn = NULL;
    close_poll(p);
    finish(p);
    mc_conn_serve(conn);
}

static void drop(gw_peeker_t *p)
{
    if (p->state == PEEKING && p->conn != NULL) {
        mc_conn_t *conn = p->conn;
        p->conn = NULL;
        close_poll(p);
        mc_conn_close(conn);
    } else if (p->state == LINGERING && p->fd >= 0) {
        close(p->fd);
        p->fd = -1;
    }
    finish(p);
}

/* --- turning a WebSocket away ---------------------------------------------------------------- */

static void on_linger(uv_timer_t *t)
{
    gw_peeker_t *p = t->data;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(p->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && mc_now_ms() < p->deadline_ms) {
            uv_timer_start(&p->timer, on_linger, 20, 0);
            return;
        }
        break; /* the client closed, failed, or took too long */
    }
    drop(p);
}

/* Completes the handshake and closes with code, or answers 400 (`key` empty). The
 * request head (head_len bytes) is consumed first, so that closing does not reset the
 * connection before the client has read the answer. */
static void turn_away(gw_peeker_t *p, size_t head_len, const char *key, uint16_t code, const char *reason)
{
    char out[GW_WS_REJECT_MAX];
    size_t n = key[0] != '\0' ? gw_ws_reject_bytes(key, code, reason, out) : gw_ws_bad_handshake_bytes(out);
    int fd0 = mc_conn_fd(p->conn);
    char sink[GW_WS_PEEK_MAX];
    ssize_t got = recv(fd0, sink, head_len, MSG_DONTWAIT);
    (void)got; /* the bytes were peeked: they are there */
    close_poll(p);
    mc_conn_t *conn = p->conn;
    p->conn = NULL;
    p->fd = mc_conn_detach(conn);
    if (p->fd < 0) {
        finish(p);
        return;
    }
    ssize_t w = send(p->fd, out, n, MSG_DONTWAIT | MSG_NOSIGNAL);
    (void)w; /* a fresh socket takes a few hundred bytes; if not, the client is gone */
    shutdown(p->fd, SHUT_WR);
    p->state = LINGERING;
    p->deadline_ms = mc_now_ms() + GW_LINGER_MS;
    uv_timer_start(&p->timer, on_linger, 20, 0);
}

/* --- handing to libwebsockets ------------------------------------------------------------------ */

static void to_lws(gw_peeker_t *p)
{
    gw_live_worker_t *lw = p->lw;
    mc_conn_t *conn = p->conn;
    p->conn = NULL;
    close_poll(p);
    finish(p);
    int fd = mc_conn_detach(conn);
    if (fd < 0) {
        mc_log_warn("a WebSocket could not be taken from the HTTP server: %s", strerror(errno));
        return;
    }
    lws_sock_file_fd_type d;
    d.sockfd = fd;
    if (lws_adopt_descriptor_vhost(lw->vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, d, NULL, NULL) == NULL) {
        mc_log_warn("libwebsockets did not take a WebSocket connection");
        close(fd);
    }
}

/* --- peeking ----------------------------------------------------------------------------------- */

static void on_readable(uv_poll_t *h, int status, int events);

static void on_retry(uv_timer_t *t)
{
    gw_peeker_t *p = t->data;
    if (p->poll_open)
        uv_poll_start(&p->poll, UV_READABLE, on_readable);
}

static void peek_step(gw_peeker_t *p)
{
    gw_live_worker_t *lw = p->lw;
    char buf[GW_WS_PEEK_MAX];
    ssize_t n = recv(mc_conn_fd(p->conn), buf, sizeof(buf), MSG_PEEK | MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) { /* the client went away before a request */
        drop(p);
        return;
    }
    gw_peek_t pk;
    switch (gw_peek_classify(buf, (size_t)n, &pk)) {
    case GW_PEEK_HTTP:
        to_h2o(p);
        return;
    case GW_PEEK_MORE:
        if (mc_now_ms() >= p->deadline_ms) {
            to_h2o(p);
            return;
        }
        uv_poll_stop(&p->poll);
        uv_timer_start(&p->timer, on_retry, p->delay_ms, 0);
        if (p->delay_ms < 64)
            p->delay_ms *= 2;
        return;
    case GW_PEEK_WS:
        break;
    }
    const gw_live_t *live = lw->live;
    if (pk.key[0] == '\0' || !pk.version_13)
        turn_away(p, pk.head_len, "", 0, "");
    else if (!pk.offers_ours)
        turn_away(p, pk.head_len, pk.key, 4406, "Subprotocol not acceptable");
    else if (lw->shutting_down || lw->ctx == NULL)
        turn_away(p, pk.head_len, pk.key, 1012, "The gateway is restarting: reconnect");
    else if (atomic_load(&live->connections) >= live->cfg.max_connections)
        turn_away(p, pk.head_len, pk.key, 1013, "Too many connections: try again later");
    else
        to_lws(p);
}

static void on_readable(uv_poll_t *h, int status, int events)
{
    (void)events;
    gw_peeker_t *p = h->data;
    if (p->state != PEEKING)
        return;
    if (status < 0) {
        drop(p);
        return;
    }
    peek_step(p);
}

bool gw_live_accept(mc_worker_t *mw, mc_conn_t *conn)
{
    gw_worker_t *w = mc_worker_data(mw);
    gw_live_worker_t *lw = w != NULL ? w->live : NULL;
    if (lw == NULL || lw->shutting_down)
        return false;
    gw_peeker_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return false;
    p->lw = lw;
    p->conn = conn;
    p->fd = -1;
    p->state = PEEKING;
    p->delay_ms = 1;
    p->deadline_ms = mc_now_ms() + GW_PEEK_TIMEOUT_MS;
    if (uv_poll_init_socket(lw->loop, &p->poll, mc_conn_fd(conn)) != 0) {
        free(p);
        return false;
    }
    p->poll.data = p;
    p->poll_open = true;
    uv_timer_init(lw->loop, &p->timer);
    p->timer.data = p;
    p->handles = 2;
    p->next = lw->peekers;
    if (lw->peekers != NULL)
        lw->peekers->prev = p;
    lw->peekers = p;
    uv_poll_start(&p->poll, UV_READABLE, on_readable);
    return true;
}

void gw_ws_accept_close_all(gw_live_worker_t *lw)
{
    while (lw->peekers != NULL)
        drop(lw->peekers);
}
