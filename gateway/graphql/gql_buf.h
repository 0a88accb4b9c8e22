/*
 * gql_buf: a growable byte buffer with a hard maximum.
 *
 * Why: responses, printed documents and error messages are built by appending.
 * Following curl's rule, every growable buffer has a ceiling: appending past it is an
 * error (sticky `overflow`), never an unbounded realloc.
 */
#ifndef GQL_BUF_H
#define GQL_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* Default ceiling for a buffer whose owner did not choose one. */
#define GQL_BUF_DEFAULT_MAX ((size_t)64 << 20)

typedef struct gql_buf {
    char *data;   /* NUL-terminated after gql_buf_cstr(); owned (malloc) */
    size_t len;   /* bytes in use */
    size_t cap;   /* bytes allocated */
    size_t max;   /* hard maximum of len */
    int overflow; /* sticky: an append was refused */
} gql_buf;

/* An empty buffer that may grow to `max` bytes (0 = GQL_BUF_DEFAULT_MAX). */
void gql_buf_init(gql_buf *b, size_t max);
/* Releases the memory; the buffer is empty and reusable. */
void gql_buf_free(gql_buf *b);
/* Forgets the contents but keeps the memory. */
static inline void gql_buf_reset(gql_buf *b)
{
    b->len = 0;
    b->overflow = 0;
}
/* Makes room for `n` more bytes; 0 on success, -1 (and `overflow`) when refused. */
int gql_buf_reserve(gql_buf *b, size_t n);
/* Appenders return 0 on success and -1 when the buffer refused to grow. The common
 * case (room available) is inline: responses are written with many small appends. */
int gql__buf_append_slow(gql_buf *b, const void *p, size_t n);
static inline int gql_buf_append(gql_buf *b, const void *p, size_t n)
{
    if (b->len + n < b->cap) {
        memcpy(b->data + b->len, p, n);
        b->len += n;
        return 0;
    }
    return gql__buf_append_slow(b, p, n);
}
static inline int gql_buf_puts(gql_buf *b, const char *s)
{
    return gql_buf_append(b, s, strlen(s));
}
int gql_buf_printf(gql_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline int gql_buf_putc(gql_buf *b, char c)
{
    if (b->len + 1 < b->cap) {
        b->data[b->len++] = c;
        return 0;
    }
    return gql_buf_append(b, &c, 1);
}
/* Returns the contents as a NUL-terminated string (valid until the next append). */
const char *gql_buf_cstr(gql_buf *b);
/* Hands the malloc'ed, NUL-terminated contents to the caller; the buffer is left empty. */
char *gql_buf_steal(gql_buf *b, size_t *len);

#endif
