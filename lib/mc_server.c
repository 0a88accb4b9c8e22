/*
 * Implementation of mc_server.h.
 *
 * Threads: the main thread parses nothing itself (mc_config_load did), creates the
 * process-wide pieces (MongoDB pool, JWT keys), runs the service's init hook, starts the
 * workers and then waits for a signal on its own small loop. Each worker owns a loop, an
 * h2o context, a SO_REUSEPORT listener and its connections; nothing on a worker is
 * touched by another thread except `wake`, the uv_async the main thread uses to ask for
 * shutdown.
 *
 * Shutdown of a worker, step by step:
 *   1. the listener closes; h2o stops keeping connections alive after their response;
 *   2. when no request is in flight — or when SHUTDOWN_TIMEOUT_MS has passed — every
 *      remaining connection is shut down at the socket level, which h2o sees as the
 *      peer closing, so h2o frees it through its own path;
 *   3. when the last connection is closed, the service's worker_dispose hook runs,
 *      Redis and the HTTP client close, the h2o context is disposed, and the loop runs
 *      until its last handle is closed; uv_loop_close then must succeed (a handle left
 *      open is a bug and is logged).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "mc_internal.h"
#include "mc_http.h"
#include "mc_jwt.h"
#include "mc_log.h"
#include "mc_mongo.h"
#include "mc_redis.h"
#include "mc_util.h"

const mc_config_t *mc_server_config(const mc_server_t *srv)
{
    return srv->opts.cfg;
}

void *mc_server_data(const mc_server_t *srv)
{
    return srv->opts.data;
}

mc_mongo_t *mc_server_mongo(const mc_server_t *srv)
{
    return srv->mongo;
}

const mc_jwt_t *mc_server_jwt(const mc_server_t *srv)
{
    return srv->jwt;
}

bool mc_server_shutting_down(const mc_server_t *srv)
{
    return atomic_load(&((mc_server_t *)srv)->shutting_down) != 0;
}

uv_loop_t *mc_worker_loop(const mc_worker_t *w)
{
    return (uv_loop_t *)&w->loop;
}

mc_server_t *mc_worker_server(const mc_worker_t *w)
{
    return w->srv;
}

mc_redis_t *mc_worker_redis(const mc_worker_t *w)
{
    return w->redis;
}

mc_http_client_t *mc_worker_http(mc_worker_t *w)
{
    if (w->http == NULL && !w->disposed)
        w->http = mc_http_client_create(&w->loop, NULL);
    return w->http;
}

void *mc_worker_data(const mc_worker_t *w)
{
    return w->data;
}

void mc_worker_set_data(mc_worker_t *w, void *data)
{
    w->data = data;
}

unsigned mc_worker_index(const mc_worker_t *w)
{
    return w->index;
}

/* --- readiness ------------------------------------------------------------------- */

/* /ready asks MongoDB and Redis concurrently and answers when both replied. */
typedef struct ready_ctx {
    mc_req_t *req;
    int pending;
    json_t *checks;
    bool required_down, optional_down;
} ready_ctx_t;

static void ready_finish(ready_ctx_t *rc)
{
    if (--rc->pending > 0)
        return;
    const char *status = rc->required_down ? "unavailable" : rc->optional_down ? "degraded" : "ready";
    json_t *body = json_pack("{s:s,s:s,s:o}", "status", status, "service", mc_req_server(rc->req)->opts.cfg->service,
                             "checks", rc->checks);
    mc_respond_json(rc->req, rc->required_down ? 503 : 200, body);
    free(rc);
}

static void ready_check_done(ready_ctx_t *rc, const char *name, bool ok, const char *msg, bool required)
{
    json_t *c = json_pack("{s:s,s:b}", "status", ok ? "up" : "down", "required", required);
    if (!ok && msg != NULL)
        json_object_set_new(c, "error", json_string(msg));
    json_object_set_new(rc->checks, name, c);
    if (!ok) {
        if (required)
            rc->required_down = true;
        else
            rc->optional_down = true;
    }
    ready_finish(rc);
}

static void ready_on_mongo(void *arg, bool ok, const char *msg)
{
    ready_check_done(arg, "mongodb", ok, msg, true);
}

static void ready_on_redis(redisReply *reply, const char *err, void *arg)
{
    ready_ctx_t *rc = arg;
    bool ok = reply != NULL && reply->type == REDIS_REPLY_STATUS;
    ready_check_done(rc, "redis", ok, ok ? NULL : err ? err : "unexpected reply", rc->req->worker->srv->opts.redis_required);
}

