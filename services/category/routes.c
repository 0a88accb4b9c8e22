/*
 * The category service's HTTP handlers. Reads are answered from a snapshot of every
 * category (cache.h); writes validate their input, then run one job on the database
 * thread pool (store.h), change the cache version and answer.
 *
 * Refusals, with their statuses:
 *   400 malformed input (an id that is not an ObjectId, a field of the wrong type, …)
 *   401/403 a write without an admin token
 *   404 the category in the path, or the parent named in the body, does not exist
 *   409 a slug already in use, a move under itself or a descendant, deleting a category
 *       that has children, another tree change holding the lock for too long
 *   422 a tree deeper than CATEGORY_MAX_DEPTH, too many
 *       categories
 *   503 the database is unreachable
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <errno.h>
#include <stdlib.h>
#include "cache.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "routes.h"
#include "store.h"

#define NAME_MAX_CHARS 100
#define SLUG_MAX_CHARS 100
#define DESCRIPTION_MAX_CHARS 2000
#define IMAGE_MAX_CHARS 2048
#define POSITION_LIMIT 1000000
#define LIST_DEFAULT_LIMIT 100
#define LIST_MAX_LIMIT 500
#define BATCH_MAX_IDS 100
#define LOCK_WAIT_MS 3000

/* --- helpers ------------------------------------------------------------------------ */

static void answer_snapshot_error(mc_req_t *req, mc_err_t err, const char *msg)
{
    mc_respond_error(req, err, NULL, "%s", msg);
}

/* The :id path parameter, checked; answers 400 and returns NULL when malformed. */
static const char *path_id(mc_req_t *req)
{
    char *id = (char *)mc_req_param(req, "id"); /* the request's own copy: lowered in place */
    if (id != NULL && mc_is_object_id(id, strlen(id)))
        for (char *p = id; *p; ++p)
            if (*p >= 'A' && *p <= 'F')
                *p = (char)(*p - 'A' + 'a');
    if (id == NULL || !mc_is_object_id(id, strlen(id))) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, json_pack("[{s:s,s:s}]", "field", "id", "message", "must be an id (24 hexadecimal digits)"),
                         "the category id in the path must be 24 hexadecimal digits");
        return NULL;
    }
    return id;
}

static bool valid_slug(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == '-' || s[n - 1] == '-')
        return false;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && s[i + 1] != '-')))
            return false;
    }
    return true;
}

/* --- reads -------------------------------------------------------------------------- */

/* List cursors are keyset positions, "<position>.<hex of name>.<id>": the sort key of
 * the last item of a page. The next page starts after that key, so pagination is stable
 * when categories are added or deleted between pages, and every string of that shape is
 * a valid cursor (the OpenAPI document gives its pattern). */
typedef struct list_key {
    long long position;
    char name[NAME_MAX_CHARS * 4 + 1];
    char id[25];
} list_key_t;

static bool cursor_parse(const char *s, list_key_t *k)
{
    char *end;
    errno = 0;
    k->position = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '.' || end - s > 8)
        return false;
    const char *hex = end + 1, *dot = strchr(hex, '.');
    size_t hexlen = dot ? (size_t)(dot - hex) : 0;
    if (dot == NULL || hexlen % 2 != 0 || hexlen / 2 >= sizeof(k->name))
        return false;
    for (size_t i = 0; i < hexlen; ++i)
        if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
            return false;
    if (mc_hex_decode(hex, hexlen, k->name, hexlen / 2) != 0)
        return false;
    k->name[hexlen / 2] = '\0'; /* names hold no NUL: a NUL in a cursor just ends its name */
    const char *id = dot + 1;
    if (strlen(id) != 24)
        return false;
    for (size_t i = 0; i < 24; ++i)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f')))
            return false;
    memcpy(k->id, id, 25);
    return true;
}

static char *cursor_make(mc_req_t *req, const cat_node_t *nd)
{
    size_t nlen = strlen(nd->name);
    char *c = mc_req_alloc(req, 24 + 2 * nlen + 26);
    int n = snprintf(c, 24, "%lld.", nd->position);
    mc_hex_encode(nd->name, nlen, c + n);
    snprintf(c + n + 2 * nlen, 27, ".%s", nd->id);
    return c;
}

