/*
 * Implementation of categories.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "categories.h"
#include "listing.h"
#include "mc_http.h"
#include "mc_log.h"
#include "mc_util.h"
#include "service.h"

typedef struct call {
    mc_req_t *req;
    char id[25];
    bool descendants;
    cc_check_cb check_cb;
    cc_descendants_cb desc_cb;
    void *arg;
} call_t;

static void fail(call_t *c, mc_err_t err, const char *msg)
{
    if (c->descendants)
        c->desc_cb(c->req, err, msg, NULL, 0, c->arg);
    else
        c->check_cb(c->req, err, msg, false, c->arg);
}

static void on_response(const mc_http_response_t *res, void *data)
{
    call_t *c = data;
    char msg[160];
    json_t *body = NULL;
    if (res->err != NULL) {
        mc_log(MC_LOG_WARN, mc_req_id(c->req), "category service: %s", res->err);
        fail(c, MC_ERR_UNAVAILABLE, "the category service is unavailable; retry later");
        goto Done;
    }
    if (res->status == 404) {
        snprintf(msg, sizeof(msg), "category %s does not exist", c->id);
        fail(c, MC_ERR_NOT_FOUND, msg);
        goto Done;
    }
    body = res->status == 200 ? json_loadb(res->body, res->body_len, 0, NULL) : NULL;
    if (!json_is_object(body)) {
        mc_log(MC_LOG_WARN, mc_req_id(c->req), "category service answered %d", res->status);
        fail(c, MC_ERR_UNAVAILABLE, "the category service answered badly; retry later");
        goto Done;
    }
    if (!c->descendants) {
        c->check_cb(c->req, MC_OK, NULL, json_is_true(json_object_get(body, "isActive")), c->arg);
        goto Done;
    }
    json_t *ids = json_object_get(body, "ids");
    size_t n = json_array_size(ids);
    if (n + 1 > PL_MAX_CATEGORIES)
        n = PL_MAX_CATEGORIES - 1;
    char(*out)[25] = calloc(n + 1, sizeof(*out));
    if (out == NULL)
        abort();
    memcpy(out[0], c->id, 25);
    size_t k = 1;
    for (size_t i = 0; i < n; ++i) {
        const char *s = json_string_value(json_array_get(ids, i));
        if (s != NULL && strlen(s) == 24 && mc_is_object_id(s, 24)) {
            for (int j = 0; j < 24; ++j)
                out[k][j] = (s[j] >= 'A' && s[j] <= 'F') ? (char)(s[j] - 'A' + 'a') : s[j];
            out[k++][24] = '\0';
        }
    }
    c->desc_cb(c->req, MC_OK, NULL, out, k, c->arg);
    free(out);
Done:
    json_decref(body);
    mc_req_release(c->req);
    free(c);
}

static void start(call_t *c)
{
    char url[512];
    snprintf(url, sizeof(url), "%s/api/categories/%s%s", ps_config.category_url, c->id, c->descendants ? "/descendants" : "");
    mc_http_request_t hr = {.method = "GET", .url = url, .timeout_ms = ps_config.category_timeout_ms,
                            .request_id = mc_req_id(c->req)};
    mc_http_client_t *client = mc_worker_http(mc_req_worker(c->req));
    mc_req_retain(c->req);
    if (client == NULL || mc_http_fetch(client, &hr, on_response, c, NULL) != 0) {
        mc_req_release(c->req);
        fail(c, MC_ERR_UNAVAILABLE, "the category service cannot be called");
        free(c);
    }
}

void cc_check(mc_req_t *req, const char *category_id, cc_check_cb cb, void *arg)
{
    call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->req = req;
    snprintf(c->id, sizeof(c->id), "%s", category_id);
    c->check_cb = cb;
    c->arg = arg;
    start(c);
}

void cc_descendants(mc_req_t *req, const char *category_id, cc_descendants_cb cb, void *arg)
{
    call_t *c = calloc(1, sizeof(*c));
    if (c == NULL)
        abort();
    c->req = req;
    snprintf(c->id, sizeof(c->id), "%s", category_id);
    c->descendants = true;
    c->desc_cb = cb;
    c->arg = arg;
    start(c);
}