void mc_server_handle_ready(mc_req_t *req);
void mc_server_handle_ready(mc_req_t *req)
{
    mc_server_t *srv = req->worker->srv;
    ready_ctx_t *rc = calloc(1, sizeof(*rc));
    rc->req = req;
    rc->checks = json_object();
    rc->pending = 1; /* released at the end of this function */
    if (atomic_load(&srv->shutting_down)) {
        json_object_set_new(rc->checks, "shutdown", json_pack("{s:s,s:b}", "status", "down", "required", 1));
        rc->required_down = true;
    }
    if (srv->mongo != NULL) {
        ++rc->pending;
        if (mc_mongo_ping(srv->mongo, &req->worker->loop, ready_on_mongo, rc) != 0)
            ready_check_done(rc, "mongodb", false, "could not queue the check", true);
    }
    if (srv->opts.use_redis) {
        ++rc->pending;
        if (req->worker->redis == NULL ||
            mc_redis_cmd(req->worker->redis, ready_on_redis, rc, "PING") != 0)
            ready_check_done(rc, "redis", false, "not connected", srv->opts.redis_required);
    }
    ready_finish(rc);
}

/* --- connections ----------------------------------------------------------------- */

static void worker_maybe_dispose(mc_worker_t *w);

static void on_conn_close(uv_handle_t *handle)
{
    mc_conn_t *c = (mc_conn_t *)handle;
    mc_worker_t *w = c->worker;
    h2o_linklist_unlink(&c->link);
    --w->nconns;
    free(c);
    worker_maybe_dispose(w);
}

static void on_accept(uv_stream_t *listener, int status)
{
    mc_worker_t *w = listener->data;
    if (status != 0 || atomic_load(&w->srv->shutting_down))
        return;
    mc_conn_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        return;
    c->worker = w;
    uv_tcp_init(&w->loop, &c->tcp);
    if (uv_accept(listener, (uv_stream_t *)&c->tcp) != 0) {
        uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
        return;
    }
    uv_tcp_nodelay(&c->tcp, 1);
    h2o_linklist_insert(&w->conns, &c->link);
    ++w->nconns;
    if (w->srv->opts.accept != NULL && w->srv->opts.accept(w, c))
        return;
    mc_conn_serve(c);
}

/* --- connections kept by the accept hook -------------------------------------------------- */

int mc_conn_fd(const mc_conn_t *c)
{
    uv_os_fd_t fd;
    return uv_fileno((const uv_handle_t *)&c->tcp, &fd) == 0 ? fd : -1;
}

void mc_conn_serve(mc_conn_t *c)
{
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, on_conn_close);
    h2o_accept(&c->worker->accept_ctx, sock);
}

int mc_conn_detach(mc_conn_t *c)
{
    int fd = mc_conn_fd(c);
    int dup = fd >= 0 ? fcntl(fd, F_DUPFD_CLOEXEC, 0) : -1;
    int saved = errno;
    uv_close((uv_handle_t *)&c->tcp, on_conn_close);
    errno = saved;
    return dup;
}

void mc_conn_close(mc_conn_t *c)
{
    uv_close((uv_handle_t *)&c->tcp, on_conn_close);
}

/* --- h2o handler ------------------------------------------------------------------ */

typedef struct mc_h2o_handler {
    h2o_handler_t super;
    mc_server_t *srv;
} mc_h2o_handler_t;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    mc_server_t *srv = ((mc_h2o_handler_t *)self)->srv;
    /* The context knows its loop; find the worker that owns it. */
    for (unsigned i = 0; i < srv->nworkers; ++i) {
        if (&srv->workers[i].h2o_ctx == req->conn->ctx) {
            mc_req_dispatch(&srv->workers[i], req);
            return 0;
        }
    }
    return -1;
}

/* --- shutdown ---------------------------------------------------------------------- */

static void close_connections(mc_worker_t *w)
{
    w->connections_closing = true;
    for (h2o_linklist_t *l = w->conns.next; l != &w->conns; l = l->next) {
        mc_conn_t *c = H2O_STRUCT_FROM_MEMBER(mc_conn_t, link, l);
        uv_os_fd_t fd;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            shutdown(fd, SHUT_RDWR);
    }
    worker_maybe_dispose(w);
}

void mc_worker_request_ended(mc_worker_t *w)
{
    --w->inflight;
    if (w->shutdown_started && !w->connections_closing && w->inflight == 0)
        close_connections(w);
}

static void on_closed_free_nothing(uv_handle_t *h)
{
    (void)h;
}

