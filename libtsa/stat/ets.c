/* Exponential smoothing state space models (see ets.h). */
#include "stat/ets.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_vector.h>

#include "core/error.h"
#include "core/rng.h"
#include "stat/period.h"

#define ETS_LAYOUT_VERSION 1u
/* forecast's etscalc: predictions and seasonal indices closer to zero than
 * this are treated as degenerate. */
#define ETS_TOL 1e-10
/* The objective outside the admissible region. GSL's simplex only compares
 * values, but rejects non-finite ones, so a huge finite value stands in for
 * forecast::ets's Inf. */
#define ETS_PENALTY 1e100
/* Sample paths for simulated intervals, and the memory they may take. */
#define ETS_NPATHS 2000
#define ETS_MIN_NPATHS 200
#define ETS_PATH_VALUES 1000000
#define ETS_MAX_CAND 64
/* Nelder-Mead iterations per candidate, and per restart segment (times the
 * number of parameters plus one). */
#define ETS_NM_BUDGET 2500
#define ETS_NM_SEGMENT 40

void tsa_stat_ets_opts_init(tsa_stat_ets_opts *o)
{
    memset(o, 0, sizeof *o);
    o->error = TSA_STAT_ETS_AUTO;
    o->trend = TSA_STAT_ETS_AUTO;
    o->damped = TSA_STAT_ETS_AUTO;
    o->season = TSA_STAT_ETS_AUTO;
    o->m = 1;
}

size_t tsa_stat_ets_n_params(const tsa_stat_ets_spec *spec)
{
    size_t np = 2; /* alpha, l0 */
    if (spec->trend != TSA_STAT_ETS_N)
        np += 2 + (spec->damped ? 1 : 0);
    if (spec->season != TSA_STAT_ETS_N)
        np += spec->m; /* gamma and m - 1 free initial states */
    return np;
}

void tsa_stat_ets_name(const tsa_stat_ets_spec *spec, char *buf, size_t len)
{
    static const char code[] = {'N', 'A', 'M'};
    if (!buf || len == 0)
        return;
    int e = spec->error >= 0 && spec->error <= 2 ? spec->error : 0;
    int t = spec->trend >= 0 && spec->trend <= 2 ? spec->trend : 0;
    int s = spec->season >= 0 && spec->season <= 2 ? spec->season : 0;
    snprintf(buf, len, "ETS(%c,%c%s,%c)", code[e], code[t], spec->damped ? "d" : "", code[s]);
}

void tsa_stat_ets_free(tsa_stat_ets *e)
{
    if (!e)
        return;
    free(e->s0); /* s is a view into the same block */
    free(e->cand);
    memset(e, 0, sizeof *e);
}

int tsa_stat_ets_needs_positive(const tsa_stat_ets *e)
{
    return e->spec.error == TSA_STAT_ETS_M || e->spec.season == TSA_STAT_ETS_M;
}

size_t tsa_stat_ets_context(const tsa_stat_ets *e)
{
    size_t m = e->spec.season != TSA_STAT_ETS_N ? e->spec.m : 1;
    size_t c = 2 * m > 10 ? 2 * m : 10;
    return c < e->n_train ? c : e->n_train;
}

/* ---- the recursions ---------------------------------------------------------- */

typedef struct ets_par {
    int error, trend, season;
    size_t m;
    double alpha, beta, gamma, phi;
} ets_par;

static ets_par par_of(const tsa_stat_ets_spec *spec, double alpha, double beta, double gamma,
                      double phi)
{
    ets_par p;
    p.error = spec->error;
    p.trend = spec->trend;
    p.season = spec->season;
    p.m = spec->season != TSA_STAT_ETS_N ? spec->m : 1;
    p.alpha = alpha;
    p.beta = spec->trend != TSA_STAT_ETS_N ? beta : 0.0;
    p.gamma = spec->season != TSA_STAT_ETS_N ? gamma : 0.0;
    p.phi = spec->trend != TSA_STAT_ETS_N && spec->damped ? phi : 1.0;
    return p;
}

/* mu_t from the level, trend and the seasonal index of step t. Without a
 * trend b is 0. */
static inline double ets_mu(const ets_par *p, double l, double b, double s)
{
    double q = l + p->phi * b;
    if (p->season == TSA_STAT_ETS_A)
        return q + s;
    if (p->season == TSA_STAT_ETS_M)
        return q * s;
    return q;
}

/* The error-correction updates of Hyndman et al. (2008) Table 2.3. With
 * q = l + phi b and p the deseasonalised observation, forecast's etscalc.c
 * writes them l' = q + alpha (p - q) and b' = phi b + (beta / alpha)
 * (l' - l - phi b); here they are l' = (1 - alpha) q + alpha p and
 * b' = phi b + beta (p - q), the same values up to rounding, which keeps
 * the chain of dependent operations from one step to the next short (the
 * filter's speed is bound by that latency, not by its operation count). */
static inline void ets_update(const ets_par *p, double *l, double *b, double *slot, double y)
{
    double phib = p->phi * *b, q = *l + phib, so = *slot, pv;
    if (p->season == TSA_STAT_ETS_A)
        pv = y - so;
    else if (p->season == TSA_STAT_ETS_M)
        pv = fabs(so) < ETS_TOL ? 1e10 : y / so;
    else
        pv = y;
    double nl = (1.0 - p->alpha) * q + p->alpha * pv;
    if (p->trend != TSA_STAT_ETS_N)
        *b = phib + p->beta * (pv - q);
    if (p->season == TSA_STAT_ETS_A)
        *slot = so + p->gamma * (y - q - so);
    else if (p->season == TSA_STAT_ETS_M)
        *slot = so + p->gamma * ((fabs(q) < ETS_TOL ? 1e10 : y / q) - so);
    *l = nl;
}

#if defined(__GNUC__)
#define ETS_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define ETS_ALWAYS_INLINE inline
#endif

/* The likelihood loop for one model class: E, T, S are the error, trend and
 * season codes and D whether the trend is damped, all compile-time constants
 * at the call sites in ets_run, so each class gets its own loop without
 * per-step branches on the model and with the state in registers (no
 * stores through pointers that may alias the ring). It computes exactly
 * what ets_mu and ets_update do, in the same order: phi b is b when the
 * trend is not damped and the trend terms vanish without a trend, so the
 * results are bitwise those of the generic recursion. A non-finite
 * prediction makes the SSE non-finite, which the caller rejects, so it
 * needs no test per step. */
static ETS_ALWAYS_INLINE int ets_run_k(const ets_par *p, const double *y, size_t n, double *lp,
                                       double *bp, double *ring, double *sse, double *sumlog,
                                       const int E, const int T, const int D, const int S)
{
    const double alpha = p->alpha, oma = 1.0 - p->alpha, beta = p->beta, gamma = p->gamma;
    const double phi = p->phi;
    const size_t m = p->m;
    double l = *lp, b = *bp, s2 = 0.0, mant = 1.0;
    long ex = 0;
    size_t k = 0;
    for (size_t t = 0; t < n; t++) {
        const double yt = y[t];
        const double phib = T == TSA_STAT_ETS_N ? 0.0 : (D ? phi * b : b);
        const double q = T == TSA_STAT_ETS_N ? l : l + phib;
        const double so = S != TSA_STAT_ETS_N ? ring[k] : 0.0;
        const double mu = S == TSA_STAT_ETS_A ? q + so : S == TSA_STAT_ETS_M ? q * so : q;
        const double pv = S == TSA_STAT_ETS_A   ? yt - so
                          : S == TSA_STAT_ETS_M ? (fabs(so) < ETS_TOL ? 1e10 : yt / so)
                                                : yt;
        double e;
        if (E == TSA_STAT_ETS_M) {
            if (fabs(mu) < ETS_TOL)
                return -1;
            e = (yt - mu) / mu;
            double a = fabs(mu);
            if (!(a >= 0x1p-500 && a <= 0x1p500)) {
                int ea;
                a = frexp(a, &ea);
                ex += ea;
            }
            mant *= a;
            if (!(mant >= 0x1p-500 && mant <= 0x1p500)) {
                int em;
                mant = frexp(mant, &em);
                ex += em;
            }
        } else {
            e = yt - mu;
        }
        s2 += e * e;
        const double nl = oma * q + alpha * pv;
        if (T != TSA_STAT_ETS_N)
            b = phib + beta * (pv - q);
        if (S == TSA_STAT_ETS_A)
            ring[k] = so + gamma * (yt - q - so);
        else if (S == TSA_STAT_ETS_M)
            ring[k] = so + gamma * ((fabs(q) < ETS_TOL ? 1e10 : yt / q) - so);
        l = nl;
        if (S != TSA_STAT_ETS_N && ++k == m)
            k = 0;
    }
    double sl = E == TSA_STAT_ETS_M ? log(mant) + (double)ex * M_LN2 : 0.0;
    *lp = l;
    *bp = b;
    if (!isfinite(s2) || !isfinite(sl) || !isfinite(l) || !isfinite(b))
        return -1;
    *sse = s2;
    *sumlog = sl;
    return 0;
}

