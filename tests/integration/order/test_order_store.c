/*
 * The order store (services/order/store.c) against a real FerretDB, driven directly from
 * threads and processes: the mechanisms that keep orders correct without transactions
 * and with FerretDB's non-atomic updates.
 *   - concurrent changes of one order: each version is claimed exactly once, no change is
 *     lost, refused ones are refused on the state they lost to;
 *   - a checkout committing while the sweeper aborts it: exactly one of them wins;
 *   - order numbers from two processes: all distinct;
 *   - Idempotency-Key records: new, running, mismatch, replay, expiry;
 *   - the outbox: due entries, deferral, rolling an order forward to a dead writer's claim.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "harness.h"
#include "mc_bson_json.h"
#include "mc_util.h"
#include "settings.h"
#include "store.h"

#define CUSTOMER "aaaaaaaaaaaaaaaaaaaaaaaa"
#define SELLER "bbbbbbbbbbbbbbbbbbbbbbbb"
#define ADMIN "eeeeeeeeeeeeeeeeeeeeeeee"

static mongoc_client_pool_t *pool;
static const char *dbname;

static int setup(void **state)
{
    if (mh_mongo_start() != 0)
        return -1;
    mongoc_init();
    ord_settings_load();
    dbname = mh_mongo_db("order_store");
    mongoc_uri_t *uri = mongoc_uri_new(mh_mongo_uri());
    pool = mongoc_client_pool_new(uri);
    mongoc_client_pool_set_error_api(pool, MONGOC_ERROR_API_VERSION_2);
    mongoc_uri_destroy(uri);
    return pool != NULL ? 0 : -1;
}

static int teardown(void **state)
{
    mongoc_client_pool_destroy(pool);
    mongoc_cleanup();
    return 0;
}

/* A database handle for the calling thread; give it back with db_put. */
static mongoc_database_t *db_get(mongoc_client_t **client)
{
    *client = mongoc_client_pool_pop(pool);
    return mongoc_client_get_database(*client, dbname);
}

static void db_put(mongoc_client_t *client, mongoc_database_t *db)
{
    mongoc_database_destroy(db);
    mongoc_client_pool_push(pool, client);
}

static ord_actor_t actor(const char *id, mc_role_t role)
{
    ord_actor_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.user_id, sizeof(a.user_id), "%s", id);
    a.role = role;
    return a;
}

/* A new pending order (not yet stored). */
static json_t *new_order(char id[25])
{
    mh_oid(id);
    char ts[MC_TIME_BUFSZ];
    mc_time_format(mc_now_ms(), ts);
    char day[11];
    memcpy(day, ts, 10);
    day[10] = '\0';
    ord_actor_t c = actor(CUSTOMER, MC_ROLE_CUSTOMER);
    return json_pack("{s:s,s:n,s:s,s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:n,s:n,s:i,s:i,s:i,s:i,s:i}],s:[s],s:i,s:i,s:i,s:i,s:i,s:n,"
                     "s:{s:s,s:s,s:s,s:s,s:s},s:n,s:n,s:n,s:n,s:[o],s:i,s:s,s:s,s:s}",
                     "id", id, "number", "customerId", CUSTOMER, "status", "pending", "paymentStatus", "unpaid", "currency", "USD",
                     "items", "productId", "111111111111111111111111", "sellerId", SELLER, "name", "Lamp", "categoryId", "image",
                     "unitPrice", 1000, "quantity", 2, "subtotal", 2000, "discount", 0, "total", 2000, "sellerIds", SELLER,
                     "subtotal", 2000, "discount", 0, "shipping", 0, "tax", 0, "total", 2000, "coupon", "shippingAddress", "name",
                     "A", "line1", "B", "city", "C", "postalCode", "1", "country", "FR", "note", "shipment", "deliveredAt",
                     "cancellation", "timeline", ord_timeline_entry("pending", "unpaid", &c, NULL, mc_now_ms()), "version", 1,
                     "createdAt", ts, "updatedAt", ts, "day", day);
}

static void commit_new(char id[25])
{
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    json_t *o = new_order(id);
    char *msg = NULL;
    bool written;
    bson_error_t err;
    assert_int_equal(ord_commit(db, o, mc_now_ms(), &msg, &written, &err), COMMIT_DONE);
    assert_true(written);
    free(msg);
    json_decref(o);
    db_put(cl, db);
}

