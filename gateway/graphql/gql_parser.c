/*
 * Lexer and recursive-descent parser for GraphQL documents (October 2021 spec),
 * mirroring graphql-js's grammar functions and error messages one for one so that
 * syntax errors match it exactly.
 *
 * Speed: tokens are produced on demand with one token of lookahead; names and
 * escape-free strings are slices of the source (no copy); lists are collected on a
 * scratch stack and copied into the arena once complete, so every AST array is one
 * allocation. Errors unwind with longjmp: all memory is in the arena or the scratch
 * stack, which gql_parse() releases on every exit path.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gql_parse.h"
#include "gql_util.h"

typedef enum tok_kind {
    T_SOF,
    T_EOF,
    T_BANG,
    T_DOLLAR,
    T_AMP,
    T_PAREN_L,
    T_PAREN_R,
    T_SPREAD,
    T_COLON,
    T_EQUALS,
    T_AT,
    T_BRACKET_L,
    T_BRACKET_R,
    T_BRACE_L,
    T_PIPE,
    T_BRACE_R,
    T_NAME,
    T_INT,
    T_FLOAT,
    T_STRING,
    T_BLOCK_STRING,
} tok_kind;

static const char *const tok_desc[] = {
    "<SOF>", "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"", "\")\"", "\"...\"", "\":\"", "\"=\"", "\"@\"",
    "\"[\"", "\"]\"", "\"{\"", "\"|\"", "\"}\"", "Name", "Int", "Float", "String", "BlockString",
};

typedef struct token {
    uint8_t kind;
    uint32_t start;
    uint32_t end;
    gql_str value; /* NAME/INT/FLOAT: the text; STRING/BLOCK_STRING: the decoded value */
} token;

typedef struct parser {
    const unsigned char *b;
    uint32_t len;
    uint32_t pos; /* lexer position: end of the last lexed token */
    token tok;
    token la;
    int has_la;
    gql_arena *A;
    uint32_t *lines;
    uint32_t nlines, caplines;
    unsigned char *scratch;
    size_t stop, scap;
    uint32_t depth;
    uint32_t ntokens, max_tokens;
    uint32_t nsel;
    jmp_buf jb;
    char *errmsg;
    size_t errlen;
    uint32_t errpos;
    int oom;
    /* work buffers for string decoding, owned by the parser so that a longjmp out
     * of the lexer leaks nothing (released in gql_parse()) */
    gql_buf sbuf;
    uint32_t *tmp;
    size_t tmpcap;
} parser;

/* ---- errors ---------------------------------------------------------------------- */

__attribute__((noreturn)) static void fail_oom(parser *p)
{
    p->oom = 1;
    longjmp(p->jb, 1);
}

/* Raises a syntax error whose message is the NUL-free text `msg` of `n` bytes. */
__attribute__((noreturn)) static void fail_n(parser *p, uint32_t pos, const char *msg, size_t n)
{
    p->errmsg = gql_arena_alloc(p->A, n + 15);
    if (!p->errmsg)
        fail_oom(p);
    memcpy(p->errmsg, "Syntax Error: ", 14);
    memcpy(p->errmsg + 14, msg, n);
    p->errmsg[14 + n] = 0;
    p->errlen = 14 + n;
    p->errpos = pos;
    longjmp(p->jb, 1);
}

