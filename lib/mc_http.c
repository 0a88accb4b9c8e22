/*
 * Implementation of mc_http.h on h2o 2.2.5's http1client.
 *
 * Shape. A client owns one `origin` per host:port, each with an h2o_socketpool_t
 * (keep-alive sockets, idle ones closed after keepalive_timeout_ms). A call waits in its
 * origin's queue until the origin's address is known and fewer than pool_capacity calls
 * of that origin hold a connection (h2o's pool does not enforce its capacity itself),
 * then h2o_http1client_connect_with_pool takes an idle socket or opens a new one.
 *
 * Calls never start inside mc_http_fetch: a zero timer (`pump`) starts them on the next
 * loop iteration. So the callback never runs inside mc_http_fetch, and a call made from
 * another call's callback finds that call's socket already back in the pool (h2o returns
 * it only after our body callback has returned) instead of opening a new connection.
 *
 * Names. Pools are always created from a resolved address: host names are resolved
 * once per origin with uv_getaddrinfo (libuv's thread pool; IPv4 preferred, since our
 * services listen on 127.0.0.1), and the address is kept for the client's life; a failed
 * resolution is retried by the next call. We do not use h2o's own resolver: it needs a
 * multithread queue on the loop, and a look-up still running when the client closes
 * would later post to a receiver that no longer exists.
 *
 * Timeouts. Each call has one uv timer for its whole life (queue, connect, request,
 * response); when it fires the h2o client is cancelled. h2o's own per-I/O timeout is set
 * above any call's limit and only acts as a backstop.
 *
 * Closing. h2o's timeouts (the client context's and every pool's) embed uv timers that
 * h2o closes with no close callback, so their memory may only be freed after the loop has
 * processed those closes (at the end of the iteration that closed them): `pump` disposes
 * of h2o's parts in one iteration and closes itself, freeing the client, in a later one.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <h2o.h>
#include "mc_http.h"
#include "mc_log.h"
#include "mc_trace.h"
#include "mc_util.h"

#define MC_HTTP_MAX_URL 8192
#define MC_HTTP_MAX_HOST 255
#define MC_HTTP_MAX_HEAD (64 * 1024) /* request line + headers we send */
#define MC_HTTP_MAX_RESPONSE_HEAD (64 * 1024)
#define MC_HTTP_MAX_TIMEOUT_MS 600000u
#define MC_HTTP_DEFAULT_TIMEOUT_MS 5000u
#define MC_HTTP_DEFAULT_MAX_RESPONSE (8u << 20)
#define MC_HTTP_DEFAULT_POOL 64u
#define MC_HTTP_DEFAULT_KEEPALIVE_MS 10000u

/* The parts of an http:// URL that a call needs. Pure; unit-tested. */
typedef struct mc_http_url {
    char host[MC_HTTP_MAX_HOST + 1]; /* without brackets for IPv6 */
    bool ipv6_literal;
    uint16_t port;
    const char *path; /* points into the URL: path and query, "" means "/" */
    size_t path_len;
} mc_http_url_t;

typedef struct mc_http_origin mc_http_origin_t;

typedef enum { CALL_QUEUED, CALL_ACTIVE, CALL_DONE } call_state_t;

struct mc_http_call {
    mc_http_call_t *next, *prev;           /* the client's live calls */
    mc_http_call_t *qnext;                 /* the origin's wait queue */
    mc_http_client_t *c;
    mc_http_origin_t *o;
    call_state_t state;
    bool cancelled;
    h2o_http1client_t *h2o; /* non-NULL while h2o holds the call */
    uv_timer_t timer;
    mc_http_cb cb;
    void *data;
    char *req;        /* request head followed by the body */
    size_t head_len, body_len;
    h2o_iovec_t iov[2];
    int method_is_head;
    size_t max_response;
    int status;
    mc_buf_t body;
    mc_http_header_t *headers;
    size_t nheaders;
    char *header_store;
};

