/*
 * Opaque tokens: refresh tokens, email-verification and password-reset tokens.
 *
 * A token is 256 random bits in base64url (AUTH_TOKEN_CHARS characters). The database
 * only ever holds its SHA-256 (hex): someone who reads the database — a backup, a log of
 * queries — learns nothing they could present. A slow hash is not needed: 256 random bits
 * cannot be guessed, only stolen, and a hash cannot be turned back into the token.
 */
#ifndef AUTH_TOKENS_H
#define AUTH_TOKENS_H

#include <stddef.h>
#include "rules.h"

#define AUTH_TOKEN_HASH_HEX 65

/* A fresh token into out (AUTH_TOKEN_CHARS + 1 bytes). */
void auth_token_new(char *out);
/* SHA-256 of the token's characters, lower-case hex, into out (65 bytes). */
void auth_token_hash(const char *token, size_t len, char *out);
/* A fresh random identifier of 16 bytes in hex (33 bytes): session (family) ids, lock
 * owners. */
void auth_random_id(char *out);

#endif
