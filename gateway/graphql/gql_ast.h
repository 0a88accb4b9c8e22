/*
 * gql_ast: the syntax tree of GraphQL documents, executable and type-system alike
 * (October 2021 specification).
 *
 * Why this shape: parsing is on the hot path of every request, so the tree is built
 * with as few allocations as possible. Every node lives in the document's arena;
 * lists are contiguous arrays (not linked lists); names and undecoded literals point
 * straight into the source text (`gql_str` is a slice, not NUL-terminated); every
 * node records the byte offset where it starts, and line/column are computed only
 * when an error needs them (see gql_source_location()).
 *
 * The tree is read-only once validation has run: validation may annotate it, but
 * execution never writes to it, so a validated document can be executed by several
 * threads at once.
 */
#ifndef GQL_AST_H
#define GQL_AST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "gql_arena.h"

/* Hard cap on syntactic nesting (selection sets, list and object values, list
 * types), enforced by the parser; everything recursive in the engine relies on it. */
#define GQL_MAX_NESTING 128

/* A byte slice. `s` is not NUL-terminated unless stated; `s == NULL` means absent. */
typedef struct gql_str {
    const char *s;
    uint32_t len;
} gql_str;

static inline bool gql_str_eq(gql_str a, gql_str b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.s, b.s, a.len) == 0);
}
static inline bool gql_str_eqc(gql_str a, const char *c)
{
    size_t n = strlen(c);
    return a.len == n && memcmp(a.s, c, n) == 0;
}
static inline gql_str gql_str_c(const char *c)
{
    gql_str s = {c, (uint32_t)strlen(c)};
    return s;
}

/* A source text: a document or one SDL file. `name` appears in error messages. */
typedef struct gql_source {
    const char *name; /* e.g. "product.graphql"; may be NULL */
    const char *body; /* need not be NUL-terminated */
    uint32_t len;
    /* Offsets where lines start (line_starts[0] == 0); filled in by the lexer so that
     * locations can be computed later without rescanning. */
    uint32_t *line_starts;
    uint32_t nlines;
} gql_source;

/* 1-based line and column; columns count UTF-16 code units as graphql-js does. */
typedef struct gql_location {
    uint32_t line;
    uint32_t column;
} gql_location;

/* Computes the location of byte `offset` of `src`. */
gql_location gql_source_location(const gql_source *src, uint32_t offset);

/* ---- values ------------------------------------------------------------------ */

typedef enum gql_value_kind {
    GQL_VALUE_VARIABLE,
    GQL_VALUE_INT,
    GQL_VALUE_FLOAT,
    GQL_VALUE_STRING,
    GQL_VALUE_BOOLEAN,
    GQL_VALUE_NULL,
    GQL_VALUE_ENUM,
    GQL_VALUE_LIST,
    GQL_VALUE_OBJECT,
} gql_value_kind;

typedef struct gql_value gql_value;

/* `name: value` inside an object value; also used for arguments. */
typedef struct gql_object_field {
    gql_str name;
    uint32_t loc;      /* start of the name */
    gql_value *value;
} gql_object_field;

typedef gql_object_field gql_argument;

struct gql_value {
    uint8_t kind;    /* gql_value_kind */
    uint8_t block;   /* STRING: written as a block string */
    uint8_t boolean; /* BOOLEAN: the value */
    uint32_t loc;
    union {
        /* VARIABLE: the name without `$`; INT/FLOAT: the literal text; STRING: the
         * decoded value (may contain NUL bytes); ENUM: the name */
        gql_str str;
        struct {
            gql_value **items;
            uint32_t n;
        } list;
        struct {
            gql_object_field *fields;
            uint32_t n;
        } object;
    } u;
};

/* ---- types, directives ------------------------------------------------------- */

typedef enum gql_type_node_kind { GQL_TYPE_NAMED, GQL_TYPE_LIST, GQL_TYPE_NON_NULL } gql_type_node_kind;

