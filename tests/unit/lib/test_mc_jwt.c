/*
 * Unit tests of lib/mc_jwt: every way an attacker can bend a token must be refused,
 * with the reason a client would be shown, and the edges of the leeway must fall on the
 * right side.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <jwt.h>
#include "harness.h"
#include "mc_jwt.h"
#include "mc_util.h"

#define NOW ((int64_t)1900000000)
#define LEEWAY 30
#define SUB "64b7f0c2a1b2c3d4e5f60718"

static mc_jwt_t *hs(void)
{
    char err[128];
    mc_jwt_t *j = mc_jwt_create("HS256", MH_JWT_SECRET, strlen(MH_JWT_SECRET), NULL, 0, MH_JWT_ISSUER, MH_JWT_AUDIENCE,
                                LEEWAY, 900, err, sizeof(err));
    assert_non_null(j);
    return j;
}

/* Verifies tok with j at now; returns the reason (NULL when accepted). */
static const char *verify_at(const mc_jwt_t *j, const char *tok, int64_t now)
{
    mc_claims_t c;
    const char *why = "unset";
    int rc = mc_jwt_verify(j, tok, strlen(tok), now, &c, &why);
    if (rc == 0) {
        assert_null(why);
        return NULL;
    }
    assert_int_equal(rc, -1);
    assert_non_null(why);
    return why;
}

/* Signs claims (modified by the caller) with the test secret and verifies at NOW. */
static const char *verify_claims(json_t *claims)
{
    mc_jwt_t *j = hs();
    char *tok = mh_token_sign(NULL, claims, NULL, 0);
    const char *why = verify_at(j, tok, NOW);
    free(tok);
    json_decref(claims);
    mc_jwt_free(j);
    return why;
}

static void accepts_a_token_it_signed(void **state)
{
    mc_jwt_t *j = hs();
    int64_t exp = 0;
    char *tok = mc_jwt_sign_access(j, SUB, MC_ROLE_SELLER, NOW, &exp);
    assert_non_null(tok);
    assert_int_equal(exp, NOW + 900);
    mc_claims_t c;
    const char *why = NULL;
    assert_int_equal(mc_jwt_verify(j, tok, strlen(tok), NOW + 10, &c, &why), 0);
    assert_string_equal(c.sub, SUB);
    assert_int_equal(c.role, MC_ROLE_SELLER);
    assert_int_equal(c.exp, NOW + 900);
    assert_int_equal(c.iat, NOW);
    assert_int_equal(strlen(c.jti), 64); /* 256 random bits in hex */
    assert_true(mc_jwt_can_sign(j));
    assert_int_equal(mc_jwt_access_ttl(j), 900);
    free(tok);
    mc_jwt_free(j);
}

static void every_token_gets_a_fresh_jti(void **state)
{
    mc_jwt_t *j = hs();
    char *a = mc_jwt_sign_access(j, SUB, MC_ROLE_ADMIN, NOW, NULL), *b = mc_jwt_sign_access(j, SUB, MC_ROLE_ADMIN, NOW, NULL);
    mc_claims_t ca, cb;
    assert_int_equal(mc_jwt_verify(j, a, strlen(a), NOW, &ca, NULL), 0);
    assert_int_equal(mc_jwt_verify(j, b, strlen(b), NOW, &cb, NULL), 0);
    assert_string_not_equal(ca.jti, cb.jti);
    free(a);
    free(b);
    mc_jwt_free(j);
}

static void refuses_to_sign_bad_subjects_and_roles(void **state)
{
    mc_jwt_t *j = hs();
    assert_null(mc_jwt_sign_access(j, "not-an-object-id", MC_ROLE_ADMIN, NOW, NULL));
    assert_null(mc_jwt_sign_access(j, SUB, (mc_role_t)3, NOW, NULL));
    assert_null(mc_jwt_sign_access(j, NULL, MC_ROLE_ADMIN, NOW, NULL));
    mc_jwt_free(j);
}

