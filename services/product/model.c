/*
 * Implementation of model.h.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "mc_util.h"
#include "model.h"
#include "search.h"

static json_t *str_array(bson_iter_t *it)
{
    json_t *a = json_array();
    bson_iter_t child;
    if (BSON_ITER_HOLDS_ARRAY(it) && bson_iter_recurse(it, &child))
        while (bson_iter_next(&child))
            if (BSON_ITER_HOLDS_UTF8(&child)) {
                uint32_t len;
                const char *s = bson_iter_utf8(&child, &len);
                json_array_append_new(a, json_stringn(s, len));
            }
    return a;
}

json_t *pm_doc_to_json(const bson_t *doc, pm_internal_t *internal)
{
    json_t *o = json_object();
    pm_internal_t in = {0, 0};
    char hex[25], ts[MC_TIME_BUFSZ];
    bson_iter_t it;
    /* Defaults, so that every product has every field even if a document lacks one. */
    json_object_set_new(o, "id", json_string(""));
    json_object_set_new(o, "name", json_string(""));
    json_object_set_new(o, "slug", json_string(""));
    json_object_set_new(o, "description", json_string(""));
    json_object_set_new(o, "price", json_integer(0));
    json_object_set_new(o, "currency", json_string("USD"));
    json_object_set_new(o, "images", json_array());
    json_object_set_new(o, "categoryId", json_null());
    json_object_set_new(o, "sellerId", json_null());
    json_object_set_new(o, "tags", json_array());
    json_object_set_new(o, "stock", json_integer(0));
    json_object_set_new(o, "ratingAverage", json_real(0));
    json_object_set_new(o, "ratingCount", json_integer(0));
    json_object_set_new(o, "isActive", json_false());
    json_object_set_new(o, "isFeatured", json_false());
    json_object_set_new(o, "createdAt", json_string(mc_time_format(0, ts)));
    json_object_set_new(o, "updatedAt", json_string(mc_time_format(0, ts)));
    if (bson_iter_init(&it, doc)) {
        while (bson_iter_next(&it)) {
            const char *k = bson_iter_key(&it);
            bson_type_t t = bson_iter_type(&it);
            if (strcmp(k, "_id") == 0 && t == BSON_TYPE_OID) {
                bson_oid_to_string(bson_iter_oid(&it), hex);
                json_object_set_new(o, "id", json_string(hex));
            } else if ((strcmp(k, "categoryId") == 0 || strcmp(k, "sellerId") == 0) && t == BSON_TYPE_OID) {
                bson_oid_to_string(bson_iter_oid(&it), hex);
                json_object_set_new(o, k, json_string(hex));
            } else if ((strcmp(k, "name") == 0 || strcmp(k, "slug") == 0 || strcmp(k, "description") == 0 ||
                        strcmp(k, "currency") == 0) &&
                       t == BSON_TYPE_UTF8) {
                uint32_t len;
                const char *s = bson_iter_utf8(&it, &len);
                json_object_set_new(o, k, json_stringn(s, len));
            } else if ((strcmp(k, "price") == 0 || strcmp(k, "stock") == 0 || strcmp(k, "ratingCount") == 0) &&
                       BSON_ITER_HOLDS_NUMBER(&it)) {
                json_object_set_new(o, k, json_integer(bson_iter_as_int64(&it)));
            } else if (strcmp(k, "ratingAverage") == 0 && BSON_ITER_HOLDS_NUMBER(&it)) {
                json_object_set_new(o, k, json_real(bson_iter_as_double(&it)));
            } else if ((strcmp(k, "images") == 0 || strcmp(k, "tags") == 0) && t == BSON_TYPE_ARRAY) {
                json_object_set_new(o, k, str_array(&it));
            } else if ((strcmp(k, "isActive") == 0 || strcmp(k, "isFeatured") == 0) && t == BSON_TYPE_BOOL) {
                json_object_set_new(o, k, json_boolean(bson_iter_bool(&it)));
            } else if ((strcmp(k, "createdAt") == 0 || strcmp(k, "updatedAt") == 0) && t == BSON_TYPE_DATE_TIME) {
                json_object_set_new(o, k, json_string(mc_time_format(bson_iter_date_time(&it), ts)));
            } else if (strcmp(k, "stockSeq") == 0 && BSON_ITER_HOLDS_NUMBER(&it)) {
                in.stock_seq = bson_iter_as_int64(&it);
            } else if (strcmp(k, "ratingSum") == 0 && BSON_ITER_HOLDS_NUMBER(&it)) {
                in.rating_sum = bson_iter_as_int64(&it);
            }
        }
    }
    if (internal != NULL)
        *internal = in;
    return o;
}

static void append_str_array(bson_t *b, const char *key, const json_t *a)
{
    bson_t child;
    char idx[16];
    const char *ks;
    BSON_APPEND_ARRAY_BEGIN(b, key, &child);
    for (size_t i = 0; i < json_array_size(a); ++i) {
        bson_uint32_to_string((uint32_t)i, &ks, idx, sizeof(idx));
        const json_t *s = json_array_get(a, i);
        bson_append_utf8(&child, ks, -1, json_string_value(s), (int)json_string_length(s));
    }
    bson_append_array_end(b, &child);
}

