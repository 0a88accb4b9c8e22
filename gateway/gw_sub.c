/*
 * Operations over the WebSocket: subscriptions to order events, and queries and
 * mutations answered once (gw_live.h).
 *
 * A subscribe message is parsed, validated and checked against the limits like an HTTP
 * request, and charged to the client's rate limits (its user, or its address; cost as
 * over HTTP): over them it gets an `error` with RATE_LIMITED and the seconds to wait,
 * and nothing runs. A query or mutation runs at once with the connection's identity and is
 * answered with `next` then `complete`. A subscription's root field names, with
 * @orderEvents(scope:), which events it receives:
 *
 *   ORDER     the order of its `id` argument     indexed by order id
 *   CUSTOMER  the subscriber's own orders        indexed by the subscriber's id
 *   SELLER    orders with the subscriber's lines indexed by the subscriber's id
 *   ALL       every order                        one list
 *
 * so an event costs one look-up by its order id, one by its customer id, one per seller,
 * and the ALL list — never a scan of every subscription. Every event is then checked
 * against who may see the order (gw_sub_event.h): a customer following someone else's
 * order id gets nothing, and no error says whether that order exists.
 *
 * Running an event: the subscription's selection set is executed by the gateway's
 * operation runner (gw_op) with the event as the root value ({<field>: {type, version,
 * at, order}}), so nested fields (a line's product) are fetched from the services like in
 * a query, with the subscriber's token. A subscription runs one event at a time, in
 * arrival order, so its `next` messages keep the order's version order even when one
 * event's nested fields take longer than the next one's; events wait in the
 * subscription's queue meanwhile (GATEWAY_WS_MAX_PENDING_EVENTS per connection). The
 * events to run are handed out from an idle handle, never from inside the dispatch loop
 * or an operation's callback, so no list is changed while it is walked.
 *
 * Errors that stop an operation before it runs (syntax, validation, limits, variables,
 * the root field's @auth, a malformed order id) are one `error` message, without
 * `complete`, as the protocol says.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_limits.h"
#include "gw_live_internal.h"
#include "gw_ratelimit.h"
#include "gw_ws_msg.h"
#include "mc_log.h"
#include "mc_util.h"

typedef struct gw_queued {
    struct gw_queued *next;
    json_t *payload;
} gw_queued_t;

struct gw_sub {
    gw_wsconn_t *c;
    gw_sub_t *prev, *next; /* the connection's operations */
    char *id;
    size_t idlen;
    char *id_json;         /* the id as a JSON string, for the messages */
    gw_schema_t *schema;
    gql_document *doc;
    char *operation_name;
    json_t *variables;     /* as the client sent them; the engine coerces them per run */
    bool stream;           /* a subscription (else a query or mutation) */
    gw_op_t *op;           /* running */
    json_t *op_root;
    /* a subscription */
    const gql_field *field;
    gw_evscope_t scope;
    char key[32];          /* ORDER: the order id; CUSTOMER, SELLER: the subscriber's id */
    gw_ibucket_t *bucket;  /* NULL for ALL */
    bool indexed;
    gw_sub_t *iprev, *inext;
    gw_queued_t *qhead, *qtail;
    unsigned nq;
    bool scheduled;
    gw_sub_t *rprev, *rnext; /* the worker's run queue */
};

/* --- the binding ---------------------------------------------------------------------------- */

int gw_sub_field_scope(const gql_field *f, const char **why)
{
    for (uint32_t i = 0; i < f->ndirectives; ++i) {
        const gql_applied_directive *d = &f->directives[i];
        if (strcmp(d->name, "orderEvents") != 0)
            continue;
        const char *s = json_string_value(json_object_get(d->args, "scope"));
        if (s == NULL)
            break;
        if (strcmp(s, "ORDER") == 0)
            return GW_SCOPE_ORDER;
        if (strcmp(s, "CUSTOMER") == 0)
            return GW_SCOPE_CUSTOMER;
        if (strcmp(s, "SELLER") == 0)
            return GW_SCOPE_SELLER;
        if (strcmp(s, "ALL") == 0)
            return GW_SCOPE_ALL;
        *why = "@orderEvents(scope:) names no known scope";
        return -1;
    }
    *why = "a subscription field needs @orderEvents(scope: …): nothing else produces events";
    return -1;
}

/* --- messages ------------------------------------------------------------------------------- */

