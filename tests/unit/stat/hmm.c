/* Tests of libtsa/stat/hmm.c: Baum-Welch recovery of known 1-D and 2-D
 * Gaussian HMMs, monotone EM, Viterbi and posteriors against the simulated
 * path, BIC state selection, the predictive score, forecast means and exact
 * mixture intervals against independent computations, 1e5-step series,
 * errors, and the saved state (round trip, every truncation, corrupt
 * fields).
 *
 * Tolerances: with 10,000 points and ~3,300 visits per state, the standard
 * error of a state mean is 0.5 / sqrt(3300) = 0.009 and of a transition
 * probability sqrt(.95 * .05 / 3300) = 0.004, so the 0.05 and 0.02 bounds
 * are over 5 standard errors. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/rng.h"
#include "stat/hmm.h"

#include "../harness.h"

/* ---- simulation ----------------------------------------------------------- */

/* Draws T steps of a K-state HMM on d features starting in state 0:
 * means (K, d), chol (K, d, d) lower Cholesky factors of the covariances,
 * A (K, K). y (T, d), states (T) (may be NULL). */
static void simulate(uint64_t seed, size_t T, size_t K, size_t d, const double *A,
                     const double *means, const double *chol, double *y, size_t *states)
{
    tsa_rng rng;
    tsa_rng_seed(&rng, seed);
    size_t s = 0;
    double e[8];
    for (size_t t = 0; t < T; t++) {
        if (t > 0) {
            double u = tsa_rng_uniform(&rng), c = 0.0;
            size_t next = K - 1;
            for (size_t j = 0; j < K; j++) {
                c += A[s * K + j];
                if (u < c) {
                    next = j;
                    break;
                }
            }
            s = next;
        }
        if (states)
            states[t] = s;
        for (size_t j = 0; j < d; j++)
            e[j] = tsa_rng_normal(&rng);
        for (size_t r = 0; r < d; r++) {
            double v = means[s * d + r];
            for (size_t c = 0; c <= r; c++)
                v += chol[s * d * d + r * d + c] * e[c];
            y[t * d + r] = v;
        }
    }
}

/* The reference 3-state process: well separated (4 sd between the closest
 * means), sticky. */
enum { K3 = 3, N3 = 10000 };
static const double A3[K3 * K3] = {0.95, 0.03, 0.02, 0.02, 0.96, 0.02, 0.03, 0.02, 0.95};
static const double MU3[K3] = {-2.0, 0.0, 3.0};
static const double SD3 = 0.5;

static double y3[N3];
static size_t s3[N3];

static void data_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    double chol[K3] = {SD3, SD3, SD3};
    simulate(20240611, N3, K3, 1, A3, MU3, chol, y3, s3);
}

/* Indices of the states sorted by the mean of feature 0. */
static void order_by_mean(const tsa_stat_hmm *h, size_t *perm)
{
    for (size_t k = 0; k < h->K; k++)
        perm[k] = k;
    for (size_t i = 1; i < h->K; i++)
        for (size_t j = i; j > 0 && h->means[perm[j - 1] * h->d] > h->means[perm[j] * h->d]; j--) {
            size_t tmp = perm[j];
            perm[j] = perm[j - 1];
            perm[j - 1] = tmp;
        }
}

static double norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* ---- recovery -------------------------------------------------------------- */

