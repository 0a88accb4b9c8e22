/*
 * Implementation of gw_cors.h.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw_cors.h"
#include "gw_gateway.h"
#include "mc_config.h"

#define ALLOW_HEADERS "Authorization, Content-Type, Apollo-Require-Preflight, X-Apollo-Operation-Name, X-Request-Id, " \
                      "traceparent, tracestate"
#define EXPOSE_HEADERS "X-Request-Id, Retry-After, RateLimit, RateLimit-Policy"

void gw_cors_config_free(gw_cors_config_t *c)
{
    for (size_t i = 0; i < c->norigins; ++i)
        free(c->origins[i]);
    free(c->origins);
    c->origins = NULL;
    c->norigins = 0;
}

/* scheme "://" host [":" port], nothing else: what a browser puts in Origin. */
static bool is_origin(const char *s, size_t n)
{
    const char *sep = NULL;
    for (size_t i = 0; i + 2 < n; ++i)
        if (s[i] == ':' && s[i + 1] == '/' && s[i + 2] == '/') {
            sep = s + i;
            break;
        }
    if (sep == NULL || sep == s)
        return false;
    for (const char *p = s; p < sep; ++p)
        if (!isalnum((unsigned char)*p) && *p != '+' && *p != '-' && *p != '.')
            return false;
    const char *host = sep + 3, *end = s + n;
    if (host == end)
        return false;
    for (const char *p = host; p < end; ++p)
        if (!isalnum((unsigned char)*p) && strchr(".-:[]", *p) == NULL)
            return false;
    return true;
}

int gw_cors_parse_origins(const char *value, gw_cors_config_t *c, char *err, size_t errlen)
{
    gw_cors_config_free(c);
    c->any = false;
    const char *p = value;
    while (*p != '\0') {
        while (*p == ' ' || *p == ',' || *p == '\t')
            ++p;
        if (*p == '\0')
            break;
        size_t n = strcspn(p, ", \t");
        if (n == 1 && *p == '*') {
            c->any = true;
        } else {
            size_t k = n;
            while (k > 0 && p[k - 1] == '/')
                --k;
            if (!is_origin(p, k)) {
                snprintf(err, errlen, "'%.*s' is not an origin (scheme://host[:port]) or *", (int)(n > 200 ? 200 : n),
                         p);
                gw_cors_config_free(c);
                return -1;
            }
            char **no = realloc(c->origins, (c->norigins + 1) * sizeof(*no));
            if (no == NULL)
                abort();
            c->origins = no;
            char *o = strndup(p, k);
            for (char *q = o; *q != '\0'; ++q)
                *q = (char)tolower((unsigned char)*q);
            c->origins[c->norigins++] = o;
        }
        p += n;
    }
    return 0;
}

void gw_cors_config_load(gw_cors_config_t *c)
{
    memset(c, 0, sizeof(*c));
    char err[300];
    if (gw_cors_parse_origins(mc_env_str("GATEWAY_CORS_ORIGINS", "*"), c, err, sizeof(err)) != 0)
        mc_config_die("GATEWAY_CORS_ORIGINS", err);
    c->max_age_s = (unsigned)mc_env_int("GATEWAY_CORS_MAX_AGE_SECONDS", 600, 0, 86400);
    c->csrf = mc_env_bool("GATEWAY_CSRF_PREVENTION", true);
}

bool gw_cors_origin_allowed(const gw_cors_config_t *c, const char *origin)
{
    if (origin == NULL || *origin == '\0')
        return false;
    if (c->any)
        return true;
    size_t n = strlen(origin);
    while (n > 0 && origin[n - 1] == '/')
        --n;
    for (size_t i = 0; i < c->norigins; ++i)
        if (strlen(c->origins[i]) == n && strncasecmp(c->origins[i], origin, n) == 0)
            return true;
    return false;
}

void gw_cors_apply(const gw_cors_config_t *c, mc_req_t *req)
{
    const char *origin = mc_req_header(req, "origin");
    if (origin == NULL)
        return;
    /* The answer depends on Origin whenever origins are listed: caches must know. */
    if (!c->any)
        mc_req_add_header(req, "vary", "Origin");
    if (!gw_cors_origin_allowed(c, origin))
        return;
    mc_req_add_header(req, "access-control-allow-origin", c->any ? "*" : origin);
    mc_req_add_header(req, "access-control-expose-headers", EXPOSE_HEADERS);
}

void gw_handle_preflight(mc_req_t *req)
{
    gw_gateway_t *g = mc_server_data(mc_req_server(req));
    const gw_cors_config_t *c = &g->cfg.cors;
    const char *origin = mc_req_header(req, "origin");
    const char *method = mc_req_header(req, "access-control-request-method");
    if (origin == NULL || method == NULL) {
        /* not a CORS preflight: an ordinary OPTIONS */
        mc_req_add_header(req, "allow", "GET, POST, OPTIONS");
        mc_respond_empty(req, 204);
        return;
    }
    if (!c->any)
        mc_req_add_header(req, "vary", "Origin");
    if (!gw_cors_origin_allowed(c, origin)) {
        mc_respond_error(req, MC_ERR_FORBIDDEN, NULL, "cross-origin requests from this origin are not allowed");
        return;
    }
    mc_req_add_header(req, "access-control-allow-origin", c->any ? "*" : origin);
    mc_req_add_header(req, "access-control-allow-methods", "GET, POST");
    mc_req_add_header(req, "access-control-allow-headers", ALLOW_HEADERS);
    char age[16];
    snprintf(age, sizeof(age), "%u", c->max_age_s);
    mc_req_add_header(req, "access-control-max-age", age);
    mc_respond_empty(req, 204);
}

/* The media type without parameters is one a browser may send without a preflight. */
static bool simple_content_type(const char *ct)
{
    size_t n = strcspn(ct, ";");
    while (n > 0 && (ct[n - 1] == ' ' || ct[n - 1] == '\t'))
        --n;
    while (n > 0 && (*ct == ' ' || *ct == '\t')) {
        ++ct;
        --n;
    }
    static const char *const simple[] = {"application/x-www-form-urlencoded", "multipart/form-data", "text/plain"};
    for (size_t i = 0; i < 3; ++i)
        if (strlen(simple[i]) == n && strncasecmp(ct, simple[i], n) == 0)
            return true;
    return false;
}

bool gw_csrf_ok(const gw_cors_config_t *c, const char *content_type, const char *require_preflight,
                const char *operation_name_header)
{
    if (!c->csrf)
        return true;
    if (content_type != NULL && !simple_content_type(content_type))
        return true;
    return (require_preflight != NULL && *require_preflight != '\0') ||
           (operation_name_header != NULL && *operation_name_header != '\0');
}
