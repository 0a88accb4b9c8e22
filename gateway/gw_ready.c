/*
 * GET /ready: can this gateway serve, and how are the services it calls?
 *
 * Every service's /ready is asked at the same time (GATEWAY_READY_TIMEOUT_MS each).
 * A service that is down does not make the gateway unready — it would take every
 * gateway replica out of rotation at once, when the gateway can still answer every
 * field of the other services (partial data). So the answer is 200 with "ready" or
 * "degraded" and each service's state; 503 only when the gateway itself cannot serve:
 * no schema, or shutting down. Redis (rate limits, persisted queries) is reported the same
 * way: without it the gateway still serves.
 *
 *   {"status":"degraded","service":"gateway","schema":{"types":112,"boundFields":96},
 *    "checks":{"product":{"status":"up","required":false},
 *              "order":{"status":"down","required":false,"error":"connection failed"},
 *              "redis":{"status":"up","required":false,"rateLimitsFailClosed":false}}}
 */
#include <stdlib.h>
#include <string.h>
#include "gw_gateway.h"
#include "gw_live.h"

typedef struct ready {
    mc_req_t *req;
    json_t *checks;
    unsigned pending;
    bool down;
    bool unavailable;
    json_t *schema_info;
} ready_t;

typedef struct ready_call {
    ready_t *r;
    const char *name;
} ready_call_t;

static void ready_finish(ready_t *r)
{
    if (r->pending > 0)
        return;
    const char *status = r->unavailable ? "unavailable" : r->down ? "degraded" : "ready";
    json_t *body = json_pack("{s:s,s:s,s:o,s:o}", "status", status, "service", "gateway", "schema",
                             r->schema_info != NULL ? r->schema_info : json_null(), "checks", r->checks);
    mc_respond_json(r->req, r->unavailable ? 503 : 200, body);
    free(r);
}

static void on_service(const mc_http_response_t *res, void *data)
{
    ready_call_t *c = data;
    ready_t *r = c->r;
    bool up = res->err == NULL && res->status == 200;
    json_t *check = json_pack("{s:s,s:b}", "status", up ? "up" : "down", "required", 0);
    if (!up) {
        r->down = true;
        if (res->err != NULL)
            json_object_set_new(check, "error", json_string(res->err));
        else
            json_object_set_new(check, "error", json_sprintf("its /ready answered %d", res->status));
    }
    json_object_set_new(r->checks, c->name, check);
    free(c);
    --r->pending;
    ready_finish(r);
}

void gw_handle_ready(mc_req_t *req)
{
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    ready_t *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "out of memory");
        return;
    }
    r->req = req;
    r->checks = json_object();
    if (mc_server_shutting_down(mc_req_server(req))) {
        r->unavailable = true;
        json_object_set_new(r->checks, "shutdown", json_pack("{s:s,s:b}", "status", "down", "required", 1));
    }
    gw_schema_t *s = gw_gateway_schema(g);
    if (s == NULL) {
        r->unavailable = true;
        json_object_set_new(r->checks, "schema", json_pack("{s:s,s:b}", "status", "down", "required", 1));
    } else {
        r->schema_info = json_pack("{s:i,s:i}", "types", (int)s->gql->ntypes, "boundFields", (int)s->nbound);
    }
    gw_worker_t *w = mc_worker_data(mc_req_worker(req));
    mc_http_client_t *http = w != NULL ? w->http : NULL;
    for (unsigned i = 0; i < g->services.n; ++i) {
        char url[512];
        snprintf(url, sizeof(url), "%s/ready", g->services.s[i].url);
        ready_call_t *c = calloc(1, sizeof(*c));
        if (c == NULL)
            continue;
        c->r = r;
        c->name = g->services.s[i].name;
        mc_http_request_t hr = {.method = "GET", .url = url, .timeout_ms = g->cfg.ready_timeout_ms,
                                .request_id = mc_req_id(req)};
        ++r->pending;
        if (http == NULL || mc_http_fetch(http, &hr, on_service, c, NULL) != 0) {
            --r->pending;
            free(c);
            r->down = true;
            json_object_set_new(r->checks, g->services.s[i].name,
                                json_pack("{s:s,s:b,s:s}", "status", "down", "required", 0, "error", "bad URL"));
        }
    }
    if (g->live != NULL) {
        /* subscriptions need the order events; queries do not: degraded, not unready */
        bool up = gw_live_events_up(g->live);
        if (!up)
            r->down = true;
        json_object_set_new(r->checks, "orderEvents",
                            json_pack("{s:s,s:b,s:i,s:i}", "status", up ? "up" : "down", "required", 0, "webSockets",
                                      (int)gw_live_connections(g->live), "subscriptions",
                                      (int)gw_live_subscriptions(g->live)));
    }
    {
        /* rate limits and persisted queries use this worker's Redis connection; without
         * it the gateway serves on (fail-open, or 503 for rate-limited requests when
         * fail-closed): degraded, not unready */
        mc_redis_t *redis = mc_worker_redis(mc_req_worker(req));
        bool up = redis != NULL && mc_redis_up(redis);
        if (!up)
            r->down = true;
        json_object_set_new(r->checks, "redis",
                            json_pack("{s:s,s:b,s:b}", "status", up ? "up" : "down", "required", 0, "rateLimitsFailClosed",
                                      g->cfg.ratelimit.fail_closed));
    }
    gw_schema_unref(s);
    ready_finish(r);
}
