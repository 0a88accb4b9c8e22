/*
 * gqlrun: the engine from the command line, for tests, fuzzing and benchmarks.
 *
 *   gqlrun --schema FILE [--schema FILE …] (--query FILE | --query-string TEXT)
 *          [--variables FILE] [--root FILE] [--operation NAME]
 *          [--parse-only | --validate-only | --print | --print-schema]
 *
 * Output is one JSON document shaped like graphql-js's results — {"data":…,"errors":[…]}
 * for execution, {"errors":[{"message","locations"}]} for syntax or validation
 * errors, {"schemaErrors":[…]} (exit 2) for an invalid schema — or text for --print
 * and --print-schema. A successful --parse-only or --validate-only prints {}.
 * With --root, fields resolve by property lookup in that JSON and abstract types by
 * the object's __typename (the engine's defaults). JSON inputs are read as
 * JavaScript would (numbers are doubles), so outputs compare with graphql-js's.
 *
 * Exit status: 0 when the operation ran (or parsed/validated/printed), 1 on syntax,
 * validation or request errors, 2 on an invalid schema, 64 on usage errors.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql.h"

#define MAX_SCHEMAS 64

static void usage(void)
{
    fputs("usage: gqlrun --schema FILE [--schema FILE ...] (--query FILE | --query-string TEXT)\n"
          "              [--variables FILE] [--root FILE] [--operation NAME]\n"
          "              [--parse-only | --validate-only | --print | --print-schema]\n",
          stderr);
}

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gqlrun: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    while (b) {
        if (n == cap) {
            char *nb = realloc(b, cap * 2);
            if (!nb) {
                free(b);
                b = NULL;
                break;
            }
            b = nb;
            cap *= 2;
        }
        size_t r = fread(b + n, 1, cap - n, f);
        n += r;
        if (r == 0)
            break;
    }
    fclose(f);
    if (!b) {
        fprintf(stderr, "gqlrun: out of memory reading %s\n", path);
        return NULL;
    }
    *len = n;
    return b;
}

static json_t *read_json(const char *path)
{
    size_t len;
    char *text = read_file(path, &len);
    if (!text)
        return NULL;
    json_error_t err;
    /* like JSON.parse: any value, every number a double */
    json_t *v = json_loadb(text, len, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_ALLOW_NUL, &err);
    free(text);
    if (!v)
        fprintf(stderr, "gqlrun: %s: invalid JSON at line %d: %s\n", path, err.line, err.text);
    return v;
}

static void print_errors(const char *key, gql_errors *errs, bool with_files)
{
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_buf_printf(&out, "{\"%s\":", key);
    gql_errors_write_json(errs, &out, with_files);
    gql_buf_putc(&out, '}');
    printf("%s\n", gql_buf_cstr(&out));
    gql_buf_free(&out);
}

