/*
 * Implementation of cart.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cart.h"
#include "mc_log.h"
#include "mc_redis.h"
#include "mc_util.h"
#include "settings.h"

/* KEYS[1] cart; ARGV[1] ttl ms. Returns the hash as a flat array. */
static const char read_src[] = "local h = redis.call('HGETALL', KEYS[1])\n"
                               "if #h > 0 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end\n"
                               "return h\n";
/* KEYS[1] cart; ARGV: product, quantity, max quantity, max lines, ttl ms, now ms, mode
 * ("add" or "set"). Returns {quantity} or {error, current quantity}. */
static const char write_src[] = "local cur = redis.call('HGET', KEYS[1], ARGV[1])\n"
                                "local q = tonumber(ARGV[2])\n"
                                "local added = ARGV[6]\n"
                                "local old = 0\n"
                                "if cur then\n"
                                "  local sep = string.find(cur, ':', 1, true)\n"
                                "  if sep then old = tonumber(string.sub(cur, 1, sep - 1)) or 0; added = string.sub(cur, sep + 1) end\n"
                                "elseif ARGV[7] == 'set' then return {-3, 0}\n"
                                "elseif redis.call('HLEN', KEYS[1]) >= tonumber(ARGV[4]) then return {-2, 0} end\n"
                                "if ARGV[7] == 'add' then q = old + q end\n"
                                "if q > tonumber(ARGV[3]) then return {-1, old} end\n"
                                "redis.call('HSET', KEYS[1], ARGV[1], q .. ':' .. added)\n"
                                "redis.call('PEXPIRE', KEYS[1], ARGV[5])\n"
                                "return {q, 0}\n";
/* KEYS[1] cart; ARGV[1] product, ARGV[2] ttl ms. Returns 1 when removed. */
static const char remove_src[] = "local n = redis.call('HDEL', KEYS[1], ARGV[1])\n"
                                 "if n > 0 and redis.call('EXISTS', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
                                 "return n\n";

static mc_redis_script_t *read_script, *write_script, *remove_script;

void cart_global_init(void)
{
    read_script = mc_redis_script_create(read_src);
    write_script = mc_redis_script_create(write_src);
    remove_script = mc_redis_script_create(remove_src);
}

void cart_global_dispose(void)
{
    mc_redis_script_free(read_script);
    mc_redis_script_free(write_script);
    mc_redis_script_free(remove_script);
}

typedef struct op {
    mc_req_t *req;
    cart_read_cb rcb;
    cart_write_cb wcb;
} op_t;

/* The Redis key of a user's cart. */
static void key_of(char *out, size_t len, const char *user)
{
    snprintf(out, len, "cart:%s", user);
}

/* One Redis operation for a request, which stays retained until it answered. */
static op_t *op_new(mc_req_t *req, cart_read_cb rcb, cart_write_cb wcb)
{
    op_t *o = malloc(sizeof(*o));
    o->req = req;
    o->rcb = rcb;
    o->wcb = wcb;
    mc_req_retain(req);
    return o;
}

/* Redis is down or failed: the callback learns it. */
static void op_fail(op_t *o)
{
    if (o->rcb)
        o->rcb(o->req, CART_ERR_REDIS, NULL);
    else
        o->wcb(o->req, CART_ERR_REDIS, 0);
    mc_req_release(o->req);
    free(o);
}

/* Cart lines in the order they were added. */
static int by_added(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "addedMs"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "addedMs"));
    return x < y ? -1 : x > y;
}

/* The hash as lines, oldest first (entries that do not parse are skipped). */
static void on_read(redisReply *reply, const char *err, void *data)
{
    op_t *o = data;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
            mc_log(MC_LOG_ERROR, mc_req_id(o->req), "cart script failed: %s", reply->str);
        op_fail(o);
        return;
    }
    size_t n = reply->elements / 2;
    json_t **items = calloc(n ? n : 1, sizeof(json_t *));
    size_t k = 0;
    for (size_t i = 0; i + 1 < reply->elements; i += 2) {
        redisReply *f = reply->element[i], *v = reply->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING || !mc_is_object_id(f->str, f->len))
            continue;
        long long q = 0, added = 0;
        if (sscanf(v->str, "%lld:%lld", &q, &added) < 1 || q < 1)
            continue;
        char ts[MC_TIME_BUFSZ];
        items[k++] = json_pack("{s:s%,s:I,s:s,s:I}", "productId", f->str, f->len, "quantity", (json_int_t)q, "addedAt",
                               mc_time_format(added, ts), "addedMs", (json_int_t)added);
    }
    qsort(items, k, sizeof(json_t *), by_added);
    json_t *lines = json_array();
    for (size_t i = 0; i < k; ++i) {
        json_object_del(items[i], "addedMs");
        json_array_append_new(lines, items[i]);
    }
    free(items);
    o->rcb(o->req, CART_OK, lines);
    json_decref(lines);
    mc_req_release(o->req);
    free(o);
}

