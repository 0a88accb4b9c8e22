/*
 * Implementation of settings.h.
 */
#include <stdio.h>
#include <string.h>
#include "mc_config.h"
#include "settings.h"

ord_settings_t ord_settings;

void ord_settings_load(void)
{
    ord_settings_t *s = &ord_settings;
    const char *cur = mc_env_str("ORDER_CURRENCY", "USD");
    if (strlen(cur) != 3 || cur[0] < 'A' || cur[0] > 'Z' || cur[1] < 'A' || cur[1] > 'Z' || cur[2] < 'A' || cur[2] > 'Z')
        mc_config_die("ORDER_CURRENCY", "must be three upper-case letters (ISO 4217), e.g. USD");
    snprintf(s->currency, sizeof(s->currency), "%s", cur);
    s->tax_rate_bps = mc_env_int("ORDER_TAX_RATE_BPS", 0, 0, 10000);
    s->shipping_fee = mc_env_int("ORDER_SHIPPING_FEE", 499, 0, 100000000);
    s->free_shipping_min = mc_env_int("ORDER_FREE_SHIPPING_MIN", 5000, 0, 10000000000LL);
    s->max_quantity = mc_env_int("ORDER_MAX_QUANTITY", 100, 1, 10000);
    s->max_lines = mc_env_int("ORDER_MAX_LINES", 100, 1, 100);
    s->cart_ttl_s = mc_env_int("CART_TTL_SECONDS", 7 * 24 * 3600, 60, 365LL * 24 * 3600);
    s->lease_ms = mc_env_int("CHECKOUT_LEASE_SECONDS", 60, 5, 3600) * 1000;
    s->reservation_ttl_s = mc_env_int("RESERVATION_TTL_SECONDS", 900, 60, 86400);
    s->idem_ttl_ms = mc_env_int("IDEMPOTENCY_TTL_SECONDS", 86400, 60, 30LL * 86400) * 1000;
    s->sweep_ms = mc_env_int("ORDER_SWEEP_INTERVAL_MS", 500, 50, 60000);
    s->upstream_timeout_ms = mc_env_int("UPSTREAM_TIMEOUT_MS", 10000, 100, 120000);
    s->product_url = mc_env_str("PRODUCT_URL", "http://127.0.0.1:4002");
    s->coupon_url = mc_env_str("COUPON_URL", "http://127.0.0.1:4005");
    /* Before it commits, a checkout makes three calls (prices, stock, coupon) and two
     * database writes (5 s socket timeout each): the lease must outlast them, or the
     * sweeper would undo checkouts that are merely slow (their commit then fails cleanly,
     * but the customer gets a 503 for nothing). */
    if (s->lease_ms < 3 * s->upstream_timeout_ms + 10000)
        mc_config_die("CHECKOUT_LEASE_SECONDS", "must be at least 3 x UPSTREAM_TIMEOUT_MS + 10 s (the longest a checkout takes to commit)");
    if (s->reservation_ttl_s * 1000 <= s->lease_ms)
        mc_config_die("RESERVATION_TTL_SECONDS", "must be longer than CHECKOUT_LEASE_SECONDS (stock must stay held while a checkout runs)");
}
