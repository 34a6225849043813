/* Protocol-independent operations of the services (see ops.h). */
#include "ops.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "series_json.h"

/* ---- errors ---------------------------------------------------------------- */

cJSON *tsa_svc_fail(tsa_svc_error *e, int http, const char *code, const char *field,
                    const char *fmt, ...)
{
    e->http = http;
    snprintf(e->code, sizeof e->code, "%s", code);
    snprintf(e->field, sizeof e->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return NULL;
}

cJSON *tsa_svc_fail_tsa(tsa_svc_error *e, tsa_status rc, const char *field)
{
    int http = 500;
    const char *code = "internal";
    switch (rc) {
    case TSA_EINVAL:
    case TSA_ENONFINITE:
    case TSA_ERANGE:
    case TSA_EPARAM:
        http = 400;
        code = "invalid_field";
        break;
    case TSA_EUNKNOWN_KIND:
        http = 400;
        code = "unknown_model_type";
        break;
    case TSA_ESHAPE:
    case TSA_ETOOSHORT:
    case TSA_ENUMERIC:
    case TSA_EUNSUPPORTED:
        http = 422;
        code = "unprocessable";
        break;
    case TSA_ENOTFITTED:
        http = 409;
        code = "not_fitted";
        break;
    case TSA_ECANCELED:
        http = 409;
        code = "canceled";
        break;
    case TSA_ENOMEM:
        http = 503;
        code = "out_of_memory";
        break;
    default:
        break;
    }
    const char *msg = tsa_last_error();
    /* libtsa messages start with the key they are about ("epochs: ..."). */
    char key[64] = "";
    if (rc == TSA_EPARAM) {
        size_t n = strcspn(msg, ":");
        if (n < sizeof key && msg[n] == ':')
            snprintf(key, sizeof key, "%.*s", (int)n, msg);
    }
    return tsa_svc_fail(e, http, code, *key ? key : field, "%s", *msg ? msg : tsa_strerror(rc));
}

cJSON *tsa_svc_fail_store(tsa_svc_error *e, tsa_store_status st, const char *err, const char *what)
{
    int http = tsa_store_http_status(st);
    const char *code = st == TSA_STORE_NOT_FOUND     ? "not_found"
                       : st == TSA_STORE_CONFLICT    ? "conflict"
                       : st == TSA_STORE_UNAVAILABLE ? "store_unavailable"
                       : st == TSA_STORE_INVALID     ? "invalid_field"
                       : st == TSA_STORE_FORBIDDEN   ? "forbidden"
                                                     : "store_error";
    return tsa_svc_fail(e, http, code, NULL, "%s: %s", what, err && *err ? err : tsa_store_status_name(st));
}

cJSON *tsa_svc_error_json(const tsa_svc_error *e)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *x = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(x, "code", e->code);
    cJSON_AddStringToObject(x, "message", e->message);
    if (*e->field)
        cJSON_AddStringToObject(x, "field", e->field);
    return o;
}

/* ---- request fields ----------------------------------------------------------- */

/* An optional string field; -1 with an error when present but not a string. */
static int opt_str(const cJSON *req, const char *field, const char **out, tsa_svc_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, field);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsString(v) || !v->valuestring) {
        tsa_svc_fail(e, 400, "invalid_field", field, "%s: must be a string", field);
        return -1;
    }
    *out = v->valuestring;
    return 1;
}

static int opt_number(const cJSON *req, const char *field, double lo, double hi, double *out,
                      tsa_svc_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, field);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsNumber(v) || !isfinite(v->valuedouble)) {
        tsa_svc_fail(e, 400, "invalid_field", field, "%s: must be a number", field);
        return -1;
    }
    if (v->valuedouble < lo || v->valuedouble > hi) {
        tsa_svc_fail(e, 400, "invalid_field", field, "%s: must be in [%g, %g], got %g", field, lo,
                     hi, v->valuedouble);
        return -1;
    }
    *out = v->valuedouble;
    return 1;
}

static int opt_int(const cJSON *req, const char *field, long lo, long hi, long *out, tsa_svc_error *e)
{
    double d;
    int rc = opt_number(req, field, (double)lo, (double)hi, &d, e);
    if (rc == 1 && d != floor(d)) {
        tsa_svc_fail(e, 400, "invalid_field", field, "%s: must be an integer, got %g", field, d);
        return -1;
    }
    if (rc == 1)
        *out = (long)d;
    return rc;
}

static int opt_bool(const cJSON *req, const char *field, int *out, tsa_svc_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, field);
    if (!v || cJSON_IsNull(v))
        return 0;
    if (!cJSON_IsBool(v)) {
        tsa_svc_fail(e, 400, "invalid_field", field, "%s: must be true or false", field);
        return -1;
    }
    *out = cJSON_IsTrue(v);
    return 1;
}

static int valid_model_name(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 128)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && !strchr("_-.", s[i]))
            return 0;
    return s[0] != '.';
}

static int read_series(const cJSON *req, const char *field, int required, tsa_owned_series *out,
                       tsa_svc_error *e)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(req, field);
    if (!v || cJSON_IsNull(v)) {
        if (required) {
            tsa_svc_fail(e, 400, "missing_field", field,
                         "%s: is required (an array of rows such as [[1.0],[1.1]], a flat array, "
                         "or {\"values\": ..., \"timestamps\": ...})",
                         field);
            return -1;
        }
        memset(out, 0, sizeof *out);
        return 0;
    }
    char err[512];
    if (tsa_series_from_json(v, field, out, err, sizeof err) != 0) {
        tsa_svc_fail(e, 400, "invalid_field", field, "%s", err);
        return -1;
    }
    return 1;
}

/* The libtsa kind for a requested model_type, accepting the names of the
 * system this service replaces. */
static const char *resolve_kind(const char *type)
{
    if (tsa_kind_capabilities(type))
        return type;
    static const struct {
        const char *alias, *kind;
    } aliases[] = {{"var", "multivariate"}, {"multivariate_lstm", "lstm"}, {"tcn", "cnn"},
                   {"gaussian_hmm", "hmm"}, {"exponential_smoothing", "ets"}};
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (!strcmp(type, aliases[i].alias) && tsa_kind_capabilities(aliases[i].kind))
            return aliases[i].kind;
    return NULL;
}

static cJSON *unknown_kind(tsa_svc_error *e, const char *type)
{
    char known[512] = "";
    size_t at = 0;
    for (size_t i = 0; i < tsa_kind_count() && at < sizeof known; i++) {
        int n = snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "", tsa_kind_name(i));
        if (n > 0)
            at += (size_t)n;
    }
    return tsa_svc_fail(e, 400, "unknown_model_type", "model_type",
                        "model_type: unknown model type '%.64s'; available: %s", type, known);
}

/* Fields a training request may carry besides the kind's parameters. */
static const char *const train_fields[] = {"model_type", "model_name", "data", "overwrite",
                                           "async",      "params",     "validate", "description",
                                           "labels",     "task",       "seed",     "threshold",
                                           NULL};
/* Generic training settings accepted (and reported as ignored) for kinds
 * that have no such parameter, so requests written for one kind work for
 * another. */
static const char *const generic_fields[] = {"sequence_length", "prediction_length", "epochs",
                                             "batch_size",      "learning_rate",     "validation_split",
                                             "hidden_size",     "num_layers",        "patience",
                                             "dropout",         NULL};

static int in_list(const char *const *list, const char *s)
{
    for (; *list; list++)
        if (!strcmp(*list, s))
            return 1;
    return 0;
}

/* Whether @kind has a parameter called @key. */
static int kind_has_param(const cJSON *kind_info, const char *key)
{
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(kind_info, "params");
    const cJSON *p;
    cJSON_ArrayForEach(p, params)
    {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
        if (cJSON_IsString(name) && !strcmp(name->valuestring, key))
            return 1;
    }
    return 0;
}

static int set_param(tsa_params *p, const char *key, const cJSON *v, tsa_svc_error *e)
{
    tsa_status rc;
    if (cJSON_IsBool(v))
        rc = tsa_params_set_bool(p, key, cJSON_IsTrue(v));
    else if (cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9e15)
        rc = tsa_params_set_int(p, key, (int64_t)v->valuedouble);
    else if (cJSON_IsNumber(v))
        rc = tsa_params_set_double(p, key, v->valuedouble);
    else if (cJSON_IsString(v))
        rc = tsa_params_set_str(p, key, v->valuestring);
    else {
        tsa_svc_fail(e, 400, "invalid_field", key, "%s: must be a number, string or boolean", key);
        return -1;
    }
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, key);
        return -1;
    }
    return 0;
}

/* Builds the parameters of @kind from the request: the "params" object
 * (strict) and top-level keys that are the kind's parameters. Unknown
 * top-level keys are errors, except generic training settings, which are
 * listed in @ignored. */
/* Fields of predict/detect/analysis requests that fit a model on the fly. */
static const char *const use_fields[] = {"steps_ahead", "interval", "confidence_level", "threshold", "components",
                                         "models", "ensemble_method", "analysis_type",
                                         "forecasting_model", "anomaly_model", NULL};

static tsa_params *request_params(const cJSON *req, const char *kind, cJSON *ignored, tsa_svc_error *e)
{
    char *info_json = NULL;
    if (tsa_kind_info_json(kind, &info_json) != TSA_OK) {
        tsa_svc_fail_tsa(e, tsa_last_status(), "model_type");
        return NULL;
    }
    cJSON *info = cJSON_Parse(info_json);
    tsa_free(info_json);
    tsa_params *p = NULL;
    tsa_params_create(&p);
    int bad = !info || !p;
    const cJSON *it;
    cJSON_ArrayForEach(it, req)
    {
        if (bad)
            break;
        const char *key = it->string;
        if (!strcmp(key, "params") || in_list(train_fields, key) || in_list(use_fields, key)) {
            if (!strcmp(key, "seed") && kind_has_param(info, "seed"))
                bad = set_param(p, key, it, e) != 0;
            continue;
        }
        if (kind_has_param(info, key)) {
            bad = set_param(p, key, it, e) != 0;
        } else if (in_list(generic_fields, key)) {
            cJSON_AddItemToArray(ignored, cJSON_CreateString(key));
        } else {
            tsa_svc_fail(e, 400, "unknown_field", key,
                         "%s: unknown field for model_type '%s' (see GET /api/v1/model_types for its "
                         "parameters)",
                         key, kind);
            bad = 1;
        }
    }
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(req, "params");
    if (!bad && params && !cJSON_IsNull(params)) {
        if (!cJSON_IsObject(params)) {
            tsa_svc_fail(e, 400, "invalid_field", "params", "params: must be an object");
            bad = 1;
        }
        cJSON_ArrayForEach(it, params)
        {
            if (bad)
                break;
            bad = set_param(p, it->string, it, e) != 0; /* checked by libtsa, naming the key */
        }
    }
    cJSON_Delete(info);
    if (bad) {
        tsa_params_free(p);
        return NULL;
    }
    return p;
}

