/* serve_threads: serve forecasts from one loaded model on several threads.
 *
 *   serve_threads model.tsa [threads] [requests_per_thread] [horizon]
 *
 * Loads a model saved by tsa_model_save_file() (or `tsa fit -o model.tsa`)
 * and lets every thread forecast from it at once, as a server's workers
 * would. A fitted model is read-only for tsa_model_forecast(),
 * tsa_model_score() and tsa_model_detect(): they take a const tsa_model *,
 * keep their scratch memory per call and write nothing into the model, so
 * the threads share it without a lock. Each thread checks that its
 * forecasts equal, bit for bit, the one made before the threads started.
 * Output:
 *
 *   threads=4 requests=400 identical=yes
 *   throughput=12345.6 forecasts/s
 *
 * Build against an installed libtsa:
 *   cc serve_threads.c $(pkg-config --cflags --libs tsa) -pthread -o serve_threads
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tsa/tsa.h>

enum { MAX_THREADS = 256 };

/* What every worker shares: all of it read-only once the threads start. */
typedef struct {
    const tsa_model *model;
    const tsa_forecast *expected;
    size_t requests;
} job;

/* Per-thread result, written only by its own thread. */
typedef struct {
    const job *job;
    pthread_t thread;
    size_t mismatches;
    tsa_status status;
} worker;

static int same_forecast(const tsa_forecast *a, const tsa_forecast *b)
{
    size_t n = a->horizon * a->n_features * sizeof(double);
    return a->horizon == b->horizon && a->n_features == b->n_features &&
           memcmp(a->mean, b->mean, n) == 0 && memcmp(a->lower, b->lower, n) == 0 &&
           memcmp(a->upper, b->upper, n) == 0;
}

static void *serve(void *arg)
{
    worker *w = arg;
    const job *j = w->job;
    for (size_t r = 0; r < j->requests; r++) {
        tsa_forecast *fc = NULL;
        /* NULL history: forecast from the end of the training series. A
         * server would pass each request's recent data instead. */
        w->status = tsa_model_forecast(j->model, NULL, j->expected->horizon,
                                       j->expected->interval, &fc);
        if (w->status != TSA_OK)
            return NULL; /* tsa_last_error() is per thread: read it here if needed */
        w->mismatches += !same_forecast(fc, j->expected);
        tsa_forecast_free(fc);
    }
    return NULL;
}

static double now_s(void)
{
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s model.tsa [threads] [requests_per_thread] [horizon]\n",
                argv[0]);
        return 2;
    }
    size_t n_threads = argc > 2 ? strtoul(argv[2], NULL, 10) : 4;
    size_t requests = argc > 3 ? strtoul(argv[3], NULL, 10) : 100;
    size_t horizon = argc > 4 ? strtoul(argv[4], NULL, 10) : 24;
    if (n_threads < 1 || n_threads > MAX_THREADS) {
        fprintf(stderr, "threads must be in [1, %d]\n", MAX_THREADS);
        return 2;
    }

    tsa_model *model = NULL;
    tsa_forecast *expected = NULL;
    tsa_status rc = tsa_model_load_file(argv[1], &model);
    if (rc == TSA_OK)
        rc = tsa_model_forecast(model, NULL, horizon, 0.95, &expected);
    if (rc != TSA_OK) {
        fprintf(stderr, "%s: %s: %s\n", argv[1], tsa_strerror(rc), tsa_last_error());
        tsa_model_free(model);
        return 1;
    }
    printf("model: %s, %zu feature(s)\n", tsa_model_kind(model), tsa_model_n_features(model));

    job j = {model, expected, requests};
    worker workers[MAX_THREADS];
    size_t started = 0;
    double t0 = now_s();
    for (; started < n_threads; started++) {
        workers[started] = (worker){.job = &j, .status = TSA_OK};
        if (pthread_create(&workers[started].thread, NULL, serve, &workers[started]) != 0) {
            fprintf(stderr, "cannot start thread %zu\n", started);
            break;
        }
    }
    size_t mismatches = 0, done = 0;
    int failed = started < n_threads;
    for (size_t i = 0; i < started; i++) {
        pthread_join(workers[i].thread, NULL);
        mismatches += workers[i].mismatches;
        if (workers[i].status != TSA_OK) {
            fprintf(stderr, "thread %zu: %s\n", i, tsa_strerror(workers[i].status));
            failed = 1;
        } else {
            done += requests;
        }
    }
    double elapsed = now_s() - t0;

    printf("threads=%zu requests=%zu identical=%s\n", started, done,
           mismatches == 0 && !failed ? "yes" : "no");
    printf("throughput=%.1f forecasts/s\n", elapsed > 0 ? (double)done / elapsed : 0.0);
    tsa_forecast_free(expected);
    tsa_model_free(model);
    return failed || mismatches ? 1 : 0;
}
