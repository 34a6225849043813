/* tsa-coordinator: the coordinator agent (MCP and A2A, port 8003). It
 * drives the forecasting (8001) and anomaly (8002) agents over A2A,
 * concurrently, with timeouts and one retry, and merges their answers. */
#include <cjson/cJSON.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_main.h"
#include "httpc.h"
#include "series_json.h"
#include "tools.h"

typedef struct coord {
    tsa_svc *svc;
    char forecasting_url[256];
    char anomaly_url[256];
    int timeout_ms;
} coord;

static cJSON *ensemble_impl(coord *c, const cJSON *args, tsa_svc_error *e);

/* One A2A call, run on its own thread. */
typedef struct a2a_job {
    const char *agent;       /* "forecasting" or "anomaly" */
    const char *url;
    const char *skill;
    cJSON *args;             /* owned */
    int timeout_ms;
    cJSON *result;
    char err[768];
    double seconds;
} a2a_job;

static void *a2a_thread(void *arg)
{
    a2a_job *j = arg;
    double t0 = tsa_now();
    for (int attempt = 0; attempt < 2 && !j->result; attempt++) {
        j->err[0] = '\0';
        j->result = tsa_a2a_call(j->url, j->skill, j->args, j->timeout_ms, j->err, sizeof j->err);
        /* Retry once only when the agent could not be reached. */
        if (j->result || (!strstr(j->err, "cannot connect") && !strstr(j->err, "no answer")))
            break;
    }
    j->seconds = tsa_now() - t0;
    return NULL;
}

static void run_jobs(a2a_job *jobs, size_t n)
{
    pthread_t *th = calloc(n, sizeof *th);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1u << 20);
    for (size_t i = 0; i < n; i++)
        if (pthread_create(&th[i], &attr, a2a_thread, &jobs[i]) != 0)
            a2a_thread(&jobs[i]), th[i] = 0;
    for (size_t i = 0; i < n; i++)
        if (th[i])
            pthread_join(th[i], NULL);
    pthread_attr_destroy(&attr);
    free(th);
}

static cJSON *agent_error(const a2a_job *j)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "agent", j->agent);
    cJSON_AddStringToObject(o, "url", j->url);
    cJSON_AddStringToObject(o, "skill", j->skill);
    cJSON_AddStringToObject(o, "message", j->err);
    return o;
}

/* model_name when the string names no kind, else model_type. */
/* A model type when @model names a kind, else a stored model's name. */
static void add_model(cJSON *args, const char *model)
{
    cJSON_AddStringToObject(args, tsa_kind_capabilities(model) ? "model_type" : "model_name", model);
}

static const char *str_arg(const cJSON *a, const char *k, const char *def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, k);
    return cJSON_IsString(v) ? v->valuestring : def;
}

static double num_arg(const cJSON *a, const char *k, double def)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(a, k);
    return cJSON_IsNumber(v) ? v->valuedouble : def;
}

static void record(coord *c, const char *kind, const cJSON *args, cJSON *out)
{
    tsa_op_result_store(c->svc, kind, args, out);
}

/* Flags forecast steps whose interval is abnormally wide or whose mean
 * leaves the historical range by more than 4 standard deviations. */
static cJSON *forecast_flags(const cJSON *forecast, const tsa_series *hist)
{
    cJSON *flags = cJSON_CreateArray();
    const cJSON *mean = cJSON_GetObjectItemCaseSensitive(forecast, "predictions");
    const cJSON *lo = cJSON_GetObjectItemCaseSensitive(forecast, "lower_bound");
    const cJSON *hi = cJSON_GetObjectItemCaseSensitive(forecast, "upper_bound");
    size_t k = hist->n_features, n = hist->length;
    int h = cJSON_GetArraySize(mean);
    for (size_t j = 0; j < k; j++) {
        double mu = 0, var = 0;
        for (size_t t = 0; t < n; t++)
            mu += hist->values[t * k + j];
        mu /= (double)n;
        for (size_t t = 0; t < n; t++)
            var += (hist->values[t * k + j] - mu) * (hist->values[t * k + j] - mu);
        double sd = n > 1 ? sqrt(var / (double)(n - 1)) : 0;
        double w0 = -1;
        for (int i = 0; i < h; i++) {
            const cJSON *m = cJSON_GetArrayItem(cJSON_GetArrayItem(mean, i), (int)j);
            const cJSON *l = cJSON_GetArrayItem(cJSON_GetArrayItem(lo, i), (int)j);
            const cJSON *u = cJSON_GetArrayItem(cJSON_GetArrayItem(hi, i), (int)j);
            if (!cJSON_IsNumber(m) || !cJSON_IsNumber(l) || !cJSON_IsNumber(u))
                continue;
            double w = u->valuedouble - l->valuedouble;
            if (w0 < 0)
                w0 = w;
            const char *why = NULL;
            if (sd > 0 && fabs(m->valuedouble - mu) > 4 * sd)
                why = "the forecast leaves the historical range (more than 4 standard deviations from the mean)";
            else if (w0 > 0 && w > 3 * w0 * sqrt((double)(i + 1)))
                why = "the prediction interval is abnormally wide";
            if (why) {
                cJSON *f = cJSON_CreateObject();
                cJSON_AddNumberToObject(f, "step", i + 1);
                cJSON_AddNumberToObject(f, "feature", (double)j);
                cJSON_AddStringToObject(f, "reason", why);
                cJSON_AddItemToArray(flags, f);
            }
        }
    }
    return flags;
}

