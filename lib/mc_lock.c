/*
 * Implementation of mc_lock.h.
 */
#include <time.h>
#include "mc_lock.h"
#include "mc_mongo.h"
#include "mc_util.h"

int mc_lock_acquire(mongoc_database_t *db, const char *name, unsigned ttl_ms, unsigned wait_ms, char *token,
                    bson_error_t *err)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "locks");
    unsigned char rnd[16];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), token);
    uint64_t deadline = mc_mono_ns() + (uint64_t)wait_ms * 1000000u;
    unsigned backoff_us = 500;
    int r = 1;
    for (;;) {
        int64_t now = mc_now_ms();
        bson_t *doc = BCON_NEW("_id", BCON_UTF8(name), "token", BCON_UTF8(token), "expiresAt",
                               BCON_DATE_TIME(now + (int64_t)ttl_ms));
        bool ok = mongoc_collection_insert_one(c, doc, NULL, NULL, err);
        bson_destroy(doc);
        if (ok) {
            r = 0;
            break;
        }
        if (!mc_mongo_is_duplicate(err)) {
            r = -1;
            break;
        }
        /* Held: break it only when it outlived its expiry (its holder died). */
        bson_t *stale = BCON_NEW("_id", BCON_UTF8(name), "expiresAt", "{", "$lt", BCON_DATE_TIME(now), "}");
        mongoc_collection_delete_one(c, stale, NULL, NULL, NULL);
        bson_destroy(stale);
        if (mc_mono_ns() >= deadline)
            break;
        /* jittered, growing pauses, so that waiters do not retry in lock step */
        unsigned char j;
        mc_random_bytes(&j, 1);
        unsigned pause = backoff_us / 2 + (backoff_us / 2) * j / 255u;
        struct timespec ts = {(time_t)(pause / 1000000u), (long)(pause % 1000000u) * 1000L};
        nanosleep(&ts, NULL);
        if (backoff_us < 40000)
            backoff_us *= 2;
    }
    mongoc_collection_destroy(c);
    return r;
}

void mc_lock_release(mongoc_database_t *db, const char *name, const char *token)
{
    mongoc_collection_t *c = mongoc_database_get_collection(db, "locks");
    bson_t *filter = BCON_NEW("_id", BCON_UTF8(name), "token", BCON_UTF8(token));
    mongoc_collection_delete_one(c, filter, NULL, NULL, NULL);
    bson_destroy(filter);
    mongoc_collection_destroy(c);
}
