/* sql_embed.h - the store's schema migrations, compiled into the binary.
 *
 * sql/migrations/NNNN_name.sql are turned into string literals in server/store/sql_embed.c by
 * tools/embed_sql.sh, so the daemon needs no SQL files at run time. Migration i (0-based) has
 * version i + 1; store_open applies every version above the database's PRAGMA user_version, in
 * order, each in its own transaction. Constant data: no ownership, thread-safe. */
#ifndef NCLREC_SQL_EMBED_H
#define NCLREC_SQL_EMBED_H

typedef struct sql_migration {
    int version;      /* 1, 2, ... = the NNNN of the file name */
    const char *name; /* file name, e.g. "0001_init.sql" */
    const char *sql;  /* the file's exact content */
} sql_migration;

extern const sql_migration sql_migrations[];
extern const int sql_n_migrations;

#endif
