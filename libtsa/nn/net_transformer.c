/* The "transformer" network: a pre-norm causal transformer encoder
 * (Vaswani et al. 2017, with the pre-layer-norm placement of Xiong et al.
 * 2020, "On layer normalization in the transformer architecture"):
 *
 *   r_0     = x W_in^T + b_in + PE                       (B L, D)
 *   r'_l    = r_l + dropout(Attn(LN1(r_l)) W_o^T + b_o)
 *   r_{l+1} = r'_l + dropout(GELU(LN2(r'_l) W_1^T + b_1) W_2^T + b_2)
 *   y       = LN_f(r_n at the last step) W_h^T + b_h       (B, P F)
 *
 * with causal multi-head attention (nn/attention.c) and sinusoidal
 * positions (nn/posenc.c). */
#include <math.h>
#include <string.h>

#include "nn/act.h"
#include "nn/attention.h"
#include "nn/dropout.h"
#include "nn/layernorm.h"
#include "nn/linear.h"
#include "nn/net.h"
#include "nn/posenc.h"

#define TF_MAX_LAYERS 16

typedef struct tf_layer_params {
    float *g1, *b1;     /* (D) LN1 */
    float *Wqkv, *bqkv; /* (3D, D), (3D) */
    float *Wo, *bo;     /* (D, D), (D) */
    float *g2, *b2;     /* (D) LN2 */
    float *W1, *bf1;    /* (ff, D), (ff) */
    float *W2, *bf2;    /* (D, ff), (D) */
} tf_layer_params;

typedef struct tf_params {
    float *Win, *bin; /* (D, F), (D) */
    tf_layer_params l[TF_MAX_LAYERS];
    float *gf, *bf;   /* (D) final LN */
    float *Wh, *bh;   /* (P F, D), (P F) */
} tf_params;

typedef struct tf_layer_views {
    float *r, *rm;          /* (B L, D) stream into the layer, (nq, D) after attention */
    float *ln1, *mu1, *rs1; /* (B L, D), (B L), (B L) */
    float *qkv;             /* (B L, 3D) */
    float *att;             /* (B, heads, nq / B, L) */
    float *ao;              /* (nq, D) attention output */
    float *ln2, *mu2, *rs2; /* (nq, D), (nq), (nq) */
    float *f1, *gl;         /* (nq, ff) pre- and post-GELU */
    float *m1, *m2;         /* (nq, D) dropout masks */
} tf_layer_views;

typedef struct tf_views {
    float *pe; /* (L, D), filled by prepare: first, at offset 0 */
    tf_layer_views l[TF_MAX_LAYERS];
    float *rout;                   /* (B L, D) the embedding, without layers */
    float *last, *lnf, *muf, *rsf; /* (B, D), (B, D), (B), (B) */
    float *tmp;                    /* (B L, D) a branch's output before the residual add */
    float *asc;                    /* attention scratch */
    /* gradients */
    float *dr, *dtmp, *dln, *dqkv, *dao, *df1, *dgl, *dlast, *dlnf;
} tf_views;

static size_t tf_n_params(const tsa_nn_arch *a)
{
    const size_t D = a->d_model, ff = a->ff, PF = a->P * a->F;
    size_t layer = 2 * D + 3 * D * D + 3 * D + D * D + D + 2 * D + ff * D + ff + D * ff + D;
    return D * a->F + D + a->layers * layer + 2 * D + PF * D + PF;
}

static float *tf_take(float **p, size_t n)
{
    float *v = *p;
    *p += n;
    return v;
}

static void tf_param_views(const tsa_nn_arch *a, float *p, tf_params *v)
{
    const size_t D = a->d_model, ff = a->ff, PF = a->P * a->F;
    v->Win = tf_take(&p, D * a->F);
    v->bin = tf_take(&p, D);
    for (size_t i = 0; i < a->layers; i++) {
        tf_layer_params *l = &v->l[i];
        l->g1 = tf_take(&p, D);
        l->b1 = tf_take(&p, D);
        l->Wqkv = tf_take(&p, 3 * D * D);
        l->bqkv = tf_take(&p, 3 * D);
        l->Wo = tf_take(&p, D * D);
        l->bo = tf_take(&p, D);
        l->g2 = tf_take(&p, D);
        l->b2 = tf_take(&p, D);
        l->W1 = tf_take(&p, ff * D);
        l->bf1 = tf_take(&p, ff);
        l->W2 = tf_take(&p, D * ff);
        l->bf2 = tf_take(&p, D);
    }
    v->gf = tf_take(&p, D);
    v->bf = tf_take(&p, D);
    v->Wh = tf_take(&p, PF * D);
    v->bh = tf_take(&p, PF);
}

