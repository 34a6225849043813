/* Seasonal period detection, the sample autocorrelation function and the
 * classical seasonal decomposition, shared by the baseline kinds
 * (seasonal_naive, ets, theta).
 *
 * Period detection works on the values alone (a hint derived from timestamps
 * is only a preference that must pass the same evidence): the series is made
 * stationary in mean (a least-squares line removed, or first differences
 * when what remains is as persistent as a random walk; the other view is
 * tried when the first finds nothing), its autocorrelation function is
 * searched for local maxima that clear both an absolute floor (0.1) and
 * Bartlett's standard error with a Bonferroni correction over the peaks
 * searched, family-wise 1% (Bartlett 1946; Box, Jenkins & Reinsel, "Time
 * Series Analysis", 4th ed., sec. 2.1.6), the first strong peak is taken,
 * and it must be confirmed by the periodogram: one of its first harmonics
 * must rise above the local level of the periodogram ordinates (about
 * exponential, Brockwell & Davis 1991, Thm. 10.3.2) by the Bonferroni bound
 * over the Fourier frequencies at 5%. Series of fewer than about ten cycles
 * rarely pass the corrected search; a timestamp hint, tested once, can.
 *
 * All functions are reentrant: scratch memory is per call.
 */
#ifndef TSA_STAT_PERIOD_H
#define TSA_STAT_PERIOD_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/common.h>

/* Detection looks at most at this many trailing values. */
#define TSA_STAT_PERIOD_MAX_INPUT ((size_t)1 << 20)

/* Sample autocorrelations r[0..max_lag] of y (n values), mean removed,
 * denominator n (as R's acf and statsmodels' acf): r[0] = 1. A constant
 * series gives r[k] = 0 for k >= 1. max_lag < n. Computed through a
 * zero-padded FFT, O(n log n).
 * Returns TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_acf(const double *y, size_t n, size_t max_lag, double *r);

/* The dominant seasonal period of y in [2, n/2], or 0 in *period when the
 * evidence does not support one (white noise, random walks, too short
 * series: n < 8).
 * @hint: 0, or a period suggested by the timestamps (tsa_stat_period_hint);
 *        it is returned when its autocorrelation is significant on its own
 *        (no multiple-testing correction, since it was not searched for) and
 *        the periodogram confirms it; otherwise the search decides.
 * Returns TSA_OK, TSA_EINVAL or TSA_ENOMEM. */
tsa_status tsa_stat_period_detect(const double *y, size_t n, size_t hint, size_t *period);

/* A period suggested by the median spacing of timestamps, in seconds: the
 * number of steps per day for sub-daily spacings dividing a day (3600 -> 24),
 * 7 for daily, 52 for weekly, 12 for monthly, 4 for quarterly spacings, and
 * 0 otherwise or when it exceeds n / 2. */
size_t tsa_stat_period_hint(int64_t step_seconds, size_t n);

/* How a model's period was chosen. */
enum {
    TSA_STAT_PERIOD_NONE = 0,      /* detection found none: period 1 */
    TSA_STAT_PERIOD_PARAM = 1,     /* given by the "period" parameter */
    TSA_STAT_PERIOD_DETECTED = 2,  /* detected from the values */
    TSA_STAT_PERIOD_TIMESTAMPS = 3 /* the timestamp hint, confirmed by the values */
};

/* The period a baseline kind uses: @requested (> 0, the parameter) as is,
 * else the detected one with the hint of @step_seconds (the median spacing
 * of the timestamps, 0 without), else 1. *source gets one of the codes
 * above. Returns what tsa_stat_period_detect returns. */
tsa_status tsa_stat_period_choose(const double *y, size_t n, int64_t step_seconds,
                                  int64_t requested, size_t *period, int *source);

/* "none", "parameter", "detected", "timestamps" ("?" for other codes). */
const char *tsa_stat_period_source_name(int source);

/* Classical decomposition (R's stats::decompose; Kendall & Stuart 1983,
 * Makridakis, Wheelwright & Hyndman 1998 sec. 3/4): the trend is the
 * centred moving average of order m (2 x m for even m), the detrended
 * values (y - trend, or y / trend when @multiplicative) are averaged per
 * position in the cycle, and the m averages are normalised to sum 0
 * (additive) or to mean 1 (multiplicative).
 * figure[k] (m values) is the seasonal component of the rows t with
 * t mod m == k. Needs n >= 2 m and m >= 2; the multiplicative form needs a
 * positive trend. Returns TSA_OK, TSA_EINVAL, TSA_ETOOSHORT, TSA_ENUMERIC
 * (a non-positive trend value in the multiplicative form) or TSA_ENOMEM. */
tsa_status tsa_stat_decompose(const double *y, size_t n, size_t m, int multiplicative,
                              double *figure);

#endif
