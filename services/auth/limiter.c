/*
 * Implementation of limiter.h (the in-memory side; the Redis side is the Lua script in
 * ratelimit.c, which follows the same steps).
 */
#include <stdlib.h>
#include <string.h>
#include "limiter.h"
#include "mc_util.h"

#define PROBE 8

typedef struct slot {
    uint64_t h;         /* 0 = empty */
    int64_t a, b;       /* GCRA: a = theoretical arrival time; backoff: a = attempts, b = wait-until */
    int64_t expires_ms;
} slot_t;

struct auth_limiter {
    size_t n;
    uint64_t seed;
    slot_t *slots;
};

auth_limiter_t *auth_limiter_create(size_t slots)
{
    auth_limiter_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        return NULL;
    l->n = slots < PROBE ? PROBE : slots;
    l->slots = calloc(l->n, sizeof(slot_t));
    if (l->slots == NULL) {
        free(l);
        return NULL;
    }
    /* A random seed: clients choose the keys (emails), they must not choose collisions. */
    mc_random_bytes(&l->seed, sizeof(l->seed));
    return l;
}

void auth_limiter_free(auth_limiter_t *l)
{
    if (l != NULL) {
        free(l->slots);
        free(l);
    }
}

static uint64_t key_hash(const auth_limiter_t *l, const char *key)
{
    uint64_t h = 14695981039346656037ull ^ l->seed;
    for (const unsigned char *p = (const unsigned char *)key; *p; ++p) {
        h ^= *p;
        h *= 1099511628211ull;
    }
    h ^= h >> 29;
    return h != 0 ? h : 1;
}

/* The slot of h, or NULL when absent (create false); a fresh or reused one when create. */
static slot_t *lookup(auth_limiter_t *l, uint64_t h, int64_t now, bool create)
{
    size_t start = (size_t)(h % l->n);
    slot_t *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < PROBE; ++i) {
        slot_t *s = &l->slots[(start + i) % l->n];
        if (s->h == h && s->expires_ms > now)
            return s;
        if (s->h == 0 || s->expires_ms <= now) {
            if (free_slot == NULL)
                free_slot = s;
        } else if (oldest == NULL || s->expires_ms < oldest->expires_ms) {
            oldest = s;
        }
    }
    if (!create)
        return NULL;
    slot_t *victim = free_slot != NULL ? free_slot : oldest;
    memset(victim, 0, sizeof(*victim));
    victim->h = h;
    return victim;
}

bool auth_limiter_take(auth_limiter_t *l, int64_t now, const char *const *keys, const auth_rate_t *rates, size_t n,
                       const char *backoff_key, const auth_backoff_t *bo, int64_t *retry_ms)
{
    int64_t wait = 0;
    int64_t tats[16];
    if (n > 16)
        n = 16;
    for (size_t i = 0; i < n; ++i) {
        if (rates[i].count == 0)
            continue;
        int64_t period = (int64_t)rates[i].window_s * 1000;
        int64_t em = (period + rates[i].count - 1) / rates[i].count;
        slot_t *s = lookup(l, key_hash(l, keys[i]), now, false);
        int64_t tat = s != NULL && s->a > now ? s->a : now;
        int64_t next = tat + em;
        int64_t allow_at = next - period;
        if (allow_at > now && allow_at - now > wait)
            wait = allow_at - now;
        tats[i] = next;
    }
    slot_t *b = NULL;
    if (backoff_key != NULL) {
        b = lookup(l, key_hash(l, backoff_key), now, false);
        if (b != NULL && b->b > now && b->b - now > wait)
            wait = b->b - now;
    }
    if (wait > 0) {
        *retry_ms = wait;
        return false;
    }
    for (size_t i = 0; i < n; ++i) {
        if (rates[i].count == 0)
            continue;
        slot_t *s = lookup(l, key_hash(l, keys[i]), now, true);
        s->a = tats[i];
        s->expires_ms = tats[i] + 1;
    }
    if (backoff_key != NULL) {
        b = lookup(l, key_hash(l, backoff_key), now, true);
        int64_t attempts = b->a + 1;
        int64_t until = 0;
        if (attempts >= (int64_t)bo->free_attempts) {
            int64_t shift = attempts - (int64_t)bo->free_attempts;
            int64_t d = shift >= 40 ? (int64_t)bo->max_ms : (int64_t)bo->base_ms << shift;
            until = now + (d < (int64_t)bo->max_ms ? d : (int64_t)bo->max_ms);
        }
        b->a = attempts;
        b->b = until;
        b->expires_ms = now + AUTH_BACKOFF_MEMORY_MS;
    }
    *retry_ms = 0;
    return true;
}

void auth_limiter_forget(auth_limiter_t *l, const char *backoff_key)
{
    uint64_t h = key_hash(l, backoff_key);
    size_t start = (size_t)(h % l->n);
    for (size_t i = 0; i < PROBE; ++i) {
        slot_t *s = &l->slots[(start + i) % l->n];
        if (s->h == h)
            memset(s, 0, sizeof(*s));
    }
}
