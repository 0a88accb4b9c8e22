/*
 * Integration tests of lib/mc_redis against a real redis-server started by the harness:
 * commands, scripts, a Redis that stops answering (DEBUG SLEEP, SIGSTOP), one that dies
 * and comes back on the same port, pub/sub surviving that restart, and clean closes
 * (every test ends with the loop closing with no handle left open).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "loop_util.h"
#include "mc_redis.h"

#define CONNECT_MS 500
#define COMMAND_MS 400

/* What a test observes of one connection. */
typedef struct obs {
    bool up;
    int ups, downs;
} obs_t;

static void on_state(mc_redis_t *r, bool up, void *data)
{
    obs_t *o = data;
    o->up = up;
    if (up)
        ++o->ups;
    else
        ++o->downs;
}

/* One command's outcome. */
typedef struct reply {
    bool done;
    int type;
    long long integer;
    char str[256];
    size_t len;
    char err[64];
    bool had_err;
} reply_t;

static void on_reply(redisReply *r, const char *err, void *data)
{
    reply_t *x = data;
    x->done = true;
    if (err != NULL) {
        x->had_err = true;
        snprintf(x->err, sizeof(x->err), "%s", err);
        assert_null(r);
        return;
    }
    assert_non_null(r);
    x->type = r->type;
    x->integer = r->integer;
    if (r->str != NULL) {
        x->len = r->len < sizeof(x->str) - 1 ? r->len : sizeof(x->str) - 1;
        memcpy(x->str, r->str, x->len);
        x->str[x->len] = '\0';
    }
}

static mc_redis_t *connect_up(uv_loop_t *loop, const char *url, obs_t *o)
{
    mc_redis_opts_t opts = {.connect_timeout_ms = CONNECT_MS, .command_timeout_ms = COMMAND_MS, .on_state = on_state,
                            .data = o};
    char err[128];
    mc_redis_t *r = mc_redis_create(loop, url, &opts, err, sizeof(err));
    assert_non_null(r);
    assert_true(lu_run_until(loop, lu_flag, &o->up, 10000));
    assert_true(mc_redis_up(r));
    return r;
}

static void close_and_finish(uv_loop_t *loop, mc_redis_t *r)
{
    mc_redis_close(r, NULL, NULL);
    assert_int_equal(lu_finish(loop), 0);
}

/* Runs one command to completion. */
static reply_t cmd(uv_loop_t *loop, mc_redis_t *r, const char *fmt, const char *arg)
{
    reply_t x;
    memset(&x, 0, sizeof(x));
    assert_int_equal(mc_redis_cmd(r, on_reply, &x, fmt, arg), 0);
    assert_true(lu_run_until(loop, lu_flag, &x.done, 10000));
    return x;
}

static int setup(void **state)
{
    return mh_redis_start();
}

static void commands_round_trip(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0};
    mc_redis_t *r = connect_up(&loop, mh_redis_url(), &o);

    reply_t x = cmd(&loop, r, "SET greeting %s", "hello");
    assert_false(x.had_err);
    assert_int_equal(x.type, REDIS_REPLY_STATUS);
    x = cmd(&loop, r, "GET %s", "greeting");
    assert_int_equal(x.type, REDIS_REPLY_STRING);
    assert_string_equal(x.str, "hello");
    x = cmd(&loop, r, "INCR %s", "greeting"); /* a Redis error is a reply, not a failure */
    assert_false(x.had_err);
    assert_int_equal(x.type, REDIS_REPLY_ERROR);
    x = cmd(&loop, r, "GET %s", "no-such-key");
    assert_int_equal(x.type, REDIS_REPLY_NIL);

    /* binary-safe arguments */
    const char *argv[] = {"SET", "bin", "a\0b\r\nc"};
    size_t lens[] = {3, 3, 7};
    reply_t y = {0};
    assert_int_equal(mc_redis_cmd_argv(r, on_reply, &y, 3, argv, lens), 0);
    assert_true(lu_run_until(&loop, lu_flag, &y.done, 10000));
    x = cmd(&loop, r, "GET %s", "bin");
    assert_int_equal(x.len, 7);
    assert_memory_equal(x.str, "a\0b\r\nc", 7);

    /* fire and forget, then many in flight at once: replies keep their order */
    assert_int_equal(mc_redis_cmd(r, NULL, NULL, "SET %s %s", "counter", "0"), 0);
    reply_t many[50];
    memset(many, 0, sizeof(many));
    for (int i = 0; i < 50; ++i)
        assert_int_equal(mc_redis_cmd(r, on_reply, &many[i], "INCR %s", "counter"), 0);
    assert_true(lu_run_until(&loop, lu_flag, &many[49].done, 10000));
    for (int i = 0; i < 50; ++i)
        assert_int_equal(many[i].integer, i + 1);

    assert_int_equal(o.ups, 1);
    assert_int_equal(o.downs, 0);
    close_and_finish(&loop, r);
}

