/* LSTM layer (Hochreiter & Schmidhuber 1997, with the forget gate of Gers,
 * Schmidhuber & Cummins 2000), in PyTorch's formulation:
 *
 *   [i f g o]_t = x_t Wih^T + h_{t-1} Whh^T + b
 *   i, f, o = sigmoid(.),  g = tanh(.)
 *   c_t = f c_{t-1} + i g,  h_t = o tanh(c_t)
 *
 * The four gates are one (4H)-wide product, so each step is a single sgemm
 * over the batch, and the input product of all steps is one sgemm before the
 * recurrence. Backward keeps every step's gate gradients, so the weight
 * gradients are two large sgemms after the loop instead of one per step. */
#include "nn/lstm.h"

#include <cblas.h>
#include <math.h>
#include <string.h>

#include "nn/act.h"
#include "nn/dropout.h"
#include "nn/linear.h"

/* One step of one sequence: activates the gates in place and writes the
 * new cell state, its tanh and the hidden state. */
static void cell_forward(float *gi, float *gf, float *gg, float *go, const float *cp, float *cn,
                         float *tn, float *hn, size_t H)
{
    size_t j = 0;
#if TSA_NN_VEC
    for (; j + 4 <= H; j += 4) {
        tsa_v4f i = tsa_v4f_sigmoid(tsa_v4f_load(gi + j));
        tsa_v4f f = tsa_v4f_sigmoid(tsa_v4f_load(gf + j));
        tsa_v4f g = tsa_v4f_tanh(tsa_v4f_load(gg + j));
        tsa_v4f o = tsa_v4f_sigmoid(tsa_v4f_load(go + j));
        tsa_v4f_store(gi + j, i);
        tsa_v4f_store(gf + j, f);
        tsa_v4f_store(gg + j, g);
        tsa_v4f_store(go + j, o);
        tsa_v4f cv = f * tsa_v4f_load(cp + j) + i * g;
        tsa_v4f tv = tsa_v4f_tanh(cv);
        tsa_v4f_store(cn + j, cv);
        tsa_v4f_store(tn + j, tv);
        tsa_v4f_store(hn + j, o * tv);
    }
#endif
    for (; j < H; j++) {
        float i = tsa_nn_sigmoidf(gi[j]), f = tsa_nn_sigmoidf(gf[j]);
        float g = tsa_nn_tanhf(gg[j]), o = tsa_nn_sigmoidf(go[j]);
        gi[j] = i;
        gf[j] = f;
        gg[j] = g;
        go[j] = o;
        float cv = f * cp[j] + i * g;
        float tv = tsa_nn_tanhf(cv);
        cn[j] = cv;
        tn[j] = tv;
        hn[j] = o * tv;
    }
}

#if TSA_NN_AVX2
/* cell_forward eight lanes at a time; the remainder goes to cell_forward. */
TSA_NN_TARGET_AVX2 static void cell_forward_avx2(float *gi, float *gf, float *gg, float *go,
                                                 const float *cp, float *cn, float *tn, float *hn,
                                                 size_t H)
{
    size_t j = 0;
    for (; j + 8 <= H; j += 8) {
        tsa_v8f i = tsa_v8f_sigmoid(tsa_v8f_load(gi + j));
        tsa_v8f f = tsa_v8f_sigmoid(tsa_v8f_load(gf + j));
        tsa_v8f g = tsa_v8f_tanh(tsa_v8f_load(gg + j));
        tsa_v8f o = tsa_v8f_sigmoid(tsa_v8f_load(go + j));
        tsa_v8f_store(gi + j, i);
        tsa_v8f_store(gf + j, f);
        tsa_v8f_store(gg + j, g);
        tsa_v8f_store(go + j, o);
        tsa_v8f cv = f * tsa_v8f_load(cp + j) + i * g;
        tsa_v8f tv = tsa_v8f_tanh(cv);
        tsa_v8f_store(cn + j, cv);
        tsa_v8f_store(tn + j, tv);
        tsa_v8f_store(hn + j, o * tv);
    }
    if (j < H)
        cell_forward(gi + j, gf + j, gg + j, go + j, cp + j, cn + j, tn + j, hn + j, H - j);
}
#endif

