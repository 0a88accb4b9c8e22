/*
 * Implementation of mc_jwt.h.
 *
 * Verification never trusts the token. We take it apart ourselves (three base64url
 * parts, a JSON header whose `alg` must be the configured one, a JSON payload with every
 * claim checked for type and value) and check the signature with OpenSSL and the
 * configured key only: HMAC-SHA256 compared in constant time, or RSASSA-PKCS1-v1_5 with
 * SHA-256 against the public key parsed once at start. libjwt 1.10.2 is only used to sign:
 * for verifying it would trust the token's own `alg` (an HS256 token "signed" with the
 * RSA public key PEM verifies), skip verification entirely with a NULL key, check no
 * claim, copy every part onto the stack with alloca(), and parse the PEM key again for
 * every token (about 1,500 RS256 verifications a second instead of tens of thousands).
 * Tokens have a hard size cap before anything else.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <jansson.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include "mc_config.h"
#include "mc_jwt.h"
#include "mc_util.h"

/* A compact token larger than this is refused unread. Ours are ~400 bytes. */
#define MC_JWT_MAX_TOKEN 8192
/* Key files larger than this are not keys. */
#define MC_JWT_MAX_KEY_FILE (64 * 1024)
/* An HS256 secret shorter than this is guessable offline from any token. */
#define MC_JWT_MIN_SECRET 32
#define MC_JWT_MAX_CLAIM 256

struct mc_jwt {
    jwt_alg_t alg;          /* JWT_ALG_HS256 or JWT_ALG_RS256, nothing else */
    unsigned char *key;     /* HS256 secret or RS256 public PEM; never empty */
    size_t keylen;
    unsigned char *signkey; /* HS256: the secret again; RS256: private PEM or NULL */
    EVP_PKEY *pubkey;       /* RS256: the public key, parsed once (read-only, shared by threads) */
    size_t signkeylen;
    char *issuer;
    char *audience;
    unsigned leeway_s;
    unsigned access_ttl_s;
};

static const char *const role_names[] = {"customer", "seller", "admin"};
static const mc_role_t role_values[] = {MC_ROLE_CUSTOMER, MC_ROLE_SELLER, MC_ROLE_ADMIN};

mc_role_t mc_role_parse(const char *s)
{
    if (s != NULL)
        for (size_t i = 0; i < MC_ARRAY_SIZE(role_names); ++i)
            if (strcmp(s, role_names[i]) == 0)
                return role_values[i];
    return (mc_role_t)0;
}

const char *mc_role_name(mc_role_t role)
{
    for (size_t i = 0; i < MC_ARRAY_SIZE(role_values); ++i)
        if (role_values[i] == role)
            return role_names[i];
    return NULL;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
}

/* True when pem parses as a public key of a type and size we accept for RS256. */
static bool pem_is_rsa(const void *pem, size_t len, bool private_key)
{
    if (len == 0 || len > MC_JWT_MAX_KEY_FILE)
        return false;
    BIO *bio = BIO_new_mem_buf(pem, (int)len);
    if (bio == NULL)
        return false;
    EVP_PKEY *k = private_key ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (k == NULL)
        return false;
    bool ok = EVP_PKEY_base_id(k) == EVP_PKEY_RSA && EVP_PKEY_bits(k) >= 2048;
    EVP_PKEY_free(k);
    return ok;
}

