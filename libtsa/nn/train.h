/* The training loop shared by the neural kinds: mini-batch Adam/AdamW on the
 * mean squared error of the window targets, gradient clipping by global
 * norm, a chronological validation split, early stopping that restores the
 * best weights, and progress reports; plus batched inference. */
#ifndef TSA_NN_TRAIN_H
#define TSA_NN_TRAIN_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

#include "core/rng.h"
#include "nn/net.h"
#include "nn/window.h"

/* The largest workspace (floats) a fit or a call allocates, and the largest
 * parameter block: beyond them a fit fails with TSA_ENOMEM / TSA_EPARAM
 * rather than asking the system for tens of gigabytes. They also keep every
 * sgemm dimension inside OpenBLAS's int. */
#define TSA_NN_MAX_WS ((size_t)1 << 30)
#define TSA_NN_MAX_PARAMS ((size_t)1 << 27)

typedef struct tsa_nn_train_opts {
    int64_t epochs;
    size_t batch;
    double lr;
    double weight_decay;
    int adamw;           /* decoupled weight decay */
    double clip;         /* global gradient norm bound; <= 0 disables */
    int64_t patience;    /* epochs without validation improvement before stopping; 0 never */
    /* Called after every epoch (val_loss NaN without validation); a non-OK
     * return stops the fit with that status. May be NULL. */
    tsa_status (*report)(void *user, int64_t epoch, int64_t total, double train_loss,
                         double val_loss);
    void *user;
} tsa_nn_train_opts;

typedef struct tsa_nn_train_result {
    int64_t epochs_run;  /* epochs completed */
    int64_t best_epoch;  /* the epoch whose weights were kept */
    double train_loss;   /* mean squared error (normalised units) at best_epoch */
    double val_loss;     /* NaN without validation */
    double seconds;      /* wall-clock time of the loop */
} tsa_nn_train_result;

/* Trains @w (initialised by the caller) on the training windows of @split;
 * on success @w holds the weights of the best validation epoch (the last
 * epoch without validation). Allocates every buffer once before the first
 * epoch. Deterministic for a given @rng state and thread count.
 * Returns TSA_OK, TSA_ENOMEM, TSA_ENUMERIC (the loss diverged) or the
 * status of opts->report (TSA_ECANCELED). */
tsa_status tsa_nn_train(const tsa_nn_net *net, float *w, const tsa_nn_windows *data,
                        const tsa_nn_split *split, const tsa_nn_train_opts *opts, tsa_rng *rng,
                        tsa_nn_train_result *res);

/* Inference scratch for batches of up to B windows: owned by one call, so
 * concurrent calls on the same weights never share memory. */
typedef struct tsa_nn_infer {
    void *block;  /* the allocation behind every view */
    float *ws, *io;
    float *extra; /* (extra) floats for the caller, or NULL */
    size_t *starts;
    size_t B;
} tsa_nn_infer;

/* Allocates scratch for up to @max_windows windows per batch (fewer when a
 * batch would be large) and @extra floats for the caller, in one block;
 * copies net->prep into it when set (else runs prepare). TSA_OK or
 * TSA_ENOMEM. */
tsa_status tsa_nn_infer_init(tsa_nn_infer *c, const tsa_nn_net *net, size_t max_windows,
                             size_t extra);
void tsa_nn_infer_free(tsa_nn_infer *c);

/* Predicts windows first .. first + n - 1 of @data in inference mode into
 * out (n, P * F), with the window centres added back. */
void tsa_nn_infer_run(tsa_nn_infer *c, const tsa_nn_net *net, const float *w,
                      const tsa_nn_windows *data, size_t first, size_t n, float *out);

/* Sets OpenBLAS's thread count when n > 0 and returns the previous one.
 * OpenBLAS keeps this setting per process, not per call: while it is
 * changed, every thread's BLAS calls use it. */
int tsa_nn_blas_threads(int n);

#endif