void cart_read(mc_req_t *req, const char *user, cart_read_cb cb)
{
    op_t *o = op_new(req, cb, NULL);
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    char key[64], ttl[32];
    key_of(key, sizeof(key), user);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ord_settings.cart_ttl_s * 1000);
    const char *args[] = {key, ttl};
    if (r == NULL || mc_redis_eval(r, read_script, on_read, o, 1, 1, args, NULL) != 0)
        op_fail(o);
}

/* The write script's answer: {quantity} or {error, current quantity}. */
static void on_write(redisReply *reply, const char *err, void *data)
{
    op_t *o = data;
    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 || reply->element[0]->type != REDIS_REPLY_INTEGER) {
        if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
            mc_log(MC_LOG_ERROR, mc_req_id(o->req), "cart script failed: %s", reply->str);
        op_fail(o);
        return;
    }
    long long a = reply->element[0]->integer, b = reply->element[1]->type == REDIS_REPLY_INTEGER ? reply->element[1]->integer : 0;
    if (a < 0)
        o->wcb(o->req, (int)a, b);
    else
        o->wcb(o->req, CART_OK, a);
    mc_req_release(o->req);
    free(o);
}

/* Adds to or sets a line through the write script (bounds checked in Redis). */
static void write_line(mc_req_t *req, const char *user, const char *product, int64_t quantity, const char *mode, cart_write_cb cb)
{
    op_t *o = op_new(req, NULL, cb);
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    char key[64], q[32], maxq[32], maxl[32], ttl[32], now[32];
    key_of(key, sizeof(key), user);
    snprintf(q, sizeof(q), "%lld", (long long)quantity);
    snprintf(maxq, sizeof(maxq), "%lld", (long long)ord_settings.max_quantity);
    snprintf(maxl, sizeof(maxl), "%lld", (long long)ord_settings.max_lines);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ord_settings.cart_ttl_s * 1000);
    snprintf(now, sizeof(now), "%lld", (long long)mc_now_ms());
    const char *args[] = {key, product, q, maxq, maxl, ttl, now, mode};
    if (r == NULL || mc_redis_eval(r, write_script, on_write, o, 1, 7, args, NULL) != 0)
        op_fail(o);
}

void cart_add(mc_req_t *req, const char *user, const char *product, int64_t quantity, cart_write_cb cb)
{
    write_line(req, user, product, quantity, "add", cb);
}

void cart_set(mc_req_t *req, const char *user, const char *product, int64_t quantity, cart_write_cb cb)
{
    write_line(req, user, product, quantity, "set", cb);
}

/* The remove script's answer: 1 removed, 0 absent. */
static void on_int(redisReply *reply, const char *err, void *data)
{
    op_t *o = data;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        op_fail(o);
        return;
    }
    o->wcb(o->req, reply->integer > 0 ? CART_OK : CART_ERR_ABSENT, 0);
    mc_req_release(o->req);
    free(o);
}

void cart_remove(mc_req_t *req, const char *user, const char *product, cart_write_cb cb)
{
    op_t *o = op_new(req, NULL, cb);
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    char key[64], ttl[32];
    key_of(key, sizeof(key), user);
    snprintf(ttl, sizeof(ttl), "%lld", (long long)ord_settings.cart_ttl_s * 1000);
    const char *args[] = {key, product, ttl};
    if (r == NULL || mc_redis_eval(r, remove_script, on_int, o, 1, 2, args, NULL) != 0)
        op_fail(o);
}

/* DEL answered. */
static void on_cleared(redisReply *reply, const char *err, void *data)
{
    op_t *o = data;
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER) {
        op_fail(o);
        return;
    }
    o->wcb(o->req, CART_OK, 0);
    mc_req_release(o->req);
    free(o);
}

void cart_clear(mc_req_t *req, const char *user, cart_write_cb cb)
{
    op_t *o = op_new(req, NULL, cb);
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    char key[64];
    key_of(key, sizeof(key), user);
    if (r == NULL || mc_redis_cmd(r, on_cleared, o, "DEL %s", key) != 0)
        op_fail(o);
}

void cart_remove_lines(mc_worker_t *w, const char *user, const json_t *product_ids)
{
    mc_redis_t *r = mc_worker_redis(w);
    size_t n = json_array_size(product_ids);
    if (r == NULL || n == 0)
        return;
    const char **argv = calloc(n + 2, sizeof(char *));
    char key[64];
    key_of(key, sizeof(key), user);
    argv[0] = "HDEL";
    argv[1] = key;
    for (size_t i = 0; i < n; ++i)
        argv[i + 2] = json_string_value(json_array_get(product_ids, i));
    if (mc_redis_cmd_argv(r, NULL, NULL, (int)n + 2, argv, NULL) != 0)
        mc_log_warn("could not remove ordered lines from the cart of %s (Redis down)", user);
    free(argv);
}
