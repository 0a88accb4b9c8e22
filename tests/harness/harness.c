/*
 * The process side of the harness: the temporary directory, the reaper, FerretDB, Redis
 * and service processes. See harness.h for the contract.
 *
 * Children are started with fork+execve. Everything the child needs (argv, envp, the
 * log path) is prepared before fork, because the test process may already run threads
 * (libuv's pool, mongoc's monitor) and a forked child of a threaded process may only
 * call async-signal-safe functions until it execs. Each child gets its own process group
 * (a Ctrl-C in the terminal reaches only the test, which then stops the children in
 * order) and PR_SET_PDEATHSIG(SIGKILL).
 *
 * The reaper is a forked helper in its own process group that ignores the usual
 * signals and reads a pipe from the test process: "+pid" when a child starts, "-pid"
 * when it has been reaped. When the pipe reaches end-of-file — the test process is gone,
 * for whatever reason — it kills the children still listed and removes the temporary
 * directory.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <mongoc/mongoc.h>
#include <curl/curl.h>
#include "harness.h"
#include "mc_util.h"

extern char **environ;

#define MH_MAX_PROCS 64
#define MH_MAX_DBS 64

typedef enum { PROC_FERRETDB, PROC_REDIS, PROC_SERVICE } proc_kind_t;

/* A child process and its log; kept after the process ended so its log can be shown. */
typedef struct mh_proc {
    proc_kind_t kind;
    char name[64];
    char log[PATH_MAX];
    pid_t pid; /* 0 when not running */
    bool valgrind;
    bool reaped;  /* ended and reaped by proc_alive: status is its wait status */
    int status;
} mh_proc_t;

struct mh_service {
    mh_proc_t *proc;
    uint16_t port;
    char url[64];
};

static struct {
    bool inited;
    pid_t owner; /* the test process (children must not run our atexit handler) */
    char root[PATH_MAX];
    char run[17];
    int reaper_fd;
    mh_proc_t procs[MH_MAX_PROCS];
    size_t nprocs;
    bool failed;
    /* MongoDB */
    bool mongo_external;
    char mongo_uri[512];
    mh_proc_t *ferret;
    uint16_t ferret_port, ferret_debug_port;
    char ferret_dir[PATH_MAX];
    char *dbs[MH_MAX_DBS];
    size_t ndbs;
    /* Redis */
    mh_proc_t *redis;
    uint16_t redis_port;
    char redis_dir[PATH_MAX];
    char redis_password[128];
    char redis_url[512];
} H = {.reaper_fd = -1};

/* --- small helpers ----------------------------------------------------------------------- */

