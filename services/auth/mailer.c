/*
 * Implementation of mailer.h.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <curl/curl.h>
#include "config.h"
#include "mailer.h"
#include "mc_log.h"
#include "mc_util.h"
#include "store.h"
#include "tokens.h"

/* Messages claimed per round, and sent at once: an SMTP server that hangs holds a
 * thread-pool thread per exchange for up to SMTP_TIMEOUT_MS, and those threads also serve
 * the requests' database jobs. */
#define BATCH 8
#define PARALLEL_SENDS 2
/* How far ahead of the lease's end an SMTP exchange may still start (with the timeout). */
#define SKEW_MS 30000
/* Claims tried per message and round before leaving it to a later round. */
#define CLAIM_PROBES 8
/* Messages without a token stop being worth sending after this. */
#define MAIL_MAX_AGE_MS (3LL * 86400 * 1000)

struct auth_mailer {
    mc_worker_t *w;
    uv_loop_t *loop;
    mc_mongo_t *mongo;
    uv_timer_t timer;
    uv_async_t kick;
    unsigned handles_open; /* timer and async, until their close callbacks */
    unsigned jobs;         /* database jobs in flight */
    bool round_running;
    bool again;            /* kicked (or a full batch) during a round: run another at once */
    bool closing;
    char owner[33];        /* this process, in the claims it writes */
};

/* The async handle of the running delivery loop, for kicks from any thread. */
static pthread_mutex_t kick_lock = PTHREAD_MUTEX_INITIALIZER;
static uv_async_t *kick_handle;

void auth_mailer_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void auth_mailer_global_dispose(void)
{
    curl_global_cleanup();
}

void auth_mailer_kick(void)
{
    pthread_mutex_lock(&kick_lock);
    if (kick_handle != NULL)
        uv_async_send(kick_handle);
    pthread_mutex_unlock(&kick_lock);
}

int auth_mail_enqueue(mongoc_database_t *db, auth_mail_kind_t kind, const char *to, const char *name,
                      const char *token, unsigned valid_s, int64_t now_ms, int64_t expires_ms, bson_error_t *err)
{
    char *subject = NULL, *text = NULL;
    if (auth_mail_compose(kind, name, token, auth_cfg()->app_url, valid_s, &subject, &text) != 0) {
        bson_set_error(err, MONGOC_ERROR_CLIENT, MONGOC_ERROR_CLIENT_NOT_READY, "out of memory composing a message");
        return -1;
    }
    if (expires_ms <= 0)
        expires_ms = now_ms + MAIL_MAX_AGE_MS;
    int r = auth_outbox_insert(db, to, auth_mail_kind_name(kind), subject, text, now_ms, expires_ms, err);
    free(subject);
    free(text);
    return r;
}

/* --- one SMTP exchange (thread pool) ------------------------------------------------------- */

typedef struct upload {
    const char *data;
    size_t len, off;
} upload_t;

static size_t read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    upload_t *u = arg;
    size_t room = size * nitems, left = u->len - u->off;
    size_t n = left < room ? left : room;
    memcpy(buf, u->data + u->off, n);
    u->off += n;
    return n;
}

typedef enum { SEND_OK, SEND_RETRY, SEND_PERMANENT } send_result_t;

static send_result_t smtp_send(const char *message, const char *to, char *why, size_t whylen)
{
    const auth_config_t *cfg = auth_cfg();
    CURL *c = curl_easy_init();
    if (c == NULL) {
        snprintf(why, whylen, "%s", "curl_easy_init failed");
        return SEND_RETRY;
    }
    char from[300], rcpt[300], errbuf[CURL_ERROR_SIZE] = "";
    snprintf(from, sizeof(from), "<%s>", cfg->mail_from_addr);
    snprintf(rcpt, sizeof(rcpt), "<%s>", to);
    struct curl_slist *rcpts = curl_slist_append(NULL, rcpt);
    upload_t up = {message, strlen(message), 0};
    curl_easy_setopt(c, CURLOPT_URL, cfg->smtp_url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
    curl_easy_setopt(c, CURLOPT_MAIL_FROM, from);
    curl_easy_setopt(c, CURLOPT_MAIL_RCPT, rcpts);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, read_cb);
    curl_easy_setopt(c, CURLOPT_READDATA, &up);
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)cfg->smtp_timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)(cfg->smtp_timeout_ms < 10000 ? cfg->smtp_timeout_ms : 10000));
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    if (strncmp(cfg->smtp_url, "smtps://", 8) != 0)
        curl_easy_setopt(c, CURLOPT_USE_SSL, (long)(cfg->smtp_starttls == AUTH_STARTTLS_REQUIRE ? CURLUSESSL_ALL
                                                    : cfg->smtp_starttls == AUTH_STARTTLS_TRY   ? CURLUSESSL_TRY
                                                                                                : CURLUSESSL_NONE));
    if (cfg->smtp_user != NULL)
        curl_easy_setopt(c, CURLOPT_USERNAME, cfg->smtp_user);
    if (cfg->smtp_password != NULL)
        curl_easy_setopt(c, CURLOPT_PASSWORD, cfg->smtp_password);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    curl_slist_free_all(rcpts);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        return SEND_OK;
    snprintf(why, whylen, "%s (SMTP %ld)%s%s", curl_easy_strerror(rc), code, errbuf[0] ? ": " : "", errbuf);
    /* 5xx is the server's final "no" (unknown recipient, message refused); a refused login
     * is a configuration problem that an operator fixes, so it is retried. */
    if (code >= 500 && code < 600 && rc != CURLE_LOGIN_DENIED)
        return SEND_PERMANENT;
    return SEND_RETRY;
}

