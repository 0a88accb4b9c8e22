/*
 * Catalog routes: lists, search, suggestions, batch, one product, and the writes of
 * sellers and admins (create, change, delete, stock changes and their ledger).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "categories.h"
#include "listing.h"
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "model.h"
#include "routes.h"
#include "search.h"
#include "service.h"
#include "snapshot.h"
#include "store.h"

#define LIST_DEFAULT_LIMIT 20
#define LIST_MAX_LIMIT 100
#define SEARCH_MAX_CHARS 200
#define SUGGEST_MAX_CHARS 100
#define SUGGEST_DEFAULT_LIMIT 8
#define SUGGEST_MAX_LIMIT 20
#define BATCH_MAX_IDS 100
#define MOVEMENTS_DEFAULT_LIMIT 50
#define MOVEMENTS_MAX_LIMIT 200
#define STOCK_DELTA_MAX 1000000000LL
#define RESPONSE_MAX_BYTES (32u << 20)

/* --- input rules ------------------------------------------------------------------------------ */

/* a-z, 0-9 and single inner dashes: slugs and tags */
static bool valid_slug(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && s[i + 1] != '-')))
            return false;
    }
    return true;
}

/* An absolute http(s) URL without spaces, quotes, angle brackets or backslashes. */
static bool valid_url(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return false;
    if (*rest == '\0' || *rest == '/')
        return false;
    for (const char *p = s; *p; ++p)
        if (*p == '"' || *p == '<' || *p == '>' || *p == '\\' || (unsigned char)*p < 0x21 || *p == 0x7f)
            return false;
    return true;
}

static void put_str(json_t *o, const char *k, const char *v)
{
    json_object_set_new(o, k, json_string(v));
}

/* Validates the fields shared by create and change into fields. *slug_generated is set
 * when a create derived the slug from the name. */
static void read_product_fields(mc_valid_t *v, json_t *fields, bool creating, bool *slug_generated)
{
    unsigned req = creating ? MC_V_REQUIRED : 0;
    const char *name = mc_valid_str(v, "name", 1, PM_NAME_MAX_CHARS, req);
    if (name != NULL) {
        size_t a = 0, b = strlen(name);
        while (a < b && name[a] == ' ')
            ++a;
        while (b > a && name[b - 1] == ' ')
            --b;
        if (a == b)
            mc_valid_error(v, "name", "must contain a character other than a space");
        else
            json_object_set_new(fields, "name", json_stringn(name + a, b - a));
    }
    const char *slug = mc_valid_str(v, "slug", 1, PM_SLUG_MAX_CHARS, 0);
    if (slug != NULL && !valid_slug(slug, PM_SLUG_MAX_CHARS)) {
        mc_valid_error(v, "slug", "must be lower-case letters, digits and single dashes");
        slug = NULL;
    }
    if (slug != NULL) {
        put_str(fields, "slug", slug);
    } else if (creating && json_object_get(fields, "name") != NULL && !mc_valid_has(v, "slug")) {
        const char *n = json_string_value(json_object_get(fields, "name"));
        char gen[PM_SLUG_MAX_CHARS + 1];
        if (mc_slugify(n, strlen(n), gen, sizeof(gen)) == 0)
            snprintf(gen, sizeof(gen), "product");
        put_str(fields, "slug", gen);
        *slug_generated = true;
    }
    const char *desc = mc_valid_str(v, "description", 0, PM_DESCRIPTION_MAX_CHARS, MC_V_MULTILINE);
    if (desc != NULL)
        put_str(fields, "description", desc);
    else if (creating)
        put_str(fields, "description", "");
    int64_t price;
    if (mc_valid_int(v, "price", 0, PM_PRICE_MAX, req, &price))
        json_object_set_new(fields, "price", json_integer(price));
    const char *currency = mc_valid_str(v, "currency", 3, 3, 0);
    if (currency != NULL) {
        bool upper = true;
        for (int i = 0; i < 3; ++i)
            upper = upper && currency[i] >= 'A' && currency[i] <= 'Z';
        if (!upper)
            mc_valid_error(v, "currency", "must be three capital letters (ISO 4217)");
        else
            put_str(fields, "currency", currency);
    } else if (creating) {
        put_str(fields, "currency", "USD");
    }
    json_t *images = mc_valid_str_array(v, "images", PM_MAX_IMAGES, PM_IMAGE_MAX_CHARS, 0);
    if (images != NULL) {
        bool ok = true;
        for (size_t i = 0; i < json_array_size(images) && ok; ++i)
            ok = valid_url(json_string_value(json_array_get(images, i)));
        if (!ok)
            mc_valid_error(v, "images", "must be absolute http or https URLs");
        else
            json_object_set(fields, "images", images);
    } else if (creating) {
        json_object_set_new(fields, "images", json_array());
    }
    const char *category = mc_valid_oid(v, "categoryId", req);
    if (category != NULL)
        put_str(fields, "categoryId", category);
    json_t *tags = mc_valid_str_array(v, "tags", PM_MAX_TAGS, PM_TAG_MAX_CHARS, 0);
    if (tags != NULL) {
        bool ok = true;
        for (size_t i = 0; i < json_array_size(tags) && ok; ++i)
            ok = valid_slug(json_string_value(json_array_get(tags, i)), PM_TAG_MAX_CHARS);
        if (!ok)
            mc_valid_error(v, "tags", "must be lower-case words of letters, digits and single dashes");
        else
            json_object_set(fields, "tags", tags);
    } else if (creating) {
        json_object_set_new(fields, "tags", json_array());
    }
    bool b;
    if (mc_valid_bool(v, "isActive", 0, &b))
        json_object_set_new(fields, "isActive", json_boolean(b));
    else if (creating)
        json_object_set_new(fields, "isActive", json_true());
    if (mc_valid_bool(v, "isFeatured", 0, &b))
        json_object_set_new(fields, "isFeatured", json_boolean(b));
    else if (creating)
        json_object_set_new(fields, "isFeatured", json_false());
}

