/*
 * Implementation of mc_req.h: the request object, its two-sided lifetime (h2o's
 * request may die first when the client goes away; ours lives until answered and
 * released), routing to the handler, and the answers in the error envelope.
 */
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mc_internal.h"
#include "mc_log.h"
#include "mc_util.h"

static void req_free(mc_req_t *req)
{
    for (mc_free_cb_t *f = req->on_free; f != NULL;) {
        mc_free_cb_t *next = f->next;
        f->cb(f->arg);
        f = next; /* the node itself lives in the pool */
    }
    mc_trace_unbind(&req->trace_binding);
    json_decref(req->json);
    json_decref(req->log_fields);
    h2o_mem_clear_pool(&req->pool);
    free(req);
}

void mc_req_retain(mc_req_t *req)
{
    ++req->refcnt;
}

void mc_req_release(mc_req_t *req)
{
    assert(req->refcnt > 0);
    if (--req->refcnt == 0)
        req_free(req);
}

/* Registered in h2o's request pool: runs when h2o disposes its request, after the
 * response was sent or when the connection died first. */
struct h2o_side {
    mc_req_t *req;
};

static void on_h2o_dispose(void *p)
{
    struct h2o_side *side = p;
    mc_req_t *req = side->req;
    mc_worker_t *w = req->worker;
    req->h2o = NULL;
    if (!req->answered)
        mc_log_json(MC_LOG_INFO, req->id, json_pack("{s:s,s:s}", "method", req->method, "path", req->path),
                    "client went away before the answer");
    mc_req_release(req);
    mc_worker_request_ended(w);
}

mc_worker_t *mc_req_worker(const mc_req_t *req)
{
    return req->worker;
}

mc_server_t *mc_req_server(const mc_req_t *req)
{
    return req->worker->srv;
}

struct st_h2o_req_t *mc_req_h2o(const mc_req_t *req)
{
    return req->h2o;
}

bool mc_req_gone(const mc_req_t *req)
{
    return req->h2o == NULL;
}

bool mc_req_answered(const mc_req_t *req)
{
    return req->answered;
}

void *mc_req_alloc(mc_req_t *req, size_t size)
{
    void *p = h2o_mem_alloc_pool(&req->pool, size);
    memset(p, 0, size);
    return p;
}

char *mc_req_strndup(mc_req_t *req, const char *s, size_t len)
{
    char *p = h2o_mem_alloc_pool(&req->pool, len + 1);
    memcpy(p, s, len);
    p[len] = '\0';
    return p;
}

void mc_req_set_data(mc_req_t *req, void *data)
{
    req->data = data;
}

void *mc_req_data(const mc_req_t *req)
{
    return req->data;
}

void mc_req_on_free(mc_req_t *req, void (*cb)(void *), void *arg)
{
    mc_free_cb_t *f = h2o_mem_alloc_pool(&req->pool, sizeof(*f));
    f->cb = cb;
    f->arg = arg;
    f->next = req->on_free;
    req->on_free = f;
}

static void decref_cb(void *p)
{
    json_decref(p);
}

json_t *mc_req_keep_json(mc_req_t *req, json_t *v)
{
    if (v != NULL)
        mc_req_on_free(req, decref_cb, v);
    return v;
}

const char *mc_req_id(const mc_req_t *req)
{
    return req->id;
}

const mc_trace_t *mc_req_trace(const mc_req_t *req)
{
    return &req->trace;
}

void mc_req_log_set(mc_req_t *req, const char *name, json_t *value)
{
    if (value == NULL)
        return;
    if (req->log_fields == NULL)
        req->log_fields = json_object();
    json_object_set_new(req->log_fields, name, value);
}

const char *mc_req_method(const mc_req_t *req)
{
    return req->method;
}

const char *mc_req_path(const mc_req_t *req)
{
    return req->path;
}

const char *mc_req_param(const mc_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nparams; ++i)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

/* Parses the query string once: names and values percent-decoded ('+' is a space);
 * pairs with a malformed escape or a NUL byte are dropped. At most 64 pairs. */
