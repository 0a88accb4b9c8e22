/*
 * The gateway in front of the real category and product services (FerretDB, Redis):
 * browsing through the stitched schema, connections, Money, mutations as each role,
 * data some callers may not see, one upstream call per level for nested look-ups
 * (counted in the services' access logs), the request id reaching the services, and
 * partial data while a service is stopped.
 */
#include <stdio.h>
#include <string.h>
#include "harness.h"

#define ADMIN_ID "64b7f0c2a1b2c3d4e5f60001"
#define SELLER_ID "64b7f0c2a1b2c3d4e5f600a1"
#define SELLER2_ID "64b7f0c2a1b2c3d4e5f600a2"
#define CUSTOMER_ID "64b7f0c2a1b2c3d4e5f600c1"

static mh_service_t *category, *product, *gw;
static char *admin, *seller, *seller2, *customer;
static char electronics[25], audio[25], headphones[25], home[25], kitchen[25];
static char first_product[25];

static const char *gql_str(const json_t *a, const char *path)
{
    const char *s = json_string_value(mh_json_at(a, path));
    if (s == NULL) {
        char *dump = json_dumps(a, JSON_COMPACT);
        fprintf(stderr, "no string at %s in %s\n", path, dump);
        free(dump);
        fail_msg("missing %s", path);
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

/* Creates through the gateway, as a client would; returns the new id in out. */
static void make_category(const char *name, const char *parent, char out[25])
{
    json_t *vars = json_pack("{s:{s:s}}", "input", "name", name);
    if (parent != NULL)
        json_object_set_new(json_object_get(vars, "input"), "parentId", json_string(parent));
    json_t *a = mh_gql(gw, admin, "mutation($input: CreateCategoryInput!) { createCategory(input: $input) { id name } }",
                       vars);
    no_errors(a);
    snprintf(out, 25, "%s", gql_str(a, "data.createCategory.id"));
    json_decref(a);
}

static void make_product(const char *token, const char *name, long long price, const char *cat, const char *tags,
                         char out[25])
{
    json_t *input = json_pack("{s:s,s:I,s:s,s:i,s:s}", "name", name, "price", (json_int_t)price, "categoryId", cat,
                              "stock", 10, "description", "A fine thing");
    if (tags != NULL)
        json_object_set_new(input, "tags", json_pack("[s]", tags));
    json_t *a = mh_gql(gw, token, "mutation($input: CreateProductInput!) { createProduct(input: $input) { id } }",
                       json_pack("{s:o}", "input", input));
    no_errors(a);
    if (out != NULL)
        snprintf(out, 25, "%s", gql_str(a, "data.createProduct.id"));
    json_decref(a);
}

static int setup(void **state)
{
    (void)state;
    if (mh_mongo_start() != 0 || mh_redis_start() != 0)
        return -1;
    category = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true});
    if (category == NULL)
        return -1;
    static char cat_url[128], prod_url[128];
    snprintf(cat_url, sizeof(cat_url), "CATEGORY_URL=%s", mh_service_url(category));
    const char *penv[] = {cat_url, NULL};
    product = mh_service_start("mercato-product", &(mh_service_opts_t){.wait_ready = true, .env = penv});
    if (product == NULL)
        return -1;
    snprintf(prod_url, sizeof(prod_url), "PRODUCT_URL=%s", mh_service_url(product));
    const char *genv[] = {cat_url, prod_url, NULL};
    gw = mh_gateway_start(genv);
    if (gw == NULL)
        return -1;
    admin = mh_token(ADMIN_ID, "admin");
    seller = mh_token(SELLER_ID, "seller");
    seller2 = mh_token(SELLER2_ID, "seller");
    customer = mh_token(CUSTOMER_ID, "customer");
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    free(admin), free(seller), free(seller2), free(customer);
    int rc = 0;
    if (gw != NULL && mh_service_stop(gw) != 0)
        rc = -1;
    if (product != NULL && mh_service_stop(product) != 0)
        rc = -1;
    if (category != NULL && mh_service_stop(category) != 0)
        rc = -1;
    return rc;
}

