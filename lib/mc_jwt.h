/*
 * mc_jwt: access tokens, verified the same way by every service and the gateway.
 *
 * libjwt 1.10.2 checks only the signature, and trusts the token's own `alg` (see
 * NOTES-libraries.md). This module adds what it lacks: the algorithm must equal the one
 * configured (HS256 or RS256 — never "none"), `exp`, `nbf`, `iat`, `iss`, `aud` are
 * checked with a small leeway, `typ` must be "access" (refresh tokens are opaque and
 * never JWTs, verification and reset tokens neither), `sub` must be an ObjectId and
 * `role` one of customer, seller, admin.
 *
 * Settings (environment):
 *   JWT_ALG               HS256 (default) or RS256
 *   JWT_SECRET            HS256 key, at least 32 bytes (or JWT_SECRET_FILE, whose one
 *                         trailing newline is ignored; setting both is an error)
 *   JWT_PUBLIC_KEY_FILE   RS256 public key (PEM): enough to verify
 *   JWT_PRIVATE_KEY_FILE  RS256 private key (PEM): only the auth service needs it, to sign
 *   JWT_ISSUER            default "mercato-auth"
 *   JWT_AUDIENCE          default "mercato"
 *   JWT_LEEWAY_SECONDS    default 30
 *   JWT_ACCESS_TTL_SECONDS default 900 (15 min), used when signing
 */
#ifndef MC_JWT_H
#define MC_JWT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum mc_role {
    MC_ROLE_CUSTOMER = 1,
    MC_ROLE_SELLER = 2,
    MC_ROLE_ADMIN = 4,
} mc_role_t;
#define MC_ROLE_ANY 0u

/* "customer"/"seller"/"admin" ↔ mc_role_t; 0 for an unknown name. */
mc_role_t mc_role_parse(const char *s);
const char *mc_role_name(mc_role_t role);

typedef struct mc_claims {
    char sub[25];   /* user id (ObjectId hex) */
    mc_role_t role;
    char jti[65];   /* token id */
    int64_t iat, exp; /* seconds since the epoch */
} mc_claims_t;

typedef struct mc_jwt mc_jwt_t;

/* Reads the settings above. Returns NULL and writes the reason into err when they are
 * missing or invalid (unknown algorithm, short secret, unreadable key file). */
mc_jwt_t *mc_jwt_from_env(char *err, size_t errlen);
/* The same from explicit values (tests, tools). key: HS256 secret or RS256 public PEM;
 * private_pem may be NULL (verify only). */
mc_jwt_t *mc_jwt_create(const char *alg, const void *key, size_t keylen, const void *private_pem, size_t private_len,
                        const char *issuer, const char *audience, unsigned leeway_s, unsigned access_ttl_s, char *err,
                        size_t errlen);
void mc_jwt_free(mc_jwt_t *jwt);

/* Verifies a compact JWS access token at time now_s. Returns 0 and fills *out, or -1
 * with *why set to a short static reason that is safe to show to a client: "malformed
 * token", "token too large" (over 8 KiB), "wrong algorithm", "unsupported token header"
 * (crit), "malformed claims" (also duplicate keys), "bad signature", "missing claim",
 * "expired", "not yet valid", "issued in the future", "wrong issuer", "wrong audience",
 * "wrong token type", "invalid subject", "invalid role", "invalid token id".
 * Thread-safe. */
int mc_jwt_verify(const mc_jwt_t *jwt, const char *token, size_t len, int64_t now_s, mc_claims_t *out, const char **why);

/* Signs an access token for sub/role at now_s with a fresh jti. Needs a signing key (the
 * HS256 secret or JWT_PRIVATE_KEY_FILE). Returns a malloc'd token or NULL. *exp_out (may
 * be NULL) receives the expiry. Thread-safe. */
char *mc_jwt_sign_access(const mc_jwt_t *jwt, const char *sub, mc_role_t role, int64_t now_s, int64_t *exp_out);
bool mc_jwt_can_sign(const mc_jwt_t *jwt);
unsigned mc_jwt_access_ttl(const mc_jwt_t *jwt);

#endif
