/*
 * Unit tests of gateway/gw_metrics.c (the file is included to reach the exposition):
 * what is counted comes out in Prometheus' text format — one HELP and TYPE per metric,
 * cumulative histogram buckets ending in +Inf with _sum and _count, label values
 * escaped —, and operation names beyond the configured number share "(other)".
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "gw_metrics.c"

static gw_services_t svcs;

static int setup(void **state)
{
    (void)state;
    memset(&svcs, 0, sizeof(svcs));
    svcs.n = 2;
    svcs.s[0].name = "auth";
    svcs.s[1].name = "product";
    gw_metrics_init(&svcs, 2);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gw_metrics_free();
    return 0;
}

static char *scrape(void)
{
    gql_buf out;
    gql_buf_init(&out, 0);
    write_all(&out, NULL);
    return gql_buf_steal(&out, NULL);
}

/* The value of the sample whose name and labels are exactly `series`, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = text; p != NULL && *p != '\0';) {
        if (strncmp(p, series, n) == 0 && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p = strchr(p, '\n');
        if (p != NULL)
            ++p;
    }
    return -1;
}

static void counts_come_out_in_the_text_format(void **state)
{
    (void)state;
    gw_metrics_request("ProductPage", "query", GW_OUTCOME_SUCCESS, 3000000);   /* 3 ms */
    gw_metrics_request("ProductPage", "query", GW_OUTCOME_PARTIAL, 200000000); /* 200 ms */
    gw_metrics_request(NULL, NULL, GW_OUTCOME_INVALID, 1000);
    gw_metrics_upstream(1, GW_UP_2XX, 20000000);
    gw_metrics_upstream(1, GW_UP_CIRCUIT_OPEN, 0);
    gw_metrics_retry(1, true);
    gw_metrics_count(GW_C_RL_REQUESTS);
    gw_metrics_count(GW_C_LIMIT_COST);
    gw_metrics_count(GW_C_LIMIT_COST);
    gw_metrics_inflight(1);
    char *t = scrape();
    assert_int_equal(sample(t, "gateway_requests_total{operation=\"ProductPage\",type=\"query\",outcome=\"success\"}"), 1);
    assert_int_equal(sample(t, "gateway_requests_total{operation=\"ProductPage\",type=\"query\",outcome=\"partial\"}"), 1);
    assert_int_equal(sample(t, "gateway_requests_total{operation=\"(unknown)\",type=\"\",outcome=\"invalid\"}"), 1);
    /* cumulative buckets: 3 ms falls in le=0.005, 200 ms in le=0.25 */
    assert_int_equal(
        sample(t, "gateway_request_duration_seconds_bucket{operation=\"ProductPage\",type=\"query\",le=\"0.005\"}"), 1);
    assert_int_equal(
        sample(t, "gateway_request_duration_seconds_bucket{operation=\"ProductPage\",type=\"query\",le=\"0.1\"}"), 1);
    assert_int_equal(
        sample(t, "gateway_request_duration_seconds_bucket{operation=\"ProductPage\",type=\"query\",le=\"0.25\"}"), 2);
    assert_int_equal(
        sample(t, "gateway_request_duration_seconds_bucket{operation=\"ProductPage\",type=\"query\",le=\"+Inf\"}"), 2);
    assert_int_equal(sample(t, "gateway_request_duration_seconds_count{operation=\"ProductPage\",type=\"query\"}"), 2);
    assert_true(sample(t, "gateway_request_duration_seconds_sum{operation=\"ProductPage\",type=\"query\"}") > 0.2);
    assert_int_equal(sample(t, "gateway_upstream_requests_total{service=\"product\",result=\"2xx\"}"), 1);
    assert_int_equal(sample(t, "gateway_upstream_requests_total{service=\"product\",result=\"circuit_open\"}"), 1);
    assert_int_equal(sample(t, "gateway_upstream_requests_total{service=\"auth\",result=\"2xx\"}"), 0);
    /* a call failed fast is not a latency */
    assert_int_equal(sample(t, "gateway_upstream_duration_seconds_count{service=\"product\"}"), 1);
    assert_int_equal(sample(t, "gateway_upstream_retries_total{service=\"product\",decision=\"made\"}"), 1);
    assert_int_equal(sample(t, "gateway_rate_limited_total{limit=\"requests\"}"), 1);
    assert_int_equal(sample(t, "gateway_limit_rejections_total{limit=\"cost\"}"), 2);
    assert_int_equal(sample(t, "gateway_requests_in_flight"), 1);
    assert_true(sample(t, "process_resident_memory_bytes") > 0);
    assert_non_null(strstr(t, "# TYPE gateway_request_duration_seconds histogram\n"));
    assert_non_null(strstr(t, "# TYPE gateway_requests_total counter\n"));
    /* every TYPE line once */
    const char *p = strstr(t, "# TYPE gateway_requests_total ");
    assert_null(strstr(p + 1, "# TYPE gateway_requests_total "));
    free(t);
    gw_metrics_inflight(-1);
}

static void operation_names_are_bounded_and_escaped(void **state)
{
    (void)state;
    /* the table holds two names: ProductPage (above) and one more */
    gw_metrics_request("Evil\"\\\nName", "query", GW_OUTCOME_SUCCESS, 1000);
    gw_metrics_request("Third", "query", GW_OUTCOME_SUCCESS, 1000);
    gw_metrics_request("Fourth", "mutation", GW_OUTCOME_FAILED, 1000);
    char *t = scrape();
    assert_int_equal(
        sample(t, "gateway_requests_total{operation=\"Evil\\\"\\\\\\nName\",type=\"query\",outcome=\"success\"}"), 1);
    assert_null(strstr(t, "\"Third\""));
    assert_int_equal(sample(t, "gateway_requests_total{operation=\"(other)\",type=\"\",outcome=\"success\"}"), 1);
    assert_int_equal(sample(t, "gateway_requests_total{operation=\"(other)\",type=\"\",outcome=\"failed\"}"), 1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(counts_come_out_in_the_text_format),
        cmocka_unit_test(operation_names_are_bounded_and_escaped),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
