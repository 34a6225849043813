/* Windows for the neural kinds. With centring, each window's inputs and
 * targets are taken relative to the mean of its inputs (per feature), and
 * predictions get it added back: the network then models shape rather than
 * level, so a trending series does not carry it outside the range it was
 * trained on (the instance normalisation of RevIN, Kim et al. 2022, without
 * the scale). */
#include "nn/window.h"

#include <string.h>

size_t tsa_nn_window_count(size_t rows, size_t L, size_t P)
{
    return rows >= L + P ? rows - L - P + 1 : 0;
}

int tsa_nn_window_split(size_t n_windows, double fraction, size_t P, tsa_nn_split *out)
{
    size_t n_val = 0, gap = 0;
    if (fraction > 0.0) {
        n_val = (size_t)((double)n_windows * fraction);
        if (n_val < 1)
            n_val = 1;
        gap = P - 1;
    }
    if (n_val + gap >= n_windows)
        return -1;
    out->n_train = n_windows - n_val - gap;
    out->val_start = n_windows - n_val;
    out->n_val = n_val;
    return 0;
}

void tsa_nn_window_gather(const tsa_nn_windows *w, const size_t *starts, size_t B, float *x,
                          float *y, float *c)
{
    const size_t F = w->F, L = w->L, P = w->P;
    for (size_t b = 0; b < B; b++) {
        const float *src = w->z + starts[b] * F;
        float *cb = c + b * F;
        for (size_t f = 0; f < F; f++) {
            double s = 0.0;
            if (w->centre)
                for (size_t t = 0; t < L; t++)
                    s += src[t * F + f];
            cb[f] = (float)(s / (double)L);
        }
        float *xb = x + b * L * F;
        for (size_t t = 0; t < L; t++)
            for (size_t f = 0; f < F; f++)
                xb[t * F + f] = src[t * F + f] - cb[f];
        if (y) {
            float *yb = y + b * P * F;
            const float *tg = src + L * F;
            for (size_t h = 0; h < P; h++)
                for (size_t f = 0; f < F; f++)
                    yb[h * F + f] = tg[h * F + f] - cb[f];
        }
    }
}
