/* The "prophet" kind: the Prophet-style model of stat/prophet.c (Taylor &
 * Letham, "Forecasting at scale", 2018) behind the model vtable, for one
 * series.
 *
 * Time: with timestamps the model's clock is days since the epoch, and
 * seasonal periods, custom_period and holidays are in days; without them
 * each step is one unit, periods are in steps, "auto" seasonalities are off
 * and holidays are rejected. A series given later is placed in time as
 * follows (timestamps are only used when the training series had them):
 *
 * - forecast: from the end of training (history NULL), or after the given
 *   history's last timestamp; a history without timestamps is taken to end
 *   where training ended. Prophet does not condition on recent values, so
 *   the history only places the forecast in time: the fitted trend is
 *   extrapolated to the requested times.
 * - score/detect: x's own timestamps; without them, x is the training
 *   period when it has the training length, else it follows the training
 *   series immediately at the median training spacing.
 *
 * Robustness (parameters robust and detect_period, both on by default):
 * the fit treats the training points beyond 5 robust standard deviations
 * as missing and refits (stat/prophet.h), so a series screened by a model
 * fitted on itself does not hide its own spikes; and a series without
 * timestamps gets the seasonal period its values show (stat/period.h) as
 * the custom seasonality, named "detected" in the info, since without a
 * calendar the automatic seasonalities are off and an unmodelled cycle
 * would dominate sigma.
 *
 * Anomaly score: raw = |y - yhat| / sigma (sigma the fitted observation
 * noise, original units); calibrated = the predictive probability mass
 * inside |y - yhat| under N(yhat, sigma^2), i.e. 2 Phi(raw) - 1, so
 * threshold 0.95 flags the points outside the 95% predictive interval. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/kind.h"
#include "stat/lbfgs.h"
#include "stat/period.h"
#include "stat/prophet.h"

static const char *const pr_growth_choices[] = {"linear", "logistic", NULL};
static const char *const pr_switch_choices[] = {"auto", "true", "false", NULL};
static const char *const pr_mode_choices[] = {"additive", "multiplicative", NULL};

static const tsa_param_spec pr_params[] = {
    {"growth", TSA_PARAM_STRING, 0, "linear", 0, 0, pr_growth_choices,
     "Trend: linear (piecewise linear) or logistic (piecewise logistic saturating at cap)."},
    {"cap", TSA_PARAM_DOUBLE, 0, NULL, -1e300, 1e300, NULL,
     "Capacity of logistic growth, in the series' units; must exceed floor (logistic only)."},
    {"floor", TSA_PARAM_DOUBLE, 0, NULL, -1e300, 1e300, NULL,
     "Saturating minimum of logistic growth, in the series' units (logistic only)."},
    {"n_changepoints", TSA_PARAM_INT, 25, NULL, 0, TSA_STAT_PROPHET_MAX_CHANGEPOINTS, NULL,
     "Potential trend changepoints, placed uniformly over the first changepoint_range of "
     "the history (fewer when the history is short)."},
    {"changepoint_range", TSA_PARAM_DOUBLE, 0.8, NULL, 0, 1, NULL,
     "Fraction of the history, in (0, 1], where changepoints are placed."},
    {"changepoint_prior_scale", TSA_PARAM_DOUBLE, 0.05, NULL, 1e-6, 1e6, NULL,
     "Scale of the Laplace prior on the rate changes: larger makes the trend more flexible."},
    {"yearly_seasonality", TSA_PARAM_STRING, 0, "auto", 0, 0, pr_switch_choices,
     "Yearly Fourier seasonality (period 365.25 days, order 10): auto enables it with at "
     "least 2 years of timestamped history."},
    {"weekly_seasonality", TSA_PARAM_STRING, 0, "auto", 0, 0, pr_switch_choices,
     "Weekly Fourier seasonality (period 7 days, order 3): auto enables it with at least 2 "
     "weeks of history spaced under a week."},
    {"daily_seasonality", TSA_PARAM_STRING, 0, "auto", 0, 0, pr_switch_choices,
     "Daily Fourier seasonality (period 1 day, order 4): auto enables it with at least 2 "
     "days of history spaced under a day."},
    {"seasonality_mode", TSA_PARAM_STRING, 0, "additive", 0, 0, pr_mode_choices,
     "Whether seasonalities and holidays add to the trend or scale it."},
    {"seasonality_prior_scale", TSA_PARAM_DOUBLE, 10, NULL, 1e-6, 1e6, NULL,
     "Scale of the Normal prior on the Fourier coefficients of yearly/weekly/daily."},
    {"custom_period", TSA_PARAM_DOUBLE, 0, NULL, 0, 1e9, NULL,
     "Period of an extra seasonality, in days (steps without timestamps); 0 = none."},
    {"custom_order", TSA_PARAM_INT, 5, NULL, 1, TSA_STAT_PROPHET_MAX_ORDER, NULL,
     "Fourier order of the custom seasonality."},
    {"custom_prior_scale", TSA_PARAM_DOUBLE, 10, NULL, 1e-6, 1e6, NULL,
     "Scale of the Normal prior on the custom seasonality's coefficients."},
    {"holidays", TSA_PARAM_STRING, 0, "", 0, 0, NULL,
     "Holiday dates as \"YYYY-MM-DD,YYYY-MM-DD,...\" (needs timestamps); each day offset "
     "within holiday_window gets its own effect, shared by all the dates."},
    {"holidays_prior_scale", TSA_PARAM_DOUBLE, 10, NULL, 1e-6, 1e6, NULL,
     "Scale of the Normal prior on the holiday effects."},
    {"holiday_window", TSA_PARAM_INT, 0, NULL, 0, TSA_STAT_PROPHET_MAX_WINDOW, NULL,
     "Days before and after each holiday that get an effect of their own."},
    {"uncertainty_samples", TSA_PARAM_INT, 1000, NULL, 0, TSA_STAT_PROPHET_MAX_SAMPLES, NULL,
     "Simulated paths (future trend changes and noise) for forecast intervals; 0 uses the "
     "observation noise's Normal interval."},
    {"max_iter", TSA_PARAM_INT, 10000, NULL, 1, 100000, NULL,
     "Largest number of L-BFGS iterations of the MAP fit."},
    {"robust", TSA_PARAM_BOOL, 1, NULL, 0, 1, NULL,
     "Refit with the points beyond 5 robust standard deviations of the first fit treated as "
     "missing, and sigma from the kept points, so outliers in the training series neither "
     "inflate sigma nor bend the fit (clean series keep every point)."},
    {"detect_period", TSA_PARAM_BOOL, 1, NULL, 0, 1, NULL,
     "Without timestamps and with custom_period 0, detect a seasonal period in steps from "
     "the values (as the baseline kinds) and fit it as the custom seasonality."},
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,
     "Seed of the interval simulation (forecasts are deterministic for a given seed)."},
};

static const tsa_stat_prophet *pr_state(const tsa_model *m)
{
    const tsa_stat_prophet *p = m->state;
    return p && p->n_train ? p : NULL;
}

static void pr_destroy(void *state) { tsa_stat_prophet_free(state); }

static int pr_switch(const char *s)
{
    if (strcmp(s, "true") == 0)
        return TSA_STAT_PROPHET_ON;
    if (strcmp(s, "false") == 0)
        return TSA_STAT_PROPHET_OFF;
    return TSA_STAT_PROPHET_AUTO;
}

static tsa_status pr_progress(void *user, int iter, int max_iter, double objective)
{
    return tsa_fit_report(user, "lbfgs", iter, max_iter, objective, NAN);
}

static tsa_status pr_fit(const tsa_model *m, void *state, const tsa_series *train,
                         const tsa_fit_ctx *ctx, size_t *tail_len)
{
    TSA_FAIL_IF(train->n_features != 1, TSA_ESHAPE,
                "train: the prophet kind is univariate, got %zu features", train->n_features);
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    o.logistic = strcmp(tsa_param_str(m, "growth"), "logistic") == 0;
    o.cap = tsa_param_double(m, "cap");
    o.floor = tsa_param_double(m, "floor");
    o.n_changepoints = (size_t)tsa_param_int(m, "n_changepoints");
    o.changepoint_range = tsa_param_double(m, "changepoint_range");
    o.changepoint_prior_scale = tsa_param_double(m, "changepoint_prior_scale");
    o.yearly = pr_switch(tsa_param_str(m, "yearly_seasonality"));
    o.weekly = pr_switch(tsa_param_str(m, "weekly_seasonality"));
    o.daily = pr_switch(tsa_param_str(m, "daily_seasonality"));
    o.multiplicative = strcmp(tsa_param_str(m, "seasonality_mode"), "multiplicative") == 0;
    o.seasonality_prior_scale = tsa_param_double(m, "seasonality_prior_scale");
    o.custom_period = tsa_param_double(m, "custom_period");
    o.custom_order = (size_t)tsa_param_int(m, "custom_order");
    o.custom_prior_scale = tsa_param_double(m, "custom_prior_scale");
    o.holiday_window = (size_t)tsa_param_int(m, "holiday_window");
    o.holidays_prior_scale = tsa_param_double(m, "holidays_prior_scale");
    o.uncertainty_samples = (size_t)tsa_param_int(m, "uncertainty_samples");
    o.max_iter = (int)tsa_param_int(m, "max_iter");
    o.robust = tsa_param_bool(m, "robust");
    if (!train->timestamps && o.custom_period == 0.0 && tsa_param_bool(m, "detect_period")) {
        /* Without a calendar "auto" has no seasonality to offer; a period
         * the values themselves support takes its place (stat/period.h:
         * an autocorrelation peak confirmed by the periodogram). Its Fourier
         * order stays below the Nyquist limit of the period. */
        size_t period = 0;
        TSA_TRY(tsa_stat_period_detect(train->values, train->length, 0, &period));
        if (period >= 2) {
            size_t top = (period - 1) / 2 ? (period - 1) / 2 : 1;
            o.custom_period = (double)period;
            o.custom_order = o.custom_order < top ? o.custom_order : top;
            o.custom_detected = 1;
        }
    }
    o.seed = ctx->seed;
    o.progress = pr_progress;
    o.user = (void *)ctx;

    int64_t *days = NULL;
    TSA_TRY(tsa_stat_prophet_parse_dates(tsa_param_str(m, "holidays"), &days, &o.n_holidays));
    o.holidays = days;

    tsa_stat_prophet fitted;
    memset(&fitted, 0, sizeof fitted);
    tsa_status rc =
        tsa_stat_prophet_fit(&fitted, train->values, train->timestamps, train->length, &o);
    free(days);
    TSA_TRY(rc);
    tsa_stat_prophet *p = state;
    tsa_stat_prophet_free(p);
    *p = fitted;
    /* Forecasts need no past values; the generic code wants a tail. */
    *tail_len = 1;
    return TSA_OK;
}

