/*
 * Implementation of ratelimit.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_log.h"
#include "mc_redis.h"
#include "mc_util.h"
#include "ratelimit.h"
#include "rules.h"
#include "service.h"
#include "tokens.h"

/* KEYS: n GCRA keys, then optionally one backoff key. ARGV[1] = n; then for each GCRA
 * key its window (ms) and count; then, with a backoff key, free attempts, base ms, max ms,
 * memory ms. Returns {1, 0} when allowed (everything charged), {0, wait ms} otherwise
 * (nothing charged). Integers only: Lua numbers are doubles and tostring would write big
 * ones in exponent form. */
static const char script_src[] =
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"
    "local n = tonumber(ARGV[1])\n"
    "local wait = 0\n"
    "local tats = {}\n"
    "for i = 1, n do\n"
    "  local period = tonumber(ARGV[2 * i])\n"
    "  local count = tonumber(ARGV[2 * i + 1])\n"
    "  local em = math.ceil(period / count)\n"
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
    "  if tat < now then tat = now end\n"
    "  local nxt = tat + em\n"
    "  local allow_at = nxt - period\n"
    "  if allow_at - now > wait then wait = allow_at - now end\n"
    "  tats[i] = nxt\n"
    "end\n"
    "local bk = nil\n"
    "if #KEYS > n then\n"
    "  bk = KEYS[n + 1]\n"
    "  local u = tonumber(redis.call('HGET', bk, 'u') or '0') or 0\n"
    "  if u - now > wait then wait = u - now end\n"
    "end\n"
    "if wait > 0 then return {0, wait} end\n"
    "for i = 1, n do\n"
    "  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', string.format('%.0f', tats[i] - now + 1))\n"
    "end\n"
    "if bk then\n"
    "  local b = 2 * n + 2\n"
    "  local free = tonumber(ARGV[b])\n"
    "  local base = tonumber(ARGV[b + 1])\n"
    "  local max = tonumber(ARGV[b + 2])\n"
    "  local memory = tonumber(ARGV[b + 3])\n"
    "  local a = (tonumber(redis.call('HGET', bk, 'n') or '0') or 0) + 1\n"
    "  local u = 0\n"
    "  if a >= free then\n"
    "    local shift = a - free\n"
    "    local d = max\n"
    "    if shift < 40 then d = math.min(base * (2 ^ shift), max) end\n"
    "    u = now + d\n"
    "  end\n"
    "  redis.call('HSET', bk, 'n', string.format('%.0f', a), 'u', string.format('%.0f', u))\n"
    "  redis.call('PEXPIRE', bk, string.format('%.0f', memory))\n"
    "end\n"
    "return {1, 0}\n";

static mc_redis_script_t *script;

void auth_rl_global_init(void)
{
    script = mc_redis_script_create(script_src);
}

void auth_rl_global_dispose(void)
{
    mc_redis_script_free(script);
    script = NULL;
}

void auth_rl_add(mc_req_t *req, auth_rl_check_t *c, const char *rule, const char *subject, bool hash_subject,
                 auth_rate_t rate)
{
    if (c->n >= AUTH_RL_MAX_RULES || rate.count == 0 || subject == NULL)
        return;
    char hex[AUTH_TOKEN_HASH_HEX];
    if (hash_subject) {
        auth_token_hash(subject, strlen(subject), hex);
        hex[32] = '\0'; /* 128 bits are plenty to keep subjects apart */
        subject = hex;
    }
    size_t len = strlen(rule) + strlen(subject) + 16;
    char *key = mc_req_alloc(req, len);
    snprintf(key, len, "auth:rl:%s:%s", rule, subject);
    c->keys[c->n] = key;
    c->rates[c->n] = rate;
    c->n++;
}

const char *auth_rl_backoff_key(mc_req_t *req, const char *subject)
{
    char hex[AUTH_TOKEN_HASH_HEX];
    auth_token_hash(subject, strlen(subject), hex);
    hex[32] = '\0';
    char *key = mc_req_alloc(req, 64);
    snprintf(key, 64, "auth:rl:login-account:%.32s", hex);
    return key;
}

static auth_backoff_t backoff_params(void)
{
    const auth_config_t *cfg = auth_cfg();
    return (auth_backoff_t){cfg->login_free_attempts, cfg->login_backoff_base_ms, cfg->login_backoff_max_ms};
}

/* The in-process fallback. */
static void take_locally(mc_req_t *req, const auth_rl_check_t *c, auth_rl_cb cb)
{
    auth_backoff_t bo = backoff_params();
    int64_t retry = 0;
    bool ok = auth_limiter_take(auth_worker_of(req)->limiter, mc_now_ms(), c->keys, c->rates, c->n, c->backoff_key, &bo,
                                &retry);
    cb(req, ok, retry);
}

typedef struct pending {
    mc_req_t *req;
    auth_rl_check_t check;
    auth_rl_cb cb;
} pending_t;

