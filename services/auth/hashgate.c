/*
 * Implementation of hashgate.h.
 */
#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>
#include "config.h"
#include "hashgate.h"
#include "mc_log.h"
#include "mc_work.h"
#include "service.h"
#include "tokens.h"

/* A request waiting for a free slot. */
typedef struct waiter {
    mc_req_t *req;
    auth_hash_job_t *job;
    auth_hash_done_cb done;
    struct waiter *next;
} waiter_t;

struct auth_hashgate {
    unsigned limit, queue_max;
    unsigned running, queued;
    waiter_t *head, *tail;
};

/* A PHC string of a random password, made with the configured parameters: verifying
 * against it costs what verifying a real hash costs. */
static char dummy_phc[AUTH_PHC_MAX];

int auth_hash_init_dummy(void)
{
    const auth_config_t *c = auth_cfg();
    auth_argon2_t p = {c->argon2_m_kib, c->argon2_t, c->argon2_p};
    char pw[AUTH_TOKEN_CHARS + 1];
    auth_token_new(pw);
    int r = auth_password_hash(&p, pw, strlen(pw), dummy_phc);
    OPENSSL_cleanse(pw, sizeof(pw));
    return r;
}

auth_hashgate_t *auth_hashgate_create(unsigned limit, unsigned queue)
{
    auth_hashgate_t *g = calloc(1, sizeof(*g));
    if (g != NULL) {
        g->limit = limit > 0 ? limit : 1;
        g->queue_max = queue;
    }
    return g;
}

void auth_hashgate_free(auth_hashgate_t *g)
{
    free(g); /* the worker ends after its last request: nobody waits any more */
}

static char *dup_secret(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d != NULL) {
        memcpy(d, s, len);
        d[len] = '\0';
    }
    return d;
}

static void wipe(char **p, size_t len)
{
    if (*p != NULL) {
        OPENSSL_cleanse(*p, len);
        free(*p);
        *p = NULL;
    }
}

/* On the thread pool. */
static void hash_work(void *arg)
{
    auth_hash_job_t *j = ((waiter_t *)arg)->job;
    const auth_config_t *c = auth_cfg();
    auth_argon2_t params = {c->argon2_m_kib, c->argon2_t, c->argon2_p};
    if (j->verify) {
        if (j->phc != NULL) {
            j->verified = auth_password_verify(j->phc, j->_pw, j->password_len);
        } else {
            auth_password_verify(dummy_phc, j->_pw, j->password_len);
            j->verified = 0;
        }
        if (j->verified == 1 && j->rehash_on_match && j->_newpw == NULL && auth_password_needs_rehash(j->phc, &params)) {
            j->have_new = auth_password_hash(&params, j->_pw, j->password_len, j->new_phc) == 0;
            j->failed = !j->have_new;
        }
    }
    if (j->_newpw != NULL && (!j->verify || j->verified == 1)) { /* no new hash for a wrong password */
        j->have_new = auth_password_hash(&params, j->_newpw, j->new_password_len, j->new_phc) == 0;
        j->failed = !j->have_new;
    }
}

static void start(mc_req_t *req, auth_hash_job_t *job, auth_hash_done_cb done);

static void hash_done(mc_req_t *req, void *arg)
{
    waiter_t *wt = arg;
    auth_hash_job_t *j = wt->job;
    auth_hashgate_t *g = auth_worker_of(req)->hashgate;
    wipe(&j->_pw, j->password_len);
    wipe(&j->_newpw, j->new_password_len);
    --g->running;
    /* The next waiter first: its hash starts before this request's continuation runs. */
    while (g->head != NULL && g->running < g->limit) {
        waiter_t *next = g->head;
        g->head = next->next;
        if (g->head == NULL)
            g->tail = NULL;
        --g->queued;
        if (mc_req_gone(next->req)) { /* its client left while it waited: skip the work */
            wipe(&next->job->_pw, next->job->password_len);
            wipe(&next->job->_newpw, next->job->new_password_len);
            mc_respond_error(next->req, MC_ERR_UNAVAILABLE, NULL, "the client went away");
        } else {
            start(next->req, next->job, next->done);
        }
        mc_req_release(next->req);
        free(next);
    }
    auth_hash_done_cb done = wt->done;
    free(wt);
    done(req, j);
}

static void start(mc_req_t *req, auth_hash_job_t *job, auth_hash_done_cb done)
{
    auth_hashgate_t *g = auth_worker_of(req)->hashgate;
    waiter_t *wt = calloc(1, sizeof(*wt));
    if (wt != NULL) {
        wt->job = job;
        wt->done = done;
        ++g->running;
        if (mc_work_submit_req(req, hash_work, hash_done, wt) == 0)
            return;
        --g->running;
        free(wt);
    }
    wipe(&job->_pw, job->password_len);
    wipe(&job->_newpw, job->new_password_len);
    mc_respond_error(req, MC_ERR_INTERNAL, NULL, "could not start hashing");
}

void auth_hash_run(mc_req_t *req, auth_hash_job_t *job, auth_hash_done_cb done)
{
    auth_hashgate_t *g = auth_worker_of(req)->hashgate;
    job->verified = 0;
    job->have_new = job->failed = false;
    job->_pw = job->verify ? dup_secret(job->password, job->password_len) : NULL;
    job->_newpw = job->new_password != NULL ? dup_secret(job->new_password, job->new_password_len) : NULL;
    if ((job->verify && job->_pw == NULL) || (job->new_password != NULL && job->_newpw == NULL)) {
        wipe(&job->_pw, job->password_len);
        wipe(&job->_newpw, job->new_password_len);
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "out of memory");
        return;
    }
    if (g->running < g->limit) {
        start(req, job, done);
        return;
    }
    if (g->queued >= g->queue_max) {
        wipe(&job->_pw, job->password_len);
        wipe(&job->_newpw, job->new_password_len);
        mc_log(MC_LOG_WARN, mc_req_id(req), "password hashing is saturated; refusing a request");
        mc_req_add_header(req, "retry-after", "1");
        mc_respond_error(req, MC_ERR_UNAVAILABLE, NULL, "the service is busy; retry in a moment");
        return;
    }
    waiter_t *wt = calloc(1, sizeof(*wt));
    if (wt == NULL) {
        wipe(&job->_pw, job->password_len);
        wipe(&job->_newpw, job->new_password_len);
        mc_respond_error(req, MC_ERR_INTERNAL, NULL, "out of memory");
        return;
    }
    *wt = (waiter_t){req, job, done, NULL};
    mc_req_retain(req);
    if (g->tail != NULL)
        g->tail->next = wt;
    else
        g->head = wt;
    g->tail = wt;
    ++g->queued;
}
