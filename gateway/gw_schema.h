/*
 * gw_schema: the stitched GraphQL schema with its REST bindings compiled.
 *
 * The gateway loads every schema/<service>.graphql file, builds one schema with the
 * engine (which merges `extend` definitions and reports errors with file and line),
 * then reads the binding directives of every field (docs/gateway.md):
 *
 *   @http(...)      one REST call for the field
 *   @batch(...)     the field's look-ups of a level gathered into batch calls
 *   @from(path:)    a property of the parent under another name or deeper
 *   @money(...)     a Money object from two properties of the parent
 *   @auth(roles:)   who may read the field (on fields and object types)
 *   @connection     a REST list page shaped into a Relay connection (object types)
 *   @restValue(...) the service's spelling of an enum value
 *
 * and compiles each into a gw_field_t attached to the field's `user` pointer, so a
 * request never looks at a directive again. Mistakes in the directives (an unknown
 * service, {args.x} naming no argument, a malformed template) are errors naming the
 * file, line and column of the directive, and the gateway refuses to start.
 *
 * A gw_schema_t is immutable once built, shared by every worker thread and
 * reference-counted, so a hot reload can swap in a new one while requests on the old
 * one finish.
 */
#ifndef GW_SCHEMA_H
#define GW_SCHEMA_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "gql.h"
#include "gw_template.h"

#define GW_MAX_SERVICES 16

/* A service the gateway calls: its name in the directives and its base URL. */
typedef struct gw_service {
    const char *name;
    const char *url; /* "http://127.0.0.1:4002", no trailing slash */
    /* Calls to it carry the client's address (X-Forwarded-For) with the internal key
     * that makes the service believe it: the auth service's per-address limits. */
    bool forward_client;
} gw_service_t;

typedef struct gw_services {
    gw_service_t s[GW_MAX_SERVICES];
    unsigned n;
} gw_services_t;

/* An enum type's values with the service's spelling of each (gql_type.user). */
typedef struct gw_enum {
    uint32_t n;
    const char **names; /* GraphQL names, schema order */
    const char **rest;  /* what services send and expect */
} gw_enum_t;

/* What the gateway knows about a named type (gql_type.user). */
typedef struct gw_type {
    const gw_enum_t *enm;  /* ENUM */
    bool connection;       /* OBJECT marked @connection */
    bool has_enums;        /* INPUT_OBJECT/ENUM/…: input values need converting */
} gw_type_t;

typedef enum gw_field_kind {
    GW_FIELD_PLAIN, /* the parent's property of the same name */
    GW_FIELD_FROM,  /* the parent's property at another path */
    GW_FIELD_MONEY, /* {amount, currency, formatted} from two properties */
    GW_FIELD_HTTP,  /* one REST call */
    GW_FIELD_BATCH, /* a batched look-up */
} gw_field_kind_t;

typedef struct gw_param {
    const char *name; /* query parameter name (already percent-encoded) */
    gw_tpl_t value;
} gw_param_t;

typedef struct gw_body_entry {
    const char *key; /* member name, or NULL: the value's members are merged in */
    gw_tpl_t value;
} gw_body_entry_t;

typedef struct gw_header {
    const char *name;
    gw_tpl_t value;
} gw_header_t;

typedef struct gw_http {
    unsigned service;   /* index into gw_schema_t.services */
    const char *method; /* GET, POST, PUT, PATCH, DELETE */
    bool dedupe;        /* GET: identical calls of an operation are made once */
    gw_tpl_t path;
    gw_param_t *query;
    uint32_t nquery;
    gw_body_entry_t *body;
    uint32_t nbody;
    gw_header_t *headers;
    uint32_t nheaders;
    const char **select;
    uint32_t nselect;
    gw_tpl_t *result;    /* @http(result:) with expressions, or NULL */
    json_t *result_json; /* @http(result:) without expressions: a JSON literal ("true") */
    bool not_found_null; /* notFound: NULL */
    unsigned timeout_ms; /* 0: the gateway's default */
} gw_http_t;

typedef struct gw_batch {
    unsigned service;
    gw_tpl_t path; /* the endpoint without the keys ({args.*}/{auth.*} allowed) */
    const gw_expr_t *key;
    const char *param; /* query parameter that carries the keys, comma-separated */
    const char **match;
    uint32_t nmatch;
    const char **select;
    uint32_t nselect;
    unsigned max; /* keys per call */
    unsigned timeout_ms;
} gw_batch_t;

/* The compiled binding of one field (gql_field.user). Fields without anything to do
 * (a plain property, no auth, no enum) have none and take the engine's fast path. */
typedef struct gw_field {
    uint8_t kind;            /* gw_field_kind_t */
    bool auth;               /* a verified token is needed */
    unsigned roles;          /* mc_role_t mask, 0 = any role */
    bool connection;         /* the value is a REST list page shaped into a connection */
    const gw_enum_t *out_enum; /* an enum (or list of enums) result: map the service's spelling */
    const char *name;        /* "Product.category", for messages */
    const char **from;       /* FROM: path; MONEY: amount path */
    uint32_t nfrom;
    const char **with;       /* FROM: parent properties copied into the value (or its items) */
    uint32_t nwith;
    const char **currency;   /* MONEY */
    uint32_t ncurrency;
    gw_http_t *http;
    gw_batch_t *batch;
} gw_field_t;

typedef struct gw_schema {
    atomic_int refs;
    gql_schema *gql;
    gql_arena arena; /* the bindings */
    gw_services_t services;
    uint32_t nbound; /* fields with an @http or @batch binding (for the start-up log) */
    json_t *owned;   /* JSON values the bindings hold */
} gw_schema_t;

/* Builds and binds. Returns the schema with one reference, or NULL after appending
 * errors (with file, line, column) to errs. */
gw_schema_t *gw_schema_build(const gql_sdl_file *files, size_t n, const gw_services_t *svcs, gql_errors *errs);
/* Reads every *.graphql file of dir (in name order) and builds them. On failure errs
 * says why (a file that cannot be read is an error too). */
gw_schema_t *gw_schema_load(const char *dir, const gw_services_t *svcs, gql_errors *errs);
gw_schema_t *gw_schema_ref(gw_schema_t *s);
void gw_schema_unref(gw_schema_t *s);

/* Writes every error of errs as "file:line:column: message" lines (for logs). */
void gw_errors_print(const gql_errors *errs, gql_buf *out);

/* Converts an input value of `type` to the services' spelling (enum names to their
 * REST values, through input objects and lists). New reference. */
json_t *gw_to_rest(const gql_type *type, json_t *v);
/* The GraphQL name of an enum value the service sent, or NULL when unknown. */
const char *gw_enum_from_rest(const gw_enum_t *e, const char *rest, size_t len);

#endif