/* snprintf that reports truncation (paths and command lines must never be cut short). */
static bool mh_fmt(char *buf, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool mh_fmt(char *buf, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = vsnprintf(buf, n, fmt, ap);
    va_end(ap);
    if (r < 0 || (size_t)r >= n) {
        fprintf(stderr, "harness: string too long: %.80s...\n", buf);
        return false;
    }
    return true;
}

uint64_t mh_now_ms(void)
{
    return mc_mono_ns() / 1000000u;
}

void mh_sleep_ms(unsigned ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

bool mh_wait_until(bool (*cond)(void *arg), void *arg, unsigned timeout_ms)
{
    uint64_t deadline = mh_now_ms() + timeout_ms;
    for (;;) {
        if (cond(arg))
            return true;
        if (mh_now_ms() >= deadline)
            return false;
        mh_sleep_ms(20);
    }
}

static void reaper_send(char op, pid_t pid)
{
    if (H.reaper_fd < 0)
        return;
    char line[32];
    int n = snprintf(line, sizeof(line), "%c%ld\n", op, (long)pid);
    ssize_t w = write(H.reaper_fd, line, (size_t)n);
    (void)w;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

static void rm_rf(const char *path)
{
    if (path[0] != '\0')
        nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int mkdir_p(const char *path)
{
    if (mkdir(path, 0700) == 0 || errno == EEXIST)
        return 0;
    fprintf(stderr, "harness: mkdir %s: %s\n", path, strerror(errno));
    return -1;
}

/* Closes every descriptor from 3 up (close_range where the kernel has it). */
static void close_from(int lowfd, int keep)
{
#ifdef SYS_close_range
    if (keep < 0) {
        if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0) == 0)
            return;
    }
#endif
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = lowfd; fd < max; ++fd)
        if (fd != keep)
            close(fd);
}

/* --- the reaper ------------------------------------------------------------------------------ */

static void reaper_main(int rfd, const char *root) __attribute__((noreturn));
static void reaper_main(int rfd, const char *root)
{
    setpgid(0, 0);
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    signal(SIGHUP, SIG_IGN);
    signal(SIGQUIT, SIG_IGN);
    signal(SIGPIPE, SIG_IGN);
    close_from(3, rfd);
    pid_t pids[1024];
    size_t n = 0;
    char buf[4096], line[64];
    size_t linelen = 0;
    for (;;) {
        ssize_t r = read(rfd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        for (ssize_t i = 0; i < r; ++i) {
            if (buf[i] != '\n') {
                if (linelen < sizeof(line) - 1)
                    line[linelen++] = buf[i];
                continue;
            }
            line[linelen] = '\0';
            linelen = 0;
            pid_t pid = (pid_t)strtol(line + 1, NULL, 10);
            if (pid <= 0)
                continue;
            if (line[0] == '+' && n < 1024) {
                pids[n++] = pid;
            } else if (line[0] == '-') {
                for (size_t k = 0; k < n; ++k)
                    if (pids[k] == pid) {
                        pids[k] = pids[--n];
                        break;
                    }
            }
        }
    }
    for (size_t k = 0; k < n; ++k) {
        kill(-pids[k], SIGKILL);
        kill(pids[k], SIGKILL);
    }
    if (n > 0)
        mh_sleep_ms(200); /* let the kernel release their files before removing them */
    const char *keep = getenv("MERCATO_HARNESS_KEEP");
    if (keep == NULL || strcmp(keep, "1") != 0)
        rm_rf(root);
    _exit(0);
}

/* --- teardown ---------------------------------------------------------------------------------- */

/* Waits for a child up to timeout_ms; returns its wait status or -1 on timeout. */
static int wait_child(pid_t pid, unsigned timeout_ms)
{
    uint64_t deadline = mh_now_ms() + timeout_ms;
    for (;;) {
        int st;
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid)
            return st;
        if (r < 0 && errno != EINTR)
            return -2;
        if (mh_now_ms() >= deadline)
            return -1;
        mh_sleep_ms(10);
    }
}

/* Stops a child: sig, up to grace_ms, then SIGKILL. Returns its wait status (or -1). */
static int stop_proc(mh_proc_t *p, int sig, unsigned grace_ms)
{
    if (p == NULL || p->pid <= 0)
        return -1;
    kill(p->pid, SIGCONT); /* a paused process cannot handle SIGTERM */
    kill(p->pid, sig);
    int st = wait_child(p->pid, grace_ms);
    if (st == -1) {
        fprintf(stderr, "harness: %s (pid %ld) did not stop within %u ms; killing it\n", p->name, (long)p->pid, grace_ms);
        kill(-p->pid, SIGKILL);
        kill(p->pid, SIGKILL);
        int st2 = wait_child(p->pid, 10000);
        (void)st2;
    }
    kill(-p->pid, SIGKILL); /* anything the child left in its group */
    reaper_send('-', p->pid);
    p->pid = 0;
    return st;
}

static void print_file(const char *title, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return;
    fprintf(stderr, "----- %s (%s) -----\n", title, path);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
        fwrite(buf, 1, n, stderr);
    fprintf(stderr, "----- end of %s -----\n", title);
    fclose(f);
}

void mh_dump_logs(void)
{
    for (size_t i = 0; i < H.nprocs; ++i) {
        print_file(H.procs[i].name, H.procs[i].log);
        if (H.procs[i].valgrind) {
            char vlog[PATH_MAX + 16];
            snprintf(vlog, sizeof(vlog), "%s.valgrind", H.procs[i].log);
            print_file("valgrind", vlog);
        }
    }
}

int mh_finish(int failures)
{
    if (failures != 0) {
        H.failed = true;
        mh_dump_logs();
    }
    return failures;
}

static void drop_external_dbs(void)
{
    if (!H.mongo_external || H.ndbs == 0)
        return;
    mongoc_client_t *cl = mongoc_client_new(H.mongo_uri);
    if (cl == NULL)
        return;
    for (size_t i = 0; i < H.ndbs; ++i) {
        mongoc_database_t *db = mongoc_client_get_database(cl, H.dbs[i]);
        mongoc_database_drop(db, NULL);
        mongoc_database_destroy(db);
    }
    mongoc_client_destroy(cl);
}

static void teardown_at_exit(void)
{
    if (!H.inited || getpid() != H.owner)
        return;
    /* Services first (they use the stores), then Redis and FerretDB. */
    for (int pass = 0; pass < 2; ++pass)
        for (size_t i = 0; i < H.nprocs; ++i) {
            mh_proc_t *p = &H.procs[i];
            if (p->pid <= 0 || (pass == 0) != (p->kind == PROC_SERVICE))
                continue;
            int st = stop_proc(p, SIGTERM, p->valgrind ? 60000 : 10000);
            if (p->kind == PROC_SERVICE && !(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0)) {
                fprintf(stderr, "harness: service %s was still running at exit and did not stop cleanly\n", p->name);
                H.failed = true;
            }
        }
    drop_external_dbs();
    for (size_t i = 0; i < H.ndbs; ++i)
        free(H.dbs[i]);
    H.ndbs = 0;
    const char *keep = getenv("MERCATO_HARNESS_KEEP");
    if (keep != NULL && strcmp(keep, "1") == 0)
        fprintf(stderr, "harness: kept %s\n", H.root);
    else
        rm_rf(H.root);
    if (H.reaper_fd >= 0) {
        close(H.reaper_fd); /* the reaper finds nothing left and exits */
        H.reaper_fd = -1;
    }
    curl_global_cleanup();
    mongoc_cleanup();
}

/* SIGINT/SIGTERM/SIGHUP: kill the children (async-signal-safe), then die of the signal;
 * the reaper removes the directory. */
static void on_fatal_signal(int sig)
{
    for (size_t i = 0; i < H.nprocs; ++i)
        if (H.procs[i].pid > 0) {
            kill(-H.procs[i].pid, SIGKILL);
            kill(H.procs[i].pid, SIGKILL);
        }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Removes directories of earlier runs whose test process no longer exists (a run killed
 * before its reaper could act, e.g. by a reboot). */
static void remove_stale_dirs(const char *base)
{
    DIR *d = opendir(base);
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        long pid;
        char rest[64];
        if (sscanf(e->d_name, "mercato-test-%ld-%63s", &pid, rest) != 2 || pid <= 0)
            continue;
        if (kill((pid_t)pid, 0) == 0 || errno != ESRCH)
            continue;
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s/%s", base, e->d_name);
        rm_rf(path);
    }
    closedir(d);
}

/* The harness's own pings of a database that is still starting are expected to fail. */
static void quiet_driver_log(mongoc_log_level_t level, const char *domain, const char *message, void *data)
{
    if (level <= MONGOC_LOG_LEVEL_ERROR)
        fprintf(stderr, "harness: mongoc %s: %s\n", domain, message);
}

int mh_init(void)
{
    if (H.inited)
        return 0;
    const char *base = getenv("TMPDIR");
    if (base == NULL || *base == '\0')
        base = "/tmp";
    remove_stale_dirs(base);
    unsigned char rnd[8];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), H.run);
    snprintf(H.root, sizeof(H.root), "%s/mercato-test-%ld-%s", base, (long)getpid(), H.run);
    if (mkdir(H.root, 0700) != 0) {
        fprintf(stderr, "harness: cannot create %s: %s\n", H.root, strerror(errno));
        return -1;
    }
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "harness: pipe: %s\n", strerror(errno));
        return -1;
    }
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(fds[1]);
        reaper_main(fds[0], H.root);
    }
    close(fds[0]);
    H.reaper_fd = fds[1];
    H.owner = getpid();
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_fatal_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    mongoc_init();
    mongoc_log_set_handler(quiet_driver_log, NULL); /* mc_mongo_create installs its own */
    H.inited = true;
    atexit(teardown_at_exit);
    return 0;
}

