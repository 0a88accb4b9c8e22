/*
 * Implementation of mc_order_view.h.
 */
#include "mc_order_view.h"

#include <string.h>

static const char *sget(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

bool mc_order_has_seller(const json_t *order, const char *user_id)
{
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(order, "sellerIds"), i, s)
    {
        if (json_is_string(s) && strcmp(json_string_value(s), user_id) == 0)
            return true;
    }
    return false;
}

mc_order_view_t mc_order_visibility(const json_t *order, bool admin, mc_role_t role, const char *user_id)
{
    if (order == NULL)
        return MC_ORDER_HIDDEN;
    if (admin || role == MC_ROLE_ADMIN)
        return MC_ORDER_FULL;
    if (user_id == NULL || user_id[0] == '\0')
        return MC_ORDER_HIDDEN;
    if (strcmp(sget(order, "customerId"), user_id) == 0)
        return MC_ORDER_FULL;
    if (role == MC_ROLE_SELLER && mc_order_has_seller(order, user_id))
        return MC_ORDER_SELLER;
    return MC_ORDER_HIDDEN;
}

json_t *mc_order_view(const json_t *order, mc_order_view_t view, const char *user_id)
{
    if (view == MC_ORDER_HIDDEN || order == NULL)
        return NULL;
    json_t *o = json_deep_copy(order);
    if (o == NULL)
        return NULL;
    json_object_del(o, "day"); /* the store's index key, not part of the order */
    if (view == MC_ORDER_FULL) {
        json_object_set_new(o, "view", json_string("full"));
        return o;
    }
    /* a seller: their lines and what those lines add up to */
    json_t *mine = json_array();
    json_int_t sub = 0, disc = 0, total = 0;
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(order, "items"), i, it)
    {
        if (strcmp(sget(it, "sellerId"), user_id) != 0)
            continue;
        json_array_append_new(mine, json_deep_copy(it));
        sub += json_integer_value(json_object_get(it, "subtotal"));
        disc += json_integer_value(json_object_get(it, "discount"));
        total += json_integer_value(json_object_get(it, "total"));
    }
    json_object_set_new(o, "items", mine);
    json_object_set_new(o, "sellerIds", json_pack("[s]", user_id));
    json_object_set_new(o, "subtotal", json_integer(sub));
    json_object_set_new(o, "discount", json_integer(disc));
    json_object_set_new(o, "total", json_integer(total));
    json_object_set_new(o, "shipping", json_null());
    json_object_set_new(o, "tax", json_null());
    json_object_set_new(o, "coupon", json_null());
    json_object_set_new(o, "view", json_string("seller"));
    return o;
}
