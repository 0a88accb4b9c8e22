/*
 * OverlappingFieldsCanBeMerged, following graphql-js's algorithm so that conflicts
 * are found and reported identically (same pairs, same nested reasons, same order).
 *
 * Why it needs care: this rule is the classic denial-of-service vector of GraphQL
 * servers — compared naively, repeated fields make it quadratic and nested repeats
 * make it exponential. Three defences:
 *   - graphql-js's memo tables: field maps per selection set, compared fragment pairs;
 *   - a memo of "these two fields do not conflict" keyed by the fields' structural
 *     class (fields whose subtrees are identical and contain no fragment spread share
 *     a class), so identical copies are compared once, however deeply nested;
 *   - a work budget: a document needing more comparisons than the budget is rejected
 *     with one error.
 * Recursion depth follows selection nesting through fragments and is capped.
 */
#include <stdlib.h>
#include <string.h>

#include "gql_print.h"
#include "gql_validate_internal.h"

typedef struct fdef {
    const gql_type *parent;      /* may be NULL */
    const gql_selection *sel;    /* the field selection */
    const gql_field *def;        /* may be NULL */
} fdef;

typedef struct fgroup {
    gql_str key;
    fdef *items;
    uint32_t n, cap;
} fgroup;

typedef struct fieldmap {
    fgroup *groups;
    uint32_t n, cap;
    /* fragment names in first-seen order (the spread that names them first) */
    const gql_spread_node **frags;
    uint32_t nfrags, capfrags;
} fieldmap;

typedef struct conflict conflict;
struct conflict {
    gql_str key;
    const char *reason; /* set for a leaf reason */
    conflict **subs;    /* otherwise: sub-conflicts */
    uint32_t nsubs;
    const gql_selection **f1, **f2;
    uint32_t n1, n2;
};

typedef struct clist {
    conflict **items;
    uint32_t n, cap;
} clist;

typedef struct gql_overlap_state {
    gql_arena A;
    fieldmap **maps;   /* per selection set id */
    gql_ptrmap pairs;  /* compared fragment pairs: (id, id) -> 1 + mutually exclusive */
    gql_strmap frag_ids;
    gql_ptrmap no_conflict; /* (class1, class2) -> exclusivity flags known conflict-free */
    gql_ptrmap classes;     /* field selection -> class */
    gql_strmap class_intern;
    uint64_t work;
    int depth;
    uint32_t cap; /* most conflicts a list keeps (the errors that can still be reported) */
    bool exhausted;
    bool reported;
} ostate;

static ostate *ST(gql_vctx *c)
{
    if (!c->overlap) {
        ostate *o = calloc(1, sizeof *o);
        if (!o)
            return NULL;
        gql_arena_init(&o->A, 0);
        o->maps = gql_arena_calloc(&o->A, c->doc->nselection_sets + 1, sizeof *o->maps);
        gql__ptrmap_init(&o->pairs, &o->A);
        gql__strmap_init(&o->frag_ids, &o->A, c->doc->nfragments + 4);
        gql__ptrmap_init(&o->no_conflict, &o->A);
        gql__ptrmap_init(&o->classes, &o->A);
        gql__strmap_init(&o->class_intern, &o->A, 64);
        c->overlap = o;
    }
    return c->overlap;
}

void gql__overlap_free(gql_vctx *c)
{
    if (!c->overlap)
        return;
    gql_arena_free(&c->overlap->A);
    free(c->overlap);
    c->overlap = NULL;
}

static void *oalloc(ostate *o, size_t n)
{
    void *p = gql_arena_alloc(&o->A, n);
    if (!p)
        o->exhausted = true;
    return p;
}

#define GROW(o, arr, n, cap)                                                                                           \
    do {                                                                                                               \
        if ((n) == (cap)) {                                                                                            \
            uint32_t nc = (cap) ? (cap) * 2 : 4;                                                                       \
            void *na = oalloc((o), nc * sizeof *(arr));                                                                \
            if (na && (n))                                                                                             \
                memcpy(na, (arr), (n) * sizeof *(arr));                                                                \
            (arr) = na;                                                                                                \
            (cap) = na ? nc : 0;                                                                                       \
        }                                                                                                              \
    } while (0)

