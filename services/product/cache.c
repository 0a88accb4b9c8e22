/*
 * Implementation of cache.h.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cache.h"
#include "mc_log.h"
#include "mc_redis.h"
#include "mc_util.h"

#define TAG_MAX 72
#define LISTS_KEY "products:ver"

/* KEYS: epoch, version, data. ARGV: a fresh token, the version TTL. → {tag[, payload]} */
static const char get_src[] =
    "local e = redis.call('GET', KEYS[1])\n"
    "if not e then e = ARGV[1]; redis.call('SET', KEYS[1], e) end\n"
    "local v = redis.call('GET', KEYS[2])\n"
    "if not v then v = ARGV[1]; redis.call('SET', KEYS[2], v, 'EX', ARGV[2]) end\n"
    "local tag = e .. '.' .. v\n"
    "local d = redis.call('GET', KEYS[3])\n"
    "if d then\n"
    "  local n = string.find(d, '\\n', 1, true)\n"
    "  if n and string.sub(d, 1, n - 1) == tag then return {tag, string.sub(d, n + 1)} end\n"
    "end\n"
    "return {tag}\n";

/* Shared by the two scripts below: appends (tag, payload or false) of each product of ids,
 * reading every version with one MGET and every value with another. */
#define PRODUCTS_LOOKUP_LUA                                                                                            \
    "local function products(e, ids, fresh, ttl, out)\n"                                                               \
    "  if #ids == 0 then return end\n"                                                                                 \
    "  local vks, dks = {}, {}\n"                                                                                      \
    "  for i, id in ipairs(ids) do vks[i] = 'product:' .. id .. ':ver'; dks[i] = 'product:' .. id end\n"              \
    "  local vs = redis.call('MGET', unpack(vks))\n"                                                                   \
    "  local ds = redis.call('MGET', unpack(dks))\n"                                                                   \
    "  for i = 1, #ids do\n"                                                                                           \
    "    local v = vs[i]\n"                                                                                            \
    "    if not v then v = fresh; redis.call('SET', vks[i], v, 'EX', ttl) end\n"                                       \
    "    local tag = e .. '.' .. v\n"                                                                                  \
    "    out[#out + 1] = tag\n"                                                                                        \
    "    local d = ds[i]\n"                                                                                            \
    "    local n = d and string.find(d, '\\n', 1, true)\n"                                                             \
    "    if n and string.sub(d, 1, n - 1) == tag then out[#out + 1] = string.sub(d, n + 1) else out[#out + 1] = false end\n" \
    "  end\n"                                                                                                          \
    "end\n"

/* KEYS: epoch. ARGV: fresh token, version TTL, ids… → {tag1, payload1|nil, tag2, …} */
static const char many_src[] = PRODUCTS_LOOKUP_LUA
    "local e = redis.call('GET', KEYS[1])\n"
    "if not e then e = ARGV[1]; redis.call('SET', KEYS[1], e) end\n"
    "local ids = {}\n"
    "for i = 3, #ARGV do ids[#ids + 1] = ARGV[i] end\n"
    "local out = {}\n"
    "products(e, ids, ARGV[1], ARGV[2], out)\n"
    "return out\n";

/* KEYS: epoch, products:ver, page key. ARGV: fresh token, version TTL.
 * → {tag} on a miss; {tag, page, tag1, payload1|nil, …} on a hit. */
static const char page_src[] = PRODUCTS_LOOKUP_LUA
    "local e = redis.call('GET', KEYS[1])\n"
    "if not e then e = ARGV[1]; redis.call('SET', KEYS[1], e) end\n"
    "local v = redis.call('GET', KEYS[2])\n"
    "if not v then v = ARGV[1]; redis.call('SET', KEYS[2], v, 'EX', ARGV[2]) end\n"
    "local tag = e .. '.' .. v\n"
    "local d = redis.call('GET', KEYS[3])\n"
    "local n = d and string.find(d, '\\n', 1, true)\n"
    "if not n or string.sub(d, 1, n - 1) ~= tag then return {tag} end\n"
    "local page = string.sub(d, n + 1)\n"
    "local out = {tag, page}\n"
    "local nl = string.find(page, '\\n', 1, true)\n"
    "local ids = {}\n"
    "for id in string.gmatch(nl and string.sub(page, 1, nl - 1) or page, '[^,]+') do ids[#ids + 1] = id end\n"
    "products(e, ids, ARGV[1], ARGV[2], out)\n"
    "return out\n";

