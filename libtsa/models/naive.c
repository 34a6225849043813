/* The "naive" and "seasonal_naive" kinds (Hyndman & Athanasopoulos,
 * "Forecasting: Principles and Practice", 3rd ed., sec. 5.2 and 5.5).
 *
 * naive: y_{T+h|T} = y_T, standard deviation sigma sqrt(h).
 * seasonal_naive with period m: y_{T+h|T} = y_{T - m + ((h - 1) mod m) + 1}
 * (1-based; the value one season back), standard deviation
 * sigma sqrt(floor((h - 1) / m) + 1). naive is the case m = 1.
 *
 * sigma is the residual standard deviation of the one-step forecasts on the
 * training series, sqrt(sum e_t^2 / (T - m)) with e_t = y_t - y_{t-m} (FPP3
 * sec. 5.5: T - K - M with no parameters, K = 0, and M = m missing
 * residuals). It is not de-meaned: the methods have no drift.
 *
 * Anomaly score: |e_t| / sigma, calibrated by the empirical CDF of the
 * training scores (anomaly/calibrate.h). The first m steps of a scored
 * series have no forecast and score 0. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "anomaly/calibrate.h"
#include "core/error.h"
#include "core/series.h"
#include "models/kind.h"
#include "stat/period.h"

#define NAIVE_LAYOUT_VERSION 1u
#define NAIVE_MAX_PERIOD 100000

#define SEED_SPEC                                                                     \
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,                    \
     "Random seed (accepted for uniformity; the naive methods are deterministic)."}

static const tsa_param_spec naive_params[] = {SEED_SPEC};

static const tsa_param_spec snaive_params[] = {
    {"period", TSA_PARAM_INT, 0, NULL, 0, NAIVE_MAX_PERIOD, NULL,
     "Seasonal period m; 0 detects it from the autocorrelation function (with the "
     "timestamps' spacing as a hint), falling back to 1 (the naive method) when the series "
     "shows no seasonality."},
    SEED_SPEC,
};

typedef struct naive_state {
    size_t m;           /* lag of the forecast: 1 for naive */
    int source;         /* TSA_STAT_PERIOD_* */
    double sigma;       /* residual standard deviation, > 0 */
    size_t n_resid;     /* T - m */
    tsa_calibrator cal;
} naive_state;

static const naive_state *naive_get(const tsa_model *m)
{
    const naive_state *s = m->state;
    return s && s->m ? s : NULL;
}

static void naive_destroy(void *state) { (void)state; }

/* The smallest sigma: a training series that repeats exactly would make
 * every deviation infinitely anomalous. */
static double sigma_floor(const double *y, size_t n)
{
    double ymax = 0.0;
    for (size_t t = 0; t < n; t++)
        if (fabs(y[t]) > ymax)
            ymax = fabs(y[t]);
    return 1e-12 * (ymax > 0.0 ? ymax : 1.0);
}

static tsa_status naive_fit_lag(naive_state *st, const tsa_series *train, size_t lag,
                                int source, size_t *tail_len)
{
    const double *y = train->values;
    const size_t n = train->length;
    TSA_FAIL_IF(n < lag + 2, TSA_ETOOSHORT,
                "train: needs at least %zu rows for period %zu (two residuals), got %zu",
                lag + 2, lag, n);
    const size_t nr = n - lag;
    double sse = 0.0;
    for (size_t t = lag; t < n; t++)
        sse += (y[t] - y[t - lag]) * (y[t] - y[t - lag]);
    double sigma = sqrt(sse / (double)nr), fl = sigma_floor(y, n);
    if (!(sigma > fl))
        sigma = fl;
    TSA_FAIL_IF(!isfinite(sigma), TSA_ENUMERIC, "train: residual variance overflows");
    double *sc = malloc(nr * sizeof *sc);
    TSA_FAIL_IF(!sc, TSA_ENOMEM, "fit: out of memory");
    for (size_t t = lag; t < n; t++)
        sc[t - lag] = fabs(y[t] - y[t - lag]) / sigma;
    tsa_status rc = tsa_calibrator_fit(&st->cal, sc, nr);
    free(sc);
    TSA_TRY(rc);
    st->m = lag;
    st->source = source;
    st->sigma = sigma;
    st->n_resid = nr;
    *tail_len = lag;
    return TSA_OK;
}

