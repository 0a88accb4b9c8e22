/*
 * Implementation of mail.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "mail.h"
#include "mc_util.h"

const char *auth_mail_kind_name(auth_mail_kind_t kind)
{
    switch (kind) {
    case AUTH_MAIL_VERIFY: return "verify";
    case AUTH_MAIL_RESET: return "reset";
    case AUTH_MAIL_WELCOME: return "welcome";
    case AUTH_MAIL_PASSWORD_CHANGED: return "password-changed";
    }
    return "unknown";
}

/* "24 hours", "60 minutes", "45 seconds". */
static void duration(unsigned s, char *out, size_t n)
{
    if (s % 3600 == 0)
        snprintf(out, n, "%u hour%s", s / 3600, s == 3600 ? "" : "s");
    else if (s % 60 == 0)
        snprintf(out, n, "%u minute%s", s / 60, s == 60 ? "" : "s");
    else
        snprintf(out, n, "%u second%s", s, s == 1 ? "" : "s");
}

int auth_mail_compose(auth_mail_kind_t kind, const char *name, const char *token, const char *app_url, unsigned valid_s,
                      char **subject, char **text)
{
    mc_buf_t b;
    mc_buf_init(&b, 16384);
    char valid[48];
    duration(valid_s, valid, sizeof(valid));
    const char *subj = NULL;
    int r = mc_buf_appendf(&b, "Hello %s,\n\n", name);
    switch (kind) {
    case AUTH_MAIL_VERIFY:
        subj = "Confirm your email address";
        r |= mc_buf_appendf(&b,
                            "please confirm the email address of your Mercato account by opening this link:\n\n"
                            "%s/verify-email?token=%s\n\n"
                            "or by entering this code in the app:\n\n%s\n\n"
                            "The link works once and for %s. If you did not create a Mercato account, ignore this "
                            "message.\n",
                            app_url, token, token, valid);
        break;
    case AUTH_MAIL_RESET:
        subj = "Reset your Mercato password";
        r |= mc_buf_appendf(&b,
                            "someone (hopefully you) asked to reset the password of your Mercato account. To choose a "
                            "new password, open this link:\n\n"
                            "%s/reset-password?token=%s\n\n"
                            "or enter this code in the app:\n\n%s\n\n"
                            "The link works once and for %s. If you did not ask for it, ignore this message: your "
                            "password stays as it is.\n",
                            app_url, token, token, valid);
        break;
    case AUTH_MAIL_WELCOME:
        subj = "Welcome to Mercato";
        r |= mc_buf_appendf(&b, "your email address is confirmed. Welcome to Mercato!\n\n%s\n", app_url);
        break;
    case AUTH_MAIL_PASSWORD_CHANGED:
        subj = "Your Mercato password was changed";
        r |= mc_buf_appendf(&b,
                            "the password of your Mercato account was just changed, and every device was signed out.\n\n"
                            "If that was not you, reset your password now: %s/forgot-password\n",
                            app_url);
        break;
    }
    r |= mc_buf_appendf(&b, "\n-- \nMercato\n");
    if (r != 0 || subj == NULL || (*subject = strdup(subj)) == NULL) {
        mc_buf_free(&b);
        return -1;
    }
    *text = b.data; /* mc_buf keeps it NUL-terminated; the caller owns it now */
    return 0;
}

char *auth_qp_encode(const char *text)
{
    mc_buf_t b;
    mc_buf_init(&b, 3 * strlen(text) + 3 * (strlen(text) / 70 + 2) + 16);
    static const char hex[] = "0123456789ABCDEF";
    size_t col = 0;
    int r = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p && r == 0; ++p) {
        if (*p == '\r' && p[1] == '\n')
            continue; /* CRLF: the LF writes the break */
        if (*p == '\n') {
            r |= mc_buf_append(&b, "\r\n", 2);
            col = 0;
            continue;
        }
        char enc[3];
        size_t n;
        bool at_eol = p[1] == '\n' || p[1] == '\0' || (p[1] == '\r' && p[2] == '\n');
        /* literal: printable ASCII but '='; space and tab unless they end a line; a '.' at
         * the start of a line is encoded so no line is ever just "." */
        bool literal = (*p >= 33 && *p <= 126 && *p != '=' && !(*p == '.' && col == 0)) ||
                       ((*p == ' ' || *p == '\t') && !at_eol);
        if (literal) {
            enc[0] = (char)*p;
            n = 1;
        } else {
            enc[0] = '=';
            enc[1] = hex[*p >> 4];
            enc[2] = hex[*p & 15];
            n = 3;
        }
        if (col + n > 75) { /* a soft break keeps every line within 76 characters */
            r |= mc_buf_append(&b, "=\r\n", 3);
            col = 0;
            if (enc[0] == '.' && n == 1) {
                enc[0] = '=';
                enc[1] = '2';
                enc[2] = 'E';
                n = 3;
            }
        }
        r |= mc_buf_append(&b, enc, n);
        col += n;
    }
    if (r != 0) {
        mc_buf_free(&b);
        return NULL;
    }
    return b.data != NULL ? b.data : strdup("");
}

char *auth_mail_render(const char *from, const char *to, const char *subject, const char *text, const char *message_id,
                       int64_t date_ms)
{
    char *body = auth_qp_encode(text);
    if (body == NULL)
        return NULL;
    char date[64];
    time_t t = (time_t)(date_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    static const char *const days[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    snprintf(date, sizeof(date), "%s, %02d %s %04d %02d:%02d:%02d +0000", days[tm.tm_wday], tm.tm_mday,
             months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    const char *at = strrchr(from, '@');
    char domain[256];
    snprintf(domain, sizeof(domain), "%s", at != NULL ? at + 1 : "mercato.invalid");
    char *gt = strchr(domain, '>');
    if (gt != NULL)
        *gt = '\0';
    mc_buf_t b;
    mc_buf_init(&b, strlen(body) + 4096);
    int r = mc_buf_appendf(&b,
                           "Date: %s\r\nFrom: %s\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@%s>\r\n"
                           "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
                           "Content-Transfer-Encoding: quoted-printable\r\nAuto-Submitted: auto-generated\r\n\r\n%s",
                           date, from, to, subject, message_id, domain, body);
    free(body);
    if (r != 0) {
        mc_buf_free(&b);
        return NULL;
    }
    return b.data;
}
