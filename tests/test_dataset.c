/* test_dataset.c - id maps, the three file formats, header detection, de-duplication, every
 * kind of bad input (with the file and line in the message), CSV round trip and the per-user
 * split (RecBole's counts, determinism for a seed). Files are written into a mkdtemp dir. */
#include "dataset.h"
#include "testhelp.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[64];

/* Writes len bytes of data to tmpdir/name and returns the path (static buffer per call site
 * is not enough when two paths are alive, so the caller passes one). */
static const char *put_file(char *path, size_t cap, const char *name, const char *data,
                            size_t len) {
    snprintf(path, cap, "%s/%s", tmpdir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        fprintf(stderr, "cannot write %s\n", path);
        exit(2);
    }
    return path;
}

#define PUT(path, name, str) put_file(path, sizeof path, name, str, strlen(str))

typedef struct loaded {
    nc_idmap users, items;
    nc_interactions x;
} loaded;

static void ld_init(loaded *l) {
    nc_idmap_init(&l->users);
    nc_idmap_init(&l->items);
    nc_inter_init(&l->x);
}

static void ld_free(loaded *l) {
    nc_idmap_free(&l->users);
    nc_idmap_free(&l->items);
    nc_inter_free(&l->x);
}

static int load(loaded *l, const char *path, nc_format fmt, nc_err *e) {
    return nc_load_file(path, fmt, &l->users, &l->items, &l->x, e);
}

/* True when row r is (user id string, item id string, ts). */
static int row_is(const loaded *l, size_t r, const char *u, const char *i, int64_t ts) {
    return r < l->x.n && strcmp(l->users.ids[l->x.user[r]], u) == 0 &&
           strcmp(l->items.ids[l->x.item[r]], i) == 0 && l->x.ts[r] == ts;
}

/* ==== id map ============================================================================ */

static void test_idmap_round_trip(void) {
    nc_idmap m, c;
    nc_idmap_init(&m);
    nc_idmap_init(&c);
    nc_err e;
    char buf[32];
    int ok = 1;
    for (int k = 0; k < 5000; k++) {
        int n = snprintf(buf, sizeof buf, "%d", k * 7919 % 100003);
        int32_t id = -2;
        ok &= nc_idmap_intern(&m, buf, (size_t)n, &id, &e) == NC_OK && id == k;
    }
    CHECK(ok && m.n == 5000, "5000 distinct ids get 0..4999 in order (n=%zu)", m.n);
    for (int k = 0; k < 5000; k++) {
        int n = snprintf(buf, sizeof buf, "%d", k * 7919 % 100003);
        int32_t id = -2;
        ok &= nc_idmap_find(&m, buf, (size_t)n) == k && strcmp(m.ids[k], buf) == 0;
        ok &= nc_idmap_intern(&m, buf, (size_t)n, &id, &e) == NC_OK && id == k;
    }
    CHECK(ok && m.n == 5000, "find and re-intern give the same ids, nothing added");
    CHECK(nc_idmap_find(&m, "nope", 4) == -1, "absent id");
    CHECK(nc_idmap_find(&m, "7919xyz", 4) == 1, "length-limited lookup of '7919'");
    int32_t id;
    CHECK(nc_idmap_intern(&m, "", 0, &id, &e) == NC_EINVAL && strstr(e.msg, "empty"), "empty");
    char longid[NC_MAX_ID_LEN + 2];
    memset(longid, 'x', sizeof longid);
    CHECK(nc_idmap_intern(&m, longid, NC_MAX_ID_LEN + 1, &id, &e) == NC_EINVAL, "too long");
    CHECK(nc_idmap_intern(&m, longid, NC_MAX_ID_LEN, &id, &e) == NC_OK && id == 5000, "max len");
    CHECK(nc_idmap_intern(&m, "a\0b", 3, &id, &e) == NC_EINVAL, "NUL inside");
    CHECK(nc_idmap_copy(&c, &m, &e) == NC_OK && c.n == m.n, "copy");
    nc_idmap_free(&m);
    CHECK(m.n == 0 && m.ids == NULL && nc_idmap_find(&m, "1", 1) == -1, "freed map is empty");
    CHECK(nc_idmap_find(&c, "7919", 4) == 1 && strcmp(c.ids[1], "7919") == 0, "copy independent");
    nc_idmap_free(&c);
}

