/*
 * gw_json: a fast reader of JSON text into jansson values, for the services' answers.
 *
 * Why: jansson's own reader goes through the text a character at a time with a
 * function call per character and copies every string twice; for the gateway, whose
 * own work per request is mostly reading the services' answers (a page of 50 products
 * is 36 KB), it was the largest cost. This reader scans strings in bulk, builds the
 * same jansson values (json_object_setn_new_nocheck and friends, after checking the
 * UTF-8 itself) and accepts exactly RFC 8259 JSON as jansson's json_loadb with
 * JSON_DECODE_ANY and JSON_REJECT_DUPLICATES does — a differential unit test holds
 * the two to the same answers — except that an integer beyond 64 bits becomes a real
 * (as JavaScript reads it) instead of an error.
 *
 * Nesting is limited (GW_JSON_MAX_DEPTH); a "\u0000" escape is refused (strings are
 * handed on as C strings).
 */
#ifndef GW_JSON_H
#define GW_JSON_H

#include <jansson.h>
#include <stddef.h>

#define GW_JSON_MAX_DEPTH 256

/* The value of `len` bytes of JSON text (a new reference), or NULL with a message in
 * err (errlen may be 0). */
json_t *gw_json_parse(const char *text, size_t len, char *err, size_t errlen);

#endif