/* ---- generate ------------------------------------------------------------------ */

cJSON *tsa_op_generate(const cJSON *req, tsa_svc_error *e)
{
    if (!cJSON_IsObject(req))
        return tsa_svc_fail(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
    static const char *const known[] = {"n_samples", "n_features", "trend", "seasonality",
                                        "noise_level", "anomalies", "seed", "start", "freq",
                                        "periods", "amplitude", "trend_slope", "anomaly_magnitude",
                                        NULL};
    const cJSON *it;
    cJSON_ArrayForEach(it, req) if (!in_list(known, it->string)) return tsa_svc_fail(
        e, 400, "unknown_field", it->string, "%s: unknown field for data/generate", it->string);
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    long n;
    double d;
    int b, rc;
    if ((rc = opt_int(req, "n_samples", 1, 1000000, &n, e)) < 0)
        return NULL;
    if (rc)
        o.n_samples = (size_t)n;
    if ((rc = opt_int(req, "n_features", 1, 100, &n, e)) < 0)
        return NULL;
    if (rc)
        o.n_features = (size_t)n;
    if (o.n_samples * o.n_features > 2000000)
        return tsa_svc_fail(e, 400, "invalid_field", "n_samples",
                            "n_samples: n_samples x n_features must be at most 2,000,000");
    if ((rc = opt_bool(req, "trend", &b, e)) < 0)
        return NULL;
    if (rc)
        o.trend = b;
    if ((rc = opt_bool(req, "seasonality", &b, e)) < 0)
        return NULL;
    if (rc)
        o.seasonality = b;
    if ((rc = opt_number(req, "noise_level", 0, 1e6, &d, e)) < 0)
        return NULL;
    if (rc)
        o.noise_level = d;
    if ((rc = opt_number(req, "amplitude", 0, 1e6, &d, e)) < 0)
        return NULL;
    if (rc)
        o.amplitude = d;
    if ((rc = opt_number(req, "trend_slope", -1e3, 1e3, &d, e)) < 0)
        return NULL;
    if (rc)
        o.trend_slope = d;
    if ((rc = opt_number(req, "anomaly_magnitude", 0.1, 1e3, &d, e)) < 0)
        return NULL;
    if (rc)
        o.anomaly_magnitude = d;
    if ((rc = opt_int(req, "anomalies", 0, 100000, &n, e)) < 0)
        return NULL;
    if (rc)
        o.n_anomalies = (size_t)n;
    if ((rc = opt_int(req, "seed", 0, 9007199254740991L, &n, e)) < 0)
        return NULL;
    if (rc)
        o.seed = (uint64_t)n;
    const cJSON *periods = cJSON_GetObjectItemCaseSensitive(req, "periods");
    if (periods && !cJSON_IsNull(periods)) {
        if (!cJSON_IsArray(periods) || cJSON_GetArraySize(periods) < 1 ||
            cJSON_GetArraySize(periods) > TSA_GENERATE_MAX_PERIODS)
            return tsa_svc_fail(e, 400, "invalid_field", "periods",
                                "periods: must be an array of 1 to %d numbers > 1",
                                TSA_GENERATE_MAX_PERIODS);
        o.n_periods = 0;
        cJSON_ArrayForEach(it, periods)
        {
            if (!cJSON_IsNumber(it) || !(it->valuedouble > 1))
                return tsa_svc_fail(e, 400, "invalid_field", "periods",
                                    "periods[%zu]: must be a number > 1", o.n_periods);
            o.periods[o.n_periods++] = it->valuedouble;
        }
    }
    const char *s = NULL;
    if ((rc = opt_str(req, "start", &s, e)) < 0)
        return NULL;
    int64_t start = 1704067200; /* 2024-01-01T00:00:00Z */
    if (rc && tsa_parse_time(s, &start) != 0)
        return tsa_svc_fail(e, 400, "invalid_field", "start",
                            "start: must be an ISO-8601 date-time such as 2024-01-01T00:00:00Z");
    o.start = start;
    if ((rc = opt_str(req, "freq", &s, e)) < 0)
        return NULL;
    if (rc) {
        static const struct {
            const char *name;
            int64_t step;
        } freqs[] = {{"s", 1}, {"min", 60}, {"T", 60}, {"5min", 300}, {"15min", 900}, {"30min", 1800},
                     {"H", 3600}, {"h", 3600}, {"D", 86400}, {"d", 86400}, {"W", 604800}};
        o.step = 0;
        for (size_t i = 0; i < sizeof freqs / sizeof freqs[0]; i++)
            if (!strcmp(s, freqs[i].name))
                o.step = freqs[i].step;
        if (!o.step)
            return tsa_svc_fail(e, 400, "invalid_field", "freq",
                                "freq: must be one of s, min, 5min, 15min, 30min, H, D, W");
    }
    tsa_generated *g = NULL;
    tsa_status st = tsa_generate(&o, &g);
    if (st != TSA_OK)
        return tsa_svc_fail_tsa(e, st, NULL);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "data", tsa_json_matrix(g->values, g->length, g->n_features, 0));
    cJSON *ts = cJSON_AddArrayToObject(out, "timestamps");
    cJSON *labels = cJSON_AddArrayToObject(out, "labels");
    cJSON *idx = cJSON_AddArrayToObject(out, "anomaly_indices");
    for (size_t t = 0; t < g->length; t++) {
        char buf[32];
        tsa_format_time(g->timestamps[t], buf);
        cJSON_AddItemToArray(ts, cJSON_CreateString(buf));
        cJSON_AddItemToArray(labels, cJSON_CreateNumber(g->labels[t]));
        if (g->labels[t])
            cJSON_AddItemToArray(idx, cJSON_CreateNumber((double)t));
    }
    cJSON_AddNumberToObject(out, "n_samples", (double)g->length);
    cJSON_AddNumberToObject(out, "n_features", (double)g->n_features);
    cJSON *meta = cJSON_AddObjectToObject(out, "parameters");
    cJSON_AddBoolToObject(meta, "trend", o.trend);
    cJSON_AddBoolToObject(meta, "seasonality", o.seasonality);
    cJSON *pa = cJSON_AddArrayToObject(meta, "periods");
    for (size_t i = 0; i < o.n_periods; i++)
        cJSON_AddItemToArray(pa, cJSON_CreateNumber(o.periods[i]));
    cJSON_AddNumberToObject(meta, "noise_level", o.noise_level);
    cJSON_AddNumberToObject(meta, "anomalies", (double)o.n_anomalies);
    cJSON_AddNumberToObject(meta, "seed", (double)o.seed);
    cJSON_AddNumberToObject(meta, "step_seconds", (double)o.step);
    tsa_generated_free(g);
    return out;
}

/* ---- training --------------------------------------------------------------------- */

typedef struct fit_progress {
    tsa_svc_progress_fn fn;
    void *user;
} fit_progress;

static int on_progress(const tsa_progress *p, void *user)
{
    fit_progress *fp = user;
    return fp->fn ? fp->fn(p, fp->user) : 0;
}

static cJSON *metrics_json(const double *y, const double *yhat, const double *lo, const double *hi,
                           size_t n, const double *train, size_t n_train)
{
    cJSON *m = cJSON_CreateObject();
    double v;
    if (tsa_metric_mae(y, yhat, n, &v) == TSA_OK)
        cJSON_AddNumberToObject(m, "mae", v);
    if (tsa_metric_rmse(y, yhat, n, &v) == TSA_OK)
        cJSON_AddNumberToObject(m, "rmse", v);
    if (tsa_metric_smape(y, yhat, n, &v) == TSA_OK)
        cJSON_AddNumberToObject(m, "smape", v);
    if (train && tsa_metric_mase(y, yhat, n, train, n_train, 1, &v) == TSA_OK)
        cJSON_AddNumberToObject(m, "mase", v);
    if (lo && hi) {
        size_t inside = 0;
        for (size_t i = 0; i < n; i++)
            inside += y[i] >= lo[i] && y[i] <= hi[i];
        cJSON_AddNumberToObject(m, "interval_coverage", (double)inside / (double)n);
    }
    return m;
}

/* Holdout validation of a forecaster: fit on the first part, forecast the
 * rest, compare (one feature at a time, flattened). */
static cJSON *validate_forecaster(const char *kind, const tsa_params *p, const tsa_series *s,
                                  const tsa_fit_options *fo)
{
    size_t n = s->length, k = s->n_features;
    size_t hold = n / 5;
    if (hold > 200)
        hold = 200;
    if (hold < 1 || n - hold < 4)
        return cJSON_CreateString("skipped: the series is too short for a holdout");
    tsa_model *m = NULL;
    tsa_series train = *s;
    train.length = n - hold;
    tsa_forecast *fc = NULL;
    tsa_status rc = tsa_model_create(kind, p, &m);
    if (rc == TSA_OK)
        rc = tsa_model_fit(m, &train, fo);
    if (rc == TSA_OK)
        rc = tsa_model_forecast(m, NULL, hold, 0.95, &fc);
    cJSON *out;
    if (rc != TSA_OK) {
        char buf[400];
        snprintf(buf, sizeof buf, "skipped: %s", tsa_last_error());
        out = cJSON_CreateString(buf);
    } else {
        const double *truth = s->values + (n - hold) * k;
        double *col_train = malloc((n - hold) * sizeof *col_train);
        double *y = malloc(hold * sizeof *y), *yh = malloc(hold * sizeof *yh);
        double *lo = malloc(hold * sizeof *lo), *hi = malloc(hold * sizeof *hi);
        out = cJSON_CreateObject();
        cJSON_AddNumberToObject(out, "holdout", (double)hold);
        cJSON *per = cJSON_AddArrayToObject(out, "per_feature");
        for (size_t j = 0; col_train && y && yh && lo && hi && j < k; j++) {
            for (size_t t = 0; t < hold; t++) {
                y[t] = truth[t * k + j];
                yh[t] = fc->mean[t * k + j];
                lo[t] = fc->lower[t * k + j];
                hi[t] = fc->upper[t * k + j];
            }
            for (size_t t = 0; t < n - hold; t++)
                col_train[t] = s->values[t * k + j];
            cJSON *mj = metrics_json(y, yh, lo, hi, hold, col_train, n - hold);
            if (j == 0) { /* the first feature's numbers at top level too */
                const cJSON *it;
                cJSON_ArrayForEach(it, mj) cJSON_AddNumberToObject(out, it->string, it->valuedouble);
            }
            cJSON_AddItemToArray(per, mj);
        }
        free(col_train);
        free(y);
        free(yh);
        free(lo);
        free(hi);
    }
    tsa_forecast_free(fc);
    tsa_model_free(m);
    return out;
}

