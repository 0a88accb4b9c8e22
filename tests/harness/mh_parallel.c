/*
 * Requests at the same moment, for concurrency tests (the product service's stock
 * reservations first): each request gets its own thread, and every thread waits at a
 * barrier until all are ready, so the requests leave together rather than in the order
 * the threads happened to start.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "harness.h"

typedef struct mh_par {
    const mh_request_t *req;
    mh_response_t *res;
    pthread_barrier_t *go;
    int rc;
} mh_par_t;

static void *run_one(void *arg)
{
    mh_par_t *p = arg;
    pthread_barrier_wait(p->go);
    p->rc = mh_http(p->req, p->res);
    return NULL;
}

int mh_http_parallel(const mh_request_t *reqs, size_t n, mh_response_t *res)
{
    if (n == 0)
        return 0;
    if (mh_init() != 0)
        return -1;
    pthread_barrier_t go;
    if (pthread_barrier_init(&go, NULL, (unsigned)n) != 0)
        return -1;
    mh_par_t *ps = calloc(n, sizeof(*ps));
    pthread_t *ts = calloc(n, sizeof(*ts));
    if (ps == NULL || ts == NULL) {
        free(ps);
        free(ts);
        pthread_barrier_destroy(&go);
        return -1;
    }
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    size_t started = 0;
    int rc = 0;
    for (size_t i = 0; i < n; ++i) {
        ps[i] = (mh_par_t){&reqs[i], &res[i], &go, -1};
        if (pthread_create(&ts[i], &attr, run_one, &ps[i]) != 0) {
            /* cannot start them all: nobody may wait for the missing ones */
            abort();
        }
        ++started;
    }
    for (size_t i = 0; i < started; ++i) {
        pthread_join(ts[i], NULL);
        if (ps[i].rc != 0)
            rc = -1;
    }
    pthread_attr_destroy(&attr);
    pthread_barrier_destroy(&go);
    free(ps);
    free(ts);
    return rc;
}
