/*
 * The end-to-end journey through the gateway only, as clients would make it, with every
 * service running for real (FerretDB, Redis, an SMTP server): an admin sets up the
 * catalog's categories and a coupon, a seller registers and lists products, a customer
 * registers, verifies the email address from the message, signs in, browses and
 * searches, fills the cart, checks out with the coupon (a retried checkout places no
 * second order), an admin confirms, prepares and ships the order, the customer sees
 * the new status, and reviews the product; along the way, what each role may not do.
 *
 * The admin's token is minted by the harness (an operator's account); everybody else
 * signs up through the API.
 */
#include <stdio.h>
#include <string.h>
#include "harness.h"

#define ADMIN_ID "64b7f0c2a1b2c3d4e5f60001"

static mh_smtp_t *smtp;
static mh_service_t *svc[6]; /* category, auth, product, coupon, order, gateway */
static mh_service_t *gw;
static char *admin;
static char seller[2048], customer[2048], other[2048];
static char audio[25], headphones_id[25], earbuds_id[25], order_id[25];

static const char *str_at(const json_t *a, const char *path)
{
    const char *s = json_string_value(mh_json_at(a, path));
    if (s == NULL) {
        char *dump = json_dumps(a, JSON_COMPACT);
        fail_msg("no string at %s in %s", path, dump);
    }
    return s;
}

static long long int_at(const json_t *a, const char *path)
{
    json_t *v = mh_json_at(a, path);
    if (!json_is_integer(v)) {
        char *dump = json_dumps(a, JSON_COMPACT);
        fail_msg("no integer at %s in %s", path, dump);
    }
    return json_integer_value(v);
}

static void no_errors(const json_t *a)
{
    if (json_object_get(a, "errors") != NULL) {
        char *dump = json_dumps(a, JSON_COMPACT);
        fail_msg("unexpected errors: %s", dump);
    }
}

/* A query that must succeed: its answer (new reference). */
static json_t *ok(const char *token, const char *query, json_t *vars)
{
    json_t *a = mh_gql(gw, token, query, vars);
    no_errors(a);
    return a;
}

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0 || (smtp = mh_smtp_start()) == NULL)
        return -1;
    static char e_smtp[128], urls[5][128];
    snprintf(e_smtp, sizeof(e_smtp), "SMTP_URL=%s", mh_smtp_url(smtp));
    svc[0] = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    const char *aenv[] = {e_smtp, "MAIL_POLL_MS=100", "APP_URL=https://shop.example", NULL};
    svc[1] = mh_service_start("mercato-auth", &(mh_service_opts_t){.wait_ready = true, .env = aenv});
    if (svc[0] == NULL || svc[1] == NULL)
        return -1;
    snprintf(urls[0], sizeof(urls[0]), "CATEGORY_URL=%s", mh_service_url(svc[0]));
    snprintf(urls[1], sizeof(urls[1]), "AUTH_URL=%s", mh_service_url(svc[1]));
    const char *penv[] = {urls[0], NULL};
    svc[2] = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = penv});
    svc[3] = mh_service_start("mercato-coupon", &(mh_service_opts_t){.wait_ready = true, .env = penv});
    if (svc[2] == NULL || svc[3] == NULL)
        return -1;
    snprintf(urls[2], sizeof(urls[2]), "PRODUCT_URL=%s", mh_service_url(svc[2]));
    snprintf(urls[3], sizeof(urls[3]), "COUPON_URL=%s", mh_service_url(svc[3]));
    const char *oenv[] = {urls[2], urls[3], urls[0], NULL};
    svc[4] = mh_service_start("mercato-order", &(mh_service_opts_t){.wait_ready = true, .env = oenv});
    if (svc[4] == NULL)
        return -1;
    snprintf(urls[4], sizeof(urls[4]), "ORDER_URL=%s", mh_service_url(svc[4]));
    const char *genv[] = {urls[0], urls[1], urls[2], urls[3], urls[4], NULL};
    svc[5] = gw = mh_gateway_start(genv);
    admin = mh_token(ADMIN_ID, "admin");
    return gw != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    free(admin);
    int rc = 0;
    for (int i = 5; i >= 0; --i)
        if (svc[i] != NULL && mh_service_stop(svc[i]) != 0)
            rc = -1;
    mh_smtp_free(smtp);
    return rc;
}

static const char REGISTER[] =
    "mutation($input: RegisterInput!) { register(input: $input) { accessToken user { id role emailVerified } } }";

/* Registers through the gateway; returns the access token in out. */
static void sign_up(const char *email, const char *name, const char *role, char *out, size_t outlen)
{
    json_t *in = json_pack("{s:s,s:s,s:s}", "email", email, "password", "a long enough password", "name", name);
    if (role != NULL)
        json_object_set_new(in, "role", json_string(role));
    json_t *a = ok(NULL, REGISTER, json_pack("{s:o}", "input", in));
    snprintf(out, outlen, "%s", str_at(a, "data.register.accessToken"));
    json_decref(a);
}

