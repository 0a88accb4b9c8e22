/*
 * Implementation of gw_metrics.h.
 *
 * Counters are _Atomic uint64_t updated with relaxed additions; a histogram is its
 * bucket counters (non-cumulative here, summed when written), a count and a sum in
 * microseconds. The operation table is an open-addressing hash of fixed capacity under
 * a mutex: entries are created once and never move or die, so a pointer to one stays
 * valid without the lock.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include "gw_gateway.h"
#include "gw_live.h"
#include "gw_metrics.h"
#include "gw_upstream.h"
#include "mc_util.h"

#define NBUCKETS 11
static const double bucket_le[NBUCKETS] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

typedef struct hist {
    _Atomic uint64_t b[NBUCKETS + 1]; /* the last one: above every bound */
    _Atomic uint64_t count;
    _Atomic uint64_t sum_us;
} hist_t;

typedef struct op_entry {
    char *name; /* NULL: "(unknown)" — the document never validated */
    char type[16];
    bool used;
    _Atomic uint64_t outcomes[GW_OUTCOME__COUNT];
    hist_t latency;
} op_entry_t;

static struct {
    bool inited;
    const char *services[GW_MAX_SERVICES];
    unsigned nservices;
    uv_mutex_t mu;
    op_entry_t *ops;
    unsigned cap, count, max_named;
    op_entry_t unknown, other;
    _Atomic uint64_t counters[GW_C__COUNT];
    _Atomic int64_t inflight;
    _Atomic uint64_t upstream[GW_MAX_SERVICES][GW_UP__COUNT];
    hist_t up_latency[GW_MAX_SERVICES];
    _Atomic uint64_t retries[GW_MAX_SERVICES][2];
    _Atomic uint64_t generation;
    double start_time;
} M;

