/*
 * The hash gate: every Argon2 computation of a request goes through here, onto the libuv
 * thread pool, never onto the event loop.
 *
 * Argon2 is meant to be expensive, so it is also the easiest way to overload the service:
 * a flood of logins would fill every thread-pool thread (starving the database jobs that
 * share them) and allocate argon2_m_kib per hash. The gate runs at most
 * HASH_CONCURRENCY hashes per process at once (split evenly between workers), queues
 * HASH_QUEUE more per worker in arrival order, and answers 503 with Retry-After beyond
 * that — an overload costs the excess requests, not the whole service.
 */
#ifndef AUTH_HASHGATE_H
#define AUTH_HASHGATE_H

#include <stdbool.h>
#include <stddef.h>
#include "mc_req.h"
#include "password.h"

typedef struct auth_hash_job {
    /* Input. The passwords are copied by auth_hash_run and wiped after use. */
    bool verify;            /* check `password` against `phc` */
    const char *phc;        /* the stored hash; NULL: verify against a dummy hash (same cost,
                               always a mismatch) so unknown accounts take as long as known ones */
    const char *password;
    size_t password_len;
    const char *new_password; /* hash this into new_phc (may be NULL); with `verify`, only
                                 when `password` matched */
    size_t new_password_len;
    bool rehash_on_match;   /* when `password` matches and phc has other parameters than
                               configured, hash it anew into new_phc */
    /* Output. */
    int verified;           /* 1 match, 0 mismatch (or no phc), -1 stored hash unreadable */
    bool have_new;          /* new_phc holds a fresh hash */
    bool failed;            /* hashing failed (out of memory) */
    char new_phc[AUTH_PHC_MAX];
    /* private */
    char *_pw, *_newpw;
} auth_hash_job_t;

typedef void (*auth_hash_done_cb)(mc_req_t *req, auth_hash_job_t *job);

/* Runs the job for req (job must live as long as the request, e.g. mc_req_alloc). done
 * runs on the request's loop afterwards. When the gate is full the request is answered
 * 503 here and done never runs. */
void auth_hash_run(mc_req_t *req, auth_hash_job_t *job, auth_hash_done_cb done);

/* Per-worker state; created by the worker's init, freed at its dispose. */
typedef struct auth_hashgate auth_hashgate_t;
auth_hashgate_t *auth_hashgate_create(unsigned limit, unsigned queue);
void auth_hashgate_free(auth_hashgate_t *g);

/* Computes the dummy hash (blocking; once at start). */
int auth_hash_init_dummy(void);

#endif
