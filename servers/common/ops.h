/* The operations every service offers, independent of the protocol: the
 * REST API and the MCP/A2A agents are thin wrappers around these. Each takes
 * a parsed JSON request and returns a JSON result, or NULL with an error
 * that carries the HTTP status, a code, the offending field and a message
 * saying what to fix. Thread-safe: they run on many request threads. */
#ifndef TSA_SERVERS_OPS_H
#define TSA_SERVERS_OPS_H

#include <cjson/cJSON.h>
#include <pthread.h>
#include <tsa/tsa.h>

#include "cache.h"
#include "metrics.h"
#include "redis.h"
#include "store.h"

typedef struct tsa_svc_error {
    int http;            /* 400, 404, 409, 413, 422, 500, 503 */
    char code[40];       /* e.g. "invalid_field", "not_found" */
    char field[64];      /* "" when not about one field */
    char message[768];
} tsa_svc_error;

typedef struct tsa_svc {
    const char *service;       /* for logs and metrics */
    tsa_store *store;
    tsa_metrics *metrics;
    tsa_model_cache *cache;
    int64_t max_epochs;        /* bound on requested epochs */
    int n_workers;             /* training job workers */
    int n_threads;             /* BLAS threads per fit (0 = default) */
    char worker_id[80];
    tsa_redis *redis;          /* shared forecast cache, or NULL */
    int forecast_ttl;          /* seconds a cached forecast lives (0: no cache) */
    int64_t job_stale_ms;      /* a running job without a heartbeat this long is
                                  interrupted by any replica (0: dead pids only) */
    /* job workers */
    pthread_t *workers;
    _Atomic int stopping;
    pthread_mutex_t wake_lock;
    pthread_cond_t wake;
} tsa_svc;

/* Sets @e and returns NULL, for one-line error returns. */
cJSON *tsa_svc_fail(tsa_svc_error *e, int http, const char *code, const char *field,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Maps a libtsa failure (with tsa_last_error()) to an error. */
cJSON *tsa_svc_fail_tsa(tsa_svc_error *e, tsa_status rc, const char *field);
/* Maps a store failure. */
cJSON *tsa_svc_fail_store(tsa_svc_error *e, tsa_store_status st, const char *err, const char *what);
/* {"error": {...}} for an error (protocol layers may reshape it). */
cJSON *tsa_svc_error_json(const tsa_svc_error *e);

/* Progress of a training call, for jobs and MCP progress notifications;
 * returning non-zero cancels. */
typedef int (*tsa_svc_progress_fn)(const tsa_progress *p, void *user);

/* The detector coordinated analyses use when none is named: the robust
 * Prophet-style model for one feature (it fits the seasonality it detects
 * and refits without outliers), VAR's Mahalanobis score for several. */
const char *tsa_default_detector(size_t n_features);

/* POST data/generate. */
cJSON *tsa_op_generate(const cJSON *req, tsa_svc_error *e);
/* Trains and stores a model. @task: "forecasting" or "anomaly". */
cJSON *tsa_op_train(tsa_svc *svc, const cJSON *req, const char *task, const char *owner,
                    tsa_svc_progress_fn progress, void *user, tsa_svc_error *e);
/* Queues a training job; returns {job_id, status, ...}. */
cJSON *tsa_op_train_async(tsa_svc *svc, const cJSON *req, const char *task, const char *owner,
                          tsa_svc_error *e);
/* Forecast with a stored model (model_name) or a model fitted on the data
 * (model_type). */
cJSON *tsa_op_predict(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* Likewise; forecasts of stored models go through the shared cache in
 * Redis when svc->redis is set, keyed by a hash of the model's name, its
 * stored version (updated_ms and file digest), the parsed history, steps
 * and interval, so an overwritten or deleted model is never served from it.
 * @cache (may be NULL) gets "hit", "miss", or NULL when the request was not
 * cacheable or Redis was unavailable. */
cJSON *tsa_op_predict_cached(tsa_svc *svc, const cJSON *req, const char **cache, tsa_svc_error *e);
/* Anomaly detection, likewise. */
cJSON *tsa_op_detect(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* Forecast with several models combined (mean, median, weighted_average). */
cJSON *tsa_op_ensemble(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* Detect anomalies in the history and forecast ahead, in-process. */
cJSON *tsa_op_forecast_and_detect(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);

cJSON *tsa_op_model_list(tsa_svc *svc, const char *task, const char *kind, size_t limit,
                         size_t offset, tsa_svc_error *e);
cJSON *tsa_op_model_get(tsa_svc *svc, const char *name, tsa_svc_error *e);
cJSON *tsa_op_model_delete(tsa_svc *svc, const char *name, const char *actor, tsa_svc_error *e);
cJSON *tsa_op_job_list(tsa_svc *svc, const char *state, size_t limit, size_t offset,
                       tsa_svc_error *e);
cJSON *tsa_op_job_get(tsa_svc *svc, const char *id, tsa_svc_error *e);
cJSON *tsa_op_job_cancel(tsa_svc *svc, const char *id, tsa_svc_error *e);
cJSON *tsa_op_result_list(tsa_svc *svc, const char *kind, size_t limit, size_t offset,
                          tsa_svc_error *e);
cJSON *tsa_op_result_get(tsa_svc *svc, const char *id, tsa_svc_error *e);
/* Stores an analysis result; returns its id in @id (may fail silently: logs). */
void tsa_op_result_store(tsa_svc *svc, const char *kind, const cJSON *req, cJSON *result);
/* The kinds with capabilities and parameters. */
cJSON *tsa_op_kinds(void);

/* Loads a stored model through the cache; release with
 * tsa_model_cache_release(svc->cache, *entry). @meta (may be NULL: then a
 * cached copy costs one indexed read of its version) receives the stored
 * metadata; release it with tsa_store_model_clear. */
cJSON *tsa_op_load_model(tsa_svc *svc, const char *name, tsa_cached_model **entry,
                         tsa_store_model *meta, tsa_svc_error *e);

/* Updates the tsa_models and tsa_jobs gauges from the store. */
void tsa_op_refresh_gauges(tsa_svc *svc);

/* Starts @svc->n_workers training-job workers; stop with tsa_op_workers_stop. */
int tsa_op_workers_start(tsa_svc *svc);
/* Stops the workers: running jobs are canceled at their next progress
 * report and marked interrupted. */
void tsa_op_workers_stop(tsa_svc *svc);

#endif
