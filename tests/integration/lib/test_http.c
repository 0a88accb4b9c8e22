/*
 * Integration tests of lib/mc_http against a small Python HTTP/1.1 server
 * (http_fixture.py, started through the harness like a service): requests and
 * responses, keep-alive reuse counted on the server's side, the pool's capacity and idle
 * expiry, the whole-call timeout against a server that never answers, the response cap
 * (Content-Length and chunked), cancellation, and clean closes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "loop_util.h"
#include "mc_http.h"

static mh_service_t *fixture;
static uv_loop_t loop;

/* One call's outcome, copied out of the callback. */
typedef struct result {
    bool done;
    int calls; /* how often the callback ran (must be 1) */
    int status;
    char err[64];
    char *body;
    size_t body_len;
    json_t *json;
    char content_type[64];
    char fixture_header[32];
    /* chaining: start this many more calls from the callback */
    mc_http_client_t *chain_client;
    int chain_left;
    const char *chain_url;
} result_t;

static void result_free(result_t *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof(*r));
}

static void on_response(const mc_http_response_t *res, void *data);

static void start(mc_http_client_t *c, const char *url, result_t *r)
{
    mc_http_request_t req = {.url = url};
    assert_int_equal(mc_http_fetch(c, &req, on_response, r, NULL), 0);
}

static void on_response(const mc_http_response_t *res, void *data)
{
    result_t *r = data;
    ++r->calls;
    r->done = true;
    r->status = res->status;
    snprintf(r->err, sizeof(r->err), "%s", res->err != NULL ? res->err : "");
    free(r->body);
    r->body = malloc(res->body_len + 1);
    memcpy(r->body, res->body, res->body_len + 1); /* NUL-terminated by contract */
    r->body_len = res->body_len;
    json_decref(r->json);
    r->json = json_loadb(res->body, res->body_len, 0, NULL);
    for (size_t i = 0; i < res->nheaders; ++i) {
        if (strcmp(res->headers[i].name, "content-type") == 0)
            snprintf(r->content_type, sizeof(r->content_type), "%s", res->headers[i].value);
        if (strcmp(res->headers[i].name, "x-fixture") == 0)
            snprintf(r->fixture_header, sizeof(r->fixture_header), "%s", res->headers[i].value);
    }
    if (r->chain_left > 0) { /* a call made from a callback */
        --r->chain_left;
        r->done = false;
        start(r->chain_client, r->chain_url, r);
    }
}

static result_t fetch(mc_http_client_t *c, const mc_http_request_t *req)
{
    result_t r;
    memset(&r, 0, sizeof(r));
    assert_int_equal(mc_http_fetch(c, req, on_response, &r, NULL), 0);
    assert_true(lu_run_until(&loop, lu_flag, &r.done, 30000));
    assert_int_equal(r.calls, 1);
    return r;
}

static result_t get(mc_http_client_t *c, const char *path)
{
    mc_http_request_t req = {.url = mh_url(fixture, path)};
    return fetch(c, &req);
}

/* Connections the fixture has seen a request on (its /stats questions excepted). */
static long connections(void)
{
    mh_response_t r = mh_get(mh_url(fixture, "/stats"), NULL);
    assert_int_equal(r.status, 200);
    long n = (long)json_integer_value(json_object_get(r.json, "connections"));
    mh_response_free(&r);
    return n;
}

static long opened_since(long before)
{
    return connections() - before;
}

/* The client a test uses; closed by the test or, when an assertion ended the test
 * early, by its teardown. */
static mc_http_client_t *current;

static mc_http_client_t *new_client(const mc_http_client_opts_t *opts)
{
    current = mc_http_client_create(&loop, opts);
    assert_non_null(current);
    return current;
}

static void close_client(mc_http_client_t *c)
{
    mc_http_client_close(c);
    current = NULL;
    assert_int_equal(lu_finish(&loop), 0);
    uv_loop_init(&loop);
}

static int test_teardown(void **state)
{
    if (current != NULL) {
        mc_http_client_close(current);
        current = NULL;
        int rc = lu_finish(&loop);
        uv_loop_init(&loop);
        return rc;
    }
    return 0;
}

