/* Gaussian hidden Markov models: Baum-Welch, filtering, forecasting,
 * Viterbi decoding and posteriors (see stat/hmm.h).
 *
 * References:
 *   L. R. Rabiner, "A tutorial on hidden Markov models and selected
 *   applications in speech recognition", Proc. IEEE 77(2):257-286, 1989:
 *   forward-backward (eqs. 18-25), Viterbi (eqs. 30-35), re-estimation
 *   (eqs. 37-40, 52-54 for Gaussian mixtures with one component), scaling
 *   (sec. V.A, eqs. 91-94).
 *   D. Arthur and S. Vassilvitskii, "k-means++: the advantages of careful
 *   seeding", SODA 2007: the D^2 seeding of the EM starting points.
 *   G. Schwarz, "Estimating the dimension of a model", Ann. Stat. 6, 1978:
 *   the BIC used to choose the number of states.
 *
 * Numerics. Emission densities are kept as logs; each forward step shifts
 * them by the largest log-density among the states the filter can be in,
 * so the scaled densities are <= 1 and the step normaliser (Rabiner's c_t)
 * cannot underflow to zero however far an observation is from every state.
 * The backward variables are renormalised at every step and gamma / xi are
 * normalised per step, which is Rabiner's scaling with a different (equally
 * valid) choice of per-step constants. Long series (1e5+ steps) are safe. */
#include "stat/hmm.h"

#include <float.h>
#include <gsl/gsl_cdf.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define HMM_LAYOUT_VERSION 1u

/* Lloyd iterations after the k-means++ seeding: the seeding already lands
 * near a good partition, and EM does the rest. */
#define HMM_LLOYD_ITERS 10

/* A state whose expected occupancy is below this keeps its emission
 * parameters through an M-step (its estimate would be noise or 0/0). */
#define HMM_MIN_OCCUPANCY 1e-10

/* Probabilities read or given must sum to 1 within this. */
#define HMM_PROB_TOL 1e-6

/* Forecast state distributions closer than this are taken as converged. */
#define HMM_FORECAST_EPS 1e-15

static const double LOG_2PI = 1.8378770664093454836; /* log(2 pi) */

/* ---- names, options, sizes ---------------------------------------------- */

const char *tsa_stat_hmm_cov_name(tsa_stat_hmm_cov c)
{
    return c == TSA_STAT_HMM_FULL ? "full" : c == TSA_STAT_HMM_DIAG ? "diag" : "?";
}

int tsa_stat_hmm_cov_parse(const char *s, tsa_stat_hmm_cov *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "diag") == 0)
        *out = TSA_STAT_HMM_DIAG;
    else if (strcmp(s, "full") == 0)
        *out = TSA_STAT_HMM_FULL;
    else
        return -1;
    return 0;
}

void tsa_stat_hmm_opts_init(tsa_stat_hmm_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_states = 3;
    o->auto_states = 0;
    o->max_states = 6;
    o->cov = TSA_STAT_HMM_DIAG;
    o->n_init = 3;
    o->max_iter = 200;
    o->tol = 1e-6;
    o->min_covar = 1e-6;
    o->seed = 42;
}

size_t tsa_stat_hmm_n_params(size_t K, size_t d, tsa_stat_hmm_cov cov)
{
    size_t nc = cov == TSA_STAT_HMM_FULL ? K * d * (d + 1) / 2 : K * d;
    return (K - 1) + K * (K - 1) + K * d + nc;
}

size_t tsa_stat_hmm_min_length(size_t K, size_t d) { return 5 * K * d; }

/* Doubles in the covariance block of a (K, d) model. */
static size_t cov_len(size_t K, size_t d, tsa_stat_hmm_cov cov)
{
    return cov == TSA_STAT_HMM_FULL ? K * d * d : K * d;
}

void tsa_stat_hmm_free(tsa_stat_hmm *h)
{
    if (!h)
        return;
    free(h->block);
    free(h->sel);
    memset(h, 0, sizeof *h);
}

/* Allocates the parameter block of a (K, d) model and points the views
 * into it; summary fields are zeroed. */
static tsa_status hmm_alloc(tsa_stat_hmm *h, size_t K, size_t d, tsa_stat_hmm_cov cov)
{
    memset(h, 0, sizeof *h);
    size_t nc = cov_len(K, d, cov);
    size_t n = 2 * d + K + K * K + K * d + 2 * nc + 2 * K;
    double *b = calloc(n, sizeof *b);
    TSA_FAIL_IF(!b, TSA_ENOMEM, "HMM: out of memory for a %zu-state model on %zu features", K, d);
    h->K = K;
    h->d = d;
    h->cov = cov;
    h->block = b;
    h->loc = b;
    h->scale = h->loc + d;
    h->pi = h->scale + d;
    h->A = h->pi + K;
    h->means = h->A + K * K;
    h->covs = h->means + K * d;
    h->fac = h->covs + nc;
    h->lognorm = h->fac + nc;
    h->stat = h->lognorm + K;
    h->loglik = NAN;
    h->bic = NAN;
    return TSA_OK;
}

/* Block length in doubles, for copies between same-shaped models. */
static size_t block_len(const tsa_stat_hmm *h)
{
    size_t nc = cov_len(h->K, h->d, h->cov);
    return 2 * h->d + h->K + h->K * h->K + h->K * h->d + 2 * nc + 2 * h->K;
}

/* fac and lognorm from covs: 1/sd per feature (diag) or the lower Cholesky
 * factor through GSL (full). TSA_ENUMERIC when a covariance is not
 * positive definite. */
static tsa_status prepare_emissions(tsa_stat_hmm *h)
{
    size_t K = h->K, d = h->d;
    for (size_t k = 0; k < K; k++) {
        double logdet = 0.0;
        if (h->cov == TSA_STAT_HMM_DIAG) {
            for (size_t j = 0; j < d; j++) {
                double v = h->covs[k * d + j];
                TSA_FAIL_IF(!(v > 0.0) || !isfinite(v), TSA_ENUMERIC,
                            "HMM: variance %zu of state %zu is not positive (%g)", j, k, v);
                h->fac[k * d + j] = 1.0 / sqrt(v);
                logdet += log(v);
            }
        } else {
            double *L = h->fac + k * d * d;
            memcpy(L, h->covs + k * d * d, d * d * sizeof *L);
            gsl_matrix_view mv = gsl_matrix_view_array(L, d, d);
            int rc = gsl_linalg_cholesky_decomp1(&mv.matrix);
            TSA_FAIL_IF(rc != GSL_SUCCESS, TSA_ENUMERIC,
                        "HMM: covariance of state %zu is not positive definite", k);
            for (size_t r = 0; r < d; r++) {
                double lrr = L[r * d + r];
                TSA_FAIL_IF(!(lrr > 0.0) || !isfinite(lrr), TSA_ENUMERIC,
                            "HMM: covariance of state %zu is not positive definite", k);
                logdet += 2.0 * log(lrr);
                for (size_t c = r + 1; c < d; c++)
                    L[r * d + c] = 0.0;
            }
        }
        h->lognorm[k] = -0.5 * ((double)d * LOG_2PI + logdet);
    }
    return TSA_OK;
}

/* A stationary distribution of A: the rows of lim M^n for the lazy chain
 * M = (I + A) / 2, which has A's stationary distributions and is aperiodic
 * so the limit exists, reached by repeated squaring (2^64 steps);
 * averaging the rows gives the distribution reached from a uniform start
 * (the unique one when A is irreducible). */
static void stationary(tsa_stat_hmm *h)
{
    size_t K = h->K;
    double M[TSA_STAT_HMM_MAX_STATES * TSA_STAT_HMM_MAX_STATES];
    double N[TSA_STAT_HMM_MAX_STATES * TSA_STAT_HMM_MAX_STATES];
    for (size_t i = 0; i < K; i++)
        for (size_t j = 0; j < K; j++)
            M[i * K + j] = 0.5 * h->A[i * K + j] + (i == j ? 0.5 : 0.0);
    for (int s = 0; s < 64; s++) {
        for (size_t i = 0; i < K; i++) {
            double rs = 0.0;
            for (size_t j = 0; j < K; j++) {
                double v = 0.0;
                for (size_t l = 0; l < K; l++)
                    v += M[i * K + l] * M[l * K + j];
                N[i * K + j] = v;
                rs += v;
            }
            for (size_t j = 0; j < K; j++) /* keep rows stochastic against drift */
                N[i * K + j] /= rs;
        }
        memcpy(M, N, K * K * sizeof *M);
    }
    double tot = 0.0;
    for (size_t j = 0; j < K; j++) {
        double v = 0.0;
        for (size_t i = 0; i < K; i++)
            v += M[i * K + j];
        h->stat[j] = v;
        tot += v;
    }
    for (size_t j = 0; j < K; j++)
        h->stat[j] /= tot;
}

