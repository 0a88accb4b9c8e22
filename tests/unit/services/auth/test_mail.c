/*
 * Unit tests of services/auth/mail.c: what the messages say, quoted-printable that decodes
 * back to the text with no line over 76 characters, and a rendered message whose headers
 * no input can extend.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>
#include "mail.h"

/* RFC 2045 decoding, for the round trip; CRLF becomes LF. */
static char *qp_decode(const char *in)
{
    char *out = malloc(strlen(in) + 1), *o = out;
    for (const char *p = in; *p;) {
        if (p[0] == '=' && p[1] == '\r' && p[2] == '\n') {
            p += 3;
        } else if (p[0] == '=') {
            char hex[3] = {p[1], p[2], 0};
            *o++ = (char)strtol(hex, NULL, 16);
            p += 3;
        } else if (p[0] == '\r' && p[1] == '\n') {
            *o++ = '\n';
            p += 2;
        } else {
            *o++ = *p++;
        }
    }
    *o = '\0';
    return out;
}

static void lines_within_76(const char *qp)
{
    for (const char *line = qp; *line;) {
        const char *end = strstr(line, "\r\n");
        size_t n = end != NULL ? (size_t)(end - line) : strlen(line);
        if (n > 76)
            fail_msg("a line of %zu characters: %.*s", n, (int)n, line);
        assert_true(strchr("\t ", line[n ? n - 1 : 0]) == NULL || n == 0); /* no trailing white space */
        if (end == NULL)
            break;
        line = end + 2;
    }
}

#define LONG_LINE                                                                                                  \
    "https://shop.example/reset-password?token=Bn8FshpffM1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK4&x=1 and much more text " \
    "so that the line goes on well past seventy-six characters and has to be folded several times over\n"

static void quoted_printable_round_trip(void **state)
{
    (void)state;
    const char *texts[] = {
        "",
        "plain ascii",
        "Grüße aus Köln – ünïcödé and 中文 and emoji 😀\n",
        "a line with = signs == and trailing spaces   \nand tabs\t\n",
        ".\n.leading dot\n..\n",
        LONG_LINE,
        "crlf\r\nends\r\n",
    };
    for (size_t i = 0; i < sizeof(texts) / sizeof(*texts); ++i) {
        char *qp = auth_qp_encode(texts[i]);
        assert_non_null(qp);
        lines_within_76(qp);
        for (const char *p = qp; *p; ++p)
            assert_true((unsigned char)*p < 128); /* 7-bit clean */
        char *back = qp_decode(qp);
        char *want = strdup(texts[i]);
        /* CRLF in the input decodes as LF */
        char *w = want;
        for (const char *p = texts[i]; *p; ++p)
            if (!(p[0] == '\r' && p[1] == '\n'))
                *w++ = *p;
        *w = '\0';
        assert_string_equal(back, want);
        free(back);
        free(want);
        free(qp);
    }
}

static void composed_messages(void **state)
{
    (void)state;
    char *subject, *text;
    const char *tok = "Bn8FshpffM1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK4";
    assert_int_equal(auth_mail_compose(AUTH_MAIL_VERIFY, "Ada", tok, "https://shop.example", 86400, &subject, &text), 0);
    assert_string_equal(subject, "Confirm your email address");
    assert_non_null(strstr(text, "Hello Ada,"));
    assert_non_null(strstr(text, "https://shop.example/verify-email?token=Bn8FshpffM1Bna0ehPb6wPDexJRMQQtu9TlDkQq7kK4"));
    assert_non_null(strstr(text, "24 hours"));
    free(subject);
    free(text);
    assert_int_equal(auth_mail_compose(AUTH_MAIL_RESET, "Ada", tok, "https://shop.example", 3600, &subject, &text), 0);
    assert_string_equal(subject, "Reset your Mercato password");
    assert_non_null(strstr(text, "/reset-password?token="));
    assert_non_null(strstr(text, "1 hour"));
    free(subject);
    free(text);
    assert_int_equal(auth_mail_compose(AUTH_MAIL_WELCOME, "Ada", NULL, "https://shop.example", 0, &subject, &text), 0);
    assert_string_equal(subject, "Welcome to Mercato");
    free(subject);
    free(text);
    assert_int_equal(auth_mail_compose(AUTH_MAIL_PASSWORD_CHANGED, "Ada", NULL, "https://shop.example", 0, &subject, &text), 0);
    assert_non_null(strstr(text, "https://shop.example/forgot-password"));
    free(subject);
    free(text);
}

static void rendered_message(void **state)
{
    (void)state;
    /* a name trying to smuggle a header: it only ever reaches the body, encoded */
    char *subject, *text;
    assert_int_equal(auth_mail_compose(AUTH_MAIL_WELCOME, "Eve\r\nBcc: all@example.com", NULL, "https://s.example", 0,
                                       &subject, &text),
                     0);
    char *msg = auth_mail_render("Mercato <no-reply@mercato.example>", "ada@example.com", subject, text,
                                 "6b02039e8a355fc7e5036761", 1795294110000);
    assert_non_null(msg);
    char *body = strstr(msg, "\r\n\r\n");
    assert_non_null(body);
    *body = '\0';
    assert_null(strstr(msg, "Bcc:"));
    assert_non_null(strstr(msg, "Date: Sat, 21 Nov 2026 20:48:30 +0000\r\n"));
    assert_non_null(strstr(msg, "From: Mercato <no-reply@mercato.example>\r\n"));
    assert_non_null(strstr(msg, "To: <ada@example.com>\r\n"));
    assert_non_null(strstr(msg, "Subject: Welcome to Mercato\r\n"));
    assert_non_null(strstr(msg, "Message-ID: <6b02039e8a355fc7e5036761@mercato.example>\r\n"));
    assert_non_null(strstr(msg, "Content-Transfer-Encoding: quoted-printable\r\n"));
    /* every header line ends in CRLF, none is bare LF */
    for (char *p = msg; *p; ++p)
        if (*p == '\n')
            assert_true(p > msg && p[-1] == '\r');
    assert_non_null(strstr(body + 4, "Hello Eve")); /* the text is in the body, where it is only text */
    free(msg);
    free(subject);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quoted_printable_round_trip),
        cmocka_unit_test(composed_messages),
        cmocka_unit_test(rendered_message),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
