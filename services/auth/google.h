/*
 * Sign in with Google: verifying Google ID tokens.
 *
 * An ID token is an RS256 JWT signed by one of Google's keys, published as a JWK set
 * (https://www.googleapis.com/oauth2/v3/certs). We accept a token only when its header
 * says RS256 (nothing else — no "none", no HMAC) and names a key (kid) of the current set,
 * the signature verifies with that key, `iss` is Google's, `aud` is one of our client ids
 * (GOOGLE_CLIENT_ID), `exp` has not passed and `iat`/`nbf` are not in the future (with the
 * JWT leeway), and `sub` is present. RSA public keys are built from the JWK's n and e with
 * OpenSSL 3 (EVP_PKEY_fromdata); keys shorter than 2048 bits are ignored.
 *
 * The key set comes from GOOGLE_JWKS_FILE (read at start) or GOOGLE_JWKS_URL (fetched at
 * start and every GOOGLE_JWKS_REFRESH_SECONDS by worker 0, off the loop; a failed refresh
 * keeps the previous set). Workers share the current set through a reference count, so a
 * refresh never disturbs a verification in progress.
 */
#ifndef AUTH_GOOGLE_H
#define AUTH_GOOGLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "rules.h"
#include "service.h"

#define AUTH_GOOGLE_MAX_TOKEN 8192

typedef struct auth_jwks auth_jwks_t;

/* Parses a JWK set; keys that are not RSA signing keys of 2048+ bits are skipped. NULL
 * (with the reason) when the document is malformed or holds no usable key. */
auth_jwks_t *auth_jwks_parse(const char *json, size_t len, char *err, size_t errlen);
size_t auth_jwks_count(const auth_jwks_t *k);
void auth_jwks_release(auth_jwks_t *k);

typedef struct auth_google_identity {
    char sub[256];
    char email[AUTH_EMAIL_MAX + 1]; /* "" when absent or not an address we accept */
    bool email_verified;
    char name[AUTH_NAME_MAX * 4 + 1]; /* "" when absent; control characters removed */
} auth_google_identity_t;

/* Verifies an ID token with keys. audiences is a comma-separated list of client ids.
 * Returns 0 and fills *out, or -1 with *why a short reason safe to show ("malformed
 * token", "wrong algorithm", "unknown signing key", "bad signature", "wrong issuer",
 * "wrong audience", "expired", "not yet valid", "issued in the future", "missing claim").
 * Pure and thread-safe. */
int auth_google_verify(const auth_jwks_t *keys, const char *token, size_t len, const char *audiences, int64_t now_s,
                       unsigned leeway_s, auth_google_identity_t *out, const char **why);

/* Whether Google sign-in is configured (GOOGLE_CLIENT_ID). */
bool auth_google_enabled(void);
/* Loads the key set from GOOGLE_JWKS_FILE or GOOGLE_JWKS_URL (blocking: start-up). 0, or
 * -1 with the reason. */
int auth_google_load(char *err, size_t errlen);
/* The current key set (a reference: release it), or NULL. Thread-safe. */
auth_jwks_t *auth_google_keys(void);
/* Worker 0: refresh the set from GOOGLE_JWKS_URL periodically. */
int auth_google_refresher_start(auth_worker_t *aw);
void auth_google_refresher_stop(auth_worker_t *aw);
/* Drops the current set (at exit). */
void auth_google_dispose(void);

#endif