static void finish_derived(tsa_stat_hmm *h)
{
    h->log_scale = 0.0;
    for (size_t j = 0; j < h->d; j++)
        h->log_scale += log(h->scale[j]);
    stationary(h);
}

/* ---- densities and the forward step -------------------------------------- */

/* log N(z; mu_k, Sigma_k) for every state into logb (K); w: scratch (d). */
static void emis_logb(const tsa_stat_hmm *h, const double *z, double *logb, double *w)
{
    size_t K = h->K, d = h->d;
    for (size_t k = 0; k < K; k++) {
        const double *mu = h->means + k * d;
        double q = 0.0;
        if (h->cov == TSA_STAT_HMM_DIAG) {
            const double *f = h->fac + k * d;
            for (size_t j = 0; j < d; j++) {
                double e = (z[j] - mu[j]) * f[j];
                q += e * e;
            }
        } else {
            /* (z - mu)' Sigma^{-1} (z - mu) = |L^{-1} (z - mu)|^2. */
            const double *L = h->fac + k * d * d;
            for (size_t r = 0; r < d; r++) {
                double s = z[r] - mu[r];
                for (size_t c = 0; c < r; c++)
                    s -= L[r * d + c] * w[c];
                w[r] = s / L[r * d + r];
                q += w[r] * w[r];
            }
        }
        logb[k] = h->lognorm[k] - 0.5 * q;
    }
}

/* One scaled forward step (Rabiner eqs. 20 and 91-92): @pred (K) is
 * P(s_t | z_0..z_{t-1}); @b holds log-densities on entry and the scaled
 * densities exp(min(logb - m, 0)) on exit, m the largest log-density among
 * states with pred > 0 (so the states the filter can be in are exact and
 * the others, weighted 0 everywhere they appear, stay bounded). Writes the
 * filtered distribution to @alpha and returns log p(z_t | z_0..z_{t-1}). */
static double fwd_step(size_t K, const double *pred, double *b, double *alpha)
{
    double m = -INFINITY;
    for (size_t k = 0; k < K; k++)
        if (pred[k] > 0.0 && b[k] > m)
            m = b[k];
    if (!(m > -INFINITY)) {
        /* Every possible state has zero density (an overflowing distance):
         * no information, keep the prediction. */
        for (size_t k = 0; k < K; k++) {
            b[k] = 0.0;
            alpha[k] = pred[k];
        }
        return -INFINITY;
    }
    double s = 0.0;
    for (size_t k = 0; k < K; k++) {
        b[k] = exp(fmin(b[k] - m, 0.0));
        s += pred[k] * b[k];
    }
    for (size_t k = 0; k < K; k++)
        alpha[k] = pred[k] * b[k] / s;
    return m + log(s);
}

/* pred = alpha A (K). */
static void predict(size_t K, const double *A, const double *alpha, double *pred)
{
    for (size_t j = 0; j < K; j++)
        pred[j] = 0.0;
    for (size_t i = 0; i < K; i++) {
        double a = alpha[i];
        if (a == 0.0)
            continue;
        const double *row = A + i * K;
        for (size_t j = 0; j < K; j++)
            pred[j] += a * row[j];
    }
}

/* The forward pass over standardised @z (T, d) from @init, storing the
 * scaled densities bs (T, K) and filtered distributions alpha (T, K).
 * Scratch: pred (K), w (d). Returns the log-likelihood in standardised
 * units. */
static double forward_all(const tsa_stat_hmm *h, const double *z, size_t T, const double *init,
                          double *bs, double *alpha, double *pred, double *w)
{
    size_t K = h->K, d = h->d;
    double ll = 0.0;
    for (size_t t = 0; t < T; t++) {
        if (t == 0)
            memcpy(pred, init, K * sizeof *pred);
        else
            predict(K, h->A, alpha + (t - 1) * K, pred);
        emis_logb(h, z + t * d, bs + t * K, w);
        ll += fwd_step(K, pred, bs + t * K, alpha + t * K);
    }
    return ll;
}

/* The backward pass (Rabiner eqs. 24-25, 37): turns alpha (T, K) into
 * gamma in place and, when @xi is given, adds sum_t xi_t (K, K) to it.
 * beta is renormalised every step; gamma_t and xi_t are normalised by
 * Z_t = sum_i alpha_t(i) beta_t(i), so the scale constants cancel.
 * Scratch: 3K. */
static tsa_status backward_all(size_t T, size_t K, const double *A, const double *bs,
                               double *ag, double *xi, double *scratch)
{
    double *bn = scratch, *bc = scratch + K, *tmp = scratch + 2 * K;
    for (size_t k = 0; k < K; k++)
        bn[k] = 1.0;
    for (size_t t = T - 1; t-- > 0;) {
        const double *bsn = bs + (t + 1) * K;
        double *a = ag + t * K;
        for (size_t j = 0; j < K; j++)
            tmp[j] = bsn[j] * bn[j];
        double Z = 0.0, bsum = 0.0;
        for (size_t i = 0; i < K; i++) {
            const double *row = A + i * K;
            double s = 0.0;
            for (size_t j = 0; j < K; j++)
                s += row[j] * tmp[j];
            bc[i] = s;
            Z += a[i] * s;
            bsum += s;
        }
        if (!(Z > 0.0) || !isfinite(Z) || !(bsum > 0.0) || !isfinite(bsum))
            return tsa_error(TSA_ENUMERIC, "HMM: backward recursion failed at step %zu", t);
        if (xi) {
            /* xi_t(i, j) = a_i A_ij tmp_j / Z: accumulate the outer product
             * sum_t (a / Z) tmp' and apply A once at the end. */
            for (size_t i = 0; i < K; i++) {
                double ai = a[i] / Z;
                if (ai == 0.0)
                    continue;
                double *x = xi + i * K;
                for (size_t j = 0; j < K; j++)
                    x[j] += ai * tmp[j];
            }
        }
        for (size_t i = 0; i < K; i++) {
            a[i] = a[i] * bc[i] / Z;
            bn[i] = bc[i] / bsum;
        }
    }
    if (xi)
        for (size_t i = 0; i < K * K; i++)
            xi[i] *= A[i];
    return TSA_OK;
}

/* ---- covariance floor ---------------------------------------------------- */

/* Raises the eigenvalues of the symmetric (d, d) matrix @S below @floor to
 * it: the maximiser of the expected complete-data log-likelihood over
 * covariances with eigenvalues >= floor keeps the eigenvectors of the
 * scatter matrix and clamps its eigenvalues, so this M-step is still an
 * ascent step (a generalised EM). Unchanged, bit for bit, when every
 * eigenvalue is above the floor. Scratch: d*d. */
static tsa_status floor_full(double *S, size_t d, double floor, double *scratch)
{
    for (size_t i = 0; i < d * d; i++)
        scratch[i] = S[i];
    for (size_t i = 0; i < d; i++)
        scratch[i * d + i] -= floor;
    gsl_matrix_view tv = gsl_matrix_view_array(scratch, d, d);
    if (gsl_linalg_cholesky_decomp1(&tv.matrix) == GSL_SUCCESS) {
        int ok = 1;
        for (size_t i = 0; i < d; i++)
            ok &= scratch[i * d + i] > 0.0 && isfinite(scratch[i * d + i]);
        if (ok)
            return TSA_OK; /* S - floor I is positive definite */
    }
    gsl_matrix *m = gsl_matrix_alloc(d, d), *V = gsl_matrix_alloc(d, d);
    gsl_vector *ev = gsl_vector_alloc(d);
    gsl_eigen_symmv_workspace *ws = gsl_eigen_symmv_alloc(d);
    tsa_status rc = TSA_OK;
    if (!m || !V || !ev || !ws) {
        rc = tsa_error(TSA_ENOMEM, "HMM: out of memory");
        goto done;
    }
    for (size_t i = 0; i < d; i++)
        for (size_t j = 0; j < d; j++)
            gsl_matrix_set(m, i, j, S[i * d + j]);
    if (gsl_eigen_symmv(m, ev, V, ws) != GSL_SUCCESS) {
        rc = tsa_error(TSA_ENUMERIC, "HMM: eigen-decomposition of a covariance failed");
        goto done;
    }
    for (size_t i = 0; i < d; i++) {
        double lam = gsl_vector_get(ev, i);
        if (!isfinite(lam)) {
            rc = tsa_error(TSA_ENUMERIC, "HMM: non-finite covariance eigenvalue");
            goto done;
        }
        gsl_vector_set(ev, i, lam > floor ? lam : floor);
    }
    for (size_t r = 0; r < d; r++)
        for (size_t c = 0; c <= r; c++) {
            double v = 0.0;
            for (size_t l = 0; l < d; l++)
                v += gsl_matrix_get(V, r, l) * gsl_vector_get(ev, l) * gsl_matrix_get(V, c, l);
            S[r * d + c] = v;
            S[c * d + r] = v;
        }
done:
    gsl_eigen_symmv_free(ws);
    gsl_vector_free(ev);
    gsl_matrix_free(V);
    gsl_matrix_free(m);
    return rc;
}

