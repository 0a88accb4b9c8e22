/*
 * Implementation of password.h on libargon2 (Debian's 20190702).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <argon2.h>
#include "mc_util.h"
#include "password.h"

#define SALT_BYTES 16
#define HASH_BYTES 32
#define MAX_M_KIB (4u * 1024 * 1024)
#define MAX_T 64
#define MAX_P 16

/* Reads "<name>=<decimal>" at *p and advances past it. */
static bool read_param(const char **p, char name, uint32_t max, uint32_t *out)
{
    const char *s = *p;
    if (s[0] != name || s[1] != '=' || s[2] < '0' || s[2] > '9')
        return false;
    s += 2;
    uint64_t v = 0;
    while (*s >= '0' && *s <= '9') {
        v = v * 10 + (uint64_t)(*s - '0');
        if (v > max)
            return false;
        ++s;
    }
    *out = (uint32_t)v;
    *p = s;
    return true;
}

/* Parses the prefix "$argon2id$v=19$m=..,t=..,p=..$" and returns a pointer to the salt. */
static const char *parse_prefix(const char *phc, auth_argon2_t *out)
{
    static const char head[] = "$argon2id$v=19$";
    if (phc == NULL || strncmp(phc, head, sizeof(head) - 1) != 0)
        return NULL;
    const char *p = phc + sizeof(head) - 1;
    uint32_t m, t, par;
    if (!read_param(&p, 'm', MAX_M_KIB, &m) || *p++ != ',' || !read_param(&p, 't', MAX_T, &t) || *p++ != ',' ||
        !read_param(&p, 'p', MAX_P, &par) || *p++ != '$')
        return NULL;
    if (m < 8 * par || t < 1 || par < 1)
        return NULL;
    *out = (auth_argon2_t){m, t, par};
    return p;
}

bool auth_phc_params(const char *phc, auth_argon2_t *out)
{
    auth_argon2_t tmp;
    const char *salt = parse_prefix(phc, &tmp);
    if (salt == NULL || strlen(phc) >= AUTH_PHC_MAX)
        return false;
    /* salt$hash, both unpadded standard base64 */
    const char *dollar = strchr(salt, '$');
    if (dollar == NULL || dollar == salt || dollar[1] == '\0' || strchr(dollar + 1, '$') != NULL)
        return false;
    for (const char *c = salt; *c; ++c)
        if (c != dollar && !((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') ||
                             *c == '+' || *c == '/'))
            return false;
    *out = tmp;
    return true;
}

int auth_password_hash(const auth_argon2_t *params, const char *password, size_t len, char *out)
{
    unsigned char salt[SALT_BYTES];
    mc_random_bytes(salt, sizeof(salt));
    size_t need = argon2_encodedlen(params->t, params->m_kib, params->p, SALT_BYTES, HASH_BYTES, Argon2_id);
    if (need > AUTH_PHC_MAX)
        return -1;
    int rc = argon2id_hash_encoded(params->t, params->m_kib, params->p, password, len, salt, sizeof(salt), HASH_BYTES,
                                   out, AUTH_PHC_MAX);
    return rc == ARGON2_OK ? 0 : -1;
}

int auth_password_verify(const char *phc, const char *password, size_t len)
{
    auth_argon2_t params;
    if (!auth_phc_params(phc, &params))
        return -1;
    int rc = argon2id_verify(phc, password, len);
    if (rc == ARGON2_OK)
        return 1;
    if (rc == ARGON2_VERIFY_MISMATCH)
        return 0;
    return -1;
}

bool auth_password_needs_rehash(const char *phc, const auth_argon2_t *params)
{
    auth_argon2_t have;
    if (!auth_phc_params(phc, &have))
        return true;
    return have.m_kib != params->m_kib || have.t != params->t || have.p != params->p;
}
