/*
 * mc_bson_json: converting between the API's JSON (jansson) and stored BSON documents,
 * for services whose documents are the API objects with a few stored types changed.
 *
 * The mapping is the natural one (objects, arrays, strings, booleans, null; JSON integers
 * become int64; JSON reals become doubles), plus two optional rules:
 *   MC_BJ_ID     the top-level member "id" (24 hex digits) is stored as "_id", an ObjectId,
 *                and read back as "id" in lower-case hex;
 *   MC_BJ_DATES  a string member whose name ends in "At" ("createdAt", "at", …) and that
 *                parses as RFC 3339 is stored as a BSON date (so the database can sort and
 *                compare it), and every BSON date is read back as an RFC 3339 string with
 *                milliseconds.
 * Member names that MongoDB or FerretDB refuse (starting with '$', containing '.' or NUL)
 * are refused, so a converted document can always be stored. Values a JSON reader would
 * not understand (binary, decimal128, regular expressions…) are skipped when reading.
 */
#ifndef MC_BSON_JSON_H
#define MC_BSON_JSON_H

#include <stdbool.h>
#include <bson/bson.h>
#include <jansson.h>

enum {
    MC_BJ_ID = 1,
    MC_BJ_DATES = 2,
};

/* Appends the members of the JSON object `obj` to `out` (an initialised document).
 * Returns false (out then holds a partial document the caller destroys) when obj is not
 * an object, a member name is refused, or nesting is deeper than 32 levels. */
bool mc_json_to_bson(const json_t *obj, bson_t *out, unsigned flags);

/* The BSON document as a new JSON object (never NULL for a valid document; NULL when
 * the bytes are malformed). */
json_t *mc_bson_to_json(const bson_t *doc, unsigned flags);

#endif
