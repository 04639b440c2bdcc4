/* store.c - opening and closing the interaction store: options, the SQLite connection settings,
 * schema migrations, id validation and the helpers the other store_*.c files share.
 * See store.h for the design. */
#include "store_impl.h"

#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "sql_embed.h"

#define STORE_APP_ID 1852009586 /* 'nclr', set by 0001_init.sql */

/* Defaults favour durability (FULL) and bounded resources; see store.h for each. */
void store_opts_default(store_opts *o) {
    memset(o, 0, sizeof *o);
    o->sync_full = 1;
    o->busy_timeout_ms = 5000;
    o->idem_window_s = 86400;
    o->max_batch = 1000;
    o->max_group_rows = 10000;
    o->readers = 4;
    o->wal_checkpoint_pages = 1000;
    o->wal_max_bytes = 64 << 20;
    o->popular_cache_k = 1000;
    o->popular_refresh_ms = 1000;
    o->import_chunk = 50000;
}

/* ",a,b," for seen_types "a,b" (each name checked), NULL for every type: the seen-items
 * queries test instr(filter, ',' || type || ','), one bound string for any number of types. */
static int seen_filter(nc_store *s, nc_err *e) {
    const char *t = s->o.seen_types;
    if (!t[0]) return NC_OK;
    for (const char *p = t;; p++) {
        size_t len = strcspn(p, ",");
        if (!nc_feedback_name_ok(p, len))
            return nc_fail(e, NC_EINVAL, "store option seen_types='%s': '%.*s' is not a type name", t,
                           (int)len, p);
        p += len;
        if (!*p) break;
    }
    size_t n = strlen(t);
    s->seen_filter = nc_malloc(n + 3, 1, e);
    if (!s->seen_filter) return NC_ENOMEM;
    snprintf(s->seen_filter, n + 3, ",%s,", t);
    return NC_OK;
}

/* Refuses settings that would make the store misbehave later rather than fail now. */
static int check_opts(const store_opts *o, nc_err *e) {
    struct { const char *name; int64_t v, lo, hi; } t[] = {
        {"sync_full", o->sync_full, 0, 1},
        {"busy_timeout_ms", o->busy_timeout_ms, 0, 3600000},
        {"idem_window_s", o->idem_window_s, 0, INT64_C(10) * 365 * 86400},
        {"max_batch", o->max_batch, 1, 1000000},
        {"max_group_rows", o->max_group_rows, 1, 10000000},
        {"readers", o->readers, 1, 256},
        {"wal_checkpoint_pages", o->wal_checkpoint_pages, 0, 1 << 30},
        {"wal_max_bytes", o->wal_max_bytes, 0, INT64_MAX},
        {"max_db_bytes", o->max_db_bytes, 0, INT64_MAX},
        {"popular_cache_k", o->popular_cache_k, 1, 1000000},
        {"popular_refresh_ms", o->popular_refresh_ms, 0, 86400000},
        {"import_chunk", o->import_chunk, 1, 10000000},
    };
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (t[i].v < t[i].lo || t[i].v > t[i].hi)
            return nc_fail(e, NC_EINVAL, "store option %s=%lld is out of range [%lld, %lld]",
                           t[i].name, (long long)t[i].v, (long long)t[i].lo, (long long)t[i].hi);
    return NC_OK;
}

/* ==== shared helpers ==================================================================== */

/* Why this process may not write the store's files, into out ("" when nothing is found). SQLite
 * reports it as "unable to open database file" or a bare "disk I/O error" (the errno behind it
 * is often gone by then), and root passes every permission check, so the files are asked as
 * the running user: the file system (mounted read-only), each of nclrec.db, -wal and -shm
 * (read-only or immutable), and, for a -wal or -shm that must be created, the directory.
 * access() rather than open(): closing any descriptor of a database file would drop the POSIX
 * locks this process's connections hold on it. */
