/*
 * Document validation: one walk over the document that keeps graphql-js's TypeInfo
 * (the types in scope at each node) and calls, at every node, the handlers of every
 * rule in graphql-js's specifiedRules order — which is what makes error order and
 * content identical to graphql-js's visitInParallel(). A rule that returns false in
 * graphql-js (skip this subtree) records the node in `skip[rule]`.
 *
 * Before the walk a lighter pass (mode 1) collects every definition's variable
 * usages with their location types, because operations need the usages of fragments
 * that may be defined after them.
 *
 * Recursion: the walk follows the syntax tree only (depth bounded by the parser);
 * everything that follows fragment spreads is iterative (NoFragmentCycles,
 * recursively referenced fragments) or memoised and bounded (field merging,
 * introspection depth).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "gql_print.h"
#include "gql_validate_internal.h"
#include "gql_values.h"

static const char *const rule_names[GQL_RULE_COUNT] = {
    "ExecutableDefinitions",
    "UniqueOperationNames",
    "LoneAnonymousOperation",
    "SingleFieldSubscriptions",
    "KnownTypeNames",
    "FragmentsOnCompositeTypes",
    "VariablesAreInputTypes",
    "ScalarLeafs",
    "FieldsOnCorrectType",
    "UniqueFragmentNames",
    "KnownFragmentNames",
    "NoUnusedFragments",
    "PossibleFragmentSpreads",
    "NoFragmentCycles",
    "UniqueVariableNames",
    "NoUndefinedVariables",
    "NoUnusedVariables",
    "KnownDirectives",
    "UniqueDirectivesPerLocation",
    "KnownArgumentNames",
    "UniqueArgumentNames",
    "ValuesOfCorrectType",
    "ProvidedRequiredArguments",
    "VariablesInAllowedPosition",
    "OverlappingFieldsCanBeMerged",
    "UniqueInputFieldNames",
    "MaxIntrospectionDepth",
    "NoDeprecatedCustom",
    "NoSchemaIntrospectionCustom",
};

const char *gql_rule_name(gql_rule r)
{
    return (unsigned)r < GQL_RULE_COUNT ? rule_names[r] : "";
}

int gql_rule_by_name(const char *name)
{
    for (int i = 0; i < GQL_RULE_COUNT; i++) {
        size_t n = strlen(rule_names[i]);
        if (strncmp(name, rule_names[i], n) == 0 && (name[n] == 0 || strcmp(name + n, "Rule") == 0))
            return i;
    }
    return -1;
}

/* ---- rule state ---------------------------------------------------------------------- */

typedef struct rule_state {
    /* LoneAnonymousOperation */
    uint32_t operation_count;
    /* UniqueOperationNames, UniqueFragmentNames */
    gql_strmap op_names, frag_names;
    /* NoUnusedFragments */
    const gql_operation_node **ops;
    uint32_t nops;
    const gql_fragment_node **frags;
    uint32_t nfrags;
    /* NoFragmentCycles */
    uint8_t *frag_visited; /* by fragment index */
    /* KnownTypeNames */
    gql_strmap defined_types;
    gql_str *type_names;
    uint32_t ntype_names;
    /* directive definitions of the document (KnownDirectives & co. see them too) */
    gql_strmap doc_directives;
    /* UniqueDirectivesPerLocation */
    gql_strmap type_directives; /* type name -> gql_strmap* */
    gql_strmap schema_directives;
    /* per operation: variable definitions */
    const gql_operation_node *op;
    const gql_variable_def **var_defs; /* VOCT keeps the last operation's */
    uint32_t nvar_defs;
    /* UniqueInputFieldNames: a stack of seen-maps */
    gql_strmap *input_names[GQL_TI_MAX];
    uint32_t ninput_names;
} rule_state;

#define ON(c, r) (((c)->rules >> (r)) & 1 && !(c)->skip[r])

static inline rule_state *RS(gql_vctx *c)
{
    return (rule_state *)c->rs;
}

/* ---- errors ------------------------------------------------------------------------ */

void gql__v_emit(gql_vctx *c, const uint32_t *offsets, uint32_t n)
{
    if (c->nerrors >= c->max_errors) {
        gql_errors_add(c->errs, "Too many validation errors, error limit reached. Validation aborted.");
        c->nerrors++;
        longjmp(c->abort_jb, 1);
    }
    gql_error *e = gql_errors_addn(c->errs, c->m.data ? c->m.data : "", c->m.len);
    for (uint32_t i = 0; i < n; i++)
        gql_error_add_location(c->errs, e, &c->doc->source, offsets[i]);
    c->nerrors++;
}

static gql_buf *msg(gql_vctx *c)
{
    gql_buf_reset(&c->m);
    return &c->m;
}

static void emit1(gql_vctx *c, uint32_t a)
{
    gql__v_emit(c, &a, 1);
}

static void emit2(gql_vctx *c, uint32_t a, uint32_t b)
{
    uint32_t l[2] = {a, b};
    gql__v_emit(c, l, 2);
}

static void put_str(gql_buf *b, gql_str s)
{
    gql_buf_append(b, s.s, s.len);
}

static void put_type(gql_buf *b, const gql_type *t)
{
    gql_type_print(b, t);
}

static void did_you_mean(gql_buf *b, const char *sub, gql_str input, const gql_str *options, uint32_t n)
{
    if (!n)
        return;
    uint32_t *idx = malloc(n * sizeof *idx);
    gql_str *sugg = malloc(n * sizeof *sugg);
    if (idx && sugg) {
        uint32_t k = gql__suggestion_list(input.s, input.len, options, n, idx);
        for (uint32_t i = 0; i < k; i++)
            sugg[i] = options[idx[i]];
        gql__did_you_mean(b, sub, sugg, k);
    }
    free(idx);
    free(sugg);
}

/* ---- fragments ------------------------------------------------------------------------ */

static const gql_fragment_node *spread_fragment(gql_vctx *c, const gql_spread_node *sp)
{
    return sp->fragment >= 0 ? c->doc->fragments[sp->fragment] : NULL;
}

const gql_fragment_node *gql__v_fragment(gql_vctx *c, gql_str name)
{
    for (uint32_t i = 0; i < c->doc->nfragments; i++)
        if (gql_str_eq(c->doc->fragments[i]->name, name))
            return c->doc->fragments[i];
    return NULL;
}

/* Index of the fragment table entry with this fragment's name (rules key by name). */
static uint32_t fragment_index(gql_vctx *c, const gql_fragment_node *f)
{
    for (uint32_t i = 0; i < c->doc->nfragments; i++)
        if (gql_str_eq(c->doc->fragments[i]->name, f->name))
            return i;
    return 0;
}

uint32_t gql__v_fragment_def_loc(gql_vctx *c, const gql_fragment_node *f)
{
    (void)c;
    const gql_definition *d = (const gql_definition *)((const char *)f - offsetof(gql_definition, u));
    return d->loc;
}

/* graphql-js getFragmentSpreads(): a stack walk, so the order is "last child set
 * first". Memoised per selection set. */
const gql_spread_list *gql__v_fragment_spreads(gql_vctx *c, const gql_selection_set *root)
{
    gql_spread_list *l = &c->spreads[root->id];
    if (l->items || !root->has_spread)
        return l;
    uint32_t cap = 8, n = 0, scap = 16, top = 0;
    const gql_spread_node **items = gql_arena_alloc(&c->A, cap * sizeof *items);
    uint32_t *locs = gql_arena_alloc(&c->A, cap * sizeof *locs);
    const gql_selection_set **stack = malloc(scap * sizeof *stack);
    if (!items || !locs || !stack) {
        free(stack);
        return l;
    }
    stack[top++] = root;
    while (top) {
        const gql_selection_set *ss = stack[--top];
        for (uint32_t i = 0; i < ss->n; i++) {
            const gql_selection *sel = &ss->items[i];
            const gql_selection_set *child = NULL;
            if (sel->kind == GQL_SEL_SPREAD) {
                if (n == cap) {
                    const gql_spread_node **ni = gql_arena_alloc(&c->A, cap * 2 * sizeof *ni);
                    uint32_t *nl = gql_arena_alloc(&c->A, cap * 2 * sizeof *nl);
                    if (!ni || !nl)
                        goto done;
                    memcpy(ni, items, n * sizeof *ni);
                    memcpy(nl, locs, n * sizeof *nl);
                    items = ni;
                    locs = nl;
                    cap *= 2;
                }
                items[n] = &sel->u.spread;
                locs[n] = sel->loc;
                n++;
                continue;
            }
            child = sel->kind == GQL_SEL_FIELD ? sel->u.field.sel : sel->u.inl.sel;
            if (!child || !child->has_spread)
                continue;
            if (top == scap) {
                scap *= 2;
                const gql_selection_set **ns = realloc(stack, scap * sizeof *ns);
                if (!ns)
                    goto done;
                stack = ns;
            }
            stack[top++] = child;
        }
    }
done:
    free(stack);
    l->items = items;
    l->locs = locs;
    l->n = n;
    return l;
}

/* graphql-js getRecursivelyReferencedFragments(): fragment indexes in discovery order. */
static uint32_t referenced_fragments(gql_vctx *c, const gql_selection_set *root, uint32_t *out)
{
    uint32_t nf = c->doc->nfragments, n = 0, top = 0;
    if (!nf)
        return 0;
    uint8_t *seen = calloc(nf, 1);
    const gql_selection_set **stack = malloc((nf + 1) * sizeof *stack);
    if (!seen || !stack) {
        free(seen);
        free(stack);
        return 0;
    }
    stack[top++] = root;
    while (top) {
        const gql_spread_list *sl = gql__v_fragment_spreads(c, stack[--top]);
        for (uint32_t i = 0; i < sl->n; i++) {
            int32_t fi = sl->items[i]->fragment;
            /* graphql-js marks names, also of unknown fragments; unknown ones have no index */
            if (fi < 0 || seen[fi])
                continue;
            seen[fi] = 1;
            out[n++] = (uint32_t)fi;
            stack[top++] = c->doc->fragments[fi]->sel;
        }
    }
    free(seen);
    free(stack);
    return n;
}

/* ---- TypeInfo ------------------------------------------------------------------------ */

/* (the stacks cannot overflow for documents the parser accepts; the bounds checks
 * keep that an invariant rather than a memory-safety assumption) */
static inline const gql_type *ti_type(gql_vctx *c)
{
    return c->ntypes && c->ntypes <= GQL_TI_MAX ? c->types[c->ntypes - 1] : NULL;
}
static inline const gql_type *ti_parent(gql_vctx *c)
{
    return c->nparents && c->nparents <= GQL_TI_MAX ? c->parents[c->nparents - 1] : NULL;
}
static inline const gql_type *ti_input(gql_vctx *c)
{
    return c->ninputs && c->ninputs <= GQL_TI_MAX ? c->inputs[c->ninputs - 1] : NULL;
}
static inline const gql_type *ti_parent_input(gql_vctx *c)
{
    return c->ninputs > 1 && c->ninputs <= GQL_TI_MAX ? c->inputs[c->ninputs - 2] : NULL;
}
static inline bool ti_has_default(gql_vctx *c)
{
    return c->ndvs && c->ndvs <= GQL_TI_MAX ? c->dvs[c->ndvs - 1] : false;
}

