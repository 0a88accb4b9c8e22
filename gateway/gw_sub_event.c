/*
 * Implementation of gw_sub_event.h.
 */
#include <stdio.h>
#include <string.h>
#include "gw_sub_event.h"
#include "mc_util.h"

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

int gw_order_event_parse(const char *text, size_t len, gw_order_event_t *ev, char *why, size_t whylen)
{
    memset(ev, 0, sizeof(*ev));
    json_error_t jerr;
    ev->msg = json_loadb(text, len, 0, &jerr);
    if (ev->msg == NULL) {
        snprintf(why, whylen, "not a JSON object (%s)", jerr.text);
        return -1;
    }
    json_t *m = ev->msg;
    ev->type = json_string_value(json_object_get(m, "type"));
    if (ev->type == NULL ||
        (strcmp(ev->type, "order.created") != 0 && strcmp(ev->type, "order.updated") != 0 &&
         strcmp(ev->type, "order.cancelled") != 0)) {
        snprintf(why, whylen, "unknown event type");
        return -1;
    }
    ev->order_id = json_string_value(json_object_get(m, "orderId"));
    if (ev->order_id == NULL || !mc_is_object_id(ev->order_id, strlen(ev->order_id))) {
        snprintf(why, whylen, "orderId is not an ObjectId");
        return -1;
    }
    ev->customer_id = json_string_value(json_object_get(m, "customerId"));
    if (ev->customer_id == NULL || ev->customer_id[0] == '\0') {
        snprintf(why, whylen, "customerId is missing");
        return -1;
    }
    ev->seller_ids = json_object_get(m, "sellerIds");
    if (!json_is_array(ev->seller_ids)) {
        snprintf(why, whylen, "sellerIds is not a list");
        return -1;
    }
    size_t i;
    json_t *s;
    json_array_foreach(ev->seller_ids, i, s)
    {
        if (!json_is_string(s)) {
            snprintf(why, whylen, "sellerIds holds something else than ids");
            return -1;
        }
    }
    json_t *v = json_object_get(m, "version");
    if (!json_is_integer(v) || json_integer_value(v) < 1) {
        snprintf(why, whylen, "version is not a positive integer");
        return -1;
    }
    ev->version = json_integer_value(v);
    if (!json_is_string(json_object_get(m, "at"))) {
        snprintf(why, whylen, "at is missing");
        return -1;
    }
    ev->order = json_object_get(m, "order");
    if (!json_is_object(ev->order)) {
        snprintf(why, whylen, "order is not an object");
        return -1;
    }
    /* The event's routing fields must describe the order it carries: visibility is
     * decided on the order, subscriptions are found by the routing fields. */
    if (strcmp(sget(ev->order, "id"), ev->order_id) != 0 || strcmp(sget(ev->order, "customerId"), ev->customer_id) != 0 ||
        !json_equal(json_object_get(ev->order, "sellerIds"), ev->seller_ids) ||
        json_integer_value(json_object_get(ev->order, "version")) != ev->version) {
        snprintf(why, whylen, "the event's orderId, customerId, sellerIds or version differ from its order's");
        return -1;
    }
    return 0;
}

void gw_order_event_free(gw_order_event_t *ev)
{
    json_decref(ev->msg);
    memset(ev, 0, sizeof(*ev));
}

json_t *gw_order_event_payload(const gw_order_event_t *ev, json_t *order_view)
{
    return json_pack("{s:s,s:I,s:O,s:o}", "type", ev->type, "version", ev->version, "at",
                     json_object_get(ev->msg, "at"), "order", order_view);
}
