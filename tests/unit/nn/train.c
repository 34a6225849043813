/* Tests of libtsa/nn/adam.c, window.c and train.c: Adam/AdamW steps against
 * hand-computed values, gradient clipping, window counts/splits/centring,
 * every network overfitting a tiny data set to near-zero loss, early
 * stopping restoring the best epoch's weights, cancellation and divergence. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "nn/adam.h"
#include "nn/net.h"
#include "nn/train.h"
#include "nn/window.h"

#include "harness.h"

TEST(adam_first_steps_known_answer)
{
    float w[3] = {1.0f, -2.0f, 0.5f}, g[3] = {0.1f, -3.0f, 0.0f}, m[3] = {0}, v[3] = {0};
    tsa_nn_adam o;
    tsa_nn_adam_init(&o, 0.01, 0.0, 0);
    tsa_nn_adam_step(&o, w, g, m, v, 3);
    /* Step 1: mhat = g, vhat = g^2, so w -= lr g / (|g| + eps). */
    CHECK_NEAR(w[0], 1.0 - 0.01 * 0.1 / (0.1 + 1e-8), 1e-6);
    CHECK_NEAR(w[1], -2.0 + 0.01, 1e-6);
    CHECK(w[2] == 0.5f);
    /* Step 2 with the same gradient: still lr per step. */
    tsa_nn_adam_step(&o, w, g, m, v, 3);
    CHECK_NEAR(w[1], -2.0 + 0.02, 1e-6);
    CHECK(o.t == 2);

    /* Adam's weight decay is an L2 term in the gradient; AdamW's shrinks w. */
    float a[1] = {2.0f}, ga[1] = {0.0f}, ma[1] = {0}, va[1] = {0};
    tsa_nn_adam_init(&o, 0.1, 0.5, 0);
    tsa_nn_adam_step(&o, a, ga, ma, va, 1); /* g' = 0.5 * 2 = 1 */
    CHECK_NEAR(a[0], 2.0 - 0.1, 1e-6);
    float b[1] = {2.0f}, mb[1] = {0}, vb[1] = {0};
    tsa_nn_adam_init(&o, 0.1, 0.5, 1);
    tsa_nn_adam_step(&o, b, ga, mb, vb, 1); /* w (1 - lr wd), no gradient step */
    CHECK_NEAR(b[0], 2.0 * (1 - 0.05), 1e-6);
}

/* The vector lanes of a step give the scalar loop's bits (one value at a
 * time takes the scalar loop), for Adam and AdamW. */
TEST(adam_lanes_match_scalar_bits)
{
    enum { N = 37 };
    tsa_rng rng;
    tsa_rng_seed(&rng, 3);
    for (int decoupled = 0; decoupled < 2; decoupled++) {
        float w[N], g[N], m[N] = {0}, v[N] = {0}, w1[N], m1[N] = {0}, v1[N] = {0};
        for (size_t i = 0; i < N; i++) {
            w[i] = w1[i] = (float)(tsa_rng_uniform(&rng) - 0.5);
            g[i] = (float)(3 * tsa_rng_uniform(&rng) - 1.5);
        }
        tsa_nn_adam o, o1;
        tsa_nn_adam_init(&o, 1e-3, 0.01, decoupled);
        for (int step = 0; step < 3; step++) {
            o1 = o;
            tsa_nn_adam_step(&o, w, g, m, v, N);
            for (size_t i = 0; i < N; i++) {
                tsa_nn_adam oi = o1;
                tsa_nn_adam_step(&oi, w1 + i, g + i, m1 + i, v1 + i, 1);
            }
        }
        CHECK(memcmp(w, w1, sizeof w) == 0);
        CHECK(memcmp(m, m1, sizeof m) == 0 && memcmp(v, v1, sizeof v) == 0);
    }
}

TEST(clip_by_global_norm)
{
    float g[4] = {3, 0, 0, 4};
    CHECK_NEAR(tsa_nn_grad_norm(g, 4), 5.0, 1e-12);
    double n = tsa_nn_clip_grad_norm(g, 4, 1.0);
    CHECK_NEAR(n, 5.0, 1e-12);
    CHECK_NEAR(tsa_nn_grad_norm(g, 4), 1.0, 1e-6);
    CHECK_NEAR(g[3] / g[0], 4.0 / 3.0, 1e-6);
    float h[2] = {0.3f, 0.4f};
    tsa_nn_clip_grad_norm(h, 2, 1.0); /* below the bound: untouched */
    CHECK(h[0] == 0.3f && h[1] == 0.4f);
    tsa_nn_clip_grad_norm(g, 4, 0.0); /* 0 disables */
    CHECK_NEAR(tsa_nn_grad_norm(g, 4), 1.0, 1e-6);
}

