/*
 * Building a schema from SDL files (graphql-js buildASTSchema semantics).
 *
 * Phases, each of which stops the build if it reported errors:
 *   1. parse the built-in prelude and every file;
 *   2. SDL rules (graphql-js's specifiedSDLRules: unique names, known types and
 *      directives, possible extensions, directive arguments);
 *   3. create the types, merging `extend` definitions in file order, and resolve
 *      type references;
 *   4. coerce constant values: default values and the arguments of every applied
 *      directive (checked like ValuesOfCorrectType — stricter than graphql-js, as the
 *      specification asks), deprecation reasons, @specifiedBy, @oneOf;
 *   5. root types, the type list in graphql-js's order (so introspection lists types
 *      identically), implementations and sub-type sets;
 *   6. the specification's type-system validation (graphql-js type/validate.js).
 *
 * All memory is in the schema's arena; JSON values hang off the types and are
 * released by gql_schema_unref().
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql_parse.h"
#include "gql_print.h"
#include "gql_schema_internal.h"
#include "gql_values.h"

void gql__schema_destroy(gql_schema *s);

typedef struct defref {
    gql_definition *def;
    const gql_source *src;
    bool builtin;
} defref;

typedef struct builder {
    gql_schema *s;
    gql_arena *A;
    gql_errors *errs;
    uint32_t nerr;
    defref *defs;
    uint32_t ndefs;
    gql_strmap types; /* candidate named types by name (built-in and user) */
    gql_strmap dirs;  /* directive definitions by name */
    int oom;
} builder;

/* ---- errors ------------------------------------------------------------------------ */

