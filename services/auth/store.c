/*
 * Implementation of store.h.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "mc_lock.h"
#include "mc_util.h"
#include "store.h"
#include "tokens.h"

/* --- helpers ---------------------------------------------------------------------------- */

/* One index spec {key: {...}, name, unique?} appended to the array a at position i. */
static void add_index(bson_t *a, int i, const char *name, bool unique, const char *k1, const char *k2)
{
    char pos[8];
    snprintf(pos, sizeof(pos), "%d", i);
    bson_t d, key;
    BSON_APPEND_DOCUMENT_BEGIN(a, pos, &d);
    BSON_APPEND_DOCUMENT_BEGIN(&d, "key", &key);
    BSON_APPEND_INT32(&key, k1, 1);
    if (k2 != NULL)
        BSON_APPEND_INT32(&key, k2, 1);
    bson_append_document_end(&d, &key);
    BSON_APPEND_UTF8(&d, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&d, "unique", true);
    bson_append_document_end(a, &d);
}

static int create(mc_mongo_t *m, const char *coll, const char *name, bool unique, const char *k1, const char *k2,
                  bson_error_t *err)
{
    bson_t *a = bson_new();
    add_index(a, 0, name, unique, k1, k2);
    int r = mc_mongo_create_indexes(m, coll, a, 30000, err);
    bson_destroy(a);
    return r;
}

int auth_store_init(mc_mongo_t *m, bson_error_t *err)
{
    if (create(m, "users", "email_unique", true, "emailLower", NULL, err) != 0 ||
        create(m, "users", "role", false, "role", NULL, err) != 0 ||
        create(m, "families", "user", false, "userId", NULL, err) != 0 ||
        create(m, "families", "expiry", false, "expiresAt", NULL, err) != 0 ||
        create(m, "refresh_tokens", "expiry", false, "expiresAt", NULL, err) != 0 ||
        create(m, "refresh_used", "expiry", false, "expiresAt", NULL, err) != 0 ||
        create(m, "family_revocations", "expiry", false, "expiresAt", NULL, err) != 0 ||
        create(m, "action_tokens", "expiry", false, "expiresAt", NULL, err) != 0 ||
        create(m, "action_used", "expiry", false, "expiresAt", NULL, err) != 0 ||
        create(m, "addresses", "user", false, "userId", NULL, err) != 0 ||
        create(m, "google_links", "user", false, "userId", NULL, err) != 0 ||
        create(m, "outbox", "due", false, "status", "nextAttemptAt", err) != 0 ||
        create(m, "outbox_claims", "expiry", false, "expiresAt", NULL, err) != 0)
        return -1;
    return 0;
}

/* A field name that holds an ObjectId in storage (userId, familyId is not: it is random
 * hex; default…AddressId). */
static bool is_oid_field(const char *key)
{
    return strcmp(key, "userId") == 0 || strcmp(key, "defaultShippingAddressId") == 0 ||
           strcmp(key, "defaultBillingAddressId") == 0;
}

/* Appends a validated JSON value in its stored type. */
static void append_value(bson_t *b, const char *key, json_t *v)
{
    bson_oid_t oid;
    if (v == NULL || json_is_null(v)) {
        BSON_APPEND_NULL(b, key);
    } else if (json_is_string(v)) {
        if (is_oid_field(key) && mc_mongo_oid_parse(json_string_value(v), &oid))
            BSON_APPEND_OID(b, key, &oid);
        else
            bson_append_utf8(b, key, -1, json_string_value(v), (int)json_string_length(v));
    } else if (json_is_integer(v)) {
        size_t kl = strlen(key);
        if (kl > 2 && strcmp(key + kl - 2, "At") == 0)
            BSON_APPEND_DATE_TIME(b, key, json_integer_value(v));
        else
            BSON_APPEND_INT64(b, key, json_integer_value(v));
    } else if (json_is_boolean(v)) {
        BSON_APPEND_BOOL(b, key, json_is_true(v));
    }
}

