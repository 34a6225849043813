/* The "ets" kind: exponential smoothing state space models from
 * stat/ets.c (Hyndman, Koehler, Snyder & Grose 2002; Hyndman, Koehler,
 * Ord & Snyder 2008), the model chosen by AICc among the candidates the
 * parameters allow, as forecast::ets does.
 *
 * Forecasts without a history continue from the state at the end of the
 * training series. A history is filtered by the fitted model from an
 * initial state estimated from its own first context_length rows by
 * forecast's initstate heuristic (decomposition, then the mean or a line of
 * the adjusted values), so it need not continue the training series and
 * its seasonal phase is its own; the smoothing then forgets that start at
 * the rate of the fitted parameters. Scoring filters the scored series the
 * same way: the prediction for step t is exactly the one-step forecast from
 * the rows before t.
 *
 * Anomaly score: |e_t| / sigma with e_t the one-step residual (relative for
 * multiplicative errors), calibrated by the empirical CDF of the training
 * series' own scores, computed the same way (from its heuristic start). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/calibrate.h"
#include "core/error.h"
#include "core/series.h"
#include "models/kind.h"
#include "stat/ets.h"
#include "stat/period.h"

#define ETS_KIND_LAYOUT_VERSION 1u
#define ETS_MAX_PERIOD 100000

static const char *const error_choices[] = {"auto", "A", "M", NULL};
static const char *const trend_choices[] = {"auto", "N", "A", "Ad", NULL};
static const char *const season_choices[] = {"auto", "N", "A", "M", NULL};

static const tsa_param_spec ets_params[] = {
    {"error", TSA_PARAM_STRING, 0, "auto", 0, 0, error_choices,
     "Error type: A (additive), M (multiplicative, positive data only) or auto (both tried)."},
    {"trend", TSA_PARAM_STRING, 0, "auto", 0, 0, trend_choices,
     "Trend: N (none), A (additive), Ad (additive damped) or auto (all three tried)."},
    {"season", TSA_PARAM_STRING, 0, "auto", 0, 0, season_choices,
     "Season: N (none), A (additive), M (multiplicative) or auto (N, and A and M when a "
     "period of 2..1000 is given or detected)."},
    {"period", TSA_PARAM_INT, 0, NULL, 0, ETS_MAX_PERIOD, NULL,
     "Seasonal period m; 0 detects it (timestamps' spacing as a hint); 1 means none. Seasonal "
     "models need m <= 1000 and at least 2m rows."},
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,
     "Seed of the simulated prediction intervals of multiplicative-error models."},
};

typedef struct ets_kstate {
    tsa_stat_ets fit;   /* fit.spec.m == 0 until fitted */
    size_t period;      /* the period given or detected (1: none) */
    int source;         /* TSA_STAT_PERIOD_* */
    uint64_t seed;      /* of the simulated intervals */
    double sigma;       /* sqrt(fit.sigma2) */
    tsa_calibrator cal;
} ets_kstate;

static const ets_kstate *ets_get(const tsa_model *m)
{
    const ets_kstate *s = m->state;
    return s && s->fit.spec.m ? s : NULL;
}

static void ets_destroy(void *state) { tsa_stat_ets_free(&((ets_kstate *)state)->fit); }

static tsa_status ets_progress(void *user, size_t step, size_t total)
{
    return tsa_fit_report(user, "model_selection", (int64_t)step, (int64_t)total, NAN, NAN);
}

static int code_of(const char *s)
{
    if (strcmp(s, "N") == 0)
        return TSA_STAT_ETS_N;
    if (strcmp(s, "A") == 0 || strcmp(s, "Ad") == 0)
        return TSA_STAT_ETS_A;
    if (strcmp(s, "M") == 0)
        return TSA_STAT_ETS_M;
    return TSA_STAT_ETS_AUTO;
}

/* Initial state of a history from its first rows, then the filter over all
 * of it; resid (n) may be NULL. */