const char *mh_tmpdir(void)
{
    mh_init();
    return H.root;
}

uint16_t mh_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 && getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

/* --- starting children -------------------------------------------------------------------------- */

static mh_proc_t *proc_new(proc_kind_t kind, const char *name)
{
    if (H.nprocs == MH_MAX_PROCS) {
        fprintf(stderr, "harness: too many processes\n");
        return NULL;
    }
    mh_proc_t *p = &H.procs[H.nprocs++];
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    snprintf(p->name, sizeof(p->name), "%s", name);
    mh_fmt(p->log, sizeof(p->log), "%s/%s-%zu.log", H.root, name, H.nprocs);
    return p;
}

/* Starts argv[0] (a path) with envp, stdout+stderr appended to p->log. */
static int spawn(mh_proc_t *p, char *const argv[], char *const envp[])
{
    int logfd = open(p->log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (logfd < 0) {
        fprintf(stderr, "harness: cannot open %s: %s\n", p->log, strerror(errno));
        return -1;
    }
    int nullfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = getpid();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        fprintf(stderr, "harness: fork: %s\n", strerror(errno));
        close(logfd);
        if (nullfd >= 0)
            close(nullfd);
        return -1;
    }
    if (pid == 0) {
        /* async-signal-safe calls only until execve */
        setpgid(0, 0);
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        signal(SIGPIPE, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGHUP, SIG_DFL);
        sigset_t none;
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        if (nullfd >= 0)
            dup2(nullfd, 0);
        dup2(logfd, 1);
        dup2(logfd, 2);
        close_from(3, -1);
        execve(argv[0], argv, envp);
        static const char msg[] = "harness: execve failed\n";
        ssize_t w = write(2, msg, sizeof(msg) - 1);
        (void)w;
        _exit(127);
    }
    setpgid(pid, pid); /* also from here, so the group exists before we signal it */
    close(logfd);
    if (nullfd >= 0)
        close(nullfd);
    p->pid = pid;
    p->reaped = false;
    reaper_send('+', pid);
    return 0;
}

