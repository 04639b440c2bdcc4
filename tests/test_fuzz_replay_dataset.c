/* test_fuzz_replay_dataset.c - replays the committed fuzz inputs of tests/fuzz/fuzz_dataset.c (seed
 * corpus and past crashes) through the harness, one check per file; see replay_main.c. */
#define FUZZ_NAME "dataset"
#include "fuzz/fuzz_dataset.c"
#include "fuzz/replay_main.c"

int main(int argc, char **argv) {
    replay_main(argc, argv);
    return TEST_REPORT();
}