static cJSON *coordinated(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    coord *c = ctx;
    const char *type = str_arg(args, "analysis_type", "forecast_and_detect");
    if (strcmp(type, "forecast_and_detect") && strcmp(type, "ensemble_forecast"))
        return tsa_svc_fail(e, 400, "invalid_field", "analysis_type",
                            "analysis_type: must be forecast_and_detect or ensemble_forecast");
    tsa_owned_series hist;
    char err[512];
    if (tsa_series_from_json(cJSON_GetObjectItemCaseSensitive(args, "data"), "data", &hist, err, sizeof err) != 0)
        return tsa_svc_fail(e, 400, "invalid_field", "data", "%s", err);
    const char *fm = str_arg(args, "forecasting_model", "multivariate");
    const char *am = str_arg(args, "anomaly_model", NULL);
    if (!am)
        am = tsa_default_detector(hist.view.n_features);
    double steps = num_arg(args, "steps_ahead", 10), thr = num_arg(args, "threshold", 0.95);
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(args, "data");
    a2a_job jobs[2];
    memset(jobs, 0, sizeof jobs);
    jobs[0] = (a2a_job){"forecasting", c->forecasting_url, "predict_forecasting", cJSON_CreateObject(), c->timeout_ms, NULL, "", 0};
    add_model(jobs[0].args, fm);
    cJSON_AddItemToObject(jobs[0].args, "data", cJSON_Duplicate(data, 1));
    cJSON_AddNumberToObject(jobs[0].args, "steps_ahead", steps);
    jobs[1] = (a2a_job){"anomaly", c->anomaly_url, "detect_anomalies", cJSON_CreateObject(), c->timeout_ms, NULL, "", 0};
    add_model(jobs[1].args, am);
    cJSON_AddItemToObject(jobs[1].args, "data", cJSON_Duplicate(data, 1));
    cJSON_AddNumberToObject(jobs[1].args, "threshold", thr);
    size_t n_jobs = 2;
    if (!strcmp(type, "ensemble_forecast")) {
        /* Members from "models" (default: the forecasting model alone). */
        cJSON_Delete(jobs[0].args);
        cJSON_Delete(jobs[1].args);
        cJSON *ens = cJSON_Duplicate(args, 1);
        cJSON_DeleteItemFromObjectCaseSensitive(ens, "analysis_type");
        if (!cJSON_GetObjectItemCaseSensitive(ens, "models")) {
            cJSON *models = cJSON_AddArrayToObject(ens, "models");
            cJSON_AddItemToArray(models, cJSON_CreateString(fm));
        }
        tsa_owned_series_free(&hist);
        cJSON *out = ensemble_impl(c, ens, e);
        cJSON_Delete(ens);
        if (out) {
            cJSON_AddStringToObject(out, "analysis_type", "ensemble_forecast");
            record(c, "coordinated", args, out);
        }
        return out;
    }
    run_jobs(jobs, n_jobs);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "analysis_type", "forecast_and_detect");
    cJSON *errors = cJSON_AddArrayToObject(out, "errors");
    cJSON *timing = cJSON_AddObjectToObject(out, "agents");
    for (size_t i = 0; i < n_jobs; i++) {
        cJSON *a = cJSON_AddObjectToObject(timing, jobs[i].agent);
        cJSON_AddStringToObject(a, "url", jobs[i].url);
        cJSON_AddBoolToObject(a, "ok", jobs[i].result != NULL);
        cJSON_AddNumberToObject(a, "seconds", jobs[i].seconds);
        if (!jobs[i].result)
            cJSON_AddItemToArray(errors, agent_error(&jobs[i]));
    }
    if (jobs[0].result) {
        cJSON_AddItemToObject(jobs[0].result, "abnormal_steps", forecast_flags(jobs[0].result, &hist.view));
        cJSON_AddItemToObject(out, "forecast", jobs[0].result);
    }
    if (jobs[1].result)
        cJSON_AddItemToObject(out, "anomalies", jobs[1].result);
    cJSON *sum = cJSON_AddObjectToObject(out, "summary");
    cJSON_AddStringToObject(sum, "forecasting_model", fm);
    cJSON_AddStringToObject(sum, "anomaly_model", am);
    cJSON_AddNumberToObject(sum, "n_points", (double)hist.view.length);
    if (jobs[1].result) {
        const cJSON *s = cJSON_GetObjectItemCaseSensitive(jobs[1].result, "summary");
        const cJSON *na = cJSON_GetObjectItemCaseSensitive(s, "n_anomalies");
        cJSON_AddNumberToObject(sum, "n_anomalies", cJSON_IsNumber(na) ? na->valuedouble : 0);
    }
    if (jobs[0].result)
        cJSON_AddNumberToObject(sum, "n_abnormal_forecast_steps",
                                cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(jobs[0].result, "abnormal_steps")));
    cJSON_AddBoolToObject(out, "partial", !jobs[0].result || !jobs[1].result);
    cJSON_AddStringToObject(out, "executed_by", "coordinator-mcp (A2A to the forecasting and anomaly agents)");
    for (size_t i = 0; i < n_jobs; i++)
        cJSON_Delete(jobs[i].args);
    tsa_owned_series_free(&hist);
    if (!jobs[0].result && !jobs[1].result) {
        char msg[1600];
        snprintf(msg, sizeof msg, "both agents failed: forecasting: %s; anomaly: %s", jobs[0].err, jobs[1].err);
        cJSON_Delete(out);
        return tsa_svc_fail(e, 503, "agents_unavailable", NULL, "%s", msg);
    }
    record(c, "coordinated", args, out);
    return out;
}