/* Filters y (n) from (l, b, ring) at phase 0, updating them; the sum of
 * squared errors and of log |mu|. Returns 0, or -1 on a degenerate or
 * non-finite prediction.
 *
 * sum log |mu_t| is taken as the log of the product of the |mu_t|, kept as
 * mantissa * 2^exponent: one log per call instead of one per step, equal up
 * to rounding. The mantissa stays within [2^-500, 2^500] (factors outside
 * that range are split first), so no product overflows or underflows. */
static int ets_run(const ets_par *p, const double *y, size_t n, double *l, double *b,
                   double *ring, double *sse, double *sumlog)
{
    /* phi is 1 unless the trend is damped, and phi b is then b exactly. */
    const int damped = p->trend != TSA_STAT_ETS_N && p->phi != 1.0;
#define ETS_K(E, T, D, S) ets_run_k(p, y, n, l, b, ring, sse, sumlog, E, T, D, S)
#define ETS_BY_SEASON(E, T, D)                                                               \
    (p->season == TSA_STAT_ETS_A   ? ETS_K(E, T, D, TSA_STAT_ETS_A)                          \
     : p->season == TSA_STAT_ETS_M ? ETS_K(E, T, D, TSA_STAT_ETS_M)                          \
                                   : ETS_K(E, T, D, TSA_STAT_ETS_N))
#define ETS_BY_TREND(E)                                                                      \
    (p->trend == TSA_STAT_ETS_N ? ETS_BY_SEASON(E, TSA_STAT_ETS_N, 0)                        \
     : damped                   ? ETS_BY_SEASON(E, TSA_STAT_ETS_A, 1)                        \
                                : ETS_BY_SEASON(E, TSA_STAT_ETS_A, 0))
    return p->error == TSA_STAT_ETS_M ? ETS_BY_TREND(TSA_STAT_ETS_M)
                                      : ETS_BY_TREND(TSA_STAT_ETS_A);
#undef ETS_BY_TREND
#undef ETS_BY_SEASON
#undef ETS_K
}

/* -2 log L at sigma^2 = SSE / n (Hyndman et al. 2008, eq. 5.3 and 5.4). */
static double ets_m2loglik(const ets_par *p, size_t n, double sse, double sumlog)
{
    double s = sse > 1e-300 ? sse : 1e-300; /* a perfect fit stays finite */
    double v = (double)n * (log(2.0 * M_PI * s / (double)n) + 1.0);
    if (p->error == TSA_STAT_ETS_M)
        v += 2.0 * sumlog;
    return v;
}

tsa_status tsa_stat_ets_filter(const tsa_stat_ets *e, const double *y, size_t n, double *l,
                               double *b, double *s, size_t t0, double *pred, double *resid)
{
    TSA_FAIL_IF(!e || !l || !b || !s || (n && !y), TSA_EINVAL, "ets filter: NULL argument");
    ets_par p = par_of(&e->spec, e->alpha, e->beta, e->gamma, e->phi);
    size_t k = t0 % p.m;
    for (size_t t = 0; t < n; t++) {
        double mu = ets_mu(&p, *l, *b, s[k]);
        TSA_FAIL_IF(!isfinite(mu) || (p.error == TSA_STAT_ETS_M && fabs(mu) < ETS_TOL),
                    TSA_ENUMERIC, "ets: degenerate one-step prediction %g at row %zu", mu, t);
        if (pred)
            pred[t] = mu;
        if (resid)
            resid[t] = p.error == TSA_STAT_ETS_M ? (y[t] - mu) / mu : y[t] - mu;
        ets_update(&p, l, b, &s[k], y[t]);
        if (++k == p.m)
            k = 0;
    }
    TSA_FAIL_IF(!isfinite(*l) || !isfinite(*b), TSA_ENUMERIC, "ets: the state diverged");
    return TSA_OK;
}

/* ---- admissible region ---------------------------------------------------------- */

/* Whether every root of the monic polynomial c_0 + c_1 z + ... + z^N
 * (coef: N + 1 values, increasing powers) has modulus at most 1 + 1e-10,
 * the tolerance of forecast's admissible(). With deflate, the polynomial has
 * a root at z = 1 (a seasonal model without trend), which is divided out
 * first and accepted. The roots of P(rho w), rho = 1 + 1e-10, must lie
 * strictly inside the unit circle, which the Schur-Cohn step-down recursion
 * decides in O(N^2) (the reflection coefficients of an all-pole filter: all
 * |k| < 1 iff stable; e.g. Proakis & Manolakis, "Digital Signal Processing",
 * sec. 7.3), rather than by computing the roots (O(N^3), the companion
 * matrix's eigenvalues), which cost more than the likelihood. work: (N + 1). */
static int roots_in_unit_disc(const double *coef, size_t N, int deflate, double *work)
{
    double *a = work;
    if (deflate) {
        /* P(z) = (z - 1) Q(z): q_{k-1} = c_k + q_k from q_{N-1} = 1. */
        double q = 1.0;
        a[N - 1] = 1.0;
        for (size_t k = N - 1; k >= 1; k--) {
            q = coef[k] + q;
            a[k - 1] = q;
        }
        N--;
    } else {
        memcpy(a, coef, (N + 1) * sizeof *a);
    }
    /* To the step-down form A(w) = 1 + a_1 w^-1 + ... + a_N w^-N of
     * P(rho w) / rho^N: a_i = c_{N-i} rho^-i, stored in place reversed. */
    const double rinv = 1.0 / (1.0 + 1e-10);
    for (size_t i = 0; i < (N + 1) / 2; i++) {
        double t = a[i];
        a[i] = a[N - i];
        a[N - i] = t;
    }
    double sc = 1.0;
    for (size_t i = 0; i <= N; i++) {
        a[i] *= sc;
        sc *= rinv;
    }
    for (size_t p = N; p >= 1; p--) {
        const double k = a[p];
        if (!(fabs(k) < 1.0))
            return 0;
        const double d = 1.0 - k * k;
        for (size_t i = 1, j = p - 1; i <= j; i++, j--) {
            double ai = a[i], aj = a[j];
            a[i] = (ai - k * aj) / d;
            if (i != j)
                a[j] = (aj - k * ai) / d;
        }
    }
    return 1;
}

/* forecast's admissible() (Hyndman, Akram & Archibald 2008): the linear
 * conditions, then all roots of the characteristic polynomial inside the
 * unit circle. @work (2 (m + 2)) may be NULL to skip the polynomial (used
 * for m > TSA_STAT_ETS_MAX_OPT_M). */
static int admissible_ws(const ets_par *p, int seasonal, double *work)
{
    double phi = p->phi, alpha = p->alpha, beta = p->beta, gamma = p->gamma;
    if (phi < 0.0 || phi > 1.0 + 1e-8)
        return 0;
    if (!seasonal) {
        if (alpha < 1.0 - 1.0 / phi || alpha > 1.0 + 1.0 / phi)
            return 0;
        if (p->trend != TSA_STAT_ETS_N && (beta < alpha * (phi - 1.0) ||
                                           beta > (1.0 + phi) * (2.0 - alpha)))
            return 0;
        return 1;
    }
    const double m = (double)p->m;
    double d = 1.0 - 1.0 / phi - alpha;
    if (gamma < (d > 0.0 ? d : 0.0) || gamma > 1.0 + 1.0 / phi - alpha)
        return 0;
    if (alpha < 1.0 - 1.0 / phi - gamma * (1.0 - m + phi + phi * m) / (2.0 * phi * m))
        return 0;
    if (beta < -(1.0 - phi) * (gamma / m + alpha))
        return 0;
    if (!work)
        return 1;
    /* P(z) = phi (1 - alpha - gamma) + (alpha + beta - alpha phi + gamma - 1) z
     *        + sum_{k=2}^{m-1} (alpha + beta - alpha phi) z^k
     *        + (alpha + beta - phi) z^m + z^{m+1}   (increasing powers). */
    const size_t mm = p->m;
    double *coef = work;
    coef[0] = phi * (1.0 - alpha - gamma);
    coef[1] = alpha + beta - alpha * phi + gamma - 1.0;
    for (size_t k = 2; k < mm; k++)
        coef[k] = alpha + beta - alpha * phi;
    coef[mm] = alpha + beta - phi;
    coef[mm + 1] = 1.0;
    /* Without a trend (beta = 0, phi = 1) P(1) = m beta = 0. */
    return roots_in_unit_disc(coef, mm + 1, p->trend == TSA_STAT_ETS_N, work + mm + 2);
}

