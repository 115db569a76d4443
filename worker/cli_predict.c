/* cli_predict.c — `buzzradar predict`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_predict(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'predict' is not implemented yet\n");
    return 1;
}
