/*
 * Implementation of gw_schema.h: building the stitched schema and compiling the
 * binding directives of every field.
 *
 * The compiler checks everything it can before the first request: services exist,
 * templates parse, {args.x} names an argument (and {args.x.y} an input field, whose
 * type is recorded so enum values can be converted), query parameters and headers are
 * well-formed and never touch what the gateway owns (Authorization, X-Internal-Key,
 * …), a field that may be null when not found is nullable, a @connection type has the
 * shape the gateway builds. Each problem becomes an error located at the directive.
 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "gw_schema.h"
#include "gw_scalars.h"
#include "mc_jwt.h"

#define GW_MAX_SCHEMA_FILES 64
#define GW_MAX_SCHEMA_FILE_BYTES (4u << 20)

typedef struct compiler {
    gw_schema_t *gs;
    gql_errors *errs;
    uint32_t nerrs_start;
} compiler_t;

/* --- errors ----------------------------------------------------------------------- */

static gql_error *error_at(compiler_t *c, const gql_source *src, uint32_t loc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static gql_error *error_at(compiler_t *c, const gql_source *src, uint32_t loc, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    gql_error *e = gql_errors_add(c->errs, msg);
    if (e != NULL && src != NULL)
        gql_error_add_location(c->errs, e, src, loc);
    return e;
}

#define DIR_ERROR(c, d, ...) error_at((c), (d)->source, (d)->node != NULL ? (d)->node->loc : 0, __VA_ARGS__)

void gw_errors_print(const gql_errors *errs, gql_buf *out)
{
    for (const gql_error *e = errs->head; e != NULL; e = e->next) {
        if (e->nlocations > 0) {
            const gql_error_location *l = &e->locations[0];
            gql_buf_printf(out, "%s:%u:%u: ", l->source != NULL ? l->source : "<schema>", l->line, l->column);
        }
        gql_buf_append(out, e->message, e->message_len);
        gql_buf_putc(out, '\n');
    }
}

/* --- directive arguments ------------------------------------------------------------- */

static const char *arg_str(const gql_applied_directive *d, const char *name)
{
    json_t *v = json_object_get(d->args, name);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

static json_t *arg_list(const gql_applied_directive *d, const char *name)
{
    json_t *v = json_object_get(d->args, name);
    return json_is_array(v) ? v : NULL;
}

static bool arg_int(const gql_applied_directive *d, const char *name, long long *out)
{
    json_t *v = json_object_get(d->args, name);
    if (!json_is_integer(v))
        return false;
    *out = json_integer_value(v);
    return true;
}

static char *adup(compiler_t *c, const char *s)
{
    return gql_arena_strndup(&c->gs->arena, s, strlen(s));
}

/* --- types --------------------------------------------------------------------------- */

static gw_type_t *type_info(compiler_t *c, gql_type *t)
{
    if (t->user == NULL)
        t->user = gql_arena_calloc(&c->gs->arena, 1, sizeof(gw_type_t));
    return t->user;
}

/* Every user enum gets its value map: @restValue(name:) or the name in lower case. */
static void compile_enum(compiler_t *c, gql_type *t)
{
    gw_enum_t *e = gql_arena_calloc(&c->gs->arena, 1, sizeof(*e));
    e->n = t->nvalues;
    e->names = gql_arena_calloc(&c->gs->arena, t->nvalues + 1, sizeof(char *));
    e->rest = gql_arena_calloc(&c->gs->arena, t->nvalues + 1, sizeof(char *));
    for (uint32_t i = 0; i < t->nvalues; ++i) {
        const gql_enum_value *v = &t->values[i];
        e->names[i] = v->name;
        const gql_applied_directive *d = gql_directives_find(v->directives, v->ndirectives, "restValue");
        const char *rest = d != NULL ? arg_str(d, "name") : NULL;
        if (d != NULL && (rest == NULL || rest[0] == '\0')) {
            DIR_ERROR(c, d, "%s.%s: @restValue needs a non-empty name", t->name, v->name);
            rest = NULL;
        }
        if (rest == NULL) {
            char *low = adup(c, v->name);
            for (char *p = low; *p; ++p)
                if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p - 'A' + 'a');
            rest = low;
        } else {
            rest = adup(c, rest);
        }
        e->rest[i] = rest;
    }
    type_info(c, t)->enm = e;
    type_info(c, t)->has_enums = true;
}

/* Whether input values of t contain enum values (then they need converting). */
static bool input_has_enums(const gql_type *t, unsigned depth)
{
    t = gql_named_type(t);
    if (t == NULL || depth > 32)
        return false;
    if (t->kind == GQL_KIND_ENUM)
        return !t->builtin;
    if (t->kind != GQL_KIND_INPUT_OBJECT)
        return false;
    for (uint32_t i = 0; i < t->ninput_fields; ++i)
        if (input_has_enums(t->input_fields[i].type, depth + 1))
            return true;
    return false;
}

const char *gw_enum_from_rest(const gw_enum_t *e, const char *rest, size_t len)
{
    for (uint32_t i = 0; i < e->n; ++i)
        if (strlen(e->rest[i]) == len && memcmp(e->rest[i], rest, len) == 0)
            return e->names[i];
    for (uint32_t i = 0; i < e->n; ++i) /* a service that already speaks GraphQL's spelling */
        if (strlen(e->names[i]) == len && memcmp(e->names[i], rest, len) == 0)
            return e->names[i];
    return NULL;
}

json_t *gw_to_rest(const gql_type *type, json_t *v)
{
    if (type == NULL || v == NULL || json_is_null(v))
        return json_incref(v);
    if (type->kind == GQL_KIND_NON_NULL)
        type = type->of;
    const gw_type_t *ti = type->name != NULL ? type->user : NULL;
    if (type->kind != GQL_KIND_LIST && (ti == NULL || !ti->has_enums))
        return json_incref(v);
    if (type->kind == GQL_KIND_LIST) {
        if (!json_is_array(v)) /* a single value given for a list */
            return gw_to_rest(type->of, v);
        json_t *out = json_array();
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item) json_array_append_new(out, gw_to_rest(type->of, item));
        return out;
    }
    if (type->kind == GQL_KIND_ENUM && json_is_string(v)) {
        const gw_enum_t *e = ti->enm;
        for (uint32_t i = 0; i < e->n; ++i)
            if (strcmp(e->names[i], json_string_value(v)) == 0)
                return json_string(e->rest[i]);
        return json_incref(v);
    }
    if (type->kind == GQL_KIND_INPUT_OBJECT && json_is_object(v)) {
        json_t *out = json_object();
        const char *k;
        json_t *m;
        json_object_foreach(v, k, m)
        {
            const gql_input_value *f = gql_type_input_field(type, k, strlen(k));
            json_object_set_new(out, k, f != NULL ? gw_to_rest(f->type, m) : json_incref(m));
        }
        return out;
    }
    return json_incref(v);
}