static void an_admin_and_a_seller_set_up_the_shop(void **state)
{
    (void)state;
    json_t *a = ok(admin, "mutation { createCategory(input: {name: \"Electronics\"}) { id } }", NULL);
    char electronics[25];
    snprintf(electronics, sizeof(electronics), "%s", str_at(a, "data.createCategory.id"));
    json_decref(a);
    a = ok(admin, "mutation($p: ID) { createCategory(input: {name: \"Audio\", parentId: $p}) { id } }",
           json_pack("{s:s}", "p", electronics));
    snprintf(audio, sizeof(audio), "%s", str_at(a, "data.createCategory.id"));
    json_decref(a);
    a = ok(admin,
           "mutation { createCoupon(input: {code: \"SAVE10\", type: PERCENTAGE, value: 10, description: \"10% off\"}) {"
           "  code type value isActive } }",
           NULL);
    assert_string_equal(str_at(a, "data.createCoupon.type"), "PERCENTAGE");
    json_decref(a);

    sign_up("seller@example.com", "Sound Shop", "SELLER", seller, sizeof(seller));
    const char *create = "mutation($in: CreateProductInput!) { createProduct(input: $in) { id seller { name } } }";
    a = ok(seller, create,
           json_pack("{s:{s:s,s:i,s:s,s:i,s:[s,s],s:s}}", "in", "name", "Studio Headphones", "price", 19999, "categoryId",
                     audio, "stock", 5, "tags", "headphones", "studio", "description", "Closed-back studio headphones"));
    snprintf(headphones_id, sizeof(headphones_id), "%s", str_at(a, "data.createProduct.id"));
    assert_string_equal(str_at(a, "data.createProduct.seller.name"), "Sound Shop");
    json_decref(a);
    a = ok(seller, create,
           json_pack("{s:{s:s,s:i,s:s,s:i,s:[s]}}", "in", "name", "Wireless Earbuds", "price", 4999, "categoryId", audio,
                     "stock", 20, "tags", "earbuds"));
    snprintf(earbuds_id, sizeof(earbuds_id), "%s", str_at(a, "data.createProduct.id"));
    json_decref(a);
}

static void a_customer_signs_up_verifies_and_signs_in(void **state)
{
    (void)state;
    char first[2048];
    sign_up("Carol@Example.com", "Carol", NULL, first, sizeof(first));
    json_t *m = mh_smtp_wait(smtp, "carol@example.com", NULL, 20000);
    assert_non_null(m);
    char token[64];
    assert_true(mh_smtp_token(m, token));
    json_decref(m);
    json_t *a = ok(NULL, "mutation($t: String!) { verifyEmail(token: $t) { emailVerified } }",
                   json_pack("{s:s}", "t", token));
    assert_true(json_is_true(mh_json_at(a, "data.verifyEmail.emailVerified")));
    json_decref(a);
    a = ok(NULL, "mutation { login(email: \"carol@example.com\", password: \"a long enough password\") {"
                 "  accessToken user { name emailVerified role } } }",
           NULL);
    assert_true(json_is_true(mh_json_at(a, "data.login.user.emailVerified")));
    assert_string_equal(str_at(a, "data.login.user.role"), "CUSTOMER");
    snprintf(customer, sizeof(customer), "%s", str_at(a, "data.login.accessToken"));
    json_decref(a);
    sign_up("dave@example.com", "Dave", NULL, other, sizeof(other));
}

static void the_customer_browses_and_searches(void **state)
{
    (void)state;
    json_t *a = ok(customer,
                   "{ categoryTree { category { name } children { category { name products { totalCount } } } }"
                   "  searchProducts(query: \"headphones\") { totalCount nodes { name price { formatted }"
                   "    category { name ancestors(includeSelf: true) { name } } seller { name } } } }",
                   NULL);
    assert_string_equal(str_at(a, "data.categoryTree.0.children.0.category.name"), "Audio");
    assert_int_equal(int_at(a, "data.categoryTree.0.children.0.category.products.totalCount"), 2);
    assert_int_equal(int_at(a, "data.searchProducts.totalCount"), 1);
    assert_string_equal(str_at(a, "data.searchProducts.nodes.0.price.formatted"), "$199.99");
    assert_string_equal(str_at(a, "data.searchProducts.nodes.0.category.ancestors.0.name"), "Electronics");
    assert_string_equal(str_at(a, "data.searchProducts.nodes.0.seller.name"), "Sound Shop");
    json_decref(a);
}

