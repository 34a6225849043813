/* The "cnn_lstm" network: causal convolutions extract local patterns, an
 * LSTM carries them through the window (the CNN-LSTM of Kim & Cho 2019,
 * "Predicting residential energy consumption using CNN-LSTM neural
 * networks", with causal dilated convolutions so no step sees the future):
 *
 *   c_0 = x,  c_{i+1} = dropout(relu(conv_{k, d = 2^i}(c_i)))   (B, L, C)
 *   h   = LSTM stack over c_n (time-major)
 *   y   = h at the last step W_h^T + b_h                        (B, P F)
 */
#include <math.h>
#include <string.h>

#include "nn/act.h"
#include "nn/conv1d.h"
#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "nn/net.h"

#define CL_MAX_CONV 8

typedef struct cl_params {
    float *W[CL_MAX_CONV], *b[CL_MAX_CONV]; /* (C, K, Cin), (C) */
    tsa_nn_lstm_stack st;
    float *Wh, *bh; /* (P F, H), (P F) */
} cl_params;

typedef struct cl_views {
    float *c[CL_MAX_CONV + 1];   /* (B L, C) layer outputs; c[0] unused (x) */
    float *u[CL_MAX_CONV];       /* (B L, C) pre-activation */
    float *col[CL_MAX_CONV];     /* (B L, K Cin) */
    float *ct;                   /* (L, B, C) the LSTM's input, time-major */
    tsa_nn_lstm_stack st;
    float *hl;                   /* (B, H) */
    float *mask[CL_MAX_CONV];    /* (B L, C) */
    float *hmask;                /* (B, H) */
    float *dct, *dc, *du, *dcol, *dtop, *dhl;
} cl_views;

static size_t cl_conv_in(const tsa_nn_arch *a, size_t i) { return i ? a->channels : a->F; }

static size_t cl_conv_params(const tsa_nn_arch *a)
{
    size_t n = 0;
    for (size_t i = 0; i < a->conv_layers; i++)
        n += tsa_nn_conv1d_n_params(cl_conv_in(a, i), a->channels, a->kernel);
    return n;
}

static size_t cl_n_params(const tsa_nn_arch *a)
{
    const size_t PF = a->P * a->F;
    return cl_conv_params(a) + tsa_nn_lstm_stack_n_params(a->channels, a->hidden, a->layers) +
           PF * a->hidden + PF;
}

static void cl_param_views(const tsa_nn_arch *a, float *p, cl_params *v)
{
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < a->conv_layers; i++) {
        v->W[i] = p;
        p += a->channels * a->kernel * cl_conv_in(a, i);
        v->b[i] = p;
        p += a->channels;
    }
    v->st.In = a->channels;
    v->st.H = a->hidden;
    v->st.n = a->layers;
    tsa_nn_lstm_stack_params(&v->st, p);
    p += tsa_nn_lstm_stack_n_params(a->channels, a->hidden, a->layers);
    v->Wh = p;
    v->bh = p + a->P * a->F * a->hidden;
}

static size_t cl_layout(const tsa_nn_arch *a, size_t B, int train, float *base, cl_views *v)
{
    const size_t L = a->L, N = B * L, C = a->channels, H = a->hidden, n = a->conv_layers;
    tsa_nn_arena ar = {base, 0};
    memset(v, 0, sizeof *v);
    for (size_t i = 0; i < n; i++) {
        v->c[i + 1] = tsa_nn_take(&ar, N * C);
        v->u[i] = tsa_nn_take(&ar, N * C);
        v->col[i] = tsa_nn_take(&ar, N * a->kernel * cl_conv_in(a, i));
    }
    v->ct = tsa_nn_take(&ar, N * C);
    v->hl = tsa_nn_take(&ar, B * H);
    tsa_nn_lstm_stack_carve(&v->st, &ar, L, B, C, H, a->layers, a->dropout, train);
    if (train) {
        size_t kc = a->kernel * (a->F > C ? a->F : C);
        for (size_t i = 0; i < n && a->dropout > 0.0f; i++)
            v->mask[i] = tsa_nn_take(&ar, N * C);
        if (a->dropout > 0.0f)
            v->hmask = tsa_nn_take(&ar, B * H);
        v->dct = tsa_nn_take(&ar, N * C);
        v->dc = tsa_nn_take(&ar, N * C);
        v->du = tsa_nn_take(&ar, N * C);
        v->dcol = tsa_nn_take(&ar, N * kc);
        v->dtop = tsa_nn_take(&ar, N * H);
        v->dhl = tsa_nn_take(&ar, B * H);
    }
    return ar.used;
}

static size_t cl_ws_size(const tsa_nn_arch *a, size_t B, int train)
{
    cl_views v;
    return cl_layout(a, B, train, NULL, &v);
}

