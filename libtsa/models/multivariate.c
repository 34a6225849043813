/* The "multivariate" kind (alias "var"): a VAR(p) from stat/var.c behind the
 * model vtable. The order is chosen by AIC, BIC or HQIC up to max_lags (or
 * fixed by "order"), forecasts carry intervals from the forecast MSE
 * matrices, and the anomaly score of a step is the Mahalanobis distance of
 * its one-step residual, calibrated by the chi-square CDF with n_features
 * degrees of freedom.
 *
 * Trend "ct" time index: the last row of the training series is index
 * n_train (see stat/var.h). A history or series given later is taken to
 * end where training ended, unless both it and the training series have
 * timestamps, in which case its last row is moved by the number of
 * training timestamp steps between the two last timestamps. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "models/kind.h"
#include "stat/var.h"

static const char *const mv_aliases[] = {"var", NULL};
static const char *const mv_ic_choices[] = {"aic", "bic", "hqic", NULL};
static const char *const mv_trend_choices[] = {"n", "c", "ct", NULL};

static const tsa_param_spec mv_params[] = {
    {"max_lags", TSA_PARAM_INT, 10, NULL, 1, 100, NULL,
     "Largest lag order tried by the order selection (ignored when order > 0)."},
    {"ic", TSA_PARAM_STRING, 0, "aic", 0, 0, mv_ic_choices,
     "Order-selection criterion: aic, bic or hqic (statsmodels' definitions, all orders "
     "fitted on the same sample)."},
    {"order", TSA_PARAM_INT, 0, NULL, 0, 100, NULL,
     "Lag order p; 0 selects it by the criterion up to max_lags."},
    {"trend", TSA_PARAM_STRING, 0, "c", 0, 0, mv_trend_choices,
     "Deterministic terms: n (none), c (intercept), ct (intercept and linear time trend)."},
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,
     "Random seed (accepted for uniformity; the VAR fit is deterministic)."},
};

static const tsa_stat_var *mv_state(const tsa_model *m)
{
    const tsa_stat_var *v = m->state;
    return v && v->k ? v : NULL;
}

static void mv_destroy(void *state) { tsa_stat_var_free(state); }

static tsa_status mv_order_progress(void *user, size_t p, size_t max_lags)
{
    return tsa_fit_report(user, "order_selection", (int64_t)p, (int64_t)max_lags, NAN, NAN);
}

static tsa_status mv_fit(const tsa_model *m, void *state, const tsa_series *train,
                         const tsa_fit_ctx *ctx, size_t *tail_len)
{
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    int64_t max_lags = tsa_param_int(m, "max_lags"), order = tsa_param_int(m, "order");
    const char *ic = tsa_param_str(m, "ic"), *trend = tsa_param_str(m, "trend");
    TSA_FAIL_IF(max_lags < 1 || max_lags > TSA_STAT_VAR_MAX_ORDER, TSA_EPARAM,
                "max_lags: must be in [1, %d], got %lld", TSA_STAT_VAR_MAX_ORDER,
                (long long)max_lags);
    TSA_FAIL_IF(order < 0 || order > TSA_STAT_VAR_MAX_ORDER, TSA_EPARAM,
                "order: must be in [0, %d], got %lld", TSA_STAT_VAR_MAX_ORDER, (long long)order);
    TSA_FAIL_IF(tsa_stat_var_ic_parse(ic, &o.ic) != 0, TSA_EPARAM,
                "ic: must be one of aic, bic, hqic, got '%.32s'", ic ? ic : "(null)");
    TSA_FAIL_IF(tsa_stat_var_trend_parse(trend, &o.trend) != 0, TSA_EPARAM,
                "trend: must be one of n, c, ct, got '%.32s'", trend ? trend : "(null)");
    o.max_lags = (size_t)max_lags;
    o.order = (size_t)order;
    o.progress = mv_order_progress;
    o.user = (void *)ctx;

    tsa_stat_var fitted;
    memset(&fitted, 0, sizeof fitted);
    TSA_TRY(tsa_stat_var_fit(&fitted, train->values, train->length, train->n_features, &o));
    tsa_stat_var *v = state;
    tsa_stat_var_free(v);
    *v = fitted;
    /* An order-0 model needs no history, but forecasts without one are
     * given the tail, which must not be empty. */
    *tail_len = v->p ? v->p : 1;
    return TSA_OK;
}

