/*
 * The auth service's MongoDB access: the only file that knows how users, sessions,
 * tokens, addresses and the mail outbox are stored. Every function here blocks, so it
 * runs inside an mc_mongo work callback on the thread pool, never on an event loop.
 *
 * Collections (database MONGODB_DB, default mercato_auth):
 *   users          {_id: ObjectId, email, emailLower (unique), name, phone|null, role,
 *                   emailVerified, disabled, passwordHash|null (Argon2id PHC), epoch: int64,
 *                   googleLinked, defaultShippingAddressId|null, defaultBillingAddressId|null,
 *                   createdAt, updatedAt}
 *   locks          {_id: "user:<id>", token, expiresAt}              per-user write lock
 *   families       {_id: <32 hex>, userId, epoch, ip, userAgent, createdAt, expiresAt}
 *   family_revocations {_id: <family id>, reason, at}
 *   refresh_tokens {_id: sha256(token), familyId, userId, createdAt, expiresAt}
 *   refresh_used   {_id: sha256(token), familyId, at, expiresAt}      "this token was spent"
 *   action_tokens  {_id: sha256(token), kind: "verify"|"reset", userId, epoch, email,
 *                   createdAt, expiresAt}
 *   action_used    {_id: sha256(token), at, expiresAt}
 *   google_links   {_id: Google subject, userId, email, createdAt}
 *   addresses      {_id: ObjectId, userId, label, fullName, phone, line1, line2, city,
 *                   region, postalCode, country, createdAt, updatedAt}
 *   outbox, outbox_claims, outbox_sent: see mailer.h.
 *
 * Why it holds on FerretDB. FerretDB 1.x applies updates (and findAndModify) as
 * read-then-write of the whole document without re-checking the filter, so two
 * concurrent updates of one document can lose one of them, and a conditional update is
 * no compare-and-set. Unique indexes (_id included) are real SQL unique indexes there,
 * atomic on MongoDB and FerretDB alike. So:
 *   - anything that must happen at most once is an insert with a unique key: spending a
 *     refresh token (refresh_used), spending a verification or reset token (action_used),
 *     revoking a family, claiming a mail delivery attempt, linking a Google account,
 *     registering an email;
 *   - every update of a user document (and of that user's addresses) happens under the
 *     user's lock (an insert of locks/_id "user:<id>"), so read-modify-write there is
 *     serial and never loses a concurrent change (a password change cannot be undone by a
 *     concurrent profile edit or login rehash);
 *   - "revoke every session of a user" is one number: the user's epoch. Every session
 *     (family) records the epoch it was created under and is dead once the user's epoch
 *     moved on; a password change, a reset, "log out everywhere" and disabling bump it.
 */
#ifndef AUTH_STORE_H
#define AUTH_STORE_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "mc_mongo.h"

#define AUTH_MAX_ADDRESSES 20
/* A user lock older than this is assumed abandoned (its holder died) and broken. Every
 * holder finishes in far less: a few database round trips. */
#define AUTH_LOCK_TTL_MS 10000

/* Creates the indexes. Blocking; for start-up. */
int auth_store_init(mc_mongo_t *m, bson_error_t *err);

/* --- users ---------------------------------------------------------------------------
 * Users come back as JSON objects with every stored field: `id` for _id, ids as hex,
 * dates as RFC 3339 strings (auth_user_public turns one into the API shape). A lookup
 * that finds nothing returns NULL with err->code 0. */

typedef struct auth_new_user {
    const char *email, *email_lower, *name, *phone; /* phone may be NULL */
    const char *role;
    const char *password_hash;                       /* may be NULL (Google only) */
    bool email_verified, google_linked;
} auth_new_user_t;

/* NULL with err set on failure; mc_mongo_is_duplicate(err) when the email is taken. */
json_t *auth_user_insert(mongoc_database_t *db, const auth_new_user_t *u, int64_t now_ms, bson_error_t *err);
json_t *auth_user_get(mongoc_database_t *db, const char *id, bson_error_t *err);
json_t *auth_user_by_email(mongoc_database_t *db, const char *email_lower, bson_error_t *err);
/* $set of `fields` (stored names; strings, integers, booleans, null; ids named *Id or
 * *AddressId are stored as ObjectIds) and updatedAt. Call with the user's lock held.
 * 0, 1 when the user does not exist, -1 on error. */
