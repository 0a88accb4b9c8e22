/*
 * gql_bench: times one phase of the GraphQL engine on one input, for bench/graphql/run.py,
 * which runs graphql-js (bench.js) on the same input in the same run and prints both.
 *
 *   gql_bench --schema FILE [--schema FILE …] --query FILE [--root FILE]
 *             [--variables FILE] [--operation NAME] --phase parse|validate|execute|all
 *             [--samples K] [--min-ms MS] [--iterations N]
 *
 * Phases (the same as bench.js):
 *   parse     gql_parse() of the document, then freeing it
 *   validate  gql_validate() of the parsed document (every rule)
 *   execute   variable coercion, execution with the default resolvers over the JSON
 *             root and the response written to a byte buffer
 *   all       the three above, from text to response bytes
 *
 * Without --iterations it calibrates a loop to last at least --min-ms, runs --samples
 * such loops and prints {"median_ns":…,"min_ns":…,"iterations":…} (per operation).
 * With --iterations N it runs exactly N operations after one warm-up and prints
 * nothing; run.py runs it under callgrind with two values of N and divides the
 * difference in instructions, so start-up costs cancel out.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gql.h"

#define MAX_SCHEMAS 16

typedef enum phase { PARSE, VALIDATE, EXECUTE, ALL } phase;

typedef struct bench {
    phase ph;
    const gql_schema *schema;
    const char *text;
    size_t len;
    gql_document *doc; /* parsed once, for validate and execute */
    gql_exec_options opts;
    size_t sink; /* keeps the optimiser from dropping work */
} bench;

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "gql_bench: cannot open %s: %s\n", path, strerror(errno));
        exit(2);
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fprintf(stderr, "gql_bench: cannot seek %s\n", path);
        exit(2);
    }
    long n = ftell(f);
    rewind(f);
    char *b = malloc((size_t)n + 1);
    if (!b || n < 0 || fread(b, 1, (size_t)n, f) != (size_t)n) {
        fprintf(stderr, "gql_bench: cannot read %s\n", path);
        exit(2);
    }
    fclose(f);
    b[n] = 0;
    *len = (size_t)n;
    return b;
}

static json_t *read_json(const char *path)
{
    json_error_t err;
    json_t *v = json_load_file(path, JSON_DECODE_ANY, &err);
    if (!v) {
        fprintf(stderr, "gql_bench: %s:%d: %s\n", path, err.line, err.text);
        exit(2);
    }
    return v;
}

static void die_errors(const char *what, gql_errors *e)
{
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(e, &b, true);
    fprintf(stderr, "gql_bench: %s failed: %s\n", what, gql_buf_cstr(&b));
    gql_buf_free(&b);
    exit(1);
}