json_t *auth_doc_to_json(const bson_t *doc, bool dates_ms)
{
    json_t *o = json_object();
    bson_iter_t it;
    char hex[25], ts[MC_TIME_BUFSZ], msname[64];
    if (!bson_iter_init(&it, doc))
        return o;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        const char *name = strcmp(k, "_id") == 0 ? "id" : k;
        switch (bson_iter_type(&it)) {
        case BSON_TYPE_OID:
            bson_oid_to_string(bson_iter_oid(&it), hex);
            json_object_set_new(o, name, json_string(hex));
            break;
        case BSON_TYPE_UTF8: {
            uint32_t len;
            const char *s = bson_iter_utf8(&it, &len);
            json_object_set_new(o, name, json_stringn(s, len));
            break;
        }
        case BSON_TYPE_DATE_TIME:
            if (dates_ms) {
                snprintf(msname, sizeof(msname), "%sMs", name);
                json_object_set_new(o, msname, json_integer(bson_iter_date_time(&it)));
            } else {
                json_object_set_new(o, name, json_string(mc_time_format(bson_iter_date_time(&it), ts)));
            }
            break;
        case BSON_TYPE_INT32:
        case BSON_TYPE_INT64:
        case BSON_TYPE_DOUBLE:
            json_object_set_new(o, name, json_integer(bson_iter_as_int64(&it)));
            break;
        case BSON_TYPE_BOOL:
            json_object_set_new(o, name, json_boolean(bson_iter_bool(&it)));
            break;
        case BSON_TYPE_NULL:
            json_object_set_new(o, name, json_null());
            break;
        default:
            break;
        }
    }
    return o;
}

json_t *auth_find_one(mongoc_database_t *db, const char *collection, const bson_t *filter, bool dates_ms,
                      bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, collection);
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    json_t *out = NULL;
    memset(err, 0, sizeof(*err));
    if (mongoc_cursor_next(cur, &doc))
        out = auth_doc_to_json(doc, dates_ms);
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    mongoc_collection_destroy(c);
    return out;
}

/* A JSON array of every matching document. */
static json_t *find_all(mongoc_database_t *db, const char *collection, const bson_t *filter, const bson_t *opts,
                        bool dates_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, collection);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    json_t *out = json_array();
    while (mongoc_cursor_next(cur, &doc))
        json_array_append_new(out, auth_doc_to_json(doc, dates_ms));
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    mongoc_collection_destroy(c);
    return out;
}

int auth_insert_marker(mongoc_database_t *db, const char *collection, const char *key, const bson_t *extra,
                       bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, collection);
    bson_t doc = BSON_INITIALIZER;
    BSON_APPEND_UTF8(&doc, "_id", key);
    if (extra != NULL)
        bson_concat(&doc, extra);
    int r = 0;
    if (!mongoc_collection_insert_one(c, &doc, NULL, NULL, err))
        r = mc_mongo_is_duplicate(err) ? 1 : -1;
    bson_destroy(&doc);
    mongoc_collection_destroy(c);
    return r;
}

static bool oid_of(const char *hex, bson_oid_t *oid, bson_error_t *err)
{
    if (mc_mongo_oid_parse(hex, oid))
        return true;
    memset(err, 0, sizeof(*err)); /* a malformed id finds nothing */
    return false;
}

/* --- users -------------------------------------------------------------------------------- */

json_t *auth_user_insert(mongoc_database_t *db, const auth_new_user_t *u, int64_t now_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "users");
    bson_t doc = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(&doc, "_id", &oid);
    BSON_APPEND_UTF8(&doc, "email", u->email);
    BSON_APPEND_UTF8(&doc, "emailLower", u->email_lower);
    BSON_APPEND_UTF8(&doc, "name", u->name);
    if (u->phone != NULL)
        BSON_APPEND_UTF8(&doc, "phone", u->phone);
    else
        BSON_APPEND_NULL(&doc, "phone");
    BSON_APPEND_UTF8(&doc, "role", u->role);
    BSON_APPEND_BOOL(&doc, "emailVerified", u->email_verified);
    BSON_APPEND_BOOL(&doc, "disabled", false);
    if (u->password_hash != NULL)
        BSON_APPEND_UTF8(&doc, "passwordHash", u->password_hash);
    else
        BSON_APPEND_NULL(&doc, "passwordHash");
    BSON_APPEND_INT64(&doc, "epoch", 0);
    BSON_APPEND_BOOL(&doc, "googleLinked", u->google_linked);
    BSON_APPEND_NULL(&doc, "defaultShippingAddressId");
    BSON_APPEND_NULL(&doc, "defaultBillingAddressId");
    BSON_APPEND_DATE_TIME(&doc, "createdAt", now_ms);
    BSON_APPEND_DATE_TIME(&doc, "updatedAt", now_ms);
    json_t *out = NULL;
    if (mongoc_collection_insert_one(c, &doc, NULL, NULL, err))
        out = auth_doc_to_json(&doc, false);
    bson_destroy(&doc);
    mongoc_collection_destroy(c);
    return out;
}

