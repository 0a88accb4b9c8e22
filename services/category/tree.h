/*
 * The category tree in memory.
 *
 * Categories are few (at most CATEGORY_MAX_COUNT, a few thousand), so the service reads
 * them all at once into a snapshot and answers every read from it: lists, the nested
 * tree, look-ups by id or slug, ancestors (breadcrumbs), descendants. A snapshot is
 * immutable once built and shared by the requests of one worker.
 *
 * Categories are ordered among their siblings by (position, name, id). The snapshot
 * tolerates damaged data — a parent that does not exist, or a cycle written by hand
 * into the database — by treating such a category as a root, so a bad document can
 * never hang or crash a read.
 */
#ifndef CATEGORY_TREE_H
#define CATEGORY_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <jansson.h>

/* The deepest a category may sit (a root has depth 1). Bounds recursion everywhere. */
#define CATEGORY_MAX_DEPTH 8
#define CATEGORY_NONE ((size_t)-1)

typedef struct cat_node {
    json_t *obj; /* the category as the API serves it (borrowed from the snapshot) */
    const char *id, *slug, *name, *parent_id; /* parent_id NULL for a root */
    long long position;
    bool active;
    size_t parent;       /* index, or CATEGORY_NONE */
    size_t first_child;  /* ordered children, linked through next_sibling */
    size_t next_sibling;
    unsigned depth;      /* 1 for a root */
} cat_node_t;

typedef struct cat_snapshot {
    unsigned refcnt;
    char version[32]; /* the cache version it was built for ("" when uncached) */
    json_t *list;     /* array of category objects, sorted by (position, name, id) */
    size_t n;
    cat_node_t *nodes; /* nodes[i] describes list[i] */
    size_t first_root;
    size_t *by_id, *by_slug; /* open-addressing tables of node indexes, size mask+1 */
    size_t mask;
} cat_snapshot_t;

/* Builds a snapshot from an array of category objects (reference stolen). Returns NULL
 * when an element lacks id/name/slug. */
cat_snapshot_t *cat_snapshot_build(json_t *list, const char *version);
void cat_snapshot_retain(cat_snapshot_t *s);
void cat_snapshot_release(cat_snapshot_t *s);

size_t cat_find_id(const cat_snapshot_t *s, const char *id);
size_t cat_find_slug(const cat_snapshot_t *s, const char *slug);

/* Nested tree: an array of category objects with "children" arrays. active_only prunes
 * inactive categories and everything below them. root: CATEGORY_NONE for the whole
 * forest, or the index of the subtree's root (returned as a one-element array). */
json_t *cat_tree_json(const cat_snapshot_t *s, bool active_only, size_t root);
/* Ancestors from the root down to the parent (and the category itself if include_self). */
json_t *cat_ancestors_json(const cat_snapshot_t *s, size_t idx, bool include_self);
/* Ids of every category below idx, in tree order. */
json_t *cat_descendant_ids(const cat_snapshot_t *s, size_t idx);
/* True when node `candidate` is `of` or lies below it. */
bool cat_in_subtree(const cat_snapshot_t *s, size_t candidate, size_t of);
/* Height of the subtree rooted at idx (1 for a leaf). */
unsigned cat_subtree_height(const cat_snapshot_t *s, size_t idx);
size_t cat_child_count(const cat_snapshot_t *s, size_t idx);

#endif