struct mc_http_origin {
    mc_http_origin_t *next;
    mc_http_client_t *c;
    char host[MC_HTTP_MAX_HOST + 1];
    bool ipv6_literal;
    uint16_t port;
    enum { ORIGIN_NEW, ORIGIN_RESOLVING, ORIGIN_READY } state;
    uv_getaddrinfo_t gai;
    bool gai_active;
    h2o_socketpool_t pool;
    bool pool_inited;
    unsigned active;                  /* calls holding (or connecting) a socket */
    mc_http_call_t *qhead, *qtail;    /* calls waiting for an address or a slot */
};

struct mc_http_client {
    uv_loop_t *loop;
    mc_http_client_opts_t opts;
    h2o_timeout_t io_timeout;
    h2o_http1client_ctx_t ctx;
    mc_http_origin_t *origins;
    mc_http_call_t *calls; /* live calls (not yet DONE) */
    uv_timer_t pump;
    bool closing;
    int close_stage; /* 0 open, 1 dispose h2o's parts, 2 close pump, 3 waiting for the last handle */
    unsigned live;   /* pump + call timers not yet closed + look-ups in flight */
};

/* --- URL and request ------------------------------------------------------------------- */

static int parse_url(const char *url, mc_http_url_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t len = url != NULL ? strnlen(url, MC_HTTP_MAX_URL + 1) : 0;
    if (len == 0 || len > MC_HTTP_MAX_URL || strncasecmp(url, "http://", 7) != 0)
        return -1;
    const char *p = url + 7;
    const char *auth_end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(auth_end - p)) != NULL) /* no userinfo */
        return -1;
    const char *host = p, *host_end, *port = NULL;
    if (*p == '[') {
        const char *rb = memchr(p, ']', (size_t)(auth_end - p));
        if (rb == NULL)
            return -1;
        host = p + 1;
        host_end = rb;
        if (rb + 1 < auth_end) {
            if (rb[1] != ':')
                return -1;
            port = rb + 2;
        }
        out->ipv6_literal = true;
    } else {
        const char *colon = memchr(p, ':', (size_t)(auth_end - p));
        host_end = colon != NULL ? colon : auth_end;
        if (colon != NULL)
            port = colon + 1;
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen > MC_HTTP_MAX_HOST)
        return -1;
    for (size_t i = 0; i < hlen; ++i) {
        unsigned char ch = (unsigned char)host[i];
        if (!(isalnum(ch) || ch == '.' || ch == '-' || ch == '_' || (out->ipv6_literal && ch == ':')))
            return -1;
    }
    memcpy(out->host, host, hlen);
    out->host[hlen] = '\0';
    if (out->ipv6_literal) {
        unsigned char a6[16];
        if (inet_pton(AF_INET6, out->host, a6) != 1)
            return -1;
    }
    out->port = 80;
    if (port != NULL) {
        unsigned long v = 0;
        const char *q = port;
        for (; q < auth_end && *q >= '0' && *q <= '9' && v <= 65535; ++q)
            v = v * 10 + (unsigned long)(*q - '0');
        if (q == port || q != auth_end || v == 0 || v > 65535)
            return -1;
        out->port = (uint16_t)v;
    }
    /* path and query, up to a fragment (never sent) */
    const char *path_end = auth_end + strcspn(auth_end, "#");
    for (const char *q = auth_end; q < path_end; ++q)
        if ((unsigned char)*q <= 0x20 || *q == 0x7f) /* must already be percent-encoded */
            return -1;
    out->path = auth_end;
    out->path_len = (size_t)(path_end - auth_end);
    return 0;
}

