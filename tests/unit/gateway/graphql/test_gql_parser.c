/*
 * Unit tests of the lexer and parser: locations, the hard nesting cap, the token
 * limit, fragment linking, ownership of the source text, and very large inputs.
 * (Syntax error messages are compared against graphql-js by the differential tests.)
 */
#include "gql_test.h"

static char *parse_error(const char *text, const gql_parse_options *o)
{
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = gql_parse(text, strlen(text), o, &e);
    assert_null(d);
    assert_int_equal(e.count, 1);
    gql_buf b;
    gql_buf_init(&b, 0);
    gql_errors_write_json(&e, &b, false);
    gql_errors_free(&e);
    return gql_buf_steal(&b, NULL);
}

static void test_locations(void **state)
{
    (void)state;
    /* CRLF and CR end lines; columns count UTF-16 units (é is one, 😀 two) */
    const char *text = "{\r\n  a\r  b\n\td(x: \"é😀\") c }";
    gql_document *d = doc_of(text);
    gql_location l = gql_source_location(&d->source, (uint32_t)(strstr(text, "c }") - text));
    assert_int_equal(l.line, 4);
    assert_int_equal(l.column, 14);
    l = gql_source_location(&d->source, (uint32_t)(strchr(text, 'b') - text));
    assert_int_equal(l.line, 3);
    assert_int_equal(l.column, 3);
    gql_document_free(d);
    /* a block string spanning lines advances the line count */
    assert_json_eq(parse_error("{ a(x: \"\"\"\none\ntwo\"\"\") ?", NULL),
                   "[{\"message\":\"Syntax Error: Unexpected character: \\\"?\\\".\",\"locations\":[{\"line\":3,\"column\":9}]}]");
}

static char *nested(const char *open, const char *close, const char *middle, int n)
{
    size_t lo = strlen(open), lc = strlen(close), lm = strlen(middle);
    char *s = malloc((size_t)n * (lo + lc) + lm + 1);
    char *p = s;
    for (int i = 0; i < n; i++, p += lo)
        memcpy(p, open, lo);
    memcpy(p, middle, lm);
    p += lm;
    for (int i = 0; i < n; i++, p += lc)
        memcpy(p, close, lc);
    *p = 0;
    return s;
}

static void test_nesting_cap(void **state)
{
    (void)state;
    gql_errors e;
    gql_errors_init(&e);
    /* selection sets: 128 levels parse, 129 do not */
    char *ok = nested("{ a ", "}", "b", GQL_MAX_NESTING);
    gql_document *d = gql_parse(ok, strlen(ok), NULL, &e);
    assert_non_null(d);
    gql_document_free(d);
    char *deep = nested("{ a ", "}", "b", GQL_MAX_NESTING + 1);
    d = gql_parse(deep, strlen(deep), NULL, &e);
    assert_null(d);
    assert_non_null(strstr(e.head->message, "nested too deeply"));
    free(ok);
    free(deep);
    /* list values and list types count too; a million brackets cannot overflow the stack */
    char *lists = nested("[", "]", "1", 1000000);
    char *q = malloc(strlen(lists) + 20);
    sprintf(q, "{ a(x: %s) }", lists);
    gql_errors_free(&e);
    gql_errors_init(&e);
    assert_null(gql_parse(q, strlen(q), NULL, &e));
    assert_non_null(strstr(e.head->message, "nested too deeply"));
    free(q);
    free(lists);
    char *types = nested("[", "]", "Int", 200);
    q = malloc(strlen(types) + 40);
    sprintf(q, "query ($v: %s) { a }", types);
    gql_errors_free(&e);
    gql_errors_init(&e);
    assert_null(gql_parse(q, strlen(q), NULL, &e));
    free(q);
    free(types);
    char *objs = nested("{a: ", "}", "1", 500);
    q = malloc(strlen(objs) + 20);
    sprintf(q, "{ a(x: %s) }", objs);
    gql_errors_free(&e);
    gql_errors_init(&e);
    assert_null(gql_parse(q, strlen(q), NULL, &e));
    free(q);
    free(objs);
    gql_errors_free(&e);
}

