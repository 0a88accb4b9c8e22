/*
 * gw_scalars: the gateway's custom scalars and the Money helper.
 *
 *   DateTime  an RFC 3339 date-time string ("2026-11-21T19:40:00.123Z"): services send
 *             UTC strings, clients may send any offset; both are checked, never
 *             rewritten.
 *   Long      a whole number within ±(2^53 − 1), written as a JSON number: amounts of
 *             money in minor units can exceed GraphQL's 32-bit Int (a price may be
 *             up to 100,000,000,000 cents) and every JavaScript client reads 53 bits
 *             exactly.
 *
 * Any other custom scalar passes JSON through unchanged.
 */
#ifndef GW_SCALARS_H
#define GW_SCALARS_H

#include <stdint.h>
#include "gql.h"

#define GW_LONG_MAX 9007199254740991LL

/* The engine hooks that implement the scalars above. */
gql_scalar_hooks gw_scalar_hooks(void);

/* Money.formatted: the amount in minor units as people read it, with the currency's
 * decimals and symbol ("$1,234.56", "€0.99", "¥1,500", "1,234.56 CHF"). Appends to
 * out. */
void gw_money_format(int64_t amount, const char *currency, gql_buf *out);
/* The same into out (cap bytes, NUL-terminated, truncated if too small: 64 bytes always
 * suffice for a currency code up to 8 characters). Returns the length written. */
size_t gw_money_format_to(int64_t amount, const char *currency, char *out, size_t cap);
/* Decimal places of a currency (ISO 4217 minor units; 2 when unknown). */
int gw_currency_decimals(const char *currency);

#endif
