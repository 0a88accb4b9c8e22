/*
 * Accounts through the gateway, with the real auth service (and its mail through a
 * real SMTP server), category and product: registering, verifying the email address
 * from the message, signing in, the account and its addresses, sessions, admins'
 * user management, public profiles of sellers and review authors (one batch call per
 * level), and sign-in rate limits that count each client, not the gateway.
 */
#include <stdio.h>
#include <string.h>
#include "harness.h"

#define ADMIN_ID "64b7f0c2a1b2c3d4e5f60001"

static mh_smtp_t *smtp;
static mh_service_t *auth, *category, *product, *gw;
static char *admin;
static char seller_token[2048], customer_token[2048], refresh[512];
static char seller_id[25], customer_id[25], product_id[25];

static const char *str_at(const json_t *a, const char *path)
{
    const char *s = json_string_value(mh_json_at(a, path));
    if (s == NULL) {
        char *dump = json_dumps(a, JSON_COMPACT);
        fail_msg("no string at %s in %s", path, dump);
    }
    return s;
}

static void no_errors(const json_t *a)
{
    if (json_object_get(a, "errors") != NULL) {
        char *dump = json_dumps(a, JSON_COMPACT);
        fail_msg("unexpected errors: %s", dump);
    }
}

/* POST /graphql from a given client address (the gateway trusts X-Forwarded-For here,
 * as behind a load balancer). */
static json_t *gql_from(const char *client, const char *query, json_t *vars)
{
    char xff[96];
    snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", client);
    const char *headers[] = {xff, NULL};
    json_t *body = json_pack("{s:s}", "query", query);
    if (vars != NULL)
        json_object_set_new(body, "variables", vars);
    mh_response_t r;
    assert_int_equal(mh_http(&(mh_request_t){.method = "POST", .url = mh_url(gw, "/graphql"), .headers = headers,
                                             .json = body},
                             &r),
                     0);
    json_decref(body);
    assert_int_equal(r.status, 200);
    json_t *out = json_incref(r.json);
    mh_response_free(&r);
    return out;
}

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0 || (smtp = mh_smtp_start()) == NULL)
        return -1;
    static char e_smtp[128], cat_url[128], prod_url[128], auth_url[128];
    snprintf(e_smtp, sizeof(e_smtp), "SMTP_URL=%s", mh_smtp_url(smtp));
    const char *aenv[] = {e_smtp, "MAIL_POLL_MS=100", "APP_URL=https://shop.example", "RATE_LIMIT_LOGIN_IP=3/60",
                          "LOGIN_FREE_ATTEMPTS=1000", NULL};
    auth = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = aenv});
    category = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (auth == NULL || category == NULL)
        return -1;
    snprintf(cat_url, sizeof(cat_url), "CATEGORY_URL=%s", mh_service_url(category));
    const char *penv[] = {cat_url, NULL};
    product = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = penv});
    if (product == NULL)
        return -1;
    snprintf(prod_url, sizeof(prod_url), "PRODUCT_URL=%s", mh_service_url(product));
    snprintf(auth_url, sizeof(auth_url), "AUTH_URL=%s", mh_service_url(auth));
    const char *genv[] = {cat_url, prod_url, auth_url, "GATEWAY_TRUST_FORWARDED_FOR=true", NULL};
    gw = mh_gateway_start(genv);
    admin = mh_token(ADMIN_ID, "admin");
    return gw != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(admin);
    int rc = 0;
    mh_service_t *all[] = {gw, product, category, auth};
    for (size_t i = 0; i < 4; ++i)
        if (all[i] != NULL && mh_service_stop(all[i]) != 0)
            rc = -1;
    mh_smtp_free(smtp);
    return rc;
}

static const char REGISTER[] = "mutation($input: RegisterInput!) { register(input: $input) {"
                               "  accessToken refreshToken expiresAt user { id email name role emailVerified } } }";

