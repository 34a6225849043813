/* Model evaluation and selection operations shared by the agents:
 * rolling-origin backtests of forecasters, labelled evaluation of detectors,
 * choosing a kind for a series, and explaining flagged points. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evaluate.h"
#include "series_json.h"

static const cJSON *field(const cJSON *o, const char *k) { return cJSON_GetObjectItemCaseSensitive(o, k); }

static cJSON *names_json(const tsa_components *c)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t k = 0; a && k < c->n_components; k++)
        cJSON_AddItemToArray(a, cJSON_CreateString(c->names[k]));
    return a;
}

static int read_data(const cJSON *req, tsa_owned_series *s, tsa_svc_error *e)
{
    char err[512];
    const cJSON *d = field(req, "data");
    if (!d) {
        tsa_svc_fail(e, 400, "missing_field", "data", "data: is required");
        return -1;
    }
    if (tsa_series_from_json(d, "data", s, err, sizeof err) != 0) {
        tsa_svc_fail(e, 400, "invalid_field", "data", "%s", err);
        return -1;
    }
    return 0;
}

/* A model for the backtest: a stored one (model_name) or a kind to fit. */
typedef struct subject {
    tsa_cached_model *entry;
    const tsa_model *stored;
    const char *kind;
    tsa_params *params;
    char label[160];
} subject;

static int subject_open(tsa_svc *svc, const cJSON *req, subject *s, tsa_svc_error *e)
{
    memset(s, 0, sizeof *s);
    const cJSON *name = field(req, "model_name"), *type = field(req, "model_type");
    if (cJSON_IsString(name)) {
        cJSON *ok = tsa_op_load_model(svc, name->valuestring, &s->entry, NULL, e);
        if (!ok)
            return -1;
        cJSON_Delete(ok);
        s->stored = tsa_cached_model_get(s->entry);
        s->kind = tsa_model_kind(s->stored);
        snprintf(s->label, sizeof s->label, "%s", name->valuestring);
        return 0;
    }
    if (!cJSON_IsString(type)) {
        tsa_svc_fail(e, 400, "missing_field", "model_name", "model_name or model_type: one is required");
        return -1;
    }
    if (!tsa_kind_capabilities(type->valuestring)) {
        tsa_svc_fail(e, 400, "unknown_model_type", "model_type", "model_type: unknown model type '%.64s'",
                     type->valuestring);
        return -1;
    }
    s->kind = type->valuestring;
    tsa_params_create(&s->params);
    const cJSON *params = field(req, "params"), *it;
    cJSON_ArrayForEach(it, params)
    {
        if (cJSON_IsNumber(it) && it->valuedouble == floor(it->valuedouble))
            tsa_params_set_int(s->params, it->string, (int64_t)it->valuedouble);
        else if (cJSON_IsNumber(it))
            tsa_params_set_double(s->params, it->string, it->valuedouble);
        else if (cJSON_IsString(it))
            tsa_params_set_str(s->params, it->string, it->valuestring);
        else if (cJSON_IsBool(it))
            tsa_params_set_bool(s->params, it->string, cJSON_IsTrue(it));
    }
    tsa_model *probe = NULL;
    tsa_status rc = tsa_model_create(s->kind, s->params, &probe);
    tsa_model_free(probe);
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, "params");
        tsa_params_free(s->params);
        return -1;
    }
    snprintf(s->label, sizeof s->label, "%s", s->kind);
    return 0;
}

static void subject_close(tsa_svc *svc, subject *s)
{
    if (s->entry)
        tsa_model_cache_release(svc->cache, s->entry);
    tsa_params_free(s->params);
}

/* Forecasts @h steps after the first @origin rows of @s. */
static tsa_status subject_forecast(const subject *sub, const tsa_series *s, size_t origin, size_t h,
                                   tsa_forecast **fc)
{
    tsa_series hist = *s;
    hist.length = origin;
    if (sub->stored)
        return tsa_model_forecast(sub->stored, &hist, h, 0.95, fc);
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create(sub->kind, sub->params, &m);
    if (rc == TSA_OK)
        rc = tsa_model_fit(m, &hist, NULL);
    if (rc == TSA_OK)
        rc = tsa_model_forecast(m, NULL, h, 0.95, fc);
    tsa_model_free(m);
    return rc;
}

