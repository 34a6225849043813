/* Vector autoregression VAR(p) in double precision on GSL.
 *
 *   y_t = c + d * tau_t + A_1 y_{t-1} + ... + A_p y_{t-p} + u_t,
 *   u_t ~ N(0, Sigma_u)
 *
 * Estimation, order selection, forecasts and forecast MSE matrices follow
 * Lütkepohl, "New Introduction to Multiple Time Series Analysis" (2005),
 * sections 2.2.2 (forecasts), 3.2 (multivariate LS) and 4.3 (order
 * selection criteria), and reproduce statsmodels' VAR.select_order /
 * VAR.fit(maxlags, ic=...) / VARResults.forecast_interval.
 *
 * Data are row-major (T, k): y[t * k + j] is feature j at time t.
 *
 * Time index of the linear trend ("ct"): row t (0-based) of the training
 * series has tau = t + 1, so the training rows carry 1..T and forecasts
 * continue with T + 1, ... exactly as statsmodels (which shifts its trend
 * column by the lag order for JMulTi compatibility). Forecast and score take
 * the time index of the last row they are given (t_last); for the training
 * series that is T.
 *
 * Checked against statsmodels 0.13.5 (VAR.select_order(maxlags, trend),
 * VAR.fit(p, trend), forecast, forecast_interval, mse, resid, llf, aic/bic/
 * hqic, companion roots): all agree to ~1e-11 relative. One deliberate
 * difference: statsmodels' VAR.fit(maxlags, ic=...) selects the order with
 * trend "c" whatever its trend argument; we select with the fit's trend.
 *
 * A fitted tsa_stat_var is read-only for forecast/score/save, which keep
 * their scratch per call, so any number of threads may use one at once.
 */
#ifndef TSA_STAT_VAR_H
#define TSA_STAT_VAR_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

#include "core/buf.h"

/* Deterministic terms: none, intercept, intercept + linear trend. */
typedef enum tsa_stat_var_trend {
    TSA_STAT_VAR_TREND_N = 0,
    TSA_STAT_VAR_TREND_C = 1,
    TSA_STAT_VAR_TREND_CT = 2
} tsa_stat_var_trend;

/* Order-selection criterion; FIXED when the order was given. */
typedef enum tsa_stat_var_ic {
    TSA_STAT_VAR_IC_AIC = 0,
    TSA_STAT_VAR_IC_BIC = 1,
    TSA_STAT_VAR_IC_HQIC = 2,
    TSA_STAT_VAR_IC_FIXED = 3
} tsa_stat_var_ic;

/* Upper bounds that fit accepts and load enforces. */
#define TSA_STAT_VAR_MAX_ORDER 1000
#define TSA_STAT_VAR_MAX_FEATURES 100000

/* Called once per candidate order during selection (p = 0 or 1 .. max_lags);
 * a non-OK return (e.g. TSA_ECANCELED, message already set) stops the fit
 * and is returned by tsa_stat_var_fit. */
typedef tsa_status (*tsa_stat_var_progress_fn)(void *user, size_t p, size_t max_lags);

typedef struct tsa_stat_var_opts {
    size_t max_lags;              /* largest candidate order, >= 1 (selection) */
    size_t order;                 /* > 0: fit this order, no selection */
    tsa_stat_var_trend trend;
    tsa_stat_var_ic ic;           /* AIC, BIC or HQIC (ignored when order > 0) */
    tsa_stat_var_progress_fn progress; /* may be NULL */
    void *user;
} tsa_stat_var_opts;

/* Defaults: max_lags 10, order 0 (select), trend "c", AIC, no progress. */
void tsa_stat_var_opts_init(tsa_stat_var_opts *o);