/* @connection: the object must have the shape the gateway builds from a REST page. */
static void check_connection(compiler_t *c, gql_type *t, const gql_applied_directive *d)
{
    for (uint32_t i = 0; i < t->nfields; ++i) {
        const gql_field *f = &t->fields[i];
        const char *n = f->name;
        const gql_type *nt = gql_named_type(f->type);
        if (strcmp(n, "edges") == 0) {
            if (nt->kind != GQL_KIND_OBJECT || gql_nullable_type(f->type)->kind != GQL_KIND_LIST) {
                DIR_ERROR(c, d, "%s.edges must be a list of edge objects", t->name);
                continue;
            }
            for (uint32_t j = 0; j < nt->nfields; ++j)
                if (strcmp(nt->fields[j].name, "cursor") != 0 && strcmp(nt->fields[j].name, "node") != 0)
                    DIR_ERROR(c, d, "%s: the edge type %s may only have the fields cursor and node, not %s", t->name,
                              nt->name, nt->fields[j].name);
        } else if (strcmp(n, "nodes") == 0) {
            if (gql_nullable_type(f->type)->kind != GQL_KIND_LIST)
                DIR_ERROR(c, d, "%s.nodes must be a list", t->name);
        } else if (strcmp(n, "pageInfo") == 0) {
            if (strcmp(nt->name, "PageInfo") != 0)
                DIR_ERROR(c, d, "%s.pageInfo must be of type PageInfo", t->name);
        } else if (strcmp(n, "totalCount") != 0) {
            DIR_ERROR(c, d, "%s: a @connection type has the fields edges, nodes, pageInfo and totalCount; %s is not one",
                      t->name, n);
        }
    }
}

/* --- templates with static types ------------------------------------------------------- */

/* Resolves {args.a.b} against the field's arguments and input types; records the type. */
static int type_expr(compiler_t *c, const gql_field *f, const gql_applied_directive *d, gw_expr_t *e)
{
    if (e->root != GW_ROOT_ARGS)
        return 0;
    const gql_input_value *a = gql_field_arg(f, e->steps[0], strlen(e->steps[0]));
    if (a == NULL) {
        DIR_ERROR(c, d, "%s.%s: {%s} names no argument of the field", f->parent->name, f->name, e->text);
        return -1;
    }
    const gql_type *t = a->type;
    for (uint32_t i = 1; i < e->nsteps; ++i) {
        const gql_type *nt = gql_named_type(t);
        const gql_input_value *in =
            nt->kind == GQL_KIND_INPUT_OBJECT ? gql_type_input_field(nt, e->steps[i], strlen(e->steps[i])) : NULL;
        if (in == NULL || gql_nullable_type(t)->kind == GQL_KIND_LIST) {
            DIR_ERROR(c, d, "%s.%s: {%s}: %s has no input field %s", f->parent->name, f->name, e->text,
                      nt->name != NULL ? nt->name : "the value", e->steps[i]);
            return -1;
        }
        t = in->type;
    }
    e->type = t;
    return 0;
}