static void fails_fast_when_nothing_listens(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u/0", (unsigned)mh_free_port());
    obs_t o = {0};
    mc_redis_opts_t opts = {.connect_timeout_ms = CONNECT_MS, .command_timeout_ms = COMMAND_MS, .on_state = on_state,
                            .data = &o};
    mc_redis_t *r = mc_redis_create(&loop, url, &opts, NULL, 0);
    assert_non_null(r);
    reply_t x = {0};
    assert_int_equal(mc_redis_cmd(r, on_reply, &x, "PING"), -1);
    lu_run_for(&loop, 300); /* several refused attempts */
    assert_int_equal(mc_redis_cmd(r, on_reply, &x, "PING"), -1);
    assert_false(x.done); /* the callback of a refused command never runs */
    assert_false(mc_redis_up(r));
    assert_int_equal(o.ups, 0);

    /* a malformed URL is refused at creation */
    char err[128];
    assert_null(mc_redis_create(&loop, "redis://:x@", &opts, err, sizeof(err)));
    close_and_finish(&loop, r);
}

/* A command Redis does not answer in time fails with "timeout"; the connection is
 * dropped and re-established by itself. */
static void command_timeout_with_debug_sleep(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0};
    mc_redis_t *r = connect_up(&loop, mh_redis_url(), &o);
    reply_t slow = {0}, behind = {0};
    uint64_t t0 = mh_now_ms();
    assert_int_equal(mc_redis_cmd(r, on_reply, &slow, "DEBUG SLEEP %s", "2"), 0);
    assert_int_equal(mc_redis_cmd(r, on_reply, &behind, "PING"), 0);
    assert_true(lu_run_until(&loop, lu_flag, &slow.done, 10000));
    assert_true(slow.had_err);
    assert_string_equal(slow.err, "timeout");
    assert_true(mh_now_ms() - t0 + 2 >= COMMAND_MS); /* not before the timeout (give or take the clocks' ms) */
    assert_true(behind.done);                    /* everything pending failed with it */
    assert_true(behind.had_err);
    assert_int_equal(o.downs, 1);
    assert_false(mc_redis_up(r));
    assert_int_equal(mc_redis_cmd(r, on_reply, &behind, "PING"), -1);
    /* Redis answers again once the sleep is over: reconnected without help */
    assert_true(lu_run_until(&loop, lu_flag, &o.up, 15000));
    reply_t x = cmd(&loop, r, "PING", NULL);
    assert_int_equal(x.type, REDIS_REPLY_STATUS);
    assert_string_equal(x.str, "PONG");
    assert_int_equal(o.ups, 2);
    close_and_finish(&loop, r);
}

/* A frozen Redis (SIGSTOP) accepts connections in the kernel but answers nothing: the
 * command times out, reconnection attempts time out in their handshake, and the
 * connection comes back when Redis resumes. */
static void command_timeout_with_sigstop(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0};
    mc_redis_t *r = connect_up(&loop, mh_redis_url(), &o);
    assert_int_equal(mh_redis_pause(), 0);
    reply_t x = {0};
    assert_int_equal(mc_redis_cmd(r, on_reply, &x, "GET %s", "greeting"), 0);
    assert_true(lu_run_until(&loop, lu_flag, &x.done, 10000));
    assert_string_equal(x.err, "timeout");
    lu_run_for(&loop, 3 * CONNECT_MS); /* attempts fail while frozen */
    assert_false(mc_redis_up(r));
    assert_int_equal(o.ups, 1);
    assert_int_equal(mh_redis_resume(), 0);
    assert_true(lu_run_until(&loop, lu_flag, &o.up, 15000));
    x = cmd(&loop, r, "PING", NULL);
    assert_string_equal(x.str, "PONG");
    close_and_finish(&loop, r);
}