TEST(recovers_three_state_process)
{
    data_init();
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y3, N3, 1, &o));
    if (h.K != K3)
        return;
    size_t perm[K3];
    order_by_mean(&h, perm);
    double emu = 0, esd = 0, eA = 0;
    for (size_t a = 0; a < K3; a++) {
        double mean, var;
        tsa_stat_hmm_state_mean(&h, perm[a], &mean);
        tsa_stat_hmm_state_cov(&h, perm[a], &var);
        emu = fmax(emu, fabs(mean - MU3[a]));
        esd = fmax(esd, fabs(sqrt(var) - SD3));
        for (size_t b = 0; b < K3; b++)
            eA = fmax(eA, fabs(h.A[perm[a] * K3 + perm[b]] - A3[a * K3 + b]));
    }
    printf("# 3 states, %d points: max |mean err| %.4f, |sd err| %.4f, |A err| %.4f, "
           "%zu iterations, loglik %.3f\n",
           N3, emu, esd, eA, h.n_iter, h.loglik);
    CHECK(emu < 0.05);
    CHECK(esd < 0.03);
    CHECK(eA < 0.02);
    CHECK(h.converged);
    /* States come out ordered by mean. */
    CHECK(perm[0] == 0 && perm[1] == 1 && perm[2] == 2);
    /* The reported log-likelihood is the forward log-likelihood from pi. */
    double ll;
    CHECK_OK(tsa_stat_hmm_filter(&h, y3, N3, h.pi, NULL, NULL, &ll));
    CHECK_NEAR(ll, h.loglik, 1e-8 * fabs(ll));
    /* BIC as documented: 2 + 6 + 3 + 3 = 14 parameters. */
    CHECK(tsa_stat_hmm_n_params(3, 1, TSA_STAT_HMM_DIAG) == 14);
    CHECK_NEAR(h.bic, -2.0 * h.loglik + 14.0 * log((double)N3), 1e-9 * fabs(h.bic));
    /* The stationary distribution is stationary. */
    for (size_t j = 0; j < K3; j++) {
        double v = 0;
        for (size_t i = 0; i < K3; i++)
            v += h.stat[i] * h.A[i * K3 + j];
        CHECK_NEAR(v, h.stat[j], 1e-12);
    }

    /* Same seed, same bits; another seed still finds the same optimum. */
    tsa_stat_hmm h2;
    memset(&h2, 0, sizeof h2);
    CHECK_OK(tsa_stat_hmm_fit(&h2, y3, N3, 1, &o));
    CHECK(h2.K == K3 && memcmp(h.A, h2.A, sizeof A3) == 0 &&
          memcmp(h.means, h2.means, K3 * sizeof(double)) == 0 && h.loglik == h2.loglik);
    tsa_stat_hmm_free(&h2);
    o.seed = 7;
    CHECK_OK(tsa_stat_hmm_fit(&h2, y3, N3, 1, &o));
    CHECK_NEAR(h2.loglik, h.loglik, 1e-6 * fabs(h.loglik));
    tsa_stat_hmm_free(&h2);
    tsa_stat_hmm_free(&h);
}

typedef struct {
    double ll[10001];
    size_t n, runs, bad;
    double worst;
} ll_trace;

static tsa_status record_ll(void *user, size_t n_states, size_t restart, size_t iter,
                            size_t max_iter, double loglik)
{
    (void)n_states;
    (void)restart;
    (void)max_iter;
    ll_trace *tr = user;
    if (iter == 1) {
        tr->runs++;
        tr->n = 0;
    }
    if (tr->n > 0) {
        double prev = tr->ll[tr->n - 1];
        double drop = (prev - loglik) / fabs(prev);
        if (drop > tr->worst)
            tr->worst = drop;
        if (drop > 1e-9)
            tr->bad++;
    }
    if (tr->n < 10001)
        tr->ll[tr->n++] = loglik;
    return TSA_OK;
}

TEST(em_loglik_never_decreases)
{
    /* Overlapping states make EM take many small steps. */
    enum { T = 4000 };
    static double y[T * 2];
    const double A[9] = {0.9, 0.05, 0.05, 0.1, 0.8, 0.1, 0.05, 0.05, 0.9};
    const double mu[3] = {-1.0, 0.0, 1.2};
    const double ch[3] = {0.6, 0.5, 0.7};
    simulate(3, T, 3, 1, A, mu, ch, y, NULL);
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.n_init = 2;
    o.tol = 0.0;
    o.max_iter = 150;
    static ll_trace tr;
    memset(&tr, 0, sizeof tr);
    o.progress = record_ll;
    o.user = &tr;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y, T, 1, &o));
    printf("# diag: %zu runs, last run %zu iterations, largest relative drop %.3g\n", tr.runs,
           tr.n, tr.worst);
    CHECK(tr.runs == 2 && tr.n >= 20);
    CHECK(tr.bad == 0);
    CHECK(tr.ll[tr.n - 1] > tr.ll[0]);
    tsa_stat_hmm_free(&h);

    /* Full covariances on 2-D data, 4 states (one more than the truth). */
    const double mu2[6] = {0.0, 0.0, 1.5, 1.0, -1.0, 2.0};
    const double ch2[12] = {1.0, 0.0, 0.6, 0.8, 0.7, 0.0, -0.3, 0.6, 0.5, 0.0, 0.2, 0.9};
    simulate(4, T, 3, 2, A, mu2, ch2, y, NULL);
    o.cov = TSA_STAT_HMM_FULL;
    o.n_states = 4;
    o.n_init = 1;
    memset(&tr, 0, sizeof tr);
    CHECK_OK(tsa_stat_hmm_fit(&h, y, T, 2, &o));
    printf("# full: last run %zu iterations, largest relative drop %.3g\n", tr.n, tr.worst);
    CHECK(tr.runs == 1 && tr.n >= 20);
    CHECK(tr.bad == 0);
    tsa_stat_hmm_free(&h);
}

