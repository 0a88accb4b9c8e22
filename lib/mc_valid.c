/*
 * Implementation of mc_valid.h.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mc_req.h"
#include "mc_util.h"
#include "mc_valid.h"

void mc_valid_init(mc_valid_t *v, mc_req_t *req, json_t *obj)
{
    v->obj = obj;
    v->req = req;
    v->errors = NULL;
}

void mc_valid_error(mc_valid_t *v, const char *field, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (v->errors == NULL)
        v->errors = mc_req_keep_json(v->req, json_array());
    json_t *f = json_string(field);
    json_array_append_new(v->errors, json_pack("{s:o,s:s}", "field", f ? f : json_string("?"), "message", msg));
}

bool mc_valid_ok(const mc_valid_t *v)
{
    return v->errors == NULL;
}

bool mc_valid_fail(mc_valid_t *v)
{
    if (v->errors == NULL)
        return false;
    json_t *first = json_array_get(v->errors, 0);
    mc_respond_error(v->req, MC_ERR_BAD_REQUEST, json_incref(v->errors), "invalid input: %s %s",
                     json_string_value(json_object_get(first, "field")), json_string_value(json_object_get(first, "message")));
    return true;
}

void mc_valid_only(mc_valid_t *v, const char *const *allowed)
{
    const char *key;
    json_t *val;
    json_object_foreach(v->obj, key, val)
    {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL && !ok; ++a)
            ok = strcmp(*a, key) == 0;
        if (!ok)
            mc_valid_error(v, key, "is not a known field");
    }
}

bool mc_valid_has(const mc_valid_t *v, const char *key)
{
    return v->obj != NULL && json_object_get(v->obj, key) != NULL;
}

bool mc_valid_is_null(const mc_valid_t *v, const char *key)
{
    return v->obj != NULL && json_is_null(json_object_get(v->obj, key));
}

long mc_utf8_chars(const char *s, size_t len, bool multiline)
{
    long n = 0;
    for (size_t i = 0; i < len;) {
        unsigned char c = (unsigned char)s[i];
        size_t k;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                if (!(multiline && (c == '\n' || c == '\r' || c == '\t')))
                    return -1;
            }
            k = 1;
        } else if ((c & 0xE0) == 0xC0 && c >= 0xC2) {
            k = 2;
        } else if ((c & 0xF0) == 0xE0) {
            k = 3;
        } else if ((c & 0xF8) == 0xF0 && c <= 0xF4) {
            k = 4;
        } else {
            return -1;
        }
        if (i + k > len)
            return -1;
        for (size_t j = 1; j < k; ++j)
            if (((unsigned char)s[i + j] & 0xC0) != 0x80)
                return -1;
        i += k;
        ++n;
    }
    return n;
}

/* Returns the member when present and not null; reports required/null errors. */
static json_t *member(mc_valid_t *v, const char *key, unsigned flags)
{
    json_t *j = v->obj ? json_object_get(v->obj, key) : NULL;
    if (j == NULL) {
        if (flags & MC_V_REQUIRED)
            mc_valid_error(v, key, "is required");
        return NULL;
    }
    if (json_is_null(j)) {
        if (!(flags & MC_V_NULLABLE))
            mc_valid_error(v, key, "must not be null");
        return NULL;
    }
    return j;
}

/* Checks a string value (from JSON or the query string). Returns the possibly trimmed
 * string, or NULL after reporting. */