/* The connect timeout covers the whole attempt, handshake included: against a frozen
 * Redis each attempt ends after CONNECT_MS (not after the much longer command timeout),
 * so the connection is back soon after Redis resumes. */
static void connect_timeout_covers_the_handshake(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    assert_int_equal(mh_redis_pause(), 0);
    obs_t o = {0};
    mc_redis_opts_t opts = {.connect_timeout_ms = 200, .command_timeout_ms = 20000, .on_state = on_state, .data = &o};
    mc_redis_t *r = mc_redis_create(&loop, mh_redis_url(), &opts, NULL, 0);
    assert_non_null(r);
    lu_run_for(&loop, 700); /* a few attempts, each stuck in its handshake */
    assert_false(mc_redis_up(r));
    assert_int_equal(mh_redis_resume(), 0);
    assert_true(lu_run_until(&loop, lu_flag, &o.up, 10000)); /* well before 20 s */
    mc_redis_close(r, NULL, NULL);
    assert_int_equal(lu_finish(&loop), 0);
}

static void reconnects_after_restart(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0};
    mc_redis_t *r = connect_up(&loop, mh_redis_url(), &o);
    reply_t pending = {0};
    assert_int_equal(mc_redis_cmd(r, on_reply, &pending, "DEBUG SLEEP %s", "0.3"), 0);
    lu_run_for(&loop, 50);
    assert_int_equal(mh_redis_kill(), 0); /* dies with a command in flight */
    assert_true(lu_run_until(&loop, lu_flag, &pending.done, 10000));
    assert_true(pending.had_err);
    assert_string_equal(pending.err, "connection lost");
    assert_int_equal(o.downs, 1);
    reply_t refused = {0};
    assert_int_equal(mc_redis_cmd(r, on_reply, &refused, "PING"), -1);
    lu_run_for(&loop, 300);
    assert_false(refused.done);

    assert_int_equal(mh_redis_start(), 0); /* same port */
    assert_true(lu_run_until(&loop, lu_flag, &o.up, 15000));
    assert_int_equal(o.ups, 2);
    reply_t x = cmd(&loop, r, "SET %s after-restart", "k");
    assert_false(x.had_err);
    x = cmd(&loop, r, "GET %s", "k");
    assert_string_equal(x.str, "after-restart");
    close_and_finish(&loop, r);
}

static void scripts_use_evalsha_and_fall_back(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0};
    mc_redis_t *r = connect_up(&loop, mh_redis_url(), &o);
    mc_redis_script_t *s = mc_redis_script_create("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    assert_non_null(s);
    cmd(&loop, r, "SCRIPT FLUSH", NULL);
    cmd(&loop, r, "DEL %s", "script-counter");
    cmd(&loop, r, "CONFIG RESETSTAT", NULL);

    const char *args[] = {"script-counter", "5"};
    reply_t a = {0}, b = {0};
    assert_int_equal(mc_redis_eval(r, s, on_reply, &a, 1, 1, args, NULL), 0); /* NOSCRIPT → EVAL */
    assert_true(lu_run_until(&loop, lu_flag, &a.done, 10000));
    assert_false(a.had_err);
    assert_int_equal(a.type, REDIS_REPLY_INTEGER);
    assert_int_equal(a.integer, 5);
    assert_int_equal(mc_redis_eval(r, s, on_reply, &b, 1, 1, args, NULL), 0); /* cached now */
    assert_true(lu_run_until(&loop, lu_flag, &b.done, 10000));
    assert_int_equal(b.integer, 10);

    const char *stats = mh_redis_cli("INFO commandstats");
    assert_non_null(stats);
    assert_non_null(strstr(stats, "cmdstat_eval:calls=1,"));
    assert_non_null(strstr(stats, "cmdstat_evalsha:calls=2,"));

    /* a script error is an error reply */
    mc_redis_script_t *bad = mc_redis_script_create("return redis.call('NOSUCHCOMMAND')");
    reply_t c = {0};
    assert_int_equal(mc_redis_eval(r, bad, on_reply, &c, 0, 0, NULL, NULL), 0);
    assert_true(lu_run_until(&loop, lu_flag, &c.done, 10000));
    assert_false(c.had_err);
    assert_int_equal(c.type, REDIS_REPLY_ERROR);
    mc_redis_script_free(bad);
    mc_redis_script_free(s);
    close_and_finish(&loop, r);
}

static void on_closed(void *data)
{
    *(bool *)data = true;
}