TEST(viterbi_and_posteriors_follow_the_true_path)
{
    data_init();
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.n_init = 1;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y3, N3, 1, &o));
    if (h.K != K3)
        return;
    size_t perm[K3], inv[K3];
    order_by_mean(&h, perm);
    for (size_t a = 0; a < K3; a++)
        inv[perm[a]] = a;
    size_t *path = malloc(N3 * sizeof *path);
    double *gamma = malloc(N3 * K3 * sizeof *gamma);
    double lp = 0, llp = 0, llf = 0;
    CHECK_OK(tsa_stat_hmm_viterbi(&h, y3, N3, h.pi, path, &lp));
    CHECK_OK(tsa_stat_hmm_posteriors(&h, y3, N3, h.pi, gamma, &llp));
    CHECK_OK(tsa_stat_hmm_filter(&h, y3, N3, h.pi, NULL, NULL, &llf));
    size_t agree = 0, agree_post = 0;
    double worst_sum = 0;
    for (size_t t = 0; t < N3; t++) {
        agree += inv[path[t]] == s3[t];
        size_t arg = 0;
        double sum = 0;
        for (size_t k = 0; k < K3; k++) {
            sum += gamma[t * K3 + k];
            if (gamma[t * K3 + k] > gamma[t * K3 + arg])
                arg = k;
        }
        worst_sum = fmax(worst_sum, fabs(sum - 1.0));
        agree_post += inv[arg] == s3[t];
    }
    printf("# Viterbi agrees on %zu / %d, posterior argmax on %zu; log p(path, y) %.3f <= "
           "loglik %.3f\n",
           agree, N3, agree_post, lp, llf);
    CHECK(agree >= 0.99 * N3);
    CHECK(agree_post >= 0.99 * N3);
    CHECK(worst_sum < 1e-12);
    CHECK_NEAR(llp, llf, 1e-9 * fabs(llf));
    CHECK(lp < llf); /* one path carries less than all paths */
    free(path);
    free(gamma);
    tsa_stat_hmm_free(&h);
}

TEST(full_covariance_recovers_means_and_correlations)
{
    enum { T = 6000 };
    static double y[T * 2];
    const double A[4] = {0.97, 0.03, 0.04, 0.96};
    const double mu[4] = {0.0, 0.0, 3.0, -2.0};
    /* sd (1, 1) corr 0.8; sd (0.5, 2) corr -0.6, as Cholesky factors. */
    const double sd[2][2] = {{1.0, 1.0}, {0.5, 2.0}};
    const double rho[2] = {0.8, -0.6};
    double ch[8];
    for (int k = 0; k < 2; k++) {
        ch[k * 4 + 0] = sd[k][0];
        ch[k * 4 + 1] = 0.0;
        ch[k * 4 + 2] = rho[k] * sd[k][1];
        ch[k * 4 + 3] = sqrt(1.0 - rho[k] * rho[k]) * sd[k][1];
    }
    simulate(11, T, 2, 2, A, mu, ch, y, NULL);
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.n_states = 2;
    o.cov = TSA_STAT_HMM_FULL;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y, T, 2, &o));
    if (h.K != 2)
        return;
    double emu = 0, erho = 0, esd = 0, eA = 0;
    for (size_t k = 0; k < 2; k++) {
        double m[2], c[4];
        tsa_stat_hmm_state_mean(&h, k, m);
        tsa_stat_hmm_state_cov(&h, k, c);
        emu = fmax(emu, fmax(fabs(m[0] - mu[k * 2]), fabs(m[1] - mu[k * 2 + 1])));
        esd = fmax(esd, fmax(fabs(sqrt(c[0]) / sd[k][0] - 1), fabs(sqrt(c[3]) / sd[k][1] - 1)));
        erho = fmax(erho, fabs(c[1] / sqrt(c[0] * c[3]) - rho[k]));
        CHECK(c[1] == c[2]);
        for (size_t j = 0; j < 2; j++)
            eA = fmax(eA, fabs(h.A[k * 2 + j] - A[k * 2 + j]));
    }
    printf("# 2-D full: |mean err| %.4f, relative sd err %.4f, |corr err| %.4f, |A err| %.4f\n",
           emu, esd, erho, eA);
    CHECK(emu < 0.08);
    CHECK(esd < 0.05);
    CHECK(erho < 0.03);
    CHECK(eA < 0.015);
    CHECK(tsa_stat_hmm_n_params(2, 2, TSA_STAT_HMM_FULL) == 1 + 2 + 4 + 6);

    /* Diagonal covariances on the same data: zero correlations, similar means. */
    o.cov = TSA_STAT_HMM_DIAG;
    tsa_stat_hmm g;
    memset(&g, 0, sizeof g);
    CHECK_OK(tsa_stat_hmm_fit(&g, y, T, 2, &o));
    if (g.K == 2) {
        double c[4];
        tsa_stat_hmm_state_cov(&g, 0, c);
        CHECK(c[1] == 0.0 && c[2] == 0.0);
        CHECK(g.loglik < h.loglik); /* the full model fits better */
    }
    tsa_stat_hmm_free(&g);
    tsa_stat_hmm_free(&h);
}