/* --- list queries --------------------------------------------------------------------------------- */

static void free_query_text(void *p)
{
    pl_query_free(p);
}

/* A query that outlives the request (a cache load may): deep copy. */
static pl_query_t *query_clone(const pl_query_t *q)
{
    pl_query_t *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    *c = *q;
    c->categories = NULL;
    if (q->ncategories > 0) {
        c->categories = malloc(q->ncategories * sizeof(*c->categories));
        if (c->categories == NULL)
            abort();
        memcpy(c->categories, q->categories, q->ncategories * sizeof(*c->categories));
    }
    if (q->has_text) {
        ps_list_init(&c->text.tokens, PS_MAX_QUERY_TOKENS);
        ps_list_init(&c->text.complete, PS_MAX_QUERY_TOKENS);
        for (size_t i = 0; i < q->text.tokens.n; ++i)
            ps_list_add(&c->text.tokens, q->text.tokens.v[i], strlen(q->text.tokens.v[i]));
        for (size_t i = 0; i < q->text.complete.n; ++i)
            ps_list_add(&c->text.complete, q->text.complete.v[i], strlen(q->text.complete.v[i]));
    }
    return c;
}

static void query_destroy(void *p)
{
    pl_query_t *q = p;
    pl_query_free(q);
    free(q->categories);
    free(q);
}

