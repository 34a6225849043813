/* The "cnn" network: a temporal convolutional network (Bai, Kolter & Koltun
 * 2018, "An empirical evaluation of generic convolutional and recurrent
 * networks for sequence modeling"). A pointwise projection lifts the F
 * inputs to C channels, then conv_layers residual blocks
 *
 *   h_{i+1} = h_i + dropout(relu(conv_{k, d = 2^i}(h_i)))
 *
 * with causal dilated convolutions, so the last step sees
 * 1 + (k - 1)(2^n - 1) past rows; a linear head maps the last step's
 * channels to all P * F outputs. (One convolution per block, without the
 * paper's weight normalisation, keeps the receptive field formula simple.) */
#include <math.h>
#include <string.h>

#include "nn/act.h"
#include "nn/conv1d.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/net.h"

#define TCN_MAX_LAYERS 16

typedef struct tcn_params {
    float *Win, *bin;                                  /* (C, F), (C) */
    float *W[TCN_MAX_LAYERS], *b[TCN_MAX_LAYERS];      /* (C, K, C), (C) */
    float *Wh, *bh;                                    /* (P F, C), (P F) */
} tcn_params;

typedef struct tcn_views {
    float *h[TCN_MAX_LAYERS + 1]; /* (B L, C) the residual stream */
    float *u[TCN_MAX_LAYERS];     /* (B L, C) convolution outputs */
    float *col[TCN_MAX_LAYERS];   /* (B L, K C) unfolded inputs */
    float *hl;                    /* (B, C) the last step, the head's input */
    float *mask[TCN_MAX_LAYERS];  /* (B L, C) dropout */
    float *dh, *du, *dcol, *dhl;  /* gradients */
} tcn_views;

static size_t tcn_n_params(const tsa_nn_arch *a)
{
    const size_t C = a->channels, PF = a->P * a->F;
    return C * a->F + C + a->conv_layers * (C * a->kernel * C + C) + PF * C + PF;
}

static void tcn_param_views(const tsa_nn_arch *a, float *p, tcn_params *v)
{
    const size_t C = a->channels, PF = a->P * a->F;
    v->Win = p;
    p += C * a->F;
    v->bin = p;
    p += C;
    for (size_t i = 0; i < a->conv_layers; i++) {
        v->W[i] = p;
        p += C * a->kernel * C;
        v->b[i] = p;
        p += C;
    }
    v->Wh = p;
    p += PF * C;
    v->bh = p;
}

static size_t tcn_layout(const tsa_nn_arch *a, size_t B, int train, float *base, tcn_views *v)
{
    const size_t N = B * a->L, C = a->channels, n = a->conv_layers;
    tsa_nn_arena ar = {base, 0};
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i <= n; i++)
        v->h[i] = tsa_nn_take(&ar, N * C);
    for (size_t i = 0; i < n; i++) {
        v->u[i] = tsa_nn_take(&ar, N * C);
        v->col[i] = tsa_nn_take(&ar, N * a->kernel * C);
    }
    v->hl = tsa_nn_take(&ar, B * C);
    if (train) {
        for (size_t i = 0; i < n && a->dropout > 0.0f; i++)
            v->mask[i] = tsa_nn_take(&ar, N * C);
        v->dh = tsa_nn_take(&ar, N * C);
        v->du = tsa_nn_take(&ar, N * C);
        v->dcol = tsa_nn_take(&ar, N * a->kernel * C);
        v->dhl = tsa_nn_take(&ar, B * C);
    }
    return ar.used;
}

static size_t tcn_ws_size(const tsa_nn_arch *a, size_t B, int train)
{
    tcn_views v;
    return tcn_layout(a, B, train, NULL, &v);
}

static void tcn_init(const tsa_nn_arch *a, float *w, tsa_rng *rng)
{
    const size_t C = a->channels, PF = a->P * a->F;
    tcn_params p;
    tcn_param_views(a, w, &p);
    const double bin = 1.0 / sqrt((double)a->F), bc = 1.0 / sqrt((double)(C * a->kernel)),
                 bh = 1.0 / sqrt((double)C);
    tsa_nn_uniform(p.Win, C * a->F, bin, rng);
    tsa_nn_uniform(p.bin, C, bin, rng);
    for (size_t i = 0; i < a->conv_layers; i++) {
        tsa_nn_uniform(p.W[i], C * a->kernel * C, bc, rng);
        tsa_nn_uniform(p.b[i], C, bc, rng);
    }
    tsa_nn_uniform(p.Wh, PF * C, bh, rng);
    tsa_nn_uniform(p.bh, PF, bh, rng);
}