static cJSON *parse_json_or_null(const char *s)
{
    cJSON *j = s ? cJSON_Parse(s) : NULL;
    return j ? j : cJSON_CreateNull();
}

/* The fitted model's description (kind, params, state) as JSON. */
static cJSON *model_info(const tsa_model *m)
{
    char *json = NULL;
    if (tsa_model_info_json(m, &json) != TSA_OK)
        return cJSON_CreateNull();
    cJSON *j = cJSON_Parse(json);
    tsa_free(json);
    return j ? j : cJSON_CreateNull();
}

/* Everything a training request means, checked before any work. */
typedef struct train_plan {
    const char *kind;
    const char *name;
    const char *task;
    int overwrite;
    int validate;
    tsa_params *params;
    tsa_owned_series data;
    cJSON *ignored;
    uint8_t *labels;
} train_plan;

static void plan_free(train_plan *p)
{
    tsa_params_free(p->params);
    tsa_owned_series_free(&p->data);
    cJSON_Delete(p->ignored);
    free(p->labels);
}

static int plan_train(tsa_svc *svc, const cJSON *req, const char *task, train_plan *plan,
                      tsa_svc_error *e)
{
    memset(plan, 0, sizeof *plan);
    plan->task = task;
    plan->validate = 1;
    if (!cJSON_IsObject(req)) {
        tsa_svc_fail(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
        return -1;
    }
    const char *type = NULL;
    int rc = opt_str(req, "model_type", &type, e);
    if (rc < 0)
        return -1;
    if (rc == 0) {
        tsa_svc_fail(e, 400, "missing_field", "model_type",
                     "model_type: is required (e.g. \"multivariate\"; GET /api/v1/model_types lists them)");
        return -1;
    }
    plan->kind = resolve_kind(type);
    if (!plan->kind) {
        unknown_kind(e, type);
        return -1;
    }
    unsigned caps = tsa_kind_capabilities(plan->kind);
    if (!strcmp(task, "forecasting") && !(caps & TSA_CAP_FORECAST)) {
        tsa_svc_fail(e, 400, "invalid_field", "model_type",
                     "model_type: '%s' does not forecast; train it as an anomaly model", plan->kind);
        return -1;
    }
    if (!strcmp(task, "anomaly") && !(caps & TSA_CAP_SCORE)) {
        tsa_svc_fail(e, 400, "invalid_field", "model_type",
                     "model_type: '%s' does not score anomalies; train it as a forecasting model",
                     plan->kind);
        return -1;
    }
    if ((rc = opt_str(req, "model_name", &plan->name, e)) < 0)
        return -1;
    if (rc == 0) {
        tsa_svc_fail(e, 400, "missing_field", "model_name", "model_name: is required");
        return -1;
    }
    if (!valid_model_name(plan->name)) {
        tsa_svc_fail(e, 400, "invalid_field", "model_name",
                     "model_name: 1 to 128 characters of letters, digits, '_', '-' and '.', not "
                     "starting with '.'");
        return -1;
    }
    if (opt_bool(req, "overwrite", &plan->overwrite, e) < 0 ||
        opt_bool(req, "validate", &plan->validate, e) < 0)
        return -1;
    int async = 0;
    if (opt_bool(req, "async", &async, e) < 0)
        return -1;
    plan->ignored = cJSON_CreateArray();
    plan->params = request_params(req, plan->kind, plan->ignored, e);
    if (!plan->params)
        return -1;
    /* Catch bad parameters before reading data or training. */
    tsa_model *probe = NULL;
    tsa_status st = tsa_model_create(plan->kind, plan->params, &probe);
    tsa_model_free(probe);
    if (st != TSA_OK) {
        tsa_svc_fail_tsa(e, st, "params");
        return -1;
    }
    if (svc->max_epochs > 0) {
        int64_t epochs;
        if (tsa_params_get_int(plan->params, "epochs", &epochs) == TSA_OK && epochs > svc->max_epochs) {
            tsa_svc_fail(e, 400, "invalid_field", "epochs", "epochs: at most %lld on this server",
                         (long long)svc->max_epochs);
            return -1;
        }
    }
    if (read_series(req, "data", 1, &plan->data, e) < 0)
        return -1;
    if (plan->data.view.n_features > 1 && !(caps & TSA_CAP_MULTIVARIATE)) {
        tsa_svc_fail(e, 422, "unprocessable", "data",
                     "data: model_type '%s' is univariate, got %zu features per row", plan->kind,
                     plan->data.view.n_features);
        return -1;
    }
    const cJSON *labels = cJSON_GetObjectItemCaseSensitive(req, "labels");
    if (labels && !cJSON_IsNull(labels)) {
        if (!cJSON_IsArray(labels) || (size_t)cJSON_GetArraySize(labels) != plan->data.view.length) {
            tsa_svc_fail(e, 400, "invalid_field", "labels",
                         "labels: must be an array of 0/1 with one entry per row of data (%zu)",
                         plan->data.view.length);
            return -1;
        }
        plan->labels = calloc(plan->data.view.length, 1);
        size_t t = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, labels)
        {
            if (!cJSON_IsNumber(it) && !cJSON_IsBool(it)) {
                tsa_svc_fail(e, 400, "invalid_field", "labels", "labels[%zu]: must be 0 or 1", t);
                return -1;
            }
            plan->labels[t++] = cJSON_IsTrue(it) || (cJSON_IsNumber(it) && it->valuedouble != 0);
        }
    }
    /* A name taken without overwrite fails before any training. */
    if (!plan->overwrite && svc->store) {
        tsa_store_model meta;
        char err[TSA_STORE_ERR_LEN];
        tsa_store_status ss = tsa_store_model_get_meta(svc->store, plan->name, &meta, err);
        if (ss == TSA_STORE_OK) {
            tsa_store_model_clear(&meta);
            tsa_svc_fail(e, 409, "conflict", "model_name",
                         "model_name: a model named '%s' exists; send \"overwrite\": true to replace it",
                         plan->name);
            return -1;
        }
        if (ss != TSA_STORE_NOT_FOUND) {
            tsa_svc_fail_store(e, ss, err, "store");
            return -1;
        }
    }
    return 0;
}

/* Fits per @plan; on success returns the fitted model and fills the
 * response fields shared by sync and async training. */
static tsa_model *run_fit(tsa_svc *svc, train_plan *plan, tsa_svc_progress_fn progress, void *user,
                          cJSON **metrics_out, double *seconds, tsa_svc_error *e)
{
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create(plan->kind, plan->params, &m);
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, "params");
        return NULL;
    }
    fit_progress fp = {progress, user};
    tsa_fit_options fo;
    tsa_fit_options_init(&fo);
    fo.n_threads = svc->n_threads;
    fo.progress = on_progress;
    fo.user = &fp;
    double t0 = tsa_now();
    rc = tsa_model_fit(m, &plan->data.view, &fo);
    *seconds = tsa_now() - t0;
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, "data");
        tsa_model_free(m);
        return NULL;
    }
    if (svc->metrics)
        tsa_metrics_observe_train(svc->metrics, plan->kind, *seconds);
    cJSON *metrics = cJSON_CreateObject();
    unsigned caps = tsa_kind_capabilities(plan->kind);
    if (plan->validate && (caps & TSA_CAP_FORECAST) && !strcmp(plan->task, "forecasting")) {
        tsa_fit_options quiet;
        tsa_fit_options_init(&quiet);
        quiet.n_threads = svc->n_threads;
        cJSON_AddItemToObject(metrics, "validation",
                              validate_forecaster(plan->kind, plan->params, &plan->data.view, &quiet));
    }
    if (caps & TSA_CAP_SCORE) {
        tsa_detection *d = NULL;
        if (tsa_model_detect(m, &plan->data.view, 0.95, &d) == TSA_OK) {
            cJSON *tr = cJSON_AddObjectToObject(metrics, "training_detection");
            cJSON_AddNumberToObject(tr, "threshold", 0.95);
            cJSON_AddNumberToObject(tr, "n_flagged", (double)d->n_anomalies);
            cJSON_AddNumberToObject(tr, "flagged_rate", (double)d->n_anomalies / (double)d->length);
            if (plan->labels) {
                tsa_classification c;
                if (tsa_metric_classification(plan->labels, d->flags, d->length, &c) == TSA_OK) {
                    cJSON_AddNumberToObject(tr, "precision", c.precision);
                    cJSON_AddNumberToObject(tr, "recall", c.recall);
                    cJSON_AddNumberToObject(tr, "f1", c.f1);
                }
            }
            tsa_detection_free(d);
        }
    }
    cJSON_AddNumberToObject(metrics, "training_time_s", *seconds);
    *metrics_out = metrics;
    return m;
}

static cJSON *train_response(const train_plan *plan, const tsa_model *m, cJSON *metrics, double seconds)
{
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "trained");
    cJSON_AddStringToObject(out, "model_name", plan->name);
    cJSON_AddStringToObject(out, "model_type", plan->kind);
    cJSON_AddStringToObject(out, "task", plan->task);
    cJSON_AddNumberToObject(out, "n_samples", (double)plan->data.view.length);
    cJSON_AddNumberToObject(out, "n_features", (double)plan->data.view.n_features);
    cJSON_AddNumberToObject(out, "training_time_s", seconds);
    cJSON_AddItemToObject(out, "metrics", metrics);
    cJSON_AddItemToObject(out, "info", model_info(m));
    if (cJSON_GetArraySize(plan->ignored) > 0)
        cJSON_AddItemToObject(out, "ignored_fields", cJSON_Duplicate(plan->ignored, 1));
    return out;
}