typedef struct gql_type_node {
    uint8_t kind; /* gql_type_node_kind */
    uint32_t loc;
    gql_str name;              /* NAMED */
    struct gql_type_node *of;  /* LIST, NON_NULL */
} gql_type_node;

/* An applied directive `@name(args)`. */
typedef struct gql_directive {
    gql_str name;
    uint32_t loc; /* the `@` */
    gql_argument *args;
    uint32_t nargs;
} gql_directive;

/* ---- executable definitions -------------------------------------------------- */

typedef enum gql_selection_kind { GQL_SEL_FIELD, GQL_SEL_SPREAD, GQL_SEL_INLINE } gql_selection_kind;

typedef struct gql_selection gql_selection;

typedef struct gql_selection_set {
    gql_selection *items;
    uint32_t n;
    uint32_t loc; /* the `{` */
    /* Sequence number in document order; validation and execution use it to index
     * per-selection-set caches. */
    uint32_t id;
    /* Set when a fragment spread occurs anywhere below (including nested fields). */
    uint8_t has_spread;
} gql_selection_set;

typedef struct gql_field_node {
    gql_str alias; /* .s == NULL when there is no alias */
    gql_str name;
    uint32_t alias_loc;
    uint32_t name_loc;
    gql_argument *args;
    uint32_t nargs;
    gql_directive *dirs;
    uint32_t ndirs;
    gql_selection_set *sel; /* NULL for a leaf */
} gql_field_node;

static inline gql_str gql_field_response_key(const gql_field_node *f)
{
    return f->alias.s ? f->alias : f->name;
}

typedef struct gql_spread_node {
    gql_str name;
    uint32_t name_loc;
    gql_directive *dirs;
    uint32_t ndirs;
    int32_t fragment; /* index into gql_document.fragments or -1 (set by the parser) */
} gql_spread_node;

typedef struct gql_inline_node {
    gql_type_node *type_cond; /* NULL when absent */
    gql_directive *dirs;
    uint32_t ndirs;
    gql_selection_set *sel;
} gql_inline_node;

struct gql_selection {
    uint8_t kind; /* gql_selection_kind */
    uint32_t loc; /* start of the selection (first token) */
    union {
        gql_field_node field;
        gql_spread_node spread;
        gql_inline_node inl;
    } u;
};

typedef enum gql_operation_type { GQL_OP_QUERY, GQL_OP_MUTATION, GQL_OP_SUBSCRIPTION } gql_operation_type;

typedef struct gql_variable_def {
    gql_str name; /* without `$` */
    uint32_t loc; /* the `$` */
    gql_type_node *type;
    gql_value *default_value; /* NULL when absent */
    gql_directive *dirs;
    uint32_t ndirs;
} gql_variable_def;

typedef struct gql_operation_node {
    uint8_t operation;   /* gql_operation_type */
    uint8_t shorthand;   /* written as a bare `{ … }` */
    gql_str name;        /* .s == NULL when anonymous */
    uint32_t name_loc;
    gql_variable_def *vars;
    uint32_t nvars;
    gql_directive *dirs;
    uint32_t ndirs;
    gql_selection_set *sel;
} gql_operation_node;

typedef struct gql_fragment_node {
    gql_str name;
    uint32_t name_loc;
    gql_type_node *type_cond;
    gql_directive *dirs;
    uint32_t ndirs;
    gql_selection_set *sel;
} gql_fragment_node;

/* ---- type system definitions ------------------------------------------------- */

/* An argument or input field definition. */
typedef struct gql_input_value_def {
    gql_value *description; /* STRING value or NULL */
    gql_str name;
    uint32_t loc;      /* start (the description when there is one) */
    uint32_t name_loc;
    gql_type_node *type;
    gql_value *default_value;
    gql_directive *dirs;
    uint32_t ndirs;
} gql_input_value_def;

