/*
 * mc_log: structured logs, one JSON object per line on stderr, e.g.
 *   {"ts":"2026-11-21T19:40:00.123Z","level":"info","service":"category",
 *    "msg":"listening","request_id":"…","trace_id":"…", …extra fields}
 * (trace_id: the W3C trace of the request named by request_id, while it is in flight
 * on this thread — mc_trace.h)
 * Lines are written with one write(2) so that lines of several threads never interleave.
 * The level comes from LOG_LEVEL (debug, info, warn, error; default info).
 */
#ifndef MC_LOG_H
#define MC_LOG_H

#include <jansson.h>

typedef enum mc_log_level { MC_LOG_DEBUG, MC_LOG_INFO, MC_LOG_WARN, MC_LOG_ERROR } mc_log_level_t;

/* Sets the service name written into every line and the minimum level. Call once at
 * start, before any thread logs. */
void mc_log_init(const char *service, mc_log_level_t level);
/* Parses "debug"/"info"/"warn"/"error"; -1 when unknown. */
int mc_log_level_parse(const char *s);
int mc_log_enabled(mc_log_level_t level);

/* Writes a line. request_id may be NULL. `fields` (may be NULL) is an object whose
 * members are added to the line; the reference is stolen. */
void mc_log_json(mc_log_level_t level, const char *request_id, json_t *fields, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define mc_log(level, request_id, ...) mc_log_json((level), (request_id), NULL, __VA_ARGS__)
#define mc_log_debug(...) do { if (mc_log_enabled(MC_LOG_DEBUG)) mc_log(MC_LOG_DEBUG, NULL, __VA_ARGS__); } while (0)
#define mc_log_info(...) mc_log(MC_LOG_INFO, NULL, __VA_ARGS__)
#define mc_log_warn(...) mc_log(MC_LOG_WARN, NULL, __VA_ARGS__)
#define mc_log_error(...) mc_log(MC_LOG_ERROR, NULL, __VA_ARGS__)

#endif
