/* One LSTM layer over a whole sequence, with full backpropagation through
 * time. Time-major layout: step t of sequence b is row t * B + b. */
#ifndef TSA_NN_LSTM_H
#define TSA_NN_LSTM_H

#include <stddef.h>

#include "core/rng.h"
#include "nn/net.h"

/* Parameters of a layer with In inputs and H hidden units, gates fused in
 * PyTorch's order (input, forget, cell, output): Wih (4H, In), Whh (4H, H),
 * b (4H) (PyTorch's b_ih + b_hh as one vector). */
size_t tsa_nn_lstm_n_params(size_t In, size_t H);

/* Floats of the forward pass's packing scratch for H hidden units. */
size_t tsa_nn_lstm_pack_size(size_t H);

/* Forward from a zero initial state.
 * x (T, B, In) inputs; wpack: tsa_nn_lstm_pack_size(H) floats of scratch
 * (NULL: every recurrent product through sgemm). Outputs and caches:
 *   gates (T, B, 4H) the activated gates i, f, g, o;
 *   c (T + 1, B, H) cell states, c[0] = 0, c[t + 1] after step t;
 *   tc (T, B, H) tanh of c[t + 1];
 *   h (T + 1, B, H) hidden states, h[0] = 0, h[t + 1] the output of step t. */
void tsa_nn_lstm_forward(const float *x, const float *Wih, const float *Whh, const float *b,
                         size_t T, size_t B, size_t In, size_t H, float *gates, float *c, float *tc,
                         float *h, float *wpack);

/* Backward through time. dh (T, B, H) is the loss gradient with respect to
 * each output h[t + 1]. Adds into dWih, dWhh, db and, when non-NULL,
 * dx (T, B, In). Scratch: dgates (T, B, 4H), dhn (B, H), dcn (B, H). */
void tsa_nn_lstm_backward(float *dx, float *dWih, float *dWhh, float *db, const float *dh,
                          const float *x, const float *Wih, const float *Whh, const float *gates,
                          const float *c, const float *tc, const float *h, size_t T, size_t B,
                          size_t In, size_t H, float *dgates, float *dhn, float *dcn);

/* ---- a stack of layers -------------------------------------------------- */

#define TSA_NN_LSTM_MAX_LAYERS 4

/* Views of a stack of n LSTM layers over (T, B) sequences of In inputs, with
 * dropout on the outputs of every layer but the last (as torch.nn.LSTM). */
typedef struct tsa_nn_lstm_stack {
    size_t T, B, In, H, n;
    float p; /* dropout between layers */
    /* parameters (into a weight or a gradient block) */
    float *Wih[TSA_NN_LSTM_MAX_LAYERS], *Whh[TSA_NN_LSTM_MAX_LAYERS], *b[TSA_NN_LSTM_MAX_LAYERS];
    /* forward caches */
    float *gates[TSA_NN_LSTM_MAX_LAYERS], *c[TSA_NN_LSTM_MAX_LAYERS], *tc[TSA_NN_LSTM_MAX_LAYERS],
        *h[TSA_NN_LSTM_MAX_LAYERS];
    float *wpack; /* packing scratch, shared by the layers */
    /* training only: dropout masks and dropped outputs (layers 0 .. n-2),
     * gradient scratch */
    float *mask[TSA_NN_LSTM_MAX_LAYERS], *drop[TSA_NN_LSTM_MAX_LAYERS];
    float *dgates, *dhn, *dcn, *dbuf[2], *ddrop;
} tsa_nn_lstm_stack;

/* The stack's parameter count, and the views of a block holding them (the
 * same order for weights and gradients). */
size_t tsa_nn_lstm_stack_n_params(size_t In, size_t H, size_t n);
void tsa_nn_lstm_stack_params(tsa_nn_lstm_stack *s, float *block);

/* Carves the forward caches (and with @train the dropout and gradient
 * buffers) for batches of B from @a; fills the shape fields. */
void tsa_nn_lstm_stack_carve(tsa_nn_lstm_stack *s, tsa_nn_arena *a, size_t T, size_t B,
                             size_t In, size_t H, size_t n, float p, int train);

/* PyTorch's initialisation, U(-1/sqrt(H), 1/sqrt(H)), with the forget-gate
 * bias set to 1 (Jozefowicz, Zaremba & Sutskever 2015). @s holds weight
 * views. */
void tsa_nn_lstm_stack_init(const tsa_nn_lstm_stack *s, tsa_rng *rng);

/* x (T, B, In) -> the top layer's outputs, s->h[n - 1] + B * H as (T, B, H).
 * @w holds weight views; dropout when @rng is non-NULL. Runs on B rows. */
void tsa_nn_lstm_stack_forward(tsa_nn_lstm_stack *s, const tsa_nn_lstm_stack *w, size_t B,
                               const float *x, tsa_rng *rng);

/* dtop (T, B, H): gradient of the top outputs. Adds parameter gradients into
 * @g's views and, when dx is non-NULL, dx (T, B, In). */
void tsa_nn_lstm_stack_backward(tsa_nn_lstm_stack *s, const tsa_nn_lstm_stack *w,
                                const tsa_nn_lstm_stack *g, size_t B, const float *x,
                                const float *dtop, float *dx);

#endif