/* The head reads the last step only, and the network is causal, so the
 * last layer computes its queries, attention, output projection and
 * feed-forward block for the last step alone (its keys and values still
 * cover the window): nq = B rows there, B L elsewhere. */
static int tf_is_last(const tsa_nn_arch *a, size_t i) { return i + 1 == a->layers; }

static size_t tf_layout(const tsa_nn_arch *a, size_t B, int train, float *base, tf_views *v)
{
    const size_t L = a->L, N = B * L, D = a->d_model, ff = a->ff, H = a->heads;
    tsa_nn_arena ar = {base, 0};
    memset(v, 0, sizeof *v);
    v->pe = tsa_nn_take(&ar, L * D);
    for (size_t i = 0; i < a->layers; i++) {
        tf_layer_views *l = &v->l[i];
        const size_t nq = tf_is_last(a, i) ? B : N;
        l->r = tsa_nn_take(&ar, N * D);
        l->rm = tsa_nn_take(&ar, nq * D);
        l->ln1 = tsa_nn_take(&ar, N * D);
        l->mu1 = tsa_nn_take(&ar, N);
        l->rs1 = tsa_nn_take(&ar, N);
        l->qkv = tsa_nn_take(&ar, N * 3 * D);
        l->att = tsa_nn_take(&ar, H * nq * L);
        l->ao = tsa_nn_take(&ar, nq * D);
        l->ln2 = tsa_nn_take(&ar, nq * D);
        l->mu2 = tsa_nn_take(&ar, nq);
        l->rs2 = tsa_nn_take(&ar, nq);
        l->f1 = tsa_nn_take(&ar, nq * ff);
        l->gl = tsa_nn_take(&ar, nq * ff);
    }
    if (a->layers == 0)
        v->rout = tsa_nn_take(&ar, N * D);
    v->last = tsa_nn_take(&ar, B * D);
    v->lnf = tsa_nn_take(&ar, B * D);
    v->muf = tsa_nn_take(&ar, B);
    v->rsf = tsa_nn_take(&ar, B);
    v->tmp = tsa_nn_take(&ar, N * D);
    v->asc = tsa_nn_take(&ar, tsa_nn_attention_scratch(L, D, H));
    if (train) {
        for (size_t i = 0; i < a->layers && a->dropout > 0.0f; i++) {
            const size_t nq = tf_is_last(a, i) ? B : N;
            v->l[i].m1 = tsa_nn_take(&ar, nq * D);
            v->l[i].m2 = tsa_nn_take(&ar, nq * D);
        }
        v->dr = tsa_nn_take(&ar, N * D);
        v->dtmp = tsa_nn_take(&ar, N * D);
        v->dln = tsa_nn_take(&ar, N * D);
        v->dqkv = tsa_nn_take(&ar, N * 3 * D);
        v->dao = tsa_nn_take(&ar, N * D);
        v->df1 = tsa_nn_take(&ar, N * ff);
        v->dgl = tsa_nn_take(&ar, N * ff);
        v->dlast = tsa_nn_take(&ar, B * D);
        v->dlnf = tsa_nn_take(&ar, B * D);
    }
    return ar.used;
}

static size_t tf_ws_size(const tsa_nn_arch *a, size_t B, int train)
{
    tf_views v;
    return tf_layout(a, B, train, NULL, &v);
}

static void tf_prepare(const tsa_nn_arch *a, float *ws, size_t B)
{
    (void)B;
    tsa_nn_posenc_fill(ws, a->L, a->d_model); /* v->pe is at offset 0 */
}

static size_t tf_prep_size(const tsa_nn_arch *a) { return a->L * a->d_model; }

static void tf_init(const tsa_nn_arch *a, float *w, tsa_rng *rng)
{
    const size_t D = a->d_model, ff = a->ff, PF = a->P * a->F;
    tf_params p;
    tf_param_views(a, w, &p);
    const double bin = 1.0 / sqrt((double)a->F), bd = 1.0 / sqrt((double)D),
                 bff = 1.0 / sqrt((double)ff);
    tsa_nn_uniform(p.Win, D * a->F, bin, rng);
    tsa_nn_uniform(p.bin, D, bin, rng);
    for (size_t i = 0; i < a->layers; i++) {
        tf_layer_params *l = &p.l[i];
        for (size_t j = 0; j < D; j++) {
            l->g1[j] = l->g2[j] = 1.0f;
            l->b1[j] = l->b2[j] = 0.0f;
        }
        tsa_nn_uniform(l->Wqkv, 3 * D * D, bd, rng);
        tsa_nn_uniform(l->bqkv, 3 * D, bd, rng);
        tsa_nn_uniform(l->Wo, D * D, bd, rng);
        tsa_nn_uniform(l->bo, D, bd, rng);
        tsa_nn_uniform(l->W1, ff * D, bd, rng);
        tsa_nn_uniform(l->bf1, ff, bd, rng);
        tsa_nn_uniform(l->W2, D * ff, bff, rng);
        tsa_nn_uniform(l->bf2, D, bff, rng);
    }
    for (size_t j = 0; j < D; j++) {
        p.gf[j] = 1.0f;
        p.bf[j] = 0.0f;
    }
    tsa_nn_uniform(p.Wh, PF * D, bd, rng);
    tsa_nn_uniform(p.bh, PF, bd, rng);
}

