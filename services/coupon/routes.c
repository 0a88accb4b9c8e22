/*
 * The coupon service's HTTP handlers. Every handler validates its input, runs one job on
 * the database thread pool (store.h) and answers.
 *
 * Validation and redemption first load the coupon, then (for a coupon limited to
 * categories) ask the category service for those categories' descendants (categories.h),
 * then evaluate and redeem in a second job.
 *
 *   admin       GET/POST /api/coupons, GET/PATCH/DELETE /api/coupons/{id},
 *               POST /api/coupons/{id}/activate|deactivate, GET /api/coupons/code/{code}
 *   anyone signed in, or a service
 *               POST /api/coupons/validate
 *   services    POST /api/coupons/redemptions, GET /api/coupons/redemptions/{orderId},
 *               POST /api/coupons/redemptions/{orderId}/release   (X-Internal-Key)
 *
 * Refusals, with their statuses:
 *   400 malformed input; 401/403 missing or wrong credentials; 404 an unknown coupon in
 *   the path, or an unknown code to redeem; 409 a code already in use, a change that
 *   contradicts what is stored (an expiry not after the start, a value out of range for
 *   the stored type), a redemption the coupon refuses (details.reason: inactive, not
 *   started, expired, used up, below the minimum, not for these categories), an order
 *   whose redemption was released; 503 the database is unreachable.
 *
 * No refusal here is a 422: every request the OpenAPI document describes as valid is
 * either served or refused because of the state of something stored (404/409).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_req.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "categories.h"
#include "routes.h"
#include "rules.h"
#include "store.h"

#define CODE_MIN 3
#define CODE_MAX 32
#define DESCRIPTION_MAX 500
#define MAX_USES_LIMIT 1000000
#define MAX_USES_PER_CUSTOMER_LIMIT 100
#define LIST_DEFAULT_LIMIT 50
#define LIST_MAX_LIMIT 200

/* --- helpers ------------------------------------------------------------------------------ */

/* A code: 3..32 of [A-Za-z0-9_-]; returned upper-cased (codes are case-insensitive). */
static char *normalise_code(mc_req_t *req, const char *s)
{
    size_t n = strlen(s);
    if (n < CODE_MIN || n > CODE_MAX)
        return NULL;
    char *out = mc_req_strndup(req, s, n);
    for (size_t i = 0; i < n; ++i) {
        char c = out[i];
        if (c >= 'a' && c <= 'z')
            out[i] = (char)(c - 'a' + 'A');
        else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
            return NULL;
    }
    return out;
}

static const char *body_code(mc_valid_t *v, mc_req_t *req, const char *key, unsigned flags)
{
    const char *s = mc_valid_str(v, key, CODE_MIN, CODE_MAX, flags);
    if (s == NULL)
        return NULL;
    const char *code = normalise_code(req, s);
    if (code == NULL)
        mc_valid_error(v, key, "must be 3 to 32 letters, digits, '_' or '-'");
    return code;
}

/* An id path parameter, lower-cased; answers 400 and returns NULL when malformed. */
static const char *path_oid(mc_req_t *req, const char *name, const char *what)
{
    char *id = (char *)mc_req_param(req, name);
    if (id == NULL || !mc_is_object_id(id, strlen(id))) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST,
                         json_pack("[{s:s,s:s}]", "field", name, "message", "must be an id (24 hexadecimal digits)"),
                         "the %s id in the path must be 24 hexadecimal digits", what);
        return NULL;
    }
    for (char *p = id; *p; ++p)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    return id;
}

/* An RFC 3339 time field; *set says whether it was given (null counts, with *ms unset). */
static bool valid_time(mc_valid_t *v, const char *key, bool *given, bool *is_null, int64_t *ms, char *norm)
{
    *given = mc_valid_has(v, key);
    *is_null = mc_valid_is_null(v, key);
    const char *s = mc_valid_str(v, key, 1, 64, MC_V_NULLABLE);
    if (s == NULL)
        return *is_null;
    if (mc_time_parse(s, ms) != 0) {
        mc_valid_error(v, key, "must be an RFC 3339 date-time such as 2026-01-31T23:59:59Z");
        return false;
    }
    mc_time_format(*ms, norm);
    return true;
}

