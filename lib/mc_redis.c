/*
 * Implementation of mc_redis.h.
 *
 * Both kinds of connection (commands, pub/sub) share one core, `rconn`: a state machine
 * DOWN → RESOLVING → CONNECTING → HANDSHAKE → UP that hiredis 0.14.1 does not provide.
 *
 *   DOWN        nothing open; conn_timer counts down the reconnect backoff.
 *   RESOLVING   a host name is being resolved on the libuv thread pool (hiredis would
 *               call getaddrinfo on the loop); conn_timer is the connect timeout.
 *   CONNECTING  hiredis connects to the resolved address; same timer.
 *   HANDSHAKE   AUTH, SELECT and PING are on the wire; same timer. The connection is
 *               only "up" once PING answered, so a wrong password or database never
 *               looks like a working Redis.
 *   UP          commands are accepted. cmd_timer tracks the oldest unanswered command
 *               (replies come in order, so the oldest is always the head of `pending`).
 *   CLOSING     mc_redis_close was called; the struct is freed once every handle is.
 *
 * hiredis' libuv adapter (adapters/libuv.h) is used to attach a context to the loop, but
 * its event hooks are replaced by ours, for two reasons. Its poll callback returns
 * without telling hiredis when libuv reports an error (libuv turns POLLERR into status
 * UV_EBADF and stops the handle), so a refused connection or a reset socket would never
 * be noticed. And its cleanup frees the poll handle without telling the owner, while we
 * must know when the last handle is closed to free the connection.
 *
 * Ownership of hiredis contexts: a context is freed by hiredis itself after a failed
 * connect or a broken connection (we learn it from onConnect/onDisconnect), or by us
 * with redisAsyncFree (a timeout, a failed handshake, close). Whoever frees it first
 * sets c->ac to NULL, so callbacks of a context we already gave up are recognised as
 * stale. redisAsyncFree is never called from onConnect or onDisconnect (hiredis still
 * uses the context after those return); inside a reply callback hiredis defers it.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <hiredis/async.h>
#include <hiredis/adapters/libuv.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include "mc_config.h"
#include "mc_log.h"
#include "mc_redis.h"
#include "mc_util.h"

#define RC_BACKOFF_MIN_MS 100
#define RC_BACKOFF_MAX_MS 5000
#define RC_MAX_HOST 255
#define RC_MAX_SECRET 255
/* A channel or pattern name longer than this is refused (they are ours, not clients'). */
#define RC_MAX_CHANNEL 1024
#define RC_MAX_CHANNELS 4096

#define container_of(p, type, member) ((type *)((char *)(p)-offsetof(type, member)))

/* The parts of a REDIS_URL. */
typedef struct rc_url {
    char host[RC_MAX_HOST + 1];
    uint16_t port;
    char user[RC_MAX_SECRET + 1];
    char password[RC_MAX_SECRET + 1];
    int db;
} rc_url_t;

typedef enum rc_state { RC_DOWN, RC_RESOLVING, RC_CONNECTING, RC_HANDSHAKE, RC_UP, RC_CLOSING } rc_state_t;

typedef struct rconn rconn_t;

/* One command on the wire, in the order sent. `internal` replaces the user callback for
 * the handshake and for EVALSHA's fallback. */
typedef struct rc_cmd {
    struct rc_cmd *prev, *next;
    rconn_t *c;
    uint64_t sent_at; /* uv_now() when sent */
    const char *fail_reason; /* set when the connection is dropped under it */
    mc_redis_cb cb;
    void *data;
    void (*internal)(struct rc_cmd *cmd, redisReply *reply, const char *err);
    void *internal_data;
} rc_cmd_t;

/* A set of channel or pattern names (small; linear search is fine). */
typedef struct rc_names {
    char **v;
    size_t n, cap;
} rc_names_t;

struct rconn {
    uv_loop_t *loop;
    rc_url_t url;
    unsigned connect_timeout_ms, command_timeout_ms;
    void (*on_state)(mc_redis_t *r, bool up, void *data);
    void *state_data;
    mc_redis_t *self; /* passed to on_state; NULL for a pub/sub connection */
    bool is_sub;

    rc_state_t state;
    redisAsyncContext *ac;
    uv_timer_t conn_timer; /* DOWN: reconnect backoff; RESOLVING..HANDSHAKE: connect timeout */
    uv_timer_t cmd_timer;  /* UP: deadline of the oldest pending command (or subscription) */
    uv_getaddrinfo_t gai;
    bool gai_active;
    char ip[INET6_ADDRSTRLEN];
    unsigned backoff_ms;
    bool ever_up, logged_down;
    rc_cmd_t *head, *tail; /* pending commands, oldest first */
    unsigned live;         /* handles (timers, poll handles) and requests not yet closed */
    void (*on_closed)(void *);
    void *closed_data;

    /* pub/sub only */
    mc_redis_message_cb on_message;
    void *message_data;
    rc_names_t channels, patterns;
    unsigned pending_confirms; /* (p)subscribe replies not yet received */
    uint64_t confirms_since;
};

struct mc_redis {
    rconn_t c;
};

struct mc_redis_sub {
    rconn_t c;
};

struct mc_redis_script {
    char *source;
    char sha[41];
};

/* --- REDIS_URL ---------------------------------------------------------------------- */

/* Parses redis://[[user]:password@]host[:port][/db]. host may be a name, an IPv4 address
 * or a bracketed IPv6 address; user and password are percent-decoded. Returns 0, or -1
 * with the reason in err (never echoing the password). */
