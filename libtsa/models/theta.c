/* The "theta" kind: the Theta method of Assimakopoulos & Nikolopoulos
 * (2000) as SES with drift (Hyndman & Billah 2003), seasonally adjusted as
 * forecast::thetaf does (stat/theta.c).
 *
 * Forecasts without a history continue from the SES level at the end of
 * training with the training seasonal indices. A history is run through the
 * method with the fitted alpha and drift: it takes the fitted seasonal
 * indices, rotated to its phase, which its own classical decomposition
 * locates (so it needs two full periods and need not continue the training
 * series), and its SES level starts at its first adjusted value.
 *
 * Anomaly score: |e_t| / sigma with e_t the residual of the method's
 * one-step forecast on the seasonally adjusted scale and sigma the SES
 * model's, calibrated by the empirical CDF of the training scores. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/calibrate.h"
#include "core/error.h"
#include "core/series.h"
#include "models/kind.h"
#include "stat/period.h"
#include "stat/theta.h"

#define THETA_KIND_LAYOUT_VERSION 1u
#define THETA_MAX_PERIOD 100000

static const tsa_param_spec theta_params[] = {
    {"period", TSA_PARAM_INT, 0, NULL, 0, THETA_MAX_PERIOD, NULL,
     "Seasonal period m; 0 detects it (timestamps' spacing as a hint); 1 means none. The "
     "series is seasonally adjusted when the 90% ACF test at lag m is significant, which "
     "needs more than 2m rows."},
    {"theta", TSA_PARAM_DOUBLE, 2.0, NULL, 1.0, 10.0, NULL,
     "Coefficient of the theta line combined with the linear trend line; the forecast drift "
     "is (1 - 1/theta) times the least-squares slope. 2 is the standard Theta method; 1 is "
     "plain SES."},
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,
     "Random seed (accepted for uniformity; the Theta method is deterministic)."},
};

typedef struct theta_kstate {
    tsa_stat_theta fit; /* fit.n_train == 0 until fitted */
    size_t period;      /* given or detected (1: none) */
    int source;         /* TSA_STAT_PERIOD_* */
    double sigma;       /* sqrt(fit.sigma2) */
    tsa_calibrator cal;
} theta_kstate;

static const theta_kstate *theta_get(const tsa_model *m)
{
    const theta_kstate *s = m->state;
    return s && s->fit.n_train ? s : NULL;
}

static void theta_destroy(void *state) { tsa_stat_theta_free(&((theta_kstate *)state)->fit); }

static tsa_status theta_fit(const tsa_model *m, void *state, const tsa_series *train,
                            const tsa_fit_ctx *ctx, size_t *tail_len)
{
    (void)ctx;
    int64_t requested = tsa_param_int(m, "period");
    double theta = tsa_param_double(m, "theta");
    TSA_FAIL_IF(requested < 0 || requested > THETA_MAX_PERIOD, TSA_EPARAM,
                "period: must be in [0, %d], got %lld", THETA_MAX_PERIOD, (long long)requested);
    TSA_FAIL_IF(!(theta >= 1.0 && theta <= 10.0), TSA_EPARAM, "theta: must be in [1, 10], got %g",
                theta);
    const double *y = train->values;
    const size_t n = train->length;
    TSA_FAIL_IF(requested > 1 && n <= 2 * (size_t)requested, TSA_ETOOSHORT,
                "train: %zu rows are too short for period %lld (the seasonality test needs more "
                "than two full periods, %lld rows)",
                n, (long long)requested, 2 * (long long)requested + 1);
    size_t period = 1;
    int source = TSA_STAT_PERIOD_NONE;
    TSA_TRY(tsa_stat_period_choose(y, n, tsa_series_median_step(train), requested, &period,
                                   &source));
    tsa_stat_theta fitted;
    memset(&fitted, 0, sizeof fitted);
    TSA_TRY(tsa_stat_theta_fit(&fitted, y, n, period, theta));

    theta_kstate *st = state;
    double sigma = sqrt(fitted.sigma2);
    double *resid = malloc(n * sizeof *resid);
    tsa_status rc = resid ? tsa_stat_theta_train_resid(&fitted, y, n, resid)
                          : tsa_error(TSA_ENOMEM, "fit: out of memory");
    if (rc == TSA_OK) {
        for (size_t t = 0; t < n; t++)
            resid[t] = fabs(resid[t]) / sigma;
        rc = tsa_calibrator_fit(&st->cal, resid, n);
    }
    free(resid);
    if (rc != TSA_OK) {
        tsa_stat_theta_free(&fitted);
        return rc;
    }
    tsa_stat_theta_free(&st->fit);
    st->fit = fitted;
    st->period = period;
    st->source = source;
    st->sigma = sigma;
    *tail_len = tsa_stat_theta_context(&st->fit);
    return TSA_OK;
}

