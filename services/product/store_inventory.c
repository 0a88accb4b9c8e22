/*
 * Implementation of inventory.h: the stock ledger and the reservation state machine.
 * Every MongoDB access here reads or writes one document by _id, except the two audit and
 * maintenance queries (inv_movements, the sweep of the open reservations).
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "inventory.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_util.h"
#include "store.h"

#define APPEND_MAX_ATTEMPTS 10000

/* --- newest entries seen by this process ---------------------------------------------------- */

/* A direct-mapped table of the newest (seq, balance) this process saw per product. A stale
 * entry only costs probes: any entry ever seen is a valid starting point. */
#define HINTS 4096
static struct hint {
    char pid[25];
    inv_head_t head;
} hints[HINTS];
static pthread_mutex_t hints_lock = PTHREAD_MUTEX_INITIALIZER;

static unsigned hint_slot(const char *pid)
{
    return mc_fnv1a_str(MC_FNV1A_INIT, pid) % HINTS;
}

/* Replaces *best by this process's entry when it is at least as new. True when it did. */
static bool hint_get(const char *pid, inv_head_t *best)
{
    unsigned s = hint_slot(pid);
    bool used = false;
    pthread_mutex_lock(&hints_lock);
    if (strcmp(hints[s].pid, pid) == 0 && hints[s].head.seq >= best->seq && hints[s].head.seq > 0) {
        *best = hints[s].head;
        used = true;
    }
    pthread_mutex_unlock(&hints_lock);
    return used;
}

static void hint_put(const char *pid, const inv_head_t *h)
{
    unsigned s = hint_slot(pid);
    pthread_mutex_lock(&hints_lock);
    if (strcmp(hints[s].pid, pid) != 0 || hints[s].head.seq < h->seq) {
        snprintf(hints[s].pid, sizeof(hints[s].pid), "%s", pid);
        hints[s].head = *h;
    }
    pthread_mutex_unlock(&hints_lock);
}

/* --- ledger entries ------------------------------------------------------------------------- */

typedef struct entry {
    bool exists;
    int64_t balance;
    char op[160];
} entry_t;

static void entry_id(char *buf, size_t sz, const char *pid, int64_t seq)
{
    snprintf(buf, sz, "%s:%lld", pid, (long long)seq);
}

/* Reads entry seq of pid. 0, or -1 on error. */
static int read_entry(mongoc_collection_t *c, const char *pid, int64_t seq, entry_t *e, bson_error_t *err)
{
    char id[64];
    entry_id(id, sizeof(id), pid, seq);
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    memset(e, 0, sizeof(*e));
    if (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        e->exists = true;
        if (bson_iter_init_find(&it, doc, "balance") && BSON_ITER_HOLDS_NUMBER(&it))
            e->balance = bson_iter_as_int64(&it);
        if (bson_iter_init_find(&it, doc, "op") && BSON_ITER_HOLDS_UTF8(&it))
            snprintf(e->op, sizeof(e->op), "%s", bson_iter_utf8(&it, NULL));
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    return r;
}

static int head_in(mongoc_collection_t *c, const char *pid, const inv_head_t *hint, inv_head_t *out, bson_error_t *err)
{
    inv_head_t lo = {0, 0};
    entry_t e;
    if (hint != NULL && hint->seq > 0) {
        lo = *hint;
        /* A balance decides what may be sold, so a caller's pair is checked against the
         * ledger unless this process's own memory (filled only from the ledger) is at
         * least as new. */
        if (!hint_get(pid, &lo)) {
            if (read_entry(c, pid, lo.seq, &e, err) != 0)
                return -1;
            if (e.exists)
                lo.balance = e.balance;
            else
                lo.seq = lo.balance = 0; /* not an entry: start from the beginning */
        }
    } else {
        hint_get(pid, &lo);
    }
    /* gallop: lo exists; find a missing hi */
    int64_t step = 1, hi;
    for (;;) {
        if (read_entry(c, pid, lo.seq + step, &e, err) != 0)
            return -1;
        if (!e.exists) {
            hi = lo.seq + step;
            break;
        }
        lo.seq += step;
        lo.balance = e.balance;
        step *= 2;
    }
    /* bisect (lo exists, hi does not) */
    while (hi - lo.seq > 1) {
        int64_t mid = lo.seq + (hi - lo.seq) / 2;
        if (read_entry(c, pid, mid, &e, err) != 0)
            return -1;
        if (e.exists) {
            lo.seq = mid;
            lo.balance = e.balance;
        } else {
            hi = mid;
        }
    }
    hint_put(pid, &lo);
    *out = lo;
    return 0;
}

int inv_head(mongoc_database_t *db, const char *product_id, const inv_head_t *hint, inv_head_t *out, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "stock_ledger");
    int r = head_in(c, product_id, hint, out, err);
    mongoc_collection_destroy(c);
    return r;
}

static void pause_us(unsigned us)
{
    struct timespec ts = {(time_t)(us / 1000000u), (long)(us % 1000000u) * 1000L};
    nanosleep(&ts, NULL);
}

