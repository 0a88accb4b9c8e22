/*
 * The coupon rules, without I/O: whether a coupon applies to a cart, and how much it takes
 * off each line. Pure and unit-tested (tests/unit/services/coupon/test_rules.c).
 *
 * Money is integer minor units. The discount of a coupon is computed on the *eligible
 * amount* — the lines in the coupon's categories (every line when it names none):
 *   percentage  floor(eligible × value / 100), then capped by maxDiscount;
 *   fixed       value, capped by maxDiscount.
 * and it never exceeds the eligible amount, so no line and no total goes negative. The
 * minimum order amount is compared with the whole cart's subtotal. The discount is split
 * over the eligible lines in proportion to their amounts (largest remainder, so the line
 * discounts add up exactly to the total and none exceeds its line).
 *
 * Usage limits are not decided here: they need the redemption store (store.h). A caller
 * passes what it counted, and the reasons keep the order in which a customer would want
 * to hear them: unknown, inactive, not started, expired, used up, used up for this
 * customer, below the minimum, not for these categories.
 */
#ifndef COUPON_RULES_H
#define COUPON_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds of the values the API accepts, chosen so that no sum or product below can
 * overflow an int64: at most 100 lines of at most 10^6 units at most 10^10 each. */
#define COUPON_MAX_AMOUNT 10000000000LL /* 100 million in major units */
#define COUPON_MAX_LINES 100
#define COUPON_MAX_QUANTITY 1000000
#define COUPON_MAX_CATEGORIES 100

typedef enum cpn_type { CPN_PERCENTAGE, CPN_FIXED } cpn_type_t;

typedef enum cpn_reason {
    CPN_OK = 0,
    CPN_UNKNOWN,
    CPN_INACTIVE,
    CPN_NOT_STARTED,
    CPN_EXPIRED,
    CPN_USED_UP,
    CPN_USED_UP_FOR_CUSTOMER,
    CPN_BELOW_MINIMUM,
    CPN_NOT_APPLICABLE,
} cpn_reason_t;

/* What a coupon says, as the rules need it. */
typedef struct cpn_rule {
    cpn_type_t type;
    int64_t value;         /* percent 1..100, or an amount */
    int64_t min_order;     /* 0 = none */
    int64_t max_discount;  /* 0 = no cap */
    bool has_start, has_expiry;
    int64_t starts_at_ms, expires_at_ms; /* valid when starts ≤ now < expires */
    int64_t max_uses, max_uses_per_customer; /* 0 = unlimited */
    const char *const *categories; /* NULL-free array of category ids; none = every category */
    size_t ncategories;
    bool active;
} cpn_rule_t;

/* One cart line. discount is the output. */
typedef struct cpn_line {
    const char *product_id;
    const char *category_id; /* may be NULL (a product without a category) */
    int64_t unit_price;
    int64_t quantity;
    int64_t discount;
} cpn_line_t;

/* The reason as the API spells it ("USED_UP"…); "OK" for CPN_OK. */
const char *cpn_reason_name(cpn_reason_t r);
/* A sentence for people. */
const char *cpn_reason_message(cpn_reason_t r);

/* Decides whether the coupon applies at now_ms to the lines, given how many times it
 * has been used (`uses`) and by this customer (`customer_uses`). On CPN_OK fills every
 * line's discount and *total; otherwise the lines' discounts are 0 and *total is 0.
 * *subtotal (may be NULL) receives the cart's subtotal. */
cpn_reason_t cpn_evaluate(const cpn_rule_t *rule, cpn_line_t *lines, size_t n, int64_t now_ms, int64_t uses,
                          int64_t customer_uses, int64_t *total, int64_t *subtotal);

/* Splits `amount` (0 ≤ amount ≤ Σ weights) over the entries with weights[i] > 0 in
 * proportion to the weights, by largest remainder (ties go to the earlier entry). out[i]
 * never exceeds weights[i]; the outputs add up to amount. Exposed for the tests. */
void cpn_split(int64_t amount, const int64_t *weights, int64_t *out, size_t n);

#endif