static tsa_status ets_history(const ets_kstate *st, const tsa_series *x, const char *what,
                              double *l, double *b, double *ring, double *resid)
{
    const tsa_stat_ets *e = &st->fit;
    const size_t n = x->length, ctx = tsa_stat_ets_context(e);
    TSA_FAIL_IF(n < ctx, TSA_ETOOSHORT, "%s: needs at least %zu rows, got %zu", what, ctx, n);
    if (tsa_stat_ets_needs_positive(e))
        for (size_t t = 0; t < n; t++)
            TSA_FAIL_IF(!(x->values[t] > 0.0), TSA_EINVAL,
                        "%s: the fitted model is multiplicative and needs positive values, got "
                        "%g at row %zu",
                        what, x->values[t], t);
    TSA_TRY(tsa_stat_ets_heuristic_state(&e->spec, x->values, ctx, l, b, ring));
    return tsa_stat_ets_filter(e, x->values, n, l, b, ring, 0, NULL, resid);
}

static tsa_status ets_fit(const tsa_model *m, void *state, const tsa_series *train,
                          const tsa_fit_ctx *ctx, size_t *tail_len)
{
    const char *es = tsa_param_str(m, "error"), *ts = tsa_param_str(m, "trend"),
               *ss = tsa_param_str(m, "season");
    int64_t requested = tsa_param_int(m, "period");
    TSA_FAIL_IF(requested < 0 || requested > ETS_MAX_PERIOD, TSA_EPARAM,
                "period: must be in [0, %d], got %lld", ETS_MAX_PERIOD, (long long)requested);
    const double *y = train->values;
    const size_t n = train->length;

    tsa_stat_ets_opts o;
    tsa_stat_ets_opts_init(&o);
    o.error = code_of(es);
    o.trend = code_of(ts);
    o.damped = strcmp(ts, "Ad") == 0 ? 1 : (strcmp(ts, "A") == 0 ? 0 : TSA_STAT_ETS_AUTO);
    if (o.trend == TSA_STAT_ETS_N)
        o.damped = 0;
    o.season = code_of(ss);
    o.progress = ets_progress;
    o.user = (void *)ctx;

    size_t period = 1;
    int source = TSA_STAT_PERIOD_NONE;
    if (o.season != TSA_STAT_ETS_N) {
        TSA_FAIL_IF(requested > 1 && n < 2 * (size_t)requested, TSA_ETOOSHORT,
                    "train: %zu rows are too short for period %lld (a seasonal model needs two "
                    "full periods, %lld rows)",
                    n, (long long)requested, 2 * (long long)requested);
        TSA_TRY(tsa_stat_period_choose(y, n, tsa_series_median_step(train), requested, &period,
                                       &source));
    } else if (requested > 0) {
        period = (size_t)requested;
        source = TSA_STAT_PERIOD_PARAM;
    }
    if (o.season == TSA_STAT_ETS_A || o.season == TSA_STAT_ETS_M) {
        TSA_FAIL_IF(period < 2, TSA_EPARAM,
                    "season: '%s' needs a seasonal period; none was %s (set period >= 2)", ss,
                    source == TSA_STAT_PERIOD_PARAM ? "given" : "detected");
        TSA_FAIL_IF(period > TSA_STAT_ETS_MAX_M, TSA_EPARAM,
                    "period: seasonal ETS models support periods up to %d, got %zu",
                    TSA_STAT_ETS_MAX_M, period);
    }
    TSA_FAIL_IF(o.error == TSA_STAT_ETS_A && o.season == TSA_STAT_ETS_M, TSA_EPARAM,
                "season: 'M' with error 'A' is excluded (infinite forecast variance, as in "
                "forecast::ets); use error 'M' or 'auto'");
    o.m = o.season == TSA_STAT_ETS_N ? 1 : period;

    ets_kstate *st = state;
    tsa_stat_ets fitted;
    memset(&fitted, 0, sizeof fitted);
    TSA_TRY(tsa_stat_ets_fit(&fitted, y, n, &o));

    /* Calibration scores: the scores of the training series computed as
     * ets_score computes them, from the heuristic initial state of its first
     * rows (scored steps from the context length on), so that scoring the
     * training series flags the fraction the threshold says. Residuals from
     * the fitted initial state are smaller, the more so the slower the
     * smoothing forgets its start, and calibrating on them made the scores
     * of any series too high. When the series leaves fewer than 2 scored
     * steps, the fitted state's residuals stand in. */
    tsa_status rc = TSA_OK;
    double *resid = malloc(n * sizeof *resid);
    double *ring = malloc(fitted.spec.m * sizeof *ring);
    if (!resid || !ring)
        rc = tsa_error(TSA_ENOMEM, "fit: out of memory");
    double sigma = sqrt(fitted.sigma2);
    const size_t cctx = tsa_stat_ets_context(&fitted);
    size_t first = 0;
    if (rc == TSA_OK && n >= cctx + 2) {
        ets_kstate tmp;
        memset(&tmp, 0, sizeof tmp);
        tmp.fit = fitted;
        double l, b;
        first = cctx;
        /* A heuristic start the fitted model cannot filter from (a
         * degenerate prediction) falls back to the fitted state. */
        if (ets_history(&tmp, train, "train", &l, &b, ring, resid) != TSA_OK)
            first = 0;
    }
    if (rc == TSA_OK && first == 0) {
        double l = fitted.l0, b = fitted.b0;
        memcpy(ring, fitted.s0, fitted.spec.m * sizeof *ring);
        rc = tsa_stat_ets_filter(&fitted, y, n, &l, &b, ring, 0, NULL, resid);
    }
    if (rc == TSA_OK) {
        for (size_t t = first; t < n; t++)
            resid[t - first] = fabs(resid[t]) / sigma;
        rc = n - first >= 2 ? tsa_calibrator_fit(&st->cal, resid, n - first)
                            : tsa_error(TSA_ETOOSHORT, "train: needs at least 2 rows");
    }
    free(resid);
    free(ring);
    if (rc != TSA_OK) {
        tsa_stat_ets_free(&fitted);
        return rc;
    }
    tsa_stat_ets_free(&st->fit);
    st->fit = fitted;
    st->period = period;
    st->source = source;
    st->seed = ctx->seed;
    st->sigma = sigma;
    *tail_len = tsa_stat_ets_context(&st->fit);
    return TSA_OK;
}

