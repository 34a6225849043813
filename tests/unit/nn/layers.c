/* Tests of the feed-forward layers in libtsa/nn: finite-difference gradient
 * checks of linear, the activations, causal dilated conv1d, layer norm and
 * causal multi-head attention, plus known answers (a causal convolution
 * against a direct sum, attention's mask, positional encodings, dropout's
 * mask statistics). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/act.h"
#include "nn/attention.h"
#include "nn/conv1d.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/posenc.h"

#include "gradcheck.h"
#include "harness.h"

#define TOL 1e-2

static float *fa(size_t n) { return calloc(n ? n : 1, sizeof(float)); }

/* ---- linear ------------------------------------------------------------------ */

typedef struct {
    size_t N, in, out;
    float *x, *W, *b, *y, *r;
} lin_ctx;

static double lin_loss(void *p)
{
    lin_ctx *c = p;
    tsa_nn_linear_forward(c->y, c->x, c->W, c->b, c->N, c->in, c->out);
    return gc_dot(c->r, c->y, c->N * c->out);
}

TEST(linear_forward_known_answer)
{
    float x[2 * 3] = {1, 2, 3, -1, 0, 1};
    float W[2 * 3] = {1, 0, -1, 0.5f, 0.5f, 0.5f};
    float b[2] = {0.25f, -1};
    float y[4];
    tsa_nn_linear_forward(y, x, W, b, 2, 3, 2);
    CHECK_NEAR(y[0], 1 - 3 + 0.25, 1e-6);
    CHECK_NEAR(y[1], 3 - 1, 1e-6);
    CHECK_NEAR(y[2], -1 - 1 + 0.25, 1e-6);
    CHECK_NEAR(y[3], 0 - 1, 1e-6);
}

TEST(linear_gradients)
{
    tsa_rng rng;
    tsa_rng_seed(&rng, 1);
    lin_ctx c = {7, 5, 4, NULL, NULL, NULL, NULL, NULL};
    c.x = fa(c.N * c.in);
    c.W = fa(c.out * c.in);
    c.b = fa(c.out);
    c.y = fa(c.N * c.out);
    c.r = fa(c.N * c.out);
    gc_fill(c.x, c.N * c.in, -1, 1, &rng);
    gc_fill(c.W, c.out * c.in, -1, 1, &rng);
    gc_fill(c.b, c.out, -1, 1, &rng);
    gc_fill(c.r, c.N * c.out, -1, 1, &rng);
    float *dx = fa(c.N * c.in), *dW = fa(c.out * c.in), *db = fa(c.out);
    lin_loss(&c);
    tsa_nn_linear_backward(dx, dW, db, c.r, c.x, c.W, c.N, c.in, c.out);
    CHECK(gc_check("linear dx", c.x, dx, c.N * c.in, lin_loss, &c, 1e-2) < TOL);
    CHECK(gc_check("linear dW", c.W, dW, c.out * c.in, lin_loss, &c, 1e-2) < TOL);
    CHECK(gc_check("linear db", c.b, db, c.out, lin_loss, &c, 1e-2) < TOL);
    /* Backward accumulates: a second call doubles every gradient. */
    float db1 = db[0];
    tsa_nn_linear_backward(dx, dW, db, c.r, c.x, c.W, c.N, c.in, c.out);
    CHECK_NEAR(db[0], 2 * db1, 1e-5);
    free(dx), free(dW), free(db);
    free(c.x), free(c.W), free(c.b), free(c.y), free(c.r);
}

/* ---- activations --------------------------------------------------------------- */

typedef struct {
    size_t n;
    int kind; /* 0 relu, 1 gelu, 2 tanh, 3 sigmoid */
    float *x, *y, *r;
} act_ctx;

static void act_fwd(act_ctx *c)
{
    switch (c->kind) {
    case 0: tsa_nn_relu_forward(c->y, c->x, c->n); break;
    case 1: tsa_nn_gelu_forward(c->y, c->x, c->n); break;
    case 2: tsa_nn_tanh_forward(c->y, c->x, c->n); break;
    default: tsa_nn_sigmoid_forward(c->y, c->x, c->n); break;
    }
}

static double act_loss(void *p)
{
    act_ctx *c = p;
    act_fwd(c);
    return gc_dot(c->r, c->y, c->n);
}