static void send_op_message(gw_wsconn_t *c, const char *id_json, const char *type, const char *payload, size_t plen)
{
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_buf_puts(&b, "{\"id\":");
    gql_buf_puts(&b, id_json);
    gql_buf_printf(&b, ",\"type\":\"%s\"", type);
    if (payload != NULL) {
        gql_buf_puts(&b, ",\"payload\":");
        gql_buf_append(&b, payload, plen);
    }
    gql_buf_putc(&b, '}');
    gw_ws_send(c, b.data, b.len);
    gql_buf_free(&b);
}

static void send_errors(gw_wsconn_t *c, const char *id_json, const gql_errors *errs, const char *default_code)
{
    gw_errors_default_code(errs, default_code);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(errs, &b, false);
    send_op_message(c, id_json, "error", b.data, b.len);
    gql_buf_free(&b);
}

static void send_error(gw_wsconn_t *c, const char *id_json, const char *code, const char *message)
{
    gql_errors errs;
    gql_errors_init(&errs);
    gql_error *e = gql_errors_add(&errs, message);
    if (e != NULL)
        gql_error_set_extensions(e, json_pack("{s:s}", "code", code));
    send_errors(c, id_json, &errs, code);
    gql_errors_free(&errs);
}

/* --- the index ------------------------------------------------------------------------------- */

static uint32_t key_hash(const char *s)
{
    return mc_fnv1a_str(MC_FNV1A_INIT, s);
}

static gw_ibucket_t *index_find(const gw_index_t *ix, const char *key)
{
    if (ix->cap == 0 || strlen(key) >= sizeof(((gw_ibucket_t *)0)->key))
        return NULL;
    for (gw_ibucket_t *b = ix->table[key_hash(key) & (ix->cap - 1)]; b != NULL; b = b->next)
        if (strcmp(b->key, key) == 0)
            return b;
    return NULL;
}

static gw_ibucket_t *index_get(gw_index_t *ix, const char *key)
{
    gw_ibucket_t *b = index_find(ix, key);
    if (b != NULL)
        return b;
    if (ix->count + 1 > ix->cap) {
        uint32_t ncap = ix->cap ? ix->cap * 2 : 64;
        gw_ibucket_t **nt = calloc(ncap, sizeof(*nt));
        if (nt == NULL)
            return NULL;
        for (uint32_t i = 0; i < ix->cap; ++i)
            for (gw_ibucket_t *x = ix->table[i], *next; x != NULL; x = next) {
                next = x->next;
                x->next = nt[key_hash(x->key) & (ncap - 1)];
                nt[key_hash(x->key) & (ncap - 1)] = x;
            }
        free(ix->table);
        ix->table = nt;
        ix->cap = ncap;
    }
    b = calloc(1, sizeof(*b));
    if (b == NULL)
        return NULL;
    snprintf(b->key, sizeof(b->key), "%s", key);
    uint32_t h = key_hash(key) & (ix->cap - 1);
    b->next = ix->table[h];
    ix->table[h] = b;
    ++ix->count;
    return b;
}

static void index_drop_bucket(gw_index_t *ix, gw_ibucket_t *b)
{
    gw_ibucket_t **p = &ix->table[key_hash(b->key) & (ix->cap - 1)];
    while (*p != NULL && *p != b)
        p = &(*p)->next;
    if (*p == b)
        *p = b->next;
    --ix->count;
    free(b);
}

static void index_free(gw_index_t *ix)
{
    for (uint32_t i = 0; i < ix->cap; ++i)
        for (gw_ibucket_t *b = ix->table[i], *next; b != NULL; b = next) {
            next = b->next;
            free(b);
        }
    free(ix->table);
    memset(ix, 0, sizeof(*ix));
}

static gw_index_t *index_of(gw_live_worker_t *lw, gw_evscope_t scope)
{
    return scope == GW_SCOPE_ORDER ? &lw->by_order : &lw->by_user;
}

static int sub_index(gw_live_worker_t *lw, gw_sub_t *s)
{
    gw_sub_t **head;
    if (s->scope == GW_SCOPE_ALL) {
        head = &lw->all;
    } else {
        s->bucket = index_get(index_of(lw, s->scope), s->key);
        if (s->bucket == NULL)
            return -1;
        head = &s->bucket->head;
    }
    s->iprev = NULL;
    s->inext = *head;
    if (*head != NULL)
        (*head)->iprev = s;
    *head = s;
    s->indexed = true;
    ++lw->nsubs;
    atomic_fetch_add(&lw->live->subscriptions, 1);
    return 0;
}

