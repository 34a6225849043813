/* tsa-api: the REST API (port 5001, prefix /api/v1). Thin: parse, call the
 * shared operations (servers/common/ops.c), serialise. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tsa/tsa.h>
#include <unistd.h>

#include "cache.h"
#include "auth.h"
#include "config.h"
#include "http.h"
#include "httpc.h"
#include "series_json.h"
#include "metrics.h"
#include "ops.h"
#include "ratelimit.h"
#include "redis.h"
#include "store.h"

#define SERVICE "rest-api"

/* OpenBLAS (declared here: its cblas.h clashes with GSL's in some builds). */
void openblas_set_num_threads(int num_threads);

extern const char tsa_api_openapi_json[];

typedef struct api {
    tsa_svc svc;
    double started;
    const char *coordinator_url;
} api;

static void reply(tsa_http_req *r, int ok_status, cJSON *out, const tsa_svc_error *e)
{
    if (out) {
        tsa_http_send_json(r, ok_status, out);
        return;
    }
    tsa_http_send_error(r, e->http ? e->http : 500, *e->code ? e->code : "internal",
                        *e->field ? e->field : NULL, "%s", e->message);
}

static size_t query_size(tsa_http_req *r, const char *name, size_t def, size_t max, int *bad)
{
    char buf[32];
    if (!tsa_http_query(r, name, buf, sizeof buf))
        return def;
    char *end;
    long v = strtol(buf, &end, 10);
    if (*end || v < 0 || (size_t)v > max) {
        tsa_http_send_error(r, 400, "invalid_field", name, "%s: must be an integer in [0, %zu]", name, max);
        *bad = 1;
        return def;
    }
    return (size_t)v;
}

static void h_health(tsa_http_req *r, void *user)
{
    api *a = user;
    char err[TSA_STORE_ERR_LEN];
    int store_ok = tsa_store_ping(a->svc.store, err) == TSA_STORE_OK;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", store_ok ? "healthy" : "degraded");
    cJSON_AddStringToObject(o, "service", SERVICE);
    cJSON_AddStringToObject(o, "version", tsa_version());
    cJSON_AddNumberToObject(o, "uptime_seconds", tsa_now() - a->started);
    cJSON *st = cJSON_AddObjectToObject(o, "store");
    cJSON_AddStringToObject(st, "backend", tsa_store_backend(a->svc.store));
    cJSON_AddBoolToObject(st, "reachable", store_ok);
    if (!store_ok)
        cJSON_AddStringToObject(st, "error", err);
    /* Redis is optional: down means no shared cache, not unhealthy. */
    cJSON_AddStringToObject(o, "redis", tsa_redis_check(a->svc.redis));
    cJSON *kinds = cJSON_AddArrayToObject(o, "model_types");
    for (size_t i = 0; i < tsa_kind_count(); i++)
        cJSON_AddItemToArray(kinds, cJSON_CreateString(tsa_kind_name(i)));
    tsa_http_send_json(r, store_ok ? 200 : 503, o);
}

static void h_metrics(tsa_http_req *r, void *user)
{
    api *a = user;
    tsa_op_refresh_gauges(&a->svc);
    char *text = tsa_metrics_render(a->svc.metrics);
    tsa_http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text ? text : "",
                  text ? strlen(text) : 0);
    free(text);
}

static void h_index(tsa_http_req *r, void *user)
{
    (void)user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "service", SERVICE);
    cJSON_AddStringToObject(o, "version", tsa_version());
    cJSON_AddStringToObject(o, "api", "/api/v1");
    cJSON_AddStringToObject(o, "openapi", "/api/v1/openapi.json");
    cJSON_AddStringToObject(o, "health", "/api/v1/health");
    tsa_http_send_json(r, 200, o);
}

static void h_openapi(tsa_http_req *r, void *user)
{
    (void)user;
    tsa_http_send(r, 200, "application/json", NULL, tsa_api_openapi_json, strlen(tsa_api_openapi_json));
}

static void h_model_types(tsa_http_req *r, void *user)
{
    (void)user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "model_types", tsa_op_kinds());
    tsa_http_send_json(r, 200, o);
}