#define PUSH(arr, n, v)                                                                                                \
    do {                                                                                                               \
        if ((n) < GQL_TI_MAX)                                                                                          \
            (arr)[(n)] = (v);                                                                                          \
        (n)++;                                                                                                         \
    } while (0)
#define POP(n) ((n)--)


/* graphql-js TypeInfo getFieldDef(). */
static const gql_field *field_def(gql_vctx *c, const gql_type *parent, gql_str name)
{
    const gql_schema *s = c->s;
    if (!parent)
        return NULL;
    if (gql_str_eqc(name, "__schema") && parent == s->query)
        return &s->f_schema;
    if (gql_str_eqc(name, "__type") && parent == s->query)
        return &s->f_type;
    if (gql_str_eqc(name, "__typename") && gql_is_composite_type(parent))
        return &s->f_typename;
    if (parent->kind == GQL_KIND_OBJECT || parent->kind == GQL_KIND_INTERFACE)
        return gql_type_field(parent, name.s, name.len);
    return NULL;
}

static void record_usage(gql_vctx *c, const gql_value *v)
{
    gql_usage_list *l = c->collecting;
    if (!l)
        return;
    if (l->n == l->cap) {
        uint32_t cap = l->cap ? l->cap * 2 : 8;
        gql_var_usage *n = gql_arena_alloc(&c->A, cap * sizeof *n);
        if (!n)
            return;
        if (l->n)
            memcpy(n, l->items, l->n * sizeof *n);
        l->items = n;
        l->cap = cap;
    }
    l->items[l->n].node = v;
    l->items[l->n].type = ti_input(c);
    l->items[l->n].has_default = ti_has_default(c);
    l->n++;
}

static void skip_rule(gql_vctx *c, gql_rule r, const void *node)
{
    c->skip[r] = node;
}

static void unskip(gql_vctx *c, const void *node)
{
    for (int r = 0; r < GQL_RULE_COUNT; r++)
        if (c->skip[r] == node)
            c->skip[r] = NULL;
}

/* ---- rules shared helpers ------------------------------------------------------------ */

static const gql_directive_def *schema_or_doc_directive(gql_vctx *c, gql_str name, const gql_directive_def_node **docdef)
{
    *docdef = gql__strmap_get(&RS(c)->doc_directives, name.s, name.len);
    if (*docdef)
        return NULL;
    return gql_schema_directive(c->s, name.s, name.len);
}

/* ValuesOfCorrectType isValidValueNode(). */
static void voct_is_valid(gql_vctx *c, const gql_value *node, const gql_type *loc)
{
    if (!loc)
        return;
    const gql_type *named = gql_named_type(loc);
    gql_buf *m = msg(c);
    if (!gql_is_leaf_type(named)) {
        gql_buf_puts(m, "Expected value of type \"");
        put_type(m, loc);
        gql_buf_puts(m, "\", found ");
        gql_print_value(node, m);
        gql_buf_putc(m, '.');
        emit1(c, node->loc);
        return;
    }
    json_t *v = NULL;
    int rc = gql__parse_literal(c->s, named, node, NULL, &v, m);
    if (v)
        json_decref(v);
    if (rc == 1)
        return;
    if (rc == 0) {
        msg(c);
        gql_buf_puts(m, "Expected value of type \"");
        put_type(m, loc);
        gql_buf_puts(m, "\", found ");
        gql_print_value(node, m);
        gql_buf_putc(m, '.');
    }
    emit1(c, node->loc);
}

/* ---- walk: values ------------------------------------------------------------------- */

static void walk_value(gql_vctx *c, const gql_value *v);

static void walk_object_field(gql_vctx *c, const gql_object_field *f)
{
    /* TypeInfo enter ObjectField */
    const gql_type *object_type = gql_named_type(ti_input(c));
    const gql_input_value *input_field = NULL;
    if (object_type && object_type->kind == GQL_KIND_INPUT_OBJECT)
        input_field = gql_type_input_field(object_type, f->name.s, f->name.len);
    PUSH(c->dvs, c->ndvs, input_field ? input_field->has_default : 0);
    PUSH(c->inputs, c->ninputs, input_field && gql_is_input_type(input_field->type) ? input_field->type : NULL);
    if (c->mode == 0) {
        rule_state *rs = RS(c);
        if (ON(c, GQL_RULE_VALUES_OF_CORRECT_TYPE)) {
            const gql_type *parent = gql_named_type(ti_parent_input(c));
            if (!ti_input(c) && parent && parent->kind == GQL_KIND_INPUT_OBJECT) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Field \"");
                put_str(m, f->name);
                gql_buf_printf(m, "\" is not defined by type \"%s\".", parent->name);
                gql_str *names = malloc((parent->ninput_fields + 1) * sizeof *names);
                if (names) {
                    for (uint32_t i = 0; i < parent->ninput_fields; i++)
                        names[i] = (gql_str){parent->input_fields[i].name, parent->input_fields[i].name_len};
                    did_you_mean(m, NULL, f->name, names, parent->ninput_fields);
                    free(names);
                }
                emit1(c, f->loc);
            }
        }
        if (ON(c, GQL_RULE_UNIQUE_INPUT_FIELD_NAMES) && rs->ninput_names) {
            gql_strmap *known = rs->input_names[rs->ninput_names - 1];
            const gql_object_field *prev = gql__strmap_get(known, f->name.s, f->name.len);
            if (prev) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "There can be only one input field named \"");
                put_str(m, f->name);
                gql_buf_puts(m, "\".");
                emit2(c, prev->loc, f->loc);
            } else {
                gql__strmap_put(known, f->name.s, f->name.len, (void *)f);
            }
        }
        if (ON(c, GQL_RULE_NO_DEPRECATED) && input_field && input_field->deprecation_reason) {
            gql_buf *m = msg(c);
            gql_buf_printf(m, "The input field %s.%s is deprecated. %s", object_type->name, input_field->name,
                           input_field->deprecation_reason);
            emit1(c, f->loc);
        }
    }
    walk_value(c, f->value);
    POP(c->ndvs);
    POP(c->ninputs);
}

static void walk_value(gql_vctx *c, const gql_value *v)
{
    switch (v->kind) {
    case GQL_VALUE_VARIABLE:
        if (c->mode == 1)
            record_usage(c, v);
        return;
    case GQL_VALUE_LIST: {
        const gql_type *list_type = gql_nullable_type(ti_input(c));
        const gql_type *item = list_type && list_type->kind == GQL_KIND_LIST ? list_type->of : list_type;
        PUSH(c->dvs, c->ndvs, 0);
        PUSH(c->inputs, c->ninputs, gql_is_input_type(item) ? item : NULL);
        if (c->mode == 0 && ON(c, GQL_RULE_VALUES_OF_CORRECT_TYPE)) {
            const gql_type *t = gql_nullable_type(ti_parent_input(c));
            if (!t || t->kind != GQL_KIND_LIST) {
                voct_is_valid(c, v, ti_input(c));
                skip_rule(c, GQL_RULE_VALUES_OF_CORRECT_TYPE, v);
            }
        }
        for (uint32_t i = 0; i < v->u.list.n; i++)
            walk_value(c, v->u.list.items[i]);
        POP(c->ndvs);
        POP(c->ninputs);
        unskip(c, v);
        return;
    }
    case GQL_VALUE_OBJECT: {
        rule_state *rs = c->mode == 0 ? RS(c) : NULL;
        if (rs && ON(c, GQL_RULE_VALUES_OF_CORRECT_TYPE)) {
            const gql_type *type = gql_named_type(ti_input(c));
            if (!type || type->kind != GQL_KIND_INPUT_OBJECT) {
                voct_is_valid(c, v, ti_input(c));
                skip_rule(c, GQL_RULE_VALUES_OF_CORRECT_TYPE, v);
            } else {
                for (uint32_t i = 0; i < type->ninput_fields; i++) {
                    const gql_input_value *fd = &type->input_fields[i];
                    bool present = false;
                    for (uint32_t k = 0; k < v->u.object.n; k++)
                        if (v->u.object.fields[k].name.len == fd->name_len &&
                            memcmp(v->u.object.fields[k].name.s, fd->name, fd->name_len) == 0)
                            present = true;
                    if (!present && fd->type->kind == GQL_KIND_NON_NULL && !fd->has_default) {
                        gql_buf *m = msg(c);
                        gql_buf_printf(m, "Field \"%s.%s\" of required type \"", type->name, fd->name);
                        put_type(m, fd->type);
                        gql_buf_puts(m, "\" was not provided.");
                        emit1(c, v->loc);
                    }
                }
                if (type->is_one_of) {
                    /* keyMap: distinct names, the last node of a name wins */
                    uint32_t distinct = 0;
                    const gql_object_field *only = NULL;
                    for (uint32_t j = 0; j < v->u.object.n; j++) {
                        bool seen = false;
                        for (uint32_t k = 0; k < j; k++)
                            if (gql_str_eq(v->u.object.fields[k].name, v->u.object.fields[j].name))
                                seen = true;
                        if (!seen)
                            distinct++;
                        only = &v->u.object.fields[j];
                    }
                    gql_buf *m = msg(c);
                    if (distinct != 1) {
                        gql_buf_printf(m, "OneOf Input Object \"%s\" must specify exactly one key.", type->name);
                        emit1(c, v->loc);
                    } else if (only->value->kind == GQL_VALUE_NULL) {
                        gql_buf_printf(m, "Field \"%s.", type->name);
                        put_str(m, only->name);
                        gql_buf_puts(m, "\" must be non-null.");
                        emit1(c, v->loc);
                    } else if (only->value->kind == GQL_VALUE_VARIABLE) {
                        const gql_variable_def *def = NULL;
                        for (uint32_t k = 0; k < rs->nvar_defs; k++)
                            if (gql_str_eq(rs->var_defs[k]->name, only->value->u.str))
                                def = rs->var_defs[k];
                        if (def && def->type->kind != GQL_TYPE_NON_NULL) {
                            gql_buf_puts(m, "Variable \"");
                            put_str(m, only->value->u.str);
                            gql_buf_printf(m, "\" must be non-nullable to be used for OneOf Input Object \"%s\".",
                                           type->name);
                            emit1(c, v->loc);
                        }
                    }
                }
            }
        }
        if (rs && ON(c, GQL_RULE_UNIQUE_INPUT_FIELD_NAMES) && rs->ninput_names < GQL_TI_MAX) {
            gql_strmap *known = gql_arena_alloc(&c->A, sizeof *known);
            if (known)
                gql__strmap_init(known, &c->A, v->u.object.n);
            rs->input_names[rs->ninput_names++] = known;
        }
        for (uint32_t i = 0; i < v->u.object.n; i++)
            walk_object_field(c, &v->u.object.fields[i]);
        if (rs && ON(c, GQL_RULE_UNIQUE_INPUT_FIELD_NAMES) && rs->ninput_names)
            rs->ninput_names--;
        unskip(c, v);
        return;
    }
    case GQL_VALUE_NULL:
        if (c->mode == 0 && ON(c, GQL_RULE_VALUES_OF_CORRECT_TYPE)) {
            const gql_type *t = ti_input(c);
            if (t && t->kind == GQL_KIND_NON_NULL) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Expected value of type \"");
                put_type(m, t);
                gql_buf_puts(m, "\", found null.");
                emit1(c, v->loc);
            }
        }
        return;
    case GQL_VALUE_ENUM: {
        const gql_type *et = gql_named_type(ti_input(c));
        c->enum_value = et && et->kind == GQL_KIND_ENUM ? gql_type_enum_value(et, v->u.str.s, v->u.str.len) : NULL;
        if (c->mode == 0) {
            if (ON(c, GQL_RULE_VALUES_OF_CORRECT_TYPE))
                voct_is_valid(c, v, ti_input(c));
            if (ON(c, GQL_RULE_NO_DEPRECATED) && c->enum_value && c->enum_value->deprecation_reason) {
                gql_buf *m = msg(c);
                gql_buf_printf(m, "The enum value \"%s.%s\" is deprecated. %s", et->name, c->enum_value->name,
                               c->enum_value->deprecation_reason);
                emit1(c, v->loc);
            }
        }
        c->enum_value = NULL;
        return;
    }
    default:
        if (c->mode == 0 && ON(c, GQL_RULE_VALUES_OF_CORRECT_TYPE))
            voct_is_valid(c, v, ti_input(c));
        return;
    }
}

