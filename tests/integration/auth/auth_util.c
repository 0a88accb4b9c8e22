/*
 * Implementation of auth_util.h.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "auth_util.h"
#include "mc_util.h"

mh_service_t *auth_svc;

const char *au_url(const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    return mh_url(auth_svc, path);
}

mh_response_t au_post_as(const char *path, const char *token, json_t *body, const char *forwarded_for)
{
    return au_post_url(mh_url(auth_svc, path), token, body, forwarded_for);
}

mh_response_t au_post_url(const char *url, const char *token, json_t *body, const char *forwarded_for)
{
    char xff[128];
    const char *headers[3] = {NULL};
    if (forwarded_for != NULL) {
        snprintf(xff, sizeof(xff), "X-Forwarded-For: %s", forwarded_for);
        headers[0] = xff;
        headers[1] = "X-Internal-Key: " MH_INTERNAL_KEY;
    }
    mh_request_t req = {.method = "POST", .url = url, .token = token, .json = body,
                        .headers = headers};
    mh_response_t res;
    mh_http(&req, &res);
    json_decref(body);
    return res;
}

mh_response_t au_post(const char *path, const char *token, json_t *body)
{
    return au_post_as(path, token, body, NULL);
}

void au_expect(mh_response_t r, long status, const char *code)
{
    const char *got = mh_error_code(&r);
    if (r.status != status || (code != NULL && (got == NULL || strcmp(got, code) != 0))) {
        char msg[2048];
        snprintf(msg, sizeof(msg), "expected %ld %s, got %ld: %.1800s", status, code ? code : "", r.status, r.body);
        mh_response_free(&r);
        fail_msg("%s", msg);
    }
    mh_response_free(&r);
}

json_t *au_register_role(const char *email, const char *password, const char *name, const char *role)
{
    json_t *body = json_pack("{s:s,s:s,s:s}", "email", email, "password", password, "name", name);
    if (role != NULL)
        json_object_set_new(body, "role", json_string(role));
    mh_response_t r = au_post("/api/auth/register", NULL, body);
    if (r.status != 201) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "register %s: %ld %.900s", email, r.status, r.body);
        mh_response_free(&r);
        fail_msg("%s", msg);
    }
    json_t *s = json_incref(r.json);
    mh_response_free(&r);
    return s;
}

json_t *au_register(const char *email, const char *password, const char *name)
{
    return au_register_role(email, password, name, NULL);
}

mh_response_t au_login(const char *email, const char *password)
{
    return au_post("/api/auth/login", NULL, json_pack("{s:s,s:s}", "email", email, "password", password));
}

json_t *au_login_ok(const char *email, const char *password)
{
    mh_response_t r = au_login(email, password);
    if (r.status != 200) {
        char msg[1024];
        snprintf(msg, sizeof(msg), "login %s: %ld %.900s", email, r.status, r.body);
        mh_response_free(&r);
        fail_msg("%s", msg);
    }
    json_t *s = json_incref(r.json);
    mh_response_free(&r);
    return s;
}

mh_response_t au_refresh(const char *refresh_token)
{
    return au_post("/api/auth/refresh", NULL, json_pack("{s:s}", "refreshToken", refresh_token));
}

const char *au_str(json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

json_t *au_jwt_payload(const char *token)
{
    const char *d1 = strchr(token, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (d2 == NULL)
        return NULL;
    size_t n = (size_t)(d2 - d1 - 1);
    char *b64 = malloc(n + 4);
    memcpy(b64, d1 + 1, n);
    for (size_t i = 0; i < n; ++i)
        b64[i] = b64[i] == '-' ? '+' : b64[i] == '_' ? '/' : b64[i];
    while (n % 4)
        b64[n++] = '=';
    b64[n] = '\0';
    unsigned char *out = malloc(n);
    /* a small standard base64 decoder */
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n && b64[i] != '='; ++i) {
        const char *p = strchr(tbl, b64[i]);
        acc = (acc << 6) | (unsigned)(p - tbl);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    json_t *j = json_loadb((const char *)out, o, 0, NULL);
    free(b64);
    free(out);
    return j;
}

const char *au_email(const char *prefix)
{
    static char ring[32][128];
    static unsigned next;
    static char run[9];
    if (run[0] == '\0') {
        unsigned char r[4];
        mc_random_bytes(r, sizeof(r));
        mc_hex_encode(r, sizeof(r), run);
    }
    char *out = ring[next % 32];
    snprintf(out, 128, "%s-%s-%u@example.com", prefix, run, next);
    ++next;
    return out;
}

typedef struct par {
    pthread_mutex_t m;
    pthread_cond_t c;
    int ready, n;
    bool go;
    void (*fn)(int, void *);
    void *arg;
} par_t;

typedef struct slot {
    par_t *p;
    int i;
} slot_t;

static void *runner(void *a)
{
    slot_t *s = a;
    par_t *p = s->p;
    pthread_mutex_lock(&p->m);
    if (++p->ready == p->n) {
        p->go = true;
        pthread_cond_broadcast(&p->c);
    }
    while (!p->go)
        pthread_cond_wait(&p->c, &p->m);
    pthread_mutex_unlock(&p->m);
    p->fn(s->i, p->arg);
    return NULL;
}

void au_parallel(int n, void (*fn)(int i, void *arg), void *arg)
{
    par_t p = {.m = PTHREAD_MUTEX_INITIALIZER, .c = PTHREAD_COND_INITIALIZER, .n = n, .fn = fn, .arg = arg};
    pthread_t *t = calloc((size_t)n, sizeof(*t));
    slot_t *s = calloc((size_t)n, sizeof(*s));
    for (int i = 0; i < n; ++i) {
        s[i] = (slot_t){&p, i};
        pthread_create(&t[i], NULL, runner, &s[i]);
    }
    for (int i = 0; i < n; ++i)
        pthread_join(t[i], NULL);
    free(t);
    free(s);
}
