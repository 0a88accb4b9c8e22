/*
 * Live order tracking under load (issue 10's scenario S1): how many subscribers one
 * gateway process holds, the memory each WebSocket costs it, and how long an order event
 * takes from Redis to the subscriber while a stream of them is published. Prints
 * figures; it asserts nothing.
 *
 *   bench_subscriptions [clients (default 10000)] [events per second (default 1000)]
 *                       [seconds of stream (default 20)]
 *
 * This program starts Redis and one gateway process (no service: the subscription's
 * selection set is answered from the event itself, so what is measured is the gateway's
 * WebSocket and event path, not an upstream), raises the file-descriptor limit for both
 * sides, and hands over to bench.mjs (next to this file), which opens the WebSockets with
 * the npm `ws` client — each a customer of its own following its own order — publishes
 * the events on Redis and measures. The clients and the publisher share one process and
 * one clock, so a latency is "received" minus "just before the PUBLISH was written".
 *
 * Environment: BENCH_WORKERS sets the gateway's WORKERS (default 1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include "harness.h"

/* What the gateway logged at warn or error during the run (lost Redis connection, dropped
 * events, slow clients closed): figures without it would hide why events went missing. */
static void print_gateway_warnings(const char *log)
{
    FILE *f = log != NULL ? fopen(log, "r") : NULL;
    if (f == NULL)
        return;
    char line[2048];
    unsigned n = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        if (strstr(line, "\"level\":\"warn") == NULL && strstr(line, "\"level\":\"error") == NULL)
            continue;
        if (n++ < 20)
            fprintf(stderr, "gateway log: %s", line);
    }
    fclose(f);
    fprintf(stderr, "gateway log: %u warnings and errors during the run\n", n);
}

int main(int argc, char **argv)
{
    long clients = argc > 1 ? atol(argv[1]) : 10000;
    long rate = argc > 2 ? atol(argv[2]) : 1000;
    long seconds = argc > 3 ? atol(argv[3]) : 20;
    if (clients < 1 || clients > 1000000 || rate < 1 || rate > 1000000 || seconds < 1 || seconds > 3600) {
        fprintf(stderr, "usage: %s [clients] [events per second] [seconds]\n", argv[0]);
        return 2;
    }
    /* every WebSocket is a descriptor on each side; children inherit the limit */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)clients + 200 > rl.rlim_cur)
            fprintf(stderr, "note: the file-descriptor limit is %llu: expect refusals above about %llu clients\n",
                    (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_cur - 200);
    }
    setenv("MERCATO_HARNESS_LOG_LEVEL", "warn", 0);
    const char *workers = getenv("BENCH_WORKERS") ? getenv("BENCH_WORKERS") : "1";
    char wenv[64], cenv[64];
    snprintf(wenv, sizeof(wenv), "WORKERS=%s", workers);
    snprintf(cenv, sizeof(cenv), "GATEWAY_WS_MAX_CONNECTIONS=%ld", clients + 100);
    if (mh_redis_start() != 0)
        return 1;
    const char *genv[] = {wenv, cenv, NULL};
    mh_service_t *gw = mh_gateway_start(genv);
    if (gw == NULL)
        return 1;

    json_t *config = json_pack("{s:s,s:i,s:i,s:{s:s,s:s,s:s},s:I,s:I,s:I,s:s}", "gateway", mh_service_url(gw),
                               "gatewayPid", (int)mh_service_pid(gw), "redisPort", (int)mh_redis_port(), "jwt", "secret",
                               MH_JWT_SECRET, "issuer", MH_JWT_ISSUER, "audience", MH_JWT_AUDIENCE, "clients",
                               (json_int_t)clients, "rate", (json_int_t)rate, "seconds", (json_int_t)seconds,
                               "workers", workers);
    char path[1024];
    snprintf(path, sizeof(path), "%s/bench-subscriptions.json", mh_tmpdir());
    if (config == NULL || json_dump_file(config, path, 0) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        return 1;
    }
    json_decref(config);
    const char *script = MC_BENCH_DIR "/bench.mjs";
    const char *nargv[] = {"node", script, path, NULL};
    int rc = mh_run(nargv);
    print_gateway_warnings(mh_service_log(gw));
    if (mh_service_stop(gw) != 0)
        fprintf(stderr, "the gateway did not stop cleanly (see its log above)\n");
    return rc == 0 ? 0 : 1;
}
