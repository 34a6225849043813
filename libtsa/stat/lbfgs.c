/* L-BFGS with a strong-Wolfe line search (see stat/lbfgs.h for the
 * references). */
#include "stat/lbfgs.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void tsa_lbfgs_opts_init(tsa_lbfgs_opts *o)
{
    memset(o, 0, sizeof *o);
    o->history = 10;
    o->max_iter = 1000;
    o->gtol = 1e-8;
    o->ftol = 1e-12;
    o->xtol = 1e-12;
    o->max_linesearch = 40;
    o->c1 = 1e-4;
    o->c2 = 0.9;
}

const char *tsa_lbfgs_reason_name(tsa_lbfgs_reason r)
{
    switch (r) {
    case TSA_LBFGS_GTOL:
        return "gtol";
    case TSA_LBFGS_FTOL:
        return "ftol";
    case TSA_LBFGS_XTOL:
        return "xtol";
    case TSA_LBFGS_MAXITER:
        return "max_iter";
    case TSA_LBFGS_LINESEARCH:
        return "line_search";
    }
    return "unknown";
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * b[i];
    return s;
}

static double max_abs(const double *a, size_t n)
{
    double m = 0.0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs(a[i]));
    return m;
}

/* The line search along x0 + a d. The last evaluated point is in xt/gt; the
 * best point with sufficient decrease seen so far is kept in xlo/glo so
 * that a search that cannot meet the curvature condition can still return
 * a decrease. */
typedef struct ls_ctx {
    size_t n;
    tsa_lbfgs_fn fn;
    void *user;
    const double *x0, *d;
    double f0, dg0, c1, c2;
    double *xt, *gt, *xlo, *glo;
    int evals, budget;
} ls_ctx;

/* phi(a) = f(x0 + a d); a non-finite value or slope returns +Inf. */
static double ls_eval(ls_ctx *c, double a, double *dphi)
{
    for (size_t i = 0; i < c->n; i++)
        c->xt[i] = c->x0[i] + a * c->d[i];
    double f = c->fn(c->user, c->xt, c->gt);
    c->evals++;
    c->budget--;
    double dp = dot(c->gt, c->d, c->n);
    if (!isfinite(f) || !isfinite(dp)) {
        *dphi = NAN;
        return INFINITY;
    }
    *dphi = dp;
    return f;
}

static void ls_keep(ls_ctx *c)
{
    memcpy(c->xlo, c->xt, c->n * sizeof *c->xlo);
    memcpy(c->glo, c->gt, c->n * sizeof *c->glo);
}

/* The minimiser of the cubic through (a, fa, da) and (b, fb, db)
 * (Nocedal & Wright eq. 3.59), kept inside the middle 80% of [a, b];
 * bisection when the cubic is unusable. */
static double ls_interpolate(double a, double fa, double da, double b, double fb, double db)
{
    double lo = fmin(a, b), hi = fmax(a, b), w = hi - lo, mid = 0.5 * (a + b);
    if (!isfinite(fb) || !isfinite(db) || !isfinite(fa) || !isfinite(da))
        return mid;
    double d1 = da + db - 3.0 * (fa - fb) / (a - b);
    double disc = d1 * d1 - da * db;
    if (!(disc >= 0.0))
        return mid;
    double d2 = (b > a ? 1.0 : -1.0) * sqrt(disc);
    double den = db - da + 2.0 * d2;
    if (den == 0.0)
        return mid;
    double t = b - (b - a) * (db + d2 - d1) / den;
    if (!isfinite(t) || t < lo + 0.1 * w || t > hi - 0.1 * w)
        return mid;
    return t;
}

/* Algorithm 3.6. Returns 1 with the accepted point in xt/gt and its value
 * in *f_out, or 0 when nothing with sufficient decrease was found. */
