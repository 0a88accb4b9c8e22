/*
 * Lexer and recursive-descent parser for GraphQL documents (October 2021 spec),
 * mirroring graphql-js's grammar functions and error messages one for one so that
 * syntax errors match it exactly.
 *
 * Speed: the document is lexed first, in one tight loop, into an array of tokens
 * (kind and byte range); the parser then walks that array, so moving to the next
 * token is a pointer increment and the lexer's state never leaves registers. While
 * lexing, every `{`, `(` and `[` records how many tokens it directly contains: an
 * upper bound of the items of the selection set, argument list or value it opens,
 * so the parser allocates each AST array once, in the arena, and fills it in place
 * (no copying; a wrong bound, possible only in a malformed document, just makes
 * the array grow). Names and escape-free strings are slices of the source.
 *
 * Errors keep graphql-js's order although lexing runs ahead: the lexer does not
 * raise anything. When a token cannot be lexed it ends the array with an error
 * token, and only when the parser reaches that token (where graphql-js's lazy lexer
 * would have failed) is the token lexed again by the exact lexer, which raises the
 * precise message. The token limit (`max_tokens`) is applied the same way: lexing
 * stops after the first token over the limit, which is flagged, and the error is
 * raised when the parser moves onto it.
 *
 * Errors unwind with longjmp: all memory is in the arena or in buffers owned by the
 * parser, which gql_parse() releases on every exit path.
 */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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
    /* not graphql-js kinds: a token that cannot be lexed (the exact lexer raises its
     * error when the parser gets there), and a flag on the first token over the
     * token limit */
    T_ERROR = 32,
    T_LIMIT = 64,
} tok_kind;

static const char *const tok_desc[] = {
    "<SOF>", "<EOF>", "\"!\"", "\"$\"", "\"&\"", "\"(\"", "\")\"", "\"...\"", "\":\"", "\"=\"", "\"@\"",
    "\"[\"", "\"]\"", "\"{\"", "\"|\"", "\"}\"", "Name", "Int", "Float", "String", "BlockString",
};

/* One token of the array. */
typedef struct token {
    uint32_t start;
    uint32_t end;
    /* `{`, `(`, `[`: the number of tokens directly inside (0 = unknown);
     * STRING/BLOCK_STRING: 1 + index of the decoded value in parser.strs, or 0 when
     * the value is the text between the quotes; other kinds: unused */
    uint32_t aux;
    uint8_t kind;
} token;

/* A token as the exact lexer produces it (with its value). */
typedef struct lexeme {
    uint8_t kind;
    uint32_t start;
    uint32_t end;
    gql_str value; /* NAME/INT/FLOAT: the text; STRING/BLOCK_STRING: the decoded value */
} lexeme;

/* Inline capacities: a request-sized document parses without any malloc but the
 * arena's. */
#define INLINE_TOKENS 256
#define INLINE_LINES 128
#define INLINE_SCRATCH 2048
#define INLINE_TEXT 8192 /* a multiple of 64 */
/* Brackets whose contents the lexer counts; deeper ones (the parser refuses them
 * anyway, see GQL_MAX_NESTING) get no count. */
#define LEX_STACK 256

typedef struct parser {
    const unsigned char *b;
    uint32_t len;
    /* the lexer's padded copy of b and its bitmap of name characters (see
     * prepare_text()) */
    const unsigned char *text;
    const uint64_t *name_bits;
    const token *t; /* the current token */
    token la;       /* lookahead copy of a flagged token */
    token *toks;
    uint32_t ntoks, tokcap;
    gql_str *strs; /* decoded string values */
    uint32_t nstrs, capstrs;
    gql_arena *A;
    uint32_t *lines;
    uint32_t nlines, caplines;
    unsigned char *scratch;
    size_t stop, scap;
    uint32_t depth;
    uint32_t max_tokens;
    uint32_t nsel;
    /* fragment spreads, linked to their definitions once parsing is done */
    gql_spread_node **spreads;
    uint32_t nspreads, capspreads;
    jmp_buf jb;
    char *errmsg;
    size_t errlen;
    uint32_t errpos;
    int oom;
    int raising; /* a flagged token's error is being raised */
    /* the lexer's state saved before calling a function that may raise */
    uint32_t lex_start, lex_nlines;
    /* work buffers for string decoding, owned by the parser so that a longjmp out
     * of the lexer leaks nothing (released in gql_parse()) */
    gql_buf sbuf;
    uint32_t *tmp;
    size_t tmpcap;
    token itoks[INLINE_TOKENS];
    uint32_t ilines[INLINE_LINES];
    unsigned char iscratch[INLINE_SCRATCH];
    unsigned char itext[INLINE_TEXT];
    uint64_t ibits[INLINE_TEXT / 64];
} parser;

/* ---- errors ---------------------------------------------------------------------- */

__attribute__((noreturn)) static void fail_oom(parser *p)
{
    p->oom = 1;
    longjmp(p->jb, 1);
}

__attribute__((noreturn)) static void fail_flagged(parser *p, const struct token *t);

/* Raises a syntax error whose message is the NUL-free text `msg` of `n` bytes —
 * unless the parser stands on a token that could not be lexed or is over the
 * limit: graphql-js would have failed when it moved there, so that error wins. */
