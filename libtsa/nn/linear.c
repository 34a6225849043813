/* Fully connected layer on OpenBLAS sgemm: the batch is the M dimension, so
 * one call covers every row. */
#include "nn/linear.h"

#include <cblas.h>
#include <string.h>

#include "nn/act.h"

void tsa_nn_rows_set(float *y, const float *b, size_t N, size_t n)
{
    for (size_t r = 0; r < N; r++)
        memcpy(y + r * n, b, n * sizeof *y);
}

void tsa_nn_colsum_add(float *acc, const float *a, size_t N, size_t n)
{
    for (size_t r = 0; r < N; r++) {
        const float *row = a + r * n;
        size_t j = 0;
#if TSA_NN_VEC
        for (; j + 4 <= n; j += 4)
            tsa_v4f_store(acc + j, tsa_v4f_load(acc + j) + tsa_v4f_load(row + j));
#endif
        for (; j < n; j++)
            acc[j] += row[j];
    }
}

void tsa_nn_linear_forward_ld(float *y, size_t ldy, const float *x, size_t ldx, const float *W,
                              const float *b, size_t N, size_t in, size_t out)
{
    float beta = 0.0f;
    if (b) {
        for (size_t r = 0; r < N; r++)
            memcpy(y + r * ldy, b, out * sizeof *y);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)out, (int)in, 1.0f, x,
                (int)ldx, W, (int)in, beta, y, (int)ldy);
}

void tsa_nn_linear_backward_ld(float *dx, float *dW, float *db, const float *dy, size_t ldy,
                               const float *x, size_t ldx, const float *W, size_t N, size_t in,
                               size_t out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)in, (int)out, 1.0f,
                    dy, (int)ldy, W, (int)in, 1.0f, dx, (int)ldx);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)N, 1.0f, dy,
                (int)ldy, x, (int)ldx, 1.0f, dW, (int)in);
    if (db)
        for (size_t r = 0; r < N; r++)
            tsa_nn_colsum_add(db, dy + r * ldy, 1, out);
}

void tsa_nn_linear_forward(float *y, const float *x, const float *W, const float *b, size_t N,
                           size_t in, size_t out)
{
    float beta = 0.0f;
    if (b) {
        tsa_nn_rows_set(y, b, N, out);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)N, (int)out, (int)in, 1.0f, x,
                (int)in, W, (int)in, beta, y, (int)out);
}

void tsa_nn_linear_backward(float *dx, float *dW, float *db, const float *dy, const float *x,
                            const float *W, size_t N, size_t in, size_t out)
{
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)N, (int)in, (int)out, 1.0f,
                    dy, (int)out, W, (int)in, 1.0f, dx, (int)in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)out, (int)in, (int)N, 1.0f, dy,
                (int)out, x, (int)in, 1.0f, dW, (int)in);
    if (db)
        tsa_nn_colsum_add(db, dy, N, out);
}
