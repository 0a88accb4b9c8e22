/*
 * The executor (see gql_exec.h for the model).
 *
 * Data structures, all in the request's arena:
 *   plan        the collected fields of one selection for one runtime object type
 *               (graphql-js collectFields), computed once per request and shared by
 *               every object of that type at that place — 100 list items cost one
 *               collection. Arguments are coerced once per plan field, too.
 *   robj/rlist  the result tree: an object is an array of slots in plan order, a
 *               list an array of slots. Containers know their parent, so null
 *               propagation and error paths walk up without recursion.
 *   task        "resolve the fields of this object"; tasks run in FIFO order, which
 *               makes execution breadth-first: every field of a level is handed out
 *               before anything waits.
 *   ticket      a pending field; completing it fills its slot and may queue tasks.
 *
 * Values are JSON, except inside introspection, where parent values are native
 * pointers into the schema (xval), so introspection allocates no JSON at all.
 *
 * Error order: each error records its position in depth-first response order; at
 * the end errors are sorted by it, and — like a synchronous graphql-js execution,
 * which stops an object at its first non-null failure — errors that come after a
 * failure inside the subtree it nulled are dropped.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql_exec.h"
#include "gql_json.h"
#include "gql_print.h"
#include "gql_schema_internal.h"
#include "gql_values.h"

/* ---- values ----------------------------------------------------------------------- */

enum xkind {
    X_JSON,   /* j (NULL = null) */
    X_SCHEMA, /* p = gql_schema */
    X_TYPE,   /* p = gql_type */
    X_FIELD,  /* p = gql_field */
    X_INPUT,  /* p = gql_input_value */
    X_ENUMV,  /* p = gql_enum_value */
    X_DIRECTIVE,
    X_LIST,   /* p = nlist */
    X_STR,    /* p = chars, len */
    X_BOOL,   /* len = 0/1 */
    X_NULL,
};

typedef struct xval {
    uint8_t kind;
    uint32_t len;
    const void *p;
    json_t *j;
} xval;

typedef struct nlist {
    uint8_t kind; /* kind of the items */
    uint32_t n;
    const void *items[];
} nlist;

static inline xval xjson(json_t *j)
{
    xval v = {X_JSON, 0, NULL, j};
    return v;
}

static inline xval xnative(uint8_t kind, const void *p)
{
    xval v = {kind, 0, p, NULL};
    if (!p)
        v.kind = X_NULL;
    return v;
}

static inline bool xnull(xval v)
{
    return v.kind == X_NULL || (v.kind == X_JSON && (!v.j || json_is_null(v.j)));
}

/* ---- result tree ------------------------------------------------------------------ */

/* S_JSONLIST: a JSON array of built-in scalars already in output form (written as
 * is, no per-item slots). S_RAW: a value rendered to JSON bytes (render()), at
 * offset u.i of gql_exec.rbuf, `len` bytes. */
enum skind { S_UNSET, S_NULL, S_JSON, S_STR, S_INT, S_FLOAT, S_BOOL, S_OBJ, S_LIST, S_JSONLIST, S_RAW };

typedef struct robj robj;
typedef struct rlist rlist;

typedef struct slot {
    uint8_t kind;
    uint32_t len;
    union {
        json_t *j;
        const char *s;
        int64_t i;
        double d;
        int b;
        robj *o;
        rlist *l;
    } u;
} slot;

typedef struct rcont {
    uint8_t is_list;
    uint8_t dead;
    uint8_t nonnull;      /* the slot holding this container has a non-null type */
    uint32_t index;       /* index of that slot in the parent */
    struct rcont *parent; /* NULL: this container is `data` */
} rcont;

typedef struct plan plan;
typedef struct plan_field plan_field;

struct robj {
    rcont h;
    const plan *plan;
    slot slots[];
};

struct rlist {
    rcont h;
    const plan_field *pf;
    uint32_t n;
    slot items[];
};

/* ---- plans ------------------------------------------------------------------------ */

enum meta { M_NONE, M_TYPENAME, M_SCHEMA, M_TYPE };

typedef struct plan_link {
    const gql_type *type;
    plan *plan;
    struct plan_link *next;
} plan_link;

/* Fast-path codes for fields whose value is a built-in scalar (or a list of them):
 * the JSON type check is all the serialization such values need. */
enum { L_NONE, L_STR, L_ID, L_INT, L_FLOAT, L_BOOL, L_NONNULL = 8 };

/* 128 bytes (checked below): the render loop indexes arrays of it. */
struct plan_field {
    gql_str key;
    const gql_field *def;
    /* the property name (def->name, copied here for the prefetch loop) and the key
     * as written in the response: `,"key":` (the comma is skipped for the first) */
    const char *name;
    uint32_t name_len;
    uint32_t qkey_len;
    char *qkey;
    const gql_type *parent_type;
    uint8_t meta;
    uint8_t simple;    /* plain property lookup: no meta field, no arguments */
    uint8_t plain;     /* property lookup with the default resolver (arguments allowed) */
    uint8_t leaf;      /* L_* of the field type */
    uint8_t item_leaf; /* L_* of the item type of a list-typed field */
    uint8_t composite; /* the named type of the field is an object, interface or union */
    uint8_t var_args;  /* an argument value refers to a variable (see render()) */
    uint8_t no_render; /* rendering a value of this field met a resolver: use the tree */
    int32_t same_name;  /* next field of the plan reading the same property, or -1 */
    int32_t first_same; /* first field of the plan reading the same property */
    const gql_selection **sels; /* merged field selections */
    const gql_field_node **nodes;
    uint32_t nnodes;
    /* arguments, coerced on first use */
    uint8_t args_done;
    uint8_t ifield;   /* I_* of a field of an introspection type (see introspect()) */
    uint8_t incl_dep; /* its includeDeprecated argument: 0 not read yet, 1 false, 2 true */
    json_t *args;
    char *args_err;
    uint32_t args_err_loc;
    /* sub-selection plans per runtime type, and a collection error if any */
    plan_link *children;
};

_Static_assert(sizeof(struct plan_field) == 128 || sizeof(void *) != 8, "plan_field stays 128 bytes");

struct plan {
    const gql_type *type;
    uint32_t n;
    plan_field *f;
    uint8_t all_plain; /* every field is plain: with the default resolver, values can be
                          prefetched in one pass */
    int8_t *names;     /* all_plain: open-addressing table (PREFETCH_SLOTS) from a
                          property name to the first field reading it, -1 = empty */
    char *err;    /* collection failed (a @skip/@include argument) */
    uint32_t err_loc;
    struct shape *shape; /* names: the keys of the last object read, see prefetch() */
};

/* ---- exec ----------------------------------------------------------------------------- */

typedef struct task {
    robj *obj;
    xval parent;
    uint32_t from; /* first field to resolve */
} task;

struct gql_ticket {
    gql_field_info info;
    gql_exec *e;
    robj *obj;
    uint32_t idx;
    const plan_field *pf;
    uint8_t state; /* 0 pending, 1 value, 2 error */
    json_t *value;
    char *error;
    json_t *ext;
    gql_ticket *next_done;
};

typedef struct call_ctx {
    gql_exec *e;
    robj *obj;
    uint32_t idx;
    const plan_field *pf;
    gql_ticket *ticket;
} call_ctx;

/* A pending error raised while completing a value. */
typedef struct cerr {
    char *msg;
    uint32_t len;
    int loc_mode; /* 0: the field's nodes; 1: the one location below */
    uint32_t loc;
    json_t *ext;
} cerr;

struct gql_exec {
    gql_arena A;
    const gql_schema *s;
    const gql_document *doc;
    gql_exec_options o;
    const gql_operation_node *op;
    json_t *vars;          /* coerced variables */
    gql_errors errs;
    bool started;          /* execution started (data present in the response) */
    bool done;
    bool data_null;
    bool any_dead;
    bool serial;
    robj *data;
    xval root;
    /* FIFO of tasks */
    task *q;
    uint32_t qhead, qtail, qcap;
    uint32_t serial_next;  /* mutation: next root field */
    uint32_t pending;
    gql_ticket *done_head, *done_tail;
    json_t **keep;         /* resolver results owned by the request */
    uint32_t nkeep, capkeep;
    uint32_t *frag_stamp;  /* collectFields visited set (generation stamps) */
    uint32_t stamp;
    cerr err;
    uint32_t nerrors_total;
    bool complete_dead;    /* keep executing under nulled objects (graphql-js order) */
    json_t *empty_args;
    int oom;
    /* rendered subtrees (see render()): their bytes, and the walk's stacks */
    bool render_ok;        /* every field resolves by property lookup */
    bool render_data;      /* the whole of `data` is to be rendered (gql_exec_run()) */
    bool data_raw;         /* it was: its JSON is rbuf from RAW_RESERVE on */
    bool render_overflow;  /* rbuf reached max_response_bytes */
    gql_buf rbuf;
    struct rframe *rf;
    uint32_t caprf;
    json_t **rvals;
    uint32_t caprvals;
};

/* ---- helpers ---------------------------------------------------------------------- */

static void *ealloc(gql_exec *e, size_t n)
{
    void *p = gql_arena_alloc(&e->A, n);
    if (!p)
        e->oom = 1;
    return p;
}

static void keep(gql_exec *e, json_t *j)
{
    if (!j)
        return;
    if (e->nkeep == e->capkeep) {
        uint32_t cap = e->capkeep ? e->capkeep * 2 : 64;
        json_t **n = realloc(e->keep, cap * sizeof *n);
        if (!n) {
            /* cannot track it: leak nothing, drop it (the slot will still point to it
             * until the request ends, so keep one reference alive by not freeing) */
            e->oom = 1;
            return;
        }
        e->keep = n;
        e->capkeep = cap;
    }
    e->keep[e->nkeep++] = j;
}

static void set_err(gql_exec *e, const char *msg, size_t len)
{
    e->err.msg = gql_arena_strndup(&e->A, msg, len);
    e->err.len = (uint32_t)len;
    e->err.loc_mode = 0;
    e->err.ext = NULL;
}

