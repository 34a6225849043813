/* The Theta method (Assimakopoulos & Nikolopoulos 2000, "The theta model:
 * a decomposition approach to forecasting", IJF 16(4)) in the form shown
 * equivalent by Hyndman & Billah (2003, "Unmasking the Theta method", IJF
 * 19(2)): simple exponential smoothing with a drift equal to (1 - 1/theta)
 * times the least-squares slope, b/2 for the standard theta = 2 lines.
 * It follows R's forecast::thetaf:
 *
 *  - seasonality: with a period m >= 2 and n > 2m, the series is tested at
 *    90% with the ACF at lag m, |r_m| > 1.645 sqrt((1 + 2 sum_{k<m} r_k^2)/n),
 *    and when significant it is seasonally adjusted by a classical
 *    multiplicative decomposition (an additive one when some value is not
 *    positive, where ratios are meaningless);
 *  - SES (ETS(A,N,N) by maximum likelihood) on the adjusted series x gives
 *    alpha, l0, the level L_n and sigma^2;
 *  - forecasts: L_n + drift (h - 1 + (1 - (1 - alpha)^n) / alpha), times
 *    (plus) the seasonal index of the step;
 *  - intervals: +- z sigma sqrt(1 + (h - 1) alpha^2) (the SES model's
 *    variance, as thetaf), computed on the adjusted scale and then
 *    re-seasonalised like the mean (thetaf leaves them unadjusted).
 *
 * One-step predictions (for residuals and scores) are the method's own
 * forecasts made one step earlier: L_{t-1} + drift (1 - (1 - alpha)^t) /
 * alpha on the adjusted scale.
 *
 * A fitted tsa_stat_theta is read-only for forecast, filter and save.
 */
#ifndef TSA_STAT_THETA_H
#define TSA_STAT_THETA_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

#include "core/buf.h"

/* Seasonal adjustment applied. */
enum { TSA_STAT_THETA_NONE = 0, TSA_STAT_THETA_MULT = 1, TSA_STAT_THETA_ADD = 2 };

#define TSA_STAT_THETA_MAX_M 100000

typedef struct tsa_stat_theta {
    size_t n_train;     /* 0 means "not fitted" */
    size_t m;           /* the period considered (1: none) */
    int seasonal;       /* TSA_STAT_THETA_NONE, _MULT or _ADD */
    double seas_stat;   /* |r_m| / se of the test, NaN when not tested */
    double *season;     /* (m) indices of training rows t with t mod m == k when
                           seasonal, else NULL */
    double theta;
    double alpha, l0;   /* the SES model */
    double sigma2;      /* its residual variance, SSE / (n - 2) */
    double slope;       /* least-squares slope of the adjusted series */
    double drift;       /* (1 - 1/theta) slope */
    double level;       /* L_n, the SES level after the training series */
} tsa_stat_theta;

/* Fits to y (n values) with period @m (<= 1: no seasonality considered)
 * and @theta in [1, 10]. @out must be zeroed or freed; written only on
 * success. Returns TSA_OK, TSA_EINVAL, TSA_ENONFINITE, TSA_ETOOSHORT (fewer
 * than 7 values, what SES by maximum likelihood needs), TSA_ENUMERIC or
 * TSA_ENOMEM. */
tsa_status tsa_stat_theta_fit(tsa_stat_theta *out, const double *y, size_t n, size_t m,
                              double theta);

void tsa_stat_theta_free(tsa_stat_theta *th);

/* Rows a history needs: 2m when seasonal (its own decomposition), else 1. */
size_t tsa_stat_theta_context(const tsa_stat_theta *th);

/* Runs the method over a history y (n >= context rows): the fitted
 * seasonal indices rotated to the history's phase, the rotation that best
 * correlates with the indices of the history's own classical decomposition
 * (for m <= 2000; above, those own indices are used), into season (m
 * values, phase origin at row 0; untouched when not seasonal), the SES
 * level started at
 * the first adjusted value, and per row the one-step prediction and
 * residual on the adjusted scale (pred, resid: n, may be NULL).
 * *level receives L after the n rows. Returns TSA_OK, TSA_EINVAL (a
 * multiplicative adjustment and a non-positive value), TSA_ETOOSHORT,
 * TSA_ENUMERIC or TSA_ENOMEM. */
tsa_status tsa_stat_theta_filter(const tsa_stat_theta *th, const double *y, size_t n,
                                 double *season, double *level, double *pred, double *resid);

/* One-step predictions and residuals of the training series (n_train
 * values, the fitted l0 and indices), adjusted scale. */
tsa_status tsa_stat_theta_train_resid(const tsa_stat_theta *th, const double *y, size_t n,
                                      double *resid);

/* Forecasts @horizon steps after @n_obs observations whose SES level is
 * @level, with seasonal indices @season (m values, phase origin n_obs rows
 * back; ignored when not seasonal). mean, lower, upper: (horizon). Returns
 * TSA_OK, TSA_EINVAL or TSA_ERANGE. */
tsa_status tsa_stat_theta_forecast(const tsa_stat_theta *th, double level, size_t n_obs,
                                   const double *season, size_t horizon, double interval,
                                   double *mean, double *lower, double *upper);

/* Appends the model to @w: u32 layout (1), u64 n_train, u64 m, u8 seasonal,
 * f64 seas_stat, f64[m] season (seasonal only), f64 theta, alpha, l0,
 * sigma2, slope, drift, level. */
void tsa_stat_theta_save(const tsa_stat_theta *th, tsa_wbuf *w);

/* Reads and checks what tsa_stat_theta_save wrote. Returns TSA_OK,
 * TSA_EFORMAT or TSA_ENOMEM; @out is written only on success. */
tsa_status tsa_stat_theta_load(tsa_stat_theta *out, tsa_rbuf *r);

#endif
