/*
 * Internal helpers (see gql_util.h): maps, UTF-8, and graphql-js-compatible text
 * formats. Everything here is pure computation with bounded loops.
 */
#include "gql_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- string map ------------------------------------------------------------ */

static uint32_t pow2_at_least(uint32_t n)
{
    uint32_t c = 8;
    while (c < n && c < (1u << 30))
        c <<= 1;
    return c;
}

void gql__strmap_init(gql_strmap *m, gql_arena *a, uint32_t expected)
{
    m->arena = a;
    m->count = 0;
    m->cap = 0;
    m->slots = NULL;
    if (expected) {
        uint32_t cap = pow2_at_least(expected * 2);
        m->slots = gql_arena_calloc(a, cap, sizeof(gql_strmap_entry));
        if (m->slots)
            m->cap = cap;
    }
}

void *gql__strmap_get(const gql_strmap *m, const char *key, size_t len)
{
    if (!m->cap)
        return NULL;
    uint32_t h = gql__hash(key, len);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        const gql_strmap_entry *e = &m->slots[i];
        if (!e->key)
            return NULL;
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e->value;
    }
}

static int strmap_grow(gql_strmap *m)
{
    uint32_t cap = m->cap ? m->cap * 2 : 8;
    gql_strmap_entry *slots = gql_arena_calloc(m->arena, cap, sizeof(gql_strmap_entry));
    if (!slots)
        return -1;
    for (uint32_t i = 0; i < m->cap; i++) {
        gql_strmap_entry *e = &m->slots[i];
        if (!e->key)
            continue;
        uint32_t j = e->hash & (cap - 1);
        while (slots[j].key)
            j = (j + 1) & (cap - 1);
        slots[j] = *e;
    }
    m->slots = slots;
    m->cap = cap;
    return 0;
}

void *gql__strmap_put_new(gql_strmap *m, const char *key, size_t len, void *value, int *failed)
{
    if ((m->count + 1) * 4 > m->cap * 3 && strmap_grow(m)) {
        *failed = 1;
        return NULL;
    }
    uint32_t h = gql__hash(key, len);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        gql_strmap_entry *e = &m->slots[i];
        if (!e->key) {
            /* an empty key still needs a non-NULL pointer to mark the slot used */
            e->key = key ? key : "";
            e->len = (uint32_t)len;
            e->hash = h;
            e->value = value;
            m->count++;
            return NULL;
        }
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0)
            return e->value;
    }
}

int gql__strmap_put(gql_strmap *m, const char *key, size_t len, void *value)
{
    if ((m->count + 1) * 4 > m->cap * 3 && strmap_grow(m))
        return -1;
    uint32_t h = gql__hash(key, len);
    uint32_t mask = m->cap - 1;
    for (uint32_t i = h & mask;; i = (i + 1) & mask) {
        gql_strmap_entry *e = &m->slots[i];
        if (!e->key) {
            e->key = key ? key : "";
            e->len = (uint32_t)len;
            e->hash = h;
            e->value = value;
            m->count++;
            return 0;
        }
        if (e->hash == h && e->len == len && memcmp(e->key, key, len) == 0) {
            e->value = value;
            return 0;
        }
    }
}

/* ---- pointer-pair map ------------------------------------------------------ */

static inline uint32_t ptr_hash(const void *a, const void *b)
{
    uint64_t x = (uint64_t)(uintptr_t)a * 0x9E3779B97F4A7C15ull;
    x ^= (uint64_t)(uintptr_t)b * 0xC2B2AE3D27D4EB4Full;
    x ^= x >> 29;
    return (uint32_t)(x ^ (x >> 32));
}

void gql__ptrmap_init(gql_ptrmap *m, gql_arena *a)
{
    memset(m, 0, sizeof(*m));
    m->arena = a;
}

bool gql__ptrmap_get(const gql_ptrmap *m, const void *k1, const void *k2, uintptr_t *value)
{
    if (!m->cap)
        return false;
    uint32_t mask = m->cap - 1;
    for (uint32_t i = ptr_hash(k1, k2) & mask;; i = (i + 1) & mask) {
        const gql_ptrmap_entry *e = &m->slots[i];
        if (!e->k1 && !e->k2)
            return false;
        if (e->k1 == k1 && e->k2 == k2) {
            *value = e->value;
            return true;
        }
    }
}

