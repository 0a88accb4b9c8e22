/*
 * Implementation of mc_config.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "mc_config.h"
#include "mc_log.h"
#include "mc_secret.h"

void mc_config_die(const char *name, const char *why)
{
    fprintf(stderr, "config: %s: %s\n", name, why);
    exit(2);
}

const char *mc_env_str(const char *name, const char *def)
{
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? v : def;
}

long long mc_env_int(const char *name, long long def, long long min, long long max)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || *end != '\0' || end == v) {
        char why[160];
        snprintf(why, sizeof(why), "'%.64s' is not a whole number", v);
        mc_config_die(name, why);
    }
    if (n < min || n > max) {
        char why[160];
        snprintf(why, sizeof(why), "%lld is outside %lld..%lld", n, min, max);
        mc_config_die(name, why);
    }
    return n;
}

bool mc_env_bool(const char *name, bool def)
{
    const char *v = getenv(name);
    if (v == NULL || *v == '\0')
        return def;
    static const char *const yes[] = {"1", "true", "yes", "on"}, *const no[] = {"0", "false", "no", "off"};
    for (size_t i = 0; i < 4; ++i) {
        if (strcasecmp(v, yes[i]) == 0)
            return true;
        if (strcasecmp(v, no[i]) == 0)
            return false;
    }
    mc_config_die(name, "expected true or false");
}

void mc_config_load(mc_config_t *cfg, const char *service, uint16_t default_port)
{
    static char dbname[64];
    memset(cfg, 0, sizeof(*cfg));
    cfg->service = service;
    cfg->host = mc_env_str("HOST", "127.0.0.1");
    cfg->port = (uint16_t)mc_env_int("PORT", default_port, 0, 65535);
    cfg->workers = (unsigned)mc_env_int("WORKERS", 1, 1, 256);
    cfg->max_body_bytes = (size_t)mc_env_int("MAX_BODY_BYTES", 1 << 20, 1024, 64 << 20);
    cfg->shutdown_timeout_ms = (unsigned)mc_env_int("SHUTDOWN_TIMEOUT_MS", 10000, 0, 600000);
    cfg->mongodb_uri = mc_env_str("MONGODB_URI", "mongodb://127.0.0.1:27017");
    snprintf(dbname, sizeof(dbname), "mercato_%s", service);
    cfg->mongodb_db = mc_env_str("MONGODB_DB", dbname);
    cfg->redis_url = mc_env_str("REDIS_URL", "redis://127.0.0.1:6379/0");
    const char *env = mc_env_str("MERCATO_ENV", "development");
    if (strcmp(env, "production") == 0)
        cfg->production = true;
    else if (strcmp(env, "development") != 0 && strcmp(env, "test") != 0)
        mc_config_die("MERCATO_ENV", "expected development, test or production");
    cfg->internal_key = mc_env_secret("INTERNAL_API_KEY", "INTERNAL_API_KEY_FILE");
    if (cfg->internal_key != NULL && strlen(cfg->internal_key) < 32)
        mc_config_die("INTERNAL_API_KEY", "must be at least 32 characters");
    int level = mc_log_level_parse(mc_env_str("LOG_LEVEL", "info"));
    if (level < 0)
        mc_config_die("LOG_LEVEL", "expected debug, info, warn or error");
    mc_log_init(service, (mc_log_level_t)level);
}