static int rc_parse_url(const char *url, rc_url_t *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (url == NULL) {
        snprintf(err, errlen, "no Redis URL");
        return -1;
    }
    if (strncmp(url, "rediss://", 9) == 0) {
        snprintf(err, errlen, "rediss:// (TLS) is not supported");
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, errlen, "the Redis URL must start with redis://");
        return -1;
    }
    const char *p = url + 8;
    const char *end = p + strcspn(p, "/?#");
    if (*end == '?' || *end == '#' || (*end == '/' && strpbrk(end, "?#") != NULL)) {
        snprintf(err, errlen, "the Redis URL must not have a query or fragment");
        return -1;
    }
    /* userinfo: the last '@' before the path */
    const char *at = NULL;
    for (const char *q = p; q < end; ++q)
        if (*q == '@')
            at = q;
    if (at != NULL) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        const char *uend = colon != NULL ? colon : at;
        size_t ulen = (size_t)(uend - p);
        if (ulen > RC_MAX_SECRET || (colon != NULL && (size_t)(at - colon - 1) > RC_MAX_SECRET)) {
            snprintf(err, errlen, "the Redis URL's user or password is too long");
            return -1;
        }
        if (mc_url_decode(p, ulen, out->user, false) < 0 ||
            (colon != NULL && mc_url_decode(colon + 1, (size_t)(at - colon - 1), out->password, false) < 0)) {
            snprintf(err, errlen, "the Redis URL's user or password has a malformed %%-escape");
            return -1;
        }
        if (colon == NULL) { /* redis://secret@host: a lone userinfo is the password */
            memcpy(out->password, out->user, sizeof(out->password));
            out->user[0] = '\0';
        }
        p = at + 1;
    }
    /* host[:port] */
    const char *hend, *portp = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(end - p));
        if (rb == NULL) {
            snprintf(err, errlen, "the Redis URL has an unterminated [IPv6] host");
            return -1;
        }
        hend = rb;
        ++p;
        if (rb + 1 < end) {
            if (rb[1] != ':') {
                snprintf(err, errlen, "the Redis URL has junk after the [IPv6] host");
                return -1;
            }
            portp = rb + 2;
        }
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        hend = colon != NULL ? colon : end;
        if (colon != NULL)
            portp = colon + 1;
    }
    size_t hlen = (size_t)(hend - p);
    if (hlen == 0 || hlen > RC_MAX_HOST) {
        snprintf(err, errlen, "the Redis URL has no host (or one longer than 255)");
        return -1;
    }
    for (size_t i = 0; i < hlen; ++i) {
        unsigned char ch = (unsigned char)p[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || ch == ':' || ch == '%')) {
            snprintf(err, errlen, "the Redis URL's host has an invalid character");
            return -1;
        }
    }
    memcpy(out->host, p, hlen);
    out->host[hlen] = '\0';
    if (portp != NULL) {
        unsigned long port = 0;
        const char *q = portp;
        for (; q < end && *q >= '0' && *q <= '9' && port <= 65535; ++q)
            port = port * 10 + (unsigned long)(*q - '0');
        if (q == portp || q != end || port == 0 || port > 65535) {
            snprintf(err, errlen, "the Redis URL's port is not a number in 1..65535");
            return -1;
        }
        out->port = (uint16_t)port;
    }
    /* /db */
    if (*end == '/' && end[1] != '\0') {
        long db = 0;
        const char *q = end + 1;
        for (; *q >= '0' && *q <= '9' && db <= 100000; ++q)
            db = db * 10 + (*q - '0');
        if (q == end + 1 || *q != '\0' || db > 100000) {
            snprintf(err, errlen, "the Redis URL's database is not a number");
            return -1;
        }
        out->db = (int)db;
    }
    return 0;
}

/* --- the connection core -------------------------------------------------------------- */

static void rc_connect_start(rconn_t *c);
static void rc_drop(rconn_t *c, const char *reason);
static void rc_arm_cmd_timer(rconn_t *c);
static void rc_resubscribe(rconn_t *c);
static void rc_conn_timer_cb(uv_timer_t *t);
static void rc_cmd_timer_cb(uv_timer_t *t);
static void rc_handshake_cb(rc_cmd_t *cmd, redisReply *reply, const char *err);

/* Frees a closing connection once its last handle and request are gone; the owner's
 * on_closed runs last, when nothing of the connection remains. */
static void rc_maybe_free(rconn_t *c)
{
    if (c->state != RC_CLOSING || c->live != 0)
        return;
    void (*cb)(void *) = c->on_closed;
    void *data = c->closed_data;
    for (size_t i = 0; i < c->channels.n; ++i)
        free(c->channels.v[i]);
    for (size_t i = 0; i < c->patterns.n; ++i)
        free(c->patterns.v[i]);
    free(c->channels.v);
    free(c->patterns.v);
    OPENSSL_cleanse(&c->url, sizeof(c->url));
    free(c); /* rconn is the first member of mc_redis_t / mc_redis_sub_t */
    if (cb != NULL)
        cb(data);
}

/* Close callback of the two timers. */
static void rc_handle_closed(uv_handle_t *h)
{
    rconn_t *c = h->data;
    --c->live;
    rc_maybe_free(c);
}

/* Reports an up/down transition to the owner; logs "connected" only for the first
 * connection and after a logged loss, so a flapping Redis does not flood the log. */
static void rc_set_state_up(rconn_t *c, bool up)
{
    if (up) {
        if (c->logged_down || !c->ever_up)
            mc_log_info("redis%s: connected to %s:%u", c->is_sub ? " (pub/sub)" : "", c->url.host, c->url.port);
        c->ever_up = true;
        c->logged_down = false;
    }
    if (c->on_state != NULL)
        c->on_state(c->self, up, c->state_data);
}

