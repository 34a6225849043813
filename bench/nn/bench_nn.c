/* libtsa's side of the neural benchmarks (see README.md), through the public
 * API and the shared library only.
 *
 *   bench_nn gen OUT.csv               writes the series both sides train on
 *   bench_nn run W1|W2|W3 DATA.csv [THREADS] [EPOCHS] [SEED]
 *
 * "run" fits the workload's model on DATA.csv for EPOCHS epochs (default 6:
 * one warm-up, five timed) with THREADS threads (default 1) and seed SEED
 * (default 42), then times single-window forecasts and batched scoring, and
 * prints one JSON object on stdout.
 *
 *   bench_nn fit W1|W2|W3 DATA.csv [THREADS] [EPOCHS] [SEED]
 *
 * only fits and prints the validation losses (extra seeds for the
 * comparison of validation errors).
 *
 *   bench_nn profile W1|W2|W3 DATA.csv fit|forecast|score N
 *
 * runs one phase alone for a profiler: N epochs of fitting, or a one-epoch
 * fit followed by N single-window forecasts or N scorings of DATA.csv. */
#define _GNU_SOURCE
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <tsa/tsa.h>

#define MAX_EPOCHS 64
#define LATENCY_CALLS 1000
#define SCORE_REPS 5

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *x, size_t n)
{
    qsort(x, n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static void die(const char *what, tsa_status rc)
{
    fprintf(stderr, "bench_nn: %s: %s (%s)\n", what, tsa_status_name(rc), tsa_last_error());
    exit(1);
}

#define CHECK(what, call)                                                                          \
    do {                                                                                           \
        tsa_status rc_ = (call);                                                                   \
        if (rc_ != TSA_OK)                                                                         \
            die(what, rc_);                                                                        \
    } while (0)

/* Peak resident set in MiB: VmHWM when /proc has it, else ru_maxrss. */
static double peak_rss_mib(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    if (kb < 0) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        kb = ru.ru_maxrss;
    }
    return (double)kb / 1024.0;
}

static int gen(const char *path)
{
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    o.n_samples = 10000;
    o.n_features = 1;
    o.trend = 1;
    o.seasonality = 1;
    o.n_periods = 1;
    o.periods[0] = 24.0;
    o.noise_level = 0.1;
    o.n_anomalies = 0;
    tsa_generated *g = NULL;
    CHECK("generate", tsa_generate(&o, &g));
    FILE *f = fopen(path, "w");
    if (!f) {
        perror(path);
        return 1;
    }
    fprintf(f, "value\n");
    for (size_t t = 0; t < g->length; t++)
        fprintf(f, "%.17g\n", g->values[t]);
    int bad = fclose(f) != 0;
    tsa_generated_free(g);
    return bad;
}

static double *read_csv(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        exit(1);
    }
    size_t cap = 1024, len = 0;
    double *x = malloc(cap * sizeof *x);
    char line[128];
    if (!x || !fgets(line, sizeof line, f)) /* the header */
        exit(1);
    while (fgets(line, sizeof line, f)) {
        if (len == cap) {
            cap *= 2;
            x = realloc(x, cap * sizeof *x);
            if (!x)
                exit(1);
        }
        x[len++] = strtod(line, NULL);
    }
    fclose(f);
    *n = len;
    return x;
}

typedef struct epoch_log {
    size_t n;
    double wall[MAX_EPOCHS + 1], cpu[MAX_EPOCHS + 1], train[MAX_EPOCHS + 1], val[MAX_EPOCHS + 1];
} epoch_log;

static int on_progress(const tsa_progress *p, void *user)
{
    epoch_log *log = user;
    if (strcmp(p->stage, "epoch") != 0 || log->n >= MAX_EPOCHS)
        return 0;
    log->n++;
    log->wall[log->n] = clock_s(CLOCK_MONOTONIC);
    log->cpu[log->n] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    log->train[log->n] = p->train_loss;
    log->val[log->n] = p->val_loss;
    return 0;
}

