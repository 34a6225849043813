/* Gaussian hidden Markov models in double precision.
 *
 *   s_t | s_{t-1} ~ A[s_{t-1}, .],   s_0 ~ pi,
 *   y_t | s_t = k ~ N(mu_k, Sigma_k)   (Sigma_k diagonal or full)
 *
 * Estimation is Baum-Welch EM with the scaled forward-backward recursions
 * of Rabiner, "A tutorial on hidden Markov models and selected applications
 * in speech recognition", Proc. IEEE 77(2), 1989 (sec. III.C and V.A);
 * decoding is the Viterbi algorithm in the log domain (Rabiner sec. III.B).
 * Every EM run starts from k-means++ seeding (Arthur & Vassilvitskii, "k-means++:
 * the advantages of careful seeding", SODA 2007) refined by a few Lloyd
 * iterations; n_init runs from different seeds are made and the one with
 * the largest log-likelihood is kept. The number of states can be chosen by
 * BIC (Schwarz 1978) over 1..max_states.
 *
 * Data are row-major (T, d): y[t * d + j] is feature j at time t. The model
 * works on per-feature z-scores z = (y - loc) / scale (loc, scale: the
 * training mean and standard deviation; scale 1 for a constant feature), so
 * the stored means and covariances are in standardised units; the accessors
 * and log-likelihoods are in the data's own units.
 *
 * States are ordered by the mean of feature 0 (ascending) after a fit.
 *
 * A fitted tsa_stat_hmm is read-only for filter, forecast, viterbi,
 * posteriors and save, which keep their scratch per call, so any number of
 * threads may use one at once.
 */
#ifndef TSA_STAT_HMM_H
#define TSA_STAT_HMM_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

#include "core/buf.h"

/* Emission covariance structure. */
typedef enum tsa_stat_hmm_cov {
    TSA_STAT_HMM_DIAG = 0,
    TSA_STAT_HMM_FULL = 1
} tsa_stat_hmm_cov;

/* Upper bounds that fit accepts and load enforces. */
#define TSA_STAT_HMM_MAX_STATES 20
#define TSA_STAT_HMM_MAX_FEATURES 1000

/* The variance floor actually used is max(min_covar, this), so that no
 * emission density can become degenerate. */
#define TSA_STAT_HMM_MIN_FLOOR 1e-12

/* Called after the E-step of every EM iteration with the log-likelihood
 * (data units) of the current parameters: @n_states of the model being
 * fitted, @restart in [0, n_init), @iter in [1, max_iter]. Within one run
 * the values never decrease (up to rounding). A non-OK return (e.g.
 * TSA_ECANCELED, message already set) stops the fit and is returned by
 * tsa_stat_hmm_fit. */
typedef tsa_status (*tsa_stat_hmm_progress_fn)(void *user, size_t n_states, size_t restart,
                                               size_t iter, size_t max_iter, double loglik);

typedef struct tsa_stat_hmm_opts {
    size_t n_states;        /* K in [1, TSA_STAT_HMM_MAX_STATES] (ignored when auto_states) */
    int auto_states;        /* choose K by BIC over 1..max_states */
    size_t max_states;      /* in [1, TSA_STAT_HMM_MAX_STATES] */
    tsa_stat_hmm_cov cov;
    size_t n_init;          /* EM runs per K, >= 1 */
    size_t max_iter;        /* EM iterations (E-steps) per run, >= 1 */
    double tol;             /* stop when the log-likelihood per time step gains < tol */
    double min_covar;       /* variance floor in standardised units (>= 0) */
    uint64_t seed;          /* seeds the k-means++ draws */
    tsa_stat_hmm_progress_fn progress; /* may be NULL */
    void *user;
} tsa_stat_hmm_opts;

/* Defaults: 3 states, no selection (max_states 6), diag, n_init 3,
 * max_iter 200, tol 1e-6, min_covar 1e-6, seed 42, no progress. */
void tsa_stat_hmm_opts_init(tsa_stat_hmm_opts *o);

/* The fitted state. One owned block holds every parameter array; the views
 * below point into it. */
