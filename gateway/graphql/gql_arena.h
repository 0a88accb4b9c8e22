/*
 * gql_arena: the bump allocator behind every document, schema and request.
 *
 * Why: a GraphQL request allocates thousands of small objects (AST nodes, result
 * slots, error strings) that all die together. A bump allocator makes each of them
 * a pointer increment and frees the lot with one call, so nothing can leak one node
 * at a time. Every arena has a hard byte limit: a hostile document cannot make the
 * engine allocate without bound; exceeding it makes allocations fail (NULL) and the
 * arena remembers that it failed.
 */
#ifndef GQL_ARENA_H
#define GQL_ARENA_H

#include <stddef.h>
#include <stdint.h>
#include <stdarg.h>

/* Default hard maximum for one arena (bytes); callers may pass their own. */
#define GQL_ARENA_DEFAULT_LIMIT ((size_t)256 << 20)

typedef struct gql_arena_chunk gql_arena_chunk;

/* One arena. Zero-initialised memory plus gql_arena_init() is a valid empty arena. */
typedef struct gql_arena {
    gql_arena_chunk *chunks; /* most recent first */
    char *cur;               /* next free byte in the current chunk */
    char *end;               /* end of the current chunk */
    size_t allocated;        /* bytes obtained from malloc so far */
    size_t limit;            /* hard maximum of `allocated` */
    size_t next_chunk;       /* size of the next regular chunk */
    int failed;              /* sticky: an allocation was refused */
} gql_arena;

/* Prepares an empty arena that may grow to `limit` bytes (0 = the default limit). */
void gql_arena_init(gql_arena *a, size_t limit);

/* Sets the size of the arena's next chunk (clamped to the chunk maximum and to a
 * quarter of the limit), for an owner that knows roughly how much it will need:
 * one right-sized chunk instead of several doubling ones. Internal. */
void gql__arena_set_next_chunk(gql_arena *a, size_t size);

/* Frees every allocation of the arena at once; the arena is empty and reusable. */
void gql_arena_free(gql_arena *a);

void *gql__arena_alloc_slow(gql_arena *a, size_t size);

/* Returns `size` bytes aligned for any scalar type, or NULL when the arena's limit or
 * malloc refuses (the arena then records the failure in `failed`). Inline: the
 * common case is a bounds check and a pointer increment. */
static inline void *gql_arena_alloc(gql_arena *a, size_t size)
{
    size_t n = (size + 15) & ~(size_t)15; /* the alignment of gql_arena.c */
    if (__builtin_expect(size - 1 < (size_t)-64 && (size_t)(a->end - a->cur) >= n, 1)) {
        void *p = a->cur;
        a->cur += n;
        return p;
    }
    return gql__arena_alloc_slow(a, size);
}

/* Same as gql_arena_alloc() but zero-filled. */
void *gql_arena_calloc(gql_arena *a, size_t n, size_t size);

/* Copies `n` bytes and appends a NUL; NULL on failure. */
char *gql_arena_strndup(gql_arena *a, const char *s, size_t n);

/* printf into the arena; NULL on failure. */
char *gql_arena_printf(gql_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
char *gql_arena_vprintf(gql_arena *a, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