int tsa_stat_ets_admissible(const tsa_stat_ets_spec *spec, double alpha, double beta,
                            double gamma, double phi)
{
    ets_par p = par_of(spec, alpha, beta, gamma, phi);
    int seasonal = spec->season != TSA_STAT_ETS_N && p.m > 1;
    if (!seasonal)
        return admissible_ws(&p, 0, NULL);
    double *work = malloc(2 * (p.m + 2) * sizeof *work);
    int ok = work ? admissible_ws(&p, 1, work) : 0;
    free(work);
    return ok;
}

/* ---- starting values ------------------------------------------------------------- */

tsa_status tsa_stat_ets_heuristic_state(const tsa_stat_ets_spec *spec, const double *y, size_t n,
                                        double *l, double *b, double *s)
{
    TSA_FAIL_IF(!spec || !y || !l || !b || !s || n == 0, TSA_EINVAL,
                "ets initial state: NULL or empty input");
    const int seasonal = spec->season != TSA_STAT_ETS_N;
    const size_t m = seasonal ? spec->m : 1;
    const size_t maxn = (2 * m > 10 ? 2 * m : 10) < n ? (2 * m > 10 ? 2 * m : 10) : n;
    double *sa = malloc(maxn * sizeof *sa);
    TSA_FAIL_IF(!sa, TSA_ENOMEM, "ets initial state: out of memory");
    if (seasonal) {
        const int mult = spec->season == TSA_STAT_ETS_M;
        tsa_status rc = tsa_stat_decompose(y, n, m, mult, s);
        if (rc != TSA_OK) {
            free(sa);
            return rc;
        }
        if (mult) {
            /* forecast's initstate keeps indices away from zero. */
            double mean = 0.0;
            for (size_t k = 0; k < m; k++) {
                if (s[k] < 1e-2)
                    s[k] = 1e-2;
                mean += s[k];
            }
            mean /= (double)m;
            for (size_t k = 0; k < m; k++)
                s[k] /= mean;
        }
        for (size_t t = 0; t < maxn; t++)
            sa[t] = mult ? y[t] / s[t % m] : y[t] - s[t % m];
    } else {
        s[0] = spec->season == TSA_STAT_ETS_M ? 1.0 : 0.0;
        memcpy(sa, y, maxn * sizeof *sa);
    }
    if (spec->trend == TSA_STAT_ETS_N || maxn < 2) {
        double mean = 0.0;
        for (size_t t = 0; t < maxn; t++)
            mean += sa[t];
        *l = mean / (double)maxn;
        *b = 0.0;
    } else {
        /* Least squares on x = 1..maxn: the intercept is the level before
         * the first row. */
        double xbar = 0.5 * (double)(maxn + 1), ybar = 0.0, sxy = 0.0, sxx = 0.0;
        for (size_t t = 0; t < maxn; t++)
            ybar += sa[t];
        ybar /= (double)maxn;
        for (size_t t = 0; t < maxn; t++) {
            double dx = (double)(t + 1) - xbar;
            sxy += dx * (sa[t] - ybar);
            sxx += dx * dx;
        }
        *b = sxy / sxx;
        *l = ybar - *b * xbar;
        if (fabs(*l + *b) < 1e-8) {
            *l *= 1.0 + 1e-3;
            *b *= 1.0 - 1e-3;
        }
    }
    free(sa);
    TSA_FAIL_IF(!isfinite(*l) || !isfinite(*b), TSA_ENUMERIC,
                "ets initial state: non-finite level or trend");
    return TSA_OK;
}

/* ---- one candidate by maximum likelihood ------------------------------------------ */

static double logistic(double u) { return 1.0 / (1.0 + exp(-u)); }

static double logit_between(double v, double lo, double hi)
{
    double f = (v - lo) / (hi - lo);
    if (f < 1e-6)
        f = 1e-6;
    if (f > 1.0 - 1e-6)
        f = 1.0 - 1e-6;
    return log(f / (1.0 - f));
}

/* What Nelder-Mead sees: x (d) maps to parameters theta_i = base_i +
 * scale_i x_i, so every coordinate starts at 0 with a unit step. The
 * smoothing parameters are logits on their usual ranges, nested as
 * forecast's check.param requires (beta <= alpha, gamma <= 1 - alpha). */
typedef struct ets_obj {
    const double *y;
    size_t n;
    tsa_stat_ets_spec spec;
    size_t m;            /* ring length (1 without season) */
    int opt_season;      /* m - 1 seasonal states are parameters */
    size_t d;
    size_t i_beta, i_gamma, i_phi, i_l, i_b, i_s; /* SIZE_MAX when absent */
    double *base, *scale; /* (d) */
    const double *s_fixed; /* (m) ring when the seasonal states are fixed */
    double *ring;         /* (m) scratch */
    double *work;         /* (2 (m + 2)) root test, NULL above TSA_STAT_ETS_MAX_OPT_M */
    int poly;             /* whether the objective runs the root test */
} ets_obj;

typedef struct ets_theta {
    double alpha, beta, gamma, phi, l0, b0;
} ets_theta;

/* Decodes x into parameters and the initial ring (obj->ring). */
static void ets_decode(const ets_obj *o, const double *x, ets_theta *th)
{
    const double lo = TSA_STAT_ETS_LOWER, hi = TSA_STAT_ETS_UPPER;
#define TH(i) (o->base[i] + o->scale[i] * x[i])
    th->alpha = lo + (hi - lo) * logistic(TH(0));
    th->beta = 0.0;
    th->gamma = 0.0;
    th->phi = 1.0;
    if (o->i_beta != SIZE_MAX) {
        double top = th->alpha < hi ? th->alpha : hi;
        th->beta = lo + (top - lo) * logistic(TH(o->i_beta));
    }
    if (o->i_gamma != SIZE_MAX) {
        double top = 1.0 - th->alpha < hi ? 1.0 - th->alpha : hi;
        th->gamma = lo + (top - lo) * logistic(TH(o->i_gamma));
    }
    if (o->i_phi != SIZE_MAX)
        th->phi = TSA_STAT_ETS_PHI_LOWER +
                  (TSA_STAT_ETS_PHI_UPPER - TSA_STAT_ETS_PHI_LOWER) * logistic(TH(o->i_phi));
    th->l0 = TH(o->i_l);
    th->b0 = o->i_b != SIZE_MAX ? TH(o->i_b) : 0.0;
    if (o->spec.season == TSA_STAT_ETS_N) {
        o->ring[0] = 0.0;
    } else if (o->opt_season) {
        /* forecast::ets derives the oldest seasonal state from the others so
         * the indices sum to 0 (A) or m (M). */
        double sum = 0.0;
        for (size_t k = 1; k < o->m; k++) {
            o->ring[k] = TH(o->i_s + k - 1);
            sum += o->ring[k];
        }
        o->ring[0] = (o->spec.season == TSA_STAT_ETS_M ? (double)o->m : 0.0) - sum;
    } else {
        memcpy(o->ring, o->s_fixed, o->m * sizeof *o->ring);
    }
#undef TH
}

static double ets_objective(const gsl_vector *v, void *params)
{
    const ets_obj *o = params;
    ets_theta th;
    ets_decode(o, v->data, &th);
    ets_par p = par_of(&o->spec, th.alpha, th.beta, th.gamma, th.phi);
    if (!admissible_ws(&p, o->spec.season != TSA_STAT_ETS_N, o->poly ? o->work : NULL))
        return ETS_PENALTY;
    if (o->spec.season == TSA_STAT_ETS_M)
        for (size_t k = 0; k < o->m; k++)
            if (o->ring[k] < 0.0)
                return ETS_PENALTY;
    double l = th.l0, b = th.b0, sse, sumlog;
    if (ets_run(&p, o->y, o->n, &l, &b, o->ring, &sse, &sumlog) != 0)
        return ETS_PENALTY;
    double v2 = ets_m2loglik(&p, o->n, sse, sumlog);
    return isfinite(v2) ? v2 : ETS_PENALTY;
}