/* KEYS: epoch, version, data. ARGV: tag, payload, TTL. Stores only under the current tag. */
static const char fill_src[] = "local e = redis.call('GET', KEYS[1])\n"
                               "local v = redis.call('GET', KEYS[2])\n"
                               "if e and v and (e .. '.' .. v) == ARGV[1] then\n"
                               "  redis.call('SET', KEYS[3], ARGV[1] .. '\\n' .. ARGV[2], 'EX', ARGV[3])\n"
                               "  return 1\n"
                               "end\n"
                               "return 0\n";

/* KEYS: version keys. ARGV: a fresh token, the TTL. */
static const char bump_src[] = "for i = 1, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[2]) end\n"
                               "return #KEYS\n";

static mc_redis_script_t *s_get, *s_many, *s_page, *s_fill, *s_bump;
/* "products:epoch:<database>": every tag starts with its value, so two databases sharing a
 * Redis (two environments, a database switched under a running Redis) never read each
 * other's values. */
static char epoch_key[160];
#define EPOCH_KEY epoch_key
static pc_load_fn product_loader;
static atomic_uint write_seq;   /* process-wide: a write anywhere ends joining older uncached reads */
static atomic_int epoch_pending; /* an invalidation did not reach Redis */

void pc_init(pc_load_fn loader, const char *dbname)
{
    product_loader = loader;
    snprintf(epoch_key, sizeof(epoch_key), "products:epoch:%s", dbname);
    s_get = mc_redis_script_create(get_src);
    s_many = mc_redis_script_create(many_src);
    s_page = mc_redis_script_create(page_src);
    s_fill = mc_redis_script_create(fill_src);
    s_bump = mc_redis_script_create(bump_src);
}

void pc_dispose(void)
{
    mc_redis_script_free(s_get);
    mc_redis_script_free(s_many);
    mc_redis_script_free(s_page);
    mc_redis_script_free(s_fill);
    mc_redis_script_free(s_bump);
    s_get = s_many = s_page = s_fill = s_bump = NULL;
}

static void fresh_token(char out[33])
{
    unsigned char rnd[16];
    mc_random_bytes(rnd, sizeof(rnd));
    mc_hex_encode(rnd, sizeof(rnd), out);
}

static mc_redis_t *redis_of(mc_req_t *req)
{
    mc_redis_t *r = mc_worker_redis(mc_req_worker(req));
    return r != NULL && mc_redis_up(r) ? r : NULL;
}

static bool reply_str(const redisReply *r, size_t i, const char **s, size_t *len)
{
    if (r == NULL || r->type != REDIS_REPLY_ARRAY || i >= r->elements || r->element[i]->type != REDIS_REPLY_STRING)
        return false;
    *s = r->element[i]->str;
    *len = r->element[i]->len;
    return true;
}

static bool reply_tag(const redisReply *r, size_t i, char *tag)
{
    const char *s;
    size_t len;
    if (!reply_str(r, i, &s, &len) || len == 0 || len >= TAG_MAX)
        return false;
    memcpy(tag, s, len);
    tag[len] = '\0';
    return true;
}

/* --- single flight ------------------------------------------------------------------------- */

typedef struct waiter {
    mc_req_t *req;
    pc_cb cb;
    void *cbarg;
    struct waiter *next;
} waiter_t;

typedef struct pc_flight {
    ps_worker_t *pw;
    char *key, *verkey;
    int ttl;
    char tag[TAG_MAX]; /* "" = uncached (Redis down) */
    unsigned write_seq;
    bool is_product;
    pc_load_fn load;
    void *arg;
    void (*free_arg)(void *);
    waiter_t *waiters;
    /* outcome */
    bool done;
    mc_err_t err;
    char *data;
    size_t len;
    struct pc_flight *next;
} pc_flight_t;

static void flight_unlink(pc_flight_t *f)
{
    for (pc_flight_t **pp = &f->pw->flights; *pp != NULL; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            return;
        }
}

static void flight_free(pc_flight_t *f)
{
    if (f->free_arg != NULL)
        f->free_arg(f->arg);
    free(f->key);
    free(f->verkey);
    free(f->data);
    free(f);
}

static void flight_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    pc_flight_t *f = arg;
    f->load(db, f->tag, f->arg, &f->data, &f->len, res);
}

