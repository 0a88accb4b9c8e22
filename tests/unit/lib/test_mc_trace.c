/*
 * Unit tests of lib/mc_trace.c: reading traceparent as the W3C Trace Context
 * specification says (what it accepts, what it refuses, later versions), the trace of an
 * incoming request, child traceparents for onward calls, and the thread's table that
 * lets log lines and mc_http calls find a request's trace by its request id. The
 * request heads mc_http writes with a trace are checked here too.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "../../../lib/mc_http.c"

#define TP_OK "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

static bool lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void parses_what_the_specification_allows(void **state)
{
    (void)state;
    mc_trace_t t;
    assert_int_equal(mc_trace_parse(TP_OK, strlen(TP_OK), &t), 0);
    assert_string_equal(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_equal(t.span_id, "00f067aa0ba902b7");
    assert_int_equal(t.flags, 1);
    assert_null(t.tracestate);

    /* a later version: its first four fields, and more after a dash */
    const char *v1 = "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00-more";
    assert_int_equal(mc_trace_parse(v1, strlen(v1), &t), 0);
    assert_int_equal(t.flags, 0);

    static const char *const bad[] = {
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",     /* no flags */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* version 00 has nothing more */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace id */
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero span id */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* upper case */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version ff */
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x",  /* a later version, but no dash */
        "0-04bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        if (mc_trace_parse(bad[i], strlen(bad[i]), &t) == 0)
            fail_msg("accepted %s", bad[i]);
    assert_int_equal(mc_trace_parse(NULL, 0, &t), -1);
}

static void a_request_continues_or_starts_a_trace(void **state)
{
    (void)state;
    mc_trace_t t;
    mc_trace_for_request(TP_OK, strlen(TP_OK), "vendor=abc", &t);
    assert_string_equal(t.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_string_not_equal(t.span_id, "00f067aa0ba902b7"); /* a span of our own */
    assert_true(lower_hex(t.span_id, 16));
    assert_int_equal(t.flags, 1);
    assert_string_equal(t.tracestate, "vendor=abc");

    /* malformed: a new trace, and the tracestate that came with it is dropped */
    mc_trace_for_request("nonsense", 8, "vendor=abc", &t);
    assert_int_equal(strlen(t.trace_id), 32);
    assert_true(lower_hex(t.trace_id, 32));
    assert_null(t.tracestate);
    assert_int_equal(t.flags, 0);

    mc_trace_t u;
    mc_trace_for_request(NULL, 0, NULL, &u);
    assert_string_not_equal(t.trace_id, u.trace_id);

    /* a tracestate that could break a header is not passed on */
    mc_trace_for_request(TP_OK, strlen(TP_OK), "a=b\r\nX-Evil: 1", &t);
    assert_null(t.tracestate);
}

static void children_keep_the_trace_with_new_spans(void **state)
{
    (void)state;
    mc_trace_t t;
    assert_int_equal(mc_trace_parse(TP_OK, strlen(TP_OK), &t), 0);
    char a[MC_TRACEPARENT_LEN + 1], b[MC_TRACEPARENT_LEN + 1];
    mc_trace_child(&t, a);
    mc_trace_child(&t, b);
    assert_int_equal(strlen(a), MC_TRACEPARENT_LEN);
    assert_memory_equal(a, "00-4bf92f3577b34da6a3ce929d0e0e4736-", 36);
    assert_string_equal(a + 52, "-01");
    assert_string_not_equal(a, b);
    mc_trace_t back;
    assert_int_equal(mc_trace_parse(a, strlen(a), &back), 0);
    assert_string_equal(back.trace_id, t.trace_id);
}

static void bindings_find_traces_by_request_id(void **state)
{
    (void)state;
    mc_trace_t t1, t2;
    mc_trace_new(&t1);
    mc_trace_new(&t2);
    mc_trace_binding_t b1 = {0}, b2 = {0}, b3 = {0};
    char id1[] = "req-1", id2[] = "req-2";
    assert_null(mc_trace_find("req-1"));
    mc_trace_bind(&b1, id1, &t1);
    mc_trace_bind(&b2, id2, &t2);
    assert_ptr_equal(mc_trace_find("req-1"), &t1);
    assert_ptr_equal(mc_trace_find("req-2"), &t2);
    assert_null(mc_trace_find("req-3"));
    assert_null(mc_trace_find(NULL));
    /* the same id twice (two clients chose it): the later binding wins until it goes */
    mc_trace_bind(&b3, id1, &t2);
    assert_ptr_equal(mc_trace_find("req-1"), &t2);
    mc_trace_unbind(&b3);
    assert_ptr_equal(mc_trace_find("req-1"), &t1);
    mc_trace_unbind(&b1);
    mc_trace_unbind(&b1); /* twice is harmless */
    assert_null(mc_trace_find("req-1"));
    mc_trace_unbind(&b2);
    assert_null(mc_trace_find("req-2"));
}

static char *head_of(const mc_http_request_t *req)
{
    mc_http_url_t u;
    assert_int_equal(parse_url(req->url, &u), 0);
    mc_buf_t b;
    mc_buf_init(&b, MC_HTTP_MAX_HEAD);
    if (build_head(&b, req, &u) != 0) {
        mc_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static void calls_carry_the_trace_of_their_request(void **state)
{
    (void)state;
    mc_trace_t t;
    mc_trace_for_request(TP_OK, strlen(TP_OK), "vendor=abc", &t);
    mc_trace_binding_t b = {0};
    char id[] = "req-9";
    mc_trace_bind(&b, id, &t);
    mc_http_request_t req = {.url = "http://svc/x", .request_id = "req-9"};
    char *s = head_of(&req);
    assert_non_null(s);
    assert_non_null(strstr(s, "traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    assert_non_null(strstr(s, "tracestate: vendor=abc\r\n"));
    free(s);
    mc_trace_unbind(&b);

    /* no request in flight under that id: nothing is invented */
    s = head_of(&req);
    assert_null(strstr(s, "traceparent"));
    free(s);

    /* an explicit one is sent as it is, and must be well-formed */
    mc_http_request_t ex = {.url = "http://svc/x", .traceparent = TP_OK, .tracestate = "k=v"};
    s = head_of(&ex);
    assert_non_null(strstr(s, "traceparent: " TP_OK "\r\ntracestate: k=v\r\n"));
    free(s);
    mc_http_request_t bad = {.url = "http://svc/x", .traceparent = "00-x\r\nX-Evil: 1"};
    assert_null(head_of(&bad));
    mc_http_header_t own[] = {{"traceparent", TP_OK}};
    mc_http_request_t dup = {.url = "http://svc/x", .headers = own, .nheaders = 1};
    assert_null(head_of(&dup));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_what_the_specification_allows),
        cmocka_unit_test(a_request_continues_or_starts_a_trace),
        cmocka_unit_test(children_keep_the_trace_with_new_spans),
        cmocka_unit_test(bindings_find_traces_by_request_id),
        cmocka_unit_test(calls_carry_the_trace_of_their_request),
    };
    return cmocka_run_group_tests_name("mc_trace", tests, NULL, NULL);
}