static cJSON *ensemble_impl(coord *c, const cJSON *args, tsa_svc_error *e)
{
    const cJSON *models = cJSON_GetObjectItemCaseSensitive(args, "models");
    if (!cJSON_IsArray(models) || cJSON_GetArraySize(models) < 1 || cJSON_GetArraySize(models) > 16)
        return tsa_svc_fail(e, 400, "invalid_field", "models", "models: must be an array of 1 to 16 model names or types");
    const char *method_name = str_arg(args, "ensemble_method", "mean");
    tsa_combine_method method;
    if (tsa_combine_method_from_name(method_name, &method) != TSA_OK)
        return tsa_svc_fail(e, 400, "invalid_field", "ensemble_method", "ensemble_method: must be mean, median or weighted_average");
    size_t n = (size_t)cJSON_GetArraySize(models);
    a2a_job *jobs = calloc(n, sizeof *jobs);
    const cJSON *it;
    size_t i = 0;
    cJSON_ArrayForEach(it, models)
    {
        if (!cJSON_IsString(it)) {
            for (size_t j = 0; j < i; j++)
                cJSON_Delete(jobs[j].args);
            free(jobs);
            return tsa_svc_fail(e, 400, "invalid_field", "models", "models[%zu]: must be a string", i);
        }
        jobs[i].agent = "forecasting";
        jobs[i].url = c->forecasting_url;
        jobs[i].skill = "predict_forecasting";
        jobs[i].timeout_ms = c->timeout_ms;
        jobs[i].args = cJSON_CreateObject();
        add_model(jobs[i].args, it->valuestring);
        cJSON_AddItemToObject(jobs[i].args, "data", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(args, "data"), 1));
        cJSON_AddNumberToObject(jobs[i].args, "steps_ahead", num_arg(args, "steps_ahead", 10));
        i++;
    }
    run_jobs(jobs, n);
    /* Members whose forecast came back in the first good member's shape
     * are combined; the others are reported. */
    tsa_forecast *fcs = calloc(n, sizeof *fcs);
    const tsa_forecast **good = calloc(n, sizeof *good);
    double *w = calloc(n, sizeof *w);
    size_t ok = 0;
    for (i = 0; i < n; i++) {
        char why[160];
        if (!jobs[i].result)
            continue;
        if (tsa_json_forecast_read(jobs[i].result, &fcs[i], why, sizeof why) < 0) {
            snprintf(jobs[i].err, sizeof jobs[i].err, "unreadable forecast: %s", why);
        } else if (ok && (fcs[i].horizon != good[0]->horizon || fcs[i].n_features != good[0]->n_features ||
                          fcs[i].interval != good[0]->interval)) {
            snprintf(jobs[i].err, sizeof jobs[i].err, "forecast shape differs from the other members'");
        } else {
            good[ok++] = &fcs[i];
            continue;
        }
        cJSON_Delete(jobs[i].result);
        jobs[i].result = NULL;
        tsa_json_forecast_clear(&fcs[i]);
    }
    cJSON *out = NULL, *errors = cJSON_CreateArray(), *members = cJSON_CreateArray();
    tsa_forecast *comb = NULL;
    if (ok && tsa_forecast_combine(good, ok, method, NULL, w, &comb) != TSA_OK) {
        tsa_svc_fail(e, 500, "internal", "models", "combining the member forecasts: %s", tsa_last_error());
    } else if (!ok) {
        for (i = 0; i < n; i++)
            cJSON_AddItemToArray(errors, agent_error(&jobs[i]));
        char *etext = cJSON_PrintUnformatted(errors);
        tsa_svc_fail(e, 503, "agents_unavailable", "models", "no member forecast could be obtained: %.600s", etext);
        cJSON_free(etext);
    } else {
        out = cJSON_CreateObject();
        cJSON_AddStringToObject(out, "ensemble_method", method_name);
        tsa_json_add_forecast(out, comb);
        size_t m = 0;
        for (i = 0; i < n; i++) {
            cJSON *mem = cJSON_CreateObject();
            cJSON_AddStringToObject(mem, "model", cJSON_GetArrayItem(models, (int)i)->valuestring);
            if (jobs[i].result) {
                cJSON_AddItemToObject(mem, "predictions", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(jobs[i].result, "predictions"), 1));
                if (method == TSA_COMBINE_WEIGHTED)
                    cJSON_AddNumberToObject(mem, "weight", w[m]);
                m++;
            } else {
                cJSON_AddStringToObject(mem, "error", jobs[i].err);
                cJSON_AddItemToArray(errors, agent_error(&jobs[i]));
            }
            cJSON_AddItemToArray(members, mem);
        }
        cJSON_AddItemToObject(out, "members", members);
        cJSON_AddItemToObject(out, "errors", errors);
        cJSON_AddBoolToObject(out, "partial", ok < n);
        members = errors = NULL;
    }
    cJSON_Delete(errors);
    cJSON_Delete(members);
    tsa_forecast_free(comb);
    for (i = 0; i < n; i++)
        tsa_json_forecast_clear(&fcs[i]);
    free(fcs);
    free(good);
    free(w);
    for (i = 0; i < n; i++) {
        cJSON_Delete(jobs[i].args);
        cJSON_Delete(jobs[i].result);
    }
    free(jobs);
    return out;
}

