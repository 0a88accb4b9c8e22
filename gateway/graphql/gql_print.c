/*
 * Document printer reproducing graphql-js's print().
 *
 * graphql-js prints bottom-up: every node becomes a string, and parents combine
 * children with join (which drops empty parts), wrap (which drops empty contents),
 * block and indent (which indents every line of the nested text — block strings
 * included). Reproducing that structure literally is the simplest way to be exact,
 * so this file builds immutable strings in a scratch arena the same way. Printing is
 * not on the request path (it serves tests, tooling and normalisation), so clarity
 * wins over speed here. Recursion depth is bounded by GQL_MAX_NESTING.
 */
#include "gql_print.h"

#include <stdlib.h>
#include <string.h>

#include "gql_util.h"

typedef struct pstr {
    const char *s;
    size_t n;
} pstr;

typedef struct printer {
    gql_arena a;
    int failed;
} printer;

static const pstr EMPTY = {"", 0};

static pstr mk(printer *p, const char *s, size_t n)
{
    char *c = gql_arena_alloc(&p->a, n + 1);
    if (!c) {
        p->failed = 1;
        return EMPTY;
    }
    memcpy(c, s, n);
    c[n] = 0;
    pstr r = {c, n};
    return r;
}

static pstr lit(const char *s)
{
    pstr r = {s, strlen(s)};
    return r;
}

static pstr from_str(gql_str s)
{
    pstr r = {s.s ? s.s : "", s.len};
    return r;
}

/* Concatenates up to 8 parts. */
static pstr cat(printer *p, int n, ...)
{
    va_list ap;
    pstr parts[8];
    size_t total = 0;
    va_start(ap, n);
    for (int i = 0; i < n; i++) {
        parts[i] = va_arg(ap, pstr);
        total += parts[i].n;
    }
    va_end(ap);
    char *c = gql_arena_alloc(&p->a, total + 1);
    if (!c) {
        p->failed = 1;
        return EMPTY;
    }
    size_t o = 0;
    for (int i = 0; i < n; i++) {
        memcpy(c + o, parts[i].s, parts[i].n);
        o += parts[i].n;
    }
    c[o] = 0;
    pstr r = {c, o};
    return r;
}

/* join(): non-empty parts separated by `sep`. */
static pstr join(printer *p, const pstr *parts, size_t n, const char *sep)
{
    size_t sl = strlen(sep), total = 0, k = 0;
    for (size_t i = 0; i < n; i++)
        if (parts[i].n) {
            total += parts[i].n + (k ? sl : 0);
            k++;
        }
    char *c = gql_arena_alloc(&p->a, total + 1);
    if (!c) {
        p->failed = 1;
        return EMPTY;
    }
    size_t o = 0;
    k = 0;
    for (size_t i = 0; i < n; i++) {
        if (!parts[i].n)
            continue;
        if (k++) {
            memcpy(c + o, sep, sl);
            o += sl;
        }
        memcpy(c + o, parts[i].s, parts[i].n);
        o += parts[i].n;
    }
    c[o] = 0;
    pstr r = {c, o};
    return r;
}

/* wrap(): start + s + end, or "" when s is empty. */
static pstr wrap(printer *p, const char *start, pstr s, const char *end)
{
    if (!s.n)
        return EMPTY;
    return cat(p, 3, lit(start), s, lit(end));
}

/* indent(): "  " before the text and after every newline in it. */
static pstr indent(printer *p, pstr s)
{
    if (!s.n)
        return EMPTY;
    size_t nl = 0;
    for (size_t i = 0; i < s.n; i++)
        nl += s.s[i] == '\n';
    size_t total = s.n + 2 + nl * 2;
    char *c = gql_arena_alloc(&p->a, total + 1);
    if (!c) {
        p->failed = 1;
        return EMPTY;
    }
    size_t o = 0;
    c[o++] = ' ';
    c[o++] = ' ';
    for (size_t i = 0; i < s.n; i++) {
        c[o++] = s.s[i];
        if (s.s[i] == '\n') {
            c[o++] = ' ';
            c[o++] = ' ';
        }
    }
    c[o] = 0;
    pstr r = {c, o};
    return r;
}

/* block(): "{\n" + indent(join(items, "\n")) + "\n}", or "" when empty. */
static pstr block(printer *p, const pstr *items, size_t n)
{
    return wrap(p, "{\n", indent(p, join(p, items, n, "\n")), "\n}");
}