static void parse_query(mc_req_t *req)
{
    enum { MAX_PAIRS = 64 };
    req->query_parsed = true;
    req->query_names = mc_req_alloc(req, sizeof(char *) * MAX_PAIRS);
    req->query_values = mc_req_alloc(req, sizeof(char *) * MAX_PAIRS);
    if (req->h2o == NULL || req->h2o->query_at == SIZE_MAX)
        return;
    const char *q = req->h2o->path.base + req->h2o->query_at + 1;
    const char *end = req->h2o->path.base + req->h2o->path.len;
    while (q < end && req->nquery < MAX_PAIRS) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *pend = amp ? amp : end;
        const char *eq = memchr(q, '=', (size_t)(pend - q));
        const char *nend = eq ? eq : pend;
        if (nend > q) {
            char *name = h2o_mem_alloc_pool(&req->pool, (size_t)(nend - q) + 1);
            const char *vs = eq ? eq + 1 : pend;
            char *value = h2o_mem_alloc_pool(&req->pool, (size_t)(pend - vs) + 1);
            if (mc_url_decode(q, (size_t)(nend - q), name, true) >= 0 &&
                mc_url_decode(vs, (size_t)(pend - vs), value, true) >= 0) {
                req->query_names[req->nquery] = name;
                req->query_values[req->nquery] = value;
                ++req->nquery;
            }
        }
        q = pend + 1;
    }
}

const char *mc_req_query(mc_req_t *req, const char *name)
{
    if (!req->query_parsed)
        parse_query(req);
    for (size_t i = 0; i < req->nquery; ++i)
        if (strcmp(req->query_names[i], name) == 0)
            return req->query_values[i];
    return NULL;
}

const char **mc_req_query_all(mc_req_t *req, const char *name, size_t *n)
{
    if (!req->query_parsed)
        parse_query(req);
    const char **out = mc_req_alloc(req, sizeof(char *) * (req->nquery + 1));
    *n = 0;
    for (size_t i = 0; i < req->nquery; ++i)
        if (strcmp(req->query_names[i], name) == 0)
            out[(*n)++] = req->query_values[i];
    return out;
}

const char **mc_req_query_names(mc_req_t *req, size_t *n)
{
    if (!req->query_parsed)
        parse_query(req);
    *n = req->nquery;
    return req->query_names;
}

const char *mc_req_header(mc_req_t *req, const char *name)
{
    if (req->h2o == NULL)
        return NULL;
    size_t nlen = strlen(name);
    const h2o_headers_t *hs = &req->h2o->headers;
    for (size_t i = 0; i < hs->size; ++i) {
        const h2o_header_t *h = &hs->entries[i];
        if (h->name->len == nlen && strncasecmp(h->name->base, name, nlen) == 0)
            return mc_req_strndup(req, h->value.base, h->value.len);
    }
    return NULL;
}

const char *mc_req_peer(mc_req_t *req)
{
    if (req->peer[0] == '\0' && req->h2o != NULL) {
        struct sockaddr_storage ss;
        socklen_t len = req->h2o->conn->callbacks->get_peername(req->h2o->conn, (struct sockaddr *)&ss);
        char buf[NI_MAXHOST];
        size_t n = len > 0 ? h2o_socket_getnumerichost((struct sockaddr *)&ss, len, buf) : SIZE_MAX;
        if (n != SIZE_MAX && n < sizeof(req->peer)) {
            memcpy(req->peer, buf, n);
            req->peer[n] = '\0';
        } else {
            strcpy(req->peer, "unknown");
        }
    }
    return req->peer[0] ? req->peer : "unknown";
}

const char *mc_req_body(const mc_req_t *req, size_t *len)
{
    if (req->h2o == NULL || req->h2o->entity.base == NULL) {
        *len = 0;
        return "";
    }
    *len = req->h2o->entity.len;
    return req->h2o->entity.base;
}

/* True when the media type is JSON: application/json or application/<x>+json, with any
 * parameters (charset). */
static bool is_json_media(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        --n;
    if (n == 16 && strncasecmp(ct, "application/json", 16) == 0)
        return true;
    return n > 17 && strncasecmp(ct, "application/", 12) == 0 && strncasecmp(ct + n - 5, "+json", 5) == 0;
}