/* An HTTP token (method, header name) of 1..max characters (RFC 9110 5.6.2). */
static bool is_token(const char *s, size_t max)
{
    size_t n = s != NULL ? strnlen(s, max + 1) : 0;
    if (n == 0 || n > max)
        return false;
    for (size_t i = 0; i < n; ++i) {
        unsigned char ch = (unsigned char)s[i];
        if (!(isalnum(ch) || strchr("!#$%&'*+-.^_`|~", ch) != NULL))
            return false;
    }
    return true;
}

/* A header value that cannot end the header early (no CR or LF). */
static bool is_header_value(const char *s)
{
    if (s == NULL)
        return false;
    for (; *s != '\0'; ++s)
        if (*s == '\r' || *s == '\n')
            return false;
    return true;
}

/* Header names the client writes itself; a caller may not set them. */
static bool reserved_header(const char *name)
{
    static const char *const names[] = {"host",    "content-length", "transfer-encoding", "connection", "x-request-id",
                                        "upgrade", "te",             "traceparent",       "tracestate"};
    for (size_t i = 0; i < MC_ARRAY_SIZE(names); ++i)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Writes the request head into b; -1 when something in req cannot be sent as it is. */
static int build_head(mc_buf_t *b, const mc_http_request_t *req, const mc_http_url_t *u)
{
    const char *method = req->method != NULL ? req->method : "GET";
    if (!is_token(method, 16))
        return -1;
    bool has_body = req->body != NULL || strcmp(method, "POST") == 0 || strcmp(method, "PUT") == 0 ||
                    strcmp(method, "PATCH") == 0;
    int r = 0;
    r |= mc_buf_appendf(b, "%s ", method);
    r |= u->path_len == 0 || u->path[0] != '/' ? mc_buf_append(b, "/", 1) : 0;
    r |= mc_buf_append(b, u->path, u->path_len);
    r |= mc_buf_appendf(b, " HTTP/1.1\r\nHost: %s%s%s", u->ipv6_literal ? "[" : "", u->host, u->ipv6_literal ? "]" : "");
    if (u->port != 80)
        r |= mc_buf_appendf(b, ":%u", (unsigned)u->port);
    r |= mc_buf_append(b, "\r\n", 2);
    if (has_body) {
        const char *ct = req->content_type != NULL ? req->content_type : "application/json";
        if (!is_header_value(ct))
            return -1;
        r |= mc_buf_appendf(b, "Content-Length: %zu\r\n", req->body != NULL ? req->body_len : 0);
        if (req->body != NULL)
            r |= mc_buf_appendf(b, "Content-Type: %s\r\n", ct);
    }
    if (req->request_id != NULL) {
        if (!is_header_value(req->request_id) || strlen(req->request_id) > 128)
            return -1;
        r |= mc_buf_appendf(b, "X-Request-Id: %s\r\n", req->request_id);
    }
    const mc_trace_t *t = req->traceparent == NULL ? mc_trace_find(req->request_id) : NULL;
    if (req->traceparent != NULL) {
        mc_trace_t check;
        if (mc_trace_parse(req->traceparent, strlen(req->traceparent), &check) != 0 ||
            (req->tracestate != NULL && (!is_header_value(req->tracestate) || strlen(req->tracestate) > MC_TRACESTATE_MAX)))
            return -1;
        r |= mc_buf_appendf(b, "traceparent: %s\r\n", req->traceparent);
        if (req->tracestate != NULL)
            r |= mc_buf_appendf(b, "tracestate: %s\r\n", req->tracestate);
    } else if (t != NULL) {
        char tp[MC_TRACEPARENT_LEN + 1];
        mc_trace_child(t, tp);
        r |= mc_buf_appendf(b, "traceparent: %s\r\n", tp);
        if (t->tracestate != NULL)
            r |= mc_buf_appendf(b, "tracestate: %s\r\n", t->tracestate);
    }
    for (size_t i = 0; i < req->nheaders; ++i) {
        const mc_http_header_t *h = &req->headers[i];
        if (!is_token(h->name, 256) || !is_header_value(h->value) || reserved_header(h->name))
            return -1;
        if (req->body != NULL && strcasecmp(h->name, "content-type") == 0)
            return -1; /* say it with content_type */
        r |= mc_buf_appendf(b, "%s: %s\r\n", h->name, h->value);
    }
    r |= mc_buf_append(b, "\r\n", 2);
    return r != 0 ? -1 : 0;
}

/* --- client and origins ------------------------------------------------------------------- */

static void pump_cb(uv_timer_t *t);

/* Makes `pump` run on the next loop iteration (start waiting calls, or close). */
static void kick(mc_http_client_t *c)
{
    if (!uv_is_active((uv_handle_t *)&c->pump))
        uv_timer_start(&c->pump, pump_cb, 0, 0);
}

mc_http_client_t *mc_http_client_create(uv_loop_t *loop, const mc_http_client_opts_t *opts)
{
    mc_http_client_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->loop = loop;
    if (opts != NULL)
        c->opts = *opts;
    if (c->opts.default_timeout_ms == 0)
        c->opts.default_timeout_ms = MC_HTTP_DEFAULT_TIMEOUT_MS;
    if (c->opts.default_timeout_ms > MC_HTTP_MAX_TIMEOUT_MS)
        c->opts.default_timeout_ms = MC_HTTP_MAX_TIMEOUT_MS;
    if (c->opts.max_response_bytes == 0)
        c->opts.max_response_bytes = MC_HTTP_DEFAULT_MAX_RESPONSE;
    if (c->opts.pool_capacity == 0)
        c->opts.pool_capacity = MC_HTTP_DEFAULT_POOL;
    if (c->opts.keepalive_timeout_ms == 0)
        c->opts.keepalive_timeout_ms = MC_HTTP_DEFAULT_KEEPALIVE_MS;
    h2o_timeout_init(loop, &c->io_timeout, MC_HTTP_MAX_TIMEOUT_MS + 1000);
    c->ctx.loop = loop;
    c->ctx.io_timeout = &c->io_timeout;
    c->ctx.getaddr_receiver = NULL; /* pools are created from addresses: never used */
    uv_timer_init(loop, &c->pump);
    c->pump.data = c;
    c->live = 1;
    return c;
}

/* The origin of host:port, created on first use (never freed before the client). */
static mc_http_origin_t *origin_get(mc_http_client_t *c, const mc_http_url_t *u)
{
    for (mc_http_origin_t *o = c->origins; o != NULL; o = o->next)
        if (o->port == u->port && strcasecmp(o->host, u->host) == 0)
            return o;
    mc_http_origin_t *o = calloc(1, sizeof(*o));
    if (o == NULL)
        return NULL;
    o->c = c;
    memcpy(o->host, u->host, sizeof(o->host));
    o->ipv6_literal = u->ipv6_literal;
    o->port = u->port;
    o->state = ORIGIN_NEW;
    o->gai.data = o;
    o->next = c->origins;
    c->origins = o;
    return o;
}

/* The origin's address is known: its keep-alive pool can exist. */
static void origin_init_pool(mc_http_origin_t *o, const struct sockaddr *sa, socklen_t salen)
{
    h2o_socketpool_init_by_address(&o->pool, (struct sockaddr *)sa, salen, 0, o->c->opts.pool_capacity);
    h2o_socketpool_set_timeout(&o->pool, o->c->loop, o->c->opts.keepalive_timeout_ms);
    o->pool_inited = true;
    o->state = ORIGIN_READY;
}

static void maybe_free_client(mc_http_client_t *c);
static void finish(mc_http_call_t *call, const char *err);

/* The thread pool's answer for an origin's name; waiting calls start (or fail) with it. */
static void on_resolved(uv_getaddrinfo_t *req, int status, struct addrinfo *res)
{
    mc_http_origin_t *o = req->data;
    mc_http_client_t *c = o->c;
    o->gai_active = false;
    --c->live;
    if (c->closing) {
        uv_freeaddrinfo(res);
        maybe_free_client(c);
        return;
    }
    const struct addrinfo *pick = NULL;
    for (const struct addrinfo *ai = status == 0 ? res : NULL; ai != NULL; ai = ai->ai_next) {
        if (ai->ai_family == AF_INET) {
            pick = ai;
            break;
        }
        if (pick == NULL && ai->ai_family == AF_INET6)
            pick = ai;
    }
    if (pick != NULL) {
        origin_init_pool(o, pick->ai_addr, pick->ai_addrlen);
    } else {
        /* Fail every waiting call; the next call tries again. */
        o->state = ORIGIN_NEW;
        mc_log_warn("http client: cannot resolve %s: %s", o->host, status != 0 ? uv_strerror(status) : "no address");
        while (o->qhead != NULL) {
            mc_http_call_t *call = o->qhead;
            o->qhead = call->qnext;
            call->qnext = NULL;
            finish(call, "name resolution failed");
        }
        o->qtail = NULL;
    }
    uv_freeaddrinfo(res);
    kick(c);
}

/* Makes an origin usable: an address literal at once, a name through the thread pool. */
static void origin_resolve(mc_http_origin_t *o)
{
    union {
        struct sockaddr sa;
        struct sockaddr_in in4;
        struct sockaddr_in6 in6;
    } a;
    if (!o->ipv6_literal && uv_ip4_addr(o->host, o->port, &a.in4) == 0) {
        origin_init_pool(o, &a.sa, sizeof(a.in4));
        return;
    }
    if (o->ipv6_literal && uv_ip6_addr(o->host, o->port, &a.in6) == 0) {
        origin_init_pool(o, &a.sa, sizeof(a.in6));
        return;
    }
    char port[8];
    snprintf(port, sizeof(port), "%u", (unsigned)o->port);
    struct addrinfo hints;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    if (uv_getaddrinfo(o->c->loop, &o->gai, on_resolved, o->host, port, &hints) != 0) {
        while (o->qhead != NULL) {
            mc_http_call_t *call = o->qhead;
            o->qhead = call->qnext;
            finish(call, "name resolution failed");
        }
        o->qtail = NULL;
        return;
    }
    o->gai_active = true;
    o->state = ORIGIN_RESOLVING;
    ++o->c->live;
}

/* --- one call --------------------------------------------------------------------------- */

/* A call is freed in its timer's close callback: the last thing it owns. */
static void call_timer_closed(uv_handle_t *h)
{
    mc_http_call_t *call = h->data;
    mc_http_client_t *c = call->c;
    mc_buf_free(&call->body);
    free(call->headers);
    free(call->header_store);
    free(call->req);
    free(call);
    --c->live;
    maybe_free_client(c);
}

/* Takes a call that never started out of its origin's queue. */
static void unqueue(mc_http_call_t *call)
{
    mc_http_origin_t *o = call->o;
    mc_http_call_t **pp = &o->qhead, *prev = NULL;
    while (*pp != NULL && *pp != call) {
        prev = *pp;
        pp = &(*pp)->qnext;
    }
    if (*pp == call) {
        *pp = call->qnext;
        if (o->qtail == call)
            o->qtail = prev;
    }
    call->qnext = NULL;
}

/* Ends a call once: reports to the caller (unless cancelled) and releases its slot.
 * Never touches call->h2o: the caller has already cancelled it or h2o is closing it. */
static void finish(mc_http_call_t *call, const char *err)
{
    if (call->state == CALL_DONE)
        return;
    mc_http_client_t *c = call->c;
    if (call->state == CALL_ACTIVE) {
        --call->o->active;
        if (call->o->qhead != NULL)
            kick(c);
    }
    call->state = CALL_DONE;
    call->h2o = NULL;
    uv_timer_stop(&call->timer);
    if (call->prev != NULL)
        call->prev->next = call->next;
    else
        c->calls = call->next;
    if (call->next != NULL)
        call->next->prev = call->prev;
    call->next = call->prev = NULL;

    if (!call->cancelled && call->cb != NULL) {
        mc_http_response_t res;
        memset(&res, 0, sizeof(res));
        res.err = err;
        res.status = err != NULL ? 0 : call->status;
        res.body = err == NULL && call->body.data != NULL ? call->body.data : "";
        res.body_len = err == NULL ? call->body.len : 0;
        res.headers = err == NULL ? call->headers : NULL;
        res.nheaders = err == NULL ? call->nheaders : 0;
        call->cb(&res, call->data);
    }
    uv_close((uv_handle_t *)&call->timer, call_timer_closed);
}

/* h2o's error strings, in words a caller can act on. */
static const char *map_error(const char *errstr)
{
    if (errstr == NULL)
        return "error";
    if (strcmp(errstr, "I/O timeout") == 0 || strcmp(errstr, "connection timeout") == 0)
        return "timeout";
    if (strstr(errstr, "parse") != NULL || strstr(errstr, "transfer-encoding") != NULL ||
        strstr(errstr, "content-length") != NULL)
        return "bad response";
    if (strstr(errstr, "connect") != NULL || strcmp(errstr, "socket create error") == 0)
        return "connection failed";
    return "connection closed";
}

/* h2o's body callback: take everything h2o has buffered (it decoded chunks in place and
 * cut off anything past Content-Length), within the cap. Returning -1 makes h2o close the
 * connection instead of returning it to the pool. */
static int on_body(h2o_http1client_t *client, const char *errstr)
{
    mc_http_call_t *call = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        finish(call, map_error(errstr));
        return -1;
    }
    h2o_buffer_t *in = client->sock->input;
    if (in->size > 0) {
        int r = call->body.len + in->size > call->max_response ? -1 : mc_buf_append(&call->body, in->bytes, in->size);
        h2o_buffer_consume(&client->sock->input, in->size);
        if (r != 0) {
            finish(call, "response too large");
            return -1; /* h2o closes the connection (the rest of the body is never read) */
        }
    }
    if (errstr == h2o_http1client_error_is_eos)
        finish(call, NULL);
    return 0;
}

