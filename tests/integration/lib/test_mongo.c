/*
 * Integration tests of lib/mc_mongo against FerretDB started by the harness (or
 * MONGODB_URI_TEST): jobs on the thread pool, a unique index and the conflict it
 * raises, fail-fast while the database is stopped, recovery when it returns (with its
 * data), and the blocking index creation that waits for a database coming back.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "harness.h"
#include "loop_util.h"
#include "mc_mongo.h"

#define RETRY_MS 300

typedef struct job {
    const char *email; /* insert this, or find it when find is set */
    const char *rename; /* for rename_work */
    bool find;
    bool ran;          /* the work callback ran (set on the pool thread) */
    bool done;
    mc_mongo_t *seen;  /* mc_mongo_current() inside work */
    mc_err_t err;
    char msg[512];
    long long found;
} job_t;

static mc_mongo_t *M;
static uv_loop_t loop;

/* Renames j->email's user to j->rename (an update that may hit the unique index). */
static void rename_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res);

static void users_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    job_t *j = arg;
    bson_error_t err;
    j->ran = true;
    j->seen = mc_mongo_current();
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "users");
    bson_t *doc = BCON_NEW("email", BCON_UTF8(j->email));
    if (j->find) {
        int64_t n = mongoc_collection_count_documents(coll, doc, NULL, NULL, NULL, &err);
        if (n < 0)
            mc_mongo_fail(mc_mongo_current(), res, &err);
        else
            j->found = n;
    } else if (!mongoc_collection_insert_one(coll, doc, NULL, NULL, &err)) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
    }
    bson_destroy(doc);
    mongoc_collection_destroy(coll);
}

static void rename_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    job_t *j = arg;
    bson_error_t err;
    j->ran = true;
    mongoc_collection_t *coll = mongoc_database_get_collection(db, "users");
    bson_t *filter = BCON_NEW("email", BCON_UTF8(j->email));
    bson_t *update = BCON_NEW("$set", "{", "email", BCON_UTF8(j->rename), "}");
    bson_t reply;
    if (!mongoc_collection_update_one(coll, filter, update, NULL, &reply, &err))
        mc_mongo_fail(mc_mongo_current(), res, &err);
    bson_destroy(&reply);
    bson_destroy(update);
    bson_destroy(filter);
    mongoc_collection_destroy(coll);
}

static void job_done(void *arg, const mc_mongo_result_t *res)
{
    job_t *j = arg;
    j->done = true;
    j->err = res->err;
    snprintf(j->msg, sizeof(j->msg), "%s", res->err != MC_OK ? res->bson.message : "");
}

static job_t run_job(const char *email, bool find)
{
    job_t j = {.email = email, .find = find};
    assert_int_equal(mc_mongo_submit(M, &loop, users_work, job_done, &j), 0);
    assert_true(lu_run_until(&loop, lu_flag, &j.done, 30000));
    return j;
}

static int setup(void **state)
{
    if (mh_mongo_start() != 0)
        return -1;
    setenv("MONGODB_RETRY_MS", "300", 1);
    char err[256];
    M = mc_mongo_create(mh_mongo_uri(), mh_mongo_db("mongo"), "test", err, sizeof(err));
    if (M == NULL) {
        fprintf(stderr, "mc_mongo_create: %s\n", err);
        return -1;
    }
    uv_loop_init(&loop);
    return 0;
}

static int teardown(void **state)
{
    if (M == NULL) /* setup failed before the loop existed */
        return 0;
    int rc = lu_finish(&loop);
    mc_mongo_destroy(M);
    return rc;
}

static void creates_a_unique_index(void **state)
{
    bson_t *indexes = BCON_NEW("0", "{", "key", "{", "email", BCON_INT32(1), "}", "name", BCON_UTF8("email_unique"),
                               "unique", BCON_BOOL(true), "}");
    bson_error_t err;
    int rc = mc_mongo_create_indexes(M, "users", indexes, 10000, &err);
    if (rc != 0)
        fail_msg("createIndexes: %s", err.message);
    /* again: creating the same index is a no-op, not an error */
    assert_int_equal(mc_mongo_create_indexes(M, "users", indexes, 10000, &err), 0);
    bson_destroy(indexes);
    assert_int_equal(mc_mongo_ping_blocking(M, &err), 0);
}

