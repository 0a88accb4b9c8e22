/*
 * Implementation of categories.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "categories.h"
#include "mc_config.h"
#include "mc_http.h"
#include "mc_log.h"
#include "mc_util.h"

const char *cpn_category_url;

/* id -> {ids:[…] (the id and its descendants), at: ms}; one per worker thread. */
static __thread json_t *cache;

int cpn_categories_worker_init(mc_worker_t *w)
{
    cache = json_object();
    return 0;
}

void cpn_categories_worker_dispose(mc_worker_t *w)
{
    json_decref(cache);
    cache = NULL;
}

typedef struct expand {
    mc_req_t *req;
    void (*cb)(mc_req_t *, json_t *, mc_err_t);
    json_t *ids;
    int pending;
    bool failed;
} expand_t;

/* One look-up answered (or the initial reference dropped): the last one reports. */
static void finish(expand_t *e)
{
    if (--e->pending > 0)
        return;
    if (e->failed) {
        e->cb(e->req, NULL, MC_ERR_UNAVAILABLE);
    } else {
        json_t *out = json_array(), *seen = json_object();
        size_t i, k;
        json_t *id, *d;
        json_array_foreach(e->ids, i, id)
        {
            json_t *entry = cache ? json_object_get(cache, json_string_value(id)) : NULL;
            json_array_foreach(json_object_get(entry, "ids"), k, d) if (json_object_get(seen, json_string_value(d)) == NULL)
            {
                json_object_set_new(seen, json_string_value(d), json_true());
                json_array_append(out, d);
            }
        }
        e->cb(e->req, out, MC_OK);
        json_decref(out);
        json_decref(seen);
    }
    mc_req_release(e->req);
    json_decref(e->ids);
    free(e);
}

typedef struct one {
    expand_t *e;
    char id[25];
} one_t;

/* The category service's answer: cached (a 404 caches the category alone). */
static void on_descendants(const mc_http_response_t *r, void *data)
{
    one_t *o = data;
    expand_t *e = o->e;
    json_t *body = r->err == NULL && r->body_len ? json_loadb(r->body, r->body_len, 0, NULL) : NULL;
    json_t *ids = json_object_get(body, "ids");
    if (r->status == 200 && json_is_array(ids)) {
        json_t *all = json_pack("[s]", o->id);
        size_t i;
        json_t *d;
        json_array_foreach(ids, i, d) if (json_is_string(d)) json_array_append(all, d);
        if (cache)
            json_object_set_new(cache, o->id, json_pack("{s:o,s:I}", "ids", all, "at", (json_int_t)mc_now_ms()));
        else
            json_decref(all);
    } else if (r->status == 404) {
        if (cache)
            json_object_set_new(cache, o->id, json_pack("{s:[s],s:I}", "ids", o->id, "at", (json_int_t)mc_now_ms()));
    } else {
        mc_log(MC_LOG_WARN, mc_req_id(e->req), "category %s: descendants unavailable (%d %s)", o->id, r->status, r->err ? r->err : "");
        e->failed = true;
    }
    json_decref(body);
    free(o);
    finish(e);
}

void cpn_expand_categories(mc_req_t *req, const json_t *ids, void (*cb)(mc_req_t *, json_t *, mc_err_t))
{
    const char *base = cpn_category_url;
    expand_t *e = calloc(1, sizeof(*e));
    e->req = req;
    e->cb = cb;
    e->ids = json_deep_copy(ids);
    e->pending = 1;
    mc_req_retain(req);
    int64_t now = mc_now_ms();
    size_t i;
    json_t *id;
    json_array_foreach(e->ids, i, id)
    {
        json_t *entry = cache ? json_object_get(cache, json_string_value(id)) : NULL;
        if (entry != NULL && now - json_integer_value(json_object_get(entry, "at")) < CATEGORY_CACHE_MS)
            continue;
        one_t *o = calloc(1, sizeof(*o));
        o->e = e;
        snprintf(o->id, sizeof(o->id), "%s", json_string_value(id));
        char url[512];
        snprintf(url, sizeof(url), "%s/api/categories/%s/descendants", base, o->id);
        mc_http_request_t hr = {.method = "GET", .url = url, .request_id = mc_req_id(req)};
        mc_http_client_t *client = mc_worker_http(mc_req_worker(req));
        ++e->pending;
        if (client == NULL || mc_http_fetch(client, &hr, on_descendants, o, NULL) != 0) {
            free(o);
            e->failed = true;
            --e->pending;
        }
    }
    finish(e);
}
