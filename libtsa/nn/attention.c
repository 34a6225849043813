/* Causal multi-head attention (Vaswani et al. 2017, eq. 1 and sec. 3.2.2):
 * softmax(Q K^T / sqrt(d_h) + M) V per head, with M = -inf above the
 * diagonal. Each (sequence, head) pair is three strided sgemms forward and
 * four backward; the row softmax uses the running-maximum shift for
 * stability. */
#include "nn/attention.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/act.h"

void tsa_nn_attention_forward(float *out, float *att, const float *qkv, size_t B, size_t T,
                              size_t D, size_t H)
{
    const size_t dh = D / H, ld = 3 * D;
    const float scale = (float)(1.0 / sqrt((double)dh));
    for (size_t b = 0; b < B; b++)
        for (size_t hd = 0; hd < H; hd++) {
            const float *q = qkv + b * T * ld + hd * dh, *k = q + D, *v = q + 2 * D;
            float *p = att + (b * H + hd) * T * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dh, scale, q,
                        (int)ld, k, (int)ld, 0.0f, p, (int)T);
            for (size_t i = 0; i < T; i++) {
                float *row = p + i * T, mx = row[0];
                for (size_t j = 1; j <= i; j++)
                    mx = row[j] > mx ? row[j] : mx;
                size_t j = 0;
                float s = 0.0f;
#if TSA_NN_VEC
                tsa_v4f acc = tsa_v4f_set(0.0f), vmx = tsa_v4f_set(mx);
                for (; j + 4 <= i + 1; j += 4) {
                    tsa_v4f e = tsa_v4f_exp(tsa_v4f_load(row + j) - vmx);
                    tsa_v4f_store(row + j, e);
                    acc += e;
                }
                s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
#endif
                for (; j <= i; j++) {
                    row[j] = tsa_nn_expf(row[j] - mx);
                    s += row[j];
                }
                float inv = 1.0f / s;
                for (size_t j = 0; j <= i; j++)
                    row[j] *= inv;
                for (size_t j = i + 1; j < T; j++)
                    row[j] = 0.0f;
            }
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dh, (int)T, 1.0f, p,
                        (int)T, v, (int)ld, 0.0f, out + b * T * D + hd * dh, (int)D);
        }
}

void tsa_nn_attention_backward(float *dqkv, float *dp, const float *dout, const float *qkv,
                               const float *att, size_t B, size_t T, size_t D, size_t H)
{
    const size_t dh = D / H, ld = 3 * D;
    const float scale = (float)(1.0 / sqrt((double)dh));
    for (size_t b = 0; b < B; b++)
        for (size_t hd = 0; hd < H; hd++) {
            const float *q = qkv + b * T * ld + hd * dh, *k = q + D, *v = q + 2 * D;
            float *dq = dqkv + b * T * ld + hd * dh, *dk = dq + D, *dv = dq + 2 * D;
            const float *p = att + (b * H + hd) * T * T, *dO = dout + b * T * D + hd * dh;
            /* dP = dO V^T, dV += P^T dO */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)T, (int)T, (int)dh, 1.0f, dO,
                        (int)D, v, (int)ld, 0.0f, dp, (int)T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dh, (int)T, 1.0f, p,
                        (int)T, dO, (int)D, 1.0f, dv, (int)ld);
            /* Softmax backward: dS = P (dP - rowsum(P dP)); zero where masked. */
            for (size_t i = 0; i < T; i++) {
                const float *pr = p + i * T;
                float *dr = dp + i * T, s = 0.0f;
                for (size_t j = 0; j <= i; j++)
                    s += pr[j] * dr[j];
                for (size_t j = 0; j <= i; j++)
                    dr[j] = pr[j] * (dr[j] - s);
                for (size_t j = i + 1; j < T; j++)
                    dr[j] = 0.0f;
            }
            /* S = scale Q K^T: dQ += scale dS K, dK += scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)T, (int)dh, (int)T, scale,
                        dp, (int)T, k, (int)ld, 1.0f, dq, (int)ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dh, (int)T, scale, dp,
                        (int)T, q, (int)ld, 1.0f, dk, (int)ld);
        }
}
