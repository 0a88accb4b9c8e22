/*
 * Implementation of gw_upstream.h.
 *
 * A call owns a copy of its request (an attempt may be repeated after the caller's
 * buffers are gone), one uv timer for its whole life (backoff waits, and failures that
 * must reach the caller on a later loop iteration: deadline passed, circuit open) and at
 * most one mc_http attempt at a time. It is freed in its timer's close callback, after
 * its callback ran or it was cancelled.
 */
#include <stdlib.h>
#include <string.h>
#include "gw_metrics.h"
#include "gw_upstream.h"
#include "mc_config.h"
#include "mc_log.h"
#include "mc_util.h"

void gw_up_config_load(gw_up_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->retries = (unsigned)mc_env_int("GATEWAY_RETRIES", 2, 0, 10);
    cfg->backoff_ms = (unsigned)mc_env_int("GATEWAY_RETRY_BACKOFF_MS", 25, 1, 60000);
    cfg->backoff_max_ms = (unsigned)mc_env_int("GATEWAY_RETRY_BACKOFF_MAX_MS", 1000, 1, 600000);
    if (cfg->backoff_max_ms < cfg->backoff_ms)
        mc_config_die("GATEWAY_RETRY_BACKOFF_MAX_MS", "must be at least GATEWAY_RETRY_BACKOFF_MS");
    cfg->budget_percent = (unsigned)mc_env_int("GATEWAY_RETRY_BUDGET_PERCENT", 20, 0, 100);
    cfg->budget_min_per_s = (unsigned)mc_env_int("GATEWAY_RETRY_BUDGET_MIN_PER_SECOND", 5, 0, 10000);
    cfg->breaker.enabled = mc_env_bool("GATEWAY_BREAKER", true);
    cfg->breaker.error_percent = (unsigned)mc_env_int("GATEWAY_BREAKER_ERROR_PERCENT", 50, 1, 100);
    cfg->breaker.min_calls = (unsigned)mc_env_int("GATEWAY_BREAKER_MIN_CALLS", 20, 1, 1000000);
    cfg->breaker.window_ms = (unsigned)mc_env_int("GATEWAY_BREAKER_WINDOW_MS", 10000, 100, 3600000);
    cfg->breaker.open_ms = (unsigned)mc_env_int("GATEWAY_BREAKER_OPEN_MS", 5000, 10, 3600000);
    cfg->breaker.probes = (unsigned)mc_env_int("GATEWAY_BREAKER_PROBES", 1, 1, 1000);
}

gw_upstreams_t *gw_upstreams_create(const gw_services_t *svcs, const gw_up_config_t *cfg)
{
    gw_upstreams_t *up = calloc(1, sizeof(*up));
    if (up == NULL)
        return NULL;
    up->cfg = *cfg;
    up->n = svcs->n;
    for (unsigned i = 0; i < svcs->n; ++i)
        gw_breaker_init(&up->breakers[i], svcs->s[i].name, &cfg->breaker);
    return up;
}

void gw_upstreams_free(gw_upstreams_t *up)
{
    if (up == NULL)
        return;
    for (unsigned i = 0; i < up->n; ++i)
        gw_breaker_destroy(&up->breakers[i]);
    free(up);
}

unsigned gw_up_backoff_ms(const gw_up_config_t *cfg, unsigned attempt, double random01)
{
    double cap = cfg->backoff_ms;
    for (unsigned i = 1; i < attempt && cap < cfg->backoff_max_ms; ++i)
        cap *= 2;
    if (cap > cfg->backoff_max_ms)
        cap = cfg->backoff_max_ms;
    if (random01 < 0)
        random01 = 0;
    if (random01 >= 1)
        random01 = 0.999999;
    return (unsigned)(cap * random01 + 0.5);
}

/* --- the worker's caller -------------------------------------------------------------------- */

struct gw_up_worker {
    gw_upstreams_t *up;
    uv_loop_t *loop;
    mc_http_client_t *http;
    struct {
        double tokens;
        uint64_t last_ns;
    } budget[GW_MAX_SERVICES];
    gw_up_call_t *calls; /* not yet done */
    unsigned live;       /* calls not yet freed */
    bool closing;
    uint64_t rng;
};

