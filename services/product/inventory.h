/*
 * Stock that never oversells, with several product-service processes on FerretDB (whose
 * updates are read-then-write, so a conditional `$inc` can oversell): a movement ledger
 * whose correctness rests only on unique keys, which are real SQL unique indexes there and
 * atomic on MongoDB too. (Implemented in store_inventory.c.)
 *
 * The ledger (collection `stock_ledger`). Every stock change of a product is an entry
 *   {_id: "<productId>:<seq>", op, productId, seq, delta, balance, kind, orderId, reason,
 *    actor: {type, id, role}, at}
 * where seq counts 1, 2, 3… per product and `balance` is the stock after the entry. To
 * move stock, a writer reads the newest entry (seq s, balance b), refuses when b + delta
 * would be negative, and inserts seq s+1. Two writers that read the same s race for the
 * same _id: exactly one insert succeeds; the other re-reads and retries against the new
 * balance. So the balances form one chain in which every entry was checked against its
 * true predecessor: stock never goes below zero and no unit is sold twice, however many
 * processes write. Entries are never updated or deleted, so the sum of the deltas is the
 * newest balance, and every change says who, why and for which order.
 *
 * Idempotency. Every entry also carries an operation key `op`, unique by its own index:
 * "i:<product>" the initial stock, "r:<order>:<product>" the reservation of an order line,
 * "x:<order>:<product>" the return of that line's stock (at most once, whatever the
 * cause: release, expiry, a failed reservation), "a:<random>" a manual adjustment. The
 * same operation can therefore never be applied twice, even by two processes retrying the
 * same call at once. A duplicate-key error is told apart by reading the entry at the seq
 * tried: absent means the op already exists.
 *
 * Finding the newest entry only reads by _id (the one filter FerretDB 1.x sends to
 * SQLite): from a known (seq, balance) — the product document's stock cache, or this
 * process's memory of the newest entry it saw — it probes s+1, s+2, s+4… and bisects.
 * Entries with seqs 1..newest all exist (s+1 is only written after s was read), so this
 * finds the newest one. Any (seq, balance) ever read is a valid starting point because
 * entries never change; a pair handed in by a caller (the document's cache) is checked
 * against its entry unless this process's memory of the product is at least as new.
 *
 * Reservations (collections `reservations`, `reservation_states`, `reservations_open`).
 * A reservation is created once ({_id: orderId}; a concurrent duplicate loses the insert
 * and joins it), with each line's ledger seq at creation (`fromSeq`). Its lines are then
 * reserved in a fixed order (by product id) — each an idempotent ledger operation — and
 * the outcome is decided by inserting the state document "<order>|decision" (reserved or
 * failed): the first decision wins, whoever wrote it. Every party that sees a failed
 * decision returns the stock of every line that was reserved — checking the ledger from
 * the line's fromSeq for its reservation op, and applying the line's unique return op — so
 * concurrent executors of one order converge: if any of them decided "failed", all lines
 * are returned; if "reserved" won, every line was reserved by the winner. Later
 * transitions work the same way: "<order>|final" (committed, released or expired) is
 * written once, and "<order>|refund" marks the release of a committed order.
 *
 * Expiry. `reservations_open` lists reservations that may still need work; each process
 * sweeps it (inv_sweep) and moves an expired reservation to "expired" (or a never-decided
 * one to failed), returning its stock. An executor never reserves after
 * createdAt + INV_EXECUTOR_DEADLINE_MS, so after INV_SETTLE_GRACE_MS a failed
 * reservation's lines are final and a last sweep returns what a crashed executor left.
 *
 * Every function here blocks: it runs in an mc_mongo work callback.
 */
#ifndef PRODUCT_INVENTORY_H
#define PRODUCT_INVENTORY_H

#include <stdbool.h>
#include <stdint.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "mc_error.h"

#define INV_MAX_ITEMS 100
#define INV_QTY_MAX 1000000
#define INV_DEFAULT_TTL_S 900
#define INV_TTL_MAX_S 86400
#define INV_ORDER_ID_MAX 64
#define INV_EXECUTOR_DEADLINE_MS 20000
#define INV_SETTLE_GRACE_MS 60000
#define INV_REASON_MAX_CHARS 200