static gql_error *err_at(builder *b, const gql_source *src, uint32_t off, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static gql_error *err_at(builder *b, const gql_source *src, uint32_t off, const char *fmt, ...)
{
    char m[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    gql_error *e = gql_errors_add(b->errs, m);
    if (src)
        gql_error_add_location(b->errs, e, src, off);
    b->nerr++;
    return e;
}

static void err_loc(builder *b, gql_error *e, const gql_source *src, uint32_t off)
{
    if (src)
        gql_error_add_location(b->errs, e, src, off);
}

static void *balloc(builder *b, size_t n)
{
    void *p = gql_arena_calloc(b->A, 1, n ? n : 1);
    if (!p)
        b->oom = 1;
    return p;
}

static char *bstr(builder *b, gql_str s)
{
    char *p = gql_arena_strndup(b->A, s.s ? s.s : "", s.len);
    if (!p)
        b->oom = 1;
    return p;
}

static const char *description_of(builder *b, const gql_value *d)
{
    return d ? bstr(b, d->u.str) : NULL;
}

static bool starts_with_dunder(gql_str s)
{
    return s.len >= 2 && s.s[0] == '_' && s.s[1] == '_';
}

static const char *const td_kind_word[] = {"scalar", "object", "interface", "union", "enum", "input object"};

/* ---- phase 2: SDL rules ---------------------------------------------------------- */

static void collect_type_names(builder *b, gql_str **names, uint32_t *n)
{
    /* defined type names in document order (user definitions) */
    *names = malloc((b->ndefs + 1) * sizeof **names);
    *n = 0;
    if (!*names)
        return;
    for (uint32_t i = 0; i < b->ndefs; i++)
        if (!b->defs[i].builtin && b->defs[i].def->kind == GQL_DEF_TYPE && !b->defs[i].def->u.type.is_extension)
            (*names)[(*n)++] = b->defs[i].def->u.type.name;
}

static void did_you_mean_names(gql_buf *m, gql_str input, const gql_str *names, uint32_t n)
{
    uint32_t *idx = malloc((n + 1) * sizeof *idx);
    gql_str *sugg = malloc((n + 1) * sizeof *sugg);
    if (idx && sugg) {
        uint32_t k = gql__suggestion_list(input.s, input.len, names, n, idx);
        for (uint32_t i = 0; i < k; i++)
            sugg[i] = names[idx[i]];
        gql__did_you_mean(m, NULL, sugg, k);
    }
    free(idx);
    free(sugg);
}

static const char *const standard_type_names[] = {"String",  "Int",        "Float",           "Boolean",
                                                  "ID",      "__Schema",   "__Directive",     "__DirectiveLocation",
                                                  "__Type",  "__Field",    "__InputValue",    "__EnumValue",
                                                  "__TypeKind"};

static bool is_standard_type_name(gql_str n)
{
    for (size_t i = 0; i < sizeof standard_type_names / sizeof *standard_type_names; i++)
        if (gql_str_eqc(n, standard_type_names[i]))
            return true;
    return false;
}

/* KnownTypeNames for one reference in SDL. */
static void check_type_ref(builder *b, const gql_type_node *t, const gql_source *src, const gql_str *names, uint32_t n)
{
    while (t->kind != GQL_TYPE_NAMED)
        t = t->of;
    if (gql__strmap_get(&b->types, t->name.s, t->name.len) || is_standard_type_name(t->name))
        return;
    for (uint32_t i = 0; i < n; i++)
        if (gql_str_eq(names[i], t->name))
            return;
    /* suggestions: standard names, then defined ones */
    size_t ns = sizeof standard_type_names / sizeof *standard_type_names;
    gql_str *all = malloc((ns + n + 1) * sizeof *all);
    gql_buf m;
    gql_buf_init(&m, 0);
    gql_buf_puts(&m, "Unknown type \"");
    gql_buf_append(&m, t->name.s, t->name.len);
    gql_buf_puts(&m, "\".");
    if (all) {
        for (size_t i = 0; i < ns; i++)
            all[i] = gql_str_c(standard_type_names[i]);
        memcpy(all + ns, names, n * sizeof *all);
        did_you_mean_names(&m, t->name, all, (uint32_t)(ns + n));
        free(all);
    }
    gql_error *e = gql_errors_addn(b->errs, m.data, m.len);
    err_loc(b, e, src, t->loc);
    b->nerr++;
    gql_buf_free(&m);
}

/* directive location of an applied directive, for KnownDirectives */
typedef struct dir_site {
    gql_directive_location loc;
    const gql_directive *dirs;
    uint32_t ndirs;
    const gql_source *src;
    void *seen_key; /* types and the schema share one seen-set across extensions */
} dir_site;

static uint32_t directive_def_locations(const gql_directive_def_node *d)
{
    uint32_t bits = 0;
    for (uint32_t i = 0; i < d->nlocations; i++)
        for (int l = 0; l < GQL_LOC_COUNT; l++)
            if (gql_str_eqc(d->locations[i].name, gql_directive_location_name((gql_directive_location)l)))
                bits |= 1u << l;
    return bits;
}

/* Known directives, unique per location, known/unique/required arguments. */
static void check_applied(builder *b, const dir_site *site, gql_ptrmap *seen_per_key)
{
    gql_strmap local;
    gql_strmap *seen = NULL;
    if (site->seen_key) {
        uintptr_t v;
        if (gql__ptrmap_get(seen_per_key, site->seen_key, NULL, &v)) {
            seen = (gql_strmap *)v;
        } else {
            seen = balloc(b, sizeof *seen);
            if (!seen)
                return;
            gql__strmap_init(seen, b->A, 4);
            gql__ptrmap_put(seen_per_key, site->seen_key, NULL, (uintptr_t)seen);
        }
    } else {
        gql__strmap_init(&local, b->A, 4);
        seen = &local;
    }
    for (uint32_t i = 0; i < site->ndirs; i++) {
        const gql_directive *d = &site->dirs[i];
        const gql_directive_def *def = gql__strmap_get(&b->dirs, d->name.s, d->name.len);
        if (!def) {
            err_at(b, site->src, d->loc, "Unknown directive \"@%.*s\".", (int)d->name.len, d->name.s);
            continue;
        }
        if (!(def->locations & (1u << site->loc)))
            err_at(b, site->src, d->loc, "Directive \"@%.*s\" may not be used on %s.", (int)d->name.len, d->name.s,
                   gql_directive_location_name(site->loc));
        if (!def->repeatable) {
            const gql_directive *prev = gql__strmap_get(seen, d->name.s, d->name.len);
            if (prev) {
                gql_error *e = err_at(b, site->src, prev->loc,
                                      "The directive \"@%.*s\" can only be used once at this location.",
                                      (int)d->name.len, d->name.s);
                err_loc(b, e, site->src, d->loc);
            } else {
                gql__strmap_put(seen, d->name.s, d->name.len, (void *)d);
            }
        }
        /* arguments: known, unique, required */
        for (uint32_t j = 0; j < d->nargs; j++) {
            const gql_argument *a = &d->args[j];
            bool known = false;
            for (uint32_t k = 0; k < def->nargs; k++)
                if (def->args[k].name_len == a->name.len && memcmp(def->args[k].name, a->name.s, a->name.len) == 0)
                    known = true;
            if (!known) {
                gql_str *names = malloc((def->nargs + 1) * sizeof *names);
                gql_buf m;
                gql_buf_init(&m, 0);
                gql_buf_puts(&m, "Unknown argument \"");
                gql_buf_append(&m, a->name.s, a->name.len);
                gql_buf_printf(&m, "\" on directive \"@%s\".", def->name);
                if (names) {
                    for (uint32_t k = 0; k < def->nargs; k++)
                        names[k] = (gql_str){def->args[k].name, def->args[k].name_len};
                    did_you_mean_names(&m, a->name, names, def->nargs);
                    free(names);
                }
                gql_error *e = gql_errors_addn(b->errs, m.data, m.len);
                err_loc(b, e, site->src, a->loc);
                b->nerr++;
                gql_buf_free(&m);
            }
            bool first = true;
            for (uint32_t k = 0; k < j; k++)
                if (gql_str_eq(d->args[k].name, a->name))
                    first = false;
            if (first) {
                gql_error *e = NULL;
                for (uint32_t k = j + 1; k < d->nargs; k++)
                    if (gql_str_eq(d->args[k].name, a->name)) {
                        if (!e) {
                            e = err_at(b, site->src, a->loc, "There can be only one argument named \"%.*s\".",
                                       (int)a->name.len, a->name.s);
                        }
                        err_loc(b, e, site->src, d->args[k].loc);
                    }
            }
        }
        for (uint32_t k = 0; k < def->nargs; k++) {
            const gql_input_value *ad = &def->args[k];
            bool required = ad->node ? (ad->node->type->kind == GQL_TYPE_NON_NULL && !ad->node->default_value)
                                     : (ad->type && ad->type->kind == GQL_KIND_NON_NULL && !ad->has_default);
            if (!required)
                continue;
            bool given = false;
            for (uint32_t j = 0; j < d->nargs; j++)
                if (d->args[j].name.len == ad->name_len && memcmp(d->args[j].name.s, ad->name, ad->name_len) == 0)
                    given = true;
            if (!given) {
                gql_buf t;
                gql_buf_init(&t, 0);
                if (ad->node)
                    gql_print_type_node(ad->node->type, &t);
                else
                    gql_type_print(&t, ad->type);
                err_at(b, site->src, d->loc,
                       "Directive \"@%s\" argument \"%s\" of type \"%.*s\" is required, but it was not provided.",
                       def->name, ad->name, (int)t.len, t.data ? t.data : "");
                gql_buf_free(&t);
            }
        }
    }
}

/* ---- shells: named types and directive definitions -------------------------------- */

static const gql_type_kind td_to_kind[] = {GQL_KIND_SCALAR, GQL_KIND_OBJECT, GQL_KIND_INTERFACE,
                                           GQL_KIND_UNION,  GQL_KIND_ENUM,   GQL_KIND_INPUT_OBJECT};

static void register_all(builder *b, gql_type *t)
{
    gql_schema *s = b->s;
    gql_type **n = gql_arena_alloc(b->A, (s->_nall + 1) * sizeof *n);
    if (!n) {
        b->oom = 1;
        return;
    }
    if (s->_nall)
        memcpy(n, s->_all, s->_nall * sizeof *n);
    n[s->_nall++] = t;
    s->_all = n;
}

/* Creates the named type for a definition (built-in or user), without its members. */
static gql_type *create_type(builder *b, const defref *r)
{
    const gql_typedef_node *td = &r->def->u.type;
    gql_type *t = balloc(b, sizeof *t);
    if (!t)
        return NULL;
    t->kind = (uint8_t)td_to_kind[td->kind];
    t->builtin = r->builtin;
    t->name = bstr(b, td->name);
    t->name_len = td->name.len;
    t->description = description_of(b, td->description);
    t->node = td;
    t->source = r->src;
    return t;
}

static void fill_input_value(builder *b, gql_input_value *iv, const gql_input_value_def *d, const gql_source *src,
                             uint32_t index)
{
    iv->name = bstr(b, d->name);
    iv->name_len = d->name.len;
    iv->description = description_of(b, d->description);
    iv->node = d;
    iv->source = src;
    iv->index = index;
    iv->has_default = d->default_value != NULL;
}

static gql_directive_def *create_directive(builder *b, const defref *r)
{
    const gql_directive_def_node *dd = &r->def->u.directive;
    gql_directive_def *d = balloc(b, sizeof *d);
    if (!d)
        return NULL;
    d->name = bstr(b, dd->name);
    d->name_len = dd->name.len;
    d->description = description_of(b, dd->description);
    d->locations = directive_def_locations(dd);
    d->repeatable = dd->repeatable;
    d->builtin = r->builtin;
    d->node = dd;
    d->source = r->src;
    d->nargs = dd->nargs;
    d->args = balloc(b, (dd->nargs + 1) * sizeof *d->args);
    if (d->args)
        for (uint32_t i = 0; i < dd->nargs; i++)
            fill_input_value(b, &d->args[i], &dd->args[i], r->src, i);
    gql_schema *s = b->s;
    gql_directive_def **n = gql_arena_alloc(b->A, (s->_nalldirs + 1) * sizeof *n);
    if (n) {
        if (s->_nalldirs)
            memcpy(n, s->_alldirs, s->_nalldirs * sizeof *n);
        n[s->_nalldirs++] = d;
        s->_alldirs = n;
    } else {
        b->oom = 1;
    }
    return d;
}

/* ---- phase 2 driver --------------------------------------------------------------- */

static void check_unique_args(builder *b, const gql_input_value_def *args, uint32_t n, const gql_source *src,
                              const char *parent_fmt_a, const char *parent_b)
{
    for (uint32_t i = 0; i < n; i++) {
        bool first = true;
        for (uint32_t k = 0; k < i; k++)
            if (gql_str_eq(args[k].name, args[i].name))
                first = false;
        if (!first)
            continue;
        gql_error *e = NULL;
        for (uint32_t k = i + 1; k < n; k++)
            if (gql_str_eq(args[k].name, args[i].name)) {
                if (!e)
                    e = err_at(b, src, args[i].name_loc, "Argument \"%s%s(%.*s:)\" can only be defined once.",
                               parent_fmt_a, parent_b, (int)args[i].name.len, args[i].name.s);
                err_loc(b, e, src, args[k].name_loc);
            }
    }
}

static void sdl_rules(builder *b)
{
    gql_str *names;
    uint32_t nnames;
    collect_type_names(b, &names, &nnames);
    if (!names) {
        b->oom = 1;
        return;
    }
    const defref *schema_def = NULL;
    const gql_operation_type_def *op_seen[3] = {NULL, NULL, NULL};
    const gql_source *op_src[3] = {NULL, NULL, NULL};
    gql_strmap first_type, first_dir, fields_seen;
    gql__strmap_init(&first_type, b->A, 16);
    gql__strmap_init(&first_dir, b->A, 4);
    gql__strmap_init(&fields_seen, b->A, 64);
    gql_ptrmap dir_seen;
    gql__ptrmap_init(&dir_seen, b->A);
    /* which file each remembered first definition came from */
    gql_ptrmap src_of;
    gql__ptrmap_init(&src_of, b->A);
#define REMEMBER(node) gql__ptrmap_put(&src_of, (node), NULL, (uintptr_t)src)
#define SOURCE_OF(node) (gql__ptrmap_get(&src_of, (node), NULL, &srcv) ? (const gql_source *)srcv : src)
    uintptr_t srcv;

    for (uint32_t i = 0; i < b->ndefs; i++) {
        const defref *r = &b->defs[i];
        if (r->builtin)
            continue;
        const gql_definition *d = r->def;
        const gql_source *src = r->src;
        switch (d->kind) {
        case GQL_DEF_OPERATION:
        case GQL_DEF_FRAGMENT:
            err_at(b, src, d->loc, "Executable definitions are not allowed in a schema (found a %s).",
                   d->kind == GQL_DEF_OPERATION ? "operation" : "fragment");
            break;
        case GQL_DEF_SCHEMA: {
            const gql_schema_def_node *sd = &d->u.schema;
            if (!sd->is_extension) {
                if (schema_def)
                    err_at(b, src, d->loc, "Must provide only one schema definition.");
                else
                    schema_def = r;
            }
            for (uint32_t k = 0; k < sd->nops; k++) {
                int op = sd->ops[k].operation;
                if (op_seen[op]) {
                    gql_error *e = err_at(b, op_src[op], op_seen[op]->loc, "There can be only one %s type in schema.",
                                          gql_operation_type_name((gql_operation_type)op));
                    err_loc(b, e, src, sd->ops[k].loc);
                } else {
                    op_seen[op] = &sd->ops[k];
                    op_src[op] = src;
                }
                check_type_ref(b, sd->ops[k].type, src, names, nnames);
            }
            dir_site site = {GQL_LOC_SCHEMA, sd->dirs, sd->ndirs, src, (void *)&schema_def};
            check_applied(b, &site, &dir_seen);
            break;
        }
        case GQL_DEF_DIRECTIVE: {
            const gql_directive_def_node *dd = &d->u.directive;
            const gql_directive_def_node *prev = gql__strmap_get(&first_dir, dd->name.s, dd->name.len);
            if (prev) {
                gql_error *e = err_at(b, SOURCE_OF(prev), prev->name_loc, "There can be only one directive named \"@%.*s\".",
                                      (int)dd->name.len, dd->name.s);
                err_loc(b, e, src, dd->name_loc);
            } else {
                gql__strmap_put(&first_dir, dd->name.s, dd->name.len, (void *)dd);
                REMEMBER(dd);
            }
            char pb[300];
            snprintf(pb, sizeof pb, "%.*s", (int)dd->name.len, dd->name.s);
            check_unique_args(b, dd->args, dd->nargs, src, "@", pb);
            for (uint32_t k = 0; k < dd->nargs; k++) {
                check_type_ref(b, dd->args[k].type, src, names, nnames);
                dir_site site = {GQL_LOC_ARGUMENT_DEFINITION, dd->args[k].dirs, dd->args[k].ndirs, src, NULL};
                check_applied(b, &site, &dir_seen);
            }
            break;
        }
        case GQL_DEF_TYPE: {
            const gql_typedef_node *td = &d->u.type;
            char tn[300];
            snprintf(tn, sizeof tn, "%.*s", (int)td->name.len, td->name.s);
            if (!td->is_extension) {
                const gql_typedef_node *prev = gql__strmap_get(&first_type, td->name.s, td->name.len);
                if (prev) {
                    gql_error *e = err_at(b, SOURCE_OF(prev), prev->name_loc, "There can be only one type named \"%s\".", tn);
                    err_loc(b, e, src, td->name_loc);
                } else {
                    gql__strmap_put(&first_type, td->name.s, td->name.len, (void *)td);
                    REMEMBER(td);
                }
            } else {
                /* PossibleTypeExtensions */
                const gql_typedef_node *def = NULL;
                for (uint32_t k = 0; k < b->ndefs; k++) {
                    const defref *o = &b->defs[k];
                    if (!o->builtin && o->def->kind == GQL_DEF_TYPE && !o->def->u.type.is_extension &&
                        gql_str_eq(o->def->u.type.name, td->name)) {
                        def = &o->def->u.type;
                        break;
                    }
                }
                if (!def) {
                    gql_buf m;
                    gql_buf_init(&m, 0);
                    gql_buf_printf(&m, "Cannot extend type \"%s\" because it is not defined.", tn);
                    did_you_mean_names(&m, td->name, names, nnames);
                    gql_error *e = gql_errors_addn(b->errs, m.data, m.len);
                    err_loc(b, e, src, td->name_loc);
                    b->nerr++;
                    gql_buf_free(&m);
                } else if (def->kind != td->kind) {
                    err_at(b, src, d->loc, "Cannot extend non-%s type \"%s\".", td_kind_word[td->kind], tn);
                }
            }
            /* type references and member uniqueness */
            for (uint32_t k = 0; k < td->ntypes; k++)
                check_type_ref(b, td->types[k], src, names, nnames);
            dir_site site = {(gql_directive_location)(td->kind == GQL_TD_SCALAR      ? GQL_LOC_SCALAR
                                                      : td->kind == GQL_TD_OBJECT    ? GQL_LOC_OBJECT
                                                      : td->kind == GQL_TD_INTERFACE ? GQL_LOC_INTERFACE
                                                      : td->kind == GQL_TD_UNION     ? GQL_LOC_UNION
                                                      : td->kind == GQL_TD_ENUM      ? GQL_LOC_ENUM
                                                                                     : GQL_LOC_INPUT_OBJECT),
                             td->dirs, td->ndirs, src, NULL};
            /* definitions and extensions of one type share the uniqueness check */
            const void *key = gql__strmap_get(&first_type, td->name.s, td->name.len);
            site.seen_key = key ? (void *)key : (void *)td;
            check_applied(b, &site, &dir_seen);
            for (uint32_t k = 0; k < td->nfields; k++) {
                const gql_field_def_node *f = &td->fields[k];
                char key2[700];
                int kl = snprintf(key2, sizeof key2, "%s.%.*s", tn, (int)f->name.len, f->name.s);
                if (kl > 0 && (size_t)kl < sizeof key2) {
                    const gql_field_def_node *pf = gql__strmap_get(&fields_seen, key2, (size_t)kl);
                    if (pf) {
                        gql_error *e =
                            err_at(b, SOURCE_OF(pf), pf->name_loc, "Field \"%s\" can only be defined once.", key2);
                        err_loc(b, e, src, f->name_loc);
                    } else {
                        char *kc = gql_arena_strndup(b->A, key2, (size_t)kl);
                        if (kc)
                            gql__strmap_put(&fields_seen, kc, (size_t)kl, (void *)f);
                        REMEMBER(f);
                    }
                }
                char pb[700];
                snprintf(pb, sizeof pb, "%s.%.*s", tn, (int)f->name.len, f->name.s);
                check_unique_args(b, f->args, f->nargs, src, "", pb);
                check_type_ref(b, f->type, src, names, nnames);
                dir_site fs = {GQL_LOC_FIELD_DEFINITION, f->dirs, f->ndirs, src, NULL};
                check_applied(b, &fs, &dir_seen);
                for (uint32_t a = 0; a < f->nargs; a++) {
                    check_type_ref(b, f->args[a].type, src, names, nnames);
                    dir_site as = {GQL_LOC_ARGUMENT_DEFINITION, f->args[a].dirs, f->args[a].ndirs, src, NULL};
                    check_applied(b, &as, &dir_seen);
                }
            }
            for (uint32_t k = 0; k < td->ninput_fields; k++) {
                const gql_input_value_def *f = &td->input_fields[k];
                char key2[700];
                int kl = snprintf(key2, sizeof key2, "%s.%.*s", tn, (int)f->name.len, f->name.s);
                if (kl > 0 && (size_t)kl < sizeof key2) {
                    const gql_input_value_def *pf = gql__strmap_get(&fields_seen, key2, (size_t)kl);
                    if (pf) {
                        gql_error *e =
                            err_at(b, SOURCE_OF(pf), pf->name_loc, "Field \"%s\" can only be defined once.", key2);
                        err_loc(b, e, src, f->name_loc);
                    } else {
                        char *kc = gql_arena_strndup(b->A, key2, (size_t)kl);
                        if (kc)
                            gql__strmap_put(&fields_seen, kc, (size_t)kl, (void *)f);
                        REMEMBER(f);
                    }
                }
                check_type_ref(b, f->type, src, names, nnames);
                dir_site fs = {GQL_LOC_INPUT_FIELD_DEFINITION, f->dirs, f->ndirs, src, NULL};
                check_applied(b, &fs, &dir_seen);
            }
            for (uint32_t k = 0; k < td->nvalues; k++) {
                const gql_enum_value_def *v = &td->values[k];
                char key2[700];
                int kl = snprintf(key2, sizeof key2, "%s.%.*s", tn, (int)v->name.len, v->name.s);
                if (kl > 0 && (size_t)kl < sizeof key2) {
                    const gql_enum_value_def *pv = gql__strmap_get(&fields_seen, key2, (size_t)kl);
                    if (pv) {
                        gql_error *e =
                            err_at(b, SOURCE_OF(pv), pv->name_loc, "Enum value \"%s\" can only be defined once.", key2);
                        err_loc(b, e, src, v->name_loc);
                    } else {
                        char *kc = gql_arena_strndup(b->A, key2, (size_t)kl);
                        if (kc)
                            gql__strmap_put(&fields_seen, kc, (size_t)kl, (void *)v);
                        REMEMBER(v);
                    }
                }
                dir_site vs = {GQL_LOC_ENUM_VALUE, v->dirs, v->ndirs, src, NULL};
                check_applied(b, &vs, &dir_seen);
            }
            break;
        }
        }
    }
    free(names);
#undef REMEMBER
#undef SOURCE_OF
}

/* ---- phase 3: fill the types -------------------------------------------------------- */

static const gql_type *intern_list(builder *b, const gql_type *of)
{
    if (of->_list)
        return of->_list;
    gql_type *w = balloc(b, sizeof *w);
    if (!w)
        return of;
    w->kind = GQL_KIND_LIST;
    w->of = of;
    ((gql_type *)of)->_list = w;
    return w;
}

static const gql_type *intern_nonnull(builder *b, const gql_type *of)
{
    if (of->_nonnull)
        return of->_nonnull;
    gql_type *w = balloc(b, sizeof *w);
    if (!w)
        return of;
    w->kind = GQL_KIND_NON_NULL;
    w->of = of;
    ((gql_type *)of)->_nonnull = w;
    return w;
}

/* Resolves a type reference; unknown names were reported by the SDL rules. */
static const gql_type *resolve(builder *b, const gql_type_node *n)
{
    if (n->kind == GQL_TYPE_NAMED)
        return gql__strmap_get(&b->types, n->name.s, n->name.len);
    const gql_type *inner = resolve(b, n->of);
    if (!inner)
        return NULL;
    return n->kind == GQL_TYPE_LIST ? intern_list(b, inner) : intern_nonnull(b, inner);
}

/* The definition and its extensions, in file order. */
typedef struct parts {
    const gql_typedef_node **nodes;
    const gql_source **srcs;
    uint32_t n;
} parts;

static parts type_parts(builder *b, const gql_type *t)
{
    parts p = {NULL, NULL, 0};
    p.nodes = balloc(b, (b->ndefs + 1) * sizeof *p.nodes);
    p.srcs = balloc(b, (b->ndefs + 1) * sizeof *p.srcs);
    if (!p.nodes || !p.srcs)
        return p;
    p.nodes[p.n] = t->node;
    p.srcs[p.n++] = t->source;
    if (t->builtin)
        return p;
    for (uint32_t i = 0; i < b->ndefs; i++) {
        const defref *r = &b->defs[i];
        if (r->builtin || r->def->kind != GQL_DEF_TYPE || !r->def->u.type.is_extension)
            continue;
        const gql_typedef_node *td = &r->def->u.type;
        if (td->kind == t->node->kind && gql_str_eq(td->name, t->node->name)) {
            p.nodes[p.n] = td;
            p.srcs[p.n++] = r->src;
        }
    }
    return p;
}

static gql_applied_directive *raw_directives(builder *b, const gql_directive *dirs, uint32_t n, const gql_source *src,
                                             gql_applied_directive *into, uint32_t *count)
{
    for (uint32_t i = 0; i < n; i++) {
        gql_applied_directive *a = &into[(*count)++];
        a->def = gql__strmap_get(&b->dirs, dirs[i].name.s, dirs[i].name.len);
        a->name = bstr(b, dirs[i].name);
        a->node = &dirs[i];
        a->source = src;
    }
    return into;
}

static void fill_type(builder *b, gql_type *t)
{
    parts p = type_parts(b, t);
    if (!p.nodes)
        return;
    uint32_t ndirs = 0, nfields = 0, ntypes = 0, nvalues = 0, ninputs = 0;
    for (uint32_t i = 0; i < p.n; i++) {
        ndirs += p.nodes[i]->ndirs;
        nfields += p.nodes[i]->nfields;
        ntypes += p.nodes[i]->ntypes;
        nvalues += p.nodes[i]->nvalues;
        ninputs += p.nodes[i]->ninput_fields;
    }
    t->directives = balloc(b, (ndirs + 1) * sizeof *t->directives);
    if (!t->directives)
        return;
    for (uint32_t i = 0; i < p.n; i++)
        raw_directives(b, p.nodes[i]->dirs, p.nodes[i]->ndirs, p.srcs[i], t->directives, &t->ndirectives);
    switch (t->kind) {
    case GQL_KIND_OBJECT:
    case GQL_KIND_INTERFACE: {
        t->interfaces = balloc(b, (ntypes + 1) * sizeof *t->interfaces);
        t->fields = balloc(b, (nfields + 1) * sizeof *t->fields);
        if (!t->interfaces || !t->fields)
            return;
        for (uint32_t i = 0; i < p.n; i++) {
            for (uint32_t k = 0; k < p.nodes[i]->ntypes; k++) {
                const gql_type *it = resolve(b, p.nodes[i]->types[k]);
                if (it)
                    t->interfaces[t->ninterfaces++] = it;
            }
            for (uint32_t k = 0; k < p.nodes[i]->nfields; k++) {
                const gql_field_def_node *fd = &p.nodes[i]->fields[k];
                /* graphql-js keeps the last definition of a duplicate field name */
                gql_field *f = NULL;
                for (uint32_t j = 0; j < t->nfields; j++)
                    if (t->fields[j].name_len == fd->name.len && memcmp(t->fields[j].name, fd->name.s, fd->name.len) == 0)
                        f = &t->fields[j];
                if (!f) {
                    f = &t->fields[t->nfields];
                    f->index = t->nfields++;
                }
                f->name = bstr(b, fd->name);
                f->name_len = fd->name.len;
                f->description = description_of(b, fd->description);
                f->type = resolve(b, fd->type);
                f->parent = t;
                f->node = fd;
                f->source = p.srcs[i];
                f->nargs = 0;
                f->args = balloc(b, (fd->nargs + 1) * sizeof *f->args);
                f->ndirectives = 0;
                f->directives = balloc(b, (fd->ndirs + 1) * sizeof *f->directives);
                if (!f->args || !f->directives)
                    return;
                for (uint32_t a = 0; a < fd->nargs; a++) {
                    gql_input_value *iv = NULL;
                    for (uint32_t j = 0; j < f->nargs; j++)
                        if (gql_str_eq((gql_str){f->args[j].name, f->args[j].name_len}, fd->args[a].name))
                            iv = &f->args[j];
                    if (!iv)
                        iv = &f->args[f->nargs++];
                    fill_input_value(b, iv, &fd->args[a], p.srcs[i], (uint32_t)(iv - f->args));
                    iv->type = resolve(b, fd->args[a].type);
                    iv->directives = balloc(b, (fd->args[a].ndirs + 1) * sizeof *iv->directives);
                    if (iv->directives)
                        raw_directives(b, fd->args[a].dirs, fd->args[a].ndirs, p.srcs[i], iv->directives,
                                       &iv->ndirectives);
                }
                raw_directives(b, fd->dirs, fd->ndirs, p.srcs[i], f->directives, &f->ndirectives);
            }
        }
        break;
    }
    case GQL_KIND_UNION:
        t->possible = balloc(b, (ntypes + 1) * sizeof *t->possible);
        if (!t->possible)
            return;
        for (uint32_t i = 0; i < p.n; i++)
            for (uint32_t k = 0; k < p.nodes[i]->ntypes; k++) {
                const gql_type *m = resolve(b, p.nodes[i]->types[k]);
                if (m)
                    t->possible[t->npossible++] = m;
            }
        break;
    case GQL_KIND_ENUM:
        t->values = balloc(b, (nvalues + 1) * sizeof *t->values);
        if (!t->values)
            return;
        for (uint32_t i = 0; i < p.n; i++)
            for (uint32_t k = 0; k < p.nodes[i]->nvalues; k++) {
                const gql_enum_value_def *vd = &p.nodes[i]->values[k];
                gql_enum_value *v = NULL;
                for (uint32_t j = 0; j < t->nvalues; j++)
                    if (gql_str_eq((gql_str){t->values[j].name, t->values[j].name_len}, vd->name))
                        v = &t->values[j];
                if (!v)
                    v = &t->values[t->nvalues++];
                v->name = bstr(b, vd->name);
                v->name_len = vd->name.len;
                v->description = description_of(b, vd->description);
                v->node = vd;
                v->source = p.srcs[i];
                v->ndirectives = 0;
                v->directives = balloc(b, (vd->ndirs + 1) * sizeof *v->directives);
                if (v->directives)
                    raw_directives(b, vd->dirs, vd->ndirs, p.srcs[i], v->directives, &v->ndirectives);
            }
        break;
    case GQL_KIND_INPUT_OBJECT:
        t->input_fields = balloc(b, (ninputs + 1) * sizeof *t->input_fields);
        if (!t->input_fields)
            return;
        for (uint32_t i = 0; i < p.n; i++)
            for (uint32_t k = 0; k < p.nodes[i]->ninput_fields; k++) {
                const gql_input_value_def *fd = &p.nodes[i]->input_fields[k];
                gql_input_value *iv = NULL;
                for (uint32_t j = 0; j < t->ninput_fields; j++)
                    if (gql_str_eq((gql_str){t->input_fields[j].name, t->input_fields[j].name_len}, fd->name))
                        iv = &t->input_fields[j];
                if (!iv)
                    iv = &t->input_fields[t->ninput_fields++];
                fill_input_value(b, iv, fd, p.srcs[i], (uint32_t)(iv - t->input_fields));
                iv->type = resolve(b, fd->type);
                iv->directives = balloc(b, (fd->ndirs + 1) * sizeof *iv->directives);
                if (iv->directives)
                    raw_directives(b, fd->dirs, fd->ndirs, p.srcs[i], iv->directives, &iv->ndirectives);
            }
        break;
    default:
        break;
    }
    /* name lookup tables */
    uint32_t n = t->kind == GQL_KIND_ENUM ? t->nvalues : t->kind == GQL_KIND_INPUT_OBJECT ? t->ninput_fields : t->nfields;
    if (n > 8) {
        gql_strmap *m = balloc(b, sizeof *m);
        if (!m)
            return;
        gql__strmap_init(m, b->A, n);
        for (uint32_t i = 0; i < n; i++) {
            if (t->kind == GQL_KIND_ENUM)
                gql__strmap_put(m, t->values[i].name, t->values[i].name_len, &t->values[i]);
            else if (t->kind == GQL_KIND_INPUT_OBJECT)
                gql__strmap_put(m, t->input_fields[i].name, t->input_fields[i].name_len, &t->input_fields[i]);
            else
                gql__strmap_put(m, t->fields[i].name, t->fields[i].name_len, &t->fields[i]);
        }
        t->_field_map = m;
    }
}

/* ---- phase 4: constant values ---------------------------------------------------- */

typedef struct lit_err_ctx {
    builder *b;
    const gql_source *src;
} lit_err_ctx;

static void on_literal_error(void *ud, const gql_value *where, const char *msg, size_t len)
{
    lit_err_ctx *c = ud;
    gql_error *e = gql_errors_addn(c->b->errs, msg, len);
    err_loc(c->b, e, c->src, where->loc);
    c->b->nerr++;
}

/* Coerces one input value's default. */
static void coerce_default(builder *b, gql_input_value *iv)
{
    if (!iv->has_default || !iv->node || !iv->type || iv->_state == 2)
        return;
    lit_err_ctx c = {b, iv->source};
    if (gql__check_literal(b->s, iv->node->default_value, iv->type, on_literal_error, &c))
        return;
    if (iv->_state == 1)
        return;
    iv->_state = 1;
    json_t *v;
    bool ok = gql__value_from_ast(b->s, iv->node->default_value, iv->type, NULL, &v);
    iv->_state = 2;
    if (!ok) {
        err_at(b, iv->source, iv->node->default_value->loc,
               "Default value of \"%s\" is invalid (it refers to itself through input object defaults).", iv->name);
        return;
    }
    if (iv->default_value)
        json_decref(iv->default_value); /* computed on the fly meanwhile */
    iv->default_value = v;
}

/* Coerces the arguments of one applied directive (graphql-js getArgumentValues). */
static void coerce_applied(builder *b, gql_applied_directive *a)
{
    if (!a->def)
        return;
    json_t *args = json_object();
    for (uint32_t i = 0; i < a->def->nargs; i++) {
        gql_input_value *ad = &a->def->args[i];
        const gql_argument *node = NULL;
        for (uint32_t k = a->node->nargs; k-- > 0;)
            if (a->node->args[k].name.len == ad->name_len && memcmp(a->node->args[k].name.s, ad->name, ad->name_len) == 0) {
                node = &a->node->args[k];
                break;
            }
        if (!node) {
            coerce_default(b, ad);
            if (ad->has_default && ad->default_value)
                json_object_setn_nocheck(args, ad->name, ad->name_len, ad->default_value);
            continue;
        }
        if (!ad->type)
            continue;
        lit_err_ctx c = {b, a->source};
        if (gql__check_literal(b->s, node->value, ad->type, on_literal_error, &c))
            continue;
        json_t *v;
        if (gql__value_from_ast(b->s, node->value, ad->type, NULL, &v))
            json_object_setn_new_nocheck(args, ad->name, ad->name_len, v);
        else
            err_at(b, a->source, node->value->loc, "Argument \"%s\" of directive \"@%s\" has an invalid value.", ad->name,
                   a->name);
    }
    a->args = args;
}

static void coerce_applied_list(builder *b, gql_applied_directive *list, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        coerce_applied(b, &list[i]);
}

/* graphql-js getDeprecationReason(): the coerced `reason` of @deprecated. */
static const char *deprecation_of(builder *b, gql_applied_directive *list, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (strcmp(list[i].name, "deprecated") != 0 || !list[i].args)
            continue;
        json_t *r = json_object_get(list[i].args, "reason");
        if (json_is_string(r))
            return gql_arena_strndup(b->A, json_string_value(r), json_string_length(r));
        return NULL;
    }
    return NULL;
}

/* Applied directives come from the definition node first: for the definition-only
 * directives (@specifiedBy, @oneOf) graphql-js reads only the definition. */
static const gql_applied_directive *definition_directive(const gql_type *t, const char *name)
{
    /* the definition's directives come first in t->directives */
    for (uint32_t i = 0; i < t->node->ndirs && i < t->ndirectives; i++)
        if (strcmp(t->directives[i].name, name) == 0)
            return &t->directives[i];
    return NULL;
}

static void coerce_type_values(builder *b, gql_type *t)
{
    coerce_applied_list(b, t->directives, t->ndirectives);
    for (uint32_t i = 0; i < t->nfields; i++) {
        gql_field *f = &t->fields[i];
        coerce_applied_list(b, f->directives, f->ndirectives);
        f->deprecation_reason = deprecation_of(b, f->directives, f->ndirectives);
        for (uint32_t k = 0; k < f->nargs; k++) {
            gql_input_value *a = &f->args[k];
            coerce_default(b, a);
            coerce_applied_list(b, a->directives, a->ndirectives);
            a->deprecation_reason = deprecation_of(b, a->directives, a->ndirectives);
        }
    }
    for (uint32_t i = 0; i < t->ninput_fields; i++) {
        gql_input_value *a = &t->input_fields[i];
        coerce_default(b, a);
        coerce_applied_list(b, a->directives, a->ndirectives);
        a->deprecation_reason = deprecation_of(b, a->directives, a->ndirectives);
    }
    for (uint32_t i = 0; i < t->nvalues; i++) {
        gql_enum_value *v = &t->values[i];
        coerce_applied_list(b, v->directives, v->ndirectives);
        v->deprecation_reason = deprecation_of(b, v->directives, v->ndirectives);
    }
    const gql_applied_directive *sb = definition_directive(t, "specifiedBy");
    if (sb && sb->args) {
        json_t *u = json_object_get(sb->args, "url");
        if (json_is_string(u))
            t->specified_by_url = gql_arena_strndup(b->A, json_string_value(u), json_string_length(u));
    }
    if (t->kind == GQL_KIND_INPUT_OBJECT && definition_directive(t, "oneOf"))
        t->is_one_of = 1;
}

/* introspection's defaultValue strings */
static void print_defaults(builder *b, gql_input_value *v, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        if (!v[i].has_default || !v[i].default_value)
            continue;
        gql_buf out;
        gql_buf_init(&out, 0);
        if (gql__print_value_literal(b->s, v[i].default_value, v[i].type, &out))
            v[i].default_printed = gql_arena_strndup(b->A, out.data ? out.data : "", out.len);
        gql_buf_free(&out);
    }
}

