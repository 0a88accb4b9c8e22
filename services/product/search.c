/*
 * Implementation of search.h.
 */
#include <stdlib.h>
#include <string.h>
#include "search.h"

/* --- token lists -------------------------------------------------------------------- */

void ps_list_init(ps_list_t *l, size_t max)
{
    l->v = NULL;
    l->n = l->cap = 0;
    l->max = max;
}

bool ps_list_has(const ps_list_t *l, const char *tok)
{
    for (size_t i = 0; i < l->n; ++i)
        if (strcmp(l->v[i], tok) == 0)
            return true;
    return false;
}

bool ps_list_add(ps_list_t *l, const char *tok, size_t len)
{
    if (l->n >= l->max)
        return false;
    for (size_t i = 0; i < l->n; ++i)
        if (strlen(l->v[i]) == len && memcmp(l->v[i], tok, len) == 0)
            return false;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 8;
        char **v = realloc(l->v, cap * sizeof(*v));
        if (v == NULL)
            abort();
        l->v = v;
        l->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL)
        abort();
    memcpy(copy, tok, len);
    copy[len] = '\0';
    l->v[l->n++] = copy;
    return true;
}

void ps_list_free(ps_list_t *l)
{
    for (size_t i = 0; i < l->n; ++i)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = l->cap = 0;
}

/* --- folding ------------------------------------------------------------------------- */

/* Decodes one UTF-8 character at p; returns its code point and sets *adv, or returns -1
 * (with *adv 1) for a malformed byte, which then acts as a separator. */
static long utf8_next(const unsigned char *p, size_t left, size_t *adv)
{
    unsigned char c = p[0];
    long cp;
    size_t k;
    if (c < 0x80) {
        *adv = 1;
        return c;
    } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
        cp = c & 0x1F;
        k = 2;
    } else if ((c & 0xF0) == 0xE0) {
        cp = c & 0x0F;
        k = 3;
    } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
        cp = c & 0x07;
        k = 4;
    } else {
        *adv = 1;
        return -1;
    }
    if (k > left) {
        *adv = 1;
        return -1;
    }
    for (size_t i = 1; i < k; ++i) {
        if ((p[i] & 0xC0) != 0x80) {
            *adv = 1;
            return -1;
        }
        cp = (cp << 6) | (p[i] & 0x3F);
    }
    if ((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || (cp >= 0xD800 && cp <= 0xDFFF) || cp > 0x10FFFF) {
        *adv = 1;
        return -1;
    }
    *adv = k;
    return cp;
}