static size_t pr_context_length(const tsa_model *m)
{
    (void)m;
    return 0;
}

/* The model clock's spacing of one step after the training series. */
static double pr_step(const tsa_model *m, const tsa_stat_prophet *p)
{
    if (!p->has_ts)
        return 1.0;
    return (double)(m->timestamp_step > 0 ? m->timestamp_step : 1) / TSA_STAT_PROPHET_DAY;
}

static tsa_status pr_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                              double interval, tsa_forecast *fc)
{
    const tsa_stat_prophet *p = pr_state(m);
    TSA_FAIL_IF(!p, TSA_ENOTFITTED, "forecast: the model is not fitted");
    TSA_FAIL_IF(history->n_features != 1, TSA_ESHAPE,
                "history: has %zu features, the prophet model is univariate",
                history->n_features);
    double *u = malloc(horizon * sizeof *u);
    TSA_FAIL_IF(!u, TSA_ENOMEM, "forecast: out of memory for %zu steps", horizon);
    /* fc->timestamps follow the history's (or training's) last timestamp. */
    const double last = p->u_train[p->n_train - 1], step = pr_step(m, p);
    for (size_t h = 0; h < horizon; h++)
        u[h] = p->has_ts && fc->timestamps ? tsa_stat_prophet_u_of(fc->timestamps[h])
                                           : last + (double)(h + 1) * step;
    tsa_status rc =
        tsa_stat_prophet_forecast(p, u, horizon, interval, fc->mean, fc->lower, fc->upper);
    free(u);
    return rc;
}