/* 503 when the database is unreachable, 500 otherwise. */
static void answer_db_error(mc_req_t *req, const mc_mongo_result_t *res)
{
    if (res->err == MC_ERR_UNAVAILABLE)
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the coupon database is unavailable; retry later");
    else
        mc_respond_error(req, res->err == MC_OK ? MC_ERR_INTERNAL : res->err, NULL, "the coupon database failed: %s",
                         res->bson.message);
}

/* --- one job per request -------------------------------------------------------------------------- */

typedef enum {
    OP_LIST,
    OP_GET,
    OP_GET_CODE,
    OP_CREATE,
    OP_UPDATE,
    OP_DELETE,
    OP_VALIDATE,
    OP_REDEEM,
    OP_RELEASE,
    OP_REDEMPTION,
    OP_LOAD, /* validate and redeem first load the coupon, then expand its categories */
} op_t;

typedef struct job {
    op_t op;
    const char *id;   /* coupon id, or order id */
    const char *code; /* normalised */
    const char *customer;
    json_t *fields;   /* create/update: validated API fields */
    /* update: what was given, to check against the stored coupon */
    bool type_given, value_given;
    /* lines */
    cpn_line_t *lines;
    size_t nlines;
    /* validate/redeem: the coupon loaded first, its categories with their descendants */
    op_t then;
    json_t *coupon;
    json_t *cats;
    /* list */
    int active;
    const char *prefix;
    int64_t after_ms;
    const char *after_id;
    int64_t limit;
    /* outcome */
    json_t *result;
    int status;
    mc_err_t err;
    char msg[256];
    json_t *details;
    cpn_outcome_t oc;
    bson_error_t bson;
} job_t;

static void job_fail(job_t *j, mc_err_t err, json_t *details, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Records how the request is refused (answered in done). */
static void job_fail(job_t *j, mc_err_t err, json_t *details, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    j->err = err;
    vsnprintf(j->msg, sizeof(j->msg), fmt, ap);
    va_end(ap);
    json_decref(j->details);
    j->details = details;
}

/* Frees a job's JSON and lines with the request. */
static void job_free(void *p)
{
    job_t *j = p;
    json_decref(j->fields);
    json_decref(j->result);
    json_decref(j->details);
    json_decref(j->oc.body);
    json_decref(j->coupon);
    json_decref(j->cats);
    free(j->lines);
}

/* The expanded categories as the store wants them (pointers into j->cats). */
static const char **cat_list(job_t *j, size_t *n)
{
    *n = json_array_size(j->cats);
    const char **out = calloc(*n + 1, sizeof(char *));
    for (size_t i = 0; i < *n; ++i)
        out[i] = json_string_value(json_array_get(j->cats, i));
    return out;
}

/* Checks an update against the stored coupon: the validity window and the value's range
 * for the type it will have. False (with the job failed) when they contradict. */
static bool update_consistent(job_t *j, const json_t *stored)
{
    json_t *f = j->fields;
    const char *type = json_string_value(json_object_get(j->type_given ? f : stored, "type"));
    json_int_t value = json_integer_value(json_object_get(j->value_given ? f : stored, "value"));
    if (type != NULL && strcmp(type, "percentage") == 0 && (value < 1 || value > 100)) {
        job_fail(j, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "value", "message", "must be 1 to 100 for a percentage coupon"),
                 "a percentage coupon's value must be 1 to 100 (it would be %lld)", (long long)value);
        return false;
    }
    json_t *s = json_object_get(f, "startsAt") ? json_object_get(f, "startsAt") : json_object_get(stored, "startsAt");
    json_t *e = json_object_get(f, "expiresAt") ? json_object_get(f, "expiresAt") : json_object_get(stored, "expiresAt");
    int64_t sm, em;
    if (json_is_string(s) && json_is_string(e) && mc_time_parse(json_string_value(s), &sm) == 0 &&
        mc_time_parse(json_string_value(e), &em) == 0 && em <= sm) {
        job_fail(j, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "expiresAt", "message", "must be after startsAt"),
                 "the coupon would expire before it starts");
        return false;
    }
    return true;
}