/* The gate gradients of one step of one sequence. dhn holds the gradient
 * reaching h[t + 1] through the recurrence and dcn the one reaching c[t + 1];
 * dcn is updated to the gradient of c[t]. */
static void cell_backward(float *di, float *df, float *dg, float *dO, const float *dhn, float *dcn,
                          const float *gi, const float *gf, const float *gg, const float *go,
                          const float *dh, const float *cp, const float *tn, size_t H)
{
    size_t j = 0;
#if TSA_NN_VEC
    const tsa_v4f one = tsa_v4f_set(1.0f);
    for (; j + 4 <= H; j += 4) {
        tsa_v4f i = tsa_v4f_load(gi + j), f = tsa_v4f_load(gf + j), g = tsa_v4f_load(gg + j);
        tsa_v4f o = tsa_v4f_load(go + j), tv = tsa_v4f_load(tn + j);
        tsa_v4f d = tsa_v4f_load(dh + j) + tsa_v4f_load(dhn + j);
        tsa_v4f dc = tsa_v4f_load(dcn + j) + d * o * (one - tv * tv);
        tsa_v4f_store(dcn + j, dc * f);
        tsa_v4f_store(di + j, dc * g * i * (one - i));
        tsa_v4f_store(df + j, dc * tsa_v4f_load(cp + j) * f * (one - f));
        tsa_v4f_store(dg + j, dc * i * (one - g * g));
        tsa_v4f_store(dO + j, d * tv * o * (one - o));
    }
#endif
    for (; j < H; j++) {
        float i = gi[j], f = gf[j], g = gg[j], o = go[j], tv = tn[j];
        float d = dh[j] + dhn[j];
        float dc = dcn[j] + d * o * (1.0f - tv * tv);
        dcn[j] = dc * f;
        di[j] = dc * g * i * (1.0f - i);
        df[j] = dc * cp[j] * f * (1.0f - f);
        dg[j] = dc * i * (1.0f - g * g);
        dO[j] = d * tv * o * (1.0f - o);
    }
}

#if TSA_NN_AVX2
/* cell_backward eight lanes at a time; the remainder goes to cell_backward. */
TSA_NN_TARGET_AVX2 static void cell_backward_avx2(float *di, float *df, float *dg, float *dO,
                                                  const float *dhn, float *dcn, const float *gi,
                                                  const float *gf, const float *gg,
                                                  const float *go, const float *dh,
                                                  const float *cp, const float *tn, size_t H)
{
    const tsa_v8f one = tsa_v8f_set(1.0f);
    size_t j = 0;
    for (; j + 8 <= H; j += 8) {
        tsa_v8f i = tsa_v8f_load(gi + j), f = tsa_v8f_load(gf + j), g = tsa_v8f_load(gg + j);
        tsa_v8f o = tsa_v8f_load(go + j), tv = tsa_v8f_load(tn + j);
        tsa_v8f d = tsa_v8f_load(dh + j) + tsa_v8f_load(dhn + j);
        tsa_v8f dc = tsa_v8f_load(dcn + j) + d * o * (one - tv * tv);
        tsa_v8f_store(dcn + j, dc * f);
        tsa_v8f_store(di + j, dc * g * i * (one - i));
        tsa_v8f_store(df + j, dc * tsa_v8f_load(cp + j) * f * (one - f));
        tsa_v8f_store(dg + j, dc * i * (one - g * g));
        tsa_v8f_store(dO + j, d * tv * o * (one - o));
    }
    if (j < H)
        cell_backward(di + j, df + j, dg + j, dO + j, dhn + j, dcn + j, gi + j, gf + j, gg + j,
                      go + j, dh + j, cp + j, tn + j, H - j);
}
#endif