static void h_generate(tsa_http_req *r, void *user)
{
    (void)user;
    cJSON *req = tsa_http_parse_json(r);
    if (!req)
        return;
    tsa_svc_error e = {0};
    cJSON *out = tsa_op_generate(req, &e);
    cJSON_Delete(req);
    reply(r, 200, out, &e);
}

static void train(tsa_http_req *r, api *a, const char *task)
{
    cJSON *req = tsa_http_parse_json(r);
    if (!req)
        return;
    tsa_svc_error e = {0};
    const cJSON *async = cJSON_GetObjectItemCaseSensitive(req, "async");
    cJSON *out;
    if (cJSON_IsTrue(async)) {
        out = tsa_op_train_async(&a->svc, req, task, *r->actor ? r->actor : NULL, &e);
        cJSON_Delete(req);
        reply(r, 202, out, &e);
        return;
    }
    out = tsa_op_train(&a->svc, req, task, *r->actor ? r->actor : NULL, NULL, NULL, &e);
    cJSON_Delete(req);
    reply(r, 201, out, &e);
}

static void h_train_forecasting(tsa_http_req *r, void *user) { train(r, user, "forecasting"); }
static void h_train_anomaly(tsa_http_req *r, void *user) { train(r, user, "anomaly"); }

typedef cJSON *(*op_fn)(tsa_svc *, const cJSON *, tsa_svc_error *);

static void run_op(tsa_http_req *r, api *a, op_fn fn, const char *store_kind)
{
    cJSON *req = tsa_http_parse_json(r);
    if (!req)
        return;
    tsa_svc_error e = {0};
    cJSON *out = fn(&a->svc, req, &e);
    if (out && store_kind)
        tsa_op_result_store(&a->svc, store_kind, req, out);
    cJSON_Delete(req);
    reply(r, 200, out, &e);
}

static void h_predict(tsa_http_req *r, void *user)
{
    api *a = user;
    cJSON *req = tsa_http_parse_json(r);
    if (!req)
        return;
    tsa_svc_error e = {0};
    const char *cache = NULL;
    cJSON *out = tsa_op_predict_cached(&a->svc, req, &cache, &e);
    cJSON_Delete(req);
    if (!out) {
        reply(r, 200, NULL, &e);
        return;
    }
    /* Whether the shared cache answered, in a header: the body keeps its shape. */
    char hdr[32];
    snprintf(hdr, sizeof hdr, "X-Cache: %s\r\n", cache ? (!strcmp(cache, "hit") ? "HIT" : "MISS") : "");
    tsa_http_send_json_headers(r, 200, out, cache ? hdr : NULL);
}
static void h_detect(tsa_http_req *r, void *user) { run_op(r, user, tsa_op_detect, NULL); }
static void h_ensemble(tsa_http_req *r, void *user) { run_op(r, user, tsa_op_ensemble, "ensemble"); }