/* --- a round: claim due messages, then send each (database jobs) ----------------------------- */

struct round;

typedef struct delivery {
    auth_mailer_t *mb;
    struct round *round;
    json_t *msg;      /* the outbox document (dates as …Ms) */
    int64_t attempt;
    int64_t lease_until;
    struct delivery *next;
} delivery_t;

typedef struct round {
    auth_mailer_t *mb;
    delivery_t *claimed; /* claimed, not sent yet */
    size_t due;          /* messages found due */
    unsigned sends;      /* deliveries running */
} round_t;

static void schedule(auth_mailer_t *mb);
static void start_round(auth_mailer_t *mb);

static void fields_set(mongoc_database_t *db, const char *id, json_t *fields)
{
    bson_error_t err;
    if (auth_outbox_update(db, id, fields, &err) != 0)
        mc_log_warn("outbox: updating message %s failed: %s", id, err.message);
    json_decref(fields);
}

/* Claims the current attempt of msg; true when this process holds it. */
static bool claim(mongoc_database_t *db, auth_mailer_t *mb, json_t *msg, int64_t *attempt, int64_t *lease_until,
                  bson_error_t *err)
{
    const char *id = json_string_value(json_object_get(msg, "id"));
    int64_t k = json_integer_value(json_object_get(msg, "attempt"));
    if (k < 1)
        k = 1;
    for (int probe = 0; probe < CLAIM_PROBES; ++probe, ++k) {
        int64_t now = mc_now_ms();
        int64_t lease = now + (int64_t)auth_cfg()->mail_lease_s * 1000;
        int r = auth_outbox_claim(db, id, k, mb->owner, lease, err);
        if (r == 0) {
            *attempt = k;
            *lease_until = lease;
            return true;
        }
        if (r < 0)
            return false;
        /* Attempt k belongs to someone. While its lease runs, the message is theirs; after
         * it, attempt k is over whatever happened to it, and k+1 is the next one. */
        int64_t held = auth_outbox_claim_lease(db, id, k, err);
        if (held < 0 || held > now)
            return false;
    }
    return false;
}

static void round_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    round_t *rd = arg;
    bson_error_t err;
    int64_t now = mc_now_ms();
    json_t *due = auth_outbox_due(db, now, BATCH, &err);
    if (due == NULL) {
        mc_mongo_fail(mc_mongo_current(), res, &err);
        return;
    }
    rd->due = json_array_size(due);
    size_t i;
    json_t *msg;
    json_array_foreach(due, i, msg)
    {
        int64_t attempt, lease;
        if (!claim(db, rd->mb, msg, &attempt, &lease, &err))
            continue;
        const char *id = json_string_value(json_object_get(msg, "id"));
        int sent = auth_outbox_is_sent(db, id, &err);
        if (sent == 1) { /* delivered by an attempt whose holder stalled before recording it */
            fields_set(db, id, json_pack("{s:s,s:I,s:n}", "status", "sent", "attempt", (json_int_t)(attempt + 1), "text"));
            continue;
        }
        if (sent < 0)
            continue; /* the lease runs out and a later round retries */
        if (json_integer_value(json_object_get(msg, "expiresAtMs")) <= now) {
            mc_log_warn("outbox: message %s (%s) expired undelivered after %lld attempt(s)", id,
                        json_string_value(json_object_get(msg, "kind")), (long long)(attempt - 1));
            fields_set(db, id, json_pack("{s:s,s:I,s:n}", "status", "expired", "attempt", (json_int_t)(attempt + 1), "text"));
            continue;
        }
        delivery_t *d = calloc(1, sizeof(*d));
        if (d == NULL)
            continue;
        d->mb = rd->mb;
        d->msg = json_incref(msg);
        d->attempt = attempt;
        d->lease_until = lease;
        d->next = rd->claimed;
        rd->claimed = d;
    }
    json_decref(due);
}

