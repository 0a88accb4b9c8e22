/*
 * The gateway against a stand-in for its services (upstream_fixture.py), which answers
 * whatever a test needs and reports every request it received: what the gateway
 * forwards and withholds, how each kind of upstream failure becomes a GraphQL error on
 * its own field while the rest of the query resolves, deduplication, batch chunking,
 * request bodies and enum spellings, GraphQL over HTTP's status codes and hostile
 * requests. The real services are exercised in test_gateway.c.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "harness.h"

static mh_service_t *fixture, *gw;
static char *customer, *admin;

static int setup(void **state)
{
    (void)state;
    fixture = mh_service_start(MC_TEST_DIR "/upstream_fixture.py", &(mh_service_opts_t){.valgrind = -1});
    if (fixture == NULL)
        return -1;
    static char cat[128], prod[128];
    snprintf(cat, sizeof(cat), "CATEGORY_URL=%s", mh_service_url(fixture));
    snprintf(prod, sizeof(prod), "PRODUCT_URL=%s", mh_service_url(fixture));
    const char *env[] = {cat, prod, "GATEWAY_UPSTREAM_TIMEOUT_MS=700", "MAX_BODY_BYTES=65536", NULL};
    gw = mh_gateway_start(env);
    if (gw == NULL)
        return -1;
    customer = mh_token(MH_TEST_USER_ID, "customer");
    admin = mh_token("64b7f0c2a1b2c3d4e5f60001", "admin");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(customer);
    free(admin);
    int a = mh_service_stop(gw);
    int b = mh_service_stop(fixture);
    return a == 0 && b == 0 ? 0 : -1;
}

/* The requests the fixture received since the last call (new reference). */
static json_t *received(void)
{
    mh_response_t r = mh_get(mh_url(fixture, "/_requests"), NULL);
    assert_int_equal(r.status, 200);
    json_t *v = json_incref(r.json);
    mh_response_free(&r);
    return v;
}

static unsigned count_path(const json_t *reqs, const char *path)
{
    unsigned n = 0;
    size_t i;
    json_t *q;
    json_array_foreach(reqs, i, q) n += strcmp(json_string_value(json_object_get(q, "path")), path) == 0;
    return n;
}

static void forwards_the_token_and_request_id_and_nothing_else(void **state)
{
    (void)state;
    json_decref(received());
    char auth[2048], ikey[256];
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", customer);
    snprintf(ikey, sizeof(ikey), "X-Internal-Key: %s", MH_INTERNAL_KEY);
    const char *headers[] = {auth, "X-Request-Id: gw-test-123", "Cookie: session=abc", ikey,
                             "X-Forwarded-For: 10.1.2.3", "X-User-Id: 64b7f0c2a1b2c3d4e5f60001", "Accept: application/json",
                             NULL};
    json_t *body = json_pack("{s:s}", "query", "{ category(id: \"c1\") { name } }");
    mh_response_t r;
    assert_int_equal(mh_http(&(mh_request_t){.method = "POST", .url = mh_url(gw, "/graphql"), .headers = headers,
                                             .json = body},
                             &r),
                     0);
    json_decref(body);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(mh_json_at(r.json, "data.category.name")), "Category c1");
    assert_string_equal(mh_header(&r, "x-request-id"), "gw-test-123");
    mh_response_free(&r);

    json_t *reqs = received();
    assert_int_equal(json_array_size(reqs), 1);
    json_t *h = mh_json_at(reqs, "0.headers");
    char want[2048];
    snprintf(want, sizeof(want), "Bearer %s", customer);
    assert_string_equal(json_string_value(json_object_get(h, "authorization")), want);
    assert_string_equal(json_string_value(json_object_get(h, "x-request-id")), "gw-test-123");
    assert_null(json_object_get(h, "cookie"));
    assert_null(json_object_get(h, "x-internal-key"));
    assert_null(json_object_get(h, "x-forwarded-for"));
    assert_null(json_object_get(h, "x-user-id"));
    json_decref(reqs);
}

