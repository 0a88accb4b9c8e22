/*
 * Implementation of mc_bson_json.h.
 */
#include <string.h>
#include "mc_bson_json.h"
#include "mc_util.h"

#define MAX_DEPTH 32

/* Member names MongoDB and FerretDB store. */
static bool key_ok(const char *k)
{
    return k[0] != '\0' && k[0] != '$' && strchr(k, '.') == NULL;
}

/* "at", "createdAt", …: the names MC_BJ_DATES stores as dates. */
static bool ends_with_at(const char *k)
{
    size_t n = strlen(k);
    return (n == 2 && strcmp(k, "at") == 0) || (n > 2 && strcmp(k + n - 2, "At") == 0);
}

static bool append_value(bson_t *b, const char *key, size_t klen, const json_t *v, unsigned flags, int depth);

/* The members of a JSON object (top: the document itself, where "id" may become _id). */
static bool append_object(bson_t *b, const json_t *obj, unsigned flags, int depth, bool top)
{
    if (depth > MAX_DEPTH)
        return false;
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)obj, k, v)
    {
        if (!key_ok(k))
            return false;
        if (top && (flags & MC_BJ_ID) && strcmp(k, "id") == 0 && json_is_string(v) &&
            mc_is_object_id(json_string_value(v), json_string_length(v))) {
            bson_oid_t oid;
            bson_oid_init_from_string(&oid, json_string_value(v));
            if (!BSON_APPEND_OID(b, "_id", &oid))
                return false;
            continue;
        }
        if ((flags & MC_BJ_DATES) && json_is_string(v) && ends_with_at(k)) {
            int64_t ms;
            if (mc_time_parse(json_string_value(v), &ms) == 0) {
                if (!bson_append_date_time(b, k, -1, ms))
                    return false;
                continue;
            }
        }
        if (!append_value(b, k, strlen(k), v, flags, depth))
            return false;
    }
    return true;
}

/* One JSON value as a BSON element. */
static bool append_value(bson_t *b, const char *key, size_t klen, const json_t *v, unsigned flags, int depth)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: {
        bson_t child;
        if (!bson_append_document_begin(b, key, (int)klen, &child))
            return false;
        bool ok = append_object(&child, v, flags, depth + 1, false);
        return bson_append_document_end(b, &child) && ok;
    }
    case JSON_ARRAY: {
        if (depth + 1 > MAX_DEPTH)
            return false;
        bson_t child;
        if (!bson_append_array_begin(b, key, (int)klen, &child))
            return false;
        bool ok = true;
        size_t i;
        json_t *item;
        json_array_foreach(v, i, item)
        {
            char idx[24];
            const char *ks;
            size_t kl = bson_uint32_to_string((uint32_t)i, &ks, idx, sizeof(idx));
            if (!(ok = append_value(&child, ks, kl, item, flags, depth + 1)))
                break;
        }
        return bson_append_array_end(b, &child) && ok;
    }
    case JSON_STRING:
        if (memchr(json_string_value(v), '\0', json_string_length(v)) != NULL)
            return false;
        return bson_append_utf8(b, key, (int)klen, json_string_value(v), (int)json_string_length(v));
    case JSON_INTEGER:
        return bson_append_int64(b, key, (int)klen, json_integer_value(v));
    case JSON_REAL:
        return bson_append_double(b, key, (int)klen, json_real_value(v));
    case JSON_TRUE:
    case JSON_FALSE:
        return bson_append_bool(b, key, (int)klen, json_is_true(v));
    case JSON_NULL:
        return bson_append_null(b, key, (int)klen);
    }
    return false;
}

bool mc_json_to_bson(const json_t *obj, bson_t *out, unsigned flags)
{
    return json_is_object(obj) && append_object(out, obj, flags, 0, true);
}

static json_t *iter_value(bson_iter_t *it, unsigned flags, int depth);

/* A BSON document or array as JSON. */
static json_t *read_doc(bson_iter_t *it, unsigned flags, int depth, bool array, bool top)
{
    json_t *out = array ? json_array() : json_object();
    while (bson_iter_next(it)) {
        json_t *v = iter_value(it, flags, depth + 1);
        if (v == NULL)
            continue;
        if (array) {
            json_array_append_new(out, v);
            continue;
        }
        const char *k = bson_iter_key(it);
        if (top && (flags & MC_BJ_ID) && strcmp(k, "_id") == 0)
            k = "id";
        json_object_set_new(out, k, v);
    }
    return out;
}

/* The value at the iterator as JSON, or NULL for types JSON has no use for. */
static json_t *iter_value(bson_iter_t *it, unsigned flags, int depth)
{
    if (depth > MAX_DEPTH + 1)
        return NULL;
    switch (bson_iter_type(it)) {
    case BSON_TYPE_UTF8: {
        uint32_t len;
        const char *s = bson_iter_utf8(it, &len);
        return json_stringn(s, len);
    }
    case BSON_TYPE_INT32:
    case BSON_TYPE_INT64:
        return json_integer(bson_iter_as_int64(it));
    case BSON_TYPE_DOUBLE:
        return json_real(bson_iter_double(it));
    case BSON_TYPE_BOOL:
        return json_boolean(bson_iter_bool(it));
    case BSON_TYPE_NULL:
        return json_null();
    case BSON_TYPE_OID: {
        char hex[25];
        bson_oid_to_string(bson_iter_oid(it), hex);
        return json_string(hex);
    }
    case BSON_TYPE_DATE_TIME: {
        char ts[MC_TIME_BUFSZ];
        return json_string(mc_time_format(bson_iter_date_time(it), ts));
    }
    case BSON_TYPE_DOCUMENT:
    case BSON_TYPE_ARRAY: {
        bson_iter_t child;
        if (!bson_iter_recurse(it, &child))
            return NULL;
        return read_doc(&child, flags, depth, bson_iter_type(it) == BSON_TYPE_ARRAY, false);
    }
    default:
        return NULL;
    }
}

json_t *mc_bson_to_json(const bson_t *doc, unsigned flags)
{
    bson_iter_t it;
    if (!bson_iter_init(&it, doc))
        return NULL;
    return read_doc(&it, flags, 0, false, true);
}