static void register_verify_and_sign_in(void **state)
{
    (void)state;
    json_t *a = gql_from("203.0.113.10", REGISTER,
                         json_pack("{s:{s:s,s:s,s:s,s:s}}", "input", "email", "Ada@Example.com", "password",
                                   "correct horse battery", "name", "Ada Lovelace", "role", "SELLER"));
    no_errors(a);
    assert_string_equal(str_at(a, "data.register.user.role"), "SELLER");
    assert_true(json_is_false(mh_json_at(a, "data.register.user.emailVerified")));
    snprintf(seller_id, sizeof(seller_id), "%s", str_at(a, "data.register.user.id"));
    json_decref(a);

    /* the link of the verification message */
    json_t *m = mh_smtp_wait(smtp, "ada@example.com", NULL, 20000);
    assert_non_null(m);
    char token[64];
    assert_true(mh_smtp_token(m, token));
    json_decref(m);
    a = gql_from("203.0.113.10", "query($t: String!) { emailTokenStatus(token: $t, type: VERIFY) { valid type } }",
                 json_pack("{s:s}", "t", token));
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.emailTokenStatus.valid")));
    assert_string_equal(str_at(a, "data.emailTokenStatus.type"), "VERIFY");
    json_decref(a);
    a = gql_from("203.0.113.10", "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
                 json_pack("{s:s}", "t", token));
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.verifyEmail.emailVerified")));
    json_decref(a);

    a = gql_from("203.0.113.10", "mutation { login(email: \"ada@example.com\", password: \"correct horse battery\") {"
                                 "  accessToken refreshToken user { name emailVerified } } }",
                 NULL);
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.login.user.emailVerified")));
    snprintf(seller_token, sizeof(seller_token), "%s", str_at(a, "data.login.accessToken"));
    json_decref(a);

    a = gql_from("198.51.100.7", REGISTER,
                 json_pack("{s:{s:s,s:s,s:s}}", "input", "email", "bob@example.com", "password", "another fine password",
                           "name", "Bob"));
    no_errors(a);
    assert_string_equal(str_at(a, "data.register.user.role"), "CUSTOMER");
    snprintf(customer_id, sizeof(customer_id), "%s", str_at(a, "data.register.user.id"));
    snprintf(customer_token, sizeof(customer_token), "%s", str_at(a, "data.register.accessToken"));
    snprintf(refresh, sizeof(refresh), "%s", str_at(a, "data.register.refreshToken"));
    json_decref(a);

    /* a wrong password: the service's refusal on the field */
    a = gql_from("198.51.100.7", "mutation { login(email: \"bob@example.com\", password: \"wrong password!\") { accessToken } }",
                 NULL);
    assert_non_null(mh_gql_error(a, "UNAUTHENTICATED"));
    assert_true(json_is_null(mh_json_at(a, "data.login")));
    json_decref(a);
    /* an email already registered */
    a = gql_from("198.51.100.7", REGISTER,
                 json_pack("{s:{s:s,s:s,s:s}}", "input", "email", "bob@example.com", "password", "another fine password",
                           "name", "Bob again"));
    assert_non_null(mh_gql_error(a, "CONFLICT"));
    json_decref(a);
}

static void the_account_and_its_addresses(void **state)
{
    (void)state;
    json_t *a = mh_gql(gw, customer_token, "{ me { id email name role addresses { id } } }", NULL);
    no_errors(a);
    assert_string_equal(str_at(a, "data.me.id"), customer_id);
    assert_int_equal(json_array_size(mh_json_at(a, "data.me.addresses")), 0);
    json_decref(a);
    a = mh_gql(gw, customer_token,
               "mutation { addAddress(input: {fullName: \"Bob\", line1: \"1 Main St\", city: \"Springfield\","
               "  postalCode: \"12345\", country: \"US\", isDefaultShipping: true}) { id isDefaultShipping } }",
               NULL);
    no_errors(a);
    char addr[25];
    snprintf(addr, sizeof(addr), "%s", str_at(a, "data.addAddress.id"));
    json_decref(a);
    a = mh_gql(gw, customer_token,
               "mutation($id: ID!) { setDefaultAddress(id: $id, type: BOTH) { isDefaultShipping isDefaultBilling } "
               "  updateProfile(input: {phone: \"+15550100\"}) { phone } }",
               json_pack("{s:s}", "id", addr));
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.setDefaultAddress.isDefaultBilling")));
    json_decref(a);
    a = mh_gql(gw, customer_token, "query($id: ID!) { me { phone defaultBillingAddressId address(id: $id) { city } } }",
               json_pack("{s:s}", "id", addr));
    no_errors(a);
    assert_string_equal(str_at(a, "data.me.defaultBillingAddressId"), addr);
    assert_string_equal(str_at(a, "data.me.address.city"), "Springfield");
    json_decref(a);
    /* nobody's account without a token */
    a = mh_gql(gw, NULL, "{ me { id } }", NULL);
    assert_non_null(mh_gql_error(a, "UNAUTHENTICATED"));
    json_decref(a);
    /* sessions */
    a = mh_gql(gw, NULL, "mutation($r: String!) { refreshTokens(refreshToken: $r) { accessToken refreshToken } }",
               json_pack("{s:s}", "r", refresh));
    no_errors(a);
    char next[512];
    snprintf(next, sizeof(next), "%s", str_at(a, "data.refreshTokens.refreshToken"));
    json_decref(a);
    a = mh_gql(gw, NULL, "mutation($r: String!) { logout(refreshToken: $r) }", json_pack("{s:s}", "r", next));
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.logout")));
    json_decref(a);
    a = mh_gql(gw, NULL, "mutation($r: String!) { refreshTokens(refreshToken: $r) { accessToken } }",
               json_pack("{s:s}", "r", next));
    assert_non_null(mh_gql_error(a, "UNAUTHENTICATED"));
    json_decref(a);
}

