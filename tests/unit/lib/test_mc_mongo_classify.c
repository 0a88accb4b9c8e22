/*
 * Unit tests of the MongoDB error classification in lib/mc_mongo.c (included to reach
 * classify_error): a duplicate key is a conflict, an unreachable server is "unavailable"
 * (and only that triggers fail-fast), the rest is internal. Also ObjectId parsing and
 * the URI defaults.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>
#include "../../../lib/mc_mongo.c"

static bson_error_t E(uint32_t domain, uint32_t code)
{
    bson_error_t e;
    bson_set_error(&e, domain, code, "test error %u/%u", domain, code);
    return e;
}

static void duplicate_keys_are_conflicts(void **state)
{
    bson_error_t e = E(MONGOC_ERROR_SERVER, 11000);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_CONFLICT);
    e = E(MONGOC_ERROR_SERVER, 11001);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_CONFLICT);
    e = E(MONGOC_ERROR_WRITE_CONCERN, 12582);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_CONFLICT);
    e = E(MONGOC_ERROR_COLLECTION, MONGOC_ERROR_DUPLICATE_KEY);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_CONFLICT);
    /* FerretDB 1.24: an update that breaks a unique index comes back as InternalError */
    bson_set_error(&e, MONGOC_ERROR_SERVER, 1,
                   "[msg_update.go:133 handler.(*Handler).updateDocument] constraint failed: UNIQUE constraint failed: "
                   "index 'users_5e7cc513_email_unique' (2067)");
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_CONFLICT);
    bson_set_error(&e, MONGOC_ERROR_SERVER, 1, "ERROR: duplicate key value violates unique constraint \"x\"");
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_CONFLICT);
    bson_set_error(&e, MONGOC_ERROR_SERVER, 1, "some other internal error");
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_INTERNAL);
    /* SQLite lock contention behind FerretDB: retryable, but the database is not down */
    bson_set_error(&e, MONGOC_ERROR_SERVER, 1, "[collection.go:98 sqlite.(*collection).InsertAll] database is locked (5) (SQLITE_BUSY)");
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_UNAVAILABLE);
    assert_true(is_busy(&e));
    /* the same number in a client-side domain means something else */
    e = E(MONGOC_ERROR_BSON, 11000);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_INTERNAL);
}

static void unreachable_is_unavailable(void **state)
{
    static const uint32_t stream[] = {MONGOC_ERROR_STREAM_NAME_RESOLUTION, MONGOC_ERROR_STREAM_SOCKET,
                                      MONGOC_ERROR_STREAM_CONNECT, MONGOC_ERROR_STREAM_NOT_ESTABLISHED};
    for (size_t i = 0; i < 4; ++i) {
        bson_error_t e = E(MONGOC_ERROR_STREAM, stream[i]);
        assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_UNAVAILABLE);
    }
    bson_error_t e = E(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_UNAVAILABLE);
    e = E(MONGOC_ERROR_PROTOCOL, MONGOC_ERROR_PROTOCOL_INVALID_REPLY);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_UNAVAILABLE);
    e = E(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_NOT_READY);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_UNAVAILABLE);
    static const uint32_t server[] = {6, 7, 89, 91, 189, 9001, 10107, 11600, 11602, 13435, 13436};
    for (size_t i = 0; i < sizeof(server) / sizeof(server[0]); ++i) {
        e = E(MONGOC_ERROR_SERVER, server[i]);
        assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_UNAVAILABLE);
    }
}

static void other_errors(void **state)
{
    bson_error_t e = E(MONGOC_ERROR_SERVER, 50); /* MaxTimeMSExpired */
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_TIMEOUT);
    e = E(MONGOC_ERROR_SERVER, 2); /* BadValue */
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_INTERNAL);
    e = E(MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_AUTHENTICATE); /* a configuration problem */
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_INTERNAL);
    e = E(MONGOC_ERROR_COMMAND, MONGOC_ERROR_COMMAND_INVALID_ARG);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_INTERNAL);
    assert_int_equal(mc_mongo_classify(NULL, NULL), MC_ERR_INTERNAL);
    e = E(0, 0);
    assert_int_equal(mc_mongo_classify(NULL, &e), MC_ERR_INTERNAL);
}

