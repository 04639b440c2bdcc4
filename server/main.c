/* main.c - the nclrec binary: one process, several subcommands (server/commands.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "commands.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *help;
} command;

static const command commands[] = {
    {"train", cmd_train, "train NCL from interaction files and write a checkpoint"},
    {"eval", cmd_eval, "report a saved model's metrics on data files"},
    {"serve", cmd_serve, "the daemon: serve, ingest, retrain in the background"},
    {"run", cmd_run, "the daemon on the embedded default (synthetic data, ./var)"},
    {"probe", cmd_probe, "health probe of a running daemon (for containers)"},
    {"synth", cmd_synth, "write a synthetic interaction data set as CSV"},
    {"import", cmd_import, "bulk-load interactions into the store"},
    {"export", cmd_export, "write the store's interactions as CSV"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
    fprintf(f, "usage: nclrec <command> [--help] [options]\n\ncommands:\n");
    for (const command *c = commands; c->name; c++) fprintf(f, "  %-8s %s\n", c->name, c->help);
}

/* OpenMP threads that spin while waiting (libgomp's default) collapse when anything else
 * wants the cores: a training epoch measured 6.3 s instead of 0.58 s next to a busy process,
 * and in the daemon the spinning would take the cores from the request threads. libgomp reads
 * OMP_WAIT_POLICY once, before main, so when the user has not chosen a policy we set
 * "passive" and start again. An explicit OMP_WAIT_POLICY is respected. */
static void prefer_passive_openmp(char **argv) {
    if (getenv("OMP_WAIT_POLICY")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv("/proc/self/exe", argv);
    /* exec failed (no /proc?): carry on with the default policy */
}

int main(int argc, char **argv) {
    prefer_passive_openmp(argv);
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (const command *c = commands; c->name; c++)
        if (!strcmp(argv[1], c->name)) return c->run(argc - 1, argv + 1);
    fprintf(stderr, "nclrec: unknown command '%s' (see nclrec --help)\n", argv[1]);
    return 2;
}