static cJSON *ensemble(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    cJSON *out = ensemble_impl(ctx, args, e);
    if (out)
        record(ctx, "ensemble", args, out);
    return out;
}

static cJSON *anomaly_aware(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    coord *c = ctx;
    tsa_owned_series s;
    char err[512];
    if (tsa_series_from_json(cJSON_GetObjectItemCaseSensitive(args, "data"), "data", &s, err, sizeof err) != 0)
        return tsa_svc_fail(e, 400, "invalid_field", "data", "%s", err);
    const char *fm = str_arg(args, "forecasting_model", "multivariate");
    const char *am = str_arg(args, "anomaly_model", NULL);
    if (!am) /* as coordinated_analysis */
        am = tsa_default_detector(s.view.n_features);
    double steps = num_arg(args, "steps_ahead", 10), thr = num_arg(args, "threshold", 0.95);
    /* 1. Explain the anomalies (gives the detector's expected values). */
    a2a_job ex = {"anomaly", c->anomaly_url, "explain_anomalies", cJSON_CreateObject(), c->timeout_ms, NULL, "", 0};
    add_model(ex.args, am);
    cJSON_AddItemToObject(ex.args, "data", tsa_json_matrix(s.view.values, s.view.length, s.view.n_features, 0));
    cJSON_AddNumberToObject(ex.args, "threshold", thr);
    run_jobs(&ex, 1);
    cJSON_Delete(ex.args);
    if (!ex.result) {
        tsa_owned_series_free(&s);
        return tsa_svc_fail(e, 503, "agent_unavailable", "anomaly_model", "anomaly agent at %s: %s", ex.url, ex.err);
    }
    /* 2. Replace flagged points by their expected values. */
    size_t k = s.view.n_features, replaced = 0;
    double *clean = malloc(s.view.length * k * sizeof *clean);
    memcpy(clean, s.view.values, s.view.length * k * sizeof *clean);
    const cJSON *x;
    cJSON *repl = cJSON_CreateArray();
    cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(ex.result, "explanations"))
    {
        const cJSON *idx = cJSON_GetObjectItemCaseSensitive(x, "index");
        const cJSON *exp = cJSON_GetObjectItemCaseSensitive(x, "expected");
        if (!cJSON_IsNumber(idx) || !cJSON_IsArray(exp) || (size_t)idx->valuedouble >= s.view.length)
            continue;
        size_t t = (size_t)idx->valuedouble;
        for (size_t j = 0; j < k && j < (size_t)cJSON_GetArraySize(exp); j++)
            clean[t * k + j] = cJSON_GetArrayItem(exp, (int)j)->valuedouble;
        cJSON_AddItemToArray(repl, cJSON_CreateNumber((double)t));
        replaced++;
    }
    /* 3. Forecast from the raw and the cleaned series, concurrently. */
    a2a_job fj[2];
    for (int i = 0; i < 2; i++) {
        fj[i] = (a2a_job){"forecasting", c->forecasting_url, "predict_forecasting", cJSON_CreateObject(), c->timeout_ms, NULL, "", 0};
        add_model(fj[i].args, fm);
        cJSON_AddItemToObject(fj[i].args, "data", tsa_json_matrix(i ? clean : s.view.values, s.view.length, k, 0));
        cJSON_AddNumberToObject(fj[i].args, "steps_ahead", steps);
    }
    run_jobs(fj, 2);
    cJSON *out = NULL;
    if (!fj[0].result || !fj[1].result) {
        tsa_svc_fail(e, 503, "agent_unavailable", "forecasting_model", "forecasting agent at %s: %s", c->forecasting_url,
                     fj[0].result ? fj[1].err : fj[0].err);
        cJSON_Delete(repl);
    } else {
        out = cJSON_CreateObject();
        cJSON_AddNumberToObject(out, "n_replaced", (double)replaced);
        cJSON_AddItemToObject(out, "replaced_indices", repl);
        const cJSON *a = cJSON_GetObjectItemCaseSensitive(fj[0].result, "predictions");
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(fj[1].result, "predictions");
        double diff = 0, maxd = 0;
        int cnt = 0;
        for (int t = 0; t < cJSON_GetArraySize(a); t++)
            for (int j = 0; j < (int)k; j++) {
                double d = fabs(cJSON_GetArrayItem(cJSON_GetArrayItem(a, t), j)->valuedouble -
                                cJSON_GetArrayItem(cJSON_GetArrayItem(b, t), j)->valuedouble);
                diff += d;
                maxd = d > maxd ? d : maxd;
                cnt++;
            }
        cJSON *chg = cJSON_AddObjectToObject(out, "forecast_change");
        cJSON_AddNumberToObject(chg, "mean_abs_change", cnt ? diff / cnt : 0);
        cJSON_AddNumberToObject(chg, "max_abs_change", maxd);
        cJSON_AddItemToObject(out, "forecast", fj[1].result);
        cJSON_AddItemToObject(out, "forecast_without_cleaning", fj[0].result);
        fj[0].result = fj[1].result = NULL;
        cJSON_AddItemToObject(out, "anomalies", ex.result);
        ex.result = NULL;
        record(c, "anomaly_aware_forecast", args, out);
    }
    for (int i = 0; i < 2; i++) {
        cJSON_Delete(fj[i].args);
        cJSON_Delete(fj[i].result);
    }
    cJSON_Delete(ex.result);
    free(clean);
    tsa_owned_series_free(&s);
    return out;
}