/* Schedules the next connection attempt after the current backoff, and doubles it. */
static void rc_schedule_reconnect(rconn_t *c)
{
    if (c->state == RC_CLOSING)
        return;
    c->state = RC_DOWN;
    uv_timer_start(&c->conn_timer, rc_conn_timer_cb, c->backoff_ms, 0);
    c->backoff_ms = c->backoff_ms * 2 > RC_BACKOFF_MAX_MS ? RC_BACKOFF_MAX_MS : c->backoff_ms * 2;
}

/* --- our replacement for the adapter's event hooks ------------------------------------ */

static void rc_poll_cb(uv_poll_t *handle, int status, int events)
{
    redisLibuvEvents *p = container_of(handle, redisLibuvEvents, handle);
    /* On an error libuv has stopped the handle: hand hiredis the events it waited for,
     * so that its read or write fails and it reports the error. */
    int ev = status < 0 ? p->events : events;
    if (p->context != NULL && (ev & UV_READABLE))
        redisAsyncHandleRead(p->context);
    if (p->context != NULL && (ev & UV_WRITABLE))
        redisAsyncHandleWrite(p->context);
}

/* The four hooks below are the adapter's, with rc_poll_cb as the poll callback. */
static void rc_ev_update(redisLibuvEvents *p)
{
    if (p->events != 0)
        uv_poll_start(&p->handle, p->events, rc_poll_cb);
    else
        uv_poll_stop(&p->handle);
}

static void rc_ev_add_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_READABLE;
    rc_ev_update(p);
}

static void rc_ev_del_read(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_READABLE;
    rc_ev_update(p);
}

static void rc_ev_add_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events |= UV_WRITABLE;
    rc_ev_update(p);
}

static void rc_ev_del_write(void *privdata)
{
    redisLibuvEvents *p = privdata;
    p->events &= ~UV_WRITABLE;
    rc_ev_update(p);
}

/* Close callback of a context's poll handle: the adapter's struct is freed here, not in
 * the adapter's own callback, so that the connection knows when it is gone. */
static void rc_poll_closed(uv_handle_t *h)
{
    rconn_t *c = h->data;
    free(container_of(h, redisLibuvEvents, handle));
    --c->live;
    rc_maybe_free(c);
}

/* Called by hiredis while it frees a context (after failing its callbacks). */
static void rc_ev_cleanup(void *privdata)
{
    redisLibuvEvents *p = privdata;
    redisAsyncContext *ac = p->context;
    p->context = NULL;
    p->handle.data = ac->data; /* the rconn, for rc_poll_closed */
    uv_close((uv_handle_t *)&p->handle, rc_poll_closed);
}

/* --- pending commands ---------------------------------------------------------------- */

/* A record for a command about to be sent (freed after its reply or failure). */
static rc_cmd_t *rc_cmd_new(rconn_t *c, mc_redis_cb cb, void *data)
{
    rc_cmd_t *cmd = calloc(1, sizeof(*cmd));
    if (cmd == NULL)
        return NULL;
    cmd->c = c;
    cmd->cb = cb;
    cmd->data = data;
    return cmd;
}

/* Appends a sent command to `pending`; the first one arms the command timer. */
static void rc_cmd_link(rconn_t *c, rc_cmd_t *cmd)
{
    uv_update_time(c->loop); /* the timeout counts from now, not from the start of this loop iteration */
    cmd->sent_at = uv_now(c->loop);
    cmd->prev = c->tail;
    cmd->next = NULL;
    if (c->tail != NULL)
        c->tail->next = cmd;
    else
        c->head = cmd;
    c->tail = cmd;
    if (c->head == cmd)
        rc_arm_cmd_timer(c);
}

/* Removes a command from `pending` (its reply came or the connection failed it). */
static void rc_cmd_unlink(rconn_t *c, rc_cmd_t *cmd)
{
    if (cmd->prev != NULL)
        cmd->prev->next = cmd->next;
    else
        c->head = cmd->next;
    if (cmd->next != NULL)
        cmd->next->prev = cmd->prev;
    else
        c->tail = cmd->prev;
    cmd->prev = cmd->next = NULL;
}

/* The hiredis reply callback of every command we send (privdata: the rc_cmd). */
static void rc_on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    rc_cmd_t *cmd = privdata;
    rconn_t *c = cmd->c;
    redisReply *reply = r;
    rc_cmd_unlink(c, cmd);
    if (c->state == RC_UP || c->state == RC_HANDSHAKE)
        rc_arm_cmd_timer(c);
    const char *err = NULL;
    if (reply == NULL)
        err = cmd->fail_reason != NULL ? cmd->fail_reason : "connection lost";
    if (cmd->internal != NULL)
        cmd->internal(cmd, reply, err);
    else if (cmd->cb != NULL)
        cmd->cb(reply, err, cmd->data);
    free(cmd);
}

/* Arms cmd_timer for the oldest pending command (or pending subscription). */
static void rc_arm_cmd_timer(rconn_t *c)
{
    uint64_t since = UINT64_MAX;
    if (c->head != NULL)
        since = c->head->sent_at;
    if (c->pending_confirms > 0 && c->confirms_since < since)
        since = c->confirms_since;
    if (since == UINT64_MAX || c->state == RC_CLOSING) {
        uv_timer_stop(&c->cmd_timer);
        return;
    }
    uint64_t deadline = since + c->command_timeout_ms, now = uv_now(c->loop);
    uv_timer_start(&c->cmd_timer, rc_cmd_timer_cb, deadline > now ? deadline - now : 0, 0);
}