static void send_work(mongoc_client_t *client, mongoc_database_t *db, void *arg, mc_mongo_result_t *res)
{
    (void)client;
    (void)res;
    delivery_t *d = arg;
    const auth_config_t *cfg = auth_cfg();
    const char *id = json_string_value(json_object_get(d->msg, "id"));
    const char *to = json_string_value(json_object_get(d->msg, "to"));
    const char *subject = json_string_value(json_object_get(d->msg, "subject"));
    const char *text = json_string_value(json_object_get(d->msg, "text"));
    const char *kind = json_string_value(json_object_get(d->msg, "kind"));
    int64_t now = mc_now_ms();
    if (id == NULL)
        return;
    if (to == NULL || subject == NULL || text == NULL) {
        fields_set(db, id, json_pack("{s:s,s:s,s:n}", "status", "failed", "lastError", "malformed outbox document", "text"));
        return;
    }
    if (now + (int64_t)cfg->smtp_timeout_ms + SKEW_MS >= d->lease_until) {
        /* Too little of the lease is left to finish an exchange safely: give the attempt up. */
        fields_set(db, id, json_pack("{s:I,s:I}", "attempt", (json_int_t)(d->attempt + 1), "nextAttemptAt", (json_int_t)now));
        return;
    }
    send_result_t r;
    char why[512] = "";
    if (strcmp(cfg->smtp_url, "log:") == 0) {
        mc_log_json(MC_LOG_INFO, NULL, json_pack("{s:s,s:s,s:s,s:s}", "to", to, "kind", kind ? kind : "", "subject", subject, "text", text),
                    "email (SMTP_URL=log:, not sent)");
        r = SEND_OK;
    } else {
        char *message = auth_mail_render(cfg->mail_from, to, subject, text, id, now);
        r = message != NULL ? smtp_send(message, to, why, sizeof(why)) : SEND_RETRY;
        if (message == NULL)
            snprintf(why, sizeof(why), "%s", "out of memory rendering the message");
        free(message);
    }
    now = mc_now_ms();
    bson_error_t err;
    if (r == SEND_OK) {
        if (auth_outbox_mark_sent(db, id, now, &err) < 0)
            mc_log_warn("outbox: message %s was sent but recording it failed: %s", id, err.message);
        fields_set(db, id, json_pack("{s:s,s:I,s:I,s:n,s:n}", "status", "sent", "sentAt", (json_int_t)now, "attempt",
                                     (json_int_t)(d->attempt + 1), "lastError", "text"));
        mc_log_info("outbox: message %s (%s) delivered at attempt %lld", id, kind ? kind : "", (long long)d->attempt);
    } else if (r == SEND_PERMANENT) {
        fields_set(db, id, json_pack("{s:s,s:s,s:I,s:n}", "status", "failed", "lastError", why, "attempt",
                                     (json_int_t)(d->attempt + 1), "text"));
        mc_log_warn("outbox: message %s (%s) refused for good: %s", id, kind ? kind : "", why);
    } else {
        int64_t delay = (int64_t)cfg->mail_retry_max_ms;
        if (d->attempt - 1 < 40) {
            int64_t d2 = (int64_t)cfg->mail_retry_base_ms << (d->attempt - 1);
            if (d2 < delay)
                delay = d2;
        }
        uint32_t rnd;
        mc_random_bytes(&rnd, sizeof(rnd));
        delay = delay * (80 + (int64_t)(rnd % 41)) / 100; /* ±20 %: processes retrying together spread out */
        fields_set(db, id, json_pack("{s:I,s:I,s:s}", "attempt", (json_int_t)(d->attempt + 1), "nextAttemptAt",
                                     (json_int_t)(now + delay), "lastError", why));
        mc_log_warn("outbox: message %s (%s) attempt %lld failed (%s); retrying in %lld ms", id, kind ? kind : "",
                    (long long)d->attempt, why, (long long)delay);
    }
}

static void round_finish(round_t *rd)
{
    auth_mailer_t *mb = rd->mb;
    /* A full batch means more may be due now. */
    if (rd->due >= BATCH)
        mb->again = true;
    free(rd);
    mb->round_running = false;
    schedule(mb);
}

static void send_done(void *arg, const mc_mongo_result_t *res);

