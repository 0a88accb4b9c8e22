/*
 * printSchema(): the schema as SDL, byte for byte as graphql-js prints it (custom
 * directives applied to types and fields are not printed, only @deprecated,
 * @specifiedBy and @oneOf, exactly like graphql-js). Used by `gqlrun --print-schema`
 * and by anyone who wants the stitched schema as one document.
 */
#include <string.h>

#include "gql_print.h"
#include "gql_schema_internal.h"

static bool printable_as_block_string(const char *v, size_t n)
{
    if (n == 0)
        return true;
    bool is_empty_line = true, has_indent = false, has_common_indent = true, seen_non_empty_line = false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        switch (c) {
        case 0x00: case 0x01: case 0x02: case 0x03: case 0x04: case 0x05: case 0x06: case 0x07: case 0x08:
        case 0x0B: case 0x0C: case 0x0E: case 0x0F:
            return false;
        case 0x0D:
            return false;
        case '\n':
            if (is_empty_line && !seen_non_empty_line)
                return false; /* leading new line */
            seen_non_empty_line = true;
            is_empty_line = true;
            has_indent = false;
            break;
        case '\t':
        case ' ':
            has_indent = has_indent || is_empty_line;
            break;
        default:
            has_common_indent = has_common_indent && has_indent;
            is_empty_line = false;
        }
    }
    if (is_empty_line)
        return false; /* trailing empty lines */
    if (has_common_indent && seen_non_empty_line)
        return false; /* internal indent */
    return true;
}

/* printDescription(def, indentation, firstInBlock) */
static void print_description(gql_buf *out, const char *d, const char *indentation, bool first_in_block)
{
    if (!d)
        return;
    size_t n = strlen(d);
    gql_buf lit;
    gql_buf_init(&lit, 0);
    if (printable_as_block_string(d, n))
        gql__print_block_string(&lit, d, n);
    else
        gql__buf_graphql_string(&lit, d, n);
    if (indentation[0] && !first_in_block) {
        gql_buf_putc(out, '\n');
        gql_buf_puts(out, indentation);
    } else {
        gql_buf_puts(out, indentation);
    }
    for (size_t i = 0; i < lit.len; i++) {
        gql_buf_putc(out, lit.data[i]);
        if (lit.data[i] == '\n')
            gql_buf_puts(out, indentation);
    }
    gql_buf_putc(out, '\n');
    gql_buf_free(&lit);
}

static void print_deprecated(gql_buf *out, const char *reason)
{
    if (!reason)
        return;
    if (strcmp(reason, "No longer supported") != 0) {
        gql_buf_puts(out, " @deprecated(reason: ");
        gql__buf_graphql_string(out, reason, strlen(reason));
        gql_buf_putc(out, ')');
    } else {
        gql_buf_puts(out, " @deprecated");
    }
}

static void print_input_value(gql_buf *out, const gql_input_value *a)
{
    gql_buf_append(out, a->name, a->name_len);
    gql_buf_puts(out, ": ");
    gql_type_print(out, a->type);
    if (a->default_printed) {
        gql_buf_puts(out, " = ");
        gql_buf_puts(out, a->default_printed);
    }
    print_deprecated(out, a->deprecation_reason);
}

static void print_args(gql_buf *out, const gql_input_value *args, uint32_t n, const char *indentation)
{
    if (n == 0)
        return;
    bool none = true;
    for (uint32_t i = 0; i < n; i++)
        if (args[i].description && args[i].description[0])
            none = false;
    if (none) {
        gql_buf_putc(out, '(');
        for (uint32_t i = 0; i < n; i++) {
            if (i)
                gql_buf_puts(out, ", ");
            print_input_value(out, &args[i]);
        }
        gql_buf_putc(out, ')');
        return;
    }
    char ind2[64];
    snprintf(ind2, sizeof ind2, "  %s", indentation);
    gql_buf_puts(out, "(\n");
    for (uint32_t i = 0; i < n; i++) {
        if (i)
            gql_buf_putc(out, '\n');
        print_description(out, args[i].description, ind2, i == 0);
        gql_buf_puts(out, ind2);
        print_input_value(out, &args[i]);
    }
    gql_buf_putc(out, '\n');
    gql_buf_puts(out, indentation);
    gql_buf_putc(out, ')');
}

static void print_fields(gql_buf *out, const gql_type *t)
{
    if (!t->nfields)
        return;
    gql_buf_puts(out, " {\n");
    for (uint32_t i = 0; i < t->nfields; i++) {
        const gql_field *f = &t->fields[i];
        if (i)
            gql_buf_putc(out, '\n');
        print_description(out, f->description, "  ", i == 0);
        gql_buf_puts(out, "  ");
        gql_buf_append(out, f->name, f->name_len);
        print_args(out, f->args, f->nargs, "  ");
        gql_buf_puts(out, ": ");
        gql_type_print(out, f->type);
        print_deprecated(out, f->deprecation_reason);
    }
    gql_buf_puts(out, "\n}");
}

