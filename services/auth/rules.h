/*
 * The input rules of the auth service that mc_valid does not know: email addresses,
 * phone numbers, opaque tokens, country codes. Pure functions, unit-tested, and stated
 * word for word as patterns in openapi.json so that clients (and schemathesis) know
 * exactly what is accepted.
 */
#ifndef AUTH_RULES_H
#define AUTH_RULES_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_EMAIL_MAX 254
#define AUTH_NAME_MAX 100
#define AUTH_PASSWORD_MIN 8
/* Argon2's cost does not depend on the length, but the copies and the JSON do: a long
 * "password" is an abuse, not a passphrase. */
#define AUTH_PASSWORD_MAX 128
/* 256 random bits in base64url without padding. */
#define AUTH_TOKEN_CHARS 43

/* An email address of the form local@domain: local part 1..64 characters of
 * A-Z a-z 0-9 and !#$%&'*+/=?^_`{|}~.- ; domain of dot-separated labels (letters, digits,
 * inner hyphens, 1..63 characters each), at least two labels; at most 254 characters in
 * all. ASCII only (internationalised addresses are not accepted). */
bool auth_email_valid(const char *s, size_t len);
/* Lower-cases ASCII letters into out (len+1 bytes): the key under which an email is
 * unique and compared. */
void auth_email_lower(const char *s, size_t len, char *out);

/* E.164: '+', a non-zero digit, then 6 to 14 digits. */
bool auth_phone_valid(const char *s, size_t len);

/* An opaque token as the service issues them: exactly AUTH_TOKEN_CHARS characters of the
 * base64url alphabet. */
bool auth_token_wellformed(const char *s, size_t len);

/* ISO 3166-1 alpha-2 shape: two upper-case letters. */
bool auth_country_valid(const char *s, size_t len);

/* A postal code: 1 to 20 characters of letters, digits, spaces and hyphens, beginning and
 * ending with a letter or digit. */
bool auth_postal_valid(const char *s, size_t len);

/* The key under which a client address is rate-limited: an IPv4 address as it is, an
 * IPv6 address reduced to its /64 (one subscriber usually holds a whole /64). Writes at
 * most outlen bytes; returns false when ip is not an address. */
bool auth_ip_key(const char *ip, char *out, size_t outlen);

#endif
