/* cli_train.c — `buzzradar train`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_train(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'train' is not implemented yet\n");
    return 1;
}
