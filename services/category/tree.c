/*
 * Implementation of tree.h. Everything here is pure: no I/O, no globals.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tree.h"

static size_t hash_str(const char *s)
{
    size_t h = 1469598103934665603u; /* FNV-1a */
    for (; *s; ++s)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

static void table_put(size_t *table, size_t mask, const cat_node_t *nodes, size_t idx, bool slug)
{
    const char *key = slug ? nodes[idx].slug : nodes[idx].id;
    size_t h = hash_str(key) & mask;
    while (table[h] != CATEGORY_NONE) {
        const char *other = slug ? nodes[table[h]].slug : nodes[table[h]].id;
        if (strcmp(other, key) == 0)
            return; /* duplicate: the first one stays findable */
        h = (h + 1) & mask;
    }
    table[h] = idx;
}

static size_t table_get(const cat_snapshot_t *s, const size_t *table, const char *key, bool slug)
{
    if (s->n == 0 || key == NULL)
        return CATEGORY_NONE;
    size_t h = hash_str(key) & s->mask;
    while (table[h] != CATEGORY_NONE) {
        const cat_node_t *n = &s->nodes[table[h]];
        if (strcmp(slug ? n->slug : n->id, key) == 0)
            return table[h];
        h = (h + 1) & s->mask;
    }
    return CATEGORY_NONE;
}

size_t cat_find_id(const cat_snapshot_t *s, const char *id)
{
    return table_get(s, s->by_id, id, false);
}

size_t cat_find_slug(const cat_snapshot_t *s, const char *slug)
{
    return table_get(s, s->by_slug, slug, true);
}

static int cmp_json_category(const void *pa, const void *pb)
{
    json_t *a = *(json_t *const *)pa, *b = *(json_t *const *)pb;
    json_int_t x = json_integer_value(json_object_get(a, "position")), y = json_integer_value(json_object_get(b, "position"));
    if (x != y)
        return x < y ? -1 : 1;
    const char *na = json_string_value(json_object_get(a, "name")), *nb = json_string_value(json_object_get(b, "name"));
    int c = strcmp(na ? na : "", nb ? nb : "");
    if (c != 0)
        return c;
    const char *ia = json_string_value(json_object_get(a, "id")), *ib = json_string_value(json_object_get(b, "id"));
    return strcmp(ia ? ia : "", ib ? ib : "");
}

cat_snapshot_t *cat_snapshot_build(json_t *list, const char *version)
{
    cat_snapshot_t *s = calloc(1, sizeof(*s));
    size_t n = json_array_size(list);
    s->refcnt = 1;
    snprintf(s->version, sizeof(s->version), "%s", version ? version : "");
    s->first_root = CATEGORY_NONE;

    /* Sort a copy of the element pointers, then rebuild the array in that order. */
    json_t **items = malloc(sizeof(*items) * (n ? n : 1));
    for (size_t i = 0; i < n; ++i)
        items[i] = json_array_get(list, i);
    qsort(items, n, sizeof(*items), cmp_json_category);
    s->list = json_array();
    for (size_t i = 0; i < n; ++i)
        json_array_append(s->list, items[i]);
    free(items);
    json_decref(list);

    s->n = n;
    s->nodes = calloc(n ? n : 1, sizeof(*s->nodes));
    size_t cap = 16;
    while (cap < n * 2)
        cap *= 2;
    s->mask = cap - 1;
    s->by_id = malloc(sizeof(size_t) * cap);
    s->by_slug = malloc(sizeof(size_t) * cap);
    memset(s->by_id, 0xff, sizeof(size_t) * cap);
    memset(s->by_slug, 0xff, sizeof(size_t) * cap);

    for (size_t i = 0; i < n; ++i) {
        cat_node_t *nd = &s->nodes[i];
        json_t *o = json_array_get(s->list, i);
        nd->obj = o;
        nd->id = json_string_value(json_object_get(o, "id"));
        nd->slug = json_string_value(json_object_get(o, "slug"));
        nd->name = json_string_value(json_object_get(o, "name"));
        nd->parent_id = json_string_value(json_object_get(o, "parentId"));
        nd->position = json_integer_value(json_object_get(o, "position"));
        nd->active = !json_is_false(json_object_get(o, "isActive"));
        nd->parent = nd->first_child = nd->next_sibling = CATEGORY_NONE;
        if (nd->id == NULL || nd->slug == NULL || nd->name == NULL) {
            cat_snapshot_release(s);
            return NULL;
        }
        table_put(s->by_id, s->mask, s->nodes, i, false);
        table_put(s->by_slug, s->mask, s->nodes, i, true);
    }
    for (size_t i = 0; i < n; ++i)
        s->nodes[i].parent = cat_find_id(s, s->nodes[i].parent_id);
    /* Break cycles and over-deep chains: walk up at most n steps; a node whose chain does
     * not end at a root within CATEGORY_MAX_DEPTH*4 steps is made a root. */
    for (size_t i = 0; i < n; ++i) {
        size_t steps = 0, p = s->nodes[i].parent;
        while (p != CATEGORY_NONE && steps <= n && steps < CATEGORY_MAX_DEPTH * 4) {
            if (p == i)
                break;
            p = s->nodes[p].parent;
            ++steps;
        }
        if (p != CATEGORY_NONE)
            s->nodes[i].parent = CATEGORY_NONE;
    }
    /* Link children in list order (already sorted), back to front so each insert is O(1). */
    size_t last_root = CATEGORY_NONE;
    for (size_t k = n; k-- > 0;) {
        cat_node_t *nd = &s->nodes[k];
        if (nd->parent == CATEGORY_NONE) {
            nd->next_sibling = last_root;
            last_root = k;
        } else {
            nd->next_sibling = s->nodes[nd->parent].first_child;
            s->nodes[nd->parent].first_child = k;
        }
    }
    s->first_root = last_root;
    for (size_t i = 0; i < n; ++i) {
        unsigned d = 1;
        for (size_t p = s->nodes[i].parent; p != CATEGORY_NONE; p = s->nodes[p].parent)
            ++d;
        s->nodes[i].depth = d;
    }
    return s;
}