static void h_coordinated(tsa_http_req *r, void *user)
{
    api *a = user;
    cJSON *req = tsa_http_parse_json(r);
    if (!req)
        return;
    tsa_svc_error e = {0};
    const char *type = "forecast_and_detect";
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(req, "analysis_type");
    if (t && !cJSON_IsNull(t)) {
        if (!cJSON_IsString(t)) {
            cJSON_Delete(req);
            tsa_http_send_error(r, 400, "invalid_field", "analysis_type", "analysis_type: must be a string");
            return;
        }
        type = t->valuestring;
    }
    if (strcmp(type, "forecast_and_detect") && strcmp(type, "ensemble_forecast")) {
        cJSON_Delete(req);
        tsa_http_send_error(r, 400, "invalid_field", "analysis_type",
                            "analysis_type: must be forecast_and_detect or ensemble_forecast");
        return;
    }
    /* Check the data here so bad input gets a 400 whoever runs the analysis. */
    tsa_owned_series check;
    char err[512];
    const cJSON *data = cJSON_GetObjectItemCaseSensitive(req, "data");
    if (!data) {
        cJSON_Delete(req);
        tsa_http_send_error(r, 400, "missing_field", "data", "data: is required");
        return;
    }
    if (tsa_series_from_json(data, "data", &check, err, sizeof err) != 0) {
        cJSON_Delete(req);
        tsa_http_send_error(r, 400, "invalid_field", "data", "%s", err);
        return;
    }
    tsa_owned_series_free(&check);

    /* The coordinator agent runs it (over A2A); in-process when it is down. */
    char aerr[1024] = "";
    cJSON *out = tsa_a2a_call(a->coordinator_url, "coordinated_analysis", req, 120000, aerr, sizeof aerr);
    if (out) {
        char by[400];
        const cJSON *eb = cJSON_GetObjectItemCaseSensitive(out, "executed_by");
        snprintf(by, sizeof by, "coordinator-mcp at %s%s%s", a->coordinator_url, cJSON_IsString(eb) ? ": " : "",
                 cJSON_IsString(eb) ? eb->valuestring : "");
        cJSON_DeleteItemFromObjectCaseSensitive(out, "executed_by");
        cJSON_AddStringToObject(out, "executed_by", by);
        cJSON_Delete(req);
        tsa_http_send_json(r, 200, out);
        return;
    }
    int unreachable = strstr(aerr, "cannot connect") || strstr(aerr, "no answer") || strstr(aerr, "resolve");
    if (!unreachable) {
        /* The coordinator ran it and it failed: report its reason. */
        cJSON_Delete(req);
        tsa_http_send_error(r, 422, "analysis_failed", NULL, "%s", aerr);
        return;
    }
    if (!strcmp(type, "forecast_and_detect")) {
        out = tsa_op_forecast_and_detect(&a->svc, req, &e);
    } else {
        cJSON *copy = cJSON_Duplicate(req, 1);
        if (!cJSON_GetObjectItemCaseSensitive(copy, "models")) {
            cJSON *models = cJSON_AddArrayToObject(copy, "models");
            const cJSON *f = cJSON_GetObjectItemCaseSensitive(req, "forecasting_model");
            cJSON_AddItemToArray(models, cJSON_CreateString(cJSON_IsString(f) ? f->valuestring : "multivariate"));
        }
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "analysis_type");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "forecasting_model");
        cJSON_DeleteItemFromObjectCaseSensitive(copy, "anomaly_model");
        out = tsa_op_ensemble(&a->svc, copy, &e);
        if (out)
            cJSON_AddStringToObject(out, "analysis_type", "ensemble_forecast");
        cJSON_Delete(copy);
    }
    if (out) {
        char by[1400];
        snprintf(by, sizeof by, "%s (in-process: the coordinator agent at %s is unreachable: %s)", SERVICE,
                 a->coordinator_url, aerr);
        cJSON_AddStringToObject(out, "executed_by", by);
        tsa_op_result_store(&a->svc, "coordinated", req, out);
    }
    cJSON_Delete(req);
    reply(r, 200, out, &e);
}

static void h_models(tsa_http_req *r, void *user)
{
    api *a = user;
    int bad = 0;
    size_t limit = query_size(r, "limit", 100, 1000, &bad);
    size_t offset = bad ? 0 : query_size(r, "offset", 0, (size_t)1 << 40, &bad);
    if (bad)
        return;
    char task[32], kind[64];
    const char *t = tsa_http_query(r, "task", task, sizeof task);
    if (t && strcmp(t, "forecasting") && strcmp(t, "anomaly")) {
        tsa_http_send_error(r, 400, "invalid_field", "task", "task: must be forecasting or anomaly");
        return;
    }
    const char *k = tsa_http_query(r, "model_type", kind, sizeof kind);
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_model_list(&a->svc, t, k, limit, offset, &e), &e);
}

static void h_model_get(tsa_http_req *r, void *user)
{
    api *a = user;
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_model_get(&a->svc, tsa_http_param(r, "name"), &e), &e);
}

