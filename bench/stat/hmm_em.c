/* Baum-Welch from given initial parameters with libtsa's own EM loop.
 *
 * The hmm kind always starts EM from k-means++ seeds, so to compare
 * iterations with another implementation from the same start this program
 * compiles libtsa/stat/hmm.c into itself (with the library's flags) and
 * calls its EM loop (em_run) on a state built by tsa_stat_hmm_init: the
 * code timed is the library's, only the start differs.
 *
 *   hmm_em DATA INIT ITERS REPS
 *
 * DATA: one value per line (a univariate series). INIT: K, then pi (K),
 * A (K x K, row-major), means (K) and standard deviations (K), in the
 * data's units. Runs ITERS M-steps (ITERS + 1 E-steps, the last giving the
 * log-likelihood of the final parameters) REPS times after one untimed
 * warm-up, and prints one JSON object with the wall-clock and process CPU
 * times (em_s, em_cpu_s), the final
 * log-likelihood (data units) and the final parameters. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* clock_gettime, as the library's own flags give */
#endif
#include "stat/hmm.c"

#include <stdio.h>
#include <time.h>

static double clock_s(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double *read_numbers(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "hmm_em: cannot open %s\n", path);
        exit(1);
    }
    size_t cap = 1024, k = 0;
    double *v = malloc(cap * sizeof *v), x;
    while (fscanf(f, "%lf", &x) == 1) {
        if (k == cap)
            v = realloc(v, (cap *= 2) * sizeof *v);
        v[k++] = x;
    }
    fclose(f);
    *n = k;
    return v;
}

static void fail(const char *what, tsa_status rc)
{
    fprintf(stderr, "hmm_em: %s: %s: %s\n", what, tsa_status_name(rc), tsa_last_error());
    exit(1);
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: hmm_em DATA INIT ITERS REPS\n");
        return 2;
    }
    size_t T, ni;
    double *y = read_numbers(argv[1], &T);
    double *init = read_numbers(argv[2], &ni);
    size_t iters = strtoul(argv[3], NULL, 10);
    int reps = atoi(argv[4]);
    size_t K = ni ? (size_t)init[0] : 0;
    if (K < 1 || K > TSA_STAT_HMM_MAX_STATES || ni != 1 + K + K * K + 2 * K || iters < 1 ||
        reps < 1) {
        fprintf(stderr, "hmm_em: bad INIT, ITERS or REPS\n");
        return 2;
    }
    const double *pi = init + 1, *A = pi + K, *mu = A + K * K, *sd = mu + K;

    /* The fit's standardisation (tsa_stat_hmm_fit): z = (y - mean) / sd. */
    double loc = 0.0, ss = 0.0;
    for (size_t t = 0; t < T; t++)
        loc += y[t];
    loc /= (double)T;
    for (size_t t = 0; t < T; t++)
        ss += (y[t] - loc) * (y[t] - loc);
    double scale = sqrt(ss / (double)T), log_scale = log(scale);
    double *z = malloc(T * sizeof *z), means[TSA_STAT_HMM_MAX_STATES],
           vars[TSA_STAT_HMM_MAX_STATES];
    for (size_t t = 0; t < T; t++)
        z[t] = (y[t] - loc) / scale;
    for (size_t k = 0; k < K; k++) {
        means[k] = (mu[k] - loc) / scale;
        vars[k] = sd[k] * sd[k] / (scale * scale);
    }

    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.max_iter = iters + 1;
    o.tol = -INFINITY; /* exactly ITERS M-steps, even if rounding lowers the likelihood */
    double floor = effective_floor(o.min_covar);
    hmm_ws w;
    tsa_status rc = ws_alloc(&w, T, K, 1, TSA_STAT_HMM_DIAG);
    if (rc)
        fail("workspace", rc);

    double *secs = malloc(2 * (size_t)reps * sizeof *secs), *cpu = secs + reps;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    em_result res = {0, 0, 0};
    for (int r = -1; r < reps; r++) {
        tsa_stat_hmm_free(&h);
        if ((rc = tsa_stat_hmm_init(&h, K, 1, TSA_STAT_HMM_DIAG, &loc, &scale, pi, A, means,
                                    vars)))
            fail("init", rc);
        double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID), t0 = clock_s(CLOCK_MONOTONIC);
        rc = em_run(&h, z, T, &w, &o, 0, floor, log_scale, &res);
        double t1 = clock_s(CLOCK_MONOTONIC), c1 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
        if (rc)
            fail("em", rc);
        if (r >= 0) {
            secs[r] = t1 - t0;
            cpu[r] = c1 - c0;
        }
    }

    printf("{\"em_s\": [");
    for (int r = 0; r < reps; r++)
        printf("%s%.9g", r ? ", " : "", secs[r]);
    printf("], \"em_cpu_s\": [");
    for (int r = 0; r < reps; r++)
        printf("%s%.9g", r ? ", " : "", cpu[r]);
    printf("], \"m_steps\": %zu, \"e_steps\": %zu, \"loglik\": %.17g, \"means\": [", iters,
           res.n_iter, res.ll - (double)T * log_scale);
    for (size_t k = 0; k < K; k++)
        printf("%s%.17g", k ? ", " : "", loc + scale * h.means[k]);
    printf("], \"sds\": [");
    for (size_t k = 0; k < K; k++)
        printf("%s%.17g", k ? ", " : "", scale * sqrt(h.covs[k]));
    printf("], \"A\": [");
    for (size_t i = 0; i < K * K; i++)
        printf("%s%.17g", i ? ", " : "", h.A[i]);
    printf("], \"n\": %zu}\n", T);

    tsa_stat_hmm_free(&h);
    ws_free(&w);
    free(secs);
    free(z);
    free(init);
    free(y);
    return 0;
}