static void on_reply(redisReply *reply, const char *err, void *data)
{
    pending_t *p = data;
    if (reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == 2 &&
        reply->element[0]->type == REDIS_REPLY_INTEGER && reply->element[1]->type == REDIS_REPLY_INTEGER) {
        bool ok = reply->element[0]->integer == 1;
        p->cb(p->req, ok, ok ? 0 : (int64_t)reply->element[1]->integer);
    } else {
        mc_log(MC_LOG_WARN, mc_req_id(p->req), "rate limit check failed (%s); using this process's limits",
               err != NULL ? err : (reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str : "bad reply"));
        take_locally(p->req, &p->check, p->cb);
    }
    mc_req_release(p->req);
    free(p);
}

void auth_rl_take(mc_req_t *req, const auth_rl_check_t *c, auth_rl_cb cb)
{
    if (c->n == 0 && c->backoff_key == NULL) {
        cb(req, true, 0);
        return;
    }
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    if (r == NULL || !mc_redis_up(r)) {
        take_locally(req, c, cb);
        return;
    }
    const char *argv[2 + 2 * AUTH_RL_MAX_RULES + 1 + 4 + 2 * AUTH_RL_MAX_RULES];
    char nums[2 * AUTH_RL_MAX_RULES + 5][24];
    int nk = 0, na = 0, ni = 0;
    const char *keys[AUTH_RL_MAX_RULES + 1], *args[1 + 2 * AUTH_RL_MAX_RULES + 4];
    for (size_t i = 0; i < c->n; ++i)
        keys[nk++] = c->keys[i];
    if (c->backoff_key != NULL)
        keys[nk++] = c->backoff_key;
    snprintf(nums[ni], sizeof(nums[ni]), "%zu", c->n);
    args[na++] = nums[ni++];
    for (size_t i = 0; i < c->n; ++i) {
        snprintf(nums[ni], sizeof(nums[ni]), "%llu", (unsigned long long)c->rates[i].window_s * 1000ull);
        args[na++] = nums[ni++];
        snprintf(nums[ni], sizeof(nums[ni]), "%u", c->rates[i].count);
        args[na++] = nums[ni++];
    }
    if (c->backoff_key != NULL) {
        auth_backoff_t bo = backoff_params();
        snprintf(nums[ni], sizeof(nums[ni]), "%u", bo.free_attempts);
        args[na++] = nums[ni++];
        snprintf(nums[ni], sizeof(nums[ni]), "%u", bo.base_ms);
        args[na++] = nums[ni++];
        snprintf(nums[ni], sizeof(nums[ni]), "%u", bo.max_ms);
        args[na++] = nums[ni++];
        snprintf(nums[ni], sizeof(nums[ni]), "%lld", (long long)AUTH_BACKOFF_MEMORY_MS);
        args[na++] = nums[ni++];
    }
    int total = 0;
    for (int i = 0; i < nk; ++i)
        argv[total++] = keys[i];
    for (int i = 0; i < na; ++i)
        argv[total++] = args[i];

    pending_t *p = malloc(sizeof(*p));
    if (p == NULL) {
        take_locally(req, c, cb);
        return;
    }
    *p = (pending_t){req, *c, cb};
    mc_req_retain(req);
    if (mc_redis_eval(r, script, on_reply, p, nk, na, argv, NULL) != 0) {
        mc_req_release(req);
        free(p);
        take_locally(req, c, cb);
    }
}

void auth_rl_forget(mc_req_t *req, const char *backoff_key)
{
    auth_limiter_forget(auth_worker_of(req)->limiter, backoff_key);
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    if (r != NULL && mc_redis_up(r))
        mc_redis_cmd(r, NULL, NULL, "DEL %s", backoff_key);
}

void auth_rl_refuse(mc_req_t *req, int64_t retry_ms)
{
    char secs[24];
    long long s = (retry_ms + 999) / 1000;
    snprintf(secs, sizeof(secs), "%lld", s > 0 ? s : 1);
    mc_req_add_header(req, "retry-after", secs);
    mc_respond_error(req, MC_ERR_RATE_LIMITED, json_pack("{s:I}", "retryAfterSeconds", (json_int_t)(s > 0 ? s : 1)),
                     "too many attempts; retry in %s s", secs);
}

const char *auth_client_ip(mc_req_t *req)
{
    char *out = mc_req_alloc(req, 64);
    const char *fwd = mc_req_is_internal(req) ? mc_req_header(req, "x-forwarded-for") : NULL;
    if (fwd != NULL) {
        /* The left-most entry is the client as the first proxy saw it. */
        char first[64];
        size_t n = strcspn(fwd, ",");
        while (n > 0 && fwd[n - 1] == ' ')
            --n;
        while (n > 0 && *fwd == ' ')
            ++fwd, --n;
        if (n < sizeof(first)) {
            memcpy(first, fwd, n);
            first[n] = '\0';
            if (auth_ip_key(first, out, 64))
                return out;
        }
    }
    if (!auth_ip_key(mc_req_peer(req), out, 64))
        snprintf(out, 64, "%s", "unknown");
    return out;
}