static tsa_status naive_fit(const tsa_model *m, void *state, const tsa_series *train,
                            const tsa_fit_ctx *ctx, size_t *tail_len)
{
    (void)m;
    (void)ctx;
    return naive_fit_lag(state, train, 1, TSA_STAT_PERIOD_PARAM, tail_len);
}

static tsa_status snaive_fit(const tsa_model *m, void *state, const tsa_series *train,
                             const tsa_fit_ctx *ctx, size_t *tail_len)
{
    (void)ctx;
    int64_t requested = tsa_param_int(m, "period");
    TSA_FAIL_IF(requested < 0 || requested > NAIVE_MAX_PERIOD, TSA_EPARAM,
                "period: must be in [0, %d], got %lld", NAIVE_MAX_PERIOD, (long long)requested);
    size_t period = 1;
    int source = TSA_STAT_PERIOD_NONE;
    TSA_TRY(tsa_stat_period_choose(train->values, train->length, tsa_series_median_step(train),
                                   requested, &period, &source));
    return naive_fit_lag(state, train, period, source, tail_len);
}

static size_t naive_context_length(const tsa_model *m)
{
    const naive_state *s = naive_get(m);
    return s ? s->m : 0;
}

static tsa_status naive_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                                 double interval, tsa_forecast *fc)
{
    const naive_state *s = naive_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "forecast: the model is not fitted");
    const size_t L = history->length, lag = s->m;
    TSA_FAIL_IF(L < lag, TSA_ETOOSHORT, "history: needs at least %zu rows, got %zu", lag, L);
    const double z = gsl_cdf_ugaussian_Pinv(0.5 * (1.0 + interval));
    for (size_t h = 1; h <= horizon; h++) {
        double mu = history->values[L - lag + (h - 1) % lag];
        double sd = s->sigma * sqrt((double)((h - 1) / lag) + 1.0);
        fc->mean[h - 1] = mu;
        fc->lower[h - 1] = mu - z * sd;
        fc->upper[h - 1] = mu + z * sd;
    }
    return TSA_OK;
}

static tsa_status naive_score(const tsa_model *m, const tsa_series *x, double *raw,
                              double *calibrated)
{
    const naive_state *s = naive_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "score: the model is not fitted");
    const double *y = x->values;
    for (size_t t = 0; t < x->length; t++) {
        if (t < s->m) {
            raw[t] = calibrated[t] = 0.0;
            continue;
        }
        raw[t] = fabs(y[t] - y[t - s->m]) / s->sigma;
        calibrated[t] = tsa_calibrator_cdf(&s->cal, raw[t]);
    }
    return TSA_OK;
}

static tsa_status naive_save(const tsa_model *m, tsa_wbuf *w)
{
    const naive_state *s = naive_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "save: the naive state is missing");
    tsa_wbuf_u32(w, NAIVE_LAYOUT_VERSION);
    tsa_wbuf_u64(w, s->m);
    tsa_wbuf_u8(w, (uint8_t)s->source);
    tsa_wbuf_f64(w, s->sigma);
    tsa_wbuf_u64(w, s->n_resid);
    tsa_calibrator_save(&s->cal, w);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the naive state");
    return TSA_OK;
}

