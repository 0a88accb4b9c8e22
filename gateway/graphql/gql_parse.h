/*
 * gql_parse: turning GraphQL text into a gql_document (gql_ast.h).
 *
 * One parser reads both executable documents and SDL, as graphql-js's parse() does;
 * syntax errors carry graphql-js's exact messages ("Syntax Error: …") and the
 * line/column of the offending character.
 *
 * Hostile input: the parser is recursive descent, so nesting (selection sets, list
 * and object values, list types) is capped at GQL_MAX_NESTING before any configurable
 * limit applies; `max_tokens` bounds the work per document like graphql-js's option
 * of the same name; all memory comes from the document's arena, which has a limit.
 */
#ifndef GQL_PARSE_H
#define GQL_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gql_ast.h"
#include "gql_error.h"

typedef struct gql_parse_options {
    uint32_t max_tokens;     /* 0 = unlimited; counts tokens as graphql-js's maxTokens */
    const char *source_name; /* appears in locations of schema errors */
    bool copy_source;        /* copy the text into the document (else it must outlive it) */
    size_t arena_limit;      /* 0 = GQL_ARENA_DEFAULT_LIMIT */
} gql_parse_options;

/* Parses `len` bytes of `text`. Returns the document, or NULL after appending one
 * syntax error to `errors` (or an out-of-memory error). `opts` may be NULL. */
gql_document *gql_parse(const char *text, size_t len, const gql_parse_options *opts, gql_errors *errors);

/* Frees a document and everything in it. No-op if NULL. */
void gql_document_free(gql_document *doc);

#endif