size_t tsa_nn_lstm_n_params(size_t In, size_t H) { return 4 * H * In + 4 * H * H + 4 * H; }

/* ---- the recurrent products ------------------------------------------------ */

/* Each step multiplies a few rows (the batch) by the recurrent weights:
 * (B, H) by Whh^T forward and (B, 4H) by Whh backward. sgemm packs Whh
 * again on every step, which costs as much as a tenth of the epoch at
 * B = 32, H = 64. With AVX2 and FMA and H a multiple of 16, a small kernel
 * runs them instead: Whh^T packed once per forward pass into panels of 16
 * columns, Whh read in place backward. */
#if TSA_NN_AVX2
#define LSTM_TARGET_FMA __attribute__((target("avx2,fma")))

static int recur_kernel_ok(size_t H)
{
    return H % 16 == 0 && tsa_nn_have_avx2() && __builtin_cpu_supports("fma");
}

/* C (R, 16) (+)= A (R, K) Bm (K, 16): rows lda, ldb, ldc floats apart. */
LSTM_TARGET_FMA static inline __attribute__((always_inline)) void
recur_tile(size_t R, const float *A, size_t lda, const float *Bm, size_t ldb, size_t K, float *C,
           size_t ldc, int add)
{
    __m256 acc[6][2];
#pragma GCC unroll 6
    for (size_t r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm256_setzero_ps();
    for (size_t k = 0; k < K; k++) {
        const __m256 b0 = _mm256_loadu_ps(Bm + k * ldb), b1 = _mm256_loadu_ps(Bm + k * ldb + 8);
#pragma GCC unroll 6
        for (size_t r = 0; r < R; r++) {
            const __m256 a = _mm256_broadcast_ss(A + r * lda + k);
            acc[r][0] = _mm256_fmadd_ps(a, b0, acc[r][0]);
            acc[r][1] = _mm256_fmadd_ps(a, b1, acc[r][1]);
        }
    }
#pragma GCC unroll 6
    for (size_t r = 0; r < R; r++) {
        float *c = C + r * ldc;
        if (add) {
            acc[r][0] = _mm256_add_ps(acc[r][0], _mm256_loadu_ps(c));
            acc[r][1] = _mm256_add_ps(acc[r][1], _mm256_loadu_ps(c + 8));
        }
        _mm256_storeu_ps(c, acc[r][0]);
        _mm256_storeu_ps(c + 8, acc[r][1]);
    }
}

/* C (M, N) (+)= A (M, K) Bm (K, N), N a multiple of 16; panel p of Bm (its
 * columns 16p .. 16p + 15) starts at Bm + p * pstride with rows ldb apart. */
LSTM_TARGET_FMA static void recur_product(float *C, size_t ldc, const float *A, size_t lda,
                                          const float *Bm, size_t ldb, size_t pstride, size_t M,
                                          size_t N, size_t K, int add)
{
    for (size_t p = 0; p < N / 16; p++) {
        const float *Bp = Bm + p * pstride;
        float *Cp = C + p * 16;
        size_t r = 0;
        for (; r + 6 <= M; r += 6)
            recur_tile(6, A + r * lda, lda, Bp, ldb, K, Cp + r * ldc, ldc, add);
        const float *Ar = A + r * lda;
        float *Cr = Cp + r * ldc;
        switch (M - r) {
        case 5: recur_tile(5, Ar, lda, Bp, ldb, K, Cr, ldc, add); break;
        case 4: recur_tile(4, Ar, lda, Bp, ldb, K, Cr, ldc, add); break;
        case 3: recur_tile(3, Ar, lda, Bp, ldb, K, Cr, ldc, add); break;
        case 2: recur_tile(2, Ar, lda, Bp, ldb, K, Cr, ldc, add); break;
        case 1: recur_tile(1, Ar, lda, Bp, ldb, K, Cr, ldc, add); break;
        default: break;
        }
    }
}
#endif

size_t tsa_nn_lstm_pack_size(size_t H) { return 4 * H * H; }

/* One input feature (a univariate series): the input product is an outer
 * product, which sgemm (k = 1) spends most of its time packing for. */
static void input_product_1(float *gates, const float *x, const float *Wih, const float *b,
                            size_t R, size_t G)
{
    for (size_t r = 0; r < R; r++) {
        float *gr = gates + r * G;
        const float xr = x[r];
        for (size_t g = 0; g < G; g++)
            gr[g] = b[g] + xr * Wih[g];
    }
}

/* dWih (G, 1) += dgates^T x and db += column sums of dgates, in one pass. */
static void input_grads_1(float *dWih, float *db, const float *dgates, const float *x, size_t R,
                          size_t G)
{
    for (size_t r = 0; r < R; r++) {
        const float *dg = dgates + r * G;
        const float xr = x[r];
        for (size_t g = 0; g < G; g++) {
            dWih[g] += dg[g] * xr;
            db[g] += dg[g];
        }
    }
}

void tsa_nn_lstm_forward(const float *x, const float *Wih, const float *Whh, const float *b,
                         size_t T, size_t B, size_t In, size_t H, float *gates, float *c, float *tc,
                         float *h, float *wpack)
{
    const size_t G = 4 * H, BH = B * H;
#if TSA_NN_AVX2
    const int avx2 = tsa_nn_have_avx2();
    const int kernel = wpack && B > 1 && T > 1 && recur_kernel_ok(H);
    if (kernel) /* wpack[p][k][j] = Whh[16 p + j][k] */
        for (size_t p = 0; p < G / 16; p++)
            for (size_t k = 0; k < H; k++)
                for (size_t j = 0; j < 16; j++)
                    wpack[(p * H + k) * 16 + j] = Whh[(p * 16 + j) * H + k];
#else
    (void)wpack;
#endif
    memset(c, 0, BH * sizeof *c);
    memset(h, 0, BH * sizeof *h);
    if (In == 1) {
        input_product_1(gates, x, Wih, b, T * B, G);
    } else {
        tsa_nn_rows_set(gates, b, T * B, G);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)(T * B), (int)G, (int)In, 1.0f,
                    x, (int)In, Wih, (int)In, 1.0f, gates, (int)G);
    }
    for (size_t t = 0; t < T; t++) {
        float *gt = gates + t * B * G;
        /* h[0] = 0 adds nothing. One row (single-window inference) goes
         * through sgemv: sgemm would re-pack Whh on every step. */
        if (t > 0 && B == 1)
            cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)G, (int)H, 1.0f, Whh, (int)H, h + t * BH, 1,
                        1.0f, gt, 1);