static void on_filled(redisReply *reply, const char *err, void *data)
{
    pc_flight_t *f = data;
    ps_worker_t *pw = f->pw;
    flight_unlink(f);
    flight_free(f);
    ps_worker_job_end(pw);
}

static void flight_done(void *arg, const mc_mongo_result_t *res)
{
    pc_flight_t *f = arg;
    ps_worker_t *pw = f->pw;
    f->done = true;
    f->err = res->err;
    if (res->err != MC_OK) {
        free(f->data);
        f->data = NULL;
        if (res->err != MC_ERR_UNAVAILABLE)
            mc_log_error("cache load of %s failed: %s", f->key, res->bson.message);
    }
    atomic_fetch_add(f->is_product ? &ps_stats.product_loads : &ps_stats.page_loads, 1);
    waiter_t *w = f->waiters;
    f->waiters = NULL;
    while (w != NULL) {
        waiter_t *next = w->next;
        w->cb(w->req, f->err, f->data, f->len, w->cbarg);
        mc_req_release(w->req);
        free(w);
        w = next;
    }
    /* Store the result under the tag read before loading; until Redis has it, misses of
     * the same tag keep joining this finished load. */
    mc_redis_t *r = pw->disposed ? NULL : mc_worker_redis(pw->w);
    if (f->tag[0] != '\0' && f->err == MC_OK && f->data != NULL && r != NULL && mc_redis_up(r)) {
        char ttl[16];
        snprintf(ttl, sizeof(ttl), "%d", f->ttl);
        const char *args[6] = {EPOCH_KEY, f->verkey, f->key, f->tag, f->data, ttl};
        size_t lens[6] = {strlen(EPOCH_KEY), strlen(f->verkey), strlen(f->key), strlen(f->tag), f->len, strlen(ttl)};
        ps_worker_job_begin(pw);
        if (mc_redis_eval(r, s_fill, on_filled, f, 3, 3, args, lens) == 0) {
            ps_worker_job_end(pw); /* the load's own job; the fill holds one */
            return;
        }
        ps_worker_job_end(pw);
    }
    flight_unlink(f);
    flight_free(f);
    ps_worker_job_end(pw);
}

/* Joins a load of key under tag, or starts one. Takes ownership of arg. */
static void flight_join(mc_req_t *req, const char *key, const char *verkey, int ttl, const char *tag, bool is_product,
                        pc_load_fn load, void *arg, void (*free_arg)(void *), pc_cb cb, void *cbarg)
{
    ps_worker_t *pw = ps_worker(mc_req_worker(req));
    if (pw == NULL || pw->disposed) {
        /* the worker is shutting down (a request whose client left long ago) */
        if (free_arg != NULL)
            free_arg(arg);
        cb(req, MC_ERR_UNAVAILABLE, NULL, 0, cbarg);
        return;
    }
    unsigned seq = atomic_load(&write_seq);
    for (pc_flight_t *f = pw->flights; f != NULL; f = f->next) {
        if (strcmp(f->key, key) != 0 || strcmp(f->tag, tag) != 0 || (tag[0] == '\0' && f->write_seq != seq))
            continue;
        if (free_arg != NULL)
            free_arg(arg);
        atomic_fetch_add(&ps_stats.joined_loads, 1);
        if (f->done) {
            cb(req, f->err, f->data, f->len, cbarg);
            return;
        }
        waiter_t *w = malloc(sizeof(*w));
        if (w == NULL)
            abort();
        *w = (waiter_t){req, cb, cbarg, f->waiters};
        mc_req_retain(req);
        f->waiters = w;
        return;
    }
    pc_flight_t *f = calloc(1, sizeof(*f));
    waiter_t *w = malloc(sizeof(*w));
    if (f == NULL || w == NULL)
        abort();
    f->pw = pw;
    f->key = strdup(key);
    f->verkey = strdup(verkey);
    if (f->key == NULL || f->verkey == NULL)
        abort();
    f->ttl = ttl;
    snprintf(f->tag, sizeof(f->tag), "%s", tag);
    f->write_seq = seq;
    f->is_product = is_product;
    f->load = load;
    f->arg = arg;
    f->free_arg = free_arg;
    *w = (waiter_t){req, cb, cbarg, NULL};
    mc_req_retain(req);
    f->waiters = w;
    ps_worker_job_begin(pw);
    if (mc_mongo_submit(mc_server_mongo(mc_req_server(req)), mc_worker_loop(pw->w), flight_work, flight_done, f) != 0) {
        f->waiters = NULL;
        cb(req, MC_ERR_INTERNAL, NULL, 0, cbarg);
        mc_req_release(req);
        free(w);
        flight_free(f);
        ps_worker_job_end(pw);
        return;
    }
    f->next = pw->flights;
    pw->flights = f;
}