static tsa_status pr_score(const tsa_model *m, const tsa_series *x, double *raw,
                           double *calibrated)
{
    const tsa_stat_prophet *p = pr_state(m);
    TSA_FAIL_IF(!p, TSA_ENOTFITTED, "score: the model is not fitted");
    TSA_FAIL_IF(x->n_features != 1, TSA_ESHAPE,
                "x: has %zu features, the prophet model is univariate", x->n_features);
    const size_t n = x->length;
    double *u = malloc((n ? n : 1) * sizeof *u);
    TSA_FAIL_IF(!u, TSA_ENOMEM, "score: out of memory for %zu rows", n);
    if (p->has_ts && x->timestamps) {
        for (size_t i = 0; i < n; i++)
            u[i] = tsa_stat_prophet_u_of(x->timestamps[i]);
    } else if (n == p->n_train) {
        memcpy(u, p->u_train, n * sizeof *u);
    } else {
        const double last = p->u_train[p->n_train - 1], step = pr_step(m, p);
        for (size_t i = 0; i < n; i++)
            u[i] = last + (double)(i + 1) * step;
    }
    tsa_status rc = tsa_stat_prophet_score(p, u, x->values, n, raw, calibrated);
    free(u);
    return rc;
}

/* Components: "trend" (g in the series' units, floor included), then each
 * block by name, additive blocks as X_b beta_b y_scale and multiplicative
 * ones as their contribution trend * X_b beta_b, so the components add up
 * to yhat = trend (1 + sum of factors) + sum of additive terms. The times
 * are those forecast (horizon > 0) and score (horizon 0) use. */