int main(int argc, char **argv)
{
    const char *schemas[MAX_SCHEMAS];
    int nschemas = 0;
    const char *query_file = NULL, *query_string = NULL, *variables_file = NULL, *root_file = NULL;
    const char *operation = NULL;
    enum { RUN, PARSE_ONLY, VALIDATE_ONLY, PRINT, PRINT_SCHEMA } mode = RUN;
    int modes = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--schema") && next) {
            if (nschemas == MAX_SCHEMAS) {
                fprintf(stderr, "gqlrun: at most %d schema files\n", MAX_SCHEMAS);
                return 64;
            }
            schemas[nschemas++] = next;
            i++;
        } else if (!strcmp(a, "--query") && next) {
            query_file = next;
            i++;
        } else if (!strcmp(a, "--query-string") && next) {
            query_string = next;
            i++;
        } else if (!strcmp(a, "--variables") && next) {
            variables_file = next;
            i++;
        } else if (!strcmp(a, "--root") && next) {
            root_file = next;
            i++;
        } else if (!strcmp(a, "--operation") && next) {
            operation = next;
            i++;
        } else if (!strcmp(a, "--parse-only")) {
            mode = PARSE_ONLY;
            modes++;
        } else if (!strcmp(a, "--validate-only")) {
            mode = VALIDATE_ONLY;
            modes++;
        } else if (!strcmp(a, "--print")) {
            mode = PRINT;
            modes++;
        } else if (!strcmp(a, "--print-schema")) {
            mode = PRINT_SCHEMA;
            modes++;
        } else {
            usage();
            return 64;
        }
    }
    bool need_query = mode != PRINT_SCHEMA;
    bool need_schema = mode != PARSE_ONLY && mode != PRINT;
    if (modes > 1 || (query_file && query_string) || (need_query && !query_file && !query_string) ||
        (need_schema && nschemas == 0)) {
        usage();
        return 64;
    }

    int rc = 0;
    gql_schema *schema = NULL;
    gql_document *doc = NULL;
    json_t *variables = NULL, *root = NULL;
    char *query_text = NULL;
    gql_sdl_file files[MAX_SCHEMAS];
    memset(files, 0, sizeof files);
    gql_errors errs;
    gql_errors_init(&errs);

    if (need_schema) {
        for (int i = 0; i < nschemas; i++) {
            files[i].name = schemas[i];
            files[i].text = read_file(schemas[i], &files[i].len);
            if (!files[i].text) {
                rc = 64;
                goto out;
            }
        }
        schema = gql_schema_build(files, (size_t)nschemas, NULL, &errs);
        if (!schema) {
            print_errors("schemaErrors", &errs, true);
            rc = 2;
            goto out;
        }
        if (mode == PRINT_SCHEMA) {
            gql_buf out;
            gql_buf_init(&out, 0);
            gql_print_schema(schema, &out);
            printf("%s\n", gql_buf_cstr(&out));
            gql_buf_free(&out);
            goto out;
        }
    }

    size_t qlen;
    if (query_file) {
        query_text = read_file(query_file, &qlen);
        if (!query_text) {
            rc = 64;
            goto out;
        }
    } else {
        qlen = strlen(query_string);
    }
    gql_parse_options po;
    memset(&po, 0, sizeof po);
    po.source_name = query_file ? query_file : "<query>";
    doc = gql_parse(query_text ? query_text : query_string, qlen, &po, &errs);
    if (!doc) {
        print_errors("errors", &errs, false);
        rc = 1;
        goto out;
    }
    if (mode == PARSE_ONLY) {
        printf("{}\n");
        goto out;
    }
    if (mode == PRINT) {
        gql_buf out;
        gql_buf_init(&out, 0);
        gql_print_document(doc, &out);
        printf("%s\n", gql_buf_cstr(&out));
        gql_buf_free(&out);
        goto out;
    }
    if (gql_validate(schema, doc, NULL, &errs)) {
        print_errors("errors", &errs, false);
        rc = 1;
        goto out;
    }
    if (mode == VALIDATE_ONLY) {
        printf("{}\n");
        goto out;
    }
    if (variables_file && !(variables = read_json(variables_file))) {
        rc = 64;
        goto out;
    }
    if (root_file && !(root = read_json(root_file))) {
        rc = 64;
        goto out;
    }
    gql_exec_options eo;
    memset(&eo, 0, sizeof eo);
    eo.operation_name = operation;
    eo.variables = json_is_object(variables) ? variables : NULL;
    eo.root = root;
    eo.run_nulled_subtrees = true; /* errors exactly as graphql-js reports them */
    gql_exec *e = gql_exec_new(schema, doc, &eo);
    if (!e) {
        fprintf(stderr, "gqlrun: out of memory\n");
        rc = 1;
        goto out;
    }
    gql_exec_run(e);
    gql_buf out;
    gql_buf_init(&out, 0);
    gql_exec_write_response(e, &out);
    printf("%s\n", gql_buf_cstr(&out));
    gql_buf_free(&out);
    rc = gql_exec_has_data(e) ? 0 : 1;
    gql_exec_free(e);
out:
    gql_errors_free(&errs);
    gql_document_free(doc);
    gql_schema_unref(schema);
    for (int i = 0; i < nschemas; i++)
        free((void *)files[i].text);
    free(query_text);
    if (variables)
        json_decref(variables);
    if (root)
        json_decref(root);
    return rc;
}