/* The 404 of an unknown coupon. */
static void coupon_not_found(job_t *j)
{
    job_fail(j, MC_ERR_NOT_FOUND, NULL, "coupon %s not found", j->id ? j->id : j->code);
}

/* On the thread pool: the job's one store call. */
static void work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    job_t *j = arg;
    int64_t now = mc_now_ms();
    bool found;
    memset(&j->bson, 0, sizeof(j->bson));
    switch (j->op) {
    case OP_LIST:
        j->result = cpn_store_list(db, j->active, j->prefix, j->after_ms, j->after_id, j->limit, &j->bson);
        j->status = 200;
        break;
    case OP_GET:
        j->result = cpn_store_get(db, j->id, &j->bson);
        j->status = 200;
        if (j->result == NULL && j->bson.code == 0)
            coupon_not_found(j);
        break;
    case OP_GET_CODE:
        j->result = cpn_store_get_by_code(db, j->code, &j->bson);
        j->status = 200;
        if (j->result == NULL && j->bson.code == 0)
            coupon_not_found(j);
        break;
    case OP_CREATE:
        j->result = cpn_store_insert(db, j->fields, now, &j->bson);
        j->status = 201;
        if (j->result == NULL && mc_mongo_is_duplicate(&j->bson)) {
            job_fail(j, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "code", "message", "is already used"),
                     "coupon code %s is already used", j->code);
            return;
        }
        break;
    case OP_UPDATE: {
        json_t *stored = cpn_store_get(db, j->id, &j->bson);
        if (stored == NULL) {
            if (j->bson.code == 0)
                coupon_not_found(j);
            break;
        }
        bool ok = update_consistent(j, stored);
        json_decref(stored);
        if (!ok)
            return;
        j->result = cpn_store_update(db, j->id, j->fields, now, &j->bson);
        j->status = 200;
        if (j->result == NULL && mc_mongo_is_duplicate(&j->bson)) {
            job_fail(j, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "code", "message", "is already used"),
                     "coupon code %s is already used", j->code ? j->code : "");
            return;
        }
        if (j->result == NULL && j->bson.code == 0)
            coupon_not_found(j);
        break;
    }
    case OP_DELETE:
        if (cpn_store_delete(db, j->id, &found, &j->bson) == 0) {
            j->status = 204;
            if (!found)
                coupon_not_found(j);
        }
        break;
    case OP_LOAD:
        j->coupon = cpn_store_load_code(db, j->code, &j->bson);
        if (j->coupon == NULL && j->bson.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &j->bson);
        return;
    case OP_VALIDATE: {
        size_t nc;
        const char **cats = cat_list(j, &nc);
        if (cpn_store_validate(db, j->coupon, j->code, j->customer, cats, nc, j->lines, j->nlines, now, &j->oc, &j->bson) == 0) {
            j->status = j->oc.status;
            j->result = json_incref(j->oc.body);
        }
        free(cats);
        break;
    }
    case OP_REDEEM:
    case OP_RELEASE: {
        size_t nc;
        const char **cats = cat_list(j, &nc);
        int r = j->op == OP_REDEEM ? cpn_store_redeem(db, j->id, j->coupon, j->code, j->customer, cats, nc, j->lines, j->nlines, now,
                                                      &j->oc, &j->bson)
                                   : cpn_store_release(db, j->id, now, &j->oc, &j->bson);
        free(cats);
        if (r == 0) {
            if (j->oc.err != MC_OK) {
                json_t *details = j->oc.reason != CPN_OK ? json_pack("{s:s}", "reason", cpn_reason_name(j->oc.reason)) : NULL;
                job_fail(j, j->oc.err, details, "%s", j->oc.msg);
                return;
            }
            j->status = j->oc.status;
            j->result = json_incref(j->oc.body);
        }
        break;
    }
    case OP_REDEMPTION:
        j->result = cpn_store_redemption(db, j->id, &j->bson);
        j->status = 200;
        if (j->result == NULL && j->bson.code == 0)
            job_fail(j, MC_ERR_NOT_FOUND, NULL, "order %s has no coupon redemption", j->id);
        break;
    }
    if (j->err == MC_OK && j->result == NULL && j->status != 204 && j->bson.code != 0)
        mc_mongo_fail(mc_mongo_current(), res, &j->bson);
    else if (j->err == MC_OK && j->status == 204 && j->bson.code != 0)
        mc_mongo_fail(mc_mongo_current(), res, &j->bson);
}

