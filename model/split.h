/* split.h — seeded shuffles, balanced samples and train/validation/test splits of
 * labelled rows, over arrays of row indices so that any learner can use them.
 *
 * Conventions: `label` is indexed by row id and holds 0 (negative) or 1 (positive;
 * any non-zero value counts as 1). `idx` lists the n row ids to work on, or is NULL
 * for rows 0..n-1. Every result depends only on the labels in idx order, the
 * arguments and the seed: the same inputs give the same rows on any machine, with
 * any number of threads. */
#ifndef BUZZRADAR_SPLIT_H
#define BUZZRADAR_SPLIT_H

#include <stddef.h>
#include <stdint.h>

enum { SPLIT_TRAIN, SPLIT_VAL, SPLIT_TEST, SPLIT_PARTS };

typedef struct {
    int *part[SPLIT_PARTS]; /* row ids of train, validation and test, each in shuffled order */
    int n[SPLIT_PARTS];     /* their sizes; they add up to the rows split */
    int *ids;               /* the one allocation the parts point into */
} DataSplit;

/* Shuffles n row ids in place (Fisher–Yates, seeded). */
void split_shuffle(int *idx, int n, uint64_t seed);

/* Splits the rows into train/validation/test with fractions frac[SPLIT_TRAIN..TEST]
 * (each >= 0, adding up to 1). With stratify != 0 each label is split on its own, so
 * each part keeps the label proportions (each part's share of a label is rounded to
 * the nearest row); otherwise the shuffled rows are cut once. The parts are disjoint
 * and together hold every row. Returns 0, or -1 with a message in err for bad
 * fractions or n < 0 (out is then zeroed). Exits only when memory runs out. */
int split_make(const uint8_t *label, const int *idx, int n, const double frac[SPLIT_PARTS], uint64_t seed,
               int stratify, DataSplit *out, char *err, size_t errlen);

/* Frees a split and zeroes it (a zeroed split is fine). */
void split_free(DataSplit *s);

/* A balanced random sample of at most `limit` rows: limit/2 of each label when both
 * have that many, otherwise all of the rarer label and the rest from the other.
 * Writes the chosen row ids into out (room for min(n, limit) ids) in their order in
 * idx, and returns how many were written: min(n, limit), or n when limit <= 0. */
int split_sample_balanced(const uint8_t *label, const int *idx, int n, long limit, uint64_t seed, int *out);

#endif