/* ---- fit workspace ------------------------------------------------------- */

typedef struct hmm_ws {
    size_t T, Kmax, d;
    double *bs;      /* (T, Kmax) scaled densities */
    double *ag;      /* (T, Kmax) alpha, then gamma */
    double *xi;      /* (Kmax, Kmax) */
    double *acc;     /* (Kmax, d [, d]) M-step sums */
    double *nk;      /* (Kmax) occupancies */
    double *scr;     /* 3 Kmax + d + d d */
    double *d2;      /* (T) k-means++ distances */
    unsigned char *lab; /* (T) cluster labels (K <= 20) */
} hmm_ws;

static void ws_free(hmm_ws *w)
{
    free(w->bs);
    free(w->ag);
    free(w->xi);
    free(w->acc);
    free(w->nk);
    free(w->scr);
    free(w->d2);
    free(w->lab);
}

static tsa_status ws_alloc(hmm_ws *w, size_t T, size_t Kmax, size_t d, tsa_stat_hmm_cov cov)
{
    memset(w, 0, sizeof *w);
    w->T = T;
    w->Kmax = Kmax;
    w->d = d;
    w->bs = malloc(T * Kmax * sizeof *w->bs);
    w->ag = malloc(T * Kmax * sizeof *w->ag);
    w->xi = malloc(Kmax * Kmax * sizeof *w->xi);
    w->acc = malloc(cov_len(Kmax, d, cov) * sizeof *w->acc + Kmax * d * sizeof *w->acc);
    w->nk = malloc(Kmax * sizeof *w->nk);
    w->scr = malloc((3 * Kmax + d + d * d) * sizeof *w->scr);
    w->d2 = malloc(T * sizeof *w->d2);
    w->lab = malloc(T);
    if (!w->bs || !w->ag || !w->xi || !w->acc || !w->nk || !w->scr || !w->d2 || !w->lab) {
        ws_free(w);
        return tsa_error(TSA_ENOMEM, "HMM: out of memory for %zu steps and %zu states", T, Kmax);
    }
    return TSA_OK;
}

/* The covariance floor of a run: a variance or eigenvalue below it is
 * raised to it (standardised units). */
static double effective_floor(double min_covar)
{
    return min_covar > TSA_STAT_HMM_MIN_FLOOR ? min_covar : TSA_STAT_HMM_MIN_FLOOR;
}

/* Applies the floor to state k's covariance in h->covs. */
static tsa_status floor_state(tsa_stat_hmm *h, size_t k, double floor, double *scratch)
{
    size_t d = h->d;
    if (h->cov == TSA_STAT_HMM_DIAG) {
        double *v = h->covs + k * d;
        for (size_t j = 0; j < d; j++)
            if (!(v[j] > floor))
                v[j] = floor;
        return TSA_OK;
    }
    return floor_full(h->covs + k * d * d, d, floor, scratch);
}

/* ---- M-step (Rabiner eqs. 40a-c, 53-54) ---------------------------------- */

static tsa_status mstep(tsa_stat_hmm *h, const double *z, size_t T, hmm_ws *w, double floor)
{
    size_t K = h->K, d = h->d;
    const double *g = w->ag;
    double *nk = w->nk, *sum = w->acc, *sc = w->acc + K * d;

    /* pi_i = gamma_0(i); A_ij = sum_t xi_t(i, j) / sum_t gamma_t(i), the
     * denominator taken as the row sum of xi (equal in exact arithmetic). */
    double ps = 0.0;
    for (size_t k = 0; k < K; k++)
        ps += g[k];
    for (size_t k = 0; k < K; k++)
        h->pi[k] = g[k] / ps;
    for (size_t i = 0; i < K; i++) {
        double rs = 0.0;
        for (size_t j = 0; j < K; j++)
            rs += w->xi[i * K + j];
        if (rs > 0.0 && isfinite(rs))
            for (size_t j = 0; j < K; j++)
                h->A[i * K + j] = w->xi[i * K + j] / rs;
    }

    /* Means: sum_t gamma_t(k) z_t / sum_t gamma_t(k). */
    memset(nk, 0, K * sizeof *nk);
    memset(sum, 0, K * d * sizeof *sum);
    for (size_t t = 0; t < T; t++) {
        const double *zt = z + t * d, *gt = g + t * K;
        for (size_t k = 0; k < K; k++) {
            double gk = gt[k];
            if (gk == 0.0)
                continue;
            nk[k] += gk;
            double *s = sum + k * d;
            for (size_t j = 0; j < d; j++)
                s[j] += gk * zt[j];
        }
    }
    for (size_t k = 0; k < K; k++)
        if (nk[k] > HMM_MIN_OCCUPANCY)
            for (size_t j = 0; j < d; j++)
                h->means[k * d + j] = sum[k * d + j] / nk[k];

    /* Covariances about the new means (two-pass, for accuracy). */
    size_t nc = cov_len(K, d, h->cov);
    memset(sc, 0, nc * sizeof *sc);
    double *e = w->scr + 3 * w->Kmax;
    for (size_t t = 0; t < T; t++) {
        const double *zt = z + t * d, *gt = g + t * K;
        for (size_t k = 0; k < K; k++) {
            double gk = gt[k];
            if (gk == 0.0)
                continue;
            const double *mu = h->means + k * d;
            for (size_t j = 0; j < d; j++)
                e[j] = zt[j] - mu[j];
            if (h->cov == TSA_STAT_HMM_DIAG) {
                double *s = sc + k * d;
                for (size_t j = 0; j < d; j++)
                    s[j] += gk * e[j] * e[j];
            } else {
                double *s = sc + k * d * d;
                for (size_t r = 0; r < d; r++) {
                    double ger = gk * e[r];
                    for (size_t c = 0; c <= r; c++)
                        s[r * d + c] += ger * e[c];
                }
            }
        }
    }
    for (size_t k = 0; k < K; k++) {
        if (!(nk[k] > HMM_MIN_OCCUPANCY))
            continue;
        if (h->cov == TSA_STAT_HMM_DIAG) {
            for (size_t j = 0; j < d; j++)
                h->covs[k * d + j] = sc[k * d + j] / nk[k];
        } else {
            double *S = h->covs + k * d * d;
            const double *s = sc + k * d * d;
            for (size_t r = 0; r < d; r++)
                for (size_t c = 0; c <= r; c++) {
                    double v = s[r * d + c] / nk[k];
                    S[r * d + c] = v;
                    S[c * d + r] = v;
                }
        }
        TSA_TRY(floor_state(h, k, floor, e + d));
    }
    return prepare_emissions(h);
}

/* ---- k-means++ initialisation -------------------------------------------- */

static double dist2(const double *a, const double *b, size_t d)
{
    double s = 0.0;
    for (size_t j = 0; j < d; j++) {
        double e = a[j] - b[j];
        s += e * e;
    }
    return s;
}

/* Seeds h's parameters from standardised @z: k-means++ centres (Arthur &
 * Vassilvitskii 2007, D^2 sampling from the model's rng), a few Lloyd
 * iterations, then per-cluster means and covariances (the global one for
 * clusters too small to estimate theirs), transitions from the label
 * sequence with add-one smoothing, and a uniform initial distribution.
 * @gcov is the global covariance of z (diag or full layout of one state). */