static int setup(void **state)
{
    uv_loop_init(&loop);
    mh_service_opts_t opts = {.valgrind = -1};
    fixture = mh_service_start(MC_TEST_DIR "/http_fixture.py", &opts);
    return fixture != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    int rc = lu_finish(&loop);
    int st = mh_service_stop(fixture);
    return rc == 0 && st == 0 ? 0 : -1;
}

static void requests_and_responses(void **state)
{
    mc_http_client_t *c = new_client(NULL);
    mc_http_header_t hdrs[] = {{"Authorization", "Bearer t0k"}, {"Accept", "application/json"}};
    mc_http_request_t req = {.method = "POST", .url = mh_url(fixture, "/echo?x=1"), .headers = hdrs, .nheaders = 2,
                             .body = "{\"a\":1}", .body_len = 7, .request_id = "req-42"};
    result_t r = fetch(c, &req);
    assert_string_equal(r.err, "");
    assert_int_equal(r.status, 200);
    assert_string_equal(r.content_type, "application/json");
    assert_string_equal(r.fixture_header, "echo");
    assert_non_null(r.json);
    assert_string_equal(json_string_value(json_object_get(r.json, "method")), "POST");
    assert_string_equal(json_string_value(json_object_get(r.json, "path")), "/echo?x=1");
    assert_string_equal(json_string_value(json_object_get(r.json, "body")), "{\"a\":1}");
    json_t *h = json_object_get(r.json, "headers");
    assert_string_equal(json_string_value(json_object_get(h, "x-request-id")), "req-42");
    assert_string_equal(json_string_value(json_object_get(h, "authorization")), "Bearer t0k");
    assert_string_equal(json_string_value(json_object_get(h, "content-type")), "application/json");
    assert_string_equal(json_string_value(json_object_get(h, "content-length")), "7");
    result_free(&r);

    /* statuses pass through; 204 and HEAD have no body */
    r = get(c, "/status?code=503");
    assert_int_equal(r.status, 503);
    assert_string_equal(r.body, "{\"status\":503}");
    result_free(&r);
    r = get(c, "/status?code=204");
    assert_int_equal(r.status, 204);
    assert_int_equal(r.body_len, 0);
    assert_string_equal(r.body, "");
    result_free(&r);
    mc_http_request_t head = {.method = "HEAD", .url = mh_url(fixture, "/big?n=5000")};
    r = fetch(c, &head);
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    result_free(&r);

    /* a body that ends when the server closes */
    r = get(c, "/nolength?n=3000");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 3000);
    assert_int_equal(r.body[2999], 'a' + 2999 % 26);
    result_free(&r);
    close_client(c);
}

static void chunked_responses(void **state)
{
    mc_http_client_t *c = new_client(NULL);
    result_t r = get(c, "/chunked?n=100000&parts=7");
    assert_string_equal(r.err, "");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 100000);
    for (size_t i = 0; i < r.body_len; ++i)
        if (r.body[i] != (char)('a' + i % 26))
            fail_msg("byte %zu is %c", i, r.body[i]);
    result_free(&r);
    r = get(c, "/chunked?n=0");
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 0);
    result_free(&r);
    close_client(c);
}

static void keep_alive_reuses_one_connection(void **state)
{
    mc_http_client_t *c = new_client(NULL);
    long before = connections();
    for (int i = 0; i < 5; ++i) { /* one after the other */
        result_t r = get(c, "/health");
        assert_int_equal(r.status, 200);
        result_free(&r);
    }
    /* and each started from the previous one's callback */
    result_t chain;
    memset(&chain, 0, sizeof(chain));
    chain.chain_client = c;
    chain.chain_left = 4;
    chain.chain_url = mh_url(fixture, "/health");
    start(c, chain.chain_url, &chain);
    assert_true(lu_run_until(&loop, lu_flag, &chain.done, 30000));
    assert_int_equal(chain.calls, 5);
    assert_int_equal(chain.status, 200);
    result_free(&chain);
    assert_int_equal(opened_since(before), 1);

    /* a response with Connection: close is not reused */
    result_t r = get(c, "/close");
    assert_int_equal(r.status, 200);
    result_free(&r);
    r = get(c, "/health");
    result_free(&r);
    assert_int_equal(opened_since(before), 2);
    close_client(c);
}

