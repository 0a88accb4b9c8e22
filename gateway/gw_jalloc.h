/*
 * gw_jalloc: jansson allocations of an operation's upstream answers in an arena.
 *
 * Why: parsing a service's answer is most of the gateway's own work per request (a page
 * of 50 products is ~2,000 JSON values, each a malloc, and as many frees at the end),
 * and every one of those values dies with the operation. While a gw_jarena_t is
 * current on a thread, jansson's allocations on that thread are bump-allocated from the
 * arena's chunks; freeing such memory is a no-op, and the arena's chunks go back at once
 * when the operation ends. Everything else (other threads, other moments) uses malloc.
 *
 * How frees are told apart: arena chunks are GW_JARENA_CHUNK bytes, aligned to their
 * size, and each thread keeps the set of its live chunks; a pointer whose aligned base
 * is in the set is arena memory. Values never travel between threads (an operation
 * lives on its worker's loop), so a thread's set is enough. Large allocations and
 * everything outside a scope go to malloc as usual, so jansson's users elsewhere (lib/,
 * libjwt) are unaffected.
 *
 * gw_jalloc_install() must run before anything in the process allocates with jansson.
 */
#ifndef GW_JALLOC_H
#define GW_JALLOC_H

#include <stddef.h>

#define GW_JARENA_CHUNK ((size_t)64 << 10)

typedef struct gw_jarena {
    void *chunks; /* linked through their first word */
    char *cur, *end;
    size_t bytes;
} gw_jarena_t;

/* Installs the allocation functions into jansson. Call first thing in main(). */
void gw_jalloc_install(void);
/* Makes a the current arena of this thread (NULL: none); returns the previous one. */
gw_jarena_t *gw_jarena_enter(gw_jarena_t *a);
/* Frees the arena's chunks (the thread keeps a few for the next arenas). Every value
 * allocated in it must be unreachable by now — or only reachable from other arena
 * values: a tree allocated entirely in the arena need not be json_decref'd. */
void gw_jarena_free(gw_jarena_t *a);
/* Gives back the chunks this thread keeps; call when the thread's work ends. */
void gw_jalloc_thread_done(void);

#endif