static void the_customer_fills_the_cart_and_checks_out_with_the_coupon(void **state)
{
    (void)state;
    json_t *a = ok(customer, "mutation($p: ID!) { addToCart(productId: $p, quantity: 1) { itemCount } }",
                   json_pack("{s:s}", "p", headphones_id));
    json_decref(a);
    a = ok(customer, "mutation($p: ID!) { addToCart(productId: $p, quantity: 2) { itemCount subtotal { amount } } }",
           json_pack("{s:s}", "p", earbuds_id));
    assert_int_equal(int_at(a, "data.addToCart.itemCount"), 3);
    assert_int_equal(int_at(a, "data.addToCart.subtotal.amount"), 19999 + 2 * 4999);
    json_decref(a);
    a = ok(customer, "{ me { cart { hasProblems items { quantity unitPrice { formatted } product { name stock } } } } }", NULL);
    assert_string_equal(str_at(a, "data.me.cart.items.0.product.name"), "Studio Headphones");
    assert_string_equal(str_at(a, "data.me.cart.items.0.unitPrice.formatted"), "$199.99");
    json_decref(a);

    const char *checkout =
        "mutation($key: String) { checkout(idempotencyKey: $key, input: {couponCode: \"SAVE10\", shippingAddress: {"
        "  name: \"Carol\", line1: \"1 Main St\", city: \"Springfield\", postalCode: \"12345\", country: \"US\"}}) {"
        "  id number status paymentStatus subtotal { amount } discount { amount } total { amount formatted }"
        "  coupon { code discount { amount } } lines { quantity unitPrice { amount currency } product { name } seller { name } }"
        "  customer { name } } }";
    a = ok(customer, checkout, json_pack("{s:s}", "key", "journey-checkout-1"));
    snprintf(order_id, sizeof(order_id), "%s", str_at(a, "data.checkout.id"));
    assert_string_equal(str_at(a, "data.checkout.status"), "PENDING");
    long long subtotal = int_at(a, "data.checkout.subtotal.amount");
    long long discount = int_at(a, "data.checkout.discount.amount");
    assert_int_equal(subtotal, 19999 + 2 * 4999);
    assert_int_equal(discount, subtotal / 10);
    assert_int_equal(int_at(a, "data.checkout.total.amount"), subtotal - discount);
    assert_string_equal(str_at(a, "data.checkout.coupon.code"), "SAVE10");
    assert_string_equal(str_at(a, "data.checkout.lines.0.unitPrice.currency"), "USD");
    assert_string_equal(str_at(a, "data.checkout.lines.0.seller.name"), "Sound Shop");
    assert_string_equal(str_at(a, "data.checkout.customer.name"), "Carol");
    json_decref(a);
    /* the same checkout retried (a lost answer): the same order, not a second one */
    a = ok(customer, checkout, json_pack("{s:s}", "key", "journey-checkout-1"));
    assert_string_equal(str_at(a, "data.checkout.id"), order_id);
    json_decref(a);
    a = ok(customer, "query($p: ID!) { me { cart { itemCount } orders { totalCount } } product(id: $p) { stock } }",
           json_pack("{s:s}", "p", headphones_id));
    assert_int_equal(int_at(a, "data.me.cart.itemCount"), 0);
    assert_int_equal(int_at(a, "data.me.orders.totalCount"), 1);
    assert_int_equal(int_at(a, "data.product.stock"), 4);
    json_decref(a);
}

static void others_may_not_touch_the_order(void **state)
{
    (void)state;
    json_t *a = mh_gql(gw, customer, "mutation($id: ID!) { shipOrder(id: $id, carrier: \"X\", trackingNumber: \"1\") { id } }",
                       json_pack("{s:s}", "id", order_id));
    assert_non_null(mh_gql_error(a, "FORBIDDEN"));
    json_decref(a);
    a = mh_gql(gw, other, "query($id: ID!) { order(id: $id) { id total { amount } } }", json_pack("{s:s}", "id", order_id));
    assert_true(json_is_null(mh_json_at(a, "data.order")));
    json_decref(a);
    a = mh_gql(gw, customer, "{ adminOrders { totalCount } adminDashboard { orders } }", NULL);
    assert_true(json_is_null(mh_json_at(a, "data.adminOrders")));
    assert_true(json_is_null(mh_json_at(a, "data.adminDashboard")));
    assert_int_equal(json_array_size(json_object_get(a, "errors")), 2);
    json_decref(a);
}