static int ls_zoom(ls_ctx *c, double lo, double flo, double dlo, int have_lo, double hi,
                   double fhi, double dhi, double *a_out, double *f_out)
{
    while (c->budget > 0) {
        double a = ls_interpolate(lo, flo, dlo, hi, fhi, dhi);
        double da, fa = ls_eval(c, a, &da);
        if (fa > c->f0 + c->c1 * a * c->dg0 || fa >= flo) {
            hi = a;
            fhi = fa;
            dhi = da;
        } else {
            if (fabs(da) <= -c->c2 * c->dg0) {
                *a_out = a;
                *f_out = fa;
                return 1;
            }
            if (da * (hi - lo) >= 0.0) {
                hi = lo;
                fhi = flo;
                dhi = dlo;
            }
            lo = a;
            flo = fa;
            dlo = da;
            have_lo = 1;
            ls_keep(c);
        }
        if (fabs(hi - lo) <= 1e-15 * fmax(fabs(lo), fabs(hi)))
            break;
    }
    if (!have_lo)
        return 0;
    /* Sufficient decrease without the curvature condition: still progress. */
    memcpy(c->xt, c->xlo, c->n * sizeof *c->xt);
    memcpy(c->gt, c->glo, c->n * sizeof *c->gt);
    *a_out = lo;
    *f_out = flo;
    return 1;
}

/* Algorithm 3.5: expands from @a until a bracket or an acceptable point. */
static int ls_search(ls_ctx *c, double a, double *a_out, double *f_out)
{
    double a_prev = 0.0, f_prev = c->f0, d_prev = c->dg0;
    int have_prev = 0;
    for (int i = 0; c->budget > 0; i++) {
        double da, fa = ls_eval(c, a, &da);
        if (fa > c->f0 + c->c1 * a * c->dg0 || (i > 0 && fa >= f_prev))
            return ls_zoom(c, a_prev, f_prev, d_prev, have_prev, a, fa, da, a_out, f_out);
        if (fabs(da) <= -c->c2 * c->dg0) {
            *a_out = a;
            *f_out = fa;
            return 1;
        }
        ls_keep(c);
        if (da >= 0.0)
            return ls_zoom(c, a, fa, da, 1, a_prev, f_prev, d_prev, a_out, f_out);
        a_prev = a;
        f_prev = fa;
        d_prev = da;
        have_prev = 1;
        a *= 3.0;
    }
    if (!have_prev)
        return 0;
    memcpy(c->xt, c->xlo, c->n * sizeof *c->xt);
    memcpy(c->gt, c->glo, c->n * sizeof *c->gt);
    *a_out = a_prev;
    *f_out = f_prev;
    return 1;
}

/* Two-loop recursion (Nocedal 1980): d = -H v with H from the stored
 * pairs, H_0 = (s'y / y'y) I of the newest pair. */
static void two_loop(size_t n, size_t m, size_t n_pairs, size_t head, const double *S,
                     const double *Y, const double *rho, double *alpha, const double *v,
                     double *d)
{
    for (size_t i = 0; i < n; i++)
        d[i] = -v[i];
    if (!n_pairs)
        return;
    for (size_t j = n_pairs; j-- > 0;) {
        size_t p = (head + j) % m;
        alpha[p] = rho[p] * dot(S + p * n, d, n);
        for (size_t i = 0; i < n; i++)
            d[i] -= alpha[p] * Y[p * n + i];
    }
    size_t last = (head + n_pairs - 1) % m;
    double gamma = dot(S + last * n, Y + last * n, n) / dot(Y + last * n, Y + last * n, n);
    for (size_t i = 0; i < n; i++)
        d[i] *= gamma;
    for (size_t j = 0; j < n_pairs; j++) {
        size_t p = (head + j) % m;
        double beta = rho[p] * dot(Y + p * n, d, n);
        for (size_t i = 0; i < n; i++)
            d[i] += (alpha[p] - beta) * S[p * n + i];
    }
}

