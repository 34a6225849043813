/* The "transformer" kind: a pre-norm encoder of causal multi-head
 * self-attention and GELU feed-forward blocks (Vaswani et al. 2017; Xiong et
 * al. 2020) with sinusoidal positions over the last `window` rows
 * (nn/net_transformer.c), the last step's state feeding the direct
 * multi-step head; training, intervals and scores are nn/forecaster.c's. */
#include <string.h>

#include "core/error.h"
#include "models/kind.h"
#include "nn/forecaster.h"

static const tsa_param_spec tf_params[] = {
    {"window", TSA_PARAM_INT, 64, NULL, 2, 2048, NULL,
     "Sequence length: past rows the encoder attends over (the context length)."},
    {"d_model", TSA_PARAM_INT, 32, NULL, 2, 1024, NULL, "Width of the encoder."},
    {"n_heads", TSA_PARAM_INT, 4, NULL, 1, 64, NULL,
     "Attention heads; must divide d_model."},
    {"n_layers", TSA_PARAM_INT, 2, NULL, 1, 16, NULL, "Encoder layers."},
    {"ff_size", TSA_PARAM_INT, 64, NULL, 1, 8192, NULL, "Width of the feed-forward blocks."},
    TSA_NN_TRAIN_PARAM_SPECS,
};

static tsa_status tf_arch(const tsa_model *m, tsa_nn_net *net)
{
    memset(net, 0, sizeof *net);
    net->ops = &tsa_nn_net_transformer;
    tsa_nn_arch *a = &net->a;
    a->F = m->n_features;
    a->L = tsa_nn_param_size(m, "window");
    a->P = tsa_nn_param_size(m, "prediction_length");
    a->d_model = tsa_nn_param_size(m, "d_model");
    a->heads = tsa_nn_param_size(m, "n_heads");
    a->layers = tsa_nn_param_size(m, "n_layers");
    a->ff = tsa_nn_param_size(m, "ff_size");
    a->dropout = (float)tsa_param_double(m, "dropout");
    TSA_FAIL_IF(a->d_model % a->heads != 0, TSA_EPARAM,
                "n_heads: %zu does not divide d_model %zu", a->heads, a->d_model);
    return TSA_OK;
}

static tsa_status tf_fit(const tsa_model *m, void *state, const tsa_series *train,
                         const tsa_fit_ctx *ctx, size_t *tail_len)
{
    tsa_nn_net net;
    TSA_TRY(tf_arch(m, &net));
    return tsa_nn_fit(m, state, &net, train, ctx, tail_len);
}

static tsa_status tf_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    tsa_nn_net net;
    if (tf_arch(m, &net) != TSA_OK)
        return tsa_error(TSA_EFORMAT, "network state: inconsistent parameters (%s)",
                         tsa_last_error());
    return tsa_nn_load(m, state, &net, r);
}

const tsa_kind tsa_kind_transformer = {
    .name = "transformer",
    .aliases = NULL,
    .description = "Pre-norm transformer encoder with causal multi-head self-attention and "
                   "sinusoidal positions over a window of all features, direct multi-step "
                   "head (recursive beyond it); Adam, early stopping, split-conformal "
                   "intervals; anomaly score = normalised one-step prediction error.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = tf_params,
    .n_params = sizeof tf_params / sizeof tf_params[0],
    .state_size = sizeof(tsa_nn_state),
    .destroy = tsa_nn_destroy,
    .fit = tf_fit,
    .context_length = tsa_nn_context_length,
    .forecast = tsa_nn_forecast,
    .score = tsa_nn_score,
    .save = tsa_nn_save,
    .load = tf_load,
    .info = tsa_nn_info,
};
