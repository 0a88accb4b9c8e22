/*
 * Implementation of snapshot.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_util.h"
#include <stdatomic.h>
#include "snapshot.h"

typedef struct sn_snapshot {
    char tag[80];
    int64_t loaded_ms;
    sn_row_t *rows;
    size_t n;
    unsigned refs;
} sn_snapshot_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static sn_snapshot_t *current;
static bool loading;
static size_t max_products;
static int64_t too_large_until; /* the catalog outgrew the index: do not try again before */
static atomic_ulong loads, queries;

/* --- rows ------------------------------------------------------------------------------- */

static char *dup_utf8(bson_iter_t *it)
{
    uint32_t len;
    const char *s = bson_iter_utf8(it, &len);
    char *d = malloc(len + 1);
    if (d == NULL)
        abort();
    memcpy(d, s, len);
    d[len] = '\0';
    return d;
}

bool sn_row_from_doc(const bson_t *doc, sn_row_t *row)
{
    memset(row, 0, sizeof(*row));
    ps_list_init(&row->kw, PS_MAX_DOC_TOKENS);
    ps_list_init(&row->kw_name, PS_MAX_DOC_TOKENS);
    ps_list_init(&row->kw_tags, PS_MAX_DOC_TOKENS);
    bson_iter_t it, child;
    if (!bson_iter_init(&it, doc))
        return false;
    while (bson_iter_next(&it)) {
        const char *k = bson_iter_key(&it);
        if (strcmp(k, "_id") == 0 && BSON_ITER_HOLDS_OID(&it))
            bson_oid_to_string(bson_iter_oid(&it), row->id);
        else if (strcmp(k, "categoryId") == 0 && BSON_ITER_HOLDS_OID(&it))
            bson_oid_to_string(bson_iter_oid(&it), row->category);
        else if (strcmp(k, "sellerId") == 0 && BSON_ITER_HOLDS_OID(&it))
            bson_oid_to_string(bson_iter_oid(&it), row->seller);
        else if (strcmp(k, "isActive") == 0 && BSON_ITER_HOLDS_BOOL(&it))
            row->active = bson_iter_bool(&it);
        else if (strcmp(k, "isFeatured") == 0 && BSON_ITER_HOLDS_BOOL(&it))
            row->featured = bson_iter_bool(&it);
        else if (strcmp(k, "price") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            row->price = bson_iter_as_int64(&it);
        else if (strcmp(k, "stock") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            row->stock = bson_iter_as_int64(&it);
        else if (strcmp(k, "ratingCount") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            row->reviews = bson_iter_as_int64(&it);
        else if (strcmp(k, "ratingAverage") == 0 && BSON_ITER_HOLDS_NUMBER(&it))
            row->rating = bson_iter_as_double(&it);
        else if (strcmp(k, "createdAt") == 0 && BSON_ITER_HOLDS_DATE_TIME(&it))
            row->created_ms = bson_iter_date_time(&it);
        else if (strcmp(k, "name") == 0 && BSON_ITER_HOLDS_UTF8(&it) && row->name == NULL)
            row->name = dup_utf8(&it);
        else if (strcmp(k, "slug") == 0 && BSON_ITER_HOLDS_UTF8(&it) && row->slug == NULL)
            row->slug = dup_utf8(&it);
        else if (strcmp(k, "nameKey") == 0 && BSON_ITER_HOLDS_UTF8(&it) && row->name_key == NULL)
            row->name_key = dup_utf8(&it);
        else if (strcmp(k, "kw") == 0 && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child)) {
            while (bson_iter_next(&child))
                if (BSON_ITER_HOLDS_UTF8(&child)) {
                    uint32_t len;
                    const char *s = bson_iter_utf8(&child, &len);
                    ps_list_add(&row->kw, s, len);
                }
        } else if (strcmp(k, "tags") == 0 && BSON_ITER_HOLDS_ARRAY(&it) && bson_iter_recurse(&it, &child) && row->tags == NULL) {
            size_t cap = 0;
            while (bson_iter_next(&child)) {
                if (!BSON_ITER_HOLDS_UTF8(&child))
                    continue;
                if (row->ntags == cap) {
                    cap = cap ? cap * 2 : 4;
                    char **t = realloc(row->tags, cap * sizeof(*t));
                    if (t == NULL)
                        abort();
                    row->tags = t;
                }
                row->tags[row->ntags] = dup_utf8(&child);
                ps_tokenize(row->tags[row->ntags], strlen(row->tags[row->ntags]), &row->kw_tags, true, true);
                ++row->ntags;
            }
        }
    }
    if (row->name == NULL)
        row->name = strdup("");
    if (row->slug == NULL)
        row->slug = strdup("");
    if (row->name_key == NULL)
        row->name_key = strdup("");
    if (row->name == NULL || row->slug == NULL || row->name_key == NULL)
        abort();
    ps_tokenize(row->name, strlen(row->name), &row->kw_name, true, true);
    return row->id[0] != '\0';
}

void sn_row_free(sn_row_t *row)
{
    free(row->name);
    free(row->slug);
    free(row->name_key);
    for (size_t i = 0; i < row->ntags; ++i)
        free(row->tags[i]);
    free(row->tags);
    ps_list_free(&row->kw);
    ps_list_free(&row->kw_name);
    ps_list_free(&row->kw_tags);
    memset(row, 0, sizeof(*row));
}

/* --- evaluation --------------------------------------------------------------------------- */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct eval_ctx {
    const pl_query_t *q;
    const char **cats; /* sorted */
    size_t ncats;
} eval_ctx_t;

static bool has_tag(const sn_row_t *r, const char *tag)
{
    for (size_t i = 0; i < r->ntags; ++i)
        if (strcmp(r->tags[i], tag) == 0)
            return true;
    return false;
}

/* The same filter as store.c's build_filter. */
static bool matches(const eval_ctx_t *x, const sn_row_t *r)
{
    const pl_query_t *q = x->q;
    if (r->active != (q->kind == PL_SUGGEST ? true : q->active))
        return false;
    if (q->ncategories > 0) {
        const char *key = r->category;
        if (bsearch(&key, x->cats, x->ncats, sizeof(*x->cats), cmp_id) == NULL)
            return false;
    }
    if (q->seller_id[0] != '\0' && strcmp(q->seller_id, r->seller) != 0)
        return false;
    if (q->has_min_price && r->price < q->min_price)
        return false;
    if (q->has_max_price && r->price > q->max_price)
        return false;
    if (q->in_stock == 1 && r->stock <= 0)
        return false;
    if (q->in_stock == 0 && r->stock > 0)
        return false;
    if (q->featured >= 0 && r->featured != (q->featured != 0))
        return false;
    for (size_t i = 0; i < q->ntags; ++i)
        if (!has_tag(r, q->tags[i]))
            return false;
    if (q->kind == PL_SEARCH && q->has_text)
        for (size_t i = 0; i < q->text.tokens.n; ++i)
            if (!ps_list_has(&r->kw, q->text.tokens.v[i]))
                return false;
    return true;
}

/* A row's position in sort order s, as a cursor (num/str) for comparisons. */
static void position(const sn_row_t *r, pl_sort_t s, pl_cursor_t *c)
{
    memset(c, 0, sizeof(*c));
    c->sort = s;
    memcpy(c->id, r->id, 25);
    switch (s) {
    case PL_SORT_PRICE_ASC:
    case PL_SORT_PRICE_DESC:
        c->num = r->price;
        break;
    case PL_SORT_RATING:
        c->num = (int64_t)(r->rating * 100.0 + 0.5);
        break;
    case PL_SORT_NAME:
        snprintf(c->str, sizeof(c->str), "%s", r->name_key);
        break;
    default:
        c->num = r->created_ms;
        break;
    }
}

static int sign64(int64_t a, int64_t b)
{
    return a < b ? -1 : a > b ? 1 : 0;
}

/* <0 when row r comes before cursor position c in order s. */
static int cmp_pos(const sn_row_t *r, const pl_cursor_t *c, pl_sort_t s)
{
    int d;
    switch (s) {
    case PL_SORT_PRICE_ASC:
        d = sign64(r->price, c->num);
        return d != 0 ? d : strcmp(r->id, c->id);
    case PL_SORT_PRICE_DESC:
        d = sign64(c->num, r->price);
        return d != 0 ? d : strcmp(c->id, r->id);
    case PL_SORT_RATING: {
        double cv_ = (double)c->num / 100.0;
        d = r->rating > cv_ ? -1 : r->rating < cv_ ? 1 : 0;
        return d != 0 ? d : strcmp(c->id, r->id);
    }
    case PL_SORT_NAME:
        d = strcmp(r->name_key, c->str);
        return d != 0 ? d : strcmp(r->id, c->id);
    default:
        d = sign64(c->num, r->created_ms);
        return d != 0 ? d : strcmp(c->id, r->id);
    }
}

/* qsort has no context argument: the order of the sort running on this thread */
static _Thread_local pl_sort_t sort_of;

static int cmp_rows(const void *a, const void *b)
{
    const sn_row_t *x = *(const sn_row_t *const *)a, *y = *(const sn_row_t *const *)b;
    pl_cursor_t py;
    position(y, sort_of, &py);
    return cmp_pos(x, &py, sort_of);
}

typedef struct scored_row {
    const sn_row_t *row;
    int score;
} scored_row_t;

static int cmp_id_desc(const void *a, const void *b)
{
    return -strcmp(((const scored_row_t *)a)->row->id, ((const scored_row_t *)b)->row->id);
}

static int cmp_scored(const void *a, const void *b)
{
    const scored_row_t *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    return -strcmp(x->row->id, y->row->id);
}

static void eval_relevance(const eval_ctx_t *x, const sn_row_t *rows, size_t n, ps_page_t *page)
{
    const pl_query_t *q = x->q;
    scored_row_t *m = malloc((n ? n : 1) * sizeof(*m));
    if (m == NULL)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; ++i)
        if (matches(x, &rows[i]))
            m[k++].row = &rows[i];
    /* like the database path: the newest PS_SEARCH_MAX_CANDIDATES matches are ranked */
    qsort(m, k, sizeof(*m), cmp_id_desc);
    if (k > PS_SEARCH_MAX_CANDIDATES)
        k = PS_SEARCH_MAX_CANDIDATES;
    size_t kept = 0;
    for (size_t i = 0; i < k; ++i) {
        m[i].score = ps_score(&q->text, &m[i].row->kw, &m[i].row->kw_name, &m[i].row->kw_tags, m[i].row->name_key);
        if (m[i].score > 0)
            m[kept++] = m[i];
    }
    qsort(m, kept, sizeof(*m), cmp_scored);
    page->total = (int64_t)kept;
    for (size_t i = 0; i < kept; ++i) {
        if (q->has_cursor) {
            int c = strcmp(m[i].row->id, q->cursor.id);
            if (m[i].score > q->cursor.num || (m[i].score == q->cursor.num && c >= 0))
                continue;
        }
        if (page->n == (size_t)q->limit) {
            page->has_next = true;
            break;
        }
        pl_cursor_t at;
        memset(&at, 0, sizeof(at));
        at.sort = PL_SORT_RELEVANCE;
        at.num = m[i].score;
        memcpy(at.id, m[i].row->id, 25);
        ps_page_push(page, &at);
    }
    free(m);
}

static void ctx_init(eval_ctx_t *x, const pl_query_t *q)
{
    x->q = q;
    x->ncats = q->ncategories;
    x->cats = malloc((x->ncats ? x->ncats : 1) * sizeof(*x->cats));
    if (x->cats == NULL)
        abort();
    for (size_t i = 0; i < x->ncats; ++i)
        x->cats[i] = q->categories[i];
    qsort(x->cats, x->ncats, sizeof(*x->cats), cmp_id);
}

void sn_eval(const sn_row_t *rows, size_t n, const pl_query_t *q, ps_page_t *page)
{
    ps_page_init(page, q->limit);
    pl_sort_t s = q->has_cursor ? q->cursor.sort : q->sort;
    if (q->kind == PL_SEARCH && q->has_text && q->text.tokens.n == 0)
        return; /* nothing searchable: no match */
    eval_ctx_t x;
    ctx_init(&x, q);
    if (s == PL_SORT_RELEVANCE && q->kind == PL_SEARCH) {
        eval_relevance(&x, rows, n, page);
        free(x.cats);
        return;
    }
    if (s == PL_SORT_RELEVANCE)
        s = PL_SORT_NEWEST;
    const sn_row_t **m = malloc((n ? n : 1) * sizeof(*m));
    if (m == NULL)
        abort();
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        if (!matches(&x, &rows[i]))
            continue;
        ++page->total;
        if (!q->has_cursor || cmp_pos(&rows[i], &q->cursor, s) > 0)
            m[k++] = &rows[i];
    }
    sort_of = s;
    qsort(m, k, sizeof(*m), cmp_rows);
    for (size_t i = 0; i < k; ++i) {
        if (page->n == (size_t)q->limit) {
            page->has_next = true;
            break;
        }
        pl_cursor_t at;
        position(m[i], s, &at);
        ps_page_push(page, &at);
    }
    free(m);
    free(x.cats);
}

