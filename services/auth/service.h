/*
 * What the parts of the auth service share at run time: the per-worker state (hash gate,
 * in-process rate limiter, and on worker 0 the background tasks) and a few helpers the
 * route files all use. See main.c for the life cycle.
 */
#ifndef AUTH_SERVICE_H
#define AUTH_SERVICE_H

#include <stdbool.h>
#include <jansson.h>
#include "hashgate.h"
#include "limiter.h"
#include "mc_mongo.h"
#include "mc_req.h"
#include "mc_server.h"

typedef struct auth_mailer auth_mailer_t;
typedef struct auth_janitor auth_janitor_t;

typedef struct auth_worker {
    mc_worker_t *w;
    auth_hashgate_t *hashgate;
    auth_limiter_t *limiter;      /* used while Redis is unreachable */
    auth_mailer_t *mailer;        /* worker 0 only */
    auth_janitor_t *janitor;      /* worker 0 only */
} auth_worker_t;

auth_worker_t *auth_worker_of(mc_req_t *req);
/* The process's JWT signer (immutable, thread-safe; set at start). */
const mc_jwt_t *auth_jwt(void);
void auth_set_jwt(const mc_jwt_t *jwt);

/* Answers a failed database job: 503 when the database is unreachable, 500 otherwise
 * (logged). */
void auth_answer_db_error(mc_req_t *req, const mc_mongo_result_t *res);

/* The :id path parameter as a lower-case ObjectId; answers 400 and returns NULL when
 * malformed. what names the resource in the message ("user", "address"). */
const char *auth_path_id(mc_req_t *req, const char *what);

/* Submits a database job; answers 500 when it cannot be queued. */
void auth_submit(mc_req_t *req, mc_mongo_work_cb work, mc_mongo_req_done_cb done, void *arg);

/* The outcome of a database job, filled on the thread pool and answered on the loop by
 * auth_answer: either an error (err, message, details) or a status and a body. */
typedef struct auth_outcome {
    mc_err_t err;
    char msg[256];
    json_t *details;
    int status;     /* 200, 201, 202, 204 */
    json_t *body;   /* NULL for 204 */
    const char *location; /* Location header of a 201 (request memory) */
    bool kick_mail; /* a message was queued: wake the delivery loop */
} auth_outcome_t;

void auth_fail(auth_outcome_t *o, mc_err_t err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Initialises o inside the request (its JSON is released with the request). */
void auth_outcome_init(mc_req_t *req, auth_outcome_t *o);
/* Answers the request from a finished job: a database failure (res), else o. */
void auth_answer(mc_req_t *req, const mc_mongo_result_t *res, auth_outcome_t *o);

/* A stored user (store.h) in API shape: no hash, no epoch; hasPassword instead. New
 * reference. */
json_t *auth_user_view(json_t *user);
/* The public profile {id, name, role}. */
json_t *auth_user_public(json_t *user);
/* The user's id/role/epoch from a stored user. */
const char *auth_user_id(json_t *user);
int64_t auth_user_epoch(json_t *user);

/* Changes a user under its lock (store.h): reads the user afresh, lets `mutate` decide the
 * change (and make other writes that must happen under the lock, such as an address) —
 * it returns the stored fields to $set (a new reference), or NULL for no change,
 * and may refuse by setting o->err — writes it and reads the user again. Returns the user
 * after the change (a new reference), or NULL when refused, when the user does not exist
 * (o->err NOT_FOUND, message naming `what`), or on a database error (res set). Blocking:
 * inside a database job. */
typedef json_t *(*auth_mutate_fn)(mongoc_database_t *db, json_t *user, void *arg, auth_outcome_t *o);
json_t *auth_user_update_locked(mongoc_database_t *db, const char *user_id, auth_mutate_fn mutate, void *arg,
                                auth_outcome_t *o, mc_mongo_result_t *res);
/* How long a request waits for a user's lock before answering 409. */
#define AUTH_LOCK_WAIT_MS 3000

/* Input rules shared by the route files, on top of mc_valid (rules.h says what each
 * accepts). Each returns the value (borrowed) or NULL when absent or invalid (the error is
 * recorded in v). */
typedef struct mc_valid mc_valid_t;
/* An email address; its lower-case form is written to lower (AUTH_EMAIL_MAX+1 bytes). */
const char *auth_valid_email(mc_valid_t *v, const char *key, unsigned flags, char *lower);
/* A new password: AUTH_PASSWORD_MIN..AUTH_PASSWORD_MAX characters, no control characters. */
const char *auth_valid_new_password(mc_valid_t *v, const char *key);
/* A password being checked (login, current password): 1..AUTH_PASSWORD_MAX characters. */
const char *auth_valid_password(mc_valid_t *v, const char *key);
/* A one-line text of 1..max characters (counted as sent) without control characters and
 * with at least one character that is not a space; returned without its leading and
 * trailing spaces. The rule is exactly what the OpenAPI pattern and maxLength say. */
const char *auth_valid_text(mc_valid_t *v, const char *key, size_t max, unsigned flags);
/* A display name: auth_valid_text of at most AUTH_NAME_MAX characters. */
const char *auth_valid_name(mc_valid_t *v, const char *key, unsigned flags);
/* An E.164 phone number (nullable: check mc_valid_is_null). */
const char *auth_valid_phone(mc_valid_t *v, const char *key, unsigned flags);
/* An opaque token (refresh, verification, reset). */
const char *auth_valid_token(mc_valid_t *v, const char *key);

/* Wakes the mail delivery of this process (a message was just queued). Thread-safe. */
void auth_mailer_kick(void);

#endif