static void submit(mc_req_t *req, job_t *j);

/* The coupon's categories with their descendants: evaluate (second job). */
static void on_expanded(mc_req_t *req, json_t *expanded, mc_err_t err)
{
    job_t *j = mc_req_data(req);
    if (expanded == NULL) {
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the category service is unavailable; retry later");
        return;
    }
    j->cats = json_incref(expanded);
    j->op = j->then;
    submit(req, j);
}

/* Answers the job; a coupon just loaded goes on to the category expansion and the second job. */
static void done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    job_t *j = arg;
    if (res->err != MC_OK) {
        answer_db_error(req, res);
        return;
    }
    if (j->op == OP_LOAD) {
        json_t *ids = json_object_get(j->coupon, "categoryIds");
        if (json_array_size(ids) > 0) {
            mc_req_set_data(req, j);
            cpn_expand_categories(req, ids, on_expanded);
            return;
        }
        j->op = j->then;
        submit(req, j);
        return;
    }
    if (j->err != MC_OK) {
        mc_respond_error(req, j->err, json_incref(j->details), "%s", j->msg);
        return;
    }
    if (j->status == 204) {
        mc_respond_empty(req, 204);
        return;
    }
    if (j->result == NULL) {
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "the coupon database gave no answer");
        return;
    }
    if (j->op == OP_CREATE) {
        char loc[64];
        snprintf(loc, sizeof(loc), "/api/coupons/%s", json_string_value(json_object_get(j->result, "id")));
        mc_req_add_header(req, "location", loc);
    }
    mc_respond_json(req, j->status, json_incref(j->result));
}

/* A job for the request, freed with it. */
static job_t *new_job(mc_req_t *req, op_t op)
{
    job_t *j = mc_req_alloc(req, sizeof(*j));
    j->op = op;
    mc_req_on_free(req, job_free, j);
    return j;
}

/* Queues the job. */
static void submit(mc_req_t *req, job_t *j)
{
    if (mc_mongo_submit_req(req, work, done, j) != 0)
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not queue the database job");
}

/* --- admin CRUD ------------------------------------------------------------------------------------ */