tsa_status tsa_lbfgs_minimize(size_t n, double *x, tsa_lbfgs_fn fn, void *user,
                              const tsa_lbfgs_opts *opts, tsa_lbfgs_result *res)
{
    tsa_lbfgs_opts o;
    if (opts)
        o = *opts;
    else
        tsa_lbfgs_opts_init(&o);
    TSA_FAIL_IF(n == 0 || !x || !fn, TSA_EINVAL, "lbfgs: empty problem");
    TSA_FAIL_IF(o.history < 1 || o.history > 1000 || o.max_iter < 1 || o.max_linesearch < 2 ||
                    !(o.c1 > 0.0 && o.c1 < o.c2 && o.c2 < 1.0) || !(o.gtol >= 0.0) ||
                    !(o.ftol >= 0.0) || !(o.xtol >= 0.0),
                TSA_EINVAL, "lbfgs: invalid options");
    const size_t m = o.history;
    if (n > SIZE_MAX / sizeof(double) / (2 * m + 8))
        return tsa_error(TSA_ENOMEM, "lbfgs: problem too large");
    double *mem = malloc((2 * m * n + 7 * n + 2 * m) * sizeof *mem);
    TSA_FAIL_IF(!mem, TSA_ENOMEM, "lbfgs: out of memory for %zu variables", n);
    double *S = mem, *Y = S + m * n, *g = Y + m * n, *d = g + n, *xt = d + n, *gt = xt + n;
    double *xlo = gt + n, *glo = xlo + n, *x0 = glo + n, *rho = x0 + n, *alpha = rho + m;

    tsa_lbfgs_result r;
    memset(&r, 0, sizeof r);
    tsa_status rc = TSA_OK;
    double f = fn(user, x, g);
    r.evaluations = 1;
    if (!isfinite(f) || !isfinite(dot(g, g, n))) {
        rc = tsa_error(TSA_ENUMERIC, "lbfgs: the objective or its gradient is not finite at "
                                     "the starting point");
        goto done;
    }
    r.reason = TSA_LBFGS_MAXITER;
    size_t n_pairs = 0, head = 0; /* pairs stored; index of the oldest */
    if (max_abs(g, n) <= o.gtol) {
        r.reason = TSA_LBFGS_GTOL;
        goto finish;
    }
    int retried = 0;
    while (r.iterations < o.max_iter) {
        two_loop(n, m, n_pairs, head, S, Y, rho, alpha, g, d);
        double dg0 = dot(g, d, n);
        if (!(dg0 < 0.0)) {
            /* Not a descent direction (round-off in the memory): restart. */
            n_pairs = 0;
            for (size_t i = 0; i < n; i++)
                d[i] = -g[i];
            dg0 = -dot(g, g, n);
        }
        double a0 = n_pairs ? 1.0 : fmin(1.0, 1.0 / sqrt(-dg0));
        memcpy(x0, x, n * sizeof *x0);
        ls_ctx c = {n, fn, user, x0, d, f, dg0, o.c1, o.c2, xt, gt, xlo, glo, 0,
                    o.max_linesearch};
        double a = 0.0, fnew = f;
        int ok = ls_search(&c, a0, &a, &fnew);
        r.evaluations += c.evals;
        if (!ok || !(fnew <= f)) {
            if (n_pairs && !retried) {
                n_pairs = 0;
                retried = 1;
                continue;
            }
            r.reason = TSA_LBFGS_LINESEARCH;
            break;
        }
        retried = 0;
        r.iterations++;
        /* New correction pair s = x+ - x, y = g+ - g. */
        size_t slot = n_pairs < m ? (head + n_pairs) % m : head;
        double *s = S + slot * n, *yv = Y + slot * n;
        for (size_t i = 0; i < n; i++) {
            s[i] = xt[i] - x[i];
            yv[i] = gt[i] - g[i];
        }
        double sy = dot(s, yv, n), yy = dot(yv, yv, n);
        double step = max_abs(s, n);
        if (sy > 1e-14 * yy && yy > 0.0) {
            rho[slot] = 1.0 / sy;
            if (n_pairs < m)
                n_pairs++;
            else
                head = (head + 1) % m;
        }
        double f_prev = f;
        memcpy(x, xt, n * sizeof *x);
        memcpy(g, gt, n * sizeof *g);
        f = fnew;
        if (o.progress) {
            rc = o.progress(o.progress_user, r.iterations, f);
            if (rc != TSA_OK)
                goto done;
        }
        if (max_abs(g, n) <= o.gtol) {
            r.reason = TSA_LBFGS_GTOL;
            break;
        }
        if (f_prev - f <= o.ftol * fmax(fmax(fabs(f_prev), fabs(f)), 1.0)) {
            r.reason = TSA_LBFGS_FTOL;
            break;
        }
        if (step <= o.xtol) {
            r.reason = TSA_LBFGS_XTOL;
            break;
        }
    }
finish:
    r.f = f;
    r.gnorm = max_abs(g, n);
    if (res)
        *res = r;
done:
    free(mem);
    return rc;
}
