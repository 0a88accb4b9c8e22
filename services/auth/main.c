/*
 * The auth service (port 4001): accounts, sessions, roles and addresses for the whole
 * platform. See routes.h for the API, store.h for storage and why it is safe on FerretDB,
 * session.h for tokens, ratelimit.h for abuse resistance, mailer.h for email.
 *
 * Life cycle: main reads the configuration; init (main thread, may block) creates the
 * indexes, computes the dummy password hash and loads Google's keys; each worker gets a
 * hash gate and an in-memory rate limiter; worker 0 also runs the mail delivery loop, the
 * janitor and the Google key refresh.
 */
#include <stdlib.h>
#include "config.h"
#include "google.h"
#include "janitor.h"
#include "mailer.h"
#include "mc_jwt.h"
#include "mc_log.h"
#include "mc_server.h"
#include "ratelimit.h"
#include "routes.h"
#include "service.h"
#include "store.h"

extern const char auth_openapi_json[];
extern const size_t auth_openapi_json_len;

/* In-memory rate-limit entries per worker (used while Redis is down). */
#define LOCAL_LIMITER_SLOTS 65536

static int init(mc_server_t *srv)
{
    const mc_jwt_t *jwt = mc_server_jwt(srv);
    if (!mc_jwt_can_sign(jwt)) {
        mc_log_error("the auth service signs access tokens: set JWT_SECRET (HS256) or JWT_PRIVATE_KEY_FILE (RS256)");
        return -1;
    }
    auth_set_jwt(jwt);
    bson_error_t err;
    if (auth_store_init(mc_server_mongo(srv), &err) != 0) {
        mc_log_error("creating the auth indexes failed: %s", err.message);
        return -1;
    }
    if (auth_hash_init_dummy() != 0) {
        mc_log_error("Argon2id does not work with the configured parameters (ARGON2_*)");
        return -1;
    }
    char why[400];
    if (auth_google_load(why, sizeof(why)) != 0) {
        mc_log_error("%s", why);
        return -1;
    }
    auth_rl_global_init();
    return 0;
}

static int worker_init(mc_worker_t *w)
{
    const auth_config_t *cfg = auth_cfg();
    auth_worker_t *aw = calloc(1, sizeof(*aw));
    if (aw == NULL)
        return -1;
    aw->w = w;
    unsigned per_worker = (cfg->hash_concurrency + cfg->workers - 1) / cfg->workers;
    aw->hashgate = auth_hashgate_create(per_worker, cfg->hash_queue);
    aw->limiter = auth_limiter_create(LOCAL_LIMITER_SLOTS);
    mc_worker_set_data(w, aw);
    if (aw->hashgate == NULL || aw->limiter == NULL)
        return -1;
    if (mc_worker_index(w) == 0 &&
        (auth_mailer_start(aw) != 0 || auth_janitor_start(aw) != 0 || auth_google_refresher_start(aw) != 0))
        return -1;
    return 0;
}

static void worker_dispose(mc_worker_t *w)
{
    auth_worker_t *aw = mc_worker_data(w);
    if (aw == NULL)
        return;
    auth_mailer_stop(aw);
    auth_janitor_stop(aw);
    if (mc_worker_index(w) == 0)
        auth_google_refresher_stop(aw);
    auth_hashgate_free(aw->hashgate);
    auth_limiter_free(aw->limiter);
    free(aw);
    mc_worker_set_data(w, NULL);
}

static void dispose(mc_server_t *srv)
{
    (void)srv;
    auth_rl_global_dispose();
    auth_google_dispose();
}

int main(void)
{
    mc_config_t cfg;
    mc_config_load(&cfg, "auth", 4001);
    auth_config_load(&cfg);
    auth_mailer_global_init();
    mc_server_opts_t opts = {
        .cfg = &cfg,
        .routes = auth_routes,
        .nroutes = auth_nroutes,
        .openapi_json = auth_openapi_json,
        .openapi_len = auth_openapi_json_len,
        .use_mongo = true,
        .use_redis = true,
        .redis_required = false,
        .use_jwt = true,
        .init = init,
        .worker_init = worker_init,
        .worker_dispose = worker_dispose,
        .dispose = dispose,
    };
    int rc = mc_server_run(&opts);
    auth_mailer_global_dispose();
    mongoc_cleanup(); /* so that valgrind sees every block freed */
    return rc;
}
