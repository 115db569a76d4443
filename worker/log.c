/* log.c — structured JSON/text log lines on stderr (see log.h). */
#include "worker/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "model/util.h"

/* Process-wide configuration, written by log_setup() before threads start. */
static _Atomic int log_format = LOG_FORMAT_JSON;
static _Atomic int log_min_level = LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_setup(LogFormat format, LogLevel min_level) {
    log_format = format;
    log_min_level = min_level;
}

int log_parse_format(const char *name, LogFormat *out) {
    if (!strcmp(name, "json"))
        *out = LOG_FORMAT_JSON;
    else if (!strcmp(name, "text"))
        *out = LOG_FORMAT_TEXT;
    else
        return -1;
    return 0;
}

int log_parse_level(const char *name, LogLevel *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, level_names[i]) || (i == LOG_WARN && !strcmp(name, "warning"))) {
            *out = (LogLevel)i;
            return 0;
        }
    return -1;
}

/* Appends s JSON-escaped to buf at *pos (bounded by cap). */
static void append_escaped(char *buf, size_t cap, size_t *pos, const char *s) {
    for (; *s && *pos + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = (char)c;
        } else if (c == '\n') {
            buf[(*pos)++] = '\\';
            buf[(*pos)++] = 'n';
        } else if (c < 0x20) {
            *pos += (size_t)snprintf(buf + *pos, cap - *pos, "\\u%04x", c);
        } else {
            buf[(*pos)++] = (char)c;
        }
    }
}

static void append_raw(char *buf, size_t cap, size_t *pos, const char *s) {
    if (*pos + 1 >= cap) return;
    size_t n = strlen(s), room = cap - 1 - *pos;
    if (n > room) n = room;
    memcpy(buf + *pos, s, n);
    *pos += n;
}

void log_event(LogLevel level, const char *event, const char *const *kv, const char *fmt, ...) {
    if ((int)level < log_min_level) return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);

    char ts[32], line[4096];
    util_rfc3339(util_wall_ms(), ts, sizeof ts);
    size_t pos = 0, cap = sizeof line - 2;
    if (log_format == LOG_FORMAT_JSON) {
        pos += (size_t)snprintf(line, cap, "{\"ts\":\"%s\",\"level\":\"%s\",\"event\":\"", ts,
                                level_names[level]);
        if (pos > cap) pos = cap;
        append_escaped(line, cap, &pos, event);
        append_raw(line, cap, &pos, "\",\"msg\":\"");
        append_escaped(line, cap, &pos, msg);
        append_raw(line, cap, &pos, "\"");
        for (int i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
            append_raw(line, cap, &pos, ",\"");
            append_escaped(line, cap, &pos, kv[i]);
            append_raw(line, cap, &pos, "\":\"");
            append_escaped(line, cap, &pos, kv[i + 1]);
            append_raw(line, cap, &pos, "\"");
        }
        append_raw(line, cap, &pos, "}");
    } else {
        pos += (size_t)snprintf(line, cap, "%s %-5s %s: %s", ts, level_names[level], event, msg);
        if (pos > cap) pos = cap;
        for (int i = 0; kv && kv[i] && kv[i + 1]; i += 2) {
            append_raw(line, cap, &pos, " ");
            append_raw(line, cap, &pos, kv[i]);
            append_raw(line, cap, &pos, "=");
            append_raw(line, cap, &pos, kv[i + 1]);
        }
    }
    line[pos++] = '\n';
    ssize_t ignored = write(STDERR_FILENO, line, pos);
    (void)ignored;
}
