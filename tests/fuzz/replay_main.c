/* replay_main.c - runs a fuzz harness over its committed inputs without libFuzzer or clang, so
 * `make test` checks every seed and every past crash on any C compiler.
 *
 * A tests/test_fuzz_replay_<name>.c file defines FUZZ_NAME, includes the harness (which
 * defines LLVMFuzzerTestOneInput) and then this file, and its main() is
 *     replay_main(argc, argv); return TEST_REPORT();
 * (TEST_REPORT stays in that file so the summary line carries its name). With no arguments the
 * binary replays
 * every file of tests/fuzz/corpus/<name>/ (which must exist and hold at least one file) and of
 * tests/fuzz/regressions/<name>/ (optional), relative to the working directory, which is the
 * repository root under tests/run.sh. Arguments replace those: each is a file or a directory
 * to replay, which makes this binary a reproducer for a crash file found by the fuzzer.
 *
 * Each file runs in a child process, so a crash or an abort fails that file only and the
 * others still run; each file is one check of tests/testhelp.h, passed when the child returns
 * 0 from the harness within REPLAY_TIMEOUT seconds and exits normally. Files starting with '.'
 * and README files are skipped. */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testhelp.h"

#ifndef FUZZ_NAME
#error "define FUZZ_NAME before including replay_main.c"
#endif

#define REPLAY_TIMEOUT 20 /* seconds; the slowest seed takes well under one */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t n);

/* The whole file in a malloc'd buffer (caller frees; one spare byte so n == 0 is not NULL). */
static uint8_t *slurp(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    while (buf) {
        len += fread(buf + len, 1, cap - len, f);
        if (len < cap) break;
        uint8_t *nb = realloc(buf, cap *= 2);
        if (!nb) free(buf);
        buf = nb;
    }
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *n = len;
    return buf;
}

/* Runs the harness on data in a child; returns a description of the failure, or NULL. */
static const char *run_isolated(const uint8_t *data, size_t n, char *why, size_t cap) {
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return snprintf(why, cap, "fork: %s", strerror(errno)), why;
    if (pid == 0) {
        alarm(REPLAY_TIMEOUT);
        _exit(LLVMFuzzerTestOneInput(data, n) == 0 ? 0 : 3);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR) return snprintf(why, cap, "waitpid: %s", strerror(errno)), why;
    if (WIFSIGNALED(st))
        snprintf(why, cap, "%s (signal %d)", WTERMSIG(st) == SIGALRM ? "timed out" : "crashed",
                 WTERMSIG(st));
    else if (WEXITSTATUS(st) == 3)
        snprintf(why, cap, "the harness returned non-zero");
    else if (WEXITSTATUS(st) != 0)
        snprintf(why, cap, "exited %d (a sanitizer report?)", WEXITSTATUS(st));
    else
        return NULL;
    return why;
}

/* One file as one check, reported like RUN does. */
static void replay_file(const char *path) {
    char why[256];
    size_t n = 0;
    th_cur_name = path;
    th_cur_failed = 0;
    uint8_t *data = slurp(path, &n);
    CHECK(data != NULL, "cannot read %s: %s", path, strerror(errno));
    if (data) {
        const char *fail = run_isolated(data, n, why, sizeof why);
        CHECK(fail == NULL, "%s (%zu bytes): %s", path, n, fail);
    }
    free(data);
    if (th_cur_failed) {
        th_failed++;
        fprintf(stderr, "not ok %s\n", path);
    } else {
        th_passed++;
        printf("ok %s\n", path);
    }
}

/* Entries of a replayable directory: no dot files, no READMEs. */
static int replayable(const struct dirent *d) {
    return d->d_name[0] != '.' && strncmp(d->d_name, "README", 6) != 0;
}

/* A file, or every file of a directory in name order; returns how many were replayed, -1 if
 * path does not exist. */
static int replay_path(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) return -1;
    if (!S_ISDIR(st.st_mode)) {
        replay_file(path);
        return 1;
    }
    struct dirent **ent;
    int n = scandir(path, &ent, replayable, alphasort), done = 0;
    for (int i = 0; i < n; i++) {
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, ent[i]->d_name);
        if (stat(sub, &st) == 0 && S_ISREG(st.st_mode)) {
            replay_file(sub);
            done++;
        }
        free(ent[i]);
    }
    if (n >= 0) free(ent);
    return n < 0 ? -1 : done;
}

/* The committed corpus must be there and non-empty: replaying nothing is not a pass. */
static void replay_default(void) {
    const char *corpus = "tests/fuzz/corpus/" FUZZ_NAME;
    const char *regress = "tests/fuzz/regressions/" FUZZ_NAME;
    int n = replay_path(corpus);
    th_cur_name = "corpus";
    th_cur_failed = 0;
    CHECK(n > 0, "%s: %s (run from the repository root)", corpus,
          n < 0 ? "missing" : "holds no file");
    if (th_cur_failed) th_failed++;
    replay_path(regress);
}

/* Replays the defaults, or the files and directories named by the arguments. The caller
 * prints the summary with TEST_REPORT. */
static void replay_main(int argc, char **argv) {
    if (argc < 2) replay_default();
    for (int i = 1; i < argc; i++) {
        th_cur_name = argv[i];
        th_cur_failed = 0;
        int n = replay_path(argv[i]);
        CHECK(n >= 0, "%s does not exist", argv[i]);
        if (th_cur_failed) th_failed++;
    }
}