/* ---- walk: types, directives, arguments ------------------------------------------------- */

static bool is_sdl_definition(const gql_definition *d)
{
    return d && (d->kind == GQL_DEF_SCHEMA || d->kind == GQL_DEF_TYPE || d->kind == GQL_DEF_DIRECTIVE);
}

static bool standard_type_name(gql_str n)
{
    static const char *const names[] = {"String", "Int", "Float", "Boolean", "ID", "__Schema", "__Directive",
                                        "__DirectiveLocation", "__Type", "__Field", "__InputValue", "__EnumValue",
                                        "__TypeKind"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (gql_str_eqc(n, names[i]))
            return true;
    return false;
}

static void walk_named_type(gql_vctx *c, const gql_type_node *t)
{
    if (c->mode != 0 || !ON(c, GQL_RULE_KNOWN_TYPE_NAMES))
        return;
    rule_state *rs = RS(c);
    if (gql_schema_type(c->s, t->name.s, t->name.len) || gql__strmap_get(&rs->defined_types, t->name.s, t->name.len))
        return;
    bool sdl = is_sdl_definition(c->top);
    if (sdl && standard_type_name(t->name))
        return;
    gql_buf *m = msg(c);
    gql_buf_puts(m, "Unknown type \"");
    put_str(m, t->name);
    gql_buf_puts(m, "\".");
    static const char *const std[] = {"String", "Int", "Float", "Boolean", "ID", "__Schema", "__Directive",
                                      "__DirectiveLocation", "__Type", "__Field", "__InputValue", "__EnumValue",
                                      "__TypeKind"};
    uint32_t nstd = sdl ? (uint32_t)(sizeof std / sizeof *std) : 0;
    gql_str *opts = malloc((nstd + rs->ntype_names + 1) * sizeof *opts);
    if (opts) {
        for (uint32_t i = 0; i < nstd; i++)
            opts[i] = gql_str_c(std[i]);
        memcpy(opts + nstd, rs->type_names, rs->ntype_names * sizeof *opts);
        did_you_mean(m, NULL, t->name, opts, nstd + rs->ntype_names);
        free(opts);
    }
    emit1(c, t->loc);
}

static void walk_type_node(gql_vctx *c, const gql_type_node *t)
{
    while (t->kind != GQL_TYPE_NAMED)
        t = t->of;
    walk_named_type(c, t);
}

static void walk_argument(gql_vctx *c, const gql_argument *a, bool in_directive, const gql_field *fdef,
                          const gql_type *parent)
{
    /* TypeInfo enter Argument: the directive's argument, or — graphql-js's
     * `getDirective() ?? getFieldDef()` — for a directive the schema does not know,
     * the argument of that name of the innermost enclosing field, whose type then
     * checks the value (a quirk clients see in graphql-js's errors, so we keep it) */
    const gql_input_value *adef = NULL;
    if (in_directive && !c->directive) {
        fdef = c->nfielddefs && c->nfielddefs <= GQL_TI_MAX ? c->fielddefs[c->nfielddefs - 1] : NULL;
        parent = ti_parent(c);
    }
    if (c->directive) {
        for (uint32_t i = 0; i < c->directive->nargs; i++)
            if (gql_str_eq((gql_str){c->directive->args[i].name, c->directive->args[i].name_len}, a->name))
                adef = &c->directive->args[i];
    } else if (fdef) {
        adef = gql_field_arg(fdef, a->name.s, a->name.len);
    }
    c->argument = adef;
    PUSH(c->dvs, c->ndvs, adef ? adef->has_default : 0);
    PUSH(c->inputs, c->ninputs, adef && gql_is_input_type(adef->type) ? adef->type : NULL);
    if (c->mode == 0) {
        if (!in_directive && ON(c, GQL_RULE_KNOWN_ARGUMENT_NAMES) && !adef && fdef && parent) {
            gql_buf *m = msg(c);
            gql_buf_puts(m, "Unknown argument \"");
            put_str(m, a->name);
            gql_buf_printf(m, "\" on field \"%s.%s\".", parent->name, fdef->name);
            gql_str *names = malloc((fdef->nargs + 1) * sizeof *names);
            if (names) {
                for (uint32_t i = 0; i < fdef->nargs; i++)
                    names[i] = (gql_str){fdef->args[i].name, fdef->args[i].name_len};
                did_you_mean(m, NULL, a->name, names, fdef->nargs);
                free(names);
            }
            emit1(c, a->loc);
        }
        if (ON(c, GQL_RULE_NO_DEPRECATED) && adef && adef->deprecation_reason) {
            gql_buf *m = msg(c);
            if (c->directive)
                gql_buf_printf(m, "Directive \"@%s\" argument \"%s\" is deprecated. %s", c->directive->name, adef->name,
                               adef->deprecation_reason);
            else if (fdef && parent)
                gql_buf_printf(m, "Field \"%s.%s\" argument \"%s\" is deprecated. %s", parent->name, fdef->name,
                               adef->name, adef->deprecation_reason);
            if ((c->directive || (fdef && parent)))
                emit1(c, a->loc);
        }
    }
    walk_value(c, a->value);
    c->argument = NULL;
    POP(c->ndvs);
    POP(c->ninputs);
}

static void unique_argument_names(gql_vctx *c, const gql_argument *args, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        bool first = true;
        for (uint32_t k = 0; k < i; k++)
            if (gql_str_eq(args[k].name, args[i].name))
                first = false;
        if (!first)
            continue;
        uint32_t cnt = 1;
        for (uint32_t k = i + 1; k < n; k++)
            if (gql_str_eq(args[k].name, args[i].name))
                cnt++;
        if (cnt == 1)
            continue;
        uint32_t *locs = gql_arena_alloc(&c->A, cnt * sizeof *locs);
        if (!locs)
            continue;
        uint32_t j = 0;
        for (uint32_t k = i; k < n; k++)
            if (gql_str_eq(args[k].name, args[i].name))
                locs[j++] = args[k].loc;
        gql_buf *m = msg(c);
        gql_buf_puts(m, "There can be only one argument named \"");
        put_str(m, args[i].name);
        gql_buf_puts(m, "\".");
        gql__v_emit(c, locs, cnt);
    }
}

/* UniqueDirectivesPerLocation: runs at the enter of the node holding the directives
 * (in its place among that node's rules); `seen` is shared by a type's definition and
 * extensions, or NULL for a fresh set. */
static void udpl(gql_vctx *c, const gql_directive *dirs, uint32_t n, gql_strmap *seen)
{
    if (c->mode == 0 && n && ON(c, GQL_RULE_UNIQUE_DIRECTIVES_PER_LOCATION)) {
        gql_strmap local;
        if (!seen) {
            gql__strmap_init(&local, &c->A, n);
            seen = &local;
        }
        for (uint32_t i = 0; i < n; i++) {
            const gql_directive *d = &dirs[i];
            const gql_directive_def_node *dd;
            const gql_directive_def *sd = schema_or_doc_directive(c, d->name, &dd);
            bool unique = dd ? !dd->repeatable : sd ? !sd->repeatable : false;
            if (!unique)
                continue;
            const gql_directive *prev = gql__strmap_get(seen, d->name.s, d->name.len);
            if (prev) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "The directive \"@");
                put_str(m, d->name);
                gql_buf_puts(m, "\" can only be used once at this location.");
                emit2(c, prev->loc, d->loc);
            } else {
                gql__strmap_put(seen, d->name.s, d->name.len, (void *)d);
            }
        }
    }
}

