/* The generic model life cycle: argument checks at the ABI boundary, the
 * missing-value fill, transactional refits, and dispatch to the kind. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/series.h"
#include "models/kind.h"

/* A field of a size-prefixed options struct is readable when @size covers it. */
#define TSA_HAS_FIELD(type, ptr, field) \
    ((ptr)->size >= offsetof(type, field) + sizeof((ptr)->field))

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static tsa_status unknown_kind(const char *kind)
{
    return tsa_error(TSA_EUNKNOWN_KIND, "kind: unknown model kind '%.64s'", kind);
}

TSA_API tsa_status tsa_model_create(const char *kind, const tsa_params *params, tsa_model **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = NULL;
    TSA_FAIL_IF(!kind, TSA_EINVAL, "kind: must not be NULL");
    const tsa_kind *k = tsa_kind_find(kind);
    if (!k)
        return unknown_kind(kind);
    tsa_gsl_init();
    tsa_model *m = calloc(1, sizeof *m);
    TSA_FAIL_IF(!m, TSA_ENOMEM, "out of memory creating a '%s' model", k->name);
    m->kind = k;
    tsa_status rc = tsa_params_resolve(k, params, &m->params);
    if (rc != TSA_OK) {
        free(m);
        return rc;
    }
    *out = m;
    return TSA_OK;
}

static void drop_state(const tsa_kind *k, void *state)
{
    if (!state)
        return;
    if (k->destroy)
        k->destroy(state);
    free(state);
}

TSA_API void tsa_model_free(tsa_model *m)
{
    if (!m)
        return;
    drop_state(m->kind, m->state);
    free(m->tail);
    tsa_params_free(m->params);
    free(m);
}

TSA_API void tsa_fit_options_init(tsa_fit_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
}

tsa_status tsa_fit_report(const tsa_fit_ctx *ctx, const char *stage, int64_t step, int64_t total,
                          double train_loss, double val_loss)
{
    if (!ctx || !ctx->progress)
        return TSA_OK;
    tsa_progress p;
    p.size = sizeof p;
    p.stage = stage;
    p.step = step;
    p.total = total;
    p.train_loss = train_loss;
    p.val_loss = val_loss;
    p.elapsed_s = now_seconds() - ctx->t_start;
    TSA_FAIL_IF(ctx->progress(&p, ctx->user) != 0, TSA_ECANCELED,
                "fit: canceled by the progress callback at %s %lld", stage, (long long)step);
    return TSA_OK;
}

