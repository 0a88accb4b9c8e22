/*
 * Implementation of session.h.
 */
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "mc_util.h"
#include "session.h"
#include "service.h"
#include "store.h"
#include "tokens.h"

static int issue(mongoc_database_t *db, const mc_jwt_t *jwt, json_t *user, const char *family, int64_t family_exp_ms,
                 auth_tokens_t *out, bson_error_t *err)
{
    int64_t now = mc_now_ms();
    const char *uid = auth_user_id(user);
    mc_role_t role = mc_role_parse(json_string_value(json_object_get(user, "role")));
    out->access_iat = now / 1000;
    out->access = mc_jwt_sign_access(jwt, uid, role, out->access_iat, &out->access_exp);
    if (out->access == NULL) {
        bson_set_error(err, MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_NOT_READY, "signing the access token failed");
        return -1;
    }
    auth_token_new(out->refresh);
    int64_t exp = now + (int64_t)auth_cfg()->refresh_ttl_s * 1000;
    out->refresh_exp_ms = exp < family_exp_ms ? exp : family_exp_ms;
    char hash[AUTH_TOKEN_HASH_HEX];
    auth_token_hash(out->refresh, strlen(out->refresh), hash);
    if (auth_refresh_insert(db, hash, family, uid, now, out->refresh_exp_ms, err) != 0) {
        auth_tokens_clear(out);
        return -1;
    }
    return 0;
}

int auth_session_start(mongoc_database_t *db, const mc_jwt_t *jwt, json_t *user, const char *ip, const char *user_agent,
                       auth_tokens_t *out, bson_error_t *err)
{
    memset(out, 0, sizeof(*out));
    int64_t now = mc_now_ms();
    int64_t family_exp = now + (int64_t)auth_cfg()->session_ttl_s * 1000;
    if (auth_family_create(db, auth_user_id(user), auth_user_epoch(user), ip, user_agent, now, family_exp, out->family,
                           err) != 0)
        return -1;
    return issue(db, jwt, user, out->family, family_exp, out, err);
}

int auth_session_rotate(mongoc_database_t *db, const mc_jwt_t *jwt, json_t *user, const char *family,
                        int64_t family_exp_ms, auth_tokens_t *out, bson_error_t *err)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->family, sizeof(out->family), "%s", family);
    return issue(db, jwt, user, family, family_exp_ms, out, err);
}

json_t *auth_tokens_json(auth_tokens_t *t, json_t *user_view)
{
    char exp[MC_TIME_BUFSZ], rexp[MC_TIME_BUFSZ];
    /* expiresIn is the token's lifetime as OAuth's expires_in means it (exp - iat), so a
       slow database write between signing and answering does not make it 899 */
    json_t *o = json_pack("{s:s,s:s,s:I,s:s,s:s,s:s}", "accessToken", t->access, "tokenType", "Bearer", "expiresIn",
                          (json_int_t)(t->access_exp - t->access_iat), "expiresAt",
                          mc_time_format(t->access_exp * 1000, exp), "refreshToken", t->refresh, "refreshExpiresAt",
                          mc_time_format(t->refresh_exp_ms, rexp));
    if (user_view != NULL)
        json_object_set_new(o, "user", user_view);
    auth_tokens_clear(t);
    return o;
}

void auth_tokens_clear(auth_tokens_t *t)
{
    free(t->access);
    t->access = NULL;
}
