/* test_fuzz_replay_config.c - replays the committed fuzz inputs of tests/fuzz/fuzz_config.c (seed
 * corpus and past crashes) through the harness, one check per file; see replay_main.c. */
#define FUZZ_NAME "config"
#include "fuzz/fuzz_config.c"
#include "fuzz/replay_main.c"

int main(int argc, char **argv) {
    replay_main(argc, argv);
    return TEST_REPORT();
}