static void diagnose_unwritable(const char *path, char *out, size_t cap) {
    static const char *const suffix[] = {"", "-wal", "-shm"};
    char f[4096], dir[4096];
    int missing = 0;
    out[0] = '\0';
    struct statvfs sv;
    if (statvfs(path, &sv) == 0 && (sv.f_flag & ST_RDONLY)) {
        snprintf(out, cap, ": the store is not writable: its file system is mounted read-only");
        return;
    }
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        int n = snprintf(f, sizeof f, "%s%s", path, suffix[i]);
        if (n < 0 || (size_t)n >= sizeof f) return;
        if (access(f, W_OK) == 0) continue;
        if (errno == ENOENT) {
            missing = 1;
            continue;
        }
        snprintf(out, cap, ": the store is not writable: %s may not be written by uid %u (%s): the file is "
                 "read-only or immutable, or its file system is mounted read-only", basename(f), (unsigned)geteuid(),
                 strerror(errno));
        return;
    }
    snprintf(dir, sizeof dir, "%s", path);
    if (missing && access(dirname(dir), W_OK | X_OK) != 0)
        snprintf(out, cap, ": the store is not writable: its directory does not let uid %u create files (%s); "
                 "SQLite creates nclrec.db-wal and -shm beside the database", (unsigned)geteuid(), strerror(errno));
}

/* diagnose_unwritable, or else whether the file system is full. */
static void diagnose_io(const char *path, char *out, size_t cap) {
    diagnose_unwritable(path, out, cap);
    struct statvfs sv;
    if (!out[0] && statvfs(path, &sv) == 0 && sv.f_bavail == 0)
        snprintf(out, cap, ": the file system holding it is full");
}

/* Turns an SQLite failure into our code and a message naming the file, the step and the
 * cause, so "disk full" and "read-only" reach the client as themselves. */
int st_sql_fail(const nc_store *s, sqlite3 *db, int rc, const char *what, nc_err *e) {
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    const char *path = s && s->path ? s->path : "?";
    switch (rc & 0xff) {
    case SQLITE_FULL:
        if (s && s->o.max_db_bytes > 0)
            return nc_fail(e, NC_EIO, "store %s: %s: disk full or size quota max_db_bytes=%lld "
                           "reached: %s", path, what, (long long)s->o.max_db_bytes, msg);
        return nc_fail(e, NC_EIO, "store %s: %s: disk full: %s", path, what, msg);
    case SQLITE_READONLY: {
        char why[700];
        diagnose_unwritable(path, why, sizeof why);
        return nc_fail(e, NC_EIO, "store %s: %s: the database is read-only (file or directory "
                       "permissions, or a read-only file system): %s%s", path, what, msg,
                       why[0] ? why : ": the store is not writable");
    }
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return nc_fail(e, NC_EIO, "store %s: %s: locked by another connection for longer than "
                       "busy_timeout_ms=%d: %s", path, what, s ? s->o.busy_timeout_ms : 0, msg);
    case SQLITE_NOMEM:
        return nc_fail(e, NC_ENOMEM, "store %s: %s: out of memory", path, what);
    case SQLITE_CONSTRAINT:
        return nc_fail(e, NC_EINVAL, "store %s: %s: %s", path, what, msg);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
        return nc_fail(e, NC_EFORMAT, "store %s: %s: not a valid database file: %s", path,
                       what, msg);
    default: {
        int sys = db ? sqlite3_system_errno(db) : 0;
        char diag[600] = "";
        if ((rc & 0xff) == SQLITE_IOERR || (rc & 0xff) == SQLITE_CANTOPEN)
            diagnose_io(path, diag, sizeof diag);
        return nc_fail(e, NC_EIO, "store %s: %s: %s (sqlite error %d%s%s)%s", path, what, msg, rc,
                       sys ? ", " : "", sys ? strerror(sys) : "", diag);
    }
    }
}

/* Error messages start with "store PATH: " for the log; a client is told the cause without
 * the server's file layout. */