json_t *auth_user_get(mongoc_database_t *db, const char *id, bson_error_t *err)
{
    bson_oid_t oid;
    if (!oid_of(id, &oid, err))
        return NULL;
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    json_t *u = auth_find_one(db, "users", f, false, err);
    bson_destroy(f);
    return u;
}

json_t *auth_user_by_email(mongoc_database_t *db, const char *email_lower, bson_error_t *err)
{
    bson_t *f = BCON_NEW("emailLower", BCON_UTF8(email_lower));
    json_t *u = auth_find_one(db, "users", f, false, err);
    bson_destroy(f);
    return u;
}

int auth_user_set(mongoc_database_t *db, const char *id, json_t *fields, int64_t now_ms, bson_error_t *err)
{
    bson_oid_t oid;
    if (!oid_of(id, &oid, err))
        return 1;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "users");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    bson_t update = BSON_INITIALIZER, set, reply;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) append_value(&set, key, v);
    BSON_APPEND_DATE_TIME(&set, "updatedAt", now_ms);
    bson_append_document_end(&update, &set);
    int r = -1;
    if (mongoc_collection_update_one(c, filter, &update, NULL, &reply, err)) {
        bson_iter_t it;
        r = bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0 ? 0 : 1;
    }
    bson_destroy(&reply);
    bson_destroy(&update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int auth_user_delete(mongoc_database_t *db, const char *id, bson_error_t *err)
{
    bson_oid_t oid;
    if (!oid_of(id, &oid, err))
        return 1;
    bson_t *f = BCON_NEW("_id", BCON_OID(&oid));
    long n = mc_mongo_delete(db, "users", f, false, err);
    bson_destroy(f);
    if (n < 0)
        return -1;
    /* What belongs to the user goes with it; the sessions die with the user document. */
    bson_t *owned = BCON_NEW("userId", BCON_OID(&oid));
    bool ok = mc_mongo_delete(db, "addresses", owned, true, err) >= 0 && mc_mongo_delete(db, "google_links", owned, true, err) >= 0;
    bson_destroy(owned);
    if (!ok)
        return -1;
    return n > 0 ? 0 : 1;
}

/* Escapes every regular-expression metacharacter, so a search is a literal substring. */
static void regex_literal(const char *in, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = in; *p && o + 3 < outlen; ++p) {
        if (strchr("\\^$.|?*+()[]{}", *p) != NULL)
            out[o++] = '\\';
        out[o++] = *p;
    }
    out[o] = '\0';
}

/* The list filter without the cursor. */
static void list_filter(bson_t *f, const auth_user_query_t *q)
{
    if (q->q != NULL && *q->q != '\0') {
        char rx[1024];
        regex_literal(q->q, rx, sizeof(rx));
        bson_t or, a, b, ra, rb;
        BSON_APPEND_ARRAY_BEGIN(f, "$or", &or);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &a);
        BSON_APPEND_DOCUMENT_BEGIN(&a, "emailLower", &ra);
        BSON_APPEND_UTF8(&ra, "$regex", rx);
        BSON_APPEND_UTF8(&ra, "$options", "i");
        bson_append_document_end(&a, &ra);
        bson_append_document_end(&or, &a);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &b);
        BSON_APPEND_DOCUMENT_BEGIN(&b, "name", &rb);
        BSON_APPEND_UTF8(&rb, "$regex", rx);
        BSON_APPEND_UTF8(&rb, "$options", "i");
        bson_append_document_end(&b, &rb);
        bson_append_document_end(&or, &b);
        bson_append_array_end(f, &or);
    }
    if (q->role != NULL)
        BSON_APPEND_UTF8(f, "role", q->role);
    if (q->disabled >= 0)
        BSON_APPEND_BOOL(f, "disabled", q->disabled == 1);
}

