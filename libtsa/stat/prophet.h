/* A Prophet-style additive (or multiplicative) regression model of one
 * series: Taylor & Letham, "Forecasting at scale", The American
 * Statistician 72(1), 2018 (PeerJ Preprints 5:e3190v2, 2017), and the Stan
 * model of the reference implementation.
 *
 *   y(t) = g(t) (1 + X(t) beta_m) + X(t) beta_a + e_t,   e_t ~ N(0, sigma^2)
 *
 * in scaled units (below), with
 *
 * - g the trend: piecewise linear (paper eq. 4)
 *     g(t) = (k + a(t)' delta) t + (m + a(t)' gamma),  gamma_j = -s_j delta_j,
 *   or piecewise logistic (paper eqs. 2-3) with capacity C,
 *     g(t) = C / (1 + exp(-(k + a(t)' delta) (t - (m + a(t)' gamma)))),
 *     gamma_j = (s_j - m - sum_{l<j} gamma_l) (1 - (k + sum_{l<j} delta_l) /
 *                                                  (k + sum_{l<=j} delta_l)),
 *   where a_j(t) = 1 when t >= s_j, the changepoints s_j;
 * - X the seasonal and holiday features: for a seasonality of period P and
 *   order N the 2N columns sin(2 pi n u / P), cos(2 pi n u / P), n = 1..N
 *   (paper eq. 5), u the absolute time (below); for holidays one indicator
 *   column per day offset in [-window, window] around the listed dates
 *   (paper sec. 3.3); each column belongs to a block that is additive
 *   (beta_a) or multiplicative (beta_m);
 * - priors k, m ~ N(0, 5), delta_j ~ Laplace(0, tau), beta_j ~ N(0, s_j)
 *   with the prior scale of its block, sigma ~ half-N(0, 0.5).
 *
 * Scaling, as the reference implementation: y is divided by its largest
 * absolute value (after subtracting the floor for logistic growth; the cap
 * too), and the scaled time t runs from 0 at the first to 1 at the last
 * training point. The absolute time u is in days since 1970-01-01 UTC when
 * the series has timestamps (so seasonal phases are anchored at the epoch,
 * as the reference implementation), or the step index (0 at the first
 * training row) without them, in which case every period is in steps.
 *
 * Changepoints: n_changepoints potential changepoints at the training rows
 * round(linspace(0, h - 1, n + 1))[1:] with h = floor(n_train *
 * changepoint_range) (round half to even, as numpy), n reduced to h - 1 when
 * larger. With no changepoint the trend is a single line (the reference
 * implementation adds a dummy changepoint at t = 0 instead).
 *
 * Automatic seasonalities (the reference implementation's rules, on the
 * span and the smallest spacing of the training timestamps): yearly when
 * the span is >= 730 days, weekly when >= 14 days and spacing < 7 days,
 * daily when >= 2 days and spacing < 1 day. Without timestamps there is no
 * calendar, and "auto" turns all three off (forcing them on uses periods of
 * 365.25, 7 and 1 steps).
 *
 * Fit: the posterior mode (MAP) by L-BFGS (stat/lbfgs.h) on the analytic
 * gradient of the negative log posterior in (k, m, sigma, delta, beta), as
 * the reference implementation does through Stan (no Jacobian term for
 * sigma). Start: k and m from the line (or logistic curve) through the
 * first and last points, delta = 0, beta = 0 (the reference
 * implementation's linear_growth_init / logistic_growth_init); sigma is
 * profiled out (its optimum given the rest is closed form), which leaves the
 * mode unchanged. Two numerical aids, neither of which changes the
 * objective's minimiser: L-BFGS runs on coordinates whitened by the
 * Cholesky factor of the Gauss-Newton Hessian at the start (the
 * changepoint columns are nearly collinear), and the Laplace term's kinks
 * are approached by continuation (|delta| smoothed with a shrinking width,
 * then exact). See tsa_stat_prophet_fit in stat/prophet.c. sigma is kept
 * >= 1e-10 (scaled units): a series the model reproduces exactly (e.g. a
 * constant) has no mode otherwise.
 *
 * Intervals (paper sec. 3.1.4): uncertainty_samples simulated paths; each
 * adds future changepoints after t = 1 as a Poisson process with the rate
 * of the history (S per unit of scaled time) with changes ~ Laplace(0,
 * mean |delta| + 1e-8), and N(0, sigma) observation noise; the bounds are
 * the sample quantiles (linear interpolation, as numpy.percentile) at
 * (1 -+ interval) / 2. The point forecast is the MAP prediction. Sample i
 * draws from its own generator seeded from (seed, i), so results depend on
 * the seed only, and are computed in blocks of time points to bound memory.
 * With no samples the interval is the observation noise's Normal interval.
 *
 * Robust fit (opts.robust; not part of the reference implementation, which
 * leaves outlier removal to the user): after the MAP fit, the rows whose
 * residual exceeds 5 robust standard deviations (1.4826 times the median
 * absolute residual) are treated as missing: their values are replaced by
 * the fit's prediction, the conditional mean of a missing response, and
 * the model is refitted (twice at most, until the set of outliers stops
 * changing). sigma is then the mode given the rest over the kept rows only.
 * Spikes would otherwise inflate sigma and bend the trend and seasonality
 * towards themselves, hiding themselves from the anomaly score when the
 * model is fitted on the series it screens. A Normal residual passes the
 * cutoff with probability 1 - 5.7e-7, so on clean data nothing is masked
 * and the fit is the plain MAP fit.
 *
 * A fitted tsa_stat_prophet is read-only for predict/forecast/score/save,
 * which keep their scratch per call: any number of threads may use one.
 */
