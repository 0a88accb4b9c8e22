/*
 * The product service (port 4002): the catalog, search, reviews and stock.
 * See routes.h for the API, inventory.h for stock that never oversells, cache.h for
 * caching, store.h and model.h for storage.
 */
#include <string.h>
#include "cache.h"
#include "mc_config.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_server.h"
#include "product.h"
#include "routes.h"
#include "service.h"
#include "snapshot.h"
#include "store.h"

extern const char product_openapi_json[];
extern const size_t product_openapi_json_len;

static int init(mc_server_t *srv)
{
    bson_error_t err;
    if (ps_store_init(mc_server_mongo(srv), &err) != 0) {
        mc_log_error("creating the product indexes failed: %s", err.message);
        return -1;
    }
    pc_init(prod_load, mc_mongo_dbname(mc_server_mongo(srv)));
    sn_global_init(ps_config.index_max_products);
    return 0;
}

static void dispose(mc_server_t *srv)
{
    pc_dispose();
    sn_global_dispose();
}

int main(void)
{
    mc_config_t cfg;
    mc_config_load(&cfg, "product", 4002);
    ps_config.category_url = mc_env_str("CATEGORY_URL", "http://127.0.0.1:4004");
    if (strncmp(ps_config.category_url, "http://", 7) != 0 || strlen(ps_config.category_url) > 400)
        mc_config_die("CATEGORY_URL", "must be an http:// URL of at most 400 characters");
    ps_config.category_timeout_ms = (unsigned)mc_env_int("CATEGORY_TIMEOUT_MS", 3000, 100, 60000);
    ps_config.sweep_ms = (unsigned)mc_env_int("RESERVATION_SWEEP_MS", 5000, 50, 600000);
    const char *index = mc_env_str("PRODUCT_QUERY_INDEX", "memory");
    if (strcmp(index, "memory") != 0 && strcmp(index, "database") != 0)
        mc_config_die("PRODUCT_QUERY_INDEX", "must be memory or database");
    ps_config.index_max_products = strcmp(index, "memory") == 0
                                       ? (size_t)mc_env_int("PRODUCT_INDEX_MAX_PRODUCTS", 100000, 1, 10000000)
                                       : 0;
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = product_routes,
        .nroutes = product_nroutes,
        .openapi_json = product_openapi_json,
        .openapi_len = product_openapi_json_len,
        .use_mongo = true,
        .use_redis = true,
        .redis_required = false,
        .use_jwt = true,
        .init = init,
        .worker_init = ps_worker_init,
        .worker_dispose = ps_worker_dispose,
        .redis_state = ps_redis_state,
        .dispose = dispose,
    };
    int rc = mc_server_run(&opts);
    mongoc_cleanup(); /* so that valgrind sees every block freed */
    return rc;
}
