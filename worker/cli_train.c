/* cli_train.c — `buzzradar train`: flags to a TrainConfig, one training run
 * (model/train.h), and the held-out metrics as one JSON line on stdout. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/metrics.h"
#include "model/train.h"
#include "worker/cli.h"

static void train_usage(FILE *out) {
    fprintf(out,
            "usage: buzzradar train --data PATH [options]\n"
            "Trains a model on a labelled data file (.csv or .csv.gz, Sentiment140 or label,text),\n"
            "holding out a validation split (early stopping) and a test split (metrics), and\n"
            "writes the model file. Prints the test metrics as one JSON line on stdout.\n"
            "\n"
            "  --data PATH            data file (required)\n"
            "  --data-format F        auto (default), sentiment140 or csv\n"
            "  --model KIND           bilstm (default), tfidf-lr or w2v-dense\n"
            "  --limit N              a balanced random sample of N rows\n"
            "  --out FILE             model file to write (default KIND.model)\n"
            "  --curves PNG           learning curves image (default FILE.png; '' for none)\n"
            "  --seed N               seed of split, sample, initialisation, shuffling (42)\n"
            "  --threads N            threads (default: all cores)\n"
            "  --quiet                no progress\n"
            "  --val-frac F --test-frac F   held-out fractions (0.02 each)\n"
            "  --min-count N --max-vocab N  vocabulary (5, 50000)\n"
            "  --max-tokens N --no-stem     tokenizer (64 tokens, Snowball stemming on)\n"
            "  --w2v-dim N --w2v-epochs N --w2v-window N --w2v-negative N   word2vec (100, 5, 5, 5)\n"
            "  --hidden N --dense N --dropout F --pooling last|max --clip F  BiLSTM (128, 64, 0.3, last, 5)\n"
            "  --lr F --batch N --epochs N --patience N   optimiser of the chosen kind (bilstm: 2e-3,\n"
            "                         128, 3, 1)\n"
            "  --lr-decay F           bilstm: on a plateau, back to the best weights and lr x F (0.5)\n"
            "  --lr-schedule S        bilstm: constant, linear or cosine (default) decay of the\n"
            "                         learning rate to 0 over the planned epochs, step by step\n"
            "  --emb-lr-scale F       bilstm: the embedding's learning rate is lr x F (1; 0 freezes it)\n"
            "  --ema D                bilstm: validate and keep a moving average of the weights with\n"
            "                         decay D per step (0.9997; 0 = off)\n"
            "  --bigram-bits N --C F   tfidf-lr: 2^N bigram buckets (20), inverse L2 strength (2.5)\n");
}

enum {
    OPT_DATA = 1000,
    OPT_FORMAT,
    OPT_MODEL,
    OPT_LIMIT,
    OPT_OUT,
    OPT_CURVES,
    OPT_SEED,
    OPT_THREADS,
    OPT_QUIET,
    OPT_VAL,
    OPT_TEST,
    OPT_MIN_COUNT,
    OPT_MAX_VOCAB,
    OPT_MAX_TOKENS,
    OPT_NO_STEM,
    OPT_W2V_DIM,
    OPT_W2V_EPOCHS,
    OPT_W2V_WINDOW,
    OPT_W2V_NEGATIVE,
    OPT_HIDDEN,
    OPT_DENSE,
    OPT_DROPOUT,
    OPT_POOLING,
    OPT_CLIP,
    OPT_LR_DECAY,
    OPT_LR_SCHEDULE,
    OPT_EMB_LR_SCALE,
    OPT_EMA,
    OPT_LR,
    OPT_BATCH,
    OPT_EPOCHS,
    OPT_PATIENCE,
    OPT_BIGRAM_BITS,
    OPT_C,
    OPT_HELP,
};

/* Parses a number flag; exits with status 2 and a message when it is not one. */
static double train_number(const char *flag, const char *s) {
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end) {
        fprintf(stderr, "buzzradar train: --%s takes a number, not '%s'\n", flag, s);
        exit(2);
    }
    return v;
}

