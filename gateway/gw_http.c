/*
 * GraphQL over HTTP (the GraphQL-over-HTTP draft, audited by graphql-http's 61 audits).
 *
 * Requests: POST with an application/json body {query, operationName, variables,
 * extensions}; GET with the same as URL parameters (variables and extensions as JSON
 * text). Mutations over GET are refused with 405 (Allow: POST), subscriptions over
 * HTTP with a request error (they belong on the WebSocket).
 *
 * Responses: the Accept header chooses application/graphql-response+json or
 * application/json (also for any type, "*" "/" "*", and when Accept is missing); nothing acceptable is
 * 406. With application/json every well-formed request answers 200, errors included;
 * with application/graphql-response+json a request that never executed (syntax,
 * validation, variables, limits) answers 400. Requests that are not well-formed (no
 * JSON, wrong parameter types, no query) answer 400 either way, unsupported request
 * bodies 415, oversize ones 413. Every error body is GraphQL-shaped:
 * {"errors":[{"message", "extensions":{"code"}}]}.
 *
 * A browser asking for text/html without a query gets the playground.
 *
 * Documents are parsed and validated once per worker and kept in a small LRU cache
 * keyed by their text (clients send the same few documents over and over); variables
 * and limits are checked per request.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw_apq.h"
#include "gw_gateway.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "mc_log.h"
#include "mc_util.h"

typedef enum media {
    MEDIA_NONE,
    MEDIA_GQL,  /* application/graphql-response+json */
    MEDIA_JSON, /* application/json */
    MEDIA_HTML, /* text/html: the playground */
} media_t;

static const char CT_GQL[] = "application/graphql-response+json; charset=utf-8";
static const char CT_JSON[] = "application/json; charset=utf-8";

/* --- the document cache ---------------------------------------------------------------------- */

typedef struct gw_doc {
    gql_document *doc;
    gql_schema *schema; /* validated against (a reference: a freed schema's address could come back) */
    char *text;
    size_t len;
    uint32_t hash;
    int refs;    /* the cache's own + one per request using it */
    bool cached;
    struct gw_doc *prev, *next, *hnext;
} gw_doc_t;

typedef struct gw_doccache {
    gw_doc_t **table;
    uint32_t cap, count, capacity;
    size_t bytes; /* text of the cached documents */
    gw_doc_t *head, *tail; /* most recently used first */
} gw_doccache_t;

/* Documents longer than this are parsed every time rather than cached. */
#define GW_DOCCACHE_MAX_TEXT (64u * 1024)
/* The cache's text in all: a parsed document is a few times its text, so this bounds
 * the cache's memory whatever sizes the clients send (GATEWAY_DOCUMENT_CACHE bounds the
 * count). */
#define GW_DOCCACHE_MAX_BYTES (16u << 20)

void *gw_doccache_create(unsigned capacity)
{
    gw_doccache_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return NULL;
    c->capacity = capacity;
    c->cap = 16;
    while (c->cap < capacity * 2)
        c->cap *= 2;
    c->table = calloc(c->cap, sizeof(*c->table));
    return c;
}

static void doc_release(gw_doc_t *d)
{
    if (--d->refs > 0)
        return;
    gql_document_free(d->doc);
    gql_schema_unref(d->schema);
    free(d->text);
    free(d);
}

static void lru_unlink(gw_doccache_t *c, gw_doc_t *d)
{
    if (d->prev != NULL)
        d->prev->next = d->next;
    else
        c->head = d->next;
    if (d->next != NULL)
        d->next->prev = d->prev;
    else
        c->tail = d->prev;
    d->prev = d->next = NULL;
}

static void lru_front(gw_doccache_t *c, gw_doc_t *d)
{
    d->next = c->head;
    d->prev = NULL;
    if (c->head != NULL)
        c->head->prev = d;
    c->head = d;
    if (c->tail == NULL)
        c->tail = d;
}

static void cache_remove(gw_doccache_t *c, gw_doc_t *d)
{
    gw_doc_t **pp = &c->table[d->hash & (c->cap - 1)];
    while (*pp != NULL && *pp != d)
        pp = &(*pp)->hnext;
    if (*pp == d)
        *pp = d->hnext;
    lru_unlink(c, d);
    --c->count;
    c->bytes -= d->len;
    d->cached = false;
    doc_release(d);
}

