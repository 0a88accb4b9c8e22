/*
 * Implementation of tokens.h.
 */
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <string.h>
#include "mc_util.h"
#include "tokens.h"

void auth_token_new(char *out)
{
    unsigned char rnd[32];
    mc_random_bytes(rnd, sizeof(rnd));
    size_t n = mc_base64url_encode(rnd, sizeof(rnd), out);
    out[n] = '\0';
    OPENSSL_cleanse(rnd, sizeof(rnd));
}

void auth_token_hash(const char *token, size_t len, char *out)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned int mdlen = 0;
    EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL);
    mc_hex_encode(md, sizeof(md), out);
}

void auth_random_id(char *out)
{
    unsigned char rnd[16];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), out);
}