inv_result_t inv_append(mongoc_database_t *db, inv_move_t *m, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "stock_ledger");
    inv_result_t r = INV_ERROR;
    inv_head_t h = m->hint;
    bson_oid_t pid_oid;
    if (!mc_mongo_oid_parse(m->product_id, &pid_oid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, 1, "malformed product id");
        goto Done;
    }
    for (int attempt = 0; attempt < APPEND_MAX_ATTEMPTS; ++attempt) {
        if (head_in(c, m->product_id, &h, &h, err) != 0)
            goto Done;
        int64_t balance = m->absolute ? m->target : h.balance + m->delta;
        if (balance < 0) {
            m->available = h.balance;
            r = INV_INSUFFICIENT;
            goto Done;
        }
        char id[64];
        entry_id(id, sizeof(id), m->product_id, h.seq + 1);
        bson_t doc = BSON_INITIALIZER, actor;
        BSON_APPEND_UTF8(&doc, "_id", id);
        BSON_APPEND_UTF8(&doc, "op", m->op);
        BSON_APPEND_OID(&doc, "productId", &pid_oid);
        BSON_APPEND_INT64(&doc, "seq", h.seq + 1);
        BSON_APPEND_INT64(&doc, "delta", balance - h.balance);
        BSON_APPEND_INT64(&doc, "balance", balance);
        BSON_APPEND_UTF8(&doc, "kind", m->kind);
        if (m->order_id != NULL)
            BSON_APPEND_UTF8(&doc, "orderId", m->order_id);
        else
            BSON_APPEND_NULL(&doc, "orderId");
        if (m->reason != NULL)
            BSON_APPEND_UTF8(&doc, "reason", m->reason);
        else
            BSON_APPEND_NULL(&doc, "reason");
        BSON_APPEND_DOCUMENT_BEGIN(&doc, "actor", &actor);
        BSON_APPEND_UTF8(&actor, "type", m->actor && m->actor->type ? m->actor->type : "system");
        if (m->actor != NULL && m->actor->id[0] != '\0')
            BSON_APPEND_UTF8(&actor, "id", m->actor->id);
        if (m->actor != NULL && m->actor->role[0] != '\0')
            BSON_APPEND_UTF8(&actor, "role", m->actor->role);
        bson_append_document_end(&doc, &actor);
        BSON_APPEND_DATE_TIME(&doc, "at", mc_now_ms());
        bool ok = mongoc_collection_insert_one(c, &doc, NULL, NULL, err);
        bson_destroy(&doc);
        if (ok) {
            m->after.seq = h.seq + 1;
            m->after.balance = balance;
            m->applied = balance - h.balance;
            hint_put(m->product_id, &m->after);
            r = INV_APPENDED;
            goto Done;
        }
        if (!mc_mongo_is_duplicate(err))
            goto Done;
        /* Which key? The entry at that seq exists when another writer won the seq. */
        entry_t e;
        if (read_entry(c, m->product_id, h.seq + 1, &e, err) != 0)
            goto Done;
        if (!e.exists || strcmp(e.op, m->op) == 0) {
            r = INV_ALREADY; /* the op exists (at another seq, or at this one) */
            goto Done;
        }
        h.seq += 1;
        h.balance = e.balance;
        hint_put(m->product_id, &h);
        /* lost a race: a short random pause spreads the next attempts of the losers */
        unsigned char j;
        mc_random_bytes(&j, 1);
        pause_us(50u + (unsigned)j * (attempt < 8 ? (unsigned)attempt + 1 : 8u) * 4u);
    }
    bson_set_error(err, MONGOC_ERROR_COMMAND, 1, "too many concurrent stock movements; retry");
Done:
    mongoc_collection_destroy(c);
    return r;
}

/* Searches the entries after from_seq for op. 1 found, 0 not (up to the newest), -1 error. */
static int find_op(mongoc_collection_t *c, const char *pid, int64_t from_seq, const char *op, bson_error_t *err)
{
    for (int64_t s = from_seq + 1;; ++s) {
        entry_t e;
        if (read_entry(c, pid, s, &e, err) != 0)
            return -1;
        if (!e.exists)
            return 0;
        inv_head_t h = {s, e.balance};
        hint_put(pid, &h);
        if (strcmp(e.op, op) == 0)
            return 1;
    }
}

static json_t *movement_json(const bson_t *doc)
{
    json_t *o = json_object();
    bson_iter_t it;
    char ts[MC_TIME_BUFSZ];
    json_object_set_new(o, "orderId", json_null());
    json_object_set_new(o, "reason", json_null());
    if (!bson_iter_init(&it, doc))
        return o;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if ((strcmp(k, "seq") == 0 || strcmp(k, "delta") == 0 || strcmp(k, "balance") == 0) && BSON_ITER_HOLDS_NUMBER(&it)) {
            json_object_set_new(o, k, json_integer(bson_iter_as_int64(&it)));
        } else if ((strcmp(k, "kind") == 0 || strcmp(k, "orderId") == 0 || strcmp(k, "reason") == 0) &&
                   BSON_ITER_HOLDS_UTF8(&it)) {
            json_object_set_new(o, k, json_string(bson_iter_utf8(&it, NULL)));
        } else if (strcmp(k, "at") == 0 && BSON_ITER_HOLDS_DATE_TIME(&it)) {
            json_object_set_new(o, "at", json_string(mc_time_format(bson_iter_date_time(&it), ts)));
        } else if (strcmp(k, "actor") == 0 && BSON_ITER_HOLDS_DOCUMENT(&it)) {
            bson_iter_t a;
            json_t *actor = json_object();
            if (bson_iter_recurse(&it, &a))
                while (bson_iter_next(&a))
                    if (BSON_ITER_HOLDS_UTF8(&a))
                        json_object_set_new(actor, bson_iter_key(&a), json_string(bson_iter_utf8(&a, NULL)));
            json_object_set_new(o, "actor", actor);
        }
    }
    return o;
}