static json_t *load(const char *id)
{
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    bson_error_t err;
    json_t *o = ord_get(db, id, &err);
    db_put(cl, db);
    return o;
}

/* Outbox entries of an order, by version (0 when absent). */
static bool entry_exists(const char *id, int version)
{
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    mongoc_collection_t *c = mongoc_database_get_collection(db, "outbox");
    char eid[64];
    snprintf(eid, sizeof(eid), "%s:%d", id, version);
    bson_t *f = BCON_NEW("_id", BCON_UTF8(eid));
    bson_error_t err;
    int64_t n = mongoc_collection_count_documents(c, f, NULL, NULL, NULL, &err);
    bson_destroy(f);
    mongoc_collection_destroy(c);
    db_put(cl, db);
    return n == 1;
}

/* --- concurrent changes ---------------------------------------------------------------------- */

typedef struct change_arg {
    const char *id;
    ord_actor_t actor;
    ord_change_t change;
    ord_changed_t out;
    int rc;
} change_arg_t;

static void *change_main(void *p)
{
    change_arg_t *a = p;
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    bool found;
    bson_error_t err;
    a->rc = ord_change(db, a->id, &a->actor, &a->change, mc_now_ms(), &a->out, &found, &err);
    db_put(cl, db);
    return NULL;
}

static void run_changes(change_arg_t *args, int n)
{
    pthread_t t[16];
    for (int i = 0; i < n; ++i)
        pthread_create(&t[i], NULL, change_main, &args[i]);
    for (int i = 0; i < n; ++i)
        pthread_join(t[i], NULL);
}

static void each_version_is_claimed_once(void **state)
{
    char id[25];
    commit_new(id);
    /* eight admins confirm at the same moment: one does, seven are refused (409) */
    enum { N = 8 };
    change_arg_t args[N];
    for (int i = 0; i < N; ++i)
        args[i] = (change_arg_t){.id = id, .actor = actor(ADMIN, MC_ROLE_ADMIN), .change = {.act = ACT_CONFIRM}};
    run_changes(args, N);
    int ok = 0, illegal = 0;
    for (int i = 0; i < N; ++i) {
        assert_int_equal(args[i].rc, 0);
        if (args[i].out.verdict == ORD_OK)
            ++ok;
        else if (args[i].out.verdict == ORD_ILLEGAL && !args[i].out.conflict)
            ++illegal;
        ord_changed_free(&args[i].out);
    }
    assert_int_equal(ok, 1);
    assert_int_equal(illegal, N - 1);
    json_t *o = load(id);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 2);
    assert_int_equal(json_array_size(json_object_get(o, "timeline")), 2);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "confirmed");
    json_decref(o);
    assert_true(entry_exists(id, 2));
    assert_false(entry_exists(id, 3));

    /* two different legal changes at once: both happen, neither is lost */
    change_arg_t two[2] = {
        {.id = id, .actor = actor(ADMIN, MC_ROLE_ADMIN), .change = {.act = ACT_PAY, .note = "card"}},
        {.id = id, .actor = actor(SELLER, MC_ROLE_SELLER), .change = {.act = ACT_PROCESS}},
    };
    run_changes(two, 2);
    for (int i = 0; i < 2; ++i) {
        assert_int_equal(two[i].out.verdict, ORD_OK);
        ord_changed_free(&two[i].out);
    }
    o = load(id);
    assert_int_equal(json_integer_value(json_object_get(o, "version")), 4);
    assert_string_equal(json_string_value(json_object_get(o, "status")), "processing");
    assert_string_equal(json_string_value(json_object_get(o, "paymentStatus")), "paid");
    assert_int_equal(json_array_size(json_object_get(o, "timeline")), 4);
    json_decref(o);
    assert_true(entry_exists(id, 3) && entry_exists(id, 4) && !entry_exists(id, 5));
}

