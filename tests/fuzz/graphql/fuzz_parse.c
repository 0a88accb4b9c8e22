/*
 * libFuzzer target: the lexer and parser on arbitrary bytes, then the printer on
 * whatever parsed (printing walks every node, so a malformed tree would show), and
 * a re-parse of the printed text, which must succeed: print() output is valid
 * GraphQL for any document the parser accepted — with one exception that the
 * printer shares with graphql-js: an anonymous query without variables or
 * directives prints in its short form `{ … }`, and after a type-system definition
 * that has no body of its own (`enum E`, `extend schema @d`) that brace reads as
 * the body (`enum E query { a }` prints as `enum E\n\n{\n  a\n}`). graphql-js's
 * print() does exactly the same, so the check skips such documents.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Whether a query that prints in short form (anonymous, no variables, no
 * directives — however it was written) follows a type-system definition. */
static int shorthand_after_sdl(const gql_document *d)
{
    int sdl = 0;
    for (uint32_t i = 0; i < d->ndefs; i++) {
        const gql_definition *def = &d->defs[i];
        const gql_operation_node *op = &def->u.op;
        if (def->kind == GQL_DEF_OPERATION && sdl && op->operation == GQL_OP_QUERY && !op->name.s && !op->nvars &&
            !op->ndirs)
            return 1;
        if (def->kind != GQL_DEF_OPERATION && def->kind != GQL_DEF_FRAGMENT)
            sdl = 1;
    }
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_parse_options o;
    memset(&o, 0, sizeof o);
    o.max_tokens = size & 1 ? 0 : 5000; /* exercise the token limit too */
    gql_document *d = gql_parse((const char *)data, size, &o, &e);
    gql_buf out;
    gql_buf_init(&out, 0);
    if (d) {
        if (gql_print_document(d, &out) == 0 && !shorthand_after_sdl(d)) {
            gql_document *again = gql_parse(out.data ? out.data : "", out.len, NULL, &e);
            /* a printed document that does not parse back is a printer bug; the only
             * exception is the nesting cap, which printing cannot change */
            if (!again && !strstr(e.tail ? e.tail->message : "", "nested too deeply"))
                abort();
            gql_document_free(again);
        }
        gql_document_free(d);
    } else {
        gql_errors_write_json(&e, &out, false);
    }
    gql_buf_free(&out);
    gql_errors_free(&e);
    return 0;
}