/* h2o's head callback (2.2.5's signature, with rlen): keep status and headers; refuse a
 * declared length over the cap before reading any of the body. */
static h2o_http1client_body_cb on_head(h2o_http1client_t *client, const char *errstr, int minor_version, int status,
                                       h2o_iovec_t msg, h2o_header_t *headers, size_t num_headers, int rlen)
{
    mc_http_call_t *call = client->data;
    if (errstr != NULL && errstr != h2o_http1client_error_is_eos) {
        finish(call, map_error(errstr));
        return NULL;
    }
    call->status = status;
    size_t bytes = 0;
    for (size_t i = 0; i < num_headers; ++i) {
        bytes += headers[i].name->len + headers[i].value.len + 2;
        if (headers[i].name == &H2O_TOKEN_CONTENT_LENGTH->buf && !call->method_is_head && status != 204 && status != 304) {
            size_t cl = h2o_strtosize(headers[i].value.base, headers[i].value.len);
            if (cl != SIZE_MAX && cl > call->max_response) {
                finish(call, "response too large");
                return NULL; /* h2o closes the connection */
            }
        }
    }
    if (bytes > MC_HTTP_MAX_RESPONSE_HEAD) {
        finish(call, "bad response");
        return NULL;
    }
    if (num_headers > 0) {
        call->headers = calloc(num_headers, sizeof(*call->headers));
        call->header_store = malloc(bytes);
        if (call->headers == NULL || call->header_store == NULL) {
            finish(call, "out of memory");
            return NULL;
        }
        char *p = call->header_store;
        for (size_t i = 0; i < num_headers; ++i) { /* names come lower-cased from h2o */
            call->headers[i].name = p;
            memcpy(p, headers[i].name->base, headers[i].name->len);
            p += headers[i].name->len;
            *p++ = '\0';
            call->headers[i].value = p;
            memcpy(p, headers[i].value.base, headers[i].value.len);
            p += headers[i].value.len;
            *p++ = '\0';
        }
        call->nheaders = num_headers;
    }
    if (errstr == h2o_http1client_error_is_eos) { /* HEAD, 204, 304: no body */
        finish(call, NULL);
        return NULL;
    }
    return on_body;
}