static size_t ets_context_length(const tsa_model *m)
{
    const ets_kstate *s = ets_get(m);
    return s ? tsa_stat_ets_context(&s->fit) : 0;
}

static tsa_status ets_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                               double interval, tsa_forecast *fc)
{
    const ets_kstate *s = ets_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "forecast: the model is not fitted");
    const tsa_stat_ets *e = &s->fit;
    double *ring = malloc(e->spec.m * sizeof *ring);
    TSA_FAIL_IF(!ring, TSA_ENOMEM, "forecast: out of memory");
    double l, b;
    size_t t;
    tsa_status rc = TSA_OK;
    /* The generic code passes the stored training tail when the caller gave
     * no history: then the state at the end of training is exact. */
    if (history->values == m->tail && history->length == m->tail_len) {
        l = e->l;
        b = e->b;
        memcpy(ring, e->s, e->spec.m * sizeof *ring);
        t = e->n_train;
    } else {
        rc = ets_history(s, history, "history", &l, &b, ring, NULL);
        t = history->length;
    }
    if (rc == TSA_OK)
        rc = tsa_stat_ets_forecast(e, l, b, ring, t, horizon, interval, s->seed, fc->mean,
                                   fc->lower, fc->upper);
    free(ring);
    return rc;
}

static tsa_status ets_score(const tsa_model *m, const tsa_series *x, double *raw,
                            double *calibrated)
{
    const ets_kstate *s = ets_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "score: the model is not fitted");
    const size_t n = x->length, ctx = tsa_stat_ets_context(&s->fit);
    double *ring = malloc(s->fit.spec.m * sizeof *ring);
    TSA_FAIL_IF(!ring, TSA_ENOMEM, "score: out of memory");
    double l, b;
    /* raw doubles as the residual buffer. */
    tsa_status rc = ets_history(s, x, "x", &l, &b, ring, raw);
    free(ring);
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

/* Components of mu = (l + phi_h b) [+ s | * s]: "level" l, "trend" phi_h b
 * (phi_1 = phi in-sample), "season" s, or (l + phi_h b) (s - 1) for a
 * multiplicative season so that the three add up to mu. In-sample they are
 * those of each row's one-step prediction, filtered from the state
 * estimated on the first rows as score does; a horizon continues from the
 * state after @x (after training for NULL) as forecast does. */