/* The oldest command (or subscription) got no reply in time: Redis is stuck or the
 * network is, and waiting longer only queues more callers behind it. */
static void rc_cmd_timer_cb(uv_timer_t *t)
{
    rconn_t *c = t->data;
    uint64_t now = uv_now(c->loop);
    bool late = (c->head != NULL && now >= c->head->sent_at + c->command_timeout_ms) ||
                (c->pending_confirms > 0 && now >= c->confirms_since + c->command_timeout_ms);
    if (!late) {
        rc_arm_cmd_timer(c);
        return;
    }
    mc_log_warn("redis%s: no reply within %u ms; dropping the connection", c->is_sub ? " (pub/sub)" : "",
                c->command_timeout_ms);
    rc_drop(c, "timeout");
}

/* Sends a preformatted argv command with a record; -1 when hiredis refuses it. */
static int rc_send_argv(rconn_t *c, rc_cmd_t *cmd, int argc, const char **argv, const size_t *lens)
{
    if (redisAsyncCommandArgv(c->ac, rc_on_reply, cmd, argc, argv, lens) != REDIS_OK)
        return -1;
    rc_cmd_link(c, cmd);
    return 0;
}

/* Sends a command whose reply goes to an internal continuation. */
static int rc_send_internal(rconn_t *c, void (*internal)(rc_cmd_t *, redisReply *, const char *), void *internal_data,
                            int argc, const char **argv, const size_t *lens)
{
    rc_cmd_t *cmd = rc_cmd_new(c, NULL, NULL);
    if (cmd == NULL)
        return -1;
    cmd->internal = internal;
    cmd->internal_data = internal_data;
    if (rc_send_argv(c, cmd, argc, argv, lens) != 0) {
        free(cmd);
        return -1;
    }
    return 0;
}

/* --- connecting ------------------------------------------------------------------------ */

/* Gives up the current connection attempt or connection: pending commands fail with
 * `reason`, and a reconnect is scheduled (unless closing). */
static void rc_drop(rconn_t *c, const char *reason)
{
    redisAsyncContext *ac = c->ac;
    bool was_up = c->state == RC_UP;
    c->ac = NULL;
    c->pending_confirms = 0;
    uv_timer_stop(&c->cmd_timer);
    for (rc_cmd_t *cmd = c->head; cmd != NULL; cmd = cmd->next)
        cmd->fail_reason = reason;
    if (c->state != RC_CLOSING)
        c->state = RC_DOWN;
    if (ac != NULL)
        redisAsyncFree(ac); /* fails the pending commands now, or after the current reply callback */
    if (c->state == RC_CLOSING)
        return;
    if (was_up) {
        mc_log_warn("redis%s: connection to %s:%u lost (%s)", c->is_sub ? " (pub/sub)" : "", c->url.host, c->url.port,
                    reason);
        c->logged_down = true;
    }
    rc_schedule_reconnect(c);
    if (was_up)
        rc_set_state_up(c, false);
}

/* hiredis' connect callback: on success start the handshake, on failure (the context is
 * freed by hiredis when this returns) schedule the next attempt. */
static void rc_on_connect(const redisAsyncContext *ac, int status)
{
    rconn_t *c = ac->data;
    if (c->ac != ac) /* stale: we gave this context up already */
        return;
    if (status != REDIS_OK) {
        /* hiredis frees the context when this returns */
        if (!c->logged_down) {
            mc_log_warn("redis%s: cannot connect to %s:%u: %s", c->is_sub ? " (pub/sub)" : "", c->url.host, c->url.port,
                        ac->errstr != NULL ? ac->errstr : "error");
            c->logged_down = true;
        }
        c->ac = NULL;
        rc_schedule_reconnect(c);
        return;
    }
    c->state = RC_HANDSHAKE;
    const char *argv[3];
    size_t lens[3];
    if (c->url.password[0] != '\0') {
        int argc = 0;
        argv[argc] = "AUTH";
        lens[argc++] = 4;
        if (c->url.user[0] != '\0') {
            argv[argc] = c->url.user;
            lens[argc] = strlen(c->url.user);
            ++argc;
        }
        argv[argc] = c->url.password;
        lens[argc] = strlen(c->url.password);
        ++argc;
        if (rc_send_internal(c, rc_handshake_cb, NULL, argc, argv, lens) != 0)
            goto fail_later;
    }
    if (c->url.db != 0) {
        char dbs[16];
        snprintf(dbs, sizeof(dbs), "%d", c->url.db);
        argv[0] = "SELECT";
        lens[0] = 6;
        argv[1] = dbs;
        lens[1] = strlen(dbs);
        if (rc_send_internal(c, rc_handshake_cb, NULL, 2, argv, lens) != 0)
            goto fail_later;
    }
    argv[0] = "PING";
    lens[0] = 4;
    static const char last_step = 1; /* marks PING, the last step */
    if (rc_send_internal(c, rc_handshake_cb, (void *)&last_step, 1, argv, lens) != 0)
        goto fail_later;
    return;
fail_later:
    /* Never free a context from onConnect: let the connect timeout drop it at once. */
    uv_timer_start(&c->conn_timer, rc_conn_timer_cb, 0, 0);
}

/* Replies of AUTH, SELECT and PING. Any error reply drops the connection (a wrong
 * password or database is a configuration error: logged, retried with the backoff); the
 * PING reply makes the connection up. */