TEST(activation_gradients)
{
    static const char *names[] = {"relu dx", "gelu dx", "tanh dx", "sigmoid dx"};
    tsa_rng rng;
    tsa_rng_seed(&rng, 2);
    enum { N = 200 };
    for (int k = 0; k < 4; k++) {
        act_ctx c = {N, k, fa(N), fa(N), fa(N)};
        gc_fill(c.x, N, -4, 4, &rng);
        for (size_t i = 0; i < N; i++) /* keep away from ReLU's kink */
            if (fabsf(c.x[i]) < 0.05f)
                c.x[i] = 0.5f;
        gc_fill(c.r, N, -1, 1, &rng);
        float *dx = fa(N);
        act_fwd(&c);
        if (k == 0)
            tsa_nn_relu_backward(dx, c.r, c.x, N);
        else if (k == 1)
            tsa_nn_gelu_backward(dx, c.r, c.x, N);
        else if (k == 2)
            tsa_nn_tanh_backward(dx, c.r, c.y, N);
        else
            tsa_nn_sigmoid_backward(dx, c.r, c.y, N);
        CHECK(gc_check(names[k], c.x, dx, N, act_loss, &c, 1e-2) < TOL);
        free(dx), free(c.x), free(c.y), free(c.r);
    }
}

TEST(fast_exp_tanh_sigmoid_accuracy)
{
    double worst_exp = 0, worst_tanh = 0, worst_sig = 0;
    for (double x = -80; x <= 80; x += 0.01) {
        float xf = (float)x;
        double e = exp((double)xf), a = tsa_nn_expf(xf);
        worst_exp = fmax(worst_exp, fabs(a - e) / e);
    }
    for (double x = -20; x <= 20; x += 0.001) {
        double xf = (float)x;
        worst_tanh = fmax(worst_tanh, fabs(tsa_nn_tanhf((float)x) - tanh(xf)));
        worst_sig = fmax(worst_sig, fabs(tsa_nn_sigmoidf((float)x) - 1 / (1 + exp(-xf))));
    }
    printf("# expf rel err %.2e, tanh abs err %.2e, sigmoid abs err %.2e\n", worst_exp,
           worst_tanh, worst_sig);
    CHECK(worst_exp < 1e-6);
    CHECK(worst_tanh < 1e-6);
    CHECK(worst_sig < 1e-6);
    /* Saturation without overflow or NaN. */
    CHECK(tsa_nn_tanhf(1e6f) == 1.0f && tsa_nn_tanhf(-1e6f) == -1.0f);
    CHECK(tsa_nn_sigmoidf(1e6f) == 1.0f && tsa_nn_sigmoidf(-1e6f) >= 0.0f &&
          tsa_nn_sigmoidf(-1e6f) < 1e-30f);
    CHECK(isfinite(tsa_nn_expf(1e9f)) && tsa_nn_expf(-1e9f) >= 0.0f);
}

/* ---- conv1d --------------------------------------------------------------------- */

typedef struct {
    size_t B, T, Cin, Cout, K, dil, t0;
    float *x, *W, *b, *y, *col, *r;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    tsa_nn_conv1d_forward(c->y, c->col, c->x, c->W, c->b, c->B, c->T, c->Cin, c->Cout, c->K,
                          c->dil, c->t0);
    return gc_dot(c->r, c->y, c->B * (c->T - c->t0) * c->Cout);
}

static conv_ctx conv_make(size_t B, size_t T, size_t Cin, size_t Cout, size_t K, size_t dil,
                          tsa_rng *rng)
{
    conv_ctx c = {B, T, Cin, Cout, K, dil, 0, NULL, NULL, NULL, NULL, NULL, NULL};
    c.x = fa(B * T * Cin);
    c.W = fa(Cout * K * Cin);
    c.b = fa(Cout);
    c.y = fa(B * T * Cout);
    c.col = fa(B * T * K * Cin);
    c.r = fa(B * T * Cout);
    gc_fill(c.x, B * T * Cin, -1, 1, rng);
    gc_fill(c.W, Cout * K * Cin, -1, 1, rng);
    gc_fill(c.b, Cout, -1, 1, rng);
    gc_fill(c.r, B * T * Cout, -1, 1, rng);
    return c;
}

