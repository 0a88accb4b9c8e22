/*
 * Unit tests of gateway/gw_ws_msg.c: every message a graphql-transport-ws client may send,
 * and every way graphql-ws's own validateMessage refuses one (which closes with 4400).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>
#include "gw_ws_msg.h"

static int parse(const char *text, gw_ws_msg_t *m, char *why)
{
    return gw_ws_msg_parse(text, strlen(text), m, why, 160);
}

static void the_messages_of_a_client(void **state)
{
    (void)state;
    gw_ws_msg_t m;
    char why[160];
    assert_int_equal(parse("{\"type\":\"connection_init\"}", &m, why), 0);
    assert_int_equal(m.type, GW_MSG_CONNECTION_INIT);
    assert_null(m.payload);
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"type\":\"connection_init\",\"payload\":{\"authorization\":\"Bearer x\"}}", &m, why), 0);
    assert_string_equal(json_string_value(json_object_get(m.payload, "authorization")), "Bearer x");
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"type\":\"connection_init\",\"payload\":null}", &m, why), 0);
    assert_null(m.payload);
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"type\":\"ping\",\"payload\":{\"t\":1}}", &m, why), 0);
    assert_int_equal(m.type, GW_MSG_PING);
    assert_non_null(m.payload);
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"type\":\"pong\"}", &m, why), 0);
    assert_int_equal(m.type, GW_MSG_PONG);
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"id\":\"7\",\"type\":\"subscribe\",\"payload\":{\"query\":\"subscription { a }\","
                           "\"operationName\":\"Live\",\"variables\":{\"id\":\"x\"},\"extensions\":{}}}",
                           &m, why),
                     0);
    assert_int_equal(m.type, GW_MSG_SUBSCRIBE);
    assert_int_equal(m.id_len, 1);
    assert_memory_equal(m.id, "7", 1);
    assert_memory_equal(m.query, "subscription { a }", m.query_len);
    assert_string_equal(m.operation_name, "Live");
    assert_string_equal(json_string_value(json_object_get(m.variables, "id")), "x");
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"id\":\"7\",\"type\":\"subscribe\",\"payload\":{\"query\":\"{ a }\",\"operationName\":null,"
                           "\"variables\":null,\"extensions\":null}}",
                           &m, why),
                     0);
    assert_null(m.operation_name);
    assert_null(m.variables);
    gw_ws_msg_free(&m);
    assert_int_equal(parse("{\"type\":\"complete\",\"id\":\"abc\"}", &m, why), 0);
    assert_int_equal(m.type, GW_MSG_COMPLETE);
    assert_int_equal(m.id_len, 3);
    gw_ws_msg_free(&m);
}

static void what_closes_with_4400(void **state)
{
    (void)state;
    static const struct {
        const char *text, *why;
    } bad[] = {
        {"", "not JSON"},
        {"{\"type\":\"ping\"", "not JSON"},
        {"[]", "an array, not an object"},
        {"\"ping\"", "a string, not an object"},
        {"{}", "the type must be a string"},
        {"{\"type\":1}", "the type must be a string"},
        {"{\"type\":\"connection_ack\"}", "sent by servers only"},
        {"{\"type\":\"next\",\"id\":\"1\",\"payload\":{}}", "sent by servers only"},
        {"{\"type\":\"error\",\"id\":\"1\",\"payload\":[]}", "sent by servers only"},
        {"{\"type\":\"start\",\"id\":\"1\"}", "unknown type"},
        {"{\"type\":\"connection_init\",\"payload\":\"x\"}", "must be an object or null"},
        {"{\"type\":\"ping\",\"payload\":[1]}", "must be an object or null"},
        {"{\"type\":\"subscribe\",\"payload\":{\"query\":\"{a}\"}}", "needs a string id"},
        {"{\"type\":\"subscribe\",\"id\":1,\"payload\":{\"query\":\"{a}\"}}", "needs a string id"},
        {"{\"type\":\"subscribe\",\"id\":\"\",\"payload\":{\"query\":\"{a}\"}}", "an id of 1 to"},
        {"{\"type\":\"subscribe\",\"id\":\"1\"}", "payload of \"subscribe\" must be an object"},
        {"{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{}}", "query must be a string"},
        {"{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":{}}}", "query must be a string"},
        {"{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":\"{a}\",\"variables\":\"x\"}}", "variables and extensions"},
        {"{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":\"{a}\",\"extensions\":[]}}", "variables and extensions"},
        {"{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":\"{a}\",\"operationName\":2}}", "operationName"},
        {"{\"type\":\"complete\"}", "needs a string id"},
        {"{\"type\":\"complete\",\"id\":\"\"}", "an id of 1 to"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); ++i) {
        gw_ws_msg_t m;
        char why[160] = "";
        if (parse(bad[i].text, &m, why) == 0)
            fail_msg("accepted: %s", bad[i].text);
        if (strstr(why, bad[i].why) == NULL || strncmp(why, "Invalid message", 15) != 0)
            fail_msg("%s: the reason is \"%s\"", bad[i].text, why);
        gw_ws_msg_free(&m);
    }
}

static void ids_up_to_the_limit(void **state)
{
    (void)state;
    char id[GW_WS_MAX_ID + 2];
    char text[400];
    gw_ws_msg_t m;
    char why[160];
    memset(id, 'i', GW_WS_MAX_ID);
    id[GW_WS_MAX_ID] = '\0';
    snprintf(text, sizeof(text), "{\"type\":\"complete\",\"id\":\"%s\"}", id);
    assert_int_equal(parse(text, &m, why), 0);
    assert_int_equal(m.id_len, GW_WS_MAX_ID);
    gw_ws_msg_free(&m);
    strcat(id, "i");
    snprintf(text, sizeof(text), "{\"type\":\"complete\",\"id\":\"%s\"}", id);
    assert_int_equal(parse(text, &m, why), -1);
    gw_ws_msg_free(&m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_messages_of_a_client),
        cmocka_unit_test(what_closes_with_4400),
        cmocka_unit_test(ids_up_to_the_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