static tsa_status pr_components(const tsa_model *m, const tsa_series *x, size_t horizon,
                                tsa_components *c)
{
    const tsa_stat_prophet *p = pr_state(m);
    TSA_FAIL_IF(!p, TSA_ENOTFITTED, "components: the model is not fitted");
    TSA_FAIL_IF(x && x->n_features != 1, TSA_ESHAPE,
                "x: has %zu features, the prophet model is univariate", x->n_features);
    const size_t n = c->length, nb = p->n_blocks;
    double *u = malloc((n ? n : 1) * (3 + nb) * sizeof *u);
    TSA_FAIL_IF(!u, TSA_ENOMEM, "components: out of memory for %zu rows", n);
    double *yhat = u + (n ? n : 1), *trend = yhat + (n ? n : 1), *comp = trend + (n ? n : 1);
    const double last = p->u_train[p->n_train - 1], step = pr_step(m, p);
    tsa_status rc = TSA_OK;
    if (horizon) {
        for (size_t h = 0; h < n; h++)
            u[h] = p->has_ts && c->timestamps ? tsa_stat_prophet_u_of(c->timestamps[h])
                                              : last + (double)(h + 1) * step;
    } else if (!x) {
        memcpy(u, p->u_train, n * sizeof *u);
        if (p->has_ts && !c->timestamps) {
            c->timestamps = malloc((n ? n : 1) * sizeof *c->timestamps);
            if (!c->timestamps)
                rc = tsa_error(TSA_ENOMEM, "components: out of memory for %zu rows", n);
            for (size_t i = 0; c->timestamps && i < n; i++)
                c->timestamps[i] = (int64_t)llround(u[i] * TSA_STAT_PROPHET_DAY);
        }
    } else if (p->has_ts && x->timestamps) {
        for (size_t i = 0; i < n; i++)
            u[i] = tsa_stat_prophet_u_of(x->timestamps[i]);
    } else if (n == p->n_train) {
        memcpy(u, p->u_train, n * sizeof *u);
    } else {
        for (size_t i = 0; i < n; i++)
            u[i] = last + (double)(i + 1) * step;
    }
    if (rc == TSA_OK)
        rc = tsa_stat_prophet_predict(p, u, n, yhat, trend, comp);
    if (rc == TSA_OK)
        rc = tsa_components_alloc(c, 1 + nb);
    if (rc == TSA_OK)
        rc = tsa_components_name(c, 0, "trend", 0);
    for (size_t b = 0; rc == TSA_OK && b < nb; b++)
        rc = tsa_components_name(c, 1 + b, p->blocks[b].name, p->blocks[b].multiplicative);
    if (rc == TSA_OK) {
        memcpy(c->values, trend, n * sizeof *trend);
        for (size_t b = 0; b < nb; b++) {
            double *dst = c->values + (1 + b) * n;
            const double *src = comp + b * n;
            for (size_t i = 0; i < n; i++)
                dst[i] = p->blocks[b].multiplicative ? trend[i] * src[i] : src[i];
        }
    }
    free(u);
    return rc;
}