/* --- one value ------------------------------------------------------------------------------- */

typedef struct get_ctx {
    mc_req_t *req;
    char *key, *verkey;
    int ttl;
    bool is_product;
    pc_load_fn load;
    void *arg;
    void (*free_arg)(void *);
    pc_cb cb;
    void *cbarg;
} get_ctx_t;

static void get_ctx_free(get_ctx_t *g)
{
    free(g->key);
    free(g->verkey);
    free(g);
}

static void on_get(redisReply *reply, const char *err, void *data)
{
    get_ctx_t *g = data;
    char tag[TAG_MAX] = "";
    const char *val;
    size_t len;
    if (reply_tag(reply, 0, tag) && reply_str(reply, 1, &val, &len)) {
        atomic_fetch_add(&ps_stats.cache_hits, 1);
        if (g->free_arg != NULL)
            g->free_arg(g->arg);
        g->cb(g->req, MC_OK, val, len, g->cbarg);
    } else {
        atomic_fetch_add(&ps_stats.cache_misses, 1);
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
            tag[0] = '\0'; /* Redis failed us: an uncached read */
        flight_join(g->req, g->key, g->verkey, g->ttl, tag, g->is_product, g->load, g->arg, g->free_arg, g->cb, g->cbarg);
    }
    mc_req_release(g->req);
    get_ctx_free(g);
}

static void value_get(mc_req_t *req, const char *key, const char *verkey, int ttl, bool is_product, pc_load_fn load,
                      void *arg, void (*free_arg)(void *), pc_cb cb, void *cbarg)
{
    mc_redis_t *r = redis_of(req);
    if (r == NULL) {
        flight_join(req, key, verkey, ttl, "", is_product, load, arg, free_arg, cb, cbarg);
        return;
    }
    get_ctx_t *g = malloc(sizeof(*g));
    if (g == NULL)
        abort();
    *g = (get_ctx_t){req, strdup(key), strdup(verkey), ttl, is_product, load, arg, free_arg, cb, cbarg};
    if (g->key == NULL || g->verkey == NULL)
        abort();
    char fresh[33], ttls[16];
    fresh_token(fresh);
    snprintf(ttls, sizeof(ttls), "%d", PC_VERSION_TTL);
    const char *args[5] = {EPOCH_KEY, verkey, key, fresh, ttls};
    mc_req_retain(req);
    if (mc_redis_eval(r, s_get, on_get, g, 3, 2, args, NULL) != 0) {
        mc_req_release(req);
        get_ctx_free(g);
        flight_join(req, key, verkey, ttl, "", is_product, load, arg, free_arg, cb, cbarg);
    }
}

static void free_str(void *p)
{
    free(p);
}

static void product_key(const char *id, char *key, char *verkey)
{
    snprintf(key, 40, "product:%s", id);
    snprintf(verkey, 48, "product:%s:ver", id);
}

void pc_product_get(mc_req_t *req, const char *id, pc_cb cb, void *cbarg)
{
    char key[40], verkey[48];
    product_key(id, key, verkey);
    char *arg = strdup(id);
    if (arg == NULL)
        abort();
    value_get(req, key, verkey, PC_PRODUCT_TTL, true, product_loader, arg, free_str, cb, cbarg);
}

void pc_value_get(mc_req_t *req, const char *key, int ttl, pc_load_fn load, void *arg, void (*free_arg)(void *),
                  pc_cb cb, void *cbarg)
{
    value_get(req, key, LISTS_KEY, ttl, false, load, arg, free_arg, cb, cbarg);
}

/* --- many products ---------------------------------------------------------------------------- */

typedef struct gather {
    mc_req_t *req;
    size_t n, left;
    char (*ids)[25];
    char **values;
    size_t *lens;
    mc_err_t err;
    /* exactly one of the two callbacks */
    pc_many_cb many_cb;
    pc_page_cb page_cb;
    char *page;
    size_t page_len;
    void *cbarg;
} gather_t;

