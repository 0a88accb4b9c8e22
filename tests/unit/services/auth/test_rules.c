/*
 * Unit tests of services/auth/rules.c: the input rules that openapi.json states as
 * patterns must accept and refuse exactly the same strings.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "rules.h"

static bool email(const char *s)
{
    return auth_email_valid(s, strlen(s));
}

/* "a@bbbbbbbbb.bbbbbbbbb.…ccc" of exactly len characters (len >= 13). */
static void make_email(char *out, size_t len)
{
    strcpy(out, "a@");
    size_t n = 2;
    while (len - n > 10) {
        memcpy(out + n, "bbbbbbbbb.", 10);
        n += 10;
    }
    memset(out + n, 'c', len - n);
    out[len] = '\0';
}

static void emails(void **state)
{
    (void)state;
    const char *good[] = {"a@b.co", "Ada.Lovelace+shop@example.com", "x_y-z@sub.domain-1.example", "o'hara@ex.ie",
                          "1@2.3", "a!#$%&'*+/=?^_`{|}~-@x.io"};
    for (size_t i = 0; i < sizeof(good) / sizeof(*good); ++i)
        if (!email(good[i]))
            fail_msg("refused %s", good[i]);
    const char *bad[] = {"", "a", "a@b", "@b.co", "a@.co", "a@b..co", "a@b.co.", "a@-b.co", "a@b-.co", "a b@c.de",
                         "a@b@c.de", "a@b.c_o", "ä@b.de", "a@bü.de", "a\n@b.de", "a@b.de\n", "a\"b@c.de", "(a)@b.de"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); ++i)
        if (email(bad[i]))
            fail_msg("accepted %s", bad[i]);
    char local[80];
    memset(local, 'a', 65);
    strcpy(local + 65, "@b.co");
    assert_false(email(local)); /* local part over 64 */
    memset(local, 'a', 64);
    strcpy(local + 64, "@b.co");
    assert_true(email(local));
    char label[100] = "a@";
    memset(label + 2, 'b', 64);
    strcpy(label + 66, ".co");
    assert_false(email(label)); /* a label over 63 */
    char sized[300];
    make_email(sized, 254);
    assert_true(auth_email_valid(sized, 254));
    make_email(sized, 255);
    assert_false(auth_email_valid(sized, 255)); /* over 254 */
    char low[32];
    auth_email_lower("Ada.LOVELACE@Example.COM", 24, low);
    assert_string_equal(low, "ada.lovelace@example.com");
}

static void phones_tokens_countries_postcodes(void **state)
{
    (void)state;
    assert_true(auth_phone_valid("+4930123456", 11));
    assert_true(auth_phone_valid("+123456789012345", 16));
    assert_false(auth_phone_valid("+1234567890123456", 17));
    assert_false(auth_phone_valid("+0301234567", 11));
    assert_false(auth_phone_valid("030123456", 9));
    assert_false(auth_phone_valid("+49 30 1234", 11));
    assert_false(auth_phone_valid("+123456", 7));
    assert_true(auth_token_wellformed("Bn8FshpffM1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK4", 43));
    assert_false(auth_token_wellformed("Bn8FshpffM1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK", 42));
    assert_false(auth_token_wellformed("Bn8FshpffM1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK=", 43));
    assert_false(auth_token_wellformed("Bn8Fshpff+1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK4", 43));
    assert_true(auth_country_valid("DE", 2));
    assert_false(auth_country_valid("de", 2));
    assert_false(auth_country_valid("DEU", 3));
    assert_true(auth_postal_valid("SW1Y 4JH", 8));
    assert_true(auth_postal_valid("10115", 5));
    assert_true(auth_postal_valid("A", 1));
    assert_false(auth_postal_valid(" 10115", 6));
    assert_false(auth_postal_valid("10115-", 6));
    assert_false(auth_postal_valid("", 0));
    assert_false(auth_postal_valid("123456789012345678901", 21));
    assert_false(auth_postal_valid("12_34", 5));
}

static void address_keys(void **state)
{
    (void)state;
    char out[80];
    assert_true(auth_ip_key("203.0.113.7", out, sizeof(out)));
    assert_string_equal(out, "203.0.113.7");
    assert_true(auth_ip_key("2001:db8:1:2:3:4:5:6", out, sizeof(out)));
    assert_string_equal(out, "2001:db8:1:2::/64");
    char other[80];
    assert_true(auth_ip_key("2001:0db8:0001:0002:ffff::1", other, sizeof(other)));
    assert_string_equal(out, other); /* one subscriber's /64 is one client */
    assert_true(auth_ip_key("::ffff:198.51.100.4", out, sizeof(out)));
    assert_string_equal(out, "198.51.100.4");
    assert_false(auth_ip_key("999.1.1.1", out, sizeof(out)));
    assert_false(auth_ip_key("example.com", out, sizeof(out)));
    assert_false(auth_ip_key("", out, sizeof(out)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(emails),
        cmocka_unit_test(phones_tokens_countries_postcodes),
        cmocka_unit_test(address_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
