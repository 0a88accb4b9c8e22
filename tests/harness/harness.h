/*
 * The integration-test harness (library `mercato_harness`): real FerretDB (or MongoDB),
 * real Redis and real service processes on free ports, an HTTP client over libcurl, and
 * access tokens signed with the test secret — so that tests assert what a user of the
 * platform would see.
 *
 * Everything a test run starts lives under one temporary directory and is torn down when
 * the test process ends, however it ends: at a normal exit (atexit: SIGTERM, then SIGKILL
 * after a grace period), on SIGINT/SIGTERM/SIGHUP (a handler kills the children), and
 * even on a crash or SIGKILL of the test process (children get PR_SET_PDEATHSIG, and a
 * small "reaper" process started by mh_init removes whatever is left, the temporary
 * directory included). MERCATO_HARNESS_KEEP=1 keeps the directory for inspection.
 *
 * Environment the harness reads:
 *   MONGODB_URI_TEST          use this MongoDB instead of starting FerretDB; each run uses
 *                             fresh database names (mt_<random>…) and drops them at exit.
 *                             Stopping/restarting the database is then impossible:
 *                             mh_mongo_controllable() is false and such tests skip.
 *   MERCATO_FERRETDB          the ferretdb binary (else `ferretdb` on the PATH, else
 *                             <repo>/.tools/bin/ferretdb)
 *   MERCATO_HARNESS_VALGRIND  1: run every service under valgrind (normal build only)
 *   MERCATO_HARNESS_LOG_LEVEL LOG_LEVEL given to services (default info)
 *   MERCATO_HARNESS_KEEP      1: keep the temporary directory
 *
 * Example (a cmocka integration test of the category service):
 *
 *   static mh_service_t *svc;
 *   static int setup(void **state) {
 *       if (mh_mongo_start() != 0 || mh_redis_start() != 0) return -1;
 *       svc = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
 *       return svc != NULL ? 0 : -1;
 *   }
 *   static int teardown(void **state) {
 *       return mh_service_stop(svc) == 0 ? 0 : -1;   // a clean exit is part of the test
 *   }
 *   static void creates_a_category(void **state) {
 *       char *admin = mh_token(MH_TEST_USER_ID, "admin");
 *       mh_response_t r = mh_send("POST", mh_url(svc, "/api/categories"), admin,
 *                                 json_pack("{s:s}", "name", "Shoes"));
 *       assert_int_equal(r.status, 201);
 *       assert_string_equal(json_string_value(json_object_get(r.json, "slug")), "shoes");
 *       mh_response_free(&r);
 *       free(admin);
 *   }
 *   int main(void) {
 *       const struct CMUnitTest tests[] = {cmocka_unit_test(creates_a_category)};
 *       return mh_run_group("category", tests, setup, teardown);
 *   }
 *
 * All functions run on the test's main thread; they block (they are never called from
 * an event loop callback of the code under test).
 */
#ifndef MERCATO_HARNESS_H
#define MERCATO_HARNESS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <sys/types.h>
#include <cmocka.h>
#include <jansson.h>

/* --- the run ---------------------------------------------------------------------------- */

/* Creates the temporary directory and the reaper, installs the exit and signal
 * handlers. Idempotent; every other function calls it. 0, or -1 (reason on stderr). */
int mh_init(void);
/* The run's temporary directory (removed at exit). */
const char *mh_tmpdir(void);
/* A TCP port on 127.0.0.1 that was free a moment ago. */
uint16_t mh_free_port(void);
/* Runs a cmocka group and, when a test failed, prints the stderr of every process the
 * harness started (services, FerretDB, Redis). Returns the number of failures. */
#define mh_run_group(name, tests, setup, teardown) mh_finish(cmocka_run_group_tests_name(name, tests, setup, teardown))
int mh_finish(int failures);
/* Prints every captured log now (also done at exit after a failure). */
void mh_dump_logs(void);
/* Milliseconds of a monotonic clock, for "answered before X" assertions. */
uint64_t mh_now_ms(void);
/* Sleeps (the harness never needs it; tests waiting for a background effect may). */
void mh_sleep_ms(unsigned ms);
/* Polls cond(arg) every 20 ms for up to timeout_ms; true as soon as it holds. */
bool mh_wait_until(bool (*cond)(void *arg), void *arg, unsigned timeout_ms);

/* --- MongoDB (FerretDB) ------------------------------------------------------------------- */

/* Starts FerretDB (SQLite in the temporary directory) on a free port and waits until it
 * answers ping; or, with MONGODB_URI_TEST, checks that MongoDB answers. Calling it again
 * after mh_mongo_stop restarts it on the same port with the same data. */
