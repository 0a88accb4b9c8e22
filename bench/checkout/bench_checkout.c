/*
 * Checkouts per second on the default stack: FerretDB (SQLite) and Redis, the category,
 * product, coupon and order services as built, all on this machine. Prints figures; it
 * asserts nothing.
 *
 *   bench_checkout [seconds per run (default 20)] [concurrent clients (default 32)]
 *
 * For carts of 1 line and of 10 lines (and 1 line with a coupon), keeps `clients`
 * checkouts in flight (libcurl multi, keep-alive) for the given time, each a fresh
 * customer ordering from products with plenty of stock, and reports orders per second,
 * latency percentiles and errors — and, to show what limits it, the CPU time each process
 * used during the run (from /proc), as a share of the run's wall-clock time.
 *
 * Environment: BENCH_WORKERS sets WORKERS for the order and product services (default 1).
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <curl/curl.h>
#include "harness.h"

#define MAX_CLIENTS 256
#define NPRODUCTS 10
#define NTOKENS 2000

static mh_service_t *cat_svc, *prod_svc, *coupon_svc, *order_svc;
static char products[NPRODUCTS][25];
static char *tokens[NTOKENS];

/* --- CPU per process ------------------------------------------------------------------------ */

typedef struct proc_cpu {
    int pid;
    char name[64];
    double seconds;
} proc_cpu_t;

static double cpu_of(int pid, char *name, size_t namelen)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *open = strchr(buf, '('), *close = strrchr(buf, ')');
    if (open == NULL || close == NULL)
        return -1;
    snprintf(name, namelen, "%.*s", (int)(close - open - 1), open + 1);
    unsigned long utime = 0, stime = 0;
    /* fields after ")": state ppid ... utime is the 14th field overall, stime the 15th */
    char *p = close + 2;
    for (int field = 3; field < 14 && p != NULL; ++field)
        p = strchr(p, ' ') ? strchr(p, ' ') + 1 : NULL;
    if (p == NULL || sscanf(p, "%lu %lu", &utime, &stime) != 2)
        return -1;
    return (double)(utime + stime) / (double)sysconf(_SC_CLK_TCK);
}

