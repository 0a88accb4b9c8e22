/*
 * Implementation of lifecycle.h.
 */
#include <stdio.h>
#include <string.h>
#include "lifecycle.h"
#include "mc_order_view.h"
#include "mc_util.h"

static const char *const action_names[] = {"confirm", "process", "ship", "deliver", "cancel", "pay", "refund"};
static const char *const action_targets[] = {"confirmed", "processing", "shipped", "delivered", "cancelled", "paid", "refunded"};

const char *ord_action_name(ord_action_t act)
{
    return action_names[act];
}

const char *ord_action_target(ord_action_t act)
{
    return action_targets[act];
}

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static bool is_owner(const json_t *order, const ord_actor_t *a)
{
    return !a->system && a->user_id[0] != '\0' && strcmp(sget(order, "customerId"), a->user_id) == 0;
}

static bool is_admin(const ord_actor_t *a)
{
    return a->system || a->role == MC_ROLE_ADMIN;
}

static mc_order_view_t visibility(const json_t *order, const ord_actor_t *a)
{
    return mc_order_visibility(order, is_admin(a), a->role, a->system ? "" : a->user_id);
}

bool ord_visible(const json_t *order, const ord_actor_t *a)
{
    return visibility(order, a) != MC_ORDER_HIDDEN;
}

ord_verdict_t ord_decide(const json_t *order, const ord_actor_t *a, const ord_change_t *c, char *why, size_t whylen)
{
    if (!ord_visible(order, a)) {
        snprintf(why, whylen, "order not found");
        return ORD_NOT_VISIBLE;
    }
    bool admin = is_admin(a);
    bool seller = a->role == MC_ROLE_SELLER && mc_order_has_seller(order, a->user_id);
    const char *status = sget(order, "status"), *pay = sget(order, "paymentStatus");
    const char *need = NULL; /* the status the action starts from */
    switch (c->act) {
    case ACT_CONFIRM:
        need = "pending";
        break;
    case ACT_PROCESS:
        need = "confirmed";
        break;
    case ACT_SHIP:
        need = "processing";
        break;
    case ACT_DELIVER:
        need = "shipped";
        break;
    case ACT_CANCEL:
    case ACT_PAY:
    case ACT_REFUND:
        break;
    }
    if (c->act == ACT_PAY || c->act == ACT_REFUND) {
        if (!admin) {
            snprintf(why, whylen, "only administrators change the payment status");
            return ORD_FORBIDDEN;
        }
        const char *from = c->act == ACT_PAY ? "unpaid" : "paid";
        if (strcmp(pay, from) != 0) {
            snprintf(why, whylen, "the payment status is %s; it becomes %s only from %s", pay, ord_action_target(c->act), from);
            return ORD_ILLEGAL;
        }
        return ORD_OK;
    }
    if (c->act == ACT_CANCEL) {
        if (!admin && !seller && !is_owner(order, a)) {
            snprintf(why, whylen, "you may not cancel this order");
            return ORD_FORBIDDEN;
        }
        if (strcmp(status, "pending") != 0 && strcmp(status, "confirmed") != 0 && strcmp(status, "processing") != 0) {
            snprintf(why, whylen, "a %s order cannot be cancelled (only before it ships)", status);
            return ORD_ILLEGAL;
        }
        return ORD_OK;
    }
    if (!admin && !seller) {
        snprintf(why, whylen, "only a seller of the order or an administrator may %s it", ord_action_name(c->act));
        return ORD_FORBIDDEN;
    }
    if (strcmp(status, need) != 0) {
        snprintf(why, whylen, "a %s order cannot become %s (only a %s one)", status, ord_action_target(c->act), need);
        return ORD_ILLEGAL;
    }
    return ORD_OK;
}

json_t *ord_timeline_entry(const char *status, const char *payment, const ord_actor_t *a, const char *note, int64_t at_ms)
{
    char ts[MC_TIME_BUFSZ];
    return json_pack("{s:s,s:s,s:s,s:{s:s?,s:s},s:s?}", "status", status, "paymentStatus", payment, "at",
                     mc_time_format(at_ms, ts), "by", "userId", a->system ? NULL : a->user_id, "role",
                     a->system ? "system" : mc_role_name(a->role), "note", note);
}

json_t *ord_apply(const json_t *order, const ord_actor_t *a, const ord_change_t *c, int64_t now_ms)
{
    json_t *o = json_deep_copy(order);
    char ts[MC_TIME_BUFSZ];
    mc_time_format(now_ms, ts);
    if (c->act == ACT_PAY || c->act == ACT_REFUND) {
        json_object_set_new(o, "paymentStatus", json_string(ord_action_target(c->act)));
    } else {
        json_object_set_new(o, "status", json_string(ord_action_target(c->act)));
        if (c->act == ACT_SHIP)
            json_object_set_new(o, "shipment", json_pack("{s:s,s:s,s:s}", "carrier", c->carrier, "trackingNumber", c->tracking,
                                                        "shippedAt", ts));
        else if (c->act == ACT_DELIVER)
            json_object_set_new(o, "deliveredAt", json_string(ts));
        else if (c->act == ACT_CANCEL)
            json_object_set_new(o, "cancellation",
                                json_pack("{s:s?,s:s,s:{s:s?,s:s}}", "reason", c->note, "at", ts, "by", "userId",
                                          a->system ? NULL : a->user_id, "role", a->system ? "system" : mc_role_name(a->role)));
    }
    json_t *tl = json_object_get(o, "timeline");
    if (!json_is_array(tl)) {
        tl = json_array();
        json_object_set_new(o, "timeline", tl);
    }
    json_array_append_new(tl, ord_timeline_entry(sget(o, "status"), sget(o, "paymentStatus"), a, c->note, now_ms));
    json_object_set_new(o, "version", json_integer(json_integer_value(json_object_get(o, "version")) + 1));
    json_object_set_new(o, "updatedAt", json_string(ts));
    return o;
}

json_t *ord_view(const json_t *order, const ord_actor_t *v)
{
    return mc_order_view(order, visibility(order, v), v->user_id);
}

const char *ord_event_type(ord_action_t act)
{
    return act == ACT_CANCEL ? "order.cancelled" : "order.updated";
}

json_t *ord_event(const json_t *order, const char *type, int64_t at_ms)
{
    char ts[MC_TIME_BUFSZ];
    json_t *full = json_deep_copy(order);
    json_object_del(full, "day");
    return json_pack("{s:s,s:O,s:O,s:O,s:O,s:O,s:s,s:o}", "type", type, "orderId", json_object_get(order, "id"), "customerId",
                     json_object_get(order, "customerId"), "sellerIds", json_object_get(order, "sellerIds"), "status",
                     json_object_get(order, "status"), "version", json_object_get(order, "version"), "at",
                     mc_time_format(at_ms, ts), "order", full);
}
