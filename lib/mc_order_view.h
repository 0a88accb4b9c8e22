/*
 * mc_order_view: who may see an order and how much of it — one rule for the order
 * service's API and for the gateway's order events, which carry the whole order.
 *
 * The customer who placed an order and admins see all of it; a seller of one of its
 * lines sees only their lines and the totals of those lines (shipping, tax and the
 * coupon belong to the whole order and are hidden); anyone else sees nothing.
 *
 * Pure; unit-tested.
 */
#ifndef MC_ORDER_VIEW_H
#define MC_ORDER_VIEW_H

#include <stdbool.h>
#include <jansson.h>
#include "mc_jwt.h"

typedef enum mc_order_view {
    MC_ORDER_HIDDEN, /* may not see the order */
    MC_ORDER_FULL,   /* its customer, admins */
    MC_ORDER_SELLER, /* a seller of some of its lines */
} mc_order_view_t;

/* Whether user_id is among the order's "sellerIds". */
bool mc_order_has_seller(const json_t *order, const char *user_id);

/* How a viewer sees the order: admin (or the system) → full; the order's customer →
 * full; a seller among its sellers → seller; else hidden. user_id may be "" (nobody). */
mc_order_view_t mc_order_visibility(const json_t *order, bool admin, mc_role_t role, const char *user_id);

/* The order as `view` shows it, with "view": "full" or "seller" and without internal
 * fields (a new object); user_id names the seller for MC_ORDER_SELLER. NULL for
 * MC_ORDER_HIDDEN. */
json_t *mc_order_view(const json_t *order, mc_order_view_t view, const char *user_id);

#endif
