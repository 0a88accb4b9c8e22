/*
 * Implementation of gw_ws_msg.h.
 */
#include <stdio.h>
#include <string.h>
#include "gw_ws_msg.h"

static const char *type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    default:
        return "null";
    }
}

/* An optional object member: absent and null give NULL; anything else but an object
 * is an error. */
static int optional_object(json_t *parent, const char *name, json_t **out)
{
    json_t *v = json_object_get(parent, name);
    *out = NULL;
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_object(v))
        return -1;
    *out = v;
    return 0;
}

static int take_id(gw_ws_msg_t *m, const char *type, char *why, size_t whylen)
{
    json_t *id = json_object_get(m->root, "id");
    if (!json_is_string(id)) {
        snprintf(why, whylen, "Invalid message: \"%s\" needs a string id, not %s", type, id != NULL ? type_of(id) : "none");
        return -1;
    }
    m->id = json_string_value(id);
    m->id_len = json_string_length(id);
    if (m->id_len == 0 || m->id_len > GW_WS_MAX_ID) {
        snprintf(why, whylen, "Invalid message: \"%s\" needs an id of 1 to %d characters", type, GW_WS_MAX_ID);
        return -1;
    }
    return 0;
}

int gw_ws_msg_parse(const char *text, size_t len, gw_ws_msg_t *m, char *why, size_t whylen)
{
    memset(m, 0, sizeof(*m));
    json_error_t jerr;
    m->root = json_loadb(text, len, JSON_DECODE_ANY, &jerr);
    if (m->root == NULL) {
        snprintf(why, whylen, "Invalid message: not JSON (%s)", jerr.text);
        return -1;
    }
    if (!json_is_object(m->root)) {
        snprintf(why, whylen, "Invalid message: %s, not an object", type_of(m->root));
        return -1;
    }
    json_t *t = json_object_get(m->root, "type");
    if (!json_is_string(t)) {
        snprintf(why, whylen, "Invalid message: the type must be a string");
        return -1;
    }
    const char *type = json_string_value(t);
    if (strcmp(type, "connection_init") == 0 || strcmp(type, "ping") == 0 || strcmp(type, "pong") == 0) {
        m->type = type[0] == 'c' ? GW_MSG_CONNECTION_INIT : type[1] == 'i' ? GW_MSG_PING : GW_MSG_PONG;
        if (optional_object(m->root, "payload", &m->payload) != 0) {
            snprintf(why, whylen, "Invalid message: the payload of \"%s\" must be an object or null", type);
            return -1;
        }
        return 0;
    }
    if (strcmp(type, "subscribe") == 0) {
        m->type = GW_MSG_SUBSCRIBE;
        if (take_id(m, type, why, whylen) != 0)
            return -1;
        json_t *p = json_object_get(m->root, "payload");
        if (!json_is_object(p)) {
            snprintf(why, whylen, "Invalid message: the payload of \"subscribe\" must be an object");
            return -1;
        }
        m->payload = p;
        json_t *q = json_object_get(p, "query");
        if (!json_is_string(q)) {
            snprintf(why, whylen, "Invalid message: the payload's query must be a string");
            return -1;
        }
        m->query = json_string_value(q);
        m->query_len = json_string_length(q);
        json_t *ext;
        if (optional_object(p, "variables", &m->variables) != 0 || optional_object(p, "extensions", &ext) != 0) {
            snprintf(why, whylen, "Invalid message: the payload's variables and extensions must be objects or null");
            return -1;
        }
        json_t *on = json_object_get(p, "operationName");
        if (on != NULL && !json_is_null(on)) {
            if (!json_is_string(on)) {
                snprintf(why, whylen, "Invalid message: the payload's operationName must be a string or null");
                return -1;
            }
            m->operation_name = json_string_value(on);
        }
        return 0;
    }
    if (strcmp(type, "complete") == 0) {
        m->type = GW_MSG_COMPLETE;
        return take_id(m, type, why, whylen);
    }
    if (strcmp(type, "connection_ack") == 0 || strcmp(type, "next") == 0 || strcmp(type, "error") == 0)
        snprintf(why, whylen, "Invalid message: \"%s\" is sent by servers only", type);
    else
        snprintf(why, whylen, "Invalid message: unknown type");
    return -1;
}

void gw_ws_msg_free(gw_ws_msg_t *m)
{
    json_decref(m->root);
    memset(m, 0, sizeof(*m));
}
