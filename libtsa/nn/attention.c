/* Causal multi-head attention (Vaswani et al. 2017, eq. 1 and sec. 3.2.2):
 * softmax(Q K^T / sqrt(d_h) + M) V per head, with M = -inf above the
 * diagonal. The row softmax uses the running-maximum shift for stability.
 *
 * Two paths. With AVX2, each (sequence, head) pair is computed directly:
 * scores eight keys at a time against a transposed copy of the keys, only
 * up to the diagonal, the softmax in the same pass, and the weighted sums
 * eight value columns at a time. Heads are narrow (8 columns by default),
 * where one strided sgemm per pair spends most of its time packing. The
 * portable path is three strided sgemms per pair forward and four
 * backward. */
#include "nn/attention.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/act.h"

size_t tsa_nn_attention_scratch(size_t T, size_t D, size_t H)
{
    const size_t dh = D / H;
    return ((T * T + 15) & ~(size_t)15) + dh * T;
}

/* Softmax of row[0 .. n) in place, zero on [n, T). */
static void softmax_row(float *row, size_t n, size_t T)
{
    float mx = row[0];
    for (size_t j = 1; j < n; j++)
        mx = row[j] > mx ? row[j] : mx;
    size_t j = 0;
    float s = 0.0f;
#if TSA_NN_VEC
    tsa_v4f acc = tsa_v4f_set(0.0f), vmx = tsa_v4f_set(mx);
    for (; j + 4 <= n; j += 4) {
        tsa_v4f e = tsa_v4f_exp(tsa_v4f_load(row + j) - vmx);
        tsa_v4f_store(row + j, e);
        acc += e;
    }
    s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
#endif
    for (; j < n; j++) {
        row[j] = tsa_nn_expf(row[j] - mx);
        s += row[j];
    }
    float inv = 1.0f / s;
    for (j = 0; j < n; j++)
        row[j] *= inv;
    for (j = n; j < T; j++)
        row[j] = 0.0f;
}

void tsa_nn_attention_forward_blas(float *out, float *att, float *scratch, const float *qkv,
                                   size_t B, size_t T, size_t D, size_t H, size_t t0)
{
    (void)scratch;
    const size_t dh = D / H, ld = 3 * D, M = T - t0;
    const float scale = (float)(1.0 / sqrt((double)dh));
    for (size_t b = 0; b < B; b++)
        for (size_t hd = 0; hd < H; hd++) {
            const float *k = qkv + b * T * ld + D + hd * dh, *v = k + D;
            const float *q = qkv + (b * T + t0) * ld + hd * dh;
            float *p = att + (b * H + hd) * M * T;
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)T, (int)dh, scale, q,
                        (int)ld, k, (int)ld, 0.0f, p, (int)T);
            for (size_t i = 0; i < M; i++)
                softmax_row(p + i * T, t0 + i + 1, T);
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)dh, (int)T, 1.0f, p,
                        (int)T, v, (int)ld, 0.0f, out + b * M * D + hd * dh, (int)D);
        }
}