static size_t utf8_put(long cp, char *out)
{
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* U+00C0..U+00FF and U+0100..U+017F folded to a lower-case ASCII letter; '.' marks a
 * separator, digits mark the two-letter expansions of expand[]. */
static const char latin1_map[] = "aaaaaa0ceeeeiiiidnooooo.ouuuuy12" "aaaaaa0ceeeeiiiidnooooo.ouuuuy1y";
static const char latin_ext_a_map[] = "aaaaaa" "cccccccc" "dddd" "eeeeeeeeee" "gggggggg" "hhhh" "iiiiiiiiii" "33" "jj" "kkk"
                                      "llllllllll" "nnnnnnnnn" "oooooo" "44" "rrrrrr" "ssssssss" "tttttt"
                                      "uuuuuuuuuuuu" "ww" "yyy" "zzzzzz" "s";
static const char *const expand[] = {"ae", "th", "ss", "ij", "oe"};
_Static_assert(sizeof(latin1_map) == 0x40 + 1, "one entry per code point U+00C0..U+00FF");
_Static_assert(sizeof(latin_ext_a_map) == 0x80 + 1, "one entry per code point U+0100..U+017F");

/* Separators beyond ASCII: Latin-1 punctuation, general punctuation, symbols, CJK and
 * full-width punctuation, emoji and other pictographs. */
static bool is_separator_cp(long cp)
{
    return (cp >= 0x80 && cp <= 0xBF) || cp == 0xD7 || cp == 0xF7 || (cp >= 0x2000 && cp <= 0x2BFF) ||
           (cp >= 0x3000 && cp <= 0x303F) || (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF0F) ||
           (cp >= 0xFF1A && cp <= 0xFF20) || (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65) ||
           (cp >= 0xFFF0 && cp <= 0xFFFF) || (cp >= 0x1F000 && cp <= 0x1FAFF) || cp == 0xFEFF;
}

/* Folds one code point into out (up to 4 bytes). Returns the byte count; 0 for a
 * separator. */
static size_t fold_cp(long cp, char *out)
{
    if (cp < 0)
        return 0;
    if (cp < 0x80) {
        if (cp >= 'A' && cp <= 'Z') {
            out[0] = (char)(cp - 'A' + 'a');
            return 1;
        }
        if ((cp >= 'a' && cp <= 'z') || (cp >= '0' && cp <= '9')) {
            out[0] = (char)cp;
            return 1;
        }
        return 0;
    }
    if (cp >= 0xC0 && cp <= 0x17F) {
        char m = cp <= 0xFF ? latin1_map[cp - 0xC0] : latin_ext_a_map[cp - 0x100];
        if (m == '.')
            return 0;
        if (m >= '0' && m <= '4') {
            memcpy(out, expand[m - '0'], 2);
            return 2;
        }
        out[0] = m;
        return 1;
    }
    if (is_separator_cp(cp))
        return 0;
    if (cp >= 0x391 && cp <= 0x3A9 && cp != 0x3A2)
        cp += 0x20; /* Greek capitals */
    else if (cp >= 0x410 && cp <= 0x42F)
        cp += 0x20; /* Cyrillic capitals */
    else if (cp >= 0x400 && cp <= 0x40F)
        cp += 0x50;
    return utf8_put(cp, out);
}

size_t ps_fold(const char *in, size_t len, char *out, size_t outsz)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    bool pending_space = false;
    if (outsz == 0)
        return 0;
    for (size_t i = 0; i < len;) {
        size_t adv;
        long cp = utf8_next(p + i, len - i, &adv);
        i += adv;
        char buf[4];
        size_t n = fold_cp(cp, buf);
        if (n == 0) {
            pending_space = o > 0;
            continue;
        }
        size_t need = n + (pending_space ? 1 : 0);
        if (o + need > outsz - 1)
            break;
        if (pending_space)
            out[o++] = ' ';
        pending_space = false;
        memcpy(out + o, buf, n);
        o += n;
    }
    out[o] = '\0';
    return o;
}

size_t ps_name_key(const char *name, size_t len, char *out)
{
    return ps_fold(name, len, out, PS_NAME_KEY_BYTES + 1);
}

/* --- tokens ------------------------------------------------------------------------------ */

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

void ps_stem(char *tok)
{
    size_t n = strlen(tok);
    if (n < 4)
        return;
    for (size_t i = 0; i < n; ++i)
        if (tok[i] < 'a' || tok[i] > 'z')
            return;
    if (ends_with(tok, n, "ies") && n > 4) {
        tok[n - 3] = 'y';
        tok[n - 2] = '\0';
    } else if (ends_with(tok, n, "sses")) {
        tok[n - 2] = '\0';
    } else if (ends_with(tok, n, "xes") || ends_with(tok, n, "ches") || ends_with(tok, n, "shes") || ends_with(tok, n, "zes")) {
        tok[n - 2] = '\0';
    } else if (tok[n - 1] == 's' && !ends_with(tok, n, "ss") && !ends_with(tok, n, "us") && !ends_with(tok, n, "is")) {
        tok[n - 1] = '\0';
    }
}

bool ps_is_stopword(const char *tok)
{
    static const char *const stop[] = {"a",  "an", "and", "are", "as", "at", "be",  "by",   "for", "from",
                                       "in", "is", "it",  "of",  "on", "or", "the", "this", "to",  "with"};
    for (size_t i = 0; i < sizeof(stop) / sizeof(stop[0]); ++i)
        if (strcmp(stop[i], tok) == 0)
            return true;
    return false;
}

