/* Tests of libtsa/stat/theta.c: the forecast against forecast::thetaf's
 * formula and against the original two-line construction of
 * Assimakopoulos & Nikolopoulos (2000), the drift of a linear trend, the
 * seasonality test and the seasonal adjustment (multiplicative, and
 * additive for data that are not all positive), theta = 1 as SES, the
 * history filter, errors and the saved state.
 *
 * Tolerances. On y = 10 + 0.5 t + N(0, 1), t < 500: the least-squares
 * slope has standard error sqrt(12 / n^3) = 3.1e-4, so the drift b/2 is
 * checked to 0.25 +- 0.002 (over 6 standard errors of b/2). The Theta
 * forecast does not continue the line: it grows by b/2 per step from the SES
 * level, which lags the line by b (1 - alpha) / alpha, so h steps ahead it
 * lies (b/2) (h + (1 - alpha) / alpha) below the line, give or take the
 * noise of the level (sd sqrt(alpha / (2 - alpha)), < 1) and of the slope
 * (h x 3.1e-4). The test checks the forecast against that expectation
 * within 4 such sds. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/rng.h"
#include "stat/theta.h"

#include "../harness.h"

TEST(linear_trend_forecast)
{
    tsa_gsl_init();
    enum { N = 500, H = 30 };
    static double y[N];
    double mean[H], lo[H], hi[H];
    tsa_rng rng;
    tsa_rng_seed(&rng, 17);
    for (size_t t = 0; t < N; t++)
        y[t] = 10.0 + 0.5 * (double)t + tsa_rng_normal(&rng);
    tsa_stat_theta th;
    memset(&th, 0, sizeof th);
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, 1, 2.0));
    CHECK(th.seasonal == TSA_STAT_THETA_NONE && isnan(th.seas_stat));
    CHECK_NEAR(th.drift, 0.5 * th.slope, 1e-15);
    CHECK_NEAR(th.drift, 0.25, 0.002);
    CHECK_OK(tsa_stat_theta_forecast(&th, th.level, N, NULL, H, 0.95, mean, lo, hi));
    /* thetaf's formula with the reported numbers. */
    const double a = th.alpha;
    for (size_t h = 1; h <= H; h++) {
        double f = th.level + th.drift * ((double)(h - 1) + (1.0 - pow(1.0 - a, N)) / a);
        CHECK_NEAR(mean[h - 1], f, 1e-9 * fabs(f));
        double se = sqrt(th.sigma2) * sqrt(1.0 + (double)(h - 1) * a * a);
        CHECK_NEAR(hi[h - 1] - mean[h - 1], 1.959963984540054 * se, 1e-9);
    }
    /* The original construction: the theta = 0 line (least squares)
     * extrapolated, averaged with SES of the theta = 2 line
     * Z = 2 y - line, with the same alpha and a start that puts SES of the
     * line in its steady state; the two agree up to b (1 - alpha)^n / 2 alpha. */
    double tbar = 0.5 * (N - 1), ybar = 0.0, sxy = 0.0, sxx = 0.0;
    for (size_t t = 0; t < N; t++)
        ybar += y[t] / N;
    for (size_t t = 0; t < N; t++) {
        sxy += ((double)t - tbar) * (y[t] - ybar);
        sxx += ((double)t - tbar) * ((double)t - tbar);
    }
    double b = sxy / sxx, c = ybar - b * tbar;
    double lz = 2.0 * th.l0 - (c - b / a);
    for (size_t t = 0; t < N; t++)
        lz = a * (2.0 * y[t] - (c + b * (double)t)) + (1.0 - a) * lz;
    double diff = 0.0;
    for (size_t h = 1; h <= H; h++) {
        double f = 0.5 * (c + b * (double)(N - 1 + h)) + 0.5 * lz;
        diff = fmax(diff, fabs(f - mean[h - 1]));
    }
    printf("# alpha %.4f, slope %.5f; max |thetaf - two-line construction| = %.3g\n", a, b,
           diff);
    CHECK(diff < 1e-8 + fabs(b) * pow(1.0 - a, N) / (2.0 * a));

    /* Against the line: the expected shortfall (see the top of the file). */
    double level_sd = sqrt(a / (2.0 - a)), worst = 0.0;
    for (size_t h = 1; h <= H; h++) {
        double line = 10.0 + 0.5 * (double)(N - 1 + h);
        double expect = line - 0.25 * ((double)h + (1.0 - a) / a);
        worst = fmax(worst, fabs(mean[h - 1] - expect) / (level_sd + (double)h * 3.1e-4));
    }
    printf("# forecast vs expected theta path: worst %.2f level sds\n", worst);
    CHECK(worst < 4.0);
    /* It rises by exactly the drift per step. */
    for (size_t h = 1; h < H; h++)
        CHECK_NEAR(mean[h] - mean[h - 1], th.drift, 1e-9);
    tsa_stat_theta_free(&th);

    /* theta = 1 is SES: no drift. */
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, 1, 1.0));
    CHECK(th.drift == 0.0);
    CHECK_OK(tsa_stat_theta_forecast(&th, th.level, N, NULL, 3, 0.9, mean, lo, hi));
    CHECK(mean[0] == th.level && mean[2] == th.level);
    tsa_stat_theta_free(&th);
    /* theta = 10: drift 0.9 b. */
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, 1, 10.0));
    CHECK_NEAR(th.drift, 0.9 * th.slope, 1e-15);
    tsa_stat_theta_free(&th);
}

