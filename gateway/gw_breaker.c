/*
 * Implementation of gw_breaker.h.
 *
 * The window is GW_BREAKER_BUCKETS buckets of window_ms / GW_BREAKER_BUCKETS each; a
 * bucket whose epoch (now / bucket length) is older than the window is stale and counts
 * as empty, so an idle service forgets old failures without a timer.
 */
#include <stdio.h>
#include <string.h>
#include "gw_breaker.h"
#include "mc_log.h"

void gw_breaker_init(gw_breaker_t *b, const char *name, const gw_breaker_config_t *cfg)
{
    memset(b, 0, sizeof(*b));
    uv_mutex_init(&b->mu);
    b->cfg = *cfg;
    if (b->cfg.window_ms < GW_BREAKER_BUCKETS)
        b->cfg.window_ms = GW_BREAKER_BUCKETS;
    if (b->cfg.probes == 0)
        b->cfg.probes = 1;
    b->name = name;
    b->state = GW_BREAKER_CLOSED;
}

void gw_breaker_destroy(gw_breaker_t *b)
{
    uv_mutex_destroy(&b->mu);
}

static uint64_t bucket_len(const gw_breaker_t *b)
{
    return b->cfg.window_ms / GW_BREAKER_BUCKETS;
}

/* Calls and failures in the window ending now. */
static void window_counts(const gw_breaker_t *b, uint64_t now_ms, uint64_t *calls, uint64_t *failed)
{
    uint64_t epoch = now_ms / bucket_len(b);
    *calls = *failed = 0;
    for (unsigned i = 0; i < GW_BREAKER_BUCKETS; ++i) {
        if (b->buckets[i].epoch + GW_BREAKER_BUCKETS <= epoch)
            continue; /* stale */
        *calls += b->buckets[i].ok + b->buckets[i].failed;
        *failed += b->buckets[i].failed;
    }
}

static void window_add(gw_breaker_t *b, uint64_t now_ms, bool ok)
{
    uint64_t epoch = now_ms / bucket_len(b);
    unsigned i = (unsigned)(epoch % GW_BREAKER_BUCKETS);
    if (b->buckets[i].epoch != epoch) {
        b->buckets[i].epoch = epoch;
        b->buckets[i].ok = b->buckets[i].failed = 0;
    }
    if (ok)
        ++b->buckets[i].ok;
    else
        ++b->buckets[i].failed;
}

static void window_clear(gw_breaker_t *b)
{
    memset(b->buckets, 0, sizeof(b->buckets));
}

static void open_now(gw_breaker_t *b, uint64_t now_ms, const char *why)
{
    b->state = GW_BREAKER_OPEN;
    b->opened_at_ms = now_ms;
    ++b->opened;
    mc_log_warn("circuit breaker of the %s service opens (%s): its calls fail at once for %u ms", b->name, why,
                b->cfg.open_ms);
}

gw_admit_t gw_breaker_admit(gw_breaker_t *b, uint64_t now_ms)
{
    if (!b->cfg.enabled)
        return GW_ADMIT_CALL;
    gw_admit_t r = GW_ADMIT_CALL;
    uv_mutex_lock(&b->mu);
    if (b->state == GW_BREAKER_OPEN && now_ms >= b->opened_at_ms + b->cfg.open_ms) {
        b->state = GW_BREAKER_HALF_OPEN;
        b->probes_inflight = 0;
        mc_log_info("circuit breaker of the %s service is half-open: probing", b->name);
    }
    if (b->state == GW_BREAKER_OPEN) {
        r = GW_ADMIT_REJECT;
    } else if (b->state == GW_BREAKER_HALF_OPEN) {
        if (b->probes_inflight < b->cfg.probes) {
            ++b->probes_inflight;
            r = GW_ADMIT_PROBE;
        } else {
            r = GW_ADMIT_REJECT;
        }
    }
    if (r == GW_ADMIT_REJECT)
        ++b->rejected;
    uv_mutex_unlock(&b->mu);
    return r;
}

void gw_breaker_record(gw_breaker_t *b, gw_admit_t admitted, bool ok, uint64_t now_ms)
{
    if (!b->cfg.enabled || admitted == GW_ADMIT_REJECT)
        return;
    uv_mutex_lock(&b->mu);
    if (admitted == GW_ADMIT_PROBE) {
        if (b->probes_inflight > 0)
            --b->probes_inflight;
        if (b->state == GW_BREAKER_HALF_OPEN) {
            if (ok) {
                b->state = GW_BREAKER_CLOSED;
                ++b->closed;
                window_clear(b);
                mc_log_info("circuit breaker of the %s service closes: a probe succeeded", b->name);
            } else {
                open_now(b, now_ms, "a probe failed");
            }
        }
    } else if (b->state == GW_BREAKER_CLOSED) {
        /* Calls admitted before the breaker opened report later; they only count while
         * closed (a late failure must not restart the open period). */
        window_add(b, now_ms, ok);
        uint64_t calls, failed;
        window_counts(b, now_ms, &calls, &failed);
        if (!ok && calls >= b->cfg.min_calls && failed * 100 >= (uint64_t)b->cfg.error_percent * calls) {
            char why[96];
            snprintf(why, sizeof(why), "%llu of %llu calls failed", (unsigned long long)failed,
                     (unsigned long long)calls);
            open_now(b, now_ms, why);
        }
    }
    uv_mutex_unlock(&b->mu);
}

void gw_breaker_release(gw_breaker_t *b, gw_admit_t admitted)
{
    if (!b->cfg.enabled || admitted != GW_ADMIT_PROBE)
        return;
    uv_mutex_lock(&b->mu);
    if (b->probes_inflight > 0)
        --b->probes_inflight;
    uv_mutex_unlock(&b->mu);
}

gw_breaker_state_t gw_breaker_snapshot(gw_breaker_t *b, uint64_t *rejected, uint64_t *opened, uint64_t *closed)
{
    uv_mutex_lock(&b->mu);
    gw_breaker_state_t s = b->state;
    if (rejected != NULL)
        *rejected = b->rejected;
    if (opened != NULL)
        *opened = b->opened;
    if (closed != NULL)
        *closed = b->closed;
    uv_mutex_unlock(&b->mu);
    return s;
}