/* ---- field maps (graphql-js getFieldsAndFragmentNames) ------------------------------- */

static void collect_fields(gql_vctx *c, ostate *o, const gql_type *parent, const gql_selection_set *ss, fieldmap *m,
                           int depth)
{
    if (depth > GQL_MAX_NESTING * 2)
        return;
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        if (sel->kind == GQL_SEL_FIELD) {
            const gql_field_node *f = &sel->u.field;
            const gql_field *def = NULL;
            if (parent && (parent->kind == GQL_KIND_OBJECT || parent->kind == GQL_KIND_INTERFACE))
                def = gql_type_field(parent, f->name.s, f->name.len);
            gql_str key = gql_field_response_key(f);
            fgroup *g = NULL;
            for (uint32_t k = 0; k < m->n; k++)
                if (gql_str_eq(m->groups[k].key, key)) {
                    g = &m->groups[k];
                    break;
                }
            if (!g) {
                GROW(o, m->groups, m->n, m->cap);
                if (!m->groups)
                    return;
                g = &m->groups[m->n++];
                memset(g, 0, sizeof *g);
                g->key = key;
            }
            GROW(o, g->items, g->n, g->cap);
            if (!g->items)
                return;
            g->items[g->n++] = (fdef){parent, sel, def};
        } else if (sel->kind == GQL_SEL_SPREAD) {
            bool seen = false;
            for (uint32_t k = 0; k < m->nfrags; k++)
                if (gql_str_eq(m->frags[k]->name, sel->u.spread.name))
                    seen = true;
            if (!seen) {
                GROW(o, m->frags, m->nfrags, m->capfrags);
                if (!m->frags)
                    return;
                m->frags[m->nfrags++] = &sel->u.spread;
            }
        } else {
            const gql_inline_node *in = &sel->u.inl;
            const gql_type *t = in->type_cond ? gql_schema_type(c->s, in->type_cond->name.s, in->type_cond->name.len)
                                              : parent;
            collect_fields(c, o, t, in->sel, m, depth + 1);
        }
    }
}

static fieldmap *fields_and_fragment_names(gql_vctx *c, ostate *o, const gql_type *parent, const gql_selection_set *ss)
{
    if (o->maps[ss->id])
        return o->maps[ss->id];
    fieldmap *m = oalloc(o, sizeof *m);
    if (!m)
        return NULL;
    memset(m, 0, sizeof *m);
    collect_fields(c, o, parent, ss, m, 0);
    o->maps[ss->id] = m;
    return m;
}

static const gql_fragment_node *frag_of(gql_vctx *c, const gql_spread_node *sp)
{
    return sp->fragment >= 0 ? c->doc->fragments[sp->fragment] : NULL;
}

static fieldmap *referenced_fields(gql_vctx *c, ostate *o, const gql_fragment_node *f)
{
    if (o->maps[f->sel->id])
        return o->maps[f->sel->id];
    const gql_type *t = gql_schema_type(c->s, f->type_cond->name.s, f->type_cond->name.len);
    return fields_and_fragment_names(c, o, t, f->sel);
}

/* A stable identity per fragment name (known or not) for the pair memo. */
static const void *frag_id(ostate *o, gql_str name)
{
    void *id = gql__strmap_get(&o->frag_ids, name.s, name.len);
    if (!id) {
        id = oalloc(o, 1);
        if (id)
            gql__strmap_put(&o->frag_ids, name.s, name.len, id);
    }
    return id;
}

static bool pair_has(ostate *o, gql_str a, gql_str b, bool excl)
{
    const void *ia = frag_id(o, a), *ib = frag_id(o, b);
    if (ia > ib) {
        const void *t = ia;
        ia = ib;
        ib = t;
    }
    uintptr_t v;
    if (!gql__ptrmap_get(&o->pairs, ia, ib, &v))
        return false;
    return excl ? true : (v - 1) == 0;
}

static void pair_add(ostate *o, gql_str a, gql_str b, bool excl)
{
    const void *ia = frag_id(o, a), *ib = frag_id(o, b);
    if (ia > ib) {
        const void *t = ia;
        ia = ib;
        ib = t;
    }
    gql__ptrmap_put(&o->pairs, ia, ib, (uintptr_t)excl + 1);
}