typedef struct suggestion {
    const sn_row_t *row;
    bool starts;
} suggestion_t;

static int cmp_suggestion(const void *a, const void *b)
{
    const suggestion_t *x = a, *y = b;
    if (x->starts != y->starts)
        return x->starts ? -1 : 1;
    if (x->row->reviews != y->row->reviews)
        return x->row->reviews > y->row->reviews ? -1 : 1;
    int c = strcmp(x->row->name_key, y->row->name_key);
    return c != 0 ? c : strcmp(x->row->id, y->row->id);
}

json_t *sn_eval_suggest(const sn_row_t *rows, size_t n, const pl_query_t *q)
{
    json_t *out = json_array();
    if (!q->has_text || q->text.last_key[0] == '\0')
        return out;
    suggestion_t *m = malloc((n ? n : 1) * sizeof(*m));
    if (m == NULL)
        abort();
    size_t k = 0, plen = strlen(q->text.phrase);
    for (size_t i = 0; i < n; ++i) {
        const sn_row_t *r = &rows[i];
        if (!r->active || !ps_name_has_prefix(r->name, q->text.last))
            continue;
        bool all = true;
        for (size_t w = 0; w < q->text.complete.n && all; ++w)
            all = ps_list_has(&r->kw_name, q->text.complete.v[w]);
        if (!all)
            continue;
        m[k].row = r;
        m[k].starts = plen > 0 && strncmp(r->name_key, q->text.phrase, plen) == 0;
        ++k;
    }
    qsort(m, k, sizeof(*m), cmp_suggestion);
    for (size_t i = 0; i < k && (int64_t)i < q->limit; ++i)
        json_array_append_new(out, json_pack("{s:s,s:s,s:s}", "id", m[i].row->id, "name", m[i].row->name, "slug", m[i].row->slug));
    free(m);
    return out;
}