static void a_forged_token_is_not_forwarded_and_protected_fields_refuse(void **state)
{
    (void)state;
    json_decref(received());
    json_t *claims = mh_claims("64b7f0c2a1b2c3d4e5f60001", "admin", (int64_t)time(NULL));
    const char other_key[] = "another-secret-that-is-long-enough-0123456789";
    char *forged = mh_token_sign(NULL, claims, other_key, sizeof(other_key) - 1);
    json_decref(claims);
    json_t *a = mh_gql(gw, forged, "{ category(id: \"c2\") { name } fullCategoryTree { category { id } } }", NULL);
    assert_string_equal(json_string_value(mh_json_at(a, "data.category.name")), "Category c2");
    assert_true(json_is_null(mh_json_at(a, "data.fullCategoryTree")));
    json_t *e = mh_gql_error(a, "UNAUTHENTICATED");
    assert_non_null(e);
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "bad signature"));
    assert_string_equal(json_string_value(mh_json_at(e, "path.0")), "fullCategoryTree");
    json_decref(a);
    json_t *reqs = received();
    assert_int_equal(json_array_size(reqs), 1); /* the protected field made no call */
    assert_null(mh_json_at(reqs, "0.headers.authorization"));
    json_decref(reqs);
    free(forged);
}

/* Every kind of failure in one query: each field gets its own error, the rest its data. */
static void each_upstream_failure_stays_on_its_field(void **state)
{
    (void)state;
    json_decref(received());
    const char *q = "{ ok: category(id: \"c9\") { name }"
                    "  missing: category(id: \"s404\") { name }"
                    "  bad: category(id: \"s400\") { name }"
                    "  unauth: category(id: \"s401\") { name }"
                    "  forbidden: category(id: \"s403\") { name }"
                    "  conflict: category(id: \"s409\") { name }"
                    "  refused: category(id: \"s422\") { name }"
                    "  broken: category(id: \"s500\") { name }"
                    "  down: category(id: \"s503\") { name }"
                    "  garbage: category(id: \"notjson\") { name }"
                    "  dropped: category(id: \"drop\") { name }"
                    "  slow: category(id: \"slow\") { name }"
                    "  ok2: category(id: \"c10\") { name } }";
    uint64_t t0 = mh_now_ms();
    json_t *a = mh_gql(gw, NULL, q, NULL);
    (void)t0;
    assert_string_equal(json_string_value(mh_json_at(a, "data.ok.name")), "Category c9");
    assert_string_equal(json_string_value(mh_json_at(a, "data.ok2.name")), "Category c10");
    static const struct {
        const char *alias, *code, *message;
    } want[] = {
        {"bad", "BAD_USER_INPUT", "fixture says 400"},  {"unauth", "UNAUTHENTICATED", "fixture says 401"},
        {"forbidden", "FORBIDDEN", "fixture says 403"}, {"conflict", "CONFLICT", "fixture says 409"},
        {"refused", "BAD_USER_INPUT", "fixture says 422"}, {"broken", "INTERNAL", NULL},
        {"down", "UPSTREAM_UNAVAILABLE", NULL},         {"garbage", "INTERNAL", NULL},
        {"dropped", "UPSTREAM_UNAVAILABLE", NULL},      {"slow", "UPSTREAM_UNAVAILABLE", "timeout"},
    };
    json_t *errs = json_object_get(a, "errors");
    assert_int_equal(json_array_size(errs), sizeof(want) / sizeof(want[0]));
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); ++i) {
        char path[64];
        snprintf(path, sizeof(path), "data.%s", want[i].alias);
        assert_true(json_is_null(mh_json_at(a, path)));
        json_t *found = NULL;
        size_t k;
        json_t *e;
        json_array_foreach(errs, k, e) if (strcmp(json_string_value(mh_json_at(e, "path.0")), want[i].alias) == 0) found = e;
        if (found == NULL)
            fail_msg("no error for %s", want[i].alias);
        assert_string_equal(json_string_value(mh_json_at(found, "extensions.code")), want[i].code);
        assert_string_equal(json_string_value(mh_json_at(found, "extensions.service")), "category");
        const char *msg = json_string_value(json_object_get(found, "message"));
        if (want[i].message != NULL && strstr(msg, want[i].message) == NULL)
            fail_msg("%s: message '%s' lacks '%s'", want[i].alias, msg, want[i].message);
        assert_null(strstr(msg, "hunter2")); /* a failing service's internals stay private */
    }
    json_t *bad = mh_gql_error(a, "BAD_USER_INPUT");
    assert_string_equal(json_string_value(mh_json_at(bad, "extensions.details.0.field")), "name");
    assert_int_equal(json_integer_value(mh_json_at(bad, "extensions.status")), 400);
    assert_null(mh_gql_error(a, "NOT_FOUND")); /* notFound: NULL */
    json_decref(a);
    json_decref(received());
}