static void sub_unindex(gw_live_worker_t *lw, gw_sub_t *s)
{
    gw_sub_t **head = s->scope == GW_SCOPE_ALL ? &lw->all : &s->bucket->head;
    if (s->iprev != NULL)
        s->iprev->inext = s->inext;
    else
        *head = s->inext;
    if (s->inext != NULL)
        s->inext->iprev = s->iprev;
    if (s->bucket != NULL && s->bucket->head == NULL)
        index_drop_bucket(index_of(lw, s->scope), s->bucket);
    s->bucket = NULL;
    s->indexed = false;
    --lw->nsubs;
    atomic_fetch_sub(&lw->live->subscriptions, 1);
}

/* --- the life of an operation ----------------------------------------------------------------- */

static void run_unlink(gw_live_worker_t *lw, gw_sub_t *s)
{
    if (!s->scheduled)
        return;
    if (s->rprev != NULL)
        s->rprev->rnext = s->rnext;
    else
        lw->run_head = s->rnext;
    if (s->rnext != NULL)
        s->rnext->rprev = s->rprev;
    else
        lw->run_tail = s->rprev;
    s->rprev = s->rnext = NULL;
    s->scheduled = false;
}

static void sub_free(gw_sub_t *s)
{
    gw_wsconn_t *c = s->c;
    gw_live_worker_t *lw = c->lw;
    run_unlink(lw, s);
    if (s->op != NULL) /* its calls are cancelled; its callback will not run */
        gw_op_free(s->op);
    json_decref(s->op_root);
    if (s->indexed)
        sub_unindex(lw, s);
    while (s->qhead != NULL) {
        gw_queued_t *q = s->qhead;
        s->qhead = q->next;
        json_decref(q->payload);
        free(q);
        --c->pending_events;
    }
    if (s->prev != NULL)
        s->prev->next = s->next;
    else
        c->ops = s->next;
    if (s->next != NULL)
        s->next->prev = s->prev;
    --c->nops;
    gql_document_free(s->doc);
    gw_schema_unref(s->schema);
    json_decref(s->variables);
    free(s->operation_name);
    free(s->id_json);
    free(s->id);
    free(s);
}

static gw_sub_t *find_op(gw_wsconn_t *c, const char *id, size_t idlen)
{
    for (gw_sub_t *s = c->ops; s != NULL; s = s->next)
        if (s->idlen == idlen && memcmp(s->id, id, idlen) == 0)
            return s;
    return NULL;
}

/* A subscribe message waiting for the rate limiter. The connection may close meanwhile:
 * it is found again by its serial; the worker may end meanwhile: it clears `lw`. Until
 * it is started it counts as one of the connection's operations: its id is taken, and a
 * complete message cancels it. */
typedef struct gw_sub_pending {
    struct gw_sub_pending *next, *prev;
    gw_live_worker_t *lw;
    uint64_t serial;
    bool cancelled;
    char *id, *id_json, *operation_name;
    size_t idlen;
    gw_schema_t *schema;
    gql_document *doc;
    json_t *variables;
    uint64_t cost;
} gw_sub_pending_t;

static gw_sub_pending_t *find_pending(gw_wsconn_t *c, const char *id, size_t idlen)
{
    for (gw_sub_pending_t *p = c->lw->pending; p != NULL; p = p->next)
        if (p->serial == c->serial && !p->cancelled && p->idlen == idlen && memcmp(p->id, id, idlen) == 0)
            return p;
    return NULL;
}

void gw_sub_complete(gw_wsconn_t *c, const char *id, size_t idlen)
{
    gw_sub_t *s = find_op(c, id, idlen);
    if (s != NULL)
        sub_free(s);
    else if (c->npending > 0) {
        gw_sub_pending_t *p = find_pending(c, id, idlen);
        if (p != NULL) {
            p->cancelled = true; /* it will not start */
            --c->npending;
        }
    }
}

void gw_sub_end_all(gw_wsconn_t *c)
{
    while (c->ops != NULL)
        sub_free(c->ops);
}

void gw_sub_fail_all(gw_wsconn_t *c, const char *message, const char *code)
{
    while (c->ops != NULL) {
        send_error(c, c->ops->id_json, code, message);
        sub_free(c->ops);
    }
}

/* A request id for the services' logs: one per operation run. */
static void new_request_id(char out[33])
{
    unsigned char r[16];
    mc_random_bytes(r, sizeof(r));
    mc_hex_encode(r, sizeof(r), out);
    out[32] = '\0';
}