static void admins_build_the_catalog_through_the_gateway(void **state)
{
    (void)state;
    make_category("Electronics", NULL, electronics);
    make_category("Audio", electronics, audio);
    make_category("Headphones", audio, headphones);
    make_category("Home", NULL, home);
    make_category("Kitchen", home, kitchen);
    static const struct {
        const char *name;
        long long price;
    } hp[] = {{"Studio Headphones", 19999}, {"Wireless Headphones", 12999}, {"Kids Headphones", 1999},
              {"Travel Headphones", 8999},  {"Gaming Headset", 15999},      {"Earbuds", 4999}};
    for (size_t i = 0; i < 6; ++i)
        make_product(seller, hp[i].name, hp[i].price, headphones, "audio", i == 0 ? first_product : NULL);
    make_product(seller2, "Chef Knife", 5999, kitchen, NULL, NULL);
    make_product(seller2, "Cast Iron Pan", 3999, kitchen, NULL, NULL);
    make_product(seller2, "Kettle", 2999, kitchen, NULL, NULL);
    /* a price beyond GraphQL's 32-bit Int: Long */
    make_product(admin, "Grand Piano Kitchen", 5000000000LL, kitchen, NULL, NULL);

    json_t *a = mh_gql(gw, customer, "mutation { createCategory(input: {name: \"Nope\"}) { id } }", NULL);
    assert_non_null(mh_gql_error(a, "FORBIDDEN"));
    json_decref(a);
}

static void shoppers_browse_the_tree_and_pages(void **state)
{
    (void)state;
    json_t *a = mh_gql(gw, NULL,
                       "{ categoryTree { category { name } children { category { name }"
                       "    children { category { name slug parent { name } } } } } }",
                       NULL);
    no_errors(a);
    assert_string_equal(gql_str(a, "data.categoryTree.0.category.name"), "Electronics");
    assert_string_equal(gql_str(a, "data.categoryTree.0.children.0.children.0.category.slug"), "headphones");
    assert_string_equal(gql_str(a, "data.categoryTree.0.children.0.children.0.category.parent.name"), "Audio");
    assert_string_equal(gql_str(a, "data.categoryTree.1.children.0.category.name"), "Kitchen");
    json_decref(a);

    a = mh_gql(gw, NULL,
               "{ products(first: 3, sort: PRICE_ASC) { totalCount pageInfo { hasNextPage hasPreviousPage endCursor }"
               "  edges { cursor node { name price { amount currency formatted } } } } }",
               NULL);
    no_errors(a);
    assert_int_equal(json_integer_value(mh_json_at(a, "data.products.totalCount")), 10);
    assert_true(json_is_true(mh_json_at(a, "data.products.pageInfo.hasNextPage")));
    assert_true(json_is_false(mh_json_at(a, "data.products.pageInfo.hasPreviousPage")));
    assert_string_equal(gql_str(a, "data.products.edges.0.node.name"), "Kids Headphones");
    assert_string_equal(gql_str(a, "data.products.edges.0.node.price.formatted"), "$19.99");
    assert_int_equal(json_integer_value(mh_json_at(a, "data.products.edges.0.node.price.amount")), 1999);
    assert_string_equal(gql_str(a, "data.products.edges.2.cursor"), gql_str(a, "data.products.pageInfo.endCursor"));
    char after[256];
    snprintf(after, sizeof(after), "%s", gql_str(a, "data.products.pageInfo.endCursor"));
    json_decref(a);

    a = mh_gql(gw, NULL,
               "query($after: String) { products(first: 3, sort: PRICE_ASC, after: $after) {"
               "  pageInfo { hasPreviousPage } nodes { name } } }",
               json_pack("{s:s}", "after", after));
    no_errors(a);
    assert_true(json_is_true(mh_json_at(a, "data.products.pageInfo.hasPreviousPage")));
    assert_string_equal(gql_str(a, "data.products.nodes.0.name"), "Earbuds");
    json_decref(a);

    /* Money beyond 32 bits, a category and its products */
    a = mh_gql(gw, NULL,
               "query($slug: String!) { categoryBySlug(slug: $slug) { name products(sort: PRICE_DESC, first: 1) {"
               "  nodes { name price { amount formatted } category { name } } } } }",
               json_pack("{s:s}", "slug", "kitchen"));
    no_errors(a);
    assert_int_equal(json_integer_value(mh_json_at(a, "data.categoryBySlug.products.nodes.0.price.amount")),
                     5000000000LL);
    assert_string_equal(gql_str(a, "data.categoryBySlug.products.nodes.0.price.formatted"), "$50,000,000.00");
    json_decref(a);

    /* search, with a category filter that covers its subcategories */
    a = mh_gql(gw, NULL,
               "query($cat: ID) { searchProducts(query: \"headphones\", filter: {categoryId: $cat}) {"
               "  totalCount nodes { name category { name } } } productSuggestions(query: \"Wire\") { name product { id } } }",
               json_pack("{s:s}", "cat", electronics));
    no_errors(a);
    assert_int_equal(json_integer_value(mh_json_at(a, "data.searchProducts.totalCount")), 4);
    assert_string_equal(gql_str(a, "data.productSuggestions.0.name"), "Wireless Headphones");
    json_decref(a);

    /* unknown ids: null without error */
    a = mh_gql(gw, NULL, "{ product(id: \"64b7f0c2a1b2c3d4e5f6ffff\") { id } category(id: \"64b7f0c2a1b2c3d4e5f6ffff\") { id } }",
               NULL);
    no_errors(a);
    assert_true(json_is_null(mh_json_at(a, "data.product")));
    json_decref(a);
    /* a malformed id: the service's message, on the field */
    a = mh_gql(gw, NULL, "{ product(id: \"not-an-id\") { id } }", NULL);
    json_t *e = mh_gql_error(a, "BAD_USER_INPUT");
    assert_non_null(e);
    assert_string_equal(json_string_value(mh_json_at(e, "path.0")), "product");
    json_decref(a);
}

