/*
 * The order service's MongoDB access: the only file that knows how orders are stored.
 * Every function blocks, so it runs inside an mc_mongo work callback on the thread pool.
 *
 * Collections:
 *   orders        the order in API shape (lifecycle.h) with `_id` an ObjectId, dates as
 *                 dates and `day` ("YYYY-MM-DD", UTC) for the per-day statistics; unique
 *                 index on `number`.
 *   outbox        {_id: "<orderId>:<version>", orderId, version, type, at, message (the
 *                 event's JSON text), deferred, aborted}: one entry per change, deleted
 *                 once published to Redis.
 *   checkouts     {_id: orderId, customerId, leaseUntil, couponCode, idemKey, createdAt}:
 *                 a checkout in progress, or a placed order whose stock is not committed yet.
 *   idempotency   {_id: "<userId>:<key>", hash, state: running|done, orderId, status, body,
 *                 leaseUntil, expiresAt}
 *   tasks         {_id: "<orderId>:release", orderId, coupon, at}: the stock (and coupon) of
 *                 a cancelled order still to be given back.
 *   number_blocks {_id: "<year>:<block>"}: blocks of order numbers owned by a process.
 *
 * Why this shape (FerretDB applies updates as read-then-write; only unique indexes and
 * `_id` are atomic; and it answers only `{_id: value}` filters without scanning):
 *
 * - Every change of an order is decided by inserting its outbox entry: the `_id` names
 *   the order and the new version, so of two concurrent changes of version 7 exactly one
 *   inserts "…:8"; the other re-reads the order and tries again (a refused transition is
 *   then a 409). The winner then replaces the order document — nobody else writes that
 *   version. A writer whose claim succeeded only because an older "…:8" was already
 *   published and deleted sees, re-reading the order, that it moved on, and withdraws.
 *   A writer that died between the claim and the replace leaves an entry that holds the
 *   whole new order: after ROLL_FORWARD_MS the drainer (or the next writer) rolls the
 *   order forward to it. So the outbox is at once the lock, the write-ahead log and the
 *   event queue, and an order's events are its changes, each exactly once, in order.
 * - A checkout commits by inserting the outbox entry of version 1; a sweeper that finds
 *   the checkout's lease expired inserts an *aborted* version 1 instead. Whichever insert
 *   wins decides whether the order exists, so a checkout that was only slow can never
 *   store an order whose stock the sweeper already released.
 * - Order numbers come from blocks claimed by inserting a block's `_id`; within a block a
 *   process counts in memory. Unique without any shared counter.
 */
#ifndef ORDER_STORE_H
#define ORDER_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "lifecycle.h"
#include "mc_mongo.h"

/* A writer that finds the next version claimed by an entry older than this rolls the
 * order forward to it (its writer died); a younger one is a writer still at work. */
#define ORD_ROLL_FORWARD_MS 10000
/* The drainer leaves entries younger than this to the request that made them. */
#define ORD_FAST_PATH_MS 2000
#define ORD_NUMBER_BLOCK 100

/* Creates the indexes and prepares the number allocator. Blocking; start-up. */
int ord_store_init(mc_mongo_t *m, bson_error_t *err);

/* The next order number ("MC-2026-000123"). -1 on a database error. */
int ord_number_next(mongoc_database_t *db, int64_t now_ms, char out[32], bson_error_t *err);

/* --- orders ------------------------------------------------------------------------------- */

/* An order document (API shape, with `day`) by id or number; NULL with err->code 0 when
 * there is none. */
json_t *ord_get(mongoc_database_t *db, const char *id, bson_error_t *err);
json_t *ord_get_by_number(mongoc_database_t *db, const char *number, bson_error_t *err);

typedef enum { COMMIT_DONE, COMMIT_ABORTED, COMMIT_UNKNOWN } ord_commit_t;
/* Commits a new order (version 1; its number is assigned here): the outbox entry, then
 * the document. COMMIT_DONE also when the document could not be written after the entry
 * was (the order exists; the sweeper writes the document); COMMIT_ABORTED when a sweeper
 * aborted the checkout first; COMMIT_UNKNOWN (err set) when the entry could not be
 * written and the outcome is for the sweeper to settle. *message receives the event text;
 * *written says whether the document was written (if not, the outbox entry must stay: it
 * is what the order is rolled forward from). */
ord_commit_t ord_commit(mongoc_database_t *db, json_t *order, int64_t now_ms, char **message, bool *written, bson_error_t *err);

/* The outcome of a change. */
typedef struct ord_changed {
    ord_verdict_t verdict; /* ORD_OK, or why not (why) */
    char why[256];
    json_t *order;    /* the order after the change (or as it is, when refused) */
    char *message;    /* the event text (malloc'd) */
    char entry[64];   /* the outbox entry's _id */
    bool deferred;    /* an older event of the order is still unpublished */
    bool written;     /* the order document was written (else the entry must stay for the roll-forward) */
    bool conflict;    /* gave up after concurrent changes kept winning */
} ord_changed_t;