static void h_model_delete(tsa_http_req *r, void *user)
{
    api *a = user;
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_model_delete(&a->svc, tsa_http_param(r, "name"), *r->actor ? r->actor : NULL, &e), &e);
}

static void h_jobs(tsa_http_req *r, void *user)
{
    api *a = user;
    int bad = 0;
    size_t limit = query_size(r, "limit", 100, 1000, &bad);
    size_t offset = bad ? 0 : query_size(r, "offset", 0, (size_t)1 << 40, &bad);
    if (bad)
        return;
    char state[32];
    const char *s = tsa_http_query(r, "state", state, sizeof state);
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_job_list(&a->svc, s, limit, offset, &e), &e);
}

static void h_job_get(tsa_http_req *r, void *user)
{
    api *a = user;
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_job_get(&a->svc, tsa_http_param(r, "id"), &e), &e);
}

static void h_job_cancel(tsa_http_req *r, void *user)
{
    api *a = user;
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_job_cancel(&a->svc, tsa_http_param(r, "id"), &e), &e);
}

static void h_results(tsa_http_req *r, void *user)
{
    api *a = user;
    int bad = 0;
    size_t limit = query_size(r, "limit", 100, 1000, &bad);
    size_t offset = bad ? 0 : query_size(r, "offset", 0, (size_t)1 << 40, &bad);
    if (bad)
        return;
    char kind[32];
    const char *k = tsa_http_query(r, "kind", kind, sizeof kind);
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_result_list(&a->svc, k, limit, offset, &e), &e);
}

static void h_result_get(tsa_http_req *r, void *user)
{
    api *a = user;
    tsa_svc_error e = {0};
    reply(r, 200, tsa_op_result_get(&a->svc, tsa_http_param(r, "id"), &e), &e);
}

