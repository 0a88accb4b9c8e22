/*
 * gw_ws_msg: the messages of the graphql-transport-ws protocol (the `graphql-ws` npm
 * package's PROTOCOL.md) that a client may send, parsed and checked.
 *
 * The rules are graphql-ws's own (its validateMessage): `type` is a string; the payload
 * of connection_init, ping and pong is an object, null or absent; subscribe has a
 * non-empty string id and a payload object whose `query` is a string, `variables` and
 * `extensions` objects or null, `operationName` a string or null; complete has a
 * non-empty string id. Messages only a server sends (connection_ack, next, error) and
 * unknown types are invalid from a client. An invalid message closes the socket with
 * 4400 and the reason this module writes.
 *
 * Pure; unit-tested.
 */
#ifndef GW_WS_MSG_H
#define GW_WS_MSG_H

#include <stddef.h>
#include <jansson.h>

/* Ids longer than this are refused (clients use UUIDs or small counters). */
#define GW_WS_MAX_ID 128

typedef enum gw_ws_msg_type {
    GW_MSG_CONNECTION_INIT,
    GW_MSG_PING,
    GW_MSG_PONG,
    GW_MSG_SUBSCRIBE,
    GW_MSG_COMPLETE,
} gw_ws_msg_type_t;

typedef struct gw_ws_msg {
    gw_ws_msg_type_t type;
    json_t *root;           /* the parsed message (owned; gw_ws_msg_free) */
    json_t *payload;        /* borrowed: an object, or NULL when null or absent */
    const char *id;         /* subscribe, complete */
    size_t id_len;
    /* subscribe */
    const char *query;
    size_t query_len;
    const char *operation_name; /* NULL when null or absent */
    json_t *variables;          /* borrowed object, or NULL */
} gw_ws_msg_t;

/* Parses a text message. Returns 0, or -1 with a short reason in why (whylen >= 96) —
 * the 4400 close reason. m needs gw_ws_msg_free either way. */
int gw_ws_msg_parse(const char *text, size_t len, gw_ws_msg_t *m, char *why, size_t whylen);
void gw_ws_msg_free(gw_ws_msg_t *m);

#endif
