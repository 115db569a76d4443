/* test_word2vec.c — skip-gram training of model/word2vec.c on synthetic corpora with
 * planted structure (words that co-occur only within their group end up closer to
 * each other than to the other group), determinism with one thread, learning with
 * several threads, the subsampling rates, and the similarity helpers. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "model/util.h"
#include "model/vocab.h"
#include "model/word2vec.h"

/* A corpus of `ntweets` tweets of `len` tokens; each tweet picks one of `groups`
 * groups of `per_group` words (ids 2 + g*per_group ...) and draws its words uniformly
 * from it; one token in 10 is VOCAB_UNK, which training must skip. */
typedef struct {
    SeqSet set;
    int64_t *off;
    int32_t *ids;
    uint8_t *label;
    int64_t *counts;
    int V, groups, per_group;
} Corpus;

static Corpus corpus_make(int groups, int per_group, int ntweets, int len, uint64_t seed) {
    Corpus c = {.groups = groups, .per_group = per_group, .V = 2 + groups * per_group};
    Rng r;
    rng_seed(&r, seed);
    c.off = mallocCheck((size_t)(ntweets + 1) * sizeof *c.off);
    c.ids = mallocCheck((size_t)ntweets * len * sizeof *c.ids);
    c.label = callocCheck((size_t)ntweets, 1);
    c.counts = callocCheck((size_t)c.V, sizeof *c.counts);
    for (int i = 0; i < ntweets; i++) {
        int g = (int)rng_below(&r, (uint32_t)groups);
        c.off[i] = (int64_t)i * len;
        c.label[i] = (uint8_t)(g & 1);
        for (int j = 0; j < len; j++) {
            int32_t id =
                rng_below(&r, 10) == 0 ? VOCAB_UNK : 2 + g * per_group + (int32_t)rng_below(&r, per_group);
            c.ids[(size_t)i * len + j] = id;
            c.counts[id]++;
        }
    }
    c.off[ntweets] = (int64_t)ntweets * len;
    c.set = (SeqSet){.n = ntweets, .off = c.off, .ids = c.ids, .label = c.label};
    return c;
}

static void corpus_free(Corpus *c) {
    free(c->off);
    free(c->ids);
    free(c->label);
    free(c->counts);
}

static int group_of(const Corpus *c, int id) { return (id - 2) / c->per_group; }

/* Mean cosine over pairs of distinct words in the same group, and across groups.
 * centred: first subtract the mean vector of the words, which removes the direction
 * that all skip-gram vectors share (its size varies with Hogwild contention); the
 * group structure then reads directly: within -> 1, across -> -1/(groups-1). */
static void group_similarity(const Corpus *c, const float *emb, int D, int centred, double *within,
                             double *across) {
    const int nw = c->V - 2;
    float *x = mallocCheck((size_t)nw * D * sizeof *x), *mean = callocCheck((size_t)D, sizeof *mean);
    memcpy(x, emb + 2 * (size_t)D, (size_t)nw * D * sizeof *x);
    for (int a = 0; a < nw && centred; a++)
        for (int d = 0; d < D; d++) mean[d] += x[(size_t)a * D + d] / (float)nw;
    for (int a = 0; a < nw; a++)
        for (int d = 0; d < D; d++) x[(size_t)a * D + d] -= mean[d];
    double sw = 0, sa = 0;
    long cw = 0, ca = 0;
    for (int a = 0; a < nw; a++)
        for (int b = a + 1; b < nw; b++) {
            double s = w2v_cosine(x + (size_t)a * D, x + (size_t)b * D, D);
            if (group_of(c, a + 2) == group_of(c, b + 2)) {
                sw += s;
                cw++;
            } else {
                sa += s;
                ca++;
            }
        }
    *within = sw / (double)cw;
    *across = sa / (double)ca;
    free(x);
    free(mean);
}

/* Every word's per_group - 1 nearest neighbours are exactly the rest of its group. */
static void assert_neighbours_in_group(const Corpus *c, const float *emb, int D) {
    int32_t ids[64];
    const int k = c->per_group - 1;
    for (int w = 2; w < c->V; w++) {
        assert_int_equal(w2v_most_similar(emb, c->V, D, w, k, ids, NULL), k);
        for (int i = 0; i < k; i++)
            if (group_of(c, ids[i]) != group_of(c, w)) fail_msg("word %d: neighbour %d is %d", w, i, ids[i]);
    }
}

static W2VConfig small_config(int threads) {
    W2VConfig cfg = w2v_config_default();
    cfg.dim = 24;
    cfg.epochs = 3;
    cfg.sample = 0; /* every word is frequent in so small a corpus */
    cfg.threads = threads;
    cfg.seed = 7;
    return cfg;
}

static float *train(const Corpus *c, const W2VConfig *cfg) {
    float *emb = mallocCheck((size_t)c->V * cfg->dim * sizeof *emb);
    assert_int_equal(w2v_train(&c->set, c->counts, c->V, cfg, emb), 0);
    return emb;
}