/* The backtest itself; fills per-step and overall errors. NULL on failure. */
static cJSON *backtest(const subject *sub, const tsa_series *s, size_t h, size_t n_origins, tsa_svc_error *e)
{
    size_t n = s->length, k = s->n_features;
    if (n < h * (n_origins + 1) + 10) {
        tsa_svc_fail(e, 422, "unprocessable", "data",
                     "data: %zu rows are too few for %zu origins of horizon %zu (need at least %zu)", n, n_origins, h,
                     h * (n_origins + 1) + 10);
        return NULL;
    }
    double *ae = calloc(h, sizeof *ae), *se = calloc(h, sizeof *se), *sm = calloc(h, sizeof *sm);
    double *sc = calloc(h, sizeof *sc), *cov = calloc(h, sizeof *cov);
    size_t count = 0;
    cJSON *origins = cJSON_CreateArray();
    tsa_status rc = TSA_OK;
    for (size_t o = 0; o < n_origins && rc == TSA_OK; o++) {
        size_t origin = n - h * (n_origins - o);
        tsa_forecast *fc = NULL;
        rc = subject_forecast(sub, s, origin, h, &fc);
        if (rc != TSA_OK)
            break;
        cJSON_AddItemToArray(origins, cJSON_CreateNumber((double)origin));
        for (size_t j = 0; j < k; j++) {
            /* MASE scale: in-sample one-step naive error up to the origin. */
            double scale = 0;
            for (size_t t = 1; t < origin; t++)
                scale += fabs(s->values[t * k + j] - s->values[(t - 1) * k + j]);
            scale = origin > 1 ? scale / (double)(origin - 1) : 0;
            for (size_t i = 0; i < h; i++) {
                double y = s->values[(origin + i) * k + j], f = fc->mean[i * k + j];
                double err = fabs(y - f);
                ae[i] += err;
                se[i] += err * err;
                sm[i] += fabs(y) + fabs(f) > 0 ? 200.0 * err / (fabs(y) + fabs(f)) : 0;
                sc[i] += scale > 0 ? err / scale : 0;
                cov[i] += y >= fc->lower[i * k + j] && y <= fc->upper[i * k + j];
            }
        }
        count += k;
        tsa_forecast_free(fc);
    }
    cJSON *out = NULL;
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, "data");
        cJSON_Delete(origins);
    } else {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "model", sub->label);
        cJSON_AddStringToObject(out, "model_type", sub->kind);
        cJSON_AddNumberToObject(out, "horizon", (double)h);
        cJSON_AddItemToObject(out, "origins", origins);
        cJSON *per = cJSON_AddArrayToObject(out, "per_horizon");
        double tm = 0, tr = 0, ts = 0, tq = 0, tc = 0;
        for (size_t i = 0; i < h; i++) {
            cJSON *p = cJSON_CreateObject();
            cJSON_AddNumberToObject(p, "step", (double)(i + 1));
            cJSON_AddNumberToObject(p, "mae", ae[i] / (double)count);
            cJSON_AddNumberToObject(p, "rmse", sqrt(se[i] / (double)count));
            cJSON_AddNumberToObject(p, "smape", sm[i] / (double)count);
            cJSON_AddNumberToObject(p, "mase", sc[i] / (double)count);
            cJSON_AddNumberToObject(p, "coverage_95", cov[i] / (double)count);
            cJSON_AddItemToArray(per, p);
            tm += ae[i];
            tr += se[i];
            ts += sm[i];
            tq += sc[i];
            tc += cov[i];
        }
        cJSON *all = cJSON_AddObjectToObject(out, "overall");
        double denom = (double)(count * h);
        cJSON_AddNumberToObject(all, "mae", tm / denom);
        cJSON_AddNumberToObject(all, "rmse", sqrt(tr / denom));
        cJSON_AddNumberToObject(all, "smape", ts / denom);
        cJSON_AddNumberToObject(all, "mase", tq / denom);
        cJSON_AddNumberToObject(all, "coverage_95", tc / denom);
    }
    free(ae);
    free(se);
    free(sm);
    free(sc);
    free(cov);
    return out;
}

static long int_arg(const cJSON *req, const char *k, long def)
{
    const cJSON *v = field(req, k);
    return cJSON_IsNumber(v) ? (long)v->valuedouble : def;
}

cJSON *tsa_op_backtest(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    tsa_owned_series s;
    if (read_data(req, &s, e) != 0)
        return NULL;
    subject sub;
    if (subject_open(svc, req, &sub, e) != 0) {
        tsa_owned_series_free(&s);
        return NULL;
    }
    cJSON *out = backtest(&sub, &s.view, (size_t)int_arg(req, "horizon", 10), (size_t)int_arg(req, "n_origins", 5), e);
    subject_close(svc, &sub);
    tsa_owned_series_free(&s);
    return out;
}

/* Simple descriptive statistics that explain a choice of model. */
static cJSON *describe(const tsa_series *s, double *trend_r2, double *season_acf, size_t *period)
{
    size_t n = s->length, k = s->n_features;
    /* Feature 0: R^2 of a linear trend, and the largest autocorrelation of
     * the detrended series at lags 2..n/3. */
    double mt = (double)(n - 1) / 2, my = 0;
    for (size_t t = 0; t < n; t++)
        my += s->values[t * k];
    my /= (double)n;
    double sty = 0, stt = 0, syy = 0;
    for (size_t t = 0; t < n; t++) {
        double dt = (double)t - mt, dy = s->values[t * k] - my;
        sty += dt * dy;
        stt += dt * dt;
        syy += dy * dy;
    }
    double slope = stt > 0 ? sty / stt : 0;
    *trend_r2 = syy > 0 ? sty * sty / (stt * syy) : 0;
    double *r = malloc(n * sizeof *r);
    double var = 0;
    for (size_t t = 0; t < n; t++) {
        r[t] = s->values[t * k] - my - slope * ((double)t - mt);
        var += r[t] * r[t];
    }
    *season_acf = 0;
    *period = 0;
    /* The season is the highest autocorrelation peak after the first local
     * minimum (a smooth series is correlated at small lags without being
     * seasonal). */
    size_t max_lag = n / 3 < 1000 ? n / 3 : 1000;
    double *acf = calloc(max_lag + 2, sizeof *acf);
    for (size_t lag = 1; var > 0 && acf && lag <= max_lag; lag++) {
        double c = 0;
        for (size_t t = lag; t < n; t++)
            c += r[t] * r[t - lag];
        acf[lag] = c / var;
    }
    size_t first_min = 0;
    for (size_t lag = 2; acf && lag < max_lag; lag++)
        if (acf[lag] <= acf[lag - 1] && acf[lag] < acf[lag + 1]) {
            first_min = lag;
            break;
        }
    for (size_t lag = first_min ? first_min + 1 : max_lag + 1; acf && lag < max_lag; lag++)
        if (acf[lag] >= acf[lag - 1] && acf[lag] >= acf[lag + 1] && acf[lag] > 0.3 && acf[lag] > *season_acf) {
            *season_acf = acf[lag];
            *period = lag;
        }
    free(acf);
    free(r);
    cJSON *d = cJSON_CreateObject();
    cJSON_AddNumberToObject(d, "length", (double)n);
    cJSON_AddNumberToObject(d, "n_features", (double)k);
    cJSON_AddNumberToObject(d, "trend_r2", *trend_r2);
    cJSON_AddNumberToObject(d, "seasonal_acf", *season_acf);
    cJSON_AddNumberToObject(d, "seasonal_period", (double)*period);
    return d;
}

