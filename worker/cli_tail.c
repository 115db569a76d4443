/* cli_tail.c — `buzzradar tail`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_tail(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'tail' is not implemented yet\n");
    return 1;
}