TSA_API tsa_status tsa_model_fit(tsa_model *m, const tsa_series *train, const tsa_fit_options *opts)
{
    TSA_FAIL_IF(!m, TSA_EINVAL, "model: must not be NULL");
    TSA_TRY(tsa_series_check(train, "train"));
    const tsa_kind *k = m->kind;
    TSA_FAIL_IF(train->n_features > 1 && !(k->caps & TSA_CAP_MULTIVARIATE), TSA_ESHAPE,
                "train: kind '%s' is univariate, got %zu features", k->name, train->n_features);
    TSA_FAIL_IF(opts && opts->size < offsetof(tsa_fit_options, seed) + sizeof opts->seed,
                TSA_EINVAL, "opts: size %zu is too small; call tsa_fit_options_init()",
                opts ? opts->size : 0);

    tsa_fit_ctx ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.seed = (uint64_t)tsa_param_int(m, "seed");
    if (opts) {
        if (opts->seed)
            ctx.seed = opts->seed;
        if (TSA_HAS_FIELD(tsa_fit_options, opts, epochs)) {
            TSA_FAIL_IF(opts->epochs < 0 || opts->epochs > 100000, TSA_ERANGE,
                        "epochs: must be in [0, 100000] (0 = the model's parameter), got %lld",
                        (long long)opts->epochs);
            ctx.epochs = opts->epochs;
        }
        if (TSA_HAS_FIELD(tsa_fit_options, opts, n_threads)) {
            TSA_FAIL_IF(opts->n_threads < 0 || opts->n_threads > 1024, TSA_ERANGE,
                        "n_threads: must be in [0, 1024], got %d", opts->n_threads);
            ctx.n_threads = opts->n_threads;
        }
        if (TSA_HAS_FIELD(tsa_fit_options, opts, user)) {
            ctx.progress = opts->progress;
            ctx.user = opts->user;
        }
    }
    ctx.t_start = now_seconds();

    double *filled = NULL;
    tsa_series s = *train;
    if (tsa_series_has_missing(train)) {
        TSA_TRY(tsa_series_fill_missing(train, "train", &filled));
        s.values = filled;
        s.mask = NULL;
    }

    /* Fit into a fresh state through a scratch copy of the model, so a failed
     * refit leaves the earlier fit untouched. */
    tsa_model scratch = *m;
    scratch.n_features = s.n_features;
    scratch.n_train = s.length;
    scratch.state = calloc(1, k->state_size ? k->state_size : 1);
    if (!scratch.state) {
        free(filled);
        return tsa_error(TSA_ENOMEM, "fit: out of memory");
    }
    size_t tail_len = 0;
    tsa_status rc = k->fit(&scratch, scratch.state, &s, &ctx, &tail_len);
    double *tail = NULL;
    if (rc == TSA_OK) {
        if (tail_len > s.length)
            tail_len = s.length;
        tail = malloc((tail_len ? tail_len : 1) * s.n_features * sizeof *tail);
        if (!tail)
            rc = tsa_error(TSA_ENOMEM, "fit: out of memory");
        else
            memcpy(tail, s.values + (s.length - tail_len) * s.n_features,
                   tail_len * s.n_features * sizeof *tail);
    }
    free(filled);
    if (rc != TSA_OK) {
        drop_state(k, scratch.state);
        return rc;
    }
    drop_state(k, m->state);
    free(m->tail);
    m->state = scratch.state;
    m->tail = tail;
    m->tail_len = tail_len;
    m->n_features = s.n_features;
    m->n_train = s.length;
    m->has_timestamps = train->timestamps != NULL;
    m->last_timestamp = train->timestamps ? train->timestamps[train->length - 1] : 0;
    m->timestamp_step = train->timestamps ? tsa_series_median_step(train) : 0;
    m->fitted = 1;
    return TSA_OK;
}

/* Checks shared by forecast and score on an input series; fills *filled when
 * values are missing (the caller frees it). */
static tsa_status check_input(const tsa_model *m, const tsa_series *x, const char *what,
                              size_t min_len, tsa_series *view, double **filled)
{
    TSA_TRY(tsa_series_check(x, what));
    TSA_FAIL_IF(x->n_features != m->n_features, TSA_ESHAPE,
                "%s: has %zu features, the model was fitted on %zu", what, x->n_features,
                m->n_features);
    TSA_FAIL_IF(x->length < min_len, TSA_ETOOSHORT,
                "%s: needs at least %zu rows for this model, got %zu", what, min_len, x->length);
    *view = *x;
    *filled = NULL;
    if (tsa_series_has_missing(x)) {
        TSA_TRY(tsa_series_fill_missing(x, what, filled));
        view->values = *filled;
        view->mask = NULL;
    }
    return TSA_OK;
}

static tsa_status check_fitted(const tsa_model *m, unsigned cap, const char *op)
{
    TSA_FAIL_IF(!m, TSA_EINVAL, "model: must not be NULL");
    TSA_FAIL_IF(!(m->kind->caps & cap), TSA_EUNSUPPORTED, "%s: kind '%s' does not support it", op,
                m->kind->name);
    TSA_FAIL_IF(!m->fitted, TSA_ENOTFITTED, "%s: the model is not fitted; call tsa_model_fit first",
                op);
    return TSA_OK;
}