json_t *mc_req_json(mc_req_t *req, bool want_object)
{
    if (req->json != NULL)
        return req->json;
    size_t len;
    const char *body = mc_req_body(req, &len);
    const mc_config_t *cfg = req->worker->srv->opts.cfg;
    if (len > cfg->max_body_bytes) {
        mc_respond_error(req, MC_ERR_PAYLOAD_TOO_LARGE, json_pack("{s:I}", "limit", (json_int_t)cfg->max_body_bytes),
                         "request body is larger than %zu bytes", cfg->max_body_bytes);
        return NULL;
    }
    const char *ct = mc_req_header(req, "content-type");
    if (ct != NULL && !is_json_media(ct)) {
        mc_respond_error(req, MC_ERR_UNSUPPORTED_MEDIA, NULL, "request body must be application/json");
        return NULL;
    }
    if (len == 0) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "request body is missing (a JSON %s is expected)",
                         want_object ? "object" : "value");
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (v == NULL) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST,
                         json_pack("{s:i,s:i,s:i}", "line", jerr.line, "column", jerr.column, "position", jerr.position),
                         "malformed JSON: %s", jerr.text);
        return NULL;
    }
    if (want_object && !json_is_object(v)) {
        json_decref(v);
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "request body must be a JSON object");
        return NULL;
    }
    req->json = v;
    return v;
}

const mc_claims_t *mc_req_claims(mc_req_t *req, const char **why)
{
    if (!req->claims_checked) {
        req->claims_checked = true;
        const mc_jwt_t *jwt = req->worker->srv->jwt;
        const char *auth = mc_req_header(req, "authorization");
        if (jwt == NULL) {
            req->claims_why = "authentication is not configured";
        } else if (auth == NULL) {
            req->claims_why = "missing bearer token";
        } else if (strncasecmp(auth, "Bearer ", 7) != 0) {
            req->claims_why = "authorization scheme must be Bearer";
        } else {
            const char *tok = auth + 7;
            while (*tok == ' ')
                ++tok;
            if (mc_jwt_verify(jwt, tok, strlen(tok), mc_now_ms() / 1000, &req->claims_storage, &req->claims_why) == 0)
                req->claims = &req->claims_storage;
        }
    }
    if (why != NULL)
        *why = req->claims_why;
    return req->claims;
}

bool mc_req_require(mc_req_t *req, unsigned roles)
{
    const char *why;
    const mc_claims_t *c = mc_req_claims(req, &why);
    if (c == NULL) {
        mc_req_add_header(req, "www-authenticate", "Bearer");
        mc_respond_error(req, MC_ERR_UNAUTHENTICATED, NULL, "authentication required: %s", why);
        return false;
    }
    if (roles != MC_ROLE_ANY && (c->role & roles) == 0) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "this action needs another role than %s", mc_role_name(c->role));
        return false;
    }
    return true;
}

bool mc_req_is_internal(mc_req_t *req)
{
    const char *want = req->worker->srv->opts.cfg->internal_key;
    const char *got = mc_req_header(req, "x-internal-key");
    return want != NULL && got != NULL && mc_ct_equal(got, strlen(got), want, strlen(want));
}

bool mc_req_require_internal(mc_req_t *req)
{
    if (req->worker->srv->opts.cfg->internal_key == NULL) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "internal endpoints are closed (INTERNAL_API_KEY is not set)");
        return false;
    }
    if (!mc_req_is_internal(req)) {
        mc_respond_error(req, MC_ERR_UNAUTHENTICATED, NULL, "this endpoint is for Mercato services only");
        return false;
    }
    return true;
}

void mc_req_add_header(mc_req_t *req, const char *name, const char *value)
{
    if (req->nhdrs == MC_MAX_RESPONSE_HEADERS) {
        mc_log(MC_LOG_ERROR, req->id, "too many response headers; dropping %s", name);
        return;
    }
    size_t nl = strlen(name);
    char *lname = mc_req_strndup(req, name, nl);
    for (size_t i = 0; i < nl; ++i)
        if (lname[i] >= 'A' && lname[i] <= 'Z')
            lname[i] = (char)(lname[i] - 'A' + 'a');
    req->hdrs[req->nhdrs].name = lname;
    req->hdrs[req->nhdrs].value = mc_req_strndup(req, value, strlen(value));
    ++req->nhdrs;
}

static const char *reason_phrase(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return status < 400 ? "OK" : "Error";
    }
}

static void access_log(mc_req_t *req, int status, size_t bytes)
{
    double ms = (double)(mc_mono_ns() - req->start_ns) / 1e6;
    /* Probes are frequent and dull: debug level. */
    bool probe = strcmp(req->path, "/health") == 0 || strcmp(req->path, "/ready") == 0;
    mc_log_level_t level = status >= 500 ? MC_LOG_ERROR : probe ? MC_LOG_DEBUG : MC_LOG_INFO;
    if (!mc_log_enabled(level))
        return;
    json_t *fields = json_pack("{s:s,s:s,s:i,s:f,s:I}", "method", req->method, "path", req->path, "status", status,
                               "duration_ms", ms, "bytes", (json_int_t)bytes);
    if (req->log_fields != NULL)
        json_object_update_missing(fields, req->log_fields);
    mc_log_json(level, req->id, fields, "%s %s %d", req->method, req->path, status);
}

