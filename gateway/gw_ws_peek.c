/*
 * Implementation of gw_ws_peek.h.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include "gw_ws_peek.h"

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* The bytes [s, e) without the spaces around them. */
static void trim(const char **s, const char **e)
{
    while (*s < *e && is_ws(**s))
        ++*s;
    while (*e > *s && is_ws((*e)[-1]))
        --*e;
}

static bool name_is(const char *s, size_t n, const char *name)
{
    return n == strlen(name) && strncasecmp(s, name, n) == 0;
}

/* Whether the comma-separated list [s, e) has `token` (case-insensitively or not). */
static bool list_has(const char *s, const char *e, const char *token, bool nocase)
{
    size_t tl = strlen(token);
    while (s < e) {
        const char *c = memchr(s, ',', (size_t)(e - s));
        const char *te = c != NULL ? c : e;
        const char *ts = s;
        trim(&ts, &te);
        size_t n = (size_t)(te - ts);
        if (n == tl && (nocase ? strncasecmp(ts, token, n) == 0 : memcmp(ts, token, n) == 0))
            return true;
        if (c == NULL)
            break;
        s = c + 1;
    }
    return false;
}

static bool plausible_key(const char *s, size_t n)
{
    if (n == 0 || n >= sizeof(((gw_peek_t *)0)->key))
        return false;
    for (size_t i = 0; i < n; ++i) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
              c == '='))
            return false;
    }
    return true;
}

/* The end of the line starting at pos (the index of its '\n'), or -1 when the buffer
 * ends first; -2 for a bare LF (not preceded by CR). */
static long line_end(const char *buf, size_t len, size_t pos)
{
    const char *nl = memchr(buf + pos, '\n', len - pos);
    if (nl == NULL)
        return -1;
    size_t i = (size_t)(nl - buf);
    if (i == pos || buf[i - 1] != '\r')
        return -2;
    return (long)i;
}

gw_peek_kind_t gw_peek_classify(const char *buf, size_t len, gw_peek_t *out)
{
    memset(out, 0, sizeof(*out));
    out->kind = GW_PEEK_HTTP;
    static const char get[] = "GET ";
    if (memcmp(buf, get, len < 4 ? len : 4) != 0)
        return out->kind;
    bool full = len >= GW_WS_PEEK_MAX;
    long le = line_end(buf, len, 0);
    if (le == -1)
        return out->kind = full ? GW_PEEK_HTTP : GW_PEEK_MORE;
    if (le < 0)
        return out->kind;
    /* GET <target> HTTP/1.1 */
    const char *target = buf + 4, *rl_end = buf + le - 1;
    const char *sp = memchr(target, ' ', (size_t)(rl_end - target));
    if (sp == NULL)
        return out->kind;
    if ((size_t)(rl_end - (sp + 1)) != 8 || memcmp(sp + 1, "HTTP/1.1", 8) != 0)
        return out->kind;
    const char *q = memchr(target, '?', (size_t)(sp - target));
    size_t plen = (size_t)((q != NULL ? q : sp) - target);
    if (plen != strlen(GW_WS_PATH) || memcmp(target, GW_WS_PATH, plen) != 0)
        return out->kind;

    bool upgrade = false, connection = false;
    const char *key = NULL;
    size_t keylen = 0;
    size_t pos = (size_t)le + 1;
    for (;;) {
        if (pos >= len)
            return out->kind = full ? GW_PEEK_HTTP : GW_PEEK_MORE;
        le = line_end(buf, len, pos);
        if (le == -1)
            return out->kind = full ? GW_PEEK_HTTP : GW_PEEK_MORE;
        if (le < 0)
            return out->kind;
        const char *ls = buf + pos, *lend = buf + le - 1; /* without CR LF */
        pos = (size_t)le + 1;
        if (ls == lend) { /* the blank line: the head is complete */
            out->head_len = pos;
            break;
        }
        if (is_ws(*ls)) /* obsolete line folding */
            return out->kind;
        const char *colon = memchr(ls, ':', (size_t)(lend - ls));
        if (colon == NULL)
            return out->kind;
        const char *ns = ls, *ne = colon, *vs = colon + 1, *ve = lend;
        trim(&ns, &ne);
        trim(&vs, &ve);
        size_t nl = (size_t)(ne - ns);
        if (nl != (size_t)(colon - ls)) /* no space before the colon (RFC 9112) */
            return out->kind;
        if (name_is(ns, nl, "upgrade"))
            upgrade = upgrade || list_has(vs, ve, "websocket", true);
        else if (name_is(ns, nl, "connection"))
            connection = connection || list_has(vs, ve, "upgrade", true);
        else if (name_is(ns, nl, "sec-websocket-protocol")) {
            out->any_protocol = true;
            out->offers_ours = out->offers_ours || list_has(vs, ve, GW_WS_SUBPROTOCOL, false);
        } else if (name_is(ns, nl, "sec-websocket-key")) {
            key = vs;
            keylen = (size_t)(ve - vs);
        } else if (name_is(ns, nl, "sec-websocket-version")) {
            out->version_13 = (size_t)(ve - vs) == 2 && memcmp(vs, "13", 2) == 0;
        }
    }
    if (!upgrade || !connection)
        return out->kind;
    if (key != NULL && plausible_key(key, keylen)) {
        memcpy(out->key, key, keylen);
        out->key[keylen] = '\0';
    }
    return out->kind = GW_PEEK_WS;
}

void gw_ws_accept_key(const char *key, char out[29])
{
    static const char guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
    unsigned char in[64 + sizeof(guid)];
    size_t kl = strlen(key);
    if (kl > 64)
        kl = 64;
    memcpy(in, key, kl);
    memcpy(in + kl, guid, sizeof(guid) - 1);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1(in, kl + sizeof(guid) - 1, md);
    EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH); /* 28 characters and a NUL */
}

size_t gw_utf8_cut(const char *s, size_t len, size_t max)
{
    if (len <= max)
        return len;
    size_t n = max;
    /* step back over continuation bytes to the start of the cut sequence */
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        --n;
    return n;
}

size_t gw_ws_reject_bytes(const char *key, uint16_t code, const char *reason, char *out)
{
    char accept[29];
    gw_ws_accept_key(key, accept);
    int n = snprintf(out, GW_WS_REJECT_MAX,
                     "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Accept: %s\r\n\r\n",
                     accept);
    size_t len = (size_t)n;
    size_t rl = gw_utf8_cut(reason, strlen(reason), 123);
    unsigned char *p = (unsigned char *)out + len;
    p[0] = 0x88; /* FIN, close */
    p[1] = (unsigned char)(2 + rl);
    p[2] = (unsigned char)(code >> 8);
    p[3] = (unsigned char)(code & 0xFF);
    memcpy(p + 4, reason, rl);
    return len + 4 + rl;
}

size_t gw_ws_bad_handshake_bytes(char *out)
{
    static const char body[] = "Not a valid WebSocket handshake (RFC 6455, version 13).\n";
    int n = snprintf(out, GW_WS_REJECT_MAX,
                     "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain; charset=utf-8\r\n"
                     "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                     sizeof(body) - 1, body);
    return (size_t)n;
}