/* A fitted candidate. */
typedef struct ets_fit1 {
    ets_theta th;
    double *ring0;   /* (m) */
    double m2ll;     /* -2 log L */
    size_t iterations;
} ets_fit1;

/* A rough scale of the noise: the RMS of first differences over sqrt 2. */
static double noise_scale(const double *y, size_t n)
{
    double s = 0.0, mean = 0.0;
    for (size_t t = 1; t < n; t++)
        s += (y[t] - y[t - 1]) * (y[t] - y[t - 1]);
    for (size_t t = 0; t < n; t++)
        mean += fabs(y[t]);
    mean /= (double)n;
    double v = n > 1 ? sqrt(s / (double)(n - 1) / 2.0) : 0.0;
    if (!(v > 0.0))
        v = 1e-3 * (mean > 0.0 ? mean : 1.0);
    return v;
}

/* Runs Nelder-Mead from x with the given steps until the simplex is small,
 * the best value has not improved by a relative 1e-10 for a stall window
 * of iterations, or max_iter iterations are spent. */
static tsa_status nm_run(gsl_multimin_fminimizer *mz, gsl_multimin_function *f, gsl_vector *x,
                         gsl_vector *step, size_t max_iter, size_t *used)
{
    int gs = gsl_multimin_fminimizer_set(mz, f, x, step);
    TSA_FAIL_IF(gs != GSL_SUCCESS, TSA_ENUMERIC, "ets: Nelder-Mead could not start (%s)",
                gsl_strerror(gs));
    const size_t stall = 20 * (f->n + 1);
    /* GSL sets the simplex minimum only from the first iterate: start from
     * the objective at the starting point. */
    double best = f->f(x, f->params);
    size_t it = 0, last = 0;
    for (; it < max_iter; it++) {
        gs = gsl_multimin_fminimizer_iterate(mz);
        if (gs != GSL_SUCCESS)
            break; /* no further progress possible; keep the best vertex */
        double fm = gsl_multimin_fminimizer_minimum(mz);
        if (fm < best - 1e-10 * (1.0 + fabs(best))) {
            best = fm;
            last = it;
        } else if (it - last > stall) {
            break;
        }
        if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(mz), 1e-6) == GSL_SUCCESS)
            break;
    }
    *used += it;
    return TSA_OK;
}

/* Nelder-Mead crawls in a dozen or more dimensions once its simplex
 * degenerates; restarting from the best vertex with a fresh simplex every
 * ETS_NM_SEGMENT (d + 1) iterations keeps it moving. Stops when a restart
 * no longer improves the optimum or the budget is spent; x ends at the best
 * point. */
static tsa_status nm_restarts(gsl_multimin_fminimizer *mz, gsl_multimin_function *f,
                              gsl_vector *x, gsl_vector *step, size_t budget, size_t *used)
{
    double prev = f->f(x, f->params);
    size_t spent = 0;
    for (int round = 0; spent < budget; round++) {
        size_t seg = ETS_NM_SEGMENT * (f->n + 1);
        if (seg > budget - spent)
            seg = budget - spent;
        gsl_vector_set_all(step, round == 0 ? 1.0 : 0.5);
        TSA_TRY(nm_run(mz, f, x, step, seg, &spent));
        gsl_vector_memcpy(x, gsl_multimin_fminimizer_x(mz));
        double cur = gsl_multimin_fminimizer_minimum(mz);
        if (round > 0 && !(cur < prev - 1e-8 * (1.0 + fabs(prev))))
            break;
        prev = cur;
    }
    *used += spent;
    return TSA_OK;
}

static tsa_status ets_fit_one(const double *y, size_t n, const tsa_stat_ets_spec *spec,
                              size_t max_iter, ets_fit1 *res)
{
    const int seasonal = spec->season != TSA_STAT_ETS_N;
    const size_t m = seasonal ? spec->m : 1;
    tsa_status rc = TSA_OK;
    ets_obj o;
    memset(&o, 0, sizeof o);
    o.y = y;
    o.n = n;
    o.spec = *spec;
    o.m = m;
    o.opt_season = seasonal && m <= TSA_STAT_ETS_MAX_OPT_M;
    o.i_beta = o.i_gamma = o.i_phi = o.i_b = o.i_s = SIZE_MAX;
    size_t d = 1;
    if (spec->trend != TSA_STAT_ETS_N)
        o.i_beta = d++;
    if (seasonal)
        o.i_gamma = d++;
    if (spec->trend != TSA_STAT_ETS_N && spec->damped)
        o.i_phi = d++;
    o.i_l = d++;
    if (spec->trend != TSA_STAT_ETS_N)
        o.i_b = d++;
    if (o.opt_season) {
        o.i_s = d;
        d += m - 1;
    }
    o.d = d;

    double *heur = malloc(m * sizeof *heur);
    o.base = malloc(d * sizeof *o.base);
    o.scale = malloc(d * sizeof *o.scale);
    o.ring = malloc(m * sizeof *o.ring);
    res->ring0 = malloc(m * sizeof *res->ring0);
    gsl_vector *x = gsl_vector_calloc(d), *step = gsl_vector_alloc(d);
    gsl_multimin_fminimizer *mz = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, d);
    if (seasonal && m <= TSA_STAT_ETS_MAX_OPT_M) {
        o.work = malloc(2 * (m + 2) * sizeof *o.work);
    }
    if (!heur || !o.base || !o.scale || !o.ring || !res->ring0 || !x || !step || !mz ||
        (seasonal && m <= TSA_STAT_ETS_MAX_OPT_M && !o.work)) {
        rc = tsa_error(TSA_ENOMEM, "ets: out of memory fitting a candidate");
        goto done;
    }

    /* Starting values: forecast's initparam and initstate. */
    double l0, b0;
    TSA_CHECK_GOTO(tsa_stat_ets_heuristic_state(spec, y, n, &l0, &b0, heur), rc, done);
    o.s_fixed = heur;
    const double lo = TSA_STAT_ETS_LOWER, hi = TSA_STAT_ETS_UPPER;
    double a0 = lo + 0.2 * (hi - lo) / (double)m;
    o.base[0] = logit_between(a0, lo, hi);
    o.scale[0] = 1.0;
    if (o.i_beta != SIZE_MAX) {
        double top = a0 < hi ? a0 : hi;
        o.base[o.i_beta] = logit_between(lo + 0.1 * (top - lo), lo, top);
        o.scale[o.i_beta] = 1.0;
    }
    if (o.i_gamma != SIZE_MAX) {
        double top = 1.0 - a0 < hi ? 1.0 - a0 : hi;
        o.base[o.i_gamma] = logit_between(lo + 0.05 * (top - lo), lo, top);
        o.scale[o.i_gamma] = 1.0;
    }
    if (o.i_phi != SIZE_MAX) {
        o.base[o.i_phi] = logit_between(
            TSA_STAT_ETS_PHI_LOWER + 0.99 * (TSA_STAT_ETS_PHI_UPPER - TSA_STAT_ETS_PHI_LOWER),
            TSA_STAT_ETS_PHI_LOWER, TSA_STAT_ETS_PHI_UPPER);
        o.scale[o.i_phi] = 1.0;
    }
    /* State steps of the order of the noise: the level is known to about
     * one noise sd, the slope to a tenth of it over the ten rows that set
     * it, the seasonal indices (relative ones for M) to half of it. */
    double noise = noise_scale(y, n);
    o.base[o.i_l] = l0;
    o.scale[o.i_l] = noise;
    if (o.i_b != SIZE_MAX) {
        o.base[o.i_b] = b0;
        o.scale[o.i_b] = 0.1 * noise;
    }
    if (o.opt_season) {
        double rel = spec->season == TSA_STAT_ETS_M ? (fabs(l0) > ETS_TOL ? fabs(l0) : 1.0) : 1.0;
        for (size_t k = 1; k < m; k++) {
            o.base[o.i_s + k - 1] = heur[k];
            o.scale[o.i_s + k - 1] = 0.5 * noise / rel;
        }
    }
    gsl_multimin_function f;
    f.n = d;
    f.f = ets_objective;
    f.params = &o;
    if (ets_objective(x, &o) >= ETS_PENALTY) {
        /* The starting point itself is inadmissible or degenerate. */
        rc = tsa_error(TSA_ENUMERIC, "ets: the starting values are not admissible");
        goto done;
    }
    size_t used = 0;
    const size_t budget = max_iter ? max_iter : ETS_NM_BUDGET;
    TSA_CHECK_GOTO(nm_restarts(mz, &f, x, step, budget, &used), rc, done);
    if (o.work) {
        /* The root test costs more than the likelihood of a few thousand
         * rows and rarely binds inside the usual region, so the search runs
         * on the linear conditions and the optimum is checked afterwards;
         * only when it fails is the search repeated with the full test, so
         * the result is admissible either way. */
        ets_theta th;
        ets_decode(&o, gsl_multimin_fminimizer_x(mz)->data, &th);
        ets_par p = par_of(spec, th.alpha, th.beta, th.gamma, th.phi);
        if (!admissible_ws(&p, 1, o.work)) {
            o.poly = 1;
            gsl_vector_set_zero(x);
            TSA_CHECK_GOTO(nm_restarts(mz, &f, x, step, budget, &used), rc, done);
        }
    }
    const gsl_vector *best = gsl_multimin_fminimizer_x(mz);
    res->m2ll = gsl_multimin_fminimizer_minimum(mz);
    if (!(res->m2ll < ETS_PENALTY)) {
        rc = tsa_error(TSA_ENUMERIC, "ets: no finite likelihood found");
        goto done;
    }
    ets_decode(&o, best->data, &res->th);
    memcpy(res->ring0, o.ring, m * sizeof *o.ring);
    res->iterations = used;