/* --- pub/sub ---------------------------------------------------------------------------------- */

typedef struct inbox {
    int count;
    char last_channel[64];
    char last_msg[64];
    char last_pattern[64];
} inbox_t;

static void on_message(const char *pattern, const char *channel, size_t chlen, const char *msg, size_t msglen,
                       void *data)
{
    inbox_t *in = data;
    ++in->count;
    snprintf(in->last_pattern, sizeof(in->last_pattern), "%s", pattern != NULL ? pattern : "");
    snprintf(in->last_channel, sizeof(in->last_channel), "%.*s", (int)chlen, channel);
    snprintf(in->last_msg, sizeof(in->last_msg), "%.*s", (int)msglen, msg);
}

/* Publishes msg on channel every 50 ms until `in` has received a new message or 10 s
 * passed (the subscription may still be on its way). Returns the receivers PUBLISH
 * reported last. */
static long long publish_until_received(uv_loop_t *loop, mc_redis_t *pub, const char *channel, const char *msg,
                                        inbox_t *in)
{
    int before = in->count;
    long long receivers = -1;
    uint64_t deadline = mh_now_ms() + 10000;
    while (in->count == before && mh_now_ms() < deadline) {
        reply_t x = {0};
        if (mc_redis_cmd(pub, on_reply, &x, "PUBLISH %s %s", channel, msg) == 0 &&
            lu_run_until(loop, lu_flag, &x.done, 2000))
            receivers = x.integer;
        lu_run_for(loop, 50);
    }
    return receivers;
}

static bool both_down(void *arg)
{
    obs_t **p = arg;
    return p[0]->downs >= 1 && p[1]->downs >= 1;
}

static void pubsub_survives_a_restart(void **state)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0}, so = {0};
    mc_redis_t *pub = connect_up(&loop, mh_redis_url(), &o);
    inbox_t in;
    memset(&in, 0, sizeof(in));
    mc_redis_opts_t opts = {.connect_timeout_ms = CONNECT_MS, .command_timeout_ms = COMMAND_MS, .on_state = on_state,
                            .data = &so};
    mc_redis_sub_t *sub = mc_redis_sub_create(&loop, mh_redis_url(), on_message, &in, &opts, NULL, 0);
    assert_non_null(sub);
    assert_int_equal(mc_redis_sub_subscribe(sub, "orders"), 0); /* remembered before the connection is up */
    assert_int_equal(mc_redis_sub_subscribe(sub, "orders"), 0); /* idempotent */
    assert_true(lu_run_until(&loop, lu_flag, &so.up, 10000));
    assert_true(mc_redis_sub_up(sub));
    assert_int_equal(mc_redis_sub_psubscribe(sub, "order.*"), 0); /* while connected */

    assert_true(publish_until_received(&loop, pub, "orders", "m1", &in) >= 1);
    assert_string_equal(in.last_channel, "orders");
    assert_string_equal(in.last_msg, "m1");
    assert_string_equal(in.last_pattern, "");
    publish_until_received(&loop, pub, "order.42", "m2", &in);
    assert_string_equal(in.last_pattern, "order.*");
    assert_string_equal(in.last_channel, "order.42");
    assert_string_equal(in.last_msg, "m2");

    /* Redis dies and comes back: both connections return, subscriptions are re-issued */
    assert_int_equal(mh_redis_kill(), 0);
    obs_t *both[2] = {&o, &so};
    assert_true(lu_run_until(&loop, both_down, both, 10000)); /* both notice the loss first */
    assert_false(mc_redis_sub_up(sub));
    assert_int_equal(mh_redis_start(), 0);
    assert_true(lu_run_until(&loop, lu_flag, &o.up, 15000));
    assert_true(lu_run_until(&loop, lu_flag, &so.up, 15000));
    assert_int_equal(so.downs, 1);
    assert_int_equal(so.ups, 2);
    int before = in.count;
    publish_until_received(&loop, pub, "orders", "m3", &in);
    assert_true(in.count > before);
    assert_string_equal(in.last_msg, "m3");
    publish_until_received(&loop, pub, "order.7", "m4", &in);
    assert_string_equal(in.last_msg, "m4");
    assert_string_equal(in.last_pattern, "order.*");

    /* unsubscribed: PUBLISH reaches nobody and nothing is delivered */
    assert_int_equal(mc_redis_sub_unsubscribe(sub, "orders"), 0);
    long long receivers = 1;
    uint64_t deadline = mh_now_ms() + 10000;
    while (receivers != 0 && mh_now_ms() < deadline) {
        reply_t x = {0};
        assert_int_equal(mc_redis_cmd(pub, on_reply, &x, "PUBLISH %s %s", "orders", "m5"), 0);
        assert_true(lu_run_until(&loop, lu_flag, &x.done, 2000));
        receivers = x.integer;
    }
    assert_int_equal(receivers, 0);
    lu_run_for(&loop, 100);
    assert_string_not_equal(in.last_msg, "m5");

    bool closed = false;
    mc_redis_sub_close(sub, on_closed, &closed);
    mc_redis_close(pub, NULL, NULL);
    assert_int_equal(lu_finish(&loop), 0);
    assert_true(closed);
}

