/*
 * Implementation of store.h.
 */
#include <string.h>
#include "mc_lock.h"
#include "mc_util.h"
#include "store.h"

#define LOCK_TTL_MS 10000

static bson_t *index_specs(void)
{
    bson_t *a = bson_new(), d;
    BSON_APPEND_DOCUMENT_BEGIN(a, "0", &d);
    BCON_APPEND(&d, "key", "{", "slug", BCON_INT32(1), "}", "name", BCON_UTF8("slug_unique"), "unique", BCON_BOOL(true));
    bson_append_document_end(a, &d);
    BSON_APPEND_DOCUMENT_BEGIN(a, "1", &d);
    BCON_APPEND(&d, "key", "{", "parentId", BCON_INT32(1), "position", BCON_INT32(1), "}", "name", BCON_UTF8("parent"));
    bson_append_document_end(a, &d);
    return a;
}

int cat_store_init(mc_mongo_t *m, bson_error_t *err)
{
    bson_t *specs = index_specs();
    int r = mc_mongo_create_indexes(m, "categories", specs, 30000, err);
    bson_destroy(specs);
    return r;
}

/* One stored document → API object. */
static json_t *doc_to_json(const bson_t *doc)
{
    json_t *o = json_object();
    bson_iter_t it;
    char hex[25], ts[MC_TIME_BUFSZ];
    if (!bson_iter_init(&it, doc))
        return o;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bson_type_t t = bson_iter_type(&it);
        const char *name = strcmp(k, "_id") == 0 ? "id" : k;
        if (t == BSON_TYPE_OID) {
            bson_oid_to_string(bson_iter_oid(&it), hex);
            json_object_set_new(o, name, json_string(hex));
        } else if (t == BSON_TYPE_UTF8) {
            uint32_t len;
            const char *s = bson_iter_utf8(&it, &len);
            json_object_set_new(o, name, json_stringn(s, len));
        } else if (t == BSON_TYPE_DATE_TIME) {
            json_object_set_new(o, name, json_string(mc_time_format(bson_iter_date_time(&it), ts)));
        } else if (t == BSON_TYPE_INT64 || t == BSON_TYPE_INT32 || t == BSON_TYPE_DOUBLE) {
            json_object_set_new(o, name, json_integer(bson_iter_as_int64(&it)));
        } else if (t == BSON_TYPE_BOOL) {
            json_object_set_new(o, name, json_boolean(bson_iter_bool(&it)));
        } else if (t == BSON_TYPE_NULL) {
            json_object_set_new(o, name, json_null());
        }
    }
    /* Every category has every field in the API, null when unset. */
    static const char *const nullable[] = {"description", "parentId", "image"};
    for (size_t i = 0; i < 3; ++i)
        if (json_object_get(o, nullable[i]) == NULL)
            json_object_set_new(o, nullable[i], json_null());
    return o;
}

json_t *cat_store_load_all(mongoc_database_t *db, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "categories");
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("limit", BCON_INT64(CATEGORY_MAX_COUNT + 1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    json_t *out = json_array();
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc))
        json_array_append_new(out, doc_to_json(doc));
    if (mongoc_cursor_error(cur, err)) {
        json_decref(out);
        out = NULL;
    } else if (json_array_size(out) > CATEGORY_MAX_COUNT) {
        bson_set_error(err, MONGOC_ERROR_QUERY, 1, "more than %d categories", CATEGORY_MAX_COUNT);
        json_decref(out);
        out = NULL;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    mongoc_collection_destroy(c);
    return out;
}

/* Appends one validated API field to a BSON document in its stored type. */
static void append_field(bson_t *b, const char *key, json_t *v)
{
    if (json_is_null(v)) {
        BSON_APPEND_NULL(b, key);
    } else if (strcmp(key, "parentId") == 0) {
        bson_oid_t oid;
        bson_oid_init_from_string(&oid, json_string_value(v));
        BSON_APPEND_OID(b, key, &oid);
    } else if (json_is_string(v)) {
        bson_append_utf8(b, key, -1, json_string_value(v), (int)json_string_length(v));
    } else if (json_is_integer(v)) {
        BSON_APPEND_INT64(b, key, json_integer_value(v));
    } else if (json_is_boolean(v)) {
        BSON_APPEND_BOOL(b, key, json_is_true(v));
    }
}

static json_t *find_by_oid(mongoc_collection_t *c, const bson_oid_t *oid, bson_error_t *err, bool *failed)
{
    bson_t *filter = BCON_NEW("_id", BCON_OID(oid));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    json_t *out = NULL;
    if (mongoc_cursor_next(cur, &doc))
        out = doc_to_json(doc);
    *failed = mongoc_cursor_error(cur, err);
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    return *failed ? (json_decref(out), NULL) : out;
}

json_t *cat_store_insert(mongoc_database_t *db, json_t *fields, int64_t now_ms, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "categories");
    bson_t doc = BSON_INITIALIZER;
    bson_oid_t oid;
    bson_oid_init(&oid, NULL);
    BSON_APPEND_OID(&doc, "_id", &oid);
    static const char *const order[] = {"name", "slug", "description", "parentId", "image", "position", "isActive"};
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); ++i) {
        json_t *v = json_object_get(fields, order[i]);
        append_field(&doc, order[i], v != NULL ? v : json_null());
    }
    BSON_APPEND_DATE_TIME(&doc, "createdAt", now_ms);
    BSON_APPEND_DATE_TIME(&doc, "updatedAt", now_ms);
    json_t *out = NULL;
    if (mongoc_collection_insert_one(c, &doc, NULL, NULL, err))
        out = doc_to_json(&doc);
    bson_destroy(&doc);
    mongoc_collection_destroy(c);
    return out;
}

json_t *cat_store_update(mongoc_database_t *db, const char *id, json_t *fields, int64_t now_ms, bool *found,
                         bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "categories");
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    bson_t update = BSON_INITIALIZER, set;
    BSON_APPEND_DOCUMENT_BEGIN(&update, "$set", &set);
    const char *key;
    json_t *v;
    json_object_foreach(fields, key, v) append_field(&set, key, v);
    BSON_APPEND_DATE_TIME(&set, "updatedAt", now_ms);
    bson_append_document_end(&update, &set);
    bson_t reply;
    json_t *out = NULL;
    *found = false;
    if (mongoc_collection_update_one(c, filter, &update, NULL, &reply, err)) {
        bson_iter_t it;
        *found = bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0;
        bool failed = false;
        if (*found)
            out = find_by_oid(c, &oid, err, &failed);
        if (out == NULL && !failed)
            *found = false;
    }
    bson_destroy(&reply);
    bson_destroy(&update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return out;
}

int cat_store_delete(mongoc_database_t *db, const char *id, bool *found, bson_error_t *err)
{
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, id);
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    long n = mc_mongo_delete(db, "categories", filter, false, err);
    bson_destroy(filter);
    *found = n > 0;
    return n < 0 ? -1 : 0;
}

int cat_store_lock(mongoc_database_t *db, char *token, unsigned wait_ms, bson_error_t *err)
{
    return mc_lock_acquire(db, "category-tree", LOCK_TTL_MS, wait_ms, token, err);
}

void cat_store_unlock(mongoc_database_t *db, const char *token)
{
    mc_lock_release(db, "category-tree", token);
}
