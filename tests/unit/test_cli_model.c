/* test_cli_model.c — the model life cycle through the real binary: `train` each kind
 * on a small data file this test writes, `evaluate` (one JSON line), `predict`
 * (arguments, piped lines answered without waiting for EOF), the served
 * probabilities equal to the in-process classifier, seeded determinism, the BiLSTM's
 * training options recorded in the model file's header, and clear errors for
 * corrupted model files and bad flags. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "model/classifier.h"
#include "model/modelfile.h"
#include "model/util.h"

static char dir[256], data[300], bin[1024];

static const char *const pos_words[] = {"love", "great", "happy", "awesome", "thanks", "fun", "best", "nice"};
static const char *const neg_words[] = {"hate",    "awful", "sad",   "worst",
                                        "delayed", "lost",  "angry", "broken"};
static const char *const filler[] = {"the",  "flight", "today", "my", "bag",
                                     "crew", "we",     "was",   "at", "airport"};

/* Writes n synthetic tweets whose label follows their sentiment words. */
static void write_data(const char *path, int n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    FILE *f = fopenCheck(path, "w");
    fputs("label,text\n", f);
    for (int i = 0; i < n; i++) {
        int label = i & 1;
        fprintf(f, "%d,\"", label);
        int len = 4 + (int)rng_below(&r, 8);
        for (int k = 0; k < len; k++) {
            const char *w = rng_below(&r, 3) == 0 ? (label ? pos_words : neg_words)[rng_below(&r, 8)]
                                                  : filler[rng_below(&r, 10)];
            fprintf(f, "%s%s", k ? " " : "", w);
        }
        fputs("\"\n", f);
    }
    fcloseCheck(f);
}

/* Runs a shell command, captures stdout into out (NUL-terminated), returns the exit
 * status. */
static int run(char *out, size_t cap, const char *fmt, ...) {
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t len = fread(out, 1, cap - 1, p);
    out[len] = '\0';
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int setup(void **state) {
    (void)state;
    const char *b = getenv("BUZZRADAR_BIN");
    snprintf(bin, sizeof bin, "%s", b ? b : "build/buzzradar");
    snprintf(dir, sizeof dir, "/tmp/bz-cli-model-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    snprintf(data, sizeof data, "%s/data.csv", dir);
    write_data(data, 1200, 7);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd);
}

static const char *small_bilstm = "--hidden 8 --dense 8 --w2v-dim 16 --w2v-epochs 2 --epochs 4 --batch 32 "
                                  "--lr 0.01 --min-count 1";

/* Trains kind into dir/<name>.model and returns the parsed stdout JSON line. */
static cJSON *train(const char *kind, const char *name, const char *extra) {
    char out[4096];
    int rc = run(out, sizeof out,
                 "%s train --data %s --model %s --out %s/%s.model --quiet --threads 1 --seed 3 "
                 "--val-frac 0.1 --test-frac 0.2 %s 2>%s/%s.log",
                 bin, data, kind, dir, name, extra, dir, name);
    assert_int_equal(rc, 0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0'); /* exactly one line */
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    return j;
}

static double num(const cJSON *j, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(j, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static void each_kind_trains_and_learns(void **state) {
    (void)state;
    const char *kinds[][3] = {
        {"tfidf-lr", "tfidf", "--min-count 1"},
        {"w2v-dense", "w2vd", "--w2v-dim 16 --dense 8 --min-count 1 --lr 0.03 --w2v-epochs 10"},
        {"bilstm", "bilstm", small_bilstm}};
    for (int k = 0; k < 3; k++) {
        cJSON *j = train(kinds[k][0], kinds[k][1], kinds[k][2]);
        assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "model")->valuestring, kinds[k][0]);
        assert_int_equal((int)num(j, "n"), 240);
        assert_int_equal((int)num(j, "train_rows"), 840);
        assert_true(num(j, "accuracy") > 0.85);
        assert_true(num(j, "auc") > 0.9);
        cJSON_Delete(j);
    }
}

static void evaluate_prints_one_json_line(void **state) {
    (void)state;
    char out[4096];
    assert_int_equal(run(out, sizeof out,
                         "%s evaluate --model %s/tfidf.model --data %s --threads 2 2>/dev/null", bin, dir,
                         data),
                     0);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_int_equal(nl[1], '\0');
    cJSON *j = cJSON_Parse(out);
    assert_non_null(j);
    static const char *const keys[] = {"n",        "accuracy", "precision", "recall", "f1_positive",
                                       "f1_macro", "auc",      "logloss",   "seconds"};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) (void)num(j, keys[i]);
    assert_int_equal((int)num(j, "n"), 1200);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(j, "model")->valuestring, "tfidf-lr");
    cJSON_Delete(j);
}