/* ---- phase 5: type order (graphql-js collectReferencedTypes) ----------------------- */

typedef struct order_ctx {
    builder *b;
    gql_strmap present;
    gql_type **out;
    uint32_t n, cap;
} order_ctx;

static void order_add(order_ctx *o, gql_type *t)
{
    if (o->n == o->cap) {
        uint32_t cap = o->cap ? o->cap * 2 : 64;
        gql_type **n = gql_arena_alloc(o->b->A, cap * sizeof *n);
        if (!n) {
            o->b->oom = 1;
            return;
        }
        if (o->n)
            memcpy(n, o->out, o->n * sizeof *n);
        o->out = n;
        o->cap = cap;
    }
    o->out[o->n++] = t;
}

/* Adds `t` and (recursively) what it references, unless already present. The
 * recursion only descends into newly added types: user types are all present from
 * the start, so it runs through built-in types only and stays shallow. */
static void collect_referenced(order_ctx *o, const gql_type *tt, int depth)
{
    gql_type *t = (gql_type *)gql_named_type(tt);
    if (!t || depth > 64)
        return;
    if (gql__strmap_get(&o->present, t->name, t->name_len))
        return;
    gql__strmap_put(&o->present, t->name, t->name_len, t);
    order_add(o, t);
    if (t->kind == GQL_KIND_UNION) {
        for (uint32_t i = 0; i < t->npossible; i++)
            collect_referenced(o, t->possible[i], depth + 1);
    } else if (t->kind == GQL_KIND_OBJECT || t->kind == GQL_KIND_INTERFACE) {
        for (uint32_t i = 0; i < t->ninterfaces; i++)
            collect_referenced(o, t->interfaces[i], depth + 1);
        for (uint32_t i = 0; i < t->nfields; i++) {
            collect_referenced(o, t->fields[i].type, depth + 1);
            for (uint32_t k = 0; k < t->fields[i].nargs; k++)
                collect_referenced(o, t->fields[i].args[k].type, depth + 1);
        }
    } else if (t->kind == GQL_KIND_INPUT_OBJECT) {
        for (uint32_t i = 0; i < t->ninput_fields; i++)
            collect_referenced(o, t->input_fields[i].type, depth + 1);
    }
}