static void identical_requests_are_made_once(void **state)
{
    (void)state;
    json_decref(received());
    json_t *a = mh_gql(gw, NULL,
                       "{ a: category(id: \"d1\") { name } b: category(id: \"d1\") { slug id }"
                       "  c: category(id: \"d2\") { name } d: category(id: \"d1\") { ancestors { name } } }",
                       NULL);
    assert_null(json_object_get(a, "errors"));
    assert_string_equal(json_string_value(mh_json_at(a, "data.b.slug")), "category-d1");
    json_decref(a);
    json_t *reqs = received();
    assert_int_equal(count_path(reqs, "/api/categories/d1"), 1);
    assert_int_equal(count_path(reqs, "/api/categories/d2"), 1);
    assert_int_equal(count_path(reqs, "/api/categories/d1/ancestors"), 1);
    assert_int_equal(json_array_size(reqs), 3);
    json_decref(reqs);
}

/* 250 products in 250 categories: the level's 250 look-ups are 3 batch calls of at most
 * 100 ids; 250 products in 7 categories: one call with 7 ids. */
static void batches_are_chunked_and_keys_deduplicated(void **state)
{
    (void)state;
    json_decref(received());
    json_t *a = mh_gql(gw, NULL, "{ products(first: 250, filter: {sellerId: \"250\"}) { nodes { id category { name } } } }",
                       NULL);
    assert_null(json_object_get(a, "errors"));
    assert_int_equal(json_array_size(mh_json_at(a, "data.products.nodes")), 250);
    assert_string_equal(json_string_value(mh_json_at(a, "data.products.nodes.249.category.name")), "Category c249");
    json_decref(a);
    json_t *reqs = received();
    assert_int_equal(count_path(reqs, "/api/products"), 1);
    assert_int_equal(count_path(reqs, "/api/categories/batch"), 3);
    size_t i, total = 0;
    json_t *q;
    json_array_foreach(reqs, i, q)
    {
        if (strcmp(json_string_value(json_object_get(q, "path")), "/api/categories/batch") != 0)
            continue;
        const char *qs = json_string_value(json_object_get(q, "query"));
        size_t ids = 1;
        for (const char *p = qs; *p; ++p)
            ids += (*p == ',') || (p[0] == '%' && p[1] == '2' && (p[2] == 'C' || p[2] == 'c'));
        assert_true(ids <= 100);
        total += ids;
    }
    assert_int_equal(total, 250);
    json_decref(reqs);

    a = mh_gql(gw, NULL, "{ products(first: 250, filter: {sellerId: \"7\"}) { nodes { category { id } } } }", NULL);
    assert_null(json_object_get(a, "errors"));
    json_decref(a);
    reqs = received();
    assert_int_equal(count_path(reqs, "/api/categories/batch"), 1);
    json_decref(reqs);
}

