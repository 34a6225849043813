/* The `ensemble` kind: several kinds fitted on the same data, their
 * forecasts combined by mean, median or a weighted average with weights
 * inverse to each member's holdout error (Bates & Granger 1969, "The
 * combination of forecasts"), and their anomaly scores combined on a log
 * scale of tail probability and calibrated on the training series.
 * Members are ordinary models; the ensemble saves them as nested model
 * files, each with its own checksum. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/calibrate.h"
#include "core/error.h"
#include "models/kind.h"

#define MAX_MEMBERS 16

typedef struct ensemble_state {
    size_t n;
    tsa_model *members[MAX_MEMBERS];
    double weights[MAX_MEMBERS];  /* sum to 1 */
    double holdout_rmse[MAX_MEMBERS];
    size_t holdout;               /* rows held out to weigh the members */
    /* The members' mean calibrated score is itself calibrated on the
     * training series (model files before this have none). */
    int has_calib;
    uint32_t n_scoring;           /* members that scored when it was fitted */
    tsa_calibrator calib;
} ensemble_state;

static const char *const methods[] = {"mean", "median", "weighted_average", NULL};

static const tsa_param_spec ensemble_params[] = {
    {"members", TSA_PARAM_STRING, 0, "auto", 0, 0, NULL,
     "comma-separated model kinds fitted on the same data (each must forecast; at most 16); auto: "
     "ets,theta,naive for one feature, multivariate,hmm for several"},
    {"method", TSA_PARAM_STRING, 0, "mean", 0, 0, methods,
     "combination: mean, median, or weighted_average (weights inverse to holdout RMSE)"},
    {"validation_fraction", TSA_PARAM_DOUBLE, 0.2, NULL, 0.05, 0.5, NULL,
     "fraction of the series held out to measure each member's error"},
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL, "seed passed to every member"},
};

static void ensemble_destroy(void *state)
{
    ensemble_state *s = state;
    for (size_t i = 0; i < s->n; i++)
        tsa_model_free(s->members[i]);
    s->n = 0;
}

/* Splits the members parameter into kind names; each must forecast. */
static tsa_status parse_members(const char *spec, char names[MAX_MEMBERS][64], size_t *n, size_t n_features)
{
    *n = 0;
    const char *p = spec;
    while (*p) {
        while (*p == ',' || *p == ' ')
            p++;
        if (!*p)
            break;
        size_t len = strcspn(p, ", ");
        TSA_FAIL_IF(*n == MAX_MEMBERS, TSA_EPARAM, "members: at most %d members", MAX_MEMBERS);
        TSA_FAIL_IF(len >= 64, TSA_EPARAM, "members: member name too long");
        memcpy(names[*n], p, len);
        names[*n][len] = '\0';
        unsigned caps = tsa_kind_capabilities(names[*n]);
        TSA_FAIL_IF(!caps, TSA_EPARAM, "members: unknown model kind '%s'", names[*n]);
        TSA_FAIL_IF(!strcmp(names[*n], "ensemble"), TSA_EPARAM, "members: an ensemble cannot contain an ensemble");
        TSA_FAIL_IF(!(caps & TSA_CAP_FORECAST), TSA_EPARAM, "members: '%s' does not forecast", names[*n]);
        TSA_FAIL_IF(n_features > 1 && !(caps & TSA_CAP_MULTIVARIATE), TSA_ESHAPE,
                    "members: '%s' is univariate, the series has %zu features", names[*n], n_features);
        (*n)++;
        p += len;
    }
    TSA_FAIL_IF(*n == 0, TSA_EPARAM, "members: name at least one model kind");
    return TSA_OK;
}

static tsa_status make_member(const tsa_model *m, const char *kind, tsa_model **out)
{
    tsa_params *p = NULL;
    TSA_TRY(tsa_params_create(&p));
    tsa_status rc = TSA_OK;
    /* Pass the seed only to kinds that take one (all built-in kinds do). */
    tsa_params_set_int(p, "seed", tsa_param_int(m, "seed"));
    rc = tsa_model_create(kind, p, out);
    if (rc != TSA_OK) { /* a kind without a seed key */
        tsa_params_unset(p, "seed");
        rc = tsa_model_create(kind, p, out);
    }
    tsa_params_free(p);
    return rc;
}

/* Two combinations of the members' calibrated scores of @x: @plain, their
 * mean, and @tail, the mean of -log(1 - score), each member's tail
 * probability on a log scale (Fisher's method, "Statistical methods for
 * research workers", 1925): a member sure of an anomaly moves @tail far,
 * where averaging probabilities would squash it against 1. @plain may be
 * NULL when only @tail is wanted. Both are 0
 * before every scoring member has its context; @used receives how many
 * members scored and @skip the rows before all of them could. */
