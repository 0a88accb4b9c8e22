/*
 * Input coercion following graphql-js 16 (see gql_values.h for why it is shared).
 */
#include "gql_values.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql_print.h"
#include "gql_schema_internal.h"
#include "gql_util.h"

#define MAX_INT 2147483647.0
#define MIN_INT -2147483648.0

bool gql__json_is_number(const json_t *v)
{
    return json_is_integer(v) || json_is_real(v);
}

double gql__json_number(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v) : json_real_value(v);
}

/* A JSON number for a JavaScript number: integers stay integers when exact. */
static json_t *number_json(double d)
{
    if (gql__is_integer(d) && fabs(d) < 9007199254740992.0)
        return json_integer((json_int_t)d);
    if (!isfinite(d))
        return json_null(); /* JSON cannot carry Infinity; JSON.stringify prints null */
    return json_real(d);
}

static void print_node(gql_buf *b, const gql_value *v)
{
    gql_print_value(v, b);
}

/* didYouMean('the enum value', suggestionList(str, values)) */
static void enum_suggestions(gql_buf *err, const gql_type *e, const char *str, size_t len)
{
    gql_str *names = malloc((e->nvalues ? e->nvalues : 1) * sizeof *names);
    uint32_t *idx = malloc((e->nvalues ? e->nvalues : 1) * sizeof *idx);
    if (!names || !idx) {
        free(names);
        free(idx);
        return;
    }
    for (uint32_t i = 0; i < e->nvalues; i++) {
        names[i].s = e->values[i].name;
        names[i].len = e->values[i].name_len;
    }
    uint32_t n = gql__suggestion_list(str, len, names, e->nvalues, idx);
    gql_str *sugg = malloc((n ? n : 1) * sizeof *sugg);
    if (sugg) {
        for (uint32_t i = 0; i < n; i++)
            sugg[i] = names[idx[i]];
        gql__did_you_mean(err, "the enum value", sugg, n);
        free(sugg);
    }
    free(names);
    free(idx);
}

int gql__parse_literal(const gql_schema *s, const gql_type *leaf, const gql_value *node, json_t *variables,
                       json_t **out, gql_buf *err)
{
    *out = NULL;
    if (leaf->kind == GQL_KIND_ENUM) {
        if (node->kind != GQL_VALUE_ENUM) {
            gql_buf vs;
            gql_buf_init(&vs, 0);
            print_node(&vs, node);
            gql_buf_printf(err, "Enum \"%s\" cannot represent non-enum value: ", leaf->name);
            gql_buf_append(err, vs.data, vs.len);
            gql_buf_putc(err, '.');
            enum_suggestions(err, leaf, vs.data ? vs.data : "", vs.len);
            gql_buf_free(&vs);
            return -1;
        }
        const gql_enum_value *ev = gql_type_enum_value(leaf, node->u.str.s, node->u.str.len);
        if (!ev) {
            gql_buf_printf(err, "Value \"%.*s\" does not exist in \"%s\" enum.", (int)node->u.str.len, node->u.str.s,
                           leaf->name);
            enum_suggestions(err, leaf, node->u.str.s, node->u.str.len);
            return -1;
        }
        *out = json_stringn(ev->name, ev->name_len);
        return 1;
    }
    if (leaf == s->t_int) {
        if (node->kind != GQL_VALUE_INT) {
            gql_buf_puts(err, "Int cannot represent non-integer value: ");
            print_node(err, node);
            return -1;
        }
        double d = gql__parse_int_text(node->u.str.s, node->u.str.len);
        if (d > MAX_INT || d < MIN_INT) {
            gql_buf_printf(err, "Int cannot represent non 32-bit signed integer value: %.*s", (int)node->u.str.len,
                           node->u.str.s);
            return -1;
        }
        *out = json_integer((json_int_t)d);
        return 1;
    }
    if (leaf == s->t_float) {
        if (node->kind != GQL_VALUE_FLOAT && node->kind != GQL_VALUE_INT) {
            gql_buf_puts(err, "Float cannot represent non numeric value: ");
            print_node(err, node);
            return -1;
        }
        double d = gql__parse_float_text(node->u.str.s, node->u.str.len);
        *out = isfinite(d) ? json_real(d) : json_null();
        return 1;
    }
    if (leaf == s->t_string) {
        if (node->kind != GQL_VALUE_STRING) {
            gql_buf_puts(err, "String cannot represent a non string value: ");
            print_node(err, node);
            return -1;
        }
        *out = json_stringn_nocheck(node->u.str.s, node->u.str.len);
        return 1;
    }
    if (leaf == s->t_boolean) {
        if (node->kind != GQL_VALUE_BOOLEAN) {
            gql_buf_puts(err, "Boolean cannot represent a non boolean value: ");
            print_node(err, node);
            return -1;
        }
        *out = json_boolean(node->boolean);
        return 1;
    }
    if (leaf == s->t_id) {
        if (node->kind != GQL_VALUE_STRING && node->kind != GQL_VALUE_INT) {
            gql_buf_puts(err, "ID cannot represent a non-string and non-integer value: ");
            print_node(err, node);
            return -1;
        }
        *out = json_stringn_nocheck(node->u.str.s, node->u.str.len);
        return 1;
    }
    /* custom scalar */
    json_t *untyped = gql__value_from_ast_untyped(node, variables);
    if (s->scalars.parse_literal) {
        json_t *res = NULL;
        size_t before = err->len;
        int rc = s->scalars.parse_literal(s->scalars.ud, leaf, untyped ? untyped : json_null(), &res, err);
        if (rc != 0) {
            if (untyped)
                json_decref(untyped);
            if (res)
                json_decref(res);
            return err->len > before ? -1 : 0;
        }
        if (res) {
            if (untyped)
                json_decref(untyped);
            *out = res;
            return 1;
        }
    }
    if (!untyped)
        return 0;
    *out = untyped;
    return 1;
}