static void arguments_become_query_parameters_and_bodies(void **state)
{
    (void)state;
    json_decref(received());
    json_t *a = mh_gql(gw, NULL,
                       "{ products(first: 2, sort: PRICE_ASC, filter: {tags: [\"red\", \"big one\"], minPrice: 5000000000,"
                       "  inStock: true}) { totalCount } }",
                       NULL);
    assert_null(json_object_get(a, "errors"));
    json_decref(a);
    json_t *reqs = received();
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(json_string_value(mh_json_at(reqs, "0.query")),
                        "minPrice=5000000000&inStock=true&tag=red&tag=big%20one&sort=price_asc&limit=2");
    json_decref(reqs);

    /* Only the fields given are sent; null is sent as null. */
    a = mh_gql(gw, admin,
               "mutation { createCategory(input: {name: \"Lamps\", isActive: false, description: null}) { id name isActive } }",
               NULL);
    assert_null(json_object_get(a, "errors"));
    assert_string_equal(json_string_value(mh_json_at(a, "data.createCategory.name")), "Lamps");
    json_decref(a);
    reqs = received();
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(json_string_value(mh_json_at(reqs, "0.method")), "POST");
    json_t *sent = json_loads(json_string_value(mh_json_at(reqs, "0.body")), 0, NULL);
    json_t *expect = json_pack("{s:s,s:b,s:n}", "name", "Lamps", "isActive", 0, "description");
    assert_true(json_equal(sent, expect));
    assert_string_equal(json_string_value(mh_json_at(reqs, "0.headers.content-type")), "application/json");
    json_decref(sent);
    json_decref(expect);
    json_decref(reqs);

    /* A path value is one segment: slashes and dots cannot reach another endpoint. */
    a = mh_gql(gw, NULL, "{ a: category(id: \"../products\") { id } b: category(id: \"..\") { id } }", NULL);
    assert_string_equal(json_string_value(mh_json_at(a, "data.a.id")), "../products");
    assert_true(json_is_null(mh_json_at(a, "data.b")));
    assert_non_null(mh_gql_error(a, "BAD_USER_INPUT"));
    json_decref(a);
    reqs = received();
    assert_int_equal(json_array_size(reqs), 1);
    assert_string_equal(json_string_value(mh_json_at(reqs, "0.path")), "/api/categories/..%2Fproducts");
    json_decref(reqs);
}

static void roles_are_checked_before_any_call(void **state)
{
    (void)state;
    json_decref(received());
    json_t *a = mh_gql(gw, NULL, "mutation { createCategory(input: {name: \"X\"}) { id } }", NULL);
    assert_non_null(mh_gql_error(a, "UNAUTHENTICATED"));
    assert_true(json_is_null(mh_json_at(a, "data.createCategory")));
    json_decref(a);
    a = mh_gql(gw, customer, "mutation { createCategory(input: {name: \"X\"}) { id } }", NULL);
    json_t *e = mh_gql_error(a, "FORBIDDEN");
    assert_non_null(e);
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "admin"));
    json_decref(a);
    /* An expired token is anonymous, and says so. */
    char *old = mh_token_at(MH_TEST_USER_ID, "admin", 1700000000);
    a = mh_gql(gw, old, "{ fullCategoryTree { category { id } } }", NULL);
    e = mh_gql_error(a, "UNAUTHENTICATED");
    assert_non_null(strstr(json_string_value(json_object_get(e, "message")), "expired"));
    json_decref(a);
    free(old);
    json_t *reqs = received();
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
}

/* --- GraphQL over HTTP ----------------------------------------------------------------------- */