/* Only an unavailable error puts the pool into fail-fast. */
static void classify_marks_the_database_down(void **state)
{
    char err[128];
    mc_mongo_t *m = mc_mongo_create("mongodb://127.0.0.1:1", "testdb", "test", err, sizeof(err));
    assert_non_null(m);
    bson_error_t e = E(MONGOC_ERROR_SERVER, 11000);
    mc_mongo_classify(m, &e);
    assert_false(atomic_load(&m->down));
    e = E(MONGOC_ERROR_SERVER_SELECTION, MONGOC_ERROR_SERVER_SELECTION_FAILURE);
    mc_mongo_result_t res;
    memset(&res, 0, sizeof(res));
    mc_mongo_fail(m, &res, &e);
    assert_int_equal(res.err, MC_ERR_UNAVAILABLE);
    assert_string_equal(res.bson.message, e.message);
    assert_true(atomic_load(&m->down));
    bool probe = false;
    assert_false(may_run(m, &probe)); /* within MONGODB_RETRY_MS */
    atomic_store(&m->next_probe_ms, 0);
    assert_true(may_run(m, &probe)); /* the probe */
    assert_true(probe);
    bool probe2 = false;
    assert_false(may_run(m, &probe2)); /* only one probe at a time */
    mc_mongo_destroy(m);
}

static void uri_gets_short_timeouts_unless_set(void **state)
{
    char err[128];
    mc_mongo_t *m = mc_mongo_create("mongodb://127.0.0.1:27017", "db1", NULL, err, sizeof(err));
    assert_non_null(m);
    assert_int_equal(mongoc_uri_get_option_as_int32(m->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0), 2000);
    assert_int_equal(mongoc_uri_get_option_as_int32(m->uri, MONGOC_URI_CONNECTTIMEOUTMS, 0), 2000);
    assert_int_equal(mongoc_uri_get_option_as_int32(m->uri, MONGOC_URI_SOCKETTIMEOUTMS, 0), 5000);
    assert_string_equal(mc_mongo_dbname(m), "db1");
    mc_mongo_destroy(m);
    m = mc_mongo_create("mongodb://127.0.0.1:27017/?serverSelectionTimeoutMS=7000&connectTimeoutMS=300", "db1", NULL, err,
                        sizeof(err));
    assert_non_null(m);
    assert_int_equal(mongoc_uri_get_option_as_int32(m->uri, MONGOC_URI_SERVERSELECTIONTIMEOUTMS, 0), 7000);
    assert_int_equal(mongoc_uri_get_option_as_int32(m->uri, MONGOC_URI_CONNECTTIMEOUTMS, 0), 300);
    mc_mongo_destroy(m);
    assert_null(mc_mongo_create("http://nope", "db1", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "URI"));
    assert_null(mc_mongo_create("mongodb://127.0.0.1", "bad.name", NULL, err, sizeof(err)));
    assert_null(mc_mongo_create("mongodb://127.0.0.1", "", NULL, err, sizeof(err)));
}

static void object_ids(void **state)
{
    bson_oid_t oid;
    assert_true(mc_mongo_oid_parse("64b7f0c2a1b2c3d4e5f60718", &oid));
    char back[25];
    bson_oid_to_string(&oid, back);
    assert_string_equal(back, "64b7f0c2a1b2c3d4e5f60718");
    assert_false(mc_mongo_oid_parse("64b7f0c2a1b2c3d4e5f6071", &oid));
    assert_false(mc_mongo_oid_parse("64b7f0c2a1b2c3d4e5f607189", &oid));
    assert_false(mc_mongo_oid_parse("64b7f0c2a1b2c3d4e5f6071z", &oid));
    assert_false(mc_mongo_oid_parse("", &oid));
    assert_false(mc_mongo_oid_parse(NULL, &oid));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(duplicate_keys_are_conflicts),
        cmocka_unit_test(unreachable_is_unavailable),
        cmocka_unit_test(other_errors),
        cmocka_unit_test(classify_marks_the_database_down),
        cmocka_unit_test(uri_gets_short_timeouts_unless_set),
        cmocka_unit_test(object_ids),
    };
    int rc = cmocka_run_group_tests_name("mc_mongo classify", tests, NULL, NULL);
    mongoc_cleanup();
    return rc;
}