static tsa_status kmeans_init(tsa_stat_hmm *h, const double *z, size_t T, hmm_ws *w,
                              tsa_rng *rng, const double *gcov, double floor)
{
    size_t K = h->K, d = h->d;
    double *C = h->means; /* centres live where the means go */
    double *D2 = w->d2;
    unsigned char *lab = w->lab;
    double *nk = w->nk, *sum = w->acc;

    size_t t0 = (size_t)tsa_rng_below(rng, T);
    memcpy(C, z + t0 * d, d * sizeof *C);
    for (size_t t = 0; t < T; t++)
        D2[t] = dist2(z + t * d, C, d);
    for (size_t c = 1; c < K; c++) {
        double tot = 0.0;
        for (size_t t = 0; t < T; t++)
            tot += D2[t];
        size_t pick;
        if (tot > 0.0 && isfinite(tot)) {
            double u = tsa_rng_uniform(rng) * tot, cum = 0.0;
            pick = T - 1;
            for (size_t t = 0; t < T; t++) {
                cum += D2[t];
                if (cum > u && D2[t] > 0.0) {
                    pick = t;
                    break;
                }
            }
        } else {
            pick = (size_t)tsa_rng_below(rng, T); /* fewer distinct points than states */
        }
        memcpy(C + c * d, z + pick * d, d * sizeof *C);
        for (size_t t = 0; t < T; t++) {
            double v = dist2(z + t * d, C + c * d, d);
            if (v < D2[t])
                D2[t] = v;
        }
    }

    for (int it = 0; it < HMM_LLOYD_ITERS; it++) {
        int changed = 0;
        for (size_t t = 0; t < T; t++) {
            size_t best = 0;
            double bd = dist2(z + t * d, C, d);
            for (size_t c = 1; c < K; c++) {
                double v = dist2(z + t * d, C + c * d, d);
                if (v < bd) {
                    bd = v;
                    best = c;
                }
            }
            if (it == 0 || lab[t] != (unsigned char)best)
                changed = 1;
            lab[t] = (unsigned char)best;
        }
        memset(nk, 0, K * sizeof *nk);
        memset(sum, 0, K * d * sizeof *sum);
        for (size_t t = 0; t < T; t++) {
            nk[lab[t]] += 1.0;
            for (size_t j = 0; j < d; j++)
                sum[lab[t] * d + j] += z[t * d + j];
        }
        for (size_t c = 0; c < K; c++)
            if (nk[c] > 0.0) /* an empty cluster keeps its centre */
                for (size_t j = 0; j < d; j++)
                    C[c * d + j] = sum[c * d + j] / nk[c];
        if (!changed)
            break;
    }

    /* Cluster covariances about the centres. */
    size_t nc1 = h->cov == TSA_STAT_HMM_FULL ? d * d : d;
    double *sc = w->acc + K * d;
    memset(sc, 0, K * nc1 * sizeof *sc);
    for (size_t t = 0; t < T; t++) {
        size_t c = lab[t];
        const double *zt = z + t * d, *mu = C + c * d;
        double *s = sc + c * nc1;
        if (h->cov == TSA_STAT_HMM_DIAG) {
            for (size_t j = 0; j < d; j++)
                s[j] += (zt[j] - mu[j]) * (zt[j] - mu[j]);
        } else {
            for (size_t r = 0; r < d; r++)
                for (size_t q = 0; q <= r; q++)
                    s[r * d + q] += (zt[r] - mu[r]) * (zt[q] - mu[q]);
        }
    }
    double *scratch = w->scr + 3 * w->Kmax + d;
    for (size_t c = 0; c < K; c++) {
        double *S = h->covs + c * nc1;
        size_t need = h->cov == TSA_STAT_HMM_FULL ? d + 1 : 2;
        if (nk[c] < (double)need) {
            memcpy(S, gcov, nc1 * sizeof *S);
        } else if (h->cov == TSA_STAT_HMM_DIAG) {
            for (size_t j = 0; j < d; j++)
                S[j] = sc[c * nc1 + j] / nk[c];
        } else {
            for (size_t r = 0; r < d; r++)
                for (size_t q = 0; q <= r; q++) {
                    double v = sc[c * nc1 + r * d + q] / nk[c];
                    S[r * d + q] = v;
                    S[q * d + r] = v;
                }
        }
        TSA_TRY(floor_state(h, c, floor, scratch));
    }

    /* Transitions counted along the label sequence, plus one. */
    for (size_t i = 0; i < K * K; i++)
        h->A[i] = 1.0;
    for (size_t t = 1; t < T; t++)
        h->A[lab[t - 1] * K + lab[t]] += 1.0;
    for (size_t i = 0; i < K; i++) {
        double rs = 0.0;
        for (size_t j = 0; j < K; j++)
            rs += h->A[i * K + j];
        for (size_t j = 0; j < K; j++)
            h->A[i * K + j] /= rs;
        h->pi[i] = 1.0 / (double)K;
    }
    return prepare_emissions(h);
}

/* ---- EM ------------------------------------------------------------------ */

typedef struct em_result {
    double ll;        /* standardised units */
    size_t n_iter;
    int converged;
} em_result;

/* Baum-Welch from h's current parameters. Each iteration is an E-step (the
 * log-likelihood of the current parameters, reported) then, unless the
 * run stops, an M-step; so on return h holds the parameters whose
 * log-likelihood is res->ll. Stops when the gain per time step is below
 * tol (a loss, possible only by rounding, also stops). */
static tsa_status em_run(tsa_stat_hmm *h, const double *z, size_t T, hmm_ws *w,
                         const tsa_stat_hmm_opts *o, size_t restart, double floor,
                         double log_scale, em_result *res)
{
    size_t K = h->K;
    double prev = -INFINITY;
    double *pred = w->scr, *zw = w->scr + 3 * w->Kmax;
    res->converged = 0;
    for (size_t it = 1; it <= o->max_iter; it++) {
        double ll = forward_all(h, z, T, h->pi, w->bs, w->ag, pred, zw);
        TSA_FAIL_IF(!isfinite(ll), TSA_ENUMERIC,
                    "HMM: log-likelihood is not finite at EM iteration %zu", it);
        res->ll = ll;
        res->n_iter = it;
        if (o->progress)
            TSA_TRY(o->progress(o->user, K, restart, it, o->max_iter,
                                ll - (double)T * log_scale));
        if (it > 1 && ll - prev < o->tol * (double)T) {
            res->converged = 1;
            break;
        }
        if (it == o->max_iter)
            break;
        memset(w->xi, 0, K * K * sizeof *w->xi);
        TSA_TRY(backward_all(T, K, h->A, w->bs, w->ag, w->xi, w->scr));
        TSA_TRY(mstep(h, z, T, w, floor));
        prev = ll;
    }
    return TSA_OK;
}

/* The best of n_init EM runs with K states into @best (allocated here). */
static tsa_status fit_k(tsa_stat_hmm *best, size_t K, const double *z, size_t T, size_t d,
                        hmm_ws *w, tsa_rng *rng, const tsa_stat_hmm_opts *o,
                        const double *gcov, double log_scale, em_result *best_res)
{
    double floor = effective_floor(o->min_covar);
    tsa_stat_hmm run;
    TSA_TRY(hmm_alloc(&run, K, d, o->cov));
    tsa_status rc = hmm_alloc(best, K, d, o->cov);
    if (rc != TSA_OK) {
        tsa_stat_hmm_free(&run);
        return rc;
    }
    tsa_status last_fail = TSA_OK;
    int have = 0;
    for (size_t r = 0; r < o->n_init; r++) {
        em_result res;
        rc = kmeans_init(&run, z, T, w, rng, gcov, floor);
        if (rc == TSA_OK)
            rc = em_run(&run, z, T, w, o, r, floor, log_scale, &res);
        if (rc == TSA_ENUMERIC) { /* this start failed; others may not */
            last_fail = rc;
            continue;
        }
        if (rc != TSA_OK)
            goto fail;
        if (!have || res.ll > best_res->ll) {
            memcpy(best->block, run.block, block_len(&run) * sizeof *run.block);
            *best_res = res;
            have = 1;
        }
    }
    if (!have) {
        rc = last_fail;
        goto fail;
    }
    tsa_stat_hmm_free(&run);
    return TSA_OK;
fail:
    tsa_stat_hmm_free(&run);
    tsa_stat_hmm_free(best);
    return rc;
}

