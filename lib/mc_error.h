/*
 * mc_error: the one error enum of the platform.
 *
 * Every layer reports failures with an mc_err_t; this file is the only place that maps
 * one to an HTTP status, to the `code` string of the REST error envelope
 * ({"error":{"code","message","details"}}) and to the GraphQL `extensions.code` of
 * DESIGN.md. Adding an error means adding a row to the table in mc_error.c.
 */
#ifndef MC_ERROR_H
#define MC_ERROR_H

typedef enum mc_err {
    MC_OK = 0,
    MC_ERR_BAD_REQUEST,       /* 400 malformed input (syntax, types, limits of a field) */
    MC_ERR_UNAUTHENTICATED,   /* 401 no credentials, or credentials that do not verify */
    MC_ERR_FORBIDDEN,         /* 403 authenticated but not allowed */
    MC_ERR_NOT_FOUND,         /* 404 */
    MC_ERR_METHOD_NOT_ALLOWED,/* 405 path exists, method does not */
    MC_ERR_CONFLICT,          /* 409 state conflict: duplicate, concurrent, refused transition */
    MC_ERR_PAYLOAD_TOO_LARGE, /* 413 */
    MC_ERR_UNSUPPORTED_MEDIA, /* 415 */
    MC_ERR_UNPROCESSABLE,     /* 422 well-formed but semantically refused */
    MC_ERR_RATE_LIMITED,      /* 429 */
    MC_ERR_INTERNAL,          /* 500 a bug or an unexpected failure */
    MC_ERR_UPSTREAM,          /* 502 another service answered badly */
    MC_ERR_UNAVAILABLE,       /* 503 a dependency (database, service) is unreachable */
    MC_ERR_TIMEOUT,           /* 504 a dependency did not answer in time */
    MC_ERR__COUNT
} mc_err_t;

/* HTTP status for an error (200 for MC_OK). */
int mc_err_http_status(mc_err_t err);
/* REST envelope code, e.g. "NOT_FOUND". Static string. */
const char *mc_err_code(mc_err_t err);
/* GraphQL extensions.code, e.g. "BAD_USER_INPUT", "UPSTREAM_UNAVAILABLE". Static string. */
const char *mc_err_graphql_code(mc_err_t err);
/* Reverse of mc_err_code; MC_ERR_INTERNAL for an unknown string. */
mc_err_t mc_err_from_code(const char *code);
/* The error an HTTP status from another service maps to (2xx → MC_OK). */
mc_err_t mc_err_from_http_status(int status);

#endif
