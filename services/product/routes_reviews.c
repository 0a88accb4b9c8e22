/*
 * Review routes: list a product's reviews, review a product once, delete a review (its
 * author or an admin), mark a review helpful once per user. A product's rating and a
 * review's helpful count are recomputed from their sources under the written document's
 * lock before the answer (reviews.h), so they stay exact however many reviews and votes
 * race, and the client that wrote reads its effect at once.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "model.h"
#include "reviews.h"
#include "routes.h"
#include "service.h"
#include "store.h"

#define REVIEWS_DEFAULT_LIMIT 20
#define REVIEWS_MAX_LIMIT 50
/* Long enough to outwait a lock whose holder died (it is broken after PS_LOCK_TTL_MS). */
#define RATING_LOCK_WAIT_MS (PS_LOCK_TTL_MS + 2000)

typedef struct review_req {
    char product_id[25];
    char review_id[25];
    prod_caller_t who;
    int64_t rating;
    const char *title, *body;
    char sort;
    bool has_cursor;
    rv_cursor_t cursor;
    int64_t limit;
    /* outcome */
    mc_err_t err;
    char msg[200];
    json_t *value;
    bool rating_stale; /* the rating could not be recomputed now: the background does it */
    int status;
} review_req_t;

static void review_free(void *p)
{
    json_decref(((review_req_t *)p)->value);
}

static review_req_t *review_new(mc_req_t *req, const char *product_id)
{
    review_req_t *r = mc_req_alloc(req, sizeof(*r));
    snprintf(r->product_id, sizeof(r->product_id), "%s", product_id);
    rt_caller(req, &r->who);
    mc_req_set_data(req, r);
    mc_req_on_free(req, review_free, r);
    return r;
}

static void refuse(review_req_t *r, mc_err_t err, const char *msg)
{
    r->err = err;
    snprintf(r->msg, sizeof(r->msg), "%s", msg);
}

static void answer(mc_req_t *req, review_req_t *r)
{
    if (r->err != MC_OK) {
        mc_respond_error(req, r->err, NULL, "%s", r->msg);
        return;
    }
    if (r->status == 204) {
        mc_respond_empty(req, 204);
        return;
    }
    char *text = pm_dump(r->value);
    rt_respond_text(req, r->status, text, strlen(text));
    free(text);
}

static void answer_after_invalidation(mc_req_t *req)
{
    answer(req, mc_req_data(req));
}

static void done_with_rating(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    review_req_t *r = arg;
    if (res->err != MC_OK) {
        rt_db_error(req, res);
        return;
    }
    if (r->err != MC_OK) {
        answer(req, r);
        return;
    }
    if (r->rating_stale)
        ps_refresh_rating_schedule(mc_req_worker(req), r->product_id);
    char ids[1][25];
    memcpy(ids[0], r->product_id, 25);
    pc_invalidate(req, ids, 1, true, answer_after_invalidation);
}

/* Recomputes the product's rating; a failure leaves it to the background refresh (the
 * review itself is written). */
static void refresh_rating(mongoc_database_t *db, review_req_t *r)
{
    bson_error_t err;
    int rc = prod_refresh_rating(db, r->product_id, RATING_LOCK_WAIT_MS, &err);
    if (rc != 0) {
        if (rc < 0)
            mc_log_warn("recomputing the rating of %s: %s", r->product_id, err.message);
        r->rating_stale = true;
    }
}

/* The product must be one the caller can see. */
static bool visible(mc_req_t *req, mc_err_t err, const char *data, size_t len)
{
    const char *id = mc_req_param(req, "id");
    if (err != MC_OK) {
        mc_respond_error(req, err == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, NULL, "%s",
                         err == MC_ERR_UNAVAILABLE ? "the product database is unavailable; retry later"
                                                   : "reading the product failed");
        return false;
    }
    bool active;
    char seller[25];
    const char *json;
    size_t jlen;
    if (data == NULL || !pm_payload_parse(data, len, &active, seller, &json, &jlen) ||
        (!active && !rt_may_see_inactive(req, seller))) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "product %s not found", id);
        return false;
    }
    return true;
}