static void conv_free(conv_ctx *c)
{
    free(c->x), free(c->W), free(c->b), free(c->y), free(c->col), free(c->r);
}

TEST(conv1d_is_causal_and_matches_direct_sum)
{
    tsa_rng rng;
    tsa_rng_seed(&rng, 3);
    conv_ctx c = conv_make(2, 11, 3, 4, 3, 2, &rng);
    conv_loss(&c);
    double worst = 0;
    for (size_t s = 0; s < c.B; s++)
        for (size_t t = 0; t < c.T; t++)
            for (size_t o = 0; o < c.Cout; o++) {
                double v = c.b[o];
                for (size_t k = 0; k < c.K; k++) {
                    long src = (long)t - (long)((c.K - 1 - k) * c.dil);
                    if (src < 0)
                        continue;
                    for (size_t i = 0; i < c.Cin; i++)
                        v += c.W[(o * c.K + k) * c.Cin + i] * c.x[(s * c.T + src) * c.Cin + i];
                }
                worst = fmax(worst, fabs(v - c.y[(s * c.T + t) * c.Cout + o]));
            }
    CHECK(worst < 1e-5);
    /* Changing the future never changes the past. */
    float before = c.y[(0 * c.T + 5) * c.Cout + 1];
    c.x[(0 * c.T + 6) * c.Cin + 0] += 10.0f;
    conv_loss(&c);
    CHECK(c.y[(0 * c.T + 5) * c.Cout + 1] == before);
    /* From step t0 on only: the full pass's rows from t0, packed. */
    float *full = fa(c.B * c.T * c.Cout);
    memcpy(full, c.y, c.B * c.T * c.Cout * sizeof *full);
    c.t0 = 7;
    conv_loss(&c);
    const size_t M = c.T - c.t0;
    for (size_t s = 0; s < c.B; s++)
        CHECK(memcmp(c.y + s * M * c.Cout, full + (s * c.T + c.t0) * c.Cout,
                     M * c.Cout * sizeof *full) == 0);
    free(full);
    conv_free(&c);
}

TEST(conv1d_gradients)
{
    tsa_rng rng;
    tsa_rng_seed(&rng, 4);
    const size_t dils[] = {1, 2, 4};
    for (size_t d = 0; d < 6; d++) { /* every step, then steps 5 .. 8 only */
        conv_ctx c = conv_make(3, 9, 2, 3, 3, dils[d % 3], &rng);
        c.t0 = d < 3 ? 0 : 5;
        float *dx = fa(c.B * c.T * c.Cin), *dW = fa(c.Cout * c.K * c.Cin), *db = fa(c.Cout);
        float *dcol = fa(c.B * c.T * c.K * c.Cin);
        conv_loss(&c);
        tsa_nn_conv1d_backward(dx, dW, db, dcol, c.r, c.col, c.W, c.B, c.T, c.Cin, c.Cout, c.K,
                               c.dil, c.t0);
        CHECK(gc_check("conv1d dx", c.x, dx, c.B * c.T * c.Cin, conv_loss, &c, 1e-2) < TOL);
        CHECK(gc_check("conv1d dW", c.W, dW, c.Cout * c.K * c.Cin, conv_loss, &c, 1e-2) < TOL);
        CHECK(gc_check("conv1d db", c.b, db, c.Cout, conv_loss, &c, 1e-2) < TOL);
        free(dx), free(dW), free(db), free(dcol);
        conv_free(&c);
    }
}

/* ---- layer norm ----------------------------------------------------------------- */

typedef struct {
    size_t N, D;
    float *x, *g, *b, *y, *mean, *rstd, *r;
} ln_ctx;

static double ln_loss(void *p)
{
    ln_ctx *c = p;
    tsa_nn_layernorm_forward(c->y, c->mean, c->rstd, c->x, c->g, c->b, c->N, c->D);
    return gc_dot(c->r, c->y, c->N * c->D);
}