/* Reads the filters, order and page of a list or search from the query string. */
static bool parse_query(mc_req_t *req, mc_valid_t *v, pl_query_t *q, bool search, const char *seller_from_path)
{
    static const char *const list_known[] = {"categoryId", "sellerId", "minPrice", "maxPrice", "inStock", "isFeatured",
                                             "tag", "isActive", "sort", "limit", "cursor", NULL};
    static const char *const search_known[] = {"q", "categoryId", "sellerId", "minPrice", "maxPrice", "inStock",
                                               "isFeatured", "tag", "isActive", "sort", "limit", "cursor", NULL};
    static const char *const list_sorts[] = {"newest", "price_asc", "price_desc", "rating", "name", NULL};
    static const char *const search_sorts[] = {"relevance", "newest", "price_asc", "price_desc", "rating", "name", NULL};
    pl_query_init(q);
    mc_req_on_free(req, free_query_text, q);
    mc_valid_query_only(v, search ? search_known : list_known);
    if (seller_from_path != NULL && mc_req_query(req, "sellerId") != NULL)
        mc_valid_error(v, "sellerId", "is given by the path");
    q->kind = search ? PL_SEARCH : PL_LIST;
    q->sort = search ? PL_SORT_RELEVANCE : PL_SORT_NEWEST;
    if (search) {
        const char *text = mc_valid_query_str(v, "q", 1, SEARCH_MAX_CHARS);
        if (text == NULL && mc_req_query(req, "q") == NULL)
            mc_valid_error(v, "q", "is required");
        if (text != NULL) {
            ps_query_parse(&q->text, text, strlen(text));
            q->has_text = true;
        }
    }
    const char *cat = mc_valid_query_oid(v, "categoryId");
    if (cat != NULL)
        snprintf(q->category_id, sizeof(q->category_id), "%s", cat);
    const char *seller = seller_from_path ? seller_from_path : mc_valid_query_oid(v, "sellerId");
    if (seller != NULL)
        snprintf(q->seller_id, sizeof(q->seller_id), "%s", seller);
    q->has_min_price = mc_valid_query_int(v, "minPrice", 0, PM_PRICE_MAX, &q->min_price);
    q->has_max_price = mc_valid_query_int(v, "maxPrice", 0, PM_PRICE_MAX, &q->max_price);
    bool b;
    if (mc_valid_query_bool(v, "inStock", &b))
        q->in_stock = b ? 1 : 0;
    if (mc_valid_query_bool(v, "isFeatured", &b))
        q->featured = b ? 1 : 0;
    if (mc_valid_query_bool(v, "isActive", &b))
        q->active = b;
    size_t ntags;
    const char **tags = mc_req_query_all(req, "tag", &ntags);
    if (ntags > PL_MAX_TAGS) {
        mc_valid_error(v, "tag", "at most %d tags", PL_MAX_TAGS);
        ntags = 0;
    }
    for (size_t i = 0; i < ntags; ++i) {
        if (!valid_slug(tags[i], PL_TAG_MAX_CHARS)) {
            mc_valid_error(v, "tag", "must be lower-case letters, digits and single dashes, at most %d characters",
                           PL_TAG_MAX_CHARS);
            break;
        }
        bool dup = false;
        for (size_t k = 0; k < q->ntags && !dup; ++k)
            dup = strcmp(q->tags[k], tags[i]) == 0;
        if (dup)
            continue;
        snprintf(q->tags[q->ntags++], PL_TAG_MAX_CHARS + 1, "%s", tags[i]);
    }
    const char *sort = mc_valid_query_enum(v, "sort", search ? search_sorts : list_sorts);
    if (sort != NULL)
        pl_sort_parse(sort, &q->sort);
    q->limit = LIST_DEFAULT_LIMIT;
    mc_valid_query_int(v, "limit", 1, LIST_MAX_LIMIT, &q->limit);
    const char *cursor = mc_req_query(req, "cursor");
    if (cursor != NULL) {
        q->has_cursor = pl_cursor_parse(cursor, &q->cursor);
        if (!q->has_cursor || (!search && q->cursor.sort == PL_SORT_RELEVANCE)) {
            q->has_cursor = false;
            mc_valid_error(v, "cursor", "is malformed (pass the endCursor of the previous page)");
        }
    }
    if (mc_valid_fail(v))
        return false;
    /* Inactive products: for admins, and for a seller listing their own. */
    if (!q->active) {
        prod_caller_t who;
        bool known = rt_caller(req, &who);
        bool own = known && who.role == MC_ROLE_SELLER && strcmp(who.sub, q->seller_id) == 0;
        if (!known || (who.role != MC_ROLE_ADMIN && !own)) {
            mc_respond_error(req, known ? MC_ERR_FORBIDDEN : MC_ERR_UNAUTHENTICATED, NULL,
                             "inactive products are listed only for admins and for their own seller (sellerId)");
            return false;
        }
    }
    return true;
}

/* The loader of a page on a cache miss. The payload: the ids ("<id>,<id>…"), then each
 * item's cursor ("<cursor> <cursor>…"), then the rest of the answer as a JSON fragment
 * ("\"totalCount\":N,\"pageInfo\":{…}"), one per line. */