/* One operation of the phase being measured. */
static void run_once(bench *b)
{
    gql_errors e;
    gql_errors_init(&e);
    switch (b->ph) {
    case PARSE: {
        gql_document *d = gql_parse(b->text, b->len, NULL, &e);
        b->sink += d->ndefs;
        gql_document_free(d);
        break;
    }
    case VALIDATE:
        b->sink += 1 + gql_validate(b->schema, b->doc, NULL, &e);
        break;
    case EXECUTE: {
        gql_buf out;
        gql_buf_init(&out, 0);
        gql_execute_sync(b->schema, b->doc, &b->opts, &out);
        b->sink += out.len;
        gql_buf_free(&out);
        break;
    }
    case ALL: {
        gql_document *d = gql_parse(b->text, b->len, NULL, &e);
        if (d && gql_validate(b->schema, d, NULL, &e) == 0) {
            gql_buf out;
            gql_buf_init(&out, 0);
            gql_execute_sync(b->schema, d, &b->opts, &out);
            b->sink += out.len;
            gql_buf_free(&out);
        }
        gql_document_free(d);
        break;
    }
    }
    gql_errors_free(&e);
}

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    gql_sdl_file files[MAX_SCHEMAS];
    size_t nfiles = 0;
    const char *query = NULL, *root = NULL, *vars = NULL, *phase_name = NULL;
    long samples = 15, min_ms = 50, iterations = -1;
    bench b;
    memset(&b, 0, sizeof b);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "gql_bench: %s needs a value\n", a);
            return 64;
        }
        i++;
        if (!strcmp(a, "--schema") && nfiles < MAX_SCHEMAS) {
            files[nfiles].name = v;
            files[nfiles].text = read_file(v, &files[nfiles].len);
            nfiles++;
        } else if (!strcmp(a, "--query"))
            query = v;
        else if (!strcmp(a, "--root"))
            root = v;
        else if (!strcmp(a, "--variables"))
            vars = v;
        else if (!strcmp(a, "--operation"))
            b.opts.operation_name = v;
        else if (!strcmp(a, "--phase"))
            phase_name = v;
        else if (!strcmp(a, "--samples"))
            samples = strtol(v, NULL, 10);
        else if (!strcmp(a, "--min-ms"))
            min_ms = strtol(v, NULL, 10);
        else if (!strcmp(a, "--iterations"))
            iterations = strtol(v, NULL, 10);
        else {
            fprintf(stderr, "gql_bench: unknown option %s\n", a);
            return 64;
        }
    }
    if (!nfiles || !query || !phase_name || samples < 1) {
        fputs("usage: gql_bench --schema FILE... --query FILE [--root FILE] [--variables FILE]\n"
              "                 [--operation NAME] --phase parse|validate|execute|all\n"
              "                 [--samples K] [--min-ms MS] [--iterations N]\n",
              stderr);
        return 64;
    }
    static const char *const names[] = {"parse", "validate", "execute", "all"};
    b.ph = (phase)4;
    for (int p = 0; p < 4; p++)
        if (!strcmp(phase_name, names[p]))
            b.ph = (phase)p;
    if ((int)b.ph == 4) {
        fprintf(stderr, "gql_bench: unknown phase %s\n", phase_name);
        return 64;
    }

    gql_errors e;
    gql_errors_init(&e);
    gql_schema *s = gql_schema_build(files, nfiles, NULL, &e);
    if (!s)
        die_errors("schema", &e);
    b.schema = s;
    b.text = read_file(query, &b.len);
    b.doc = gql_parse(b.text, b.len, NULL, &e);
    if (!b.doc)
        die_errors("parse", &e);
    if (gql_validate(s, b.doc, NULL, &e))
        die_errors("validate", &e);
    b.opts.root = root ? read_json(root) : NULL;
    b.opts.variables = vars ? read_json(vars) : NULL;
    /* the response must be a successful one, or the benchmark measures errors */
    {
        gql_buf out;
        gql_buf_init(&out, 0);
        gql_execute_sync(s, b.doc, &b.opts, &out);
        if (out.len < 9 || memcmp(out.data, "{\"data\":{", 9) != 0) {
            fprintf(stderr, "gql_bench: execution has errors: %.500s\n", gql_buf_cstr(&out));
            return 1;
        }
        gql_buf_free(&out);
    }

    run_once(&b);
    if (iterations >= 0) {
        for (long i = 0; i < iterations; i++)
            run_once(&b);
    } else {
        /* calibrate: double the loop until it lasts min_ms */
        long n = 1;
        for (;;) {
            double t0 = now_ns();
            for (long i = 0; i < n; i++)
                run_once(&b);
            if (now_ns() - t0 >= (double)min_ms * 1e6 || n >= (1L << 30))
                break;
            n *= 2;
        }
        double *per = malloc((size_t)samples * sizeof *per);
        if (!per)
            return 1;
        for (long k = 0; k < samples; k++) {
            double t0 = now_ns();
            for (long i = 0; i < n; i++)
                run_once(&b);
            per[k] = (now_ns() - t0) / (double)n;
        }
        qsort(per, (size_t)samples, sizeof *per, cmp_double);
        printf("{\"median_ns\":%.1f,\"min_ns\":%.1f,\"iterations\":%ld,\"samples\":%ld}\n", per[samples / 2], per[0], n,
               samples);
        free(per);
    }
    if (b.sink == 0)
        fputs("gql_bench: nothing was measured\n", stderr);

    json_decref(b.opts.root);
    json_decref(b.opts.variables);
    gql_document_free(b.doc);
    free((char *)b.text);
    gql_schema_unref(s);
    gql_errors_free(&e);
    for (size_t i = 0; i < nfiles; i++)
        free((char *)files[i].text);
    return 0;
}
