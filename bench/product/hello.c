/*
 * The ceiling for the benchmarks: the smallest h2o server on libuv, on one loop like a
 * worker of a service or of the gateway. Whatever a service or the gateway reaches is
 * measured beside this, on the same machine in the same run.
 *
 *   bench_hello <port>                       every request: "hello\n" (bench/product)
 *   bench_hello <port> <path>=<file> …       GET or POST <path>: the file's bytes as
 *                                            application/json, 404 elsewhere (bench/gateways:
 *                                            an answer of the same size as the gateway's)
 *
 * Files are read once at start; the answer is sent from memory without a copy.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <h2o.h>
#include <uv.h>

static h2o_globalconf_t config;
static h2o_generator_t generator; /* no proceed/stop: each answer is sent whole at once */
static h2o_context_t ctx;
static h2o_accept_ctx_t accept_ctx;

/* A path and the bytes it answers. */
typedef struct canned {
    h2o_iovec_t path, body;
} canned_t;

#define MAX_CANNED 32
static canned_t canned[MAX_CANNED];
static size_t ncanned;

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    if (ncanned == 0) {
        req->res.status = 200;
        req->res.reason = "OK";
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("text/plain"));
        h2o_send_inline(req, H2O_STRLIT("hello\n"));
        return 0;
    }
    for (size_t i = 0; i < ncanned; ++i) {
        if (!h2o_memis(req->path_normalized.base, req->path_normalized.len, canned[i].path.base, canned[i].path.len))
            continue;
        req->res.status = 200;
        req->res.reason = "OK";
        req->res.content_length = canned[i].body.len;
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, H2O_STRLIT("application/json"));
        h2o_start_response(req, &generator);
        h2o_send(req, &canned[i].body, 1, 1);
        return 0;
    }
    h2o_send_error_404(req, "Not Found", "no such path", 0);
    return 0;
}

/* Reads "<path>=<file>" into canned[]; exits with a message on any problem. */
static void load_canned(const char *arg)
{
    const char *eq = strchr(arg, '=');
    if (eq == NULL || arg[0] != '/' || ncanned == MAX_CANNED) {
        fprintf(stderr, "bad mapping %s (want /path=file, at most %d)\n", arg, MAX_CANNED);
        exit(2);
    }
    FILE *f = fopen(eq + 1, "rb");
    if (f == NULL) {
        perror(eq + 1);
        exit(2);
    }
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    size_t k;
    while (buf != NULL && (k = fread(buf + len, 1, cap - len, f)) > 0)
        if ((len += k) == cap)
            buf = realloc(buf, cap *= 2);
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    canned[ncanned].path = h2o_iovec_init(arg, (size_t)(eq - arg));
    canned[ncanned].body = h2o_iovec_init(buf, len);
    ++ncanned;
}

static void on_close(uv_handle_t *h)
{
    free(h);
}

static void on_accept(uv_stream_t *listener, int status)
{
    if (status != 0)
        return;
    uv_tcp_t *conn = malloc(sizeof(*conn));
    if (conn == NULL)
        return;
    uv_tcp_init(listener->loop, conn);
    if (uv_accept(listener, (uv_stream_t *)conn) != 0) {
        uv_close((uv_handle_t *)conn, on_close);
        return;
    }
    h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)conn, on_close);
    h2o_accept(&accept_ctx, sock);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s <port> [<path>=<file> ...]\n", argv[0]);
        return 2;
    }
    for (int i = 2; i < argc; ++i)
        load_canned(argv[i]);
    signal(SIGPIPE, SIG_IGN);
    h2o_config_init(&config);
    h2o_hostconf_t *host = h2o_config_register_host(&config, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    uv_loop_t *loop = uv_default_loop();
    h2o_context_init(&ctx, loop, &config);
    accept_ctx.ctx = &ctx;
    accept_ctx.hosts = config.hosts;
    uv_tcp_t listener;
    struct sockaddr_in addr;
    uv_tcp_init(loop, &listener);
    uv_ip4_addr("127.0.0.1", atoi(argv[1]), &addr);
    if (uv_tcp_bind(&listener, (struct sockaddr *)&addr, 0) != 0 || uv_listen((uv_stream_t *)&listener, 1024, on_accept) != 0) {
        fprintf(stderr, "cannot listen on 127.0.0.1:%s\n", argv[1]);
        return 1;
    }
    return uv_run(loop, UV_RUN_DEFAULT);
}