static void cl_init(const tsa_nn_arch *a, float *w, tsa_rng *rng)
{
    cl_params p;
    cl_param_views(a, w, &p);
    for (size_t i = 0; i < a->conv_layers; i++) {
        size_t fan = a->kernel * cl_conv_in(a, i);
        double bound = 1.0 / sqrt((double)fan);
        tsa_nn_uniform(p.W[i], a->channels * fan, bound, rng);
        tsa_nn_uniform(p.b[i], a->channels, bound, rng);
    }
    tsa_nn_lstm_stack_init(&p.st, rng);
    const double bh = 1.0 / sqrt((double)a->hidden);
    tsa_nn_uniform(p.Wh, a->P * a->F * a->hidden, bh, rng);
    tsa_nn_uniform(p.bh, a->P * a->F, bh, rng);
}

static void cl_forward(const tsa_nn_arch *a, const float *w, float *ws, size_t B, const float *x,
                       float *y, tsa_rng *drop)
{
    const size_t L = a->L, N = B * L, C = a->channels, H = a->hidden, n = a->conv_layers;
    const int dropped = drop && a->dropout > 0.0f;
    cl_params p;
    cl_views v;
    cl_param_views(a, (float *)w, &p);
    cl_layout(a, B, drop != NULL, ws, &v);
    const float *in = x;
    for (size_t i = 0; i < n; i++) {
        tsa_nn_conv1d_forward(v.u[i], v.col[i], in, p.W[i], p.b[i], B, L, cl_conv_in(a, i), C,
                              a->kernel, (size_t)1 << i, 0);
        tsa_nn_relu_forward(v.c[i + 1], v.u[i], N * C);
        if (dropped)
            tsa_nn_dropout_forward(v.c[i + 1], v.mask[i], v.c[i + 1], N * C, a->dropout, drop);
        in = v.c[i + 1];
    }
    tsa_nn_transpose01(v.ct, in, B, L, C);
    tsa_nn_lstm_stack_forward(&v.st, &p.st, B, v.ct, drop);
    const float *last = v.st.h[a->layers - 1] + L * B * H;
    if (dropped)
        tsa_nn_dropout_forward(v.hl, v.hmask, last, B * H, a->dropout, drop);
    else
        memcpy(v.hl, last, B * H * sizeof *v.hl);
    tsa_nn_linear_forward(y, v.hl, p.Wh, p.bh, B, H, a->P * a->F);
}

static void cl_backward(const tsa_nn_arch *a, const float *w, float *g, float *ws, size_t B,
                        const float *x, const float *dy)
{
    const size_t L = a->L, N = B * L, C = a->channels, H = a->hidden, n = a->conv_layers;
    const int dropped = a->dropout > 0.0f;
    cl_params p, gp;
    cl_views v;
    cl_param_views(a, (float *)w, &p);
    cl_param_views(a, g, &gp);
    cl_layout(a, B, 1, ws, &v);
    memset(v.dhl, 0, B * H * sizeof *v.dhl);
    tsa_nn_linear_backward(v.dhl, gp.Wh, gp.bh, dy, v.hl, p.Wh, B, H, a->P * a->F);
    memset(v.dtop, 0, N * H * sizeof *v.dtop);
    float *dlast = v.dtop + (L - 1) * B * H;
    if (dropped)
        tsa_nn_dropout_backward(dlast, v.dhl, v.hmask, B * H);
    else
        memcpy(dlast, v.dhl, B * H * sizeof *dlast);
    memset(v.dct, 0, N * C * sizeof *v.dct);
    tsa_nn_lstm_stack_backward(&v.st, &p.st, &gp.st, B, v.ct, v.dtop, v.dct);
    /* back to batch-major: dc (B L, C) is the gradient of c_n */
    tsa_nn_transpose01(v.dc, v.dct, L, B, C);
    for (size_t i = n; i-- > 0;) {
        memset(v.du, 0, N * C * sizeof *v.du);
        if (dropped)
            tsa_nn_dropout_backward(v.du, v.dc, v.mask[i], N * C);
        else
            memcpy(v.du, v.dc, N * C * sizeof *v.du);
        for (size_t j = 0; j < N * C; j++)
            v.du[j] = v.u[i][j] > 0.0f ? v.du[j] : 0.0f;
        float *dx = NULL;
        if (i > 0) {
            memset(v.dc, 0, N * C * sizeof *v.dc);
            dx = v.dc;
        }
        tsa_nn_conv1d_backward(dx, gp.W[i], gp.b[i], v.dcol, v.du, v.col[i], p.W[i], B, L,
                               cl_conv_in(a, i), C, a->kernel, (size_t)1 << i, 0);
    }
    (void)x;
}

const tsa_nn_net_ops tsa_nn_net_cnn_lstm = {
    .name = "cnn_lstm",
    .n_params = cl_n_params,
    .init = cl_init,
    .ws_size = cl_ws_size,
    .prepare = NULL,
    .forward = cl_forward,
    .backward = cl_backward,
};
