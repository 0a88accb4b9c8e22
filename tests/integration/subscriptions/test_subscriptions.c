/*
 * Live order tracking through the gateway (issue 8), as clients see it. Each mode is a
 * ctest of its own (argv[1]); the clients are Node scripts next to this file, run against
 * the processes this program starts:
 *
 *   lifecycle   the npm graphql-ws client follows an order through its whole lifecycle
 *               (placed and changed through the gateway's mutations) on two gateway
 *               processes behind one Redis: each change once and in order, with nested
 *               fields fetched from the services; a second customer gets nothing; each
 *               seller sees only their lines; duplicate and late events are dropped; after
 *               Redis restarts, both gateways deliver again
 *   protocol    the raw graphql-transport-ws protocol with the npm `ws` client: every close
 *               code (4406, 4408, 4429, 4401, 4403, 4400, 4409, 1009, 1013 for a slow
 *               client, 1001 for a peer that never answers pings, 1012 at shutdown),
 *               ping/pong (the protocol's and the WebSocket's), errors without complete, complete
 *               freeing its subscription, queries and mutations answered once, the access
 *               token's expiry ending subscriptions
 *   playground  headless Chromium runs a subscription in the GraphiQL playground and sees
 *               an update (screenshot in <build>/test-artifacts/)
 *
 * The scripts read one JSON file this program writes (URLs, tokens, ids).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "harness.h"

static const char *mode;
static mh_service_t *category, *product, *coupon, *order, *gw1, *gw2, *tight, *slow, *lively, *doomed;
static json_t *config;
static char config_path[1024];

typedef struct user {
    char id[25];
    char *token;
} user_t;

static user_t customer, customer2, seller1, seller2, admin;

static void make_user(user_t *u, const char *role)
{
    mh_oid(u->id);
    u->token = mh_token(u->id, role);
}

static const char *url_env(char *buf, size_t n, const char *name, const mh_service_t *s)
{
    snprintf(buf, n, "%s=%s", name, mh_service_url(s));
    return buf;
}

static void write_config(void)
{
    snprintf(config_path, sizeof(config_path), "%s/subscriptions-%s.json", mh_tmpdir(), mode);
    if (json_dump_file(config, config_path, JSON_INDENT(2)) != 0)
        fail_msg("cannot write %s", config_path);
}

static json_t *users_json(void)
{
    json_t *u = json_object();
    const struct {
        const char *name;
        const user_t *u;
    } all[] = {{"customer", &customer}, {"customer2", &customer2}, {"seller1", &seller1}, {"seller2", &seller2},
               {"admin", &admin}};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i)
        json_object_set_new(u, all[i].name, json_pack("{s:s,s:s}", "id", all[i].u->id, "token", all[i].u->token));
    return u;
}

/* A product of a seller (through the product service), its id into out. */
static void make_product(const user_t *seller, const char *cat, const char *name, json_int_t price, char out[25])
{
    mh_response_t r = mh_send("POST", mh_url(product, "/api/products"), seller->token,
                              json_pack("{s:s,s:I,s:s,s:I}", "name", name, "price", price, "categoryId", cat, "stock",
                                        (json_int_t)1000));
    if (r.status != 201) {
        print_error("product: %ld %s\n", r.status, r.body);
        mh_response_free(&r);
        fail();
    }
    snprintf(out, 25, "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
}

static int start_services(void)
{
    static char e[8][600];
    category = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (category == NULL)
        return -1;
    const char *cenv[] = {url_env(e[0], sizeof(e[0]), "CATEGORY_URL", category), NULL};
    product = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = cenv});
    coupon = mh_service_start("mercato-coupon", &(mh_service_opts_t){.wait_ready = true, .env = cenv});
    if (product == NULL || coupon == NULL)
        return -1;
    const char *oenv[] = {url_env(e[1], sizeof(e[1]), "PRODUCT_URL", product),
                          url_env(e[2], sizeof(e[2]), "COUPON_URL", coupon), e[0], "ORDER_SWEEP_INTERVAL_MS=200", NULL};
    order = mh_service_start("mercato-order", &(mh_service_opts_t){.wait_ready = true, .env = oenv});
    if (order == NULL)
        return -1;
    url_env(e[3], sizeof(e[3]), "ORDER_URL", order);
    const char *genv[] = {e[0], e[1], e[2], e[3], NULL};
    gw1 = mh_gateway_start(genv);
    gw2 = mh_gateway_start(genv);
    return gw1 != NULL && gw2 != NULL ? 0 : -1;
}