cJSON *tsa_op_select_forecaster(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    (void)svc;
    tsa_owned_series s;
    if (read_data(req, &s, e) != 0)
        return NULL;
    double r2, acf;
    size_t period;
    cJSON *desc = describe(&s.view, &r2, &acf, &period);
    size_t n = s.view.length, k = s.view.n_features;
    size_t h = (size_t)int_arg(req, "horizon", (long)(n / 20 > 24 ? 24 : (n / 20 < 1 ? 1 : n / 20)));
    /* Candidates the data suits: quick kinds always; neural kinds only with
     * enough data and when asked (they take longer to fit). */
    static const char *const quick[] = {"multivariate", "ets", "theta", "seasonal_naive", "naive", "prophet", "hmm", NULL};
    static const char *const neural[] = {"lstm", "cnn", "transformer", NULL};
    cJSON *cands = cJSON_CreateArray();
    const cJSON *include_neural = field(req, "include_neural");
    for (int pass = 0; pass < 2; pass++) {
        const char *const *list = pass ? neural : quick;
        if (pass && !(cJSON_IsTrue(include_neural) && n >= 500))
            break;
        for (size_t i = 0; list[i]; i++) {
            unsigned caps = tsa_kind_capabilities(list[i]);
            if (!(caps & TSA_CAP_FORECAST) || (k > 1 && !(caps & TSA_CAP_MULTIVARIATE)))
                continue;
            cJSON_AddItemToArray(cands, cJSON_CreateString(list[i]));
        }
    }
    cJSON *results = cJSON_CreateArray();
    const char *best = NULL;
    double best_score = INFINITY;
    const cJSON *c;
    cJSON_ArrayForEach(c, cands)
    {
        subject sub;
        memset(&sub, 0, sizeof sub);
        sub.kind = c->valuestring;
        snprintf(sub.label, sizeof sub.label, "%s", sub.kind);
        if (!strcmp(sub.kind, "lstm") || !strcmp(sub.kind, "cnn") || !strcmp(sub.kind, "transformer")) {
            tsa_params_create(&sub.params);
            tsa_params_set_int(sub.params, "epochs", 10);
        }
        tsa_svc_error be = {0};
        cJSON *r = backtest(&sub, &s.view, h, 3, &be);
        tsa_params_free(sub.params);
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddStringToObject(entry, "model_type", sub.kind);
        if (r) {
            const cJSON *all = field(r, "overall");
            double mase = field(all, "mase")->valuedouble;
            cJSON_AddNumberToObject(entry, "mase", mase);
            cJSON_AddNumberToObject(entry, "smape", field(all, "smape")->valuedouble);
            cJSON_AddNumberToObject(entry, "coverage_95", field(all, "coverage_95")->valuedouble);
            if (mase < best_score) {
                best_score = mase;
                best = sub.kind;
            }
            cJSON_Delete(r);
        } else {
            cJSON_AddStringToObject(entry, "error", be.message);
        }
        cJSON_AddItemToArray(results, entry);
    }
    tsa_owned_series_free(&s);
    if (!best) {
        cJSON_Delete(desc);
        cJSON_Delete(cands);
        cJSON_Delete(results);
        return tsa_svc_fail(e, 422, "unprocessable", "data",
                            "data: no model type could be backtested on %zu rows; send a longer series", n);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "best_model_type", best);
    char why[1024];
    snprintf(why, sizeof why,
             "%zu rows x %zu feature%s; %s trend (R^2 %.2f); %s (autocorrelation %.2f%s%zu). "
             "Among %d candidate types, %s had the lowest mean absolute scaled error (%.3f) in a rolling-origin "
             "backtest with 3 origins and horizon %zu.",
             n, k, k > 1 ? "s" : "", r2 > 0.5 ? "a strong" : r2 > 0.1 ? "a moderate" : "little", r2,
             acf > 0.3 ? "seasonal" : "no clear seasonality", acf, period ? " at lag " : "", period,
             cJSON_GetArraySize(cands), best, best_score, h);
    cJSON_AddStringToObject(out, "reason", why);
    cJSON_AddItemToObject(out, "data_characteristics", desc);
    cJSON_AddItemToObject(out, "candidates", results);
    cJSON_Delete(cands);
    return out;
}

