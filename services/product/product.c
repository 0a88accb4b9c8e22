/*
 * Implementation of product.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_log.h"
#include "mc_util.h"
#include "model.h"
#include "product.h"
#include "reviews.h"
#include "store.h"

void prod_result_free(prod_result_t *r)
{
    json_decref(r->details);
    json_decref(r->value);
    r->details = r->value = NULL;
}

static void refuse(prod_result_t *r, mc_err_t err, json_t *details, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void refuse(prod_result_t *r, mc_err_t err, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->err = err;
    json_decref(r->details);
    r->details = details;
}

static void db_failed(mc_mongo_result_t *res, const bson_error_t *err)
{
    mc_mongo_fail(mc_mongo_current(), res, err);
    if (res->err == MC_ERR_CONFLICT)
        res->err = MC_ERR_INTERNAL; /* a duplicate nobody expected is a bug, not a client conflict */
}

/* The API object in the order every read shows it (through a stored document). */
static json_t *canonical(const json_t *api, const pm_internal_t *in)
{
    bson_t *doc = pm_doc_build(api, in);
    json_t *out = pm_doc_to_json(doc, NULL);
    bson_destroy(doc);
    return out;
}

static bool may_edit(const json_t *api, const prod_caller_t *who)
{
    if (who->role == MC_ROLE_ADMIN)
        return true;
    const char *seller = json_string_value(json_object_get(api, "sellerId"));
    return who->role == MC_ROLE_SELLER && seller != NULL && strcmp(seller, who->sub) == 0;
}

static void actor_of(const prod_caller_t *who, inv_actor_t *a)
{
    a->type = "user";
    snprintf(a->id, sizeof(a->id), "%s", who->sub);
    snprintf(a->role, sizeof(a->role), "%s", mc_role_name(who->role));
}

/* The product with the balance of its newest ledger entry as stock. 1 found, 0 not, -1. */
static int find_exact(mongoc_database_t *db, const char *id, json_t **api, pm_internal_t *in, bson_error_t *err)
{
    int f = ps_product_find(db, id, api, in, err);
    if (f != 1)
        return f;
    inv_head_t hint = {in->stock_seq, json_integer_value(json_object_get(*api, "stock"))}, head;
    if (inv_head(db, id, &hint, &head, err) != 0) {
        json_decref(*api);
        *api = NULL;
        return -1;
    }
    json_object_set_new(*api, "stock", json_integer(head.balance));
    in->stock_seq = head.seq;
    return 1;
}

void prod_load(mongoc_database_t *db, const char *tag, void *arg, char **out, size_t *outlen, mc_mongo_result_t *res)
{
    const char *id = arg;
    json_t *api = NULL;
    pm_internal_t in;
    bson_error_t err;
    *out = NULL;
    *outlen = 0;
    int f = find_exact(db, id, &api, &in, &err);
    if (f < 0) {
        db_failed(res, &err);
        return;
    }
    if (f == 0)
        return;
    *out = pm_payload(api);
    *outlen = *out ? strlen(*out) : 0;
    json_decref(api);
}

