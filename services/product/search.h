/*
 * Text search without `$text`: FerretDB has no text index, and a regular expression built
 * from user input is both a denial-of-service risk and an injection channel. Instead every
 * product stores normalised keyword tokens (multikey-indexed on MongoDB), a query is
 * normalised the same way, and matching is plain equality on those tokens — user input is
 * never a regex or an operator, only the value of an equality.
 *
 * Normalisation: UTF-8 is decoded; ASCII, Latin-1 and Latin Extended-A letters fold to
 * lower-case ASCII without accents (É → e, ß → ss); Greek and Cyrillic capitals fold to
 * lower case; other letters are kept as they are; punctuation, symbols and spaces separate
 * tokens. Tokens of 2+ bytes (or a single digit) are kept, a short list of English stop
 * words is dropped, and a light plural stemmer folds "batteries" and "battery", "boxes" and
 * "box", "shoes" and "shoe" together.
 *
 * Relevance (ps_score) rewards a query word found in the name over one in the tags over one
 * only in the description, and a name that starts with (or contains) the whole query.
 *
 * Suggestions match name-word prefixes: each product stores the prefixes
 * (PS_PREFIX_MIN_CHARS to PS_PREFIX_MAX_CHARS characters) of its unstemmed name words, so
 * "headph" finds "Headphones" by equality, again without a regex; a longer typed word is
 * looked up by its first PS_PREFIX_MAX_CHARS characters and checked in full afterwards
 * (ps_name_has_prefix).
 *
 * What is stored is kept small on purpose: FerretDB evaluates filters by decoding every
 * document, at a cost that grows with the number of values in it, so a product stores only
 * the keyword tokens the filters need (`kw`, `kwPre`); the tokens of the name and the tags
 * that relevance needs are recomputed from the name and tags when scoring.
 *
 * Everything here is pure (no I/O) and unit-tested.
 */
#ifndef PRODUCT_SEARCH_H
#define PRODUCT_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#define PS_MAX_TOKEN_BYTES 40   /* longer "words" are dropped (junk, not vocabulary) */
#define PS_MAX_DOC_TOKENS 256   /* keywords stored per product */
#define PS_MAX_PREFIXES 128     /* name prefixes stored per product */
#define PS_PREFIX_MIN_CHARS 2   /* shortest name prefix stored for suggestions */
#define PS_PREFIX_MAX_CHARS 8   /* longest name prefix stored for suggestions */
#define PS_MAX_QUERY_TOKENS 8   /* query words that count; the rest are ignored */
#define PS_NAME_KEY_BYTES 64    /* sort key of a name: folded, truncated at a character */

/* A growable list of unique NUL-terminated tokens with a hard maximum. */
typedef struct ps_list {
    char **v;
    size_t n, cap, max;
} ps_list_t;

void ps_list_init(ps_list_t *l, size_t max);
/* Appends a copy unless present or full. Returns true when added. */
bool ps_list_add(ps_list_t *l, const char *tok, size_t len);
bool ps_list_has(const ps_list_t *l, const char *tok);
void ps_list_free(ps_list_t *l);

/* Folds text to the normalised form: lower case, accents folded, every run of separators
 * one space, no leading/trailing space. Writes at most outsz-1 bytes (never splitting a
 * character) and NUL-terminates; returns the length. */
size_t ps_fold(const char *in, size_t len, char *out, size_t outsz);

/* The sort key of a product name: ps_fold truncated to PS_NAME_KEY_BYTES. out needs
 * PS_NAME_KEY_BYTES + 1 bytes. */
size_t ps_name_key(const char *name, size_t len, char *out);

/* Folds a single token in place with the plural rules (ASCII words of 4+ letters only). */
void ps_stem(char *tok);
bool ps_is_stopword(const char *tok);

/* Splits text into tokens appended to out (unique). stem: apply ps_stem; stop: drop stop
 * words. */
void ps_tokenize(const char *text, size_t len, ps_list_t *out, bool stem, bool stop);

/* What a product stores for search and suggestions. */
typedef struct ps_index {
    ps_list_t kw;      /* every stemmed token of name, tags and description */
    ps_list_t kw_name; /* stemmed tokens of the name */
    ps_list_t kw_tags; /* stemmed tokens of the tags */
    ps_list_t prefixes; /* prefixes of the unstemmed name words */
} ps_index_t;

void ps_index_build(ps_index_t *idx, const char *name, const char *description, const char *const *tags, size_t ntags);
void ps_index_free(ps_index_t *idx);

/* A parsed search or suggestion query. */
typedef struct ps_query {
    ps_list_t tokens;   /* stemmed, stop words dropped, at most PS_MAX_QUERY_TOKENS */
    char phrase[256];   /* the folded query, for "name starts with" */
    char last[PS_MAX_TOKEN_BYTES + 1]; /* last word unstemmed (suggestion prefix), "" if none */
    char last_key[PS_MAX_TOKEN_BYTES + 1]; /* its stored prefix (at most PS_PREFIX_MAX_CHARS
                                              characters); "" when shorter than
                                              PS_PREFIX_MIN_CHARS */
    ps_list_t complete; /* suggestion: stemmed words before the last one */
} ps_query_t;

void ps_query_parse(ps_query_t *q, const char *text, size_t len);
void ps_query_free(ps_query_t *q);

/* True when a word of the name (folded, unstemmed) starts with prefix. */
bool ps_name_has_prefix(const char *name, const char *prefix);

/* Relevance of a product for q; 0 when a query token is missing from kw (no match). */
int ps_score(const ps_query_t *q, const ps_list_t *kw, const ps_list_t *kw_name, const ps_list_t *kw_tags,
             const char *name_key);

#endif
