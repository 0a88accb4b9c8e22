/*
 * Unit tests of gateway/gw_ws_peek.c: which first bytes of a connection are a WebSocket
 * upgrade of /graphql (and which subprotocols it offers), heads arriving in pieces, the
 * things that must go to h2o, and the bytes of the gateway's own refusals (RFC 6455's
 * example key, close frames, UTF-8-safe reasons).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "gw_ws_peek.h"

#define UPGRADE(extra)                                                                                                 \
    "GET /graphql HTTP/1.1\r\nHost: localhost:4000\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"                   \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" extra "\r\n"

static gw_peek_kind_t classify(const char *s, gw_peek_t *p)
{
    return gw_peek_classify(s, strlen(s), p);
}

static void an_upgrade_offering_graphql_transport_ws(void **state)
{
    (void)state;
    gw_peek_t p;
    const char *s = UPGRADE("Sec-WebSocket-Protocol: graphql-transport-ws\r\n");
    assert_int_equal(classify(s, &p), GW_PEEK_WS);
    assert_true(p.offers_ours);
    assert_true(p.any_protocol);
    assert_true(p.version_13);
    assert_string_equal(p.key, "dGhlIHNhbXBsZSBub25jZQ==");
    assert_int_equal(p.head_len, strlen(s));
    /* among others, in several headers, in any header case, with a query string */
    s = "GET /graphql?x=1 HTTP/1.1\r\nhost: a\r\nUPGRADE: WebSocket\r\nconnection: keep-alive, Upgrade\r\n"
        "sec-websocket-key: abc=\r\nsec-websocket-version: 13\r\nSec-WebSocket-Protocol: graphql-ws\r\n"
        "Sec-WebSocket-Protocol: foo, graphql-transport-ws , bar\r\n\r\n";
    assert_int_equal(classify(s, &p), GW_PEEK_WS);
    assert_true(p.offers_ours);
}

static void upgrades_not_offering_it(void **state)
{
    (void)state;
    gw_peek_t p;
    assert_int_equal(classify(UPGRADE(""), &p), GW_PEEK_WS);
    assert_false(p.any_protocol);
    assert_false(p.offers_ours);
    assert_int_equal(classify(UPGRADE("Sec-WebSocket-Protocol: graphql-ws\r\n"), &p), GW_PEEK_WS);
    assert_true(p.any_protocol);
    assert_false(p.offers_ours);
    /* subprotocol names are case-sensitive; a prefix is not the name */
    assert_int_equal(classify(UPGRADE("Sec-WebSocket-Protocol: GRAPHQL-TRANSPORT-WS, graphql-transport-w\r\n"), &p),
                     GW_PEEK_WS);
    assert_false(p.offers_ours);
    /* another version, a missing or strange key: still an upgrade (refused with 400) */
    assert_int_equal(classify("GET /graphql HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n"
                              "Sec-WebSocket-Version: 8\r\n\r\n",
                              &p),
                     GW_PEEK_WS);
    assert_false(p.version_13);
    assert_string_equal(p.key, "");
    assert_int_equal(classify(UPGRADE("Sec-WebSocket-Key: a b\r\n"), &p), GW_PEEK_WS);
    assert_string_equal(p.key, ""); /* the last key counts: it is not base64 */
}