void prod_create(mongoc_database_t *db, json_t *fields, bool slug_generated, int64_t stock, const prod_caller_t *who,
                 prod_result_t *out, mc_mongo_result_t *res)
{
    bson_oid_t oid;
    char id[25], ts[MC_TIME_BUFSZ], op[32];
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, id);
    json_t *api = json_deep_copy(fields);
    int64_t now = mc_now_ms();
    json_object_set_new(api, "id", json_string(id));
    json_object_set_new(api, "stock", json_integer(stock));
    json_object_set_new(api, "ratingAverage", json_real(0));
    json_object_set_new(api, "ratingCount", json_integer(0));
    json_object_set_new(api, "createdAt", json_string(mc_time_format(now, ts)));
    json_object_set_new(api, "updatedAt", json_string(ts));
    /* The ledger's first entry before the product: a product never exists without it. */
    inv_actor_t actor;
    actor_of(who, &actor);
    snprintf(op, sizeof(op), "i:%s", id);
    inv_move_t m = {.product_id = id, .op = op, .absolute = true, .target = stock, .kind = "initial",
                    .reason = "product created", .actor = &actor};
    bson_error_t err;
    inv_result_t ir = inv_append(db, &m, &err);
    if (ir == INV_ERROR) {
        json_decref(api);
        db_failed(res, &err);
        return;
    }
    pm_internal_t in = {ir == INV_APPENDED ? m.after.seq : 0, 0};
    if (ir != INV_APPENDED)
        json_object_set_new(api, "stock", json_integer(0)); /* (seq, stock) must be one entry's pair */
    char base[PM_SLUG_MAX_CHARS * 4 + 1];
    snprintf(base, sizeof(base), "%s", json_string_value(json_object_get(api, "slug")));
    for (int attempt = 1; attempt <= 50; ++attempt) {
        if (attempt > 1) {
            char slug[PM_SLUG_MAX_CHARS + 1];
            snprintf(slug, sizeof(slug), "%.*s-%d", PM_SLUG_MAX_CHARS - 4, base, attempt);
            json_object_set_new(api, "slug", json_string(slug));
        }
        if (ps_product_insert(db, api, &in, &err) == 0) {
            out->value = canonical(api, &in);
            json_decref(api);
            out->lists_changed = true;
            return;
        }
        if (!mc_mongo_is_duplicate(&err)) {
            json_decref(api);
            db_failed(res, &err);
            return;
        }
        if (!slug_generated) {
            json_decref(api);
            refuse(out, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "slug", "message", "is already used"),
                   "slug '%s' is already used by another product", base);
            return;
        }
    }
    json_decref(api);
    refuse(out, MC_ERR_CONFLICT, NULL, "no free slug derived from '%s'", base);
}

/* Runs fn on the product under its lock; fn changes api/in and returns true to write. */
typedef bool (*modify_fn)(mongoc_database_t *db, json_t *api, pm_internal_t *in, void *ctx, prod_result_t *out,
                          bson_error_t *err, bool *failed);

/* 0 done (out says how), 1 lock busy, -1 database error (err). */
static int locked_modify(mongoc_database_t *db, const char *id, unsigned wait_ms, modify_fn fn, void *ctx,
                         prod_result_t *out, bson_error_t *err)
{
    char name[40], token[33];
    snprintf(name, sizeof(name), "product:%s", id);
    int l = ps_lock(db, name, token, wait_ms, err);
    if (l != 0)
        return l;
    json_t *api = NULL;
    pm_internal_t in;
    int rc = 0;
    int f = ps_product_find(db, id, &api, &in, err);
    if (f < 0) {
        rc = -1;
    } else if (f == 0) {
        refuse(out, MC_ERR_NOT_FOUND, NULL, "product %s not found", id);
    } else {
        bool failed = false;
        bool write = fn(db, api, &in, ctx, out, err, &failed);
        if (failed) {
            rc = -1;
        } else if (write) {
            int w = ps_product_replace(db, api, &in, err);
            if (w < 0) {
                if (mc_mongo_is_duplicate(err)) {
                    refuse(out, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "slug", "message", "is already used"),
                           "slug '%s' is already used by another product", json_string_value(json_object_get(api, "slug")));
                } else {
                    rc = -1;
                }
            } else if (w == 0) {
                refuse(out, MC_ERR_NOT_FOUND, NULL, "product %s not found", id);
            } else if (out->err == MC_OK && out->value == NULL) {
                out->value = canonical(api, &in);
            }
        }
    }
    json_decref(api);
    ps_unlock(db, name, token);
    return rc;
}

static bool apply_changes(mongoc_database_t *db, json_t *api, pm_internal_t *in, void *ctx, prod_result_t *out,
                          bson_error_t *err, bool *failed)
{
    const prod_caller_t *who = ((void **)ctx)[0];
    json_t *changes = ((void **)ctx)[1];
    if (!may_edit(api, who)) {
        refuse(out, MC_ERR_FORBIDDEN, NULL, "only the product's seller or an admin may change it");
        return false;
    }
    json_object_update(api, changes);
    char ts[MC_TIME_BUFSZ];
    json_object_set_new(api, "updatedAt", json_string(mc_time_format(mc_now_ms(), ts)));
    /* the stock shown from now on is the ledger's */
    inv_head_t hint = {in->stock_seq, json_integer_value(json_object_get(api, "stock"))}, head;
    if (inv_head(db, json_string_value(json_object_get(api, "id")), &hint, &head, err) != 0) {
        *failed = true;
        return false;
    }
    json_object_set_new(api, "stock", json_integer(head.balance));
    in->stock_seq = head.seq;
    out->lists_changed = true;
    return true;
}

