/*
 * Rate limits and login backoff of the auth service, shared by every auth process through
 * Redis (one atomic Lua script per check), following limiter.h's arithmetic.
 *
 * Redis down: the check falls back to the worker's in-memory limiter (limiter.h) with the
 * same rules. Limits then hold per process instead of across the fleet — fail-soft rather
 * than fail-open (no limit at all would let a password-guessing run loose exactly when
 * Redis is attacked) or fail-closed (nobody could log in while Redis is down, which
 * DESIGN.md rules out: losing Redis may slow things down, never break them).
 *
 * Keys are "auth:rl:<rule>:<subject>"; subjects that are personal data (email addresses)
 * are stored as a SHA-256 prefix, never in clear.
 */
#ifndef AUTH_RATELIMIT_H
#define AUTH_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>
#include "config.h"
#include "limiter.h"
#include "mc_req.h"

#define AUTH_RL_MAX_RULES 4

typedef struct auth_rl_check {
    const char *keys[AUTH_RL_MAX_RULES];
    auth_rate_t rates[AUTH_RL_MAX_RULES];
    size_t n;
    const char *backoff_key; /* a login backoff to charge (NULL: none) */
} auth_rl_check_t;

/* Adds a rule: `rule` names it ("login-ip"), subject is what is limited (an address key,
 * a user id); hash_subject stores the subject as a hash. Strings live with req. */
void auth_rl_add(mc_req_t *req, auth_rl_check_t *c, const char *rule, const char *subject, bool hash_subject,
                 auth_rate_t rate);
/* The backoff key of an account (an email or a user id, hashed). */
const char *auth_rl_backoff_key(mc_req_t *req, const char *subject);

/* allowed false: the request should be refused with auth_rl_refuse(req, retry_ms). */
typedef void (*auth_rl_cb)(mc_req_t *req, bool allowed, int64_t retry_ms);
/* Checks and charges c (copied). cb runs exactly once, possibly before this returns
 * (fallback path). */
void auth_rl_take(mc_req_t *req, const auth_rl_check_t *c, auth_rl_cb cb);
/* Forgets an account's failed attempts after a successful login (fire and forget). */
void auth_rl_forget(mc_req_t *req, const char *backoff_key);
/* Answers 429 RATE_LIMITED with Retry-After (seconds, rounded up). */
void auth_rl_refuse(mc_req_t *req, int64_t retry_ms);

/* The client address used for per-IP limits: the X-Forwarded-For of a trusted caller (a
 * request that carries the right X-Internal-Key, i.e. the gateway) when it is an address,
 * otherwise the connection's peer — reduced by auth_ip_key. Lives with req. */
const char *auth_client_ip(mc_req_t *req);

void auth_rl_global_init(void);
void auth_rl_global_dispose(void);

#endif
