/* test_store.c - the interaction store: schema migrations, appends and their all-or-nothing
 * and idempotency rules, deletion with tombstones, snapshots and watermarks, group commit
 * under concurrency (grouping shown by holding the write lock from another connection, not by
 * timing), import/export, popularity, and clear errors for read-only and full databases. */
#include "store/sql_embed.h"
#include "store/store.h"
#include "testhelp.h"
#include "tmpdir.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* ==== helpers =========================================================================== */

/* A clock the test moves by hand, so idempotency windows need no sleeping. */
typedef struct fake_clock {
    int64_t now;
} fake_clock;

static int64_t fake_now(void *ctx) { return ((fake_clock *)ctx)->now; }

static store_stats stats_of(nc_store *s) {
    store_stats st;
    nc_err e;
    if (store_stats_get(s, &st, &e)) fprintf(stderr, "stats: %s\n", e.msg);
    return st;
}

/* One integer from a query on a separate connection, to look at the file from outside. */
static int64_t db_int(const char *path, const char *sql) {
    sqlite3 *db;
    sqlite3_stmt *st;
    int64_t v = -1;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        if (sqlite3_step(st) == SQLITE_ROW) v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
    }
    sqlite3_close(db);
    return v;
}

/* The repository root: $NCLREC_SRC, else two levels up from this file's compiled path. */
static void src_path(const char *rel, char *buf, size_t cap) {
    const char *root = getenv("NCLREC_SRC");
    if (root) {
        snprintf(buf, cap, "%s/%s", root, rel);
        return;
    }
    const char *me = __FILE__; /* "tests/test_store.c" or an absolute path */
    const char *cut = strstr(me, "tests/test_store.c");
    snprintf(buf, cap, "%.*s%s", (int)(cut ? cut - me : 0), me, rel);
}

/* The whole file into a new string (caller frees), NULL when unreadable. */
static char *slurp(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, k;
    char tmp[4096];
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) {
        if (n + k + 1 > cap) {
            cap = 2 * (n + k + 1);
            buf = realloc(buf, cap);
        }
        memcpy(buf + n, tmp, k);
        n += k;
    }
    fclose(f);
    if (!buf) buf = calloc(1, 1);
    else buf[n] = '\0';
    return buf;
}

static int items_has(const store_items *x, const char *id, int64_t count) {
    for (size_t i = 0; i < x->n; i++)
        if (!strcmp(x->ids[i], id)) return x->counts[i] == count;
    return 0;
}

/* ==== schema and migrations ============================================================= */

static void test_migrations_fresh_and_reopen(void) {
    tdir t;
    tdir_make(&t, "store");
    nc_store *s = open_or_die(t.db, NULL);
    store_event ev = {"u1", "i1", 100, NULL};
    nc_err e;
    CHECK(store_append(s, &ev, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    store_close(s);
    CHECK(db_int(t.db, "PRAGMA user_version") == sql_n_migrations, "user_version after create");
    CHECK(db_int(t.db, "PRAGMA application_id") == 1852009586, "application_id");
    CHECK(db_int(t.db, "SELECT journal_mode = 'wal' FROM pragma_journal_mode") == 1, "WAL mode");
    s = open_or_die(t.db, NULL); /* re-open: nothing to migrate, data kept */
    store_stats st = stats_of(s);
    CHECK(st.interactions == 1 && st.last_seq == 1, "data survives re-open: %lld rows",
          (long long)st.interactions);
    store_close(s);
    CHECK(db_int(t.db, "PRAGMA user_version") == sql_n_migrations, "user_version after re-open");
    CHECK(db_int(t.db, "SELECT count(*) FROM counters") == 1, "migration not applied twice");
    tdir_free(&t);
}

/* A store made by the first schema only (an older daemon's file) is migrated on open with
 * its data kept; model versions are then recorded above every one handed out, across
 * re-opens, and never below the caller's floor. */
static void test_migrate_v1_and_model_versions(void) {
    tdir t;
    tdir_make(&t, "store");
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(t.db, &db) == SQLITE_OK, "create");
    CHECK(sqlite3_exec(db, sql_migrations[0].sql, NULL, NULL, NULL) == SQLITE_OK, "0001: %s", sqlite3_errmsg(db));
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 1; UPDATE counters SET last_seq = 7", NULL, NULL, NULL) == SQLITE_OK,
          "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    nc_store *s = open_or_die(t.db, NULL);
    CHECK(stats_of(s).last_seq == 7, "the old counters survive the migration");
    CHECK(db_int(t.db, "PRAGMA user_version") == sql_n_migrations, "migrated to %d", sql_n_migrations);
    uint64_t v = 0;
    nc_err e;
    static const uint64_t floor_of[] = {1, 1, 10, 3};
    static const uint64_t want[] = {1, 2, 10, 11};
    for (int i = 0; i < 4; i++)
        CHECK(store_claim_model_version(s, floor_of[i], &v, &e) == NC_OK && v == want[i],
              "claim %d (floor %llu): %llu, expected %llu", i, (unsigned long long)floor_of[i], (unsigned long long)v,
              (unsigned long long)want[i]);
    CHECK(store_claim_model_version(s, 0, &v, &e) == NC_EINVAL, "floor 0 refused");
    store_close(s);
    CHECK(db_int(t.db, "SELECT model_version FROM counters") == 11, "recorded in the file");
    s = open_or_die(t.db, NULL);
    CHECK(store_claim_model_version(s, 1, &v, &e) == NC_OK && v == 12, "after re-open: %llu", (unsigned long long)v);
    CHECK(stats_of(s).last_seq == 7, "a version claim is not a data change");
    store_close(s);
    tdir_free(&t);
}

static void test_foreign_and_newer_files_refused(void) {
    tdir t;
    tdir_make(&t, "store");
    sqlite3 *db;
    sqlite3_open(t.db, &db);
    sqlite3_exec(db, "CREATE TABLE other (x)", NULL, NULL, NULL);
    sqlite3_close(db);
    nc_store *s = NULL;
    nc_err e;
    int rc = store_open(t.db, NULL, &s, &e);
    CHECK(rc == NC_EFORMAT && s == NULL, "foreign database refused, rc %d", rc);
    CHECK(strstr(e.msg, "not an nclrec store") && strstr(e.msg, t.db), "message: %s", e.msg);
    remove(t.db);

    s = open_or_die(t.db, NULL);
    store_close(s);
    sqlite3_open(t.db, &db);
    sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL);
    sqlite3_close(db);
    rc = store_open(t.db, NULL, &s, &e);
    CHECK(rc == NC_EFORMAT && strstr(e.msg, "newer"), "newer schema refused: %s", e.msg);

    snprintf(t.db, sizeof t.db, "%s/no/such/dir/x.db", t.dir);
    rc = store_open(t.db, NULL, &s, &e);
    CHECK(rc == NC_EIO && strstr(e.msg, "cannot open") && strstr(e.msg, "no/such"),
          "missing directory: %s", e.msg);
    store_opts o;
    store_opts_default(&o);
    o.readers = 0;
    rc = store_open(t.db, &o, &s, &e);
    CHECK(rc == NC_EINVAL && strstr(e.msg, "readers=0"), "bad option named: %s", e.msg);
    tdir_free(&t);
}

/* Appends a normalised description of every table and index (columns, types, keys, defaults,
 * index columns and order, uniqueness) to buf. */