TEST(bic_picks_three_states)
{
    data_init();
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.auto_states = 1;
    o.max_states = 5;
    o.n_init = 1;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y3, N3, 1, &o));
    CHECK(h.K == 3);
    CHECK(h.auto_states && h.n_sel == 5);
    if (h.n_sel == 5) {
        printf("# BIC:");
        for (size_t i = 0; i < 5; i++) {
            printf(" K=%g %.1f", h.sel[3 * i], h.sel[3 * i + 2]);
            CHECK(h.sel[3 * i] == (double)(i + 1));
            if (i != 2)
                CHECK(h.sel[3 * i + 2] > h.sel[3 * 2 + 2]);
        }
        printf("\n");
        CHECK(h.bic == h.sel[3 * 2 + 2]);
    }
    tsa_stat_hmm_free(&h);

    /* Too short for the larger candidates: they are skipped, not failed. */
    memset(&h, 0, sizeof h);
    o.max_states = 20;
    CHECK_OK(tsa_stat_hmm_fit(&h, y3, 40, 1, &o));
    CHECK(h.n_sel == 8); /* 5 K <= 40 */
    tsa_stat_hmm_free(&h);
}

/* ---- score, forecast ------------------------------------------------------- */

/* A hand-built 2-state model in data units: loc 5, scale 2, so standardised
 * means -2 and 3 are 1 and 11, standardised variances 0.25 and 1 are sds 1
 * and 2. */
static tsa_status two_state(tsa_stat_hmm *h, const double *A)
{
    const double loc = 5.0, scale = 2.0, pi[2] = {0.5, 0.5};
    const double means[2] = {-2.0, 3.0}, vars[2] = {0.25, 1.0};
    memset(h, 0, sizeof *h);
    return tsa_stat_hmm_init(h, 2, 1, TSA_STAT_HMM_DIAG, &loc, &scale, pi, A, means, vars);
}

static double npdf(double x, double m, double s)
{
    return exp(-0.5 * (x - m) * (x - m) / (s * s)) / (s * sqrt(2.0 * M_PI));
}

TEST(score_is_negative_log_predictive_density)
{
    const double A[4] = {0.9, 0.1, 0.3, 0.7};
    tsa_stat_hmm h;
    CHECK_OK(two_state(&h, A));
    if (!h.K)
        return;
    /* Stationary distribution of A: (0.75, 0.25). */
    CHECK_NEAR(h.stat[0], 0.75, 1e-12);
    CHECK_NEAR(h.stat[1], 0.25, 1e-12);
    const double y[4] = {1.5, 10.0, 3.0, 1e6};
    double raw[4], last[2], ll;
    CHECK_OK(tsa_stat_hmm_filter(&h, y, 4, NULL, raw, last, &ll));
    /* Written out: predict, weigh, normalise. */
    double p[2] = {0.75, 0.25}, sum = 0;
    const double m[2] = {1.0, 11.0}, s[2] = {1.0, 2.0};
    for (int t = 0; t < 3; t++) {
        if (t) {
            double q0 = p[0] * A[0] + p[1] * A[2], q1 = p[0] * A[1] + p[1] * A[3];
            p[0] = q0;
            p[1] = q1;
        }
        double b0 = p[0] * npdf(y[t], m[0], s[0]), b1 = p[1] * npdf(y[t], m[1], s[1]);
        CHECK_NEAR(raw[t], -log(b0 + b1), 1e-12 * fabs(log(b0 + b1)) + 1e-13);
        sum += log(b0 + b1);
        p[0] = b0 / (b0 + b1);
        p[1] = b1 / (b0 + b1);
    }
    /* Far from both states: no underflow, a huge finite score, and the
     * filter keeps a proper distribution. */
    CHECK(isfinite(raw[3]) && raw[3] > 1e10);
    CHECK(isfinite(last[0]) && isfinite(last[1]) && fabs(last[0] + last[1] - 1.0) < 1e-12);
    CHECK_NEAR(ll, sum - raw[3], 1e-9 * fabs(ll));
    tsa_stat_hmm_free(&h);
}

