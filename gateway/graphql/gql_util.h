/*
 * gql_util: small internal helpers shared by the engine's modules — hashing and a
 * string map, UTF-8/UTF-16 conversions, and the exact text formats graphql-js
 * produces (JavaScript number formatting, `inspect()`, JSON string escaping, the
 * "Did you mean …?" suggestion list).
 *
 * Why here: matching graphql-js byte for byte in messages and responses needs these
 * in many places; keeping one implementation keeps them consistent. Internal only:
 * names start with `gql__`.
 */
#ifndef GQL_UTIL_H
#define GQL_UTIL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gql_arena.h"
#include "gql_ast.h"
#include "gql_buf.h"

/* FNV-1a, good enough for GraphQL names. */
static inline uint32_t gql__hash(const char *s, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 16777619u;
    }
    return h;
}

/* An open-addressing map from byte strings to pointers, allocated in an arena.
 * Keys are not copied: they must outlive the map. */
typedef struct gql_strmap_entry {
    const char *key;
    uint32_t len;
    uint32_t hash;
    void *value;
} gql_strmap_entry;

typedef struct gql_strmap {
    gql_strmap_entry *slots;
    uint32_t cap; /* power of two, or 0 */
    uint32_t count;
    gql_arena *arena;
} gql_strmap;

void gql__strmap_init(gql_strmap *m, gql_arena *a, uint32_t expected);
/* Returns the value stored under the key or NULL. */
void *gql__strmap_get(const gql_strmap *m, const char *key, size_t len);
/* Stores (replacing). Returns 0, or -1 when the arena is exhausted. */
int gql__strmap_put(gql_strmap *m, const char *key, size_t len, void *value);
/* Stores only when absent; returns the existing value or NULL when inserted. Sets
 * *failed on allocation failure. */
void *gql__strmap_put_new(gql_strmap *m, const char *key, size_t len, void *value, int *failed);

/* A pointer-keyed set/map (for memo tables keyed by node addresses). */
typedef struct gql_ptrmap_entry {
    const void *k1;
    const void *k2;
    uintptr_t value;
} gql_ptrmap_entry;

typedef struct gql_ptrmap {
    gql_ptrmap_entry *slots;
    uint32_t cap;
    uint32_t count;
    gql_arena *arena;
} gql_ptrmap;

void gql__ptrmap_init(gql_ptrmap *m, gql_arena *a);
/* Looks up the pair (k1, k2); returns true and sets *value when present. */
bool gql__ptrmap_get(const gql_ptrmap *m, const void *k1, const void *k2, uintptr_t *value);
int gql__ptrmap_put(gql_ptrmap *m, const void *k1, const void *k2, uintptr_t value);

/* Decodes one code point from UTF-8. Invalid input decodes to U+FFFD consuming the
 * maximal invalid subpart (the WHATWG decoder's rule, which is what Node applies
 * when reading a file, so our columns match graphql-js). Returns bytes consumed
 * (>= 1); p < end required. */
int gql__utf8_decode(const unsigned char *p, const unsigned char *end, uint32_t *cp);
/* Appends the UTF-8 encoding of `cp`. */
int gql__buf_utf8(gql_buf *b, uint32_t cp);
/* Length in UTF-16 code units of a UTF-8 byte string (JavaScript's `.length`). */
uint32_t gql__utf16_len(const char *s, size_t n);
/* True when the bytes are valid UTF-8 without replacement. */
bool gql__utf8_valid(const char *s, size_t n);

/* Decimal digits of an integer; returns the length (out: 24 bytes). */
int gql__fmt_i64(char *out, int64_t v);
/* Formats a double as JavaScript's String(number) does; returns the length.
 * `out` must hold 32 bytes. */
int gql__js_number(char *out, double d);
/* Appends a JSON value's number as JavaScript would print it. */
int gql__buf_json_number(gql_buf *b, const json_t *v);

/* Appends `s` as a JSON string literal escaped exactly as JSON.stringify does. */
int gql__buf_json_string(gql_buf *b, const char *s, size_t n);
/* Appends a JSON value as JSON.stringify would (no whitespace). `depth_left` bounds
 * recursion; deeper values print as null. */
int gql__buf_json_value(gql_buf *b, const json_t *v, int depth_left);
/* Appends `s` as a GraphQL string literal (graphql-js printString). */
int gql__buf_graphql_string(gql_buf *b, const char *s, size_t n);

/* graphql-js printBlockString(): appends `s` as a block string literal. */
int gql__print_block_string(gql_buf *out, const char *s, size_t n);

/* graphql-js inspect() of a JSON value (strings quoted, objects as `{ a: 1 }`,
 * depth and array-length limits). */
void gql__inspect_json(gql_buf *b, const json_t *v);
/* Same as a NUL-terminated string in the arena. */
char *gql__inspect_json_str(gql_arena *a, const json_t *v);

/* graphql-js naturalCompare (digit runs compare as numbers). */
int gql__natural_compare(const char *a, size_t alen, const char *b, size_t blen);

/* graphql-js suggestionList: options within an edit distance of `input`, best first.
 * Writes up to `n` indexes into `out` and returns how many. */
uint32_t gql__suggestion_list(const char *input, size_t input_len, const gql_str *options, uint32_t n,
                              uint32_t *out);
/* Appends graphql-js didYouMean(): "" or " Did you mean "a", "b", or "c"?" (at most five). */
void gql__did_you_mean(gql_buf *b, const char *submessage, const gql_str *suggestions, uint32_t n);

/* Parses a GraphQL Int literal text to a double the way JavaScript parseInt does. */
double gql__parse_int_text(const char *s, size_t n);
/* strtod on a non-NUL-terminated slice. */
double gql__parse_float_text(const char *s, size_t n);
/* JavaScript Number(string) conversion; returns false when the result is NaN. */
bool gql__js_string_to_number(const char *s, size_t n, double *out);

/* True when d is an integer in JavaScript's sense (finite, no fraction). */
bool gql__is_integer(double d);

#endif