TSA_API size_t tsa_model_context_length(const tsa_model *m)
{
    if (!m || !m->fitted)
        return 0;
    return m->kind->context_length ? m->kind->context_length(m) : 0;
}

TSA_API void tsa_forecast_free(tsa_forecast *fc)
{
    if (!fc)
        return;
    free(fc->mean);
    free(fc->lower);
    free(fc->upper);
    free(fc->timestamps);
    free(fc);
}

/* The timestamps of the @horizon steps after @history (after the training
 * series for NULL): its last timestamp plus multiples of its median
 * spacing. *out is NULL when there are none to follow. */
static tsa_status future_timestamps(const tsa_model *m, const tsa_series *history,
                                    size_t horizon, const char *op, int64_t **out)
{
    *out = NULL;
    int64_t last = 0, step = 0;
    if (history && history->timestamps) {
        last = history->timestamps[history->length - 1];
        step = history->length > 1 ? tsa_series_median_step(history)
                                   : (m->timestamp_step ? m->timestamp_step : 1);
    } else if (!history && m->has_timestamps) {
        last = m->last_timestamp;
        step = m->timestamp_step ? m->timestamp_step : 1;
    }
    if (!step)
        return TSA_OK;
    int64_t *ts = malloc(horizon * sizeof *ts);
    TSA_FAIL_IF(!ts, TSA_ENOMEM, "%s: out of memory for %zu steps", op, horizon);
    for (size_t h = 0; h < horizon; h++) {
        int64_t offset;
        if (__builtin_mul_overflow((int64_t)(h + 1), step, &offset) ||
            __builtin_add_overflow(last, offset, &ts[h])) {
            free(ts);
            return tsa_error(TSA_ERANGE, "%s: timestamps past step %zu overflow int64", op, h);
        }
    }
    *out = ts;
    return TSA_OK;
}

TSA_API tsa_status tsa_model_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                                      double interval, tsa_forecast **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_TRY(check_fitted(m, TSA_CAP_FORECAST, "forecast"));
    TSA_FAIL_IF(horizon < 1 || horizon > TSA_MAX_HORIZON, TSA_ERANGE,
                "horizon: must be in [1, %d], got %zu", TSA_MAX_HORIZON, horizon);
    TSA_FAIL_IF(!(interval > 0.0 && interval < 1.0), TSA_ERANGE,
                "interval: must be in (0, 1), got %g", interval);

    const size_t ctx_len = tsa_model_context_length(m);
    tsa_series view;
    double *filled = NULL;
    if (history) {
        TSA_TRY(check_input(m, history, "history", ctx_len ? ctx_len : 1, &view, &filled));
    } else {
        view = tsa_series_view(m->tail, m->tail_len, m->n_features);
    }

    const size_t k = m->n_features, n = horizon * k;
    tsa_forecast *fc = calloc(1, sizeof *fc);
    tsa_status rc = TSA_OK;
    if (fc) {
        fc->horizon = horizon;
        fc->n_features = k;
        fc->interval = interval;
        fc->mean = malloc(n * sizeof(double));
        fc->lower = malloc(n * sizeof(double));
        fc->upper = malloc(n * sizeof(double));
    }
    if (!fc || !fc->mean || !fc->lower || !fc->upper) {
        rc = tsa_error(TSA_ENOMEM, "forecast: out of memory for %zu steps", horizon);
        goto done;
    }
    rc = future_timestamps(m, history, horizon, "forecast", &fc->timestamps);
    if (rc != TSA_OK)
        goto done;
    rc = m->kind->forecast(m, &view, horizon, interval, fc);
done:
    free(filled);
    if (rc != TSA_OK) {
        tsa_forecast_free(fc);
        return rc;
    }
    *out = fc;
    return TSA_OK;
}

/* ---- components ---------------------------------------------------------- */