static tsa_status member_mean_scores(const ensemble_state *s, const tsa_series *x, double *plain, double *tail,
                                     size_t *used, size_t *skip)
{
    const size_t n = x->length;
    double *tmp = malloc(n * sizeof *tmp);
    TSA_FAIL_IF(!tmp, TSA_ENOMEM, "score: out of memory");
    if (plain)
        memset(plain, 0, n * sizeof *plain);
    memset(tail, 0, n * sizeof *tail);
    *used = 0;
    *skip = 0;
    tsa_status rc = TSA_OK;
    for (size_t i = 0; i < s->n && rc == TSA_OK; i++) {
        if (!(tsa_kind_capabilities(tsa_model_kind(s->members[i])) & TSA_CAP_SCORE))
            continue;
        const size_t ctx = tsa_model_context_length(s->members[i]);
        if (x->length <= ctx)
            continue;
        rc = tsa_model_score(s->members[i], x, NULL, tmp);
        if (rc != TSA_OK) {
            rc = tsa_error(rc, "member '%s': %s", tsa_model_kind(s->members[i]), tsa_last_error());
            break;
        }
        for (size_t t = 0; t < n; t++) {
            if (plain)
                plain[t] += tmp[t];
            tail[t] += -log(fmax(1.0 - tmp[t], 1e-12));
        }
        (*used)++;
        *skip = ctx > *skip ? ctx : *skip;
    }
    free(tmp);
    if (rc != TSA_OK)
        return rc;
    for (size_t t = 0; *used && t < n; t++) {
        if (plain)
            plain[t] /= (double)*used;
        tail[t] /= (double)*used;
    }
    return TSA_OK;
}

/* Calibrates the log-scale combination on the training series, so that
 * the ensemble's calibrated score means what every kind's does. */
static void fit_score_calibration(ensemble_state *s, const tsa_series *train)
{
    s->has_calib = 0;
    double *tail = malloc(train->length * sizeof *tail);
    size_t used = 0, skip = 0;
    if (tail && member_mean_scores(s, train, NULL, tail, &used, &skip) == TSA_OK && used &&
        train->length > skip + 20 &&
        tsa_calibrator_fit(&s->calib, tail + skip, train->length - skip) == TSA_OK) {
        s->has_calib = 1;
        s->n_scoring = (uint32_t)used;
    }
    free(tail);
}

static tsa_status ensemble_fit(const tsa_model *m, void *state, const tsa_series *train, const tsa_fit_ctx *ctx,
                               size_t *tail_len)
{
    ensemble_state *s = state;
    char names[MAX_MEMBERS][64];
    size_t n;
    const char *spec = tsa_param_str(m, "members");
    if (!strcmp(spec, "auto"))
        spec = train->n_features > 1 ? "multivariate,hmm" : "ets,theta,naive";
    TSA_TRY(parse_members(spec, names, &n, train->n_features));
    const size_t T = train->length, k = train->n_features;
    size_t hold = (size_t)((double)T * tsa_param_double(m, "validation_fraction"));
    if (hold < 1)
        hold = 1;
    TSA_FAIL_IF(T < hold + 4, TSA_ETOOSHORT, "train: an ensemble needs at least %zu rows, got %zu", hold + 4, T);
    tsa_fit_options fo;
    tsa_fit_options_init(&fo);
    fo.seed = ctx->seed;
    fo.epochs = ctx->epochs;
    fo.n_threads = ctx->n_threads;
    tsa_series head = *train;
    head.length = T - hold;
    tsa_status rc = TSA_OK;
    for (size_t i = 0; i < n && rc == TSA_OK; i++) {
        /* Holdout error first (fit on the head, forecast the held-out rows),
         * then the member itself on the whole series. */
        tsa_model *probe = NULL;
        tsa_forecast *fc = NULL;
        rc = make_member(m, names[i], &probe);
        if (rc == TSA_OK)
            rc = tsa_model_fit(probe, &head, &fo);
        if (rc == TSA_OK)
            rc = tsa_model_forecast(probe, NULL, hold, 0.95, &fc);
        if (rc == TSA_OK) {
            double se = 0;
            for (size_t t = 0; t < hold * k; t++) {
                double d = fc->mean[t] - train->values[(T - hold) * k + t];
                se += d * d;
            }
            s->holdout_rmse[i] = sqrt(se / (double)(hold * k));
        } else {
            rc = tsa_error(rc, "members: '%s' failed on the holdout: %s", names[i], tsa_last_error());
        }
        tsa_forecast_free(fc);
        tsa_model_free(probe);
        if (rc == TSA_OK)
            rc = make_member(m, names[i], &s->members[i]);
        if (rc == TSA_OK) {
            s->n = i + 1;
            rc = tsa_model_fit(s->members[i], train, &fo);
            if (rc != TSA_OK && rc != TSA_ECANCELED)
                rc = tsa_error(rc, "members: '%s': %s", names[i], tsa_last_error());
        }
        if (rc == TSA_OK)
            rc = tsa_fit_report(ctx, "member", (int64_t)(i + 1), (int64_t)n, s->holdout_rmse[i], NAN);
    }
    if (rc != TSA_OK)
        return rc;
    s->holdout = hold;
    const char *method = tsa_param_str(m, "method");
    double wsum = 0;
    for (size_t i = 0; i < n; i++) {
        double r = s->holdout_rmse[i];
        s->weights[i] = !strcmp(method, "weighted_average") ? (r > 1e-300 ? 1.0 / r : 1e300) : 1.0;
        wsum += s->weights[i];
    }
    for (size_t i = 0; i < n; i++)
        s->weights[i] /= wsum;
    fit_score_calibration(s, train);
    size_t ctx_len = 0;
    for (size_t i = 0; i < n; i++) {
        size_t c = tsa_model_context_length(s->members[i]);
        ctx_len = c > ctx_len ? c : ctx_len;
    }
    /* Enough tail for every member's context, and for kinds that forecast
     * from recent history. */
    *tail_len = ctx_len > 256 ? ctx_len : 256;
    return TSA_OK;
}

