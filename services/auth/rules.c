/*
 * Implementation of rules.h.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include "rules.h"

static bool is_alnum(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

bool auth_email_valid(const char *s, size_t len)
{
    if (s == NULL || len < 3 || len > AUTH_EMAIL_MAX)
        return false;
    const char *at = memchr(s, '@', len);
    if (at == NULL)
        return false;
    size_t local = (size_t)(at - s);
    if (local < 1 || local > 64)
        return false;
    static const char specials[] = "!#$%&'*+/=?^_`{|}~.-";
    for (size_t i = 0; i < local; ++i)
        if (!is_alnum(s[i]) && (s[i] == '\0' || strchr(specials, s[i]) == NULL))
            return false;
    const char *d = at + 1, *end = s + len;
    size_t labels = 0;
    while (d < end) {
        const char *dot = memchr(d, '.', (size_t)(end - d));
        const char *le = dot != NULL ? dot : end;
        size_t n = (size_t)(le - d);
        if (n < 1 || n > 63 || !is_alnum(d[0]) || !is_alnum(le[-1]))
            return false;
        for (const char *p = d; p < le; ++p)
            if (!is_alnum(*p) && *p != '-')
                return false;
        ++labels;
        if (dot == NULL)
            break;
        d = dot + 1;
        if (d == end)
            return false; /* trailing dot */
    }
    return labels >= 2;
}

void auth_email_lower(const char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; ++i)
        out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] - 'A' + 'a') : s[i];
    out[len] = '\0';
}

bool auth_phone_valid(const char *s, size_t len)
{
    if (s == NULL || len < 8 || len > 16 || s[0] != '+' || s[1] < '1' || s[1] > '9')
        return false;
    for (size_t i = 2; i < len; ++i)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

bool auth_token_wellformed(const char *s, size_t len)
{
    if (s == NULL || len != AUTH_TOKEN_CHARS)
        return false;
    for (size_t i = 0; i < len; ++i)
        if (!is_alnum(s[i]) && s[i] != '-' && s[i] != '_')
            return false;
    return true;
}

bool auth_country_valid(const char *s, size_t len)
{
    return s != NULL && len == 2 && s[0] >= 'A' && s[0] <= 'Z' && s[1] >= 'A' && s[1] <= 'Z';
}

bool auth_postal_valid(const char *s, size_t len)
{
    if (s == NULL || len < 1 || len > 20 || !is_alnum(s[0]) || !is_alnum(s[len - 1]))
        return false;
    for (size_t i = 0; i < len; ++i)
        if (!is_alnum(s[i]) && s[i] != ' ' && s[i] != '-')
            return false;
    return true;
}

bool auth_ip_key(const char *ip, char *out, size_t outlen)
{
    unsigned char a[16];
    if (ip == NULL || outlen < INET6_ADDRSTRLEN + 4)
        return false;
    if (inet_pton(AF_INET, ip, a) == 1) {
        inet_ntop(AF_INET, a, out, (socklen_t)outlen);
        return true;
    }
    if (inet_pton(AF_INET6, ip, a) == 1) {
        /* An IPv4-mapped address is the IPv4 client it stands for. */
        static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, mapped, 12) == 0) {
            inet_ntop(AF_INET, a + 12, out, (socklen_t)outlen);
            return true;
        }
        memset(a + 8, 0, 8);
        inet_ntop(AF_INET6, a, out, (socklen_t)outlen);
        strcat(out, "/64");
        return true;
    }
    return false;
}