static void describe_schema(sqlite3 *db, char *buf, size_t cap) {
    const char *sql =
        "SELECT m.type || ' ' || m.name || ' on ' || m.tbl_name || ': ' || "
        " coalesce((SELECT group_concat(c.name || ' ' || c.type || ' nn' || c.\"notnull\" || "
        "  ' d' || coalesce(c.dflt_value, '-') || ' pk' || c.pk, ', ') "
        "  FROM pragma_table_xinfo(m.name) c WHERE m.type = 'table'), '') || "
        " coalesce((SELECT group_concat(coalesce(x.name, '?') || ' desc' || x.desc || "
        "  ' key' || x.key, ', ') FROM pragma_index_xinfo(m.name) x WHERE m.type = 'index'), '') "
        " || coalesce((SELECT ' unique' || l.\"unique\" || ' partial' || l.partial "
        "  FROM pragma_index_list(m.tbl_name) l WHERE l.name = m.name), '') "
        "FROM sqlite_master m WHERE m.name NOT LIKE 'sqlite_%' ORDER BY m.type, m.name";
    sqlite3_stmt *st;
    size_t n = 0;
    buf[0] = '\0';
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf(buf, cap, "prepare failed: %s", sqlite3_errmsg(db));
        return;
    }
    while (sqlite3_step(st) == SQLITE_ROW && n < cap)
        n += (size_t)snprintf(buf + n, cap - n, "%s\n", sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
}

/* The retrain history survives a re-open, comes back oldest first, newest max only, and the
 * writer keeps the newest STORE_RUNS_KEPT rows. */
static void test_retrain_history(void) {
    tdir t;
    tdir_make(&t, "store");
    nc_store *s = open_or_die(t.db, NULL);
    nc_err e;
    int ok = 1;
    for (int i = 1; i <= STORE_RUNS_KEPT + 3 && ok; i++) {
        store_run r = {.ended_at = 1700000000 + i, .version = (uint64_t)i, .recall20 = i / 10000.0, .ndcg20 = -1};
        snprintf(r.outcome, sizeof r.outcome, "%s", i % 2 ? "swapped" : "rejected");
        snprintf(r.detail, sizeof r.detail, "run %d", i);
        ok = store_record_run(s, &r, &e) == NC_OK;
    }
    CHECK(ok, "record: %s", e.msg);
    store_close(s);
    CHECK(db_int(t.db, "SELECT count(*) FROM retrain_runs") == STORE_RUNS_KEPT, "newest %d kept", STORE_RUNS_KEPT);
    s = open_or_die(t.db, NULL);
    store_run got[3];
    int n = -1;
    CHECK(store_recent_runs(s, got, 3, &n, &e) == NC_OK && n == 3, "3 read back after re-open (%d): %s", n, e.msg);
    for (int i = 0; i < n; i++) {
        int want = STORE_RUNS_KEPT + 1 + i;
        char detail[32];
        snprintf(detail, sizeof detail, "run %d", want);
        CHECK(got[i].version == (uint64_t)want && got[i].ended_at == 1700000000 + want &&
                  !strcmp(got[i].outcome, want % 2 ? "swapped" : "rejected") && !strcmp(got[i].detail, detail) &&
                  got[i].recall20 == want / 10000.0 && got[i].ndcg20 == -1,
              "run %d: version %llu, outcome %s, detail '%s'", i, (unsigned long long)got[i].version, got[i].outcome,
              got[i].detail);
    }
    store_close(s);
    tdir_free(&t);
}

static void test_schema_sql_matches_migrations(void) {
    char path[4096];
    src_path("sql/schema.sql", path, sizeof path);
    char *schema = slurp(path);
    CHECK(schema != NULL, "cannot read %s (run from the repository root or set NCLREC_SRC)",
          path);
    if (!schema) return;
    tdir t;
    tdir_make(&t, "store");
    store_close(open_or_die(t.db, NULL));
    sqlite3 *mig, *ref;
    sqlite3_open(t.db, &mig);
    sqlite3_open(":memory:", &ref);
    CHECK(sqlite3_exec(ref, schema, NULL, NULL, NULL) == SQLITE_OK, "schema.sql runs: %s",
          sqlite3_errmsg(ref));
    static char a[32768], b[32768];
    describe_schema(mig, a, sizeof a);
    describe_schema(ref, b, sizeof b);
    CHECK(strlen(a) > 100 && !strcmp(a, b),
          "sql/schema.sql differs from the migrations:\n--- migrated\n%s--- schema.sql\n%s", a, b);
    sqlite3_close(mig);
    sqlite3_close(ref);
    free(schema);
    tdir_free(&t);
}

static void test_embedded_sql_matches_files(void) {
    char dir[4096], path[8192];
    src_path("sql/migrations", dir, sizeof dir);
    int n_files = 0;
    DIR *d = opendir(dir);
    CHECK(d != NULL, "cannot list %s (run from the repository root or set NCLREC_SRC)", dir);
    if (!d) return;
    for (struct dirent *de; (de = readdir(d));) {
        size_t len = strlen(de->d_name);
        if (len > 4 && !strcmp(de->d_name + len - 4, ".sql")) n_files++;
    }
    closedir(d);
    CHECK(n_files == sql_n_migrations, "%d .sql files in %s but %d embedded: run "
          "tools/embed_sql.sh > server/store/sql_embed.c", n_files, dir, sql_n_migrations);
    for (int i = 0; i < sql_n_migrations; i++) {
        const sql_migration *m = &sql_migrations[i];
        CHECK(m->version == i + 1, "%s has version %d at position %d", m->name, m->version, i);
        snprintf(path, sizeof path, "%s/%s", dir, m->name);
        char *text = slurp(path);
        CHECK(text && !strcmp(text, m->sql), "server/store/sql_embed.c is stale for %s: run "
              "tools/embed_sql.sh > server/store/sql_embed.c", path);
        free(text);
    }
}

/* ==== appends =========================================================================== */

static void test_append_and_read_back(void) {
    tdir t;
    tdir_make(&t, "store");
    fake_clock clk = {1700000000};
    store_opts o;
    store_opts_default(&o);
    o.clock = fake_now;
    o.clock_ctx = &clk;
    nc_store *s = open_or_die(t.db, &o);
    store_event ev[] = {{"u1", "i1", 10, NULL}, {"u1", "i2", 20, NULL}, {"u2", "i1", STORE_TS_NOW, NULL},
                        {"u1", "i1", 30, NULL}};
    store_append_result r;
    nc_err e;
    CHECK(store_append(s, ev, 4, NULL, &r, &e) == NC_OK, "%s", e.msg);
    CHECK(r.n_accepted == 4 && r.first_seq == 1 && r.last_seq == 4 && !r.replayed,
          "result %lld %lld..%lld", (long long)r.n_accepted, (long long)r.first_seq,
          (long long)r.last_seq);
    store_items it;
    int64_t del = -1;
    CHECK(store_user_items(s, "u1", &it, &del, &e) == NC_OK, "%s", e.msg);
    CHECK(it.n == 2 && !strcmp(it.ids[0], "i1") && !strcmp(it.ids[1], "i2"),
          "u1 items in first-seen order, n=%zu", it.n);
    CHECK(items_has(&it, "i1", 2) && items_has(&it, "i2", 1) && del == 0, "counts");
    store_items_free(&it);
    CHECK(store_user_items(s, "nobody", &it, &del, &e) == NC_OK && it.n == 0, "unknown user");
    store_items_free(&it);
    store_stats st = stats_of(s);
    CHECK(st.interactions == 4 && st.users == 2 && st.items == 2 && st.last_seq == 4,
          "stats %lld/%lld/%lld/%lld", (long long)st.interactions, (long long)st.users,
          (long long)st.items, (long long)st.last_seq);
    CHECK(st.rows == 4 && st.jobs == 1 && st.commits == 1 && st.writable == 1, "counters");
    CHECK(db_int(t.db, "SELECT ts FROM interactions WHERE seq = 3") == clk.now,
          "missing timestamp is the time of acceptance");
    CHECK(db_int(t.db, "SELECT ts FROM interactions WHERE seq = 2") == 20, "given timestamp");
    store_close(s);
    tdir_free(&t);
}

