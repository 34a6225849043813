/* Finite-difference gradient checks for the float32 layers in libtsa/nn.
 *
 * A check perturbs one coordinate at a time by +/- eps, recomputes the scalar
 * loss sum_i r_i y_i (summed in double) and compares the central difference
 * with the analytic gradient: the relative error |a - n| / max(|a| + |n|,
 * floor) must stay below 1e-2. The floor (5% of the gradient's RMS)
 * keeps coordinates whose true gradient is ~0 from dividing float rounding
 * noise by nothing. Large arrays are sampled (up to 300 coordinates).
 * GC_VERBOSE=1 in the environment prints every coordinate off by more than
 * 1e-3. */
#ifndef TSA_TEST_GRADCHECK_H
#define TSA_TEST_GRADCHECK_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"

typedef double (*gc_loss_fn)(void *ctx);

static inline double gc_dot(const float *r, const float *y, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (double)r[i] * (double)y[i];
    return s;
}

static inline void gc_fill(float *v, size_t n, double lo, double hi, tsa_rng *rng)
{
    for (size_t i = 0; i < n; i++)
        v[i] = (float)(lo + (hi - lo) * tsa_rng_uniform(rng));
}

static inline double gc_rel(double a, double num, double floor_)
{
    double den = fabs(a) + fabs(num);
    return fabs(a - num) / (den > floor_ ? den : floor_);
}

/* Returns the largest relative error over the checked coordinates of v.
 * With @piecewise (networks with ReLU), a step that crosses a unit's kink
 * makes the central difference mix two slopes; the one-sided difference on
 * the side without the kink is then exact to O(eps), so the best of the
 * central, left and right differences is taken. */
static inline double gc_check_ex(const char *what, float *v, const float *grad, size_t n,
                                 gc_loss_fn loss, void *ctx, double eps, int piecewise)
{
    double rms = 0.0;
    for (size_t i = 0; i < n; i++)
        rms += (double)grad[i] * (double)grad[i];
    rms = sqrt(rms / (double)(n ? n : 1));
    const double floor_ = 5e-2 * rms + 1e-6;
    size_t stride = n > 300 ? n / 300 : 1;
    double worst = 0.0;
    size_t at = 0;
    for (size_t i = 0; i < n; i += stride) {
        float save = v[i];
        float up = (float)(save + eps), dn = (float)(save - eps);
        v[i] = up;
        double lp = loss(ctx);
        v[i] = dn;
        double lm = loss(ctx);
        v[i] = save;
        double num = (lp - lm) / ((double)up - (double)dn);
        double a = grad[i];
        double rel = gc_rel(a, num, floor_);
        if (piecewise && rel > 1e-3) {
            double l0 = loss(ctx);
            double left = gc_rel(a, (l0 - lm) / ((double)save - (double)dn), floor_);
            double right = gc_rel(a, (lp - l0) / ((double)up - (double)save), floor_);
            rel = fmin(rel, fmin(left, right));
        }
        if (rel > worst) {
            worst = rel;
            at = i;
        }
        if (getenv("GC_VERBOSE") && rel > 1e-3)
            printf("#   %zu: analytic %.6e numeric %.6e\n", i, a, num);
    }
    printf("# %-28s n=%-6zu max rel err %.2e (at %zu; rms %.2e)\n", what, n, worst, at, rms);
    return worst;
}

static inline double gc_check(const char *what, float *v, const float *grad, size_t n,
                              gc_loss_fn loss, void *ctx, double eps)
{
    return gc_check_ex(what, v, grad, n, loss, ctx, eps, 0);
}

#endif