static size_t mv_context_length(const tsa_model *m)
{
    const tsa_stat_var *v = mv_state(m);
    return v ? v->p : 0;
}

/* The trend time index of the last row of @s (see the top of the file). */
static double mv_last_index(const tsa_model *m, const tsa_stat_var *v, const tsa_series *s)
{
    double t = (double)v->n_train;
    if (s->timestamps && s->length > 0 && m->has_timestamps && m->timestamp_step > 0) {
        double gap = (double)s->timestamps[s->length - 1] - (double)m->last_timestamp;
        t += round(gap / (double)m->timestamp_step);
    }
    return t;
}

static tsa_status mv_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                              double interval, tsa_forecast *fc)
{
    const tsa_stat_var *v = mv_state(m);
    TSA_FAIL_IF(!v, TSA_ENOTFITTED, "forecast: the model is not fitted");
    TSA_FAIL_IF(history->n_features != v->k, TSA_ESHAPE,
                "history: has %zu features, the model was fitted on %zu", history->n_features,
                v->k);
    return tsa_stat_var_forecast(v, history->values, history->length,
                                 mv_last_index(m, v, history), horizon, interval, fc->mean,
                                 fc->lower, fc->upper);
}

static tsa_status mv_score(const tsa_model *m, const tsa_series *x, double *raw,
                           double *calibrated)
{
    const tsa_stat_var *v = mv_state(m);
    TSA_FAIL_IF(!v, TSA_ENOTFITTED, "score: the model is not fitted");
    TSA_FAIL_IF(x->n_features != v->k, TSA_ESHAPE,
                "x: has %zu features, the model was fitted on %zu", x->n_features, v->k);
    return tsa_stat_var_score(v, x->values, x->length, mv_last_index(m, v, x), raw, calibrated);
}

static tsa_status mv_save(const tsa_model *m, tsa_wbuf *w)
{
    const tsa_stat_var *v = mv_state(m);
    TSA_FAIL_IF(!v, TSA_ENOTFITTED, "save: the VAR state is missing");
    tsa_stat_var_save(v, w);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the VAR state");
    return TSA_OK;
}

static tsa_status mv_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    tsa_stat_var v;
    memset(&v, 0, sizeof v);
    TSA_TRY(tsa_stat_var_load(&v, m->n_features, r));
    if (m->n_train && v.n_train != m->n_train) {
        tsa_stat_var_free(&v);
        return tsa_error(TSA_EFORMAT, "VAR state: fitted on %zu rows, the model header says %zu",
                         v.n_train, m->n_train);
    }
    tsa_stat_var *dst = state;
    tsa_stat_var_free(dst);
    *dst = v;
    return TSA_OK;
}

/* ---- info ------------------------------------------------------------------ */