int inv_movements(mongoc_database_t *db, const char *product_id, int64_t before, int64_t limit, json_t **items,
                  bool *has_next, bson_error_t *err)
{
    bson_oid_t oid;
    *items = json_array();
    *has_next = false;
    if (!mc_mongo_oid_parse(product_id, &oid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "stock_ledger");
    bson_t *filter = before > 0 ? BCON_NEW("productId", BCON_OID(&oid), "seq", "{", "$lt", BCON_INT64(before), "}")
                                : BCON_NEW("productId", BCON_OID(&oid));
    bson_t *opts = BCON_NEW("sort", "{", "seq", BCON_INT32(-1), "}", "limit", BCON_INT64(limit + 1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        if ((int64_t)json_array_size(*items) == limit) {
            *has_next = true;
            break;
        }
        json_array_append_new(*items, movement_json(doc));
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

/* --- reservations ----------------------------------------------------------------------------- */

typedef struct state {
    bool exists;
    char state[16];  /* reserved, failed, committed, released, expired */
    char reason[16]; /* failed: insufficient, expired, released */
    json_t *details;
} state_t;

typedef struct reservation {
    bool exists;
    char order_id[INV_ORDER_ID_MAX + 1];
    inv_item_t items[INV_MAX_ITEMS];
    size_t n;
    char fingerprint[INV_MAX_ITEMS * 48];
    int64_t created_ms, expires_ms;
    state_t decision, final, refund;
} reservation_t;

void inv_outcome_free(inv_outcome_t *o)
{
    json_decref(o->details);
    json_decref(o->body);
    o->details = o->body = NULL;
}

static void fail(inv_outcome_t *o, mc_err_t err, json_t *details, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void fail(inv_outcome_t *o, mc_err_t err, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(o->msg, sizeof(o->msg), fmt, ap);
    va_end(ap);
    o->err = err;
    o->status = 0;
    json_decref(o->details);
    o->details = details;
}

static void db_fail(inv_outcome_t *o, const bson_error_t *err)
{
    o->db_failed = true;
    o->bson = *err;
    o->err = mc_mongo_classify(mc_mongo_current(), err);
    if (o->err == MC_ERR_CONFLICT)
        o->err = MC_ERR_INTERNAL; /* an unexpected duplicate here is a bug, not a client conflict */
    snprintf(o->msg, sizeof(o->msg), "%s",
             o->err == MC_ERR_UNAVAILABLE ? "the product database is unavailable; retry later" : "the stock operation failed");
}

static void touch(inv_outcome_t *o, const char *pid)
{
    for (size_t i = 0; i < o->ntouched; ++i)
        if (strcmp(o->touched[i], pid) == 0)
            return;
    if (o->ntouched < INV_MAX_ITEMS)
        snprintf(o->touched[o->ntouched++], 25, "%s", pid);
}

static void fingerprint(const inv_item_t *items, size_t n, char *out, size_t outsz)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < outsz; ++i)
        o += (size_t)snprintf(out + o, outsz - o, "%s%s:%lld", i ? "," : "", items[i].product_id, (long long)items[i].quantity);
}

static void state_id(char *buf, size_t sz, const char *order, const char *slot)
{
    snprintf(buf, sz, "%s|%s", order, slot);
}

static int read_state(mongoc_collection_t *c, const char *order, const char *slot, state_t *s, bson_error_t *err)
{
    char id[INV_ORDER_ID_MAX + 16];
    state_id(id, sizeof(id), order, slot);
    json_decref(s->details);
    memset(s, 0, sizeof(*s));
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(id));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    if (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        s->exists = true;
        if (bson_iter_init_find(&it, doc, "state") && BSON_ITER_HOLDS_UTF8(&it))
            snprintf(s->state, sizeof(s->state), "%s", bson_iter_utf8(&it, NULL));
        if (bson_iter_init_find(&it, doc, "reason") && BSON_ITER_HOLDS_UTF8(&it))
            snprintf(s->reason, sizeof(s->reason), "%s", bson_iter_utf8(&it, NULL));
        if (bson_iter_init_find(&it, doc, "details") && BSON_ITER_HOLDS_UTF8(&it))
            s->details = json_loads(bson_iter_utf8(&it, NULL), 0, NULL);
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    return r;
}

/* Writes a state slot once. 1 written, 0 already there (s then holds the winner), -1
 * error. */
static int write_state(mongoc_collection_t *c, const char *order, const char *slot, const char *state, const char *reason,
                       const json_t *details, state_t *s, bson_error_t *err)
{
    char id[INV_ORDER_ID_MAX + 16];
    state_id(id, sizeof(id), order, slot);
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "state", BCON_UTF8(state), "at", BCON_DATE_TIME(mc_now_ms()));
    if (reason != NULL)
        BSON_APPEND_UTF8(doc, "reason", reason);
    if (details != NULL) {
        char *d = json_dumps(details, JSON_COMPACT);
        BSON_APPEND_UTF8(doc, "details", d ? d : "[]");
        free(d);
    }
    bool ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err);
    bson_destroy(doc);
    if (ok) {
        json_decref(s->details);
        memset(s, 0, sizeof(*s));
        s->exists = true;
        snprintf(s->state, sizeof(s->state), "%s", state);
        snprintf(s->reason, sizeof(s->reason), "%s", reason ? reason : "");
        s->details = details ? json_deep_copy(details) : NULL;
        return 1;
    }
    if (!mc_mongo_is_duplicate(err))
        return -1;
    return read_state(c, order, slot, s, err) == 0 ? 0 : -1;
}

static void reservation_clear(reservation_t *r)
{
    json_decref(r->decision.details);
    json_decref(r->final.details);
    json_decref(r->refund.details);
    r->decision.details = r->final.details = r->refund.details = NULL;
}

/* Loads a reservation and its states. 0 (r->exists says whether found), -1 on error. */
static int load(mongoc_database_t *db, const char *order, reservation_t *r, bson_error_t *err)
{
    reservation_clear(r);
    memset(r, 0, sizeof(*r));
    snprintf(r->order_id, sizeof(r->order_id), "%s", order);
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reservations");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(order));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    if (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it, items, item;
        r->exists = true;
        if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
            r->created_ms = bson_iter_date_time(&it);
        if (bson_iter_init_find(&it, doc, "expiresAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
            r->expires_ms = bson_iter_date_time(&it);
        if (bson_iter_init_find(&it, doc, "fingerprint") && BSON_ITER_HOLDS_UTF8(&it))
            snprintf(r->fingerprint, sizeof(r->fingerprint), "%s", bson_iter_utf8(&it, NULL));
        if (bson_iter_init_find(&it, doc, "items") && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &items)) {
            while (bson_iter_next(&items) && r->n < INV_MAX_ITEMS) {
                if (!BSON_ITER_HOLDS_DOCUMENT(&items) || !bson_iter_recurse(&items, &item))
                    continue;
                inv_item_t *x = &r->items[r->n];
                memset(x, 0, sizeof(*x));
                while (bson_iter_next(&item)) {
                    const char *k = bson_iter_key(&item);
                    if (strcmp(k, "productId") == 0 && BSON_ITER_HOLDS_UTF8(&item))
                        snprintf(x->product_id, sizeof(x->product_id), "%s", bson_iter_utf8(&item, NULL));
                    else if (strcmp(k, "quantity") == 0 && BSON_ITER_HOLDS_NUMBER(&item))
                        x->quantity = bson_iter_as_int64(&item);
                    else if (strcmp(k, "fromSeq") == 0 && BSON_ITER_HOLDS_NUMBER(&item))
                        x->from_seq = bson_iter_as_int64(&item);
                }
                if (strlen(x->product_id) == 24)
                    ++r->n;
            }
        }
    }
    int rc = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    if (rc != 0 || !r->exists)
        return rc;
    mongoc_collection_t *s = mongoc_database_get_collection(db, "reservation_states");
    rc = read_state(s, order, "decision", &r->decision, err) == 0 && read_state(s, order, "final", &r->final, err) == 0 &&
                 read_state(s, order, "refund", &r->refund, err) == 0
             ? 0
             : -1;
    mongoc_collection_destroy(s);
    return rc;
}

/* The status a client sees. */
static const char *status_of(const reservation_t *r, int64_t now)
{
    if (!r->decision.exists)
        return "pending";
    if (strcmp(r->decision.state, "failed") == 0) {
        if (strcmp(r->decision.reason, "released") == 0)
            return "released";
        if (strcmp(r->decision.reason, "expired") == 0)
            return "expired";
        return "failed";
    }
    if (!r->final.exists)
        return now >= r->expires_ms ? "expired" : "reserved";
    if (strcmp(r->final.state, "committed") == 0)
        return r->refund.exists ? "released" : "committed";
    return r->final.state;
}

static json_t *reservation_json(const reservation_t *r, int64_t now)
{
    char ts[MC_TIME_BUFSZ];
    json_t *items = json_array();
    for (size_t i = 0; i < r->n; ++i)
        json_array_append_new(items, json_pack("{s:s,s:I}", "productId", r->items[i].product_id, "quantity",
                                               (json_int_t)r->items[i].quantity));
    json_t *o = json_pack("{s:s,s:s,s:o}", "orderId", r->order_id, "status", status_of(r, now), "items", items);
    json_object_set_new(o, "expiresAt", json_string(mc_time_format(r->expires_ms, ts)));
    json_object_set_new(o, "createdAt", json_string(mc_time_format(r->created_ms, ts)));
    return o;
}

static void answer(inv_outcome_t *o, int status, const reservation_t *r)
{
    o->status = status;
    o->err = MC_OK;
    json_decref(o->body);
    o->body = reservation_json(r, mc_now_ms());
}

static void op_key(char *buf, size_t sz, char kind, const char *order, const char *pid)
{
    snprintf(buf, sz, "%c:%s:%s", kind, order, pid);
}

/* Returns the stock of every reserved line (idempotent). known[i] > 0: line i was
 * reserved by this caller (no need to search). 0, or -1 on error. */
static int return_lines(mongoc_database_t *db, reservation_t *r, const int64_t *known, const char *reason,
                        const inv_actor_t *actor, inv_outcome_t *o, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "stock_ledger");
    int rc = 0;
    for (size_t i = 0; i < r->n && rc == 0; ++i) {
        inv_item_t *x = &r->items[i];
        char rop[160], xop[160];
        op_key(rop, sizeof(rop), 'r', r->order_id, x->product_id);
        op_key(xop, sizeof(xop), 'x', r->order_id, x->product_id);
        int found = known != NULL && known[i] > 0 ? 1 : find_op(c, x->product_id, x->from_seq, rop, err);
        if (found < 0) {
            rc = -1;
            break;
        }
        if (found == 0)
            continue; /* never reserved (and, for a failed reservation, never will be) */
        inv_move_t m = {.product_id = x->product_id, .hint = {0, 0}, .op = xop, .delta = x->quantity, .kind = "return",
                        .order_id = r->order_id, .reason = reason, .actor = actor};
        inv_result_t res = inv_append(db, &m, err);
        if (res == INV_ERROR)
            rc = -1;
        else
            touch(o, x->product_id); /* (also when already applied: maybe by a retried write of ours) */
    }
    mongoc_collection_destroy(c);
    return rc;
}