TEST(seasonal_adjustment)
{
    tsa_gsl_init();
    enum { N = 240, M = 12, H = 24 };
    static double y[N];
    double idx[M];
    for (size_t k = 0; k < M; k++)
        idx[k] = 1.0 + 0.3 * sin(2.0 * M_PI * (double)k / M);
    tsa_rng rng;
    tsa_rng_seed(&rng, 23);
    for (size_t t = 0; t < N; t++)
        y[t] = (100.0 + 0.2 * (double)t) * idx[t % M] * (1.0 + 0.01 * tsa_rng_normal(&rng));
    tsa_stat_theta th;
    memset(&th, 0, sizeof th);
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, M, 2.0));
    printf("# seasonality statistic %.2f (> 1.645 is seasonal)\n", th.seas_stat);
    CHECK(th.seasonal == TSA_STAT_THETA_MULT && th.seas_stat > 1.645);
    double err = 0.0;
    for (size_t k = 0; k < M; k++)
        err = fmax(err, fabs(th.season[k] - idx[k]));
    printf("# max |index - true| = %.4f\n", err);
    CHECK(err < 0.01);
    /* Forecasts carry the pattern: within 3% of the seasonal line. */
    double mean[H], lo[H], hi[H];
    CHECK_OK(tsa_stat_theta_forecast(&th, th.level, N, th.season, H, 0.95, mean, lo, hi));
    for (size_t h = 1; h <= H; h++) {
        size_t t = N - 1 + h;
        double truth = (100.0 + 0.2 * (double)t) * idx[t % M];
        CHECK(fabs(mean[h - 1] - truth) < 0.03 * truth);
        CHECK(lo[h - 1] < mean[h - 1] && mean[h - 1] < hi[h - 1]);
    }
    /* A history takes the fitted indices at its own phase: the series
     * shifted by 5 rows forecasts the same pattern. */
    double season[M], level;
    const size_t off = 5;
    CHECK_OK(tsa_stat_theta_filter(&th, y + off, N - off, season, &level, NULL, NULL));
    for (size_t k = 0; k < M; k++)
        CHECK(season[k] == th.season[(k + off) % M]);
    double m2[H], l2[H], h2[H];
    CHECK_OK(tsa_stat_theta_forecast(&th, level, N - off, season, H, 0.95, m2, l2, h2));
    for (size_t h = 0; h < H; h++)
        CHECK(fabs(m2[h] - mean[h]) < 0.02 * mean[h]);
    /* Short histories at every phase, one with a spike that would shift its
     * own indices by a third: still exactly the fitted ones, rotated. */
    for (size_t o2 = 0; o2 < M; o2++) {
        double hist[3 * M];
        memcpy(hist, y + 100 + o2, sizeof hist);
        if (o2 == 7)
            hist[M + 3] *= 2.0;
        CHECK_OK(tsa_stat_theta_filter(&th, hist, 3 * M, season, &level, NULL, NULL));
        for (size_t k = 0; k < M; k++)
            CHECK(season[k] == th.season[(k + 100 + o2) % M]);
    }
    /* A history with a non-positive value cannot be adjusted multiplicatively. */
    double neg[30];
    memcpy(neg, y, sizeof neg);
    neg[4] = -1.0;
    CHECK_STATUS(tsa_stat_theta_filter(&th, neg, 30, season, &level, NULL, NULL), TSA_EINVAL);
    CHECK_STATUS(tsa_stat_theta_filter(&th, y, 2 * M - 1, season, &level, NULL, NULL),
                 TSA_ETOOSHORT);
    tsa_stat_theta_free(&th);

    /* Centred data: the additive adjustment. */
    for (size_t t = 0; t < N; t++)
        y[t] = 5.0 * sin(2.0 * M_PI * (double)t / M) + 0.5 * tsa_rng_normal(&rng);
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, M, 2.0));
    CHECK(th.seasonal == TSA_STAT_THETA_ADD);
    tsa_stat_theta_free(&th);

    /* White noise offered a period: the test says no. */
    for (size_t t = 0; t < N; t++)
        y[t] = 50.0 + tsa_rng_normal(&rng);
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, M, 2.0));
    printf("# white noise: statistic %.2f\n", th.seas_stat);
    CHECK(th.seasonal == TSA_STAT_THETA_NONE && th.season == NULL);
    CHECK(tsa_stat_theta_context(&th) == 1);
    tsa_stat_theta_free(&th);
    /* Too short for the test (n <= 2m): not seasonal. */
    CHECK_OK(tsa_stat_theta_fit(&th, y, 2 * M, M, 2.0));
    CHECK(th.seasonal == TSA_STAT_THETA_NONE && isnan(th.seas_stat));
    tsa_stat_theta_free(&th);
}

