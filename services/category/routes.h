/*
 * The category service's route table (routes.c).
 */
#ifndef CATEGORY_ROUTES_H
#define CATEGORY_ROUTES_H

#include <stddef.h>
#include "mc_server.h"

extern const mc_route_t category_routes[];
extern const size_t category_nroutes;

#endif
