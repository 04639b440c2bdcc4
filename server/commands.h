/* commands.h - the subcommands of the nclrec binary. Each takes the arguments after its name
 * (argv[0] is the subcommand name), parses its own flags, prints --help, and returns the
 * process exit code: 0 success, 1 failure at run time, 2 bad usage or bad input. */
#ifndef NCLREC_COMMANDS_H
#define NCLREC_COMMANDS_H

int cmd_train(int argc, char **argv);  /* server/cmd_train.c */
int cmd_eval(int argc, char **argv);   /* server/cmd_train.c */
int cmd_serve(int argc, char **argv);  /* server/serve.c */
int cmd_run(int argc, char **argv);    /* server/serve.c: serve the embedded default */
int cmd_import(int argc, char **argv); /* server/cmd_data.c */
int cmd_export(int argc, char **argv); /* server/cmd_data.c */
int cmd_probe(int argc, char **argv);  /* server/serve.c: health probe for containers */
int cmd_synth(int argc, char **argv);  /* server/cmd_data.c: synthetic data set as CSV */

#endif