TSA_API void tsa_components_free(tsa_components *c)
{
    if (!c)
        return;
    for (size_t i = 0; c->names && i < c->n_components; i++)
        free(c->names[i]);
    free(c->names);
    free(c->multiplicative);
    free(c->values);
    free(c->mean);
    free(c->timestamps);
    free(c);
}

tsa_status tsa_components_alloc(tsa_components *c, size_t n_components)
{
    const size_t cells = c->length * c->n_features, total = n_components * cells;
    c->names = calloc(n_components ? n_components : 1, sizeof *c->names);
    c->multiplicative = calloc(n_components ? n_components : 1, 1);
    c->values = calloc(total ? total : 1, sizeof *c->values);
    c->n_components = c->names ? n_components : 0;
    TSA_FAIL_IF(!c->names || !c->multiplicative || !c->values, TSA_ENOMEM,
                "components: out of memory for %zu components of %zu rows", n_components,
                c->length);
    return TSA_OK;
}

tsa_status tsa_components_name(tsa_components *c, size_t i, const char *name, int multiplicative)
{
    free(c->names[i]);
    c->names[i] = strdup(name);
    TSA_FAIL_IF(!c->names[i], TSA_ENOMEM, "components: out of memory");
    c->multiplicative[i] = multiplicative != 0;
    return TSA_OK;
}

TSA_API tsa_status tsa_model_components(const tsa_model *m, const tsa_series *x, size_t horizon,
                                        tsa_components **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = NULL;
    TSA_TRY(check_fitted(m, TSA_CAP_COMPONENTS, "components"));
    TSA_FAIL_IF(!m->kind->components, TSA_EUNSUPPORTED,
                "components: kind '%s' does not support it", m->kind->name);
    TSA_FAIL_IF(horizon > TSA_MAX_HORIZON, TSA_ERANGE, "horizon: must be in [0, %d], got %zu",
                TSA_MAX_HORIZON, horizon);
    const size_t ctx_len = tsa_model_context_length(m);
    tsa_series view;
    double *filled = NULL;
    if (x)
        TSA_TRY(check_input(m, x, "x", ctx_len ? ctx_len : 1, &view, &filled));
    tsa_status rc = TSA_OK;
    tsa_components *c = calloc(1, sizeof *c);
    if (!c) {
        free(filled);
        return tsa_error(TSA_ENOMEM, "components: out of memory");
    }
    c->n_features = m->n_features;
    c->in_sample = horizon == 0;
    if (horizon) {
        c->length = horizon;
        rc = future_timestamps(m, x ? &view : NULL, horizon, "components", &c->timestamps);
    } else if (x) {
        c->length = x->length;
        if (x->timestamps) {
            c->timestamps = malloc(x->length * sizeof *c->timestamps);
            if (c->timestamps)
                memcpy(c->timestamps, x->timestamps, x->length * sizeof *c->timestamps);
            else
                rc = tsa_error(TSA_ENOMEM, "components: out of memory");
        }
    } else {
        c->length = m->n_train;
    }
    if (rc == TSA_OK)
        rc = m->kind->components(m, x ? &view : NULL, horizon, c);
    free(filled);
    const size_t cells = c->length * c->n_features;
    if (rc == TSA_OK) {
        c->mean = calloc(cells ? cells : 1, sizeof *c->mean);
        if (!c->mean)
            rc = tsa_error(TSA_ENOMEM, "components: out of memory");
    }
    if (rc == TSA_OK) {
        for (size_t k = 0; k < c->n_components; k++)
            for (size_t i = 0; i < cells; i++)
                c->mean[i] += c->values[k * cells + i];
        for (size_t i = 0; i < cells; i++)
            if (!isfinite(c->mean[i])) {
                rc = tsa_error(TSA_ENUMERIC, "components: non-finite value at row %zu",
                               i / (c->n_features ? c->n_features : 1));
                break;
            }
    }
    if (rc != TSA_OK) {
        tsa_components_free(c);
        return rc;
    }
    *out = c;
    return TSA_OK;
}