/* Validates the coupon fields of a create (creating) or an update into j->fields. */
static void read_fields(mc_valid_t *v, mc_req_t *req, job_t *j, bool creating)
{
    unsigned req_flag = creating ? MC_V_REQUIRED : 0;
    json_t *f = j->fields;
    const char *code = body_code(v, req, "code", req_flag);
    if (code != NULL) {
        json_object_set_new(f, "code", json_string(code));
        j->code = code;
    }
    static const char *const types[] = {"percentage", "fixed", NULL};
    const char *type = mc_valid_enum(v, "type", types, req_flag);
    if (type != NULL) {
        json_object_set_new(f, "type", json_string(type));
        j->type_given = true;
    }
    int64_t value;
    if (mc_valid_int(v, "value", 1, COUPON_MAX_AMOUNT, req_flag, &value)) {
        if (creating && type != NULL && strcmp(type, "percentage") == 0 && value > 100)
            mc_valid_error(v, "value", "must be 1 to 100 for a percentage coupon");
        json_object_set_new(f, "value", json_integer(value));
        j->value_given = true;
    }
    const char *desc = mc_valid_str(v, "description", 0, DESCRIPTION_MAX, MC_V_NULLABLE | MC_V_MULTILINE);
    if (desc != NULL || mc_valid_is_null(v, "description"))
        json_object_set_new(f, "description", desc ? json_string(desc) : json_null());
    else if (creating)
        json_object_set_new(f, "description", json_null());
    int64_t n;
    if (mc_valid_int(v, "minOrderAmount", 0, COUPON_MAX_AMOUNT, 0, &n))
        json_object_set_new(f, "minOrderAmount", json_integer(n));
    else if (creating)
        json_object_set_new(f, "minOrderAmount", json_integer(0));
    static const struct {
        const char *key;
        int64_t max;
    } limits[] = {{"maxDiscount", COUPON_MAX_AMOUNT}, {"maxUses", MAX_USES_LIMIT}, {"maxUsesPerCustomer", MAX_USES_PER_CUSTOMER_LIMIT}};
    for (size_t i = 0; i < 3; ++i) {
        if (mc_valid_int(v, limits[i].key, 1, limits[i].max, MC_V_NULLABLE, &n))
            json_object_set_new(f, limits[i].key, json_integer(n));
        else if (mc_valid_is_null(v, limits[i].key) || (creating && !mc_valid_has(v, limits[i].key)))
            json_object_set_new(f, limits[i].key, json_null());
    }
    bool given, is_null;
    int64_t starts = 0, expires = 0;
    char sbuf[MC_TIME_BUFSZ], ebuf[MC_TIME_BUFSZ];
    bool has_start = false, has_expiry = false;
    if (valid_time(v, "startsAt", &given, &is_null, &starts, sbuf) && given) {
        json_object_set_new(f, "startsAt", is_null ? json_null() : json_string(sbuf));
        has_start = !is_null;
    } else if (creating && !given) {
        json_object_set_new(f, "startsAt", json_null());
    }
    if (valid_time(v, "expiresAt", &given, &is_null, &expires, ebuf) && given) {
        json_object_set_new(f, "expiresAt", is_null ? json_null() : json_string(ebuf));
        has_expiry = !is_null;
    } else if (creating && !given) {
        json_object_set_new(f, "expiresAt", json_null());
    }
    (void)has_start;
    (void)has_expiry;
    json_t *cats = json_object_get(v->obj, "categoryIds");
    if (cats != NULL) {
        if (!json_is_array(cats) || json_array_size(cats) > COUPON_MAX_CATEGORIES) {
            mc_valid_error(v, "categoryIds", "must be an array of at most %d category ids", COUPON_MAX_CATEGORIES);
        } else {
            json_t *ids = json_array();
            size_t i;
            json_t *c;
            bool ok = true;
            json_array_foreach(cats, i, c)
            {
                if (!json_is_string(c) || !mc_is_object_id(json_string_value(c), json_string_length(c))) {
                    ok = false;
                    break;
                }
                char low[25];
                for (int k = 0; k < 24; ++k) {
                    char ch = json_string_value(c)[k];
                    low[k] = ch >= 'A' && ch <= 'F' ? (char)(ch - 'A' + 'a') : ch;
                }
                low[24] = '\0';
                json_t *one = json_string(low);
                bool dup = false;
                for (size_t k = 0; k < json_array_size(ids) && !dup; ++k)
                    dup = json_equal(json_array_get(ids, k), one);
                if (dup) {
                    json_decref(one);
                    mc_valid_error(v, "categoryIds", "must not repeat an id");
                    ok = false;
                    break;
                }
                json_array_append_new(ids, one);
            }
            if (!ok && mc_valid_ok(v))
                mc_valid_error(v, "categoryIds", "must be an array of category ids (24 hexadecimal digits)");
            if (ok)
                json_object_set_new(f, "categoryIds", ids);
            else
                json_decref(ids);
        }
    } else if (creating) {
        json_object_set_new(f, "categoryIds", json_array());
    }
    bool active;
    if (mc_valid_bool(v, "isActive", 0, &active))
        json_object_set_new(f, "isActive", json_boolean(active));
    else if (creating)
        json_object_set_new(f, "isActive", json_true());
}

