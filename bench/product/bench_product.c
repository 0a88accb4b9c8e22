/*
 * The product service's benchmark: requests per second for a cached product read, a
 * cached list page and an uncached search, each beside a raw h2o "hello" (bench_hello)
 * measured on the same machine in the same run — the ceiling of an h2o server on one
 * loop. Everything runs locally: FerretDB (SQLite) and Redis started by the test harness,
 * the category and product services, wrk as the client.
 *
 * Settings (environment): BENCH_PRODUCTS (catalog size, default 1000), BENCH_DURATION
 * (seconds per scenario, default 10), BENCH_CONNECTIONS (default 32), BENCH_THREADS (wrk
 * threads, default 2), BENCH_WORKERS (WORKERS of the product service, default 1).
 * Prints figures; asserts nothing about speed. Build with -DCMAKE_BUILD_TYPE=Release
 * (bench/product/run does).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"

static long env_long(const char *v, long def)
{
    return v != NULL && *v != '\0' ? strtol(v, NULL, 10) : def;
}

typedef struct result {
    const char *name;
    double rps, avg_ms, p99_ms;
    long non2xx, requests;
} result_t;

/* "1.23ms", "456.00us", "1.02s" → milliseconds */
static double to_ms(const char *s)
{
    char *end;
    double v = strtod(s, &end);
    if (strncmp(end, "us", 2) == 0)
        return v / 1000.0;
    if (strncmp(end, "ms", 2) == 0)
        return v;
    if (*end == 's')
        return v * 1000.0;
    if (*end == 'm')
        return v * 60000.0;
    return v;
}

/* Runs wrk and reads its summary. */
static int run_wrk(const char *url, const char *script, int threads, int conns, int secs, result_t *r)
{
    int fds[2];
    if (pipe(fds) != 0)
        return -1;
    char t[16], c[16], d[16];
    snprintf(t, sizeof(t), "-t%d", threads);
    snprintf(c, sizeof(c), "-c%d", conns);
    snprintf(d, sizeof(d), "-d%ds", secs);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        if (script != NULL)
            execlp("wrk", "wrk", t, c, d, "--latency", "-s", script, url, (char *)NULL);
        else
            execlp("wrk", "wrk", t, c, d, "--latency", url, (char *)NULL);
        perror("wrk");
        _exit(127);
    }
    close(fds[1]);
    char out[16384];
    size_t n = 0;
    ssize_t k;
    while (n < sizeof(out) - 1 && (k = read(fds[0], out + n, sizeof(out) - 1 - n)) > 0)
        n += (size_t)k;
    out[n] = '\0';
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "wrk failed:\n%s\n", out);
        return -1;
    }
    const char *p;
    if ((p = strstr(out, "Requests/sec:")) != NULL)
        r->rps = strtod(p + 13, NULL);
    if ((p = strstr(out, "Latency")) != NULL) {
        char v[32];
        if (sscanf(p + 7, " %31s", v) == 1)
            r->avg_ms = to_ms(v);
    }
    if ((p = strstr(out, " 99%")) != NULL) {
        char v[32];
        if (sscanf(p + 4, " %31s", v) == 1)
            r->p99_ms = to_ms(v);
    }
    if ((p = strstr(out, "Non-2xx or 3xx responses:")) != NULL)
        r->non2xx = strtol(p + 25, NULL, 10);
    if ((p = strstr(out, " requests in ")) != NULL) {
        const char *q = p;
        while (q > out && q[-1] != '\n')
            --q;
        r->requests = strtol(q, NULL, 10);
    }
    return 0;
}

static const char *const NOUNS[] = {"Kettle", "Lamp", "Speaker", "Jacket", "Novel", "Camera", "Chair", "Backpack", "Mug",
                                    "Headphones", "Blender", "Tent", "Helmet", "Puzzle", "Vase", "Skillet"};
