/*
 * Implementation of store.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mc_bson_json.h"
#include "mc_util.h"
#include "store.h"

#define BJ (MC_BJ_ID | MC_BJ_DATES)

/* The coupons' indexes: the unique code, and newest first for the list. */
static bson_t *index_specs(void)
{
    bson_t *a = bson_new(), d;
    BSON_APPEND_DOCUMENT_BEGIN(a, "0", &d);
    BCON_APPEND(&d, "key", "{", "code", BCON_INT32(1), "}", "name", BCON_UTF8("code_unique"), "unique", BCON_BOOL(true));
    bson_append_document_end(a, &d);
    BSON_APPEND_DOCUMENT_BEGIN(a, "1", &d);
    BCON_APPEND(&d, "key", "{", "createdAt", BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "name", BCON_UTF8("newest"));
    bson_append_document_end(a, &d);
    return a;
}

/* A one-field index spec. */
static bson_t *one_index(const char *field, const char *name)
{
    bson_t *a = bson_new(), d;
    BSON_APPEND_DOCUMENT_BEGIN(a, "0", &d);
    BCON_APPEND(&d, "key", "{", field, BCON_INT32(1), "}", "name", BCON_UTF8(name));
    bson_append_document_end(a, &d);
    return a;
}

int cpn_store_init(mc_mongo_t *m, bson_error_t *err)
{
    bson_t *specs = index_specs();
    int r = mc_mongo_create_indexes(m, "coupons", specs, 30000, err);
    bson_destroy(specs);
    /* Lookups that are rare (admin counts, releasing leftovers) but must not scan on MongoDB. */
    if (r == 0) {
        specs = one_index("couponId", "by_coupon");
        r = mc_mongo_create_indexes(m, "redemptions", specs, 30000, err);
        bson_destroy(specs);
    }
    if (r == 0) {
        specs = one_index("orderId", "by_order");
        r = mc_mongo_create_indexes(m, "slots", specs, 30000, err);
        bson_destroy(specs);
    }
    if (r == 0) {
        specs = one_index("couponId", "by_coupon");
        r = mc_mongo_create_indexes(m, "slots", specs, 30000, err);
        bson_destroy(specs);
    }
    return r;
}

/* --- helpers ------------------------------------------------------------------------------ */

static void clear_error(bson_error_t *err)
{
    memset(err, 0, sizeof(*err));
}

/* The first document matching filter, as JSON; NULL when none (err cleared) or on error. */
static json_t *find_one(mongoc_collection_t *c, const bson_t *filter, bson_error_t *err)
{
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    json_t *out = NULL;
    clear_error(err);
    if (mongoc_cursor_next(cur, &doc))
        out = mc_bson_to_json(doc, BJ);
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    return out;
}

/* A document by _id (an ObjectId for coupons, a string elsewhere). */
static json_t *find_by_id(mongoc_collection_t *c, const char *id, bool oid, bson_error_t *err)
{
    bson_t filter = BSON_INITIALIZER;
    if (oid) {
        bson_oid_t o;
        bson_oid_init_from_string(&o, id);
        BSON_APPEND_OID(&filter, "_id", &o);
    } else {
        BSON_APPEND_UTF8(&filter, "_id", id);
    }
    json_t *out = find_one(c, &filter, err);
    bson_destroy(&filter);
    return out;
}

/* Number of active redemptions of each coupon in `coupons` (an array of API coupons),
 * set as their usedCount. -1 on a database error. */