static void append_list(bson_t *b, const char *key, const ps_list_t *l)
{
    bson_t child;
    char idx[16];
    const char *ks;
    BSON_APPEND_ARRAY_BEGIN(b, key, &child);
    for (size_t i = 0; i < l->n; ++i) {
        bson_uint32_to_string((uint32_t)i, &ks, idx, sizeof(idx));
        bson_append_utf8(&child, ks, -1, l->v[i], -1);
    }
    bson_append_array_end(b, &child);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s != NULL ? s : "";
}

static void append_oid(bson_t *b, const char *key, const char *hex)
{
    bson_oid_t oid;
    if (hex != NULL && mc_is_object_id(hex, strlen(hex))) {
        bson_oid_init_from_string(&oid, hex);
        BSON_APPEND_OID(b, key, &oid);
    } else {
        BSON_APPEND_NULL(b, key);
    }
}

static int64_t date_ms(const json_t *o, const char *k)
{
    int64_t ms = 0;
    const char *s = json_string_value(json_object_get(o, k));
    if (s == NULL || mc_time_parse(s, &ms) != 0)
        ms = 0;
    return ms;
}

bson_t *pm_doc_build(const json_t *api, const pm_internal_t *internal)
{
    bson_t *b = bson_new();
    append_oid(b, "_id", jstr(api, "id"));
    const char *name = jstr(api, "name");
    BSON_APPEND_UTF8(b, "name", name);
    BSON_APPEND_UTF8(b, "slug", jstr(api, "slug"));
    BSON_APPEND_UTF8(b, "description", jstr(api, "description"));
    BSON_APPEND_INT64(b, "price", json_integer_value(json_object_get(api, "price")));
    BSON_APPEND_UTF8(b, "currency", jstr(api, "currency"));
    const json_t *images = json_object_get(api, "images"), *tags = json_object_get(api, "tags");
    append_str_array(b, "images", images);
    append_oid(b, "categoryId", jstr(api, "categoryId"));
    append_oid(b, "sellerId", jstr(api, "sellerId"));
    append_str_array(b, "tags", tags);
    BSON_APPEND_INT64(b, "stock", json_integer_value(json_object_get(api, "stock")));
    BSON_APPEND_INT64(b, "stockSeq", internal ? internal->stock_seq : 0);
    BSON_APPEND_DOUBLE(b, "ratingAverage", json_number_value(json_object_get(api, "ratingAverage")));
    BSON_APPEND_INT64(b, "ratingCount", json_integer_value(json_object_get(api, "ratingCount")));
    BSON_APPEND_INT64(b, "ratingSum", internal ? internal->rating_sum : 0);
    BSON_APPEND_BOOL(b, "isActive", json_is_true(json_object_get(api, "isActive")));
    BSON_APPEND_BOOL(b, "isFeatured", json_is_true(json_object_get(api, "isFeatured")));
    BSON_APPEND_DATE_TIME(b, "createdAt", date_ms(api, "createdAt"));
    BSON_APPEND_DATE_TIME(b, "updatedAt", date_ms(api, "updatedAt"));
    char key[PS_NAME_KEY_BYTES + 1];
    ps_name_key(name, strlen(name), key);
    BSON_APPEND_UTF8(b, "nameKey", key);
    size_t ntags = json_array_size(tags);
    const char **tagv = calloc(ntags + 1, sizeof(*tagv));
    if (tagv == NULL)
        abort();
    for (size_t i = 0; i < ntags; ++i)
        tagv[i] = json_string_value(json_array_get(tags, i));
    ps_index_t idx;
    ps_index_build(&idx, name, jstr(api, "description"), tagv, ntags);
    append_list(b, "kw", &idx.kw);
    append_list(b, "kwPre", &idx.prefixes);
    ps_index_free(&idx);
    free(tagv);
    return b;
}

double pm_rating_average(int64_t sum, int64_t count)
{
    if (count <= 0)
        return 0;
    /* integer rounding half up of sum*100/count, so equal inputs give equal doubles */
    int64_t hundredths = (sum * 200 + count) / (2 * count);
    return (double)hundredths / 100.0;
}

char *pm_dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(10));
}

char *pm_payload(const json_t *api)
{
    char *json = pm_dump(api);
    if (json == NULL)
        return NULL;
    const char *seller = jstr(api, "sellerId");
    size_t jl = strlen(json);
    char *out = malloc(1 + 24 + 1 + jl + 1);
    if (out == NULL)
        abort();
    out[0] = json_is_true(json_object_get(api, "isActive")) ? 'A' : 'I';
    if (strlen(seller) == 24)
        memcpy(out + 1, seller, 24);
    else
        memset(out + 1, '0', 24);
    out[25] = '\n';
    memcpy(out + 26, json, jl + 1);
    free(json);
    return out;
}

bool pm_payload_parse(const char *payload, size_t len, bool *active, char *seller, const char **json, size_t *json_len)
{
    if (payload == NULL || len < 27 || (payload[0] != 'A' && payload[0] != 'I') || payload[25] != '\n')
        return false;
    *active = payload[0] == 'A';
    memcpy(seller, payload + 1, 24);
    seller[24] = '\0';
    *json = payload + 26;
    *json_len = len - 26;
    return true;
}