static const char *const ADJS[] = {"Wireless", "Steel", "Cotton", "Compact", "Classic", "Premium", "Travel", "Garden",
                                   "Leather", "Smart", "Organic", "Mini", "Pro", "Vintage", "Urban", "Nordic"};

int main(void)
{
    long nproducts = env_long(getenv("BENCH_PRODUCTS"), 1000), secs = env_long(getenv("BENCH_DURATION"), 10);
    long conns = env_long(getenv("BENCH_CONNECTIONS"), 32), threads = env_long(getenv("BENCH_THREADS"), 2);
    long workers = env_long(getenv("BENCH_WORKERS"), 1);
    if (nproducts < 1 || secs < 1 || conns < 1 || threads < 1 || workers < 1) {
        fprintf(stderr, "BENCH_PRODUCTS, BENCH_DURATION, BENCH_CONNECTIONS, BENCH_THREADS and BENCH_WORKERS are positive\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return 1;
    static char level[] = "LOG_LEVEL=warn";
    mh_service_t *cat = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true, .env = (const char *const[]){level, NULL}});
    if (cat == NULL)
        return 1;
    char cat_env[128], workers_env[32];
    snprintf(cat_env, sizeof(cat_env), "CATEGORY_URL=%s", mh_service_url(cat));
    snprintf(workers_env, sizeof(workers_env), "WORKERS=%ld", workers);
    mh_service_t *prod = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .valgrind = -1,
                                                                               .env = (const char *const[]){cat_env, workers_env, level, NULL}});
    if (prod == NULL)
        return 1;
    uint16_t hello_port = mh_free_port();
    char port[16];
    snprintf(port, sizeof(port), "%u", (unsigned)hello_port);
    pid_t hello = fork();
    if (hello == 0) {
        execl(BENCH_BIN_DIR "/bench_hello", "bench_hello", port, (char *)NULL);
        _exit(127);
    }

    /* the catalog: 8 categories, nproducts products, created 16 at a time */
    char *admin = mh_token(MH_TEST_USER_ID, "admin");
    char cats[8][25];
    for (int i = 0; i < 8; ++i) {
        char name[32];
        snprintf(name, sizeof(name), "Bench Category %d", i);
        mh_response_t r = mh_send("POST", mh_url(cat, "/api/categories"), admin, json_pack("{s:s}", "name", name));
        if (r.status != 201) {
            fprintf(stderr, "creating a category: %ld %s\n", r.status, r.body);
            return 1;
        }
        snprintf(cats[i], 25, "%s", json_string_value(json_object_get(r.json, "id")));
        mh_response_free(&r);
    }
    fprintf(stderr, "bench: creating %ld products...\n", nproducts);
    char first_id[25] = "";
    char(*all_ids)[25] = calloc((size_t)nproducts, sizeof(*all_ids));
    if (all_ids == NULL)
        return 1;
    enum { BATCH = 16 };
    static mh_request_t reqs[BATCH];
    static mh_response_t res[BATCH];
    static char bodies[BATCH][512], url[256], auth[2048];
    snprintf(url, sizeof(url), "%s", mh_url(prod, "/api/products"));
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", admin);
    const char *hdrs[] = {auth, "Content-Type: application/json", NULL};
    unsigned seed = 20261121;
    for (long done = 0; done < nproducts;) {
        size_t n = 0;
        for (; n < BATCH && done + (long)n < nproducts; ++n) {
            long i = done + (long)n;
            seed = seed * 1103515245u + 12345u;
            snprintf(bodies[n], sizeof(bodies[n]),
                     "{\"name\":\"%s %s %s %ld\",\"description\":\"A %s %s for everyday use, built to last.\","
                     "\"price\":%u,\"categoryId\":\"%s\",\"tags\":[\"%s\"],\"stock\":%u,"
                     "\"sellerId\":\"64b7f0c2a1b2c3d4e5f600a%ld\"}",
                     ADJS[i % 16], ADJS[(i / 16) % 16], NOUNS[(i / 3) % 16], i, ADJS[i % 16], NOUNS[(i / 3) % 16],
                     500 + (seed >> 8) % 50000, cats[i % 8], i % 2 ? "sale" : "new", (seed >> 4) % 100, i % 4);
            reqs[n] = (mh_request_t){.method = "POST", .url = url, .body = bodies[n], .headers = hdrs, .timeout_ms = 60000};
        }
        mh_http_parallel(reqs, n, res);
        for (size_t k = 0; k < n; ++k) {
            if (res[k].status != 201) {
                fprintf(stderr, "creating a product: %ld %s\n", res[k].status, res[k].body);
                return 1;
            }
            snprintf(all_ids[done + (long)k], 25, "%s", json_string_value(json_object_get(res[k].json, "id")));
            if (first_id[0] == '\0')
                memcpy(first_id, all_ids[0], 25);
            mh_response_free(&res[k]);
        }
        done += (long)n;
    }

    char hello_url[64], get_url[256], list_url[256], search_url[256];
    snprintf(hello_url, sizeof(hello_url), "http://127.0.0.1:%u/", (unsigned)hello_port);
    snprintf(get_url, sizeof(get_url), "%s", mh_url(prod, "/api/products/"));
    strncat(get_url, first_id, sizeof(get_url) - strlen(get_url) - 1);
    snprintf(list_url, sizeof(list_url), "%s", mh_url(prod, "/api/products?limit=20"));
    snprintf(search_url, sizeof(search_url), "%s", mh_service_url(prod));
    /* every product in the product cache, as in a steady state (the search pages are the
     * uncached part) */
    for (long i = 0; i < nproducts; i += 100) {
        char burl[4096];
        int n = snprintf(burl, sizeof(burl), "%s/api/products/batch?ids=", mh_service_url(prod));
        for (long k = i; k < nproducts && k < i + 100; ++k)
            n += snprintf(burl + n, sizeof(burl) - (size_t)n, "%s%s", k > i ? "," : "", all_ids[k]);
        mh_response_t r = mh_get(burl, NULL);
        mh_response_free(&r);
    }
    free(all_ids);
    /* warm the caches the cached scenarios read */
    for (int i = 0; i < 3; ++i) {
        mh_response_t r = mh_get(get_url, NULL);
        mh_response_free(&r);
        r = mh_get(list_url, NULL);
        mh_response_free(&r);
    }
    result_t results[4] = {{.name = "h2o hello (the ceiling)"},
                           {.name = "product by id, cached"},
                           {.name = "list page of 20, cached"},
                           {.name = "search, uncached (every query new)"}};
    const char *urls[4] = {hello_url, get_url, list_url, search_url};
    for (int i = 0; i < 4; ++i) {
        fprintf(stderr, "bench: %s...\n", results[i].name);
        if (run_wrk(urls[i], i == 3 ? BENCH_SOURCE_DIR "/search.lua" : NULL, (int)threads, (int)conns, (int)secs, &results[i]) != 0)
            return 1;
    }
    printf("\nproduct service, %ld products, FerretDB %s + Redis, WORKERS=%ld; wrk -t%ld -c%ld -d%lds, same machine, same run\n\n",
           nproducts, "(SQLite)", workers, threads, conns, secs);
    printf("%-36s %12s %12s %12s %10s %10s\n", "scenario", "requests/s", "avg latency", "p99 latency", "non-2xx", "vs hello");
    for (int i = 0; i < 4; ++i)
        printf("%-36s %12.0f %10.2fms %10.2fms %10ld %9.1f%%\n", results[i].name, results[i].rps, results[i].avg_ms,
               results[i].p99_ms, results[i].non2xx, results[0].rps > 0 ? 100.0 * results[i].rps / results[0].rps : 0);
    printf("\n");
    free(admin);
    kill(hello, SIGTERM);
    waitpid(hello, NULL, 0);
    int rc = mh_service_stop(prod) == 0 && mh_service_stop(cat) == 0 ? 0 : 1;
    return rc;
}
