/*
 * gw_gateway: the gateway process's configuration and shared state, and the HTTP
 * handlers of its routes.
 *
 *   POST /graphql, GET /graphql       GraphQL over HTTP (gw_http.c)
 *   GET /graphql (Accept: text/html)  the GraphiQL playground (gw_playground.c)
 *   GET /graphql/assets/:file         the playground's scripts and styles
 *   GET /ready                        the gateway and a summary of the services (gw_ready.c)
 *   GET /metrics                      Prometheus metrics (gw_metrics.c)
 *   OPTIONS /graphql                  CORS preflights (gw_cors.c)
 *   GET /health                       built in (lib/)
 *
 * Process-wide state (the schema, the services, the playground's files) is created
 * before the workers start and only read afterwards; what a worker owns (its HTTP
 * client to the services, its document cache) lives in its gw_worker_t.
 */
#ifndef GW_GATEWAY_H
#define GW_GATEWAY_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>
#include "gql.h"
#include "gw_apq.h"
#include "gw_cors.h"
#include "gw_op.h"
#include "gw_ratelimit.h"
#include "gw_schema.h"
#include "gw_upstream.h"
#include "mc_req.h"
#include "mc_server.h"

typedef struct gw_config {
    const char *schema_dir;        /* GATEWAY_SCHEMA_DIR */
    unsigned upstream_timeout_ms;  /* GATEWAY_UPSTREAM_TIMEOUT_MS */
    unsigned upstream_connections; /* GATEWAY_UPSTREAM_CONNECTIONS: per service and worker */
    bool playground;               /* GATEWAY_PLAYGROUND */
    const char *playground_dir;    /* GATEWAY_PLAYGROUND_DIR */
    unsigned document_cache;       /* GATEWAY_DOCUMENT_CACHE: documents per worker */
    gql_limits limits;             /* GATEWAY_MAX_* (gw_limits.h) */
    bool introspection;            /* GATEWAY_INTROSPECTION: __schema and __type answer */
    bool suggestions;              /* GATEWAY_SUGGESTIONS: "Did you mean …?" in messages */
    unsigned request_timeout_ms;   /* GATEWAY_REQUEST_TIMEOUT_MS: the deadline of a whole operation */
    bool metrics;                  /* GATEWAY_METRICS: GET /metrics answers */
    bool deduplicate;              /* GATEWAY_DEDUPLICATE: identical queries in flight share one execution */
    unsigned metrics_max_operations; /* GATEWAY_METRICS_MAX_OPERATIONS */
    gw_cors_config_t cors;         /* GATEWAY_CORS_*, GATEWAY_CSRF_PREVENTION */
    gw_rl_config_t ratelimit;      /* GATEWAY_RATE_LIMIT* */
    gw_up_config_t upstream;       /* retries, retry budget, circuit breakers */
    gw_apq_config_t apq;           /* GATEWAY_APQ*, GATEWAY_TRUSTED_DOCUMENTS */
    unsigned ready_timeout_ms;     /* GATEWAY_READY_TIMEOUT_MS: how long /ready waits for a service */
    bool trust_forwarded_for;      /* GATEWAY_TRUST_FORWARDED_FOR: the client's address is the last
                                      X-Forwarded-For entry (a proxy in front adds it) */
} gw_config_t;

/* One file the playground page loads. */
typedef struct gw_asset {
    const char *name;         /* as in /graphql/assets/<name> */
    const char *path;         /* below the playground directory */
    const char *content_type;
    char *data;               /* malloc'd */
    size_t len;
    char *gz;                 /* gzip-compressed copy, or NULL */
    size_t gzlen;
    char etag[24];
} gw_asset_t;

#define GW_NASSETS 5

typedef struct gw_gateway {
    gw_config_t cfg;
    gw_services_t services;
    uv_mutex_t schema_lock; /* guards `schema` and `trusted` (swapped by a reload) */
    gw_schema_t *schema;
    gw_trusted_t *trusted;  /* the trusted documents, or NULL (any document runs) */
    gw_asset_t assets[GW_NASSETS];
    bool assets_loaded;
    gw_upstreams_t *upstreams; /* the services' circuit breakers, shared by the workers */
    gw_ratelimit_t *ratelimit; /* the policies and their script (the state is in Redis) */
    struct gw_live *live; /* subscriptions over WebSocket (gw_live.h) */
} gw_gateway_t;

/* Reads the configuration (exits with a message naming the variable when malformed). */
void gw_config_load(gw_config_t *cfg, gw_services_t *svcs, bool production);
/* The client's address: the connection's peer, or with trust_forwarded_for the last
 * entry of X-Forwarded-For when it is a plausible address. Lives with the request. */
const char *gw_client_address(mc_req_t *req, const gw_config_t *cfg);
/* The current schema with a new reference (release with gw_schema_unref). */
gw_schema_t *gw_gateway_schema(gw_gateway_t *g);
/* The trusted documents with a new reference, or NULL (release with gw_trusted_unref). */
gw_trusted_t *gw_gateway_trusted(gw_gateway_t *g);

/* Route handlers. */
void gw_handle_graphql(mc_req_t *req);
void gw_handle_asset(mc_req_t *req);
void gw_handle_ready(mc_req_t *req);

/* The playground (gw_playground.c): loads the assets at start; -1 with a message. */
int gw_playground_load(gw_gateway_t *g, char *err, size_t errlen);
void gw_playground_free(gw_gateway_t *g);
/* Answers GET /graphql for a browser. */
void gw_playground_page(mc_req_t *req);

/* The per-worker document cache (gw_http.c). */
void *gw_doccache_create(unsigned capacity);
void gw_doccache_free(void *cache);

#endif
