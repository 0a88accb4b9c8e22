/*
 * Unit tests of services/auth/google.c: JWK sets (RSA keys built from n and e, unusable
 * keys skipped) and ID-token verification, one refusal per way a token can be wrong.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "google.h"
#include "harness.h"

static char *pub, *priv, *pub2, *priv2;
static auth_jwks_t *keys;
static const int64_t NOW = 1795294110;

static int setup(void **state)
{
    (void)state;
    if (mh_rsa_keypair(&pub, &priv) != 0 || mh_rsa_keypair(&pub2, &priv2) != 0)
        return -1;
    json_t *set = json_pack("{s:[o,o,{s:s,s:s,s:s},{s:s,s:s,s:s,s:s},{s:s,s:s}]}", "keys", mh_jwk(pub, "k1"), mh_jwk(pub2, "k2"),
                            /* an EC key, a too-short RSA key, garbage: all skipped */
                            "kty", "EC", "kid", "ec", "crv", "P-256", "kty", "RSA", "kid", "short", "n", "AQAB", "e", "AQAB",
                            "kty", "RSA", "kid", "broken");
    char *text = json_dumps(set, 0);
    char err[200];
    keys = auth_jwks_parse(text, strlen(text), err, sizeof(err));
    free(text);
    json_decref(set);
    return keys != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    auth_jwks_release(keys);
    free(pub), free(priv), free(pub2), free(priv2);
    return 0;
}

static json_t *claims(void)
{
    return json_pack("{s:s,s:s,s:s,s:s,s:b,s:s,s:I,s:I}", "iss", "accounts.google.com", "aud", "my-client", "sub", "1234567890",
                     "email", "Grace@Example.com", "email_verified", 1, "name", "  Grace\tHopper ", "iat", (json_int_t)NOW,
                     "exp", (json_int_t)(NOW + 3600));
}

static char *sign(json_t *c, const char *kid, const char *key)
{
    return mh_token_sign(json_pack("{s:s,s:s}", "alg", "RS256", "kid", kid), c, key, strlen(key));
}

static const char *verify(const char *t, auth_google_identity_t *id)
{
    const char *why = NULL;
    int r = auth_google_verify(keys, t, strlen(t), "other,my-client", NOW, 30, id, &why);
    return r == 0 ? NULL : why;
}

static void parses_key_sets(void **state)
{
    (void)state;
    assert_int_equal(auth_jwks_count(keys), 2);
    char err[200];
    assert_null(auth_jwks_parse("{}", 2, err, sizeof(err)));
    assert_null(auth_jwks_parse("{\"keys\":[]}", 11, err, sizeof(err)));
    assert_null(auth_jwks_parse("not json", 8, err, sizeof(err)));
    assert_null(auth_jwks_parse("{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"a\",\"n\":\"AQAB\",\"e\":\"AQAB\"}]}", 56, err, sizeof(err)));
}

static void accepts_a_good_token(void **state)
{
    (void)state;
    json_t *c = claims();
    char *t = sign(c, "k1", priv);
    auth_google_identity_t id;
    assert_null(verify(t, &id));
    assert_string_equal(id.sub, "1234567890");
    assert_string_equal(id.email, "Grace@Example.com");
    assert_true(id.email_verified);
    assert_string_equal(id.name, "GraceHopper"); /* control characters out, spaces trimmed */
    free(t);
    t = sign(c, "k2", priv2);
    assert_null(verify(t, &id));
    free(t);
    json_object_set_new(c, "email_verified", json_string("true")); /* some issuers send a string */
    json_object_set_new(c, "aud", json_pack("[s,s]", "x", "my-client"));
    json_object_set_new(c, "iss", json_string("https://accounts.google.com"));
    t = sign(c, "k1", priv);
    assert_null(verify(t, &id));
    assert_true(id.email_verified);
    free(t);
    json_object_set_new(c, "email", json_string("not an address"));
    json_object_set_new(c, "email_verified", json_false());
    t = sign(c, "k1", priv);
    assert_null(verify(t, &id));
    assert_string_equal(id.email, ""); /* not usable as an account's address */
    assert_false(id.email_verified);
    free(t);
    json_decref(c);
}

static void refuses_bad_tokens(void **state)
{
    (void)state;
    auth_google_identity_t id;
    json_t *c = claims();
    char *t;
    t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "none", "kid", "k1"), c, NULL, 0);
    assert_string_equal(verify(t, &id), "wrong algorithm");
    free(t);
    t = mh_token_sign(json_pack("{s:s,s:s}", "alg", "HS256", "kid", "k1"), c, pub, strlen(pub));
    assert_string_equal(verify(t, &id), "wrong algorithm");
    free(t);
    t = sign(c, "k1", priv2);
    assert_string_equal(verify(t, &id), "bad signature");
    free(t);
    t = sign(c, "nope", priv);
    assert_string_equal(verify(t, &id), "unknown signing key");
    free(t);
    t = sign(c, "short", priv);
    assert_string_equal(verify(t, &id), "unknown signing key");
    free(t);

    struct {
        const char *key;
        json_t *v;
        const char *why;
    } cases[] = {
        {"iss", json_string("https://evil.example"), "wrong issuer"},
        {"aud", json_string("someone-else"), "wrong audience"},
        {"aud", json_string("my-clien"), "wrong audience"},
        {"exp", json_integer(NOW - 31), "expired"},
        {"iat", json_integer(NOW + 31), "issued in the future"},
        {"nbf", json_integer(NOW + 31), "not yet valid"},
        {"sub", json_string(""), "missing claim"},
        {"exp", json_string("soon"), "missing claim"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); ++i) {
        json_t *cc = json_deep_copy(c);
        json_object_set_new(cc, cases[i].key, cases[i].v);
        t = sign(cc, "k1", priv);
        const char *why = verify(t, &id);
        if (why == NULL || strcmp(why, cases[i].why) != 0)
            fail_msg("case %zu (%s): expected '%s', got '%s'", i, cases[i].key, cases[i].why, why ? why : "accepted");
        free(t);
        json_decref(cc);
    }
    /* within the leeway is fine */
    json_t *cc = json_deep_copy(c);
    json_object_set_new(cc, "exp", json_integer(NOW - 29));
    t = sign(cc, "k1", priv);
    assert_null(verify(t, &id));
    free(t);
    json_decref(cc);
    /* missing iss, garbage, a payload swapped under a valid signature */
    cc = json_deep_copy(c);
    json_object_del(cc, "iss");
    t = sign(cc, "k1", priv);
    assert_string_equal(verify(t, &id), "missing claim");
    free(t);
    json_decref(cc);
    assert_string_equal(verify("a.b", &id), "malformed token");
    assert_string_equal(verify("a.b.c.d", &id), "malformed token");
    char *good = sign(c, "k1", priv);
    json_object_set_new(c, "sub", json_string("someone-else"));
    char *other = sign(c, "k1", priv);
    char swapped[8192];
    const char *g2 = strchr(strchr(good, '.') + 1, '.'), *o2 = strchr(strchr(other, '.') + 1, '.');
    snprintf(swapped, sizeof(swapped), "%.*s%s", (int)(o2 - other), other, g2);
    assert_string_equal(verify(swapped, &id), "bad signature");
    free(good);
    free(other);
    json_decref(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_key_sets),
        cmocka_unit_test(accepts_a_good_token),
        cmocka_unit_test(refuses_bad_tokens),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
