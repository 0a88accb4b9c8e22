/*
 * Implementation of gw_apq.h.
 *
 * The worker's memory of registered documents is a jansson object (hash → text): found
 * in constant time, and when its texts pass max_bytes it is emptied at once rather than
 * evicted entry by entry — documents in use come back from Redis on their next use, and
 * a client registering thousands of documents cannot grow it. Trusted documents are an
 * immutable object shared by the workers, reference-counted so a reload can replace it
 * while requests use the old one.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_apq.h"
#include "gw_metrics.h"
#include "mc_config.h"
#include "mc_log.h"

void gw_apq_config_load(gw_apq_config_t *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->enabled = mc_env_bool("GATEWAY_APQ", true);
    cfg->ttl_s = (unsigned)mc_env_int("GATEWAY_APQ_TTL_SECONDS", 86400, 60, 31536000);
    const char *t = mc_env_str("GATEWAY_TRUSTED_DOCUMENTS", "");
    cfg->trusted_file = *t != '\0' ? t : NULL;
}

void gw_sha256_hex(const char *text, size_t len, char *out)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(text, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
        abort(); /* only on allocation failure inside OpenSSL */
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < 32; ++i) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[64] = '\0';
}

/* 64 hex digits; written in lower case into out[65]. */
static bool normal_hash(const char *s, char *out)
{
    size_t n = strlen(s);
    if (n != 64)
        return false;
    for (size_t i = 0; i < 64; ++i) {
        if (!isxdigit((unsigned char)s[i]))
            return false;
        out[i] = (char)tolower((unsigned char)s[i]);
    }
    out[64] = '\0';
    return true;
}

/* --- trusted documents -------------------------------------------------------------------- */

struct gw_trusted {
    _Atomic int refs;
    json_t *docs; /* hash → document */
};

/* Checks one entry and adds it. */
static void trusted_add(gw_trusted_t *t, const char *path, const char *where, const char *hash, json_t *body,
                        const gql_schema *s, const gql_validate_options *vo, gql_errors *errs)
{
    char h[65];
    if (!json_is_string(body)) {
        gql_errors_addf(errs, "%s: %s: the document must be a string", path, where);
        return;
    }
    if (hash == NULL || !normal_hash(hash, h)) {
        gql_errors_addf(errs, "%s: %s: the id must be a SHA-256 in hex", path, where);
        return;
    }
    char want[65];
    gw_sha256_hex(json_string_value(body), json_string_length(body), want);
    if (strcmp(want, h) != 0) {
        gql_errors_addf(errs, "%s: %s: the id is not the SHA-256 of its document (that is %s)", path, where, want);
        return;
    }
    gql_errors mine;
    gql_errors_init(&mine);
    gql_document *d = gql_parse(json_string_value(body), json_string_length(body), NULL, &mine);
    if (d != NULL)
        gql_validate(s, d, vo, &mine);
    for (gql_error *e = mine.head; e != NULL; e = e->next)
        gql_errors_addf(errs, "%s: %s: %s", path, where, e->message);
    gql_errors_free(&mine);
    gql_document_free(d);
    json_object_set(t->docs, h, body);
}

gw_trusted_t *gw_trusted_load(const char *path, const gql_schema *s, const gql_validate_options *vo,
                              gql_errors *errs)
{
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        gql_errors_addf(errs, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
        return NULL;
    }
    gw_trusted_t *t = calloc(1, sizeof(*t));
    if (t == NULL)
        abort();
    atomic_init(&t->refs, 1);
    t->docs = json_object();
    uint32_t before = errs->count;
    json_t *ops = json_object_get(root, "operations");
    if (json_is_string(json_object_get(root, "format"))) {
        /* an Apollo persisted-query manifest */
        if (strcmp(json_string_value(json_object_get(root, "format")), "apollo-persisted-query-manifest") != 0 ||
            json_integer_value(json_object_get(root, "version")) != 1 || !json_is_array(ops))
            gql_errors_addf(errs, "%s: not an apollo-persisted-query-manifest of version 1 with operations", path);
        size_t i;
        json_t *op;
        json_array_foreach(ops, i, op)
        {
            char where[48];
            snprintf(where, sizeof(where), "operations[%zu]", i);
            trusted_add(t, path, where, json_string_value(json_object_get(op, "id")), json_object_get(op, "body"), s,
                        vo, errs);
        }
    } else if (json_is_object(root)) {
        const char *k;
        json_t *v;
        json_object_foreach(root, k, v)
        {
            char where[80];
            snprintf(where, sizeof(where), "\"%.64s\"", k);
            trusted_add(t, path, where, k, v, s, vo, errs);
        }
    } else {
        gql_errors_addf(errs, "%s: must be an object of {\"<sha256>\": \"<document>\"} or an Apollo manifest", path);
    }
    json_decref(root);
    if (errs->count != before) {
        gw_trusted_unref(t);
        return NULL;
    }
    return t;
}

