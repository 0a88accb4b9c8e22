/*
 * Implementation of gw_op.h.
 *
 * Data, all in the operation's arena unless said otherwise:
 *   call     one upstream HTTP call; GET calls are kept in a hash table by
 *            "METHOD URL\nBODY" so identical ones are made once. Its parsed answer
 *            lives until the operation ends (later identical fields reuse it).
 *   waiter   what waits on a call: a field's ticket (@http) or a batch chunk.
 *   group    a batch endpoint (service, path after templates, key parameter, match
 *            and select): its entries, one per key, are the operation's loader cache.
 *   entry    one key of a group: queued (not sent yet), in flight, or done (the
 *            matched item, null when missing, or the call's failure).
 *   twaiter  a ticket waiting on one entry (or several, for a list of keys).
 *
 * JSON values the operation holds (answers, built values) are kept in `keep`, one
 * array released at the end; values handed to the engine are new references.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw_jalloc.h"
#include "gw_json.h"
#include "gw_op.h"
#include "gw_scalars.h"
#include "mc_error.h"
#include "mc_log.h"
#include "mc_util.h"

#define GW_MAX_URL 8000
#define GW_MAX_BODY (1u << 20)

typedef struct gw_call gw_call_t;
typedef struct gw_group gw_group_t;
typedef struct gw_entry gw_entry_t;

/* A failure to report on a field: message and extensions (with code). */
typedef struct gw_fail {
    const char *message;
    json_t *ext; /* held by the op's keep array */
} gw_fail_t;

typedef struct gw_twaiter {
    gql_ticket *t;
    const gw_field_t *f;
    bool list;
    uint32_t n, remaining;
    gw_entry_t **entries;
} gw_twaiter_t;

typedef struct gw_link {
    gw_twaiter_t *w;
    struct gw_link *next;
} gw_link_t;

enum { ENTRY_QUEUED, ENTRY_INFLIGHT, ENTRY_DONE };

struct gw_entry {
    const char *key;
    uint32_t keylen, hash;
    uint8_t state;
    json_t *item;        /* borrowed from a kept answer; NULL = not found */
    const gw_fail_t *fail; /* the call failed */
    gw_link_t *waiters;
    gw_entry_t *next_queued;
};

struct gw_group {
    gw_group_t *next;
    const gw_batch_t *b;
    const char *base; /* URL up to the keys: "http://…/api/categories/batch?ids=" */
    gw_entry_t **table;
    uint32_t cap, count;
    gw_entry_t *qhead, *qtail;
    uint32_t nqueued;
};

typedef struct gw_chunk {
    gw_group_t *g;
    gw_entry_t **entries;
    uint32_t n;
} gw_chunk_t;

typedef struct gw_waiter {
    struct gw_waiter *next;
    gql_ticket *t;      /* a field, or NULL for a chunk */
    const gw_field_t *f;
    gw_chunk_t *chunk;
} gw_waiter_t;

struct gw_call {
    gw_op_t *op;
    gw_call_t *next_all, *next_hash;
    const char *key;
    uint32_t keylen, hash;
    unsigned service;
    gw_up_call_t *h;
    bool done;
    int status;
    json_t *body; /* parsed answer (kept), NULL when empty */
    gw_fail_t fail; /* message NULL: success */
    gw_waiter_t *waiters;
};

struct gw_op {
    gw_worker_t *w;
    gw_schema_t *schema;
    gql_exec *exec;
    gql_arena arena;
    gw_jarena_t jarena; /* the parsed answers */
    json_t *keep;
    json_t *root;
    json_t *auth; /* {"sub","role"} or NULL */
    mc_claims_t claims;
    bool has_claims;
    const char *why;
    char *authorization;
    char *request_id;
    char *client_address;
    const char *internal_key;
    uint64_t deadline_ns;
    gw_call_t **table;
    uint32_t tcap, tcount;
    gw_call_t *calls;
    unsigned ncalls, inflight;
    gw_group_t *groups;
    bool queued, done, aborted, running, starting;
    gw_op_t *next_run;
    void (*done_cb)(gw_op_t *, void *);
    bool (*gone)(void *);
    void *data;
};

static void schedule(gw_op_t *op);

/* --- small helpers -------------------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    return mc_fnv1a(MC_FNV1A_INIT, s, n);
}

static json_t *keep(gw_op_t *op, json_t *v)
{
    if (v != NULL)
        json_array_append_new(op->keep, v);
    return v;
}

static const char *astrdup(gw_op_t *op, const char *s, size_t n)
{
    return gql_arena_strndup(&op->arena, s, n);
}

static const gw_fail_t *make_fail(gw_op_t *op, const char *code, json_t *more, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static const gw_fail_t *make_fail(gw_op_t *op, const char *code, json_t *more, const char *fmt, ...)
{
    gw_fail_t *f = gql_arena_calloc(&op->arena, 1, sizeof(*f));
    va_list ap;
    va_start(ap, fmt);
    f->message = gql_arena_vprintf(&op->arena, fmt, ap);
    va_end(ap);
    json_t *ext = json_pack("{s:s}", "code", code);
    if (more != NULL) {
        json_object_update(ext, more);
        json_decref(more);
    }
    f->ext = keep(op, ext);
    return f;
}

static void ticket_fail(gql_ticket *t, const gw_fail_t *f)
{
    gql_ticket_fail(t, f->message != NULL ? f->message : "failed", json_incref(f->ext));
}

static void out_fail(gql_resolution *out, const gw_fail_t *f)
{
    out->error = f->message;
    out->extensions = json_incref(f->ext);
}

static const char *service_name(const gw_op_t *op, unsigned svc)
{
    return op->schema->services.s[svc].name;
}

/* --- values the parent already holds ------------------------------------------------------- */