json_t *auth_users_list(mongoc_database_t *db, const auth_user_query_t *q, int64_t *total, bson_error_t *err)
{
    bson_t f = BSON_INITIALIZER;
    list_filter(&f, q);
    mongoc_collection_t *c = mongoc_database_get_collection(db, "users");
    int64_t n = mongoc_collection_count_documents(c, &f, NULL, NULL, NULL, err);
    mongoc_collection_destroy(c);
    if (n < 0) {
        bson_destroy(&f);
        return NULL;
    }
    *total = n;
    bson_oid_t after;
    if (q->after != NULL && mc_mongo_oid_parse(q->after, &after)) {
        bson_t lt;
        BSON_APPEND_DOCUMENT_BEGIN(&f, "_id", &lt);
        BSON_APPEND_OID(&lt, "$lt", &after);
        bson_append_document_end(&f, &lt);
    }
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(q->limit));
    json_t *out = find_all(db, "users", &f, opts, false, err);
    bson_destroy(opts);
    bson_destroy(&f);
    return out;
}

json_t *auth_users_by_ids(mongoc_database_t *db, json_t *ids, bson_error_t *err)
{
    bson_t f = BSON_INITIALIZER, in, arr;
    BSON_APPEND_DOCUMENT_BEGIN(&f, "_id", &in);
    BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
    size_t i;
    json_t *id;
    json_array_foreach(ids, i, id)
    {
        bson_oid_t oid;
        char pos[24];
        snprintf(pos, sizeof(pos), "%zu", i);
        if (mc_mongo_oid_parse(json_string_value(id), &oid))
            BSON_APPEND_OID(&arr, pos, &oid);
    }
    bson_append_array_end(&in, &arr);
    bson_append_document_end(&f, &in);
    json_t *out = find_all(db, "users", &f, NULL, false, err);
    bson_destroy(&f);
    return out;
}

int auth_user_lock(mongoc_database_t *db, const char *user_id, char *token, unsigned wait_ms, bson_error_t *err)
{
    char key[48];
    snprintf(key, sizeof(key), "user:%s", user_id);
    return mc_lock_acquire(db, key, AUTH_LOCK_TTL_MS, wait_ms, token, err);
}

void auth_user_unlock(mongoc_database_t *db, const char *user_id, const char *token)
{
    char key[48];
    snprintf(key, sizeof(key), "user:%s", user_id);
    mc_lock_release(db, key, token);
}

/* --- sessions ------------------------------------------------------------------------------ */

int auth_family_create(mongoc_database_t *db, const char *user_id, int64_t epoch, const char *ip, const char *user_agent,
                       int64_t now_ms, int64_t expires_ms, char *id_out, bson_error_t *err)
{
    bson_oid_t uid;
    if (!mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, "bad user id");
        return -1;
    }
    auth_random_id(id_out);
    char ua[257];
    snprintf(ua, sizeof(ua), "%s", user_agent != NULL ? user_agent : "");
    /* the cut must not split a UTF-8 sequence: drop a trailing partial one */
    size_t n = strlen(ua);
    while (n > 0 && ((unsigned char)ua[n - 1] & 0xC0) == 0x80)
        --n;
    if (n > 0 && (unsigned char)ua[n - 1] >= 0xC0)
        --n;
    ua[n] = '\0';
    if (!bson_utf8_validate(ua, n, false))
        ua[0] = '\0';
    bson_t *extra = BCON_NEW("userId", BCON_OID(&uid), "epoch", BCON_INT64(epoch), "ip", BCON_UTF8(ip), "userAgent",
                             BCON_UTF8(ua), "createdAt", BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(expires_ms));
    int r = auth_insert_marker(db, "families", id_out, extra, err);
    bson_destroy(extra);
    return r == 0 ? 0 : -1;
}

