/*
 * The gateway checked by external tools, each a ctest of its own (argv[1] chooses):
 *
 *   audit          graphql-http's auditServer: all 61 GraphQL-over-HTTP audits ok
 *   introspection  introspection rebuilt with graphql-js buildClientSchema prints
 *                  exactly as the stitched SDL built with graphql-js; the playground's
 *                  examples validate against it
 *   playground     headless Chromium opens the playground, runs an example and an
 *                  admin query with the token bar, saves a screenshot under the build
 *                  directory (test-artifacts/playground.png)
 *
 * The harness starts the processes (the playground's queries need the category and
 * product services); the checks themselves are Node scripts next to this file.
 */
#include <stdio.h>
#include <string.h>
#include "harness.h"

static mh_service_t *gw, *category, *product;
static const char *mode;

static int setup(void **state)
{
    (void)state;
    static char cat_url[128], prod_url[128];
    const char *env[4] = {NULL};
    if (strcmp(mode, "playground") == 0) {
        if (mh_mongo_start() != 0 || mh_redis_start() != 0)
            return -1;
        category = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
        if (category == NULL)
            return -1;
        snprintf(cat_url, sizeof(cat_url), "CATEGORY_URL=%s", mh_service_url(category));
        const char *penv[] = {cat_url, NULL};
        product = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = penv});
        if (product == NULL)
            return -1;
        snprintf(prod_url, sizeof(prod_url), "PRODUCT_URL=%s", mh_service_url(product));
        env[0] = cat_url;
        env[1] = prod_url;
    }
    gw = mh_gateway_start(env);
    return gw != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    if (gw != NULL && mh_service_stop(gw) != 0)
        rc = -1;
    if (product != NULL && mh_service_stop(product) != 0)
        rc = -1;
    if (category != NULL && mh_service_stop(category) != 0)
        rc = -1;
    return rc;
}

static void graphql_http_audit_is_61_of_61(void **state)
{
    (void)state;
    const char *argv[] = {"node", MC_TEST_DIR "/audit.mjs", mh_url(gw, "/graphql"), NULL};
    assert_int_equal(mh_run(argv), 0);
}

static void introspection_equals_the_stitched_sdl(void **state)
{
    (void)state;
    const char *argv[] = {"node", MC_TEST_DIR "/introspection.mjs", mh_url(gw, "/graphql"), mh_source_path("schema"),
                          mh_source_path("gateway/playground/examples.graphql"), NULL};
    assert_int_equal(mh_run(argv), 0);
}

static void chromium_runs_queries_in_the_playground(void **state)
{
    (void)state;
    char *admin = mh_token("64b7f0c2a1b2c3d4e5f60001", "admin");
    /* what the first example shows: a category and a product */
    mh_response_t r = mh_send("POST", mh_url(category, "/api/categories"), admin, json_pack("{s:s}", "name", "Headphones"));
    assert_int_equal(r.status, 201);
    char cat[25];
    snprintf(cat, sizeof(cat), "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
    r = mh_send("POST", mh_url(product, "/api/products"), admin,
                json_pack("{s:s,s:i,s:s,s:s}", "name", "Playground Headphones", "price", 4999, "categoryId", cat,
                          "sellerId", "64b7f0c2a1b2c3d4e5f600a1"));
    assert_int_equal(r.status, 201);
    mh_response_free(&r);
    const char *argv[] = {"node", MC_TEST_DIR "/playground.mjs", mh_service_url(gw), admin, "Playground Headphones",
                          MC_ARTIFACT_DIR "/playground.png", NULL};
    assert_int_equal(mh_run(argv), 0);
    free(admin);
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "audit";
    const struct CMUnitTest audit[] = {cmocka_unit_test(graphql_http_audit_is_61_of_61)};
    const struct CMUnitTest intro[] = {cmocka_unit_test(introspection_equals_the_stitched_sdl)};
    const struct CMUnitTest play[] = {cmocka_unit_test(chromium_runs_queries_in_the_playground)};
    if (strcmp(mode, "audit") == 0)
        return mh_run_group("gateway/graphql-http", audit, setup, teardown);
    if (strcmp(mode, "introspection") == 0)
        return mh_run_group("gateway/introspection", intro, setup, teardown);
    if (strcmp(mode, "playground") == 0)
        return mh_run_group("gateway/playground", play, setup, teardown);
    fprintf(stderr, "usage: %s audit|introspection|playground\n", argv[0]);
    return 2;
}