done:
    if (mz)
        gsl_multimin_fminimizer_free(mz);
    if (x)
        gsl_vector_free(x);
    if (step)
        gsl_vector_free(step);
    free(o.work);
    free(o.base);
    free(o.scale);
    free(o.ring);
    free(heur);
    if (rc != TSA_OK) {
        free(res->ring0);
        res->ring0 = NULL;
    }
    return rc;
}

/* ---- assembling a fitted model --------------------------------------------------- */

/* Allocates the rings of @e (2 m values in one block). */
static tsa_status ets_alloc_rings(tsa_stat_ets *e, size_t m)
{
    e->s0 = calloc(2 * m, sizeof *e->s0);
    TSA_FAIL_IF(!e->s0, TSA_ENOMEM, "ets: out of memory");
    e->s = e->s0 + m;
    return TSA_OK;
}

/* Filters the training data from the initial state into the final state and
 * fills sigma2 and the criteria. */
static tsa_status ets_finish(tsa_stat_ets *e, const double *y, size_t n, double sigma2_given)
{
    const size_t m = e->spec.season != TSA_STAT_ETS_N ? e->spec.m : 1;
    ets_par p = par_of(&e->spec, e->alpha, e->beta, e->gamma, e->phi);
    e->l = e->l0;
    e->b = e->b0;
    memcpy(e->s, e->s0, m * sizeof *e->s);
    e->n_train = n;
    e->n_params = tsa_stat_ets_n_params(&e->spec) + 1;
    if (n == 0) {
        e->sigma2 = sigma2_given;
        e->loglik = e->aic = e->aicc = e->bic = NAN;
        return TSA_OK;
    }
    double sse = 0.0, sumlog = 0.0;
    TSA_FAIL_IF(ets_run(&p, y, n, &e->l, &e->b, e->s, &sse, &sumlog) != 0, TSA_ENUMERIC,
                "ets: the fitted model has a degenerate prediction");
    const size_t np = e->n_params - 1;
    e->sigma2 = n > np ? sse / (double)(n - np) : sigma2_given;
    double m2ll = ets_m2loglik(&p, n, sse, sumlog);
    const double k = (double)e->n_params, nn = (double)n;
    e->loglik = -0.5 * m2ll;
    e->aic = m2ll + 2.0 * k;
    e->bic = m2ll + log(nn) * k;
    e->aicc = nn - k - 1.0 > 0.0 ? e->aic + 2.0 * k * (k + 1.0) / (nn - k - 1.0) : INFINITY;
    /* A perfect fit leaves no noise to scale intervals and scores with:
     * keep sigma at least 1e-12 of the data's scale (relative errors for M). */
    double ymax = 0.0;
    for (size_t t = 0; t < n; t++)
        if (fabs(y[t]) > ymax)
            ymax = fabs(y[t]);
    double floor = p.error == TSA_STAT_ETS_A && ymax > 0.0 ? 1e-24 * ymax * ymax : 1e-24;
    if (!(e->sigma2 > floor))
        e->sigma2 = floor;
    TSA_FAIL_IF(!isfinite(e->sigma2), TSA_ENUMERIC, "ets: non-finite residual variance");
    return TSA_OK;
}

tsa_status tsa_stat_ets_init(tsa_stat_ets *out, const tsa_stat_ets_spec *spec, double alpha,
                             double beta, double gamma, double phi, double l0, double b0,
                             const double *s0, const double *y, size_t n, double sigma2)
{
    TSA_FAIL_IF(!out || !spec, TSA_EINVAL, "ets: NULL argument");
    TSA_FAIL_IF(spec->error != TSA_STAT_ETS_A && spec->error != TSA_STAT_ETS_M, TSA_EINVAL,
                "ets: bad error type");
    TSA_FAIL_IF(spec->trend != TSA_STAT_ETS_N && spec->trend != TSA_STAT_ETS_A, TSA_EINVAL,
                "ets: bad trend type");
    TSA_FAIL_IF(spec->season < TSA_STAT_ETS_N || spec->season > TSA_STAT_ETS_M, TSA_EINVAL,
                "ets: bad season type");
    const int seasonal = spec->season != TSA_STAT_ETS_N;
    TSA_FAIL_IF(seasonal && (spec->m < 2 || spec->m > TSA_STAT_ETS_MAX_M || !s0), TSA_EINVAL,
                "ets: a seasonal model needs a period in [2, %d] and initial indices",
                TSA_STAT_ETS_MAX_M);
    TSA_FAIL_IF(n && !y, TSA_EINVAL, "ets: NULL data");
    TSA_FAIL_IF(!(alpha > 0.0) || !isfinite(beta) || !isfinite(gamma) || !(phi > 0.0) ||
                    !isfinite(l0) || !isfinite(b0) || !(sigma2 > 0.0),
                TSA_EINVAL, "ets: bad parameters");
    tsa_stat_ets e;
    memset(&e, 0, sizeof e);
    e.spec = *spec;
    e.spec.m = seasonal ? spec->m : 1;
    e.spec.damped = spec->trend != TSA_STAT_ETS_N && spec->damped;
    const size_t m = e.spec.m;
    TSA_TRY(ets_alloc_rings(&e, m));
    ets_par p = par_of(&e.spec, alpha, beta, gamma, phi);
    e.alpha = p.alpha;
    e.beta = p.beta;
    e.gamma = p.gamma;
    e.phi = p.phi;
    e.l0 = l0;
    e.b0 = spec->trend != TSA_STAT_ETS_N ? b0 : 0.0;
    if (seasonal)
        memcpy(e.s0, s0, m * sizeof *e.s0);
    else
        e.s0[0] = 0.0;
    e.cand = calloc(1, sizeof *e.cand);
    tsa_status rc = e.cand ? ets_finish(&e, y, n, sigma2)
                           : tsa_error(TSA_ENOMEM, "ets: out of memory");
    if (rc != TSA_OK) {
        tsa_stat_ets_free(&e);
        return rc;
    }
    e.n_cand = 1;
    e.cand[0].spec = e.spec;
    e.cand[0].status = TSA_STAT_ETS_FITTED;
    e.cand[0].n_params = e.n_params;
    e.cand[0].loglik = e.loglik;
    e.cand[0].aic = e.aic;
    e.cand[0].aicc = e.aicc;
    e.cand[0].bic = e.bic;
    tsa_stat_ets_free(out);
    *out = e;
    return TSA_OK;
}

/* ---- model selection ------------------------------------------------------------ */