TSA_API tsa_status tsa_model_score(const tsa_model *m, const tsa_series *x, double *raw,
                                   double *calibrated)
{
    TSA_TRY(check_fitted(m, TSA_CAP_SCORE, "score"));
    TSA_FAIL_IF(!raw && !calibrated, TSA_EINVAL, "raw, calibrated: at least one must be given");
    const size_t ctx_len = tsa_model_context_length(m);
    tsa_series view;
    double *filled = NULL;
    TSA_TRY(check_input(m, x, "x", ctx_len + 1, &view, &filled));
    double *r = raw, *c = calibrated, *own = NULL;
    if (!r || !c) {
        own = malloc(x->length * sizeof *own);
        if (!own) {
            free(filled);
            return tsa_error(TSA_ENOMEM, "score: out of memory");
        }
        if (!r)
            r = own;
        else
            c = own;
    }
    tsa_status rc = m->kind->score(m, &view, r, c);
    if (rc == TSA_OK && x->mask) {
        /* A step with every feature missing carries no evidence. */
        for (size_t t = 0; t < x->length; t++) {
            size_t missing = 0;
            for (size_t j = 0; j < x->n_features; j++)
                missing += x->mask[t * x->n_features + j] != 0;
            if (missing == x->n_features)
                r[t] = c[t] = 0.0;
        }
    }
    free(own);
    free(filled);
    return rc;
}

TSA_API void tsa_detection_free(tsa_detection *d)
{
    if (!d)
        return;
    free(d->raw);
    free(d->calibrated);
    free(d->flags);
    free(d->indices);
    free(d);
}

TSA_API tsa_status tsa_model_detect(const tsa_model *m, const tsa_series *x, double threshold,
                                    tsa_detection **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_TRY(check_fitted(m, TSA_CAP_SCORE, "detect"));
    TSA_FAIL_IF(!(threshold >= 0.0 && threshold < 1.0), TSA_ERANGE,
                "threshold: must be in [0, 1), got %g", threshold);
    TSA_TRY(tsa_series_check(x, "x"));
    const size_t n = x->length;
    tsa_detection *d = calloc(1, sizeof *d);
    if (d) {
        d->length = n;
        d->threshold = threshold;
        d->raw = malloc(n * sizeof *d->raw);
        d->calibrated = malloc(n * sizeof *d->calibrated);
        d->flags = calloc(n, 1);
    }
    if (!d || !d->raw || !d->calibrated || !d->flags) {
        tsa_detection_free(d);
        return tsa_error(TSA_ENOMEM, "detect: out of memory");
    }
    tsa_status rc = tsa_model_score(m, x, d->raw, d->calibrated);
    if (rc != TSA_OK) {
        tsa_detection_free(d);
        return rc;
    }
    for (size_t t = 0; t < n; t++)
        if (d->calibrated[t] > threshold) {
            d->flags[t] = 1;
            d->n_anomalies++;
        }
    d->indices = malloc((d->n_anomalies ? d->n_anomalies : 1) * sizeof *d->indices);
    if (!d->indices) {
        tsa_detection_free(d);
        return tsa_error(TSA_ENOMEM, "detect: out of memory");
    }
    for (size_t t = 0, i = 0; t < n; t++)
        if (d->flags[t])
            d->indices[i++] = t;
    *out = d;
    return TSA_OK;
}

/* ---- introspection ------------------------------------------------------ */

static cJSON *caps_json(unsigned caps)
{
    cJSON *a = cJSON_CreateArray();
    if (caps & TSA_CAP_FORECAST)
        cJSON_AddItemToArray(a, cJSON_CreateString("forecast"));
    if (caps & TSA_CAP_SCORE)
        cJSON_AddItemToArray(a, cJSON_CreateString("score"));
    if (caps & TSA_CAP_MULTIVARIATE)
        cJSON_AddItemToArray(a, cJSON_CreateString("multivariate"));
    if (caps & TSA_CAP_INTERVALS)
        cJSON_AddItemToArray(a, cJSON_CreateString("intervals"));
    if (caps & TSA_CAP_COMPONENTS)
        cJSON_AddItemToArray(a, cJSON_CreateString("components"));
    return a;
}