/* True when the node sorts after the key (the snapshot's order: position, name, id). */
static bool after_key(const cat_node_t *nd, const list_key_t *k)
{
    if (nd->position != k->position)
        return nd->position > k->position;
    int c = strcmp(nd->name, k->name);
    if (c != 0)
        return c > 0;
    return strcmp(nd->id, k->id) > 0;
}

typedef struct list_params {
    const char *parent; /* NULL: any; "root": roots only; else an id */
    int has_active;
    bool active;
    int64_t limit;
    bool has_cursor;
    list_key_t cursor;
} list_params_t;

static void list_with(mc_req_t *req, cat_snapshot_t *s, mc_err_t err, const char *msg)
{
    if (s == NULL) {
        answer_snapshot_error(req, err, msg);
        return;
    }
    list_params_t *p = mc_req_data(req);
    json_t *items = json_array(), *cursors = json_array();
    size_t total = 0, taken = 0;
    bool has_next = false;
    const char *last = NULL;
    for (size_t i = 0; i < s->n; ++i) {
        const cat_node_t *nd = &s->nodes[i];
        if (p->parent != NULL) {
            bool root = strcmp(p->parent, "root") == 0;
            if (root ? nd->parent_id != NULL : (nd->parent_id == NULL || strcasecmp(nd->parent_id, p->parent) != 0))
                continue;
        }
        if (p->has_active && nd->active != p->active)
            continue;
        ++total;
        if (p->has_cursor && !after_key(nd, &p->cursor))
            continue;
        if (taken == (size_t)p->limit) {
            has_next = true;
            continue;
        }
        json_array_append(items, nd->obj);
        last = cursor_make(req, nd);
        json_array_append_new(cursors, json_string(last));
        ++taken;
    }
    json_t *end_cursor = last != NULL ? json_string(last) : json_null();
    mc_respond_json(req, 200,
                    json_pack("{s:o,s:o,s:I,s:{s:b,s:o}}", "items", items, "cursors", cursors, "totalCount", (json_int_t)total,
                              "pageInfo", "hasNextPage", has_next, "endCursor", end_cursor));
}

static void h_list(mc_req_t *req)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"parentId", "isActive", "limit", "cursor", NULL};
    mc_valid_query_only(&v, known);
    list_params_t *p = mc_req_alloc(req, sizeof(*p));
    p->limit = LIST_DEFAULT_LIMIT;
    const char *parent = mc_req_query(req, "parentId");
    if (parent != NULL && strcmp(parent, "root") != 0)
        parent = mc_valid_query_oid(&v, "parentId");
    p->parent = parent;
    p->has_active = mc_valid_query_bool(&v, "isActive", &p->active);
    mc_valid_query_int(&v, "limit", 1, LIST_MAX_LIMIT, &p->limit);
    const char *cursor = mc_req_query(req, "cursor");
    if (cursor != NULL) {
        p->has_cursor = cursor_parse(cursor, &p->cursor);
        if (!p->has_cursor)
            mc_valid_error(&v, "cursor", "is malformed (pass the endCursor of the previous page)");
    }
    if (mc_valid_fail(&v))
        return;
    mc_req_set_data(req, p);
    cat_snapshot_get(req, list_with);
}

typedef struct tree_params {
    bool active_only;
    const char *root;
} tree_params_t;

static void tree_with(mc_req_t *req, cat_snapshot_t *s, mc_err_t err, const char *msg)
{
    if (s == NULL) {
        answer_snapshot_error(req, err, msg);
        return;
    }
    tree_params_t *p = mc_req_data(req);
    size_t root = CATEGORY_NONE;
    if (p->root != NULL && (root = cat_find_id(s, p->root)) == CATEGORY_NONE) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "category %s not found", p->root);
        return;
    }
    mc_respond_json(req, 200, json_pack("{s:o}", "items", cat_tree_json(s, p->active_only, root)));
}

