/*
 * Internal state of one validation run, shared by the document walk and rules
 * (gql_validate.c) and the field-merging rule (gql_overlap.c).
 */
#ifndef GQL_VALIDATE_INTERNAL_H
#define GQL_VALIDATE_INTERNAL_H

#include <setjmp.h>

#include "gql_schema_internal.h"
#include "gql_validate.h"

/* TypeInfo stacks grow by one per selection set, field, argument, list or object
 * field; the parser's nesting cap bounds them. */
#define GQL_TI_MAX (GQL_MAX_NESTING * 4 + 32)

typedef struct gql_var_usage {
    const gql_value *node;
    const gql_type *type; /* location type, NULL when unknown */
    bool has_default;     /* the location has a default value */
} gql_var_usage;

typedef struct gql_usage_list {
    gql_var_usage *items;
    uint32_t n, cap;
} gql_usage_list;

typedef struct gql_spread_list {
    const gql_spread_node **items;
    const uint32_t *locs;
    uint32_t n;
} gql_spread_list;

typedef struct gql_vctx gql_vctx;

struct gql_overlap_state;

struct gql_vctx {
    const gql_schema *s;
    gql_document *doc;
    gql_errors *errs;
    gql_arena A; /* scratch, freed when validation ends */
    uint64_t rules;
    uint32_t max_errors, nerrors;
    jmp_buf abort_jb;
    gql_buf m; /* message being built */
    int mode;  /* 0: run rules; 1: collect variable usages */
    gql_usage_list *collecting;

    /* TypeInfo */
    const gql_type *types[GQL_TI_MAX];
    uint32_t ntypes;
    const gql_type *parents[GQL_TI_MAX];
    uint32_t nparents;
    const gql_type *inputs[GQL_TI_MAX];
    uint32_t ninputs;
    const gql_field *fielddefs[GQL_TI_MAX];
    uint32_t nfielddefs;
    uint8_t dvs[GQL_TI_MAX];
    uint32_t ndvs;
    const gql_directive_def *directive;
    const gql_input_value *argument;
    const gql_enum_value *enum_value;
    const gql_definition *top;

    /* a rule that returned false at a node skips that node's subtree */
    const void *skip[GQL_RULE_COUNT];

    /* per definition (index in doc->defs): variable usages */
    gql_usage_list *usages;
    /* per selection set id: fragment spreads below it (graphql-js getFragmentSpreads) */
    gql_spread_list *spreads;

    struct gql_overlap_state *overlap;
    uint64_t overlap_budget;
    void *rs; /* rule state (gql_validate.c) */
};

/* Error reporting: build the message in c->m, then emit with locations. */
void gql__v_emit(gql_vctx *c, const uint32_t *offsets, uint32_t n);
/* getFragmentSpreads(selectionSet) */
const gql_spread_list *gql__v_fragment_spreads(gql_vctx *c, const gql_selection_set *ss);
/* fragment definition for a spread name (last definition wins), or NULL */
const gql_fragment_node *gql__v_fragment(gql_vctx *c, gql_str name);
/* the definition holding a fragment node */
uint32_t gql__v_fragment_def_loc(gql_vctx *c, const gql_fragment_node *f);

/* OverlappingFieldsCanBeMerged, run at every selection set. */
void gql__overlap_check(gql_vctx *c, const gql_type *parent, const gql_selection_set *ss);
void gql__overlap_free(gql_vctx *c);

#endif
