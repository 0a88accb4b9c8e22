/*
 * What the product service's integration tests share: the processes (FerretDB, Redis,
 * the category service and one or two product services on one database), tokens of a
 * few users, and helpers to create categories and products through their APIs.
 */
#ifndef PRODUCT_TEST_COMMON_H
#define PRODUCT_TEST_COMMON_H

#include "harness.h"

#define PT_ADMIN_ID "64b7f0c2a1b2c3d4e5f60001"
#define PT_SELLER_ID "64b7f0c2a1b2c3d4e5f600a1"
#define PT_SELLER2_ID "64b7f0c2a1b2c3d4e5f600a2"
#define PT_CUSTOMER_ID "64b7f0c2a1b2c3d4e5f600c1"
#define PT_CUSTOMER2_ID "64b7f0c2a1b2c3d4e5f600c2"

extern mh_service_t *pt_category_svc;
extern mh_service_t *pt_product_svc[2];
extern char *pt_admin, *pt_seller, *pt_seller2, *pt_customer, *pt_customer2;

/* Starts everything: nproducts (1 or 2) product processes sharing one database, with the
 * extra environment entries env (NULL-terminated, may be NULL). 0 or -1. */
int pt_start(int nproducts, const char *const *env);
/* Stops every process; 0 when each exited cleanly. */
int pt_stop(void);

/* URL of product process `which` (0 or 1), printf-style path. */
const char *pt_url(int which, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
const char *pt_cat_url(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Creates a category (admin) and returns its id in a static ring of 32 buffers. */
const char *pt_category(const char *name, const char *parent);
/* Creates a product with token from fields (stolen; name, price and categoryId are
 * required). Asserts 201; returns the product (new reference). */
json_t *pt_product(const char *token, json_t *fields);
/* The id of a product object, copied into out[25]. */
void pt_id(const json_t *p, char *out);

/* Asserts status (and the error code when code is set), then frees r. */
void pt_expect(mh_response_t r, long status, const char *code);
/* GET, asserting 200; returns the JSON (new reference). */
json_t *pt_get(const char *url, const char *token);
const char *pt_str(const json_t *o, const char *k);
long long pt_int(const json_t *o, const char *k);

/* A request with the internal key (and a JSON body, stolen, may be NULL). */
mh_response_t pt_internal(const char *method, const char *url, json_t *body);

#endif