tsa_status tsa_stat_ets_fit(tsa_stat_ets *out, const double *y, size_t n,
                            const tsa_stat_ets_opts *o)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !y || !o, TSA_EINVAL, "ets: NULL argument");
    TSA_FAIL_IF(n == 0, TSA_ETOOSHORT, "ets: empty series");
    for (size_t t = 0; t < n; t++)
        TSA_FAIL_IF(!isfinite(y[t]), TSA_ENONFINITE, "ets: value %zu is not finite", t);
    TSA_FAIL_IF(o->error != TSA_STAT_ETS_AUTO && o->error != TSA_STAT_ETS_A &&
                    o->error != TSA_STAT_ETS_M,
                TSA_EINVAL, "error: must be auto, A or M");
    TSA_FAIL_IF(o->trend != TSA_STAT_ETS_AUTO && o->trend != TSA_STAT_ETS_N &&
                    o->trend != TSA_STAT_ETS_A,
                TSA_EINVAL, "trend: must be auto, N or A");
    TSA_FAIL_IF(o->damped != TSA_STAT_ETS_AUTO && o->damped != 0 && o->damped != 1, TSA_EINVAL,
                "trend: damping must be auto, 0 or 1");
    TSA_FAIL_IF(o->trend == TSA_STAT_ETS_N && o->damped == 1, TSA_EINVAL,
                "trend: a damped trend needs trend A");
    TSA_FAIL_IF(o->season != TSA_STAT_ETS_AUTO && (o->season < TSA_STAT_ETS_N ||
                                                   o->season > TSA_STAT_ETS_M),
                TSA_EINVAL, "season: must be auto, N, A or M");
    TSA_FAIL_IF(o->error == TSA_STAT_ETS_A && o->season == TSA_STAT_ETS_M, TSA_EINVAL,
                "season: additive errors with a multiplicative season are excluded (infinite "
                "forecast variance); use error M");
    const size_t m = o->m > 1 ? o->m : 1;
    if (o->season == TSA_STAT_ETS_A || o->season == TSA_STAT_ETS_M) {
        TSA_FAIL_IF(m < 2, TSA_EINVAL,
                    "season: a seasonal model needs a period >= 2 (none given or detected)");
        TSA_FAIL_IF(m > TSA_STAT_ETS_MAX_M, TSA_EINVAL,
                    "season: seasonal models support periods up to %d, got %zu",
                    TSA_STAT_ETS_MAX_M, m);
        TSA_FAIL_IF(n < 2 * m, TSA_ETOOSHORT,
                    "train: a seasonal model with period %zu needs at least %zu rows, got %zu", m,
                    2 * m, n);
    }
    int positive = 1;
    for (size_t t = 0; t < n; t++)
        positive &= y[t] > 0.0;
    TSA_FAIL_IF(!positive && o->error == TSA_STAT_ETS_M, TSA_EINVAL,
                "error: multiplicative errors need positive data");
    TSA_FAIL_IF(!positive && o->season == TSA_STAT_ETS_M, TSA_EINVAL,
                "season: a multiplicative season needs positive data");

    int errs[2], trends[2], damps[2], seas[3];
    size_t ne = 0, nt = 0, nd = 0, ns = 0;
    if (o->error == TSA_STAT_ETS_AUTO) {
        errs[ne++] = TSA_STAT_ETS_A;
        errs[ne++] = TSA_STAT_ETS_M;
    } else {
        errs[ne++] = o->error;
    }
    if (o->trend == TSA_STAT_ETS_AUTO) {
        trends[nt++] = TSA_STAT_ETS_N;
        trends[nt++] = TSA_STAT_ETS_A;
    } else {
        trends[nt++] = o->trend;
    }
    if (o->season == TSA_STAT_ETS_AUTO) {
        seas[ns++] = TSA_STAT_ETS_N;
        if (m >= 2 && m <= TSA_STAT_ETS_MAX_M && n >= 2 * m) {
            seas[ns++] = TSA_STAT_ETS_A;
            seas[ns++] = TSA_STAT_ETS_M;
        }
    } else {
        seas[ns++] = o->season;
    }
    if (o->damped == TSA_STAT_ETS_AUTO) {
        damps[nd++] = 1;
        damps[nd++] = 0;
    } else {
        damps[nd++] = o->damped;
    }

    tsa_stat_ets_cand *cand = calloc(ETS_MAX_CAND, sizeof *cand);
    TSA_FAIL_IF(!cand, TSA_ENOMEM, "ets: out of memory");
    size_t nc = 0;
    for (size_t i = 0; i < ne; i++)
        for (size_t j = 0; j < nt; j++)
            for (size_t k = 0; k < ns; k++)
                for (size_t q = 0; q < nd; q++) {
                    if (trends[j] == TSA_STAT_ETS_N && damps[q])
                        continue;
                    /* forecast::ets restrict = TRUE. */
                    if (errs[i] == TSA_STAT_ETS_A && seas[k] == TSA_STAT_ETS_M)
                        continue;
                    tsa_stat_ets_cand *c = &cand[nc++];
                    c->spec.error = errs[i];
                    c->spec.trend = trends[j];
                    c->spec.damped = trends[j] != TSA_STAT_ETS_N && damps[q];
                    c->spec.season = seas[k];
                    c->spec.m = seas[k] != TSA_STAT_ETS_N ? m : 1;
                    c->n_params = tsa_stat_ets_n_params(&c->spec) + 1;
                    c->loglik = c->aic = c->aicc = c->bic = NAN;
                    if (!positive && (errs[i] == TSA_STAT_ETS_M || seas[k] == TSA_STAT_ETS_M))
                        c->status = TSA_STAT_ETS_SKIP_POSITIVE;
                    else if (n <= c->n_params - 1 + 4 ||
                             (c->spec.season != TSA_STAT_ETS_N && n < 2 * m))
                        c->status = TSA_STAT_ETS_SKIP_SHORT;
                    else
                        c->status = TSA_STAT_ETS_SKIP_FAILED; /* until fitted */
                }

    tsa_status rc = TSA_OK;
    size_t best = SIZE_MAX, n_short = 0, n_try = 0;
    size_t min_needed = SIZE_MAX;
    ets_fit1 best_fit;
    memset(&best_fit, 0, sizeof best_fit);
    for (size_t i = 0; i < nc && rc == TSA_OK; i++) {
        tsa_stat_ets_cand *c = &cand[i];
        if (c->status == TSA_STAT_ETS_SKIP_SHORT) {
            n_short++;
            size_t need = c->n_params + 4;
            if (c->spec.season != TSA_STAT_ETS_N && need < 2 * m)
                need = 2 * m;
            if (need < min_needed)
                min_needed = need;
        }
        if (c->status == TSA_STAT_ETS_SKIP_FAILED) {
            n_try++;
            ets_fit1 f1;
            memset(&f1, 0, sizeof f1);
            tsa_status r1 = ets_fit_one(y, n, &c->spec, o->max_iter, &f1);
            if (r1 == TSA_ENOMEM) {
                rc = r1;
                break;
            }
            if (r1 == TSA_OK) {
                const double k = (double)c->n_params, nn = (double)n;
                c->status = TSA_STAT_ETS_FITTED;
                c->loglik = -0.5 * f1.m2ll;
                c->aic = f1.m2ll + 2.0 * k;
                c->bic = f1.m2ll + log(nn) * k;
                c->aicc = nn - k - 1.0 > 0.0 ? c->aic + 2.0 * k * (k + 1.0) / (nn - k - 1.0)
                                              : INFINITY;
                if (best == SIZE_MAX || c->aicc < cand[best].aicc) {
                    free(best_fit.ring0);
                    best_fit = f1;
                    best = i;
                } else {
                    free(f1.ring0);
                }
            }
        }
        if (o->progress && rc == TSA_OK)
            rc = o->progress(o->user, i + 1, nc);
    }
    if (rc == TSA_OK && best == SIZE_MAX) {
        if (n_try == 0 && n_short > 0)
            rc = tsa_error(TSA_ETOOSHORT,
                           "train: too short for the requested ETS models: needs at least %zu "
                           "rows, got %zu",
                           min_needed, n);
        else
            rc = tsa_error(TSA_ENUMERIC, "ets: no candidate model reached a finite likelihood");
    }
    tsa_stat_ets e;
    memset(&e, 0, sizeof e);
    if (rc == TSA_OK) {
        e.spec = cand[best].spec;
        rc = ets_alloc_rings(&e, e.spec.m);
    }
    if (rc == TSA_OK) {
        e.alpha = best_fit.th.alpha;
        e.beta = best_fit.th.beta;
        e.gamma = best_fit.th.gamma;
        e.phi = best_fit.th.phi;
        e.l0 = best_fit.th.l0;
        e.b0 = best_fit.th.b0;
        memcpy(e.s0, best_fit.ring0, e.spec.m * sizeof *e.s0);
        e.iterations = best_fit.iterations;
        rc = ets_finish(&e, y, n, 0.0);
    }
    free(best_fit.ring0);
    if (rc != TSA_OK) {
        free(cand);
        tsa_stat_ets_free(&e);
        return rc;
    }
    e.cand = cand;
    e.n_cand = nc;
    tsa_stat_ets_free(out);
    *out = e;
    return TSA_OK;
}

