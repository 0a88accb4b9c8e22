/*
 * Implementation of mc_log.h: builds the line with jansson (which escapes every string
 * correctly, so a hostile value cannot forge a log line) and writes it at once.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "mc_log.h"
#include "mc_trace.h"
#include "mc_util.h"

static const char *log_service = "mercato";
static mc_log_level_t log_min = MC_LOG_INFO;
static const char *const level_names[] = {"debug", "info", "warn", "error"};

void mc_log_init(const char *service, mc_log_level_t level)
{
    log_service = service;
    log_min = level;
}

int mc_log_level_parse(const char *s)
{
    for (int i = 0; i < 4; ++i)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    if (strcmp(s, "warning") == 0)
        return MC_LOG_WARN;
    return -1;
}

int mc_log_enabled(mc_log_level_t level)
{
    return level >= log_min;
}

void mc_log_json(mc_log_level_t level, const char *request_id, json_t *fields, const char *fmt, ...)
{
    if (level < log_min) {
        json_decref(fields);
        return;
    }
    char ts[MC_TIME_BUFSZ], msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    json_t *line = json_object();
    json_object_set_new(line, "ts", json_string(mc_time_format(mc_now_ms(), ts)));
    json_object_set_new(line, "level", json_string(level_names[level]));
    json_object_set_new(line, "service", json_string(log_service));
    /* A message may contain bytes that are not UTF-8 (a client's input): keep it readable. */
    json_t *m = json_string(msg);
    json_object_set_new(line, "msg", m != NULL ? m : json_string("(message not UTF-8)"));
    if (request_id != NULL) {
        json_object_set_new(line, "request_id", json_string(request_id));
        /* the request's trace, while it lives on this thread (mc_trace.h) */
        const mc_trace_t *t = mc_trace_find(request_id);
        if (t != NULL)
            json_object_set_new(line, "trace_id", json_stringn(t->trace_id, 32));
    }
    if (fields != NULL) {
        json_object_update_missing(line, fields);
        json_decref(fields);
    }
    char *out = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    if (out == NULL)
        return;
    size_t n = strlen(out);
    out[n] = '\n'; /* replaces the NUL; write exactly n+1 bytes */
    ssize_t w = write(STDERR_FILENO, out, n + 1);
    (void)w;
    free(out);
}