void cat_snapshot_retain(cat_snapshot_t *s)
{
    ++s->refcnt;
}

void cat_snapshot_release(cat_snapshot_t *s)
{
    if (s == NULL || --s->refcnt > 0)
        return;
    json_decref(s->list);
    free(s->nodes);
    free(s->by_id);
    free(s->by_slug);
    free(s);
}

/* Appends idx (a copy of its object with "children") and its subtree to out. Depth is
 * bounded by the cycle breaking in cat_snapshot_build. */
static void tree_append(const cat_snapshot_t *s, size_t idx, bool active_only, json_t *out)
{
    const cat_node_t *nd = &s->nodes[idx];
    if (active_only && !nd->active)
        return;
    json_t *o = json_copy(nd->obj);
    json_t *children = json_array();
    for (size_t c = nd->first_child; c != CATEGORY_NONE; c = s->nodes[c].next_sibling)
        tree_append(s, c, active_only, children);
    json_object_set_new(o, "children", children);
    json_array_append_new(out, o);
}

json_t *cat_tree_json(const cat_snapshot_t *s, bool active_only, size_t root)
{
    json_t *out = json_array();
    if (root != CATEGORY_NONE) {
        tree_append(s, root, active_only, out);
        return out;
    }
    for (size_t r = s->first_root; r != CATEGORY_NONE; r = s->nodes[r].next_sibling)
        tree_append(s, r, active_only, out);
    return out;
}

json_t *cat_ancestors_json(const cat_snapshot_t *s, size_t idx, bool include_self)
{
    size_t chain[CATEGORY_MAX_DEPTH * 4 + 2], k = 0;
    size_t p = include_self ? idx : s->nodes[idx].parent;
    for (; p != CATEGORY_NONE && k < sizeof(chain) / sizeof(chain[0]); p = s->nodes[p].parent)
        chain[k++] = p;
    json_t *out = json_array();
    while (k-- > 0)
        json_array_append(out, s->nodes[chain[k]].obj);
    return out;
}

static void collect_ids(const cat_snapshot_t *s, size_t idx, json_t *out)
{
    for (size_t c = s->nodes[idx].first_child; c != CATEGORY_NONE; c = s->nodes[c].next_sibling) {
        json_array_append_new(out, json_string(s->nodes[c].id));
        collect_ids(s, c, out);
    }
}

json_t *cat_descendant_ids(const cat_snapshot_t *s, size_t idx)
{
    json_t *out = json_array();
    collect_ids(s, idx, out);
    return out;
}

bool cat_in_subtree(const cat_snapshot_t *s, size_t candidate, size_t of)
{
    for (size_t p = candidate; p != CATEGORY_NONE; p = s->nodes[p].parent)
        if (p == of)
            return true;
    return false;
}

unsigned cat_subtree_height(const cat_snapshot_t *s, size_t idx)
{
    unsigned h = 0;
    for (size_t c = s->nodes[idx].first_child; c != CATEGORY_NONE; c = s->nodes[c].next_sibling) {
        unsigned ch = cat_subtree_height(s, c);
        if (ch > h)
            h = ch;
    }
    return h + 1;
}

size_t cat_child_count(const cat_snapshot_t *s, size_t idx)
{
    size_t n = 0;
    for (size_t c = s->nodes[idx].first_child; c != CATEGORY_NONE; c = s->nodes[c].next_sibling)
        ++n;
    return n;
}
