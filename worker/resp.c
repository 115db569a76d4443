/* resp.c — Redis commands in the RESP wire format (see resp.h). */
#include "worker/resp.h"

#include <string.h>

/* Decimal digits of v (v >= 0). */
static size_t resp_digits(size_t v) {
    size_t n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

/* Writes c, then v in decimal, then "\r\n"; returns the bytes written. */
static size_t resp_header(char *out, char c, size_t v) {
    size_t n = resp_digits(v);
    out[0] = c;
    for (size_t i = n; i > 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
    out[n + 1] = '\r';
    out[n + 2] = '\n';
    return n + 3;
}

size_t resp_command_len(int argc, const size_t *argvlen) {
    size_t len = 3 + resp_digits((size_t)argc);
    for (int i = 0; i < argc; i++) len += 3 + resp_digits(argvlen[i]) + argvlen[i] + 2;
    return len;
}

size_t resp_command_write(char *out, int argc, const char *const *argv, const size_t *argvlen) {
    size_t at = resp_header(out, '*', (size_t)argc);
    for (int i = 0; i < argc; i++) {
        at += resp_header(out + at, '$', argvlen[i]);
        if (argvlen[i]) memcpy(out + at, argv[i], argvlen[i]);
        at += argvlen[i];
        out[at++] = '\r';
        out[at++] = '\n';
    }
    return at;
}