/* Orders the states by the mean of feature 0 (stable). */
static void sort_states(tsa_stat_hmm *h)
{
    size_t K = h->K, d = h->d;
    size_t perm[TSA_STAT_HMM_MAX_STATES];
    for (size_t k = 0; k < K; k++)
        perm[k] = k;
    for (size_t i = 1; i < K; i++) {
        size_t p = perm[i], j = i;
        while (j > 0 && h->means[perm[j - 1] * d] > h->means[p * d]) {
            perm[j] = perm[j - 1];
            j--;
        }
        perm[j] = p;
    }
    size_t nc1 = h->cov == TSA_STAT_HMM_FULL ? d * d : d;
    size_t n = K + K * K + K * d + K * nc1;
    double *tmp = malloc(n * sizeof *tmp);
    if (!tmp)
        return; /* the order is cosmetic */
    double *pi = tmp, *A = pi + K, *mu = A + K * K, *cv = mu + K * d;
    for (size_t a = 0; a < K; a++) {
        pi[a] = h->pi[perm[a]];
        for (size_t b = 0; b < K; b++)
            A[a * K + b] = h->A[perm[a] * K + perm[b]];
        memcpy(mu + a * d, h->means + perm[a] * d, d * sizeof *mu);
        memcpy(cv + a * nc1, h->covs + perm[a] * nc1, nc1 * sizeof *cv);
    }
    memcpy(h->pi, pi, K * sizeof *pi);
    memcpy(h->A, A, K * K * sizeof *A);
    memcpy(h->means, mu, K * d * sizeof *mu);
    memcpy(h->covs, cv, K * nc1 * sizeof *cv);
    free(tmp);
}

tsa_status tsa_stat_hmm_fit(tsa_stat_hmm *out, const double *y, size_t T, size_t d,
                            const tsa_stat_hmm_opts *o)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !y || !o, TSA_EINVAL, "HMM: NULL argument");
    TSA_FAIL_IF(d == 0 || d > TSA_STAT_HMM_MAX_FEATURES, TSA_EINVAL,
                "HMM: n_features must be in [1, %d], got %zu", TSA_STAT_HMM_MAX_FEATURES, d);
    TSA_FAIL_IF(o->cov != TSA_STAT_HMM_DIAG && o->cov != TSA_STAT_HMM_FULL, TSA_EINVAL,
                "covariance: unknown type %d", (int)o->cov);
    TSA_FAIL_IF(!o->auto_states && (o->n_states < 1 || o->n_states > TSA_STAT_HMM_MAX_STATES),
                TSA_EINVAL, "n_states: must be in [1, %d], got %zu", TSA_STAT_HMM_MAX_STATES,
                o->n_states);
    TSA_FAIL_IF(o->auto_states && (o->max_states < 1 || o->max_states > TSA_STAT_HMM_MAX_STATES),
                TSA_EINVAL, "max_states: must be in [1, %d], got %zu", TSA_STAT_HMM_MAX_STATES,
                o->max_states);
    TSA_FAIL_IF(o->n_init < 1, TSA_EINVAL, "n_init: must be >= 1, got 0");
    TSA_FAIL_IF(o->max_iter < 1, TSA_EINVAL, "max_iter: must be >= 1, got 0");
    TSA_FAIL_IF(!(o->tol >= 0.0) || !isfinite(o->tol), TSA_EINVAL,
                "tol: must be finite and >= 0, got %g", o->tol);
    TSA_FAIL_IF(!(o->min_covar >= 0.0) || !isfinite(o->min_covar), TSA_EINVAL,
                "min_covar: must be finite and >= 0, got %g", o->min_covar);
    size_t kmin = o->auto_states ? 1 : o->n_states;
    size_t kmax = o->auto_states ? o->max_states : o->n_states;
    size_t need = tsa_stat_hmm_min_length(kmin, d);
    TSA_FAIL_IF(T < need, TSA_ETOOSHORT,
                "HMM: the series has %zu rows; %zu state%s on %zu feature%s need at least %zu",
                T, kmin, kmin == 1 ? "" : "s", d, d == 1 ? "" : "s", need);
    for (size_t i = 0; i < T * d; i++)
        TSA_FAIL_IF(!isfinite(y[i]), TSA_ENONFINITE, "HMM: value at row %zu, column %zu is not finite",
                    i / d, i % d);
    while (kmax > kmin && T < tsa_stat_hmm_min_length(kmax, d))
        kmax--; /* candidates the series cannot support are not tried */

    tsa_status rc = TSA_OK;
    tsa_stat_hmm best, cand;
    memset(&best, 0, sizeof best);
    memset(&cand, 0, sizeof cand);
    hmm_ws w;
    memset(&w, 0, sizeof w);
    size_t nc1 = o->cov == TSA_STAT_HMM_FULL ? d * d : d;
    double *z = malloc(T * d * sizeof *z);
    double *loc = malloc(d * sizeof *loc), *scale = malloc(d * sizeof *scale);
    double *gcov = calloc(nc1, sizeof *gcov);
    double *sel = o->auto_states ? malloc(3 * kmax * sizeof *sel) : NULL;
    if (!z || !loc || !scale || !gcov || (o->auto_states && !sel)) {
        rc = tsa_error(TSA_ENOMEM, "HMM: out of memory for %zu x %zu data", T, d);
        goto done;
    }

    /* Standardise: the floor, the k-means distances and the EM are then
     * free of the data's units. A constant feature keeps scale 1. */
    double log_scale = 0.0;
    for (size_t j = 0; j < d; j++) {
        double mean = 0.0, ss = 0.0;
        for (size_t t = 0; t < T; t++)
            mean += y[t * d + j];
        mean /= (double)T;
        for (size_t t = 0; t < T; t++) {
            double e = y[t * d + j] - mean;
            ss += e * e;
        }
        double sd = sqrt(ss / (double)T);
        loc[j] = mean;
        scale[j] = sd > 1e-12 * fabs(mean) && sd > 0.0 && isfinite(sd) ? sd : 1.0;
        log_scale += log(scale[j]);
    }
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < d; j++)
            z[t * d + j] = (y[t * d + j] - loc[j]) / scale[j];
    for (size_t t = 0; t < T; t++)
        for (size_t r = 0; r < d; r++) {
            if (o->cov == TSA_STAT_HMM_DIAG) {
                gcov[r] += z[t * d + r] * z[t * d + r];
            } else {
                for (size_t c = 0; c <= r; c++)
                    gcov[r * d + c] += z[t * d + r] * z[t * d + c];
            }
        }
    for (size_t r = 0; r < d; r++) {
        if (o->cov == TSA_STAT_HMM_DIAG) {
            gcov[r] /= (double)T;
        } else {
            for (size_t c = 0; c <= r; c++) {
                gcov[r * d + c] /= (double)T;
                gcov[c * d + r] = gcov[r * d + c];
            }
        }
    }

    TSA_CHECK_GOTO(ws_alloc(&w, T, kmax, d, o->cov), rc, done);
    tsa_rng rng;
    tsa_rng_seed(&rng, o->seed);
    em_result best_res = {0, 0, 0};
    double best_bic = INFINITY;
    size_t n_sel = 0;
    for (size_t K = kmin; K <= kmax; K++) {
        em_result res = {0, 0, 0};
        TSA_CHECK_GOTO(fit_k(&cand, K, z, T, d, &w, &rng, o, gcov, log_scale, &res), rc, done);
        double ll = res.ll - (double)T * log_scale;
        double bic = -2.0 * ll + (double)tsa_stat_hmm_n_params(K, d, o->cov) * log((double)T);
        if (sel) {
            sel[3 * n_sel] = (double)K;
            sel[3 * n_sel + 1] = ll;
            sel[3 * n_sel + 2] = bic;
            n_sel++;
        }
        if (best.K == 0 || bic < best_bic) {
            tsa_stat_hmm_free(&best);
            best = cand;
            memset(&cand, 0, sizeof cand);
            best_bic = bic;
            best_res = res;
        } else {
            tsa_stat_hmm_free(&cand);
        }
    }

    sort_states(&best);
    memcpy(best.loc, loc, d * sizeof *loc);
    memcpy(best.scale, scale, d * sizeof *scale);
    TSA_CHECK_GOTO(prepare_emissions(&best), rc, done);
    finish_derived(&best);
    best.loglik = best_res.ll - (double)T * log_scale;
    best.bic = best_bic;
    best.n_iter = best_res.n_iter;
    best.converged = best_res.converged;
    best.n_train = T;
    best.auto_states = o->auto_states != 0;
    best.n_sel = n_sel;
    best.sel = sel;
    sel = NULL;
    *out = best;
    memset(&best, 0, sizeof best);

done:
    tsa_stat_hmm_free(&best);
    tsa_stat_hmm_free(&cand);
    ws_free(&w);
    free(sel);
    free(gcov);
    free(scale);
    free(loc);
    free(z);
    return rc;
}

/* ---- construction from parameters ---------------------------------------- */

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

/* 0 when @p (n) is a probability vector (within HMM_PROB_TOL). */
static int check_prob(const double *p, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (!(p[i] >= 0.0) || !(p[i] <= 1.0 + HMM_PROB_TOL))
            return -1;
        s += p[i];
    }
    return fabs(s - 1.0) <= HMM_PROB_TOL ? 0 : -1;
}

