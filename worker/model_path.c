/* model_path.c — default model file look-up (see model_path.h). */
#include "worker/model_path.h"

#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int exists(const char *path) { return access(path, R_OK) == 0; }

int model_path_resolve(const char *arg, const char *kind, char *out, size_t len) {
    const char *env = getenv("BUZZRADAR_MODEL");
    if (arg || (env && *env)) {
        snprintf(out, len, "%s", arg ? arg : env);
        return 0;
    }
    snprintf(out, len, "model/pretrained/%s.model", kind);
    if (exists(out)) return 0;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        const char *dir = dirname(exe);
        static const char *const ups[] = {"..", "../.."};
        for (size_t i = 0; i < sizeof ups / sizeof ups[0]; i++) {
            char cand[PATH_MAX + 64];
            snprintf(cand, sizeof cand, "%s/%s/model/pretrained/%s.model", dir, ups[i], kind);
            if (exists(cand)) {
                snprintf(out, len, "%s", cand);
                return 0;
            }
        }
    }
    snprintf(out, len, "model/pretrained/%s.model", kind);
    return -1;
}