/* ---- comparisons ------------------------------------------------------------------- */

static void list_push(ostate *o, clist *l, conflict *x)
{
    if (!x)
        return;
    GROW(o, l->items, l->n, l->cap);
    if (l->items)
        l->items[l->n++] = x;
}

static conflict *find_conflict(gql_vctx *c, ostate *o, bool parent_excl, gql_str key, const fdef *a, const fdef *b);
static const void *field_class(gql_vctx *c, ostate *o, const fdef *f, int depth);

static bool budget_exceeded(gql_vctx *c, ostate *o)
{
    if (++o->work > c->overlap_budget)
        o->exhausted = true;
    return o->exhausted;
}

/* A list is full once it holds as many conflicts as could still be reported
 * (graphql-js stops at its error limit too); nested reason lists share the cap. */
static inline bool full(const ostate *o, const clist *l)
{
    return l->n >= o->cap;
}

/* Distinct structural classes of a group's fields (NULL when a field has none). */
typedef struct fclass {
    const void *cls;
    uint32_t rep; /* index of a member */
    uint32_t count;
} fclass;

static fclass *group_classes(gql_vctx *c, ostate *o, const fgroup *g, uint32_t *n)
{
    fclass *v = oalloc(o, (g->n + 1) * sizeof *v);
    gql_ptrmap seen;
    gql__ptrmap_init(&seen, &o->A);
    *n = 0;
    if (!v)
        return NULL;
    for (uint32_t i = 0; i < g->n; i++) {
        const void *k = field_class(c, o, &g->items[i], 0);
        if (!k)
            return NULL;
        uintptr_t at;
        if (gql__ptrmap_get(&seen, k, NULL, &at)) {
            v[at].count++;
            continue;
        }
        gql__ptrmap_put(&seen, k, NULL, *n);
        v[*n].cls = k;
        v[*n].rep = i;
        v[*n].count = 1;
        (*n)++;
    }
    return v;
}

/* Whether no pair of fields from g1 × g2 (or within g1 when g2 is NULL) can
 * conflict, decided with one comparison per pair of structural classes. */
static bool classes_clear(gql_vctx *c, ostate *o, bool excl, const fgroup *g1, const fgroup *g2)
{
    uint32_t n1, n2 = 0;
    fclass *c1 = group_classes(c, o, g1, &n1);
    fclass *c2 = g2 ? group_classes(c, o, g2, &n2) : NULL;
    if (!c1 || (g2 && !c2))
        return false;
    if (!g2) {
        for (uint32_t i = 0; i < n1; i++)
            for (uint32_t j = i; j < n1; j++) {
                if (i == j && c1[i].count < 2)
                    continue;
                const fdef *b = &g1->items[c1[j].rep];
                if (i == j) { /* two members of one class */
                    for (uint32_t k = 0; k < g1->n; k++)
                        if (k != c1[i].rep && field_class(c, o, &g1->items[k], 0) == c1[i].cls) {
                            b = &g1->items[k];
                            break;
                        }
                }
                if (find_conflict(c, o, false, g1->key, &g1->items[c1[i].rep], b) || o->exhausted)
                    return false;
            }
        return true;
    }
    for (uint32_t i = 0; i < n1; i++)
        for (uint32_t j = 0; j < n2; j++)
            if (find_conflict(c, o, excl, g1->key, &g1->items[c1[i].rep], &g2->items[c2[j].rep]) || o->exhausted)
                return false;
    return true;
}

/* Groups small enough are compared pair by pair directly. */
#define CLASS_SHORTCUT_MIN 8

static void collect_within(gql_vctx *c, ostate *o, clist *out, fieldmap *m)
{
    for (uint32_t g = 0; g < m->n && !o->exhausted && !full(o, out); g++) {
        fgroup *gr = &m->groups[g];
        if (gr->n < 2)
            continue;
        if (gr->n >= CLASS_SHORTCUT_MIN && classes_clear(c, o, false, gr, NULL))
            continue;
        for (uint32_t i = 0; i < gr->n && !full(o, out) && !o->exhausted; i++)
            for (uint32_t j = i + 1; j < gr->n && !full(o, out) && !o->exhausted; j++)
                list_push(o, out, find_conflict(c, o, false, gr->key, &gr->items[i], &gr->items[j]));
    }
}

