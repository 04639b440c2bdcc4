/* main.c - the nclrec binary: dispatches subcommands. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "--help")) {
        printf("usage: nclrec <train|eval|serve|run> [--help]\n");
        return argc < 2 ? 2 : 0;
    }
    fprintf(stderr, "nclrec: unknown command '%s'\n", argv[1]);
    return 2;
}