/* ---- forecasts ------------------------------------------------------------------- */

/* The k-th smallest of v (n values), partially reordering v: Hoare
 * selection with a median-of-three pivot, O(n) expected. */
static double select_kth(double *v, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        double a = v[lo], b = v[mid], c = v[hi];
        double pivot = (a < b) ? ((b < c) ? b : (a < c ? c : a)) : ((a < c) ? a : (b < c ? c : b));
        size_t i = lo, j = hi;
        while (i <= j) {
            while (v[i] < pivot)
                i++;
            while (v[j] > pivot)
                j--;
            if (i <= j) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            return v[k];
    }
    return v[k];
}

/* The quantile of level q of v (n values), linear interpolation between
 * order statistics (Hyndman & Fan 1996 type 7). Reorders v. */
static double quantile_of(double *v, size_t n, double q)
{
    double pos = q * (double)(n - 1);
    size_t i = (size_t)floor(pos);
    if (i >= n - 1)
        return select_kth(v, n, n - 1);
    double f = pos - (double)i;
    double a = select_kth(v, n, i);
    /* After selection every value above index i is >= v[i]. */
    double b = v[i + 1];
    for (size_t j = i + 2; j < n; j++)
        if (v[j] < b)
            b = v[j];
    return a + f * (b - a);
}

tsa_status tsa_stat_ets_forecast(const tsa_stat_ets *e, double l, double b, const double *s,
                                 size_t t, size_t horizon, double interval, uint64_t seed,
                                 double *mean, double *lower, double *upper)
{
    TSA_FAIL_IF(!e || !s || !mean || !lower || !upper || e->spec.m == 0, TSA_EINVAL,
                "ets forecast: NULL argument or unfitted model");
    TSA_FAIL_IF(horizon == 0, TSA_ERANGE, "horizon: must be >= 1");
    TSA_FAIL_IF(!(interval > 0.0 && interval < 1.0), TSA_ERANGE,
                "interval: must be in (0, 1), got %g", interval);
    ets_par p = par_of(&e->spec, e->alpha, e->beta, e->gamma, e->phi);
    const size_t m = p.m;
    /* Point forecasts: the recursion with zero errors (forecast's
     * etsforecast): (l + phi_h b) combined with the seasonal index of the
     * step, phi_h = phi + ... + phi^h. */
    double phistar = p.phi, phipow = p.phi;
    for (size_t h = 1; h <= horizon; h++) {
        size_t slot = (size_t)((t + h - 1) % m);
        double q = l + phistar * b;
        mean[h - 1] = p.season == TSA_STAT_ETS_A   ? q + s[slot]
                      : p.season == TSA_STAT_ETS_M ? q * s[slot]
                                                   : q;
        phipow *= p.phi;
        phistar += phipow;
    }
    const double sigma = sqrt(e->sigma2);
    const double z = gsl_cdf_ugaussian_Pinv(0.5 * (1.0 + interval));
    if (p.error == TSA_STAT_ETS_A) {
        /* Class 1 (Hyndman et al. 2008, sec. 6.3): the h-step error is
         * e_{n+h} + sum_{j<h} c_j e_{n+h-j}, c_j = alpha + beta phi_j
         * + gamma [j mod m = 0]. */
        double acc = 0.0, phij = 0.0, pw = 1.0;
        for (size_t h = 1; h <= horizon; h++) {
            double sd = sigma * sqrt(1.0 + acc);
            lower[h - 1] = mean[h - 1] - z * sd;
            upper[h - 1] = mean[h - 1] + z * sd;
            /* c_h, used from step h + 1 on. */
            pw *= p.phi;
            phij += pw;
            double c = p.alpha + p.beta * phij;
            if (p.season != TSA_STAT_ETS_N && h % m == 0)
                c += p.gamma;
            acc += c * c;
        }
        return TSA_OK;
    }
    /* Multiplicative errors: simulated sample paths (forecast's
     * pegelsfcast.C / simulate.ets), stepped together so only the current
     * value of each path is kept. */
    size_t npaths = ETS_NPATHS;
    if (npaths * m > ETS_PATH_VALUES)
        npaths = ETS_PATH_VALUES / m > ETS_MIN_NPATHS ? ETS_PATH_VALUES / m : ETS_MIN_NPATHS;
    double *L = malloc(npaths * sizeof *L), *B = malloc(npaths * sizeof *B);
    double *R = malloc(npaths * m * sizeof *R), *vals = malloc(npaths * sizeof *vals);
    if (!L || !B || !R || !vals) {
        free(L);
        free(B);
        free(R);
        free(vals);
        return tsa_error(TSA_ENOMEM, "ets forecast: out of memory for %zu sample paths", npaths);
    }
    for (size_t i = 0; i < npaths; i++) {
        L[i] = l;
        B[i] = b;
        memcpy(R + i * m, s, m * sizeof *R);
    }
    tsa_rng rng;
    tsa_rng_seed(&rng, seed);
    const double qlo = 0.5 * (1.0 - interval), qhi = 0.5 * (1.0 + interval);
    for (size_t h = 1; h <= horizon; h++) {
        size_t slot = (size_t)((t + h - 1) % m), nv = 0;
        for (size_t i = 0; i < npaths; i++) {
            double *ring = R + i * m;
            double mu = ets_mu(&p, L[i], B[i], ring[slot]);
            double eps = sigma * tsa_rng_normal(&rng);
            double yv = mu * (1.0 + eps);
            if (!isfinite(yv))
                continue; /* a diverged path is dropped, as quantile(na.rm = TRUE) */
            ets_update(&p, &L[i], &B[i], &ring[slot], yv);
            vals[nv++] = yv;
        }
        if (nv < 2) {
            lower[h - 1] = upper[h - 1] = mean[h - 1];
            continue;
        }
        lower[h - 1] = quantile_of(vals, nv, qlo);
        upper[h - 1] = quantile_of(vals, nv, qhi);
    }
    free(L);
    free(B);
    free(R);
    free(vals);
    return TSA_OK;
}

/* ---- persistence ------------------------------------------------------------------ */

static void save_spec(tsa_wbuf *w, const tsa_stat_ets_spec *s)
{
    tsa_wbuf_u8(w, (uint8_t)s->error);
    tsa_wbuf_u8(w, (uint8_t)s->trend);
    tsa_wbuf_u8(w, (uint8_t)s->damped);
    tsa_wbuf_u8(w, (uint8_t)s->season);
    tsa_wbuf_u64(w, s->m);
}

void tsa_stat_ets_save(const tsa_stat_ets *e, tsa_wbuf *w)
{
    if (!e || e->spec.m == 0) {
        w->failed = 1;
        return;
    }
    const size_t m = e->spec.m;
    tsa_wbuf_u32(w, ETS_LAYOUT_VERSION);
    save_spec(w, &e->spec);
    tsa_wbuf_u64(w, e->n_train);
    tsa_wbuf_f64(w, e->alpha);
    tsa_wbuf_f64(w, e->beta);
    tsa_wbuf_f64(w, e->gamma);
    tsa_wbuf_f64(w, e->phi);
    tsa_wbuf_f64(w, e->l0);
    tsa_wbuf_f64(w, e->b0);
    tsa_wbuf_f64s(w, e->s0, m);
    tsa_wbuf_f64(w, e->l);
    tsa_wbuf_f64(w, e->b);
    tsa_wbuf_f64s(w, e->s, m);
    tsa_wbuf_f64(w, e->sigma2);
    tsa_wbuf_u64(w, e->n_params);
    tsa_wbuf_f64(w, e->loglik);
    tsa_wbuf_f64(w, e->aic);
    tsa_wbuf_f64(w, e->aicc);
    tsa_wbuf_f64(w, e->bic);
    tsa_wbuf_u64(w, e->iterations);
    tsa_wbuf_u64(w, e->n_cand);
    for (size_t i = 0; i < e->n_cand; i++) {
        const tsa_stat_ets_cand *c = &e->cand[i];
        save_spec(w, &c->spec);
        tsa_wbuf_u8(w, (uint8_t)c->status);
        tsa_wbuf_u64(w, c->n_params);
        tsa_wbuf_f64(w, c->loglik);
        tsa_wbuf_f64(w, c->aic);
        tsa_wbuf_f64(w, c->aicc);
        tsa_wbuf_f64(w, c->bic);
    }
}