static void h_tree(mc_req_t *req)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"isActive", "rootId", NULL};
    mc_valid_query_only(&v, known);
    tree_params_t *p = mc_req_alloc(req, sizeof(*p));
    bool active = false;
    if (mc_valid_query_bool(&v, "isActive", &active) && !active)
        mc_valid_error(&v, "isActive", "can only be true (the tree of active categories)");
    p->active_only = active;
    p->root = mc_valid_query_oid(&v, "rootId");
    if (mc_valid_fail(&v))
        return;
    mc_req_set_data(req, p);
    cat_snapshot_get(req, tree_with);
}

static void one_with(mc_req_t *req, cat_snapshot_t *s, mc_err_t err, const char *msg)
{
    if (s == NULL) {
        answer_snapshot_error(req, err, msg);
        return;
    }
    const char *id = mc_req_param(req, "id");
    const char *slug = mc_req_param(req, "slug");
    size_t i = id != NULL ? cat_find_id(s, id) : cat_find_slug(s, slug);
    if (i == CATEGORY_NONE) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "category %s%s not found", id ? "" : "with slug ", id ? id : slug);
        return;
    }
    mc_respond_json(req, 200, json_incref(s->nodes[i].obj));
}

static void h_get(mc_req_t *req)
{
    if (path_id(req) != NULL)
        cat_snapshot_get(req, one_with);
}

static void h_get_slug(mc_req_t *req)
{
    const char *slug = mc_req_param(req, "slug");
    if (slug == NULL || strlen(slug) > SLUG_MAX_CHARS || !valid_slug(slug)) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST, NULL, "a slug is 1 to %d characters of a-z, 0-9 and single dashes", SLUG_MAX_CHARS);
        return;
    }
    cat_snapshot_get(req, one_with);
}

static void ancestors_with(mc_req_t *req, cat_snapshot_t *s, mc_err_t err, const char *msg)
{
    if (s == NULL) {
        answer_snapshot_error(req, err, msg);
        return;
    }
    const char *id = mc_req_param(req, "id");
    size_t i = cat_find_id(s, id);
    if (i == CATEGORY_NONE) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "category %s not found", id);
        return;
    }
    bool *self = mc_req_data(req);
    mc_respond_json(req, 200, json_pack("{s:o}", "items", cat_ancestors_json(s, i, *self)));
}

static void h_ancestors(mc_req_t *req)
{
    if (path_id(req) == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"includeSelf", NULL};
    mc_valid_query_only(&v, known);
    bool *self = mc_req_alloc(req, sizeof(*self));
    mc_valid_query_bool(&v, "includeSelf", self);
    if (mc_valid_fail(&v))
        return;
    mc_req_set_data(req, self);
    cat_snapshot_get(req, ancestors_with);
}

static void descendants_with(mc_req_t *req, cat_snapshot_t *s, mc_err_t err, const char *msg)
{
    if (s == NULL) {
        answer_snapshot_error(req, err, msg);
        return;
    }
    const char *id = mc_req_param(req, "id");
    size_t i = cat_find_id(s, id);
    if (i == CATEGORY_NONE) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "category %s not found", id);
        return;
    }
    mc_respond_json(req, 200, json_pack("{s:s,s:o}", "id", id, "ids", cat_descendant_ids(s, i)));
}

static void h_descendants(mc_req_t *req)
{
    if (path_id(req) != NULL)
        cat_snapshot_get(req, descendants_with);
}

/* The batch endpoint turns N look-ups of the gateway into one: ids=a,b,c (at most
 * BATCH_MAX_IDS). Found categories come back in the order asked, unknown ids in
 * `missing`. */
static void batch_with(mc_req_t *req, cat_snapshot_t *s, mc_err_t err, const char *msg)
{
    if (s == NULL) {
        answer_snapshot_error(req, err, msg);
        return;
    }
    json_t *ids = mc_req_data(req), *items = json_array(), *missing = json_array(), *id;
    size_t k;
    json_array_foreach(ids, k, id)
    {
        size_t i = cat_find_id(s, json_string_value(id));
        json_array_append(i == CATEGORY_NONE ? missing : items, i == CATEGORY_NONE ? id : s->nodes[i].obj);
    }
    mc_respond_json(req, 200, json_pack("{s:o,s:o}", "items", items, "missing", missing));
}