/* An enum value (or list of them) in the service's spelling → GraphQL names. */
static int map_enum(gw_op_t *op, const gw_field_t *f, json_t *v, json_t **out, const gw_fail_t **fail)
{
    if (v == NULL || json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (json_is_array(v)) {
        json_t *arr = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            json_t *m;
            if (map_enum(op, f, item, &m, fail) != 0) {
                json_decref(arr);
                return -1;
            }
            json_array_append_new(arr, m != NULL ? m : json_null());
        }
        *out = arr;
        return 0;
    }
    const char *name = json_is_string(v) ? gw_enum_from_rest(f->out_enum, json_string_value(v), json_string_length(v))
                                         : NULL;
    if (name == NULL) {
        *fail = make_fail(op, "INTERNAL", NULL, "A service sent a value %s does not know.", f->name);
        return -1;
    }
    *out = json_string(name);
    return 0;
}

/* The Relay connection of a REST list page {items, cursors, totalCount, pageInfo}. */
static int make_connection(gw_op_t *op, const gw_field_t *f, json_t *page, json_t *args, json_t **out,
                           const gw_fail_t **fail)
{
    json_t *items = json_object_get(page, "items");
    json_t *cursors = json_object_get(page, "cursors");
    json_t *pi = json_object_get(page, "pageInfo");
    if (!json_is_array(items)) {
        *fail = make_fail(op, "INTERNAL", NULL, "%s: the service did not answer a list page.", f->name);
        return -1;
    }
    json_t *edges = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        json_t *c = json_array_get(cursors, i);
        json_array_append_new(edges, json_pack("{s:O,s:O}", "cursor", c != NULL ? c : json_null(), "node", item));
    }
    json_t *after = json_object_get(args, "after");
    json_t *end = json_object_get(pi, "endCursor");
    json_t *first = json_array_get(cursors, 0);
    json_t *total = json_object_get(page, "totalCount");
    total = total != NULL ? json_incref(total) : json_integer((json_int_t)json_array_size(items));
    json_t *conn = json_pack("{s:o,s:O,s:{s:b,s:b,s:O,s:O},s:o}", "edges", edges, "nodes", items, "pageInfo",
                             "hasNextPage", json_is_true(json_object_get(pi, "hasNextPage")), "hasPreviousPage",
                             after != NULL && !json_is_null(after), "startCursor", first != NULL ? first : json_null(),
                             "endCursor", end != NULL ? end : json_null(), "totalCount", total);
    *out = conn;
    return 0;
}

/* Applies a field's result shaping to a value (borrowed in, new reference out). What
 * it builds lives in the operation's arena (it dies with the operation). */
static int shape(gw_op_t *op, const gw_field_t *f, json_t *v, json_t *args, json_t **out, const gw_fail_t **fail)
{
    if (v == NULL || json_is_null(v)) {
        *out = NULL;
        return 0;
    }
    if (!f->connection && f->out_enum == NULL) {
        *out = json_incref(v);
        return 0;
    }
    gw_jarena_t *prev = gw_jarena_enter(&op->jarena);
    int r = f->connection ? make_connection(op, f, v, args, out, fail) : map_enum(op, f, v, out, fail);
    gw_jarena_enter(prev);
    return r;
}

/* {amount, currency, formatted}, built in the operation's arena. */
static json_t *make_money(gw_op_t *op, const gw_field_t *f, json_t *parent)
{
    json_t *amount = gw_json_path(parent, f->from, f->nfrom);
    json_t *cur = gw_json_path(parent, f->currency, f->ncurrency);
    if (!json_is_integer(amount) || !json_is_string(cur))
        return NULL;
    char text[96];
    size_t n = gw_money_format_to(json_integer_value(amount), json_string_value(cur), text, sizeof(text));
    gw_jarena_t *prev = gw_jarena_enter(&op->jarena);
    json_t *m = json_object();
    json_object_set_new_nocheck(m, "amount", json_incref(amount));
    json_object_set_new_nocheck(m, "currency", json_incref(cur));
    json_object_set_new_nocheck(m, "formatted", json_stringn_nocheck(text, n));
    gw_jarena_enter(prev);
    return m;
}

/* --- auth ---------------------------------------------------------------------------------- */

static bool auth_ok(gw_op_t *op, const gw_field_t *f, gql_resolution *out)
{
    if (!op->has_claims) {
        const gw_fail_t *fl = make_fail(op, "UNAUTHENTICATED", NULL, "Sign in to read %s (%s).", f->name,
                                        op->why != NULL ? op->why : "no access token");
        out_fail(out, fl);
        return false;
    }
    if (f->roles != 0 && (f->roles & (unsigned)op->claims.role) == 0) {
        char roles[64] = "";
        for (unsigned r = MC_ROLE_CUSTOMER; r <= MC_ROLE_ADMIN; r <<= 1)
            if (f->roles & r) {
                if (roles[0])
                    strncat(roles, " or ", sizeof(roles) - strlen(roles) - 1);
                strncat(roles, mc_role_name((mc_role_t)r), sizeof(roles) - strlen(roles) - 1);
            }
        const gw_fail_t *fl = make_fail(op, "FORBIDDEN", NULL, "%s is only for the role %s.", f->name, roles);
        out_fail(out, fl);
        return false;
    }
    return true;
}

/* --- upstream answers ------------------------------------------------------------------------- */

