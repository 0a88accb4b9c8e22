/*
 * The user's addresses (any role, own addresses only: someone else's address is a 404,
 * not a 403, so ids reveal nothing). At most AUTH_MAX_ADDRESSES per user.
 *
 * The defaults (shipping, billing) are two fields of the user document, so there is
 * always at most one of each. Every write of a user's addresses runs under that user's
 * lock (store.h): the limit is exact under concurrent adds, and a default can never point
 * at an address deleted at the same moment. The first address becomes the default for both
 * until another is chosen; deleting a default leaves none (the client chooses anew).
 *
 * Refusals: 400 malformed input, 401 no valid token, 404 unknown address (or user),
 * 409 the limit is reached or a concurrent change, 503 database unreachable.
 */
#include <stdio.h>
#include <string.h>
#include "mc_util.h"
#include "mc_valid.h"
#include "routes.h"
#include "rules.h"
#include "service.h"
#include "store.h"

#define LABEL_MAX 40
#define LINE_MAX_CHARS 200
#define CITY_MAX 100
#define REGION_MAX 100

typedef enum { ADDR_CREATE, ADDR_UPDATE, ADDR_DELETE, ADDR_DEFAULT } addr_op_t;

typedef struct addr_ctx {
    auth_outcome_t o;
    addr_op_t op;
    char uid[25], id[25];
    json_t *fields;
    bool def_shipping, def_billing; /* make it the default (create, default) */
    json_t *result;                 /* the address written */
    bool addr_missing;              /* the address (not the user) was not found */
    char location[64];
} addr_ctx_t;

static void addr_free(void *p)
{
    addr_ctx_t *c = p;
    json_decref(c->fields);
    json_decref(c->result);
}

static addr_ctx_t *ctx_new(mc_req_t *req)
{
    addr_ctx_t *c = mc_req_alloc(req, sizeof(*c));
    auth_outcome_init(req, &c->o);
    mc_req_on_free(req, addr_free, c);
    memcpy(c->uid, mc_req_claims(req, NULL)->sub, 25);
    return c;
}

static void addr_done(mc_req_t *req, void *arg, const mc_mongo_result_t *res)
{
    auth_answer(req, res, &((addr_ctx_t *)arg)->o);
}

/* Adds isDefaultShipping/isDefaultBilling from the user's defaults. */
static json_t *with_flags(json_t *a, json_t *user)
{
    const char *id = json_string_value(json_object_get(a, "id"));
    const char *s = json_string_value(json_object_get(user, "defaultShippingAddressId"));
    const char *b = json_string_value(json_object_get(user, "defaultBillingAddressId"));
    json_object_set_new(a, "isDefaultShipping", json_boolean(id != NULL && s != NULL && strcmp(id, s) == 0));
    json_object_set_new(a, "isDefaultBilling", json_boolean(id != NULL && b != NULL && strcmp(id, b) == 0));
    return a;
}

/* --- reads ---------------------------------------------------------------------------------------- */

static void list_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    addr_ctx_t *c = arg;
    bson_error_t err;
    json_t *user = auth_user_get(db, c->uid, &err);
    if (user == NULL) {
        if (err.code != 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            auth_fail(&c->o, MC_ERR_NOT_FOUND, "the account of this token no longer exists");
        return;
    }
    json_t *list = c->id[0] == '\0' ? auth_addresses_list(db, c->uid, &err) : NULL;
    json_t *one = c->id[0] != '\0' ? auth_address_get(db, c->uid, c->id, &err) : NULL;
    if ((c->id[0] == '\0' && list == NULL) || (c->id[0] != '\0' && one == NULL && err.code != 0)) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
    } else if (c->id[0] != '\0') {
        if (one == NULL) {
            auth_fail(&c->o, MC_ERR_NOT_FOUND, "address %s not found", c->id);
        } else {
            c->o.status = 200;
            c->o.body = with_flags(json_incref(one), user);
        }
    } else {
        size_t i;
        json_t *a;
        json_array_foreach(list, i, a) with_flags(a, user);
        c->o.status = 200;
        c->o.body = json_pack("{s:O}", "items", list);
    }
    json_decref(list);
    json_decref(one);
    json_decref(user);
}

void auth_h_addresses_list(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    addr_ctx_t *c = ctx_new(req);
    auth_submit(req, list_work, addr_done, c);
}

void auth_h_address_get(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = auth_path_id(req, "address");
    if (id == NULL)
        return;
    addr_ctx_t *c = ctx_new(req);
    memcpy(c->id, id, 25);
    auth_submit(req, list_work, addr_done, c);
}

/* --- writes (under the user's lock) ------------------------------------------------------------------- */