static void test_batch_is_all_or_nothing(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.max_batch = 4;
    nc_store *s = open_or_die(t.db, &o);
    char long_id[NC_MAX_ID_LEN + 2];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    struct { store_event bad; const char *needle; } cases[] = {
        {{"", "i", 1, NULL}, "user id is empty"},
        {{"u", long_id, 1, NULL}, "longer than 256"},
        {{"u,v", "i", 1, NULL}, "0x2c"},
        {{"u", "i\n", 1, NULL}, "0x0a"},
        {{" u", "i", 1, NULL}, "leading or trailing space"},
        {{"u", "\xff", 1, NULL}, "UTF-8"},
        {{"u", "i", -5, NULL}, "timestamp -5"},
        {{"u", "i", 1700000000000LL, NULL}, "milliseconds"},
        {{NULL, "i", 1, NULL}, "missing"},
    };
    nc_err e;
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        store_event ev[3] = {{"ok1", "a", 1, NULL}, {"ok2", "b", 2, NULL}, cases[c].bad};
        int rc = store_append(s, ev, 3, NULL, NULL, &e);
        CHECK(rc == NC_EINVAL && strstr(e.msg, "event 2") && strstr(e.msg, cases[c].needle),
              "case %zu: rc %d, message: %s", c, rc, e.msg);
    }
    store_event five[5] = {{"a", "b", 1, NULL}, {"a", "b", 1, NULL}, {"a", "b", 1, NULL}, {"a", "b", 1, NULL},
                           {"a", "b", 1, NULL}};
    CHECK(store_append(s, five, 5, NULL, NULL, &e) == NC_EINVAL && strstr(e.msg, "max_batch=4"),
          "batch too big: %s", e.msg);
    CHECK(store_append(s, five, 0, NULL, NULL, &e) == NC_EINVAL, "empty batch");
    store_stats st = stats_of(s);
    CHECK(st.interactions == 0 && st.users == 0 && st.items == 0 && st.last_seq == 0,
          "nothing was written: %lld rows", (long long)st.interactions);
    char exact[NC_MAX_ID_LEN + 1];
    memset(exact, 'y', NC_MAX_ID_LEN);
    exact[NC_MAX_ID_LEN] = '\0';
    store_event ok = {exact, "caf\xc3\xa9 au lait", 0, NULL};
    CHECK(store_append(s, &ok, 1, NULL, NULL, &e) == NC_OK, "256-byte id, UTF-8, inner space: %s",
          e.msg);
    store_close(s);
    tdir_free(&t);
}

static void test_idempotency_key_replays(void) {
    tdir t;
    tdir_make(&t, "store");
    fake_clock clk = {1700000000};
    store_opts o;
    store_opts_default(&o);
    o.idem_window_s = 3600;
    o.clock = fake_now;
    o.clock_ctx = &clk;
    nc_store *s = open_or_die(t.db, &o);
    store_event ev[] = {{"u1", "i1", STORE_TS_NOW, NULL}, {"u1", "i2", STORE_TS_NOW, NULL}};
    store_append_result r1, r2;
    nc_err e;
    CHECK(store_append(s, ev, 2, "key-1", &r1, &e) == NC_OK && !r1.replayed, "%s", e.msg);
    clk.now += 60; /* the retry comes a minute later: same answer, nothing added */
    CHECK(store_append(s, ev, 2, "key-1", &r2, &e) == NC_OK, "%s", e.msg);
    CHECK(r2.replayed == 1 && r2.n_accepted == 2 && r2.first_seq == r1.first_seq &&
          r2.last_seq == r1.last_seq, "replayed the original result");
    store_stats st = stats_of(s);
    CHECK(st.interactions == 2 && st.replays == 1, "no duplicate rows: %lld",
          (long long)st.interactions);
    store_event other = {"u9", "i9", 5, NULL};
    CHECK(store_append(s, &other, 1, "key-1", NULL, &e) == NC_EINVAL &&
          strstr(e.msg, "key-1") && strstr(e.msg, "different request"),
          "same key, other content: %s", e.msg);
    CHECK(store_append(s, &other, 1, "", NULL, &e) == NC_EINVAL, "empty key refused");
    clk.now += 3600; /* the window has passed: the key is forgotten */
    CHECK(store_append(s, ev, 2, "key-1", &r2, &e) == NC_OK && !r2.replayed &&
          r2.first_seq == r1.last_seq + 1, "expired key: a new request");
    st = stats_of(s);
    CHECK(st.interactions == 4, "rows after expiry: %lld", (long long)st.interactions);
    store_close(s);
    tdir_free(&t);
}