static size_t theta_context_length(const tsa_model *m)
{
    const theta_kstate *s = theta_get(m);
    return s ? tsa_stat_theta_context(&s->fit) : 0;
}

static tsa_status theta_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                                 double interval, tsa_forecast *fc)
{
    const theta_kstate *s = theta_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "forecast: the model is not fitted");
    const tsa_stat_theta *th = &s->fit;
    /* The generic code passes the stored training tail when the caller gave
     * no history: then the level at the end of training is exact. */
    if (history->values == m->tail && history->length == m->tail_len)
        return tsa_stat_theta_forecast(th, th->level, th->n_train, th->season, horizon, interval,
                                       fc->mean, fc->lower, fc->upper);
    double *season = NULL, level;
    if (th->seasonal != TSA_STAT_THETA_NONE) {
        season = malloc(th->m * sizeof *season);
        TSA_FAIL_IF(!season, TSA_ENOMEM, "forecast: out of memory");
    }
    tsa_status rc =
        tsa_stat_theta_filter(th, history->values, history->length, season, &level, NULL, NULL);
    if (rc == TSA_OK)
        rc = tsa_stat_theta_forecast(th, level, history->length, season, horizon, interval,
                                     fc->mean, fc->lower, fc->upper);
    free(season);
    return rc;
}

static tsa_status theta_score(const tsa_model *m, const tsa_series *x, double *raw,
                              double *calibrated)
{
    const theta_kstate *s = theta_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "score: the model is not fitted");
    const tsa_stat_theta *th = &s->fit;
    const size_t n = x->length, ctx = tsa_stat_theta_context(th);
    double *season = NULL, level;
    if (th->seasonal != TSA_STAT_THETA_NONE) {
        season = malloc(th->m * sizeof *season);
        TSA_FAIL_IF(!season, TSA_ENOMEM, "score: out of memory");
    }
    /* raw doubles as the residual buffer. */
    tsa_status rc = tsa_stat_theta_filter(th, x->values, n, season, &level, NULL, raw);
    free(season);
    TSA_TRY(rc);
    for (size_t t = 0; t < n; t++) {
        if (t < ctx) {
            raw[t] = calibrated[t] = 0.0;
            continue;
        }
        raw[t] = fabs(raw[t]) / s->sigma;
        calibrated[t] = tsa_calibrator_cdf(&s->cal, raw[t]);
    }
    return TSA_OK;
}

static tsa_status theta_save(const tsa_model *m, tsa_wbuf *w)
{
    const theta_kstate *s = theta_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "save: the Theta state is missing");
    tsa_wbuf_u32(w, THETA_KIND_LAYOUT_VERSION);
    tsa_wbuf_u64(w, s->period);
    tsa_wbuf_u8(w, (uint8_t)s->source);
    tsa_stat_theta_save(&s->fit, w);
    tsa_calibrator_save(&s->cal, w);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the Theta state");
    return TSA_OK;
}