static cJSON *agent_info(const char *name, const char *url, int timeout_ms)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "agent", name);
    cJSON_AddStringToObject(o, "url", url);
    char full[512], err[512];
    tsa_http_response r;
    snprintf(full, sizeof full, "%s/.well-known/agent-card.json", url);
    if (tsa_http_request("GET", full, "A2A-Version: 1.0\r\n", NULL, timeout_ms, &r, err, sizeof err) == 0 && r.status == 200) {
        cJSON *card = cJSON_Parse(r.body);
        if (card)
            cJSON_AddItemToObject(o, "card", card);
    } else {
        cJSON_AddStringToObject(o, "card_error", err);
    }
    tsa_http_response_free(&r);
    snprintf(full, sizeof full, "%s/health", url);
    if (tsa_http_request("GET", full, NULL, NULL, timeout_ms, &r, err, sizeof err) == 0) {
        cJSON *h = cJSON_Parse(r.body);
        cJSON_AddBoolToObject(o, "reachable", 1);
        cJSON_AddBoolToObject(o, "healthy", r.status == 200);
        if (h)
            cJSON_AddItemToObject(o, "health", h);
    } else {
        cJSON_AddBoolToObject(o, "reachable", 0);
        cJSON_AddBoolToObject(o, "healthy", 0);
        cJSON_AddStringToObject(o, "error", err);
    }
    tsa_http_response_free(&r);
    return o;
}

static cJSON *list_agents(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)args;
    (void)call;
    (void)e;
    coord *c = ctx;
    cJSON *out = cJSON_CreateObject();
    cJSON *arr = cJSON_AddArrayToObject(out, "agents");
    cJSON_AddItemToArray(arr, agent_info("forecasting", c->forecasting_url, 3000));
    cJSON_AddItemToArray(arr, agent_info("anomaly", c->anomaly_url, 3000));
    return out;
}

static cJSON *system_status(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    coord *c = ctx;
    cJSON *out = list_agents(ctx, args, call, e);
    char err[TSA_STORE_ERR_LEN];
    int64_t n = 0;
    cJSON *st = cJSON_AddObjectToObject(out, "store");
    cJSON_AddStringToObject(st, "backend", tsa_store_backend(c->svc->store));
    cJSON_AddBoolToObject(st, "reachable", tsa_store_ping(c->svc->store, err) == TSA_STORE_OK);
    if (tsa_store_model_count(c->svc->store, NULL, &n, err) == TSA_STORE_OK)
        cJSON_AddNumberToObject(out, "models", (double)n);
    if (tsa_store_job_count(c->svc->store, TSA_JOB_MASK_ACTIVE, &n, err) == TSA_STORE_OK)
        cJSON_AddNumberToObject(out, "active_jobs", (double)n);
    cJSON *kinds = cJSON_AddArrayToObject(out, "model_types");
    for (size_t i = 0; i < tsa_kind_count(); i++)
        cJSON_AddItemToArray(kinds, cJSON_CreateString(tsa_kind_name(i)));
    cJSON_AddStringToObject(out, "version", tsa_version());
    return out;
}