typedef struct gather_slot {
    gather_t *g;
    size_t i;
} gather_slot_t;

static gather_t *gather_new(mc_req_t *req, char (*ids)[25], size_t n)
{
    gather_t *g = calloc(1, sizeof(*g));
    if (g == NULL)
        abort();
    g->req = req;
    g->n = n;
    g->ids = calloc(n ? n : 1, sizeof(*g->ids));
    g->values = calloc(n ? n : 1, sizeof(*g->values));
    g->lens = calloc(n ? n : 1, sizeof(*g->lens));
    if (g->ids == NULL || g->values == NULL || g->lens == NULL)
        abort();
    memcpy(g->ids, ids, n * sizeof(*ids));
    mc_req_retain(req);
    return g;
}

static void gather_finish(gather_t *g)
{
    if (g->many_cb != NULL)
        g->many_cb(g->req, g->err, (const char *const *)g->values, g->lens, g->cbarg);
    else
        g->page_cb(g->req, g->err, g->page, g->page_len, (const char *const *)g->values, g->lens, g->n, g->cbarg);
    mc_req_release(g->req);
    for (size_t i = 0; i < g->n; ++i)
        free(g->values[i]);
    free(g->values);
    free(g->lens);
    free(g->ids);
    free(g->page);
    free(g);
}

static void gather_one(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    gather_slot_t *s = cbarg;
    gather_t *g = s->g;
    if (err != MC_OK && g->err == MC_OK)
        g->err = err;
    if (err == MC_OK && data != NULL) {
        g->values[s->i] = malloc(len + 1);
        if (g->values[s->i] == NULL)
            abort();
        memcpy(g->values[s->i], data, len);
        g->values[s->i][len] = '\0';
        g->lens[s->i] = len;
    }
    free(s);
    if (--g->left == 0)
        gather_finish(g);
}

/* Loads the products whose values are still missing (tags[i] the tag each was read
 * under, "" for uncached), then finishes. */
static void gather_load(gather_t *g, char (*tags)[TAG_MAX], const bool *have)
{
    g->left = 1; /* held until every load is started */
    for (size_t i = 0; i < g->n; ++i) {
        if (have[i])
            continue;
        ++g->left;
        gather_slot_t *s = malloc(sizeof(*s));
        char *arg = strdup(g->ids[i]);
        if (s == NULL || arg == NULL)
            abort();
        s->g = g;
        s->i = i;
        char key[40], verkey[48];
        product_key(g->ids[i], key, verkey);
        flight_join(g->req, key, verkey, PC_PRODUCT_TTL, tags ? tags[i] : "", true, product_loader, arg, free_str,
                    gather_one, s);
    }
    if (--g->left == 0)
        gather_finish(g);
}

/* Reads products from a script reply: pairs (tag, payload|nil) from element `first`. */
static void gather_from_reply(gather_t *g, const redisReply *reply, size_t first)
{
    char (*tags)[TAG_MAX] = calloc(g->n ? g->n : 1, sizeof(*tags));
    bool *have = calloc(g->n ? g->n : 1, sizeof(*have));
    if (tags == NULL || have == NULL)
        abort();
    bool ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY && reply->elements == first + 2 * g->n;
    for (size_t i = 0; i < g->n; ++i) {
        const char *val;
        size_t len;
        if (!ok || !reply_tag(reply, first + 2 * i, tags[i])) {
            tags[i][0] = '\0';
            continue;
        }
        if (reply_str(reply, first + 2 * i + 1, &val, &len)) {
            atomic_fetch_add(&ps_stats.cache_hits, 1);
            g->values[i] = malloc(len + 1);
            if (g->values[i] == NULL)
                abort();
            memcpy(g->values[i], val, len);
            g->values[i][len] = '\0';
            g->lens[i] = len;
            have[i] = true;
        } else {
            atomic_fetch_add(&ps_stats.cache_misses, 1);
        }
    }
    gather_load(g, tags, have);
    free(tags);
    free(have);
}

static void on_many(redisReply *reply, const char *err, void *data)
{
    gather_t *g = data;
    mc_req_t *req = g->req;
    gather_from_reply(g, reply, 0);
    mc_req_release(req); /* the script's reference */
}