json_t *auth_family_get(mongoc_database_t *db, const char *family_id, bson_error_t *err)
{
    bson_t *f = BCON_NEW("_id", BCON_UTF8(family_id));
    json_t *out = auth_find_one(db, "families", f, true, err);
    bson_destroy(f);
    return out;
}

int auth_family_revoke(mongoc_database_t *db, const char *family_id, const char *reason, int64_t now_ms,
                       bson_error_t *err)
{
    /* Kept as long as a family can live, so that a revoked family never comes back. */
    bson_t *f = BCON_NEW("_id", BCON_UTF8(family_id));
    json_t *fam = auth_find_one(db, "families", f, true, err);
    bson_destroy(f);
    if (fam == NULL && err->code != 0)
        return -1;
    int64_t until = fam != NULL ? json_integer_value(json_object_get(fam, "expiresAtMs")) : now_ms;
    json_decref(fam);
    bson_t *extra = BCON_NEW("reason", BCON_UTF8(reason), "at", BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(until));
    int r = auth_insert_marker(db, "family_revocations", family_id, extra, err);
    bson_destroy(extra);
    return r < 0 ? -1 : 0;
}

/* 1 when a marker document with this _id is in collection, 0 when not, -1 on error. */
static int marker_exists(mongoc_database_t *db, const char *collection, const char *id, bson_error_t *err)
{
    bson_t *f = BCON_NEW("_id", BCON_UTF8(id));
    json_t *m = auth_find_one(db, collection, f, true, err);
    bson_destroy(f);
    if (m != NULL) {
        json_decref(m);
        return 1;
    }
    return err->code != 0 ? -1 : 0;
}

int auth_family_is_revoked(mongoc_database_t *db, const char *family_id, bson_error_t *err)
{
    return marker_exists(db, "family_revocations", family_id, err);
}

int auth_refresh_insert(mongoc_database_t *db, const char *hash, const char *family_id, const char *user_id,
                        int64_t now_ms, int64_t expires_ms, bson_error_t *err)
{
    bson_oid_t uid;
    if (!mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, "bad user id");
        return -1;
    }
    bson_t *extra = BCON_NEW("familyId", BCON_UTF8(family_id), "userId", BCON_OID(&uid), "createdAt",
                             BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(expires_ms));
    int r = auth_insert_marker(db, "refresh_tokens", hash, extra, err);
    bson_destroy(extra);
    return r == 0 ? 0 : -1;
}

json_t *auth_refresh_get(mongoc_database_t *db, const char *hash, bson_error_t *err)
{
    bson_t *f = BCON_NEW("_id", BCON_UTF8(hash));
    json_t *out = auth_find_one(db, "refresh_tokens", f, true, err);
    bson_destroy(f);
    return out;
}

int auth_refresh_spend(mongoc_database_t *db, const char *hash, const char *family_id, int64_t now_ms,
                       int64_t expires_ms, bson_error_t *err)
{
    bson_t *extra = BCON_NEW("familyId", BCON_UTF8(family_id), "at", BCON_DATE_TIME(now_ms), "expiresAt",
                             BCON_DATE_TIME(expires_ms));
    int r = auth_insert_marker(db, "refresh_used", hash, extra, err);
    bson_destroy(extra);
    return r;
}

/* --- verification and reset tokens --------------------------------------------------------- */

int auth_action_insert(mongoc_database_t *db, const char *hash, const char *kind, const char *user_id, int64_t epoch,
                       const char *email, int64_t now_ms, int64_t expires_ms, bson_error_t *err)
{
    bson_oid_t uid;
    if (!mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, "bad user id");
        return -1;
    }
    bson_t *extra = BCON_NEW("kind", BCON_UTF8(kind), "userId", BCON_OID(&uid), "epoch", BCON_INT64(epoch), "email",
                             BCON_UTF8(email), "createdAt", BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(expires_ms));
    int r = auth_insert_marker(db, "action_tokens", hash, extra, err);
    bson_destroy(extra);
    return r == 0 ? 0 : -1;
}

