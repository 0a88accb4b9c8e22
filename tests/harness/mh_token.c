/*
 * Tokens for tests: valid ones through lib/mc_jwt (exactly what the auth service will
 * issue), and forged ones assembled by hand, so that every way a token can be wrong —
 * algorithm, signature, claims, encoding — can be put in front of a verifier.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include "harness.h"
#include "mc_jwt.h"
#include "mc_util.h"

void mh_oid(char out[25])
{
    unsigned char b[12];
    mc_random_bytes(b, sizeof(b));
    mc_hex_encode(b, sizeof(b), out);
}

char *mh_token_at(const char *sub, const char *role, int64_t now_s)
{
    char err[128];
    mc_jwt_t *j = mc_jwt_create("HS256", MH_JWT_SECRET, strlen(MH_JWT_SECRET), NULL, 0, MH_JWT_ISSUER, MH_JWT_AUDIENCE, 30,
                                900, err, sizeof(err));
    if (j == NULL) {
        fprintf(stderr, "harness: mc_jwt_create: %s\n", err);
        return NULL;
    }
    char *t = mc_jwt_sign_access(j, sub, mc_role_parse(role), now_s, NULL);
    mc_jwt_free(j);
    return t;
}

char *mh_token(const char *sub, const char *role)
{
    return mh_token_at(sub, role, mc_now_ms() / 1000);
}

json_t *mh_claims(const char *sub, const char *role, int64_t now_s)
{
    unsigned char rnd[32];
    char jti[65];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), jti);
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "iss", MH_JWT_ISSUER, "aud", MH_JWT_AUDIENCE, "sub",
                     sub, "role", role, "typ", "access", "jti", jti, "iat", (json_int_t)now_s, "nbf", (json_int_t)now_s,
                     "exp", (json_int_t)(now_s + 900));
}

static char *b64(const void *p, size_t n)
{
    char *out = malloc(4 * ((n + 2) / 3) + 1);
    if (out != NULL)
        mc_base64url_encode(p, n, out);
    return out;
}

char *mh_token_sign_raw(const char *header_json, const char *claims_json, const char *alg, const void *key, size_t keylen)
{
    char *h = b64(header_json, strlen(header_json)), *c = b64(claims_json, strlen(claims_json));
    size_t n = strlen(h) + strlen(c) + 2;
    char *signing = malloc(n);
    snprintf(signing, n, "%s.%s", h, c);
    free(h);
    free(c);
    unsigned char sig[1024];
    size_t siglen = 0;
    if (alg != NULL && strcmp(alg, "HS256") == 0) {
        unsigned int len = 0;
        if (key == NULL) {
            key = MH_JWT_SECRET;
            keylen = strlen(MH_JWT_SECRET);
        }
        HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)signing, strlen(signing), sig, &len);
        siglen = len;
    } else if (alg != NULL && strcmp(alg, "RS256") == 0 && key != NULL) {
        BIO *bio = BIO_new_mem_buf(key, (int)keylen);
        EVP_PKEY *pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
        BIO_free(bio);
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        siglen = sizeof(sig);
        if (pk == NULL || md == NULL || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, pk) != 1 ||
            EVP_DigestSign(md, sig, &siglen, (const unsigned char *)signing, strlen(signing)) != 1)
            siglen = 0;
        EVP_MD_CTX_free(md);
        EVP_PKEY_free(pk);
    }
    char *s = b64(sig, siglen);
    size_t tn = strlen(signing) + strlen(s) + 2;
    char *tok = malloc(tn);
    snprintf(tok, tn, "%s.%s", signing, s);
    free(s);
    free(signing);
    return tok;
}

char *mh_token_sign(json_t *header, const json_t *claims, const void *key, size_t keylen)
{
    if (header == NULL)
        header = json_pack("{s:s, s:s}", "alg", "HS256", "typ", "JWT");
    const char *alg = json_string_value(json_object_get(header, "alg"));
    char *h = json_dumps(header, JSON_COMPACT), *c = json_dumps(claims, JSON_COMPACT);
    char *tok = mh_token_sign_raw(h, c, alg, key, keylen);
    free(h);
    free(c);
    json_decref(header);
    return tok;
}

static char *memdup0(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    memcpy(d, p, n);
    d[n] = '\0';
    return d;
}

int mh_rsa_keypair(char **public_pem, char **private_pem)
{
    EVP_PKEY *pk = EVP_RSA_gen(2048);
    if (pk == NULL)
        return -1;
    BIO *pub = BIO_new(BIO_s_mem()), *priv = BIO_new(BIO_s_mem());
    int rc = -1;
    if (PEM_write_bio_PUBKEY(pub, pk) == 1 && PEM_write_bio_PrivateKey(priv, pk, NULL, NULL, 0, NULL, NULL) == 1) {
        char *p;
        long n = BIO_get_mem_data(pub, &p);
        *public_pem = memdup0(p, (size_t)n); /* the BIO's data has no NUL */
        n = BIO_get_mem_data(priv, &p);
        *private_pem = memdup0(p, (size_t)n);
        rc = 0;
    }
    BIO_free(pub);
    BIO_free(priv);
    EVP_PKEY_free(pk);
    return rc;
}
