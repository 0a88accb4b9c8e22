/*
 * Implementation of store.h.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mc_lock.h"
#include "mc_util.h"
#include "store.h"

/* --- indexes ------------------------------------------------------------------------------ */

/* Appends {key: {...}, name, unique?} to the array of specs. keys: "field", 1|-1 pairs
 * ending with NULL. */
static void spec(bson_t *specs, const char *name, int unique, ...)
{
    char idx[16];
    const char *ks;
    bson_uint32_to_string(bson_count_keys(specs), &ks, idx, sizeof(idx));
    bson_t d, key;
    BSON_APPEND_DOCUMENT_BEGIN(specs, ks, &d);
    BSON_APPEND_DOCUMENT_BEGIN(&d, "key", &key);
    va_list ap;
    va_start(ap, unique);
    const char *field;
    while ((field = va_arg(ap, const char *)) != NULL)
        BSON_APPEND_INT32(&key, field, va_arg(ap, int));
    va_end(ap);
    bson_append_document_end(&d, &key);
    BSON_APPEND_UTF8(&d, "name", name);
    if (unique)
        BSON_APPEND_BOOL(&d, "unique", true);
    bson_append_document_end(specs, &d);
}

int ps_store_init(mc_mongo_t *m, bson_error_t *err)
{
    struct {
        const char *collection;
        bson_t *specs;
    } all[5];
    size_t n = 0;
    bson_t *p = bson_new();
    spec(p, "slug_unique", true, "slug", 1, NULL);
    spec(p, "active_newest", false, "isActive", 1, "createdAt", -1, "_id", -1, NULL);
    spec(p, "active_price", false, "isActive", 1, "price", 1, "_id", 1, NULL);
    spec(p, "active_rating", false, "isActive", 1, "ratingAverage", -1, "_id", -1, NULL);
    spec(p, "active_name", false, "isActive", 1, "nameKey", 1, "_id", 1, NULL);
    spec(p, "category", false, "categoryId", 1, "isActive", 1, "createdAt", -1, NULL);
    spec(p, "seller", false, "sellerId", 1, "createdAt", -1, NULL);
    spec(p, "keywords", false, "kw", 1, NULL);
    spec(p, "name_prefixes", false, "kwPre", 1, NULL);
    spec(p, "tags", false, "tags", 1, NULL);
    all[n].collection = "products", all[n++].specs = p;
    bson_t *l = bson_new();
    /* op: every movement has a unique operation key (see inventory.h) */
    spec(l, "op_unique", true, "op", 1, NULL);
    spec(l, "product_seq", false, "productId", 1, "seq", -1, NULL);
    all[n].collection = "stock_ledger", all[n++].specs = l;
    bson_t *r = bson_new();
    spec(r, "product_user_unique", true, "productId", 1, "userId", 1, NULL);
    spec(r, "product_newest", false, "productId", 1, "createdAt", -1, NULL);
    spec(r, "product_helpful", false, "productId", 1, "helpfulCount", -1, NULL);
    all[n].collection = "reviews", all[n++].specs = r;
    bson_t *v = bson_new();
    spec(v, "review", false, "reviewId", 1, NULL);
    all[n].collection = "review_votes", all[n++].specs = v;
    bson_t *o = bson_new();
    spec(o, "expires", false, "expiresAt", 1, NULL);
    all[n].collection = "reservations_open", all[n++].specs = o;
    int rc = 0;
    for (size_t i = 0; i < n; ++i) {
        if (rc == 0 && mc_mongo_create_indexes(m, all[i].collection, all[i].specs, 30000, err) != 0)
            rc = -1;
        bson_destroy(all[i].specs);
    }
    return rc;
}

/* --- locks --------------------------------------------------------------------------------- */

int ps_lock(mongoc_database_t *db, const char *name, char *token, unsigned wait_ms, bson_error_t *err)
{
    return mc_lock_acquire(db, name, PS_LOCK_TTL_MS, wait_ms, token, err);
}

void ps_unlock(mongoc_database_t *db, const char *name, const char *token)
{
    mc_lock_release(db, name, token);
}

/* --- products ------------------------------------------------------------------------------- */