/* The leave-one-out score against its definition: p(y_t | y_-t) =
 * p(y) / integral of p(y with y_t = v) dv, the integral by the trapezoid
 * rule over the filter's likelihood; likewise the conditional mean. */
TEST(loo_score_is_the_conditional_density)
{
    const double A[4] = {0.9, 0.1, 0.3, 0.7};
    tsa_stat_hmm h;
    CHECK_OK(two_state(&h, A));
    if (!h.K)
        return;
    enum { N = 6 };
    const double y[N] = {1.5, 10.0, 0.2, 12.5, 11.0, 2.0};
    double raw[N], cm[N], online[N];
    CHECK_OK(tsa_stat_hmm_loo(&h, y, N, NULL, raw, cm));
    CHECK_OK(tsa_stat_hmm_filter(&h, y, N, NULL, online, NULL, NULL));
    for (int t = 0; t < N; t++) {
        double ll, yv[N], z = 0.0, zv = 0.0, prev = 0.0, prev_v = 0.0;
        memcpy(yv, y, sizeof yv);
        CHECK_OK(tsa_stat_hmm_filter(&h, y, N, NULL, NULL, NULL, &ll));
        const double lo = -40.0, step = 1e-3;
        for (int i = 0; i <= 100000; i++) {
            const double v = lo + step * i;
            double lv;
            yv[t] = v;
            tsa_stat_hmm_filter(&h, yv, N, NULL, NULL, NULL, &lv);
            const double f = exp(lv - ll);
            if (i) {
                z += 0.5 * step * (f + prev);
                zv += 0.5 * step * (f * v + prev_v);
            }
            prev = f;
            prev_v = f * v;
        }
        CHECK_NEAR(raw[t], log(z), 1e-6);
        CHECK_NEAR(cm[t], zv / z, 1e-6);
    }
    /* The last row has no future: the online score. */
    CHECK_NEAR(raw[N - 1], online[N - 1], 1e-12);
    /* A one-step excursion to the other state's range (y[2] = 0.2 between
     * rows of state 1 at 10 and 12.5) scores worse than under the filter,
     * which cannot see that the series returns. */
    CHECK(raw[2] > online[2]);
    /* The outlier cutoff: the density of the tighter state (sd 1 in data
     * units) 5 sd from its mean. */
    CHECK_NEAR(tsa_stat_hmm_outlier_cut(&h), 0.5 * log(2.0 * M_PI) + 12.5, 1e-9);
    tsa_stat_hmm_free(&h);
}

/* P(X <= x) of a 2-component mixture. */
static double mix_cdf(double x, const double *w, const double *m, const double *s)
{
    return w[0] * norm_cdf((x - m[0]) / s[0]) + w[1] * norm_cdf((x - m[1]) / s[1]);
}

