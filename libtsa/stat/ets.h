/* Exponential smoothing state space models, ETS(error, trend, season)
 * (Hyndman, Koehler, Snyder & Grose 2002, "A state space framework for
 * automatic forecasting using exponential smoothing methods", IJF 18(3);
 * Hyndman, Koehler, Ord & Snyder 2008, "Forecasting with Exponential
 * Smoothing: the State Space Approach", Springer; R forecast::ets).
 *
 * Components: error A or M; trend N, A or damped A (Ad); season N, A or M.
 * With one-step prediction mu_t (for y_t) from the state (l, b, s) before t,
 *   mu_t = (l + phi b) [+ s_{t-m} | * s_{t-m}],
 *   e_t  = y_t - mu_t (A error)  or  (y_t - mu_t) / mu_t (M error),
 * and the states follow the error-correction recursions of Hyndman et al.
 * (2008) Table 2.3, which are the same for both error types:
 *   q = l + phi b,  p = y - s | y / s | y,
 *   l' = q + alpha (p - q),
 *   b' = phi b + (beta / alpha) (l' - l - phi b),
 *   s' = s + gamma (y - q - s) | s + gamma (y / q - s).
 * (The filter evaluates l' = (1 - alpha) q + alpha p and b' = phi b +
 * beta (p - q), the same values up to rounding with a shorter chain of
 * dependent operations per step.)
 *
 * Estimation maximises the Gaussian likelihood (2008, ch. 5):
 *   -2 log L = n log(2 pi SSE / n) + n [+ 2 sum log |mu_t| for M error],
 * SSE over e_t, with Nelder-Mead (GSL nmsimplex2) over the smoothing
 * parameters and the initial states. The smoothing parameters are mapped
 * from unbounded values onto R's "usual" region (1e-4 <= beta <= alpha <=
 * 0.9999, 1e-4 <= gamma <= 1 - alpha, 0.8 <= phi <= 0.98) by logistic
 * transforms, and points outside the admissible (forecastable) region of
 * Hyndman, Akram & Archibald (2008) get a prohibitive objective, as
 * forecast::ets does with bounds = "both". Starting values follow
 * forecast::ets's initparam/initstate. Candidates are compared by AICc.
 *
 * Seasonal states are kept as a ring: s[k] is the seasonal index of the
 * observations t with t mod m == k, t counted from the state's origin
 * (t = 0 is the first observation filtered from it); after t observations
 * the prediction for step h uses s[(t + h - 1) mod m].
 *
 * A fitted tsa_stat_ets is read-only for forecast, filter and save, which
 * keep scratch memory per call.
 */
#ifndef TSA_STAT_ETS_H
#define TSA_STAT_ETS_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

#include "core/buf.h"

/* Component codes (error uses A and M, trend N and A, season all three). */
enum { TSA_STAT_ETS_N = 0, TSA_STAT_ETS_A = 1, TSA_STAT_ETS_M = 2 };
/* "auto" in the options. */
#define TSA_STAT_ETS_AUTO (-1)

/* Largest seasonal period a seasonal model accepts. */
#define TSA_STAT_ETS_MAX_M 1000
/* Up to this period the m - 1 free initial seasonal states are optimised
 * with the rest; beyond it (where forecast::ets refuses seasonal models) they
 * stay at their decomposition estimates, which keeps Nelder-Mead small. */
#define TSA_STAT_ETS_MAX_OPT_M 24

/* Bounds of the "usual" region (forecast::ets defaults). */
#define TSA_STAT_ETS_LOWER 1e-4
#define TSA_STAT_ETS_UPPER 0.9999
#define TSA_STAT_ETS_PHI_LOWER 0.8
#define TSA_STAT_ETS_PHI_UPPER 0.98

/* A model specification. */
typedef struct tsa_stat_ets_spec {
    int error;   /* A or M */
    int trend;   /* N or A */
    int damped;  /* 0 or 1; 1 only with trend A */
    int season;  /* N, A or M */
    size_t m;    /* seasonal period; 1 when season is N */
} tsa_stat_ets_spec;

/* Why a candidate has no fit. */
enum {
    TSA_STAT_ETS_FITTED = 0,
    TSA_STAT_ETS_SKIP_SHORT = 1,    /* n <= parameters + 4 */
    TSA_STAT_ETS_SKIP_POSITIVE = 2, /* multiplicative component, data not all positive */
    TSA_STAT_ETS_SKIP_FAILED = 3    /* no finite likelihood found */
};