int main(int argc, char **argv)
{
    tsa_option opts[] = {
        {"host", "TSA_HOST", "127.0.0.1", "address to listen on", NULL},
        {"port", "TSA_API_PORT", "5001", "port to listen on (0 picks a free one)", NULL},
        {"store", "TSA_DATABASE_URL", "sqlite:var/tsa.db", "sqlite:PATH or postgresql://...", NULL},
        {"threads", "TSA_THREADS", "16", "HTTP worker threads", NULL},
        {"workers", "TSA_TRAIN_WORKERS", "2", "training job workers", NULL},
        {"blas-threads", "TSA_BLAS_THREADS", "1", "OpenBLAS threads (requests already run in parallel)", NULL},
        {"max-body", "TSA_MAX_BODY", "33554432", "largest request body in bytes", NULL},
        {"max-epochs", "TSA_MAX_EPOCHS", "10000", "largest epochs a request may ask for", NULL},
        {"job-stale-after", "TSA_JOB_STALE_AFTER", "60",
         "seconds without a heartbeat after which any replica interrupts a running job (0: only "
         "jobs of dead processes on this host)", NULL},
        {"cache-bytes", "TSA_CACHE_BYTES", "268435456", "memory for cached models", NULL},
        {"cors-origins", "TSA_CORS_ORIGINS", "", "comma-separated origins allowed by CORS, or *", NULL},
        {"coordinator-url", "TSA_COORDINATOR_URL", "http://127.0.0.1:8003", "the coordinator agent", NULL},
        {"log-level", "TSA_LOG_LEVEL", "info", "debug, info, warn or error", NULL},
        {"port-file", "TSA_PORT_FILE", "", "write the bound port to this file", NULL},
        TSA_AUTH_OPTIONS,
        TSA_SHARED_OPTIONS,
    };
    const size_t n_opts = sizeof opts / sizeof opts[0];
    char err[512];
    /* --rekey takes no value: taken out before the options are parsed. */
    int rekey = 0, kept = 1;
    for (int k = 1; k < argc; k++) {
        if (!strcmp(argv[k], "--rekey"))
            rekey = 1;
        else
            argv[kept++] = argv[k];
    }
    argc = kept;
    int prc = tsa_config_parse(opts, n_opts, argc, argv,
                               "tsa-api [options]\n       tsa-api --rekey [--store URL]  (re-encrypt "
                               "stored rows under TSA_ENCRYPTION_KEY, then exit)",
                               err, sizeof err);
    if (prc == 1)
        return 0;
    long port, threads, workers, blas, max_body, max_epochs, cache_bytes, stale_after;
    if (prc < 0 || tsa_config_int(opts, n_opts, "port", 0, 65535, &port, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "threads", 1, 1024, &threads, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "workers", 0, 64, &workers, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "blas-threads", 0, 256, &blas, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "max-body", 1024, 1L << 31, &max_body, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "max-epochs", 1, 100000, &max_epochs, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "job-stale-after", 0, 86400, &stale_after, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "cache-bytes", 0, 1L << 40, &cache_bytes, err, sizeof err)) {
        fprintf(stderr, "tsa-api: %s\n", err);
        return 2;
    }
    tsa_signals_block();
    /* Requests run concurrently on their own threads: one BLAS thread each
     * unless asked otherwise. */
    openblas_set_num_threads(blas > 0 ? (int)blas : 1);
    tsa_log_set_level(tsa_config_get(opts, n_opts, "log-level"));

    api a;
    memset(&a, 0, sizeof a);
    a.started = tsa_now();
    a.coordinator_url = tsa_config_get(opts, n_opts, "coordinator-url");
    a.svc.service = SERVICE;
    a.svc.max_epochs = max_epochs;
    a.svc.n_workers = (int)workers;
    a.svc.job_stale_ms = (int64_t)stale_after * 1000;
    a.svc.n_threads = (int)blas;
    a.svc.metrics = tsa_metrics_create(SERVICE);
    a.svc.cache = tsa_model_cache_create((size_t)cache_bytes);
    char serr[TSA_STORE_ERR_LEN];
    const char *url = tsa_config_get(opts, n_opts, "store");
    tsa_store_status st = tsa_store_open(url, NULL, &a.svc.store, serr);
    if (st != TSA_STORE_OK) {
        fprintf(stderr, "tsa-api: cannot open the store %s: %s\n", url, serr);
        tsa_model_cache_free(a.svc.cache);
        tsa_metrics_free(a.svc.metrics);
        return 1;
    }
    char key_id[17] = "";
    int encrypted = tsa_store_encrypted(a.svc.store, key_id);
    if (rekey) {
        tsa_store_rekey_stats rs;
        st = tsa_store_rekey(a.svc.store, &rs, serr);
        if (st == TSA_STORE_OK)
            printf("re-encrypted under key id %s: %lld models, %lld job requests, %lld results "
                   "(%lld rows were already)\n",
                   key_id, (long long)rs.models, (long long)rs.jobs, (long long)rs.results,
                   (long long)rs.unchanged);
        else
            fprintf(stderr, "tsa-api: --rekey: %s\n", serr);
        tsa_store_close(a.svc.store);
        tsa_model_cache_free(a.svc.cache);
        tsa_metrics_free(a.svc.metrics);
        return st == TSA_STORE_OK ? 0 : 1;
    }
    int64_t recovered = 0;
    tsa_store_job_recover(a.svc.store, a.svc.job_stale_ms, &recovered, serr);

    tsa_http_config hc = {0};
    hc.service = SERVICE;
    hc.host = tsa_config_get(opts, n_opts, "host");
    hc.port = (int)port;
    hc.threads = (int)threads;
    hc.max_body = (size_t)max_body;
    hc.cors_origins = tsa_config_get(opts, n_opts, "cors-origins");
    hc.metrics = a.svc.metrics;
    hc.log_requests = 1;
    if (tsa_shared_setup(opts, n_opts, &a.svc, &hc, err, sizeof err) != 0) {
        fprintf(stderr, "tsa-api: %s\n", err);
        tsa_store_close(a.svc.store);
        tsa_model_cache_free(a.svc.cache);
        tsa_metrics_free(a.svc.metrics);
        return 2;
    }
    int arc = tsa_auth_setup("tsa-api", opts, n_opts, a.svc.store, &hc, err, sizeof err);
    if (arc != 0) {
        tsa_shared_teardown(&a.svc, &hc);
        if (arc < 0)
            fprintf(stderr, "tsa-api: %s\n", err);
        tsa_store_close(a.svc.store);
        tsa_model_cache_free(a.svc.cache);
        tsa_metrics_free(a.svc.metrics);
        return arc < 0 ? 1 : 0;
    }
    tsa_http_server *srv;
    tsa_http_create(&hc, &srv);
    /* The least role each route needs when API keys are on (NULL: public). */
    static const struct {
        const char *method, *pattern, *role;
        tsa_http_handler fn;
    } routes[] = {
        {"GET", "/", NULL, h_index},
        {"GET", "/health", NULL, h_health},
        {"GET", "/metrics", NULL, h_metrics},
        {"GET", "/api/v1/health", NULL, h_health},
        {"GET", "/api/v1/openapi.json", NULL, h_openapi},
        {"GET", "/api/v1/model_types", "viewer", h_model_types},
        {"POST", "/api/v1/data/generate", "viewer", h_generate},
        {"POST", "/api/v1/models/forecasting/train", "trainer", h_train_forecasting},
        {"POST", "/api/v1/models/anomaly/train", "trainer", h_train_anomaly},
        {"POST", "/api/v1/predict", "viewer", h_predict},
        {"POST", "/api/v1/predict/ensemble", "viewer", h_ensemble},
        {"POST", "/api/v1/detect_anomalies", "viewer", h_detect},
        {"POST", "/api/v1/analysis/coordinated", "viewer", h_coordinated},
        {"GET", "/api/v1/models", "viewer", h_models},
        {"GET", "/api/v1/models/{name}", "viewer", h_model_get},
        {"DELETE", "/api/v1/models/{name}", "trainer", h_model_delete},
        {"GET", "/api/v1/jobs", "viewer", h_jobs},
        {"GET", "/api/v1/jobs/{id}", "viewer", h_job_get},
        {"DELETE", "/api/v1/jobs/{id}", "trainer", h_job_cancel},
        {"GET", "/api/v1/results", "viewer", h_results},
        {"GET", "/api/v1/results/{id}", "viewer", h_result_get},
    };
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++)
        tsa_http_route_role(srv, routes[i].method, routes[i].pattern, routes[i].role, routes[i].fn, &a);
    if (tsa_http_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "tsa-api: %s\n", err);
        tsa_http_destroy(srv);
        tsa_store_close(a.svc.store);
        tsa_model_cache_free(a.svc.cache);
        tsa_metrics_free(a.svc.metrics);
        return 1;
    }
    if (tsa_op_workers_start(&a.svc) != 0) {
        fprintf(stderr, "tsa-api: cannot start training workers\n");
        return 1;
    }
    const char *port_file = tsa_config_get(opts, n_opts, "port-file");
    if (port_file && *port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", tsa_http_port(srv));
            fclose(f);
        }
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "port", tsa_http_port(srv));
    cJSON_AddStringToObject(f, "store", tsa_store_backend(a.svc.store));
    cJSON_AddStringToObject(f, "encryption_key_id", encrypted ? key_id : "off");
    cJSON_AddNumberToObject(f, "recovered_jobs", (double)recovered);
    cJSON_AddStringToObject(f, "version", tsa_version());
    cJSON_AddStringToObject(f, "redis", tsa_redis_state(a.svc.redis));
    cJSON_AddBoolToObject(f, "rate_limit", hc.ratelimit != NULL);
    tsa_log(SERVICE, "info", "listening", f);

    int sig = tsa_signals_wait();
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "signal", sig);
    tsa_log(SERVICE, "info", "shutting down", g);
    tsa_http_destroy(srv);       /* in-flight requests finish */
    tsa_op_workers_stop(&a.svc); /* running jobs end as interrupted */
    tsa_model_cache_free(a.svc.cache);
    tsa_store_close(a.svc.store);
    tsa_shared_teardown(&a.svc, &hc);
    tsa_metrics_free(a.svc.metrics);
    tsa_log(SERVICE, "info", "stopped", NULL);
    return 0;
}
