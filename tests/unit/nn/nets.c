/* Tests of the networks in libtsa/nn/net_*.c as a whole: finite-difference
 * gradients of every parameter through forward and backward (with and
 * without dropout, the mask held fixed by reseeding), outputs independent
 * of the batch they are computed in, and inference on a training workspace
 * equal to inference on its own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/net.h"

#include "gradcheck.h"
#include "harness.h"

#define TOL 1e-2

typedef struct {
    const tsa_nn_net_ops *ops;
    tsa_nn_arch a;
    size_t B;
    float *w, *ws, *x, *y, *r;
} net_ctx;

static double net_loss(void *p)
{
    net_ctx *c = p;
    tsa_rng rng;
    tsa_rng_seed(&rng, 77);
    c->ops->forward(&c->a, c->w, c->ws, c->B, c->x, c->y, &rng);
    return gc_dot(c->r, c->y, c->B * c->a.P * c->a.F);
}

/* @relu: the network is piecewise smooth (see gc_check_ex). */
static void check_net(const char *name, const tsa_nn_net_ops *ops, tsa_nn_arch a, int relu)
{
    net_ctx c;
    memset(&c, 0, sizeof c);
    c.ops = ops;
    c.a = a;
    c.B = 3;
    const size_t np = ops->n_params(&a), PF = a.P * a.F, Bmax = 5;
    const size_t wtrain = ops->ws_size(&a, Bmax, 1), weval = ops->ws_size(&a, Bmax, 0);
    CHECK(wtrain >= weval && weval >= ops->ws_size(&a, 1, 0));
    c.w = calloc(np, sizeof(float));
    float *g = calloc(np, sizeof(float));
    c.ws = calloc(wtrain, sizeof(float));
    float *ws_eval = calloc(weval, sizeof(float));
    c.x = calloc(Bmax * a.L * a.F, sizeof(float));
    c.y = calloc(Bmax * PF, sizeof(float));
    c.r = calloc(Bmax * PF, sizeof(float));
    float *y1 = calloc(Bmax * PF, sizeof(float)), *y2 = calloc(Bmax * PF, sizeof(float));
    tsa_rng rng;
    tsa_rng_seed(&rng, 5);
    ops->init(&a, c.w, &rng);
    if (ops->prepare) {
        ops->prepare(&a, c.ws, Bmax);
        ops->prepare(&a, ws_eval, Bmax);
    }
    gc_fill(c.x, Bmax * a.L * a.F, -1.5, 1.5, &rng);
    gc_fill(c.r, Bmax * PF, -1, 1, &rng);

    /* Inference: the same outputs on either workspace, for a batch of 5 or
     * each window alone. */
    ops->forward(&a, c.w, ws_eval, Bmax, c.x, y1, NULL);
    ops->forward(&a, c.w, c.ws, Bmax, c.x, y2, NULL);
    CHECK(memcmp(y1, y2, Bmax * PF * sizeof(float)) == 0);
    double worst = 0;
    for (size_t b = 0; b < Bmax; b++) {
        ops->forward(&a, c.w, ws_eval, 1, c.x + b * a.L * a.F, y2, NULL);
        for (size_t k = 0; k < PF; k++)
            worst = fmax(worst, fabs(y2[k] - y1[b * PF + k]));
    }
    CHECK(worst < 1e-5);
    for (size_t k = 0; k < Bmax * PF; k++)
        CHECK(isfinite(y1[k]));

    net_loss(&c);
    ops->backward(&a, c.w, g, c.ws, c.B, c.x, c.r);
    char what[96];
    snprintf(what, sizeof what, "%s dparams", name);
    double err = gc_check_ex(what, c.w, g, np, net_loss, &c, 1e-2, relu);
    CHECK_MSG(err < TOL, "%s: %.3g", name, err);
    /* A second backward adds the same gradient again. */
    float g0 = g[np / 2];
    net_loss(&c);
    ops->backward(&a, c.w, g, c.ws, c.B, c.x, c.r);
    CHECK_NEAR(g[np / 2], 2 * g0, 1e-5 + 1e-5 * fabs(g0));

    free(c.w), free(g), free(c.ws), free(ws_eval), free(c.x), free(c.y), free(c.r);
    free(y1), free(y2);
}

static tsa_nn_arch base_arch(void)
{
    tsa_nn_arch a;
    memset(&a, 0, sizeof a);
    a.F = 2;
    a.L = 7;
    a.P = 2;
    return a;
}

TEST(lstm_net_gradients)
{
    tsa_nn_arch a = base_arch();
    a.hidden = 5;
    a.layers = 1;
    check_net("lstm 1 layer", &tsa_nn_net_lstm, a, 0);
    a.layers = 2;
    a.hidden = 6; /* not a multiple of 4: the scalar tail too */
    check_net("lstm 2 layers", &tsa_nn_net_lstm, a, 0);
    a.dropout = 0.3f;
    check_net("lstm 2 layers dropout", &tsa_nn_net_lstm, a, 0);
}

TEST(tcn_net_gradients)
{
    tsa_nn_arch a = base_arch();
    a.channels = 4;
    a.kernel = 3;
    a.conv_layers = 2;
    check_net("tcn", &tsa_nn_net_tcn, a, 1);
    a.kernel = 2;
    a.conv_layers = 3;
    check_net("tcn k2 n3", &tsa_nn_net_tcn, a, 1);
    a.dropout = 0.2f;
    check_net("tcn dropout", &tsa_nn_net_tcn, a, 1);
}

TEST(transformer_net_gradients)
{
    tsa_nn_arch a = base_arch();
    a.d_model = 8;
    a.heads = 2;
    a.layers = 2;
    a.ff = 12;
    check_net("transformer", &tsa_nn_net_transformer, a, 0);
    a.layers = 1;
    a.heads = 4;
    a.dropout = 0.2f;
    check_net("transformer dropout", &tsa_nn_net_transformer, a, 0);
}

TEST(cnn_lstm_net_gradients)
{
    tsa_nn_arch a = base_arch();
    a.channels = 3;
    a.kernel = 2;
    a.conv_layers = 2;
    a.hidden = 4;
    a.layers = 1;
    check_net("cnn_lstm", &tsa_nn_net_cnn_lstm, a, 1);
    a.layers = 2;
    a.conv_layers = 1;
    a.kernel = 3;
    a.dropout = 0.25f;
    check_net("cnn_lstm dropout", &tsa_nn_net_cnn_lstm, a, 1);
}

TEST_LIST(TEST_CASE(lstm_net_gradients), TEST_CASE(tcn_net_gradients),
          TEST_CASE(transformer_net_gradients), TEST_CASE(cnn_lstm_net_gradients))
