/*
 * gql_schema: a GraphQL schema built from SDL files, shared read-only by every
 * worker thread and reference-counted so a hot reload can swap in a new one while
 * requests on the old one finish.
 *
 * What the gateway reads from it: every type, field, argument, enum value and input
 * field with its description, its type and — the point of keeping them — the
 * directives applied to it in the SDL with their argument values already coerced to
 * JSON (`@http(service: "product", path: "/api/products/{args.id}")` becomes
 * {"service":"product","path":"/api/products/{args.id}"}). Directive definitions for
 * those directives live in the SDL too and are validated like any other.
 *
 * Building runs graphql-js's SDL validation rules and the specification's
 * type-system rules; an invalid schema is refused with errors naming file, line and
 * column. Introspection types and the built-in scalars and directives (@skip,
 * @include, @deprecated, @specifiedBy, and graphql-js 16's @oneOf) are part of every
 * schema. Type order, descriptions and defaults follow graphql-js's buildASTSchema so
 * that introspection and printSchema output are identical to it.
 *
 * Thread safety: after gql_schema_build() returns, nothing in the schema changes
 * (except the reference count, which is atomic), with one documented exception: the
 * `user` pointers, which the owner may set before sharing the schema.
 */
#ifndef GQL_SCHEMA_H
#define GQL_SCHEMA_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "gql_ast.h"
#include "gql_buf.h"
#include "gql_error.h"

typedef enum gql_type_kind {
    GQL_KIND_SCALAR,
    GQL_KIND_OBJECT,
    GQL_KIND_INTERFACE,
    GQL_KIND_UNION,
    GQL_KIND_ENUM,
    GQL_KIND_INPUT_OBJECT,
    GQL_KIND_LIST,
    GQL_KIND_NON_NULL,
} gql_type_kind;

/* Directive locations as bits (gql_directive_def.locations). */
typedef enum gql_directive_location {
    GQL_LOC_QUERY,
    GQL_LOC_MUTATION,
    GQL_LOC_SUBSCRIPTION,
    GQL_LOC_FIELD,
    GQL_LOC_FRAGMENT_DEFINITION,
    GQL_LOC_FRAGMENT_SPREAD,
    GQL_LOC_INLINE_FRAGMENT,
    GQL_LOC_VARIABLE_DEFINITION,
    GQL_LOC_SCHEMA,
    GQL_LOC_SCALAR,
    GQL_LOC_OBJECT,
    GQL_LOC_FIELD_DEFINITION,
    GQL_LOC_ARGUMENT_DEFINITION,
    GQL_LOC_INTERFACE,
    GQL_LOC_UNION,
    GQL_LOC_ENUM,
    GQL_LOC_ENUM_VALUE,
    GQL_LOC_INPUT_OBJECT,
    GQL_LOC_INPUT_FIELD_DEFINITION,
    GQL_LOC_COUNT
} gql_directive_location;

/* Name of a location as written in SDL ("FIELD_DEFINITION"). */
const char *gql_directive_location_name(gql_directive_location loc);

typedef struct gql_type gql_type;
typedef struct gql_field gql_field;
typedef struct gql_directive_def gql_directive_def;
typedef struct gql_schema gql_schema;

/* A directive applied in the SDL, e.g. `@auth(requires: ADMIN)` on a field. */
typedef struct gql_applied_directive {
    const gql_directive_def *def;
    const char *name;  /* without `@` */
    json_t *args;      /* object: every argument, coerced, defaults applied */
    const gql_directive *node;
    const gql_source *source;
} gql_applied_directive;

/* An argument of a field or directive, or a field of an input object. */
typedef struct gql_input_value {
    const char *name;
    uint32_t name_len;
    const char *description;    /* NULL when none */
    const gql_type *type;
    bool has_default;
    json_t *default_value;      /* coerced default (JSON null for `= null`), or NULL */
    const char *default_printed; /* how introspection prints the default, or NULL */
    const char *deprecation_reason; /* NULL unless @deprecated */
    gql_applied_directive *directives;
    uint32_t ndirectives;
    uint32_t index;
    const gql_input_value_def *node;
    const gql_source *source;
    void *user;
    uint8_t _state; /* build time: default 0 pending, 1 being coerced, 2 done */
} gql_input_value;