json_t *gql__value_from_ast_untyped(const gql_value *node, json_t *variables)
{
    switch (node->kind) {
    case GQL_VALUE_NULL:
        return json_null();
    case GQL_VALUE_INT:
        return number_json(gql__parse_int_text(node->u.str.s, node->u.str.len));
    case GQL_VALUE_FLOAT: {
        double d = gql__parse_float_text(node->u.str.s, node->u.str.len);
        return isfinite(d) ? json_real(d) : json_null();
    }
    case GQL_VALUE_STRING:
    case GQL_VALUE_ENUM:
        return json_stringn_nocheck(node->u.str.s, node->u.str.len);
    case GQL_VALUE_BOOLEAN:
        return json_boolean(node->boolean);
    case GQL_VALUE_LIST: {
        json_t *a = json_array();
        for (uint32_t i = 0; i < node->u.list.n; i++) {
            json_t *v = gql__value_from_ast_untyped(node->u.list.items[i], variables);
            /* JSON has no undefined: a missing variable inside a list is null */
            json_array_append_new(a, v ? v : json_null());
        }
        return a;
    }
    case GQL_VALUE_OBJECT: {
        json_t *o = json_object();
        for (uint32_t i = 0; i < node->u.object.n; i++) {
            const gql_object_field *f = &node->u.object.fields[i];
            json_t *v = gql__value_from_ast_untyped(f->value, variables);
            if (v)
                json_object_setn_new_nocheck(o, f->name.s, f->name.len, v);
            else
                json_object_deln(o, f->name.s, f->name.len); /* keyValMap keeps the last */
        }
        return o;
    }
    case GQL_VALUE_VARIABLE: {
        if (!variables)
            return NULL;
        json_t *v = json_object_getn(variables, node->u.str.s, node->u.str.len);
        return v ? json_incref(v) : NULL;
    }
    }
    return NULL;
}

static bool is_missing_variable(const gql_value *node, json_t *variables)
{
    return node->kind == GQL_VALUE_VARIABLE && (!variables || !json_object_getn(variables, node->u.str.s, node->u.str.len));
}

/* `depth` guards the one recursion a literal does not bound: while a schema is being
 * built, an input field's default may be coerced on the fly from another default
 * (defaults can refer to each other, even in a cycle). */
static bool vfa(const gql_schema *s, const gql_value *node, const gql_type *type, json_t *variables, json_t **out,
                int depth);

bool gql__value_from_ast(const gql_schema *s, const gql_value *node, const gql_type *type, json_t *variables,
                         json_t **out)
{
    return vfa(s, node, type, variables, out, 0);
}