/* Every answer ends here: sends (when the client is still there), logs, and drops the
 * answering side's reference. */
static void finish(mc_req_t *req, int status, const char *ctype, const char *body, size_t len)
{
    if (req->answered) {
        mc_log(MC_LOG_ERROR, req->id, "bug: second answer (%d) to %s %s ignored", status, req->method, req->path);
        return;
    }
    req->answered = true;
    access_log(req, status, len);
    h2o_req_t *h = req->h2o;
    if (h != NULL) {
        h->res.status = status;
        h->res.reason = reason_phrase(status);
        h2o_add_header(&h->pool, &h->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
        h2o_add_header_by_str(&h->pool, &h->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, req->id, strlen(req->id));
        bool own_cache_control = false;
        for (size_t i = 0; i < req->nhdrs; ++i)
            own_cache_control = own_cache_control || strcmp(req->hdrs[i].name, "cache-control") == 0;
        if (!own_cache_control) /* answers are per user unless the handler says otherwise */
            h2o_add_header(&h->pool, &h->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, H2O_STRLIT("no-store"));
        h2o_add_header_by_str(&h->pool, &h->res.headers, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
        for (size_t i = 0; i < req->nhdrs; ++i)
            h2o_add_header_by_str(&h->pool, &h->res.headers, req->hdrs[i].name, strlen(req->hdrs[i].name), 1, NULL,
                                  req->hdrs[i].value, strlen(req->hdrs[i].value));
        if (status == 204 || status == 304) {
            h2o_send_inline(h, NULL, 0);
        } else {
            h->res.content_length = len;
            h2o_send_inline(h, body, len);
        }
    }
    mc_req_release(req);
}

void mc_respond_raw(mc_req_t *req, int status, const char *content_type, const void *body, size_t len)
{
    finish(req, status, content_type, body, len);
}

void mc_respond_empty(mc_req_t *req, int status)
{
    finish(req, status, "application/json", "", 0);
}

void mc_respond_json(mc_req_t *req, int status, json_t *body)
{
    char *s = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(body);
    if (s == NULL) {
        mc_log(MC_LOG_ERROR, req->id, "could not serialize a response body");
        static const char err[] = "{\"error\":{\"code\":\"INTERNAL\",\"message\":\"could not serialize the response\"}}";
        finish(req, 500, "application/json", err, sizeof(err) - 1);
        return;
    }
    finish(req, status, "application/json", s, strlen(s));
    free(s);
}

void mc_respond_error(mc_req_t *req, mc_err_t err, json_t *details, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    json_t *m = json_string(msg);
    if (m == NULL) /* the message quoted client input that is not UTF-8 */
        m = json_string("invalid input");
    json_t *e = json_pack("{s:s,s:o}", "code", mc_err_code(err), "message", m);
    if (details != NULL)
        json_object_set_new(e, "details", details);
    if (err == MC_ERR_INTERNAL)
        mc_log(MC_LOG_ERROR, req->id, "internal error: %s", msg);
    mc_respond_json(req, mc_err_http_status(err), json_pack("{s:o}", "error", e));
}

/* X-Request-Id is accepted when short and made of safe characters, so it cannot inject
 * anything into logs or headers. */
static bool valid_request_id(const char *s, size_t len)
{
    if (len == 0 || len > 128)
        return false;
    for (size_t i = 0; i < len; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.' || c == ':'))
            return false;
    }
    return true;
}

static void handle_builtin_health(mc_req_t *req)
{
    mc_respond_json(req, 200, json_pack("{s:s,s:s}", "status", "ok", "service", req->worker->srv->opts.cfg->service));
}

static void handle_builtin_openapi(mc_req_t *req)
{
    const mc_server_opts_t *o = &req->worker->srv->opts;
    if (o->openapi_json == NULL) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "this process has no OpenAPI document");
        return;
    }
    mc_respond_raw(req, 200, "application/json", o->openapi_json, o->openapi_len);
}

void mc_server_handle_ready(mc_req_t *req); /* mc_server.c */