/* Starts sends until PARALLEL_SENDS run; finishes the round when nothing is left. */
static void pump(round_t *rd)
{
    auth_mailer_t *mb = rd->mb;
    while (rd->claimed != NULL && rd->sends < PARALLEL_SENDS) {
        delivery_t *d = rd->claimed;
        rd->claimed = d->next;
        if (mb->closing) { /* stopping: the claim's lease runs out and another process sends it */
            json_decref(d->msg);
            free(d);
            continue;
        }
        ++rd->sends;
        ++mb->jobs;
        if (mc_mongo_submit(mb->mongo, mb->loop, send_work, send_done, d) != 0) {
            --rd->sends;
            --mb->jobs;
            json_decref(d->msg);
            free(d);
        }
    }
    if (rd->sends == 0 && rd->claimed == NULL)
        round_finish(rd);
}

static void send_done(void *arg, const mc_mongo_result_t *res)
{
    (void)res;
    delivery_t *d = arg;
    round_t *rd = d->round;
    json_decref(d->msg);
    free(d);
    --rd->mb->jobs;
    --rd->sends;
    pump(rd);
}

static void round_done(void *arg, const mc_mongo_result_t *res)
{
    round_t *rd = arg;
    --rd->mb->jobs;
    if (res->err != MC_OK && res->err != MC_ERR_UNAVAILABLE)
        mc_log_warn("outbox: reading due messages failed: %s", res->bson.message);
    for (delivery_t *d = rd->claimed; d != NULL; d = d->next)
        d->round = rd;
    pump(rd);
}

static void start_round(auth_mailer_t *mb)
{
    if (mb->closing || mb->round_running)
        return;
    round_t *rd = calloc(1, sizeof(*rd));
    if (rd == NULL)
        return;
    rd->mb = mb;
    mb->round_running = true;
    mb->again = false;
    ++mb->jobs;
    if (mc_mongo_submit(mb->mongo, mb->loop, round_work, round_done, rd) != 0) {
        --mb->jobs;
        mb->round_running = false;
        free(rd);
    }
}

static void maybe_free(auth_mailer_t *mb)
{
    if (mb->closing && mb->jobs == 0 && mb->handles_open == 0)
        free(mb);
}

static void on_timer(uv_timer_t *t)
{
    start_round(t->data);
}

static void on_kick(uv_async_t *a)
{
    auth_mailer_t *mb = a->data;
    if (mb->round_running)
        mb->again = true;
    else
        start_round(mb);
}

/* After a round: the next one at once when there may be more to do, else after the poll
 * interval. When closing, the last finished job frees the state. */
static void schedule(auth_mailer_t *mb)
{
    if (mb->closing) {
        maybe_free(mb);
        return;
    }
    uv_timer_start(&mb->timer, on_timer, mb->again ? 0 : auth_cfg()->mail_poll_ms, 0);
}

int auth_mailer_start(auth_worker_t *aw)
{
    const auth_config_t *cfg = auth_cfg();
    if (cfg->smtp_url == NULL) {
        mc_log_info("SMTP_URL is not set: emails wait in the outbox until an auth process with SMTP_URL runs");
        return 0;
    }
    auth_mailer_t *mb = calloc(1, sizeof(*mb));
    if (mb == NULL)
        return -1;
    mb->w = aw->w;
    mb->loop = mc_worker_loop(aw->w);
    mb->mongo = mc_server_mongo(mc_worker_server(aw->w));
    auth_random_id(mb->owner);
    uv_timer_init(mb->loop, &mb->timer);
    uv_async_init(mb->loop, &mb->kick, on_kick);
    mb->timer.data = mb->kick.data = mb;
    mb->handles_open = 2;
    pthread_mutex_lock(&kick_lock);
    kick_handle = &mb->kick;
    pthread_mutex_unlock(&kick_lock);
    aw->mailer = mb;
    mc_log_info("email delivery %s", strcmp(cfg->smtp_url, "log:") == 0 ? "writes messages to the log" : "is on");
    uv_timer_start(&mb->timer, on_timer, 0, 0);
    return 0;
}

static void on_closed(uv_handle_t *h)
{
    auth_mailer_t *mb = h->data;
    --mb->handles_open;
    maybe_free(mb);
}

void auth_mailer_stop(auth_worker_t *aw)
{
    auth_mailer_t *mb = aw->mailer;
    if (mb == NULL)
        return;
    aw->mailer = NULL;
    pthread_mutex_lock(&kick_lock);
    kick_handle = NULL;
    pthread_mutex_unlock(&kick_lock);
    mb->closing = true;
    uv_close((uv_handle_t *)&mb->timer, on_closed);
    uv_close((uv_handle_t *)&mb->kick, on_closed);
}
