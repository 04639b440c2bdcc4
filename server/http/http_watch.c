/* http_watch.c - the header deadline of every open connection and the log budget (see
 * http_impl.h): a client that sends its request too slowly is cut, and a flood of bad
 * requests cannot flood the log. */
#include "http_impl.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ======================= header deadline ======================= */

/* The connection's track entry (NULL when it is not tracked: its allocation failed). */
static conn_track *track_of(struct MHD_Connection *c) {
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? (conn_track *)ci->socket_context : NULL;
}

/* Moves the connection's request to phase p, starting its clock now with grace seconds. */
void conn_track_phase(http_server *s, struct MHD_Connection *c, track_phase p, double grace) {
    conn_track *k = track_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->tab.mu);
    k->phase = p;
    k->since = nc_now();
    k->grace = grace;
    k->body_bytes = 0;
    pthread_mutex_unlock(&s->tab.mu);
}

/* Counts body bytes: each one buys the client 1/HTTP_BODY_MIN_RATE seconds. */
void conn_track_body(http_server *s, struct MHD_Connection *c, size_t n) {
    conn_track *k = track_of(c);
    if (!k) return;
    pthread_mutex_lock(&s->tab.mu);
    k->body_bytes += n;
    pthread_mutex_unlock(&s->tab.mu);
}

/* libmicrohttpd reports every connection's start and end here (on the thread that serves it).
 * CLOSED comes before libmicrohttpd closes the descriptor, and the entry leaves the table under
 * the same mutex the watchdog holds while it shuts descriptors down: the watchdog never touches
 * a descriptor that was closed and perhaps reused for another connection. */
void conn_on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    http_server *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_track *k = ci ? calloc(1, sizeof *k) : NULL;
        if (!k) return; /* untracked: only the idle timeout applies to it */
        *k = (conn_track){.fd = ci->connect_fd, .phase = TRACK_HEADERS, .since = nc_now(), .grace = s->header_timeout};
        pthread_mutex_lock(&s->tab.mu);
        k->next = s->tab.head;
        if (k->next) k->next->prev = k;
        s->tab.head = k;
        pthread_mutex_unlock(&s->tab.mu);
        *socket_context = k;
        return;
    }
    conn_track *k = *socket_context;
    if (!k) return;
    pthread_mutex_lock(&s->tab.mu);
    if (k->prev) k->prev->next = k->next;
    else s->tab.head = k->next;
    if (k->next) k->next->prev = k->prev;
    pthread_mutex_unlock(&s->tab.mu);
    free(k);
    *socket_context = NULL;
}

/* When the connection's current phase runs out (INFINITY while the handler runs or the
 * response is sent: those are the server's time, not the client's). */
static double track_deadline(const conn_track *k) {
    if (k->phase == TRACK_HEADERS) return k->since + k->grace;
    if (k->phase == TRACK_BODY) return k->since + k->grace + (double)k->body_bytes / HTTP_BODY_MIN_RATE;
    if (k->phase == TRACK_DISCARD) return k->since + k->grace;
    return INFINITY;
}

/* What the log says of one cut connection. */
typedef struct cut_note {
    track_phase phase;
    double seconds;       /* in the phase */
} cut_note;

/* Shuts down (both directions) every connection past its deadline, counted in metrics (may be
 * NULL) first, so the count is there by the time the client sees the end; libmicrohttpd then
 * sees the socket end and closes the connection itself. Called with tab.mu held. Returns how
 * many were cut, with the first cap of them in notes. */
static int cut_expired(conn_table *t, prom *metrics, double now, cut_note *notes, int cap) {
    int n = 0;
    for (conn_track *k = t->head; k; k = k->next) {
        if (k->cut || now < track_deadline(k)) continue;
        if (metrics) prom_add(&metrics->http_deadline_cuts, 1);
        shutdown(k->fd, SHUT_RDWR);
        k->cut = 1;
        if (n < cap) notes[n] = (cut_note){k->phase, now - k->since};
        n++;
    }
    return n;
}

static int budget_take(log_budget *b, long *dropped);

/* The phase as the log names it, for whoever reads why a connection was cut. */
static const char *phase_name(track_phase p) {
    return p == TRACK_BODY ? "body" : p == TRACK_DISCARD ? "discarded body" : p == TRACK_HEADERS ? "headers" : "handling";
}

