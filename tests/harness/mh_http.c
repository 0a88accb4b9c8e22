/*
 * The harness's HTTP client: one blocking libcurl request per call, the whole response
 * kept (body capped at 64 MiB, headers of the final response only), the body parsed as
 * JSON when it is JSON. Tests read status, JSON and headers without any curl code.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>
#include "harness.h"
#include "mc_util.h"

#define MH_MAX_BODY (64u << 20)
#define MH_MAX_HEADERS 256

typedef struct mh_collect {
    mc_buf_t body;
    mh_response_t *res;
} mh_collect_t;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    mh_collect_t *c = arg;
    return mc_buf_append(&c->body, p, size * n) == 0 ? size * n : 0;
}

static void clear_headers(mh_response_t *res)
{
    for (size_t i = 0; i < res->nheaders; ++i) {
        free(res->header_names[i]);
        free(res->header_values[i]);
    }
    res->nheaders = 0;
}

static char *memdup0(const char *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d != NULL) {
        memcpy(d, p, n);
        d[n] = '\0';
    }
    return d;
}

/* Called once per header line; a status line starts a new response (after a 100
 * Continue or a redirect), so only the final response's headers remain. */
static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    mh_collect_t *c = arg;
    mh_response_t *res = c->res;
    size_t len = size * n;
    if (len >= 5 && strncmp(p, "HTTP/", 5) == 0) {
        clear_headers(res);
        return len;
    }
    const char *colon = memchr(p, ':', len);
    if (colon == NULL || res->nheaders == MH_MAX_HEADERS)
        return len;
    const char *v = colon + 1, *end = p + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        ++v;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        --end;
    if (res->header_names == NULL) {
        res->header_names = calloc(MH_MAX_HEADERS, sizeof(char *));
        res->header_values = calloc(MH_MAX_HEADERS, sizeof(char *));
        if (res->header_names == NULL || res->header_values == NULL)
            return 0;
    }
    res->header_names[res->nheaders] = memdup0(p, (size_t)(colon - p)); /* curl's line has no NUL */
    res->header_values[res->nheaders] = memdup0(v, (size_t)(end - v));
    ++res->nheaders;
    return len;
}

int mh_http(const mh_request_t *req, mh_response_t *res)
{
    memset(res, 0, sizeof(*res));
    res->body = strdup("");
    if (mh_init() != 0 || req == NULL || req->url == NULL) {
        snprintf(res->error, sizeof(res->error), "bad request to mh_http");
        return -1;
    }
    CURL *h = curl_easy_init();
    if (h == NULL) {
        snprintf(res->error, sizeof(res->error), "curl_easy_init failed");
        return -1;
    }
    mh_collect_t col;
    mc_buf_init(&col.body, MH_MAX_BODY);
    col.res = res;
    struct curl_slist *hdrs = NULL;
    char *json_text = NULL;
    char errbuf[CURL_ERROR_SIZE] = "";

    const char *body = NULL;
    size_t body_len = 0;
    if (req->json != NULL) {
        json_text = json_dumps(req->json, JSON_COMPACT | JSON_ENCODE_ANY);
        body = json_text != NULL ? json_text : "";
        body_len = strlen(body);
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    } else if (req->body != NULL) {
        body = req->body;
        body_len = req->body_len != 0 ? req->body_len : strlen(req->body);
        if (req->content_type != NULL) {
            char ct[256];
            snprintf(ct, sizeof(ct), "Content-Type: %s", req->content_type);
            hdrs = curl_slist_append(hdrs, ct);
        } else {
            hdrs = curl_slist_append(hdrs, "Content-Type:"); /* curl would add a form type */
        }
    }
    const char *method = req->method != NULL ? req->method : (body != NULL ? "POST" : "GET");
    if (req->token != NULL) {
        size_t n = strlen(req->token) + 32;
        char *auth = malloc(n);
        snprintf(auth, n, "Authorization: Bearer %s", req->token);
        hdrs = curl_slist_append(hdrs, auth);
        free(auth);
    }
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    for (const char *const *x = req->headers; x != NULL && *x != NULL; ++x)
        hdrs = curl_slist_append(hdrs, *x);

    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms > 0 ? req->timeout_ms : 15000L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &col);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &col);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    else if (strcmp(method, "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    if (body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    CURLcode rc = curl_easy_perform(h);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &res->status);
    } else {
        snprintf(res->error, sizeof(res->error), "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
    }
    free(res->body);
    res->body = col.body.data != NULL ? col.body.data : strdup("");
    res->body_len = col.body.len;
    if (res->body_len > 0)
        res->json = json_loadb(res->body, res->body_len, JSON_DECODE_ANY, NULL);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
    free(json_text);
    return rc == CURLE_OK ? 0 : -1;
}

mh_response_t mh_get(const char *url, const char *token)
{
    mh_response_t res;
    mh_request_t req = {.method = "GET", .url = url, .token = token};
    mh_http(&req, &res);
    return res;
}

mh_response_t mh_send(const char *method, const char *url, const char *token, json_t *json)
{
    mh_response_t res;
    mh_request_t req = {.method = method, .url = url, .token = token, .json = json};
    mh_http(&req, &res);
    json_decref(json);
    return res;
}

const char *mh_header(const mh_response_t *res, const char *name)
{
    const char *found = NULL;
    for (size_t i = 0; i < res->nheaders; ++i)
        if (strcasecmp(res->header_names[i], name) == 0)
            found = res->header_values[i];
    return found;
}

void mh_response_free(mh_response_t *res)
{
    clear_headers(res);
    free(res->header_names);
    free(res->header_values);
    free(res->body);
    json_decref(res->json);
    memset(res, 0, sizeof(*res));
}

const char *mh_error_code(const mh_response_t *res)
{
    json_t *code = json_object_get(json_object_get(res->json, "error"), "code");
    return json_is_string(code) ? json_string_value(code) : NULL;
}