static void walk_directive_list(gql_vctx *c, const gql_directive *dirs, uint32_t n, int loc)
{
    for (uint32_t i = 0; i < n; i++) {
        const gql_directive *d = &dirs[i];
        c->directive = gql_schema_directive(c->s, d->name.s, d->name.len);
        if (c->mode == 0) {
            const gql_directive_def_node *dd;
            const gql_directive_def *sd = schema_or_doc_directive(c, d->name, &dd);
            if (ON(c, GQL_RULE_KNOWN_DIRECTIVES)) {
                if (!sd && !dd) {
                    gql_buf *m = msg(c);
                    gql_buf_puts(m, "Unknown directive \"@");
                    put_str(m, d->name);
                    gql_buf_puts(m, "\".");
                    emit1(c, d->loc);
                } else if (loc >= 0) {
                    uint32_t locs = dd ? 0 : sd->locations;
                    if (dd)
                        for (uint32_t k = 0; k < dd->nlocations; k++)
                            for (int l = 0; l < GQL_LOC_COUNT; l++)
                                if (gql_str_eqc(dd->locations[k].name, gql_directive_location_name((gql_directive_location)l)))
                                    locs |= 1u << l;
                    if (!(locs & (1u << loc))) {
                        gql_buf *m = msg(c);
                        gql_buf_puts(m, "Directive \"@");
                        put_str(m, d->name);
                        gql_buf_printf(m, "\" may not be used on %s.", gql_directive_location_name((gql_directive_location)loc));
                        emit1(c, d->loc);
                    }
                }
            }
            if (ON(c, GQL_RULE_KNOWN_ARGUMENT_NAMES)) {
                if (sd || dd) {
                    uint32_t nk = dd ? dd->nargs : sd->nargs;
                    gql_str *known = gql_arena_alloc(&c->A, (nk + 1) * sizeof *known);
                    for (uint32_t k = 0; known && k < nk; k++)
                        known[k] = dd ? dd->args[k].name : (gql_str){sd->args[k].name, sd->args[k].name_len};
                    for (uint32_t j = 0; known && j < d->nargs; j++) {
                        bool ok = false;
                        for (uint32_t k = 0; k < nk; k++)
                            if (gql_str_eq(known[k], d->args[j].name))
                                ok = true;
                        if (ok)
                            continue;
                        gql_buf *m = msg(c);
                        gql_buf_puts(m, "Unknown argument \"");
                        put_str(m, d->args[j].name);
                        gql_buf_puts(m, "\" on directive \"@");
                        put_str(m, d->name);
                        gql_buf_puts(m, "\".");
                        did_you_mean(m, NULL, d->args[j].name, known, nk);
                        emit1(c, d->args[j].loc);
                    }
                }
                skip_rule(c, GQL_RULE_KNOWN_ARGUMENT_NAMES, d);
            }
            if (ON(c, GQL_RULE_UNIQUE_ARGUMENT_NAMES))
                unique_argument_names(c, d->args, d->nargs);
        }
        for (uint32_t j = 0; j < d->nargs; j++)
            walk_argument(c, &d->args[j], true, NULL, NULL);
        if (c->mode == 0 && ON(c, GQL_RULE_PROVIDED_REQUIRED_ARGUMENTS)) {
            const gql_directive_def_node *dd;
            const gql_directive_def *sd = schema_or_doc_directive(c, d->name, &dd);
            uint32_t nk = dd ? dd->nargs : sd ? sd->nargs : 0;
            for (uint32_t k = 0; k < nk; k++) {
                gql_str an;
                bool required;
                if (dd) {
                    an = dd->args[k].name;
                    required = dd->args[k].type->kind == GQL_TYPE_NON_NULL && !dd->args[k].default_value;
                } else {
                    an = (gql_str){sd->args[k].name, sd->args[k].name_len};
                    required = sd->args[k].type->kind == GQL_KIND_NON_NULL && !sd->args[k].has_default;
                }
                if (!required)
                    continue;
                bool given = false;
                for (uint32_t j = 0; j < d->nargs; j++)
                    if (gql_str_eq(d->args[j].name, an))
                        given = true;
                if (given)
                    continue;
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Directive \"@");
                put_str(m, d->name);
                gql_buf_puts(m, "\" argument \"");
                put_str(m, an);
                gql_buf_puts(m, "\" of type \"");
                if (dd)
                    gql_print_type_node(dd->args[k].type, m);
                else
                    put_type(m, sd->args[k].type);
                gql_buf_puts(m, "\" is required, but it was not provided.");
                emit1(c, d->loc);
            }
        }
        c->directive = NULL;
        unskip(c, d);
    }
}

/* ---- walk: selections ------------------------------------------------------------------ */

static void walk_selection_set(gql_vctx *c, const gql_selection_set *ss);

static bool is_introspection_type(const gql_type *t)
{
    return t && t->builtin && t->name && t->name[0] == '_' && t->name[1] == '_';
}

/* MaxIntrospectionDepthRule: does a path of introspection list fields reach depth 3?
 * graphql-js explores with a per-path visited set (exponential on hostile
 * documents); fragments reached by a fragment-free path are memoised per
 * (fragment, depth), which gives the same answer without the blow-up. */
typedef struct mid_ctx {
    gql_vctx *c;
    uint8_t *on_path;  /* fragment index -> on the current path */
    uint8_t *memo;     /* fragment index * 3 + depth -> 0 unknown, 1 false, 2 true */
    uint64_t steps;
    bool acyclic;      /* no fragment reaches itself: no result depends on the path */
} mid_ctx;

/* True when no fragment can reach itself through spreads (iterative colouring DFS). */
static bool fragments_acyclic(gql_vctx *c)
{
    uint32_t nf = c->doc->nfragments;
    uint8_t *color = calloc(nf + 1, 1);
    uint32_t *stack = malloc((nf + 1) * sizeof *stack);
    uint32_t *next = calloc(nf + 1, sizeof *next);
    bool ok = true;
    if (!color || !stack || !next) {
        ok = false;
        goto out;
    }
    for (uint32_t r = 0; r < nf && ok; r++) {
        if (color[r])
            continue;
        uint32_t top = 0;
        stack[top++] = r;
        color[r] = 1;
        while (top && ok) {
            uint32_t f = stack[top - 1];
            const gql_spread_list *sl = gql__v_fragment_spreads(c, c->doc->fragments[f]->sel);
            if (next[f] >= sl->n) {
                color[f] = 2;
                top--;
                continue;
            }
            int32_t g = sl->items[next[f]++]->fragment;
            if (g < 0)
                continue;
            if (color[g] == 1)
                ok = false;
            else if (!color[g]) {
                color[g] = 1;
                stack[top++] = (uint32_t)g;
            }
        }
    }
out:
    free(color);
    free(stack);
    free(next);
    return ok;
}

static bool mid_selections(mid_ctx *m, const gql_selection_set *ss, int depth, int rec);

static bool mid_fragment(mid_ctx *m, const gql_spread_node *sp, int depth, int rec)
{
    if (sp->fragment < 0)
        return false;
    uint32_t fi = (uint32_t)sp->fragment;
    if (m->on_path[fi])
        return false;
    uint8_t *memo = &m->memo[fi * 3 + (uint32_t)depth];
    if (*memo)
        return *memo == 2;
    m->on_path[fi] = 1;
    bool r = mid_selections(m, m->c->doc->fragments[fi]->sel, depth, rec + 1);
    m->on_path[fi] = 0;
    /* A `false` found while other fragments were on the path may depend on them; a
     * `true` never does. Only cache what cannot depend on the path. */
    if (r)
        *memo = 2;
    else if (rec == 0 || m->acyclic)
        *memo = 1;
    return r;
}

static bool mid_selections(mid_ctx *m, const gql_selection_set *ss, int depth, int rec)
{
    if (rec > GQL_MAX_NESTING * 8 || ++m->steps > 1000000)
        return false;
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        if (sel->kind == GQL_SEL_SPREAD) {
            if (mid_fragment(m, &sel->u.spread, depth, rec))
                return true;
            continue;
        }
        int d = depth;
        const gql_selection_set *child;
        if (sel->kind == GQL_SEL_FIELD) {
            gql_str n = sel->u.field.name;
            if (gql_str_eqc(n, "fields") || gql_str_eqc(n, "interfaces") || gql_str_eqc(n, "possibleTypes") ||
                gql_str_eqc(n, "inputFields")) {
                if (++d >= 3)
                    return true;
            }
            child = sel->u.field.sel;
        } else {
            child = sel->u.inl.sel;
        }
        if (child && mid_selections(m, child, d, rec))
            return true;
    }
    return false;
}

static bool max_introspection_depth_exceeded(gql_vctx *c, const gql_field_node *f)
{
    if (!f->sel)
        return false;
    mid_ctx m;
    m.c = c;
    m.steps = 0;
    m.acyclic = fragments_acyclic(c);
    uint32_t nf = c->doc->nfragments;
    m.on_path = calloc(nf + 1, 1);
    m.memo = calloc(nf * 3 + 1, 1);
    bool r = false;
    if (m.on_path && m.memo)
        r = mid_selections(&m, f->sel, 0, 0);
    free(m.on_path);
    free(m.memo);
    return r;
}

/* graphql-js's comparator for suggested types: more usages first, super types
 * before their sub types, then natural name order. */
static int suggested_type_cmp(const gql_schema *s, const gql_type *a, uint32_t ua, const gql_type *b, uint32_t ub)
{
    if (ua != ub)
        return (int)ub - (int)ua;
    if (a->kind == GQL_KIND_INTERFACE && gql_schema_is_sub_type(s, a, b))
        return -1;
    if (b->kind == GQL_KIND_INTERFACE && gql_schema_is_sub_type(s, b, a))
        return 1;
    return gql__natural_compare(a->name, a->name_len, b->name, b->name_len);
}

/* FieldsOnCorrectType suggestions: types that do define the field. */
static void suggest_types(gql_vctx *c, gql_buf *m, const gql_type *type, gql_str field)
{
    if (!gql_is_abstract_type(type))
        return;
    const gql_schema *s = c->s;
    uint32_t cap = type->npossible * 4 + 4, n = 0;
    const gql_type **cand = malloc(cap * sizeof *cand);
    uint32_t *usage = calloc(cap, sizeof *usage);
    if (!cand || !usage) {
        free(cand);
        free(usage);
        return;
    }
    for (uint32_t i = 0; i < type->npossible; i++) {
        const gql_type *pt = type->possible[i];
        if (!gql_type_field(pt, field.s, field.len))
            continue;
        uint32_t k;
        for (k = 0; k < n && cand[k] != pt; k++)
            ;
        if (k == n && n < cap)
            cand[n++] = pt;
        usage[k] = 1;
        for (uint32_t j = 0; j < pt->ninterfaces; j++) {
            const gql_type *it = pt->interfaces[j];
            if (!gql_type_field(it, field.s, field.len))
                continue;
            uint32_t q;
            for (q = 0; q < n && cand[q] != it; q++)
                ;
            if (q == n && n < cap)
                cand[n++] = it;
            usage[q]++;
        }
    }
    /* stable insertion sort with graphql-js's comparator */
    for (uint32_t i = 1; i < n; i++) {
        const gql_type *t = cand[i];
        uint32_t u = usage[i];
        uint32_t j = i;
        while (j > 0 && suggested_type_cmp(s, cand[j - 1], usage[j - 1], t, u) > 0) {
            cand[j] = cand[j - 1];
            usage[j] = usage[j - 1];
            j--;
        }
        cand[j] = t;
        usage[j] = u;
    }
    gql_str *names = malloc((n + 1) * sizeof *names);
    if (names) {
        for (uint32_t i = 0; i < n; i++)
            names[i] = (gql_str){cand[i]->name, cand[i]->name_len};
        gql__did_you_mean(m, "to use an inline fragment on", names, n);
        free(names);
    }
    free(cand);
    free(usage);
}