int mh_mongo_start(void);
/* Stops FerretDB (SIGTERM, then SIGKILL) and waits until it is gone. -1 when the database
 * is not ours to stop (MONGODB_URI_TEST). */
int mh_mongo_stop(void);
/* False with MONGODB_URI_TEST: tests of "database down" call skip() then. */
bool mh_mongo_controllable(void);
/* mongodb://127.0.0.1:PORT (or MONGODB_URI_TEST); valid once started. */
const char *mh_mongo_uri(void);
/* A database name unique to this run: "mt_<run>_<suffix>" (suffix may be NULL). The
 * string is kept for the run and the database is dropped at exit with MONGODB_URI_TEST. */
const char *mh_mongo_db(const char *suffix);

/* --- Redis ----------------------------------------------------------------------------------- */

/* Starts redis-server (no persistence) on a free port and waits for PING; again after
 * mh_redis_stop: the same port and directory. */
int mh_redis_start(void);
/* The same with `requirepass password` (before the first start only). */
int mh_redis_start_with_password(const char *password);
/* SIGTERM and wait. */
int mh_redis_stop(void);
/* SIGKILL and wait (a crash). */
int mh_redis_kill(void);
/* SIGSTOP / SIGCONT: Redis stays connected but answers nothing (command timeouts). */
int mh_redis_pause(void);
int mh_redis_resume(void);
uint16_t mh_redis_port(void);
/* redis://[:password@]127.0.0.1:PORT/0 */
const char *mh_redis_url(void);
/* A blocking Redis command for checks, through redis-cli: e.g. mh_redis_cli("GET k").
 * Returns the trimmed output (static buffer) or NULL on failure. */
const char *mh_redis_cli(const char *args);

/* --- service processes ------------------------------------------------------------------ */

typedef struct mh_service mh_service_t;

typedef struct mh_service_opts {
    /* Extra environment, "NAME=value" entries ending with NULL; they override the
     * defaults: PORT (free), HOST=127.0.0.1, MONGODB_URI and MONGODB_DB (mh_mongo_db(name))
     * when MongoDB runs, REDIS_URL when Redis runs, JWT_SECRET (MH_JWT_SECRET),
     * INTERNAL_API_KEY (MH_INTERNAL_KEY),
     * LOG_LEVEL, MERCATO_ENV=test. "NAME=" (empty) removes a variable. */
    const char *const *env;
    /* 1: under valgrind; 0: when MERCATO_HARNESS_VALGRIND=1; -1: never. Ignored (with a
     * note) in the sanitizer build. */
    int valgrind;
    /* Also wait for GET /ready to answer 200. */
    bool wait_ready;
    /* How long to wait for /health (and /ready); 0 = 30 s (180 s under valgrind). */
    unsigned start_timeout_ms;
    /* Fixed port; 0 = a free one. */
    uint16_t port;
    /* Extra command-line arguments, ending with NULL (may be NULL). */
    const char *const *args;
} mh_service_opts_t;

/* Starts a service: `binary` is a path, or a name looked up in the build's bin/
 * directory. Its stdout and stderr go to <tmp>/<name>-<n>.log. Waits for GET /health to
 * answer 200 (and /ready with wait_ready). NULL when it does not come up (its log is
 * printed). */
mh_service_t *mh_service_start(const char *binary, const mh_service_opts_t *opts);
/* Sends SIGTERM and waits (up to 30 s, 120 s under valgrind; then SIGKILL). Returns the
 * exit status: 0 for a clean exit, 128+N when killed by signal N (so tests can assert a
 * clean shutdown), -1 on a harness error; under valgrind an error report or a definite
 * leak shows as exit status 99. The log is printed when the status is not 0. Frees s. */
int mh_service_stop(mh_service_t *s);
/* Sends a signal without waiting (e.g. SIGKILL to simulate a crash, then _stop reaps). */
int mh_service_signal(mh_service_t *s, int sig);
/* "http://127.0.0.1:PORT" */
const char *mh_service_url(const mh_service_t *s);
uint16_t mh_service_port(const mh_service_t *s);
pid_t mh_service_pid(const mh_service_t *s);
/* Path of the captured stdout+stderr, and a way to print it. */
const char *mh_service_log(const mh_service_t *s);
void mh_service_print_log(const mh_service_t *s);
/* base URL + path in a buffer that stays valid for the run (a ring of 64 entries). */
const char *mh_url(const mh_service_t *s, const char *path);

