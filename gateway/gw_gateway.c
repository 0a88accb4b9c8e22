/*
 * The gateway's configuration (docs/configuration.md, "Gateway") and its shared schema.
 */
#include <stdlib.h>
#include <string.h>
#include "gw_gateway.h"
#include "gw_limits.h"
#include "mc_config.h"

void gw_config_load(gw_config_t *cfg, gw_services_t *svcs, bool production)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->schema_dir = mc_env_str("GATEWAY_SCHEMA_DIR", "schema");
    cfg->upstream_timeout_ms = (unsigned)mc_env_int("GATEWAY_UPSTREAM_TIMEOUT_MS", 10000, 1, 600000);
    cfg->upstream_connections = (unsigned)mc_env_int("GATEWAY_UPSTREAM_CONNECTIONS", 128, 1, 4096);
    cfg->playground = mc_env_bool("GATEWAY_PLAYGROUND", !production);
    cfg->playground_dir = mc_env_str("GATEWAY_PLAYGROUND_DIR", "node_modules");
    cfg->document_cache = (unsigned)mc_env_int("GATEWAY_DOCUMENT_CACHE", 1000, 0, 1000000);
    gw_limits_config_load(cfg, production);
    cfg->request_timeout_ms = (unsigned)mc_env_int("GATEWAY_REQUEST_TIMEOUT_MS", 15000, 1, 600000);
    cfg->metrics = mc_env_bool("GATEWAY_METRICS", true);
    cfg->deduplicate = mc_env_bool("GATEWAY_DEDUPLICATE", true);
    cfg->metrics_max_operations = (unsigned)mc_env_int("GATEWAY_METRICS_MAX_OPERATIONS", 200, 0, 100000);
    gw_cors_config_load(&cfg->cors);
    gw_rl_config_load(&cfg->ratelimit, cfg->limits.max_cost, production);
    gw_up_config_load(&cfg->upstream);
    gw_apq_config_load(&cfg->apq);
    cfg->ready_timeout_ms = (unsigned)mc_env_int("GATEWAY_READY_TIMEOUT_MS", 1000, 1, 60000);
    cfg->trust_forwarded_for = mc_env_bool("GATEWAY_TRUST_FORWARDED_FOR", false);

    /* The services every binding may name, with their URLs. */
    static const struct {
        const char *name, *var, *def;
    } table[] = {
        {"auth", "AUTH_URL", "http://127.0.0.1:4001"},         {"product", "PRODUCT_URL", "http://127.0.0.1:4002"},
        {"order", "ORDER_URL", "http://127.0.0.1:4003"},       {"category", "CATEGORY_URL", "http://127.0.0.1:4004"},
        {"coupon", "COUPON_URL", "http://127.0.0.1:4005"},
    };
    memset(svcs, 0, sizeof(*svcs));
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); ++i) {
        /* mc-env: AUTH_URL, PRODUCT_URL, ORDER_URL, CATEGORY_URL, COUPON_URL */
        const char *url = mc_env_str(table[i].var, table[i].def);
        size_t n = strlen(url);
        while (n > 0 && url[n - 1] == '/')
            --n;
        if (n < 8 || strncmp(url, "http://", 7) != 0)
            mc_config_die(table[i].var, "must be an http:// URL");
        svcs->s[svcs->n].name = table[i].name;
        /* auth limits sign-ins per client address: tell it whose request this is */
        svcs->s[svcs->n].forward_client = strcmp(table[i].name, "auth") == 0;
        svcs->s[svcs->n].url = strndup(url, n);
        ++svcs->n;
    }
}

gw_schema_t *gw_gateway_schema(gw_gateway_t *g)
{
    uv_mutex_lock(&g->schema_lock);
    gw_schema_t *s = g->schema != NULL ? gw_schema_ref(g->schema) : NULL;
    uv_mutex_unlock(&g->schema_lock);
    return s;
}


/* An address as a proxy writes it: IPv4 or IPv6 characters only. */
static bool plausible_address(const char *s, size_t n)
{
    if (n == 0 || n > 45)
        return false;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F') || c == '.' || c == ':'))
            return false;
    }
    return true;
}

gw_trusted_t *gw_gateway_trusted(gw_gateway_t *g)
{
    uv_mutex_lock(&g->schema_lock);
    gw_trusted_t *t = gw_trusted_ref(g->trusted);
    uv_mutex_unlock(&g->schema_lock);
    return t;
}

const char *gw_client_address(mc_req_t *req, const gw_config_t *cfg)
{
    if (cfg->trust_forwarded_for) {
        const char *xff = mc_req_header(req, "x-forwarded-for");
        if (xff != NULL) {
            /* the last entry is what the proxy in front of us saw */
            const char *last = strrchr(xff, ',');
            last = last != NULL ? last + 1 : xff;
            while (*last == ' ' || *last == '\t')
                ++last;
            size_t n = strlen(last);
            while (n > 0 && (last[n - 1] == ' ' || last[n - 1] == '\t'))
                --n;
            if (plausible_address(last, n))
                return mc_req_strndup(req, last, n);
        }
    }
    return mc_req_peer(req);
}
