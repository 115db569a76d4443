/* cli.h — the subcommands of the buzzradar binary.
 *
 * Each subcommand is one function with main()'s contract: it parses its own
 * arguments (with --help), prints errors on stderr, and returns the process exit
 * status (0 success, 1 runtime failure, 2 usage error). worker/main.c dispatches. */
#ifndef BUZZRADAR_CLI_H
#define BUZZRADAR_CLI_H

int cli_run(int argc, char **argv);      /* the stream worker (worker/cli_run.c) */
int cli_train(int argc, char **argv);    /* train a model (worker/cli_train.c) */
int cli_evaluate(int argc, char **argv); /* metrics of a model on a data file, one JSON line */
int cli_predict(int argc, char **argv);  /* score texts: one JSON object per line */
int cli_tokens(int argc, char **argv);   /* the tokens the model sees, one stdin line each */
int cli_report(int argc, char **argv);   /* summary for people, read from Redis */
int cli_feedback(int argc, char **argv); /* feedback export: corrections as label,text CSV */
int cli_tail(int argc, char **argv);     /* live, coloured view of scored tweets and alerts */

#endif
