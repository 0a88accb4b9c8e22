/*
 * The category service's MongoDB access: the only file that knows how categories are
 * stored. Every function here blocks, so it runs inside an mc_mongo work callback on the
 * thread pool, never on an event loop.
 *
 * Stored document (collection `categories`):
 *   {_id: ObjectId, name, slug (unique index), description, parentId: ObjectId|null,
 *    image, position: int64, isActive: bool, createdAt: date, updatedAt: date}
 * The API shape is the same with `id` for `_id`, ids as hex strings and dates as
 * RFC 3339 strings.
 *
 * Structural changes (a new child, a move, a delete) must see a tree nobody else is
 * changing. FerretDB applies updates as read-then-write, so the service serialises them
 * with a lock document in `locks` whose _id is unique: inserting it is atomic on MongoDB
 * and FerretDB alike. A lock older than its expiry (a process died holding it) is broken.
 */
#ifndef CATEGORY_STORE_H
#define CATEGORY_STORE_H

#include <stdbool.h>
#include <jansson.h>
#include <mongoc/mongoc.h>
#include "mc_mongo.h"

#define CATEGORY_MAX_COUNT 5000

/* Creates the indexes (unique slug, parentId). Blocking; for start-up. */
int cat_store_init(mc_mongo_t *m, bson_error_t *err);

/* Every category in API shape (unsorted). NULL on a database error, or when there are
 * more than CATEGORY_MAX_COUNT (err then says so). */
json_t *cat_store_load_all(mongoc_database_t *db, bson_error_t *err);

/* Inserts a category from validated API fields (name, slug, description, parentId, image,
 * position, isActive). Returns the new category in API shape, or NULL (duplicate slug:
 * err->code 11000). */
json_t *cat_store_insert(mongoc_database_t *db, json_t *fields, int64_t now_ms, bson_error_t *err);

/* Sets the given API fields (a subset of the insert fields; JSON null clears a nullable
 * field) and updatedAt. Returns the updated category, or NULL with *found false when it
 * does not exist, or NULL with err set on a database error. */
json_t *cat_store_update(mongoc_database_t *db, const char *id, json_t *fields, int64_t now_ms, bool *found,
                         bson_error_t *err);

/* Deletes; *found says whether it existed. Returns 0, or -1 on a database error. */
int cat_store_delete(mongoc_database_t *db, const char *id, bool *found, bson_error_t *err);

/* Takes the tree lock, waiting up to wait_ms. Returns 0 with token filled (33 bytes), 1
 * when still held by someone else after the wait, -1 on a database error. */
int cat_store_lock(mongoc_database_t *db, char *token, unsigned wait_ms, bson_error_t *err);
void cat_store_unlock(mongoc_database_t *db, const char *token);

#endif
