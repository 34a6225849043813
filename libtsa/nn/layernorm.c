/* Layer normalisation (Ba, Kiros & Hinton 2016); the backward pass is the
 * closed form dx = rstd (g - mean(g) - xhat mean(g xhat)) with g = dy gamma.
 *
 * Row sums run in eight float lanes (column j in lane j mod 8, the lanes
 * added in a fixed tree, the last D mod 8 columns after it), with AVX2
 * where the CPU has it and in a scalar loop of the same operations
 * otherwise, so both paths give the same bits. */
#include "nn/layernorm.h"

#include <math.h>

#include "nn/act.h"

#define LN_EPS 1e-5

static inline float tree8(const float *a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

/* 1 / sqrt(var + eps) from the sum of squared deviations. */
static inline float rstd_of(float ssq, size_t D)
{
    return (float)(1.0 / sqrt((double)ssq / (double)D + LN_EPS));
}

static void forward_scalar(float *y, float *mean, float *rstd, const float *x, const float *gamma,
                           const float *beta, size_t N, size_t D)
{
    const size_t D8 = D & ~(size_t)7;
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D, acc[8] = {0};
        for (size_t j = 0; j < D8; j++)
            acc[j % 8] += xr[j];
        float s = tree8(acc);
        for (size_t j = D8; j < D; j++)
            s += xr[j];
        const float m = s / (float)D;
        for (size_t l = 0; l < 8; l++)
            acc[l] = 0.0f;
        for (size_t j = 0; j < D8; j++)
            acc[j % 8] += (xr[j] - m) * (xr[j] - m);
        float v = tree8(acc);
        for (size_t j = D8; j < D; j++)
            v += (xr[j] - m) * (xr[j] - m);
        const float rs = rstd_of(v, D);
        for (size_t j = 0; j < D; j++)
            yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
        mean[r] = m;
        rstd[r] = rs;
    }
}

static void backward_scalar(float *dx, float *dgamma, float *dbeta, const float *dy,
                            const float *x, const float *mean, const float *rstd,
                            const float *gamma, size_t N, size_t D)
{
    const size_t D8 = D & ~(size_t)7;
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        float *dxr = dx + r * D;
        const float m = mean[r], rs = rstd[r];
        float ag[8] = {0}, agx[8] = {0};
        for (size_t j = 0; j < D8; j++) {
            float xh = (xr[j] - m) * rs, g = dyr[j] * gamma[j];
            ag[j % 8] += g;
            agx[j % 8] += g * xh;
            dgamma[j] += dyr[j] * xh;
            dbeta[j] += dyr[j];
        }
        float sg = tree8(ag), sgx = tree8(agx);
        for (size_t j = D8; j < D; j++) {
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

#if TSA_NN_AVX2
TSA_NN_TARGET_AVX2 static inline float tree8v(tsa_v8f a)
{
    float l[8];
    tsa_v8f_store(l, a);
    return tree8(l);
}

TSA_NN_TARGET_AVX2 static void forward_avx2(float *y, float *mean, float *rstd, const float *x,
                                            const float *gamma, const float *beta, size_t N,
                                            size_t D)
{
    const size_t D8 = D & ~(size_t)7;
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * D;
        float *yr = y + r * D;
        tsa_v8f acc = tsa_v8f_set(0.0f);
        for (size_t j = 0; j < D8; j += 8)
            acc += tsa_v8f_load(xr + j);
        float s = tree8v(acc);
        for (size_t j = D8; j < D; j++)
            s += xr[j];
        const float m = s / (float)D;
        const tsa_v8f vm = tsa_v8f_set(m);
        acc = tsa_v8f_set(0.0f);
        for (size_t j = 0; j < D8; j += 8) {
            tsa_v8f d = tsa_v8f_load(xr + j) - vm;
            acc += d * d;
        }
        float v = tree8v(acc);
        for (size_t j = D8; j < D; j++)
            v += (xr[j] - m) * (xr[j] - m);
        const float rs = rstd_of(v, D);
        const tsa_v8f vrs = tsa_v8f_set(rs);
        size_t j = 0;
        for (; j < D8; j += 8)
            tsa_v8f_store(yr + j, (tsa_v8f_load(xr + j) - vm) * vrs * tsa_v8f_load(gamma + j) +
                                      tsa_v8f_load(beta + j));
        for (; j < D; j++)
            yr[j] = (xr[j] - m) * rs * gamma[j] + beta[j];
        mean[r] = m;
        rstd[r] = rs;
    }
}

TSA_NN_TARGET_AVX2 static void backward_avx2(float *dx, float *dgamma, float *dbeta,
                                             const float *dy, const float *x, const float *mean,
                                             const float *rstd, const float *gamma, size_t N,
                                             size_t D)
{
    const size_t D8 = D & ~(size_t)7;
    for (size_t r = 0; r < N; r++) {
        const float *xr = x + r * D, *dyr = dy + r * D;
        float *dxr = dx + r * D;
        const float m = mean[r], rs = rstd[r];
        const tsa_v8f vm = tsa_v8f_set(m), vrs = tsa_v8f_set(rs);
        tsa_v8f ag = tsa_v8f_set(0.0f), agx = ag;
        for (size_t j = 0; j < D8; j += 8) {
            tsa_v8f xh = (tsa_v8f_load(xr + j) - vm) * vrs, d = tsa_v8f_load(dyr + j);
            tsa_v8f g = d * tsa_v8f_load(gamma + j);
            ag += g;
            agx += g * xh;
            tsa_v8f_store(dgamma + j, tsa_v8f_load(dgamma + j) + d * xh);
            tsa_v8f_store(dbeta + j, tsa_v8f_load(dbeta + j) + d);
        }
        float sg = tree8v(ag), sgx = tree8v(agx);
        for (size_t j = D8; j < D; j++) {
            float xh = (xr[j] - m) * rs, g = dyr[j] * gamma[j];
            sg += g;
            sgx += g * xh;
            dgamma[j] += dyr[j] * xh;
            dbeta[j] += dyr[j];
        }
        sg /= (float)D;
        sgx /= (float)D;
        const tsa_v8f vsg = tsa_v8f_set(sg), vsgx = tsa_v8f_set(sgx);
        size_t j = 0;
        for (; j < D8; j += 8) {
            tsa_v8f xh = (tsa_v8f_load(xr + j) - vm) * vrs;
            tsa_v8f t = tsa_v8f_load(dyr + j) * tsa_v8f_load(gamma + j) - vsg - xh * vsgx;
            tsa_v8f_store(dxr + j, tsa_v8f_load(dxr + j) + vrs * t);
        }
        for (; j < D; j++) {
            float xh = (xr[j] - m) * rs;
            dxr[j] += rs * (dyr[j] * gamma[j] - sg - xh * sgx);
        }
    }
}
#endif

void tsa_nn_layernorm_forward(float *y, float *mean, float *rstd, const float *x,
                              const float *gamma, const float *beta, size_t N, size_t D)
{
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2()) {
        forward_avx2(y, mean, rstd, x, gamma, beta, N, D);
        return;
    }
#endif
    forward_scalar(y, mean, rstd, x, gamma, beta, N, D);
}

void tsa_nn_layernorm_backward(float *dx, float *dgamma, float *dbeta, const float *dy,
                               const float *x, const float *mean, const float *rstd,
                               const float *gamma, size_t N, size_t D)
{
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2()) {
        backward_avx2(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, D);
        return;
    }
#endif
    backward_scalar(dx, dgamma, dbeta, dy, x, mean, rstd, gamma, N, D);
}
