/*
 * The probe behind gql_json.h's direct reads: sample values built through
 * jansson's API, every direct read compared with the API's answer. Any difference
 * (another jansson version, another build) leaves gql__json_direct false.
 */
#include "gql_json.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

bool gql__json_direct = false;

/* The layout above is jansson 2.14's. */
#define PROBED_VERSION "2.14"

static bool same_object(json_t *o)
{
    struct gql__jobject *x = (struct gql__jobject *)o;
    if (!json_is_object(o) || json_object_size(o) != x->size)
        return false;
    void *it = json_object_iter(o);
    struct gql__jlist *n = x->ordered_list.next;
    size_t count = 0;
    while (it) {
        if (n == &x->ordered_list || it != (void *)n || count > json_object_size(o))
            return false;
        const struct gql__jpair *p = gql__jpair_of(n);
        if (json_object_iter_key(it) != p->key || json_object_iter_key_len(it) != p->key_len ||
            json_object_iter_value(it) != p->value)
            return false;
        it = json_object_iter_next(o, it);
        n = n->next;
        count++;
    }
    return n == &x->ordered_list && count == json_object_size(o);
}

static bool same_array(json_t *a)
{
    const struct gql__jarray *x = (const struct gql__jarray *)a;
    if (!json_is_array(a) || json_array_size(a) != x->entries || x->entries > x->size)
        return false;
    for (size_t i = 0; i < x->entries; i++)
        if (json_array_get(a, i) != x->table[i])
            return false;
    return true;
}

static bool same_string(json_t *s)
{
    const struct gql__jstring *x = (const struct gql__jstring *)s;
    return json_is_string(s) && json_string_value(s) == x->value && json_string_length(s) == x->length;
}

static bool probe(void)
{
    const char *v = jansson_version_str();
    if (JANSSON_VERSION_HEX != 0x020e00 || !v || strcmp(v, PROBED_VERSION) != 0)
        return false;
    bool ok = true;
    /* strings, one with NUL bytes inside */
    json_t *s1 = json_string("graphql"), *s2 = json_stringn("a\0b\0", 4), *s3 = json_string("");
    ok = ok && same_string(s1) && same_string(s2) && same_string(s3);
    /* numbers at the edges */
    const json_int_t ints[] = {0, -1, 1, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
    for (size_t i = 0; ok && i < sizeof ints / sizeof *ints; i++) {
        json_t *j = json_integer(ints[i]);
        ok = j && ((const struct gql__jinteger *)j)->value == json_integer_value(j) && json_integer_value(j) == ints[i];
        json_decref(j);
    }
    const double reals[] = {0.5, -1e300, 5e-324, 123.456};
    for (size_t i = 0; ok && i < sizeof reals / sizeof *reals; i++) {
        json_t *j = json_real(reals[i]);
        double a = ((const struct gql__jreal *)j)->value, b = json_real_value(j);
        ok = j && memcmp(&a, &b, sizeof a) == 0 && a == reals[i];
        json_decref(j);
    }
    /* arrays, grown past their first allocation, with removals and insertions */
    json_t *a = json_array(), *e = json_array();
    for (int i = 0; i < 40; i++)
        json_array_append_new(a, json_integer(i));
    json_array_remove(a, 3);
    json_array_insert_new(a, 0, json_string("x"));
    ok = ok && same_array(a) && same_array(e);
    /* objects, empty, small and rehashed, with replaced and deleted members and keys
     * containing NUL */
    json_t *o = json_object(), *small = json_object(), *empty = json_object();
    char key[16];
    for (int i = 0; i < 60; i++) {
        snprintf(key, sizeof key, "k%d", i);
        json_object_set_new(o, key, json_integer(i));
    }
    json_object_del(o, "k7");
    json_object_set_new(o, "k8", json_string("replaced"));
    json_object_setn_new(o, "n\0ul", 4, json_true());
    json_object_set_new(small, "id", json_string("p1"));
    json_object_set(small, "tags", a);
    ok = ok && same_object(o) && same_object(small) && same_object(empty);
    json_decref(s1);
    json_decref(s2);
    json_decref(s3);
    json_decref(a);
    json_decref(e);
    json_decref(o);
    json_decref(small);
    json_decref(empty);
    return ok;
}

static void run_probe(void)
{
    gql__json_direct = probe();
}

void gql__json_init(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, run_probe);
}