/* h2o's connect callback: a socket (new or pooled) is ready; hand over the request. */
static h2o_http1client_head_cb on_connect(h2o_http1client_t *client, const char *errstr, h2o_iovec_t **reqbufs,
                                          size_t *reqbufcnt, int *method_is_head)
{
    mc_http_call_t *call = client->data;
    if (errstr != NULL) {
        finish(call, map_error(errstr));
        return NULL;
    }
    *reqbufs = call->iov;
    *reqbufcnt = call->body_len > 0 ? 2 : 1;
    *method_is_head = call->method_is_head;
    return on_head;
}

/* The whole-call deadline: wherever the call is, it ends now. Outside any h2o callback,
 * so cancelling the h2o client here is safe. */
static void call_timeout(uv_timer_t *t)
{
    mc_http_call_t *call = t->data;
    if (call->state == CALL_QUEUED) {
        unqueue(call);
    } else if (call->h2o != NULL) {
        h2o_http1client_t *h = call->h2o;
        call->h2o = NULL;
        h2o_http1client_cancel(h);
    }
    finish(call, "timeout");
}

int mc_http_fetch(mc_http_client_t *c, const mc_http_request_t *req, mc_http_cb cb, void *data, mc_http_call_t **callp)
{
    if (callp != NULL)
        *callp = NULL;
    if (c == NULL || c->closing || req == NULL || cb == NULL)
        return -1;
    mc_http_url_t u;
    if (parse_url(req->url, &u) != 0)
        return -1;
    if (req->body == NULL && req->body_len != 0)
        return -1;
    mc_buf_t head;
    mc_buf_init(&head, MC_HTTP_MAX_HEAD);
    if (build_head(&head, req, &u) != 0) {
        mc_buf_free(&head);
        return -1;
    }
    mc_http_origin_t *o = origin_get(c, &u);
    mc_http_call_t *call = o != NULL ? calloc(1, sizeof(*call)) : NULL;
    char *buf = call != NULL ? malloc(head.len + req->body_len + 1) : NULL;
    if (buf == NULL) {
        free(call);
        mc_buf_free(&head);
        return -1;
    }
    memcpy(buf, head.data, head.len);
    if (req->body_len > 0)
        memcpy(buf + head.len, req->body, req->body_len);
    call->req = buf;
    call->head_len = head.len;
    call->body_len = req->body_len;
    mc_buf_free(&head);
    call->iov[0] = h2o_iovec_init(buf, call->head_len);
    call->iov[1] = h2o_iovec_init(buf + call->head_len, call->body_len);
    call->method_is_head = req->method != NULL && strcmp(req->method, "HEAD") == 0;
    call->c = c;
    call->o = o;
    call->cb = cb;
    call->data = data;
    call->max_response = c->opts.max_response_bytes;
    mc_buf_init(&call->body, call->max_response);
    call->state = CALL_QUEUED;

    unsigned timeout = req->timeout_ms != 0 ? req->timeout_ms : c->opts.default_timeout_ms;
    uv_update_time(c->loop); /* the timeout counts from now, not from the start of this loop iteration */
    if (timeout > MC_HTTP_MAX_TIMEOUT_MS)
        timeout = MC_HTTP_MAX_TIMEOUT_MS;
    uv_timer_init(c->loop, &call->timer);
    call->timer.data = call;
    ++c->live;
    uv_timer_start(&call->timer, call_timeout, timeout, 0);

    call->next = c->calls;
    if (c->calls != NULL)
        c->calls->prev = call;
    c->calls = call;
    if (o->qtail != NULL)
        o->qtail->qnext = call;
    else
        o->qhead = call;
    o->qtail = call;
    kick(c);
    if (callp != NULL)
        *callp = call;
    return 0;
}