gw_trusted_t *gw_trusted_ref(gw_trusted_t *t)
{
    if (t != NULL)
        atomic_fetch_add(&t->refs, 1);
    return t;
}

void gw_trusted_unref(gw_trusted_t *t)
{
    if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
        return;
    json_decref(t->docs);
    free(t);
}

size_t gw_trusted_count(const gw_trusted_t *t)
{
    return t != NULL ? json_object_size(t->docs) : 0;
}

const char *gw_trusted_find(const gw_trusted_t *t, const char *hash, size_t *len)
{
    json_t *v = json_object_get(t->docs, hash);
    if (v == NULL)
        return NULL;
    if (len != NULL)
        *len = json_string_length(v);
    return json_string_value(v);
}

/* --- the worker's memory -------------------------------------------------------------------- */

struct gw_apq_worker {
    json_t *docs; /* hash → text */
    size_t bytes, max_bytes;
};

gw_apq_worker_t *gw_apq_worker_create(size_t max_bytes)
{
    gw_apq_worker_t *w = calloc(1, sizeof(*w));
    if (w == NULL)
        return NULL;
    w->docs = json_object();
    w->max_bytes = max_bytes;
    return w;
}

void gw_apq_worker_free(gw_apq_worker_t *w)
{
    if (w == NULL)
        return;
    json_decref(w->docs);
    free(w);
}

static void worker_put(gw_apq_worker_t *w, const char *hash, const char *text, size_t len)
{
    if (w == NULL || len > GW_APQ_MAX_REGISTER || json_object_get(w->docs, hash) != NULL)
        return;
    json_t *v = json_stringn(text, len);
    if (v == NULL)
        return;
    if (w->bytes + len > w->max_bytes) {
        json_object_clear(w->docs);
        w->bytes = 0;
    }
    json_object_set_new(w->docs, hash, v);
    w->bytes += len;
}

/* --- resolving ------------------------------------------------------------------------------- */

static void answer(gw_apq_cb cb, void *data, gw_apq_status_t st, const char *hash, const char *text, size_t len,
                   const char *message, const char *code, int http_status)
{
    gw_apq_result_t r;
    memset(&r, 0, sizeof(r));
    r.status = st;
    r.text = text;
    r.len = len;
    if (hash != NULL)
        memcpy(r.hash, hash, 65);
    r.message = message;
    r.code = code;
    r.http_status = http_status;
    cb(&r, data);
}

typedef struct lookup {
    gw_apq_worker_t *w;
    mc_redis_t *redis;
    unsigned ttl_s;
    gw_apq_cb cb;
    void *data;
    char hash[65];
} lookup_t;

static void not_found(gw_apq_cb cb, void *data, const char *hash)
{
    gw_metrics_count(GW_C_APQ_MISS);
    answer(cb, data, GW_APQ_NOT_FOUND, hash, NULL, 0, "PersistedQueryNotFound", "PERSISTED_QUERY_NOT_FOUND", 200);
}

static void on_redis_get(redisReply *reply, const char *err, void *arg)
{
    lookup_t *l = arg;
    (void)err;
    if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
        gw_metrics_count(GW_C_APQ_HIT);
        worker_put(l->w, l->hash, reply->str, reply->len);
        /* every use keeps it another TTL */
        char key[80], ttl[16];
        snprintf(key, sizeof(key), "gw:apq:%s", l->hash);
        snprintf(ttl, sizeof(ttl), "%u", l->ttl_s);
        const char *argv[] = {"EXPIRE", key, ttl};
        if (l->redis != NULL)
            mc_redis_cmd_argv(l->redis, NULL, NULL, 3, argv, NULL);
        answer(l->cb, l->data, GW_APQ_FOUND, l->hash, reply->str, reply->len, NULL, NULL, 0);
    } else {
        not_found(l->cb, l->data, l->hash);
    }
    free(l);
}