static void walk_field(gql_vctx *c, const gql_selection *sel)
{
    const gql_field_node *f = &sel->u.field;
    const gql_type *parent = ti_parent(c);
    const gql_field *fdef = field_def(c, parent, f->name);
    PUSH(c->fielddefs, c->nfielddefs, fdef);
    PUSH(c->types, c->ntypes, fdef && gql_is_output_type(fdef->type) ? fdef->type : NULL);
    if (c->mode == 0) {
        const gql_type *type = ti_type(c);
        if (ON(c, GQL_RULE_SCALAR_LEAFS) && type) {
            if (gql_is_leaf_type(gql_named_type(type))) {
                if (f->sel) {
                    gql_buf *m = msg(c);
                    gql_buf_puts(m, "Field \"");
                    put_str(m, f->name);
                    gql_buf_puts(m, "\" must not have a selection since type \"");
                    put_type(m, type);
                    gql_buf_puts(m, "\" has no subfields.");
                    emit1(c, f->sel->loc);
                }
            } else if (!f->sel) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Field \"");
                put_str(m, f->name);
                gql_buf_puts(m, "\" of type \"");
                put_type(m, type);
                gql_buf_puts(m, "\" must have a selection of subfields. Did you mean \"");
                put_str(m, f->name);
                gql_buf_puts(m, " { ... }\"?");
                emit1(c, sel->loc);
            }
        }
        if (ON(c, GQL_RULE_FIELDS_ON_CORRECT_TYPE) && parent && !fdef) {
            gql_buf *m = msg(c);
            gql_buf_puts(m, "Cannot query field \"");
            put_str(m, f->name);
            gql_buf_printf(m, "\" on type \"%s\".", parent->name);
            size_t before = m->len;
            suggest_types(c, m, parent, f->name);
            if (m->len == before && (parent->kind == GQL_KIND_OBJECT || parent->kind == GQL_KIND_INTERFACE)) {
                gql_str *names = malloc((parent->nfields + 1) * sizeof *names);
                if (names) {
                    for (uint32_t i = 0; i < parent->nfields; i++)
                        names[i] = (gql_str){parent->fields[i].name, parent->fields[i].name_len};
                    did_you_mean(m, NULL, f->name, names, parent->nfields);
                    free(names);
                }
            }
            emit1(c, sel->loc);
        }
        udpl(c, f->dirs, f->ndirs, NULL);
        if (ON(c, GQL_RULE_UNIQUE_ARGUMENT_NAMES))
            unique_argument_names(c, f->args, f->nargs);
        if (ON(c, GQL_RULE_MAX_INTROSPECTION_DEPTH) &&
            (gql_str_eqc(f->name, "__schema") || gql_str_eqc(f->name, "__type"))) {
            if (max_introspection_depth_exceeded(c, f)) {
                gql_buf_puts(msg(c), "Maximum introspection depth exceeded");
                emit1(c, sel->loc);
                skip_rule(c, GQL_RULE_MAX_INTROSPECTION_DEPTH, sel);
            }
        }
        if (ON(c, GQL_RULE_NO_DEPRECATED) && fdef && fdef->deprecation_reason && parent) {
            gql_buf_printf(msg(c), "The field %s.%s is deprecated. %s", parent->name, fdef->name, fdef->deprecation_reason);
            emit1(c, sel->loc);
        }
        if (ON(c, GQL_RULE_NO_SCHEMA_INTROSPECTION) && is_introspection_type(gql_named_type(ti_type(c)))) {
            gql_buf *m = msg(c);
            gql_buf_puts(m, "GraphQL introspection has been disabled, but the requested query contained the field \"");
            put_str(m, f->name);
            gql_buf_puts(m, "\".");
            emit1(c, sel->loc);
        }
    }
    for (uint32_t i = 0; i < f->nargs; i++)
        walk_argument(c, &f->args[i], false, fdef, parent);
    walk_directive_list(c, f->dirs, f->ndirs, GQL_LOC_FIELD);
    if (f->sel)
        walk_selection_set(c, f->sel);
    if (c->mode == 0 && ON(c, GQL_RULE_PROVIDED_REQUIRED_ARGUMENTS) && fdef) {
        for (uint32_t i = 0; i < fdef->nargs; i++) {
            const gql_input_value *a = &fdef->args[i];
            if (!(a->type->kind == GQL_KIND_NON_NULL && !a->has_default))
                continue;
            bool given = false;
            for (uint32_t k = 0; k < f->nargs; k++)
                if (f->args[k].name.len == a->name_len && memcmp(f->args[k].name.s, a->name, a->name_len) == 0)
                    given = true;
            if (given)
                continue;
            gql_buf *m = msg(c);
            gql_buf_printf(m, "Field \"%s\" argument \"%s\" of type \"", fdef->name, a->name);
            put_type(m, a->type);
            gql_buf_puts(m, "\" is required, but it was not provided.");
            emit1(c, sel->loc);
        }
    }
    POP(c->nfielddefs);
    POP(c->ntypes);
    unskip(c, sel);
}

static void walk_spread(gql_vctx *c, const gql_selection *sel)
{
    const gql_spread_node *sp = &sel->u.spread;
    if (c->mode == 0) {
        const gql_fragment_node *frag = spread_fragment(c, sp);
        if (ON(c, GQL_RULE_KNOWN_FRAGMENT_NAMES) && !frag) {
            gql_buf *m = msg(c);
            gql_buf_puts(m, "Unknown fragment \"");
            put_str(m, sp->name);
            gql_buf_puts(m, "\".");
            emit1(c, sp->name_loc);
        }
        if (ON(c, GQL_RULE_POSSIBLE_FRAGMENT_SPREADS) && frag) {
            const gql_type *ft = gql_schema_type(c->s, frag->type_cond->name.s, frag->type_cond->name.len);
            const gql_type *parent = ti_parent(c);
            if (ft && gql_is_composite_type(ft) && parent && !gql_do_types_overlap(c->s, ft, parent)) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Fragment \"");
                put_str(m, sp->name);
                gql_buf_printf(m, "\" cannot be spread here as objects of type \"%s\" can never be of type \"%s\".",
                               parent->name, ft->name);
                emit1(c, sel->loc);
            }
        }
        udpl(c, sp->dirs, sp->ndirs, NULL);
    }
    walk_directive_list(c, sp->dirs, sp->ndirs, GQL_LOC_FRAGMENT_SPREAD);
}

static void walk_inline(gql_vctx *c, const gql_selection *sel)
{
    const gql_inline_node *in = &sel->u.inl;
    const gql_type *out = in->type_cond ? gql_schema_type(c->s, in->type_cond->name.s, in->type_cond->name.len)
                                        : gql_named_type(ti_type(c));
    PUSH(c->types, c->ntypes, gql_is_output_type(out) ? out : NULL);
    if (c->mode == 0) {
        if (ON(c, GQL_RULE_FRAGMENTS_ON_COMPOSITE_TYPES) && in->type_cond) {
            const gql_type *t = gql_schema_type(c->s, in->type_cond->name.s, in->type_cond->name.len);
            if (t && !gql_is_composite_type(t)) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Fragment cannot condition on non composite type \"");
                put_str(m, in->type_cond->name);
                gql_buf_puts(m, "\".");
                emit1(c, in->type_cond->loc);
            }
        }
        if (ON(c, GQL_RULE_POSSIBLE_FRAGMENT_SPREADS)) {
            const gql_type *ft = ti_type(c);
            const gql_type *parent = ti_parent(c);
            if (gql_is_composite_type(ft) && gql_is_composite_type(parent) && !gql_do_types_overlap(c->s, ft, parent)) {
                gql_buf *m = msg(c);
                gql_buf_printf(m, "Fragment cannot be spread here as objects of type \"%s\" can never be of type \"%s\".",
                               parent->name, ft->name);
                emit1(c, sel->loc);
            }
        }
        udpl(c, in->dirs, in->ndirs, NULL);
    }
    if (in->type_cond)
        walk_named_type(c, in->type_cond);
    walk_directive_list(c, in->dirs, in->ndirs, GQL_LOC_INLINE_FRAGMENT);
    walk_selection_set(c, in->sel);
    POP(c->ntypes);
}

static void walk_selection_set(gql_vctx *c, const gql_selection_set *ss)
{
    const gql_type *named = gql_named_type(ti_type(c));
    PUSH(c->parents, c->nparents, gql_is_composite_type(named) ? named : NULL);
    if (c->mode == 0 && ON(c, GQL_RULE_OVERLAPPING_FIELDS_CAN_BE_MERGED))
        gql__overlap_check(c, ti_parent(c), ss);
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        switch (sel->kind) {
        case GQL_SEL_FIELD:
            walk_field(c, sel);
            break;
        case GQL_SEL_SPREAD:
            walk_spread(c, sel);
            break;
        default:
            walk_inline(c, sel);
            break;
        }
    }
    POP(c->nparents);
}

/* ---- walk: definitions --------------------------------------------------------------- */

static void walk_variable_definition(gql_vctx *c, const gql_variable_def *v)
{
    const gql_type *t = gql__type_from_ast(c->s, v->type, &c->A);
    PUSH(c->inputs, c->ninputs, gql_is_input_type(t) ? t : NULL);
    if (c->mode == 0) {
        rule_state *rs = RS(c);
        if (ON(c, GQL_RULE_VARIABLES_ARE_INPUT_TYPES) && t && !gql_is_input_type(t)) {
            gql_buf *m = msg(c);
            gql_buf_puts(m, "Variable \"$");
            put_str(m, v->name);
            gql_buf_puts(m, "\" cannot be non-input type \"");
            gql_print_type_node(v->type, m);
            gql_buf_puts(m, "\".");
            emit1(c, v->type->loc);
        }
        /* NoUndefinedVariables, NoUnusedVariables, ValuesOfCorrectType and
         * VariablesInAllowedPosition record the definition */
        if (rs->nvar_defs < 4096 * 16) {
            const gql_variable_def **n = gql_arena_alloc(&c->A, (rs->nvar_defs + 1) * sizeof *n);
            if (n) {
                if (rs->nvar_defs)
                    memcpy(n, rs->var_defs, rs->nvar_defs * sizeof *n);
                n[rs->nvar_defs++] = v;
                rs->var_defs = n;
            }
        }
        udpl(c, v->dirs, v->ndirs, NULL);
        walk_type_node(c, v->type);
        if (v->default_value)
            walk_value(c, v->default_value);
        walk_directive_list(c, v->dirs, v->ndirs, GQL_LOC_VARIABLE_DEFINITION);
    }
    /* (mode 1 skips variable definitions: their defaults are not usages) */
    POP(c->ninputs);
}

static const gql_var_usage *usage_items(gql_vctx *c, const gql_definition *d, uint32_t *n)
{
    uint32_t i = (uint32_t)(d - c->doc->defs);
    *n = c->usages[i].n;
    return c->usages[i].items;
}

/* Variable usages of an operation and its recursively referenced fragments, in
 * graphql-js order; calls `fn` for each. */
typedef void (*usage_fn)(gql_vctx *c, const gql_operation_node *op, uint32_t op_loc, const gql_var_usage *u, void *ud);

