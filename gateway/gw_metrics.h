/*
 * gw_metrics: the gateway's Prometheus metrics, served at GET /metrics in the text
 * exposition format (version 0.0.4).
 *
 *   gateway_requests_total{operation,type,outcome}        GraphQL requests
 *   gateway_request_duration_seconds{operation,type}      their latency (histogram)
 *   gateway_requests_in_flight                            requests being answered
 *   gateway_upstream_requests_total{service,result}       calls to services, each attempt
 *   gateway_upstream_duration_seconds{service}            their latency (histogram)
 *   gateway_upstream_retries_total{service,decision}      retries made / refused by the budget
 *   gateway_circuit_breaker_state{service}                0 closed, 1 half-open, 2 open
 *   gateway_circuit_breaker_transitions_total{service,to} opened / closed
 *   gateway_circuit_breaker_rejections_total{service}     calls failed fast while open
 *   gateway_websocket_connections, gateway_subscriptions  WebSockets open, subscriptions active
 *   gateway_rate_limited_total{limit}                     429s by the limit that refused
 *   gateway_rate_limiter_unavailable_total{decision}      Redis did not answer: allowed/refused
 *   gateway_limit_rejections_total{limit}                 documents refused by a query limit
 *   gateway_document_cache_total{result}                  parsed-document cache hits/misses
 *   gateway_persisted_queries_total{result}               APQ / trusted documents
 *   gateway_deduplicated_requests_total                   queries answered by an identical one's execution
 *   gateway_csrf_refused_total, gateway_introspection_refused_total
 *   gateway_schema_reloads_total{result}, gateway_schema_generation
 *   process_resident_memory_bytes, process_cpu_seconds_total, process_start_time_seconds
 *
 * Why process-wide counters: every worker thread updates them with relaxed atomic
 * additions (no lock on the hot path but the operation table's), and a scrape reads
 * them whenever it comes. Operation names are the clients' to choose: at most
 * GATEWAY_METRICS_MAX_OPERATIONS distinct (name, type) pairs get their own series, the
 * rest count under operation="(other)"; only documents that validated name a series.
 */
#ifndef GW_METRICS_H
#define GW_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "gw_schema.h"
#include "mc_req.h"

/* How a GraphQL request ended. */
typedef enum gw_outcome {
    GW_OUTCOME_SUCCESS,      /* executed, no errors */
    GW_OUTCOME_PARTIAL,      /* executed, data with errors */
    GW_OUTCOME_FAILED,       /* executed, no data (or the gateway failed) */
    GW_OUTCOME_INVALID,      /* refused before execution: malformed, invalid, a limit, CSRF */
    GW_OUTCOME_RATE_LIMITED, /* 429 */
    GW_OUTCOME_ABORTED,      /* the client went away */
    GW_OUTCOME__COUNT
} gw_outcome_t;

/* How one upstream call attempt ended. */
typedef enum gw_up_result {
    GW_UP_2XX,          /* 2xx, 3xx */
    GW_UP_4XX,
    GW_UP_5XX,
    GW_UP_TIMEOUT,
    GW_UP_ERROR,        /* refused, dropped, garbage */
    GW_UP_CIRCUIT_OPEN, /* failed fast: no call was made */
    GW_UP__COUNT
} gw_up_result_t;

typedef enum gw_counter {
    GW_C_DOC_HIT,
    GW_C_DOC_MISS,
    GW_C_APQ_HIT,        /* a hash found (memory, Redis or the trusted list) */
    GW_C_APQ_MISS,       /* PersistedQueryNotFound */
    GW_C_APQ_REGISTERED, /* a document stored under its hash */
    GW_C_APQ_REFUSED,    /* trusted documents: a document not on the list */
    GW_C_DEDUPED,        /* a query answered by an identical one's execution */
    GW_C_RL_REQUESTS,    /* refused by the request-rate limit */
    GW_C_RL_COST,        /* refused by the cost limit */
    GW_C_RL_DOWN_ALLOWED,
    GW_C_RL_DOWN_REFUSED,
    GW_C_RELOAD_OK,
    GW_C_RELOAD_FAILED,
    GW_C_CSRF,
    GW_C_INTROSPECTION,
    GW_C_LIMIT_TOKENS, /* the GW_C_LIMIT_* run in gql_limits' order */
    GW_C_LIMIT_DEPTH,
    GW_C_LIMIT_ALIASES,
    GW_C_LIMIT_DIRECTIVES,
    GW_C_LIMIT_ROOT_FIELDS,
    GW_C_LIMIT_COST,
    GW_C__COUNT
} gw_counter_t;

/* Once at start, before the workers (service names for the labels). */
void gw_metrics_init(const gw_services_t *svcs, unsigned max_operations);
void gw_metrics_free(void);

void gw_metrics_count(gw_counter_t c);
/* The outcome's label ("success", "rate_limited", …). */
const char *gw_outcome_name(gw_outcome_t o);
/* A finished GraphQL request; operation NULL when the document never validated, "" for
 * an anonymous operation; type "query", "mutation", "subscription" or NULL. */
void gw_metrics_request(const char *operation, const char *type, gw_outcome_t outcome, uint64_t duration_ns);
void gw_metrics_inflight(int delta);
void gw_metrics_upstream(unsigned svc, gw_up_result_t result, uint64_t duration_ns);
/* A retry that was made (made) or refused because the service's retry budget is spent. */
void gw_metrics_retry(unsigned svc, bool made);
/* The schema in use changed (its generation, for gateway_schema_generation). */
void gw_metrics_schema_generation(uint64_t generation);

/* GET /metrics. */
void gw_handle_metrics(mc_req_t *req);

#endif
