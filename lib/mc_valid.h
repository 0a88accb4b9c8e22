/*
 * mc_valid: checking client input field by field, collecting every problem so the
 * client gets them all at once:
 *   400 {"error":{"code":"BAD_REQUEST","message":"invalid input",
 *                 "details":[{"field":"name","message":"must be 1 to 120 characters"}]}}
 *
 * Only the exact JSON type a field declares is accepted: a string field given an object
 * (`{"$ne": null}`) is an error, never something that reaches a database query. Strings
 * must be valid UTF-8 without control characters (tab and newline are allowed only
 * where MC_V_MULTILINE says so); lengths count characters, not bytes.
 */
#ifndef MC_VALID_H
#define MC_VALID_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <jansson.h>

typedef struct mc_req mc_req_t;

enum {
    MC_V_REQUIRED = 1,  /* absence is an error */
    MC_V_NULLABLE = 2,  /* JSON null is accepted (reads as absent; check mc_valid_is_null) */
    MC_V_MULTILINE = 4, /* strings may contain \n, \r and \t */
    MC_V_TRIM = 8,      /* leading/trailing spaces are removed before the length check */
};

typedef struct mc_valid {
    json_t *obj;    /* the object being checked (borrowed); NULL for query strings */
    mc_req_t *req;  /* where trimmed copies are allocated */
    json_t *errors; /* array of {field, message}; NULL while there is none */
} mc_valid_t;

void mc_valid_init(mc_valid_t *v, mc_req_t *req, json_t *obj);
/* Adds an error for a field. */
void mc_valid_error(mc_valid_t *v, const char *field, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
bool mc_valid_ok(const mc_valid_t *v);
/* When errors were found, answers 400 with all of them and returns true. */
bool mc_valid_fail(mc_valid_t *v);

/* Refuses members not in `allowed` (NULL-terminated). */
void mc_valid_only(mc_valid_t *v, const char *const *allowed);
bool mc_valid_has(const mc_valid_t *v, const char *key);
bool mc_valid_is_null(const mc_valid_t *v, const char *key);

/* A string of minlen..maxlen characters. Returns it (borrowed from the JSON or the
 * request), or NULL when absent, null or invalid. */
const char *mc_valid_str(mc_valid_t *v, const char *key, size_t minlen, size_t maxlen, unsigned flags);
/* A string that is one of `allowed` (NULL-terminated). */
const char *mc_valid_enum(mc_valid_t *v, const char *key, const char *const *allowed, unsigned flags);
/* An ObjectId (24 hex digits), returned in lower case. */
const char *mc_valid_oid(mc_valid_t *v, const char *key, unsigned flags);
/* An absolute http(s) URL of at most maxlen characters. */
const char *mc_valid_url(mc_valid_t *v, const char *key, size_t maxlen, unsigned flags);
/* An integer in [min, max] (JSON integers only; 1.0 is refused). Returns true when present
 * and valid (*out set). */
bool mc_valid_int(mc_valid_t *v, const char *key, int64_t min, int64_t max, unsigned flags, int64_t *out);
bool mc_valid_bool(mc_valid_t *v, const char *key, unsigned flags, bool *out);
/* An array of 0..maxitems strings each of 1..maxlen characters, no duplicates. Returns the
 * array (borrowed) or NULL. */
json_t *mc_valid_str_array(mc_valid_t *v, const char *key, size_t maxitems, size_t maxlen, unsigned flags);

/* Query-string parameters (v initialised with obj NULL). Refuses parameters not in
 * `allowed`. */
void mc_valid_query_only(mc_valid_t *v, const char *const *allowed);
bool mc_valid_query_int(mc_valid_t *v, const char *name, int64_t min, int64_t max, int64_t *out);
bool mc_valid_query_bool(mc_valid_t *v, const char *name, bool *out);
const char *mc_valid_query_oid(mc_valid_t *v, const char *name);
const char *mc_valid_query_str(mc_valid_t *v, const char *name, size_t minlen, size_t maxlen);
const char *mc_valid_query_enum(mc_valid_t *v, const char *name, const char *const *allowed);

/* Counts UTF-8 characters; -1 when s is not valid UTF-8 or has a forbidden control
 * character (see MC_V_MULTILINE). */
long mc_utf8_chars(const char *s, size_t len, bool multiline);

#endif
