/*
 * Implementation of rules.h.
 */
#include <stdlib.h>
#include <string.h>
#include "rules.h"

static const char *const reason_names[] = {
    [CPN_OK] = "OK",
    [CPN_UNKNOWN] = "UNKNOWN",
    [CPN_INACTIVE] = "INACTIVE",
    [CPN_NOT_STARTED] = "NOT_STARTED",
    [CPN_EXPIRED] = "EXPIRED",
    [CPN_USED_UP] = "USED_UP",
    [CPN_USED_UP_FOR_CUSTOMER] = "USED_UP_FOR_CUSTOMER",
    [CPN_BELOW_MINIMUM] = "BELOW_MINIMUM",
    [CPN_NOT_APPLICABLE] = "NOT_APPLICABLE",
};

static const char *const reason_messages[] = {
    [CPN_OK] = "the coupon applies",
    [CPN_UNKNOWN] = "there is no coupon with this code",
    [CPN_INACTIVE] = "the coupon is not active",
    [CPN_NOT_STARTED] = "the coupon is not valid yet",
    [CPN_EXPIRED] = "the coupon has expired",
    [CPN_USED_UP] = "the coupon has been used as many times as it may be",
    [CPN_USED_UP_FOR_CUSTOMER] = "you have used this coupon as many times as it may be used per customer",
    [CPN_BELOW_MINIMUM] = "the order is below the coupon's minimum amount",
    [CPN_NOT_APPLICABLE] = "the coupon applies to none of these products' categories",
};

const char *cpn_reason_name(cpn_reason_t r)
{
    return (size_t)r < sizeof(reason_names) / sizeof(reason_names[0]) ? reason_names[r] : "UNKNOWN";
}

const char *cpn_reason_message(cpn_reason_t r)
{
    return (size_t)r < sizeof(reason_messages) / sizeof(reason_messages[0]) ? reason_messages[r] : "";
}

/* Whether a line's category is one the coupon discounts (none listed: every one). */
static bool in_categories(const cpn_rule_t *rule, const char *category)
{
    if (rule->ncategories == 0)
        return true;
    if (category == NULL)
        return false;
    for (size_t i = 0; i < rule->ncategories; ++i)
        if (strcmp(rule->categories[i], category) == 0)
            return true;
    return false;
}

void cpn_split(int64_t amount, const int64_t *weights, int64_t *out, size_t n)
{
    __int128 sum = 0;
    for (size_t i = 0; i < n; ++i) {
        out[i] = 0;
        if (weights[i] > 0)
            sum += weights[i];
    }
    if (sum == 0 || amount <= 0)
        return;
    /* floor shares, then one unit each to the largest remainders */
    __int128 *rem = calloc(n, sizeof(*rem));
    int64_t given = 0;
    for (size_t i = 0; i < n; ++i) {
        if (weights[i] <= 0)
            continue;
        __int128 p = (__int128)amount * weights[i];
        out[i] = (int64_t)(p / sum);
        rem[i] = p % sum;
        given += out[i];
    }
    int64_t left = amount - given; /* < number of positive weights */
    while (left > 0) {
        size_t best = n;
        for (size_t i = 0; i < n; ++i)
            if (weights[i] > 0 && rem[i] > 0 && (best == n || rem[i] > rem[best]))
                best = i;
        if (best == n)
            break; /* cannot happen: the remainders account for `left` */
        out[best] += 1;
        rem[best] = 0;
        --left;
    }
    free(rem);
}

cpn_reason_t cpn_evaluate(const cpn_rule_t *rule, cpn_line_t *lines, size_t n, int64_t now_ms, int64_t uses,
                          int64_t customer_uses, int64_t *total, int64_t *subtotal)
{
    int64_t sub = 0, eligible = 0;
    for (size_t i = 0; i < n; ++i) {
        lines[i].discount = 0;
        int64_t amount = lines[i].unit_price * lines[i].quantity;
        sub += amount;
        if (in_categories(rule, lines[i].category_id))
            eligible += amount;
    }
    *total = 0;
    if (subtotal != NULL)
        *subtotal = sub;
    if (!rule->active)
        return CPN_INACTIVE;
    if (rule->has_start && now_ms < rule->starts_at_ms)
        return CPN_NOT_STARTED;
    if (rule->has_expiry && now_ms >= rule->expires_at_ms)
        return CPN_EXPIRED;
    if (rule->max_uses > 0 && uses >= rule->max_uses)
        return CPN_USED_UP;
    if (rule->max_uses_per_customer > 0 && customer_uses >= rule->max_uses_per_customer)
        return CPN_USED_UP_FOR_CUSTOMER;
    if (sub < rule->min_order)
        return CPN_BELOW_MINIMUM;
    if (eligible == 0)
        return CPN_NOT_APPLICABLE;

    int64_t d = rule->type == CPN_PERCENTAGE ? (int64_t)((__int128)eligible * rule->value / 100) : rule->value;
    if (rule->max_discount > 0 && d > rule->max_discount)
        d = rule->max_discount;
    if (d > eligible)
        d = eligible;
    if (d < 0)
        d = 0;

    int64_t *weights = calloc(n ? n : 1, sizeof(*weights));
    int64_t *shares = calloc(n ? n : 1, sizeof(*shares));
    for (size_t i = 0; i < n; ++i)
        weights[i] = in_categories(rule, lines[i].category_id) ? lines[i].unit_price * lines[i].quantity : 0;
    cpn_split(d, weights, shares, n);
    for (size_t i = 0; i < n; ++i)
        lines[i].discount = shares[i];
    free(weights);
    free(shares);
    *total = d;
    return CPN_OK;
}