static tsa_store_status store_model(tsa_svc *svc, const train_plan *plan, const tsa_model *m,
                                    const cJSON *metrics, const char *owner, tsa_store_model_in *in,
                                    void **blob, char **params_json, char **metrics_text)
{
    size_t len = 0;
    *blob = NULL;
    *params_json = NULL;
    *metrics_text = cJSON_PrintUnformatted(metrics);
    tsa_params *resolved = NULL;
    if (tsa_model_params(m, &resolved) == TSA_OK)
        tsa_params_to_json(resolved, params_json);
    tsa_params_free(resolved);
    if (tsa_model_save(m, blob, &len) != TSA_OK)
        return TSA_STORE_ERROR;
    memset(in, 0, sizeof *in);
    in->name = plan->name;
    in->kind = plan->kind;
    in->task = plan->task;
    in->params_json = *params_json;
    in->metrics_json = *metrics_text;
    in->owner = owner;
    in->blob = *blob;
    in->blob_len = len;
    in->overwrite = plan->overwrite;
    (void)svc;
    return TSA_STORE_OK;
}

cJSON *tsa_op_train(tsa_svc *svc, const cJSON *req, const char *task, const char *owner,
                    tsa_svc_progress_fn progress, void *user, tsa_svc_error *e)
{
    train_plan plan;
    if (plan_train(svc, req, task, &plan, e) != 0) {
        plan_free(&plan);
        return NULL;
    }
    cJSON *metrics = NULL;
    double seconds = 0;
    tsa_model *m = run_fit(svc, &plan, progress, user, &metrics, &seconds, e);
    if (!m) {
        plan_free(&plan);
        return NULL;
    }
    tsa_store_model_in in;
    void *blob;
    char *params_json, *metrics_text;
    char err[TSA_STORE_ERR_LEN] = "";
    tsa_store_status st = store_model(svc, &plan, m, metrics, owner, &in, &blob, &params_json, &metrics_text);
    if (st == TSA_STORE_OK)
        st = tsa_store_model_put(svc->store, &in, err);
    cJSON *out = NULL;
    if (st == TSA_STORE_CONFLICT) {
        tsa_svc_fail(e, 409, "conflict", "model_name",
                     "model_name: a model named '%s' exists; send \"overwrite\": true to replace it",
                     plan.name);
    } else if (st != TSA_STORE_OK) {
        tsa_svc_fail_store(e, st, err, "storing the model");
    } else {
        tsa_model_cache_forget(svc->cache, plan.name);
        char detail[256];
        snprintf(detail, sizeof detail, "{\"kind\":\"%s\",\"task\":\"%s\"}", plan.kind, plan.task);
        tsa_store_audit_append(svc->store, owner, "model.train", plan.name, detail, NULL, err);
        out = train_response(&plan, m, metrics, seconds);
        metrics = NULL;
    }
    cJSON_Delete(metrics);
    tsa_free(blob);
    tsa_free(params_json);
    cJSON_free(metrics_text);
    tsa_model_free(m);
    plan_free(&plan);
    tsa_op_refresh_gauges(svc);
    return out;
}

cJSON *tsa_op_train_async(tsa_svc *svc, const cJSON *req, const char *task, const char *owner,
                          tsa_svc_error *e)
{
    train_plan plan;
    int ok = plan_train(svc, req, task, &plan, e) == 0;
    const char *name = ok ? plan.name : NULL;
    char *name_copy = name ? strdup(name) : NULL;
    plan_free(&plan);
    if (!ok) {
        free(name_copy);
        return NULL;
    }
    /* The job carries the request itself; the worker re-validates it. */
    cJSON *job_req = cJSON_CreateObject();
    cJSON_AddStringToObject(job_req, "task", task);
    cJSON_AddItemToObject(job_req, "request", cJSON_Duplicate(req, 1));
    char *text = cJSON_PrintUnformatted(job_req);
    cJSON_Delete(job_req);
    char id[37], err[TSA_STORE_ERR_LEN];
    const char *job_kind = !strcmp(task, "forecasting") ? "train_forecasting" : "train_anomaly";
    tsa_store_status st = tsa_store_job_create(svc->store, job_kind, name_copy, owner, text, id, err);
    cJSON_free(text);
    if (st != TSA_STORE_OK) {
        free(name_copy);
        return tsa_svc_fail_store(e, st, err, "queuing the job");
    }
    pthread_mutex_lock(&svc->wake_lock);
    pthread_cond_broadcast(&svc->wake);
    pthread_mutex_unlock(&svc->wake_lock);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "job_id", id);
    cJSON_AddStringToObject(out, "status", "queued");
    cJSON_AddStringToObject(out, "model_name", name_copy);
    char link[96];
    snprintf(link, sizeof link, "/api/v1/jobs/%s", id);
    cJSON_AddStringToObject(out, "job_url", link);
    free(name_copy);
    tsa_op_refresh_gauges(svc);
    return out;
}

/* ---- loading stored models -------------------------------------------------------- */

cJSON *tsa_op_load_model(tsa_svc *svc, const char *name, tsa_cached_model **entry,
                         tsa_store_model *meta, tsa_svc_error *e)
{
    char err[TSA_STORE_ERR_LEN];
    tsa_store_model unused;
    int64_t version = 0;
    tsa_store_status st;
    if (meta) {
        memset(meta, 0, sizeof *meta);
        st = tsa_store_model_get_meta(svc->store, name, meta, err);
        version = meta->updated_ms;
    } else {
        /* Only the version, to check the cached copy (another process may
         * have replaced or deleted the model). */
        meta = &unused;
        memset(meta, 0, sizeof *meta);
        st = tsa_store_model_version(svc->store, name, &version, err);
    }
    if (st == TSA_STORE_NOT_FOUND)
        return tsa_svc_fail(e, 404, "not_found", "model_name",
                            "model_name: no model named '%.128s' (GET /api/v1/models lists them)", name);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "loading the model");
    *entry = tsa_model_cache_get(svc->cache, name, version);
    if (*entry)
        return cJSON_CreateTrue();
    tsa_store_model full;
    st = tsa_store_model_get(svc->store, name, &full, err);
    if (st != TSA_STORE_OK) {
        tsa_store_model_clear(meta);
        return st == TSA_STORE_NOT_FOUND
                   ? tsa_svc_fail(e, 404, "not_found", "model_name", "model_name: no model named '%.128s'", name)
                   : tsa_svc_fail_store(e, st, err, "loading the model");
    }
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_load(full.blob, full.blob_len, &m);
    size_t bytes = full.blob_len;
    version = full.updated_ms;
    tsa_store_model_clear(&full);
    if (rc != TSA_OK) {
        tsa_store_model_clear(meta);
        return tsa_svc_fail(e, 500, "corrupt_model", "model_name",
                            "the stored model '%.128s' cannot be loaded: %s", name, tsa_last_error());
    }
    *entry = tsa_model_cache_put(svc->cache, name, version, m, bytes);
    if (!*entry) {
        tsa_store_model_clear(meta);
        return tsa_svc_fail(e, 503, "out_of_memory", NULL, "out of memory loading the model");
    }
    return cJSON_CreateTrue();
}

/* A model to use for predict/detect: stored (model_name) or fitted now on
 * @fit_data (model_type). */
typedef struct use_model {
    tsa_cached_model *entry;
    tsa_model *own;
    const tsa_model *m;
    char kind[64];
    char name[160];
    int fitted_now;
    int64_t version;   /* stored models: updated_ms and file digest */
    char sha256[65];
} use_model;

static void use_release(tsa_svc *svc, use_model *u)
{
    if (u->entry)
        tsa_model_cache_release(svc->cache, u->entry);
    tsa_model_free(u->own);
    memset(u, 0, sizeof *u);
}

static int use_acquire(tsa_svc *svc, const cJSON *req, const tsa_series *fit_data, unsigned cap,
                       const char *default_kind, use_model *u, tsa_svc_error *e)
{
    memset(u, 0, sizeof *u);
    const char *name = NULL, *type = NULL;
    if (opt_str(req, "model_name", &name, e) < 0 || opt_str(req, "model_type", &type, e) < 0)
        return -1;
    if (name) {
        /* The shared forecast cache's keys name the version and digest;
         * without that cache the version check alone will do. */
        int want_meta = svc->redis && svc->forecast_ttl > 0;
        tsa_store_model meta;
        cJSON *ok = tsa_op_load_model(svc, name, &u->entry, want_meta ? &meta : NULL, e);
        if (!ok)
            return -1;
        cJSON_Delete(ok);
        if (want_meta) {
            u->version = meta.updated_ms;
            snprintf(u->sha256, sizeof u->sha256, "%s", meta.blob_sha256);
            tsa_store_model_clear(&meta);
        }
        u->m = tsa_cached_model_get(u->entry);
        snprintf(u->name, sizeof u->name, "%s", name);
    } else {
        if (!type)
            type = default_kind;
        if (!type) {
            tsa_svc_fail(e, 400, "missing_field", "model_name",
                         "model_name: is required (or model_type, to fit a model on the given data)");
            return -1;
        }
        const char *kind = resolve_kind(type);
        if (!kind) {
            unknown_kind(e, type);
            return -1;
        }
        cJSON *ignored = cJSON_CreateArray();
        tsa_params *p = request_params(req, kind, ignored, e);
        cJSON_Delete(ignored);
        if (!p)
            return -1;
        tsa_status rc = tsa_model_create(kind, p, &u->own);
        tsa_params_free(p);
        if (rc == TSA_OK && fit_data)
            rc = tsa_model_fit(u->own, fit_data, NULL);
        if (rc != TSA_OK) {
            tsa_svc_fail_tsa(e, rc, "data");
            use_release(svc, u);
            return -1;
        }
        u->m = u->own;
        u->fitted_now = 1;
    }
    snprintf(u->kind, sizeof u->kind, "%s", tsa_model_kind(u->m));
    if (!(tsa_kind_capabilities(u->kind) & cap)) {
        tsa_svc_fail(e, 422, "unprocessable", name ? "model_name" : "model_type",
                     "model '%s' (%s) cannot %s", name ? name : u->kind, u->kind,
                     cap == TSA_CAP_FORECAST ? "forecast" : "score anomalies");
        use_release(svc, u);
        return -1;
    }
    return 0;
}

/* ---- predict ------------------------------------------------------------------------ */