struct gql_field {
    const char *name;
    uint32_t name_len;
    const char *description;
    const gql_type *type;
    gql_input_value *args;
    uint32_t nargs;
    const char *deprecation_reason;
    gql_applied_directive *directives; /* as applied in the SDL, in order */
    uint32_t ndirectives;
    const gql_type *parent;
    uint32_t index;
    const gql_field_def_node *node;
    const gql_source *source;
    void *user; /* free for the owner (e.g. a precomputed REST binding) */
};

typedef struct gql_enum_value {
    const char *name;
    uint32_t name_len;
    const char *description;
    const char *deprecation_reason;
    gql_applied_directive *directives;
    uint32_t ndirectives;
    const gql_enum_value_def *node;
    const gql_source *source;
} gql_enum_value;

typedef struct gql_strmap gql_strmap;

struct gql_type {
    uint8_t kind;    /* gql_type_kind */
    uint8_t builtin; /* built-in scalar or introspection type */
    uint8_t is_one_of;
    const char *name; /* NULL for LIST and NON_NULL */
    uint32_t name_len;
    const gql_type *of; /* LIST, NON_NULL */
    const char *description;
    const char *specified_by_url;
    /* OBJECT, INTERFACE */
    gql_field *fields;
    uint32_t nfields;
    const gql_type **interfaces;
    uint32_t ninterfaces;
    /* UNION: member types; INTERFACE: implementing object types (schema order) */
    const gql_type **possible;
    uint32_t npossible;
    /* ENUM */
    gql_enum_value *values;
    uint32_t nvalues;
    /* INPUT_OBJECT */
    gql_input_value *input_fields;
    uint32_t ninput_fields;
    /* directives applied to the type (definition first, then extensions) */
    gql_applied_directive *directives;
    uint32_t ndirectives;
    uint32_t index; /* position in gql_schema.types (named types only) */
    const gql_typedef_node *node;
    const gql_source *source;
    void *user;
    /* internals */
    gql_strmap *_field_map;   /* OBJECT/INTERFACE/INPUT_OBJECT/ENUM name lookup */
    const gql_type *_list;    /* interned [this] */
    const gql_type *_nonnull; /* interned this! */
    uint64_t *_subtypes;      /* abstract types: bitset of sub type indexes */
};

struct gql_directive_def {
    const char *name;
    uint32_t name_len;
    const char *description;
    gql_input_value *args;
    uint32_t nargs;
    uint32_t locations; /* bit (1u << gql_directive_location) */
    bool repeatable;
    bool builtin;
    const gql_directive_def_node *node;
    const gql_source *source;
};

/* Custom scalar behaviour. Every hook is optional; without one a custom scalar
 * passes JSON through unchanged (graphql-js's default for SDL-built scalars).
 * A hook returns 0 to accept (setting *out to a new reference, or leaving it NULL to
 * keep the input as is) or -1 to reject; when rejecting it may write a message into
 * `err`, otherwise the engine reports its generic message for the case. */
typedef struct gql_scalar_hooks {
    int (*serialize)(void *ud, const gql_type *scalar, json_t *value, json_t **out, gql_buf *err);
    int (*parse_value)(void *ud, const gql_type *scalar, json_t *value, json_t **out, gql_buf *err);
    /* `literal` is the literal as untyped JSON (graphql-js valueFromASTUntyped). */
    int (*parse_literal)(void *ud, const gql_type *scalar, json_t *literal, json_t **out, gql_buf *err);
    void *ud;
} gql_scalar_hooks;

/* One SDL file. */
typedef struct gql_sdl_file {
    const char *name; /* used in error locations */
    const char *text;
    size_t len;
} gql_sdl_file;

typedef struct gql_schema_options {
    gql_scalar_hooks scalars;
    size_t arena_limit;  /* 0 = default */
    uint32_t max_tokens; /* per file; 0 = unlimited */
} gql_schema_options;

