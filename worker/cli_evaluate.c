/* cli_evaluate.c — `buzzradar evaluate`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_evaluate(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'evaluate' is not implemented yet\n");
    return 1;
}
