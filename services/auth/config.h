/*
 * The auth service's own settings (environment variables, read once at start; see
 * docs/configuration.md, section "Auth service"). The shared ones — HOST, PORT, MongoDB,
 * Redis, JWT_* — are read by lib/.
 *
 * The settings live in one process-wide, read-only structure: every worker and every
 * thread-pool job reads it, nobody writes it after auth_config_load.
 */
#ifndef AUTH_CONFIG_H
#define AUTH_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include "mc_config.h"

/* A rate: `count` events per `window_s` seconds, with bursts up to `count`. count 0 means
 * no limit. */
typedef struct auth_rate {
    unsigned count;
    unsigned window_s;
} auth_rate_t;

typedef enum auth_starttls { AUTH_STARTTLS_TRY, AUTH_STARTTLS_REQUIRE, AUTH_STARTTLS_OFF } auth_starttls_t;

typedef struct auth_config {
    /* Argon2id: memory (KiB), iterations, lanes. Hashes made with lower settings are
     * upgraded at the next successful login. */
    uint32_t argon2_m_kib, argon2_t, argon2_p;
    /* At most this many hashes at once per process (each holds argon2_m_kib of memory and
     * a thread-pool thread), and this many more waiting per worker; beyond that, 503. */
    unsigned hash_concurrency, hash_queue;

    unsigned refresh_ttl_s;   /* a refresh token unused this long expires */
    unsigned session_ttl_s;   /* a session (refresh-token family) ends this long after login */
    unsigned verify_ttl_s;    /* email-verification tokens */
    unsigned reset_ttl_s;     /* password-reset tokens */
    const char *app_url;      /* base of the links in emails */

    /* Email delivery. smtp_url NULL: messages wait in the outbox. "log:" writes them to
     * the log instead (development only). */
    const char *smtp_url;
    const char *smtp_user, *smtp_password;
    auth_starttls_t smtp_starttls;
    unsigned smtp_timeout_ms;
    const char *mail_from;      /* header form, e.g. "Mercato <no-reply@example.com>" */
    char mail_from_addr[256];   /* the bare address, for the SMTP envelope */
    unsigned mail_poll_ms, mail_retry_base_ms, mail_retry_max_ms, mail_lease_s;

    /* Sign in with Google: accepted audiences (comma-separated client ids) and where the
     * signing keys come from. Disabled without a client id. */
    const char *google_client_ids;
    const char *google_jwks_file, *google_jwks_url;
    unsigned google_jwks_refresh_s;

    /* Rate limits (Redis; per process while Redis is down). */
    auth_rate_t rl_login_ip, rl_register_ip, rl_forgot_ip, rl_forgot_email, rl_verify_user, rl_token_ip,
        rl_refresh_ip, rl_google_ip;
    /* Per account: this many attempts, then a wait doubling from base up to max. */
    unsigned login_free_attempts, login_backoff_base_ms, login_backoff_max_ms;

    unsigned workers;           /* WORKERS, from the shared settings */
    bool production;
} auth_config_t;

/* Reads every setting; stops the process (exit 2) naming the variable on a bad value. */
void auth_config_load(const mc_config_t *shared);
/* The settings (valid after auth_config_load; never NULL then). */
const auth_config_t *auth_cfg(void);
/* Parses "N/S" (N events per S seconds) or "off"; false when malformed. Exposed for tests. */
bool auth_rate_parse(const char *s, auth_rate_t *out);

#endif
