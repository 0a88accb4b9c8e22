/*
 * Implementation of google.h.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include "config.h"
#include "google.h"
#include "mc_log.h"
#include "mc_util.h"
#include "mc_valid.h"
#include "mc_work.h"

#define MAX_KEYS 32
#define MAX_JWKS_BYTES (1024 * 1024)

typedef struct jwk {
    char kid[128];
    EVP_PKEY *key;
} jwk_t;

struct auth_jwks {
    atomic_int refs;
    size_t n;
    jwk_t keys[MAX_KEYS];
};

/* --- base64url ---------------------------------------------------------------------------- */

/* JWK members may carry base64 padding: strip it, then decode strictly. */
static long b64url_unpadded_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    while (len > 0 && in[len - 1] == '=')
        --len;
    return mc_base64url_decode(in, len, out, outcap);
}

/* --- key sets -------------------------------------------------------------------------------- */

/* An RSA public key from the JWK's n and e (base64url big-endian integers). */
static EVP_PKEY *rsa_from_jwk(const char *n64, const char *e64)
{
    unsigned char nb[1024], eb[16];
    long nl = b64url_unpadded_decode(n64, strlen(n64), nb, sizeof(nb));
    long el = b64url_unpadded_decode(e64, strlen(e64), eb, sizeof(eb));
    if (nl < 256 || el < 1) /* under 2048 bits: not accepted */
        return NULL;
    EVP_PKEY *pkey = NULL;
    BIGNUM *n = BN_bin2bn(nb, (int)nl, NULL), *e = BN_bin2bn(eb, (int)el, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = NULL;
    if (n == NULL || e == NULL || bld == NULL || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) || (params = OSSL_PARAM_BLD_to_param(bld)) == NULL)
        goto done;
    ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 || EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        pkey = NULL;
        goto done;
    }
    if (EVP_PKEY_get_bits(pkey) < 2048) {
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
done:
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    return pkey;
}

