/*
 * gql_error: the list of errors every stage (parse, schema build, validation,
 * execution) reports into, and its JSON form.
 *
 * Why a list with its own arena: errors outlive the stage that produced them (the
 * document may be freed before the response is written) and a request may collect
 * many; they are freed together with gql_errors_free(). The JSON form follows
 * graphql-js's GraphQLError.toJSON(): message, locations, path, extensions — in that
 * order, each only when present. The gateway sets `extensions` (e.g. a `code`).
 */
#ifndef GQL_ERROR_H
#define GQL_ERROR_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gql_arena.h"
#include "gql_ast.h"
#include "gql_buf.h"

/* A line/column in a named source (schema errors name their file). */
typedef struct gql_error_location {
    uint32_t line;
    uint32_t column;
    const char *source; /* file name or NULL */
} gql_error_location;

/* One step of a response path: a key, or a list index when `key` is NULL. */
typedef struct gql_path_segment {
    const char *key;
    uint32_t key_len;
    uint32_t index;
} gql_path_segment;

typedef struct gql_error {
    struct gql_error *next;
    const char *message; /* NUL-terminated; owned by the list */
    uint32_t message_len; /* may differ from strlen when the message quotes a NUL */
    gql_error_location *locations;
    uint32_t nlocations;
    bool has_path;
    gql_path_segment *path;
    uint32_t npath;
    json_t *extensions; /* owned reference, or NULL */
    /* Execution bookkeeping (see gql_exec.c): the error's position in depth-first
     * response order, and how far up a non-null violation nulled the response. */
    uint32_t *_pos;
    uint32_t _npos;
    int32_t _nulls_at; /* length of the position prefix that became null, or -1 */
} gql_error;

typedef struct gql_errors {
    gql_arena arena;
    gql_error *head;
    gql_error *tail;
    uint32_t count;
} gql_errors;

void gql_errors_init(gql_errors *e);
/* Frees every error (and drops the extensions' references); the list is empty. */
void gql_errors_free(gql_errors *e);

/* Appends an error with a copy of `message`; NULL only when memory is exhausted. */
gql_error *gql_errors_add(gql_errors *e, const char *message);
gql_error *gql_errors_addf(gql_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends an error whose message is the `len` bytes at `msg` (may contain NUL). */
gql_error *gql_errors_addn(gql_errors *e, const char *msg, size_t len);
/* Appends one location computed from a byte offset of `src`. */
void gql_error_add_location(gql_errors *e, gql_error *err, const gql_source *src, uint32_t offset);
/* Replaces the extensions object (the reference is stolen). */
void gql_error_set_extensions(gql_error *err, json_t *extensions);

/* Writes the errors as a JSON array: [{"message":…,"locations":[…],"path":[…]}, …].
 * With `with_files`, locations also carry a "file" member (schema errors). */
void gql_errors_write_json(const gql_errors *e, gql_buf *out, bool with_files);
/* Moves all errors of `from` to the end of `to` (from is left empty). */
void gql_errors_move(gql_errors *to, gql_errors *from);

#endif