TEST(forecast_intervals_are_exact_mixture_quantiles)
{
    const double m[2] = {1.0, 11.0}, s[2] = {1.0, 2.0};
    const double z975 = 1.959963984540054;
    /* A = I: a history deep in state 0 leaves the filter (all but) certain
     * of it, and the forecast is that state's Gaussian at every step. */
    const double I[4] = {1.0, 0.0, 0.0, 1.0};
    tsa_stat_hmm h;
    CHECK_OK(two_state(&h, I));
    if (!h.K)
        return;
    const double hist[3] = {1.0, 1.2, 0.9};
    double mean[3], lo[3], hi[3];
    CHECK_OK(tsa_stat_hmm_forecast(&h, hist, 3, 3, 0.95, mean, lo, hi));
    for (int t = 0; t < 3; t++) {
        CHECK_NEAR(mean[t], 1.0, 1e-9);
        CHECK_NEAR(lo[t], 1.0 - z975, 1e-9);
        CHECK_NEAR(hi[t], 1.0 + z975, 1e-9);
    }
    /* A given mixture: bounds at CDF 0.05 and 0.95. */
    const double w[2] = {0.3, 0.7};
    CHECK_OK(tsa_stat_hmm_forecast_from(&h, w, 1, 0.9, mean, lo, hi));
    CHECK_NEAR(mean[0], 0.3 * 1.0 + 0.7 * 11.0, 1e-12);
    CHECK_NEAR(mix_cdf(lo[0], w, m, s), 0.05, 1e-12);
    CHECK_NEAR(mix_cdf(hi[0], w, m, s), 0.95, 1e-12);
    tsa_stat_hmm_free(&h);

    /* A moving chain: the state distribution is p0 A^h. */
    const double A[4] = {0.9, 0.1, 0.2, 0.8};
    CHECK_OK(two_state(&h, A));
    if (!h.K)
        return;
    enum { H = 400 };
    static double fm[H], fl[H], fu[H];
    const double p0[2] = {1.0, 0.0};
    CHECK_OK(tsa_stat_hmm_forecast_from(&h, p0, H, 0.8, fm, fl, fu));
    double p[2] = {1.0, 0.0}, worst = 0;
    for (int t = 0; t < 5; t++) {
        double q0 = p[0] * A[0] + p[1] * A[2], q1 = p[0] * A[1] + p[1] * A[3];
        p[0] = q0;
        p[1] = q1;
        CHECK_NEAR(fm[t], p[0] * m[0] + p[1] * m[1], 1e-12);
        worst = fmax(worst, fabs(mix_cdf(fl[t], p, m, s) - 0.1));
        worst = fmax(worst, fabs(mix_cdf(fu[t], p, m, s) - 0.9));
    }
    CHECK(worst < 1e-12);
    /* Far ahead: the stationary mixture (2/3, 1/3). */
    const double st[2] = {2.0 / 3.0, 1.0 / 3.0};
    CHECK_NEAR(fm[H - 1], st[0] * m[0] + st[1] * m[1], 1e-12);
    CHECK_NEAR(mix_cdf(fl[H - 1], st, m, s), 0.1, 1e-12);
    CHECK_NEAR(mix_cdf(fu[H - 1], st, m, s), 0.9, 1e-12);
    for (int t = 0; t < H; t++)
        CHECK(fl[t] < fm[t] && fm[t] < fu[t]);
    CHECK_STATUS(tsa_stat_hmm_forecast_from(&h, p0, 0, 0.8, fm, fl, fu), TSA_ERANGE);
    CHECK_STATUS(tsa_stat_hmm_forecast_from(&h, p0, 1, 1.0, fm, fl, fu), TSA_ERANGE);
    tsa_stat_hmm_free(&h);
}

TEST(forecast_of_fitted_model_reaches_stationary_mean)
{
    data_init();
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.n_init = 1;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y3, N3, 1, &o));
    if (!h.K)
        return;
    enum { H = 3000 };
    static double fm[H], fl[H], fu[H];
    CHECK_OK(tsa_stat_hmm_forecast(&h, y3 + N3 - 50, 50, H, 0.95, fm, fl, fu));
    /* Independent: iterate the transition matrix from uniform. */
    double p[K3] = {1.0 / 3, 1.0 / 3, 1.0 / 3}, q[K3];
    for (int it = 0; it < 20000; it++) {
        for (size_t j = 0; j < K3; j++) {
            q[j] = 0;
            for (size_t i = 0; i < K3; i++)
                q[j] += p[i] * h.A[i * K3 + j];
        }
        memcpy(p, q, sizeof p);
    }
    double target = 0;
    for (size_t k = 0; k < K3; k++) {
        double mk;
        tsa_stat_hmm_state_mean(&h, k, &mk);
        target += p[k] * mk;
    }
    printf("# h=%d forecast mean %.6f, stationary mixture mean %.6f, h=1 %.4f\n", H,
           fm[H - 1], target, fm[0]);
    CHECK_NEAR(fm[H - 1], target, 1e-9);
    CHECK(fabs(fm[0] - target) > 0.1); /* the near future is not the long run */
    tsa_stat_hmm_free(&h);
}

