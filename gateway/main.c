/*
 * The GraphQL gateway (port 4000): one GraphQL API stitched from the services' SDL
 * files (schema/<service>.graphql), each field bound to REST calls by directives. See
 * docs/gateway.md for the directives and the API, gw_gateway.h for the routes.
 *
 * Start-up: the configuration is read, every schema file is loaded and the merged
 * schema validated — an invalid schema or binding stops the process with errors naming
 * file and line —, the playground's files are loaded, then the workers start. Each
 * worker has its HTTP client (keep-alive pools to every service), its caller on top of
 * it (retries, deadline; the circuit breakers are process-wide), its Redis connection
 * (rate limits) and its document cache.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_gateway.h"
#include "gw_jalloc.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_live.h"
#include "mc_http.h"
#include "mc_log.h"

static gw_gateway_t gateway;

/* Logs errs (each with its file, line and column) after `what`; on start-up they go to
 * stderr too, where someone starting the gateway by hand looks. */
static void log_errors(const gw_gateway_t *g, bool starting, const gql_errors *errs, const char *what)
{
    gql_buf out;
    gql_buf_init(&out, 0);
    gw_errors_print(errs, &out);
    if (starting)
        fprintf(stderr, "%s", gql_buf_cstr(&out));
    mc_log_json(MC_LOG_ERROR, NULL, json_pack("{s:s,s:i}", "dir", g->cfg.schema_dir, "errors", (int)errs->count),
                "%s:\n%s", what, gql_buf_cstr(&out));
    gql_buf_free(&out);
}

/* Reads the schema files and, when configured, the trusted documents, which must
 * validate against that schema. Returns 0 with both set (*t NULL without a trusted
 * file), or -1 after logging why — on start-up the gateway then does not start, on a
 * reload the schema in use stays. */
static int load_schema(gw_gateway_t *g, bool starting, gw_schema_t **s_out, gw_trusted_t **t_out)
{
    gql_errors errs;
    gql_errors_init(&errs);
    gw_schema_t *s = gw_schema_load(g->cfg.schema_dir, &g->services, &errs);
    if (s == NULL) {
        log_errors(g, starting, &errs,
                   starting ? "the schema is invalid; the gateway does not start"
                            : "schema reload refused: the new schema is invalid; the one in use stays");
        gql_errors_free(&errs);
        return -1;
    }
    gql_errors_free(&errs);
    gw_trusted_t *t = NULL;
    if (g->cfg.apq.trusted_file != NULL) {
        gql_validate_options vo = gw_limits_validate_options(&g->cfg);
        gql_errors_init(&errs);
        t = gw_trusted_load(g->cfg.apq.trusted_file, s->gql, &vo, &errs);
        if (t == NULL) {
            log_errors(g, starting, &errs,
                       starting ? "the trusted documents are invalid; the gateway does not start"
                                : "schema reload refused: the trusted documents do not hold with the new schema; the "
                                  "schema in use stays");
            gql_errors_free(&errs);
            gw_schema_unref(s);
            return -1;
        }
        gql_errors_free(&errs);
    }
    *s_out = s;
    *t_out = t;
    return 0;
}

static int init(mc_server_t *srv)
{
    gw_gateway_t *g = mc_server_data(srv);
    gw_schema_t *s;
    if (load_schema(g, true, &s, &g->trusted) != 0)
        return -1;
    g->schema = s;
    if (g->trusted != NULL)
        mc_log_info("trusted documents: %zu from %s; no other document runs", gw_trusted_count(g->trusted),
                    g->cfg.apq.trusted_file);
    gw_metrics_init(&g->services, g->cfg.metrics_max_operations);
    gw_metrics_schema_generation(1);
    g->upstreams = gw_upstreams_create(&g->services, &g->cfg.upstream);
    g->ratelimit = gw_ratelimit_create(&g->cfg.ratelimit);
    if (g->upstreams == NULL || g->ratelimit == NULL) {
        mc_log_error("out of memory");
        return -1;
    }
    mc_log_json(MC_LOG_INFO, NULL,
                json_pack("{s:s,s:i,s:i}", "dir", g->cfg.schema_dir, "types", (int)s->gql->ntypes, "boundFields",
                          (int)s->nbound),
                "schema loaded");
    if (g->cfg.playground) {
        char err[512];
        if (gw_playground_load(g, err, sizeof(err)) != 0) {
            mc_log_error("the playground: %s", err);
            return -1;
        }
    }
    g->live = gw_live_create(srv, g);
    return g->live != NULL ? 0 : -1;
}

/* SIGHUP (on the main thread, while the workers serve): the schema files are read and
 * validated again; only a schema that loads whole replaces the one in use. Requests in
 * flight keep the schema they started with (each holds a reference); documents cached by
 * the workers are validated again against the new one when next used. An invalid schema
 * is refused with its errors logged, and the old one stays. */
