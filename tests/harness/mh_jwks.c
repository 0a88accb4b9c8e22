/*
 * JWK sets for the auth tests (see "auth" in harness.h): the public half of a key pair
 * that mh_rsa_keypair made, as Google publishes its signing keys, so that tests can sign
 * "Google" ID tokens with mh_token_sign and the service can verify them.
 */
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"
#include "mc_util.h"

/* A BIGNUM parameter of key as base64url. */
static char *b64_param(EVP_PKEY *key, const char *name)
{
    BIGNUM *bn = NULL;
    if (EVP_PKEY_get_bn_param(key, name, &bn) != 1)
        return NULL;
    int n = BN_num_bytes(bn);
    unsigned char *bin = malloc((size_t)n + 1);
    char *out = malloc(4 * ((size_t)n / 3 + 1) + 1);
    if (bin != NULL && out != NULL) {
        BN_bn2bin(bn, bin);
        mc_base64url_encode(bin, (size_t)n, out);
    } else {
        free(out);
        out = NULL;
    }
    free(bin);
    BN_free(bn);
    return out;
}

json_t *mh_jwk(const char *public_pem, const char *kid)
{
    BIO *bio = BIO_new_mem_buf(public_pem, -1);
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL) : NULL;
    BIO_free(bio);
    if (key == NULL)
        return NULL;
    char *n = b64_param(key, OSSL_PKEY_PARAM_RSA_N), *e = b64_param(key, OSSL_PKEY_PARAM_RSA_E);
    json_t *jwk = n != NULL && e != NULL
                      ? json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "kid", kid, "use", "sig", "alg", "RS256", "n",
                                  n, "e", e)
                      : NULL;
    free(n);
    free(e);
    EVP_PKEY_free(key);
    return jwk;
}
