/* cli_run.c — `buzzradar run`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_run(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'run' is not implemented yet\n");
    return 1;
}
