/*
 * mc_mongo_submit_req: a MongoDB job on behalf of an HTTP request.
 *
 * Kept apart from mc_mongo.c so that the database module does not depend on the HTTP
 * core: a tool or test that links only mc_mongo.o never pulls in mc_req.o.
 *
 * The request is retained for the job's whole life, so `done` may answer it even when the
 * client has gone meanwhile (mc_req_gone tells; the answer is then dropped).
 */
#include <stdlib.h>
#include "mc_mongo.h"
#include "mc_req.h"
#include "mc_server.h"

typedef struct req_job {
    mc_req_t *req;
    mc_mongo_work_cb work;
    mc_mongo_req_done_cb done;
    void *arg;
} req_job_t;

/* Runs on the thread pool: only the caller's work, never the request. */
static void req_job_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    req_job_t *j = arg;
    j->work(client, db, j->arg, res);
}

static void req_job_done(void *arg, const mc_mongo_result_t *res)
{
    req_job_t *j = arg;
    j->done(j->req, j->arg, res);
    mc_req_release(j->req);
    free(j);
}

int mc_mongo_submit_req(mc_req_t *req, mc_mongo_work_cb work, mc_mongo_req_done_cb done, void *arg)
{
    mc_worker_t *w = mc_req_worker(req);
    mc_mongo_t *m = mc_server_mongo(mc_req_server(req));
    if (m == NULL || work == NULL || done == NULL)
        return -1;
    req_job_t *j = malloc(sizeof(*j));
    if (j == NULL)
        return -1;
    *j = (req_job_t){req, work, done, arg};
    mc_req_retain(req);
    if (mc_mongo_submit(m, mc_worker_loop(w), req_job_work, req_job_done, j) != 0) {
        mc_req_release(req);
        free(j);
        return -1;
    }
    return 0;
}