static void collect_between(gql_vctx *c, ostate *o, clist *out, bool excl, fieldmap *m1, fieldmap *m2)
{
    for (uint32_t g = 0; g < m1->n && !o->exhausted && !full(o, out); g++) {
        fgroup *g1 = &m1->groups[g];
        fgroup *g2 = NULL;
        for (uint32_t k = 0; k < m2->n; k++)
            if (gql_str_eq(m2->groups[k].key, g1->key)) {
                g2 = &m2->groups[k];
                break;
            }
        if (!g2)
            continue;
        if ((uint64_t)g1->n * g2->n >= CLASS_SHORTCUT_MIN * CLASS_SHORTCUT_MIN && classes_clear(c, o, excl, g1, g2))
            continue;
        for (uint32_t i = 0; i < g1->n && !full(o, out) && !o->exhausted; i++)
            for (uint32_t j = 0; j < g2->n && !full(o, out) && !o->exhausted; j++)
                list_push(o, out, find_conflict(c, o, excl, g1->key, &g1->items[i], &g2->items[j]));
    }
}

/* graphql-js collectConflictsBetweenFieldsAndFragment(): the fields against a
 * fragment, then against the fragments it spreads (each pair once). graphql-js
 * recurses along the spread chain; an explicit stack keeps the same order without
 * letting a long chain use the machine stack. */
static void between_fields_and_fragment(gql_vctx *c, ostate *o, clist *out, bool excl, fieldmap *m,
                                        const gql_spread_node *sp)
{
    typedef struct frame {
        const gql_spread_node *sp;
        fieldmap *m2;
        uint32_t next;
    } frame;
    const gql_fragment_node *f = frag_of(c, sp);
    if (!f || o->exhausted)
        return;
    fieldmap *m2 = referenced_fields(c, o, f);
    if (!m2 || m == m2)
        return;
    collect_between(c, o, out, excl, m, m2);
    uint32_t cap = 16, top = 0;
    frame *st = malloc(cap * sizeof *st);
    if (!st) {
        o->exhausted = true;
        return;
    }
    st[top++] = (frame){sp, m2, 0};
    while (top && !o->exhausted && !full(o, out)) {
        frame *fr = &st[top - 1];
        if (fr->next >= fr->m2->nfrags) {
            top--;
            continue;
        }
        const gql_spread_node *ref = fr->m2->frags[fr->next++];
        if (pair_has(o, ref->name, fr->sp->name, excl))
            continue;
        pair_add(o, ref->name, fr->sp->name, excl);
        const gql_fragment_node *rf = frag_of(c, ref);
        if (!rf)
            continue;
        fieldmap *m3 = referenced_fields(c, o, rf);
        if (!m3 || m == m3)
            continue;
        if (budget_exceeded(c, o))
            break;
        collect_between(c, o, out, excl, m, m3);
        if (top == cap) {
            cap *= 2;
            frame *ns = realloc(st, cap * sizeof *ns);
            if (!ns) {
                o->exhausted = true;
                break;
            }
            st = ns;
        }
        st[top++] = (frame){ref, m3, 0};
    }
    free(st);
}

static void between_fragments(gql_vctx *c, ostate *o, clist *out, bool excl, const gql_spread_node *s1,
                              const gql_spread_node *s2)
{
    if (gql_str_eq(s1->name, s2->name) || o->exhausted)
        return;
    if (pair_has(o, s1->name, s2->name, excl))
        return;
    pair_add(o, s1->name, s2->name, excl);
    const gql_fragment_node *f1 = frag_of(c, s1), *f2 = frag_of(c, s2);
    if (!f1 || !f2)
        return;
    if (++o->depth > GQL_MAX_NESTING * 4) {
        o->exhausted = true;
        o->depth--;
        return;
    }
    fieldmap *m1 = referenced_fields(c, o, f1);
    fieldmap *m2 = referenced_fields(c, o, f2);
    if (m1 && m2) {
        collect_between(c, o, out, excl, m1, m2);
        for (uint32_t i = 0; i < m2->nfrags && !o->exhausted; i++)
            between_fragments(c, o, out, excl, s1, m2->frags[i]);
        for (uint32_t i = 0; i < m1->nfrags && !o->exhausted; i++)
            between_fragments(c, o, out, excl, m1->frags[i], s2);
    }
    o->depth--;
}