int gql__ptrmap_put(gql_ptrmap *m, const void *k1, const void *k2, uintptr_t value)
{
    if ((m->count + 1) * 4 > m->cap * 3) {
        uint32_t cap = m->cap ? m->cap * 2 : 16;
        gql_ptrmap_entry *slots = gql_arena_calloc(m->arena, cap, sizeof(gql_ptrmap_entry));
        if (!slots)
            return -1;
        for (uint32_t i = 0; i < m->cap; i++) {
            gql_ptrmap_entry *e = &m->slots[i];
            if (!e->k1 && !e->k2)
                continue;
            uint32_t j = ptr_hash(e->k1, e->k2) & (cap - 1);
            while (slots[j].k1 || slots[j].k2)
                j = (j + 1) & (cap - 1);
            slots[j] = *e;
        }
        m->slots = slots;
        m->cap = cap;
    }
    uint32_t mask = m->cap - 1;
    for (uint32_t i = ptr_hash(k1, k2) & mask;; i = (i + 1) & mask) {
        gql_ptrmap_entry *e = &m->slots[i];
        if (!e->k1 && !e->k2) {
            e->k1 = k1;
            e->k2 = k2;
            e->value = value;
            m->count++;
            return 0;
        }
        if (e->k1 == k1 && e->k2 == k2) {
            e->value = value;
            return 0;
        }
    }
}

/* ---- UTF-8 ----------------------------------------------------------------- */

int gql__utf8_decode(const unsigned char *p, const unsigned char *end, uint32_t *cp)
{
    unsigned c = p[0];
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    int need;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0)
            lo = 0xA0;
        if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0)
            lo = 0x90;
        if (c == 0xF4)
            hi = 0x8F;
    } else {
        *cp = 0xFFFD;
        return 1;
    }
    int i = 1;
    for (; i <= need; i++) {
        if (p + i >= end) {
            *cp = 0xFFFD;
            return i;
        }
        unsigned b = p[i];
        if (b < lo || b > hi) {
            *cp = 0xFFFD;
            return i;
        }
        lo = 0x80;
        hi = 0xBF;
        v = (v << 6) | (b & 0x3F);
    }
    *cp = v;
    return i;
}

