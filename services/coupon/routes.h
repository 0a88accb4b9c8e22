/*
 * The coupon service's route table (routes.c).
 */
#ifndef COUPON_ROUTES_H
#define COUPON_ROUTES_H

#include <stddef.h>
#include "mc_server.h"

extern const mc_route_t coupon_routes[];
extern const size_t coupon_nroutes;

#endif