TEST(long_series_is_numerically_safe)
{
    enum { T = 100000 };
    double *y = malloc(T * sizeof *y);
    double ch[K3] = {SD3, SD3, SD3};
    simulate(77, T, K3, 1, A3, MU3, ch, y, NULL);
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.n_init = 1;
    o.max_iter = 30;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y, T, 1, &o));
    if (h.K) {
        /* Per step: minus the Gaussian entropy log(sd sqrt(2 pi e)) = 0.7258,
         * minus what the state uncertainty adds (the transitions' entropy,
         * 0.22 nats, bounds it). */
        double per = h.loglik / T;
        printf("# %d points: loglik/T %.4f after %zu iterations\n", T, per, h.n_iter);
        CHECK(isfinite(h.loglik) && per < -0.7258 + 0.01 && per > -0.7258 - 0.23);
        double *gamma = malloc((size_t)T * K3 * sizeof *gamma);
        double ll;
        CHECK_OK(tsa_stat_hmm_posteriors(&h, y, T, NULL, gamma, &ll));
        size_t bad = 0;
        for (size_t i = 0; i < (size_t)T * K3; i++)
            bad += !(gamma[i] >= 0.0 && gamma[i] <= 1.0 + 1e-12);
        CHECK(bad == 0);
        CHECK(isfinite(ll));
        free(gamma);
    }
    tsa_stat_hmm_free(&h);
    free(y);
}

/* ---- errors ---------------------------------------------------------------- */

