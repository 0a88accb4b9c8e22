/*
 * Runs schemathesis against a live service: starts FerretDB and Redis, then the services
 * the target depends on (their URLs passed on as <NAME>_URL), then the target, and runs
 * every schemathesis check against the target's own /openapi.json with an admin token and
 * the internal key (so service-only endpoints are exercised too).
 * Exit status 0 only when schemathesis found nothing and every service then shut down
 * cleanly.
 *
 *   schemathesis_runner <service> [<dependency> …]        e.g. schemathesis_runner product category
 *
 * Every check runs but ensure_resource_availability (ST302): the stateful phase reuses ids
 * created earlier in the run that schemathesis's own DELETE tests have removed since, and
 * then reports the (correct) 404 as a created resource gone missing. Reading back what
 * was just created is asserted by each service's integration tests instead.
 *
 * MERCATO_SCHEMATHESIS_EXAMPLES sets the examples per operation (default 60). One worker:
 * Debian's Python 3.11.2 fails in ast.parse when hypothesis describes strategies from
 * several threads at once.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

#define MAX_SERVICES 6

int main(int argc, char **argv)
{
    if (argc < 2 || argc - 1 > MAX_SERVICES) {
        fprintf(stderr, "usage: %s <service> [<dependency> ...]\n", argv[0]);
        return 2;
    }
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return 1;

    /* Dependencies first, so each service finds the ones before it. */
    static char envbuf[MAX_SERVICES][128];
    const char *env[MAX_SERVICES + 1] = {NULL};
    size_t nenv = 0;
    mh_service_t *svcs[MAX_SERVICES];
    int n = 0, status = 0;
    for (int i = argc - 1; i >= 1; --i) {
        char bin[64];
        snprintf(bin, sizeof(bin), "mercato-%s", argv[i]);
        mh_service_t *s = mh_service_start(bin, &(mh_service_opts_t){.wait_ready = true, .env = env});
        if (s == NULL) {
            status = 1;
            goto Stop;
        }
        svcs[n++] = s;
        char upper[32];
        size_t k = 0;
        for (; argv[i][k] != '\0' && k < sizeof(upper) - 1; ++k)
            upper[k] = (char)toupper((unsigned char)argv[i][k]);
        upper[k] = '\0';
        snprintf(envbuf[nenv], sizeof(envbuf[nenv]), "%s_URL=%s", upper, mh_service_url(s));
        env[nenv] = envbuf[nenv];
        env[++nenv] = NULL;
    }

    mh_service_t *target = svcs[n - 1];
    char *admin = mh_token(MH_TEST_USER_ID, "admin");
    char auth[2048], schema[256], examples[16], report[512];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", admin);
    snprintf(schema, sizeof(schema), "%s/openapi.json", mh_service_url(target));
    snprintf(examples, sizeof(examples), "%s", getenv("MERCATO_SCHEMATHESIS_EXAMPLES") ? getenv("MERCATO_SCHEMATHESIS_EXAMPLES") : "60");
    snprintf(report, sizeof(report), "%s/schemathesis", mh_tmpdir());
    const char *tools = getenv("MERCATO_TOOLS");
    char exe[512];
    snprintf(exe, sizeof(exe), "%s/venv/bin/schemathesis", tools ? tools : MERCATO_SOURCE_DIR "/.tools");

    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        /* schemathesis keeps caches in its working directory: keep them out of the tree */
        if (chdir(mh_tmpdir()) != 0)
            _exit(126);
        execl(exe, exe, "run", schema, "--url", mh_service_url(target), "--checks", "all", "--exclude-checks", "ensure_resource_availability",
              "--max-examples", examples,
              "--seed", "20261121", "--generation-database", "none", "--header", auth, "--header",
              "X-Internal-Key: " MH_INTERNAL_KEY, "--no-color", "--workers", "1",
              "--request-timeout", "20", "--report", "junit", "--report-dir", report, (char *)NULL);
        perror("exec schemathesis");
        _exit(127);
    }
    int ws;
    waitpid(pid, &ws, 0);
    status = WIFEXITED(ws) ? WEXITSTATUS(ws) : 1;
    free(admin);
    if (status != 0)
        fprintf(stderr, "schemathesis reported problems with %s (exit %d)\n", argv[1], status);

Stop:
    for (int i = n - 1; i >= 0; --i)
        if (mh_service_stop(svcs[i]) != 0) {
            fprintf(stderr, "a service did not shut down cleanly\n");
            status = status ? status : 1;
        }
    if (status != 0)
        mh_dump_logs();
    return status;
}