static cJSON *send_message(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    coord *c = ctx;
    const char *agent = str_arg(args, "agent", "");
    const char *url = !strcmp(agent, "forecasting") ? c->forecasting_url : !strcmp(agent, "anomaly") ? c->anomaly_url : NULL;
    if (!url)
        return tsa_svc_fail(e, 400, "invalid_field", "agent", "agent: must be forecasting or anomaly");
    const char *skill = str_arg(args, "skill", NULL);
    cJSON *reply = NULL;
    char err[768] = "";
    if (skill) {
        reply = tsa_a2a_call(url, skill, cJSON_GetObjectItemCaseSensitive(args, "arguments"), c->timeout_ms, err, sizeof err);
    } else {
        /* A text message: the agent answers with a message. */
        cJSON *req = cJSON_CreateObject();
        cJSON_AddStringToObject(req, "jsonrpc", "2.0");
        cJSON_AddStringToObject(req, "id", "1");
        cJSON_AddStringToObject(req, "method", "SendMessage");
        cJSON *msg = cJSON_AddObjectToObject(cJSON_AddObjectToObject(req, "params"), "message");
        char mid[40];
        tsa_uuid(mid);
        cJSON_AddStringToObject(msg, "messageId", mid);
        cJSON_AddStringToObject(msg, "role", "ROLE_USER");
        cJSON *part = cJSON_CreateObject();
        cJSON_AddStringToObject(part, "text", str_arg(args, "text", "hello"));
        cJSON_AddItemToArray(cJSON_AddArrayToObject(msg, "parts"), part);
        char *body = cJSON_PrintUnformatted(req);
        cJSON_Delete(req);
        char full[512];
        snprintf(full, sizeof full, "%s/a2a", url);
        tsa_http_response r;
        char headers[300];
        tsa_a2a_headers(headers, sizeof headers);
        if (tsa_http_request("POST", full, headers, body, c->timeout_ms, &r, err, sizeof err) == 0) {
            cJSON *j = cJSON_Parse(r.body);
            reply = j ? cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(j, "result"), 1) : NULL;
            cJSON_Delete(j);
            if (!reply)
                snprintf(err, sizeof err, "the agent answered HTTP %d without a result", r.status);
        }
        tsa_http_response_free(&r);
        cJSON_free(body);
    }
    if (!reply)
        return tsa_svc_fail(e, 503, "agent_unavailable", "agent", "%s agent at %s: %s", agent, url, err);
    cJSON *out = cJSON_CreateObject();
    cJSON_AddStringToObject(out, "agent", agent);
    cJSON_AddStringToObject(out, "status", "delivered");
    cJSON_AddItemToObject(out, "reply", reply);
    record(c, "agent_message", args, out);
    return out;
}

static cJSON *history_kind(coord *c, const char *kind, const cJSON *args, tsa_svc_error *e)
{
    double limit = num_arg(args, "limit", 20);
    cJSON *list = tsa_op_result_list(c->svc, kind, (size_t)limit, 0, e);
    if (!list)
        return NULL;
    /* Include each stored item in full. */
    cJSON *full = cJSON_CreateArray();
    const cJSON *it;
    cJSON_ArrayForEach(it, cJSON_GetObjectItemCaseSensitive(list, "results"))
    {
        tsa_svc_error e2 = {0};
        cJSON *r = tsa_op_result_get(c->svc, cJSON_GetObjectItemCaseSensitive(it, "result_id")->valuestring, &e2);
        if (r)
            cJSON_AddItemToArray(full, r);
    }
    cJSON *out = cJSON_CreateObject();
    cJSON_AddItemToObject(out, "items", full);
    cJSON_AddNumberToObject(out, "count", cJSON_GetArraySize(full));
    cJSON_Delete(list);
    return out;
}

static cJSON *get_messages(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return history_kind(ctx, "agent_message", args, e);
}

static cJSON *history(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return history_kind(ctx, str_arg(args, "kind", NULL), args, e);
}

#define ANALYSIS_ARGS                                                                                       \
    TSA_S_DATA ", \"forecasting_model\": {\"type\": \"string\", \"description\": \"a stored model name or a " \
               "model type (default multivariate)\"}, \"anomaly_model\": {\"type\": \"string\", \"description\": " \
               "\"a stored model name or a model type (default prophet for one feature, multivariate for " \
               "several)\"}, " TSA_S_STEPS ", " TSA_S_THRESHOLD