/* The processes the harness started (children of this one), with their CPU seconds. */
static size_t snapshot(proc_cpu_t *out, size_t max)
{
    size_t n = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    int me = getpid();
    while (d != NULL && (e = readdir(d)) != NULL && n < max) {
        int pid = atoi(e->d_name);
        if (pid <= 0)
            continue;
        char path[64], buf[512];
        snprintf(path, sizeof(path), "/proc/%d/stat", pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[k] = '\0';
        char *close = strrchr(buf, ')');
        int ppid = 0;
        if (close == NULL || sscanf(close + 2, "%*c %d", &ppid) != 1 || (ppid != me && pid != me))
            continue;
        out[n].pid = pid;
        out[n].seconds = cpu_of(pid, out[n].name, sizeof(out[n].name));
        if (out[n].seconds >= 0)
            ++n;
    }
    if (d != NULL)
        closedir(d);
    return n;
}

/* --- FerretDB's own counters: commands received, by name ------------------------------------ */

static char ferret_metrics_url[128];

/* Finds FerretDB's --debug-addr among the children (the harness started it). */
static void find_ferret_debug(void)
{
    proc_cpu_t ps[64];
    size_t n = snapshot(ps, 64);
    for (size_t i = 0; i < n; ++i) {
        if (strcmp(ps[i].name, "ferretdb") != 0)
            continue;
        char path[64], buf[4096];
        snprintf(path, sizeof(path), "/proc/%d/cmdline", ps[i].pid);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        for (size_t at = 0; at < k; at += strlen(buf + at) + 1)
            if (strncmp(buf + at, "--debug-addr=", 13) == 0)
                snprintf(ferret_metrics_url, sizeof(ferret_metrics_url), "http://%s/debug/metrics", buf + at + 13);
    }
}

/* Total commands by name: {"insert": n, …} from the Prometheus text. */
static json_t *ferret_commands(void)
{
    json_t *out = json_object();
    if (ferret_metrics_url[0] == '\0')
        return out;
    mh_response_t r = mh_get(ferret_metrics_url, NULL);
    for (char *line = r.body; line != NULL && *line != '\0';) {
        char *next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        const char *cmd = strstr(line, "command=\"");
        if (strncmp(line, "ferretdb_client_requests_total{", 31) == 0 && cmd != NULL) {
            char name[64];
            if (sscanf(cmd + 9, "%63[^\"]", name) == 1) {
                double v = atof(strrchr(line, ' ') + 1);
                json_object_set_new(out, name, json_integer(json_integer_value(json_object_get(out, name)) + (json_int_t)v));
            }
        }
        line = next;
    }
    mh_response_free(&r);
    return out;
}

/* --- load ------------------------------------------------------------------------------------- */

typedef struct client {
    CURL *h;
    struct curl_slist *hdrs;
    char *body;
    uint64_t started_ns;
    char sink[64];
} client_t;

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
    return size * n;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static char *checkout_body(int lines, const char *coupon)
{
    json_t *items = json_array();
    for (int i = 0; i < lines; ++i)
        json_array_append_new(items, json_pack("{s:s,s:i}", "productId", products[i], "quantity", 1));
    json_t *b = json_pack("{s:o,s:{s:s,s:s,s:s,s:s,s:s}}", "items", items, "shippingAddress", "name", "Bench", "line1", "1 Load St",
                          "city", "Lyon", "postalCode", "69001", "country", "FR");
    if (coupon != NULL)
        json_object_set_new(b, "couponCode", json_string(coupon));
    char *s = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    return s;
}

static unsigned next_token;

static void start(CURLM *m, client_t *c, const char *url, const char *body)
{
    curl_slist_free_all(c->hdrs);
    char auth[2048];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", tokens[next_token++ % NTOKENS]);
    c->hdrs = curl_slist_append(NULL, auth);
    c->hdrs = curl_slist_append(c->hdrs, "Content-Type: application/json");
    c->hdrs = curl_slist_append(c->hdrs, "Expect:");
    curl_easy_setopt(c->h, CURLOPT_URL, url);
    curl_easy_setopt(c->h, CURLOPT_HTTPHEADER, c->hdrs);
    curl_easy_setopt(c->h, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(c->h, CURLOPT_WRITEFUNCTION, discard);
    curl_easy_setopt(c->h, CURLOPT_TIMEOUT_MS, 60000L);
    curl_easy_setopt(c->h, CURLOPT_PRIVATE, c);
    c->started_ns = now_ns();
    curl_multi_add_handle(m, c->h);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void run(const char *label, int lines, const char *coupon, int seconds, int nclients)
{
    char url[256];
    snprintf(url, sizeof(url), "%s/api/orders", mh_service_url(order_svc));
    char *body = checkout_body(lines, coupon);
    CURLM *m = curl_multi_init();
    client_t clients[MAX_CLIENTS];
    size_t cap = 1 << 20, nlat = 0;
    double *lat = malloc(cap * sizeof(double));
    long ok = 0, failed = 0, statuses[6] = {0};
    proc_cpu_t before[64], after[64];
    size_t nb = snapshot(before, 64);
    json_t *cmds_before = ferret_commands();
    uint64_t t0 = now_ns(), end = t0 + (uint64_t)seconds * 1000000000ull;
    for (int i = 0; i < nclients; ++i) {
        memset(&clients[i], 0, sizeof(clients[i]));
        clients[i].h = curl_easy_init();
        start(m, &clients[i], url, body);
    }
    int running = nclients;
    while (running > 0) {
        curl_multi_perform(m, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(m, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            client_t *c;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            long status = 0;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_RESPONSE_CODE, &status);
            double ms = (double)(now_ns() - c->started_ns) / 1e6;
            if (status == 201) {
                ++ok;
                if (nlat < cap)
                    lat[nlat++] = ms;
            } else {
                ++failed;
                statuses[status >= 100 && status < 600 ? status / 100 : 0]++;
            }
            curl_multi_remove_handle(m, c->h);
            if (now_ns() < end) {
                start(m, c, url, body);
                ++running;
            }
        }
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    double wall = (double)(now_ns() - t0) / 1e9;
    size_t na = snapshot(after, 64);
    qsort(lat, nlat, sizeof(double), cmp_double);
    printf("\n%s: %d line%s%s, %d clients, %.1f s\n", label, lines, lines > 1 ? "s" : "", coupon ? " + coupon" : "", nclients, wall);
    printf("  orders placed   %ld   (%.1f per second)\n", ok, (double)ok / wall);
    printf("  refused/failed  %ld   (4xx %ld, 5xx %ld, no answer %ld)\n", failed, statuses[4], statuses[5], statuses[0]);
    if (nlat > 0)
        printf("  latency ms      p50 %.1f   p90 %.1f   p99 %.1f   max %.1f\n", lat[nlat / 2], lat[nlat * 9 / 10], lat[nlat * 99 / 100],
               lat[nlat - 1]);
    printf("  CPU (share of one core over the run, and CPU time per order placed):\n");
    for (size_t i = 0; i < na; ++i) {
        double was = 0;
        for (size_t k = 0; k < nb; ++k)
            if (before[k].pid == after[i].pid)
                was = before[k].seconds;
        double used = after[i].seconds - was;
        if (used / wall >= 0.01)
            printf("    %-22s %5.0f %%   %6.2f ms per order\n", after[i].pid == getpid() ? "bench (load + curl)" : after[i].name,
                   100.0 * used / wall, ok > 0 ? 1000.0 * used / (double)ok : 0.0);
    }
    json_t *cmds_after = ferret_commands();
    if (ok > 0 && json_object_size(cmds_after) > 0) {
        printf("  FerretDB commands per order placed (all services):");
        const char *name;
        json_t *v;
        double total = 0;
        json_object_foreach(cmds_after, name, v)
        {
            double d = (double)(json_integer_value(v) - json_integer_value(json_object_get(cmds_before, name))) / (double)ok;
            total += d;
            if (d >= 0.05)
                printf(" %s %.1f", name, d);
        }
        printf("  (total %.1f)\n", total);
    }
    json_decref(cmds_before);
    json_decref(cmds_after);
    for (int i = 0; i < nclients; ++i) {
        curl_slist_free_all(clients[i].hdrs);
        curl_easy_cleanup(clients[i].h);
    }
    curl_multi_cleanup(m);
    free(lat);
    free(body);
}

int main(int argc, char **argv)
{
    int seconds = argc > 1 ? atoi(argv[1]) : 20;
    int nclients = argc > 2 ? atoi(argv[2]) : 32;
    if (seconds < 1 || nclients < 1 || nclients > MAX_CLIENTS) {
        fprintf(stderr, "usage: %s [seconds] [clients <= %d]\n", argv[0], MAX_CLIENTS);
        return 2;
    }
    setenv("MERCATO_HARNESS_LOG_LEVEL", "warn", 0);
    const char *workers = getenv("BENCH_WORKERS") ? getenv("BENCH_WORKERS") : "1";
    static char wenv[32];
    snprintf(wenv, sizeof(wenv), "WORKERS=%s", workers);
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return 1;
    cat_svc = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (cat_svc == NULL)
        return 1;
    static char cat_url[160], prod_url[160], coupon_url[160];
    snprintf(cat_url, sizeof(cat_url), "CATEGORY_URL=%s", mh_service_url(cat_svc));
    prod_svc = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = (const char *const[]){cat_url, wenv, NULL}});
    coupon_svc = mh_service_start("mercato-coupon", &(mh_service_opts_t){.wait_ready = true, .env = (const char *const[]){cat_url, NULL}});
    if (prod_svc == NULL || coupon_svc == NULL)
        return 1;
    snprintf(prod_url, sizeof(prod_url), "PRODUCT_URL=%s", mh_service_url(prod_svc));
    snprintf(coupon_url, sizeof(coupon_url), "COUPON_URL=%s", mh_service_url(coupon_svc));
    order_svc = mh_service_start("mercato-order",
                                 &(mh_service_opts_t){.wait_ready = true, .env = (const char *const[]){prod_url, coupon_url, wenv, NULL}});
    if (order_svc == NULL)
        return 1;

    char *admin = mh_token(MH_TEST_USER_ID, "admin");
    char seller[25];
    mh_oid(seller);
    char *seller_token = mh_token(seller, "seller");
    mh_response_t r = mh_send("POST", mh_url(cat_svc, "/api/categories"), admin, json_pack("{s:s}", "name", "Bench"));
    char cat[25];
    snprintf(cat, sizeof(cat), "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
    for (int i = 0; i < NPRODUCTS; ++i) {
        char name[32];
        snprintf(name, sizeof(name), "Bench product %d", i);
        r = mh_send("POST", mh_url(prod_svc, "/api/products"), seller_token,
                    json_pack("{s:s,s:i,s:s,s:i}", "name", name, "price", 1000 + i, "categoryId", cat, "stock", 100000000));
        if (r.status != 201) {
            fprintf(stderr, "creating a product: %ld %s\n", r.status, r.body);
            return 1;
        }
        snprintf(products[i], 25, "%s", json_string_value(json_object_get(r.json, "id")));
        mh_response_free(&r);
    }
    r = mh_send("POST", mh_url(coupon_svc, "/api/coupons"), admin, json_pack("{s:s,s:s,s:i}", "code", "BENCH5", "type", "percentage", "value", 5));
    mh_response_free(&r);
    for (int i = 0; i < NTOKENS; ++i) {
        char uid[25];
        mh_oid(uid);
        tokens[i] = mh_token(uid, "customer");
    }
    find_ferret_debug();
    printf("checkout benchmark: FerretDB (SQLite) + Redis + category, product, coupon, order; WORKERS=%s; %ld cores\n", workers,
           sysconf(_SC_NPROCESSORS_ONLN));
    run("warm-up", 1, NULL, 3, nclients);
    run("run", 1, NULL, seconds, nclients);
    run("run", 10, NULL, seconds, nclients);
    run("run", 1, "BENCH5", seconds, nclients);
    for (int i = 0; i < NTOKENS; ++i)
        free(tokens[i]);
    free(admin);
    free(seller_token);
    mh_service_stop(order_svc);
    mh_service_stop(coupon_svc);
    mh_service_stop(prod_svc);
    mh_service_stop(cat_svc);
    return 0;
}
