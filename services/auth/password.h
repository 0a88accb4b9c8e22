/*
 * Password hashing with Argon2id (libargon2), stored as PHC strings:
 *   $argon2id$v=19$m=19456,t=2,p=1$<salt, base64>$<hash, base64>
 * The parameters travel with each hash, so raising them in the configuration only
 * affects new hashes; an older hash is recognised (auth_password_needs_rehash) and
 * replaced at the owner's next successful login.
 *
 * Every function here that hashes is CPU- and memory-heavy (tens of milliseconds, m KiB
 * of memory): call it on the thread pool (hashgate.h), never on an event loop.
 */
#ifndef AUTH_PASSWORD_H
#define AUTH_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Large enough for any PHC string this module writes or accepts. */
#define AUTH_PHC_MAX 256

typedef struct auth_argon2 {
    uint32_t m_kib, t, p;
} auth_argon2_t;

/* Hashes password with a fresh 16-byte salt into out (AUTH_PHC_MAX bytes). Returns 0, or
 * -1 (out of memory, bad parameters). */
int auth_password_hash(const auth_argon2_t *params, const char *password, size_t len, char *out);

/* 1 when password matches phc, 0 when it does not, -1 when phc is not an Argon2id PHC
 * string this module accepts (parameters beyond the sane maximum are refused before any
 * work, so a corrupted record cannot make us allocate gigabytes). The comparison is
 * constant-time. */
int auth_password_verify(const char *phc, const char *password, size_t len);

/* Reads the parameters of an Argon2id PHC string; false when malformed or beyond the
 * maximum (m 4 GiB, t 64, p 16). */
bool auth_phc_params(const char *phc, auth_argon2_t *out);

/* True when phc was made with other parameters (or another algorithm or version) than
 * params, i.e. it should be replaced by a fresh hash at the next successful login. */
bool auth_password_needs_rehash(const char *phc, const auth_argon2_t *params);

#endif