static void page_load(mongoc_database_t *db, const char *tag, void *arg, char **out, size_t *outlen, mc_mongo_result_t *res)
{
    pl_query_t *q = arg;
    ps_page_t page;
    bson_error_t err;
    *out = NULL;
    int from_index = 0;
    if (q->has_min_price && q->has_max_price && q->min_price > q->max_price) {
        ps_page_init(&page, 1); /* an empty range */
    } else if ((from_index = sn_query(db, tag, q, &page, &err)) < 0 ||
               (from_index == 0 && ps_product_query(db, q, &page, &err) != 0)) {
        ps_page_free(&page);
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    mc_buf_t b;
    mc_buf_init(&b, RESPONSE_MAX_BYTES);
    char cursor[PL_CURSOR_MAX];
    for (size_t i = 0; i < page.n; ++i)
        mc_buf_appendf(&b, "%s%s", i ? "," : "", page.ids[i]);
    mc_buf_append(&b, "\n", 1);
    for (size_t i = 0; i < page.n; ++i) {
        pl_cursor_format(&page.at[i], cursor);
        mc_buf_appendf(&b, "%s%s", i ? " " : "", cursor);
    }
    mc_buf_appendf(&b, "\n\"totalCount\":%lld,\"pageInfo\":{\"hasNextPage\":%s,\"endCursor\":", (long long)page.total,
                   page.has_next ? "true" : "false");
    if (page.n > 0) {
        pl_cursor_format(&page.at[page.n - 1], cursor);
        mc_buf_appendf(&b, "\"%s\"}", cursor);
    } else {
        mc_buf_appendf(&b, "null}");
    }
    ps_page_free(&page);
    mc_buf_append(&b, "", 1);
    *out = b.data;
    *outlen = b.len - 1;
}

/* Strips a product payload's header. */
static bool payload_json(const char *payload, size_t len, const char **json, size_t *jlen, bool *active, char *seller)
{
    return payload != NULL && pm_payload_parse(payload, len, active, seller, json, jlen);
}

static void answer_page(mc_req_t *req, mc_err_t err, const char *page, size_t page_len, const char *const *values,
                        const size_t *lens, size_t n, void *cbarg)
{
    if (err != MC_OK) {
        mc_respond_error(req, err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, NULL, "%s",
                         err == MC_ERR_UNAVAILABLE ? "the product database is unavailable; retry later"
                                                   : "reading the products failed");
        return;
    }
    /* line 2: the cursors, line 3: the rest (see page_load) */
    const char *end = page + page_len;
    const char *l2 = memchr(page, '\n', page_len);
    const char *l3 = l2 ? memchr(l2 + 1, '\n', (size_t)(end - l2 - 1)) : NULL;
    if (l2 == NULL || l3 == NULL) {
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "a cached page is malformed");
        return;
    }
    const char *cur = l2 + 1;
    mc_buf_t items, cursors;
    mc_buf_init(&items, RESPONSE_MAX_BYTES);
    mc_buf_init(&cursors, RESPONSE_MAX_BYTES);
    size_t k = 0;
    for (size_t i = 0; i < n; ++i) {
        const char *sp = memchr(cur, ' ', (size_t)(l3 - cur));
        const char *cend = sp ? sp : l3;
        const char *json;
        size_t jlen;
        bool active;
        char seller[25];
        if (payload_json(values[i], lens[i], &json, &jlen, &active, seller)) {
            /* (an item deleted since the page was cached is left out, with its cursor) */
            mc_buf_appendf(&items, "%s", k ? "," : "");
            mc_buf_append(&items, json, jlen);
            mc_buf_appendf(&cursors, "%s\"", k ? "," : "");
            mc_buf_append(&cursors, cur, (size_t)(cend - cur));
            mc_buf_append(&cursors, "\"", 1);
            ++k;
        }
        cur = sp ? sp + 1 : l3;
    }
    mc_buf_t b;
    mc_buf_init(&b, RESPONSE_MAX_BYTES);
    mc_buf_append(&b, "{\"items\":[", 10);
    if (items.len > 0)
        mc_buf_append(&b, items.data, items.len);
    mc_buf_append(&b, "],\"cursors\":[", 13);
    if (cursors.len > 0)
        mc_buf_append(&b, cursors.data, cursors.len);
    mc_buf_append(&b, "],", 2);
    mc_buf_append(&b, l3 + 1, (size_t)(end - l3 - 1));
    if (mc_buf_append(&b, "}", 1) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "the answer is too large");
    else
        rt_respond_text(req, 200, b.data, b.len);
    mc_buf_free(&b);
    mc_buf_free(&items);
    mc_buf_free(&cursors);
}

static void run_query(mc_req_t *req, pl_query_t *q)
{
    char key[160];
    pl_query_cache_key(q, key, sizeof(key));
    pc_page_get(req, key, pl_query_ttl(q), page_load, query_clone(q), query_destroy, answer_page, NULL);
}

