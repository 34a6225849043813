/* Adam (Kingma & Ba 2015, Algorithm 1) and AdamW (Loshchilov & Hutter 2019,
 * Algorithm 2), matching torch.optim.Adam / AdamW: bias corrections folded
 * into the step size, eps added after the square root. */
#include "nn/adam.h"

#include <math.h>

#include "nn/act.h"

#if TSA_NN_AVX2
/* The update eight lanes at a time, each lane the scalar operations (the
 * square root is correctly rounded on both paths): the same bits. Returns
 * how far it got. */
TSA_NN_TARGET_AVX2 static size_t adam_avx2(float *w, const float *g, float *m, float *v, size_t n,
                                           float b1, float b2, float a1, float a2, float step,
                                           float rbc2, float eps, float l2, float shrink)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        tsa_v8f wi = tsa_v8f_load(w + i);
        tsa_v8f gi = tsa_v8f_load(g + i) + tsa_v8f_set(l2) * wi;
        tsa_v8f mi = tsa_v8f_set(b1) * tsa_v8f_load(m + i) + tsa_v8f_set(a1) * gi;
        tsa_v8f vi = tsa_v8f_set(b2) * tsa_v8f_load(v + i) + tsa_v8f_set(a2) * gi * gi;
        tsa_v8f_store(m + i, mi);
        tsa_v8f_store(v + i, vi);
        tsa_v8f sq = (tsa_v8f)_mm256_sqrt_ps((__m256)vi);
        tsa_v8f den = sq * tsa_v8f_set(rbc2) + tsa_v8f_set(eps);
        tsa_v8f_store(w + i, wi * tsa_v8f_set(shrink) - tsa_v8f_set(step) * mi / den);
    }
    return i;
}
#endif

void tsa_nn_adam_init(tsa_nn_adam *o, double lr, double weight_decay, int decoupled)
{
    o->lr = lr;
    o->beta1 = 0.9;
    o->beta2 = 0.999;
    o->eps = 1e-8;
    o->weight_decay = weight_decay;
    o->decoupled = decoupled;
    o->t = 0;
}

void tsa_nn_adam_step(tsa_nn_adam *o, float *w, const float *g, float *m, float *v, size_t n)
{
    o->t++;
    const double bc1 = 1.0 - pow(o->beta1, (double)o->t), bc2 = 1.0 - pow(o->beta2, (double)o->t);
    const float b1 = (float)o->beta1, b2 = (float)o->beta2;
    const float a1 = (float)(1.0 - o->beta1), a2 = (float)(1.0 - o->beta2);
    const float step = (float)(o->lr / bc1), rbc2 = (float)(1.0 / sqrt(bc2));
    const float eps = (float)o->eps;
    const float l2 = o->decoupled ? 0.0f : (float)o->weight_decay;
    const float shrink = o->decoupled ? (float)(1.0 - o->lr * o->weight_decay) : 1.0f;
    size_t i = 0;
#if TSA_NN_AVX2
    if (tsa_nn_have_avx2())
        i = adam_avx2(w, g, m, v, n, b1, b2, a1, a2, step, rbc2, eps, l2, shrink);
#endif
    for (; i < n; i++) {
        float gi = g[i] + l2 * w[i];
        float mi = b1 * m[i] + a1 * gi;
        float vi = b2 * v[i] + a2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        w[i] = w[i] * shrink - step * mi / (sqrtf(vi) * rbc2 + eps);
    }
}

double tsa_nn_grad_norm(const float *g, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)g[i] * (double)g[i];
    return sqrt(s);
}

double tsa_nn_clip_grad_norm(float *g, size_t n, double max_norm)
{
    double norm = tsa_nn_grad_norm(g, n);
    if (max_norm > 0.0 && norm > max_norm) {
        /* torch.nn.utils.clip_grad_norm_: scale by max / (norm + 1e-6). */
        float s = (float)(max_norm / (norm + 1e-6));
        for (size_t i = 0; i < n; i++)
            g[i] *= s;
    }
    return norm;
}