static mh_response_t post_raw(const char *body, const char *ctype, const char *accept)
{
    char acc[256];
    snprintf(acc, sizeof(acc), "Accept: %s", accept != NULL ? accept : "");
    const char *headers[] = {acc, NULL};
    mh_response_t r;
    mh_http(&(mh_request_t){.method = "POST", .url = mh_url(gw, "/graphql"), .body = body, .content_type = ctype,
                            .headers = accept != NULL ? headers : NULL},
            &r);
    return r;
}

/* A GET as a client that passes CSRF prevention sends it (a preflight header). */
static mh_response_t get_preflighted(const char *path, const char *token)
{
    const char *headers[] = {"Apollo-Require-Preflight: true", NULL};
    mh_response_t r;
    mh_http(&(mh_request_t){.url = mh_url(gw, path), .token = token, .headers = headers}, &r);
    return r;
}

static void http_status_codes_follow_the_graphql_over_http_draft(void **state)
{
    (void)state;
    mh_response_t r = post_raw("{\"query\":\"{ nope }\"}", "application/json", "application/graphql-response+json");
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(mh_header(&r, "content-type"), "application/graphql-response+json"));
    assert_null(json_object_get(r.json, "data"));
    assert_string_equal(json_string_value(mh_json_at(r.json, "errors.0.extensions.code")), "BAD_USER_INPUT");
    mh_response_free(&r);
    r = post_raw("{\"query\":\"{ nope }\"}", "application/json", "application/json");
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    /* a field error is still 200 with data */
    r = post_raw("{\"query\":\"{ category(id: \\\"s409\\\") { id } }\"}", "application/json",
                 "application/graphql-response+json");
    assert_int_equal(r.status, 200);
    assert_true(json_is_null(mh_json_at(r.json, "data.category")));
    mh_response_free(&r);
    json_decref(received());
    r = post_raw("{\"query\":\"{ __typename }\"}", "application/json", "text/plain");
    assert_int_equal(r.status, 406);
    mh_response_free(&r);
    r = post_raw("{\"query\":\"{ __typename }\"}", "text/plain", NULL);
    assert_int_equal(r.status, 415);
    mh_response_free(&r);
    r = post_raw("{\"query\": ", "application/json", NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(json_string_value(mh_json_at(r.json, "errors.0.message")), "not JSON"));
    mh_response_free(&r);
    r = post_raw("{\"query\":\"{ __typename }\",\"query\":\"{ __typename }\"}", "application/json", NULL);
    assert_int_equal(r.status, 400);
    mh_response_free(&r);
    /* mutations over GET: 405 with Allow: POST */
    r = get_preflighted("/graphql?query=mutation%7BdeleteCategory(id%3A%22x%22)%7D", admin);
    assert_int_equal(r.status, 405);
    assert_string_equal(mh_header(&r, "allow"), "POST");
    mh_response_free(&r);
    json_t *reqs = received();
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
    /* queries over GET */
    r = get_preflighted("/graphql?query=%7Bcategory(id%3A%22g1%22)%7Bname%7D%7D", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(mh_json_at(r.json, "data.category.name")), "Category g1");
    mh_response_free(&r);
    json_decref(received());
    /* subscriptions belong on the WebSocket */
    json_t *a = mh_gql(gw, NULL, "subscription { __typename }", NULL);
    assert_non_null(json_object_get(a, "errors"));
    json_decref(a);
}