void gw_apq_resolve(const gw_apq_config_t *cfg, const gw_trusted_t *trusted, gw_apq_worker_t *w, mc_redis_t *redis,
                    json_t *query, json_t *extensions, gw_apq_cb cb, void *data)
{
    json_t *pq = json_object_get(extensions, "persistedQuery");
    const char *qtext = json_string_value(query);
    size_t qlen = json_string_length(query);
    if (pq == NULL || json_is_null(pq)) {
        if (trusted != NULL && qtext != NULL) {
            char h[65];
            gw_sha256_hex(qtext, qlen, h);
            size_t len;
            const char *doc = gw_trusted_find(trusted, h, &len);
            if (doc == NULL || len != qlen || memcmp(doc, qtext, qlen) != 0) {
                gw_metrics_count(GW_C_APQ_REFUSED);
                answer(cb, data, GW_APQ_NOT_TRUSTED, NULL, NULL, 0,
                       "This gateway runs only its trusted documents, and this is not one of them.",
                       "QUERY_NOT_IN_SAFELIST", 400);
                return;
            }
        }
        answer(cb, data, GW_APQ_PLAIN, NULL, qtext, qlen, NULL, NULL, 0);
        return;
    }
    if (!json_is_object(pq)) {
        answer(cb, data, GW_APQ_BAD_REQUEST, NULL, NULL, 0, "extensions.persistedQuery must be an object",
               "BAD_USER_INPUT", 400);
        return;
    }
    json_t *version = json_object_get(pq, "version");
    const char *hash_in = json_string_value(json_object_get(pq, "sha256Hash"));
    char hash[65];
    if (!json_is_integer(version) || json_integer_value(version) != 1) {
        answer(cb, data, GW_APQ_BAD_REQUEST, NULL, NULL, 0, "Unsupported persisted query version (only 1 is)",
               "BAD_USER_INPUT", 400);
        return;
    }
    if (hash_in == NULL || !normal_hash(hash_in, hash)) {
        answer(cb, data, GW_APQ_BAD_REQUEST, NULL, NULL, 0,
               "extensions.persistedQuery.sha256Hash must be a SHA-256 in hex (64 digits)", "BAD_USER_INPUT", 400);
        return;
    }
    if (qtext != NULL) {
        char h[65];
        gw_sha256_hex(qtext, qlen, h);
        if (strcmp(h, hash) != 0) {
            answer(cb, data, GW_APQ_BAD_REQUEST, hash, NULL, 0, "provided sha does not match query", "BAD_USER_INPUT",
                   400);
            return;
        }
    }
    if (trusted != NULL) {
        size_t len;
        const char *doc = gw_trusted_find(trusted, hash, &len);
        if (doc == NULL) {
            gw_metrics_count(GW_C_APQ_REFUSED);
            answer(cb, data, GW_APQ_NOT_IN_LIST, hash, NULL, 0,
                   "This gateway runs only its trusted documents, and this hash names none of them.",
                   "PERSISTED_QUERY_NOT_IN_LIST", 400);
            return;
        }
        gw_metrics_count(GW_C_APQ_HIT);
        answer(cb, data, GW_APQ_FOUND, hash, doc, len, NULL, NULL, 0);
        return;
    }
    if (!cfg->enabled) {
        answer(cb, data, GW_APQ_NOT_SUPPORTED, hash, NULL, 0, "PersistedQueryNotSupported",
               "PERSISTED_QUERY_NOT_SUPPORTED", 200);
        return;
    }
    if (qtext != NULL) {
        answer(cb, data, GW_APQ_REGISTER, hash, qtext, qlen, NULL, NULL, 0);
        return;
    }
    json_t *mine = w != NULL ? json_object_get(w->docs, hash) : NULL;
    if (mine != NULL) {
        gw_metrics_count(GW_C_APQ_HIT);
        /* the callback may clear the memory: pass a text that outlives it */
        json_incref(mine);
        answer(cb, data, GW_APQ_FOUND, hash, json_string_value(mine), json_string_length(mine), NULL, NULL, 0);
        json_decref(mine);
        return;
    }
    if (redis == NULL || !mc_redis_up(redis)) {
        not_found(cb, data, hash);
        return;
    }
    lookup_t *l = calloc(1, sizeof(*l));
    if (l == NULL)
        abort();
    l->w = w;
    l->redis = redis;
    l->ttl_s = cfg->ttl_s;
    l->cb = cb;
    l->data = data;
    memcpy(l->hash, hash, 65);
    char key[80];
    snprintf(key, sizeof(key), "gw:apq:%s", hash);
    const char *argv[] = {"GET", key};
    if (mc_redis_cmd_argv(redis, on_redis_get, l, 2, argv, NULL) != 0) {
        free(l);
        not_found(cb, data, hash);
    }
}

void gw_apq_register(const gw_apq_config_t *cfg, gw_apq_worker_t *w, mc_redis_t *redis, const char *hash,
                     const char *text, size_t len)
{
    if (len > GW_APQ_MAX_REGISTER)
        return;
    gw_metrics_count(GW_C_APQ_REGISTERED);
    worker_put(w, hash, text, len);
    if (redis == NULL || !mc_redis_up(redis))
        return;
    char key[80], ttl[16];
    snprintf(key, sizeof(key), "gw:apq:%s", hash);
    snprintf(ttl, sizeof(ttl), "%u", cfg->ttl_s);
    const char *argv[] = {"SET", key, text, "EX", ttl};
    size_t lens[] = {3, strlen(key), len, 2, strlen(ttl)};
    mc_redis_cmd_argv(redis, NULL, NULL, 5, argv, lens);
}
