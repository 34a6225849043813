/* Tests of libtsa/stat/var.c: VAR(p) estimation against known processes,
 * order selection, forecasts and MSE matrices against independent
 * computations, Mahalanobis scores on injected spikes, errors, and the
 * saved state (round trip, every truncation, corrupted bytes).
 *
 * Tolerances: coefficients of a 5,000-point VAR(2) within 0.05 of the
 * truth (standard errors <= 0.015); AR(1) phi within 0.03 at 5,000
 * points (3 standard errors); forecasts and MSE matrices of a given state within 1e-9 of the
 * recursions written out here. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/error.h"
#include "core/rng.h"
#include "stat/var.h"

#include "../harness.h"

/* ---- the reference process: a stable VAR(2) in 3 features --------------- */

enum { K3 = 3, P2 = 2 };

/* Asymptotic standard errors at T = 5000 (from statsmodels' bse on a
 * 200,000-point simulation): at most 0.015 for every coefficient, so the
 * 0.05 tolerance is over 3 standard errors. Companion radius 0.64. */
static const double TRUE_C[K3] = {0.2, -0.1, 0.1};
static const double TRUE_A[P2][K3][K3] = {
    {{0.4, 0.1, 0.0}, {0.2, 0.3, -0.1}, {0.0, 0.2, 0.3}},
    {{-0.2, 0.0, 0.1}, {0.0, -0.25, 0.0}, {0.1, 0.0, 0.2}},
};
/* Non-diagonal innovation covariance. */
static const double TRUE_S[K3][K3] = {{1.0, 0.3, 0.1}, {0.3, 1.0, 0.2}, {0.1, 0.2, 1.0}};

/* Lower Cholesky factor of a small SPD matrix (test-side, independent). */
static void chol_small(size_t k, const double *s, double *l)
{
    memset(l, 0, k * k * sizeof *l);
    for (size_t j = 0; j < k; j++) {
        double d = s[j * k + j];
        for (size_t c = 0; c < j; c++)
            d -= l[j * k + c] * l[j * k + c];
        l[j * k + j] = sqrt(d);
        for (size_t i = j + 1; i < k; i++) {
            double v = s[i * k + j];
            for (size_t c = 0; c < j; c++)
                v -= l[i * k + c] * l[j * k + c];
            l[i * k + j] = v / l[j * k + j];
        }
    }
}

/* y (T, k): y_t = c + A_1 y_{t-1} + ... + A_p y_{t-p} + L e_t after a
 * burn-in of 500 steps from zero; A is (p, k, k) as in var.h. */
static void simulate(uint64_t seed, size_t T, size_t k, size_t p, const double *c,
                     const double *A, const double *S, double *y)
{
    size_t burn = 500, n = T + burn;
    double *all = calloc(n * k, sizeof *all);
    double *l = malloc(k * k * sizeof *l);
    double *e = malloc(k * sizeof *e);
    chol_small(k, S, l);
    tsa_rng rng;
    tsa_rng_seed(&rng, seed);
    for (size_t t = p; t < n; t++) {
        for (size_t r = 0; r < k; r++)
            e[r] = tsa_rng_normal(&rng);
        for (size_t r = 0; r < k; r++) {
            double v = c ? c[r] : 0.0;
            for (size_t i = 1; i <= p; i++)
                for (size_t col = 0; col < k; col++)
                    v += A[(i - 1) * k * k + r * k + col] * all[(t - i) * k + col];
            for (size_t col = 0; col <= r; col++)
                v += l[r * k + col] * e[col];
            all[t * k + r] = v;
        }
    }
    memcpy(y, all + burn * k, T * k * sizeof *y);
    free(all);
    free(l);
    free(e);
}

static void simulate_ref(uint64_t seed, size_t T, double *y)
{
    simulate(seed, T, K3, P2, TRUE_C, &TRUE_A[0][0][0], &TRUE_S[0][0], y);
}