/* True while the child runs; reaps it (and logs why) when it has exited. */
static bool proc_alive(mh_proc_t *p)
{
    if (p->pid <= 0)
        return false;
    int st;
    pid_t r = waitpid(p->pid, &st, WNOHANG);
    if (r == 0)
        return true;
    if (r == p->pid) {
        p->reaped = true;
        p->status = st;
        if (WIFEXITED(st))
            fprintf(stderr, "harness: %s exited with status %d\n", p->name, WEXITSTATUS(st));
        else if (WIFSIGNALED(st))
            fprintf(stderr, "harness: %s was killed by signal %d\n", p->name, WTERMSIG(st));
        reaper_send('-', p->pid);
        p->pid = 0;
    }
    return false;
}

/* Finds an executable: absolute or relative path as is, else on the PATH. */
static bool find_exe(const char *name, char *out, size_t outlen)
{
    if (strchr(name, '/') != NULL) {
        snprintf(out, outlen, "%s", name);
        return access(out, X_OK) == 0;
    }
    const char *path = getenv("PATH");
    while (path != NULL && *path != '\0') {
        size_t n = strcspn(path, ":");
        snprintf(out, outlen, "%.*s/%s", (int)n, path, name);
        if (n > 0 && access(out, X_OK) == 0)
            return true;
        path += n;
        if (*path == ':')
            ++path;
    }
    return false;
}

/* An environment: this process's, with `set` ("NAME=value", NULL-terminated lists)
 * applied in order; "NAME=" removes NAME. Returns a malloc'd array of malloc'd strings. */
static char **make_env(const char *const *const sets[], size_t nsets)
{
    size_t cap = 16;
    for (char **e = environ; *e != NULL; ++e)
        ++cap;
    for (size_t s = 0; s < nsets; ++s)
        for (const char *const *e = sets[s]; e != NULL && *e != NULL; ++e)
            ++cap;
    char **env = calloc(cap + 1, sizeof(char *));
    size_t n = 0;
    if (env == NULL)
        return NULL;
    for (char **e = environ; *e != NULL; ++e)
        env[n++] = strdup(*e);
    for (size_t s = 0; s < nsets; ++s)
        for (const char *const *e = sets[s]; e != NULL && *e != NULL; ++e) {
            const char *eq = strchr(*e, '=');
            if (eq == NULL)
                continue;
            size_t klen = (size_t)(eq - *e) + 1;
            for (size_t i = 0; i < n; ++i)
                if (strncmp(env[i], *e, klen) == 0) {
                    free(env[i]);
                    env[i] = env[--n];
                    env[n] = NULL;
                    break;
                }
            if (eq[1] != '\0')
                env[n++] = strdup(*e);
        }
    env[n] = NULL;
    return env;
}

static void free_env(char **env)
{
    if (env == NULL)
        return;
    for (char **e = env; *e != NULL; ++e)
        free(*e);
    free(env);
}

/* Connects to 127.0.0.1:port; the socket or -1. */
static int tcp_connect(uint16_t port, unsigned timeout_ms)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static long file_size(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : 0;
}

/* True when the part of a log written after `offset` contains needle. */
static bool log_contains_since(const char *path, long offset, const char *needle)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return false;
    fseek(f, offset, SEEK_SET);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof(line), f) != NULL)
        found = strcasestr(line, needle) != NULL;
    fclose(f);
    return found;
}

/* --- MongoDB -------------------------------------------------------------------------------------- */

static bool mongo_answers(const char *uri)
{
    char full[700];
    snprintf(full, sizeof(full), "%s%sserverSelectionTimeoutMS=1000&connectTimeoutMS=1000", uri,
             strchr(uri, '?') != NULL ? "&" : (strchr(uri + 10, '/') != NULL ? "?" : "/?"));
    mongoc_client_t *cl = mongoc_client_new(full);
    if (cl == NULL)
        return false;
    bson_t cmd = BSON_INITIALIZER;
    BSON_APPEND_INT32(&cmd, "ping", 1);
    bool ok = mongoc_client_command_simple(cl, "admin", &cmd, NULL, NULL, NULL);
    bson_destroy(&cmd);
    mongoc_client_destroy(cl);
    return ok;
}

bool mh_mongo_controllable(void)
{
    const char *ext = getenv("MONGODB_URI_TEST");
    return ext == NULL || *ext == '\0';
}

static bool find_ferretdb(char *out, size_t outlen)
{
    const char *env = getenv("MERCATO_FERRETDB");
    if (env != NULL && *env != '\0')
        return find_exe(env, out, outlen);
    if (find_exe("ferretdb", out, outlen))
        return true;
    snprintf(out, outlen, "%s/.tools/bin/ferretdb", MERCATO_SOURCE_DIR);
    return access(out, X_OK) == 0;
}

