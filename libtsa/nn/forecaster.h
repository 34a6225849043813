/* The window forecaster behind every neural kind (lstm, cnn, transformer,
 * cnn_lstm): a network mapping the last L normalised rows to the next P
 * rows, trained by nn/train.c. This file implements the kind vtable around
 * it: per-feature z-scores, split-conformal forecast intervals, the
 * prediction-error anomaly score and its calibration, save/load and info.
 * A kind supplies only its network (ops and architecture from params). */
#ifndef TSA_NN_FORECASTER_H
#define TSA_NN_FORECASTER_H

#include "anomaly/calibrate.h"
#include "models/kind.h"
#include "nn/net.h"
#include "nn/train.h"

/* Allowed values of the "optimizer" key. */
extern const char *const tsa_nn_optimizer_choices[];

/* The training keys every neural kind accepts, for its tsa_param_spec table
 * (the window length key, "sequence_length" or "window", is the kind's). */
#define TSA_NN_TRAIN_PARAM_SPECS                                                                \
    {"prediction_length", TSA_PARAM_INT, 1, NULL, 1, 1000, NULL,                                \
     "Steps predicted at once by the direct output head; longer horizons feed "                 \
     "predictions back recursively."},                                                          \
    {"epochs", TSA_PARAM_INT, 100, NULL, 1, 100000, NULL,                                       \
     "Training epochs (tsa_fit_options.epochs overrides it when > 0)."},                        \
    {"batch_size", TSA_PARAM_INT, 32, NULL, 1, 4096, NULL,                                      \
     "Windows per mini-batch."},                                                                \
    {"learning_rate", TSA_PARAM_DOUBLE, 1e-3, NULL, 1e-6, 1.0, NULL,                            \
     "Adam step size."},                                                                        \
    {"validation_split", TSA_PARAM_DOUBLE, 0.2, NULL, 0.0, 0.9, NULL,                           \
     "Fraction of the windows, the last in time, held out for early stopping, "                 \
     "conformal intervals and score calibration (0: use the training windows)."},               \
    {"patience", TSA_PARAM_INT, 10, NULL, 0, 100000, NULL,                                      \
     "Epochs without a better validation loss before training stops (0: never); "               \
     "the best epoch's weights are kept."},                                                     \
    {"dropout", TSA_PARAM_DOUBLE, 0.0, NULL, 0.0, 0.9, NULL,                                    \
     "Dropout probability in training (0: none)."},                                             \
    {"weight_decay", TSA_PARAM_DOUBLE, 0.0, NULL, 0.0, 1.0, NULL,                               \
     "Weight decay: an L2 term in the gradient (adam) or decoupled (adamw)."},                  \
    {"optimizer", TSA_PARAM_STRING, 0, "adam", 0, 0, tsa_nn_optimizer_choices,                  \
     "adam (Kingma & Ba 2015) or adamw (Loshchilov & Hutter 2019)."},                           \
    {"clip_norm", TSA_PARAM_DOUBLE, 1.0, NULL, 0.0, 1e6, NULL,                                  \
     "Bound on the global gradient norm (0: no clipping)."},                                    \
    {"center_windows", TSA_PARAM_BOOL, 1, NULL, 0, 1, NULL,                                     \
     "Model each window relative to the mean of its inputs, so trends extrapolate."},           \
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,                              \
     "Random seed of the initialisation, the shuffling and dropout."}

/* Quantile levels kept per (step, feature) for the conformal intervals. */
#define TSA_NN_LEVELS 101

/* The fitted state (the kind's state block). */
typedef struct tsa_nn_state {
    tsa_nn_net net;
    size_t n_params;
    float *w;          /* (n_params) */
    int centre;        /* center_windows */
    double *mean;      /* (F) z-score location */
    double *scale;     /* (F) z-score scale */
    double *sigma1;    /* (F) RMS one-step residual, normalised units */
    double *qtab;      /* (P, F, TSA_NN_LEVELS) quantiles of |residual|, normalised */
    size_t n_resid;    /* windows behind qtab, sigma1 and cal */
    int resid_val;     /* whether they were validation windows */
    tsa_calibrator cal;
    tsa_nn_train_result tr;
    size_t n_train_windows, n_val_windows;
} tsa_nn_state;

/* Fits @net (architecture filled by the kind) into @state. */
tsa_status tsa_nn_fit(const tsa_model *m, tsa_nn_state *state, const tsa_nn_net *net,
                      const tsa_series *train, const tsa_fit_ctx *ctx, size_t *tail_len);

/* Restores a state saved by tsa_nn_save; @net is the architecture the
 * model's parameters describe, against which the data is checked. */
tsa_status tsa_nn_load(const tsa_model *m, tsa_nn_state *state, const tsa_nn_net *net,
                       tsa_rbuf *r);

/* The rest of the vtable, shared as is. */
void tsa_nn_destroy(void *state);
size_t tsa_nn_context_length(const tsa_model *m);
tsa_status tsa_nn_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                           double interval, tsa_forecast *fc);
tsa_status tsa_nn_score(const tsa_model *m, const tsa_series *x, double *raw, double *calibrated);
tsa_status tsa_nn_save(const tsa_model *m, tsa_wbuf *w);
tsa_status tsa_nn_info(const tsa_model *m, cJSON *obj);

/* Reads an integer key as size_t (resolved parameters are in range). */
size_t tsa_nn_param_size(const tsa_model *m, const char *key);

#endif
