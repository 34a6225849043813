/* Calibration of raw anomaly scores to [0, 1]: the empirical CDF of the
 * scores of normal (training or validation) data, kept as a fixed number of
 * quantiles, with an exponential tail fitted to the exceedances over the 90th
 * percentile so that scores beyond the largest one seen stay ordered
 * (the peaks-over-threshold approach; Pickands 1975, Balkema & de Haan 1974:
 * exceedances of a high threshold are approximately generalised Pareto, of
 * which the exponential is the shape-0 case). */
#ifndef TSA_ANOMALY_CALIBRATE_H
#define TSA_ANOMALY_CALIBRATE_H

#include <stddef.h>

#include "core/buf.h"
#include <tsa/common.h>

#define TSA_CALIB_QUANTILES 257

typedef struct tsa_calibrator {
    size_t n_q;                       /* quantiles kept (<= TSA_CALIB_QUANTILES) */
    double q[TSA_CALIB_QUANTILES];    /* q[i] = quantile at level i / (n_q - 1) */
    double tail_start;                /* the 90th percentile */
    double tail_scale;                /* mean excess over tail_start, > 0 */
} tsa_calibrator;

/* Fits on @n finite scores (n >= 2); TSA_ETOOSHORT / TSA_ENONFINITE / TSA_ENOMEM. */
tsa_status tsa_calibrator_fit(tsa_calibrator *c, const double *scores, size_t n);

/* P(normal score < s), in [0, 1], monotone non-decreasing in s. */
double tsa_calibrator_cdf(const tsa_calibrator *c, double s);

void tsa_calibrator_save(const tsa_calibrator *c, tsa_wbuf *w);
/* TSA_EFORMAT on inconsistent data. */
tsa_status tsa_calibrator_load(tsa_calibrator *c, tsa_rbuf *r);

#endif
