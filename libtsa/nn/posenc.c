/* Sinusoidal positions (Vaswani et al. 2017, sec. 3.5): fixed, so a model
 * needs no parameters for them and they extend to any window length. */
#include "nn/posenc.h"

#include <math.h>

void tsa_nn_posenc_fill(float *pe, size_t T, size_t D)
{
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < D; j++) {
            double freq = pow(10000.0, -(double)(j - j % 2) / (double)D);
            double a = (double)t * freq;
            pe[t * D + j] = (float)(j % 2 ? cos(a) : sin(a));
        }
}

void tsa_nn_posenc_add(float *x, const float *pe, size_t B, size_t T, size_t D)
{
    for (size_t b = 0; b < B; b++) {
        float *xb = x + b * T * D;
        for (size_t i = 0; i < T * D; i++)
            xb[i] += pe[i];
    }
}