/* Prints @obj into a malloc'd string for tsa_free() and deletes it. */
static tsa_status emit(cJSON *obj, char **json)
{
    char *s = obj ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    TSA_FAIL_IF(!s, TSA_ENOMEM, "out of memory writing JSON");
    char *copy = strdup(s);
    cJSON_free(s);
    TSA_FAIL_IF(!copy, TSA_ENOMEM, "out of memory writing JSON");
    *json = copy;
    return TSA_OK;
}

TSA_API tsa_status tsa_kind_info_json(const char *kind, char **json)
{
    TSA_FAIL_IF(!kind || !json, TSA_EINVAL, "kind and json: must not be NULL");
    const tsa_kind *k = tsa_kind_find(kind);
    if (!k)
        return unknown_kind(kind);
    cJSON *o = cJSON_CreateObject();
    if (o) {
        cJSON_AddStringToObject(o, "name", k->name);
        cJSON *aliases = cJSON_AddArrayToObject(o, "aliases");
        for (const char *const *a = k->aliases; aliases && a && *a; a++)
            cJSON_AddItemToArray(aliases, cJSON_CreateString(*a));
        cJSON_AddStringToObject(o, "description", k->description);
        cJSON_AddItemToObject(o, "capabilities", caps_json(k->caps));
        cJSON_AddItemToObject(o, "params", tsa_param_specs_json(k->params, k->n_params));
    }
    return emit(o, json);
}

TSA_API tsa_status tsa_model_info_json(const tsa_model *m, char **json)
{
    TSA_FAIL_IF(!m || !json, TSA_EINVAL, "model and json: must not be NULL");
    cJSON *o = cJSON_CreateObject();
    if (!o)
        return tsa_error(TSA_ENOMEM, "out of memory writing JSON");
    cJSON_AddStringToObject(o, "kind", m->kind->name);
    cJSON_AddStringToObject(o, "library_version", TSA_VERSION_STRING);
    cJSON_AddItemToObject(o, "capabilities", caps_json(m->kind->caps));
    cJSON_AddItemToObject(o, "params", tsa_params_cjson(m->params));
    cJSON_AddBoolToObject(o, "fitted", m->fitted);
    if (m->fitted) {
        cJSON_AddNumberToObject(o, "n_features", (double)m->n_features);
        cJSON_AddNumberToObject(o, "n_train", (double)m->n_train);
        cJSON_AddNumberToObject(o, "context_length", (double)tsa_model_context_length(m));
        if (m->has_timestamps) {
            cJSON_AddNumberToObject(o, "last_timestamp", (double)m->last_timestamp);
            cJSON_AddNumberToObject(o, "timestamp_step", (double)m->timestamp_step);
        }
        cJSON *state = cJSON_AddObjectToObject(o, "state");
        if (state && m->kind->info) {
            tsa_status rc = m->kind->info(m, state);
            if (rc != TSA_OK) {
                cJSON_Delete(o);
                return rc;
            }
        }
    }
    return emit(o, json);
}

TSA_API const char *tsa_model_kind(const tsa_model *m) { return m ? m->kind->name : NULL; }

TSA_API int tsa_model_is_fitted(const tsa_model *m) { return m ? m->fitted : 0; }

TSA_API size_t tsa_model_n_features(const tsa_model *m) { return m && m->fitted ? m->n_features : 0; }

TSA_API tsa_status tsa_model_params(const tsa_model *m, tsa_params **out)
{
    TSA_FAIL_IF(!m || !out, TSA_EINVAL, "model and out: must not be NULL");
    *out = NULL;
    return tsa_params_copy(m->params, out);
}