/* ---- anomaly evaluation ---------------------------------------------------------- */

static int read_labels(const cJSON *req, size_t n, uint8_t **out, int required, tsa_svc_error *e)
{
    const cJSON *l = field(req, "labels");
    *out = NULL;
    if (!l || cJSON_IsNull(l)) {
        if (required)
            tsa_svc_fail(e, 400, "missing_field", "labels", "labels: is required (0/1 per row of data)");
        return required ? -1 : 0;
    }
    if (!cJSON_IsArray(l) || (size_t)cJSON_GetArraySize(l) != n) {
        tsa_svc_fail(e, 400, "invalid_field", "labels", "labels: must be an array of 0/1 with %zu entries", n);
        return -1;
    }
    *out = calloc(n, 1);
    size_t t = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, l)(*out)[t++] = cJSON_IsTrue(it) || (cJSON_IsNumber(it) && it->valuedouble != 0);
    return 0;
}

/* Scores @s with the subject (fitting on @s when it is a kind). */
static tsa_status subject_scores(const subject *sub, const tsa_series *s, double *cal)
{
    if (sub->stored)
        return tsa_model_score(sub->stored, s, NULL, cal);
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create(sub->kind, sub->params, &m);
    if (rc == TSA_OK)
        rc = tsa_model_fit(m, s, NULL);
    if (rc == TSA_OK)
        rc = tsa_model_score(m, s, NULL, cal);
    tsa_model_free(m);
    return rc;
}

static void eval_at(const double *cal, const uint8_t *labels, size_t n, double thr, tsa_classification *c)
{
    uint8_t *flags = malloc(n);
    for (size_t t = 0; t < n; t++)
        flags[t] = cal[t] > thr;
    tsa_metric_classification(labels, flags, n, c);
    free(flags);
}

static cJSON *classification_json(const tsa_classification *c, double thr)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "threshold", thr);
    cJSON_AddNumberToObject(o, "precision", c->precision);
    cJSON_AddNumberToObject(o, "recall", c->recall);
    cJSON_AddNumberToObject(o, "f1", c->f1);
    cJSON_AddNumberToObject(o, "true_positives", (double)c->true_positives);
    cJSON_AddNumberToObject(o, "false_positives", (double)c->false_positives);
    cJSON_AddNumberToObject(o, "false_negatives", (double)c->false_negatives);
    return o;
}

static cJSON *evaluate_detector(const subject *sub, const tsa_series *s, const uint8_t *labels, double thr,
                                tsa_svc_error *e)
{
    size_t n = s->length;
    double *cal = malloc(n * sizeof *cal);
    tsa_status rc = subject_scores(sub, s, cal);
    if (rc != TSA_OK) {
        free(cal);
        return tsa_svc_fail_tsa(e, rc, "data");
    }
    tsa_classification c;
    eval_at(cal, labels, n, thr, &c);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "model", sub->label);
    cJSON_AddStringToObject(out, "model_type", sub->kind);
    cJSON_AddItemToObject(out, "at_threshold", classification_json(&c, thr));
    double best_thr = thr, best_f1 = -1;
    tsa_classification best;
    static const double grid[] = {0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.925, 0.95, 0.97, 0.98, 0.99, 0.995, 0.999, 0.9999};
    for (size_t i = 0; i < sizeof grid / sizeof grid[0]; i++) {
        tsa_classification g;
        eval_at(cal, labels, n, grid[i], &g);
        if (g.f1 > best_f1) {
            best_f1 = g.f1;
            best_thr = grid[i];
            best = g;
        }
    }
    cJSON_AddItemToObject(out, "best", classification_json(&best, best_thr));
    cJSON_AddNumberToObject(out, "best_threshold", best_thr);
    cJSON_AddNumberToObject(out, "precision", c.precision);
    cJSON_AddNumberToObject(out, "recall", c.recall);
    cJSON_AddNumberToObject(out, "f1", c.f1);
    free(cal);
    return out;
}

cJSON *tsa_op_evaluate_detector(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    tsa_owned_series s;
    if (read_data(req, &s, e) != 0)
        return NULL;
    uint8_t *labels;
    if (read_labels(req, s.view.length, &labels, 1, e) != 0) {
        tsa_owned_series_free(&s);
        return NULL;
    }
    subject sub;
    cJSON *out = NULL;
    const cJSON *t = field(req, "threshold");
    double thr = cJSON_IsNumber(t) ? t->valuedouble : 0.95;
    if (subject_open(svc, req, &sub, e) == 0) {
        out = evaluate_detector(&sub, &s.view, labels, thr, e);
        subject_close(svc, &sub);
    }
    free(labels);
    tsa_owned_series_free(&s);
    return out;
}