static void what_h2o_serves(void **state)
{
    (void)state;
    gw_peek_t p;
    const char *http[] = {
        "POST /graphql HTTP/1.1\r\nHost: a\r\n\r\n",
        "GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: a\r\nAccept: application/json\r\n\r\n",
        "GET /graphql HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\n\r\n",   /* no Upgrade header */
        "GET /graphql HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",     /* no Connection: upgrade */
        "GET /graphql HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n", /* another upgrade */
        "GET /health HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "GET /graphqlx HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "GET /graphql HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
        "GET /graphql HTTP/1.1\nUpgrade: websocket\nConnection: Upgrade\n\n", /* bare LF */
        "GET /graphql HTTP/1.1\r\nUpgrade: websocket\r\n Connection: Upgrade\r\n\r\n", /* folding */
        "GET /graphql HTTP/1.1\r\nUpgrade : websocket\r\nConnection: Upgrade\r\n\r\n", /* space before colon */
        "GET /graphql HTTP/1.1\r\nno colon here\r\n\r\n",
        "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        "\x16\x03\x01\x02\x00\x01",
        "get /graphql HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof(http) / sizeof(http[0]); ++i)
        if (classify(http[i], &p) != GW_PEEK_HTTP)
            fail_msg("not HTTP: %s", http[i]);
}

static void heads_in_pieces(void **state)
{
    (void)state;
    gw_peek_t p;
    const char *s = UPGRADE("Sec-WebSocket-Protocol: graphql-transport-ws\r\n");
    size_t n = strlen(s);
    /* every prefix asks for more, the whole is the upgrade */
    for (size_t i = 0; i < n; ++i) {
        gw_peek_kind_t k = gw_peek_classify(s, i, &p);
        if (k != GW_PEEK_MORE)
            fail_msg("prefix of %zu bytes: %d", i, k);
    }
    assert_int_equal(gw_peek_classify(s, n, &p), GW_PEEK_WS);
    /* a prefix that already rules it out does not wait */
    assert_int_equal(gw_peek_classify("POS", 3, &p), GW_PEEK_HTTP);
    assert_int_equal(gw_peek_classify("GET /health HTTP/1.1\r\nHo", 24, &p), GW_PEEK_HTTP);
    /* bytes after the head (a pipelined request) do not matter */
    char two[1024];
    snprintf(two, sizeof(two), "%sGET /x", s);
    assert_int_equal(classify(two, &p), GW_PEEK_WS);
    assert_int_equal(p.head_len, n);
}

static void heads_too_long(void **state)
{
    (void)state;
    static char big[GW_WS_PEEK_MAX + 100];
    gw_peek_t p;
    int n = snprintf(big, sizeof(big), "GET /graphql HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nCookie: ");
    memset(big + n, 'c', sizeof(big) - (size_t)n);
    /* an incomplete head that fills the buffer goes to h2o (which answers 431) */
    assert_int_equal(gw_peek_classify(big, GW_WS_PEEK_MAX, &p), GW_PEEK_HTTP);
    assert_int_equal(gw_peek_classify(big, GW_WS_PEEK_MAX - 1, &p), GW_PEEK_MORE);
}

static void the_accept_key(void **state)
{
    (void)state;
    char out[29];
    gw_ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", out); /* RFC 6455, section 1.3 */
    assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

static void turning_a_websocket_away(void **state)
{
    (void)state;
    char out[GW_WS_REJECT_MAX];
    size_t n = gw_ws_reject_bytes("dGhlIHNhbXBsZSBub25jZQ==", 4406, "Subprotocol not acceptable", out);
    const char *head = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                       "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n";
    size_t hl = strlen(head);
    assert_memory_equal(out, head, hl);
    const unsigned char *f = (const unsigned char *)out + hl;
    assert_int_equal(f[0], 0x88); /* FIN, close, unmasked */
    assert_int_equal(f[1], 2 + 26);
    assert_int_equal((f[2] << 8) | f[3], 4406);
    assert_memory_equal(f + 4, "Subprotocol not acceptable", 26);
    assert_int_equal(n, hl + 4 + 26);
    /* a reason longer than a close frame holds is cut at 123 bytes, on a UTF-8 boundary */
    char reason[200];
    memset(reason, 'a', 122);
    strcpy(reason + 122, "\xc3\xa9tc");
    n = gw_ws_reject_bytes("x", 1013, reason, out);
    f = (const unsigned char *)out + (n - 4 - 122);
    assert_int_equal(f[1], 2 + 122);
    assert_true(n <= GW_WS_REJECT_MAX);
    n = gw_ws_bad_handshake_bytes(out);
    assert_true(n < GW_WS_REJECT_MAX);
    assert_memory_equal(out, "HTTP/1.1 400 Bad Request\r\n", 26);
    assert_non_null(strstr(out, "Sec-WebSocket-Version: 13\r\n"));
}

static void utf8_cuts(void **state)
{
    (void)state;
    assert_int_equal(gw_utf8_cut("abc", 3, 10), 3);
    assert_int_equal(gw_utf8_cut("abc", 3, 2), 2);
    assert_int_equal(gw_utf8_cut("a\xe2\x82\xac", 4, 3), 1); /* € is three bytes */
    assert_int_equal(gw_utf8_cut("a\xe2\x82\xac", 4, 4), 4);
    assert_int_equal(gw_utf8_cut("\xf0\x9f\x98\x80z", 5, 4), 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(an_upgrade_offering_graphql_transport_ws),
        cmocka_unit_test(upgrades_not_offering_it),
        cmocka_unit_test(what_h2o_serves),
        cmocka_unit_test(heads_in_pieces),
        cmocka_unit_test(heads_too_long),
        cmocka_unit_test(the_accept_key),
        cmocka_unit_test(turning_a_websocket_away),
        cmocka_unit_test(utf8_cuts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