static void refuses_alg_none(void **state)
{
    mc_jwt_t *j = hs();
    json_t *hdr = json_pack("{s:s, s:s}", "alg", "none", "typ", "JWT");
    json_t *claims = mh_claims(SUB, "admin", NOW);
    char *tok = mh_token_sign(json_incref(hdr), claims, NULL, 0); /* "header.payload." */
    assert_int_equal(tok[strlen(tok) - 1], '.');
    assert_string_equal(verify_at(j, tok, NOW), "wrong algorithm");
    /* the same with a signature glued on */
    char *cj = json_dumps(claims, JSON_COMPACT);
    char *tok2 = mh_token_sign_raw("{\"alg\":\"none\"}", cj, "HS256", NULL, 0);
    free(cj);
    assert_string_equal(verify_at(j, tok2, NOW), "wrong algorithm");
    /* and in other spellings */
    char *tok3 = mh_token_sign_raw("{\"alg\":\"None\"}", "{}", "none", NULL, 0);
    assert_string_equal(verify_at(j, tok3, NOW), "wrong algorithm");
    free(tok);
    free(tok2);
    free(tok3);
    json_decref(hdr);
    json_decref(claims);
    mc_jwt_free(j);
}

static void refuses_other_algorithms(void **state)
{
    mc_jwt_t *j = hs();
    json_t *claims = mh_claims(SUB, "admin", NOW);
    char *c = json_dumps(claims, JSON_COMPACT);
    char *tok = mh_token_sign_raw("{\"alg\":\"HS384\",\"typ\":\"JWT\"}", c, "HS256", NULL, 0);
    assert_string_equal(verify_at(j, tok, NOW), "wrong algorithm");
    free(tok);
    tok = mh_token_sign_raw("{\"typ\":\"JWT\"}", c, "HS256", NULL, 0); /* no alg at all */
    assert_non_null(verify_at(j, tok, NOW));
    free(tok);
    tok = mh_token_sign_raw("{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", c, "HS256", NULL, 0);
    assert_string_equal(verify_at(j, tok, NOW), "unsupported token header");
    free(tok);
    free(c);
    json_decref(claims);
    mc_jwt_free(j);
}

/* The classic key-confusion attack: the verifier is configured for RS256 with a public
 * key; the attacker signs HS256 using that public PEM as the HMAC secret. */
static void refuses_hs256_signed_with_the_rsa_public_key(void **state)
{
    char *pub, *priv, err[128];
    assert_int_equal(mh_rsa_keypair(&pub, &priv), 0);
    mc_jwt_t *j = mc_jwt_create("RS256", pub, strlen(pub), priv, strlen(priv), MH_JWT_ISSUER, MH_JWT_AUDIENCE, LEEWAY, 900,
                                err, sizeof(err));
    assert_non_null(j);

    /* a genuine RS256 token is accepted */
    char *good = mc_jwt_sign_access(j, SUB, MC_ROLE_CUSTOMER, NOW, NULL);
    assert_non_null(good);
    assert_null(verify_at(j, good, NOW));

    json_t *claims = mh_claims(SUB, "admin", NOW);
    char *forged = mh_token_sign(NULL, claims, pub, strlen(pub)); /* HS256, secret = public PEM */
    /* libjwt alone would accept it: that is the trap this module closes */
    jwt_t *raw = NULL;
    assert_int_equal(jwt_decode(&raw, forged, (const unsigned char *)pub, (int)strlen(pub)), 0);
    jwt_free(raw);
    assert_string_equal(verify_at(j, forged, NOW), "wrong algorithm");

    /* an RS256 token signed with another key */
    char *pub2, *priv2;
    assert_int_equal(mh_rsa_keypair(&pub2, &priv2), 0);
    json_t *rs = json_pack("{s:s, s:s}", "alg", "RS256", "typ", "JWT");
    char *other = mh_token_sign(json_incref(rs), claims, priv2, strlen(priv2));
    assert_string_equal(verify_at(j, other, NOW), "bad signature");
    char *mine = mh_token_sign(json_incref(rs), claims, priv, strlen(priv));
    assert_null(verify_at(j, mine, NOW));

    /* a verify-only instance cannot sign */
    mc_jwt_t *v = mc_jwt_create("RS256", pub, strlen(pub), NULL, 0, MH_JWT_ISSUER, MH_JWT_AUDIENCE, LEEWAY, 900, err,
                                sizeof(err));
    assert_non_null(v);
    assert_false(mc_jwt_can_sign(v));
    assert_null(mc_jwt_sign_access(v, SUB, MC_ROLE_ADMIN, NOW, NULL));
    assert_null(verify_at(v, good, NOW));

    free(good);
    free(forged);
    free(other);
    free(mine);
    json_decref(rs);
    json_decref(claims);
    mc_jwt_free(j);
    mc_jwt_free(v);
    free(pub);
    free(priv);
    free(pub2);
    free(priv2);
}