cJSON *tsa_op_select_detector(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    (void)svc;
    tsa_owned_series s;
    if (read_data(req, &s, e) != 0)
        return NULL;
    size_t n = s.view.length, k = s.view.n_features;
    uint8_t *labels;
    if (read_labels(req, n, &labels, 0, e) != 0) {
        tsa_owned_series_free(&s);
        return NULL;
    }
    /* Without labels: inject spikes of 6 robust standard deviations at
     * known rows of a copy and measure how well each kind finds them. */
    int injected = 0;
    double *copy = NULL;
    tsa_series view = s.view;
    if (!labels) {
        injected = 1;
        labels = calloc(n, 1);
        copy = malloc(n * k * sizeof *copy);
        memcpy(copy, s.view.values, n * k * sizeof *copy);
        for (size_t j = 0; j < k; j++) {
            double mad = 0;
            for (size_t t = 1; t < n; t++)
                mad += fabs(copy[t * k + j] - copy[(t - 1) * k + j]);
            mad = n > 1 ? mad / (double)(n - 1) : 1;
            size_t step = n / 12 > 0 ? n / 12 : 1;
            for (size_t t = step; t + step / 2 < n; t += step) {
                copy[t * k + j] += (t / step % 2 ? 6 : -6) * (mad > 0 ? mad : 1);
                labels[t] = 1;
            }
        }
        view.values = copy;
        view.mask = NULL;
    }
    static const char *const kinds[] = {"multivariate", "hmm", "prophet", "ets", "theta", "naive", "seasonal_naive",
                                        "transformer", "lstm", "cnn", NULL};
    cJSON *results = cJSON_CreateArray();
    const char *best = NULL;
    double best_f1 = -1;
    int n_cands = 0;
    for (size_t i = 0; kinds[i]; i++) {
        unsigned caps = tsa_kind_capabilities(kinds[i]);
        if (!(caps & TSA_CAP_SCORE) || (k > 1 && !(caps & TSA_CAP_MULTIVARIATE)))
            continue;
        int neural = !strcmp(kinds[i], "lstm") || !strcmp(kinds[i], "cnn") || !strcmp(kinds[i], "transformer");
        if (neural && !cJSON_IsTrue(field(req, "include_neural")))
            continue;
        subject sub;
        memset(&sub, 0, sizeof sub);
        sub.kind = kinds[i];
        snprintf(sub.label, sizeof sub.label, "%s", sub.kind);
        if (neural) {
            tsa_params_create(&sub.params);
            tsa_params_set_int(sub.params, "epochs", 10);
        }
        tsa_svc_error ee = {0};
        cJSON *r = evaluate_detector(&sub, &view, labels, 0.95, &ee);
        tsa_params_free(sub.params);
        n_cands++;
        cJSON *entry = cJSON_CreateObject();
        cJSON_AddStringToObject(entry, "model_type", sub.kind);
        if (r) {
            const cJSON *b = field(r, "best");
            double f1 = field(b, "f1")->valuedouble;
            cJSON_AddNumberToObject(entry, "best_f1", f1);
            cJSON_AddNumberToObject(entry, "best_threshold", field(r, "best_threshold")->valuedouble);
            cJSON_AddNumberToObject(entry, "f1_at_0_95", field(r, "f1")->valuedouble);
            if (f1 > best_f1) {
                best_f1 = f1;
                best = sub.kind;
            }
            cJSON_Delete(r);
        } else {
            cJSON_AddStringToObject(entry, "error", ee.message);
        }
        cJSON_AddItemToArray(results, entry);
    }
    free(copy);
    free(labels);
    tsa_owned_series_free(&s);
    if (!best) {
        cJSON_Delete(results);
        return tsa_svc_fail(e, 422, "unprocessable", "data", "data: no anomaly model type could be evaluated on %zu rows", n);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "best_model_type", best);
    char why[600];
    snprintf(why, sizeof why, "%s had the best F1 (%.3f) among %d candidate types, measured %s.", best, best_f1, n_cands,
             injected ? "on a copy of the data with spikes of 6 mean absolute differences injected at known rows"
                      : "against the given labels");
    cJSON_AddStringToObject(out, "reason", why);
    cJSON_AddItemToObject(out, "candidates", results);
    return out;
}

/* ---- component attribution of flagged points ---------------------------------------- */

/* The in-sample components of a model over the explained series, with what
 * the attribution needs: residuals r = y - fit, their robust scale, and for
 * each component its seasonal period in rows (0 for trend and holidays). */