/* --- snapshots ---------------------------------------------------------------------------------- */

static void snapshot_free(sn_snapshot_t *s)
{
    if (s == NULL)
        return;
    for (size_t i = 0; i < s->n; ++i)
        sn_row_free(&s->rows[i]);
    free(s->rows);
    free(s);
}

/* Loads every product. 1 loaded, 0 more than max_products, -1 error. */
static int load(mongoc_database_t *db, const char *tag, sn_snapshot_t **out, bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "products");
    bson_t filter = BSON_INITIALIZER;
    bson_t *opts = BCON_NEW("limit", BCON_INT64((int64_t)max_products + 1), "projection", "{", "_id", BCON_INT32(1),
                            "isActive", BCON_INT32(1), "isFeatured", BCON_INT32(1), "categoryId", BCON_INT32(1), "sellerId",
                            BCON_INT32(1), "price", BCON_INT32(1), "stock", BCON_INT32(1), "createdAt", BCON_INT32(1),
                            "ratingAverage", BCON_INT32(1), "ratingCount", BCON_INT32(1), "name", BCON_INT32(1), "slug",
                            BCON_INT32(1), "nameKey", BCON_INT32(1), "tags", BCON_INT32(1), "kw", BCON_INT32(1), "}");
    mongoc_cursor_t *cur = mongoc_collection_find_with_opts(c, &filter, opts, NULL);
    sn_snapshot_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        abort();
    size_t cap = 0;
    const bson_t *doc;
    int rc = 1;
    while (mongoc_cursor_next(cur, &doc)) {
        if (s->n == max_products) {
            rc = 0;
            break;
        }
        if (s->n == cap) {
            cap = cap ? cap * 2 : 256;
            sn_row_t *rows = realloc(s->rows, cap * sizeof(*rows));
            if (rows == NULL)
                abort();
            s->rows = rows;
        }
        if (sn_row_from_doc(doc, &s->rows[s->n]))
            ++s->n;
        else
            sn_row_free(&s->rows[s->n]);
    }
    if (rc == 1 && mongoc_cursor_error(cur, err))
        rc = -1;
    mongoc_cursor_destroy(cur);
    bson_destroy(opts);
    bson_destroy(&filter);
    mongoc_collection_destroy(c);
    if (rc != 1) {
        snapshot_free(s);
        return rc;
    }
    snprintf(s->tag, sizeof(s->tag), "%s", tag);
    s->loaded_ms = mc_now_ms();
    atomic_fetch_add(&loads, 1);
    *out = s;
    return 1;
}