static tsa_status pr_save(const tsa_model *m, tsa_wbuf *w)
{
    const tsa_stat_prophet *p = pr_state(m);
    TSA_FAIL_IF(!p, TSA_ENOTFITTED, "save: the prophet state is missing");
    tsa_stat_prophet_save(p, w);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the prophet state");
    return TSA_OK;
}

static tsa_status pr_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    TSA_FAIL_IF(m->n_features != 1, TSA_EFORMAT,
                "prophet state: the model header says %zu features, the kind is univariate",
                m->n_features);
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    TSA_TRY(tsa_stat_prophet_load(&p, r));
    if (p.n_train != m->n_train || p.has_ts != (m->has_timestamps != 0)) {
        tsa_stat_prophet_free(&p);
        return tsa_error(TSA_EFORMAT,
                         "prophet state: fitted on %zu rows%s, the model header says %zu%s",
                         p.n_train, p.has_ts ? " with timestamps" : "", m->n_train,
                         m->has_timestamps ? " with timestamps" : "");
    }
    tsa_stat_prophet *dst = state;
    tsa_stat_prophet_free(dst);
    *dst = p;
    return TSA_OK;
}

/* ---- info ------------------------------------------------------------------ */

static int pr_add(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int pr_num(cJSON *obj, const char *key, double x)
{
    return cJSON_AddNumberToObject(obj, key, x) ? 0 : -1;
}

static int pr_str(cJSON *obj, const char *key, const char *s)
{
    return cJSON_AddStringToObject(obj, key, s) ? 0 : -1;
}

static tsa_status pr_info(const tsa_model *m, cJSON *obj)
{
    const tsa_stat_prophet *p = pr_state(m);
    if (!p)
        return TSA_OK;
    const double *th = p->theta;
    int bad = 0;
    bad |= pr_str(obj, "growth", p->logistic ? "logistic" : "linear");
    bad |= pr_str(obj, "time_unit", p->has_ts ? "days" : "steps");
    bad |= pr_num(obj, "y_scale", p->y_scale);
    if (p->logistic) {
        bad |= pr_num(obj, "cap", p->cap);
        bad |= pr_num(obj, "floor", p->floor);
    }
    bad |= pr_num(obj, "k", th[TSA_STAT_PROPHET_K]);
    bad |= pr_num(obj, "m", th[TSA_STAT_PROPHET_M]);
    bad |= pr_num(obj, "sigma", p->sigma * p->y_scale);
    bad |= pr_num(obj, "sigma_scaled", p->sigma);
    bad |= pr_num(obj, "outliers", (double)p->n_outliers);

    cJSON *cps = cJSON_CreateArray();
    for (size_t j = 0; cps && j < p->S; j++) {
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(cps, c)) {
            cJSON_Delete(c);
            bad = 1;
            break;
        }
        double u = p->u0 + p->cp[j] * p->u_scale;
        if (p->has_ts)
            bad |= pr_num(c, "timestamp", round(u * TSA_STAT_PROPHET_DAY));
        else
            bad |= pr_num(c, "step", round(u));
        bad |= pr_num(c, "t", p->cp[j]);
        bad |= pr_num(c, "delta", th[TSA_STAT_PROPHET_DELTA + j]);
    }
    bad |= pr_add(obj, "changepoints", cps);

    cJSON *blocks = cJSON_CreateArray();
    for (size_t b = 0; blocks && b < p->n_blocks; b++) {
        const tsa_stat_prophet_block *bl = &p->blocks[b];
        cJSON *c = cJSON_CreateObject();
        if (!c || !cJSON_AddItemToArray(blocks, c)) {
            cJSON_Delete(c);
            bad = 1;
            break;
        }
        bad |= pr_str(c, "name", bl->name);
        bad |= pr_str(c, "mode", bl->multiplicative ? "multiplicative" : "additive");
        if (bl->type == TSA_STAT_PROPHET_FOURIER) {
            bad |= pr_num(c, "period", bl->period);
            bad |= pr_num(c, "fourier_order", (double)bl->order);
        } else {
            bad |= pr_num(c, "window", (double)bl->order);
            bad |= pr_num(c, "dates", (double)p->n_holidays);
        }
        bad |= pr_num(c, "prior_scale", bl->prior_scale);
        cJSON *coef = cJSON_CreateArray();
        for (size_t c2 = 0; coef && c2 < bl->ncols; c2++) {
            cJSON *num = cJSON_CreateNumber(th[TSA_STAT_PROPHET_DELTA + p->S + bl->col0 + c2]);
            if (!num || !cJSON_AddItemToArray(coef, num)) {
                cJSON_Delete(num);
                bad = 1;
                break;
            }
        }
        bad |= pr_add(c, "beta", coef);
    }
    bad |= pr_add(obj, "seasonalities", blocks);
    bad |= pr_num(obj, "uncertainty_samples", (double)p->uncertainty_samples);

    cJSON *fit = cJSON_CreateObject();
    if (fit) {
        bad |= pr_num(fit, "iterations", p->iterations);
        bad |= pr_num(fit, "objective", p->objective);
        bad |= pr_str(fit, "stop", tsa_lbfgs_reason_name((tsa_lbfgs_reason)p->reason));
    }
    bad |= pr_add(obj, "fit", fit);
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the prophet state");
    return TSA_OK;
}

const tsa_kind tsa_kind_prophet = {
    .name = "prophet",
    .aliases = NULL,
    .description = "Prophet-style decomposable model (Taylor & Letham 2018): piecewise linear "
                   "or logistic trend with changepoints under a Laplace prior, Fourier "
                   "seasonalities (yearly, weekly, daily, custom) and holidays, additive or "
                   "multiplicative, MAP fit by L-BFGS; intervals by simulating future trend "
                   "changes and noise; anomaly score = predictive mass inside |y - yhat|.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_INTERVALS | TSA_CAP_COMPONENTS,
    .params = pr_params,
    .n_params = sizeof pr_params / sizeof pr_params[0],
    .state_size = sizeof(tsa_stat_prophet),
    .destroy = pr_destroy,
    .fit = pr_fit,
    .context_length = pr_context_length,
    .forecast = pr_forecast,
    .score = pr_score,
    .save = pr_save,
    .load = pr_load,
    .info = pr_info,
    .components = pr_components,
};
