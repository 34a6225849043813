/* The training loop (see train.h). The loss is the mean squared error over
 * every predicted value; its gradient 2 (yhat - y) / n seeds backward. */
#include "nn/train.h"

#include <cblas.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "nn/adam.h"

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int tsa_nn_blas_threads(int n)
{
    int prev = openblas_get_num_threads();
    if (n > 0)
        openblas_set_num_threads(n);
    return prev;
}

/* Sum of squared errors of a batch (double), and its gradient into dy when
 * non-NULL, scaled by 1 / denom. */
static double sq_error(const float *yhat, const float *y, size_t n, float *dy, float denom)
{
    double s = 0.0;
    const float k = 2.0f / denom;
    for (size_t i = 0; i < n; i++) {
        float d = yhat[i] - y[i];
        s += (double)d * (double)d;
        if (dy)
            dy[i] = k * d;
    }
    return s;
}

/* Batch buffers for one batch size. */
typedef struct batch_bufs {
    float *x, *y, *c, *yhat, *dy;
    size_t *starts;
} batch_bufs;

static size_t batch_floats(const tsa_nn_windows *d, size_t B, tsa_nn_arena *a, batch_bufs *bb)
{
    bb->x = tsa_nn_take(a, B * d->L * d->F);
    bb->y = tsa_nn_take(a, B * d->P * d->F);
    bb->c = tsa_nn_take(a, B * d->F);
    bb->yhat = tsa_nn_take(a, B * d->P * d->F);
    bb->dy = tsa_nn_take(a, B * d->P * d->F);
    return a->used;
}

/* Mean squared error of windows [first, first + n) in inference mode. */
static double evaluate(const tsa_nn_net *net, const float *w, float *ws, const tsa_nn_windows *d,
                       size_t first, size_t n, size_t B, batch_bufs *bb)
{
    const size_t PF = d->P * d->F;
    double s = 0.0;
    for (size_t i = 0; i < n; i += B) {
        size_t nb = n - i < B ? n - i : B;
        for (size_t b = 0; b < nb; b++)
            bb->starts[b] = first + i + b;
        tsa_nn_window_gather(d, bb->starts, nb, bb->x, bb->y, bb->c);
        net->ops->forward(&net->a, w, ws, nb, bb->x, bb->yhat, NULL);
        s += sq_error(bb->yhat, bb->y, nb * PF, NULL, 1.0f);
    }
    return s / ((double)n * (double)PF);
}

tsa_status tsa_nn_train(const tsa_nn_net *net, float *w, const tsa_nn_windows *data,
                        const tsa_nn_split *split, const tsa_nn_train_opts *o, tsa_rng *rng,
                        tsa_nn_train_result *res)
{
    const tsa_nn_net_ops *ops = net->ops;
    const tsa_nn_arch *a = &net->a;
    const size_t np = ops->n_params(a), npad = (np + 15) & ~(size_t)15;
    const size_t PF = data->P * data->F, n_tr = split->n_train;
    size_t B = o->batch < n_tr ? o->batch : n_tr;
    const size_t ws_n = ops->ws_size(a, B, 1);
    TSA_FAIL_IF(ws_n > TSA_NN_MAX_WS, TSA_ENOMEM,
                "fit: training buffers for batch_size %zu would need %.1f GB; use a smaller "
                "batch or network",
                B, (double)ws_n * 4e-9);

    tsa_nn_arena sizing = {NULL, 0};
    batch_bufs bb;
    const size_t io_n = batch_floats(data, B, &sizing, &bb);
    /* Gradients, Adam moments and the best weights: one block, four views. */
    float *opt = tsa_nn_alloc(4 * npad);
    float *ws = tsa_nn_alloc(ws_n);
    float *io = tsa_nn_alloc(io_n);
    size_t *idx = malloc((n_tr + B) * sizeof *idx);
    if (!opt || !ws || !io || !idx) {
        free(opt);
        free(ws);
        free(io);
        free(idx);
        return tsa_error(TSA_ENOMEM, "fit: out of memory for the training buffers");
    }
    float *g = opt, *m = opt + npad, *v = opt + 2 * npad, *best = opt + 3 * npad;
    memset(opt, 0, 3 * npad * sizeof *opt);
    memcpy(best, w, np * sizeof *w);
    tsa_nn_arena carve = {io, 0};
    batch_floats(data, B, &carve, &bb);
    bb.starts = idx + n_tr;
    if (ops->prepare)
        ops->prepare(a, ws, B);
    for (size_t i = 0; i < n_tr; i++)
        idx[i] = i;

    tsa_nn_adam adam;
    tsa_nn_adam_init(&adam, o->lr, o->weight_decay, o->adamw);
    const int has_val = split->n_val > 0;
    double best_val = INFINITY, t0 = now_seconds();
    int64_t since_best = 0;
    tsa_status rc = TSA_OK;
    memset(res, 0, sizeof *res);
    res->val_loss = NAN;
    res->train_loss = NAN;

    for (int64_t epoch = 1; epoch <= o->epochs; epoch++) {
        tsa_rng_shuffle(rng, idx, n_tr);
        double sse = 0.0;
        for (size_t i = 0; i < n_tr; i += B) {
            size_t nb = n_tr - i < B ? n_tr - i : B;
            tsa_nn_window_gather(data, idx + i, nb, bb.x, bb.y, bb.c);
            ops->forward(a, w, ws, nb, bb.x, bb.yhat, rng);
            sse += sq_error(bb.yhat, bb.y, nb * PF, bb.dy, (float)(nb * PF));
            memset(g, 0, np * sizeof *g);
            ops->backward(a, w, g, ws, nb, bb.x, bb.dy);
            if (o->clip > 0.0) /* the norm is only needed to clip */
                tsa_nn_clip_grad_norm(g, np, o->clip);
            tsa_nn_adam_step(&adam, w, g, m, v, np);
        }
        double train_loss = sse / ((double)n_tr * (double)PF);
        if (!isfinite(train_loss)) {
            rc = tsa_error(TSA_ENUMERIC,
                           "fit: the training loss diverged at epoch %lld; lower learning_rate",
                           (long long)epoch);
            break;
        }
        double val_loss = NAN;
        int stop = 0;
        res->epochs_run = epoch;
        if (has_val) {
            val_loss = evaluate(net, w, ws, data, split->val_start, split->n_val, B, &bb);
            if (val_loss < best_val) {
                best_val = val_loss;
                since_best = 0;
                memcpy(best, w, np * sizeof *w);
                res->best_epoch = epoch;
                res->train_loss = train_loss;
                res->val_loss = val_loss;
            } else if (o->patience > 0 && ++since_best >= o->patience) {
                stop = 1;
            }
        } else {
            res->best_epoch = epoch;
            res->train_loss = train_loss;
        }
        if (o->report) {
            rc = o->report(o->user, epoch, o->epochs, train_loss, val_loss);
            if (rc != TSA_OK)
                break;
        }
        if (stop)
            break;
    }
    if (rc == TSA_OK && has_val) {
        if (res->best_epoch == 0)
            rc = tsa_error(TSA_ENUMERIC, "fit: the validation loss is not finite");
        else
            memcpy(w, best, np * sizeof *w);
    }
    res->seconds = now_seconds() - t0;
    free(opt);
    free(ws);
    free(io);
    free(idx);
    return rc;
}