/* --- list -------------------------------------------------------------------------------------- */

static void list_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    review_req_t *r = arg;
    json_t *items, *cursors;
    bool has_next;
    int64_t total;
    bson_error_t err;
    if (rv_list(db, r->product_id, r->sort, r->has_cursor ? &r->cursor : NULL, r->limit, &items, &cursors, &has_next, &total,
                &err) != 0) {
        json_decref(items);
        json_decref(cursors);
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    json_t *last = json_array_get(cursors, json_array_size(cursors) - 1);
    r->value = json_pack("{s:o,s:o,s:I,s:{s:b,s:O}}", "items", items, "cursors", cursors, "totalCount", (json_int_t)total,
                         "pageInfo", "hasNextPage", has_next, "endCursor", last != NULL ? last : json_null());
    r->status = 200;
}

static void list_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    if (res->err != MC_OK)
        rt_db_error(req, res);
    else
        answer(req, arg);
}

static void list_visible(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    if (visible(req, err, data, len) && mc_mongo_submit_req(req, list_work, list_done, mc_req_data(req)) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the read");
}

void rt_reviews_list(mc_req_t *req)
{
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    review_req_t *r = review_new(req, id);
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"sort", "limit", "cursor", NULL};
    static const char *const sorts[] = {"newest", "helpful", NULL};
    mc_valid_query_only(&v, known);
    const char *sort = mc_valid_query_enum(&v, "sort", sorts);
    r->sort = sort != NULL && strcmp(sort, "helpful") == 0 ? 'h' : 'n';
    r->limit = REVIEWS_DEFAULT_LIMIT;
    mc_valid_query_int(&v, "limit", 1, REVIEWS_MAX_LIMIT, &r->limit);
    const char *cursor = mc_req_query(req, "cursor");
    if (cursor != NULL) {
        r->has_cursor = rv_cursor_parse(cursor, &r->cursor);
        if (!r->has_cursor)
            mc_valid_error(&v, "cursor", "is malformed (pass the endCursor of the previous page)");
        else
            r->sort = r->cursor.sort; /* a cursor continues its own order */
    }
    if (mc_valid_fail(&v))
        return;
    pc_product_get(req, id, list_visible, NULL);
}

/* --- create --------------------------------------------------------------------------------------- */

static void create_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    review_req_t *r = arg;
    bson_error_t err;
    if (rv_insert(db, r->product_id, r->who.sub, r->rating, r->title, r->body, &r->value, &err) != 0) {
        if (mc_mongo_is_duplicate(&err))
            refuse(r, MC_ERR_CONFLICT, "you have already reviewed this product");
        else
            mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    r->status = 201;
    refresh_rating(db, r);
}

static void create_visible(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    /* customers see (and review) only products on sale */
    if (!visible(req, err, data, len))
        return;
    if (mc_mongo_submit_req(req, create_work, done_with_rating, mc_req_data(req)) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the write");
}

void rt_review_create(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_CUSTOMER))
        return;
    const char *id = rt_path_id(req, "id");
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    review_req_t *r = review_new(req, id);
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"rating", "title", "body", NULL};
    mc_valid_only(&v, known);
    mc_valid_int(&v, "rating", 1, 5, MC_V_REQUIRED, &r->rating);
    const char *title = mc_valid_str(&v, "title", 1, RV_TITLE_MAX_CHARS, MC_V_REQUIRED);
    if (title != NULL) {
        size_t a = 0, b = strlen(title);
        while (a < b && title[a] == ' ')
            ++a;
        while (b > a && title[b - 1] == ' ')
            --b;
        if (a == b)
            mc_valid_error(&v, "title", "must contain a character other than a space");
        else
            r->title = mc_req_strndup(req, title + a, b - a);
    }
    r->body = mc_valid_str(&v, "body", 0, RV_BODY_MAX_CHARS, MC_V_MULTILINE);
    if (r->body == NULL)
        r->body = "";
    if (mc_valid_fail(&v))
        return;
    pc_product_get(req, id, create_visible, NULL);
}

