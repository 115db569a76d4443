/* cli_tokens.c — `buzzradar tokens`. Not built yet: its issue replaces this file. */
#include <stdio.h>

#include "worker/cli.h"

int cli_tokens(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "buzzradar: 'tokens' is not implemented yet\n");
    return 1;
}