static void between_sub_selection_sets(gql_vctx *c, ostate *o, clist *out, bool excl, const gql_type *p1,
                                       const gql_selection_set *ss1, const gql_type *p2, const gql_selection_set *ss2)
{
    fieldmap *m1 = fields_and_fragment_names(c, o, p1, ss1);
    fieldmap *m2 = fields_and_fragment_names(c, o, p2, ss2);
    if (!m1 || !m2)
        return;
    collect_between(c, o, out, excl, m1, m2);
    for (uint32_t i = 0; i < m2->nfrags && !o->exhausted; i++)
        between_fields_and_fragment(c, o, out, excl, m1, m2->frags[i]);
    for (uint32_t i = 0; i < m1->nfrags && !o->exhausted; i++)
        between_fields_and_fragment(c, o, out, excl, m2, m1->frags[i]);
    for (uint32_t i = 0; i < m1->nfrags && !o->exhausted; i++)
        for (uint32_t j = 0; j < m2->nfrags && !o->exhausted; j++)
            between_fragments(c, o, out, excl, m1->frags[i], m2->frags[j]);
}

/* graphql-js stringifyValue(): print(sortValueNode(value)) — object fields sorted by
 * name (naturalCompare, stable) at every level. */
static void print_sorted(gql_buf *b, const gql_value *v, int depth)
{
    if (depth > GQL_MAX_NESTING + 4)
        return;
    if (v->kind == GQL_VALUE_LIST) {
        gql_buf_putc(b, '[');
        for (uint32_t i = 0; i < v->u.list.n; i++) {
            if (i)
                gql_buf_puts(b, ", ");
            print_sorted(b, v->u.list.items[i], depth + 1);
        }
        gql_buf_putc(b, ']');
        return;
    }
    if (v->kind != GQL_VALUE_OBJECT) {
        gql_print_value(v, b);
        return;
    }
    uint32_t n = v->u.object.n;
    uint32_t *order = malloc((n + 1) * sizeof *order);
    if (!order)
        return;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = i;
        const gql_object_field *f = &v->u.object.fields[i];
        while (j > 0) {
            const gql_object_field *g = &v->u.object.fields[order[j - 1]];
            if (gql__natural_compare(g->name.s, g->name.len, f->name.s, f->name.len) <= 0)
                break;
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    gql_buf_putc(b, '{');
    for (uint32_t i = 0; i < n; i++) {
        const gql_object_field *f = &v->u.object.fields[order[i]];
        if (i)
            gql_buf_puts(b, ", ");
        gql_buf_append(b, f->name.s, f->name.len);
        gql_buf_puts(b, ": ");
        print_sorted(b, f->value, depth + 1);
    }
    gql_buf_putc(b, '}');
    free(order);
}

static bool same_value(const gql_value *a, const gql_value *b)
{
    gql_buf x, y;
    gql_buf_init(&x, 0);
    gql_buf_init(&y, 0);
    print_sorted(&x, a, 0);
    print_sorted(&y, b, 0);
    bool eq = x.len == y.len && (x.len == 0 || memcmp(x.data, y.data, x.len) == 0);
    gql_buf_free(&x);
    gql_buf_free(&y);
    return eq;
}

static bool same_arguments(const gql_field_node *a, const gql_field_node *b)
{
    if (a->nargs == 0)
        return b->nargs == 0;
    if (b->nargs == 0 || a->nargs != b->nargs)
        return false;
    for (uint32_t i = 0; i < a->nargs; i++) {
        const gql_value *v2 = NULL;
        for (uint32_t j = 0; j < b->nargs; j++) /* Map: the last argument of a name wins */
            if (gql_str_eq(b->args[j].name, a->args[i].name))
                v2 = b->args[j].value;
        if (!v2 || !same_value(a->args[i].value, v2))
            return false;
    }
    return true;
}

static bool types_conflict(const gql_type *t1, const gql_type *t2)
{
    for (;;) {
        if (t1->kind == GQL_KIND_LIST) {
            if (t2->kind != GQL_KIND_LIST)
                return true;
            t1 = t1->of;
            t2 = t2->of;
            continue;
        }
        if (t2->kind == GQL_KIND_LIST)
            return true;
        if (t1->kind == GQL_KIND_NON_NULL) {
            if (t2->kind != GQL_KIND_NON_NULL)
                return true;
            t1 = t1->of;
            t2 = t2->of;
            continue;
        }
        if (t2->kind == GQL_KIND_NON_NULL)
            return true;
        if (gql_is_leaf_type(t1) || gql_is_leaf_type(t2))
            return t1 != t2;
        return false;
    }
}

static conflict *leaf_conflict(ostate *o, gql_str key, const char *reason, const fdef *a, const fdef *b)
{
    conflict *x = oalloc(o, sizeof *x);
    if (!x)
        return NULL;
    memset(x, 0, sizeof *x);
    x->key = key;
    x->reason = reason;
    x->f1 = oalloc(o, sizeof *x->f1);
    x->f2 = oalloc(o, sizeof *x->f2);
    if (!x->f1 || !x->f2)
        return NULL;
    x->f1[0] = a->sel;
    x->f2[0] = b->sel;
    x->n1 = x->n2 = 1;
    return x;
}

/* ---- structural classes: identical spread-free fields share one ----------------------- */

/* Returns a class pointer for a field, or NULL when its subtree contains a spread
 * (the comparison then depends on fragment memo state and is not memoised). */
static const void *field_class(gql_vctx *c, ostate *o, const fdef *f, int depth);

static const void *selection_set_signature(gql_vctx *c, ostate *o, const gql_type *parent,
                                           const gql_selection_set *ss, gql_buf *sig, int depth)
{
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        if (sel->kind == GQL_SEL_SPREAD)
            return NULL;
        if (sel->kind == GQL_SEL_INLINE) {
            const gql_inline_node *in = &sel->u.inl;
            const gql_type *t = in->type_cond ? gql_schema_type(c->s, in->type_cond->name.s, in->type_cond->name.len)
                                              : parent;
            gql_buf_printf(sig, "{%p:", (const void *)t);
            if (!selection_set_signature(c, o, t, in->sel, sig, depth + 1))
                return NULL;
            gql_buf_putc(sig, '}');
            continue;
        }
        const gql_field_node *fn = &sel->u.field;
        const gql_field *def = NULL;
        if (parent && (parent->kind == GQL_KIND_OBJECT || parent->kind == GQL_KIND_INTERFACE))
            def = gql_type_field(parent, fn->name.s, fn->name.len);
        fdef sub = {parent, sel, def};
        const void *cls = field_class(c, o, &sub, depth + 1);
        if (!cls)
            return NULL;
        gql_str key = gql_field_response_key(fn);
        gql_buf_append(sig, key.s, key.len);
        gql_buf_printf(sig, "=%p,", cls);
    }
    return sig;
}

