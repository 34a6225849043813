/* Forecast accuracy (MAE, RMSE, MAPE, sMAPE, MASE) and detection counts.
 * Sums are plain double accumulations; a result that overflows double fails
 * with TSA_ENUMERIC rather than returning Inf. */
#include <tsa/metrics.h>

#include "core/error.h"

#include <math.h>
#include <stddef.h>

/* NULL arrays and outputs, n == 0, then non-finite values, named by index. */
static tsa_status check_pair(const double *y, const double *yhat, size_t n, const void *out)
{
    TSA_FAIL_IF(!y, TSA_EINVAL, "y: must not be NULL");
    TSA_FAIL_IF(!yhat, TSA_EINVAL, "yhat: must not be NULL");
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_FAIL_IF(n == 0, TSA_EINVAL, "n: must be > 0, got 0");
    for (size_t i = 0; i < n; i++) {
        TSA_FAIL_IF(!isfinite(y[i]), TSA_ENONFINITE, "y[%zu]: not finite", i);
        TSA_FAIL_IF(!isfinite(yhat[i]), TSA_ENONFINITE, "yhat[%zu]: not finite", i);
    }
    return TSA_OK;
}

static tsa_status finish(const char *name, double value, double *out)
{
    TSA_FAIL_IF(!isfinite(value), TSA_ENUMERIC, "%s: result overflows double", name);
    *out = value;
    return TSA_OK;
}

TSA_API tsa_status tsa_metric_mae(const double *y, const double *yhat, size_t n, double *out)
{
    TSA_TRY(check_pair(y, yhat, n, out));
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += fabs(y[i] - yhat[i]);
    return finish("mae", sum / (double)n, out);
}

TSA_API tsa_status tsa_metric_rmse(const double *y, const double *yhat, size_t n, double *out)
{
    TSA_TRY(check_pair(y, yhat, n, out));
    /* Scaled by the largest error so squares cannot overflow (as hypot). */
    double scale = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs(y[i] - yhat[i]);
        if (d > scale)
            scale = d;
    }
    if (scale == 0.0) {
        *out = 0.0;
        return TSA_OK;
    }
    TSA_FAIL_IF(!isfinite(scale), TSA_ENUMERIC, "rmse: result overflows double");
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = (y[i] - yhat[i]) / scale;
        sum += d * d;
    }
    return finish("rmse", scale * sqrt(sum / (double)n), out);
}

TSA_API tsa_status tsa_metric_mape(const double *y, const double *yhat, size_t n, double *out)
{
    TSA_TRY(check_pair(y, yhat, n, out));
    for (size_t i = 0; i < n; i++)
        TSA_FAIL_IF(y[i] == 0.0, TSA_ENUMERIC, "y[%zu]: is 0, MAPE is undefined", i);
    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += fabs(y[i] - yhat[i]) / fabs(y[i]);
    return finish("mape", 100.0 * sum / (double)n, out);
}

TSA_API tsa_status tsa_metric_smape(const double *y, const double *yhat, size_t n, double *out)
{
    TSA_TRY(check_pair(y, yhat, n, out));
    double sum = 0.0;
    for (size_t i = 0; i < n; i++) {
        /* Each term is in [0, 2]; dividing by the larger magnitude first keeps
         * |y| + |yhat| and |y - yhat| from overflowing. */
        double s = fmax(fabs(y[i]), fabs(yhat[i]));
        if (s == 0.0)
            continue; /* y = yhat = 0 counts 0 */
        double a = y[i] / s, b = yhat[i] / s;
        sum += 2.0 * fabs(a - b) / (fabs(a) + fabs(b));
    }
    return finish("smape", 100.0 * sum / (double)n, out);
}

TSA_API tsa_status tsa_metric_mase(const double *y, const double *yhat, size_t n,
                                   const double *train, size_t n_train, size_t m,
                                   double *out)
{
    TSA_FAIL_IF(!train, TSA_EINVAL, "train: must not be NULL");
    TSA_TRY(check_pair(y, yhat, n, out));
    TSA_FAIL_IF(m == 0, TSA_EINVAL, "m: must be >= 1, got 0");
    TSA_FAIL_IF(n_train <= m, TSA_EINVAL, "n_train: must be > m = %zu, got %zu", m, n_train);
    for (size_t i = 0; i < n_train; i++)
        TSA_FAIL_IF(!isfinite(train[i]), TSA_ENONFINITE, "train[%zu]: not finite", i);

    /* Hyndman & Koehler (2006), eq. for seasonal data:
     * q = e / ((1 / (T - m)) sum_{t=m+1}^{T} |Y_t - Y_{t-m}|). */
    double denom = 0.0;
    for (size_t t = m; t < n_train; t++)
        denom += fabs(train[t] - train[t - m]);
    double scale = denom / (double)(n_train - m);
    TSA_FAIL_IF(scale == 0.0, TSA_ENUMERIC,
                "train: seasonal-naive scale is 0 (train repeats with period m = %zu)", m);
    TSA_FAIL_IF(!isfinite(scale), TSA_ENUMERIC, "train: seasonal-naive scale overflows double");

    double sum = 0.0;
    for (size_t i = 0; i < n; i++)
        sum += fabs(y[i] - yhat[i]);
    double mae = sum / (double)n;
    TSA_FAIL_IF(!isfinite(mae), TSA_ENUMERIC, "mase: result overflows double");
    return finish("mase", mae / scale, out);
}

TSA_API tsa_status tsa_metric_classification(const uint8_t *labels, const uint8_t *flags,
                                             size_t n, tsa_classification *out)
{
    TSA_FAIL_IF(!labels, TSA_EINVAL, "labels: must not be NULL");
    TSA_FAIL_IF(!flags, TSA_EINVAL, "flags: must not be NULL");
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_FAIL_IF(n == 0, TSA_EINVAL, "n: must be > 0, got 0");

    size_t tp = 0, fp = 0, fn = 0, tn = 0;
    for (size_t i = 0; i < n; i++) {
        int l = labels[i] != 0, f = flags[i] != 0;
        tp += l && f;
        fp += !l && f;
        fn += l && !f;
        tn += !l && !f;
    }
    tsa_classification c;
    c.true_positives = tp;
    c.false_positives = fp;
    c.false_negatives = fn;
    c.true_negatives = tn;
    c.precision = tp + fp ? (double)tp / (double)(tp + fp) : 0.0;
    c.recall = tp + fn ? (double)tp / (double)(tp + fn) : 0.0;
    c.f1 = c.precision + c.recall > 0.0
               ? 2.0 * c.precision * c.recall / (c.precision + c.recall)
               : 0.0;
    *out = c;
    return TSA_OK;
}