static size_t ensemble_context(const tsa_model *m)
{
    const ensemble_state *s = m->state;
    size_t c = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t ci = tsa_model_context_length(s->members[i]);
        c = ci > c ? ci : c;
    }
    return c;
}

static tsa_status ensemble_forecast(const tsa_model *m, const tsa_series *history, size_t horizon, double interval,
                                    tsa_forecast *fc)
{
    const ensemble_state *s = m->state;
    /* The stored tail means "from the end of training": each member then
     * forecasts from its own end of training. */
    const tsa_series *h = history->values == m->tail ? NULL : history;
    tsa_forecast *parts[MAX_MEMBERS] = {0};
    tsa_status rc = TSA_OK;
    for (size_t i = 0; i < s->n && rc == TSA_OK; i++) {
        rc = tsa_model_forecast(s->members[i], h, horizon, interval, &parts[i]);
        if (rc != TSA_OK)
            rc = tsa_error(rc, "member '%s': %s", tsa_model_kind(s->members[i]), tsa_last_error());
    }
    tsa_combine_method method = TSA_COMBINE_MEAN;
    tsa_forecast *comb = NULL;
    if (rc == TSA_OK)
        rc = tsa_combine_method_from_name(tsa_param_str(m, "method"), &method);
    if (rc == TSA_OK)
        rc = tsa_forecast_combine((const tsa_forecast *const *)parts, s->n, method, s->weights,
                                  NULL, &comb);
    if (rc == TSA_OK) {
        const size_t n = horizon * m->n_features;
        memcpy(fc->mean, comb->mean, n * sizeof(double));
        memcpy(fc->lower, comb->lower, n * sizeof(double));
        memcpy(fc->upper, comb->upper, n * sizeof(double));
    }
    tsa_forecast_free(comb);
    for (size_t i = 0; i < s->n; i++)
        tsa_forecast_free(parts[i]);
    return rc;
}

static tsa_status ensemble_score(const tsa_model *m, const tsa_series *x, double *raw, double *calibrated)
{
    const ensemble_state *s = m->state;
    size_t used = 0, skip = 0;
    /* The plain mean goes straight into @calibrated, the log-scale one
     * into @raw. */
    TSA_TRY(member_mean_scores(s, x, calibrated, raw, &used, &skip));
    TSA_FAIL_IF(!used, TSA_EUNSUPPORTED, "score: no member of this ensemble scores anomalies");
    /* The calibration holds for the members it was fitted with; a history
     * too short for some of them, or a model file from before it, keeps
     * the plain mean as both scores. */
    const int recalibrate = s->has_calib && used == s->n_scoring;
    for (size_t t = 0; t < x->length; t++) {
        if (!recalibrate)
            raw[t] = calibrated[t];
        else
            calibrated[t] = t < skip ? 0.0 : tsa_calibrator_cdf(&s->calib, raw[t]);
    }
    return TSA_OK;
}

