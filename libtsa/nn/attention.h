/* Multi-head causal scaled dot-product self-attention (the part between the
 * qkv projection and the output projection, which are nn/linear layers). */
#ifndef TSA_NN_ATTENTION_H
#define TSA_NN_ATTENTION_H

#include <stddef.h>

/* Floats of scratch the calls below need for sequences of T steps with H
 * heads of D / H columns. */
size_t tsa_nn_attention_scratch(size_t T, size_t D, size_t H);

/* qkv (B, T, 3D): the queries, keys and values of each step side by side,
 * each split into H heads of D / H columns. Only the queries of steps
 * t0 .. T - 1 are read (keys and values of every step are): with M = T - t0
 * query rows, writes out (B, M, D), the heads' outputs side by side, and
 * caches att (B, H, M, T), the softmax weights (zero above the diagonal:
 * step t attends to steps <= t). t0 = T - 1 is the last step alone, which
 * is all a head reading the last step needs. */
void tsa_nn_attention_forward(float *out, float *att, float *scratch, const float *qkv, size_t B,
                              size_t T, size_t D, size_t H, size_t t0);

/* Adds dqkv (B, T, 3D) from dout (B, M, D), after a forward with the same
 * t0 (the query part of rows before t0 gets nothing). */
void tsa_nn_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                               const float *att, size_t B, size_t T, size_t D, size_t H, size_t t0);

/* The same with strided OpenBLAS products, whatever the CPU: the path for
 * CPUs without AVX2, exposed so tests can hold the vector path against it. */
void tsa_nn_attention_forward_blas(float *out, float *att, float *scratch, const float *qkv,
                                   size_t B, size_t T, size_t D, size_t H, size_t t0);
void tsa_nn_attention_backward_blas(float *dqkv, float *scratch, const float *dout,
                                    const float *qkv, const float *att, size_t B, size_t T,
                                    size_t D, size_t H, size_t t0);

#endif
