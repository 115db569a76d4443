/* cli_predict.c — `buzzradar predict`: scores tweets given as arguments, or one per
 * stdin line, and prints one JSON object per tweet:
 *
 *     {"text":"...","label":"negative","p_positive":0.07}
 *
 * Lines already waiting on stdin are scored together in one batch for speed, but
 * predict never waits for more input than it has: a line typed alone (or written
 * alone into a pipe) is answered and flushed at once. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "model/classifier.h"
#include "model/util.h"
#include "worker/cli.h"
#include "worker/model_path.h"

#define PREDICT_BATCH    256
#define PREDICT_MAX_LINE (1 << 20) /* longer lines are cut (the model sees 64 tokens anyway) */

static void predict_usage(FILE *out) {
    fprintf(out, "usage: buzzradar predict [--model FILE] [TEXT...]\n"
                 "  Scores each TEXT, or each stdin line when no TEXT is given, and prints one\n"
                 "  JSON object per tweet: {\"text\",\"label\",\"p_positive\"}.\n"
                 "  --model FILE   model file (default: $BUZZRADAR_MODEL, else the shipped\n"
                 "                 model/pretrained/bilstm.model)\n");
}

/* Prints the scored slots 0..n-1 of b as JSON lines and flushes. */
static void predict_print(ClassifierBatch *b, const char *const *texts, const size_t *lens, int n) {
    for (int i = 0; i < n; i++) {
        float p = classifier_batch_p(b, i);
        cJSON *o = cJSON_CreateObject();
        char *t = strndup(texts[i], lens[i]);
        cJSON_AddStringToObject(o, "text", t ? t : "");
        cJSON_AddStringToObject(o, "label", p >= 0.5f ? "positive" : "negative");
        cJSON_AddNumberToObject(o, "p_positive", classifier_round_p(p));
        char *s = cJSON_PrintUnformatted(o);
        if (s) puts(s);
        free(s);
        free(t);
        cJSON_Delete(o);
    }
    fflush(stdout);
}

static void predict_batch(ClassifierBatch *b, const char *const *texts, const size_t *lens, int n) {
    classifier_batch_reset(b);
    for (int i = 0; i < n; i++) classifier_batch_add(b, texts[i], lens[i]);
    classifier_batch_score(b);
    predict_print(b, texts, lens, n);
}

/* Reads stdin with read(2): every complete line in the buffer forms the next batch,
 * so only what has already arrived is batched, and nothing waits for more. */
static int predict_stdin(ClassifierBatch *b) {
    size_t cap = PREDICT_MAX_LINE + 1, len = 0;
    char *buf = mallocCheck(cap);
    const char *texts[PREDICT_BATCH];
    size_t lens[PREDICT_BATCH];
    int eof = 0;
    while (!eof || len > 0) {
        if (!eof) {
            ssize_t got = read(STDIN_FILENO, buf + len, cap - len);
            if (got < 0 && errno == EINTR) continue;
            if (got < 0) {
                fprintf(stderr, "buzzradar predict: reading stdin: %s\n", strerror(errno));
                free(buf);
                return 1;
            }
            if (got == 0) eof = 1;
            len += (size_t)got;
        }
        size_t start = 0;
        int n = 0;
        for (;;) {
            char *nl = memchr(buf + start, '\n', len - start);
            size_t end = nl ? (size_t)(nl - buf) : len;
            if (!nl && !eof && !(start == 0 && len == cap)) break; /* unfinished: wait for the rest */
            if (!nl && end == start) break;                        /* nothing left */
            size_t l = end - start;
            if (l && buf[start + l - 1] == '\r') l--;
            texts[n] = buf + start;
            lens[n] = l;
            n++;
            start = nl ? end + 1 : end;
            if (n == PREDICT_BATCH) {
                predict_batch(b, texts, lens, n);
                n = 0;
            }
        }
        if (n) predict_batch(b, texts, lens, n);
        memmove(buf, buf + start, len - start);
        len -= start;
        if (eof && len == 0) break;
    }
    free(buf);
    return 0;
}

int cli_predict(int argc, char **argv) {
    const char *model_arg = NULL;
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'}, {"help", no_argument, 0, 'h'}, {0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        if (c == 'm') {
            model_arg = optarg;
        } else if (c == 'h') {
            predict_usage(stdout);
            return 0;
        } else {
            predict_usage(stderr);
            return 2;
        }
    }
    char path[4096], err[512];
    if (model_path_resolve(model_arg, "bilstm", path, sizeof path)) {
        fprintf(stderr, "buzzradar predict: no model file: give --model FILE or set BUZZRADAR_MODEL\n");
        return 1;
    }
    Classifier *model = classifier_load(path, err, sizeof err);
    if (!model) {
        fprintf(stderr, "buzzradar predict: %s\n", err);
        return 1;
    }
    ClassifierBatch *b = classifier_batch_new(model, PREDICT_BATCH);
    int rc = 0;
    if (optind < argc) {
        for (int i = optind; i < argc; i += PREDICT_BATCH) {
            int n = argc - i < PREDICT_BATCH ? argc - i : PREDICT_BATCH;
            size_t lens[PREDICT_BATCH];
            for (int k = 0; k < n; k++) lens[k] = strlen(argv[i + k]);
            predict_batch(b, (const char *const *)argv + i, lens, n);
        }
    } else {
        rc = predict_stdin(b);
    }
    classifier_batch_free(b);
    classifier_free(model);
    return rc;
}