static void rc_handshake_cb(rc_cmd_t *cmd, redisReply *reply, const char *err)
{
    rconn_t *c = cmd->c;
    if (reply == NULL || c->state != RC_HANDSHAKE)
        return; /* the connection went away; whoever dropped it reconnects */
    if (reply->type == REDIS_REPLY_ERROR) {
        mc_log_error("redis%s: handshake with %s:%u refused: %.200s", c->is_sub ? " (pub/sub)" : "", c->url.host,
                     c->url.port, reply->str);
        c->logged_down = true;
        rc_drop(c, "handshake refused");
        return;
    }
    if (cmd->internal_data == NULL) /* AUTH or SELECT done; PING is still to come */
        return;
    uv_timer_stop(&c->conn_timer);
    c->state = RC_UP;
    c->backoff_ms = RC_BACKOFF_MIN_MS;
    if (c->is_sub)
        rc_resubscribe(c);
    rc_set_state_up(c, true);
}

/* hiredis' disconnect callback for a connection that was up: the server closed it or a
 * read/write failed. Not called for contexts we freed ourselves (they are stale). */
static void rc_on_disconnect(const redisAsyncContext *ac, int status)
{
    rconn_t *c = ac->data;
    if (c->ac != ac) /* stale, or we freed it ourselves */
        return;
    /* hiredis frees the context when this returns; its pending commands already failed */
    c->ac = NULL;
    bool was_up = c->state == RC_UP;
    c->pending_confirms = 0;
    uv_timer_stop(&c->cmd_timer);
    if (was_up) {
        mc_log_warn("redis%s: connection to %s:%u lost (%s)", c->is_sub ? " (pub/sub)" : "", c->url.host, c->url.port,
                    ac->errstr != NULL && ac->err != 0 ? ac->errstr : "closed by the server");
        c->logged_down = true;
    }
    rc_schedule_reconnect(c);
    if (was_up)
        rc_set_state_up(c, false);
}

/* Connects hiredis to the resolved address and attaches it to the loop with our hooks. */
static void rc_connect_addr(rconn_t *c)
{
    redisAsyncContext *ac = redisAsyncConnect(c->ip, c->url.port);
    if (ac == NULL || ac->err != 0) {
        if (!c->logged_down)
            mc_log_warn("redis%s: cannot connect to %s:%u: %s", c->is_sub ? " (pub/sub)" : "", c->url.host, c->url.port,
                        ac != NULL ? ac->errstr : "out of memory");
        c->logged_down = true;
        if (ac != NULL)
            redisAsyncFree(ac);
        uv_timer_stop(&c->conn_timer);
        rc_schedule_reconnect(c);
        return;
    }
    ac->data = c;
    if (redisLibuvAttach(ac, c->loop) != REDIS_OK) {
        redisAsyncFree(ac);
        uv_timer_stop(&c->conn_timer);
        rc_schedule_reconnect(c);
        return;
    }
    ++c->live; /* the adapter's poll handle */
    ac->ev.addRead = rc_ev_add_read;
    ac->ev.delRead = rc_ev_del_read;
    ac->ev.addWrite = rc_ev_add_write;
    ac->ev.delWrite = rc_ev_del_write;
    ac->ev.cleanup = rc_ev_cleanup;
    redisEnableKeepAlive(&ac->c);
    c->ac = ac;
    c->state = RC_CONNECTING;
    redisAsyncSetConnectCallback(ac, rc_on_connect);
    redisAsyncSetDisconnectCallback(ac, rc_on_disconnect);
}

/* The thread pool's answer for a host name; stale when the attempt timed out meanwhile. */
static void rc_on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    rconn_t *c = req->data;
    c->gai_active = false;
    --c->live;
    if (c->state != RC_RESOLVING) { /* timed out or closing meanwhile */
        uv_freeaddrinfo(res);
        rc_maybe_free(c);
        return;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = status == 0 ? res : NULL; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) { /* prefer IPv4: services listen on 127.0.0.1 by default */
            pick = ai;
            break;
        }
        if (pick == NULL && ai->ai_family == AF_INET6)
            pick = ai;
    }
    int ok = -1;
    if (pick != NULL)
        ok = pick->ai_family == AF_INET ? uv_ip4_name((const struct sockaddr_in *)pick->ai_addr, c->ip, sizeof(c->ip))
                                        : uv_ip6_name((const struct sockaddr_in6 *)pick->ai_addr, c->ip, sizeof(c->ip));
    uv_freeaddrinfo(res);
    if (ok != 0) {
        if (!c->logged_down)
            mc_log_warn("redis%s: cannot resolve %s: %s", c->is_sub ? " (pub/sub)" : "", c->url.host,
                        status != 0 ? uv_strerror(status) : "no address");
        c->logged_down = true;
        uv_timer_stop(&c->conn_timer);
        rc_schedule_reconnect(c);
        return;
    }
    c->state = RC_CONNECTING;
    rc_connect_addr(c);
}

/* Starts a connection attempt: resolve (unless the host is an address), connect,
 * handshake, all under one connect timeout. */
static void rc_connect_start(rconn_t *c)
{
    unsigned char buf[sizeof(struct in6_addr)];
    uv_timer_start(&c->conn_timer, rc_conn_timer_cb, c->connect_timeout_ms, 0);
    if (inet_pton(AF_INET, c->url.host, buf) == 1 || inet_pton(AF_INET6, c->url.host, buf) == 1) {
        snprintf(c->ip, sizeof(c->ip), "%.45s", c->url.host); /* an address fits */
        c->state = RC_CONNECTING;
        rc_connect_addr(c);
        return;
    }
    if (c->gai_active) { /* a previous lookup is still stuck in the thread pool */
        uv_timer_stop(&c->conn_timer);
        rc_schedule_reconnect(c);
        return;
    }
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    c->gai.data = c;
    c->state = RC_RESOLVING;
    if (uv_getaddrinfo(c->loop, &c->gai, rc_on_resolved, c->url.host, NULL, &hints) != 0) {
        uv_timer_stop(&c->conn_timer);
        rc_schedule_reconnect(c);
        return;
    }
    c->gai_active = true;
    ++c->live;
}