static void op_options(gw_sub_t *s, gw_op_opts_t *o, char *request_id)
{
    gw_wsconn_t *c = s->c;
    const gw_live_t *live = c->lw->live;
    new_request_id(request_id);
    memset(o, 0, sizeof(*o));
    o->w = c->lw->gw;
    o->schema = s->schema;
    o->doc = s->doc;
    o->operation_name = s->operation_name;
    o->variables = s->variables;
    o->claims = c->has_claims ? &c->claims : NULL;
    o->unauthenticated_why = c->has_claims ? NULL : "no access token was given in connection_init";
    o->authorization = c->authorization;
    o->request_id = request_id;
    o->client_address = c->client_address;
    o->internal_key = live->internal_key;
    o->data = s;
}

/* A query or mutation: one `next` and `complete`, or `error` when it never ran
 * (variables that do not fit). */
static void single_done(gw_op_t *op, void *data)
{
    gw_sub_t *s = data;
    gw_wsconn_t *c = s->c;
    s->op = NULL;
    gql_exec *e = gw_op_exec(op);
    if (!gql_exec_has_data(e)) {
        send_errors(c, s->id_json, gql_exec_errors(e), "BAD_USER_INPUT");
    } else {
        gw_errors_default_code(gql_exec_errors(e), "INTERNAL");
        gql_buf out;
        gql_buf_init(&out, 0);
        if (gql_exec_write_response(e, &out) != 0) {
            send_error(c, s->id_json, "INTERNAL", "The result is larger than the gateway sends.");
        } else {
            send_op_message(c, s->id_json, "next", out.data, out.len);
            send_op_message(c, s->id_json, "complete", NULL, 0);
        }
        gql_buf_free(&out);
    }
    gw_op_free(op);
    sub_free(s);
}

static void schedule(gw_sub_t *s);

/* One event of a subscription has run: its result is the next message. */
static void event_done(gw_op_t *op, void *data)
{
    gw_sub_t *s = data;
    gw_wsconn_t *c = s->c;
    s->op = NULL;
    gql_exec *e = gw_op_exec(op);
    gw_errors_default_code(gql_exec_errors(e), gql_exec_has_data(e) ? "INTERNAL" : "BAD_USER_INPUT");
    gql_buf out;
    gql_buf_init(&out, 0);
    if (gql_exec_write_response(e, &out) == 0)
        send_op_message(c, s->id_json, "next", out.data, out.len);
    else
        mc_log_warn("a subscription's result is larger than the gateway sends; the event is skipped");
    gql_buf_free(&out);
    gw_op_free(op);
    json_decref(s->op_root);
    s->op_root = NULL;
    if (s->qhead != NULL)
        schedule(s);
}

/* Runs the subscription's next event. */
static void run_next(gw_sub_t *s)
{
    gw_wsconn_t *c = s->c;
    if (s->op != NULL || s->qhead == NULL || c->closing)
        return;
    gw_queued_t *q = s->qhead;
    s->qhead = q->next;
    if (s->qhead == NULL)
        s->qtail = NULL;
    --s->nq;
    --c->pending_events;
    s->op_root = json_object();
    json_object_setn_new_nocheck(s->op_root, s->field->name, s->field->name_len, q->payload);
    free(q);
    char rid[33];
    gw_op_opts_t o;
    op_options(s, &o, rid);
    o.root = s->op_root;
    o.done = event_done;
    gw_op_t *op = gw_op_start(&o);
    if (op != NULL) /* NULL: it finished at once and event_done ran */
        s->op = op;
}

static void on_runner(uv_idle_t *h)
{
    gw_live_worker_t *lw = h->data;
    /* Events scheduled while these run wait for the next loop iteration. */
    gw_sub_t *tail = lw->run_tail;
    while (lw->run_head != NULL) {
        gw_sub_t *s = lw->run_head;
        bool last = s == tail;
        run_unlink(lw, s);
        run_next(s);
        if (last)
            break;
    }
    if (lw->run_head == NULL) {
        uv_idle_stop(&lw->runner);
        lw->runner_active = false;
    }
}

static void schedule(gw_sub_t *s)
{
    gw_live_worker_t *lw = s->c->lw;
    if (s->scheduled || lw->disposing)
        return;
    s->scheduled = true;
    s->rnext = NULL;
    s->rprev = lw->run_tail;
    if (lw->run_tail != NULL)
        lw->run_tail->rnext = s;
    else
        lw->run_head = s;
    lw->run_tail = s;
    if (!lw->runner_active) {
        uv_idle_start(&lw->runner, on_runner);
        lw->runner_active = true;
    }
}