static void on_descendants(mc_req_t *req, mc_err_t err, const char *msg, char (*ids)[25], size_t n, void *arg)
{
    pl_query_t *q = arg;
    if (err != MC_OK) {
        mc_respond_error(req, err, err == MC_ERR_NOT_FOUND ? json_pack("[{s:s,s:s}]", "field", "categoryId", "message",
                                                                       "does not exist")
                                                           : NULL,
                         "%s", msg);
        return;
    }
    q->categories = mc_req_alloc(req, n * sizeof(*q->categories));
    memcpy(q->categories, ids, n * sizeof(*ids));
    q->ncategories = n;
    run_query(req, q);
}

static void list_or_search(mc_req_t *req, bool search, const char *seller)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    pl_query_t *q = mc_req_alloc(req, sizeof(*q));
    if (!parse_query(req, &v, q, search, seller))
        return;
    if (q->category_id[0] != '\0')
        cc_descendants(req, q->category_id, on_descendants, q);
    else
        run_query(req, q);
}

void rt_products_list(mc_req_t *req)
{
    list_or_search(req, false, NULL);
}

void rt_products_search(mc_req_t *req)
{
    list_or_search(req, true, NULL);
}

void rt_products_by_seller(mc_req_t *req)
{
    const char *seller = rt_path_id(req, "sellerId");
    if (seller != NULL)
        list_or_search(req, false, seller);
}

/* --- suggestions ------------------------------------------------------------------------------------ */

static void suggest_load(mongoc_database_t *db, const char *tag, void *arg, char **out, size_t *outlen, mc_mongo_result_t *res)
{
    bson_error_t err;
    json_t *items = NULL;
    int rc = sn_suggest(db, tag, arg, &items, &err);
    if (rc == 0)
        items = ps_product_suggest(db, arg, &err);
    *out = NULL;
    if (items == NULL) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    *out = pm_dump(items);
    *outlen = *out ? strlen(*out) : 0;
    json_decref(items);
}

static void answer_suggest(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    if (err != MC_OK || data == NULL) {
        mc_respond_error(req, err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, NULL, "%s",
                         err == MC_ERR_UNAVAILABLE ? "the product database is unavailable; retry later"
                                                   : "reading the suggestions failed");
        return;
    }
    mc_buf_t b;
    mc_buf_init(&b, RESPONSE_MAX_BYTES);
    mc_buf_append(&b, "{\"items\":", 9);
    mc_buf_append(&b, data, len);
    mc_buf_append(&b, "}", 1);
    rt_respond_text(req, 200, b.data, b.len);
    mc_buf_free(&b);
}

void rt_products_suggest(mc_req_t *req)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"q", "limit", NULL};
    mc_valid_query_only(&v, known);
    pl_query_t *q = mc_req_alloc(req, sizeof(*q));
    pl_query_init(q);
    mc_req_on_free(req, free_query_text, q);
    q->kind = PL_SUGGEST;
    const char *text = mc_valid_query_str(&v, "q", 1, SUGGEST_MAX_CHARS);
    if (text == NULL && mc_req_query(req, "q") == NULL)
        mc_valid_error(&v, "q", "is required");
    q->limit = SUGGEST_DEFAULT_LIMIT;
    mc_valid_query_int(&v, "limit", 1, SUGGEST_MAX_LIMIT, &q->limit);
    if (mc_valid_fail(&v))
        return;
    ps_query_parse(&q->text, text, strlen(text));
    q->has_text = true;
    if (q->text.last_key[0] == '\0') { /* no word of at least PS_PREFIX_MIN_CHARS characters */
        rt_respond_text(req, 200, "{\"items\":[]}", 12);
        return;
    }
    char key[160];
    pl_query_cache_key(q, key, sizeof(key));
    pc_value_get(req, key, pl_query_ttl(q), suggest_load, query_clone(q), query_destroy, answer_suggest, NULL);
}

/* --- one product, batch, slug ------------------------------------------------------------------------ */

static void answer_product(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    const char *id = cbarg ? cbarg : mc_req_param(req, "id");
    if (err != MC_OK) {
        mc_respond_error(req, err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, NULL, "%s",
                         err == MC_ERR_UNAVAILABLE ? "the product database is unavailable; retry later"
                                                   : "reading the product failed");
        return;
    }
    const char *json;
    size_t jlen;
    bool active;
    char seller[25];
    if (!payload_json(data, len, &json, &jlen, &active, seller) || (!active && !rt_may_see_inactive(req, seller))) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "product %s not found", id ? id : "");
        return;
    }
    rt_respond_text(req, 200, json, jlen);
}