static const char *str_member(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

auth_jwks_t *auth_jwks_parse(const char *json, size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        snprintf(err, errlen, "not a JWK set (%s)", doc == NULL ? je.text : "no \"keys\" array");
        json_decref(doc);
        return NULL;
    }
    auth_jwks_t *set = calloc(1, sizeof(*set));
    if (set == NULL) {
        json_decref(doc);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    atomic_init(&set->refs, 1);
    size_t i;
    json_t *k;
    json_array_foreach(keys, i, k)
    {
        const char *kty = str_member(k, "kty"), *kid = str_member(k, "kid"), *n = str_member(k, "n"),
                   *e = str_member(k, "e"), *alg = str_member(k, "alg"), *use = str_member(k, "use");
        if (set->n == MAX_KEYS || kty == NULL || strcmp(kty, "RSA") != 0 || kid == NULL || strlen(kid) == 0 ||
            strlen(kid) >= sizeof(set->keys[0].kid) || n == NULL || e == NULL)
            continue;
        if ((alg != NULL && strcmp(alg, "RS256") != 0) || (use != NULL && strcmp(use, "sig") != 0))
            continue;
        EVP_PKEY *pk = rsa_from_jwk(n, e);
        if (pk == NULL)
            continue;
        snprintf(set->keys[set->n].kid, sizeof(set->keys[0].kid), "%s", kid);
        set->keys[set->n].key = pk;
        set->n++;
    }
    json_decref(doc);
    if (set->n == 0) {
        snprintf(err, errlen, "the JWK set holds no RSA signing key of 2048 bits or more");
        auth_jwks_release(set);
        return NULL;
    }
    return set;
}

size_t auth_jwks_count(const auth_jwks_t *k)
{
    return k != NULL ? k->n : 0;
}

void auth_jwks_release(auth_jwks_t *k)
{
    if (k == NULL || atomic_fetch_sub(&k->refs, 1) != 1)
        return;
    for (size_t i = 0; i < k->n; ++i)
        EVP_PKEY_free(k->keys[i].key);
    free(k);
}

/* --- verification ------------------------------------------------------------------------------ */

static json_t *decode_json_part(const char *p, size_t len)
{
    unsigned char buf[AUTH_GOOGLE_MAX_TOKEN];
    long n = b64url_unpadded_decode(p, len, buf, sizeof(buf));
    if (n <= 0)
        return NULL;
    json_t *v = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

static bool audience_ok(json_t *aud, const char *audiences)
{
    json_t *list = json_is_array(aud) ? json_incref(aud) : json_pack("[O]", aud);
    bool ok = false;
    size_t i;
    json_t *a;
    json_array_foreach(list, i, a)
    {
        if (!json_is_string(a))
            continue;
        const char *v = json_string_value(a);
        size_t vl = strlen(v);
        for (const char *p = audiences; *p && !ok;) {
            size_t n = strcspn(p, ",");
            if (n == vl && vl > 0 && memcmp(p, v, n) == 0)
                ok = true;
            p += n;
            if (*p == ',')
                ++p;
        }
    }
    json_decref(list);
    return ok;
}

/* Copies a display name without control characters, at most AUTH_NAME_MAX characters. */
static void clean_name(const char *in, char *out, size_t outlen)
{
    size_t o = 0, chars = 0;
    for (const unsigned char *p = (const unsigned char *)in; *p && chars < AUTH_NAME_MAX;) {
        size_t n = *p < 0x80 ? 1 : (*p >> 5) == 6 ? 2 : (*p >> 4) == 14 ? 3 : (*p >> 3) == 30 ? 4 : 0;
        if (n == 0 || o + n >= outlen)
            break;
        bool ok = true;
        for (size_t k = 1; k < n; ++k)
            if (p[k] == '\0' || (p[k] & 0xC0) != 0x80)
                ok = false;
        if (!ok)
            break;
        if (!(n == 1 && (*p < 0x20 || *p == 0x7f))) {
            memcpy(out + o, p, n);
            o += n;
            ++chars;
        }
        p += n;
    }
    while (o > 0 && out[o - 1] == ' ')
        --o;
    out[o] = '\0';
    size_t lead = strspn(out, " ");
    memmove(out, out + lead, o - lead + 1);
}

int auth_google_verify(const auth_jwks_t *keys, const char *token, size_t len, const char *audiences, int64_t now_s,
                       unsigned leeway_s, auth_google_identity_t *out, const char **why)
{
    const char *reason = "malformed token";
    json_t *header = NULL, *claims = NULL;
    EVP_MD_CTX *md = NULL;
    unsigned char sig[1024];
    if (keys == NULL || token == NULL || len == 0 || len > AUTH_GOOGLE_MAX_TOKEN || memchr(token, '\0', len) != NULL)
        goto fail;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        goto fail;
    if ((header = decode_json_part(token, (size_t)(dot1 - token))) == NULL)
        goto fail;
    const char *alg = str_member(header, "alg"), *kid = str_member(header, "kid");
    if (alg == NULL || strcmp(alg, "RS256") != 0) {
        reason = "wrong algorithm";
        goto fail;
    }
    if (json_object_get(header, "crit") != NULL)
        goto fail;
    const jwk_t *key = NULL;
    for (size_t i = 0; kid != NULL && i < keys->n; ++i)
        if (strcmp(keys->keys[i].kid, kid) == 0)
            key = &keys->keys[i];
    if (key == NULL) {
        reason = "unknown signing key";
        goto fail;
    }
    if ((claims = decode_json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL)
        goto fail;
    long siglen = b64url_unpadded_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), sig, sizeof(sig));
    if (siglen <= 0) {
        reason = "bad signature";
        goto fail;
    }
    md = EVP_MD_CTX_new();
    if (md == NULL || EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key->key) != 1 ||
        EVP_DigestVerify(md, sig, (size_t)siglen, (const unsigned char *)token, (size_t)(dot2 - token)) != 1) {
        reason = "bad signature";
        goto fail;
    }

    const char *iss = str_member(claims, "iss");
    if (iss == NULL || (strcmp(iss, "accounts.google.com") != 0 && strcmp(iss, "https://accounts.google.com") != 0)) {
        reason = iss == NULL ? "missing claim" : "wrong issuer";
        goto fail;
    }
    json_t *aud = json_object_get(claims, "aud");
    if (aud == NULL || !audience_ok(aud, audiences)) {
        reason = aud == NULL ? "missing claim" : "wrong audience";
        goto fail;
    }
    json_t *exp = json_object_get(claims, "exp"), *iat = json_object_get(claims, "iat"), *nbf = json_object_get(claims, "nbf");
    if (!json_is_integer(exp) || !json_is_integer(iat)) {
        reason = "missing claim";
        goto fail;
    }
    if (now_s >= json_integer_value(exp) + (json_int_t)leeway_s) {
        reason = "expired";
        goto fail;
    }
    if (json_integer_value(iat) > now_s + (json_int_t)leeway_s) {
        reason = "issued in the future";
        goto fail;
    }
    if (nbf != NULL && (!json_is_integer(nbf) || json_integer_value(nbf) > now_s + (json_int_t)leeway_s)) {
        reason = "not yet valid";
        goto fail;
    }
    const char *sub = str_member(claims, "sub");
    if (sub == NULL || *sub == '\0' || strlen(sub) >= sizeof(out->sub) || mc_utf8_chars(sub, strlen(sub), false) < 0) {
        reason = "missing claim";
        goto fail;
    }
    memset(out, 0, sizeof(*out));
    memcpy(out->sub, sub, strlen(sub) + 1);
    const char *email = str_member(claims, "email");
    if (email != NULL && auth_email_valid(email, strlen(email)))
        memcpy(out->email, email, strlen(email) + 1);
    json_t *ev = json_object_get(claims, "email_verified");
    out->email_verified = json_is_true(ev) || (json_is_string(ev) && strcmp(json_string_value(ev), "true") == 0);
    const char *name = str_member(claims, "name");
    if (name != NULL)
        clean_name(name, out->name, sizeof(out->name));
    EVP_MD_CTX_free(md);
    json_decref(header);
    json_decref(claims);
    if (why != NULL)
        *why = NULL;
    return 0;
fail:
    EVP_MD_CTX_free(md);
    json_decref(header);
    json_decref(claims);
    if (why != NULL)
        *why = reason;
    return -1;
}