json_t *auth_action_get(mongoc_database_t *db, const char *hash, bson_error_t *err)
{
    bson_t *f = BCON_NEW("_id", BCON_UTF8(hash));
    json_t *out = auth_find_one(db, "action_tokens", f, true, err);
    bson_destroy(f);
    return out;
}

int auth_action_spend(mongoc_database_t *db, const char *hash, int64_t now_ms, int64_t expires_ms, bson_error_t *err)
{
    bson_t *extra = BCON_NEW("at", BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(expires_ms));
    int r = auth_insert_marker(db, "action_used", hash, extra, err);
    bson_destroy(extra);
    return r;
}

int auth_action_is_spent(mongoc_database_t *db, const char *hash, bson_error_t *err)
{
    return marker_exists(db, "action_used", hash, err);
}

/* --- Google links --------------------------------------------------------------------------- */

int auth_google_link_get(mongoc_database_t *db, const char *sub, char *user_id, bson_error_t *err)
{
    bson_t *f = BCON_NEW("_id", BCON_UTF8(sub));
    json_t *l = auth_find_one(db, "google_links", f, false, err);
    bson_destroy(f);
    if (l == NULL)
        return err->code != 0 ? -1 : 0;
    const char *uid = json_string_value(json_object_get(l, "userId"));
    int r = uid != NULL && strlen(uid) == 24 ? 1 : 0;
    if (r == 1)
        memcpy(user_id, uid, 25);
    json_decref(l);
    return r;
}

int auth_google_link_insert(mongoc_database_t *db, const char *sub, const char *user_id, const char *email,
                            int64_t now_ms, bson_error_t *err)
{
    bson_oid_t uid;
    if (!mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, "bad user id");
        return -1;
    }
    bson_t *extra = BCON_NEW("userId", BCON_OID(&uid), "email", BCON_UTF8(email), "createdAt", BCON_DATE_TIME(now_ms));
    int r = auth_insert_marker(db, "google_links", sub, extra, err);
    bson_destroy(extra);
    return r;
}

/* --- addresses ------------------------------------------------------------------------------- */

static const char *const address_fields[] = {"label", "fullName", "phone", "line1", "line2",
                                             "city",  "region",   "postalCode", "country"};

/* An address in API shape: every field present (null when unset), no userId. */
static json_t *address_api(json_t *a)
{
    json_object_del(a, "userId");
    for (size_t i = 0; i < MC_ARRAY_SIZE(address_fields); ++i)
        if (json_object_get(a, address_fields[i]) == NULL)
            json_object_set_new(a, address_fields[i], json_null());
    return a;
}

json_t *auth_addresses_list(mongoc_database_t *db, const char *user_id, bson_error_t *err)
{
    bson_oid_t uid;
    if (!oid_of(user_id, &uid, err))
        return json_array();
    bson_t *f = BCON_NEW("userId", BCON_OID(&uid));
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(1), "}", "limit", BCON_INT64(AUTH_MAX_ADDRESSES * 2));
    json_t *out = find_all(db, "addresses", f, opts, false, err);
    bson_destroy(opts);
    bson_destroy(f);
    size_t i;
    json_t *a;
    json_array_foreach(out, i, a) address_api(a);
    return out;
}

json_t *auth_address_get(mongoc_database_t *db, const char *user_id, const char *id, bson_error_t *err)
{
    bson_oid_t uid, aid;
    if (!oid_of(user_id, &uid, err) || !oid_of(id, &aid, err))
        return NULL;
    bson_t *f = BCON_NEW("_id", BCON_OID(&aid), "userId", BCON_OID(&uid));
    json_t *a = auth_find_one(db, "addresses", f, false, err);
    bson_destroy(f);
    return a != NULL ? address_api(a) : NULL;
}