static int setup(void **state)
{
    (void)state;
    make_user(&customer, "customer");
    make_user(&customer2, "customer");
    make_user(&seller1, "seller");
    make_user(&seller2, "seller");
    make_user(&admin, "admin");
    config = json_object();
    json_object_set_new(config, "users", users_json());
    /* the scripts sign tokens of their own (one that expires during a test) */
    json_object_set_new(config, "jwt", json_pack("{s:s,s:s,s:s}", "secret", MH_JWT_SECRET, "issuer", MH_JWT_ISSUER,
                                                 "audience", MH_JWT_AUDIENCE));
    if (mh_redis_start() != 0)
        return -1;
    json_object_set_new(config, "redisPort", json_integer(mh_redis_port()));

    if (strcmp(mode, "protocol") == 0) {
        /* small limits, so that each one can be reached quickly */
        const char *tenv[] = {"GATEWAY_WS_INIT_TIMEOUT_MS=500", "GATEWAY_WS_MAX_OPERATIONS=3",
                              "GATEWAY_WS_MAX_MESSAGE_BYTES=4096", "GATEWAY_WS_MAX_BUFFERED_BYTES=65536",
                              "GATEWAY_WS_MAX_PENDING_EVENTS=100000", NULL};
        const char *senv[] = {"GATEWAY_WS_MAX_PENDING_EVENTS=5", NULL};
        const char *lenv[] = {"GATEWAY_WS_PING_INTERVAL_S=1", NULL};
        tight = mh_gateway_start(tenv);
        slow = mh_gateway_start(senv);
        lively = mh_gateway_start(lenv);
        doomed = mh_gateway_start(NULL);
        if (tight == NULL || slow == NULL || lively == NULL || doomed == NULL)
            return -1;
        char forged[1024];
        snprintf(forged, sizeof(forged), "%s", customer.token);
        char *dot = strrchr(forged, '.');
        dot[1] = dot[1] == 'A' ? 'B' : 'A'; /* another signature */
        json_object_set_new(config, "forgedToken", json_string(forged));
        char *expired = mh_token_at(customer.id, "customer", (int64_t)time(NULL) - 86400);
        json_object_set_new(config, "expiredToken", json_string(expired));
        free(expired);
        json_object_set_new(config, "tight", json_string(mh_service_url(tight)));
        json_object_set_new(config, "tightLog", json_string(mh_service_log(tight)));
        json_object_set_new(config, "slow", json_string(mh_service_url(slow)));
        json_object_set_new(config, "slowLog", json_string(mh_service_log(slow)));
        json_object_set_new(config, "lively", json_string(mh_service_url(lively)));
        json_object_set_new(config, "doomed", json_string(mh_service_url(doomed)));
        json_object_set_new(config, "doomedPid", json_integer(mh_service_pid(doomed)));
        return 0;
    }

    if (mh_mongo_start() != 0 || start_services() != 0)
        return -1;
    mh_response_t r = mh_send("POST", mh_url(category, "/api/categories"), admin.token, json_pack("{s:s}", "name", "Live"));
    if (r.status != 201)
        return -1;
    char cat[25], p1[25], p2[25];
    snprintf(cat, sizeof(cat), "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
    make_product(&seller1, cat, "Tracked Headphones", 4999, p1);
    make_product(&seller2, cat, "Tracked Cable", 799, p2);
    json_object_set_new(config, "products", json_pack("{s:s,s:s}", "p1", p1, "p2", p2));
    json_object_set_new(config, "gateways", json_pack("[s,s]", mh_service_url(gw1), mh_service_url(gw2)));
    json_object_set_new(config, "orderUrl", json_string(mh_service_url(order)));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    int rc = 0;
    mh_service_t *all[] = {gw1, gw2, tight, slow, lively, doomed, order, coupon, product, category};
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); ++i)
        if (all[i] != NULL && mh_service_stop(all[i]) != 0)
            rc = -1;
    user_t *users[] = {&customer, &customer2, &seller1, &seller2, &admin};
    for (size_t i = 0; i < 5; ++i)
        free(users[i]->token);
    json_decref(config);
    return rc;
}