/* The workload's parameters; returns the window length. */
static size_t workload_params(const char *w, tsa_params *p, const char **kind)
{
    size_t L = 30;
    CHECK("params", tsa_params_set_int(p, "batch_size", 32));
    CHECK("params", tsa_params_set_double(p, "learning_rate", 1e-3));
    CHECK("params", tsa_params_set_double(p, "validation_split", 0.2));
    CHECK("params", tsa_params_set_int(p, "patience", 0));
    CHECK("params", tsa_params_set_double(p, "dropout", 0.0));
    /* No clipping on either side: the workload is plain Adam. */
    CHECK("params", tsa_params_set_double(p, "clip_norm", 0.0));
    CHECK("params", tsa_params_set_bool(p, "center_windows", 1));
    CHECK("params", tsa_params_set_int(p, "prediction_length", 1));
    if (strcmp(w, "W1") == 0) {
        *kind = "lstm";
        CHECK("params", tsa_params_set_int(p, "sequence_length", 30));
        CHECK("params", tsa_params_set_int(p, "hidden_size", 64));
        CHECK("params", tsa_params_set_int(p, "num_layers", 1));
    } else if (strcmp(w, "W2") == 0) {
        /* Three layers of kernel 3 see 1 + 2 (2^3 - 1) = 15 rows, and the
         * cnn kind refuses a window its layers do not cover: the window is
         * the receptive field. */
        *kind = "cnn";
        L = 15;
        CHECK("params", tsa_params_set_int(p, "sequence_length", 15));
        CHECK("params", tsa_params_set_int(p, "channels", 32));
        CHECK("params", tsa_params_set_int(p, "kernel_size", 3));
        CHECK("params", tsa_params_set_int(p, "n_layers", 3));
    } else if (strcmp(w, "W3") == 0) {
        *kind = "transformer";
        L = 64;
        CHECK("params", tsa_params_set_int(p, "window", 64));
        CHECK("params", tsa_params_set_int(p, "d_model", 32));
        CHECK("params", tsa_params_set_int(p, "n_heads", 4));
        CHECK("params", tsa_params_set_int(p, "n_layers", 2));
        CHECK("params", tsa_params_set_int(p, "ff_size", 64));
    } else {
        fprintf(stderr, "bench_nn: unknown workload %s\n", w);
        exit(2);
    }
    return L;
}

static void print_list(const char *key, const double *x, size_t n)
{
    printf("\"%s\": [", key);
    for (size_t i = 0; i < n; i++)
        printf("%s%.6g", i ? ", " : "", x[i]);
    printf("], ");
}

