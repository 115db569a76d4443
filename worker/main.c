/* main.c — the buzzradar binary: dispatches to a subcommand (see worker/cli.h). */
#include <stdio.h>
#include <string.h>

#include "worker/cli.h"

typedef struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} Command;

static const Command commands[] = {
    {"run", cli_run, "the stream worker: Kafka in, scored events and alerts out"},
    {"train", cli_train, "train a model (bilstm, tfidf-lr, w2v-dense) on a data file"},
    {"evaluate", cli_evaluate, "metrics of a model on a data file (one JSON line)"},
    {"predict", cli_predict, "score texts given as arguments or stdin lines (JSON lines)"},
    {"tokens", cli_tokens, "print the tokens the model sees for each stdin line"},
    {"report", cli_report, "summary of the last hours for people, read from Redis"},
    {"feedback", cli_feedback, "feedback export: corrected tweets as a label,text CSV"},
    {"tail", cli_tail, "live coloured view of the scored and alert topics"},
};

static void usage(FILE *out) {
    fprintf(out, "usage: buzzradar COMMAND [ARGS]   (buzzradar COMMAND --help for its flags)\n\n"
                 "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "buzzradar: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