static void each_recursive_usage(gql_vctx *c, const gql_definition *opdef, usage_fn fn, void *ud)
{
    const gql_operation_node *op = &opdef->u.op;
    uint32_t n;
    const gql_var_usage *u = usage_items(c, opdef, &n);
    for (uint32_t i = 0; i < n; i++)
        fn(c, op, opdef->loc, &u[i], ud);
    uint32_t nf = c->doc->nfragments;
    if (!nf)
        return;
    uint32_t *frags = gql_arena_alloc(&c->A, nf * sizeof *frags);
    if (!frags)
        return;
    uint32_t k = referenced_fragments(c, op->sel, frags);
    for (uint32_t j = 0; j < k; j++) {
        const gql_fragment_node *f = c->doc->fragments[frags[j]];
        const gql_definition *fd = (const gql_definition *)((const char *)f - offsetof(gql_definition, u));
        const gql_var_usage *fu = usage_items(c, fd, &n);
        for (uint32_t i = 0; i < n; i++)
            fn(c, op, opdef->loc, &fu[i], ud);
    }
}

static const gql_variable_def *find_var_def(gql_vctx *c, gql_str name)
{
    rule_state *rs = RS(c);
    const gql_variable_def *found = NULL;
    for (uint32_t i = 0; i < rs->nvar_defs; i++)
        if (gql_str_eq(rs->var_defs[i]->name, name))
            found = rs->var_defs[i]; /* keyed maps keep the last */
    return found;
}

static void undefined_usage(gql_vctx *c, const gql_operation_node *op, uint32_t op_loc, const gql_var_usage *u, void *ud)
{
    (void)ud;
    if (find_var_def(c, u->node->u.str))
        return;
    gql_buf *m = msg(c);
    gql_buf_puts(m, "Variable \"$");
    put_str(m, u->node->u.str);
    if (op->name.s) {
        gql_buf_puts(m, "\" is not defined by operation \"");
        put_str(m, op->name);
        gql_buf_puts(m, "\".");
    } else {
        gql_buf_puts(m, "\" is not defined.");
    }
    emit2(c, u->node->loc, op_loc);
}

static void mark_used(gql_vctx *c, const gql_operation_node *op, uint32_t op_loc, const gql_var_usage *u, void *ud)
{
    (void)op;
    (void)op_loc;
    gql_strmap *used = ud;
    gql__strmap_put(used, u->node->u.str.s, u->node->u.str.len, (void *)1);
    (void)c;
}

static void allowed_position(gql_vctx *c, const gql_operation_node *op, uint32_t op_loc, const gql_var_usage *u,
                             void *ud)
{
    (void)op;
    (void)op_loc;
    (void)ud;
    const gql_variable_def *vd = find_var_def(c, u->node->u.str);
    if (!vd || !u->type)
        return;
    const gql_type *var_type = gql__type_from_ast(c->s, vd->type, &c->A);
    if (!var_type)
        return;
    const gql_type *loc_type = u->type;
    bool ok;
    if (loc_type->kind == GQL_KIND_NON_NULL && var_type->kind != GQL_KIND_NON_NULL) {
        bool has_non_null_var_default = vd->default_value && vd->default_value->kind != GQL_VALUE_NULL;
        if (!has_non_null_var_default && !u->has_default)
            ok = false;
        else
            ok = gql_is_type_sub_type_of(c->s, var_type, loc_type->of);
    } else {
        ok = gql_is_type_sub_type_of(c->s, var_type, loc_type);
    }
    if (ok)
        return;
    gql_buf *m = msg(c);
    gql_buf_puts(m, "Variable \"$");
    put_str(m, u->node->u.str);
    gql_buf_puts(m, "\" of type \"");
    put_type(m, var_type);
    gql_buf_puts(m, "\" used in position expecting type \"");
    put_type(m, loc_type);
    gql_buf_puts(m, "\".");
    emit2(c, vd->loc, u->node->loc);
}

/* SingleFieldSubscriptions: CollectFields with no variables. @skip/@include whose
 * `if` is a variable count as not skipping (the specification's CollectFields with
 * an empty variable set); graphql-js throws instead. */
typedef struct sfs_field {
    gql_str key;
    const gql_selection *sel;
} sfs_field;

typedef struct sfs_ctx {
    gql_vctx *c;
    sfs_field *fields;
    uint32_t n, cap;
    uint8_t *visited;
    int depth;
} sfs_ctx;

static bool literal_if(const gql_directive *d, bool *value)
{
    for (uint32_t i = d->nargs; i-- > 0;)
        if (gql_str_eqc(d->args[i].name, "if")) {
            if (d->args[i].value->kind == GQL_VALUE_BOOLEAN) {
                *value = d->args[i].value->boolean;
                return true;
            }
            return false;
        }
    return false;
}

static bool sfs_include(const gql_directive *dirs, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        bool v;
        if (gql_str_eqc(dirs[i].name, "skip") && literal_if(&dirs[i], &v) && v)
            return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        bool v;
        if (gql_str_eqc(dirs[i].name, "include") && literal_if(&dirs[i], &v) && !v)
            return false;
    }
    return true;
}

static bool sfs_condition(gql_vctx *c, const gql_type_node *cond, const gql_type *type)
{
    if (!cond)
        return true;
    const gql_type *ct = gql_schema_type(c->s, cond->name.s, cond->name.len);
    if (ct == type)
        return true;
    return gql_is_abstract_type(ct) && gql_schema_is_sub_type(c->s, ct, type);
}

static void sfs_collect(sfs_ctx *x, const gql_type *type, const gql_selection_set *ss)
{
    if (++x->depth > GQL_MAX_NESTING * 8) {
        x->depth--;
        return;
    }
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        if (sel->kind == GQL_SEL_FIELD) {
            if (!sfs_include(sel->u.field.dirs, sel->u.field.ndirs))
                continue;
            if (x->n == x->cap) {
                uint32_t cap = x->cap ? x->cap * 2 : 8;
                sfs_field *nf = gql_arena_alloc(&x->c->A, cap * sizeof *nf);
                if (!nf)
                    break;
                if (x->n)
                    memcpy(nf, x->fields, x->n * sizeof *nf);
                x->fields = nf;
                x->cap = cap;
            }
            x->fields[x->n].key = gql_field_response_key(&sel->u.field);
            x->fields[x->n].sel = sel;
            x->n++;
        } else if (sel->kind == GQL_SEL_INLINE) {
            if (!sfs_include(sel->u.inl.dirs, sel->u.inl.ndirs) || !sfs_condition(x->c, sel->u.inl.type_cond, type))
                continue;
            sfs_collect(x, type, sel->u.inl.sel);
        } else {
            const gql_spread_node *sp = &sel->u.spread;
            if (sp->fragment >= 0 && x->visited[sp->fragment])
                continue;
            if (!sfs_include(sp->dirs, sp->ndirs))
                continue;
            if (sp->fragment < 0)
                continue;
            x->visited[sp->fragment] = 1;
            const gql_fragment_node *f = x->c->doc->fragments[sp->fragment];
            if (!sfs_condition(x->c, f->type_cond, type))
                continue;
            sfs_collect(x, type, f->sel);
        }
    }
    x->depth--;
}

static void single_field_subscriptions(gql_vctx *c, const gql_definition *d)
{
    const gql_operation_node *op = &d->u.op;
    if (op->operation != GQL_OP_SUBSCRIPTION || !c->s->subscription)
        return;
    sfs_ctx x;
    memset(&x, 0, sizeof x);
    x.c = c;
    x.visited = calloc(c->doc->nfragments + 1, 1);
    if (!x.visited)
        return;
    sfs_collect(&x, c->s->subscription, op->sel);
    free(x.visited);
    /* group by response key, in first-occurrence order */
    uint32_t ngroups = 0;
    gql_str *keys = gql_arena_alloc(&c->A, (x.n + 1) * sizeof *keys);
    if (!keys)
        return;
    for (uint32_t i = 0; i < x.n; i++) {
        bool seen = false;
        for (uint32_t k = 0; k < ngroups; k++)
            if (gql_str_eq(keys[k], x.fields[i].key))
                seen = true;
        if (!seen)
            keys[ngroups++] = x.fields[i].key;
    }
    if (ngroups > 1) {
        uint32_t *locs = gql_arena_alloc(&c->A, (x.n + 1) * sizeof *locs);
        uint32_t nl = 0;
        for (uint32_t k = 1; locs && k < ngroups; k++)
            for (uint32_t i = 0; i < x.n; i++)
                if (gql_str_eq(x.fields[i].key, keys[k]))
                    locs[nl++] = x.fields[i].sel->loc;
        gql_buf *m = msg(c);
        if (op->name.s) {
            gql_buf_puts(m, "Subscription \"");
            put_str(m, op->name);
            gql_buf_puts(m, "\" must select only one top level field.");
        } else {
            gql_buf_puts(m, "Anonymous Subscription must select only one top level field.");
        }
        if (locs)
            gql__v_emit(c, locs, nl);
    }
    for (uint32_t k = 0; k < ngroups; k++) {
        const gql_selection *first = NULL;
        uint32_t nl = 0;
        for (uint32_t i = 0; i < x.n; i++)
            if (gql_str_eq(x.fields[i].key, keys[k])) {
                if (!first)
                    first = x.fields[i].sel;
                nl++;
            }
        gql_str fname = first->u.field.name;
        if (fname.len < 2 || fname.s[0] != '_' || fname.s[1] != '_')
            continue;
        uint32_t *locs = gql_arena_alloc(&c->A, (nl + 1) * sizeof *locs);
        nl = 0;
        for (uint32_t i = 0; locs && i < x.n; i++)
            if (gql_str_eq(x.fields[i].key, keys[k]))
                locs[nl++] = x.fields[i].sel->loc;
        gql_buf *m = msg(c);
        if (op->name.s) {
            gql_buf_puts(m, "Subscription \"");
            put_str(m, op->name);
            gql_buf_puts(m, "\" must not select an introspection top level field.");
        } else {
            gql_buf_puts(m, "Anonymous Subscription must not select an introspection top level field.");
        }
        if (locs)
            gql__v_emit(c, locs, nl);
    }
}