/* Turns an answer into success or a failure (the REST envelope mapped to GraphQL). */
static void classify(gw_op_t *op, gw_call_t *call, const mc_http_response_t *res)
{
    const char *svc = service_name(op, call->service);
    if (res->err != NULL) {
        call->fail = *make_fail(op, "UPSTREAM_UNAVAILABLE", json_pack("{s:s}", "service", svc),
                                "The %s service is unavailable (%s).", svc, res->err);
        return;
    }
    call->status = res->status;
    if (res->body_len > 0) {
        /* In the operation's arena, and never decref'd: it goes with the arena. */
        gw_jarena_t *prev = gw_jarena_enter(&op->jarena);
        call->body = gw_json_parse(res->body, res->body_len, NULL, 0);
        gw_jarena_enter(prev);
    }
    if (res->status >= 200 && res->status < 300) {
        if (res->body_len > 0 && call->body == NULL)
            call->fail = *make_fail(op, "INTERNAL", json_pack("{s:s}", "service", svc),
                                    "The %s service sent an answer that is not JSON.", svc);
        return;
    }
    mc_err_t err = mc_err_from_http_status(res->status);
    json_t *env = json_object_get(call->body, "error");
    const char *ecode = json_string_value(json_object_get(env, "code"));
    const char *emsg = json_string_value(json_object_get(env, "message"));
    if (ecode != NULL && res->status < 500) {
        mc_err_t e2 = mc_err_from_code(ecode);
        if (e2 != MC_ERR_INTERNAL)
            err = e2;
    }
    const char *gcode = mc_err_graphql_code(err);
    if (res->status >= 500) {
        /* Internal details of a failing service stay in its logs. */
        call->fail = *make_fail(op, res->status == 500 ? "INTERNAL" : gcode,
                                json_pack("{s:s,s:i}", "service", svc, "status", res->status),
                                "The %s service failed (%d).", svc, res->status);
        return;
    }
    json_t *more = json_pack("{s:s,s:i}", "service", svc, "status", res->status);
    json_t *details = json_object_get(env, "details");
    if (details != NULL && !json_is_null(details))
        json_object_set(more, "details", details);
    if (emsg != NULL)
        call->fail = *make_fail(op, gcode, more, "%s", emsg);
    else
        call->fail = *make_fail(op, gcode, more, "The %s service refused the request (%d).", svc, res->status);
}

/* The value an @http field takes from a finished call. Returns 0 (*out new reference,
 * NULL = null) or -1 with *fail. */
static int http_value(gw_op_t *op, const gw_field_t *f, gw_call_t *call, json_t *args, json_t *parent, json_t **out,
                      const gw_fail_t **fail)
{
    const gw_http_t *h = f->http;
    *out = NULL;
    if (call->fail.message != NULL) {
        if (call->status == 404 && h->not_found_null)
            return 0;
        *fail = &call->fail;
        return -1;
    }
    json_t *v = call->body;
    if (h->result_json != NULL) {
        v = keep(op, json_deep_copy(h->result_json)); /* the schema's value is shared by threads */
    } else if (h->result != NULL) {
        gw_scope_t s = {args, parent, op->auth, call->body};
        json_t *r = NULL;
        const gw_expr_t *bad = NULL;
        if (gw_tpl_value(h->result, &s, NULL, &r, &bad) != 0) {
            *fail = make_fail(op, "INTERNAL", NULL, "%s: {%s} is not a text value.", f->name, bad->text);
            return -1;
        }
        keep(op, r);
        v = r;
    } else if (h->nselect > 0) {
        v = gw_json_path(v, h->select, h->nselect);
    }
    return shape(op, f, v, args, out, fail);
}

/* --- batches ------------------------------------------------------------------------------ */

static gw_entry_t *group_find(gw_group_t *g, const char *key, size_t len, uint32_t hash)
{
    if (g->cap == 0)
        return NULL;
    for (uint32_t i = hash & (g->cap - 1);; i = (i + 1) & (g->cap - 1)) {
        gw_entry_t *e = g->table[i];
        if (e == NULL)
            return NULL;
        if (e->hash == hash && e->keylen == len && memcmp(e->key, key, len) == 0)
            return e;
    }
}

static gw_entry_t *group_entry(gw_op_t *op, gw_group_t *g, const char *key, size_t len)
{
    uint32_t hash = hash_bytes(key, len);
    gw_entry_t *e = group_find(g, key, len, hash);
    if (e != NULL)
        return e;
    if ((g->count + 1) * 2 > g->cap) {
        uint32_t ncap = g->cap ? g->cap * 2 : 64;
        gw_entry_t **nt = gql_arena_calloc(&op->arena, ncap, sizeof(*nt));
        if (nt == NULL)
            return NULL;
        for (uint32_t i = 0; i < g->cap; ++i) {
            gw_entry_t *x = g->table[i];
            if (x == NULL)
                continue;
            uint32_t j = x->hash & (ncap - 1);
            while (nt[j] != NULL)
                j = (j + 1) & (ncap - 1);
            nt[j] = x;
        }
        g->table = nt;
        g->cap = ncap;
    }
    e = gql_arena_calloc(&op->arena, 1, sizeof(*e));
    if (e == NULL)
        return NULL;
    e->key = astrdup(op, key, len);
    e->keylen = (uint32_t)len;
    e->hash = hash;
    e->state = ENTRY_QUEUED;
    uint32_t j = hash & (g->cap - 1);
    while (g->table[j] != NULL)
        j = (j + 1) & (g->cap - 1);
    g->table[j] = e;
    ++g->count;
    if (g->qtail != NULL)
        g->qtail->next_queued = e;
    else
        g->qhead = e;
    g->qtail = e;
    ++g->nqueued;
    return e;
}

/* The value of a batch field once all its entries are done. */
static int batch_value(gw_op_t *op, gw_twaiter_t *tw, json_t *args, json_t **out, const gw_fail_t **fail)
{
    (void)args;
    for (uint32_t i = 0; i < tw->n; ++i)
        if (tw->entries[i]->fail != NULL) {
            *fail = tw->entries[i]->fail;
            return -1;
        }
    if (!tw->list) {
        return shape(op, tw->f, tw->entries[0]->item, NULL, out, fail);
    }
    json_t *arr = json_array();
    for (uint32_t i = 0; i < tw->n; ++i) {
        if (tw->entries[i]->item == NULL)
            continue; /* a key that names nothing is left out of the list */
        json_t *v;
        if (shape(op, tw->f, tw->entries[i]->item, NULL, &v, fail) != 0) {
            json_decref(arr);
            return -1;
        }
        json_array_append_new(arr, v);
    }
    *out = arr;
    return 0;
}

static void twaiter_complete(gw_op_t *op, gw_twaiter_t *tw)
{
    json_t *v = NULL;
    const gw_fail_t *fail = NULL;
    if (batch_value(op, tw, NULL, &v, &fail) == 0)
        gql_ticket_resolve(tw->t, v);
    else
        ticket_fail(tw->t, fail);
}

