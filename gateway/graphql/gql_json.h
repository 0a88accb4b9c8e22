/*
 * gql_json: fast read access to jansson values for the executor's inner loops.
 *
 * Why: writing a response reads every property, string and number of the JSON it
 * is built from, and through jansson's API each read is a call into the shared
 * library (four per object member while iterating). Those calls were a fifth of
 * the executor's work. jansson 2.14's values are plain structs (an object is a
 * hash table whose members are also chained in insertion order, a string is a
 * pointer and a length, an array a pointer and a size); reading them directly is
 * a load or two.
 *
 * Safety: that layout is not part of jansson's API, so it is never assumed. The
 * first gql__json_init() (once per process, thread-safe) builds sample values of
 * every kind with the API — objects small and large, with deleted members and keys
 * containing NUL, grown arrays, strings with NUL, extreme numbers — and compares
 * every direct read with the API's answer, including the iteration order and its
 * end. Only when everything matches does `gql__json_direct` become true; otherwise
 * every accessor below is just the API call. Read-only: nothing here writes to a
 * value.
 */
#ifndef GQL_JSON_H
#define GQL_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* jansson 2.14's value structs (jansson_private.h, hashtable.h), as probed. */
struct gql__jlist {
    struct gql__jlist *prev;
    struct gql__jlist *next;
};
struct gql__jpair {
    struct gql__jlist list;
    struct gql__jlist ordered_list;
    size_t hash;
    json_t *value;
    size_t key_len;
    char key[1];
};
struct gql__jobject {
    json_t json;
    size_t size;
    void *buckets;
    size_t order;
    struct gql__jlist list;
    struct gql__jlist ordered_list;
};
struct gql__jstring {
    json_t json;
    char *value;
    size_t length;
};
struct gql__jinteger {
    json_t json;
    json_int_t value;
};
struct gql__jreal {
    json_t json;
    double value;
};
struct gql__jarray {
    json_t json;
    size_t size;    /* allocated */
    size_t entries; /* in use: json_array_size() */
    json_t **table;
};

/* True when the direct reads were verified (read only after gql__json_init()). */
extern bool gql__json_direct;

/* Runs the probe once per process; cheap afterwards. */
void gql__json_init(void);

static inline const char *gql__jstr(const json_t *j)
{
    return gql__json_direct ? ((const struct gql__jstring *)j)->value : json_string_value(j);
}
static inline size_t gql__jstrlen(const json_t *j)
{
    return gql__json_direct ? ((const struct gql__jstring *)j)->length : json_string_length(j);
}
static inline json_int_t gql__jint(const json_t *j)
{
    return gql__json_direct ? ((const struct gql__jinteger *)j)->value : json_integer_value(j);
}
static inline double gql__jreal(const json_t *j)
{
    return gql__json_direct ? ((const struct gql__jreal *)j)->value : json_real_value(j);
}
/* Array `a` (must be an array): its size and item i < size. */
static inline size_t gql__jarray_size(const json_t *a)
{
    return gql__json_direct ? ((const struct gql__jarray *)a)->entries : json_array_size(a);
}
static inline json_t *gql__jarray_get(const json_t *a, size_t i)
{
    return gql__json_direct ? ((const struct gql__jarray *)a)->table[i] : json_array_get(a, i);
}
/* Object `o` (must be an object): its number of members. */
static inline size_t gql__jobject_size(const json_t *o)
{
    return gql__json_direct ? ((const struct gql__jobject *)o)->size : json_object_size(o);
}

/* Iteration over the members of object `o` in insertion order:
 *   for (void *it = gql__jiter(o); it; it = gql__jiter_next(o, it)) { … }  */
static inline void *gql__jiter(json_t *o)
{
    if (!gql__json_direct)
        return json_object_iter(o);
    struct gql__jobject *x = (struct gql__jobject *)o;
    struct gql__jlist *n = x->ordered_list.next;
    return n == &x->ordered_list ? NULL : n;
}
static inline void *gql__jiter_next(json_t *o, void *it)
{
    if (!gql__json_direct)
        return json_object_iter_next(o, it);
    struct gql__jobject *x = (struct gql__jobject *)o;
    struct gql__jlist *n = ((struct gql__jlist *)it)->next;
    return n == &x->ordered_list ? NULL : n;
}
static inline const struct gql__jpair *gql__jpair_of(void *it)
{
    return (const struct gql__jpair *)(const void *)((char *)it - offsetof(struct gql__jpair, ordered_list));
}
static inline const char *gql__jiter_key(void *it)
{
    return gql__json_direct ? gql__jpair_of(it)->key : json_object_iter_key(it);
}
static inline size_t gql__jiter_key_len(void *it)
{
    return gql__json_direct ? gql__jpair_of(it)->key_len : json_object_iter_key_len(it);
}
static inline json_t *gql__jiter_value(void *it)
{
    return gql__json_direct ? gql__jpair_of(it)->value : json_object_iter_value(it);
}

#endif
