/*
 * The janitor: every JANITOR_INTERVAL_SECONDS (default 600) worker 0 deletes what has
 * expired (refresh tokens and their spent markers, sessions and their revocations,
 * verification and reset tokens, stale locks, old delivery claims). Nothing depends on it
 * for correctness — every read checks expiry itself — it only keeps the collections small.
 * Several processes doing it at once is harmless: deleting is idempotent.
 */
#ifndef AUTH_JANITOR_H
#define AUTH_JANITOR_H

#include "service.h"

int auth_janitor_start(auth_worker_t *aw);
void auth_janitor_stop(auth_worker_t *aw);

#endif