/* products → category → parent → parent: one call per level, however many products. */
static void nested_lookups_make_one_call_per_level(void **state)
{
    (void)state;
    size_t cm = mh_log_mark(category), pm = mh_log_mark(product);
    json_t *a = mh_gql(gw, NULL,
                       "{ products(first: 10) { nodes { name category { name parent { name parent { name } } } } } }", NULL);
    no_errors(a);
    json_t *nodes = mh_json_at(a, "data.products.nodes");
    assert_int_equal(json_array_size(nodes), 10);
    size_t i;
    json_t *n;
    json_array_foreach(nodes, i, n)
    {
        const char *cat = json_string_value(mh_json_at(n, "category.name"));
        if (strcmp(cat, "Headphones") == 0)
            assert_string_equal(json_string_value(mh_json_at(n, "category.parent.parent.name")), "Electronics");
        else
            assert_true(json_is_null(mh_json_at(n, "category.parent.parent")));
    }
    json_decref(a);
    /* level 1: the page; level 2: {Headphones, Kitchen}; 3: {Audio, Home}; 4: {Electronics} */
    assert_int_equal(mh_log_count(product, pm, "\"path\":\"/api/products\""), 1);
    assert_int_equal(mh_log_count(category, cm, "\"path\":\"/api/categories/batch\""), 3);
    assert_int_equal(mh_log_count(category, cm, "\"path\":\"/api/categories/"), 3);
    fprintf(stderr, "N+1 check: 10 products, 3 levels of categories: %u product call(s), %u category call(s)\n",
            mh_log_count(product, pm, "\"path\":\"/api/"), mh_log_count(category, cm, "\"path\":\"/api/"));

    /* reviews → product → category: a batch per level too */
    json_t *r = mh_gql(gw, customer,
                       "mutation($p: ID!) { reviewProduct(productId: $p, input: {rating: 5, title: \"Great\", body: \"Loud\"}) {"
                       "  id rating product { name } } }",
                       json_pack("{s:s}", "p", first_product));
    no_errors(r);
    assert_string_equal(gql_str(r, "data.reviewProduct.product.name"), "Studio Headphones");
    json_decref(r);
    cm = mh_log_mark(category), pm = mh_log_mark(product);
    a = mh_gql(gw, NULL,
               "{ products(first: 6, filter: {tags: [\"audio\"]}) { nodes { reviews { nodes { title product {"
               "  name category { name } } } } } } }",
               NULL);
    no_errors(a);
    /* 1 list + 6 review pages (a list per product) + 1 product batch; 1 category batch */
    assert_int_equal(mh_log_count(product, pm, "\"path\":\"/api/products/batch\""), 1);
    assert_int_equal(mh_log_count(product, pm, "/reviews\""), 6);
    assert_int_equal(mh_log_count(category, cm, "\"path\":\"/api/categories/batch\""), 1);
    json_decref(a);
}

