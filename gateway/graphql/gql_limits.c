/*
 * Operation measurements for gql_limits (see gql_limits.h).
 *
 * One recursive walk over the selections of the operation; a fragment's numbers are
 * computed once and reused at every spread (memoised per fragment), so the walk is
 * linear in the document although the measured quantities count every expansion.
 * Arithmetic saturates. Recursion follows syntax inside one definition (bounded by
 * the parser) and fragment spreads (bounded by an explicit depth cap; cycles, which
 * validation rejects anyway, count as zero).
 */
#include <stdlib.h>
#include <string.h>

#include "gql_limits.h"
#include "gql_schema_internal.h"

#define SAT_MAX (UINT64_MAX / 4)

static uint64_t sat_add(uint64_t a, uint64_t b)
{
    return a > SAT_MAX - b ? SAT_MAX : a + b;
}

static uint64_t sat_mul(uint64_t a, uint64_t b)
{
    if (a == 0 || b == 0)
        return 0;
    return a > SAT_MAX / b ? SAT_MAX : a * b;
}

/* `cost` is what a selection set costs; `ucost` is the cost of the sub-selections of its
 * list fields that have no size argument of their own, still to be multiplied by the
 * size the enclosing field gives them (a connection's `first` sizes its `edges` and
 * `nodes`) or by the default list size. Keeping the two apart keeps a fragment's
 * measure independent of where it is spread, so it can be memoised. */
typedef struct measure {
    uint32_t depth;
    uint64_t aliases;
    uint64_t directives;
    uint64_t cost;
    uint64_t ucost;
} measure;

typedef struct mctx {
    const gql_schema *s;
    const gql_document *doc;
    json_t *vars;
    const gql_limits *l;
    measure *frag_m;
    uint8_t *frag_state; /* 0 unknown, 1 in progress, 2 done */
    int rec;
    bool too_deep;
} mctx;

static const char *const default_size_args[] = {"first", "last", "limit"};

/* The size a field asks for with a size argument (literal, variable or the argument's
 * default): true with *size, or false when it has none. */
static bool size_arg(mctx *m, const gql_field *def, const gql_field_node *f, uint64_t *size)
{
    const char *const *names = m->l->size_args ? m->l->size_args : default_size_args;
    uint32_t n = m->l->size_args ? m->l->nsize_args : 3;
    for (uint32_t k = 0; k < n; k++) {
        const gql_input_value *ad = def ? gql_field_arg(def, names[k], strlen(names[k])) : NULL;
        if (!ad)
            continue;
        for (uint32_t i = 0; i < f->nargs; i++) {
            if (!gql_str_eqc(f->args[i].name, names[k]))
                continue;
            const gql_value *v = f->args[i].value;
            if (v->kind == GQL_VALUE_INT) {
                double d = gql__parse_int_text(v->u.str.s, v->u.str.len);
                *size = d < 0 ? 0 : d > 1e15 ? (uint64_t)1e15 : (uint64_t)d;
                return true;
            }
            if (v->kind == GQL_VALUE_VARIABLE && m->vars) {
                json_t *x = json_object_getn(m->vars, v->u.str.s, v->u.str.len);
                if (json_is_integer(x)) {
                    *size = json_integer_value(x) < 0 ? 0 : (uint64_t)json_integer_value(x);
                    return true;
                }
                if (json_is_real(x) && json_real_value(x) >= 0) {
                    *size = json_real_value(x) > 1e15 ? (uint64_t)1e15 : (uint64_t)json_real_value(x);
                    return true;
                }
            }
        }
        if (ad->has_default && json_is_integer(ad->default_value)) {
            *size = json_integer_value(ad->default_value) < 0 ? 0 : (uint64_t)json_integer_value(ad->default_value);
            return true;
        }
    }
    return false;
}

static uint64_t default_size(const mctx *m)
{
    return m->l->default_list_size ? m->l->default_list_size : 10;
}

static bool is_list_type(const gql_type *t)
{
    return gql_nullable_type(t)->kind == GQL_KIND_LIST;
}

static measure measure_set(mctx *m, const gql_type *parent, const gql_selection_set *ss);