int gql__buf_utf8(gql_buf *b, uint32_t cp)
{
    char t[4];
    int n;
    if (cp < 0x80) {
        t[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        t[0] = (char)(0xC0 | (cp >> 6));
        t[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        t[0] = (char)(0xE0 | (cp >> 12));
        t[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        t[0] = (char)(0xF0 | (cp >> 18));
        t[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        t[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        t[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    return gql_buf_append(b, t, (size_t)n);
}

uint32_t gql__utf16_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    uint32_t units = 0;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            units++;
            continue;
        }
        uint32_t cp;
        p += gql__utf8_decode(p, end, &cp);
        units += cp >= 0x10000 ? 2 : 1;
    }
    return units;
}

bool gql__utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        uint32_t cp;
        int k = gql__utf8_decode(p, end, &cp);
        if (cp == 0xFFFD && !(k == 3 && p[0] == 0xEF && p[1] == 0xBF && p[2] == 0xBD))
            return false;
        p += k;
    }
    return true;
}

/* ---- numbers ----------------------------------------------------------------- */

bool gql__is_integer(double d)
{
    return isfinite(d) && floor(d) == d;
}

static const char digit_pairs[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                     "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                     "8081828384858687888990919293949596979899";

/* Decimal digits of u (1..20). */
static inline int count_digits(uint64_t u)
{
    int n = 1;
    for (;;) {
        if (u < 10)
            return n;
        if (u < 100)
            return n + 1;
        if (u < 1000)
            return n + 2;
        if (u < 10000)
            return n + 3;
        u /= 10000;
        n += 4;
    }
}

/* Writes the digits of u at `out` (no NUL); returns their number. */
static inline int fmt_u64(char *out, uint64_t u)
{
    int n = count_digits(u);
    char *p = out + n;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        p -= 2;
        memcpy(p, digit_pairs + r * 2, 2);
    }
    if (u >= 10)
        memcpy(p - 2, digit_pairs + u * 2, 2);
    else
        p[-1] = (char)('0' + u);
    return n;
}

int gql__fmt_i64(char *out, int64_t v)
{
    int k = 0;
    uint64_t u = (uint64_t)v;
    if (v < 0) {
        out[k++] = '-';
        u = (uint64_t)0 - u;
    }
    k += fmt_u64(out + k, u);
    out[k] = 0;
    return k;
}

/* ECMAScript Number::toString formatting of the decimal digits[0..k) with the
 * decimal point after position n (value = 0.digits × 10^n). */
static int js_format(char *out, int neg, const char *digits, int k, int n)
{
    char *o = out;
    if (neg)
        *o++ = '-';
    if (k <= n && n <= 21) {
        memcpy(o, digits, (size_t)k);
        o += k;
        for (int i = 0; i < n - k; i++)
            *o++ = '0';
    } else if (0 < n && n <= 21) {
        memcpy(o, digits, (size_t)n);
        o += n;
        *o++ = '.';
        memcpy(o, digits + n, (size_t)(k - n));
        o += k - n;
    } else if (-6 < n && n <= 0) {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -n; i++)
            *o++ = '0';
        memcpy(o, digits, (size_t)k);
        o += k;
    } else {
        *o++ = digits[0];
        if (k > 1) {
            *o++ = '.';
            memcpy(o, digits + 1, (size_t)(k - 1));
            o += k - 1;
        }
        *o++ = 'e';
        *o++ = n - 1 < 0 ? '-' : '+';
        o += gql__fmt_i64(o, n - 1 < 0 ? -(n - 1) : n - 1);
    }
    *o = 0;
    return (int)(o - out);
}

static const double pow10_exact[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
                                     1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int gql__js_number(char *out, double d)
{
    if (d != d)
        return sprintf(out, "NaN");
    if (isinf(d))
        return sprintf(out, d < 0 ? "-Infinity" : "Infinity");
    if (d == 0)
        return sprintf(out, "0");
    int neg = d < 0;
    double a = neg ? -d : d;
    /* Fast path: the fewest fractional digits k (<= 17) for which the nearest
     * integer r to a*10^k gives back a exactly as r/10^k. Both the division and
     * a power of ten up to 1e22 are exact or correctly rounded, so a hit is the
     * shortest representation (any shorter one would have been hit at smaller k),
     * and the nearest r is the closest candidate, as ECMAScript requires. */
    if (a < 9007199254740992.0) {
        for (int k = 0; k <= 17; k++) {
            double m = a * pow10_exact[k];
            if (m >= 9007199254740992.0)
                break;
            /* nearest integer, ties to even (nearbyint without the libm call):
             * adding and removing 2^52 rounds in the default rounding mode; from
             * 2^52 on every double is an integer */
            double r = m < 4503599627370496.0 ? (m + 4503599627370496.0) - 4503599627370496.0 : m;
            if (r / pow10_exact[k] != a)
                continue;
            if (a >= 1.0) {
                /* the decimal form "int.frac": r / 10^k and r % 10^k, whose last digit
                 * is not zero (with one zero fewer, k - 1 would have matched) */
                uint64_t ri = (uint64_t)r, p = 1;
                for (int i = 0; i < k; i++)
                    p *= 10;
                char *o = out;
                if (neg)
                    *o++ = '-';
                o += fmt_u64(o, ri / p);
                if (k) {
                    uint64_t f = ri % p;
                    *o++ = '.';
                    int fd = count_digits(f);
                    for (int i = fd; i < k; i++)
                        *o++ = '0';
                    o += fmt_u64(o, f);
                }
                *o = 0;
                return (int)(o - out);
            }
            char digits[24];
            int len = gql__fmt_i64(digits, (int64_t)r);
            /* strip trailing zeros: value = digits × 10^(-k) */
            int z = 0;
            while (len - z > 1 && digits[len - 1 - z] == '0')
                z++;
            len -= z;
            int n = len + z - k; /* decimal point position for 0.digits form */
            return js_format(out, neg, digits, len, n);
        }
    }
    /* General case: shortest digit string that round-trips; %.*e rounds correctly,
     * so the first precision that round-trips is also the closest such string. */
    char tmp[40];
    int prec;
    for (prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    if (prec == 17)
        snprintf(tmp, sizeof tmp, "%.*e", 16, d);
    const char *p = tmp;
    if (*p == '-')
        p++;
    char digits[24];
    int k = 0;
    while (*p && *p != 'e') {
        if (*p >= '0' && *p <= '9')
            digits[k++] = *p;
        p++;
    }
    while (k > 1 && digits[k - 1] == '0')
        k--;
    int e = atoi(p + 1);
    return js_format(out, neg, digits, k, e + 1);
}

int gql__buf_json_number(gql_buf *b, const json_t *v)
{
    char t[40];
    int n;
    if (json_is_integer(v))
        n = gql__fmt_i64(t, (int64_t)json_integer_value(v));
    else
        n = gql__js_number(t, json_real_value(v));
    return gql_buf_append(b, t, (size_t)n);
}

double gql__parse_int_text(const char *s, size_t n)
{
    char t[64];
    if (n < sizeof t) {
        memcpy(t, s, n);
        t[n] = 0;
        return strtod(t, NULL);
    }
    char *h = malloc(n + 1);
    if (!h)
        return 0;
    memcpy(h, s, n);
    h[n] = 0;
    double d = strtod(h, NULL);
    free(h);
    return d;
}

double gql__parse_float_text(const char *s, size_t n)
{
    return gql__parse_int_text(s, n);
}

/* JavaScript's StrWhiteSpaceChar at p (returns its byte length, 0 if none). */
static int js_space_at(const unsigned char *p, const unsigned char *end)
{
    if (p >= end)
        return 0;
    if (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\v' || *p == '\f' || *p == '\r')
        return 1;
    if (*p < 0x80)
        return 0;
    uint32_t cp;
    int k = gql__utf8_decode(p, end, &cp);
    if (cp == 0xA0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
        cp == 0x205F || cp == 0x3000 || cp == 0xFEFF)
        return k;
    return 0;
}

bool gql__js_string_to_number(const char *s, size_t n, double *out)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    int k;
    while ((k = js_space_at(p, end)))
        p += k;
    while (end > p) {
        /* trim from the end: find the start of the last code point */
        const unsigned char *q = end - 1;
        while (q > p && (*q & 0xC0) == 0x80)
            q--;
        if (js_space_at(q, end) == end - q)
            end = q;
        else
            break;
    }
    size_t len = (size_t)(end - p);
    if (len == 0) {
        *out = 0;
        return true;
    }
    const char *t = (const char *)p;
    if (len >= 2 && t[0] == '0' && (t[1] == 'x' || t[1] == 'X' || t[1] == 'o' || t[1] == 'O' || t[1] == 'b' || t[1] == 'B')) {
        int base = (t[1] == 'x' || t[1] == 'X') ? 16 : (t[1] == 'o' || t[1] == 'O') ? 8 : 2;
        if (len == 2)
            return false;
        double v = 0;
        for (size_t i = 2; i < len; i++) {
            int d;
            char c = t[i];
            if (c >= '0' && c <= '9')
                d = c - '0';
            else if (c >= 'a' && c <= 'f')
                d = c - 'a' + 10;
            else if (c >= 'A' && c <= 'F')
                d = c - 'A' + 10;
            else
                return false;
            if (d >= base)
                return false;
            v = v * base + d;
        }
        *out = v;
        return true;
    }
    size_t i = 0;
    int neg = 0;
    if (t[0] == '+' || t[0] == '-') {
        neg = t[0] == '-';
        i = 1;
    }
    if (len - i == 8 && memcmp(t + i, "Infinity", 8) == 0) {
        *out = neg ? -INFINITY : INFINITY;
        return true;
    }
    /* StrUnsignedDecimalLiteral */
    size_t digits = 0;
    size_t j = i;
    while (j < len && t[j] >= '0' && t[j] <= '9')
        j++, digits++;
    if (j < len && t[j] == '.') {
        j++;
        while (j < len && t[j] >= '0' && t[j] <= '9')
            j++, digits++;
    }
    if (digits == 0)
        return false;
    if (j < len && (t[j] == 'e' || t[j] == 'E')) {
        j++;
        if (j < len && (t[j] == '+' || t[j] == '-'))
            j++;
        size_t ed = 0;
        while (j < len && t[j] >= '0' && t[j] <= '9')
            j++, ed++;
        if (ed == 0)
            return false;
    }
    if (j != len)
        return false;
    *out = gql__parse_float_text(t, len);
    return true;
}

/* ---- JSON and GraphQL string escaping --------------------------------------- */

static const char hex_lower[] = "0123456789abcdef";
static const char hex_upper[] = "0123456789ABCDEF";

/* bytes JSON.stringify escapes: control characters, quote and backslash */
static const uint8_t json_escape[256] = {
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
};

int gql__buf_json_string(gql_buf *b, const char *s, size_t n)
{
    if (gql_buf_reserve(b, n + 2))
        return -1;
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n && !json_escape[u[i]])
        i++;
    if (i == n) { /* nothing to escape: one copy */
        char *d = b->data + b->len;
        d[0] = '"';
        memcpy(d + 1, s, n);
        d[n + 1] = '"';
        b->len += n + 2;
        return 0;
    }
    b->data[b->len++] = '"';
    size_t start = 0;
    for (; i < n; i++) {
        unsigned char c = u[i];
        if (!json_escape[c])
            continue;
        if (i > start && gql_buf_append(b, s + start, i - start))
            return -1;
        char esc[6];
        size_t el = 2;
        esc[0] = '\\';
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\b': esc[1] = 'b'; break;
        case '\f': esc[1] = 'f'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u';
            esc[2] = '0';
            esc[3] = '0';
            esc[4] = hex_lower[c >> 4];
            esc[5] = hex_lower[c & 15];
            el = 6;
        }
        if (gql_buf_append(b, esc, el))
            return -1;
        start = i + 1;
    }
    if (n > start && gql_buf_append(b, s + start, n - start))
        return -1;
    return gql_buf_putc(b, '"');
}

int gql__buf_json_value(gql_buf *b, const json_t *v, int depth_left)
{
    if (!v)
        return gql_buf_append(b, "null", 4);
    switch (json_typeof(v)) {
    case JSON_NULL:
        return gql_buf_append(b, "null", 4);
    case JSON_TRUE:
        return gql_buf_append(b, "true", 4);
    case JSON_FALSE:
        return gql_buf_append(b, "false", 5);
    case JSON_INTEGER:
        return gql__buf_json_number(b, v);
    case JSON_REAL: {
        double d = json_real_value(v);
        if (!isfinite(d)) /* JSON.stringify(Infinity) */
            return gql_buf_append(b, "null", 4);
        return gql__buf_json_number(b, v);
    }
    case JSON_STRING:
        return gql__buf_json_string(b, json_string_value(v), json_string_length(v));
    case JSON_ARRAY: {
        if (depth_left <= 0)
            return gql_buf_append(b, "null", 4);
        gql_buf_putc(b, '[');
        size_t n = json_array_size(v);
        for (size_t i = 0; i < n; i++) {
            if (i)
                gql_buf_putc(b, ',');
            gql__buf_json_value(b, json_array_get(v, i), depth_left - 1);
        }
        return gql_buf_putc(b, ']');
    }
    case JSON_OBJECT: {
        if (depth_left <= 0)
            return gql_buf_append(b, "null", 4);
        gql_buf_putc(b, '{');
        int first = 1;
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach((json_t *)v, key, klen, val)
        {
            if (!first)
                gql_buf_putc(b, ',');
            first = 0;
            gql__buf_json_string(b, key, klen);
            gql_buf_putc(b, ':');
            gql__buf_json_value(b, val, depth_left - 1);
        }
        return gql_buf_putc(b, '}');
    }
    }
    return 0;
}

int gql__buf_graphql_string(gql_buf *b, const char *s, size_t n)
{
    if (gql_buf_putc(b, '"'))
        return -1;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        int is_c1 = c == 0xC2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] <= 0x9F;
        if (c >= 0x20 && c != '"' && c != '\\' && c != 0x7F && !is_c1)
            continue;
        if (i > start)
            gql_buf_append(b, s + start, i - start);
        unsigned code = is_c1 ? (unsigned char)s[i + 1] : c;
        switch (code) {
        case '"': gql_buf_append(b, "\\\"", 2); break;
        case '\\': gql_buf_append(b, "\\\\", 2); break;
        case '\b': gql_buf_append(b, "\\b", 2); break;
        case '\t': gql_buf_append(b, "\\t", 2); break;
        case '\n': gql_buf_append(b, "\\n", 2); break;
        case '\f': gql_buf_append(b, "\\f", 2); break;
        case '\r': gql_buf_append(b, "\\r", 2); break;
        default: {
            char esc[6] = {'\\', 'u', '0', '0', hex_upper[code >> 4], hex_upper[code & 15]};
            gql_buf_append(b, esc, 6);
        }
        }
        if (is_c1)
            i++;
        start = i + 1;
    }
    if (n > start)
        gql_buf_append(b, s + start, n - start);
    return gql_buf_putc(b, '"');
}