static void open_remove(mongoc_database_t *db, const char *order)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reservations_open");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(order));
    mongoc_collection_delete_one(c, filter, NULL, NULL, NULL);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
}

static int open_add(mongoc_database_t *db, const char *order, int64_t created, int64_t expires, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reservations_open");
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(order), "createdAt", BCON_DATE_TIME(created), "expiresAt", BCON_DATE_TIME(expires));
    bool ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err);
    bson_destroy(doc);
    mongoc_collection_destroy(c);
    return ok || mc_mongo_is_duplicate(err) ? 0 : -1;
}

/* Marks an open reservation as reserved: the sweep leaves it alone until it expires.
 * Several writers write the same value, so FerretDB's read-then-write is harmless here. */
static void open_mark_reserved(mongoc_database_t *db, const char *order)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reservations_open");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(order));
    bson_t *update = BCON_NEW("$set", "{", "reserved", BCON_BOOL(true), "}");
    mongoc_collection_update_one(c, filter, update, NULL, NULL, NULL);
    bson_destroy(update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
}

/* Reserves the lines and decides. On return r->decision is set (unless -1). */
static int execute(mongoc_database_t *db, reservation_t *r, const inv_actor_t *actor, inv_outcome_t *o, bson_error_t *err)
{
    int64_t known[INV_MAX_ITEMS] = {0};
    json_t *short_lines = NULL;
    const char *reason = NULL;
    int64_t stop_at = r->created_ms + INV_EXECUTOR_DEADLINE_MS;
    if (r->expires_ms < stop_at)
        stop_at = r->expires_ms;
    mongoc_collection_t *ledger = mongoc_database_get_collection(db, "stock_ledger");
    int rc = 0;
    for (size_t i = 0; i < r->n; ++i) {
        inv_item_t *x = &r->items[i];
        if (mc_now_ms() >= stop_at) {
            reason = "expired";
            break;
        }
        char op[160];
        op_key(op, sizeof(op), 'r', r->order_id, x->product_id);
        inv_move_t m = {.product_id = x->product_id, .hint = {0, 0}, .op = op, .delta = -x->quantity, .kind = "reserve",
                        .order_id = r->order_id, .reason = "reservation", .actor = actor};
        inv_result_t res = inv_append(db, &m, err);
        if (res == INV_ERROR) {
            rc = -1;
            break;
        }
        if (res == INV_APPENDED) {
            known[i] = m.after.seq;
            touch(o, x->product_id);
        } else if (res == INV_ALREADY) {
            touch(o, x->product_id); /* its stock moved, maybe by this very call's retried write */
        } else if (res == INV_INSUFFICIENT) {
            /* not enough — unless a concurrent call of the same order already reserved it */
            int found = find_op(ledger, x->product_id, x->from_seq, op, err);
            if (found < 0) {
                rc = -1;
                break;
            }
            if (found == 0) {
                reason = "insufficient";
                short_lines = json_pack("[{s:s,s:I,s:I}]", "productId", x->product_id, "requested", (json_int_t)x->quantity,
                                        "available", (json_int_t)m.available);
                break;
            }
        }
    }
    mongoc_collection_destroy(ledger);
    if (rc != 0) {
        json_decref(short_lines);
        return -1; /* undecided: a retry or the sweep finishes it */
    }
    mongoc_collection_t *s = mongoc_database_get_collection(db, "reservation_states");
    int w = write_state(s, r->order_id, "decision", reason ? "failed" : "reserved", reason, short_lines, &r->decision, err);
    mongoc_collection_destroy(s);
    json_decref(short_lines);
    if (w < 0)
        return -1;
    if (strcmp(r->decision.state, "reserved") == 0) {
        open_mark_reserved(db, r->order_id);
        return 0;
    }
    return return_lines(db, r, known, r->decision.reason[0] ? r->decision.reason : "failed", actor, o, err);
}

