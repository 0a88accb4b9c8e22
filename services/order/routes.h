/*
 * The order service's route table (routes.c).
 */
#ifndef ORDER_ROUTES_H
#define ORDER_ROUTES_H

#include <stddef.h>
#include "mc_server.h"

extern const mc_route_t order_routes[];
extern const size_t order_nroutes;

#endif
