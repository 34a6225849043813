/* The "cnn_lstm" kind: causal dilated convolutions with ReLU extract local
 * patterns that a stacked LSTM carries through the window (nn/net_cnn_lstm.c;
 * the CNN-LSTM of Kim & Cho 2019), the last hidden state feeding the direct
 * multi-step head; training, intervals and scores are nn/forecaster.c's. */
#include <string.h>

#include "core/error.h"
#include "models/kind.h"
#include "nn/forecaster.h"
#include "nn/lstm.h"

static const tsa_param_spec cl_params[] = {
    {"sequence_length", TSA_PARAM_INT, 30, NULL, 2, 10000, NULL,
     "Window length: past rows the network reads (the context length)."},
    {"channels", TSA_PARAM_INT, 32, NULL, 1, 1024, NULL, "Channels of every convolution."},
    {"kernel_size", TSA_PARAM_INT, 3, NULL, 1, 16, NULL, "Taps of every convolution."},
    {"conv_layers", TSA_PARAM_INT, 2, NULL, 1, 8, NULL,
     "Convolution layers, with dilations 1, 2, 4, ..."},
    {"hidden_size", TSA_PARAM_INT, 64, NULL, 1, 4096, NULL, "LSTM hidden units per layer."},
    {"num_layers", TSA_PARAM_INT, 1, NULL, 1, TSA_NN_LSTM_MAX_LAYERS, NULL,
     "Stacked LSTM layers."},
    TSA_NN_TRAIN_PARAM_SPECS,
};

static void cl_arch(const tsa_model *m, tsa_nn_net *net)
{
    memset(net, 0, sizeof *net);
    net->ops = &tsa_nn_net_cnn_lstm;
    tsa_nn_arch *a = &net->a;
    a->F = m->n_features;
    a->L = tsa_nn_param_size(m, "sequence_length");
    a->P = tsa_nn_param_size(m, "prediction_length");
    a->channels = tsa_nn_param_size(m, "channels");
    a->kernel = tsa_nn_param_size(m, "kernel_size");
    a->conv_layers = tsa_nn_param_size(m, "conv_layers");
    a->hidden = tsa_nn_param_size(m, "hidden_size");
    a->layers = tsa_nn_param_size(m, "num_layers");
    a->dropout = (float)tsa_param_double(m, "dropout");
}

static tsa_status cl_fit(const tsa_model *m, void *state, const tsa_series *train,
                         const tsa_fit_ctx *ctx, size_t *tail_len)
{
    tsa_nn_net net;
    cl_arch(m, &net);
    return tsa_nn_fit(m, state, &net, train, ctx, tail_len);
}

static tsa_status cl_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    tsa_nn_net net;
    cl_arch(m, &net);
    return tsa_nn_load(m, state, &net, r);
}

const tsa_kind tsa_kind_cnn_lstm = {
    .name = "cnn_lstm",
    .aliases = NULL,
    .description = "Causal dilated convolutions feeding a stacked LSTM over a window of all "
                   "features, direct multi-step head (recursive beyond it); Adam, early "
                   "stopping, split-conformal intervals; anomaly score = normalised one-step "
                   "prediction error.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = cl_params,
    .n_params = sizeof cl_params / sizeof cl_params[0],
    .state_size = sizeof(tsa_nn_state),
    .destroy = tsa_nn_destroy,
    .fit = cl_fit,
    .context_length = tsa_nn_context_length,
    .forecast = tsa_nn_forecast,
    .score = tsa_nn_score,
    .save = tsa_nn_save,
    .load = cl_load,
    .info = tsa_nn_info,
};