/* Rows of 8 (one vector block) and 21 (two blocks and a scalar tail). */
TEST(layernorm_normalises_and_gradients)
{
    static const size_t widths[] = {8, 21};
    for (size_t k = 0; k < 2; k++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, 5 + k);
        const size_t N = 6, D = widths[k], n = N * D;
        ln_ctx c = {N, D, fa(n), fa(D), fa(D), fa(n), fa(N), fa(N), fa(n)};
        gc_fill(c.x, n, -2, 3, &rng);
        for (size_t j = 0; j < D; j++)
            c.g[j] = 1.0f, c.b[j] = 0.0f;
        ln_loss(&c);
        for (size_t r = 0; r < c.N; r++) {
            double m = 0, v = 0;
            for (size_t j = 0; j < c.D; j++)
                m += c.y[r * c.D + j];
            m /= (double)c.D;
            for (size_t j = 0; j < c.D; j++)
                v += (c.y[r * c.D + j] - m) * (c.y[r * c.D + j] - m);
            CHECK_NEAR(m, 0.0, 1e-6);
            CHECK_NEAR(v / (double)c.D, 1.0, 1e-3);
        }
        gc_fill(c.g, D, 0.5, 1.5, &rng);
        gc_fill(c.b, D, -0.5, 0.5, &rng);
        gc_fill(c.r, n, -1, 1, &rng);
        float *dx = fa(n), *dg = fa(D), *db = fa(D);
        ln_loss(&c);
        tsa_nn_layernorm_backward(dx, dg, db, c.r, c.x, c.mean, c.rstd, c.g, c.N, c.D);
        CHECK(gc_check("layernorm dx", c.x, dx, n, ln_loss, &c, 1e-2) < TOL);
        CHECK(gc_check("layernorm dgamma", c.g, dg, D, ln_loss, &c, 1e-2) < TOL);
        CHECK(gc_check("layernorm dbeta", c.b, db, D, ln_loss, &c, 1e-2) < TOL);
        free(dx), free(dg), free(db);
        free(c.x), free(c.g), free(c.b), free(c.y), free(c.mean), free(c.rstd), free(c.r);
    }
}

/* The GELU's vector lanes give the scalar function's bits (a single value
 * takes the scalar loop). */
TEST(gelu_lanes_match_scalar_bits)
{
    enum { N = 203 };
    tsa_rng rng;
    tsa_rng_seed(&rng, 9);
    float *x = fa(N), *y = fa(N), *y1 = fa(N), *dy = fa(N), *dx = fa(N), *dx1 = fa(N);
    gc_fill(x, N, -6, 6, &rng);
    gc_fill(dy, N, -1, 1, &rng);
    tsa_nn_gelu_forward(y, x, N);
    tsa_nn_gelu_backward(dx, dy, x, N);
    for (size_t i = 0; i < N; i++) {
        tsa_nn_gelu_forward(y1 + i, x + i, 1);
        tsa_nn_gelu_backward(dx1 + i, dy + i, x + i, 1);
    }
    CHECK(memcmp(y, y1, N * sizeof *y) == 0);
    CHECK(memcmp(dx, dx1, N * sizeof *dx) == 0);
    free(x), free(y), free(y1), free(dy), free(dx), free(dx1);
}

/* ---- attention ------------------------------------------------------------------- */

typedef struct {
    size_t B, T, D, H, t0;
    float *qkv, *out, *att, *r, *sc;
} att_ctx;

static double att_loss(void *p)
{
    att_ctx *c = p;
    tsa_nn_attention_forward(c->out, c->att, c->sc, c->qkv, c->B, c->T, c->D, c->H, c->t0);
    return gc_dot(c->r, c->out, c->B * (c->T - c->t0) * c->D);
}