/* Calls fn for every word of the folded text. */
static void each_word(const char *folded, void (*fn)(const char *w, size_t n, void *arg), void *arg)
{
    const char *p = folded;
    while (*p) {
        const char *sp = strchr(p, ' ');
        size_t n = sp ? (size_t)(sp - p) : strlen(p);
        fn(p, n, arg);
        p += n;
        while (*p == ' ')
            ++p;
    }
}

typedef struct tok_ctx {
    ps_list_t *out;
    bool stem, stop;
} tok_ctx_t;

static bool keep_word(const char *w, size_t n)
{
    return n <= PS_MAX_TOKEN_BYTES && (n >= 2 || (w[0] >= '0' && w[0] <= '9'));
}

static void add_word(const char *w, size_t n, void *arg)
{
    tok_ctx_t *c = arg;
    if (!keep_word(w, n))
        return;
    char tok[PS_MAX_TOKEN_BYTES + 1];
    memcpy(tok, w, n);
    tok[n] = '\0';
    if (c->stop && ps_is_stopword(tok))
        return;
    if (c->stem)
        ps_stem(tok);
    ps_list_add(c->out, tok, strlen(tok));
}

/* Folds into a heap buffer big enough for any input (folding at most doubles a byte). */
static char *fold_alloc(const char *text, size_t len)
{
    size_t sz = len * 2 + 1;
    char *buf = malloc(sz);
    if (buf == NULL)
        abort();
    ps_fold(text, len, buf, sz);
    return buf;
}

void ps_tokenize(const char *text, size_t len, ps_list_t *out, bool stem, bool stop)
{
    char *folded = fold_alloc(text, len);
    tok_ctx_t c = {out, stem, stop};
    each_word(folded, add_word, &c);
    free(folded);
}

/* Bytes of the first `chars` characters of w (at most n). */
static size_t char_bytes(const char *w, size_t n, size_t chars)
{
    size_t i = 0;
    while (i < n && chars-- > 0) {
        unsigned char c = (unsigned char)w[i];
        i += c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
    }
    return i < n ? i : n;
}

/* The prefixes of one unstemmed word, PS_PREFIX_MIN_CHARS..PS_PREFIX_MAX_CHARS
 * characters (the word itself when shorter). */
static void add_prefixes(const char *w, size_t n, void *arg)
{
    ps_list_t *out = arg;
    if (n > PS_MAX_TOKEN_BYTES)
        return;
    for (size_t chars = PS_PREFIX_MIN_CHARS; chars <= PS_PREFIX_MAX_CHARS; ++chars) {
        size_t b = char_bytes(w, n, chars);
        ps_list_add(out, w, b);
        if (b == n)
            break;
    }
}

void ps_index_build(ps_index_t *idx, const char *name, const char *description, const char *const *tags, size_t ntags)
{
    ps_list_init(&idx->kw, PS_MAX_DOC_TOKENS);
    ps_list_init(&idx->kw_name, PS_MAX_DOC_TOKENS);
    ps_list_init(&idx->kw_tags, PS_MAX_DOC_TOKENS);
    ps_list_init(&idx->prefixes, PS_MAX_PREFIXES);
    ps_tokenize(name, strlen(name), &idx->kw_name, true, true);
    for (size_t i = 0; i < ntags; ++i)
        ps_tokenize(tags[i], strlen(tags[i]), &idx->kw_tags, true, true);
    /* kw: name words first, then tags, then the description, so that the cap drops the
     * least useful words. */
    for (size_t i = 0; i < idx->kw_name.n; ++i)
        ps_list_add(&idx->kw, idx->kw_name.v[i], strlen(idx->kw_name.v[i]));
    for (size_t i = 0; i < idx->kw_tags.n; ++i)
        ps_list_add(&idx->kw, idx->kw_tags.v[i], strlen(idx->kw_tags.v[i]));
    if (description != NULL)
        ps_tokenize(description, strlen(description), &idx->kw, true, true);
    char *folded = fold_alloc(name, strlen(name));
    each_word(folded, add_prefixes, &idx->prefixes);
    free(folded);
}