/* ==== formats =========================================================================== */

static void test_load_csv_header_crlf_blank_extra(void) {
    char p[256];
    PUT(p, "a.csv", "user,item,timestamp\r\nu1,i1,100\r\n\r\n  \nu2 , i2 ,200,extra,more\nu1,"
                    "\"i 3\",300.75\nu3,i1\n");
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK, "%s", e.msg);
    CHECK(l.x.n == 4, "4 rows (header and blank lines skipped), got %zu", l.x.n);
    CHECK(row_is(&l, 0, "u1", "i1", 100), "row 0");
    CHECK(row_is(&l, 1, "u2", "i2", 200), "row 1: fields trimmed, extra columns ignored");
    CHECK(row_is(&l, 2, "u1", "i 3", 300), "row 2: quotes removed, fraction truncated");
    CHECK(row_is(&l, 3, "u3", "i1", 0), "row 3: no timestamp column gives 0");
    CHECK(l.users.n == 3 && l.items.n == 3, "3 users, 3 items");
    CHECK(l.x.n == 4 && l.x.user[0] == l.x.user[2], "same user, same internal id");
    ld_free(&l);
}

static void test_load_tsv_recbole_header_and_rating_filter(void) {
    char p[256];
    PUT(p, "a.inter", "user_id:token\titem_id:token\trating:float\ttimestamp:float\n"
                      "1\t10\t5\t881250949\n1\t11\t2\t881250950\n2\t10\t3\t881250951\n");
    nc_load_opts o;
    nc_load_opts_default(&o);
    o.rating_col = 2;
    o.ts_col = 3;
    o.min_rating = 3;
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(nc_load_file_opts(p, &o, &l.users, &l.items, &l.x, &e) == NC_OK, "%s", e.msg);
    CHECK(l.x.n == 2, "rating 2 filtered out, header skipped: %zu rows", l.x.n);
    CHECK(l.items.n == 1 && nc_idmap_find(&l.items, "11", 2) < 0, "a filtered row adds no id");
    CHECK(row_is(&l, 0, "1", "10", 881250949) && row_is(&l, 1, "2", "10", 881250951), "rows");
    ld_free(&l);
    /* the same file with default options: column 2 taken as the timestamp */
    PUT(p, "b.tsv", "1\t10\t5\t881250949\n2\t11\t2\t881250950\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK, "%s", e.msg);
    CHECK(l.x.n == 2 && row_is(&l, 1, "2", "11", 2), "no header: first line is data");
    ld_free(&l);
}

static void test_load_adjacency_several_lines_per_user(void) {
    char p[256];
    PUT(p, "train.txt", "0 1 2 3\n1 4\n0 5 \n7\n1\t6  8\n");
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK, "%s", e.msg);
    CHECK(l.x.n == 7, "7 rows, got %zu", l.x.n);
    CHECK(row_is(&l, 0, "0", "1", 0) && row_is(&l, 3, "1", "4", 0) &&
              row_is(&l, 4, "0", "5", 0) && row_is(&l, 6, "1", "8", 0),
          "rows in file order, user 0 on two lines");
    CHECK(l.users.n == 3 && nc_idmap_find(&l.users, "7", 1) == 2, "user-only line adds the user");
    CHECK(l.items.n == 7, "7 items");
    ld_free(&l);
}