static tsa_status ensemble_save(const tsa_model *m, tsa_wbuf *w)
{
    const ensemble_state *s = m->state;
    tsa_wbuf_u32(w, (uint32_t)s->n);
    tsa_wbuf_u64(w, s->holdout);
    for (size_t i = 0; i < s->n; i++) {
        void *blob = NULL;
        size_t len = 0;
        TSA_TRY(tsa_model_save(s->members[i], &blob, &len));
        tsa_wbuf_f64(w, s->weights[i]);
        tsa_wbuf_f64(w, s->holdout_rmse[i]);
        tsa_wbuf_u64(w, len);
        tsa_wbuf_bytes(w, blob, len);
        tsa_free(blob);
    }
    /* Appended block (absent from older files): the score calibration. */
    tsa_wbuf_u32(w, s->has_calib ? s->n_scoring : 0);
    if (s->has_calib)
        tsa_calibrator_save(&s->calib, w);
    return TSA_OK;
}

static tsa_status ensemble_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    ensemble_state *s = state;
    uint32_t n;
    uint64_t hold;
    if (tsa_rbuf_u32(r, &n) || n == 0 || n > MAX_MEMBERS || tsa_rbuf_u64(r, &hold))
        return tsa_error(TSA_EFORMAT, "model data: bad ensemble header");
    s->holdout = (size_t)hold;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t len;
        if (tsa_rbuf_f64(r, &s->weights[i]) || tsa_rbuf_f64(r, &s->holdout_rmse[i]) || tsa_rbuf_u64(r, &len) ||
            len > tsa_rbuf_remaining(r) || !(s->weights[i] >= 0 && s->weights[i] <= 1))
            return tsa_error(TSA_EFORMAT, "model data: bad ensemble member %u", i);
        tsa_status rc = tsa_model_load(r->data + r->pos, (size_t)len, &s->members[i]);
        if (rc != TSA_OK)
            return tsa_error(TSA_EFORMAT, "model data: ensemble member %u: %s", i, tsa_last_error());
        s->n = i + 1;
        r->pos += (size_t)len;
        if (!tsa_model_is_fitted(s->members[i]) || tsa_model_n_features(s->members[i]) != m->n_features ||
            !strcmp(tsa_model_kind(s->members[i]), "ensemble"))
            return tsa_error(TSA_EFORMAT, "model data: ensemble member %u does not fit the ensemble", i);
    }
    s->has_calib = 0;
    if (tsa_rbuf_remaining(r) > 0) {
        uint32_t scoring;
        if (tsa_rbuf_u32(r, &scoring) || scoring > n)
            return tsa_error(TSA_EFORMAT, "model data: bad ensemble score calibration");
        if (scoring) {
            if (tsa_calibrator_load(&s->calib, r) != TSA_OK)
                return tsa_error(TSA_EFORMAT, "model data: bad ensemble score calibration");
            s->has_calib = 1;
            s->n_scoring = scoring;
        }
    }
    return TSA_OK;
}

static tsa_status ensemble_info(const tsa_model *m, cJSON *obj)
{
    const ensemble_state *s = m->state;
    cJSON_AddStringToObject(obj, "method", tsa_param_str(m, "method"));
    cJSON_AddNumberToObject(obj, "holdout_rows", (double)s->holdout);
    cJSON_AddStringToObject(obj, "score", s->has_calib ? "members' log tail probabilities, mean, calibrated"
                                                       : "mean of the members' calibrated scores");
    cJSON *arr = cJSON_AddArrayToObject(obj, "members");
    for (size_t i = 0; i < s->n; i++) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "kind", tsa_model_kind(s->members[i]));
        cJSON_AddNumberToObject(o, "weight", s->weights[i]);
        cJSON_AddNumberToObject(o, "holdout_rmse", s->holdout_rmse[i]);
        cJSON_AddItemToArray(arr, o);
    }
    return TSA_OK;
}

static const char *const ensemble_aliases[] = {"combination", NULL};

const tsa_kind tsa_kind_ensemble = {
    .name = "ensemble",
    .aliases = ensemble_aliases,
    .description = "Forecasts of several kinds fitted on the same data, combined by mean, median or "
                   "inverse-holdout-error weights; anomaly scores averaged over the members that score",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = ensemble_params,
    .n_params = sizeof ensemble_params / sizeof ensemble_params[0],
    .state_size = sizeof(ensemble_state),
    .destroy = ensemble_destroy,
    .fit = ensemble_fit,
    .context_length = ensemble_context,
    .forecast = ensemble_forecast,
    .score = ensemble_score,
    .save = ensemble_save,
    .load = ensemble_load,
    .info = ensemble_info,
};