__attribute__((noreturn)) static void fail_n(parser *p, uint32_t pos, const char *msg, size_t n)
{
    if (p->t && p->t->kind >= T_ERROR && !p->raising)
        fail_flagged(p, p->t);
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

static inline void *alloc(parser *p, size_t n)
{
    void *r = gql_arena_alloc(p->A, n);
    if (__builtin_expect(!r, 0))
        fail_oom(p);
    return r;
}

/* Doubles a malloc'ed array that may still be the parser's inline one. */
static void *grow_array(parser *p, void *arr, void *inline_arr, uint32_t *cap, size_t item, uint32_t first)
{
    uint32_t ncap = *cap ? *cap * 2 : first;
    if (ncap < *cap || (size_t)ncap > SIZE_MAX / item)
        fail_oom(p);
    void *n;
    if (arr == inline_arr) {
        n = malloc((size_t)ncap * item);
        if (n && *cap)
            memcpy(n, arr, (size_t)*cap * item);
    } else {
        n = realloc(arr, (size_t)ncap * item);
    }
    if (!n)
        fail_oom(p);
    *cap = ncap;
    return n;
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
    p->lines = grow_array(p, p->lines, p->ilines, &p->caplines, sizeof *p->lines, 256);
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
    C_OPEN,  /* { ( [ */
    C_CLOSE, /* } ) ] */
    C_DOT,
    C_QUOTE,
    C_NAME,
    C_NUM,   /* digit or minus */
    C_BOM,   /* first byte of U+FEFF */
};

static const uint8_t char_class[256] = {
    ['\t'] = C_SKIP, [' '] = C_SKIP, [','] = C_SKIP, ['\n'] = C_LF, ['\r'] = C_CR, ['#'] = C_HASH,
    ['!'] = C_PUNCT, ['$'] = C_PUNCT, ['&'] = C_PUNCT, ['('] = C_OPEN, [')'] = C_CLOSE, [':'] = C_PUNCT,
    ['='] = C_PUNCT, ['@'] = C_PUNCT, ['['] = C_OPEN, [']'] = C_CLOSE, ['{'] = C_OPEN, ['|'] = C_PUNCT,
    ['}'] = C_CLOSE, ['.'] = C_DOT, ['"'] = C_QUOTE, ['-'] = C_NUM,
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

static void read_number(parser *p, uint32_t start, lexeme *t)
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
static void take_sbuf(parser *p, lexeme *t)
{
    if (p->sbuf.overflow)
        fail_oom(p);
    char *v = gql_arena_strndup(p->A, p->sbuf.data ? p->sbuf.data : "", p->sbuf.len);
    if (!v)
        fail_oom(p);
    t->value.s = v;
    t->value.len = (uint32_t)p->sbuf.len;
}

static void read_string(parser *p, uint32_t start, lexeme *t)
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
/* Bytes that end a plain run inside a block string. */
static const uint8_t block_special[256] = {
    ['"'] = 1, ['\\'] = 1, ['\n'] = 1, ['\r'] = 1,
    [0x80 ... 0xFF] = 1,
};

static void read_block_string(parser *p, uint32_t start, lexeme *t)
{
    const unsigned char *b = p->b;
    uint32_t pos = start + 3;
    size_t nl = 0;
    uint32_t line_start = pos;
    int found = 0;
    while (pos < p->len) {
        int c = b[pos];
        if (!block_special[c]) {
            pos++;
            continue;
        }
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
            pos += (uint32_t)gql__utf8_decode(b + pos, b + p->len, &cp);
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
        while (s + ind < e && is_ws(b[s + ind]))
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
            /* copy plain runs whole, replacing \""" with """ and invalid UTF-8 with
             * U+FFFD */
            uint32_t q = s, run = s;
            while (q < e) {
                int c = b[q];
                if (!block_special[c]) {
                    q++;
                    continue;
                }
                if (c == '\\' && at(p, q + 1) == '"' && at(p, q + 2) == '"' && at(p, q + 3) == '"') {
                    gql_buf_append(out, b + run, q - run);
                    gql_buf_append(out, "\"\"\"", 3);
                    q += 4;
                    run = q;
                    continue;
                }
                if (c < 0x80) {
                    q++;
                    continue;
                }
                uint32_t cp;
                int k = gql__utf8_decode(b + q, b + p->len, &cp);
                if (cp == 0xFFFD && !(k == 3 && c == 0xEF)) {
                    gql_buf_append(out, b + run, q - run);
                    gql_buf_append(out, "\xEF\xBF\xBD", 3);
                    q += (uint32_t)k;
                    run = q;
                    continue;
                }
                q += (uint32_t)k;
            }
            gql_buf_append(out, b + run, e - run);
        }
    }
    take_sbuf(p, t);
}

/* Skips a run of spaces (the exact lexer's way; prelex_run() has a faster one). */
static inline uint32_t skip_spaces(const unsigned char *b, uint32_t pos, uint32_t len)
{
    while (pos < len && b[pos] == ' ')
        pos++;
    return pos;
}

/* The exact lexer: lexes the token that starts at or after `pos` (skipping ignored
 * tokens) and raises the error graphql-js would when it cannot. The token array
 * comes from prelex(); this one lexes a token that prelex() could not, when the
 * parser reaches it. */
static void lex(parser *p, uint32_t pos, lexeme *t)
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
        case C_OPEN:
        case C_CLOSE:
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

/* ---- the token array --------------------------------------------------------------- */

static __attribute__((noinline)) void grow_tokens(parser *p)
{
    p->toks = grow_array(p, p->toks, p->itoks, &p->tokcap, sizeof *p->toks, INLINE_TOKENS);
}

/* Keeps a decoded string value; returns the token's `aux` for it. */
static uint32_t keep_string(parser *p, gql_str v)
{
    if (p->nstrs == p->capstrs)
        p->strs = grow_array(p, p->strs, NULL, &p->capstrs, sizeof *p->strs, 16);
    p->strs[p->nstrs++] = v;
    return p->nstrs;
}

/* Bytes the lexer's copy takes for a text of `len` bytes: the text, its NUL, zero
 * bytes up to a multiple of 64 and one more block of 64, so that any sixteen-byte
 * load from a position up to the NUL stays inside. */
static inline size_t text_size(uint32_t len)
{
    return ((size_t)len / 64 + 2) * 64;
}

/* Makes the lexer's copy of the text (`copy`, text_size() bytes) and, in the same
 * pass, its bitmap of name characters (`bits`, text_size() / 64 words; bit i of
 * word i / 64 is byte i): sixteen bytes are classified by a few SSE2 operations,
 * and later the end of any name is a shift and a count of trailing zeros. */
static void prepare_text(const unsigned char *src, uint32_t len, unsigned char *copy, uint64_t *bits)
{
    uint32_t nwords = (uint32_t)(text_size(len) / 64);
    uint32_t full = len / 64;
#if defined(__SSE2__)
    /* range tests by offset and signed compare: x + (0x80 - lo) is below
     * -128 + (hi - lo + 1) exactly for lo <= x <= hi (bytes >= 0x80 fall out) */
    const __m128i dig_off = _mm_set1_epi8(0x80 - '0'), dig_lim = _mm_set1_epi8(-128 + 10);
    const __m128i low = _mm_set1_epi8(0x20), alp_off = _mm_set1_epi8(0x80 - 'a'), alp_lim = _mm_set1_epi8(-128 + 26);
    const __m128i us = _mm_set1_epi8('_');
#endif
    for (uint32_t w = 0; w < nwords; w++) {
        unsigned char *d = copy + (size_t)w * 64;
        const unsigned char *q = d;
        if (w < full) {
            q = src + (size_t)w * 64;
        } else if (w == full) {
            uint32_t rest = len - full * 64;
            if (rest)
                memcpy(d, src + (size_t)w * 64, rest);
            memset(d + rest, 0, 64 - rest);
        } else {
            memset(d, 0, 64);
        }
        uint64_t m = 0;
#if defined(__SSE2__)
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(q + 16 * k));
            if (w < full)
                _mm_storeu_si128((__m128i *)(void *)(d + 16 * k), x);
            __m128i dig = _mm_cmplt_epi8(_mm_add_epi8(x, dig_off), dig_lim);
            __m128i alp = _mm_cmplt_epi8(_mm_add_epi8(_mm_or_si128(x, low), alp_off), alp_lim);
            __m128i ok = _mm_or_si128(_mm_or_si128(dig, alp), _mm_cmpeq_epi8(x, us));
            m |= (uint64_t)(unsigned)_mm_movemask_epi8(ok) << (16 * k);
        }
#else
        if (w < full)
            memcpy(d, q, 64);
        for (int k = 0; k < 64; k++)
            m |= (uint64_t)name_char[q[k]] << k;
#endif
        bits[w] = m;
    }
}