static const char *check_str(mc_valid_t *v, const char *key, const char *s, size_t len, size_t minlen, size_t maxlen,
                             unsigned flags)
{
    if (flags & MC_V_TRIM) {
        size_t a = 0, b = len;
        while (a < b && s[a] == ' ')
            ++a;
        while (b > a && s[b - 1] == ' ')
            --b;
        if (a != 0 || b != len)
            s = mc_req_strndup(v->req, s + a, b - a);
        len = b - a;
    }
    if (memchr(s, '\0', len) != NULL) {
        mc_valid_error(v, key, "must not contain NUL characters");
        return NULL;
    }
    long n = mc_utf8_chars(s, len, (flags & MC_V_MULTILINE) != 0);
    if (n < 0) {
        mc_valid_error(v, key, "must be UTF-8 text without control characters");
        return NULL;
    }
    if ((size_t)n < minlen || (size_t)n > maxlen) {
        if (minlen == maxlen)
            mc_valid_error(v, key, "must be %zu characters", minlen);
        else
            mc_valid_error(v, key, "must be %zu to %zu characters", minlen, maxlen);
        return NULL;
    }
    return s;
}

const char *mc_valid_str(mc_valid_t *v, const char *key, size_t minlen, size_t maxlen, unsigned flags)
{
    json_t *j = member(v, key, flags);
    if (j == NULL)
        return NULL;
    if (!json_is_string(j)) {
        mc_valid_error(v, key, "must be a string");
        return NULL;
    }
    return check_str(v, key, json_string_value(j), json_string_length(j), minlen, maxlen, flags);
}

static const char *check_enum(mc_valid_t *v, const char *key, const char *s, const char *const *allowed)
{
    char list[256] = "";
    size_t n = 0;
    for (const char *const *a = allowed; *a != NULL; ++a) {
        if (strcmp(*a, s) == 0)
            return *a;
        n += (size_t)snprintf(list + n, n < sizeof(list) ? sizeof(list) - n : 0, "%s%s", n ? ", " : "", *a);
        if (n >= sizeof(list))
            n = sizeof(list) - 1;
    }
    mc_valid_error(v, key, "must be one of: %s", list);
    return NULL;
}

const char *mc_valid_enum(mc_valid_t *v, const char *key, const char *const *allowed, unsigned flags)
{
    const char *s = mc_valid_str(v, key, 1, 64, flags);
    return s != NULL ? check_enum(v, key, s, allowed) : NULL;
}

/* Ids are compared as strings everywhere: hand them on in lower case. */
static const char *lower_id(mc_valid_t *v, const char *s)
{
    char *out = mc_req_strndup(v->req, s, 24);
    for (int i = 0; i < 24; ++i)
        if (out[i] >= 'A' && out[i] <= 'F')
            out[i] = (char)(out[i] - 'A' + 'a');
    return out;
}

const char *mc_valid_oid(mc_valid_t *v, const char *key, unsigned flags)
{
    json_t *j = member(v, key, flags);
    if (j == NULL)
        return NULL;
    if (!json_is_string(j) || !mc_is_object_id(json_string_value(j), json_string_length(j))) {
        mc_valid_error(v, key, "must be an id (24 hexadecimal digits)");
        return NULL;
    }
    return lower_id(v, json_string_value(j));
}

static bool is_http_url(const char *s)
{
    const char *rest;
    if (strncmp(s, "https://", 8) == 0)
        rest = s + 8;
    else if (strncmp(s, "http://", 7) == 0)
        rest = s + 7;
    else
        return false;
    if (*rest == '\0' || *rest == '/')
        return false;
    for (const char *p = s; *p; ++p)
        if (*p == ' ' || *p == '"' || *p == '<' || *p == '>' || *p == '\\' || (unsigned char)*p < 0x21)
            return false;
    return true;
}

const char *mc_valid_url(mc_valid_t *v, const char *key, size_t maxlen, unsigned flags)
{
    const char *s = mc_valid_str(v, key, 1, maxlen, flags);
    if (s != NULL && !is_http_url(s)) {
        mc_valid_error(v, key, "must be an absolute http or https URL");
        return NULL;
    }
    return s;
}