static void test_format_detection_and_forcing(void) {
    char p[256];
    PUT(p, "mixed.txt", "a b,c\n");
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && row_is(&l, 0, "a b", "c", 0),
          "comma beats space: CSV");
    ld_free(&l);
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_ADJ, &e) == NC_OK && row_is(&l, 0, "a", "b,c", 0), "forced ADJ");
    ld_free(&l);
    PUT(p, "tab.txt", "a,b\tc\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && row_is(&l, 0, "a,b", "c", 0), "tab: TSV");
    ld_free(&l);
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_CSV, &e) == NC_OK && row_is(&l, 0, "a", "b\tc", 0), "forced CSV");
    ld_free(&l);
    PUT(p, "csv.txt", "u1,i1\nu2,i2\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_TSV, &e) == NC_EINVAL && strstr(e.msg, "csv.txt:1:"),
          "forced TSV on a CSV file: %s", e.msg);
    ld_free(&l);
    /* a leading user-only adjacency line is not enough to decide; the next line is */
    PUT(p, "adj.txt", "9\n3 4\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && l.x.n == 1 && l.users.n == 2, "%s", e.msg);
    ld_free(&l);
}

static void test_header_detection(void) {
    char p[256];
    loaded l;
    nc_err e;
    PUT(p, "h1.csv", "u1,i1,notanumber\nu2,i2,5\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && l.x.n == 1 && row_is(&l, 0, "u2", "i2", 5),
          "non-numeric timestamp on line 1 is a header");
    ld_free(&l);
    PUT(p, "h2.csv", "UserID,ItemID\nu2,i2\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && l.x.n == 1, "UserID header");
    ld_free(&l);
    PUT(p, "bom.csv", "\xef\xbb\xbfuser_id,item_id\nu2,i2\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && l.x.n == 1 && row_is(&l, 0, "u2", "i2", 0),
          "a UTF-8 byte order mark is skipped before the header");
    ld_free(&l);
    PUT(p, "h3.csv", "usr,itm\nu2,i2\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && l.x.n == 2 && row_is(&l, 0, "usr", "itm", 0),
          "an unknown first line is data");
    ld_free(&l);
    PUT(p, "h4.csv", "u1,i1,5\nu2,i2,x\n");
    ld_init(&l);
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_EINVAL && strstr(e.msg, "h4.csv:2:") &&
              strstr(e.msg, "timestamp"),
          "a bad timestamp after line 1 is an error: %s", e.msg);
    ld_free(&l);
}

static void test_shared_maps_across_files(void) {
    char a[256], b[256];
    PUT(a, "train.csv", "u1,i1\nu2,i2\n");
    PUT(b, "test.csv", "u2,i1\nu3,i3\n");
    loaded l;
    ld_init(&l);
    nc_interactions t;
    nc_inter_init(&t);
    nc_err e;
    CHECK(load(&l, a, NC_FMT_AUTO, &e) == NC_OK, "%s", e.msg);
    CHECK(nc_load_file(b, NC_FMT_AUTO, &l.users, &l.items, &t, &e) == NC_OK, "%s", e.msg);
    CHECK(t.n == 2 && t.user[0] == l.x.user[1] && t.item[0] == l.x.item[0], "ids agree");
    CHECK(l.users.n == 3 && l.items.n == 3 && t.user[1] == 2 && t.item[1] == 2, "new ids appended");
    nc_inter_free(&t);
    ld_free(&l);
}

static void test_dedup_keeps_first(void) {
    nc_interactions x;
    nc_inter_init(&x);
    nc_err e;
    const int32_t u[] = {0, 1, 0, 2, 1, 0, 0, -1, -1}, i[] = {5, 5, 5, 7, 5, 6, 5, -1, -1};
    for (int k = 0; k < 9; k++) CHECK(nc_inter_push(&x, u[k], i[k], k, &e) == NC_OK, "push");
    size_t gone = nc_inter_dedup(&x, &e);
    CHECK(gone == 4 && x.n == 5, "4 repeats removed (%zu), %zu left", gone, x.n);
    const int32_t eu[] = {0, 1, 2, 0, -1}, ei[] = {5, 5, 7, 6, -1};
    const int64_t et[] = {0, 1, 3, 5, 7};
    for (size_t k = 0; k < 5 && k < x.n; k++)
        CHECK(x.user[k] == eu[k] && x.item[k] == ei[k] && x.ts[k] == et[k], "row %zu", k);
    CHECK(nc_inter_dedup(&x, &e) == 0 && x.n == 5, "idempotent");
    /* a larger case against a quadratic count */
    nc_inter_free(&x);
    nc_rng r;
    nc_rng_seed(&r, 7);
    for (int k = 0; k < 3000; k++)
        nc_inter_push(&x, (int32_t)nc_rng_below(&r, 40), (int32_t)nc_rng_below(&r, 60), k, &e);
    size_t distinct = 0;
    for (size_t a = 0; a < x.n; a++) {
        int first = 1;
        for (size_t b = 0; b < a && first; b++)
            first = !(x.user[a] == x.user[b] && x.item[a] == x.item[b]);
        distinct += first;
    }
    gone = nc_inter_dedup(&x, &e);
    CHECK(x.n == distinct && gone == 3000 - distinct, "%zu distinct, got %zu", distinct, x.n);
    int sorted = 1;
    for (size_t k = 1; k < x.n; k++) sorted &= x.ts[k] > x.ts[k - 1];
    CHECK(sorted, "order of first occurrences kept");
    nc_inter_free(&x);
}