typedef struct tsa_stat_hmm {
    size_t K;               /* states, >= 1; 0 means "not fitted" */
    size_t d;               /* features */
    tsa_stat_hmm_cov cov;
    double *loc, *scale;    /* (d), (d): z = (y - loc) / scale, scale > 0 */
    double *pi;             /* (K) initial distribution */
    double *A;              /* (K, K) row-stochastic: A[i * K + j] = P(s_t = j | s_{t-1} = i) */
    double *means;          /* (K, d) standardised */
    double *covs;           /* diag: (K, d) variances; full: (K, d, d), standardised */
    /* Derived on fit and load: */
    double *fac;            /* diag: (K, d) 1 / sd; full: (K, d, d) lower Cholesky factors */
    double *lognorm;        /* (K) -(d log(2 pi) + log det Sigma_k) / 2 */
    double *stat;           /* (K) a stationary distribution of A */
    double log_scale;       /* sum_j log scale_j */
    double *block;
    /* Fit summary: */
    double loglik;          /* log-likelihood of the training series, data units */
    double bic;             /* -2 loglik + n_params log n_train */
    size_t n_iter;          /* E-steps of the kept EM run */
    int converged;          /* whether the kept run met tol before max_iter */
    size_t n_train;
    /* State-count selection (n_sel = 0 without auto_states): rows
     * (n_states, loglik, bic) for n_states = 1 .. n_sel. */
    int auto_states;
    size_t n_sel;
    double *sel;            /* (n_sel, 3) */
} tsa_stat_hmm;

/* The number of free parameters of a K-state model on d features:
 * (K - 1) + K (K - 1) + K d + (diag ? K d : K d (d + 1) / 2). */
size_t tsa_stat_hmm_n_params(size_t K, size_t d, tsa_stat_hmm_cov cov);

/* The smallest training length fit accepts for K states on d features:
 * 5 K d (a few observations per state and feature). */
size_t tsa_stat_hmm_min_length(size_t K, size_t d);

/* Fits an HMM to @y (T, d) (see the top of the file). @out must be zeroed
 * or freed; it is written only on success. Returns TSA_OK, TSA_EINVAL (bad
 * sizes/options), TSA_ENONFINITE, TSA_ETOOSHORT (the message gives the rows
 * needed), TSA_ENUMERIC (every EM run failed), TSA_ENOMEM, or what progress
 * returned. */
tsa_status tsa_stat_hmm_fit(tsa_stat_hmm *out, const double *y, size_t T, size_t d,
                            const tsa_stat_hmm_opts *opts);

/* Builds a state from given parameters (tests, loading): @loc, @scale (d),
 * @pi (K), @A (K, K), standardised @means (K, d) and @covs (layout above),
 * all copied and checked (probabilities non-negative summing to 1 within
 * 1e-6, then renormalised; positive scale and variances; full covariances
 * symmetric positive definite). Fit summary fields are zero / NaN.
 * Returns TSA_OK, TSA_EINVAL (bad values; the message says which),
 * TSA_ENUMERIC (a covariance not positive definite) or TSA_ENOMEM. */
tsa_status tsa_stat_hmm_init(tsa_stat_hmm *out, size_t K, size_t d, tsa_stat_hmm_cov cov,
                             const double *loc, const double *scale, const double *pi,
                             const double *A, const double *means, const double *covs);

/* Releases the arrays and zeroes @h. Accepts NULL and zeroed states. */
void tsa_stat_hmm_free(tsa_stat_hmm *h);

/* State @k's mean (d) and covariance (d, d) in data units. */
void tsa_stat_hmm_state_mean(const tsa_stat_hmm *h, size_t k, double *mean);
void tsa_stat_hmm_state_cov(const tsa_stat_hmm *h, size_t k, double *cov);

/* The forward filter over @y (n, d) from the initial distribution @init (K)
 * or, when NULL, the stationary distribution (right for a window that does
 * not start the process). Outputs, each optional:
 *   neglogp (n): -log p(y_t | y_0..y_{t-1}) in data units (for t = 0 the
 *                initial mixture), the online anomaly score;
 *   last (K):    P(s_{n-1} | y_0..y_{n-1}), the filtered distribution;
 *   loglik:      log p(y_0..y_{n-1}).
 * Returns TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_hmm_filter(const tsa_stat_hmm *h, const double *y, size_t n,
                               const double *init, double *neglogp, double *last,
                               double *loglik);

/* The leave-one-out anomaly score over @y (n, d): neglogp (n) =
 * -log p(y_t | every other row of y) in data units, from the forward
 * filter's predictions and the backward probabilities of the rows after t
 * (the initial distribution as tsa_stat_hmm_filter). Unlike the online
 * score, a single-step excursion into another state's range is judged by
 * what follows: a regime switch that persists scores as the switch it is,
 * a spike that returns scores as an outlier. The last row has no future
 * and gets the online score. cmean (n, d), optional: E[y_t | y_-t], the
 * mixture mean under the same state weights. O(n K^2) time, O(n K)
 * memory. Returns
 * TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_hmm_loo(const tsa_stat_hmm *h, const double *y, size_t n,
                            const double *init, double *neglogp, double *cmean);

/* The outlier cutoff of the robust fit, a leave-one-out score (data units):
 * a row scoring above it has a density below that of a point at the
 * 5-sigma Mahalanobis radius (the chi-square radius of the same tail mass,
 * 5.7e-7, in d dimensions) of the most concentrated state, so it is that
 * far from every state it could be in given its neighbours. */