/* Cancel against ship: one of them wins, and what the other sees is the winner's state. */
static void cancel_races_ship(void **state)
{
    for (int round = 0; round < 5; ++round) {
        char id[25];
        commit_new(id);
        change_arg_t setup_args[2] = {{.id = id, .actor = actor(ADMIN, MC_ROLE_ADMIN), .change = {.act = ACT_CONFIRM}},
                                      {.id = id, .actor = actor(ADMIN, MC_ROLE_ADMIN), .change = {.act = ACT_PROCESS}}};
        run_changes(&setup_args[0], 1);
        run_changes(&setup_args[1], 1);
        ord_changed_free(&setup_args[0].out);
        ord_changed_free(&setup_args[1].out);
        change_arg_t race[2] = {
            {.id = id, .actor = actor(CUSTOMER, MC_ROLE_CUSTOMER), .change = {.act = ACT_CANCEL}},
            {.id = id, .actor = actor(SELLER, MC_ROLE_SELLER), .change = {.act = ACT_SHIP, .carrier = "DHL", .tracking = "X1"}},
        };
        run_changes(race, 2);
        int ok = (race[0].out.verdict == ORD_OK) + (race[1].out.verdict == ORD_OK);
        assert_int_equal(ok, 1);
        json_t *o = load(id);
        const char *status = json_string_value(json_object_get(o, "status"));
        assert_string_equal(status, race[0].out.verdict == ORD_OK ? "cancelled" : "shipped");
        assert_int_equal(json_integer_value(json_object_get(o, "version")), 4);
        json_decref(o);
        ord_changed_free(&race[0].out);
        ord_changed_free(&race[1].out);
    }
}

/* --- commit against abort ---------------------------------------------------------------------- */

typedef struct race_arg {
    json_t *order;
    const char *id;
    ord_commit_t commit;
    ord_settle_t settle;
    int rc;
} race_arg_t;

static void *commit_main(void *p)
{
    race_arg_t *a = p;
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    char *msg = NULL;
    bool written;
    bson_error_t err;
    a->commit = ord_commit(db, a->order, mc_now_ms(), &msg, &written, &err);
    free(msg);
    db_put(cl, db);
    return NULL;
}

static void *settle_main(void *p)
{
    race_arg_t *a = p;
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    json_t *order = NULL;
    bson_error_t err;
    a->rc = ord_checkout_settle(db, a->id, mc_now_ms(), &a->settle, &order, &err);
    json_decref(order);
    db_put(cl, db);
    return NULL;
}

static void commit_or_abort_never_both(void **state)
{
    int committed = 0, aborted = 0;
    for (int round = 0; round < 20; ++round) {
        char id[25];
        race_arg_t a = {.order = new_order(id)};
        a.id = id;
        pthread_t t1, t2;
        pthread_create(&t1, NULL, round % 2 ? commit_main : settle_main, &a);
        pthread_create(&t2, NULL, round % 2 ? settle_main : commit_main, &a);
        pthread_join(t1, NULL);
        pthread_join(t2, NULL);
        assert_int_equal(a.rc, 0);
        assert_true(a.commit == COMMIT_DONE || a.commit == COMMIT_ABORTED);
        json_t *o = load(id);
        if (a.commit == COMMIT_DONE) {
            assert_int_equal(a.settle, SETTLE_COMMITTED);
            assert_non_null(o);
            ++committed;
        } else {
            assert_int_equal(a.settle, SETTLE_ABORTED);
            assert_null(o);
            ++aborted;
        }
        json_decref(o);
        json_decref(a.order);
    }
    assert_int_equal(committed + aborted, 20);
}

/* --- order numbers --------------------------------------------------------------------------------- */