static tsa_status ets_components(const tsa_model *m, const tsa_series *x, size_t horizon,
                                 tsa_components *c)
{
    const ets_kstate *st = ets_get(m);
    TSA_FAIL_IF(!st, TSA_ENOTFITTED, "components: the model is not fitted");
    const tsa_stat_ets *e = &st->fit;
    TSA_FAIL_IF(!x && !horizon, TSA_EINVAL,
                "x: the ets kind keeps only its final state, not the training series; pass the "
                "series to split (or a horizon > 0)");
    const int has_trend = e->spec.trend != TSA_STAT_ETS_N,
              has_season = e->spec.season != TSA_STAT_ETS_N;
    const size_t mm = e->spec.m, n = c->length;
    TSA_TRY(tsa_components_alloc(c, 1 + (size_t)has_trend + (size_t)has_season));
    TSA_TRY(tsa_components_name(c, 0, "level", 0));
    if (has_trend)
        TSA_TRY(tsa_components_name(c, 1, "trend", 0));
    if (has_season)
        TSA_TRY(tsa_components_name(c, 1 + (size_t)has_trend, "season",
                                    e->spec.season == TSA_STAT_ETS_M));
    double *lv = c->values, *tr = has_trend ? lv + n : NULL,
           *se = has_season ? lv + (1 + (size_t)has_trend) * n : NULL;
    double *ring = malloc(mm * sizeof *ring);
    TSA_FAIL_IF(!ring, TSA_ENOMEM, "components: out of memory");
    double l, b;
    size_t t = 0;
    tsa_status rc = TSA_OK;
    if (!x) {
        l = e->l;
        b = e->b;
        memcpy(ring, e->s, mm * sizeof *ring);
        t = e->n_train;
    } else if (horizon) {
        rc = ets_history(st, x, "x", &l, &b, ring, NULL);
        t = x->length;
    } else {
        /* ets_history's checks and start, then one row at a time to read
         * the state before each update. */
        const size_t ctx = tsa_stat_ets_context(e);
        if (x->length < ctx)
            rc = tsa_error(TSA_ETOOSHORT, "x: needs at least %zu rows, got %zu", ctx, x->length);
        for (size_t i = 0; rc == TSA_OK && tsa_stat_ets_needs_positive(e) && i < n; i++)
            if (!(x->values[i] > 0.0))
                rc = tsa_error(TSA_EINVAL,
                               "x: the fitted model is multiplicative and needs positive "
                               "values, got %g at row %zu",
                               x->values[i], i);
        if (rc == TSA_OK)
            rc = tsa_stat_ets_heuristic_state(&e->spec, x->values, ctx, &l, &b, ring);
        for (size_t i = 0; rc == TSA_OK && i < n; i++) {
            const double q = l + e->phi * b, sv = ring[i % mm];
            lv[i] = l;
            if (tr)
                tr[i] = e->phi * b;
            if (se)
                se[i] = e->spec.season == TSA_STAT_ETS_M ? q * (sv - 1.0) : sv;
            rc = tsa_stat_ets_filter(e, x->values + i, 1, &l, &b, ring, i, NULL, NULL);
        }
        free(ring);
        return rc;
    }
    /* The forecast recursion (tsa_stat_ets_forecast): phi_h = phi + ... + phi^h. */
    double phistar = e->phi, phipow = e->phi;
    for (size_t h = 1; rc == TSA_OK && h <= n; h++) {
        const double q = l + phistar * b, sv = ring[(t + h - 1) % mm];
        lv[h - 1] = l;
        if (tr)
            tr[h - 1] = phistar * b;
        if (se)
            se[h - 1] = e->spec.season == TSA_STAT_ETS_M ? q * (sv - 1.0) : sv;
        phipow *= e->phi;
        phistar += phipow;
    }
    free(ring);
    return rc;
}

static tsa_status ets_save(const tsa_model *m, tsa_wbuf *w)
{
    const ets_kstate *s = ets_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "save: the ETS state is missing");
    tsa_wbuf_u32(w, ETS_KIND_LAYOUT_VERSION);
    tsa_wbuf_u64(w, s->period);
    tsa_wbuf_u8(w, (uint8_t)s->source);
    tsa_wbuf_u64(w, s->seed);
    tsa_stat_ets_save(&s->fit, w);
    tsa_calibrator_save(&s->cal, w);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the ETS state");
    return TSA_OK;
}