static int add_used_counts(mongoc_database_t *db, json_t *coupons, bson_error_t *err)
{
    if (json_array_size(coupons) == 0)
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "redemptions");
    bson_t pipeline = BSON_INITIALIZER, stage, match, in, ids, group, id_sum;
    BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "0", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$match", &match);
    BSON_APPEND_DOCUMENT_BEGIN(&match, "couponId", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &ids);
    size_t i;
    json_t *cp;
    json_array_foreach(coupons, i, cp)
    {
        char k[24];
        snprintf(k, sizeof(k), "%zu", i);
        BSON_APPEND_UTF8(&ids, k, json_string_value(json_object_get(cp, "id")));
        json_object_set_new(cp, "usedCount", json_integer(0));
    }
    bson_append_array_end(&in, &ids);
    bson_append_document_end(&match, &in);
    BSON_APPEND_UTF8(&match, "status", "active");
    bson_append_document_end(&stage, &match);
    bson_append_document_end(&pipeline, &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&pipeline, "1", &stage);
    BSON_APPEND_DOCUMENT_BEGIN(&stage, "$group", &group);
    BSON_APPEND_UTF8(&group, "_id", "$couponId");
    BSON_APPEND_DOCUMENT_BEGIN(&group, "n", &id_sum);
    BSON_APPEND_INT32(&id_sum, "$sum", 1);
    bson_append_document_end(&group, &id_sum);
    bson_append_document_end(&stage, &group);
    bson_append_document_end(&pipeline, &stage);
    mongoc_cursor_t *cur = mongoc_collection_aggregate(c, MONGOC_QUERY_NONE, &pipeline, NULL, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        const char *cid = NULL;
        int64_t n = 0;
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_UTF8(&it))
            cid = bson_iter_utf8(&it, NULL);
        if (bson_iter_init_find(&it, doc, "n"))
            n = bson_iter_as_int64(&it);
        json_array_foreach(coupons, i, cp) if (cid != NULL && strcmp(json_string_value(json_object_get(cp, "id")), cid) == 0)
            json_object_set_new(cp, "usedCount", json_integer(n));
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(&pipeline);
    mongoc_collection_destroy(c);
    return r;
}

/* Adds usedCount to one coupon; returns it, or NULL (and frees it) on a database error. */
static json_t *with_used_count(mongoc_database_t *db, json_t *coupon, bson_error_t *err)
{
    if (coupon == NULL)
        return NULL;
    json_t *one = json_pack("[O]", coupon);
    int r = add_used_counts(db, one, err);
    json_decref(one);
    if (r != 0) {
        json_decref(coupon);
        return NULL;
    }
    return coupon;
}

/* Every API coupon has every field, null when unset. */
static json_t *normalise(json_t *c)
{
    static const char *const nullable[] = {"maxDiscount", "startsAt", "expiresAt", "maxUses", "maxUsesPerCustomer",
                                           "description"};
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(nullable) / sizeof(nullable[0]); ++i)
        if (json_object_get(c, nullable[i]) == NULL)
            json_object_set_new(c, nullable[i], json_null());
    if (json_object_get(c, "categoryIds") == NULL)
        json_object_set_new(c, "categoryIds", json_array());
    return c;
}

/* --- CRUD ------------------------------------------------------------------------------------ */

json_t *cpn_store_insert(mongoc_database_t *db, json_t *fields, int64_t now_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "coupons");
    json_t *api = json_deep_copy(fields);
    bson_oid_t oid;
    char hex[25], ts[MC_TIME_BUFSZ];
    bson_oid_init(&oid, NULL);
    bson_oid_to_string(&oid, hex);
    json_object_set_new(api, "id", json_string(hex));
    mc_time_format(now_ms, ts);
    json_object_set_new(api, "createdAt", json_string(ts));
    json_object_set_new(api, "updatedAt", json_string(ts));
    normalise(api);
    bson_t doc = BSON_INITIALIZER;
    json_t *out = NULL;
    clear_error(err);
    if (!mc_json_to_bson(api, &doc, BJ)) {
        bson_set_error(err, MONGOC_ERROR_BSON, 1, "the coupon cannot be stored");
    } else if (mongoc_collection_insert_one(c, &doc, NULL, NULL, err)) {
        json_object_set_new(api, "usedCount", json_integer(0));
        out = json_incref(api);
    }
    json_decref(api);
    bson_destroy(&doc);
    mongoc_collection_destroy(c);
    return out;
}

json_t *cpn_store_get(mongoc_database_t *db, const char *id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "coupons");
    json_t *out = normalise(find_by_id(c, id, true, err));
    mongoc_collection_destroy(c);
    return with_used_count(db, out, err);
}

/* The coupon with that code, without its use count (which costs a scan of the
 * redemptions on FerretDB and is not needed to apply it). */
static json_t *load_by_code(mongoc_database_t *db, const char *code, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "coupons");
    bson_t *filter = BCON_NEW("code", BCON_UTF8(code));
    json_t *out = normalise(find_one(c, filter, err));
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return out;
}

