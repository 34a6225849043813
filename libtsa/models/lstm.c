/* The "lstm" kind (alias "multivariate_lstm"): a stacked LSTM (Hochreiter &
 * Schmidhuber 1997) over the last sequence_length rows of every feature,
 * with a direct head predicting the next prediction_length rows of all
 * features; trained with Adam on z-scored windows, early stopping on a
 * chronological validation split. Forecasts, intervals, anomaly scores and
 * persistence are nn/forecaster.c's. */
#include <string.h>

#include "core/error.h"
#include "models/kind.h"
#include "nn/forecaster.h"
#include "nn/lstm.h"

static const char *const lstm_aliases[] = {"multivariate_lstm", NULL};

static const tsa_param_spec lstm_params[] = {
    {"sequence_length", TSA_PARAM_INT, 30, NULL, 2, 10000, NULL,
     "Window length: past rows the network reads (the context length)."},
    {"hidden_size", TSA_PARAM_INT, 64, NULL, 1, 4096, NULL, "LSTM hidden units per layer."},
    {"num_layers", TSA_PARAM_INT, 1, NULL, 1, TSA_NN_LSTM_MAX_LAYERS, NULL,
     "Stacked LSTM layers (dropout applies between them)."},
    TSA_NN_TRAIN_PARAM_SPECS,
};

static void lstm_arch(const tsa_model *m, tsa_nn_net *net)
{
    memset(net, 0, sizeof *net);
    net->ops = &tsa_nn_net_lstm;
    net->a.F = m->n_features;
    net->a.L = tsa_nn_param_size(m, "sequence_length");
    net->a.P = tsa_nn_param_size(m, "prediction_length");
    net->a.hidden = tsa_nn_param_size(m, "hidden_size");
    net->a.layers = tsa_nn_param_size(m, "num_layers");
    net->a.dropout = (float)tsa_param_double(m, "dropout");
}

static tsa_status lstm_fit(const tsa_model *m, void *state, const tsa_series *train,
                           const tsa_fit_ctx *ctx, size_t *tail_len)
{
    tsa_nn_net net;
    lstm_arch(m, &net);
    return tsa_nn_fit(m, state, &net, train, ctx, tail_len);
}

static tsa_status lstm_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    tsa_nn_net net;
    lstm_arch(m, &net);
    return tsa_nn_load(m, state, &net, r);
}

const tsa_kind tsa_kind_lstm = {
    .name = "lstm",
    .aliases = lstm_aliases,
    .description = "Stacked LSTM over a window of all features with a direct multi-step head "
                   "(recursive beyond it); Adam, early stopping on a chronological validation "
                   "split; split-conformal intervals; anomaly score = normalised one-step "
                   "prediction error, calibrated on held-out windows.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = lstm_params,
    .n_params = sizeof lstm_params / sizeof lstm_params[0],
    .state_size = sizeof(tsa_nn_state),
    .destroy = tsa_nn_destroy,
    .fit = lstm_fit,
    .context_length = tsa_nn_context_length,
    .forecast = tsa_nn_forecast,
    .score = tsa_nn_score,
    .save = tsa_nn_save,
    .load = lstm_load,
    .info = tsa_nn_info,
};
