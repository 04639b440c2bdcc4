/* ingest_loop.c - the baseline of the durable-ingest benchmark (bench/bench_serve.sh): the
 * plainest durable writer there is, one INSERT per transaction into a SQLite file with the
 * store's durability pragmas (journal_mode=WAL, synchronous=FULL), for a fixed time.
 *
 * Every COMMIT here waits for one fsync of the write-ahead log for one row; the daemon's
 * writer thread commits every queued request in one transaction (group commit). Both are
 * durable when acknowledged; the ratio of their rows per second is what group commit buys.
 * The table has the shape of the store's interaction log (an integer key, user and item, a
 * timestamp, an index on (user, item)); ids are text here, interned to integers there.
 *
 *   ingest_loop DB_FILE SECONDS [MAX_ROWS]
 * DB_FILE must not exist (it is created; put it on the file system the daemon writes to).
 * Prints one line: ingest_loop rows=N seconds=S rows_per_s=R commit_ms_mean=C db=DB_FILE
 * (C: mean time of one COMMIT, i.e. of the WAL write and its fsync).
 * Exit status 0, 1 on a database error (the message names the statement), 2 on bad usage. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "common.h"

/* A failed statement ends the run: the message says which statement and why. */
static int db_fail(sqlite3 *db, const char *what, nc_err *e) {
    return nc_fail(e, NC_EIO, "%s: %s", what, sqlite3_errmsg(db));
}

/* Runs one statement that returns no rows we need. */
static int exec(sqlite3 *db, const char *sql, nc_err *e) {
    return sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK ? NC_OK : db_fail(db, sql, e);
}

/* The store's durability settings, checked: a file system without shared memory would
 * silently fall back to another journal mode and measure something else. */
static int open_durable(const char *path, sqlite3 **db, nc_err *e) {
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path, db, flags, NULL) != SQLITE_OK) return db_fail(*db, path, e);
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(*db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(st);
    int wal = rc == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 0), "wal");
    sqlite3_finalize(st);
    if (!wal) return nc_fail(e, NC_EIO, "%s: journal_mode WAL was refused", path);
    if (exec(*db, "PRAGMA synchronous = FULL", e) != NC_OK) return e->code;
    if (exec(*db, "PRAGMA wal_autocheckpoint = 1000", e) != NC_OK) return e->code;
    return exec(*db,
                "CREATE TABLE interactions (seq INTEGER PRIMARY KEY, user TEXT NOT NULL, "
                "item TEXT NOT NULL, ts INTEGER NOT NULL);"
                "CREATE INDEX interactions_user_item ON interactions (user, item);",
                e);
}

/* One durable row: BEGIN, INSERT, COMMIT (the fsync). Distinct (user, item) per row.
 * *commit_s grows by the time COMMIT took: what the disk's flush costs here. */
static int insert_one(sqlite3 *db, sqlite3_stmt *ins, long row, double *commit_s, nc_err *e) {
    char user[32], item[32];
    snprintf(user, sizeof user, "loop-%ld", row / 1000);
    snprintf(item, sizeof item, "%ld", row % 1000);
    if (exec(db, "BEGIN", e) != NC_OK) return e->code;
    sqlite3_bind_text(ins, 1, user, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ins, 2, item, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(ins, 3, (sqlite3_int64)nc_wall_time());
    int rc = sqlite3_step(ins);
    sqlite3_reset(ins);
    if (rc != SQLITE_DONE) return db_fail(db, "INSERT INTO interactions", e);
    double t0 = nc_now();
    rc = exec(db, "COMMIT", e);
    *commit_s += nc_now() - t0;
    return rc;
}

/* Inserts until seconds have passed or max_rows rows are in; *rows, *elapsed and *commit_s
 * (time spent in COMMIT) get the figures of the rows that were committed. */
static int run(sqlite3 *db, double seconds, long max_rows, long *rows, double *elapsed, double *commit_s,
               nc_err *e) {
    sqlite3_stmt *ins = NULL;
    if (sqlite3_prepare_v2(db, "INSERT INTO interactions (user, item, ts) VALUES (?, ?, ?)", -1, &ins,
                           NULL) != SQLITE_OK)
        return db_fail(db, "prepare INSERT", e);
    double t0 = nc_now();
    int rc = NC_OK;
    *rows = 0;
    *commit_s = 0;
    while (rc == NC_OK && *rows < max_rows && nc_now() - t0 < seconds) {
        rc = insert_one(db, ins, *rows, commit_s, e);
        if (rc == NC_OK) (*rows)++;
    }
    *elapsed = nc_now() - t0;
    sqlite3_finalize(ins);
    return rc;
}

int main(int argc, char **argv) {
    if (argc < 3 || argc > 4 || atof(argv[2]) <= 0 || (argc == 4 && atol(argv[3]) <= 0)) {
        fprintf(stderr, "usage: ingest_loop DB_FILE SECONDS [MAX_ROWS]\n");
        return 2;
    }
    if (access(argv[1], F_OK) == 0) {
        fprintf(stderr, "ingest_loop: %s exists; give a new file\n", argv[1]);
        return 2;
    }
    nc_err e = {0};
    sqlite3 *db = NULL;
    long rows = 0;
    double elapsed = 0, commit_s = 0;
    int rc = open_durable(argv[1], &db, &e);
    if (rc == NC_OK) rc = run(db, atof(argv[2]), argc == 4 ? atol(argv[3]) : 1L << 40, &rows, &elapsed, &commit_s, &e);
    if (sqlite3_close(db) != SQLITE_OK && rc == NC_OK) rc = db_fail(db, "close", &e);
    if (rc != NC_OK) {
        fprintf(stderr, "ingest_loop: %s\n", e.msg);
        return 1;
    }
    printf("ingest_loop rows=%ld seconds=%.2f rows_per_s=%.1f commit_ms_mean=%.3f db=%s\n", rows, elapsed,
           elapsed > 0 ? (double)rows / elapsed : 0.0, rows ? commit_s * 1e3 / (double)rows : 0.0, argv[1]);
    return 0;
}
