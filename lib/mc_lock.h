/*
 * mc_lock: a named mutual-exclusion lock shared by every process of a service, kept in
 * the service's MongoDB database.
 *
 * Why: FerretDB applies updates as read-then-write, so two processes changing the same
 * document (or checking a rule across documents, like "no cycle in the tree") can both
 * act on what they read. A lock is a document in the collection `locks` whose _id is the
 * lock's name: inserting it is atomic on MongoDB and FerretDB alike (unique _id), so
 * exactly one holder wins. A holder that died leaves its document behind; once the
 * document is older than its expiry, the next taker breaks it (deleting with a filter on
 * the expiry it saw, so a fresh lock is never removed by mistake). Hold a lock for much
 * less than its ttl.
 *
 * Both functions block (they run in mc_mongo work callbacks, never on a loop).
 */
#ifndef MC_LOCK_H
#define MC_LOCK_H

#include <mongoc/mongoc.h>

#define MC_LOCK_TOKEN_SIZE 33

/* Takes the lock `name`, waiting up to wait_ms (retrying with growing, jittered pauses).
 * Returns 0 with `token` filled (MC_LOCK_TOKEN_SIZE bytes, needed to release), 1 when
 * someone else still holds it after the wait, -1 on a database error (err set). */
int mc_lock_acquire(mongoc_database_t *db, const char *name, unsigned ttl_ms, unsigned wait_ms, char *token,
                    bson_error_t *err);
/* Releases the lock if `token` still holds it (a lock broken after its expiry and taken
 * by someone else is left alone). */
void mc_lock_release(mongoc_database_t *db, const char *name, const char *token);

#endif