/* The end of the name whose second byte is at `pos`: the first clear bit from
 * there (the bitmap ends with clear bits). */
static inline uint32_t name_end(const uint64_t *bits, uint32_t pos)
{
    uint32_t w = pos >> 6;
    /* bits shifted in from the top read as name characters: only a set bit of the
     * complement stops, so a name running past the word goes on in the next one */
    uint64_t x = ~bits[w] >> (pos & 63);
    if (__builtin_expect(x != 0, 1))
        return pos + (uint32_t)__builtin_ctzll(x);
    for (;;) {
        x = ~bits[++w];
        if (x)
            return (w << 6) + (uint32_t)__builtin_ctzll(x);
    }
}

/* Skips spaces in the padded copy (the NUL after the text stops it). */
static inline uint32_t skip_spaces_padded(const unsigned char *b, uint32_t pos)
{
#if defined(__SSE2__)
    const __m128i sp = _mm_set1_epi8(' ');
    for (;;) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + pos));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, sp)) ^ 0xFFFFu;
        if (m)
            return pos + (uint32_t)__builtin_ctz(m);
        pos += 16;
    }
#else
    while (b[pos] == ' ')
        pos++;
    return pos;
#endif
}

/* The first byte from `pos` on that ends or complicates a string literal: a quote,
 * a backslash, a line break, NUL or a non-ASCII byte. */
static inline uint32_t string_special(const unsigned char *b, uint32_t pos)
{
#if defined(__SSE2__)
    const __m128i q = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\'), lf = _mm_set1_epi8('\n');
    const __m128i cr = _mm_set1_epi8('\r'), zero = _mm_setzero_si128();
    for (;;) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(b + pos));
        __m128i m1 = _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs));
        __m128i m2 = _mm_or_si128(_mm_cmpeq_epi8(x, lf), _mm_cmpeq_epi8(x, cr));
        __m128i m3 = _mm_or_si128(_mm_cmpeq_epi8(x, zero), _mm_cmplt_epi8(x, zero));
        unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_or_si128(m1, m2), m3));
        if (m)
            return pos + (uint32_t)__builtin_ctz(m);
        pos += 16;
    }
#else
    for (;; pos++) {
        unsigned c = b[pos];
        if (c == '"' || c == '\\' || c == '\n' || c == '\r' || c == 0 || c >= 0x80)
            return pos;
    }
#endif
}

/* Lexes the whole document into p->toks: SOF, the tokens, then EOF — or, when a
 * token cannot be lexed, an error token in its place, or, when there are more
 * tokens than max_tokens, the first one over the limit flagged with T_LIMIT. Raises
 * nothing itself (see the top of the file); numbers and strings that are not plain
 * go through the exact lexer's readers, which may (prelex() catches that). Lines
 * are recorded as they are passed.
 *
 * It reads the padded copy p->text (NUL after the text, then more zero bytes), so
 * that no step needs a bounds check and sixteen-byte loads may run past the end,
 * and finds the ends of names in the bitmap made with the copy; the dispatch is a
 * jump table indexed by the byte (computed goto), each handler jumping straight to
 * the next one. */