static int node(const char *script, const char *arg)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", MC_TEST_DIR, script);
    const char *argv[] = {"node", path, config_path, arg, NULL};
    return mh_run(argv);
}

/* /ready of a gateway says its Redis subscription to the order events is up. */
static bool events_up(void *gw)
{
    mh_response_t r = mh_get(mh_url(gw, "/ready"), NULL);
    const char *s = json_string_value(mh_json_at(r.json, "checks.orderEvents.status"));
    bool up = s != NULL && strcmp(s, "up") == 0;
    mh_response_free(&r);
    return up;
}

static void follows_orders_on_two_gateways(void **state)
{
    (void)state;
    assert_true(mh_wait_until(events_up, gw1, 10000));
    assert_true(mh_wait_until(events_up, gw2, 10000));
    write_config();
    assert_int_equal(node("lifecycle.mjs", "lifecycle"), 0);

    /* Redis restarts: both gateways subscribe again by themselves, and deliver */
    assert_int_equal(mh_redis_stop(), 0);
    assert_int_equal(mh_redis_start(), 0);
    assert_true(mh_wait_until(events_up, gw1, 15000));
    assert_true(mh_wait_until(events_up, gw2, 15000));
    assert_int_equal(node("lifecycle.mjs", "after-redis-restart"), 0);
}

/* The process has ended (a zombie until the harness reaps it). */
static bool exited(void *s)
{
    char path[64], buf[512];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)mh_service_pid(s));
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return true;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* "pid (comm) S …" */
    return p != NULL && p[1] == ' ' && (p[2] == 'Z' || p[2] == 'X');
}

static void drives_the_raw_protocol(void **state)
{
    (void)state;
    write_config();
    assert_int_equal(node("protocol.mjs", NULL), 0);
    /* the gateway the script stopped with SIGTERM exits by itself, cleanly, after closing
     * its WebSockets with 1012 (reaped here: stopping it would send a second signal) */
    mh_service_t *d = doomed;
    doomed = NULL;
    assert_true(mh_wait_until(exited, d, 15000));
    assert_int_equal(mh_service_stop(d), 0);
}

static void runs_a_subscription_in_the_playground(void **state)
{
    (void)state;
    assert_true(mh_wait_until(events_up, gw1, 10000));
    write_config();
    assert_int_equal(node("playground.mjs", MC_ARTIFACT_DIR "/playground-subscription.png"), 0);
}

int main(int argc, char **argv)
{
    mode = argc > 1 ? argv[1] : "lifecycle";
    const struct CMUnitTest lifecycle[] = {cmocka_unit_test(follows_orders_on_two_gateways)};
    const struct CMUnitTest protocol[] = {cmocka_unit_test(drives_the_raw_protocol)};
    const struct CMUnitTest playground[] = {cmocka_unit_test(runs_a_subscription_in_the_playground)};
    if (strcmp(mode, "lifecycle") == 0)
        return mh_run_group("subscriptions/lifecycle", lifecycle, setup, teardown);
    if (strcmp(mode, "protocol") == 0)
        return mh_run_group("subscriptions/protocol", protocol, setup, teardown);
    if (strcmp(mode, "playground") == 0)
        return mh_run_group("subscriptions/playground", playground, setup, teardown);
    fprintf(stderr, "usage: %s lifecycle|protocol|playground\n", argv[0]);
    return 2;
}
