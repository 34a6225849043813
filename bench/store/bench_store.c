/* Cost of encryption at rest in the store: model put and get with and
 * without TSA_ENCRYPTION_KEY, the two stores in the same process and run,
 * interleaved (plain, encrypted, plain, encrypted...) so machine noise hits
 * both. Each put overwrites the model with different content (as a
 * retrained model does: SQLite skips rewriting unchanged pages), so the
 * plaintext side is not flattered. Prints one JSON line per size with the
 * median times and the ratios encrypted / plain.
 *   bench_store URL_PREFIX SIZE_BYTES REPS
 * URL_PREFIX: "sqlite:DIR/" (a file per side is made there) or a
 * postgresql:// URL (both sides share the database, as the models "plain"
 * and "encrypted"). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store.h"

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: bench_store URL_PREFIX SIZE_BYTES REPS\n");
        return 2;
    }
    const char *prefix = argv[1];
    size_t len = (size_t)strtoull(argv[2], NULL, 10);
    int reps = atoi(argv[3]);
    if (len < 16 || reps < 1)
        return 2;
    unsigned char *blob[2] = {malloc(len), malloc(len)};
    double *t_put[2], *t_get[2];
    for (int e = 0; e < 2; e++) {
        t_put[e] = calloc((size_t)reps, sizeof(double));
        t_get[e] = calloc((size_t)reps, sizeof(double));
    }
    uint64_t x = 88172645463325252ull;
    for (int v = 0; v < 2; v++)
        for (size_t k = 0; k < len; k++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            blob[v][k] = (unsigned char)x;
        }
    memcpy(blob[0], "TSAMODEL", 8);
    memcpy(blob[1], "TSAMODEL", 8);
    static const char *const keys[2] = {
        "", "3f1c9a0be2d47a65c81e5f903b2dd6e4a7c05b19f38e2d6c4b0a9f8e7d6c5b4a"};
    static const char *const names[2] = {"plain", "encrypted"};
    int pg = strncmp(prefix, "postgres", 8) == 0;
    tsa_store *s[2];
    char err[TSA_STORE_ERR_LEN];
    for (int e = 0; e < 2; e++) {
        char url[1024];
        snprintf(url, sizeof url, "%s%s", prefix, pg ? "" : e ? "encrypted.db" : "plain.db");
        tsa_store_options o;
        tsa_store_options_init(&o);
        o.encryption_key = keys[e];
        o.encryption_key_previous = "";
        if (tsa_store_open(url, &o, &s[e], err) != TSA_STORE_OK) {
            fprintf(stderr, "bench_store: %s: %s\n", url, err);
            return 1;
        }
    }
    for (int r = -1; r < reps; r++) /* r = -1: warm-up */
        for (int e = 0; e < 2; e++) {
            tsa_store_model_in m = {0};
            m.name = names[e];
            m.kind = "lstm";
            m.task = "forecasting";
            m.blob = blob[(r + 1) & 1];
            m.blob_len = len;
            m.overwrite = 1;
            double t0 = now();
            if (tsa_store_model_put(s[e], &m, err) != TSA_STORE_OK) {
                fprintf(stderr, "bench_store: put: %s\n", err);
                return 1;
            }
            double t1 = now();
            tsa_store_model got;
            if (tsa_store_model_get(s[e], names[e], &got, err) != TSA_STORE_OK ||
                got.blob_len != len || memcmp(got.blob, m.blob, len) != 0) {
                fprintf(stderr, "bench_store: get: %s\n", err);
                return 1;
            }
            double t2 = now();
            tsa_store_model_clear(&got);
            if (r >= 0) {
                t_put[e][r] = t1 - t0;
                t_get[e][r] = t2 - t1;
            }
        }
    double put[2], get[2];
    for (int e = 0; e < 2; e++) {
        put[e] = median(t_put[e], reps);
        get[e] = median(t_get[e], reps);
        tsa_store_close(s[e]);
        free(t_put[e]);
        free(t_get[e]);
    }
    printf("{\"workload\": \"model_put_get\", \"backend\": \"%s\", \"bytes\": %zu, \"reps\": %d,"
           " \"plain_put_ms\": %.3f, \"encrypted_put_ms\": %.3f, \"put_ratio\": %.2f,"
           " \"plain_get_ms\": %.3f, \"encrypted_get_ms\": %.3f, \"get_ratio\": %.2f}\n",
           pg ? "postgresql" : "sqlite", len, reps, put[0] * 1e3, put[1] * 1e3, put[1] / put[0],
           get[0] * 1e3, get[1] * 1e3, get[1] / get[0]);
    free(blob[0]);
    free(blob[1]);
    return 0;
}