static void config_defaults_and_checks(void **state) {
    (void)state;
    W2VConfig cfg = w2v_config_default();
    assert_int_equal(cfg.dim, 100);
    assert_int_equal(cfg.window, 5);
    assert_int_equal(cfg.negative, 5);
    assert_true(fabsf(cfg.sample - 1e-4f) < 1e-9f);
    assert_true(fabsf(cfg.alpha - 0.025f) < 1e-9f);
    char err[128] = "";
    assert_int_equal(w2v_config_check(&cfg, err, sizeof err), 0);
    W2VConfig bad[7];
    for (int i = 0; i < 7; i++) bad[i] = cfg;
    bad[0].dim = 0;
    bad[1].window = 0;
    bad[2].negative = 0;
    bad[3].epochs = 0;
    bad[4].threads = -1;
    bad[5].sample = -1e-4f;
    bad[6].alpha = NAN;
    const char *word[] = {"dim", "window", "negative", "epochs", "threads", "sample", "alpha"};
    for (int i = 0; i < 7; i++) {
        err[0] = '\0';
        assert_int_equal(w2v_config_check(&bad[i], err, sizeof err), -1);
        assert_non_null(strstr(err, word[i]));
    }
}

static void planted_groups_are_learned(void **state) {
    (void)state;
    Corpus c = corpus_make(2, 20, 3000, 10, 1);
    W2VConfig cfg = small_config(1);
    float *emb = train(&c, &cfg);
    double within, across, cwithin, cacross;
    group_similarity(&c, emb, cfg.dim, 0, &within, &across);
    group_similarity(&c, emb, cfg.dim, 1, &cwithin, &cacross);
    print_message("1 thread: mean cosine within groups %.3f, across %.3f; centred %.3f, %.3f\n", within,
                  across, cwithin, cacross);
    assert_true(within > 0.8);
    assert_true(within - across > 0.6); /* about 0.99 vs 0.12 */
    assert_true(cwithin > 0.8);
    assert_true(cacross < -0.8); /* two groups: opposite directions */
    assert_neighbours_in_group(&c, emb, cfg.dim);
    /* the specials stay zero */
    for (int d = 0; d < 2 * cfg.dim; d++) assert_true(emb[d] == 0.0f);
    /* a word's nearest neighbours are its group */
    int32_t ids[10];
    float sims[10];
    assert_int_equal(w2v_most_similar(emb, c.V, cfg.dim, 5, 10, ids, sims), 10);
    for (int i = 0; i < 10; i++) {
        assert_int_equal(group_of(&c, ids[i]), group_of(&c, 5));
        assert_true(ids[i] != 5 && ids[i] >= 2);
        if (i > 0) assert_true(sims[i] <= sims[i - 1]);
        assert_true(fabsf(sims[i] - w2v_cosine(emb + 5 * cfg.dim, emb + (size_t)ids[i] * cfg.dim, cfg.dim)) <
                    1e-6f);
    }
    free(emb);
    corpus_free(&c);
}

static void one_thread_is_deterministic(void **state) {
    (void)state;
    Corpus c = corpus_make(3, 10, 500, 8, 2);
    W2VConfig cfg = small_config(1);
    cfg.sample = 1e-3f;
    float *a = train(&c, &cfg), *b = train(&c, &cfg);
    assert_memory_equal(a, b, (size_t)c.V * cfg.dim * sizeof *a);
    cfg.seed = 8;
    float *d = train(&c, &cfg);
    assert_memory_not_equal(a, d, (size_t)c.V * cfg.dim * sizeof *a);
    free(a);
    free(b);
    free(d);
    corpus_free(&c);
}

static void several_threads_learn_too(void **state) {
    (void)state;
    Corpus c = corpus_make(4, 10, 4000, 10, 3);
    W2VConfig cfg = small_config(3);
    float *emb = train(&c, &cfg);
    /* 3 threads on 40 words: heavy Hogwild contention */
    double within, across, cwithin, cacross;
    group_similarity(&c, emb, cfg.dim, 0, &within, &across);
    group_similarity(&c, emb, cfg.dim, 1, &cwithin, &cacross);
    print_message("3 threads: mean cosine within groups %.3f, across %.3f; centred %.3f, %.3f\n", within,
                  across, cwithin, cacross);
    assert_true(within > 0.8);
    assert_true(cwithin > 0.8);
    assert_true(cacross < -0.2); /* four groups: about -1/3 */
    assert_neighbours_in_group(&c, emb, cfg.dim);
    free(emb);
    corpus_free(&c);
}