/* Queues an event's payload (a new reference is taken) for a subscription. */
static void enqueue(gw_sub_t *s, json_t *payload)
{
    gw_wsconn_t *c = s->c;
    if (c->closing)
        return;
    unsigned max = c->lw->live->cfg.max_pending_events;
    if (c->pending_events >= max) {
        char why[124];
        snprintf(why, sizeof(why), "Too slow: more than %u events waiting to be sent", max);
        gw_ws_close(c, 1013, why);
        return;
    }
    gw_queued_t *q = malloc(sizeof(*q));
    if (q == NULL) {
        gw_ws_close(c, 1011, "Out of memory");
        return;
    }
    q->next = NULL;
    q->payload = json_incref(payload);
    if (s->qtail != NULL)
        s->qtail->next = q;
    else
        s->qhead = q;
    s->qtail = q;
    ++s->nq;
    ++c->pending_events;
    schedule(s);
}

/* --- subscribe ------------------------------------------------------------------------------------ */

/* The root field's own checks: who may subscribe, and a well-formed order id. Returns 0,
 * or -1 after sending the error. */
static int check_root(gw_sub_t *s, const gql_subscription_root *root)
{
    gw_wsconn_t *c = s->c;
    const gw_field_t *f = root->field->user;
    /* every scope follows somebody's orders: there is nothing for an anonymous client */
    if (!c->has_claims) {
        send_error(c, s->id_json, "UNAUTHENTICATED",
                   "Subscriptions need a signed-in user: send {\"authorization\": \"Bearer <access token>\"} as the "
                   "payload of connection_init.");
        return -1;
    }
    if (f != NULL && f->roles != 0 && (f->roles & (unsigned)c->claims.role) == 0) {
        send_error(c, s->id_json, "FORBIDDEN", "Your role may not use this subscription.");
        return -1;
    }
    switch (s->scope) {
    case GW_SCOPE_ORDER: {
        json_t *id = json_object_get(root->args, "id");
        const char *v = json_string_value(id);
        size_t n = v != NULL ? strlen(v) : 0;
        if (v == NULL || !mc_is_object_id(v, n)) {
            send_error(c, s->id_json, "BAD_USER_INPUT", "id is not an order id (24 hexadecimal characters).");
            return -1;
        }
        for (size_t i = 0; i < n; ++i)
            s->key[i] = (char)(v[i] >= 'A' && v[i] <= 'F' ? v[i] - 'A' + 'a' : v[i]);
        s->key[n] = '\0';
        break;
    }
    case GW_SCOPE_CUSTOMER:
    case GW_SCOPE_SELLER:
        snprintf(s->key, sizeof(s->key), "%s", c->claims.sub);
        break;
    case GW_SCOPE_ALL:
        break;
    }
    return 0;
}

/* The checks a new operation id must pass now (again after the rate limiter answered):
 * 0, or -1 after telling the client (or closing). */
static int admit_id(gw_wsconn_t *c, const char *id, size_t idlen, const char *id_json)
{
    if (find_op(c, id, idlen) != NULL || (c->npending > 0 && find_pending(c, id, idlen) != NULL)) {
        char why[124 + GW_WS_MAX_ID];
        snprintf(why, sizeof(why), "Subscriber for %.*s already exists", (int)idlen, id);
        gw_ws_close(c, 4409, why);
        return -1;
    }
    const gw_live_t *live = c->lw->live;
    if (c->nops + c->npending >= live->cfg.max_operations) {
        char msg[160];
        snprintf(msg, sizeof(msg), "Too many operations on this connection (at most %u at a time): complete some first.",
                 live->cfg.max_operations);
        send_error(c, id_json, "RATE_LIMITED", msg);
        return -1;
    }
    return 0;
}

static void start_prepared(gw_wsconn_t *c, const char *id, size_t idlen, char *id_json, gw_schema_t *schema,
                           gql_document *doc, const char *operation_name, json_t *variables);

static void pending_free(gw_sub_pending_t *p)
{
    free(p->id);
    free(p->id_json);
    free(p->operation_name);
    gql_document_free(p->doc);
    gw_schema_unref(p->schema);
    json_decref(p->variables);
    free(p);
}