tsa_status tsa_stat_hmm_init(tsa_stat_hmm *out, size_t K, size_t d, tsa_stat_hmm_cov cov,
                             const double *loc, const double *scale, const double *pi,
                             const double *A, const double *means, const double *covs)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !loc || !scale || !pi || !A || !means || !covs, TSA_EINVAL,
                "HMM: NULL argument");
    TSA_FAIL_IF(K < 1 || K > TSA_STAT_HMM_MAX_STATES, TSA_EINVAL,
                "HMM: n_states must be in [1, %d], got %zu", TSA_STAT_HMM_MAX_STATES, K);
    TSA_FAIL_IF(d < 1 || d > TSA_STAT_HMM_MAX_FEATURES, TSA_EINVAL,
                "HMM: n_features must be in [1, %d], got %zu", TSA_STAT_HMM_MAX_FEATURES, d);
    TSA_FAIL_IF(cov != TSA_STAT_HMM_DIAG && cov != TSA_STAT_HMM_FULL, TSA_EINVAL,
                "HMM: unknown covariance type %d", (int)cov);
    TSA_FAIL_IF(!all_finite(loc, d), TSA_EINVAL, "HMM: non-finite location");
    for (size_t j = 0; j < d; j++)
        TSA_FAIL_IF(!(scale[j] > 0.0) || !isfinite(scale[j]), TSA_EINVAL,
                    "HMM: scale %zu must be positive and finite", j);
    TSA_FAIL_IF(check_prob(pi, K) != 0, TSA_EINVAL,
                "HMM: the initial distribution is not a probability vector");
    for (size_t i = 0; i < K; i++)
        TSA_FAIL_IF(check_prob(A + i * K, K) != 0, TSA_EINVAL,
                    "HMM: row %zu of the transition matrix is not a probability vector", i);
    size_t nc = cov_len(K, d, cov);
    TSA_FAIL_IF(!all_finite(means, K * d) || !all_finite(covs, nc), TSA_EINVAL,
                "HMM: non-finite means or covariances");
    if (cov == TSA_STAT_HMM_FULL)
        for (size_t k = 0; k < K; k++)
            for (size_t r = 0; r < d; r++)
                for (size_t c = 0; c < r; c++)
                    TSA_FAIL_IF(covs[k * d * d + r * d + c] != covs[k * d * d + c * d + r],
                                TSA_EINVAL, "HMM: covariance of state %zu is not symmetric", k);
    tsa_stat_hmm h;
    TSA_TRY(hmm_alloc(&h, K, d, cov));
    memcpy(h.loc, loc, d * sizeof *loc);
    memcpy(h.scale, scale, d * sizeof *scale);
    memcpy(h.pi, pi, K * sizeof *pi);
    memcpy(h.A, A, K * K * sizeof *A);
    memcpy(h.means, means, K * d * sizeof *means);
    memcpy(h.covs, covs, nc * sizeof *covs);
    tsa_status rc = prepare_emissions(&h);
    if (rc != TSA_OK) {
        tsa_stat_hmm_free(&h);
        return rc;
    }
    finish_derived(&h);
    *out = h;
    return TSA_OK;
}

void tsa_stat_hmm_state_mean(const tsa_stat_hmm *h, size_t k, double *mean)
{
    for (size_t j = 0; j < h->d; j++)
        mean[j] = h->loc[j] + h->scale[j] * h->means[k * h->d + j];
}

void tsa_stat_hmm_state_cov(const tsa_stat_hmm *h, size_t k, double *cov)
{
    size_t d = h->d;
    for (size_t r = 0; r < d; r++)
        for (size_t c = 0; c < d; c++) {
            double v;
            if (h->cov == TSA_STAT_HMM_DIAG)
                v = r == c ? h->covs[k * d + r] : 0.0;
            else
                v = h->covs[k * d * d + r * d + c];
            cov[r * d + c] = v * (h->scale[r] * h->scale[c]); /* exactly symmetric */
        }
}

/* ---- filtering ----------------------------------------------------------- */

static tsa_status check_fitted(const tsa_stat_hmm *h)
{
    TSA_FAIL_IF(!h || h->K == 0 || !h->block, TSA_EINVAL, "HMM: state not fitted");
    return TSA_OK;
}

static void standardise_row(const tsa_stat_hmm *h, const double *y, double *z)
{
    for (size_t j = 0; j < h->d; j++)
        z[j] = (y[j] - h->loc[j]) / h->scale[j];
}

tsa_status tsa_stat_hmm_filter(const tsa_stat_hmm *h, const double *y, size_t n,
                               const double *init, double *neglogp, double *last,
                               double *loglik)
{
    TSA_TRY(check_fitted(h));
    TSA_FAIL_IF(!y && n > 0, TSA_EINVAL, "HMM: NULL argument");
    size_t K = h->K, d = h->d;
    /* alpha, pred, b (K each), z, w (d each) */
    double *s = malloc((3 * K + 2 * d) * sizeof *s);
    TSA_FAIL_IF(!s, TSA_ENOMEM, "HMM: out of memory");
    double *alpha = s, *pred = s + K, *b = s + 2 * K, *z = s + 3 * K, *w = z + d;
    memcpy(alpha, init ? init : h->stat, K * sizeof *alpha);
    double ll = 0.0;
    for (size_t t = 0; t < n; t++) {
        if (t == 0)
            memcpy(pred, alpha, K * sizeof *pred);
        else
            predict(K, h->A, alpha, pred);
        standardise_row(h, y + t * d, z);
        emis_logb(h, z, b, w);
        double lp = fwd_step(K, pred, b, alpha) - h->log_scale;
        ll += lp;
        if (neglogp)
            neglogp[t] = -lp;
    }
    if (last)
        memcpy(last, alpha, K * sizeof *alpha);
    if (loglik)
        *loglik = ll;
    free(s);
    return TSA_OK;
}

/* The leave-one-out density by one forward and one backward pass: with
 * pred_t = P(s_t | y_<t) (the filter's prediction) and beta_t(k) =
 * p(y_>t | s_t = k) (renormalised each step), y_t is independent of the
 * rest given s_t, so
 *   p(y_t | y_-t) = sum_k pred_t(k) beta_t(k) N(y_t; k) / sum_k pred_t(k) beta_t(k).
 * At the last step beta = 1 and this is the filter's one-step density. */
tsa_status tsa_stat_hmm_loo(const tsa_stat_hmm *h, const double *y, size_t n,
                            const double *init, double *neglogp, double *cmean)
{
    TSA_TRY(check_fitted(h));
    TSA_FAIL_IF((!y || !neglogp) && n > 0, TSA_EINVAL, "HMM: NULL argument");
    if (n == 0)
        return TSA_OK;
    size_t K = h->K, d = h->d;
    TSA_FAIL_IF(n > SIZE_MAX / (2 * K * sizeof(double)) - 4, TSA_ENOMEM,
                "HMM: out of memory for %zu rows", n);
    /* pred, logb (n, K) each; alpha, beta, next, b (K each); z, w (d each) */
    double *s = malloc((2 * n * K + 4 * K + 2 * d) * sizeof *s);
    TSA_FAIL_IF(!s, TSA_ENOMEM, "HMM: out of memory for %zu rows", n);
    double *pred = s, *logb = pred + n * K, *alpha = logb + n * K, *beta = alpha + K;
    double *next = beta + K, *b = next + K, *z = b + K, *w = z + d;
    memcpy(alpha, init ? init : h->stat, K * sizeof *alpha);
    for (size_t t = 0; t < n; t++) {
        double *p = pred + t * K;
        if (t == 0)
            memcpy(p, alpha, K * sizeof *p);
        else
            predict(K, h->A, alpha, p);
        standardise_row(h, y + t * d, z);
        emis_logb(h, z, logb + t * K, w);
        memcpy(b, logb + t * K, K * sizeof *b);
        fwd_step(K, p, b, alpha);
    }
    for (size_t k = 0; k < K; k++)
        beta[k] = 1.0;
    for (size_t t = n; t-- > 0;) {
        const double *p = pred + t * K, *lb = logb + t * K;
        double m = -INFINITY;
        for (size_t k = 0; k < K; k++)
            if (p[k] * beta[k] > 0.0 && lb[k] > m)
                m = lb[k];
        double num = 0.0, den = 0.0;
        for (size_t k = 0; k < K; k++) {
            const double wk = p[k] * beta[k];
            den += wk;
            num += wk > 0.0 ? wk * exp(lb[k] - m) : 0.0;
        }
        /* No state both reachable and consistent with the future: no
         * finite density (as the filter's -log p = +Inf). */
        neglogp[t] = m > -INFINITY && den > 0.0 ? -(m + log(num / den)) + h->log_scale
                                                 : INFINITY;
        if (cmean) {
            /* E[y_t | y_-t] = sum_k P(s_t = k | y_-t) mu_k (data units). */
            double *c = cmean + t * d;
            for (size_t j = 0; j < d; j++) {
                double v = 0.0;
                for (size_t k = 0; k < K; k++)
                    v += (den > 0.0 ? p[k] * beta[k] / den : h->stat[k]) * h->means[k * d + j];
                c[j] = h->loc[j] + h->scale[j] * v;
            }
        }
        if (t == 0)
            break;
        /* beta_{t-1}(i) = sum_j A_ij N(y_t; j) beta_t(j), scaled by exp(-M)
         * and renormalised (only ratios matter). */
        double M = -INFINITY;
        for (size_t k = 0; k < K; k++)
            if (lb[k] > M)
                M = lb[k];
        for (size_t j = 0; j < K; j++)
            b[j] = M > -INFINITY ? exp(lb[j] - M) * beta[j] : beta[j];
        double sum = 0.0;
        for (size_t i = 0; i < K; i++) {
            const double *row = h->A + i * K;
            double v = 0.0;
            for (size_t j = 0; j < K; j++)
                v += row[j] * b[j];
            next[i] = v;
            sum += v;
        }
        for (size_t i = 0; i < K; i++)
            beta[i] = sum > 0.0 && isfinite(sum) ? next[i] / sum : 1.0;
    }
    free(s);
    return TSA_OK;
}

