/* cli_feedback.c — `buzzradar feedback`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_feedback(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'feedback' is not implemented yet\n");
    return 1;
}