static void expiry_edges_respect_the_leeway(void **state)
{
    mc_jwt_t *j = hs();
    char *tok = mc_jwt_sign_access(j, SUB, MC_ROLE_CUSTOMER, NOW, NULL);
    int64_t exp = NOW + 900;
    assert_null(verify_at(j, tok, exp - 1));
    assert_null(verify_at(j, tok, exp));              /* within the leeway */
    assert_null(verify_at(j, tok, exp + LEEWAY - 1)); /* last accepted second */
    assert_string_equal(verify_at(j, tok, exp + LEEWAY), "expired");
    assert_string_equal(verify_at(j, tok, exp + 100000), "expired");
    free(tok);
    mc_jwt_free(j);
}

static void not_before_and_issued_at_edges(void **state)
{
    json_t *c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "nbf", json_integer(NOW + LEEWAY));
    assert_null(verify_claims(c));
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "nbf", json_integer(NOW + LEEWAY + 1));
    assert_string_equal(verify_claims(c), "not yet valid");
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "iat", json_integer(NOW + LEEWAY));
    assert_null(verify_claims(c));
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "iat", json_integer(NOW + LEEWAY + 1));
    assert_string_equal(verify_claims(c), "issued in the future");
    c = mh_claims(SUB, "customer", NOW);
    json_object_del(c, "nbf"); /* nbf is optional */
    assert_null(verify_claims(c));
}

static void issuer_and_audience(void **state)
{
    json_t *c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "iss", json_string("evil-auth"));
    assert_string_equal(verify_claims(c), "wrong issuer");
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "aud", json_string("another-app"));
    assert_string_equal(verify_claims(c), "wrong audience");
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "aud", json_pack("[s, s]", "another-app", MH_JWT_AUDIENCE));
    assert_null(verify_claims(c));
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "aud", json_pack("[s]", "another-app"));
    assert_string_equal(verify_claims(c), "wrong audience");
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "aud", json_integer(1));
    assert_string_equal(verify_claims(c), "wrong audience");
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "iss", json_integer(7));
    assert_string_equal(verify_claims(c), "missing claim");
}

static void type_subject_role(void **state)
{
    json_t *c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "typ", json_string("refresh"));
    assert_string_equal(verify_claims(c), "wrong token type");
    c = mh_claims("1234", "customer", NOW);
    assert_string_equal(verify_claims(c), "invalid subject");
    c = mh_claims("64b7f0c2a1b2c3d4e5f6071g", "customer", NOW);
    assert_string_equal(verify_claims(c), "invalid subject");
    c = mh_claims(SUB, "superuser", NOW);
    assert_string_equal(verify_claims(c), "invalid role");
    c = mh_claims(SUB, "Admin", NOW);
    assert_string_equal(verify_claims(c), "invalid role");
    c = mh_claims(SUB, "customer", NOW);
    json_object_set_new(c, "jti", json_string(""));
    assert_string_equal(verify_claims(c), "invalid token id");
}