/* Makes sure the reservation has a decision: runs the lines (again) while an executor
 * may, or decides "failed" (expired) once none may any more. */
static int ensure_decided(mongoc_database_t *db, reservation_t *r, const inv_actor_t *actor, inv_outcome_t *o, bson_error_t *err)
{
    if (r->decision.exists)
        return 0;
    int64_t now = mc_now_ms();
    if (now < r->created_ms + INV_EXECUTOR_DEADLINE_MS && now < r->expires_ms)
        return execute(db, r, actor, o, err);
    mongoc_collection_t *s = mongoc_database_get_collection(db, "reservation_states");
    int w = write_state(s, r->order_id, "decision", "failed", "expired", NULL, &r->decision, err);
    mongoc_collection_destroy(s);
    if (w < 0)
        return -1;
    if (strcmp(r->decision.state, "failed") == 0)
        return return_lines(db, r, NULL, r->decision.reason, actor, o, err);
    return 0;
}

/* The answer for a reservation whose decision is known. */
static void answer_decided(inv_outcome_t *o, const reservation_t *r, int success_status)
{
    if (strcmp(r->decision.state, "failed") == 0 && strcmp(r->decision.reason, "insufficient") == 0) {
        fail(o, MC_ERR_CONFLICT, r->decision.details ? json_incref(r->decision.details) : json_array(),
             "not enough stock for every item of order %s", r->order_id);
        return;
    }
    answer(o, success_status, r);
}