static void test_loaded_duplicates_merge(void) {
    char p[256];
    PUT(p, "dups.txt", "0 1 2 1\n0 2 3\n");
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(load(&l, p, NC_FMT_AUTO, &e) == NC_OK && l.x.n == 5, "loading keeps repeats");
    CHECK(nc_inter_dedup(&l.x, &e) == 2 && l.x.n == 3, "dedup merges them: %zu", l.x.n);
    ld_free(&l);
}

/* ==== bad input ========================================================================= */

/* Loads path expecting failure with code and a message holding every needle; checks that the
 * maps and rows were left as they were. */
static void expect_fail(const char *path, nc_format fmt, int code, const char *n1,
                        const char *n2) {
    loaded l;
    ld_init(&l);
    nc_err e;
    int32_t id;
    nc_idmap_intern(&l.users, "keep", 4, &id, &e);
    nc_inter_push(&l.x, 0, 0, 1, &e);
    nc_err_clear(&e);
    int rc = load(&l, path, fmt, &e);
    CHECK(rc == code, "%s: rc %d, expected %d (%s)", path, rc, code, e.msg);
    CHECK(e.code == code, "e.code %d", e.code);
    CHECK(strstr(e.msg, n1) != NULL, "message '%s' lacks '%s'", e.msg, n1);
    CHECK(!n2 || strstr(e.msg, n2) != NULL, "message '%s' lacks '%s'", e.msg, n2);
    CHECK(l.users.n == 1 && l.items.n == 0 && l.x.n == 1, "state restored: %zu users %zu items "
          "%zu rows", l.users.n, l.items.n, l.x.n);
    CHECK(nc_idmap_find(&l.users, "keep", 4) == 0, "old id still found");
    ld_free(&l);
}