const char *store_error_cause(const nc_store *s, const char *msg) {
    size_t n = s && s->path ? strlen(s->path) : 0;
    if (n && strncmp(msg, "store ", 6) == 0 && strncmp(msg + 6, s->path, n) == 0 &&
        strncmp(msg + 6 + n, ": ", 2) == 0)
        return msg + 6 + n + 2;
    return msg;
}

/* Runs fixed SQL (never built from input) with errors through st_sql_fail. */
int st_exec(const nc_store *s, sqlite3 *db, const char *sql, const char *what, nc_err *e) {
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? NC_OK : st_sql_fail(s, db, rc, what, e);
}

/* Prepares a statement that lives as long as the connection. */
int st_prepare(const nc_store *s, sqlite3 *db, const char *sql, sqlite3_stmt **out, nc_err *e) {
    int rc = sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, out, NULL);
    if (rc != SQLITE_OK) return st_sql_fail(s, db, rc, sql, e);
    return NC_OK;
}

/* Wall-clock seconds from the configured clock, so tests can move time. */
int64_t st_now(const nc_store *s) {
    return s->o.clock ? s->o.clock(s->o.clock_ctx) : (int64_t)time(NULL);
}

/* Size of path+suffix in bytes, 0 when absent (the WAL exists only while it is in use). */
int64_t st_file_size(const char *path, const char *suffix) {
    char buf[4096];
    struct stat st;
    int n = snprintf(buf, sizeof buf, "%s%s", path, suffix);
    if (n < 0 || (size_t)n >= sizeof buf || stat(buf, &st) != 0) return 0;
    return (int64_t)st.st_size;
}

/* FNV-1a over the events as the client sent them, to tell a retry from a different request
 * that reuses an idempotency key. */
uint64_t st_hash_events(const store_event *ev, size_t n) {
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++) {
        const char *parts[2] = {ev[i].user, ev[i].item};
        for (int k = 0; k < 2; k++)
            for (const unsigned char *p = (const unsigned char *)parts[k];; p++) {
                h = (h ^ *p) * 1099511628211ULL; /* the NUL separates fields */
                if (!*p) break;
            }
        uint64_t ts = (uint64_t)ev[i].ts;
        for (int b = 0; b < 8; b++) h = (h ^ ((ts >> (8 * b)) & 0xff)) * 1099511628211ULL;
        /* a type other than the default counts, so keys recorded before types still match */
        const char *t = store_event_type(&ev[i]);
        if (strcmp(t, STORE_TYPE_DEFAULT))
            for (const unsigned char *p = (const unsigned char *)t; *p; p++) h = (h ^ *p) * 1099511628211ULL;
    }
    return h;
}

/* Length of the UTF-8 sequence starting at p (at most n bytes), 0 when invalid: overlong
 * forms, surrogates and code points above U+10FFFF are refused, as JSON encoders do. */
static size_t utf8_len(const unsigned char *p, size_t n) {
    unsigned c = p[0];
    if (c < 0x80) return 1;
    size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 0;
    if (!len || c > 0xf4 || len > n) return 0;
    uint32_t cp = c & (0x3f >> (len - 1));
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80) return 0;
        cp = (cp << 6) | (p[i] & 0x3f);
    }
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_cp[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
    return len;
}

/* Ids must survive a CSV export and re-import unchanged (core/dataset.h trims blanks, splits
 * on ',' and strips quotes) and be encodable as JSON strings. */