static const void *field_class(gql_vctx *c, ostate *o, const fdef *f, int depth)
{
    uintptr_t v;
    if (gql__ptrmap_get(&o->classes, f->sel, f->parent, &v))
        return (const void *)v;
    if (depth > GQL_MAX_NESTING * 2)
        return NULL;
    const gql_field_node *fn = &f->sel->u.field;
    if (fn->sel && fn->sel->has_spread) {
        gql__ptrmap_put(&o->classes, f->sel, f->parent, 0);
        return NULL;
    }
    gql_buf sig;
    gql_buf_init(&sig, 1 << 20);
    gql_buf_printf(&sig, "%p|%p|", (const void *)f->parent, (const void *)f->def);
    gql_buf_append(&sig, fn->name.s, fn->name.len);
    gql_buf_putc(&sig, '(');
    for (uint32_t i = 0; i < fn->nargs; i++) {
        gql_buf_append(&sig, fn->args[i].name.s, fn->args[i].name.len);
        gql_buf_putc(&sig, ':');
        print_sorted(&sig, fn->args[i].value, 0);
        gql_buf_putc(&sig, ',');
    }
    gql_buf_putc(&sig, ')');
    const void *result = NULL;
    bool ok = true;
    if (fn->sel) {
        const gql_type *t = f->def ? gql_named_type(f->def->type) : NULL;
        gql_buf_putc(&sig, '{');
        ok = selection_set_signature(c, o, t, fn->sel, &sig, depth) != NULL;
        gql_buf_putc(&sig, '}');
    }
    if (ok && !sig.overflow) {
        result = gql__strmap_get(&o->class_intern, sig.data, sig.len);
        if (!result) {
            char *key = gql_arena_strndup(&o->A, sig.data, sig.len);
            void *cls = oalloc(o, 1);
            if (key && cls) {
                gql__strmap_put(&o->class_intern, key, sig.len, cls);
                result = cls;
            }
        }
    }
    gql_buf_free(&sig);
    gql__ptrmap_put(&o->classes, f->sel, f->parent, (uintptr_t)result);
    return result;
}