int auth_user_set(mongoc_database_t *db, const char *id, json_t *fields, int64_t now_ms, bson_error_t *err);
/* Deletes the user, its addresses and Google links. 0, 1 absent, -1. */
int auth_user_delete(mongoc_database_t *db, const char *id, bson_error_t *err);

typedef struct auth_user_query {
    const char *q;       /* substring of the email or the name, case-insensitive; NULL: any */
    const char *role;    /* NULL: any */
    int disabled;        /* -1 any, 0, 1 */
    int64_t limit;
    const char *after;   /* keyset cursor: ids below this one (newest first); NULL */
} auth_user_query_t;
/* A page of users (newest first) and the total matching (without the cursor). */
json_t *auth_users_list(mongoc_database_t *db, const auth_user_query_t *q, int64_t *total, bson_error_t *err);
/* Users whose ids are in `ids` (array of hex strings), any order. */
json_t *auth_users_by_ids(mongoc_database_t *db, json_t *ids, bson_error_t *err);

/* The user's lock: 0 taken (token filled, 33 bytes), 1 still held by someone else after
 * wait_ms, -1 error. */
int auth_user_lock(mongoc_database_t *db, const char *user_id, char *token, unsigned wait_ms, bson_error_t *err);
void auth_user_unlock(mongoc_database_t *db, const char *user_id, const char *token);

/* --- sessions (refresh-token families) ----------------------------------------------- */

int auth_family_create(mongoc_database_t *db, const char *user_id, int64_t epoch, const char *ip, const char *user_agent,
                       int64_t now_ms, int64_t expires_ms, char *id_out, bson_error_t *err);
/* {id, userId, epoch, createdAtMs, expiresAtMs} or NULL (absent: err->code 0). */
json_t *auth_family_get(mongoc_database_t *db, const char *family_id, bson_error_t *err);
/* Records the revocation (idempotent). 0 or -1. */
int auth_family_revoke(mongoc_database_t *db, const char *family_id, const char *reason, int64_t now_ms,
                       bson_error_t *err);
/* 1 revoked, 0 not, -1 error. */
int auth_family_is_revoked(mongoc_database_t *db, const char *family_id, bson_error_t *err);

int auth_refresh_insert(mongoc_database_t *db, const char *hash, const char *family_id, const char *user_id,
                        int64_t now_ms, int64_t expires_ms, bson_error_t *err);
/* {familyId, userId, createdAtMs, expiresAtMs} or NULL (absent: err->code 0). */
json_t *auth_refresh_get(mongoc_database_t *db, const char *hash, bson_error_t *err);
/* Spends a refresh token: 0 spent now, 1 already spent before (reuse), -1 error. Atomic:
 * of any number of concurrent calls for one hash exactly one gets 0. */
int auth_refresh_spend(mongoc_database_t *db, const char *hash, const char *family_id, int64_t now_ms,
                       int64_t expires_ms, bson_error_t *err);

/* --- verification and reset tokens ---------------------------------------------------- */

int auth_action_insert(mongoc_database_t *db, const char *hash, const char *kind, const char *user_id, int64_t epoch,
                       const char *email, int64_t now_ms, int64_t expires_ms, bson_error_t *err);
/* {kind, userId, epoch, email, createdAtMs, expiresAtMs} or NULL (absent: err->code 0). */
json_t *auth_action_get(mongoc_database_t *db, const char *hash, bson_error_t *err);
/* 0 spent now, 1 already spent, -1 error (atomic like auth_refresh_spend). */
int auth_action_spend(mongoc_database_t *db, const char *hash, int64_t now_ms, int64_t expires_ms, bson_error_t *err);
/* 1 spent, 0 not, -1 error. */
int auth_action_is_spent(mongoc_database_t *db, const char *hash, bson_error_t *err);

/* --- Google links ----------------------------------------------------------------------- */

/* The user id linked to a Google subject into user_id (25 bytes): 1 found, 0 none, -1. */
int auth_google_link_get(mongoc_database_t *db, const char *sub, char *user_id, bson_error_t *err);
/* 0 linked, 1 the subject is linked already, -1. */
int auth_google_link_insert(mongoc_database_t *db, const char *sub, const char *user_id, const char *email,
                            int64_t now_ms, bson_error_t *err);