json_t *cpn_store_load_code(mongoc_database_t *db, const char *code, bson_error_t *err)
{
    return load_by_code(db, code, err);
}

json_t *cpn_store_get_by_code(mongoc_database_t *db, const char *code, bson_error_t *err)
{
    return with_used_count(db, load_by_code(db, code, err), err);
}

json_t *cpn_store_update(mongoc_database_t *db, const char *id, json_t *fields, int64_t now_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "coupons");
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    json_t *set = json_deep_copy(fields);
    char ts[MC_TIME_BUFSZ];
    json_object_set_new(set, "updatedAt", json_string(mc_time_format(now_ms, ts)));
    bson_t update = BSON_INITIALIZER, setdoc, reply;
    json_t *out = NULL;
    clear_error(err);
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &setdoc);
    bool ok = mc_json_to_bson(set, &setdoc, MC_BJ_DATES);
    bson_append_document_end(&update, &setdoc);
    if (!ok) {
        bson_set_error(err, MONGOC_ERROR_BSON, 1, "the coupon cannot be stored");
    } else if (mongoc_collection_update_one(c, filter, &update, NULL, &reply, err)) {
        bson_iter_t it;
        bool found = bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0;
        if (found)
            out = normalise(find_by_id(c, id, true, err));
        bson_destroy(&reply);
    } else {
        bson_destroy(&reply);
    }
    json_decref(set);
    bson_destroy(&update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return with_used_count(db, out, err);
}

int cpn_store_delete(mongoc_database_t *db, const char *id, bool *found, bson_error_t *err)
{
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    long n = mc_mongo_delete(db, "coupons", filter, false, err);
    bson_destroy(filter);
    *found = n > 0;
    int r = n < 0 ? -1 : 0;
    if (r == 0 && *found) {
        /* its use hint goes with it (slots stay with their redemptions until released) */
        mongoc_collection_t *h = mongoc_database_get_collection(db, "slot_hints");
        bson_t *hf = BCON_NEW("_id", BCON_UTF8(id));
        mongoc_collection_delete_one(h, hf, NULL, NULL, NULL);
        bson_destroy(hf);
        mongoc_collection_destroy(h);
    }
    return r;
}

json_t *cpn_store_list(mongoc_database_t *db, int active, const char *code_prefix, int64_t after_ms,
                       const char *after_id, int64_t limit, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "coupons");
    bson_t base = BSON_INITIALIZER;
    if (active >= 0)
        BSON_APPEND_BOOL(&base, "isActive", active == 1);
    if (code_prefix != NULL) {
        /* the prefix is [A-Z0-9_-] only: nothing in it is special to a regular expression */
        char re[64];
        snprintf(re, sizeof(re), "^%s", code_prefix);
        BSON_APPEND_REGEX(&base, "code", re, "");
    }
    json_t *out = NULL, *items = json_array(), *cursors = json_array();
    mongoc_cursor_t *cur = NULL;
    bson_t *opts = NULL;
    bson_t filter;
    bson_copy_to(&base, &filter);
    int64_t total = mongoc_collection_count_documents(c, &base, NULL, NULL, NULL, err);
    if (total < 0)
        goto Done;
    if (after_id != NULL) {
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, after_id);
        bson_t or, a, b, lt;
        BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &or);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &a);
        BSON_APPEND_DOCUMENT_BEGIN(&a, "createdAt", &lt);
        BSON_APPEND_DATE_TIME(&lt, "$lt", after_ms);
        bson_append_document_end(&a, &lt);
        bson_append_document_end(&or, &a);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &b);
        BSON_APPEND_DATE_TIME(&b, "createdAt", after_ms);
        BSON_APPEND_DOCUMENT_BEGIN(&b, "_id", &lt);
        BSON_APPEND_OID(&lt, "$lt", &oid);
        bson_append_document_end(&b, &lt);
        bson_append_document_end(&or, &b);
        bson_append_array_end(&filter, &or);
    }
    opts = BCON_NEW("sort", "{", "createdAt", BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(limit + 1));
    cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc))
        json_array_append_new(items, normalise(mc_bson_to_json(doc, BJ)));
    if (mongoc_cursor_error(cur, err))
        goto Done;
    bool more = json_array_size(items) > (size_t)limit;
    if (more)
        json_array_remove(items, (size_t)limit);
    if (add_used_counts(db, items, err) != 0)
        goto Done;
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        int64_t ms = 0;
        mc_time_parse(json_string_value(json_object_get(it, "createdAt")), &ms);
        char buf[64];
        snprintf(buf, sizeof(buf), "%lld.%s", (long long)ms, json_string_value(json_object_get(it, "id")));
        json_array_append_new(cursors, json_string(buf));
    }
    json_t *last = json_array_get(cursors, json_array_size(cursors) - 1);
    out = json_pack("{s:O,s:O,s:I,s:{s:b,s:O}}", "items", items, "cursors", cursors, "totalCount", (json_int_t)total, "pageInfo",
                    "hasNextPage", more, "endCursor", last != NULL ? last : json_null());