/* ---- phase 6: type-system validation (graphql-js type/validate.js) ---------------- */

static void validate_name(builder *b, const char *name, const gql_source *src, uint32_t loc)
{
    if (name[0] == '_' && name[1] == '_')
        err_at(b, src, loc, "Name \"%s\" must not begin with \"__\", which is reserved by GraphQL introspection.", name);
}

static void tstr(const gql_type *t, char *out, size_t n)
{
    gql_buf b;
    gql_buf_init(&b, n - 1);
    gql_type_print(&b, t);
    snprintf(out, n, "%.*s", (int)b.len, b.data ? b.data : "");
    gql_buf_free(&b);
}

/* Locations of the `implements X` entries naming `iface` in a type and its extensions. */
static void add_implements_locs(builder *b, gql_error *e, const gql_type *t, const gql_type *iface)
{
    parts p = type_parts(b, t);
    for (uint32_t i = 0; i < p.n; i++)
        for (uint32_t k = 0; k < p.nodes[i]->ntypes; k++)
            if (gql_str_eqc(p.nodes[i]->types[k]->name, iface->name))
                err_loc(b, e, p.srcs[i], p.nodes[i]->types[k]->loc);
}

static bool is_required_arg(const gql_input_value *a)
{
    return a->type && a->type->kind == GQL_KIND_NON_NULL && !a->has_default;
}