struct gql_schema {
    gql_arena arena;
    int _refs; /* atomic */
    const char *description;
    const gql_type *query;
    const gql_type *mutation;
    const gql_type *subscription;
    gql_type **types; /* graphql-js type map order, introspection types included */
    uint32_t ntypes;
    const gql_directive_def **directives; /* custom first, then the built-in ones */
    uint32_t ndirectives;
    gql_applied_directive *schema_directives;
    uint32_t nschema_directives;
    gql_scalar_hooks scalars;
    /* well-known types, for the engine */
    const gql_type *t_string, *t_int, *t_float, *t_boolean, *t_id;
    const gql_type *t_schema, *t_type, *t_type_kind, *t_field, *t_input_value, *t_enum_value, *t_directive,
        *t_directive_location;
    const gql_directive_def *d_skip, *d_include, *d_deprecated, *d_specified_by, *d_one_of;
    /* the meta fields __typename, __schema and __type(name:) */
    gql_field f_typename, f_schema, f_type;
    gql_input_value f_type_name_arg;
    /* internals */
    gql_strmap *_types;
    gql_strmap *_directives;
    gql_document **_docs;
    uint32_t _ndocs;
    json_t **_owned; /* JSON values released with the schema */
    uint32_t _nowned, _capowned;
    gql_type **_all; /* every named type created while building (owns JSON) */
    uint32_t _nall;
    gql_directive_def **_alldirs; /* every directive definition created */
    uint32_t _nalldirs;
};

/* Builds a schema from `n` SDL files. Returns the schema with one reference, or
 * NULL after appending errors (each naming file, line and column) to `errors`.
 * The texts are copied. `opts` may be NULL. */
gql_schema *gql_schema_build(const gql_sdl_file *files, size_t n, const gql_schema_options *opts, gql_errors *errors);

/* Takes another reference (thread-safe). Returns `s`. */
gql_schema *gql_schema_ref(gql_schema *s);
/* Drops a reference; the last one frees the schema. No-op if NULL. */
void gql_schema_unref(gql_schema *s);

/* Lookups; NULL when absent. Names need not be NUL-terminated. */
const gql_type *gql_schema_type(const gql_schema *s, const char *name, size_t len);
const gql_directive_def *gql_schema_directive(const gql_schema *s, const char *name, size_t len);
const gql_field *gql_type_field(const gql_type *t, const char *name, size_t len);
const gql_input_value *gql_type_input_field(const gql_type *t, const char *name, size_t len);
const gql_enum_value *gql_type_enum_value(const gql_type *t, const char *name, size_t len);
const gql_input_value *gql_field_arg(const gql_field *f, const char *name, size_t len);
/* The first applied directive named `name` in a list, or NULL. */
const gql_applied_directive *gql_directives_find(const gql_applied_directive *list, uint32_t n, const char *name);

/* Type predicates and helpers, graphql-js semantics. */
const gql_type *gql_named_type(const gql_type *t);
const gql_type *gql_nullable_type(const gql_type *t);
bool gql_is_input_type(const gql_type *t);
bool gql_is_output_type(const gql_type *t);
bool gql_is_leaf_type(const gql_type *t);
bool gql_is_composite_type(const gql_type *t);
bool gql_is_abstract_type(const gql_type *t);
/* True when `maybe_sub` is a possible type (or sub-interface) of `abstract`. */
bool gql_schema_is_sub_type(const gql_schema *s, const gql_type *abstract, const gql_type *maybe_sub);
/* graphql-js isTypeSubTypeOf / doTypesOverlap / isEqualType. */
bool gql_is_type_sub_type_of(const gql_schema *s, const gql_type *maybe_sub, const gql_type *super);
bool gql_do_types_overlap(const gql_schema *s, const gql_type *a, const gql_type *b);
/* Appends a type as written in GraphQL ("[Int!]!"). */
void gql_type_print(gql_buf *out, const gql_type *t);
/* The root type for an operation, or NULL. */
const gql_type *gql_schema_root_type(const gql_schema *s, gql_operation_type op);

#endif