/* One timer, two meanings by state: the backoff ended (DOWN), or the attempt took longer
 * than the connect timeout (RESOLVING, CONNECTING, HANDSHAKE). */
static void rc_conn_timer_cb(uv_timer_t *t)
{
    rconn_t *c = t->data;
    switch (c->state) {
    case RC_DOWN:
        rc_connect_start(c);
        break;
    case RC_RESOLVING:
        if (c->gai_active)
            uv_cancel((uv_req_t *)&c->gai);
        /* fallthrough */
    case RC_CONNECTING:
    case RC_HANDSHAKE:
        if (!c->logged_down)
            mc_log_warn("redis%s: no connection to %s:%u within %u ms", c->is_sub ? " (pub/sub)" : "", c->url.host,
                        c->url.port, c->connect_timeout_ms);
        c->logged_down = true;
        rc_drop(c, "connect timeout");
        break;
    case RC_UP:
    case RC_CLOSING:
        break;
    }
}

/* Shared constructor of both connection kinds (size: the outer struct). */
static rconn_t *rc_create(size_t size, uv_loop_t *loop, const char *url, const mc_redis_opts_t *opts, bool is_sub, char *err,
                          size_t errlen)
{
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    rconn_t *c = calloc(1, size);
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (rc_parse_url(url, &c->url, err, errlen) != 0) {
        free(c);
        return NULL;
    }
    c->loop = loop;
    c->is_sub = is_sub;
    c->connect_timeout_ms = opts != NULL && opts->connect_timeout_ms != 0
                                ? opts->connect_timeout_ms
                                : (unsigned)mc_env_int("REDIS_CONNECT_TIMEOUT_MS", 1000, 1, 600000);
    c->command_timeout_ms = opts != NULL && opts->command_timeout_ms != 0
                                ? opts->command_timeout_ms
                                : (unsigned)mc_env_int("REDIS_COMMAND_TIMEOUT_MS", 1000, 1, 600000);
    if (opts != NULL) {
        c->on_state = opts->on_state;
        c->state_data = opts->data;
    }
    c->backoff_ms = RC_BACKOFF_MIN_MS;
    c->state = RC_DOWN;
    uv_timer_init(loop, &c->conn_timer);
    uv_timer_init(loop, &c->cmd_timer);
    c->conn_timer.data = c->cmd_timer.data = c;
    c->live = 2;
    rc_connect_start(c);
    return c;
}

/* Shared close: timers and look-up first, then the context (failing its commands). */
static void rc_close(rconn_t *c, void (*on_closed)(void *), void *data)
{
    if (c->state == RC_CLOSING)
        return;
    c->on_closed = on_closed;
    c->closed_data = data;
    c->state = RC_CLOSING;
    c->on_state = NULL; /* no more notifications: the owner is going away */
    if (c->gai_active)
        uv_cancel((uv_req_t *)&c->gai);
    uv_close((uv_handle_t *)&c->conn_timer, rc_handle_closed);
    uv_close((uv_handle_t *)&c->cmd_timer, rc_handle_closed);
    if (c->ac != NULL)
        rc_drop(c, "closed");
}

/* --- commands ---------------------------------------------------------------------------- */

mc_redis_t *mc_redis_create(uv_loop_t *loop, const char *url, const mc_redis_opts_t *opts, char *err, size_t errlen)
{
    mc_redis_t *r = (mc_redis_t *)rc_create(sizeof(mc_redis_t), loop, url, opts, false, err, errlen);
    if (r != NULL)
        r->c.self = r;
    return r;
}

void mc_redis_close(mc_redis_t *r, void (*on_closed)(void *), void *data)
{
    if (r != NULL)
        rc_close(&r->c, on_closed, data);
}

bool mc_redis_up(const mc_redis_t *r)
{
    return r != NULL && r->c.state == RC_UP;
}

int mc_redis_cmd(mc_redis_t *r, mc_redis_cb cb, void *data, const char *fmt, ...)
{
    rconn_t *c = &r->c;
    if (c->state != RC_UP || c->ac == NULL)
        return -1;
    rc_cmd_t *cmd = rc_cmd_new(c, cb, data);
    if (cmd == NULL)
        return -1;
    va_list ap;
    va_start(ap, fmt);
    int rc = redisvAsyncCommand(c->ac, rc_on_reply, cmd, fmt, ap);
    va_end(ap);
    if (rc != REDIS_OK) {
        free(cmd);
        return -1;
    }
    rc_cmd_link(c, cmd);
    return 0;
}

int mc_redis_cmd_argv(mc_redis_t *r, mc_redis_cb cb, void *data, int argc, const char **argv, const size_t *argvlen)
{
    rconn_t *c = &r->c;
    if (c->state != RC_UP || c->ac == NULL || argc <= 0)
        return -1;
    rc_cmd_t *cmd = rc_cmd_new(c, cb, data);
    if (cmd == NULL)
        return -1;
    if (rc_send_argv(c, cmd, argc, argv, argvlen) != 0) {
        free(cmd);
        return -1;
    }
    return 0;
}