int store_check_id(const char *what, const char *id, nc_err *e) {
    if (!id) return nc_fail(e, NC_EINVAL, "%s id is missing", what);
    size_t n = strlen(id);
    if (n == 0) return nc_fail(e, NC_EINVAL, "%s id is empty", what);
    if (n > NC_MAX_ID_LEN)
        return nc_fail(e, NC_EINVAL, "%s id of %zu bytes is longer than %d", what, n,
                       NC_MAX_ID_LEN);
    if (id[0] == ' ' || id[n - 1] == ' ')
        return nc_fail(e, NC_EINVAL, "%s id '%.64s' has a leading or trailing space", what, id);
    const unsigned char *p = (const unsigned char *)id;
    for (size_t i = 0; i < n;) {
        if (p[i] < 0x20 || p[i] == 0x7f || p[i] == ',' || p[i] == '"')
            return nc_fail(e, NC_EINVAL, "%s id '%.64s' holds byte 0x%02x at offset %zu "
                           "(control characters, ',' and '\"' are not allowed)", what, id,
                           p[i], i);
        size_t k = utf8_len(p + i, n - i);
        if (!k)
            return nc_fail(e, NC_EINVAL, "%s id holds invalid UTF-8 at offset %zu", what, i);
        i += k;
    }
    return NC_OK;
}

/* Validates a whole batch up front so a bad row is reported with its index and nothing is
 * queued for the writer. */
int st_check_events(const store_event *ev, size_t n, nc_err *e) {
    for (size_t i = 0; i < n; i++) {
        nc_err sub;
        int rc = store_check_id("user", ev[i].user, &sub);
        if (!rc) rc = store_check_id("item", ev[i].item, &sub);
        if (rc) return nc_fail(e, rc, "event %zu: %s", i, sub.msg);
        if (ev[i].ts != STORE_TS_NOW && (ev[i].ts < 0 || ev[i].ts > STORE_TS_MAX))
            return nc_fail(e, NC_EINVAL, "event %zu: timestamp %lld is outside 0..%lld (seconds "
                           "since the epoch; milliseconds are not accepted)", i,
                           (long long)ev[i].ts, STORE_TS_MAX);
        if (ev[i].type && !nc_feedback_name_ok(ev[i].type, strlen(ev[i].type)))
            return nc_fail(e, NC_EINVAL, "event %zu: type '%.64s' is not 1..%d characters of "
                           "[A-Za-z0-9_.-]", i, ev[i].type, NC_FEEDBACK_NAME_LEN);
    }
    return NC_OK;
}

/* ==== schema ============================================================================ */

/* One integer from a fixed query ("PRAGMA user_version"), for the schema checks. */
static int query_int(nc_store *s, const char *sql, int64_t *out, nc_err *e) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->wdb, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) return st_sql_fail(s, s->wdb, rc, sql, e);
    rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int frc = sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) return st_sql_fail(s, s->wdb, rc, sql, e);
    return frc == SQLITE_OK ? NC_OK : st_sql_fail(s, s->wdb, frc, sql, e);
}

/* Decides whether this file is ours and how far its schema is: a fresh file, or an nclrec
 * store at a version this program knows. Runs inside the migration transaction. */
static int check_schema(nc_store *s, int64_t *version, nc_err *e) {
    int64_t app, n_objects;
    int rc = query_int(s, "PRAGMA user_version", version, e);
    if (!rc) rc = query_int(s, "PRAGMA application_id", &app, e);
    if (!rc) rc = query_int(s, "SELECT count(*) FROM sqlite_master", &n_objects, e);
    if (rc) return rc;
    if (app != 0 && app != STORE_APP_ID)
        return nc_fail(e, NC_EFORMAT, "store %s: not an nclrec store (application_id %lld)",
                       s->path, (long long)app);
    if (*version == 0 && n_objects > 0)
        return nc_fail(e, NC_EFORMAT, "store %s: not an nclrec store (it has tables but no "
                       "schema version)", s->path);
    if (*version > sql_n_migrations)
        return nc_fail(e, NC_EFORMAT, "store %s: schema version %lld is newer than this program "
                       "knows (%d): use a newer nclrec", s->path, (long long)*version,
                       sql_n_migrations);
    return NC_OK;
}

/* Applies the migrations above the file's user_version in one transaction, so a crash or a
 * second process starting at the same time never sees a half-migrated schema. */
