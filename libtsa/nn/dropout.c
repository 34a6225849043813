/* Inverted dropout (Srivastava et al. 2014): scaling kept units by 1/(1-p)
 * in training leaves inference an identity. */
#include "nn/dropout.h"

void tsa_nn_dropout_forward(float *y, float *mask, const float *x, size_t n, float p,
                            tsa_rng *rng)
{
    const float keep = 1.0f / (1.0f - p);
    /* 24 random bits per unit: uniform on a float grid in [0, 1). */
    const float unit = 1.0f / 16777216.0f;
    for (size_t i = 0; i < n; i++) {
        float u = (float)(tsa_rng_next(rng) >> 40) * unit;
        mask[i] = u < p ? 0.0f : keep;
        y[i] = x[i] * mask[i];
    }
}

void tsa_nn_dropout_backward(float *dx, const float *dy, const float *mask, size_t n)
{
    for (size_t i = 0; i < n; i++)
        dx[i] += dy[i] * mask[i];
}
