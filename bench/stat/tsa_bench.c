/* libtsa's side of the statistical benchmarks: fit and forecast one model
 * through the public API, timing each call with a monotonic clock so that
 * process start-up, parsing and output stay outside the numbers.
 *
 *   tsa_bench KIND PARAMS_JSON DATA N_FEATURES HAS_TS REPS HORIZON INTERVAL
 *             OUT_FORECAST OUT_INFO
 *
 * DATA: one row per time step, numbers separated by spaces or commas; with
 * HAS_TS = 1 the first column is the timestamp in seconds. The model is
 * created and fitted REPS times (a fresh model each time, one untimed
 * warm-up first), then the last fit forecasts HORIZON steps REPS times.
 * OUT_FORECAST gets "timestamp mean lower upper" per step and feature
 * (timestamp 0 without timestamps), OUT_INFO the model's info JSON. Prints
 * one JSON object with the wall-clock and the process CPU time of every
 * call: {"fit_s": [...], "fit_cpu_s": [...], "forecast_s": [...],
 * "forecast_cpu_s": [...]}. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tsa/tsa.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const char *what, tsa_status rc)
{
    fprintf(stderr, "tsa_bench: %s: %s: %s\n", what, tsa_status_name(rc), tsa_last_error());
    exit(1);
}

/* Reads rows of ncol numbers; returns the row count. */
static size_t read_rows(const char *path, size_t ncol, double **vals, int64_t **ts, int has_ts)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "tsa_bench: %s: %s\n", path, strerror(errno));
        exit(1);
    }
    size_t cap = 1024, n = 0, nv = ncol - (has_ts ? 1 : 0);
    double *v = malloc(cap * nv * sizeof *v);
    int64_t *t = has_ts ? malloc(cap * sizeof *t) : NULL;
    char *line = NULL;
    size_t len = 0;
    while (getline(&line, &len, f) > 0) {
        char *p = line, *end;
        while (*p == ' ' || *p == '\t')
            p++;
        if (*p == '\n' || *p == '\0' || *p == '#')
            continue;
        if (n == cap) {
            cap *= 2;
            v = realloc(v, cap * nv * sizeof *v);
            if (has_ts)
                t = realloc(t, cap * sizeof *t);
        }
        for (size_t j = 0; j < ncol; j++) {
            while (*p == ' ' || *p == ',' || *p == '\t')
                p++;
            if (has_ts && j == 0) {
                t[n] = strtoll(p, &end, 10);
            } else {
                v[n * nv + j - (has_ts ? 1 : 0)] = strtod(p, &end);
            }
            if (end == p) {
                fprintf(stderr, "tsa_bench: %s: row %zu: expected %zu numbers\n", path, n + 1,
                        ncol);
                exit(1);
            }
            p = end;
        }
        n++;
    }
    free(line);
    fclose(f);
    *vals = v;
    if (ts)
        *ts = t;
    return n;
}

static void print_list(const char *key, const double *x, int n)
{
    printf("\"%s\": [", key);
    for (int i = 0; i < n; i++)
        printf("%s%.9g", i ? ", " : "", x[i]);
    printf("]");
}

int main(int argc, char **argv)
{
    if (argc != 11) {
        fprintf(stderr, "usage: tsa_bench KIND PARAMS_JSON DATA N_FEATURES HAS_TS REPS HORIZON "
                        "INTERVAL OUT_FORECAST OUT_INFO\n");
        return 2;
    }
    const char *kind = argv[1], *pjson = argv[2], *data = argv[3];
    size_t nf = strtoul(argv[4], NULL, 10);
    int has_ts = atoi(argv[5]), reps = atoi(argv[6]);
    size_t horizon = strtoul(argv[7], NULL, 10);
    double interval = strtod(argv[8], NULL);
    if (nf < 1 || reps < 1 || horizon < 1)
        return 2;

    double *vals;
    int64_t *ts = NULL;
    size_t n = read_rows(data, nf + (has_ts ? 1 : 0), &vals, &ts, has_ts);
    tsa_series s = tsa_series_view(vals, n, nf);
    s.timestamps = ts;

    tsa_params *params;
    tsa_status rc = tsa_params_from_json(pjson, &params);
    if (rc)
        die("params", rc);
    tsa_fit_options fo;
    tsa_fit_options_init(&fo);

    /* wall and CPU seconds: fit, fit CPU, forecast, forecast CPU (reps each) */
    double *secs = malloc(4 * (size_t)reps * sizeof *secs);
    double *fit_s = secs, *fit_c = secs + reps, *fc_s = secs + 2 * reps, *fc_c = secs + 3 * reps;
    tsa_model *m = NULL;
    for (int r = -1; r < reps; r++) {
        tsa_model_free(m);
        if ((rc = tsa_model_create(kind, params, &m)))
            die("create", rc);
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
        rc = tsa_model_fit(m, &s, &fo);
        double t1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (rc)
            die("fit", rc);
        if (r >= 0) {
            fit_s[r] = t1 - t0;
            fit_c[r] = c1 - c0;
        }
    }
    tsa_forecast *fc = NULL;
    for (int r = -1; r < reps; r++) {
        tsa_forecast_free(fc);
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
        rc = tsa_model_forecast(m, NULL, horizon, interval, &fc);
        double t1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (rc)
            die("forecast", rc);
        if (r >= 0) {
            fc_s[r] = t1 - t0;
            fc_c[r] = c1 - c0;
        }
    }

    FILE *f = fopen(argv[9], "w");
    if (!f)
        return 1;
    for (size_t h = 0; h < fc->horizon; h++)
        for (size_t j = 0; j < fc->n_features; j++) {
            size_t i = h * fc->n_features + j;
            fprintf(f, "%lld %.17g %.17g %.17g\n",
                    (long long)(fc->timestamps ? fc->timestamps[h] : 0), fc->mean[i],
                    fc->lower[i], fc->upper[i]);
        }
    fclose(f);
    char *info;
    if ((rc = tsa_model_info_json(m, &info)))
        die("info", rc);
    f = fopen(argv[10], "w");
    if (!f)
        return 1;
    fputs(info, f);
    fclose(f);
    tsa_free(info);

    printf("{");
    print_list("fit_s", fit_s, reps);
    printf(", ");
    print_list("fit_cpu_s", fit_c, reps);
    printf(", ");
    print_list("forecast_s", fc_s, reps);
    printf(", ");
    print_list("forecast_cpu_s", fc_c, reps);
    printf(", \"n\": %zu, \"library\": \"%s\"}\n", n, tsa_version());

    tsa_forecast_free(fc);
    tsa_model_free(m);
    tsa_params_free(params);
    free(secs);
    free(vals);
    free(ts);
    return 0;
}