/* What every service does at each start: create several indexes (one compound) that
 * already exist, against a database that was restarted in between. FerretDB 1.24 drops
 * the connection when one createIndexes command names several existing indexes. */
static void recreating_several_indexes_after_a_restart_works(void **state)
{
    bson_t *indexes = BCON_NEW("0", "{", "key", "{", "sku", BCON_INT32(1), "}", "name", BCON_UTF8("sku_unique"), "unique",
                               BCON_BOOL(true), "}", "1", "{", "key", "{", "shop", BCON_INT32(1), "rank", BCON_INT32(1), "}",
                               "name", BCON_UTF8("shop_rank"), "}");
    bson_error_t err;
    if (mc_mongo_create_indexes(M, "items", indexes, 10000, &err) != 0)
        fail_msg("createIndexes: %s", err.message);
    if (mh_mongo_controllable()) {
        assert_int_equal(mh_mongo_stop(), 0);
        assert_int_equal(mh_mongo_start(), 0);
    }
    if (mc_mongo_create_indexes(M, "items", indexes, 20000, &err) != 0)
        fail_msg("createIndexes after a restart: %s", err.message);
    bson_destroy(indexes);
}

static void inserts_and_finds_through_the_pool(void **state)
{
    job_t j = run_job("ada@example.com", false);
    assert_int_equal(j.err, MC_OK);
    assert_true(j.ran);
    assert_ptr_equal(j.seen, M); /* mc_mongo_current() during work */
    j = run_job("ada@example.com", true);
    assert_int_equal(j.err, MC_OK);
    assert_int_equal(j.found, 1);

    /* many at once: all complete, each exactly once */
    enum { N = 24 };
    static job_t many[N];
    static char emails[N][32];
    for (int i = 0; i < N; ++i) {
        snprintf(emails[i], sizeof(emails[i]), "user%d@example.com", i);
        many[i] = (job_t){.email = emails[i]};
        assert_int_equal(mc_mongo_submit(M, &loop, users_work, job_done, &many[i]), 0);
    }
    for (int i = 0; i < N; ++i) {
        assert_true(lu_run_until(&loop, lu_flag, &many[i].done, 30000));
        assert_int_equal(many[i].err, MC_OK);
    }
    j = run_job("user23@example.com", true);
    assert_int_equal(j.found, 1);
}

static void duplicate_key_is_a_conflict(void **state)
{
    job_t j = run_job("grace@example.com", false);
    assert_int_equal(j.err, MC_OK);
    j = run_job("grace@example.com", false);
    assert_int_equal(j.err, MC_ERR_CONFLICT);
    assert_true(j.ran);
    j = run_job("grace@example.com", true);
    assert_int_equal(j.found, 1);

    /* an update into an existing key, too (FerretDB does not say 11000 for this one) */
    j = run_job("hopper@example.com", false);
    assert_int_equal(j.err, MC_OK);
    job_t u = {.email = "hopper@example.com", .rename = "grace@example.com"};
    assert_int_equal(mc_mongo_submit(M, &loop, rename_work, job_done, &u), 0);
    assert_true(lu_run_until(&loop, lu_flag, &u.done, 30000));
    assert_int_equal(u.err, MC_ERR_CONFLICT);
    j = run_job("hopper@example.com", true);
    assert_int_equal(j.found, 1); /* unchanged */
}

typedef struct ping {
    bool done, ok;
    char msg[512];
} ping_t;

static void on_ping(void *arg, bool ok, const char *msg)
{
    ping_t *p = arg;
    p->done = true;
    p->ok = ok;
    snprintf(p->msg, sizeof(p->msg), "%s", msg != NULL ? msg : "");
}

static ping_t ping_now(void)
{
    ping_t p = {0};
    assert_int_equal(mc_mongo_ping(M, &loop, on_ping, &p), 0);
    assert_true(lu_run_until(&loop, lu_flag, &p.done, 30000));
    return p;
}

