/*
 * The order service (port 4003): carts, checkout, the order lifecycle, order queries and
 * statistics, and the order events the gateway's live subscriptions are built on.
 * routes.c has the API, checkout.c the checkout saga, lifecycle.h the rules of an order's
 * life, store.h how it is all stored (and why that is safe on FerretDB), events.c the
 * outbox and the sweeper, cart.h the carts.
 */
#include "cart.h"
#include "mc_log.h"
#include "mc_server.h"
#include "order.h"
#include "routes.h"
#include "settings.h"
#include "store.h"

extern const char order_openapi_json[];
extern const size_t order_openapi_json_len;

static int init(mc_server_t *srv)
{
    bson_error_t err;
    if (mc_server_config(srv)->internal_key == NULL)
        mc_log_warn("INTERNAL_API_KEY is not set: checkouts cannot reserve stock or redeem coupons");
    if (ord_store_init(mc_server_mongo(srv), &err) != 0) {
        mc_log_error("creating the order indexes failed: %s", err.message);
        return -1;
    }
    cart_global_init();
    return 0;
}

static void dispose(mc_server_t *srv)
{
    cart_global_dispose();
}

int main(void)
{
    mc_config_t cfg;
    mc_config_load(&cfg, "order", 4003);
    ord_settings_load();
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = order_routes,
        .nroutes = order_nroutes,
        .openapi_json = order_openapi_json,
        .openapi_len = order_openapi_json_len,
        .use_mongo = true,
        .use_redis = true,
        .redis_required = false, /* without Redis: no carts and events wait in the outbox, orders go on */
        .use_jwt = true,
        .init = init,
        .worker_init = ord_events_worker_init,
        .worker_dispose = ord_events_worker_dispose,
        .dispose = dispose,
    };
    int rc = mc_server_run(&opts);
    mongoc_cleanup(); /* so that valgrind sees every block freed */
    return rc;
}
