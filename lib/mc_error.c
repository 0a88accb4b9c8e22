/*
 * The mapping table of mc_error.h. One row per error; the order follows the enum.
 */
#include <string.h>
#include "mc_error.h"

static const struct {
    int status;
    const char *code;
    const char *graphql;
} table[MC_ERR__COUNT] = {
    [MC_OK] = {200, "OK", "OK"},
    [MC_ERR_BAD_REQUEST] = {400, "BAD_REQUEST", "BAD_USER_INPUT"},
    [MC_ERR_UNAUTHENTICATED] = {401, "UNAUTHENTICATED", "UNAUTHENTICATED"},
    [MC_ERR_FORBIDDEN] = {403, "FORBIDDEN", "FORBIDDEN"},
    [MC_ERR_NOT_FOUND] = {404, "NOT_FOUND", "NOT_FOUND"},
    [MC_ERR_METHOD_NOT_ALLOWED] = {405, "METHOD_NOT_ALLOWED", "BAD_USER_INPUT"},
    [MC_ERR_CONFLICT] = {409, "CONFLICT", "CONFLICT"},
    [MC_ERR_PAYLOAD_TOO_LARGE] = {413, "PAYLOAD_TOO_LARGE", "BAD_USER_INPUT"},
    [MC_ERR_UNSUPPORTED_MEDIA] = {415, "UNSUPPORTED_MEDIA_TYPE", "BAD_USER_INPUT"},
    [MC_ERR_UNPROCESSABLE] = {422, "UNPROCESSABLE", "BAD_USER_INPUT"},
    [MC_ERR_RATE_LIMITED] = {429, "RATE_LIMITED", "RATE_LIMITED"},
    [MC_ERR_INTERNAL] = {500, "INTERNAL", "INTERNAL"},
    [MC_ERR_UPSTREAM] = {502, "UPSTREAM_ERROR", "UPSTREAM_UNAVAILABLE"},
    [MC_ERR_UNAVAILABLE] = {503, "UNAVAILABLE", "UPSTREAM_UNAVAILABLE"},
    [MC_ERR_TIMEOUT] = {504, "TIMEOUT", "UPSTREAM_UNAVAILABLE"},
};

int mc_err_http_status(mc_err_t err)
{
    return (unsigned)err < MC_ERR__COUNT ? table[err].status : 500;
}

const char *mc_err_code(mc_err_t err)
{
    return (unsigned)err < MC_ERR__COUNT ? table[err].code : "INTERNAL";
}

const char *mc_err_graphql_code(mc_err_t err)
{
    return (unsigned)err < MC_ERR__COUNT ? table[err].graphql : "INTERNAL";
}

mc_err_t mc_err_from_code(const char *code)
{
    if (code != NULL)
        for (int i = 0; i < MC_ERR__COUNT; ++i)
            if (strcmp(table[i].code, code) == 0)
                return (mc_err_t)i;
    return MC_ERR_INTERNAL;
}

mc_err_t mc_err_from_http_status(int status)
{
    if (status >= 200 && status < 300)
        return MC_OK;
    switch (status) {
    case 400:
        return MC_ERR_BAD_REQUEST;
    case 401:
        return MC_ERR_UNAUTHENTICATED;
    case 403:
        return MC_ERR_FORBIDDEN;
    case 404:
        return MC_ERR_NOT_FOUND;
    case 405:
        return MC_ERR_METHOD_NOT_ALLOWED;
    case 409:
        return MC_ERR_CONFLICT;
    case 413:
        return MC_ERR_PAYLOAD_TOO_LARGE;
    case 415:
        return MC_ERR_UNSUPPORTED_MEDIA;
    case 422:
        return MC_ERR_UNPROCESSABLE;
    case 429:
        return MC_ERR_RATE_LIMITED;
    case 503:
        return MC_ERR_UNAVAILABLE;
    case 504:
        return MC_ERR_TIMEOUT;
    default:
        return status >= 500 ? MC_ERR_UPSTREAM : MC_ERR_BAD_REQUEST;
    }
}
