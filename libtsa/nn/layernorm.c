/* Layer normalisation (Ba, Kiros & Hinton 2016); the backward pass is the
 * closed form dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma. */
#include "nn/layernorm.h"

#include <math.h>

#define LN_EPS 1e-5

void tsa_nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x,
                              const float *gamma, const float *beta, size_t N, size_t D)
{
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        double s = 0.0;
        for (size_t j = 0; j < D; j++)
            s += xr[j];
        double m = s / (double)D, v = 0.0;
        for (size_t j = 0; j < D; j++) {
            double d = xr[j] - m;
            v += d * d;
        }
        float rs = (float)(1.0 / sqrt(v / (double)D + LN_EPS)), mf = (float)m;
        for (size_t j = 0; j < D; j++)
            yr[j] = (xr[j] - mf) * rs * gamma[j] + beta[j];
        mean[r] = mf;
        rstd[r] = rs;
    }
}

void tsa_nn_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, size_t N, size_t D)
{
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        float *dxr = dx + r * D;
        const float m = mean[r], rs = rstd[r];
        float sg = 0.0f, sgx = 0.0f;
        for (size_t j = 0; j < D; j++) {
            float xh = (xr[j] - m) * rs, g = dyr[j] * gamma[j];
            sg += g;
            sgx += g * xh;
            dgamma[j] += dyr[j] * xh;
            dbeta[j] += dyr[j];
        }
        sg /= (float)D;
        sgx /= (float)D;
        for (size_t j = 0; j < D; j++) {
            float xh = (xr[j] - m) * rs;
            dxr[j] += rs * (dyr[j] * gamma[j] - sg - xh * sgx);
        }
    }
}