void rt_product_get(mc_req_t *req)
{
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const none[] = {NULL};
    mc_valid_query_only(&v, none);
    if (mc_valid_fail(&v))
        return;
    pc_product_get(req, id, answer_product, NULL);
}

static void slug_load(mongoc_database_t *db, const char *tag, void *arg, char **out, size_t *outlen, mc_mongo_result_t *res)
{
    bson_error_t err;
    char id[25];
    *out = NULL;
    int f = ps_product_find_slug(db, arg, id, &err);
    if (f < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    if (f == 1) {
        *out = strdup(id);
        *outlen = 24;
    }
}

static void on_slug(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    const char *slug = mc_req_param(req, "slug");
    if (err != MC_OK) {
        answer_product(req, err, NULL, 0, NULL);
        return;
    }
    if (data == NULL || len != 24 || !mc_is_object_id(data, 24)) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "no product with slug %s", slug);
        return;
    }
    char *id = mc_req_strndup(req, data, 24);
    pc_product_get(req, id, answer_product, id);
}

void rt_product_get_slug(mc_req_t *req)
{
    const char *slug = mc_req_param(req, "slug");
    if (slug == NULL || !valid_slug(slug, PM_SLUG_MAX_CHARS)) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, json_pack("[{s:s,s:s}]", "field", "slug", "message", "is malformed"),
                         "a slug is 1 to %d characters of a-z, 0-9 and single dashes", PM_SLUG_MAX_CHARS);
        return;
    }
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const none[] = {NULL};
    mc_valid_query_only(&v, none);
    if (mc_valid_fail(&v))
        return;
    char key[160];
    snprintf(key, sizeof(key), "product:slug:%s", slug);
    char *arg = strdup(slug);
    if (arg == NULL)
        abort();
    pc_value_get(req, key, PC_SLUG_TTL, slug_load, arg, free, on_slug, NULL);
}

typedef struct batch_ctx {
    char (*ids)[25];
    size_t n;
} batch_ctx_t;

static void answer_batch(mc_req_t *req, mc_err_t err, const char *const *values, const size_t *lens, void *cbarg)
{
    batch_ctx_t *bc = cbarg;
    if (err != MC_OK) {
        answer_product(req, err, NULL, 0, NULL);
        return;
    }
    mc_buf_t b;
    mc_buf_init(&b, RESPONSE_MAX_BYTES);
    mc_buf_append(&b, "{\"items\":[", 10);
    size_t k = 0, m = 0;
    for (size_t i = 0; i < bc->n; ++i) {
        const char *json;
        size_t jlen;
        bool active;
        char seller[25];
        if (!payload_json(values[i], lens[i], &json, &jlen, &active, seller))
            continue;
        if (k++ > 0)
            mc_buf_append(&b, ",", 1);
        mc_buf_append(&b, json, jlen);
    }
    mc_buf_append(&b, "],\"missing\":[", 13);
    for (size_t i = 0; i < bc->n; ++i) {
        const char *json;
        size_t jlen;
        bool active;
        char seller[25];
        if (payload_json(values[i], lens[i], &json, &jlen, &active, seller))
            continue;
        mc_buf_appendf(&b, "%s\"%s\"", m++ ? "," : "", bc->ids[i]);
    }
    if (mc_buf_append(&b, "]}", 2) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "the answer is too large");
    else
        rt_respond_text(req, 200, b.data, b.len);
    mc_buf_free(&b);
}

void rt_products_batch(mc_req_t *req)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"ids", NULL};
    mc_valid_query_only(&v, known);
    const char *list = mc_req_query(req, "ids");
    batch_ctx_t *bc = mc_req_alloc(req, sizeof(*bc));
    bc->ids = mc_req_alloc(req, sizeof(*bc->ids) * BATCH_MAX_IDS);
    if (list == NULL || *list == '\0') {
        mc_valid_error(&v, "ids", "is required (comma-separated ids)");
    } else {
        size_t given = 0;
        for (const char *p = list;;) {
            if (++given > BATCH_MAX_IDS) {
                mc_valid_error(&v, "ids", "must name at most %d ids", BATCH_MAX_IDS);
                break;
            }
            size_t n = strcspn(p, ",");
            if (!mc_is_object_id(p, n)) {
                mc_valid_error(&v, "ids", "must be comma-separated ids of 24 hexadecimal digits");
                break;
            }
            char low[25];
            for (size_t k = 0; k < 24; ++k)
                low[k] = (p[k] >= 'A' && p[k] <= 'F') ? (char)(p[k] - 'A' + 'a') : p[k];
            low[24] = '\0';
            bool dup = false;
            for (size_t k = 0; k < bc->n && !dup; ++k)
                dup = strcmp(bc->ids[k], low) == 0;
            if (!dup)
                memcpy(bc->ids[bc->n++], low, 25);
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
    }
    if (mc_valid_fail(&v))
        return;
    pc_products_get(req, bc->ids, bc->n, answer_batch, bc);
}

