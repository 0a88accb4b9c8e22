/*
 * Implementation of money.h.
 */
#include "money.h"

int64_t ord_tax(int64_t amount, int64_t bps)
{
    if (amount <= 0 || bps <= 0)
        return 0;
    return (int64_t)(((__int128)amount * bps + 5000) / 10000);
}

void ord_totals(const ord_rules_t *r, int64_t subtotal, int64_t discount, ord_totals_t *out)
{
    if (discount < 0)
        discount = 0;
    if (discount > subtotal)
        discount = subtotal;
    int64_t net = subtotal - discount;
    out->subtotal = subtotal;
    out->discount = discount;
    out->shipping = net >= r->free_shipping_min ? 0 : r->shipping_fee;
    out->tax = ord_tax(net, r->tax_rate_bps);
    out->total = net + out->shipping + out->tax;
}