static const char *const coupon_fields[] = {"code", "type", "value", "description", "minOrderAmount", "maxDiscount", "startsAt",
                                            "expiresAt", "maxUses", "maxUsesPerCustomer", "categoryIds", "isActive", NULL};

/* POST /api/coupons */
static void h_create(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    mc_valid_only(&v, coupon_fields);
    job_t *j = new_job(req, OP_CREATE);
    j->fields = json_object();
    read_fields(&v, req, j, true);
    if (mc_valid_fail(&v))
        return;
    int64_t s, e;
    json_t *st = json_object_get(j->fields, "startsAt"), *ex = json_object_get(j->fields, "expiresAt");
    if (json_is_string(st) && json_is_string(ex) && mc_time_parse(json_string_value(st), &s) == 0 &&
        mc_time_parse(json_string_value(ex), &e) == 0 && e <= s) {
        mc_respond_error(req, MC_ERR_CONFLICT, json_pack("[{s:s,s:s}]", "field", "expiresAt", "message", "must be after startsAt"),
                         "the coupon would expire before it starts");
        return;
    }
    submit(req, j);
}

/* PATCH /api/coupons/{id}: contradictions with the stored coupon are checked in the job. */
static void h_update(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_oid(req, "id", "coupon");
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    mc_valid_only(&v, coupon_fields);
    job_t *j = new_job(req, OP_UPDATE);
    j->id = id;
    j->fields = json_object();
    read_fields(&v, req, j, false);
    if (mc_valid_ok(&v) && json_object_size(j->fields) == 0)
        mc_valid_error(&v, "body", "names no field to change");
    if (mc_valid_fail(&v))
        return;
    submit(req, j);
}

/* POST /api/coupons/{id}/activate|deactivate */
static void h_set_active(mc_req_t *req, bool active)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_oid(req, "id", "coupon");
    if (id == NULL)
        return;
    job_t *j = new_job(req, OP_UPDATE);
    j->id = id;
    j->fields = json_pack("{s:b}", "isActive", active);
    submit(req, j);
}

static void h_activate(mc_req_t *req)
{
    h_set_active(req, true);
}

static void h_deactivate(mc_req_t *req)
{
    h_set_active(req, false);
}

/* GET /api/coupons/{id} */
static void h_get(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_oid(req, "id", "coupon");
    if (id == NULL)
        return;
    job_t *j = new_job(req, OP_GET);
    j->id = id;
    submit(req, j);
}

/* GET /api/coupons/code/{code} */
static void h_get_code(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *code = normalise_code(req, mc_req_param(req, "code"));
    if (code == NULL) {
        mc_respond_error(req, MC_ERR_BAD_REQUEST,
                         json_pack("[{s:s,s:s}]", "field", "code", "message", "must be 3 to 32 letters, digits, '_' or '-'"),
                         "the code in the path must be 3 to 32 letters, digits, '_' or '-'");
        return;
    }
    job_t *j = new_job(req, OP_GET_CODE);
    j->code = code;
    submit(req, j);
}

/* DELETE /api/coupons/{id} */
static void h_delete(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_oid(req, "id", "coupon");
    if (id == NULL)
        return;
    job_t *j = new_job(req, OP_DELETE);
    j->id = id;
    submit(req, j);
}