static void hostile_requests_are_refused_before_any_call(void **state)
{
    (void)state;
    json_decref(received());
    /* too deep */
    char deep[4096] = "{ category(id: \"x\") { ";
    for (int i = 0; i < 20; ++i)
        strcat(deep, "parent { ");
    strcat(deep, "id");
    for (int i = 0; i < 21; ++i)
        strcat(deep, " }");
    strcat(deep, " }");
    json_t *a = mh_gql(gw, NULL, deep, NULL);
    assert_null(json_object_get(a, "data"));
    assert_non_null(strstr(json_string_value(mh_json_at(a, "errors.0.message")), "depth"));
    json_decref(a);
    /* too many tokens */
    char *big = malloc(12000 * 2 + 8), *p = big;
    *p++ = '{';
    for (int i = 0; i < 12000; ++i) {
        *p++ = ' ';
        *p++ = 'a';
    }
    strcpy(p, " }");
    a = mh_gql(gw, NULL, big, NULL);
    assert_null(json_object_get(a, "data"));
    json_decref(a);
    free(big);
    /* a body over MAX_BODY_BYTES (64 KiB here) */
    size_t blen = 70000;
    char *body = malloc(blen + 1);
    memset(body, ' ', blen);
    memcpy(body, "{\"query\":\"{ __typename }\"", 25);
    body[blen - 1] = '}';
    body[blen] = '\0';
    mh_response_t r = post_raw(body, "application/json", NULL);
    assert_int_equal(r.status, 413);
    mh_response_free(&r);
    free(body);
    /* wrong parameter types */
    r = post_raw("{\"query\":\"{ __typename }\",\"variables\":[1]}", "application/json", NULL);
    assert_int_equal(r.status, 400);
    mh_response_free(&r);
    r = post_raw("{\"query\":{\"$ne\":null}}", "application/json", NULL);
    assert_int_equal(r.status, 400);
    mh_response_free(&r);
    /* a variable of the wrong type */
    a = mh_gql(gw, NULL, "query($id: ID!) { category(id: $id) { id } }", json_pack("{s:{s:n}}", "id", "$ne"));
    assert_null(json_object_get(a, "data"));
    json_decref(a);
    json_t *reqs = received();
    assert_int_equal(json_array_size(reqs), 0);
    json_decref(reqs);
}

static void the_playground_is_served_with_its_assets(void **state)
{
    (void)state;
    const char *html[] = {"Accept: text/html,application/xhtml+xml,*/*;q=0.8", NULL};
    mh_response_t r;
    mh_http(&(mh_request_t){.url = mh_url(gw, "/graphql"), .headers = html}, &r);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(mh_header(&r, "content-type"), "text/html"));
    assert_non_null(strstr(mh_header(&r, "content-security-policy"), "script-src 'self'"));
    assert_non_null(strstr(r.body, "graphiql.min.js"));
    mh_response_free(&r);
    const char *gz[] = {"Accept-Encoding: gzip", NULL};
    mh_http(&(mh_request_t){.url = mh_url(gw, "/graphql/assets/graphiql.min.js"), .headers = gz}, &r);
    assert_int_equal(r.status, 200);
    assert_string_equal(mh_header(&r, "content-encoding"), "gzip");
    char etag[64];
    snprintf(etag, sizeof(etag), "If-None-Match: %s", mh_header(&r, "etag"));
    mh_response_free(&r);
    const char *cond[] = {etag, NULL};
    mh_http(&(mh_request_t){.url = mh_url(gw, "/graphql/assets/graphiql.min.js"), .headers = cond}, &r);
    assert_int_equal(r.status, 304);
    mh_response_free(&r);
    r = mh_get(mh_url(gw, "/graphql/assets/examples.graphql"), NULL);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body, "query"));
    mh_response_free(&r);
    r = mh_get(mh_url(gw, "/graphql/assets/..%2Fmain.c"), NULL);
    assert_int_equal(r.status, 404);
    mh_response_free(&r);
}

static void ready_summarises_the_services(void **state)
{
    (void)state;
    mh_response_t r = mh_get(mh_url(gw, "/ready"), NULL);
    assert_int_equal(r.status, 200); /* auth, order, coupon are down: degraded, not unready */
    assert_string_equal(json_string_value(mh_json_at(r.json, "status")), "degraded");
    assert_string_equal(json_string_value(mh_json_at(r.json, "checks.category.status")), "up");
    assert_string_equal(json_string_value(mh_json_at(r.json, "checks.product.status")), "up");
    assert_string_equal(json_string_value(mh_json_at(r.json, "checks.order.status")), "down");
    assert_true(json_integer_value(mh_json_at(r.json, "schema.boundFields")) > 10);
    mh_response_free(&r);
}

