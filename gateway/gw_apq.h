/*
 * gw_apq: persisted queries — Apollo's automatic persisted queries (APQ) and a
 * trusted-documents mode that runs nothing but an allowlist.
 *
 * APQ (the protocol of Apollo Server and Apollo Client's persisted-query link):
 *   - a request may carry extensions.persistedQuery = {version: 1, sha256Hash: <64 hex>}
 *     instead of its query. When the gateway knows the hash it runs that document;
 *     otherwise it answers 200 with {"errors":[{"message":"PersistedQueryNotFound",
 *     "extensions":{"code":"PERSISTED_QUERY_NOT_FOUND"}}]} and the client sends the
 *     query with the hash;
 *   - a request with both is checked (the hash must be the SHA-256 of the query, in
 *     lower-case hex: "provided sha does not match query" otherwise, 400) and, once its
 *     document validated, registered: stored in Redis (gw:apq:<hash>, a TTL of
 *     GATEWAY_APQ_TTL_SECONDS, refreshed by every use of a hash found there) for every
 *     gateway instance, and in the worker's memory (up to GW_APQ_WORKER_BYTES of text,
 *     emptied when full);
 *   - GET works the same (extensions as a URL parameter), which lets CDNs cache queries;
 *   - with GATEWAY_APQ=off every persisted query is answered PersistedQueryNotSupported
 *     (PERSISTED_QUERY_NOT_SUPPORTED, 200); version other than 1: 400.
 *   Without Redis the gateway still works: a hash it has not seen in this worker is not
 *   found, and the client sends its query.
 *
 * Trusted documents (GATEWAY_TRUSTED_DOCUMENTS=<file>): only the documents of the file
 * run — by hash (the same extensions.persistedQuery) or by their exact text. An unknown
 * hash is PERSISTED_QUERY_NOT_IN_LIST and any other text QUERY_NOT_IN_SAFELIST (400);
 * nothing is registered. The file is JSON, either {"<sha256>": "<document>", …} or an
 * Apollo persisted-query manifest {"format":"apollo-persisted-query-manifest",
 * "version":1,"operations":[{"id":"<sha256>","body":"<document>",…}]}. Every hash must
 * be its document's SHA-256 and every document must validate against the schema: a bad
 * file stops the start (and a reload keeps the old list).
 */
#ifndef GW_APQ_H
#define GW_APQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gql.h"
#include "mc_redis.h"

#define GW_APQ_MAX_REGISTER (64u * 1024) /* longer documents run but are not registered */
#define GW_APQ_WORKER_BYTES (8u << 20)   /* documents kept in each worker's memory */

typedef struct gw_apq_config {
    bool enabled;             /* GATEWAY_APQ */
    unsigned ttl_s;           /* GATEWAY_APQ_TTL_SECONDS */
    const char *trusted_file; /* GATEWAY_TRUSTED_DOCUMENTS, or NULL */
} gw_apq_config_t;

void gw_apq_config_load(gw_apq_config_t *cfg);

/* The SHA-256 of text as 64 lower-case hex digits (out[65]). */
void gw_sha256_hex(const char *text, size_t len, char *out);

/* --- trusted documents -------------------------------------------------------------------- */

typedef struct gw_trusted gw_trusted_t;

/* Reads and checks the file: every hash against its document, every document parsed
 * and validated against s with vo. NULL with the problems in errs (file, entry). */
gw_trusted_t *gw_trusted_load(const char *path, const gql_schema *s, const gql_validate_options *vo,
                              gql_errors *errs);
gw_trusted_t *gw_trusted_ref(gw_trusted_t *t);
void gw_trusted_unref(gw_trusted_t *t);
size_t gw_trusted_count(const gw_trusted_t *t);
/* The document of a hash, or NULL (borrowed; valid while t is). */
const char *gw_trusted_find(const gw_trusted_t *t, const char *hash, size_t *len);

/* --- resolving a request's document ------------------------------------------------------------ */

typedef enum gw_apq_status {
    GW_APQ_PLAIN,         /* no persistedQuery: the query as sent */
    GW_APQ_FOUND,         /* the document of a known hash */
    GW_APQ_REGISTER,      /* query and hash agree: run it, then gw_apq_register it */
    GW_APQ_NOT_FOUND,     /* PersistedQueryNotFound */
    GW_APQ_NOT_SUPPORTED, /* PersistedQueryNotSupported */
    GW_APQ_BAD_REQUEST,   /* malformed extension, unsupported version, hash mismatch */
    GW_APQ_NOT_IN_LIST,   /* trusted documents: unknown hash */
    GW_APQ_NOT_TRUSTED,   /* trusted documents: a text not on the list */
} gw_apq_status_t;

typedef struct gw_apq_result {
    gw_apq_status_t status;
    const char *text; /* PLAIN, FOUND, REGISTER: the document (valid during the callback) */
    size_t len;
    char hash[65];    /* when the request named one */
    const char *message; /* errors: what to tell the client */
    const char *code;    /* errors: extensions.code */
    int http_status;     /* errors: 200 (Apollo's not-found/not-supported) or 400 */
} gw_apq_result_t;

typedef void (*gw_apq_cb)(const gw_apq_result_t *r, void *data);

typedef struct gw_apq_worker gw_apq_worker_t;

gw_apq_worker_t *gw_apq_worker_create(size_t max_bytes);
void gw_apq_worker_free(gw_apq_worker_t *w);

/* Finds the request's document from its query (a JSON string or NULL) and extensions
 * (an object or NULL). trusted (may be NULL) switches to trusted documents. redis (may
 * be NULL) is this worker's connection. cb runs exactly once, possibly before this
 * returns. */
void gw_apq_resolve(const gw_apq_config_t *cfg, const gw_trusted_t *trusted, gw_apq_worker_t *w, mc_redis_t *redis,
                    json_t *query, json_t *extensions, gw_apq_cb cb, void *data);
/* Stores a validated document under its hash (Redis and this worker's memory). */
void gw_apq_register(const gw_apq_config_t *cfg, gw_apq_worker_t *w, mc_redis_t *redis, const char *hash,
                     const char *text, size_t len);

#endif