/* out = in + dropout(branch), the residual add, over @rows rows of D; row k
 * of @in starts at k * @in_ld. */
static void tf_residual(float *out, const float *in, size_t in_ld, float *branch, float *mask,
                        size_t rows, size_t D, float p, tsa_rng *drop)
{
    if (drop && p > 0.0f)
        tsa_nn_dropout_forward(branch, mask, branch, rows * D, p, drop);
    for (size_t k = 0; k < rows; k++)
        for (size_t j = 0; j < D; j++)
            out[k * D + j] = in[k * in_ld + j] + branch[k * D + j];
}

static void tf_forward(const tsa_nn_arch *a, const float *w, float *ws, size_t B, const float *x,
                       float *y, tsa_rng *drop)
{
    const size_t L = a->L, N = B * L, D = a->d_model, ff = a->ff;
    tf_params p;
    tf_views v;
    tf_param_views(a, (float *)w, &p);
    tf_layout(a, B, drop != NULL, ws, &v);
    float *r0 = a->layers ? v.l[0].r : v.rout;
    tsa_nn_linear_forward(r0, x, p.Win, p.bin, N, a->F, D);
    tsa_nn_posenc_add(r0, v.pe, B, L, D);
    for (size_t i = 0; i < a->layers; i++) {
        tf_layer_params *lp = &p.l[i];
        tf_layer_views *l = &v.l[i];
        const int last = tf_is_last(a, i);
        const size_t nq = last ? B : N, t0 = last ? L - 1 : 0;
        float *next = last ? v.last : v.l[i + 1].r;
        tsa_nn_layernorm_forward(l->ln1, l->mu1, l->rs1, l->r, lp->g1, lp->b1, N, D);
        if (last) { /* keys and values of every step, the query of the last */
            tsa_nn_linear_forward_ld(l->qkv + D, 3 * D, l->ln1, D, lp->Wqkv + D * D,
                                     lp->bqkv + D, N, D, 2 * D);
            tsa_nn_linear_forward_ld(l->qkv + t0 * 3 * D, L * 3 * D, l->ln1 + t0 * D, L * D,
                                     lp->Wqkv, lp->bqkv, B, D, D);
        } else {
            tsa_nn_linear_forward(l->qkv, l->ln1, lp->Wqkv, lp->bqkv, N, D, 3 * D);
        }
        tsa_nn_attention_forward(l->ao, l->att, v.asc, l->qkv, B, L, D, a->heads, t0);
        tsa_nn_linear_forward(v.tmp, l->ao, lp->Wo, lp->bo, nq, D, D);
        tf_residual(l->rm, l->r + t0 * D, (N / nq) * D, v.tmp, l->m1, nq, D, a->dropout, drop);
        tsa_nn_layernorm_forward(l->ln2, l->mu2, l->rs2, l->rm, lp->g2, lp->b2, nq, D);
        tsa_nn_linear_forward(l->f1, l->ln2, lp->W1, lp->bf1, nq, D, ff);
        tsa_nn_gelu_forward(l->gl, l->f1, nq * ff);
        tsa_nn_linear_forward(v.tmp, l->gl, lp->W2, lp->bf2, nq, ff, D);
        tf_residual(next, l->rm, D, v.tmp, l->m2, nq, D, a->dropout, drop);
    }
    /* Only the last step feeds the head (causal: it has seen the window). */
    if (a->layers == 0)
        for (size_t b = 0; b < B; b++)
            memcpy(v.last + b * D, v.rout + (b * L + L - 1) * D, D * sizeof *v.last);
    tsa_nn_layernorm_forward(v.lnf, v.muf, v.rsf, v.last, p.gf, p.bf, B, D);
    tsa_nn_linear_forward(y, v.lnf, p.Wh, p.bh, B, D, a->P * a->F);
}

/* The gradient reaching a branch's output through dropout: @d itself, or
 * d * mask in dtmp. */
static const float *tf_branch_grad(const tf_views *v, const float *d, const float *mask, size_t n,
                                   float p)
{
    if (p <= 0.0f)
        return d;
    memset(v->dtmp, 0, n * sizeof *v->dtmp);
    tsa_nn_dropout_backward(v->dtmp, d, mask, n);
    return v->dtmp;
}