TEST(attention_is_causal_and_gradients)
{
    tsa_rng rng;
    tsa_rng_seed(&rng, 6);
    att_ctx c = {2, 7, 8, 2, 0, NULL, NULL, NULL, NULL, NULL};
    size_t nq = c.B * c.T * 3 * c.D, no = c.B * c.T * c.D;
    c.qkv = fa(nq);
    c.out = fa(no);
    c.att = fa(c.B * c.H * c.T * c.T);
    c.r = fa(no);
    c.sc = fa(tsa_nn_attention_scratch(c.T, c.D, c.H));
    gc_fill(c.qkv, nq, -1.5, 1.5, &rng);
    gc_fill(c.r, no, -1, 1, &rng);
    att_loss(&c);
    /* Rows of the weights sum to one over the past and are zero ahead. */
    double worst = 0;
    for (size_t bh = 0; bh < c.B * c.H; bh++)
        for (size_t i = 0; i < c.T; i++) {
            double s = 0;
            for (size_t j = 0; j < c.T; j++) {
                float a = c.att[(bh * c.T + i) * c.T + j];
                if (j > i)
                    CHECK(a == 0.0f);
                s += a;
            }
            worst = fmax(worst, fabs(s - 1));
        }
    CHECK(worst < 1e-5);
    /* Step 0 attends only to itself: its output is its own value. */
    for (size_t j = 0; j < c.D; j++)
        CHECK_NEAR(c.out[j], c.qkv[2 * c.D + j], 1e-6);
    /* A change at the last step leaves the earlier outputs alone. */
    float keep = c.out[(c.T - 2) * c.D + 3];
    c.qkv[(c.T - 1) * 3 * c.D + c.D + 1] += 3.0f; /* a key */
    att_loss(&c);
    CHECK(c.out[(c.T - 2) * c.D + 3] == keep);

    float *dqkv = fa(nq);
    att_loss(&c);
    tsa_nn_attention_backward(dqkv, c.sc, c.r, c.qkv, c.att, c.B, c.T, c.D, c.H, c.t0);
    CHECK(gc_check("attention dqkv", c.qkv, dqkv, nq, att_loss, &c, 1e-2) < TOL);
    free(dqkv);
    free(c.qkv), free(c.out), free(c.att), free(c.r), free(c.sc);
}

/* Windows long enough for the 8-lane blocks, heads of 8 and 12 columns
 * (a vector block and a scalar tail), all query rows or the last ones only:
 * gradients, the rows from t0 equal to those of the full pass, and both
 * paths (vector and OpenBLAS) agreeing. */
TEST(attention_long_windows_and_last_rows)
{
    static const size_t shapes[][4] = {
        {19, 16, 2, 0}, {19, 16, 2, 18}, {24, 24, 2, 13}, {16, 8, 1, 0}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, 60 + s);
        att_ctx c = {2,    shapes[s][0], shapes[s][1], shapes[s][2], shapes[s][3],
                     NULL, NULL,         NULL,         NULL,         NULL};
        const size_t M = c.T - c.t0, nq = c.B * c.T * 3 * c.D, no = c.B * M * c.D;
        c.qkv = fa(nq);
        c.out = fa(no);
        c.att = fa(c.B * c.H * M * c.T);
        c.r = fa(no);
        c.sc = fa(tsa_nn_attention_scratch(c.T, c.D, c.H));
        float *full = fa(c.B * c.T * c.D), *fatt = fa(c.B * c.H * c.T * c.T);
        float *out2 = fa(no), *att2 = fa(c.B * c.H * M * c.T);
        float *dq1 = fa(nq), *dq2 = fa(nq);
        gc_fill(c.qkv, nq, -2, 2, &rng);
        gc_fill(c.r, no, -1, 1, &rng);
        att_loss(&c);
        tsa_nn_attention_forward(full, fatt, c.sc, c.qkv, c.B, c.T, c.D, c.H, 0);
        double worst = 0;
        for (size_t b = 0; b < c.B; b++)
            for (size_t i = 0; i < M * c.D; i++)
                worst =
                    fmax(worst, fabs(c.out[b * M * c.D + i] - full[(b * c.T + c.t0) * c.D + i]));
        CHECK_MSG(worst < 1e-6, "shape %zu: rows from t0 differ by %g", s, worst);
        tsa_nn_attention_forward_blas(out2, att2, c.sc, c.qkv, c.B, c.T, c.D, c.H, c.t0);
        worst = 0;
        for (size_t i = 0; i < no; i++)
            worst = fmax(worst, fabs(c.out[i] - out2[i]));
        CHECK_MSG(worst < 1e-5, "shape %zu: paths differ by %g", s, worst);
        tsa_nn_attention_backward(dq1, c.sc, c.r, c.qkv, c.att, c.B, c.T, c.D, c.H, c.t0);
        tsa_nn_attention_backward_blas(dq2, c.sc, c.r, c.qkv, att2, c.B, c.T, c.D, c.H, c.t0);
        worst = 0;
        for (size_t i = 0; i < nq; i++)
            worst = fmax(worst, fabs(dq1[i] - dq2[i]));
        CHECK_MSG(worst < 1e-4, "shape %zu: backward paths differ by %g", s, worst);
        for (size_t i = 0; i < c.B * c.t0 && c.t0; i++)
            for (size_t j = 0; j < c.D; j++) /* queries before t0 get nothing */
                CHECK(dq1[(i / c.t0 * c.T + i % c.t0) * 3 * c.D + j] == 0.0f);
        CHECK(gc_check("attention long dqkv", c.qkv, dq1, nq, att_loss, &c, 1e-2) < TOL);
        free(full), free(fatt), free(out2), free(att2), free(dq1), free(dq2);
        free(c.qkv), free(c.out), free(c.att), free(c.r), free(c.sc);
    }
}