static tsa_status fit_ref(tsa_stat_var *v, tsa_stat_var_ic ic)
{
    size_t T = 5000;
    double *y = malloc(T * K3 * sizeof *y);
    simulate_ref(20240601, T, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.max_lags = 10;
    o.ic = ic;
    tsa_status rc = tsa_stat_var_fit(v, y, T, K3, &o);
    free(y);
    return rc;
}

/* ---- estimation ---------------------------------------------------------- */

TEST(var2_aic_selects_order_and_recovers_coefficients)
{
    tsa_stat_var v = {0};
    CHECK_OK(fit_ref(&v, TSA_STAT_VAR_IC_AIC));
    if (v.k == 0)
        return;
    CHECK(v.k == K3);
    CHECK_MSG(v.p == 2, "AIC selected order %zu", v.p);
    CHECK(v.trend == TSA_STAT_VAR_TREND_C && v.n_det == 1);
    CHECK(v.n_train == 5000 && v.nobs == 5000 - v.p);
    CHECK(v.n_sel == 11 && v.sel_pmin == 0 && v.max_lags == 10);
    if (v.p != 2) {
        tsa_stat_var_free(&v);
        return;
    }
    double max_err = 0.0;
    for (size_t r = 0; r < K3; r++)
        max_err = fmax(max_err, fabs(v.det[r] - TRUE_C[r]));
    for (size_t i = 0; i < P2; i++)
        for (size_t r = 0; r < K3; r++)
            for (size_t c = 0; c < K3; c++)
                max_err = fmax(max_err, fabs(v.A[i * K3 * K3 + r * K3 + c] - TRUE_A[i][r][c]));
    double sig_err = 0.0;
    for (size_t r = 0; r < K3; r++)
        for (size_t c = 0; c < K3; c++)
            sig_err = fmax(sig_err, fabs(v.sigma_u[r * K3 + c] - TRUE_S[r][c]));
    printf("# VAR(2), T=5000, AIC: order %zu, max |coef - true| = %.4f, "
           "max |Sigma_u - true| = %.4f, max root modulus %.4f\n",
           v.p, max_err, sig_err, v.max_root_modulus);
    for (size_t q = 0; q < v.n_sel; q++)
        printf("#   p=%zu aic=%.5f bic=%.5f hqic=%.5f\n", q + v.sel_pmin, v.sel[3 * q],
               v.sel[3 * q + 1], v.sel[3 * q + 2]);
    CHECK(max_err <= 0.05);
    CHECK(sig_err <= 0.06);
    CHECK(v.stable && v.max_root_modulus < 1.0);
    /* The final fit's AIC is on rows p..T-1, the table's on rows 10..T-1. */
    CHECK(isfinite(v.aic) && isfinite(v.bic) && isfinite(v.hqic) && isfinite(v.llf));
    CHECK(v.bic > v.aic); /* log(4998) > 2 with the same log det */
    /* Sigma_u is symmetric and L L' reproduces it. */
    for (size_t r = 0; r < K3; r++)
        for (size_t c = 0; c < K3; c++) {
            double s = 0.0;
            for (size_t l = 0; l < K3; l++)
                s += v.chol[r * K3 + l] * v.chol[c * K3 + l];
            CHECK_NEAR(s, v.sigma_u[r * K3 + c], 1e-12);
            CHECK(v.sigma_u[r * K3 + c] == v.sigma_u[c * K3 + r]);
        }
    tsa_stat_var_free(&v);
}

TEST(var2_bic_and_hqic_select_order_2)
{
    tsa_stat_var_ic ics[] = {TSA_STAT_VAR_IC_BIC, TSA_STAT_VAR_IC_HQIC};
    for (size_t i = 0; i < 2; i++) {
        tsa_stat_var v = {0};
        CHECK_OK(fit_ref(&v, ics[i]));
        printf("# %s selected order %zu\n", tsa_stat_var_ic_name(ics[i]), v.p);
        CHECK_MSG(v.p == 2, "%s selected %zu", tsa_stat_var_ic_name(ics[i]), v.p);
        CHECK(v.ic == ics[i]);
        tsa_stat_var_free(&v);
    }
}

typedef struct {
    size_t calls;
    size_t last_p;
    size_t cancel_at; /* cancel when p reaches this (SIZE_MAX: never) */
} progress_log;

static tsa_status on_progress(void *user, size_t p, size_t max_lags)
{
    progress_log *log = user;
    if (p != log->calls || max_lags != 4)
        return tsa_error(TSA_EINVAL, "unexpected progress p=%zu max_lags=%zu", p, max_lags);
    log->calls++;
    log->last_p = p;
    if (p == log->cancel_at)
        return tsa_error(TSA_ECANCELED, "canceled at %zu", p);
    return TSA_OK;
}

TEST(selection_reports_progress_and_cancels)
{
    size_t T = 600;
    double *y = malloc(T * K3 * sizeof *y);
    simulate_ref(7, T, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.max_lags = 4;
    progress_log log = {0, 0, SIZE_MAX};
    o.progress = on_progress;
    o.user = &log;
    tsa_stat_var v = {0};
    CHECK_OK(tsa_stat_var_fit(&v, y, T, K3, &o));
    CHECK(log.calls == 5 && log.last_p == 4); /* orders 0..4 */
    tsa_stat_var_free(&v);

    progress_log stop = {0, 0, 2};
    o.user = &stop;
    CHECK_STATUS(tsa_stat_var_fit(&v, y, T, K3, &o), TSA_ECANCELED);
    CHECK(stop.calls == 3);
    CHECK(v.k == 0 && v.coef == NULL); /* untouched on failure */

    /* A fixed order skips selection (no progress calls). */
    progress_log none = {0, 0, SIZE_MAX};
    o.user = &none;
    o.order = 3;
    CHECK_OK(tsa_stat_var_fit(&v, y, T, K3, &o));
    CHECK(none.calls == 0 && v.p == 3 && v.n_sel == 0 && v.ic == TSA_STAT_VAR_IC_FIXED);
    tsa_stat_var_free(&v);
    free(y);
}

TEST(univariate_ar1)
{
    /* SE(phi) = sqrt((1 - phi^2) / T) = 0.010 at T = 5000: 0.03 is 3 SE. */
    size_t T = 5000;
    double *y = malloc(T * sizeof *y);
    const double phi = 0.7, c = 1.0, s2 = 0.5;
    simulate(99, T, 1, 1, &c, &phi, &s2, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.order = 1;
    tsa_stat_var v = {0};
    CHECK_OK(tsa_stat_var_fit(&v, y, T, 1, &o));
    if (v.k == 1) {
        printf("# AR(1): phi %.4f (true 0.7), c %.4f (true 1), sigma2 %.4f (true 0.5)\n",
               v.A[0], v.det[0], v.sigma_u[0]);
        CHECK_NEAR(v.A[0], phi, 0.03);
        CHECK_NEAR(v.sigma_u[0], s2, 0.05);
        CHECK_NEAR(v.det[0] / (1.0 - v.A[0]), c / (1.0 - phi), 0.15);
    }
    tsa_stat_var_free(&v);

    o.order = 0;
    o.max_lags = 8;
    o.ic = TSA_STAT_VAR_IC_BIC;
    CHECK_OK(tsa_stat_var_fit(&v, y, T, 1, &o));
    printf("# AR(1) BIC selected order %zu\n", v.p);
    CHECK(v.p == 1);
    if (v.p >= 1)
        CHECK_NEAR(v.A[0], phi, 0.03);
    tsa_stat_var_free(&v);
    free(y);
}

TEST(linear_trend_is_recovered)
{
    /* y_t = c + d (t + 1) + A y_{t-1} + u_t with the time index of var.h. */
    size_t T = 2000, k = 2;
    const double A[4] = {0.5, 0.2, -0.1, 0.3};
    const double S[4] = {1.0, 0.2, 0.2, 0.6};
    const double c[2] = {1.0, -1.0}, d[2] = {0.01, -0.004};
    double *u = malloc(T * k * sizeof *u), *y = malloc(T * k * sizeof *y);
    const double zero[4] = {0};
    simulate(5, T, k, 1, NULL, zero, S, u); /* innovations only */
    for (size_t t = 0; t < T; t++)
        for (size_t r = 0; r < k; r++) {
            double v = c[r] + d[r] * (double)(t + 1) + u[t * k + r];
            if (t > 0)
                for (size_t col = 0; col < k; col++)
                    v += A[r * k + col] * y[(t - 1) * k + col];
            y[t * k + r] = v;
        }
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.trend = TSA_STAT_VAR_TREND_CT;
    o.order = 1;
    tsa_stat_var v = {0};
    CHECK_OK(tsa_stat_var_fit(&v, y, T, k, &o));
    if (v.k == k) {
        printf("# trend ct: slope %.5f %.5f (true 0.01 -0.004), intercept %.3f %.3f\n",
               v.det[2], v.det[3], v.det[0], v.det[1]);
        CHECK_NEAR(v.det[2], d[0], 0.002);
        CHECK_NEAR(v.det[3], d[1], 0.002);
        CHECK_NEAR(v.det[0], c[0], 0.25);
        CHECK_NEAR(v.det[1], c[1], 0.25);
        for (size_t i = 0; i < 4; i++)
            CHECK_NEAR(v.A[i], A[i], 0.05);
        /* One step ahead continues the index: tau = T + 1. */
        double m[2], lo[2], up[2];
        CHECK_OK(tsa_stat_var_forecast(&v, y, T, (double)T, 1, 0.9, m, lo, up));
        for (size_t r = 0; r < k; r++) {
            double e = v.det[r] + v.det[k + r] * (double)(T + 1);
            for (size_t col = 0; col < k; col++)
                e += v.A[r * k + col] * y[(T - 1) * k + col];
            CHECK_NEAR(m[r], e, 1e-9);
        }
    }
    tsa_stat_var_free(&v);
    free(u);
    free(y);
}

TEST(white_noise_selects_order_0)
{
    /* With an intercept, order 0 is a candidate (as in statsmodels). */
    size_t T = 1000, k = 2;
    const double S[4] = {1.0, 0.4, 0.4, 2.0};
    const double zero[4] = {0}, c[2] = {3.0, -1.0};
    double *y = malloc(T * k * sizeof *y);
    simulate(11, T, k, 1, c, zero, S, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.max_lags = 5;
    o.ic = TSA_STAT_VAR_IC_BIC;
    tsa_stat_var v = {0};
    CHECK_OK(tsa_stat_var_fit(&v, y, T, k, &o));
    CHECK_MSG(v.p == 0, "BIC selected %zu", v.p);
    if (v.p == 0 && v.k == k) {
        CHECK(v.A == NULL && v.stable && v.max_root_modulus == 0.0);
        double m[6], lo[6], up[6], mse[12];
        CHECK_OK(tsa_stat_var_forecast(&v, y, T, (double)T, 3, 0.95, m, lo, up));
        CHECK_OK(tsa_stat_var_forecast_mse(&v, 3, mse));
        for (size_t h = 0; h < 3; h++)
            for (size_t r = 0; r < k; r++) {
                CHECK(m[h * k + r] == v.det[r]);
                for (size_t c2 = 0; c2 < k; c2++)
                    CHECK(mse[h * 4 + r * k + c2] == v.sigma_u[r * k + c2]);
            }
        double raw[4];
        CHECK_OK(tsa_stat_var_score(&v, y, 4, 4.0, raw, NULL));
        CHECK(raw[0] > 0.0); /* no context needed */
    }
    tsa_stat_var_free(&v);
    free(y);
}

/* ---- forecasts of a given state ------------------------------------------ */

/* A VAR(2) in 2 features with intercept and trend, stated directly. */
static const double GIVEN_DET[2 * 2] = {0.3, -0.2, 0.01, 0.02};
static const double GIVEN_A[2 * 2 * 2] = {0.6, -0.2, 0.3, 0.4, /* A_1 */
                                          -0.1, 0.05, 0.0, 0.15}; /* A_2 */
static const double GIVEN_S[4] = {0.5, 0.1, 0.1, 0.3};

static tsa_status given_state(tsa_stat_var *v, tsa_stat_var_trend trend)
{
    double coef[4 + 8];
    size_t nd = trend == TSA_STAT_VAR_TREND_N ? 0 : trend == TSA_STAT_VAR_TREND_C ? 1 : 2;
    memcpy(coef, GIVEN_DET, nd * 2 * sizeof *coef);
    memcpy(coef + nd * 2, GIVEN_A, 8 * sizeof *coef);
    return tsa_stat_var_init(v, 2, 2, trend, coef, GIVEN_S);
}

TEST(forecast_matches_conditional_mean)
{
    const double hist[5 * 2] = {1.0, 2.0, -0.5, 0.7, 0.2, 0.1, 1.5, -1.0, 0.8, 0.4};
    const size_t H = 12, k = 2;
    tsa_stat_var_trend trends[] = {TSA_STAT_VAR_TREND_N, TSA_STAT_VAR_TREND_C,
                                   TSA_STAT_VAR_TREND_CT};
    for (size_t ti = 0; ti < 3; ti++) {
        tsa_stat_var v = {0};
        CHECK_OK(given_state(&v, trends[ti]));
        if (v.k != k)
            continue;
        double t_last = 250.0;
        double m[12 * 2], lo[12 * 2], up[12 * 2];
        CHECK_OK(tsa_stat_var_forecast(&v, hist, 5, t_last, H, 0.95, m, lo, up));
        /* Independent recursion over an extended path. */
        double path[(5 + 12) * 2];
        memcpy(path, hist, sizeof hist);
        double max_diff = 0.0;
        for (size_t h = 0; h < H; h++) {
            size_t t = 5 + h;
            double tau = t_last + (double)(h + 1);
            for (size_t r = 0; r < k; r++) {
                double s = 0.0;
                if (ti >= 1)
                    s += GIVEN_DET[r];
                if (ti == 2)
                    s += GIVEN_DET[2 + r] * tau;
                for (size_t i = 1; i <= 2; i++)
                    for (size_t c = 0; c < k; c++)
                        s += GIVEN_A[(i - 1) * 4 + r * 2 + c] * path[(t - i) * k + c];
                path[t * k + r] = s;
                max_diff = fmax(max_diff, fabs(m[h * k + r] - s));
            }
        }
        printf("# trend %s: max |forecast - recursion| = %.3g\n",
               tsa_stat_var_trend_name(trends[ti]), max_diff);
        CHECK(max_diff <= 1e-9);
        /* Only the last p rows of the history matter. */
        double m2[12 * 2], lo2[12 * 2], up2[12 * 2];
        CHECK_OK(tsa_stat_var_forecast(&v, hist + 3 * k, 2, t_last, H, 0.95, m2, lo2, up2));
        CHECK(memcmp(m, m2, sizeof m) == 0 && memcmp(up, up2, sizeof up) == 0);
        tsa_stat_var_free(&v);
    }
}

TEST(forecast_mse_and_intervals)
{
    tsa_stat_var v = {0};
    CHECK_OK(given_state(&v, TSA_STAT_VAR_TREND_C));
    if (v.k != 2)
        return;
    const size_t k = 2, H = 6;
    double mse[6 * 4];
    CHECK_OK(tsa_stat_var_forecast_mse(&v, H, mse));
    const double *A1 = GIVEN_A, *A2 = GIVEN_A + 4, *S = GIVEN_S;
    /* Phi_1 = A1, Phi_2 = A1 A1 + A2 (written out). */
    double phi1[4], phi2[4];
    memcpy(phi1, A1, sizeof phi1);
    for (size_t r = 0; r < k; r++)
        for (size_t c = 0; c < k; c++)
            phi2[r * k + c] = A1[r * k + 0] * A1[0 * k + c] + A1[r * k + 1] * A1[1 * k + c] +
                              A2[r * k + c];
    double want[3][4];
    for (size_t r = 0; r < k; r++)
        for (size_t c = 0; c < k; c++) {
            double q1 = 0.0, q2 = 0.0;
            for (size_t a = 0; a < k; a++)
                for (size_t b = 0; b < k; b++) {
                    q1 += phi1[r * k + a] * S[a * k + b] * phi1[c * k + b];
                    q2 += phi2[r * k + a] * S[a * k + b] * phi2[c * k + b];
                }
            want[0][r * k + c] = S[r * k + c];
            want[1][r * k + c] = S[r * k + c] + q1;
            want[2][r * k + c] = S[r * k + c] + q1 + q2;
        }
    for (size_t h = 0; h < 3; h++)
        for (size_t e = 0; e < 4; e++)
            CHECK_NEAR(mse[h * 4 + e], want[h][e], 1e-12);
    /* MSE(1) is Sigma_u exactly. */
    CHECK(memcmp(mse, v.sigma_u, 4 * sizeof *mse) == 0);

    /* Intervals: mean +- z sqrt(diag MSE(h)), z = 1.959963984540054 at 95%. */
    const double hist[4] = {0.1, 0.2, 0.3, -0.4};
    double m[6 * 2], lo[6 * 2], up[6 * 2];
    CHECK_OK(tsa_stat_var_forecast(&v, hist, 2, 2.0, H, 0.95, m, lo, up));
    for (size_t h = 0; h < H; h++)
        for (size_t r = 0; r < k; r++) {
            double half = 1.959963984540054 * sqrt(mse[h * 4 + r * k + r]);
            CHECK_NEAR(up[h * k + r] - m[h * k + r], half, 1e-12);
            CHECK_NEAR(m[h * k + r] - lo[h * k + r], half, 1e-12);
        }
    /* Widths grow with the horizon for this stable process. */
    for (size_t h = 1; h < H; h++)
        CHECK(up[h * k] - lo[h * k] >= up[(h - 1) * k] - lo[(h - 1) * k]);
    tsa_stat_var_free(&v);
}

TEST(forecast_and_score_argument_errors)
{
    tsa_stat_var v = {0};
    CHECK_OK(given_state(&v, TSA_STAT_VAR_TREND_C));
    const double hist[4] = {0};
    double m[2], lo[2], up[2], raw[2];
    CHECK_STATUS(tsa_stat_var_forecast(&v, hist, 2, 2.0, 0, 0.9, m, lo, up), TSA_ERANGE);
    CHECK_STATUS(tsa_stat_var_forecast(&v, hist, 2, 2.0, 1, 1.0, m, lo, up), TSA_ERANGE);
    CHECK_STATUS(tsa_stat_var_forecast(&v, hist, 2, 2.0, 1, 0.0, m, lo, up), TSA_ERANGE);
    CHECK_STATUS(tsa_stat_var_forecast(&v, hist, 1, 1.0, 1, 0.9, m, lo, up), TSA_ETOOSHORT);
    CHECK_STATUS(tsa_stat_var_score(&v, hist, 1, 1.0, raw, NULL), TSA_ETOOSHORT);
    CHECK_STATUS(tsa_stat_var_score(&v, hist, 2, 2.0, NULL, NULL), TSA_EINVAL);
    tsa_stat_var_free(&v);
    tsa_stat_var none = {0};
    CHECK_STATUS(tsa_stat_var_forecast(&none, hist, 2, 2.0, 1, 0.9, m, lo, up), TSA_EINVAL);
    /* Not positive definite. */
    const double bad_s[4] = {1.0, 2.0, 2.0, 1.0};
    CHECK_STATUS(tsa_stat_var_init(&v, 2, 2, TSA_STAT_VAR_TREND_N, GIVEN_A, bad_s),
                 TSA_ENUMERIC);
    CHECK(v.k == 0);
}

/* ---- anomaly scores ------------------------------------------------------- */

TEST(spikes_are_flagged)
{
    tsa_stat_var v = {0};
    CHECK_OK(fit_ref(&v, TSA_STAT_VAR_IC_AIC));
    if (v.k != K3)
        return;
    size_t T = 2000, n_spikes = 20, p = v.p;
    double *y = malloc(T * K3 * sizeof *y);
    double *raw = malloc(T * sizeof *raw), *cal = malloc(T * sizeof *cal);
    uint8_t *near = calloc(T, 1);
    size_t spike_at[20], spike_feat[20];
    simulate_ref(777, T, y); /* fresh data, same process */

    /* 20 distinct positions, each affecting rows t..t+p only. */
    tsa_rng rng;
    tsa_rng_seed(&rng, 4242);
    for (size_t s = 0; s < n_spikes;) {
        size_t t = p + (size_t)tsa_rng_below(&rng, T - 2 * p - 1);
        int clash = 0;
        for (size_t q = t > p ? t - p : 0; q <= t + p; q++)
            clash |= near[q];
        if (clash)
            continue;
        size_t j = (size_t)tsa_rng_below(&rng, K3);
        double sign = tsa_rng_uniform(&rng) < 0.5 ? -1.0 : 1.0;
        y[t * K3 + j] += sign * 8.0 * sqrt(TRUE_S[j][j]);
        for (size_t q = t; q <= t + p; q++)
            near[q] = 1;
        spike_at[s] = t;
        spike_feat[s] = j;
        s++;
    }
    CHECK_OK(tsa_stat_var_score(&v, y, T, (double)T, raw, cal));
    size_t hit = 0, false_flags = 0, clean = 0;
    double min_spike = 1.0;
    for (size_t s = 0; s < n_spikes; s++) {
        double c = cal[spike_at[s]];
        min_spike = fmin(min_spike, c);
        if (c > 0.99)
            hit++;
        else
            printf("#   spike at %zu (feature %zu) scored %.6f\n", spike_at[s], spike_feat[s], c);
    }
    for (size_t t = 0; t < T; t++) {
        CHECK(cal[t] >= 0.0 && cal[t] <= 1.0);
        if (t < p) {
            CHECK(raw[t] == 0.0 && cal[t] == 0.0);
            continue;
        }
        CHECK(raw[t] >= 0.0);
        if (near[t])
            continue;
        clean++;
        if (cal[t] > 0.99)
            false_flags++;
    }
    double rate = (double)false_flags / (double)clean;
    printf("# spikes: %zu/%zu flagged at calibrated > 0.99 (lowest %.6f); false flags "
           "%zu/%zu = %.2f%% (expected ~1%%)\n",
           hit, n_spikes, min_spike, false_flags, clean, 100.0 * rate);
    CHECK(hit == n_spikes);
    CHECK(rate >= 0.004 && rate <= 0.02);
    tsa_stat_var_free(&v);
    free(y);
    free(raw);
    free(cal);
    free(near);
}

TEST(score_is_mahalanobis_of_residual)
{
    tsa_stat_var v = {0};
    CHECK_OK(given_state(&v, TSA_STAT_VAR_TREND_CT));
    if (v.k != 2)
        return;
    const double y[4 * 2] = {1.0, 2.0, -0.5, 0.7, 0.2, 0.1, 1.5, -1.0};
    double raw[4], cal[4];
    CHECK_OK(tsa_stat_var_score(&v, y, 4, 40.0, raw, cal));
    double det = GIVEN_S[0] * GIVEN_S[3] - GIVEN_S[1] * GIVEN_S[2];
    double inv[4] = {GIVEN_S[3] / det, -GIVEN_S[1] / det, -GIVEN_S[2] / det, GIVEN_S[0] / det};
    for (size_t t = 2; t < 4; t++) {
        double tau = 40.0 - (double)(3 - t), e[2];
        for (size_t r = 0; r < 2; r++) {
            double s = GIVEN_DET[r] + GIVEN_DET[2 + r] * tau;
            for (size_t i = 1; i <= 2; i++)
                for (size_t c = 0; c < 2; c++)
                    s += GIVEN_A[(i - 1) * 4 + r * 2 + c] * y[(t - i) * 2 + c];
            e[r] = y[t * 2 + r] - s;
        }
        double d2 = e[0] * (inv[0] * e[0] + inv[1] * e[1]) + e[1] * (inv[2] * e[0] + inv[3] * e[1]);
        CHECK_NEAR(raw[t], sqrt(d2), 1e-12);
        /* chi2 with 2 degrees of freedom: P = 1 - exp(-d2 / 2). */
        CHECK_NEAR(cal[t], -expm1(-0.5 * d2), 1e-12);
    }
    CHECK(raw[0] == 0.0 && raw[1] == 0.0 && cal[0] == 0.0 && cal[1] == 0.0);
    tsa_stat_var_free(&v);
}

/* ---- errors --------------------------------------------------------------- */

TEST(too_short_series)
{
    /* k=3, max_lags 10, trend "c": T >= 10 * 4 + 1 + 3 = 44. */
    CHECK(tsa_stat_var_min_length(3, 10, 1) == 44);
    size_t T = 44;
    double *y = malloc(T * K3 * sizeof *y);
    simulate_ref(3, T, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    tsa_stat_var v = {0};
    CHECK_STATUS(tsa_stat_var_fit(&v, y, 43, K3, &o), TSA_ETOOSHORT);
    CHECK_ERROR_MENTIONS("at least 44 rows");
    CHECK_ERROR_MENTIONS("got 43");
    CHECK(v.k == 0);
    CHECK_OK(tsa_stat_var_fit(&v, y, 44, K3, &o));
    tsa_stat_var_free(&v);
    /* A fixed order needs only its own lags: 2 * 4 + 1 + 3 = 12. */
    o.order = 2;
    CHECK_STATUS(tsa_stat_var_fit(&v, y, 11, K3, &o), TSA_ETOOSHORT);
    CHECK_ERROR_MENTIONS("at least 12 rows");
    CHECK_OK(tsa_stat_var_fit(&v, y, 12, K3, &o));
    tsa_stat_var_free(&v);
    free(y);
}

TEST(constant_and_collinear_features)
{
    size_t T = 300;
    double *y = malloc(T * K3 * sizeof *y);
    simulate_ref(8, T, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.max_lags = 3;
    tsa_stat_var v = {0};
    const tsa_stat_var_trend trends[] = {TSA_STAT_VAR_TREND_N, TSA_STAT_VAR_TREND_C,
                                         TSA_STAT_VAR_TREND_CT};

    double *yc = malloc(T * K3 * sizeof *yc);
    memcpy(yc, y, T * K3 * sizeof *yc);
    for (size_t t = 0; t < T; t++)
        yc[t * K3 + 1] = 4.25;
    for (size_t i = 0; i < 3; i++) {
        o.trend = trends[i];
        CHECK_STATUS(tsa_stat_var_fit(&v, yc, T, K3, &o), TSA_ENUMERIC);
        CHECK_ERROR_MENTIONS("feature 1");
        CHECK_ERROR_MENTIONS("constant");
    }

    /* Feature 2 = 2 * feature 0 - 1: the lagged design is singular. */
    memcpy(yc, y, T * K3 * sizeof *yc);
    for (size_t t = 0; t < T; t++)
        yc[t * K3 + 2] = 2.0 * yc[t * K3 + 0] - 1.0;
    o.trend = TSA_STAT_VAR_TREND_C;
    CHECK_STATUS(tsa_stat_var_fit(&v, yc, T, K3, &o), TSA_ENUMERIC);
    printf("# collinear: %s\n", tsa_last_error());
    CHECK_ERROR_MENTIONS("feature 2");
    /* With a fixed order the design's rank check names the lagged column. */
    o.order = 1;
    CHECK_STATUS(tsa_stat_var_fit(&v, yc, T, K3, &o), TSA_ENUMERIC);
    CHECK_ERROR_MENTIONS("feature 2 at lag 1");
    o.order = 0;

    /* Constant after the first two rows: every regression (rows 3..T-1)
     * sees it constant. */
    memcpy(yc, y, T * K3 * sizeof *yc);
    for (size_t t = 2; t < T; t++)
        yc[t * K3 + 0] = 1.0;
    CHECK_STATUS(tsa_stat_var_fit(&v, yc, T, K3, &o), TSA_ENUMERIC);
    printf("# constant tail: %s\n", tsa_last_error());
    CHECK_ERROR_MENTIONS("feature 0");

    /* Non-finite input. */
    memcpy(yc, y, T * K3 * sizeof *yc);
    yc[17 * K3 + 2] = NAN;
    CHECK_STATUS(tsa_stat_var_fit(&v, yc, T, K3, &o), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("row 17");
    CHECK(v.k == 0);
    free(yc);
    free(y);
}

/* ---- persistence ---------------------------------------------------------- */

static void save_state(const tsa_stat_var *v, tsa_wbuf *w)
{
    tsa_wbuf_init(w);
    tsa_stat_var_save(v, w);
}

TEST(save_load_round_trip_is_bit_identical)
{
    tsa_stat_var v = {0};
    CHECK_OK(fit_ref(&v, TSA_STAT_VAR_IC_AIC));
    if (v.k != K3)
        return;
    tsa_wbuf w;
    save_state(&v, &w);
    CHECK(!w.failed && w.len > 0);

    tsa_stat_var u = {0};
    tsa_rbuf r;
    tsa_rbuf_init(&r, w.data, w.len);
    CHECK_OK(tsa_stat_var_load(&u, K3, &r));
    CHECK(tsa_rbuf_remaining(&r) == 0);
    if (u.k == K3) {
        CHECK(u.p == v.p && u.trend == v.trend && u.nobs == v.nobs && u.n_train == v.n_train);
        CHECK(u.n_sel == v.n_sel && memcmp(u.sel, v.sel, 3 * v.n_sel * sizeof *v.sel) == 0);
        CHECK(memcmp(u.chol, v.chol, K3 * K3 * sizeof *v.chol) == 0);
        CHECK(u.max_root_modulus == v.max_root_modulus && u.stable == v.stable);
        CHECK(u.aic == v.aic && u.llf == v.llf);

        double hist[6 * K3];
        simulate_ref(31, 6, hist);
        const size_t H = 25;
        double m1[25 * K3], l1[25 * K3], u1[25 * K3], m2[25 * K3], l2[25 * K3], u2[25 * K3];
        CHECK_OK(tsa_stat_var_forecast(&v, hist, 6, 5000.0, H, 0.8, m1, l1, u1));
        CHECK_OK(tsa_stat_var_forecast(&u, hist, 6, 5000.0, H, 0.8, m2, l2, u2));
        CHECK(memcmp(m1, m2, sizeof m1) == 0);
        CHECK(memcmp(l1, l2, sizeof l1) == 0);
        CHECK(memcmp(u1, u2, sizeof u1) == 0);
        double s1[6], s2[6];
        CHECK_OK(tsa_stat_var_score(&v, hist, 6, 6.0, s1, NULL));
        CHECK_OK(tsa_stat_var_score(&u, hist, 6, 6.0, s2, NULL));
        CHECK(memcmp(s1, s2, sizeof s1) == 0);

        /* Saving the loaded state gives the same bytes. */
        tsa_wbuf w2;
        save_state(&u, &w2);
        CHECK(w2.len == w.len && memcmp(w2.data, w.data, w.len) == 0);
        tsa_wbuf_free(&w2);
    }
    tsa_stat_var_free(&u);

    /* The model's feature count must match. */
    tsa_rbuf_init(&r, w.data, w.len);
    CHECK_STATUS(tsa_stat_var_load(&u, 2, &r), TSA_EFORMAT);
    CHECK(u.k == 0);
    tsa_wbuf_free(&w);
    tsa_stat_var_free(&v);
}

TEST(load_rejects_every_truncation)
{
    tsa_stat_var v = {0};
    size_t T = 400;
    double *y = malloc(T * K3 * sizeof *y);
    simulate_ref(12, T, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.max_lags = 4;
    o.trend = TSA_STAT_VAR_TREND_CT;
    CHECK_OK(tsa_stat_var_fit(&v, y, T, K3, &o));
    free(y);
    if (v.k != K3)
        return;
    tsa_wbuf w;
    save_state(&v, &w);
    size_t bad = 0;
    for (size_t len = 0; len < w.len; len++) {
        /* A fresh copy of exactly @len bytes, so ASan sees any overread. */
        uint8_t *copy = malloc(len ? len : 1);
        memcpy(copy, w.data, len);
        tsa_rbuf r;
        tsa_rbuf_init(&r, copy, len);
        tsa_stat_var u = {0};
        tsa_status rc = tsa_stat_var_load(&u, K3, &r);
        if (rc != TSA_EFORMAT || u.k != 0) {
            bad++;
            printf("#   length %zu of %zu: %s\n", len, w.len, tsa_status_name(rc));
        }
        tsa_stat_var_free(&u);
        free(copy);
    }
    printf("# %zu truncated payloads, %zu not rejected\n", w.len, bad);
    CHECK(bad == 0);
    tsa_wbuf_free(&w);
    tsa_stat_var_free(&v);
}

/* Overwrites the u64 at @off of a copy of @src and expects TSA_EFORMAT. */
static void expect_bad_u64(const tsa_wbuf *src, size_t off, uint64_t value, const char *what)
{
    uint8_t *copy = malloc(src->len);
    memcpy(copy, src->data, src->len);
    for (int i = 0; i < 8; i++)
        copy[off + (size_t)i] = (uint8_t)(value >> (8 * i));
    tsa_rbuf r;
    tsa_rbuf_init(&r, copy, src->len);
    tsa_stat_var u = {0};
    tsa_status rc = tsa_stat_var_load(&u, K3, &r);
    CHECK_MSG(rc == TSA_EFORMAT, "%s = %llu loaded with %s", what, (unsigned long long)value,
              tsa_status_name(rc));
    tsa_stat_var_free(&u);
    free(copy);
}

TEST(load_rejects_inconsistent_fields)
{
    tsa_stat_var v = {0};
    size_t T = 400;
    double *y = malloc(T * K3 * sizeof *y);
    simulate_ref(13, T, y);
    tsa_stat_var_opts o;
    tsa_stat_var_opts_init(&o);
    o.max_lags = 4;
    CHECK_OK(tsa_stat_var_fit(&v, y, T, K3, &o));
    free(y);
    if (v.k != K3)
        return;
    tsa_wbuf w;
    save_state(&v, &w);
    /* Offsets per the layout in var.h. */
    const size_t off_k = 4, off_p = 12, off_trend = 20, off_ic = 21, off_ntrain = 22,
                 off_nobs = 30;
    expect_bad_u64(&w, off_k, 4, "k");
    expect_bad_u64(&w, off_k, 0, "k");
    expect_bad_u64(&w, off_k, UINT64_MAX, "k");
    expect_bad_u64(&w, off_p, 1001, "p");
    expect_bad_u64(&w, off_p, UINT64_MAX, "p");
    expect_bad_u64(&w, off_p, v.p + 1, "p");
    expect_bad_u64(&w, off_ntrain, UINT64_MAX, "n_train");
    expect_bad_u64(&w, off_nobs, UINT64_MAX, "nobs");
    expect_bad_u64(&w, off_nobs, 1, "nobs");

    size_t ncoef = v.n_det * K3 + v.p * K3 * K3;
    size_t off_sigma = off_nobs + 8 + ncoef * 8;
    size_t off_sel = off_sigma + K3 * K3 * 8 + 4 * 8;
    double nan = NAN, asym = v.sigma_u[1] + 1e-3, neg = -1.0;
    uint64_t bits;
    memcpy(&bits, &nan, 8);
    expect_bad_u64(&w, off_nobs + 8, bits, "coef[0] NaN");
    memcpy(&bits, &asym, 8);
    expect_bad_u64(&w, off_sigma + 8, bits, "asymmetric sigma");
    memcpy(&bits, &neg, 8);
    expect_bad_u64(&w, off_sigma, bits, "negative variance");
    expect_bad_u64(&w, off_sel, 11, "max_lags");
    expect_bad_u64(&w, off_sel + 8, 1, "sel_pmin");
    expect_bad_u64(&w, off_sel + 16, 4, "n_sel");
    expect_bad_u64(&w, off_sel + 16, UINT64_MAX / 3 + 1, "n_sel");

    uint8_t *copy = malloc(w.len);
    memcpy(copy, w.data, w.len);
    copy[0] = 2; /* layout version */
    {
        tsa_rbuf r;
        tsa_rbuf_init(&r, copy, w.len);
        tsa_stat_var u = {0};
        CHECK_STATUS(tsa_stat_var_load(&u, K3, &r), TSA_EFORMAT);
        CHECK_ERROR_MENTIONS("version");
    }
    uint8_t codes[][2] = {{3, 0}, {255, 0}, {1, 4}, {1, 3}};
    for (size_t i = 0; i < 4; i++) {
        memcpy(copy, w.data, w.len);
        copy[off_trend] = codes[i][0];
        copy[off_ic] = codes[i][1];
        tsa_rbuf r;
        tsa_rbuf_init(&r, copy, w.len);
        tsa_stat_var u = {0};
        CHECK_STATUS(tsa_stat_var_load(&u, K3, &r), TSA_EFORMAT);
        tsa_stat_var_free(&u);
    }

    /* Every byte flipped in turn: a clean status, never a crash. */
    size_t accepted = 0;
    for (size_t i = 0; i < w.len; i++) {
        memcpy(copy, w.data, w.len);
        copy[i] ^= 0xA5;
        tsa_rbuf r;
        tsa_rbuf_init(&r, copy, w.len);
        tsa_stat_var u = {0};
        tsa_status rc = tsa_stat_var_load(&u, K3, &r);
        CHECK(rc == TSA_OK || rc == TSA_EFORMAT);
        if (rc == TSA_OK)
            accepted++;
        tsa_stat_var_free(&u);
    }
    printf("# %zu single-byte corruptions of %zu bytes still load (numbers changed)\n",
           accepted, w.len);
    free(copy);
    tsa_wbuf_free(&w);
    tsa_stat_var_free(&v);
}

TEST_LIST(TEST_CASE(var2_aic_selects_order_and_recovers_coefficients),
          TEST_CASE(var2_bic_and_hqic_select_order_2),
          TEST_CASE(selection_reports_progress_and_cancels), TEST_CASE(univariate_ar1),
          TEST_CASE(linear_trend_is_recovered), TEST_CASE(white_noise_selects_order_0),
          TEST_CASE(forecast_matches_conditional_mean), TEST_CASE(forecast_mse_and_intervals),
          TEST_CASE(forecast_and_score_argument_errors), TEST_CASE(spikes_are_flagged),
          TEST_CASE(score_is_mahalanobis_of_residual), TEST_CASE(too_short_series),
          TEST_CASE(constant_and_collinear_features),
          TEST_CASE(save_load_round_trip_is_bit_identical),
          TEST_CASE(load_rejects_every_truncation), TEST_CASE(load_rejects_inconsistent_fields))