int mh_mongo_start(void)
{
    if (mh_init() != 0)
        return -1;
    const char *ext = getenv("MONGODB_URI_TEST");
    if (ext != NULL && *ext != '\0') {
        H.mongo_external = true;
        snprintf(H.mongo_uri, sizeof(H.mongo_uri), "%s", ext);
        if (!mongo_answers(H.mongo_uri)) {
            fprintf(stderr, "harness: MONGODB_URI_TEST does not answer ping\n");
            return -1;
        }
        return 0;
    }
    if (H.ferret != NULL && H.ferret->pid > 0)
        return 0;
    char exe[PATH_MAX];
    if (!find_ferretdb(exe, sizeof(exe))) {
        fprintf(stderr, "harness: no ferretdb (MERCATO_FERRETDB, PATH, .tools/bin); run scripts/setup\n");
        return -1;
    }
    bool first = H.ferret_port == 0; /* a restart keeps the port and the data */
    if (first) {
        mh_fmt(H.ferret_dir, sizeof(H.ferret_dir), "%s/ferretdb", H.root);
        if (mkdir_p(H.ferret_dir) != 0 || (H.ferret = proc_new(PROC_FERRETDB, "ferretdb")) == NULL)
            return -1;
    }
    /* Ports come from mh_free_port and another process may take one meanwhile: when
     * FerretDB cannot bind, try again with fresh ones (only the debug port on a restart). */
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (first) {
            H.ferret_port = mh_free_port();
            snprintf(H.mongo_uri, sizeof(H.mongo_uri), "mongodb://127.0.0.1:%u", (unsigned)H.ferret_port);
        }
        H.ferret_debug_port = mh_free_port();
        char listen[64], debug[64], sqlite[PATH_MAX + 16], state[PATH_MAX + 16];
        snprintf(listen, sizeof(listen), "--listen-addr=127.0.0.1:%u", (unsigned)H.ferret_port);
        snprintf(debug, sizeof(debug), "--debug-addr=127.0.0.1:%u", (unsigned)H.ferret_debug_port);
        mh_fmt(sqlite, sizeof(sqlite), "--sqlite-url=file:%s/", H.ferret_dir);
        snprintf(state, sizeof(state), "--state-dir=%s", H.ferret_dir);
        char *argv[] = {exe, "--handler=sqlite", sqlite, listen, state, "--telemetry=disable", debug, "--log-level=ERROR",
                        NULL};
        char **env = make_env(NULL, 0);
        long log_offset = file_size(H.ferret->log);
        int rc = spawn(H.ferret, argv, env);
        free_env(env);
        if (rc != 0)
            return -1;
        uint64_t deadline = mh_now_ms() + 60000;
        bool died = false;
        while (mh_now_ms() < deadline) {
            if (!proc_alive(H.ferret)) {
                died = true;
                break;
            }
            int fd = tcp_connect(H.ferret_port, 500);
            if (fd >= 0) {
                close(fd);
                if (mongo_answers(H.mongo_uri))
                    return 0;
            }
            mh_sleep_ms(50);
        }
        if (died && log_contains_since(H.ferret->log, log_offset, "address already in use"))
            continue;
        if (!died) {
            fprintf(stderr, "harness: ferretdb did not answer within 60 s\n");
            stop_proc(H.ferret, SIGKILL, 5000);
        }
        break;
    }
    print_file("ferretdb", H.ferret->log);
    return -1;
}

int mh_mongo_stop(void)
{
    if (H.mongo_external || H.ferret == NULL || H.ferret->pid <= 0)
        return -1;
    stop_proc(H.ferret, SIGTERM, 15000);
    return 0;
}

const char *mh_mongo_uri(void)
{
    return H.mongo_uri;
}

const char *mh_mongo_db(const char *suffix)
{
    mh_init();
    char name[64];
    if (suffix != NULL && *suffix != '\0')
        snprintf(name, sizeof(name), "mt_%s_%.40s", H.run, suffix);
    else
        snprintf(name, sizeof(name), "mt_%s", H.run);
    for (char *p = name; *p != '\0'; ++p) /* database names: no '.', '/', '-' surprises */
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '_'))
            *p = '_';
    for (size_t i = 0; i < H.ndbs; ++i)
        if (strcmp(H.dbs[i], name) == 0)
            return H.dbs[i];
    if (H.ndbs == MH_MAX_DBS)
        return "mt_overflow";
    H.dbs[H.ndbs] = strdup(name);
    return H.dbs[H.ndbs++];
}

/* --- Redis ------------------------------------------------------------------------------------------ */