void gw_doccache_free(void *cache)
{
    gw_doccache_t *c = cache;
    if (c == NULL)
        return;
    while (c->head != NULL)
        cache_remove(c, c->head);
    free(c->table);
    free(c);
}

static uint32_t text_hash(const char *s, size_t n)
{
    return mc_fnv1a(MC_FNV1A_INIT, s, n);
}

/* A validated document for the text (a new reference), or NULL with errors. */
static gw_doc_t *get_document(gw_doccache_t *c, const gw_gateway_t *g, const gql_schema *schema, const char *text,
                              size_t len, gql_errors *errs)
{
    uint32_t hash = text_hash(text, len);
    if (c != NULL && c->cap > 0) {
        for (gw_doc_t *d = c->table[hash & (c->cap - 1)]; d != NULL; d = d->hnext) {
            if (d->hash != hash || d->len != len || memcmp(d->text, text, len) != 0)
                continue;
            if (d->schema != schema) { /* the schema was reloaded: validate again */
                cache_remove(c, d);
                break;
            }
            lru_unlink(c, d);
            lru_front(c, d);
            ++d->refs;
            gw_metrics_count(GW_C_DOC_HIT);
            return d;
        }
    }
    gql_parse_options po;
    memset(&po, 0, sizeof(po));
    po.max_tokens = g->cfg.limits.max_tokens;
    po.copy_source = true;
    po.arena_limit = 64u << 20;
    gw_metrics_count(GW_C_DOC_MISS);
    gql_document *doc = gql_parse(text, len, &po, errs);
    if (doc == NULL) {
        gw_limits_mark_tokens(&g->cfg, errs);
        return NULL;
    }
    gql_validate_options vo = gw_limits_validate_options(&g->cfg);
    if (gql_validate(schema, doc, &vo, errs) != 0) {
        if (!g->cfg.introspection)
            gw_limits_count_introspection(errs);
        gql_document_free(doc);
        return NULL;
    }
    gw_doc_t *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        gql_document_free(doc);
        gql_errors_add(errs, "Out of memory.");
        return NULL;
    }
    d->doc = doc;
    d->schema = gql_schema_ref((gql_schema *)schema);
    d->hash = hash;
    d->len = len;
    d->refs = 1;
    if (c != NULL && c->capacity > 0 && len <= GW_DOCCACHE_MAX_TEXT && (d->text = malloc(len + 1)) != NULL) {
        memcpy(d->text, text, len);
        d->text[len] = '\0';
        while (c->tail != NULL && (c->count >= c->capacity || c->bytes + len > GW_DOCCACHE_MAX_BYTES))
            cache_remove(c, c->tail);
        d->hnext = c->table[hash & (c->cap - 1)];
        c->table[hash & (c->cap - 1)] = d;
        lru_front(c, d);
        ++c->count;
        c->bytes += len;
        d->cached = true;
        ++d->refs;
    }
    return d;
}

/* Drops a document from the cache (a document over a limit: clients that send it get the
 * same refusal, and thousands of distinct refused documents must not fill the cache). */
static void doc_forget(gw_doccache_t *c, gw_doc_t *d)
{
    if (c != NULL && d->cached)
        cache_remove(c, d);
}

/* --- negotiation ------------------------------------------------------------------------------ */

/* The media type to answer with, from the Accept header (q-values honoured; on a tie
 * graphql-response+json, then JSON, then HTML). */