static conflict *find_conflict(gql_vctx *c, ostate *o, bool parent_excl, gql_str key, const fdef *a, const fdef *b)
{
    if (budget_exceeded(c, o))
        return NULL;
    const gql_field_node *n1 = &a->sel->u.field, *n2 = &b->sel->u.field;
    bool excl = parent_excl || (a->parent != b->parent && a->parent && b->parent &&
                                a->parent->kind == GQL_KIND_OBJECT && b->parent->kind == GQL_KIND_OBJECT);
    /* memo: two spread-free field classes already known not to conflict */
    const void *c1 = field_class(c, o, a, 0), *c2 = c1 ? field_class(c, o, b, 0) : NULL;
    if (c1 && c2) {
        const void *k1 = c1 < c2 ? c1 : c2, *k2 = c1 < c2 ? c2 : c1;
        uintptr_t v;
        if (gql__ptrmap_get(&o->no_conflict, k1, k2, &v) && (v & (excl ? 2 : 1)))
            return NULL;
    }
    conflict *result = NULL;
    if (!excl) {
        if (!gql_str_eq(n1->name, n2->name)) {
            char *r = gql_arena_printf(&o->A, "\"%.*s\" and \"%.*s\" are different fields", (int)n1->name.len,
                                       n1->name.s, (int)n2->name.len, n2->name.s);
            return leaf_conflict(o, key, r, a, b);
        }
        if (!same_arguments(n1, n2))
            return leaf_conflict(o, key, "they have differing arguments", a, b);
    }
    const gql_type *t1 = a->def ? a->def->type : NULL, *t2 = b->def ? b->def->type : NULL;
    if (t1 && t2 && types_conflict(t1, t2)) {
        gql_buf m;
        gql_buf_init(&m, 0);
        gql_buf_puts(&m, "they return conflicting types \"");
        gql_type_print(&m, t1);
        gql_buf_puts(&m, "\" and \"");
        gql_type_print(&m, t2);
        gql_buf_puts(&m, "\"");
        char *r = gql_arena_strndup(&o->A, m.data ? m.data : "", m.len);
        gql_buf_free(&m);
        return leaf_conflict(o, key, r, a, b);
    }
    if (n1->sel && n2->sel) {
        if (++o->depth > GQL_MAX_NESTING * 4) {
            o->exhausted = true;
            o->depth--;
            return NULL;
        }
        clist sub = {NULL, 0, 0};
        between_sub_selection_sets(c, o, &sub, excl, gql_named_type(t1), n1->sel, gql_named_type(t2), n2->sel);
        o->depth--;
        if (sub.n) {
            result = oalloc(o, sizeof *result);
            if (!result)
                return NULL;
            memset(result, 0, sizeof *result);
            result->key = key;
            result->subs = sub.items;
            result->nsubs = sub.n;
            uint32_t n1c = 1, n2c = 1;
            for (uint32_t i = 0; i < sub.n; i++) {
                n1c += sub.items[i]->n1;
                n2c += sub.items[i]->n2;
            }
            result->f1 = oalloc(o, n1c * sizeof *result->f1);
            result->f2 = oalloc(o, n2c * sizeof *result->f2);
            if (!result->f1 || !result->f2)
                return NULL;
            result->f1[result->n1++] = a->sel;
            result->f2[result->n2++] = b->sel;
            for (uint32_t i = 0; i < sub.n; i++) {
                memcpy(result->f1 + result->n1, sub.items[i]->f1, sub.items[i]->n1 * sizeof *result->f1);
                result->n1 += sub.items[i]->n1;
                memcpy(result->f2 + result->n2, sub.items[i]->f2, sub.items[i]->n2 * sizeof *result->f2);
                result->n2 += sub.items[i]->n2;
            }
        }
    }
    if (!result && c1 && c2 && !o->exhausted) {
        const void *k1 = c1 < c2 ? c1 : c2, *k2 = c1 < c2 ? c2 : c1;
        uintptr_t v = 0;
        gql__ptrmap_get(&o->no_conflict, k1, k2, &v);
        gql__ptrmap_put(&o->no_conflict, k1, k2, v | (excl ? 2 : 1));
    }
    return result;
}