static bool redis_answers(void)
{
    int fd = tcp_connect(H.redis_port, 1000);
    if (fd < 0)
        return false;
    char cmd[300];
    int n;
    if (H.redis_password[0] != '\0') /* RESP, so that any password survives */
        n = snprintf(cmd, sizeof(cmd), "*2\r\n$4\r\nAUTH\r\n$%zu\r\n%s\r\n*1\r\n$4\r\nPING\r\n",
                     strlen(H.redis_password), H.redis_password);
    else
        n = snprintf(cmd, sizeof(cmd), "*1\r\n$4\r\nPING\r\n");
    bool ok = false;
    if (write(fd, cmd, (size_t)n) == n) {
        char buf[256];
        size_t got = 0;
        uint64_t deadline = mh_now_ms() + 1000;
        while (got < sizeof(buf) - 1 && mh_now_ms() < deadline) {
            ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
            if (r <= 0)
                break;
            got += (size_t)r;
            buf[got] = '\0';
            if (strstr(buf, "+PONG") != NULL) {
                ok = true;
                break;
            }
            if (strstr(buf, "-LOADING") != NULL || strstr(buf, "-ERR") != NULL || strstr(buf, "-WRONGPASS") != NULL)
                break;
        }
    }
    close(fd);
    return ok;
}

/* Percent-encodes everything but unreserved characters (for the password in a URL). */
static void url_encode(const char *in, char *out, size_t outlen)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    for (; *in != '\0' && o + 4 < outlen; ++in) {
        unsigned char c = (unsigned char)*in;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || strchr("-._~", c) != NULL) {
            out[o++] = (char)c;
        } else {
            out[o++] = '%';
            out[o++] = hex[c >> 4];
            out[o++] = hex[c & 15];
        }
    }
    out[o] = '\0';
}

int mh_redis_start_with_password(const char *password)
{
    if (mh_init() != 0)
        return -1;
    if (H.redis != NULL && H.redis->pid > 0)
        return 0;
    char exe[PATH_MAX];
    if (!find_exe("redis-server", exe, sizeof(exe))) {
        fprintf(stderr, "harness: redis-server not found on the PATH\n");
        return -1;
    }
    bool first = H.redis_port == 0; /* a restart keeps the port */
    if (first) {
        mh_fmt(H.redis_dir, sizeof(H.redis_dir), "%s/redis", H.root);
        if (mkdir_p(H.redis_dir) != 0 || (H.redis = proc_new(PROC_REDIS, "redis")) == NULL)
            return -1;
        if (password != NULL)
            snprintf(H.redis_password, sizeof(H.redis_password), "%s", password);
    }
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (first) {
            H.redis_port = mh_free_port();
            char enc[3 * sizeof(H.redis_password)];
            url_encode(H.redis_password, enc, sizeof(enc));
            snprintf(H.redis_url, sizeof(H.redis_url), "redis://%s%s%s127.0.0.1:%u/0", enc[0] != '\0' ? ":" : "", enc,
                     enc[0] != '\0' ? "@" : "", (unsigned)H.redis_port);
        }
        char port[16];
        snprintf(port, sizeof(port), "%u", (unsigned)H.redis_port);
        char *argv[] = {exe, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir",
                        H.redis_dir, "--daemonize", "no", "--enable-debug-command", "local",
                        H.redis_password[0] != '\0' ? "--requirepass" : NULL, H.redis_password, NULL};
        char **env = make_env(NULL, 0);
        long log_offset = file_size(H.redis->log);
        int rc = spawn(H.redis, argv, env);
        free_env(env);
        if (rc != 0)
            return -1;
        uint64_t deadline = mh_now_ms() + 20000;
        bool died = false;
        while (mh_now_ms() < deadline) {
            if (!proc_alive(H.redis)) {
                died = true;
                break;
            }
            if (redis_answers())
                return 0;
            mh_sleep_ms(20);
        }
        if (died && first && log_contains_since(H.redis->log, log_offset, "address already in use"))
            continue;
        if (!died) {
            fprintf(stderr, "harness: redis-server did not answer within 20 s\n");
            stop_proc(H.redis, SIGKILL, 5000);
        }
        break;
    }
    print_file("redis", H.redis->log);
    return -1;
}

int mh_redis_start(void)
{
    return mh_redis_start_with_password(NULL);
}

int mh_redis_stop(void)
{
    if (H.redis == NULL || H.redis->pid <= 0)
        return -1;
    stop_proc(H.redis, SIGTERM, 10000);
    return 0;
}

int mh_redis_kill(void)
{
    if (H.redis == NULL || H.redis->pid <= 0)
        return -1;
    stop_proc(H.redis, SIGKILL, 10000);
    return 0;
}

int mh_redis_pause(void)
{
    return H.redis != NULL && H.redis->pid > 0 ? kill(H.redis->pid, SIGSTOP) : -1;
}

int mh_redis_resume(void)
{
    return H.redis != NULL && H.redis->pid > 0 ? kill(H.redis->pid, SIGCONT) : -1;
}

