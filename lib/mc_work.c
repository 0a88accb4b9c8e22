/*
 * Implementation of mc_work.h: a thin layer over uv_queue_work that owns the uv_work_t
 * and, for requests, the reference that keeps the request alive while the work runs.
 */
#include <stdlib.h>
#include "mc_req.h"
#include "mc_server.h"
#include "mc_work.h"

/* One queued piece of work; freed on the loop after `done`. */
typedef struct mc_work_job {
    uv_work_t uv;   /* first member: the uv_work_t pointer is the job pointer */
    mc_work_fn work;
    mc_work_done_fn done;
    mc_work_req_done_fn req_done;
    mc_req_t *req;  /* retained while queued, for mc_work_submit_req */
    void *arg;
} mc_work_job_t;

static void work_cb(uv_work_t *uv)
{
    mc_work_job_t *j = (mc_work_job_t *)uv;
    j->work(j->arg);
}

static void after_cb(uv_work_t *uv, int status)
{
    mc_work_job_t *j = (mc_work_job_t *)uv;
    (void)status; /* always 0: nothing cancels our work (the uv_work_t is private) */
    if (j->req != NULL) {
        j->req_done(j->req, j->arg);
        mc_req_release(j->req);
    } else {
        j->done(j->arg);
    }
    free(j);
}

static int submit(uv_loop_t *loop, mc_work_job_t *j)
{
    if (uv_queue_work(loop, &j->uv, work_cb, after_cb) != 0) {
        free(j);
        return -1;
    }
    return 0;
}

int mc_work_submit(uv_loop_t *loop, mc_work_fn work, mc_work_done_fn done, void *arg)
{
    if (loop == NULL || work == NULL || done == NULL)
        return -1;
    mc_work_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    j->work = work;
    j->done = done;
    j->arg = arg;
    return submit(loop, j);
}

int mc_work_submit_req(mc_req_t *req, mc_work_fn work, mc_work_req_done_fn done, void *arg)
{
    if (req == NULL || work == NULL || done == NULL)
        return -1;
    mc_work_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return -1;
    j->work = work;
    j->req_done = done;
    j->req = req;
    j->arg = arg;
    mc_req_retain(req);
    if (submit(mc_worker_loop(mc_req_worker(req)), j) != 0) {
        mc_req_release(req);
        return -1;
    }
    return 0;
}