/* Mahalanobis radius (squared, chi-square with d degrees of freedom) whose
 * tail probability is that of 5 standard deviations in one dimension. */
#define HMM_OUTLIER_TAIL 5.733031438470704e-7

double tsa_stat_hmm_outlier_cut(const tsa_stat_hmm *h)
{
    double top = -INFINITY;
    for (size_t k = 0; k < h->K; k++)
        top = fmax(top, h->lognorm[k]);
    return -top + 0.5 * gsl_cdf_chisq_Qinv(HMM_OUTLIER_TAIL, (double)h->d) + h->log_scale;
}

/* ---- forecasting --------------------------------------------------------- */

/* The quantile of the Gaussian mixture sum_k w_k N(mu_k, sd_k^2) with lower
 * tail @a (upper = 0) or upper tail @a (upper = 1). The mixture CDF is a
 * weighted mean of the component CDFs, so the root lies between the
 * smallest and largest component quantiles (@zq: the standard normal
 * quantile of that tail); bisection to the last representable midpoint.
 * The upper tail is solved on the survival function for accuracy. */
static double mix_quantile(size_t K, const double *wt, const double *mu, const double *sd,
                           double a, double zq, int upper)
{
    double lo = INFINITY, hi = -INFINITY;
    for (size_t k = 0; k < K; k++) {
        if (!(wt[k] > 0.0))
            continue;
        double x = mu[k] + sd[k] * zq;
        lo = fmin(lo, x);
        hi = fmax(hi, x);
    }
    for (int it = 0; it < 2000; it++) {
        double mid = lo + 0.5 * (hi - lo);
        if (!(mid > lo && mid < hi))
            break;
        double f = 0.0;
        for (size_t k = 0; k < K; k++) {
            if (!(wt[k] > 0.0))
                continue;
            double u = (mid - mu[k]) / sd[k];
            f += wt[k] * (upper ? gsl_cdf_ugaussian_Q(u) : gsl_cdf_ugaussian_P(u));
        }
        if (upper ? f > a : f < a)
            lo = mid;
        else
            hi = mid;
    }
    return lo + 0.5 * (hi - lo);
}

tsa_status tsa_stat_hmm_forecast_from(const tsa_stat_hmm *h, const double *p0, size_t horizon,
                                      double interval, double *mean, double *lower,
                                      double *upper)
{
    tsa_gsl_init();
    TSA_TRY(check_fitted(h));
    TSA_FAIL_IF(!p0 || !mean || !lower || !upper, TSA_EINVAL, "HMM: NULL argument");
    TSA_FAIL_IF(horizon == 0, TSA_ERANGE, "horizon: must be >= 1, got 0");
    TSA_FAIL_IF(!(interval > 0.0 && interval < 1.0), TSA_ERANGE,
                "interval: must be in (0, 1), got %g", interval);
    size_t K = h->K, d = h->d;
    double a = 0.5 * (1.0 - interval);
    double zl = gsl_cdf_ugaussian_Pinv(a), zu = gsl_cdf_ugaussian_Qinv(a);
    /* p, q (K), then per feature mu (K), sd (K) for every feature. */
    double *s = malloc((2 * K + 2 * K * d) * sizeof *s);
    TSA_FAIL_IF(!s, TSA_ENOMEM, "HMM: out of memory for a %zu-step forecast", horizon);
    double *p = s, *q = s + K, *mu = s + 2 * K, *sd = mu + K * d;
    for (size_t j = 0; j < d; j++)
        for (size_t k = 0; k < K; k++) {
            mu[j * K + k] = h->means[k * d + j];
            double v = h->cov == TSA_STAT_HMM_DIAG ? h->covs[k * d + j]
                                                   : h->covs[k * d * d + j * d + j];
            sd[j * K + k] = sqrt(v);
        }
    memcpy(p, p0, K * sizeof *p);
    int frozen = 0;
    for (size_t hh = 0; hh < horizon; hh++) {
        double *mrow = mean + hh * d, *lrow = lower + hh * d, *urow = upper + hh * d;
        if (!frozen) {
            predict(K, h->A, p, q);
            double diff = 0.0;
            for (size_t k = 0; k < K; k++)
                diff = fmax(diff, fabs(q[k] - p[k]));
            memcpy(p, q, K * sizeof *p);
            frozen = hh > 0 && diff <= HMM_FORECAST_EPS;
        }
        if (frozen) {
            memcpy(mrow, mrow - d, d * sizeof *mrow);
            memcpy(lrow, lrow - d, d * sizeof *lrow);
            memcpy(urow, urow - d, d * sizeof *urow);
            continue;
        }
        for (size_t j = 0; j < d; j++) {
            const double *mj = mu + j * K, *sj = sd + j * K;
            double m = 0.0;
            for (size_t k = 0; k < K; k++)
                m += p[k] * mj[k];
            double lo = mix_quantile(K, p, mj, sj, a, zl, 0);
            double hi = mix_quantile(K, p, mj, sj, a, zu, 1);
            mrow[j] = h->loc[j] + h->scale[j] * m;
            lrow[j] = h->loc[j] + h->scale[j] * lo;
            urow[j] = h->loc[j] + h->scale[j] * hi;
        }
    }
    free(s);
    return TSA_OK;
}

tsa_status tsa_stat_hmm_forecast(const tsa_stat_hmm *h, const double *hist, size_t n_hist,
                                 size_t horizon, double interval, double *mean, double *lower,
                                 double *upper)
{
    TSA_TRY(check_fitted(h));
    TSA_FAIL_IF(!hist, TSA_EINVAL, "HMM: NULL argument");
    TSA_FAIL_IF(n_hist < 1, TSA_ETOOSHORT, "HMM: the history is empty");
    double p0[TSA_STAT_HMM_MAX_STATES];
    TSA_TRY(tsa_stat_hmm_filter(h, hist, n_hist, NULL, NULL, p0, NULL));
    return tsa_stat_hmm_forecast_from(h, p0, horizon, interval, mean, lower, upper);
}

/* ---- decoding ------------------------------------------------------------ */

