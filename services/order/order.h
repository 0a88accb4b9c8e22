/*
 * What the order service's files share: the handlers that live outside routes.c, the
 * event publisher and the background sweeper (events.c), and request helpers.
 */
#ifndef ORDER_ORDER_H
#define ORDER_ORDER_H

#include <stdbool.h>
#include <jansson.h>
#include "lifecycle.h"
#include "mc_mongo.h"
#include "mc_req.h"

#define ORDER_EVENTS_CHANNEL "orders:events"

/* The caller as an actor (the request's verified claims; call after mc_req_require). */
void ord_actor_of(mc_req_t *req, ord_actor_t *a);
/* Answers a database failure (503 when unavailable). */
void ord_answer_db(mc_req_t *req, const mc_mongo_result_t *res);
/* The :id path parameter as a lower-case ObjectId; answers 400 and returns NULL otherwise. */
const char *ord_path_id(mc_req_t *req);

/* checkout.c: POST /api/orders */
void ord_h_checkout(mc_req_t *req);

/* events.c */
/* Publishes one event message on ORDER_EVENTS_CHANNEL; cb(data, ok) runs exactly once
 * (possibly before this returns, with ok false, when Redis is down). */
void ord_publish(mc_worker_t *w, const char *message, void (*cb)(void *data, bool ok), void *data);
/* The background sweeper (worker 0): drains the outbox, settles expired checkouts,
 * retries release tasks. */
int ord_events_worker_init(mc_worker_t *w);
void ord_events_worker_dispose(mc_worker_t *w);

#endif