bool mc_valid_int(mc_valid_t *v, const char *key, int64_t min, int64_t max, unsigned flags, int64_t *out)
{
    json_t *j = member(v, key, flags);
    if (j == NULL)
        return false;
    if (!json_is_integer(j)) {
        mc_valid_error(v, key, "must be a whole number");
        return false;
    }
    json_int_t n = json_integer_value(j);
    if (n < min || n > max) {
        mc_valid_error(v, key, "must be between %lld and %lld", (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool mc_valid_bool(mc_valid_t *v, const char *key, unsigned flags, bool *out)
{
    json_t *j = member(v, key, flags);
    if (j == NULL)
        return false;
    if (!json_is_boolean(j)) {
        mc_valid_error(v, key, "must be true or false");
        return false;
    }
    *out = json_is_true(j);
    return true;
}

json_t *mc_valid_str_array(mc_valid_t *v, const char *key, size_t maxitems, size_t maxlen, unsigned flags)
{
    json_t *j = member(v, key, flags);
    if (j == NULL)
        return NULL;
    if (!json_is_array(j)) {
        mc_valid_error(v, key, "must be an array of strings");
        return NULL;
    }
    if (json_array_size(j) > maxitems) {
        mc_valid_error(v, key, "must have at most %zu items", maxitems);
        return NULL;
    }
    size_t i;
    json_t *item;
    json_array_foreach(j, i, item)
    {
        if (!json_is_string(item) || check_str(v, key, json_string_value(item), json_string_length(item), 1, maxlen, 0) == NULL) {
            if (!json_is_string(item))
                mc_valid_error(v, key, "must be an array of strings");
            return NULL;
        }
        for (size_t k = 0; k < i; ++k)
            if (json_equal(json_array_get(j, k), item)) {
                mc_valid_error(v, key, "must not repeat an item");
                return NULL;
            }
    }
    return j;
}

void mc_valid_query_only(mc_valid_t *v, const char *const *allowed)
{
    size_t n;
    const char **names = mc_req_query_names(v->req, &n);
    for (size_t i = 0; i < n; ++i) {
        bool ok = false;
        for (const char *const *a = allowed; *a != NULL && !ok; ++a)
            ok = strcmp(*a, names[i]) == 0;
        if (!ok)
            mc_valid_error(v, names[i], "is not a known query parameter");
    }
}

bool mc_valid_query_int(mc_valid_t *v, const char *name, int64_t min, int64_t max, int64_t *out)
{
    const char *s = mc_req_query(v->req, name);
    if (s == NULL)
        return false;
    char *end;
    errno = 0;
    long long n = strtoll(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        mc_valid_error(v, name, "must be a whole number between %lld and %lld", (long long)min, (long long)max);
        return false;
    }
    *out = n;
    return true;
}

bool mc_valid_query_bool(mc_valid_t *v, const char *name, bool *out)
{
    const char *s = mc_req_query(v->req, name);
    if (s == NULL)
        return false;
    if (strcmp(s, "true") == 0 || strcmp(s, "1") == 0) {
        *out = true;
        return true;
    }
    if (strcmp(s, "false") == 0 || strcmp(s, "0") == 0) {
        *out = false;
        return true;
    }
    mc_valid_error(v, name, "must be true or false");
    return false;
}

const char *mc_valid_query_oid(mc_valid_t *v, const char *name)
{
    const char *s = mc_req_query(v->req, name);
    if (s != NULL && !mc_is_object_id(s, strlen(s))) {
        mc_valid_error(v, name, "must be an id (24 hexadecimal digits)");
        return NULL;
    }
    return s != NULL ? lower_id(v, s) : NULL;
}

const char *mc_valid_query_str(mc_valid_t *v, const char *name, size_t minlen, size_t maxlen)
{
    const char *s = mc_req_query(v->req, name);
    return s != NULL ? check_str(v, name, s, strlen(s), minlen, maxlen, 0) : NULL;
}

const char *mc_valid_query_enum(mc_valid_t *v, const char *name, const char *const *allowed)
{
    const char *s = mc_req_query(v->req, name);
    return s != NULL ? check_enum(v, name, s, allowed) : NULL;
}
