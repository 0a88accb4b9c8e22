/*
 * Runner for graphql-js's validation test cases (see gqlparser_cases.py, which
 * converts them from YAML). Each case names one rule, a schema and a document; the
 * document is validated with that rule alone — as graphql-js's own tests do — and the
 * errors must match in number, order, message and locations.
 *
 * Usage: validation_cases CASES.json DEVIATIONS.txt
 * Exit status 0 only when every case passes or is listed as a deviation, and every
 * listed deviation still deviates.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

/* graphql-js's test schema defines `CustomScalar` with a parseLiteral that returns
 * undefined and `Any` that accepts everything; the hooks reproduce that. */
static int parse_literal(void *ud, const gql_type *scalar, json_t *literal, json_t **out, gql_buf *err)
{
    (void)ud;
    (void)literal;
    (void)err;
    *out = NULL;
    if (strcmp(scalar->name, "CustomScalar") == 0)
        return -1; /* no message: "undefined" */
    return 0;
}

static char *read_deviations(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        *n = 0;
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)len + 1);
    if (!b || fread(b, 1, (size_t)len, f) != (size_t)len) {
        fclose(f);
        free(b);
        *n = 0;
        return NULL;
    }
    fclose(f);
    b[len] = 0;
    *n = (size_t)len;
    return b;
}

/* Whether `name` is listed (a line starting with it followed by spaces or '#'). */
static int listed(const char *devs, const char *name)
{
    if (!devs)
        return 0;
    size_t n = strlen(name);
    for (const char *line = devs; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (line[0] != '#' && len >= n && strncmp(line, name, n) == 0 &&
            (len == n || line[n] == ' ' || line[n] == '\t' || line[n] == '#'))
            return 1;
        if (!end)
            break;
        line = end + 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CASES.json DEVIATIONS.txt\n", argv[0]);
        return 2;
    }
    json_error_t jerr;
    json_t *root = json_load_file(argv[1], 0, &jerr);
    if (!root) {
        fprintf(stderr, "cannot read %s: %s\n", argv[1], jerr.text);
        return 2;
    }
    size_t devlen;
    char *devs = read_deviations(argv[2], &devlen);
    json_t *schemas = json_object_get(root, "schemas");
    json_t *cases = json_object_get(root, "cases");
    size_t nschemas = json_array_size(schemas);
    gql_schema **built = calloc(nschemas + 1, sizeof *built);
    int *tried = calloc(nschemas + 1, sizeof *tried);
    size_t ncases = json_array_size(cases), passed = 0, deviating = 0, failed = 0, stale = 0;
    gql_schema_options so;
    memset(&so, 0, sizeof so);
    so.scalars.parse_literal = parse_literal;

    for (size_t i = 0; i < ncases; i++) {
        json_t *cs = json_array_get(cases, i);
        const char *name = json_string_value(json_object_get(cs, "name"));
        const char *rule = json_string_value(json_object_get(cs, "rule"));
        size_t si = (size_t)json_integer_value(json_object_get(cs, "schema"));
        const char *query = json_string_value(json_object_get(cs, "query"));
        json_t *expected = json_object_get(cs, "errors");
        gql_buf why;
        gql_buf_init(&why, 0);
        int ok = 1;

        if (si < nschemas && !tried[si]) {
            tried[si] = 1;
            const char *sdl = json_string_value(json_array_get(schemas, si));
            gql_sdl_file file = {"schema.graphql", sdl, strlen(sdl)};
            gql_errors se;
            gql_errors_init(&se);
            built[si] = gql_schema_build(&file, 1, &so, &se);
            if (!built[si]) {
                gql_buf b;
                gql_buf_init(&b, 0);
                gql_errors_write_json(&se, &b, true);
                fprintf(stderr, "schema %zu does not build: %s\n", si, gql_buf_cstr(&b));
                gql_buf_free(&b);
            }
            gql_errors_free(&se);
        }
        int r = gql_rule_by_name(rule);
        gql_errors errs;
        gql_errors_init(&errs);
        if (si >= nschemas || !built[si]) {
            ok = 0;
            gql_buf_puts(&why, "schema did not build");
        } else if (r < 0) {
            ok = 0;
            gql_buf_printf(&why, "unknown rule %s", rule);
        } else {
            gql_document *doc = gql_parse(query, strlen(query), NULL, &errs);
            if (doc) {
                gql_validate_options vo;
                memset(&vo, 0, sizeof vo);
                vo.rules = GQL_RULE_BIT(r);
                gql_validate(built[si], doc, &vo, &errs);
                gql_document_free(doc);
            }
            /* compare */
            size_t nexp = json_array_size(expected);
            if (nexp != errs.count) {
                ok = 0;
                gql_buf_printf(&why, "expected %zu errors, got %u", nexp, errs.count);
            }
            gql_error *e = errs.head;
            for (size_t k = 0; ok && k < nexp; k++, e = e->next) {
                json_t *x = json_array_get(expected, k);
                const char *m = json_string_value(json_object_get(x, "message"));
                if (m && strcmp(m, e->message) != 0) {
                    ok = 0;
                    gql_buf_printf(&why, "error %zu message:\n    expected: %s\n    actual:   %s", k, m, e->message);
                    break;
                }
                json_t *locs = json_object_get(x, "locations");
                size_t nl = json_array_size(locs);
                if (nl != e->nlocations) {
                    ok = 0;
                    gql_buf_printf(&why, "error %zu: expected %zu locations, got %u", k, nl, e->nlocations);
                    break;
                }
                for (size_t l = 0; l < nl; l++) {
                    json_t *loc = json_array_get(locs, l);
                    long line = (long)json_integer_value(json_object_get(loc, "line"));
                    long col = (long)json_integer_value(json_object_get(loc, "column"));
                    if (line != (long)e->locations[l].line || col != (long)e->locations[l].column) {
                        ok = 0;
                        gql_buf_printf(&why, "error %zu location %zu: expected %ld:%ld, got %u:%u", k, l, line, col,
                                       e->locations[l].line, e->locations[l].column);
                        break;
                    }
                }
            }
            if (!ok) {
                gql_buf b;
                gql_buf_init(&b, 0);
                gql_errors_write_json(&errs, &b, false);
                gql_buf_printf(&why, "\n    actual errors: %s", gql_buf_cstr(&b));
                gql_buf_free(&b);
            }
        }
        int dev = listed(devs, name);
        if (ok && !dev) {
            passed++;
        } else if (ok && dev) {
            stale++;
            printf("STALE DEVIATION (now passes, remove it from the list): %s\n", name);
        } else if (!ok && dev) {
            deviating++;
        } else {
            failed++;
            printf("FAIL %s: %s\n", name, gql_buf_cstr(&why));
        }
        gql_buf_free(&why);
        gql_errors_free(&errs);
    }
    for (size_t i = 0; i < nschemas; i++)
        gql_schema_unref(built[i]);
    free(built);
    free(tried);
    free(devs);
    json_decref(root);
    printf("gqlparser validation cases: %zu run, %zu passed, %zu listed deviations, %zu failed, %zu stale\n", ncases,
           passed, deviating, failed, stale);
    return failed || stale ? 1 : 0;
}