static void pool_capacity_bounds_connections(void **state)
{
    mc_http_client_opts_t opts = {.pool_capacity = 2};
    mc_http_client_t *c = new_client(&opts);
    long before = connections();
    result_t r[6];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < 6; ++i)
        start(c, mh_url(fixture, "/slow?ms=100"), &r[i]);
    for (int i = 0; i < 6; ++i) {
        assert_true(lu_run_until(&loop, lu_flag, &r[i].done, 30000));
        assert_int_equal(r[i].status, 200);
        assert_int_equal(r[i].calls, 1);
        result_free(&r[i]);
    }
    assert_int_equal(opened_since(before), 2);
    close_client(c);
}

static void idle_connections_expire(void **state)
{
    mc_http_client_opts_t opts = {.keepalive_timeout_ms = 200};
    mc_http_client_t *c = new_client(&opts);
    long before = connections();
    result_t r = get(c, "/health");
    result_free(&r);
    lu_run_for(&loop, 400);
    r = get(c, "/health");
    assert_int_equal(r.status, 200);
    result_free(&r);
    assert_int_equal(opened_since(before), 2);
    close_client(c);
}

static void times_out_a_server_that_never_answers(void **state)
{
    mc_http_client_t *c = new_client(NULL);
    long before = connections();
    mc_http_request_t req = {.url = mh_url(fixture, "/never"), .timeout_ms = 300};
    uint64_t t0 = mh_now_ms();
    result_t r = fetch(c, &req);
    assert_string_equal(r.err, "timeout");
    assert_int_equal(r.status, 0);
    assert_true(mh_now_ms() - t0 + 2 >= 300); /* not before its time (give or take the clocks' ms) */
    result_free(&r);
    /* the timed-out connection is not put back into the pool */
    r = get(c, "/health");
    assert_int_equal(r.status, 200);
    result_free(&r);
    assert_int_equal(opened_since(before), 2);

    /* the client's default timeout applies when the request has none */
    close_client(c);
    mc_http_client_opts_t opts = {.default_timeout_ms = 200};
    c = new_client(&opts);
    r = get(c, "/never");
    assert_string_equal(r.err, "timeout");
    result_free(&r);
    close_client(c);
}

static void caps_the_response_size(void **state)
{
    mc_http_client_opts_t opts = {.max_response_bytes = 1000};
    mc_http_client_t *c = new_client(&opts);
    result_t r = get(c, "/big?n=1000"); /* exactly the cap */
    assert_int_equal(r.status, 200);
    assert_int_equal(r.body_len, 1000);
    result_free(&r);
    r = get(c, "/big?n=5000"); /* refused from its Content-Length */
    assert_string_equal(r.err, "response too large");
    assert_int_equal(r.status, 0);
    result_free(&r);
    r = get(c, "/chunked?n=5000&parts=5"); /* refused while reading */
    assert_string_equal(r.err, "response too large");
    result_free(&r);
    r = get(c, "/nolength?n=5000");
    assert_string_equal(r.err, "response too large");
    result_free(&r);
    r = get(c, "/health"); /* and the client goes on */
    assert_int_equal(r.status, 200);
    result_free(&r);
    close_client(c);
}

static void never_called(const mc_http_response_t *res, void *data)
{
    fail_msg("callback of a cancelled call ran");
}

static void cancels(void **state)
{
    mc_http_client_t *c = new_client(NULL);
    mc_http_call_t *a = NULL, *b = NULL;
    mc_http_request_t slow = {.url = mh_url(fixture, "/slow?ms=300")};
    assert_int_equal(mc_http_fetch(c, &slow, never_called, NULL, &a), 0);
    assert_non_null(a);
    mc_http_cancel(a); /* before it even started */
    assert_int_equal(mc_http_fetch(c, &slow, never_called, NULL, &b), 0);
    lu_run_for(&loop, 100); /* connected, request sent, waiting */
    mc_http_cancel(b);
    lu_run_for(&loop, 400); /* the answer would have come by now */
    result_t r = get(c, "/health");
    assert_int_equal(r.status, 200);
    result_free(&r);

    /* closing the client with calls in flight: no callback, nothing left open */
    mc_http_request_t never = {.url = mh_url(fixture, "/never")};
    assert_int_equal(mc_http_fetch(c, &never, never_called, NULL, NULL), 0);
    assert_int_equal(mc_http_fetch(c, &slow, never_called, NULL, NULL), 0);
    lu_run_for(&loop, 50);
    assert_int_equal(mc_http_fetch(c, &slow, never_called, NULL, NULL), 0); /* still queued */
    close_client(c);
}

