/*
 * Implementation of gw_ratelimit.h.
 *
 * The script receives one key per active policy and, per policy, its quota, its window
 * in microseconds and the units to charge. For each policy the stored value is the
 * theoretical arrival time (TAT, microseconds of Redis' clock) at which the client's
 * quota is full again; a charge of c units moves it c·w/q later, and is allowed while
 * that stays within one window of now. It answers
 *   {allowed (0/1), refusing policy (1-based, 0 none), retry after (ms),
 *    remaining units and reset (ms) per policy}.
 */
#include <arpa/inet.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_metrics.h"
#include "gw_ratelimit.h"
#include "mc_config.h"
#include "mc_log.h"

static const char GCRA_SCRIPT[] =
    "pcall(redis.replicate_commands)\n"
    "local t = redis.call('TIME')\n"
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2])\n"
    "local n = #KEYS\n"
    "local tats, nts = {}, {}\n"
    "local ok, refused, retry = 1, 0, 0\n"
    "for i = 1, n do\n"
    "  local q = tonumber(ARGV[i * 3 - 2])\n"
    "  local w = tonumber(ARGV[i * 3 - 1])\n"
    "  local c = tonumber(ARGV[i * 3])\n"
    "  local tat = tonumber(redis.call('GET', KEYS[i]) or '0') or 0\n"
    "  if tat < now then tat = now end\n"
    "  local nt = tat + c * w / q\n"
    "  local excess = nt - now - w\n"
    "  if excess > 0 then\n"
    "    ok = 0\n"
    "    if refused == 0 then refused = i end\n"
    "    if excess > retry then retry = excess end\n"
    "  end\n"
    "  tats[i] = tat\n"
    "  nts[i] = nt\n"
    "end\n"
    "local out = {ok, refused, math.ceil(retry / 1000)}\n"
    "for i = 1, n do\n"
    "  local q = tonumber(ARGV[i * 3 - 2])\n"
    "  local w = tonumber(ARGV[i * 3 - 1])\n"
    "  local tat = tats[i]\n"
    "  if ok == 1 then\n"
    "    tat = nts[i]\n"
    "    redis.call('SET', KEYS[i], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1000)\n"
    "  end\n"
    "  local left = math.floor((w - (tat - now)) * q / w)\n"
    "  if left < 0 then left = 0 end\n"
    "  out[#out + 1] = left\n"
    "  out[#out + 1] = math.ceil((tat - now) / 1000)\n"
    "end\n"
    "return out\n";

struct gw_ratelimit {
    gw_rl_config_t cfg;
    mc_redis_script_t *script;
    char policy_header[160];
};

int gw_rl_parse_policy(const char *s, gw_rl_policy_t *out)
{
    memset(out, 0, sizeof(*out));
    if (s == NULL || strcmp(s, "off") == 0)
        return 0;
    char *end;
    unsigned long long q = strtoull(s, &end, 10);
    if (end == s || *end != '/' || q == 0 || q > 1000000000000ULL)
        return -1;
    const char *w = end + 1;
    unsigned long window = strtoul(w, &end, 10);
    if (end == w || *end != '\0' || window == 0 || window > 86400 * 7)
        return -1;
    out->quota = q;
    out->window_s = (unsigned)window;
    return 0;
}

void gw_rl_config_load(gw_rl_config_t *cfg, uint64_t max_cost, bool production)
{
    memset(cfg, 0, sizeof(*cfg));
    if (gw_rl_parse_policy(mc_env_str("GATEWAY_RATE_LIMIT", production ? "600/60" : "off"),
                           &cfg->policy[GW_RL_REQUESTS]) != 0)
        mc_config_die("GATEWAY_RATE_LIMIT", "must be N/S (N requests per S seconds) or off");
    if (gw_rl_parse_policy(mc_env_str("GATEWAY_RATE_LIMIT_COST", production ? "200000/60" : "off"),
                           &cfg->policy[GW_RL_COST]) != 0)
        mc_config_die("GATEWAY_RATE_LIMIT_COST", "must be N/S (N cost units per S seconds) or off");
    if (cfg->policy[GW_RL_COST].quota != 0 && max_cost != 0 && cfg->policy[GW_RL_COST].quota < max_cost)
        mc_config_die("GATEWAY_RATE_LIMIT_COST",
                      "its quota must be at least GATEWAY_MAX_COST, or the dearest operations could never run");
    const char *fail = mc_env_str("GATEWAY_RATE_LIMIT_FAIL", "open");
    if (strcmp(fail, "open") == 0)
        cfg->fail_closed = false;
    else if (strcmp(fail, "closed") == 0)
        cfg->fail_closed = true;
    else
        mc_config_die("GATEWAY_RATE_LIMIT_FAIL", "must be open or closed");
}