TEST(fit_errors)
{
    data_init();
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_STATUS(tsa_stat_hmm_fit(&h, y3, 14, 1, &o), TSA_ETOOSHORT); /* 3 states need 15 */
    CHECK_ERROR_MENTIONS("15");
    CHECK(h.K == 0);
    o.n_states = 0;
    CHECK_STATUS(tsa_stat_hmm_fit(&h, y3, N3, 1, &o), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("n_states");
    o.n_states = 21;
    CHECK_STATUS(tsa_stat_hmm_fit(&h, y3, N3, 1, &o), TSA_EINVAL);
    tsa_stat_hmm_opts_init(&o);
    o.tol = NAN;
    CHECK_STATUS(tsa_stat_hmm_fit(&h, y3, N3, 1, &o), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("tol");
    tsa_stat_hmm_opts_init(&o);
    double y[40];
    memcpy(y, y3, sizeof y);
    y[17] = INFINITY;
    CHECK_STATUS(tsa_stat_hmm_fit(&h, y, 40, 1, &o), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("row 17");
    CHECK(h.K == 0);

    /* A constant series: a degenerate but valid fit. */
    for (int i = 0; i < 40; i++)
        y[i] = 4.25;
    CHECK_OK(tsa_stat_hmm_fit(&h, y, 40, 1, &o));
    if (h.K) {
        double mean;
        tsa_stat_hmm_state_mean(&h, 0, &mean);
        CHECK_NEAR(mean, 4.25, 1e-9);
    }
    tsa_stat_hmm_free(&h);

    /* init: bad probabilities, non-PD covariance. */
    const double loc = 0, scale = 1, pi[2] = {0.5, 0.6}, A[4] = {1, 0, 0, 1};
    const double mu[2] = {0, 1}, var[2] = {1, 1};
    CHECK_STATUS(tsa_stat_hmm_init(&h, 2, 1, TSA_STAT_HMM_DIAG, &loc, &scale, pi, A, mu, var),
                 TSA_EINVAL);
    const double pi2[2] = {0.5, 0.5}, bad_var[2] = {1, 0};
    CHECK_STATUS(
        tsa_stat_hmm_init(&h, 2, 1, TSA_STAT_HMM_DIAG, &loc, &scale, pi2, A, mu, bad_var),
        TSA_ENUMERIC);
    const double loc2[2] = {0, 0}, scale2[2] = {1, 1}, mu2[2] = {0, 0};
    const double c_np[4] = {1, 2, 2, 1};
    /* K = 1 with pi = 0.5: not a distribution. */
    CHECK_STATUS(
        tsa_stat_hmm_init(&h, 1, 2, TSA_STAT_HMM_FULL, loc2, scale2, pi2, &scale, mu2, c_np),
        TSA_EINVAL);
    const double one = 1.0;
    CHECK_STATUS(
        tsa_stat_hmm_init(&h, 1, 2, TSA_STAT_HMM_FULL, loc2, scale2, &one, &one, mu2, c_np),
        TSA_ENUMERIC);
    CHECK(h.K == 0);
}

/* ---- persistence ----------------------------------------------------------- */

TEST(save_load_round_trip_and_corruption)
{
    data_init();
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    o.auto_states = 1;
    o.max_states = 4;
    o.n_init = 1;
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    CHECK_OK(tsa_stat_hmm_fit(&h, y3, 3000, 1, &o));
    if (!h.K)
        return;
    tsa_wbuf w;
    tsa_wbuf_init(&w);
    tsa_stat_hmm_save(&h, &w);
    CHECK(!w.failed);
    tsa_stat_hmm g;
    memset(&g, 0, sizeof g);
    tsa_rbuf r;
    tsa_rbuf_init(&r, w.data, w.len);
    CHECK_OK(tsa_stat_hmm_load(&g, 1, &r));
    CHECK(tsa_rbuf_remaining(&r) == 0);
    if (g.K) {
        CHECK(g.K == h.K && g.n_sel == h.n_sel && g.loglik == h.loglik && g.bic == h.bic &&
              g.n_iter == h.n_iter && g.converged == h.converged && g.n_train == 3000);
        CHECK(memcmp(g.block, h.block, (2 + 2 * h.K + h.K * h.K + 4 * h.K) * sizeof(double)) ==
              0);
        double a[3 * 20], b[3 * 20];
        CHECK_OK(tsa_stat_hmm_forecast(&h, y3 + 3000, 100, 20, 0.9, a, a + 20, a + 40));
        CHECK_OK(tsa_stat_hmm_forecast(&g, y3 + 3000, 100, 20, 0.9, b, b + 20, b + 40));
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    tsa_stat_hmm_free(&g);

    /* Wrong feature count. */
    tsa_rbuf_init(&r, w.data, w.len);
    CHECK_STATUS(tsa_stat_hmm_load(&g, 2, &r), TSA_EFORMAT);
    /* Every truncation fails cleanly. */
    size_t loaded = 0;
    for (size_t n = 0; n < w.len; n++) {
        tsa_rbuf_init(&r, w.data, n);
        if (tsa_stat_hmm_load(&g, 1, &r) != TSA_EFORMAT || g.K != 0)
            loaded++;
        tsa_stat_hmm_free(&g);
    }
    CHECK(loaded == 0);
    /* Corrupt fields: K = 21, covariance code 2, a negative variance, a
     * transition row summing to 2, NaN location. */
    size_t K = h.K;
    size_t off_K = 4, off_cov = 4 + 16, off_loc = off_cov + 1;
    size_t off_A = off_loc + 8 * (2 + K), off_var = off_A + 8 * (K * K + K);
    struct {
        size_t off;
        int kind; /* 0: u64 21, 1: u8 2, 2: f64 -1, 3: f64 2 (row 0 of A), 4: NaN */
    } cases[] = {{off_K, 0}, {off_cov, 1}, {off_var, 2}, {off_A, 3}, {off_loc, 4}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uint8_t *copy = malloc(w.len);
        memcpy(copy, w.data, w.len);
        if (cases[c].kind == 0) {
            uint64_t v = 21;
            memcpy(copy + cases[c].off, &v, 8);
        } else if (cases[c].kind == 1) {
            copy[cases[c].off] = 2;
        } else {
            double v = cases[c].kind == 2 ? -1.0 : cases[c].kind == 3 ? 2.0 : NAN;
            memcpy(copy + cases[c].off, &v, 8);
        }
        tsa_rbuf_init(&r, copy, w.len);
        CHECK_STATUS(tsa_stat_hmm_load(&g, 1, &r), TSA_EFORMAT);
        CHECK(g.K == 0);
        free(copy);
    }
    tsa_wbuf_free(&w);
    tsa_stat_hmm_free(&h);
}

TEST_LIST(TEST_CASE(recovers_three_state_process), TEST_CASE(em_loglik_never_decreases),
          TEST_CASE(viterbi_and_posteriors_follow_the_true_path),
          TEST_CASE(full_covariance_recovers_means_and_correlations),
          TEST_CASE(bic_picks_three_states), TEST_CASE(score_is_negative_log_predictive_density),
          TEST_CASE(loo_score_is_the_conditional_density),
          TEST_CASE(forecast_intervals_are_exact_mixture_quantiles),
          TEST_CASE(forecast_of_fitted_model_reaches_stationary_mean),
          TEST_CASE(long_series_is_numerically_safe), TEST_CASE(fit_errors),
          TEST_CASE(save_load_round_trip_and_corruption))
