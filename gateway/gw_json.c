/*
 * Implementation of gw_json.h: a recursive-descent reader with a bounded depth.
 *
 * Strings: a table marks the bytes that end the fast scan (quote, backslash, control
 * characters, bytes from 0x80); plain ASCII runs are handed to jansson as they are.
 * Anything else goes through the slow path, which decodes escapes (surrogate pairs
 * included) and checks UTF-8 (no overlong forms, no surrogates, nothing above
 * U+10FFFF) into a scratch buffer.
 * Numbers: the grammar is checked by hand; integers that fit 64 bits are read
 * exactly, everything else with strtod.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gw_json.h"

typedef struct reader {
    const unsigned char *p, *end, *start;
    char *err;
    size_t errlen;
    bool failed;
    char *scratch; /* for strings with escapes or non-ASCII bytes */
    size_t scap;
} reader_t;

/* 1: a byte that ends a plain run inside a string. */
static const unsigned char stop[256] = {
    [0 ... 0x1f] = 1, ['"'] = 1, ['\\'] = 1, [0x80 ... 0xff] = 1,
};

static void fail(reader_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(reader_t *r, const char *fmt, ...)
{
    if (r->failed)
        return;
    r->failed = true;
    if (r->errlen == 0)
        return;
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s at byte %zu", msg, (size_t)(r->p - r->start));
}

static inline void skip_ws(reader_t *r)
{
    while (r->p < r->end && (*r->p == ' ' || *r->p == '\n' || *r->p == '\r' || *r->p == '\t'))
        ++r->p;
}

static bool scratch_reserve(reader_t *r, size_t n)
{
    if (n <= r->scap)
        return true;
    size_t cap = r->scap ? r->scap : 256;
    while (cap < n)
        cap *= 2;
    char *s = realloc(r->scratch, cap);
    if (s == NULL) {
        fail(r, "out of memory");
        return false;
    }
    r->scratch = s;
    r->scap = cap;
    return true;
}

static int hex4(const unsigned char *p)
{
    int v = 0;
    for (int i = 0; i < 4; ++i) {
        int c = p[i], d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'f')
            d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F')
            d = c - 'A' + 10;
        else
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Length of a valid UTF-8 sequence at p (p < end, *p >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; ++i) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

static size_t put_utf8(char *out, uint32_t cp)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads a string after its opening quote. On success *s and *len describe it: either
 * in the text itself or in the scratch buffer. */
static bool read_string(reader_t *r, const char **s, size_t *len)
{
    const unsigned char *q = r->p;
    while (q < r->end && !stop[*q])
        ++q;
    if (q < r->end && *q == '"') { /* the common case: plain ASCII */
        *s = (const char *)r->p;
        *len = (size_t)(q - r->p);
        r->p = q + 1;
        return true;
    }
    /* slow path: copy what was plain, then decode */
    size_t n = (size_t)(q - r->p);
    if (!scratch_reserve(r, n + 64))
        return false;
    memcpy(r->scratch, r->p, n);
    r->p = q;
    for (;;) {
        if (r->p >= r->end) {
            fail(r, "unterminated string");
            return false;
        }
        if (!scratch_reserve(r, n + 8))
            return false;
        unsigned c = *r->p;
        if (c == '"') {
            ++r->p;
            break;
        }
        if (c < 0x20) {
            fail(r, "control character in a string");
            return false;
        }
        if (c < 0x80 && c != '\\') {
            r->scratch[n++] = (char)c;
            ++r->p;
            continue;
        }
        if (c >= 0x80) {
            size_t k = utf8_seq(r->p, r->end);
            if (k == 0) {
                fail(r, "invalid UTF-8 in a string");
                return false;
            }
            memcpy(r->scratch + n, r->p, k);
            n += k;
            r->p += k;
            continue;
        }
        /* an escape */
        if (r->end - r->p < 2) {
            fail(r, "unterminated escape");
            return false;
        }
        unsigned e = r->p[1];
        r->p += 2;
        switch (e) {
        case '"': r->scratch[n++] = '"'; break;
        case '\\': r->scratch[n++] = '\\'; break;
        case '/': r->scratch[n++] = '/'; break;
        case 'b': r->scratch[n++] = '\b'; break;
        case 'f': r->scratch[n++] = '\f'; break;
        case 'n': r->scratch[n++] = '\n'; break;
        case 'r': r->scratch[n++] = '\r'; break;
        case 't': r->scratch[n++] = '\t'; break;
        case 'u': {
            int u = r->end - r->p >= 4 ? hex4(r->p) : -1;
            if (u < 0) {
                fail(r, "invalid \\u escape");
                return false;
            }
            r->p += 4;
            uint32_t cp = (uint32_t)u;
            if (cp >= 0xd800 && cp <= 0xdbff) {
                int lo = r->end - r->p >= 6 && r->p[0] == '\\' && r->p[1] == 'u' ? hex4(r->p + 2) : -1;
                if (lo < 0xdc00 || lo > 0xdfff) {
                    fail(r, "invalid Unicode surrogate pair");
                    return false;
                }
                r->p += 6;
                cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
            } else if (cp >= 0xdc00 && cp <= 0xdfff) {
                fail(r, "invalid Unicode surrogate");
                return false;
            } else if (cp == 0) {
                fail(r, "\\u0000 is not allowed");
                return false;
            }
            n += put_utf8(r->scratch + n, cp);
            break;
        }
        default:
            fail(r, "invalid escape");
            return false;
        }
    }
    *s = r->scratch;
    *len = n;
    return true;
}

static json_t *read_number(reader_t *r)
{
    const unsigned char *b = r->p, *q = r->p;
    bool neg = false, integral = true;
    if (q < r->end && *q == '-') {
        neg = true;
        ++q;
    }
    if (q >= r->end || !(*q >= '0' && *q <= '9')) {
        fail(r, "invalid number");
        return NULL;
    }
    uint64_t v = 0;
    bool overflow = false;
    if (*q == '0') {
        ++q;
    } else {
        while (q < r->end && *q >= '0' && *q <= '9') {
            unsigned d = (unsigned)(*q - '0');
            if (v > (UINT64_MAX - d) / 10)
                overflow = true;
            else
                v = v * 10 + d;
            ++q;
        }
    }
    if (q < r->end && *q == '.') {
        integral = false;
        ++q;
        if (q >= r->end || !(*q >= '0' && *q <= '9')) {
            fail(r, "invalid number");
            return NULL;
        }
        while (q < r->end && *q >= '0' && *q <= '9')
            ++q;
    }
    if (q < r->end && (*q == 'e' || *q == 'E')) {
        integral = false;
        ++q;
        if (q < r->end && (*q == '+' || *q == '-'))
            ++q;
        if (q >= r->end || !(*q >= '0' && *q <= '9')) {
            fail(r, "invalid number");
            return NULL;
        }
        while (q < r->end && *q >= '0' && *q <= '9')
            ++q;
    }
    r->p = q;
    if (integral && !overflow) {
        if (!neg && v <= (uint64_t)INT64_MAX)
            return json_integer((json_int_t)v);
        if (neg && v <= (uint64_t)INT64_MAX + 1)
            return json_integer(v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(json_int_t)v);
    }
    size_t n = (size_t)(q - b);
    char buf[128];
    char *tmp = n < sizeof(buf) ? buf : malloc(n + 1);
    if (tmp == NULL) {
        fail(r, "out of memory");
        return NULL;
    }
    memcpy(tmp, b, n);
    tmp[n] = '\0';
    errno = 0;
    double d = strtod(tmp, NULL);
    if (tmp != buf)
        free(tmp);
    if (errno == ERANGE && (d > 1.0 || d < -1.0)) {
        r->p = b;
        fail(r, "real number overflow");
        return NULL;
    }
    return json_real(d);
}

static json_t *read_value(reader_t *r, unsigned depth);

static json_t *read_object(reader_t *r, unsigned depth)
{
    json_t *obj = json_object();
    ++r->p; /* { */
    skip_ws(r);
    if (r->p < r->end && *r->p == '}') {
        ++r->p;
        return obj;
    }
    for (;;) {
        skip_ws(r);
        if (r->p >= r->end || *r->p != '"') {
            fail(r, "expected a string key");
            goto Fail;
        }
        ++r->p;
        const char *key;
        size_t klen;
        if (!read_string(r, &key, &klen))
            goto Fail;
        /* the key may live in the scratch buffer, which the value can reuse */
        char kbuf[128];
        char *kcopy = NULL;
        if (key == r->scratch) {
            kcopy = klen < sizeof(kbuf) ? kbuf : malloc(klen);
            if (kcopy == NULL) {
                fail(r, "out of memory");
                goto Fail;
            }
            memcpy(kcopy, key, klen);
            key = kcopy;
        }
        skip_ws(r);
        if (r->p >= r->end || *r->p != ':') {
            if (kcopy != NULL && kcopy != kbuf)
                free(kcopy);
            fail(r, "expected ':'");
            goto Fail;
        }
        ++r->p;
        json_t *v = read_value(r, depth + 1);
        if (v == NULL || json_object_setn_new_nocheck(obj, key, klen, v) != 0) {
            if (kcopy != NULL && kcopy != kbuf)
                free(kcopy);
            if (!r->failed)
                fail(r, "out of memory");
            goto Fail;
        }
        if (kcopy != NULL && kcopy != kbuf)
            free(kcopy);
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            ++r->p;
            continue;
        }
        if (r->p < r->end && *r->p == '}') {
            ++r->p;
            return obj;
        }
        fail(r, "expected ',' or '}'");
        goto Fail;
    }
Fail:
    json_decref(obj);
    return NULL;
}

static json_t *read_array(reader_t *r, unsigned depth)
{
    json_t *arr = json_array();
    ++r->p; /* [ */
    skip_ws(r);
    if (r->p < r->end && *r->p == ']') {
        ++r->p;
        return arr;
    }
    for (;;) {
        json_t *v = read_value(r, depth + 1);
        if (v == NULL || json_array_append_new(arr, v) != 0) {
            if (!r->failed)
                fail(r, "out of memory");
            json_decref(arr);
            return NULL;
        }
        skip_ws(r);
        if (r->p < r->end && *r->p == ',') {
            ++r->p;
            continue;
        }
        if (r->p < r->end && *r->p == ']') {
            ++r->p;
            return arr;
        }
        fail(r, "expected ',' or ']'");
        json_decref(arr);
        return NULL;
    }
}

static bool literal(reader_t *r, const char *word, size_t n)
{
    if ((size_t)(r->end - r->p) < n || memcmp(r->p, word, n) != 0) {
        fail(r, "invalid literal");
        return false;
    }
    r->p += n;
    return true;
}

static json_t *read_value(reader_t *r, unsigned depth)
{
    if (depth > GW_JSON_MAX_DEPTH) {
        fail(r, "nested too deep");
        return NULL;
    }
    skip_ws(r);
    if (r->p >= r->end) {
        fail(r, "unexpected end of text");
        return NULL;
    }
    switch (*r->p) {
    case '{':
        return read_object(r, depth);
    case '[':
        return read_array(r, depth);
    case '"': {
        ++r->p;
        const char *s;
        size_t n;
        if (!read_string(r, &s, &n))
            return NULL;
        json_t *v = json_stringn_nocheck(s, n);
        if (v == NULL)
            fail(r, "out of memory");
        return v;
    }
    case 't':
        return literal(r, "true", 4) ? json_true() : NULL;
    case 'f':
        return literal(r, "false", 5) ? json_false() : NULL;
    case 'n':
        return literal(r, "null", 4) ? json_null() : NULL;
    default:
        return read_number(r);
    }
}

json_t *gw_json_parse(const char *text, size_t len, char *err, size_t errlen)
{
    reader_t r;
    memset(&r, 0, sizeof(r));
    r.start = r.p = (const unsigned char *)text;
    r.end = r.p + len;
    r.err = err;
    r.errlen = errlen;
    if (errlen > 0)
        err[0] = '\0';
    json_t *v = read_value(&r, 0);
    if (v != NULL) {
        skip_ws(&r);
        if (r.p != r.end) {
            fail(&r, "text after the value");
            json_decref(v);
            v = NULL;
        }
    }
    free(r.scratch);
    return v;
}
