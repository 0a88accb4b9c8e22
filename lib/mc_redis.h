/*
 * mc_redis: Redis on an event loop with hiredis' async API, with what hiredis 0.14 lacks:
 * connect and command timeouts, and reconnection with backoff.
 *
 * A connection belongs to one loop. While it is down, commands fail at once (the caller
 * falls back: a cache miss, a database read) rather than queueing; it reconnects in the
 * background (backoff from 100 ms up to 5 s). A command that gets no reply within the
 * command timeout drops the connection (failing every pending command) and reconnects.
 *
 * Pub/sub needs its own connection (hiredis disconnects a subscribed connection on any
 * other command): mc_redis_sub_t remembers its channels and patterns and subscribes to
 * them again after every reconnect.
 *
 * REDIS_URL: redis://[[user]:password@]host[:port][/db] (password percent-encoded; IPv6
 * hosts in brackets; rediss:// is refused). Settings: REDIS_CONNECT_TIMEOUT_MS (default
 * 1000: name resolution, connect and the AUTH/SELECT/PING handshake together),
 * REDIS_COMMAND_TIMEOUT_MS (default 1000). A connection counts as up only once the
 * handshake succeeded; a refused AUTH is logged and retried with the backoff.
 *
 * The command timeout applies to every command, so blocking commands (BLPOP, …) and
 * pub/sub commands do not belong on an mc_redis_t. Host names are resolved on the libuv
 * thread pool, never on the loop.
 */
#ifndef MC_REDIS_H
#define MC_REDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <hiredis/hiredis.h>
#include <uv.h>

typedef struct mc_redis mc_redis_t;

typedef struct mc_redis_opts {
    unsigned connect_timeout_ms; /* 0 = REDIS_CONNECT_TIMEOUT_MS or 1000 */
    unsigned command_timeout_ms; /* 0 = REDIS_COMMAND_TIMEOUT_MS or 1000 */
    /* Called on the loop when the connection comes up or goes down (may be NULL); r is
     * NULL for a pub/sub connection. Not called any more once closing. */
    void (*on_state)(mc_redis_t *r, bool up, void *data);
    void *data;
} mc_redis_opts_t;

/* reply is NULL when the command failed, with err saying why: "timeout" (no reply within
 * the command timeout; the connection was dropped), "connection lost", "closed"
 * (mc_redis_close); a Redis error reply is a reply of type REDIS_REPLY_ERROR (err NULL).
 * The reply is freed after the callback returns: copy what you keep. */
typedef void (*mc_redis_cb)(redisReply *reply, const char *err, void *data);

/* Creates a connection for loop and starts connecting. NULL on a malformed URL. */
mc_redis_t *mc_redis_create(uv_loop_t *loop, const char *url, const mc_redis_opts_t *opts, char *err, size_t errlen);
/* Fails pending commands (their callbacks run before this returns, or — when called from
 * a reply callback — right after that callback), closes, and frees once every handle is
 * closed (the loop must run on). on_closed may be NULL. */
void mc_redis_close(mc_redis_t *r, void (*on_closed)(void *), void *data);
bool mc_redis_up(const mc_redis_t *r);

/* Sends a command (hiredis format string). Returns 0 when sent; -1 when not connected
 * (cb is then not called). cb may be NULL (fire and forget). */
int mc_redis_cmd(mc_redis_t *r, mc_redis_cb cb, void *data, const char *fmt, ...);
int mc_redis_cmd_argv(mc_redis_t *r, mc_redis_cb cb, void *data, int argc, const char **argv, const size_t *argvlen);

/* A Lua script run with EVALSHA, falling back to EVAL (and caching the SHA) on NOSCRIPT.
 * The script object is immutable and may be shared by every worker. */
typedef struct mc_redis_script mc_redis_script_t;
mc_redis_script_t *mc_redis_script_create(const char *source);
void mc_redis_script_free(mc_redis_script_t *s);
/* keys_then_args: nkeys keys then nargs arguments (copied); lens may be NULL (strlen).
 * Returns 0, or -1 when not connected (cb is then not called). */
int mc_redis_eval(mc_redis_t *r, const mc_redis_script_t *s, mc_redis_cb cb, void *data, int nkeys, int nargs,
                  const char **keys_then_args, const size_t *lens);

/* Pub/sub. */
typedef struct mc_redis_sub mc_redis_sub_t;
/* pattern is NULL for a plain SUBSCRIBE message. Runs on the loop. */
typedef void (*mc_redis_message_cb)(const char *pattern, const char *channel, size_t chlen, const char *msg, size_t msglen,
                                    void *data);
mc_redis_sub_t *mc_redis_sub_create(uv_loop_t *loop, const char *url, mc_redis_message_cb cb, void *data,
                                    const mc_redis_opts_t *opts, char *err, size_t errlen);
/* Adds a channel (or glob pattern with psubscribe) to the set; subscribes now when
 * connected and again after every reconnect. Idempotent. A subscription not confirmed
 * within the command timeout drops the connection (and re-subscribes on reconnect).
 * -1 only for an empty or over-long (1024) name. unsubscribe removes a channel or a
 * pattern. */
int mc_redis_sub_subscribe(mc_redis_sub_t *s, const char *channel);
int mc_redis_sub_psubscribe(mc_redis_sub_t *s, const char *pattern);
int mc_redis_sub_unsubscribe(mc_redis_sub_t *s, const char *channel);
bool mc_redis_sub_up(const mc_redis_sub_t *s);
void mc_redis_sub_close(mc_redis_sub_t *s, void (*on_closed)(void *), void *data);

#endif