static void validate_fields(builder *b, const gql_type *t)
{
    if (t->nfields == 0) {
        gql_error *e = err_at(b, t->source, t->node->name_loc, "Type %s must define one or more fields.", t->name);
        parts p = type_parts(b, t);
        for (uint32_t i = 1; i < p.n; i++)
            err_loc(b, e, p.srcs[i], p.nodes[i]->name_loc);
    }
    for (uint32_t i = 0; i < t->nfields; i++) {
        const gql_field *f = &t->fields[i];
        validate_name(b, f->name, f->source, f->node->name_loc);
        if (f->type && !gql_is_output_type(f->type)) {
            char ts[256];
            tstr(f->type, ts, sizeof ts);
            err_at(b, f->source, f->node->type->loc, "The type of %s.%s must be Output Type but got: %s.", t->name,
                   f->name, ts);
        }
        for (uint32_t k = 0; k < f->nargs; k++) {
            const gql_input_value *a = &f->args[k];
            validate_name(b, a->name, a->source, a->node->name_loc);
            if (a->type && !gql_is_input_type(a->type)) {
                char ts[256];
                tstr(a->type, ts, sizeof ts);
                err_at(b, a->source, a->node->type->loc, "The type of %s.%s(%s:) must be Input Type but got: %s.",
                       t->name, f->name, a->name, ts);
            }
            if (is_required_arg(a) && a->deprecation_reason)
                err_at(b, a->source, a->node->name_loc, "Required argument %s.%s(%s:) cannot be deprecated.", t->name,
                       f->name, a->name);
        }
    }
}