TEST(windows_count_split_gather)
{
    CHECK(tsa_nn_window_count(100, 30, 1) == 70);
    CHECK(tsa_nn_window_count(30, 30, 1) == 0);
    CHECK(tsa_nn_window_count(31, 30, 1) == 1);
    tsa_nn_split s;
    CHECK(tsa_nn_window_split(100, 0.2, 1, &s) == 0);
    CHECK(s.n_train == 80 && s.val_start == 80 && s.n_val == 20);
    CHECK(tsa_nn_window_split(100, 0.2, 5, &s) == 0); /* gap of P - 1 */
    CHECK(s.n_train == 76 && s.val_start == 80 && s.n_val == 20);
    CHECK(s.n_train - 1 + 5 < s.val_start + 1); /* last training target < first val target */
    CHECK(tsa_nn_window_split(100, 0.0, 5, &s) == 0 && s.n_train == 100 && s.n_val == 0);
    CHECK(tsa_nn_window_split(3, 0.1, 1, &s) == 0 && s.n_val == 1 && s.n_train == 2);
    CHECK(tsa_nn_window_split(2, 0.5, 3, &s) != 0);

    /* Two features, L = 3, P = 2: window 1 of rows 0..9. */
    float z[20];
    for (int t = 0; t < 10; t++) {
        z[2 * t] = (float)t;
        z[2 * t + 1] = (float)(10 * t);
    }
    tsa_nn_windows w = {z, 10, 2, 3, 2, 1};
    size_t starts[1] = {1};
    float x[6], y[4], c[2];
    tsa_nn_window_gather(&w, starts, 1, x, y, c);
    CHECK(c[0] == 2.0f && c[1] == 20.0f); /* means of rows 1..3 */
    CHECK(x[0] == -1.0f && x[1] == -10.0f && x[4] == 1.0f && x[5] == 10.0f);
    CHECK(y[0] == 2.0f && y[1] == 20.0f && y[2] == 3.0f && y[3] == 30.0f);
    w.centre = 0;
    tsa_nn_window_gather(&w, starts, 1, x, y, c);
    CHECK(c[0] == 0.0f && x[0] == 1.0f && y[3] == 50.0f);
}

/* A tiny sine data set: 24 windows of 8 steps. */
enum { TINY_ROWS = 33 };
static float tiny_z[TINY_ROWS];

static tsa_nn_windows tiny_data(void)
{
    for (int t = 0; t < TINY_ROWS; t++)
        tiny_z[t] = (float)sin(2.0 * 3.141592653589793 * t / 12.0);
    tsa_nn_windows d = {tiny_z, TINY_ROWS, 1, 8, 2, 0};
    return d;
}

static double overfit(const char *name, const tsa_nn_net_ops *ops, tsa_nn_arch a, int64_t epochs)
{
    tsa_nn_windows d = tiny_data();
    a.F = 1;
    a.L = d.L;
    a.P = d.P;
    tsa_nn_net net = {ops, a, NULL};
    size_t np = ops->n_params(&a);
    float *w = calloc(np, sizeof *w);
    tsa_rng rng;
    tsa_rng_seed(&rng, 9);
    ops->init(&a, w, &rng);
    tsa_nn_split split = {tsa_nn_window_count(TINY_ROWS, d.L, d.P), 0, 0};
    tsa_nn_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = epochs;
    o.batch = 8;
    o.lr = 1e-2;
    o.clip = 1.0;
    tsa_nn_train_result res;
    CHECK_OK(tsa_nn_train(&net, w, &d, &split, &o, &rng, &res));
    printf("# %s: %zu params, %lld epochs, final MSE %.2e\n", name, np,
           (long long)res.epochs_run, res.train_loss);
    CHECK(res.epochs_run == epochs && res.best_epoch == epochs && isnan(res.val_loss));
    free(w);
    return res.train_loss;
}