Done:
    json_decref(items);
    json_decref(cursors);
    if (cur != NULL)
        mongoc_cursor_destroy(cur);
    if (opts != NULL)
        bson_destroy(opts);
    bson_destroy(&filter);
    bson_destroy(&base);
    mongoc_collection_destroy(c);
    return out;
}

void cpn_rule_from_json(const json_t *cp, cpn_rule_t *r, const char ***cats)
{
    memset(r, 0, sizeof(*r));
    const char *type = json_string_value(json_object_get(cp, "type"));
    r->type = type != NULL && strcmp(type, "fixed") == 0 ? CPN_FIXED : CPN_PERCENTAGE;
    r->value = json_integer_value(json_object_get(cp, "value"));
    r->min_order = json_integer_value(json_object_get(cp, "minOrderAmount"));
    r->max_discount = json_integer_value(json_object_get(cp, "maxDiscount"));
    r->max_uses = json_integer_value(json_object_get(cp, "maxUses"));
    r->max_uses_per_customer = json_integer_value(json_object_get(cp, "maxUsesPerCustomer"));
    r->active = json_is_true(json_object_get(cp, "isActive"));
    const char *s = json_string_value(json_object_get(cp, "startsAt"));
    r->has_start = s != NULL && mc_time_parse(s, &r->starts_at_ms) == 0;
    s = json_string_value(json_object_get(cp, "expiresAt"));
    r->has_expiry = s != NULL && mc_time_parse(s, &r->expires_at_ms) == 0;
    json_t *ids = json_object_get(cp, "categoryIds");
    size_t n = json_array_size(ids);
    *cats = calloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; ++i)
        if (json_is_string(json_array_get(ids, i)))
            (*cats)[r->ncategories++] = json_string_value(json_array_get(ids, i));
    r->categories = *cats;
}

/* --- uses ------------------------------------------------------------------------------------- */

/* How many global uses the coupon has (its slots). -1 on error. */
static int64_t count_uses(mongoc_database_t *db, const char *coupon_id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "slots");
    bson_t *filter = BCON_NEW("couponId", BCON_UTF8(coupon_id), "kind", BCON_UTF8("u"));
    int64_t n = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, err);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return n;
}

/* The _id of a customer's use k of a coupon. */
static void customer_slot_id(char *out, size_t len, const char *coupon_id, const char *customer, int64_t k)
{
    snprintf(out, len, "c:%s:%s:%lld", coupon_id, customer, (long long)k);
}

/* The _id of use k of a coupon. */
static void use_slot_id(char *out, size_t len, const char *coupon_id, int64_t k)
{
    snprintf(out, len, "u:%s:%lld", coupon_id, (long long)k);
}

/* How many of the customer's per-customer slots (1..limit) are taken: probes them by _id,
 * which every server answers without a scan. -1 on error. */
static int64_t count_customer_uses(mongoc_database_t *db, const char *coupon_id, const char *customer, int64_t limit,
                                   bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "slots");
    int64_t n = 0;
    for (int64_t k = 1; k <= limit; ++k) {
        char id[96];
        customer_slot_id(id, sizeof(id), coupon_id, customer, k);
        json_t *s = find_by_id(c, id, false, err);
        if (s == NULL && err->code != 0) {
            n = -1;
            break;
        }
        if (s != NULL)
            ++n;
        json_decref(s);
    }
    mongoc_collection_destroy(c);
    return n;
}

/* True when FerretDB's SQLite was busy with another writer: the statement did nothing, so
 * the write may simply be sent again. */
