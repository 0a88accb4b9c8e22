/*
 * Unit tests of the pure parts of lib/mc_http.c (included to reach them): URL parsing
 * and the request head written to the wire — nothing a caller passes may inject a
 * header or a second request.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "../../../lib/mc_http.c"

static mc_http_url_t url_ok(const char *s)
{
    mc_http_url_t u;
    if (parse_url(s, &u) != 0)
        fail_msg("refused: %s", s);
    return u;
}

static void urls(void **state)
{
    mc_http_url_t u = url_ok("http://127.0.0.1:4002/api/products?ids=a,b");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 4002);
    assert_int_equal(u.path_len, strlen("/api/products?ids=a,b"));
    assert_memory_equal(u.path, "/api/products?ids=a,b", u.path_len);
    assert_false(u.ipv6_literal);

    u = url_ok("http://product");
    assert_string_equal(u.host, "product");
    assert_int_equal(u.port, 80);
    assert_int_equal(u.path_len, 0);

    u = url_ok("HTTP://Example.org:8080?x=1#frag");
    assert_int_equal(u.port, 8080);
    assert_memory_equal(u.path, "?x=1", u.path_len);

    u = url_ok("http://[::1]:9000/p");
    assert_true(u.ipv6_literal);
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 9000);

    static const char *const bad[] = {NULL, "", "https://host/", "ftp://host", "http://", "http://:80/", "http://host:0/",
                                      "http://host:70000/", "http://host:8a/", "http://user@host/", "http://ho st/",
                                      "http://host/pa th", "http://host/a\r\nX: y", "http://[zz::1]/", "http://[::1/",
                                      "http://host/\x7f"};
    mc_http_url_t x;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i)
        if (parse_url(bad[i], &x) == 0)
            fail_msg("accepted: %s", bad[i] != NULL ? bad[i] : "(null)");
    char *huge = malloc(MC_HTTP_MAX_URL + 100);
    strcpy(huge, "http://h/");
    memset(huge + 9, 'a', MC_HTTP_MAX_URL + 50);
    huge[MC_HTTP_MAX_URL + 59] = '\0';
    assert_int_equal(parse_url(huge, &x), -1);
    free(huge);
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

static void request_heads(void **state)
{
    mc_http_header_t h[] = {{"Authorization", "Bearer abc"}, {"Accept", "application/json"}};
    mc_http_request_t req = {.method = "POST", .url = "http://127.0.0.1:4004/api/x?y=1", .headers = h, .nheaders = 2,
                             .body = "{}", .body_len = 2, .request_id = "req-1"};
    char *s = head_of(&req);
    assert_non_null(s);
    assert_string_equal(s, "POST /api/x?y=1 HTTP/1.1\r\nHost: 127.0.0.1:4004\r\nContent-Length: 2\r\n"
                           "Content-Type: application/json\r\nX-Request-Id: req-1\r\nAuthorization: Bearer abc\r\n"
                           "Accept: application/json\r\n\r\n");
    free(s);

    mc_http_request_t get = {.url = "http://svc"};
    s = head_of(&get);
    assert_string_equal(s, "GET / HTTP/1.1\r\nHost: svc\r\n\r\n");
    free(s);

    mc_http_request_t put = {.method = "PUT", .url = "http://[::1]:81/a"};
    s = head_of(&put);
    assert_string_equal(s, "PUT /a HTTP/1.1\r\nHost: [::1]:81\r\nContent-Length: 0\r\n\r\n");
    free(s);

    mc_http_request_t ctype = {.method = "POST", .url = "http://svc/", .body = "a=b", .body_len = 3,
                               .content_type = "application/x-www-form-urlencoded"};
    s = head_of(&ctype);
    assert_non_null(strstr(s, "Content-Type: application/x-www-form-urlencoded\r\n"));
    free(s);
}

static void injections_are_refused(void **state)
{
    mc_http_header_t crlf[] = {{"X-A", "v\r\nX-Injected: 1"}};
    mc_http_header_t badname[] = {{"X A", "v"}};
    mc_http_header_t host[] = {{"Host", "evil"}};
    mc_http_header_t cl[] = {{"content-length", "5"}};
    mc_http_header_t te[] = {{"Transfer-Encoding", "chunked"}};
    mc_http_request_t r1 = {.url = "http://svc/", .headers = crlf, .nheaders = 1};
    mc_http_request_t r2 = {.url = "http://svc/", .headers = badname, .nheaders = 1};
    mc_http_request_t r3 = {.url = "http://svc/", .headers = host, .nheaders = 1};
    mc_http_request_t r4 = {.url = "http://svc/", .headers = cl, .nheaders = 1};
    mc_http_request_t r5 = {.url = "http://svc/", .headers = te, .nheaders = 1};
    mc_http_request_t r6 = {.method = "GET /x HTTP/1.1\r\n", .url = "http://svc/"};
    mc_http_request_t r7 = {.url = "http://svc/", .request_id = "a\r\nb"};
    mc_http_request_t r8 = {.method = "POST", .url = "http://svc/", .body = "x", .body_len = 1, .content_type = "a\nb"};
    const mc_http_request_t *all[] = {&r1, &r2, &r3, &r4, &r5, &r6, &r7, &r8};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i) {
        char *s = head_of(all[i]);
        if (s != NULL)
            fail_msg("request %zu accepted: %s", i + 1, s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(urls),
        cmocka_unit_test(request_heads),
        cmocka_unit_test(injections_are_refused),
    };
    return cmocka_run_group_tests_name("mc_http url", tests, NULL, NULL);
}