typedef struct gql_field_def_node {
    gql_value *description;
    gql_str name;
    uint32_t loc;
    uint32_t name_loc;
    gql_input_value_def *args;
    uint32_t nargs;
    gql_type_node *type;
    gql_directive *dirs;
    uint32_t ndirs;
} gql_field_def_node;

typedef struct gql_enum_value_def {
    gql_value *description;
    gql_str name;
    uint32_t loc;
    uint32_t name_loc;
    gql_directive *dirs;
    uint32_t ndirs;
} gql_enum_value_def;

typedef enum gql_typedef_kind {
    GQL_TD_SCALAR,
    GQL_TD_OBJECT,
    GQL_TD_INTERFACE,
    GQL_TD_UNION,
    GQL_TD_ENUM,
    GQL_TD_INPUT,
} gql_typedef_kind;

/* A type definition or extension (`extend type …`). */
typedef struct gql_typedef_node {
    uint8_t kind;         /* gql_typedef_kind */
    uint8_t is_extension;
    gql_value *description;
    gql_str name;
    uint32_t name_loc;
    /* OBJECT/INTERFACE: implemented interfaces; UNION: member types */
    gql_type_node **types;
    uint32_t ntypes;
    gql_directive *dirs;
    uint32_t ndirs;
    gql_field_def_node *fields; /* OBJECT, INTERFACE */
    uint32_t nfields;
    gql_input_value_def *input_fields; /* INPUT */
    uint32_t ninput_fields;
    gql_enum_value_def *values; /* ENUM */
    uint32_t nvalues;
} gql_typedef_node;

typedef struct gql_operation_type_def {
    uint8_t operation; /* gql_operation_type */
    uint32_t loc;
    gql_type_node *type;
} gql_operation_type_def;

/* `schema { … }` or `extend schema …`. */
typedef struct gql_schema_def_node {
    uint8_t is_extension;
    gql_value *description;
    gql_directive *dirs;
    uint32_t ndirs;
    gql_operation_type_def *ops;
    uint32_t nops;
} gql_schema_def_node;

typedef struct gql_directive_location_node {
    gql_str name;
    uint32_t loc;
} gql_directive_location_node;

typedef struct gql_directive_def_node {
    gql_value *description;
    gql_str name;
    uint32_t name_loc;
    gql_input_value_def *args;
    uint32_t nargs;
    uint8_t repeatable;
    gql_directive_location_node *locations;
    uint32_t nlocations;
} gql_directive_def_node;

typedef enum gql_definition_kind {
    GQL_DEF_OPERATION,
    GQL_DEF_FRAGMENT,
    GQL_DEF_SCHEMA,    /* definition or extension */
    GQL_DEF_TYPE,      /* definition or extension */
    GQL_DEF_DIRECTIVE,
} gql_definition_kind;

typedef struct gql_definition {
    uint8_t kind; /* gql_definition_kind */
    uint32_t loc;
    union {
        gql_operation_node op;
        gql_fragment_node frag;
        gql_schema_def_node schema;
        gql_typedef_node type;
        gql_directive_def_node directive;
    } u;
} gql_definition;

/* A parsed document. Owns its arena; the source text must outlive it unless the
 * document was parsed with gql_parse_options.copy_source. */
typedef struct gql_document {
    gql_arena arena;
    gql_source source;
    gql_definition *defs;
    uint32_t ndefs;
    /* Fragment definitions, one per distinct name; when a name is defined twice the
     * last definition wins, as in graphql-js (spreads point here). */
    gql_fragment_node **fragments;
    uint32_t nfragments;
    uint32_t nselection_sets; /* ids run from 0 to nselection_sets-1 */
    uint32_t ntokens;
    /* Set by gql_validate() when the document passed against this schema. */
    const void *validated_for;
} gql_document;

/* Names of the kinds, for messages. */
const char *gql_operation_type_name(gql_operation_type op);

#endif