static bool vfa(const gql_schema *s, const gql_value *node, const gql_type *type, json_t *variables, json_t **out,
                int depth)
{
    *out = NULL;
    if (!node || depth > GQL_MAX_NESTING * 4)
        return false;
    if (node->kind == GQL_VALUE_VARIABLE) {
        json_t *v = variables ? json_object_getn(variables, node->u.str.s, node->u.str.len) : NULL;
        if (!v)
            return false;
        if (json_is_null(v) && type->kind == GQL_KIND_NON_NULL)
            return false;
        *out = json_incref(v);
        return true;
    }
    if (type->kind == GQL_KIND_NON_NULL) {
        if (node->kind == GQL_VALUE_NULL)
            return false;
        return vfa(s, node, type->of, variables, out, depth + 1);
    }
    if (node->kind == GQL_VALUE_NULL) {
        *out = json_null();
        return true;
    }
    if (type->kind == GQL_KIND_LIST) {
        const gql_type *item = type->of;
        if (node->kind == GQL_VALUE_LIST) {
            json_t *a = json_array();
            for (uint32_t i = 0; i < node->u.list.n; i++) {
                const gql_value *it = node->u.list.items[i];
                if (is_missing_variable(it, variables)) {
                    if (item->kind == GQL_KIND_NON_NULL) {
                        json_decref(a);
                        return false;
                    }
                    json_array_append_new(a, json_null());
                } else {
                    json_t *v;
                    if (!vfa(s, it, item, variables, &v, depth + 1)) {
                        json_decref(a);
                        return false;
                    }
                    json_array_append_new(a, v);
                }
            }
            *out = a;
            return true;
        }
        json_t *v;
        if (!vfa(s, node, item, variables, &v, depth + 1))
            return false;
        json_t *a = json_array();
        json_array_append_new(a, v);
        *out = a;
        return true;
    }
    if (type->kind == GQL_KIND_INPUT_OBJECT) {
        if (node->kind != GQL_VALUE_OBJECT)
            return false;
        json_t *o = json_object();
        for (uint32_t i = 0; i < type->ninput_fields; i++) {
            const gql_input_value *f = &type->input_fields[i];
            /* keyMap: the last field node of a name wins */
            const gql_object_field *fn = NULL;
            for (uint32_t j = node->u.object.n; j-- > 0;)
                if (node->u.object.fields[j].name.len == f->name_len &&
                    memcmp(node->u.object.fields[j].name.s, f->name, f->name_len) == 0) {
                    fn = &node->u.object.fields[j];
                    break;
                }
            if (!fn || is_missing_variable(fn->value, variables)) {
                if (f->has_default) {
                    json_t *dv = f->default_value;
                    if (!dv) {
                        /* Schema under construction: this default is not coerced yet.
                         * Coerce and memoise it now; a default that needs itself is
                         * a cycle and invalid. */
                        gql_input_value *mf = (gql_input_value *)f;
                        if (mf->_state == 1 || !f->node) {
                            json_decref(o);
                            return false;
                        }
                        mf->_state = 1;
                        bool ok = vfa(s, f->node->default_value, f->type, NULL, &dv, depth + 1);
                        mf->_state = 2;
                        if (!ok) {
                            json_decref(o);
                            return false;
                        }
                        mf->default_value = dv;
                    }
                    json_object_setn_nocheck(o, f->name, f->name_len, dv);
                } else if (f->type->kind == GQL_KIND_NON_NULL) {
                    json_decref(o);
                    return false;
                }
                continue;
            }
            json_t *v;
            if (!vfa(s, fn->value, f->type, variables, &v, depth + 1)) {
                json_decref(o);
                return false;
            }
            json_object_setn_new_nocheck(o, f->name, f->name_len, v);
        }
        if (type->is_one_of) {
            if (json_object_size(o) != 1) {
                json_decref(o);
                return false;
            }
            void *it = json_object_iter(o);
            if (json_is_null(json_object_iter_value(it))) {
                json_decref(o);
                return false;
            }
        }
        *out = o;
        return true;
    }
    /* leaf */
    gql_buf err;
    gql_buf_init(&err, 1 << 16);
    json_t *v;
    int rc = gql__parse_literal(s, type, node, variables, &v, &err);
    gql_buf_free(&err);
    if (rc != 1)
        return false;
    *out = v;
    return true;
}

int gql__parse_value(const gql_schema *s, const gql_type *leaf, json_t *value, json_t **out, gql_buf *err)
{
    *out = NULL;
    if (leaf->kind == GQL_KIND_ENUM) {
        if (!json_is_string(value)) {
            gql_buf vs;
            gql_buf_init(&vs, 0);
            gql__inspect_json(&vs, value);
            gql_buf_printf(err, "Enum \"%s\" cannot represent non-string value: ", leaf->name);
            gql_buf_append(err, vs.data, vs.len);
            gql_buf_putc(err, '.');
            enum_suggestions(err, leaf, vs.data ? vs.data : "", vs.len);
            gql_buf_free(&vs);
            return -1;
        }
        const char *str = json_string_value(value);
        size_t len = json_string_length(value);
        const gql_enum_value *ev = gql_type_enum_value(leaf, str, len);
        if (!ev) {
            gql_buf_puts(err, "Value \"");
            gql_buf_append(err, str, len);
            gql_buf_printf(err, "\" does not exist in \"%s\" enum.", leaf->name);
            enum_suggestions(err, leaf, str, len);
            return -1;
        }
        *out = json_stringn(ev->name, ev->name_len);
        return 1;
    }
    if (leaf == s->t_int) {
        if (!gql__json_is_number(value) || !gql__is_integer(gql__json_number(value))) {
            gql_buf_puts(err, "Int cannot represent non-integer value: ");
            gql__inspect_json(err, value);
            return -1;
        }
        double d = gql__json_number(value);
        if (d > MAX_INT || d < MIN_INT) {
            gql_buf_puts(err, "Int cannot represent non 32-bit signed integer value: ");
            gql__buf_json_number(err, value);
            return -1;
        }
        *out = json_integer((json_int_t)d);
        return 1;
    }
    if (leaf == s->t_float) {
        if (!gql__json_is_number(value) || !isfinite(gql__json_number(value))) {
            gql_buf_puts(err, "Float cannot represent non numeric value: ");
            gql__inspect_json(err, value);
            return -1;
        }
        *out = json_real(gql__json_number(value));
        return 1;
    }
    if (leaf == s->t_string) {
        if (!json_is_string(value)) {
            gql_buf_puts(err, "String cannot represent a non string value: ");
            gql__inspect_json(err, value);
            return -1;
        }
        *out = json_incref(value);
        return 1;
    }
    if (leaf == s->t_boolean) {
        if (!json_is_boolean(value)) {
            gql_buf_puts(err, "Boolean cannot represent a non boolean value: ");
            gql__inspect_json(err, value);
            return -1;
        }
        *out = json_incref(value);
        return 1;
    }
    if (leaf == s->t_id) {
        if (json_is_string(value)) {
            *out = json_incref(value);
            return 1;
        }
        if (gql__json_is_number(value) && gql__is_integer(gql__json_number(value))) {
            char t[40];
            int n;
            if (json_is_integer(value))
                n = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(value));
            else
                n = gql__js_number(t, json_real_value(value));
            *out = json_stringn(t, (size_t)n);
            return 1;
        }
        gql_buf_puts(err, "ID cannot represent value: ");
        gql__inspect_json(err, value);
        return -1;
    }
    if (s->scalars.parse_value) {
        json_t *res = NULL;
        size_t before = err->len;
        int rc = s->scalars.parse_value(s->scalars.ud, leaf, value, &res, err);
        if (rc != 0) {
            if (res)
                json_decref(res);
            return err->len > before ? -1 : 0;
        }
        if (res) {
            *out = res;
            return 1;
        }
    }
    *out = json_incref(value);
    return 1;
}