static void keep_probabilities_follow_word2vec(void **state) {
    (void)state;
    /* T = 10000; t = 1e-3 gives t*T = 10 */
    int64_t counts[6] = {0, 500, 9000, 900, 99, 1};
    float keep[6];
    w2v_keep_probs(counts, 6, 1e-3f, keep);
    assert_true(keep[0] == 0.0f && keep[1] == 0.0f);
    assert_true(fabsf(keep[2] - (float)((sqrt(900.0) + 1) * 10 / 9000)) < 1e-6f); /* 0.0344 */
    assert_true(fabsf(keep[3] - (float)((sqrt(90.0) + 1) * 10 / 900)) < 1e-6f);   /* 0.1165 */
    assert_true(fabsf(keep[4] - (float)((sqrt(9.9) + 1) * 10 / 99)) < 1e-6f);     /* 0.4188 */
    assert_true(keep[5] == 1.0f);
    w2v_keep_probs(counts, 6, 0.0f, keep);
    for (int i = 2; i < 6; i++) assert_true(keep[i] == 1.0f);
    assert_true(keep[1] == 0.0f);
}

static void subsampling_drops_frequent_words_at_the_expected_rate(void **state) {
    (void)state;
    int64_t counts[6] = {0, 500, 9000, 900, 99, 1};
    float keep[6];
    w2v_keep_probs(counts, 6, 1e-3f, keep);
    enum { N = 198000 }; /* a multiple of 6 */
    int32_t *ids = mallocCheck(N * sizeof *ids), *out = mallocCheck(N * sizeof *out);
    for (int i = 0; i < N; i++) ids[i] = i % 6;
    uint64_t rng = 12345;
    long kept[6] = {0};
    const int rounds = 5;
    for (int round = 0; round < rounds; round++) {
        int m = w2v_subsample(ids, N, keep, &rng, out);
        for (int i = 0; i < m; i++) kept[out[i]]++;
    }
    const double per_id = N / 6 * rounds;
    assert_int_equal(kept[0], 0);
    assert_int_equal(kept[1], 0);
    assert_int_equal(kept[5], (long)per_id);
    for (int id = 2; id <= 4; id++) {
        double p = keep[id], rate = kept[id] / per_id, sd = sqrt(p * (1 - p) / per_id);
        print_message("id %d: keep %.4f, observed %.4f\n", id, p, rate);
        assert_true(fabs(rate - p) < 5 * sd);
    }
    /* the survivors are a subsequence of the input, in order */
    int m = w2v_subsample(ids, 600, keep, &rng, out), j = 0;
    for (int i = 0; i < m; i++) {
        while (j < 600 && ids[j] != out[i]) j++;
        assert_true(j < 600);
        j++;
    }
    free(ids);
    free(out);
}

static void rejects_bad_input(void **state) {
    (void)state;
    Corpus c = corpus_make(2, 5, 20, 5, 4);
    W2VConfig cfg = small_config(1);
    float *emb = mallocCheck((size_t)c.V * cfg.dim * sizeof *emb);
    emb[0] = 42.0f;
    c.ids[17] = c.V; /* out of range */
    assert_int_equal(w2v_train(&c.set, c.counts, c.V, &cfg, emb), -1);
    c.ids[17] = -1;
    assert_int_equal(w2v_train(&c.set, c.counts, c.V, &cfg, emb), -1);
    c.ids[17] = 2;
    cfg.dim = 0;
    assert_int_equal(w2v_train(&c.set, c.counts, c.V, &cfg, emb), -1);
    cfg.dim = 24;
    assert_int_equal(w2v_train(&c.set, c.counts, 1, &cfg, emb), -1);
    assert_true(emb[0] == 42.0f); /* untouched */
    assert_int_equal(w2v_most_similar(emb, c.V, cfg.dim, c.V, 3, (int32_t[3]){0}, NULL), -1);
    assert_int_equal(w2v_most_similar(emb, c.V, cfg.dim, 2, -1, (int32_t[3]){0}, NULL), -1);
    free(emb);
    corpus_free(&c);
}

static void empty_corpus_gives_initial_vectors(void **state) {
    (void)state;
    int64_t off[1] = {0}, counts[4] = {0, 0, 3, 1};
    SeqSet empty = {.n = 0, .off = off, .ids = NULL, .label = NULL};
    W2VConfig cfg = small_config(0);
    float emb[4 * 24];
    assert_int_equal(w2v_train(&empty, counts, 4, &cfg, emb), 0);
    for (int d = 0; d < 2 * 24; d++) assert_true(emb[d] == 0.0f);
    for (int d = 2 * 24; d < 4 * 24; d++) assert_true(emb[d] != 0.0f && fabsf(emb[d]) <= 0.5f / 24);
    /* most_similar over what is there: k larger than the vocabulary */
    int32_t ids[8];
    float sims[8];
    assert_int_equal(w2v_most_similar(emb, 4, 24, 2, 8, ids, sims), 1);
    assert_int_equal(ids[0], 3);
    assert_int_equal(w2v_most_similar(emb, 4, 24, 2, 0, ids, sims), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(config_defaults_and_checks),
        cmocka_unit_test(planted_groups_are_learned),
        cmocka_unit_test(one_thread_is_deterministic),
        cmocka_unit_test(several_threads_learn_too),
        cmocka_unit_test(keep_probabilities_follow_word2vec),
        cmocka_unit_test(subsampling_drops_frequent_words_at_the_expected_rate),
        cmocka_unit_test(rejects_bad_input),
        cmocka_unit_test(empty_corpus_gives_initial_vectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