json_t *auth_address_insert(mongoc_database_t *db, const char *user_id, json_t *fields, int64_t now_ms,
                            bson_error_t *err)
{
    bson_oid_t uid, aid;
    if (!mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG, "bad user id");
        return NULL;
    }
    mongoc_collection_t *c = mongoc_database_get_collection(db, "addresses");
    bson_t doc = BSON_INITIALIZER;
    bson_oid_init(&aid, NULL);
    BSON_APPEND_OID(&doc, "_id", &aid);
    BSON_APPEND_OID(&doc, "userId", &uid);
    for (size_t i = 0; i < MC_ARRAY_SIZE(address_fields); ++i)
        append_value(&doc, address_fields[i], json_object_get(fields, address_fields[i]));
    BSON_APPEND_DATE_TIME(&doc, "createdAt", now_ms);
    BSON_APPEND_DATE_TIME(&doc, "updatedAt", now_ms);
    json_t *out = NULL;
    if (mongoc_collection_insert_one(c, &doc, NULL, NULL, err))
        out = address_api(auth_doc_to_json(&doc, false));
    bson_destroy(&doc);
    mongoc_collection_destroy(c);
    return out;
}

int auth_address_update(mongoc_database_t *db, const char *user_id, const char *id, json_t *fields, int64_t now_ms,
                        bson_error_t *err)
{
    bson_oid_t uid, aid;
    if (!oid_of(user_id, &uid, err) || !oid_of(id, &aid, err))
        return 1;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "addresses");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&aid), "userId", BCON_OID(&uid));
    bson_t update = BSON_INITIALIZER, set, reply;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) append_value(&set, key, v);
    BSON_APPEND_DATE_TIME(&set, "updatedAt", now_ms);
    bson_append_document_end(&update, &set);
    int r = -1;
    if (mongoc_collection_update_one(c, filter, &update, NULL, &reply, err)) {
        bson_iter_t it;
        r = bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0 ? 0 : 1;
    }
    bson_destroy(&reply);
    bson_destroy(&update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int auth_address_delete(mongoc_database_t *db, const char *user_id, const char *id, bson_error_t *err)
{
    bson_oid_t uid, aid;
    if (!oid_of(user_id, &uid, err) || !oid_of(id, &aid, err))
        return 1;
    bson_t *f = BCON_NEW("_id", BCON_OID(&aid), "userId", BCON_OID(&uid));
    long n = mc_mongo_delete(db, "addresses", f, false, err);
    bson_destroy(f);
    return n < 0 ? -1 : n > 0 ? 0 : 1;
}

int64_t auth_address_count(mongoc_database_t *db, const char *user_id, bson_error_t *err)
{
    bson_oid_t uid;
    if (!oid_of(user_id, &uid, err))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "addresses");
    bson_t *f = BCON_NEW("userId", BCON_OID(&uid));
    int64_t n = mongoc_collection_count_documents(c, f, NULL, NULL, NULL, err);
    bson_destroy(f);
    mongoc_collection_destroy(c);
    return n;
}

/* --- the mail outbox ------------------------------------------------------------------------- */

/* How long a claim is kept after its lease: far longer than any retry interval, so that
 * the claims of a message's finished attempts are still there while it is retried. */
#define CLAIM_KEEP_MS (7LL * 86400 * 1000)

int auth_outbox_insert(mongoc_database_t *db, const char *to, const char *kind, const char *subject, const char *text,
                       int64_t now_ms, int64_t expires_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "outbox");
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    bson_t *doc = BCON_NEW("_id", BCON_OID(&oid), "to", BCON_UTF8(to), "kind", BCON_UTF8(kind), "subject",
                           BCON_UTF8(subject), "text", BCON_UTF8(text), "status", BCON_UTF8("pending"), "attempt",
                           BCON_INT64(1), "nextAttemptAt", BCON_DATE_TIME(now_ms), "lastError", BCON_NULL, "createdAt",
                           BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(expires_ms));
    int r = mongoc_collection_insert_one(c, doc, NULL, NULL, err) ? 0 : -1;
    bson_destroy(doc);
    mongoc_collection_destroy(c);
    return r;
}