uint16_t mh_redis_port(void)
{
    return H.redis_port;
}

const char *mh_redis_url(void)
{
    return H.redis_url;
}

const char *mh_redis_cli(const char *args)
{
    static char out[4096];
    char cmd[2048];
    char exe[PATH_MAX];
    if (H.redis_port == 0 || !find_exe("redis-cli", exe, sizeof(exe)))
        return NULL;
    if (H.redis_password[0] != '\0') {
        if (!mh_fmt(cmd, sizeof(cmd), "REDISCLI_AUTH='%s' '%s' -p %u %s 2>&1", H.redis_password, exe,
                    (unsigned)H.redis_port, args))
            return NULL;
    } else if (!mh_fmt(cmd, sizeof(cmd), "'%s' -p %u %s 2>&1", exe, (unsigned)H.redis_port, args)) {
        return NULL;
    }
    FILE *p = popen(cmd, "r");
    if (p == NULL)
        return NULL;
    size_t n = fread(out, 1, sizeof(out) - 1, p);
    int st = pclose(p);
    out[n] = '\0';
    while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r' || out[n - 1] == ' '))
        out[--n] = '\0';
    return st == 0 ? out : NULL;
}

/* --- services ------------------------------------------------------------------------------------------ */

static bool http_status_is(const char *url, long want)
{
    CURL *h = curl_easy_init();
    if (h == NULL)
        return false;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 2000L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_NOBODY, 0L);
    FILE *devnull = fopen("/dev/null", "w");
    curl_easy_setopt(h, CURLOPT_WRITEDATA, devnull);
    long status = 0;
    if (curl_easy_perform(h) == CURLE_OK)
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    if (devnull != NULL)
        fclose(devnull);
    return status == want;
}

static bool want_valgrind(const mh_service_opts_t *o)
{
    int v = o != NULL ? o->valgrind : 0;
    if (v < 0)
        return false;
    const char *env = getenv("MERCATO_HARNESS_VALGRIND");
    bool want = v > 0 || (env != NULL && strcmp(env, "1") == 0);
#ifdef MERCATO_SANITIZE
    if (want)
        fprintf(stderr, "harness: valgrind is not used in the sanitizer build\n");
    return false;
#else
    return want;
#endif
}