static measure measure_fragment(mctx *m, int32_t fi)
{
    measure zero = {0, 0, 0, 0, 0};
    if (fi < 0)
        return zero;
    if (m->frag_state[fi] == 2)
        return m->frag_m[fi];
    if (m->frag_state[fi] == 1)
        return zero; /* a cycle: validation reports it */
    m->frag_state[fi] = 1;
    const gql_fragment_node *f = m->doc->fragments[fi];
    const gql_type *t = gql_schema_type(m->s, f->type_cond->name.s, f->type_cond->name.len);
    measure r = measure_set(m, t, f->sel);
    r.directives = sat_add(r.directives, f->ndirs);
    m->frag_m[fi] = r;
    m->frag_state[fi] = 2;
    return r;
}

static void combine(measure *into, measure x)
{
    if (x.depth > into->depth)
        into->depth = x.depth;
    into->aliases = sat_add(into->aliases, x.aliases);
    into->directives = sat_add(into->directives, x.directives);
    into->cost = sat_add(into->cost, x.cost);
    into->ucost = sat_add(into->ucost, x.ucost);
}

static measure measure_set(mctx *m, const gql_type *parent, const gql_selection_set *ss)
{
    measure r = {0, 0, 0, 0, 0};
    if (++m->rec > GQL_MAX_NESTING * 8) {
        m->too_deep = true;
        m->rec--;
        return r;
    }
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        if (sel->kind == GQL_SEL_FIELD) {
            const gql_field_node *f = &sel->u.field;
            bool meta = f->name.len >= 2 && f->name.s[0] == '_' && f->name.s[1] == '_';
            const gql_field *def = NULL;
            if (parent && (parent->kind == GQL_KIND_OBJECT || parent->kind == GQL_KIND_INTERFACE))
                def = gql_type_field(parent, f->name.s, f->name.len);
            if (gql_str_eqc(f->name, "__schema"))
                def = &m->s->f_schema;
            else if (gql_str_eqc(f->name, "__type"))
                def = &m->s->f_type;
            measure x = {1, f->alias.s ? 1 : 0, f->ndirs, 1, 0};
            if (meta && m->l->ignore_introspection) {
                x.depth = 0;
                x.cost = 0;
                /* __typename is no introspection query: aliased thousands of times it is
                 * an alias bomb like any other */
                if (!gql_str_eqc(f->name, "__typename"))
                    x.aliases = 0;
            } else if (f->sel) {
                const gql_type *t = def ? gql_named_type(def->type) : NULL;
                measure sub = measure_set(m, t, f->sel);
                bool list = def && is_list_type(def->type);
                uint64_t size = 0;
                bool sized = def && size_arg(m, def, f, &size);
                /* A sized object (a connection: products(first: 50)) sizes the list
                 * fields right below it that have no size of their own (edges, nodes). */
                uint64_t inner = sat_add(sub.cost, sat_mul(!list && sized ? size : default_size(m), sub.ucost));
                x.depth = sub.depth + 1;
                x.aliases = sat_add(x.aliases, sub.aliases);
                x.directives = sat_add(x.directives, sub.directives);
                if (list && sized)
                    x.cost = sat_add(1, sat_mul(size, inner));
                else if (list)
                    x.ucost = inner; /* sized by the enclosing field, or the default */
                else
                    x.cost = sat_add(1, inner);
            }
            combine(&r, x);
        } else if (sel->kind == GQL_SEL_INLINE) {
            const gql_inline_node *in = &sel->u.inl;
            const gql_type *t = in->type_cond ? gql_schema_type(m->s, in->type_cond->name.s, in->type_cond->name.len)
                                              : parent;
            measure x = measure_set(m, t, in->sel);
            x.directives = sat_add(x.directives, in->ndirs);
            combine(&r, x);
        } else {
            measure x = measure_fragment(m, sel->u.spread.fragment);
            x.directives = sat_add(x.directives, sel->u.spread.ndirs);
            combine(&r, x);
        }
    }
    m->rec--;
    return r;
}

/* Fields selected directly on the root type, through inline fragments and spreads
 * (each fragment once). */
static uint64_t count_root_fields(const gql_document *doc, const gql_selection_set *ss, uint8_t *seen, int depth)
{
    uint64_t n = 0;
    if (depth > GQL_MAX_NESTING * 8)
        return 0;
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        if (sel->kind == GQL_SEL_FIELD)
            n++;
        else if (sel->kind == GQL_SEL_INLINE)
            n = sat_add(n, count_root_fields(doc, sel->u.inl.sel, seen, depth + 1));
        else if (sel->u.spread.fragment >= 0 && !seen[sel->u.spread.fragment]) {
            seen[sel->u.spread.fragment] = 1;
            n = sat_add(n, count_root_fields(doc, doc->fragments[sel->u.spread.fragment]->sel, seen, depth + 1));
        }
    }
    return n;
}

