/*
 * Integration tests of the REDIS_URL handshake of lib/mc_redis: AUTH with the URL's
 * password and SELECT of its database happen before the connection counts as up, and a
 * wrong password never looks like a working Redis. A separate binary because the
 * harness's Redis gets its password at first start.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "loop_util.h"
#include "mc_redis.h"

#define PASSWORD "p@ss word:1"
#define PASSWORD_IN_URL "p%40ss%20word%3A1"

typedef struct obs {
    bool up, done;
    int ups;
    char str[64];
} obs_t;

static void on_state(mc_redis_t *r, bool up, void *data)
{
    obs_t *o = data;
    o->up = up;
    o->ups += up;
}

static void on_reply(redisReply *r, const char *err, void *data)
{
    obs_t *o = data;
    o->done = true;
    snprintf(o->str, sizeof(o->str), "%s", r != NULL && r->str != NULL ? r->str : (err != NULL ? err : "?"));
}

static int setup(void **state)
{
    return mh_redis_start_with_password(PASSWORD);
}

static void authenticates_and_selects_the_database(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[256];
    snprintf(url, sizeof(url), "redis://:%s@127.0.0.1:%u/3", PASSWORD_IN_URL, (unsigned)mh_redis_port());
    obs_t o = {0};
    mc_redis_opts_t opts = {.connect_timeout_ms = 1000, .command_timeout_ms = 1000, .on_state = on_state, .data = &o};
    mc_redis_t *r = mc_redis_create(&loop, url, &opts, NULL, 0);
    assert_non_null(r);
    assert_true(lu_run_until(&loop, lu_flag, &o.up, 10000));
    assert_int_equal(mc_redis_cmd(r, on_reply, &o, "SET %s %s", "where", "db3"), 0);
    assert_true(lu_run_until(&loop, lu_flag, &o.done, 10000));
    assert_string_equal(o.str, "OK");
    const char *in3 = mh_redis_cli("-n 3 GET where");
    assert_non_null(in3);
    assert_string_equal(in3, "db3");
    const char *in0 = mh_redis_cli("-n 0 EXISTS where");
    assert_non_null(in0);
    assert_string_equal(in0, "0");
    mc_redis_close(r, NULL, NULL);

    /* the harness's own URL (what services get) encodes the password correctly */
    obs_t o2 = {0};
    opts.data = &o2;
    r = mc_redis_create(&loop, mh_redis_url(), &opts, NULL, 0);
    assert_non_null(r);
    assert_true(lu_run_until(&loop, lu_flag, &o2.up, 10000));
    mc_redis_close(r, NULL, NULL);
    assert_int_equal(lu_finish(&loop), 0);
}

static void a_wrong_password_never_comes_up(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[256];
    snprintf(url, sizeof(url), "redis://:wrong@127.0.0.1:%u/0", (unsigned)mh_redis_port());
    obs_t o = {0};
    mc_redis_opts_t opts = {.connect_timeout_ms = 300, .command_timeout_ms = 300, .on_state = on_state, .data = &o};
    mc_redis_t *r = mc_redis_create(&loop, url, &opts, NULL, 0);
    lu_run_for(&loop, 800); /* several attempts, each refused at AUTH */
    assert_false(mc_redis_up(r));
    assert_int_equal(o.ups, 0);
    assert_int_equal(mc_redis_cmd(r, on_reply, &o, "PING"), -1);

    /* no password at all: the PING of the handshake gets NOAUTH */
    char url2[128];
    snprintf(url2, sizeof(url2), "redis://127.0.0.1:%u", (unsigned)mh_redis_port());
    obs_t o2 = {0};
    opts.data = &o2;
    mc_redis_t *r2 = mc_redis_create(&loop, url2, &opts, NULL, 0);
    lu_run_for(&loop, 500);
    assert_false(mc_redis_up(r2));
    assert_int_equal(o2.ups, 0);
    mc_redis_close(r, NULL, NULL);
    mc_redis_close(r2, NULL, NULL);
    assert_int_equal(lu_finish(&loop), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(authenticates_and_selects_the_database),
        cmocka_unit_test(a_wrong_password_never_comes_up),
    };
    return mh_run_group("mc_redis auth", tests, setup, NULL);
}
