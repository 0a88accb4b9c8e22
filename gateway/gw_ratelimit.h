/*
 * gw_ratelimit: rate limits per client, shared by every gateway instance through Redis.
 *
 * Who: a signed-in client is its user id (the verified token's subject), an anonymous
 * one its address (the connection's, or the last X-Forwarded-For entry behind a trusted
 * proxy; IPv6 addresses count per /64, which one subscriber usually holds whole).
 *
 * What: two policies, each a quota per window — requests (GATEWAY_RATE_LIMIT, every
 * GraphQL request counts 1) and cost (GATEWAY_RATE_LIMIT_COST, an operation counts its
 * estimated cost, gql_limits' model: a page of 50 products with their reviews costs more
 * than one product's name). A request must fit both; if it does not, neither is charged.
 *
 * How: the generic cell rate algorithm (GCRA) in one Lua script run by Redis, so the
 * check and the update are atomic for every instance at once and only one timestamp per
 * client and policy is stored (a key that expires when the client is back to a full
 * quota). Time is Redis' own (TIME), so the instances' clocks do not matter. With a
 * quota q per window w, the policy refills q/w units per second and allows a burst of q.
 *
 * The answer tells the client (draft-ietf-httpapi-ratelimit-headers):
 *   RateLimit-Policy: "requests";q=600;w=60, "cost";q=200000;w=60
 *   RateLimit: "requests";r=598;t=1, "cost";r=199650;t=1
 * with r the units left and t the seconds until the quota is full again; a refused
 * request also gets Retry-After (seconds) and 429, RATE_LIMITED.
 *
 * Redis unavailable (down, or no answer within REDIS_COMMAND_TIMEOUT_MS): with
 * GATEWAY_RATE_LIMIT_FAIL=open (the default) the request goes on unlimited — a Redis
 * outage must not become an API outage —; with closed it is refused with 503.
 */
#ifndef GW_RATELIMIT_H
#define GW_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "mc_jwt.h"
#include "mc_redis.h"
#include "mc_req.h"

enum { GW_RL_REQUESTS, GW_RL_COST, GW_RL_NPOLICIES };

typedef struct gw_rl_policy {
    uint64_t quota;    /* units per window; 0 = no limit */
    unsigned window_s;
} gw_rl_policy_t;

typedef struct gw_rl_config {
    gw_rl_policy_t policy[GW_RL_NPOLICIES];
    bool fail_closed; /* GATEWAY_RATE_LIMIT_FAIL=closed */
} gw_rl_config_t;

/* Reads GATEWAY_RATE_LIMIT, GATEWAY_RATE_LIMIT_COST, GATEWAY_RATE_LIMIT_FAIL; a cost
 * quota below max_cost (GATEWAY_MAX_COST) would refuse the dearest operations forever
 * and stops the start. The policies default to 600/60 and 200000/60 in production and
 * to off elsewhere (development, tests and load tests come from one address). */
void gw_rl_config_load(gw_rl_config_t *cfg, uint64_t max_cost, bool production);
/* "600/60" → {600, 60}; "off" → {0, 0}. -1 when malformed. Pure. */
int gw_rl_parse_policy(const char *s, gw_rl_policy_t *out);

typedef struct gw_rl_result {
    bool allowed;
    bool unavailable;       /* Redis did not answer (allowed tells what fail-open/closed decided) */
    int refused_by;         /* GW_RL_REQUESTS or GW_RL_COST when refused by a policy, else -1 */
    unsigned retry_after_s; /* when refused */
    bool known;             /* remaining/reset below are set */
    uint64_t remaining[GW_RL_NPOLICIES];
    unsigned reset_s[GW_RL_NPOLICIES];
} gw_rl_result_t;

typedef void (*gw_rl_cb)(const gw_rl_result_t *r, void *data);

typedef struct gw_ratelimit gw_ratelimit_t;

gw_ratelimit_t *gw_ratelimit_create(const gw_rl_config_t *cfg);
void gw_ratelimit_free(gw_ratelimit_t *rl);
bool gw_ratelimit_enabled(const gw_ratelimit_t *rl);

/* Charges `cost` to the identity's cost policy and 1 to its request policy, on this
 * worker's Redis connection (redis may be NULL: unavailable). cb runs exactly once,
 * possibly before this returns (limits off, Redis not connected). */
void gw_ratelimit_check(gw_ratelimit_t *rl, mc_redis_t *redis, const char *identity, uint64_t cost, gw_rl_cb cb,
                        void *data);
/* Adds RateLimit-Policy, RateLimit (when known) and, when refused, Retry-After. */
void gw_ratelimit_headers(const gw_ratelimit_t *rl, const gw_rl_result_t *r, mc_req_t *req);

/* The identity of a client: "u:<sub>" when signed in, else "ip:<address>" (IPv6 per
 * /64). Written into buf (NUL-terminated); returns buf. */
const char *gw_ratelimit_identity(const mc_claims_t *claims, const char *client_address, char *buf, size_t n);

#endif