/* --- closing --------------------------------------------------------------------------------------- */

typedef struct closer {
    mc_redis_t *r;
    bool closed;
    reply_t second;
} closer_t;

static void close_from_callback(redisReply *reply, const char *err, void *data)
{
    closer_t *c = data;
    mc_redis_close(c->r, on_closed, &c->closed);
    assert_int_equal(mc_redis_cmd(c->r, NULL, NULL, "PING"), -1); /* closing: refused */
}

static void closes_cleanly_in_every_state(void **state)
{
    /* with commands pending: they fail with "closed", the close callback runs */
    uv_loop_t loop;
    uv_loop_init(&loop);
    obs_t o = {0};
    mc_redis_t *r = connect_up(&loop, mh_redis_url(), &o);
    reply_t a = {0};
    assert_int_equal(mc_redis_cmd(r, on_reply, &a, "DEBUG SLEEP %s", "0.2"), 0);
    bool closed = false;
    mc_redis_close(r, on_closed, &closed);
    assert_true(a.done);
    assert_string_equal(a.err, "closed");
    assert_int_equal(lu_finish(&loop), 0);
    assert_true(closed);

    /* from inside a reply callback, with another command behind it */
    uv_loop_init(&loop);
    memset(&o, 0, sizeof(o));
    closer_t c = {0};
    c.r = connect_up(&loop, mh_redis_url(), &o);
    assert_int_equal(mc_redis_cmd(c.r, close_from_callback, &c, "PING"), 0);
    assert_int_equal(mc_redis_cmd(c.r, on_reply, &c.second, "PING"), 0);
    assert_int_equal(lu_finish(&loop), 0);
    assert_true(c.closed);
    assert_true(c.second.done);

    /* while still connecting (nothing listens) and while resolving a name */
    uv_loop_init(&loop);
    char url[64];
    snprintf(url, sizeof(url), "redis://127.0.0.1:%u", (unsigned)mh_free_port());
    mc_redis_t *r2 = mc_redis_create(&loop, url, NULL, NULL, 0);
    mc_redis_t *r3 = mc_redis_create(&loop, "redis://localhost:1/0", NULL, NULL, 0);
    assert_non_null(r2);
    assert_non_null(r3);
    uv_run(&loop, UV_RUN_NOWAIT);
    mc_redis_close(r2, NULL, NULL);
    mc_redis_close(r3, NULL, NULL);
    assert_int_equal(lu_finish(&loop), 0);

    /* a name that resolves: localhost */
    uv_loop_init(&loop);
    memset(&o, 0, sizeof(o));
    char named[64];
    snprintf(named, sizeof(named), "redis://localhost:%u/0", (unsigned)mh_redis_port());
    mc_redis_t *r4 = connect_up(&loop, named, &o);
    reply_t p = cmd(&loop, r4, "PING", NULL);
    assert_string_equal(p.str, "PONG");
    close_and_finish(&loop, r4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(commands_round_trip),
        cmocka_unit_test(fails_fast_when_nothing_listens),
        cmocka_unit_test(command_timeout_with_debug_sleep),
        cmocka_unit_test(command_timeout_with_sigstop),
        cmocka_unit_test(connect_timeout_covers_the_handshake),
        cmocka_unit_test(reconnects_after_restart),
        cmocka_unit_test(scripts_use_evalsha_and_fall_back),
        cmocka_unit_test(pubsub_survives_a_restart),
        cmocka_unit_test(closes_cleanly_in_every_state),
    };
    return mh_run_group("mc_redis", tests, setup, NULL);
}