TEST(every_network_overfits_a_tiny_data_set)
{
    tsa_nn_arch a;
    memset(&a, 0, sizeof a);
    a.hidden = 16;
    a.layers = 1;
    CHECK(overfit("lstm", &tsa_nn_net_lstm, a, 300) < 1e-3);
    memset(&a, 0, sizeof a);
    a.channels = 16;
    a.kernel = 3;
    a.conv_layers = 2;
    CHECK(overfit("tcn", &tsa_nn_net_tcn, a, 300) < 1e-3);
    memset(&a, 0, sizeof a);
    a.d_model = 16;
    a.heads = 2;
    a.layers = 1;
    a.ff = 32;
    CHECK(overfit("transformer", &tsa_nn_net_transformer, a, 300) < 1e-3);
    memset(&a, 0, sizeof a);
    a.channels = 8;
    a.kernel = 2;
    a.conv_layers = 1;
    a.hidden = 16;
    a.layers = 1;
    CHECK(overfit("cnn_lstm", &tsa_nn_net_cnn_lstm, a, 300) < 1e-3);
}

typedef struct {
    int64_t calls, stop_at;
    double last_val;
} report_state;

static tsa_status on_report(void *user, int64_t epoch, int64_t total, double tl, double vl)
{
    report_state *s = user;
    (void)total;
    (void)tl;
    s->calls++;
    s->last_val = vl;
    return epoch == s->stop_at ? TSA_ECANCELED : TSA_OK;
}

/* Noisy data, a large step size: the validation loss wanders, training
 * stops after `patience` epochs without improvement, and the weights
 * returned give exactly the best validation loss. */
TEST(early_stopping_restores_best_weights)
{
    enum { N = 400 };
    static float z[N];
    tsa_rng rng;
    tsa_rng_seed(&rng, 21);
    for (int t = 0; t < N; t++)
        z[t] = (float)(sin(t / 5.0) + 0.8 * tsa_rng_normal(&rng));
    tsa_nn_windows d = {z, N, 1, 10, 1, 1};
    tsa_nn_arch a;
    memset(&a, 0, sizeof a);
    a.F = 1, a.L = 10, a.P = 1, a.hidden = 24, a.layers = 1;
    tsa_nn_net net = {&tsa_nn_net_lstm, a, NULL};
    size_t np = net.ops->n_params(&a);
    float *w = calloc(np, sizeof *w);
    net.ops->init(&a, w, &rng);
    tsa_nn_split split;
    CHECK(tsa_nn_window_split(tsa_nn_window_count(N, 10, 1), 0.3, 1, &split) == 0);
    tsa_nn_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = 200;
    o.batch = 16;
    o.lr = 1e-2;
    o.clip = 1.0;
    o.patience = 4;
    report_state rs = {0, -1, 0};
    o.report = on_report;
    o.user = &rs;
    tsa_nn_train_result res;
    CHECK_OK(tsa_nn_train(&net, w, &d, &split, &o, &rng, &res));
    printf("# stopped after %lld epochs, best %lld, val %.4f\n", (long long)res.epochs_run,
           (long long)res.best_epoch, res.val_loss);
    CHECK(res.epochs_run < 200 && res.epochs_run == res.best_epoch + 4 && res.best_epoch > 1);
    CHECK(rs.calls == res.epochs_run);
    /* Recompute the validation loss of the returned weights. */
    float *pred = calloc(split.n_val, sizeof *pred);
    tsa_nn_infer inf;
    CHECK_OK(tsa_nn_infer_init(&inf, &net, split.n_val, 0));
    tsa_nn_infer_run(&inf, &net, w, &d, split.val_start, split.n_val, pred);
    tsa_nn_infer_free(&inf);
    double s = 0;
    for (size_t i = 0; i < split.n_val; i++) {
        double e = (double)pred[i] - z[split.val_start + i + 10];
        s += e * e;
    }
    CHECK_NEAR(s / (double)split.n_val, res.val_loss, 1e-5 * res.val_loss);

    /* A report returning an error stops training with it. */
    rs.calls = 0;
    rs.stop_at = 2;
    CHECK_STATUS(tsa_nn_train(&net, w, &d, &split, &o, &rng, &res), TSA_ECANCELED);
    CHECK(rs.calls == 2);

    /* A jump from -3e38 to 3e38: centred targets overflow float and the
     * loss is not finite: TSA_ENUMERIC. */
    for (int t = 0; t < N; t++)
        z[t] = t < N / 4 ? -3e38f : 3e38f;
    o.report = NULL;
    CHECK_STATUS(tsa_nn_train(&net, w, &d, &split, &o, &rng, &res), TSA_ENUMERIC);
    free(pred);
    free(w);
}

TEST_LIST(TEST_CASE(adam_first_steps_known_answer), TEST_CASE(adam_lanes_match_scalar_bits),
          TEST_CASE(clip_by_global_norm),
          TEST_CASE(windows_count_split_gather), TEST_CASE(every_network_overfits_a_tiny_data_set),
          TEST_CASE(early_stopping_restores_best_weights))