void gw_metrics_init(const gw_services_t *svcs, unsigned max_operations)
{
    if (M.inited)
        return;
    M.inited = true;
    uv_mutex_init(&M.mu);
    M.nservices = svcs->n;
    for (unsigned i = 0; i < svcs->n; ++i)
        M.services[i] = svcs->s[i].name;
    M.max_named = max_operations;
    M.cap = 16;
    while (M.cap < max_operations * 2)
        M.cap *= 2;
    M.ops = calloc(M.cap, sizeof(*M.ops));
    strcpy(M.other.type, "");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    M.start_time = (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

void gw_metrics_free(void)
{
    if (!M.inited)
        return;
    for (unsigned i = 0; i < M.cap; ++i)
        free(M.ops[i].name);
    free(M.ops);
    uv_mutex_destroy(&M.mu);
    memset(&M, 0, sizeof(M));
}

static void hist_add(hist_t *h, uint64_t ns)
{
    double s = (double)ns / 1e9;
    unsigned i = 0;
    while (i < NBUCKETS && s > bucket_le[i])
        ++i;
    atomic_fetch_add_explicit(&h->b[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, ns / 1000, memory_order_relaxed);
}

void gw_metrics_count(gw_counter_t c)
{
    if (c < GW_C__COUNT)
        atomic_fetch_add_explicit(&M.counters[c], 1, memory_order_relaxed);
}

void gw_metrics_inflight(int delta)
{
    atomic_fetch_add_explicit(&M.inflight, delta, memory_order_relaxed);
}

void gw_metrics_schema_generation(uint64_t generation)
{
    atomic_store_explicit(&M.generation, generation, memory_order_relaxed);
}

static uint32_t name_hash(const char *name, const char *type)
{
    return mc_fnv1a_str(mc_fnv1a(mc_fnv1a_str(MC_FNV1A_INIT, name), "/", 1), type);
}

/* The entry of (operation, type): found, created, or "(other)" once the table is full. */
static op_entry_t *op_entry(const char *operation, const char *type)
{
    if (operation == NULL || !M.inited)
        return &M.unknown;
    if (type == NULL)
        type = "";
    if (strlen(operation) > 128 || strlen(type) >= sizeof(M.ops[0].type))
        return &M.other;
    uint32_t h = name_hash(operation, type);
    op_entry_t *e = NULL;
    uv_mutex_lock(&M.mu);
    for (uint32_t i = h & (M.cap - 1);; i = (i + 1) & (M.cap - 1)) {
        op_entry_t *x = &M.ops[i];
        if (!x->used) {
            if (M.count < M.max_named) {
                x->name = strdup(operation);
                if (x->name != NULL) {
                    strcpy(x->type, type);
                    x->used = true;
                    ++M.count;
                    e = x;
                }
            }
            break;
        }
        if (strcmp(x->name, operation) == 0 && strcmp(x->type, type) == 0) {
            e = x;
            break;
        }
    }
    uv_mutex_unlock(&M.mu);
    return e != NULL ? e : &M.other;
}

void gw_metrics_request(const char *operation, const char *type, gw_outcome_t outcome, uint64_t duration_ns)
{
    if (outcome >= GW_OUTCOME__COUNT)
        return;
    op_entry_t *e = op_entry(operation, type);
    atomic_fetch_add_explicit(&e->outcomes[outcome], 1, memory_order_relaxed);
    hist_add(&e->latency, duration_ns);
}

void gw_metrics_upstream(unsigned svc, gw_up_result_t result, uint64_t duration_ns)
{
    if (svc >= GW_MAX_SERVICES || result >= GW_UP__COUNT)
        return;
    atomic_fetch_add_explicit(&M.upstream[svc][result], 1, memory_order_relaxed);
    if (result != GW_UP_CIRCUIT_OPEN)
        hist_add(&M.up_latency[svc], duration_ns);
}

void gw_metrics_retry(unsigned svc, bool made)
{
    if (svc < GW_MAX_SERVICES)
        atomic_fetch_add_explicit(&M.retries[svc][made ? 0 : 1], 1, memory_order_relaxed);
}

/* --- the exposition --------------------------------------------------------------------------- */

static uint64_t get(_Atomic uint64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

static void header(gql_buf *out, const char *name, const char *type, const char *help)
{
    gql_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A label value with \, " and newlines escaped. */
static void label(gql_buf *out, const char *v)
{
    for (; *v != '\0'; ++v) {
        if (*v == '\\' || *v == '"')
            gql_buf_putc(out, '\\');
        if (*v == '\n') {
            gql_buf_puts(out, "\\n");
            continue;
        }
        gql_buf_putc(out, *v);
    }
}

static void write_hist(gql_buf *out, const char *name, const char *labels, hist_t *h)
{
    uint64_t cum = 0;
    for (unsigned i = 0; i <= NBUCKETS; ++i) {
        cum += get(&h->b[i]);
        if (i < NBUCKETS)
            gql_buf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, *labels ? "," : "", bucket_le[i],
                           (unsigned long long)cum);
        else
            gql_buf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, *labels ? "," : "",
                           (unsigned long long)cum);
    }
    gql_buf_printf(out, "%s_sum{%s} %.6f\n%s_count{%s} %llu\n", name, labels, (double)get(&h->sum_us) / 1e6, name,
                   labels, (unsigned long long)get(&h->count));
}

static const char *const outcome_names[GW_OUTCOME__COUNT] = {"success", "partial", "failed",
                                                             "invalid", "rate_limited", "aborted"};
static const char *const up_names[GW_UP__COUNT] = {"2xx", "4xx", "5xx", "timeout", "error", "circuit_open"};

const char *gw_outcome_name(gw_outcome_t o)
{
    return o < GW_OUTCOME__COUNT ? outcome_names[o] : "unknown";
}

static void op_labels(gql_buf *l, const op_entry_t *e)
{
    gql_buf_reset(l);
    gql_buf_puts(l, "operation=\"");
    if (e == &M.unknown)
        gql_buf_puts(l, "(unknown)");
    else if (e == &M.other)
        gql_buf_puts(l, "(other)");
    else
        label(l, e->name);
    gql_buf_puts(l, "\",type=\"");
    label(l, e->type);
    gql_buf_putc(l, '"');
}

static void write_ops(gql_buf *out)
{
    gql_buf l;
    gql_buf_init(&l, 0);
    /* Entries are created under the lock: hold it so a new one is seen whole. */
    if (M.inited)
        uv_mutex_lock(&M.mu);
    header(out, "gateway_requests_total", "counter", "GraphQL requests by operation, type and outcome.");
    op_entry_t *special[] = {&M.unknown, &M.other};
    for (int pass = 0; pass < 2; ++pass) {
        for (unsigned i = 0; i < (pass == 0 ? M.cap : 2); ++i) {
            op_entry_t *e = pass == 0 ? &M.ops[i] : special[i];
            if (pass == 0 && !e->used)
                continue;
            op_labels(&l, e);
            for (unsigned o = 0; o < GW_OUTCOME__COUNT; ++o)
                gql_buf_printf(out, "gateway_requests_total{%s,outcome=\"%s\"} %llu\n", gql_buf_cstr(&l),
                               outcome_names[o], (unsigned long long)get(&e->outcomes[o]));
        }
    }
    header(out, "gateway_request_duration_seconds", "histogram", "GraphQL request latency by operation.");
    for (int pass = 0; pass < 2; ++pass) {
        for (unsigned i = 0; i < (pass == 0 ? M.cap : 2); ++i) {
            op_entry_t *e = pass == 0 ? &M.ops[i] : special[i];
            if (pass == 0 && !e->used)
                continue;
            op_labels(&l, e);
            write_hist(out, "gateway_request_duration_seconds", gql_buf_cstr(&l), &e->latency);
        }
    }
    if (M.inited)
        uv_mutex_unlock(&M.mu);
    gql_buf_free(&l);
}

static void write_counter(gql_buf *out, const char *name, const char *help, const char *lname,
                          const char *const *lvalues, const gw_counter_t *cs, unsigned n)
{
    header(out, name, "counter", help);
    for (unsigned i = 0; i < n; ++i) {
        if (lname != NULL)
            gql_buf_printf(out, "%s{%s=\"%s\"} %llu\n", name, lname, lvalues[i], (unsigned long long)get(&M.counters[cs[i]]));
        else
            gql_buf_printf(out, "%s %llu\n", name, (unsigned long long)get(&M.counters[cs[i]]));
    }
}

static void write_process(gql_buf *out)
{
    long rss_pages = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp != NULL) {
        long size;
        if (fscanf(fp, "%ld %ld", &size, &rss_pages) != 2)
            rss_pages = 0;
        fclose(fp);
    }
    header(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    gql_buf_printf(out, "process_resident_memory_bytes %lld\n", (long long)rss_pages * sysconf(_SC_PAGESIZE));
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    header(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent in seconds.");
    gql_buf_printf(out, "process_cpu_seconds_total %.3f\n",
                   (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
                       ru.ru_stime.tv_usec / 1e6);
    header(out, "process_start_time_seconds", "gauge", "Start time of the process since the epoch, in seconds.");
    gql_buf_printf(out, "process_start_time_seconds %.3f\n", M.start_time);
}

/* Writes every metric. g gives the breakers; its subscriptions' gauges come with it. */
static void write_all(gql_buf *out, gw_gateway_t *g)
{
    write_ops(out);
    header(out, "gateway_requests_in_flight", "gauge", "GraphQL requests being answered.");
    gql_buf_printf(out, "gateway_requests_in_flight %lld\n",
                   (long long)atomic_load_explicit(&M.inflight, memory_order_relaxed));

    header(out, "gateway_upstream_requests_total", "counter",
           "Calls to the services, each attempt, by result (circuit_open: failed fast, no call made).");
    for (unsigned s = 0; s < M.nservices; ++s)
        for (unsigned r = 0; r < GW_UP__COUNT; ++r)
            gql_buf_printf(out, "gateway_upstream_requests_total{service=\"%s\",result=\"%s\"} %llu\n", M.services[s],
                           up_names[r], (unsigned long long)get(&M.upstream[s][r]));
    header(out, "gateway_upstream_duration_seconds", "histogram", "Latency of the calls to the services.");
    for (unsigned s = 0; s < M.nservices; ++s) {
        char l[64];
        snprintf(l, sizeof(l), "service=\"%s\"", M.services[s]);
        write_hist(out, "gateway_upstream_duration_seconds", l, &M.up_latency[s]);
    }
    header(out, "gateway_upstream_retries_total", "counter",
           "Retries of idempotent calls: made, or refused because the service's retry budget was spent.");
    for (unsigned s = 0; s < M.nservices; ++s)
        gql_buf_printf(out,
                       "gateway_upstream_retries_total{service=\"%s\",decision=\"made\"} %llu\n"
                       "gateway_upstream_retries_total{service=\"%s\",decision=\"budget_exhausted\"} %llu\n",
                       M.services[s], (unsigned long long)get(&M.retries[s][0]), M.services[s],
                       (unsigned long long)get(&M.retries[s][1]));

    if (g != NULL && g->upstreams != NULL) {
        gw_breaker_state_t st[GW_MAX_SERVICES];
        uint64_t rej[GW_MAX_SERVICES], op[GW_MAX_SERVICES], cl[GW_MAX_SERVICES];
        for (unsigned s = 0; s < g->upstreams->n; ++s)
            st[s] = gw_breaker_snapshot(&g->upstreams->breakers[s], &rej[s], &op[s], &cl[s]);
        header(out, "gateway_circuit_breaker_state", "gauge", "Circuit breaker state: 0 closed, 1 half-open, 2 open.");
        for (unsigned s = 0; s < g->upstreams->n; ++s)
            gql_buf_printf(out, "gateway_circuit_breaker_state{service=\"%s\"} %d\n", M.services[s], (int)st[s]);
        header(out, "gateway_circuit_breaker_transitions_total", "counter", "Circuit breaker transitions.");
        for (unsigned s = 0; s < g->upstreams->n; ++s)
            gql_buf_printf(out,
                           "gateway_circuit_breaker_transitions_total{service=\"%s\",to=\"open\"} %llu\n"
                           "gateway_circuit_breaker_transitions_total{service=\"%s\",to=\"closed\"} %llu\n",
                           M.services[s], (unsigned long long)op[s], M.services[s], (unsigned long long)cl[s]);
        header(out, "gateway_circuit_breaker_rejections_total", "counter",
               "Calls failed fast because the service's circuit was open.");
        for (unsigned s = 0; s < g->upstreams->n; ++s)
            gql_buf_printf(out, "gateway_circuit_breaker_rejections_total{service=\"%s\"} %llu\n", M.services[s],
                           (unsigned long long)rej[s]);
    }

    if (g != NULL && g->live != NULL) {
        header(out, "gateway_websocket_connections", "gauge", "WebSocket connections open.");
        gql_buf_printf(out, "gateway_websocket_connections %u\n", gw_live_connections(g->live));
        header(out, "gateway_subscriptions", "gauge", "Subscriptions active.");
        gql_buf_printf(out, "gateway_subscriptions %u\n", gw_live_subscriptions(g->live));
    }

    static const char *const rl_l[] = {"requests", "cost"};
    static const gw_counter_t rl_c[] = {GW_C_RL_REQUESTS, GW_C_RL_COST};
    write_counter(out, "gateway_rate_limited_total", "Requests refused with 429, by the limit that refused them.",
                  "limit", rl_l, rl_c, 2);
    static const char *const rd_l[] = {"allowed", "refused"};
    static const gw_counter_t rd_c[] = {GW_C_RL_DOWN_ALLOWED, GW_C_RL_DOWN_REFUSED};
    write_counter(out, "gateway_rate_limiter_unavailable_total",
                  "Requests whose rate limit Redis could not check, by what the gateway did (fail-open or closed).",
                  "decision", rd_l, rd_c, 2);
    static const char *const lim_l[] = {"tokens", "depth", "aliases", "directives", "root_fields", "cost"};
    static const gw_counter_t lim_c[] = {GW_C_LIMIT_TOKENS,     GW_C_LIMIT_DEPTH,       GW_C_LIMIT_ALIASES,
                                         GW_C_LIMIT_DIRECTIVES, GW_C_LIMIT_ROOT_FIELDS, GW_C_LIMIT_COST};
    write_counter(out, "gateway_limit_rejections_total", "Documents refused by a query limit, by limit.", "limit",
                  lim_l, lim_c, 6);
    static const char *const dc_l[] = {"hit", "miss"};
    static const gw_counter_t dc_c[] = {GW_C_DOC_HIT, GW_C_DOC_MISS};
    write_counter(out, "gateway_document_cache_total", "Parsed and validated documents found in the cache, or not.",
                  "result", dc_l, dc_c, 2);
    static const char *const pq_l[] = {"hit", "not_found", "registered", "refused"};
    static const gw_counter_t pq_c[] = {GW_C_APQ_HIT, GW_C_APQ_MISS, GW_C_APQ_REGISTERED, GW_C_APQ_REFUSED};
    write_counter(out, "gateway_persisted_queries_total",
                  "Persisted queries: hashes found, not found, documents registered, documents refused "
                  "(not trusted).",
                  "result", pq_l, pq_c, 4);
    static const gw_counter_t dd_c[] = {GW_C_DEDUPED};
    write_counter(out, "gateway_deduplicated_requests_total",
                  "Queries answered by the execution of an identical query in flight.", NULL, NULL, dd_c, 1);
    static const gw_counter_t cs_c[] = {GW_C_CSRF};
    write_counter(out, "gateway_csrf_refused_total", "GET requests refused as possible cross-site request forgery.",
                  NULL, NULL, cs_c, 1);
    static const gw_counter_t in_c[] = {GW_C_INTROSPECTION};
    write_counter(out, "gateway_introspection_refused_total", "Introspection queries refused (introspection off).",
                  NULL, NULL, in_c, 1);
    static const char *const rl2_l[] = {"ok", "refused"};
    static const gw_counter_t rl2_c[] = {GW_C_RELOAD_OK, GW_C_RELOAD_FAILED};
    write_counter(out, "gateway_schema_reloads_total", "Schema reloads (SIGHUP): applied, or refused as invalid.",
                  "result", rl2_l, rl2_c, 2);
    header(out, "gateway_schema_generation", "gauge", "Generation of the schema in use (1 at start, +1 per reload).");
    gql_buf_printf(out, "gateway_schema_generation %llu\n", (unsigned long long)get(&M.generation));
    write_process(out);
}

void gw_handle_metrics(mc_req_t *req)
{
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    if (!g->cfg.metrics) {
        mc_respond_error(req, MC_ERR_NOT_FOUND, NULL, "no route for GET /metrics");
        return;
    }
    gql_buf out;
    gql_buf_init(&out, 0);
    write_all(&out, g);
    mc_respond_raw(req, 200, "text/plain; version=0.0.4; charset=utf-8", out.data, out.len);
    gql_buf_free(&out);
}
