/*
 * Unit tests of gateway/gw_template.c: parsing templates (and refusing bad ones with a
 * useful message), evaluating expressions, and rendering values with the escaping of a
 * path segment or a query component.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "gw_template.h"

static gql_arena A;

static int setup(void **state)
{
    (void)state;
    gql_arena_init(&A, 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    gql_arena_free(&A);
    return 0;
}

static void parses_literals_and_expressions(void **state)
{
    (void)state;
    gw_tpl_t t;
    char err[256];
    assert_int_equal(gw_tpl_parse(&A, "/api/products/{args.id}/reviews", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(t.nparts, 3);
    assert_memory_equal(t.parts[0].lit, "/api/products/", 14);
    assert_int_equal(t.parts[1].expr->root, GW_ROOT_ARGS);
    assert_int_equal(t.parts[1].expr->nsteps, 1);
    assert_string_equal(t.parts[1].expr->steps[0], "id");
    assert_null(gw_tpl_single(&t));
    assert_int_equal(gw_tpl_parse(&A, "{parent.a.b}", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_non_null(gw_tpl_single(&t));
    assert_int_equal(gw_tpl_single(&t)->nsteps, 2);
    /* doubled braces are literal */
    assert_int_equal(gw_tpl_parse(&A, "a{{b}}c", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(t.nparts, 1);
    assert_memory_equal(t.parts[0].lit, "a{b}c", 5);
}

static void refuses_what_cannot_work(void **state)
{
    (void)state;
    gw_tpl_t t;
    char err[256];
    static const struct {
        const char *text, *says;
    } bad[] = {
        {"/x/{arg.id}", "unknown root 'arg'"},
        {"/x/{args.id", "unclosed"},
        {"/x/}", "unmatched"},
        {"{args}", "needs a name"},
        {"{auth.email}", "auth.sub and auth.role"},
        {"{args.a..b}", "empty name"},
        {"{args.a b}", "unexpected character"},
        {"{response.x}", "unknown root 'response'"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        err[0] = '\0';
        assert_int_equal(gw_tpl_parse(&A, bad[i].text, GW_ROOTS_FIELD, &t, err, sizeof(err)), -1);
        if (strstr(err, bad[i].says) == NULL)
            fail_msg("%s: '%s' lacks '%s'", bad[i].text, err, bad[i].says);
    }
    assert_int_equal(gw_tpl_parse(&A, "{response.x}", GW_ROOTS_RESULT, &t, err, sizeof(err)), 0);
}

static char *render(const char *text, json_t *args, gw_escape_t esc, int *rc)
{
    gw_tpl_t t;
    char err[256];
    assert_int_equal(gw_tpl_parse(&A, text, GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    gw_scope_t s = {args, NULL, NULL, NULL};
    gql_buf b;
    gql_buf_init(&b, 0);
    *rc = gw_tpl_render(&t, &s, NULL, esc, &b, NULL);
    char *out = strdup(gql_buf_cstr(&b));
    gql_buf_free(&b);
    return out;
}

static void renders_with_the_right_escaping(void **state)
{
    (void)state;
    json_t *args = json_pack("{s:s,s:I,s:b,s:f,s:s,s:s,s:n,s:[s],s:s,s:s}", "id", "a/b?c#d e%", "n",
                             (json_int_t)5000000000LL, "yes", 1, "x", 0.5, "utf", "caf\xc3\xa9", "dot", ".", "nul", "list",
                             "a", "empty", "", "dots", "..");
    int rc;
    char *s = render("/p/{args.id}", args, GW_ESC_SEGMENT, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "/p/a%2Fb%3Fc%23d%20e%25");
    free(s);
    s = render("{args.n}-{args.yes}-{args.x}-{args.utf}", args, GW_ESC_QUERY, &rc);
    assert_int_equal(rc, 0);
    assert_string_equal(s, "5000000000-true-0.5-caf%C3%A9");
    free(s);
    /* absent and null: 1 (the caller leaves the parameter out); object/list: -1 */
    free(render("{args.missing}", args, GW_ESC_QUERY, &rc));
    assert_int_equal(rc, 1);
    free(render("{args.nul}", args, GW_ESC_QUERY, &rc));
    assert_int_equal(rc, 1);
    free(render("{args.list}", args, GW_ESC_QUERY, &rc));
    assert_int_equal(rc, -1);
    /* a segment that would name another resource: 2 */
    free(render("/p/{args.dot}", args, GW_ESC_SEGMENT, &rc));
    assert_int_equal(rc, 2);
    free(render("/p/{args.dots}", args, GW_ESC_SEGMENT, &rc));
    assert_int_equal(rc, 2);
    free(render("/p/{args.empty}", args, GW_ESC_SEGMENT, &rc));
    assert_int_equal(rc, 2);
    s = render("/p/{args.dots}x", args, GW_ESC_SEGMENT, &rc); /* ".." inside a segment is harmless */
    assert_int_equal(rc, 0);
    free(s);
    json_decref(args);
}

static void a_single_expression_keeps_its_type(void **state)
{
    (void)state;
    gw_tpl_t t;
    char err[256];
    json_t *args = json_pack("{s:{s:s,s:i}}", "input", "name", "x", "n", 3);
    gw_scope_t s = {args, NULL, NULL, NULL};
    json_t *v;
    const gw_expr_t *bad;
    assert_int_equal(gw_tpl_parse(&A, "{args.input}", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(gw_tpl_value(&t, &s, NULL, &v, &bad), 0);
    assert_true(json_is_object(v));
    json_decref(v);
    assert_int_equal(gw_tpl_parse(&A, "{args.input.n}", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(gw_tpl_value(&t, &s, NULL, &v, &bad), 0);
    assert_int_equal(json_integer_value(v), 3);
    json_decref(v);
    assert_int_equal(gw_tpl_parse(&A, "n{args.input.n}", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(gw_tpl_value(&t, &s, NULL, &v, &bad), 0);
    assert_string_equal(json_string_value(v), "n3");
    json_decref(v);
    assert_int_equal(gw_tpl_parse(&A, "{args.input.none}", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(gw_tpl_value(&t, &s, NULL, &v, &bad), 0);
    assert_null(v);
    assert_int_equal(gw_tpl_parse(&A, "x{args.input}", GW_ROOTS_FIELD, &t, err, sizeof(err)), 0);
    assert_int_equal(gw_tpl_value(&t, &s, NULL, &v, &bad), -1);
    assert_string_equal(bad->text, "args.input");
    /* stepping into a non-object is absent, not a crash */
    assert_null(gw_json_path(json_object_get(args, "input"), (const char *const[]){"name", "deeper"}, 2));
    json_decref(args);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parses_literals_and_expressions),
        cmocka_unit_test(refuses_what_cannot_work),
        cmocka_unit_test(renders_with_the_right_escaping),
        cmocka_unit_test(a_single_expression_keeps_its_type),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