#ifndef TSA_STAT_PROPHET_H
#define TSA_STAT_PROPHET_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

#include "core/buf.h"

/* Limits that fit accepts and load enforces. */
#define TSA_STAT_PROPHET_MAX_CHANGEPOINTS 1000
#define TSA_STAT_PROPHET_MAX_ORDER 100
#define TSA_STAT_PROPHET_MAX_BLOCKS 5
#define TSA_STAT_PROPHET_MAX_HOLIDAYS 100000
#define TSA_STAT_PROPHET_MAX_WINDOW 366
#define TSA_STAT_PROPHET_MAX_SAMPLES 100000
#define TSA_STAT_PROPHET_MAX_TRAIN ((size_t)1 << 31)

/* Seconds per day: the unit of u with timestamps. */
#define TSA_STAT_PROPHET_DAY 86400.0

/* A block of feature columns. */
typedef enum tsa_stat_prophet_block_type {
    TSA_STAT_PROPHET_FOURIER = 0,  /* 2 order columns: sin, cos of n = 1..order */
    TSA_STAT_PROPHET_INDICATOR = 1 /* 2 order + 1 columns: holiday day offsets
                                    * -order..order (order = the window) */
} tsa_stat_prophet_block_type;

typedef struct tsa_stat_prophet_block {
    char name[16];        /* "yearly", "weekly", "daily", "custom", "holidays" */
    tsa_stat_prophet_block_type type;
    int multiplicative;   /* 1: multiplies the trend (beta_m), 0: adds (beta_a) */
    double period;        /* FOURIER: in units of u (days or steps) */
    size_t order;         /* FOURIER order, or INDICATOR window */
    size_t col0, ncols;   /* columns col0 .. col0 + ncols - 1 of X */
    double prior_scale;   /* of beta over the block's columns */
} tsa_stat_prophet_block;

/* A seasonality switch: the automatic rule, forced off or forced on. */
enum { TSA_STAT_PROPHET_AUTO = -1, TSA_STAT_PROPHET_OFF = 0, TSA_STAT_PROPHET_ON = 1 };

/* Called after every L-BFGS iteration; a non-OK status stops the fit. */
typedef tsa_status (*tsa_stat_prophet_progress_fn)(void *user, int iter, int max_iter,
                                                   double objective);

typedef struct tsa_stat_prophet_opts {
    int logistic;                 /* growth: 0 linear, 1 logistic */
    double cap, floor;            /* logistic: capacity and floor, cap > floor
                                   * (original units; floor also applies to
                                   * nothing else) */
    size_t n_changepoints;        /* <= TSA_STAT_PROPHET_MAX_CHANGEPOINTS (25) */
    double changepoint_range;     /* (0, 1] (0.8) */
    double changepoint_prior_scale; /* tau > 0 (0.05) */
    int yearly, weekly, daily;    /* AUTO, OFF or ON */
    int multiplicative;           /* seasonality (and holiday) mode */
    double seasonality_prior_scale; /* (10) */
    double custom_period;         /* in units of u; 0 = none */
    size_t custom_order;          /* (5) */
    double custom_prior_scale;    /* (10) */
    const int64_t *holidays;      /* days since 1970-01-01, any order; needs
                                   * timestamps; NULL or n_holidays = 0: none */
    size_t n_holidays;
    size_t holiday_window;        /* days before and after each date (0) */
    double holidays_prior_scale;  /* (10) */
    size_t uncertainty_samples;   /* (1000) */
    uint64_t seed;                /* of the interval simulation (42) */
    int max_iter;                 /* L-BFGS iterations (10000, as the reference) */
    int robust;                   /* refit with outliers as missing values (0) */
    int custom_detected;          /* name the custom block "detected" (its period
                                   * was found in the values, not given) (0) */
    tsa_stat_prophet_progress_fn progress; /* may be NULL */
    void *user;
} tsa_stat_prophet_opts;