TEST(history_residuals_are_one_step_forecasts)
{
    tsa_gsl_init();
    enum { N = 200 };
    static double y[N];
    tsa_rng rng;
    tsa_rng_seed(&rng, 4);
    double lev = 20.0;
    for (size_t t = 0; t < N; t++) {
        double e = tsa_rng_normal(&rng);
        y[t] = lev + e + 0.1 * (double)t;
        lev += 0.4 * e;
    }
    tsa_stat_theta th;
    memset(&th, 0, sizeof th);
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, 1, 2.0));
    double pred[N], resid[N], level;
    CHECK_OK(tsa_stat_theta_filter(&th, y, N, NULL, &level, pred, resid));
    /* The prediction for row t is the one-step forecast from rows < t. */
    for (size_t t = 1; t < N; t += 37) {
        double lv, m1, lo, hi;
        CHECK_OK(tsa_stat_theta_filter(&th, y, t, NULL, &lv, NULL, NULL));
        CHECK_OK(tsa_stat_theta_forecast(&th, lv, t, NULL, 1, 0.9, &m1, &lo, &hi));
        CHECK_NEAR(pred[t], m1, 1e-9 * fabs(m1));
        CHECK_NEAR(resid[t], y[t] - m1, 1e-9 * fabs(m1));
    }
    CHECK(pred[0] == y[0] && resid[0] == 0.0);
    double tr[N];
    CHECK_OK(tsa_stat_theta_train_resid(&th, y, N, tr));
    double ss = 0.0;
    for (size_t t = 0; t < N; t++)
        ss += tr[t] * tr[t];
    printf("# training one-step rms %.3f, SES sigma %.3f\n", sqrt(ss / N), sqrt(th.sigma2));
    CHECK(sqrt(ss / N) < 1.2 * sqrt(th.sigma2)); /* the drift helps, never hurts much */
    tsa_stat_theta_free(&th);
}