int ps_product_find(mongoc_database_t *db, const char *id, json_t **out, pm_internal_t *in, bson_error_t *err)
{
    bson_oid_t oid;
    if (!mc_mongo_oid_parse(id, &oid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1));
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    int r = 0;
    if (mongoc_cursor_next(cur, &doc)) {
        *out = pm_doc_to_json(doc, in);
        r = 1;
    }
    if (mongoc_cursor_error(cur, err)) {
        if (r == 1)
            json_decref(*out);
        *out = NULL;
        r = -1;
    }
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int ps_product_find_slug(mongoc_database_t *db, const char *slug, char *id, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    bson_t *filter = BCON_NEW("slug", BCON_UTF8(slug));
    bson_t *opts = BCON_NEW("limit", BCON_INT64(1), "projection", "{", "_id", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, filter, opts, NULL);
    const bson_t *doc;
    int r = 0;
    bson_iter_t it;
    if (mongoc_cursor_next(cur, &doc) && bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it)) {
        bson_oid_to_string(bson_iter_oid(&it), id);
        r = 1;
    }
    if (mongoc_cursor_error(cur, err))
        r = -1;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int ps_product_insert(mongoc_database_t *db, const json_t *api, const pm_internal_t *in, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    bson_t *doc = pm_doc_build(api, in);
    bool ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err);
    bson_destroy(doc);
    mongoc_collection_destroy(c);
    return ok ? 0 : -1;
}

int ps_product_replace(mongoc_database_t *db, const json_t *api, const pm_internal_t *in, bson_error_t *err)
{
    bson_oid_t oid;
    if (!mc_mongo_oid_parse(json_string_value(json_object_get(api, "id")), &oid))
        return 0;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    bson_t *doc = pm_doc_build(api, in);
    bson_t reply;
    int r = -1;
    if (mongoc_collection_replace_one(c, filter, doc, NULL, &reply, err)) {
        bson_iter_t it;
        r = bson_iter_init_find(&it, &reply, "matchedCount") && bson_iter_as_int64(&it) > 0 ? 1 : 0;
    }
    bson_destroy(&reply);
    bson_destroy(doc);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
    return r;
}

int ps_product_delete(mongoc_database_t *db, const char *id, bson_error_t *err)
{
    bson_oid_t oid;
    if (!mc_mongo_oid_parse(id, &oid))
        return 0;
    bson_t *filter = BCON_NEW("_id", BCON_OID(&oid));
    long n = mc_mongo_delete(db, "products", filter, false, err);
    bson_destroy(filter);
    return n < 0 ? -1 : n > 0 ? 1 : 0;
}

/* --- queries --------------------------------------------------------------------------------- */

void ps_page_init(ps_page_t *p, int64_t limit)
{
    memset(p, 0, sizeof(*p));
    size_t n = limit > 0 ? (size_t)limit : 1;
    p->ids = calloc(n, sizeof(*p->ids));
    p->at = calloc(n, sizeof(*p->at));
    if (p->ids == NULL || p->at == NULL)
        abort();
}

void ps_page_push(ps_page_t *p, const pl_cursor_t *c)
{
    memcpy(p->ids[p->n], c->id, 25);
    p->at[p->n++] = *c;
}

void ps_page_free(ps_page_t *p)
{
    free(p->ids);
    free(p->at);
    p->ids = NULL;
    p->at = NULL;
    p->n = 0;
}

static void append_str_list(bson_t *b, const char *key, char *const *v, size_t n)
{
    bson_t arr;
    char idx[16];
    const char *ks;
    BSON_APPEND_ARRAY_BEGIN(b, key, &arr);
    for (size_t i = 0; i < n; ++i) {
        bson_uint32_to_string((uint32_t)i, &ks, idx, sizeof(idx));
        BSON_APPEND_UTF8(&arr, ks, v[i]);
    }
    bson_append_array_end(b, &arr);
}