static void print_type(gql_buf *out, const gql_type *t)
{
    print_description(out, t->description, "", true);
    switch (t->kind) {
    case GQL_KIND_SCALAR:
        gql_buf_printf(out, "scalar %s", t->name);
        if (t->specified_by_url) {
            gql_buf_puts(out, " @specifiedBy(url: ");
            gql__buf_graphql_string(out, t->specified_by_url, strlen(t->specified_by_url));
            gql_buf_putc(out, ')');
        }
        break;
    case GQL_KIND_OBJECT:
    case GQL_KIND_INTERFACE:
        gql_buf_printf(out, "%s %s", t->kind == GQL_KIND_OBJECT ? "type" : "interface", t->name);
        if (t->ninterfaces) {
            gql_buf_puts(out, " implements ");
            for (uint32_t i = 0; i < t->ninterfaces; i++) {
                if (i)
                    gql_buf_puts(out, " & ");
                gql_buf_puts(out, t->interfaces[i]->name);
            }
        }
        print_fields(out, t);
        break;
    case GQL_KIND_UNION:
        gql_buf_printf(out, "union %s", t->name);
        for (uint32_t i = 0; i < t->npossible; i++) {
            gql_buf_puts(out, i ? " | " : " = ");
            gql_buf_puts(out, t->possible[i]->name);
        }
        break;
    case GQL_KIND_ENUM:
        gql_buf_printf(out, "enum %s", t->name);
        if (t->nvalues) {
            gql_buf_puts(out, " {\n");
            for (uint32_t i = 0; i < t->nvalues; i++) {
                if (i)
                    gql_buf_putc(out, '\n');
                print_description(out, t->values[i].description, "  ", i == 0);
                gql_buf_puts(out, "  ");
                gql_buf_puts(out, t->values[i].name);
                print_deprecated(out, t->values[i].deprecation_reason);
            }
            gql_buf_puts(out, "\n}");
        }
        break;
    case GQL_KIND_INPUT_OBJECT:
        gql_buf_printf(out, "input %s%s", t->name, t->is_one_of ? " @oneOf" : "");
        if (t->ninput_fields) {
            gql_buf_puts(out, " {\n");
            for (uint32_t i = 0; i < t->ninput_fields; i++) {
                if (i)
                    gql_buf_putc(out, '\n');
                print_description(out, t->input_fields[i].description, "  ", i == 0);
                gql_buf_puts(out, "  ");
                print_input_value(out, &t->input_fields[i]);
            }
            gql_buf_puts(out, "\n}");
        }
        break;
    default:
        break;
    }
}

static bool is_specified_directive_name(const char *n)
{
    return !strcmp(n, "include") || !strcmp(n, "skip") || !strcmp(n, "deprecated") || !strcmp(n, "specifiedBy") ||
           !strcmp(n, "oneOf");
}

static bool is_standard_type(const gql_type *t)
{
    static const char *const names[] = {"String", "Int", "Float", "Boolean", "ID", "__Schema", "__Directive",
                                        "__DirectiveLocation", "__Type", "__Field", "__InputValue", "__EnumValue",
                                        "__TypeKind"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (!strcmp(t->name, names[i]))
            return true;
    return false;
}

int gql__print_schema(const gql_schema *s, gql_buf *out)
{
    bool first = true;
    bool common = (!s->query || !strcmp(s->query->name, "Query")) &&
                  (!s->mutation || !strcmp(s->mutation->name, "Mutation")) &&
                  (!s->subscription || !strcmp(s->subscription->name, "Subscription"));
    if (s->description || !common) {
        print_description(out, s->description, "", true);
        gql_buf_puts(out, "schema {\n");
        bool any = false;
        if (s->query) {
            gql_buf_printf(out, "  query: %s", s->query->name);
            any = true;
        }
        if (s->mutation) {
            gql_buf_printf(out, "%s  mutation: %s", any ? "\n" : "", s->mutation->name);
            any = true;
        }
        if (s->subscription)
            gql_buf_printf(out, "%s  subscription: %s", any ? "\n" : "", s->subscription->name);
        gql_buf_puts(out, "\n}");
        first = false;
    }
    for (uint32_t i = 0; i < s->ndirectives; i++) {
        const gql_directive_def *d = s->directives[i];
        if (is_specified_directive_name(d->name))
            continue;
        if (!first)
            gql_buf_puts(out, "\n\n");
        first = false;
        print_description(out, d->description, "", true);
        gql_buf_printf(out, "directive @%s", d->name);
        print_args(out, d->args, d->nargs, "");
        if (d->repeatable)
            gql_buf_puts(out, " repeatable");
        gql_buf_puts(out, " on ");
        int k = 0;
        /* locations in the order they were written */
        for (uint32_t j = 0; j < d->node->nlocations; j++) {
            if (k++)
                gql_buf_puts(out, " | ");
            gql_buf_append(out, d->node->locations[j].name.s, d->node->locations[j].name.len);
        }
    }
    for (uint32_t i = 0; i < s->ntypes; i++) {
        const gql_type *t = s->types[i];
        if (is_standard_type(t))
            continue;
        if (!first)
            gql_buf_puts(out, "\n\n");
        first = false;
        print_type(out, t);
    }
    return out->overflow ? -1 : 0;
}

int gql_print_schema(const struct gql_schema *schema, gql_buf *out)
{
    return gql__print_schema(schema, out);
}