/* --- HTTP (libcurl) ---------------------------------------------------------------------- */

typedef struct mh_request {
    const char *method;         /* default GET (POST when a body is given) */
    const char *url;            /* absolute URL */
    const char *token;          /* sent as Authorization: Bearer <token> when set */
    const char *const *headers; /* extra "Name: value" lines ending with NULL */
    const json_t *json;         /* body as JSON with Content-Type: application/json */
    const char *body;           /* raw body when json is NULL */
    size_t body_len;            /* 0 with body set: strlen(body) */
    const char *content_type;   /* for a raw body (none when NULL) */
    long timeout_ms;            /* default 15000 */
} mh_request_t;

typedef struct mh_response {
    long status;       /* 0 when no response came (see error) */
    char *body;        /* NUL-terminated ("" when empty) */
    size_t body_len;
    json_t *json;      /* the body parsed as JSON, or NULL when it is not JSON */
    size_t nheaders;   /* headers of the final response, names as received */
    char **header_names;
    char **header_values;
    char error[256];   /* curl's reason when status is 0 */
} mh_response_t;

/* Performs a request. Returns 0 when a response arrived (any status). */
int mh_http(const mh_request_t *req, mh_response_t *res);
/* Shorthands: GET, and a request with a JSON body whose reference is stolen (may be
 * NULL for no body). */
mh_response_t mh_get(const char *url, const char *token);
mh_response_t mh_send(const char *method, const char *url, const char *token, json_t *json);
/* A response header, case-insensitive (the last one of that name); NULL when absent. */
const char *mh_header(const mh_response_t *res, const char *name);
void mh_response_free(mh_response_t *res);
/* The "code" of an error envelope ({"error":{"code":…}}), or NULL. */
const char *mh_error_code(const mh_response_t *res);

/* --- tokens -------------------------------------------------------------------------------- */

/* The HS256 secret services get as JWT_SECRET in tests. */
#define MH_JWT_SECRET "mercato-integration-tests-secret-0123456789abcdef"
#define MH_JWT_ISSUER "mercato-auth"
#define MH_JWT_AUDIENCE "mercato"
/* The INTERNAL_API_KEY services get in tests (send it as X-Internal-Key to call
 * service-only endpoints). */
#define MH_INTERNAL_KEY "mercato-integration-internal-key-0123456789abcdef"
/* A fixed user id to use in tests. */
#define MH_TEST_USER_ID "64b7f0c2a1b2c3d4e5f60718"

/* A valid access token for sub/role ("customer", "seller", "admin") signed by lib/mc_jwt
 * with the test secret, issued now. malloc'd. */
char *mh_token(const char *sub, const char *role);
/* The same issued at now_s (seconds since the epoch): expired tokens, future ones. */
char *mh_token_at(const char *sub, const char *role, int64_t now_s);

/* Forging. mh_claims gives the claims of a valid token (iss, aud, sub, role, typ, jti,
 * iat, nbf, exp) as a new object to modify; mh_token_sign signs header and claims as
 * given: alg "HS256" (HMAC with key, or the test secret when key is NULL), "RS256"
 * (key: a private key PEM), anything else (e.g. "none") gets an empty signature. The
 * header's reference is stolen (so json_pack(…) can be written inline); NULL means
 * {"alg":"HS256","typ":"JWT"}. The claims are only borrowed. Returns a malloc'd compact
 * token. */
json_t *mh_claims(const char *sub, const char *role, int64_t now_s);
char *mh_token_sign(json_t *header, const json_t *claims, const void *key, size_t keylen);
/* The same from raw JSON texts (duplicate keys, odd types…). */
char *mh_token_sign_raw(const char *header_json, const char *claims_json, const char *alg, const void *key,
                        size_t keylen);
/* A fresh 2048-bit RSA key pair as PEM strings (malloc'd). 0 on success. */
int mh_rsa_keypair(char **public_pem, char **private_pem);
/* A random ObjectId in hex into out[25]. */
void mh_oid(char out[25]);

/* --- product ------------------------------------------------------------------------------- */

/* Performs the n requests at the same moment: one thread each, all released together by
 * a barrier. res[i] receives the response to reqs[i] (free each with mh_response_free).
 * Returns 0 when every request got a response, -1 otherwise (see res[i].error). */
int mh_http_parallel(const mh_request_t *reqs, size_t n, mh_response_t *res);

/* --- auth: SMTP and Google keys for the auth service's tests ---------------------------------
 * (mh_smtp.c, smtp_sink.py, mh_jwks.c) */