void tsa_nn_attention_backward_blas(float *dqkv, float *scratch, const float *dout,
                                    const float *qkv, const float *att, size_t B, size_t T,
                                    size_t D, size_t H, size_t t0)
{
    const size_t dh = D / H, ld = 3 * D, M = T - t0;
    const float scale = (float)(1.0 / sqrt((double)dh));
    float *dp = scratch; /* (M, T) */
    for (size_t b = 0; b < B; b++)
        for (size_t hd = 0; hd < H; hd++) {
            const float *k = qkv + b * T * ld + D + hd * dh, *v = k + D;
            const float *q = qkv + (b * T + t0) * ld + hd * dh;
            float *dk = dqkv + b * T * ld + D + hd * dh, *dv = dk + D;
            float *dq = dqkv + (b * T + t0) * ld + hd * dh;
            const float *p = att + (b * H + hd) * M * T, *dO = dout + b * M * D + hd * dh;
            /* dP = dO V^T, dV += P^T dO */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)M, (int)T, (int)dh, 1.0f, dO,
                        (int)D, v, (int)ld, 0.0f, dp, (int)T);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dh, (int)M, 1.0f, p,
                        (int)T, dO, (int)D, 1.0f, dv, (int)ld);
            /* Softmax backward: dS = P (dP - rowsum(P dP)); zero where masked. */
            for (size_t i = 0; i < M; i++) {
                const size_t n = t0 + i + 1;
                const float *pr = p + i * T;
                float *dr = dp + i * T, s = 0.0f;
                for (size_t j = 0; j < n; j++)
                    s += pr[j] * dr[j];
                for (size_t j = 0; j < n; j++)
                    dr[j] = pr[j] * (dr[j] - s);
                for (size_t j = n; j < T; j++)
                    dr[j] = 0.0f;
            }
            /* S = scale Q K^T: dQ += scale dS K, dK += scale dS^T Q */
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)M, (int)dh, (int)T, scale,
                        dp, (int)T, k, (int)ld, 1.0f, dq, (int)ld);
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)T, (int)dh, (int)M, scale, dp,
                        (int)T, q, (int)ld, 1.0f, dk, (int)ld);
        }
}

#if TSA_NN_AVX2
TSA_NN_TARGET_AVX2 static inline float hsum8(tsa_v8f a)
{
    return ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
}

TSA_NN_TARGET_AVX2 static inline float hmax8(tsa_v8f a)
{
    float m = a[0];
    for (int l = 1; l < 8; l++)
        m = a[l] > m ? a[l] : m;
    return m;
}

/* Lanes j .. j + 7 that are < n. */
TSA_NN_TARGET_AVX2 static inline tsa_v8i lanes_below(size_t j, size_t n)
{
    const tsa_v8i idx = {0, 1, 2, 3, 4, 5, 6, 7};
    const int32_t lim = (int32_t)(n - j);
    return idx < (tsa_v8i){lim, lim, lim, lim, lim, lim, lim, lim};
}

/* sum_{j < n} w[j * ws] x[j * ld + c .. + 8]: four chains, so the adds
 * overlap. */
TSA_NN_TARGET_AVX2 static inline tsa_v8f wsum8(const float *w, size_t ws, const float *x, size_t ld,
                                               size_t n)
{
    tsa_v8f a0 = tsa_v8f_set(0.0f), a1 = a0, a2 = a0, a3 = a0;
    size_t j = 0;
    for (; j + 4 <= n; j += 4) {
        a0 += tsa_v8f_set(w[j * ws]) * tsa_v8f_load(x + j * ld);
        a1 += tsa_v8f_set(w[(j + 1) * ws]) * tsa_v8f_load(x + (j + 1) * ld);
        a2 += tsa_v8f_set(w[(j + 2) * ws]) * tsa_v8f_load(x + (j + 2) * ld);
        a3 += tsa_v8f_set(w[(j + 3) * ws]) * tsa_v8f_load(x + (j + 3) * ld);
    }
    for (; j < n; j++)
        a0 += tsa_v8f_set(w[j * ws]) * tsa_v8f_load(x + j * ld);
    return (a0 + a1) + (a2 + a3);
}

/* The scalar column of wsum8. */
static inline float wsum1(const float *w, size_t ws, const float *x, size_t ld, size_t n)
{
    float s = 0.0f;
    for (size_t j = 0; j < n; j++)
        s += w[j * ws] * x[j * ld];
    return s;
}

