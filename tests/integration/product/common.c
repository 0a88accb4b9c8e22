/*
 * Implementation of common.h.
 */
#include <stdio.h>
#include <string.h>
#include "common.h"

mh_service_t *pt_category_svc;
mh_service_t *pt_product_svc[2];
char *pt_admin, *pt_seller, *pt_seller2, *pt_customer, *pt_customer2;

int pt_start(int nproducts, const char *const *env)
{
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    pt_category_svc = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (pt_category_svc == NULL)
        return -1;
    static char cat_env[128];
    snprintf(cat_env, sizeof(cat_env), "CATEGORY_URL=%s", mh_service_url(pt_category_svc));
    /* both product processes get the same database (the harness names it after the binary) */
    const char *all[32] = {cat_env};
    size_t n = 1;
    for (const char *const *e = env; e != NULL && *e != NULL && n < 30; ++e)
        all[n++] = *e;
    /* the same tests against either query path (snapshot.h) */
    static char index_env[64];
    const char *index = getenv("PRODUCT_TEST_QUERY_INDEX");
    if (index != NULL && *index != '\0') {
        snprintf(index_env, sizeof(index_env), "PRODUCT_QUERY_INDEX=%s", index);
        all[n++] = index_env;
    }
    all[n] = NULL;
    for (int i = 0; i < nproducts; ++i) {
        pt_product_svc[i] = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = all});
        if (pt_product_svc[i] == NULL)
            return -1;
    }
    pt_admin = mh_token(PT_ADMIN_ID, "admin");
    pt_seller = mh_token(PT_SELLER_ID, "seller");
    pt_seller2 = mh_token(PT_SELLER2_ID, "seller");
    pt_customer = mh_token(PT_CUSTOMER_ID, "customer");
    pt_customer2 = mh_token(PT_CUSTOMER2_ID, "customer");
    return 0;
}

int pt_stop(void)
{
    int rc = 0;
    free(pt_admin), free(pt_seller), free(pt_seller2), free(pt_customer), free(pt_customer2);
    for (int i = 1; i >= 0; --i)
        if (pt_product_svc[i] != NULL && mh_service_stop(pt_product_svc[i]) != 0)
            rc = -1;
    if (pt_category_svc != NULL && mh_service_stop(pt_category_svc) != 0)
        rc = -1;
    return rc;
}

const char *pt_url(int which, const char *fmt, ...)
{
    /* long enough for a batch of 100 ids (mh_url stops at 1 KiB) */
    static char ring[32][4096];
    static unsigned next;
    char *out = ring[next++ % 32];
    int n = snprintf(out, sizeof(ring[0]), "%s", mh_service_url(pt_product_svc[which]));
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, sizeof(ring[0]) - (size_t)n, fmt, ap);
    va_end(ap);
    return out;
}

const char *pt_cat_url(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return mh_url(pt_category_svc, path);
}

const char *pt_category(const char *name, const char *parent)
{
    static char ids[32][25];
    static int next;
    json_t *body = json_pack("{s:s}", "name", name);
    if (parent != NULL)
        json_object_set_new(body, "parentId", json_string(parent));
    mh_response_t r = mh_send("POST", pt_cat_url("/api/categories"), pt_admin, body);
    if (r.status != 201)
        fail_msg("creating category %s: %ld %s", name, r.status, r.body);
    char *id = ids[next++ % 32];
    snprintf(id, 25, "%s", pt_str(r.json, "id"));
    mh_response_free(&r);
    return id;
}

json_t *pt_product(const char *token, json_t *fields)
{
    mh_response_t r = mh_send("POST", pt_url(0, "/api/products"), token, fields);
    if (r.status != 201)
        fail_msg("creating a product: %ld %s", r.status, r.body);
    json_t *p = json_incref(r.json);
    mh_response_free(&r);
    return p;
}

void pt_id(const json_t *p, char *out)
{
    snprintf(out, 25, "%s", pt_str(p, "id"));
}

void pt_expect(mh_response_t r, long status, const char *code)
{
    if (r.status != status || (code != NULL && (mh_error_code(&r) == NULL || strcmp(mh_error_code(&r), code) != 0)))
        fail_msg("expected %ld %s, got %ld: %s", status, code ? code : "", r.status, r.body);
    mh_response_free(&r);
}

json_t *pt_get(const char *url, const char *token)
{
    mh_response_t r = mh_get(url, token);
    if (r.status != 200 || r.json == NULL)
        fail_msg("GET %s: %ld %s", url, r.status, r.body);
    json_t *j = json_incref(r.json);
    mh_response_free(&r);
    return j;
}

const char *pt_str(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

long long pt_int(const json_t *o, const char *k)
{
    return (long long)json_integer_value(json_object_get(o, k));
}

mh_response_t pt_internal(const char *method, const char *url, json_t *body)
{
    mh_response_t res;
    mh_request_t req = {.method = method, .url = url, .json = body,
                        .headers = (const char *const[]){"X-Internal-Key: " MH_INTERNAL_KEY, NULL}};
    mh_http(&req, &res);
    json_decref(body);
    return res;
}