/* --- scripts ------------------------------------------------------------------------------ */

mc_redis_script_t *mc_redis_script_create(const char *source)
{
    mc_redis_script_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->source = strdup(source)) == NULL) {
        free(s);
        return NULL;
    }
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)source, strlen(source), md);
    mc_hex_encode(md, sizeof(md), s->sha);
    return s;
}

void mc_redis_script_free(mc_redis_script_t *s)
{
    if (s != NULL) {
        free(s->source);
        free(s);
    }
}

/* What EVALSHA needs to be re-sent as EVAL: one allocation holding the argv arrays and a
 * copy of every key and argument. */
typedef struct rc_eval {
    const mc_redis_script_t *script;
    mc_redis_cb cb;
    void *data;
    int argc; /* EVALSHA|EVAL, sha|source, numkeys, keys..., args... */
    const char **argv;
    size_t *lens;
    char numkeys[16];
} rc_eval_t;

/* The EVALSHA reply: NOSCRIPT becomes one EVAL with the source, anything else goes to
 * the caller as it is. */
static void rc_on_evalsha(rc_cmd_t *cmd, redisReply *reply, const char *err)
{
    rc_eval_t *e = cmd->internal_data;
    rconn_t *c = cmd->c;
    if (reply != NULL && reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        /* Not cached on this server (restarted, flushed): send the source once. Redis
         * caches it under the same SHA, so later calls take the short path again. */
        e->argv[0] = "EVAL";
        e->lens[0] = 4;
        e->argv[1] = e->script->source;
        e->lens[1] = strlen(e->script->source);
        rc_cmd_t *again = c->state == RC_UP && c->ac != NULL ? rc_cmd_new(c, e->cb, e->data) : NULL;
        if (again != NULL && rc_send_argv(c, again, e->argc, e->argv, e->lens) == 0) {
            free(e);
            return;
        }
        free(again);
        if (e->cb != NULL)
            e->cb(NULL, "connection lost", e->data);
        free(e);
        return;
    }
    if (e->cb != NULL)
        e->cb(reply, err, e->data);
    free(e);
}

int mc_redis_eval(mc_redis_t *r, const mc_redis_script_t *s, mc_redis_cb cb, void *data, int nkeys, int nargs,
                  const char **keys_then_args, const size_t *lens)
{
    rconn_t *c = &r->c;
    if (c->state != RC_UP || c->ac == NULL || s == NULL || nkeys < 0 || nargs < 0 || nkeys > 1024 || nargs > 1024)
        return -1;
    int argc = 3 + nkeys + nargs;
    size_t bytes = 0;
    for (int i = 0; i < nkeys + nargs; ++i)
        bytes += lens != NULL ? lens[i] : strlen(keys_then_args[i]);
    rc_eval_t *e = malloc(sizeof(*e) + (size_t)argc * (sizeof(size_t) + sizeof(char *)) + bytes + 1);
    if (e == NULL)
        return -1;
    e->script = s;
    e->cb = cb;
    e->data = data;
    e->argc = argc;
    e->lens = (size_t *)(e + 1);
    e->argv = (const char **)(e->lens + argc);
    char *copy = (char *)(e->argv + argc);
    snprintf(e->numkeys, sizeof(e->numkeys), "%d", nkeys);
    e->argv[0] = "EVALSHA";
    e->lens[0] = 7;
    e->argv[1] = s->sha;
    e->lens[1] = 40;
    e->argv[2] = e->numkeys;
    e->lens[2] = strlen(e->numkeys);
    for (int i = 0; i < nkeys + nargs; ++i) {
        size_t n = lens != NULL ? lens[i] : strlen(keys_then_args[i]);
        memcpy(copy, keys_then_args[i], n);
        e->argv[3 + i] = copy;
        e->lens[3 + i] = n;
        copy += n;
    }
    if (rc_send_internal(c, rc_on_evalsha, e, argc, e->argv, e->lens) != 0) {
        free(e);
        return -1;
    }
    return 0;
}

/* --- pub/sub -------------------------------------------------------------------------------- */

/* The subscription sets: channels and patterns kept across reconnects. */
static bool names_find(const rc_names_t *s, const char *name, size_t len, size_t *idx)
{
    for (size_t i = 0; i < s->n; ++i) {
        if (strlen(s->v[i]) == len && memcmp(s->v[i], name, len) == 0) {
            if (idx != NULL)
                *idx = i;
            return true;
        }
    }
    return false;
}

/* Returns 1 when added, 0 when already present, -1 on a bad name or no memory. */
static int names_add(rc_names_t *s, const char *name)
{
    size_t len = name != NULL ? strlen(name) : 0;
    if (len == 0 || len > RC_MAX_CHANNEL)
        return -1;
    if (names_find(s, name, len, NULL))
        return 0;
    if (s->n == RC_MAX_CHANNELS)
        return -1;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        char **v = realloc(s->v, cap * sizeof(*v));
        if (v == NULL)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    if ((s->v[s->n] = strdup(name)) == NULL)
        return -1;
    ++s->n;
    return 1;
}

static bool names_remove(rc_names_t *s, const char *name)
{
    size_t i;
    if (name == NULL || !names_find(s, name, strlen(name), &i))
        return false;
    free(s->v[i]);
    s->v[i] = s->v[--s->n];
    return true;
}

static bool reply_is_str(const redisReply *r)
{
    return r != NULL && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS);
}