static void test_bad_files(void) {
    char p[256];
    snprintf(p, sizeof p, "%s/missing.csv", tmpdir);
    expect_fail(p, NC_FMT_AUTO, NC_EIO, "missing.csv", "No such file");
    expect_fail(tmpdir, NC_FMT_AUTO, NC_EIO, tmpdir, "directory");
    expect_fail(put_file(p, sizeof p, "empty.csv", "", 0), NC_FMT_AUTO, NC_EINVAL, "empty.csv",
                "empty");
    expect_fail(PUT(p, "blank.csv", "\n  \r\n\n"), NC_FMT_AUTO, NC_EINVAL, "blank.csv", "empty");
    expect_fail(PUT(p, "header.csv", "user,item,timestamp\n"), NC_FMT_AUTO, NC_EINVAL,
                "header.csv", "no interactions");
    expect_fail(put_file(p, sizeof p, "nul.csv", "u1,i1\nu2\0,i2\n", 13), NC_FMT_AUTO, NC_EINVAL,
                "nul.csv:2:", "not a text file");
    expect_fail(put_file(p, sizeof p, "bin.csv", "\x01\x02\x03\x04", 4), NC_FMT_AUTO, NC_EINVAL,
                "bin.csv:1:", "not a text file");
    expect_fail(put_file(p, sizeof p, "a.csv.xz", "\xfd" "7zXZ\0\0\x04\xe6", 8), NC_FMT_AUTO,
                NC_EINVAL, "a.csv.xz", "xz-compressed");
    expect_fail(PUT(p, "few.csv", "u1,i1\nu2,i2\nu3\n"), NC_FMT_AUTO, NC_EINVAL, "few.csv:3:",
                "2 CSV fields");
    expect_fail(PUT(p, "one.txt", "u1\nu2\n"), NC_FMT_AUTO, NC_EINVAL, "one.txt:1:",
                "one field");
    expect_fail(PUT(p, "eu.csv", "u1,i1\n,i2\n"), NC_FMT_AUTO, NC_EINVAL, "eu.csv:2:",
                "empty user id");
    expect_fail(PUT(p, "ei.tsv", "u1\ti1\nu2\t \t5\n"), NC_FMT_AUTO, NC_EINVAL, "ei.tsv:2:",
                "empty item id");
    expect_fail(PUT(p, "ts.csv", "u1,i1,100\nu2,i2,1e9\n"), NC_FMT_AUTO, NC_EINVAL, "ts.csv:2:",
                "bad timestamp");
    expect_fail(PUT(p, "ts2.csv", "u1,i1,100\nu2,i2,\n"), NC_FMT_AUTO, NC_EINVAL, "ts2.csv:2:",
                "bad timestamp");
    expect_fail(PUT(p, "ts3.csv", "u1,i1,100\nu2,i2,99999999999999999999\n"), NC_FMT_AUTO,
                NC_EINVAL, "ts3.csv:2:", "bad timestamp");
}

/* Past the first 1 MiB chunk the line parser itself must catch binary bytes, and count lines
 * across chunk boundaries. */
static void test_bad_byte_after_first_chunk(void) {
    enum { LINES = 200000 };
    char p[256];
    size_t n = LINES * 6;
    char *s = malloc(n + 32);
    for (size_t k = 0; k < LINES; k++) memcpy(s + 6 * k, "u1,i1\n", 6);
    memcpy(s + n, "u2,\x01i2\nu3,i3 \n", 14);
    put_file(p, sizeof p, "late.csv", s, n + 14);
    expect_fail(p, NC_FMT_AUTO, NC_EINVAL, "late.csv:200001:", "byte 0x01 at column 4");
    memcpy(s + n, "u2,i2\r\nu3 ,i3\n", 14); /* the same file, clean */
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(load(&l, put_file(p, sizeof p, "late.csv", s, n + 14), NC_FMT_AUTO, &e) == NC_OK &&
              l.x.n == LINES + 2 && row_is(&l, LINES + 1, "u3", "i3", 0),
          "%s", e.msg);
    ld_free(&l);
    free(s);
}

static void test_bad_ids_and_long_lines(void) {
    char p[256];
    size_t big = NC_MAX_ID_LEN + 1;
    char *s = malloc(big + 64);
    memcpy(s, "u1 i1\nu2 ", 9);
    memset(s + 9, 'x', big);
    memcpy(s + 9 + big, "\n", 2);
    expect_fail(PUT(p, "longid.txt", s), NC_FMT_AUTO, NC_EINVAL, "longid.txt:2:",
                "item id of 257 bytes is longer than 256");
    s[9 + big - 1] = '\n'; /* exactly NC_MAX_ID_LEN bytes is fine */
    s[9 + big] = '\0';
    loaded l;
    ld_init(&l);
    nc_err e;
    CHECK(load(&l, PUT(p, "maxid.txt", s), NC_FMT_AUTO, &e) == NC_OK && l.x.n == 2, "%s", e.msg);
    ld_free(&l);
    free(s);
    /* a line just over the limit, after a normal one, in a file read in several chunks */
    size_t n = (size_t)NC_MAX_LINE_LEN + 16;
    s = malloc(n + 32);
    size_t k = (size_t)sprintf(s, "u1 i1\n");
    while (k < n) k += (size_t)sprintf(s + k, "u %s", "");
    s[k++] = '\n';
    put_file(p, sizeof p, "longline.txt", s, k);
    expect_fail(p, NC_FMT_AUTO, NC_EINVAL, "longline.txt:2:", "line longer than");
    free(s);
}