static void finish(int rc, const bson_error_t *err, prod_result_t *out, mc_mongo_result_t *res, const char *id)
{
    if (rc < 0)
        db_failed(res, err);
    else if (rc > 0)
        refuse(out, MC_ERR_CONFLICT, NULL, "product %s is being changed by someone else; retry", id);
}

void prod_update(mongoc_database_t *db, const char *id, json_t *changes, const prod_caller_t *who, prod_result_t *out,
                 mc_mongo_result_t *res)
{
    void *ctx[2] = {(void *)who, changes};
    bson_error_t err;
    finish(locked_modify(db, id, PROD_LOCK_WAIT_MS, apply_changes, ctx, out, &err), &err, out, res, id);
}

void prod_delete(mongoc_database_t *db, const char *id, const prod_caller_t *who, prod_result_t *out,
                 mc_mongo_result_t *res)
{
    char name[40], token[33];
    bson_error_t err;
    snprintf(name, sizeof(name), "product:%s", id);
    int l = ps_lock(db, name, token, PROD_LOCK_WAIT_MS, &err);
    if (l != 0) {
        finish(l, &err, out, res, id);
        return;
    }
    json_t *api = NULL;
    pm_internal_t in;
    int f = ps_product_find(db, id, &api, &in, &err);
    if (f < 0) {
        db_failed(res, &err);
    } else if (f == 0) {
        refuse(out, MC_ERR_NOT_FOUND, NULL, "product %s not found", id);
    } else if (!may_edit(api, who)) {
        refuse(out, MC_ERR_FORBIDDEN, NULL, "only the product's seller or an admin may delete it");
    } else if (ps_product_delete(db, id, &err) < 0 || rv_delete_for_product(db, id, &err) != 0) {
        db_failed(res, &err);
    } else {
        out->lists_changed = true;
    }
    json_decref(api);
    ps_unlock(db, name, token);
}

void prod_adjust_stock(mongoc_database_t *db, const char *id, bool absolute, int64_t amount, const char *reason,
                       const prod_caller_t *who, prod_result_t *out, mc_mongo_result_t *res)
{
    json_t *api = NULL;
    pm_internal_t in;
    bson_error_t err;
    int f = ps_product_find(db, id, &api, &in, &err);
    if (f < 0) {
        db_failed(res, &err);
        return;
    }
    if (f == 0) {
        refuse(out, MC_ERR_NOT_FOUND, NULL, "product %s not found", id);
        return;
    }
    if (!may_edit(api, who)) {
        json_decref(api);
        refuse(out, MC_ERR_FORBIDDEN, NULL, "only the product's seller or an admin may change its stock");
        return;
    }
    inv_actor_t actor;
    actor_of(who, &actor);
    unsigned char rnd[12];
    char hex[25], op[32];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), hex);
    snprintf(op, sizeof(op), "a:%s", hex);
    inv_move_t m = {.product_id = id, .hint = {in.stock_seq, json_integer_value(json_object_get(api, "stock"))}, .op = op,
                    .absolute = absolute, .delta = amount, .target = amount, .kind = "adjust", .reason = reason,
                    .actor = &actor};
    json_decref(api);
    inv_result_t ir = inv_append(db, &m, &err);
    if (ir == INV_ERROR) {
        db_failed(res, &err);
        return;
    }
    if (ir == INV_INSUFFICIENT) {
        refuse(out, MC_ERR_CONFLICT, json_pack("[{s:s,s:I,s:I}]", "productId", id, "requested", (json_int_t)-amount, "available",
                                               (json_int_t)m.available),
               "the stock of product %s is %lld; it cannot go below zero", id, (long long)m.available);
        return;
    }
    /* The product document's cache, for filters (a busy lock leaves it to the refresh). */
    if (prod_refresh_stock(db, id, 1000, &err) < 0)
        mc_log_warn("refreshing the stock cache of %s: %s", id, err.message);
    char ts[MC_TIME_BUFSZ];
    out->value = json_pack("{s:s,s:I,s:{s:I,s:I,s:I,s:s,s:s?,s:s}}", "productId", id, "stock", (json_int_t)m.after.balance,
                           "movement", "seq", (json_int_t)m.after.seq, "delta", (json_int_t)m.applied, "balance",
                           (json_int_t)m.after.balance, "kind", "adjust", "reason", reason, "at",
                           mc_time_format(mc_now_ms(), ts));
    out->lists_changed = true;
}

