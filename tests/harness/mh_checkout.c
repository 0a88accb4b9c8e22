/*
 * Harness pieces the checkout tests (coupon and order services) need, usable by any test:
 * a Redis subscriber that records every message of a channel (to see the events a service
 * publishes). Many requests at the same moment are mh_http_parallel (mh_parallel.c).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <hiredis/hiredis.h>
#include "harness.h"

/* --- Redis subscriber ----------------------------------------------------------------------- */

struct mh_sub {
    char channel[256];
    pthread_t thread;
    pthread_mutex_t mu;
    redisContext *ctx; /* under mu, so that stop can shut its socket down */
    bool stopping;
    bool subscribed;
    char **msgs;
    size_t n, cap;
};

/* Keeps a message. */
static void sub_store(mh_sub_t *s, const char *p, size_t len)
{
    char *m = malloc(len + 1);
    memcpy(m, p, len);
    m[len] = '\0';
    pthread_mutex_lock(&s->mu);
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->msgs = realloc(s->msgs, s->cap * sizeof(char *));
    }
    s->msgs[s->n++] = m;
    pthread_mutex_unlock(&s->mu);
}

/* Connects (again after a loss, every 20 ms) and records messages until stopped. */
static void *sub_main(void *p)
{
    mh_sub_t *s = p;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        bool stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        if (stop)
            break;
        redisContext *c = redisConnect("127.0.0.1", mh_redis_port());
        if (c == NULL || c->err) {
            if (c != NULL)
                redisFree(c);
            mh_sleep_ms(20);
            continue;
        }
        redisReply *r = redisCommand(c, "SUBSCRIBE %s", s->channel);
        bool ok = r != NULL && r->type == REDIS_REPLY_ARRAY;
        if (r != NULL)
            freeReplyObject(r);
        pthread_mutex_lock(&s->mu);
        s->ctx = ok ? c : NULL;
        s->subscribed = ok;
        stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        while (ok && !stop) {
            void *reply = NULL;
            if (redisGetReply(c, &reply) != REDIS_OK || reply == NULL)
                break;
            redisReply *rr = reply;
            if (rr->type == REDIS_REPLY_ARRAY && rr->elements == 3 && rr->element[0]->type == REDIS_REPLY_STRING &&
                strcmp(rr->element[0]->str, "message") == 0 && rr->element[2]->type == REDIS_REPLY_STRING)
                sub_store(s, rr->element[2]->str, rr->element[2]->len);
            freeReplyObject(rr);
        }
        pthread_mutex_lock(&s->mu);
        s->ctx = NULL;
        s->subscribed = false;
        pthread_mutex_unlock(&s->mu);
        redisFree(c);
        mh_sleep_ms(20);
    }
    return NULL;
}

/* True once the subscription is confirmed. */
static bool sub_ready(void *p)
{
    mh_sub_t *s = p;
    pthread_mutex_lock(&s->mu);
    bool ok = s->subscribed;
    pthread_mutex_unlock(&s->mu);
    return ok;
}

mh_sub_t *mh_sub_start(const char *channel)
{
    if (mh_init() != 0)
        return NULL;
    mh_sub_t *s = calloc(1, sizeof(*s));
    snprintf(s->channel, sizeof(s->channel), "%s", channel);
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->thread, NULL, sub_main, s) != 0) {
        free(s);
        return NULL;
    }
    if (!mh_wait_until(sub_ready, s, 10000)) {
        mh_sub_stop(s);
        return NULL;
    }
    return s;
}

size_t mh_sub_count(mh_sub_t *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}

json_t *mh_sub_message(mh_sub_t *s, size_t i)
{
    pthread_mutex_lock(&s->mu);
    json_t *j = i < s->n ? json_loads(s->msgs[i], JSON_DECODE_ANY, NULL) : NULL;
    pthread_mutex_unlock(&s->mu);
    return j;
}

typedef struct count_arg {
    mh_sub_t *s;
    size_t n;
} count_arg_t;

/* mh_wait_until condition: enough messages. */
static bool has_count(void *p)
{
    count_arg_t *a = p;
    return mh_sub_count(a->s) >= a->n;
}

bool mh_sub_wait(mh_sub_t *s, size_t n, unsigned timeout_ms)
{
    count_arg_t a = {s, n};
    return mh_wait_until(has_count, &a, timeout_ms);
}

void mh_sub_stop(mh_sub_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = true;
    if (s->ctx != NULL)
        shutdown(s->ctx->fd, SHUT_RDWR);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    for (size_t i = 0; i < s->n; ++i)
        free(s->msgs[i]);
    free(s->msgs);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
