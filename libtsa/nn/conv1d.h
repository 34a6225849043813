/* Causal dilated 1-D convolution over (B, T, C) sequences: the output at t
 * sees inputs t, t - d, ..., t - (K - 1) d, zero before the start. */
#ifndef TSA_NN_CONV1D_H
#define TSA_NN_CONV1D_H

#include <stddef.h>

/* W (Cout, K, Cin): tap k multiplies x[t - (K - 1 - k) d]; b (Cout). */
size_t tsa_nn_conv1d_n_params(size_t Cin, size_t Cout, size_t K);

/* y (B, M, Cout) = conv(x (B, T, Cin)) at the steps t0 .. T - 1 only
 * (M = T - t0; t0 = 0 for every step); col (B * M, K * Cin) receives the
 * unfolded input, which backward reuses. */
void tsa_nn_conv1d_forward(float *y, float *col, const float *x, const float *W, const float *b,
                           size_t B, size_t T, size_t Cin, size_t Cout, size_t K, size_t dil,
                           size_t t0);

/* Adds dW, db and, when dx is non-NULL, dx (B, T, Cin), from dy (B, M, Cout)
 * after a forward with the same t0. dcol (B * M, K * Cin) is scratch. */
void tsa_nn_conv1d_backward(float *dx, float *dW, float *db, float *dcol, const float *dy,
                            const float *col, const float *W, size_t B, size_t T, size_t Cin,
                            size_t Cout, size_t K, size_t dil, size_t t0);

#endif