void inv_reserve(mongoc_database_t *db, const char *order_id, inv_item_t *items, size_t n, int64_t ttl_s,
                 const inv_actor_t *actor, inv_outcome_t *o)
{
    reservation_t r;
    memset(&r, 0, sizeof(r));
    bson_error_t err;
    char fp[sizeof(r.fingerprint)];
    fingerprint(items, n, fp, sizeof(fp));
    if (load(db, order_id, &r, &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (!r.exists) {
        /* A new reservation: every product must exist and be active. */
        json_t *unknown = json_array(), *inactive = json_array(), *short_lines = json_array();
        for (size_t i = 0; i < n; ++i) {
            json_t *p = NULL;
            pm_internal_t in;
            int f = ps_product_find(db, items[i].product_id, &p, &in, &err);
            if (f < 0) {
                json_decref(unknown), json_decref(inactive), json_decref(short_lines);
                db_fail(o, &err);
                goto Done;
            }
            if (f == 0) {
                json_array_append_new(unknown, json_pack("{s:s}", "productId", items[i].product_id));
                continue;
            }
            bool active = json_is_true(json_object_get(p, "isActive"));
            inv_head_t hint = {in.stock_seq, json_integer_value(json_object_get(p, "stock"))}, head;
            json_decref(p);
            if (!active) {
                json_array_append_new(inactive, json_pack("{s:s}", "productId", items[i].product_id));
                continue;
            }
            if (inv_head(db, items[i].product_id, &hint, &head, &err) != 0) {
                json_decref(unknown), json_decref(inactive), json_decref(short_lines);
                db_fail(o, &err);
                goto Done;
            }
            items[i].from_seq = head.seq;
            if (head.balance < items[i].quantity)
                json_array_append_new(short_lines, json_pack("{s:s,s:I,s:I}", "productId", items[i].product_id, "requested",
                                                             (json_int_t)items[i].quantity, "available",
                                                             (json_int_t)head.balance));
        }
        if (json_array_size(unknown) > 0) {
            fail(o, MC_ERR_NOT_FOUND, unknown, "%zu of the products do not exist", json_array_size(unknown));
            json_decref(inactive), json_decref(short_lines);
            goto Done;
        }
        json_decref(unknown);
        if (json_array_size(inactive) > 0) {
            fail(o, MC_ERR_UNPROCESSABLE, inactive, "%zu of the products are not on sale", json_array_size(inactive));
            json_decref(short_lines);
            goto Done;
        }
        json_decref(inactive);
        if (json_array_size(short_lines) > 0) {
            /* Not enough now: refuse without recording anything (a later call may succeed). */
            fail(o, MC_ERR_CONFLICT, short_lines, "not enough stock for every item of order %s", order_id);
            goto Done;
        }
        json_decref(short_lines);
        int64_t now = mc_now_ms();
        /* The open entry first: a reservation is never without one while it may need work. */
        if (open_add(db, order_id, now, now + ttl_s * 1000, &err) != 0) {
            db_fail(o, &err);
            goto Done;
        }
        mongoc_collection_t *c = mongoc_database_get_collection(db, "reservations");
        bson_t doc = BSON_INITIALIZER, arr;
        BSON_APPEND_UTF8(&doc, "_id", order_id);
        BSON_APPEND_ARRAY_BEGIN(&doc, "items", &arr);
        for (size_t i = 0; i < n; ++i) {
            char idx[16];
            const char *ks;
            bson_uint32_to_string((uint32_t)i, &ks, idx, sizeof(idx));
            bson_t it;
            BSON_APPEND_DOCUMENT_BEGIN(&arr, ks, &it);
            BSON_APPEND_UTF8(&it, "productId", items[i].product_id);
            BSON_APPEND_INT64(&it, "quantity", items[i].quantity);
            BSON_APPEND_INT64(&it, "fromSeq", items[i].from_seq);
            bson_append_document_end(&arr, &it);
        }
        bson_append_array_end(&doc, &arr);
        BSON_APPEND_UTF8(&doc, "fingerprint", fp);
        BSON_APPEND_INT64(&doc, "ttlSeconds", ttl_s);
        BSON_APPEND_DATE_TIME(&doc, "createdAt", now);
        BSON_APPEND_DATE_TIME(&doc, "expiresAt", now + ttl_s * 1000);
        bool ok = mongoc_collection_insert_one(c, &doc, NULL, NULL, &err);
        bson_destroy(&doc);
        mongoc_collection_destroy(c);
        if (!ok && !mc_mongo_is_duplicate(&err)) {
            db_fail(o, &err);
            goto Done;
        }
        if (load(db, order_id, &r, &err) != 0) {
            db_fail(o, &err);
            goto Done;
        }
        if (!r.exists) {
            fail(o, MC_ERR_INTERNAL, NULL, "the reservation vanished");
            goto Done;
        }
        if (ok) {
            if (execute(db, &r, actor, o, &err) != 0) {
                db_fail(o, &err);
                goto Done;
            }
            answer_decided(o, &r, 201);
            goto Done;
        }
        /* lost the insert to a concurrent call of the same order: join it below */
    }
    if (strcmp(r.fingerprint, fp) != 0) {
        fail(o, MC_ERR_UNPROCESSABLE, NULL, "order %s already has a reservation with other items", order_id);
        goto Done;
    }
    if (ensure_decided(db, &r, actor, o, &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    answer_decided(o, &r, 200);
Done:
    reservation_clear(&r);
}

void inv_get(mongoc_database_t *db, const char *order_id, inv_outcome_t *o)
{
    reservation_t r;
    memset(&r, 0, sizeof(r));
    bson_error_t err;
    if (load(db, order_id, &r, &err) != 0)
        db_fail(o, &err);
    else if (!r.exists)
        fail(o, MC_ERR_NOT_FOUND, NULL, "no reservation for order %s", order_id);
    else
        answer(o, 200, &r);
    reservation_clear(&r);
}

/* Writes the final state (committed, released or expired) unless there is one; a
 * reservation past its expiry can only become expired. 0, or -1 on error. */
static int finalize(mongoc_database_t *db, reservation_t *r, const char *want, bson_error_t *err)
{
    if (r->final.exists)
        return 0;
    const char *state = mc_now_ms() >= r->expires_ms ? "expired" : want;
    mongoc_collection_t *s = mongoc_database_get_collection(db, "reservation_states");
    int w = write_state(s, r->order_id, "final", state, NULL, NULL, &r->final, err);
    mongoc_collection_destroy(s);
    return w < 0 ? -1 : 0;
}

void inv_commit(mongoc_database_t *db, const char *order_id, const inv_actor_t *actor, inv_outcome_t *o)
{
    reservation_t r;
    memset(&r, 0, sizeof(r));
    bson_error_t err;
    if (load(db, order_id, &r, &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (!r.exists) {
        fail(o, MC_ERR_NOT_FOUND, NULL, "no reservation for order %s", order_id);
        goto Done;
    }
    if (ensure_decided(db, &r, actor, o, &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (strcmp(r.decision.state, "reserved") != 0) {
        fail(o, MC_ERR_CONFLICT, json_pack("{s:s}", "status", status_of(&r, mc_now_ms())),
             "the reservation of order %s is %s and cannot be committed", order_id, status_of(&r, mc_now_ms()));
        goto Done;
    }
    if (finalize(db, &r, "committed", &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (strcmp(r.final.state, "committed") != 0) {
        /* expired (or released) meanwhile: its stock goes back */
        if (return_lines(db, &r, NULL, r.final.state, actor, o, &err) != 0) {
            db_fail(o, &err);
            goto Done;
        }
        open_remove(db, order_id);
        fail(o, MC_ERR_CONFLICT, json_pack("{s:s}", "status", status_of(&r, mc_now_ms())),
             "the reservation of order %s is %s and cannot be committed", order_id, status_of(&r, mc_now_ms()));
        goto Done;
    }
    if (r.refund.exists) {
        fail(o, MC_ERR_CONFLICT, json_pack("{s:s}", "status", "released"),
             "the reservation of order %s was released after its commit", order_id);
        goto Done;
    }
    open_remove(db, order_id);
    answer(o, 200, &r);
Done:
    reservation_clear(&r);
}

void inv_release(mongoc_database_t *db, const char *order_id, const inv_actor_t *actor, inv_outcome_t *o)
{
    reservation_t r;
    memset(&r, 0, sizeof(r));
    bson_error_t err;
    if (load(db, order_id, &r, &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (!r.exists) {
        fail(o, MC_ERR_NOT_FOUND, NULL, "no reservation for order %s", order_id);
        goto Done;
    }
    mongoc_collection_t *s = mongoc_database_get_collection(db, "reservation_states");
    int w = 1;
    if (!r.decision.exists)
        /* still undecided: cancel it (an executor still running loses the decision and
         * returns what it reserved) */
        w = write_state(s, order_id, "decision", "failed", "released", NULL, &r.decision, &err);
    mongoc_collection_destroy(s);
    if (w < 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (strcmp(r.decision.state, "failed") == 0) {
        if (return_lines(db, &r, NULL, r.decision.reason, actor, o, &err) != 0) {
            db_fail(o, &err);
            goto Done;
        }
        answer(o, 200, &r); /* the open entry stays until the sweep's last pass */
        goto Done;
    }
    if (finalize(db, &r, "released", &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    if (strcmp(r.final.state, "committed") == 0 && !r.refund.exists) {
        /* a cancellation after confirmation: the open entry covers a crash mid-way */
        if (open_add(db, order_id, r.created_ms, r.expires_ms, &err) != 0) {
            db_fail(o, &err);
            goto Done;
        }
        s = mongoc_database_get_collection(db, "reservation_states");
        w = write_state(s, order_id, "refund", "released", NULL, NULL, &r.refund, &err);
        mongoc_collection_destroy(s);
        if (w < 0) {
            db_fail(o, &err);
            goto Done;
        }
    }
    const char *why = strcmp(r.final.state, "committed") == 0 ? "cancelled" : r.final.state;
    if (return_lines(db, &r, NULL, why, actor, o, &err) != 0) {
        db_fail(o, &err);
        goto Done;
    }
    open_remove(db, order_id);
    answer(o, 200, &r);
Done:
    reservation_clear(&r);
}

/* One open reservation, by the sweep. */
static int sweep_one(mongoc_database_t *db, const char *order, int64_t created, int64_t now, json_t *touched,
                     bson_error_t *err)
{
    static const inv_actor_t system_actor = {"system", "", ""};
    reservation_t r;
    memset(&r, 0, sizeof(r));
    inv_outcome_t o;
    memset(&o, 0, sizeof(o));
    int rc = 0;
    if (load(db, order, &r, err) != 0) {
        rc = -1;
        goto Done;
    }
    if (!r.exists) {
        /* an open entry whose reservation was never written (its call died between) */
        if (now >= created + INV_SETTLE_GRACE_MS)
            open_remove(db, order);
        goto Done;
    }
    bool past_grace = now >= r.created_ms + INV_SETTLE_GRACE_MS;
    if (!r.decision.exists) {
        if (now < r.expires_ms && now < r.created_ms + INV_EXECUTOR_DEADLINE_MS)
            goto Done; /* an executor may still be at work */
        if (ensure_decided(db, &r, &system_actor, &o, err) != 0) {
            rc = -1;
            goto Done;
        }
    }
    if (strcmp(r.decision.state, "failed") == 0) {
        if (return_lines(db, &r, NULL, r.decision.reason, &system_actor, &o, err) != 0) {
            rc = -1;
            goto Done;
        }
        if (past_grace)
            open_remove(db, order);
        goto Done;
    }
    if (!r.final.exists) {
        if (now < r.expires_ms)
            goto Done;
        if (finalize(db, &r, "expired", err) != 0) {
            rc = -1;
            goto Done;
        }
    }
    if (strcmp(r.final.state, "committed") == 0 && !r.refund.exists) {
        open_remove(db, order);
        goto Done;
    }
    const char *why = strcmp(r.final.state, "committed") == 0 ? "cancelled" : r.final.state;
    if (return_lines(db, &r, NULL, why, &system_actor, &o, err) != 0) {
        rc = -1;
        goto Done;
    }
    open_remove(db, order);
Done:
    for (size_t i = 0; i < o.ntouched; ++i)
        json_array_append_new(touched, json_string(o.touched[i]));
    inv_outcome_free(&o);
    reservation_clear(&r);
    return rc;
}

int inv_sweep(mongoc_database_t *db, int64_t now_ms, int max, json_t *touched, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reservations_open");
    int64_t cutoff = now_ms - INV_EXECUTOR_DEADLINE_MS;
    /* expired ones, and undecided or failed ones whose executors are past their deadline */
    bson_t *filter = BCON_NEW("$or", "[", "{", "expiresAt", "{", "$lte", BCON_DATE_TIME(now_ms), "}", "}", "{", "createdAt",
                              "{", "$lte", BCON_DATE_TIME(cutoff), "}", "reserved", "{", "$ne", BCON_BOOL(true), "}", "}",
                              "]");
    bson_t *opts = BCON_NEW("limit", BCON_INT64(max), "sort", "{", "expiresAt", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    char (*orders)[INV_ORDER_ID_MAX + 1] = calloc((size_t)max, sizeof(*orders));
    int64_t *created = calloc((size_t)max, sizeof(*created));
    if (orders == NULL || created == NULL)
        abort();
    int n = 0;
    while (n < max && mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it)) {
            snprintf(orders[n], sizeof(orders[n]), "%s", bson_iter_utf8(&it, NULL));
            created[n] = 0;
            if (bson_iter_init_find(&it, doc, "createdAt") && BSON_ITER_HOLDS_DATE_TIME(&it))
                created[n] = bson_iter_date_time(&it);
            ++n;
        }
    }
    int rc = mongoc_cursor_error(cur, err) ? -1 : n;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    for (int i = 0; rc >= 0 && i < n; ++i)
        if (sweep_one(db, orders[i], created[i], now_ms, touched, err) != 0)
            rc = -1;
    free(orders);
    free(created);
    return rc;
}
