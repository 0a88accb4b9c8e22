/*
 * Implementation of listing.h.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "listing.h"
#include "mc_util.h"
#include "mc_valid.h"

static const char *const sort_names[PL_SORT__COUNT] = {"newest", "price_asc", "price_desc", "rating", "name", "relevance"};
static const char sort_letters[PL_SORT__COUNT] = {'n', 'p', 'P', 'r', 'a', 's'};

const char *pl_sort_name(pl_sort_t s)
{
    return s < PL_SORT__COUNT ? sort_names[s] : "newest";
}

bool pl_sort_parse(const char *name, pl_sort_t *out)
{
    for (int i = 0; i < PL_SORT__COUNT; ++i)
        if (strcmp(sort_names[i], name) == 0) {
            *out = (pl_sort_t)i;
            return true;
        }
    return false;
}

static bool is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; ++i)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

bool pl_cursor_parse(const char *s, pl_cursor_t *c)
{
    memset(c, 0, sizeof(*c));
    if (s == NULL || strlen(s) >= PL_CURSOR_MAX || s[0] == '\0' || s[1] != '.')
        return false;
    int sort = -1;
    for (int i = 0; i < PL_SORT__COUNT; ++i)
        if (sort_letters[i] == s[0])
            sort = i;
    if (sort < 0)
        return false;
    c->sort = (pl_sort_t)sort;
    const char *v = s + 2, *dot = strchr(v, '.');
    if (dot == NULL)
        return false;
    size_t vlen = (size_t)(dot - v);
    const char *id = dot + 1;
    if (strlen(id) != 24 || !is_lower_hex(id, 24))
        return false;
    memcpy(c->id, id, 25);
    if (c->sort == PL_SORT_NAME) {
        if (vlen % 2 != 0 || vlen / 2 > PS_NAME_KEY_BYTES || !is_lower_hex(v, vlen))
            return false;
        if (mc_hex_decode(v, vlen, c->str, vlen / 2) != 0)
            return false;
        size_t n = vlen / 2;
        c->str[n] = '\0';
        /* A position must be a string the database accepts: cut at a NUL or at the first
         * byte that is not part of valid UTF-8 text. */
        n = strlen(c->str);
        while (n > 0 && mc_utf8_chars(c->str, n, true) < 0)
            --n;
        c->str[n] = '\0';
        return true;
    }
    if (vlen < 1 || vlen > 18)
        return false;
    for (size_t i = 0; i < vlen; ++i)
        if (v[i] < '0' || v[i] > '9')
            return false;
    char num[19];
    memcpy(num, v, vlen);
    num[vlen] = '\0';
    errno = 0;
    c->num = strtoll(num, NULL, 10);
    return errno == 0;
}

void pl_cursor_format(const pl_cursor_t *c, char *out)
{
    if (c->sort == PL_SORT_NAME) {
        size_t n = strlen(c->str);
        out[0] = 'a';
        out[1] = '.';
        mc_hex_encode(c->str, n, out + 2);
        snprintf(out + 2 + 2 * n, PL_CURSOR_MAX - 2 - 2 * n, ".%s", c->id);
        return;
    }
    snprintf(out, PL_CURSOR_MAX, "%c.%lld.%s", sort_letters[c->sort], (long long)(c->num < 0 ? 0 : c->num), c->id);
}

void pl_query_init(pl_query_t *q)
{
    memset(q, 0, sizeof(*q));
    q->kind = PL_LIST;
    q->in_stock = -1;
    q->featured = -1;
    q->active = true;
    q->sort = PL_SORT_NEWEST;
    q->limit = 20;
}

void pl_query_free(pl_query_t *q)
{
    if (q->has_text)
        ps_query_free(&q->text);
    q->has_text = false;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

void pl_query_cache_key(const pl_query_t *q, char *out, size_t outsz)
{
    EVP_MD_CTX *sha = EVP_MD_CTX_new();
    if (sha == NULL || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1)
        abort();
    char line[512];
#define ADD(...)                                                                                                       \
    do {                                                                                                               \
        int n_ = snprintf(line, sizeof(line), __VA_ARGS__);                                                            \
        EVP_DigestUpdate(sha, line, (size_t)(n_ < (int)sizeof(line) ? n_ : (int)sizeof(line) - 1));                      \
    } while (0)
    ADD("k=%d\ns=%d\nl=%lld\n", (int)q->kind, (int)q->sort, (long long)q->limit);
    ADD("c=%s\nsel=%s\n", q->category_id, q->seller_id);
    /* the category's descendants, in a stable order */
    if (q->ncategories > 0) {
        const char **ids = malloc(q->ncategories * sizeof(*ids));
        if (ids == NULL)
            abort();
        for (size_t i = 0; i < q->ncategories; ++i)
            ids[i] = q->categories[i];
        qsort(ids, q->ncategories, sizeof(*ids), cmp_str);
        for (size_t i = 0; i < q->ncategories; ++i)
            ADD("d=%s\n", ids[i]);
        free(ids);
    }
    if (q->has_min_price)
        ADD("min=%lld\n", (long long)q->min_price);
    if (q->has_max_price)
        ADD("max=%lld\n", (long long)q->max_price);
    ADD("st=%d\nf=%d\na=%d\n", q->in_stock, q->featured, q->active ? 1 : 0);
    const char *tags[PL_MAX_TAGS];
    for (size_t i = 0; i < q->ntags; ++i)
        tags[i] = q->tags[i];
    qsort(tags, q->ntags, sizeof(*tags), cmp_str);
    for (size_t i = 0; i < q->ntags; ++i)
        ADD("t=%s\n", tags[i]);
    if (q->has_text) {
        ADD("ph=%s\nlast=%s\nkey=%s\n", q->text.phrase, q->text.last, q->text.last_key);
        for (size_t i = 0; i < q->text.tokens.n; ++i)
            ADD("w=%s\n", q->text.tokens.v[i]);
        for (size_t i = 0; i < q->text.complete.n; ++i)
            ADD("cw=%s\n", q->text.complete.v[i]);
    }
    if (q->has_cursor) {
        char cur[PL_CURSOR_MAX];
        pl_cursor_format(&q->cursor, cur);
        ADD("cur=%s\n", cur);
    }
#undef ADD
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    EVP_DigestFinal_ex(sha, digest, &dlen);
    EVP_MD_CTX_free(sha);
    char hex[PL_KEY_HEX + 1];
    mc_hex_encode(digest, PL_KEY_HEX / 2, hex);
    if (q->kind != PL_LIST)
        snprintf(out, outsz, "products:search:%s", hex);
    else if (q->category_id[0] != '\0')
        snprintf(out, outsz, "products:category:%s:%s", q->category_id, hex);
    else
        snprintf(out, outsz, "products:page:%s", hex);
}

int pl_query_ttl(const pl_query_t *q)
{
    if (q->kind != PL_LIST)
        return 60;
    return q->category_id[0] != '\0' ? 300 : 120;
}