#if TSA_NN_AVX2
        else if (t > 0 && kernel)
            recur_product(gt, G, h + t * BH, H, wpack, 16, H * 16, B, G, H, 1);
#endif
        else if (t > 0)
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)B, (int)G, (int)H, 1.0f,
                        h + t * BH, (int)H, Whh, (int)H, 1.0f, gt, (int)G);
        const float *cp = c + t * BH;
        float *cn = c + (t + 1) * BH, *hn = h + (t + 1) * BH, *tn = tc + t * BH;
        for (size_t r = 0; r < B; r++) {
            float *gi = gt + r * G;
#if TSA_NN_AVX2
            if (avx2) {
                cell_forward_avx2(gi, gi + H, gi + 2 * H, gi + 3 * H, cp + r * H, cn + r * H,
                                  tn + r * H, hn + r * H, H);
                continue;
            }
#endif
            cell_forward(gi, gi + H, gi + 2 * H, gi + 3 * H, cp + r * H, cn + r * H, tn + r * H,
                         hn + r * H, H);
        }
    }
}

void tsa_nn_lstm_backward(float *dx, float *dWih, float *dWhh, float *db, const float *dh,
                          const float *x, const float *Wih, const float *Whh, const float *gates,
                          const float *c, const float *tc, const float *h, size_t T, size_t B,
                          size_t In, size_t H, float *dgates, float *dhn, float *dcn)
{
    const size_t G = 4 * H, BH = B * H;
#if TSA_NN_AVX2
    const int avx2 = tsa_nn_have_avx2();
    const int kernel = B > 1 && recur_kernel_ok(H);
#endif
    memset(dhn, 0, BH * sizeof *dhn);
    memset(dcn, 0, BH * sizeof *dcn);
    for (size_t t = T; t-- > 0;) {
        const float *gt = gates + t * B * G, *dht = dh + t * BH, *cp = c + t * BH,
                    *tn = tc + t * BH;
        float *dgt = dgates + t * B * G;
        for (size_t r = 0; r < B; r++) {
            const float *gi = gt + r * G;
            float *di = dgt + r * G;
#if TSA_NN_AVX2
            if (avx2) {
                cell_backward_avx2(di, di + H, di + 2 * H, di + 3 * H, dhn + r * H, dcn + r * H,
                                   gi, gi + H, gi + 2 * H, gi + 3 * H, dht + r * H, cp + r * H,
                                   tn + r * H, H);
                continue;
            }
#endif
            cell_backward(di, di + H, di + 2 * H, di + 3 * H, dhn + r * H, dcn + r * H, gi,
                          gi + H, gi + 2 * H, gi + 3 * H, dht + r * H, cp + r * H, tn + r * H, H);
        }
        if (t == 0)
            continue;
        /* the gradient reaching h[t] through Whh */
#if TSA_NN_AVX2
        if (kernel)
            recur_product(dhn, H, dgt, G, Whh, H, 16, B, H, G, 0);
        else
#endif
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)B, (int)H, (int)G, 1.0f,
                        dgt, (int)G, Whh, (int)H, 0.0f, dhn, (int)H);
    }
    /* dWhh += sum_t dgates_t^T h[t]; h[0] = 0, so from t = 1. */
    if (T > 1)
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)H, (int)((T - 1) * B),
                    1.0f, dgates + B * G, (int)G, h + BH, (int)H, 1.0f, dWhh, (int)H);
    if (In == 1) {
        input_grads_1(dWih, db, dgates, x, T * B, G);
    } else {
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, (int)G, (int)In, (int)(T * B), 1.0f,
                    dgates, (int)G, x, (int)In, 1.0f, dWih, (int)In);
        tsa_nn_colsum_add(db, dgates, T * B, G);
    }
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)(T * B), (int)In, (int)G, 1.0f,
                    dgates, (int)G, Wih, (int)In, 1.0f, dx, (int)In);
}

