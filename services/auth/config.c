/*
 * Implementation of config.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "config.h"
#include "mc_secret.h"

static auth_config_t cfg;

const auth_config_t *auth_cfg(void)
{
    return &cfg;
}

bool auth_rate_parse(const char *s, auth_rate_t *out)
{
    if (s == NULL)
        return false;
    if (strcasecmp(s, "off") == 0) {
        *out = (auth_rate_t){0, 1};
        return true;
    }
    if (*s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '/' || *s == '-' || n == 0 || n > 1000000)
        return false;
    const char *w = end + 1;
    if (*w < '0' || *w > '9')
        return false;
    unsigned long win = strtoul(w, &end, 10);
    if (errno != 0 || end == w || *end != '\0' || *w == '-' || win == 0 || win > 7 * 86400)
        return false;
    *out = (auth_rate_t){(unsigned)n, (unsigned)win};
    return true;
}

static auth_rate_t rate(const char *name, const char *def)
{
    auth_rate_t r;
    if (!auth_rate_parse(mc_env_str(name, def), &r))
        mc_config_die(name, "expected N/S (N requests per S seconds) or off");
    return r;
}

/* The bare address of a From header: "Name <a@b>" or "a@b". */
static bool from_address(const char *from, char *out, size_t outlen)
{
    const char *lt = strrchr(from, '<');
    const char *a = from, *e = from + strlen(from);
    if (lt != NULL) {
        const char *gt = strchr(lt, '>');
        if (gt == NULL || gt[1] != '\0')
            return false;
        a = lt + 1;
        e = gt;
    }
    size_t n = (size_t)(e - a);
    if (n < 3 || n >= outlen || memchr(a, '@', n) == NULL)
        return false;
    for (const char *p = from; *p; ++p)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            return false; /* no header injection through the configuration either */
    for (const char *p = a; p < e; ++p)
        if (*p == ' ' || *p == '<' || *p == '>' || *p == '"')
            return false;
    memcpy(out, a, n);
    out[n] = '\0';
    return true;
}