int cli_train(int argc, char **argv) {
    static const struct option opts[] = {
        {"data", required_argument, 0, OPT_DATA},
        {"data-format", required_argument, 0, OPT_FORMAT},
        {"model", required_argument, 0, OPT_MODEL},
        {"limit", required_argument, 0, OPT_LIMIT},
        {"out", required_argument, 0, OPT_OUT},
        {"curves", required_argument, 0, OPT_CURVES},
        {"seed", required_argument, 0, OPT_SEED},
        {"threads", required_argument, 0, OPT_THREADS},
        {"quiet", no_argument, 0, OPT_QUIET},
        {"val-frac", required_argument, 0, OPT_VAL},
        {"test-frac", required_argument, 0, OPT_TEST},
        {"min-count", required_argument, 0, OPT_MIN_COUNT},
        {"max-vocab", required_argument, 0, OPT_MAX_VOCAB},
        {"max-tokens", required_argument, 0, OPT_MAX_TOKENS},
        {"no-stem", no_argument, 0, OPT_NO_STEM},
        {"w2v-dim", required_argument, 0, OPT_W2V_DIM},
        {"w2v-epochs", required_argument, 0, OPT_W2V_EPOCHS},
        {"w2v-window", required_argument, 0, OPT_W2V_WINDOW},
        {"w2v-negative", required_argument, 0, OPT_W2V_NEGATIVE},
        {"hidden", required_argument, 0, OPT_HIDDEN},
        {"dense", required_argument, 0, OPT_DENSE},
        {"dropout", required_argument, 0, OPT_DROPOUT},
        {"pooling", required_argument, 0, OPT_POOLING},
        {"clip", required_argument, 0, OPT_CLIP},
        {"lr-decay", required_argument, 0, OPT_LR_DECAY},
        {"lr-schedule", required_argument, 0, OPT_LR_SCHEDULE},
        {"emb-lr-scale", required_argument, 0, OPT_EMB_LR_SCALE},
        {"ema", required_argument, 0, OPT_EMA},
        {"lr", required_argument, 0, OPT_LR},
        {"batch", required_argument, 0, OPT_BATCH},
        {"epochs", required_argument, 0, OPT_EPOCHS},
        {"patience", required_argument, 0, OPT_PATIENCE},
        {"bigram-bits", required_argument, 0, OPT_BIGRAM_BITS},
        {"C", required_argument, 0, OPT_C},
        {"help", no_argument, 0, OPT_HELP},
        {0},
    };
    TrainConfig cfg = train_config_default();
    double lr = 0;
    int batch = 0, epochs = 0, patience = 0;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        const char *name = c >= OPT_DATA && c < OPT_HELP ? opts[c - OPT_DATA].name : "";
        switch (c) {
        case OPT_DATA:
            cfg.data = optarg;
            break;
        case OPT_FORMAT:
            if (dataset_format_parse(optarg, &cfg.format)) {
                fprintf(stderr, "buzzradar train: unknown --data-format '%s' (auto, sentiment140, csv)\n",
                        optarg);
                return 2;
            }
            break;
        case OPT_MODEL:
            cfg.kind = optarg;
            break;
        case OPT_LIMIT:
            cfg.limit = (long)train_number(name, optarg);
            break;
        case OPT_OUT:
            cfg.out = optarg;
            break;
        case OPT_CURVES:
            cfg.curves = optarg;
            break;
        case OPT_SEED:
            cfg.seed = (uint64_t)train_number(name, optarg);
            break;
        case OPT_THREADS:
            cfg.threads = (int)train_number(name, optarg);
            break;
        case OPT_QUIET:
            cfg.quiet = 1;
            break;
        case OPT_VAL:
            cfg.val_frac = train_number(name, optarg);
            break;
        case OPT_TEST:
            cfg.test_frac = train_number(name, optarg);
            break;
        case OPT_MIN_COUNT:
            cfg.min_count = (int64_t)train_number(name, optarg);
            break;
        case OPT_MAX_VOCAB:
            cfg.max_vocab = (int32_t)train_number(name, optarg);
            break;
        case OPT_MAX_TOKENS:
            cfg.text.max_tokens = (int)train_number(name, optarg);
            break;
        case OPT_NO_STEM:
            cfg.text.stem = 0;
            break;
        case OPT_W2V_DIM:
            cfg.w2v.dim = (int)train_number(name, optarg);
            break;
        case OPT_W2V_EPOCHS:
            cfg.w2v.epochs = (int)train_number(name, optarg);
            break;
        case OPT_W2V_WINDOW:
            cfg.w2v.window = (int)train_number(name, optarg);
            break;
        case OPT_W2V_NEGATIVE:
            cfg.w2v.negative = (int)train_number(name, optarg);
            break;
        case OPT_HIDDEN:
            cfg.bilstm.H = (int)train_number(name, optarg);
            break;
        case OPT_DENSE:
            cfg.bilstm.dense = (int)train_number(name, optarg);
            cfg.dense.hidden = cfg.bilstm.dense;
            break;
        case OPT_DROPOUT:
            cfg.bilstm.dropout = (float)train_number(name, optarg);
            break;
        case OPT_POOLING:
            if (!strcmp(optarg, "last"))
                cfg.bilstm.pooling = BILSTM_POOL_LAST;
            else if (!strcmp(optarg, "max"))
                cfg.bilstm.pooling = BILSTM_POOL_MAX;
            else {
                fprintf(stderr, "buzzradar train: --pooling is last or max\n");
                return 2;
            }
            break;
        case OPT_CLIP:
            cfg.bilstm.clip = (float)train_number(name, optarg);
            break;
        case OPT_LR_DECAY:
            cfg.bilstm.lr_decay = (float)train_number(name, optarg);
            break;
        case OPT_LR_SCHEDULE:
            cfg.bilstm.lr_schedule = bilstm_schedule_parse(optarg);
            if (cfg.bilstm.lr_schedule < 0) {
                fprintf(stderr, "buzzradar train: --lr-schedule is constant, linear or cosine\n");
                return 2;
            }
            break;
        case OPT_EMB_LR_SCALE:
            cfg.bilstm.emb_lr_scale = (float)train_number(name, optarg);
            break;
        case OPT_EMA:
            cfg.bilstm.ema = (float)train_number(name, optarg);
            break;
        case OPT_LR:
            lr = train_number(name, optarg);
            break;
        case OPT_BATCH:
            batch = (int)train_number(name, optarg);
            break;
        case OPT_EPOCHS:
            epochs = (int)train_number(name, optarg);
            break;
        case OPT_PATIENCE:
            patience = (int)train_number(name, optarg);
            break;
        case OPT_BIGRAM_BITS:
            cfg.tfidf.bigram_bits = (int)train_number(name, optarg);
            break;
        case OPT_C:
            cfg.tfidf.c = (float)train_number(name, optarg);
            break;
        case OPT_HELP:
            train_usage(stdout);
            return 0;
        case 'h':
            train_usage(stdout);
            return 0;
        default:
            train_usage(stderr);
            return 2;
        }
    }
    if (!cfg.data || optind < argc) {
        fprintf(stderr, "buzzradar train: %s\n",
                cfg.data ? "unexpected argument" : "--data PATH is required");
        train_usage(stderr);
        return 2;
    }
    if (cfg.text.max_tokens < 1 || cfg.text.max_tokens > TEXT_MAX_TOKENS_CAP) {
        fprintf(stderr, "buzzradar train: --max-tokens must be in 1..%d\n", TEXT_MAX_TOKENS_CAP);
        return 2;
    }
    /* the optimiser flags go to the kind being trained */
    if (lr > 0) cfg.bilstm.lr = cfg.dense.lr = cfg.tfidf.lr = (float)lr;
    if (batch > 0) cfg.bilstm.batch = cfg.dense.batch_size = cfg.tfidf.batch_size = batch;
    if (epochs > 0) cfg.bilstm.epochs = cfg.dense.epochs = cfg.tfidf.epochs = epochs;
    if (patience > 0) cfg.bilstm.patience = cfg.dense.patience = patience;

    TrainResult res;
    char err[1024];
    if (train_run(&cfg, &res, err, sizeof err)) {
        fprintf(stderr, "buzzradar train: %s\n", err);
        return 1;
    }
    char fields[1024];
    metrics_to_json_fields(&res.test, fields, sizeof fields);
    printf("{%s,\"model\":\"%s\",\"train_rows\":%d,\"val_rows\":%d,\"test_rows\":%d,\"vocab_size\":%d,"
           "\"seconds\":%.1f,\"peak_rss_mb\":%.0f}\n",
           fields, cfg.kind, res.n_train, res.n_val, res.n_test, res.vocab_size, res.seconds,
           (double)res.peak_rss_kb / 1024.0);
    return 0;
}
