/* Seasonal period detection, ACF and classical decomposition (see period.h). */
#include "stat/period.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_fft_halfcomplex.h>
#include <gsl/gsl_fft_real.h>

#include "core/error.h"

/* Family-wise levels: of the peak search over the autocorrelations, and of
 * the periodogram check over the Fourier frequencies. The two tests look at
 * the same data and are far from independent, so each is kept strict: a
 * period is an expensive mistake for the seasonal models that follow. */
#define PERIOD_ALPHA 0.01
#define PERIOD_PGRAM_ALPHA 0.05
/* A hint is one test, not a search: one-sided 5%, the 1.645 that
 * forecast::thetaf uses for its seasonality test. */
#define PERIOD_HINT_ALPHA 0.05
/* A peak below this autocorrelation is too weak to be worth modelling
 * whatever its significance (it explains under 1% of the variance). */
#define PERIOD_R_MIN 0.1
/* The first peak whose autocorrelation reaches this fraction of the
 * strongest significant peak is "the first strong peak": later peaks at
 * multiples of the period decay only by the finite-sample factor (1 - k/n),
 * while sub-harmonic bumps (two humps a day) stay well below the peak of the
 * full cycle. */
#define PERIOD_PEAK_FRACTION 0.6
/* Lag-1 autocorrelation of the detrended series above which differences
 * are searched first. */
#define PERIOD_PERSISTENT 0.95
/* Harmonics of a candidate period looked at in the periodogram. */
#define PERIOD_HARMONICS 8

static size_t pow2_at_least(size_t n)
{
    size_t N = 1;
    while (N < n)
        N <<= 1;
    return N;
}

/* The power spectrum of the mean-removed x (n values) zero-padded to N >= 2n
 * (so the circular autocorrelation equals the linear one): pw[j] = |X_j|^2
 * for j = 0..N/2; *buf (N) is left holding the autocorrelation sums
 * a_k = sum_t x_t x_{t+k} for k < n. Both arrays are malloc'd. */
static tsa_status spectrum_and_autocov(const double *x, size_t n, double **buf_out,
                                       double **pw_out, size_t *N_out)
{
    TSA_FAIL_IF(n > ((size_t)1 << 40), TSA_EINVAL, "acf: series too long (%zu values)", n);
    size_t N = pow2_at_least(2 * n);
    double *buf = calloc(N, sizeof *buf), *pw = malloc((N / 2 + 1) * sizeof *pw);
    if (!buf || !pw) {
        free(buf);
        free(pw);
        return tsa_error(TSA_ENOMEM, "acf: out of memory for %zu values", n);
    }
    double mean = 0.0;
    for (size_t t = 0; t < n; t++)
        mean += x[t];
    mean /= (double)n;
    for (size_t t = 0; t < n; t++)
        buf[t] = x[t] - mean;
    int gs = gsl_fft_real_radix2_transform(buf, 1, N);
    if (gs != GSL_SUCCESS) {
        free(buf);
        free(pw);
        return tsa_error(TSA_ENUMERIC, "acf: FFT failed (%s)", gsl_strerror(gs));
    }
    /* Half-complex layout: buf[j] = Re X_j, buf[N - j] = Im X_j. */
    pw[0] = buf[0] * buf[0];
    pw[N / 2] = buf[N / 2] * buf[N / 2];
    for (size_t j = 1; j < N / 2; j++)
        pw[j] = buf[j] * buf[j] + buf[N - j] * buf[N - j];
    for (size_t j = 0; j <= N / 2; j++)
        buf[j] = pw[j];
    for (size_t j = N / 2 + 1; j < N; j++)
        buf[j] = 0.0;
    gs = gsl_fft_halfcomplex_radix2_inverse(buf, 1, N);
    if (gs != GSL_SUCCESS) {
        free(buf);
        free(pw);
        return tsa_error(TSA_ENUMERIC, "acf: inverse FFT failed (%s)", gsl_strerror(gs));
    }
    *buf_out = buf;
    *pw_out = pw;
    *N_out = N;
    return TSA_OK;
}