/* The filter of a query, without its keyset condition. */
static void build_filter(bson_t *f, const pl_query_t *q)
{
    BSON_APPEND_BOOL(f, "isActive", q->kind == PL_SUGGEST ? true : q->active);
    if (q->ncategories > 0) {
        bson_t in, arr;
        BSON_APPEND_DOCUMENT_BEGIN(f, "categoryId", &in);
        BSON_APPEND_ARRAY_BEGIN(&in, "$in", &arr);
        char idx[16];
        const char *ks;
        for (size_t i = 0; i < q->ncategories; ++i) {
            bson_oid_t oid;
            if (!mc_mongo_oid_parse(q->categories[i], &oid))
                continue;
            bson_uint32_to_string((uint32_t)i, &ks, idx, sizeof(idx));
            BSON_APPEND_OID(&arr, ks, &oid);
        }
        bson_append_array_end(&in, &arr);
        bson_append_document_end(f, &in);
    }
    bson_oid_t seller;
    if (q->seller_id[0] != '\0' && mc_mongo_oid_parse(q->seller_id, &seller))
        BSON_APPEND_OID(f, "sellerId", &seller);
    if (q->has_min_price || q->has_max_price) {
        bson_t r;
        BSON_APPEND_DOCUMENT_BEGIN(f, "price", &r);
        if (q->has_min_price)
            BSON_APPEND_INT64(&r, "$gte", q->min_price);
        if (q->has_max_price)
            BSON_APPEND_INT64(&r, "$lte", q->max_price);
        bson_append_document_end(f, &r);
    }
    if (q->in_stock >= 0) {
        bson_t r;
        BSON_APPEND_DOCUMENT_BEGIN(f, "stock", &r);
        BSON_APPEND_INT64(&r, q->in_stock ? "$gt" : "$lte", 0);
        bson_append_document_end(f, &r);
    }
    if (q->featured >= 0)
        BSON_APPEND_BOOL(f, "isFeatured", q->featured != 0);
    if (q->ntags > 0) {
        char *tags[PL_MAX_TAGS];
        for (size_t i = 0; i < q->ntags; ++i)
            tags[i] = (char *)q->tags[i];
        bson_t all;
        BSON_APPEND_DOCUMENT_BEGIN(f, "tags", &all);
        append_str_list(&all, "$all", tags, q->ntags);
        bson_append_document_end(f, &all);
    }
    if (q->kind == PL_SEARCH && q->has_text) {
        bson_t all;
        BSON_APPEND_DOCUMENT_BEGIN(f, "kw", &all);
        append_str_list(&all, "$all", q->text.tokens.v, q->text.tokens.n);
        bson_append_document_end(f, &all);
    }
    if (q->kind == PL_SUGGEST && q->has_text) {
        /* a superset: the words must be in the name and the last one must start a name
         * word — checked on the candidates (ps_product_suggest) */
        BSON_APPEND_UTF8(f, "kwPre", q->text.last_key);
        if (q->text.complete.n > 0) {
            bson_t all;
            BSON_APPEND_DOCUMENT_BEGIN(f, "kw", &all);
            append_str_list(&all, "$all", q->text.complete.v, q->text.complete.n);
            bson_append_document_end(f, &all);
        }
    }
}

/* The sort field of an order and whether it ascends. */
static const char *sort_field(pl_sort_t s, bool *asc)
{
    switch (s) {
    case PL_SORT_PRICE_ASC:
        *asc = true;
        return "price";
    case PL_SORT_PRICE_DESC:
        *asc = false;
        return "price";
    case PL_SORT_RATING:
        *asc = false;
        return "ratingAverage";
    case PL_SORT_NAME:
        *asc = true;
        return "nameKey";
    default:
        *asc = false;
        return "createdAt";
    }
}

static void append_sort_value(bson_t *b, const char *key, const pl_cursor_t *c)
{
    switch (c->sort) {
    case PL_SORT_PRICE_ASC:
    case PL_SORT_PRICE_DESC:
        BSON_APPEND_INT64(b, key, c->num);
        break;
    case PL_SORT_RATING:
        BSON_APPEND_DOUBLE(b, key, (double)c->num / 100.0);
        break;
    case PL_SORT_NAME:
        BSON_APPEND_UTF8(b, key, c->str);
        break;
    default:
        BSON_APPEND_DATE_TIME(b, key, c->num);
        break;
    }
}

/* {$or: [{k: {$gt|$lt: v}}, {k: v, _id: {$gt|$lt: id}}]}: strictly after the cursor. */
static void build_keyset(bson_t *f, const pl_cursor_t *c)
{
    bool asc;
    const char *field = sort_field(c->sort, &asc);
    const char *op = asc ? "$gt" : "$lt";
    bson_oid_t oid;
    bson_oid_init_from_string(&oid, c->id);
    bson_t or, a, b, cmp;
    BSON_APPEND_ARRAY_BEGIN(f, "$or", &or);
    BSON_APPEND_DOCUMENT_BEGIN(&or, "0", &a);
    BSON_APPEND_DOCUMENT_BEGIN(&a, field, &cmp);
    append_sort_value(&cmp, op, c);
    bson_append_document_end(&a, &cmp);
    bson_append_document_end(&or, &a);
    BSON_APPEND_DOCUMENT_BEGIN(&or, "1", &b);
    append_sort_value(&b, field, c);
    BSON_APPEND_DOCUMENT_BEGIN(&b, "_id", &cmp);
    BSON_APPEND_OID(&cmp, op, &oid);
    bson_append_document_end(&b, &cmp);
    bson_append_document_end(&or, &b);
    bson_append_array_end(f, &or);
}