static void fails_fast_while_down_and_recovers(void **state)
{
    if (!mh_mongo_controllable())
        skip();
    ping_t p = ping_now();
    assert_true(p.ok);
    assert_int_equal(mh_mongo_stop(), 0);

    /* The first job finds out the hard way (server selection times out)... */
    job_t first = run_job("first@example.com", true);
    assert_int_equal(first.err, MC_ERR_UNAVAILABLE);
    assert_true(first.ran);
    /* ...and the next ones are answered without running while the database is down. */
    for (int i = 0; i < 5; ++i) {
        job_t j = run_job("x@example.com", true);
        assert_int_equal(j.err, MC_ERR_UNAVAILABLE);
        assert_false(j.ran);
        assert_non_null(strstr(j.msg, "unavailable"));
    }
    p = ping_now();
    assert_false(p.ok);
    assert_true(p.msg[0] != '\0');

    /* Back on the same port with the same files: jobs succeed again by themselves and
     * the data written before the stop is there. */
    assert_int_equal(mh_mongo_start(), 0);
    job_t j;
    uint64_t deadline = mh_now_ms() + 30000;
    do {
        lu_run_for(&loop, 100);
        j = run_job("ada@example.com", true);
    } while (j.err != MC_OK && mh_now_ms() < deadline);
    assert_int_equal(j.err, MC_OK);
    assert_int_equal(j.found, 1);
    assert_true(ping_now().ok);
}

typedef struct index_thread {
    mc_mongo_t *m;
    int rc;
    bson_error_t err;
} index_thread_t;

static void *create_index_thread(void *arg)
{
    index_thread_t *t = arg;
    bson_t *indexes = BCON_NEW("0", "{", "key", "{", "sku", BCON_INT32(1), "}", "name", BCON_UTF8("sku_unique"), "unique",
                               BCON_BOOL(true), "}");
    t->rc = mc_mongo_create_indexes(t->m, "products", indexes, 60000, &t->err);
    bson_destroy(indexes);
    return NULL;
}

/* Start-up with the database not there yet: index creation waits for it. */
static void index_creation_waits_for_the_database(void **state)
{
    if (!mh_mongo_controllable())
        skip();
    assert_int_equal(mh_mongo_stop(), 0);
    index_thread_t t = {.m = M, .rc = 99};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, create_index_thread, &t), 0);
    mh_sleep_ms(500); /* it is retrying by now (or about to: either way it must succeed) */
    assert_int_equal(mh_mongo_start(), 0);
    pthread_join(th, NULL);
    if (t.rc != 0)
        fail_msg("createIndexes after restart: %s", t.err.message);

    /* and a bounded wait gives up with the driver's error */
    assert_int_equal(mh_mongo_stop(), 0);
    bson_t *idx = BCON_NEW("0", "{", "key", "{", "x", BCON_INT32(1), "}", "name", BCON_UTF8("x_1"), "}");
    bson_error_t err;
    assert_int_equal(mc_mongo_create_indexes(M, "products", idx, 100, &err), -1);
    assert_int_equal(mc_mongo_classify(NULL, &err), MC_ERR_UNAVAILABLE);
    bson_destroy(idx);
    assert_int_equal(mh_mongo_start(), 0);
}

static void invalid_index_is_an_error_not_a_wait(void **state)
{
    bson_t *bad = BCON_NEW("0", "{", "name", BCON_UTF8("no_key"), "}"); /* no key */
    bson_error_t err;
    uint64_t t0 = mh_now_ms();
    assert_int_equal(mc_mongo_create_indexes(M, "users", bad, 60000, &err), -1);
    assert_true(mh_now_ms() - t0 < 30000); /* refused, not retried until the deadline */
    assert_int_equal(mc_mongo_classify(NULL, &err), MC_ERR_INTERNAL);
    bson_destroy(bad);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(creates_a_unique_index),
        cmocka_unit_test(recreating_several_indexes_after_a_restart_works),
        cmocka_unit_test(inserts_and_finds_through_the_pool),
        cmocka_unit_test(duplicate_key_is_a_conflict),
        cmocka_unit_test(invalid_index_is_an_error_not_a_wait),
        cmocka_unit_test(fails_fast_while_down_and_recovers),
        cmocka_unit_test(index_creation_waits_for_the_database),
    };
    return mh_run_group("mc_mongo", tests, setup, teardown);
}