static uint32_t clamp32(uint64_t v)
{
    return v > UINT32_MAX ? UINT32_MAX : (uint32_t)v;
}

uint32_t gql_limits_check(const gql_schema *s, const gql_document *doc, const char *operation_name, json_t *variables,
                          const gql_limits *limits, gql_operation_stats *stats, gql_errors *errors)
{
    gql_limits none;
    memset(&none, 0, sizeof none);
    if (!limits)
        limits = &none;
    const gql_definition *opdef = NULL;
    for (uint32_t i = 0; i < doc->ndefs; i++) {
        const gql_definition *d = &doc->defs[i];
        if (d->kind != GQL_DEF_OPERATION)
            continue;
        if (!operation_name ? !opdef : (d->u.op.name.s && gql_str_eqc(d->u.op.name, operation_name)))
            opdef = d;
    }
    gql_operation_stats st;
    memset(&st, 0, sizeof st);
    st.tokens = doc->ntokens;
    uint32_t n = 0;
    if (opdef) {
        const gql_operation_node *op = &opdef->u.op;
        mctx m;
        memset(&m, 0, sizeof m);
        m.s = s;
        m.doc = doc;
        m.vars = variables;
        m.l = limits;
        m.frag_m = calloc(doc->nfragments + 1, sizeof *m.frag_m);
        m.frag_state = calloc(doc->nfragments + 1, 1);
        if (!m.frag_m || !m.frag_state) {
            free(m.frag_m);
            free(m.frag_state);
            gql_errors_add(errors, "Out of memory while measuring the operation.");
            return 1;
        }
        const gql_type *root = gql_schema_root_type(s, (gql_operation_type)op->operation);
        measure r = measure_set(&m, root, op->sel);
        free(m.frag_m);
        free(m.frag_state);
        st.depth = r.depth;
        st.aliases = clamp32(r.aliases);
        st.directives = clamp32(sat_add(r.directives, op->ndirs));
        st.cost = sat_add(r.cost, sat_mul(default_size(&m), r.ucost));
        uint8_t *seen = calloc(doc->nfragments + 1, 1);
        if (seen)
            st.root_fields = clamp32(count_root_fields(doc, op->sel, seen, 0));
        free(seen);
        if (m.too_deep) {
            gql_error *e = gql_errors_add(errors, "The query nests fragments too deeply to be measured.");
            gql_error_add_location(errors, e, &doc->source, opdef->loc);
            n++;
        }
    }
    const uint32_t loc = opdef ? opdef->loc : 0;
#define LIMIT_ERROR(...)                                                                                               \
    do {                                                                                                               \
        gql_error *e = gql_errors_addf(errors, __VA_ARGS__);                                                           \
        if (opdef)                                                                                                     \
            gql_error_add_location(errors, e, &doc->source, loc);                                                      \
        n++;                                                                                                           \
    } while (0)
    if (limits->max_tokens && st.tokens > limits->max_tokens)
        LIMIT_ERROR("The document has %u tokens, more than the maximum of %u.", st.tokens, limits->max_tokens);
    if (limits->max_depth && st.depth > limits->max_depth)
        LIMIT_ERROR("The query is too deep: depth %u exceeds the maximum of %u.", st.depth, limits->max_depth);
    if (limits->max_aliases && st.aliases > limits->max_aliases)
        LIMIT_ERROR("The query uses %u aliases, more than the maximum of %u.", st.aliases, limits->max_aliases);
    if (limits->max_directives && st.directives > limits->max_directives)
        LIMIT_ERROR("The query uses %u directives, more than the maximum of %u.", st.directives, limits->max_directives);
    if (limits->max_root_fields && st.root_fields > limits->max_root_fields)
        LIMIT_ERROR("The query selects %u root fields, more than the maximum of %u.", st.root_fields,
                    limits->max_root_fields);
    if (limits->max_cost && st.cost > limits->max_cost)
        LIMIT_ERROR("The query is too expensive: estimated cost %llu exceeds the maximum of %llu.",
                    (unsigned long long)st.cost, (unsigned long long)limits->max_cost);
#undef LIMIT_ERROR
    if (stats)
        *stats = st;
    return n;
}