/* The defaults in brackets above. */
void tsa_stat_prophet_opts_init(tsa_stat_prophet_opts *o);

/* The fitted state; arrays are owned (malloc) and released by
 * tsa_stat_prophet_free. theta = (k, m, log sigma, delta (S), beta (K)). */
typedef struct tsa_stat_prophet {
    size_t n_train;       /* 0 means "not fitted" */
    int logistic;
    int has_ts;           /* u in days since the epoch (1) or in steps (0) */
    double u0, u_scale;   /* t = (u - u0) / u_scale */
    double y_scale;       /* scaled y = (y - floor) / y_scale */
    double floor, cap;    /* original units (cap unused for linear growth) */
    size_t S;             /* changepoints */
    double *cp;           /* (S) their scaled times, increasing, in (0, 1) */
    size_t n_blocks;
    tsa_stat_prophet_block blocks[TSA_STAT_PROPHET_MAX_BLOCKS]; /* additive first */
    size_t K;             /* feature columns */
    size_t K_add;         /* columns 0 .. K_add - 1 are additive, the rest multiplicative */
    size_t n_holidays;
    int64_t *holidays;    /* (n_holidays) days since the epoch, increasing, distinct */
    double *theta;        /* (3 + S + K) */
    double sigma;         /* exp(theta[2]), scaled units */
    double mean_abs_delta; /* mean |delta_j| + 1e-8: the scale of future changes */
    size_t uncertainty_samples;
    uint64_t seed;
    double *u_train;      /* (n_train) absolute times of the training rows */
    /* Diagnostics of the fit. */
    double objective;
    int iterations;
    int reason;           /* tsa_lbfgs_reason */
    size_t n_outliers;    /* rows the robust refit treated as missing */
} tsa_stat_prophet;

/* Indices into theta. */
#define TSA_STAT_PROPHET_K 0
#define TSA_STAT_PROPHET_M 1
#define TSA_STAT_PROPHET_LOG_SIGMA 2
#define TSA_STAT_PROPHET_DELTA 3

/* Which of yearly/weekly/daily the automatic rules enable for timestamps
 * @ts (n >= 2, increasing, seconds), or all off for @ts NULL. */
void tsa_stat_prophet_auto_seasonalities(const int64_t *ts, size_t n, int *yearly, int *weekly,
                                         int *daily);

/* Parses "YYYY-MM-DD,YYYY-MM-DD,..." (spaces around entries allowed, empty
 * entries not) into a malloc'd array of days since 1970-01-01 (sorted,
 * duplicates removed). The empty string gives *n = 0, *days = NULL.
 * Returns TSA_OK, TSA_EPARAM (message "holidays: ..." naming the bad entry)
 * or TSA_ENOMEM. */
tsa_status tsa_stat_prophet_parse_dates(const char *s, int64_t **days, size_t *n);

/* The absolute time u of a timestamp (seconds): days since the epoch. */
static inline double tsa_stat_prophet_u_of(int64_t ts) { return (double)ts / TSA_STAT_PROPHET_DAY; }

/* Fits the model to @y (n) with timestamps @ts (n, seconds, increasing) or
 * NULL (steps). @out must be zeroed or freed; it is written only on
 * success. Returns TSA_OK, TSA_EINVAL, TSA_EPARAM (an option out of range;
 * the message names it as the model parameter), TSA_ETOOSHORT (n < 2),
 * TSA_ENONFINITE, TSA_ENUMERIC (the optimiser could not start), TSA_ENOMEM,
 * or what progress returned. */
tsa_status tsa_stat_prophet_fit(tsa_stat_prophet *out, const double *y, const int64_t *ts,
                                size_t n, const tsa_stat_prophet_opts *o);

/* Releases the arrays and zeroes @p. Accepts NULL and zeroed states. */
void tsa_stat_prophet_free(tsa_stat_prophet *p);

