/* log.h - structured logging: one JSON object per line on a file descriptor (stderr), so log
 * shippers can parse every event without regexes.
 *
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","event":"listening","port":8080}
 *
 * Every line is built in memory and written with a single write(2) under a mutex, so lines from
 * concurrent threads never interleave. Callers pass structured fields, never pre-formatted
 * secrets: the configuration printer leaves secrets out (config.h), and request logging never
 * includes the Authorization header.
 *
 * Thread-safety: slog_event/slog_kv may be called from any thread once slog_init has returned. */
#ifndef NCLREC_LOG_H
#define NCLREC_LOG_H

#include <jansson.h>
#include <pthread.h>

typedef enum { SLOG_DEBUG = 0, SLOG_INFO = 1, SLOG_WARN = 2, SLOG_ERROR = 3 } slog_level;

typedef struct slog {
    slog_level min;      /* events below this level are dropped */
    int fd;              /* destination, not owned (2 = stderr) */
    pthread_mutex_t mu;  /* serialises writes */
} slog;

/* Prepares lg to write events of level >= min to fd (not closed by slog_destroy). */
void slog_init(slog *lg, slog_level min, int fd);
void slog_destroy(slog *lg);

/* "debug" | "info" | "warn" | "error" -> level; returns 0, or -1 for anything else. */
int slog_level_parse(const char *s, slog_level *out);
const char *slog_level_name(slog_level l);

/* True when an event of this level would be written (skip building costly fields otherwise). */
int slog_enabled(const slog *lg, slog_level l);

/* Writes one line with ts, level, event and every member of fields. Steals fields (which may
 * be NULL); fields named ts/level/event are overwritten. lg may be NULL (event dropped). */
void slog_event(slog *lg, slog_level l, const char *event, json_t *fields);

/* Convenience: name/value pairs terminated by NULL, each value a new json_t reference that is
 * stolen, e.g. slog_kv(lg, SLOG_INFO, "swap", "version", json_integer(v), NULL). A NULL value
 * (allocation failure) is skipped. */
void slog_kv(slog *lg, slog_level l, const char *event, ...);

/* Convenience for a plain message: {"event":event,"msg":"..."} with printf formatting. */
void slog_msg(slog *lg, slog_level l, const char *event, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#endif