static void on_rate_checked(const gw_rl_result_t *r, void *data)
{
    gw_sub_pending_t *p = data;
    gw_live_worker_t *lw = p->lw;
    if (lw == NULL) { /* the worker ended */
        pending_free(p);
        return;
    }
    if (p->prev != NULL)
        p->prev->next = p->next;
    else
        lw->pending = p->next;
    if (p->next != NULL)
        p->next->prev = p->prev;
    gw_wsconn_t *c = lw->conns;
    while (c != NULL && c->serial != p->serial)
        c = c->next;
    if (c != NULL && !p->cancelled)
        --c->npending;
    /* The connection's next messages were held back meanwhile (their order matters: a
     * complete, a ping answered as a fence): read on once this one is settled. */
    bool resume = c != NULL && c->npending == 0 && c->wsi != NULL && !c->closing;
    if (c == NULL || c->closing || lw->disposing || p->cancelled) {
        pending_free(p);
        if (resume)
            lws_rx_flow_control(c->wsi, 1);
        return;
    }
    if (!r->allowed) {
        char msg[200];
        if (r->unavailable)
            snprintf(msg, sizeof(msg), "Rate limits cannot be checked right now; try again shortly.");
        else
            snprintf(msg, sizeof(msg), "Too many requests: the %s limit is spent; retry in %u s.",
                     r->refused_by == GW_RL_COST ? "cost" : "request", r->retry_after_s);
        send_error(c, p->id_json, "RATE_LIMITED", msg);
        pending_free(p);
        if (resume)
            lws_rx_flow_control(c->wsi, 1);
        return;
    }
    if (admit_id(c, p->id, p->idlen, p->id_json) != 0) {
        pending_free(p);
        if (resume && !c->closing)
            lws_rx_flow_control(c->wsi, 1);
        return;
    }
    char *id_json = p->id_json;
    p->id_json = NULL;
    gw_schema_t *schema = p->schema;
    p->schema = NULL;
    gql_document *doc = p->doc;
    p->doc = NULL;
    start_prepared(c, p->id, p->idlen, id_json, schema, doc, p->operation_name, p->variables);
    pending_free(p);
    if (resume && !c->closing && c->wsi != NULL)
        lws_rx_flow_control(c->wsi, 1);
}

void gw_sub_start(gw_wsconn_t *c, const char *id, size_t idlen, const char *query, size_t qlen,
                  const char *operation_name, json_t *variables)
{
    if (c->lw->disposing) /* the connection is being closed; nothing runs any more */
        return;
    gw_live_worker_t *lw = c->lw;
    const gw_live_t *live = lw->live;
    json_t *idv = json_stringn(id, idlen);
    char *id_json = json_dumps(idv, JSON_ENCODE_ANY | JSON_COMPACT);
    json_decref(idv);
    if (id_json == NULL) {
        gw_ws_close(c, 1011, "Out of memory");
        return;
    }
    if (admit_id(c, id, idlen, id_json) != 0) {
        free(id_json);
        return;
    }
    const gw_config_t *cfg = &live->g->cfg;
    gql_errors errs;
    gql_errors_init(&errs);
    gw_schema_t *schema = gw_gateway_schema(live->g);
    gql_document *doc = NULL;
    if (schema == NULL) {
        send_error(c, id_json, "INTERNAL", "The gateway has no schema loaded.");
        goto Fail;
    }
    gql_parse_options po;
    memset(&po, 0, sizeof(po));
    po.max_tokens = cfg->limits.max_tokens;
    po.copy_source = true;
    po.arena_limit = 64u << 20;
    doc = gql_parse(query, qlen, &po, &errs);
    gql_validate_options vo = gw_limits_validate_options(cfg);
    gql_operation_stats st;
    memset(&st, 0, sizeof(st));
    if (doc == NULL)
        gw_limits_mark_tokens(cfg, &errs);
    if (doc == NULL || gql_validate(schema->gql, doc, &vo, &errs) != 0 ||
        gw_limits_apply(cfg, schema->gql, doc, operation_name, variables, &st, &errs) != 0) {
        if (!cfg->introspection)
            gw_limits_count_introspection(&errs);
        if (!cfg->suggestions)
            gw_errors_hide_suggestions(&errs);
        send_errors(c, id_json, &errs, "BAD_USER_INPUT");
        goto Fail;
    }
    gql_errors_free(&errs);
    gw_ratelimit_t *rl = live->g->ratelimit;
    if (!gw_ratelimit_enabled(rl)) {
        start_prepared(c, id, idlen, id_json, schema, doc, operation_name, variables);
        return;
    }
    gw_sub_pending_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        abort();
    p->lw = lw;
    p->serial = c->serial;
    p->id = malloc(idlen + 1);
    if (p->id == NULL)
        abort();
    memcpy(p->id, id, idlen);
    p->id[idlen] = '\0';
    p->idlen = idlen;
    p->id_json = id_json;
    p->operation_name = operation_name != NULL ? strdup(operation_name) : NULL;
    p->schema = schema;
    p->doc = doc;
    p->variables = json_incref(variables);
    p->cost = st.cost < 1 ? 1 : st.cost;
    p->next = lw->pending;
    if (lw->pending != NULL)
        lw->pending->prev = p;
    lw->pending = p;
    ++c->npending;
    /* hold the connection's next messages until the limiter answered (order preserved) */
    if (c->wsi != NULL)
        lws_rx_flow_control(c->wsi, 0);
    char identity[300];
    gw_ratelimit_identity(c->has_claims ? &c->claims : NULL, c->client_address, identity, sizeof(identity));
    gw_ratelimit_check(rl, mc_worker_redis(lw->mw), identity, p->cost, on_rate_checked, p);
    return;

Fail:
    gql_errors_free(&errs);
    gql_document_free(doc);
    gw_schema_unref(schema);
    free(id_json);
}

