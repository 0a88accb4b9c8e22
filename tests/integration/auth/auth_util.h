/*
 * Helpers shared by the auth service's integration tests: calls to the service as a
 * client makes them, and checks of what came back.
 */
#ifndef AUTH_TEST_UTIL_H
#define AUTH_TEST_UTIL_H

#include <stdbool.h>
#include "harness.h"

/* The service the helpers talk to (set by each test's setup). */
extern mh_service_t *auth_svc;

/* base URL + path of auth_svc (the harness's ring of buffers). */
const char *au_url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* A JSON body from a json_pack format (stolen by the call). */
mh_response_t au_post(const char *path, const char *token, json_t *body);
mh_response_t au_post_as(const char *path, const char *token, json_t *body, const char *forwarded_for);
/* The same with a full URL (computed beforehand): safe on several threads at once. */
mh_response_t au_post_url(const char *url, const char *token, json_t *body, const char *forwarded_for);

/* Fails the test unless r has this status (and this error code when code is not NULL);
 * frees r. */
void au_expect(mh_response_t r, long status, const char *code);

/* Registers (201 expected) and returns the session (new reference). */
json_t *au_register(const char *email, const char *password, const char *name);
json_t *au_register_role(const char *email, const char *password, const char *name, const char *role);
/* Logs in: the response (status as it comes). */
mh_response_t au_login(const char *email, const char *password);
/* Logs in, expecting 200; the session (new reference). */
json_t *au_login_ok(const char *email, const char *password);
mh_response_t au_refresh(const char *refresh_token);

/* A string member. */
const char *au_str(json_t *o, const char *key);
/* The claims (payload) of a JWT, decoded without checking anything (new reference). */
json_t *au_jwt_payload(const char *token);
/* A unique email address for a test ("<prefix>-<n>@example.com"), static ring of buffers. */
const char *au_email(const char *prefix);

/* Runs fn(i, arg) on n threads at once (released together) and waits for them all. */
void au_parallel(int n, void (*fn)(int i, void *arg), void *arg);

#endif
