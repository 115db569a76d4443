/* model_path.h — where a command finds its model file when --model is not given. */
#ifndef BUZZRADAR_MODEL_PATH_H
#define BUZZRADAR_MODEL_PATH_H

#include <stddef.h>

/* Resolves the model file to use, in order: `arg` when not NULL; else
 * $BUZZRADAR_MODEL when set and non-empty; else the shipped
 * model/pretrained/<kind>.model, looked up relative to the current directory and
 * then relative to the binary (build/buzzradar or build/<variant>/buzzradar).
 * Writes the path into out and returns 0; returns -1 when only the shipped default
 * was left and it does not exist (out then holds the path tried). */
int model_path_resolve(const char *arg, const char *kind, char *out, size_t len);

#endif