/* Every reply of a subscribed connection comes here (privdata: the rconn). */
static void rc_on_sub_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    rconn_t *c = privdata;
    redisReply *reply = r;
    if (reply == NULL || c->ac != ac || reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
        !reply_is_str(reply->element[0]))
        return;
    const char *kind = reply->element[0]->str;
    redisReply **el = reply->element;
    if (strcasecmp(kind, "message") == 0 && reply_is_str(el[1]) && reply_is_str(el[2])) {
        /* hiredis may route a message of a channel we just left to any subscription
         * callback: deliver only what is still in the set. */
        if (names_find(&c->channels, el[1]->str, el[1]->len, NULL) && c->on_message != NULL)
            c->on_message(NULL, el[1]->str, el[1]->len, el[2]->str, el[2]->len, c->message_data);
    } else if (strcasecmp(kind, "pmessage") == 0 && reply->elements >= 4 && reply_is_str(el[1]) && reply_is_str(el[2]) &&
               reply_is_str(el[3])) {
        if (names_find(&c->patterns, el[1]->str, el[1]->len, NULL) && c->on_message != NULL)
            c->on_message(el[1]->str, el[2]->str, el[2]->len, el[3]->str, el[3]->len, c->message_data);
    } else if (strcasecmp(kind, "subscribe") == 0 || strcasecmp(kind, "psubscribe") == 0) {
        if (c->pending_confirms > 0 && --c->pending_confirms == 0)
            rc_arm_cmd_timer(c);
    }
}

/* Sends (P)SUBSCRIBE or (P)UNSUBSCRIBE for n names; the confirmations of a subscribe are
 * awaited under the command timeout. */
static int rc_sub_send(rconn_t *c, const char *verb, char *const *names, size_t n)
{
    if (n == 0)
        return 0;
    const char **argv = malloc((n + 1) * sizeof(*argv));
    size_t *lens = malloc((n + 1) * sizeof(*lens));
    int rc = -1;
    if (argv == NULL || lens == NULL)
        goto done;
    argv[0] = verb;
    lens[0] = strlen(verb);
    for (size_t i = 0; i < n; ++i) {
        argv[i + 1] = names[i];
        lens[i + 1] = strlen(names[i]);
    }
    if (redisAsyncCommandArgv(c->ac, rc_on_sub_reply, c, (int)(n + 1), argv, lens) != REDIS_OK)
        goto done;
    if (strstr(verb, "UNSUB") == NULL) {
        if (c->pending_confirms == 0)
            c->confirms_since = uv_now(c->loop);
        c->pending_confirms += (unsigned)n;
        rc_arm_cmd_timer(c);
    }
    rc = 0;
done:
    free(argv);
    free(lens);
    return rc;
}

/* After every (re)connect of a pub/sub connection: the whole set at once. */
static void rc_resubscribe(rconn_t *c)
{
    if (rc_sub_send(c, "SUBSCRIBE", c->channels.v, c->channels.n) != 0 ||
        rc_sub_send(c, "PSUBSCRIBE", c->patterns.v, c->patterns.n) != 0)
        uv_timer_start(&c->cmd_timer, rc_cmd_timer_cb, 0, 0); /* drop and retry from the timer */
}

mc_redis_sub_t *mc_redis_sub_create(uv_loop_t *loop, const char *url, mc_redis_message_cb cb, void *data,
                                    const mc_redis_opts_t *opts, char *err, size_t errlen)
{
    mc_redis_sub_t *s = (mc_redis_sub_t *)rc_create(sizeof(mc_redis_sub_t), loop, url, opts, true, err, errlen);
    if (s != NULL) {
        s->c.on_message = cb;
        s->c.message_data = data;
    }
    return s;
}

/* Remembers a channel or pattern and subscribes now when connected. */
static int rc_sub_add(mc_redis_sub_t *s, rc_names_t *set, const char *verb, const char *name)
{
    rconn_t *c = &s->c;
    if (c->state == RC_CLOSING)
        return -1;
    int added = names_add(set, name);
    if (added < 0)
        return -1;
    if (added == 1 && c->state == RC_UP && c->ac != NULL) {
        char *one = set->v[set->n - 1];
        if (rc_sub_send(c, verb, &one, 1) != 0)
            uv_timer_start(&c->cmd_timer, rc_cmd_timer_cb, 0, 0);
    }
    return 0;
}

int mc_redis_sub_subscribe(mc_redis_sub_t *s, const char *channel)
{
    return rc_sub_add(s, &s->c.channels, "SUBSCRIBE", channel);
}

int mc_redis_sub_psubscribe(mc_redis_sub_t *s, const char *pattern)
{
    return rc_sub_add(s, &s->c.patterns, "PSUBSCRIBE", pattern);
}

int mc_redis_sub_unsubscribe(mc_redis_sub_t *s, const char *channel)
{
    rconn_t *c = &s->c;
    char *name = channel != NULL ? strdup(channel) : NULL;
    if (name == NULL)
        return -1;
    bool was_channel = names_remove(&c->channels, name);
    bool was_pattern = !was_channel && names_remove(&c->patterns, name);
    if ((was_channel || was_pattern) && c->state == RC_UP && c->ac != NULL)
        rc_sub_send(c, was_channel ? "UNSUBSCRIBE" : "PUNSUBSCRIBE", &name, 1); /* the set no longer has it either way */
    free(name);
    return 0;
}

bool mc_redis_sub_up(const mc_redis_sub_t *s)
{
    return s != NULL && s->c.state == RC_UP;
}

void mc_redis_sub_close(mc_redis_sub_t *s, void (*on_closed)(void *), void *data)
{
    if (s != NULL)
        rc_close(&s->c, on_closed, data);
}