static pstr *parts(printer *p, size_t n)
{
    pstr *r = gql_arena_calloc(&p->a, n ? n : 1, sizeof(pstr));
    if (!r) {
        p->failed = 1;
        static pstr dummy[1];
        return dummy;
    }
    return r;
}

static bool contains_nl(pstr s)
{
    return memchr(s.s, '\n', s.n) != NULL;
}

/* ---- block strings (graphql-js printBlockString) ------------------------------ */

static pstr print_block_string(printer *p, const char *v, size_t n)
{
    gql_buf b;
    gql_buf_init(&b, 0);
    /* escapedValue = value.replace(/"""/g, '\\"""') */
    gql_buf esc;
    gql_buf_init(&esc, 0);
    for (size_t i = 0; i < n;) {
        if (i + 3 <= n && v[i] == '"' && v[i + 1] == '"' && v[i + 2] == '"') {
            gql_buf_append(&esc, "\\\"\"\"", 4);
            i += 3;
        } else {
            gql_buf_putc(&esc, v[i++]);
        }
    }
    const char *e = esc.data ? esc.data : "";
    size_t en = esc.len;
    /* lines = escapedValue.split(/\r\n|[\n\r]/g) */
    size_t nlines = 1;
    bool force_leading = true; /* every line after the first is empty or starts with whitespace */
    for (size_t i = 0; i < en; i++) {
        if (e[i] == '\n' || e[i] == '\r') {
            if (e[i] == '\r' && i + 1 < en && e[i + 1] == '\n')
                i++;
            nlines++;
            char c = i + 1 < en ? e[i + 1] : 0;
            bool empty_line = i + 1 >= en || c == '\n' || c == '\r';
            if (!empty_line && c != ' ' && c != '\t')
                force_leading = false;
        }
    }
    bool single = nlines == 1;
    if (single)
        force_leading = false;
    bool trailing_triple = en >= 4 && memcmp(e + en - 4, "\\\"\"\"", 4) == 0;
    bool trailing_quote = n > 0 && v[n - 1] == '"' && !trailing_triple;
    bool trailing_slash = n > 0 && v[n - 1] == '\\';
    bool force_trailing = trailing_quote || trailing_slash;
    bool multi = !single || gql__utf16_len(v, n) > 70 || force_trailing || force_leading || trailing_triple;
    bool skip_leading_nl = single && n > 0 && (v[0] == ' ' || v[0] == '\t');
    gql_buf_puts(&b, "\"\"\"");
    if ((multi && !skip_leading_nl) || force_leading)
        gql_buf_putc(&b, '\n');
    gql_buf_append(&b, e, en);
    if (multi || force_trailing)
        gql_buf_putc(&b, '\n');
    gql_buf_puts(&b, "\"\"\"");
    pstr r = mk(p, b.data ? b.data : "", b.len);
    gql_buf_free(&b);
    gql_buf_free(&esc);
    return r;
}

static pstr print_string_value(printer *p, const char *v, size_t n, bool as_block)
{
    if (as_block)
        return print_block_string(p, v, n);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql__buf_graphql_string(&b, v, n);
    pstr r = mk(p, b.data ? b.data : "", b.len);
    gql_buf_free(&b);
    return r;
}

/* ---- values, types, directives -------------------------------------------------- */

static pstr print_value(printer *p, const gql_value *v)
{
    switch (v->kind) {
    case GQL_VALUE_VARIABLE:
        return cat(p, 2, lit("$"), from_str(v->u.str));
    case GQL_VALUE_INT:
    case GQL_VALUE_FLOAT:
    case GQL_VALUE_ENUM:
        return from_str(v->u.str);
    case GQL_VALUE_STRING:
        return print_string_value(p, v->u.str.s, v->u.str.len, v->block);
    case GQL_VALUE_BOOLEAN:
        return lit(v->boolean ? "true" : "false");
    case GQL_VALUE_NULL:
        return lit("null");
    case GQL_VALUE_LIST: {
        pstr *ps = parts(p, v->u.list.n);
        for (uint32_t i = 0; i < v->u.list.n; i++)
            ps[i] = print_value(p, v->u.list.items[i]);
        return cat(p, 3, lit("["), join(p, ps, v->u.list.n, ", "), lit("]"));
    }
    case GQL_VALUE_OBJECT: {
        pstr *ps = parts(p, v->u.object.n);
        for (uint32_t i = 0; i < v->u.object.n; i++)
            ps[i] = cat(p, 3, from_str(v->u.object.fields[i].name), lit(": "), print_value(p, v->u.object.fields[i].value));
        return cat(p, 3, lit("{"), join(p, ps, v->u.object.n, ", "), lit("}"));
    }
    }
    return EMPTY;
}

