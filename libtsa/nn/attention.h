/* Multi-head causal scaled dot-product self-attention (the part between the
 * qkv projection and the output projection, which are nn/linear layers). */
#ifndef TSA_NN_ATTENTION_H
#define TSA_NN_ATTENTION_H

#include <stddef.h>

/* qkv (B, T, 3D): the queries, keys and values of each step side by side,
 * each split into H heads of D / H columns. Writes out (B, T, D), the heads'
 * outputs side by side, and caches att (B, H, T, T), the softmax weights
 * (zero above the diagonal: step t attends to steps <= t). */
void tsa_nn_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T,
                              size_t D, size_t H);

/* Adds dqkv (B, T, 3D) from dout (B, T, D). Scratch: dp (T, T). */
void tsa_nn_attention_backward(float *dqkv, float *dp, const float *dout, const float *qkv,
                               const float *att, size_t B, size_t T, size_t D, size_t H);

#endif