static void test_delete_user(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.popular_refresh_ms = 0;
    nc_store *s = open_or_die(t.db, &o);
    store_event ev[] = {{"u1", "i1", 1, NULL}, {"u1", "i2", 2, NULL}, {"u2", "i1", 3, NULL}};
    nc_err e;
    CHECK(store_append(s, ev, 3, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    store_delete_result d;
    CHECK(store_delete_user(s, "u1", &d, &e) == NC_OK && d.n_deleted == 2 && d.seq == 4,
          "deleted %lld at seq %lld", (long long)d.n_deleted, (long long)d.seq);
    store_items it;
    int64_t del = 0;
    CHECK(store_user_items(s, "u1", &it, &del, &e) == NC_OK && it.n == 0 && del == 4,
          "u1 has nothing, deleted at 4: n=%zu del=%lld", it.n, (long long)del);
    store_items_free(&it);
    CHECK(store_popular(s, 10, &it, &e) == NC_OK && it.n == 1 && items_has(&it, "i1", 1),
          "popularity forgets u1: n=%zu", it.n);
    store_items_free(&it);
    store_stats st = stats_of(s);
    CHECK(st.interactions == 1 && st.users == 1 && st.last_seq == 4, "stats after delete");
    CHECK(db_int(t.db, "SELECT count(*) FROM users WHERE ext = 'u1'") == 0, "id removed");
    CHECK(store_delete_user(s, "ghost", &d, &e) == NC_OK && d.n_deleted == 0 && d.seq == 5,
          "unknown user: tombstone only");
    store_event back = {"u1", "i3", 9, NULL};
    CHECK(store_append(s, &back, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_user_items(s, "u1", &it, &del, &e) == NC_OK && it.n == 1 && del == 4 &&
          !strcmp(it.ids[0], "i3"), "a returning user starts afresh");
    store_items_free(&it);
    store_since since;
    CHECK(store_changes_since(s, 3, &since, &e) == NC_OK, "%s", e.msg);
    CHECK(since.interactions == 1 && since.deletions == 2 && since.last_seq == 6,
          "since 3: %lld new, %lld deletions, last %lld", (long long)since.interactions,
          (long long)since.deletions, (long long)since.last_seq);
    CHECK(store_delete_user(s, "", &d, &e) == NC_EINVAL, "empty id refused");
    store_close(s);
    tdir_free(&t);
}

/* A completion the test can wait on (bounded), for the *_async calls. */
typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int done;
} waiter;

static void waiter_done(void *ctx) {
    waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->done = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

/* 1 once done ran, 0 after 30 s without it. */
static int waiter_wait(waiter *w) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 30;
    pthread_mutex_lock(&w->mu);
    while (!w->done && pthread_cond_timedwait(&w->cv, &w->mu, &until) == 0) {}
    int done = w->done;
    pthread_mutex_unlock(&w->mu);
    return done;
}

/* The non-blocking append and deletion give what the blocking calls give, in queue order, and
 * refuse bad input before queueing (no completion then). */
static void test_async_append_and_delete(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    nc_store *s = open_or_die(t.db, &o);
    store_event ev[] = {{"u1", "i1", 1, NULL}, {"u1", "i2", 2, NULL}, {"u2", "i1", 3, NULL}};
    nc_err e;
    waiter wa = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    waiter wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    store_pending *pa = NULL, *pd = NULL;
    CHECK(store_append_async(s, ev, 3, NULL, waiter_done, &wa, &pa, &e) == NC_OK && pa, "%s", e.msg);
    CHECK(store_delete_user_async(s, "u1", waiter_done, &wd, &pd, &e) == NC_OK && pd, "%s", e.msg);
    CHECK(waiter_wait(&wa) && waiter_wait(&wd), "both completions ran");
    store_append_result ar = {0};
    store_delete_result dr = {0};
    CHECK(pa && store_pending_finish(pa, &ar, &e) == NC_OK && ar.n_accepted == 3 && ar.last_seq == 3,
          "append: %lld rows up to seq %lld", (long long)ar.n_accepted, (long long)ar.last_seq);
    CHECK(pd && store_pending_finish_delete(pd, &dr, &e) == NC_OK && dr.n_deleted == 2 && dr.seq == 4,
          "delete after the append: %lld rows at seq %lld", (long long)dr.n_deleted, (long long)dr.seq);
    store_items it;
    int64_t del = 0;
    CHECK(store_user_items(s, "u1", &it, &del, &e) == NC_OK && it.n == 0 && del == 4, "u1 gone: n=%zu del=%lld",
          it.n, (long long)del);
    store_items_free(&it);
    pd = (store_pending *)&wd; /* must be reset to NULL on refusal */
    CHECK(store_delete_user_async(s, "bad,id", waiter_done, &wd, &pd, &e) == NC_EINVAL && pd == NULL,
          "a bad id is refused before queueing");
    CHECK(store_delete_user_async(s, "u2", NULL, NULL, &pd, &e) == NC_EINVAL && pd == NULL, "no callback refused");
    CHECK(stats_of(s).last_seq == 4, "nothing queued by the refusals");
    store_close(s);
    tdir_free(&t);
}

/* ==== snapshot ========================================================================== */

static void test_snapshot_and_watermark(void) {
    tdir t;
    tdir_make(&t, "store");
    nc_store *s = open_or_die(t.db, NULL);
    store_event ev[] = {{"a", "x", 1, NULL}, {"b", "y", 2, NULL}, {"a", "y", 3, NULL}, {"c", "x", 4, NULL}};
    nc_err e;
    CHECK(store_append(s, ev, 4, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_delete_user(s, "c", NULL, &e) == NC_OK, "%s", e.msg);
    nc_idmap users, items;
    nc_interactions x;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&x);
    int32_t pre;
    nc_idmap_intern(&users, "b", 1, &pre, &e); /* a model's existing id keeps its number */
    int64_t wm = -1;
    CHECK(store_snapshot(s, &users, &items, &x, &wm, &e) == NC_OK, "%s", e.msg);
    CHECK(wm == 5, "watermark is the deletion's seq: %lld", (long long)wm);
    CHECK(x.n == 3 && users.n == 2 && items.n == 2, "live rows only: %zu rows %zu users", x.n,
          users.n);
    CHECK(nc_idmap_find(&users, "b", 1) == 0 && nc_idmap_find(&users, "c", 1) == -1,
          "pre-interned id kept; deleted user absent");
    const char *want[3][2] = {{"a", "x"}, {"b", "y"}, {"a", "y"}};
    for (size_t r = 0; r < x.n && r < 3; r++)
        CHECK(!strcmp(users.ids[x.user[r]], want[r][0]) && !strcmp(items.ids[x.item[r]], want[r][1])
              && x.ts[r] == (int64_t)(r + 1), "row %zu in sequence order", r);
    store_event more[] = {{"d", "x", 6, NULL}, {"d", "z", 7, NULL}};
    CHECK(store_append(s, more, 2, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    store_since since;
    CHECK(store_changes_since(s, wm, &since, &e) == NC_OK && since.interactions == 2 &&
          since.deletions == 0 && since.last_seq == 7, "changes after the watermark");
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    nc_inter_free(&x);
    store_close(s);
    tdir_free(&t);
}

/* ==== concurrency and group commit ====================================================== */

typedef struct appender {
    nc_store *s;
    int id, n;
    size_t batch;
    int failures;
    int64_t firsts[64], lasts[64];
    int rc;
    nc_err e;
} appender;

static void *append_loop(void *arg) {
    appender *a = arg;
    char users[8][64], items[8][64];
    for (int k = 0; k < a->n; k++) {
        store_event ev[8];
        for (size_t j = 0; j < a->batch; j++) {
            snprintf(users[j], sizeof users[j], "t%d", a->id);
            snprintf(items[j], sizeof items[j], "t%d-%d-%zu", a->id, k, j);
            ev[j] = (store_event){users[j], items[j], 1, NULL};
        }
        store_append_result r;
        a->rc = store_append(a->s, ev, a->batch, NULL, &r, &a->e);
        if (a->rc) {
            a->failures++;
            continue;
        }
        a->firsts[k] = r.first_seq;
        a->lasts[k] = r.last_seq;
        store_items it;
        nc_err e;
        if (store_user_items(a->s, users[0], &it, NULL, &e) || it.n < (size_t)(k + 1) * a->batch)
            a->failures++; /* a caller must see its own acknowledged write */
        store_items_free(&it);
    }
    return NULL;
}

static void test_concurrent_appends_all_present(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.readers = 2; /* fewer connections than threads: callers wait for one */
    o.sync_full = 0;
    nc_store *s = open_or_die(t.db, &o);
    enum { T = 6, N = 40, B = 3 };
    appender a[T];
    pthread_t th[T];
    for (int i = 0; i < T; i++) {
        a[i] = (appender){.s = s, .id = i, .n = N, .batch = B};
        pthread_create(&th[i], NULL, append_loop, &a[i]);
    }
    for (int i = 0; i < T; i++) pthread_join(th[i], NULL);
    static char seen[T * N * B + 1];
    memset(seen, 0, sizeof seen);
    int bad = 0;
    for (int i = 0; i < T; i++) {
        CHECK(a[i].failures == 0, "thread %d: %d failures (%s)", i, a[i].failures, a[i].e.msg);
        for (int k = 0; k < N; k++) {
            bad += a[i].lasts[k] - a[i].firsts[k] != B - 1;
            for (int64_t q = a[i].firsts[k]; q <= a[i].lasts[k] && q >= 1 && q <= T * N * B; q++)
                bad += seen[q]++ != 0;
        }
    }
    CHECK(bad == 0, "%d sequence numbers reused or batches split", bad);
    store_stats st = stats_of(s);
    CHECK(st.interactions == T * N * B && st.last_seq == T * N * B && st.users == T,
          "all rows present: %lld", (long long)st.interactions);
    CHECK(st.jobs == T * N && st.commits >= 1 && st.commits <= st.jobs, "jobs %llu commits %llu",
          (unsigned long long)st.jobs, (unsigned long long)st.commits);
    store_close(s);
    tdir_free(&t);
}

/* Holds the database's write lock from another connection, so the writer blocks in BEGIN
 * IMMEDIATE and the test can line requests up behind it without relying on timing. */
static sqlite3 *hold_write_lock(const char *path) {
    sqlite3 *db;
    sqlite3_open(path, &db);
    sqlite3_busy_timeout(db, 10000);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        fprintf(stderr, "hold_write_lock: %s\n", sqlite3_errmsg(db));
    return db;
}

static void release_write_lock(sqlite3 *db) {
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
}

/* Waits (polling, with a generous bound that only matters if the store is broken) until the
 * writer is running `running` jobs and `queued` more wait. */
static int wait_queue(nc_store *s, size_t running, size_t queued) {
    for (int i = 0; i < 20000; i++) {
        store_stats st = stats_of(s);
        if (st.in_writer == running && st.queue_depth == queued) return 1;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

typedef struct one_append {
    nc_store *s;
    store_event ev[1];
    const store_event *evs;
    size_t n;
    char user[32];
    int rc;
    nc_err e;
    store_append_result r;
} one_append;

static void *do_append(void *arg) {
    one_append *a = arg;
    a->rc = store_append(a->s, a->evs ? a->evs : a->ev, a->evs ? a->n : 1, NULL, &a->r, &a->e);
    return NULL;
}

static void start_append(pthread_t *th, one_append *a, nc_store *s, int i) {
    a->s = s;
    snprintf(a->user, sizeof a->user, "g%d", i);
    a->ev[0] = (store_event){a->user, "item", 1, NULL};
    pthread_create(th, NULL, do_append, a);
}

static void test_group_commit_groups(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.busy_timeout_ms = 60000;
    nc_store *s = open_or_die(t.db, &o);
    sqlite3 *lock = hold_write_lock(t.db);
    enum { N = 8 };
    pthread_t th[N];
    one_append a[N];
    memset(a, 0, sizeof a);
    start_append(&th[0], &a[0], s, 0);
    CHECK(wait_queue(s, 1, 0), "the writer took the first job");
    for (int i = 1; i < N; i++) start_append(&th[i], &a[i], s, i);
    CHECK(wait_queue(s, 1, N - 1), "the others queued behind it");
    release_write_lock(lock);
    for (int i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        CHECK(a[i].rc == NC_OK, "job %d: %s", i, a[i].e.msg);
    }
    store_stats st = stats_of(s);
    CHECK(st.jobs == N && st.commits == 2, "%llu jobs in %llu transactions (want %d in 2)",
          (unsigned long long)st.jobs, (unsigned long long)st.commits, N);
    CHECK(st.interactions == N && st.last_seq == N, "all rows: %lld", (long long)st.interactions);
    store_close(s);
    tdir_free(&t);
}

/* Events for a job too big for the quota: long distinct ids. Caller frees ids. */
static store_event *big_job(size_t n, char **ids) {
    store_event *ev = malloc(n * sizeof *ev);
    *ids = malloc(n * 264);
    for (size_t i = 0; i < n; i++) {
        char *id = *ids + i * 264;
        memset(id, 'a' + (int)(i % 26), 240);
        snprintf(id + 240, 24, "%zu", i);
        ev[i] = (store_event){id, id, 1, NULL};
    }
    return ev;
}

static void test_failing_job_does_not_poison_group(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.busy_timeout_ms = 60000;
    o.max_batch = 5000;
    o.max_db_bytes = 512 << 10;
    nc_store *s = open_or_die(t.db, &o);
    char *ids;
    store_event *big = big_job(3000, &ids);
    sqlite3 *lock = hold_write_lock(t.db);
    pthread_t th[3];
    one_append a[3];
    memset(a, 0, sizeof a);
    start_append(&th[0], &a[0], s, 0);
    CHECK(wait_queue(s, 1, 0), "the writer took the first job");
    a[1].evs = big;
    a[1].n = 3000;
    start_append(&th[1], &a[1], s, 1);
    start_append(&th[2], &a[2], s, 2);
    CHECK(wait_queue(s, 1, 2), "two jobs queued");
    release_write_lock(lock);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK(a[0].rc == NC_OK && a[2].rc == NC_OK, "small jobs committed: %s / %s", a[0].e.msg,
          a[2].e.msg);
    CHECK(a[1].rc == NC_EIO && strstr(a[1].e.msg, "max_db_bytes") && strstr(a[1].e.msg, t.db),
          "the big job fails clearly: rc %d %s", a[1].rc, a[1].e.msg);
    store_stats st = stats_of(s);
    CHECK(st.interactions == 2 && st.last_seq == 2 && st.commits == 2 && st.job_errors == 1,
          "rows %lld seq %lld commits %llu errors %llu", (long long)st.interactions,
          (long long)st.last_seq, (unsigned long long)st.commits,
          (unsigned long long)st.job_errors);
    CHECK(a[2].r.first_seq == 2, "no gap in sequence numbers: %lld", (long long)a[2].r.first_seq);
    store_items it;
    nc_err e;
    CHECK(store_user_items(s, big[0].user, &it, NULL, &e) == NC_OK && it.n == 0,
          "nothing of the failed job remains");
    store_items_free(&it);
    CHECK(db_int(t.db, "SELECT count(*) FROM items") == 1, "no stray items");
    free(big);
    free(ids);
    store_close(s);
    tdir_free(&t);
}

/* A fresh store whose interactions table refuses the item 'poison' (a trigger the test
 * installs), with a long busy timeout for the tests that hold the write lock. */
static nc_store *open_poisoned(tdir *t) {
    tdir_make(t, "store");
    store_opts o;
    store_opts_default(&o);
    o.busy_timeout_ms = 60000;
    nc_store *s = open_or_die(t->db, &o);
    sqlite3 *db;
    sqlite3_open(t->db, &db);
    CHECK(sqlite3_exec(db, "CREATE TRIGGER poison BEFORE INSERT ON interactions "
                           "WHEN NEW.item_id = (SELECT id FROM items WHERE ext = 'poison') "
                           "BEGIN SELECT RAISE(ABORT, 'poisoned item'); END",
                       NULL, NULL, NULL) == SQLITE_OK, "trigger: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return s;
}

/* A job that fails after writing part of its rows (here a trigger the test installs refuses
 * one item) must be rolled back to its savepoint alone: its earlier rows and new ids vanish,
 * the jobs around it in the same transaction commit, and no sequence number is skipped. */
static void test_job_failing_midway_rolls_back_alone(void) {
    tdir t;
    nc_store *s = open_poisoned(&t);
    sqlite3 *lock = hold_write_lock(t.db);
    pthread_t th[3];
    one_append a[3];
    memset(a, 0, sizeof a);
    start_append(&th[0], &a[0], s, 0);
    CHECK(wait_queue(s, 1, 0), "the writer took the first job");
    store_event bad[] = {{"victim", "fresh-item", 1, NULL}, {"victim", "poison", 2, NULL}};
    a[1].evs = bad;
    a[1].n = 2;
    start_append(&th[1], &a[1], s, 1);
    CHECK(wait_queue(s, 1, 1), "second job queued");
    start_append(&th[2], &a[2], s, 2);
    CHECK(wait_queue(s, 1, 2), "third job queued");
    release_write_lock(lock);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK(a[0].rc == NC_OK && a[2].rc == NC_OK, "neighbours committed: %s / %s", a[0].e.msg,
          a[2].e.msg);
    CHECK(a[1].rc == NC_EINVAL && strstr(a[1].e.msg, "poisoned item"), "rc %d: %s", a[1].rc,
          a[1].e.msg);
    store_stats st = stats_of(s);
    CHECK(st.interactions == 2 && st.users == 2 && st.items == 1 && st.commits == 2,
          "rows %lld users %lld items %lld commits %llu", (long long)st.interactions,
          (long long)st.users, (long long)st.items, (unsigned long long)st.commits);
    CHECK(a[2].r.first_seq == 2 && st.last_seq == 2, "no gap: %lld", (long long)a[2].r.first_seq);
    CHECK(db_int(t.db, "SELECT count(*) FROM items WHERE ext IN ('fresh-item', 'poison')") == 0 &&
          db_int(t.db, "SELECT count(*) FROM users WHERE ext = 'victim'") == 0,
          "the failed job's new ids are gone too");
    store_close(s);
    tdir_free(&t);
}

/* 1 when the counters row agrees with the tables it counts (the writer updates it once per
 * group, from the deltas of the jobs that committed). */
static int counters_match_tables(const char *db) {
    return db_int(db, "SELECT n_interactions FROM counters") == db_int(db, "SELECT count(*) FROM interactions") &&
           db_int(db, "SELECT n_users FROM counters") == db_int(db, "SELECT count(*) FROM users") &&
           db_int(db, "SELECT n_items FROM counters") == db_int(db, "SELECT count(*) FROM items") &&
           db_int(db, "SELECT last_seq FROM counters") ==
               db_int(db, "SELECT max((SELECT coalesce(max(seq), 0) FROM interactions), "
                          "(SELECT coalesce(max(seq), 0) FROM deletions))");
}

/* One group holding appends, a deletion and a job that fails midway (its new user and item
 * rolled back): the counters written once for the group count exactly what committed. */
static void test_group_counters_match_tables(void) {
    tdir t;
    nc_store *s = open_poisoned(&t);
    nc_err e;
    store_event first[] = {{"u1", "i1", 1, NULL}, {"u1", "i2", 2, NULL}, {"u2", "i1", 3, NULL}};
    CHECK(store_append(s, first, 3, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    sqlite3 *lock = hold_write_lock(t.db);
    pthread_t th[3];
    one_append a[3];
    memset(a, 0, sizeof a);
    start_append(&th[0], &a[0], s, 0); /* taken alone while the lock is held */
    CHECK(wait_queue(s, 1, 0), "the writer took the first job");
    waiter wd = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};
    store_pending *pd = NULL;
    CHECK(store_delete_user_async(s, "u1", waiter_done, &wd, &pd, &e) == NC_OK, "%s", e.msg);
    store_event bad[] = {{"victim", "fresh-item", 1, NULL}, {"victim", "poison", 2, NULL}};
    a[1].evs = bad;
    a[1].n = 2;
    start_append(&th[1], &a[1], s, 1);
    CHECK(wait_queue(s, 1, 2), "deletion and failing job queued");
    store_event more[] = {{"u3", "i3", 4, NULL}, {"u2", "i3", 5, NULL}};
    a[2].evs = more;
    a[2].n = 2;
    start_append(&th[2], &a[2], s, 2);
    CHECK(wait_queue(s, 1, 3), "all queued behind the first");
    release_write_lock(lock);
    for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
    CHECK(waiter_wait(&wd), "the deletion completed");
    store_delete_result dr = {0};
    CHECK(pd && store_pending_finish_delete(pd, &dr, &e) == NC_OK && dr.n_deleted == 2, "deleted %lld",
          (long long)dr.n_deleted);
    CHECK(a[0].rc == NC_OK && a[2].rc == NC_OK && a[1].rc == NC_EINVAL, "rcs %d %d %d", a[0].rc, a[1].rc, a[2].rc);
    store_stats st = stats_of(s);
    CHECK(st.commits == 3, "the three later jobs in one group: %llu commits", (unsigned long long)st.commits);
    CHECK(st.interactions == 4 && st.users == 3 && st.items == 4 && st.last_seq == 7,
          "rows %lld users %lld items %lld seq %lld", (long long)st.interactions, (long long)st.users,
          (long long)st.items, (long long)st.last_seq);
    CHECK(counters_match_tables(t.db), "counters agree with the tables");
    store_close(s);
    tdir_free(&t);
}

static void test_full_database_clear_error(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.max_batch = 5000;
    o.max_db_bytes = 256 << 10;
    nc_store *s = open_or_die(t.db, &o);
    char *ids;
    store_event *big = big_job(3000, &ids);
    nc_err e;
    int rc = store_append(s, big, 3000, NULL, NULL, &e);
    CHECK(rc == NC_EIO && strstr(e.msg, "full"), "rc %d: %s", rc, e.msg);
    store_stats st = stats_of(s);
    CHECK(st.writable == 0 && st.interactions == 0, "reported as not writable");
    store_event small = {"u", "i", 1, NULL};
    CHECK(store_append(s, &small, 1, NULL, NULL, &e) == NC_OK, "small still fits: %s", e.msg);
    st = stats_of(s);
    CHECK(st.writable == 1 && st.interactions == 1, "writable again");
    free(big);
    free(ids);
    store_close(s);
    tdir_free(&t);
}

#define NOBODY 65534 /* the user the store is opened as when the test runs as root */

/* The uid store_open runs as in open_fails_unwritable: root passes every permission check, so
 * as root the store is opened by NOBODY in a child process. */
static uid_t opener_uid(void) { return geteuid() == 0 ? NOBODY : geteuid(); }

/* Opens the store at path as opener_uid(); returns 1 when the open fails with NC_EIO, the
 * message in msg. When the test cannot become NOBODY it says so in msg and returns 0, so the
 * check fails naming what could not be set up. */
static int open_fails_unwritable(const char *path, char *msg, size_t cap) {
    nc_store *s = NULL;
    nc_err e = {0};
    if (geteuid() != 0) {
        int rc = store_open(path, NULL, &s, &e);
        snprintf(msg, cap, "%s", e.msg);
        store_close(s);
        return rc == NC_EIO;
    }
    int fd[2];
    if (pipe(fd)) {
        snprintf(msg, cap, "could not set up: pipe: %s", strerror(errno));
        return 0;
    }
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        int rc = NC_OK;
        if (setgid(NOBODY) || setuid(NOBODY))
            snprintf(e.msg, sizeof e.msg, "could not set up: running as uid %d failed: %s", NOBODY, strerror(errno));
        else
            rc = store_open(path, NULL, &s, &e);
        ssize_t w = write(fd[1], e.msg, strlen(e.msg) + 1);
        (void)w;
        _exit(rc == NC_EIO ? 0 : 1);
    }
    close(fd[1]);
    ssize_t n = read(fd[0], msg, cap - 1);
    msg[n > 0 ? n : 0] = '\0';
    close(fd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* A store with one event at t.db, closed, without its -wal and -shm files, owned by the
 * opener (the chown matters only as root). */
static void make_closed_store(tdir *t) {
    tdir_make(t, "store");
    nc_store *s = open_or_die(t->db, NULL);
    store_event ev = {"u", "i", 1, NULL};
    nc_err e;
    CHECK(store_append(s, &ev, 1, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    store_close(s);
    char f[sizeof t->db + 8];
    snprintf(f, sizeof f, "%s-wal", t->db);
    unlink(f);
    snprintf(f, sizeof f, "%s-shm", t->db);
    unlink(f);
    if (geteuid() == 0)
        CHECK(chown(t->dir, NOBODY, NOBODY) == 0 && chown(t->db, NOBODY, NOBODY) == 0,
              "could not set up: chown to uid %d: %s", NOBODY, strerror(errno));
}

/* Opens a closed store whose file has mode file_mode in a directory of mode dir_mode, as
 * opener_uid(): it must fail saying the store is not writable, with cause in the message. */
static void check_unwritable(mode_t file_mode, mode_t dir_mode, const char *cause) {
    tdir t;
    make_closed_store(&t);
    chmod(t.db, file_mode);
    chmod(t.dir, dir_mode);
    char msg[1024];
    CHECK(open_fails_unwritable(t.db, msg, sizeof msg), "open fails as uid %u: %s", (unsigned)opener_uid(), msg);
    CHECK(strstr(msg, "not writable") && strstr(msg, cause) && strstr(msg, t.db),
          "message says the store is not writable and why (%s): %s", cause, msg);
    chmod(t.dir, 0755);
    tdir_free(&t);
}

/* The database file may not be written (as root: by the user the daemon would run as). */
static void test_read_only_file_clear_error(void) { check_unwritable(0444, 0755, "nclrec.db may not be written"); }

/* The file may be written but its directory not: SQLite cannot create the -wal and -shm files
 * (what root in a chroot saw, where the message said only "unable to open database file"). */
static void test_unwritable_directory_clear_error(void) { check_unwritable(0644, 0555, "directory"); }

/* ==== import / export =================================================================== */

typedef struct progress_log {
    int calls;
    int64_t done, total;
} progress_log;

static void on_progress(void *ctx, int64_t done, int64_t total) {
    progress_log *p = ctx;
    p->calls++;
    p->done = done;
    p->total = total;
}

static int write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static void test_import_export_round_trip(void) {
    tdir t;
    tdir_make(&t, "store");
    fake_clock clk = {1700000000};
    store_opts o;
    store_opts_default(&o);
    o.import_chunk = 2;
    o.clock = fake_now;
    o.clock_ctx = &clk;
    nc_store *s = open_or_die(t.db, &o);
    char in[256], out1[256], out2[256], db2[256];
    snprintf(in, sizeof in, "%s/in.csv", t.dir);
    snprintf(out1, sizeof out1, "%s/out1.csv", t.dir);
    snprintf(out2, sizeof out2, "%s/out2.csv", t.dir);
    snprintf(db2, sizeof db2, "%s/second.db", t.dir);
    write_file(in, "user_id,item_id,timestamp\nu1,i1,100\nu2,i1,200\nu1,i2\nu3,caf\xc3\xa9,300\n"
                   "u1,i1,400\n");
    int64_t rows = 0, replayed = -1;
    progress_log p = {0};
    nc_err e;
    CHECK(store_import_file(s, in, NULL, on_progress, &p, &rows, &replayed, &e) == NC_OK, "%s",
          e.msg);
    CHECK(rows == 5 && replayed == 0, "imported %lld rows", (long long)rows);
    CHECK(p.calls == 3 && p.done == 5 && p.total == 5, "progress per chunk: %d calls", p.calls);
    CHECK(db_int(t.db, "SELECT ts FROM interactions WHERE seq = 3") == clk.now,
          "row without timestamp gets the import time");
    CHECK(store_import_file(s, in, NULL, NULL, NULL, &rows, &replayed, &e) == NC_OK &&
          rows == 5 && replayed == 5, "a re-run adds nothing: replayed %lld", (long long)replayed);
    CHECK(stats_of(s).interactions == 5, "still 5 rows");
    FILE *f = fopen(out1, "w");
    int64_t n = 0;
    CHECK(store_export_csv(s, f, NULL, NULL, &n, &e) == NC_OK && n == 5, "export: %s", e.msg);
    fclose(f);
    nc_store *s2 = open_or_die(db2, NULL);
    CHECK(store_import_file(s2, out1, NULL, NULL, NULL, &rows, NULL, &e) == NC_OK && rows == 5,
          "import of the export: %s", e.msg);
    p = (progress_log){0};
    f = fopen(out2, "w");
    CHECK(store_export_csv(s2, f, on_progress, &p, &n, &e) == NC_OK && n == 5, "%s", e.msg);
    fclose(f);
    CHECK(p.done == 5 && p.total == 5, "export progress");
    char *a = slurp(out1), *b = slurp(out2);
    CHECK(a && b && !strcmp(a, b), "round trip is exact:\n%s---\n%s", a, b);
    CHECK(a && !strncmp(a, "user,item,timestamp,type\nu1,i1,100,view\n", 40), "header and order: %s", a);
    free(a);
    free(b);
    store_close(s2);

    write_file(in, "u1,i1,1\nu2,i\"x,2\n");
    CHECK(store_import_file(s, in, NULL, NULL, NULL, &rows, NULL, &e) == NC_EINVAL &&
          strstr(e.msg, in) && strstr(e.msg, "0x22") && rows == 0, "bad id refused: %s", e.msg);
    write_file(in, "u1,i1,1\nu2,i2,-7\n");
    CHECK(store_import_file(s, in, NULL, NULL, NULL, &rows, NULL, &e) == NC_EINVAL &&
          strstr(e.msg, "-7"), "bad timestamp refused: %s", e.msg);
    CHECK(stats_of(s).interactions == 5, "a refused file changes nothing");
    store_close(s);
    tdir_free(&t);
}

/* A store of the schema before types (an older daemon's file, rows in it) migrates on open
 * with every row typed "view"; typed appends are stored, snapshot with their weights, exported
 * and imported back with their types (nothing else tells a purchase from a view), and an
 * import's unknown type is refused naming the line and the allowed set. */
static void test_feedback_types_stored(void) {
    tdir t;
    tdir_make(&t, "store");
    sqlite3 *db = NULL;
    CHECK(sqlite3_open(t.db, &db) == SQLITE_OK, "create");
    for (int m = 0; m < 3; m++)
        CHECK(sqlite3_exec(db, sql_migrations[m].sql, NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    CHECK(sqlite3_exec(db, "PRAGMA user_version = 3; INSERT INTO users (id, ext) VALUES (1, 'old');"
                           "INSERT INTO items (id, ext, pop) VALUES (1, 'i0', 1);"
                           "INSERT INTO interactions (seq, user_id, item_id, ts) VALUES (1, 1, 1, 5);"
                           "UPDATE counters SET last_seq = 1, n_interactions = 1, n_users = 1, n_items = 1",
                       NULL, NULL, NULL) == SQLITE_OK, "%s", sqlite3_errmsg(db));
    sqlite3_close(db);
    nc_store *s = open_or_die(t.db, NULL);
    CHECK(db_int(t.db, "SELECT count(*) FROM interactions WHERE type = 'view'") == 1, "the old row is a view");
    store_event ev[] = {{"u1", "i1", 10, "purchase"}, {"u1", "i2", 11, NULL}, {"u1", "i1", 12, "view"},
                        {"u2", "i2", 13, "dislike"}};
    store_append_result res;
    nc_err e;
    CHECK(store_append(s, ev, 4, NULL, &res, &e) == NC_OK, "%s", e.msg);
    CHECK(db_int(t.db, "SELECT count(*) FROM interactions WHERE type = 'purchase'") == 1 &&
          db_int(t.db, "SELECT count(*) FROM interactions WHERE type = 'view'") == 3, "types stored");
    store_event bad = {"u1", "i1", 1, "no such"};
    CHECK(store_append(s, &bad, 1, NULL, &res, &e) == NC_EINVAL && strstr(e.msg, "type 'no such'"), "%s", e.msg);
    nc_feedback_types ft;
    CHECK(nc_feedback_parse("view=1,purchase=3,dislike=0", &ft, &e) == NC_OK, "%s", e.msg);
    nc_idmap users, items;
    nc_interactions x;
    nc_idmap_init(&users);
    nc_idmap_init(&items);
    nc_inter_init(&x);
    int64_t wm;
    CHECK(store_snapshot_weighted(s, &ft, &users, &items, &x, &wm, &e) == NC_OK && x.n == 5 && x.w, "%s", e.msg);
    CHECK(x.w && x.w[0] == 1 && x.w[1] == 3 && x.w[2] == 1 && x.w[3] == 1 && x.w[4] == 0, "weights by type");
    char out[256], in[256];
    snprintf(out, sizeof out, "%s/typed.csv", t.dir);
    FILE *f = fopen(out, "w");
    int64_t n = 0;
    CHECK(f && store_export_csv(s, f, NULL, NULL, &n, &e) == NC_OK && n == 5, "export: %s", e.msg);
    if (f) fclose(f);
    char *a = slurp(out);
    CHECK(a && strstr(a, "u1,i1,10,purchase\n") && strstr(a, "u2,i2,13,dislike\n"), "export: %s", a);
    nc_load_opts lo;
    nc_load_opts_default(&lo);
    lo.weight_col = 3;
    lo.types = &ft;
    lo.type_index = 1;
    lo.weight_missing = 0; /* view */
    char db2[256];
    snprintf(db2, sizeof db2, "%s/second.db", t.dir);
    nc_store *s2 = open_or_die(db2, NULL);
    int64_t rows = 0;
    CHECK(store_import_file(s2, out, &lo, NULL, NULL, &rows, NULL, &e) == NC_OK && rows == 5, "import: %s", e.msg);
    CHECK(db_int(db2, "SELECT count(*) FROM interactions WHERE type = 'purchase' AND ts = 10") == 1 &&
          db_int(db2, "SELECT count(*) FROM interactions WHERE type = 'dislike'") == 1 &&
          db_int(db2, "SELECT count(*) FROM interactions WHERE type = 'view'") == 3, "types imported");
    snprintf(in, sizeof in, "%s/bad.csv", t.dir);
    write_file(in, "u1,i1,1,view\nu2,i2,2,click\n");
    CHECK(store_import_file(s2, in, &lo, NULL, NULL, &rows, NULL, &e) == NC_EINVAL &&
          strstr(e.msg, "bad.csv:2: unknown feedback type 'click'") && strstr(e.msg, "allowed: view=1"), "%s", e.msg);
    free(a);
    store_close(s2);
    store_close(s);
    nc_inter_free(&x);
    nc_idmap_free(&users);
    nc_idmap_free(&items);
    tdir_free(&t);
}

/* ==== popularity ======================================================================== */

static void test_popular_order(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.popular_refresh_ms = 0;
    o.popular_cache_k = 3;
    nc_store *s = open_or_die(t.db, &o);
    store_event ev[] = {
        {"a", "w", 1, NULL}, {"a", "x", 1, NULL}, {"b", "x", 1, NULL}, {"c", "x", 1, NULL}, {"b", "y", 1, NULL},
        {"c", "y", 1, NULL}, {"a", "z", 1, NULL}, {"a", "z", 1, NULL}, {"a", "z", 1, NULL}, {"b", "v", 1, NULL},
    };
    nc_err e;
    CHECK(store_append(s, ev, sizeof ev / sizeof *ev, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    store_items it;
    CHECK(store_popular(s, 2, &it, &e) == NC_OK && it.n == 2, "k=2: n=%zu", it.n);
    CHECK(it.n == 2 && !strcmp(it.ids[0], "x") && it.counts[0] == 3 && !strcmp(it.ids[1], "y") &&
          it.counts[1] == 2, "most distinct users first");
    store_items_free(&it);
    CHECK(store_popular(s, 10, &it, &e) == NC_OK && it.n == 3, "capped at popular_cache_k");
    CHECK(it.n == 3 && !strcmp(it.ids[2], "w") && it.counts[2] == 1,
          "ties by first seen (w before z and v), repeats count once: %s",
          it.n == 3 ? it.ids[2] : "?");
    store_items_free(&it);
    store_event more[] = {{"d", "z", 1, NULL}, {"e", "z", 1, NULL}, {"f", "z", 1, NULL}};
    CHECK(store_append(s, more, 3, NULL, NULL, &e) == NC_OK, "%s", e.msg);
    CHECK(store_popular(s, 1, &it, &e) == NC_OK && it.n == 1 && !strcmp(it.ids[0], "z") &&
          it.counts[0] == 4, "refreshed ranking");
    store_items_free(&it);
    CHECK(store_popular(s, 0, &it, &e) == NC_OK && it.n == 0, "k=0");
    store_items_free(&it);
    store_close(s);
    tdir_free(&t);
}

/* ==== WAL =============================================================================== */

static void test_wal_stays_bounded(void) {
    tdir t;
    tdir_make(&t, "store");
    store_opts o;
    store_opts_default(&o);
    o.sync_full = 0;
    o.wal_max_bytes = 64 << 10;
    o.wal_checkpoint_pages = 100000; /* leave it all to the bound */
    o.max_batch = 100;
    nc_store *s = open_or_die(t.db, &o);
    char ids[100][64]; /* room for any int, so -Wformat-truncation stays quiet at every -O */
    store_event ev[100];
    int over = 0;
    nc_err e;
    for (int k = 0; k < 40; k++) {
        for (int j = 0; j < 100; j++) {
            snprintf(ids[j], sizeof ids[j], "user-%d-item-%d-padding-padding", k, j);
            ev[j] = (store_event){ids[j], ids[j], 1, NULL};
        }
        if (store_append(s, ev, 100, NULL, NULL, &e)) {
            CHECK(0, "%s", e.msg);
            break;
        }
        store_stats st = stats_of(s);
        over += st.wal_bytes > o.wal_max_bytes;
    }
    store_stats st = stats_of(s);
    CHECK(over == 0 && st.checkpoints > 0, "WAL over the bound %d times, %llu checkpoints", over,
          (unsigned long long)st.checkpoints);
    CHECK(st.interactions == 4000, "rows: %lld", (long long)st.interactions);
    store_close(s);
    tdir_free(&t);
}

static void test_check_id(void) {
    nc_err e;
    CHECK(store_check_id("user", "u-1_ok.x", &e) == NC_OK, "plain");
    CHECK(store_check_id("user", "\xe2\x82\xac", &e) == NC_OK, "euro sign");
    CHECK(store_check_id("user", "\xc0\xaf", &e) == NC_EINVAL, "overlong UTF-8");
    CHECK(store_check_id("user", "\xed\xa0\x80", &e) == NC_EINVAL, "surrogate");
    CHECK(store_check_id("item", "a\x7f", &e) == NC_EINVAL && strstr(e.msg, "item"), "DEL");
    CHECK(store_check_id("item", "trailing ", &e) == NC_EINVAL, "trailing space");
}

int main(void) {
    RUN(test_migrations_fresh_and_reopen);
    RUN(test_migrate_v1_and_model_versions);
    RUN(test_retrain_history);
    RUN(test_foreign_and_newer_files_refused);
    RUN(test_schema_sql_matches_migrations);
    RUN(test_embedded_sql_matches_files);
    RUN(test_append_and_read_back);
    RUN(test_batch_is_all_or_nothing);
    RUN(test_idempotency_key_replays);
    RUN(test_delete_user);
    RUN(test_async_append_and_delete);
    RUN(test_snapshot_and_watermark);
    RUN(test_concurrent_appends_all_present);
    RUN(test_group_commit_groups);
    RUN(test_failing_job_does_not_poison_group);
    RUN(test_job_failing_midway_rolls_back_alone);
    RUN(test_group_counters_match_tables);
    RUN(test_full_database_clear_error);
    RUN(test_read_only_file_clear_error);
    RUN(test_unwritable_directory_clear_error);
    RUN(test_import_export_round_trip);
    RUN(test_feedback_types_stored);
    RUN(test_popular_order);
    RUN(test_wal_stays_bounded);
    RUN(test_check_id);
    return TEST_REPORT();
}