/* GET /api/coupons */
static void h_list(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ADMIN))
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, NULL);
    static const char *const known[] = {"isActive", "code", "limit", "cursor", NULL};
    mc_valid_query_only(&v, known);
    job_t *j = new_job(req, OP_LIST);
    j->active = -1;
    j->limit = LIST_DEFAULT_LIMIT;
    bool active;
    if (mc_valid_query_bool(&v, "isActive", &active))
        j->active = active ? 1 : 0;
    const char *prefix = mc_req_query(req, "code");
    if (prefix != NULL) {
        size_t n = strlen(prefix);
        char *up = mc_req_strndup(req, prefix, n);
        bool ok = n >= 1 && n <= CODE_MAX;
        for (size_t i = 0; i < n && ok; ++i) {
            char c = up[i];
            if (c >= 'a' && c <= 'z')
                up[i] = (char)(c - 'a' + 'A');
            else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
                ok = false;
        }
        if (!ok)
            mc_valid_error(&v, "code", "must be 1 to 32 letters, digits, '_' or '-' (a prefix of codes)");
        else
            j->prefix = up;
    }
    mc_valid_query_int(&v, "limit", 1, LIST_MAX_LIMIT, &j->limit);
    const char *cursor = mc_req_query(req, "cursor");
    if (cursor != NULL) {
        /* "<createdAt ms>.<id>" */
        const char *dot = strchr(cursor, '.');
        char *end = NULL;
        long long ms = dot != NULL ? strtoll(cursor, &end, 10) : 0;
        if (dot == NULL || end != dot || dot == cursor || dot - cursor > 15 || !mc_is_object_id(dot + 1, strlen(dot + 1)) ||
            (cursor[0] == '-' && dot - cursor == 1)) {
            mc_valid_error(&v, "cursor", "is malformed (pass the endCursor of the previous page)");
        } else {
            j->after_ms = ms;
            char *id = mc_req_strndup(req, dot + 1, 24);
            for (char *p = id; *p; ++p)
                if (*p >= 'A' && *p <= 'F')
                    *p = (char)(*p - 'A' + 'a');
            j->after_id = id;
        }
    }
    if (mc_valid_fail(&v))
        return;
    submit(req, j);
}

/* --- validate, redeem, release ---------------------------------------------------------------------- */

/* Reads "lines" into j->lines. */
static void read_lines(mc_valid_t *v, mc_req_t *req, job_t *j)
{
    json_t *lines = json_object_get(v->obj, "lines");
    if (lines == NULL) {
        mc_valid_error(v, "lines", "is required");
        return;
    }
    if (!json_is_array(lines) || json_array_size(lines) < 1 || json_array_size(lines) > COUPON_MAX_LINES) {
        mc_valid_error(v, "lines", "must be an array of 1 to %d lines", COUPON_MAX_LINES);
        return;
    }
    j->nlines = json_array_size(lines);
    j->lines = calloc(j->nlines, sizeof(cpn_line_t));
    size_t i;
    json_t *line;
    json_array_foreach(lines, i, line)
    {
        char field[32];
        snprintf(field, sizeof(field), "lines[%zu]", i);
        if (!json_is_object(line)) {
            mc_valid_error(v, field, "must be an object");
            continue;
        }
        mc_valid_t lv;
        mc_valid_init(&lv, req, line);
        static const char *const known[] = {"productId", "categoryId", "unitPrice", "quantity", NULL};
        mc_valid_only(&lv, known);
        j->lines[i].product_id = mc_valid_oid(&lv, "productId", MC_V_REQUIRED);
        j->lines[i].category_id = mc_valid_oid(&lv, "categoryId", MC_V_NULLABLE);
        mc_valid_int(&lv, "unitPrice", 0, COUPON_MAX_AMOUNT, MC_V_REQUIRED, &j->lines[i].unit_price);
        mc_valid_int(&lv, "quantity", 1, COUPON_MAX_QUANTITY, MC_V_REQUIRED, &j->lines[i].quantity);
        /* report the line's problems under its own name */
        size_t k;
        json_t *e;
        json_array_foreach(lv.errors, k, e)
        {
            mc_valid_error(v, field, "%s %s", json_string_value(json_object_get(e, "field")),
                           json_string_value(json_object_get(e, "message")));
        }
    }
}