static int read_interval(const cJSON *req, double *interval, tsa_svc_error *e)
{
    *interval = 0.95;
    double d;
    int rc = opt_number(req, "interval", 0.5, 0.999, &d, e);
    if (rc < 0)
        return -1;
    if (rc == 0 && (rc = opt_number(req, "confidence_level", 0.5, 0.999, &d, e)) < 0)
        return -1;
    if (rc)
        *interval = d;
    return 0;
}

/* The shared-cache key of a forecast: "tsa:fc:" and the SHA-256 of every
 * input that decides it, with the history as parsed (so equivalent JSON
 * spellings share a key). */
static int forecast_key(const char *name, int64_t version, const char *sha256, const tsa_series *x,
                        long steps, double interval, int components, char key[8 + 64 + 1])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx)
        return -1;
    char head[512];
    /* An answer with components is another answer: its key says so. */
    int n = snprintf(head, sizeof head, "tsa-forecast-v1\n%s\n%lld\n%s\n%ld\n%.17g\n%s", name,
                     (long long)version, sha256, steps, interval, components ? "components\n" : "");
    int ok = n > 0 && (size_t)n < sizeof head && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
             EVP_DigestUpdate(ctx, head, (size_t)n) == 1;
    if (ok && x) {
        uint64_t dims[4] = {x->length, x->n_features, x->timestamps != NULL, x->mask != NULL};
        size_t cells = x->length * x->n_features;
        ok = EVP_DigestUpdate(ctx, dims, sizeof dims) == 1 &&
             EVP_DigestUpdate(ctx, x->values, cells * sizeof *x->values) == 1 &&
             (!x->timestamps || EVP_DigestUpdate(ctx, x->timestamps, x->length * sizeof *x->timestamps) == 1) &&
             (!x->mask || EVP_DigestUpdate(ctx, x->mask, cells) == 1);
    } else if (ok) {
        ok = EVP_DigestUpdate(ctx, "no history", 10) == 1;
    }
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    ok = ok && EVP_DigestFinal_ex(ctx, md, &len) == 1 && len == 32;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    memcpy(key, "tsa:fc:", 7);
    for (unsigned i = 0; i < 32; i++)
        snprintf(key + 7 + 2 * i, 3, "%02x", md[i]);
    return 0;
}

static void count_cache(tsa_svc *svc, const char *result)
{
    tsa_metrics_count(svc->metrics, "tsa_cache_requests_total",
                      "Lookups in the shared Redis cache, by cache and result (hit, miss, unavailable).",
                      "cache", "forecast", "result", result, 1);
}

static cJSON *no_components(tsa_svc_error *e, const char *kind)
{
    return tsa_svc_fail(e, 400, "invalid_field", "components",
                        "components: kind '%s' does not split its forecast into components (prophet "
                        "and ets do); leave components out or false",
                        kind ? kind : "?");
}

cJSON *tsa_op_predict(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    return tsa_op_predict_cached(svc, req, NULL, e);
}

cJSON *tsa_op_predict_cached(tsa_svc *svc, const cJSON *req, const char **cache, tsa_svc_error *e)
{
    if (cache)
        *cache = NULL;
    if (!cJSON_IsObject(req))
        return tsa_svc_fail(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
    tsa_owned_series data;
    const char *name = NULL;
    if (opt_str(req, "model_name", &name, e) < 0)
        return NULL;
    if (read_series(req, "data", !name, &data, e) < 0)
        return NULL;
    long steps = 10;
    double interval;
    if (opt_int(req, "steps_ahead", 1, TSA_MAX_HORIZON, &steps, e) < 0 ||
        read_interval(req, &interval, e) < 0) {
        tsa_owned_series_free(&data);
        return NULL;
    }
    int want_components = 0;
    const char *type = NULL;
    if (opt_bool(req, "components", &want_components, e) < 0 || opt_str(req, "model_type", &type, e) < 0) {
        tsa_owned_series_free(&data);
        return NULL;
    }
    /* A kind known to have no components fails before any fit. */
    if (want_components && !name && type && tsa_kind_capabilities(type) &&
        !(tsa_kind_capabilities(type) & TSA_CAP_COMPONENTS)) {
        tsa_owned_series_free(&data);
        return no_components(e, resolve_kind(type));
    }
    /* A stored model's forecast may come from the shared cache. The key
     * names the model's current version, read from the store first, so a
     * model overwritten or deleted on any replica is never served stale. */
    char key[8 + 64 + 1] = "";
    int64_t key_version = 0;
    char key_sha[65] = "";
    if (name && svc->redis && svc->forecast_ttl > 0) {
        tsa_store_model meta;
        char err[TSA_STORE_ERR_LEN];
        memset(&meta, 0, sizeof meta);
        if (tsa_store_model_get_meta(svc->store, name, &meta, err) == TSA_STORE_OK) {
            key_version = meta.updated_ms;
            snprintf(key_sha, sizeof key_sha, "%s", meta.blob_sha256);
            if (forecast_key(name, meta.updated_ms, meta.blob_sha256, data.values ? &data.view : NULL, steps,
                             interval, want_components, key) != 0)
                key[0] = '\0';
            tsa_store_model_clear(&meta);
        }
        if (*key) {
            char *val = NULL;
            size_t len = 0;
            int got = tsa_redis_get(svc->redis, key, &val, &len);
            cJSON *hit = got == 1 ? cJSON_ParseWithLength(val, len) : NULL;
            free(val);
            if (cJSON_IsObject(hit)) {
                count_cache(svc, "hit");
                if (cache)
                    *cache = "hit";
                tsa_owned_series_free(&data);
                return hit;
            }
            cJSON_Delete(hit);
            count_cache(svc, got < 0 ? "unavailable" : "miss");
            if (got < 0)
                key[0] = '\0';
        }
    }
    use_model u;
    if (use_acquire(svc, req, data.values ? &data.view : NULL, TSA_CAP_FORECAST, NULL, &u, e) != 0) {
        tsa_owned_series_free(&data);
        return NULL;
    }
    if (want_components && !(tsa_kind_capabilities(u.kind) & TSA_CAP_COMPONENTS)) {
        use_release(svc, &u);
        tsa_owned_series_free(&data);
        return no_components(e, u.kind);
    }
    tsa_forecast *fc = NULL;
    /* A model fitted on this data forecasts from its end; a stored one from
     * the given history, or from its training data when none is given. */
    const tsa_series *history = data.values && !u.fitted_now ? &data.view : NULL;
    tsa_status rc = tsa_model_forecast(u.m, history, (size_t)steps, interval, &fc);
    cJSON *out = NULL;
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, rc == TSA_ERANGE ? "steps_ahead" : "data");
    } else {
        out = cJSON_CreateObject();
        if (*u.name)
            cJSON_AddStringToObject(out, "model_name", u.name);
        cJSON_AddStringToObject(out, "model_type", u.kind);
        tsa_json_add_forecast(out, fc);
        cJSON_AddStringToObject(out, "forecast_origin",
                                history ? "end of the given data" : "end of the training data");
        tsa_components *c = NULL;
        if (want_components && (rc = tsa_model_components(u.m, history, (size_t)steps, &c)) != TSA_OK) {
            cJSON_Delete(out);
            out = NULL;
            tsa_svc_fail_tsa(e, rc, "components");
        } else if (c) {
            tsa_json_add_components(out, c);
        }
        tsa_components_free(c);
    }
    /* Stored only when the model used is the version the key names (it may
     * have been overwritten in between). */
    if (out && *key && !u.fitted_now && u.version == key_version && !strcmp(u.sha256, key_sha)) {
        char *text = cJSON_PrintUnformatted(out);
        if (text) {
            tsa_redis_set(svc->redis, key, text, strlen(text), svc->forecast_ttl);
            cJSON_free(text);
        }
        if (cache)
            *cache = "miss";
    }
    tsa_forecast_free(fc);
    use_release(svc, &u);
    tsa_owned_series_free(&data);
    return out;
}

/* ---- detect ------------------------------------------------------------------------ */

static cJSON *detection_json(const tsa_detection *d, const tsa_series *x)
{
    cJSON *out = cJSON_CreateObject();
    cJSON *raw = cJSON_AddArrayToObject(out, "scores");
    cJSON *cal = cJSON_AddArrayToObject(out, "calibrated_scores");
    cJSON *flags = cJSON_AddArrayToObject(out, "is_anomaly");
    cJSON *idx = cJSON_AddArrayToObject(out, "anomaly_indices");
    cJSON *list = cJSON_AddArrayToObject(out, "anomalies");
    double max_cal = 0;
    for (size_t t = 0; t < d->length; t++) {
        cJSON_AddItemToArray(raw, cJSON_CreateNumber(d->raw[t]));
        cJSON_AddItemToArray(cal, cJSON_CreateNumber(d->calibrated[t]));
        cJSON_AddItemToArray(flags, cJSON_CreateBool(d->flags[t]));
        if (d->calibrated[t] > max_cal)
            max_cal = d->calibrated[t];
    }
    for (size_t i = 0; i < d->n_anomalies; i++) {
        size_t t = d->indices[i];
        cJSON_AddItemToArray(idx, cJSON_CreateNumber((double)t));
        cJSON *a = cJSON_CreateObject();
        cJSON_AddNumberToObject(a, "index", (double)t);
        if (x->timestamps) {
            char buf[32];
            tsa_format_time(x->timestamps[t], buf);
            cJSON_AddStringToObject(a, "timestamp", buf);
        }
        cJSON *v = cJSON_AddArrayToObject(a, "value");
        for (size_t j = 0; j < x->n_features; j++)
            cJSON_AddItemToArray(v, cJSON_CreateNumber(x->values[t * x->n_features + j]));
        cJSON_AddNumberToObject(a, "score", d->raw[t]);
        cJSON_AddNumberToObject(a, "calibrated_score", d->calibrated[t]);
        cJSON_AddItemToArray(list, a);
    }
    cJSON *sum = cJSON_AddObjectToObject(out, "summary");
    cJSON_AddNumberToObject(sum, "n_points", (double)d->length);
    cJSON_AddNumberToObject(sum, "n_anomalies", (double)d->n_anomalies);
    cJSON_AddNumberToObject(sum, "anomaly_rate", d->length ? (double)d->n_anomalies / (double)d->length : 0);
    cJSON_AddNumberToObject(sum, "threshold", d->threshold);
    cJSON_AddNumberToObject(sum, "max_calibrated_score", max_cal);
    return out;
}

