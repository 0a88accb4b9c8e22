/*
 * The gateway's harness helpers (harness.h, "gateway"): starting the gateway on the
 * repository's schema, GraphQL requests, JSON paths, counting upstream calls in the
 * services' access logs, and running the Node tools the conformance tests drive.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

const char *mh_source_path(const char *rel)
{
    static char ring[16][1024];
    static unsigned next;
    char *out = ring[next++ % 16];
    snprintf(out, sizeof(ring[0]), "%s/%s", MERCATO_SOURCE_DIR, rel);
    return out;
}

mh_service_t *mh_gateway_start(const char *const *env)
{
    static char schema[1100], playground[1100];
    snprintf(schema, sizeof(schema), "GATEWAY_SCHEMA_DIR=%s/schema", MERCATO_SOURCE_DIR);
    snprintf(playground, sizeof(playground), "GATEWAY_PLAYGROUND_DIR=%s/node_modules", MERCATO_SOURCE_DIR);
    /* Services the test does not start answer nothing: port 9 (discard) is closed. */
    const char *all[48] = {schema, playground, "AUTH_URL=http://127.0.0.1:9", "PRODUCT_URL=http://127.0.0.1:9",
                           "ORDER_URL=http://127.0.0.1:9", "CATEGORY_URL=http://127.0.0.1:9",
                           "COUPON_URL=http://127.0.0.1:9"};
    size_t n = 7;
    /* Without the harness' Redis the gateway must not find another one on the default
     * port (its rate limits would be shared with whatever runs there): port 9 again. */
    if (mh_redis_url()[0] == '\0')
        all[n++] = "REDIS_URL=redis://127.0.0.1:9";
    for (const char *const *e = env; e != NULL && *e != NULL && n < 46; ++e)
        all[n++] = *e;
    all[n] = NULL;
    return mh_service_start("mercato-gateway", &(mh_service_opts_t){.env = all});
}

json_t *mh_gql(const mh_service_t *gw, const char *token, const char *query, json_t *variables)
{
    json_t *body = json_pack("{s:s}", "query", query);
    if (variables != NULL)
        json_object_set_new(body, "variables", variables);
    mh_request_t rq = {.method = "POST", .url = mh_url(gw, "/graphql"), .token = token, .json = body};
    mh_response_t r;
    memset(&r, 0, sizeof(r));
    int rc = mh_http(&rq, &r);
    json_decref(body);
    if (rc != 0 || r.status != 200 || r.json == NULL) {
        fprintf(stderr, "mh_gql: %ld %s %s\nquery: %s\n", r.status, r.error, r.body ? r.body : "", query);
        mh_response_free(&r);
        fail_msg("GraphQL request failed");
    }
    json_t *out = json_incref(r.json);
    mh_response_free(&r);
    return out;
}

json_t *mh_json_at(const json_t *v, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof(buf), "%s", path);
    json_t *cur = (json_t *)v;
    for (char *save = NULL, *tok = strtok_r(buf, ".", &save); tok != NULL && cur != NULL;
         tok = strtok_r(NULL, ".", &save)) {
        if (json_is_array(cur)) {
            char *end;
            long i = strtol(tok, &end, 10);
            cur = *end == '\0' && i >= 0 ? json_array_get(cur, (size_t)i) : NULL;
        } else {
            cur = json_object_get(cur, tok);
        }
    }
    return cur;
}

json_t *mh_gql_error(const json_t *answer, const char *code)
{
    json_t *errs = json_object_get(answer, "errors");
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e)
    {
        const char *c = json_string_value(mh_json_at(e, "extensions.code"));
        if (c != NULL && strcmp(c, code) == 0)
            return e;
    }
    return NULL;
}

size_t mh_log_mark(const mh_service_t *s)
{
    FILE *fp = fopen(mh_service_log(s), "rb");
    if (fp == NULL)
        return 0;
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fclose(fp);
    return n > 0 ? (size_t)n : 0;
}

unsigned mh_log_count(const mh_service_t *s, size_t mark, const char *needle)
{
    FILE *fp = fopen(mh_service_log(s), "rb");
    if (fp == NULL)
        return 0;
    fseek(fp, (long)mark, SEEK_SET);
    unsigned n = 0;
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, fp) > 0)
        if (strstr(line, needle) != NULL)
            ++n;
    free(line);
    fclose(fp);
    return n;
}

int mh_run(const char *const *argv)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(STDERR_FILENO, STDOUT_FILENO);
        execvp(argv[0], (char *const *)argv);
        fprintf(stderr, "mh_run: %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
