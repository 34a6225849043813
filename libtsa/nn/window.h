/* Sliding windows over a (rows, F) float series: window s has inputs rows
 * s .. s + L - 1 and targets rows s + L .. s + L + P - 1. */
#ifndef TSA_NN_WINDOW_H
#define TSA_NN_WINDOW_H

#include <stddef.h>

/* A normalised series and the window shape. */
typedef struct tsa_nn_windows {
    const float *z; /* (rows, F) */
    size_t rows, F, L, P;
    int centre;     /* subtract each window's input mean (see window.c) */
} tsa_nn_windows;

/* The number of complete windows (0 when rows < L + P). */
size_t tsa_nn_window_count(size_t rows, size_t L, size_t P);

/* A chronological split of n windows: training windows [0, n_train),
 * validation windows [val_start, val_start + n_val). */
typedef struct tsa_nn_split {
    size_t n_train, val_start, n_val;
} tsa_nn_split;

/* Puts the last @fraction of the windows (at least one when fraction > 0)
 * in validation, leaving a gap of P - 1 windows so no training target is
 * also a validation target. Returns -1 when no training window is left. */
int tsa_nn_window_split(size_t n_windows, double fraction, size_t P, tsa_nn_split *out);

/* Gathers the windows starting at starts[0..B) into x (B, L, F), their
 * targets into y (B, P, F) (skipped when NULL; needs s + L + P <= rows) and
 * the subtracted centres into c (B, F). */
void tsa_nn_window_gather(const tsa_nn_windows *w, const size_t *starts, size_t B, float *x,
                          float *y, float *c);

#endif