static void connection_and_name_errors(void **state)
{
    mc_http_client_t *c = new_client(NULL);
    char url[96];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/", (unsigned)mh_free_port());
    mc_http_request_t refused = {.url = url};
    result_t r = fetch(c, &refused);
    assert_string_equal(r.err, "connection failed");
    result_free(&r);

    mc_http_request_t nxdomain = {.url = "http://no-such-host.invalid/"};
    r = fetch(c, &nxdomain);
    assert_string_equal(r.err, "name resolution failed");
    result_free(&r);

    snprintf(url, sizeof(url), "http://localhost:%u/health", (unsigned)mh_service_port(fixture));
    mc_http_request_t named = {.url = url};
    r = fetch(c, &named);
    assert_int_equal(r.status, 200);
    result_free(&r);

    /* malformed: refused at once, the callback never runs */
    mc_http_request_t bad[] = {{.url = "https://127.0.0.1/"}, {.url = "http://"}, {.url = NULL},
                               {.url = "http://h/", .method = "G T"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        assert_int_equal(mc_http_fetch(c, &bad[i], never_called, NULL, NULL), -1);
    close_client(c);
}

/* The harness itself: the fixture ran as a service, stops with status 0, and its log
 * was captured. */
static void harness_service_lifecycle(void **state)
{
    mh_service_opts_t opts = {.valgrind = -1, .env = (const char *const[]){"FIXTURE_MARK=1", NULL}};
    mh_service_t *s = mh_service_start(MC_TEST_DIR "/http_fixture.py", &opts);
    assert_non_null(s);
    mh_response_t r = mh_get(mh_url(s, "/echo"), "tok");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(json_object_get(r.json, "headers"), "authorization")),
                        "Bearer tok");
    assert_non_null(mh_header(&r, "x-fixture"));
    mh_response_free(&r);
    r = mh_send("PUT", mh_url(s, "/echo"), NULL, json_pack("{s:i}", "n", 3));
    assert_string_equal(json_string_value(json_object_get(r.json, "body")), "{\"n\":3}");
    mh_response_free(&r);
    r = mh_get(mh_url(s, "/status?code=404"), NULL);
    assert_int_equal(r.status, 404);
    mh_response_free(&r);
    const char *log = mh_service_log(s);
    assert_int_equal(mh_service_stop(s), 0);
    FILE *f = fopen(log, "r");
    assert_non_null(f);
    char line[256];
    bool seen = false;
    while (fgets(line, sizeof(line), f) != NULL)
        seen |= strstr(line, "fixture: listening") != NULL;
    fclose(f);
    assert_true(seen);
    /* a killed service reports the signal */
    s = mh_service_start(MC_TEST_DIR "/http_fixture.py", &opts);
    assert_non_null(s);
    mh_service_signal(s, SIGKILL);
    assert_int_equal(mh_service_stop(s), 128 + SIGKILL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(requests_and_responses, test_teardown),
        cmocka_unit_test_teardown(chunked_responses, test_teardown),
        cmocka_unit_test_teardown(keep_alive_reuses_one_connection, test_teardown),
        cmocka_unit_test_teardown(pool_capacity_bounds_connections, test_teardown),
        cmocka_unit_test_teardown(idle_connections_expire, test_teardown),
        cmocka_unit_test_teardown(times_out_a_server_that_never_answers, test_teardown),
        cmocka_unit_test_teardown(caps_the_response_size, test_teardown),
        cmocka_unit_test_teardown(cancels, test_teardown),
        cmocka_unit_test_teardown(connection_and_name_errors, test_teardown),
        cmocka_unit_test_teardown(harness_service_lifecycle, test_teardown),
    };
    return mh_run_group("mc_http", tests, setup, teardown);
}
