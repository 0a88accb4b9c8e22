/*
 * mc_req: one HTTP request as a handler sees it.
 *
 * Lifetime. A request is answered exactly once with one of the mc_respond_* calls,
 * immediately or later from an asynchronous callback. The client may vanish before that
 * (h2o then disposes its side of the request); the mc_req_t stays valid until it has
 * been answered and every reference taken with mc_req_retain has been released, so
 * asynchronous work can always finish and call mc_respond_* safely — the answer is then
 * dropped (mc_req_gone tells). Memory from mc_req_alloc lives exactly that long.
 *
 * Everything here runs on the request's worker loop only.
 */
#ifndef MC_REQ_H
#define MC_REQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>
#include "mc_error.h"
#include "mc_jwt.h"
#include "mc_server.h"
#include "mc_trace.h"

struct st_h2o_req_t;

mc_worker_t *mc_req_worker(const mc_req_t *req);
mc_server_t *mc_req_server(const mc_req_t *req);
/* The h2o request, or NULL once the client is gone. For the few handlers (the gateway)
 * that need more than this interface. */
struct st_h2o_req_t *mc_req_h2o(const mc_req_t *req);

void mc_req_retain(mc_req_t *req);
void mc_req_release(mc_req_t *req);
/* True once the client has gone away: work for it may stop early. */
bool mc_req_gone(const mc_req_t *req);

/* Request-scoped memory, zeroed, freed with the request. Never NULL (aborts on OOM). */
void *mc_req_alloc(mc_req_t *req, size_t size);
char *mc_req_strndup(mc_req_t *req, const char *s, size_t len);
/* One pointer of the handler's own state for the request (e.g. parsed parameters that
 * an asynchronous continuation needs). */
void mc_req_set_data(mc_req_t *req, void *data);
void *mc_req_data(const mc_req_t *req);
/* Registers a callback run when the request is freed (after the answer and every
 * release). For jansson values and other resources tied to the request. */
void mc_req_on_free(mc_req_t *req, void (*cb)(void *), void *arg);
/* Keeps a jansson reference until the request is freed (steals it). Returns v. */
json_t *mc_req_keep_json(mc_req_t *req, json_t *v);

/* The request id: the client's X-Request-Id when it is 1..128 characters of
 * [A-Za-z0-9._:-], otherwise a fresh random one. Sent back as X-Request-Id. */
const char *mc_req_id(const mc_req_t *req);
/* The request's W3C trace context: the caller's trace (traceparent, tracestate) with a
 * span id of this process, or a new trace. Its trace id is in every log line that names
 * the request id, and calls made with mc_http under the request id carry it on. */
const mc_trace_t *mc_req_trace(const mc_req_t *req);
/* Adds a member to the request's access-log line (the reference is stolen; a member of
 * the same name is replaced). For what only the handler knows: a GraphQL operation's
 * name, its outcome. */
void mc_req_log_set(mc_req_t *req, const char *name, json_t *value);
const char *mc_req_method(const mc_req_t *req);
/* The path without the query string, as received. */
const char *mc_req_path(const mc_req_t *req);
/* A route parameter (":id"), percent-decoded; NULL if the route has none of that name. */
const char *mc_req_param(const mc_req_t *req, const char *name);
/* The first value of a query parameter, percent-decoded; NULL when absent. A parameter
 * with a malformed escape reads as absent and mc_req_query_bad() becomes true. */
const char *mc_req_query(mc_req_t *req, const char *name);
/* Every value of a repeated query parameter (?tag=a&tag=b), decoded. *n receives the
 * count; the array lives with the request. */
const char **mc_req_query_all(mc_req_t *req, const char *name, size_t *n);
/* Names of every query parameter, in order, so handlers can refuse unknown ones. */
const char **mc_req_query_names(mc_req_t *req, size_t *n);
/* A request header (case-insensitive), NUL-terminated copy; NULL when absent. */
const char *mc_req_header(mc_req_t *req, const char *name);
/* The client's address as text ("127.0.0.1"), for per-IP rate limits and logs. */
const char *mc_req_peer(mc_req_t *req);

/* The JSON body. Answers the request itself and returns NULL when the body is missing,
 * over MAX_BODY_BYTES (413), not declared as JSON (415), malformed or with duplicate
 * keys (400), or not an object when want_object (400). The value lives with the
 * request (borrowed). */
json_t *mc_req_json(mc_req_t *req, bool want_object);
/* The raw body (may be empty). */
const char *mc_req_body(const mc_req_t *req, size_t *len);

/* The verified access-token claims of the request (Authorization: Bearer …), or NULL when
 * there is no token or it does not verify; *why (may be NULL) then says which. */
const mc_claims_t *mc_req_claims(mc_req_t *req, const char **why);
/* Requires a verified token whose role is in roles (a mask of mc_role_t; 0 = any role).
 * Returns true when allowed; otherwise answers 401 (no/invalid token) or 403 (role) and
 * returns false. */
bool mc_req_require(mc_req_t *req, unsigned roles);

/* Requires the caller to be another Mercato service: the X-Internal-Key header must
 * equal INTERNAL_API_KEY (compared in constant time). Returns true when it does;
 * otherwise answers 401 (header missing or wrong) or 403 (no key configured: internal
 * endpoints are then closed) and returns false. Clients never get the key: the gateway
 * does not forward client headers to services. */
bool mc_req_require_internal(mc_req_t *req);
/* True when the request carries the right internal key (no answer sent). */
bool mc_req_is_internal(mc_req_t *req);

/* Adds a response header (before answering). Name and value are copied. Answers carry
 * Cache-Control: no-store unless the handler adds its own Cache-Control. */
void mc_req_add_header(mc_req_t *req, const char *name, const char *value);

/* Answers with a JSON body (reference stolen). */
void mc_respond_json(mc_req_t *req, int status, json_t *body);
/* Answers with the error envelope {"error":{"code","message","details"}}; details (may
 * be NULL) is stolen. */
void mc_respond_error(mc_req_t *req, mc_err_t err, json_t *details, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Answers with bytes as they are (copied). */
void mc_respond_raw(mc_req_t *req, int status, const char *content_type, const void *body, size_t len);
/* 204 No Content. */
void mc_respond_empty(mc_req_t *req, int status);
/* True once the request has been answered. */
bool mc_req_answered(const mc_req_t *req);

#endif