/* As root a chmod 000 file is still readable, so the load runs in a child as "nobody". */
static void test_unreadable_file(void) {
    char p[256];
    PUT(p, "noperm.csv", "u1,i1\n");
    CHECK(chmod(p, 0) == 0 && chmod(tmpdir, 0711) == 0, "chmod: %s", strerror(errno));
    int pipefd[2];
    CHECK(pipe(pipefd) == 0, "pipe");
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0)) _exit(3);
        loaded l;
        ld_init(&l);
        nc_err e;
        int rc = load(&l, p, NC_FMT_AUTO, &e);
        if (write(pipefd[1], e.msg, strlen(e.msg) + 1) < 0) _exit(4);
        _exit(rc == NC_EIO ? 0 : 1);
    }
    close(pipefd[1]);
    char msg[1100] = {0};
    ssize_t got = read(pipefd[0], msg, sizeof msg - 1);
    close(pipefd[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d: %s", status, msg);
    CHECK(got > 0 && strstr(msg, "noperm.csv") && strstr(msg, "Permission denied"), "msg: %s", msg);
    chmod(tmpdir, 0700);
}

/* ==== writing =========================================================================== */

static void test_write_csv_round_trip(void) {
    char p[256];
    PUT(p, "src.txt", "alice 1 2 3\nbob 2\ncarol 3 1\n");
    loaded a, b;
    ld_init(&a);
    ld_init(&b);
    nc_err e;
    CHECK(load(&a, p, NC_FMT_AUTO, &e) == NC_OK, "%s", e.msg);
    for (size_t r = 0; r < a.x.n; r++) a.x.ts[r] = 1000 + (int64_t)r;
    snprintf(p, sizeof p, "%s/out.csv", tmpdir);
    FILE *f = fopen(p, "w");
    CHECK(f && nc_inter_write_csv(f, &a.users, &a.items, &a.x, &e) == NC_OK, "%s", e.msg);
    if (f) fclose(f);
    CHECK(load(&b, p, NC_FMT_AUTO, &e) == NC_OK && b.x.n == a.x.n, "%s", e.msg);
    for (size_t r = 0; r < a.x.n; r++)
        CHECK(row_is(&b, r, a.users.ids[a.x.user[r]], a.items.ids[a.x.item[r]], 1000 + (int64_t)r),
              "row %zu", r);
    int32_t id;
    nc_idmap_intern(&a.items, "x,y", 3, &id, &e);
    a.x.item[0] = id;
    f = fopen(p, "w");
    CHECK(f && nc_inter_write_csv(f, &a.users, &a.items, &a.x, &e) == NC_EINVAL &&
              strstr(e.msg, "x,y"),
          "an id with a comma is refused");
    if (f) fclose(f);
    ld_free(&a);
    ld_free(&b);
}

/* ==== split ============================================================================= */

static const double R811[3] = {0.8, 0.1, 0.1};

static void test_split_counts_recbole(void) {
    const size_t ns[] = {1, 2, 3, 9, 10, 11, 25, 30, 70};
    const size_t want[][3] = {{1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {7, 1, 1}, {8, 1, 1},
                              {9, 1, 1}, {21, 2, 2}, {24, 3, 3}, {56, 7, 7}};
    for (size_t k = 0; k < sizeof ns / sizeof *ns; k++) {
        size_t c[3];
        nc_split_counts(ns[k], R811, c);
        CHECK(c[0] == want[k][0] && c[1] == want[k][1] && c[2] == want[k][2],
              "n=%zu: %zu/%zu/%zu", ns[k], c[0], c[1], c[2]);
    }
    size_t c[3];
    const double r2[3] = {0.7, 0.3, 0.0};
    nc_split_counts(2, r2, c);
    CHECK(c[0] == 1 && c[1] == 1 && c[2] == 0, "0.7/0.3/0 n=2: %zu/%zu/%zu", c[0], c[1], c[2]);
    nc_split_counts(0, R811, c);
    CHECK(c[0] == 0 && c[1] == 0 && c[2] == 0, "n=0");
}

/* One user per size in ns, rows in a scrambled user order; item = user*1000 + k. */
static void make_users(nc_interactions *x, const size_t *ns, size_t nu) {
    nc_err e;
    nc_inter_init(x);
    for (size_t round = 0; round < 30; round++)
        for (size_t u = 0; u < nu; u++)
            if (round < ns[u])
                nc_inter_push(x, (int32_t)u, (int32_t)(u * 1000 + round), (int64_t)round, &e);
}

static void count_per_user(const nc_interactions *x, size_t *cnt, size_t nu) {
    memset(cnt, 0, nu * sizeof *cnt);
    for (size_t r = 0; r < x->n; r++) cnt[x->user[r]]++;
}

static void test_split_per_user(void) {
    const size_t ns[] = {1, 2, 3, 9, 10, 11, 25};
    enum { NU = 7 };
    const size_t want[NU][3] = {{1, 0, 0}, {1, 0, 1}, {1, 1, 1}, {7, 1, 1},
                                {8, 1, 1}, {9, 1, 1}, {21, 2, 2}};
    nc_interactions all, s[3];
    make_users(&all, ns, NU);
    for (int k = 0; k < 3; k++) nc_inter_init(&s[k]);
    nc_err e;
    CHECK(nc_split(&all, NU, R811, 2020, &s[0], &s[1], &s[2], &e) == NC_OK, "%s", e.msg);
    size_t cnt[3][NU];
    for (int k = 0; k < 3; k++) count_per_user(&s[k], cnt[k], NU);
    for (int u = 0; u < NU; u++)
        CHECK(cnt[0][u] == want[u][0] && cnt[1][u] == want[u][1] && cnt[2][u] == want[u][2],
              "user with n=%zu: %zu/%zu/%zu", ns[u], cnt[0][u], cnt[1][u], cnt[2][u]);
    /* every row lands in exactly one part, with its item and timestamp */
    int seen[NU][30];
    memset(seen, 0, sizeof seen);
    int ok = 1;
    for (int k = 0; k < 3; k++)
        for (size_t r = 0; r < s[k].n; r++) {
            int32_t u = s[k].user[r], j = s[k].item[r] - u * 1000;
            ok &= j >= 0 && j < 30 && s[k].ts[r] == j;
            if (j >= 0 && j < 30) seen[u][j]++;
        }
    for (int u = 0; u < NU; u++)
        for (size_t j = 0; j < ns[u]; j++) ok &= seen[u][j] == 1;
    CHECK(ok && s[0].n + s[1].n + s[2].n == all.n, "a partition of the rows");
    for (int k = 0; k < 3; k++) nc_inter_free(&s[k]);
    nc_inter_free(&all);
}

static int same_inter(const nc_interactions *a, const nc_interactions *b) {
    return a->n == b->n && !memcmp(a->user, b->user, a->n * 4) &&
           !memcmp(a->item, b->item, a->n * 4) && !memcmp(a->ts, b->ts, a->n * 8);
}

static void test_split_deterministic_and_checked(void) {
    const size_t ns[] = {25, 25, 20, 12, 30};
    nc_interactions all, a[3], b[3], c[3];
    make_users(&all, ns, 5);
    for (int k = 0; k < 3; k++) nc_inter_init(&a[k]), nc_inter_init(&b[k]), nc_inter_init(&c[k]);
    nc_err e;
    CHECK(nc_split(&all, 5, R811, 42, &a[0], &a[1], &a[2], &e) == NC_OK, "%s", e.msg);
    CHECK(nc_split(&all, 5, R811, 42, &b[0], &b[1], &b[2], &e) == NC_OK, "%s", e.msg);
    CHECK(nc_split(&all, 5, R811, 43, &c[0], &c[1], &c[2], &e) == NC_OK, "%s", e.msg);
    CHECK(same_inter(&a[0], &b[0]) && same_inter(&a[1], &b[1]) && same_inter(&a[2], &b[2]),
          "same seed, same split");
    CHECK(!same_inter(&a[1], &c[1]) || !same_inter(&a[2], &c[2]), "another seed, another split");
    const double bad[][3] = {{0.8, 0.1, 0.2}, {1.1, -0.1, 0.0}, {0.0, 0.5, 0.5}, {NAN, 0.5, 0.5}};
    for (int k = 0; k < 4; k++)
        CHECK(nc_split(&all, 5, bad[k], 1, &c[0], &c[1], &c[2], &e) == NC_EINVAL &&
                  strstr(e.msg, "ratio"),
              "bad ratios %d refused: %s", k, e.msg);
    CHECK(nc_split(&all, 4, R811, 1, &c[0], &c[1], &c[2], &e) == NC_EINVAL &&
              strstr(e.msg, "user 4"),
          "user outside n_users: %s", e.msg);
    const double norm[3] = {0.8, 0.1, 0.1000001};
    CHECK(nc_split(&all, 5, norm, 42, &c[0], &c[1], &c[2], &e) == NC_OK, "sum within 1e-6");
    for (int k = 0; k < 3; k++) nc_inter_free(&a[k]), nc_inter_free(&b[k]), nc_inter_free(&c[k]);
    nc_inter_free(&all);
}

/* ==== main ============================================================================== */

static void remove_tmpdir(void) {
    DIR *d = opendir(tmpdir);
    if (!d) return;
    char p[512];
    for (struct dirent *de; (de = readdir(d));) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(tmpdir);
}

/* nc_reserve: grows to hold what is asked, zeroes the new part, keeps the old, and leaves the
 * array alone when asked for less than it has. */
static void test_reserve(void) {
    int32_t *a = NULL;
    size_t cap = 0;
    nc_err e = {0};
    CHECK(nc_reserve((void **)&a, &cap, 3, sizeof *a, 2, "ints", &e) == NC_OK, "%s", e.msg);
    CHECK(cap == 4 && a, "cap %zu", cap);
    for (size_t i = 0; a && i < cap; i++) CHECK(a[i] == 0, "a[%zu] = %d", i, a[i]);
    if (a) a[3] = 7;
    CHECK(nc_reserve((void **)&a, &cap, 9, sizeof *a, 2, "ints", &e) == NC_OK, "%s", e.msg);
    CHECK(cap == 16 && a && a[3] == 7 && a[15] == 0, "cap %zu", cap);
    int32_t *same = a;
    CHECK(nc_reserve((void **)&a, &cap, 5, sizeof *a, 2, "ints", &e) == NC_OK && a == same && cap == 16,
          "a smaller need changed the array");
    size_t huge = cap;
    CHECK(nc_reserve((void **)&a, &huge, SIZE_MAX / 2, 8, 2, "ints", &e) == NC_ENOMEM && huge == cap && a == same,
          "an impossible size must fail and leave the array");
    free(a);
}

int main(void) {
    RUN(test_reserve);
    snprintf(tmpdir, sizeof tmpdir, "/tmp/nclrec-test-dataset-XXXXXX");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 2;
    }
    RUN(test_idmap_round_trip);
    RUN(test_load_csv_header_crlf_blank_extra);
    RUN(test_load_tsv_recbole_header_and_rating_filter);
    RUN(test_load_adjacency_several_lines_per_user);
    RUN(test_format_detection_and_forcing);
    RUN(test_header_detection);
    RUN(test_shared_maps_across_files);
    RUN(test_dedup_keeps_first);
    RUN(test_loaded_duplicates_merge);
    RUN(test_bad_files);
    RUN(test_bad_byte_after_first_chunk);
    RUN(test_bad_ids_and_long_lines);
    RUN(test_unreadable_file);
    RUN(test_write_csv_round_trip);
    RUN(test_split_counts_recbole);
    RUN(test_split_per_user);
    RUN(test_split_deterministic_and_checked);
    remove_tmpdir();
    return TEST_REPORT();
}