void prod_movements(mongoc_database_t *db, const char *id, int64_t before, int64_t limit, const prod_caller_t *who,
                    prod_result_t *out, mc_mongo_result_t *res)
{
    json_t *api = NULL;
    pm_internal_t in;
    bson_error_t err;
    int f = ps_product_find(db, id, &api, &in, &err);
    if (f < 0) {
        db_failed(res, &err);
        return;
    }
    if (f == 0) {
        refuse(out, MC_ERR_NOT_FOUND, NULL, "product %s not found", id);
        return;
    }
    bool ok = may_edit(api, who);
    json_decref(api);
    if (!ok) {
        refuse(out, MC_ERR_FORBIDDEN, NULL, "only the product's seller or an admin may read its stock movements");
        return;
    }
    json_t *items = NULL;
    bool has_next;
    /* every entry 1..newest exists: the newest seq counts them */
    inv_head_t hint = {0, 0}, head;
    if (inv_head(db, id, &hint, &head, &err) != 0 || inv_movements(db, id, before, limit, &items, &has_next, &err) != 0) {
        json_decref(items);
        db_failed(res, &err);
        return;
    }
    json_t *cursors = json_array(), *m;
    size_t i;
    json_array_foreach(items, i, m) json_array_append_new(cursors, json_sprintf("%lld", (long long)json_integer_value(json_object_get(m, "seq"))));
    json_t *last = json_array_get(cursors, json_array_size(cursors) - 1);
    out->value = json_pack("{s:s,s:o,s:o,s:I,s:{s:b,s:O}}", "productId", id, "items", items, "cursors", cursors, "totalCount",
                           (json_int_t)head.seq, "pageInfo", "hasNextPage", has_next, "endCursor", last != NULL ? last : json_null());
}

static bool apply_stock(mongoc_database_t *db, json_t *api, pm_internal_t *in, void *ctx, prod_result_t *out,
                        bson_error_t *err, bool *failed)
{
    inv_head_t hint = {in->stock_seq, json_integer_value(json_object_get(api, "stock"))}, head;
    if (inv_head(db, json_string_value(json_object_get(api, "id")), &hint, &head, err) != 0) {
        *failed = true;
        return false;
    }
    if (head.seq == in->stock_seq && head.balance == hint.balance)
        return false;
    json_object_set_new(api, "stock", json_integer(head.balance));
    in->stock_seq = head.seq;
    return true;
}

int prod_refresh_stock(mongoc_database_t *db, const char *id, unsigned lock_wait_ms, bson_error_t *err)
{
    prod_result_t out;
    memset(&out, 0, sizeof(out));
    int rc = locked_modify(db, id, lock_wait_ms, apply_stock, NULL, &out, err);
    prod_result_free(&out);
    return rc;
}

static bool apply_rating(mongoc_database_t *db, json_t *api, pm_internal_t *in, void *ctx, prod_result_t *out,
                         bson_error_t *err, bool *failed)
{
    int64_t sum, count;
    if (rv_rating_stats(db, json_string_value(json_object_get(api, "id")), &sum, &count, err) != 0) {
        *failed = true;
        return false;
    }
    if (in->rating_sum == sum && json_integer_value(json_object_get(api, "ratingCount")) == count)
        return false;
    in->rating_sum = sum;
    json_object_set_new(api, "ratingCount", json_integer(count));
    json_object_set_new(api, "ratingAverage", json_real(pm_rating_average(sum, count)));
    return true;
}

int prod_refresh_rating(mongoc_database_t *db, const char *id, unsigned lock_wait_ms, bson_error_t *err)
{
    prod_result_t out;
    memset(&out, 0, sizeof(out));
    int rc = locked_modify(db, id, lock_wait_ms, apply_rating, NULL, &out, err);
    prod_result_free(&out);
    return rc;
}