/* A database failure inside the lock, reported through the outcome. */
static void db_failed(auth_outcome_t *o, const bson_error_t *err)
{
    mc_err_t e = mc_mongo_classify(mc_mongo_current(), err);
    auth_fail(o, e == MC_ERR_UNAVAILABLE ? MC_ERR_UNAVAILABLE : MC_ERR_INTERNAL, "%s",
              e == MC_ERR_UNAVAILABLE ? "the account database is unavailable; retry later" : "the address could not be saved");
}

static void not_found(addr_ctx_t *c, auth_outcome_t *o)
{
    c->addr_missing = true;
    auth_fail(o, MC_ERR_NOT_FOUND, "address %s not found", c->id);
}

/* Runs inside auth_user_update_locked: the address write itself, then the user fields
 * (the defaults) to set. */
static json_t *addr_mutate(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o)
{
    addr_ctx_t *c = arg;
    bson_error_t err;
    int64_t now = mc_now_ms();
    const char *ship = json_string_value(json_object_get(user, "defaultShippingAddressId"));
    const char *bill = json_string_value(json_object_get(user, "defaultBillingAddressId"));
    json_t *set = json_object();
    int r;
    switch (c->op) {
    case ADDR_CREATE: {
        int64_t n = auth_address_count(db, c->uid, &err);
        if (n < 0) {
            db_failed(o, &err);
            break;
        }
        if (n >= AUTH_MAX_ADDRESSES) {
            auth_fail(o, MC_ERR_CONFLICT, "an account keeps at most %d addresses; delete one first", AUTH_MAX_ADDRESSES);
            break;
        }
        c->result = auth_address_insert(db, c->uid, c->fields, now, &err);
        if (c->result == NULL) {
            db_failed(o, &err);
            break;
        }
        json_t *id = json_object_get(c->result, "id");
        if (c->def_shipping || ship == NULL)
            json_object_set(set, "defaultShippingAddressId", id);
        if (c->def_billing || bill == NULL)
            json_object_set(set, "defaultBillingAddressId", id);
        break;
    }
    case ADDR_UPDATE:
        r = auth_address_update(db, c->uid, c->id, c->fields, now, &err);
        if (r < 0)
            db_failed(o, &err);
        else if (r > 0)
            not_found(c, o);
        else if ((c->result = auth_address_get(db, c->uid, c->id, &err)) == NULL)
            err.code != 0 ? db_failed(o, &err) : not_found(c, o);
        break;
    case ADDR_DELETE:
        r = auth_address_delete(db, c->uid, c->id, &err);
        if (r < 0) {
            db_failed(o, &err);
        } else if (r > 0) {
            not_found(c, o);
        } else {
            if (ship != NULL && strcmp(ship, c->id) == 0)
                json_object_set_new(set, "defaultShippingAddressId", json_null());
            if (bill != NULL && strcmp(bill, c->id) == 0)
                json_object_set_new(set, "defaultBillingAddressId", json_null());
        }
        break;
    case ADDR_DEFAULT:
        c->result = auth_address_get(db, c->uid, c->id, &err);
        if (c->result == NULL) {
            err.code != 0 ? db_failed(o, &err) : not_found(c, o);
            break;
        }
        if (c->def_shipping)
            json_object_set_new(set, "defaultShippingAddressId", json_string(c->id));
        if (c->def_billing)
            json_object_set_new(set, "defaultBillingAddressId", json_string(c->id));
        break;
    }
    return set;
}

static void write_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    addr_ctx_t *c = arg;
    json_t *u = auth_user_update_locked(db, c->uid, addr_mutate, c, &c->o, res);
    if (u == NULL) {
        if (c->o.err == MC_ERR_NOT_FOUND && !c->addr_missing)
            auth_fail(&c->o, MC_ERR_NOT_FOUND, "the account of this token no longer exists");
        return;
    }
    if (c->op == ADDR_DELETE) {
        c->o.status = 204;
    } else if (c->result != NULL) {
        c->o.status = c->op == ADDR_CREATE ? 201 : 200;
        c->o.body = with_flags(json_incref(c->result), u);
        if (c->op == ADDR_CREATE) {
            snprintf(c->location, sizeof(c->location), "/api/addresses/%s",
                     json_string_value(json_object_get(c->result, "id")));
            c->o.location = c->location;
        }
    }
    json_decref(u);
}