void ps_index_free(ps_index_t *idx)
{
    ps_list_free(&idx->kw);
    ps_list_free(&idx->kw_name);
    ps_list_free(&idx->kw_tags);
    ps_list_free(&idx->prefixes);
}

/* --- queries -------------------------------------------------------------------------------- */

typedef struct query_ctx {
    ps_query_t *q;
    size_t words;  /* words seen */
    size_t total;  /* words in the phrase */
} query_ctx_t;

static void count_word(const char *w, size_t n, void *arg)
{
    ++*(size_t *)arg;
}

static void query_word(const char *w, size_t n, void *arg)
{
    query_ctx_t *c = arg;
    bool last = ++c->words == c->total;
    if (last && n <= PS_MAX_TOKEN_BYTES) {
        memcpy(c->q->last, w, n);
        c->q->last[n] = '\0';
        /* the stored prefix: at most PS_PREFIX_MAX_CHARS characters, at least the minimum */
        size_t cut = char_bytes(w, n, PS_PREFIX_MAX_CHARS);
        if (char_bytes(w, n, PS_PREFIX_MIN_CHARS - 1) < n) {
            memcpy(c->q->last_key, w, cut);
            c->q->last_key[cut] = '\0';
        }
    }
    if (!keep_word(w, n))
        return;
    char tok[PS_MAX_TOKEN_BYTES + 1];
    memcpy(tok, w, n);
    tok[n] = '\0';
    bool stop = ps_is_stopword(tok);
    ps_stem(tok);
    if (!stop && c->q->tokens.n < PS_MAX_QUERY_TOKENS)
        ps_list_add(&c->q->tokens, tok, strlen(tok));
    if (!last && !stop && c->q->complete.n < PS_MAX_QUERY_TOKENS)
        ps_list_add(&c->q->complete, tok, strlen(tok));
}

void ps_query_parse(ps_query_t *q, const char *text, size_t len)
{
    ps_list_init(&q->tokens, PS_MAX_QUERY_TOKENS);
    ps_list_init(&q->complete, PS_MAX_QUERY_TOKENS);
    q->last[0] = '\0';
    q->last_key[0] = '\0';
    ps_fold(text, len, q->phrase, sizeof(q->phrase));
    char *folded = fold_alloc(text, len);
    query_ctx_t c = {q, 0, 0};
    each_word(folded, count_word, &c.total);
    each_word(folded, query_word, &c);
    free(folded);
}

void ps_query_free(ps_query_t *q)
{
    ps_list_free(&q->tokens);
    ps_list_free(&q->complete);
}

typedef struct prefix_ctx {
    const char *prefix;
    size_t len;
    bool found;
} prefix_ctx_t;

static void check_prefix(const char *w, size_t n, void *arg)
{
    prefix_ctx_t *c = arg;
    if (n >= c->len && memcmp(w, c->prefix, c->len) == 0)
        c->found = true;
}

bool ps_name_has_prefix(const char *name, const char *prefix)
{
    char *folded = fold_alloc(name, strlen(name));
    prefix_ctx_t c = {prefix, strlen(prefix), false};
    if (c.len > 0)
        each_word(folded, check_prefix, &c);
    free(folded);
    return c.found;
}

int ps_score(const ps_query_t *q, const ps_list_t *kw, const ps_list_t *kw_name, const ps_list_t *kw_tags,
             const char *name_key)
{
    if (q->tokens.n == 0)
        return 0;
    int score = 0;
    size_t in_name = 0;
    for (size_t i = 0; i < q->tokens.n; ++i) {
        const char *t = q->tokens.v[i];
        if (ps_list_has(kw_name, t)) {
            score += 30;
            ++in_name;
        } else if (ps_list_has(kw_tags, t)) {
            score += 20;
        } else if (ps_list_has(kw, t)) {
            score += 10;
        } else {
            return 0;
        }
    }
    if (in_name == q->tokens.n)
        score += 10;
    size_t plen = strlen(q->phrase);
    if (plen > 0 && name_key != NULL) {
        if (strncmp(name_key, q->phrase, plen) == 0)
            score += 15;
        else if (strstr(name_key, q->phrase) != NULL)
            score += 5;
    }
    return score;
}