mh_service_t *mh_service_start(const char *binary, const mh_service_opts_t *opts)
{
    static const mh_service_opts_t defaults;
    const mh_service_opts_t *o = opts != NULL ? opts : &defaults;
    if (mh_init() != 0)
        return NULL;
    char exe[PATH_MAX];
    if (strchr(binary, '/') != NULL)
        snprintf(exe, sizeof(exe), "%s", binary);
    else
        snprintf(exe, sizeof(exe), "%s/%s", MERCATO_BIN_DIR, binary);
    if (access(exe, X_OK) != 0) {
        fprintf(stderr, "harness: %s is not an executable (build it first)\n", exe);
        return NULL;
    }
    const char *base = strrchr(exe, '/') + 1;
    mh_service_t *s = calloc(1, sizeof(*s));
    if (s == NULL || (s->proc = proc_new(PROC_SERVICE, base)) == NULL) {
        free(s);
        return NULL;
    }
    s->port = o->port != 0 ? o->port : mh_free_port();
    snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u", (unsigned)s->port);
    bool vg = want_valgrind(o);
    s->proc->valgrind = vg;

    /* environment */
    char e_port[32], e_mongo[600], e_db[128], e_redis[540], e_secret[128], e_level[64];
    snprintf(e_port, sizeof(e_port), "PORT=%u", (unsigned)s->port);
    snprintf(e_secret, sizeof(e_secret), "JWT_SECRET=%s", MH_JWT_SECRET);
    const char *lvl = getenv("MERCATO_HARNESS_LOG_LEVEL");
    snprintf(e_level, sizeof(e_level), "LOG_LEVEL=%s", lvl != NULL && *lvl != '\0' ? lvl : "info");
    const char *defaults_env[14];
    size_t d = 0;
    defaults_env[d++] = e_port;
    defaults_env[d++] = "HOST=127.0.0.1";
    defaults_env[d++] = e_secret;
    defaults_env[d++] = e_level;
    defaults_env[d++] = "MERCATO_ENV=test";
    defaults_env[d++] = "JWT_SECRET_FILE=";
    defaults_env[d++] = "INTERNAL_API_KEY=" MH_INTERNAL_KEY;
    if (H.mongo_uri[0] != '\0') {
        snprintf(e_mongo, sizeof(e_mongo), "MONGODB_URI=%s", H.mongo_uri);
        snprintf(e_db, sizeof(e_db), "MONGODB_DB=%s", mh_mongo_db(base));
        defaults_env[d++] = e_mongo;
        defaults_env[d++] = e_db;
    }
    if (H.redis_url[0] != '\0') {
        snprintf(e_redis, sizeof(e_redis), "REDIS_URL=%s", H.redis_url);
        defaults_env[d++] = e_redis;
    }
    defaults_env[d] = NULL;
    const char *const *sets[] = {defaults_env, o->env};
    char **env = make_env(sets, 2);

    /* command line */
    char vlog[PATH_MAX + 32], supp[PATH_MAX + 32];
    const char *argv[64];
    int a = 0;
    char vgexe[PATH_MAX];
    if (vg) {
        if (!find_exe("valgrind", vgexe, sizeof(vgexe))) {
            fprintf(stderr, "harness: valgrind not found\n");
            free_env(env);
            free(s);
            return NULL;
        }
        snprintf(vlog, sizeof(vlog), "--log-file=%s.valgrind", s->proc->log);
        argv[a++] = vgexe;
        argv[a++] = "--error-exitcode=99";
        argv[a++] = "--leak-check=full";
        argv[a++] = "--errors-for-leak-kinds=definite,indirect";
        argv[a++] = "--show-leak-kinds=definite,indirect";
        argv[a++] = "--track-origins=yes";
        argv[a++] = vlog;
        snprintf(supp, sizeof(supp), "--suppressions=%s/tests/valgrind.supp", MERCATO_SOURCE_DIR);
        if (access(supp + strlen("--suppressions="), R_OK) == 0)
            argv[a++] = supp;
    }
    argv[a++] = exe;
    for (const char *const *x = o->args; x != NULL && *x != NULL && a < 62; ++x)
        argv[a++] = *x;
    argv[a] = NULL;
    int rc = spawn(s->proc, (char *const *)argv, env);
    free_env(env);
    if (rc != 0) {
        free(s);
        return NULL;
    }

    unsigned timeout = o->start_timeout_ms != 0 ? o->start_timeout_ms : (vg ? 180000 : 30000);
    uint64_t deadline = mh_now_ms() + timeout;
    char health[96], ready[96];
    snprintf(health, sizeof(health), "%s/health", s->url);
    snprintf(ready, sizeof(ready), "%s/ready", s->url);
    bool up = false;
    while (mh_now_ms() < deadline) {
        if (!proc_alive(s->proc))
            break;
        if (http_status_is(health, 200)) {
            up = true;
            break;
        }
        mh_sleep_ms(25);
    }
    while (up && o->wait_ready) {
        if (!proc_alive(s->proc) || mh_now_ms() >= deadline) {
            up = false;
            break;
        }
        if (http_status_is(ready, 200))
            break;
        mh_sleep_ms(25);
    }
    if (!up) {
        fprintf(stderr, "harness: %s did not become %s within %u ms\n", base, o->wait_ready ? "ready" : "healthy",
                timeout);
        if (s->proc->pid > 0)
            stop_proc(s->proc, SIGKILL, 5000);
        print_file(base, s->proc->log);
        free(s);
        return NULL;
    }
    return s;
}

int mh_service_stop(mh_service_t *s)
{
    if (s == NULL)
        return -1;
    mh_proc_t *p = s->proc;
    int result = -1;
    int st = p->reaped ? p->status : -1;
    if (p->pid > 0)
        st = stop_proc(p, SIGTERM, p->valgrind ? 120000 : 30000);
    {
        if (st >= 0 && WIFEXITED(st))
            result = WEXITSTATUS(st);
        else if (st >= 0 && WIFSIGNALED(st))
            result = 128 + WTERMSIG(st);
    }
    if (result != 0) {
        fprintf(stderr, "harness: %s ended with status %d\n", p->name, result);
        print_file(p->name, p->log);
        if (p->valgrind) {
            char vlog[PATH_MAX + 16];
            snprintf(vlog, sizeof(vlog), "%s.valgrind", p->log);
            print_file("valgrind", vlog);
        }
    }
    free(s);
    return result;
}

int mh_service_signal(mh_service_t *s, int sig)
{
    return s != NULL && s->proc->pid > 0 ? kill(s->proc->pid, sig) : -1;
}

const char *mh_service_url(const mh_service_t *s)
{
    return s->url;
}

uint16_t mh_service_port(const mh_service_t *s)
{
    return s->port;
}

pid_t mh_service_pid(const mh_service_t *s)
{
    return s->proc->pid;
}

const char *mh_service_log(const mh_service_t *s)
{
    return s->proc->log;
}

void mh_service_print_log(const mh_service_t *s)
{
    print_file(s->proc->name, s->proc->log);
}

const char *mh_url(const mh_service_t *s, const char *path)
{
    static char ring[64][1024];
    static unsigned next;
    char *out = ring[next++ % 64];
    snprintf(out, 1024, "%s%s", s->url, path);
    return out;
}