tsa_status tsa_stat_acf(const double *y, size_t n, size_t max_lag, double *r)
{
    TSA_FAIL_IF(!y || !r || n == 0, TSA_EINVAL, "acf: NULL or empty series");
    TSA_FAIL_IF(max_lag >= n, TSA_EINVAL, "acf: max_lag %zu must be below the length %zu",
                max_lag, n);
    double *buf = NULL, *pw = NULL;
    size_t N = 0;
    TSA_TRY(spectrum_and_autocov(y, n, &buf, &pw, &N));
    double c0 = buf[0];
    r[0] = 1.0;
    for (size_t k = 1; k <= max_lag; k++)
        r[k] = c0 > 0.0 ? buf[k] / c0 : 0.0;
    free(buf);
    free(pw);
    return TSA_OK;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One transformed series (detrended or differenced) with its ACF and
 * periodogram. */
typedef struct period_view {
    size_t nx;        /* values in the transformed series */
    size_t max_lag;   /* r holds lags 0..max_lag + 1 */
    double *r;        /* autocorrelations */
    double *bart;     /* bart[k] = 1 + 2 sum_{j<k} r_j^2 (Bartlett variance times nx) */
    double *pw;       /* |X_j|^2, j = 0..N/2 */
    size_t N;         /* FFT length */
    int constant;     /* no variance: nothing to detect */
} period_view;

static void view_free(period_view *v)
{
    free(v->r);
    free(v->bart);
    free(v->pw);
    memset(v, 0, sizeof *v);
}

static tsa_status view_build(period_view *v, const double *x, size_t nx, size_t max_lag)
{
    memset(v, 0, sizeof *v);
    double *buf = NULL;
    TSA_TRY(spectrum_and_autocov(x, nx, &buf, &v->pw, &v->N));
    v->nx = nx;
    v->max_lag = max_lag;
    v->r = malloc((max_lag + 2) * sizeof *v->r);
    v->bart = malloc((max_lag + 2) * sizeof *v->bart);
    if (!v->r || !v->bart) {
        free(buf);
        view_free(v);
        return tsa_error(TSA_ENOMEM, "period detection: out of memory");
    }
    double c0 = buf[0];
    /* A constant series has no autocorrelation to search. */
    v->constant = !(c0 > 0.0) || !isfinite(c0);
    v->r[0] = 1.0;
    v->bart[0] = 1.0;
    for (size_t k = 1; k <= max_lag + 1; k++)
        v->r[k] = (!v->constant && k < nx) ? buf[k] / c0 : 0.0;
    v->bart[1] = 1.0;
    for (size_t k = 2; k <= max_lag + 1; k++)
        v->bart[k] = v->bart[k - 1] + 2.0 * v->r[k - 1] * v->r[k - 1];
    free(buf);
    for (size_t j = 0; j <= v->N / 2; j++)
        v->pw[j] /= (double)nx;
    return TSA_OK;
}

/* Whether a harmonic h / k (h = 1..8, h <= k / 2) of period k stands out
 * of the periodogram around it. Ordinates of a smooth spectrum are about
 * exponential with the local spectral level as mean (Brockwell & Davis
 * 1991, Thm. 10.3.2), estimated robustly as the median of the surrounding
 * band over log 2; a harmonic counts when its peak (within the main lobe of
 * the padded transform) exceeds that mean times log(nx / 2 / alpha), a
 * Bonferroni bound over the nx / 2 Fourier frequencies. A local level, not
 * a global one, keeps the red spectrum of a trending or random-walk series
 * from confirming any low frequency. */
static int periodogram_confirms(const period_view *v, size_t k, double *scratch)
{
    const double thresh = log(((double)v->nx / 2.0) / PERIOD_PGRAM_ALPHA) / M_LN2;
    const size_t half = v->N / 2;
    const size_t w = (v->N + v->nx - 1) / v->nx + 1; /* main-lobe half-width in bins */
    size_t H = k / 2 < PERIOD_HARMONICS ? k / 2 : PERIOD_HARMONICS;
    if (H < 1)
        H = 1;
    for (size_t h = 1; h <= H; h++) {
        double centre = (double)h * (double)v->N / (double)k;
        size_t c = (size_t)floor(centre + 0.5);
        if (c > half)
            c = half;
        size_t lo = c > w ? c - w : 1, hi = c + w < half ? c + w : half;
        double peak = 0.0;
        for (size_t j = lo; j <= hi; j++)
            if (v->pw[j] > peak)
                peak = v->pw[j];
        /* The band: half an octave each side, at least 10 lobes wide,
         * without the lobes next to the peak. */
        size_t B = c / 2 > 10 * w ? c / 2 : 10 * w;
        size_t blo = c > B ? c - B : 1, bhi = c + B < half ? c + B : half, nb = 0;
        for (size_t j = blo; j <= bhi; j++)
            if (j + 2 * w < c || j > c + 2 * w)
                scratch[nb++] = v->pw[j];
        if (nb < 8)
            continue;
        qsort(scratch, nb, sizeof *scratch, cmp_double);
        double med = scratch[nb / 2];
        if (med > 0.0 && peak > med * thresh)
            return 1;
    }
    return 0;
}

/* Bartlett's standard error of r_k under the hypothesis that the true
 * autocorrelations vanish beyond lag k - 1. */
static double bartlett_se(const period_view *v, size_t k)
{
    return sqrt(v->bart[k] / (double)v->nx);
}

static int is_local_max(const period_view *v, size_t k)
{
    return v->r[k] > v->r[k - 1] && v->r[k] >= v->r[k + 1] && v->r[k] > 0.0;
}

/* The search on one transformed series; 0 when nothing qualifies. */
static size_t view_search(const period_view *v, size_t hint, double *scratch)
{
    if (v->constant || v->max_lag < 2)
        return 0;
    if (hint >= 2 && hint <= v->max_lag) {
        /* A hint was not searched for: a single one-sided test. The peak
         * may sit a lag off when the true period is not an integer. */
        size_t best = 0;
        for (size_t k = hint > 2 ? hint - 1 : 2; k <= hint + 1 && k <= v->max_lag; k++)
            if (is_local_max(v, k))
                best = k;
        double z = gsl_cdf_ugaussian_Qinv(PERIOD_HINT_ALPHA);
        if (best && v->r[hint] >= PERIOD_R_MIN && v->r[hint] > z * bartlett_se(v, hint) &&
            periodogram_confirms(v, hint, scratch))
            return hint;
    }
    /* Bonferroni over every peak searched. */
    size_t n_cand = 0;
    for (size_t k = 2; k <= v->max_lag; k++)
        n_cand += (size_t)is_local_max(v, k);
    if (n_cand == 0)
        return 0;
    double z = gsl_cdf_ugaussian_Qinv(PERIOD_ALPHA / (double)n_cand);
    double rmax = 0.0;
    for (size_t k = 2; k <= v->max_lag; k++)
        if (is_local_max(v, k) && v->r[k] >= PERIOD_R_MIN && v->r[k] > z * bartlett_se(v, k) &&
            v->r[k] > rmax)
            rmax = v->r[k];
    if (rmax <= 0.0)
        return 0;
    for (size_t k = 2; k <= v->max_lag; k++)
        if (is_local_max(v, k) && v->r[k] >= PERIOD_R_MIN &&
            v->r[k] > z * bartlett_se(v, k) && v->r[k] >= PERIOD_PEAK_FRACTION * rmax &&
            periodogram_confirms(v, k, scratch))
            return k;
    return 0;
}

/* x = y minus its least-squares line. */
static void detrend(const double *y, size_t n, double *x)
{
    double tbar = 0.5 * (double)(n - 1), ybar = 0.0, sxy = 0.0, sxx = 0.0;
    for (size_t t = 0; t < n; t++)
        ybar += y[t];
    ybar /= (double)n;
    for (size_t t = 0; t < n; t++) {
        double dt = (double)t - tbar;
        sxy += dt * (y[t] - ybar);
        sxx += dt * dt;
    }
    double b = sxy / sxx;
    for (size_t t = 0; t < n; t++)
        x[t] = y[t] - ybar - b * ((double)t - tbar);
}

tsa_status tsa_stat_period_detect(const double *y, size_t n, size_t hint, size_t *period)
{
    TSA_FAIL_IF(!y || !period, TSA_EINVAL, "period detection: NULL argument");
    *period = 0;
    if (n > TSA_STAT_PERIOD_MAX_INPUT) {
        y += n - TSA_STAT_PERIOD_MAX_INPUT;
        n = TSA_STAT_PERIOD_MAX_INPUT;
    }
    if (n < 8)
        return TSA_OK;
    for (size_t t = 0; t < n; t++)
        TSA_FAIL_IF(!isfinite(y[t]), TSA_ENONFINITE, "period detection: value %zu is not finite",
                    t);
    double *x = malloc(n * sizeof *x);
    TSA_FAIL_IF(!x, TSA_ENOMEM, "period detection: out of memory");
    const size_t max_period = n / 2;

    /* Two views: the series minus a least-squares line, which keeps a
     * seasonal pattern intact under a linear trend, and first differences,
     * for a pattern riding on a stochastic level (a random walk becomes
     * white noise there and is rejected like it). A detrended series whose
     * lag-1 autocorrelation reaches PERIOD_PERSISTENT behaves like an
     * integrated one: its slowly decaying autocorrelations shift seasonal
     * peaks to shorter lags, so the differences are searched first. */
    detrend(y, n, x);
    double c0 = 0.0, c1 = 0.0;
    for (size_t t = 0; t < n; t++)
        c0 += x[t] * x[t];
    for (size_t t = 1; t < n; t++)
        c1 += x[t] * x[t - 1];
    const int diff_first = c0 > 0.0 && c1 / c0 >= PERIOD_PERSISTENT;

    tsa_status rc = TSA_OK;
    size_t found = 0;
    for (int step = 0; step < 2 && !found && rc == TSA_OK; step++) {
        const int differenced = step == 0 ? diff_first : !diff_first;
        size_t nx;
        if (differenced) {
            for (size_t t = 1; t < n; t++)
                x[t - 1] = y[t] - y[t - 1];
            nx = n - 1;
        } else {
            detrend(y, n, x);
            nx = n;
        }
        size_t max_lag = max_period < nx - 2 ? max_period : nx - 2;
        period_view v;
        rc = view_build(&v, x, nx, max_lag);
        if (rc != TSA_OK)
            break;
        double *scratch = malloc((v.N / 2 + 1) * sizeof *scratch);
        if (!scratch) {
            view_free(&v);
            rc = tsa_error(TSA_ENOMEM, "period detection: out of memory");
            break;
        }
        found = view_search(&v, hint, scratch);
        free(scratch);
        view_free(&v);
    }
    free(x);
    if (rc == TSA_OK)
        *period = found;
    return rc;
}

size_t tsa_stat_period_hint(int64_t step, size_t n)
{
    const int64_t day = 86400;
    size_t p = 0;
    if (step <= 0)
        return 0;
    if (step < day && day % step == 0)
        p = (size_t)(day / step);
    else if (step == day)
        p = 7;
    else if (step == 7 * day)
        p = 52;
    else if (step >= 28 * day && step <= 31 * day)
        p = 12;
    else if (step >= 89 * day && step <= 92 * day)
        p = 4;
    return p >= 2 && p <= n / 2 ? p : 0;
}

tsa_status tsa_stat_period_choose(const double *y, size_t n, int64_t step_seconds,
                                  int64_t requested, size_t *period, int *source)
{
    TSA_FAIL_IF(!period || !source, TSA_EINVAL, "period: NULL argument");
    if (requested > 0) {
        *period = (size_t)requested;
        *source = TSA_STAT_PERIOD_PARAM;
        return TSA_OK;
    }
    size_t hint = tsa_stat_period_hint(step_seconds, n), found = 0;
    TSA_TRY(tsa_stat_period_detect(y, n, hint, &found));
    *period = found ? found : 1;
    *source = !found ? TSA_STAT_PERIOD_NONE
                     : (hint && found == hint ? TSA_STAT_PERIOD_TIMESTAMPS
                                              : TSA_STAT_PERIOD_DETECTED);
    return TSA_OK;
}

const char *tsa_stat_period_source_name(int source)
{
    switch (source) {
    case TSA_STAT_PERIOD_NONE:
        return "none";
    case TSA_STAT_PERIOD_PARAM:
        return "parameter";
    case TSA_STAT_PERIOD_DETECTED:
        return "detected";
    case TSA_STAT_PERIOD_TIMESTAMPS:
        return "timestamps";
    default:
        return "?";
    }
}

tsa_status tsa_stat_decompose(const double *y, size_t n, size_t m, int multiplicative,
                              double *figure)
{
    TSA_FAIL_IF(!y || !figure, TSA_EINVAL, "decomposition: NULL argument");
    TSA_FAIL_IF(m < 2, TSA_EINVAL, "decomposition: period must be >= 2, got %zu", m);
    TSA_FAIL_IF(n < 2 * m, TSA_ETOOSHORT,
                "decomposition: needs two full periods (%zu values) for period %zu, got %zu",
                2 * m, m, n);
    double *sum = calloc(m, sizeof *sum);
    size_t *cnt = calloc(m, sizeof *cnt);
    if (!sum || !cnt) {
        free(sum);
        free(cnt);
        return tsa_error(TSA_ENOMEM, "decomposition: out of memory");
    }
    /* Centred moving average: m terms for odd m; for even m, m + 1 terms
     * with half weights at both ends, so it stays centred. A running sum
     * makes it O(n). */
    const size_t h = m / 2;
    const int even = (m % 2) == 0;
    double run = 0.0; /* sum of y[t - h .. t + h] */
    for (size_t j = 0; j <= 2 * h; j++)
        run += y[j];
    tsa_status rc = TSA_OK;
    for (size_t t = h; t + h < n; t++) {
        if (t > h)
            run += y[t + h] - y[t - h - 1];
        double trend = even ? (run - 0.5 * (y[t - h] + y[t + h])) / (double)m : run / (double)m;
        double d;
        if (multiplicative) {
            if (!(trend > 0.0)) {
                rc = tsa_error(TSA_ENUMERIC,
                               "decomposition: non-positive trend %g at row %zu in a "
                               "multiplicative decomposition",
                               trend, t);
                break;
            }
            d = y[t] / trend;
        } else {
            d = y[t] - trend;
        }
        sum[t % m] += d;
        cnt[t % m]++;
    }
    if (rc == TSA_OK) {
        double mean = 0.0;
        for (size_t k = 0; k < m; k++) {
            figure[k] = sum[k] / (double)cnt[k]; /* n >= 2m: every position is covered */
            mean += figure[k];
        }
        mean /= (double)m;
        for (size_t k = 0; k < m; k++) {
            if (multiplicative)
                figure[k] /= mean;
            else
                figure[k] -= mean;
        }
    }
    free(sum);
    free(cnt);
    return rc;
}