static bool busy(const bson_error_t *err)
{
    return strstr(err->message, "database is locked") != NULL || strstr(err->message, "SQLITE_BUSY") != NULL;
}

/* insert_one, sent again (up to 5 times, 2 to 32 ms apart) while SQLite is busy. */
static bool insert_retrying(mongoc_collection_t *c, const bson_t *doc, bson_error_t *err)
{
    bool ok;
    for (int attempt = 0; !(ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err)) && busy(err) && attempt < 5; ++attempt) {
        struct timespec ts = {0, (long)(2 << attempt) * 1000000L};
        nanosleep(&ts, NULL);
    }
    return ok;
}

/* Inserts a slot. 1 inserted, 0 taken by someone, -1 on another error. */
static int insert_slot(mongoc_collection_t *c, const char *id, const char *kind, int64_t n, const char *coupon_id,
                       const char *customer, const char *order_id, int64_t now_ms, bson_error_t *err)
{
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "couponId", BCON_UTF8(coupon_id), "customerId", BCON_UTF8(customer),
                           "orderId", BCON_UTF8(order_id), "kind", BCON_UTF8(kind), "n", BCON_INT64(n), "createdAt",
                           BCON_DATE_TIME(now_ms));
    bool ok = insert_retrying(c, doc, err);
    bson_destroy(doc);
    if (ok)
        return 1;
    return mc_mongo_is_duplicate(err) ? 0 : -1;
}

/* Deletes a slot only while it still belongs to the order: a slot freed earlier may have
 * been taken by another order since. */
static void delete_slot(mongoc_collection_t *c, const char *id, const char *order_id)
{
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id), "orderId", BCON_UTF8(order_id));
    mongoc_collection_delete_one(c, f, NULL, NULL, NULL);
    bson_destroy(f);
}

/* Takes one of the customer's slots 1..limit. 1 taken (id in out), 0 none free, -1 error. */
static int take_customer_slot(mongoc_collection_t *c, const char *coupon_id, const char *customer, int64_t limit,
                              const char *order_id, int64_t now_ms, char *out, size_t outlen, bson_error_t *err)
{
    for (int64_t k = 1; k <= limit; ++k) {
        customer_slot_id(out, outlen, coupon_id, customer, k);
        int r = insert_slot(c, out, "c", k, coupon_id, customer, order_id, now_ms, err);
        if (r != 0)
            return r;
    }
    return 0;
}

static int64_t read_hint(mongoc_database_t *db, const char *coupon_id)
{
    mongoc_collection_t *h = mongoc_database_get_collection(db, "slot_hints");
    bson_error_t e;
    json_t *doc = find_by_id(h, coupon_id, false, &e);
    int64_t next = doc != NULL ? json_integer_value(json_object_get(doc, "next")) : 0;
    json_decref(doc);
    mongoc_collection_destroy(h);
    return next > 0 ? next : 0;
}

/* The hint is advisory: a lost update only costs later redemptions a few extra probes. */
static void write_hint(mongoc_database_t *db, const char *coupon_id, int64_t taken)
{
    mongoc_collection_t *h = mongoc_database_get_collection(db, "slot_hints");
    bson_t *f = BCON_NEW("_id", BCON_UTF8(coupon_id));
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(coupon_id), "next", BCON_INT64(taken));
    bson_t *opts = BCON_NEW("upsert", BCON_BOOL(true));
    mongoc_collection_replace_one(h, f, doc, opts, NULL, NULL);
    bson_destroy(opts);
    bson_destroy(doc);
    bson_destroy(f);
    mongoc_collection_destroy(h);
}

/* Takes a use slot 1..max: from the hint upwards, then the holes that releases left
 * below it. 1 taken (id in out), 0 all taken, -1 error. */