static void entry_done(gw_op_t *op, gw_entry_t *e, json_t *item, const gw_fail_t *fail)
{
    e->state = ENTRY_DONE;
    e->item = item;
    e->fail = fail;
    for (gw_link_t *l = e->waiters; l != NULL; l = l->next)
        if (--l->w->remaining == 0)
            twaiter_complete(op, l->w);
    e->waiters = NULL;
}

/* A key as text: strings as they are, numbers in JSON form. */
static int key_text(json_t *v, gql_buf *out)
{
    gql_buf_reset(out);
    return gw_render_scalar(out, v, GW_ESC_NONE);
}

static void chunk_answer(gw_op_t *op, gw_call_t *call, gw_chunk_t *ch)
{
    gw_group_t *g = ch->g;
    const gw_fail_t *fail = call->fail.message != NULL ? &call->fail : NULL;
    if (fail == NULL) {
        json_t *items = gw_json_path(call->body, g->b->select, g->b->nselect);
        if (!json_is_array(items)) {
            fail = make_fail(op, "INTERNAL", json_pack("{s:s}", "service", service_name(op, g->b->service)),
                             "The %s service's batch answer has no list.", service_name(op, g->b->service));
        } else {
            gql_buf kb;
            gql_buf_init(&kb, 4096);
            size_t i;
            json_t *item;
            json_array_foreach(items, i, item)
            {
                json_t *k = gw_json_path(item, g->b->match, g->b->nmatch);
                if (k == NULL || key_text(k, &kb) != 0)
                    continue;
                gw_entry_t *e = group_find(g, kb.data, kb.len, hash_bytes(kb.data, kb.len));
                if (e != NULL && e->state == ENTRY_INFLIGHT)
                    entry_done(op, e, item, NULL);
            }
            gql_buf_free(&kb);
        }
    }
    for (uint32_t i = 0; i < ch->n; ++i)
        if (ch->entries[i]->state == ENTRY_INFLIGHT)
            entry_done(op, ch->entries[i], NULL, fail);
}

/* --- calls ----------------------------------------------------------------------------------- */

static void deliver(gw_op_t *op, gw_call_t *call)
{
    gw_waiter_t *w = call->waiters;
    call->waiters = NULL;
    for (; w != NULL; w = w->next) {
        if (w->chunk != NULL) {
            chunk_answer(op, call, w->chunk);
            continue;
        }
        const gql_field_info *info = gql_ticket_info(w->t);
        json_t *v = NULL;
        const gw_fail_t *fail = NULL;
        if (http_value(op, w->f, call, info->args, info->parent, &v, &fail) == 0)
            gql_ticket_resolve(w->t, v);
        else
            ticket_fail(w->t, fail);
    }
}

static void on_call_done(const mc_http_response_t *res, void *data)
{
    gw_call_t *call = data;
    gw_op_t *op = call->op;
    call->h = NULL;
    call->done = true;
    --op->inflight;
    classify(op, call, res);
    if (mc_log_enabled(MC_LOG_DEBUG))
        mc_log_json(MC_LOG_DEBUG, op->request_id,
                    json_pack("{s:s,s:s#,s:i}", "service", service_name(op, call->service), "call", call->key,
                              (int)call->keylen, "status", call->status),
                    "upstream call done");
    deliver(op, call);
    schedule(op);
}

static gw_call_t *call_find(gw_op_t *op, const char *key, size_t len, uint32_t hash)
{
    if (op->tcap == 0)
        return NULL;
    for (gw_call_t *c = op->table[hash & (op->tcap - 1)]; c != NULL; c = c->next_hash)
        if (c->hash == hash && c->keylen == len && memcmp(c->key, key, len) == 0)
            return c;
    return NULL;
}

static void call_index(gw_op_t *op, gw_call_t *c)
{
    if (op->tcount + 1 > op->tcap) {
        uint32_t ncap = op->tcap ? op->tcap * 2 : 32;
        gw_call_t **nt = gql_arena_calloc(&op->arena, ncap, sizeof(*nt));
        if (nt == NULL)
            return; /* not deduplicated: still correct */
        for (uint32_t i = 0; i < op->tcap; ++i)
            for (gw_call_t *x = op->table[i], *next; x != NULL; x = next) {
                next = x->next_hash;
                x->next_hash = nt[x->hash & (ncap - 1)];
                nt[x->hash & (ncap - 1)] = x;
            }
        op->table = nt;
        op->tcap = ncap;
    }
    c->next_hash = op->table[c->hash & (op->tcap - 1)];
    op->table[c->hash & (op->tcap - 1)] = c;
    ++op->tcount;
}

/* Starts a call (or returns the identical GET call of this operation). NULL with *fail
 * when the request cannot be sent. */
