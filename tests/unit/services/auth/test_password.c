/*
 * Unit tests of services/auth/password.c: Argon2id PHC strings, verification, the rehash
 * decision, and refusing hashes whose parameters would make verification an attack.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "password.h"

static const auth_argon2_t owasp = {19456, 2, 1};

static void hash_and_verify(void **state)
{
    (void)state;
    char phc[AUTH_PHC_MAX], again[AUTH_PHC_MAX];
    assert_int_equal(auth_password_hash(&owasp, "correct horse", 13, phc), 0);
    assert_memory_equal(phc, "$argon2id$v=19$m=19456,t=2,p=1$", 31);
    assert_int_equal(auth_password_verify(phc, "correct horse", 13), 1);
    assert_int_equal(auth_password_verify(phc, "correct horsf", 13), 0);
    assert_int_equal(auth_password_verify(phc, "correct hors", 12), 0);
    assert_int_equal(auth_password_verify(phc, "", 0), 0);
    /* a fresh salt every time */
    assert_int_equal(auth_password_hash(&owasp, "correct horse", 13, again), 0);
    assert_string_not_equal(phc, again);
    /* passwords are bytes: NUL and UTF-8 count */
    assert_int_equal(auth_password_hash(&owasp, "pässwörd\0x", 12, phc), 0);
    assert_int_equal(auth_password_verify(phc, "pässwörd\0x", 12), 1);
    assert_int_equal(auth_password_verify(phc, "pässwörd", 10), 0);
}

static void parameters_and_rehash(void **state)
{
    (void)state;
    char phc[AUTH_PHC_MAX];
    auth_argon2_t p;
    assert_int_equal(auth_password_hash(&owasp, "pw", 2, phc), 0);
    assert_true(auth_phc_params(phc, &p));
    assert_int_equal(p.m_kib, 19456);
    assert_int_equal(p.t, 2);
    assert_int_equal(p.p, 1);
    assert_false(auth_password_needs_rehash(phc, &owasp));
    auth_argon2_t raised = {19456, 3, 1};
    assert_true(auth_password_needs_rehash(phc, &raised));
    auth_argon2_t more_mem = {47104, 1, 1};
    assert_true(auth_password_needs_rehash(phc, &more_mem));
    assert_true(auth_password_needs_rehash("$2b$12$bcrypt.hash.from.elsewhere", &owasp));
}

static void refuses_unacceptable_hashes(void **state)
{
    (void)state;
    auth_argon2_t p;
    const char *bad[] = {
        "",
        "plain text",
        "$argon2i$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=16$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        /* 8 TiB of memory: refused before any allocation */
        "$argon2id$v=19$m=8589934592,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=100000,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=2,p=64$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA",
        "$argon2id$v=19$m=19456,t=2,p=1$c2Fsd!NhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=2$c2FsdHNhbHRzYWx0c2FsdA$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g",
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$aGFz$aGFz",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i) {
        if (auth_phc_params(bad[i], &p))
            fail_msg("accepted %s", bad[i]);
        assert_int_equal(auth_password_verify(bad[i], "pw", 2), -1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(hash_and_verify),
        cmocka_unit_test(parameters_and_rehash),
        cmocka_unit_test(refuses_unacceptable_hashes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