/* predict's printed probabilities equal the in-process classifier's, for every kind
 * and for inputs nobody expects. */
static void predict_matches_classifier(void **state) {
    (void)state;
    const char *texts[] = {"I love this crew, best flight", "worst delay ever, lost my bag", "",
                           "zzzz qqqq unknownword", "&amp; @someone http://x.co :( \xff\xfe"};
    char big[3000] = "";
    for (int i = 0; i < 200; i++) strcat(big, i & 1 ? "great " : "awful ");
    const char *names[] = {"tfidf", "w2vd", "bilstm"};
    for (int k = 0; k < 3; k++) {
        char path[400], err[256], out[8192];
        snprintf(path, sizeof path, "%s/%s.model", dir, names[k]);
        Classifier *c = classifier_load(path, err, sizeof err);
        assert_non_null(c);
        ClassifierBatch *b = classifier_batch_new(c, 8);
        for (int i = 0; i < 6; i++) {
            const char *t = i < 5 ? texts[i] : big;
            classifier_batch_add(b, t, strlen(t));
        }
        classifier_batch_score(b);
        char in_path[400];
        snprintf(in_path, sizeof in_path, "%s/in.txt", dir);
        FILE *f = fopenCheck(in_path, "w");
        for (int i = 0; i < 6; i++) fprintf(f, "%s\n", i < 5 ? texts[i] : big);
        fcloseCheck(f);
        assert_int_equal(run(out, sizeof out, "%s predict --model %s < %s", bin, path, in_path), 0);
        char *line = out;
        for (int i = 0; i < 6; i++) {
            char *nl = strchr(line, '\n');
            assert_non_null(nl);
            *nl = '\0';
            cJSON *j = cJSON_Parse(line);
            assert_non_null(j);
            double p = num(j, "p_positive");
            assert_true(p >= 0 && p <= 1);
            assert_true(p == classifier_round_p(classifier_batch_p(b, i)));
            const char *label = cJSON_GetObjectItemCaseSensitive(j, "label")->valuestring;
            assert_string_equal(label, p >= 0.5 ? "positive" : "negative");
            cJSON_Delete(j);
            line = nl + 1;
        }
        assert_int_equal(*line, '\0');
        classifier_batch_free(b);
        classifier_free(c);
    }
}

