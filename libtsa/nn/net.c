/* Helpers shared by the networks: allocation and initialisation. */
#include "nn/net.h"

#include <stdint.h>
#include <stdlib.h>

void tsa_nn_uniform(float *w, size_t n, double bound, tsa_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2.0 * tsa_rng_uniform(rng) - 1.0) * bound);
}

float *tsa_nn_alloc(size_t n)
{
    if (n == 0 || n > SIZE_MAX / sizeof(float) - 16)
        return NULL;
    /* aligned_alloc wants a multiple of the alignment. */
    size_t bytes = (n * sizeof(float) + 63) & ~(size_t)63;
    return aligned_alloc(64, bytes);
}

#include <string.h>

void tsa_nn_transpose01(float *y, const float *x, size_t R, size_t C, size_t K)
{
    for (size_t r = 0; r < R; r++)
        for (size_t c = 0; c < C; c++)
            memcpy(y + (c * R + r) * K, x + (r * C + c) * K, K * sizeof *y);
}

int tsa_nn_net_cache_prep(tsa_nn_net *net)
{
    if (net->prep || !net->ops->prepare || !net->ops->prep_size)
        return 0;
    net->prep = tsa_nn_alloc(net->ops->prep_size(&net->a));
    if (!net->prep)
        return -1;
    net->ops->prepare(&net->a, net->prep, 0);
    return 0;
}

void tsa_nn_net_free_prep(tsa_nn_net *net)
{
    free(net->prep);
    net->prep = NULL;
}