static gw_call_t *call_start(gw_op_t *op, unsigned svc, const char *method, const char *url, size_t urllen,
                             const char *body, size_t bodylen, const mc_http_header_t *hdrs, size_t nh,
                             unsigned timeout_ms, bool dedupe, const gw_fail_t **fail)
{
    gql_buf key;
    gql_buf_init(&key, 0);
    gql_buf_puts(&key, method);
    gql_buf_putc(&key, ' ');
    gql_buf_append(&key, url, urllen);
    for (size_t i = 0; i < nh; ++i) {
        gql_buf_printf(&key, "\n%s: %s", hdrs[i].name, hdrs[i].value);
    }
    if (body != NULL) {
        gql_buf_puts(&key, "\n\n");
        gql_buf_append(&key, body, bodylen);
    }
    uint32_t hash = hash_bytes(key.data, key.len);
    if (dedupe) {
        gw_call_t *c = call_find(op, key.data, key.len, hash);
        if (c != NULL) {
            gql_buf_free(&key);
            return c;
        }
    }
    gw_call_t *c = gql_arena_calloc(&op->arena, 1, sizeof(*c));
    if (c == NULL) {
        gql_buf_free(&key);
        *fail = make_fail(op, "INTERNAL", NULL, "Out of memory.");
        return NULL;
    }
    c->op = op;
    c->key = astrdup(op, key.data, key.len);
    c->keylen = (uint32_t)key.len;
    c->hash = hash;
    c->service = svc;
    gql_buf_free(&key);

    mc_http_header_t headers[GW_MAX_SERVICES + 8];
    size_t n = 0;
    if (op->authorization != NULL)
        headers[n++] = (mc_http_header_t){"Authorization", op->authorization};
    if (op->schema->services.s[svc].forward_client && op->internal_key != NULL && op->client_address != NULL) {
        headers[n++] = (mc_http_header_t){"X-Forwarded-For", op->client_address};
        headers[n++] = (mc_http_header_t){"X-Internal-Key", op->internal_key};
    }
    headers[n++] = (mc_http_header_t){"Accept", "application/json"};
    for (size_t i = 0; i < nh && n < sizeof(headers) / sizeof(headers[0]); ++i)
        headers[n++] = hdrs[i];
    char *u = gql_arena_strndup(&op->arena, url, urllen);
    mc_http_request_t req = {
        .method = method,
        .url = u,
        .headers = headers,
        .nheaders = n,
        .body = body,
        .body_len = bodylen,
        .timeout_ms = timeout_ms != 0 ? timeout_ms : op->w->default_timeout_ms,
        .request_id = op->request_id,
    };
    if (op->w->up == NULL || gw_up_fetch(op->w->up, svc, &req, op->deadline_ns, on_call_done, c, &c->h) != 0) {
        *fail = make_fail(op, "INTERNAL", json_pack("{s:s}", "service", service_name(op, svc)),
                          "The request to the %s service could not be made.", service_name(op, svc));
        return NULL;
    }
    c->next_all = op->calls;
    op->calls = c;
    ++op->ncalls;
    ++op->inflight;
    if (dedupe)
        call_index(op, c);
    return c;
}

static void call_wait(gw_op_t *op, gw_call_t *c, gql_ticket *t, const gw_field_t *f, gw_chunk_t *ch)
{
    gw_waiter_t *w = gql_arena_calloc(&op->arena, 1, sizeof(*w));
    w->t = t;
    w->f = f;
    w->chunk = ch;
    w->next = c->waiters;
    c->waiters = w;
}

/* --- @http fields ------------------------------------------------------------------------------ */

static const gw_fail_t *bad_value(gw_op_t *op, const gw_field_t *f, const gw_expr_t *e, int why)
{
    if (e->root == GW_ROOT_ARGS)
        return make_fail(op, "BAD_USER_INPUT", NULL,
                         why == 1   ? "%s needs {%s}: it is missing or null."
                         : why == 2 ? "%s: {%s} may not be empty, \".\" or \"..\"."
                                    : "%s: {%s} must be a single text, number or boolean.",
                         f->name, e->text);
    return make_fail(op, "INTERNAL", NULL, "%s: the parent has no usable {%s}.", f->name, e->text);
}

/* Builds the request of an @http field and starts it (or finds its twin). */
static gql_resolve_status resolve_http(gw_op_t *op, const gw_field_t *f, const gql_field_info *info,
                                       gql_resolution *out)
{
    const gw_http_t *h = f->http;
    gw_scope_t scope = {info->args, info->parent, op->auth, NULL};
    const gw_fail_t *fail = NULL;
    const gw_expr_t *bad = NULL;
    gql_buf url, body;
    gql_buf_init(&url, GW_MAX_URL);
    gql_buf_init(&body, GW_MAX_BODY);
    mc_http_header_t hdrs[8];
    size_t nh = 0;
    bool has_body = strcmp(h->method, "POST") == 0 || strcmp(h->method, "PUT") == 0 || strcmp(h->method, "PATCH") == 0;

    gql_buf_puts(&url, op->schema->services.s[h->service].url);
    int r = gw_tpl_render(&h->path, &scope, gw_to_rest, GW_ESC_SEGMENT, &url, &bad);
    if (r != 0) {
        fail = bad_value(op, f, bad, r);
        goto Fail;
    }
    char sep = '?';
    for (uint32_t i = 0; i < h->nquery; ++i) {
        const gw_param_t *p = &h->query[i];
        const gw_expr_t *single = gw_tpl_single(&p->value);
        json_t *lv = single != NULL ? gw_expr_eval(single, &scope) : NULL;
        if (json_is_array(lv)) {
            json_t *conv = single->type != NULL ? gw_to_rest(single->type, lv) : json_incref(lv);
            size_t k;
            json_t *item;
            json_array_foreach(conv, k, item)
            {
                if (json_is_null(item))
                    continue;
                size_t mark = url.len;
                gql_buf_printf(&url, "%c%s=", sep, p->name);
                if (gw_render_scalar(&url, item, GW_ESC_QUERY) != 0) {
                    url.len = mark;
                    json_decref(conv);
                    fail = bad_value(op, f, single, -1);
                    goto Fail;
                }
                sep = '&';
            }
            json_decref(conv);
            continue;
        }
        size_t mark = url.len;
        gql_buf_printf(&url, "%c%s=", sep, p->name);
        r = gw_tpl_render(&p->value, &scope, gw_to_rest, GW_ESC_QUERY, &url, &bad);
        if (r == 1) { /* absent or null: the parameter is left out */
            url.len = mark;
            continue;
        }
        if (r != 0) {
            fail = bad_value(op, f, bad, r);
            goto Fail;
        }
        sep = '&';
    }
    if (url.overflow) {
        fail = make_fail(op, "BAD_USER_INPUT", NULL, "%s: the arguments make a request too long.", f->name);
        goto Fail;
    }
    if (has_body) {
        json_t *bv = NULL;
        for (uint32_t i = 0; i < h->nbody; ++i) {
            const gw_body_entry_t *be = &h->body[i];
            json_t *v = NULL;
            if (gw_tpl_value(&be->value, &scope, gw_to_rest, &v, &bad) != 0) {
                json_decref(bv);
                fail = bad_value(op, f, bad, -1);
                goto Fail;
            }
            if (be->key == NULL && h->nbody == 1 && !json_is_object(v)) {
                bv = v; /* the whole body is that value */
                continue;
            }
            if (bv == NULL)
                bv = json_object();
            if (be->key == NULL) {
                if (json_is_object(v))
                    json_object_update(bv, v);
                json_decref(v);
            } else if (v != NULL) {
                json_object_set_new(bv, be->key, v);
            }
        }
        if (bv == NULL)
            bv = json_object();
        char *s = json_dumps(bv, JSON_COMPACT | JSON_ENCODE_ANY);
        json_decref(bv);
        if (s == NULL) {
            fail = make_fail(op, "INTERNAL", NULL, "%s: the request body could not be written.", f->name);
            goto Fail;
        }
        gql_buf_puts(&body, s);
        free(s);
        if (body.overflow) {
            fail = make_fail(op, "BAD_USER_INPUT", NULL, "%s: the request body is too large.", f->name);
            goto Fail;
        }
    }
    for (uint32_t i = 0; i < h->nheaders && nh < sizeof(hdrs) / sizeof(hdrs[0]); ++i) {
        gql_buf hv;
        gql_buf_init(&hv, 4096);
        r = gw_tpl_render(&h->headers[i].value, &scope, gw_to_rest, GW_ESC_NONE, &hv, &bad);
        if (r == 1) {
            gql_buf_free(&hv);
            continue;
        }
        bool crlf = r == 0 && hv.len > 0 && (memchr(hv.data, '\r', hv.len) != NULL || memchr(hv.data, '\n', hv.len) != NULL);
        if (r != 0 || crlf || hv.overflow) {
            gql_buf_free(&hv);
            fail = r != 0 ? bad_value(op, f, bad, r)
                          : make_fail(op, "BAD_USER_INPUT", NULL, "%s: a header value may not contain line breaks.", f->name);
            goto Fail;
        }
        hdrs[nh].name = h->headers[i].name;
        hdrs[nh].value = astrdup(op, hv.data != NULL ? hv.data : "", hv.len);
        ++nh;
        gql_buf_free(&hv);
    }

    gw_call_t *c = call_start(op, h->service, h->method, url.data, url.len, has_body ? (body.data ? body.data : "{}") : NULL,
                              has_body ? body.len : 0, hdrs, nh, h->timeout_ms, h->dedupe, &fail);
    gql_buf_free(&url);
    gql_buf_free(&body);
    if (c == NULL) {
        out_fail(out, fail);
        return GQL_RESOLVED;
    }
    if (c->done) { /* the same request already answered in this operation */
        json_t *v = NULL;
        if (http_value(op, f, c, info->args, info->parent, &v, &fail) == 0)
            out->value = v;
        else
            out_fail(out, fail);
        return GQL_RESOLVED;
    }
    call_wait(op, c, gql_field_defer(info), f, NULL);
    return GQL_PENDING;
Fail:
    gql_buf_free(&url);
    gql_buf_free(&body);
    out_fail(out, fail);
    return GQL_RESOLVED;
}