static int take_use_slot(mongoc_database_t *db, mongoc_collection_t *c, const char *coupon_id, const char *customer,
                         int64_t max, const char *order_id, int64_t now_ms, char *out, size_t outlen, bson_error_t *err)
{
    int64_t hint = read_hint(db, coupon_id);
    for (int64_t k = hint + 1; k <= max; ++k) {
        use_slot_id(out, outlen, coupon_id, k);
        int r = insert_slot(c, out, "u", k, coupon_id, customer, order_id, now_ms, err);
        if (r == 1)
            write_hint(db, coupon_id, k);
        if (r != 0)
            return r;
    }
    /* Every number above the hint is taken: look for freed ones. */
    size_t words = (size_t)(max / 64 + 1);
    uint64_t *used = calloc(words, sizeof(uint64_t));
    bson_t *filter = BCON_NEW("couponId", BCON_UTF8(coupon_id), "kind", BCON_UTF8("u"));
    bson_t *opts = BCON_NEW("projection", "{", "n", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "n")) {
            int64_t n = bson_iter_as_int64(&it);
            if (n >= 1 && n <= max)
                used[n / 64] |= 1ull << (n % 64);
        }
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    for (int64_t k = 1; k <= max && r == 0; ++k) {
        if (used[k / 64] & (1ull << (k % 64)))
            continue;
        use_slot_id(out, outlen, coupon_id, k);
        r = insert_slot(c, out, "u", k, coupon_id, customer, order_id, now_ms, err);
    }
    free(used);
    return r;
}

/* --- validate, redeem, release ---------------------------------------------------------------- */

static json_t *lines_json(const cpn_line_t *lines, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; ++i)
        json_array_append_new(a, json_pack("{s:s,s:I}", "productId", lines[i].product_id, "discount",
                                           (json_int_t)lines[i].discount));
    return a;
}

/* A refusal with its reason. */
static void refuse(cpn_outcome_t *out, mc_err_t err, cpn_reason_t reason)
{
    out->err = err;
    out->reason = reason;
    snprintf(out->msg, sizeof(out->msg), "%s", cpn_reason_message(reason));
}

/* The rule of a coupon, with its categories expanded. */
static void rule_of(const json_t *cp, const char *const *cats, size_t ncats, cpn_rule_t *rule, const char ***own)
{
    cpn_rule_from_json(cp, rule, own);
    if (rule->ncategories > 0) {
        rule->categories = cats;
        rule->ncategories = ncats;
    }
}

int cpn_store_validate(mongoc_database_t *db, const json_t *cp, const char *code, const char *customer,
                       const char *const *cats, size_t ncats, cpn_line_t *lines, size_t n, int64_t now_ms, cpn_outcome_t *out,
                       bson_error_t *err)
{
    memset(err, 0, sizeof(*err));
    cpn_reason_t reason = CPN_UNKNOWN;
    int64_t total = 0, subtotal = 0;
    if (cp != NULL) {
        cpn_rule_t rule;
        const char **own;
        rule_of(cp, cats, ncats, &rule, &own);
        const char *id = json_string_value(json_object_get(cp, "id"));
        int64_t uses = 0, customer_uses = 0;
        if (rule.max_uses > 0 && (uses = count_uses(db, id, err)) < 0) {
            free(own);
            return -1;
        }
        if (rule.max_uses_per_customer > 0 && customer != NULL &&
            (customer_uses = count_customer_uses(db, id, customer, rule.max_uses_per_customer, err)) < 0) {
            free(own);
            return -1;
        }
        reason = cpn_evaluate(&rule, lines, n, now_ms, uses, customer_uses, &total, &subtotal);
        free(own);
    }
    out->status = 200;
    if (reason == CPN_OK)
        out->body = json_pack("{s:b,s:s,s:I,s:I,s:o}", "valid", 1, "code", code, "discount", (json_int_t)total, "subtotal",
                              (json_int_t)subtotal, "lines", lines_json(lines, n));
    else
        out->body = json_pack("{s:b,s:s,s:s,s:s}", "valid", 0, "code", code, "reason", cpn_reason_name(reason), "message",
                              cpn_reason_message(reason));
    return 0;
}

/* A redemption document (JSON read back from `redemptions`) in API shape. */
static json_t *redemption_api(json_t *doc)
{
    json_t *out = json_deep_copy(doc);
    json_object_set(out, "orderId", json_object_get(doc, "id"));
    json_object_del(out, "id");
    json_object_del(out, "slots");
    return out;
}

json_t *cpn_store_redemption(mongoc_database_t *db, const char *order_id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "redemptions");
    json_t *doc = find_by_id(c, order_id, false, err);
    mongoc_collection_destroy(c);
    if (doc == NULL)
        return NULL;
    json_t *out = redemption_api(doc);
    json_decref(doc);
    return out;
}