/* --- addresses (the user's lock is held for writes) ------------------------------------- */

/* Addresses in API shape without the default flags, oldest first. */
json_t *auth_addresses_list(mongoc_database_t *db, const char *user_id, bson_error_t *err);
json_t *auth_address_get(mongoc_database_t *db, const char *user_id, const char *id, bson_error_t *err);
/* Inserts validated API fields; the new address, or NULL. */
json_t *auth_address_insert(mongoc_database_t *db, const char *user_id, json_t *fields, int64_t now_ms,
                            bson_error_t *err);
/* 0, 1 absent (or someone else's), -1. */
int auth_address_update(mongoc_database_t *db, const char *user_id, const char *id, json_t *fields, int64_t now_ms,
                        bson_error_t *err);
int auth_address_delete(mongoc_database_t *db, const char *user_id, const char *id, bson_error_t *err);
/* Number of the user's addresses, or -1. */
int64_t auth_address_count(mongoc_database_t *db, const char *user_id, bson_error_t *err);

/* --- the mail outbox (the delivery protocol is described in mailer.h) -------------------
 * outbox        {_id: ObjectId, to, kind, subject, text, status: pending|sent|failed|expired,
 *                attempt (the next attempt number to claim), nextAttemptAt, lastError,
 *                createdAt, expiresAt, sentAt}
 * outbox_claims {_id: "<message id>:<attempt>", owner, leaseUntil, expiresAt}
 * outbox_sent   {_id: <message id>, at, expiresAt}
 * The text (with a token in clear) is set to null once the message is settled. */

int auth_outbox_insert(mongoc_database_t *db, const char *to, const char *kind, const char *subject, const char *text,
                       int64_t now_ms, int64_t expires_ms, bson_error_t *err);
/* Up to limit pending messages due at now_ms, earliest first (dates as …Ms). */
json_t *auth_outbox_due(mongoc_database_t *db, int64_t now_ms, int64_t limit, bson_error_t *err);
/* Claims attempt `attempt` of a message until lease_until_ms: 0 claimed, 1 claimed by
 * someone before, -1 error. */
int auth_outbox_claim(mongoc_database_t *db, const char *id, int64_t attempt, const char *owner, int64_t lease_until_ms,
                      bson_error_t *err);
/* The leaseUntil of a claim; 0 when there is none; -1 on error. */
int64_t auth_outbox_claim_lease(mongoc_database_t *db, const char *id, int64_t attempt, bson_error_t *err);
/* Records that a message was delivered: 0 recorded now, 1 recorded before, -1. */
int auth_outbox_mark_sent(mongoc_database_t *db, const char *id, int64_t now_ms, bson_error_t *err);
/* 1 delivered, 0 not, -1. */
int auth_outbox_is_sent(mongoc_database_t *db, const char *id, bson_error_t *err);
/* $set on a message (integers in fields named …At are stored as dates). 0 or -1. */
int auth_outbox_update(mongoc_database_t *db, const char *id, json_t *fields, bson_error_t *err);

/* --- housekeeping ------------------------------------------------------------------------ */

/* Deletes what expired before now: refresh tokens and their spent markers, families and
 * their revocations, action tokens and their markers, stale locks. Returns the number of
 * documents removed, or -1. */
long auth_store_purge(mongoc_database_t *db, int64_t now_ms, bson_error_t *err);

/* --- shared helpers ---------------------------------------------------------------------- */

/* A stored document as JSON: _id → id, ObjectIds as hex, dates as RFC 3339 strings or,
 * with dates_ms, as integers named <field>Ms. */
json_t *auth_doc_to_json(const bson_t *doc, bool dates_ms);
/* The first document matching filter in collection, as auth_doc_to_json; NULL with
 * err->code 0 when there is none. */
json_t *auth_find_one(mongoc_database_t *db, const char *collection, const bson_t *filter, bool dates_ms,
                      bson_error_t *err);
/* Inserts {_id: key, ...extra} into collection: 0, 1 when the key exists, -1. */
int auth_insert_marker(mongoc_database_t *db, const char *collection, const char *key, const bson_t *extra,
                       bson_error_t *err);

#endif