static void h_batch(mc_req_t *req)
{
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"ids", NULL};
    mc_valid_query_only(&v, known);
    const char *list = mc_req_query(req, "ids");
    json_t *ids = mc_req_keep_json(req, json_array());
    if (list == NULL || *list == '\0') {
        mc_valid_error(&v, "ids", "is required (comma-separated ids)");
    } else {
        for (const char *p = list;;) {
            size_t n = strcspn(p, ",");
            if (!mc_is_object_id(p, n)) {
                mc_valid_error(&v, "ids", "must be comma-separated ids of 24 hexadecimal digits");
                break;
            }
            char low[25];
            for (size_t k = 0; k < 24; ++k)
                low[k] = (p[k] >= 'A' && p[k] <= 'F') ? (char)(p[k] - 'A' + 'a') : p[k];
            low[24] = '\0';
            json_t *one = json_string(low);
            bool dup = false;
            for (size_t k = 0; k < json_array_size(ids) && !dup; ++k)
                dup = json_equal(json_array_get(ids, k), one);
            if (dup)
                json_decref(one);
            else
                json_array_append_new(ids, one);
            if (json_array_size(ids) > BATCH_MAX_IDS) {
                mc_valid_error(&v, "ids", "must name at most %d ids", BATCH_MAX_IDS);
                break;
            }
            if (p[n] == '\0')
                break;
            p += n + 1;
        }
    }
    if (mc_valid_fail(&v))
        return;
    mc_req_set_data(req, ids);
    cat_snapshot_get(req, batch_with);
}

/* --- writes ------------------------------------------------------------------------- */

typedef enum { OP_CREATE, OP_UPDATE, OP_MOVE, OP_DELETE } write_op_t;

/* One write, carried from the handler through the database job to the answer. */
typedef struct write_job {
    write_op_t op;
    char id[25];
    json_t *fields;     /* validated API fields (create/update/move) */
    bool slug_generated;
    /* outcome */
    mc_err_t err;
    char msg[256];
    json_t *details;
    json_t *result;
    bson_error_t bson;
    int status; /* HTTP status on success */
} write_job_t;