__attribute__((noreturn, format(printf, 3, 4))) static void fail(parser *p, uint32_t pos, const char *fmt, ...)
{
    char m[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(m, sizeof m, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    if ((size_t)n >= sizeof m)
        n = sizeof m - 1;
    fail_n(p, pos, m, (size_t)n);
}

static void *alloc(parser *p, size_t n)
{
    void *r = gql_arena_alloc(p->A, n);
    if (!r)
        fail_oom(p);
    return r;
}

/* graphql-js printCodePointAt: how a character is named in messages. */
static void describe_char(parser *p, uint32_t pos, char *out, size_t outsz)
{
    if (pos >= p->len) {
        snprintf(out, outsz, "<EOF>");
        return;
    }
    uint32_t cp;
    gql__utf8_decode(p->b + pos, p->b + p->len, &cp);
    if (cp >= 0x20 && cp <= 0x7E) {
        if (cp == '"')
            snprintf(out, outsz, "'\"'");
        else
            snprintf(out, outsz, "\"%c\"", (char)cp);
    } else {
        snprintf(out, outsz, "U+%04X", cp);
    }
}

/* ---- lexer ----------------------------------------------------------------------- */

static __attribute__((noinline)) void grow_lines(parser *p)
{
    uint32_t cap = p->caplines ? p->caplines * 2 : 256;
    uint32_t *n = realloc(p->lines, cap * sizeof *n);
    if (!n)
        fail_oom(p);
    p->lines = n;
    p->caplines = cap;
}

static inline void add_line(parser *p, uint32_t start)
{
    if (__builtin_expect(p->nlines == p->caplines, 0))
        grow_lines(p);
    p->lines[p->nlines++] = start;
}

/* Character classes of the lexer's dispatch. */
enum {
    C_OTHER,
    C_SKIP,  /* space, tab, comma */
    C_LF,
    C_CR,
    C_HASH,
    C_PUNCT, /* a one-character token (kind in punct_kind) */
    C_DOT,
    C_QUOTE,
    C_NAME,
    C_NUM,   /* digit or minus */
    C_BOM,   /* first byte of U+FEFF */
};

static const uint8_t char_class[256] = {
    ['\t'] = C_SKIP, [' '] = C_SKIP, [','] = C_SKIP, ['\n'] = C_LF, ['\r'] = C_CR, ['#'] = C_HASH,
    ['!'] = C_PUNCT, ['$'] = C_PUNCT, ['&'] = C_PUNCT, ['('] = C_PUNCT, [')'] = C_PUNCT, [':'] = C_PUNCT,
    ['='] = C_PUNCT, ['@'] = C_PUNCT, ['['] = C_PUNCT, [']'] = C_PUNCT, ['{'] = C_PUNCT, ['|'] = C_PUNCT,
    ['}'] = C_PUNCT, ['.'] = C_DOT, ['"'] = C_QUOTE, ['-'] = C_NUM,
    ['0'] = C_NUM, ['1'] = C_NUM, ['2'] = C_NUM, ['3'] = C_NUM, ['4'] = C_NUM,
    ['5'] = C_NUM, ['6'] = C_NUM, ['7'] = C_NUM, ['8'] = C_NUM, ['9'] = C_NUM,
    ['_'] = C_NAME,
    ['a'] = C_NAME, ['b'] = C_NAME, ['c'] = C_NAME, ['d'] = C_NAME, ['e'] = C_NAME, ['f'] = C_NAME,
    ['g'] = C_NAME, ['h'] = C_NAME, ['i'] = C_NAME, ['j'] = C_NAME, ['k'] = C_NAME, ['l'] = C_NAME,
    ['m'] = C_NAME, ['n'] = C_NAME, ['o'] = C_NAME, ['p'] = C_NAME, ['q'] = C_NAME, ['r'] = C_NAME,
    ['s'] = C_NAME, ['t'] = C_NAME, ['u'] = C_NAME, ['v'] = C_NAME, ['w'] = C_NAME, ['x'] = C_NAME,
    ['y'] = C_NAME, ['z'] = C_NAME,
    ['A'] = C_NAME, ['B'] = C_NAME, ['C'] = C_NAME, ['D'] = C_NAME, ['E'] = C_NAME, ['F'] = C_NAME,
    ['G'] = C_NAME, ['H'] = C_NAME, ['I'] = C_NAME, ['J'] = C_NAME, ['K'] = C_NAME, ['L'] = C_NAME,
    ['M'] = C_NAME, ['N'] = C_NAME, ['O'] = C_NAME, ['P'] = C_NAME, ['Q'] = C_NAME, ['R'] = C_NAME,
    ['S'] = C_NAME, ['T'] = C_NAME, ['U'] = C_NAME, ['V'] = C_NAME, ['W'] = C_NAME, ['X'] = C_NAME,
    ['Y'] = C_NAME, ['Z'] = C_NAME,
    [0xEF] = C_BOM,
};

static const uint8_t punct_kind[128] = {
    ['!'] = T_BANG,      ['$'] = T_DOLLAR,    ['&'] = T_AMP,     ['('] = T_PAREN_L, [')'] = T_PAREN_R,
    [':'] = T_COLON,     ['='] = T_EQUALS,    ['@'] = T_AT,      ['['] = T_BRACKET_L, [']'] = T_BRACKET_R,
    ['{'] = T_BRACE_L,   ['|'] = T_PIPE,      ['}'] = T_BRACE_R,
};

/* NameContinue: letters, digits and underscore. */
static const uint8_t name_char[256] = {
    ['_'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1, ['i'] = 1,
    ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1, ['y'] = 1, ['z'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1, ['I'] = 1,
    ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1, ['Y'] = 1, ['Z'] = 1,
};

/* Skips a run of spaces eight at a time (indentation is most of a document's
 * ignored bytes). */
static inline uint32_t skip_spaces(const unsigned char *b, uint32_t pos, uint32_t len)
{
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    while (pos + 8 <= len) {
        uint64_t x;
        memcpy(&x, b + pos, 8);
        x ^= 0x2020202020202020ull;
        if (x) {
            return pos + ((uint32_t)__builtin_ctzll(x) >> 3); /* little-endian byte order */
        }
        pos += 8;
    }
#endif
    while (pos < len && b[pos] == ' ')
        pos++;
    return pos;
}

static inline int is_name_start(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static inline int is_digit(int c)
{
    return c >= '0' && c <= '9';
}

static inline int at(parser *p, uint32_t i)
{
    return i < p->len ? p->b[i] : -1;
}

static uint32_t read_digits(parser *p, uint32_t pos)
{
    if (!is_digit(at(p, pos))) {
        char d[16];
        describe_char(p, pos, d, sizeof d);
        fail(p, pos, "Invalid number, expected digit but got: %s.", d);
    }
    pos++;
    while (is_digit(at(p, pos)))
        pos++;
    return pos;
}

static void read_number(parser *p, uint32_t start, token *t)
{
    uint32_t pos = start;
    int is_float = 0;
    if (at(p, pos) == '-')
        pos++;
    if (at(p, pos) == '0') {
        pos++;
        if (is_digit(at(p, pos))) {
            char d[16];
            describe_char(p, pos, d, sizeof d);
            fail(p, pos, "Invalid number, unexpected digit after 0: %s.", d);
        }
    } else {
        pos = read_digits(p, pos);
    }
    if (at(p, pos) == '.') {
        is_float = 1;
        pos = read_digits(p, pos + 1);
    }
    if (at(p, pos) == 'e' || at(p, pos) == 'E') {
        is_float = 1;
        pos++;
        if (at(p, pos) == '+' || at(p, pos) == '-')
            pos++;
        pos = read_digits(p, pos);
    }
    int c = at(p, pos);
    if (c == '.' || is_name_start(c)) {
        char d[16];
        describe_char(p, pos, d, sizeof d);
        fail(p, pos, "Invalid number, expected digit but got: %s.", d);
    }
    t->kind = is_float ? T_FLOAT : T_INT;
    t->end = pos;
    t->value.s = (const char *)p->b + start;
    t->value.len = pos - start;
}

static int hex_val(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

static int read_hex4(parser *p, uint32_t pos)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hex_val(at(p, pos + (uint32_t)i));
        if (h < 0)
            return -1;
        v = (v << 4) | h;
    }
    return v;
}

/* Quotes `count` code points of the source starting at `pos` in an escape error. */
__attribute__((noreturn)) static void fail_escape(parser *p, uint32_t pos, uint32_t count, const char *what)
{
    uint32_t end = pos;
    for (uint32_t i = 0; i < count && end < p->len; i++) {
        uint32_t cp;
        int k = gql__utf8_decode(p->b + end, p->b + p->len, &cp);
        /* a character outside the BMP counts as two JavaScript code units */
        if (cp >= 0x10000)
            i++;
        end += (uint32_t)k;
    }
    fail(p, pos, "Invalid %s escape sequence: \"%.*s\".", what, (int)(end - pos), (const char *)p->b + pos);
}

/* Appends the decoded escape at `pos` (a backslash) to `out`; returns its length. */
static uint32_t read_escape(parser *p, uint32_t pos, gql_buf *out)
{
    int c = at(p, pos + 1);
    if (c == 'u') {
        if (at(p, pos + 2) == '{') {
            uint32_t point = 0;
            uint32_t size = 3;
            while (size < 12) {
                int d = at(p, pos + size++);
                if (d == '}') {
                    if (size < 5 || (point >= 0xD800 && point <= 0xDFFF) || point > 0x10FFFF)
                        break;
                    gql__buf_utf8(out, point);
                    return size;
                }
                int h = hex_val(d);
                if (h < 0 || point > 0x7FFFFFF)
                    break;
                point = (point << 4) | (uint32_t)h;
                if (point > 0x7FFFFFFF)
                    break;
            }
            fail_escape(p, pos, size, "Unicode");
        }
        int code = read_hex4(p, pos + 2);
        if (code >= 0 && !(code >= 0xD800 && code <= 0xDFFF)) {
            gql__buf_utf8(out, (uint32_t)code);
            return 6;
        }
        if (code >= 0xD800 && code <= 0xDBFF && at(p, pos + 6) == '\\' && at(p, pos + 7) == 'u') {
            int trail = read_hex4(p, pos + 8);
            if (trail >= 0xDC00 && trail <= 0xDFFF) {
                gql__buf_utf8(out, 0x10000 + (((uint32_t)code - 0xD800) << 10) + ((uint32_t)trail - 0xDC00));
                return 12;
            }
        }
        fail_escape(p, pos, 6, "Unicode");
    }
    char v;
    switch (c) {
    case '"': v = '"'; break;
    case '\\': v = '\\'; break;
    case '/': v = '/'; break;
    case 'b': v = '\b'; break;
    case 'f': v = '\f'; break;
    case 'n': v = '\n'; break;
    case 'r': v = '\r'; break;
    case 't': v = '\t'; break;
    default: fail_escape(p, pos, 2, "character");
    }
    gql_buf_putc(out, v);
    return 2;
}

/* Copies the decoded string in p->sbuf into the arena as the token's value. */
static void take_sbuf(parser *p, token *t)
{
    if (p->sbuf.overflow)
        fail_oom(p);
    char *v = gql_arena_strndup(p->A, p->sbuf.data ? p->sbuf.data : "", p->sbuf.len);
    if (!v)
        fail_oom(p);
    t->value.s = v;
    t->value.len = (uint32_t)p->sbuf.len;
}

static void read_string(parser *p, uint32_t start, token *t)
{
    uint32_t pos = start + 1;
    uint32_t chunk = pos;
    int escaped = 0;
    gql_buf *out = &p->sbuf;
    gql_buf_reset(out);
    while (pos < p->len) {
        int c = p->b[pos];
        if (c == '"') {
            t->kind = T_STRING;
            t->end = pos + 1;
            if (!escaped) {
                t->value.s = (const char *)p->b + start + 1;
                t->value.len = pos - start - 1;
                return;
            }
            gql_buf_append(out, p->b + chunk, pos - chunk);
            take_sbuf(p, t);
            return;
        }
        if (c == '\\') {
            escaped = 1;
            gql_buf_append(out, p->b + chunk, pos - chunk);
            pos += read_escape(p, pos, out);
            chunk = pos;
            continue;
        }
        if (c == '\n' || c == '\r')
            break;
        if (c < 0x80) {
            pos++;
        } else {
            uint32_t cp;
            int k = gql__utf8_decode(p->b + pos, p->b + p->len, &cp);
            if (cp == 0xFFFD && !(k == 3 && p->b[pos] == 0xEF)) {
                /* invalid UTF-8 reads as U+FFFD, as Node's decoder would deliver it */
                escaped = 1;
                gql_buf_append(out, p->b + chunk, pos - chunk);
                gql_buf_append(out, "\xEF\xBF\xBD", 3);
                pos += (uint32_t)k;
                chunk = pos;
                continue;
            }
            pos += (uint32_t)k;
        }
    }
    fail(p, pos, "Unterminated string.");
}

static inline int is_ws(int c)
{
    return c == ' ' || c == '\t';
}

/* Appends a (start,end) pair to the parser's temporary array. */
static void tmp_push2(parser *p, size_t *n, uint32_t a, uint32_t b)
{
    if ((*n + 1) * 2 > p->tmpcap) {
        size_t cap = p->tmpcap ? p->tmpcap * 2 : 64;
        uint32_t *t = realloc(p->tmp, cap * sizeof *t);
        if (!t)
            fail_oom(p);
        p->tmp = t;
        p->tmpcap = cap;
    }
    p->tmp[*n * 2] = a;
    p->tmp[*n * 2 + 1] = b;
    (*n)++;
}

/* Spec BlockStringValue(): removes the common indentation and blank first/last lines. */
static void read_block_string(parser *p, uint32_t start, token *t)
{
    uint32_t pos = start + 3;
    size_t nl = 0;
    uint32_t line_start = pos;
    int found = 0;
    while (pos < p->len) {
        int c = p->b[pos];
        if (c == '"' && at(p, pos + 1) == '"' && at(p, pos + 2) == '"') {
            found = 1;
            break;
        }
        if (c == '\\' && at(p, pos + 1) == '"' && at(p, pos + 2) == '"' && at(p, pos + 3) == '"') {
            pos += 4;
            continue;
        }
        if (c == '\n' || c == '\r') {
            tmp_push2(p, &nl, line_start, pos);
            pos += (c == '\r' && at(p, pos + 1) == '\n') ? 2 : 1;
            line_start = pos;
            add_line(p, pos);
            continue;
        }
        if (c < 0x80) {
            pos++;
        } else {
            uint32_t cp;
            pos += (uint32_t)gql__utf8_decode(p->b + pos, p->b + p->len, &cp);
        }
    }
    if (!found)
        fail(p, pos, "Unterminated string.");
    tmp_push2(p, &nl, line_start, pos);
    t->kind = T_BLOCK_STRING;
    t->end = pos + 3;
    const uint32_t *ls = p->tmp;

    /* dedent: common indentation of all lines but the first (whitespace-only lines
     * do not count) */
    uint32_t common = UINT32_MAX;
    int64_t first_non_empty = -1, last_non_empty = -1;
    for (size_t i = 0; i < nl; i++) {
        uint32_t s = ls[i * 2], e = ls[i * 2 + 1];
        uint32_t ind = 0;
        while (s + ind < e && is_ws(p->b[s + ind]))
            ind++;
        if (s + ind == e)
            continue;
        if (first_non_empty < 0)
            first_non_empty = (int64_t)i;
        last_non_empty = (int64_t)i;
        if (i != 0 && ind < common)
            common = ind;
    }
    gql_buf *out = &p->sbuf;
    gql_buf_reset(out);
    if (first_non_empty >= 0) {
        for (int64_t i = first_non_empty; i <= last_non_empty; i++) {
            uint32_t s = ls[i * 2], e = ls[i * 2 + 1];
            if (i != 0 && common != UINT32_MAX)
                s = (e - s > common) ? s + common : e;
            if (i != first_non_empty)
                gql_buf_putc(out, '\n');
            /* copy, replacing \""" with """ and invalid UTF-8 with U+FFFD */
            uint32_t q = s;
            while (q < e) {
                int c = p->b[q];
                if (c == '\\' && at(p, q + 1) == '"' && at(p, q + 2) == '"' && at(p, q + 3) == '"') {
                    gql_buf_append(out, "\"\"\"", 3);
                    q += 4;
                    continue;
                }
                if (c < 0x80) {
                    gql_buf_putc(out, (char)c);
                    q++;
                    continue;
                }
                uint32_t cp;
                int k = gql__utf8_decode(p->b + q, p->b + p->len, &cp);
                if (cp == 0xFFFD && !(k == 3 && c == 0xEF))
                    gql_buf_append(out, "\xEF\xBF\xBD", 3);
                else
                    gql_buf_append(out, p->b + q, (size_t)k);
                q += (uint32_t)k;
            }
        }
    }
    take_sbuf(p, t);
}

/* Lexes the token that starts at or after `pos` (skipping ignored tokens). */
static void lex(parser *p, uint32_t pos, token *t)
{
    const unsigned char *b = p->b;
    uint32_t len = p->len;
    t->value.s = NULL;
    t->value.len = 0;
    while (pos < len) {
        unsigned c = b[pos];
        switch (char_class[c]) {
        case C_SKIP:
            pos = skip_spaces(b, pos + 1, len);
            continue;
        case C_LF:
            pos++;
            add_line(p, pos);
            pos = skip_spaces(b, pos, len);
            continue;
        case C_CR:
            pos += (pos + 1 < len && b[pos + 1] == '\n') ? 2 : 1;
            add_line(p, pos);
            continue;
        case C_BOM:
            if (pos + 2 < len && b[pos + 1] == 0xBB && b[pos + 2] == 0xBF) {
                pos += 3;
                continue;
            }
            break;
        case C_HASH: {
            /* a comment runs to the end of the line (LF or CR) */
            const unsigned char *nl = memchr(b + pos, '\n', len - pos);
            uint32_t end = nl ? (uint32_t)(nl - b) : len;
            const unsigned char *cr = memchr(b + pos, '\r', end - pos);
            pos = cr ? (uint32_t)(cr - b) : end;
            continue;
        }
        case C_PUNCT:
            t->kind = punct_kind[c];
            t->start = pos;
            t->end = pos + 1;
            return;
        case C_NAME: {
            uint32_t e = pos + 1;
            while (e < len && name_char[b[e]])
                e++;
            t->kind = T_NAME;
            t->start = pos;
            t->end = e;
            t->value.s = (const char *)b + pos;
            t->value.len = e - pos;
            return;
        }
        case C_NUM:
            t->start = pos;
            read_number(p, pos, t);
            return;
        case C_DOT:
            if (pos + 2 < len && b[pos + 1] == '.' && b[pos + 2] == '.') {
                t->kind = T_SPREAD;
                t->start = pos;
                t->end = pos + 3;
                return;
            }
            break;
        case C_QUOTE:
            t->start = pos;
            if (pos + 2 < len && b[pos + 1] == '"' && b[pos + 2] == '"')
                read_block_string(p, pos, t);
            else
                read_string(p, pos, t);
            return;
        default:
            break;
        }
        if (c == '\'')
            fail(p, pos, "Unexpected single quote character ('), did you mean to use a double quote (\")?");
        char d[16];
        describe_char(p, pos, d, sizeof d);
        fail(p, pos, "Unexpected character: %s.", d);
    }
    t->kind = T_EOF;
    t->start = t->end = len;
}

/* graphql-js getTokenDesc(): `Name "foo"`, `"{"`, `<EOF>` … */
static size_t token_desc(const token *t, char *out, size_t outsz, const char **extra, size_t *extralen)
{
    *extra = NULL;
    *extralen = 0;
    if (t->kind >= T_NAME) {
        *extra = t->value.s;
        *extralen = t->value.len;
    }
    return (size_t)snprintf(out, outsz, "%s", tok_desc[t->kind]);
}

/* Raises "<prefix><token description><suffix>" (the description may contain NUL
 * bytes of a string value, so it is assembled by length). */
__attribute__((noreturn)) static void fail_token(parser *p, uint32_t pos, const char *prefix, const token *t, const char *suffix)
{
    char kind[32];
    const char *val;
    size_t vlen;
    token_desc(t, kind, sizeof kind, &val, &vlen);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_buf_puts(&b, prefix);
    gql_buf_puts(&b, kind);
    if (val) {
        gql_buf_puts(&b, " \"");
        gql_buf_append(&b, val, vlen);
        gql_buf_putc(&b, '"');
    }
    gql_buf_puts(&b, suffix);
    char *m = gql_arena_strndup(p->A, b.data ? b.data : "", b.len);
    size_t n = b.len;
    gql_buf_free(&b);
    if (!m)
        fail_oom(p);
    fail_n(p, pos, m, n);
}

__attribute__((noreturn)) static void unexpected(parser *p, const token *t)
{
    if (!t)
        t = &p->tok;
    fail_token(p, t->start, "Unexpected ", t, ".");
}

__attribute__((noreturn, noinline)) static void fail_max_tokens(parser *p)
{
    fail(p, p->tok.start, "Document contains more that %u tokens. Parsing aborted.", p->max_tokens);
}

/* Moves to the next token (the start-of-file token ends at 0). */
static inline void advance(parser *p)
{
    if (__builtin_expect(p->has_la, 0)) {
        p->tok = p->la;
        p->has_la = 0;
    } else {
        lex(p, p->tok.end, &p->tok);
    }
    if (p->tok.kind != T_EOF) {
        p->ntokens++;
        if (__builtin_expect(p->ntokens > p->max_tokens, 0) && p->max_tokens)
            fail_max_tokens(p);
    }
}

static const token *lookahead(parser *p)
{
    if (p->tok.kind == T_EOF)
        return &p->tok;
    if (!p->has_la) {
        lex(p, p->tok.end, &p->la);
        p->has_la = 1;
    }
    return &p->la;
}

static inline int peek(parser *p, int kind)
{
    return p->tok.kind == kind;
}

__attribute__((noreturn, noinline)) static void fail_expected(parser *p, int kind)
{
    char pre[48];
    snprintf(pre, sizeof pre, "Expected %s, found ", tok_desc[kind]);
    fail_token(p, p->tok.start, pre, &p->tok, ".");
}

static inline void expect(parser *p, int kind)
{
    if (__builtin_expect(p->tok.kind != kind, 0))
        fail_expected(p, kind);
    advance(p);
}

static inline int expect_optional(parser *p, int kind)
{
    if (p->tok.kind == kind) {
        advance(p);
        return 1;
    }
    return 0;
}

static void expect_keyword(parser *p, const char *kw)
{
    if (p->tok.kind == T_NAME && gql_str_eqc(p->tok.value, kw)) {
        advance(p);
        return;
    }
    char pre[64];
    snprintf(pre, sizeof pre, "Expected \"%s\", found ", kw);
    fail_token(p, p->tok.start, pre, &p->tok, ".");
}

static int expect_optional_keyword(parser *p, const char *kw)
{
    if (p->tok.kind == T_NAME && gql_str_eqc(p->tok.value, kw)) {
        advance(p);
        return 1;
    }
    return 0;
}

/* ---- scratch stack: lists are built here, then copied to the arena ------------- */

static size_t mark(parser *p)
{
    return p->stop;
}

static __attribute__((noinline)) void grow_scratch(parser *p, size_t size)
{
    size_t cap = p->scap ? p->scap * 2 : 4096;
    while (cap < p->stop + size)
        cap *= 2;
    unsigned char *n = realloc(p->scratch, cap);
    if (!n)
        fail_oom(p);
    p->scratch = n;
    p->scap = cap;
}

/* Inline so that the copy of a fixed-size item compiles to a few moves. */
static inline void push(parser *p, const void *item, size_t size)
{
    if (__builtin_expect(p->stop + size > p->scap, 0))
        grow_scratch(p, size);
    memcpy(p->scratch + p->stop, item, size);
    p->stop += size;
}

/* Moves the items pushed since `m` into one arena array; returns it and sets *n. */
static void *collect(parser *p, size_t m, size_t size, uint32_t *n)
{
    size_t bytes = p->stop - m;
    *n = (uint32_t)(bytes / size);
    if (!bytes) {
        return NULL;
    }
    void *arr = alloc(p, bytes);
    memcpy(arr, p->scratch + m, bytes);
    p->stop = m;
    return arr;
}

static void enter(parser *p, uint32_t pos)
{
    if (++p->depth > GQL_MAX_NESTING)
        fail(p, pos, "Document is nested too deeply (more than %d levels).", GQL_MAX_NESTING);
}

static void leave(parser *p)
{
    p->depth--;
}

/* ---- grammar ----------------------------------------------------------------------- */

static inline gql_str parse_name(parser *p, uint32_t *loc)
{
    if (__builtin_expect(p->tok.kind != T_NAME, 0))
        fail_expected(p, T_NAME);
    gql_str v = p->tok.value;
    if (loc)
        *loc = p->tok.start;
    advance(p);
    return v;
}

static gql_value *parse_value(parser *p, int is_const);

static gql_value *new_value(parser *p, int kind, uint32_t loc)
{
    gql_value *v = alloc(p, sizeof *v);
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    v->loc = loc;
    return v;
}

static gql_value *parse_string_literal(parser *p)
{
    token t = p->tok;
    advance(p);
    gql_value *v = new_value(p, GQL_VALUE_STRING, t.start);
    v->block = t.kind == T_BLOCK_STRING;
    v->u.str = t.value;
    return v;
}

static gql_value *parse_variable_value(parser *p)
{
    token start = p->tok;
    expect(p, T_DOLLAR);
    gql_value *v = new_value(p, GQL_VALUE_VARIABLE, start.start);
    v->u.str = parse_name(p, NULL);
    return v;
}

static gql_value *parse_value(parser *p, int is_const)
{
    token t = p->tok;
    switch (t.kind) {
    case T_BRACKET_L: {
        enter(p, t.start);
        gql_value *v = new_value(p, GQL_VALUE_LIST, t.start);
        expect(p, T_BRACKET_L);
        size_t m = mark(p);
        while (!expect_optional(p, T_BRACKET_R)) {
            gql_value *item = parse_value(p, is_const);
            push(p, &item, sizeof item);
        }
        v->u.list.items = collect(p, m, sizeof(gql_value *), &v->u.list.n);
        leave(p);
        return v;
    }
    case T_BRACE_L: {
        enter(p, t.start);
        gql_value *v = new_value(p, GQL_VALUE_OBJECT, t.start);
        expect(p, T_BRACE_L);
        size_t m = mark(p);
        while (!expect_optional(p, T_BRACE_R)) {
            gql_object_field f;
            f.name = parse_name(p, &f.loc);
            expect(p, T_COLON);
            f.value = parse_value(p, is_const);
            push(p, &f, sizeof f);
        }
        v->u.object.fields = collect(p, m, sizeof(gql_object_field), &v->u.object.n);
        leave(p);
        return v;
    }
    case T_INT:
    case T_FLOAT: {
        advance(p);
        gql_value *v = new_value(p, t.kind == T_INT ? GQL_VALUE_INT : GQL_VALUE_FLOAT, t.start);
        v->u.str = t.value;
        return v;
    }
    case T_STRING:
    case T_BLOCK_STRING:
        return parse_string_literal(p);
    case T_NAME: {
        advance(p);
        gql_value *v;
        if (gql_str_eqc(t.value, "true") || gql_str_eqc(t.value, "false")) {
            v = new_value(p, GQL_VALUE_BOOLEAN, t.start);
            v->boolean = t.value.len == 4;
        } else if (gql_str_eqc(t.value, "null")) {
            v = new_value(p, GQL_VALUE_NULL, t.start);
        } else {
            v = new_value(p, GQL_VALUE_ENUM, t.start);
            v->u.str = t.value;
        }
        return v;
    }
    case T_DOLLAR:
        if (is_const) {
            expect(p, T_DOLLAR);
            if (p->tok.kind == T_NAME) {
                gql_buf b;
                gql_buf_init(&b, 0);
                gql_buf_puts(&b, "Unexpected variable \"$");
                gql_buf_append(&b, p->tok.value.s, p->tok.value.len);
                gql_buf_puts(&b, "\" in constant value.");
                char *m = gql_arena_strndup(p->A, b.data, b.len);
                size_t n = b.len;
                gql_buf_free(&b);
                if (!m)
                    fail_oom(p);
                fail_n(p, t.start, m, n);
            }
            unexpected(p, &t);
        }
        return parse_variable_value(p);
    default:
        unexpected(p, NULL);
    }
}

static gql_argument *parse_arguments(parser *p, int is_const, uint32_t *n)
{
    *n = 0;
    if (!expect_optional(p, T_PAREN_L))
        return NULL;
    size_t m = mark(p);
    do {
        gql_argument a;
        a.name = parse_name(p, &a.loc);
        expect(p, T_COLON);
        a.value = parse_value(p, is_const);
        push(p, &a, sizeof a);
    } while (!expect_optional(p, T_PAREN_R));
    return collect(p, m, sizeof(gql_argument), n);
}

static gql_directive *parse_directives(parser *p, int is_const, uint32_t *n)
{
    *n = 0;
    if (!peek(p, T_AT))
        return NULL;
    size_t m = mark(p);
    while (peek(p, T_AT)) {
        gql_directive d;
        d.loc = p->tok.start;
        advance(p);
        d.name = parse_name(p, NULL);
        d.args = parse_arguments(p, is_const, &d.nargs);
        push(p, &d, sizeof d);
    }
    return collect(p, m, sizeof(gql_directive), n);
}

static gql_type_node *parse_named_type(parser *p)
{
    gql_type_node *t = alloc(p, sizeof *t);
    t->kind = GQL_TYPE_NAMED;
    t->of = NULL;
    t->name = parse_name(p, &t->loc);
    return t;
}

static gql_type_node *parse_type_reference(parser *p)
{
    uint32_t start = p->tok.start;
    gql_type_node *type;
    if (expect_optional(p, T_BRACKET_L)) {
        enter(p, start);
        gql_type_node *inner = parse_type_reference(p);
        expect(p, T_BRACKET_R);
        leave(p);
        type = alloc(p, sizeof *type);
        type->kind = GQL_TYPE_LIST;
        type->loc = start;
        type->of = inner;
        type->name.s = NULL;
        type->name.len = 0;
    } else {
        type = parse_named_type(p);
    }
    if (expect_optional(p, T_BANG)) {
        gql_type_node *nn = alloc(p, sizeof *nn);
        nn->kind = GQL_TYPE_NON_NULL;
        nn->loc = start;
        nn->of = type;
        nn->name.s = NULL;
        nn->name.len = 0;
        return nn;
    }
    return type;
}

static gql_selection_set *parse_selection_set(parser *p);

static void parse_selection(parser *p)
{
    gql_selection s;
    memset(&s, 0, sizeof s);
    s.loc = p->tok.start;
    if (peek(p, T_SPREAD)) {
        advance(p);
        int has_type_cond = expect_optional_keyword(p, "on");
        if (!has_type_cond && peek(p, T_NAME)) {
            s.kind = GQL_SEL_SPREAD;
            /* parseFragmentName: `on` cannot name a fragment (already consumed above) */
            s.u.spread.name = parse_name(p, &s.u.spread.name_loc);
            s.u.spread.dirs = parse_directives(p, 0, &s.u.spread.ndirs);
            s.u.spread.fragment = -1;
        } else {
            s.kind = GQL_SEL_INLINE;
            s.u.inl.type_cond = has_type_cond ? parse_named_type(p) : NULL;
            s.u.inl.dirs = parse_directives(p, 0, &s.u.inl.ndirs);
            s.u.inl.sel = parse_selection_set(p);
        }
    } else {
        s.kind = GQL_SEL_FIELD;
        gql_field_node *f = &s.u.field;
        uint32_t l;
        gql_str first = parse_name(p, &l);
        if (expect_optional(p, T_COLON)) {
            f->alias = first;
            f->alias_loc = l;
            f->name = parse_name(p, &f->name_loc);
        } else {
            f->name = first;
            f->name_loc = l;
        }
        f->args = parse_arguments(p, 0, &f->nargs);
        f->dirs = parse_directives(p, 0, &f->ndirs);
        f->sel = peek(p, T_BRACE_L) ? parse_selection_set(p) : NULL;
    }
    push(p, &s, sizeof s);
}

static gql_selection_set *parse_selection_set(parser *p)
{
    uint32_t start = p->tok.start;
    enter(p, start);
    gql_selection_set *ss = alloc(p, sizeof *ss);
    ss->loc = start;
    ss->id = p->nsel++;
    expect(p, T_BRACE_L);
    size_t m = mark(p);
    do {
        parse_selection(p);
    } while (!expect_optional(p, T_BRACE_R));
    ss->items = collect(p, m, sizeof(gql_selection), &ss->n);
    ss->has_spread = 0;
    for (uint32_t i = 0; i < ss->n; i++) {
        gql_selection *s = &ss->items[i];
        if (s->kind == GQL_SEL_SPREAD || (s->kind == GQL_SEL_FIELD && s->u.field.sel && s->u.field.sel->has_spread) ||
            (s->kind == GQL_SEL_INLINE && s->u.inl.sel->has_spread))
            ss->has_spread = 1;
    }
    leave(p);
    return ss;
}

static int parse_operation_type(parser *p, uint32_t *loc)
{
    if (p->tok.kind != T_NAME)
        fail_expected(p, T_NAME);
    token t = p->tok;
    advance(p);
    if (loc)
        *loc = t.start;
    if (gql_str_eqc(t.value, "query"))
        return GQL_OP_QUERY;
    if (gql_str_eqc(t.value, "mutation"))
        return GQL_OP_MUTATION;
    if (gql_str_eqc(t.value, "subscription"))
        return GQL_OP_SUBSCRIPTION;
    unexpected(p, &t);
}

static void parse_operation_definition(parser *p, gql_definition *d)
{
    d->kind = GQL_DEF_OPERATION;
    d->loc = p->tok.start;
    gql_operation_node *op = &d->u.op;
    memset(op, 0, sizeof *op);
    if (peek(p, T_BRACE_L)) {
        op->operation = GQL_OP_QUERY;
        op->shorthand = 1;
        op->sel = parse_selection_set(p);
        return;
    }
    op->operation = (uint8_t)parse_operation_type(p, NULL);
    if (peek(p, T_NAME))
        op->name = parse_name(p, &op->name_loc);
    if (expect_optional(p, T_PAREN_L)) {
        size_t m = mark(p);
        do {
            gql_variable_def v;
            memset(&v, 0, sizeof v);
            v.loc = p->tok.start;
            expect(p, T_DOLLAR);
            v.name = parse_name(p, NULL);
            expect(p, T_COLON);
            v.type = parse_type_reference(p);
            if (expect_optional(p, T_EQUALS))
                v.default_value = parse_value(p, 1);
            v.dirs = parse_directives(p, 1, &v.ndirs);
            push(p, &v, sizeof v);
        } while (!expect_optional(p, T_PAREN_R));
        op->vars = collect(p, m, sizeof(gql_variable_def), &op->nvars);
    }
    op->dirs = parse_directives(p, 0, &op->ndirs);
    op->sel = parse_selection_set(p);
}

static void parse_fragment_definition(parser *p, gql_definition *d)
{
    d->kind = GQL_DEF_FRAGMENT;
    d->loc = p->tok.start;
    gql_fragment_node *f = &d->u.frag;
    memset(f, 0, sizeof *f);
    expect_keyword(p, "fragment");
    if (p->tok.kind == T_NAME && gql_str_eqc(p->tok.value, "on"))
        unexpected(p, NULL);
    f->name = parse_name(p, &f->name_loc);
    expect_keyword(p, "on");
    f->type_cond = parse_named_type(p);
    f->dirs = parse_directives(p, 0, &f->ndirs);
    f->sel = parse_selection_set(p);
}

static gql_value *parse_description(parser *p)
{
    if (peek(p, T_STRING) || peek(p, T_BLOCK_STRING))
        return parse_string_literal(p);
    return NULL;
}

static gql_input_value_def *parse_input_value_defs(parser *p, int open, int close, uint32_t *n)
{
    *n = 0;
    if (!expect_optional(p, open))
        return NULL;
    size_t m = mark(p);
    do {
        gql_input_value_def iv;
        memset(&iv, 0, sizeof iv);
        iv.loc = p->tok.start;
        iv.description = parse_description(p);
        iv.name = parse_name(p, &iv.name_loc);
        expect(p, T_COLON);
        iv.type = parse_type_reference(p);
        if (expect_optional(p, T_EQUALS))
            iv.default_value = parse_value(p, 1);
        iv.dirs = parse_directives(p, 1, &iv.ndirs);
        push(p, &iv, sizeof iv);
    } while (!expect_optional(p, close));
    return collect(p, m, sizeof(gql_input_value_def), n);
}

static gql_type_node **parse_delimited_named_types(parser *p, int delim, uint32_t *n)
{
    expect_optional(p, delim);
    size_t m = mark(p);
    do {
        gql_type_node *t = parse_named_type(p);
        push(p, &t, sizeof t);
    } while (expect_optional(p, delim));
    return collect(p, m, sizeof(gql_type_node *), n);
}

static void parse_implements(parser *p, gql_typedef_node *t)
{
    if (expect_optional_keyword(p, "implements"))
        t->types = parse_delimited_named_types(p, T_AMP, &t->ntypes);
}

static void parse_fields_definition(parser *p, gql_typedef_node *t)
{
    if (!expect_optional(p, T_BRACE_L))
        return;
    size_t m = mark(p);
    do {
        gql_field_def_node f;
        memset(&f, 0, sizeof f);
        f.loc = p->tok.start;
        f.description = parse_description(p);
        f.name = parse_name(p, &f.name_loc);
        f.args = parse_input_value_defs(p, T_PAREN_L, T_PAREN_R, &f.nargs);
        expect(p, T_COLON);
        f.type = parse_type_reference(p);
        f.dirs = parse_directives(p, 1, &f.ndirs);
        push(p, &f, sizeof f);
    } while (!expect_optional(p, T_BRACE_R));
    t->fields = collect(p, m, sizeof(gql_field_def_node), &t->nfields);
}

static void parse_enum_values(parser *p, gql_typedef_node *t)
{
    if (!expect_optional(p, T_BRACE_L))
        return;
    size_t m = mark(p);
    do {
        gql_enum_value_def v;
        memset(&v, 0, sizeof v);
        v.loc = p->tok.start;
        v.description = parse_description(p);
        if (p->tok.kind == T_NAME && (gql_str_eqc(p->tok.value, "true") || gql_str_eqc(p->tok.value, "false") ||
                                       gql_str_eqc(p->tok.value, "null")))
            fail_token(p, p->tok.start, "", &p->tok, " is reserved and cannot be used for an enum value.");
        v.name = parse_name(p, &v.name_loc);
        v.dirs = parse_directives(p, 1, &v.ndirs);
        push(p, &v, sizeof v);
    } while (!expect_optional(p, T_BRACE_R));
    t->values = collect(p, m, sizeof(gql_enum_value_def), &t->nvalues);
}

static void parse_operation_types(parser *p, gql_schema_def_node *s, int optional)
{
    if (optional) {
        if (!expect_optional(p, T_BRACE_L))
            return;
    } else {
        expect(p, T_BRACE_L);
    }
    size_t m = mark(p);
    do {
        gql_operation_type_def o;
        o.loc = p->tok.start;
        o.operation = (uint8_t)parse_operation_type(p, NULL);
        expect(p, T_COLON);
        o.type = parse_named_type(p);
        push(p, &o, sizeof o);
    } while (!expect_optional(p, T_BRACE_R));
    s->ops = collect(p, m, sizeof(gql_operation_type_def), &s->nops);
}

static const char *const directive_locations[] = {
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD", "INLINE_FRAGMENT",
    "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT", "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE",
    "UNION", "ENUM", "ENUM_VALUE", "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
};

static void parse_directive_definition(parser *p, gql_definition *d)
{
    d->kind = GQL_DEF_DIRECTIVE;
    d->loc = p->tok.start;
    gql_directive_def_node *dd = &d->u.directive;
    memset(dd, 0, sizeof *dd);
    dd->description = parse_description(p);
    expect_keyword(p, "directive");
    expect(p, T_AT);
    dd->name = parse_name(p, &dd->name_loc);
    dd->args = parse_input_value_defs(p, T_PAREN_L, T_PAREN_R, &dd->nargs);
    dd->repeatable = (uint8_t)expect_optional_keyword(p, "repeatable");
    expect_keyword(p, "on");
    expect_optional(p, T_PIPE);
    size_t m = mark(p);
    do {
        token start = p->tok;
        gql_directive_location_node l;
        l.name = parse_name(p, &l.loc);
        int ok = 0;
        for (size_t i = 0; i < sizeof directive_locations / sizeof *directive_locations; i++)
            if (gql_str_eqc(l.name, directive_locations[i]))
                ok = 1;
        if (!ok)
            unexpected(p, &start);
        push(p, &l, sizeof l);
    } while (expect_optional(p, T_PIPE));
    dd->locations = collect(p, m, sizeof(gql_directive_location_node), &dd->nlocations);
}

/* Parses a type definition whose keyword is the current token (after description). */
static void parse_type_definition(parser *p, gql_definition *d, int kind, const char *kw, gql_value *desc, int is_ext)
{
    d->kind = GQL_DEF_TYPE;
    gql_typedef_node *t = &d->u.type;
    memset(t, 0, sizeof *t);
    t->kind = (uint8_t)kind;
    t->is_extension = (uint8_t)is_ext;
    t->description = desc;
    expect_keyword(p, kw);
    t->name = parse_name(p, &t->name_loc);
    switch (kind) {
    case GQL_TD_SCALAR:
        t->dirs = parse_directives(p, 1, &t->ndirs);
        if (is_ext && t->ndirs == 0)
            unexpected(p, NULL);
        break;
    case GQL_TD_OBJECT:
    case GQL_TD_INTERFACE:
        parse_implements(p, t);
        t->dirs = parse_directives(p, 1, &t->ndirs);
        parse_fields_definition(p, t);
        if (is_ext && t->ntypes == 0 && t->ndirs == 0 && t->nfields == 0)
            unexpected(p, NULL);
        break;
    case GQL_TD_UNION:
        t->dirs = parse_directives(p, 1, &t->ndirs);
        if (expect_optional(p, T_EQUALS))
            t->types = parse_delimited_named_types(p, T_PIPE, &t->ntypes);
        if (is_ext && t->ndirs == 0 && t->ntypes == 0)
            unexpected(p, NULL);
        break;
    case GQL_TD_ENUM:
        t->dirs = parse_directives(p, 1, &t->ndirs);
        parse_enum_values(p, t);
        if (is_ext && t->ndirs == 0 && t->nvalues == 0)
            unexpected(p, NULL);
        break;
    case GQL_TD_INPUT:
        t->dirs = parse_directives(p, 1, &t->ndirs);
        t->input_fields = parse_input_value_defs(p, T_BRACE_L, T_BRACE_R, &t->ninput_fields);
        if (is_ext && t->ndirs == 0 && t->ninput_fields == 0)
            unexpected(p, NULL);
        break;
    }
}

static int typedef_keyword(gql_str v, const char **kw)
{
    static const struct {
        const char *kw;
        int kind;
    } kws[] = {{"scalar", GQL_TD_SCALAR}, {"type", GQL_TD_OBJECT},  {"interface", GQL_TD_INTERFACE},
               {"union", GQL_TD_UNION},   {"enum", GQL_TD_ENUM},    {"input", GQL_TD_INPUT}};
    for (size_t i = 0; i < sizeof kws / sizeof *kws; i++)
        if (gql_str_eqc(v, kws[i].kw)) {
            *kw = kws[i].kw;
            return kws[i].kind;
        }
    return -1;
}

static void parse_schema_definition(parser *p, gql_definition *d, gql_value *desc, int is_ext)
{
    d->kind = GQL_DEF_SCHEMA;
    gql_schema_def_node *s = &d->u.schema;
    memset(s, 0, sizeof *s);
    s->is_extension = (uint8_t)is_ext;
    s->description = desc;
    expect_keyword(p, "schema");
    s->dirs = parse_directives(p, 1, &s->ndirs);
    parse_operation_types(p, s, is_ext);
    if (is_ext && s->ndirs == 0 && s->nops == 0)
        unexpected(p, NULL);
}

static void parse_definition(parser *p, gql_definition *d)
{
    memset(d, 0, sizeof *d);
    d->loc = p->tok.start;
    if (peek(p, T_BRACE_L)) {
        parse_operation_definition(p, d);
        return;
    }
    int has_desc = peek(p, T_STRING) || peek(p, T_BLOCK_STRING);
    const token *kwt = has_desc ? lookahead(p) : &p->tok;
    if (kwt->kind == T_NAME) {
        gql_str v = kwt->value;
        const char *kw;
        int kind = typedef_keyword(v, &kw);
        if (kind >= 0 || gql_str_eqc(v, "schema") || gql_str_eqc(v, "directive")) {
            if (gql_str_eqc(v, "directive")) {
                parse_directive_definition(p, d);
                return;
            }
            gql_value *desc = parse_description(p);
            if (kind >= 0)
                parse_type_definition(p, d, kind, kw, desc, 0);
            else
                parse_schema_definition(p, d, desc, 0);
            return;
        }
        if (has_desc)
            fail(p, p->tok.start, "Unexpected description, descriptions are supported only on type definitions.");
        if (gql_str_eqc(v, "query") || gql_str_eqc(v, "mutation") || gql_str_eqc(v, "subscription")) {
            parse_operation_definition(p, d);
            return;
        }
        if (gql_str_eqc(v, "fragment")) {
            parse_fragment_definition(p, d);
            return;
        }
        if (gql_str_eqc(v, "extend")) {
            const token *k = lookahead(p);
            if (k->kind == T_NAME) {
                gql_str kv = k->value;
                int ek = typedef_keyword(kv, &kw);
                if (ek >= 0) {
                    expect_keyword(p, "extend");
                    parse_type_definition(p, d, ek, kw, NULL, 1);
                    return;
                }
                if (gql_str_eqc(kv, "schema")) {
                    expect_keyword(p, "extend");
                    parse_schema_definition(p, d, NULL, 1);
                    return;
                }
            }
            token kt = *k;
            unexpected(p, &kt);
        }
    }
    token kt = *kwt;
    unexpected(p, &kt);
}

/* Points every fragment spread at its definition (iterative walk over the tree). */
static void link_spreads(gql_document *doc, gql_strmap *frags)
{
    /* explicit stack of selection sets; nesting is bounded by GQL_MAX_NESTING but
     * the stack holds siblings too, so it grows as needed */
    size_t cap = 64, top = 0;
    gql_selection_set **stack = malloc(cap * sizeof *stack);
    if (!stack)
        return;
    for (uint32_t i = 0; i < doc->ndefs; i++) {
        gql_definition *d = &doc->defs[i];
        gql_selection_set *root = d->kind == GQL_DEF_OPERATION  ? d->u.op.sel
                                  : d->kind == GQL_DEF_FRAGMENT ? d->u.frag.sel
                                                                : NULL;
        if (!root || !root->has_spread)
            continue;
        stack[top++] = root;
        while (top) {
            gql_selection_set *ss = stack[--top];
            for (uint32_t j = 0; j < ss->n; j++) {
                gql_selection *s = &ss->items[j];
                gql_selection_set *child = NULL;
                if (s->kind == GQL_SEL_SPREAD) {
                    void *v = gql__strmap_get(frags, s->u.spread.name.s, s->u.spread.name.len);
                    s->u.spread.fragment = v ? (int32_t)((uintptr_t)v - 1) : -1;
                } else if (s->kind == GQL_SEL_FIELD) {
                    child = s->u.field.sel;
                } else {
                    child = s->u.inl.sel;
                }
                if (child && child->has_spread) {
                    if (top == cap) {
                        cap *= 2;
                        gql_selection_set **n = realloc(stack, cap * sizeof *n);
                        if (!n) {
                            free(stack);
                            return;
                        }
                        stack = n;
                    }
                    stack[top++] = child;
                }
            }
        }
    }
    free(stack);
}

gql_document *gql_parse(const char *text, size_t len, const gql_parse_options *opts, gql_errors *errors)
{
    gql_parse_options none;
    memset(&none, 0, sizeof none);
    if (!opts)
        opts = &none;
    if (len >= UINT32_MAX - 16) {
        gql_errors_add(errors, "Syntax Error: Document is too large.");
        return NULL;
    }
    gql_document *doc = calloc(1, sizeof *doc);
    if (!doc) {
        gql_errors_add(errors, "Out of memory.");
        return NULL;
    }
    gql_arena_init(&doc->arena, opts->arena_limit);
    parser *p = calloc(1, sizeof *p);
    if (!p) {
        free(doc);
        gql_errors_add(errors, "Out of memory.");
        return NULL;
    }
    p->A = &doc->arena;
    if (opts->copy_source && len) {
        char *copy = gql_arena_strndup(p->A, text, len);
        if (!copy) {
            gql_arena_free(&doc->arena);
            free(doc);
            free(p);
            gql_errors_add(errors, "Out of memory.");
            return NULL;
        }
        text = copy;
    }
    p->b = (const unsigned char *)(text ? text : "");
    p->len = (uint32_t)len;
    p->max_tokens = opts->max_tokens;
    p->tok.kind = T_SOF;
    gql_buf_init(&p->sbuf, 0);
    doc->source.name = opts->source_name;
    doc->source.body = (const char *)p->b;
    doc->source.len = (uint32_t)len;

    if (setjmp(p->jb) == 0) {
        add_line(p, 0);
        /* many(SOF, parseDefinition, EOF) */
        expect(p, T_SOF);
        size_t m = mark(p);
        do {
            gql_definition d;
            parse_definition(p, &d);
            push(p, &d, sizeof d);
        } while (!expect_optional(p, T_EOF));
        doc->defs = collect(p, m, sizeof(gql_definition), &doc->ndefs);
        doc->nselection_sets = p->nsel;
        doc->ntokens = p->ntokens;
        /* finish the line table: the lexer stopped at the last token */
        for (uint32_t i = p->tok.end; i < p->len; i++) {
            if (p->b[i] == '\n')
                add_line(p, i + 1);
            else if (p->b[i] == '\r') {
                if (i + 1 < p->len && p->b[i + 1] == '\n')
                    i++;
                add_line(p, i + 1);
            }
        }
        doc->source.line_starts = alloc(p, p->nlines * sizeof(uint32_t));
        memcpy(doc->source.line_starts, p->lines, p->nlines * sizeof(uint32_t));
        doc->source.nlines = p->nlines;
        /* fragment table: last definition of a name wins */
        uint32_t nfrag = 0;
        for (uint32_t i = 0; i < doc->ndefs; i++)
            nfrag += doc->defs[i].kind == GQL_DEF_FRAGMENT;
        if (nfrag) {
            gql_strmap map;
            gql__strmap_init(&map, p->A, nfrag);
            doc->fragments = alloc(p, nfrag * sizeof(gql_fragment_node *));
            for (uint32_t i = 0; i < doc->ndefs; i++) {
                if (doc->defs[i].kind != GQL_DEF_FRAGMENT)
                    continue;
                gql_fragment_node *f = &doc->defs[i].u.frag;
                void *v = gql__strmap_get(&map, f->name.s, f->name.len);
                if (v) {
                    doc->fragments[(uintptr_t)v - 1] = f;
                } else {
                    doc->fragments[doc->nfragments] = f;
                    if (gql__strmap_put(&map, f->name.s, f->name.len, (void *)(uintptr_t)(doc->nfragments + 1)))
                        fail_oom(p);
                    doc->nfragments++;
                }
            }
            link_spreads(doc, &map);
        }
    } else {
        gql_source src = doc->source;
        src.line_starts = p->lines;
        src.nlines = p->nlines;
        if (p->oom || !p->errmsg) {
            gql_errors_add(errors, "Out of memory while parsing the document.");
        } else {
            gql_error *e = gql_errors_addn(errors, p->errmsg, p->errlen);
            gql_error_add_location(errors, e, &src, p->errpos);
        }
        free(p->lines);
        free(p->scratch);
        free(p->tmp);
        gql_buf_free(&p->sbuf);
        free(p);
        gql_arena_free(&doc->arena);
        free(doc);
        return NULL;
    }
    free(p->lines);
    free(p->scratch);
    free(p->tmp);
    gql_buf_free(&p->sbuf);
    free(p);
    return doc;
}

void gql_document_free(gql_document *doc)
{
    if (!doc)
        return;
    gql_arena_free(&doc->arena);
    free(doc);
}

gql_location gql_source_location(const gql_source *src, uint32_t offset)
{
    gql_location l = {1, 1};
    if (!src || !src->body)
        return l;
    if (offset > src->len)
        offset = src->len;
    uint32_t line = 0;
    if (src->nlines) {
        /* last line start <= offset */
        uint32_t lo = 0, hi = src->nlines;
        while (hi - lo > 1) {
            uint32_t mid = (lo + hi) / 2;
            if (src->line_starts[mid] <= offset)
                lo = mid;
            else
                hi = mid;
        }
        line = lo;
        l.line = lo + 1;
    } else {
        /* no table (should not happen): count by scanning */
        uint32_t start = 0;
        for (uint32_t i = 0; i < offset; i++) {
            if (src->body[i] == '\n' || src->body[i] == '\r') {
                if (src->body[i] == '\r' && i + 1 < src->len && src->body[i + 1] == '\n')
                    i++;
                l.line++;
                start = i + 1;
            }
        }
        l.column = 1 + gql__utf16_len(src->body + start, offset - start);
        return l;
    }
    uint32_t start = src->line_starts[line];
    l.column = 1 + gql__utf16_len(src->body + start, offset - start);
    return l;
}

const char *gql_operation_type_name(gql_operation_type op)
{
    switch (op) {
    case GQL_OP_QUERY:
        return "query";
    case GQL_OP_MUTATION:
        return "mutation";
    case GQL_OP_SUBSCRIPTION:
        return "subscription";
    }
    return "query";
}