/* --- @batch fields ------------------------------------------------------------------------------ */

static gw_group_t *find_group(gw_op_t *op, const gw_field_t *f, const gql_field_info *info, const gw_fail_t **fail)
{
    const gw_batch_t *b = f->batch;
    gql_buf base;
    gql_buf_init(&base, GW_MAX_URL);
    gql_buf_puts(&base, op->schema->services.s[b->service].url);
    gw_scope_t scope = {info->args, NULL, op->auth, NULL};
    const gw_expr_t *bad = NULL;
    int r = gw_tpl_render(&b->path, &scope, gw_to_rest, GW_ESC_SEGMENT, &base, &bad);
    if (r != 0) {
        gql_buf_free(&base);
        *fail = bad_value(op, f, bad, r);
        return NULL;
    }
    gql_buf_printf(&base, "?%s=", b->param);
    /* Fields that read the same endpoint the same way share a group (and its cache). */
    for (gw_group_t *g = op->groups; g != NULL; g = g->next) {
        if (strcmp(g->base, gql_buf_cstr(&base)) != 0 || g->b->nmatch != b->nmatch || g->b->nselect != b->nselect)
            continue;
        bool same = true;
        for (uint32_t i = 0; same && i < b->nmatch; ++i)
            same = strcmp(g->b->match[i], b->match[i]) == 0;
        for (uint32_t i = 0; same && i < b->nselect; ++i)
            same = strcmp(g->b->select[i], b->select[i]) == 0;
        if (same && g->b->max == b->max) {
            gql_buf_free(&base);
            return g;
        }
    }
    gw_group_t *g = gql_arena_calloc(&op->arena, 1, sizeof(*g));
    g->b = b;
    g->base = astrdup(op, base.data, base.len);
    g->next = op->groups;
    op->groups = g;
    gql_buf_free(&base);
    return g;
}

static gql_resolve_status resolve_batch(gw_op_t *op, const gw_field_t *f, const gql_field_info *info,
                                        gql_resolution *out)
{
    gw_scope_t scope = {info->args, info->parent, op->auth, NULL};
    json_t *key = gw_expr_eval(f->batch->key, &scope);
    bool list = json_is_array(key);
    if (key == NULL || json_is_null(key) || (list && json_array_size(key) == 0)) {
        out->value = list ? json_array() : NULL;
        return GQL_RESOLVED;
    }
    const gw_fail_t *fail = NULL;
    gw_group_t *g = find_group(op, f, info, &fail);
    if (g == NULL) {
        out_fail(out, fail);
        return GQL_RESOLVED;
    }
    uint32_t n = list ? (uint32_t)json_array_size(key) : 1;
    gw_twaiter_t *tw = gql_arena_calloc(&op->arena, 1, sizeof(*tw));
    tw->entries = gql_arena_calloc(&op->arena, n, sizeof(*tw->entries));
    tw->f = f;
    tw->list = list;
    gql_buf kb;
    gql_buf_init(&kb, 4096);
    for (uint32_t i = 0; i < n; ++i) {
        json_t *k = list ? json_array_get(key, i) : key;
        if (key_text(k, &kb) != 0 || kb.len == 0 || kb.overflow) {
            gql_buf_free(&kb);
            out_fail(out, make_fail(op, "INTERNAL", NULL, "%s: the parent's {%s} is not a usable key.", f->name,
                                    f->batch->key->text));
            return GQL_RESOLVED;
        }
        gw_entry_t *e = group_entry(op, g, kb.data, kb.len);
        if (e == NULL) {
            gql_buf_free(&kb);
            out_fail(out, make_fail(op, "INTERNAL", NULL, "Out of memory."));
            return GQL_RESOLVED;
        }
        tw->entries[tw->n++] = e;
        if (e->state != ENTRY_DONE)
            ++tw->remaining;
    }
    gql_buf_free(&kb);
    if (tw->remaining == 0) { /* every key already loaded in this operation */
        json_t *v = NULL;
        if (batch_value(op, tw, info->args, &v, &fail) == 0)
            out->value = v;
        else
            out_fail(out, fail);
        return GQL_RESOLVED;
    }
    tw->t = gql_field_defer(info);
    for (uint32_t i = 0; i < tw->n; ++i) {
        gw_entry_t *e = tw->entries[i];
        if (e->state == ENTRY_DONE)
            continue;
        gw_link_t *l = gql_arena_calloc(&op->arena, 1, sizeof(*l));
        l->w = tw;
        l->next = e->waiters;
        e->waiters = l;
    }
    return GQL_PENDING;
}

