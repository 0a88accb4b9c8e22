/*
 * The route table of the auth service. Literal segments win over parameters, so
 * /api/users/me and /api/users/batch are never taken for an id.
 */
#include "routes.h"

const mc_route_t auth_routes[] = {
    {"POST", "/api/auth/register", auth_h_register},
    {"POST", "/api/auth/login", auth_h_login},
    {"POST", "/api/auth/refresh", auth_h_refresh},
    {"POST", "/api/auth/logout", auth_h_logout},
    {"POST", "/api/auth/logout-all", auth_h_logout_all},
    {"POST", "/api/auth/google", auth_h_google},
    {"POST", "/api/auth/change-password", auth_h_change_password},
    {"POST", "/api/auth/verify-email/send", auth_h_verify_send},
    {"POST", "/api/auth/verify-email", auth_h_verify},
    {"POST", "/api/auth/forgot-password", auth_h_forgot},
    {"POST", "/api/auth/reset-password", auth_h_reset},
    {"POST", "/api/auth/validate-token", auth_h_validate_token},

    {"GET", "/api/users/me", auth_h_me},
    {"PATCH", "/api/users/me", auth_h_me_update},
    {"GET", "/api/users/batch", auth_h_users_batch},
    {"GET", "/api/users", auth_h_users_list},
    {"GET", "/api/users/:id", auth_h_user_get},
    {"PUT", "/api/users/:id/role", auth_h_user_role},
    {"POST", "/api/users/:id/disable", auth_h_user_disable},
    {"POST", "/api/users/:id/enable", auth_h_user_enable},
    {"DELETE", "/api/users/:id", auth_h_user_delete},

    {"GET", "/api/addresses", auth_h_addresses_list},
    {"POST", "/api/addresses", auth_h_address_create},
    {"GET", "/api/addresses/:id", auth_h_address_get},
    {"PATCH", "/api/addresses/:id", auth_h_address_update},
    {"DELETE", "/api/addresses/:id", auth_h_address_delete},
    {"POST", "/api/addresses/:id/default", auth_h_address_default},
};
const size_t auth_nroutes = sizeof(auth_routes) / sizeof(auth_routes[0]);
