/* Adam and AdamW over one flat parameter block, and gradient clipping by the
 * global norm. */
#ifndef TSA_NN_ADAM_H
#define TSA_NN_ADAM_H

#include <stddef.h>
#include <stdint.h>

typedef struct tsa_nn_adam {
    double lr, beta1, beta2, eps;
    double weight_decay; /* L2 added to the gradient (Adam) or decoupled (AdamW) */
    int decoupled;       /* 1: AdamW */
    int64_t t;           /* steps taken */
} tsa_nn_adam;

/* PyTorch's defaults: betas (0.9, 0.999), eps 1e-8. */
void tsa_nn_adam_init(tsa_nn_adam *o, double lr, double weight_decay, int decoupled);

/* One step on w (n) with gradient g (n) and moments m, v (n, zero at first). */
void tsa_nn_adam_step(tsa_nn_adam *o, float *w, const float *g, float *m, float *v, size_t n);

/* The Euclidean norm of g (n), summed in double. */
double tsa_nn_grad_norm(const float *g, size_t n);

/* Scales g so its norm is at most max_norm (no-op when max_norm <= 0);
 * returns the norm before clipping (Pascanu, Mikolov & Bengio 2013). */
double tsa_nn_clip_grad_norm(float *g, size_t n, double max_norm);

#endif