/* ---- inspect ------------------------------------------------------------------ */

/* JavaScript orders an object's integer-like keys (canonical array indexes) first,
 * ascending, then the others in insertion order. */
static bool array_index_key(const char *k, size_t n, uint32_t *idx)
{
    if (n == 0 || n > 10)
        return false;
    if (n > 1 && k[0] == '0')
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (k[i] < '0' || k[i] > '9')
            return false;
        v = v * 10 + (uint64_t)(k[i] - '0');
    }
    if (v >= 4294967295ull)
        return false;
    *idx = (uint32_t)v;
    return true;
}

typedef struct inspect_key {
    const char *key;
    size_t len;
    json_t *val;
    uint32_t idx;
    int is_index;
    size_t order;
} inspect_key;

static int cmp_inspect_key(const void *a, const void *b)
{
    const inspect_key *x = a, *y = b;
    if (x->is_index != y->is_index)
        return x->is_index ? -1 : 1;
    if (x->is_index)
        return x->idx < y->idx ? -1 : x->idx > y->idx;
    return x->order < y->order ? -1 : x->order > y->order;
}

static void inspect_value(gql_buf *b, const json_t *v, int seen);

static void inspect_value(gql_buf *b, const json_t *v, int seen)
{
    switch (json_typeof(v)) {
    case JSON_STRING:
        gql__buf_json_string(b, json_string_value(v), json_string_length(v));
        return;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        if (n == 0) {
            gql_buf_puts(b, "[]");
            return;
        }
        if (seen + 1 > 2) {
            gql_buf_puts(b, "[Array]");
            return;
        }
        size_t shown = n < 10 ? n : 10;
        gql_buf_putc(b, '[');
        for (size_t i = 0; i < shown; i++) {
            if (i)
                gql_buf_puts(b, ", ");
            inspect_value(b, json_array_get(v, i), seen + 1);
        }
        if (n - shown == 1)
            gql_buf_puts(b, ", ... 1 more item");
        else if (n > shown)
            gql_buf_printf(b, ", ... %zu more items", n - shown);
        gql_buf_putc(b, ']');
        return;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        if (n == 0) {
            gql_buf_puts(b, "{}");
            return;
        }
        if (seen + 1 > 2) {
            gql_buf_puts(b, "[Object]");
            return;
        }
        inspect_key *keys = malloc(n * sizeof *keys);
        if (!keys)
            return;
        size_t i = 0;
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach((json_t *)v, key, klen, val)
        {
            keys[i].key = key;
            keys[i].len = klen;
            keys[i].val = val;
            keys[i].is_index = array_index_key(key, klen, &keys[i].idx);
            keys[i].order = i;
            i++;
        }
        qsort(keys, n, sizeof *keys, cmp_inspect_key);
        gql_buf_puts(b, "{ ");
        for (i = 0; i < n; i++) {
            if (i)
                gql_buf_puts(b, ", ");
            gql_buf_append(b, keys[i].key, keys[i].len);
            gql_buf_puts(b, ": ");
            inspect_value(b, keys[i].val, seen + 1);
        }
        gql_buf_puts(b, " }");
        free(keys);
        return;
    }
    case JSON_INTEGER:
    case JSON_REAL:
        gql__buf_json_number(b, v);
        return;
    case JSON_TRUE:
        gql_buf_puts(b, "true");
        return;
    case JSON_FALSE:
        gql_buf_puts(b, "false");
        return;
    case JSON_NULL:
        gql_buf_puts(b, "null");
        return;
    }
}