/* Validates the address fields into c->fields; creating: the required ones must be there. */
static void read_fields(mc_valid_t *v, addr_ctx_t *c, bool creating)
{
    unsigned req = creating ? MC_V_REQUIRED : 0;
    c->fields = json_object();
    struct {
        const char *key;
        size_t max;
        bool required, nullable;
    } texts[] = {
        {"label", LABEL_MAX, false, true},   {"fullName", AUTH_NAME_MAX, true, false},
        {"line1", LINE_MAX_CHARS, true, false}, {"line2", LINE_MAX_CHARS, false, true},
        {"city", CITY_MAX, true, false},      {"region", REGION_MAX, false, true},
    };
    for (size_t i = 0; i < MC_ARRAY_SIZE(texts); ++i) {
        unsigned flags = (texts[i].required ? req : 0) | (texts[i].nullable ? MC_V_NULLABLE : 0);
        const char *s = auth_valid_text(v, texts[i].key, texts[i].max, flags);
        if (s != NULL)
            json_object_set_new(c->fields, texts[i].key, json_string(s));
        else if (texts[i].nullable && (mc_valid_is_null(v, texts[i].key) || (creating && !mc_valid_has(v, texts[i].key))))
            json_object_set_new(c->fields, texts[i].key, json_null());
    }
    const char *phone = auth_valid_phone(v, "phone", MC_V_NULLABLE);
    if (phone != NULL)
        json_object_set_new(c->fields, "phone", json_string(phone));
    else if (mc_valid_is_null(v, "phone") || (creating && !mc_valid_has(v, "phone")))
        json_object_set_new(c->fields, "phone", json_null());
    const char *postal = mc_valid_str(v, "postalCode", 1, 20, req);
    if (postal != NULL && !auth_postal_valid(postal, strlen(postal)))
        mc_valid_error(v, "postalCode", "must be 1 to 20 letters, digits, spaces or hyphens, starting and ending with a letter or digit");
    else if (postal != NULL)
        json_object_set_new(c->fields, "postalCode", json_string(postal));
    const char *country = mc_valid_str(v, "country", 2, 2, req);
    if (country != NULL && !auth_country_valid(country, strlen(country)))
        mc_valid_error(v, "country", "must be an ISO 3166-1 alpha-2 code in capitals (e.g. DE, US)");
    else if (country != NULL)
        json_object_set_new(c->fields, "country", json_string(country));
}

void auth_h_address_create(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"label", "fullName", "phone", "line1", "line2", "city", "region",
                                        "postalCode", "country", "isDefaultShipping", "isDefaultBilling", NULL};
    mc_valid_only(&v, known);
    addr_ctx_t *c = ctx_new(req);
    c->op = ADDR_CREATE;
    read_fields(&v, c, true);
    mc_valid_bool(&v, "isDefaultShipping", 0, &c->def_shipping);
    mc_valid_bool(&v, "isDefaultBilling", 0, &c->def_billing);
    if (mc_valid_fail(&v))
        return;
    auth_submit(req, write_work, addr_done, c);
}

void auth_h_address_update(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = auth_path_id(req, "address");
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    if (mc_valid_has(&v, "isDefaultShipping") || mc_valid_has(&v, "isDefaultBilling"))
        mc_valid_error(&v, mc_valid_has(&v, "isDefaultShipping") ? "isDefaultShipping" : "isDefaultBilling",
                       "is set with POST /api/addresses/{id}/default");
    static const char *const known[] = {"label", "fullName", "phone", "line1", "line2", "city", "region",
                                        "postalCode", "country", "isDefaultShipping", "isDefaultBilling", NULL};
    mc_valid_only(&v, known);
    addr_ctx_t *c = ctx_new(req);
    c->op = ADDR_UPDATE;
    memcpy(c->id, id, 25);
    read_fields(&v, c, false);
    if (mc_valid_ok(&v) && json_object_size(c->fields) == 0)
        mc_valid_error(&v, "body", "names no field to change");
    if (mc_valid_fail(&v))
        return;
    auth_submit(req, write_work, addr_done, c);
}

void auth_h_address_delete(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = auth_path_id(req, "address");
    if (id == NULL)
        return;
    addr_ctx_t *c = ctx_new(req);
    c->op = ADDR_DELETE;
    memcpy(c->id, id, 25);
    auth_submit(req, write_work, addr_done, c);
}

void auth_h_address_default(mc_req_t *req)
{
    if (!mc_req_require(req, MC_ROLE_ANY))
        return;
    const char *id = auth_path_id(req, "address");
    if (id == NULL)
        return;
    json_t *body = mc_req_json(req, true);
    if (body == NULL)
        return;
    mc_valid_t v;
    mc_valid_init(&v, req, body);
    static const char *const known[] = {"type", NULL};
    mc_valid_only(&v, known);
    static const char *const types[] = {"shipping", "billing", "both", NULL};
    const char *type = mc_valid_enum(&v, "type", types, MC_V_REQUIRED);
    if (mc_valid_fail(&v))
        return;
    addr_ctx_t *c = ctx_new(req);
    c->op = ADDR_DEFAULT;
    memcpy(c->id, id, 25);
    c->def_shipping = strcmp(type, "billing") != 0;
    c->def_billing = strcmp(type, "shipping") != 0;
    auth_submit(req, write_work, addr_done, c);
}