/* The answer for an order that already has a redemption document. */
static void existing_outcome(json_t *doc, const char *code, cpn_outcome_t *out)
{
    const char *status = json_string_value(json_object_get(doc, "status"));
    const char *had = json_string_value(json_object_get(doc, "code"));
    if (status == NULL || strcmp(status, "active") != 0) {
        out->err = MC_ERR_CONFLICT;
        snprintf(out->msg, sizeof(out->msg), "the coupon redemption of this order was released");
    } else if (had == NULL || strcmp(had, code) != 0) {
        out->err = MC_ERR_CONFLICT;
        snprintf(out->msg, sizeof(out->msg), "this order already redeemed coupon %s", had ? had : "?");
    } else {
        out->status = 200;
        out->body = redemption_api(doc);
    }
}

int cpn_store_redeem(mongoc_database_t *db, const char *order_id, const json_t *coupon, const char *code, const char *customer,
                     const char *const *cats, size_t ncats, cpn_line_t *lines, size_t n, int64_t now_ms, cpn_outcome_t *out,
                     bson_error_t *err)
{
    mongoc_collection_t *red = mongoc_database_get_collection(db, "redemptions");
    mongoc_collection_t *slots = mongoc_database_get_collection(db, "slots");
    json_t *cp = NULL, *existing = NULL;
    const char **own_cats = NULL;
    char cslot[128] = "", uslot[128] = "";
    int rc = -1;

    existing = find_by_id(red, order_id, false, err);
    if (existing == NULL && err->code != 0)
        goto Done;
    if (existing != NULL) {
        existing_outcome(existing, code, out);
        rc = 0;
        goto Done;
    }
    if (coupon == NULL) {
        refuse(out, MC_ERR_NOT_FOUND, CPN_UNKNOWN);
        rc = 0;
        goto Done;
    }
    cp = json_incref((json_t *)coupon);
    const char *coupon_id = json_string_value(json_object_get(cp, "id"));
    cpn_rule_t rule;
    rule_of(cp, cats, ncats, &rule, &own_cats);
    int64_t total = 0;
    /* The limits are enforced by the slots below, not by counts: evaluate without them. */
    cpn_reason_t reason = cpn_evaluate(&rule, lines, n, now_ms, 0, 0, &total, NULL);
    if (reason != CPN_OK) {
        refuse(out, MC_ERR_CONFLICT, reason);
        rc = 0;
        goto Done;
    }
    if (rule.max_uses_per_customer > 0) {
        int r = take_customer_slot(slots, coupon_id, customer, rule.max_uses_per_customer, order_id, now_ms, cslot,
                                   sizeof(cslot), err);
        if (r < 0) {
            cslot[0] = '\0';
            goto Done;
        }
        if (r == 0) {
            cslot[0] = '\0';
            refuse(out, MC_ERR_CONFLICT, CPN_USED_UP_FOR_CUSTOMER);
            rc = 0;
            goto Done;
        }
    }
    if (rule.max_uses > 0) {
        int r = take_use_slot(db, slots, coupon_id, customer, rule.max_uses, order_id, now_ms, uslot, sizeof(uslot), err);
        if (r < 0) {
            uslot[0] = '\0';
            goto Done;
        }
        if (r == 0) {
            uslot[0] = '\0';
            refuse(out, MC_ERR_CONFLICT, CPN_USED_UP);
            rc = 0;
            goto Done;
        }
    }

    /* The decision: insert the redemption under the order's id. */
    char ts[MC_TIME_BUFSZ];
    json_t *doc = json_pack("{s:s,s:s,s:s,s:s,s:I,s:o,s:[],s:s,s:s}", "_id", order_id, "couponId", coupon_id, "code", code,
                            "customerId", customer, "discount", (json_int_t)total, "lines", lines_json(lines, n), "slots",
                            "status", "active", "createdAt", mc_time_format(now_ms, ts));
    if (cslot[0])
        json_array_append_new(json_object_get(doc, "slots"), json_string(cslot));
    if (uslot[0])
        json_array_append_new(json_object_get(doc, "slots"), json_string(uslot));
    bson_t b = BSON_INITIALIZER;
    bool ok = mc_json_to_bson(doc, &b, MC_BJ_DATES) && insert_retrying(red, &b, err);
    bson_destroy(&b);
    if (ok) {
        json_object_set_new(doc, "id", json_string(order_id));
        json_object_del(doc, "_id");
        out->status = 201;
        out->body = redemption_api(doc);
        json_decref(doc);
        cslot[0] = uslot[0] = '\0'; /* kept */
        rc = 0;
        goto Done;
    }
    json_decref(doc);
    if (!mc_mongo_is_duplicate(err))
        goto Done;
    /* Someone decided first: a concurrent redemption of this order, or a release. */
    existing = find_by_id(red, order_id, false, err);
    if (existing == NULL) {
        if (err->code == 0)
            bson_set_error(err, MONGOC_ERROR_QUERY, 1, "redemption of order %s vanished", order_id);
        goto Done;
    }
    existing_outcome(existing, code, out);
    /* Our slots are not the ones the winner recorded (slot ids are unique per holder). */
    rc = 0;

Done:
    /* Slots taken by a redemption that did not happen are given back. */
    if (cslot[0])
        delete_slot(slots, cslot, order_id);
    if (uslot[0])
        delete_slot(slots, uslot, order_id);
    free(own_cats);
    json_decref(cp);
    json_decref(existing);
    mongoc_collection_destroy(slots);
    mongoc_collection_destroy(red);
    return rc;
}