static unsigned char *memdup0(const void *p, size_t n)
{
    unsigned char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

void mc_jwt_free(mc_jwt_t *jwt)
{
    if (jwt == NULL)
        return;
    if (jwt->key != NULL) {
        OPENSSL_cleanse(jwt->key, jwt->keylen);
        free(jwt->key);
    }
    if (jwt->signkey != NULL) {
        OPENSSL_cleanse(jwt->signkey, jwt->signkeylen);
        free(jwt->signkey);
    }
    EVP_PKEY_free(jwt->pubkey);
    free(jwt->issuer);
    free(jwt->audience);
    free(jwt);
}

mc_jwt_t *mc_jwt_create(const char *alg, const void *key, size_t keylen, const void *private_pem, size_t private_len,
                        const char *issuer, const char *audience, unsigned leeway_s, unsigned access_ttl_s, char *err,
                        size_t errlen)
{
    jwt_alg_t a;
    if (alg == NULL || strcmp(alg, "HS256") == 0) {
        a = JWT_ALG_HS256;
    } else if (strcmp(alg, "RS256") == 0) {
        a = JWT_ALG_RS256;
    } else {
        set_err(err, errlen, "unsupported algorithm '%.16s' (HS256 or RS256)", alg);
        return NULL;
    }
    /* libjwt takes the key length as an int; a NULL or empty key would disable checks. */
    if (key == NULL || keylen == 0 || keylen > MC_JWT_MAX_KEY_FILE) {
        set_err(err, errlen, "%s", a == JWT_ALG_HS256 ? "no HS256 secret" : "no RS256 public key");
        return NULL;
    }
    if (a == JWT_ALG_HS256 && keylen < MC_JWT_MIN_SECRET) {
        set_err(err, errlen, "%s", "the HS256 secret must be at least 32 bytes");
        return NULL;
    }
    if (a == JWT_ALG_RS256 && !pem_is_rsa(key, keylen, false)) {
        set_err(err, errlen, "%s", "the RS256 public key is not an RSA public key (PEM, 2048 bits or more)");
        return NULL;
    }
    if (a == JWT_ALG_RS256 && private_pem != NULL && !pem_is_rsa(private_pem, private_len, true)) {
        set_err(err, errlen, "%s", "the RS256 private key is not an RSA private key (PEM, 2048 bits or more)");
        return NULL;
    }
    if (issuer == NULL || *issuer == '\0' || strlen(issuer) > MC_JWT_MAX_CLAIM || audience == NULL || *audience == '\0' ||
        strlen(audience) > MC_JWT_MAX_CLAIM) {
        set_err(err, errlen, "%s", "issuer and audience must be 1..256 characters");
        return NULL;
    }
    if (access_ttl_s == 0) {
        set_err(err, errlen, "%s", "the access-token lifetime must be positive");
        return NULL;
    }

    mc_jwt_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        goto oom;
    j->alg = a;
    j->leeway_s = leeway_s;
    j->access_ttl_s = access_ttl_s;
    if ((j->key = memdup0(key, keylen)) == NULL)
        goto oom;
    j->keylen = keylen;
    if (a == JWT_ALG_RS256) {
        BIO *bio = BIO_new_mem_buf(key, (int)keylen);
        j->pubkey = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
        BIO_free(bio);
        if (j->pubkey == NULL)
            goto oom;
    }
    if (a == JWT_ALG_HS256) {
        if ((j->signkey = memdup0(key, keylen)) == NULL)
            goto oom;
        j->signkeylen = keylen;
    } else if (private_pem != NULL) {
        if ((j->signkey = memdup0(private_pem, private_len)) == NULL)
            goto oom;
        j->signkeylen = private_len;
    }
    if ((j->issuer = strdup(issuer)) == NULL || (j->audience = strdup(audience)) == NULL)
        goto oom;
    return j;
oom:
    mc_jwt_free(j);
    set_err(err, errlen, "%s", "out of memory");
    return NULL;
}

/* Reads a whole (small) file. A trailing newline is dropped when strip_newline: secret
 * files are usually written with `echo`. Returns a malloc'd buffer or NULL. */
static char *read_key_file(const char *path, size_t *len, bool strip_newline, char *err, size_t errlen, const char *var)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(err, errlen, "%s: cannot open '%.200s': %s", var, path, strerror(errno));
        return NULL;
    }
    char *buf = malloc(MC_JWT_MAX_KEY_FILE + 1);
    size_t n = buf != NULL ? fread(buf, 1, MC_JWT_MAX_KEY_FILE + 1, f) : 0;
    bool bad = buf == NULL || ferror(f) || n > MC_JWT_MAX_KEY_FILE;
    fclose(f);
    if (bad) {
        snprintf(err, errlen, "%s: '%.200s' is unreadable or larger than 64 KiB", var, path);
        free(buf);
        return NULL;
    }
    if (strip_newline) {
        if (n > 0 && buf[n - 1] == '\n')
            --n;
        if (n > 0 && buf[n - 1] == '\r')
            --n;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Parses an unsigned number of seconds; false when malformed. */
static bool parse_seconds(const char *name, const char *def, unsigned max, unsigned *out, char *err, size_t errlen)
{
    const char *v = mc_env_str(name, def);
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0' || *v == '-' || n > max) {
        snprintf(err, errlen, "%s: '%.32s' is not a number of seconds in 0..%u", name, v, max);
        return false;
    }
    *out = (unsigned)n;
    return true;
}