void gql__inspect_json(gql_buf *b, const json_t *v)
{
    if (!v) {
        gql_buf_puts(b, "undefined");
        return;
    }
    inspect_value(b, v, 0);
}

char *gql__inspect_json_str(gql_arena *a, const json_t *v)
{
    gql_buf b;
    gql_buf_init(&b, 1 << 20);
    gql__inspect_json(&b, v);
    char *s = gql_arena_strndup(a, b.data ? b.data : "", b.len);
    gql_buf_free(&b);
    return s;
}

/* ---- natural compare and suggestions ------------------------------------------ */

static inline bool is_digit(int c)
{
    return c >= '0' && c <= '9';
}

int gql__natural_compare(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t ai = 0, bi = 0;
    while (ai < alen && bi < blen) {
        int ac = (unsigned char)a[ai], bc = (unsigned char)b[bi];
        if (is_digit(ac) && is_digit(bc)) {
            /* graphql-js stops accumulating after a leading zero */
            double an = 0, bn = 0;
            do {
                ++ai;
                an = an * 10 + (ac - '0');
                ac = ai < alen ? (unsigned char)a[ai] : -1;
            } while (is_digit(ac) && an > 0);
            do {
                ++bi;
                bn = bn * 10 + (bc - '0');
                bc = bi < blen ? (unsigned char)b[bi] : -1;
            } while (is_digit(bc) && bn > 0);
            if (an < bn)
                return -1;
            if (an > bn)
                return 1;
        } else {
            if (ac < bc)
                return -1;
            if (ac > bc)
                return 1;
            ++ai;
            ++bi;
        }
    }
    return alen < blen ? -1 : alen > blen ? 1 : 0;
}