/* Starts an operation that passed every check; takes id_json, schema and doc. */
static void start_prepared(gw_wsconn_t *c, const char *id, size_t idlen, char *id_json, gw_schema_t *schema,
                           gql_document *doc, const char *operation_name, json_t *variables)
{
    gw_live_worker_t *lw = c->lw;
    gql_errors errs;
    gw_sub_t *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        gw_ws_close(c, 1011, "Out of memory");
        goto Fail;
    }
    s->c = c;
    s->id = malloc(idlen + 1);
    memcpy(s->id, id, idlen);
    s->id[idlen] = '\0';
    s->idlen = idlen;
    s->id_json = id_json;
    s->schema = schema;
    s->doc = doc;
    s->operation_name = operation_name != NULL ? strdup(operation_name) : NULL;
    s->variables = json_incref(variables);
    s->next = c->ops;
    if (c->ops != NULL)
        c->ops->prev = s;
    c->ops = s;
    ++c->nops;

    const gql_operation_node *opnode = gw_select_operation(doc, operation_name);
    if (opnode == NULL || opnode->operation != GQL_OP_SUBSCRIPTION) {
        /* a query or mutation (or no operation to select: the engine says why) */
        char rid[33];
        gw_op_opts_t o;
        op_options(s, &o, rid);
        o.done = single_done;
        gw_op_t *op = gw_op_start(&o);
        if (op != NULL) /* NULL: it finished at once and single_done freed s */
            s->op = op;
        return;
    }

    s->stream = true;
    gql_errors_init(&errs);
    gql_subscription_root root;
    memset(&root, 0, sizeof(root));
    if (gql_subscription_prepare(schema->gql, doc, operation_name, variables, &root, &errs) != 0) {
        send_errors(c, s->id_json, &errs, "BAD_USER_INPUT");
        gql_errors_free(&errs);
        sub_free(s);
        return;
    }
    gql_errors_free(&errs);
    s->field = root.field;
    const char *why = NULL;
    int scope = gw_sub_field_scope(root.field, &why);
    if (scope < 0) { /* checked at start; only a reloaded schema could differ */
        send_error(c, s->id_json, "INTERNAL", why);
        s->stream = false;
    } else {
        s->scope = (gw_evscope_t)scope;
        if (check_root(s, &root) != 0) {
            s->stream = false;
        } else if (sub_index(lw, s) != 0) {
            send_error(c, s->id_json, "INTERNAL", "Out of memory.");
            s->stream = false;
        }
    }
    json_decref(root.args);
    json_decref(root.variables);
    if (!s->stream)
        sub_free(s);
    return;

Fail:
    gql_document_free(doc);
    gw_schema_unref(schema);
    free(id_json);
}

/* --- events ------------------------------------------------------------------------------------------ */

/* The payloads of one event, built once per view: the full one, and one per seller. */
typedef struct views {
    const gw_order_event_t *ev;
    json_t *full;
    struct {
        char sub[25];
        json_t *payload;
    } sellers[8];
    unsigned nsellers;
    json_t *more; /* sellers beyond the 8: {sub: payload} */
} views_t;

static json_t *payload_for(views_t *v, const mc_claims_t *claims, mc_order_view_t view)
{
    if (view == MC_ORDER_FULL) {
        if (v->full == NULL)
            v->full = gw_order_event_payload(v->ev, mc_order_view(v->ev->order, view, claims->sub));
        return v->full;
    }
    for (unsigned i = 0; i < v->nsellers; ++i)
        if (strcmp(v->sellers[i].sub, claims->sub) == 0)
            return v->sellers[i].payload;
    json_t *found = v->more != NULL ? json_object_get(v->more, claims->sub) : NULL;
    if (found != NULL)
        return found;
    json_t *p = gw_order_event_payload(v->ev, mc_order_view(v->ev->order, view, claims->sub));
    if (v->nsellers < sizeof(v->sellers) / sizeof(v->sellers[0])) {
        snprintf(v->sellers[v->nsellers].sub, sizeof(v->sellers[0].sub), "%s", claims->sub);
        v->sellers[v->nsellers++].payload = p;
    } else {
        if (v->more == NULL)
            v->more = json_object();
        json_object_set_new(v->more, claims->sub, p);
    }
    return p;
}