static tsa_status ets_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    uint32_t version;
    uint64_t period, seed;
    uint8_t source;
    if (tsa_rbuf_u32(r, &version) || tsa_rbuf_u64(r, &period) || tsa_rbuf_u8(r, &source) ||
        tsa_rbuf_u64(r, &seed))
        return tsa_error(TSA_EFORMAT, "ETS state: truncated header");
    TSA_FAIL_IF(version != ETS_KIND_LAYOUT_VERSION, TSA_EFORMAT,
                "ETS state: unknown layout version %u", (unsigned)version);
    TSA_FAIL_IF(m->n_features != 1, TSA_EFORMAT, "ETS state: %zu features, the kind is univariate",
                m->n_features);
    TSA_FAIL_IF(period < 1 || period > ETS_MAX_PERIOD || source > TSA_STAT_PERIOD_TIMESTAMPS,
                TSA_EFORMAT, "ETS state: bad period %llu or period source %u",
                (unsigned long long)period, (unsigned)source);
    ets_kstate s;
    memset(&s, 0, sizeof s);
    TSA_TRY(tsa_stat_ets_load(&s.fit, r));
    tsa_status rc = TSA_OK;
    if (s.fit.n_train != m->n_train)
        rc = tsa_error(TSA_EFORMAT, "ETS state: fitted on %zu rows, the model header says %zu",
                       s.fit.n_train, m->n_train);
    else if (s.fit.spec.season != TSA_STAT_ETS_N &&
             (s.fit.spec.m != period || 2 * s.fit.spec.m > m->n_train))
        rc = tsa_error(TSA_EFORMAT, "ETS state: seasonal period %zu inconsistent with %llu",
                       s.fit.spec.m, (unsigned long long)period);
    if (rc == TSA_OK)
        rc = tsa_calibrator_load(&s.cal, r);
    if (rc != TSA_OK) {
        tsa_stat_ets_free(&s.fit);
        return rc;
    }
    s.period = (size_t)period;
    s.source = source;
    s.seed = seed;
    s.sigma = sqrt(s.fit.sigma2);
    memcpy(state, &s, sizeof s);
    return TSA_OK;
}

/* ---- info -------------------------------------------------------------------------- */

static int add_item(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return 1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return 1;
    }
    return 0;
}