double tsa_stat_hmm_outlier_cut(const tsa_stat_hmm *h);

/* Forecasts @horizon steps from the filtered distribution @p0 (K) of the
 * last observed step: the state distribution h steps ahead is p0 A^h, the
 * point forecast the mixture mean sum_k p_h(k) mu_k, and [lower, upper] the
 * exact (1 -+ interval) / 2 quantiles of each feature's marginal Gaussian
 * mixture, found by bisection of its CDF. mean, lower, upper: (horizon, d)
 * caller buffers. Once p_h stops changing (max change <= 1e-15) the later
 * steps repeat the last one. Returns TSA_OK, TSA_EINVAL, TSA_ERANGE or
 * TSA_ENOMEM. */
tsa_status tsa_stat_hmm_forecast_from(const tsa_stat_hmm *h, const double *p0, size_t horizon,
                                      double interval, double *mean, double *lower,
                                      double *upper);

/* tsa_stat_hmm_filter over @hist (n_hist >= 1, stationary start), then
 * tsa_stat_hmm_forecast_from. */
tsa_status tsa_stat_hmm_forecast(const tsa_stat_hmm *h, const double *hist, size_t n_hist,
                                 size_t horizon, double interval, double *mean, double *lower,
                                 double *upper);

/* The most likely state path of @y (n, d) (Viterbi, log domain) from @init
 * (K, or NULL: stationary) into @path (n); @logprob (optional) gets
 * log p(path, y) in data units. Returns TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_hmm_viterbi(const tsa_stat_hmm *h, const double *y, size_t n,
                                const double *init, size_t *path, double *logprob);

/* Posterior state probabilities gamma (n, K), gamma[t * K + k] =
 * P(s_t = k | y_0..y_{n-1}), by the scaled forward-backward recursions from
 * @init (K, or NULL: stationary); @loglik optional. Returns TSA_OK,
 * TSA_EINVAL, TSA_ENUMERIC or TSA_ENOMEM. */
tsa_status tsa_stat_hmm_posteriors(const tsa_stat_hmm *h, const double *y, size_t n,
                                   const double *init, double *gamma, double *loglik);

/* Appends the fitted state to @w (check w->failed once at the end):
 *   u32 layout version (1), u64 K, u64 d, u8 cov,
 *   f64[d] loc, f64[d] scale, f64[K] pi, f64[K K] A, f64[K d] means,
 *   f64[K d or K d d] covs, f64 loglik, f64 bic, u64 n_iter, u8 converged,
 *   u64 n_train, u8 auto_states, u64 n_sel, f64[3 n_sel] sel.
 * The derived arrays are recomputed on load. */
void tsa_stat_hmm_save(const tsa_stat_hmm *h, tsa_wbuf *w);

/* Reads what tsa_stat_hmm_save wrote into @out (zeroed or freed), checking
 * every field: layout version, d == @d_expected, K and n_sel in range,
 * covariance code, probabilities, positive scales and variances, full
 * covariances positive definite, the selection table. Returns TSA_OK,
 * TSA_EFORMAT (anything missing or inconsistent; nothing is read past the
 * buffer) or TSA_ENOMEM; @out is written only on success. */
tsa_status tsa_stat_hmm_load(tsa_stat_hmm *out, size_t d_expected, tsa_rbuf *r);

/* "diag" / "full"; parse returns 0 on success, -1 for an unknown name. */
const char *tsa_stat_hmm_cov_name(tsa_stat_hmm_cov c);
int tsa_stat_hmm_cov_parse(const char *s, tsa_stat_hmm_cov *out);

#endif
