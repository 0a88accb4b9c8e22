/*
 * The messages the auth service sends, and their RFC 5322 form. Pure functions: the
 * delivery (outbox, SMTP, retries) is mailer.h's.
 *
 * Everything a client controls is kept out of the headers: the subject is fixed per kind,
 * the recipient passed auth_email_valid (ASCII, no spaces or line breaks), the name only
 * appears in the body, which is quoted-printable UTF-8 — so no input can add a header or
 * end the message early.
 */
#ifndef AUTH_MAIL_H
#define AUTH_MAIL_H

#include <stdint.h>

typedef enum auth_mail_kind {
    AUTH_MAIL_VERIFY,           /* confirm your email address (link with a token) */
    AUTH_MAIL_RESET,            /* reset your password (link with a token) */
    AUTH_MAIL_WELCOME,          /* after the address was confirmed, or a first Google sign-in */
    AUTH_MAIL_PASSWORD_CHANGED, /* a security notice after a change or reset */
} auth_mail_kind_t;

const char *auth_mail_kind_name(auth_mail_kind_t kind);

/* Writes the subject and the plain-text body (malloc'd, LF line ends) of a message to
 * `name`. token (may be NULL for kinds without one) goes into a link under app_url and
 * is also shown on its own; valid_s says how long it works. 0, or -1 out of memory. */
int auth_mail_compose(auth_mail_kind_t kind, const char *name, const char *token, const char *app_url, unsigned valid_s,
                      char **subject, char **text);

/* The whole message as sent over SMTP: headers (Date, From, To, Subject, Message-ID,
 * MIME-Version, Content-Type, Content-Transfer-Encoding, Auto-Submitted), CRLF line ends,
 * a quoted-printable body. message_id is unique per message (not per attempt), so a
 * receiver can drop a duplicate. malloc'd, or NULL. */
char *auth_mail_render(const char *from, const char *to, const char *subject, const char *text, const char *message_id,
                       int64_t date_ms);

/* Quoted-printable (RFC 2045) of text with LF or CRLF line ends, lines of at most 76
 * characters, CRLF line ends. malloc'd, or NULL. */
char *auth_qp_encode(const char *text);

#endif
