/*
 * The coupon service (port 4005): discount codes, their validation against a cart, and
 * their redemption by orders under usage limits that hold under concurrency.
 * See routes.c for the API, rules.h for the discount rules, store.h for storage.
 */
#include "categories.h"
#include "mc_config.h"
#include "mc_log.h"
#include "mc_server.h"
#include "routes.h"
#include "store.h"

extern const char coupon_openapi_json[];
extern const size_t coupon_openapi_json_len;

static int init(mc_server_t *srv)
{
    bson_error_t err;
    if (cpn_store_init(mc_server_mongo(srv), &err) != 0) {
        mc_log_error("creating the coupon indexes failed: %s", err.message);
        return -1;
    }
    return 0;
}

int main(void)
{
    mc_config_t cfg;
    mc_config_load(&cfg, "coupon", 4005);
    cpn_category_url = mc_env_str("CATEGORY_URL", "http://127.0.0.1:4004");
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = coupon_routes,
        .nroutes = coupon_nroutes,
        .openapi_json = coupon_openapi_json,
        .openapi_len = coupon_openapi_json_len,
        .use_mongo = true,
        .use_redis = false, /* nothing to cache: every answer depends on the current uses */
        .use_jwt = true,
        .init = init,
        .worker_init = cpn_categories_worker_init,
        .worker_dispose = cpn_categories_worker_dispose,
    };
    int rc = mc_server_run(&opts);
    mongoc_cleanup(); /* so that valgrind sees every block freed */
    return rc;
}
