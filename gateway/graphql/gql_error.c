/* Error lists and their JSON form (see gql_error.h). */
#include "gql_error.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "gql_util.h"

void gql_errors_init(gql_errors *e)
{
    memset(e, 0, sizeof(*e));
    gql_arena_init(&e->arena, 0);
}

void gql_errors_free(gql_errors *e)
{
    for (gql_error *x = e->head; x; x = x->next)
        if (x->extensions)
            json_decref(x->extensions);
    gql_arena_free(&e->arena);
    e->head = e->tail = NULL;
    e->count = 0;
}

static gql_error *append(gql_errors *e, char *msg, size_t len)
{
    if (!msg)
        return NULL;
    gql_error *err = gql_arena_calloc(&e->arena, 1, sizeof *err);
    if (!err)
        return NULL;
    err->message = msg;
    err->message_len = (uint32_t)len;
    err->_nulls_at = -1;
    if (e->tail)
        e->tail->next = err;
    else
        e->head = err;
    e->tail = err;
    e->count++;
    return err;
}

gql_error *gql_errors_add(gql_errors *e, const char *message)
{
    size_t n = strlen(message);
    return append(e, gql_arena_strndup(&e->arena, message, n), n);
}

gql_error *gql_errors_addn(gql_errors *e, const char *msg, size_t len)
{
    return append(e, gql_arena_strndup(&e->arena, msg, len), len);
}

gql_error *gql_errors_addf(gql_errors *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = gql_arena_vprintf(&e->arena, fmt, ap);
    va_end(ap);
    return append(e, m, m ? strlen(m) : 0);
}

void gql_error_add_location(gql_errors *e, gql_error *err, const gql_source *src, uint32_t offset)
{
    if (!err)
        return;
    gql_error_location *locs = gql_arena_alloc(&e->arena, (err->nlocations + 1) * sizeof *locs);
    if (!locs)
        return;
    if (err->nlocations)
        memcpy(locs, err->locations, err->nlocations * sizeof *locs);
    gql_location l = gql_source_location(src, offset);
    locs[err->nlocations].line = l.line;
    locs[err->nlocations].column = l.column;
    /* the source may die before the error list (a failed schema build): copy its name */
    locs[err->nlocations].source = NULL;
    if (src->name) {
        if (err->nlocations && err->locations[err->nlocations - 1].source &&
            strcmp(err->locations[err->nlocations - 1].source, src->name) == 0)
            locs[err->nlocations].source = err->locations[err->nlocations - 1].source;
        else
            locs[err->nlocations].source = gql_arena_strndup(&e->arena, src->name, strlen(src->name));
    }
    err->locations = locs;
    err->nlocations++;
}

void gql_error_set_extensions(gql_error *err, json_t *extensions)
{
    if (!err) {
        if (extensions)
            json_decref(extensions);
        return;
    }
    if (err->extensions)
        json_decref(err->extensions);
    err->extensions = extensions;
}

void gql_errors_write_json(const gql_errors *e, gql_buf *out, bool with_files)
{
    gql_buf_putc(out, '[');
    for (gql_error *x = e->head; x; x = x->next) {
        if (x != e->head)
            gql_buf_putc(out, ',');
        gql_buf_puts(out, "{\"message\":");
        gql__buf_json_string(out, x->message, x->message_len);
        if (x->nlocations) {
            gql_buf_puts(out, ",\"locations\":[");
            for (uint32_t i = 0; i < x->nlocations; i++) {
                gql_error_location *l = &x->locations[i];
                gql_buf_printf(out, "%s{\"line\":%u,\"column\":%u", i ? "," : "", l->line, l->column);
                if (with_files && l->source) {
                    gql_buf_puts(out, ",\"file\":");
                    gql__buf_json_string(out, l->source, strlen(l->source));
                }
                gql_buf_putc(out, '}');
            }
            gql_buf_putc(out, ']');
        }
        if (x->has_path) {
            gql_buf_puts(out, ",\"path\":[");
            for (uint32_t i = 0; i < x->npath; i++) {
                if (i)
                    gql_buf_putc(out, ',');
                if (x->path[i].key)
                    gql__buf_json_string(out, x->path[i].key, x->path[i].key_len);
                else
                    gql_buf_printf(out, "%u", x->path[i].index);
            }
            gql_buf_putc(out, ']');
        }
        if (x->extensions && json_object_size(x->extensions)) {
            gql_buf_puts(out, ",\"extensions\":");
            gql__buf_json_value(out, x->extensions, 64);
        }
        gql_buf_putc(out, '}');
    }
    gql_buf_putc(out, ']');
}

/* Copies one error into another list's arena. */
static void copy_error(gql_errors *to, const gql_error *x)
{
    gql_error *n = gql_errors_addn(to, x->message, x->message_len);
    if (!n)
        return;
    if (x->nlocations) {
        n->locations = gql_arena_alloc(&to->arena, x->nlocations * sizeof *n->locations);
        if (n->locations) {
            memcpy(n->locations, x->locations, x->nlocations * sizeof *n->locations);
            n->nlocations = x->nlocations;
        }
    }
    n->has_path = x->has_path;
    if (x->npath) {
        n->path = gql_arena_alloc(&to->arena, x->npath * sizeof *n->path);
        if (n->path) {
            for (uint32_t i = 0; i < x->npath; i++) {
                n->path[i] = x->path[i];
                if (x->path[i].key)
                    n->path[i].key = gql_arena_strndup(&to->arena, x->path[i].key, x->path[i].key_len);
            }
            n->npath = x->npath;
        }
    }
    if (x->extensions)
        n->extensions = json_incref(x->extensions);
}

void gql_errors_move(gql_errors *to, gql_errors *from)
{
    for (gql_error *x = from->head; x; x = x->next)
        copy_error(to, x);
    gql_errors_free(from);
}