static void job_fail(write_job_t *j, mc_err_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void job_fail(write_job_t *j, mc_err_t err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    j->err = err;
    vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
    va_end(ap);
}

/* Loads the tree under the lock (the caller holds it). */
static cat_snapshot_t *locked_snapshot(mongoc_database_t *db, write_job_t *j, mc_mongo_result_t *res)
{
    json_t *all = cat_store_load_all(db, &j->bson);
    if (all == NULL) {
        mc_mongo_fail(mc_mongo_current(), res, &j->bson);
        return NULL;
    }
    cat_snapshot_t *s = cat_snapshot_build(all, NULL);
    if (s == NULL)
        job_fail(j, MC_ERR_INTERNAL, "stored categories are malformed");
    return s;
}

/* Inserts, retrying generated slugs with -2, -3, … on a duplicate. */
static void do_insert(mongoc_database_t *db, write_job_t *j, mc_mongo_result_t *res)
{
    char base[SLUG_MAX_CHARS * 4 + 1];
    snprintf(base, sizeof(base), "%s", json_string_value(json_object_get(j->fields, "slug")));
    for (int attempt = 1; attempt <= 50; ++attempt) {
        if (attempt > 1) {
            char slug[SLUG_MAX_CHARS + 1];
            snprintf(slug, sizeof(slug), "%.*s-%d", SLUG_MAX_CHARS - 4, base, attempt);
            json_object_set_new(j->fields, "slug", json_string(slug));
        }
        j->result = cat_store_insert(db, j->fields, mc_now_ms(), &j->bson);
        if (j->result != NULL) {
            j->status = 201;
            return;
        }
        if (!mc_mongo_is_duplicate(&j->bson)) {
            mc_mongo_fail(mc_mongo_current(), res, &j->bson);
            return;
        }
        if (!j->slug_generated) {
            job_fail(j, MC_ERR_CONFLICT, "slug '%s' is already used by another category", base);
            j->details = json_pack("[{s:s,s:s}]", "field", "slug", "message", "is already used");
            return;
        }
    }
    job_fail(j, MC_ERR_CONFLICT, "no free slug derived from '%s'", base);
}

/* Checks a parent for create and move: exists, and the subtree fits under it. */
static bool check_parent(cat_snapshot_t *s, write_job_t *j, const char *parent, unsigned subtree_height)
{
    size_t p = cat_find_id(s, parent);
    if (p == CATEGORY_NONE) {
        job_fail(j, MC_ERR_NOT_FOUND, "parent category %s does not exist", parent);
        j->details = json_pack("[{s:s,s:s}]", "field", "parentId", "message", "does not exist");
        return false;
    }
    if (s->nodes[p].depth + subtree_height > CATEGORY_MAX_DEPTH) {
        job_fail(j, MC_ERR_UNPROCESSABLE, "categories nest at most %d levels deep", CATEGORY_MAX_DEPTH);
        return false;
    }
    return true;
}

static void write_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    write_job_t *j = arg;
    bool found = false;
    if (j->op == OP_UPDATE) { /* no structural change: no lock */
        j->result = cat_store_update(db, j->id, j->fields, mc_now_ms(), &found, &j->bson);
        if (j->result != NULL)
            j->status = 200;
        else if (mc_mongo_is_duplicate(&j->bson)) {
            const char *slug = json_string_value(json_object_get(j->fields, "slug"));
            job_fail(j, MC_ERR_CONFLICT, "slug '%s' is already used by another category", slug ? slug : "");
            j->details = json_pack("[{s:s,s:s}]", "field", "slug", "message", "is already used");
        } else if (j->bson.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &j->bson);
        else
            job_fail(j, MC_ERR_NOT_FOUND, "category %s not found", j->id);
        return;
    }

    char token[33];
    int l = cat_store_lock(db, token, LOCK_WAIT_MS, &j->bson);
    if (l < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &j->bson);
        return;
    }
    if (l > 0) {
        job_fail(j, MC_ERR_CONFLICT, "another change of the category tree is in progress; retry");
        return;
    }
    cat_snapshot_t *s = locked_snapshot(db, j, res);
    if (s == NULL)
        goto Unlock;
    size_t self = j->op == OP_CREATE ? CATEGORY_NONE : cat_find_id(s, j->id);
    if (j->op != OP_CREATE && self == CATEGORY_NONE) {
        job_fail(j, MC_ERR_NOT_FOUND, "category %s not found", j->id);
        goto Release;
    }
    const char *parent = json_string_value(json_object_get(j->fields, "parentId"));
    switch (j->op) {
    case OP_CREATE:
        if (s->n >= CATEGORY_MAX_COUNT) {
            job_fail(j, MC_ERR_UNPROCESSABLE, "the catalog already has the maximum number of categories");
            break;
        }
        if (parent == NULL || check_parent(s, j, parent, 1))
            do_insert(db, j, res);
        break;
    case OP_MOVE:
        if (parent != NULL) {
            size_t p = cat_find_id(s, parent);
            if (p != CATEGORY_NONE && cat_in_subtree(s, p, self)) {
                job_fail(j, MC_ERR_CONFLICT, "a category cannot move under itself or one of its own descendants");
                j->details = json_pack("[{s:s,s:s}]", "field", "parentId", "message", "is the category or one of its descendants");
                break;
            }
            if (!check_parent(s, j, parent, cat_subtree_height(s, self)))
                break;
        }
        j->result = cat_store_update(db, j->id, j->fields, mc_now_ms(), &found, &j->bson);
        if (j->result != NULL)
            j->status = 200;
        else if (j->bson.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &j->bson);
        else
            job_fail(j, MC_ERR_NOT_FOUND, "category %s not found", j->id);
        break;
    case OP_DELETE:
        if (cat_child_count(s, self) > 0) {
            job_fail(j, MC_ERR_CONFLICT, "the category has %zu subcategories; move or delete them first", cat_child_count(s, self));
            break;
        }
        if (cat_store_delete(db, j->id, &found, &j->bson) != 0)
            mc_mongo_fail(mc_mongo_current(), res, &j->bson);
        else if (!found)
            job_fail(j, MC_ERR_NOT_FOUND, "category %s not found", j->id);
        else
            j->status = 204;
        break;
    case OP_UPDATE:
        break;
    }
