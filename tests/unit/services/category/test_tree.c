/*
 * Unit tests of services/category/tree.c: ordering, nesting, look-ups, breadcrumbs,
 * descendants, and damaged data (cycles, missing parents) that must not hang a read.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>
#include "tree.h"

#define ID(n) "00000000000000000000000" #n

static json_t *cat(const char *id, const char *name, const char *parent, int position, bool active)
{
    char slug[64];
    snprintf(slug, sizeof(slug), "slug-%s", name);
    return json_pack("{s:s,s:s,s:s,s:s?,s:i,s:b}", "id", id, "name", name, "slug", slug, "parentId", parent, "position",
                     position, "isActive", active);
}

/* root A(1) with children C(pos 2) and B(pos 1); B has child D (inactive) with child E. */
static cat_snapshot_t *sample(void)
{
    json_t *l = json_array();
    json_array_append_new(l, cat(ID(5), "E", ID(4), 0, true));
    json_array_append_new(l, cat(ID(3), "C", ID(1), 2, true));
    json_array_append_new(l, cat(ID(1), "A", NULL, 1, true));
    json_array_append_new(l, cat(ID(2), "B", ID(1), 1, true));
    json_array_append_new(l, cat(ID(4), "D", ID(2), 0, false));
    json_array_append_new(l, cat(ID(6), "F", NULL, 0, true));
    return cat_snapshot_build(l, "v1");
}

static void nesting_and_order(void **state)
{
    cat_snapshot_t *s = sample();
    assert_non_null(s);
    json_t *t = cat_tree_json(s, false, CATEGORY_NONE);
    char *dump = json_dumps(t, JSON_COMPACT);
    /* roots F(0) before A(1); B(1) before C(2) under A */
    const char *f = strstr(dump, "\"name\":\"F\""), *a = strstr(dump, "\"name\":\"A\""), *b = strstr(dump, "\"name\":\"B\""),
               *c = strstr(dump, "\"name\":\"C\"");
    assert_true(f && a && b && c && f < a && a < b && b < c);
    assert_int_equal(json_array_size(t), 2);
    json_t *A = json_array_get(t, 1);
    assert_int_equal(json_array_size(json_object_get(A, "children")), 2);
    free(dump);
    json_decref(t);
    /* active only: D and its child E disappear */
    t = cat_tree_json(s, true, CATEGORY_NONE);
    dump = json_dumps(t, JSON_COMPACT);
    assert_null(strstr(dump, "\"name\":\"D\""));
    assert_null(strstr(dump, "\"name\":\"E\""));
    free(dump);
    json_decref(t);
    cat_snapshot_release(s);
}

static void lookups_and_breadcrumbs(void **state)
{
    cat_snapshot_t *s = sample();
    size_t e = cat_find_id(s, ID(5));
    assert_int_not_equal(e, CATEGORY_NONE);
    assert_int_equal(cat_find_slug(s, "slug-E"), e);
    assert_int_equal(cat_find_id(s, ID(9)), CATEGORY_NONE);
    assert_int_equal(s->nodes[e].depth, 4);
    json_t *anc = cat_ancestors_json(s, e, false);
    assert_int_equal(json_array_size(anc), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(anc, 0), "name")), "A");
    assert_string_equal(json_string_value(json_object_get(json_array_get(anc, 2), "name")), "D");
    json_decref(anc);
    anc = cat_ancestors_json(s, e, true);
    assert_int_equal(json_array_size(anc), 4);
    json_decref(anc);
    size_t a = cat_find_id(s, ID(1));
    json_t *d = cat_descendant_ids(s, a);
    assert_int_equal(json_array_size(d), 4);
    json_decref(d);
    assert_true(cat_in_subtree(s, e, a));
    assert_false(cat_in_subtree(s, a, e));
    assert_int_equal(cat_subtree_height(s, a), 4);
    assert_int_equal(cat_child_count(s, a), 2);
    cat_snapshot_release(s);
}

static void damaged_data_is_tolerated(void **state)
{
    json_t *l = json_array();
    /* X and Y point at each other; Z points at a missing parent */
    json_array_append_new(l, cat(ID(7), "X", ID(8), 0, true));
    json_array_append_new(l, cat(ID(8), "Y", ID(7), 0, true));
    json_array_append_new(l, cat(ID(9), "Z", "ffffffffffffffffffffffff", 0, true));
    cat_snapshot_t *s = cat_snapshot_build(l, NULL);
    assert_non_null(s);
    json_t *t = cat_tree_json(s, false, CATEGORY_NONE);
    json_t *ids = cat_descendant_ids(s, cat_find_id(s, ID(7)));
    /* every category still appears exactly once in the tree */
    char *dump = json_dumps(t, JSON_COMPACT);
    for (const char *n = "XYZ"; *n; ++n) {
        char key[16];
        snprintf(key, sizeof(key), "\"name\":\"%c\"", *n);
        const char *first = strstr(dump, key);
        assert_non_null(first);
        assert_null(strstr(first + 1, key));
    }
    free(dump);
    json_decref(ids);
    json_decref(t);
    cat_snapshot_release(s);
    /* an element without a name is refused */
    l = json_array();
    json_array_append_new(l, json_pack("{s:s}", "id", ID(1)));
    assert_null(cat_snapshot_build(l, NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nesting_and_order),
        cmocka_unit_test(lookups_and_breadcrumbs),
        cmocka_unit_test(damaged_data_is_tolerated),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
