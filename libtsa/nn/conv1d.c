/* Causal dilated convolution as in WaveNet (van den Oord et al. 2016) and
 * the TCN of Bai, Kolter & Koltun (2018), computed as im2col + one sgemm over
 * every (batch, time) row. */
#include "nn/conv1d.h"

#include <cblas.h>
#include <string.h>

#include "nn/linear.h"

size_t tsa_nn_conv1d_n_params(size_t Cin, size_t Cout, size_t K) { return Cout * K * Cin + Cout; }

void tsa_nn_conv1d_forward(float *y, float *col, const float *x, const float *W, const float *b,
                           size_t B, size_t T, size_t Cin, size_t Cout, size_t K, size_t dil,
                           size_t t0)
{
    const size_t KC = K * Cin, M = T - t0;
    for (size_t s = 0; s < B; s++)
        for (size_t t = t0; t < T; t++) {
            float *row = col + (s * M + t - t0) * KC;
            for (size_t k = 0; k < K; k++) {
                size_t back = (K - 1 - k) * dil;
                if (back > t)
                    memset(row + k * Cin, 0, Cin * sizeof *row);
                else
                    memcpy(row + k * Cin, x + (s * T + t - back) * Cin, Cin * sizeof *row);
            }
        }
    tsa_nn_linear_forward(y, col, W, b, B * M, KC, Cout);
}

void tsa_nn_conv1d_backward(float *dx, float *dW, float *db, float *dcol, const float *dy,
                            const float *col, const float *W, size_t B, size_t T, size_t Cin,
                            size_t Cout, size_t K, size_t dil, size_t t0)
{
    const size_t KC = K * Cin, M = T - t0;
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)Cout, (int)KC, (int)(B * M), 1.0f,
                dy, (int)Cout, col, (int)KC, 1.0f, dW, (int)KC);
    tsa_nn_colsum_add(db, dy, B * M, Cout);
    if (!dx)
        return;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(B * M), (int)KC, (int)Cout, 1.0f,
                dy, (int)Cout, W, (int)KC, 0.0f, dcol, (int)KC);
    for (size_t s = 0; s < B; s++)
        for (size_t t = t0; t < T; t++) {
            const float *row = dcol + (s * M + t - t0) * KC;
            for (size_t k = 0; k < K; k++) {
                size_t back = (K - 1 - k) * dil;
                if (back > t)
                    continue;
                float *dst = dx + (s * T + t - back) * Cin;
                const float *src = row + k * Cin;
                for (size_t c = 0; c < Cin; c++)
                    dst[c] += src[c];
            }
        }
}