/* ---- positional encoding, dropout ------------------------------------------------- */

TEST(positional_encoding_values)
{
    enum { T = 5, D = 6 };
    float pe[T * D], x[2 * T * D];
    tsa_nn_posenc_fill(pe, T, D);
    CHECK(pe[0] == 0.0f && pe[1] == 1.0f);
    CHECK_NEAR(pe[1 * D + 0], sin(1.0), 1e-7);
    CHECK_NEAR(pe[1 * D + 1], cos(1.0), 1e-7);
    CHECK_NEAR(pe[3 * D + 2], sin(3.0 / pow(10000.0, 2.0 / D)), 1e-7);
    CHECK_NEAR(pe[4 * D + 5], cos(4.0 / pow(10000.0, 4.0 / D)), 1e-7);
    for (size_t i = 0; i < 2 * T * D; i++)
        x[i] = 1.0f;
    tsa_nn_posenc_add(x, pe, 2, T, D);
    CHECK(x[T * D + 7] == 1.0f + pe[7]);
}

TEST(dropout_mask_and_backward)
{
    enum { N = 100000 };
    float *x = fa(N), *y = fa(N), *mask = fa(N), *dx = fa(N), *dy = fa(N);
    for (size_t i = 0; i < N; i++)
        x[i] = 1.0f, dy[i] = 2.0f;
    tsa_rng rng;
    tsa_rng_seed(&rng, 7);
    tsa_nn_dropout_forward(y, mask, x, N, 0.3f, &rng);
    size_t zeros = 0;
    double mean = 0;
    for (size_t i = 0; i < N; i++) {
        zeros += y[i] == 0.0f;
        mean += y[i];
        CHECK(y[i] == 0.0f || fabsf(y[i] - 1.0f / 0.7f) < 1e-6f);
    }
    mean /= N;
    printf("# dropout p=0.3: %.4f dropped, mean %.4f\n", (double)zeros / N, mean);
    CHECK_NEAR((double)zeros / N, 0.3, 0.01);
    CHECK_NEAR(mean, 1.0, 0.02); /* inverted dropout keeps the expectation */
    tsa_nn_dropout_backward(dx, dy, mask, N);
    for (size_t i = 0; i < N; i += 997)
        CHECK(dx[i] == 2.0f * mask[i]);
    /* The same seed draws the same mask. */
    float *mask2 = fa(N);
    tsa_rng_seed(&rng, 7);
    tsa_nn_dropout_forward(y, mask2, x, N, 0.3f, &rng);
    CHECK(memcmp(mask, mask2, N * sizeof *mask) == 0);
    free(x), free(y), free(mask), free(mask2), free(dx), free(dy);
}

TEST_LIST(TEST_CASE(linear_forward_known_answer), TEST_CASE(linear_gradients),
          TEST_CASE(activation_gradients), TEST_CASE(fast_exp_tanh_sigmoid_accuracy),
          TEST_CASE(conv1d_is_causal_and_matches_direct_sum), TEST_CASE(conv1d_gradients),
          TEST_CASE(layernorm_normalises_and_gradients), TEST_CASE(gelu_lanes_match_scalar_bits),
          TEST_CASE(attention_is_causal_and_gradients),
          TEST_CASE(attention_long_windows_and_last_rows), TEST_CASE(positional_encoding_values),
          TEST_CASE(dropout_mask_and_backward))
