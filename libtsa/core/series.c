/* Series validation and missing-value handling. */
#include "core/series.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

tsa_status tsa_series_check(const tsa_series *s, const char *what)
{
    TSA_FAIL_IF(!s, TSA_EINVAL, "%s: must not be NULL", what);
    TSA_FAIL_IF(!s->values, TSA_EINVAL, "%s: values must not be NULL", what);
    TSA_FAIL_IF(s->length == 0, TSA_EINVAL, "%s: empty series (length 0)", what);
    TSA_FAIL_IF(s->n_features == 0, TSA_EINVAL, "%s: n_features must be at least 1", what);
    TSA_FAIL_IF(s->n_features > TSA_MAX_VALUES || s->length > TSA_MAX_VALUES / s->n_features,
                TSA_EINVAL, "%s: %zu x %zu values exceed the limit of %zu", what, s->length,
                s->n_features, TSA_MAX_VALUES);
    const size_t n = s->length * s->n_features;
    for (size_t i = 0; i < n; i++) {
        if (s->mask && s->mask[i])
            continue;
        if (!isfinite(s->values[i]))
            return tsa_error(TSA_ENONFINITE,
                             "%s: value at row %zu, feature %zu is %s and not marked missing",
                             what, i / s->n_features, i % s->n_features,
                             isnan(s->values[i]) ? "NaN" : "infinite");
    }
    if (s->timestamps)
        for (size_t t = 1; t < s->length; t++)
            TSA_FAIL_IF(s->timestamps[t] <= s->timestamps[t - 1], TSA_EINVAL,
                        "%s: timestamps must increase strictly (row %zu: %lld after %lld)",
                        what, t, (long long)s->timestamps[t], (long long)s->timestamps[t - 1]);
    return TSA_OK;
}

TSA_API tsa_status tsa_series_validate(const tsa_series *s) { return tsa_series_check(s, "series"); }

int tsa_series_has_missing(const tsa_series *s)
{
    if (!s->mask)
        return 0;
    for (size_t i = 0; i < s->length * s->n_features; i++)
        if (s->mask[i])
            return 1;
    return 0;
}

tsa_status tsa_series_fill_missing(const tsa_series *s, const char *what, double **out)
{
    const size_t T = s->length, k = s->n_features;
    double *v = malloc(T * k * sizeof *v);
    TSA_FAIL_IF(!v, TSA_ENOMEM, "%s: out of memory", what);
    memcpy(v, s->values, T * k * sizeof *v);
    if (!s->mask) {
        *out = v;
        return TSA_OK;
    }
    for (size_t j = 0; j < k; j++) {
        size_t prev = SIZE_MAX; /* last observed row */
        for (size_t t = 0; t < T; t++) {
            if (s->mask[t * k + j])
                continue;
            if (prev == SIZE_MAX) {
                for (size_t u = 0; u < t; u++) /* leading gap: nearest value */
                    v[u * k + j] = v[t * k + j];
            } else if (t > prev + 1) {
                double a = v[prev * k + j], b = v[t * k + j];
                for (size_t u = prev + 1; u < t; u++)
                    v[u * k + j] = a + (b - a) * (double)(u - prev) / (double)(t - prev);
            }
            prev = t;
        }
        if (prev == SIZE_MAX) {
            free(v);
            return tsa_error(TSA_EINVAL, "%s: feature %zu has no observed value", what, j);
        }
        for (size_t u = prev + 1; u < T; u++) /* trailing gap */
            v[u * k + j] = v[prev * k + j];
    }
    *out = v;
    return TSA_OK;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t tsa_series_median_step(const tsa_series *s)
{
    if (!s->timestamps || s->length < 2)
        return 0;
    size_t n = s->length - 1;
    int64_t *d = malloc(n * sizeof *d);
    if (!d) /* fall back to the last spacing */
        return s->timestamps[n] - s->timestamps[n - 1];
    for (size_t i = 0; i < n; i++)
        d[i] = s->timestamps[i + 1] - s->timestamps[i];
    qsort(d, n, sizeof *d, cmp_i64);
    int64_t step = d[n / 2];
    free(d);
    return step > 0 ? step : 1;
}
