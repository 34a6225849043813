/* A network as the training loop (nn/train.c) and the window forecaster
 * (nn/forecaster.c) see it: a fixed architecture, a flat float parameter
 * block, and forward/backward passes over a workspace carved from one flat
 * float block.
 *
 * Conventions shared by every layer in libtsa/nn:
 * - float32, row-major, shapes in comments as (rows, cols);
 * - *_forward writes its outputs and caches what *_backward needs;
 * - *_backward ADDS into every gradient it produces (parameters and inputs),
 *   so residual branches and shared inputs need no extra buffers; the caller
 *   zeroes gradients before a backward pass. */
#ifndef TSA_NN_NET_H
#define TSA_NN_NET_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"

/* A bump allocator over a float block: the same sequence of takes on a NULL
 * base only counts, which sizes the block; on a real base it carves views.
 * Every view starts 64 bytes after the previous one's start at least, so
 * views stay aligned for vector loads. */
typedef struct tsa_nn_arena {
    float *base;
    size_t used; /* floats */
} tsa_nn_arena;

static inline float *tsa_nn_take(tsa_nn_arena *a, size_t n)
{
    float *p = a->base ? a->base + a->used : NULL;
    a->used += (n + 15) & ~(size_t)15;
    return p;
}

/* The hyperparameters of every network shape libtsa builds; a kind reads
 * the fields its network uses. */
typedef struct tsa_nn_arch {
    size_t F;           /* input and output features */
    size_t L;           /* window (sequence) length */
    size_t P;           /* steps predicted at once by the head */
    size_t hidden;      /* LSTM hidden size */
    size_t layers;      /* LSTM layers, or transformer encoder layers */
    size_t channels;    /* convolution channels */
    size_t kernel;      /* convolution kernel size */
    size_t conv_layers; /* dilated convolution layers */
    size_t d_model;     /* transformer width */
    size_t heads;       /* attention heads */
    size_t ff;          /* transformer feed-forward width */
    float dropout;      /* drop probability in training, [0, 0.9] */
} tsa_nn_arch;

/* A network: x (B, L, F) -> y (B, P * F).
 *
 * ws_size gives the floats of the workspace for batches of up to B windows:
 * with train = 0 the forward activations, with train = 1 also dropout masks
 * and activation gradients (never less). Views are carved from the actual
 * batch size of each call: forward carves the training layout when @drop is
 * non-NULL and the inference layout otherwise, so inference also runs on a
 * training workspace. prepare fills constant parts of a fresh workspace
 * (e.g. positional encodings), which must lie at its start, where no batch
 * size moves them; it may be NULL. forward runs dropout when @drop is
 * non-NULL (training); backward follows a training forward on the same
 * workspace and batch, zeroes its own activation gradients and adds the
 * parameter gradients into @g. Neither allocates. */
typedef struct tsa_nn_net_ops {
    const char *name;
    size_t (*n_params)(const tsa_nn_arch *a);
    void (*init)(const tsa_nn_arch *a, float *w, tsa_rng *rng);
    size_t (*ws_size)(const tsa_nn_arch *a, size_t B, int train);
    void (*prepare)(const tsa_nn_arch *a, float *ws, size_t B);
    /* The floats prepare writes (the constant start of every workspace). */
    size_t (*prep_size)(const tsa_nn_arch *a);
    void (*forward)(const tsa_nn_arch *a, const float *w, float *ws, size_t B, const float *x,
                    float *y, tsa_rng *drop);
    void (*backward)(const tsa_nn_arch *a, const float *w, float *g, float *ws, size_t B,
                     const float *x, const float *dy);
} tsa_nn_net_ops;

/* A network; prep, when set (tsa_nn_net_cache_prep), holds what prepare
 * writes, built once so calls copy it instead of recomputing it. */
typedef struct tsa_nn_net {
    const tsa_nn_net_ops *ops;
    tsa_nn_arch a;
    float *prep; /* (ops->prep_size(a)) or NULL */
} tsa_nn_net;

/* Builds net->prep when the network has a prepare step (a no-op
 * otherwise): 0, or -1 when out of memory. Free with tsa_nn_net_free_prep. */
int tsa_nn_net_cache_prep(tsa_nn_net *net);
void tsa_nn_net_free_prep(tsa_nn_net *net);

/* The networks of the neural kinds (nn/net_*.c). Each maps x (B, L, F) to
 * y (B, P * F) and reads the arch fields named here. */
/* Stacked LSTM, head on the last hidden state: hidden, layers, dropout. */
extern const tsa_nn_net_ops tsa_nn_net_lstm;
/* Temporal convolutional network: channels, kernel, conv_layers, dropout. */
extern const tsa_nn_net_ops tsa_nn_net_tcn;
/* Pre-norm causal transformer encoder: d_model, heads, layers, ff, dropout. */
extern const tsa_nn_net_ops tsa_nn_net_transformer;
/* Causal convolutions feeding a stacked LSTM: channels, kernel, conv_layers,
 * hidden, layers, dropout. */
extern const tsa_nn_net_ops tsa_nn_net_cnn_lstm;

/* Transposes x (R, C, K) into y (C, R, K): batch-major to time-major. */
void tsa_nn_transpose01(float *y, const float *x, size_t R, size_t C, size_t K);

/* Fills @n floats uniformly in [-bound, bound] (PyTorch's default for Linear,
 * Conv1d and LSTM weights is bound = 1 / sqrt(fan_in); He et al. 2015). */
void tsa_nn_uniform(float *w, size_t n, double bound, tsa_rng *rng);

/* Allocates @n floats aligned to 64 bytes (free with free()); NULL when out
 * of memory or when @n is 0. */
float *tsa_nn_alloc(size_t n);

#endif