/* What kind of value a template position accepts. */
typedef enum { SLOT_TEXT, SLOT_LIST_OR_TEXT, SLOT_ANY } slot_t;

static int compile_tpl(compiler_t *c, const gql_field *f, const gql_applied_directive *d, const char *what,
                       const char *text, unsigned roots, slot_t slot, gw_tpl_t *out)
{
    char err[512];
    if (gw_tpl_parse(&c->gs->arena, text, roots, out, err, sizeof(err)) != 0) {
        DIR_ERROR(c, d, "%s.%s: @%s(%s): %s", f->parent->name, f->name, d->name, what, err);
        return -1;
    }
    for (uint32_t i = 0; i < out->nparts; ++i) {
        gw_expr_t *e = (gw_expr_t *)out->parts[i].expr;
        if (e == NULL)
            continue;
        if (type_expr(c, f, d, e) != 0)
            return -1;
        if (e->type == NULL || slot == SLOT_ANY)
            continue;
        const gql_type *nn = gql_nullable_type(e->type);
        bool list = nn->kind == GQL_KIND_LIST;
        const gql_type *named = gql_named_type(e->type);
        bool leaf = named->kind == GQL_KIND_SCALAR || named->kind == GQL_KIND_ENUM;
        bool ok = leaf && (!list || (slot == SLOT_LIST_OR_TEXT && out->nparts == 1 &&
                                     gql_nullable_type(nn->of)->kind != GQL_KIND_LIST));
        if (!ok) {
            DIR_ERROR(c, d, "%s.%s: @%s(%s): {%s} is not a single %s value", f->parent->name, f->name, d->name, what,
                      e->text, slot == SLOT_LIST_OR_TEXT ? "scalar or a list of scalars" : "scalar");
            return -1;
        }
    }
    return 0;
}

static int compile_path(compiler_t *c, const gql_field *f, const gql_applied_directive *d, const char *what,
                        const char *text, const char ***steps, uint32_t *nsteps)
{
    char err[512];
    if (gw_path_parse(&c->gs->arena, text, steps, nsteps, err, sizeof(err)) != 0) {
        DIR_ERROR(c, d, "%s.%s: @%s(%s): %s", f->parent->name, f->name, d->name, what, err);
        return -1;
    }
    return 0;
}

static int find_service(compiler_t *c, const gql_field *f, const gql_applied_directive *d, unsigned *out)
{
    const char *name = arg_str(d, "service");
    const gw_services_t *svcs = &c->gs->services;
    for (unsigned i = 0; name != NULL && i < svcs->n; ++i)
        if (strcmp(svcs->s[i].name, name) == 0) {
            *out = i;
            return 0;
        }
    char known[256] = "";
    for (unsigned i = 0; i < svcs->n; ++i) {
        strncat(known, i ? ", " : "", sizeof(known) - strlen(known) - 1);
        strncat(known, svcs->s[i].name, sizeof(known) - strlen(known) - 1);
    }
    DIR_ERROR(c, d, "%s.%s: @%s: unknown service '%s' (known: %s)", f->parent->name, f->name, d->name,
              name != NULL ? name : "", known);
    return -1;
}

/* A path template: starts with '/', no query or fragment in its literal parts. */
static int compile_url_path(compiler_t *c, const gql_field *f, const gql_applied_directive *d, const char *text,
                            gw_tpl_t *out)
{
    if (text == NULL || text[0] != '/') {
        DIR_ERROR(c, d, "%s.%s: @%s(path:) must start with '/'", f->parent->name, f->name, d->name);
        return -1;
    }
    if (compile_tpl(c, f, d, "path", text, GW_ROOTS_FIELD, SLOT_TEXT, out) != 0)
        return -1;
    gql_buf sample; /* the path with a value for each expression */
    gql_buf_init(&sample, 0);
    for (uint32_t i = 0; i < out->nparts; ++i)
        gql_buf_append(&sample, out->parts[i].expr != NULL ? "x" : out->parts[i].lit,
                       out->parts[i].expr != NULL ? 1 : out->parts[i].len);
    long badseg = gw_path_bad_segment(sample.data, sample.len);
    gql_buf_free(&sample);
    if (badseg >= 0) {
        DIR_ERROR(c, d, "%s.%s: @%s(path:) has an empty, \".\" or \"..\" segment", f->parent->name, f->name, d->name);
        return -1;
    }
    for (uint32_t i = 0; i < out->nparts; ++i) {
        const gw_part_t *p = &out->parts[i];
        for (size_t j = 0; p->expr == NULL && j < p->len; ++j) {
            unsigned char ch = (unsigned char)p->lit[j];
            if (ch == '?' || ch == '#' || ch <= 0x20 || ch >= 0x7f || ch == '%') {
                DIR_ERROR(c, d, "%s.%s: @%s(path:) may not contain '%c' (query parameters go in query:)",
                          f->parent->name, f->name, d->name, ch > 0x20 && ch < 0x7f ? ch : '?');
                return -1;
            }
        }
    }
    return 0;
}