static cJSON *vec_json(const double *x, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *v = cJSON_CreateNumber(x[i]);
        if (!v || !cJSON_AddItemToArray(a, v)) {
            cJSON_Delete(v);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static const char *status_name(int status)
{
    switch (status) {
    case TSA_STAT_ETS_FITTED:
        return "fitted";
    case TSA_STAT_ETS_SKIP_SHORT:
        return "too_short";
    case TSA_STAT_ETS_SKIP_POSITIVE:
        return "needs_positive_data";
    default:
        return "failed";
    }
}

static cJSON *components_json(const tsa_stat_ets_spec *sp)
{
    static const char *const code[] = {"N", "A", "M"};
    cJSON *c = cJSON_CreateObject();
    if (!c)
        return NULL;
    int bad = 0;
    bad |= !cJSON_AddStringToObject(c, "error", code[sp->error]);
    bad |= !cJSON_AddStringToObject(c, "trend", sp->trend == TSA_STAT_ETS_N ? "N"
                                                : sp->damped               ? "Ad"
                                                                           : "A");
    bad |= !cJSON_AddStringToObject(c, "season", code[sp->season]);
    bad |= !cJSON_AddBoolToObject(c, "damped", sp->damped);
    if (bad) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static tsa_status ets_info(const tsa_model *m, cJSON *obj)
{
    const ets_kstate *s = ets_get(m);
    if (!s)
        return TSA_OK;
    const tsa_stat_ets *e = &s->fit;
    const int seasonal = e->spec.season != TSA_STAT_ETS_N;
    char name[32];
    tsa_stat_ets_name(&e->spec, name, sizeof name);
    int bad = 0;
    bad |= !cJSON_AddStringToObject(obj, "model", name);
    bad |= add_item(obj, "components", components_json(&e->spec));
    bad |= !cJSON_AddNumberToObject(obj, "period", (double)s->period);
    bad |= !cJSON_AddStringToObject(obj, "period_source", tsa_stat_period_source_name(s->source));
    bad |= !cJSON_AddNumberToObject(obj, "alpha", e->alpha);
    if (e->spec.trend != TSA_STAT_ETS_N)
        bad |= !cJSON_AddNumberToObject(obj, "beta", e->beta);
    if (seasonal)
        bad |= !cJSON_AddNumberToObject(obj, "gamma", e->gamma);
    if (e->spec.damped)
        bad |= !cJSON_AddNumberToObject(obj, "phi", e->phi);
    cJSON *init = cJSON_CreateObject(), *fin = cJSON_CreateObject();
    if (init) {
        bad |= !cJSON_AddNumberToObject(init, "level", e->l0);
        if (e->spec.trend != TSA_STAT_ETS_N)
            bad |= !cJSON_AddNumberToObject(init, "trend", e->b0);
        if (seasonal)
            bad |= add_item(init, "season", vec_json(e->s0, e->spec.m));
    }
    if (fin) {
        bad |= !cJSON_AddNumberToObject(fin, "level", e->l);
        if (e->spec.trend != TSA_STAT_ETS_N)
            bad |= !cJSON_AddNumberToObject(fin, "trend", e->b);
        if (seasonal)
            bad |= add_item(fin, "season", vec_json(e->s, e->spec.m));
    }
    bad |= add_item(obj, "initial_states", init);
    bad |= add_item(obj, "final_states", fin);
    bad |= add_item(obj, "season_layout",
                    cJSON_CreateString("season[k] is the index of rows t with t mod period == k, "
                                       "t = 0 at the first training row"));
    bad |= !cJSON_AddNumberToObject(obj, "sigma", s->sigma);
    bad |= !cJSON_AddNumberToObject(obj, "sigma2", e->sigma2);
    bad |= !cJSON_AddNumberToObject(obj, "n_params", (double)e->n_params);
    bad |= !cJSON_AddNumberToObject(obj, "loglik", e->loglik);
    bad |= !cJSON_AddNumberToObject(obj, "aic", e->aic);
    bad |= !cJSON_AddNumberToObject(obj, "aicc", e->aicc);
    bad |= !cJSON_AddNumberToObject(obj, "bic", e->bic);
    bad |= !cJSON_AddNumberToObject(obj, "iterations", (double)e->iterations);
    bad |= !cJSON_AddStringToObject(obj, "selection", "aicc");
    cJSON *cands = cJSON_CreateArray();
    for (size_t i = 0; cands && i < e->n_cand; i++) {
        const tsa_stat_ets_cand *c = &e->cand[i];
        cJSON *row = cJSON_CreateObject();
        if (!row || !cJSON_AddItemToArray(cands, row)) {
            cJSON_Delete(row);
            bad = 1;
            break;
        }
        char cn[32];
        tsa_stat_ets_name(&c->spec, cn, sizeof cn);
        bad |= !cJSON_AddStringToObject(row, "model", cn);
        bad |= !cJSON_AddStringToObject(row, "status", status_name(c->status));
        bad |= !cJSON_AddNumberToObject(row, "n_params", (double)c->n_params);
        bad |= !cJSON_AddNumberToObject(row, "loglik", c->loglik);
        bad |= !cJSON_AddNumberToObject(row, "aic", c->aic);
        bad |= !cJSON_AddNumberToObject(row, "aicc", c->aicc);
        bad |= !cJSON_AddNumberToObject(row, "bic", c->bic);
    }
    bad |= add_item(obj, "candidates", cands);
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the ETS state");
    return TSA_OK;
}

const tsa_kind tsa_kind_ets = {
    .name = "ets",
    .aliases = NULL,
    .description = "Exponential smoothing state space models ETS(error, trend, season) "
                   "(Hyndman et al. 2002, 2008): maximum likelihood by Nelder-Mead, model "
                   "chosen by AICc as forecast::ets, analytic (additive errors) or simulated "
                   "intervals; anomaly score = |one-step residual| / sigma, calibrated on "
                   "the training scores.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_INTERVALS | TSA_CAP_COMPONENTS,
    .params = ets_params,
    .n_params = sizeof ets_params / sizeof ets_params[0],
    .state_size = sizeof(ets_kstate),
    .destroy = ets_destroy,
    .fit = ets_fit,
    .context_length = ets_context_length,
    .forecast = ets_forecast,
    .score = ets_score,
    .save = ets_save,
    .load = ets_load,
    .info = ets_info,
    .components = ets_components,
};