struct gw_up_call {
    gw_up_worker_t *w;
    gw_up_call_t *next, *prev;
    unsigned svc;
    mc_http_cb cb;
    void *data;
    mc_http_request_t req; /* pointers into store */
    char *store;
    mc_http_header_t *headers;
    uint64_t deadline_ns;
    unsigned timeout_ms; /* per attempt */
    unsigned attempt;    /* retries made so far */
    bool retryable;
    mc_http_call_t *h;   /* the attempt in flight */
    gw_admit_t admitted;
    uint64_t started_ns;
    uv_timer_t timer;
    const char *fail_err; /* a failure to report from the timer */
    bool done;
};

gw_up_worker_t *gw_up_worker_create(gw_upstreams_t *up, uv_loop_t *loop, mc_http_client_t *http)
{
    gw_up_worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->up = up;
    w->loop = loop;
    w->http = http;
    uint64_t now = mc_mono_ns();
    for (unsigned i = 0; i < GW_MAX_SERVICES; ++i) {
        w->budget[i].tokens = up->cfg.budget_min_per_s;
        w->budget[i].last_ns = now;
    }
    mc_random_bytes(&w->rng, sizeof(w->rng));
    w->rng |= 1;
    return w;
}

static double rand01(gw_up_worker_t *w)
{
    w->rng ^= w->rng << 13; /* xorshift64 */
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return (double)(w->rng >> 11) / (double)(1ull << 53);
}

/* Earns the time-based part of the budget, then takes a token if there is one. */
static bool budget_take(gw_up_worker_t *w, unsigned svc)
{
    uint64_t now = mc_mono_ns();
    double dt = (double)(now - w->budget[svc].last_ns) / 1e9;
    w->budget[svc].last_ns = now;
    double t = w->budget[svc].tokens + dt * w->up->cfg.budget_min_per_s;
    if (t > GW_UP_BUDGET_CAP)
        t = GW_UP_BUDGET_CAP;
    /* Tenths and fifths do not add up exactly in binary: 10 × 0.2 is just under 2. */
    bool ok = t >= 1.0 - 1e-9;
    w->budget[svc].tokens = ok ? (t > 1.0 ? t - 1.0 : 0.0) : t;
    return ok;
}

static void budget_earn(gw_up_worker_t *w, unsigned svc)
{
    double t = w->budget[svc].tokens + w->up->cfg.budget_percent / 100.0;
    w->budget[svc].tokens = t > GW_UP_BUDGET_CAP ? GW_UP_BUDGET_CAP : t;
}

static void maybe_free_worker(gw_up_worker_t *w)
{
    if (w->closing && w->live == 0)
        free(w);
}

static void call_closed(uv_handle_t *h)
{
    gw_up_call_t *c = h->data;
    gw_up_worker_t *w = c->w;
    free(c->store);
    free(c);
    --w->live;
    maybe_free_worker(w);
}

static void unlink_call(gw_up_call_t *c)
{
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        c->w->calls = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    c->next = c->prev = NULL;
}

/* The call's end: report (once) and close. */
static void deliver(gw_up_call_t *c, const mc_http_response_t *res)
{
    if (c->done)
        return;
    c->done = true;
    unlink_call(c);
    uv_timer_stop(&c->timer);
    c->cb(res, c->data);
    uv_close((uv_handle_t *)&c->timer, call_closed);
}

static void deliver_error(gw_up_call_t *c, const char *err)
{
    mc_http_response_t res;
    memset(&res, 0, sizeof(res));
    res.err = err;
    res.body = "";
    deliver(c, &res);
}

static void start_attempt(gw_up_call_t *c);

static void on_timer(uv_timer_t *t)
{
    gw_up_call_t *c = t->data;
    if (c->fail_err != NULL)
        deliver_error(c, c->fail_err);
    else
        start_attempt(c); /* after a backoff */
}

/* A failure reported on a later loop iteration (callbacks never run inside fetch). */
static void fail_soon(gw_up_call_t *c, const char *err)
{
    c->fail_err = err;
    uv_timer_start(&c->timer, on_timer, 0, 0);
}

static bool is_failure(const mc_http_response_t *res)
{
    return res->err != NULL || res->status >= 500;
}

/* Failures the breaker should not hear of: our own limits and cancellations. */
static bool no_verdict(const mc_http_response_t *res)
{
    return res->err != NULL && (strcmp(res->err, "response too large") == 0 || strcmp(res->err, "out of memory") == 0 ||
                                strcmp(res->err, "cancelled") == 0);
}