static bool is_token_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           strchr("!#$&'*+-.^_`|~", ch) != NULL;
}

/* Headers the gateway sets itself or must never take from a directive. */
static bool reserved_header(const char *name)
{
    static const char *const names[] = {"authorization", "x-internal-key", "x-request-id", "host", "content-length",
                                        "content-type", "transfer-encoding", "connection", "upgrade", "te", "cookie",
                                        "traceparent", "tracestate", "keep-alive", "proxy-authorization"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* --- @http ------------------------------------------------------------------------------ */

static gw_http_t *compile_http(compiler_t *c, gql_field *f, const gql_applied_directive *d)
{
    gw_http_t *h = gql_arena_calloc(&c->gs->arena, 1, sizeof(*h));
    int bad = 0;
    if (find_service(c, f, d, &h->service) != 0)
        bad = 1;
    const char *method = arg_str(d, "method");
    h->method = adup(c, method != NULL ? method : "GET");
    h->dedupe = strcmp(h->method, "GET") == 0;
    if (compile_url_path(c, f, d, arg_str(d, "path"), &h->path) != 0)
        bad = 1;

    json_t *q = arg_list(d, "query");
    if (q != NULL && json_array_size(q) > 0) {
        h->nquery = (uint32_t)json_array_size(q);
        h->query = gql_arena_calloc(&c->gs->arena, h->nquery, sizeof(*h->query));
        for (uint32_t i = 0; i < h->nquery; ++i) {
            const char *entry = json_string_value(json_array_get(q, i));
            const char *eq = entry != NULL ? strchr(entry, '=') : NULL;
            bool name_ok = eq != NULL && eq > entry;
            for (const char *p = entry; name_ok && p < eq; ++p)
                name_ok = is_token_char(*p) && *p != '&' && *p != '#' && *p != '+';
            if (!name_ok) {
                DIR_ERROR(c, d, "%s.%s: @http(query:) entries are name={template}; \"%s\" is not", f->parent->name,
                          f->name, entry != NULL ? entry : "");
                bad = 1;
                continue;
            }
            h->query[i].name = gql_arena_strndup(&c->gs->arena, entry, (size_t)(eq - entry));
            if (compile_tpl(c, f, d, "query", eq + 1, GW_ROOTS_FIELD, SLOT_LIST_OR_TEXT, &h->query[i].value) != 0)
                bad = 1;
        }
    }

    json_t *b = arg_list(d, "body");
    if (b != NULL) {
        if (strcmp(h->method, "POST") != 0 && strcmp(h->method, "PUT") != 0 && strcmp(h->method, "PATCH") != 0) {
            DIR_ERROR(c, d, "%s.%s: @http(body:) needs method POST, PUT or PATCH", f->parent->name, f->name);
            bad = 1;
        }
        h->nbody = (uint32_t)json_array_size(b);
        h->body = gql_arena_calloc(&c->gs->arena, h->nbody + 1, sizeof(*h->body));
        for (uint32_t i = 0; i < h->nbody; ++i) {
            const char *entry = json_string_value(json_array_get(b, i));
            if (entry == NULL)
                continue;
            const char *value = entry;
            if (entry[0] != '{') {
                const char *eq = strchr(entry, '=');
                bool name_ok = eq != NULL && eq > entry;
                for (const char *p = entry; name_ok && p < eq; ++p)
                    name_ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                              *p == '_';
                if (!name_ok) {
                    DIR_ERROR(c, d,
                              "%s.%s: @http(body:) entries are name={template} or {expression}; \"%s\" is neither",
                              f->parent->name, f->name, entry);
                    bad = 1;
                    continue;
                }
                h->body[i].key = gql_arena_strndup(&c->gs->arena, entry, (size_t)(eq - entry));
                value = eq + 1;
            }
            if (compile_tpl(c, f, d, "body", value, GW_ROOTS_FIELD, SLOT_ANY, &h->body[i].value) != 0) {
                bad = 1;
                continue;
            }
            if (h->body[i].key == NULL && gw_tpl_single(&h->body[i].value) == NULL) {
                DIR_ERROR(c, d, "%s.%s: @http(body:) \"%s\" must be one {expression} (or name={template})",
                          f->parent->name, f->name, entry);
                bad = 1;
            }
        }
    } else if (strcmp(h->method, "POST") == 0 || strcmp(h->method, "PUT") == 0 || strcmp(h->method, "PATCH") == 0) {
        h->nbody = 0; /* an empty JSON object is sent */
    }

    json_t *hs = arg_list(d, "headers");
    if (hs != NULL && json_array_size(hs) > 0) {
        h->nheaders = (uint32_t)json_array_size(hs);
        h->headers = gql_arena_calloc(&c->gs->arena, h->nheaders, sizeof(*h->headers));
        for (uint32_t i = 0; i < h->nheaders; ++i) {
            const char *entry = json_string_value(json_array_get(hs, i));
            const char *colon = entry != NULL ? strchr(entry, ':') : NULL;
            bool ok = colon != NULL && colon > entry;
            for (const char *p = entry; ok && p < colon; ++p)
                ok = is_token_char(*p);
            if (!ok) {
                DIR_ERROR(c, d, "%s.%s: @http(headers:) entries are \"Name: {template}\"; \"%s\" is not",
                          f->parent->name, f->name, entry != NULL ? entry : "");
                bad = 1;
                continue;
            }
            char *name = gql_arena_strndup(&c->gs->arena, entry, (size_t)(colon - entry));
            if (reserved_header(name)) {
                DIR_ERROR(c, d, "%s.%s: @http(headers:) may not set %s (the gateway sets or withholds it)",
                          f->parent->name, f->name, name);
                bad = 1;
                continue;
            }
            const char *v = colon + 1;
            while (*v == ' ')
                ++v;
            h->headers[i].name = name;
            if (compile_tpl(c, f, d, "headers", v, GW_ROOTS_FIELD, SLOT_TEXT, &h->headers[i].value) != 0)
                bad = 1;
        }
    }

    const char *sel = arg_str(d, "select");
    if (sel != NULL && compile_path(c, f, d, "select", sel, &h->select, &h->nselect) != 0)
        bad = 1;
    const char *res = arg_str(d, "result");
    if (res != NULL) {
        h->result = gql_arena_calloc(&c->gs->arena, 1, sizeof(*h->result));
        if (compile_tpl(c, f, d, "result", res, GW_ROOTS_RESULT, SLOT_ANY, h->result) != 0)
            bad = 1;
        bool has_expr = false;
        for (uint32_t i = 0; i < h->result->nparts; ++i)
            has_expr = has_expr || h->result->parts[i].expr != NULL;
        if (!bad && !has_expr) { /* no expression: a JSON literal such as true */
            h->result_json = json_loads(res, JSON_DECODE_ANY, NULL);
            if (h->result_json == NULL) {
                DIR_ERROR(c, d, "%s.%s: @http(result:) without {expressions} must be a JSON value (true, 1, \"text\")",
                          f->parent->name, f->name);
                bad = 1;
            } else {
                json_array_append_new(c->gs->owned, h->result_json);
            }
            h->result = NULL;
        }
        if (sel != NULL) {
            DIR_ERROR(c, d, "%s.%s: @http takes select: or result:, not both", f->parent->name, f->name);
            bad = 1;
        }
    }
    const char *nf = arg_str(d, "notFound");
    h->not_found_null = nf != NULL && strcmp(nf, "NULL") == 0;
    long long t;
    if (arg_int(d, "timeoutMs", &t)) {
        if (t < 1 || t > 600000) {
            DIR_ERROR(c, d, "%s.%s: @http(timeoutMs:) must be 1 to 600000", f->parent->name, f->name);
            bad = 1;
        }
        h->timeout_ms = (unsigned)t;
    }
    return bad ? NULL : h;
}

/* --- @batch ----------------------------------------------------------------------------- */

static gw_batch_t *compile_batch(compiler_t *c, gql_field *f, const gql_applied_directive *d)
{
    gw_batch_t *b = gql_arena_calloc(&c->gs->arena, 1, sizeof(*b));
    int bad = 0;
    if (find_service(c, f, d, &b->service) != 0)
        bad = 1;
    if (compile_url_path(c, f, d, arg_str(d, "path"), &b->path) != 0)
        bad = 1;
    for (uint32_t i = 0; i < b->path.nparts; ++i)
        if (b->path.parts[i].expr != NULL && b->path.parts[i].expr->root == GW_ROOT_PARENT) {
            DIR_ERROR(c, d, "%s.%s: @batch(path:) may not use {parent.*}: the keys come from key:", f->parent->name,
                      f->name);
            bad = 1;
        }
    const char *key = arg_str(d, "key");
    gw_tpl_t kt;
    if (key == NULL || compile_tpl(c, f, d, "key", key, 1u << GW_ROOT_PARENT, SLOT_ANY, &kt) != 0) {
        bad = 1;
    } else if ((b->key = gw_tpl_single(&kt)) == NULL) {
        DIR_ERROR(c, d, "%s.%s: @batch(key:) must be one expression such as {parent.categoryId}", f->parent->name,
                  f->name);
        bad = 1;
    }
    const char *param = arg_str(d, "param");
    b->param = adup(c, param != NULL ? param : "ids");
    for (const char *p = b->param; *p; ++p)
        if (!is_token_char(*p) || *p == '&' || *p == '+') {
            DIR_ERROR(c, d, "%s.%s: @batch(param:) '%s' is not a plain parameter name", f->parent->name, f->name,
                      b->param);
            bad = 1;
            break;
        }
    const char *match = arg_str(d, "match");
    if (compile_path(c, f, d, "match", match != NULL ? match : "id", &b->match, &b->nmatch) != 0 || b->nmatch == 0)
        bad = 1;
    const char *sel = arg_str(d, "select");
    if (compile_path(c, f, d, "select", sel != NULL ? sel : "items", &b->select, &b->nselect) != 0)
        bad = 1;
    long long max = 100;
    arg_int(d, "max", &max);
    if (max < 1 || max > 1000) {
        DIR_ERROR(c, d, "%s.%s: @batch(max:) must be 1 to 1000", f->parent->name, f->name);
        bad = 1;
    }
    b->max = (unsigned)max;
    long long t;
    if (arg_int(d, "timeoutMs", &t)) {
        if (t < 1 || t > 600000) {
            DIR_ERROR(c, d, "%s.%s: @batch(timeoutMs:) must be 1 to 600000", f->parent->name, f->name);
            bad = 1;
        }
        b->timeout_ms = (unsigned)t;
    }
    return bad ? NULL : b;
}

/* --- @auth ------------------------------------------------------------------------------ */

/* Adds the requirement of an @auth directive (roles: a list of Role names). */
static void apply_auth(compiler_t *c, const gql_applied_directive *d, bool *auth, unsigned *roles, const char *where)
{
    *auth = true;
    json_t *list = arg_list(d, "roles");
    if (list == NULL || json_array_size(list) == 0)
        return;
    unsigned mask = 0;
    size_t i;
    json_t *r;
    json_array_foreach(list, i, r)
    {
        char low[16];
        const char *s = json_string_value(r);
        size_t n = s != NULL ? strlen(s) : 0;
        if (n == 0 || n >= sizeof(low)) {
            DIR_ERROR(c, d, "%s: @auth(roles:) has an unknown role", where);
            continue;
        }
        for (size_t k = 0; k <= n; ++k)
            low[k] = (char)(s[k] >= 'A' && s[k] <= 'Z' ? s[k] - 'A' + 'a' : s[k]);
        mc_role_t role = mc_role_parse(low);
        if (role == 0)
            DIR_ERROR(c, d, "%s: @auth(roles:) has an unknown role %s", where, s);
        mask |= (unsigned)role;
    }
    /* Field and type requirements both apply: the roles allowed are those both allow. */
    *roles = *roles ? (*roles & mask) : mask;
    if (*roles == 0)
        DIR_ERROR(c, d, "%s: no role satisfies every @auth requirement", where);
}

/* --- fields --------------------------------------------------------------------------- */

static void compile_field(compiler_t *c, gql_type *t, gql_field *f)
{
    gw_field_t fld;
    memset(&fld, 0, sizeof(fld));
    char where[256];
    snprintf(where, sizeof(where), "%s.%s", t->name, f->name);
    bool needed = false;

    const gql_applied_directive *ta = gql_directives_find(t->directives, t->ndirectives, "auth");
    if (ta != NULL)
        apply_auth(c, ta, &fld.auth, &fld.roles, where);
    const gql_applied_directive *fa = gql_directives_find(f->directives, f->ndirectives, "auth");
    if (fa != NULL)
        apply_auth(c, fa, &fld.auth, &fld.roles, where);
    needed = fld.auth;

    const gql_applied_directive *http = gql_directives_find(f->directives, f->ndirectives, "http");
    const gql_applied_directive *batch = gql_directives_find(f->directives, f->ndirectives, "batch");
    const gql_applied_directive *from = gql_directives_find(f->directives, f->ndirectives, "from");
    const gql_applied_directive *money = gql_directives_find(f->directives, f->ndirectives, "money");
    int nbind = (http != NULL) + (batch != NULL) + (from != NULL) + (money != NULL);
    if (nbind > 1) {
        const gql_applied_directive *d = http ? http : batch ? batch : from;
        DIR_ERROR(c, d, "%s: a field takes one of @http, @batch, @from and @money", where);
        return;
    }
    const gql_type *named = gql_named_type(f->type);
    const gw_type_t *nti = named->user;
    if (http != NULL) {
        fld.kind = GW_FIELD_HTTP;
        fld.http = compile_http(c, f, http);
        ++c->gs->nbound;
        needed = true;
    } else if (batch != NULL) {
        fld.kind = GW_FIELD_BATCH;
        fld.batch = compile_batch(c, f, batch);
        ++c->gs->nbound;
        needed = true;
    } else if (from != NULL) {
        fld.kind = GW_FIELD_FROM;
        const char *p = arg_str(from, "path");
        /* An empty path is the parent itself (a node that is also the entity). */
        compile_path(c, f, from, "path", p != NULL ? p : "", &fld.from, &fld.nfrom);
        json_t *with = arg_list(from, "with");
        if (with != NULL && json_array_size(with) > 0) {
            fld.nwith = (uint32_t)json_array_size(with);
            fld.with = gql_arena_calloc(&c->gs->arena, fld.nwith, sizeof(char *));
            for (uint32_t i = 0; i < fld.nwith; ++i)
                fld.with[i] = adup(c, json_string_value(json_array_get(with, i)));
        }
        needed = true;
    } else if (money != NULL) {
        fld.kind = GW_FIELD_MONEY;
        const char *a = arg_str(money, "amount"), *cur = arg_str(money, "currency");
        compile_path(c, f, money, "amount", a != NULL ? a : "", &fld.from, &fld.nfrom);
        compile_path(c, f, money, "currency", cur != NULL ? cur : "", &fld.currency, &fld.ncurrency);
        if (fld.nfrom == 0 || fld.ncurrency == 0)
            DIR_ERROR(c, money, "%s: @money needs amount: and currency: paths", where);
        if (named->kind != GQL_KIND_OBJECT || strcmp(named->name, "Money") != 0 ||
            gql_nullable_type(f->type)->kind == GQL_KIND_LIST)
            DIR_ERROR(c, money, "%s: @money fields are of type Money", where);
        needed = true;
    }
    /* A field that calls a service, or that some callers may not read, can fail; it
     * must be nullable so that its failure nulls only itself (partial data). */
    if ((fld.kind == GW_FIELD_HTTP || fld.kind == GW_FIELD_BATCH || fa != NULL) && f->type->kind == GQL_KIND_NON_NULL) {
        error_at(c, f->source, f->node != NULL ? f->node->loc : 0,
                 "%s is %s: make its type nullable, so that a failure nulls only this field", where,
                 fa != NULL ? "protected by @auth" : "fetched from a service");
    }
    if (nti != NULL && nti->connection) {
        if (fld.kind != GW_FIELD_HTTP && fld.kind != GW_FIELD_FROM) {
            error_at(c, f->source, f->node != NULL ? f->node->loc : 0,
                     "%s returns the connection %s: bind it with @http (or @from) to a service's list", where,
                     named->name);
        }
        fld.connection = true;
        needed = true;
    }
    if (named->kind == GQL_KIND_ENUM && nti != NULL && nti->enm != NULL) {
        fld.out_enum = nti->enm;
        needed = true;
    }
    if (!needed)
        return;
    gw_field_t *out = gql_arena_alloc(&c->gs->arena, sizeof(*out));
    *out = fld;
    out->name = adup(c, where);
    f->user = out;
}

static void compile_schema(compiler_t *c)
{
    gql_schema *s = c->gs->gql;
    /* Types first: enums and connections are consulted by the fields. */
    for (uint32_t i = 0; i < s->ntypes; ++i) {
        gql_type *t = s->types[i];
        if (t->builtin)
            continue;
        if (t->kind == GQL_KIND_ENUM)
            compile_enum(c, t);
        if (t->kind == GQL_KIND_OBJECT) {
            const gql_applied_directive *d = gql_directives_find(t->directives, t->ndirectives, "connection");
            if (d != NULL) {
                type_info(c, t)->connection = true;
                check_connection(c, t, d);
            }
        }
    }
    for (uint32_t i = 0; i < s->ntypes; ++i) {
        gql_type *t = s->types[i];
        if (!t->builtin && t->kind == GQL_KIND_INPUT_OBJECT && input_has_enums(t, 0))
            type_info(c, t)->has_enums = true;
    }
    for (uint32_t i = 0; i < s->ntypes; ++i) {
        gql_type *t = s->types[i];
        if (t->builtin || (t->kind != GQL_KIND_OBJECT && t->kind != GQL_KIND_INTERFACE))
            continue;
        for (uint32_t j = 0; j < t->nfields; ++j)
            compile_field(c, t, &t->fields[j]);
    }
}

/* --- building and loading ------------------------------------------------------------------ */

gw_schema_t *gw_schema_build(const gql_sdl_file *files, size_t n, const gw_services_t *svcs, gql_errors *errs)
{
    gql_schema_options so;
    memset(&so, 0, sizeof(so));
    so.scalars = gw_scalar_hooks();
    uint32_t before = errs->count;
    gql_schema *s = gql_schema_build(files, n, &so, errs);
    if (s == NULL)
        return NULL;
    gw_schema_t *gs = calloc(1, sizeof(*gs));
    if (gs == NULL) {
        gql_schema_unref(s);
        gql_errors_add(errs, "out of memory");
        return NULL;
    }
    atomic_init(&gs->refs, 1);
    gs->gql = s;
    gs->owned = json_array();
    gql_arena_init(&gs->arena, 0);
    gs->services = *svcs;
    compiler_t c = {gs, errs, before};
    if (s->query == NULL)
        gql_errors_add(errs, "the schema has no Query type");
    compile_schema(&c);
    if (errs->count != before || gs->arena.failed) {
        if (gs->arena.failed)
            gql_errors_add(errs, "out of memory while compiling the bindings");
        gw_schema_unref(gs);
        return NULL;
    }
    return gs;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

gw_schema_t *gw_schema_load(const char *dir, const gw_services_t *svcs, gql_errors *errs)
{
    DIR *dh = opendir(dir);
    if (dh == NULL) {
        gql_errors_addf(errs, "%s: cannot open the schema directory: %s", dir, strerror(errno));
        return NULL;
    }
    char *names[GW_MAX_SCHEMA_FILES];
    size_t n = 0;
    struct dirent *de;
    bool too_many = false;
    while ((de = readdir(dh)) != NULL) {
        size_t len = strlen(de->d_name);
        if (de->d_name[0] == '.' || len < 9 || strcmp(de->d_name + len - 8, ".graphql") != 0)
            continue;
        if (n == GW_MAX_SCHEMA_FILES) {
            too_many = true;
            break;
        }
        names[n++] = strdup(de->d_name);
    }
    closedir(dh);
    gw_schema_t *gs = NULL;
    gql_sdl_file files[GW_MAX_SCHEMA_FILES];
    char *texts[GW_MAX_SCHEMA_FILES];
    char *paths[GW_MAX_SCHEMA_FILES];
    size_t loaded = 0;
    if (too_many) {
        gql_errors_addf(errs, "%s: more than %d schema files", dir, GW_MAX_SCHEMA_FILES);
        goto Exit;
    }
    if (n == 0) {
        gql_errors_addf(errs, "%s: no .graphql files", dir);
        goto Exit;
    }
    qsort(names, n, sizeof(char *), cmp_names);
    for (; loaded < n; ++loaded) {
        size_t plen = strlen(dir) + strlen(names[loaded]) + 2;
        paths[loaded] = malloc(plen);
        snprintf(paths[loaded], plen, "%s/%s", dir, names[loaded]);
        texts[loaded] = NULL;
        FILE *fp = fopen(paths[loaded], "rb");
        if (fp == NULL) {
            gql_errors_addf(errs, "%s: %s", paths[loaded], strerror(errno));
            ++loaded;
            goto Exit;
        }
        char *buf = malloc(GW_MAX_SCHEMA_FILE_BYTES + 1);
        size_t len = buf != NULL ? fread(buf, 1, GW_MAX_SCHEMA_FILE_BYTES + 1, fp) : 0;
        bool err = buf == NULL || ferror(fp);
        fclose(fp);
        texts[loaded] = buf;
        if (err || len > GW_MAX_SCHEMA_FILE_BYTES) {
            gql_errors_addf(errs, "%s: %s", paths[loaded], err ? "read error" : "larger than 4 MiB");
            ++loaded;
            goto Exit;
        }
        files[loaded].name = paths[loaded];
        files[loaded].text = buf;
        files[loaded].len = len;
    }
    gs = gw_schema_build(files, n, svcs, errs);
Exit:
    for (size_t i = 0; i < loaded; ++i) {
        free(texts[i]);
        free(paths[i]);
    }
    for (size_t i = 0; i < n; ++i)
        free(names[i]);
    return gs;
}

gw_schema_t *gw_schema_ref(gw_schema_t *s)
{
    atomic_fetch_add(&s->refs, 1);
    return s;
}

void gw_schema_unref(gw_schema_t *s)
{
    if (s == NULL || atomic_fetch_sub(&s->refs, 1) != 1)
        return;
    gql_schema_unref(s->gql);
    json_decref(s->owned);
    gql_arena_free(&s->arena);
    free(s);
}
