/*
 * Unit tests of lib/mc_work: work runs on a thread-pool thread, never on the loop's own
 * thread; the continuation runs on the loop's thread after the work, exactly once, and
 * the loop ends with nothing left open.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <uv.h>
#include "mc_work.h"

typedef struct probe {
    pthread_t loop_thread;
    pthread_t work_thread;
    bool worked;
    int done_calls;
    bool done_on_loop;
    bool done_after_work;
    long value;
} probe_t;

static void work(void *arg)
{
    probe_t *p = arg;
    p->work_thread = pthread_self();
    p->worked = true;
    long v = 0;
    for (long i = 1; i <= 1000; ++i)
        v += i;
    p->value = v;
}

static void done(void *arg)
{
    probe_t *p = arg;
    p->done_calls++;
    p->done_on_loop = pthread_equal(pthread_self(), p->loop_thread);
    p->done_after_work = p->worked;
}

static void runs_off_loop_then_continues_on_loop(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    probe_t probes[8] = {0};
    for (size_t i = 0; i < 8; ++i) {
        probes[i].loop_thread = pthread_self();
        assert_int_equal(mc_work_submit(&loop, work, done, &probes[i]), 0);
        assert_int_equal(probes[i].done_calls, 0); /* never inside submit */
    }
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    for (size_t i = 0; i < 8; ++i) {
        assert_int_equal(probes[i].done_calls, 1);
        assert_true(probes[i].done_on_loop);
        assert_true(probes[i].done_after_work);
        assert_false(pthread_equal(probes[i].work_thread, probes[i].loop_thread));
        assert_int_equal(probes[i].value, 500500);
    }
    assert_int_equal(uv_loop_close(&loop), 0);
}

static void refuses_missing_callbacks(void **state)
{
    (void)state;
    uv_loop_t loop;
    assert_int_equal(uv_loop_init(&loop), 0);
    probe_t p = {0};
    assert_int_equal(mc_work_submit(&loop, NULL, done, &p), -1);
    assert_int_equal(mc_work_submit(&loop, work, NULL, &p), -1);
    assert_int_equal(mc_work_submit(NULL, work, done, &p), -1);
    assert_int_equal(mc_work_submit_req(NULL, work, NULL, &p), -1);
    assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
    assert_int_equal(p.done_calls, 0);
    assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(runs_off_loop_then_continues_on_loop),
        cmocka_unit_test(refuses_missing_callbacks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