static __attribute__((noinline)) void prelex_run(parser *p)
{
    const unsigned char *b = p->text;
    const uint64_t *bits = p->name_bits;
    const uint32_t len = p->len;
    /* the index of the first token over the limit (limit + 1 must not overflow) */
    const uint32_t limit = p->max_tokens && p->max_tokens < UINT32_MAX - 2 ? p->max_tokens + 1 : UINT32_MAX - 1;
    /* open brackets: where each is and the count of its parent so far */
    struct {
        token *at;
        uint32_t count;
    } open[LEX_STACK];
    uint32_t sp = 0, cnt = 0;
    token *t = p->toks, *stop;
    /* the line table, kept in registers between the calls that may grow it */
    uint32_t *lines = p->lines, nlines = p->nlines, caplines = p->caplines;
    uint32_t pos = 0, e;
    /* at `stop`, either the array is nearly full or the token limit is reached */
#define SET_STOP() (stop = p->toks + (p->tokcap - 2 < limit + 1 ? p->tokcap - 2 : limit + 1))
    SET_STOP();
    t->kind = T_SOF;
    t->start = t->end = 0;
    t->aux = 0;
    t++;
    /* every byte defaults to an error, then the classes override it */
#pragma GCC diagnostic push
#if defined(__clang__)
#pragma GCC diagnostic ignored "-Winitializer-overrides"
#else
#pragma GCC diagnostic ignored "-Woverride-init"
#endif
    static const void *const dispatch[256] = {
        [0 ... 255] = &&error,
        [0] = &&l_nul,
        ['\t'] = &&l_space, [' '] = &&l_space, [','] = &&l_space,
        ['\n'] = &&l_lf, ['\r'] = &&l_cr, ['#'] = &&l_hash, [0xEF] = &&l_bom,
        ['!'] = &&l_punct, ['$'] = &&l_punct, ['&'] = &&l_punct, [':'] = &&l_punct,
        ['='] = &&l_punct, ['@'] = &&l_punct, ['|'] = &&l_punct,
        ['('] = &&l_open, ['['] = &&l_open, ['{'] = &&l_open,
        [')'] = &&l_close, [']'] = &&l_close, ['}'] = &&l_close,
        ['.'] = &&l_dot, ['"'] = &&l_quote, ['-'] = &&l_num, ['0' ... '9'] = &&l_num,
        ['_'] = &&l_name, ['a' ... 'z'] = &&l_name, ['A' ... 'Z'] = &&l_name,
    };
#pragma GCC diagnostic pop
#define NEXT goto *dispatch[b[pos]]
#define EMITTED                                                                                                        \
    do {                                                                                                               \
        if (__builtin_expect(++t >= stop, 0))                                                                          \
            goto full;                                                                                                 \
        NEXT;                                                                                                          \
    } while (0)
    NEXT;
l_space:
    pos++;
    NEXT;
l_lf:
    pos++;
    if (__builtin_expect(nlines == caplines, 0))
        goto more_lines;
    lines[nlines++] = pos;
    pos = skip_spaces_padded(b, pos);
    NEXT;
l_cr:
    pos += b[pos + 1] == '\n' ? 2 : 1;
    if (__builtin_expect(nlines == caplines, 0))
        goto more_lines;
    lines[nlines++] = pos;
    NEXT;
more_lines:
    /* the line starting at pos is added after growing the table */
    p->nlines = nlines;
    grow_lines(p);
    lines = p->lines;
    caplines = p->caplines;
    lines[nlines++] = pos;
    NEXT;
l_hash: {
    /* a comment runs to the end of the line (LF or CR) */
    const unsigned char *nl = memchr(b + pos, '\n', len - pos);
    uint32_t end = nl ? (uint32_t)(nl - b) : len;
    const unsigned char *cr = memchr(b + pos, '\r', end - pos);
    pos = cr ? (uint32_t)(cr - b) : end;
    NEXT;
}
l_bom:
    if (b[pos + 1] == 0xBB && b[pos + 2] == 0xBF) {
        pos += 3;
        NEXT;
    }
    goto error;
l_nul:
    if (pos >= len)
        goto eof;
    goto error;
l_name:
    e = name_end(bits, pos + 1);
    t->kind = T_NAME;
    t->start = pos;
    t->end = e;
    pos = e;
    cnt++;
    EMITTED;
l_punct:
    t->kind = punct_kind[b[pos]];
    t->start = pos;
    t->end = ++pos;
    cnt++;
    EMITTED;
l_open:
    t->kind = punct_kind[b[pos]];
    t->start = pos;
    t->end = ++pos;
    t->aux = 0;
    cnt++;
    if (sp < LEX_STACK) {
        open[sp].at = t;
        open[sp].count = cnt;
    }
    sp++;
    cnt = 0;
    EMITTED;
l_close:
    t->kind = punct_kind[b[pos]];
    t->start = pos;
    t->end = ++pos;
    if (sp) {
        sp--;
        if (sp < LEX_STACK) {
            open[sp].at->aux = cnt;
            cnt = open[sp].count;
        } else {
            cnt = 0;
        }
    }
    EMITTED;
l_dot:
    if (b[pos + 1] == '.' && b[pos + 2] == '.') {
        t->kind = T_SPREAD;
        t->start = pos;
        t->end = pos + 3;
        pos += 3;
        cnt++;
        EMITTED;
    }
    goto error;
l_num: {
    /* plain integers here; anything else (fractions, exponents, errors) through
     * the exact reader */
    uint32_t q = pos + (b[pos] == '-');
    if (b[q] == '0') {
        q++;
        if (is_digit(b[q]))
            goto slow;
    } else if (is_digit(b[q])) {
        do
            q++;
        while (is_digit(b[q]));
    } else {
        goto slow;
    }
    if (b[q] == '.' || is_name_start(b[q]))
        goto slow;
    t->kind = T_INT;
    t->start = pos;
    t->end = q;
    pos = q;
    cnt++;
    EMITTED;
}
l_quote:
    if (b[pos + 1] != '"') {
        e = string_special(b, pos + 1);
        if (b[e] == '"') {
            t->kind = T_STRING;
            t->start = pos;
            t->end = e + 1;
            t->aux = 0;
            pos = e + 1;
            cnt++;
            EMITTED;
        }
    }
    goto slow;
slow: {
    /* the exact readers, on the original text; they may raise */
    lexeme x;
    p->ntoks = (uint32_t)(t - p->toks);
    p->lex_start = pos;
    p->nlines = p->lex_nlines = nlines;
    x.start = pos;
    x.value.s = NULL;
    x.value.len = 0;
    if (b[pos] != '"')
        read_number(p, pos, &x);
    else if (b[pos + 1] == '"' && b[pos + 2] == '"')
        read_block_string(p, pos, &x);
    else
        read_string(p, pos, &x);
    t->kind = x.kind;
    t->start = pos;
    t->end = x.end;
    t->aux = 0;
    if (x.kind == T_BLOCK_STRING || (x.kind == T_STRING && x.value.s != (const char *)p->b + pos + 1))
        t->aux = keep_string(p, x.value);
    lines = p->lines;
    nlines = p->nlines;
    caplines = p->caplines;
    pos = x.end;
    cnt++;
    EMITTED;
}
full: {
    uint32_t n = (uint32_t)(t - p->toks);
    if (n - 1 >= limit) {
        t[-1].kind |= T_LIMIT;
        p->ntoks = n;
        p->nlines = nlines;
        return;
    }
    p->ntoks = n;
    /* the open brackets move with the array */
    uint32_t at[LEX_STACK];
    for (uint32_t i = 0; i < sp && i < LEX_STACK; i++)
        at[i] = (uint32_t)(open[i].at - p->toks);
    grow_tokens(p);
    for (uint32_t i = 0; i < sp && i < LEX_STACK; i++)
        open[i].at = p->toks + at[i];
    t = p->toks + n;
    SET_STOP();
    NEXT;
}
eof:
    /* EOF twice: the parser's last step moves past the first one */
    t[0].kind = t[1].kind = T_EOF;
    t[0].start = t[0].end = t[1].start = t[1].end = len;
    p->ntoks = (uint32_t)(t - p->toks) + 1;
    p->nlines = nlines;
    return;
error:
    t->kind = T_ERROR;
    t->start = t->end = pos;
    p->ntoks = (uint32_t)(t - p->toks) + 1;
    p->nlines = nlines;
#undef NEXT
#undef EMITTED
#undef SET_STOP
}

static void prelex(parser *p)
{
    if (setjmp(p->jb)) {
        /* out of memory: gql_parse() reports it */
        if (p->oom)
            return;
        /* a number or string could not be lexed: the exact lexer raises its error
         * again when the parser gets there */
        p->nlines = p->lex_nlines;
        token *t = &p->toks[p->ntoks];
        t->kind = T_ERROR;
        t->start = t->end = p->lex_start;
        p->ntoks++;
        return;
    }
    prelex_run(p);
}

/* The value of a NAME, INT, FLOAT, STRING or BLOCK_STRING token. */
static inline gql_str tval(const parser *p, const token *t)
{
    gql_str v;
    if (t->kind >= T_STRING && t->aux)
        return p->strs[t->aux - 1];
    if (t->kind == T_STRING) {
        v.s = (const char *)p->b + t->start + 1;
        v.len = t->end - t->start - 2;
        return v;
    }
    v.s = (const char *)p->b + t->start;
    v.len = t->end - t->start;
    return v;
}