static void missing_claims(void **state)
{
    static const char *const names[] = {"exp", "iat", "iss", "aud", "typ", "sub", "role", "jti"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); ++i) {
        json_t *c = mh_claims(SUB, "admin", NOW);
        json_object_del(c, names[i]);
        const char *why = verify_claims(c);
        assert_non_null(why);
        assert_string_equal(why, "missing claim");
    }
}

static void claims_of_the_wrong_type(void **state)
{
    json_t *c = mh_claims(SUB, "admin", NOW);
    json_object_set_new(c, "exp", json_string("99999999999"));
    assert_string_equal(verify_claims(c), "malformed claims");
    c = mh_claims(SUB, "admin", NOW);
    json_object_set_new(c, "exp", json_real((double)NOW + 900.5));
    assert_string_equal(verify_claims(c), "malformed claims");
    c = mh_claims(SUB, "admin", NOW);
    json_object_set_new(c, "nbf", json_true());
    assert_string_equal(verify_claims(c), "malformed claims");
    c = mh_claims(SUB, "admin", NOW);
    json_object_set_new(c, "exp", json_integer(-1));
    assert_string_equal(verify_claims(c), "malformed claims");
    c = mh_claims(SUB, "admin", NOW);
    json_object_set_new(c, "sub", json_integer(5));
    assert_string_equal(verify_claims(c), "missing claim");

    /* duplicate keys: parsers disagree on which wins, so the token is refused */
    mc_jwt_t *j = hs();
    char payload[512];
    snprintf(payload, sizeof(payload),
             "{\"iss\":\"%s\",\"aud\":\"%s\",\"sub\":\"%s\",\"role\":\"customer\",\"role\":\"admin\",\"typ\":\"access\","
             "\"jti\":\"x\",\"iat\":%lld,\"exp\":%lld}",
             MH_JWT_ISSUER, MH_JWT_AUDIENCE, SUB, (long long)NOW, (long long)NOW + 900);
    char *tok = mh_token_sign_raw("{\"alg\":\"HS256\",\"typ\":\"JWT\"}", payload, "HS256", NULL, 0);
    assert_string_equal(verify_at(j, tok, NOW), "malformed claims");
    free(tok);
    mc_jwt_free(j);
}

static char *replace_part(const char *tok, int part, const char *with)
{
    const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
    size_t n = strlen(tok) + strlen(with) + 1;
    char *out = malloc(n);
    if (part == 1)
        snprintf(out, n, "%.*s%s%s", (int)(d1 - tok + 1), tok, with, d2);
    else
        snprintf(out, n, "%.*s%s", (int)(d2 - tok + 1), tok, with);
    return out;
}

static void tampered_tokens(void **state)
{
    mc_jwt_t *j = hs();
    char *tok = mc_jwt_sign_access(j, SUB, MC_ROLE_CUSTOMER, NOW, NULL);

    /* the payload of another, admin token on this token's signature */
    json_t *c = mh_claims(SUB, "admin", NOW);
    char *cj = json_dumps(c, JSON_COMPACT);
    char b64[1024];
    mc_base64url_encode(cj, strlen(cj), b64);
    char *swapped = replace_part(tok, 1, b64);
    assert_string_equal(verify_at(j, swapped, NOW), "bad signature");

    /* one flipped signature character; a stripped signature; a truncated one */
    char *flipped = strdup(tok);
    char *last = flipped + strlen(flipped) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    assert_string_equal(verify_at(j, flipped, NOW), "bad signature");
    char *stripped = replace_part(tok, 2, "");
    assert_string_equal(verify_at(j, stripped, NOW), "bad signature");
    char *truncated = strndup(tok, strlen(tok) - 5);
    assert_non_null(verify_at(j, truncated, NOW));

    /* signed with another secret of the right length */
    const char *other = "another-secret-that-is-long-enough-0123456789";
    char *foreign = mh_token_sign(NULL, c, other, strlen(other));
    assert_string_equal(verify_at(j, foreign, NOW), "bad signature");

    free(tok);
    free(cj);
    free(swapped);
    free(flipped);
    free(stripped);
    free(truncated);
    free(foreign);
    json_decref(c);
    mc_jwt_free(j);
}