static pstr print_type(printer *p, const gql_type_node *t)
{
    switch (t->kind) {
    case GQL_TYPE_NAMED:
        return from_str(t->name);
    case GQL_TYPE_LIST:
        return cat(p, 3, lit("["), print_type(p, t->of), lit("]"));
    default:
        return cat(p, 2, print_type(p, t->of), lit("!"));
    }
}

static pstr print_args(printer *p, const gql_argument *args, uint32_t n, pstr **out)
{
    pstr *ps = parts(p, n);
    for (uint32_t i = 0; i < n; i++)
        ps[i] = cat(p, 3, from_str(args[i].name), lit(": "), print_value(p, args[i].value));
    *out = ps;
    return join(p, ps, n, ", ");
}

static pstr print_directives(printer *p, const gql_directive *d, uint32_t n)
{
    pstr *ps = parts(p, n);
    for (uint32_t i = 0; i < n; i++) {
        pstr *a;
        pstr args = print_args(p, d[i].args, d[i].nargs, &a);
        ps[i] = cat(p, 3, lit("@"), from_str(d[i].name), wrap(p, "(", args, ")"));
    }
    return join(p, ps, n, " ");
}

/* ---- executable definitions ------------------------------------------------------- */

static pstr print_selection_set(printer *p, const gql_selection_set *ss);

static pstr print_selection(printer *p, const gql_selection *s)
{
    switch (s->kind) {
    case GQL_SEL_FIELD: {
        const gql_field_node *f = &s->u.field;
        pstr prefix = f->alias.s ? cat(p, 3, from_str(f->alias), lit(": "), from_str(f->name)) : from_str(f->name);
        pstr *a;
        pstr args = print_args(p, f->args, f->nargs, &a);
        pstr line = cat(p, 2, prefix, wrap(p, "(", args, ")"));
        if (gql__utf16_len(line.s, line.n) > 80)
            line = cat(p, 2, prefix, wrap(p, "(\n", indent(p, join(p, a, f->nargs, "\n")), "\n)"));
        pstr ps[3] = {line, print_directives(p, f->dirs, f->ndirs), f->sel ? print_selection_set(p, f->sel) : EMPTY};
        return join(p, ps, 3, " ");
    }
    case GQL_SEL_SPREAD: {
        const gql_spread_node *sp = &s->u.spread;
        return cat(p, 3, lit("..."), from_str(sp->name), wrap(p, " ", print_directives(p, sp->dirs, sp->ndirs), ""));
    }
    default: {
        const gql_inline_node *in = &s->u.inl;
        pstr ps[4] = {lit("..."), in->type_cond ? cat(p, 2, lit("on "), from_str(in->type_cond->name)) : EMPTY,
                      print_directives(p, in->dirs, in->ndirs), print_selection_set(p, in->sel)};
        return join(p, ps, 4, " ");
    }
    }
}

static pstr print_selection_set(printer *p, const gql_selection_set *ss)
{
    pstr *ps = parts(p, ss->n);
    for (uint32_t i = 0; i < ss->n; i++)
        ps[i] = print_selection(p, &ss->items[i]);
    return block(p, ps, ss->n);
}

static pstr print_operation(printer *p, const gql_operation_node *op)
{
    pstr *vs = parts(p, op->nvars);
    for (uint32_t i = 0; i < op->nvars; i++) {
        const gql_variable_def *v = &op->vars[i];
        vs[i] = cat(p, 5, lit("$"), from_str(v->name), lit(": "), print_type(p, v->type),
                    cat(p, 2, v->default_value ? cat(p, 2, lit(" = "), print_value(p, v->default_value)) : EMPTY,
                        wrap(p, " ", print_directives(p, v->dirs, v->ndirs), "")));
    }
    pstr var_defs = wrap(p, "(", join(p, vs, op->nvars, ", "), ")");
    pstr name_vars[2] = {op->name.s ? from_str(op->name) : EMPTY, var_defs};
    pstr pre[3] = {lit(gql_operation_type_name(op->operation)), join(p, name_vars, 2, ""),
                   print_directives(p, op->dirs, op->ndirs)};
    pstr prefix = join(p, pre, 3, " ");
    pstr sel = print_selection_set(p, op->sel);
    if (prefix.n == 5 && memcmp(prefix.s, "query", 5) == 0)
        return sel;
    return cat(p, 3, prefix, lit(" "), sel);
}