static bool worth_retrying(const mc_http_response_t *res)
{
    if (res->err != NULL)
        return strcmp(res->err, "connection failed") == 0 || strcmp(res->err, "connection closed") == 0;
    return res->status == 502 || res->status == 503 || res->status == 504;
}

static gw_up_result_t result_of(const mc_http_response_t *res)
{
    if (res->err != NULL)
        return strcmp(res->err, "timeout") == 0 ? GW_UP_TIMEOUT : GW_UP_ERROR;
    return res->status >= 500 ? GW_UP_5XX : res->status >= 400 ? GW_UP_4XX : GW_UP_2XX;
}

static void on_attempt(const mc_http_response_t *res, void *data)
{
    gw_up_call_t *c = data;
    gw_up_worker_t *w = c->w;
    c->h = NULL;
    uint64_t now = mc_mono_ns();
    gw_breaker_t *b = &w->up->breakers[c->svc];
    if (no_verdict(res))
        gw_breaker_release(b, c->admitted);
    else
        gw_breaker_record(b, c->admitted, !is_failure(res), now / 1000000);
    gw_metrics_upstream(c->svc, result_of(res), now - c->started_ns);

    if (c->retryable && c->attempt < w->up->cfg.retries && worth_retrying(res) && !w->closing) {
        unsigned wait = gw_up_backoff_ms(&w->up->cfg, c->attempt + 1, rand01(w));
        bool in_time = c->deadline_ns == 0 || now + (uint64_t)(wait + 1) * 1000000 < c->deadline_ns;
        if (in_time && budget_take(w, c->svc)) {
            gw_metrics_retry(c->svc, true);
            ++c->attempt;
            if (mc_log_enabled(MC_LOG_DEBUG))
                mc_log_json(MC_LOG_DEBUG, c->req.request_id,
                            json_pack("{s:s,s:i,s:i}", "url", c->req.url, "attempt", (int)c->attempt + 1, "backoff_ms",
                                      (int)wait),
                            "retrying an upstream call (%s)", res->err != NULL ? res->err : "5xx");
            uv_timer_start(&c->timer, on_timer, wait, 0);
            return;
        }
        if (in_time)
            gw_metrics_retry(c->svc, false);
    }
    deliver(c, res);
}

/* One attempt: the deadline, the breaker, then the HTTP call. */
static void start_attempt(gw_up_call_t *c)
{
    gw_up_worker_t *w = c->w;
    uint64_t now = mc_mono_ns();
    unsigned timeout = c->timeout_ms;
    if (c->deadline_ns != 0) {
        if (now + 1000000 >= c->deadline_ns) {
            deliver_error(c, "timeout");
            return;
        }
        uint64_t left_ms = (c->deadline_ns - now) / 1000000;
        if (left_ms < timeout)
            timeout = (unsigned)left_ms;
    }
    c->admitted = gw_breaker_admit(&w->up->breakers[c->svc], now / 1000000);
    if (c->admitted == GW_ADMIT_REJECT) {
        gw_metrics_upstream(c->svc, GW_UP_CIRCUIT_OPEN, 0);
        deliver_error(c, "circuit open");
        return;
    }
    c->req.timeout_ms = timeout;
    c->started_ns = now;
    if (mc_http_fetch(w->http, &c->req, on_attempt, c, &c->h) != 0) {
        gw_breaker_release(&w->up->breakers[c->svc], c->admitted);
        deliver_error(c, "connection failed");
    }
}

/* Copies what the request points to into one block owned by the call. */
static int copy_request(gw_up_call_t *c, const mc_http_request_t *r)
{
    size_t n = strlen(r->url) + 1 + r->body_len + 1;
    const char *strs[] = {r->method, r->content_type, r->request_id, r->traceparent, r->tracestate};
    for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); ++i)
        n += strs[i] != NULL ? strlen(strs[i]) + 1 : 0;
    for (size_t i = 0; i < r->nheaders; ++i)
        n += strlen(r->headers[i].name) + strlen(r->headers[i].value) + 2;
    n += r->nheaders * sizeof(mc_http_header_t) + sizeof(mc_http_header_t);
    c->store = malloc(n);
    if (c->store == NULL)
        return -1;
    c->headers = (mc_http_header_t *)c->store; /* first: aligned by malloc */
    char *p = c->store + (r->nheaders + 1) * sizeof(mc_http_header_t);
