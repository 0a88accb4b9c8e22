/*
 * gql.h: the GraphQL engine's umbrella header — everything the gateway needs.
 *
 *   gql_parse()            text -> gql_document            (gql_parse.h)
 *   gql_schema_build()     SDL files -> shared gql_schema  (gql_schema.h)
 *   gql_validate()         document + schema -> errors     (gql_validate.h)
 *   gql_print_document()/gql_print_schema()                (gql_print.h)
 *
 * The library does no I/O. Public names start with `gql_`; `gql__` marks internals
 * and fields whose names start with `_` are not for callers.
 */
#ifndef GQL_H
#define GQL_H

#include "gql_arena.h"
#include "gql_ast.h"
#include "gql_buf.h"
#include "gql_error.h"
#include "gql_parse.h"
#include "gql_print.h"
#include "gql_schema.h"
#include "gql_validate.h"
#include "gql_exec.h"
#include "gql_limits.h"

#endif