static void garbage_and_huge_input(void **state)
{
    mc_jwt_t *j = hs();
    static const char *const junk[] = {"", ".", "..", "...", "abc", "a.b", "a.b.c", "a.b.c.d", "e30.e30.", "e30.e30.e30",
                                       "!!!.###.$$$", "eyJhbGciOiJIUzI1NiJ9", "eyJhbGciOiJIUzI1NiJ9..sig",
                                       ".eyJzdWIiOiIxIn0.sig", "W10.e30.c2ln" /* header [] */};
    for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); ++i)
        assert_non_null(verify_at(j, junk[i], NOW));

    mc_claims_t cl;
    const char *why;
    assert_int_equal(mc_jwt_verify(j, NULL, 0, NOW, &cl, &why), -1);
    /* an embedded NUL inside the declared length */
    char *tok = mc_jwt_sign_access(j, SUB, MC_ROLE_CUSTOMER, NOW, NULL);
    size_t n = strlen(tok);
    tok[n / 2] = '\0';
    assert_int_equal(mc_jwt_verify(j, tok, n, NOW, &cl, &why), -1);
    free(tok);

    /* 1 MiB: refused without being read (libjwt would alloca it) */
    size_t big = 1 << 20;
    char *huge = malloc(big + 1);
    memset(huge, 'A', big);
    huge[100] = '.';
    huge[200] = '.';
    huge[big] = '\0';
    assert_int_equal(mc_jwt_verify(j, huge, big, NOW, &cl, &why), -1);
    assert_string_equal(why, "token too large");
    free(huge);

    /* random bytes never crash it */
    char rnd[300];
    for (int k = 0; k < 2000; ++k) {
        mc_random_bytes(rnd, sizeof(rnd));
        size_t len = (unsigned char)rnd[0] + 1;
        for (size_t i = 1; i < len; ++i)
            if ((unsigned char)rnd[i] % 7 == 0)
                rnd[i] = '.';
        assert_int_equal(mc_jwt_verify(j, rnd + 1, len - 1, NOW, &cl, &why), -1);
    }
    mc_jwt_free(j);
}

static void configuration_is_checked(void **state)
{
    char err[160];
    assert_null(mc_jwt_create("HS256", "short", 5, NULL, 0, "i", "a", 0, 900, err, sizeof(err)));
    assert_non_null(strstr(err, "32 bytes"));
    assert_null(mc_jwt_create("HS256", NULL, 0, NULL, 0, "i", "a", 0, 900, err, sizeof(err)));
    assert_null(mc_jwt_create("none", MH_JWT_SECRET, strlen(MH_JWT_SECRET), NULL, 0, "i", "a", 0, 900, err, sizeof(err)));
    assert_null(mc_jwt_create("HS512", MH_JWT_SECRET, strlen(MH_JWT_SECRET), NULL, 0, "i", "a", 0, 900, err, sizeof(err)));
    assert_null(mc_jwt_create("RS256", "not a pem", 9, NULL, 0, "i", "a", 0, 900, err, sizeof(err)));
    assert_null(mc_jwt_create("HS256", MH_JWT_SECRET, strlen(MH_JWT_SECRET), NULL, 0, "", "a", 0, 900, err, sizeof(err)));
    assert_null(mc_jwt_create("HS256", MH_JWT_SECRET, strlen(MH_JWT_SECRET), NULL, 0, "i", "a", 0, 0, err, sizeof(err)));
    assert_int_equal(mc_role_parse("seller"), MC_ROLE_SELLER);
    assert_int_equal(mc_role_parse("root"), 0);
    assert_int_equal(mc_role_parse(NULL), 0);
    assert_string_equal(mc_role_name(MC_ROLE_ADMIN), "admin");
    assert_null(mc_role_name((mc_role_t)0));
}