/* ---- reporting ------------------------------------------------------------------------ */

static void reason_message(gql_buf *m, const conflict *x, int depth)
{
    if (x->reason || depth > GQL_MAX_NESTING * 4) {
        gql_buf_puts(m, x->reason ? x->reason : "");
        return;
    }
    for (uint32_t i = 0; i < x->nsubs; i++) {
        if (i)
            gql_buf_puts(m, " and ");
        gql_buf_puts(m, "subfields \"");
        gql_buf_append(m, x->subs[i]->key.s, x->subs[i]->key.len);
        gql_buf_puts(m, "\" conflict because ");
        reason_message(m, x->subs[i], depth + 1);
    }
}

void gql__overlap_check(gql_vctx *c, const gql_type *parent, const gql_selection_set *ss)
{
    ostate *o = ST(c);
    if (!o || !o->maps)
        return;
    if (o->exhausted) {
        return;
    }
    clist out = {NULL, 0, 0};
    o->cap = c->max_errors > c->nerrors ? c->max_errors - c->nerrors + 1 : 1;
    fieldmap *m = fields_and_fragment_names(c, o, parent, ss);
    if (!m)
        return;
    collect_within(c, o, &out, m);
    for (uint32_t i = 0; i < m->nfrags && !o->exhausted; i++) {
        between_fields_and_fragment(c, o, &out, false, m, m->frags[i]);
        for (uint32_t j = i + 1; j < m->nfrags && !o->exhausted; j++)
            between_fragments(c, o, &out, false, m->frags[i], m->frags[j]);
    }
    if (o->exhausted) {
        if (!o->reported) {
            o->reported = true;
            gql_buf_reset(&c->m);
            gql_buf_puts(&c->m, "The document is too complex to check that its fields can be merged.");
            gql__v_emit(c, &ss->loc, 1);
        }
        return;
    }
    for (uint32_t i = 0; i < out.n; i++) {
        conflict *x = out.items[i];
        gql_buf_reset(&c->m);
        gql_buf_puts(&c->m, "Fields \"");
        gql_buf_append(&c->m, x->key.s, x->key.len);
        gql_buf_puts(&c->m, "\" conflict because ");
        reason_message(&c->m, x, 0);
        gql_buf_puts(&c->m, ". Use different aliases on the fields to fetch both if this was intentional.");
        uint32_t n = x->n1 + x->n2;
        /* arena memory: gql__v_emit() may longjmp out when the error limit is hit */
        uint32_t *locs = gql_arena_alloc(&c->A, (n + 1) * sizeof *locs);
        if (!locs)
            continue;
        for (uint32_t k = 0; k < x->n1; k++)
            locs[k] = x->f1[k]->loc;
        for (uint32_t k = 0; k < x->n2; k++)
            locs[x->n1 + k] = x->f2[k]->loc;
        gql__v_emit(c, locs, n);
    }
}