void auth_config_load(const mc_config_t *shared)
{
    cfg.production = shared->production;
    cfg.workers = shared->workers;

    /* OWASP's minimum for Argon2id is m=19 MiB, t=2, p=1: refuse anything weaker. */
    cfg.argon2_m_kib = (uint32_t)mc_env_int("ARGON2_MEMORY_KIB", 19456, 19456, 4 * 1024 * 1024);
    cfg.argon2_t = (uint32_t)mc_env_int("ARGON2_ITERATIONS", 2, 2, 64);
    cfg.argon2_p = (uint32_t)mc_env_int("ARGON2_PARALLELISM", 1, 1, 16);
    cfg.hash_concurrency = (unsigned)mc_env_int("HASH_CONCURRENCY", 4, 1, 256);
    cfg.hash_queue = (unsigned)mc_env_int("HASH_QUEUE", 256, 0, 100000);

    cfg.refresh_ttl_s = (unsigned)mc_env_int("REFRESH_TOKEN_TTL_SECONDS", 14 * 86400, 60, 365 * 86400);
    cfg.session_ttl_s = (unsigned)mc_env_int("SESSION_MAX_AGE_SECONDS", 30 * 86400, 60, 365 * 86400);
    cfg.verify_ttl_s = (unsigned)mc_env_int("VERIFY_TOKEN_TTL_SECONDS", 86400, 1, 30 * 86400);
    cfg.reset_ttl_s = (unsigned)mc_env_int("RESET_TOKEN_TTL_SECONDS", 3600, 1, 7 * 86400);
    cfg.app_url = mc_env_str("APP_URL", "http://localhost:3000");
    if (strncmp(cfg.app_url, "http://", 7) != 0 && strncmp(cfg.app_url, "https://", 8) != 0)
        mc_config_die("APP_URL", "must be an http(s) URL");
    for (const char *p = cfg.app_url; *p; ++p)
        if ((unsigned char)*p <= 0x20 || *p == 0x7f)
            mc_config_die("APP_URL", "must not contain spaces or control characters");

    cfg.smtp_url = mc_env_str("SMTP_URL", NULL);
    if (cfg.smtp_url != NULL) {
        bool log = strcmp(cfg.smtp_url, "log:") == 0;
        if (!log && strncmp(cfg.smtp_url, "smtp://", 7) != 0 && strncmp(cfg.smtp_url, "smtps://", 8) != 0)
            mc_config_die("SMTP_URL", "expected smtp://host[:port], smtps://host[:port] or log:");
        if (log && cfg.production)
            mc_config_die("SMTP_URL", "log: (messages written to the log) is refused in production");
    }
    cfg.smtp_user = mc_env_str("SMTP_USER", NULL);
    cfg.smtp_password = mc_env_secret("SMTP_PASSWORD", "SMTP_PASSWORD_FILE");
    const char *tls = mc_env_str("SMTP_STARTTLS", "try");
    if (strcmp(tls, "try") == 0)
        cfg.smtp_starttls = AUTH_STARTTLS_TRY;
    else if (strcmp(tls, "require") == 0)
        cfg.smtp_starttls = AUTH_STARTTLS_REQUIRE;
    else if (strcmp(tls, "off") == 0)
        cfg.smtp_starttls = AUTH_STARTTLS_OFF;
    else
        mc_config_die("SMTP_STARTTLS", "expected try, require or off");
    cfg.smtp_timeout_ms = (unsigned)mc_env_int("SMTP_TIMEOUT_MS", 20000, 100, 300000);
    cfg.mail_from = mc_env_str("MAIL_FROM", "Mercato <no-reply@mercato.invalid>");
    if (!from_address(cfg.mail_from, cfg.mail_from_addr, sizeof(cfg.mail_from_addr)))
        mc_config_die("MAIL_FROM", "expected an address or \"Name <address>\"");
    cfg.mail_poll_ms = (unsigned)mc_env_int("MAIL_POLL_MS", 5000, 10, 3600000);
    cfg.mail_retry_base_ms = (unsigned)mc_env_int("MAIL_RETRY_BASE_MS", 2000, 10, 3600000);
    cfg.mail_retry_max_ms = (unsigned)mc_env_int("MAIL_RETRY_MAX_MS", 600000, 10, 86400000);
    if (cfg.mail_retry_max_ms < cfg.mail_retry_base_ms)
        mc_config_die("MAIL_RETRY_MAX_MS", "must not be less than MAIL_RETRY_BASE_MS");
    /* A claim must outlive one whole SMTP exchange with room for clock skew. */
    unsigned min_lease = cfg.smtp_timeout_ms / 1000 + 31;
    cfg.mail_lease_s = (unsigned)mc_env_int("MAIL_LEASE_SECONDS", min_lease + 60 > 120 ? min_lease + 60 : 120, 1, 86400);
    if (cfg.mail_lease_s < min_lease) {
        char why[96];
        snprintf(why, sizeof(why), "must be at least SMTP_TIMEOUT_MS/1000 + 31 = %u", min_lease);
        mc_config_die("MAIL_LEASE_SECONDS", why);
    }

    cfg.google_client_ids = mc_env_str("GOOGLE_CLIENT_ID", NULL);
    cfg.google_jwks_file = mc_env_str("GOOGLE_JWKS_FILE", NULL);
    cfg.google_jwks_url = mc_env_str("GOOGLE_JWKS_URL", NULL);
    cfg.google_jwks_refresh_s = (unsigned)mc_env_int("GOOGLE_JWKS_REFRESH_SECONDS", 3600, 10, 86400);
    if (cfg.google_jwks_file != NULL && cfg.google_jwks_url != NULL)
        mc_config_die("GOOGLE_JWKS_FILE", "set GOOGLE_JWKS_FILE or GOOGLE_JWKS_URL, not both");
    if (cfg.google_client_ids != NULL && cfg.google_jwks_file == NULL && cfg.google_jwks_url == NULL)
        cfg.google_jwks_url = "https://www.googleapis.com/oauth2/v3/certs";
    if (cfg.google_jwks_url != NULL && strncmp(cfg.google_jwks_url, "https://", 8) != 0 &&
        !(strncmp(cfg.google_jwks_url, "http://", 7) == 0 && !cfg.production))
        mc_config_die("GOOGLE_JWKS_URL", "must be an https URL (http is accepted outside production)");

    cfg.rl_login_ip = rate("RATE_LIMIT_LOGIN_IP", "30/60");
    cfg.rl_register_ip = rate("RATE_LIMIT_REGISTER_IP", "10/3600");
    cfg.rl_forgot_ip = rate("RATE_LIMIT_FORGOT_IP", "10/3600");
    cfg.rl_forgot_email = rate("RATE_LIMIT_FORGOT_EMAIL", "3/3600");
    cfg.rl_verify_user = rate("RATE_LIMIT_VERIFY_USER", "3/3600");
    cfg.rl_token_ip = rate("RATE_LIMIT_TOKEN_IP", "30/60");
    cfg.rl_refresh_ip = rate("RATE_LIMIT_REFRESH_IP", "120/60");
    cfg.rl_google_ip = rate("RATE_LIMIT_GOOGLE_IP", "30/60");
    cfg.login_free_attempts = (unsigned)mc_env_int("LOGIN_FREE_ATTEMPTS", 5, 1, 1000);
    cfg.login_backoff_base_ms = (unsigned)mc_env_int("LOGIN_BACKOFF_BASE_MS", 1000, 1, 3600000);
    cfg.login_backoff_max_ms = (unsigned)mc_env_int("LOGIN_BACKOFF_MAX_MS", 900000, 1, 86400000);
    if (cfg.login_backoff_max_ms < cfg.login_backoff_base_ms)
        mc_config_die("LOGIN_BACKOFF_MAX_MS", "must not be less than LOGIN_BACKOFF_BASE_MS");
}
