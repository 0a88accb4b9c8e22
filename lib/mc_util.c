/*
 * Implementation of mc_util.h. Nothing here allocates except mc_buf.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include "mc_util.h"

int64_t mc_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t mc_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

char *mc_time_format(int64_t ms, char *buf)
{
    time_t secs = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
    int millis = (int)(ms - (int64_t)secs * 1000);
    struct tm tm;
    gmtime_r(&secs, &tm);
    /* The moduli only tell the compiler the widths; the values are already in range. */
    snprintf(buf, MC_TIME_BUFSZ, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
             (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
             (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)millis % 1000u);
    return buf;
}

static int parse_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; ++i) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return -1;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

int mc_time_parse(const char *s, int64_t *ms)
{
    int Y, M, D, h, m, sec, frac_ms = 0, off = 0;
    const char *p = s;
    if (parse_digits(&p, 4, &Y) || *p++ != '-' || parse_digits(&p, 2, &M) || *p++ != '-' || parse_digits(&p, 2, &D))
        return -1;
    if (*p != 'T' && *p != 't' && *p != ' ')
        return -1;
    ++p;
    if (parse_digits(&p, 2, &h) || *p++ != ':' || parse_digits(&p, 2, &m) || *p++ != ':' || parse_digits(&p, 2, &sec))
        return -1;
    if (*p == '.') {
        ++p;
        int digits = 0;
        while (*p >= '0' && *p <= '9') {
            if (digits < 3)
                frac_ms = frac_ms * 10 + (*p - '0');
            ++digits;
            ++p;
        }
        if (digits == 0)
            return -1;
        for (; digits < 3; ++digits)
            frac_ms *= 10;
    }
    if (*p == 'Z' || *p == 'z') {
        ++p;
    } else if (*p == '+' || *p == '-') {
        int sign = *p++ == '-' ? -1 : 1, oh, om;
        if (parse_digits(&p, 2, &oh) || *p++ != ':' || parse_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        off = sign * (oh * 60 + om);
    } else {
        return -1;
    }
    if (*p != '\0' || M < 1 || M > 12 || D < 1 || h > 23 || m > 59 || sec > 60)
        return -1;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (Y % 4 == 0 && Y % 100 != 0) || Y % 400 == 0;
    if (D > mdays[M - 1] || (M == 2 && D == 29 && !leap))
        return -1;
    /* days from civil (Howard Hinnant's algorithm) */
    int y = Y - (M <= 2);
    int era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (unsigned)((153 * (M + (M > 2 ? -3 : 9)) + 2) / 5 + D - 1);
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = (int64_t)era * 146097 + (int64_t)doe - 719468;
    if (sec == 60)
        sec = 59; /* leap second: clamp */
    *ms = ((days * 86400 + h * 3600 + m * 60 + sec) - (int64_t)off * 60) * 1000 + frac_ms;
    return 0;
}

void mc_random_bytes(void *buf, size_t len)
{
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t r = getrandom(p, len, 0);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "fatal: getrandom failed: %s\n", strerror(errno));
            abort();
        }
        p += r;
        len -= (size_t)r;
    }
}