tsa_status tsa_stat_hmm_viterbi(const tsa_stat_hmm *h, const double *y, size_t n,
                                const double *init, size_t *path, double *logprob)
{
    TSA_TRY(check_fitted(h));
    TSA_FAIL_IF(!y || !path || n == 0, TSA_EINVAL, "HMM: NULL argument or empty series");
    size_t K = h->K, d = h->d;
    double *s = malloc((K * K + 3 * K + 2 * d) * sizeof *s);
    unsigned char *back = malloc(n * K);
    if (!s || !back) {
        free(s);
        free(back);
        return tsa_error(TSA_ENOMEM, "HMM: out of memory decoding %zu steps", n);
    }
    double *logA = s, *delta = logA + K * K, *nd = delta + K, *lb = nd + K, *z = lb + K,
           *w = z + d;
    /* log 0 = -inf marks impossible moves, which max() then never takes. */
    for (size_t i = 0; i < K * K; i++)
        logA[i] = log(h->A[i]);
    const double *p0 = init ? init : h->stat;
    standardise_row(h, y, z);
    emis_logb(h, z, lb, w);
    for (size_t k = 0; k < K; k++)
        delta[k] = log(p0[k]) + lb[k];
    for (size_t t = 1; t < n; t++) {
        standardise_row(h, y + t * d, z);
        emis_logb(h, z, lb, w);
        for (size_t j = 0; j < K; j++) {
            double best = -INFINITY;
            size_t arg = 0;
            for (size_t i = 0; i < K; i++) {
                double v = delta[i] + logA[i * K + j];
                if (v > best) {
                    best = v;
                    arg = i;
                }
            }
            nd[j] = best + lb[j];
            back[t * K + j] = (unsigned char)arg;
        }
        memcpy(delta, nd, K * sizeof *delta);
    }
    size_t arg = 0;
    for (size_t k = 1; k < K; k++)
        if (delta[k] > delta[arg])
            arg = k;
    if (logprob)
        *logprob = delta[arg] - (double)n * h->log_scale;
    path[n - 1] = arg;
    for (size_t t = n - 1; t > 0; t--)
        path[t - 1] = back[t * K + path[t]];
    free(back);
    free(s);
    return TSA_OK;
}

tsa_status tsa_stat_hmm_posteriors(const tsa_stat_hmm *h, const double *y, size_t n,
                                   const double *init, double *gamma, double *loglik)
{
    TSA_TRY(check_fitted(h));
    TSA_FAIL_IF(!y || !gamma || n == 0, TSA_EINVAL, "HMM: NULL argument or empty series");
    size_t K = h->K, d = h->d;
    double *z = malloc(n * d * sizeof *z);
    double *bs = malloc(n * K * sizeof *bs);
    double *s = malloc((4 * K + d) * sizeof *s);
    tsa_status rc = TSA_OK;
    if (!z || !bs || !s) {
        rc = tsa_error(TSA_ENOMEM, "HMM: out of memory for %zu steps", n);
        goto done;
    }
    for (size_t t = 0; t < n; t++)
        standardise_row(h, y + t * d, z + t * d);
    double ll = forward_all(h, z, n, init ? init : h->stat, bs, gamma, s, s + 4 * K);
    if (!isfinite(ll)) {
        rc = tsa_error(TSA_ENUMERIC, "HMM: the series has zero likelihood under the model");
        goto done;
    }
    TSA_CHECK_GOTO(backward_all(n, K, h->A, bs, gamma, NULL, s + K), rc, done);
    if (loglik)
        *loglik = ll - (double)n * h->log_scale;
done:
    free(s);
    free(bs);
    free(z);
    return rc;
}

/* ---- persistence --------------------------------------------------------- */

void tsa_stat_hmm_save(const tsa_stat_hmm *h, tsa_wbuf *w)
{
    if (!h || h->K == 0) {
        w->failed = 1;
        return;
    }
    size_t K = h->K, d = h->d;
    tsa_wbuf_u32(w, HMM_LAYOUT_VERSION);
    tsa_wbuf_u64(w, K);
    tsa_wbuf_u64(w, d);
    tsa_wbuf_u8(w, (uint8_t)h->cov);
    tsa_wbuf_f64s(w, h->loc, d);
    tsa_wbuf_f64s(w, h->scale, d);
    tsa_wbuf_f64s(w, h->pi, K);
    tsa_wbuf_f64s(w, h->A, K * K);
    tsa_wbuf_f64s(w, h->means, K * d);
    tsa_wbuf_f64s(w, h->covs, cov_len(K, d, h->cov));
    tsa_wbuf_f64(w, h->loglik);
    tsa_wbuf_f64(w, h->bic);
    tsa_wbuf_u64(w, h->n_iter);
    tsa_wbuf_u8(w, (uint8_t)(h->converged != 0));
    tsa_wbuf_u64(w, h->n_train);
    tsa_wbuf_u8(w, (uint8_t)(h->auto_states != 0));
    tsa_wbuf_u64(w, h->n_sel);
    tsa_wbuf_f64s(w, h->sel, 3 * h->n_sel);
}

#define LOAD_FAIL(...)                                            \
    do {                                                          \
        rc = tsa_error(TSA_EFORMAT, "HMM state: " __VA_ARGS__);  \
        goto done;                                                \
    } while (0)

tsa_status tsa_stat_hmm_load(tsa_stat_hmm *out, size_t d_expected, tsa_rbuf *r)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !r, TSA_EINVAL, "HMM: NULL argument");
    tsa_status rc = TSA_OK;
    double *arr = NULL, *sel = NULL;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    uint32_t version;
    uint64_t K, d, n_iter, n_train, n_sel;
    uint8_t cov, conv, autos;
    double ll, bic;

    if (tsa_rbuf_u32(r, &version) || tsa_rbuf_u64(r, &K) || tsa_rbuf_u64(r, &d) ||
        tsa_rbuf_u8(r, &cov))
        LOAD_FAIL("truncated header");
    if (version != HMM_LAYOUT_VERSION)
        LOAD_FAIL("unknown layout version %u", (unsigned)version);
    if (K < 1 || K > TSA_STAT_HMM_MAX_STATES)
        LOAD_FAIL("%llu states, must be in [1, %d]", (unsigned long long)K,
                  TSA_STAT_HMM_MAX_STATES);
    if (d != d_expected || d < 1 || d > TSA_STAT_HMM_MAX_FEATURES)
        LOAD_FAIL("%llu features, the model has %zu", (unsigned long long)d, d_expected);
    if (cov > TSA_STAT_HMM_FULL)
        LOAD_FAIL("unknown covariance code %u", (unsigned)cov);
    /* K <= 20 and d <= 1000: these sizes cannot overflow. */
    size_t nK = (size_t)K, nd = (size_t)d, nc = cov_len(nK, nd, (tsa_stat_hmm_cov)cov);
    size_t n = 2 * nd + nK + nK * nK + nK * nd + nc;
    if (tsa_rbuf_f64s_alloc(r, n, &arr))
        LOAD_FAIL("truncated parameters");
    if (tsa_rbuf_f64(r, &ll) || tsa_rbuf_f64(r, &bic) || tsa_rbuf_u64(r, &n_iter) ||
        tsa_rbuf_u8(r, &conv) || tsa_rbuf_u64(r, &n_train) || tsa_rbuf_u8(r, &autos) ||
        tsa_rbuf_u64(r, &n_sel))
        LOAD_FAIL("truncated summary");
    if (conv > 1 || autos > 1)
        LOAD_FAIL("bad flags");
    if (n_train < 1 || n_train > (uint64_t)SIZE_MAX)
        LOAD_FAIL("bad training length %llu", (unsigned long long)n_train);
    if (n_iter > UINT32_MAX)
        LOAD_FAIL("bad iteration count");
    if (autos ? (n_sel < K || n_sel > TSA_STAT_HMM_MAX_STATES) : n_sel != 0)
        LOAD_FAIL("bad selection table size %llu", (unsigned long long)n_sel);
    if (n_sel && tsa_rbuf_f64s_alloc(r, (size_t)(3 * n_sel), &sel))
        LOAD_FAIL("truncated selection table");
    for (size_t i = 0; i < (size_t)n_sel; i++)
        if (sel[3 * i] != (double)(i + 1) || !isfinite(sel[3 * i + 1]) ||
            !isfinite(sel[3 * i + 2]))
            LOAD_FAIL("bad selection table row %zu", i);

    const double *loc = arr, *scale = loc + nd, *pi = scale + nd, *A = pi + nK,
                 *means = A + nK * nK, *covs = means + nK * nd;
    rc = tsa_stat_hmm_init(&h, nK, nd, (tsa_stat_hmm_cov)cov, loc, scale, pi, A, means, covs);
    if (rc == TSA_ENOMEM)
        goto done;
    if (rc != TSA_OK) {
        char why[256]; /* the message buffer is about to be rewritten */
        snprintf(why, sizeof why, "%s", tsa_last_error());
        LOAD_FAIL("inconsistent parameters (%s)", why);
    }
    h.loglik = ll;
    h.bic = bic;
    h.n_iter = (size_t)n_iter;
    h.converged = conv;
    h.n_train = (size_t)n_train;
    h.auto_states = autos;
    h.n_sel = (size_t)n_sel;
    h.sel = sel;
    sel = NULL;
    *out = h;
    memset(&h, 0, sizeof h);

done:
    tsa_stat_hmm_free(&h);
    free(arr);
    free(sel);
    return rc;
}