cJSON *tsa_op_detect(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    if (!cJSON_IsObject(req))
        return tsa_svc_fail(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
    tsa_owned_series data;
    if (read_series(req, "data", 1, &data, e) < 0)
        return NULL;
    double threshold = 0.95;
    if (opt_number(req, "threshold", 0, 0.999999, &threshold, e) < 0) {
        tsa_owned_series_free(&data);
        return NULL;
    }
    use_model u;
    if (use_acquire(svc, req, &data.view, TSA_CAP_SCORE, NULL, &u, e) != 0) {
        tsa_owned_series_free(&data);
        return NULL;
    }
    tsa_detection *d = NULL;
    tsa_status rc = tsa_model_detect(u.m, &data.view, threshold, &d);
    cJSON *out = NULL;
    if (rc != TSA_OK) {
        tsa_svc_fail_tsa(e, rc, rc == TSA_ERANGE ? "threshold" : "data");
    } else {
        out = detection_json(d, &data.view);
        if (*u.name)
            cJSON_AddStringToObject(out, "model_name", u.name);
        cJSON_AddStringToObject(out, "model_type", u.kind);
        if (svc->metrics)
            tsa_metrics_add_anomalies(svc->metrics, u.kind, d->n_anomalies);
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(req, "labels");
        if (cJSON_IsArray(labels) && (size_t)cJSON_GetArraySize(labels) == d->length) {
            uint8_t *lab = calloc(d->length, 1);
            size_t t = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, labels) lab[t++] = cJSON_IsTrue(it) || (cJSON_IsNumber(it) && it->valuedouble != 0);
            tsa_classification c;
            if (tsa_metric_classification(lab, d->flags, d->length, &c) == TSA_OK) {
                cJSON *ev = cJSON_AddObjectToObject(out, "evaluation");
                cJSON_AddNumberToObject(ev, "precision", c.precision);
                cJSON_AddNumberToObject(ev, "recall", c.recall);
                cJSON_AddNumberToObject(ev, "f1", c.f1);
                cJSON_AddNumberToObject(ev, "true_positives", (double)c.true_positives);
                cJSON_AddNumberToObject(ev, "false_positives", (double)c.false_positives);
                cJSON_AddNumberToObject(ev, "false_negatives", (double)c.false_negatives);
            }
            free(lab);
        }
    }
    tsa_detection_free(d);
    use_release(svc, &u);
    tsa_owned_series_free(&data);
    return out;
}

/* ---- ensemble and coordinated analysis (in-process) ------------------------------------ */


cJSON *tsa_op_ensemble(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    if (!cJSON_IsObject(req))
        return tsa_svc_fail(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(req, "models");
    if (!cJSON_IsArray(models) || cJSON_GetArraySize(models) < 1 || cJSON_GetArraySize(models) > 16)
        return tsa_svc_fail(e, 400, "invalid_field", "models",
                            "models: must be an array of 1 to 16 stored model names or model types");
    const char *method_name = "mean";
    tsa_combine_method method;
    if (opt_str(req, "ensemble_method", &method_name, e) < 0)
        return NULL;
    if (tsa_combine_method_from_name(method_name, &method) != TSA_OK)
        return tsa_svc_fail(e, 400, "invalid_field", "ensemble_method",
                            "ensemble_method: must be mean, median or weighted_average");
    tsa_owned_series data;
    if (read_series(req, "data", 1, &data, e) < 0)
        return NULL;
    long steps = 10;
    double interval;
    if (opt_int(req, "steps_ahead", 1, TSA_MAX_HORIZON, &steps, e) < 0 ||
        read_interval(req, &interval, e) < 0) {
        tsa_owned_series_free(&data);
        return NULL;
    }
    size_t n_m = (size_t)cJSON_GetArraySize(models), h = (size_t)steps, k = data.view.n_features;
    tsa_forecast **fcs = calloc(n_m, sizeof *fcs);
    double *weights = calloc(n_m, sizeof *weights);
    cJSON *members = cJSON_CreateArray();
    cJSON *out = NULL;
    size_t i = 0;
    const cJSON *it;
    cJSON_ArrayForEach(it, models)
    {
        char field[32];
        snprintf(field, sizeof field, "models[%zu]", i);
        if (!cJSON_IsString(it)) {
            tsa_svc_fail(e, 400, "invalid_field", field, "%s: must be a model name or type", field);
            goto done;
        }
        /* A stored model by that name, else a kind fitted on the data. */
        cJSON *sub = cJSON_CreateObject();
        tsa_store_model meta;
        char err[TSA_STORE_ERR_LEN];
        tsa_store_status mst = tsa_store_model_get_meta(svc->store, it->valuestring, &meta, err);
        if (mst == TSA_STORE_UNAVAILABLE || mst == TSA_STORE_ERROR) {
            /* Not "unknown model type": the name may well be stored. */
            cJSON_Delete(sub);
            tsa_svc_fail_store(e, mst, err, "loading the model");
            goto done;
        }
        int stored = mst == TSA_STORE_OK;
        if (stored) {
            tsa_store_model_clear(&meta);
            cJSON_AddStringToObject(sub, "model_name", it->valuestring);
        } else {
            cJSON_AddStringToObject(sub, "model_type", it->valuestring);
        }
        use_model u;
        int rc_use = use_acquire(svc, sub, &data.view, TSA_CAP_FORECAST, NULL, &u, e);
        cJSON_Delete(sub);
        if (rc_use != 0) {
            snprintf(e->field, sizeof e->field, "%s", field);
            goto done;
        }
        tsa_status rc = tsa_model_forecast(u.m, u.fitted_now ? NULL : &data.view, h, interval, &fcs[i]);
        if (rc == TSA_OK && fcs[i]->n_features != k)
            rc = TSA_ESHAPE;
        if (rc != TSA_OK) {
            tsa_svc_fail_tsa(e, rc, field);
            use_release(svc, &u);
            goto done;
        }
        cJSON *mem = cJSON_CreateObject();
        cJSON_AddStringToObject(mem, "model", it->valuestring);
        cJSON_AddStringToObject(mem, "model_type", u.kind);
        cJSON_AddBoolToObject(mem, "stored", stored);
        cJSON_AddItemToObject(mem, "predictions", tsa_json_matrix(fcs[i]->mean, h, k, 0));
        cJSON_AddItemToArray(members, mem);
        use_release(svc, &u);
        i++;
    }
    {
        /* Every member weighs by the spread its own interval claims, so
         * stored and freshly fitted members are compared alike. */
        tsa_forecast *comb = NULL;
        tsa_status rc = tsa_forecast_combine((const tsa_forecast *const *)fcs, n_m, method, NULL,
                                             weights, &comb);
        if (rc != TSA_OK) {
            tsa_svc_fail_tsa(e, rc, "models");
            goto done;
        }
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "ensemble_method", method_name);
        tsa_json_add_forecast(out, comb);
        if (method == TSA_COMBINE_WEIGHTED) {
            cJSON *w = cJSON_AddArrayToObject(out, "weights");
            for (size_t j = 0; j < n_m; j++)
                cJSON_AddItemToArray(w, cJSON_CreateNumber(weights[j]));
        }
        cJSON_AddItemToObject(out, "members", members);
        members = NULL;
        tsa_forecast_free(comb);
    }
done:
    for (size_t j = 0; j < n_m; j++)
        tsa_forecast_free(fcs[j]);
    free(fcs);
    free(weights);
    cJSON_Delete(members);
    tsa_owned_series_free(&data);
    return out;
}

const char *tsa_default_detector(size_t n_features)
{
    if (n_features == 1 && (tsa_kind_capabilities("prophet") & TSA_CAP_SCORE))
        return "prophet";
    return "multivariate";
}

cJSON *tsa_op_forecast_and_detect(tsa_svc *svc, const cJSON *req, tsa_svc_error *e)
{
    if (!cJSON_IsObject(req))
        return tsa_svc_fail(e, 400, "invalid_json", NULL, "the request body must be a JSON object");
    const char *fc_model = "multivariate", *an_model = NULL;
    if (opt_str(req, "forecasting_model", &fc_model, e) < 0 || opt_str(req, "anomaly_model", &an_model, e) < 0)
        return NULL;
    long steps = 10;
    double threshold = 0.95;
    if (opt_int(req, "steps_ahead", 1, TSA_MAX_HORIZON, &steps, e) < 0 ||
        opt_number(req, "threshold", 0, 0.999999, &threshold, e) < 0)
        return NULL;
    if (!cJSON_GetObjectItemCaseSensitive(req, "data"))
        return tsa_svc_fail(e, 400, "missing_field", "data", "data: is required");
    /* Forecasting and detection requests for the member operations. */
    cJSON *freq = cJSON_CreateObject(), *dreq = cJSON_CreateObject();
    cJSON_AddItemToObject(freq, "data", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "data"), 1));
    cJSON_AddItemToObject(dreq, "data", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(req, "data"), 1));
    tsa_store_model meta;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status fst = tsa_store_model_get_meta(svc->store, fc_model, &meta, err);
    if (fst == TSA_STORE_UNAVAILABLE || fst == TSA_STORE_ERROR) {
        cJSON_Delete(freq);
        cJSON_Delete(dreq);
        return tsa_svc_fail_store(e, fst, err, "loading the model");
    }
    int fc_stored = fst == TSA_STORE_OK;
    if (fc_stored)
        tsa_store_model_clear(&meta);
    cJSON_AddStringToObject(freq, fc_stored ? "model_name" : "model_type", fc_model);
    cJSON_AddNumberToObject(freq, "steps_ahead", (double)steps);
    if (!an_model) { /* the coordinator's default */
        tsa_owned_series probe;
        char perr[256];
        size_t k = 1;
        if (tsa_series_from_json(cJSON_GetObjectItemCaseSensitive(req, "data"), "data", &probe, perr,
                                 sizeof perr) == 0) {
            k = probe.view.n_features;
            tsa_owned_series_free(&probe);
        }
        an_model = tsa_default_detector(k);
    }
    int an_stored = tsa_store_model_get_meta(svc->store, an_model, &meta, err) == TSA_STORE_OK;
    if (an_stored)
        tsa_store_model_clear(&meta);
    cJSON_AddStringToObject(dreq, an_stored ? "model_name" : "model_type", an_model);
    cJSON_AddNumberToObject(dreq, "threshold", threshold);
    tsa_svc_error fe = {0}, de = {0};
    cJSON *forecast = tsa_op_predict(svc, freq, &fe);
    cJSON *detection = tsa_op_detect(svc, dreq, &de);
    cJSON_Delete(freq);
    cJSON_Delete(dreq);
    if (!forecast && !detection) {
        *e = fe;
        return NULL;
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "analysis_type", "forecast_and_detect");
    cJSON *errors = cJSON_AddArrayToObject(out, "errors");
    if (forecast)
        cJSON_AddItemToObject(out, "forecast", forecast);
    else
        cJSON_AddItemToArray(errors, tsa_svc_error_json(&fe));
    if (detection)
        cJSON_AddItemToObject(out, "anomalies", detection);
    else
        cJSON_AddItemToArray(errors, tsa_svc_error_json(&de));
    cJSON *sum = cJSON_AddObjectToObject(out, "summary");
    cJSON_AddStringToObject(sum, "forecasting_model", fc_model);
    cJSON_AddStringToObject(sum, "anomaly_model", an_model);
    if (detection) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(detection, "summary");
        cJSON_AddItemToObject(sum, "n_anomalies",
                              cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(s, "n_anomalies"), 1));
    }
    if (forecast)
        cJSON_AddNumberToObject(sum, "steps_ahead", (double)steps);
    cJSON_AddBoolToObject(out, "partial", !forecast || !detection);
    return out;
}