/* NoFragmentCycles: graphql-js's DFS with a spread path, made iterative. */
static void no_fragment_cycles(gql_vctx *c, const gql_fragment_node *start)
{
    rule_state *rs = RS(c);
    uint32_t nf = c->doc->nfragments;
    uint32_t si = fragment_index(c, start);
    if (rs->frag_visited[si])
        return;
    typedef struct frame {
        uint32_t frag;
        const gql_spread_list *spreads;
        uint32_t next;
        uint32_t path_len_at_entry;
    } frame;
    /* arena memory: gql__v_emit() may longjmp out when the error limit is hit */
    frame *stack = gql_arena_alloc(&c->A, (nf + 1) * sizeof *stack);
    const gql_spread_node **path = gql_arena_alloc(&c->A, (nf + 1) * sizeof *path);
    uint32_t *path_locs = gql_arena_alloc(&c->A, (nf + 1) * sizeof *path_locs);
    int32_t *index_by_frag = gql_arena_alloc(&c->A, (nf + 1) * sizeof *index_by_frag);
    if (!stack || !path || !path_locs || !index_by_frag)
        return;
    for (uint32_t i = 0; i < nf; i++)
        index_by_frag[i] = -1;
    uint32_t top = 0, plen = 0;
    /* entering a fragment */
    rs->frag_visited[si] = 1;
    {
        const gql_spread_list *sl = gql__v_fragment_spreads(c, start->sel);
        if (sl->n == 0)
            return;
        index_by_frag[si] = (int32_t)plen;
        stack[top++] = (frame){si, sl, 0, plen};
    }
    while (top) {
        frame *f = &stack[top - 1];
        if (f->next >= f->spreads->n) {
            index_by_frag[f->frag] = -1;
            top--;
            if (top)
                plen--; /* spreadPath.pop() after returning from the recursion */
            continue;
        }
        uint32_t k = f->next++;
        const gql_spread_node *sp = f->spreads->items[k];
        int32_t g = sp->fragment;
        int32_t cycle = g >= 0 ? index_by_frag[g] : -1;
        path[plen] = sp;
        path_locs[plen] = f->spreads->locs[k];
        plen++;
        if (cycle < 0) {
            if (g >= 0 && !rs->frag_visited[g]) {
                rs->frag_visited[g] = 1;
                const gql_spread_list *sl = gql__v_fragment_spreads(c, c->doc->fragments[g]->sel);
                if (sl->n) {
                    index_by_frag[g] = (int32_t)plen;
                    stack[top++] = (frame){(uint32_t)g, sl, 0, plen};
                    continue;
                }
            }
            plen--;
            continue;
        }
        /* cycle: path[cycle .. plen-1] */
        gql_buf *m = msg(c);
        gql_buf_puts(m, "Cannot spread fragment \"");
        put_str(m, sp->name);
        gql_buf_puts(m, "\" within itself");
        if ((uint32_t)cycle + 1 < plen) {
            gql_buf_puts(m, " via ");
            for (uint32_t i = (uint32_t)cycle; i + 1 < plen; i++) {
                if (i > (uint32_t)cycle)
                    gql_buf_puts(m, ", ");
                gql_buf_putc(m, '"');
                put_str(m, path[i]->name);
                gql_buf_putc(m, '"');
            }
            gql_buf_putc(m, '.');
        } else {
            gql_buf_putc(m, '.');
        }
        gql__v_emit(c, path_locs + cycle, plen - (uint32_t)cycle);
        plen--;
    }
}

static void walk_operation(gql_vctx *c, const gql_definition *d)
{
    const gql_operation_node *op = &d->u.op;
    const gql_type *root = gql_schema_root_type(c->s, (gql_operation_type)op->operation);
    PUSH(c->types, c->ntypes, root && root->kind == GQL_KIND_OBJECT ? root : NULL);
    if (c->mode == 0) {
        rule_state *rs = RS(c);
        if (ON(c, GQL_RULE_UNIQUE_OPERATION_NAMES)) {
            if (op->name.s) {
                const gql_operation_node *prev = gql__strmap_get(&rs->op_names, op->name.s, op->name.len);
                if (prev) {
                    gql_buf *m = msg(c);
                    gql_buf_puts(m, "There can be only one operation named \"");
                    put_str(m, op->name);
                    gql_buf_puts(m, "\".");
                    emit2(c, prev->name_loc, op->name_loc);
                } else {
                    gql__strmap_put(&rs->op_names, op->name.s, op->name.len, (void *)op);
                }
            }
            skip_rule(c, GQL_RULE_UNIQUE_OPERATION_NAMES, d);
        }
        if (ON(c, GQL_RULE_LONE_ANONYMOUS_OPERATION) && !op->name.s && rs->operation_count > 1) {
            gql_buf_puts(msg(c), "This anonymous operation must be the only defined operation.");
            emit1(c, d->loc);
        }
        if (ON(c, GQL_RULE_SINGLE_FIELD_SUBSCRIPTIONS))
            single_field_subscriptions(c, d);
        if (ON(c, GQL_RULE_NO_UNUSED_FRAGMENTS)) {
            rs->ops[rs->nops++] = op;
            skip_rule(c, GQL_RULE_NO_UNUSED_FRAGMENTS, d);
        }
        if (ON(c, GQL_RULE_NO_FRAGMENT_CYCLES))
            skip_rule(c, GQL_RULE_NO_FRAGMENT_CYCLES, d);
        if (ON(c, GQL_RULE_UNIQUE_FRAGMENT_NAMES))
            skip_rule(c, GQL_RULE_UNIQUE_FRAGMENT_NAMES, d);
        if (ON(c, GQL_RULE_UNIQUE_VARIABLE_NAMES)) {
            for (uint32_t i = 0; i < op->nvars; i++) {
                bool first = true;
                for (uint32_t k = 0; k < i; k++)
                    if (gql_str_eq(op->vars[k].name, op->vars[i].name))
                        first = false;
                if (!first)
                    continue;
                uint32_t cnt = 0;
                for (uint32_t k = i; k < op->nvars; k++)
                    cnt += gql_str_eq(op->vars[k].name, op->vars[i].name);
                if (cnt < 2)
                    continue;
                uint32_t *locs = gql_arena_alloc(&c->A, cnt * sizeof *locs);
                if (!locs)
                    continue;
                uint32_t j = 0;
                /* the variable's name node starts right after the `$` */
                for (uint32_t k = i; k < op->nvars; k++)
                    if (gql_str_eq(op->vars[k].name, op->vars[i].name))
                        locs[j++] = (uint32_t)(op->vars[k].name.s - c->doc->source.body);
                gql_buf *m = msg(c);
                gql_buf_puts(m, "There can be only one variable named \"$");
                put_str(m, op->vars[i].name);
                gql_buf_puts(m, "\".");
                gql__v_emit(c, locs, cnt);
            }
        }
        /* per-operation variable definitions (several rules; ValuesOfCorrectType resets
         * them only here, so fragments see the last operation's) */
        rs->op = op;
        rs->nvar_defs = 0;
        rs->var_defs = NULL;
        udpl(c, op->dirs, op->ndirs, NULL);
    }
    for (uint32_t i = 0; i < op->nvars; i++)
        walk_variable_definition(c, &op->vars[i]);
    int loc = op->operation == GQL_OP_QUERY ? GQL_LOC_QUERY : op->operation == GQL_OP_MUTATION ? GQL_LOC_MUTATION
                                                                                               : GQL_LOC_SUBSCRIPTION;
    walk_directive_list(c, op->dirs, op->ndirs, loc);
    walk_selection_set(c, op->sel);
    if (c->mode == 0) {
        if (ON(c, GQL_RULE_NO_UNDEFINED_VARIABLES))
            each_recursive_usage(c, d, undefined_usage, NULL);
        if (ON(c, GQL_RULE_NO_UNUSED_VARIABLES)) {
            gql_strmap used;
            gql__strmap_init(&used, &c->A, 8);
            each_recursive_usage(c, d, mark_used, &used);
            rule_state *rs = RS(c);
            for (uint32_t i = 0; i < rs->nvar_defs; i++) {
                const gql_variable_def *vd = rs->var_defs[i];
                if (gql__strmap_get(&used, vd->name.s, vd->name.len))
                    continue;
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Variable \"$");
                put_str(m, vd->name);
                if (op->name.s) {
                    gql_buf_puts(m, "\" is never used in operation \"");
                    put_str(m, op->name);
                    gql_buf_puts(m, "\".");
                } else {
                    gql_buf_puts(m, "\" is never used.");
                }
                emit1(c, vd->loc);
            }
        }
        if (ON(c, GQL_RULE_VARIABLES_IN_ALLOWED_POSITION))
            each_recursive_usage(c, d, allowed_position, NULL);
    }
    POP(c->ntypes);
    unskip(c, d);
}

static void walk_fragment(gql_vctx *c, const gql_definition *d)
{
    const gql_fragment_node *f = &d->u.frag;
    const gql_type *t = gql_schema_type(c->s, f->type_cond->name.s, f->type_cond->name.len);
    PUSH(c->types, c->ntypes, gql_is_output_type(t) ? t : NULL);
    if (c->mode == 0) {
        rule_state *rs = RS(c);
        if (ON(c, GQL_RULE_UNIQUE_OPERATION_NAMES))
            skip_rule(c, GQL_RULE_UNIQUE_OPERATION_NAMES, d);
        if (ON(c, GQL_RULE_FRAGMENTS_ON_COMPOSITE_TYPES) && t && !gql_is_composite_type(t)) {
            gql_buf *m = msg(c);
            gql_buf_puts(m, "Fragment \"");
            put_str(m, f->name);
            gql_buf_puts(m, "\" cannot condition on non composite type \"");
            put_str(m, f->type_cond->name);
            gql_buf_puts(m, "\".");
            emit1(c, f->type_cond->loc);
        }
        if (ON(c, GQL_RULE_UNIQUE_FRAGMENT_NAMES)) {
            const gql_fragment_node *prev = gql__strmap_get(&rs->frag_names, f->name.s, f->name.len);
            if (prev) {
                gql_buf *m = msg(c);
                gql_buf_puts(m, "There can be only one fragment named \"");
                put_str(m, f->name);
                gql_buf_puts(m, "\".");
                emit2(c, prev->name_loc, f->name_loc);
            } else {
                gql__strmap_put(&rs->frag_names, f->name.s, f->name.len, (void *)f);
            }
            skip_rule(c, GQL_RULE_UNIQUE_FRAGMENT_NAMES, d);
        }
        if (ON(c, GQL_RULE_NO_UNUSED_FRAGMENTS)) {
            rs->frags[rs->nfrags++] = f;
            skip_rule(c, GQL_RULE_NO_UNUSED_FRAGMENTS, d);
        }
        if (ON(c, GQL_RULE_NO_FRAGMENT_CYCLES)) {
            no_fragment_cycles(c, f);
            skip_rule(c, GQL_RULE_NO_FRAGMENT_CYCLES, d);
        }
        udpl(c, f->dirs, f->ndirs, NULL);
    }
    walk_named_type(c, f->type_cond);
    walk_directive_list(c, f->dirs, f->ndirs, GQL_LOC_FRAGMENT_DEFINITION);
    walk_selection_set(c, f->sel);
    POP(c->ntypes);
    unskip(c, d);
}

/* Type-system definitions inside an executable document: graphql-js walks them too
 * (KnownTypeNames, directive rules, input field uniqueness). */
static gql_strmap *type_seen_map(gql_vctx *c, gql_str name)
{
    rule_state *rs = RS(c);
    gql_strmap *m = gql__strmap_get(&rs->type_directives, name.s, name.len);
    if (!m) {
        m = gql_arena_alloc(&c->A, sizeof *m);
        if (!m)
            return NULL;
        gql__strmap_init(m, &c->A, 4);
        gql__strmap_put(&rs->type_directives, name.s, name.len, m);
    }
    return m;
}