static int run(const char *w, const char *csv, int threads, int epochs, uint64_t seed,
               int fit_only)
{
    size_t n = 0;
    double *x = read_csv(csv, &n);
    double mu = 0.0, ss = 0.0;
    for (size_t t = 0; t < n; t++)
        mu += x[t];
    mu /= (double)n;
    for (size_t t = 0; t < n; t++)
        ss += (x[t] - mu) * (x[t] - mu);
    const double var = ss / (double)n; /* the fit's z-score uses the population sd */

    tsa_params *p = NULL;
    const char *kind = NULL;
    CHECK("params", tsa_params_create(&p));
    const size_t L = workload_params(w, p, &kind);
    tsa_model *m = NULL;
    CHECK("create", tsa_model_create(kind, p, &m));

    epoch_log log;
    memset(&log, 0, sizeof log);
    tsa_fit_options fo;
    tsa_fit_options_init(&fo);
    fo.seed = seed;
    fo.epochs = epochs;
    fo.n_threads = threads;
    fo.progress = on_progress;
    fo.user = &log;
    tsa_series s = {x, n, 1, NULL, NULL};
    log.wall[0] = clock_s(CLOCK_MONOTONIC);
    log.cpu[0] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
    CHECK("fit", tsa_model_fit(m, &s, &fo));
    const double fit_wall = clock_s(CLOCK_MONOTONIC) - log.wall[0];
    const double rss_fit = peak_rss_mib();
    if (log.n < 2) {
        fprintf(stderr, "bench_nn: fewer than 2 epochs reported\n");
        return 1;
    }
    const size_t at5 = log.n >= 5 ? 5 : log.n;
    const double val5 = log.val[at5];
    if (fit_only) {
        printf("{\"workload\": \"%s\", \"impl\": \"libtsa\", \"seed\": %llu, ", w,
               (unsigned long long)seed);
        print_list("val_mse", log.val + 1, log.n);
        printf("\"val_mse_5\": %.6g}\n", val5);
        tsa_model_free(m);
        tsa_params_free(p);
        free(x);
        return 0;
    }

    /* Epoch 1 is the warm-up; each epoch includes its validation pass. */
    double ew[MAX_EPOCHS], ec[MAX_EPOCHS], ew_s[MAX_EPOCHS], ec_s[MAX_EPOCHS];
    size_t ne = 0;
    for (size_t e = 2; e <= log.n; e++, ne++) {
        ew[ne] = log.wall[e] - log.wall[e - 1];
        ec[ne] = log.cpu[e] - log.cpu[e - 1];
    }
    memcpy(ew_s, ew, ne * sizeof *ew);
    memcpy(ec_s, ec, ne * sizeof *ec);
    const double epoch_wall = median(ew_s, ne), epoch_cpu = median(ec_s, ne);

    /* Single-window latency: horizon 1 from a 30-row history (64 for W3);
     * the model reads its last L rows. */
    const size_t hl = L > 30 ? L : 30;
    tsa_series hist = {x + n - hl, hl, 1, NULL, NULL};
    static double lat[LATENCY_CALLS];
    for (int i = 0; i < 20; i++) {
        tsa_forecast *fc = NULL;
        CHECK("forecast", tsa_model_forecast(m, &hist, 1, 0.95, &fc));
        tsa_forecast_free(fc);
    }
    for (int i = 0; i < LATENCY_CALLS; i++) {
        tsa_forecast *fc = NULL;
        double t0 = clock_s(CLOCK_MONOTONIC);
        tsa_status rc = tsa_model_forecast(m, &hist, 1, 0.95, &fc);
        lat[i] = clock_s(CLOCK_MONOTONIC) - t0;
        if (rc != TSA_OK)
            die("forecast", rc);
        tsa_forecast_free(fc);
    }
    const double latency = median(lat, LATENCY_CALLS);

    /* Batched inference: scoring the series predicts one window per step. */
    double *raw = malloc(n * sizeof *raw);
    double sw[SCORE_REPS], sc[SCORE_REPS];
    if (!raw)
        return 1;
    CHECK("score", tsa_model_score(m, &s, raw, NULL));
    for (int i = 0; i < SCORE_REPS; i++) {
        double t0 = clock_s(CLOCK_MONOTONIC), c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        CHECK("score", tsa_model_score(m, &s, raw, NULL));
        sw[i] = clock_s(CLOCK_MONOTONIC) - t0;
        sc[i] = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
    }
    const double n_win = (double)(n - L);
    const double score_wall = median(sw, SCORE_REPS), score_cpu = median(sc, SCORE_REPS);

    /* A check of the split and the units: the best epoch's validation loss
     * (the weights the fit keeps) against one-step forecasts of the same
     * held-out windows, the last 20% of the windows in time order. */
    const size_t n_windows = n - L, n_val = (size_t)((double)n_windows * 0.2);
    const size_t val_start = n_windows - n_val;
    double sse = 0.0;
    for (size_t i = val_start; i < n_windows; i++) {
        tsa_series h = {x + i, L, 1, NULL, NULL};
        tsa_forecast *fc = NULL;
        CHECK("forecast", tsa_model_forecast(m, &h, 1, 0.95, &fc));
        double e = fc->mean[0] - x[i + L];
        sse += e * e;
        tsa_forecast_free(fc);
    }
    double best_val = INFINITY;
    for (size_t e = 1; e <= log.n; e++)
        best_val = log.val[e] < best_val ? log.val[e] : best_val;

    char *info = NULL;
    long long n_params = -1;
    if (tsa_model_info_json(m, &info) == TSA_OK) {
        const char *k = strstr(info, "\"n_params\"");
        if (!k)
            k = strstr(info, "\"parameters\":");
        if (k && (k = strchr(k, ':')) != NULL)
            n_params = strtoll(k + 1, NULL, 10);
        tsa_free(info);
    }

    printf("{\"workload\": \"%s\", \"impl\": \"libtsa\", \"kind\": \"%s\", \"threads\": %d, ", w, kind,
           threads);
    printf("\"seed\": %llu, \"window\": %zu, ", (unsigned long long)seed, L);
    printf("\"n_params\": %lld, \"train_windows\": %zu, \"val_windows\": %zu, ", n_params,
           val_start, n_val);
    printf("\"epoch_s\": %.6g, \"epoch_cpu_s\": %.6g, ", epoch_wall, epoch_cpu);
    print_list("epochs_s", ew, ne);
    print_list("train_mse", log.train + 1, log.n);
    print_list("val_mse", log.val + 1, log.n);
    printf("\"val_mse_5\": %.6g, \"val_mse_5_units\": %.6g, ", val5, val5 * var);
    printf("\"val_mse_best\": %.6g, \"val_mse_best_by_forecast\": %.6g, ", best_val,
           sse / (double)n_val / var);
    printf("\"latency_us\": %.6g, \"latency_p90_us\": %.6g, ", latency * 1e6,
           lat[LATENCY_CALLS * 9 / 10] * 1e6);
    printf("\"throughput_wps\": %.6g, \"throughput_cpu_wps\": %.6g, \"score_windows\": %.0f, ",
           n_win / score_wall, n_win / score_cpu, n_win);
    printf("\"fit_s\": %.6g, \"peak_rss_fit_mib\": %.4g, \"peak_rss_mib\": %.4g}\n", fit_wall,
           rss_fit, peak_rss_mib());
    free(raw);
    tsa_model_free(m);
    tsa_params_free(p);
    free(x);
    return 0;
}