/* One row of the model-selection table. */
typedef struct tsa_stat_ets_cand {
    tsa_stat_ets_spec spec;
    int status;      /* TSA_STAT_ETS_FITTED or a skip reason */
    size_t n_params; /* estimated parameters + 1 for sigma (forecast::ets's np + 1) */
    double loglik, aic, aicc, bic; /* NaN when not fitted */
} tsa_stat_ets_cand;

/* Called once per candidate (step 1 .. total); a non-OK return (message
 * set) stops the fit and is returned by tsa_stat_ets_fit. */
typedef tsa_status (*tsa_stat_ets_progress_fn)(void *user, size_t step, size_t total);

typedef struct tsa_stat_ets_opts {
    int error;    /* TSA_STAT_ETS_AUTO, A or M */
    int trend;    /* TSA_STAT_ETS_AUTO, N or A */
    int damped;   /* TSA_STAT_ETS_AUTO, 0 or 1 (with trend A or auto) */
    int season;   /* TSA_STAT_ETS_AUTO, N, A or M */
    size_t m;     /* seasonal period (<= 1: no seasonal candidates) */
    size_t max_iter; /* Nelder-Mead iterations per candidate (0: 2000, forecast::ets's maxit) */
    tsa_stat_ets_progress_fn progress;
    void *user;
} tsa_stat_ets_opts;

/* All automatic, m = 1, default iterations, no progress. */
void tsa_stat_ets_opts_init(tsa_stat_ets_opts *o);

/* The fitted model. Arrays are owned (one malloc'd block behind s0) and
 * released by tsa_stat_ets_free. */
typedef struct tsa_stat_ets {
    tsa_stat_ets_spec spec;   /* spec.m == 0 means "not fitted" */
    double alpha, beta, gamma, phi; /* beta = 0 without trend, gamma = 0 without
                                       season, phi = 1 unless damped */
    size_t n_train;
    double l0, b0;            /* initial level and trend (b0 = 0 without trend) */
    double *s0;               /* (m) initial seasonal ring (m = 1, value 0 or 1, without season) */
    double l, b;              /* state after the training series */
    double *s;                /* (m) seasonal ring after the training series (origin: t = 0
                                 at the first training row) */
    double sigma2;            /* SSE / (n - estimated parameters), forecast::ets's sigma2 */
    size_t n_params;          /* estimated parameters + 1 (sigma) */
    double loglik, aic, aicc, bic;
    size_t iterations;        /* Nelder-Mead iterations of the chosen model */
    size_t n_cand;            /* candidates tried (>= 1) */
    tsa_stat_ets_cand *cand;  /* (n_cand) */
} tsa_stat_ets;

/* The number of parameters a fit estimates for @spec, sigma excluded:
 * smoothing parameters, l0, b0 and m - 1 free initial seasonal states. */
size_t tsa_stat_ets_n_params(const tsa_stat_ets_spec *spec);

/* Fits every admissible candidate allowed by @o to y (n values) and keeps
 * the one with the smallest AICc (forecast::ets's search with restrict =
 * TRUE and no multiplicative trend: additive errors never meet a
 * multiplicative season; multiplicative components only for positive data).
 * @out must be zeroed or freed; it is written only on success.
 * Returns TSA_OK, TSA_EINVAL (bad options, or a multiplicative component
 * asked for explicitly on data that are not all positive), TSA_ETOOSHORT
 * (no candidate has enough data: n > parameters + 4, and n >= 2m for
 * seasonal ones), TSA_ENUMERIC (no candidate reached a finite likelihood),
 * TSA_ENOMEM or what progress returned. */
tsa_status tsa_stat_ets_fit(tsa_stat_ets *out, const double *y, size_t n,
                            const tsa_stat_ets_opts *o);

/* Builds a model from given parameters and initial states (tests): copies
 * s0 (m values; may be NULL without season) and filters y (n values, n may
 * be 0) to set the final state, sigma2 (or uses @sigma2 when n <= n_params)
 * and the likelihood. Returns TSA_OK, TSA_EINVAL, TSA_ENUMERIC, TSA_ENOMEM. */
tsa_status tsa_stat_ets_init(tsa_stat_ets *out, const tsa_stat_ets_spec *spec, double alpha,
                             double beta, double gamma, double phi, double l0, double b0,
                             const double *s0, const double *y, size_t n, double sigma2);