static tsa_status naive_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    naive_state s;
    memset(&s, 0, sizeof s);
    uint32_t version;
    uint64_t lag, nr;
    uint8_t source;
    if (tsa_rbuf_u32(r, &version) || tsa_rbuf_u64(r, &lag) || tsa_rbuf_u8(r, &source) ||
        tsa_rbuf_f64(r, &s.sigma) || tsa_rbuf_u64(r, &nr))
        return tsa_error(TSA_EFORMAT, "naive state: truncated");
    TSA_FAIL_IF(version != NAIVE_LAYOUT_VERSION, TSA_EFORMAT,
                "naive state: unknown layout version %u", (unsigned)version);
    TSA_FAIL_IF(m->n_features != 1, TSA_EFORMAT, "naive state: %zu features, the kind is univariate",
                m->n_features);
    const int is_naive = m->kind->params == naive_params;
    TSA_FAIL_IF(lag < 1 || lag > NAIVE_MAX_PERIOD || (is_naive && lag != 1) ||
                    lag + 2 > m->n_train,
                TSA_EFORMAT, "naive state: period %llu inconsistent with %zu training rows",
                (unsigned long long)lag, m->n_train);
    TSA_FAIL_IF(source > TSA_STAT_PERIOD_TIMESTAMPS, TSA_EFORMAT,
                "naive state: unknown period source %u", (unsigned)source);
    TSA_FAIL_IF(nr != m->n_train - lag, TSA_EFORMAT,
                "naive state: %llu residuals, expected %zu", (unsigned long long)nr,
                m->n_train - (size_t)lag);
    TSA_FAIL_IF(!(s.sigma > 0.0) || !isfinite(s.sigma), TSA_EFORMAT,
                "naive state: bad residual standard deviation");
    TSA_TRY(tsa_calibrator_load(&s.cal, r));
    s.m = (size_t)lag;
    s.source = source;
    s.n_resid = (size_t)nr;
    memcpy(state, &s, sizeof s);
    return TSA_OK;
}

static tsa_status naive_info(const tsa_model *m, cJSON *obj)
{
    const naive_state *s = naive_get(m);
    if (!s)
        return TSA_OK;
    int bad = 0;
    bad |= !cJSON_AddNumberToObject(obj, "period", (double)s->m);
    if (m->kind->params != naive_params)
        bad |= !cJSON_AddStringToObject(obj, "period_source",
                                        tsa_stat_period_source_name(s->source));
    bad |= !cJSON_AddNumberToObject(obj, "sigma", s->sigma);
    bad |= !cJSON_AddNumberToObject(obj, "n_residuals", (double)s->n_resid);
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the naive state");
    return TSA_OK;
}

const tsa_kind tsa_kind_naive = {
    .name = "naive",
    .aliases = NULL,
    .description = "Naive method: the last value, intervals sigma sqrt(h) from the one-step "
                   "residuals; anomaly score = |one-step residual| / sigma, calibrated on the "
                   "training scores.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_INTERVALS,
    .params = naive_params,
    .n_params = sizeof naive_params / sizeof naive_params[0],
    .state_size = sizeof(naive_state),
    .destroy = naive_destroy,
    .fit = naive_fit,
    .context_length = naive_context_length,
    .forecast = naive_forecast,
    .score = naive_score,
    .save = naive_save,
    .load = naive_load,
    .info = naive_info,
};

const tsa_kind tsa_kind_seasonal_naive = {
    .name = "seasonal_naive",
    .aliases = NULL,
    .description = "Seasonal naive method: the value one season back (period given or "
                   "detected), intervals sigma sqrt(floor((h-1)/m)+1); anomaly score = "
                   "|one-step residual| / sigma, calibrated on the training scores.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_INTERVALS,
    .params = snaive_params,
    .n_params = sizeof snaive_params / sizeof snaive_params[0],
    .state_size = sizeof(naive_state),
    .destroy = naive_destroy,
    .fit = snaive_fit,
    .context_length = naive_context_length,
    .forecast = naive_forecast,
    .score = naive_score,
    .save = naive_save,
    .load = naive_load,
    .info = naive_info,
};
