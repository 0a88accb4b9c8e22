/*
 * The order service's own settings (environment, read once at start; see
 * docs/configuration.md). Everything else comes from mc_config_t.
 */
#ifndef ORDER_SETTINGS_H
#define ORDER_SETTINGS_H

#include <stdint.h>

typedef struct ord_settings {
    char currency[4];          /* ORDER_CURRENCY: the one currency orders are in */
    int64_t tax_rate_bps;      /* ORDER_TAX_RATE_BPS: tax on (subtotal - discount), in 1/100 % */
    int64_t shipping_fee;      /* ORDER_SHIPPING_FEE: minor units */
    int64_t free_shipping_min; /* ORDER_FREE_SHIPPING_MIN: no fee from this (net) amount; 0 = always free */
    int64_t max_quantity;      /* ORDER_MAX_QUANTITY: per line, in a cart or an order */
    int64_t max_lines;         /* ORDER_MAX_LINES: lines in a cart or an order (product batch limit) */
    int64_t cart_ttl_s;        /* CART_TTL_SECONDS: a cart expires after this long idle */
    int64_t lease_ms;          /* CHECKOUT_LEASE_SECONDS: a checkout not finished by then is settled by the sweeper */
    int64_t reservation_ttl_s; /* RESERVATION_TTL_SECONDS: what the product service is asked to hold stock for */
    int64_t idem_ttl_ms;       /* IDEMPOTENCY_TTL_SECONDS: how long an Idempotency-Key is remembered */
    int64_t sweep_ms;          /* ORDER_SWEEP_INTERVAL_MS: outbox drain and checkout sweep period */
    int64_t upstream_timeout_ms; /* UPSTREAM_TIMEOUT_MS: each call to the product or coupon service */
    const char *product_url;   /* PRODUCT_URL */
    const char *coupon_url;    /* COUPON_URL */
} ord_settings_t;

extern ord_settings_t ord_settings;

/* Reads the settings; exits(2) on a malformed value (like mc_config_load). */
void ord_settings_load(void);

#endif