/* ---- a stack of layers ---------------------------------------------------- */

size_t tsa_nn_lstm_stack_n_params(size_t In, size_t H, size_t n)
{
    size_t total = 0;
    for (size_t l = 0; l < n; l++)
        total += tsa_nn_lstm_n_params(l ? H : In, H);
    return total;
}

void tsa_nn_lstm_stack_params(tsa_nn_lstm_stack *s, float *block)
{
    float *p = block;
    for (size_t l = 0; l < s->n; l++) {
        size_t in = l ? s->H : s->In;
        s->Wih[l] = p;
        p += 4 * s->H * in;
        s->Whh[l] = p;
        p += 4 * s->H * s->H;
        s->b[l] = p;
        p += 4 * s->H;
    }
}

void tsa_nn_lstm_stack_carve(tsa_nn_lstm_stack *s, tsa_nn_arena *a, size_t T, size_t B,
                             size_t In, size_t H, size_t n, float p, int train)
{
    s->T = T;
    s->B = B;
    s->In = In;
    s->H = H;
    s->n = n;
    s->p = p;
    const size_t BH = B * H;
    for (size_t l = 0; l < n; l++) {
        s->gates[l] = tsa_nn_take(a, T * 4 * BH);
        s->c[l] = tsa_nn_take(a, (T + 1) * BH);
        s->tc[l] = tsa_nn_take(a, T * BH);
        s->h[l] = tsa_nn_take(a, (T + 1) * BH);
    }
    s->wpack = tsa_nn_take(a, tsa_nn_lstm_pack_size(H));
    if (!train)
        return;
    for (size_t l = 0; l + 1 < n && p > 0.0f; l++) {
        s->mask[l] = tsa_nn_take(a, T * BH);
        s->drop[l] = tsa_nn_take(a, T * BH);
    }
    s->dgates = tsa_nn_take(a, T * 4 * BH);
    s->dhn = tsa_nn_take(a, BH);
    s->dcn = tsa_nn_take(a, BH);
    s->dbuf[0] = tsa_nn_take(a, T * BH);
    s->dbuf[1] = tsa_nn_take(a, T * BH);
    s->ddrop = tsa_nn_take(a, T * BH);
}

