/*
 * Unit tests of REDIS_URL parsing in lib/mc_redis.c (included to reach the static
 * parser): what is accepted, what each part becomes, and that malformed URLs are refused
 * with a reason that never echoes the password.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "../../../lib/mc_redis.c"

static rc_url_t parse_ok(const char *url)
{
    rc_url_t u;
    char err[128] = "";
    int rc = rc_parse_url(url, &u, err, sizeof(err));
    if (rc != 0)
        fail_msg("%s: %s", url, err);
    return u;
}

static const char *parse_err(const char *url)
{
    static char err[128];
    rc_url_t u;
    err[0] = '\0';
    if (rc_parse_url(url, &u, err, sizeof(err)) == 0)
        fail_msg("%s was accepted", url);
    assert_true(err[0] != '\0');
    return err;
}

static void plain_host_port_db(void **state)
{
    rc_url_t u = parse_ok("redis://127.0.0.1:6380/2");
    assert_string_equal(u.host, "127.0.0.1");
    assert_int_equal(u.port, 6380);
    assert_int_equal(u.db, 2);
    assert_string_equal(u.password, "");
    assert_string_equal(u.user, "");

    u = parse_ok("redis://cache.internal");
    assert_string_equal(u.host, "cache.internal");
    assert_int_equal(u.port, 6379);
    assert_int_equal(u.db, 0);

    u = parse_ok("redis://localhost:7000/");
    assert_int_equal(u.port, 7000);
    assert_int_equal(u.db, 0);
}

static void passwords_and_users(void **state)
{
    rc_url_t u = parse_ok("redis://:s3cret@127.0.0.1:6379/1");
    assert_string_equal(u.password, "s3cret");
    assert_string_equal(u.user, "");
    assert_int_equal(u.db, 1);

    u = parse_ok("redis://app:p%40ss%3Aword@host:1");
    assert_string_equal(u.user, "app");
    assert_string_equal(u.password, "p@ss:word");

    u = parse_ok("redis://onlysecret@host");
    assert_string_equal(u.password, "onlysecret");
    assert_string_equal(u.user, "");

    /* an '@' inside the password must be encoded, but the last '@' wins anyway */
    u = parse_ok("redis://:a@b@host");
    assert_string_equal(u.password, "a@b");
    assert_string_equal(u.host, "host");
}

static void ipv6(void **state)
{
    rc_url_t u = parse_ok("redis://[::1]:6390/3");
    assert_string_equal(u.host, "::1");
    assert_int_equal(u.port, 6390);
    assert_int_equal(u.db, 3);
    u = parse_ok("redis://[fe80::1]");
    assert_string_equal(u.host, "fe80::1");
    assert_int_equal(u.port, 6379);
}

static void refused(void **state)
{
    parse_err(NULL);
    parse_err("");
    parse_err("127.0.0.1:6379");
    parse_err("http://127.0.0.1:6379");
    assert_non_null(strstr(parse_err("rediss://host:6379"), "TLS"));
    parse_err("redis://");
    parse_err("redis://:6379");
    parse_err("redis://host:0");
    parse_err("redis://host:65536");
    parse_err("redis://host:12ab");
    parse_err("redis://host:");
    parse_err("redis://host/abc");
    parse_err("redis://host/1x");
    parse_err("redis://host/-1");
    parse_err("redis://host/1?timeout=5");
    parse_err("redis://host#frag");
    parse_err("redis://[::1");
    parse_err("redis://[::1]x");
    parse_err("redis://ho st");
    parse_err("redis://host\r\n");
    parse_err("redis://:bad%zzescape@host");
    parse_err("redis://:nul%00byte@host");
    char longhost[400] = "redis://";
    memset(longhost + 8, 'a', 300);
    parse_err(longhost);
    /* the password never appears in the reason */
    const char *e = parse_err("redis://:hunter2@host:99999");
    assert_null(strstr(e, "hunter2"));
}

static void script_sha_is_redis_sha1(void **state)
{
    /* SHA1("return 1"), as SCRIPT LOAD would report it */
    mc_redis_script_t *s = mc_redis_script_create("return 1");
    assert_non_null(s);
    assert_string_equal(s->sha, "e0e1f9fabfc9d4800c877a703b823ac0578ff8db");
    mc_redis_script_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(plain_host_port_db),
        cmocka_unit_test(passwords_and_users),
        cmocka_unit_test(ipv6),
        cmocka_unit_test(refused),
        cmocka_unit_test(script_sha_is_redis_sha1),
    };
    return cmocka_run_group_tests_name("mc_redis url", tests, NULL, NULL);
}