/* POST /api/coupons/validate: customers only for themselves. */
static void h_validate(mc_req_t *req)
{
    bool internal = mc_req_is_internal(req);
    const mc_claims_t *claims = NULL;
    if (!internal) {
        if (!mc_req_require(req, MC_ROLE_ANY))
            return;
        claims = mc_req_claims(req, NULL);
    }
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"code", "customerId", "lines", NULL};
    mc_valid_only(&v, known);
    job_t *j = new_job(req, OP_LOAD);
    j->then = OP_VALIDATE;
    j->code = body_code(&v, req, "code", MC_V_REQUIRED);
    j->customer = mc_valid_oid(&v, "customerId", MC_V_NULLABLE);
    read_lines(&v, req, j);
    if (mc_valid_fail(&v))
        return;
    if (claims != NULL && claims->role != MC_ROLE_ADMIN) {
        if (j->customer != NULL && strcmp(j->customer, claims->sub) != 0) {
            mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "a customer can only validate coupons for themselves");
            return;
        }
        j->customer = mc_req_strndup(req, claims->sub, strlen(claims->sub));
    }
    submit(req, j);
}

/* POST /api/coupons/redemptions (services) */
static void h_redeem(mc_req_t *req)
{
    if (!mc_req_require_internal(req))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"code", "orderId", "customerId", "lines", NULL};
    mc_valid_only(&v, known);
    job_t *j = new_job(req, OP_LOAD);
    j->then = OP_REDEEM;
    j->code = body_code(&v, req, "code", MC_V_REQUIRED);
    j->id = mc_valid_oid(&v, "orderId", MC_V_REQUIRED);
    j->customer = mc_valid_oid(&v, "customerId", MC_V_REQUIRED);
    read_lines(&v, req, j);
    if (mc_valid_fail(&v))
        return;
    submit(req, j);
}

/* POST /api/coupons/redemptions/{orderId}/release (services) */
static void h_release(mc_req_t *req)
{
    if (!mc_req_require_internal(req))
        return;
    const char *id = path_oid(req, "orderId", "order");
    if (id == NULL)
        return;
    job_t *j = new_job(req, OP_RELEASE);
    j->id = id;
    submit(req, j);
}

/* GET /api/coupons/redemptions/{orderId} (services, admins) */
static void h_redemption(mc_req_t *req)
{
    if (!mc_req_is_internal(req) && !mc_req_require(req, MC_ROLE_ADMIN))
        return;
    const char *id = path_oid(req, "orderId", "order");
    if (id == NULL)
        return;
    job_t *j = new_job(req, OP_REDEMPTION);
    j->id = id;
    submit(req, j);
}

const mc_route_t coupon_routes[] = {
    {"GET", "/api/coupons", h_list},
    {"POST", "/api/coupons", h_create},
    {"POST", "/api/coupons/validate", h_validate},
    {"POST", "/api/coupons/redemptions", h_redeem},
    {"GET", "/api/coupons/redemptions/:orderId", h_redemption},
    {"POST", "/api/coupons/redemptions/:orderId/release", h_release},
    {"GET", "/api/coupons/code/:code", h_get_code},
    {"GET", "/api/coupons/:id", h_get},
    {"PATCH", "/api/coupons/:id", h_update},
    {"DELETE", "/api/coupons/:id", h_delete},
    {"POST", "/api/coupons/:id/activate", h_activate},
    {"POST", "/api/coupons/:id/deactivate", h_deactivate},
};
const size_t coupon_nroutes = sizeof(coupon_routes) / sizeof(coupon_routes[0]);