/* The fitted state. All arrays are owned (malloc) and released by
 * tsa_stat_var_free.
 *
 * Coefficients are in the original units of the data, one block
 * @coef of (n_det * k + p * k * k) doubles with two views:
 *   det (n_det, k): det[0 * k + r] = intercept c_r of equation r (trend
 *                   "c"/"ct"); det[1 * k + r] = trend slope d_r ("ct").
 *   A   (p, k, k):  A[(i - 1) * k * k + r * k + c] = A_i[r][c], the effect
 *                   of y_{t-i, c} on y_{t, r}.
 * (statsmodels' params (n_det + k p, k) holds the same numbers transposed
 * per lag: params[n_det + (i-1) k + c, r] = A_i[r][c].) */
typedef struct tsa_stat_var {
    size_t k;           /* features, >= 1; 0 means "not fitted" */
    size_t p;           /* order (0 only with an intercept, from selection) */
    tsa_stat_var_trend trend;
    size_t n_det;       /* deterministic rows: 0, 1 or 2 */
    size_t n_train;     /* T, rows of the training series */
    size_t nobs;        /* T - p, rows of the final regression */
    double *coef;       /* (n_det * k + p * k * k), see above */
    double *det;        /* view into coef: (n_det, k), NULL when n_det = 0 */
    double *A;          /* view into coef: (p, k, k), NULL when p = 0 */
    double *sigma_u;    /* (k, k) resid' resid / (nobs - k p - n_det) */
    double *chol;       /* (k, k) lower Cholesky factor L, Sigma_u = L L' */
    double llf;         /* Gaussian log-likelihood at Sigma_u,ML = resid'resid / nobs */
    double aic, bic, hqic; /* of the final fit, statsmodels' definitions */
    double max_root_modulus; /* largest |eigenvalue| of the companion matrix */
    int stable;         /* max_root_modulus < 1 */
    /* Order selection (n_sel = 0 when the order was fixed): criteria of
     * orders sel_pmin .. sel_pmin + n_sel - 1, all on rows max_lags..T-1. */
    tsa_stat_var_ic ic;
    size_t max_lags;
    size_t sel_pmin;    /* 0 with deterministic terms, else 1 */
    size_t n_sel;
    double *sel;        /* (n_sel, 3): aic, bic, hqic per order */
} tsa_stat_var;

/* The smallest T that fit accepts for @k features, largest order @lags and
 * @n_det deterministic terms: T - lags >= k * lags + n_det + k, so the
 * largest regression leaves k degrees of freedom for Sigma_u (statsmodels'
 * "max_estimable"). */
size_t tsa_stat_var_min_length(size_t k, size_t lags, size_t n_det);

/* Fits a VAR to @y (T, k). With opts->order == 0 it selects p in
 * [pmin, max_lags] (pmin = 0 with deterministic terms, 1 without) by the
 * criterion on the common sample rows max_lags..T-1, then refits on rows
 * p..T-1; otherwise it fits opts->order on rows order..T-1. OLS is solved
 * by Householder QR of the design built from per-feature z-scored data
 * (for trend "n" features are only scaled, never centred).
 * @out must be zeroed or freed; it is written only on success.
 * Returns TSA_OK, TSA_EINVAL (bad sizes/options), TSA_ENONFINITE,
 * TSA_ETOOSHORT (message gives the rows needed), TSA_ENUMERIC (constant
 * feature, singular design or residual covariance; the message names the
 * feature and lag when it can), TSA_ENOMEM, or what progress returned. */
tsa_status tsa_stat_var_fit(tsa_stat_var *out, const double *y, size_t T, size_t k,
                            const tsa_stat_var_opts *opts);

/* Builds a fitted state from given parameters (tests, loading): copies
 * @coef (layout above) and @sigma_u (k, k, symmetric positive definite),
 * computes the Cholesky factor and companion roots. nobs, n_train and the
 * criteria are set to 0 / NaN; the caller may fill them afterwards.
 * Returns TSA_OK, TSA_EINVAL, TSA_ENUMERIC (Sigma_u not positive definite,
 * eigen solver failure) or TSA_ENOMEM. @out must be zeroed or freed. */
tsa_status tsa_stat_var_init(tsa_stat_var *out, size_t k, size_t p, tsa_stat_var_trend trend,
                             const double *coef, const double *sigma_u);