static void validate_implementation(builder *b, const gql_type *t, const gql_type *iface)
{
    for (uint32_t i = 0; i < iface->nfields; i++) {
        const gql_field *ifield = &iface->fields[i];
        const gql_field *tf = gql_type_field(t, ifield->name, ifield->name_len);
        if (!tf) {
            gql_error *e = err_at(b, ifield->source, ifield->node->name_loc,
                                  "Interface field %s.%s expected but %s does not provide it.", iface->name, ifield->name,
                                  t->name);
            parts p = type_parts(b, t);
            for (uint32_t k = 0; k < p.n; k++)
                err_loc(b, e, p.srcs[k], p.nodes[k]->name_loc);
            continue;
        }
        if (tf->type && ifield->type && !gql_is_type_sub_type_of(b->s, tf->type, ifield->type)) {
            char a[256], c[256];
            tstr(ifield->type, a, sizeof a);
            tstr(tf->type, c, sizeof c);
            gql_error *e = err_at(b, ifield->source, ifield->node->type->loc,
                                  "Interface field %s.%s expects type %s but %s.%s is type %s.", iface->name,
                                  ifield->name, a, t->name, tf->name, c);
            err_loc(b, e, tf->source, tf->node->type->loc);
        }
        for (uint32_t k = 0; k < ifield->nargs; k++) {
            const gql_input_value *ia = &ifield->args[k];
            const gql_input_value *ta = gql_field_arg(tf, ia->name, ia->name_len);
            if (!ta) {
                gql_error *e = err_at(b, ia->source, ia->node->name_loc,
                                      "Interface field argument %s.%s(%s:) expected but %s.%s does not provide it.",
                                      iface->name, ifield->name, ia->name, t->name, tf->name);
                err_loc(b, e, tf->source, tf->node->name_loc);
                continue;
            }
            if (ia->type && ta->type && !gql__type_eq(ia->type, ta->type)) {
                char a[256], c[256];
                tstr(ia->type, a, sizeof a);
                tstr(ta->type, c, sizeof c);
                gql_error *e = err_at(b, ia->source, ia->node->type->loc,
                                      "Interface field argument %s.%s(%s:) expects type %s but %s.%s(%s:) is type %s.",
                                      iface->name, ifield->name, ia->name, a, t->name, tf->name, ta->name, c);
                err_loc(b, e, ta->source, ta->node->type->loc);
            }
        }
        for (uint32_t k = 0; k < tf->nargs; k++) {
            const gql_input_value *ta = &tf->args[k];
            if (!gql_field_arg(ifield, ta->name, ta->name_len) && is_required_arg(ta)) {
                gql_error *e = err_at(b, ta->source, ta->node->name_loc,
                                      "Object field %s.%s includes required argument %s that is missing from the "
                                      "Interface field %s.%s.",
                                      t->name, tf->name, ta->name, iface->name, ifield->name);
                err_loc(b, e, ifield->source, ifield->node->name_loc);
            }
        }
    }
}

static void validate_interfaces(builder *b, const gql_type *t)
{
    for (uint32_t i = 0; i < t->ninterfaces; i++) {
        const gql_type *iface = t->interfaces[i];
        if (iface->kind != GQL_KIND_INTERFACE) {
            gql_error *e = err_at(b, NULL, 0, "Type %s must only implement Interface types, it cannot implement %s.",
                                  t->name, iface->name);
            add_implements_locs(b, e, t, iface);
            continue;
        }
        if (iface == t) {
            gql_error *e = err_at(b, NULL, 0,
                                  "Type %s cannot implement itself because it would create a circular reference.",
                                  t->name);
            add_implements_locs(b, e, t, iface);
            continue;
        }
        bool dup = false;
        for (uint32_t k = 0; k < i; k++)
            if (t->interfaces[k] == iface)
                dup = true;
        if (dup) {
            gql_error *e = err_at(b, NULL, 0, "Type %s can only implement %s once.", t->name, iface->name);
            add_implements_locs(b, e, t, iface);
            continue;
        }
        for (uint32_t k = 0; k < iface->ninterfaces; k++) {
            const gql_type *transitive = iface->interfaces[k];
            bool has = false;
            for (uint32_t j = 0; j < t->ninterfaces; j++)
                if (t->interfaces[j] == transitive)
                    has = true;
            if (!has) {
                gql_error *e = transitive == t
                                   ? err_at(b, NULL, 0,
                                            "Type %s cannot implement %s because it would create a circular reference.",
                                            t->name, iface->name)
                                   : err_at(b, NULL, 0, "Type %s must implement %s because it is implemented by %s.",
                                            t->name, transitive->name, iface->name);
                add_implements_locs(b, e, iface, transitive);
                add_implements_locs(b, e, t, iface);
            }
        }
        validate_implementation(b, t, iface);
    }
}

/* Non-null input object cycles (graphql-js createInputObjectCircularRefsValidator),
 * with an explicit path so deep chains cannot exhaust the stack. */
static void validate_input_cycles(builder *b)
{
    gql_schema *s = b->s;
    uint8_t *visited = calloc(s->ntypes + 1, 1);
    int32_t *index_on_path = malloc((s->ntypes + 1) * sizeof *index_on_path);
    typedef struct frame {
        const gql_type *t;
        uint32_t next;
    } frame;
    frame *stack = malloc((s->ntypes + 1) * sizeof *stack);
    const gql_input_value **path = malloc((s->ntypes + 1) * sizeof *path);
    if (!visited || !index_on_path || !stack || !path) {
        free(visited);
        free(index_on_path);
        free(stack);
        free(path);
        b->oom = 1;
        return;
    }
    for (uint32_t i = 0; i < s->ntypes; i++)
        index_on_path[i] = -1;
    for (uint32_t r = 0; r < s->ntypes; r++) {
        const gql_type *root = s->types[r];
        if (root->kind != GQL_KIND_INPUT_OBJECT || visited[root->index])
            continue;
        uint32_t top = 0, npath = 0;
        visited[root->index] = 1;
        index_on_path[root->index] = 0;
        stack[top++] = (frame){root, 0};
        while (top) {
            frame *f = &stack[top - 1];
            if (f->next >= f->t->ninput_fields) {
                index_on_path[f->t->index] = -1;
                top--;
                if (npath)
                    npath--;
                continue;
            }
            const gql_input_value *field = &f->t->input_fields[f->next++];
            if (!field->type || field->type->kind != GQL_KIND_NON_NULL || field->type->of->kind != GQL_KIND_INPUT_OBJECT)
                continue;
            const gql_type *ft = field->type->of;
            path[npath++] = field;
            int32_t cycle = index_on_path[ft->index];
            if (cycle < 0) {
                if (!visited[ft->index]) {
                    visited[ft->index] = 1;
                    index_on_path[ft->index] = (int32_t)npath;
                    stack[top++] = (frame){ft, 0};
                    continue;
                }
                npath--;
                continue;
            }
            gql_buf ps;
            gql_buf_init(&ps, 0);
            for (uint32_t k = (uint32_t)cycle; k < npath; k++) {
                if (k > (uint32_t)cycle)
                    gql_buf_putc(&ps, '.');
                gql_buf_puts(&ps, path[k]->name);
            }
            gql_error *e = err_at(b, NULL, 0,
                                  "Cannot reference Input Object \"%s\" within itself through a series of non-null "
                                  "fields: \"%.*s\".",
                                  ft->name, (int)ps.len, ps.data ? ps.data : "");
            for (uint32_t k = (uint32_t)cycle; k < npath; k++)
                err_loc(b, e, path[k]->source, path[k]->node->name_loc);
            gql_buf_free(&ps);
            npath--;
        }
    }
    free(visited);
    free(index_on_path);
    free(stack);
    free(path);
}

static void validate_schema(builder *b)
{
    gql_schema *s = b->s;
    /* root types */
    if (!s->query)
        err_at(b, NULL, 0, "Query root type must be provided.");
    else if (s->query->kind != GQL_KIND_OBJECT)
        err_at(b, s->query->source, s->query->node->name_loc, "Query root type must be Object type, it cannot be %s.",
               s->query->name);
    if (s->mutation && s->mutation->kind != GQL_KIND_OBJECT)
        err_at(b, s->mutation->source, s->mutation->node->name_loc,
               "Mutation root type must be Object type if provided, it cannot be %s.", s->mutation->name);
    if (s->subscription && s->subscription->kind != GQL_KIND_OBJECT)
        err_at(b, s->subscription->source, s->subscription->node->name_loc,
               "Subscription root type must be Object type if provided, it cannot be %s.", s->subscription->name);
    /* directives */
    for (uint32_t i = 0; i < s->ndirectives; i++) {
        const gql_directive_def *d = s->directives[i];
        if (d->builtin)
            continue;
        validate_name(b, d->name, d->source, d->node->name_loc);
        for (uint32_t k = 0; k < d->nargs; k++) {
            const gql_input_value *a = &d->args[k];
            validate_name(b, a->name, a->source, a->node->name_loc);
            if (a->type && !gql_is_input_type(a->type)) {
                char ts[256];
                tstr(a->type, ts, sizeof ts);
                err_at(b, a->source, a->node->type->loc, "The type of @%s(%s:) must be Input Type but got: %s.", d->name,
                       a->name, ts);
            }
            if (is_required_arg(a) && a->deprecation_reason)
                err_at(b, a->source, a->node->name_loc, "Required argument @%s(%s:) cannot be deprecated.", d->name,
                       a->name);
        }
    }
    for (uint32_t i = 0; i < s->ntypes; i++) {
        const gql_type *t = s->types[i];
        if (t->builtin)
            continue;
        validate_name(b, t->name, t->source, t->node->name_loc);
        switch (t->kind) {
        case GQL_KIND_OBJECT:
        case GQL_KIND_INTERFACE:
            validate_fields(b, t);
            validate_interfaces(b, t);
            break;
        case GQL_KIND_UNION: {
            if (t->npossible == 0) {
                gql_error *e =
                    err_at(b, t->source, t->node->name_loc, "Union type %s must define one or more member types.", t->name);
                (void)e;
            }
            for (uint32_t k = 0; k < t->npossible; k++) {
                const gql_type *m = t->possible[k];
                bool dup = false;
                for (uint32_t j = 0; j < k; j++)
                    if (t->possible[j] == m)
                        dup = true;
                if (dup) {
                    err_at(b, t->source, t->node->name_loc, "Union type %s can only include type %s once.", t->name,
                           m->name);
                    continue;
                }
                if (m->kind != GQL_KIND_OBJECT)
                    err_at(b, t->source, t->node->name_loc,
                           "Union type %s can only include Object types, it cannot include %s.", t->name, m->name);
            }
            break;
        }
        case GQL_KIND_ENUM:
            if (t->nvalues == 0)
                err_at(b, t->source, t->node->name_loc, "Enum type %s must define one or more values.", t->name);
            for (uint32_t k = 0; k < t->nvalues; k++)
                validate_name(b, t->values[k].name, t->values[k].source, t->values[k].node->name_loc);
            break;
        case GQL_KIND_INPUT_OBJECT:
            if (t->ninput_fields == 0)
                err_at(b, t->source, t->node->name_loc, "Input Object type %s must define one or more fields.", t->name);
            for (uint32_t k = 0; k < t->ninput_fields; k++) {
                const gql_input_value *f = &t->input_fields[k];
                validate_name(b, f->name, f->source, f->node->name_loc);
                if (f->type && !gql_is_input_type(f->type)) {
                    char ts[256];
                    tstr(f->type, ts, sizeof ts);
                    err_at(b, f->source, f->node->type->loc, "The type of %s.%s must be Input Type but got: %s.",
                           t->name, f->name, ts);
                }
                if (is_required_arg(f) && f->deprecation_reason)
                    err_at(b, f->source, f->node->name_loc, "Required input field %s.%s cannot be deprecated.", t->name,
                           f->name);
                if (t->is_one_of) {
                    if (f->type && f->type->kind == GQL_KIND_NON_NULL)
                        err_at(b, f->source, f->node->type->loc, "OneOf input field %s.%s must be nullable.", t->name,
                               f->name);
                    if (f->has_default)
                        err_at(b, f->source, f->node->name_loc, "OneOf input field %s.%s cannot have a default value.",
                               t->name, f->name);
                }
            }
            break;
        default:
            break;
        }
    }
    validate_input_cycles(b);
}