TEST(errors_and_persistence)
{
    tsa_gsl_init();
    enum { N = 100, M = 10 };
    double y[N];
    tsa_rng rng;
    tsa_rng_seed(&rng, 8);
    for (size_t t = 0; t < N; t++)
        y[t] = 30.0 + 4.0 * cos(2.0 * M_PI * (double)t / M) + tsa_rng_normal(&rng);
    tsa_stat_theta th, u;
    memset(&th, 0, sizeof th);
    memset(&u, 0, sizeof u);
    CHECK_STATUS(tsa_stat_theta_fit(&th, y, 6, 1, 2.0), TSA_ETOOSHORT);
    CHECK_STATUS(tsa_stat_theta_fit(&th, y, N, 1, 0.5), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("theta");
    CHECK_STATUS(tsa_stat_theta_fit(&th, y, N, 1, 10.5), TSA_EINVAL);
    y[9] = INFINITY;
    CHECK_STATUS(tsa_stat_theta_fit(&th, y, N, 1, 2.0), TSA_ENONFINITE);
    y[9] = 30.0;
    CHECK(th.n_train == 0);
    CHECK_OK(tsa_stat_theta_fit(&th, y, N, M, 2.0));
    CHECK(th.seasonal == TSA_STAT_THETA_MULT);
    tsa_wbuf w;
    tsa_wbuf_init(&w);
    tsa_stat_theta_save(&th, &w);
    CHECK(!w.failed);
    tsa_rbuf r;
    tsa_rbuf_init(&r, w.data, w.len);
    CHECK_OK(tsa_stat_theta_load(&u, &r));
    CHECK(tsa_rbuf_remaining(&r) == 0);
    double a1[15], l1[15], h1[15], a2[15], l2[15], h2[15];
    CHECK_OK(tsa_stat_theta_forecast(&th, th.level, N, th.season, 15, 0.8, a1, l1, h1));
    CHECK_OK(tsa_stat_theta_forecast(&u, u.level, N, u.season, 15, 0.8, a2, l2, h2));
    CHECK(memcmp(a1, a2, sizeof a1) == 0 && memcmp(l1, l2, sizeof l1) == 0 &&
          memcmp(h1, h2, sizeof h1) == 0);
    size_t loaded = 0;
    for (size_t n = 0; n < w.len; n++) {
        tsa_stat_theta t;
        memset(&t, 0, sizeof t);
        tsa_rbuf_init(&r, w.data, n);
        if (tsa_stat_theta_load(&t, &r) == TSA_OK) {
            loaded++;
            tsa_stat_theta_free(&t);
        }
    }
    CHECK(loaded == 0);
    /* A period the training length cannot have tested. */
    uint8_t *copy = malloc(w.len);
    memcpy(copy, w.data, w.len);
    copy[12] = 60; /* m: byte 0 of the u64 after the version and n_train */
    tsa_stat_theta t;
    memset(&t, 0, sizeof t);
    tsa_rbuf_init(&r, copy, w.len);
    CHECK_STATUS(tsa_stat_theta_load(&t, &r), TSA_EFORMAT);
    free(copy);
    tsa_wbuf_free(&w);
    double mean[2], lo[2], hi[2];
    CHECK_STATUS(tsa_stat_theta_forecast(&th, th.level, N, th.season, 2, 1.0, mean, lo, hi),
                 TSA_ERANGE);
    CHECK_STATUS(tsa_stat_theta_forecast(&th, th.level, N, NULL, 2, 0.5, mean, lo, hi),
                 TSA_EINVAL);
    tsa_stat_theta_free(&th);
    tsa_stat_theta_free(&u);
}

TEST_LIST(TEST_CASE(linear_trend_forecast), TEST_CASE(seasonal_adjustment),
          TEST_CASE(history_residuals_are_one_step_forecasts), TEST_CASE(errors_and_persistence))
