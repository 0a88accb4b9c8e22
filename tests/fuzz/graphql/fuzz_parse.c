/*
 * libFuzzer target: the lexer and parser on arbitrary bytes, then the printer on
 * whatever parsed (printing walks every node, so a malformed tree would show), and
 * a re-parse of the printed text, which must succeed: print() output is valid
 * GraphQL for any document the parser accepted.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_parse_options o;
    memset(&o, 0, sizeof o);
    o.max_tokens = size & 1 ? 0 : 5000; /* exercise the token limit too */
    gql_document *d = gql_parse((const char *)data, size, &o, &e);
    if (d) {
        gql_buf out;
        gql_buf_init(&out, 0);
        if (gql_print_document(d, &out) == 0) {
            gql_document *again = gql_parse(out.data ? out.data : "", out.len, NULL, &e);
            /* a printed document that does not parse back is a printer bug; the only
             * exception is the nesting cap, which printing cannot change */
            if (!again && !strstr(e.tail ? e.tail->message : "", "nested too deeply"))
                abort();
            gql_document_free(again);
        }
        gql_buf_free(&out);
        gql_document_free(d);
    } else {
        gql_buf out;
        gql_buf_init(&out, 0);
        gql_errors_write_json(&e, &out, false);
        gql_buf_free(&out);
    }
    gql_errors_free(&e);
    return 0;
}