mc_jwt_t *mc_jwt_from_env(char *err, size_t errlen)
{
    char dummy[8];
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    const char *alg = mc_env_str("JWT_ALG", "HS256");
    const char *issuer = mc_env_str("JWT_ISSUER", "mercato-auth");
    const char *audience = mc_env_str("JWT_AUDIENCE", "mercato");
    unsigned leeway, ttl;
    if (!parse_seconds("JWT_LEEWAY_SECONDS", "30", 600, &leeway, err, errlen) ||
        !parse_seconds("JWT_ACCESS_TTL_SECONDS", "900", 86400, &ttl, err, errlen))
        return NULL;

    char *key = NULL, *priv = NULL;
    size_t keylen = 0, privlen = 0;
    mc_jwt_t *j = NULL;
    if (strcmp(alg, "HS256") == 0) {
        const char *secret = mc_env_str("JWT_SECRET", NULL);
        const char *file = mc_env_str("JWT_SECRET_FILE", NULL);
        if (secret != NULL && file != NULL) {
            snprintf(err, errlen, "JWT_SECRET and JWT_SECRET_FILE are both set; set one");
            return NULL;
        }
        if (secret != NULL) {
            key = strdup(secret);
            keylen = strlen(secret);
        } else if (file != NULL) {
            key = read_key_file(file, &keylen, true, err, errlen, "JWT_SECRET_FILE");
            if (key == NULL)
                return NULL;
        } else {
            snprintf(err, errlen, "JWT_SECRET (or JWT_SECRET_FILE) is required for HS256");
            return NULL;
        }
    } else if (strcmp(alg, "RS256") == 0) {
        const char *pub = mc_env_str("JWT_PUBLIC_KEY_FILE", NULL);
        const char *privfile = mc_env_str("JWT_PRIVATE_KEY_FILE", NULL);
        if (pub == NULL) {
            snprintf(err, errlen, "JWT_PUBLIC_KEY_FILE is required for RS256");
            return NULL;
        }
        if ((key = read_key_file(pub, &keylen, false, err, errlen, "JWT_PUBLIC_KEY_FILE")) == NULL)
            return NULL;
        if (privfile != NULL && (priv = read_key_file(privfile, &privlen, false, err, errlen, "JWT_PRIVATE_KEY_FILE")) == NULL)
            goto done;
    } else {
        snprintf(err, errlen, "JWT_ALG: '%.16s' is not HS256 or RS256", alg);
        return NULL;
    }
    if (key == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    j = mc_jwt_create(alg, key, keylen, priv, privlen, issuer, audience, leeway, ttl, err, errlen);
done:
    if (key != NULL) {
        OPENSSL_cleanse(key, keylen);
        free(key);
    }
    if (priv != NULL) {
        OPENSSL_cleanse(priv, privlen);
        free(priv);
    }
    return j;
}

bool mc_jwt_can_sign(const mc_jwt_t *jwt)
{
    return jwt != NULL && jwt->signkey != NULL;
}

unsigned mc_jwt_access_ttl(const mc_jwt_t *jwt)
{
    return jwt->access_ttl_s;
}

/* Decodes one base64url part as a JSON object (duplicate keys refused). */
static json_t *decode_part(const char *p, size_t len)
{
    unsigned char buf[MC_JWT_MAX_TOKEN];
    long n = mc_base64url_decode(p, len, buf, sizeof(buf));
    if (n <= 0)
        return NULL;
    json_t *v = json_loadb((const char *)buf, (size_t)n, JSON_REJECT_DUPLICATES, NULL);
    if (v != NULL && !json_is_object(v)) {
        json_decref(v);
        v = NULL;
    }
    return v;
}

/* An integer claim: false when absent; *ok false when present but not an integer. */
static bool int_claim(json_t *claims, const char *name, int64_t *out, bool *ok)
{
    json_t *v = json_object_get(claims, name);
    if (v == NULL)
        return false;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        *ok = false;
        return false;
    }
    *out = (int64_t)json_integer_value(v);
    return true;
}

