/* log.c - see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void slog_init(slog *lg, slog_level min, int fd) {
    lg->min = min;
    lg->fd = fd;
    pthread_mutex_init(&lg->mu, NULL);
}

void slog_destroy(slog *lg) {
    if (lg) pthread_mutex_destroy(&lg->mu);
}

int slog_level_parse(const char *s, slog_level *out) {
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, level_names[i])) {
            *out = (slog_level)i;
            return 0;
        }
    return -1;
}

const char *slog_level_name(slog_level l) {
    return (l >= SLOG_DEBUG && l <= SLOG_ERROR) ? level_names[l] : "info";
}

int slog_enabled(const slog *lg, slog_level l) { return lg && l >= lg->min; }

/* RFC 3339 UTC with milliseconds: sortable and unambiguous across time zones. */
static void format_ts(char *buf, size_t cap) {
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* write(2) until done: a short write to a pipe must not cut a line in half. */
static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) {
            if (errno == EINTR) continue;
            return; /* nowhere left to report a logging failure */
        }
        p += w;
        n -= (size_t)w;
    }
}

void slog_event(slog *lg, slog_level l, const char *event, json_t *fields) {
    if (!slog_enabled(lg, l)) {
        json_decref(fields);
        return;
    }
    char ts[40];
    format_ts(ts, sizeof ts);
    json_t *o = json_object();
    if (!o) {
        json_decref(fields);
        return;
    }
    json_object_set_new(o, "ts", json_string(ts));
    json_object_set_new(o, "level", json_string(slog_level_name(l)));
    json_object_set_new(o, "event", json_string(event));
    if (json_is_object(fields)) json_object_update_missing(o, fields);
    json_decref(fields);
    char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line) return;
    size_t n = strlen(line);
    char *nl = realloc(line, n + 2);
    if (!nl) {
        free(line);
        return;
    }
    nl[n] = '\n';
    nl[n + 1] = '\0';
    pthread_mutex_lock(&lg->mu);
    write_all(lg->fd, nl, n + 1);
    pthread_mutex_unlock(&lg->mu);
    free(nl);
}

void slog_kv(slog *lg, slog_level l, const char *event, ...) {
    va_list ap;
    va_start(ap, event);
    int on = slog_enabled(lg, l);
    json_t *o = on ? json_object() : NULL;
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        json_t *v = va_arg(ap, json_t *);
        if (o && v)
            json_object_set_new(o, k, v);
        else
            json_decref(v);
    }
    va_end(ap);
    if (on) slog_event(lg, l, event, o);
}

void slog_msg(slog *lg, slog_level l, const char *event, const char *fmt, ...) {
    if (!slog_enabled(lg, l)) return;
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    slog_kv(lg, l, event, "msg", json_string(buf), NULL);
}
