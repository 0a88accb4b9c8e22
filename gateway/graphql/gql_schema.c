/*
 * Schema queries: lookups, type predicates and comparisons (graphql-js semantics),
 * reference counting and destruction. Building lives in gql_schema_build.c.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "gql_parse.h"
#include "gql_schema_internal.h"

static const char *const location_names[GQL_LOC_COUNT] = {
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD", "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE",
    "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
};

const char *gql_directive_location_name(gql_directive_location loc)
{
    return (unsigned)loc < GQL_LOC_COUNT ? location_names[loc] : "";
}

gql_schema *gql_schema_ref(gql_schema *s)
{
    if (s)
        atomic_fetch_add_explicit((_Atomic int *)&s->_refs, 1, memory_order_relaxed);
    return s;
}

static void release_directives(gql_applied_directive *d, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        if (d[i].args)
            json_decref(d[i].args);
}

static void release_input_values(gql_input_value *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (v[i].default_value)
            json_decref(v[i].default_value);
        release_directives(v[i].directives, v[i].ndirectives);
    }
}

/* Frees everything, also a schema that failed half-way through building. */
static void release_json(gql_schema *s);

void gql__schema_destroy(gql_schema *s);
void gql__schema_destroy(gql_schema *s)
{
    release_json(s);
    for (uint32_t i = 0; i < s->_nowned; i++)
        json_decref(s->_owned[i]);
    free(s->_owned);
    for (uint32_t i = 0; i < s->_ndocs; i++)
        gql_document_free(s->_docs[i]);
    free(s->_docs);
    gql_arena_free(&s->arena);
    free(s);
}

void gql_schema_unref(gql_schema *s)
{
    if (!s)
        return;
    if (atomic_fetch_sub_explicit((_Atomic int *)&s->_refs, 1, memory_order_acq_rel) == 1)
        gql__schema_destroy(s);
}

/* Drops the JSON values hanging off every type the builder created (coerced
 * defaults and directive arguments); the rest lives in the arena. */
static void release_json(gql_schema *s)
{
    for (uint32_t i = 0; i < s->_nall; i++) {
        gql_type *t = s->_all[i];
        release_directives(t->directives, t->ndirectives);
        for (uint32_t j = 0; j < t->nfields; j++) {
            release_input_values(t->fields[j].args, t->fields[j].nargs);
            release_directives(t->fields[j].directives, t->fields[j].ndirectives);
        }
        release_input_values(t->input_fields, t->ninput_fields);
        for (uint32_t j = 0; j < t->nvalues; j++)
            release_directives(t->values[j].directives, t->values[j].ndirectives);
    }
    for (uint32_t i = 0; i < s->_nalldirs; i++)
        release_input_values(s->_alldirs[i]->args, s->_alldirs[i]->nargs);
    release_directives(s->schema_directives, s->nschema_directives);
}

const gql_type *gql_schema_type(const gql_schema *s, const char *name, size_t len)
{
    return s->_types ? gql__strmap_get(s->_types, name, len) : NULL;
}

const gql_directive_def *gql_schema_directive(const gql_schema *s, const char *name, size_t len)
{
    return s->_directives ? gql__strmap_get(s->_directives, name, len) : NULL;
}

const gql_field *gql_type_field(const gql_type *t, const char *name, size_t len)
{
    if (!t || (t->kind != GQL_KIND_OBJECT && t->kind != GQL_KIND_INTERFACE))
        return NULL;
    if (t->_field_map)
        return gql__strmap_get(t->_field_map, name, len);
    for (uint32_t i = 0; i < t->nfields; i++)
        if (t->fields[i].name_len == len && memcmp(t->fields[i].name, name, len) == 0)
            return &t->fields[i];
    return NULL;
}

const gql_input_value *gql_type_input_field(const gql_type *t, const char *name, size_t len)
{
    if (!t || t->kind != GQL_KIND_INPUT_OBJECT)
        return NULL;
    if (t->_field_map)
        return gql__strmap_get(t->_field_map, name, len);
    for (uint32_t i = 0; i < t->ninput_fields; i++)
        if (t->input_fields[i].name_len == len && memcmp(t->input_fields[i].name, name, len) == 0)
            return &t->input_fields[i];
    return NULL;
}

const gql_enum_value *gql_type_enum_value(const gql_type *t, const char *name, size_t len)
{
    if (!t || t->kind != GQL_KIND_ENUM)
        return NULL;
    if (t->_field_map)
        return gql__strmap_get(t->_field_map, name, len);
    for (uint32_t i = 0; i < t->nvalues; i++)
        if (t->values[i].name_len == len && memcmp(t->values[i].name, name, len) == 0)
            return &t->values[i];
    return NULL;
}

const gql_input_value *gql_field_arg(const gql_field *f, const char *name, size_t len)
{
    for (uint32_t i = 0; i < f->nargs; i++)
        if (f->args[i].name_len == len && memcmp(f->args[i].name, name, len) == 0)
            return &f->args[i];
    return NULL;
}

const gql_applied_directive *gql_directives_find(const gql_applied_directive *list, uint32_t n, const char *name)
{
    for (uint32_t i = 0; i < n; i++)
        if (strcmp(list[i].name, name) == 0)
            return &list[i];
    return NULL;
}

const gql_type *gql_named_type(const gql_type *t)
{
    while (t && (t->kind == GQL_KIND_LIST || t->kind == GQL_KIND_NON_NULL))
        t = t->of;
    return t;
}