static void release(sn_snapshot_t *s)
{
    pthread_mutex_lock(&mu);
    bool last = --s->refs == 0;
    pthread_mutex_unlock(&mu);
    if (last)
        snapshot_free(s);
}

/* The snapshot of tag, loaded if need be (one load at a time). 1 (*out retained), 0 the
 * index cannot answer, -1 error. */
static int acquire(mongoc_database_t *db, const char *tag, sn_snapshot_t **out, bson_error_t *err)
{
    if (max_products == 0 || tag == NULL || tag[0] == '\0' || strlen(tag) >= sizeof(current->tag))
        return 0;
    pthread_mutex_lock(&mu);
    for (;;) {
        int64_t now = mc_now_ms();
        if (too_large_until > now) {
            pthread_mutex_unlock(&mu);
            return 0;
        }
        if (current != NULL && strcmp(current->tag, tag) == 0 && now - current->loaded_ms < SN_MAX_AGE_MS) {
            ++current->refs;
            *out = current;
            pthread_mutex_unlock(&mu);
            return 1;
        }
        if (loading) {
            pthread_cond_wait(&cv, &mu);
            continue;
        }
        loading = true;
        pthread_mutex_unlock(&mu);
        sn_snapshot_t *s = NULL;
        int rc = load(db, tag, &s, err);
        pthread_mutex_lock(&mu);
        loading = false;
        pthread_cond_broadcast(&cv);
        if (rc < 0) {
            pthread_mutex_unlock(&mu);
            return -1;
        }
        if (rc == 0) {
            too_large_until = mc_now_ms() + SN_MAX_AGE_MS;
            mc_log_warn("more than %zu products: list and search queries go to the database", max_products);
            continue;
        }
        sn_snapshot_t *old = current;
        s->refs = 1; /* being current */
        current = s;
        if (old != NULL && --old->refs == 0)
            snapshot_free(old);
    }
}

