/*
 * Implementation of gw_versions.h: a hash table over a fixed pool of entries, chained by
 * index, with an intrusive LRU list (most recently admitted first).
 */
#include <stdlib.h>
#include <string.h>
#include "gw_versions.h"
#include "mc_util.h"

#define NIL UINT32_MAX
#define KEY_MAX 32

typedef struct entry {
    char key[KEY_MAX + 1];
    int64_t version;
    uint32_t hnext;       /* next in the bucket */
    uint32_t prev, next;  /* LRU */
} entry_t;

struct gw_versions {
    entry_t *pool;
    uint32_t *buckets;
    uint32_t nbuckets; /* a power of two */
    uint32_t capacity, count;
    uint32_t head, tail; /* LRU: head most recent */
};

static uint32_t hash(const char *s)
{
    return mc_fnv1a_str(MC_FNV1A_INIT, s);
}

gw_versions_t *gw_versions_create(unsigned capacity)
{
    gw_versions_t *v = calloc(1, sizeof(*v));
    if (v == NULL)
        return NULL;
    v->capacity = capacity > 0 ? capacity : 1;
    v->nbuckets = 16;
    while (v->nbuckets < v->capacity * 2)
        v->nbuckets *= 2;
    v->pool = calloc(v->capacity, sizeof(*v->pool));
    v->buckets = malloc(v->nbuckets * sizeof(*v->buckets));
    if (v->pool == NULL || v->buckets == NULL) {
        gw_versions_free(v);
        return NULL;
    }
    for (uint32_t i = 0; i < v->nbuckets; ++i)
        v->buckets[i] = NIL;
    v->head = v->tail = NIL;
    return v;
}

void gw_versions_free(gw_versions_t *v)
{
    if (v == NULL)
        return;
    free(v->pool);
    free(v->buckets);
    free(v);
}

unsigned gw_versions_count(const gw_versions_t *v)
{
    return v->count;
}

static void lru_unlink(gw_versions_t *v, uint32_t i)
{
    entry_t *e = &v->pool[i];
    if (e->prev != NIL)
        v->pool[e->prev].next = e->next;
    else
        v->head = e->next;
    if (e->next != NIL)
        v->pool[e->next].prev = e->prev;
    else
        v->tail = e->prev;
    e->prev = e->next = NIL;
}

static void lru_front(gw_versions_t *v, uint32_t i)
{
    entry_t *e = &v->pool[i];
    e->prev = NIL;
    e->next = v->head;
    if (v->head != NIL)
        v->pool[v->head].prev = i;
    v->head = i;
    if (v->tail == NIL)
        v->tail = i;
}

static void bucket_remove(gw_versions_t *v, uint32_t i)
{
    uint32_t *p = &v->buckets[hash(v->pool[i].key) & (v->nbuckets - 1)];
    while (*p != NIL && *p != i)
        p = &v->pool[*p].hnext;
    if (*p == i)
        *p = v->pool[i].hnext;
}

bool gw_versions_admit(gw_versions_t *v, const char *id, int64_t version)
{
    if (strlen(id) > KEY_MAX)
        return true; /* not an order id; nothing to compare with */
    uint32_t b = hash(id) & (v->nbuckets - 1);
    for (uint32_t i = v->buckets[b]; i != NIL; i = v->pool[i].hnext) {
        entry_t *e = &v->pool[i];
        if (strcmp(e->key, id) != 0)
            continue;
        if (version <= e->version)
            return false;
        e->version = version;
        lru_unlink(v, i);
        lru_front(v, i);
        return true;
    }
    uint32_t i;
    if (v->count < v->capacity) {
        i = v->count++;
    } else { /* forget the order changed least recently */
        i = v->tail;
        lru_unlink(v, i);
        bucket_remove(v, i);
    }
    entry_t *e = &v->pool[i];
    strcpy(e->key, id);
    e->version = version;
    e->hnext = v->buckets[b];
    v->buckets[b] = i;
    lru_front(v, i);
    return true;
}