static pstr print_fragment(printer *p, const gql_fragment_node *f)
{
    pstr dirs = print_directives(p, f->dirs, f->ndirs);
    return cat(p, 6, lit("fragment "), from_str(f->name), lit(" on "), from_str(f->type_cond->name),
               cat(p, 2, lit(" "), wrap(p, "", dirs, " ")), print_selection_set(p, f->sel));
}

/* ---- type system definitions ------------------------------------------------------ */

static pstr print_description(printer *p, const gql_value *d)
{
    if (!d)
        return EMPTY;
    return cat(p, 2, print_value(p, d), lit("\n"));
}

static pstr print_input_value_def(printer *p, const gql_input_value_def *iv)
{
    pstr head = cat(p, 3, from_str(iv->name), lit(": "), print_type(p, iv->type));
    pstr ps[3] = {head, iv->default_value ? cat(p, 2, lit("= "), print_value(p, iv->default_value)) : EMPTY,
                  print_directives(p, iv->dirs, iv->ndirs)};
    return cat(p, 2, print_description(p, iv->description), join(p, ps, 3, " "));
}

static pstr print_arg_defs(printer *p, const gql_input_value_def *args, uint32_t n)
{
    pstr *ps = parts(p, n);
    bool multiline = false;
    for (uint32_t i = 0; i < n; i++) {
        ps[i] = print_input_value_def(p, &args[i]);
        if (contains_nl(ps[i]))
            multiline = true;
    }
    if (multiline)
        return wrap(p, "(\n", indent(p, join(p, ps, n, "\n")), "\n)");
    return wrap(p, "(", join(p, ps, n, ", "), ")");
}

static pstr print_named_types(printer *p, gql_type_node *const *types, uint32_t n, const char *sep)
{
    pstr *ps = parts(p, n);
    for (uint32_t i = 0; i < n; i++)
        ps[i] = from_str(types[i]->name);
    return join(p, ps, n, sep);
}

static pstr print_typedef(printer *p, const gql_typedef_node *t)
{
    static const char *const kw[] = {"scalar", "type", "interface", "union", "enum", "input"};
    pstr head = t->is_extension ? cat(p, 2, lit("extend "), lit(kw[t->kind])) : lit(kw[t->kind]);
    pstr desc = t->is_extension ? EMPTY : print_description(p, t->description);
    pstr dirs = print_directives(p, t->dirs, t->ndirs);
    switch (t->kind) {
    case GQL_TD_SCALAR: {
        pstr ps[3] = {head, from_str(t->name), dirs};
        return cat(p, 2, desc, join(p, ps, 3, " "));
    }
    case GQL_TD_OBJECT:
    case GQL_TD_INTERFACE: {
        pstr *fs = parts(p, t->nfields);
        for (uint32_t i = 0; i < t->nfields; i++) {
            const gql_field_def_node *f = &t->fields[i];
            fs[i] = cat(p, 6, print_description(p, f->description), from_str(f->name), print_arg_defs(p, f->args, f->nargs),
                        lit(": "), print_type(p, f->type), wrap(p, " ", print_directives(p, f->dirs, f->ndirs), ""));
        }
        pstr ps[5] = {head, from_str(t->name), wrap(p, "implements ", print_named_types(p, t->types, t->ntypes, " & "), ""),
                      dirs, block(p, fs, t->nfields)};
        return cat(p, 2, desc, join(p, ps, 5, " "));
    }
    case GQL_TD_UNION: {
        pstr ps[4] = {head, from_str(t->name), dirs, wrap(p, "= ", print_named_types(p, t->types, t->ntypes, " | "), "")};
        return cat(p, 2, desc, join(p, ps, 4, " "));
    }
    case GQL_TD_ENUM: {
        pstr *vs = parts(p, t->nvalues);
        for (uint32_t i = 0; i < t->nvalues; i++) {
            const gql_enum_value_def *v = &t->values[i];
            pstr ps[2] = {from_str(v->name), print_directives(p, v->dirs, v->ndirs)};
            vs[i] = cat(p, 2, print_description(p, v->description), join(p, ps, 2, " "));
        }
        pstr ps[4] = {head, from_str(t->name), dirs, block(p, vs, t->nvalues)};
        return cat(p, 2, desc, join(p, ps, 4, " "));
    }
    default: {
        pstr *fs = parts(p, t->ninput_fields);
        for (uint32_t i = 0; i < t->ninput_fields; i++)
            fs[i] = print_input_value_def(p, &t->input_fields[i]);
        pstr ps[4] = {head, from_str(t->name), dirs, block(p, fs, t->ninput_fields)};
        return cat(p, 2, desc, join(p, ps, 4, " "));
    }
    }
}

