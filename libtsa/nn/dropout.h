/* Inverted dropout (Srivastava et al. 2014), used in training only. */
#ifndef TSA_NN_DROPOUT_H
#define TSA_NN_DROPOUT_H

#include <stddef.h>

#include "core/rng.h"

/* y = x * mask, mask[i] = 0 with probability p, else 1 / (1 - p), drawn from
 * @rng. y may alias x. p in [0, 1). */
void tsa_nn_dropout_forward(float *y, float *mask, const float *x, size_t n, float p,
                            tsa_rng *rng);

/* dx += dy * mask. */
void tsa_nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n);

#endif
