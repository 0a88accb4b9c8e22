/*
 * Implementation of gw_template.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_template.h"

static const char *const root_names[] = {"args", "parent", "auth", "response"};

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

/* Splits "a.b.c" into steps; every step a GraphQL-ish name (letters, digits, _) or, for
 * REST properties, anything but '.', '{', '}' and spaces. */
static int split_steps(gql_arena *a, const char *text, size_t len, const char ***steps, uint32_t *nsteps, char *err,
                       size_t errlen)
{
    uint32_t n = len == 0 ? 0 : 1;
    for (size_t i = 0; i < len; ++i)
        if (text[i] == '.')
            ++n;
    const char **v = n ? gql_arena_alloc(a, n * sizeof(*v)) : NULL;
    if (n && v == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t start = 0;
    uint32_t k = 0;
    for (size_t i = 0; len > 0 && i <= len; ++i) {
        if (i == len || text[i] == '.') {
            if (i == start) {
                snprintf(err, errlen, "empty name in the path '%.*s'", (int)len, text);
                return -1;
            }
            for (size_t j = start; j < i; ++j) {
                char c = text[j];
                if (!is_name_char(c) && c != '-' && c != '$') {
                    snprintf(err, errlen, "unexpected character '%c' in the path '%.*s'", c, (int)len, text);
                    return -1;
                }
            }
            v[k++] = gql_arena_strndup(a, text + start, i - start);
            start = i + 1;
        }
    }
    *steps = v;
    *nsteps = n;
    return 0;
}

int gw_path_parse(gql_arena *a, const char *text, const char ***steps, uint32_t *nsteps, char *err, size_t errlen)
{
    return split_steps(a, text, strlen(text), steps, nsteps, err, errlen);
}

int gw_expr_parse(gql_arena *a, const char *text, size_t len, unsigned roots, gw_expr_t **out, char *err,
                  size_t errlen)
{
    size_t dot = 0;
    while (dot < len && text[dot] != '.')
        ++dot;
    int root = -1;
    for (int i = 0; i < 4; ++i)
        if (strlen(root_names[i]) == dot && memcmp(root_names[i], text, dot) == 0)
            root = i;
    if (root < 0 || !(roots & (1u << root))) {
        snprintf(err, errlen, "unknown root '%.*s' in {%.*s}: use %s", (int)dot, text, (int)len, text,
                 (roots & (1u << GW_ROOT_RESPONSE)) ? "args, parent, auth or response" : "args, parent or auth");
        return -1;
    }
    gw_expr_t *e = gql_arena_calloc(a, 1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->root = (gw_root_t)root;
    e->text = gql_arena_strndup(a, text, len);
    if (dot < len) {
        if (split_steps(a, text + dot + 1, len - dot - 1, &e->steps, &e->nsteps, err, errlen) != 0)
            return -1;
        if (e->nsteps == 0) {
            snprintf(err, errlen, "empty name after '%.*s.'", (int)dot, text);
            return -1;
        }
    } else if (root == GW_ROOT_ARGS || root == GW_ROOT_AUTH) {
        snprintf(err, errlen, "{%.*s} needs a name after it ({%s.name})", (int)len, text, root_names[root]);
        return -1;
    }
    if (root == GW_ROOT_AUTH && (e->nsteps != 1 || (strcmp(e->steps[0], "sub") != 0 && strcmp(e->steps[0], "role") != 0))) {
        snprintf(err, errlen, "{%s}: the token offers auth.sub and auth.role", e->text);
        return -1;
    }
    *out = e;
    return 0;
}

int gw_tpl_parse(gql_arena *a, const char *text, unsigned roots, gw_tpl_t *out, char *err, size_t errlen)
{
    size_t len = strlen(text);
    memset(out, 0, sizeof(*out));
    out->text = gql_arena_strndup(a, text, len);
    /* At most one part per brace plus one. */
    uint32_t cap = 1;
    for (size_t i = 0; i < len; ++i)
        if (text[i] == '{' || text[i] == '}')
            ++cap;
    out->parts = gql_arena_calloc(a, cap, sizeof(*out->parts));
    char *lit = gql_arena_alloc(a, len + 1);
    if (out->text == NULL || out->parts == NULL || lit == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t litlen = 0;
    for (size_t i = 0; i < len;) {
        char c = text[i];
        if ((c == '{' || c == '}') && i + 1 < len && text[i + 1] == c) {
            lit[litlen++] = c;
            i += 2;
            continue;
        }
        if (c == '}') {
            snprintf(err, errlen, "unmatched '}' in \"%s\" (write }} for a literal brace)", text);
            return -1;
        }
        if (c != '{') {
            lit[litlen++] = c;
            ++i;
            continue;
        }
        const char *close = memchr(text + i + 1, '}', len - i - 1);
        if (close == NULL) {
            snprintf(err, errlen, "unclosed '{' in \"%s\"", text);
            return -1;
        }
        size_t elen = (size_t)(close - (text + i + 1));
        if (litlen > 0) {
            out->parts[out->nparts].lit = lit;
            out->parts[out->nparts++].len = litlen;
            lit += litlen + 1;
            litlen = 0;
        }
        gw_expr_t *e;
        if (gw_expr_parse(a, text + i + 1, elen, roots, &e, err, errlen) != 0)
            return -1;
        out->parts[out->nparts++].expr = e;
        i = (size_t)(close - text) + 1;
    }
    if (litlen > 0) {
        out->parts[out->nparts].lit = lit;
        out->parts[out->nparts++].len = litlen;
    }
    return 0;
}

const gw_expr_t *gw_tpl_single(const gw_tpl_t *t)
{
    return t->nparts == 1 ? t->parts[0].expr : NULL;
}

json_t *gw_json_path(json_t *v, const char *const *steps, uint32_t nsteps)
{
    for (uint32_t i = 0; i < nsteps && v != NULL; ++i)
        v = json_is_object(v) ? json_object_get(v, steps[i]) : NULL;
    return v;
}

json_t *gw_expr_eval(const gw_expr_t *e, const gw_scope_t *s)
{
    json_t *v = NULL;
    switch (e->root) {
    case GW_ROOT_ARGS:
        v = s->args;
        break;
    case GW_ROOT_PARENT:
        v = s->parent;
        break;
    case GW_ROOT_AUTH:
        v = s->auth;
        break;
    case GW_ROOT_RESPONSE:
        v = s->response;
        break;
    }
    return gw_json_path(v, e->steps, e->nsteps);
}

void gw_escape(gql_buf *out, const char *s, size_t len, gw_escape_t esc)
{
    static const char hex[] = "0123456789ABCDEF";
    if (esc == GW_ESC_NONE) {
        gql_buf_append(out, s, len);
        return;
    }
    for (size_t i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
            c == '_' || c == '~') {
            gql_buf_putc(out, (char)c);
        } else {
            char e[3] = {'%', hex[c >> 4], hex[c & 15]};
            gql_buf_append(out, e, 3);
        }
    }
}

int gw_render_scalar(gql_buf *out, json_t *v, gw_escape_t esc)
{
    char num[64];
    int n;
    switch (v != NULL ? json_typeof(v) : JSON_NULL) {
    case JSON_STRING:
        gw_escape(out, json_string_value(v), json_string_length(v), esc);
        return 0;
    case JSON_INTEGER:
        n = snprintf(num, sizeof(num), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
        gql_buf_append(out, num, (size_t)n);
        return 0;
    case JSON_REAL: {
        /* The shortest form that reads back as the same double. */
        double d = json_real_value(v);
        for (int prec = 15; prec <= 17; ++prec) {
            n = snprintf(num, sizeof(num), "%.*g", prec, d);
            if (strtod(num, NULL) == d)
                break;
        }
        gql_buf_append(out, num, (size_t)n);
        return 0;
    }
    case JSON_TRUE:
        gql_buf_puts(out, "true");
        return 0;
    case JSON_FALSE:
        gql_buf_puts(out, "false");
        return 0;
    default:
        return -1;
    }
}

/* The value of an expression after conversion; a new reference or NULL when absent. */
static json_t *eval_converted(const gw_expr_t *e, const gw_scope_t *s, gw_convert_fn conv)
{
    json_t *v = gw_expr_eval(e, s);
    if (v == NULL)
        return NULL;
    if (conv != NULL && e->type != NULL)
        return conv(e->type, v);
    return json_incref(v);
}

/* A path that names another resource than it seems: an empty, "." or ".." segment. Returns
 * the offset (from base) of the first such segment's start, or -1. */
long gw_path_bad_segment(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        if (p[i] != '/') {
            ++i;
            continue;
        }
        size_t j = i + 1;
        while (j < n && p[j] != '/')
            ++j;
        size_t len = j - i - 1;
        if (len == 0 || (len <= 2 && memcmp(p + i + 1, "..", len) == 0))
            return (long)i + 1;
        i = j;
    }
    return -1;
}

int gw_tpl_render(const gw_tpl_t *t, const gw_scope_t *s, gw_convert_fn conv, gw_escape_t esc, gql_buf *out,
                  const gw_expr_t **bad)
{
    size_t start = out->len;
    for (uint32_t i = 0; i < t->nparts; ++i) {
        const gw_part_t *p = &t->parts[i];
        if (p->expr == NULL) {
            gql_buf_append(out, p->lit, p->len);
            continue;
        }
        json_t *v = eval_converted(p->expr, s, conv);
        if (v == NULL || json_is_null(v)) {
            json_decref(v);
            if (bad != NULL)
                *bad = p->expr;
            return 1;
        }
        int r = gw_render_scalar(out, v, esc);
        json_decref(v);
        if (r != 0) {
            if (bad != NULL)
                *bad = p->expr;
            return -1;
        }
    }
    if (esc == GW_ESC_SEGMENT && out->data != NULL) {
        /* Values are escaped, but "." and ".." are unreserved characters: refuse a path
         * whose segments a server would resolve (or an empty one that changes the route). */
        long at = gw_path_bad_segment(out->data + start, out->len - start);
        if (at >= 0) {
            if (bad != NULL) {
                /* name the first expression (the literal parts were checked at load) */
                *bad = NULL;
                for (uint32_t i = 0; i < t->nparts && *bad == NULL; ++i)
                    *bad = t->parts[i].expr;
            }
            return 2;
        }
    }
    return 0;
}

int gw_tpl_value(const gw_tpl_t *t, const gw_scope_t *s, gw_convert_fn conv, json_t **out, const gw_expr_t **bad)
{
    *out = NULL;
    const gw_expr_t *single = gw_tpl_single(t);
    if (single != NULL) {
        *out = eval_converted(single, s, conv);
        return 0;
    }
    gql_buf b;
    gql_buf_init(&b, 0);
    int r = gw_tpl_render(t, s, conv, GW_ESC_NONE, &b, bad);
    if (r == 0)
        *out = json_stringn(b.data != NULL ? b.data : "", b.len);
    gql_buf_free(&b);
    return r < 0 ? -1 : 0;
}