void sn_counts(unsigned long *nloads, unsigned long *nqueries)
{
    *nloads = atomic_load(&loads);
    *nqueries = atomic_load(&queries);
}

void sn_global_init(size_t max)
{
    max_products = max;
}

void sn_global_dispose(void)
{
    pthread_mutex_lock(&mu);
    sn_snapshot_t *s = current;
    current = NULL;
    bool last = s != NULL && --s->refs == 0;
    pthread_mutex_unlock(&mu);
    if (last)
        snapshot_free(s);
}

int sn_query(mongoc_database_t *db, const char *tag, const pl_query_t *q, ps_page_t *page, bson_error_t *err)
{
    sn_snapshot_t *s;
    int rc = acquire(db, tag, &s, err);
    if (rc != 1)
        return rc;
    sn_eval(s->rows, s->n, q, page);
    release(s);
    atomic_fetch_add(&queries, 1);
    return 1;
}

int sn_suggest(mongoc_database_t *db, const char *tag, const pl_query_t *q, json_t **out, bson_error_t *err)
{
    sn_snapshot_t *s;
    int rc = acquire(db, tag, &s, err);
    if (rc != 1)
        return rc;
    *out = sn_eval_suggest(s->rows, s->n, q);
    release(s);
    atomic_fetch_add(&queries, 1);
    return 1;
}