/* The first step at which layer i's output is needed: the head reads the
 * last step, and layer j at step s reads layer j - 1 back to
 * s - (K - 1) 2^j. Layers compute only from there on, about half the
 * positions when the window is the receptive field. */
static size_t tcn_first(const tsa_nn_arch *a, size_t i)
{
    size_t s = a->L - 1;
    for (size_t j = a->conv_layers - 1; j > i; j--) {
        const size_t back = (a->kernel - 1) << j;
        s = s > back ? s - back : 0;
    }
    return s;
}

static void tcn_forward(const tsa_nn_arch *a, const float *w, float *ws, size_t B, const float *x,
                        float *y, tsa_rng *drop)
{
    const size_t L = a->L, N = B * L, C = a->channels, n = a->conv_layers;
    tcn_params p;
    tcn_views v;
    tcn_param_views(a, (float *)w, &p);
    tcn_layout(a, B, drop != NULL, ws, &v);
    tsa_nn_linear_forward(v.h[0], x, p.Win, p.bin, N, a->F, C);
    for (size_t i = 0; i < n; i++) {
        const size_t t0 = tcn_first(a, i), MC = (L - t0) * C;
        /* u_i (B, L - t0, C) */
        tsa_nn_conv1d_forward(v.u[i], v.col[i], v.h[i], p.W[i], p.b[i], B, L, C, C, a->kernel,
                              (size_t)1 << i, t0);
        /* h_{i+1} = h_i + dropout(relu(u_i)) from step t0, built in place */
        for (size_t b = 0; b < B; b++) {
            float *hn = v.h[i + 1] + (b * L + t0) * C;
            const float *hp = v.h[i] + (b * L + t0) * C;
            tsa_nn_relu_forward(hn, v.u[i] + b * MC, MC);
            if (drop && a->dropout > 0.0f)
                tsa_nn_dropout_forward(hn, v.mask[i] + b * MC, hn, MC, a->dropout, drop);
            for (size_t j = 0; j < MC; j++)
                hn[j] += hp[j];
        }
    }
    for (size_t b = 0; b < B; b++)
        memcpy(v.hl + b * C, v.h[n] + (b * L + L - 1) * C, C * sizeof *v.hl);
    tsa_nn_linear_forward(y, v.hl, p.Wh, p.bh, B, C, a->P * a->F);
}

static void tcn_backward(const tsa_nn_arch *a, const float *w, float *g, float *ws, size_t B,
                         const float *x, const float *dy)
{
    const size_t L = a->L, N = B * L, C = a->channels, n = a->conv_layers;
    tcn_params p, gp;
    tcn_views v;
    tcn_param_views(a, (float *)w, &p);
    tcn_param_views(a, g, &gp);
    tcn_layout(a, B, 1, ws, &v);
    memset(v.dhl, 0, B * C * sizeof *v.dhl);
    tsa_nn_linear_backward(v.dhl, gp.Wh, gp.bh, dy, v.hl, p.Wh, B, C, a->P * a->F);
    memset(v.dh, 0, N * C * sizeof *v.dh);
    for (size_t b = 0; b < B; b++)
        memcpy(v.dh + (b * L + L - 1) * C, v.dhl + b * C, C * sizeof *v.dh);
    /* dh is the gradient of h_{i+1}; the identity path keeps it for h_i and
     * the convolution's input gradient is added to it. */
    for (size_t i = n; i-- > 0;) {
        const size_t t0 = tcn_first(a, i), MC = (L - t0) * C;
        for (size_t b = 0; b < B; b++) {
            const float *dhb = v.dh + (b * L + t0) * C, *ub = v.u[i] + b * MC;
            float *dub = v.du + b * MC;
            if (a->dropout > 0.0f) {
                memset(dub, 0, MC * sizeof *dub);
                tsa_nn_dropout_backward(dub, dhb, v.mask[i] + b * MC, MC);
                dhb = dub;
            }
            /* through the relu; elementwise, so safe when dhb is dub */
            for (size_t j = 0; j < MC; j++)
                dub[j] = ub[j] > 0.0f ? dhb[j] : 0.0f;
        }
        tsa_nn_conv1d_backward(v.dh, gp.W[i], gp.b[i], v.dcol, v.du, v.col[i], p.W[i], B, L, C, C,
                               a->kernel, (size_t)1 << i, t0);
    }
    tsa_nn_linear_backward(NULL, gp.Win, gp.bin, v.dh, x, p.Win, N, a->F, C);
}

const tsa_nn_net_ops tsa_nn_net_tcn = {
    .name = "tcn",
    .n_params = tcn_n_params,
    .init = tcn_init,
    .ws_size = tcn_ws_size,
    .prepare = NULL,
    .forward = tcn_forward,
    .backward = tcn_backward,
};
