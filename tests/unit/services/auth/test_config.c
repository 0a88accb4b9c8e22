/*
 * Unit tests of services/auth/config.c: the N/S rate syntax.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "config.h"

static void rates(void **state)
{
    (void)state;
    auth_rate_t r;
    assert_true(auth_rate_parse("30/60", &r));
    assert_int_equal(r.count, 30);
    assert_int_equal(r.window_s, 60);
    assert_true(auth_rate_parse("off", &r));
    assert_int_equal(r.count, 0);
    assert_true(auth_rate_parse("OFF", &r));
    const char *bad[] = {"", "30", "/60", "30/", "0/60", "30/0", "-1/60", "30/-60", "30/60s", "1000001/60", "3/604801",
                         "a/b", " 30/60", NULL};
    for (const char *const *b = bad; *b != NULL; ++b)
        if (auth_rate_parse(*b, &r))
            fail_msg("accepted '%s'", *b);
    assert_false(auth_rate_parse(NULL, &r));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(rates)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
