/*
 * mc_config: configuration from environment variables, read once at start.
 *
 * Every variable any process reads is read through mc_env_* with its name written out
 * literally, so docs/configuration.md can be checked against the code. A malformed value
 * (a port that is not a number, an unknown log level) stops the process at start with a
 * message naming the variable: a typo must not silently fall back to a default.
 */
#ifndef MC_CONFIG_H
#define MC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reads an environment variable; returns def when unset or empty. */
const char *mc_env_str(const char *name, const char *def);
/* Reads an integer within [min, max]; def when unset; exits(2) on a malformed value. */
long long mc_env_int(const char *name, long long def, long long min, long long max);
/* Reads a boolean (1/0, true/false, yes/no, on/off); exits(2) on anything else. */
bool mc_env_bool(const char *name, bool def);
/* Prints "config: <name>: <why>" and exits(2). */
void mc_config_die(const char *name, const char *why) __attribute__((noreturn));

/* What every process shares. Service-specific settings are read by the service itself. */
typedef struct mc_config {
    const char *service;        /* e.g. "category" (not from the environment) */
    const char *host;           /* HOST, default 127.0.0.1 */
    uint16_t port;              /* PORT, default the service's port from DESIGN.md */
    unsigned workers;           /* WORKERS: event-loop threads, default 1 */
    size_t max_body_bytes;      /* MAX_BODY_BYTES, default 1 MiB */
    unsigned shutdown_timeout_ms; /* SHUTDOWN_TIMEOUT_MS, default 10000 */
    const char *mongodb_uri;    /* MONGODB_URI, default mongodb://127.0.0.1:27017 */
    const char *mongodb_db;     /* MONGODB_DB, default mercato_<service> */
    const char *redis_url;      /* REDIS_URL, default redis://127.0.0.1:6379/0 */
    bool production;            /* MERCATO_ENV=production */
    const char *internal_key;   /* INTERNAL_API_KEY (or the file INTERNAL_API_KEY_FILE names):
                                   authenticates calls between services (at least 32
                                   characters); NULL when unset */
} mc_config_t;

/* Fills cfg from the environment with the service's defaults; also sets the log level
 * (LOG_LEVEL) and the logger's service name. Exits(2) on a malformed variable. */
void mc_config_load(mc_config_t *cfg, const char *service, uint16_t default_port);

#endif