/* --- writes ------------------------------------------------------------------------------------------- */

/* One write, from the handler through the category check and the job to the answer. */
typedef struct write_req {
    char id[25];
    json_t *fields;
    bool slug_generated;
    int64_t stock;
    bool absolute;
    int64_t amount;
    const char *reason;
    int64_t before, limit;
    prod_caller_t who;
    prod_result_t out;
    int status;
    mc_mongo_work_cb work; /* the job after the category check */
} write_req_t;

static void write_free(void *p)
{
    write_req_t *w = p;
    json_decref(w->fields);
    prod_result_free(&w->out);
}

static write_req_t *write_new(mc_req_t *req)
{
    write_req_t *w = mc_req_alloc(req, sizeof(*w));
    w->fields = json_object();
    rt_caller(req, &w->who);
    mc_req_set_data(req, w);
    mc_req_on_free(req, write_free, w);
    return w;
}

static void answer_write(mc_req_t *req)
{
    write_req_t *w = mc_req_data(req);
    if (w->status == 201) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/products/%s", json_string_value(json_object_get(w->out.value, "id")));
        mc_req_add_header(req, "location", loc);
    }
    rt_answer_result(req, &w->out, w->status);
}

static void write_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    if (res->err != MC_OK) {
        rt_db_error(req, res);
        return;
    }
    if (w->out.err != MC_OK) {
        rt_answer_result(req, &w->out, 0);
        return;
    }
    const char *id = w->out.value ? json_string_value(json_object_get(w->out.value, "id")) : NULL;
    if (id == NULL)
        id = w->id;
    char ids[1][25];
    snprintf(ids[0], 25, "%s", id);
    pc_invalidate(req, ids, 1, w->out.lists_changed, answer_write);
}

static void submit(mc_req_t *req, mc_mongo_work_cb work)
{
    if (mc_mongo_submit_req(req, work, write_done, mc_req_data(req)) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the write");
}

static void create_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    prod_create(db, w->fields, w->slug_generated, w->stock, &w->who, &w->out, res);
}

static void update_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    prod_update(db, w->id, w->fields, &w->who, &w->out, res);
}

/* The category named in a write must exist and be active. */
static void on_category(mc_req_t *req, mc_err_t err, const char *msg, bool active, void *arg)
{
    write_req_t *w = arg;
    if (err != MC_OK) {
        mc_respond_error(req, err, err == MC_ERR_NOT_FOUND ? json_pack("[{s:s,s:s}]", "field", "categoryId", "message",
                                                                       "does not exist")
                                                           : NULL,
                         "%s", msg);
        return;
    }
    if (!active) {
        mc_respond_error(req, MC_ERR_UNPROCESSABLE,
                         json_pack("[{s:s,s:s}]", "field", "categoryId", "message", "is not active"),
                         "products can only be placed in an active category");
        return;
    }
    submit(req, w->work);
}

static void check_category_then(mc_req_t *req, write_req_t *w, mc_mongo_work_cb work)
{
    const char *cat = json_string_value(json_object_get(w->fields, "categoryId"));
    w->work = work;
    if (cat != NULL)
        cc_check(req, cat, on_category, w);
    else
        submit(req, work);
}

