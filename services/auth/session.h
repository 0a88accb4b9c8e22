/*
 * Sessions: issuing an access token and a refresh token, on the thread pool (inside a
 * database job: a session is a `families` document plus a `refresh_tokens` document, and
 * RS256 signing costs about a millisecond, too much for an event loop).
 *
 * A session is a refresh-token family. Each refresh spends the presented token
 * (refresh_used, a unique key) and issues the next one in the same family; presenting a
 * spent token again is a reuse — the token was stolen, or a client is confused — and
 * revokes the whole family (family_revocations). A family ends at the latest
 * SESSION_MAX_AGE_SECONDS after its login, and a refresh token unused for
 * REFRESH_TOKEN_TTL_SECONDS expires. A family is valid only while the user's epoch equals
 * the one it was created under (store.h).
 */
#ifndef AUTH_SESSION_H
#define AUTH_SESSION_H

#include <jansson.h>
#include <mongoc/mongoc.h>
#include "mc_jwt.h"
#include "rules.h"

typedef struct auth_tokens {
    char *access;            /* malloc'd JWT */
    int64_t access_iat;      /* seconds since the epoch: when it was signed */
    int64_t access_exp;      /* seconds since the epoch */
    char refresh[AUTH_TOKEN_CHARS + 1];
    int64_t refresh_exp_ms;
    char family[33];
} auth_tokens_t;

/* Starts a new session (family) for a stored user. 0, or -1 with err set. */
int auth_session_start(mongoc_database_t *db, const mc_jwt_t *jwt, json_t *user, const char *ip, const char *user_agent,
                       auth_tokens_t *out, bson_error_t *err);
/* The next refresh token of family (which ends at family_exp_ms) and a new access token.
 * 0 or -1. */
int auth_session_rotate(mongoc_database_t *db, const mc_jwt_t *jwt, json_t *user, const char *family,
                        int64_t family_exp_ms, auth_tokens_t *out, bson_error_t *err);
/* {accessToken, tokenType, expiresIn, expiresAt, refreshToken, refreshExpiresAt} plus
 * `user` when user_view is not NULL (stolen). Frees out->access. */
json_t *auth_tokens_json(auth_tokens_t *t, json_t *user_view);
void auth_tokens_clear(auth_tokens_t *t);

#endif
