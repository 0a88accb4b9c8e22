/*
 * The harness's SMTP server for the auth tests (see "auth" in harness.h): smtp_sink.py
 * (aiosmtpd, from the project's Python environment) started like a service, so it has a
 * log, a clean-exit check and the harness's clean-up guarantees; its HTTP side tells what
 * arrived.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "harness.h"

#define MAX_TAKEN 512

struct mh_smtp {
    mh_service_t *svc;
    uint16_t smtp_port, http_port;
    char url[64];
    char *taken[MAX_TAKEN]; /* Message-IDs already handed out by mh_smtp_wait */
    size_t ntaken;
};

static int start(mh_smtp_t *s)
{
    const char *tools = getenv("MERCATO_TOOLS");
    static char python[1024], script[1024], port[16];
    snprintf(python, sizeof(python), "%s/venv/bin/python", tools != NULL && *tools ? tools : MERCATO_SOURCE_DIR "/.tools");
    snprintf(script, sizeof(script), "%s/tests/harness/smtp_sink.py", MERCATO_SOURCE_DIR);
    snprintf(port, sizeof(port), "%u", (unsigned)s->smtp_port);
    if (access(python, X_OK) != 0) {
        fprintf(stderr, "harness: %s is missing (run scripts/setup)\n", python);
        return -1;
    }
    const char *args[] = {script, port, NULL};
    s->svc = mh_service_start(python, &(mh_service_opts_t){.args = args, .port = s->http_port, .valgrind = -1});
    return s->svc != NULL ? 0 : -1;
}

mh_smtp_t *mh_smtp_start(void)
{
    mh_smtp_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->smtp_port = mh_free_port();
    do
        s->http_port = mh_free_port();
    while (s->http_port == s->smtp_port);
    snprintf(s->url, sizeof(s->url), "smtp://127.0.0.1:%u", (unsigned)s->smtp_port);
    if (start(s) != 0) {
        free(s);
        return NULL;
    }
    return s;
}

int mh_smtp_stop(mh_smtp_t *s)
{
    if (s == NULL || s->svc == NULL)
        return -1;
    int r = mh_service_stop(s->svc);
    s->svc = NULL;
    return r;
}

int mh_smtp_restart(mh_smtp_t *s)
{
    if (s == NULL || s->svc != NULL)
        return -1;
    return start(s);
}

void mh_smtp_free(mh_smtp_t *s)
{
    if (s == NULL)
        return;
    if (s->svc != NULL)
        mh_smtp_stop(s);
    for (size_t i = 0; i < s->ntaken; ++i)
        free(s->taken[i]);
    free(s);
}

const char *mh_smtp_url(const mh_smtp_t *s)
{
    return s->url;
}

json_t *mh_smtp_messages(mh_smtp_t *s)
{
    if (s == NULL || s->svc == NULL)
        return NULL;
    mh_response_t r = mh_get(mh_url(s->svc, "/messages"), NULL);
    json_t *out = r.status == 200 && json_is_array(r.json) ? json_incref(r.json) : NULL;
    mh_response_free(&r);
    return out;
}

int mh_smtp_refuse(mh_smtp_t *s, int code)
{
    if (s == NULL || s->svc == NULL)
        return -1;
    char path[64];
    snprintf(path, sizeof(path), "/refuse?code=%d", code);
    mh_response_t r = mh_send("POST", mh_url(s->svc, path), NULL, NULL);
    int ok = r.status == 200 ? 0 : -1;
    mh_response_free(&r);
    return ok;
}

static bool taken(const mh_smtp_t *s, const char *id)
{
    for (size_t i = 0; i < s->ntaken; ++i)
        if (strcmp(s->taken[i], id) == 0)
            return true;
    return false;
}

static bool recipient_is(json_t *msg, const char *to)
{
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(msg, "to"), i, r)
    {
        if (strcasecmp(json_string_value(r), to) == 0)
            return true;
    }
    return false;
}

/* The first message not handed out yet that matches; NULL when none. */
static json_t *find(mh_smtp_t *s, const char *to, const char *subject_part)
{
    json_t *all = mh_smtp_messages(s), *hit = NULL;
    size_t i;
    json_t *m;
    json_array_foreach(all, i, m)
    {
        const char *id = json_string_value(json_object_get(m, "messageId"));
        const char *subj = json_string_value(json_object_get(m, "subject"));
        if (id == NULL || taken(s, id) || !recipient_is(m, to))
            continue;
        if (subject_part != NULL && (subj == NULL || strstr(subj, subject_part) == NULL))
            continue;
        hit = json_incref(m);
        break;
    }
    json_decref(all);
    return hit;
}

json_t *mh_smtp_wait(mh_smtp_t *s, const char *to, const char *subject_part, unsigned timeout_ms)
{
    uint64_t deadline = mh_now_ms() + timeout_ms;
    for (;;) {
        json_t *m = find(s, to, subject_part);
        if (m != NULL) {
            if (s->ntaken < MAX_TAKEN)
                s->taken[s->ntaken++] = strdup(json_string_value(json_object_get(m, "messageId")));
            return m;
        }
        if (mh_now_ms() >= deadline)
            return NULL;
        mh_sleep_ms(25);
    }
}

size_t mh_smtp_count(mh_smtp_t *s, const char *to, const char *subject_part)
{
    json_t *all = mh_smtp_messages(s);
    size_t n = 0, i;
    json_t *m;
    json_array_foreach(all, i, m)
    {
        const char *subj = json_string_value(json_object_get(m, "subject"));
        if (recipient_is(m, to) && (subject_part == NULL || (subj != NULL && strstr(subj, subject_part) != NULL)))
            ++n;
    }
    json_decref(all);
    return n;
}

bool mh_smtp_token(const json_t *msg, char *out)
{
    const char *text = json_string_value(json_object_get(msg, "text"));
    const char *p = text != NULL ? strstr(text, "token=") : NULL;
    if (p == NULL)
        return false;
    p += 6;
    size_t n = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_");
    if (n != 43)
        return false;
    memcpy(out, p, 43);
    out[43] = '\0';
    return true;
}