/* Reads and checks a specification. Returns 0 or -1. */
static int load_spec(tsa_rbuf *r, tsa_stat_ets_spec *s)
{
    uint8_t e, t, d, se;
    uint64_t m;
    if (tsa_rbuf_u8(r, &e) || tsa_rbuf_u8(r, &t) || tsa_rbuf_u8(r, &d) || tsa_rbuf_u8(r, &se) ||
        tsa_rbuf_u64(r, &m))
        return -1;
    if ((e != TSA_STAT_ETS_A && e != TSA_STAT_ETS_M) || t > TSA_STAT_ETS_A || d > 1 ||
        (d && t == TSA_STAT_ETS_N) || se > TSA_STAT_ETS_M ||
        (e == TSA_STAT_ETS_A && se == TSA_STAT_ETS_M))
        return -1;
    if (se == TSA_STAT_ETS_N ? m != 1 : (m < 2 || m > TSA_STAT_ETS_MAX_M))
        return -1;
    s->error = e;
    s->trend = t;
    s->damped = d;
    s->season = se;
    s->m = (size_t)m;
    return 0;
}

static int finite_or_nan(double x) { return isfinite(x) || isnan(x); }

tsa_status tsa_stat_ets_load(tsa_stat_ets *out, tsa_rbuf *r)
{
    TSA_FAIL_IF(!out || !r, TSA_EINVAL, "ets: NULL argument");
    tsa_stat_ets e;
    memset(&e, 0, sizeof e);
    uint32_t version;
    uint64_t n_train, n_params, iterations, n_cand;
    tsa_status rc = TSA_OK;
#define LOAD_FAIL(...)                                              \
    do {                                                            \
        rc = tsa_error(TSA_EFORMAT, "ETS state: " __VA_ARGS__);     \
        goto done;                                                  \
    } while (0)
    if (tsa_rbuf_u32(r, &version))
        LOAD_FAIL("truncated header");
    if (version != ETS_LAYOUT_VERSION)
        LOAD_FAIL("unknown layout version %u", (unsigned)version);
    if (load_spec(r, &e.spec))
        LOAD_FAIL("bad model specification");
    const size_t m = e.spec.m;
    if (tsa_rbuf_u64(r, &n_train) || n_train == 0 || n_train > ((uint64_t)1 << 40))
        LOAD_FAIL("bad training length");
    e.n_train = (size_t)n_train;
    if (tsa_rbuf_f64(r, &e.alpha) || tsa_rbuf_f64(r, &e.beta) || tsa_rbuf_f64(r, &e.gamma) ||
        tsa_rbuf_f64(r, &e.phi) || tsa_rbuf_f64(r, &e.l0) || tsa_rbuf_f64(r, &e.b0))
        LOAD_FAIL("truncated parameters");
    if (tsa_rbuf_remaining(r) / 16 < m)
        LOAD_FAIL("truncated seasonal states");
    if (ets_alloc_rings(&e, m) != TSA_OK) {
        rc = TSA_ENOMEM;
        goto done;
    }
    if (tsa_rbuf_f64s(r, e.s0, m) || tsa_rbuf_f64(r, &e.l) || tsa_rbuf_f64(r, &e.b) ||
        tsa_rbuf_f64s(r, e.s, m) || tsa_rbuf_f64(r, &e.sigma2) || tsa_rbuf_u64(r, &n_params) ||
        tsa_rbuf_f64(r, &e.loglik) || tsa_rbuf_f64(r, &e.aic) || tsa_rbuf_f64(r, &e.aicc) ||
        tsa_rbuf_f64(r, &e.bic) || tsa_rbuf_u64(r, &iterations) || tsa_rbuf_u64(r, &n_cand))
        LOAD_FAIL("truncated states");
    /* The saved parameters come from the transforms, so they lie in the
     * usual region; a small slack covers rounding at the bounds. */
    const double eps = 1e-12;
    if (!(e.alpha >= TSA_STAT_ETS_LOWER - eps && e.alpha <= TSA_STAT_ETS_UPPER + eps))
        LOAD_FAIL("alpha %g out of range", e.alpha);
    if (e.spec.trend == TSA_STAT_ETS_N ? e.beta != 0.0
                                       : !(e.beta >= 0.0 && e.beta <= e.alpha + eps))
        LOAD_FAIL("beta %g out of range", e.beta);
    if (e.spec.season == TSA_STAT_ETS_N ? e.gamma != 0.0
                                        : !(e.gamma >= 0.0 && e.gamma <= 1.0 - e.alpha + eps))
        LOAD_FAIL("gamma %g out of range", e.gamma);
    if (e.spec.damped ? !(e.phi > 0.0 && e.phi <= 1.0) : e.phi != 1.0)
        LOAD_FAIL("phi %g out of range", e.phi);
    if (!isfinite(e.l0) || !isfinite(e.b0) || !isfinite(e.l) || !isfinite(e.b) ||
        (e.spec.trend == TSA_STAT_ETS_N && (e.b0 != 0.0 || e.b != 0.0)))
        LOAD_FAIL("bad level or trend state");
    for (size_t k = 0; k < m; k++)
        if (!isfinite(e.s0[k]) || !isfinite(e.s[k]))
            LOAD_FAIL("non-finite seasonal state");
    if (!(e.sigma2 > 0.0) || !isfinite(e.sigma2))
        LOAD_FAIL("bad residual variance");
    if (n_params != tsa_stat_ets_n_params(&e.spec) + 1)
        LOAD_FAIL("parameter count %llu does not match the model", (unsigned long long)n_params);
    e.n_params = (size_t)n_params;
    /* aicc is +Inf when n <= parameters + 1; the others are finite (NaN for
     * a model built without data). */
    if (!finite_or_nan(e.loglik) || !finite_or_nan(e.aic) || !finite_or_nan(e.bic) ||
        e.aicc == -INFINITY)
        LOAD_FAIL("bad criteria");
    if (iterations > ((uint64_t)1 << 40))
        LOAD_FAIL("bad iteration count");
    e.iterations = (size_t)iterations;
    if (n_cand == 0 || n_cand > ETS_MAX_CAND)
        LOAD_FAIL("candidate count %llu out of [1, %d]", (unsigned long long)n_cand,
                  ETS_MAX_CAND);
    e.cand = calloc((size_t)n_cand, sizeof *e.cand);
    if (!e.cand) {
        rc = tsa_error(TSA_ENOMEM, "ETS state: out of memory");
        goto done;
    }
    e.n_cand = (size_t)n_cand;
    int chosen = 0;
    for (size_t i = 0; i < e.n_cand; i++) {
        tsa_stat_ets_cand *c = &e.cand[i];
        uint8_t status;
        uint64_t np;
        if (load_spec(r, &c->spec) || tsa_rbuf_u8(r, &status) || tsa_rbuf_u64(r, &np) ||
            tsa_rbuf_f64(r, &c->loglik) || tsa_rbuf_f64(r, &c->aic) ||
            tsa_rbuf_f64(r, &c->aicc) || tsa_rbuf_f64(r, &c->bic))
            LOAD_FAIL("truncated or bad candidate %zu", i);
        if (status > TSA_STAT_ETS_SKIP_FAILED || np != tsa_stat_ets_n_params(&c->spec) + 1)
            LOAD_FAIL("bad candidate %zu", i);
        c->status = status;
        c->n_params = (size_t)np;
        chosen |= status == TSA_STAT_ETS_FITTED && c->spec.error == e.spec.error &&
                  c->spec.trend == e.spec.trend && c->spec.damped == e.spec.damped &&
                  c->spec.season == e.spec.season && c->spec.m == e.spec.m;
    }
    if (!chosen)
        LOAD_FAIL("the chosen model is not among the fitted candidates");
#undef LOAD_FAIL
done:
    if (rc != TSA_OK) {
        tsa_stat_ets_free(&e);
        return rc;
    }
    tsa_stat_ets_free(out);
    *out = e;
    return TSA_OK;
}