/* --- the process's key set -------------------------------------------------------------------- */

static pthread_mutex_t keys_lock = PTHREAD_MUTEX_INITIALIZER;
static auth_jwks_t *current;

bool auth_google_enabled(void)
{
    return auth_cfg()->google_client_ids != NULL;
}

auth_jwks_t *auth_google_keys(void)
{
    pthread_mutex_lock(&keys_lock);
    auth_jwks_t *k = current;
    if (k != NULL)
        atomic_fetch_add(&k->refs, 1);
    pthread_mutex_unlock(&keys_lock);
    return k;
}

static void install(auth_jwks_t *k)
{
    pthread_mutex_lock(&keys_lock);
    auth_jwks_t *old = current;
    current = k;
    pthread_mutex_unlock(&keys_lock);
    auth_jwks_release(old);
}

void auth_google_dispose(void)
{
    install(NULL);
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
    mc_buf_t *b = arg;
    return mc_buf_append(b, p, size * n) == 0 ? size * n : 0;
}

/* Fetches and parses the URL (blocking). */
static auth_jwks_t *fetch(const char *url, char *err, size_t errlen)
{
    mc_buf_t b;
    mc_buf_init(&b, MAX_JWKS_BYTES);
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(err, errlen, "curl_easy_init failed");
        return NULL;
    }
    char cerr[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    auth_jwks_t *k = NULL;
    if (rc != CURLE_OK)
        snprintf(err, errlen, "fetching %.200s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
    else
        k = auth_jwks_parse(b.data != NULL ? b.data : "", b.len, err, errlen);
    mc_buf_free(&b);
    return k;
}

int auth_google_load(char *err, size_t errlen)
{
    const auth_config_t *cfg = auth_cfg();
    if (!auth_google_enabled())
        return 0;
    auth_jwks_t *k = NULL;
    if (cfg->google_jwks_file != NULL) {
        FILE *f = fopen(cfg->google_jwks_file, "rb");
        if (f == NULL) {
            snprintf(err, errlen, "GOOGLE_JWKS_FILE: cannot open %.200s: %s", cfg->google_jwks_file, strerror(errno));
            return -1;
        }
        char *buf = malloc(MAX_JWKS_BYTES + 1);
        size_t n = buf != NULL ? fread(buf, 1, MAX_JWKS_BYTES + 1, f) : 0;
        fclose(f);
        if (buf == NULL || n > MAX_JWKS_BYTES) {
            free(buf);
            snprintf(err, errlen, "GOOGLE_JWKS_FILE: larger than 1 MiB");
            return -1;
        }
        char why[200];
        k = auth_jwks_parse(buf, n, why, sizeof(why));
        free(buf);
        if (k == NULL) {
            snprintf(err, errlen, "GOOGLE_JWKS_FILE: %s", why);
            return -1;
        }
    } else {
        char why[300];
        k = fetch(cfg->google_jwks_url, why, sizeof(why));
        if (k == NULL) {
            /* Google may be unreachable at start: start anyway, refresh soon. */
            mc_log_warn("GOOGLE_JWKS_URL: %s; Google sign-in fails until a refresh succeeds", why);
            return 0;
        }
    }
    mc_log_info("Google sign-in: %zu signing keys loaded", auth_jwks_count(k));
    install(k);
    return 0;
}

/* --- periodic refresh (worker 0) ---------------------------------------------------------------- */

typedef struct refresher {
    uv_timer_t timer;
    bool running, closing, closed;
    auth_jwks_t *fetched;
    char err[300];
} refresher_t;

static refresher_t *refresher;

static void refresher_maybe_free(refresher_t *r)
{
    if (r->closing && r->closed && !r->running)
        free(r);
}

static void refresh_work(void *arg)
{
    refresher_t *r = arg;
    r->fetched = fetch(auth_cfg()->google_jwks_url, r->err, sizeof(r->err));
}

static void refresh_done(void *arg)
{
    refresher_t *r = arg;
    r->running = false;
    if (r->fetched != NULL) {
        mc_log_debug("Google sign-in: %zu signing keys refreshed", auth_jwks_count(r->fetched));
        install(r->fetched);
        r->fetched = NULL;
    } else {
        mc_log_warn("GOOGLE_JWKS_URL refresh failed (%s); keeping the previous keys", r->err);
    }
    refresher_maybe_free(r);
}

static void on_refresh_timer(uv_timer_t *t)
{
    refresher_t *r = t->data;
    if (r->running || r->closing)
        return;
    r->running = true;
    if (mc_work_submit(t->loop, refresh_work, refresh_done, r) != 0)
        r->running = false;
}

int auth_google_refresher_start(auth_worker_t *aw)
{
    const auth_config_t *cfg = auth_cfg();
    if (!auth_google_enabled() || cfg->google_jwks_url == NULL)
        return 0;
    refresher_t *r = calloc(1, sizeof(*r));
    if (r == NULL)
        return -1;
    uv_timer_init(mc_worker_loop(aw->w), &r->timer);
    r->timer.data = r;
    uint64_t every = (uint64_t)cfg->google_jwks_refresh_s * 1000u;
    /* Soon after start when the first fetch failed, then periodically. */
    uv_timer_start(&r->timer, on_refresh_timer, current == NULL ? 5000 : every, every);
    refresher = r;
    return 0;
}

static void refresher_closed(uv_handle_t *h)
{
    refresher_t *r = h->data;
    r->closed = true;
    refresher_maybe_free(r);
}

void auth_google_refresher_stop(auth_worker_t *aw)
{
    (void)aw;
    refresher_t *r = refresher;
    if (r == NULL)
        return;
    refresher = NULL;
    r->closing = true;
    uv_close((uv_handle_t *)&r->timer, refresher_closed);
}