/* UTF-16 code units of `s`, lower-cased for ASCII (JavaScript's toLowerCase agrees
 * on ASCII; GraphQL names are ASCII). Returns the count, writes at most `max`. */
static uint32_t to_units_lower(const char *s, size_t n, uint16_t *out, uint32_t max)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    uint32_t k = 0;
    while (p < end && k < max) {
        uint32_t cp;
        if (*p < 0x80) {
            cp = *p++;
            if (cp >= 'A' && cp <= 'Z')
                cp += 32;
        } else {
            p += gql__utf8_decode(p, end, &cp);
        }
        if (cp >= 0x10000) {
            cp -= 0x10000;
            out[k++] = (uint16_t)(0xD800 + (cp >> 10));
            if (k < max)
                out[k++] = (uint16_t)(0xDC00 + (cp & 0x3FF));
        } else {
            out[k++] = (uint16_t)cp;
        }
    }
    return k;
}

#define SUGGEST_MAX_LEN 256

/* Damerau-Levenshtein (restricted) distance with graphql-js's early exits; returns
 * -1 when above the threshold. */
static int lexical_distance(const uint16_t *in, uint32_t inlen, const uint16_t *opt, uint32_t optlen, int threshold)
{
    const uint16_t *a = opt, *b = in;
    uint32_t alen = optlen, blen = inlen;
    if (alen < blen) {
        a = in;
        b = opt;
        alen = inlen;
        blen = optlen;
    }
    if ((int)(alen - blen) > threshold)
        return -1;
    static _Thread_local int rows[3][SUGGEST_MAX_LEN + 1];
    for (uint32_t j = 0; j <= blen; j++)
        rows[0][j] = (int)j;
    for (uint32_t i = 1; i <= alen; i++) {
        int *up = rows[(i - 1) % 3];
        int *cur = rows[i % 3];
        int smallest = cur[0] = (int)i;
        for (uint32_t j = 1; j <= blen; j++) {
            int cost = a[i - 1] == b[j - 1] ? 0 : 1;
            int cell = up[j] + 1;
            if (cur[j - 1] + 1 < cell)
                cell = cur[j - 1] + 1;
            if (up[j - 1] + cost < cell)
                cell = up[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
                int dd = rows[(i - 2) % 3][j - 2] + 1;
                if (dd < cell)
                    cell = dd;
            }
            if (cell < smallest)
                smallest = cell;
            cur[j] = cell;
        }
        if (smallest > threshold)
            return -1;
    }
    int d = rows[alen % 3][blen];
    return d <= threshold ? d : -1;
}