/* Logs the cut connections (within the log budget). */
static void report_cuts(http_server *s, const cut_note *notes, int n, int cap) {
    for (int i = 0; i < n && i < cap; i++) {
        long dropped = 0;
        if (!budget_take(&s->budget, &dropped)) continue;
        slog_kv(s->lg, SLOG_WARN, "slow_client_cut", "phase", json_string(phase_name(notes[i].phase)),
                "seconds", json_real(notes[i].seconds), "header_timeout", json_real(s->header_timeout),
                "log_lines_dropped", dropped ? json_integer(dropped) : NULL, NULL);
    }
}

#define WATCHDOG_PERIOD_MS 200

/* The watchdog: every WATCHDOG_PERIOD_MS, cuts the connections past their deadline. */
void *conn_watchdog_main(void *arg) {
    http_server *s = arg;
    conn_table *t = &s->tab;
    cut_note notes[16];
    pthread_mutex_lock(&t->mu);
    while (!t->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += WATCHDOG_PERIOD_MS * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&t->cv, &t->mu, &ts);
        if (t->stop) break;
        int n = cut_expired(t, s->metrics, nc_now(), notes, 16);
        if (!n) continue;
        pthread_mutex_unlock(&t->mu); /* log without holding up connections */
        report_cuts(s, notes, n, 16);
        pthread_mutex_lock(&t->mu);
    }
    pthread_mutex_unlock(&t->mu);
    return NULL;
}

/* The table's mutex and condition variable (on the monotonic clock, as nc_now). */
int conn_table_init(conn_table *t, nc_err *e) {
    pthread_condattr_t ca;
    int err = pthread_mutex_init(&t->mu, NULL);
    if (err) return nc_fail(e, NC_EIO, "http: cannot create the connection table's mutex: %s", strerror(err));
    if ((err = pthread_condattr_init(&ca)) == 0) {
        err = pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
        if (!err) err = pthread_cond_init(&t->cv, &ca);
        pthread_condattr_destroy(&ca);
    }
    if (err) {
        pthread_mutex_destroy(&t->mu);
        return nc_fail(e, NC_EIO, "http: cannot create the watchdog's condition variable: %s", strerror(err));
    }
    return NC_OK;
}

/* Stops and joins the watchdog (if it runs). */
void conn_watchdog_stop(conn_table *t) {
    if (!t->started) return;
    pthread_mutex_lock(&t->mu);
    t->stop = 1;
    pthread_cond_signal(&t->cv);
    pthread_mutex_unlock(&t->mu);
    pthread_join(t->thread, NULL);
    t->started = 0;
}

/* Frees entries left (none once libmicrohttpd has stopped) and the synchronisation objects. */
void conn_table_destroy(conn_table *t) {
    while (t->head) {
        conn_track *k = t->head;
        t->head = k->next;
        free(k);
    }
    pthread_cond_destroy(&t->cv);
    pthread_mutex_destroy(&t->mu);
}

/* ======================= log budget ======================= */

/* 1 when a line may be logged now (at most HTTP_LOG_BURST a second), with *dropped set to the
 * lines refused since the last one allowed; 0 when it must be dropped (and is counted). */
static int budget_take(log_budget *b, long *dropped) {
    double now = nc_now();
    pthread_mutex_lock(&b->mu);
    if (now - b->window >= 1.0) {
        b->window = now;
        b->used = 0;
    }
    int ok = b->used < HTTP_LOG_BURST;
    if (ok) {
        b->used++;
        *dropped = b->dropped;
        b->dropped = 0;
    } else {
        b->dropped++;
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}

/* libmicrohttpd's own diagnostics (bind failures, protocol errors, connection limit) become log
 * events. A flood of malformed requests causes one each, hence the budget. */
void http_mhd_logger(void *cls, const char *fmt, va_list ap) {
    http_server *s = cls;
    long dropped = 0;
    if (!budget_take(&s->budget, &dropped)) return;
    char buf[512];
    vsnprintf(buf, sizeof buf, fmt, ap);
    buf[strcspn(buf, "\n")] = '\0';
    slog_kv(s->lg, SLOG_WARN, "http_library", "msg", json_string(buf), "log_lines_dropped",
            dropped ? json_integer(dropped) : NULL, NULL);
}
