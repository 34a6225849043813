/* Layer normalisation over the last dimension (Ba, Kiros & Hinton 2016). */
#ifndef TSA_NN_LAYERNORM_H
#define TSA_NN_LAYERNORM_H

#include <stddef.h>

/* y (N, D) = (x - mean) / sqrt(var + 1e-5) * gamma + beta, per row; caches
 * mean (N) and rstd (N). y may not alias x. */
void tsa_nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x,
                              const float *gamma, const float *beta, size_t N, size_t D);

/* Adds dx (N, D), dgamma (D), dbeta (D). */
void tsa_nn_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, size_t N, size_t D);

#endif