static void an_admin_ships_it_and_the_customer_sees_it(void **state)
{
    (void)state;
    json_t *a = ok(admin, "{ adminOrders(filter: {status: PENDING}) { totalCount nodes { id customer { name } } } }", NULL);
    assert_int_equal(int_at(a, "data.adminOrders.totalCount"), 1);
    assert_string_equal(str_at(a, "data.adminOrders.nodes.0.id"), order_id);
    json_decref(a);
    json_t *id = json_pack("{s:s}", "id", order_id);
    a = ok(admin, "mutation($id: ID!) { confirmOrder(id: $id) { status } }", json_incref(id));
    assert_string_equal(str_at(a, "data.confirmOrder.status"), "CONFIRMED");
    json_decref(a);
    a = ok(admin, "mutation($id: ID!) { startProcessingOrder(id: $id) { status } }", json_incref(id));
    json_decref(a);
    a = ok(admin,
           "mutation($id: ID!) { shipOrder(id: $id, carrier: \"UPS\", trackingNumber: \"1Z999\") { status"
           "  shipment { carrier trackingNumber } } }",
           json_incref(id));
    assert_string_equal(str_at(a, "data.shipOrder.status"), "SHIPPED");
    json_decref(a);
    a = ok(customer,
           "query($id: ID!) { order(id: $id) { status shipment { carrier trackingNumber shippedAt }"
           "  timeline { status by { role } } } me { orders(status: SHIPPED) { nodes { number status } } } }",
           json_incref(id));
    assert_string_equal(str_at(a, "data.order.status"), "SHIPPED");
    assert_string_equal(str_at(a, "data.order.shipment.trackingNumber"), "1Z999");
    json_t *tl = mh_json_at(a, "data.order.timeline");
    assert_string_equal(json_string_value(mh_json_at(tl, "0.status")), "PENDING");
    assert_string_equal(json_string_value(json_object_get(json_array_get(tl, json_array_size(tl) - 1), "status")),
                        "SHIPPED");
    assert_string_equal(str_at(a, "data.me.orders.nodes.0.status"), "SHIPPED");
    json_decref(a);
    a = ok(seller, "{ sellerOrders { totalCount nodes { view lines { name } } } sellerDashboard { orders itemsSold } }",
           NULL);
    assert_int_equal(int_at(a, "data.sellerOrders.totalCount"), 1);
    assert_string_equal(str_at(a, "data.sellerOrders.nodes.0.view"), "SELLER");
    assert_int_equal(int_at(a, "data.sellerDashboard.itemsSold"), 3);
    json_decref(a);
    /* orders → lines → product → category, and the lines' sellers: a call per level */
    size_t pm = mh_log_mark(svc[2]), cm = mh_log_mark(svc[0]), am = mh_log_mark(svc[1]), om = mh_log_mark(svc[4]);
    a = ok(admin, "{ adminOrders { nodes { lines { product { name category { name parent { name } } } seller { name } } } } }",
           NULL);
    assert_string_equal(str_at(a, "data.adminOrders.nodes.0.lines.1.product.category.parent.name"), "Electronics");
    json_decref(a);
    assert_int_equal(mh_log_count(svc[4], om, "\"path\":\"/api/orders/admin\""), 1);
    assert_int_equal(mh_log_count(svc[2], pm, "\"path\":\"/api/products/batch\""), 1);
    assert_int_equal(mh_log_count(svc[0], cm, "\"path\":\"/api/categories/batch\""), 2);
    assert_int_equal(mh_log_count(svc[1], am, "\"path\":\"/api/users/batch\""), 1);
    a = ok(admin, "mutation($id: ID!) { markOrderDelivered(id: $id) { status deliveredAt } }", json_incref(id));
    assert_string_equal(str_at(a, "data.markOrderDelivered.status"), "DELIVERED");
    json_decref(a);
    json_decref(id);
}

static void the_customer_reviews_the_product(void **state)
{
    (void)state;
    json_t *a = ok(customer,
                   "mutation($p: ID!) { reviewProduct(productId: $p, input: {rating: 5, title: \"Superb\","
                   "  body: \"Clear and comfortable.\"}) { rating author { name } product { name } } }",
                   json_pack("{s:s}", "p", headphones_id));
    assert_string_equal(str_at(a, "data.reviewProduct.author.name"), "Carol");
    json_decref(a);
    a = ok(NULL, "query($p: ID!) { product(id: $p) { ratingAverage ratingCount reviews { nodes { title author { name } } } } }",
           json_pack("{s:s}", "p", headphones_id));
    assert_int_equal(int_at(a, "data.product.ratingCount"), 1);
    assert_string_equal(str_at(a, "data.product.reviews.nodes.0.author.name"), "Carol");
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_admin_and_a_seller_set_up_the_shop),
        cmocka_unit_test(a_customer_signs_up_verifies_and_signs_in),
        cmocka_unit_test(the_customer_browses_and_searches),
        cmocka_unit_test(the_customer_fills_the_cart_and_checks_out_with_the_coupon),
        cmocka_unit_test(others_may_not_touch_the_order),
        cmocka_unit_test(an_admin_ships_it_and_the_customer_sees_it),
        cmocka_unit_test(the_customer_reviews_the_product),
    };
    return mh_run_group("gateway/journey", tests, setup, teardown);
}