static const char *const policy_names[GW_RL_NPOLICIES] = {"requests", "cost"};

gw_ratelimit_t *gw_ratelimit_create(const gw_rl_config_t *cfg)
{
    gw_ratelimit_t *rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->cfg = *cfg;
    rl->script = mc_redis_script_create(GCRA_SCRIPT);
    if (rl->script == NULL) {
        free(rl);
        return NULL;
    }
    size_t n = 0;
    for (int i = 0; i < GW_RL_NPOLICIES; ++i) {
        if (cfg->policy[i].quota == 0)
            continue;
        n += (size_t)snprintf(rl->policy_header + n, sizeof(rl->policy_header) - n, "%s\"%s\";q=%llu;w=%u",
                              n > 0 ? ", " : "", policy_names[i], (unsigned long long)cfg->policy[i].quota,
                              cfg->policy[i].window_s);
    }
    return rl;
}

void gw_ratelimit_free(gw_ratelimit_t *rl)
{
    if (rl == NULL)
        return;
    mc_redis_script_free(rl->script);
    free(rl);
}

bool gw_ratelimit_enabled(const gw_ratelimit_t *rl)
{
    return rl != NULL && (rl->cfg.policy[GW_RL_REQUESTS].quota != 0 || rl->cfg.policy[GW_RL_COST].quota != 0);
}

typedef struct check {
    gw_ratelimit_t *rl;
    gw_rl_cb cb;
    void *data;
    int policies[GW_RL_NPOLICIES]; /* which policy each script key is */
    int n;
} check_t;

static void unavailable(gw_ratelimit_t *rl, gw_rl_cb cb, void *data, const char *why)
{
    gw_rl_result_t r;
    memset(&r, 0, sizeof(r));
    r.unavailable = true;
    r.refused_by = -1;
    r.allowed = !rl->cfg.fail_closed;
    gw_metrics_count(r.allowed ? GW_C_RL_DOWN_ALLOWED : GW_C_RL_DOWN_REFUSED);
    mc_log_debug("rate limits could not be checked (%s): %s", why, r.allowed ? "allowed" : "refused");
    cb(&r, data);
}

static void on_reply(redisReply *reply, const char *err, void *arg)
{
    check_t *c = arg;
    gw_ratelimit_t *rl = c->rl;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != (size_t)(3 + 2 * c->n)) {
        const char *why = err != NULL                                 ? err
                          : reply != NULL && reply->type == REDIS_REPLY_ERROR ? reply->str
                                                                      : "unexpected reply";
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
            mc_log_warn("rate-limit script failed: %s", reply->str);
        unavailable(rl, c->cb, c->data, why);
        free(c);
        return;
    }
    for (size_t i = 0; i < reply->elements; ++i)
        if (reply->element[i]->type != REDIS_REPLY_INTEGER) {
            unavailable(rl, c->cb, c->data, "unexpected reply");
            free(c);
            return;
        }
    gw_rl_result_t r;
    memset(&r, 0, sizeof(r));
    r.allowed = reply->element[0]->integer == 1;
    long long refused = reply->element[1]->integer;
    r.refused_by = refused >= 1 && refused <= c->n ? c->policies[refused - 1] : -1;
    long long retry_ms = reply->element[2]->integer;
    r.retry_after_s = retry_ms <= 0 ? 1 : (unsigned)((retry_ms + 999) / 1000);
    r.known = true;
    for (int i = 0; i < c->n; ++i) {
        long long left = reply->element[3 + 2 * i]->integer;
        long long reset_ms = reply->element[4 + 2 * i]->integer;
        r.remaining[c->policies[i]] = left < 0 ? 0 : (uint64_t)left;
        r.reset_s[c->policies[i]] = reset_ms <= 0 ? 0 : (unsigned)((reset_ms + 999) / 1000);
    }
    if (!r.allowed)
        gw_metrics_count(r.refused_by == GW_RL_COST ? GW_C_RL_COST : GW_C_RL_REQUESTS);
    c->cb(&r, c->data);
    free(c);
}

