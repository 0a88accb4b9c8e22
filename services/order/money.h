/*
 * Order totals in integer minor units, without I/O (unit-tested):
 *   subtotal  Σ unit price × quantity (prices from the product service, never the client)
 *   discount  the coupon's, as the coupon service computed it per line (≤ subtotal)
 *   shipping  ORDER_SHIPPING_FEE, waived when subtotal − discount ≥ ORDER_FREE_SHIPPING_MIN
 *             (a minimum of 0 waives it always)
 *   tax       (subtotal − discount) × ORDER_TAX_RATE_BPS / 10000, rounded half up
 *   total     subtotal − discount + shipping + tax
 * With the bounds the API enforces (≤ 100 lines, ≤ 10,000 per line, prices ≤ 10^12) no
 * sum can overflow.
 */
#ifndef ORDER_MONEY_H
#define ORDER_MONEY_H

#include <stdint.h>

#define ORDER_MAX_PRICE 1000000000000LL

typedef struct ord_rules {
    int64_t tax_rate_bps, shipping_fee, free_shipping_min;
} ord_rules_t;

typedef struct ord_totals {
    int64_t subtotal, discount, shipping, tax, total;
} ord_totals_t;

/* Computes the totals; discount is clamped to [0, subtotal]. */
void ord_totals(const ord_rules_t *rules, int64_t subtotal, int64_t discount, ord_totals_t *out);

/* Tax of an amount at bps (1/100 %), rounded half up. */
int64_t ord_tax(int64_t amount, int64_t bps);

#endif
