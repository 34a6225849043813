/* The "lstm" network: a stack of LSTM layers over the window (nn/lstm.c),
 * and a linear head from the last step's hidden state to all P * F outputs
 * at once (a direct multi-step forecaster). */
#include <math.h>
#include <string.h>

#include "nn/dropout.h"
#include "nn/linear.h"
#include "nn/lstm.h"
#include "nn/net.h"

typedef struct lstm_params {
    tsa_nn_lstm_stack st;
    float *W, *b; /* head (P F, H), (P F) */
} lstm_params;

typedef struct lstm_views {
    tsa_nn_lstm_stack st;
    float *xt;   /* (L, B, F) the input, time-major */
    float *hl;   /* (B, H) the head's input */
    float *mask; /* (B, H) dropout before the head */
    float *dtop; /* (L, B, H) gradient of the top layer's outputs */
    float *dhl;  /* (B, H) */
} lstm_views;

static size_t lstm_n_params(const tsa_nn_arch *a)
{
    return tsa_nn_lstm_stack_n_params(a->F, a->hidden, a->layers) +
           a->P * a->F * a->hidden + a->P * a->F;
}

static void lstm_param_views(const tsa_nn_arch *a, float *block, lstm_params *p)
{
    memset(p, 0, sizeof *p);
    p->st.In = a->F;
    p->st.H = a->hidden;
    p->st.n = a->layers;
    tsa_nn_lstm_stack_params(&p->st, block);
    p->W = block + tsa_nn_lstm_stack_n_params(a->F, a->hidden, a->layers);
    p->b = p->W + a->P * a->F * a->hidden;
}

static size_t lstm_layout(const tsa_nn_arch *a, size_t B, int train, float *base, lstm_views *v)
{
    const size_t L = a->L, H = a->hidden;
    tsa_nn_arena ar = {base, 0};
    memset(v, 0, sizeof *v);
    v->xt = tsa_nn_take(&ar, L * B * a->F);
    v->hl = tsa_nn_take(&ar, B * H);
    tsa_nn_lstm_stack_carve(&v->st, &ar, L, B, a->F, H, a->layers, a->dropout, train);
    if (train) {
        if (a->dropout > 0.0f)
            v->mask = tsa_nn_take(&ar, B * H);
        v->dtop = tsa_nn_take(&ar, L * B * H);
        v->dhl = tsa_nn_take(&ar, B * H);
    }
    return ar.used;
}

static size_t lstm_ws_size(const tsa_nn_arch *a, size_t B, int train)
{
    lstm_views v;
    return lstm_layout(a, B, train, NULL, &v);
}

static void lstm_init(const tsa_nn_arch *a, float *w, tsa_rng *rng)
{
    lstm_params p;
    lstm_param_views(a, w, &p);
    tsa_nn_lstm_stack_init(&p.st, rng);
    const double bound = 1.0 / sqrt((double)a->hidden);
    tsa_nn_uniform(p.W, a->P * a->F * a->hidden, bound, rng);
    tsa_nn_uniform(p.b, a->P * a->F, bound, rng);
}

static void lstm_forward(const tsa_nn_arch *a, const float *w, float *ws, size_t B, const float *x,
                         float *y, tsa_rng *drop)
{
    const size_t L = a->L, H = a->hidden;
    lstm_params p;
    lstm_views v;
    lstm_param_views(a, (float *)w, &p);
    lstm_layout(a, B, drop != NULL, ws, &v);
    tsa_nn_transpose01(v.xt, x, B, L, a->F);
    tsa_nn_lstm_stack_forward(&v.st, &p.st, B, v.xt, drop);
    const float *last = v.st.h[a->layers - 1] + L * B * H;
    if (drop && a->dropout > 0.0f)
        tsa_nn_dropout_forward(v.hl, v.mask, last, B * H, a->dropout, drop);
    else
        memcpy(v.hl, last, B * H * sizeof *v.hl);
    tsa_nn_linear_forward(y, v.hl, p.W, p.b, B, H, a->P * a->F);
}

static void lstm_backward(const tsa_nn_arch *a, const float *w, float *g, float *ws, size_t B,
                          const float *x, const float *dy)
{
    const size_t L = a->L, H = a->hidden;
    lstm_params p, gp;
    lstm_views v;
    (void)x;
    lstm_param_views(a, (float *)w, &p);
    lstm_param_views(a, g, &gp);
    lstm_layout(a, B, 1, ws, &v);
    memset(v.dhl, 0, B * H * sizeof *v.dhl);
    tsa_nn_linear_backward(v.dhl, gp.W, gp.b, dy, v.hl, p.W, B, H, a->P * a->F);
    memset(v.dtop, 0, L * B * H * sizeof *v.dtop);
    float *dlast = v.dtop + (L - 1) * B * H;
    if (a->dropout > 0.0f)
        tsa_nn_dropout_backward(dlast, v.dhl, v.mask, B * H);
    else
        memcpy(dlast, v.dhl, B * H * sizeof *dlast);
    tsa_nn_lstm_stack_backward(&v.st, &p.st, &gp.st, B, v.xt, v.dtop, NULL);
}

const tsa_nn_net_ops tsa_nn_net_lstm = {
    .name = "lstm",
    .n_params = lstm_n_params,
    .init = lstm_init,
    .ws_size = lstm_ws_size,
    .prepare = NULL,
    .forward = lstm_forward,
    .backward = lstm_backward,
};