static void walk_input_value_defs(gql_vctx *c, const gql_input_value_def *args, uint32_t n, int loc)
{
    for (uint32_t i = 0; i < n; i++) {
        const gql_input_value_def *a = &args[i];
        udpl(c, a->dirs, a->ndirs, NULL);
        if (a->description)
            walk_value(c, a->description);
        walk_type_node(c, a->type);
        if (a->default_value)
            walk_value(c, a->default_value);
        walk_directive_list(c, a->dirs, a->ndirs, loc);
    }
}

static void walk_sdl(gql_vctx *c, const gql_definition *d)
{
    if (c->mode != 0)
        return;
    switch (d->kind) {
    case GQL_DEF_SCHEMA: {
        const gql_schema_def_node *sd = &d->u.schema;
        udpl(c, sd->dirs, sd->ndirs, &RS(c)->schema_directives);
        if (sd->description)
            walk_value(c, sd->description);
        walk_directive_list(c, sd->dirs, sd->ndirs, GQL_LOC_SCHEMA);
        for (uint32_t i = 0; i < sd->nops; i++)
            walk_named_type(c, sd->ops[i].type);
        break;
    }
    case GQL_DEF_DIRECTIVE: {
        const gql_directive_def_node *dd = &d->u.directive;
        if (dd->description)
            walk_value(c, dd->description);
        walk_input_value_defs(c, dd->args, dd->nargs, GQL_LOC_ARGUMENT_DEFINITION);
        break;
    }
    case GQL_DEF_TYPE: {
        const gql_typedef_node *t = &d->u.type;
        static const int locs[] = {GQL_LOC_SCALAR, GQL_LOC_OBJECT, GQL_LOC_INTERFACE,
                                   GQL_LOC_UNION,  GQL_LOC_ENUM,   GQL_LOC_INPUT_OBJECT};
        udpl(c, t->dirs, t->ndirs, type_seen_map(c, t->name));
        if (t->description)
            walk_value(c, t->description);
        if (t->kind == GQL_TD_OBJECT || t->kind == GQL_TD_INTERFACE)
            for (uint32_t i = 0; i < t->ntypes; i++)
                walk_named_type(c, t->types[i]);
        walk_directive_list(c, t->dirs, t->ndirs, locs[t->kind]);
        for (uint32_t i = 0; i < t->nfields; i++) {
            const gql_field_def_node *f = &t->fields[i];
            udpl(c, f->dirs, f->ndirs, NULL);
            if (f->description)
                walk_value(c, f->description);
            walk_input_value_defs(c, f->args, f->nargs, GQL_LOC_ARGUMENT_DEFINITION);
            walk_type_node(c, f->type);
            walk_directive_list(c, f->dirs, f->ndirs, GQL_LOC_FIELD_DEFINITION);
        }
        if (t->kind == GQL_TD_UNION)
            for (uint32_t i = 0; i < t->ntypes; i++)
                walk_named_type(c, t->types[i]);
        for (uint32_t i = 0; i < t->nvalues; i++) {
            const gql_enum_value_def *v = &t->values[i];
            udpl(c, v->dirs, v->ndirs, NULL);
            if (v->description)
                walk_value(c, v->description);
            walk_directive_list(c, v->dirs, v->ndirs, GQL_LOC_ENUM_VALUE);
        }
        walk_input_value_defs(c, t->input_fields, t->ninput_fields, GQL_LOC_INPUT_FIELD_DEFINITION);
        break;
    }
    default:
        break;
    }
}

/* ---- entry point ---------------------------------------------------------------------- */

static void walk_document(gql_vctx *c)
{
    gql_document *doc = c->doc;
    rule_state *rs = RS(c);
    /* Document enter */
    if (ON(c, GQL_RULE_EXECUTABLE_DEFINITIONS)) {
        for (uint32_t i = 0; i < doc->ndefs; i++) {
            const gql_definition *d = &doc->defs[i];
            if (d->kind == GQL_DEF_OPERATION || d->kind == GQL_DEF_FRAGMENT)
                continue;
            gql_buf *m = msg(c);
            if (d->kind == GQL_DEF_SCHEMA) {
                gql_buf_puts(m, "The schema definition is not executable.");
            } else {
                gql_str name = d->kind == GQL_DEF_TYPE ? d->u.type.name : d->u.directive.name;
                gql_buf_puts(m, "The \"");
                put_str(m, name);
                gql_buf_puts(m, "\" definition is not executable.");
            }
            emit1(c, d->loc);
        }
    }
    for (uint32_t i = 0; i < doc->ndefs; i++)
        rs->operation_count += doc->defs[i].kind == GQL_DEF_OPERATION;
    for (uint32_t i = 0; i < doc->ndefs; i++) {
        const gql_definition *d = &doc->defs[i];
        c->top = d;
        if (d->kind == GQL_DEF_OPERATION)
            walk_operation(c, d);
        else if (d->kind == GQL_DEF_FRAGMENT)
            walk_fragment(c, d);
        else
            walk_sdl(c, d);
    }
    c->top = NULL;
    /* Document leave */
    if ((c->rules >> GQL_RULE_NO_UNUSED_FRAGMENTS) & 1) {
        uint32_t nf = doc->nfragments;
        uint8_t *used = gql_arena_calloc(&c->A, nf + 1, 1);
        uint32_t *refs = gql_arena_alloc(&c->A, (nf + 1) * sizeof *refs);
        if (used && refs) {
            for (uint32_t i = 0; i < rs->nops; i++) {
                uint32_t k = referenced_fragments(c, rs->ops[i]->sel, refs);
                for (uint32_t j = 0; j < k; j++)
                    used[refs[j]] = 1;
            }
            for (uint32_t i = 0; i < rs->nfrags; i++) {
                const gql_fragment_node *f = rs->frags[i];
                if (used[fragment_index(c, f)])
                    continue;
                gql_buf *m = msg(c);
                gql_buf_puts(m, "Fragment \"");
                put_str(m, f->name);
                gql_buf_puts(m, "\" is never used.");
                emit1(c, gql__v_fragment_def_loc(c, f));
            }
        }
    }
}

uint32_t gql_validate(const gql_schema *s, gql_document *doc, const gql_validate_options *opts, gql_errors *errors)
{
    gql_vctx *c = calloc(1, sizeof *c);
    rule_state *rs = calloc(1, sizeof *rs);
    if (!c || !rs) {
        free(c);
        free(rs);
        gql_errors_add(errors, "Out of memory while validating the document.");
        return 1;
    }
    c->s = s;
    c->doc = doc;
    c->errs = errors;
    c->rs = rs;
    c->rules = opts && opts->rules ? opts->rules : GQL_RULES_SPECIFIED;
    c->max_errors = opts && opts->max_errors ? opts->max_errors : 100;
    c->overlap_budget = opts && opts->max_overlap_work ? opts->max_overlap_work : 2000000;
    gql_arena_init(&c->A, 0);
    gql_buf_init(&c->m, 1 << 20);
    c->usages = gql_arena_calloc(&c->A, doc->ndefs + 1, sizeof *c->usages);
    c->spreads = gql_arena_calloc(&c->A, doc->nselection_sets + 1, sizeof *c->spreads);
    rs->ops = gql_arena_calloc(&c->A, doc->ndefs + 1, sizeof *rs->ops);
    rs->frags = gql_arena_calloc(&c->A, doc->ndefs + 1, sizeof *rs->frags);
    rs->frag_visited = gql_arena_calloc(&c->A, doc->nfragments + 1, 1);
    uint32_t nerr = 0;
    if (!c->usages || !c->spreads || !rs->ops || !rs->frags || !rs->frag_visited) {
        gql_errors_add(errors, "Out of memory while validating the document.");
        nerr = 1;
        goto out;
    }
    gql__strmap_init(&rs->op_names, &c->A, 4);
    gql__strmap_init(&rs->frag_names, &c->A, doc->nfragments);
    gql__strmap_init(&rs->doc_directives, &c->A, 4);
    gql__strmap_init(&rs->defined_types, &c->A, 4);
    gql__strmap_init(&rs->type_directives, &c->A, 4);
    gql__strmap_init(&rs->schema_directives, &c->A, 4);
    /* names known to KnownTypeNames: schema types, then the document's type definitions */
    rs->type_names = gql_arena_alloc(&c->A, (s->ntypes + doc->ndefs + 1) * sizeof *rs->type_names);
    if (rs->type_names)
        for (uint32_t i = 0; i < s->ntypes; i++)
            rs->type_names[rs->ntype_names++] = (gql_str){s->types[i]->name, s->types[i]->name_len};
    for (uint32_t i = 0; i < doc->ndefs; i++) {
        const gql_definition *d = &doc->defs[i];
        if (d->kind == GQL_DEF_DIRECTIVE)
            gql__strmap_put(&rs->doc_directives, d->u.directive.name.s, d->u.directive.name.len, (void *)&d->u.directive);
        if (d->kind == GQL_DEF_TYPE && !d->u.type.is_extension &&
            !gql__strmap_get(&rs->defined_types, d->u.type.name.s, d->u.type.name.len)) {
            gql__strmap_put(&rs->defined_types, d->u.type.name.s, d->u.type.name.len, (void *)1);
            if (rs->type_names)
                rs->type_names[rs->ntype_names++] = d->u.type.name;
        }
    }
    if (setjmp(c->abort_jb) == 0) {
        /* pass 1: variable usages of every operation and fragment */
        c->mode = 1;
        for (uint32_t i = 0; i < doc->ndefs; i++) {
            const gql_definition *d = &doc->defs[i];
            c->collecting = &c->usages[i];
            c->top = d;
            if (d->kind == GQL_DEF_OPERATION) {
                /* variable definitions are not walked for usages */
                const gql_type *root = gql_schema_root_type(s, (gql_operation_type)d->u.op.operation);
                PUSH(c->types, c->ntypes, root && root->kind == GQL_KIND_OBJECT ? root : NULL);
                walk_directive_list(c, d->u.op.dirs, d->u.op.ndirs, -1);
                walk_selection_set(c, d->u.op.sel);
                POP(c->ntypes);
            } else if (d->kind == GQL_DEF_FRAGMENT) {
                const gql_type *t = gql_schema_type(s, d->u.frag.type_cond->name.s, d->u.frag.type_cond->name.len);
                PUSH(c->types, c->ntypes, gql_is_output_type(t) ? t : NULL);
                walk_directive_list(c, d->u.frag.dirs, d->u.frag.ndirs, -1);
                walk_selection_set(c, d->u.frag.sel);
                POP(c->ntypes);
            }
        }
        c->collecting = NULL;
        c->mode = 0;
        c->ntypes = c->nparents = c->ninputs = c->nfielddefs = c->ndvs = 0;
        /* pass 2: the rules */
        walk_document(c);
    }
    nerr = c->nerrors;
out:
    gql__overlap_free(c);
    gql_buf_free(&c->m);
    gql_arena_free(&c->A);
    free(rs);
    free(c);
    if (nerr == 0)
        doc->validated_for = s;
    return nerr;
}