/* The level is handed out: each group's queued keys become calls of up to max keys. */
static void flush_group(gw_op_t *op, gw_group_t *g)
{
    while (g->qhead != NULL) {
        uint32_t n = g->nqueued < g->b->max ? g->nqueued : g->b->max;
        gw_chunk_t *ch = gql_arena_calloc(&op->arena, 1, sizeof(*ch));
        ch->g = g;
        ch->entries = gql_arena_calloc(&op->arena, n, sizeof(*ch->entries));
        gql_buf url;
        gql_buf_init(&url, GW_MAX_URL + 64 * 1024);
        gql_buf_puts(&url, g->base);
        for (uint32_t i = 0; i < n; ++i) {
            gw_entry_t *e = g->qhead;
            g->qhead = e->next_queued;
            e->next_queued = NULL;
            --g->nqueued;
            if (i > 0)
                gql_buf_putc(&url, ',');
            gw_escape(&url, e->key, e->keylen, GW_ESC_QUERY);
            e->state = ENTRY_INFLIGHT;
            ch->entries[ch->n++] = e;
        }
        if (g->qhead == NULL)
            g->qtail = NULL;
        const gw_fail_t *fail = NULL;
        gw_call_t *c = url.overflow ? NULL
                                    : call_start(op, g->b->service, "GET", url.data, url.len, NULL, 0, NULL, 0,
                                                 g->b->timeout_ms, true, &fail);
        gql_buf_free(&url);
        if (c == NULL) {
            if (fail == NULL)
                fail = make_fail(op, "INTERNAL", NULL, "A batch request would be too long.");
            for (uint32_t i = 0; i < ch->n; ++i)
                entry_done(op, ch->entries[i], NULL, fail);
            continue;
        }
        if (c->done) {
            chunk_answer(op, c, ch);
            continue;
        }
        call_wait(op, c, NULL, NULL, ch);
    }
}

static void on_dispatched(void *ud, gql_exec *e)
{
    (void)e;
    gw_op_t *op = ud;
    for (gw_group_t *g = op->groups; g != NULL; g = g->next)
        if (g->qhead != NULL)
            flush_group(op, g);
}

/* --- the resolver ---------------------------------------------------------------------------- */

/* A copy of an object (or of each object of a list) with the parent's `with`
 * properties added where absent; built in the operation's arena. New reference. */
static json_t *with_one(const gw_field_t *f, json_t *parent, json_t *o)
{
    if (!json_is_object(o))
        return json_incref(o);
    json_t *c = json_copy(o); /* shallow: the members are shared */
    for (uint32_t i = 0; i < f->nwith; ++i) {
        json_t *pv = json_object_get(parent, f->with[i]);
        if (pv != NULL && json_object_get(c, f->with[i]) == NULL)
            json_object_set_nocheck(c, f->with[i], pv);
    }
    return c;
}

static json_t *with_parent(gw_op_t *op, const gw_field_t *f, json_t *parent, json_t *v)
{
    gw_jarena_t *prev = gw_jarena_enter(&op->jarena);
    json_t *out;
    if (json_is_array(v)) {
        out = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) json_array_append_new(out, with_one(f, parent, item));
    } else {
        out = with_one(f, parent, v);
    }
    gw_jarena_enter(prev);
    return out;
}

static gql_resolve_status resolve(void *ud, const gql_field_info *info, gql_resolution *out)
{
    const gw_field_t *f = info->field->user;
    if (f == NULL)
        return gql_default_resolver(ud, info, out);
    gw_op_t *op = ud;
    if (f->auth && !auth_ok(op, f, out))
        return GQL_RESOLVED;
    const gw_fail_t *fail = NULL;
    json_t *v;
    switch (f->kind) {
    case GW_FIELD_HTTP:
        return resolve_http(op, f, info, out);
    case GW_FIELD_BATCH:
        return resolve_batch(op, f, info, out);
    case GW_FIELD_MONEY:
        out->value = make_money(op, f, info->parent);
        return GQL_RESOLVED;
    case GW_FIELD_FROM:
        v = gw_json_path(info->parent, f->from, f->nfrom);
        if (f->nwith > 0 && v != NULL && !json_is_null(v)) {
            json_t *w = with_parent(op, f, info->parent, v);
            if (shape(op, f, w, info->args, &out->value, &fail) != 0)
                out_fail(out, fail);
            json_decref(w);
            return GQL_RESOLVED;
        }
        break;
    default:
        v = json_is_object(info->parent) ? json_object_getn(info->parent, info->field->name, info->field->name_len)
                                         : NULL;
        if (f->out_enum == NULL && !f->connection) {
            out->value = json_incref(v);
            return GQL_RESOLVED;
        }
        break;
    }
    if (shape(op, f, v, info->args, &out->value, &fail) != 0)
        out_fail(out, fail);
    return GQL_RESOLVED;
}

/* --- running ------------------------------------------------------------------------------------ */