static const char *str_claim(json_t *claims, const char *name)
{
    json_t *v = json_object_get(claims, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Checks every claim; returns NULL when they are acceptable, or the reason. */
static const char *check_claims(const mc_jwt_t *jwt, json_t *claims, int64_t now, mc_claims_t *out)
{
    bool ok = true;
    int64_t exp = 0, iat = 0, nbf = 0;
    const int64_t leeway = jwt->leeway_s;

    bool has_exp = int_claim(claims, "exp", &exp, &ok);
    bool has_iat = int_claim(claims, "iat", &iat, &ok);
    bool has_nbf = int_claim(claims, "nbf", &nbf, &ok);
    if (!ok)
        return "malformed claims";
    if (!has_exp || !has_iat)
        return "missing claim";
    /* exp is the first second at which the token is no longer accepted (RFC 7519 4.1.4). */
    if (now >= exp + leeway)
        return "expired";
    if (has_nbf && now + leeway < nbf)
        return "not yet valid";
    if (iat > now + leeway)
        return "issued in the future";

    const char *iss = str_claim(claims, "iss");
    if (iss == NULL)
        return "missing claim";
    if (strcmp(iss, jwt->issuer) != 0)
        return "wrong issuer";

    json_t *aud = json_object_get(claims, "aud");
    bool aud_ok = false;
    if (json_is_string(aud)) {
        aud_ok = strcmp(json_string_value(aud), jwt->audience) == 0;
    } else if (json_is_array(aud)) {
        size_t i;
        json_t *a;
        json_array_foreach(aud, i, a)
        {
            if (json_is_string(a) && strcmp(json_string_value(a), jwt->audience) == 0)
                aud_ok = true;
        }
    } else if (aud == NULL) {
        return "missing claim";
    }
    if (!aud_ok)
        return "wrong audience";

    const char *typ = str_claim(claims, "typ");
    if (typ == NULL)
        return "missing claim";
    if (strcmp(typ, "access") != 0)
        return "wrong token type";

    const char *sub = str_claim(claims, "sub");
    if (sub == NULL)
        return "missing claim";
    if (!mc_is_object_id(sub, strlen(sub)))
        return "invalid subject";

    const char *role = str_claim(claims, "role");
    if (role == NULL)
        return "missing claim";
    mc_role_t r = mc_role_parse(role);
    if (r == 0)
        return "invalid role";

    const char *jti = str_claim(claims, "jti");
    if (jti == NULL)
        return "missing claim";
    size_t jtilen = strlen(jti);
    if (jtilen == 0 || jtilen >= sizeof(out->jti))
        return "invalid token id";

    memcpy(out->sub, sub, 25);
    out->role = r;
    memcpy(out->jti, jti, jtilen + 1);
    out->iat = iat;
    out->exp = exp;
    return NULL;
}

/* Checks the signature (base64url sig of siglen characters) over signed[0..signed_len):
 * HMAC-SHA256 with the secret, compared in constant time, or RS256 with the public key. */
static bool signature_ok(const mc_jwt_t *jwt, const char *signed_part, size_t signed_len, const char *sig64, size_t siglen)
{
    unsigned char sig[1024];
    long n = mc_base64url_decode(sig64, siglen, sig, sizeof(sig));
    if (n <= 0)
        return false;
    if (jwt->alg == JWT_ALG_HS256) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (HMAC(EVP_sha256(), jwt->key, (int)jwt->keylen, (const unsigned char *)signed_part, signed_len, mac, &maclen) ==
            NULL)
            return false;
        return (size_t)n == maclen && CRYPTO_memcmp(sig, mac, maclen) == 0;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    bool ok = md != NULL && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, jwt->pubkey) == 1 &&
              EVP_DigestVerify(md, sig, (size_t)n, (const unsigned char *)signed_part, signed_len) == 1;
    EVP_MD_CTX_free(md);
    return ok;
}

int mc_jwt_verify(const mc_jwt_t *jwt, const char *token, size_t len, int64_t now_s, mc_claims_t *out, const char **why)
{
    const char *reason = "malformed token";
    json_t *header = NULL, *claims = NULL;
    mc_claims_t tmp;

    if (jwt == NULL || token == NULL || len == 0)
        goto fail;
    if (len > MC_JWT_MAX_TOKEN) {
        reason = "token too large";
        goto fail;
    }
    /* Three base64url parts; header and payload non-empty. */
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 != NULL ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (dot1 == NULL || dot2 == NULL || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)) != NULL)
        goto fail;
    if (dot1 == token || dot2 == dot1 + 1)
        goto fail;
    if (memchr(token, '\0', len) != NULL)
        goto fail;

    if ((header = decode_part(token, (size_t)(dot1 - token))) == NULL)
        goto fail;
    const char *alg = str_claim(header, "alg");
    if (alg == NULL)
        goto fail;
    if (strcmp(alg, jwt->alg == JWT_ALG_HS256 ? "HS256" : "RS256") != 0) {
        reason = "wrong algorithm";
        goto fail;
    }
    json_t *hdr_typ = json_object_get(header, "typ");
    if (hdr_typ != NULL && (!json_is_string(hdr_typ) || strcasecmp(json_string_value(hdr_typ), "JWT") != 0))
        goto fail;
    if (json_object_get(header, "crit") != NULL) { /* RFC 7515 4.1.11: we understand no extension */
        reason = "unsupported token header";
        goto fail;
    }
    if ((claims = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1))) == NULL) {
        reason = "malformed claims";
        goto fail;
    }
    if (dot2 + 1 == token + len) { /* a stripped signature */
        reason = "bad signature";
        goto fail;
    }

    /* Signature: the configured algorithm and key only. */
    if (!signature_ok(jwt, token, (size_t)(dot2 - token), dot2 + 1, len - (size_t)(dot2 + 1 - token))) {
        reason = "bad signature";
        goto fail;
    }

    if ((reason = check_claims(jwt, claims, now_s, &tmp)) != NULL)
        goto fail;
    json_decref(header);
    json_decref(claims);
    *out = tmp;
    if (why != NULL)
        *why = NULL;
    return 0;