Release:
    cat_snapshot_release(s);
Unlock:
    cat_store_unlock(db, token);
}

static void free_job(write_job_t *j)
{
    json_decref(j->fields);
    json_decref(j->details);
    json_decref(j->result);
}

static void answer_write(mc_req_t *req)
{
    write_job_t *j = mc_req_data(req);
    if (j->status == 201) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/categories/%s", json_string_value(json_object_get(j->result, "id")));
        mc_req_add_header(req, "location", loc);
    }
    if (j->status == 204)
        mc_respond_empty(req, 204);
    else
        mc_respond_json(req, j->status, json_incref(j->result));
}

static void write_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    write_job_t *j = arg;
    if (res->err != MC_OK) {
        if (res->err != MC_ERR_UNAVAILABLE)
            mc_log(MC_LOG_ERROR, mc_req_id(req), "category write failed: %s (domain %u, code %u)", res->bson.message,
                   res->bson.domain, res->bson.code);
        if (res->err == MC_ERR_UNAVAILABLE)
            mc_req_add_header(req, "retry-after", "1");
        mc_respond_error(req, res->err, NULL, "%s",
                         res->err == MC_ERR_UNAVAILABLE ? "the category database is unavailable; retry later" : "the write failed");
        return;
    }
    if (j->err != MC_OK) {
        mc_respond_error(req, j->err, json_incref(j->details), "%s", j->msg);
        return;
    }
    cat_cache_invalidate(req, answer_write);
}

static void submit_write(mc_req_t *req, write_job_t *j)
{
    mc_req_set_data(req, j);
    mc_req_on_free(req, (void (*)(void *))free_job, j);
    if (mc_mongo_submit_req(req, write_work, write_done, j) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the write");
}

/* Validates the fields shared by create and update into j->fields. */
static void read_fields(mc_valid_t *v, write_job_t *j, bool creating)
{
    unsigned req_flag = creating ? MC_V_REQUIRED : 0;
    const char *name = mc_valid_str(v, "name", 1, NAME_MAX_CHARS, req_flag | MC_V_TRIM);
    if (name != NULL)
        json_object_set_new(j->fields, "name", json_string(name));
    const char *slug = mc_valid_str(v, "slug", 1, SLUG_MAX_CHARS, 0);
    if (slug != NULL && !valid_slug(slug)) {
        mc_valid_error(v, "slug", "must be lower-case letters, digits and single dashes");
        slug = NULL;
    }
    if (slug != NULL) {
        json_object_set_new(j->fields, "slug", json_string(slug));
    } else if (creating && name != NULL && !mc_valid_has(v, "slug")) {
        char gen[SLUG_MAX_CHARS + 1];
        if (mc_slugify(name, strlen(name), gen, sizeof(gen)) == 0)
            snprintf(gen, sizeof(gen), "category");
        json_object_set_new(j->fields, "slug", json_string(gen));
        j->slug_generated = true;
    }
    const char *desc = mc_valid_str(v, "description", 0, DESCRIPTION_MAX_CHARS, MC_V_NULLABLE | MC_V_MULTILINE);
    if (desc != NULL || mc_valid_is_null(v, "description"))
        json_object_set_new(j->fields, "description", desc ? json_string(desc) : json_null());
    const char *image = mc_valid_url(v, "image", IMAGE_MAX_CHARS, MC_V_NULLABLE);
    if (image != NULL || mc_valid_is_null(v, "image"))
        json_object_set_new(j->fields, "image", image ? json_string(image) : json_null());
    int64_t pos;
    if (mc_valid_int(v, "position", -POSITION_LIMIT, POSITION_LIMIT, 0, &pos))
        json_object_set_new(j->fields, "position", json_integer(pos));
    else if (creating)
        json_object_set_new(j->fields, "position", json_integer(0));
    bool active;
    if (mc_valid_bool(v, "isActive", 0, &active))
        json_object_set_new(j->fields, "isActive", json_boolean(active));
    else if (creating)
        json_object_set_new(j->fields, "isActive", json_true());
}

static void h_create(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"name", "slug", "description", "parentId", "image", "position", "isActive", NULL};
    mc_valid_only(&v, known);
    write_job_t *j = mc_req_alloc(req, sizeof(*j));
    j->op = OP_CREATE;
    j->fields = json_object();
    read_fields(&v, j, true);
    const char *parent = mc_valid_oid(&v, "parentId", MC_V_NULLABLE);
    json_object_set_new(j->fields, "parentId", parent ? json_string(parent) : json_null());
    if (mc_valid_fail(&v)) {
        json_decref(j->fields);
        return;
    }
    submit_write(req, j);
}