typedef struct sugg {
    uint32_t idx;
    int dist;
    const gql_str *name;
} sugg;

static int cmp_sugg(const void *x, const void *y)
{
    const sugg *a = x, *b = y;
    if (a->dist != b->dist)
        return a->dist - b->dist;
    return gql__natural_compare(a->name->s, a->name->len, b->name->s, b->name->len);
}

uint32_t gql__suggestion_list(const char *input, size_t input_len, const gql_str *options, uint32_t n, uint32_t *out)
{
    uint16_t in[SUGGEST_MAX_LEN], opt[SUGGEST_MAX_LEN];
    uint32_t inunits = gql__utf16_len(input, input_len);
    if (inunits > SUGGEST_MAX_LEN || n == 0)
        return 0; /* long inputs are never close to a GraphQL name: skip the work */
    uint32_t inlen = to_units_lower(input, input_len, in, SUGGEST_MAX_LEN);
    /* floor(len * 0.4) + 1, computed exactly in integers */
    int threshold = (int)((inunits * 2) / 5) + 1;
    sugg *found = malloc(n * sizeof *found);
    if (!found)
        return 0;
    uint32_t nf = 0;
    for (uint32_t i = 0; i < n; i++) {
        const gql_str *o = &options[i];
        int d;
        if (o->len == input_len && memcmp(o->s, input, input_len) == 0) {
            d = 0;
        } else {
            uint32_t ounits = gql__utf16_len(o->s, o->len);
            if (ounits > SUGGEST_MAX_LEN)
                continue;
            uint32_t olen = to_units_lower(o->s, o->len, opt, SUGGEST_MAX_LEN);
            if (olen == inlen && memcmp(opt, in, inlen * sizeof(uint16_t)) == 0)
                d = 1;
            else
                d = lexical_distance(in, inlen, opt, olen, threshold);
        }
        if (d >= 0) {
            found[nf].idx = i;
            found[nf].dist = d;
            found[nf].name = o;
            nf++;
        }
    }
    qsort(found, nf, sizeof *found, cmp_sugg);
    /* graphql-js keys its result by option name, so duplicates collapse; equal names
     * sort next to each other */
    uint32_t k = 0;
    for (uint32_t i = 0; i < nf; i++) {
        if (k > 0 && gql_str_eq(*found[i].name, options[out[k - 1]]))
            continue;
        out[k++] = found[i].idx;
    }
    free(found);
    return k;
}

void gql__did_you_mean(gql_buf *b, const char *submessage, const gql_str *s, uint32_t n)
{
    if (n == 0)
        return;
    gql_buf_puts(b, " Did you mean ");
    if (submessage) {
        gql_buf_puts(b, submessage);
        gql_buf_putc(b, ' ');
    }
    if (n > 5)
        n = 5;
    for (uint32_t i = 0; i < n; i++) {
        if (i > 0) {
            if (n == 2)
                gql_buf_puts(b, " or ");
            else if (i == n - 1)
                gql_buf_puts(b, ", or ");
            else
                gql_buf_puts(b, ", ");
        }
        gql_buf_putc(b, '"');
        gql_buf_append(b, s[i].s, s[i].len);
        gql_buf_putc(b, '"');
    }
    gql_buf_putc(b, '?');
}