/* Two processes (each with its own allocator and connection pool) take 250 numbers each. */
static void numbers_are_unique_across_processes(void **state)
{
    enum { PROCS = 2, EACH = 250 };
    char path[PROCS][512];
    pid_t pids[PROCS];
    for (int p = 0; p < PROCS; ++p) {
        snprintf(path[p], sizeof(path[p]), "%s/numbers-%d.txt", mh_tmpdir(), p);
        fflush(NULL);
        if ((pids[p] = fork()) == 0) {
            mongoc_uri_t *uri = mongoc_uri_new(mh_mongo_uri());
            mongoc_client_t *cl = mongoc_client_new_from_uri(uri);
            mongoc_database_t *db = mongoc_client_get_database(cl, dbname);
            FILE *f = fopen(path[p], "w");
            int rc = 0;
            for (int i = 0; i < EACH && rc == 0; ++i) {
                char num[32];
                bson_error_t err;
                rc = ord_number_next(db, mc_now_ms(), num, &err);
                fprintf(f, "%s\n", num);
            }
            fclose(f);
            _exit(rc == 0 ? 0 : 1);
        }
    }
    for (int p = 0; p < PROCS; ++p) {
        int st;
        waitpid(pids[p], &st, 0);
        assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    static char all[PROCS * EACH][32];
    int n = 0;
    for (int p = 0; p < PROCS; ++p) {
        FILE *f = fopen(path[p], "r");
        while (n < PROCS * EACH && fgets(all[n], sizeof(all[n]), f) != NULL)
            ++n;
        fclose(f);
    }
    assert_int_equal(n, PROCS * EACH);
    for (int i = 0; i < n; ++i) {
        assert_int_equal(strncmp(all[i], "MC-", 3), 0);
        for (int j = i + 1; j < n; ++j)
            if (strcmp(all[i], all[j]) == 0)
                fail_msg("number %s handed out twice", all[i]);
    }
}

/* --- idempotency --------------------------------------------------------------------------------------- */

static void idempotency_records(void **state)
{
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    bson_error_t err;
    ord_idem_t out;
    int status = 0;
    char *body = NULL;
    char order[25], key[64];
    mh_oid(order);
    snprintf(key, sizeof(key), "%s:key-1", CUSTOMER);
    int64_t now = mc_now_ms();
    assert_int_equal(ord_idem_peek(db, key, "h1", now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_NEW);
    assert_int_equal(ord_idem_begin(db, key, "h1", order, now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_NEW);
    assert_int_equal(ord_idem_begin(db, key, "h1", order, now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_RUNNING);
    assert_int_equal(ord_idem_begin(db, key, "h2", order, now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_MISMATCH);
    ord_idem_finish(db, key, 201, "{\"id\":\"x\"}", now);
    assert_int_equal(ord_idem_peek(db, key, "h1", now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_REPLAY);
    assert_int_equal(status, 201);
    assert_string_equal(body, "{\"id\":\"x\"}");
    free(body);
    body = NULL;
    assert_int_equal(ord_idem_peek(db, key, "h2", now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_MISMATCH);
    /* after its expiry the key starts over */
    int64_t later = now + ord_settings.idem_ttl_ms + 1;
    assert_int_equal(ord_idem_begin(db, key, "h3", order, later, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_NEW);
    /* a running record whose request died before recording a checkout starts over */
    int64_t dead = later + ord_settings.lease_ms + 31000;
    assert_int_equal(ord_idem_begin(db, key, "h3", order, dead, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_NEW);
    /* ... but one with a checkout record waits for the sweeper */
    assert_int_equal(ord_checkout_begin(db, order, CUSTOMER, NULL, key, dead, ord_settings.lease_ms, &err), 0);
    int64_t dead2 = dead + ord_settings.lease_ms + 31000;
    assert_int_equal(ord_idem_begin(db, key, "h3", order, dead2, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_RUNNING);
    ord_checkout_end(db, order);
    /* the janitor deletes expired keys only */
    char old_key[64], live_key[64];
    snprintf(old_key, sizeof(old_key), "%s:old-key", CUSTOMER);
    snprintf(live_key, sizeof(live_key), "%s:live-key", CUSTOMER);
    assert_int_equal(ord_idem_begin(db, old_key, "h", order, now - ord_settings.idem_ttl_ms - 1000, &out, &status, &body, &err), 0);
    assert_int_equal(ord_idem_begin(db, live_key, "h", order, now, &out, &status, &body, &err), 0);
    ord_idem_expire(db, now);
    mongoc_collection_t *ic = mongoc_database_get_collection(db, "idempotency");
    bson_t *f1 = BCON_NEW("_id", BCON_UTF8(old_key)), *f2 = BCON_NEW("_id", BCON_UTF8(live_key));
    assert_int_equal(mongoc_collection_count_documents(ic, f1, NULL, NULL, NULL, &err), 0);
    assert_int_equal(mongoc_collection_count_documents(ic, f2, NULL, NULL, NULL, &err), 1);
    bson_destroy(f1);
    bson_destroy(f2);
    mongoc_collection_destroy(ic);
    /* another user's same key is another key */
    char other[64];
    snprintf(other, sizeof(other), "%s:key-1", SELLER);
    assert_int_equal(ord_idem_peek(db, other, "h9", now, &out, &status, &body, &err), 0);
    assert_int_equal(out, IDEM_NEW);
    db_put(cl, db);
}

/* Ten requests with one key record it at the same moment: exactly one starts. */
typedef struct idem_arg {
    const char *key;
    ord_idem_t out;
    int rc;
} idem_arg_t;

static void *idem_main(void *p)
{
    idem_arg_t *a = p;
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    bson_error_t err;
    int status;
    char *body = NULL, order[25];
    mh_oid(order);
    a->rc = ord_idem_begin(db, a->key, "same-hash", order, mc_now_ms(), &a->out, &status, &body, &err);
    free(body);
    db_put(cl, db);
    return NULL;
}

static void one_key_recorded_once(void **state)
{
    enum { N = 10 };
    char key[64];
    snprintf(key, sizeof(key), "%s:burst-%ld", CUSTOMER, (long)mc_now_ms());
    idem_arg_t args[N];
    pthread_t t[N];
    for (int i = 0; i < N; ++i) {
        args[i] = (idem_arg_t){.key = key};
        pthread_create(&t[i], NULL, idem_main, &args[i]);
    }
    int fresh = 0, running = 0;
    for (int i = 0; i < N; ++i) {
        pthread_join(t[i], NULL);
        assert_int_equal(args[i].rc, 0);
        fresh += args[i].out == IDEM_NEW;
        running += args[i].out == IDEM_RUNNING;
    }
    assert_int_equal(fresh, 1);
    assert_int_equal(running, N - 1);
}

/* --- outbox ------------------------------------------------------------------------------------------------ */

/* Entries listed by ord_outbox_due for an order. */
static int due_for(mongoc_database_t *db, const char *id, int64_t now)
{
    bson_error_t err;
    json_t *due = ord_outbox_due(db, now, 1000, &err);
    assert_non_null(due);
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach(due, i, e) if (strncmp(json_string_value(json_object_get(e, "id")), id, 24) == 0)++ n;
    json_decref(due);
    return n;
}

static void outbox_due_and_roll_forward(void **state)
{
    char id[25];
    commit_new(id);
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    int64_t now = mc_now_ms();
    /* a fresh entry is left to the request that wrote it; later it is due */
    assert_int_equal(due_for(db, id, now), 0);
    assert_int_equal(due_for(db, id, now + ORD_FAST_PATH_MS + 100), 1);
    /* a change while version 1 is unpublished is deferred behind it */
    ord_actor_t a = actor(ADMIN, MC_ROLE_ADMIN);
    ord_change_t c = {.act = ACT_CONFIRM};
    ord_changed_t out;
    bool found;
    bson_error_t err;
    assert_int_equal(ord_change(db, id, &a, &c, now, &out, &found, &err), 0);
    assert_int_equal(out.verdict, ORD_OK);
    assert_true(out.deferred);
    ord_changed_free(&out);
    assert_int_equal(due_for(db, id, now + ORD_FAST_PATH_MS + 100), 2);

    /* a writer that claimed version 3 and died before writing the order: the order is
     * rolled forward to its claim once the claim is old enough, not before */
    json_t *o = ord_get(db, id, &err);
    ord_change_t pay = {.act = ACT_PAY};
    json_t *next = ord_apply(o, &a, &pay, now);
    json_t *ev = ord_event(next, "order.updated", now);
    char *msg = json_dumps(ev, JSON_COMPACT);
    char eid[64], ts[MC_TIME_BUFSZ];
    snprintf(eid, sizeof(eid), "%s:3", id);
    json_t *entry = json_pack("{s:s,s:s,s:i,s:s,s:s,s:s,s:b,s:b}", "_id", eid, "orderId", id, "version", 3, "type", "order.updated", "at",
                              mc_time_format(now, ts), "message", msg, "deferred", 0, "aborted", 0);
    bson_t b = BSON_INITIALIZER;
    assert_true(mc_json_to_bson(entry, &b, MC_BJ_DATES));
    mongoc_collection_t *ob = mongoc_database_get_collection(db, "outbox");
    assert_true(mongoc_collection_insert_one(ob, &b, NULL, NULL, &err));
    mongoc_collection_destroy(ob);
    bson_destroy(&b);
    /* young: versions 1 and 2 are due, 3 waits (its writer may still be at work) */
    assert_int_equal(due_for(db, id, now + ORD_FAST_PATH_MS + 100), 2);
    json_t *cur = ord_get(db, id, &err);
    assert_int_equal(json_integer_value(json_object_get(cur, "version")), 2);
    json_decref(cur);
    /* old: rolled forward, and due */
    assert_int_equal(due_for(db, id, now + ORD_ROLL_FORWARD_MS + 100), 3);
    cur = ord_get(db, id, &err);
    assert_int_equal(json_integer_value(json_object_get(cur, "version")), 3);
    assert_string_equal(json_string_value(json_object_get(cur, "paymentStatus")), "paid");
    json_decref(cur);
    /* a writer for version 4 meanwhile would first have found version 3 claimed */
    ord_change_t proc = {.act = ACT_PROCESS};
    assert_int_equal(ord_change(db, id, &a, &proc, mc_now_ms(), &out, &found, &err), 0);
    assert_int_equal(out.verdict, ORD_OK);
    assert_int_equal(json_integer_value(json_object_get(out.order, "version")), 4);
    ord_changed_free(&out);
    free(msg);
    json_decref(ev);
    json_decref(next);
    json_decref(entry);
    json_decref(o);
    db_put(cl, db);
}

/* Statistics by aggregation: a seller's lines only, cancelled orders out of the revenue. */
static void statistics(void **state)
{
    mongoc_client_t *cl;
    mongoc_database_t *db = db_get(&cl);
    char seller[25], other[25];
    mh_oid(seller);
    mh_oid(other);
    int64_t now = mc_now_ms();
    char ids[3][25];
    for (int i = 0; i < 3; ++i) {
        json_t *o = new_order(ids[i]);
        /* two lines: the seller's (2 × 1000 - 100) and another seller's (1 × 5000) */
        json_t *items = json_pack("[{s:s,s:s,s:s,s:n,s:n,s:i,s:i,s:i,s:i,s:i},{s:s,s:s,s:s,s:n,s:n,s:i,s:i,s:i,s:i,s:i}]", "productId",
                                  "121212121212121212121212", "sellerId", seller, "name", "Cup", "categoryId", "image", "unitPrice", 1000,
                                  "quantity", 2, "subtotal", 2000, "discount", 100, "total", 1900, "productId", "343434343434343434343434",
                                  "sellerId", other, "name", "Pot", "categoryId", "image", "unitPrice", 5000, "quantity", 1, "subtotal", 5000,
                                  "discount", 0, "total", 5000);
        json_object_set_new(o, "items", items);
        json_object_set_new(o, "sellerIds", json_pack("[s,s]", seller, other));
        json_object_set_new(o, "total", json_integer(6900));
        char *msg = NULL;
        bool written;
        bson_error_t err;
        assert_int_equal(ord_commit(db, o, now, &msg, &written, &err), COMMIT_DONE);
        free(msg);
        json_decref(o);
    }
    ord_actor_t a = actor(ADMIN, MC_ROLE_ADMIN);
    ord_change_t c = {.act = ACT_CANCEL};
    ord_changed_t out;
    bool found;
    bson_error_t err;
    assert_int_equal(ord_change(db, ids[2], &a, &c, now, &out, &found, &err), 0);
    ord_changed_free(&out);
    json_t *st = ord_stats(db, seller, now - 86400000, now + 1000, &err);
    assert_non_null(st);
    assert_int_equal(json_integer_value(json_object_get(st, "orders")), 3);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(st, "ordersByStatus"), "cancelled")), 1);
    assert_int_equal(json_integer_value(json_object_get(st, "revenue")), 2 * 1900);
    assert_int_equal(json_integer_value(json_object_get(st, "itemsSold")), 4);
    json_t *top = json_object_get(st, "topProducts");
    assert_int_equal(json_array_size(top), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(top, 0), "name")), "Cup");
    json_int_t days = 0, rev = 0;
    size_t i;
    json_t *d;
    json_array_foreach(json_object_get(st, "perDay"), i, d)
    {
        days += json_integer_value(json_object_get(d, "orders"));
        rev += json_integer_value(json_object_get(d, "revenue"));
    }
    assert_int_equal(days, 2);
    assert_int_equal(rev, 2 * 1900);
    json_decref(st);
    db_put(cl, db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_version_is_claimed_once),
        cmocka_unit_test(cancel_races_ship),
        cmocka_unit_test(commit_or_abort_never_both),
        cmocka_unit_test(numbers_are_unique_across_processes),
        cmocka_unit_test(idempotency_records),
        cmocka_unit_test(one_key_recorded_once),
        cmocka_unit_test(outbox_due_and_roll_forward),
        cmocka_unit_test(statistics),
    };
    return mh_run_group("order store", tests, setup, teardown);
}