/* Starts reading g's products: one script when Redis is up, loads otherwise. */
static void gather_start(gather_t *g)
{
    mc_redis_t *r = redis_of(g->req);
    if (r != NULL && g->n > 0) {
        const char **args = calloc(3 + g->n, sizeof(*args));
        if (args == NULL)
            abort();
        char fresh[33], ttls[16];
        fresh_token(fresh);
        snprintf(ttls, sizeof(ttls), "%d", PC_VERSION_TTL);
        args[0] = EPOCH_KEY;
        args[1] = fresh;
        args[2] = ttls;
        for (size_t i = 0; i < g->n; ++i)
            args[3 + i] = g->ids[i];
        mc_req_retain(g->req);
        int rc = mc_redis_eval(r, s_many, on_many, g, 1, (int)(2 + g->n), args, NULL);
        free(args);
        if (rc == 0)
            return;
        mc_req_release(g->req);
    }
    bool *have = calloc(g->n ? g->n : 1, sizeof(*have));
    if (have == NULL)
        abort();
    gather_load(g, NULL, have);
    free(have);
}

void pc_products_get(mc_req_t *req, char (*ids)[25], size_t n, pc_many_cb cb, void *cbarg)
{
    gather_t *g = gather_new(req, ids, n);
    g->many_cb = cb;
    g->cbarg = cbarg;
    gather_start(g);
}

/* --- pages ----------------------------------------------------------------------------------------- */

/* The ids of a page payload's first line. Returns the count (at most max). */
static size_t page_ids(const char *page, size_t len, char (*ids)[25], size_t max)
{
    size_t n = 0;
    const char *end = memchr(page, '\n', len);
    if (end == NULL)
        end = page + len;
    for (const char *p = page; p < end && n < max;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *e = comma ? comma : end;
        if (e - p == 24 && mc_is_object_id(p, 24)) {
            memcpy(ids[n], p, 24);
            ids[n][24] = '\0';
            ++n;
        }
        p = e + 1;
    }
    return n;
}

typedef struct page_ctx {
    mc_req_t *req;
    char *key;
    int ttl;
    pc_load_fn load;
    void *arg;
    void (*free_arg)(void *);
    pc_page_cb cb;
    void *cbarg;
} page_ctx_t;

#define PAGE_MAX_ITEMS 100

static gather_t *page_gather(page_ctx_t *p, const char *page, size_t len)
{
    char ids[PAGE_MAX_ITEMS][25];
    size_t n = page_ids(page, len, ids, PAGE_MAX_ITEMS);
    gather_t *g = gather_new(p->req, ids, n);
    g->page_cb = p->cb;
    g->cbarg = p->cbarg;
    g->page = malloc(len + 1);
    if (g->page == NULL)
        abort();
    memcpy(g->page, page, len);
    g->page[len] = '\0';
    g->page_len = len;
    return g;
}

/* The page was loaded (or joined): read its products. */
static void on_page_loaded(mc_req_t *req, mc_err_t err, const char *data, size_t len, void *cbarg)
{
    page_ctx_t *p = cbarg;
    if (err != MC_OK || data == NULL) {
        p->cb(req, err != MC_OK ? err : MC_ERR_INTERNAL, NULL, 0, NULL, NULL, 0, p->cbarg);
    } else {
        gather_start(page_gather(p, data, len));
    }
    free(p->key);
    free(p);
}

static void on_page(redisReply *reply, const char *err, void *data)
{
    page_ctx_t *p = data;
    mc_req_t *req = p->req;
    char tag[TAG_MAX] = "";
    const char *page;
    size_t len;
    if (reply_tag(reply, 0, tag) && reply_str(reply, 1, &page, &len)) {
        atomic_fetch_add(&ps_stats.cache_hits, 1);
        if (p->free_arg != NULL)
            p->free_arg(p->arg);
        gather_t *g = page_gather(p, page, len);
        free(p->key);
        free(p);
        gather_from_reply(g, reply, 2);
    } else {
        atomic_fetch_add(&ps_stats.cache_misses, 1);
        if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
            tag[0] = '\0';
        flight_join(req, p->key, LISTS_KEY, p->ttl, tag, false, p->load, p->arg, p->free_arg, on_page_loaded, p);
    }
    mc_req_release(req);
}