/* dr (B L, D) = 0 but for the last step of each window, which gets @d (B, D).
 */
static void tf_scatter_last(float *dr, const float *d, size_t B, size_t L, size_t D)
{
    memset(dr, 0, B * L * D * sizeof *dr);
    for (size_t b = 0; b < B; b++)
        memcpy(dr + (b * L + L - 1) * D, d + b * D, D * sizeof *dr);
}

static void tf_backward(const tsa_nn_arch *a, const float *w, float *g, float *ws, size_t B,
                        const float *x, const float *dy)
{
    const size_t L = a->L, N = B * L, D = a->d_model, ff = a->ff;
    tf_params p, gp;
    tf_views v;
    tf_param_views(a, (float *)w, &p);
    tf_param_views(a, g, &gp);
    tf_layout(a, B, 1, ws, &v);
    memset(v.dlnf, 0, B * D * sizeof *v.dlnf);
    tsa_nn_linear_backward(v.dlnf, gp.Wh, gp.bh, dy, v.lnf, p.Wh, B, D, a->P * a->F);
    memset(v.dlast, 0, B * D * sizeof *v.dlast);
    tsa_nn_layernorm_backward(v.dlast, gp.gf, gp.bf, v.dlnf, v.last, v.muf, v.rsf, p.gf, B, D);
    if (a->layers == 0)
        tf_scatter_last(v.dr, v.dlast, B, L, D);
    /* d: the gradient of the layer's output, then of its stream after
   * attention (nq rows); v.dr: of the stream into the layer (B L rows). */
    for (size_t i = a->layers; i-- > 0;) {
        tf_layer_params *lp = &p.l[i], *lg = &gp.l[i];
        tf_layer_views *l = &v.l[i];
        const int last = tf_is_last(a, i);
        const size_t nq = last ? B : N, t0 = last ? L - 1 : 0;
        float *d = last ? v.dlast : v.dr;
        const float *db = tf_branch_grad(&v, d, l->m2, nq * D, a->dropout);
        memset(v.dgl, 0, nq * ff * sizeof *v.dgl);
        tsa_nn_linear_backward(v.dgl, lg->W2, lg->bf2, db, l->gl, lp->W2, nq, ff, D);
        memset(v.df1, 0, nq * ff * sizeof *v.df1);
        tsa_nn_gelu_backward(v.df1, v.dgl, l->f1, nq * ff);
        memset(v.dln, 0, nq * D * sizeof *v.dln);
        tsa_nn_linear_backward(v.dln, lg->W1, lg->bf1, v.df1, l->ln2, lp->W1, nq, D, ff);
        tsa_nn_layernorm_backward(d, lg->g2, lg->b2, v.dln, l->rm, l->mu2, l->rs2, lp->g2, nq, D);
        db = tf_branch_grad(&v, d, l->m1, nq * D, a->dropout);
        memset(v.dao, 0, nq * D * sizeof *v.dao);
        tsa_nn_linear_backward(v.dao, lg->Wo, lg->bo, db, l->ao, lp->Wo, nq, D, D);
        memset(v.dqkv, 0, N * 3 * D * sizeof *v.dqkv);
        tsa_nn_attention_backward(v.dqkv, v.asc, v.dao, l->qkv, l->att, B, L, D, a->heads, t0);
        memset(v.dln, 0, N * D * sizeof *v.dln);
        if (last) {
            tsa_nn_linear_backward_ld(v.dln, lg->Wqkv + D * D, lg->bqkv + D, v.dqkv + D, 3 * D,
                                      l->ln1, D, lp->Wqkv + D * D, N, D, 2 * D);
            tsa_nn_linear_backward_ld(v.dln + t0 * D, lg->Wqkv, lg->bqkv, v.dqkv + t0 * 3 * D,
                                      L * 3 * D, l->ln1 + t0 * D, L * D, lp->Wqkv, B, D, D);
        } else {
            tsa_nn_linear_backward(v.dln, lg->Wqkv, lg->bqkv, v.dqkv, l->ln1, lp->Wqkv, N, D,
                                   3 * D);
        }
        if (last)
            tf_scatter_last(v.dr, d, B, L, D);
        tsa_nn_layernorm_backward(v.dr, lg->g1, lg->b1, v.dln, l->r, l->mu1, l->rs1, lp->g1, N, D);
    }
    tsa_nn_linear_backward(NULL, gp.Win, gp.bin, v.dr, x, p.Win, N, a->F, D);
}

const tsa_nn_net_ops tsa_nn_net_transformer = {
    .name = "transformer",
    .n_params = tf_n_params,
    .init = tf_init,
    .ws_size = tf_ws_size,
    .prepare = tf_prepare,
    .prep_size = tf_prep_size,
    .forward = tf_forward,
    .backward = tf_backward,
};