void mc_hex_encode(const void *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;
    for (size_t i = 0; i < len; ++i) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * len] = '\0';
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int mc_hex_decode(const char *in, size_t inlen, void *out, size_t outlen)
{
    unsigned char *o = out;
    if (inlen != 2 * outlen)
        return -1;
    for (size_t i = 0; i < outlen; ++i) {
        int hi = hexval(in[2 * i]), lo = hexval(in[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return -1;
        o[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

size_t mc_base64url_encode(const void *in, size_t len, char *out)
{
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    const unsigned char *p = in;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = tbl[(v >> 6) & 63];
        out[o++] = tbl[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0);
        out[o++] = tbl[v >> 18];
        out[o++] = tbl[(v >> 12) & 63];
        if (i + 1 < len)
            out[o++] = tbl[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

long mc_base64url_decode(const char *in, size_t len, unsigned char *out, size_t outcap)
{
    if (len % 4 == 1)
        return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < len; ++i) {
        char c = in[i];
        int v;
        if (c >= 'A' && c <= 'Z')
            v = c - 'A';
        else if (c >= 'a' && c <= 'z')
            v = c - 'a' + 26;
        else if (c >= '0' && c <= '9')
            v = c - '0' + 52;
        else if (c == '-')
            v = 62;
        else if (c == '_')
            v = 63;
        else
            return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (o >= outcap)
                return -1;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)o;
}

bool mc_is_object_id(const char *s, size_t len)
{
    if (s == NULL || len != 24)
        return false;
    for (size_t i = 0; i < 24; ++i)
        if (hexval(s[i]) < 0)
            return false;
    return true;
}

bool mc_ct_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    if (alen != blen)
        return false;
    const volatile unsigned char *x = a, *y = b;
    unsigned char acc = 0;
    for (size_t i = 0; i < alen; ++i)
        acc |= x[i] ^ y[i];
    return acc == 0;
}

long mc_url_decode(const char *in, size_t inlen, char *out, bool form)
{
    size_t o = 0;
    for (size_t i = 0; i < inlen; ++i) {
        char c = in[i];
        if (c == '%') {
            if (i + 2 >= inlen)
                return -1;
            int hi = hexval(in[i + 1]), lo = hexval(in[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            c = (char)(hi << 4 | lo);
            if (c == '\0')
                return -1;
            i += 2;
        } else if (c == '+' && form) {
            c = ' ';
        } else if (c == '\0') {
            return -1;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return (long)o;
}

/* Folds the UTF-8 encodings of common Latin-1 accented letters to ASCII. Returns the
 * ASCII letter and sets *adv to the bytes consumed, or 0 when not foldable. */
static char fold_latin1(const unsigned char *p, size_t left, size_t *adv)
{
    static const char map[64] = "AAAAAAACEEEEIIIIDNOOOOOxOUUUUYTsaaaaaaaceeeeiiiidnooooo/ouuuuyty";
    if (left >= 2 && p[0] == 0xC3 && p[1] >= 0x80 && p[1] <= 0xBF) {
        char c = map[p[1] - 0x80];
        *adv = 2;
        return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ? c : 0;
    }
    return 0;
}

size_t mc_slugify(const char *in, size_t inlen, char *out, size_t outsz)
{
    size_t o = 0;
    bool pending_dash = false;
    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < inlen;) {
        unsigned char c = (unsigned char)in[i];
        char a = 0;
        size_t adv = 1;
        if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))
            a = (char)c;
        else if (c >= 'A' && c <= 'Z')
            a = (char)(c - 'A' + 'a');
        else if (c >= 0x80 && (a = fold_latin1((const unsigned char *)in + i, inlen - i, &adv)) != 0)
            a = (a >= 'A' && a <= 'Z') ? (char)(a - 'A' + 'a') : a;
        else if (c >= 0x80) /* skip the rest of a multi-byte sequence */
            for (adv = 1; i + adv < inlen && ((unsigned char)in[i + adv] & 0xC0) == 0x80; ++adv)
                ;
        i += adv;
        if (a == 0) {
            pending_dash = o > 0;
            continue;
        }
        if (pending_dash) {
            if (o + 2 >= outsz)
                break;
            out[o++] = '-';
            pending_dash = false;
        }
        if (o + 1 >= outsz)
            break;
        out[o++] = a;
    }
    while (o > 0 && out[o - 1] == '-')
        --o;
    out[o] = '\0';
    return o;
}

void mc_buf_init(mc_buf_t *b, size_t max)
{
    b->data = NULL;
    b->len = b->cap = 0;
    b->max = max;
}

int mc_buf_append(mc_buf_t *b, const void *p, size_t n)
{
    if (n > b->max || b->len > b->max - n)
        return -1;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        if (cap > b->max + 1)
            cap = b->max + 1;
        char *d = realloc(b->data, cap);
        if (d == NULL)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int mc_buf_appendf(mc_buf_t *b, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0)
        return -1;
    if ((size_t)n < sizeof(small))
        return mc_buf_append(b, small, (size_t)n);
    char *big = malloc((size_t)n + 1);
    if (big == NULL)
        return -1;
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    int r = mc_buf_append(b, big, (size_t)n);
    free(big);
    return r;
}

void mc_buf_free(mc_buf_t *b)
{
    free(b->data);
    mc_buf_init(b, b->max);
}