static void settings_from_the_environment(void **state)
{
    char err[200], path[] = "/tmp/mc-jwt-secret-XXXXXX";
    unsetenv("JWT_ALG");
    unsetenv("JWT_SECRET");
    unsetenv("JWT_SECRET_FILE");
    unsetenv("JWT_LEEWAY_SECONDS");
    assert_null(mc_jwt_from_env(err, sizeof(err)));
    assert_non_null(strstr(err, "JWT_SECRET"));

    setenv("JWT_SECRET", "too-short", 1);
    assert_null(mc_jwt_from_env(err, sizeof(err)));
    setenv("JWT_SECRET", MH_JWT_SECRET, 1);
    mc_jwt_t *j = mc_jwt_from_env(err, sizeof(err));
    assert_non_null(j);
    char *tok = mh_token_at(SUB, "admin", NOW); /* same secret, issuer, audience */
    assert_null(verify_at(j, tok, NOW));
    mc_jwt_free(j);

    /* the secret from a file, written with a trailing newline */
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, MH_JWT_SECRET "\n", strlen(MH_JWT_SECRET) + 1), (ssize_t)strlen(MH_JWT_SECRET) + 1);
    close(fd);
    setenv("JWT_SECRET_FILE", path, 1);
    assert_null(mc_jwt_from_env(err, sizeof(err))); /* both set: ambiguous */
    unsetenv("JWT_SECRET");
    j = mc_jwt_from_env(err, sizeof(err));
    assert_non_null(j);
    assert_null(verify_at(j, tok, NOW));
    mc_jwt_free(j);
    unlink(path);
    assert_null(mc_jwt_from_env(err, sizeof(err))); /* unreadable file */
    unsetenv("JWT_SECRET_FILE");

    setenv("JWT_SECRET", MH_JWT_SECRET, 1);
    setenv("JWT_LEEWAY_SECONDS", "abc", 1);
    assert_null(mc_jwt_from_env(err, sizeof(err)));
    assert_non_null(strstr(err, "JWT_LEEWAY_SECONDS"));
    setenv("JWT_LEEWAY_SECONDS", "0", 1);
    j = mc_jwt_from_env(err, sizeof(err));
    assert_non_null(j);
    assert_null(verify_at(j, tok, NOW + 899));
    assert_string_equal(verify_at(j, tok, NOW + 900), "expired"); /* no leeway at all */
    mc_jwt_free(j);
    setenv("JWT_ALG", "RS256", 1);
    assert_null(mc_jwt_from_env(err, sizeof(err)));
    assert_non_null(strstr(err, "JWT_PUBLIC_KEY_FILE"));
    setenv("JWT_ALG", "none", 1);
    assert_null(mc_jwt_from_env(err, sizeof(err)));
    unsetenv("JWT_ALG");
    unsetenv("JWT_LEEWAY_SECONDS");
    unsetenv("JWT_SECRET");
    free(tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(accepts_a_token_it_signed),
        cmocka_unit_test(every_token_gets_a_fresh_jti),
        cmocka_unit_test(refuses_to_sign_bad_subjects_and_roles),
        cmocka_unit_test(refuses_alg_none),
        cmocka_unit_test(refuses_other_algorithms),
        cmocka_unit_test(refuses_hs256_signed_with_the_rsa_public_key),
        cmocka_unit_test(expiry_edges_respect_the_leeway),
        cmocka_unit_test(not_before_and_issued_at_edges),
        cmocka_unit_test(issuer_and_audience),
        cmocka_unit_test(type_subject_role),
        cmocka_unit_test(missing_claims),
        cmocka_unit_test(claims_of_the_wrong_type),
        cmocka_unit_test(tampered_tokens),
        cmocka_unit_test(garbage_and_huge_input),
        cmocka_unit_test(configuration_is_checked),
        cmocka_unit_test(settings_from_the_environment),
    };
    return cmocka_run_group_tests_name("mc_jwt", tests, NULL, NULL);
}