void mc_http_cancel(mc_http_call_t *call)
{
    if (call == NULL || call->state == CALL_DONE)
        return;
    call->cancelled = true;
    if (call->state == CALL_QUEUED) {
        unqueue(call);
    } else if (call->h2o != NULL) {
        h2o_http1client_t *h = call->h2o;
        call->h2o = NULL;
        h2o_http1client_cancel(h);
    }
    finish(call, "cancelled");
}

/* Starts the waiting calls each origin has room for. */
static void start_calls(mc_http_client_t *c)
{
    for (mc_http_origin_t *o = c->origins; o != NULL; o = o->next) {
        if (o->qhead == NULL)
            continue;
        if (o->state == ORIGIN_NEW)
            origin_resolve(o);
        if (o->state != ORIGIN_READY)
            continue;
        while (o->qhead != NULL && o->active < c->opts.pool_capacity && !c->closing) {
            mc_http_call_t *call = o->qhead;
            o->qhead = call->qnext;
            if (o->qhead == NULL)
                o->qtail = NULL;
            call->qnext = NULL;
            call->state = CALL_ACTIVE;
            ++o->active;
            /* May call on_connect at once (a pooled socket, or an immediate error). */
            h2o_http1client_connect_with_pool(&call->h2o, call, &c->ctx, &o->pool, on_connect);
        }
    }
}

