/* log.h — structured logging for the worker process: one line per event on stderr,
 * JSON by default ({"ts":"...","level":"info","event":"...","msg":"...",...}) or
 * plain text for people (--log-format text).
 *
 * The log configuration is process-wide state set once at start-up by log_setup()
 * (like redis' serverLog): logging is safe from any thread (each line is written
 * with one write(2) so lines never interleave). Never log per tweet at info level. */
#ifndef BUZZRADAR_LOG_H
#define BUZZRADAR_LOG_H

typedef enum { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 } LogLevel;
typedef enum { LOG_FORMAT_JSON = 0, LOG_FORMAT_TEXT = 1 } LogFormat;

/* Sets format and minimum level. Before any call, the defaults are JSON and INFO. */
void log_setup(LogFormat format, LogLevel min_level);

/* Parses "json"/"text" and "debug"/"info"/"warn"/"error". Returns 0, or -1 when the
 * name is unknown (out untouched). */
int log_parse_format(const char *name, LogFormat *out);
int log_parse_level(const char *name, LogLevel *out);

/* Logs one event. `event` is a short stable snake_case name ("partition_assigned");
 * `kv` is NULL or a NULL-terminated list of key, value string pairs added as fields;
 * fmt/... form the human message. Values are JSON-escaped. Never fails: an
 * over-long line is truncated. */
void log_event(LogLevel level, const char *event, const char *const *kv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_info(event, ...)  log_event(LOG_INFO, (event), NULL, __VA_ARGS__)
#define log_warn(event, ...)  log_event(LOG_WARN, (event), NULL, __VA_ARGS__)
#define log_error(event, ...) log_event(LOG_ERROR, (event), NULL, __VA_ARGS__)
#define log_debug(event, ...) log_event(LOG_DEBUG, (event), NULL, __VA_ARGS__)

#endif