/* The parser reached a token prelex() could not lex (the exact lexer raises the
 * error graphql-js gives there) or the first token over the limit. */
__attribute__((noreturn, noinline)) static void fail_flagged(parser *p, const token *t)
{
    p->raising = 1;
    if (t->kind == T_ERROR) {
        lexeme x;
        lex(p, t->start, &x);
        fail(p, t->start, "Unexpected character."); /* not reached: lex() raised */
    }
    fail(p, t->start, "Document contains more that %u tokens. Parsing aborted.", p->max_tokens);
}

/* graphql-js getTokenDesc(): `Name "foo"`, `"{"`, `<EOF>` … */
static size_t token_desc(const parser *p, const token *t, char *out, size_t outsz, gql_str *extra)
{
    extra->s = NULL;
    extra->len = 0;
    if (t->kind >= T_NAME)
        *extra = tval(p, t);
    return (size_t)snprintf(out, outsz, "%s", tok_desc[t->kind]);
}

/* Raises "<prefix><token description><suffix>" (the description may contain NUL
 * bytes of a string value, so it is assembled by length). */
__attribute__((noreturn)) static void fail_token(parser *p, uint32_t pos, const char *prefix, const token *t, const char *suffix)
{
    if (t->kind >= T_ERROR)
        fail_flagged(p, t);
    char kind[32];
    gql_str val;
    token_desc(p, t, kind, sizeof kind, &val);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_buf_puts(&b, prefix);
    gql_buf_puts(&b, kind);
    if (val.s) {
        gql_buf_puts(&b, " \"");
        gql_buf_append(&b, val.s, val.len);
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
        t = p->t;
    fail_token(p, t->start, "Unexpected ", t, ".");
}

/* Moves to the next token. An error token or one over the limit is not raised
 * here but when the parser looks at it (it always does before anything else can
 * fail: every check of a kind fails for them and every message about the current
 * token goes through fail_token()), which keeps this step a pointer increment. */
static inline void advance(parser *p)
{
    p->t++;
}

/* The token after the current one (graphql-js lookahead()): a token over the
 * limit is seen as itself; the limit applies when the parser moves onto it. */
static const token *lookahead(parser *p)
{
    if (p->t->kind == T_EOF)
        return p->t;
    const token *n = p->t + 1;
    if (n->kind == T_ERROR)
        fail_flagged(p, n);
    if (n->kind & T_LIMIT) {
        p->la = *n;
        p->la.kind &= (uint8_t)~T_LIMIT;
        return &p->la;
    }
    return n;
}

static inline int peek(parser *p, int kind)
{
    return p->t->kind == kind;
}

__attribute__((noreturn, noinline)) static void fail_expected(parser *p, int kind)
{
    char pre[48];
    snprintf(pre, sizeof pre, "Expected %s, found ", tok_desc[kind]);
    fail_token(p, p->t->start, pre, p->t, ".");
}

static inline void expect(parser *p, int kind)
{
    if (__builtin_expect(p->t->kind != kind, 0))
        fail_expected(p, kind);
    advance(p);
}

static inline int expect_optional(parser *p, int kind)
{
    if (p->t->kind == kind) {
        advance(p);
        return 1;
    }
    return 0;
}

static inline bool tok_is(const parser *p, const token *t, const char *kw)
{
    return t->kind == T_NAME && gql_str_eqc(tval(p, t), kw);
}

static void expect_keyword(parser *p, const char *kw)
{
    if (tok_is(p, p->t, kw)) {
        advance(p);
        return;
    }
    char pre[64];
    snprintf(pre, sizeof pre, "Expected \"%s\", found ", kw);
    fail_token(p, p->t->start, pre, p->t, ".");
}

static int expect_optional_keyword(parser *p, const char *kw)
{
    if (tok_is(p, p->t, kw)) {
        advance(p);
        return 1;
    }
    return 0;
}

/* ---- scratch stack: lists of unknown length are built here, then copied ------------ */

static size_t mark(parser *p)
{
    return p->stop;
}

static __attribute__((noinline)) void grow_scratch(parser *p, size_t size)
{
    size_t cap = p->scap * 2;
    while (cap < p->stop + size)
        cap *= 2;
    unsigned char *n;
    if (p->scratch == p->iscratch) {
        n = malloc(cap);
        if (n)
            memcpy(n, p->scratch, p->stop);
    } else {
        n = realloc(p->scratch, cap);
    }
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

/* ---- arrays built in place ---------------------------------------------------------- */

/* An AST array filled in place: allocated once for the bound the lexer counted
 * (items ≤ tokens inside the bracket / tokens per item), moved to a bigger block
 * only if a malformed document beats the bound. */
typedef struct vec {
    void *items;
    uint32_t n;
    uint32_t cap;
} vec;

static inline void vec_init(parser *p, vec *v, const token *open, uint32_t per_item, size_t size)
{
    uint32_t cap = open->aux / per_item;
    if (cap == 0)
        cap = 4;
    v->items = alloc(p, (size_t)cap * size);
    v->n = 0;
    v->cap = cap;
}

static __attribute__((noinline)) void vec_grow(parser *p, vec *v, size_t size)
{
    if (v->cap > UINT32_MAX / 2)
        fail_oom(p);
    void *n = alloc(p, (size_t)v->cap * 2 * size);
    memcpy(n, v->items, (size_t)v->n * size);
    v->items = n;
    v->cap *= 2;
}

static inline void *vec_add(parser *p, vec *v, size_t size)
{
    if (__builtin_expect(v->n == v->cap, 0))
        vec_grow(p, v, size);
    return (char *)v->items + (size_t)v->n++ * size;
}

static inline void enter(parser *p, uint32_t pos)
{
    if (__builtin_expect(++p->depth > GQL_MAX_NESTING, 0))
        fail(p, pos, "Document is nested too deeply (more than %d levels).", GQL_MAX_NESTING);
}

static inline void leave(parser *p)
{
    p->depth--;
}
/* ---- grammar ----------------------------------------------------------------------- */

static inline gql_str parse_name(parser *p, uint32_t *loc)
{
    const token *t = p->t;
    if (__builtin_expect(t->kind != T_NAME, 0))
        fail_expected(p, T_NAME);
    gql_str v;
    v.s = (const char *)p->b + t->start;
    v.len = t->end - t->start;
    if (loc)
        *loc = t->start;
    advance(p);
    return v;
}

static gql_value *parse_value_any(parser *p, int is_const);

static inline gql_value *new_value(parser *p, int kind, uint32_t loc)
{
    gql_value *v = alloc(p, sizeof *v);
    v->kind = (uint8_t)kind;
    v->block = 0;
    v->boolean = 0;
    v->loc = loc;
    v->u.list.items = NULL;
    v->u.list.n = 0;
    return v;
}

static gql_value *parse_string_literal(parser *p)
{
    const token *t = p->t;
    advance(p);
    gql_value *v = new_value(p, GQL_VALUE_STRING, t->start);
    v->block = t->kind == T_BLOCK_STRING;
    v->u.str = tval(p, t);
    return v;
}

static gql_value *parse_variable_value(parser *p)
{
    uint32_t start = p->t->start;
    expect(p, T_DOLLAR);
    gql_value *v = new_value(p, GQL_VALUE_VARIABLE, start);
    v->u.str = parse_name(p, NULL);
    return v;
}

/* A value: the scalar kinds inline (most values are), the rest in
 * parse_value_any(). */
static inline gql_value *parse_value(parser *p, int is_const)
{
    const token *t = p->t;
    gql_value *v;
    switch (t->kind) {
    case T_INT:
        v = new_value(p, GQL_VALUE_INT, t->start);
        break;
    case T_FLOAT:
        v = new_value(p, GQL_VALUE_FLOAT, t->start);
        break;
    case T_STRING:
        if (t->aux)
            return parse_value_any(p, is_const);
        v = new_value(p, GQL_VALUE_STRING, t->start);
        v->u.str.s = (const char *)p->b + t->start + 1;
        v->u.str.len = t->end - t->start - 2;
        p->t = t + 1;
        return v;
    case T_DOLLAR:
        if (is_const || t[1].kind != T_NAME)
            return parse_value_any(p, is_const);
        v = new_value(p, GQL_VALUE_VARIABLE, t->start);
        v->u.str.s = (const char *)p->b + t[1].start;
        v->u.str.len = t[1].end - t[1].start;
        p->t = t + 2;
        return v;
    default:
        return parse_value_any(p, is_const);
    }
    v->u.str.s = (const char *)p->b + t->start;
    v->u.str.len = t->end - t->start;
    p->t = t + 1;
    return v;
}

static gql_value *parse_value_any(parser *p, int is_const)
{
    const token *t = p->t;
    switch (t->kind) {
    case T_BRACKET_L: {
        enter(p, t->start);
        gql_value *v = new_value(p, GQL_VALUE_LIST, t->start);
        advance(p);
        if (!expect_optional(p, T_BRACKET_R)) {
            vec items;
            vec_init(p, &items, t, 1, sizeof(gql_value *));
            do {
                gql_value **slot = vec_add(p, &items, sizeof *slot);
                *slot = parse_value(p, is_const);
            } while (!expect_optional(p, T_BRACKET_R));
            v->u.list.items = items.items;
            v->u.list.n = items.n;
        }
        leave(p);
        return v;
    }
    case T_BRACE_L: {
        enter(p, t->start);
        gql_value *v = new_value(p, GQL_VALUE_OBJECT, t->start);
        advance(p);
        if (!expect_optional(p, T_BRACE_R)) {
            vec fields;
            vec_init(p, &fields, t, 3, sizeof(gql_object_field));
            do {
                gql_object_field *f = vec_add(p, &fields, sizeof *f);
                f->name = parse_name(p, &f->loc);
                expect(p, T_COLON);
                f->value = parse_value(p, is_const);
            } while (!expect_optional(p, T_BRACE_R));
            v->u.object.fields = fields.items;
            v->u.object.n = fields.n;
        }
        leave(p);
        return v;
    }
    case T_INT:
    case T_FLOAT: {
        advance(p);
        gql_value *v = new_value(p, t->kind == T_INT ? GQL_VALUE_INT : GQL_VALUE_FLOAT, t->start);
        v->u.str.s = (const char *)p->b + t->start;
        v->u.str.len = t->end - t->start;
        return v;
    }
    case T_STRING:
    case T_BLOCK_STRING:
        return parse_string_literal(p);
    case T_NAME: {
        advance(p);
        gql_str name = tval(p, t);
        gql_value *v;
        if (gql_str_eqc(name, "true") || gql_str_eqc(name, "false")) {
            v = new_value(p, GQL_VALUE_BOOLEAN, t->start);
            v->boolean = name.len == 4;
        } else if (gql_str_eqc(name, "null")) {
            v = new_value(p, GQL_VALUE_NULL, t->start);
        } else {
            v = new_value(p, GQL_VALUE_ENUM, t->start);
            v->u.str = name;
        }
        return v;
    }
    case T_DOLLAR:
        if (is_const) {
            expect(p, T_DOLLAR);
            if (p->t->kind == T_NAME) {
                gql_str name = tval(p, p->t);
                gql_buf b;
                gql_buf_init(&b, 0);
                gql_buf_puts(&b, "Unexpected variable \"$");
                gql_buf_append(&b, name.s, name.len);
                gql_buf_puts(&b, "\" in constant value.");
                char *m = gql_arena_strndup(p->A, b.data, b.len);
                size_t n = b.len;
                gql_buf_free(&b);
                if (!m)
                    fail_oom(p);
                fail_n(p, t->start, m, n);
            }
            unexpected(p, t);
        }
        return parse_variable_value(p);
    default:
        unexpected(p, NULL);
    }
}

static gql_argument *parse_arguments(parser *p, int is_const, uint32_t *n)
{
    const token *open = p->t;
    if (open->kind != T_PAREN_L) {
        *n = 0;
        return NULL;
    }
    advance(p);
    vec v;
    vec_init(p, &v, open, 3, sizeof(gql_argument));
    do {
        gql_argument *a = vec_add(p, &v, sizeof *a);
        a->name = parse_name(p, &a->loc);
        expect(p, T_COLON);
        a->value = parse_value(p, is_const);
    } while (!expect_optional(p, T_PAREN_R));
    *n = v.n;
    return v.items;
}

static gql_directive *parse_directives(parser *p, int is_const, uint32_t *n)
{
    *n = 0;
    if (!peek(p, T_AT))
        return NULL;
    size_t m = mark(p);
    while (peek(p, T_AT)) {
        gql_directive d;
        d.loc = p->t->start;
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
    uint32_t start = p->t->start;
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

static __attribute__((noinline)) void grow_spreads(parser *p)
{
    p->spreads = grow_array(p, p->spreads, NULL, &p->capspreads, sizeof *p->spreads, 16);
}

/* Parses one selection into `s`; returns whether a fragment spread occurs in it. */
static int parse_selection(parser *p, gql_selection *s)
{
    const token *t = p->t;
    s->loc = t->start;
    if (t->kind == T_SPREAD) {
        advance(p);
        int has_type_cond = expect_optional_keyword(p, "on");
        if (!has_type_cond && peek(p, T_NAME)) {
            s->kind = GQL_SEL_SPREAD;
            gql_spread_node *sp = &s->u.spread;
            /* parseFragmentName: `on` cannot name a fragment (already consumed above) */
            sp->name = parse_name(p, &sp->name_loc);
            sp->dirs = parse_directives(p, 0, &sp->ndirs);
            sp->fragment = -1;
            if (p->nspreads == p->capspreads)
                grow_spreads(p);
            p->spreads[p->nspreads++] = sp;
            return 1;
        }
        s->kind = GQL_SEL_INLINE;
        gql_inline_node *in = &s->u.inl;
        in->type_cond = has_type_cond ? parse_named_type(p) : NULL;
        in->dirs = parse_directives(p, 0, &in->ndirs);
        in->sel = parse_selection_set(p);
        return in->sel->has_spread;
    }
    s->kind = GQL_SEL_FIELD;
    gql_field_node *f = &s->u.field;
    uint32_t l;
    gql_str first = parse_name(p, &l);
    if (p->t->kind == T_COLON) {
        advance(p);
        f->alias = first;
        f->alias_loc = l;
        f->name = parse_name(p, &f->name_loc);
    } else {
        f->alias.s = NULL;
        f->alias.len = 0;
        f->alias_loc = 0;
        f->name = first;
        f->name_loc = l;
    }
    f->args = NULL;
    f->nargs = 0;
    if (p->t->kind == T_PAREN_L)
        f->args = parse_arguments(p, 0, &f->nargs);
    f->dirs = NULL;
    f->ndirs = 0;
    if (p->t->kind == T_AT)
        f->dirs = parse_directives(p, 0, &f->ndirs);
    if (p->t->kind == T_BRACE_L) {
        f->sel = parse_selection_set(p);
        return f->sel->has_spread;
    }
    f->sel = NULL;
    return 0;
}

static gql_selection_set *parse_selection_set(parser *p)
{
    const token *open = p->t;
    enter(p, open->start);
    gql_selection_set *ss = alloc(p, sizeof *ss);
    ss->loc = open->start;
    ss->id = p->nsel++;
    expect(p, T_BRACE_L);
    vec v;
    vec_init(p, &v, open, 1, sizeof(gql_selection));
    int has_spread = 0;
    do {
        gql_selection *s = vec_add(p, &v, sizeof *s);
        const token *t = p->t;
        /* the usual selection, a bare field name (its leaf or its own set next) */
        if (t->kind == T_NAME && (t[1].kind == T_NAME || t[1].kind == T_BRACE_R || t[1].kind == T_BRACE_L)) {
            s->kind = GQL_SEL_FIELD;
            s->loc = t->start;
            gql_field_node *f = &s->u.field;
            f->alias.s = NULL;
            f->alias.len = 0;
            f->alias_loc = 0;
            f->name.s = (const char *)p->b + t->start;
            f->name.len = t->end - t->start;
            f->name_loc = t->start;
            f->args = NULL;
            f->nargs = 0;
            f->dirs = NULL;
            f->ndirs = 0;
            p->t = t + 1;
            if (t[1].kind == T_BRACE_L) {
                f->sel = parse_selection_set(p);
                has_spread |= f->sel->has_spread;
            } else {
                f->sel = NULL;
            }
            continue;
        }
        has_spread |= parse_selection(p, s);
    } while (!expect_optional(p, T_BRACE_R));
    ss->items = v.items;
    ss->n = v.n;
    ss->has_spread = (uint8_t)has_spread;
    leave(p);
    return ss;
}

static int parse_operation_type(parser *p, uint32_t *loc)
{
    const token *t = p->t;
    if (t->kind != T_NAME)
        fail_expected(p, T_NAME);
    advance(p);
    if (loc)
        *loc = t->start;
    gql_str v = tval(p, t);
    if (gql_str_eqc(v, "query"))
        return GQL_OP_QUERY;
    if (gql_str_eqc(v, "mutation"))
        return GQL_OP_MUTATION;
    if (gql_str_eqc(v, "subscription"))
        return GQL_OP_SUBSCRIPTION;
    unexpected(p, t);
}

static void parse_operation_definition(parser *p, gql_definition *d)
{
    d->kind = GQL_DEF_OPERATION;
    d->loc = p->t->start;
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
    const token *open = p->t;
    if (expect_optional(p, T_PAREN_L)) {
        vec vars;
        vec_init(p, &vars, open, 4, sizeof(gql_variable_def));
        do {
            gql_variable_def *v = vec_add(p, &vars, sizeof *v);
            v->loc = p->t->start;
            expect(p, T_DOLLAR);
            v->name = parse_name(p, NULL);
            expect(p, T_COLON);
            v->type = parse_type_reference(p);
            v->default_value = expect_optional(p, T_EQUALS) ? parse_value(p, 1) : NULL;
            v->dirs = parse_directives(p, 1, &v->ndirs);
        } while (!expect_optional(p, T_PAREN_R));
        op->vars = vars.items;
        op->nvars = vars.n;
    }
    op->dirs = parse_directives(p, 0, &op->ndirs);
    op->sel = parse_selection_set(p);
}

static void parse_fragment_definition(parser *p, gql_definition *d)
{
    d->kind = GQL_DEF_FRAGMENT;
    d->loc = p->t->start;
    gql_fragment_node *f = &d->u.frag;
    memset(f, 0, sizeof *f);
    expect_keyword(p, "fragment");
    if (tok_is(p, p->t, "on"))
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
        iv.loc = p->t->start;
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
        f.loc = p->t->start;
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
        v.loc = p->t->start;
        v.description = parse_description(p);
        if (tok_is(p, p->t, "true") || tok_is(p, p->t, "false") || tok_is(p, p->t, "null"))
            fail_token(p, p->t->start, "", p->t, " is reserved and cannot be used for an enum value.");
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
        o.loc = p->t->start;
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
    d->loc = p->t->start;
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
        const token *start = p->t;
        gql_directive_location_node l;
        l.name = parse_name(p, &l.loc);
        int ok = 0;
        for (size_t i = 0; i < sizeof directive_locations / sizeof *directive_locations; i++)
            if (gql_str_eqc(l.name, directive_locations[i]))
                ok = 1;
        if (!ok)
            unexpected(p, start);
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
    d->loc = p->t->start;
    if (peek(p, T_BRACE_L)) {
        parse_operation_definition(p, d);
        return;
    }
    int has_desc = peek(p, T_STRING) || peek(p, T_BLOCK_STRING);
    const token *kwt = has_desc ? lookahead(p) : p->t;
    if (kwt->kind == T_NAME) {
        gql_str v = tval(p, kwt);
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
            fail(p, p->t->start, "Unexpected description, descriptions are supported only on type definitions.");
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
                gql_str kv = tval(p, k);
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
            unexpected(p, k);
        }
    }
    unexpected(p, kwt);
}

/* The index of the fragment named `name` in doc->fragments, or -1: a short list is
 * searched directly, a long one through `map` (built by the caller). */
static int32_t find_fragment(const gql_document *doc, const gql_strmap *map, gql_str name)
{
    if (map) {
        void *v = gql__strmap_get(map, name.s, name.len);
        return v ? (int32_t)((uintptr_t)v - 1) : -1;
    }
    for (uint32_t i = 0; i < doc->nfragments; i++) {
        gql_str f = doc->fragments[i]->name;
        if (f.len == name.len && f.s[0] == name.s[0] && memcmp(f.s, name.s, f.len) == 0)
            return (int32_t)i;
    }
    return -1;
}

#define FRAGMENT_MAP_MIN 16

/* Builds the fragment table (one entry per name, the last definition wins, as in
 * graphql-js) and points every fragment spread at its definition. */
static void link_fragments(parser *p, gql_document *doc)
{
    uint32_t nfrag = 0;
    for (uint32_t i = 0; i < doc->ndefs; i++)
        nfrag += doc->defs[i].kind == GQL_DEF_FRAGMENT;
    if (!nfrag)
        return;
    gql_strmap map, *mp = NULL;
    if (nfrag >= FRAGMENT_MAP_MIN) {
        gql__strmap_init(&map, p->A, nfrag);
        mp = &map;
    }
    doc->fragments = alloc(p, nfrag * sizeof(gql_fragment_node *));
    for (uint32_t i = 0; i < doc->ndefs; i++) {
        if (doc->defs[i].kind != GQL_DEF_FRAGMENT)
            continue;
        gql_fragment_node *f = &doc->defs[i].u.frag;
        int32_t k = find_fragment(doc, mp, f->name);
        if (k >= 0) {
            doc->fragments[k] = f;
        } else {
            doc->fragments[doc->nfragments] = f;
            if (mp && gql__strmap_put(mp, f->name.s, f->name.len, (void *)(uintptr_t)(doc->nfragments + 1)))
                fail_oom(p);
            doc->nfragments++;
        }
    }
    for (uint32_t i = 0; i < p->nspreads; i++)
        p->spreads[i]->fragment = find_fragment(doc, mp, p->spreads[i]->name);
}

/* Releases what the parser malloc'ed (its inline buffers aside). */
static void parser_release(parser *p)
{
    if (p->toks != p->itoks)
        free(p->toks);
    if (p->text != p->itext)
        free((void *)p->text); /* with the bitmap */
    if (p->lines != p->ilines)
        free(p->lines);
    if (p->scratch != p->iscratch)
        free(p->scratch);
    free(p->strs);
    free(p->spreads);
    free(p->tmp);
    gql_buf_free(&p->sbuf);
}

/* The document lives in its own arena; the first chunk is sized for the tree a
 * document of this length usually needs, so that most parses take one malloc. */
static gql_document *new_document(size_t len, size_t limit)
{
    gql_arena a;
    gql_arena_init(&a, limit);
    size_t guess = len * 12 + 1024;
    gql__arena_set_next_chunk(&a, guess);
    gql_document *doc = gql_arena_alloc(&a, sizeof *doc);
    if (!doc) {
        gql_arena_free(&a);
        return NULL;
    }
    memset(doc, 0, sizeof *doc);
    doc->arena = a;
    return doc;
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
    gql_document *doc = new_document(len, opts->arena_limit);
    if (!doc) {
        gql_errors_add(errors, "Out of memory.");
        return NULL;
    }
    /* the parser state (with its inline buffers) is on the stack */
    parser ps;
    parser *p = &ps;
    memset(p, 0, offsetof(parser, itoks));
    p->A = &doc->arena;
    if (opts->copy_source && len) {
        char *copy = gql_arena_strndup(p->A, text, len);
        if (!copy) {
            gql_document_free(doc);
            gql_errors_add(errors, "Out of memory.");
            return NULL;
        }
        text = copy;
    }
    p->b = (const unsigned char *)(text ? text : "");
    p->len = (uint32_t)len;
    p->max_tokens = opts->max_tokens;
    /* about one token per four bytes of text, usually */
    p->toks = p->itoks;
    p->tokcap = INLINE_TOKENS;
    if (len / 4 > INLINE_TOKENS) {
        token *t = malloc((len / 4 + 16) * sizeof *t);
        if (t) {
            p->toks = t;
            p->tokcap = (uint32_t)(len / 4 + 16);
        }
    }
    p->lines = p->ilines;
    p->caplines = INLINE_LINES;
    p->scratch = p->iscratch;
    p->scap = INLINE_SCRATCH;
    gql_buf_init(&p->sbuf, 0);
    doc->source.name = opts->source_name;
    doc->source.body = (const char *)p->b;
    doc->source.len = (uint32_t)len;

    p->lines[p->nlines++] = 0;
    /* the lexer's copy of the text and its bitmap: inline, or one block */
    size_t tsize = text_size((uint32_t)len);
    unsigned char *copy;
    uint64_t *bits;
    if (tsize <= INLINE_TEXT) {
        copy = p->itext;
        bits = p->ibits;
    } else {
        copy = malloc(tsize + tsize / 8);
        bits = (uint64_t *)(void *)(copy + tsize);
    }
    p->text = copy ? copy : p->itext;
    if (!copy) {
        p->oom = 1;
    } else {
        p->name_bits = bits;
        prepare_text(p->b, (uint32_t)len, copy, bits);
        prelex(p);
    }
    if (setjmp(p->jb) == 0) {
        if (p->oom)
            fail_oom(p);
        p->t = p->toks;
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
        doc->ntokens = p->ntoks - 2; /* SOF and EOF do not count */
        doc->source.line_starts = alloc(p, p->nlines * sizeof(uint32_t));
        memcpy(doc->source.line_starts, p->lines, p->nlines * sizeof(uint32_t));
        doc->source.nlines = p->nlines;
        link_fragments(p, doc);
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
        parser_release(p);
        gql_document_free(doc);
        return NULL;
    }
    parser_release(p);
    return doc;
}

void gql_document_free(gql_document *doc)
{
    if (!doc)
        return;
    /* the document is inside its own arena */
    gql_arena a = doc->arena;
    gql_arena_free(&a);
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
