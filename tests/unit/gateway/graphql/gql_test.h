/*
 * Helpers shared by the engine's unit tests: build a schema or document from a
 * string (failing the test with the errors otherwise), execute to a string.
 */
#ifndef GQL_TEST_H
#define GQL_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

static inline void fail_with_errors(const char *what, gql_errors *e)
{
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(e, &b, true);
    print_error("%s failed: %s\n", what, gql_buf_cstr(&b));
    gql_buf_free(&b);
    fail();
}

static inline gql_schema *schema_of(const char *sdl)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_sdl_file f = {"test.graphql", sdl, strlen(sdl)};
    gql_schema *s = gql_schema_build(&f, 1, NULL, &e);
    if (!s)
        fail_with_errors("schema", &e);
    gql_errors_free(&e);
    return s;
}

/* The schema errors as JSON (the build must fail). Caller frees. */
static inline char *schema_errors_of(const gql_sdl_file *files, size_t n)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_schema *s = gql_schema_build(files, n, NULL, &e);
    assert_null(s);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(&e, &b, true);
    gql_errors_free(&e);
    return gql_buf_steal(&b, NULL);
}

static inline gql_document *doc_of(const char *text)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = gql_parse(text, strlen(text), NULL, &e);
    if (!d)
        fail_with_errors("parse", &e);
    gql_errors_free(&e);
    return d;
}

/* A validated document. */
static inline gql_document *valid_doc(const gql_schema *s, const char *text)
{
    gql_document *d = doc_of(text);
    gql_errors e;
    gql_errors_init(&e);
    if (gql_validate(s, d, NULL, &e))
        fail_with_errors("validate", &e);
    gql_errors_free(&e);
    return d;
}

/* Validation errors as JSON ("[]" when valid). Caller frees. */
static inline char *validation_errors(const gql_schema *s, const char *text, const gql_validate_options *o)
{
    gql_document *d = doc_of(text);
    gql_errors e;
    gql_errors_init(&e);
    gql_validate(s, d, o, &e);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(&e, &b, false);
    gql_errors_free(&e);
    gql_document_free(d);
    return gql_buf_steal(&b, NULL);
}

/* Runs a query synchronously; returns the response (caller frees). */
static inline char *run_query(const gql_schema *s, const char *query, const char *root_json, gql_exec_options *opts)
{
    gql_document *d = valid_doc(s, query);
    gql_exec_options o;
    if (opts)
        o = *opts;
    else
        memset(&o, 0, sizeof o);
    json_t *root = NULL;
    if (root_json) {
        json_error_t je;
        root = json_loads(root_json, 0, &je);
        assert_non_null(root);
        o.root = root;
    }
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_execute_sync(s, d, &o, &out);
    if (root)
        json_decref(root);
    gql_document_free(d);
    return gql_buf_steal(&out, NULL);
}

#define assert_json_eq(actual, expected)                                                                              \
    do {                                                                                                               \
        char *a__ = (actual);                                                                                          \
        if (strcmp(a__, (expected)) != 0) {                                                                            \
            print_error("expected: %s\n  actual: %s\n", (expected), a__);                                              \
            free(a__);                                                                                                 \
            fail();                                                                                                    \
        }                                                                                                              \
        free(a__);                                                                                                     \
    } while (0)

#endif