static void reload(mc_server_t *srv)
{
    gw_gateway_t *g = mc_server_data(srv);
    static uint64_t generation = 1;
    gw_schema_t *s;
    gw_trusted_t *t;
    if (load_schema(g, false, &s, &t) != 0) {
        gw_metrics_count(GW_C_RELOAD_FAILED);
        return;
    }
    uv_mutex_lock(&g->schema_lock);
    gw_schema_t *old = g->schema;
    g->schema = s;
    gw_trusted_t *old_trusted = g->trusted;
    if (g->cfg.apq.trusted_file != NULL)
        g->trusted = t;
    else
        old_trusted = NULL;
    uv_mutex_unlock(&g->schema_lock);
    gw_schema_unref(old);
    gw_trusted_unref(old_trusted);
    gw_metrics_count(GW_C_RELOAD_OK);
    gw_metrics_schema_generation(++generation);
    mc_log_json(MC_LOG_INFO, NULL,
                json_pack("{s:s,s:i,s:i,s:I}", "dir", g->cfg.schema_dir, "types", (int)s->gql->ntypes, "boundFields",
                          (int)s->nbound, "generation", (json_int_t)generation),
                "schema reloaded");
}

static int worker_init(mc_worker_t *mw)
{
    gw_gateway_t *g = mc_server_data(mc_worker_server(mw));
    gw_worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return -1;
    /* The worker's own client to the services: keep-alive pools sized for fan-out. */
    mc_http_client_opts_t ho = {
        .default_timeout_ms = g->cfg.upstream_timeout_ms,
        .pool_capacity = g->cfg.upstream_connections,
    };
    mc_http_client_t *http = mc_http_client_create(mc_worker_loop(mw), &ho);
    if (http == NULL) {
        free(w);
        return -1;
    }
    gw_worker_init(w, mc_worker_loop(mw), http, g->cfg.upstream_timeout_ms);
    w->up = gw_up_worker_create(g->upstreams, mc_worker_loop(mw), http);
    if (w->up == NULL) {
        mc_http_client_close(http);
        free(w);
        return -1;
    }
    w->docs = gw_doccache_create(g->cfg.document_cache);
    w->apq = gw_apq_worker_create(GW_APQ_WORKER_BYTES);
    mc_worker_set_data(mw, w);
    /* WebSockets on the same loop (disposed with the worker if this fails) */
    return gw_live_worker_init(g->live, mw, w);
}

static void free_worker(gw_worker_t *w)
{
    free(w);
}

static void worker_dispose(mc_worker_t *mw)
{
    gw_worker_t *w = mc_worker_data(mw);
    if (w == NULL)
        return;
    gw_live_worker_dispose(w); /* its operations end before the HTTP client closes */
    gw_doccache_free(w->docs);
    w->docs = NULL;
    gw_apq_worker_free(w->apq);
    w->apq = NULL;
    json_decref(w->inflight); /* empty: every request ended */
    w->inflight = NULL;
    gw_up_worker_close(w->up); /* before the HTTP client its calls use */
    w->up = NULL;
    mc_http_client_close(w->http);
    w->http = NULL;
    mc_worker_set_data(mw, NULL);
    gw_worker_close(w, free_worker); /* freed once its idle handle is closed */
    gw_jalloc_thread_done();
}

static void dispose(mc_server_t *srv)
{
    gw_gateway_t *g = mc_server_data(srv);
    gw_schema_unref(g->schema);
    g->schema = NULL;
    gw_trusted_unref(g->trusted);
    g->trusted = NULL;
    gw_playground_free(g);
    gw_upstreams_free(g->upstreams);
    g->upstreams = NULL;
    gw_ratelimit_free(g->ratelimit);
    g->ratelimit = NULL;
    gw_cors_config_free(&g->cfg.cors);
    gw_metrics_free();
    gw_live_free(g->live);
    g->live = NULL;
}

static const mc_route_t routes[] = {
    {"GET", "/graphql", gw_handle_graphql},
    {"POST", "/graphql", gw_handle_graphql},
    {"OPTIONS", "/graphql", gw_handle_preflight},
    {"GET", "/graphql/assets/:file", gw_handle_asset},
    {"GET", "/metrics", gw_handle_metrics},
};

int main(void)
{
    gw_jalloc_install(); /* before anything allocates with jansson */
    mc_config_t cfg;
    mc_config_load(&cfg, "gateway", 4000);
    gw_config_load(&gateway.cfg, &gateway.services, cfg.production);
    uv_mutex_init(&gateway.schema_lock);
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = routes,
        .nroutes = sizeof(routes) / sizeof(routes[0]),
        .use_jwt = true,
        .use_redis = true, /* rate limits; the gateway serves on without it (fail-open by default) */
        .init = init,
        .worker_init = worker_init,
        .worker_dispose = worker_dispose,
        .reload = reload,
        .dispose = dispose,
        .data = &gateway,
        .ready = gw_handle_ready,
        .accept = gw_live_accept,                   /* WebSocket upgrades to libwebsockets */
        .worker_shutdown = gw_live_worker_shutdown, /* WebSockets close with 1012 */
    };
    int rc = mc_server_run(&opts);
    uv_mutex_destroy(&gateway.schema_lock);
    for (unsigned i = 0; i < gateway.services.n; ++i)
        free((char *)gateway.services.s[i].url);
    return rc;
}