json_t *auth_outbox_due(mongoc_database_t *db, int64_t now_ms, int64_t limit, bson_error_t *err)
{
    bson_t *f = BCON_NEW("status", BCON_UTF8("pending"), "nextAttemptAt", "{", "$lte", BCON_DATE_TIME(now_ms), "}");
    bson_t *opts = BCON_NEW("sort", "{", "nextAttemptAt", BCON_INT32(1), "}", "limit", BCON_INT64(limit));
    json_t *out = find_all(db, "outbox", f, opts, true, err);
    bson_destroy(opts);
    bson_destroy(f);
    return out;
}

int auth_outbox_claim(mongoc_database_t *db, const char *id, int64_t attempt, const char *owner, int64_t lease_until_ms,
                      bson_error_t *err)
{
    char key[64];
    snprintf(key, sizeof(key), "%s:%lld", id, (long long)attempt);
    bson_t *extra = BCON_NEW("owner", BCON_UTF8(owner), "leaseUntil", BCON_DATE_TIME(lease_until_ms), "expiresAt",
                             BCON_DATE_TIME(lease_until_ms + CLAIM_KEEP_MS));
    int r = auth_insert_marker(db, "outbox_claims", key, extra, err);
    bson_destroy(extra);
    return r;
}

int64_t auth_outbox_claim_lease(mongoc_database_t *db, const char *id, int64_t attempt, bson_error_t *err)
{
    char key[64];
    snprintf(key, sizeof(key), "%s:%lld", id, (long long)attempt);
    bson_t *f = BCON_NEW("_id", BCON_UTF8(key));
    json_t *c = auth_find_one(db, "outbox_claims", f, true, err);
    bson_destroy(f);
    if (c == NULL)
        return err->code != 0 ? -1 : 0;
    int64_t lease = json_integer_value(json_object_get(c, "leaseUntilMs"));
    json_decref(c);
    return lease > 0 ? lease : 1;
}

int auth_outbox_mark_sent(mongoc_database_t *db, const char *id, int64_t now_ms, bson_error_t *err)
{
    /* Kept far longer than any message can be retried (its expiry is at most days away). */
    bson_t *extra = BCON_NEW("at", BCON_DATE_TIME(now_ms), "expiresAt", BCON_DATE_TIME(now_ms + 30LL * 86400 * 1000));
    int r = auth_insert_marker(db, "outbox_sent", id, extra, err);
    bson_destroy(extra);
    return r;
}

int auth_outbox_is_sent(mongoc_database_t *db, const char *id, bson_error_t *err)
{
    return marker_exists(db, "outbox_sent", id, err);
}

int auth_outbox_update(mongoc_database_t *db, const char *id, json_t *fields, bson_error_t *err)
{
    bson_oid_t oid;
    if (!mc_mongo_oid_parse(id, &oid))
        return -1;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "outbox");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) append_value(&set, key, v);
    bson_append_document_end(&update, &set);
    int r = mongoc_collection_update_one(c, filter, &update, NULL, NULL, err) ? 0 : -1;
    bson_destroy(&update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

/* --- housekeeping ------------------------------------------------------------------------------ */

long auth_store_purge(mongoc_database_t *db, int64_t now_ms, bson_error_t *err)
{
    static const char *const expiring[] = {"refresh_tokens", "refresh_used", "families",      "family_revocations",
                                           "action_tokens",  "action_used",  "locks",         "outbox_claims",
                                           "outbox_sent"};
    bson_t *f = BCON_NEW("expiresAt", "{", "$lt", BCON_DATE_TIME(now_ms), "}");
    long total = 0;
    for (size_t i = 0; i < MC_ARRAY_SIZE(expiring); ++i) {
        long n = mc_mongo_delete(db, expiring[i], f, true, err);
        if (n < 0) {
            total = -1;
            break;
        }
        total += n;
    }
    bson_destroy(f);
    if (total >= 0) { /* settled messages, a week after they stopped mattering */
        bson_t *old = BCON_NEW("status", "{", "$ne", BCON_UTF8("pending"), "}", "expiresAt", "{", "$lt",
                               BCON_DATE_TIME(now_ms - 7LL * 86400 * 1000), "}");
        long n = mc_mongo_delete(db, "outbox", old, true, err);
        bson_destroy(old);
        total = n < 0 ? -1 : total + n;
    }
    return total;
}
