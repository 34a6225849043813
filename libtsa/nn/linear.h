/* A fully connected layer: y = x W^T + b. */
#ifndef TSA_NN_LINEAR_H
#define TSA_NN_LINEAR_H

#include <stddef.h>

/* y (N, out) = x (N, in) W^T + b, with W (out, in) and b (out) or NULL. */
void tsa_nn_linear_forward(float *y, const float *x, const float *W, const float *b, size_t N,
                           size_t in, size_t out);

/* Adds dx (N, in) += dy W (skipped when dx is NULL), dW (out, in) += dy^T x
 * and db (out) += column sums of dy (skipped when db is NULL). */
void tsa_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                            const float *W, size_t N, size_t in, size_t out);

/* The same on rows @ldx floats apart in x (and dx) and @ldy apart in y (and
 * dy): a layer applied to some rows or columns of a wider matrix. */
void tsa_nn_linear_forward_ld(float *y, size_t ldy, const float *x, size_t ldx, const float *W,
                              const float *b, size_t N, size_t in, size_t out);
void tsa_nn_linear_backward_ld(float *dx, float *dW, float *db, const float *dy, size_t ldy,
                               const float *x, size_t ldx, const float *W, size_t N, size_t in,
                               size_t out);

/* Adds the column sums of a (N, n) matrix into @acc (n): bias gradients. */
void tsa_nn_colsum_add(float *acc, const float *a, size_t N, size_t n);

/* Copies the bias row into each of the N rows of y (N, n). */
void tsa_nn_rows_set(float *y, const float *b, size_t N, size_t n);

#endif
