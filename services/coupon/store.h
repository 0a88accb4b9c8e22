/*
 * The coupon service's MongoDB access: the only file that knows how coupons and their
 * redemptions are stored. Every function blocks, so it runs inside an mc_mongo work
 * callback on the thread pool, never on an event loop.
 *
 * Collections:
 *   coupons      {_id: ObjectId, code (upper case, unique index), type, value,
 *                 minOrderAmount, maxDiscount|null, startsAt|null, expiresAt|null (dates),
 *                 maxUses|null, maxUsesPerCustomer|null, categoryIds:[id], isActive,
 *                 description|null, createdAt, updatedAt}
 *   redemptions  {_id: orderId, couponId, code, customerId, discount, lines:[{productId,
 *                 discount}], slots:[slot _id], status: "active"|"released", createdAt,
 *                 releasedAt}
 *   slots        {_id: "u:<couponId>:<n>" (use n of the coupon, 1..maxUses) or
 *                 "c:<couponId>:<customerId>:<n>" (use n of that customer, 1..maxUsesPerCustomer),
 *                 couponId, customerId, orderId, kind: "u"|"c", n, createdAt}
 *   slot_hints   {_id: couponId, next}: where to start looking for a free use slot
 *
 * Why slots. FerretDB applies updates as read-then-write, so a use counter incremented
 * under a limit check would overshoot under concurrency. A use is instead the insertion
 * of a slot document whose _id names the use's number: _id is a unique index on MongoDB
 * and FerretDB alike, so two redemptions can never hold the same number, and a coupon
 * with maxUses = N can never have more than N slots. Releasing a redemption deletes its
 * slots, and later redemptions reuse the freed numbers. The hint only saves probes; a
 * stale hint costs time, never correctness.
 *
 * Why the redemption is inserted last. A redemption takes its slots first and inserts
 * its redemption document (whose _id is the order id) last. That insertion is the
 * decision: a concurrent redemption of the same order, or a release that came first
 * (it leaves a "released" tombstone), makes it fail, and the loser deletes the slots it
 * took. A process that dies between the two leaves slots naming an order with no active
 * redemption; releasing that order (which the order service does for every checkout
 * that did not complete) removes them.
 */
#ifndef COUPON_STORE_H
#define COUPON_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "mc_error.h"
#include "mc_mongo.h"
#include "rules.h"

/* Creates the indexes (unique code; lookups by coupon and by order). Blocking; start-up. */
int cpn_store_init(mc_mongo_t *m, bson_error_t *err);

/* Inserts a coupon from validated API fields. Returns it in API shape (with usedCount),
 * or NULL with err set (a taken code: mc_mongo_is_duplicate). */
json_t *cpn_store_insert(mongoc_database_t *db, json_t *fields, int64_t now_ms, bson_error_t *err);

/* One coupon in API shape (with usedCount) by id or by (upper-case) code. NULL with
 * err->code 0 when there is none, NULL with err set on a database error. */
json_t *cpn_store_get(mongoc_database_t *db, const char *id, bson_error_t *err);
json_t *cpn_store_get_by_code(mongoc_database_t *db, const char *code, bson_error_t *err);

/* Sets the given API fields and updatedAt (JSON null clears a nullable field). Returns the
 * updated coupon; NULL with err->code 0 when it does not exist; NULL with err set on a
 * database error (a taken code: mc_mongo_is_duplicate). */
json_t *cpn_store_update(mongoc_database_t *db, const char *id, json_t *fields, int64_t now_ms, bson_error_t *err);

/* Deletes; *found says whether it existed. 0, or -1 on a database error. */
int cpn_store_delete(mongoc_database_t *db, const char *id, bool *found, bson_error_t *err);

/* A page of coupons, newest first: {items, cursors, totalCount, pageInfo:{hasNextPage,
 * endCursor}} (docs/services.md: cursors[i] is the position of items[i]). `active` is
 * -1 (any), 0 or 1; after_ms/after_id the keyset position of the previous page's last
 * item (after_id NULL for the first page). NULL on a database error. */
json_t *cpn_store_list(mongoc_database_t *db, int active, const char *code_prefix, int64_t after_ms,
                       const char *after_id, int64_t limit, bson_error_t *err);

/* The coupon with that (upper-case) code, without its use count; NULL with err->code 0
 * when there is none. */
json_t *cpn_store_load_code(mongoc_database_t *db, const char *code, bson_error_t *err);

/* A coupon document in API shape → the rule the pure code evaluates. The strings point
 * into coupon (which must outlive the rule); *cats is a malloc'd array to free. */
void cpn_rule_from_json(const json_t *coupon, cpn_rule_t *rule, const char ***cats);

/* The outcome of validate and redeem. */
typedef struct cpn_outcome {
    mc_err_t err;        /* MC_OK, or how the request is refused */
    cpn_reason_t reason; /* why the coupon does not apply (CPN_OK when the refusal has no reason) */
    char msg[256];
    int status;          /* 200/201 on success */
    json_t *body;        /* the answer on success */
} cpn_outcome_t;

/* Validates a coupon (as loaded for `code`; NULL when there is none) against lines for
 * customer (may be NULL: no per-customer check). cats/ncats: the coupon's categories with
 * their descendants (categories.h); ignored for a coupon without categories. Fills
 * out->body with {valid, code, discount, subtotal, lines:[{productId, discount}]} or
 * {valid:false, code, reason, message}. -1 on a database error. */
int cpn_store_validate(mongoc_database_t *db, const json_t *coupon, const char *code, const char *customer,
                       const char *const *cats, size_t ncats, cpn_line_t *lines, size_t n, int64_t now_ms, cpn_outcome_t *out,
                       bson_error_t *err);

/* Redeems the coupon (as loaded for `code`, or NULL; cats as for validate) for an order,
 * idempotently (see above). Success: status 201 with the
 * redemption, or 200 with the existing one. Refusals: MC_ERR_NOT_FOUND for an unknown
 * code; MC_ERR_CONFLICT with the reason when the coupon does not apply (inactive, dates,
 * minimum, categories) or a limit is reached (USED_UP, USED_UP_FOR_CUSTOMER), and
 * without one for an order already released or one that redeemed another code. -1 on a database error (slots taken so far are freed). */
int cpn_store_redeem(mongoc_database_t *db, const char *order_id, const json_t *coupon, const char *code, const char *customer,
                     const char *const *cats, size_t ncats, cpn_line_t *lines, size_t n, int64_t now_ms, cpn_outcome_t *out,
                     bson_error_t *err);

/* Releases an order's redemption (idempotent; an order with none gets a tombstone so a
 * late redemption is refused). out->body: the redemption with status "released". -1 on a
 * database error. */
int cpn_store_release(mongoc_database_t *db, const char *order_id, int64_t now_ms, cpn_outcome_t *out,
                      bson_error_t *err);

/* An order's redemption in API shape; NULL with err->code 0 when there is none. */
json_t *cpn_store_redemption(mongoc_database_t *db, const char *order_id, bson_error_t *err);

#endif