static void worker_maybe_dispose(mc_worker_t *w)
{
    if (!w->connections_closing || w->nconns > 0 || w->inflight > 0 || w->disposed)
        return;
    w->disposed = true;
    uv_timer_stop(&w->shutdown_timer);
    if (w->srv->opts.worker_dispose != NULL)
        w->srv->opts.worker_dispose(w);
    if (w->redis != NULL) {
        mc_redis_close(w->redis, NULL, NULL);
        w->redis = NULL;
    }
    if (w->http != NULL) {
        mc_http_client_close(w->http);
        w->http = NULL;
    }
    /* h2o_context_request_shutdown arms HTTP/2's GOAWAY timer even when no HTTP/2
     * connection exists, and h2o_context_dispose asserts that no timer is armed. */
    if (h2o_timeout_is_linked(&w->h2o_ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&w->h2o_ctx.http2._graceful_shutdown_timeout);
    h2o_context_dispose(&w->h2o_ctx);
    uv_close((uv_handle_t *)&w->shutdown_timer, on_closed_free_nothing);
    uv_close((uv_handle_t *)&w->wake, on_closed_free_nothing);
}

static void on_shutdown_deadline(uv_timer_t *t)
{
    mc_worker_t *w = t->data;
    if (!w->connections_closing) {
        mc_log_warn("worker %u: %zu request(s) still running at the shutdown deadline; closing their connections",
                    w->index, w->inflight);
        close_connections(w);
    }
    /* Requests whose connection is gone are answered into the void by their handlers;
     * the worker is disposed once the last of them is released. */
}

static void worker_begin_shutdown(mc_worker_t *w)
{
    if (w->shutdown_started)
        return;
    w->shutdown_started = true;
    if (w->srv->opts.worker_shutdown != NULL)
        w->srv->opts.worker_shutdown(w);
    if (w->listening) {
        uv_close((uv_handle_t *)&w->listener, on_closed_free_nothing);
        w->listening = false;
    }
    h2o_context_request_shutdown(&w->h2o_ctx);
    uv_timer_start(&w->shutdown_timer, on_shutdown_deadline, w->srv->opts.cfg->shutdown_timeout_ms, 0);
    if (w->inflight == 0)
        close_connections(w);
}

static void on_wake(uv_async_t *a)
{
    mc_worker_t *w = a->data;
    if (atomic_load(&w->srv->shutting_down))
        worker_begin_shutdown(w);
}

/* --- worker thread ------------------------------------------------------------------ */

/* h2o 2.2.5 keeps two per-thread caches of freed memory (pool chunks and socket buffers)
 * and frees neither when the thread ends, so every worker would "leak" up to 16 of each
 * under LeakSanitizer and valgrind. Draining them at thread exit keeps those tools'
 * reports meaningful. The chunk cache is static inside h2o: chunks are pulled out of it
 * by allocating through a scratch pool (4 small allocations fill a 4 KiB chunk; the cache
 * holds at most 16), and freed by hand — a chunk begins with its `next` pointer. */
void mc_h2o_thread_cleanup(void);
void mc_h2o_thread_cleanup(void)
{
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    for (int i = 0; i < 17 * 4; ++i)
        h2o_mem_alloc_pool(&pool, 1000);
    void *chunk = pool.chunks;
    while (chunk != NULL) {
        void *next = *(void **)chunk;
        free(chunk);
        chunk = next;
    }
    pool.chunks = NULL;
    h2o_mem_clear_pool(&pool);
    while (h2o_socket_buffer_prototype.allocator.cnt > 0)
        free(h2o_mem_alloc_recycle(&h2o_socket_buffer_prototype.allocator, 0));
}

static int worker_listen(mc_worker_t *w)
{
    mc_server_t *srv = w->srv;
    int r = uv_tcp_init_ex(&w->loop, &w->listener, srv->bind_addr.ss_family);
    if (r != 0)
        goto Error;
    w->listener.data = w;
    uv_os_fd_t fd;
    int one = 1;
    uv_fileno((uv_handle_t *)&w->listener, &fd);
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if ((r = uv_tcp_bind(&w->listener, (struct sockaddr *)&srv->bind_addr, 0)) != 0 ||
        (r = uv_listen((uv_stream_t *)&w->listener, 1024, on_accept)) != 0) {
        uv_close((uv_handle_t *)&w->listener, on_closed_free_nothing);
        goto Error;
    }
    w->listening = true;
    return 0;
Error:
    mc_log_error("worker %u: cannot listen on %s:%u: %s", w->index, srv->opts.cfg->host, srv->opts.cfg->port, uv_strerror(r));
    return -1;
}

static void on_redis_state(mc_redis_t *r, bool up, void *data)
{
    mc_worker_t *w = data;
    if (up)
        mc_log_info("worker %u: Redis connected", w->index);
    else
        mc_log_warn("worker %u: Redis connection lost; serving without it", w->index);
    if (w->srv->opts.redis_state != NULL)
        w->srv->opts.redis_state(w, up);
}

static void worker_main(void *arg)
{
    mc_worker_t *w = arg;
    mc_server_t *srv = w->srv;

    uv_loop_init(&w->loop);
    h2o_context_init(&w->h2o_ctx, &w->loop, &srv->h2o_config);
    w->accept_ctx.ctx = &w->h2o_ctx;
    w->accept_ctx.hosts = srv->h2o_config.hosts;
    h2o_linklist_init_anchor(&w->conns);
    uv_async_init(&w->loop, &w->wake, on_wake);
    w->wake.data = w;
    uv_timer_init(&w->loop, &w->shutdown_timer);
    w->shutdown_timer.data = w;

    w->start_status = worker_listen(w);
    if (w->start_status == 0 && srv->opts.use_redis) {
        char err[256];
        mc_redis_opts_t ropts = {.on_state = on_redis_state, .data = w};
        w->redis = mc_redis_create(&w->loop, srv->opts.cfg->redis_url, &ropts, err, sizeof(err));
        if (w->redis == NULL) {
            mc_log_error("REDIS_URL: %s", err);
            w->start_status = -1;
        }
    }
    if (w->start_status == 0 && srv->opts.worker_init != NULL && srv->opts.worker_init(w) != 0) {
        mc_log_error("worker %u: the service's worker_init failed", w->index);
        w->start_status = -1;
    }
    uv_sem_post(w->started);

    if (w->start_status != 0) {
        /* Shut down what was started, without serving. */
        atomic_store(&srv->shutting_down, 1);
        worker_begin_shutdown(w);
    }
    uv_run(&w->loop, UV_RUN_DEFAULT);
    int r = uv_loop_close(&w->loop);
    if (r != 0) {
        mc_log_error("worker %u: handles left open at exit (%s)", w->index, uv_strerror(r));
    }
    mc_h2o_thread_cleanup();
}

/* --- main thread --------------------------------------------------------------------- */

static int resolve_bind(mc_server_t *srv)
{
    const mc_config_t *cfg = srv->opts.cfg;
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    char port[8];
    snprintf(port, sizeof(port), "%u", cfg->port);
    int r = getaddrinfo(cfg->host, port, &hints, &res);
    if (r != 0 || res == NULL) {
        mc_log_error("HOST '%s' does not resolve: %s", cfg->host, gai_strerror(r));
        return -1;
    }
    memcpy(&srv->bind_addr, res->ai_addr, res->ai_addrlen);
    srv->bind_addrlen = res->ai_addrlen;
    freeaddrinfo(res);
    return 0;
}

static void on_hangup(uv_signal_t *sig, int signum)
{
    (void)signum;
    mc_server_t *srv = sig->data;
    if (atomic_load(&srv->shutting_down))
        return;
    mc_log_info("received SIGHUP: reloading");
    srv->opts.reload(srv);
}

static void on_signal(uv_signal_t *sig, int signum)
{
    mc_server_t *srv = sig->data;
    if (atomic_exchange(&srv->shutting_down, 1))
        return;
    mc_log_info("received %s: shutting down (deadline %u ms)", signum == SIGTERM ? "SIGTERM" : "SIGINT",
                srv->opts.cfg->shutdown_timeout_ms);
    for (unsigned i = 0; i < srv->nworkers; ++i)
        uv_async_send(&srv->workers[i].wake);
    uv_stop(sig->loop);
}

int mc_server_run(const mc_server_opts_t *opts)
{
    mc_server_t srv_storage, *srv = &srv_storage;
    int exit_code = 1;
    memset(srv, 0, sizeof(*srv));
    srv->opts = *opts;
    const mc_config_t *cfg = opts->cfg;
    signal(SIGPIPE, SIG_IGN);
    /* libuv reads UV_THREADPOOL_SIZE once, at the first queued work: MongoDB jobs run
     * there, so give it more than the default 4 threads unless told otherwise. */
    setenv("UV_THREADPOOL_SIZE", mc_env_str("UV_THREADPOOL_SIZE", "16"), 1);

    if (mc_router_init(&srv->router, opts->routes, opts->nroutes) != 0)
        goto Exit;
    if (resolve_bind(srv) != 0)
        goto Exit;
    if (opts->use_jwt) {
        char err[256];
        if ((srv->jwt = mc_jwt_from_env(err, sizeof(err))) == NULL) {
            mc_log_error("JWT settings: %s", err);
            goto Exit;
        }
    }
    if (opts->use_mongo) {
        char err[256];
        if ((srv->mongo = mc_mongo_create(cfg->mongodb_uri, cfg->mongodb_db, cfg->service, err, sizeof(err))) == NULL) {
            mc_log_error("MONGODB_URI: %s", err);
            goto Exit;
        }
    }

    h2o_config_init(&srv->h2o_config);
    /* h2o answers bodies above its own limit with a plain-text 413 before we see them;
     * keep it well above MAX_BODY_BYTES so that our JSON 413 is what clients normally get. */
    srv->h2o_config.max_request_entity_size = cfg->max_body_bytes * 4;
    srv->h2o_config.server_name = h2o_iovec_init(H2O_STRLIT("mercato"));
    h2o_hostconf_t *host = h2o_config_register_host(&srv->h2o_config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    mc_h2o_handler_t *handler = (void *)h2o_create_handler(path, sizeof(*handler));
    handler->super.on_req = on_req;
    handler->srv = srv;

    if (opts->init != NULL && opts->init(srv) != 0) {
        mc_log_error("start-up of the %s service failed", cfg->service);
        goto DisposeConfig;
    }

    /* The signals are caught before any worker accepts: a SIGHUP or SIGTERM sent as soon
     * as /health answers waits in the loop's queue instead of taking the default action
     * (SIGHUP's would kill the process). */
    uv_loop_t main_loop;
    uv_signal_t sigterm, sigint, sighup;
    uv_loop_init(&main_loop);
    uv_signal_init(&main_loop, &sigterm);
    uv_signal_init(&main_loop, &sigint);
    uv_signal_init(&main_loop, &sighup);
    sigterm.data = sigint.data = sighup.data = srv;
    uv_signal_start(&sigterm, on_signal, SIGTERM);
    uv_signal_start(&sigint, on_signal, SIGINT);
    if (opts->reload != NULL)
        uv_signal_start(&sighup, on_hangup, SIGHUP);

    srv->nworkers = cfg->workers;
    srv->workers = calloc(srv->nworkers, sizeof(*srv->workers));
    uv_sem_t started;
    uv_sem_init(&started, 0);
    unsigned launched = 0;
    for (unsigned i = 0; i < srv->nworkers; ++i) {
        mc_worker_t *w = &srv->workers[i];
        w->srv = srv;
        w->index = i;
        w->started = &started;
        if (uv_thread_create(&w->thread, worker_main, w) != 0)
            break;
        ++launched;
    }
    bool ok = launched == srv->nworkers;
    for (unsigned i = 0; i < launched; ++i) {
        uv_sem_wait(&started);
    }
    for (unsigned i = 0; i < launched; ++i)
        ok = ok && srv->workers[i].start_status == 0;
    uv_sem_destroy(&started);

    if (ok) {
        mc_log_json(MC_LOG_INFO, NULL,
                    json_pack("{s:s,s:i,s:i}", "host", cfg->host, "port", cfg->port, "workers", (int)srv->nworkers),
                    "%s service listening on http://%s:%u", cfg->service, cfg->host, cfg->port);
        uv_run(&main_loop, UV_RUN_DEFAULT);
        exit_code = 0;
    } else {
        atomic_store(&srv->shutting_down, 1);
        for (unsigned i = 0; i < launched; ++i)
            uv_async_send(&srv->workers[i].wake);
    }
    /* A second signal while the workers finish should not be swallowed. */
    uv_close((uv_handle_t *)&sigterm, NULL);
    uv_close((uv_handle_t *)&sigint, NULL);
    uv_close((uv_handle_t *)&sighup, NULL);
    uv_run(&main_loop, UV_RUN_DEFAULT);
    uv_loop_close(&main_loop);
    for (unsigned i = 0; i < launched; ++i)
        uv_thread_join(&srv->workers[i].thread);
    free(srv->workers);
    if (opts->dispose != NULL)
        opts->dispose(srv);
    if (exit_code == 0)
        mc_log_info("%s service stopped", cfg->service);

DisposeConfig:
    h2o_config_dispose(&srv->h2o_config);
Exit:
    if (srv->mongo != NULL)
        mc_mongo_destroy(srv->mongo);
    if (srv->jwt != NULL)
        mc_jwt_free(srv->jwt);
    mc_router_dispose(&srv->router);
    return exit_code;
}