static void reviews_and_their_conflicts(void **state)
{
    (void)state;
    json_t *a = mh_gql(gw, customer,
                       "mutation($p: ID!) { reviewProduct(productId: $p, input: {rating: 4, title: \"Again\"}) { id } }",
                       json_pack("{s:s}", "p", first_product));
    json_t *e = mh_gql_error(a, "CONFLICT");
    assert_non_null(e);
    assert_string_equal(json_string_value(mh_json_at(e, "extensions.service")), "product");
    assert_true(json_is_null(mh_json_at(a, "data.reviewProduct")));
    json_decref(a);
    a = mh_gql(gw, NULL,
               "query($p: ID!) { product(id: $p) { ratingAverage ratingCount reviews { totalCount nodes { id title } } } }",
               json_pack("{s:s}", "p", first_product));
    no_errors(a);
    assert_int_equal(json_integer_value(mh_json_at(a, "data.product.ratingCount")), 1);
    char review[25];
    snprintf(review, sizeof(review), "%s", gql_str(a, "data.product.reviews.nodes.0.id"));
    json_decref(a);
    a = mh_gql(gw, seller,
               "mutation($p: ID!, $r: ID!) { markReviewHelpful(productId: $p, reviewId: $r) { reviewId helpfulCount } }",
               json_pack("{s:s,s:s}", "p", first_product, "r", review));
    no_errors(a);
    assert_int_equal(json_integer_value(mh_json_at(a, "data.markReviewHelpful.helpfulCount")), 1);
    json_decref(a);
    a = mh_gql(gw, admin, "mutation($p: ID!, $r: ID!) { deleteReview(productId: $p, reviewId: $r) }",
               json_pack("{s:s,s:s}", "p", first_product, "r", review));
    no_errors(a);
    assert_string_equal(gql_str(a, "data.deleteReview"), review);
    json_decref(a);
}

static void forbidden_data_stays_hidden(void **state)
{
    (void)state;
    const char *q = "query($p: ID!) { product(id: $p) { name stock stockMovements { totalCount nodes { kind delta } } } }";
    json_t *a = mh_gql(gw, customer, q, json_pack("{s:s}", "p", first_product));
    assert_string_equal(gql_str(a, "data.product.name"), "Studio Headphones");
    assert_true(json_is_null(mh_json_at(a, "data.product.stockMovements")));
    assert_non_null(mh_gql_error(a, "FORBIDDEN"));
    json_decref(a);
    a = mh_gql(gw, NULL, q, json_pack("{s:s}", "p", first_product));
    assert_non_null(mh_gql_error(a, "UNAUTHENTICATED"));
    assert_string_equal(gql_str(a, "data.product.name"), "Studio Headphones");
    json_decref(a);
    /* another seller passes the gateway's role check; the product service refuses */
    a = mh_gql(gw, seller2, q, json_pack("{s:s}", "p", first_product));
    json_t *e = mh_gql_error(a, "FORBIDDEN");
    assert_non_null(e);
    assert_string_equal(json_string_value(mh_json_at(e, "extensions.service")), "product");
    json_decref(a);
    a = mh_gql(gw, seller, q, json_pack("{s:s}", "p", first_product));
    no_errors(a);
    assert_string_equal(gql_str(a, "data.product.stockMovements.nodes.0.kind"), "INITIAL");
    json_decref(a);

    /* an inactive product: hidden from shoppers, visible to its seller */
    a = mh_gql(gw, seller, "mutation($p: ID!) { updateProduct(id: $p, input: {isActive: false}) { isActive } }",
               json_pack("{s:s}", "p", first_product));
    no_errors(a);
    json_decref(a);
    a = mh_gql(gw, customer, "query($p: ID!) { product(id: $p) { name } }", json_pack("{s:s}", "p", first_product));
    no_errors(a);
    assert_true(json_is_null(mh_json_at(a, "data.product")));
    json_decref(a);
    a = mh_gql(gw, customer, "{ products(filter: {isActive: false}) { totalCount } }", NULL);
    assert_non_null(mh_gql_error(a, "FORBIDDEN"));
    json_decref(a);
    a = mh_gql(gw, seller, "query($p: ID!) { product(id: $p) { name isActive } }", json_pack("{s:s}", "p", first_product));
    assert_string_equal(gql_str(a, "data.product.name"), "Studio Headphones");
    json_decref(a);
    a = mh_gql(gw, seller, "mutation($p: ID!) { updateProduct(id: $p, input: {isActive: true}) { isActive } }",
               json_pack("{s:s}", "p", first_product));
    no_errors(a);
    json_decref(a);
}