/* ---- coerceInputValue ------------------------------------------------------------ */

typedef struct coerce_ctx {
    const gql_schema *s;
    gql__coerce_error_fn onerr;
    void *ud;
    gql_path_segment path[GQL_MAX_NESTING * 2 + 8];
    uint32_t npath;
    int failed;
} coerce_ctx;

static void report(coerce_ctx *c, uint32_t npath, json_t *invalid, const char *msg, size_t len)
{
    c->failed = 1;
    c->onerr(c->ud, c->path, npath, invalid, msg, len);
}

static void reportf(coerce_ctx *c, json_t *invalid, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void reportf(coerce_ctx *c, json_t *invalid, const char *fmt, ...)
{
    char m[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof m)
        n = sizeof m - 1;
    report(c, c->npath, invalid, m, (size_t)n);
}

/* `type` printed for messages */
static void type_str(const gql_type *t, char *out, size_t n)
{
    gql_buf b;
    gql_buf_init(&b, n - 1);
    gql_type_print(&b, t);
    snprintf(out, n, "%.*s", (int)b.len, b.data ? b.data : "");
    gql_buf_free(&b);
}

static json_t *coerce(coerce_ctx *c, json_t *input, const gql_type *type, bool *undef);

/* "Field "x" is not defined by type "T"." with graphql-js's suggestions. */
static void report_unknown_field(coerce_ctx *c, json_t *input, const gql_type *type, const char *key, size_t klen)
{
    gql_str *names = malloc((type->ninput_fields ? type->ninput_fields : 1) * sizeof *names);
    uint32_t *idx = malloc((type->ninput_fields ? type->ninput_fields : 1) * sizeof *idx);
    gql_buf m;
    gql_buf_init(&m, 0);
    gql_buf_puts(&m, "Field \"");
    gql_buf_append(&m, key, klen);
    gql_buf_printf(&m, "\" is not defined by type \"%s\".", type->name);
    if (names && idx) {
        for (uint32_t i = 0; i < type->ninput_fields; i++) {
            names[i].s = type->input_fields[i].name;
            names[i].len = type->input_fields[i].name_len;
        }
        uint32_t n = gql__suggestion_list(key, klen, names, type->ninput_fields, idx);
        gql_str *sugg = malloc((n ? n : 1) * sizeof *sugg);
        if (sugg) {
            for (uint32_t i = 0; i < n; i++)
                sugg[i] = names[idx[i]];
            gql__did_you_mean(&m, NULL, sugg, n);
            free(sugg);
        }
    }
    free(names);
    free(idx);
    report(c, c->npath, input, m.data ? m.data : "", m.len);
    gql_buf_free(&m);
}

/* An array given for an input object: no field is present (names cannot be indexes),
 * required fields are missing and every index is an unknown field. */
static json_t *coerce_array_as_object(coerce_ctx *c, json_t *input, const gql_type *type, bool *undef)
{
    (void)undef;
    json_t *o = json_object();
    for (uint32_t i = 0; i < type->ninput_fields; i++) {
        const gql_input_value *f = &type->input_fields[i];
        if (f->has_default) {
            json_object_setn_nocheck(o, f->name, f->name_len, f->default_value);
        } else if (f->type->kind == GQL_KIND_NON_NULL) {
            char ts[256];
            type_str(f->type, ts, sizeof ts);
            reportf(c, input, "Field \"%s\" of required type \"%s\" was not provided.", f->name, ts);
        }
    }
    for (size_t k = 0; k < json_array_size(input); k++) {
        char key[24];
        int kl = snprintf(key, sizeof key, "%zu", k);
        report_unknown_field(c, input, type, key, (size_t)kl);
    }
    if (type->is_one_of && json_object_size(o) != 1)
        reportf(c, input, "Exactly one key must be specified for OneOf type \"%s\".", type->name);
    return o;
}

static json_t *coerce(coerce_ctx *c, json_t *input, const gql_type *type, bool *undef)
{
    *undef = false;
    if (type->kind == GQL_KIND_NON_NULL) {
        if (input && !json_is_null(input))
            return coerce(c, input, type->of, undef);
        char ts[256];
        type_str(type, ts, sizeof ts);
        reportf(c, input, "Expected non-nullable type \"%s\" not to be null.", ts);
        *undef = true;
        return NULL;
    }
    if (!input || json_is_null(input))
        return json_null();
    if (type->kind == GQL_KIND_LIST) {
        const gql_type *item = type->of;
        if (json_is_array(input)) {
            json_t *a = json_array();
            size_t n = json_array_size(input);
            for (size_t i = 0; i < n; i++) {
                if (c->npath < sizeof c->path / sizeof *c->path) {
                    c->path[c->npath].key = NULL;
                    c->path[c->npath].key_len = 0;
                    c->path[c->npath].index = (uint32_t)i;
                }
                c->npath++;
                bool u;
                json_t *v = coerce(c, json_array_get(input, i), item, &u);
                c->npath--;
                /* Array.from keeps undefined holes; JSON turns them into null */
                json_array_append_new(a, v ? v : json_null());
            }
            return a;
        }
        bool u;
        json_t *v = coerce(c, input, item, &u);
        json_t *a = json_array();
        json_array_append_new(a, v ? v : json_null());
        return a;
    }
    if (type->kind == GQL_KIND_INPUT_OBJECT) {
        /* graphql-js accepts any JavaScript object here, arrays included: an array is
         * an object whose keys are its indexes */
        if (json_is_array(input))
            return coerce_array_as_object(c, input, type, undef);
        if (!json_is_object(input)) {
            reportf(c, input, "Expected type \"%s\" to be an object.", type->name);
            *undef = true;
            return NULL;
        }
        json_t *o = json_object();
        /* graphql-js's coercedValue has a key for every provided field, also when its
         * value failed to coerce (undefined); the OneOf checks count those keys and
         * look at the first one */
        uint32_t nkeys = 0;
        const gql_input_value *first = NULL;
        json_t *first_value = NULL;
        for (uint32_t i = 0; i < type->ninput_fields; i++) {
            const gql_input_value *f = &type->input_fields[i];
            json_t *fv = json_object_getn(input, f->name, f->name_len);
            if (!fv) {
                if (f->has_default) {
                    json_object_setn_nocheck(o, f->name, f->name_len, f->default_value);
                    if (!nkeys++) {
                        first = f;
                        first_value = f->default_value;
                    }
                } else if (f->type->kind == GQL_KIND_NON_NULL) {
                    char ts[256];
                    type_str(f->type, ts, sizeof ts);
                    reportf(c, input, "Field \"%s\" of required type \"%s\" was not provided.", f->name, ts);
                }
                continue;
            }
            if (c->npath < sizeof c->path / sizeof *c->path) {
                c->path[c->npath].key = f->name;
                c->path[c->npath].key_len = f->name_len;
                c->path[c->npath].index = 0;
            }
            c->npath++;
            bool u;
            json_t *v = coerce(c, fv, f->type, &u);
            c->npath--;
            if (!nkeys++) {
                first = f;
                first_value = v;
            }
            if (v)
                json_object_setn_new_nocheck(o, f->name, f->name_len, v);
        }
        /* every provided field must be defined */
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach(input, key, klen, val)
        {
            (void)val;
            if (gql_type_input_field(type, key, klen))
                continue;
            report_unknown_field(c, input, type, key, klen);
        }
        if (type->is_one_of) {
            if (nkeys != 1)
                reportf(c, input, "Exactly one key must be specified for OneOf type \"%s\".", type->name);
            if (first && first_value && json_is_null(first_value)) {
                const char *k = first->name;
                size_t kl = first->name_len;
                if (c->npath < sizeof c->path / sizeof *c->path) {
                    c->path[c->npath].key = k;
                    c->path[c->npath].key_len = (uint32_t)kl;
                    c->path[c->npath].index = 0;
                }
                char m[600];
                int ml = snprintf(m, sizeof m, "Field \"%.*s\" must be non-null.", (int)kl, k);
                report(c, c->npath + 1, json_null(), m, (size_t)ml < sizeof m ? (size_t)ml : sizeof m - 1);
            }
        }
        return o;
    }
    /* leaf */
    gql_buf err;
    gql_buf_init(&err, 1 << 16);
    json_t *v;
    int rc = gql__parse_value(c->s, type, input, &v, &err);
    if (rc == 1) {
        gql_buf_free(&err);
        return v;
    }
    if (rc < 0)
        report(c, c->npath, input, err.data ? err.data : "", err.len);
    else
        reportf(c, input, "Expected type \"%s\".", type->name);
    gql_buf_free(&err);
    *undef = true;
    return NULL;
}

json_t *gql__coerce_input_value(const gql_schema *s, json_t *input, const gql_type *type, gql__coerce_error_fn onerr,
                                void *ud)
{
    coerce_ctx *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->s = s;
    c->onerr = onerr;
    c->ud = ud;
    bool undef;
    json_t *v = coerce(c, input, type, &undef);
    if (c->failed && v) {
        json_decref(v);
        v = NULL;
    }
    free(c);
    return v;
}

void gql__print_path(gql_buf *out, const gql_path_segment *path, uint32_t npath)
{
    for (uint32_t i = 0; i < npath; i++) {
        if (path[i].key) {
            gql_buf_putc(out, '.');
            gql_buf_append(out, path[i].key, path[i].key_len);
        } else {
            gql_buf_printf(out, "[%u]", path[i].index);
        }
    }
}

/* ---- astFromValue + print --------------------------------------------------------- */

static bool integer_string(const char *s, size_t n)
{
    size_t i = 0;
    if (n && s[0] == '-')
        i = 1;
    if (i >= n)
        return false;
    if (s[i] == '0')
        return i + 1 == n;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

/* Serializes a leaf for astFromValue (graphql-js type.serialize()). Returns false if
 * serialize would throw or return null. */
static bool serialize_leaf(const gql_schema *s, const gql_type *t, json_t *v, json_t **out)
{
    *out = NULL;
    if (t->kind == GQL_KIND_ENUM) {
        if (json_is_string(v) && gql_type_enum_value(t, json_string_value(v), json_string_length(v))) {
            *out = json_incref(v);
            return true;
        }
        return false;
    }
    if (t == s->t_int || t == s->t_float) {
        double d;
        if (json_is_boolean(v))
            d = json_is_true(v);
        else if (gql__json_is_number(v))
            d = gql__json_number(v);
        else if (json_is_string(v) && json_string_length(v) > 0) {
            if (!gql__js_string_to_number(json_string_value(v), json_string_length(v), &d))
                return false;
        } else
            return false;
        if (t == s->t_int && (!gql__is_integer(d) || d > MAX_INT || d < MIN_INT))
            return false;
        if (!isfinite(d))
            return false;
        *out = number_json(d);
        return true;
    }
    if (t == s->t_string) {
        if (json_is_string(v)) {
            *out = json_incref(v);
        } else if (json_is_boolean(v)) {
            *out = json_string(json_is_true(v) ? "true" : "false");
        } else if (gql__json_is_number(v) && isfinite(gql__json_number(v))) {
            char b[40];
            gql_buf tb;
            gql_buf_init(&tb, 64);
            gql__buf_json_number(&tb, v);
            snprintf(b, sizeof b, "%.*s", (int)tb.len, tb.data);
            gql_buf_free(&tb);
            *out = json_string(b);
        } else
            return false;
        return true;
    }
    if (t == s->t_boolean) {
        if (json_is_boolean(v)) {
            *out = json_incref(v);
            return true;
        }
        if (gql__json_is_number(v) && isfinite(gql__json_number(v))) {
            *out = json_boolean(gql__json_number(v) != 0);
            return true;
        }
        return false;
    }
    if (t == s->t_id) {
        if (json_is_string(v)) {
            *out = json_incref(v);
            return true;
        }
        if (gql__json_is_number(v) && gql__is_integer(gql__json_number(v))) {
            char b[40];
            gql_buf tb;
            gql_buf_init(&tb, 64);
            gql__buf_json_number(&tb, v);
            snprintf(b, sizeof b, "%.*s", (int)tb.len, tb.data);
            gql_buf_free(&tb);
            *out = json_string(b);
            return true;
        }
        return false;
    }
    /* custom scalar: identity (or the serialize hook) */
    if (s->scalars.serialize) {
        gql_buf err;
        gql_buf_init(&err, 1 << 12);
        json_t *res = NULL;
        int rc = s->scalars.serialize(s->scalars.ud, t, v, &res, &err);
        gql_buf_free(&err);
        if (rc != 0) {
            if (res)
                json_decref(res);
            return false;
        }
        *out = res ? res : json_incref(v);
        return !json_is_null(*out);
    }
    *out = json_incref(v);
    return true;
}

static bool print_literal(const gql_schema *s, json_t *value, const gql_type *type, gql_buf *out, int depth);

static bool print_literal(const gql_schema *s, json_t *value, const gql_type *type, gql_buf *out, int depth)
{
    if (depth > GQL_MAX_NESTING * 2)
        return false;
    if (type->kind == GQL_KIND_NON_NULL) {
        if (value && json_is_null(value))
            return false;
        return print_literal(s, value, type->of, out, depth + 1);
    }
    if (!value)
        return false;
    if (json_is_null(value)) {
        gql_buf_puts(out, "null");
        return true;
    }
    if (type->kind == GQL_KIND_LIST) {
        if (json_is_array(value)) {
            gql_buf_putc(out, '[');
            size_t n = json_array_size(value);
            int first = 1;
            for (size_t i = 0; i < n; i++) {
                gql_buf item;
                gql_buf_init(&item, 0);
                if (print_literal(s, json_array_get(value, i), type->of, &item, depth + 1)) {
                    if (!first)
                        gql_buf_puts(out, ", ");
                    first = 0;
                    gql_buf_append(out, item.data, item.len);
                }
                gql_buf_free(&item);
            }
            gql_buf_putc(out, ']');
            return true;
        }
        return print_literal(s, value, type->of, out, depth + 1);
    }
    if (type->kind == GQL_KIND_INPUT_OBJECT) {
        if (!json_is_object(value))
            return false;
        gql_buf_putc(out, '{');
        int first = 1;
        for (uint32_t i = 0; i < type->ninput_fields; i++) {
            const gql_input_value *f = &type->input_fields[i];
            json_t *fv = json_object_getn(value, f->name, f->name_len);
            gql_buf item;
            gql_buf_init(&item, 0);
            if (fv && print_literal(s, fv, f->type, &item, depth + 1)) {
                if (!first)
                    gql_buf_puts(out, ", ");
                first = 0;
                gql_buf_append(out, f->name, f->name_len);
                gql_buf_puts(out, ": ");
                gql_buf_append(out, item.data, item.len);
            }
            gql_buf_free(&item);
        }
        gql_buf_putc(out, '}');
        return true;
    }
    json_t *ser;
    if (!serialize_leaf(s, type, value, &ser))
        return false;
    bool ok = true;
    if (json_is_boolean(ser)) {
        gql_buf_puts(out, json_is_true(ser) ? "true" : "false");
    } else if (gql__json_is_number(ser) && isfinite(gql__json_number(ser))) {
        gql__buf_json_number(out, ser);
    } else if (json_is_string(ser)) {
        const char *str = json_string_value(ser);
        size_t n = json_string_length(ser);
        if (type->kind == GQL_KIND_ENUM) {
            gql_buf_append(out, str, n);
        } else if (type == s->t_id && integer_string(str, n)) {
            gql_buf_append(out, str, n);
        } else {
            gql__buf_graphql_string(out, str, n);
        }
    } else {
        ok = false; /* graphql-js throws "Cannot convert value to AST" */
    }
    json_decref(ser);
    return ok;
}

bool gql__print_value_literal(const gql_schema *s, json_t *value, const gql_type *type, gql_buf *out)
{
    return print_literal(s, value, type, out, 0);
}

/* ---- constant literal checking (ValuesOfCorrectType for SDL values) --------------- */

typedef struct check_ctx {
    const gql_schema *s;
    gql__literal_error_fn fn;
    void *ud;
    int count;
} check_ctx;

static void check_report(check_ctx *c, const gql_value *where, gql_buf *m)
{
    c->count++;
    c->fn(c->ud, where, m->data ? m->data : "", m->len);
}

/* isValidValueNode() with `loc` as the location type (may be NULL). */
static void check_leaf(check_ctx *c, const gql_value *node, const gql_type *loc)
{
    if (!loc)
        return;
    const gql_type *named = gql_named_type(loc);
    gql_buf m;
    gql_buf_init(&m, 0);
    if (!gql_is_leaf_type(named)) {
        gql_buf_puts(&m, "Expected value of type \"");
        gql_type_print(&m, loc);
        gql_buf_puts(&m, "\", found ");
        gql_print_value(node, &m);
        gql_buf_putc(&m, '.');
        check_report(c, node, &m);
        gql_buf_free(&m);
        return;
    }
    json_t *v = NULL;
    int rc = gql__parse_literal(c->s, named, node, NULL, &v, &m);
    if (v)
        json_decref(v);
    if (rc == 0) {
        gql_buf_reset(&m);
        gql_buf_puts(&m, "Expected value of type \"");
        gql_type_print(&m, loc);
        gql_buf_puts(&m, "\", found ");
        gql_print_value(node, &m);
        gql_buf_putc(&m, '.');
    }
    if (rc <= 0)
        check_report(c, node, &m);
    gql_buf_free(&m);
}

static void check_value(check_ctx *c, const gql_value *node, const gql_type *loc, int depth)
{
    if (depth > GQL_MAX_NESTING * 2)
        return;
    switch (node->kind) {
    case GQL_VALUE_NULL:
        if (loc && loc->kind == GQL_KIND_NON_NULL) {
            gql_buf m;
            gql_buf_init(&m, 0);
            gql_buf_puts(&m, "Expected value of type \"");
            gql_type_print(&m, loc);
            gql_buf_puts(&m, "\", found null.");
            check_report(c, node, &m);
            gql_buf_free(&m);
        }
        return;
    case GQL_VALUE_VARIABLE:
        return;
    case GQL_VALUE_LIST: {
        const gql_type *lt = loc ? gql_nullable_type(loc) : NULL;
        const gql_type *item = lt && lt->kind == GQL_KIND_LIST ? lt->of : lt;
        if (!lt || lt->kind != GQL_KIND_LIST) {
            check_leaf(c, node, item && gql_is_input_type(item) ? item : NULL);
            return;
        }
        for (uint32_t i = 0; i < node->u.list.n; i++)
            check_value(c, node->u.list.items[i], gql_is_input_type(item) ? item : NULL, depth + 1);
        return;
    }
    case GQL_VALUE_OBJECT: {
        const gql_type *named = loc ? gql_named_type(loc) : NULL;
        if (!named || named->kind != GQL_KIND_INPUT_OBJECT) {
            check_leaf(c, node, loc);
            return;
        }
        for (uint32_t i = 0; i < named->ninput_fields; i++) {
            const gql_input_value *f = &named->input_fields[i];
            bool present = false;
            for (uint32_t j = 0; j < node->u.object.n; j++)
                if (node->u.object.fields[j].name.len == f->name_len &&
                    memcmp(node->u.object.fields[j].name.s, f->name, f->name_len) == 0)
                    present = true;
            if (!present && f->type->kind == GQL_KIND_NON_NULL && !f->has_default) {
                gql_buf m;
                gql_buf_init(&m, 0);
                gql_buf_printf(&m, "Field \"%s.%s\" of required type \"", named->name, f->name);
                gql_type_print(&m, f->type);
                gql_buf_puts(&m, "\" was not provided.");
                check_report(c, node, &m);
                gql_buf_free(&m);
            }
        }
        if (named->is_one_of) {
            /* keyMap of the fields: distinct names */
            uint32_t distinct = 0;
            const gql_object_field *only = NULL;
            for (uint32_t j = 0; j < node->u.object.n; j++) {
                bool seen = false;
                for (uint32_t k = 0; k < j; k++)
                    if (gql_str_eq(node->u.object.fields[k].name, node->u.object.fields[j].name))
                        seen = true;
                if (!seen)
                    distinct++;
                only = &node->u.object.fields[j];
            }
            gql_buf m;
            gql_buf_init(&m, 0);
            if (distinct != 1) {
                gql_buf_printf(&m, "OneOf Input Object \"%s\" must specify exactly one key.", named->name);
                check_report(c, node, &m);
            } else if (only->value->kind == GQL_VALUE_NULL) {
                gql_buf_printf(&m, "Field \"%s.%.*s\" must be non-null.", named->name, (int)only->name.len, only->name.s);
                check_report(c, node, &m);
            }
            gql_buf_free(&m);
        }
        for (uint32_t j = 0; j < node->u.object.n; j++) {
            const gql_object_field *of = &node->u.object.fields[j];
            const gql_input_value *f = gql_type_input_field(named, of->name.s, of->name.len);
            if (!f) {
                gql_buf m;
                gql_buf_init(&m, 0);
                gql_buf_puts(&m, "Field \"");
                gql_buf_append(&m, of->name.s, of->name.len);
                gql_buf_printf(&m, "\" is not defined by type \"%s\".", named->name);
                gql_str *names = malloc((named->ninput_fields + 1) * sizeof *names);
                uint32_t *idx = malloc((named->ninput_fields + 1) * sizeof *idx);
                if (names && idx) {
                    for (uint32_t i = 0; i < named->ninput_fields; i++) {
                        names[i].s = named->input_fields[i].name;
                        names[i].len = named->input_fields[i].name_len;
                    }
                    uint32_t n = gql__suggestion_list(of->name.s, of->name.len, names, named->ninput_fields, idx);
                    gql_str *sugg = malloc((n + 1) * sizeof *sugg);
                    if (sugg) {
                        for (uint32_t i = 0; i < n; i++)
                            sugg[i] = names[idx[i]];
                        gql__did_you_mean(&m, NULL, sugg, n);
                        free(sugg);
                    }
                }
                free(names);
                free(idx);
                c->count++;
                c->fn(c->ud, of->value, m.data ? m.data : "", m.len);
                gql_buf_free(&m);
            }
            check_value(c, of->value, f ? f->type : NULL, depth + 1);
        }
        return;
    }
    default:
        check_leaf(c, node, loc);
        return;
    }
}

int gql__check_literal(const gql_schema *s, const gql_value *node, const gql_type *type, gql__literal_error_fn fn,
                       void *ud)
{
    check_ctx c = {s, fn, ud, 0};
    check_value(&c, node, type, 0);
    return c.count;
}
