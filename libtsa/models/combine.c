/* Forecast combination: the mean, median or weighted mean of member
 * forecasts (Bates & Granger 1969, "The combination of forecasts"). One
 * implementation for the ensemble kind and for the services, which combine
 * forecasts of stored models or of other agents. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "core/error.h"
#include "models/kind.h"

static const char *const method_names[] = {"mean", "median", "weighted_average"};

TSA_API tsa_status tsa_combine_method_from_name(const char *name, tsa_combine_method *out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_FAIL_IF(!name, TSA_EINVAL, "method: must be mean, median or weighted_average, got NULL");
    for (size_t i = 0; i < sizeof method_names / sizeof *method_names; i++)
        if (!strcmp(name, method_names[i])) {
            *out = (tsa_combine_method)i;
            return TSA_OK;
        }
    return tsa_error(TSA_EINVAL, "method: must be mean, median or weighted_average, got '%.64s'", name);
}

TSA_API const char *tsa_combine_method_name(tsa_combine_method method)
{
    unsigned i = (unsigned)method;
    return i < sizeof method_names / sizeof *method_names ? method_names[i] : "unknown";
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The one-step standard deviation member @p fc's interval implies, averaged
 * over the features; 0 when the interval has no width. */
static double implied_sd(const tsa_forecast *fc)
{
    const double z = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * fc->interval);
    double acc = 0;
    for (size_t f = 0; f < fc->n_features; f++)
        acc += fc->upper[f] - fc->lower[f];
    return acc / (double)fc->n_features / (2.0 * z);
}

static tsa_status check_members(const tsa_forecast *const *members, size_t n)
{
    const tsa_forecast *a = members[0];
    for (size_t i = 0; i < n; i++) {
        const tsa_forecast *b = members[i];
        TSA_FAIL_IF(!b || !b->mean || !b->lower || !b->upper, TSA_EINVAL,
                    "members[%zu]: must be a forecast with mean, lower and upper", i);
        TSA_FAIL_IF(b->horizon < 1 || b->n_features < 1, TSA_ESHAPE,
                    "members[%zu]: has no steps or no features", i);
        TSA_FAIL_IF(b->horizon != a->horizon || b->n_features != a->n_features, TSA_ESHAPE,
                    "members[%zu]: shape (%zu steps, %zu features) differs from members[0] "
                    "(%zu, %zu)",
                    i, b->horizon, b->n_features, a->horizon, a->n_features);
        TSA_FAIL_IF(!(fabs(b->interval - a->interval) <= 1e-12), TSA_ESHAPE,
                    "members[%zu]: interval %g differs from members[0]'s %g", i, b->interval,
                    a->interval);
        TSA_FAIL_IF(!(b->interval > 0 && b->interval < 1), TSA_EINVAL,
                    "members[%zu]: interval must be in (0, 1), got %g", i, b->interval);
        for (size_t t = 0; t < b->horizon * b->n_features; t++)
            TSA_FAIL_IF(!isfinite(b->mean[t]) || !isfinite(b->lower[t]) || !isfinite(b->upper[t]),
                        TSA_ENONFINITE, "members[%zu]: value %zu is not finite", i, t);
    }
    return TSA_OK;
}

/* Normalised weights into @p w: given, derived from the intervals, or equal. */
static tsa_status combine_weights(const tsa_forecast *const *members, size_t n,
                                  tsa_combine_method method, const double *given, double *w)
{
    double sum = 0;
    if (method == TSA_COMBINE_WEIGHTED && given) {
        for (size_t i = 0; i < n; i++) {
            TSA_FAIL_IF(!isfinite(given[i]) || given[i] < 0, TSA_EINVAL,
                        "weights[%zu]: must be finite and >= 0, got %g", i, given[i]);
            w[i] = given[i];
            sum += w[i];
        }
        TSA_FAIL_IF(!(sum > 0), TSA_EINVAL, "weights: must not all be 0");
    } else if (method == TSA_COMBINE_WEIGHTED) {
        int equal = 0;
        for (size_t i = 0; i < n; i++) {
            double sd = implied_sd(members[i]);
            if (!(sd > 0) || !isfinite(sd))
                equal = 1;
            else
                w[i] = 1.0 / sd;
        }
        for (size_t i = 0; i < n; i++) {
            if (equal)
                w[i] = 1.0;
            sum += w[i];
        }
    } else {
        for (size_t i = 0; i < n; i++)
            w[i] = 1.0;
        sum = (double)n;
    }
    for (size_t i = 0; i < n; i++)
        w[i] /= sum;
    return TSA_OK;
}

