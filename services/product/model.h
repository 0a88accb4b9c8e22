/*
 * The product document and its API shape — the one place that knows both.
 *
 * Stored (collection `products`):
 *   {_id: ObjectId, name, slug (unique), description, price: int64 (minor units),
 *    currency, images: [url], categoryId: ObjectId, sellerId: ObjectId, tags: [tag],
 *    stock: int64, stockSeq: int64, ratingAverage: double, ratingCount: int64,
 *    ratingSum: int64, isActive, isFeatured, createdAt: date, updatedAt: date,
 *    nameKey, kw: [token], kwPre: [prefix]}
 *
 * `stock`/`stockSeq` are a cache of the newest entry of the product's stock ledger (see
 * stock.h), `ratingAverage`/`ratingCount`/`ratingSum` a cache derived from its reviews,
 * `nameKey` the name's sort key, `kw` the search tokens and `kwPre` the name-word prefixes
 * (search.h). The API shape
 * (docs/services.md) has `id` for `_id`, ids as hex strings, dates as RFC 3339 strings,
 * and none of the internal fields.
 *
 * Pure: bson and jansson only, unit-tested.
 */
#ifndef PRODUCT_MODEL_H
#define PRODUCT_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <bson/bson.h>
#include <jansson.h>

/* Limits of the API fields (documented in the OpenAPI document). */
#define PM_NAME_MAX_CHARS 200
#define PM_SLUG_MAX_CHARS 120
#define PM_DESCRIPTION_MAX_CHARS 5000
#define PM_PRICE_MAX 100000000000LL /* one billion in major units */
#define PM_MAX_IMAGES 10
#define PM_IMAGE_MAX_CHARS 2048
#define PM_MAX_TAGS 20
#define PM_TAG_MAX_CHARS 40
#define PM_STOCK_MAX 1000000000LL

/* Values of a stored product that the API does not show. */
typedef struct pm_internal {
    int64_t stock_seq;
    int64_t rating_sum;
} pm_internal_t;

/* The API object of a stored product (new reference); internal (may be NULL) receives
 * the hidden values. */
json_t *pm_doc_to_json(const bson_t *doc, pm_internal_t *internal);

/* Builds the whole stored document from a complete API object (as pm_doc_to_json
 * returns, or as a create assembles it) and the hidden values; derives nameKey and the
 * search tokens. */
bson_t *pm_doc_build(const json_t *api, const pm_internal_t *internal);

/* The rating shown for a sum of stars over count reviews: the average rounded to two
 * decimals (0 without reviews). */
double pm_rating_average(int64_t sum, int64_t count);

/* The text cached and served for a product: a one-line header, then the JSON.
 * Header: 'A' or 'I' (active or not), the seller id, '\n'. malloc'd. */
char *pm_payload(const json_t *api);
/* Splits a payload: *active, seller (25 bytes), and the JSON that follows. False when
 * the payload is malformed. */
bool pm_payload_parse(const char *payload, size_t len, bool *active, char *seller, const char **json, size_t *json_len);

/* JSON text of an API object, as every response of this service writes it. malloc'd. */
char *pm_dump(const json_t *v);

#endif