static int migrate(nc_store *s, nc_err *e) {
    int rc = st_exec(s, s->wdb, "BEGIN IMMEDIATE", "begin migration", e);
    if (rc) return rc;
    int64_t v;
    rc = check_schema(s, &v, e);
    for (int64_t m = v; !rc && m < sql_n_migrations; m++) {
        const sql_migration *mg = &sql_migrations[m];
        if (mg->version != m + 1) {
            rc = nc_fail(e, NC_EINTERNAL, "embedded migration %s has version %d, expected %lld",
                         mg->name, mg->version, (long long)m + 1);
            break;
        }
        char what[128], pragma[64];
        snprintf(what, sizeof what, "migration %s", mg->name);
        snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", mg->version);
        rc = st_exec(s, s->wdb, mg->sql, what, e);
        if (!rc) rc = st_exec(s, s->wdb, pragma, what, e);
    }
    if (!rc) return st_exec(s, s->wdb, "COMMIT", "commit migration", e);
    if (!sqlite3_get_autocommit(s->wdb)) sqlite3_exec(s->wdb, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ==== open / close ====================================================================== */

/* Sets one numeric PRAGMA; the value comes from validated options, never from a request. */
static int pragma_int(nc_store *s, const char *name, int64_t v, nc_err *e) {
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA %s = %lld", name, (long long)v);
    return st_exec(s, s->wdb, sql, sql, e);
}

/* WAL lets readers run beside the writer; the mode is stored in the file, and a file system
 * that cannot do it (no shared memory) answers with another mode, which we refuse. */
static int set_wal(nc_store *s, nc_err *e) {
    sqlite3_stmt *st;
    int rc = sqlite3_prepare_v2(s->wdb, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc != SQLITE_OK) return st_sql_fail(s, s->wdb, rc, "PRAGMA journal_mode", e);
    rc = sqlite3_step(st);
    char mode[16] = "";
    if (rc == SQLITE_ROW)
        snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW) return st_sql_fail(s, s->wdb, rc, "PRAGMA journal_mode = WAL", e);
    if (strcmp(mode, "wal") != 0)
        return nc_fail(e, NC_EIO, "store %s: cannot use WAL mode (journal mode is '%s'); put "
                       "the data directory on a local file system", s->path, mode);
    return NC_OK;
}

/* Opens the read-write connection and applies the durability and size settings. */
static int open_writer_db(nc_store *s, nc_err *e) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(s->path, &s->wdb, flags, NULL);
    if (rc != SQLITE_OK) {
        int sys = s->wdb ? sqlite3_system_errno(s->wdb) : 0;
        char why[700];
        diagnose_io(s->path, why, sizeof why);
        return nc_fail(e, NC_EIO, "store %s: cannot open: %s%s%s%s", s->path,
                       s->wdb ? sqlite3_errmsg(s->wdb) : sqlite3_errstr(rc), sys ? ": " : "",
                       sys ? strerror(sys) : "", why);
    }
    sqlite3_extended_result_codes(s->wdb, 1);
    if (sqlite3_db_readonly(s->wdb, "main") == 1) {
        char why[700];
        diagnose_unwritable(s->path, why, sizeof why);
        return nc_fail(e, NC_EIO, "store %s: the database file is read-only (check its permissions "
                       "and the file system)%s", s->path, why[0] ? why : ": the store is not writable");
    }
    sqlite3_busy_timeout(s->wdb, s->o.busy_timeout_ms);
    rc = set_wal(s, e);
    if (!rc) rc = st_exec(s, s->wdb, s->o.sync_full ? "PRAGMA synchronous = FULL"
                                                    : "PRAGMA synchronous = NORMAL",
                          "PRAGMA synchronous", e);
    if (!rc) rc = st_exec(s, s->wdb, "PRAGMA foreign_keys = ON", "PRAGMA foreign_keys", e);
    if (!rc) rc = pragma_int(s, "wal_autocheckpoint", s->o.wal_checkpoint_pages, e);
    if (!rc && s->o.wal_max_bytes > 0)
        rc = pragma_int(s, "journal_size_limit", s->o.wal_max_bytes, e);
    if (!rc && s->o.max_db_bytes > 0) {
        int64_t page = 4096;
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2(s->wdb, "PRAGMA page_size", -1, &st, NULL) == SQLITE_OK) {
            if (sqlite3_step(st) == SQLITE_ROW) page = sqlite3_column_int64(st, 0);
            sqlite3_finalize(st);
        }
        int64_t pages = s->o.max_db_bytes / (page > 0 ? page : 4096);
        rc = pragma_int(s, "max_page_count", pages > 1 ? pages : 1, e);
    }
    return rc;
}