/* A line written alone into predict's stdin is answered before stdin closes. */
static void predict_answers_a_lone_line_at_once(void **state) {
    (void)state;
    int to[2], from[2];
    assert_int_equal(pipe(to), 0);
    assert_int_equal(pipe(from), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(to[0], 0);
        dup2(from[1], 1);
        close(to[1]);
        close(from[0]);
        char model[400];
        snprintf(model, sizeof model, "%s/bilstm.model", dir);
        execl(bin, bin, "predict", "--model", model, (char *)NULL);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    const char *line = "thanks for the great flight\n";
    assert_int_equal(write(to[1], line, strlen(line)), (ssize_t)strlen(line));
    struct pollfd pfd = {.fd = from[0], .events = POLLIN};
    assert_int_equal(poll(&pfd, 1, 10000), 1); /* answered while stdin is still open */
    char buf[1024];
    ssize_t n = read(from[0], buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_non_null(strstr(buf, "\"text\":\"thanks for the great flight\""));
    close(to[1]);
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(from[0]);
}

/* The same seed on one thread gives the same tensors (headers differ only by time). */
static void same_seed_same_model(void **state) {
    (void)state;
    cJSON *j = train("bilstm", "bilstm2", small_bilstm);
    cJSON_Delete(j);
    char a[400], b[400], err[256];
    snprintf(a, sizeof a, "%s/bilstm.model", dir);
    snprintf(b, sizeof b, "%s/bilstm2.model", dir);
    ModelFile ma, mb;
    assert_int_equal(modelfile_read(a, &ma, err, sizeof err), 0);
    assert_int_equal(modelfile_read(b, &mb, err, sizeof err), 0);
    assert_int_equal(ma.n_tensors, mb.n_tensors);
    for (int i = 0; i < ma.n_tensors; i++) {
        assert_string_equal(ma.tensors[i].name, mb.tensors[i].name);
        assert_int_equal(ma.tensors[i].nbytes, mb.tensors[i].nbytes);
        assert_memory_equal(ma.tensors[i].data, mb.tensors[i].data, ma.tensors[i].nbytes);
    }
    modelfile_free(&ma);
    modelfile_free(&mb);
}

/* The BiLSTM's optimiser flags reach the model file's hyper-parameters; bad values
 * are refused with status 2 (flag syntax) or 1 (out of range, before any training). */
static void bilstm_training_flags_are_recorded(void **state) {
    (void)state;
    char extra[512], path[400], err[256], out[4096];
    snprintf(extra, sizeof extra, "%s --ema 0.99 --emb-lr-scale 0.25 --lr-schedule cosine --lr-decay 0.3",
             small_bilstm);
    cJSON *j = train("bilstm", "bilstm-opts", extra);
    assert_true(num(j, "accuracy") > 0.85); /* still learns with all of them on */
    cJSON_Delete(j);
    snprintf(path, sizeof path, "%s/bilstm-opts.model", dir);
    ModelFile mf;
    assert_int_equal(modelfile_read(path, &mf, err, sizeof err), 0);
    cJSON *h = cJSON_Parse(mf.header_json);
    assert_non_null(h);
    const cJSON *hyper = cJSON_GetObjectItemCaseSensitive(h, "hyper");
    assert_true(fabs(num(hyper, "ema") - 0.99) < 1e-6);
    assert_true(fabs(num(hyper, "emb_lr_scale") - 0.25) < 1e-6);
    assert_true(fabs(num(hyper, "lr_decay") - 0.3) < 1e-6);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(hyper, "lr_schedule")->valuestring, "cosine");
    cJSON_Delete(h);
    modelfile_free(&mf);
    // the defaults, the shipped model's recipe, are recorded too
    snprintf(path, sizeof path, "%s/bilstm.model", dir);
    assert_int_equal(modelfile_read(path, &mf, err, sizeof err), 0);
    h = cJSON_Parse(mf.header_json);
    hyper = cJSON_GetObjectItemCaseSensitive(h, "hyper");
    assert_true(fabs(num(hyper, "ema") - 0.9997) < 1e-6 && num(hyper, "emb_lr_scale") == 1.0);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(hyper, "lr_schedule")->valuestring, "cosine");
    cJSON_Delete(h);
    modelfile_free(&mf);
    assert_int_equal(run(out, sizeof out, "%s train --data %s --lr-schedule step 2>&1", bin, data), 2);
    assert_non_null(strstr(out, "--lr-schedule is constant, linear or cosine"));
    assert_int_equal(run(out, sizeof out, "%s train --data %s --ema half 2>&1", bin, data), 2);
    assert_int_equal(run(out, sizeof out, "%s train --data %s --out %s/x.model --ema 1 2>&1", bin, data, dir),
                     1);
    assert_non_null(strstr(out, "ema decay 1 must be in [0,1)"));
}

/* A model file cut in half or with a flipped byte is a clear error, never a crash. */
static void corrupted_model_files_are_clear_errors(void **state) {
    (void)state;
    char src[400], cut[400], flip[400], out[4096];
    snprintf(src, sizeof src, "%s/bilstm.model", dir);
    snprintf(cut, sizeof cut, "%s/cut.model", dir);
    snprintf(flip, sizeof flip, "%s/flip.model", dir);
    FILE *f = fopenCheck(src, "rb");
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    rewind(f);
    char *buf = mallocCheck((size_t)len);
    freadCheck(buf, 1, (size_t)len, f);
    fcloseCheck(f);
    f = fopenCheck(cut, "wb");
    fwriteCheck(buf, 1, (size_t)len / 2, f);
    fcloseCheck(f);
    buf[len / 3] ^= 0x01;
    f = fopenCheck(flip, "wb");
    fwriteCheck(buf, 1, (size_t)len, f);
    fcloseCheck(f);
    free(buf);
    const char *bad[] = {cut, flip};
    for (int i = 0; i < 2; i++) {
        assert_int_equal(run(out, sizeof out, "%s predict --model %s hello 2>&1", bin, bad[i]), 1);
        assert_non_null(strstr(out, "checksum"));
        assert_non_null(strstr(out, bad[i]));
    }
    assert_int_equal(run(out, sizeof out, "%s predict --model %s/none.model hi 2>&1", bin, dir), 1);
    assert_non_null(strstr(out, "cannot open"));
    assert_int_equal(run(out, sizeof out, "%s evaluate --model %s 2>&1", bin, src), 2);
    assert_non_null(strstr(out, "--data"));
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(each_kind_trains_and_learns),
        cmocka_unit_test(evaluate_prints_one_json_line),
        cmocka_unit_test(predict_matches_classifier),
        cmocka_unit_test(predict_answers_a_lone_line_at_once),
        cmocka_unit_test(same_seed_same_model),
        cmocka_unit_test(bilstm_training_flags_are_recorded),
        cmocka_unit_test(corrupted_model_files_are_clear_errors),
    };
    return cmocka_run_group_tests_name("cli_model", tests, setup, teardown);
}