/* A real SMTP server (aiosmtpd, from the project's Python environment) on a free port,
 * started and stopped like a service (log, clean-exit check). It accepts every message
 * unless told to refuse. */
typedef struct mh_smtp mh_smtp_t;
mh_smtp_t *mh_smtp_start(void);
/* Stops it (SIGTERM); 0 on a clean exit. Messages received are forgotten. */
int mh_smtp_stop(mh_smtp_t *s);
/* Starts it again on the same port after mh_smtp_stop (an SMTP server coming back). */
int mh_smtp_restart(mh_smtp_t *s);
/* Stops it if running and frees s. */
void mh_smtp_free(mh_smtp_t *s);
/* smtp://127.0.0.1:PORT, for SMTP_URL. */
const char *mh_smtp_url(const mh_smtp_t *s);
/* Every message received so far: [{from, to:[…], subject, messageId, headers:{…},
 * text (decoded plain-text body), raw}]; NULL when the server is not running. */
json_t *mh_smtp_messages(mh_smtp_t *s);
/* Waits up to timeout_ms for a message to `to` (case-insensitive) whose subject contains
 * subject_part (NULL: any) that no earlier call returned, and returns it (a new
 * reference), or NULL. */
json_t *mh_smtp_wait(mh_smtp_t *s, const char *to, const char *subject_part, unsigned timeout_ms);
/* How many messages to `to` with subject_part arrived (every one, returned or not). */
size_t mh_smtp_count(mh_smtp_t *s, const char *to, const char *subject_part);
/* Makes the server answer RCPT TO with `code` (451: try later, 550: refused; 0: accept). */
int mh_smtp_refuse(mh_smtp_t *s, int code);
/* The 43-character token after "token=" in a message's text, into out[44]. */
bool mh_smtp_token(const json_t *msg, char *out);

/* The JWK {kty, kid, use, alg, n, e} of an RSA public key in PEM (from mh_rsa_keypair): to
 * publish as a key set {"keys":[…]} the way Google does. NULL on a bad key. */
json_t *mh_jwk(const char *public_pem, const char *kid);

/* --- checkout (coupon and order services): tests/harness/mh_checkout.c -------------------- */

/* A Redis subscriber on the harness's Redis that records every message of one channel,
 * in arrival order. It reconnects by itself (every 20 ms) after Redis goes away; messages
 * published while it is disconnected are of course not seen. */
typedef struct mh_sub mh_sub_t;
/* Subscribes and waits until the subscription is confirmed; NULL on failure. */
mh_sub_t *mh_sub_start(const char *channel);
/* Messages received so far. */
size_t mh_sub_count(mh_sub_t *s);
/* Message i parsed as JSON (new reference; NULL when out of range or not JSON). */
json_t *mh_sub_message(mh_sub_t *s, size_t i);
/* Waits until at least n messages arrived; false after timeout_ms. */
bool mh_sub_wait(mh_sub_t *s, size_t n, unsigned timeout_ms);
void mh_sub_stop(mh_sub_t *s);

/* --- gateway ------------------------------------------------------------------------------- */

/* Starts bin/mercato-gateway with the repository's schema/ and the playground's npm
 * packages, and the extra environment env (NULL-terminated; e.g. "PRODUCT_URL=…";
 * services without a URL point at a closed port). Waits for /health. NULL on failure. */
mh_service_t *mh_gateway_start(const char *const *env);
/* POST /graphql with {query, variables} (variables stolen, may be NULL) as token.
 * Asserts a 200 JSON answer and returns it (new reference). */
json_t *mh_gql(const mh_service_t *gw, const char *token, const char *query, json_t *variables);
/* The value at a dotted path with list indexes ("data.products.edges.0.node.name"),
 * borrowed; NULL when absent. */
json_t *mh_json_at(const json_t *v, const char *path);
/* The first error of a GraphQL answer with this extensions.code, or NULL. */
json_t *mh_gql_error(const json_t *answer, const char *code);
/* The current size of a service's captured log, and how many lines written since
 * that offset contain `needle` (the services' access logs: one line per request). */
size_t mh_log_mark(const mh_service_t *s);
unsigned mh_log_count(const mh_service_t *s, size_t mark, const char *needle);
/* Runs a command (argv NULL-terminated, argv[0] looked up in PATH) with its output in
 * the test's log; returns its exit status (-1 when it could not run). */
int mh_run(const char *const *argv);
/* <repository>/<rel>, in a buffer valid for the run. */
const char *mh_source_path(const char *rel);

#endif
