/*
 * Bump allocator with chunk growth and a hard limit (see gql_arena.h for why).
 * Chunks double from 4 KiB up to 1 MiB; a request larger than a quarter of the
 * regular chunk size gets a chunk of its own so big blocks do not waste the tail
 * of the current chunk.
 */
#include "gql_arena.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ALIGN 16
#define FIRST_CHUNK 4096
#define MAX_CHUNK ((size_t)1 << 20)

struct gql_arena_chunk {
    gql_arena_chunk *next;
    size_t size;
    /* payload follows, aligned */
};

#define HDR ((sizeof(gql_arena_chunk) + ALIGN - 1) & ~(size_t)(ALIGN - 1))

void gql_arena_init(gql_arena *a, size_t limit)
{
    memset(a, 0, sizeof(*a));
    a->limit = limit ? limit : GQL_ARENA_DEFAULT_LIMIT;
    a->next_chunk = FIRST_CHUNK;
}

void gql__arena_set_next_chunk(gql_arena *a, size_t size)
{
    if (size > MAX_CHUNK)
        size = MAX_CHUNK;
    if (size > a->limit / 4)
        size = a->limit / 4;
    if (size < FIRST_CHUNK)
        size = FIRST_CHUNK;
    a->next_chunk = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void gql_arena_free(gql_arena *a)
{
    gql_arena_chunk *c = a->chunks;
    while (c) {
        gql_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    size_t limit = a->limit;
    gql_arena_init(a, limit);
}

/* Obtains a new chunk able to hold `need` bytes; links it in front (when `current`)
 * or behind the current chunk (a dedicated chunk for one big block). */
static void *new_chunk(gql_arena *a, size_t need, int current)
{
    size_t size = current ? a->next_chunk : need;
    if (size < need)
        size = need;
    if (size > SIZE_MAX - HDR || a->allocated + HDR + size > a->limit || a->allocated + HDR + size < a->allocated) {
        a->failed = 1;
        return NULL;
    }
    gql_arena_chunk *c = malloc(HDR + size);
    if (!c) {
        a->failed = 1;
        return NULL;
    }
    c->size = size;
    a->allocated += HDR + size;
    char *payload = (char *)c + HDR;
    if (current) {
        c->next = a->chunks;
        a->chunks = c;
        a->cur = payload;
        a->end = payload + size;
        if (a->next_chunk < MAX_CHUNK)
            a->next_chunk *= 2;
    } else if (a->chunks) {
        c->next = a->chunks->next;
        a->chunks->next = c;
    } else {
        c->next = NULL;
        a->chunks = c;
        a->cur = a->end = payload + size; /* nothing left to bump into */
    }
    return payload;
}

void *gql__arena_alloc_slow(gql_arena *a, size_t size)
{
    if (size == 0)
        size = 1;
    if (size > SIZE_MAX - ALIGN) {
        a->failed = 1;
        return NULL;
    }
    size = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if ((size_t)(a->end - a->cur) >= size) {
        void *p = a->cur;
        a->cur += size;
        return p;
    }
    if (size > a->next_chunk / 4)
        return new_chunk(a, size, 0);
    char *p = new_chunk(a, size, 1);
    if (!p)
        return NULL;
    a->cur = p + size;
    return p;
}

void *gql_arena_calloc(gql_arena *a, size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size) {
        a->failed = 1;
        return NULL;
    }
    void *p = gql_arena_alloc(a, n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

char *gql_arena_strndup(gql_arena *a, const char *s, size_t n)
{
    char *p = gql_arena_alloc(a, n + 1);
    if (!p)
        return NULL;
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *gql_arena_vprintf(gql_arena *a, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap2);
    va_end(ap2);
    if (n < 0)
        return NULL;
    char *p = gql_arena_alloc(a, (size_t)n + 1);
    if (!p)
        return NULL;
    if ((size_t)n < sizeof small)
        memcpy(p, small, (size_t)n + 1);
    else
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *gql_arena_printf(gql_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = gql_arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}