static void admins_manage_users_others_may_not(void **state)
{
    (void)state;
    json_t *a = mh_gql(gw, customer_token, "{ users { totalCount } }", NULL);
    assert_non_null(mh_gql_error(a, "FORBIDDEN"));
    assert_true(json_is_null(mh_json_at(a, "data.users")));
    json_decref(a);
    a = mh_gql(gw, admin, "{ users(role: SELLER) { totalCount nodes { email role } } }", NULL);
    no_errors(a);
    assert_int_equal(json_integer_value(mh_json_at(a, "data.users.totalCount")), 1);
    assert_string_equal(str_at(a, "data.users.nodes.0.email"), "Ada@Example.com");
    json_decref(a);
    a = mh_gql(gw, admin, "mutation($id: ID!) { disableUser(id: $id) { disabled } }", json_pack("{s:s}", "id", customer_id));
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.disableUser.disabled")));
    json_decref(a);
    a = gql_from("198.51.100.8", "mutation { login(email: \"bob@example.com\", password: \"another fine password\") { accessToken } }",
                 NULL);
    assert_non_null(mh_gql_error(a, "FORBIDDEN"));
    json_decref(a);
    a = mh_gql(gw, admin, "mutation($id: ID!) { enableUser(id: $id) { disabled } }", json_pack("{s:s}", "id", customer_id));
    no_errors(a);
    json_decref(a);
}

/* Sellers and review authors are public profiles, loaded one batch per level. */
static void sellers_and_authors_come_in_one_batch(void **state)
{
    (void)state;
    mh_response_t r = mh_send("POST", mh_url(category, "/api/categories"), admin, json_pack("{s:s}", "name", "Books"));
    assert_int_equal(r.status, 201);
    char cat[25];
    snprintf(cat, sizeof(cat), "%s", json_string_value(json_object_get(r.json, "id")));
    mh_response_free(&r);
    /* the seller's token from sign-in still says customer? no: SELLER from registration */
    for (int i = 0; i < 5; ++i) {
        char name[32];
        snprintf(name, sizeof(name), "Book %d", i);
        json_t *a = mh_gql(gw, seller_token,
                           "mutation($in: CreateProductInput!) { createProduct(input: $in) { id seller { name } } }",
                           json_pack("{s:{s:s,s:i,s:s,s:i}}", "in", "name", name, "price", 1500 + i, "categoryId", cat,
                                     "stock", 3));
        no_errors(a);
        assert_string_equal(str_at(a, "data.createProduct.seller.name"), "Ada Lovelace");
        if (i == 0)
            snprintf(product_id, sizeof(product_id), "%s", str_at(a, "data.createProduct.id"));
        json_decref(a);
    }
    json_t *a = mh_gql(gw, customer_token,
                       "mutation($p: ID!) { reviewProduct(productId: $p, input: {rating: 4, title: \"Good read\"}) {"
                       "  author { name role } } }",
                       json_pack("{s:s}", "p", product_id));
    no_errors(a);
    assert_string_equal(str_at(a, "data.reviewProduct.author.name"), "Bob");
    json_decref(a);

    size_t am = mh_log_mark(auth);
    a = mh_gql(gw, NULL,
               "{ products(first: 5) { nodes { name seller { name products(first: 2) { totalCount } }"
               "  reviews { nodes { author { name } } } } } }",
               NULL);
    no_errors(a);
    assert_string_equal(str_at(a, "data.products.nodes.0.seller.name"), "Ada Lovelace");
    assert_int_equal(json_integer_value(mh_json_at(a, "data.products.nodes.0.seller.products.totalCount")), 5);
    json_decref(a);
    /* level 2: the five sellers (one id); level 4: the reviews' authors */
    assert_int_equal(mh_log_count(auth, am, "\"path\":\"/api/users/batch\""), 2);
    assert_int_equal(mh_log_count(auth, am, "\"path\":\"/api/"), 2);
}

/* Auth limits sign-ins per client address: through the gateway each client has its own
 * limit (the gateway passes X-Forwarded-For with the internal key auth trusts). */
static void sign_in_limits_count_clients_not_the_gateway(void **state)
{
    (void)state;
    const char *q = "mutation { login(email: \"nobody@example.com\", password: \"not the password\") { accessToken } }";
    for (int i = 0; i < 3; ++i) {
        json_t *a = gql_from("192.0.2.50", q, NULL);
        assert_non_null(mh_gql_error(a, "UNAUTHENTICATED"));
        json_decref(a);
    }
    json_t *a = gql_from("192.0.2.50", q, NULL);
    json_t *e = mh_gql_error(a, "RATE_LIMITED");
    assert_non_null(e);
    assert_int_equal(json_integer_value(mh_json_at(e, "extensions.status")), 429);
    json_decref(a);
    /* another client is not affected */
    a = gql_from("192.0.2.51", "mutation { login(email: \"ada@example.com\", password: \"correct horse battery\") {"
                               "  user { name } } }",
                 NULL);
    no_errors(a);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(register_verify_and_sign_in),
        cmocka_unit_test(the_account_and_its_addresses),
        cmocka_unit_test(admins_manage_users_others_may_not),
        cmocka_unit_test(sellers_and_authors_come_in_one_batch),
        cmocka_unit_test(sign_in_limits_count_clients_not_the_gateway),
    };
    return mh_run_group("gateway/accounts", tests, setup, teardown);
}