static int profile(const char *w, const char *csv, const char *phase, long reps)
{
    size_t n = 0;
    double *x = read_csv(csv, &n);
    tsa_params *p = NULL;
    const char *kind = NULL;
    CHECK("params", tsa_params_create(&p));
    const size_t L = workload_params(w, p, &kind);
    tsa_model *m = NULL;
    CHECK("create", tsa_model_create(kind, p, &m));
    tsa_fit_options fo;
    tsa_fit_options_init(&fo);
    fo.n_threads = 1;
    fo.epochs = strcmp(phase, "fit") == 0 ? reps : 1;
    tsa_series s = {x, n, 1, NULL, NULL};
    double t0 = clock_s(CLOCK_MONOTONIC);
    CHECK("fit", tsa_model_fit(m, &s, &fo));
    double t1 = clock_s(CLOCK_MONOTONIC);
    if (strcmp(phase, "forecast") == 0) {
        tsa_series hist = {x + n - L, L, 1, NULL, NULL};
        for (long i = 0; i < reps; i++) {
            tsa_forecast *fc = NULL;
            CHECK("forecast", tsa_model_forecast(m, &hist, 1, 0.95, &fc));
            tsa_forecast_free(fc);
        }
    } else if (strcmp(phase, "score") == 0) {
        double *raw = malloc(n * sizeof *raw);
        for (long i = 0; raw && i < reps; i++)
            CHECK("score", tsa_model_score(m, &s, raw, NULL));
        free(raw);
    } else if (strcmp(phase, "fit") != 0) {
        fprintf(stderr, "bench_nn: unknown phase %s\n", phase);
        return 2;
    }
    double t2 = clock_s(CLOCK_MONOTONIC);
    fprintf(stderr, "bench_nn: %s %s: fit %.3f s, %s %.3f s (%.3g s per call)\n", w, kind, t1 - t0,
            phase, t2 - t1, (t2 - t1) / (double)reps);
    tsa_model_free(m);
    tsa_params_free(p);
    free(x);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 6 && strcmp(argv[1], "profile") == 0)
        return profile(argv[2], argv[3], argv[4], atol(argv[5]) > 0 ? atol(argv[5]) : 1);
    if (argc == 3 && strcmp(argv[1], "gen") == 0)
        return gen(argv[2]);
    const int fit_only = argc >= 4 && strcmp(argv[1], "fit") == 0;
    if (argc >= 4 && (strcmp(argv[1], "run") == 0 || fit_only)) {
        int threads = argc > 4 ? atoi(argv[4]) : 1;
        int epochs = argc > 5 ? atoi(argv[5]) : 6;
        uint64_t seed = argc > 6 ? strtoull(argv[6], NULL, 10) : 42;
        if (threads < 1 || epochs < 2 || epochs > MAX_EPOCHS) {
            fprintf(stderr, "bench_nn: bad THREADS or EPOCHS\n");
            return 2;
        }
        return run(argv[2], argv[3], threads, epochs, seed, fit_only);
    }
    fprintf(stderr, "usage: bench_nn gen OUT.csv\n"
                    "       bench_nn run|fit W1|W2|W3 DATA.csv [THREADS] [EPOCHS] [SEED]\n"
                    "       bench_nn profile W1|W2|W3 DATA.csv fit|forecast|score N\n");
    return 2;
}