static void h_update(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_id(req);
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    if (mc_valid_has(&v, "parentId"))
        mc_valid_error(&v, "parentId", "is changed with POST /api/categories/{id}/move");
    static const char *const known[] = {"name", "slug", "description", "parentId", "image", "position", "isActive", NULL};
    mc_valid_only(&v, known);
    write_job_t *j = mc_req_alloc(req, sizeof(*j));
    j->op = OP_UPDATE;
    memcpy(j->id, id, 25);
    j->fields = json_object();
    read_fields(&v, j, false);
    if (mc_valid_ok(&v) && json_object_size(j->fields) == 0)
        mc_valid_error(&v, "body", "names no field to change");
    if (mc_valid_fail(&v)) {
        json_decref(j->fields);
        return;
    }
    submit_write(req, j);
}

static void h_move(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_id(req);
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"parentId", "position", NULL};
    mc_valid_only(&v, known);
    if (!mc_valid_has(&v, "parentId"))
        mc_valid_error(&v, "parentId", "is required (an id, or null for the top level)");
    write_job_t *j = mc_req_alloc(req, sizeof(*j));
    j->op = OP_MOVE;
    memcpy(j->id, id, 25);
    j->fields = json_object();
    const char *parent = mc_valid_oid(&v, "parentId", MC_V_NULLABLE);
    json_object_set_new(j->fields, "parentId", parent ? json_string(parent) : json_null());
    int64_t pos;
    if (mc_valid_int(&v, "position", -POSITION_LIMIT, POSITION_LIMIT, 0, &pos))
        json_object_set_new(j->fields, "position", json_integer(pos));
    if (mc_valid_fail(&v)) {
        json_decref(j->fields);
        return;
    }
    submit_write(req, j);
}

static void h_delete(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_id(req);
    if (id == NULL)
        return;
    write_job_t *j = mc_req_alloc(req, sizeof(*j));
    j->op = OP_DELETE;
    memcpy(j->id, id, 25);
    submit_write(req, j);
}

const mc_route_t category_routes[] = {
    {"GET", "/api/categories", h_list},
    {"GET", "/api/categories/tree", h_tree},
    {"GET", "/api/categories/batch", h_batch},
    {"GET", "/api/categories/slug/:slug", h_get_slug},
    {"GET", "/api/categories/:id", h_get},
    {"GET", "/api/categories/:id/ancestors", h_ancestors},
    {"GET", "/api/categories/:id/descendants", h_descendants},
    {"POST", "/api/categories", h_create},
    {"PATCH", "/api/categories/:id", h_update},
    {"POST", "/api/categories/:id/move", h_move},
    {"DELETE", "/api/categories/:id", h_delete},
};
const size_t category_nroutes = sizeof(category_routes) / sizeof(category_routes[0]);
