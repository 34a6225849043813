/* Empirical CDF of normal scores with an exponential tail (see calibrate.h). */
#include "anomaly/calibrate.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Sorts v (n finite values) ascending: a least-significant-digit radix
 * sort over the IEEE-754 bit patterns, mapped so that unsigned order is
 * numeric order (sign bit flipped for non-negative values, all bits for
 * negative ones); -0 sorts just below +0. Eight passes of 8 bits, a pass
 * skipped when every key has the same digit: linear time, and several
 * times faster than qsort with a comparison callback at the sizes of
 * training series. tmp: (2 n) scratch. */
static void sort_doubles(double *v, size_t n, uint64_t *tmp)
{
    uint64_t *a = tmp, *b = tmp + n;
    for (size_t i = 0; i < n; i++) {
        uint64_t u;
        memcpy(&u, &v[i], sizeof u);
        a[i] = (u >> 63) ? ~u : u | ((uint64_t)1 << 63);
    }
    for (int shift = 0; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++)
            count[((a[i] >> shift) & 0xff) + 1]++;
        if (count[((a[0] >> shift) & 0xff) + 1] == n)
            continue;
        for (size_t d = 0; d < 256; d++)
            count[d + 1] += count[d];
        for (size_t i = 0; i < n; i++)
            b[count[(a[i] >> shift) & 0xff]++] = a[i];
        uint64_t *t = a;
        a = b;
        b = t;
    }
    for (size_t i = 0; i < n; i++) {
        uint64_t u = (a[i] >> 63) ? a[i] & ~((uint64_t)1 << 63) : ~a[i];
        memcpy(&v[i], &u, sizeof u);
    }
}

/* Linear-interpolated quantile of sorted @v at level @p in [0, 1]. */
static double quantile(const double *v, size_t n, double p)
{
    double pos = p * (double)(n - 1);
    size_t i = (size_t)pos;
    if (i >= n - 1)
        return v[n - 1];
    double f = pos - (double)i;
    return v[i] + f * (v[i + 1] - v[i]);
}

tsa_status tsa_calibrator_fit(tsa_calibrator *c, const double *scores, size_t n)
{
    TSA_FAIL_IF(n < 2, TSA_ETOOSHORT, "calibration: needs at least 2 scores, got %zu", n);
    for (size_t i = 0; i < n; i++)
        TSA_FAIL_IF(!isfinite(scores[i]), TSA_ENONFINITE, "calibration: score %zu is not finite", i);
    double *v = malloc(n * sizeof *v);
    uint64_t *tmp = malloc(2 * n * sizeof *tmp);
    if (!v || !tmp) {
        free(v);
        free(tmp);
        return tsa_error(TSA_ENOMEM, "calibration: out of memory");
    }
    memcpy(v, scores, n * sizeof *v);
    sort_doubles(v, n, tmp);
    free(tmp);
    c->n_q = n < TSA_CALIB_QUANTILES ? n : TSA_CALIB_QUANTILES;
    for (size_t i = 0; i < c->n_q; i++)
        c->q[i] = quantile(v, n, (double)i / (double)(c->n_q - 1));
    c->tail_start = quantile(v, n, 0.9);
    double excess = 0;
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (v[i] > c->tail_start) {
            excess += v[i] - c->tail_start;
            m++;
        }
    double spread = v[n - 1] - v[0];
    c->tail_scale = m ? excess / (double)m : 0.0;
    if (!(c->tail_scale > 0)) /* degenerate (constant) scores */
        c->tail_scale = spread > 0 ? spread / (double)n : 1e-12 + 1e-9 * fabs(c->tail_start);
    free(v);
    return TSA_OK;
}

double tsa_calibrator_cdf(const tsa_calibrator *c, double s)
{
    if (isnan(s))
        return 0.0;
    if (s >= c->tail_start) {
        /* Above the 90th percentile: exponential tail anchored at 0.9. */
        return 0.9 + 0.1 * (1.0 - exp(-(s - c->tail_start) / c->tail_scale));
    }
    const double *q = c->q;
    const size_t n = c->n_q;
    if (s < q[0])
        return 0.0;
    /* Largest i with q[i] <= s, then interpolate within [q[i], q[i+1]]. */
    size_t lo = 0, hi = n - 1;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (q[mid] <= s)
            lo = mid;
        else
            hi = mid;
    }
    double f = q[hi] > q[lo] ? (s - q[lo]) / (q[hi] - q[lo]) : 1.0;
    if (f > 1.0)
        f = 1.0;
    double p = ((double)lo + f) / (double)(n - 1);
    return p < 0.9 ? p : 0.9;
}

void tsa_calibrator_save(const tsa_calibrator *c, tsa_wbuf *w)
{
    tsa_wbuf_u32(w, (uint32_t)c->n_q);
    tsa_wbuf_f64s(w, c->q, c->n_q);
    tsa_wbuf_f64(w, c->tail_start);
    tsa_wbuf_f64(w, c->tail_scale);
}

tsa_status tsa_calibrator_load(tsa_calibrator *c, tsa_rbuf *r)
{
    uint32_t n;
    if (tsa_rbuf_u32(r, &n) != 0 || n < 2 || n > TSA_CALIB_QUANTILES)
        return tsa_error(TSA_EFORMAT, "model data: bad calibration table");
    c->n_q = n;
    if (tsa_rbuf_f64s(r, c->q, n) != 0 || tsa_rbuf_f64(r, &c->tail_start) != 0 ||
        tsa_rbuf_f64(r, &c->tail_scale) != 0)
        return tsa_error(TSA_EFORMAT, "model data: truncated calibration table");
    for (size_t i = 0; i < n; i++)
        if (!isfinite(c->q[i]) || (i && c->q[i] < c->q[i - 1]))
            return tsa_error(TSA_EFORMAT, "model data: calibration quantiles not increasing");
    if (!isfinite(c->tail_start) || !(c->tail_scale > 0) || !isfinite(c->tail_scale))
        return tsa_error(TSA_EFORMAT, "model data: bad calibration tail");
    return TSA_OK;
}