static pstr print_schema_def(printer *p, const gql_schema_def_node *s)
{
    pstr *os = parts(p, s->nops);
    for (uint32_t i = 0; i < s->nops; i++)
        os[i] = cat(p, 3, lit(gql_operation_type_name(s->ops[i].operation)), lit(": "), from_str(s->ops[i].type->name));
    pstr ps[3] = {lit(s->is_extension ? "extend schema" : "schema"), print_directives(p, s->dirs, s->ndirs),
                  block(p, os, s->nops)};
    return cat(p, 2, s->is_extension ? EMPTY : print_description(p, s->description), join(p, ps, 3, " "));
}

static pstr print_directive_def(printer *p, const gql_directive_def_node *d)
{
    pstr *ls = parts(p, d->nlocations);
    for (uint32_t i = 0; i < d->nlocations; i++)
        ls[i] = from_str(d->locations[i].name);
    return cat(p, 7, print_description(p, d->description), lit("directive @"), from_str(d->name),
               print_arg_defs(p, d->args, d->nargs), lit(d->repeatable ? " repeatable" : ""), lit(" on "),
               join(p, ls, d->nlocations, " | "));
}

static pstr print_definition(printer *p, const gql_definition *d)
{
    switch (d->kind) {
    case GQL_DEF_OPERATION:
        return print_operation(p, &d->u.op);
    case GQL_DEF_FRAGMENT:
        return print_fragment(p, &d->u.frag);
    case GQL_DEF_SCHEMA:
        return print_schema_def(p, &d->u.schema);
    case GQL_DEF_TYPE:
        return print_typedef(p, &d->u.type);
    default:
        return print_directive_def(p, &d->u.directive);
    }
}

int gql_print_document(const gql_document *doc, gql_buf *out)
{
    printer p;
    gql_arena_init(&p.a, 0);
    p.failed = 0;
    pstr *ps = parts(&p, doc->ndefs);
    for (uint32_t i = 0; i < doc->ndefs; i++)
        ps[i] = print_definition(&p, &doc->defs[i]);
    pstr all = join(&p, ps, doc->ndefs, "\n\n");
    int rc = p.failed ? -1 : gql_buf_append(out, all.s, all.n);
    gql_arena_free(&p.a);
    return rc;
}

int gql_print_value(const gql_value *v, gql_buf *out)
{
    printer p;
    gql_arena_init(&p.a, 0);
    p.failed = 0;
    pstr s = print_value(&p, v);
    int rc = p.failed ? -1 : gql_buf_append(out, s.s, s.n);
    gql_arena_free(&p.a);
    return rc;
}

int gql_print_type_node(const gql_type_node *t, gql_buf *out)
{
    printer p;
    gql_arena_init(&p.a, 0);
    p.failed = 0;
    pstr s = print_type(&p, t);
    int rc = p.failed ? -1 : gql_buf_append(out, s.s, s.n);
    gql_arena_free(&p.a);
    return rc;
}

/* Exposed to gql_schema's printer: block-string printing of descriptions. */
int gql__print_block_string(gql_buf *out, const char *s, size_t n)
{
    printer p;
    gql_arena_init(&p.a, 0);
    p.failed = 0;
    pstr r = print_block_string(&p, s, n);
    int rc = p.failed ? -1 : gql_buf_append(out, r.s, r.n);
    gql_arena_free(&p.a);
    return rc;
}
