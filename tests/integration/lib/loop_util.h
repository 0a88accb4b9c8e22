/*
 * Running a libuv loop from a test: until a condition holds (with a guard timer so a
 * broken test fails instead of hanging), and to the end with the check that every handle
 * was closed (libuv's rule that tests assert "nothing left open").
 */
#ifndef MERCATO_TEST_LOOP_UTIL_H
#define MERCATO_TEST_LOOP_UTIL_H

#include <stdbool.h>
#include <uv.h>

static void lu_guard_fired(uv_timer_t *t)
{
    *(bool *)t->data = true;
}

static void lu_guard_closed(uv_handle_t *h)
{
    (void)h;
}

/* Runs the loop until cond(arg) is true or timeout_ms passed; returns cond(arg). */
static inline bool lu_run_until(uv_loop_t *loop, bool (*cond)(void *), void *arg, unsigned timeout_ms)
{
    bool expired = false;
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    guard.data = &expired;
    uv_timer_start(&guard, lu_guard_fired, timeout_ms, 0);
    bool ok;
    while (!(ok = cond(arg)) && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&guard, lu_guard_closed);
    uv_run(loop, UV_RUN_NOWAIT); /* completes the guard's close (other events may run too) */
    return ok;
}

static inline bool lu_flag(void *arg)
{
    return *(volatile bool *)arg;
}

static inline bool lu_count_at_least(void *arg)
{
    const int *p = arg;
    return p[0] >= p[1];
}

/* Runs the loop for ms regardless (lets background work happen). */
static inline void lu_run_for(uv_loop_t *loop, unsigned ms)
{
    bool never = false;
    lu_run_until(loop, lu_flag, &never, ms);
}

static void lu_walk_report(uv_handle_t *h, void *arg)
{
    (void)arg;
    fprintf(stderr, "handle still open: type %s, active %d, closing %d\n", uv_handle_type_name(h->type), uv_is_active(h),
            uv_is_closing(h));
}

static void lu_stop_loop(uv_timer_t *t)
{
    uv_stop(t->loop);
}

/* Runs the loop until nothing is left to do (at most 10 s) and closes it; 0 when every
 * handle was closed. */
static inline int lu_finish(uv_loop_t *loop)
{
    uv_timer_t guard;
    uv_timer_init(loop, &guard);
    uv_timer_start(&guard, lu_stop_loop, 10000, 0);
    uv_unref((uv_handle_t *)&guard); /* does not keep the loop alive by itself */
    uv_run(loop, UV_RUN_DEFAULT);
    uv_close((uv_handle_t *)&guard, lu_guard_closed);
    uv_run(loop, UV_RUN_NOWAIT);
    int rc = uv_loop_close(loop);
    if (rc != 0)
        uv_walk(loop, lu_walk_report, NULL);
    return rc;
}

#endif