typedef struct comp_view {
    tsa_components *c;
    double *resid;   /* (n) */
    double sd;       /* 1.4826 MAD of resid (the standard deviation of Normal noise) */
    double *period;  /* (n_components) rows, 0 when not seasonal */
    int attribute;   /* 1 for prophet: name the deviating component */
} comp_view;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median_of(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void comp_view_free(comp_view *v)
{
    tsa_components_free(v->c);
    free(v->resid);
    free(v->period);
    memset(v, 0, sizeof *v);
}

/* Seasonal periods of a prophet model in rows of @x, from its description
 * ("seasonalities" with a period in days or steps). */
static void prophet_periods(const tsa_model *m, const tsa_series *x, comp_view *v)
{
    char *json = NULL;
    if (tsa_model_info_json(m, &json) != TSA_OK)
        return;
    cJSON *info = cJSON_Parse(json);
    tsa_free(json);
    const cJSON *st = field(info, "state") ? field(info, "state") : info;
    const cJSON *unit = field(st, "time_unit"), *blocks = field(st, "seasonalities");
    double row_days = 1.0; /* the spacing of x's rows in the model's time unit */
    int ok = cJSON_IsString(unit) && cJSON_IsArray(blocks);
    if (ok && strcmp(unit->valuestring, "days") == 0) {
        if (x->timestamps && x->length > 1)
            row_days = (double)(x->timestamps[x->length - 1] - x->timestamps[0]) /
                       (double)(x->length - 1) / 86400.0;
        else
            ok = 0;
    }
    for (size_t k = 0; ok && row_days > 0 && k < v->c->n_components; k++) {
        const cJSON *b;
        cJSON_ArrayForEach(b, blocks)
        {
            const cJSON *name = field(b, "name"), *period = field(b, "period");
            if (cJSON_IsString(name) && cJSON_IsNumber(period) && strcmp(name->valuestring, v->c->names[k]) == 0)
                v->period[k] = period->valuedouble / row_days;
        }
    }
    cJSON_Delete(info);
}

/* Components of @m over @x; 0 with v->c NULL when the kind has none. */
static int comp_view_open(const tsa_model *m, const tsa_series *x, comp_view *v)
{
    memset(v, 0, sizeof *v);
    if (!(tsa_kind_capabilities(tsa_model_kind(m)) & TSA_CAP_COMPONENTS) || x->n_features != 1)
        return 0;
    if (tsa_model_components(m, x, 0, &v->c) != TSA_OK)
        return 0;
    const size_t n = x->length;
    v->resid = malloc((n ? n : 1) * sizeof *v->resid);
    v->period = calloc(v->c->n_components ? v->c->n_components : 1, sizeof *v->period);
    double *tmp = malloc((n ? n : 1) * sizeof *tmp);
    if (!v->resid || !v->period || !tmp) {
        free(tmp);
        comp_view_free(v);
        return -1;
    }
    for (size_t t = 0; t < n; t++)
        v->resid[t] = tmp[t] = x->values[t] - v->c->mean[t];
    double med = n ? median_of(tmp, n) : 0.0;
    for (size_t t = 0; t < n; t++)
        tmp[t] = fabs(v->resid[t] - med);
    v->sd = n ? 1.4826 * median_of(tmp, n) : 0.0;
    free(tmp);
    if (!(v->sd > 0))
        v->sd = 1e-12;
    v->attribute = strcmp(tsa_model_kind(m), "prophet") == 0;
    if (v->attribute)
        prophet_periods(m, x, v);
    return 0;
}

static cJSON *num_or_null(double x) { return isfinite(x) ? cJSON_CreateNumber(x) : cJSON_CreateNull(); }

/* Adds "fitted", "components" and, for prophet, "deviating_component" and
 * "attribution" (its evidence) for the flagged row @i to @x, and returns the
 * sentence that names the component (NULL when there is none). The rules,
 * in order (docs/mcp.md, "explain_anomalies"):
 *  1. holidays: the row lies in a holiday window (the holiday component is
 *     not zero there);
 *  2. trend: the residual persists over the W rows after it (W the longest
 *     seasonal period of at most 60 rows, so that a seasonal residual
 *     averages out, at least 5; 10 without one): their mean keeps at least
 *     half the row's residual, same sign, and is at least 3 standard errors
 *     (sd / sqrt(rows)) from zero;
 *  3. a seasonality: over one of its periods either side of the row (the
 *     row itself left out), the residuals correlate with the component,
 *     |correlation| >= 0.5, and the amplitude change this implies
 *     (residual = slope * component) accounts for at least half of the
 *     row's residual (slope * component at the row / residual >= 0.5, the
 *     "seasonal_share"); the best correlated seasonality wins. The
 *     residual one and two periods away relative to the row's ("phase
 *     repeat") is reported as evidence only;
 *  4. noise: an isolated spike. */
static const char *attribute_row(const comp_view *v, size_t i, cJSON *x, char *why,
                                 size_t why_len)
{
    const tsa_components *c = v->c;
    const size_t n = c->length;
    cJSON_AddNumberToObject(x, "fitted", c->mean[i]);
    cJSON *cv = cJSON_AddObjectToObject(x, "components");
    for (size_t k = 0; k < c->n_components; k++)
        cJSON_AddItemToObject(cv, c->names[k], num_or_null(c->values[k * n + i]));
    if (!v->attribute)
        return NULL;
    const double r = v->resid[i];
    cJSON *ev = cJSON_CreateObject();
    cJSON_AddNumberToObject(ev, "residual", r);
    cJSON_AddNumberToObject(ev, "residual_sd", v->sd);

    /* 1. holidays */
    double holiday = NAN;
    for (size_t k = 0; k < c->n_components; k++)
        if (strcmp(c->names[k], "holidays") == 0)
            holiday = c->values[k * n + i];
    const int in_window = isfinite(holiday) && holiday != 0.0;
    cJSON_AddBoolToObject(ev, "in_holiday_window", in_window);
    cJSON_AddItemToObject(ev, "holiday_effect", num_or_null(holiday));

    /* 2. trend */
    double pmax = 0.0;
    for (size_t k = 0; k < c->n_components; k++)
        if (v->period[k] <= 60.0)
            pmax = fmax(pmax, v->period[k]);
    size_t w = pmax > 0 ? (size_t)llround(pmax) : 10;
    w = w < 5 ? 5 : w;
    size_t after = 0;
    double sum_after = 0.0;
    for (size_t t = i + 1; t < n && t <= i + w; t++, after++)
        sum_after += v->resid[t];
    const double mean_after = after ? sum_after / (double)after : NAN;
    const double persistence = after >= 3 && r != 0.0 ? mean_after / r : NAN;
    const double shift_z = after >= 3 ? mean_after / (v->sd / sqrt((double)after)) : NAN;
    cJSON_AddNumberToObject(ev, "rows_after", (double)after);
    cJSON_AddItemToObject(ev, "level_persistence", num_or_null(persistence));
    cJSON_AddItemToObject(ev, "level_shift_z", num_or_null(shift_z));
    const int is_trend = isfinite(persistence) && persistence >= 0.5 && fabs(shift_z) >= 3.0;

    /* 3. seasonalities */
    cJSON *corrs = cJSON_AddObjectToObject(ev, "seasonal_correlation");
    cJSON *slopes = cJSON_AddObjectToObject(ev, "seasonal_amplitude_change");
    cJSON *shares = cJSON_AddObjectToObject(ev, "seasonal_share");
    cJSON *repeats = cJSON_AddObjectToObject(ev, "phase_repeat");
    size_t best = SIZE_MAX;
    double best_corr = 0.0, best_slope = NAN;
    for (size_t k = 0; k < c->n_components; k++) {
        const double P = v->period[k];
        if (!(P >= 2.0))
            continue;
        const double *sc = c->values + k * n;
        size_t half = (size_t)llround(P), lo = i > half ? i - half : 0, hi = i + half < n ? i + half : n - 1;
        double ms = 0, mr = 0, cnt = 0;
        for (size_t t = lo; t <= hi; t++)
            if (t != i) {
                ms += sc[t];
                mr += v->resid[t];
                cnt++;
            }
        double corr = NAN, slope = NAN;
        if (cnt >= 3) {
            ms /= cnt;
            mr /= cnt;
            double sxy = 0, sxx = 0, syy = 0;
            for (size_t t = lo; t <= hi; t++)
                if (t != i) {
                    sxy += (sc[t] - ms) * (v->resid[t] - mr);
                    sxx += (sc[t] - ms) * (sc[t] - ms);
                    syy += (v->resid[t] - mr) * (v->resid[t] - mr);
                }
            if (sxx > 0 && syy > 0) {
                corr = sxy / sqrt(sxx * syy);
                slope = sxy / sxx;
            }
        }
        /* The residual one and two periods before and after. */
        double rep = 0;
        int nrep = 0;
        for (int j = -2; j <= 2; j++) {
            if (!j)
                continue;
            double at = (double)i + (double)j * P;
            if (at < 0 || at > (double)(n - 1))
                continue;
            rep += v->resid[(size_t)llround(at)];
            nrep++;
        }
        const double repeat = nrep >= 2 && r != 0.0 ? rep / nrep / r : NAN;
        /* The share of the row's residual the changed amplitude accounts for. */
        const double share = isfinite(slope) && r != 0.0 ? slope * sc[i] / r : NAN;
        cJSON_AddItemToObject(corrs, c->names[k], num_or_null(corr));
        cJSON_AddItemToObject(slopes, c->names[k], num_or_null(slope));
        cJSON_AddItemToObject(shares, c->names[k], num_or_null(share));
        cJSON_AddItemToObject(repeats, c->names[k], num_or_null(repeat));
        if (isfinite(corr) && fabs(corr) >= 0.5 && share >= 0.5 &&
            (best == SIZE_MAX || fabs(corr) > fabs(best_corr))) {
            best = k;
            best_corr = corr;
            best_slope = slope;
        }
    }
    const char *comp;
    if (in_window) {
        comp = "holidays";
        snprintf(why, why_len, "the date lies in a holiday window (holiday effect %.4g); the residual %.4g is the "
                 "holiday deviating from its fitted effect", holiday, r);
    } else if (is_trend) {
        comp = "trend";
        snprintf(why, why_len, "the trend deviates: the residual persists over the next %zu rows (mean %.4g, %.0f%% "
                 "of this row's %.4g, %.1f standard errors): a level shift", after, mean_after, 100 * persistence, r,
                 shift_z);
    } else if (best != SIZE_MAX) {
        comp = c->names[best];
        snprintf(why, why_len, "the %s seasonality deviates: around this row the residuals follow it (correlation "
                 "%.2f), its amplitude is off by %+.0f%%", comp, best_corr, 100 * best_slope);
    } else {
        comp = "noise";
        snprintf(why, why_len, "an isolated spike: the residual %.4g (%.1f sd) neither persists (%.0f%% over the "
                 "next %zu rows) nor follows a seasonality", r, r / v->sd, isfinite(persistence) ? 100 * persistence : 0.0, after);
    }
    cJSON_AddStringToObject(x, "deviating_component", comp);
    cJSON_AddItemToObject(x, "attribution", ev);
    return comp;
}

cJSON *tsa_op_explain(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    tsa_owned_series s;
    if (read_data(req, &s, e) != 0)
        return NULL;
    subject sub;
    if (subject_open(svc, req, &sub, e) != 0) {
        tsa_owned_series_free(&s);
        return NULL;
    }
    const cJSON *t = field(req, "threshold");
    double thr = cJSON_IsNumber(t) ? t->valuedouble : 0.95;
    size_t n = s.view.length, k = s.view.n_features;
    tsa_model *own = NULL;
    const tsa_model *m = sub.stored;
    tsa_status rc = TSA_OK;
    if (!m) {
        rc = tsa_model_create(sub.kind, sub.params, &own);
        if (rc == TSA_OK)
            rc = tsa_model_fit(own, &s.view, NULL);
        m = own;
    }
    tsa_detection *d = NULL;
    if (rc == TSA_OK)
        rc = tsa_model_detect(m, &s.view, thr, &d);
    cJSON *out = NULL;
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, "data");
    } else {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "model", sub.label);
        cJSON_AddStringToObject(out, "model_type", tsa_model_kind(m));
        cJSON_AddNumberToObject(out, "threshold", thr);
        cJSON *arr = cJSON_AddArrayToObject(out, "explanations");
        comp_view cv;
        if (comp_view_open(m, &s.view, &cv) == 0 && cv.c)
            cJSON_AddItemToObject(out, "component_names", names_json(cv.c));
        size_t ctx = tsa_model_context_length(m);
        int can_forecast = (tsa_kind_capabilities(tsa_model_kind(m)) & TSA_CAP_FORECAST) != 0;
        for (size_t i = 0; i < d->n_anomalies && i < 200; i++) {
            size_t at = d->indices[i];
            cJSON *x = cJSON_CreateObject();
            cJSON_AddNumberToObject(x, "index", (double)at);
            if (s.view.timestamps) {
                char buf[32];
                tsa_format_time(s.view.timestamps[at], buf);
                cJSON_AddStringToObject(x, "timestamp", buf);
            }
            cJSON_AddItemToObject(x, "value", tsa_json_matrix(s.view.values + at * k, 1, k, 1));
            cJSON_AddNumberToObject(x, "score", d->raw[at]);
            cJSON_AddNumberToObject(x, "calibrated_score", d->calibrated[at]);
            /* The one-step expectation from the history before the point. */
            tsa_forecast *fc = NULL;
            tsa_series hist = s.view;
            hist.length = at;
            if (can_forecast && at > ctx && at >= 2 && tsa_model_forecast(m, &hist, 1, 0.95, &fc) == TSA_OK) {
                /* Prophet does not condition on past values: its forecast
                 * from a history only places the step in time, and a
                 * history without timestamps is placed at the end of
                 * training, not at this point. Its fitted value at the
                 * point (as scoring places the series) is the expectation,
                 * with the one-step interval's half-widths around it. */
                if (cv.c && cv.attribute && k == 1) {
                    const double centre = cv.c->mean[at];
                    fc->lower[0] = centre - (fc->mean[0] - fc->lower[0]);
                    fc->upper[0] = centre + (fc->upper[0] - fc->mean[0]);
                    fc->mean[0] = centre;
                }
                cJSON_AddItemToObject(x, "expected", tsa_json_matrix(fc->mean, 1, k, 1));
                cJSON_AddItemToObject(x, "expected_lower", tsa_json_matrix(fc->lower, 1, k, 1));
                cJSON_AddItemToObject(x, "expected_upper", tsa_json_matrix(fc->upper, 1, k, 1));
                cJSON *res = cJSON_AddArrayToObject(x, "residual");
                size_t worst = 0;
                double worst_z = -1;
                for (size_t j = 0; j < k; j++) {
                    double r = s.view.values[at * k + j] - fc->mean[j];
                    cJSON_AddItemToArray(res, cJSON_CreateNumber(r));
                    double half = (fc->upper[j] - fc->lower[j]) / 2;
                    double z = half > 0 ? fabs(r) / half : 0;
                    if (z > worst_z) {
                        worst_z = z;
                        worst = j;
                    }
                }
                char why[200];
                snprintf(why, sizeof why, "feature %zu is %.1f half-widths of the 95%% interval %s its expected value",
                         worst, worst_z, s.view.values[at * k + worst] > fc->mean[worst] ? "above" : "below");
                cJSON_AddStringToObject(x, "explanation", why);
                cJSON_AddNumberToObject(x, "most_deviant_feature", (double)worst);
            } else {
                cJSON_AddStringToObject(x, "explanation", "scored improbable under the model; no one-step expectation available here");
            }
            tsa_forecast_free(fc);
            char cwhy[400];
            if (cv.c && attribute_row(&cv, at, x, cwhy, sizeof cwhy)) {
                const cJSON *prev = field(x, "explanation");
                char text[700];
                snprintf(text, sizeof text, "%s; %s", cJSON_IsString(prev) ? prev->valuestring : "", cwhy);
                cJSON_ReplaceItemInObjectCaseSensitive(x, "explanation", cJSON_CreateString(text));
            }
            cJSON_AddItemToArray(arr, x);
        }
        comp_view_free(&cv);
        cJSON_AddNumberToObject(out, "n_anomalies", (double)d->n_anomalies);
        cJSON_AddNumberToObject(out, "n_points", (double)n);
    }
    tsa_detection_free(d);
    tsa_model_free(own);
    subject_close(svc, &sub);
    tsa_owned_series_free(&s);
    return out;
}