static const tsa_tool tools[] = {
    {"coordinated_analysis", "Coordinated analysis",
     "forecast_and_detect: ask the anomaly agent to detect anomalies in the history and the forecasting agent to "
     "forecast ahead (concurrently, over A2A), flag forecast steps whose interval is abnormal, and merge one report; "
     "when an agent is down the report holds the part that could be done and an error naming the agent. "
     "ensemble_forecast: combine several forecasters (see ensemble_forecast).",
     "{\"type\": \"object\", \"properties\": {\"analysis_type\": {\"type\": \"string\", \"enum\": [\"forecast_and_detect\", "
     "\"ensemble_forecast\"], \"default\": \"forecast_and_detect\"}, " ANALYSIS_ARGS ", \"models\": {\"type\": \"array\", "
     "\"items\": {\"type\": \"string\"}}, \"ensemble_method\": {\"type\": \"string\", \"enum\": [\"mean\", \"median\", "
     "\"weighted_average\"]}}, \"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"analysis_type\"], \"properties\": {\"analysis_type\": {\"type\": \"string\"}, "
     "\"forecast\": {\"type\": \"object\"}, \"anomalies\": {\"type\": \"object\"}, \"errors\": {\"type\": \"array\"}, "
     "\"partial\": {\"type\": \"boolean\"}, \"summary\": {\"type\": \"object\"}}}",
     TSA_TOOL_OPEN_WORLD, "coordination,forecasting,anomaly-detection",
     "{\"data\": [[1.0], [1.1]], \"analysis_type\": \"forecast_and_detect\", \"forecasting_model\": \"multivariate\", "
     "\"anomaly_model\": \"hmm\"}",
     coordinated},
    {"ensemble_forecast", "Ensemble forecast",
     "Forecast with several models through the forecasting agent (concurrently) and combine them by mean, median "
     "or weighted_average (weights inverse to the one-step spread each member's interval implies); per-member forecasts are kept.",
     "{\"type\": \"object\", \"properties\": {\"models\": {\"type\": \"array\", \"minItems\": 1, \"maxItems\": 16, "
     "\"items\": {\"type\": \"string\"}}, " TSA_S_DATA ", " TSA_S_STEPS ", \"ensemble_method\": {\"type\": \"string\", "
     "\"enum\": [\"mean\", \"median\", \"weighted_average\"], \"default\": \"mean\"}}, \"required\": [\"models\", \"data\"]}",
     "{\"type\": \"object\", \"required\": [\"predictions\", \"members\"], \"properties\": {\"predictions\": {\"type\": "
     "\"array\"}, \"members\": {\"type\": \"array\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_OPEN_WORLD, "coordination,forecasting,ensemble",
     "{\"models\": [\"multivariate\", \"ets\"], \"data\": [1, 2, 3], \"ensemble_method\": \"median\"}", ensemble},
    {"anomaly_aware_forecast", "Anomaly-aware forecast",
     "Detect anomalies with the anomaly agent, replace them by the detector's expected values, forecast from the "
     "cleaned series, and report how much the forecast changed compared with the raw series.",
     "{\"type\": \"object\", \"properties\": {" ANALYSIS_ARGS "}, \"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"forecast\", \"forecast_change\", \"n_replaced\"], \"properties\": "
     "{\"forecast\": {\"type\": \"object\"}, \"forecast_change\": {\"type\": \"object\"}, \"n_replaced\": {\"type\": \"integer\"}}}",
     TSA_TOOL_OPEN_WORLD, "coordination,forecasting,anomaly-detection", "{\"data\": [1, 2, 9, 4]}", anomaly_aware},
    {"send_agent_message", "Send an A2A message",
     "Send an A2A message to the forecasting or anomaly agent: a skill call (skill + arguments) or text; the "
     "exchange is kept in the store.",
     "{\"type\": \"object\", \"properties\": {\"agent\": {\"type\": \"string\", \"enum\": [\"forecasting\", \"anomaly\"]}, "
     "\"skill\": {\"type\": \"string\"}, \"arguments\": {\"type\": \"object\"}, \"text\": {\"type\": \"string\"}}, "
     "\"required\": [\"agent\"]}",
     "{\"type\": \"object\", \"required\": [\"agent\", \"status\", \"reply\"]}", TSA_TOOL_OPEN_WORLD, "coordination,a2a",
     "{\"agent\": \"forecasting\", \"skill\": \"list_forecasting_models\", \"arguments\": {}}", send_message},
    {"get_agent_messages", "Get A2A messages", "The A2A messages exchanged with the other agents, newest first.",
     "{\"type\": \"object\", \"properties\": {\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000}}, "
     "\"additionalProperties\": false}",
     "{\"type\": \"object\", \"required\": [\"items\", \"count\"]}", TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT,
     "coordination,a2a", "{\"limit\": 10}", get_messages},
    {"get_analysis_history", "Analysis history", "Stored analyses (coordinated, ensemble, anomaly-aware), newest first.",
     "{\"type\": \"object\", \"properties\": {\"limit\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000}, "
     "\"kind\": {\"type\": \"string\"}}, \"additionalProperties\": false}",
     "{\"type\": \"object\", \"required\": [\"items\", \"count\"]}", TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT,
     "coordination,history", "{\"limit\": 10}", history},
    {"list_agents", "List agents", "The forecasting and anomaly agents: their cards and health.",
     "{\"type\": \"object\", \"additionalProperties\": false}", "{\"type\": \"object\", \"required\": [\"agents\"]}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT | TSA_TOOL_OPEN_WORLD, "coordination,discovery", "{}", list_agents},
    {"system_status", "System status", "Health of the agents and the store, model and job counts, model types.",
     "{\"type\": \"object\", \"additionalProperties\": false}", "{\"type\": \"object\", \"required\": [\"agents\", \"store\"]}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT | TSA_TOOL_OPEN_WORLD, "coordination,status", "{}", system_status},
};

static coord the_coord;

static int setup(tsa_svc *svc, tsa_option *opts, size_t n, void **ctx)
{
    the_coord.svc = svc;
    snprintf(the_coord.forecasting_url, sizeof the_coord.forecasting_url, "%s", tsa_config_get(opts, n, "forecasting-url"));
    snprintf(the_coord.anomaly_url, sizeof the_coord.anomaly_url, "%s", tsa_config_get(opts, n, "anomaly-url"));
    /* Trailing slashes would double in URLs. */
    for (char *u = the_coord.forecasting_url; *u; u++)
        if (u[0] == '/' && u[1] == '\0')
            *u = '\0';
    for (char *u = the_coord.anomaly_url; *u; u++)
        if (u[0] == '/' && u[1] == '\0')
            *u = '\0';
    long t;
    char err[200];
    if (tsa_config_int(opts, n, "agent-timeout-ms", 100, 3600000, &t, err, sizeof err) != 0) {
        fprintf(stderr, "tsa-coordinator: %s\n", err);
        return -1;
    }
    the_coord.timeout_ms = (int)t;
    *ctx = &the_coord;
    return 0;
}

static void health(void *ctx, cJSON *out, int *healthy)
{
    coord *c = ctx;
    cJSON *deps = cJSON_AddObjectToObject(out, "dependencies");
    const char *names[] = {"forecasting", "anomaly"};
    const char *urls[] = {c->forecasting_url, c->anomaly_url};
    for (int i = 0; i < 2; i++) {
        char full[512], err[256];
        snprintf(full, sizeof full, "%s/health", urls[i]);
        tsa_http_response r;
        int ok = tsa_http_request("GET", full, NULL, NULL, 2000, &r, err, sizeof err) == 0 && r.status == 200;
        tsa_http_response_free(&r);
        cJSON *d = cJSON_AddObjectToObject(deps, names[i]);
        cJSON_AddStringToObject(d, "url", urls[i]);
        cJSON_AddBoolToObject(d, "reachable", ok);
        if (!ok) {
            cJSON_AddStringToObject(d, "error", err);
            *healthy = 0;
        }
    }
}

int main(int argc, char **argv)
{
    static tsa_option extra[] = {
        {"forecasting-url", "TSA_FORECASTING_URL", "http://127.0.0.1:8001", "the forecasting agent", NULL},
        {"anomaly-url", "TSA_ANOMALY_URL", "http://127.0.0.1:8002", "the anomaly agent", NULL},
        {"agent-timeout-ms", "TSA_AGENT_TIMEOUT_MS", "60000", "timeout of one call to another agent", NULL},
    };
    tsa_agent_program p;
    memset(&p, 0, sizeof p);
    p.service = "coordinator-mcp";
    p.binary = "tsa-coordinator";
    p.port_env = "TSA_COORDINATOR_PORT";
    p.default_port = "8003";
    p.agent.name = "tsa-coordinator";
    p.agent.title = "libtsa coordinator agent";
    p.agent.description = "Coordinates the forecasting and anomaly agents over A2A: combined forecast-and-detect "
                          "reports, ensembles, anomaly-aware forecasts, agent discovery and status";
    p.agent.instructions = "Call coordinated_analysis with data (rows such as [[1.0],[1.1]]), a forecasting_model "
                           "and an anomaly_model (stored names or model types). list_agents and system_status show "
                           "which agents are reachable.";
    p.agent.tools = tools;
    p.agent.n_tools = sizeof tools / sizeof tools[0];
    p.extra = extra;
    p.n_extra = sizeof extra / sizeof extra[0];
    p.setup = setup;
    p.health = health;
    return tsa_agent_main(&p, argc, argv);
}