/* Releases the arrays and zeroes @e. Accepts NULL and zeroed models. */
void tsa_stat_ets_free(tsa_stat_ets *e);

/* "ETS(A,Ad,M)" into buf (at least 16 bytes). */
void tsa_stat_ets_name(const tsa_stat_ets_spec *spec, char *buf, size_t len);

/* Whether the smoothing parameters lie in the admissible region of
 * Hyndman, Akram & Archibald (2008) (forecast's admissible()); seasonal
 * models test that the roots of the characteristic polynomial of degree
 * m + 1 lie within 1 + 1e-10 of the unit circle (Schur-Cohn recursion). */
int tsa_stat_ets_admissible(const tsa_stat_ets_spec *spec, double alpha, double beta,
                            double gamma, double phi);

/* The number of leading rows a history needs: the heuristic initial state
 * reads max(10, 2m) rows (forecast's initstate), capped at n_train. */
size_t tsa_stat_ets_context(const tsa_stat_ets *e);

/* Whether @e has a multiplicative component (then histories must be
 * positive). */
int tsa_stat_ets_needs_positive(const tsa_stat_ets *e);

/* forecast::ets's heuristic initial state from the first n rows of y
 * (n >= 2m for seasonal models): the classical decomposition for the
 * seasonal ring, then the mean (no trend) or a least-squares line (trend)
 * of the first max(10, 2m) seasonally adjusted values for l and b.
 * s: (m) output ring. Returns TSA_OK, TSA_ETOOSHORT, TSA_ENUMERIC, TSA_ENOMEM. */
tsa_status tsa_stat_ets_heuristic_state(const tsa_stat_ets_spec *spec, const double *y, size_t n,
                                        double *l, double *b, double *s);

/* Runs the recursions over y (n values) from the state (*l, *b, s) whose
 * ring has phase t0 (observations filtered since its origin), updating the
 * state in place. pred / resid (n) receive mu_t and e_t when non-NULL.
 * Returns TSA_OK or TSA_ENUMERIC (a non-finite or, with multiplicative
 * error, non-positive prediction; the message names the row). */
tsa_status tsa_stat_ets_filter(const tsa_stat_ets *e, const double *y, size_t n, double *l,
                               double *b, double *s, size_t t0, double *pred, double *resid);

/* Forecasts @horizon steps from the state (l, b, s) after t observations
 * (ring phase t): mean by the recursion with zero errors; the interval of
 * central coverage @interval is mean +- z sqrt(v_h) for additive-error
 * models, v_h = sigma2 (1 + sum_{j<h} c_j^2), c_j = w' F^{j-1} g (Hyndman
 * et al. 2008, ch. 6, class 1), and otherwise the empirical quantiles of
 * simulated sample paths with Gaussian errors, drawn from a generator
 * seeded with @seed (same seed, same interval). mean, lower, upper:
 * (horizon) caller buffers. Returns TSA_OK, TSA_EINVAL, TSA_ERANGE or
 * TSA_ENOMEM. */
tsa_status tsa_stat_ets_forecast(const tsa_stat_ets *e, double l, double b, const double *s,
                                 size_t t, size_t horizon, double interval, uint64_t seed,
                                 double *mean, double *lower, double *upper);

/* Appends the fitted model to @w (check w->failed once at the end):
 *   u32 layout (1), u8 error, u8 trend, u8 damped, u8 season, u64 m,
 *   u64 n_train, f64 alpha, beta, gamma, phi, l0, b0, f64[m] s0,
 *   f64 l, b, f64[m] s, f64 sigma2, u64 n_params, f64 loglik, aic, aicc,
 *   bic, u64 iterations, u64 n_cand, then per candidate: u8 error, u8 trend,
 *   u8 damped, u8 season, u64 m, u8 status, u64 n_params, f64 loglik, aic,
 *   aicc, bic. */
void tsa_stat_ets_save(const tsa_stat_ets *e, tsa_wbuf *w);

/* Reads what tsa_stat_ets_save wrote into @out (zeroed or freed) and checks
 * every field (codes, m <= TSA_STAT_ETS_MAX_M, n_train, parameters in their
 * region, finite states, positive sigma2, candidate count <= 64).
 * Returns TSA_OK, TSA_EFORMAT or TSA_ENOMEM; @out is written only on success. */
tsa_status tsa_stat_ets_load(tsa_stat_ets *out, tsa_rbuf *r);

#endif