void rt_product_create(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    write_req_t *w = write_new(req);
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"name", "slug", "description", "price", "currency", "images", "categoryId",
                                        "sellerId", "tags", "stock", "isActive", "isFeatured", NULL};
    mc_valid_only(&v, known);
    read_product_fields(&v, w->fields, true, &w->slug_generated);
    const char *seller = mc_valid_oid(&v, "sellerId", 0);
    w->stock = 0;
    mc_valid_int(&v, "stock", 0, PM_STOCK_MAX, 0, &w->stock);
    if (mc_valid_fail(&v))
        return;
    if (w->who.role == MC_ROLE_SELLER && seller != NULL && strcmp(seller, w->who.sub) != 0) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "a seller creates products for themselves only");
        return;
    }
    if (w->who.role != MC_ROLE_ADMIN && json_is_true(json_object_get(w->fields, "isFeatured"))) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "only admins feature products");
        return;
    }
    put_str(w->fields, "sellerId", seller != NULL ? seller : w->who.sub);
    w->status = 201;
    check_category_then(req, w, create_work);
}

void rt_product_update(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    write_req_t *w = write_new(req);
    memcpy(w->id, id, 25);
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    if (mc_valid_has(&v, "stock"))
        mc_valid_error(&v, "stock", "changes through POST /api/products/{id}/stock, which records why");
    if (mc_valid_has(&v, "sellerId"))
        mc_valid_error(&v, "sellerId", "cannot change");
    static const char *const known[] = {"name", "slug", "description", "price", "currency", "images", "categoryId",
                                        "tags", "isActive", "isFeatured", "stock", "sellerId", NULL};
    mc_valid_only(&v, known);
    bool generated = false;
    read_product_fields(&v, w->fields, false, &generated);
    if (mc_valid_ok(&v) && json_object_size(w->fields) == 0)
        mc_valid_error(&v, "body", "names no field to change");
    if (mc_valid_fail(&v))
        return;
    if (w->who.role != MC_ROLE_ADMIN && json_object_get(w->fields, "isFeatured") != NULL) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "only admins feature products");
        return;
    }
    w->status = 200;
    check_category_then(req, w, update_work);
}

static void delete_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    prod_delete(db, w->id, &w->who, &w->out, res);
}

void rt_product_delete(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    write_req_t *w = write_new(req);
    memcpy(w->id, id, 25);
    w->status = 204;
    submit(req, delete_work);
}

static void stock_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    prod_adjust_stock(db, w->id, w->absolute, w->amount, w->reason, &w->who, &w->out, res);
}

void rt_product_stock(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    write_req_t *w = write_new(req);
    memcpy(w->id, id, 25);
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"delta", "stock", "reason", NULL};
    mc_valid_only(&v, known);
    bool has_delta = mc_valid_int(&v, "delta", -STOCK_DELTA_MAX, STOCK_DELTA_MAX, 0, &w->amount);
    int64_t target;
    bool has_stock = mc_valid_int(&v, "stock", 0, PM_STOCK_MAX, 0, &target);
    if (mc_valid_has(&v, "delta") == mc_valid_has(&v, "stock"))
        mc_valid_error(&v, "body", "must give exactly one of delta (a change) and stock (the new value)");
    w->reason = mc_valid_str(&v, "reason", 1, INV_REASON_MAX_CHARS, 0);
    if (mc_valid_fail(&v))
        return;
    if (has_stock) {
        w->absolute = true;
        w->amount = target;
    }
    (void)has_delta;
    w->status = 200;
    submit(req, stock_work);
}

static void movements_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    prod_movements(db, w->id, w->before, w->limit, &w->who, &w->out, res);
}

static void movements_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    write_req_t *w = arg;
    if (res->err != MC_OK)
        rt_db_error(req, res);
    else
        rt_answer_result(req, &w->out, 200);
}

void rt_product_movements(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_SELLER | MC_ROLE_ADMIN))
        return;
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    write_req_t *w = write_new(req);
    memcpy(w->id, id, 25);
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"limit", "cursor", NULL};
    mc_valid_query_only(&v, known);
    w->limit = MOVEMENTS_DEFAULT_LIMIT;
    mc_valid_query_int(&v, "limit", 1, MOVEMENTS_MAX_LIMIT, &w->limit);
    const char *cursor = mc_req_query(req, "cursor");
    if (cursor != NULL) {
        char *end;
        errno = 0;
        long long n = strtoll(cursor, &end, 10);
        if (cursor[0] < '1' || cursor[0] > '9' || *end != '\0' || errno != 0 || strlen(cursor) > 18)
            mc_valid_error(&v, "cursor", "is malformed (pass the endCursor of the previous page)");
        else
            w->before = n;
    }
    if (mc_valid_fail(&v))
        return;
    if (mc_mongo_submit_req(req, movements_work, movements_done, w) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the read");
}