/* The MAP prediction at absolute times @u (n, any order) in original units:
 * yhat (n) and, when non-NULL, the components: trend (n) = g(t) y_scale +
 * floor, and comp (n_blocks, n) with block b's term X_b beta_b, multiplied
 * by y_scale for additive blocks and left as a fraction of the trend for
 * multiplicative ones, so yhat = trend (1 + sum of multiplicative terms) +
 * sum of additive terms (the reference implementation's components).
 * Returns TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_prophet_predict(const tsa_stat_prophet *p, const double *u, size_t n,
                                    double *yhat, double *trend, double *comp);

/* Point forecast and interval at non-decreasing absolute times @u (n):
 * mean (n) the MAP prediction, lower/upper (n) the simulated quantiles (see
 * the top). Cost O(samples (n + future changepoints) + n K). Returns TSA_OK,
 * TSA_EINVAL (u not non-decreasing, NULL buffers), TSA_ERANGE (interval not
 * in (0, 1)) or TSA_ENOMEM. */
tsa_status tsa_stat_prophet_forecast(const tsa_stat_prophet *p, const double *u, size_t n,
                                     double interval, double *mean, double *lower, double *upper);

/* Scores observations @y (n) at absolute times @u (n): raw = |y - yhat| /
 * (sigma y_scale), calibrated = P(|Z| < raw) = erf(raw / sqrt 2), the
 * predictive mass inside |y - yhat| under N(yhat, sigma y_scale); so a
 * threshold of 0.95 flags points outside the 95% predictive interval.
 * Either output may be NULL. Returns TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_prophet_score(const tsa_stat_prophet *p, const double *u, const double *y,
                                  size_t n, double *raw, double *calibrated);

/* Appends the fitted state to @w (check w->failed once at the end):
 *   u32 layout version (2), u64 n_train, u8 logistic, u8 has_ts,
 *   f64 u0, u_scale, y_scale, floor, cap, u64 S, f64[S] cp,
 *   u64 n_blocks, per block {str name, u8 type, u8 multiplicative,
 *   f64 period, u64 order, u64 col0, u64 ncols, f64 prior_scale},
 *   u64 K, u64 K_add, u64 n_holidays, i64[n_holidays] holidays,
 *   f64[3 + S + K] theta, u64 uncertainty_samples, u64 seed,
 *   f64[n_train] u_train, f64 objective, u32 iterations, u32 reason,
 *   u64 n_outliers (layout 2; layout 1 ends before it and loads as 0). */
void tsa_stat_prophet_save(const tsa_stat_prophet *p, tsa_wbuf *w);

/* Reads what tsa_stat_prophet_save wrote into @out (zeroed or freed),
 * checking every count against the limits above and the block layout
 * against K, and every number for finiteness and range. Returns TSA_OK,
 * TSA_EFORMAT or TSA_ENOMEM; @out is written only on success. */
tsa_status tsa_stat_prophet_load(tsa_stat_prophet *out, tsa_rbuf *r);

/* ---- the objective, exposed for tests ---------------------------------- */

/* The MAP problem of a training series: scaled data, changepoints, design
 * matrix and priors, as tsa_stat_prophet_fit builds it, with the scratch
 * one objective evaluation needs (so one problem serves one thread). */
typedef struct tsa_stat_prophet_problem tsa_stat_prophet_problem;

/* Builds the problem (and the model layout in @layout: everything but
 * theta, sigma and the diagnostics, which stay zero/NULL) for the given
 * data and options. Release with tsa_stat_prophet_problem_free; @layout
 * with tsa_stat_prophet_free. Errors as tsa_stat_prophet_fit. */
tsa_status tsa_stat_prophet_problem_create(const double *y, const int64_t *ts, size_t n,
                                           const tsa_stat_prophet_opts *o,
                                           tsa_stat_prophet *layout,
                                           tsa_stat_prophet_problem **out);
void tsa_stat_prophet_problem_free(tsa_stat_prophet_problem *pb);

/* The number of parameters, 3 + S + K. */
size_t tsa_stat_prophet_problem_dim(const tsa_stat_prophet_problem *pb);

/* The initial theta (dim) of the reference implementation (see the top). */
void tsa_stat_prophet_problem_init_theta(const tsa_stat_prophet_problem *pb, double *theta);

/* The negative log posterior at @theta (dim), without constants, and its
 * gradient into @grad (dim) when non-NULL. Its Laplace term uses
 * d|delta|/d delta = sign(delta) (0 at 0). +Inf (and a NaN gradient) where
 * the logistic trend is undefined. */
double tsa_stat_prophet_objective(tsa_stat_prophet_problem *pb, const double *theta,
                                  double *grad);

/* The same with sigma at its optimum given the other parameters (theta's
 * log sigma is ignored and its gradient entry is 0): the profile that the
 * fit minimises, whose minimiser is the joint mode. */
double tsa_stat_prophet_profile_objective(tsa_stat_prophet_problem *pb, const double *theta,
                                          double *grad);

#endif