void mc_req_dispatch(mc_worker_t *w, h2o_req_t *h)
{
    mc_req_t *req = calloc(1, sizeof(*req));
    if (req == NULL) {
        h2o_send_error_generic(h, 503, "Service Unavailable", "out of memory", 0);
        return;
    }
    req->h2o = h;
    req->worker = w;
    req->refcnt = 2; /* h2o's side + the answering side */
    req->start_ns = mc_mono_ns();
    h2o_mem_init_pool(&req->pool);
    ++w->inflight;
    struct h2o_side *side = h2o_mem_alloc_shared(&h->pool, sizeof(*side), on_h2o_dispose);
    side->req = req;

    ssize_t hi = h2o_find_header_by_str(&h->headers, H2O_STRLIT("x-request-id"), -1);
    if (hi >= 0 && valid_request_id(h->headers.entries[hi].value.base, h->headers.entries[hi].value.len)) {
        memcpy(req->id, h->headers.entries[hi].value.base, h->headers.entries[hi].value.len);
        req->id[h->headers.entries[hi].value.len] = '\0';
    } else {
        unsigned char rnd[12];
        mc_random_bytes(rnd, sizeof(rnd));
        mc_hex_encode(rnd, sizeof(rnd), req->id);
    }
    /* The trace: the caller's traceparent (and tracestate) or a new one, bound to the
     * request id so that log lines and onward calls carry it. */
    ssize_t ti = h2o_find_header_by_str(&h->headers, H2O_STRLIT("traceparent"), -1);
    ssize_t si = h2o_find_header_by_str(&h->headers, H2O_STRLIT("tracestate"), -1);
    const char *tstate = si >= 0 && h->headers.entries[si].value.len <= MC_TRACESTATE_MAX
                             ? mc_req_strndup(req, h->headers.entries[si].value.base, h->headers.entries[si].value.len)
                             : NULL;
    mc_trace_for_request(ti >= 0 ? h->headers.entries[ti].value.base : NULL, ti >= 0 ? h->headers.entries[ti].value.len : 0,
                         tstate, &req->trace);
    mc_trace_bind(&req->trace_binding, req->id, &req->trace);
    req->method = mc_req_strndup(req, h->method.base, h->method.len);
    req->path_len = h->query_at != SIZE_MAX ? h->query_at : h->path.len;
    req->path = mc_req_strndup(req, h->path.base, req->path_len);

    /* Built-in endpoints first: every process has them, whatever its routes. */
    bool get = h2o_memis(h->method.base, h->method.len, H2O_STRLIT("GET")) ||
               h2o_memis(h->method.base, h->method.len, H2O_STRLIT("HEAD"));
    bool builtin = strcmp(req->path, "/health") == 0 || strcmp(req->path, "/ready") == 0 ||
                   strcmp(req->path, "/openapi.json") == 0;
    if (builtin && !get) {
        mc_req_add_header(req, "allow", "GET, HEAD");
        mc_respond_error(req, MC_ERR_METHOD_NOT_ALLOWED, json_pack("{s:s}", "allow", "GET, HEAD"),
                         "method %s is not allowed here", req->method);
        return;
    }
    if (get && strcmp(req->path, "/health") == 0) {
        handle_builtin_health(req);
        return;
    }
    if (get && strcmp(req->path, "/ready") == 0) {
        if (w->srv->opts.ready != NULL)
            w->srv->opts.ready(req);
        else
            mc_server_handle_ready(req);
        return;
    }
    if (get && strcmp(req->path, "/openapi.json") == 0) {
        handle_builtin_openapi(req);
        return;
    }

    mc_route_match_t m;
    mc_router_match(&w->srv->router, h->method.base, h->method.len, req->path, req->path_len, &m);
    if (m.route == NULL) {
        if (m.path_known) {
            mc_req_add_header(req, "allow", m.allow);
            mc_respond_error(req, MC_ERR_METHOD_NOT_ALLOWED, json_pack("{s:s}", "allow", m.allow),
                             "method %s is not allowed here", req->method);
        } else {
            mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "no such endpoint");
        }
        return;
    }
    req->route = m.route;
    for (size_t i = 0; i < m.nparams; ++i) {
        char *v = h2o_mem_alloc_pool(&req->pool, m.values[i].len + 1);
        if (mc_url_decode(m.values[i].base, m.values[i].len, v, false) < 0) {
            mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "malformed percent-encoding in the path");
            return;
        }
        req->param_names[i] = mc_req_strndup(req, m.names[i].base, m.names[i].len);
        req->param_values[i] = v;
    }
    req->nparams = m.nparams;
    m.route->handler(req);
}