static void set_errf(gql_exec *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void set_errf(gql_exec *e, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *m = gql_arena_vprintf(&e->A, fmt, ap);
    va_end(ap);
    e->err.msg = m;
    e->err.len = m ? (uint32_t)strlen(m) : 0;
    e->err.loc_mode = 0;
    e->err.ext = NULL;
}

static void set_err_buf(gql_exec *e, gql_buf *b)
{
    set_err(e, b->data ? b->data : "", b->len);
}

/* ---- positions and paths ------------------------------------------------------------ */

static uint32_t depth_of(const rcont *c)
{
    uint32_t d = 0;
    for (; c; c = c->parent)
        d++;
    return d;
}

/* Position of slot `idx` of `c` in depth-first order: the indexes from the root. */
static uint32_t position(gql_exec *e, const rcont *c, uint32_t idx, uint32_t **out)
{
    uint32_t n = depth_of(c);
    uint32_t *p = ealloc(e, n * sizeof *p);
    if (!p) {
        *out = NULL;
        return 0;
    }
    p[n - 1] = idx;
    uint32_t k = n - 1;
    for (const rcont *x = c; x && x->parent; x = x->parent)
        p[--k] = x->index;
    *out = p;
    return n;
}

/* Path segments for slot `idx` of `c`: object slots give keys, list slots indexes. */
static void make_path(gql_exec *e, gql_errors *errs, gql_error *err, const rcont *c, uint32_t idx)
{
    uint32_t n = depth_of(c);
    gql_path_segment *p = gql_arena_alloc(&errs->arena, n * sizeof *p);
    if (!p)
        return;
    uint32_t k = n;
    const rcont *x = c;
    uint32_t i = idx;
    while (x) {
        k--;
        if (x->is_list) {
            p[k].key = NULL;
            p[k].key_len = 0;
            p[k].index = i;
        } else {
            const robj *o = (const robj *)x;
            gql_str key = o->plan->f[i].key;
            p[k].key = gql_arena_strndup(&errs->arena, key.s, key.len);
            p[k].key_len = key.len;
            p[k].index = 0;
        }
        i = x->index;
        x = x->parent;
    }
    err->path = p;
    err->npath = n;
    err->has_path = true;
    (void)e;
}

static bool is_dead(const rcont *c)
{
    for (; c; c = c->parent)
        if (c->dead)
            return true;
    return false;
}

static slot *slot_at(rcont *c, uint32_t idx)
{
    return c->is_list ? &((rlist *)c)->items[idx] : &((robj *)c)->slots[idx];
}

/* Nulls the slot, propagating to the nearest nullable ancestor slot. Returns the
 * length of the position of the slot that became null (0 when `data` did). */
static uint32_t null_out(gql_exec *e, rcont *c, uint32_t idx, bool nonnull)
{
    for (;;) {
        if (!nonnull) {
            slot_at(c, idx)->kind = S_NULL;
            return depth_of(c);
        }
        c->dead = 1;
        e->any_dead = true;
        if (!c->parent) {
            e->data_null = true;
            return 0;
        }
        nonnull = c->nonnull;
        idx = c->index;
        c = c->parent;
    }
}

/* ---- errors ------------------------------------------------------------------------ */

/* Records e->err as a field error at slot (c, idx) of field `pf` and nulls the slot
 * (propagating when `nonnull`). */
static void raise_field_error(gql_exec *e, rcont *c, uint32_t idx, const plan_field *pf, bool nonnull)
{
    e->nerrors_total++;
    uint32_t nulls_at = null_out(e, c, idx, nonnull);
    uint32_t max = e->o.max_errors ? e->o.max_errors : 10000;
    if (e->errs.count >= max) {
        if (e->err.ext)
            json_decref(e->err.ext);
        e->err.ext = NULL;
        return;
    }
    gql_error *err = gql_errors_addn(&e->errs, e->err.msg ? e->err.msg : "", e->err.len);
    if (!err) {
        e->oom = 1;
        return;
    }
    if (e->err.loc_mode == 1) {
        gql_error_add_location(&e->errs, err, &e->doc->source, e->err.loc);
    } else {
        for (uint32_t i = 0; i < pf->nnodes; i++)
            gql_error_add_location(&e->errs, err, &e->doc->source, pf->sels[i]->loc);
    }
    make_path(e, &e->errs, err, c, idx);
    uint32_t *pos;
    err->_npos = position(e, c, idx, &pos);
    err->_pos = pos;
    err->_nulls_at = (int32_t)nulls_at;
    err->extensions = e->err.ext;
    e->err.ext = NULL;
}

/* An error before or outside field execution (no path). */
static gql_error *request_error(gql_exec *e, const char *msg, size_t len, const uint32_t *locs, uint32_t nlocs)
{
    gql_error *err = gql_errors_addn(&e->errs, msg, len);
    for (uint32_t i = 0; i < nlocs; i++)
        gql_error_add_location(&e->errs, err, &e->doc->source, locs[i]);
    return err;
}

/* ---- arguments (graphql-js getArgumentValues) ------------------------------------------- */

static void type_string(gql_buf *b, const gql_type *t)
{
    gql_type_print(b, t);
}

/* Coerces the arguments of a field or directive node. Returns the object, or NULL
 * with *err (and *err_loc) set. */
static json_t *argument_values(gql_exec *e, const gql_input_value *defs, uint32_t ndefs, const gql_argument *args,
                               uint32_t nargs, uint32_t node_loc, char **err, uint32_t *err_loc)
{
    json_t *out = json_object();
    gql_buf m;
    gql_buf_init(&m, 0);
    *err = NULL;
    for (uint32_t i = 0; i < ndefs; i++) {
        const gql_input_value *d = &defs[i];
        const gql_argument *a = NULL;
        for (uint32_t k = nargs; k-- > 0;)
            if (args[k].name.len == d->name_len && memcmp(args[k].name.s, d->name, d->name_len) == 0) {
                a = &args[k];
                break;
            }
        if (!a) {
            if (d->has_default) {
                json_object_setn_nocheck(out, d->name, d->name_len, d->default_value ? d->default_value : json_null());
            } else if (d->type->kind == GQL_KIND_NON_NULL) {
                gql_buf_printf(&m, "Argument \"%s\" of required type \"", d->name);
                type_string(&m, d->type);
                gql_buf_puts(&m, "\" was not provided.");
                *err_loc = node_loc;
                goto fail;
            }
            continue;
        }
        const gql_value *vn = a->value;
        bool is_null = vn->kind == GQL_VALUE_NULL;
        if (vn->kind == GQL_VALUE_VARIABLE) {
            json_t *vv = e->vars ? json_object_getn(e->vars, vn->u.str.s, vn->u.str.len) : NULL;
            if (!vv) {
                if (d->has_default) {
                    json_object_setn_nocheck(out, d->name, d->name_len,
                                             d->default_value ? d->default_value : json_null());
                } else if (d->type->kind == GQL_KIND_NON_NULL) {
                    gql_buf_printf(&m, "Argument \"%s\" of required type \"", d->name);
                    type_string(&m, d->type);
                    gql_buf_printf(&m, "\" was provided the variable \"$%.*s\" which was not provided a runtime value.",
                                   (int)vn->u.str.len, vn->u.str.s);
                    *err_loc = vn->loc;
                    goto fail;
                }
                continue;
            }
            is_null = json_is_null(vv);
        }
        if (is_null && d->type->kind == GQL_KIND_NON_NULL) {
            gql_buf_printf(&m, "Argument \"%s\" of non-null type \"", d->name);
            type_string(&m, d->type);
            gql_buf_puts(&m, "\" must not be null.");
            *err_loc = vn->loc;
            goto fail;
        }
        json_t *v;
        if (!gql__value_from_ast(e->s, vn, d->type, e->vars, &v)) {
            gql_buf_printf(&m, "Argument \"%s\" has invalid value ", d->name);
            gql_print_value(vn, &m);
            gql_buf_putc(&m, '.');
            *err_loc = vn->loc;
            goto fail;
        }
        json_object_setn_new_nocheck(out, d->name, d->name_len, v);
    }
    gql_buf_free(&m);
    return out;
fail:
    *err = gql_arena_strndup(&e->A, m.data ? m.data : "", m.len);
    gql_buf_free(&m);
    json_decref(out);
    return NULL;
}

/* The coerced arguments of a plan field (once per request). Returns NULL with
 * e->err set on failure. */
static json_t *field_args(gql_exec *e, plan_field *pf)
{
    if (!pf->args_done) {
        pf->args_done = 1;
        const gql_field_node *n = pf->nodes[0];
        if (pf->def && (pf->def->nargs || n->nargs)) {
            pf->args = argument_values(e, pf->def->args, pf->def->nargs, n->args, n->nargs, pf->sels[0]->loc,
                                       &pf->args_err, &pf->args_err_loc);
            if (pf->args)
                keep(e, pf->args);
        }
    }
    if (pf->args_err) {
        set_err(e, pf->args_err, strlen(pf->args_err));
        e->err.loc_mode = 1;
        e->err.loc = pf->args_err_loc;
        return NULL;
    }
    return pf->args;
}

/* ---- collecting fields (graphql-js collectFields) -------------------------------------- */

/* shouldIncludeNode(); returns -1 with *err on an argument error. */
static int should_include(gql_exec *e, const gql_directive *dirs, uint32_t n, char **err, uint32_t *err_loc)
{
    const gql_directive_def *defs[2] = {e->s->d_skip, e->s->d_include};
    const char *names[2] = {"skip", "include"};
    for (int k = 0; k < 2; k++) {
        const gql_directive *d = NULL;
        for (uint32_t i = 0; i < n; i++)
            if (gql_str_eqc(dirs[i].name, names[k])) {
                d = &dirs[i];
                break;
            }
        if (!d || !defs[k])
            continue;
        /* `if:` given as a literal or as a provided variable needs no coercion */
        if (d->nargs == 1 && gql_str_eqc(d->args[0].name, "if")) {
            const gql_value *iv = d->args[0].value;
            json_t *vv = NULL;
            int b = -1;
            if (iv->kind == GQL_VALUE_BOOLEAN)
                b = iv->boolean;
            else if (iv->kind == GQL_VALUE_VARIABLE && e->vars &&
                     json_is_boolean(vv = json_object_getn(e->vars, iv->u.str.s, iv->u.str.len)))
                b = json_is_true(vv);
            if (b >= 0) {
                if (k == 0 ? b : !b)
                    return 0;
                continue;
            }
        }
        json_t *args = argument_values(e, defs[k]->args, defs[k]->nargs, d->args, d->nargs, d->loc, err, err_loc);
        if (!args)
            return -1;
        json_t *v = json_object_get(args, "if");
        bool skip = k == 0 ? json_is_true(v) : json_is_false(v);
        json_decref(args);
        if (skip)
            return 0;
    }
    return 1;
}

static bool condition_matches(gql_exec *e, const gql_type_node *cond, const gql_type *type)
{
    if (!cond)
        return true;
    const gql_type *ct = gql_schema_type(e->s, cond->name.s, cond->name.len);
    if (ct == type)
        return true;
    return gql_is_abstract_type(ct) && gql_schema_is_sub_type(e->s, ct, type);
}

typedef struct collector {
    gql_exec *e;
    const gql_type *type;
    plan_field *f;
    uint32_t n, cap;
    const gql_selection **sels; /* all field selections, in order */
    uint32_t nsels, capsels;
    char *err;
    uint32_t err_loc;
    int depth;
} collector;

static int collect(collector *x, const gql_selection_set *ss)
{
    gql_exec *e = x->e;
    if (++x->depth > GQL_MAX_NESTING * 8) {
        x->err = gql_arena_strndup(&e->A, "Fragment spreads are nested too deeply.", 39);
        x->err_loc = ss->loc;
        return -1;
    }
    for (uint32_t i = 0; i < ss->n; i++) {
        const gql_selection *sel = &ss->items[i];
        switch (sel->kind) {
        case GQL_SEL_FIELD: {
            const gql_field_node *fn = &sel->u.field;
            if (fn->ndirs) {
                int inc = should_include(e, fn->dirs, fn->ndirs, &x->err, &x->err_loc);
                if (inc < 0)
                    return -1;
                if (!inc)
                    continue;
            }
            if (x->nsels == x->capsels) {
                uint32_t cap = x->capsels ? x->capsels * 2 : 16;
                const gql_selection **n = ealloc(e, cap * sizeof *n);
                if (!n)
                    return -1;
                if (x->nsels)
                    memcpy(n, x->sels, x->nsels * sizeof *n);
                x->sels = n;
                x->capsels = cap;
            }
            x->sels[x->nsels++] = sel;
            break;
        }
        case GQL_SEL_INLINE: {
            const gql_inline_node *in = &sel->u.inl;
            if (in->ndirs) {
                int inc = should_include(e, in->dirs, in->ndirs, &x->err, &x->err_loc);
                if (inc < 0)
                    return -1;
                if (!inc)
                    continue;
            }
            if (!condition_matches(e, in->type_cond, x->type))
                continue;
            if (collect(x, in->sel) < 0)
                return -1;
            break;
        }
        case GQL_SEL_SPREAD: {
            const gql_spread_node *sp = &sel->u.spread;
            if (sp->fragment >= 0 && e->frag_stamp[sp->fragment] == e->stamp)
                continue;
            if (sp->ndirs) {
                int inc = should_include(e, sp->dirs, sp->ndirs, &x->err, &x->err_loc);
                if (inc < 0)
                    return -1;
                if (!inc)
                    continue;
            }
            if (sp->fragment < 0)
                continue;
            e->frag_stamp[sp->fragment] = e->stamp;
            const gql_fragment_node *f = e->doc->fragments[sp->fragment];
            if (!condition_matches(e, f->type_cond, x->type))
                continue;
            if (collect(x, f->sel) < 0)
                return -1;
            break;
        }
        }
    }
    x->depth--;
    return 0;
}

/* Whether a value literal refers to a variable anywhere inside (its depth is
 * bounded by the parser's nesting limit). */
static bool value_has_var(const gql_value *v)
{
    switch (v->kind) {
    case GQL_VALUE_VARIABLE:
        return true;
    case GQL_VALUE_LIST:
        for (uint32_t i = 0; i < v->u.list.n; i++)
            if (value_has_var(v->u.list.items[i]))
                return true;
        return false;
    case GQL_VALUE_OBJECT:
        for (uint32_t i = 0; i < v->u.object.n; i++)
            if (value_has_var(v->u.object.fields[i].value))
                return true;
        return false;
    default:
        return false;
    }
}

static uint8_t ifield_of(const char *name, size_t len);

static uint8_t leaf_code(const gql_schema *s, const gql_type *t)
{
    uint8_t nn = 0;
    if (t->kind == GQL_KIND_NON_NULL) {
        nn = L_NONNULL;
        t = t->of;
    }
    uint8_t c = t == s->t_string    ? L_STR
                : t == s->t_id      ? L_ID
                : t == s->t_int     ? L_INT
                : t == s->t_float   ? L_FLOAT
                : t == s->t_boolean ? L_BOOL
                                    : L_NONE;
    return c ? (uint8_t)(c | nn) : L_NONE;
}

/* Groups the collected selections by response key (first-occurrence order). */
/* Prefetch table: a cheap hash of a property name (length and two bytes) into a
 * table four times the size of the largest plan it serves. */
#define PREFETCH_MAX_FIELDS 32
#define PREFETCH_SLOTS 128
static inline uint32_t name_hash(const char *s, size_t n)
{
    uint32_t h = (uint32_t)n * 0x9E3779B1u;
    if (n)
        h ^= ((uint32_t)(unsigned char)s[0] << 7) ^ ((uint32_t)(unsigned char)s[n - 1] << 1) ^
             ((uint32_t)(unsigned char)s[n >> 1] << 13);
    return (h ^ (h >> 15)) & (PREFETCH_SLOTS - 1);
}

static void build_names(gql_exec *e, plan *p)
{
    if (!p->all_plain || p->n > PREFETCH_MAX_FIELDS)
        return;
    p->names = ealloc(e, PREFETCH_SLOTS);
    if (!p->names)
        return;
    memset(p->names, -1, PREFETCH_SLOTS);
    for (uint32_t g = 0; g < p->n; g++) {
        const plan_field *f = &p->f[g];
        if (f->name_len == UINT32_MAX || f->first_same != (int32_t)g)
            continue;
        uint32_t h = name_hash(f->name, f->name_len);
        while (p->names[h] >= 0)
            h = (h + 1) & (PREFETCH_SLOTS - 1);
        p->names[h] = (int8_t)g;
    }
}

static plan *make_plan(gql_exec *e, const gql_type *type, collector *x)
{
    plan *p = ealloc(e, sizeof *p);
    if (!p)
        return NULL;
    memset(p, 0, sizeof *p);
    p->type = type;
    if (x->err) {
        p->err = x->err;
        p->err_loc = x->err_loc;
        return p;
    }
    uint32_t nsel = x->nsels;
    uint32_t *group = ealloc(e, (nsel + 1) * sizeof *group);
    plan_field *f = ealloc(e, (nsel + 1) * sizeof *f);
    if (!group || !f)
        return NULL;
    uint32_t nf = 0;
    gql_strmap keys;
    bool big = nsel > 16;
    if (big)
        gql__strmap_init(&keys, &e->A, nsel);
    for (uint32_t i = 0; i < nsel; i++) {
        gql_str key = gql_field_response_key(&x->sels[i]->u.field);
        uint32_t g = UINT32_MAX;
        if (big) {
            void *v = gql__strmap_get(&keys, key.s, key.len);
            if (v)
                g = (uint32_t)((uintptr_t)v - 1);
        } else {
            for (uint32_t k = 0; k < nf; k++)
                if (gql_str_eq(f[k].key, key)) {
                    g = k;
                    break;
                }
        }
        if (g == UINT32_MAX) {
            g = nf++;
            memset(&f[g], 0, sizeof f[g]);
            f[g].key = key;
            if (big)
                gql__strmap_put(&keys, key.s, key.len, (void *)(uintptr_t)(g + 1));
        }
        group[i] = g;
        f[g].nnodes++;
    }
    for (uint32_t g = 0; g < nf; g++) {
        f[g].sels = ealloc(e, f[g].nnodes * sizeof *f[g].sels);
        f[g].nodes = ealloc(e, f[g].nnodes * sizeof *f[g].nodes);
        if (!f[g].sels || !f[g].nodes)
            return NULL;
        f[g].nnodes = 0;
        f[g].parent_type = type;
    }
    for (uint32_t i = 0; i < nsel; i++) {
        plan_field *pf = &f[group[i]];
        pf->sels[pf->nnodes] = x->sels[i];
        pf->nodes[pf->nnodes] = &x->sels[i]->u.field;
        pf->nnodes++;
    }
    for (uint32_t g = 0; g < nf; g++) {
        gql_str name = f[g].nodes[0]->name;
        if (gql_str_eqc(name, "__typename")) {
            f[g].meta = M_TYPENAME;
            f[g].def = &e->s->f_typename;
        } else if (gql_str_eqc(name, "__schema") && type == e->s->query) {
            f[g].meta = M_SCHEMA;
            f[g].def = &e->s->f_schema;
        } else if (gql_str_eqc(name, "__type") && type == e->s->query) {
            f[g].meta = M_TYPE;
            f[g].def = &e->s->f_type;
        } else {
            f[g].def = gql_type_field(type, name.s, name.len);
        }
        if (f[g].def) {
            f[g].name = f[g].def->name;
            f[g].name_len = (uint32_t)f[g].def->name_len;
        }
        gql_str key = f[g].key;
        f[g].qkey = ealloc(e, key.len + 4 + 17); /* the writer copies 16 bytes from qkey+1 */
        if (!f[g].qkey)
            return NULL;
        f[g].qkey[0] = ',';
        f[g].qkey[1] = '"';
        memcpy(f[g].qkey + 2, key.s, key.len);
        f[g].qkey[key.len + 2] = '"';
        f[g].qkey[key.len + 3] = ':';
        f[g].qkey_len = key.len + 4;
        memset(f[g].qkey + key.len + 4, 0, 17);
    }
    p->all_plain = !type->builtin;
    for (uint32_t g = 0; g < nf; g++) {
        plan_field *pf = &f[g];
        if (pf->def) {
            pf->leaf = leaf_code(e->s, pf->def->type);
            const gql_type *nt = gql_nullable_type(pf->def->type);
            if (nt->kind == GQL_KIND_LIST)
                pf->item_leaf = leaf_code(e->s, nt->of);
            const gql_type *named = gql_named_type(pf->def->type);
            pf->composite = named->kind == GQL_KIND_OBJECT || named->kind == GQL_KIND_INTERFACE ||
                            named->kind == GQL_KIND_UNION;
        }
        if (pf->def && type->builtin)
            pf->ifield = ifield_of(pf->def->name, pf->def->name_len);
        pf->plain = pf->def && pf->meta == M_NONE && !type->builtin;
        pf->simple = pf->plain && pf->def->nargs == 0 && pf->nodes[0]->nargs == 0;
        for (uint32_t a = 0; a < pf->nodes[0]->nargs && !pf->var_args; a++)
            pf->var_args = value_has_var(pf->nodes[0]->args[a].value);
        if (pf->meta == M_TYPENAME)
            pf->name_len = UINT32_MAX; /* prefetch matches no property for it */
        else if (!pf->plain)
            p->all_plain = 0;
        pf->same_name = -1;
        pf->first_same = (int32_t)g;
        for (uint32_t h = g + 1; h < nf && pf->def; h++)
            if (f[h].def == pf->def) {
                pf->same_name = (int32_t)h;
                break;
            }
        for (uint32_t h = 0; h < g && pf->def; h++)
            if (f[h].def == pf->def) {
                pf->first_same = (int32_t)h;
                break;
            }
    }
    p->f = f;
    p->n = nf;
    build_names(e, p);
    return p;
}

static plan *root_plan(gql_exec *e, const gql_type *type, const gql_selection_set *ss)
{
    collector x;
    memset(&x, 0, sizeof x);
    x.e = e;
    x.type = type;
    e->stamp++;
    collect(&x, ss);
    return make_plan(e, type, &x);
}

/* collectSubfields(): the plan for the sub-selections of `pf` on `type`, cached. */
static plan *sub_plan(gql_exec *e, plan_field *pf, const gql_type *type)
{
    for (plan_link *l = pf->children; l; l = l->next)
        if (l->type == type)
            return l->plan;
    collector x;
    memset(&x, 0, sizeof x);
    x.e = e;
    x.type = type;
    e->stamp++;
    for (uint32_t i = 0; i < pf->nnodes && !x.err; i++)
        if (pf->nodes[i]->sel)
            collect(&x, pf->nodes[i]->sel);
    plan *p = make_plan(e, type, &x);
    plan_link *l = ealloc(e, sizeof *l);
    if (!p || !l)
        return NULL;
    l->type = type;
    l->plan = p;
    l->next = pf->children;
    pf->children = l;
    return p;
}

/* ---- leaf serialization (graphql-js serialize) ----------------------------------------- */

static void leaf_error(gql_exec *e, const char *prefix, json_t *v)
{
    gql_buf m;
    gql_buf_init(&m, 1 << 20);
    gql_buf_puts(&m, prefix);
    gql__inspect_json(&m, v);
    set_err_buf(e, &m);
    gql_buf_free(&m);
}

static int set_number_string(gql_exec *e, slot *s, json_t *v)
{
    char t[40];
    int n;
    if (json_is_integer(v))
        n = snprintf(t, sizeof t, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
    else
        n = gql__js_number(t, json_real_value(v));
    char *c = gql_arena_strndup(&e->A, t, (size_t)n);
    if (!c)
        return -1;
    s->kind = S_STR;
    s->u.s = c;
    s->len = (uint32_t)n;
    return 0;
}

static int serialize_leaf(gql_exec *e, const gql_type *t, xval xv, slot *s)
{
    const gql_schema *sc = e->s;
    if (xv.kind == X_STR) {
        s->kind = S_STR;
        s->u.s = xv.p;
        s->len = xv.len;
        return 0;
    }
    if (xv.kind == X_BOOL) {
        s->kind = S_BOOL;
        s->u.b = (int)xv.len;
        return 0;
    }
    json_t *v = xv.j;
    if (t->kind == GQL_KIND_ENUM) {
        if (json_is_string(v)) {
            const gql_enum_value *ev = gql_type_enum_value(t, gql__jstr(v), gql__jstrlen(v));
            if (ev) {
                s->kind = S_STR;
                s->u.s = ev->name;
                s->len = ev->name_len;
                return 0;
            }
        }
        gql_buf m;
        gql_buf_init(&m, 1 << 20);
        gql_buf_printf(&m, "Enum \"%s\" cannot represent value: ", t->name);
        gql__inspect_json(&m, v);
        set_err_buf(e, &m);
        gql_buf_free(&m);
        return -1;
    }
    if (t == sc->t_string) {
        if (json_is_string(v)) {
            s->kind = S_JSON;
            s->u.j = v;
            return 0;
        }
        if (json_is_boolean(v)) {
            s->kind = S_STR;
            s->u.s = json_is_true(v) ? "true" : "false";
            s->len = json_is_true(v) ? 4 : 5;
            return 0;
        }
        if (gql__json_is_number(v) && isfinite(gql__json_number(v)))
            return set_number_string(e, s, v);
        leaf_error(e, "String cannot represent value: ", v);
        return -1;
    }
    if (t == sc->t_int || t == sc->t_float) {
        bool is_int = t == sc->t_int;
        double d;
        if (json_is_integer(v)) {
            json_int_t i = gql__jint(v);
            if (is_int && (i > 2147483647 || i < -2147483648LL)) {
                leaf_error(e, "Int cannot represent non 32-bit signed integer value: ", v);
                return -1;
            }
            s->kind = S_JSON;
            s->u.j = v;
            return 0;
        }
        if (json_is_real(v)) {
            d = json_real_value(v);
        } else if (json_is_boolean(v)) {
            d = json_is_true(v) ? 1 : 0;
        } else if (json_is_string(v) && json_string_length(v) > 0) {
            if (!gql__js_string_to_number(json_string_value(v), json_string_length(v), &d))
                d = NAN;
        } else {
            leaf_error(e, is_int ? "Int cannot represent non-integer value: " : "Float cannot represent non numeric value: ",
                       v);
            return -1;
        }
        if (is_int) {
            if (!gql__is_integer(d)) {
                leaf_error(e, "Int cannot represent non-integer value: ", v);
                return -1;
            }
            if (d > 2147483647.0 || d < -2147483648.0) {
                leaf_error(e, "Int cannot represent non 32-bit signed integer value: ", v);
                return -1;
            }
            s->kind = S_INT;
            s->u.i = (int64_t)d;
            return 0;
        }
        if (!isfinite(d)) {
            leaf_error(e, "Float cannot represent non numeric value: ", v);
            return -1;
        }
        s->kind = S_FLOAT;
        s->u.d = d;
        return 0;
    }
    if (t == sc->t_boolean) {
        if (json_is_boolean(v)) {
            s->kind = S_JSON;
            s->u.j = v;
            return 0;
        }
        if (gql__json_is_number(v) && isfinite(gql__json_number(v))) {
            s->kind = S_BOOL;
            s->u.b = gql__json_number(v) != 0;
            return 0;
        }
        leaf_error(e, "Boolean cannot represent a non boolean value: ", v);
        return -1;
    }
    if (t == sc->t_id) {
        if (json_is_string(v)) {
            s->kind = S_JSON;
            s->u.j = v;
            return 0;
        }
        if (gql__json_is_number(v) && gql__is_integer(gql__json_number(v)))
            return set_number_string(e, s, v);
        leaf_error(e, "ID cannot represent value: ", v);
        return -1;
    }
    /* custom scalar */
    if (sc->scalars.serialize) {
        gql_buf err;
        gql_buf_init(&err, 1 << 16);
        json_t *out = NULL;
        int rc = sc->scalars.serialize(sc->scalars.ud, t, v, &out, &err);
        if (rc != 0) {
            if (out)
                json_decref(out);
            if (err.len)
                set_err_buf(e, &err);
            else
                leaf_error(e, "Expected a value of the scalar type, got: ", v);
            gql_buf_free(&err);
            return -1;
        }
        gql_buf_free(&err);
        if (out) {
            keep(e, out);
            if (json_is_null(out)) {
                gql_buf m;
                gql_buf_init(&m, 1 << 20);
                gql_buf_printf(&m, "Expected `%s.serialize(", t->name);
                gql__inspect_json(&m, v);
                gql_buf_puts(&m, ")` to return non-nullable value, returned: null");
                set_err_buf(e, &m);
                gql_buf_free(&m);
                return -1;
            }
            v = out;
        }
    }
    s->kind = S_JSON;
    s->u.j = v;
    return 0;
}

/* ---- introspection resolvers ------------------------------------------------------------ */

/* A name whose length the schema knows (NULL: null). */
static xval xname(const char *s, uint32_t len)
{
    xval v = {X_STR, len, s, NULL};
    if (!s)
        v.kind = X_NULL;
    return v;
}

static xval xstr(const char *s)
{
    xval v = {X_STR, 0, s, NULL};
    if (!s)
        v.kind = X_NULL;
    else
        v.len = (uint32_t)strlen(s);
    return v;
}

static xval xbool(bool b)
{
    xval v = {X_BOOL, b ? 1u : 0u, NULL, NULL};
    return v;
}

static xval xlist(gql_exec *e, uint8_t kind, uint32_t n)
{
    nlist *l = ealloc(e, sizeof *l + (n + 1) * sizeof(void *));
    xval v = {X_LIST, 0, l, NULL};
    if (!l) {
        v.kind = X_NULL;
        return v;
    }
    l->kind = kind;
    l->n = 0;
    return v;
}

static inline void xlist_add(xval v, const void *item)
{
    if (v.kind == X_LIST) {
        nlist *l = (nlist *)v.p;
        l->items[l->n++] = item;
    }
}

/* The includeDeprecated argument of an introspection field (its arguments are
 * coerced once per plan field, so the answer is kept there). */
static bool include_deprecated(plan_field *pf, json_t *args)
{
    if (!pf->incl_dep)
        pf->incl_dep = args && json_is_true(json_object_get(args, "includeDeprecated")) ? 2 : 1;
    return pf->incl_dep == 2;
}

static const char *const type_kind_names[] = {"SCALAR", "OBJECT", "INTERFACE", "UNION",
                                              "ENUM",   "INPUT_OBJECT", "LIST", "NON_NULL"};

static xval input_values_list(gql_exec *e, const gql_input_value *vals, uint32_t n, bool all)
{
    xval l = xlist(e, X_INPUT, n);
    for (uint32_t i = 0; i < n; i++)
        if (all || !vals[i].deprecation_reason)
            xlist_add(l, &vals[i]);
    return l;
}

/* The fields of the introspection types by number, found once per plan field,
 * so that introspect() switches on a number instead of comparing names. */
enum {
    I_NONE,
    I_DESCRIPTION,
    I_TYPES,
    I_QUERY_TYPE,
    I_MUTATION_TYPE,
    I_SUBSCRIPTION_TYPE,
    I_DIRECTIVES,
    I_KIND,
    I_NAME,
    I_SPECIFIED_BY_URL,
    I_FIELDS,
    I_INTERFACES,
    I_POSSIBLE_TYPES,
    I_ENUM_VALUES,
    I_INPUT_FIELDS,
    I_OF_TYPE,
    I_IS_ONE_OF,
    I_ARGS,
    I_TYPE,
    I_IS_DEPRECATED,
    I_DEPRECATION_REASON,
    I_DEFAULT_VALUE,
    I_IS_REPEATABLE,
    I_LOCATIONS,
};
static const char *const ifield_names[] = {
    NULL,
    "description",
    "types",
    "queryType",
    "mutationType",
    "subscriptionType",
    "directives",
    "kind",
    "name",
    "specifiedByURL",
    "fields",
    "interfaces",
    "possibleTypes",
    "enumValues",
    "inputFields",
    "ofType",
    "isOneOf",
    "args",
    "type",
    "isDeprecated",
    "deprecationReason",
    "defaultValue",
    "isRepeatable",
    "locations",
};

static uint8_t ifield_of(const char *name, size_t len)
{
    for (uint8_t k = 1; k < sizeof ifield_names / sizeof *ifield_names; k++)
        if (ifield_names[k][0] == name[0] && strlen(ifield_names[k]) == len && !memcmp(name, ifield_names[k], len))
            return k;
    return I_NONE;
}

static xval introspect(gql_exec *e, xval parent, plan_field *pf, json_t *args)
{
    const uint8_t f = pf->ifield;
    switch (parent.kind) {
    case X_SCHEMA: {
        const gql_schema *s = parent.p;
        if (f == I_DESCRIPTION)
            return xstr(s->description);
        if (f == I_TYPES) {
            xval l = xlist(e, X_TYPE, s->ntypes);
            for (uint32_t i = 0; i < s->ntypes; i++)
                xlist_add(l, s->types[i]);
            return l;
        }
        if (f == I_QUERY_TYPE)
            return xnative(X_TYPE, s->query);
        if (f == I_MUTATION_TYPE)
            return xnative(X_TYPE, s->mutation);
        if (f == I_SUBSCRIPTION_TYPE)
            return xnative(X_TYPE, s->subscription);
        if (f == I_DIRECTIVES) {
            xval l = xlist(e, X_DIRECTIVE, s->ndirectives);
            for (uint32_t i = 0; i < s->ndirectives; i++)
                xlist_add(l, s->directives[i]);
            return l;
        }
        break;
    }
    case X_TYPE: {
        const gql_type *t = parent.p;
        bool fielded = t->kind == GQL_KIND_OBJECT || t->kind == GQL_KIND_INTERFACE;
        if (f == I_KIND)
            return xstr(type_kind_names[t->kind]);
        if (f == I_NAME)
            return xname(t->name, t->name_len);
        if (f == I_DESCRIPTION)
            return xstr(t->description);
        if (f == I_SPECIFIED_BY_URL)
            return xstr(t->kind == GQL_KIND_SCALAR ? t->specified_by_url : NULL);
        if (f == I_FIELDS) {
            if (!fielded)
                return xnative(X_NULL, NULL);
            bool all = include_deprecated(pf, args);
            xval l = xlist(e, X_FIELD, t->nfields);
            for (uint32_t i = 0; i < t->nfields; i++)
                if (all || !t->fields[i].deprecation_reason)
                    xlist_add(l, &t->fields[i]);
            return l;
        }
        if (f == I_INTERFACES) {
            if (!fielded)
                return xnative(X_NULL, NULL);
            xval l = xlist(e, X_TYPE, t->ninterfaces);
            for (uint32_t i = 0; i < t->ninterfaces; i++)
                xlist_add(l, t->interfaces[i]);
            return l;
        }
        if (f == I_POSSIBLE_TYPES) {
            if (!gql_is_abstract_type(t))
                return xnative(X_NULL, NULL);
            xval l = xlist(e, X_TYPE, t->npossible);
            for (uint32_t i = 0; i < t->npossible; i++)
                xlist_add(l, t->possible[i]);
            return l;
        }
        if (f == I_ENUM_VALUES) {
            if (t->kind != GQL_KIND_ENUM)
                return xnative(X_NULL, NULL);
            bool all = include_deprecated(pf, args);
            xval l = xlist(e, X_ENUMV, t->nvalues);
            for (uint32_t i = 0; i < t->nvalues; i++)
                if (all || !t->values[i].deprecation_reason)
                    xlist_add(l, &t->values[i]);
            return l;
        }
        if (f == I_INPUT_FIELDS) {
            if (t->kind != GQL_KIND_INPUT_OBJECT)
                return xnative(X_NULL, NULL);
            return input_values_list(e, t->input_fields, t->ninput_fields, include_deprecated(pf, args));
        }
        if (f == I_OF_TYPE)
            return xnative(X_TYPE, t->of);
        if (f == I_IS_ONE_OF)
            return t->kind == GQL_KIND_INPUT_OBJECT ? xbool(t->is_one_of) : xnative(X_NULL, NULL);
        break;
    }
    case X_FIELD: {
        const gql_field *fd = parent.p;
        if (f == I_NAME)
            return xname(fd->name, fd->name_len);
        if (f == I_DESCRIPTION)
            return xstr(fd->description);
        if (f == I_ARGS)
            return input_values_list(e, fd->args, fd->nargs, include_deprecated(pf, args));
        if (f == I_TYPE)
            return xnative(X_TYPE, fd->type);
        if (f == I_IS_DEPRECATED)
            return xbool(fd->deprecation_reason != NULL);
        if (f == I_DEPRECATION_REASON)
            return xstr(fd->deprecation_reason);
        break;
    }
    case X_INPUT: {
        const gql_input_value *iv = parent.p;
        if (f == I_NAME)
            return xname(iv->name, iv->name_len);
        if (f == I_DESCRIPTION)
            return xstr(iv->description);
        if (f == I_TYPE)
            return xnative(X_TYPE, iv->type);
        if (f == I_DEFAULT_VALUE)
            return xstr(iv->default_printed);
        if (f == I_IS_DEPRECATED)
            return xbool(iv->deprecation_reason != NULL);
        if (f == I_DEPRECATION_REASON)
            return xstr(iv->deprecation_reason);
        break;
    }
    case X_ENUMV: {
        const gql_enum_value *ev = parent.p;
        if (f == I_NAME)
            return xname(ev->name, ev->name_len);
        if (f == I_DESCRIPTION)
            return xstr(ev->description);
        if (f == I_IS_DEPRECATED)
            return xbool(ev->deprecation_reason != NULL);
        if (f == I_DEPRECATION_REASON)
            return xstr(ev->deprecation_reason);
        break;
    }
    case X_DIRECTIVE: {
        const gql_directive_def *d = parent.p;
        if (f == I_NAME)
            return xname(d->name, d->name_len);
        if (f == I_DESCRIPTION)
            return xstr(d->description);
        if (f == I_IS_REPEATABLE)
            return xbool(d->repeatable);
        if (f == I_LOCATIONS) {
            /* graphql-js keeps the order of the definition */
            const gql_directive_def_node *n = d->node;
            xval l = xlist(e, X_STR, n->nlocations);
            for (uint32_t i = 0; i < n->nlocations; i++)
                for (int k = 0; k < GQL_LOC_COUNT; k++)
                    if (gql_str_eqc(n->locations[i].name, gql_directive_location_name((gql_directive_location)k)))
                        xlist_add(l, gql_directive_location_name((gql_directive_location)k));
            return l;
        }
        if (f == I_ARGS)
            return input_values_list(e, d->args, d->nargs, include_deprecated(pf, args));
        break;
    }
    default:
        break;
    }
    return xnative(X_NULL, NULL);
}

/* ---- writing JSON ---------------------------------------------------------------------- */

/* The response writer keeps a raw cursor into the buffer and reserves space per
 * item, instead of going through the buffer API for every few bytes. */
typedef struct writer {
    gql_buf *b;
    char *d;
    char *end;
    bool failed;
} writer;

static bool wr_grow(writer *w, size_t n)
{
    w->b->len = (size_t)(w->d - w->b->data);
    if (gql_buf_reserve(w->b, n < 4096 ? 4096 : n)) {
        w->failed = true;
        return false;
    }
    w->d = w->b->data + w->b->len;
    w->end = w->b->data + w->b->cap - 1;
    return true;
}

static inline bool wr_need(writer *w, size_t n)
{
    return (size_t)(w->end - w->d) >= n || wr_grow(w, n);
}

/* Falls back to the buffer API (escaping, rare cases), keeping the cursor in sync. */
static inline void wr_sync(writer *w)
{
    w->b->len = (size_t)(w->d - w->b->data);
}
static inline void wr_resume(writer *w)
{
    if (w->b->overflow) {
        w->failed = true;
        w->d = w->b->data + w->b->len;
        w->end = w->d;
        return;
    }
    w->d = w->b->data + w->b->len;
    w->end = w->b->data + w->b->cap - 1;
}

static const uint8_t needs_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

/* Eight-byte test for a control character, a quote or a backslash. */
static inline bool chunk_needs_escape(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = x ^ (ones * '"'), bs = x ^ (ones * '\\');
    return (((x - ones * 0x20) & ~x) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
}

static void wr_string(writer *w, const char *s, size_t n)
{
    if (!wr_need(w, n + 2))
        return;
    const unsigned char *u = (const unsigned char *)s;
    char *d = w->d;
    *d++ = '"';
    size_t i = 0;
    if (n >= 8) {
        /* eight bytes at a time, the last chunk overlapping the one before */
        uint64_t x;
        for (; i + 8 <= n; i += 8) {
            memcpy(&x, u + i, 8);
            if (chunk_needs_escape(x))
                goto escape;
            memcpy(d + i, &x, 8);
        }
        if (i < n) {
            memcpy(&x, u + n - 8, 8);
            if (chunk_needs_escape(x))
                goto escape;
            memcpy(d + n - 8, &x, 8);
        }
    } else {
        for (; i < n; i++) {
            unsigned char c = u[i];
            if (needs_escape[c])
                goto escape;
            d[i] = (char)c;
        }
    }
    d[n] = '"';
    w->d = d + n + 1;
    return;
escape:
    /* bytes before the chunk are plain and written; from there on, plain runs are
     * copied whole and the rest escaped as JSON.stringify does */
    w->d = d + i;
    {
        static const char hex[] = "0123456789abcdef";
        size_t run = i;
        for (size_t k = i; k < n; k++) {
            unsigned char c = u[k];
            if (!needs_escape[c])
                continue;
            size_t len = k - run;
            if (!wr_need(w, len + 6))
                return;
            memcpy(w->d, s + run, len);
            w->d += len;
            char *o = w->d;
            o[0] = '\\';
            switch (c) {
            case '"': o[1] = '"'; w->d += 2; break;
            case '\\': o[1] = '\\'; w->d += 2; break;
            case '\b': o[1] = 'b'; w->d += 2; break;
            case '\f': o[1] = 'f'; w->d += 2; break;
            case '\n': o[1] = 'n'; w->d += 2; break;
            case '\r': o[1] = 'r'; w->d += 2; break;
            case '\t': o[1] = 't'; w->d += 2; break;
            default:
                o[1] = 'u';
                o[2] = '0';
                o[3] = '0';
                o[4] = hex[c >> 4];
                o[5] = hex[c & 15];
                w->d += 6;
                break;
            }
            run = k + 1;
        }
        size_t len = n - run;
        if (!wr_need(w, len + 1))
            return;
        memcpy(w->d, s + run, len);
        w->d += len;
        *w->d++ = '"';
    }
}

/* A JSON scalar (or anything, through the general encoder). */
static inline void wr_json(writer *w, json_t *j)
{
    if (json_is_string(j)) {
        wr_string(w, gql__jstr(j), gql__jstrlen(j));
    } else if (json_is_integer(j)) {
        if (wr_need(w, 24))
            w->d += gql__fmt_i64(w->d, (int64_t)gql__jint(j));
    } else if (json_is_true(j) || json_is_false(j)) {
        if (wr_need(w, 5)) {
            memcpy(w->d, json_is_true(j) ? "true" : "false", json_is_true(j) ? 4 : 5);
            w->d += json_is_true(j) ? 4 : 5;
        }
    } else if (json_is_real(j)) {
        double d = gql__jreal(j);
        if (wr_need(w, 32))
            w->d += isfinite(d) ? gql__js_number(w->d, d) : (memcpy(w->d, "null", 4), 4);
    } else if (!j || json_is_null(j)) {
        if (wr_need(w, 4)) {
            memcpy(w->d, "null", 4);
            w->d += 4;
        }
    } else {
        wr_sync(w);
        gql__buf_json_value(w->b, j, 256);
        wr_resume(w);
    }
}

static inline void wr_leaf(writer *w, const slot *s)
{
    switch (s->kind) {
    case S_JSON:
        wr_json(w, s->u.j);
        break;
    case S_STR:
        wr_string(w, s->u.s, s->len);
        break;
    case S_JSONLIST: {
        json_t *a = s->u.j;
        size_t n = gql__jarray_size(a);
        if (!wr_need(w, 2))
            break;
        *w->d++ = '[';
        for (size_t k = 0; k < n; k++) {
            if (k && wr_need(w, 1))
                *w->d++ = ',';
            wr_json(w, gql__jarray_get(a, k));
        }
        if (wr_need(w, 1))
            *w->d++ = ']';
        break;
    }
    case S_INT:
        if (wr_need(w, 24))
            w->d += gql__fmt_i64(w->d, s->u.i);
        break;
    case S_FLOAT:
        if (wr_need(w, 32))
            w->d += isfinite(s->u.d) ? gql__js_number(w->d, s->u.d) : (memcpy(w->d, "null", 4), 4);
        break;
    case S_BOOL:
        if (wr_need(w, 5)) {
            memcpy(w->d, s->u.b ? "true" : "false", s->u.b ? 4 : 5);
            w->d += s->u.b ? 4 : 5;
        }
        break;
    default:
        if (wr_need(w, 4)) {
            memcpy(w->d, "null", 4);
            w->d += 4;
        }
        break;
    }
}

/* ---- completion (graphql-js completeValue) -------------------------------------------- */

static void enqueue(gql_exec *e, robj *o, xval parent, uint32_t from)
{
    if (e->qtail - e->qhead == e->qcap) {
        /* the capacity stays a power of two, so positions wrap with a mask */
        uint32_t cap = e->qcap ? e->qcap * 2 : 256;
        task *n = malloc(cap * sizeof *n);
        if (!n) {
            e->oom = 1;
            return;
        }
        for (uint32_t i = 0; i < e->qtail - e->qhead; i++)
            n[i] = e->q[(e->qhead + i) & (e->qcap - 1)];
        free(e->q);
        e->qtail -= e->qhead;
        e->qhead = 0;
        e->q = n;
        e->qcap = cap;
    }
    task *t = &e->q[e->qtail & (e->qcap - 1)];
    t->obj = o;
    t->parent = parent;
    t->from = from;
    e->qtail++;
}

/* The runtime object type of an abstract-typed value (graphql-js
 * completeAbstractValue + ensureValidRuntimeType). NULL with e->err on failure. */
static const gql_type *runtime_type(gql_exec *e, const gql_type *abstract, xval v, plan_field *pf, robj *parent_obj)
{
    const char *name = NULL;
    size_t len = 0;
    const gql_type *rt = NULL;
    if (e->o.resolve_type && v.kind == X_JSON) {
        gql_field_info info;
        memset(&info, 0, sizeof info);
        info.exec = e;
        info.parent_type = pf->parent_type;
        info.field = pf->def;
        info.response_key = pf->key;
        info.nodes = pf->nodes;
        info.nnodes = pf->nnodes;
        info.context = e->o.context;
        (void)parent_obj;
        gql_buf err;
        gql_buf_init(&err, 1 << 16);
        rt = e->o.resolve_type(e->o.resolve_type_ud, &info, v.j, abstract, &err);
        if (!rt) {
            if (err.len)
                set_err_buf(e, &err);
            else
                set_errf(e,
                         "Abstract type \"%s\" must resolve to an Object type at runtime for field \"%s.%s\". Either "
                         "the \"%s\" type should provide a \"resolveType\" function or each possible type should "
                         "provide an \"isTypeOf\" function.",
                         abstract->name, pf->parent_type->name, pf->def->name, abstract->name);
            gql_buf_free(&err);
            return NULL;
        }
        gql_buf_free(&err);
        name = rt->name;
        len = rt->name_len;
    } else {
        json_t *tn = v.kind == X_JSON && (json_is_object(v.j) || json_is_array(v.j))
                         ? (json_is_object(v.j) ? json_object_get(v.j, "__typename") : NULL)
                         : NULL;
        if (!json_is_string(tn)) {
            set_errf(e,
                     "Abstract type \"%s\" must resolve to an Object type at runtime for field \"%s.%s\". Either the "
                     "\"%s\" type should provide a \"resolveType\" function or each possible type should provide an "
                     "\"isTypeOf\" function.",
                     abstract->name, pf->parent_type->name, pf->def->name, abstract->name);
            return NULL;
        }
        name = json_string_value(tn);
        len = json_string_length(tn);
        rt = gql_schema_type(e->s, name, len);
    }
    if (!rt) {
        gql_buf m;
        gql_buf_init(&m, 0);
        gql_buf_printf(&m, "Abstract type \"%s\" was resolved to a type \"", abstract->name);
        gql_buf_append(&m, name, len);
        gql_buf_puts(&m, "\" that does not exist inside the schema.");
        set_err_buf(e, &m);
        gql_buf_free(&m);
        return NULL;
    }
    if (rt->kind != GQL_KIND_OBJECT) {
        set_errf(e, "Abstract type \"%s\" was resolved to a non-object type \"%s\".", abstract->name, rt->name);
        return NULL;
    }
    if (!gql_schema_is_sub_type(e->s, abstract, rt)) {
        set_errf(e, "Runtime Object type \"%s\" is not a possible type for \"%s\".", rt->name, abstract->name);
        return NULL;
    }
    return rt;
}

/* Serializes a built-in scalar whose JSON already has the right type; false sends
 * the value down the general path (conversions, errors). */
static inline bool fast_leaf(uint8_t code, json_t *v, slot *s)
{
    if (!v || json_is_null(v)) {
        if (code & L_NONNULL)
            return false;
        s->kind = S_NULL;
        return true;
    }
    switch (code & 7) {
    case L_STR:
    case L_ID:
        if (!json_is_string(v))
            return false;
        break;
    case L_INT:
        if (!json_is_integer(v) || gql__jint(v) > 2147483647 || gql__jint(v) < -2147483648LL)
            return false;
        break;
    case L_FLOAT:
        if (!json_is_integer(v) && !json_is_real(v))
            return false;
        break;
    case L_BOOL:
        if (!json_is_boolean(v))
            return false;
        break;
    default:
        return false;
    }
    s->kind = S_JSON;
    s->u.j = v;
    return true;
}

/* Completes `v` of `type` into slot `idx` of container `c`. Returns 0 when the slot
 * is filled, -1 with e->err set (the caller raises the field error), 1 when an error
 * inside already nulled this slot or an ancestor. */
static int render(gql_exec *e, rcont *c, uint32_t idx, const gql_type *type, json_t *v, plan_field *pf,
                  bool slot_nonnull);

static int complete(gql_exec *e, rcont *c, uint32_t idx, const gql_type *type, xval v, plan_field *pf, bool slot_nonnull)
{
    /* a synchronous subtree goes straight to JSON bytes (see render()) */
    if (e->render_ok && pf->composite && !pf->no_render && v.kind == X_JSON && v.j && !json_is_null(v.j)) {
        int r = render(e, c, idx, type, v.j, pf, slot_nonnull);
        if (r != 2) /* RENDER_ABORT */
            return r;
    }
    slot *s = slot_at(c, idx);
    if (type->kind == GQL_KIND_NON_NULL) {
        int r = complete(e, c, idx, type->of, v, pf, true);
        if (r != 0)
            return r;
        if (s->kind == S_NULL) {
            set_errf(e, "Cannot return null for non-nullable field %s.%s.", pf->parent_type->name, pf->def->name);
            return -1;
        }
        return 0;
    }
    if (xnull(v)) {
        s->kind = S_NULL;
        return 0;
    }
    switch (type->kind) {
    case GQL_KIND_LIST: {
        const gql_type *item = type->of;
        uint32_t n;
        if (v.kind == X_JSON && json_is_array(v.j))
            n = (uint32_t)json_array_size(v.j);
        else if (v.kind == X_LIST)
            n = ((const nlist *)v.p)->n;
        else {
            set_errf(e, "Expected Iterable, but did not find one for field \"%s.%s\".", pf->parent_type->name,
                     pf->def->name);
            return -1;
        }
        rlist *l = ealloc(e, sizeof *l + (size_t)n * sizeof(slot));
        if (!l)
            return 0;
        l->h.is_list = 1;
        l->h.dead = 0;
        l->h.nonnull = slot_nonnull;
        l->h.index = idx;
        l->h.parent = c;
        l->pf = pf;
        l->n = n;
        memset(l->items, 0, (size_t)n * sizeof(slot));
        s->kind = S_LIST;
        s->u.l = l;
        bool item_nonnull = item->kind == GQL_KIND_NON_NULL;
        uint8_t il = pf->item_leaf;
        for (uint32_t i = 0; i < n; i++) {
            xval iv;
            if (il && v.kind == X_JSON && type == gql_nullable_type(pf->def->type) &&
                fast_leaf(il, json_array_get(v.j, i), &l->items[i]))
                continue;
            if (v.kind == X_JSON) {
                iv = xjson(json_array_get(v.j, i));
            } else {
                const nlist *nl = v.p;
                iv = nl->kind == X_STR ? xstr(nl->items[i]) : xnative(nl->kind, nl->items[i]);
            }
            int r = complete(e, &l->h, i, item, iv, pf, false);
            if (r < 0)
                raise_field_error(e, &l->h, i, pf, item_nonnull);
            if (l->h.dead)
                return 1; /* an item error nulled the list (and maybe more) */
            if (!e->complete_dead && e->any_dead && is_dead(c))
                return 1; /* an ancestor is gone: the rest would be discarded */
        }
        return 0;
    }
    case GQL_KIND_SCALAR:
    case GQL_KIND_ENUM:
        return serialize_leaf(e, type, v, s);
    default: {
        const gql_type *rt = type;
        if (type->kind != GQL_KIND_OBJECT) {
            rt = runtime_type(e, type, v, pf, NULL);
            if (!rt)
                return -1;
        }
        plan *p = sub_plan(e, pf, rt);
        if (!p)
            return 0;
        if (p->err) {
            set_err(e, p->err, strlen(p->err));
            e->err.loc_mode = 1;
            e->err.loc = p->err_loc;
            return -1;
        }
        robj *o = ealloc(e, sizeof *o + (size_t)p->n * sizeof(slot));
        if (!o)
            return 0;
        o->h.is_list = 0;
        o->h.dead = 0;
        o->h.nonnull = slot_nonnull;
        o->h.index = idx;
        o->h.parent = c;
        o->plan = p;
        memset(o->slots, 0, (size_t)p->n * sizeof(slot));
        s->kind = S_OBJ;
        s->u.o = o;
        enqueue(e, o, v, 0);
        return 0;
    }
    }
}

/* ---- resolving fields ----------------------------------------------------------------- */

gql_resolve_status gql_default_resolver(void *ud, const gql_field_info *info, gql_resolution *out)
{
    (void)ud;
    json_t *p = info->parent;
    json_t *v = json_is_object(p) ? json_object_getn(p, info->field->name, info->field->name_len) : NULL;
    out->value = v ? json_incref(v) : NULL;
    return GQL_RESOLVED;
}

gql_ticket *gql_field_defer(const gql_field_info *info)
{
    call_ctx *cc = info->_slot;
    if (!cc)
        return NULL;
    if (cc->ticket)
        return cc->ticket;
    gql_exec *e = cc->e;
    gql_ticket *t = ealloc(e, sizeof *t);
    if (!t)
        return NULL;
    memset(t, 0, sizeof *t);
    t->info = *info;
    t->info._slot = NULL;
    t->e = e;
    t->obj = cc->obj;
    t->idx = cc->idx;
    t->pf = cc->pf;
    cc->ticket = t;
    return t;
}

const gql_field_info *gql_ticket_info(const gql_ticket *t)
{
    return &t->info;
}

static void ticket_done(gql_ticket *t)
{
    gql_exec *e = t->e;
    t->next_done = NULL;
    if (e->done_tail)
        e->done_tail->next_done = t;
    else
        e->done_head = t;
    e->done_tail = t;
}

void gql_ticket_resolve(gql_ticket *t, json_t *value)
{
    if (!t || t->state) {
        if (value)
            json_decref(value);
        return;
    }
    t->state = 1;
    t->value = value;
    keep(t->e, value);
    ticket_done(t);
}

void gql_ticket_fail(gql_ticket *t, const char *message, json_t *extensions)
{
    if (!t || t->state) {
        if (extensions)
            json_decref(extensions);
        return;
    }
    t->state = 2;
    t->error = gql_arena_strndup(&t->e->A, message ? message : "", message ? strlen(message) : 0);
    t->ext = extensions;
    ticket_done(t);
}

static plan *sub_plan(gql_exec *e, plan_field *pf, const gql_type *type);

/* Fast completion of a list of built-in scalars whose items all have the right JSON
 * type; false (nothing changed in the slot) otherwise. */
static bool fast_leaf_list(gql_exec *e, robj *obj, uint32_t i, plan_field *pf, json_t *v)
{
    (void)e;
    size_t n = gql__jarray_size(v);
    slot tmp;
    for (size_t k = 0; k < n; k++)
        if (!fast_leaf(pf->item_leaf, gql__jarray_get(v, k), &tmp))
            return false;
    obj->slots[i].kind = S_JSONLIST;
    obj->slots[i].u.j = v;
    return true;
}

static json_t *field_args(gql_exec *e, plan_field *pf);

/* A plain field whose value is already known (prefetched property). Arguments do
 * not change the value, but they are still coerced (once per plan field), as an
 * argument error fails the field. */
static inline void resolve_value(gql_exec *e, robj *obj, uint32_t i, json_t *v)
{
    plan_field *pf = (plan_field *)&obj->plan->f[i];
    slot *s = &obj->slots[i];
    if (pf->meta == M_TYPENAME) {
        s->kind = S_STR;
        s->u.s = obj->plan->type->name;
        s->len = obj->plan->type->name_len;
        return;
    }
    if (!pf->simple && !field_args(e, pf) && pf->args_err) {
        raise_field_error(e, &obj->h, i, pf, pf->def->type->kind == GQL_KIND_NON_NULL);
        return;
    }
    if (pf->leaf && fast_leaf(pf->leaf, v, s))
        return;
    if (pf->item_leaf && json_is_array(v) && fast_leaf_list(e, obj, i, pf, v))
        return;
    const gql_type *type = pf->def->type;
    int r = complete(e, &obj->h, i, type, xjson(v), pf, false);
    if (r < 0)
        raise_field_error(e, &obj->h, i, pf, type->kind == GQL_KIND_NON_NULL);
}

/* Equality of short byte strings with fixed-size (possibly overlapping) loads that
 * stay inside both strings: names are short and this is the inner loop of property
 * lookup. */
static inline bool same_bytes(const char *a, const char *b, size_t n)
{
    if (n >= 8) {
        if (n > 16)
            return memcmp(a, b, n) == 0;
        uint64_t x0, y0, x1, y1;
        memcpy(&x0, a, 8);
        memcpy(&y0, b, 8);
        memcpy(&x1, a + n - 8, 8);
        memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 4) {
        uint32_t x0, y0, x1, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    for (size_t i = 0; i < n; i++)
        if (a[i] != b[i])
            return false;
    return true;
}

/* The keys of a JSON object in iteration order, each with the plan field that
 * reads it (-1: none), as prefetch() last saw them for a plan. Objects of one kind
 * (the items of a list, the same field of sibling objects) nearly always list
 * their keys in the same order, so the next object's key at the same position is
 * checked by comparing bytes instead of hashing it. The keys are copies. */
#define SHAPE_MAX (2 * PREFETCH_MAX_FIELDS + 8) /* the largest object prefetch() reads */
typedef struct shape {
    uint32_t n;
    struct {
        const char *key;
        uint32_t len;
        int32_t field;
    } k[SHAPE_MAX];
} shape;

/* The plan field reading property `key`, or -1 (the plan's name table). */
static inline int32_t name_lookup(const plan *p, const char *key, size_t kl)
{
    const int8_t *names = p->names;
    for (uint32_t h = name_hash(key, kl);; h = (h + 1) & (PREFETCH_SLOTS - 1)) {
        int32_t k = names[h];
        if (k < 0)
            return -1;
        const plan_field *f = &p->f[k];
        if (f->name_len == kl && same_bytes(f->name, key, kl))
            return k;
    }
}

/* Reads the properties of a JSON object for a plan of plain fields in one pass over
 * its keys (cheaper than one hash lookup in the object per field: jansson hashes
 * and compares, and takes a call per step): each key is matched against the key at
 * the same position in the plan's last object (struct shape), else found in the
 * plan's name table; a shape that did not match is learnt again. */
static void prefetch(gql_exec *e, plan *p, json_t *obj, json_t **vals)
{
    uint32_t n = p->n;
    for (uint32_t k = 0; k < n; k++)
        vals[k] = NULL;
    shape *sh = p->shape;
    uint32_t shn = sh ? sh->n : 0;
    bool learn = !sh;
    uint32_t pos = 0;
    if (gql__json_direct) {
        /* the same walk over jansson's member list directly (see gql_json.h) */
        struct gql__jobject *x = (struct gql__jobject *)obj;
        const struct gql__jlist *end = &x->ordered_list;
        for (const struct gql__jlist *it = end->next; it != end; it = it->next, pos++) {
            const struct gql__jpair *pr = gql__jpair_of((void *)it);
            size_t kl = pr->key_len;
            int32_t k;
            if (pos < shn && sh->k[pos].len == kl && same_bytes(sh->k[pos].key, pr->key, kl)) {
                k = sh->k[pos].field;
            } else {
                k = name_lookup(p, pr->key, kl);
                learn = true;
            }
            if (k < 0)
                continue;
            json_t *v = pr->value;
            vals[k] = v;
            for (int32_t j = p->f[k].same_name; j >= 0; j = p->f[j].same_name)
                vals[j] = v;
        }
    } else {
        for (void *it = gql__jiter(obj); it; it = gql__jiter_next(obj, it), pos++) {
            const char *key = gql__jiter_key(it);
            size_t kl = gql__jiter_key_len(it);
            int32_t k;
            if (pos < shn && sh->k[pos].len == kl && same_bytes(sh->k[pos].key, key, kl)) {
                k = sh->k[pos].field;
            } else {
                k = name_lookup(p, key, kl);
                learn = true;
            }
            if (k < 0)
                continue;
            json_t *v = gql__jiter_value(it);
            for (int32_t j = k; j >= 0; j = p->f[j].same_name)
                vals[j] = v;
        }
    }
    if (!learn && pos == shn)
        return;
    /* learn this object's order */
    if (!sh) {
        sh = ealloc(e, sizeof *sh);
        if (!sh)
            return;
        p->shape = sh;
    }
    sh->n = 0;
    pos = 0;
    for (void *it = gql__jiter(obj); it && pos < SHAPE_MAX; it = gql__jiter_next(obj, it), pos++) {
        const char *key = gql__jiter_key(it);
        size_t kl = gql__jiter_key_len(it);
        char *copy = kl < UINT32_MAX ? gql_arena_strndup(&e->A, key, kl) : NULL;
        if (!copy)
            return;
        sh->k[pos].key = copy;
        sh->k[pos].len = (uint32_t)kl;
        sh->k[pos].field = name_lookup(p, key, kl);
        sh->n = pos + 1;
    }
}

/* ---- rendering synchronous subtrees ------------------------------------------------------ */

/*
 * When every field resolves by property lookup (the default resolver: nothing can be
 * pending, no resolver is called), the value of a field is written straight to JSON
 * bytes in e->rbuf, depth first, the way graphql-js's synchronous completeValue
 * builds it, and the field's slot in the tree just points at the bytes (S_RAW): no
 * result tree below, no tasks, no second walk to write it. The walk uses its own
 * stack (e->rf), so no recursion depends on the document.
 *
 * Null propagation happens on the bytes: a container that a non-null error nulls is
 * cut back to where it started and written as `null`, and the walk goes on with its
 * parent, skipping its remaining fields as graphql-js does; when the null reaches the
 * field's own slot and that is non-null too, it continues in the tree (null_out()).
 * Errors get the paths and depth-first positions they would get in the tree.
 *
 * If the walk meets an object whose fields need more than a property lookup
 * (introspection's __schema/__type on a nested Query object), it undoes what it
 * wrote and recorded, marks the field so that it is not tried again, and the value
 * goes through the tree.
 */

enum { RENDER_DONE = 0, RENDER_NULLED = 1, RENDER_FAILED = -1, RENDER_ABORT = 2 };

typedef struct rframe {
    const plan *p;        /* object: its plan; list: NULL */
    plan_field *pf;       /* list: the field it is the value of */
    const gql_type *item; /* list: the item type */
    json_t *j;            /* the JSON object or array */
    uint32_t i;           /* next member or item (i - 1: the slot being completed) */
    uint32_t n;           /* members or items */
    uint32_t vals;        /* object: its values in e->rvals */
    uint8_t nonnull;      /* the slot holding it is non-null */
    uint8_t any;          /* object: a member has been written */
    uint8_t leaf;         /* list: L_* of the item type */
    size_t start;         /* offset of its '{' or '[' in e->rbuf */
} rframe;

typedef struct rstate {
    gql_exec *e;
    writer w;
    rcont *c0;     /* the tree slot being rendered; NULL: `data` itself */
    uint32_t idx0;
    uint32_t nf;   /* frames in use */
    uint32_t nvals;
} rstate;

static bool grow_frames(gql_exec *e)
{
    uint32_t cap = e->caprf ? e->caprf * 2 : 32;
    rframe *n = realloc(e->rf, cap * sizeof *n);
    if (!n) {
        e->oom = 1;
        return false;
    }
    e->rf = n;
    e->caprf = cap;
    return true;
}

static bool grow_vals(gql_exec *e, uint32_t need)
{
    uint32_t cap = e->caprvals ? e->caprvals : 64;
    while (cap < need)
        cap *= 2;
    json_t **n = realloc(e->rvals, cap * sizeof *n);
    if (!n) {
        e->oom = 1;
        return false;
    }
    e->rvals = n;
    e->caprvals = cap;
    return true;
}

/* Records e->err as the error of the slot being completed in the top frame and
 * nulls what it nulls. Returns true when the null went past the rendered value into
 * the tree (the walk is over). */
static bool render_raise(rstate *r, const plan_field *pf, bool nonnull)
{
    gql_exec *e = r->e;
    rframe *rf = e->rf;
    uint32_t nf = r->nf;
    uint32_t l0 = r->c0 ? depth_of(r->c0) : 0;
    e->nerrors_total++;
    /* where the null lands: the slot itself, the nearest container held by a
     * nullable slot, or the tree */
    int64_t land = nf; /* frame whose slot becomes null; -1: the tree */
    if (nonnull) {
        int64_t j = (int64_t)nf - 1;
        while (j >= 0 && rf[j].nonnull)
            j--;
        land = j; /* frame j itself becomes null, i.e. its holder's slot */
    }
    int32_t nulls_at;
    uint32_t max = e->o.max_errors ? e->o.max_errors : 10000;
    gql_error *err = NULL;
    if (e->errs.count < max) {
        err = gql_errors_addn(&e->errs, e->err.msg ? e->err.msg : "", e->err.len);
        if (!err)
            e->oom = 1;
    }
    if (err) {
        if (e->err.loc_mode == 1) {
            gql_error_add_location(&e->errs, err, &e->doc->source, e->err.loc);
        } else {
            for (uint32_t i = 0; i < pf->nnodes; i++)
                gql_error_add_location(&e->errs, err, &e->doc->source, pf->sels[i]->loc);
        }
        /* path and position: the tree's, then one step per frame */
        uint32_t n = l0 + nf;
        gql_path_segment *path = gql_arena_alloc(&e->errs.arena, n * sizeof *path);
        uint32_t *pos = ealloc(e, n * sizeof *pos);
        uint32_t *tpos = NULL;
        uint32_t tn = r->c0 ? position(e, r->c0, r->idx0, &tpos) : 0;
        if (path && pos && (tpos || !l0) && tn == l0) {
            if (l0) {
                make_path(e, &e->errs, err, r->c0, r->idx0);
                if (err->path)
                    memcpy(path, err->path, l0 * sizeof *path);
                memcpy(pos, tpos, l0 * sizeof *pos);
            }
            for (uint32_t k = 0; k < nf; k++) {
                uint32_t i = rf[k].i - 1;
                pos[l0 + k] = i;
                if (rf[k].p) {
                    gql_str key = rf[k].p->f[i].key;
                    path[l0 + k].key = gql_arena_strndup(&e->errs.arena, key.s, key.len);
                    path[l0 + k].key_len = key.len;
                    path[l0 + k].index = 0;
                } else {
                    path[l0 + k].key = NULL;
                    path[l0 + k].key_len = 0;
                    path[l0 + k].index = i;
                }
            }
            err->path = path;
            err->npath = n;
            err->has_path = true;
            err->_pos = pos;
            err->_npos = n;
        } else {
            e->oom = 1;
        }
        err->extensions = e->err.ext;
        e->err.ext = NULL;
    } else if (e->err.ext) {
        json_decref(e->err.ext);
        e->err.ext = NULL;
    }
    bool to_tree = false;
    if (land < 0) {
        if (r->c0) {
            nulls_at = (int32_t)null_out(e, r->c0, r->idx0, true);
        } else {
            /* `data` itself is null */
            e->data->h.dead = 1;
            e->any_dead = true;
            e->data_null = true;
            nulls_at = 0;
        }
        r->nf = 0;
        to_tree = true;
    } else {
        nulls_at = (int32_t)(l0 + (uint32_t)land);
        if ((uint32_t)land < nf) {
            /* cut the nulled container back and pop it with everything above */
            wr_sync(&r->w);
            r->w.b->len = rf[land].start;
            wr_resume(&r->w);
            r->nvals = rf[land].vals;
            r->nf = (uint32_t)land;
        }
        if (wr_need(&r->w, 4)) {
            memcpy(r->w.d, "null", 4);
            r->w.d += 4;
        }
    }
    if (err)
        err->_nulls_at = nulls_at;
    return to_tree;
}

static int render_push_object(rstate *r, const plan *p, json_t *v, bool nonnull);

/* Opens the JSON object `v` as a value of composite type `t` of field pf: pushes
 * its frame. Returns 0, -1 with e->err set (an error of the slot), or 2 to abort. */
static int render_open_object(rstate *r, const gql_type *t, json_t *v, plan_field *pf, bool nonnull)
{
    gql_exec *e = r->e;
    const gql_type *rt = t;
    if (t->kind != GQL_KIND_OBJECT) {
        rt = runtime_type(e, t, xjson(v), pf, NULL);
        if (!rt)
            return -1;
    }
    plan *p = sub_plan(e, pf, rt);
    if (!p)
        return RENDER_ABORT;
    if (p->err) {
        set_err(e, p->err, strlen(p->err));
        e->err.loc_mode = 1;
        e->err.loc = p->err_loc;
        return -1;
    }
    if (!p->all_plain)
        return RENDER_ABORT;
    return render_push_object(r, p, v, nonnull);
}

/* Pushes the frame of JSON value `v` (any kind; fields of a non-object are null)
 * with plan p, reading its fields' values, and writes its '{'. */
static int render_push_object(rstate *r, const plan *p, json_t *v, bool nonnull)
{
    gql_exec *e = r->e;
    if (r->nf == e->caprf && !grow_frames(e))
        return RENDER_ABORT;
    if (r->nvals + p->n > e->caprvals && !grow_vals(e, r->nvals + p->n))
        return RENDER_ABORT;
    rframe *f = &e->rf[r->nf++];
    f->p = p;
    f->j = v;
    f->i = 0;
    f->n = p->n;
    f->vals = r->nvals;
    f->nonnull = nonnull;
    f->any = 0;
    wr_sync(&r->w);
    f->start = r->w.b->len;
    json_t **vals = e->rvals + r->nvals;
    r->nvals += p->n;
    if (p->names && json_is_object(v) && gql__jobject_size(v) <= 2 * (size_t)p->n + 8) {
        prefetch(e, (plan *)p, v, vals);
    } else {
        bool obj = json_is_object(v);
        for (uint32_t k = 0; k < p->n; k++)
            vals[k] = obj && p->f[k].meta == M_NONE ? json_object_getn(v, p->f[k].name, p->f[k].name_len) : NULL;
    }
    if (wr_need(&r->w, 1))
        *r->w.d++ = '{';
    return 0;
}

static int render_open_list(rstate *r, const gql_type *t, json_t *v, plan_field *pf, bool nonnull)
{
    gql_exec *e = r->e;
    if (r->nf == e->caprf && !grow_frames(e))
        return RENDER_ABORT;
    rframe *f = &e->rf[r->nf++];
    f->p = NULL;
    f->pf = pf;
    f->item = t->of;
    f->j = v;
    f->i = 0;
    f->n = (uint32_t)gql__jarray_size(v);
    f->vals = r->nvals;
    f->nonnull = nonnull;
    f->leaf = t == gql_nullable_type(pf->def->type) ? pf->item_leaf : leaf_code(e->s, t->of);
    wr_sync(&r->w);
    f->start = r->w.b->len;
    if (wr_need(&r->w, 1))
        *r->w.d++ = '[';
    return 0;
}

/* Writes a built-in scalar whose JSON has the right type already; false sends it
 * down the general path. */
static inline bool render_fast_leaf(writer *w, uint8_t code, json_t *v)
{
    switch (code & 7) {
    case L_STR:
    case L_ID:
        if (!json_is_string(v))
            return false;
        wr_string(w, gql__jstr(v), gql__jstrlen(v));
        return true;
    case L_INT: {
        if (!json_is_integer(v))
            return false;
        json_int_t i = gql__jint(v);
        if (i > 2147483647 || i < -2147483648LL)
            return false;
        if (wr_need(w, 24))
            w->d += gql__fmt_i64(w->d, (int64_t)i);
        return true;
    }
    case L_FLOAT:
        if (!json_is_integer(v) && !json_is_real(v))
            return false;
        wr_json(w, v);
        return true;
    case L_BOOL:
        if (!json_is_boolean(v))
            return false;
        if (wr_need(w, 5)) {
            bool t = json_is_true(v);
            memcpy(w->d, t ? "true" : "false", 5);
            w->d += t ? 4 : 5;
        }
        return true;
    default:
        return false;
    }
}

/* Writes value `v` of `type` (field pf, leaf code `leaf`) for the slot being
 * completed: a leaf at once, a list or object by opening its frame. Returns 0, -1
 * with e->err set (an error of this slot), or 2 to abort the rendering. */
static inline int render_value(rstate *r, const gql_type *type, json_t *v, plan_field *pf, uint8_t leaf)
{
    gql_exec *e = r->e;
    bool nonnull = type->kind == GQL_KIND_NON_NULL;
    const gql_type *t = nonnull ? type->of : type;
    if (!v || json_is_null(v)) {
        if (nonnull) {
            set_errf(e, "Cannot return null for non-nullable field %s.%s.", pf->parent_type->name, pf->def->name);
            return -1;
        }
        if (wr_need(&r->w, 4)) {
            memcpy(r->w.d, "null", 4);
            r->w.d += 4;
        }
        return 0;
    }
    if (leaf && render_fast_leaf(&r->w, leaf, v))
        return 0;
    switch (t->kind) {
    case GQL_KIND_LIST:
        if (!json_is_array(v)) {
            set_errf(e, "Expected Iterable, but did not find one for field \"%s.%s\".", pf->parent_type->name,
                     pf->def->name);
            return -1;
        }
        return render_open_list(r, t, v, pf, nonnull);
    case GQL_KIND_SCALAR:
    case GQL_KIND_ENUM: {
        slot s;
        if (serialize_leaf(e, t, xjson(v), &s) < 0)
            return -1;
        wr_leaf(&r->w, &s);
        return 0;
    }
    default:
        return render_open_object(r, t, v, pf, nonnull);
    }
}

/* Renders the non-null JSON value `v` of field pf (of `type`) for slot `idx` of
 * container `c` (see above). Returns RENDER_DONE (the slot is set), RENDER_FAILED
 * with e->err set (an error of the slot itself, for the caller to raise, as from
 * complete()), RENDER_NULLED (an error inside nulled the slot or an ancestor) or
 * RENDER_ABORT (nothing was changed: use the tree). */
static int render(gql_exec *e, rcont *c, uint32_t idx, const gql_type *type, json_t *v, plan_field *pf,
                  bool slot_nonnull)
{
    if ((!e->rvals && !grow_vals(e, 64)) || (!e->rbuf.data && gql_buf_reserve(&e->rbuf, 4096)))
        return RENDER_ABORT;
    /* c == NULL: `data` (from render_data()) */
    rstate r;
    r.e = e;
    r.c0 = c;
    r.idx0 = idx;
    r.nf = 0;
    r.nvals = 0;
    r.w.b = &e->rbuf;
    r.w.failed = false;
    wr_resume(&r.w);
    size_t start = e->rbuf.len;
    gql_error *tail0 = e->errs.tail;
    uint32_t count0 = e->errs.count, total0 = e->nerrors_total;
    bool nonnull = slot_nonnull || type->kind == GQL_KIND_NON_NULL;
    const gql_type *t = gql_nullable_type(type);
    int rc;
    if (!c) {
        rc = render_push_object(&r, e->data->plan, v, false);
    } else if (t->kind != GQL_KIND_LIST) {
        rc = render_open_object(&r, t, v, pf, nonnull);
    } else if (json_is_array(v)) {
        rc = render_open_list(&r, t, v, pf, nonnull);
    } else {
        set_errf(e, "Expected Iterable, but did not find one for field \"%s.%s\".", pf->parent_type->name,
                 pf->def->name);
        rc = -1;
    }
    if (rc)
        goto stop;
    while (r.nf) {
        rframe *f = &e->rf[r.nf - 1];
        plan_field *fp;
        json_t *fv;
        const gql_type *ft;
        uint8_t leaf;
        if (f->p) {
            /* the fields of an object, leaves written here without leaving the loop */
            const plan *p = f->p;
            json_t **vals = e->rvals + f->vals;
            uint32_t k = f->i, n = f->n;
            size_t skip = !f->any;
            for (;;) {
                if (k == n) {
                    f->i = k;
                    if (wr_need(&r.w, 1))
                        *r.w.d++ = '}';
                    r.nvals = f->vals;
                    r.nf--;
                    goto next;
                }
                fp = (plan_field *)&p->f[k];
                fv = vals[k];
                k++;
                /* `,"key":` with a fixed-size move (the comma skipped for the first) */
                if (!wr_need(&r.w, fp->qkey_len + 16))
                    goto full;
                if (fp->qkey_len <= 16)
                    memcpy(r.w.d, fp->qkey + skip, 16);
                else
                    memcpy(r.w.d, fp->qkey + skip, fp->qkey_len - skip);
                r.w.d += fp->qkey_len - skip;
                skip = 0;
                if (fp->meta == M_TYPENAME) {
                    const gql_type *pt = p->type;
                    if (wr_need(&r.w, pt->name_len + 2)) {
                        *r.w.d++ = '"';
                        memcpy(r.w.d, pt->name, pt->name_len);
                        r.w.d += pt->name_len;
                        *r.w.d++ = '"';
                    }
                    continue;
                }
                if (!fp->var_args && fv && fp->leaf && render_fast_leaf(&r.w, fp->leaf, fv))
                    continue;
                break;
            }
            f->i = k;
            f->any = 1;
            /* the property lookup does not use arguments, and literal ones passed
             * validation (ValuesOfCorrectType), so they cannot fail: only arguments
             * with variables are coerced, for the errors graphql-js would raise */
            if (fp->var_args && !field_args(e, fp) && fp->args_err) {
                if (render_raise(&r, fp, fp->def->type->kind == GQL_KIND_NON_NULL))
                    goto nulled;
                continue;
            }
            ft = fp->def->type;
            leaf = fp->leaf;
        } else {
            /* the items of a list: built-in scalars here, the rest below */
            uint32_t k = f->i, n = f->n;
            json_t *arr = f->j;
            for (;;) {
                if (k == n) {
                    f->i = k;
                    if (wr_need(&r.w, 1))
                        *r.w.d++ = ']';
                    r.nf--;
                    goto next;
                }
                fv = gql__jarray_get(arr, k);
                if (k && wr_need(&r.w, 1))
                    *r.w.d++ = ',';
                k++;
                if (f->leaf && fv && render_fast_leaf(&r.w, f->leaf, fv))
                    continue;
                break;
            }
            f->i = k;
            fp = f->pf;
            ft = f->item;
            leaf = f->leaf;
        }
        rc = render_value(&r, ft, fv, fp, leaf);
        if (rc == 0)
            continue;
        if (rc == RENDER_ABORT)
            goto stop;
        if (render_raise(&r, fp, ft->kind == GQL_KIND_NON_NULL))
            goto nulled;
    next:;
    }
full:
    wr_sync(&r.w);
    if (r.w.failed)
        e->render_overflow = true;
    if (c) {
        slot *s = slot_at(c, idx);
        s->kind = S_RAW;
        s->u.i = (int64_t)start;
        s->len = (uint32_t)(e->rbuf.len - start);
    }
    return RENDER_DONE;
nulled:
    wr_sync(&r.w);
    e->rbuf.len = start;
    return RENDER_NULLED;
stop:
    /* an error of the slot itself (-1), or abort: undo everything */
    wr_sync(&r.w);
    e->rbuf.len = start;
    if (rc == -1)
        return RENDER_FAILED;
    for (gql_error *x = tail0 ? tail0->next : e->errs.head; x; x = x->next)
        if (x->extensions) {
            json_decref(x->extensions);
            x->extensions = NULL;
        }
    if (tail0)
        tail0->next = NULL;
    else
        e->errs.head = NULL;
    e->errs.tail = tail0;
    e->errs.count = count0;
    e->nerrors_total = total0;
    if (pf)
        pf->no_render = 1;
    return RENDER_ABORT;
}

/* JSON bytes of the response that come before `data`'s value when there are no
 * errors; rbuf keeps room for them in front of a rendered `data`, so that the
 * response can be handed over without a copy. */
#define RAW_PREFIX "{\"data\":"
#define RAW_RESERVE (sizeof RAW_PREFIX - 1)

/* Renders the whole of `data` (a query whose every field resolves by property
 * lookup). Returns RENDER_DONE, or RENDER_ABORT (nothing changed: run the tree). */
static int render_data(gql_exec *e)
{
    if (!e->rbuf.data && gql_buf_reserve(&e->rbuf, 4096))
        return RENDER_ABORT;
    e->rbuf.len = RAW_RESERVE;
    int rc = render(e, NULL, 0, e->data->plan->type, e->root.j, NULL, false);
    if (rc == RENDER_ABORT) {
        e->rbuf.len = 0;
        return rc;
    }
    e->data_raw = true;
    return RENDER_DONE;
}

static void resolve_field(gql_exec *e, robj *obj, uint32_t i, xval parent)
{
    plan_field *pf = (plan_field *)&obj->plan->f[i];
    slot *s = &obj->slots[i];
    if (pf->plain && !e->o.resolve && parent.kind == X_JSON) {
        json_t *p = parent.j;
        resolve_value(e, obj, i, json_is_object(p) ? json_object_getn(p, pf->def->name, pf->def->name_len) : NULL);
        return;
    }
    if (!pf->def) {
        s->kind = S_UNSET; /* graphql-js leaves unknown fields out of the result */
        return;
    }
    const gql_type *type = pf->def->type;
    bool nonnull = type->kind == GQL_KIND_NON_NULL;
    xval v;
    switch (pf->meta) {
    case M_TYPENAME:
        s->kind = S_STR;
        s->u.s = obj->plan->type->name;
        s->len = obj->plan->type->name_len;
        return;
    case M_SCHEMA:
        v = xnative(X_SCHEMA, e->s);
        break;
    case M_TYPE: {
        json_t *args = field_args(e, pf);
        if (!args) {
            raise_field_error(e, &obj->h, i, pf, nonnull);
            return;
        }
        json_t *n = json_object_get(args, "name");
        const gql_type *t = json_is_string(n) ? gql_schema_type(e->s, json_string_value(n), json_string_length(n)) : NULL;
        v = xnative(X_TYPE, t);
        break;
    }
    default: {
        /* most fields take no arguments: no call for them */
        json_t *args = pf->def->nargs || pf->nodes[0]->nargs ? field_args(e, pf) : NULL;
        if (!args && pf->args_err) {
            raise_field_error(e, &obj->h, i, pf, nonnull);
            return;
        }
        if (parent.kind != X_JSON) {
            v = introspect(e, parent, pf, args);
            break;
        }
        if (!e->o.resolve || pf->parent_type->builtin) {
            json_t *p = parent.j;
            v = xjson(json_is_object(p) ? json_object_getn(p, pf->def->name, pf->def->name_len) : NULL);
            break;
        }
        gql_field_info info;
        info.exec = e;
        info.parent_type = pf->parent_type;
        info.field = pf->def;
        info.response_key = pf->key;
        info.parent = parent.j;
        if (!args && !e->empty_args) {
            e->empty_args = json_object();
            keep(e, e->empty_args);
        }
        info.args = args ? args : e->empty_args;
        info.nodes = pf->nodes;
        info.nnodes = pf->nnodes;
        info.context = e->o.context;
        call_ctx cc = {e, obj, i, pf, NULL};
        info._slot = &cc;
        gql_resolution out = {NULL, NULL, NULL};
        gql_resolve_status st = e->o.resolve(e->o.resolve_ud, &info, &out);
        if (st == GQL_PENDING) {
            if (cc.ticket) {
                e->pending++;
                if (out.value)
                    json_decref(out.value);
                if (out.extensions)
                    json_decref(out.extensions);
                return;
            }
            set_errf(e, "The resolver of %s.%s returned pending without deferring the field.", pf->parent_type->name,
                     pf->def->name);
            raise_field_error(e, &obj->h, i, pf, nonnull);
            return;
        }
        if (cc.ticket)
            cc.ticket->state = 3; /* deferred, then answered at once: the ticket is void */
        if (out.error) {
            if (out.value)
                json_decref(out.value);
            set_err(e, out.error, strlen(out.error));
            e->err.ext = out.extensions;
            raise_field_error(e, &obj->h, i, pf, nonnull);
            return;
        }
        if (out.extensions)
            json_decref(out.extensions);
        keep(e, out.value);
        v = xjson(out.value);
        break;
    }
    }
    int r = complete(e, &obj->h, i, type, v, pf, false);
    if (r < 0)
        raise_field_error(e, &obj->h, i, pf, nonnull);
}

static void run_ticket(gql_exec *e, gql_ticket *t)
{
    e->pending--;
    if (!e->complete_dead && e->any_dead && is_dead(&t->obj->h))
        return;
    plan_field *pf = (plan_field *)t->pf;
    const gql_type *type = pf->def->type;
    bool nonnull = type->kind == GQL_KIND_NON_NULL;
    if (t->state == 2) {
        set_err(e, t->error, strlen(t->error));
        e->err.ext = t->ext;
        t->ext = NULL;
        raise_field_error(e, &t->obj->h, t->idx, pf, nonnull);
        return;
    }
    int r = complete(e, &t->obj->h, t->idx, type, xjson(t->value), pf, false);
    if (r < 0)
        raise_field_error(e, &t->obj->h, t->idx, pf, nonnull);
}

/* ---- the run loop ---------------------------------------------------------------------- */

static int cmp_pos(const gql_error *a, const gql_error *b)
{
    uint32_t n = a->_npos < b->_npos ? a->_npos : b->_npos;
    for (uint32_t i = 0; i < n; i++)
        if (a->_pos[i] != b->_pos[i])
            return a->_pos[i] < b->_pos[i] ? -1 : 1;
    return a->_npos < b->_npos ? -1 : a->_npos > b->_npos;
}

/* Orders errors as a synchronous depth-first execution would have produced them,
 * dropping those a synchronous execution would never have reached. */
static void finish_errors(gql_exec *e)
{
    uint32_t n = e->errs.count;
    if (n < 2 && !e->any_dead)
        return;
    gql_error **v = malloc((n + 1) * sizeof *v);
    if (!v)
        return;
    uint32_t k = 0;
    for (gql_error *x = e->errs.head; x; x = x->next)
        v[k++] = x;
    /* stable insertion/merge: errors are mostly in order already */
    for (uint32_t i = 1; i < n; i++) {
        gql_error *x = v[i];
        uint32_t j = i;
        while (j > 0 && cmp_pos(v[j - 1], x) > 0) {
            v[j] = v[j - 1];
            j--;
        }
        v[j] = x;
    }
    gql_error **dead = malloc((n + 1) * sizeof *dead);
    uint32_t ndead = 0, kept = 0;
    gql_error *head = NULL, *tail = NULL;
    for (uint32_t i = 0; i < n; i++) {
        gql_error *x = v[i];
        bool drop = false;
        for (uint32_t d = 0; dead && d < ndead && !drop; d++) {
            const gql_error *y = dead[d];
            uint32_t len = (uint32_t)y->_nulls_at;
            if (x->_npos >= len && (len == 0 || memcmp(x->_pos, y->_pos, len * sizeof(uint32_t)) == 0))
                drop = true;
        }
        if (drop) {
            if (x->extensions) {
                json_decref(x->extensions);
                x->extensions = NULL;
            }
            continue;
        }
        if (x->_nulls_at >= 0 && x->_npos && dead)
            dead[ndead++] = x;
        x->next = NULL;
        if (tail)
            tail->next = x;
        else
            head = x;
        tail = x;
        kept++;
    }
    e->errs.head = head;
    e->errs.tail = tail;
    e->errs.count = kept;
    free(dead);
    free(v);
}

gql_exec_state gql_exec_run(gql_exec *e)
{
    if (!e || e->done)
        return GQL_EXEC_DONE;
    if (e->render_data) {
        e->render_data = false;
        if (render_data(e) == RENDER_ABORT)
            enqueue(e, e->data, e->root, 0);
    }
    for (;;) {
        while (e->done_head) {
            gql_ticket *t = e->done_head;
            e->done_head = t->next_done;
            if (!e->done_head)
                e->done_tail = NULL;
            run_ticket(e, t);
        }
        while (e->qhead != e->qtail) {
            task t = e->q[e->qhead & (e->qcap - 1)];
            e->qhead++;
            if (!e->complete_dead && e->any_dead && is_dead(&t.obj->h))
                continue;
            const plan *p = t.obj->plan;
            json_t *pj = t.parent.j;
            if (p->names && !e->o.resolve && t.parent.kind == X_JSON && p->n >= 2 && json_is_object(pj) &&
                json_object_size(pj) <= 2 * (size_t)p->n + 4) {
                json_t *vals[PREFETCH_MAX_FIELDS];
                prefetch(e, (plan *)p, pj, vals);
                for (uint32_t i = t.from; i < p->n; i++) {
                    resolve_value(e, t.obj, i, vals[i]);
                    if (t.obj->h.dead)
                        break;
                }
                continue;
            }
            for (uint32_t i = t.from; i < p->n; i++) {
                resolve_field(e, t.obj, i, t.parent);
                if (t.obj->h.dead)
                    break;
            }
            if (e->oom)
                break;
        }
        if (e->oom)
            break;
        if (e->done_head)
            continue;
        if (e->pending == 0 && e->serial && e->data && !e->data->h.dead && e->serial_next < e->data->plan->n) {
            resolve_field(e, e->data, e->serial_next++, e->root);
            continue;
        }
        if (e->pending > 0) {
            if (e->o.on_dispatched) {
                e->o.on_dispatched(e->o.on_dispatched_ud, e);
                if (e->done_head)
                    continue;
            }
            return GQL_EXEC_WAITING;
        }
        break;
    }
    if (e->oom && !e->done) {
        gql_errors_add(&e->errs, "Out of memory while executing the request.");
        e->data_null = true;
    }
    finish_errors(e);
    e->done = true;
    return GQL_EXEC_DONE;
}

bool gql_exec_has_data(const gql_exec *e)
{
    return e && e->started;
}

uint32_t gql_exec_pending(const gql_exec *e)
{
    return e ? e->pending : 0;
}

const gql_errors *gql_exec_errors(gql_exec *e)
{
    return &e->errs;
}

/* ---- the response ----------------------------------------------------------------------- */

/* Writes the result tree without recursion (its depth is not bounded by the
 * document alone: fragments can nest selections). */
static void write_data(gql_exec *e, gql_buf *out)
{
    typedef struct frame {
        const rcont *c;
        uint32_t i;
        bool any; /* something was written into this container */
    } frame;
    uint32_t cap = 64, top = 0;
    frame *st = malloc(cap * sizeof *st);
    if (!st) {
        gql_buf_puts(out, "null");
        return;
    }
    writer w = {out, NULL, NULL, false};
    wr_resume(&w);
    if (wr_need(&w, 1))
        *w.d++ = '{';
    st[top++] = (frame){&e->data->h, 0, false};
    while (top && !w.failed) {
        frame *f = &st[top - 1];
        const rcont *c = f->c;
        uint32_t n = c->is_list ? ((const rlist *)c)->n : ((const robj *)c)->plan->n;
        if (f->i >= n) {
            if (wr_need(&w, 1))
                *w.d++ = c->is_list ? ']' : '}';
            top--;
            continue;
        }
        uint32_t i = f->i++;
        const slot *s;
        if (c->is_list) {
            s = &((const rlist *)c)->items[i];
            if (i && wr_need(&w, 1))
                *w.d++ = ',';
        } else {
            const robj *o = (const robj *)c;
            s = &o->slots[i];
            if (s->kind == S_UNSET)
                continue;
            const plan_field *pf = &o->plan->f[i]; /* names need no escaping */
            if (!wr_need(&w, pf->qkey_len + 16))
                break;
            /* `,"key":` copied with a fixed-size move (room reserved above), the
             * comma overwritten or skipped for the first member */
            size_t skip = !f->any;
            if (pf->qkey_len <= 16) {
                memcpy(w.d, pf->qkey + skip, 16);
                w.d += pf->qkey_len - skip;
            } else {
                memcpy(w.d, pf->qkey + skip, pf->qkey_len - skip);
                w.d += pf->qkey_len - skip;
            }
            f->any = true;
        }
        if (s->kind == S_RAW) {
            if (!wr_need(&w, s->len))
                break;
            memcpy(w.d, e->rbuf.data + s->u.i, s->len);
            w.d += s->len;
        } else if (s->kind == S_OBJ || s->kind == S_LIST) {
            if (top == cap) {
                cap *= 2;
                frame *ns = realloc(st, cap * sizeof *ns);
                if (!ns) {
                    w.failed = true;
                    break;
                }
                st = ns;
            }
            if (!wr_need(&w, 1))
                break;
            *w.d++ = s->kind == S_OBJ ? '{' : '[';
            st[top++] = (frame){s->kind == S_OBJ ? &s->u.o->h : &s->u.l->h, 0, false};
        } else {
            wr_leaf(&w, s);
        }
    }
    free(st);
    wr_sync(&w);
    if (w.failed)
        out->overflow = 1;
}

int gql_exec_write_response(gql_exec *e, gql_buf *out)
{
    if (!e->done)
        gql_exec_run(e);
    if (e->data_raw && !e->errs.count && !e->render_overflow && !out->len && e->rbuf.len <= out->max &&
        !gql_buf_reserve(&e->rbuf, 1)) {
        /* a rendered `data` and nothing else: the response is rbuf, with the room
         * kept in front filled in; the buffers are swapped, not copied */
        memcpy(e->rbuf.data, RAW_PREFIX, RAW_RESERVE);
        e->rbuf.data[e->rbuf.len++] = '}';
        gql_buf t = *out;
        out->data = e->rbuf.data;
        out->len = e->rbuf.len;
        out->cap = e->rbuf.cap;
        out->overflow = 0;
        e->rbuf.data = t.data;
        e->rbuf.len = 0;
        e->rbuf.cap = t.cap;
        return 0;
    }
    size_t start = out->len;
    gql_buf_putc(out, '{');
    if (e->errs.count) {
        gql_buf_puts(out, "\"errors\":");
        gql_errors_write_json(&e->errs, out, false);
        if (e->started)
            gql_buf_putc(out, ',');
    }
    if (e->started) {
        gql_buf_puts(out, "\"data\":");
        if (e->data_null || !e->data)
            gql_buf_puts(out, "null");
        else if (e->data_raw)
            gql_buf_append(out, e->rbuf.data + RAW_RESERVE, e->rbuf.len - RAW_RESERVE);
        else
            write_data(e, out);
    }
    gql_buf_putc(out, '}');
    if (e->render_overflow)
        out->overflow = 1;
    if (out->overflow) {
        out->len = start;
        return -1;
    }
    return 0;
}

/* ---- setting up ------------------------------------------------------------------------- */

typedef struct var_err_ctx {
    gql_exec *e;
    const gql_variable_def *def;
    uint32_t count;
} var_err_ctx;

static void on_var_error(void *ud, const gql_path_segment *path, uint32_t npath, json_t *invalid, const char *msg,
                         size_t len)
{
    var_err_ctx *x = ud;
    gql_exec *e = x->e;
    gql_buf m;
    gql_buf_init(&m, 1 << 20);
    gql_buf_puts(&m, "Variable \"$");
    gql_buf_append(&m, x->def->name.s, x->def->name.len);
    gql_buf_puts(&m, "\" got invalid value ");
    gql__inspect_json(&m, invalid);
    if (npath) {
        gql_buf_puts(&m, " at \"");
        gql_buf_append(&m, x->def->name.s, x->def->name.len);
        gql__print_path(&m, path, npath);
        gql_buf_putc(&m, '"');
    }
    gql_buf_puts(&m, "; ");
    gql_buf_append(&m, msg, len);
    request_error(e, m.data ? m.data : "", m.len, &x->def->loc, 1);
    gql_buf_free(&m);
    x->count++;
}

/* graphql-js getVariableValues(). Returns false (errors recorded) on failure. */
static bool coerce_variables(gql_exec *e, json_t *inputs)
{
    e->vars = json_object();
    keep(e, e->vars);
    uint32_t nerr = 0;
    const uint32_t max_errors = 50;
    for (uint32_t i = 0; i < e->op->nvars; i++) {
        if (nerr >= max_errors) {
            gql_errors_add(&e->errs, "Too many errors processing variables, error limit reached. Execution aborted.");
            return false;
        }
        const gql_variable_def *vd = &e->op->vars[i];
        const gql_type *t = gql__type_from_ast(e->s, vd->type, &e->A);
        gql_buf m;
        gql_buf_init(&m, 1 << 16);
        if (!gql_is_input_type(t)) {
            gql_buf_puts(&m, "Variable \"$");
            gql_buf_append(&m, vd->name.s, vd->name.len);
            gql_buf_puts(&m, "\" expected value of type \"");
            gql_print_type_node(vd->type, &m);
            gql_buf_puts(&m, "\" which cannot be used as an input type.");
            request_error(e, m.data, m.len, &vd->type->loc, 1);
            gql_buf_free(&m);
            nerr++;
            continue;
        }
        json_t *value = inputs ? json_object_getn(inputs, vd->name.s, vd->name.len) : NULL;
        if (!value) {
            if (vd->default_value) {
                json_t *dv;
                if (gql__value_from_ast(e->s, vd->default_value, t, NULL, &dv))
                    json_object_setn_new_nocheck(e->vars, vd->name.s, vd->name.len, dv);
            } else if (t->kind == GQL_KIND_NON_NULL) {
                gql_buf_puts(&m, "Variable \"$");
                gql_buf_append(&m, vd->name.s, vd->name.len);
                gql_buf_puts(&m, "\" of required type \"");
                gql_type_print(&m, t);
                gql_buf_puts(&m, "\" was not provided.");
                request_error(e, m.data, m.len, &vd->loc, 1);
                nerr++;
            }
            gql_buf_free(&m);
            continue;
        }
        if (json_is_null(value) && t->kind == GQL_KIND_NON_NULL) {
            gql_buf_puts(&m, "Variable \"$");
            gql_buf_append(&m, vd->name.s, vd->name.len);
            gql_buf_puts(&m, "\" of non-null type \"");
            gql_type_print(&m, t);
            gql_buf_puts(&m, "\" must not be null.");
            request_error(e, m.data, m.len, &vd->loc, 1);
            gql_buf_free(&m);
            nerr++;
            continue;
        }
        gql_buf_free(&m);
        var_err_ctx x = {e, vd, 0};
        json_t *cv = gql__coerce_input_value(e->s, value, t, on_var_error, &x);
        nerr += x.count;
        if (cv)
            json_object_setn_new_nocheck(e->vars, vd->name.s, vd->name.len, cv);
    }
    return nerr == 0;
}

static const gql_operation_node *select_operation(gql_exec *e, const char *name)
{
    const gql_operation_node *op = NULL;
    for (uint32_t i = 0; i < e->doc->ndefs; i++) {
        const gql_definition *d = &e->doc->defs[i];
        if (d->kind != GQL_DEF_OPERATION)
            continue;
        if (!name) {
            if (op) {
                gql_errors_add(&e->errs, "Must provide operation name if query contains multiple operations.");
                return NULL;
            }
            op = &d->u.op;
        } else if (d->u.op.name.s && gql_str_eqc(d->u.op.name, name)) {
            op = &d->u.op;
        }
    }
    if (!op) {
        if (name)
            gql_errors_addf(&e->errs, "Unknown operation named \"%s\".", name);
        else
            gql_errors_add(&e->errs, "Must provide an operation.");
    }
    return op;
}

gql_exec *gql_exec_new(const gql_schema *s, const gql_document *doc, const gql_exec_options *opts)
{
    gql_exec *e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    if (opts)
        e->o = *opts;
    e->complete_dead = e->o.run_nulled_subtrees;
    gql_arena_init(&e->A, e->o.arena_limit);
    gql_errors_init(&e->errs);
    gql_buf_init(&e->rbuf, e->o.max_response_bytes);
    e->render_ok = !e->o.resolve;
    gql__json_init();
    e->s = s;
    e->doc = doc;
    e->root = xjson(e->o.root);
    e->frag_stamp = gql_arena_calloc(&e->A, doc->nfragments + 1, sizeof *e->frag_stamp);
    if (!e->frag_stamp) {
        gql_errors_add(&e->errs, "Out of memory.");
        e->done = true;
        return e;
    }
    if (doc->validated_for != s) {
        gql_errors_add(&e->errs, "The document must be validated against this schema before it is executed.");
        e->done = true;
        return e;
    }
    e->op = select_operation(e, e->o.operation_name);
    if (!e->op || !coerce_variables(e, e->o.variables)) {
        e->done = true;
        return e;
    }
    e->started = true;
    const gql_type *root = gql_schema_root_type(s, (gql_operation_type)e->op->operation);
    if (!root) {
        const gql_definition *d = (const gql_definition *)((const char *)e->op - offsetof(gql_definition, u));
        gql_error *err = gql_errors_addf(&e->errs, "Schema is not configured to execute %s operation.",
                                         gql_operation_type_name((gql_operation_type)e->op->operation));
        gql_error_add_location(&e->errs, err, &doc->source, d->loc);
        e->data_null = true;
        e->done = true;
        return e;
    }
    plan *p = root_plan(e, root, e->op->sel);
    if (!p) {
        gql_errors_add(&e->errs, "Out of memory.");
        e->data_null = true;
        e->done = true;
        return e;
    }
    if (p->err) {
        request_error(e, p->err, strlen(p->err), &p->err_loc, 1);
        e->data_null = true;
        e->done = true;
        return e;
    }
    robj *o = ealloc(e, sizeof *o + (size_t)p->n * sizeof(slot));
    if (!o) {
        e->data_null = true;
        e->done = true;
        return e;
    }
    memset(o, 0, sizeof *o + (size_t)p->n * sizeof(slot));
    o->plan = p;
    e->data = o;
    if (e->op->operation == GQL_OP_MUTATION)
        e->serial = true;
    else if (e->render_ok && p->all_plain)
        e->render_data = true; /* gql_exec_run() */
    else
        enqueue(e, o, e->root, 0);
    return e;
}

void gql_exec_free(gql_exec *e)
{
    if (!e)
        return;
    for (uint32_t i = 0; i < e->nkeep; i++)
        json_decref(e->keep[i]);
    free(e->keep);
    free(e->q);
    /* tickets completed with an error but never processed own their extensions */
    for (gql_ticket *t = e->done_head; t; t = t->next_done)
        if (t->ext)
            json_decref(t->ext);
    if (e->err.ext)
        json_decref(e->err.ext);
    gql_errors_free(&e->errs);
    gql_arena_free(&e->A);
    gql_buf_free(&e->rbuf);
    free(e->rf);
    free(e->rvals);
    free(e);
}

json_t *gql_field_path(const gql_field_info *info)
{
    call_ctx *cc = info->_slot;
    const rcont *c = NULL;
    uint32_t idx = 0;
    if (cc) {
        c = &cc->obj->h;
        idx = cc->idx;
    } else {
        /* a ticket's copy: find the ticket through the info's address */
        const gql_ticket *t = (const gql_ticket *)((const char *)info - offsetof(gql_ticket, info));
        c = &t->obj->h;
        idx = t->idx;
    }
    json_t *a = json_array();
    uint32_t n = depth_of(c);
    json_t **segs = calloc(n + 1, sizeof *segs);
    if (!segs)
        return a;
    uint32_t k = n;
    for (const rcont *x = c; x; x = x->parent) {
        k--;
        if (x->is_list)
            segs[k] = json_integer(idx);
        else {
            gql_str key = ((const robj *)x)->plan->f[idx].key;
            segs[k] = json_stringn(key.s, key.len);
        }
        idx = x->index;
    }
    for (uint32_t i = 0; i < n; i++)
        json_array_append_new(a, segs[i]);
    free(segs);
    return a;
}

int gql_execute_sync(const gql_schema *s, const gql_document *doc, const gql_exec_options *opts, gql_buf *out)
{
    gql_exec *e = gql_exec_new(s, doc, opts);
    if (!e)
        return -1;
    gql_exec_state st = gql_exec_run(e);
    int rc = 0;
    if (st == GQL_EXEC_WAITING) {
        /* a resolver deferred although the caller promised it would not */
        gql_errors_add(&e->errs, "A resolver deferred a field during synchronous execution.");
        e->done = true;
        e->data_null = true;
        rc = -1;
    }
    if (gql_exec_write_response(e, out))
        rc = -1;
    gql_exec_free(e);
    return rc;
}

/* ---- subscriptions ---------------------------------------------------------------------- */

int gql_subscription_prepare(const gql_schema *s, const gql_document *doc, const char *operation_name,
                             json_t *variables, gql_subscription_root *out, gql_errors *errors)
{
    memset(out, 0, sizeof *out);
    gql_exec_options o;
    memset(&o, 0, sizeof o);
    o.operation_name = operation_name;
    o.variables = variables;
    gql_exec *e = gql_exec_new(s, doc, &o);
    if (!e) {
        gql_errors_add(errors, "Out of memory.");
        return -1;
    }
    int rc = -1;
    if (!e->data) {
        if (e->started && e->op && e->op->operation == GQL_OP_SUBSCRIPTION && !e->errs.count)
            gql_errors_add(&e->errs, "Subscription has no root field.");
        goto out;
    }
    if (e->op->operation != GQL_OP_SUBSCRIPTION) {
        gql_errors_add(&e->errs, "The operation is not a subscription.");
        goto out;
    }
    const plan *p = e->data->plan;
    if (p->n == 0) {
        gql_errors_add(&e->errs, "Subscription has no root field.");
        goto out;
    }
    plan_field *pf = (plan_field *)&p->f[0];
    if (!pf->def) {
        gql_error *err = gql_errors_addf(&e->errs, "The subscription field \"%.*s\" is not defined.",
                                         (int)pf->nodes[0]->name.len, pf->nodes[0]->name.s);
        gql_error_add_location(&e->errs, err, &doc->source, pf->sels[0]->loc);
        goto out;
    }
    json_t *args = field_args(e, pf);
    if (!args && pf->args_err) {
        gql_error *err = gql_errors_addn(&e->errs, e->err.msg, e->err.len);
        gql_error_add_location(&e->errs, err, &doc->source, e->err.loc);
        goto out;
    }
    out->field = pf->def;
    out->response_key = pf->key;
    out->args = args ? json_incref(args) : json_object();
    out->variables = json_incref(e->vars);
    rc = 0;
out:
    gql_errors_move(errors, &e->errs);
    gql_exec_free(e);
    return rc;
}