/* The cursor of a result document in sort order s. */
static void cursor_of(const bson_t *doc, pl_sort_t s, pl_cursor_t *c)
{
    memset(c, 0, sizeof(*c));
    c->sort = s;
    bson_iter_t it;
    if (bson_iter_init_find(&it, doc, "_id") && BSON_ITER_HOLDS_OID(&it))
        bson_oid_to_string(bson_iter_oid(&it), c->id);
    bool asc;
    const char *field = sort_field(s, &asc);
    if (!bson_iter_init_find(&it, doc, field))
        return;
    switch (s) {
    case PL_SORT_PRICE_ASC:
    case PL_SORT_PRICE_DESC:
        c->num = bson_iter_as_int64(&it);
        break;
    case PL_SORT_RATING:
        c->num = (int64_t)(bson_iter_as_double(&it) * 100.0 + 0.5);
        break;
    case PL_SORT_NAME:
        if (BSON_ITER_HOLDS_UTF8(&it))
            snprintf(c->str, sizeof(c->str), "%s", bson_iter_utf8(&it, NULL));
        break;
    default:
        if (BSON_ITER_HOLDS_DATE_TIME(&it))
            c->num = bson_iter_date_time(&it);
        break;
    }
}

/* Keyset pagination in a stored order. */
static int query_sorted(mongoc_collection_t *c, const pl_query_t *q, pl_sort_t s, ps_page_t *page, bson_error_t *err)
{
    bson_t filter = BSON_INITIALIZER;
    build_filter(&filter, q);
    if (q->has_cursor)
        build_keyset(&filter, &q->cursor);
    bool asc;
    const char *field = sort_field(s, &asc);
    bson_t opts = BSON_INITIALIZER, sort, proj;
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "sort", &sort);
    BSON_APPEND_INT32(&sort, field, asc ? 1 : -1);
    BSON_APPEND_INT32(&sort, "_id", asc ? 1 : -1);
    bson_append_document_end(&opts, &sort);
    BSON_APPEND_DOCUMENT_BEGIN(&opts, "projection", &proj);
    BSON_APPEND_INT32(&proj, "_id", 1);
    BSON_APPEND_INT32(&proj, field, 1);
    bson_append_document_end(&opts, &proj);
    BSON_APPEND_INT64(&opts, "limit", q->limit + 1);
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, &opts, NULL);
    ps_page_init(page, q->limit);
    const bson_t *doc;
    while (mongoc_cursor_next(cur, &doc)) {
        if (page->n == (size_t)q->limit) {
            page->has_next = true;
            break;
        }
        pl_cursor_t at;
        cursor_of(doc, s, &at);
        ps_page_push(page, &at);
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(&opts);
    bson_destroy(&filter);
    if (r == 0) {
        /* how many match in all: the filter without the cursor */
        bson_t all = BSON_INITIALIZER;
        build_filter(&all, q);
        int64_t total = mongoc_collection_count_documents(c, &all, NULL, NULL, NULL, err);
        bson_destroy(&all);
        if (total < 0)
            r = -1;
        else
            page->total = total;
    }
    return r;
}

static void read_list(bson_iter_t *it, ps_list_t *l, size_t max)
{
    ps_list_init(l, max);
    bson_iter_t child;
    if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child))
        while (bson_iter_next(&child))
            if (BSON_ITER_HOLDS_UTF8(&child)) {
                uint32_t len;
                const char *s = bson_iter_utf8(&child, &len);
                ps_list_add(l, s, len);
            }
}

/* The stemmed tokens of a name, or of tags (a BSON array), as stored ones would be. */
static void name_tokens(const char *name, ps_list_t *out)
{
    ps_list_init(out, PS_MAX_DOC_TOKENS);
    ps_tokenize(name, strlen(name), out, true, true);
}

static void tag_tokens(bson_iter_t *it, ps_list_t *out)
{
    ps_list_init(out, PS_MAX_DOC_TOKENS);
    bson_iter_t child;
    if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child))
        while (bson_iter_next(&child))
            if (BSON_ITER_HOLDS_UTF8(&child)) {
                uint32_t len;
                const char *s = bson_iter_utf8(&child, &len);
                ps_tokenize(s, len, out, true, true);
            }
}

