/* The "cnn" kind: a temporal convolutional network (Bai, Kolter & Koltun
 * 2018) of causal dilated convolutions with residual connections over the
 * last sequence_length rows (nn/net_tcn.c), with the direct multi-step head,
 * training, intervals and scores of nn/forecaster.c. Dilations double per
 * layer, so n layers of kernel k see 1 + (k - 1)(2^n - 1) rows; n_layers = 0
 * takes the fewest layers that see the whole window. */
#include <string.h>

#include "core/error.h"
#include "models/kind.h"
#include "nn/forecaster.h"

static const tsa_param_spec cnn_params[] = {
    {"sequence_length", TSA_PARAM_INT, 30, NULL, 2, 10000, NULL,
     "Window length: past rows the network reads (the context length)."},
    {"channels", TSA_PARAM_INT, 32, NULL, 1, 1024, NULL, "Channels of every convolution."},
    {"kernel_size", TSA_PARAM_INT, 3, NULL, 2, 16, NULL, "Taps of every convolution."},
    {"n_layers", TSA_PARAM_INT, 0, NULL, 0, 16, NULL,
     "Residual convolution layers with dilations 1, 2, 4, ...; 0 takes the fewest whose "
     "receptive field 1 + (kernel_size - 1)(2^n_layers - 1) covers sequence_length, which "
     "any other value must also do."},
    TSA_NN_TRAIN_PARAM_SPECS,
};

static size_t receptive_field(size_t k, size_t n) { return 1 + (k - 1) * (((size_t)1 << n) - 1); }

/* The fewest layers of kernel k that see L rows (at most 14 for k >= 2 and
 * L <= 10000). */
static size_t min_layers(size_t k, size_t L)
{
    size_t n = 0;
    while (receptive_field(k, n) < L)
        n++;
    return n;
}

static tsa_status cnn_arch(const tsa_model *m, tsa_nn_net *net)
{
    memset(net, 0, sizeof *net);
    net->ops = &tsa_nn_net_tcn;
    tsa_nn_arch *a = &net->a;
    a->F = m->n_features;
    a->L = tsa_nn_param_size(m, "sequence_length");
    a->P = tsa_nn_param_size(m, "prediction_length");
    a->channels = tsa_nn_param_size(m, "channels");
    a->kernel = tsa_nn_param_size(m, "kernel_size");
    a->dropout = (float)tsa_param_double(m, "dropout");
    size_t n = tsa_nn_param_size(m, "n_layers"), need = min_layers(a->kernel, a->L);
    if (n == 0)
        n = need;
    TSA_FAIL_IF(n < need, TSA_EPARAM,
                "n_layers: %zu layers of kernel_size %zu see %zu rows, fewer than "
                "sequence_length %zu (use at least %zu, or 0)",
                n, a->kernel, receptive_field(a->kernel, n), a->L, need);
    a->conv_layers = n;
    return TSA_OK;
}

static tsa_status cnn_fit(const tsa_model *m, void *state, const tsa_series *train,
                          const tsa_fit_ctx *ctx, size_t *tail_len)
{
    tsa_nn_net net;
    TSA_TRY(cnn_arch(m, &net));
    return tsa_nn_fit(m, state, &net, train, ctx, tail_len);
}

static tsa_status cnn_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    tsa_nn_net net;
    if (cnn_arch(m, &net) != TSA_OK)
        return tsa_error(TSA_EFORMAT, "network state: inconsistent parameters (%s)",
                         tsa_last_error());
    return tsa_nn_load(m, state, &net, r);
}

static tsa_status cnn_info(const tsa_model *m, cJSON *obj)
{
    TSA_TRY(tsa_nn_info(m, obj));
    const tsa_nn_state *s = m->state;
    if (!s || !s->w)
        return TSA_OK;
    int bad = !cJSON_AddNumberToObject(obj, "conv_layers", (double)s->net.a.conv_layers);
    bad |= !cJSON_AddNumberToObject(obj, "receptive_field",
                                    (double)receptive_field(s->net.a.kernel,
                                                            s->net.a.conv_layers));
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory");
    return TSA_OK;
}

const tsa_kind tsa_kind_cnn = {
    .name = "cnn",
    .aliases = NULL,
    .description = "Temporal convolutional network: causal dilated 1-D convolutions with "
                   "residual connections over a window of all features, direct multi-step "
                   "head (recursive beyond it); Adam, early stopping, split-conformal "
                   "intervals; anomaly score = normalised one-step prediction error.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = cnn_params,
    .n_params = sizeof cnn_params / sizeof cnn_params[0],
    .state_size = sizeof(tsa_nn_state),
    .destroy = tsa_nn_destroy,
    .fit = cnn_fit,
    .context_length = tsa_nn_context_length,
    .forecast = tsa_nn_forecast,
    .score = tsa_nn_score,
    .save = tsa_nn_save,
    .load = cnn_load,
    .info = cnn_info,
};