void pc_page_get(mc_req_t *req, const char *key, int ttl, pc_load_fn load, void *arg, void (*free_arg)(void *),
                 pc_page_cb cb, void *cbarg)
{
    page_ctx_t *p = malloc(sizeof(*p));
    if (p == NULL)
        abort();
    *p = (page_ctx_t){req, strdup(key), ttl, load, arg, free_arg, cb, cbarg};
    if (p->key == NULL)
        abort();
    mc_redis_t *r = redis_of(req);
    if (r != NULL) {
        char fresh[33], ttls[16];
        fresh_token(fresh);
        snprintf(ttls, sizeof(ttls), "%d", PC_VERSION_TTL);
        const char *args[5] = {EPOCH_KEY, LISTS_KEY, key, fresh, ttls};
        mc_req_retain(req);
        if (mc_redis_eval(r, s_page, on_page, p, 3, 2, args, NULL) == 0)
            return;
        mc_req_release(req);
    }
    flight_join(req, p->key, LISTS_KEY, ttl, "", false, load, arg, free_arg, on_page_loaded, p);
}

/* --- invalidation --------------------------------------------------------------------------------- */

typedef struct inval_ctx {
    mc_req_t *req;
    void (*done)(mc_req_t *);
} inval_ctx_t;

static void on_bumped(redisReply *reply, const char *err, void *data)
{
    inval_ctx_t *c = data;
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        mc_log(MC_LOG_WARN, c->req ? mc_req_id(c->req) : NULL,
               "could not change the cache versions (%s); the cache epoch changes when Redis is back",
               err ? err : reply->str);
        atomic_store(&epoch_pending, 1);
    }
    if (c->req != NULL) {
        c->done(c->req);
        mc_req_release(c->req);
    }
    free(c);
}

/* Sends the bump; 0 when sent (cb will run), -1 otherwise. */
static int send_bump(mc_redis_t *r, char (*ids)[25], size_t n, bool lists, inval_ctx_t *c)
{
    if (r == NULL || !mc_redis_up(r) || (n == 0 && !lists))
        return -1;
    size_t nkeys = n + (lists ? 1 : 0);
    const char **args = calloc(nkeys + 2, sizeof(*args));
    char (*keys)[48] = calloc(n ? n : 1, sizeof(*keys));
    if (args == NULL || keys == NULL)
        abort();
    for (size_t i = 0; i < n; ++i) {
        snprintf(keys[i], sizeof(keys[i]), "product:%s:ver", ids[i]);
        args[i] = keys[i];
    }
    if (lists)
        args[n] = LISTS_KEY;
    char fresh[33], ttls[16];
    fresh_token(fresh);
    snprintf(ttls, sizeof(ttls), "%d", PC_VERSION_TTL);
    args[nkeys] = fresh;
    args[nkeys + 1] = ttls;
    int rc = mc_redis_eval(r, s_bump, on_bumped, c, (int)nkeys, 2, args, NULL);
    free(args);
    free(keys);
    return rc;
}

void pc_invalidate(mc_req_t *req, char (*ids)[25], size_t n, bool lists, void (*done)(mc_req_t *req))
{
    atomic_fetch_add(&write_seq, 1);
    if (n == 0 && !lists) {
        done(req);
        return;
    }
    inval_ctx_t *c = malloc(sizeof(*c));
    if (c == NULL)
        abort();
    c->req = req;
    c->done = done;
    mc_req_retain(req);
    if (send_bump(mc_worker_redis(mc_req_worker(req)), ids, n, lists, c) != 0) {
        atomic_store(&epoch_pending, 1);
        mc_req_release(req);
        free(c);
        done(req);
    }
}

void pc_invalidate_bg(mc_worker_t *w, char (*ids)[25], size_t n, bool lists)
{
    atomic_fetch_add(&write_seq, 1);
    if (n == 0 && !lists)
        return;
    inval_ctx_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    if (send_bump(mc_worker_redis(w), ids, n, lists, c) != 0) {
        atomic_store(&epoch_pending, 1);
        free(c);
    }
}

static void on_epoch(redisReply *reply, const char *err, void *data)
{
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
        atomic_store(&epoch_pending, 1);
    else
        mc_log_info("cache epoch changed after Redis came back");
}

void pc_redis_state(mc_worker_t *w, bool up)
{
    if (!up || !atomic_exchange(&epoch_pending, 0))
        return;
    char token[33];
    fresh_token(token);
    if (mc_redis_cmd(mc_worker_redis(w), on_epoch, NULL, "SET %s %s", EPOCH_KEY, token) != 0)
        atomic_store(&epoch_pending, 1);
}