typedef struct scored {
    char id[25];
    int score;
} scored_t;

static int cmp_scored(const void *a, const void *b)
{
    const scored_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return -strcmp(x->id, y->id); /* newer (greater) ids first */
}

/* Relevance: the newest PS_SEARCH_MAX_CANDIDATES matches are scored and ranked here. */
static int query_relevance(mongoc_collection_t *c, const pl_query_t *q, ps_page_t *page, bson_error_t *err)
{
    bson_t filter = BSON_INITIALIZER;
    build_filter(&filter, q);
    bson_t *opts = BCON_NEW("sort", "{", "_id", BCON_INT32(-1), "}", "limit", BCON_INT64(PS_SEARCH_MAX_CANDIDATES),
                            "projection", "{", "_id", BCON_INT32(1), "kw", BCON_INT32(1), "name", BCON_INT32(1), "tags",
                            BCON_INT32(1), "nameKey", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    scored_t *all = calloc(PS_SEARCH_MAX_CANDIDATES, sizeof(*all));
    if (all == NULL)
        abort();
    size_t n = 0;
    const bson_t *doc;
    while (n < PS_SEARCH_MAX_CANDIDATES && mongoc_cursor_next(cur, &doc)) {
        ps_list_t kw, kw_name, kw_tags;
        char name_key[PS_NAME_KEY_BYTES + 1] = "";
        bson_iter_t it;
        ps_list_init(&kw, 0);
        ps_list_init(&kw_name, 0);
        ps_list_init(&kw_tags, 0);
        /* (read_list and the token helpers re-initialise the lists they fill) */
        if (bson_iter_init(&it, doc)) {
            while (bson_iter_next(&it)) {
                const char *k = bson_iter_key(&it);
                if (strcmp(k, "_id") == 0 && BSON_ITER_HOLDS_OID(&it))
                    bson_oid_to_string(bson_iter_oid(&it), all[n].id);
                else if (strcmp(k, "kw") == 0)
                    read_list(&it, &kw, PS_MAX_DOC_TOKENS);
                else if (strcmp(k, "name") == 0 && BSON_ITER_HOLDS_UTF8(&it))
                    name_tokens(bson_iter_utf8(&it, NULL), &kw_name);
                else if (strcmp(k, "tags") == 0)
                    tag_tokens(&it, &kw_tags);
                else if (strcmp(k, "nameKey") == 0 && BSON_ITER_HOLDS_UTF8(&it))
                    snprintf(name_key, sizeof(name_key), "%s", bson_iter_utf8(&it, NULL));
            }
        }
        all[n].score = ps_score(&q->text, &kw, &kw_name, &kw_tags, name_key);
        ps_list_free(&kw);
        ps_list_free(&kw_name);
        ps_list_free(&kw_tags);
        if (all[n].score > 0 && all[n].id[0] != '\0')
            ++n;
    }
    int r = mongoc_cursor_error(cur, err) ? -1 : 0;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    ps_page_init(page, q->limit);
    if (r == 0) {
        page->total = (int64_t)n;
        qsort(all, n, sizeof(*all), cmp_scored);
        for (size_t i = 0; i < n; ++i) {
            if (q->has_cursor) {
                /* strictly after (score, id) in (score desc, id desc) order */
                int c2 = strcmp(all[i].id, q->cursor.id);
                if (all[i].score > q->cursor.num || (all[i].score == q->cursor.num && c2 >= 0))
                    continue;
            }
            if (page->n == (size_t)q->limit) {
                page->has_next = true;
                break;
            }
            pl_cursor_t at;
            memset(&at, 0, sizeof(at));
            at.sort = PL_SORT_RELEVANCE;
            at.num = all[i].score;
            memcpy(at.id, all[i].id, 25);
            ps_page_push(page, &at);
        }
    }
    free(all);
    return r;
}

int ps_product_query(mongoc_database_t *db, const pl_query_t *q, ps_page_t *page, bson_error_t *err)
{
    memset(page, 0, sizeof(*page));
    pl_sort_t s = q->has_cursor ? q->cursor.sort : q->sort;
    if (q->kind == PL_SEARCH && q->has_text && q->text.tokens.n == 0) {
        ps_page_init(page, 1); /* nothing searchable in the query: no match */
        return 0;
    }
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    int r = s == PL_SORT_RELEVANCE && q->kind == PL_SEARCH ? query_relevance(c, q, page, err)
                                                           : query_sorted(c, q, s == PL_SORT_RELEVANCE ? PL_SORT_NEWEST : s, page, err);
    mongoc_collection_destroy(c);
    return r;
}

typedef struct suggestion {
    json_t *item;
    char name_key[PS_NAME_KEY_BYTES + 1];
    bool starts;
    int64_t reviews;
} suggestion_t;

static int cmp_suggestion(const void *a, const void *b)
{
    const suggestion_t *x = a, *y = b;
    if (x->starts != y->starts)
        return x->starts ? -1 : 1;
    if (x->reviews != y->reviews)
        return x->reviews > y->reviews ? -1 : 1;
    return strcmp(x->name_key, y->name_key);
}

/* The stored prefixes only narrow the candidates down: the last word typed must start a
 * word of the name in full, and the words before it must be words of the name. */
static bool suggestion_matches(const pl_query_t *q, const char *name)
{
    if (name == NULL || !ps_name_has_prefix(name, q->text.last))
        return false;
    ps_list_t words;
    name_tokens(name, &words);
    bool ok = true;
    for (size_t i = 0; i < q->text.complete.n && ok; ++i)
        ok = ps_list_has(&words, q->text.complete.v[i]);
    ps_list_free(&words);
    return ok;
}

json_t *ps_product_suggest(mongoc_database_t *db, const pl_query_t *q, bson_error_t *err)
{
    json_t *out = json_array();
    if (!q->has_text || q->text.last_key[0] == '\0')
        return out;
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    bson_t filter = BSON_INITIALIZER;
    build_filter(&filter, q);
    bson_t *opts = BCON_NEW("limit", BCON_INT64(PS_SUGGEST_MAX_CANDIDATES), "projection", "{", "_id", BCON_INT32(1),
                            "name", BCON_INT32(1), "slug", BCON_INT32(1), "nameKey", BCON_INT32(1), "ratingCount",
                            BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    suggestion_t *all = calloc(PS_SUGGEST_MAX_CANDIDATES, sizeof(*all));
    if (all == NULL)
        abort();
    size_t n = 0;
    const bson_t *doc;
    size_t plen = strlen(q->text.phrase);
    while (n < PS_SUGGEST_MAX_CANDIDATES && mongoc_cursor_next(cur, &doc)) {
        json_t *item = json_object();
        bson_iter_t it;
        char hex[25];
        if (bson_iter_init(&it, doc)) {
            while (bson_iter_next(&it)) {
                const char *k = bson_iter_key(&it);
                if (strcmp(k, "_id") == 0 && BSON_ITER_HOLDS_OID(&it)) {
                    bson_oid_to_string(bson_iter_oid(&it), hex);
                    json_object_set_new(item, "id", json_string(hex));
                } else if ((strcmp(k, "name") == 0 || strcmp(k, "slug") == 0) && BSON_ITER_HOLDS_UTF8(&it)) {
                    uint32_t len;
                    const char *s = bson_iter_utf8(&it, &len);
                    json_object_set_new(item, k, json_stringn(s, len));
                } else if (strcmp(k, "nameKey") == 0 && BSON_ITER_HOLDS_UTF8(&it)) {
                    snprintf(all[n].name_key, sizeof(all[n].name_key), "%s", bson_iter_utf8(&it, NULL));
                } else if (strcmp(k, "ratingCount") == 0 && BSON_ITER_HOLDS_NUMBER(&it)) {
                    all[n].reviews = bson_iter_as_int64(&it);
                }
            }
        }
        if (json_object_size(item) != 3 || !suggestion_matches(q, json_string_value(json_object_get(item, "name")))) {
            json_decref(item);
            continue;
        }
        all[n].item = item;
        all[n].starts = plen > 0 && strncmp(all[n].name_key, q->text.phrase, plen) == 0;
        ++n;
    }
    bool failed = mongoc_cursor_error(cur, err);
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    mongoc_collection_destroy(c);
    qsort(all, n, sizeof(*all), cmp_suggestion);
    for (size_t i = 0; i < n; ++i) {
        if (!failed && (int64_t)json_array_size(out) < q->limit)
            json_array_append(out, all[i].item);
        json_decref(all[i].item);
    }
    free(all);
    if (failed) {
        json_decref(out);
        return NULL;
    }
    return out;
}
