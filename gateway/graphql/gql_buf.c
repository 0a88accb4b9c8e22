/* Growable buffer with a hard ceiling (see gql_buf.h). */
#include "gql_buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void gql_buf_init(gql_buf *b, size_t max)
{
    memset(b, 0, sizeof(*b));
    b->max = max ? max : GQL_BUF_DEFAULT_MAX;
}

void gql_buf_free(gql_buf *b)
{
    size_t max = b->max;
    free(b->data);
    gql_buf_init(b, max);
}

int gql_buf_reserve(gql_buf *b, size_t n)
{
    if (b->overflow)
        return -1;
    /* +1 keeps room for the terminating NUL of gql_buf_cstr() */
    if (n > b->max || b->len > b->max - n) {
        b->overflow = 1;
        return -1;
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap *= 2;
    if (cap > b->max + 1)
        cap = b->max + 1;
    char *d = realloc(b->data, cap);
    if (!d) {
        b->overflow = 1;
        return -1;
    }
    b->data = d;
    b->cap = cap;
    return 0;
}

int gql__buf_append_slow(gql_buf *b, const void *p, size_t n)
{
    if (gql_buf_reserve(b, n))
        return -1;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

int gql_buf_printf(gql_buf *b, const char *fmt, ...)
{
    char small[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof small)
        return gql_buf_append(b, small, (size_t)n);
    if (gql_buf_reserve(b, (size_t)n))
        return -1;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return 0;
}

const char *gql_buf_cstr(gql_buf *b)
{
    if (!b->data || b->len + 1 > b->cap) {
        /* make room for the NUL even when the buffer is at its ceiling */
        size_t cap = b->len + 1;
        char *d = realloc(b->data, cap);
        if (!d)
            return "";
        b->data = d;
        b->cap = cap;
    }
    b->data[b->len] = 0;
    return b->data;
}

char *gql_buf_steal(gql_buf *b, size_t *len)
{
    gql_buf_cstr(b);
    char *d = b->data;
    if (len)
        *len = b->len;
    size_t max = b->max;
    gql_buf_init(b, max);
    return d;
}
