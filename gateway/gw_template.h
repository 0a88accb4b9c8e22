/*
 * gw_template: the small template language of the binding directives.
 *
 * A template is text with expressions in braces: "/api/products/{args.id}",
 * "limit={args.first}", "{parent.categoryId}". An expression names a root and a
 * dotted path below it:
 *
 *   args.*      the field's coerced arguments (defaults applied)
 *   parent.*    the parent object as the service answered it (REST JSON)
 *   auth.*      the verified access token: auth.sub (user id), auth.role (customer,
 *               seller, admin)
 *   response.*  the service's answer (only in @http(result:))
 *
 * `{{` and `}}` stand for literal braces. A template that is exactly one expression
 * ("{args.input}") yields the value with its JSON type; otherwise expressions are
 * rendered as text and concatenated.
 *
 * Why a compiled form: templates are parsed once when the schema is loaded, so a
 * request only walks a few pointers per expression. Parsing reports a message that the
 * schema loader turns into an error naming the SDL file and line.
 *
 * Pure: no I/O, no global state; unit-tested in tests/unit/gateway/.
 */
#ifndef GW_TEMPLATE_H
#define GW_TEMPLATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gql.h"

typedef enum gw_root { GW_ROOT_ARGS, GW_ROOT_PARENT, GW_ROOT_AUTH, GW_ROOT_RESPONSE } gw_root_t;

/* One expression: a root and property names below it. */
typedef struct gw_expr {
    gw_root_t root;
    uint32_t nsteps;
    const char **steps;
    const char *text;     /* "args.input.name", for messages */
    const gql_type *type; /* the input type of an args.* expression (enum values are
                             converted to the service's spelling through it), or NULL */
} gw_expr_t;

/* A literal piece (expr NULL) or an expression. */
typedef struct gw_part {
    const char *lit;
    size_t len;
    const gw_expr_t *expr;
} gw_part_t;

typedef struct gw_tpl {
    const char *text; /* the source, NUL-terminated */
    gw_part_t *parts;
    uint32_t nparts;
} gw_tpl_t;

/* What expressions may use (a bit per gw_root_t). */
#define GW_ROOTS_FIELD ((1u << GW_ROOT_ARGS) | (1u << GW_ROOT_PARENT) | (1u << GW_ROOT_AUTH))
#define GW_ROOTS_RESULT (GW_ROOTS_FIELD | (1u << GW_ROOT_RESPONSE))

/* Parses `text` into `out`, allocating in `a`. Returns 0, or -1 with a message in err
 * (e.g. "unknown root 'arg' in {arg.id}: use args, parent or auth"). */
int gw_tpl_parse(gql_arena *a, const char *text, unsigned roots, gw_tpl_t *out, char *err, size_t errlen);
/* Parses one bare expression ("parent.categoryId", no braces). */
int gw_expr_parse(gql_arena *a, const char *text, size_t len, unsigned roots, gw_expr_t **out, char *err,
                  size_t errlen);
/* Parses a dotted path ("items", "data.user") into steps; "" gives zero steps. */
int gw_path_parse(gql_arena *a, const char *text, const char ***steps, uint32_t *nsteps, char *err, size_t errlen);

/* The single expression of a template that is nothing else, or NULL. */
const gw_expr_t *gw_tpl_single(const gw_tpl_t *t);

/* The values expressions read. */
typedef struct gw_scope {
    json_t *args;     /* object (borrowed) */
    json_t *parent;   /* any JSON or NULL */
    json_t *auth;     /* {"sub":…, "role":…} or NULL when anonymous */
    json_t *response; /* any JSON or NULL */
} gw_scope_t;

/* The value an expression names (borrowed), or NULL when a step is missing or a
 * non-object is stepped into. */
json_t *gw_expr_eval(const gw_expr_t *e, const gw_scope_t *s);
/* Follows property names from v (borrowed result; NULL when missing). */
json_t *gw_json_path(json_t *v, const char *const *steps, uint32_t nsteps);

/* How a rendered value is escaped. */
typedef enum gw_escape {
    GW_ESC_NONE,    /* as is (header values, bodies) */
    GW_ESC_SEGMENT, /* a path segment: everything but RFC 3986 unreserved characters */
    GW_ESC_QUERY,   /* a query component: the same set (space as %20) */
} gw_escape_t;

/* Appends a scalar JSON value as text: a string as is, numbers as JSON writes them,
 * booleans as true/false. -1 for null, arrays and objects (nothing appended). */
int gw_render_scalar(gql_buf *out, json_t *v, gw_escape_t esc);
/* Appends bytes percent-encoded for `esc`. */
void gw_escape(gql_buf *out, const char *s, size_t len, gw_escape_t esc);

/* A value converter (enum names to the service's spelling), applied to args.*
 * values of an enum or input type. May be NULL. Returns a new reference. */
typedef json_t *(*gw_convert_fn)(const gql_type *type, json_t *v);

/* Renders a template as text. Expressions that are absent or null make it fail with
 * 1 (the caller decides: a query parameter is left out, a path is an error); a value
 * that cannot be text (object, array) fails with -1, and with GW_ESC_SEGMENT a value
 * that renders as "", "." or ".." fails with 2; each names the expression in *bad.
 * Returns 0 on success. */
int gw_tpl_render(const gw_tpl_t *t, const gw_scope_t *s, gw_convert_fn conv, gw_escape_t esc, gql_buf *out,
                  const gw_expr_t **bad);

/* In a path ("/a/b"), the offset of the first segment that is empty, "." or ".." (which
 * a server resolves to another resource), or -1. */
long gw_path_bad_segment(const char *p, size_t n);

/* The value of a template as JSON: a single expression keeps its type, anything else is
 * a string. Returns 0 with *out a new reference, or NULL when an expression is absent
 * (a multi-part template with a null one counts as absent too); -1 when a value cannot
 * be text, naming the expression in *bad. */
int gw_tpl_value(const gw_tpl_t *t, const gw_scope_t *s, gw_convert_fn conv, json_t **out, const gw_expr_t **bad);

#endif