/* ---- models, jobs, results ----------------------------------------------------------- */

static cJSON *model_meta_json(const tsa_store_model *m)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "model_name", m->name);
    cJSON_AddStringToObject(o, "model_type", m->kind);
    cJSON_AddStringToObject(o, "task", m->task);
    cJSON_AddItemToObject(o, "params", parse_json_or_null(m->params_json));
    cJSON_AddItemToObject(o, "metrics", parse_json_or_null(m->metrics_json));
    if (m->owner)
        cJSON_AddStringToObject(o, "owner", m->owner);
    char buf[32];
    tsa_format_time(m->created_ms / 1000, buf);
    cJSON_AddStringToObject(o, "created_at", buf);
    tsa_format_time(m->updated_ms / 1000, buf);
    cJSON_AddStringToObject(o, "updated_at", buf);
    cJSON_AddNumberToObject(o, "size_bytes", (double)m->blob_len);
    cJSON_AddStringToObject(o, "sha256", m->blob_sha256);
    return o;
}

cJSON *tsa_op_model_list(tsa_svc *svc, const char *task, const char *kind, size_t limit,
                         size_t offset, tsa_svc_error *e)
{
    tsa_store_model_filter f = {task, kind, NULL};
    tsa_store_model *items = NULL;
    size_t n = 0;
    int64_t total = 0;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_model_list(svc->store, &f, limit, offset, &items, &n, err);
    if (st == TSA_STORE_OK)
        st = tsa_store_model_count(svc->store, &f, &total, err);
    if (st != TSA_STORE_OK) {
        tsa_store_models_free(items, n);
        return tsa_svc_fail_store(e, st, err, "listing models");
    }
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "models");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, model_meta_json(&items[i]));
    cJSON_AddNumberToObject(out, "count", (double)n);
    cJSON_AddNumberToObject(out, "total", (double)total);
    tsa_store_models_free(items, n);
    return out;
}

cJSON *tsa_op_model_get(tsa_svc *svc, const char *name, tsa_svc_error *e)
{
    tsa_cached_model *entry = NULL;
    tsa_store_model meta;
    cJSON *ok = tsa_op_load_model(svc, name, &entry, &meta, e);
    if (!ok)
        return NULL;
    cJSON_Delete(ok);
    cJSON *out = model_meta_json(&meta);
    cJSON_AddItemToObject(out, "info", model_info(tsa_cached_model_get(entry)));
    tsa_model_cache_release(svc->cache, entry);
    tsa_store_model_clear(&meta);
    return out;
}

cJSON *tsa_op_model_delete(tsa_svc *svc, const char *name, const char *actor, tsa_svc_error *e)
{
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_model_delete(svc->store, name, NULL, err);
    if (st == TSA_STORE_NOT_FOUND)
        return tsa_svc_fail(e, 404, "not_found", "model_name", "model_name: no model named '%.128s'", name);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "deleting the model");
    tsa_model_cache_forget(svc->cache, name);
    tsa_store_audit_append(svc->store, actor, "model.delete", name, NULL, NULL, err);
    tsa_op_refresh_gauges(svc);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "status", "deleted");
    cJSON_AddStringToObject(out, "model_name", name);
    return out;
}

static cJSON *job_json(const tsa_store_job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "job_id", j->id);
    cJSON_AddStringToObject(o, "status", tsa_store_job_state_name(j->state));
    cJSON_AddStringToObject(o, "kind", j->kind);
    if (j->model_name)
        cJSON_AddStringToObject(o, "model_name", j->model_name);
    cJSON *p = cJSON_AddObjectToObject(o, "progress");
    cJSON_AddNumberToObject(p, "epoch", (double)j->epoch);
    cJSON_AddNumberToObject(p, "total_epochs", (double)j->total_epochs);
    if (j->total_epochs > 0)
        cJSON_AddNumberToObject(p, "fraction", (double)j->epoch / (double)j->total_epochs);
    if (isfinite(j->train_loss))
        cJSON_AddNumberToObject(p, "train_loss", j->train_loss);
    if (isfinite(j->val_loss))
        cJSON_AddNumberToObject(p, "val_loss", j->val_loss);
    if (j->eta_ms >= 0)
        cJSON_AddNumberToObject(p, "eta_seconds", (double)j->eta_ms / 1000.0);
    cJSON_AddBoolToObject(o, "cancel_requested", j->cancel_requested);
    if (j->result_json)
        cJSON_AddItemToObject(o, "result", parse_json_or_null(j->result_json));
    if (j->error)
        cJSON_AddStringToObject(o, "error", j->error);
    char buf[32];
    tsa_format_time(j->created_ms / 1000, buf);
    cJSON_AddStringToObject(o, "created_at", buf);
    if (j->started_ms) {
        tsa_format_time(j->started_ms / 1000, buf);
        cJSON_AddStringToObject(o, "started_at", buf);
    }
    if (j->finished_ms) {
        tsa_format_time(j->finished_ms / 1000, buf);
        cJSON_AddStringToObject(o, "finished_at", buf);
    }
    return o;
}

cJSON *tsa_op_job_list(tsa_svc *svc, const char *state, size_t limit, size_t offset, tsa_svc_error *e)
{
    unsigned mask = 0;
    if (state) {
        tsa_store_job_state s;
        if (tsa_store_job_state_parse(state, &s) != 0)
            return tsa_svc_fail(e, 400, "invalid_field", "state",
                                "state: must be queued, running, completed, failed, canceled or interrupted");
        mask = TSA_JOB_MASK(s);
    }
    tsa_store_job *items = NULL;
    size_t n = 0;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_job_list(svc->store, mask, limit, offset, &items, &n, err);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "listing jobs");
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "jobs");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, job_json(&items[i]));
    cJSON_AddNumberToObject(out, "count", (double)n);
    tsa_store_jobs_free(items, n);
    return out;
}

cJSON *tsa_op_job_get(tsa_svc *svc, const char *id, tsa_svc_error *e)
{
    tsa_store_job j;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_job_get(svc->store, id, &j, err);
    if (st == TSA_STORE_NOT_FOUND || st == TSA_STORE_INVALID)
        return tsa_svc_fail(e, 404, "not_found", "job_id", "job_id: no job with id '%.64s'", id);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "reading the job");
    cJSON *out = job_json(&j);
    tsa_store_job_clear(&j);
    return out;
}

cJSON *tsa_op_job_cancel(tsa_svc *svc, const char *id, tsa_svc_error *e)
{
    tsa_store_job_state state;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_job_cancel(svc->store, id, &state, err);
    if (st == TSA_STORE_NOT_FOUND || st == TSA_STORE_INVALID)
        return tsa_svc_fail(e, 404, "not_found", "job_id", "job_id: no job with id '%.64s'", id);
    if (st == TSA_STORE_CONFLICT)
        return tsa_svc_fail(e, 409, "conflict", "job_id", "job '%.64s' has already ended", id);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "canceling the job");
    tsa_op_refresh_gauges(svc);
    return tsa_op_job_get(svc, id, e);
}

static cJSON *result_json(const tsa_store_result *r, int full)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "result_id", r->id);
    cJSON_AddStringToObject(o, "kind", r->kind);
    char buf[32];
    tsa_format_time(r->created_ms / 1000, buf);
    cJSON_AddStringToObject(o, "created_at", buf);
    if (full) {
        cJSON_AddItemToObject(o, "request", parse_json_or_null(r->request_json));
        cJSON_AddItemToObject(o, "result", parse_json_or_null(r->result_json));
    }
    return o;
}

cJSON *tsa_op_result_list(tsa_svc *svc, const char *kind, size_t limit, size_t offset, tsa_svc_error *e)
{
    tsa_store_result *items = NULL;
    size_t n = 0;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_result_list(svc->store, kind, limit, offset, &items, &n, err);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "listing results");
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "results");
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(arr, result_json(&items[i], 0));
    cJSON_AddNumberToObject(out, "count", (double)n);
    tsa_store_results_free(items, n);
    return out;
}

cJSON *tsa_op_result_get(tsa_svc *svc, const char *id, tsa_svc_error *e)
{
    tsa_store_result r;
    char err[TSA_STORE_ERR_LEN];
    tsa_store_status st = tsa_store_result_get(svc->store, id, &r, err);
    if (st == TSA_STORE_NOT_FOUND || st == TSA_STORE_INVALID)
        return tsa_svc_fail(e, 404, "not_found", "result_id", "result_id: no result with id '%.64s'", id);
    if (st != TSA_STORE_OK)
        return tsa_svc_fail_store(e, st, err, "reading the result");
    cJSON *out = result_json(&r, 1);
    tsa_store_result_clear(&r);
    return out;
}

void tsa_op_result_store(tsa_svc *svc, const char *kind, const cJSON *req, cJSON *result)
{
    char *rq = cJSON_PrintUnformatted(req), *rs = cJSON_PrintUnformatted(result);
    char id[37], err[TSA_STORE_ERR_LEN];
    if (rq && rs && tsa_store_result_put(svc->store, kind, NULL, rq, rs, id, err) == TSA_STORE_OK)
        cJSON_AddStringToObject(result, "result_id", id);
    cJSON_free(rq);
    cJSON_free(rs);
}