void tsa_nn_lstm_stack_init(const tsa_nn_lstm_stack *s, tsa_rng *rng)
{
    const double bound = 1.0 / sqrt((double)s->H);
    for (size_t l = 0; l < s->n; l++) {
        size_t in = l ? s->H : s->In;
        tsa_nn_uniform(s->Wih[l], 4 * s->H * in, bound, rng);
        tsa_nn_uniform(s->Whh[l], 4 * s->H * s->H, bound, rng);
        tsa_nn_uniform(s->b[l], 4 * s->H, bound, rng);
        for (size_t j = 0; j < s->H; j++)
            s->b[l][s->H + j] = 1.0f;
    }
}

/* The input of layer l in the last forward pass. */
static const float *stack_input(const tsa_nn_lstm_stack *s, size_t l, size_t B, const float *x,
                                int dropped)
{
    if (l == 0)
        return x;
    return dropped ? s->drop[l - 1] : s->h[l - 1] + B * s->H;
}

void tsa_nn_lstm_stack_forward(tsa_nn_lstm_stack *s, const tsa_nn_lstm_stack *w, size_t B,
                               const float *x, tsa_rng *rng)
{
    const int dropped = rng && s->p > 0.0f;
    for (size_t l = 0; l < s->n; l++) {
        const float *in = stack_input(s, l, B, x, dropped);
        tsa_nn_lstm_forward(in, w->Wih[l], w->Whh[l], w->b[l], s->T, B, l ? s->H : s->In, s->H,
                            s->gates[l], s->c[l], s->tc[l], s->h[l], s->wpack);
        if (dropped && l + 1 < s->n)
            tsa_nn_dropout_forward(s->drop[l], s->mask[l], s->h[l] + B * s->H, s->T * B * s->H,
                                   s->p, rng);
    }
}

void tsa_nn_lstm_stack_backward(tsa_nn_lstm_stack *s, const tsa_nn_lstm_stack *w,
                                const tsa_nn_lstm_stack *g, size_t B, const float *x,
                                const float *dtop, float *dx)
{
    const int dropped = s->p > 0.0f;
    const size_t TBH = s->T * B * s->H;
    const float *dout = dtop;
    for (size_t l = s->n; l-- > 0;) {
        float *dxin = dx;
        if (l > 0) {
            dxin = dropped ? s->ddrop : s->dbuf[l % 2];
            memset(dxin, 0, TBH * sizeof *dxin);
        }
        tsa_nn_lstm_backward(dxin, g->Wih[l], g->Whh[l], g->b[l], dout,
                             stack_input(s, l, B, x, dropped), w->Wih[l], w->Whh[l], s->gates[l],
                             s->c[l], s->tc[l], s->h[l], s->T, B, l ? s->H : s->In, s->H,
                             s->dgates, s->dhn, s->dcn);
        if (l > 0) {
            if (dropped) {
                memset(s->dbuf[l % 2], 0, TBH * sizeof *dxin);
                tsa_nn_dropout_backward(s->dbuf[l % 2], s->ddrop, s->mask[l - 1], TBH);
            }
            dout = s->dbuf[l % 2];
        }
    }
}
