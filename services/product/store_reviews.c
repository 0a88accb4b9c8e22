/*
 * Implementation of reviews.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_mongo.h"
#include "mc_util.h"
#include "reviews.h"

bool rv_cursor_parse(const char *s, rv_cursor_t *c)
{
    memset(c, 0, sizeof(*c));
    if (s == NULL || (s[0] != 'n' && s[0] != 'h') || s[1] != '.')
        return false;
    c->sort = s[0];
    const char *v = s + 2, *dot = strchr(v, '.');
    if (dot == NULL || dot == v || dot - v > 18)
        return false;
    for (const char *p = v; p < dot; ++p)
        if (*p < '0' || *p > '9')
            return false;
    char num[19];
    memcpy(num, v, (size_t)(dot - v));
    num[dot - v] = '\0';
    errno = 0;
    c->num = strtoll(num, NULL, 10);
    const char *id = dot + 1;
    if (errno != 0 || strlen(id) != 24)
        return false;
    for (size_t i = 0; i < 24; ++i)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    memcpy(c->id, id, 25);
    return true;
}

void rv_cursor_format(const rv_cursor_t *c, char *out)
{
    snprintf(out, RV_CURSOR_MAX, "%c.%lld.%s", c->sort, (long long)c->num, c->id);
}

static json_t *review_json(const bson_t *doc)
{
    json_t *o = json_object();
    bson_iter_t it;
    char hex[25], ts[MC_TIME_BUFSZ];
    json_object_set_new(o, "helpfulCount", json_integer(0));
    if (!bson_iter_init(&it, doc))
        return o;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        bson_type_t t = bson_iter_type(&it);
        if (t == BSON_TYPE_OID) {
            bson_oid_to_string(bson_iter_oid(&it), hex);
            json_object_set_new(o, strcmp(k, "_id") == 0 ? "id" : k, json_string(hex));
        } else if (t == BSON_TYPE_UTF8) {
            uint32_t len;
            const char *s = bson_iter_utf8(&it, &len);
            json_object_set_new(o, k, json_stringn(s, len));
        } else if (BSON_ITER_HOLDS_NUMBER(&it)) {
            json_object_set_new(o, k, json_integer(bson_iter_as_int64(&it)));
        } else if (t == BSON_TYPE_DATE_TIME) {
            json_object_set_new(o, k, json_string(mc_time_format(bson_iter_date_time(&it), ts)));
        }
    }
    return o;
}

int rv_insert(mongoc_database_t *db, const char *product_id, const char *user_id, int64_t rating, const char *title,
              const char *body, json_t **out, bson_error_t *err)
{
    bson_oid_t id, pid, uid;
    if (!mc_mongo_oid_parse(product_id, &pid) || !mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, 1, "malformed id");
        return -1;
    }
    bson_oid_init(&id, NULL);
    int64_t now = mc_now_ms();
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reviews");
    bson_t *doc = BCON_NEW("_id", BCON_OID(&id), "productId", BCON_OID(&pid), "userId", BCON_OID(&uid), "rating",
                           BCON_INT64(rating), "title", BCON_UTF8(title), "body", BCON_UTF8(body), "helpfulCount",
                           BCON_INT64(0), "createdAt", BCON_DATE_TIME(now), "updatedAt", BCON_DATE_TIME(now));
    bool ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err);
    if (ok)
        *out = review_json(doc);
    bson_destroy(doc);
    mongoc_collection_destroy(c);
    return ok ? 0 : -1;
}

int rv_find(mongoc_database_t *db, const char *review_id, json_t **out, bson_error_t *err)
{
    bson_oid_t oid;
    if (!mc_mongo_oid_parse(review_id, &oid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reviews");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, NULL, NULL);
    const bson_t *doc;
    int r = 0;
    if (mongoc_cursor_next(cur, &doc)) {
        *out = review_json(doc);
        r = 1;
    }
    if (mongoc_cursor_error(cur, err)) {
        if (r == 1)
            json_decref(*out);
        r = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int rv_delete(mongoc_database_t *db, const char *review_id, bson_error_t *err)
{
    bson_oid_t oid;
    if (!mc_mongo_oid_parse(review_id, &oid))
        return 0;
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    long n = mc_mongo_delete(db, "reviews", filter, false, err);
    bson_destroy(filter);
    int r = n < 0 ? -1 : n > 0 ? 1 : 0;
    if (r == 1) {
        mongoc_collection_t *v = mongoc_database_get_collection(db, "review_votes");
        bson_t *vf = BCON_NEW("reviewId", BCON_OID(&oid));
        mongoc_collection_delete_many(v, vf, NULL, NULL, NULL);
        bson_destroy(vf);
        mongoc_collection_destroy(v);
    }
    return r;
}

int rv_delete_for_product(mongoc_database_t *db, const char *product_id, bson_error_t *err)
{
    bson_oid_t pid;
    if (!mc_mongo_oid_parse(product_id, &pid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reviews");
    bson_t *filter = BCON_NEW("productId", BCON_OID(&pid));
    bool ok = mongoc_collection_delete_many(c, filter, NULL, NULL, err);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return ok ? 0 : -1;
}

int rv_list(mongoc_database_t *db, const char *product_id, char sort, const rv_cursor_t *after, int64_t limit,
            json_t **items, json_t **cursors, bool *has_next, int64_t *total, bson_error_t *err)
{
    bson_oid_t pid;
    rv_cursor_t at;
    *items = json_array();
    *cursors = json_array();
    *has_next = false;
    *total = 0;
    memset(&at, 0, sizeof(at));
    at.sort = sort;
    if (!mc_mongo_oid_parse(product_id, &pid))
        return 0;
    const char *field = sort == 'h' ? "helpfulCount" : "createdAt";
    bson_t filter = BSON_INITIALIZER;
    BSON_APPEND_OID(&filter, "productId", &pid);
    if (after != NULL) {
        bson_oid_t aid;
        bson_oid_init_from_string(&aid, after->id);
        bson_t or, a, b, cmp;
        BSON_APPEND_ARRAY_BEGIN(&filter, "$or", &or);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &a);
        BSON_APPEND_DOCUMENT_BEGIN(&a, field, &cmp);
        if (sort == 'h')
            BSON_APPEND_INT64(&cmp, "$lt", after->num);
        else
            BSON_APPEND_DATE_TIME(&cmp, "$lt", after->num);
        bson_append_document_end(&a, &cmp);
        bson_append_document_end(&or, &a);
        BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &b);
        if (sort == 'h')
            BSON_APPEND_INT64(&b, field, after->num);
        else
            BSON_APPEND_DATE_TIME(&b, field, after->num);
        BSON_APPEND_DOCUMENT_BEGIN(&b, "_id", &cmp);
        BSON_APPEND_OID(&cmp, "$lt", &aid);
        bson_append_document_end(&b, &cmp);
        bson_append_document_end(&or, &b);
        bson_append_array_end(&filter, &or);
    }
    bson_t *opts = BCON_NEW("sort", "{", field, BCON_INT32(-1), "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(limit + 1));
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reviews");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        if ((int64_t)json_array_size(*items) == limit) {
            *has_next = true;
            break;
        }
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
            bson_oid_to_string(bson_iter_oid(&it), at.id);
        if (bson_iter_init_find(&it, doc, field))
            at.num = sort == 'h' ? bson_iter_as_int64(&it)
                                 : (BSON_ITER_HOLDS_DATE_TIME(&it) ? bson_iter_date_time(&it) : 0);
        char text[RV_CURSOR_MAX];
        rv_cursor_format(&at, text);
        json_array_append_new(*items, review_json(doc));
        json_array_append_new(*cursors, json_string(text));
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    if (r == 0) {
        bson_t *all = BCON_NEW("productId", BCON_OID(&pid));
        *total = mongoc_collection_count_documents(c, all, NULL, NULL, NULL, err);
        bson_destroy(all);
        if (*total < 0)
            r = -1;
    }
    mongoc_collection_destroy(c);
    bson_destroy(opts);
    bson_destroy(&filter);
    return r;
}

int rv_rating_stats(mongoc_database_t *db, const char *product_id, int64_t *sum, int64_t *count, bson_error_t *err)
{
    bson_oid_t pid;
    *sum = *count = 0;
    if (!mc_mongo_oid_parse(product_id, &pid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reviews");
    bson_t *filter = BCON_NEW("productId", BCON_OID(&pid));
    bson_t *opts = BCON_NEW("projection", "{", "rating", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        bson_iter_t it;
        if (bson_iter_init_find(&it, doc, "rating") && BSON_ITER_HOLDS_NUMBER(&it)) {
            *sum += bson_iter_as_int64(&it);
            ++*count;
        }
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int rv_vote(mongoc_database_t *db, const char *review_id, const char *user_id, bson_error_t *err)
{
    bson_oid_t rid, uid;
    if (!mc_mongo_oid_parse(review_id, &rid) || !mc_mongo_oid_parse(user_id, &uid)) {
        bson_set_error(err, MONGOC_ERROR_COMMAND, 1, "malformed id");
        return -1;
    }
    char id[64];
    snprintf(id, sizeof(id), "%s:%s", review_id, user_id);
    mongoc_collection_t *c = mongoc_database_get_collection(db, "review_votes");
    bson_t *doc = BCON_NEW("_id", BCON_UTF8(id), "reviewId", BCON_OID(&rid), "userId", BCON_OID(&uid), "at",
                           BCON_DATE_TIME(mc_now_ms()));
    bool ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err);
    bson_destroy(doc);
    mongoc_collection_destroy(c);
    return ok ? 0 : -1;
}

int rv_count_votes(mongoc_database_t *db, const char *review_id, int64_t *n, bson_error_t *err)
{
    bson_oid_t rid;
    *n = 0;
    if (!mc_mongo_oid_parse(review_id, &rid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "review_votes");
    bson_t *filter = BCON_NEW("reviewId", BCON_OID(&rid));
    int64_t k = mongoc_collection_count_documents(c, filter, NULL, NULL, NULL, err);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    if (k < 0)
        return -1;
    *n = k;
    return 0;
}

int rv_set_helpful(mongoc_database_t *db, const char *review_id, int64_t n, bson_error_t *err)
{
    bson_oid_t rid;
    if (!mc_mongo_oid_parse(review_id, &rid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "reviews");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&rid));
    bson_t *update = BCON_NEW("$set", "{", "helpfulCount", BCON_INT64(n), "}");
    bool ok = mongoc_collection_update_one(c, filter, update, NULL, NULL, err);
    bson_destroy(update);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return ok ? 0 : -1;
}