/* The last stage of closing. */
static void pump_closed(uv_handle_t *h)
{
    mc_http_client_t *c = h->data;
    --c->live;
    c->close_stage = 3;
    maybe_free_client(c);
}

/* Starts waiting calls; while closing, runs the two tear-down stages (see the top). */
static void pump_cb(uv_timer_t *t)
{
    mc_http_client_t *c = t->data;
    if (!c->closing) {
        start_calls(c);
        return;
    }
    if (c->close_stage == 1) {
        /* Every h2o client is gone (cancelled, or finished in an earlier iteration). */
        for (mc_http_origin_t *o = c->origins; o != NULL; o = o->next)
            if (o->pool_inited) {
                h2o_socketpool_dispose(&o->pool); /* closes idle sockets; uv_close()s its timer */
                o->pool_inited = false;
            }
        h2o_timeout_dispose(c->loop, &c->io_timeout);
        c->close_stage = 2;
        /* 1 ms, not 0: a zero timer started from a timer callback runs again in the same
         * timers phase, before this iteration's close callbacks have completed the closes
         * above; a later one runs in a later iteration, after them. */
        uv_timer_start(&c->pump, pump_cb, 1, 0);
    } else if (c->close_stage == 2) {
        uv_close((uv_handle_t *)&c->pump, pump_closed);
    }
}

/* Frees a closing client once the pump is closed and every call and look-up is gone. */
static void maybe_free_client(mc_http_client_t *c)
{
    if (!c->closing || c->close_stage != 3 || c->live != 0)
        return;
    while (c->origins != NULL) {
        mc_http_origin_t *o = c->origins;
        c->origins = o->next;
        free(o);
    }
    free(c);
}

void mc_http_client_close(mc_http_client_t *c)
{
    if (c == NULL || c->closing)
        return;
    c->closing = true;
    while (c->calls != NULL)
        mc_http_cancel(c->calls);
    for (mc_http_origin_t *o = c->origins; o != NULL; o = o->next)
        if (o->gai_active)
            uv_cancel((uv_req_t *)&o->gai);
    c->close_stage = 1;
    uv_timer_start(&c->pump, pump_cb, 0, 0);
}