fail:
    json_decref(header);
    json_decref(claims);
    if (why != NULL)
        *why = reason;
    return -1;
}

char *mc_jwt_sign_access(const mc_jwt_t *jwt, const char *sub, mc_role_t role, int64_t now_s, int64_t *exp_out)
{
    const char *role_name = mc_role_name(role);
    if (!mc_jwt_can_sign(jwt) || sub == NULL || !mc_is_object_id(sub, strlen(sub)) || role_name == NULL || now_s < 0)
        return NULL;
    if (jwt->signkeylen > INT_MAX)
        return NULL;

    unsigned char rnd[32];
    char jti[65];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), jti);

    int64_t exp = now_s + jwt->access_ttl_s;
    jwt_t *t = NULL;
    char *out = NULL;
    if (jwt_new(&t) != 0)
        return NULL;
    if (jwt_add_grant(t, "iss", jwt->issuer) || jwt_add_grant(t, "aud", jwt->audience) || jwt_add_grant(t, "sub", sub) ||
        jwt_add_grant(t, "typ", "access") || jwt_add_grant(t, "role", role_name) || jwt_add_grant(t, "jti", jti) ||
        jwt_add_grant_int(t, "iat", (long)now_s) || jwt_add_grant_int(t, "nbf", (long)now_s) ||
        jwt_add_grant_int(t, "exp", (long)exp))
        goto done;
    if (jwt_set_alg(t, jwt->alg, jwt->signkey, (int)jwt->signkeylen) != 0)
        goto done;
    out = jwt_encode_str(t);
    if (out != NULL && exp_out != NULL)
        *exp_out = exp;
done:
    jwt_free(t);
    return out;
}
