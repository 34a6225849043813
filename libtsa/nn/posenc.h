/* Sinusoidal positional encoding (Vaswani et al. 2017, sec. 3.5). */
#ifndef TSA_NN_POSENC_H
#define TSA_NN_POSENC_H

#include <stddef.h>

/* pe (T, D): pe[t, 2i] = sin(t / 10000^(2i/D)), pe[t, 2i+1] = cos(same). */
void tsa_nn_posenc_fill(float *pe, size_t T, size_t D);

/* x (B, T, D) += pe (T, D). The gradient passes through unchanged, so there
 * is no backward. */
void tsa_nn_posenc_add(float *x, const float *pe, size_t B, size_t T, size_t D);

#endif