/* Releases the arrays and zeroes @v. Accepts NULL and zeroed states. */
void tsa_stat_var_free(tsa_stat_var *v);

/* Forecasts @horizon steps after @hist (n_hist, k), n_hist >= p, whose last
 * row has trend time index @t_last (steps get t_last + 1, t_last + 2, ...).
 * mean, lower, upper: (horizon, k) caller buffers; the interval is
 * mean +- z sqrt(diag MSE(h)), z = Phi^{-1}((1 + interval) / 2), with
 *   MSE(h) = sum_{i<h} Phi_i Sigma_u Phi_i',
 *   Phi_0 = I, Phi_i = sum_{j=1}^{min(i,p)} Phi_{i-j} A_j  (Lütkepohl 2.2.2).
 * Cost O(horizon * p * k^3). Returns TSA_OK, TSA_EINVAL, TSA_ERANGE
 * (interval not in (0, 1), horizon 0), TSA_ETOOSHORT or TSA_ENOMEM. */
tsa_status tsa_stat_var_forecast(const tsa_stat_var *v, const double *hist, size_t n_hist,
                                 double t_last, size_t horizon, double interval,
                                 double *mean, double *lower, double *upper);

/* The forecast MSE matrices MSE(1) .. MSE(horizon) into @mse
 * (horizon, k, k). MSE(1) = Sigma_u. Returns TSA_OK, TSA_EINVAL, TSA_ERANGE
 * or TSA_ENOMEM. */
tsa_status tsa_stat_var_forecast_mse(const tsa_stat_var *v, size_t horizon, double *mse);

/* Scores each row of @y (n, k), n >= p, whose last row has trend time index
 * @t_last: for t >= p the one-step residual e_t gives raw[t] =
 * sqrt(e_t' Sigma_u^{-1} e_t) (Mahalanobis distance) and calibrated[t] =
 * P(chi2_k <= raw[t]^2); rows t < p get 0 in both. Either output may be NULL.
 * Returns TSA_OK, TSA_EINVAL, TSA_ETOOSHORT or TSA_ENOMEM. */
tsa_status tsa_stat_var_score(const tsa_stat_var *v, const double *y, size_t n, double t_last,
                              double *raw, double *calibrated);

/* Appends the fitted state to @w (check w->failed once at the end):
 *   u32 layout version (1), u64 k, u64 p, u8 trend, u8 ic,
 *   u64 n_train, u64 nobs, f64[n_det k + p k k] coef, f64[k k] sigma_u,
 *   f64 llf, aic, bic, hqic, u64 max_lags, u64 sel_pmin, u64 n_sel,
 *   f64[3 n_sel] sel.
 * The Cholesky factor and the roots are recomputed on load. */
void tsa_stat_var_save(const tsa_stat_var *v, tsa_wbuf *w);

/* Reads what tsa_stat_var_save wrote into @out (zeroed or freed) and checks
 * every field: layout version, k == @k_expected, p <= TSA_STAT_VAR_MAX_ORDER,
 * trend and ic codes, nobs + p == n_train, the selection table against
 * max_lags and p, finite numbers, Sigma_u symmetric positive definite.
 * Returns TSA_OK, TSA_EFORMAT (anything missing or inconsistent; nothing is
 * read past the buffer) or TSA_ENOMEM; @out is written only on success. */
tsa_status tsa_stat_var_load(tsa_stat_var *out, size_t k_expected, tsa_rbuf *r);

/* Names used in parameters and JSON: "n"/"c"/"ct" and "aic"/"bic"/"hqic"/
 * "fixed". parse returns 0 on success, -1 for an unknown name. */
const char *tsa_stat_var_trend_name(tsa_stat_var_trend t);
int tsa_stat_var_trend_parse(const char *s, tsa_stat_var_trend *out);
const char *tsa_stat_var_ic_name(tsa_stat_var_ic ic);
int tsa_stat_var_ic_parse(const char *s, tsa_stat_var_ic *out);

#endif