/* Creates the locks and condition variables, remembering which exist for cleanup. */
static int init_sync(nc_store *s, nc_err *e) {
    if (pthread_mutex_init(&s->qmu, NULL)) goto fail;
    s->sync_init |= 1;
    if (pthread_cond_init(&s->qcv, NULL)) goto fail;
    s->sync_init |= 2;
    if (pthread_mutex_init(&s->rmu, NULL)) goto fail;
    s->sync_init |= 8;
    if (pthread_cond_init(&s->rcv, NULL)) goto fail;
    s->sync_init |= 16;
    if (pthread_mutex_init(&s->pmu, NULL)) goto fail;
    s->sync_init |= 32;
    return NC_OK;
fail:
    return nc_fail(e, NC_ENOMEM, "store: cannot create a mutex or condition variable");
}

/* Undoes init_sync for whatever it managed to create. */
static void destroy_sync(nc_store *s) {
    if (s->sync_init & 1) pthread_mutex_destroy(&s->qmu);
    if (s->sync_init & 2) pthread_cond_destroy(&s->qcv);
    if (s->sync_init & 8) pthread_mutex_destroy(&s->rmu);
    if (s->sync_init & 16) pthread_cond_destroy(&s->rcv);
    if (s->sync_init & 32) pthread_mutex_destroy(&s->pmu);
    s->sync_init = 0;
}

/* Order matters: the schema must be current before statements are prepared, and the
 * writer starts last so it never sees a half-built store. */
int store_open(const char *path, const store_opts *o, nc_store **out, nc_err *e) {
    *out = NULL;
    if (!path || !*path) return nc_fail(e, NC_EINVAL, "store: empty database path");
    store_opts def;
    store_opts_default(&def);
    int rc = check_opts(o ? o : &def, e);
    if (rc) return rc;
    nc_store *s = nc_calloc(1, sizeof *s, e);
    if (!s) return NC_ENOMEM;
    s->o = o ? *o : def;
    s->pop_at = -1;
    s->writable = 1;
    s->path = nc_strdup(path, e);
    rc = s->path ? seen_filter(s, e) : NC_ENOMEM;
    if (!rc) rc = init_sync(s, e);
    if (!rc) rc = open_writer_db(s, e);
    if (!rc) rc = migrate(s, e);
    if (!rc) rc = st_writer_prepare(s, e);
    if (!rc) rc = st_readers_open(s, e);
    if (!rc) rc = st_seen_open(s, e);
    if (!rc) rc = st_writer_start(s, e);
    if (rc) {
        store_close(s);
        return rc;
    }
    *out = s;
    return NC_OK;
}

/* Readers close before the writer, whose close as the last connection checkpoints the
 * WAL into the database and removes it. */
void store_close(nc_store *s) {
    if (!s) return;
    st_writer_stop(s);
    st_readers_close(s);
    st_writer_finalize(s);
    st_seen_close(s);
    if (s->wdb) sqlite3_close(s->wdb); /* the last connection: checkpoints and removes the WAL */
    store_items_free(&s->pop);
    destroy_sync(s);
    free(s->path);
    free(s->seen_filter);
    free(s);
}
