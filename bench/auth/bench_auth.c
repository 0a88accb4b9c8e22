/*
 * Auth benchmark: what a client and the other services see.
 *
 *   1. Access-token verification (lib/mc_jwt, what every service and the gateway run for
 *      every request): verifications per second on one thread, HS256 and RS256.
 *   2. Logins per second through the auth service over HTTP, with real FerretDB and Redis,
 *      from 8 concurrent clients: each login costs one Argon2id verification
 *      (m=19 MiB, t=2, p=1 by default), so this figure is bounded by design — by the CPU
 *      and HASH_CONCURRENCY — and the Argon2id cost alone is printed beside it.
 *   3. Refreshes per second (no Argon2: database-bound), for comparison.
 *
 *   bench_auth [seconds per measurement, default 5]
 */
#include <argon2.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"
#include "mc_jwt.h"
#include "mc_util.h"

#define CLIENTS 8
#define USERS 16

static double now_s(void)
{
    return (double)mc_mono_ns() / 1e9;
}

static double verify_rate(const char *alg, const char *key, const char *priv, double seconds)
{
    char err[200];
    mc_jwt_t *j = mc_jwt_create(alg, key, strlen(key), priv, priv ? strlen(priv) : 0, MH_JWT_ISSUER, MH_JWT_AUDIENCE, 30, 900,
                                err, sizeof(err));
    if (j == NULL) {
        fprintf(stderr, "bench: %s\n", err);
        exit(1);
    }
    int64_t now = mc_now_ms() / 1000;
    char *tok = mc_jwt_sign_access(j, MH_TEST_USER_ID, MC_ROLE_CUSTOMER, now, NULL);
    size_t len = strlen(tok);
    mc_claims_t c;
    long n = 0;
    double start = now_s(), end = start + seconds;
    while (now_s() < end) {
        for (int i = 0; i < 200; ++i)
            if (mc_jwt_verify(j, tok, len, now, &c, NULL) != 0) {
                fprintf(stderr, "bench: verification failed\n");
                exit(1);
            }
        n += 200;
    }
    double rate = (double)n / (now_s() - start);
    free(tok);
    mc_jwt_free(j);
    return rate;
}

typedef struct load {
    const char *url;
    const char *emails[USERS];
    char refresh[CLIENTS][64];
    bool do_refresh;
    double end;
    atomic_long ok, failed;
} load_t;

static load_t L;

static void *client(void *arg)
{
    int id = (int)(intptr_t)arg;
    for (int i = id; now_s() < L.end; i += CLIENTS) {
        json_t *body = L.do_refresh ? json_pack("{s:s}", "refreshToken", L.refresh[id])
                                    : json_pack("{s:s,s:s}", "email", L.emails[i % USERS], "password", "benchmark password");
        mh_request_t req = {.method = "POST", .url = L.url, .json = body};
        mh_response_t r;
        mh_http(&req, &r);
        json_decref(body);
        if (r.status == 200) {
            atomic_fetch_add(&L.ok, 1);
            if (L.do_refresh)
                snprintf(L.refresh[id], sizeof(L.refresh[id]), "%s", json_string_value(json_object_get(r.json, "refreshToken")));
        } else {
            atomic_fetch_add(&L.failed, 1);
        }
        mh_response_free(&r);
    }
    return NULL;
}

static double run_load(const char *url, bool refresh, double seconds, long *failed)
{
    L.url = url;
    L.do_refresh = refresh;
    atomic_store(&L.ok, 0);
    atomic_store(&L.failed, 0);
    double start = now_s();
    L.end = start + seconds;
    pthread_t t[CLIENTS];
    for (int i = 0; i < CLIENTS; ++i)
        pthread_create(&t[i], NULL, client, (void *)(intptr_t)i);
    for (int i = 0; i < CLIENTS; ++i)
        pthread_join(t[i], NULL);
    *failed = atomic_load(&L.failed);
    return (double)atomic_load(&L.ok) / (now_s() - start);
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 5;
    if (seconds <= 0)
        seconds = 5;
    char *pub, *priv;
    if (mh_rsa_keypair(&pub, &priv) != 0)
        return 1;
    printf("auth benchmark (%.0f s per figure)\n\n", seconds);
    printf("access-token verification, lib/mc_jwt, one thread:\n");
    printf("  HS256  %10.0f verifications/s\n", verify_rate("HS256", MH_JWT_SECRET, NULL, seconds));
    printf("  RS256  %10.0f verifications/s\n", verify_rate("RS256", pub, priv, seconds));
    fflush(stdout);

    /* Argon2id alone, the floor of a login's cost */
    char phc[256];
    unsigned char salt[16] = {0};
    double a0 = now_s();
    int hashes = 0;
    while (now_s() - a0 < 1.0 || hashes < 3) {
        argon2id_hash_encoded(2, 19456, 1, "benchmark password", 18, salt, sizeof(salt), 32, phc, sizeof(phc));
        ++hashes;
    }
    double per_hash_ms = (now_s() - a0) * 1000 / hashes;

    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return 1;
    const char *env[] = {"RATE_LIMIT_LOGIN_IP=off", "RATE_LIMIT_REGISTER_IP=off", "RATE_LIMIT_REFRESH_IP=off",
                         "LOGIN_FREE_ATTEMPTS=1000", "LOG_LEVEL=warn", NULL};
    mh_service_t *svc = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = env, .valgrind = -1});
    if (svc == NULL)
        return 1;
    static char emails[USERS][64];
    for (int i = 0; i < USERS; ++i) {
        snprintf(emails[i], sizeof(emails[i]), "bench-%d@example.com", i);
        L.emails[i] = emails[i];
        mh_response_t r = mh_send("POST", mh_url(svc, "/api/auth/register"), NULL,
                                  json_pack("{s:s,s:s,s:s}", "email", emails[i], "password", "benchmark password", "name", "Bench"));
        if (r.status != 201) {
            fprintf(stderr, "bench: register: %ld %s\n", r.status, r.body);
            return 1;
        }
        if (i < CLIENTS)
            snprintf(L.refresh[i], sizeof(L.refresh[i]), "%s", json_string_value(json_object_get(r.json, "refreshToken")));
        mh_response_free(&r);
    }
    long failed;
    char url[128];
    snprintf(url, sizeof(url), "%s", mh_url(svc, "/api/auth/login"));
    double logins = run_load(url, false, seconds, &failed);
    printf("\nthrough the service (HTTP, FerretDB, Redis; %d clients, WORKERS=1, HASH_CONCURRENCY=4):\n", CLIENTS);
    printf("  logins     %8.1f /s  (%ld refused)   Argon2id m=19456 t=2 p=1 alone: %.1f ms per hash on one core\n", logins,
           failed, per_hash_ms);
    snprintf(url, sizeof(url), "%s", mh_url(svc, "/api/auth/refresh"));
    double refreshes = run_load(url, true, seconds, &failed);
    printf("  refreshes  %8.1f /s  (%ld refused)   no Argon2: database round trips only\n", refreshes, failed);
    free(pub);
    free(priv);
    return mh_service_stop(svc) == 0 ? 0 : 1;
}