/* ---- the builder -------------------------------------------------------------------- */

static void add_docs(builder *b, gql_document *doc, bool builtin)
{
    defref *n = realloc(b->defs, (b->ndefs + doc->ndefs + 1) * sizeof *n);
    if (!n) {
        b->oom = 1;
        return;
    }
    b->defs = n;
    for (uint32_t i = 0; i < doc->ndefs; i++) {
        b->defs[b->ndefs].def = &doc->defs[i];
        b->defs[b->ndefs].src = &doc->source;
        b->defs[b->ndefs].builtin = builtin;
        b->ndefs++;
    }
}

static int keep_doc(gql_schema *s, gql_document *d)
{
    gql_document **n = realloc(s->_docs, (s->_ndocs + 1) * sizeof *n);
    if (!n)
        return -1;
    s->_docs = n;
    s->_docs[s->_ndocs++] = d;
    return 0;
}

static bool build(builder *b, const gql_sdl_file *files, size_t nfiles, const gql_schema_options *opts)
{
    gql_schema *s = b->s;
    /* phase 1: parse */
    gql_parse_options po;
    memset(&po, 0, sizeof po);
    po.source_name = "<built-in>";
    gql_document *prelude = gql_parse(gql__prelude_sdl, strlen(gql__prelude_sdl), &po, b->errs);
    if (!prelude || keep_doc(s, prelude)) {
        gql_document_free(prelude);
        return false;
    }
    add_docs(b, prelude, true);
    bool syntax_ok = true;
    for (size_t i = 0; i < nfiles; i++) {
        memset(&po, 0, sizeof po);
        po.source_name = gql_arena_strndup(b->A, files[i].name ? files[i].name : "<schema>",
                                           strlen(files[i].name ? files[i].name : "<schema>"));
        po.copy_source = true;
        po.max_tokens = opts ? opts->max_tokens : 0;
        gql_document *d = gql_parse(files[i].text, files[i].len, &po, b->errs);
        if (!d) {
            syntax_ok = false; /* the syntax error names the file in its location */
            continue;
        }
        if (keep_doc(s, d)) {
            gql_document_free(d);
            return false;
        }
        add_docs(b, d, false);
    }
    if (!syntax_ok || b->oom)
        return false;

    /* shells: built-in types first, then user types (a user `scalar String` keeps the
     * built-in one, as graphql-js does) */
    gql__strmap_init(&b->types, b->A, 64);
    gql__strmap_init(&b->dirs, b->A, 16);
    for (uint32_t pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < b->ndefs; i++) {
            defref *r = &b->defs[i];
            if (r->builtin != (pass == 0))
                continue;
            if (r->def->kind == GQL_DEF_TYPE && !r->def->u.type.is_extension) {
                gql_str name = r->def->u.type.name;
                gql_type *existing = gql__strmap_get(&b->types, name.s, name.len);
                if (existing)
                    continue; /* built-in kept, or a duplicate (reported by the SDL rules) */
                if (!r->builtin && starts_with_dunder(name)) {
                    err_at(b, r->src, r->def->u.type.name_loc,
                           "Name \"%.*s\" must not begin with \"__\", which is reserved by GraphQL introspection.",
                           (int)name.len, name.s);
                    continue;
                }
                gql_type *t = create_type(b, r);
                if (!t)
                    return false;
                gql__strmap_put(&b->types, t->name, t->name_len, t);
                register_all(b, t);
            } else if (r->def->kind == GQL_DEF_DIRECTIVE) {
                gql_directive_def *d = create_directive(b, r);
                if (!d)
                    return false;
                const gql_directive_def *prev = gql__strmap_get(&b->dirs, d->name, d->name_len);
                if (prev && !prev->builtin)
                    continue; /* duplicate user directive: reported by the SDL rules */
                gql__strmap_put(&b->dirs, d->name, d->name_len, d);
            }
        }
    }
    if (b->oom)
        return false;

    /* phase 2 */
    sdl_rules(b);
    if (b->nerr || b->oom)
        return false;

    /* phase 3 */
    for (uint32_t i = 0; i < s->_nall; i++)
        fill_type(b, s->_all[i]);
    for (uint32_t i = 0; i < s->_nalldirs; i++) {
        gql_directive_def *d = s->_alldirs[i];
        for (uint32_t k = 0; k < d->nargs; k++) {
            d->args[k].type = resolve(b, d->args[k].node->type);
            d->args[k].directives = balloc(b, (d->args[k].node->ndirs + 1) * sizeof(gql_applied_directive));
            if (d->args[k].directives)
                raw_directives(b, d->args[k].node->dirs, d->args[k].node->ndirs, d->source, d->args[k].directives,
                               &d->args[k].ndirectives);
        }
    }
    if (b->oom)
        return false;
    /* well-known types and directives (used by value coercion from here on) */
    s->t_string = gql__strmap_get(&b->types, "String", 6);
    s->t_int = gql__strmap_get(&b->types, "Int", 3);
    s->t_float = gql__strmap_get(&b->types, "Float", 5);
    s->t_boolean = gql__strmap_get(&b->types, "Boolean", 7);
    s->t_id = gql__strmap_get(&b->types, "ID", 2);
    s->t_schema = gql__strmap_get(&b->types, "__Schema", 8);
    s->t_type = gql__strmap_get(&b->types, "__Type", 6);
    s->t_type_kind = gql__strmap_get(&b->types, "__TypeKind", 10);
    s->t_field = gql__strmap_get(&b->types, "__Field", 7);
    s->t_input_value = gql__strmap_get(&b->types, "__InputValue", 12);
    s->t_enum_value = gql__strmap_get(&b->types, "__EnumValue", 11);
    s->t_directive = gql__strmap_get(&b->types, "__Directive", 11);
    s->t_directive_location = gql__strmap_get(&b->types, "__DirectiveLocation", 19);

    /* meta fields */
    if (s->t_string && s->t_schema && s->t_type) {
        s->f_typename.name = "__typename";
        s->f_typename.name_len = 10;
        s->f_typename.description = "The name of the current Object type at runtime.";
        s->f_typename.type = intern_nonnull(b, s->t_string);
        s->f_schema.name = "__schema";
        s->f_schema.name_len = 8;
        s->f_schema.description = "Access the current type schema of this server.";
        s->f_schema.type = intern_nonnull(b, s->t_schema);
        s->f_type_name_arg.name = "name";
        s->f_type_name_arg.name_len = 4;
        s->f_type_name_arg.type = intern_nonnull(b, s->t_string);
        s->f_type.name = "__type";
        s->f_type.name_len = 6;
        s->f_type.description = "Request the type information of a single type.";
        s->f_type.type = s->t_type;
        s->f_type.args = &s->f_type_name_arg;
        s->f_type.nargs = 1;
    }

    /* phase 4: constant values */
    for (uint32_t i = 0; i < s->_nalldirs; i++) {
        gql_directive_def *d = s->_alldirs[i];
        for (uint32_t k = 0; k < d->nargs; k++)
            coerce_default(b, &d->args[k]);
    }
    for (uint32_t i = 0; i < s->_nall; i++)
        coerce_type_values(b, s->_all[i]);
    for (uint32_t i = 0; i < s->_nalldirs; i++) {
        gql_directive_def *d = s->_alldirs[i];
        for (uint32_t k = 0; k < d->nargs; k++) {
            coerce_applied_list(b, d->args[k].directives, d->args[k].ndirectives);
            d->args[k].deprecation_reason = deprecation_of(b, d->args[k].directives, d->args[k].ndirectives);
        }
    }
    /* schema definition and extensions */
    uint32_t nsd = 0;
    for (uint32_t i = 0; i < b->ndefs; i++)
        if (b->defs[i].def->kind == GQL_DEF_SCHEMA)
            nsd += b->defs[i].def->u.schema.ndirs;
    s->schema_directives = balloc(b, (nsd + 1) * sizeof *s->schema_directives);
    const gql_schema_def_node *schema_def = NULL;
    if (s->schema_directives)
        for (uint32_t i = 0; i < b->ndefs; i++)
            if (b->defs[i].def->kind == GQL_DEF_SCHEMA) {
                const gql_schema_def_node *sd = &b->defs[i].def->u.schema;
                if (!sd->is_extension && !schema_def) {
                    schema_def = sd;
                    s->description = description_of(b, sd->description);
                }
                raw_directives(b, sd->dirs, sd->ndirs, b->defs[i].src, s->schema_directives, &s->nschema_directives);
            }
    coerce_applied_list(b, s->schema_directives, s->nschema_directives);
    if (b->nerr || b->oom)
        return false;
    for (uint32_t i = 0; i < s->_nall; i++) {
        gql_type *t = s->_all[i];
        for (uint32_t k = 0; k < t->nfields; k++)
            print_defaults(b, t->fields[k].args, t->fields[k].nargs);
        print_defaults(b, t->input_fields, t->ninput_fields);
    }
    for (uint32_t i = 0; i < s->_nalldirs; i++)
        print_defaults(b, s->_alldirs[i]->args, s->_alldirs[i]->nargs);

    /* phase 5: root types */
    if (schema_def) {
        for (uint32_t i = 0; i < b->ndefs; i++) {
            if (b->defs[i].def->kind != GQL_DEF_SCHEMA)
                continue;
            const gql_schema_def_node *sd = &b->defs[i].def->u.schema;
            for (uint32_t k = 0; k < sd->nops; k++) {
                const gql_type *t = resolve(b, sd->ops[k].type);
                if (sd->ops[k].operation == GQL_OP_QUERY)
                    s->query = t;
                else if (sd->ops[k].operation == GQL_OP_MUTATION)
                    s->mutation = t;
                else
                    s->subscription = t;
            }
        }
    } else {
        /* graphql-js: without a schema definition, types named by convention
         * (extensions alone do not count, as in buildASTSchema) */
        bool has_ext_ops = false;
        for (uint32_t i = 0; i < b->ndefs; i++)
            if (b->defs[i].def->kind == GQL_DEF_SCHEMA)
                has_ext_ops = true;
        for (uint32_t i = 0; i < s->_nall; i++) {
            const gql_type *t = s->_all[i];
            if (t->builtin)
                continue;
            if (strcmp(t->name, "Query") == 0)
                s->query = t;
            else if (strcmp(t->name, "Mutation") == 0)
                s->mutation = t;
            else if (strcmp(t->name, "Subscription") == 0)
                s->subscription = t;
        }
        if (has_ext_ops)
            for (uint32_t i = 0; i < b->ndefs; i++) {
                if (b->defs[i].def->kind != GQL_DEF_SCHEMA)
                    continue;
                const gql_schema_def_node *sd = &b->defs[i].def->u.schema;
                for (uint32_t k = 0; k < sd->nops; k++) {
                    const gql_type *t = resolve(b, sd->ops[k].type);
                    if (sd->ops[k].operation == GQL_OP_QUERY)
                        s->query = t;
                    else if (sd->ops[k].operation == GQL_OP_MUTATION)
                        s->mutation = t;
                    else
                        s->subscription = t;
                }
            }
    }

    /* directives: user definitions in order, then the built-in ones not redefined */
    uint32_t ndirs = 0;
    s->directives = balloc(b, (s->_nalldirs + 1) * sizeof *s->directives);
    if (!s->directives)
        return false;
    for (uint32_t pass = 0; pass < 2; pass++)
        for (uint32_t i = 0; i < s->_nalldirs; i++) {
            gql_directive_def *d = s->_alldirs[i];
            if (d->builtin != (pass == 1))
                continue;
            if (gql__strmap_get(&b->dirs, d->name, d->name_len) != d)
                continue;
            s->directives[ndirs++] = d;
        }
    s->ndirectives = ndirs;
    s->d_skip = gql__strmap_get(&b->dirs, "skip", 4);
    s->d_include = gql__strmap_get(&b->dirs, "include", 7);
    s->d_deprecated = gql__strmap_get(&b->dirs, "deprecated", 10);
    s->d_specified_by = gql__strmap_get(&b->dirs, "specifiedBy", 11);
    s->d_one_of = gql__strmap_get(&b->dirs, "oneOf", 5);

    /* type order */
    order_ctx o;
    memset(&o, 0, sizeof o);
    o.b = b;
    gql__strmap_init(&o.present, b->A, s->_nall);
    for (uint32_t i = 0; i < s->_nall; i++)
        if (!s->_all[i]->builtin)
            gql__strmap_put(&o.present, s->_all[i]->name, s->_all[i]->name_len, s->_all[i]);
    for (uint32_t i = 0; i < s->_nall; i++) {
        gql_type *t = s->_all[i];
        if (t->builtin)
            continue;
        /* delete and re-add: the type moves to the end, followed by what it adds */
        gql_strmap_entry *slot = NULL;
        for (uint32_t k = 0; k < o.present.cap; k++)
            if (o.present.slots[k].key && o.present.slots[k].value == t)
                slot = &o.present.slots[k];
        if (slot)
            slot->value = NULL;
        order_add(&o, t);
        if (slot)
            slot->value = t;
        /* its references (user types are present; only built-ins get added) */
        if (t->kind == GQL_KIND_UNION) {
            for (uint32_t k = 0; k < t->npossible; k++)
                collect_referenced(&o, t->possible[k], 1);
        } else if (t->kind == GQL_KIND_OBJECT || t->kind == GQL_KIND_INTERFACE) {
            for (uint32_t k = 0; k < t->ninterfaces; k++)
                collect_referenced(&o, t->interfaces[k], 1);
            for (uint32_t k = 0; k < t->nfields; k++) {
                collect_referenced(&o, t->fields[k].type, 1);
                for (uint32_t a = 0; a < t->fields[k].nargs; a++)
                    collect_referenced(&o, t->fields[k].args[a].type, 1);
            }
        } else if (t->kind == GQL_KIND_INPUT_OBJECT) {
            for (uint32_t k = 0; k < t->ninput_fields; k++)
                collect_referenced(&o, t->input_fields[k].type, 1);
        }
    }
    if (s->query)
        collect_referenced(&o, s->query, 0);
    if (s->mutation)
        collect_referenced(&o, s->mutation, 0);
    if (s->subscription)
        collect_referenced(&o, s->subscription, 0);
    for (uint32_t i = 0; i < s->ndirectives; i++)
        for (uint32_t k = 0; k < s->directives[i]->nargs; k++)
            collect_referenced(&o, s->directives[i]->args[k].type, 0);
    collect_referenced(&o, s->t_schema, 0);
    if (b->oom)
        return false;
    s->types = o.out;
    s->ntypes = o.n;
    s->_types = balloc(b, sizeof *s->_types);
    s->_directives = balloc(b, sizeof *s->_directives);
    if (!s->_types || !s->_directives)
        return false;
    gql__strmap_init(s->_types, b->A, s->ntypes);
    for (uint32_t i = 0; i < s->ntypes; i++) {
        s->types[i]->index = i;
        gql__strmap_put(s->_types, s->types[i]->name, s->types[i]->name_len, s->types[i]);
    }
    gql__strmap_init(s->_directives, b->A, s->ndirectives);
    for (uint32_t i = 0; i < s->ndirectives; i++)
        gql__strmap_put(s->_directives, s->directives[i]->name, s->directives[i]->name_len,
                        (void *)s->directives[i]);

    /* implementations, in type order, and sub-type sets */
    uint32_t words = (s->ntypes + 63) / 64;
    for (uint32_t i = 0; i < s->ntypes; i++) {
        gql_type *t = s->types[i];
        if (t->kind == GQL_KIND_INTERFACE) {
            t->possible = balloc(b, (s->ntypes + 1) * sizeof *t->possible);
            t->npossible = 0;
        }
        if (t->kind == GQL_KIND_INTERFACE || t->kind == GQL_KIND_UNION)
            t->_subtypes = balloc(b, (words + 1) * sizeof(uint64_t));
    }
    if (b->oom)
        return false;
    for (uint32_t i = 0; i < s->ntypes; i++) {
        gql_type *t = s->types[i];
        if (t->kind == GQL_KIND_UNION) {
            for (uint32_t k = 0; k < t->npossible; k++)
                if (t->possible[k]->name && gql_schema_type(s, t->possible[k]->name, t->possible[k]->name_len))
                    t->_subtypes[t->possible[k]->index / 64] |= 1ull << (t->possible[k]->index % 64);
        }
        if (t->kind != GQL_KIND_OBJECT && t->kind != GQL_KIND_INTERFACE)
            continue;
        for (uint32_t k = 0; k < t->ninterfaces; k++) {
            gql_type *iface = (gql_type *)t->interfaces[k];
            if (iface->kind != GQL_KIND_INTERFACE || !iface->_subtypes)
                continue;
            if (t->kind == GQL_KIND_OBJECT) {
                bool dup = false;
                for (uint32_t j = 0; j < iface->npossible; j++)
                    if (iface->possible[j] == t)
                        dup = true;
                if (!dup)
                    iface->possible[iface->npossible++] = t;
            }
            iface->_subtypes[t->index / 64] |= 1ull << (t->index % 64);
        }
    }

    /* phase 6 */
    validate_schema(b);
    return b->nerr == 0 && !b->oom;
}

gql_schema *gql_schema_build(const gql_sdl_file *files, size_t n, const gql_schema_options *opts, gql_errors *errors)
{
    gql_schema *s = calloc(1, sizeof *s);
    if (!s) {
        gql_errors_add(errors, "Out of memory.");
        return NULL;
    }
    gql_arena_init(&s->arena, opts ? opts->arena_limit : 0);
    s->_refs = 1;
    if (opts)
        s->scalars = opts->scalars;
    builder b;
    memset(&b, 0, sizeof b);
    b.s = s;
    b.A = &s->arena;
    b.errs = errors;
    bool ok = build(&b, files, n, opts);
    free(b.defs);
    if (!ok) {
        if (b.oom || (errors->count == 0))
            gql_errors_add(errors, "Out of memory while building the schema.");
        gql__schema_destroy(s);
        return NULL;
    }
    return s;
}