tsa_status tsa_nn_infer_init(tsa_nn_infer *c, const tsa_nn_net *net, size_t max_windows,
                             size_t extra)
{
    const tsa_nn_net_ops *ops = net->ops;
    const tsa_nn_arch *a = &net->a;
    const size_t LF = a->L * a->F;
    memset(c, 0, sizeof *c);
    /* Batches of up to 256 windows while the scratch stays under 256 MB. */
    size_t B = max_windows < 256 ? max_windows : 256;
    if (B == 0)
        B = 1;
    while (B > 1 && ops->ws_size(a, B, 0) + B * (LF + a->F) > ((size_t)1 << 26))
        B /= 2;
    const size_t ws_n = ops->ws_size(a, B, 0);
    TSA_FAIL_IF(ws_n > TSA_NN_MAX_WS, TSA_ENOMEM, "out of memory for the network's scratch");
    c->B = B;
    /* One block: ws | io | extra | starts, each view 64-byte aligned. */
    tsa_nn_arena ar = {NULL, 0};
    tsa_nn_take(&ar, ws_n);
    const size_t io_at = ar.used;
    tsa_nn_take(&ar, B * (LF + a->F) + 16);
    const size_t extra_at = ar.used;
    if (extra)
        tsa_nn_take(&ar, extra);
    const size_t starts_at = ar.used;
    tsa_nn_take(&ar, B * sizeof *c->starts / sizeof(float) + 2);
    /* malloc, then aligned by hand: aligned_alloc asks glibc for more than
     * the block it freed last time, so repeated calls left each freed block
     * unused and the heap grew by one scratch per call. */
    c->block = malloc(ar.used * sizeof(float) + 64);
    if (!c->block)
        return tsa_error(TSA_ENOMEM, "out of memory for the network's scratch");
    c->ws = (float *)(void *)(((uintptr_t)c->block + 63) & ~(uintptr_t)63);
    c->io = c->ws + io_at;
    c->extra = extra ? c->ws + extra_at : NULL;
    c->starts = (size_t *)(void *)(c->ws + starts_at);
    if (net->prep)
        memcpy(c->ws, net->prep, ops->prep_size(a) * sizeof *c->ws);
    else if (ops->prepare)
        ops->prepare(a, c->ws, B);
    return TSA_OK;
}

void tsa_nn_infer_free(tsa_nn_infer *c)
{
    free(c->block);
    memset(c, 0, sizeof *c);
}

void tsa_nn_infer_run(tsa_nn_infer *c, const tsa_nn_net *net, const float *w,
                      const tsa_nn_windows *data, size_t first, size_t n, float *out)
{
    const size_t F = data->F, P = data->P, PF = P * F, B = c->B;
    float *x = c->io, *ctr = c->io + B * data->L * F;
    for (size_t i = 0; i < n; i += B) {
        size_t nb = n - i < B ? n - i : B;
        for (size_t b = 0; b < nb; b++)
            c->starts[b] = first + i + b;
        tsa_nn_window_gather(data, c->starts, nb, x, NULL, ctr);
        float *y = out + i * PF;
        net->ops->forward(&net->a, w, c->ws, nb, x, y, NULL);
        for (size_t b = 0; b < nb; b++)
            for (size_t h = 0; h < P; h++)
                for (size_t f = 0; f < F; f++)
                    y[b * PF + h * F + f] += ctr[b * F + f];
    }
}
