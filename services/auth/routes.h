/*
 * The auth service's HTTP handlers, one file per resource, and the route table
 * (routes.c):
 *   sessions.c   register, login, refresh, logout, logout everywhere, Google sign-in
 *   account.c    own profile, password change, email verification, password reset
 *   users.c      administration of users, public profiles for other services
 *   addresses.c  the user's addresses
 */
#ifndef AUTH_ROUTES_H
#define AUTH_ROUTES_H

#include <stddef.h>
#include "mc_server.h"

extern const mc_route_t auth_routes[];
extern const size_t auth_nroutes;

/* sessions.c */
void auth_h_register(mc_req_t *req);
void auth_h_login(mc_req_t *req);
void auth_h_refresh(mc_req_t *req);
void auth_h_logout(mc_req_t *req);
void auth_h_logout_all(mc_req_t *req);
void auth_h_google(mc_req_t *req);

/* account.c */
void auth_h_me(mc_req_t *req);
void auth_h_me_update(mc_req_t *req);
void auth_h_change_password(mc_req_t *req);
void auth_h_verify_send(mc_req_t *req);
void auth_h_verify(mc_req_t *req);
void auth_h_forgot(mc_req_t *req);
void auth_h_reset(mc_req_t *req);
void auth_h_validate_token(mc_req_t *req);

/* users.c */
void auth_h_users_list(mc_req_t *req);
void auth_h_users_batch(mc_req_t *req);
void auth_h_user_get(mc_req_t *req);
void auth_h_user_role(mc_req_t *req);
void auth_h_user_disable(mc_req_t *req);
void auth_h_user_enable(mc_req_t *req);
void auth_h_user_delete(mc_req_t *req);

/* addresses.c */
void auth_h_addresses_list(mc_req_t *req);
void auth_h_address_create(mc_req_t *req);
void auth_h_address_get(mc_req_t *req);
void auth_h_address_update(mc_req_t *req);
void auth_h_address_delete(mc_req_t *req);
void auth_h_address_default(mc_req_t *req);

#endif