int cpn_store_release(mongoc_database_t *db, const char *order_id, int64_t now_ms, cpn_outcome_t *out,
                      bson_error_t *err)
{
    mongoc_collection_t *red = mongoc_database_get_collection(db, "redemptions");
    mongoc_collection_t *slots = mongoc_database_get_collection(db, "slots");
    json_t *doc = NULL;
    int rc = -1;
    char ts[MC_TIME_BUFSZ];
    mc_time_format(now_ms, ts);

    for (int attempt = 0; attempt < 3 && doc == NULL; ++attempt) {
        doc = find_by_id(red, order_id, false, err);
        if (doc != NULL || err->code != 0)
            break;
        /* No redemption: leave a tombstone so that a redemption still on its way fails. */
        bson_t *t = BCON_NEW("_id", BCON_UTF8(order_id), "status", BCON_UTF8("released"), "code", BCON_NULL, "couponId",
                             BCON_NULL, "customerId", BCON_NULL, "discount", BCON_INT64(0), "lines", "[", "]", "slots", "[",
                             "]", "createdAt", BCON_DATE_TIME(now_ms), "releasedAt", BCON_DATE_TIME(now_ms));
        bool ok = insert_retrying(red, t, err);
        bson_destroy(t);
        if (ok) {
            /* A redemption that died half-way may have left slots naming the order. */
            bson_t *f = BCON_NEW("orderId", BCON_UTF8(order_id));
            bool dok = mongoc_collection_delete_many(slots, f, NULL, NULL, err);
            bson_destroy(f);
            if (!dok)
                goto Done;
            doc = find_by_id(red, order_id, false, err);
            break;
        }
        if (!mc_mongo_is_duplicate(err))
            goto Done;
    }
    if (doc == NULL) {
        if (err->code == 0)
            bson_set_error(err, MONGOC_ERROR_QUERY, 1, "release of order %s did not settle", order_id);
        goto Done;
    }
    if (strcmp(json_string_value(json_object_get(doc, "status")) ? json_string_value(json_object_get(doc, "status")) : "",
               "active") == 0) {
        bson_t *f = BCON_NEW("_id", BCON_UTF8(order_id));
        bson_t *u = BCON_NEW("$set", "{", "status", BCON_UTF8("released"), "releasedAt", BCON_DATE_TIME(now_ms), "}");
        bool ok = mongoc_collection_update_one(red, f, u, NULL, NULL, err);
        bson_destroy(u);
        bson_destroy(f);
        if (!ok)
            goto Done;
        json_object_set_new(doc, "status", json_string("released"));
        json_object_set_new(doc, "releasedAt", json_string(ts));
    }
    /* Give the slots back (again, if a previous release died before doing it). */
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(doc, "slots"), i, s) if (json_is_string(s)) delete_slot(slots, json_string_value(s), order_id);
    out->status = 200;
    out->body = redemption_api(doc);
    rc = 0;
Done:
    json_decref(doc);
    mongoc_collection_destroy(slots);
    mongoc_collection_destroy(red);
    return rc;
}
