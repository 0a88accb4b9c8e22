/*
 * The category service (port 4004): the category tree of the catalog.
 * See routes.c for the API, cache.h for caching, store.h for storage.
 */
#include "cache.h"
#include "mc_log.h"
#include "mc_server.h"
#include "routes.h"
#include "store.h"

extern const char category_openapi_json[];
extern const size_t category_openapi_json_len;

static int init(mc_server_t *srv)
{
    bson_error_t err;
    if (cat_store_init(mc_server_mongo(srv), &err) != 0) {
        mc_log_error("creating the category indexes failed: %s", err.message);
        return -1;
    }
    cat_cache_global_init();
    return 0;
}

static void dispose(mc_server_t *srv)
{
    cat_cache_global_dispose();
}

int main(void)
{
    mc_config_t cfg;
    mc_config_load(&cfg, "category", 4004);
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = category_routes,
        .nroutes = category_nroutes,
        .openapi_json = category_openapi_json,
        .openapi_len = category_openapi_json_len,
        .use_mongo = true,
        .use_redis = true,
        .redis_required = false,
        .use_jwt = true,
        .init = init,
        .worker_init = cat_cache_worker_init,
        .worker_dispose = cat_cache_worker_dispose,
        .redis_state = cat_cache_redis_state,
        .dispose = dispose,
    };
    int rc = mc_server_run(&opts);
    mongoc_cleanup(); /* so that valgrind sees every block freed */
    return rc;
}