/* [x_0, ..., x_{n-1}]; NaN and Inf print as null. */
static cJSON *mv_vec(const double *x, size_t n, size_t stride)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *num = cJSON_CreateNumber(x[i * stride]);
        if (!num || !cJSON_AddItemToArray(a, num)) {
            cJSON_Delete(num);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* A (rows, cols) row-major matrix as an array of rows. */
static cJSON *mv_mat(const double *x, size_t rows, size_t cols)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < rows; i++) {
        cJSON *row = mv_vec(x + i * cols, cols, 1);
        if (!row || !cJSON_AddItemToArray(a, row)) {
            cJSON_Delete(row);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int mv_add(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int mv_num(cJSON *obj, const char *key, double x)
{
    return cJSON_AddNumberToObject(obj, key, x) ? 0 : -1;
}

static tsa_status mv_info(const tsa_model *m, cJSON *obj)
{
    const tsa_stat_var *v = mv_state(m);
    if (!v)
        return TSA_OK;
    size_t k = v->k, p = v->p;
    int bad = 0;
    bad |= mv_num(obj, "order", (double)p);
    bad |= mv_add(obj, "order_selection", cJSON_CreateString(tsa_stat_var_ic_name(v->ic)));
    bad |= mv_add(obj, "ic", cJSON_CreateString(tsa_param_str(m, "ic")));
    bad |= mv_add(obj, "trend", cJSON_CreateString(tsa_stat_var_trend_name(v->trend)));
    if (v->n_sel)
        bad |= mv_num(obj, "max_lags", (double)v->max_lags);
    bad |= mv_num(obj, "nobs", (double)v->nobs);
    bad |= mv_num(obj, "df_resid", (double)(v->nobs - (k * p + v->n_det)));

    cJSON *coef = cJSON_CreateObject();
    if (coef) {
        if (v->n_det >= 1)
            bad |= mv_add(coef, "intercept", mv_vec(v->det, k, 1));
        if (v->n_det >= 2)
            bad |= mv_add(coef, "trend", mv_vec(v->det + k, k, 1));
        cJSON *lags = cJSON_CreateArray();
        for (size_t i = 0; lags && i < p; i++) {
            cJSON *a = mv_mat(v->A + i * k * k, k, k);
            if (!a || !cJSON_AddItemToArray(lags, a)) {
                cJSON_Delete(a);
                bad = 1;
            }
        }
        bad |= mv_add(coef, "lags", lags);
        bad |= mv_add(coef, "layout",
                      cJSON_CreateString("lags[i-1][r][c] is the effect of feature c at "
                                         "t-i on feature r at t; trend multiplies the time "
                                         "index (1 at the first training row)"));
    }
    bad |= mv_add(obj, "coefficients", coef);
    bad |= mv_add(obj, "sigma_u", mv_mat(v->sigma_u, k, k));
    bad |= mv_num(obj, "llf", v->llf);
    bad |= mv_num(obj, "aic", v->aic);
    bad |= mv_num(obj, "bic", v->bic);
    bad |= mv_num(obj, "hqic", v->hqic);
    bad |= cJSON_AddBoolToObject(obj, "stable", v->stable) ? 0 : -1;
    bad |= mv_num(obj, "max_root_modulus", v->max_root_modulus);

    if (v->n_sel) {
        cJSON *sel = cJSON_CreateArray();
        for (size_t q = 0; sel && q < v->n_sel; q++) {
            cJSON *row = cJSON_CreateObject();
            if (!row || !cJSON_AddItemToArray(sel, row)) {
                cJSON_Delete(row);
                bad = 1;
                break;
            }
            bad |= mv_num(row, "order", (double)(v->sel_pmin + q));
            bad |= mv_num(row, "aic", v->sel[3 * q]);
            bad |= mv_num(row, "bic", v->sel[3 * q + 1]);
            bad |= mv_num(row, "hqic", v->sel[3 * q + 2]);
        }
        bad |= mv_add(obj, "selection", sel);
    }
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the VAR state");
    return TSA_OK;
}

const tsa_kind tsa_kind_multivariate = {
    .name = "multivariate",
    .aliases = mv_aliases,
    .description = "Vector autoregression VAR(p): least squares through QR, order by "
                   "AIC/BIC/HQIC, forecast intervals from the forecast MSE matrices, anomaly "
                   "score = Mahalanobis distance of the one-step residual (chi-square "
                   "calibrated).",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = mv_params,
    .n_params = sizeof mv_params / sizeof mv_params[0],
    .state_size = sizeof(tsa_stat_var),
    .destroy = mv_destroy,
    .fit = mv_fit,
    .context_length = mv_context_length,
    .forecast = mv_forecast,
    .score = mv_score,
    .save = mv_save,
    .load = mv_load,
    .info = mv_info,
};
