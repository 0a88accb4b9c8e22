/*
 * The order lifecycle without I/O (unit-tested): who may see an order and in which form,
 * which changes are legal from which status and for whom, what a change does to the
 * order (status, timeline, version), and the event published for it.
 *
 *   pending ─confirm→ confirmed ─process→ processing ─ship→ shipped ─deliver→ delivered
 *      └──────────────┴───────────────────┴── cancel → cancelled
 *   payment: unpaid ─pay→ paid ─refund→ refunded
 *
 * Who: confirm, process, ship and deliver — an admin or a seller of the order; cancel — the
 * customer who placed it, a seller of it or an admin, before it ships; payment changes —
 * admins. The sweeper acts as "system" (it may do what an admin may).
 *
 * Who sees what: the customer who placed an order and admins see all of it; a seller sees
 * an order that contains their products with only their lines and totals of those lines
 * (shipping, tax and the coupon belong to the whole order and are hidden); anyone else
 * does not see it at all (the API answers 404, not 403, so ids leak nothing).
 */
#ifndef ORDER_LIFECYCLE_H
#define ORDER_LIFECYCLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "mc_jwt.h"

typedef enum ord_action {
    ACT_CONFIRM,
    ACT_PROCESS,
    ACT_SHIP,
    ACT_DELIVER,
    ACT_CANCEL,
    ACT_PAY,
    ACT_REFUND,
} ord_action_t;

typedef struct ord_actor {
    char user_id[25]; /* "" for the system */
    mc_role_t role;   /* 0 for the system */
    bool system;
} ord_actor_t;

typedef struct ord_change {
    ord_action_t act;
    const char *note;     /* may be NULL */
    const char *carrier;  /* ship */
    const char *tracking; /* ship */
} ord_change_t;

typedef enum ord_verdict {
    ORD_OK = 0,
    ORD_NOT_VISIBLE, /* 404 */
    ORD_FORBIDDEN,   /* 403: sees the order, may not do this */
    ORD_ILLEGAL,     /* 409: not from the order's current status */
} ord_verdict_t;

/* "confirm", "cancel", … */
const char *ord_action_name(ord_action_t act);
/* The status an action leads to ("confirmed"…; for payment actions the order's status is
 * unchanged and this is the payment status: "paid", "refunded"). */
const char *ord_action_target(ord_action_t act);

bool ord_visible(const json_t *order, const ord_actor_t *a);

/* Whether a may apply c to order now. why receives a sentence for a refusal. */
ord_verdict_t ord_decide(const json_t *order, const ord_actor_t *a, const ord_change_t *c, char *why, size_t whylen);

/* The order after the change (a new object): status or payment status, the timeline
 * entry {status, paymentStatus, at, by:{userId, role}, note}, shipment / deliveredAt /
 * cancellation, version + 1, updatedAt. The caller decided first. */
json_t *ord_apply(const json_t *order, const ord_actor_t *a, const ord_change_t *c, int64_t now_ms);

/* The order as viewer may see it (new object), or NULL when it may not see it
 * (lib/mc_order_view.h holds the rule; the gateway applies it to order events). */
json_t *ord_view(const json_t *order, const ord_actor_t *viewer);

/* The event for the order's latest change: {type, orderId, customerId, sellerIds, status,
 * version, at, order}. type: "order.created" | "order.updated" | "order.cancelled". */
json_t *ord_event(const json_t *order, const char *type, int64_t at_ms);
const char *ord_event_type(ord_action_t act);

/* A timeline entry for order creation by a. */
json_t *ord_timeline_entry(const char *status, const char *payment, const ord_actor_t *a, const char *note, int64_t at_ms);

#endif
