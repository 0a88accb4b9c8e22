/*
 * The rate-limit arithmetic, shared by the Redis script (ratelimit.c, for every process
 * at once) and the in-process fallback used while Redis is unreachable.
 *
 * Rates use GCRA (the generic cell rate algorithm): a key holds a "theoretical arrival
 * time"; each event pushes it window/count further; an event is refused while the pushed
 * time would lie more than one window ahead of now. This allows bursts of `count` and then
 * exactly count per window, with one integer per key and an exact Retry-After.
 *
 * The login backoff counts attempts on one account since its last successful login: the
 * first free-1 attempts pass at once; from the free-th on, each attempt makes the next
 * one wait base·2^(attempts-free) milliseconds, up to max. Counting the attempt before the
 * password is checked means parallel guesses cannot slip through together.
 *
 * Several keys are checked all-or-nothing: when any refuses, none is charged.
 */
#ifndef AUTH_LIMITER_H
#define AUTH_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "config.h"

typedef struct auth_backoff {
    unsigned free_attempts;
    unsigned base_ms, max_ms;
} auth_backoff_t;

/* How long the backoff remembers attempts after the last one. */
#define AUTH_BACKOFF_MEMORY_MS (24LL * 3600 * 1000)

/* A fixed-size table of limiter states in memory (one per worker). Entries expire; when
 * the table is full the entry closest to expiry is reused, so memory stays bounded
 * whatever the number of keys. */
typedef struct auth_limiter auth_limiter_t;
auth_limiter_t *auth_limiter_create(size_t slots);
void auth_limiter_free(auth_limiter_t *l);

/* Checks and charges keys[0..n) at rates[i] (count 0 = no limit) and, when backoff_key is
 * not NULL, one login attempt on backoff_key. Returns true when allowed; otherwise
 * *retry_ms says how long to wait. */
bool auth_limiter_take(auth_limiter_t *l, int64_t now_ms, const char *const *keys, const auth_rate_t *rates, size_t n,
                       const char *backoff_key, const auth_backoff_t *bo, int64_t *retry_ms);
/* Forgets backoff_key's attempts (a successful login). */
void auth_limiter_forget(auth_limiter_t *l, const char *backoff_key);

#endif
