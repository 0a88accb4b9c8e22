/*
 * gw_cors: cross-origin requests to /graphql — CORS for the browsers of other origins,
 * and CSRF prevention for the requests browsers send without asking.
 *
 * CORS. GATEWAY_CORS_ORIGINS lists the origins whose pages may call the API
 * ("https://shop.example,https://admin.example"), or "*" for any. A request whose Origin
 * is allowed gets Access-Control-Allow-Origin (the origin itself; "*" when any is
 * allowed), Access-Control-Expose-Headers (the request id, the rate-limit headers) and
 * Vary: Origin. Preflights (OPTIONS /graphql) from an allowed origin are answered 204
 * with the allowed methods (GET, POST), the requested headers that a client may send
 * (Authorization, Content-Type, the preflight headers below, X-Request-Id, traceparent,
 * tracestate) and Access-Control-Max-Age; from another origin 403. No credentials are
 * ever allowed: the API authenticates with bearer tokens, never cookies.
 *
 * CSRF prevention, as Apollo Server does it. A browser sends some cross-origin requests
 * without a preflight — those with only "simple" headers and a content type of
 * text/plain, multipart/form-data or application/x-www-form-urlencoded (or none). CORS
 * then only hides the answer, but the operation would already have run. POST requests
 * here must be application/json, which browsers preflight; a GET must show that it was
 * preflighted too: a Content-Type other than the three simple ones, or a non-empty
 * Apollo-Require-Preflight or X-Apollo-Operation-Name header (what Apollo's clients
 * send). Anything else is refused with 400 before the document is read.
 */
#ifndef GW_CORS_H
#define GW_CORS_H

#include <stdbool.h>
#include <stddef.h>
#include "mc_req.h"

typedef struct gw_cors_config {
    bool any;             /* "*" */
    char **origins;       /* exact origins, lower case, without a trailing slash */
    size_t norigins;
    unsigned max_age_s;   /* GATEWAY_CORS_MAX_AGE_SECONDS */
    bool csrf;            /* GATEWAY_CSRF_PREVENTION */
} gw_cors_config_t;

/* Reads GATEWAY_CORS_ORIGINS, GATEWAY_CORS_MAX_AGE_SECONDS and GATEWAY_CSRF_PREVENTION
 * (exits naming a malformed value). */
void gw_cors_config_load(gw_cors_config_t *c);
void gw_cors_config_free(gw_cors_config_t *c);
/* Parses a GATEWAY_CORS_ORIGINS value; -1 with a message when an entry is not an
 * origin (scheme://host[:port]). Pure. */
int gw_cors_parse_origins(const char *value, gw_cors_config_t *c, char *err, size_t errlen);
/* Whether an Origin header value is allowed. Pure. */
bool gw_cors_origin_allowed(const gw_cors_config_t *c, const char *origin);

/* Adds the CORS headers of an actual request (before it is answered). */
void gw_cors_apply(const gw_cors_config_t *c, mc_req_t *req);
/* OPTIONS /graphql. */
void gw_handle_preflight(mc_req_t *req);

/* Whether a GET may run: it carries a non-simple Content-Type or a preflight header
 * (always true when CSRF prevention is off). Pure but for reading headers. */
bool gw_csrf_ok(const gw_cors_config_t *c, const char *content_type, const char *require_preflight,
                const char *operation_name_header);

#endif