void gw_ratelimit_check(gw_ratelimit_t *rl, mc_redis_t *redis, const char *identity, uint64_t cost, gw_rl_cb cb,
                        void *data)
{
    if (!gw_ratelimit_enabled(rl)) {
        gw_rl_result_t r;
        memset(&r, 0, sizeof(r));
        r.allowed = true;
        r.refused_by = -1;
        cb(&r, data);
        return;
    }
    if (redis == NULL || !mc_redis_up(redis)) {
        unavailable(rl, cb, data, "not connected");
        return;
    }
    check_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->rl = rl;
    c->cb = cb;
    c->data = data;
    char keys[GW_RL_NPOLICIES][320], args[GW_RL_NPOLICIES * 3][32];
    const char *argv[GW_RL_NPOLICIES * 4];
    for (int i = 0; i < GW_RL_NPOLICIES; ++i) {
        const gw_rl_policy_t *p = &rl->cfg.policy[i];
        if (p->quota == 0)
            continue;
        int k = c->n++;
        c->policies[k] = i;
        /* The policy is part of the key: gateways configured differently (a rolling
         * change of the quota) must not read each other's arrival times. */
        snprintf(keys[k], sizeof(keys[k]), "gw:rl:{%s}:%s:%llu/%u", identity, policy_names[i],
                 (unsigned long long)p->quota, p->window_s);
        snprintf(args[k * 3], sizeof(args[0]), "%llu", (unsigned long long)p->quota);
        snprintf(args[k * 3 + 1], sizeof(args[0]), "%llu", (unsigned long long)p->window_s * 1000000ull);
        uint64_t units = i == GW_RL_REQUESTS ? 1 : cost;
        snprintf(args[k * 3 + 2], sizeof(args[0]), "%llu", (unsigned long long)units);
    }
    for (int k = 0; k < c->n; ++k)
        argv[k] = keys[k];
    for (int k = 0; k < c->n * 3; ++k)
        argv[c->n + k] = args[k];
    if (mc_redis_eval(redis, rl->script, on_reply, c, c->n, c->n * 3, argv, NULL) != 0) {
        free(c);
        unavailable(rl, cb, data, "not connected");
    }
}

void gw_ratelimit_headers(const gw_ratelimit_t *rl, const gw_rl_result_t *r, mc_req_t *req)
{
    if (!gw_ratelimit_enabled(rl))
        return;
    mc_req_add_header(req, "ratelimit-policy", rl->policy_header);
    if (r->known) {
        char v[200];
        size_t n = 0;
        for (int i = 0; i < GW_RL_NPOLICIES; ++i) {
            if (rl->cfg.policy[i].quota == 0)
                continue;
            n += (size_t)snprintf(v + n, sizeof(v) - n, "%s\"%s\";r=%llu;t=%u", n > 0 ? ", " : "", policy_names[i],
                                  (unsigned long long)r->remaining[i], r->reset_s[i]);
        }
        mc_req_add_header(req, "ratelimit", v);
    }
    if (!r->allowed) {
        char ra[16];
        snprintf(ra, sizeof(ra), "%u", r->unavailable ? 1 : r->retry_after_s);
        mc_req_add_header(req, "retry-after", ra);
    }
}

const char *gw_ratelimit_identity(const mc_claims_t *claims, const char *client_address, char *buf, size_t n)
{
    if (claims != NULL && claims->sub[0] != '\0') {
        snprintf(buf, n, "u:%s", claims->sub);
        return buf;
    }
    const char *a = client_address != NULL ? client_address : "unknown";
    if (strchr(a, ':') != NULL) {
        /* IPv6: the first four groups (the /64), expanded so that "::" forms agree */
        unsigned char b[16];
        struct in6_addr in6;
        if (inet_pton(AF_INET6, a, &in6) == 1) {
            memcpy(b, &in6, 16);
            snprintf(buf, n, "ip:%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", b[0], b[1], b[2], b[3], b[4], b[5], b[6],
                     b[7]);
            return buf;
        }
    }
    snprintf(buf, n, "ip:%s", a);
    return buf;
}