/* y[c] (+)= k * sum_{j < n} w[j * ws] x[j * ld + c] for c < dh. */
TSA_NN_TARGET_AVX2 static void wsum_row(float *y, int add, float k, const float *w, size_t ws,
                                        const float *x, size_t ld, size_t n, size_t dh)
{
    size_t c = 0;
    for (; c + 8 <= dh; c += 8) {
        tsa_v8f s = wsum8(w, ws, x + c, ld, n) * tsa_v8f_set(k);
        tsa_v8f_store(y + c, add ? tsa_v8f_load(y + c) + s : s);
    }
    for (; c < dh; c++) {
        float s = wsum1(w, ws, x + c, ld, n) * k;
        y[c] = add ? y[c] + s : s;
    }
}

/* xt (dh, T) = the transpose of the head's dh columns of x (T rows, ld
 * apart): 8 x 8 blocks through shuffles, the rest one float at a time. */
TSA_NN_TARGET_AVX2 static void transpose_head(float *xt, const float *x, size_t ld, size_t T,
                                              size_t dh)
{
    size_t j = 0;
    if (dh == 8)
        for (; j + 8 <= T; j += 8) {
            __m256 r[8], u[8], s[8];
            for (size_t i = 0; i < 8; i++)
                r[i] = _mm256_loadu_ps(x + (j + i) * ld);
            for (size_t i = 0; i < 8; i += 2) {
                u[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
                u[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
            }
            for (size_t i = 0; i < 8; i += 4) {
                s[i] = _mm256_shuffle_ps(u[i], u[i + 2], 0x44);
                s[i + 1] = _mm256_shuffle_ps(u[i], u[i + 2], 0xEE);
                s[i + 2] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0x44);
                s[i + 3] = _mm256_shuffle_ps(u[i + 1], u[i + 3], 0xEE);
            }
            /* s[d] holds column d of rows 0-3 in its low half and column
             * d + 4 in its high half; s[d + 4] the same for rows 4-7. */
            for (size_t d = 0; d < 4; d++) {
                _mm256_storeu_ps(xt + d * T + j, _mm256_permute2f128_ps(s[d], s[d + 4], 0x20));
                _mm256_storeu_ps(xt + (d + 4) * T + j,
                                 _mm256_permute2f128_ps(s[d], s[d + 4], 0x31));
            }
        }
    for (; j < T; j++)
        for (size_t d = 0; d < dh; d++)
            xt[d * T + j] = x[j * ld + d];
}

/* row[j] = k * sum_d a[d] xt[d * T + j] for j < n (j < the end of the last
 * 8-lane block when it fits in T; the lanes past n are left unmasked).
 * Returns the end of the vector-written part. */
TSA_NN_TARGET_AVX2 static size_t dot_row(float *row, float k, const float *a, const float *xt,
                                         size_t T, size_t n, size_t dh)
{
    size_t j = 0;
    if (dh == 8) { /* the default head width: the query stays in registers */
        const tsa_v8f a0 = tsa_v8f_set(a[0]), a1 = tsa_v8f_set(a[1]), a2 = tsa_v8f_set(a[2]),
                      a3 = tsa_v8f_set(a[3]), a4 = tsa_v8f_set(a[4]), a5 = tsa_v8f_set(a[5]),
                      a6 = tsa_v8f_set(a[6]), a7 = tsa_v8f_set(a[7]);
        for (; j < n && j + 8 <= T; j += 8) {
            const float *c = xt + j;
            tsa_v8f acc = a0 * tsa_v8f_load(c);
            acc += a1 * tsa_v8f_load(c + T);
            acc += a2 * tsa_v8f_load(c + 2 * T);
            acc += a3 * tsa_v8f_load(c + 3 * T);
            acc += a4 * tsa_v8f_load(c + 4 * T);
            acc += a5 * tsa_v8f_load(c + 5 * T);
            acc += a6 * tsa_v8f_load(c + 6 * T);
            acc += a7 * tsa_v8f_load(c + 7 * T);
            tsa_v8f_store(row + j, acc * tsa_v8f_set(k));
        }
    }
    for (; j < n && j + 8 <= T; j += 8) {
        tsa_v8f acc = tsa_v8f_set(0.0f);
        for (size_t d = 0; d < dh; d++)
            acc += tsa_v8f_set(a[d]) * tsa_v8f_load(xt + d * T + j);
        tsa_v8f_store(row + j, acc * tsa_v8f_set(k));
    }
    const size_t jv = j;
    for (; j < n; j++) {
        float s = 0.0f;
        for (size_t d = 0; d < dh; d++)
            s += a[d] * xt[d * T + j];
        row[j] = s * k;
    }
    return jv;
}

/* Softmax of row[0 .. n) in place, zero on [n, T); [0, jv) is whole
 * 8-lane blocks. */
TSA_NN_TARGET_AVX2 static void softmax_row_avx2(float *row, size_t n, size_t jv, size_t T)
{
    /* Blocks wholly below n, then the one n cuts (masked). */
    const size_t jf = jv < (n & ~(size_t)7) ? jv : (n & ~(size_t)7);
    tsa_v8f vm = tsa_v8f_set(-INFINITY);
    size_t j = 0;
    for (; j < jf; j += 8)
        vm = (tsa_v8f)_mm256_max_ps((__m256)tsa_v8f_load(row + j), (__m256)vm);
    for (; j < jv; j += 8) {
        tsa_v8f x =
            tsa_v8f_select(lanes_below(j, n), tsa_v8f_load(row + j), tsa_v8f_set(-INFINITY));
        vm = tsa_v8f_select(x > vm, x, vm);
    }
    float mx = jv ? hmax8(vm) : row[0];
    for (; j < n; j++)
        mx = row[j] > mx ? row[j] : mx;
    tsa_v8f acc = tsa_v8f_set(0.0f), vmx = tsa_v8f_set(mx);
    for (j = 0; j < jf; j += 8) {
        tsa_v8f e = tsa_v8f_exp(tsa_v8f_load(row + j) - vmx);
        tsa_v8f_store(row + j, e);
        acc += e;
    }
    for (; j < jv; j += 8) {
        tsa_v8f e = tsa_v8f_exp(tsa_v8f_load(row + j) - vmx);
        e = tsa_v8f_select(lanes_below(j, n), e, tsa_v8f_set(0.0f));
        tsa_v8f_store(row + j, e);
        acc += e;
    }
    float s = hsum8(acc);
    for (; j < n; j++) {
        row[j] = tsa_nn_expf(row[j] - mx);
        s += row[j];
    }
    const float inv = 1.0f / s;
    const tsa_v8f vinv = tsa_v8f_set(inv);
    for (j = 0; j < jv; j += 8)
        tsa_v8f_store(row + j, tsa_v8f_load(row + j) * vinv);
    for (; j < n; j++)
        row[j] *= inv;
    for (; j < T; j++)
        row[j] = 0.0f;
}

TSA_NN_TARGET_AVX2 static void attention_forward_avx2(float *out, float *att, float *scratch,
                                                      const float *qkv, size_t B, size_t T,
                                                      size_t D, size_t H, size_t t0)
{
    const size_t dh = D / H, ld = 3 * D, M = T - t0;
    const float scale = (float)(1.0 / sqrt((double)dh));
    float *kt = scratch; /* (dh, T) */
    for (size_t b = 0; b < B; b++)
        for (size_t hd = 0; hd < H; hd++) {
            const float *k = qkv + b * T * ld + D + hd * dh, *v = k + D;
            const float *q = qkv + (b * T + t0) * ld + hd * dh;
            float *p = att + (b * H + hd) * M * T;
            transpose_head(kt, k, ld, T, dh);
            for (size_t i = 0; i < M; i++) {
                const size_t n = t0 + i + 1;
                float *row = p + i * T;
                size_t jv = dot_row(row, scale, q + i * ld, kt, T, n, dh);
                softmax_row_avx2(row, n, jv, T);
                wsum_row(out + (b * M + i) * D + hd * dh, 0, 1.0f, row, 1, v, ld, n, dh);
            }
        }
}

TSA_NN_TARGET_AVX2 static void attention_backward_avx2(float *dqkv, float *scratch,
                                                       const float *dout, const float *qkv,
                                                       const float *att, size_t B, size_t T,
                                                       size_t D, size_t H, size_t t0)
{
    const size_t dh = D / H, ld = 3 * D, M = T - t0;
    const float scale = (float)(1.0 / sqrt((double)dh));
    float *dp = scratch, *vt = scratch + ((T * T + 15) & ~(size_t)15); /* (M, T), (dh, T) */
    for (size_t b = 0; b < B; b++)
        for (size_t hd = 0; hd < H; hd++) {
            const float *k = qkv + b * T * ld + D + hd * dh, *v = k + D;
            const float *q = qkv + (b * T + t0) * ld + hd * dh;
            float *dk = dqkv + b * T * ld + D + hd * dh, *dv = dk + D;
            float *dq = dqkv + (b * T + t0) * ld + hd * dh;
            const float *p = att + (b * H + hd) * M * T, *dO = dout + b * M * D + hd * dh;
            transpose_head(vt, v, ld, T, dh);
            for (size_t i = 0; i < M; i++) {
                const size_t n = t0 + i + 1;
                const float *pr = p + i * T;
                float *dr = dp + i * T;
                /* dP = dO V^T, then dS = P (dP - rowsum(P dP)). The lanes
         * past n have P = 0, so they add nothing and get dS = 0. */
                size_t jv = dot_row(dr, 1.0f, dO + i * D, vt, T, n, dh), j = 0;
                tsa_v8f acc = tsa_v8f_set(0.0f);
                for (; j < jv; j += 8)
                    acc += tsa_v8f_load(pr + j) * tsa_v8f_load(dr + j);
                float s = hsum8(acc);
                for (; j < n; j++)
                    s += pr[j] * dr[j];
                const tsa_v8f vs = tsa_v8f_set(s);
                for (j = 0; j < jv; j += 8)
                    tsa_v8f_store(dr + j, tsa_v8f_load(pr + j) * (tsa_v8f_load(dr + j) - vs));
                for (; j < n; j++)
                    dr[j] = pr[j] * (dr[j] - s);
                /* S = scale Q K^T: dQ_i += scale sum_j dS_ij K_j */
                wsum_row(dq + i * ld, 1, scale, dr, 1, k, ld, n, dh);
            }
            /* dK_j += scale sum_i dS_ij Q_i, dV_j += sum_i P_ij dO_i, over
       * the query rows i >= j. */
            for (size_t j = 0; j < T; j++) {
                const size_t i0 = j > t0 ? j - t0 : 0;
                wsum_row(dk + j * ld, 1, scale, dp + i0 * T + j, T, q + i0 * ld, ld, M - i0, dh);
                wsum_row(dv + j * ld, 1, 1.0f, p + i0 * T + j, T, dO + i0 * D, D, M - i0, dh);
            }
        }
}
#endif

void tsa_nn_attention_forward(float *out, float *att, float *scratch, const float *qkv, size_t B,
                              size_t T, size_t D, size_t H, size_t t0)
{
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2()) {
        attention_forward_avx2(out, att, scratch, qkv, B, T, D, H, t0);
        return;
    }
#endif
    tsa_nn_attention_forward_blas(out, att, scratch, qkv, B, T, D, H, t0);
}

void tsa_nn_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
                               const float *att, size_t B, size_t T, size_t D, size_t H, size_t t0)
{
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2()) {
        attention_backward_avx2(dqkv, scratch, dout, qkv, att, B, T, D, H, t0);
        return;
    }
#endif
    tsa_nn_attention_backward_blas(dqkv, scratch, dout, qkv, att, B, T, D, H, t0);
}