static void test_token_limit(void **state)
{
    (void)state;
    gql_parse_options o;
    memset(&o, 0, sizeof o);
    o.max_tokens = 4; /* "{", "a", "b", "}" */
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = gql_parse("{ a b }", 7, &o, &e);
    assert_non_null(d);
    assert_int_equal(d->ntokens, 4);
    gql_document_free(d);
    /* same wording as graphql-js's maxTokens option */
    assert_json_eq(parse_error("{ a b c }", &o), "[{\"message\":\"Syntax Error: Document contains more that 4 tokens. "
                                                 "Parsing aborted.\",\"locations\":[{\"line\":1,\"column\":9}]}]");
    gql_errors_free(&e);
}

static void test_fragments_linked(void **state)
{
    (void)state;
    gql_document *d = doc_of("{ ...A ...B ...Missing } fragment A on Q { a } fragment B on Q { b } fragment A on Q { c }");
    assert_int_equal(d->nfragments, 2);
    const gql_selection_set *ss = d->defs[0].u.op.sel;
    assert_int_equal(ss->items[0].u.spread.fragment, 0);
    assert_int_equal(ss->items[1].u.spread.fragment, 1);
    assert_int_equal(ss->items[2].u.spread.fragment, -1);
    /* the last definition of a name wins, as in graphql-js */
    assert_true(gql_str_eqc(d->fragments[0]->sel->items[0].u.field.name, "c"));
    assert_true(ss->has_spread);
    gql_document_free(d);
}

static void test_copy_source(void **state)
{
    (void)state;
    char *text = strdup("query Q($v: String = \"default\") { field(arg: $v) }");
    gql_parse_options o;
    memset(&o, 0, sizeof o);
    o.copy_source = true;
    gql_errors e;
    gql_errors_init(&e);
    gql_document *d = gql_parse(text, strlen(text), &o, &e);
    memset(text, 'x', strlen(text));
    free(text);
    assert_non_null(d);
    assert_true(gql_str_eqc(d->defs[0].u.op.name, "Q"));
    assert_true(gql_str_eqc(d->defs[0].u.op.vars[0].default_value->u.str, "default"));
    gql_document_free(d);
    gql_errors_free(&e);
}

static void test_strings_decoded(void **state)
{
    (void)state;
    gql_document *d = doc_of("{ a(s: \"\\u00e9\\uD83D\\uDE00\\u{1F600}\\n\\\"\", b: \"\"\"\n    x\n      y\n\"\"\", c: \"\xff\") }");
    const gql_argument *args = d->defs[0].u.op.sel->items[0].u.field.args;
    gql_str s = args[0].value->u.str;
    assert_int_equal(s.len, 2 + 4 + 4 + 2);
    assert_memory_equal(s.s, "\xc3\xa9\xf0\x9f\x98\x80\xf0\x9f\x98\x80\n\"", s.len);
    assert_true(gql_str_eqc(args[1].value->u.str, "x\n  y"));
    assert_true(args[1].value->block);
    /* invalid UTF-8 reads as U+FFFD, as Node would decode it */
    assert_true(gql_str_eqc(args[2].value->u.str, "\xef\xbf\xbd"));
    gql_document_free(d);
}

static void test_large_document(void **state)
{
    (void)state;
    /* 200k fields in one selection set: linear, no recursion per sibling */
    size_t n = 200000;
    char *q = malloc(n * 4 + 8);
    char *p = q;
    *p++ = '{';
    for (size_t i = 0; i < n; i++) {
        memcpy(p, " ab", 3);
        p += 3;
    }
    *p++ = '}';
    *p = 0;
    gql_document *d = doc_of(q);
    assert_int_equal(d->defs[0].u.op.sel->n, n);
    gql_document_free(d);
    free(q);
}

static void test_empty_and_binary(void **state)
{
    (void)state;
    assert_json_eq(parse_error("", NULL),
                   "[{\"message\":\"Syntax Error: Unexpected <EOF>.\",\"locations\":[{\"line\":1,\"column\":1}]}]");
    const char bin[] = {'{', 0, '}'};
    gql_errors e;
    gql_errors_init(&e);
    assert_null(gql_parse(bin, 3, NULL, &e));
    assert_string_equal(e.head->message, "Syntax Error: Unexpected character: U+0000.");
    gql_errors_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_locations),      cmocka_unit_test(test_nesting_cap),
        cmocka_unit_test(test_token_limit),    cmocka_unit_test(test_fragments_linked),
        cmocka_unit_test(test_copy_source),    cmocka_unit_test(test_strings_decoded),
        cmocka_unit_test(test_large_document), cmocka_unit_test(test_empty_and_binary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