/* A client that gives up does not take the gateway with it. */
static void a_client_that_leaves_early_is_harmless(void **state)
{
    (void)state;
    json_t *body = json_pack("{s:s}", "query", "{ category(id: \"slow\") { id } }");
    mh_response_t r;
    mh_http(&(mh_request_t){.method = "POST", .url = mh_url(gw, "/graphql"), .json = body, .timeout_ms = 150}, &r);
    json_decref(body);
    assert_int_equal(r.status, 0);
    mh_response_free(&r);
    json_t *a = mh_gql(gw, NULL, "{ category(id: \"after\") { name } }", NULL);
    assert_string_equal(json_string_value(mh_json_at(a, "data.category.name")), "Category after");
    json_decref(a);
    json_decref(received());
}

/* A schema with a mistake: the gateway does not start, and says where the mistake is. */
static void an_invalid_schema_stops_the_start(void **state)
{
    (void)state;
    char dir[512], cmd[2048];
    snprintf(dir, sizeof(dir), "%s/bad-schema", mh_tmpdir());
    snprintf(cmd, sizeof(cmd),
             "mkdir -p %s && cp %s/gateway.graphql %s/ && printf 'extend type Query {\\n  a: String\\n"
             "  b(id: ID!): String @http(service: \"product\", path: \"/x/{args.idd}\")\\n}\\n"
             "extend type Mutation { c: Int }\\n' > %s/broken.graphql",
             dir, mh_source_path("schema"), dir, dir);
    const char *mk[] = {"sh", "-c", cmd, NULL};
    assert_int_equal(mh_run(mk), 0);
    char out[600], envrun[2048];
    snprintf(out, sizeof(out), "%s/start.log", mh_tmpdir());
    /* the binary with the bad schema, a token key and a free port */
    snprintf(envrun, sizeof(envrun), "GATEWAY_SCHEMA_DIR=%s JWT_SECRET=%s PORT=%u GATEWAY_PLAYGROUND=off %s > %s 2>&1",
             dir, MH_JWT_SECRET, (unsigned)mh_free_port(), MC_GATEWAY_BIN, out);
    const char *start[] = {"sh", "-c", envrun, NULL};
    int rc = mh_run(start);
    assert_true(rc != 0 && rc < 128); /* refused, not crashed */
    FILE *fp = fopen(out, "r");
    assert_non_null(fp);
    char log[8192];
    size_t n = fread(log, 1, sizeof(log) - 1, fp);
    log[n] = '\0';
    fclose(fp);
    if (strstr(log, "broken.graphql:3:") == NULL || strstr(log, "{args.idd} names no argument") == NULL)
        fail_msg("the refusal does not say where: %s", log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(forwards_the_token_and_request_id_and_nothing_else),
        cmocka_unit_test(a_forged_token_is_not_forwarded_and_protected_fields_refuse),
        cmocka_unit_test(each_upstream_failure_stays_on_its_field),
        cmocka_unit_test(identical_requests_are_made_once),
        cmocka_unit_test(batches_are_chunked_and_keys_deduplicated),
        cmocka_unit_test(arguments_become_query_parameters_and_bodies),
        cmocka_unit_test(roles_are_checked_before_any_call),
        cmocka_unit_test(http_status_codes_follow_the_graphql_over_http_draft),
        cmocka_unit_test(hostile_requests_are_refused_before_any_call),
        cmocka_unit_test(the_playground_is_served_with_its_assets),
        cmocka_unit_test(ready_summarises_the_services),
        cmocka_unit_test(a_client_that_leaves_early_is_harmless),
        cmocka_unit_test(an_invalid_schema_stops_the_start),
    };
    return mh_run_group("gateway/upstream", tests, setup, teardown);
}