static media_t negotiate(const char *accept)
{
    if (accept == NULL)
        return MEDIA_JSON;
    media_t best = MEDIA_NONE;
    double bestq = 0;
    bool any = false;
    const char *p = accept;
    while (*p != '\0') {
        const char *end = strchr(p, ',');
        size_t n = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *semi = memchr(p, ';', n);
        size_t tl = semi != NULL ? (size_t)(semi - p) : n;
        while (tl > 0 && (*p == ' ' || *p == '\t')) {
            ++p;
            --tl;
            --n;
        }
        while (tl > 0 && (p[tl - 1] == ' ' || p[tl - 1] == '\t'))
            --tl;
        double q = 1;
        for (const char *s = semi; s != NULL && s < p + n;) {
            ++s;
            while (*s == ' ' || *s == '\t')
                ++s;
            if ((s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
                q = strtod(s + 2, NULL);
            s = memchr(s, ';', (size_t)(p + n - s));
        }
        if (tl > 0)
            any = true;
        media_t m = MEDIA_NONE;
        if (tl == 33 && strncasecmp(p, "application/graphql-response+json", 33) == 0)
            m = MEDIA_GQL;
        else if ((tl == 16 && strncasecmp(p, "application/json", 16) == 0) ||
                 (tl == 13 && strncasecmp(p, "application/*", 13) == 0) || (tl == 3 && strncmp(p, "*/*", 3) == 0))
            m = MEDIA_JSON;
        else if (tl == 9 && strncasecmp(p, "text/html", 9) == 0)
            m = MEDIA_HTML;
        if (m != MEDIA_NONE && q > 0 && (q > bestq || (q == bestq && m < best))) {
            best = m;
            bestq = q;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return any ? best : MEDIA_JSON;
}

/* --- answers ------------------------------------------------------------------------------------- */

static const char *content_type(media_t m)
{
    return m == MEDIA_GQL ? CT_GQL : CT_JSON;
}

/* A request that is not well-formed: the status given, a GraphQL-shaped body. */
static void respond_problem(mc_req_t *req, media_t m, int status, const char *code, const char *msg)
{
    json_t *body = json_pack("{s:[{s:s,s:{s:s}}]}", "errors", "message", msg, "extensions", "code", code);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    mc_respond_raw(req, status, content_type(m == MEDIA_NONE ? MEDIA_JSON : m), s, strlen(s));
    free(s);
}

/* Errors before execution: 400 with graphql-response+json, 200 with application/json. */
static void respond_request_errors(mc_req_t *req, media_t m, gql_errors *errs)
{
    const gw_gateway_t *g = mc_server_data(mc_req_server(req));
    if (!g->cfg.suggestions)
        gw_errors_hide_suggestions(errs);
    gw_errors_default_code(errs, "BAD_USER_INPUT");
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_buf_puts(&out, "{\"errors\":");
    gql_errors_write_json(errs, &out, false);
    gql_buf_putc(&out, '}');
    mc_respond_raw(req, m == MEDIA_GQL ? 400 : 200, content_type(m), out.data, out.len);
    gql_buf_free(&out);
}

/* --- one request -------------------------------------------------------------------------------- */

/* A GraphQL request from the moment its document is known until it is answered: it may
 * wait for the rate limiter (Redis) and then for the services. */
typedef struct gw_request {
    mc_req_t *req;
    media_t media;
    gw_doc_t *doc;
    gw_schema_t *schema; /* a reference, while the request waits for the rate limiter */
    json_t *params;
    json_t *variables;
    uint64_t start_ns;
    const char *op_name; /* for the metrics and the access log: "" when anonymous */
    const char *op_type; /* "query", "mutation" */
    uint64_t cost;       /* gql_limits' estimate: what the cost limit charges */
    bool is_get;
    /* Deduplication: a leader runs the query; followers (identical queries that came
     * while it ran) wait for its answer. */
    char doc_hash[65];              /* SHA-256 of the document's text ("" when not needed) */
    char *dedup_key;                /* the leader's key in the worker's table */
    struct gw_request *followers;   /* the leader's */
    struct gw_request *next_follower;
} gw_request_t;

/* Counts a finished GraphQL request in the metrics and its access-log line (so: before it
 * is answered, which writes that line). operation is NULL when the document never
 * validated. */
static void account(mc_req_t *req, uint64_t start_ns, const char *operation, const char *type, gw_outcome_t outcome)
{
    gw_metrics_request(operation, type, outcome, mc_mono_ns() - start_ns);
    gw_metrics_inflight(-1);
    mc_req_log_set(req, "outcome", json_string(gw_outcome_name(outcome)));
    if (operation != NULL && *operation != '\0') {
        json_t *v = json_string(operation);
        if (v != NULL)
            mc_req_log_set(req, "operation", v);
    }
}

/* The operation may stop only when the leader's client and every follower's are gone. */
static bool request_gone(void *data)
{
    gw_request_t *r = data;
    if (!mc_req_gone(r->req))
        return false;
    for (gw_request_t *f = r->followers; f != NULL; f = f->next_follower)
        if (!mc_req_gone(f->req))
            return false;
    return true;
}

static void request_free(gw_request_t *r)
{
    free(r->dedup_key);
    if (r->doc != NULL)
        doc_release(r->doc);
    gw_schema_unref(r->schema);
    json_decref(r->params);
    json_decref(r->variables);
    free(r);
}

/* Gives every follower of a leader the leader's answer (body NULL: an error of that
 * status), and frees them. */
static void answer_followers(gw_request_t *leader, int status, const char *body, size_t len, gw_outcome_t outcome)
{
    while (leader->followers != NULL) {
        gw_request_t *f = leader->followers;
        leader->followers = f->next_follower;
        mc_req_t *req = f->req;
        if (mc_req_gone(req)) {
            account(req, f->start_ns, f->op_name, f->op_type, GW_OUTCOME_ABORTED);
        } else {
            account(req, f->start_ns, f->op_name, f->op_type, outcome);
            mc_req_log_set(req, "deduplicatedWith", json_string(mc_req_id(leader->req)));
            if (body != NULL)
                mc_respond_raw(req, status, content_type(f->media), body, len);
            else
                respond_problem(req, f->media, status, status == 499 ? "BAD_USER_INPUT" : "INTERNAL",
                                status == 499 ? "the client went away" : "the response is larger than the gateway sends");
        }
        request_free(f);
        mc_req_release(req);
    }
}

static void on_done(gw_op_t *op, void *data)
{
    gw_request_t *r = data;
    const gw_gateway_t *g = mc_server_data(mc_req_server(r->req));
    gql_exec *e = gw_op_exec(op);
    bool has_data = gql_exec_has_data(e);
    mc_req_log_set(r->req, "upstreamCalls", json_integer((json_int_t)gw_op_calls(op)));
    if (mc_log_enabled(MC_LOG_DEBUG))
        mc_log_json(MC_LOG_DEBUG, mc_req_id(r->req), json_pack("{s:i}", "upstream_calls", (int)gw_op_calls(op)),
                    "operation done");
    if (r->dedup_key != NULL) { /* later identical queries run on their own */
        gw_worker_t *w = mc_worker_data(mc_req_worker(r->req));
        if (w != NULL && w->inflight != NULL)
            json_object_del(w->inflight, r->dedup_key);
    }
    if (gw_op_aborted(op)) {
        account(r->req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_ABORTED);
        respond_problem(r->req, r->media, 499, "BAD_USER_INPUT", "the client went away");
        answer_followers(r, 499, NULL, 0, GW_OUTCOME_ABORTED);
    } else {
        gql_errors *errs = (gql_errors *)gql_exec_errors(e);
        if (!g->cfg.suggestions)
            gw_errors_hide_suggestions(errs); /* variables' coercion messages suggest too */
        gw_errors_default_code(errs, has_data ? "INTERNAL" : "BAD_USER_INPUT");
        gql_buf out;
        gql_buf_init(&out, 0);
        if (gql_exec_write_response(e, &out) != 0) {
            account(r->req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_FAILED);
            respond_problem(r->req, r->media, 500, "INTERNAL", "the response is larger than the gateway sends");
            answer_followers(r, 500, NULL, 0, GW_OUTCOME_FAILED);
        } else {
            gw_outcome_t outcome = !has_data         ? GW_OUTCOME_FAILED
                                   : errs->count > 0 ? GW_OUTCOME_PARTIAL
                                                     : GW_OUTCOME_SUCCESS;
            account(r->req, r->start_ns, r->op_name, r->op_type, outcome);
            int status = r->media == MEDIA_GQL && !has_data ? 400 : 200;
            mc_respond_raw(r->req, status, content_type(r->media), out.data, out.len);
            answer_followers(r, status, out.data, out.len, outcome);
        }
        gql_buf_free(&out);
    }
    gw_op_free(op);
    request_free(r);
}

/* Reads the parameters of a GET into a JSON object like a POST body. -1 after answering. */
static json_t *get_params(mc_req_t *req, media_t m)
{
    json_t *p = json_object();
    static const char *const names[] = {"query", "operationName", "variables", "extensions"};
    for (size_t i = 0; i < 4; ++i) {
        size_t n;
        const char **vals = mc_req_query_all(req, names[i], &n);
        if (n > 1) {
            json_decref(p);
            char msg[96];
            snprintf(msg, sizeof(msg), "the parameter %s is given more than once", names[i]);
            respond_problem(req, m, 400, "BAD_USER_INPUT", msg);
            return NULL;
        }
        if (n == 0)
            continue;
        if (i < 2) {
            json_t *s = json_string(vals[0]);
            if (s == NULL) {
                json_decref(p);
                respond_problem(req, m, 400, "BAD_USER_INPUT", "a parameter is not valid UTF-8");
                return NULL;
            }
            json_object_set_new(p, names[i], s);
            continue;
        }
        json_error_t jerr;
        json_t *v = json_loads(vals[0], JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
        if (v == NULL) {
            json_decref(p);
            char msg[320];
            snprintf(msg, sizeof(msg), "the parameter %s is not JSON: %s", names[i], jerr.text);
            respond_problem(req, m, 400, "BAD_USER_INPUT", msg);
            return NULL;
        }
        json_object_set_new(p, names[i], v);
    }
    return p;
}

/* True when the request body is declared as JSON (charset utf-8 or none). */
static bool json_content_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    size_t t = n;
    while (t > 0 && (ct[t - 1] == ' ' || ct[t - 1] == '\t'))
        --t;
    if (!(t == 16 && strncasecmp(ct, "application/json", 16) == 0))
        return false;
    for (const char *s = ct + n; *s == ';';) {
        ++s;
        while (*s == ' ' || *s == '\t')
            ++s;
        if (strncasecmp(s, "charset=", 8) == 0) {
            const char *v = s + 8;
            size_t vl = strcspn(v, "; \t");
            if (!((vl == 5 && strncasecmp(v, "utf-8", 5) == 0) || (vl == 7 && strncasecmp(v, "\"utf-8\"", 7) == 0)))
                return false;
        }
        s = strchr(s, ';');
        if (s == NULL)
            break;
    }
    return true;
}

static json_t *post_params(mc_req_t *req, media_t m)
{
    const mc_config_t *cfg = mc_server_config(mc_req_server(req));
    size_t len;
    const char *body = mc_req_body(req, &len);
    const char *ct = mc_req_header(req, "content-type");
    if (len > cfg->max_body_bytes) {
        char msg[96];
        snprintf(msg, sizeof(msg), "the request body is larger than %zu bytes", cfg->max_body_bytes);
        respond_problem(req, m, 413, "BAD_USER_INPUT", msg);
        return NULL;
    }
    if (ct == NULL || !json_content_type(ct)) {
        mc_req_add_header(req, "accept-post", "application/json");
        respond_problem(req, m, 415, "BAD_USER_INPUT",
                        ct == NULL ? "the request body must be declared as Content-Type: application/json"
                                   : "the request body must be application/json (UTF-8)");
        return NULL;
    }
    if (len == 0) {
        respond_problem(req, m, 400, "BAD_USER_INPUT", "the request body is missing");
        return NULL;
    }
    json_error_t jerr;
    json_t *v = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
    if (v == NULL) {
        char msg[320];
        snprintf(msg, sizeof(msg), "the request body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        respond_problem(req, m, 400, "BAD_USER_INPUT", msg);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        respond_problem(req, m, 400, "BAD_USER_INPUT", "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

/* Deduplication of identical queries in flight (per worker). Two queries are identical
 * when their document text, operation name, variables (keys sorted), Authorization header
 * and answer media type are: the same caller asking the same thing, so one execution's
 * answer is the answer to both. Mutations never share. Returns true when r became a
 * follower of a query already running (it is answered with it); otherwise r is
 * registered as a leader when it can be and false is returned. */
static bool follow_identical(gw_worker_t *w, gw_request_t *r, const char *authz)
{
    json_t *opname = json_object_get(r->params, "operationName");
    char *vars = r->variables != NULL ? json_dumps(r->variables, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    gql_buf key;
    gql_buf_init(&key, 0);
    int rc = gql_buf_printf(&key, "%d\x1f%s\x1f%s\x1f%s\x1f", (int)r->media, authz != NULL ? authz : "",
                            json_is_string(opname) ? json_string_value(opname) : "", vars != NULL ? vars : "");
    free(vars);
    if (rc != 0 || gql_buf_puts(&key, r->doc_hash) != 0) { /* a key cut short could match another's */
        gql_buf_free(&key);
        return false;
    }
    if (w->inflight == NULL)
        w->inflight = json_object();
    json_t *v = w->inflight != NULL ? json_object_get(w->inflight, gql_buf_cstr(&key)) : NULL;
    if (v != NULL) {
        gw_request_t *leader = (gw_request_t *)(intptr_t)json_integer_value(v);
        r->next_follower = leader->followers;
        leader->followers = r;
        mc_req_retain(r->req); /* released when answered */
        gw_schema_unref(r->schema);
        r->schema = NULL;
        gw_metrics_count(GW_C_DEDUPED);
        gql_buf_free(&key);
        return true;
    }
    if (w->inflight != NULL &&
        json_object_set_new_nocheck(w->inflight, gql_buf_cstr(&key), json_integer((json_int_t)(intptr_t)r)) == 0)
        r->dedup_key = gql_buf_steal(&key, NULL);
    gql_buf_free(&key);
    return false;
}

/* Hands the request to the services (gw_op). */
static void start_operation(gw_request_t *r)
{
    mc_req_t *req = r->req;
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    gw_worker_t *w = mc_worker_data(mc_req_worker(req));
    const char *why = NULL;
    const mc_claims_t *claims = mc_req_claims(req, &why);
    const char *authz = claims != NULL ? mc_req_header(req, "authorization") : NULL;
    json_t *opname = json_object_get(r->params, "operationName");
    const char *op_name = json_is_string(opname) ? json_string_value(opname) : NULL;
    if (g->cfg.deduplicate && w != NULL && r->doc_hash[0] != '\0' && follow_identical(w, r, authz))
        return;
    gw_schema_t *schema = r->schema;
    r->schema = NULL; /* gw_op takes its own reference; ours goes at the end */
    gw_op_opts_t oo = {
        .w = w,
        .schema = schema,
        .doc = r->doc->doc,
        .operation_name = op_name != NULL ? mc_req_strndup(req, op_name, strlen(op_name)) : NULL,
        .variables = r->variables,
        .claims = claims,
        .unauthenticated_why = why,
        .authorization = authz,
        .request_id = mc_req_id(req),
        .client_address = gw_client_address(req, &g->cfg),
        .internal_key = mc_server_config(mc_req_server(req))->internal_key,
        .deadline_ns = r->start_ns + (uint64_t)g->cfg.request_timeout_ms * 1000000u,
        .done = on_done,
        .gone = request_gone,
        .data = r,
    };
    gw_op_start(&oo);
    gw_schema_unref(schema);
}

/* The rate limiter's verdict (maybe on a later loop iteration: Redis answered). */
static void on_rate_checked(const gw_rl_result_t *res, void *data)
{
    gw_request_t *r = data;
    mc_req_t *req = r->req;
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    if (mc_req_gone(req)) {
        account(req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_ABORTED);
        request_free(r);
        mc_req_release(req);
        return;
    }
    gw_ratelimit_headers(g->ratelimit, res, req);
    if (res->allowed) {
        start_operation(r);
        mc_req_release(req);
        return;
    }
    json_t *ext;
    char msg[256];
    int status;
    if (res->unavailable) {
        status = 503;
        snprintf(msg, sizeof(msg), "Rate limits cannot be checked right now; try again shortly.");
        ext = json_pack("{s:s}", "code", "RATE_LIMITED");
    } else {
        status = 429;
        int p = res->refused_by == GW_RL_COST ? GW_RL_COST : GW_RL_REQUESTS;
        const gw_rl_policy_t *pol = &g->cfg.ratelimit.policy[p];
        if (p == GW_RL_COST)
            snprintf(msg, sizeof(msg),
                     "Too many requests: this operation costs %llu and the cost limit (%llu per %u s) is spent; "
                     "retry in %u s.",
                     (unsigned long long)r->cost, (unsigned long long)pol->quota, pol->window_s, res->retry_after_s);
        else
            snprintf(msg, sizeof(msg), "Too many requests: the request limit (%llu per %u s) is spent; retry in %u s.",
                     (unsigned long long)pol->quota, pol->window_s, res->retry_after_s);
        ext = json_pack("{s:s,s:s,s:i}", "code", "RATE_LIMITED", "limit", p == GW_RL_COST ? "cost" : "requests",
                        "retryAfter", (int)res->retry_after_s);
    }
    json_t *body = json_pack("{s:[{s:s,s:o}]}", "errors", "message", msg, "extensions", ext);
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    account(req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_RATE_LIMITED);
    mc_respond_raw(req, status, content_type(r->media), s, strlen(s));
    free(s);
    request_free(r);
    mc_req_release(req);
}

/* The request's document is known (text, len): parse and validate it (or find it in the
 * cache), check the operation and the limits, then the rate limits, then run it. hash,
 * when set, registers the document as a persisted query once it validated. Answers the
 * request or hands it on; r is freed or owned by what follows. */
static void run_document(gw_request_t *r, const char *text, size_t len, const char *hash)
{
    mc_req_t *req = r->req;
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    gw_worker_t *w = mc_worker_data(mc_req_worker(req));
    media_t m = r->media;
    json_t *opname = json_object_get(r->params, "operationName");
    json_t *vars = json_object_get(r->params, "variables");
    const char *op_name = json_is_string(opname) ? json_string_value(opname) : NULL;
    gw_schema_t *schema = gw_gateway_schema(g);
    gql_errors errs;
    gql_errors_init(&errs);
    gw_doc_t *doc = get_document(w != NULL ? w->docs : NULL, g, schema->gql, text, len, &errs);
    if (doc == NULL) {
        account(req, r->start_ns, NULL, NULL, GW_OUTCOME_INVALID);
        respond_request_errors(req, m, &errs);
        goto Fail;
    }
    if (hash != NULL)
        gw_apq_register(&g->cfg.apq, w != NULL ? w->apq : NULL, mc_worker_redis(mc_req_worker(req)), hash, text, len);
    r->doc = doc;
    const gql_operation_node *op = gw_select_operation(doc->doc, op_name);
    /* The operation's name and type for the metrics and the access log. */
    if (op != NULL) {
        r->op_name = op->name.s != NULL ? mc_req_strndup(req, op->name.s, op->name.len) : "";
        r->op_type = op->operation == GQL_OP_MUTATION       ? "mutation"
                     : op->operation == GQL_OP_SUBSCRIPTION ? "subscription"
                                                            : "query";
    }
    if (op != NULL && op->operation == GQL_OP_MUTATION && r->is_get) {
        mc_req_add_header(req, "allow", "POST");
        account(req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_INVALID);
        respond_problem(req, m, 405, "BAD_USER_INPUT", "mutations are sent with POST");
        goto Fail;
    }
    if (op != NULL && op->operation == GQL_OP_SUBSCRIPTION) {
        gql_errors_add(&errs, "Subscriptions are served over WebSocket (graphql-transport-ws) at this URL.");
        account(req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_INVALID);
        respond_request_errors(req, m, &errs);
        goto Fail;
    }
    r->variables = json_is_object(vars) ? json_incref(vars) : NULL;
    if (g->cfg.deduplicate && op != NULL && op->operation == GQL_OP_QUERY)
        gw_sha256_hex(text, len, r->doc_hash); /* names the query for deduplication */
    gql_operation_stats st;
    memset(&st, 0, sizeof(st));
    if (gw_limits_apply(&g->cfg, schema->gql, doc->doc, op_name, r->variables, &st, &errs) != 0) {
        doc_forget(w != NULL ? w->docs : NULL, doc);
        account(req, r->start_ns, r->op_name, r->op_type, GW_OUTCOME_INVALID);
        respond_request_errors(req, m, &errs);
        goto Fail;
    }
    gql_errors_free(&errs);
    r->cost = st.cost;
    r->schema = schema;
    if (!gw_ratelimit_enabled(g->ratelimit)) {
        start_operation(r);
    } else {
        const char *why = NULL;
        char identity[300];
        gw_ratelimit_identity(mc_req_claims(req, &why), gw_client_address(req, &g->cfg), identity, sizeof(identity));
        mc_req_retain(req); /* released by on_rate_checked */
        gw_ratelimit_check(g->ratelimit, mc_worker_redis(mc_req_worker(req)), identity, st.cost < 1 ? 1 : st.cost,
                           on_rate_checked, r);
    }
    return;
Fail:
    gql_errors_free(&errs);
    gw_schema_unref(schema);
    request_free(r);
}

/* gw_apq_resolve's answer: the document, or why there is none. */
static void on_document(const gw_apq_result_t *res, void *data)
{
    gw_request_t *r = data;
    mc_req_t *req = r->req;
    if (mc_req_gone(req)) {
        account(req, r->start_ns, NULL, NULL, GW_OUTCOME_ABORTED);
        request_free(r);
        mc_req_release(req);
        return;
    }
    switch (res->status) {
    case GW_APQ_PLAIN:
    case GW_APQ_FOUND:
    case GW_APQ_REGISTER:
        run_document(r, res->text, res->len, res->status == GW_APQ_REGISTER ? res->hash : NULL);
        break;
    default: {
        /* Apollo's clients read PersistedQueryNotFound from a 200 answer; with
         * graphql-response+json a request that never ran is a 400 like any other. */
        int status = res->http_status == 200 && r->media == MEDIA_GQL ? 400 : res->http_status;
        account(req, r->start_ns, NULL, NULL, GW_OUTCOME_INVALID);
        respond_problem(req, r->media, status, res->code, res->message);
        request_free(r);
        break;
    }
    }
    mc_req_release(req);
}

static const char CSRF_MESSAGE[] =
    "This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Send it with a "
    "Content-Type header other than application/x-www-form-urlencoded, multipart/form-data or text/plain, or "
    "with a non-empty Apollo-Require-Preflight or X-Apollo-Operation-Name header.";

void gw_handle_graphql(mc_req_t *req)
{
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    gw_worker_t *w = mc_worker_data(mc_req_worker(req));
    bool is_get = strcmp(mc_req_method(req), "GET") == 0;
    media_t m = negotiate(mc_req_header(req, "accept"));
    gw_cors_apply(&g->cfg.cors, req);

    if (is_get && m == MEDIA_HTML && mc_req_query(req, "query") == NULL) {
        if (g->cfg.playground && g->assets_loaded) {
            gw_playground_page(req);
            return;
        }
        m = MEDIA_NONE;
    }
    uint64_t start_ns = mc_mono_ns();
    gw_metrics_inflight(1);
    if (m == MEDIA_NONE || m == MEDIA_HTML) {
        account(req, start_ns, NULL, NULL, GW_OUTCOME_INVALID);
        respond_problem(req, MEDIA_JSON, 406, "BAD_USER_INPUT",
                        "this endpoint answers application/graphql-response+json or application/json");
        return;
    }
    /* Before anything is read: a GET a browser could have sent without a preflight. */
    if (is_get && !gw_csrf_ok(&g->cfg.cors, mc_req_header(req, "content-type"),
                              mc_req_header(req, "apollo-require-preflight"),
                              mc_req_header(req, "x-apollo-operation-name"))) {
        gw_metrics_count(GW_C_CSRF);
        account(req, start_ns, NULL, NULL, GW_OUTCOME_INVALID);
        respond_problem(req, m, 400, "BAD_USER_INPUT", CSRF_MESSAGE);
        return;
    }
    json_t *params = is_get ? get_params(req, m) : post_params(req, m);
    if (params == NULL) {
        account(req, start_ns, NULL, NULL, GW_OUTCOME_INVALID);
        return;
    }

    json_t *query = json_object_get(params, "query");
    json_t *opname = json_object_get(params, "operationName");
    json_t *vars = json_object_get(params, "variables");
    json_t *ext = json_object_get(params, "extensions");
    json_t *pq = json_object_get(ext, "persistedQuery");
    bool persisted = pq != NULL && !json_is_null(pq);
    if (persisted && json_is_null(query))
        query = NULL; /* {"query": null} with a hash: as absent */
    const char *problem = NULL;
    if (query == NULL && !persisted)
        problem = "the query parameter is missing";
    else if (query != NULL && !json_is_string(query))
        problem = "the query parameter must be a string";
    else if (opname != NULL && !json_is_null(opname) && !json_is_string(opname))
        problem = "operationName must be a string or null";
    else if (vars != NULL && !json_is_null(vars) && !json_is_object(vars))
        problem = "variables must be an object or null";
    else if (ext != NULL && !json_is_null(ext) && !json_is_object(ext))
        problem = "extensions must be an object or null";
    if (problem != NULL) {
        json_decref(params);
        account(req, start_ns, NULL, NULL, GW_OUTCOME_INVALID);
        respond_problem(req, m, 400, "BAD_USER_INPUT", problem);
        return;
    }

    gw_request_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        abort();
    r->req = req;
    r->media = m;
    r->params = params;
    r->start_ns = start_ns;
    r->is_get = is_get;
    /* The document: the query, or the one a persisted-query hash names (maybe from
     * Redis, so maybe later). */
    mc_req_retain(req); /* released by on_document */
    gw_trusted_t *trusted = gw_gateway_trusted(g);
    gw_apq_resolve(&g->cfg.apq, trusted, w != NULL ? w->apq : NULL, mc_worker_redis(mc_req_worker(req)), query,
                   json_is_object(ext) ? ext : NULL, on_document, r);
    gw_trusted_unref(trusted);
}