static void finish(gw_op_t *op)
{
    if (op->done)
        return;
    op->done = true;
    for (gw_call_t *c = op->calls; c != NULL; c = c->next_all)
        if (c->h != NULL) {
            gw_up_cancel(c->h);
            c->h = NULL;
            --op->inflight;
        }
    if (!op->starting)
        op->done_cb(op, op->data);
}

static void run(gw_op_t *op)
{
    if (op->done)
        return;
    if (op->gone != NULL && op->gone(op->data)) {
        op->aborted = true;
        finish(op);
        return;
    }
    op->running = true;
    gql_exec_state st = gql_exec_run(op->exec);
    op->running = false;
    if (st == GQL_EXEC_DONE)
        finish(op);
}

static void on_idle(uv_idle_t *h)
{
    gw_worker_t *w = h->data;
    while (w->run_head != NULL) {
        gw_op_t *op = w->run_head;
        w->run_head = op->next_run;
        op->next_run = NULL;
        op->queued = false;
        run(op); /* may free op through done */
    }
    uv_idle_stop(&w->idle);
    w->idle_active = false;
}

static void schedule(gw_op_t *op)
{
    gw_worker_t *w = op->w;
    if (op->queued || op->done)
        return;
    op->queued = true;
    op->next_run = w->run_head;
    w->run_head = op;
    if (!w->idle_active) {
        uv_idle_start(&w->idle, on_idle);
        w->idle_active = true;
    }
}

void gw_worker_init(gw_worker_t *w, uv_loop_t *loop, mc_http_client_t *http, unsigned default_timeout_ms)
{
    memset(w, 0, sizeof(*w));
    w->loop = loop;
    w->http = http;
    w->default_timeout_ms = default_timeout_ms;
    uv_idle_init(loop, &w->idle);
    w->idle.data = w;
}

static void on_idle_closed(uv_handle_t *h)
{
    gw_worker_t *w = h->data;
    if (w->on_closed != NULL)
        w->on_closed(w);
}

void gw_worker_close(gw_worker_t *w, void (*on_closed)(gw_worker_t *w))
{
    w->closing = true;
    w->on_closed = on_closed;
    uv_close((uv_handle_t *)&w->idle, on_idle_closed);
}

gw_op_t *gw_op_start(const gw_op_opts_t *o)
{
    gw_op_t *op = calloc(1, sizeof(*op));
    if (op == NULL)
        abort(); /* as mc_req_alloc: running on without memory is not an option */
    op->w = o->w;
    op->schema = gw_schema_ref(o->schema);
    gql_arena_init(&op->arena, 0);
    op->keep = json_array();
    op->root = o->root != NULL ? json_incref(o->root) : json_object();
    op->done_cb = o->done;
    op->gone = o->gone;
    op->data = o->data;
    op->why = o->unauthenticated_why;
    if (o->claims != NULL) {
        op->claims = *o->claims;
        op->has_claims = true;
        op->auth = json_pack("{s:s,s:s}", "sub", op->claims.sub, "role", mc_role_name(op->claims.role));
    }
    if (o->authorization != NULL)
        op->authorization = strdup(o->authorization);
    op->request_id = strdup(o->request_id != NULL ? o->request_id : "");
    if (o->client_address != NULL)
        op->client_address = strdup(o->client_address);
    op->internal_key = o->internal_key;
    op->deadline_ns = o->deadline_ns;
    gql_exec_options eo;
    memset(&eo, 0, sizeof(eo));
    eo.operation_name = o->operation_name;
    eo.variables = o->variables;
    eo.root = op->root;
    eo.resolve = resolve;
    eo.resolve_ud = op;
    eo.on_dispatched = on_dispatched;
    eo.on_dispatched_ud = op;
    op->exec = gql_exec_new(op->schema->gql, o->doc, &eo);
    if (op->exec == NULL)
        abort();
    op->starting = true;
    run(op);
    op->starting = false;
    if (op->done) { /* finished at once: `done` was held back until now */
        op->done_cb(op, op->data);
        return NULL;
    }
    return op;
}

gql_exec *gw_op_exec(gw_op_t *op)
{
    return op->exec;
}

unsigned gw_op_calls(const gw_op_t *op)
{
    return op->ncalls;
}

bool gw_op_aborted(const gw_op_t *op)
{
    return op->aborted;
}

void gw_op_free(gw_op_t *op)
{
    if (op == NULL)
        return;
    if (op->queued) { /* take it off the worker's run list */
        for (gw_op_t **pp = &op->w->run_head; *pp != NULL; pp = &(*pp)->next_run)
            if (*pp == op) {
                *pp = op->next_run;
                break;
            }
    }
    for (gw_call_t *c = op->calls; c != NULL; c = c->next_all)
        if (c->h != NULL)
            gw_up_cancel(c->h);
    gql_exec_free(op->exec);
    json_decref(op->keep);
    json_decref(op->root);
    json_decref(op->auth);
    gw_jarena_free(&op->jarena); /* after every value that could point into it */
    free(op->authorization);
    free(op->request_id);
    free(op->client_address);
    gql_arena_free(&op->arena);
    gw_schema_unref(op->schema);
    free(op);
}

void gw_errors_default_code(const gql_errors *errs, const char *code)
{
    for (gql_error *e = errs->head; e != NULL; e = e->next) {
        if (e->extensions != NULL && json_object_get(e->extensions, "code") != NULL)
            continue;
        json_t *ext = e->extensions != NULL ? json_copy(e->extensions) : json_object();
        json_object_set_new(ext, "code", json_string(code));
        gql_error_set_extensions(e, ext);
    }
}

const gql_operation_node *gw_select_operation(const gql_document *doc, const char *name)
{
    const gql_operation_node *found = NULL;
    for (uint32_t i = 0; i < doc->ndefs; ++i) {
        const gql_definition *d = &doc->defs[i];
        if (d->kind != GQL_DEF_OPERATION)
            continue;
        const gql_operation_node *o = &d->u.op;
        if (name == NULL) {
            if (found != NULL)
                return NULL;
            found = o;
        } else if (o->name.s != NULL && gql_str_eqc(o->name, name)) {
            return o;
        }
    }
    return found;
}