static void the_request_id_and_the_trace_reach_the_services(void **state)
{
    (void)state;
    size_t pm = mh_log_mark(product);
    const char *headers[] = {"X-Request-Id: e2e-trace-4242", NULL};
    json_t *body = json_pack("{s:s}", "query", "{ products(first: 1) { totalCount } }");
    mh_response_t r;
    assert_int_equal(mh_http(&(mh_request_t){.method = "POST", .url = mh_url(gw, "/graphql"), .headers = headers,
                                             .json = body},
                             &r),
                     0);
    json_decref(body);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    assert_int_equal(mh_log_count(product, pm, "\"request_id\":\"e2e-trace-4242\""), 1);

    /* the client's W3C trace: the same trace id in the gateway's and the services' lines */
    size_t cm = mh_log_mark(category);
    pm = mh_log_mark(product);
    const char *traced[] = {"traceparent: 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", NULL};
    body = json_pack("{s:s}", "query", "{ products(first: 2) { nodes { category { name } } } }");
    assert_int_equal(mh_http(&(mh_request_t){.method = "POST", .url = mh_url(gw, "/graphql"), .headers = traced,
                                             .json = body},
                             &r),
                     0);
    json_decref(body);
    assert_int_equal(r.status, 200);
    mh_response_free(&r);
    assert_true(mh_log_count(product, pm, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"") >= 1);
    assert_true(mh_log_count(category, cm, "\"trace_id\":\"4bf92f3577b34da6a3ce929d0e0e4736\"") >= 1);
}

static bool ready_is(void *want)
{
    mh_response_t r = mh_get(mh_url(gw, "/ready"), NULL);
    bool ok = r.status == 200 && strcmp(json_string_value(mh_json_at(r.json, "checks.category.status")), want) == 0;
    mh_response_free(&r);
    return ok;
}

static void a_stopped_service_gives_partial_data(void **state)
{
    (void)state;
    uint16_t port = mh_service_port(category);
    assert_int_equal(mh_service_stop(category), 0);
    category = NULL;
    assert_true(mh_wait_until(ready_is, "down", 5000));

    json_t *a = mh_gql(gw, NULL, "{ products(first: 4, sort: NAME) { nodes { name category { name } } } categoryTree { category { name } } }",
                       NULL);
    json_t *nodes = mh_json_at(a, "data.products.nodes");
    assert_int_equal(json_array_size(nodes), 4);
    assert_non_null(json_string_value(mh_json_at(nodes, "0.name")));
    assert_true(json_is_null(mh_json_at(nodes, "0.category")));
    assert_true(json_is_null(mh_json_at(a, "data.categoryTree")));
    json_t *errs = json_object_get(a, "errors");
    assert_int_equal(json_array_size(errs), 5); /* four categories and the tree */
    size_t i;
    json_t *e;
    json_array_foreach(errs, i, e)
    {
        assert_string_equal(json_string_value(mh_json_at(e, "extensions.code")), "UPSTREAM_UNAVAILABLE");
        assert_string_equal(json_string_value(mh_json_at(e, "extensions.service")), "category");
    }
    json_decref(a);

    /* it comes back on the same port: everything resolves again */
    category = mh_service_start("mercato-category", &(mh_service_opts_t){.wait_ready = true, .port = port});
    assert_non_null(category);
    assert_true(mh_wait_until(ready_is, "up", 5000));
    a = mh_gql(gw, NULL, "{ products(first: 4) { nodes { category { name } } } }", NULL);
    no_errors(a);
    json_decref(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(admins_build_the_catalog_through_the_gateway),
        cmocka_unit_test(shoppers_browse_the_tree_and_pages),
        cmocka_unit_test(nested_lookups_make_one_call_per_level),
        cmocka_unit_test(reviews_and_their_conflicts),
        cmocka_unit_test(forbidden_data_stays_hidden),
        cmocka_unit_test(the_request_id_and_the_trace_reach_the_services),
        cmocka_unit_test(a_stopped_service_gives_partial_data),
    };
    return mh_run_group("gateway/services", tests, setup, teardown);
}