/* Who moved stock. */
typedef struct inv_actor {
    const char *type; /* "user", "service" or "system" */
    char id[25];      /* user id, "" otherwise */
    char role[16];    /* user role, "" otherwise */
} inv_actor_t;

/* The newest ledger entry of a product (seq 0, balance 0 before the first). */
typedef struct inv_head {
    int64_t seq, balance;
} inv_head_t;

/* Finds the newest entry, starting from a known one (hint: the product's stock cache;
 * may be {0,0}). 0, or -1 on a database error. */
int inv_head(mongoc_database_t *db, const char *product_id, const inv_head_t *hint, inv_head_t *out, bson_error_t *err);

typedef enum inv_result { INV_APPENDED, INV_ALREADY, INV_INSUFFICIENT, INV_ERROR } inv_result_t;

/* One stock movement to append. */
typedef struct inv_move {
    const char *product_id;
    inv_head_t hint;
    const char *op;       /* unique operation key */
    bool absolute;        /* true: the balance becomes `target`; false: changes by `delta` */
    int64_t delta, target;
    const char *kind;     /* "initial", "adjust", "reserve", "return" */
    const char *order_id; /* may be NULL */
    const char *reason;   /* may be NULL */
    const inv_actor_t *actor;
    /* out */
    inv_head_t after;     /* the new newest entry (INV_APPENDED) */
    int64_t applied;      /* the delta recorded (INV_APPENDED) */
    int64_t available;    /* the balance that was too low (INV_INSUFFICIENT) */
} inv_move_t;

/* Appends a movement, retrying lost races. INV_ALREADY when m->op was applied before. */
inv_result_t inv_append(mongoc_database_t *db, inv_move_t *m, bson_error_t *err);

/* A page of a product's movements, newest first: entries with seq < before (0 = from the
 * newest). *items is a new array of API objects. 0, or -1 on error. */
int inv_movements(mongoc_database_t *db, const char *product_id, int64_t before, int64_t limit, json_t **items,
                  bool *has_next, bson_error_t *err);

/* --- reservations --------------------------------------------------------------------- */

typedef struct inv_item {
    char product_id[25];
    int64_t quantity;
    int64_t from_seq; /* the product's newest seq when the reservation was created */
} inv_item_t;

/* The answer to a reservation call, built by the functions below. */
typedef struct inv_outcome {
    int status;        /* HTTP status of a success (200/201); 0 on a refusal */
    mc_err_t err;      /* the refusal (err != MC_OK), or a database failure in res */
    char msg[256];
    json_t *details;   /* refusal details (owned) */
    json_t *body;      /* the reservation on success (owned) */
    char touched[INV_MAX_ITEMS][25]; /* products whose stock changed */
    size_t ntouched;
    bson_error_t bson; /* the database error when err is MC_ERR_INTERNAL/UNAVAILABLE */
    bool db_failed;
} inv_outcome_t;

void inv_outcome_free(inv_outcome_t *o);

/* Reserves items (at most INV_MAX_ITEMS, distinct products, sorted by product id) for
 * order_id, all or none; ttl_s seconds until it expires. Idempotent: a repeated call
 * answers the existing reservation (200) — or 422 when it names other items. */
void inv_reserve(mongoc_database_t *db, const char *order_id, inv_item_t *items, size_t n, int64_t ttl_s,
                 const inv_actor_t *actor, inv_outcome_t *out);
/* The order was confirmed: the stock is sold. */
void inv_commit(mongoc_database_t *db, const char *order_id, const inv_actor_t *actor, inv_outcome_t *out);
/* The order was cancelled or checkout failed: the stock returns (also after a commit). */
void inv_release(mongoc_database_t *db, const char *order_id, const inv_actor_t *actor, inv_outcome_t *out);
/* The reservation as it is. */
void inv_get(mongoc_database_t *db, const char *order_id, inv_outcome_t *out);

/* Moves expired reservations on and returns their stock (at most `max` of them); the
 * products whose stock changed are appended to touched (a JSON array of ids). Returns the
 * number of reservations looked at, or -1 on a database error. */
int inv_sweep(mongoc_database_t *db, int64_t now_ms, int max, json_t *touched, bson_error_t *err);

#endif
