/* split.c — seeded shuffles, balanced samples and stratified splits (see split.h). */
#include "model/split.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/util.h"

/* Independent random streams for the different uses of one seed. */
enum { SPLIT_STREAM_CLASS = 1, SPLIT_STREAM_PART = 3, SPLIT_STREAM_SAMPLE = 7 };

static void split_rng(Rng *r, uint64_t seed, uint64_t stream) {
    rng_seed(r, seed ^ (0x9E3779B97F4A7C15ULL * (stream + 1)));
}

static inline int split_row(const int *idx, int i) { return idx ? idx[i] : i; }

void split_shuffle(int *idx, int n, uint64_t seed) {
    Rng r;
    rng_seed(&r, seed);
    if (n > 1) rng_shuffle_int(&r, idx, (size_t)n);
}

/* Writes the row ids of each label into by_label (label 0 first, in idx order) and
 * returns the count of label 0. */
static int split_by_label(const uint8_t *label, const int *idx, int n, int *by_label) {
    int n0 = 0;
    for (int i = 0; i < n; i++) n0 += label[split_row(idx, i)] == 0;
    int a = 0, b = n0;
    for (int i = 0; i < n; i++) {
        int row = split_row(idx, i);
        if (label[row] == 0)
            by_label[a++] = row;
        else
            by_label[b++] = row;
    }
    return n0;
}

int split_make(const uint8_t *label, const int *idx, int n, const double frac[SPLIT_PARTS], uint64_t seed,
               int stratify, DataSplit *out, char *err, size_t errlen) {
    memset(out, 0, sizeof *out);
    double sum = 0;
    for (int p = 0; p < SPLIT_PARTS; p++) {
        if (!(frac[p] >= 0 && frac[p] <= 1)) {
            snprintf(err, errlen, "split fractions must be in [0, 1], got %g/%g/%g", frac[0], frac[1],
                     frac[2]);
            return -1;
        }
        sum += frac[p];
    }
    if (fabs(sum - 1.0) > 1e-6) {
        snprintf(err, errlen, "split fractions must add up to 1, got %g/%g/%g", frac[0], frac[1], frac[2]);
        return -1;
    }
    if (n < 0) {
        snprintf(err, errlen, "cannot split %d rows", n);
        return -1;
    }
    int *ids = mallocCheck((size_t)(n > 0 ? n : 1) * sizeof *ids);
    int *work = mallocCheck((size_t)(n > 0 ? n : 1) * sizeof *work);
    /* groups: one per label when stratified, else one for all rows */
    int group_start[3], ngroups;
    if (stratify) {
        group_start[1] = split_by_label(label, idx, n, work);
        group_start[0] = 0, group_start[2] = n, ngroups = 2;
    } else {
        for (int i = 0; i < n; i++) work[i] = split_row(idx, i);
        group_start[0] = 0, group_start[1] = n, ngroups = 1;
    }
    /* each group shuffled, then cut into test, validation, train */
    int cut[SPLIT_PARTS][2][2]; /* [part][group] = {start, count} in work */
    for (int g = 0; g < ngroups; g++) {
        int gs = group_start[g], gn = group_start[g + 1] - gs;
        Rng r;
        split_rng(&r, seed, SPLIT_STREAM_CLASS + (uint64_t)g);
        if (gn > 1) rng_shuffle_int(&r, work + gs, (size_t)gn);
        int ntest = (int)lround(frac[SPLIT_TEST] * gn);
        int nval = (int)lround(frac[SPLIT_VAL] * gn);
        if (ntest > gn) ntest = gn;
        if (nval > gn - ntest) nval = gn - ntest;
        cut[SPLIT_TEST][g][0] = gs, cut[SPLIT_TEST][g][1] = ntest;
        cut[SPLIT_VAL][g][0] = gs + ntest, cut[SPLIT_VAL][g][1] = nval;
        cut[SPLIT_TRAIN][g][0] = gs + ntest + nval, cut[SPLIT_TRAIN][g][1] = gn - ntest - nval;
    }
    /* gather each part from its groups and mix the labels */
    int at = 0;
    for (int p = 0; p < SPLIT_PARTS; p++) {
        out->part[p] = ids + at;
        for (int g = 0; g < ngroups; g++) {
            memcpy(ids + at, work + cut[p][g][0], (size_t)cut[p][g][1] * sizeof *ids);
            at += cut[p][g][1];
        }
        out->n[p] = (int)(ids + at - out->part[p]);
        Rng r;
        split_rng(&r, seed, SPLIT_STREAM_PART + (uint64_t)p);
        if (out->n[p] > 1) rng_shuffle_int(&r, out->part[p], (size_t)out->n[p]);
    }
    free(work);
    out->ids = ids;
    return 0;
}

void split_free(DataSplit *s) {
    free(s->ids);
    memset(s, 0, sizeof *s);
}

int split_sample_balanced(const uint8_t *label, const int *idx, int n, long limit, uint64_t seed, int *out) {
    if (n <= 0) return 0;
    if (limit <= 0 || limit >= n) {
        for (int i = 0; i < n; i++) out[i] = split_row(idx, i);
        return n;
    }
    /* positions (into idx) of each label, label 0 first */
    int *pos = mallocCheck((size_t)n * sizeof *pos);
    int n0 = 0;
    for (int i = 0; i < n; i++) n0 += label[split_row(idx, i)] == 0;
    int a = 0, b = n0;
    for (int i = 0; i < n; i++) pos[label[split_row(idx, i)] == 0 ? a++ : b++] = i;
    int n1 = n - n0;
    long want0 = limit / 2, want1 = limit - want0;
    if (want0 > n0) want0 = n0, want1 = limit - n0;
    if (want1 > n1) want1 = n1, want0 = limit - n1;
    /* partial Fisher–Yates: the first want_c positions of each label are a uniform sample */
    Rng r;
    split_rng(&r, seed, SPLIT_STREAM_SAMPLE);
    const int start[2] = {0, n0}, count[2] = {n0, n1};
    const long want[2] = {want0, want1};
    unsigned char *chosen = callocCheck((size_t)n, 1);
    for (int c = 0; c < 2; c++) {
        int *p = pos + start[c];
        for (long k = 0; k < want[c]; k++) {
            long j = k + rng_below(&r, (uint32_t)(count[c] - k));
            int t = p[k];
            p[k] = p[j];
            p[j] = t;
            chosen[p[k]] = 1;
        }
    }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (chosen[i]) out[m++] = split_row(idx, i);
    free(chosen);
    free(pos);
    return m;
}