/* Applies a change as a (decide, apply) under the version claim described above;
 * refusals come from ord_decide. A cancellation also records the release task (tasks).
 * -1 on a database error; 0 otherwise with out filled (out->verdict says whether the
 * change happened); *found false when the order does not exist. */
int ord_change(mongoc_database_t *db, const char *id, const ord_actor_t *a, const ord_change_t *c, int64_t now_ms,
               ord_changed_t *out, bool *found, bson_error_t *err);
void ord_changed_free(ord_changed_t *c);

/* --- outbox ---------------------------------------------------------------------------------- */

/* Removes a published entry. */
void ord_outbox_delete(mongoc_database_t *db, const char *entry_id);

/* The drainer's pass: up to `limit` entries that are due (deferred, or older than
 * ORD_FAST_PATH_MS), per order in version order and each order only from its oldest
 * unpublished entry on; rolls orders forward to entries older than ORD_ROLL_FORWARD_MS,
 * and makes sure every cancellation has its release task. Returns an array of
 * {id, message} to publish in that order, or NULL on a database error. */
json_t *ord_outbox_due(mongoc_database_t *db, int64_t now_ms, int limit, bson_error_t *err);

/* --- checkouts ----------------------------------------------------------------------------------- */

/* Records a checkout before its first side effect. 0, or -1. */
int ord_checkout_begin(mongoc_database_t *db, const char *order_id, const char *customer, const char *coupon,
                       const char *idem_id, int64_t now_ms, int64_t lease_ms, bson_error_t *err);
/* Forgets a settled checkout. */
void ord_checkout_end(mongoc_database_t *db, const char *order_id);
/* Checkouts whose lease expired (at most limit). NULL on error. */
json_t *ord_checkout_expired(mongoc_database_t *db, int64_t now_ms, int limit, bson_error_t *err);

typedef enum { SETTLE_COMMITTED, SETTLE_ABORTED } ord_settle_t;
/* Decides an expired checkout: its version-1 entry if there is one, else the order if it
 * exists, else an aborted version 1. For a committed one, makes sure the order document
 * exists and returns it in *order. -1 on error. */
int ord_checkout_settle(mongoc_database_t *db, const char *order_id, int64_t now_ms, ord_settle_t *out, json_t **order,
                        bson_error_t *err);

/* --- idempotency --------------------------------------------------------------------------------- */

typedef enum { IDEM_NEW, IDEM_REPLAY, IDEM_MISMATCH, IDEM_RUNNING } ord_idem_t;
/* Starts (or finds) the record of an Idempotency-Key. IDEM_REPLAY fills *status and *body
 * (malloc'd). An expired record counts as absent; a running one whose request died
 * without leaving a checkout is dropped and the key starts over. -1 on error. */
int ord_idem_begin(mongoc_database_t *db, const char *idem_id, const char *hash, const char *order_id, int64_t now_ms,
                   ord_idem_t *out, int *status, char **body, bson_error_t *err);
/* Looks the key up without recording it: IDEM_NEW when there is no (live) record. */
int ord_idem_peek(mongoc_database_t *db, const char *idem_id, const char *hash, int64_t now_ms, ord_idem_t *out, int *status,
                  char **body, bson_error_t *err);
/* Stores the final answer; drop forgets the key (a retry runs again: for 5xx). */
void ord_idem_finish(mongoc_database_t *db, const char *idem_id, int status, const char *body, int64_t now_ms);
void ord_idem_drop(mongoc_database_t *db, const char *idem_id);
/* Deletes every record that expired (the sweeper, now and then). */
void ord_idem_expire(mongoc_database_t *db, int64_t now_ms);

/* --- release tasks --------------------------------------------------------------------------------- */

void ord_task_done(mongoc_database_t *db, const char *order_id);
/* Tasks older than min_age_ms: [{orderId, coupon}]. NULL on error. */
json_t *ord_tasks_due(mongoc_database_t *db, int64_t now_ms, int64_t min_age_ms, int limit, bson_error_t *err);

/* --- queries ---------------------------------------------------------------------------------------- */

typedef struct ord_query {
    const char *customer;  /* only this customer's orders */
    const char *seller;    /* only orders with this seller's products */
    const char *status;
    const char *payment;
    bool has_from, has_to;
    int64_t from_ms, to_ms; /* createdAt in [from, to) */
    bool has_after;
    int64_t after_ms;       /* keyset position of the previous page (createdAt, id) */
    char after_id[25];
    int64_t limit;
} ord_query_t;

/* A page, newest first: {items (documents), cursors (cursors[i] the position of
 * items[i]), totalCount, hasNextPage}. NULL on error. */
json_t *ord_list(mongoc_database_t *db, const ord_query_t *q, bson_error_t *err);

/* Statistics over createdAt in [from, to): for one seller (their lines) or everyone
 * (seller NULL). days: the number of days of the range (for the per-day series). */
json_t *ord_stats(mongoc_database_t *db, const char *seller, int64_t from_ms, int64_t to_ms, bson_error_t *err);

#endif