cJSON *tsa_op_kinds(void)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < tsa_kind_count(); i++) {
        char *json = NULL;
        if (tsa_kind_info_json(tsa_kind_name(i), &json) == TSA_OK) {
            cJSON *k = cJSON_Parse(json);
            if (k)
                cJSON_AddItemToArray(arr, k);
        }
        tsa_free(json);
    }
    return arr;
}

void tsa_op_refresh_gauges(tsa_svc *svc)
{
    if (!svc->metrics || !svc->store)
        return;
    char err[TSA_STORE_ERR_LEN];
    int64_t n;
    if (tsa_store_model_count(svc->store, NULL, &n, err) == TSA_STORE_OK)
        tsa_metrics_set_gauge(svc->metrics, "tsa_models", "Stored models.", NULL, NULL, (double)n);
    for (int s = 0; s < TSA_JOB_STATE_COUNT; s++)
        if (tsa_store_job_count(svc->store, TSA_JOB_MASK(s), &n, err) == TSA_STORE_OK)
            tsa_metrics_set_gauge(svc->metrics, "tsa_jobs", "Training jobs by state.", "state",
                                  tsa_store_job_state_name((tsa_store_job_state)s), (double)n);
}

/* ---- training job workers ----------------------------------------------------------- */

typedef struct job_run {
    tsa_svc *svc;
    const char *id;
    double t_start;
    _Atomic int stop;          /* set by the heartbeat: canceled or taken away */
} job_run;

/* A running job's heartbeat, on its own thread so that a long epoch (or a
 * long single fit) still shows a live worker to the other replicas; a
 * worker that dies or hangs stops beating and its job is interrupted by
 * the next sweep anywhere (tsa_store_job_recover with svc->job_stale_ms). */
typedef struct job_beat {
    job_run *jr;
    double interval;           /* seconds */
    int done;
    pthread_mutex_t lock;
    pthread_cond_t cond;
} job_beat;

static void *beat_main(void *arg)
{
    job_beat *b = arg;
    pthread_mutex_lock(&b->lock);
    while (!b->done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double at = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec + b->interval;
        ts.tv_sec = (time_t)at;
        ts.tv_nsec = (long)((at - (double)ts.tv_sec) * 1e9);
        if (pthread_cond_timedwait(&b->cond, &b->lock, &ts) == 0 || b->done)
            continue;
        pthread_mutex_unlock(&b->lock);
        char err[TSA_STORE_ERR_LEN];
        int cancel = 0;
        tsa_store_status st = tsa_store_job_heartbeat(b->jr->svc->store, b->jr->id, &cancel, err);
        if (cancel || st == TSA_STORE_CONFLICT || st == TSA_STORE_NOT_FOUND)
            b->jr->stop = 1;
        pthread_mutex_lock(&b->lock);
    }
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

/* Seconds between heartbeats: a quarter of the stale limit, as the store
 * asks, and at most 15 s. */
static double beat_interval(const tsa_svc *svc)
{
    double s = svc->job_stale_ms > 0 ? (double)svc->job_stale_ms / 4000.0 : 15.0;
    return s < 0.1 ? 0.1 : s > 15.0 ? 15.0 : s;
}

static int job_progress(const tsa_progress *p, void *user)
{
    job_run *jr = user;
    char err[TSA_STORE_ERR_LEN];
    int stop = 0;
    double now = tsa_now();
    int64_t eta = -1;
    if (p->total > 0 && p->step > 0)
        eta = (int64_t)((now - jr->t_start) / (double)p->step * (double)(p->total - p->step) * 1000.0);
    tsa_store_status st = tsa_store_job_progress(jr->svc->store, jr->id, p->step, p->total,
                                                 p->train_loss, p->val_loss, eta, &stop, err);
    return jr->svc->stopping || jr->stop || stop || st == TSA_STORE_CONFLICT || st == TSA_STORE_NOT_FOUND;
}

static void run_job(tsa_svc *svc, tsa_store_job *job)
{
    char err[TSA_STORE_ERR_LEN];
    if (job->request_sealed) {
        tsa_store_job_finish(svc->store, job->id, TSA_JOB_FAILED, NULL,
                             "the job's request is encrypted under another key: "
                             "TSA_ENCRYPTION_KEY does not match",
                             NULL, err);
        return;
    }
    cJSON *jreq = cJSON_Parse(job->request_json);
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(jreq, "task");
    const cJSON *req = cJSON_GetObjectItemCaseSensitive(jreq, "request");
    tsa_svc_error e = {0};
    train_plan plan;
    memset(&plan, 0, sizeof plan);
    if (!cJSON_IsString(task) || !cJSON_IsObject(req)) {
        tsa_store_job_finish(svc->store, job->id, TSA_JOB_FAILED, NULL, "malformed job request", NULL, err);
        cJSON_Delete(jreq);
        return;
    }
    /* Re-check (the name may have been taken since the job was queued). */
    if (plan_train(svc, req, task->valuestring, &plan, &e) != 0) {
        tsa_store_job_finish(svc->store, job->id, TSA_JOB_FAILED, NULL, e.message, NULL, err);
        plan_free(&plan);
        cJSON_Delete(jreq);
        return;
    }
    job_run jr = {svc, job->id, tsa_now(), 0};
    job_beat beat = {&jr, beat_interval(svc), 0, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER};
    pthread_t beat_thread;
    int beating = pthread_create(&beat_thread, NULL, beat_main, &beat) == 0;
    cJSON *metrics = NULL;
    double seconds = 0;
    tsa_model *m = run_fit(svc, &plan, job_progress, &jr, &metrics, &seconds, &e);
    if (beating) {
        pthread_mutex_lock(&beat.lock);
        beat.done = 1;
        pthread_cond_signal(&beat.cond);
        pthread_mutex_unlock(&beat.lock);
        pthread_join(beat_thread, NULL);
    }
    if (!m) {
        int canceled = !strcmp(e.code, "canceled");
        if (canceled && svc->stopping) {
            /* Shutting down: the job is interrupted, not canceled by a user. */
            int64_t n;
            tsa_store_job_interrupt_own(svc->store, svc->worker_id, &n, err);
        } else {
            tsa_store_job_finish(svc->store, job->id, canceled ? TSA_JOB_CANCELED : TSA_JOB_FAILED, NULL,
                                 e.message, NULL, err);
        }
    } else {
        tsa_store_model_in in;
        void *blob;
        char *params_json, *metrics_text;
        cJSON *resp = train_response(&plan, m, metrics, seconds);
        char *result_text = cJSON_PrintUnformatted(resp);
        tsa_store_status st = store_model(svc, &plan, m, metrics, job->owner, &in, &blob, &params_json,
                                          &metrics_text);
        if (st == TSA_STORE_OK)
            st = tsa_store_job_finish(svc->store, job->id, TSA_JOB_COMPLETED, result_text, NULL, &in, err);
        if (st != TSA_STORE_OK)
            tsa_store_job_finish(svc->store, job->id, TSA_JOB_FAILED, NULL,
                                 st == TSA_STORE_CONFLICT ? "a model of this name was stored meanwhile; "
                                                            "resubmit with \"overwrite\": true"
                                                          : err,
                                 NULL, err);
        else {
            tsa_model_cache_forget(svc->cache, plan.name);
            tsa_store_audit_append(svc->store, job->owner, "model.train", plan.name, NULL, NULL, err);
        }
        tsa_free(blob);
        tsa_free(params_json);
        cJSON_free(metrics_text);
        cJSON_free(result_text);
        cJSON_Delete(resp); /* owns metrics */
        tsa_model_free(m);
    }
    plan_free(&plan);
    cJSON_Delete(jreq);
    tsa_op_refresh_gauges(svc);
}

static void *worker_main(void *arg)
{
    tsa_svc *svc = arg;
    double last_recover = tsa_now();
    while (!svc->stopping) {
        tsa_store_job job;
        char err[TSA_STORE_ERR_LEN];
        /* Jobs left running by a process of this host that died (a replica
         * killed mid-training) are marked interrupted now, not at the next
         * start-up; so are jobs of any host whose heartbeat stopped (a dead
         * or hung machine). Running jobs beat on their own thread, so a long
         * epoch is not a dead worker. */
        if (tsa_now() - last_recover >= 5.0) {
            int64_t n = 0;
            tsa_store_job_recover(svc->store, svc->job_stale_ms, &n, err);
            last_recover = tsa_now();
        }
        tsa_store_status st = tsa_store_job_claim(svc->store, svc->worker_id, NULL, &job, err);
        if (st == TSA_STORE_OK) {
            run_job(svc, &job);
            tsa_store_job_clear(&job);
            continue;
        }
        /* Nothing queued (or the store is down): wait for a new job or a
         * second, so jobs queued by other replicas are picked up too. */
        pthread_mutex_lock(&svc->wake_lock);
        if (!svc->stopping) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&svc->wake, &svc->wake_lock, &ts);
        }
        pthread_mutex_unlock(&svc->wake_lock);
    }
    return NULL;
}

int tsa_op_workers_start(tsa_svc *svc)
{
    char host[64] = "host";
    gethostname(host, sizeof host - 1);
    snprintf(svc->worker_id, sizeof svc->worker_id, "%s:%s:%ld", svc->service, host, (long)getpid());
    pthread_mutex_init(&svc->wake_lock, NULL);
    pthread_cond_init(&svc->wake, NULL);
    svc->stopping = 0;
    if (svc->n_workers <= 0)
        return 0;
    svc->workers = calloc((size_t)svc->n_workers, sizeof *svc->workers);
    if (!svc->workers)
        return -1;
    for (int i = 0; i < svc->n_workers; i++)
        if (pthread_create(&svc->workers[i], NULL, worker_main, svc) != 0)
            return -1;
    return 0;
}

void tsa_op_workers_stop(tsa_svc *svc)
{
    pthread_mutex_lock(&svc->wake_lock);
    svc->stopping = 1;
    pthread_cond_broadcast(&svc->wake);
    pthread_mutex_unlock(&svc->wake_lock);
    for (int i = 0; svc->workers && i < svc->n_workers; i++)
        pthread_join(svc->workers[i], NULL);
    free(svc->workers);
    svc->workers = NULL;
    char err[TSA_STORE_ERR_LEN];
    int64_t n;
    if (svc->store)
        tsa_store_job_interrupt_own(svc->store, svc->worker_id, &n, err);
}
