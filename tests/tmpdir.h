/* tmpdir.h - a scratch directory per test with a store path in it, removed with everything
 * inside, and a store opened there (tests that open a store: test_store, test_store_seen).
 * Header-only, for tests/. */
#ifndef NCLREC_TESTS_TMPDIR_H
#define NCLREC_TESTS_TMPDIR_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "store/store.h"

typedef struct tdir {
    char dir[64];
    char db[128]; /* dir/nclrec.db */
} tdir;

/* Creates /tmp/nclrec_<tag>_XXXXXX; exits the test binary when it cannot. */
static inline void tdir_make(tdir *t, const char *tag) {
    snprintf(t->dir, sizeof t->dir, "/tmp/nclrec_%.20s_XXXXXX", tag);
    if (!mkdtemp(t->dir)) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(t->db, sizeof t->db, "%s/nclrec.db", t->dir);
}

static inline int tdir_rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
    (void)st, (void)flag, (void)f;
    return remove(p);
}

static inline void tdir_free(tdir *t) { nftw(t->dir, tdir_rm_one, 8, FTW_DEPTH | FTW_PHYS); }

/* The store at path with options o (NULL: defaults); exits the test binary when it cannot be
 * opened, saying why. The caller closes it. */
static inline nc_store *open_or_die(const char *path, const store_opts *o) {
    nc_store *s = NULL;
    nc_err e;
    if (store_open(path, o, &s, &e)) {
        fprintf(stderr, "store_open %s: %s\n", path, e.msg);
        exit(1);
    }
    return s;
}

#endif