#define COPY(dst, src)                                                                                                 \
    do {                                                                                                               \
        size_t l_ = strlen(src) + 1;                                                                                   \
        memcpy(p, (src), l_);                                                                                          \
        (dst) = p;                                                                                                     \
        p += l_;                                                                                                       \
    } while (0)
    c->req = *r;
    COPY(c->req.url, r->url);
    if (r->method != NULL)
        COPY(c->req.method, r->method);
    if (r->content_type != NULL)
        COPY(c->req.content_type, r->content_type);
    if (r->request_id != NULL)
        COPY(c->req.request_id, r->request_id);
    if (r->traceparent != NULL)
        COPY(c->req.traceparent, r->traceparent);
    if (r->tracestate != NULL)
        COPY(c->req.tracestate, r->tracestate);
    for (size_t i = 0; i < r->nheaders; ++i) {
        COPY(c->headers[i].name, r->headers[i].name);
        COPY(c->headers[i].value, r->headers[i].value);
    }
#undef COPY
    c->req.headers = c->headers;
    if (r->body != NULL) {
        memcpy(p, r->body, r->body_len);
        c->req.body = p;
        p += r->body_len;
    }
    *p = '\0';
    return 0;
}

int gw_up_fetch(gw_up_worker_t *w, unsigned svc, const mc_http_request_t *req, uint64_t deadline_ns, mc_http_cb cb,
                void *data, gw_up_call_t **callp)
{
    if (callp != NULL)
        *callp = NULL;
    if (w == NULL || w->closing || svc >= w->up->n || req == NULL || req->url == NULL || cb == NULL)
        return -1;
    gw_up_call_t *c = calloc(1, sizeof(*c));
    if (c == NULL || copy_request(c, req) != 0) {
        free(c);
        return -1;
    }
    c->w = w;
    c->svc = svc;
    c->cb = cb;
    c->data = data;
    c->deadline_ns = deadline_ns;
    c->timeout_ms = req->timeout_ms != 0 ? req->timeout_ms : 10000;
    const char *m = req->method != NULL ? req->method : "GET";
    c->retryable = strcmp(m, "GET") == 0 || strcmp(m, "HEAD") == 0;
    budget_earn(w, svc);

    uint64_t now = mc_mono_ns();
    gw_admit_t admitted = GW_ADMIT_CALL;
    const char *fail = NULL;
    if (deadline_ns != 0 && now + 1000000 >= deadline_ns) {
        fail = "timeout";
    } else if ((admitted = gw_breaker_admit(&w->up->breakers[svc], now / 1000000)) == GW_ADMIT_REJECT) {
        gw_metrics_upstream(svc, GW_UP_CIRCUIT_OPEN, 0);
        fail = "circuit open";
    } else {
        unsigned timeout = c->timeout_ms;
        if (deadline_ns != 0 && (deadline_ns - now) / 1000000 < timeout)
            timeout = (unsigned)((deadline_ns - now) / 1000000);
        c->req.timeout_ms = timeout;
        c->admitted = admitted;
        c->started_ns = now;
        if (mc_http_fetch(w->http, &c->req, on_attempt, c, &c->h) != 0) {
            gw_breaker_release(&w->up->breakers[svc], admitted);
            free(c->store);
            free(c);
            return -1;
        }
    }
    uv_timer_init(w->loop, &c->timer);
    c->timer.data = c;
    ++w->live;
    c->next = w->calls;
    if (w->calls != NULL)
        w->calls->prev = c;
    w->calls = c;
    if (fail != NULL)
        fail_soon(c, fail);
    if (callp != NULL)
        *callp = c;
    return 0;
}

void gw_up_cancel(gw_up_call_t *c)
{
    if (c == NULL || c->done)
        return;
    c->done = true;
    unlink_call(c);
    if (c->h != NULL) {
        mc_http_cancel(c->h);
        c->h = NULL;
        gw_breaker_release(&c->w->up->breakers[c->svc], c->admitted);
    }
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, call_closed);
}

void gw_up_worker_close(gw_up_worker_t *w)
{
    if (w == NULL || w->closing)
        return;
    w->closing = true;
    while (w->calls != NULL)
        gw_up_cancel(w->calls);
    maybe_free_worker(w);
}