/* One combined value of the @p n values @p v (sorted in place for the median). */
static double combine_one(tsa_combine_method method, const double *w, double *v, size_t n)
{
    if (method == TSA_COMBINE_MEDIAN) {
        qsort(v, n, sizeof *v, cmp_double);
        return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    }
    double acc = 0;
    for (size_t i = 0; i < n; i++)
        acc += w[i] * v[i];
    return acc;
}

TSA_API tsa_status tsa_forecast_combine(const tsa_forecast *const *members, size_t n,
                                        tsa_combine_method method, const double *weights,
                                        double *weights_used, tsa_forecast **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_FAIL_IF(!members, TSA_EINVAL, "members: must not be NULL");
    TSA_FAIL_IF(n < 1, TSA_EINVAL, "n: must be at least 1");
    TSA_FAIL_IF((unsigned)method > TSA_COMBINE_WEIGHTED, TSA_EINVAL,
                "method: must be TSA_COMBINE_MEAN, _MEDIAN or _WEIGHTED, got %d", (int)method);
    TSA_TRY(check_members(members, n));

    const tsa_forecast *first = members[0];
    const size_t h = first->horizon, k = first->n_features, len = h * k;
    tsa_status rc = TSA_OK;
    double *w = malloc(n * sizeof *w), *v = malloc(n * sizeof *v);
    tsa_forecast *fc = calloc(1, sizeof *fc);
    if (fc) {
        fc->horizon = h;
        fc->n_features = k;
        fc->interval = first->interval;
        fc->mean = malloc(len * sizeof(double));
        fc->lower = malloc(len * sizeof(double));
        fc->upper = malloc(len * sizeof(double));
    }
    if (!w || !v || !fc || !fc->mean || !fc->lower || !fc->upper) {
        rc = tsa_error(TSA_ENOMEM, "combine: out of memory for %zu members of %zu steps", n, h);
        goto done;
    }
    TSA_CHECK_GOTO(combine_weights(members, n, method, weights, w), rc, done);
    for (size_t i = 0; i < n && !fc->timestamps; i++)
        if (members[i]->timestamps) {
            fc->timestamps = malloc(h * sizeof(int64_t));
            if (!fc->timestamps) {
                rc = tsa_error(TSA_ENOMEM, "combine: out of memory for %zu steps", h);
                goto done;
            }
            memcpy(fc->timestamps, members[i]->timestamps, h * sizeof(int64_t));
        }
    for (size_t t = 0; t < len; t++) {
        for (size_t i = 0; i < n; i++)
            v[i] = members[i]->mean[t];
        const double mean = combine_one(method, w, v, n);
        for (size_t i = 0; i < n; i++)
            v[i] = members[i]->lower[t];
        const double lower = combine_one(method, w, v, n);
        for (size_t i = 0; i < n; i++)
            v[i] = members[i]->upper[t];
        const double upper = combine_one(method, w, v, n);
        fc->mean[t] = mean;
        fc->lower[t] = lower < mean ? lower : mean;
        fc->upper[t] = upper > mean ? upper : mean;
    }
    if (weights_used)
        memcpy(weights_used, w, n * sizeof *w);
done:
    free(w);
    free(v);
    if (rc != TSA_OK) {
        tsa_forecast_free(fc);
        return rc;
    }
    *out = fc;
    return TSA_OK;
}
