/*
 * Implementation of gw_jalloc.h.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gw_jalloc.h"

#define CACHE_CHUNKS 32 /* chunks a thread keeps for the next operations (2 MiB) */

static __thread gw_jarena_t *current;
static __thread void *cache[CACHE_CHUNKS];
static __thread unsigned ncache;

/* This thread's live chunks: an open-addressing set of their base addresses. */
static __thread uintptr_t *chunk_set;
static __thread size_t chunk_cap, chunk_count;

static size_t slot_of(uintptr_t base, size_t cap)
{
    return (size_t)((base / GW_JARENA_CHUNK) * 0x9E3779B97F4A7C15ull) & (cap - 1);
}

static bool set_has(uintptr_t base)
{
    if (chunk_count == 0)
        return false;
    for (size_t i = slot_of(base, chunk_cap);; i = (i + 1) & (chunk_cap - 1)) {
        if (chunk_set[i] == base)
            return true;
        if (chunk_set[i] == 0)
            return false;
    }
}

static bool set_insert_raw(uintptr_t *set, size_t cap, uintptr_t base)
{
    for (size_t i = slot_of(base, cap);; i = (i + 1) & (cap - 1))
        if (set[i] == 0) {
            set[i] = base;
            return true;
        }
}

static bool set_add(uintptr_t base)
{
    if ((chunk_count + 1) * 2 > chunk_cap) {
        size_t ncap = chunk_cap ? chunk_cap * 2 : 64;
        uintptr_t *n = calloc(ncap, sizeof(*n));
        if (n == NULL)
            return false;
        for (size_t i = 0; i < chunk_cap; ++i)
            if (chunk_set[i] != 0)
                set_insert_raw(n, ncap, chunk_set[i]);
        free(chunk_set);
        chunk_set = n;
        chunk_cap = ncap;
    }
    set_insert_raw(chunk_set, chunk_cap, base);
    ++chunk_count;
    return true;
}

static void set_remove(uintptr_t base)
{
    size_t i = slot_of(base, chunk_cap);
    while (chunk_set[i] != base)
        i = (i + 1) & (chunk_cap - 1);
    chunk_set[i] = 0;
    --chunk_count;
    /* re-insert the cluster after the hole (linear probing deletion) */
    for (size_t j = (i + 1) & (chunk_cap - 1); chunk_set[j] != 0; j = (j + 1) & (chunk_cap - 1)) {
        uintptr_t v = chunk_set[j];
        chunk_set[j] = 0;
        set_insert_raw(chunk_set, chunk_cap, v);
    }
    if (chunk_count == 0) { /* nothing left: give the table back (threads end cleanly) */
        free(chunk_set);
        chunk_set = NULL;
        chunk_cap = 0;
    }
}

/* A fresh chunk of `size` bytes (a multiple of GW_JARENA_CHUNK), every 64 KiB of it
 * registered; a regular chunk comes from the thread's cache when it has one. */
static void *chunk_new(size_t size)
{
    if (size == GW_JARENA_CHUNK && ncache > 0)
        return cache[--ncache];
    void *c = aligned_alloc(GW_JARENA_CHUNK, size);
    if (c == NULL)
        return NULL;
    for (size_t off = 0; off < size; off += GW_JARENA_CHUNK)
        if (!set_add((uintptr_t)c + off)) {
            for (size_t o = 0; o < off; o += GW_JARENA_CHUNK)
                set_remove((uintptr_t)c + o);
            free(c);
            return NULL;
        }
    return c;
}

static void chunk_release(void *c, size_t size)
{
    if (size == GW_JARENA_CHUNK && ncache < CACHE_CHUNKS) {
        cache[ncache++] = c;
        return;
    }
    for (size_t off = 0; off < size; off += GW_JARENA_CHUNK)
        set_remove((uintptr_t)c + off);
    free(c);
}

/* A chunk starts with its link and its size. */
typedef struct chunk_head {
    void *next;
    size_t size;
} chunk_head_t;

static void *arena_alloc(gw_jarena_t *a, size_t n)
{
    n = (n + 15) & ~(size_t)15;
    if ((size_t)(a->end - a->cur) >= n) {
        void *p = a->cur;
        a->cur += n;
        return p;
    }
    size_t need = n + sizeof(chunk_head_t);
    if (need > GW_JARENA_CHUNK / 4) { /* a big value: a chunk of its own */
        size_t size = (need + GW_JARENA_CHUNK - 1) & ~(GW_JARENA_CHUNK - 1);
        chunk_head_t *h = chunk_new(size);
        if (h == NULL)
            return NULL;
        h->size = size;
        h->next = a->chunks;
        a->chunks = h;
        a->bytes += size;
        return h + 1;
    }
    chunk_head_t *h = chunk_new(GW_JARENA_CHUNK);
    if (h == NULL)
        return NULL;
    h->size = GW_JARENA_CHUNK;
    h->next = a->chunks;
    a->chunks = h;
    a->cur = (char *)(h + 1);
    a->end = (char *)h + GW_JARENA_CHUNK;
    a->bytes += GW_JARENA_CHUNK;
    void *p = a->cur;
    a->cur += n;
    return p;
}

static void *j_malloc(size_t n)
{
    gw_jarena_t *a = current;
    if (a != NULL) {
        void *p = arena_alloc(a, n);
        if (p != NULL)
            return p;
    }
    return malloc(n);
}

static void j_free(void *p)
{
    if (p == NULL)
        return;
    if (set_has((uintptr_t)p & ~(uintptr_t)(GW_JARENA_CHUNK - 1)))
        return; /* arena memory: the arena frees it */
    free(p);
}

void gw_jalloc_install(void)
{
    json_set_alloc_funcs(j_malloc, j_free);
}

gw_jarena_t *gw_jarena_enter(gw_jarena_t *a)
{
    gw_jarena_t *prev = current;
    current = a;
    return prev;
}

void gw_jarena_free(gw_jarena_t *a)
{
    if (current == a)
        current = NULL;
    while (a->chunks != NULL) {
        chunk_head_t *h = a->chunks;
        a->chunks = h->next;
        chunk_release(h, h->size);
    }
    a->cur = a->end = NULL;
    a->bytes = 0;
}

void gw_jalloc_thread_done(void)
{
    while (ncache > 0) {
        void *c = cache[--ncache];
        set_remove((uintptr_t)c);
        free(c);
    }
}
