/* test_fuzz_replay_http.c - replays the committed fuzz inputs of tests/fuzz/fuzz_http.c (seed
 * corpus and past crashes) through the harness, one check per file; see replay_main.c. The
 * harness's stores go to a temporary directory of this run (NCLREC_FUZZ_TMP), removed at the
 * end: each file runs in a child process that exits without cleaning up. */
#define FUZZ_NAME "http"
#include "fuzz/fuzz_http.c"
#include "fuzz/replay_main.c"

int main(int argc, char **argv) {
    char tmp[] = "/tmp/nclrec-replay-http.XXXXXX";
    if (!mkdtemp(tmp) || setenv("NCLREC_FUZZ_TMP", tmp, 1) != 0) {
        perror("temporary directory");
        return 1;
    }
    replay_main(argc, argv);
    rm_tree(tmp);
    return TEST_REPORT();
}