const gql_type *gql_nullable_type(const gql_type *t)
{
    return t && t->kind == GQL_KIND_NON_NULL ? t->of : t;
}

bool gql_is_input_type(const gql_type *t)
{
    t = gql_named_type(t);
    return t && (t->kind == GQL_KIND_SCALAR || t->kind == GQL_KIND_ENUM || t->kind == GQL_KIND_INPUT_OBJECT);
}

bool gql_is_output_type(const gql_type *t)
{
    t = gql_named_type(t);
    return t && t->kind != GQL_KIND_INPUT_OBJECT;
}

bool gql_is_leaf_type(const gql_type *t)
{
    return t && (t->kind == GQL_KIND_SCALAR || t->kind == GQL_KIND_ENUM);
}

bool gql_is_composite_type(const gql_type *t)
{
    return t && (t->kind == GQL_KIND_OBJECT || t->kind == GQL_KIND_INTERFACE || t->kind == GQL_KIND_UNION);
}

bool gql_is_abstract_type(const gql_type *t)
{
    return t && (t->kind == GQL_KIND_INTERFACE || t->kind == GQL_KIND_UNION);
}

bool gql_schema_is_sub_type(const gql_schema *s, const gql_type *abstract, const gql_type *maybe_sub)
{
    (void)s;
    if (!abstract || !maybe_sub || !abstract->_subtypes || !maybe_sub->name)
        return false;
    uint32_t i = maybe_sub->index;
    return (abstract->_subtypes[i / 64] >> (i % 64)) & 1;
}

bool gql__type_eq(const gql_type *a, const gql_type *b)
{
    while (a != b) {
        if (!a || !b || a->kind != b->kind || (a->kind != GQL_KIND_LIST && a->kind != GQL_KIND_NON_NULL))
            return false;
        a = a->of;
        b = b->of;
    }
    return true;
}

bool gql_is_type_sub_type_of(const gql_schema *s, const gql_type *maybe_sub, const gql_type *super)
{
    for (;;) {
        if (gql__type_eq(maybe_sub, super))
            return true;
        if (super->kind == GQL_KIND_NON_NULL) {
            if (maybe_sub->kind != GQL_KIND_NON_NULL)
                return false;
            maybe_sub = maybe_sub->of;
            super = super->of;
            continue;
        }
        if (maybe_sub->kind == GQL_KIND_NON_NULL) {
            maybe_sub = maybe_sub->of;
            continue;
        }
        if (super->kind == GQL_KIND_LIST) {
            if (maybe_sub->kind != GQL_KIND_LIST)
                return false;
            maybe_sub = maybe_sub->of;
            super = super->of;
            continue;
        }
        if (maybe_sub->kind == GQL_KIND_LIST)
            return false;
        return gql_is_abstract_type(super) &&
               (maybe_sub->kind == GQL_KIND_INTERFACE || maybe_sub->kind == GQL_KIND_OBJECT) &&
               gql_schema_is_sub_type(s, super, maybe_sub);
    }
}

bool gql_do_types_overlap(const gql_schema *s, const gql_type *a, const gql_type *b)
{
    if (a == b)
        return true;
    if (gql_is_abstract_type(a)) {
        if (gql_is_abstract_type(b)) {
            /* some possible type of a is a sub type of b */
            for (uint32_t i = 0; i < a->npossible; i++)
                if (gql_schema_is_sub_type(s, b, a->possible[i]))
                    return true;
            return false;
        }
        return gql_schema_is_sub_type(s, a, b);
    }
    if (gql_is_abstract_type(b))
        return gql_schema_is_sub_type(s, b, a);
    return false;
}

void gql_type_print(gql_buf *out, const gql_type *t)
{
    if (!t)
        return;
    if (t->kind == GQL_KIND_LIST) {
        gql_buf_putc(out, '[');
        gql_type_print(out, t->of);
        gql_buf_putc(out, ']');
    } else if (t->kind == GQL_KIND_NON_NULL) {
        gql_type_print(out, t->of);
        gql_buf_putc(out, '!');
    } else {
        gql_buf_append(out, t->name, t->name_len);
    }
}

const gql_type *gql_schema_root_type(const gql_schema *s, gql_operation_type op)
{
    switch (op) {
    case GQL_OP_QUERY:
        return s->query;
    case GQL_OP_MUTATION:
        return s->mutation;
    case GQL_OP_SUBSCRIPTION:
        return s->subscription;
    }
    return NULL;
}

const gql_type *gql__type_from_ast(const gql_schema *s, const gql_type_node *node, gql_arena *a)
{
    if (node->kind == GQL_TYPE_NAMED)
        return gql_schema_type(s, node->name.s, node->name.len);
    const gql_type *inner = gql__type_from_ast(s, node->of, a);
    if (!inner)
        return NULL;
    /* reuse the schema's interned wrapper when it exists (never create one there) */
    const gql_type *interned = node->kind == GQL_TYPE_LIST ? inner->_list : inner->_nonnull;
    if (interned)
        return interned;
    gql_type *w = gql_arena_calloc(a, 1, sizeof *w);
    if (!w)
        return NULL;
    w->kind = node->kind == GQL_TYPE_LIST ? GQL_KIND_LIST : GQL_KIND_NON_NULL;
    w->of = inner;
    return w;
}
