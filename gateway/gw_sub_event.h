/*
 * gw_sub_event: an order event as the order service publishes it on Redis
 * (docs/services.md, "Order (4003) events"), checked, and shown to each subscriber as
 * that subscriber may see the order.
 *
 *   {type: "order.created"|"order.updated"|"order.cancelled", orderId, customerId,
 *    sellerIds: [...], status, version, at, order: {the whole order}}
 *
 * Events carry the whole order, so each subscriber gets the order as the order
 * service's API would show it to them (lib/mc_order_view.h, the rule both apply): the
 * customer who placed it and admins see all of it; a seller of one of its lines sees
 * only their lines, the totals of those lines, and not the shipping, tax and coupon of
 * the whole order; anyone else sees nothing — not even that the event happened.
 *
 * Pure; unit-tested.
 */
#ifndef GW_SUB_EVENT_H
#define GW_SUB_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>
#include "mc_jwt.h"
#include "mc_order_view.h"

typedef struct gw_order_event {
    json_t *msg;             /* the parsed message (owned) */
    const char *type;        /* "order.created", "order.updated", "order.cancelled" */
    const char *order_id;    /* 24 hex characters */
    const char *customer_id;
    json_t *seller_ids;      /* array of strings (borrowed) */
    json_int_t version;      /* >= 1 */
    json_t *order;           /* object (borrowed) */
} gw_order_event_t;

/* Parses and checks a message. Returns 0, or -1 with why (whylen >= 128) for a message
 * that is not an order event (it is then dropped and logged). ev needs
 * gw_order_event_free either way. */
int gw_order_event_parse(const char *text, size_t len, gw_order_event_t *ev, char *why, size_t whylen);
void gw_order_event_free(gw_order_event_t *ev);

/* What a subscription field resolves from: {type, version, at, order: the view} (new
 * object; the order's view is built by mc_order_view). */
json_t *gw_order_event_payload(const gw_order_event_t *ev, json_t *order_view);

#endif