static void deliver(views_t *v, gw_sub_t *s)
{
    gw_wsconn_t *c = s->c;
    if (c->closing || !c->has_claims)
        return;
    mc_order_view_t view = mc_order_visibility(v->ev->order, false, c->claims.role, c->claims.sub);
    if (view == MC_ORDER_HIDDEN)
        return;
    json_t *p = payload_for(v, &c->claims, view);
    if (p != NULL)
        enqueue(s, p);
}

static void deliver_bucket(views_t *v, gw_ibucket_t *b, gw_evscope_t scope)
{
    for (gw_sub_t *s = b != NULL ? b->head : NULL; s != NULL; s = s->inext)
        if (s->scope == scope)
            deliver(v, s);
}

void gw_sub_on_message(gw_live_worker_t *lw, const char *msg, size_t len)
{
    if (lw->disposing)
        return;
    ++lw->events;
    gw_order_event_t ev;
    char why[160];
    if (gw_order_event_parse(msg, len, &ev, why, sizeof(why)) != 0) {
        ++lw->dropped_events;
        mc_log_json(MC_LOG_WARN, NULL, json_pack("{s:s,s:i}", "channel", "orders:events", "bytes", (int)len),
                    "an order event was dropped: %s", why);
        gw_order_event_free(&ev);
        return;
    }
    if (!gw_versions_admit(lw->versions, ev.order_id, ev.version)) {
        mc_log_json(MC_LOG_DEBUG, NULL, json_pack("{s:s,s:I}", "order", ev.order_id, "version", (json_int_t)ev.version),
                    "an order event seen before was ignored");
        gw_order_event_free(&ev);
        return;
    }
    if (lw->nsubs > 0) {
        views_t v;
        memset(&v, 0, sizeof(v));
        v.ev = &ev;
        deliver_bucket(&v, index_find(&lw->by_order, ev.order_id), GW_SCOPE_ORDER);
        deliver_bucket(&v, index_find(&lw->by_user, ev.customer_id), GW_SCOPE_CUSTOMER);
        size_t i, j;
        json_t *sid;
        json_array_foreach(ev.seller_ids, i, sid)
        {
            bool seen = false; /* a seller listed twice gets one event */
            for (j = 0; j < i && !seen; ++j)
                seen = json_equal(json_array_get(ev.seller_ids, j), sid);
            if (!seen)
                deliver_bucket(&v, index_find(&lw->by_user, json_string_value(sid)), GW_SCOPE_SELLER);
        }
        for (gw_sub_t *s = lw->all; s != NULL; s = s->inext)
            deliver(&v, s);
        json_decref(v.full);
        for (unsigned k = 0; k < v.nsellers; ++k)
            json_decref(v.sellers[k].payload);
        json_decref(v.more);
    }
    gw_order_event_free(&ev);
}

/* --- the worker ------------------------------------------------------------------------------------------ */

int gw_sub_worker_init(gw_live_worker_t *lw)
{
    uv_idle_init(lw->loop, &lw->runner);
    lw->runner.data = lw;
    lw->runner_open = true;
    ++lw->open_handles;
    lw->versions = gw_versions_create(lw->live->cfg.recent_orders);
    return lw->versions != NULL ? 0 : -1;
}

static void on_runner_closed(uv_handle_t *h)
{
    gw_live_handle_closed(h->data);
}

void gw_sub_worker_close(gw_live_worker_t *lw)
{
    /* subscribe messages still waiting for Redis: their answers find no worker */
    for (gw_sub_pending_t *p = lw->pending; p != NULL; p = p->next)
        p->lw = NULL;
    lw->pending = NULL;
    while (lw->run_head != NULL)
        run_unlink(lw, lw->run_head);
    if (lw->runner_open) {
        lw->runner_open = false;
        uv_idle_stop(&lw->runner);
        lw->runner_active = false;
        uv_close((uv_handle_t *)&lw->runner, on_runner_closed);
    }
    index_free(&lw->by_order);
    index_free(&lw->by_user);
    lw->all = NULL;
    gw_versions_free(lw->versions);
    lw->versions = NULL;
}
