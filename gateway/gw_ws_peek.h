/*
 * gw_ws_peek: telling WebSocket upgrades from plain HTTP by the first bytes of a
 * connection, and the few bytes the gateway writes itself to turn a WebSocket away.
 *
 * Why: GraphQL clients expect subscriptions at ws://host:4000/graphql, the same port and
 * path as GraphQL over HTTP. h2o serves HTTP and libwebsockets serves the WebSocket, so
 * each new connection is routed by its request head, read with recv(MSG_PEEK) — nothing
 * is consumed, so whichever library takes the connection reads the request itself. Only
 * the first request of a connection is looked at: a client that upgrades opens a new
 * connection for it (browsers and the npm `ws` client do).
 *
 * Why the gateway answers some handshakes itself: the graphql-transport-ws protocol wants
 * a client that does not offer the `graphql-transport-ws` subprotocol to get a WebSocket
 * closed with 4406, but libwebsockets 4.1 drops such a connection without a word when the
 * client offers only other subprotocols. The same small path closes connections the
 * gateway cannot take (too many, shutting down) with a close code clients understand.
 *
 * Everything here is pure (no I/O) and unit-tested.
 */
#ifndef GW_WS_PEEK_H
#define GW_WS_PEEK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The subprotocol of graphql-ws (the only one served). */
#define GW_WS_SUBPROTOCOL "graphql-transport-ws"
/* The WebSocket endpoint's path (the same as GraphQL over HTTP). */
#define GW_WS_PATH "/graphql"
/* A request head longer than this is never taken for a WebSocket upgrade (h2o answers it). */
#define GW_WS_PEEK_MAX 8192

typedef enum gw_peek_kind {
    GW_PEEK_MORE, /* the head is not complete yet: wait for more bytes */
    GW_PEEK_HTTP, /* anything but a WebSocket upgrade of GW_WS_PATH: h2o serves it */
    GW_PEEK_WS,   /* a WebSocket upgrade of GW_WS_PATH */
} gw_peek_kind_t;

typedef struct gw_peek {
    gw_peek_kind_t kind;
    size_t head_len;     /* GW_PEEK_WS: bytes of the request head, the blank line included */
    bool any_protocol;   /* a Sec-WebSocket-Protocol header was sent */
    bool offers_ours;    /* GW_WS_SUBPROTOCOL is among the offered subprotocols */
    bool version_13;     /* Sec-WebSocket-Version: 13 */
    char key[64];        /* Sec-WebSocket-Key, "" when absent or implausible */
} gw_peek_t;

/* Classifies the first `len` bytes of a connection. `len` >= GW_WS_PEEK_MAX without a
 * complete head gives GW_PEEK_HTTP. Anything unusual (a bare LF, folded headers, another
 * method or path, HTTP/1.0, h2's preface, TLS) is GW_PEEK_HTTP: h2o decides about it. */
gw_peek_kind_t gw_peek_classify(const char *buf, size_t len, gw_peek_t *out);

/* Writes into out (at least GW_WS_REJECT_MAX bytes) a 101 handshake accepting `key`
 * without a subprotocol, followed by a close frame with `code` and `reason` (cut at 123
 * bytes on a UTF-8 boundary). Returns the length. */
#define GW_WS_REJECT_MAX 320
size_t gw_ws_reject_bytes(const char *key, uint16_t code, const char *reason, char *out);
/* A plain 400 answer for an upgrade that is not a valid WebSocket handshake (no key, or
 * another version than 13). Returns the length written into out (GW_WS_REJECT_MAX). */
size_t gw_ws_bad_handshake_bytes(char *out);

/* The Sec-WebSocket-Accept value for a key (RFC 6455: base64(SHA-1(key + GUID))) into
 * out[29]. */
void gw_ws_accept_key(const char *key, char out[29]);

/* The length of the longest prefix of s (at most max bytes) that does not cut a UTF-8
 * sequence. */
size_t gw_utf8_cut(const char *s, size_t len, size_t max);

#endif