/* --- delete ------------------------------------------------------------------------------------------ */

/* The review in the path, of the product in the path; refuses otherwise. */
static json_t *find_review(mongoc_database_t *db, review_req_t *r, mc_mongo_result_t *res)
{
    json_t *rv = NULL;
    bson_error_t err;
    int f = rv_find(db, r->review_id, &rv, &err);
    if (f < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return NULL;
    }
    const char *pid = f == 1 ? json_string_value(json_object_get(rv, "productId")) : NULL;
    if (f == 0 || pid == NULL || strcmp(pid, r->product_id) != 0) {
        json_decref(rv);
        refuse(r, MC_ERR_NOT_FOUND, "no such review of this product");
        return NULL;
    }
    return rv;
}

static void delete_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    review_req_t *r = arg;
    json_t *rv = find_review(db, r, res);
    if (rv == NULL)
        return;
    const char *author = json_string_value(json_object_get(rv, "userId"));
    bool allowed = r->who.role == MC_ROLE_ADMIN || (author != NULL && strcmp(author, r->who.sub) == 0);
    json_decref(rv);
    if (!allowed) {
        refuse(r, MC_ERR_FORBIDDEN, "only the review's author or an admin may delete it");
        return;
    }
    bson_error_t err;
    int d = rv_delete(db, r->review_id, &err);
    if (d < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    if (d == 0) {
        refuse(r, MC_ERR_NOT_FOUND, "no such review of this product");
        return;
    }
    r->status = 204;
    refresh_rating(db, r);
}

void rt_review_delete(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = rt_path_id(req, "id");
    const char *rid = id ? rt_path_id(req, "reviewId") : NULL;
    if (rid == NULL)
        return;
    review_req_t *r = review_new(req, id);
    snprintf(r->review_id, sizeof(r->review_id), "%s", rid);
    if (mc_mongo_submit_req(req, delete_work, done_with_rating, r) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the write");
}

/* --- helpful ---------------------------------------------------------------------------------------- */

static void helpful_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    review_req_t *r = arg;
    json_t *rv = find_review(db, r, res);
    if (rv == NULL)
        return;
    const char *author = json_string_value(json_object_get(rv, "userId"));
    bool own = author != NULL && strcmp(author, r->who.sub) == 0;
    json_decref(rv);
    if (own) {
        refuse(r, MC_ERR_FORBIDDEN, "you cannot mark your own review helpful");
        return;
    }
    bson_error_t err;
    if (rv_vote(db, r->review_id, r->who.sub, &err) != 0) {
        if (mc_mongo_is_duplicate(&err))
            refuse(r, MC_ERR_CONFLICT, "you have already marked this review helpful");
        else
            mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    /* the count from the votes themselves, written under the review's lock */
    char name[40], token[33];
    snprintf(name, sizeof(name), "review:%s", r->review_id);
    int l = ps_lock(db, name, token, RATING_LOCK_WAIT_MS, &err);
    if (l < 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    int64_t n = 0;
    int rc = rv_count_votes(db, r->review_id, &n, &err);
    if (rc == 0 && l == 0)
        rc = rv_set_helpful(db, r->review_id, n, &err);
    if (l == 0)
        ps_unlock(db, name, token);
    if (rc != 0) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    if (l > 0)
        mc_log_warn("review %s: its lock stayed busy; helpfulCount is written by the next vote", r->review_id);
    r->value = json_pack("{s:s,s:I}", "reviewId", r->review_id, "helpfulCount", (json_int_t)n);
    r->status = 200;
}

static void helpful_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    if (res->err != MC_OK)
        rt_db_error(req, res);
    else
        answer(req, arg);
}

void rt_review_helpful(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = rt_path_id(req, "id");
    const char *rid = id ? rt_path_id(req, "reviewId") : NULL;
    if (rid == NULL)
        return;
    review_req_t *r = review_new(req, id);
    snprintf(r->review_id, sizeof(r->review_id), "%s", rid);
    if (mc_mongo_submit_req(req, helpful_work, helpful_done, r) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the write");
}