static tsa_status theta_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    uint32_t version;
    uint64_t period;
    uint8_t source;
    if (tsa_rbuf_u32(r, &version) || tsa_rbuf_u64(r, &period) || tsa_rbuf_u8(r, &source))
        return tsa_error(TSA_EFORMAT, "Theta state: truncated header");
    TSA_FAIL_IF(version != THETA_KIND_LAYOUT_VERSION, TSA_EFORMAT,
                "Theta state: unknown layout version %u", (unsigned)version);
    TSA_FAIL_IF(m->n_features != 1, TSA_EFORMAT,
                "Theta state: %zu features, the kind is univariate", m->n_features);
    TSA_FAIL_IF(period < 1 || period > THETA_MAX_PERIOD || source > TSA_STAT_PERIOD_TIMESTAMPS,
                TSA_EFORMAT, "Theta state: bad period %llu or period source %u",
                (unsigned long long)period, (unsigned)source);
    theta_kstate s;
    memset(&s, 0, sizeof s);
    TSA_TRY(tsa_stat_theta_load(&s.fit, r));
    tsa_status rc = TSA_OK;
    if (s.fit.n_train != m->n_train)
        rc = tsa_error(TSA_EFORMAT, "Theta state: fitted on %zu rows, the model header says %zu",
                       s.fit.n_train, m->n_train);
    else if (s.fit.m != period)
        rc = tsa_error(TSA_EFORMAT, "Theta state: period %zu, the header says %llu", s.fit.m,
                       (unsigned long long)period);
    if (rc == TSA_OK)
        rc = tsa_calibrator_load(&s.cal, r);
    if (rc != TSA_OK) {
        tsa_stat_theta_free(&s.fit);
        return rc;
    }
    s.period = (size_t)period;
    s.source = source;
    s.sigma = sqrt(s.fit.sigma2);
    memcpy(state, &s, sizeof s);
    return TSA_OK;
}

static tsa_status theta_info(const tsa_model *m, cJSON *obj)
{
    const theta_kstate *s = theta_get(m);
    if (!s)
        return TSA_OK;
    const tsa_stat_theta *th = &s->fit;
    static const char *const adj[] = {"none", "multiplicative", "additive"};
    int bad = 0;
    bad |= !cJSON_AddNumberToObject(obj, "period", (double)s->period);
    bad |= !cJSON_AddStringToObject(obj, "period_source", tsa_stat_period_source_name(s->source));
    bad |= !cJSON_AddBoolToObject(obj, "seasonal", th->seasonal != TSA_STAT_THETA_NONE);
    bad |= !cJSON_AddStringToObject(obj, "seasonal_adjustment", adj[th->seasonal]);
    bad |= !cJSON_AddNumberToObject(obj, "seasonality_statistic", th->seas_stat);
    if (th->seasonal != TSA_STAT_THETA_NONE) {
        cJSON *a = cJSON_CreateArray();
        for (size_t k = 0; a && k < th->m; k++) {
            cJSON *v = cJSON_CreateNumber(th->season[k]);
            if (!v || !cJSON_AddItemToArray(a, v)) {
                cJSON_Delete(v);
                bad = 1;
                break;
            }
        }
        if (!a || !cJSON_AddItemToObject(obj, "seasonal_indices", a)) {
            cJSON_Delete(a);
            bad = 1;
        }
    }
    bad |= !cJSON_AddNumberToObject(obj, "theta", th->theta);
    bad |= !cJSON_AddNumberToObject(obj, "alpha", th->alpha);
    bad |= !cJSON_AddNumberToObject(obj, "initial_level", th->l0);
    bad |= !cJSON_AddNumberToObject(obj, "level", th->level);
    bad |= !cJSON_AddNumberToObject(obj, "slope", th->slope);
    bad |= !cJSON_AddNumberToObject(obj, "drift", th->drift);
    bad |= !cJSON_AddNumberToObject(obj, "sigma", s->sigma);
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the Theta state");
    return TSA_OK;
}

const tsa_kind tsa_kind_theta = {
    .name = "theta",
    .aliases = NULL,
    .description = "Theta method (Assimakopoulos & Nikolopoulos 2000) as SES with drift "
                   "(Hyndman & Billah 2003) on seasonally adjusted data, as forecast::thetaf; "
                   "anomaly score = |one-step residual| / sigma, calibrated on the training "
                   "scores.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_INTERVALS,
    .params = theta_params,
    .n_params = sizeof theta_params / sizeof theta_params[0],
    .state_size = sizeof(theta_kstate),
    .destroy = theta_destroy,
    .fit = theta_fit,
    .context_length = theta_context_length,
    .forecast = theta_forecast,
    .score = theta_score,
    .save = theta_save,
    .load = theta_load,
    .info = theta_info,
};
