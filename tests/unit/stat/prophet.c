/* Tests of the Prophet-style model (libtsa/stat/prophet.c): the analytic
 * gradient against central differences (linear additive, linear
 * multiplicative with holidays, logistic); a noise-free series with a known
 * piecewise-linear trend, weekly and yearly terms, fitted to < 1% MAPE with
 * its weekly amplitudes within 5% and a 365-day forecast within 2% MAPE;
 * the automatic seasonality rules; changepoint placement (numpy rounding);
 * date parsing; holiday effects recovered; multiplicative against additive
 * seasonality; logistic growth under its cap; a custom period in steps;
 * save/load bit for bit and loaders fed truncated or corrupted bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tsa/tsa.h>

#include "core/rng.h"
#include "stat/prophet.h"

#include "harness.h"

#define DAY 86400
#define T2019 1546300800LL /* 2019-01-01T00:00:00Z */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---- the known series -------------------------------------------------- */

/* Weekly and yearly Fourier coefficients (sin, cos per order), in the
 * reference convention: sin(2 pi n u / P) with u in days since the epoch. */
static const double WEEKLY[3][2] = {{4.0, -2.0}, {1.5, 1.0}, {0.5, -0.8}};
static const double YEARLY[2][2] = {{10.0, 5.0}, {-3.0, 2.0}};

/* Trend with changepoints at days 300 and 700 of the series. */
static double true_trend(double d)
{
    double g = 100.0 + 0.05 * d;
    if (d > 300.0)
        g += 0.10 * (d - 300.0);
    if (d > 700.0)
        g -= 0.17 * (d - 700.0);
    return g;
}

static double fourier(const double (*c)[2], int order, double period, double u)
{
    double s = 0.0;
    for (int n = 1; n <= order; n++) {
        double a = 2.0 * M_PI * n * u / period;
        s += c[n - 1][0] * sin(a) + c[n - 1][1] * cos(a);
    }
    return s;
}

static double truth(int64_t ts)
{
    double u = (double)ts / DAY, d = (double)(ts - T2019) / DAY;
    return true_trend(d) + fourier(WEEKLY, 3, 7.0, u) + fourier(YEARLY, 2, 365.25, u);
}

static void daily(int64_t start, size_t n, int64_t *ts, double *y)
{
    for (size_t i = 0; i < n; i++) {
        ts[i] = start + (int64_t)i * DAY;
        if (y)
            y[i] = truth(ts[i]);
    }
}

static double mape(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += fabs(a[i] - b[i]) / fabs(b[i]);
    return 100.0 * s / (double)n;
}

static double rmse(const double *a, const double *b, size_t n)
{
    double s = 0.0;
    for (size_t i = 0; i < n; i++)
        s += (a[i] - b[i]) * (a[i] - b[i]);
    return sqrt(s / (double)n);
}

static const tsa_stat_prophet_block *find_block(const tsa_stat_prophet *p, const char *name)
{
    for (size_t b = 0; b < p->n_blocks; b++)
        if (strcmp(p->blocks[b].name, name) == 0)
            return &p->blocks[b];
    return NULL;
}

static const double *block_beta(const tsa_stat_prophet *p, const tsa_stat_prophet_block *b)
{
    return p->theta + TSA_STAT_PROPHET_DELTA + p->S + b->col0;
}

/* ---- gradient ------------------------------------------------------------ */

typedef double (*objective_fn)(tsa_stat_prophet_problem *, const double *, double *);

/* Max over components of |analytic - central difference| / max(1, |.|). */
static double grad_error(tsa_stat_prophet_problem *pb, const double *theta, objective_fn fn)
{
    size_t dim = tsa_stat_prophet_problem_dim(pb);
    double *x = malloc(dim * sizeof *x), *g = malloc(dim * sizeof *g);
    memcpy(x, theta, dim * sizeof *x);
    double f = fn(pb, x, g);
    CHECK(isfinite(f));
    double worst = 0.0;
    for (size_t i = 0; i < dim; i++) {
        double h = 1e-6 * fmax(1.0, fabs(x[i])), xi = x[i];
        x[i] = xi + h;
        double fp = fn(pb, x, NULL);
        x[i] = xi - h;
        double fm = fn(pb, x, NULL);
        x[i] = xi;
        double fd = (fp - fm) / (2.0 * h);
        double err = fabs(fd - g[i]) / fmax(1.0, fmax(fabs(fd), fabs(g[i])));
        if (err > worst)
            worst = err;
    }
    free(x);
    free(g);
    return worst;
}

/* A random point away from delta = 0 (the Laplace kink). */
static void random_theta(tsa_rng *r, tsa_stat_prophet_problem *pb, const tsa_stat_prophet *L,
                         int logistic, double *th)
{
    size_t dim = tsa_stat_prophet_problem_dim(pb);
    for (size_t i = 0; i < dim; i++)
        th[i] = 0.2 * (2.0 * tsa_rng_uniform(r) - 1.0);
    th[TSA_STAT_PROPHET_K] = logistic ? 4.0 : 0.5 + tsa_rng_uniform(r);
    th[TSA_STAT_PROPHET_M] = logistic ? 0.3 : tsa_rng_uniform(r);
    th[TSA_STAT_PROPHET_LOG_SIGMA] = -1.0 + 0.5 * tsa_rng_uniform(r);
    for (size_t j = 0; j < L->S; j++) {
        double d = 0.05 + 0.25 * tsa_rng_uniform(r);
        th[TSA_STAT_PROPHET_DELTA + j] = tsa_rng_uniform(r) < 0.5 ? -d : d;
    }
}

TEST(gradient_matches_central_differences)
{
    enum { N = 400 };
    int64_t ts[N];
    double y[N];
    tsa_rng r;
    tsa_rng_seed(&r, 7);
    daily(T2019, N, ts, y);
    for (size_t i = 0; i < N; i++)
        y[i] += 3.0 * tsa_rng_normal(&r);
    int64_t hol[3] = {(T2019 / DAY) + 50, (T2019 / DAY) + 120, (T2019 / DAY) + 300};
    for (int variant = 0; variant < 3; variant++) {
        tsa_stat_prophet_opts o;
        tsa_stat_prophet_opts_init(&o);
        o.n_changepoints = 10;
        o.yearly = TSA_STAT_PROPHET_ON;
        o.weekly = TSA_STAT_PROPHET_ON;
        o.custom_period = 30.5;
        o.custom_order = 2;
        if (variant == 1) {
            o.multiplicative = 1;
            o.holidays = hol;
            o.n_holidays = 3;
            o.holiday_window = 1;
        }
        if (variant == 2) {
            o.logistic = 1;
            o.cap = 250.0;
            o.floor = 20.0;
            o.multiplicative = 1;
        }
        tsa_stat_prophet L;
        tsa_stat_prophet_problem *pb = NULL;
        CHECK_OK(tsa_stat_prophet_problem_create(y, ts, N, &o, &L, &pb));
        if (!pb)
            continue;
        CHECK(L.S == 10);
        CHECK(L.K == 20 + 6 + 4 + (variant == 1 ? 3 : 0));
        CHECK(L.K_add == (variant == 0 ? L.K : 0));
        size_t dim = tsa_stat_prophet_problem_dim(pb);
        CHECK(dim == 3 + L.S + L.K);
        double *th = malloc(dim * sizeof *th);
        for (int rep = 0; rep < 3; rep++) {
            random_theta(&r, pb, &L, variant == 2, th);
            double err = grad_error(pb, th, tsa_stat_prophet_objective);
            CHECK_MSG(err < 1e-5, "variant %d: gradient error %.3g", variant, err);
            /* The profile over sigma that the fit minimises. */
            double perr = grad_error(pb, th, tsa_stat_prophet_profile_objective);
            CHECK_MSG(perr < 1e-5, "variant %d: profile gradient error %.3g", variant, perr);
            if (rep == 0)
                printf("# variant %d: max relative gradient error %.2e (profile %.2e)\n",
                       variant, err, perr);
        }
        free(th);
        tsa_stat_prophet_problem_free(pb);
        tsa_stat_prophet_free(&L);
    }
}

/* ---- the noise-free series --------------------------------------------- */

enum { N3 = 1096, H = 365 };

TEST(noise_free_fit_recovers_the_truth)
{
    static int64_t ts[N3 + H];
    static double y[N3 + H], yhat[N3 + H];
    daily(T2019, N3 + H, ts, y);
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    double t0 = now_s();
    CHECK_OK(tsa_stat_prophet_fit(&p, y, ts, N3, &o));
    double el = now_s() - t0;
    if (!p.n_train)
        return;
    printf("# 3 years daily (%d points, %zu parameters): %d L-BFGS iterations, %.1f ms, stop "
           "%d\n",
           N3, 3 + p.S + p.K, p.iterations, 1e3 * el, p.reason);
    /* Auto rules: 3 years of daily data give yearly and weekly only. */
    CHECK(find_block(&p, "yearly") && find_block(&p, "weekly") && !find_block(&p, "daily"));
    CHECK(p.S == 25);

    double *u = malloc((N3 + H) * sizeof *u);
    for (size_t i = 0; i < N3 + H; i++)
        u[i] = tsa_stat_prophet_u_of(ts[i]);
    CHECK_OK(tsa_stat_prophet_predict(&p, u, N3 + H, yhat, NULL, NULL));
    double in = mape(yhat, y, N3), out = mape(yhat + N3, y + N3, H);
    printf("# in-sample MAPE %.4f%%, 365-day forecast MAPE %.4f%%\n", in, out);
    CHECK(in < 1.0);
    CHECK(out < 2.0);

    const tsa_stat_prophet_block *wk = find_block(&p, "weekly");
    if (wk) {
        const double *b = block_beta(&p, wk);
        for (int n = 0; n < 3; n++) {
            double amp = hypot(b[2 * n], b[2 * n + 1]) * p.y_scale;
            double want = hypot(WEEKLY[n][0], WEEKLY[n][1]);
            printf("# weekly order %d: amplitude %.4f, true %.4f\n", n + 1, amp, want);
            CHECK_NEAR(amp, want, 0.05 * want);
        }
    }
    const tsa_stat_prophet_block *yr = find_block(&p, "yearly");
    if (yr) {
        const double *b = block_beta(&p, yr);
        double amp = hypot(b[0], b[1]) * p.y_scale, want = hypot(YEARLY[0][0], YEARLY[0][1]);
        printf("# yearly order 1: amplitude %.4f, true %.4f\n", amp, want);
        CHECK_NEAR(amp, want, 0.1 * want);
    }

    /* Components add up to the prediction. */
    double *trend = malloc(N3 * sizeof *trend), *comp = malloc(p.n_blocks * N3 * sizeof *comp);
    CHECK_OK(tsa_stat_prophet_predict(&p, u, N3, yhat, trend, comp));
    double worst = 0.0;
    for (size_t i = 0; i < N3; i++) {
        double s = trend[i];
        for (size_t b = 0; b < p.n_blocks; b++)
            s += comp[b * N3 + i];
        worst = fmax(worst, fabs(s - yhat[i]));
    }
    CHECK(worst < 1e-9);
    /* The trend follows the true trend within 1% (seasonal terms absorbed
     * elsewhere). */
    double terr = 0.0;
    for (size_t i = 0; i < N3; i++)
        terr = fmax(terr, fabs(trend[i] - true_trend((double)i)) / true_trend((double)i));
    printf("# largest relative trend error %.4f\n", terr);
    CHECK(terr < 0.01);
    free(trend);
    free(comp);
    free(u);
    tsa_stat_prophet_free(&p);
}

/* ---- automatic seasonalities and changepoints ------------------------------ */

TEST(auto_seasonality_rules)
{
    static int64_t ts[3 * 365];
    int y, w, d;
    /* (a) 3 years daily */
    daily(T2019, 3 * 365, ts, NULL);
    tsa_stat_prophet_auto_seasonalities(ts, 3 * 365, &y, &w, &d);
    CHECK(y == 1 && w == 1 && d == 0);
    /* (b) 10 days hourly */
    for (size_t i = 0; i < 240; i++)
        ts[i] = T2019 + (int64_t)i * 3600;
    tsa_stat_prophet_auto_seasonalities(ts, 240, &y, &w, &d);
    CHECK(y == 0 && w == 0 && d == 1);
    /* (c) no timestamps */
    tsa_stat_prophet_auto_seasonalities(NULL, 100, &y, &w, &d);
    CHECK(y == 0 && w == 0 && d == 0);
    /* Boundaries: 730 days enable yearly, 729 do not; weekly spacing
     * disables weekly; 14 days of daily data enable weekly, 13 do not. */
    for (size_t i = 0; i < 106; i++)
        ts[i] = T2019 + (int64_t)i * 7 * DAY;
    tsa_stat_prophet_auto_seasonalities(ts, 106, &y, &w, &d);
    CHECK(y == 1 && w == 0 && d == 0);
    ts[105] = ts[0] + 730 * DAY;
    tsa_stat_prophet_auto_seasonalities(ts, 106, &y, &w, &d);
    CHECK(y == 1);
    ts[105] = ts[0] + 729 * DAY;
    tsa_stat_prophet_auto_seasonalities(ts, 106, &y, &w, &d);
    CHECK(y == 0);
    daily(T2019, 15, ts, NULL);
    tsa_stat_prophet_auto_seasonalities(ts, 15, &y, &w, &d);
    CHECK(w == 1);
    tsa_stat_prophet_auto_seasonalities(ts, 14, &y, &w, &d);
    CHECK(w == 0);

    /* The same rules decide the fitted blocks; forced switches override. */
    double vals[240];
    for (size_t i = 0; i < 240; i++) {
        ts[i] = T2019 + (int64_t)i * 3600;
        vals[i] = 10.0 + sin(2.0 * M_PI * (double)i / 24.0);
    }
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    CHECK_OK(tsa_stat_prophet_fit(&p, vals, ts, 240, &o));
    CHECK(p.n_blocks == 1 && find_block(&p, "daily") && find_block(&p, "daily")->order == 4);
    o.daily = TSA_STAT_PROPHET_OFF;
    o.weekly = TSA_STAT_PROPHET_ON;
    CHECK_OK(tsa_stat_prophet_fit(&p, vals, ts, 240, &o));
    CHECK(p.n_blocks == 1 && find_block(&p, "weekly"));
    tsa_stat_prophet_opts_init(&o);
    CHECK_OK(tsa_stat_prophet_fit(&p, vals, NULL, 100, &o));
    CHECK(p.n_blocks == 0 && p.K == 0 && !p.has_ts);
    tsa_stat_prophet_free(&p);
}

TEST(changepoints_as_numpy_linspace_round)
{
    double y[100];
    for (int i = 0; i < 100; i++)
        y[i] = i;
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    tsa_stat_prophet L;
    tsa_stat_prophet_problem *pb = NULL;
    /* h = floor(100 * 0.8) = 80: rows round(79 j / 25), j = 1..25. */
    CHECK_OK(tsa_stat_prophet_problem_create(y, NULL, 100, &o, &L, &pb));
    CHECK(L.S == 25);
    for (size_t j = 1; j <= 25 && L.cp; j++) {
        double row = rint(79.0 * (double)j / 25.0);
        CHECK_NEAR(L.cp[j - 1], row / 99.0, 1e-15);
    }
    tsa_stat_prophet_problem_free(pb);
    tsa_stat_prophet_free(&L);
    /* Halves round to even: h = 11, S = 4: 2.5 -> 2, 5, 7.5 -> 8, 10. */
    o.n_changepoints = 4;
    o.changepoint_range = 11.0 / 100.0 + 1e-12;
    CHECK_OK(tsa_stat_prophet_problem_create(y, NULL, 100, &o, &L, &pb));
    CHECK(L.S == 4);
    static const double rows[4] = {2, 5, 8, 10};
    for (size_t j = 0; j < 4 && L.cp; j++)
        CHECK_NEAR(L.cp[j], rows[j] / 99.0, 1e-15);
    tsa_stat_prophet_problem_free(pb);
    tsa_stat_prophet_free(&L);
    /* More changepoints than rows: S = h - 1. */
    o.n_changepoints = 25;
    o.changepoint_range = 0.1;
    CHECK_OK(tsa_stat_prophet_problem_create(y, NULL, 100, &o, &L, &pb));
    CHECK(L.S == 9);
    tsa_stat_prophet_problem_free(pb);
    tsa_stat_prophet_free(&L);
    o.n_changepoints = 0;
    CHECK_OK(tsa_stat_prophet_problem_create(y, NULL, 100, &o, &L, &pb));
    CHECK(L.S == 0 && tsa_stat_prophet_problem_dim(pb) == 3);
    tsa_stat_prophet_problem_free(pb);
    tsa_stat_prophet_free(&L);
}

TEST(parse_dates)
{
    int64_t *d = NULL;
    size_t n = 0;
    CHECK_OK(tsa_stat_prophet_parse_dates("2020-03-01, 1970-01-01,2020-02-29 ,2020-03-01", &d,
                                          &n));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(d[0] == 0);
        CHECK(d[1] == 18321); /* 2020-02-29 */
        CHECK(d[2] == 18322);
    }
    free(d);
    CHECK_OK(tsa_stat_prophet_parse_dates("  ", &d, &n));
    CHECK(n == 0 && d == NULL);
    CHECK_OK(tsa_stat_prophet_parse_dates("1969-12-31", &d, &n));
    CHECK(n == 1 && d && d[0] == -1);
    free(d);
    static const char *const bad[] = {"2021-02-29", "2020-13-01", "2020-1-01", "2020/01/01",
                                      "2020-01-01,", "2020-01-01,,2020-01-02", "x",
                                      "2020-01-01 2020-01-02"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_STATUS(tsa_stat_prophet_parse_dates(bad[i], &d, &n), TSA_EPARAM);
        CHECK_ERROR_MENTIONS("holidays");
    }
}

/* ---- holidays, modes, growth ------------------------------------------- */

TEST(holiday_effects_recovered)
{
    enum { N = 730 };
    static int64_t ts[N];
    static double y[N];
    int64_t hol[24];
    for (int j = 0; j < 24; j++)
        hol[j] = T2019 / DAY + 10 + 30 * j;
    tsa_rng r;
    tsa_rng_seed(&r, 3);
    for (size_t i = 0; i < N; i++) {
        ts[i] = T2019 + (int64_t)i * DAY;
        int64_t day = ts[i] / DAY;
        y[i] = 50.0 + 0.01 * (double)i + fourier(WEEKLY, 3, 7.0, (double)day) +
               0.3 * tsa_rng_normal(&r);
        for (int j = 0; j < 24; j++) {
            if (day == hol[j])
                y[i] += 15.0;
            if (day == hol[j] + 1)
                y[i] += 5.0;
        }
    }
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    o.holidays = hol;
    o.n_holidays = 24;
    o.holiday_window = 1;
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    CHECK_OK(tsa_stat_prophet_fit(&p, y, ts, N, &o));
    const tsa_stat_prophet_block *hb = p.n_train ? find_block(&p, "holidays") : NULL;
    CHECK(hb && hb->ncols == 3);
    if (hb) {
        const double *b = block_beta(&p, hb);
        printf("# holiday effects (day before, on, after): %.3f %.3f %.3f\n", b[0] * p.y_scale,
               b[1] * p.y_scale, b[2] * p.y_scale);
        CHECK_NEAR(b[0] * p.y_scale, 0.0, 0.5);
        CHECK_NEAR(b[1] * p.y_scale, 15.0, 0.5);
        CHECK_NEAR(b[2] * p.y_scale, 5.0, 0.5);
    }
    tsa_stat_prophet_free(&p);

    /* Holidays need timestamps. */
    CHECK_STATUS(tsa_stat_prophet_fit(&p, y, NULL, N, &o), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("holidays");
}

TEST(multiplicative_beats_additive_on_growing_amplitude)
{
    enum { N = 730 };
    static int64_t ts[N];
    static double y[N], yhat[N], clean[N], u[N];
    tsa_rng r;
    tsa_rng_seed(&r, 11);
    for (size_t i = 0; i < N; i++) {
        ts[i] = T2019 + (int64_t)i * DAY;
        u[i] = tsa_stat_prophet_u_of(ts[i]);
        double trend = 10.0 + 90.0 * (double)i / (double)(N - 1);
        clean[i] = trend * (1.0 + 0.2 * sin(2.0 * M_PI * u[i] / 7.0));
        y[i] = clean[i] + 0.2 * tsa_rng_normal(&r);
    }
    double err[2];
    for (int mult = 0; mult < 2; mult++) {
        tsa_stat_prophet_opts o;
        tsa_stat_prophet_opts_init(&o);
        o.multiplicative = mult;
        o.yearly = TSA_STAT_PROPHET_OFF;
        tsa_stat_prophet p;
        memset(&p, 0, sizeof p);
        CHECK_OK(tsa_stat_prophet_fit(&p, y, ts, N, &o));
        err[mult] = INFINITY;
        if (p.n_train && tsa_stat_prophet_predict(&p, u, N, yhat, NULL, NULL) == TSA_OK)
            err[mult] = rmse(yhat, clean, N);
        CHECK(p.K_add == (mult ? 0 : p.K));
        tsa_stat_prophet_free(&p);
    }
    printf("# RMSE against the noise-free series: additive %.3f, multiplicative %.3f\n",
           err[0], err[1]);
    CHECK(err[1] < 0.15);
    CHECK(err[1] < 0.2 * err[0]);
}

TEST(logistic_growth_respects_the_cap)
{
    enum { N = 400, HZ = 1000 };
    static int64_t ts[N];
    static double y[N], u[HZ], yhat[HZ], lo[HZ], hi[HZ];
    tsa_rng r;
    tsa_rng_seed(&r, 5);
    for (size_t i = 0; i < N; i++) {
        ts[i] = T2019 + (int64_t)i * DAY;
        y[i] = 5.0 + 95.0 / (1.0 + exp(-0.02 * ((double)i - 250.0))) + 0.5 * tsa_rng_normal(&r);
    }
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    o.logistic = 1;
    o.cap = 100.0;
    o.floor = 5.0;
    o.weekly = TSA_STAT_PROPHET_OFF;
    o.uncertainty_samples = 200;
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    CHECK_OK(tsa_stat_prophet_fit(&p, y, ts, N, &o));
    if (!p.n_train)
        return;
    for (size_t h = 0; h < HZ; h++)
        u[h] = tsa_stat_prophet_u_of(ts[N - 1]) + (double)(h + 1);
    CHECK_OK(tsa_stat_prophet_forecast(&p, u, HZ, 0.8, yhat, lo, hi));
    double mx = -INFINITY;
    for (size_t h = 0; h < HZ; h++)
        mx = fmax(mx, yhat[h]);
    printf("# logistic: largest forecast %.4f (cap 100), last %.4f\n", mx, yhat[HZ - 1]);
    CHECK(mx <= 100.0 + 1e-9);
    CHECK(yhat[HZ - 1] > 97.0);
    CHECK(lo[HZ - 1] < yhat[HZ - 1] && hi[HZ - 1] > yhat[HZ - 1]);
    tsa_stat_prophet_free(&p);

    o.cap = 5.0;
    CHECK_STATUS(tsa_stat_prophet_fit(&p, y, ts, N, &o), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("cap");
}

TEST(custom_period_in_steps)
{
    enum { N = 240 };
    double y[N], yhat[N + 24], u[N + 24];
    for (size_t i = 0; i < N + 24; i++) {
        u[i] = (double)i;
        double v = 20.0 + 0.02 * (double)i + 3.0 * sin(2.0 * M_PI * (double)i / 12.0);
        if (i < N)
            y[i] = v;
    }
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    o.custom_period = 12.0;
    o.custom_order = 2;
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    CHECK_OK(tsa_stat_prophet_fit(&p, y, NULL, N, &o));
    CHECK(p.n_blocks == 1 && find_block(&p, "custom"));
    CHECK_OK(tsa_stat_prophet_predict(&p, u, N + 24, yhat, NULL, NULL));
    double worst = 0.0;
    for (size_t i = N; i < N + 24; i++)
        worst = fmax(worst, fabs(yhat[i] - (20.0 + 0.02 * (double)i +
                                            3.0 * sin(2.0 * M_PI * (double)i / 12.0))));
    printf("# custom period 12 steps: largest forecast error %.4f\n", worst);
    CHECK(worst < 0.1);
    tsa_stat_prophet_free(&p);
}

TEST(degenerate_series)
{
    enum { N = 60 };
    int64_t ts[N];
    double c[N], z[N], u[N + 5], yhat[N + 5], raw[N];
    for (size_t i = 0; i < N; i++) {
        ts[i] = T2019 + (int64_t)i * DAY;
        c[i] = 42.0;
        z[i] = 0.0;
    }
    for (size_t i = 0; i < N + 5; i++)
        u[i] = tsa_stat_prophet_u_of(T2019) + (double)i;
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    /* Exactly reproducible series have no finite mode; sigma stops at its
     * floor and the fit is still the series. */
    const double *series[2] = {c, z};
    for (int k = 0; k < 2; k++) {
        CHECK_OK(tsa_stat_prophet_fit(&p, series[k], ts, N, &o));
        CHECK_OK(tsa_stat_prophet_predict(&p, u, N + 5, yhat, NULL, NULL));
        double worst = 0.0;
        for (size_t i = 0; i < N + 5; i++)
            worst = fmax(worst, fabs(yhat[i] - series[k][0]));
        CHECK_MSG(worst < 1e-6, "series %d: largest error %g", k, worst);
        CHECK_OK(tsa_stat_prophet_score(&p, u, series[k], N, raw, NULL));
        for (size_t i = 0; i < N; i++)
            CHECK(isfinite(raw[i]));
    }
    /* Two points are enough. */
    double two[2] = {1.0, 3.0}, u2[3] = {0.0, 1.0, 2.0}, y3[3];
    CHECK_OK(tsa_stat_prophet_fit(&p, two, NULL, 2, &o));
    CHECK(p.S == 0);
    CHECK_OK(tsa_stat_prophet_predict(&p, u2, 3, y3, NULL, NULL));
    CHECK_NEAR(y3[2], 5.0, 0.05);
    CHECK_STATUS(tsa_stat_prophet_fit(&p, two, NULL, 1, &o), TSA_ETOOSHORT);
    tsa_stat_prophet_free(&p);
}

TEST(simulated_interval_matches_the_noise)
{
    /* Without changepoints there is no trend uncertainty: the simulated
     * interval is the noise's, yhat -+ z sigma. */
    enum { N = 400, HZ = 20 };
    static int64_t ts[N];
    static double y[N];
    tsa_rng r;
    tsa_rng_seed(&r, 21);
    daily(T2019, N, ts, y);
    for (size_t i = 0; i < N; i++)
        y[i] += 2.0 * tsa_rng_normal(&r);
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    o.n_changepoints = 0;
    o.uncertainty_samples = 20000;
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    CHECK_OK(tsa_stat_prophet_fit(&p, y, ts, N, &o));
    if (!p.n_train)
        return;
    double u[HZ], m[HZ], lo[HZ], hi[HZ], m0[HZ], lo0[HZ], hi0[HZ];
    for (size_t h = 0; h < HZ; h++)
        u[h] = tsa_stat_prophet_u_of(ts[N - 1]) + (double)(h + 1);
    CHECK_OK(tsa_stat_prophet_forecast(&p, u, HZ, 0.9, m, lo, hi));
    p.uncertainty_samples = 0;
    CHECK_OK(tsa_stat_prophet_forecast(&p, u, HZ, 0.9, m0, lo0, hi0));
    double half = 1.6448536269514722 * p.sigma * p.y_scale, worst = 0.0;
    for (size_t h = 0; h < HZ; h++) {
        CHECK(m[h] == m0[h]);
        CHECK_NEAR(hi0[h] - m0[h], half, 1e-9 * half);
        CHECK_NEAR(m0[h] - lo0[h], half, 1e-9 * half);
        worst = fmax(worst, fmax(fabs(hi[h] - m[h] - half), fabs(m[h] - lo[h] - half)) / half);
    }
    printf("# simulated 90%% half-widths within %.2f%% of z sigma = %.4f\n", 100.0 * worst,
           half);
    CHECK(worst < 0.04);
    CHECK_STATUS(tsa_stat_prophet_forecast(&p, u, HZ, 1.0, m, lo, hi), TSA_ERANGE);
    double back[2] = {u[1], u[0]};
    CHECK_STATUS(tsa_stat_prophet_forecast(&p, back, 2, 0.9, m, lo, hi), TSA_EINVAL);
    tsa_stat_prophet_free(&p);
}

/* ---- persistence ------------------------------------------------------------ */

TEST(save_load_bit_exact_and_robust)
{
    enum { N = 500, HZ = 60 };
    static int64_t ts[N];
    static double y[N];
    tsa_rng r;
    tsa_rng_seed(&r, 9);
    daily(T2019, N, ts, y);
    for (size_t i = 0; i < N; i++)
        y[i] += tsa_rng_normal(&r);
    int64_t hol[2] = {T2019 / DAY + 100, T2019 / DAY + 465};
    tsa_stat_prophet_opts o;
    tsa_stat_prophet_opts_init(&o);
    o.holidays = hol;
    o.n_holidays = 2;
    o.holiday_window = 2;
    o.uncertainty_samples = 300;
    tsa_stat_prophet p, q;
    memset(&p, 0, sizeof p);
    memset(&q, 0, sizeof q);
    CHECK_OK(tsa_stat_prophet_fit(&p, y, ts, N, &o));
    if (!p.n_train)
        return;
    tsa_wbuf w;
    tsa_wbuf_init(&w);
    tsa_stat_prophet_save(&p, &w);
    CHECK(!w.failed);
    tsa_rbuf rb;
    tsa_rbuf_init(&rb, w.data, w.len);
    CHECK_OK(tsa_stat_prophet_load(&q, &rb));
    CHECK(tsa_rbuf_remaining(&rb) == 0);

    double u[HZ], a[3][HZ], b[3][HZ];
    for (size_t h = 0; h < HZ; h++)
        u[h] = tsa_stat_prophet_u_of(ts[N - 1]) + (double)(h + 1);
    CHECK_OK(tsa_stat_prophet_forecast(&p, u, HZ, 0.9, a[0], a[1], a[2]));
    CHECK_OK(tsa_stat_prophet_forecast(&q, u, HZ, 0.9, b[0], b[1], b[2]));
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* The same call twice gives the same answer (the generator is per call). */
    CHECK_OK(tsa_stat_prophet_forecast(&p, u, HZ, 0.9, b[0], b[1], b[2]));
    CHECK(memcmp(a, b, sizeof a) == 0);

    /* Every truncation fails cleanly. */
    int all_failed = 1;
    for (size_t len = 0; len < w.len; len++) {
        tsa_stat_prophet z;
        memset(&z, 0, sizeof z);
        tsa_rbuf_init(&rb, w.data, len);
        if (tsa_stat_prophet_load(&z, &rb) != TSA_EFORMAT)
            all_failed = 0;
        tsa_stat_prophet_free(&z);
    }
    CHECK(all_failed);
    /* Flipped bytes never crash (ASan checks the reads); most fail. */
    uint8_t *copy = malloc(w.len);
    for (int rep = 0; rep < 2000; rep++) {
        memcpy(copy, w.data, w.len);
        size_t at = (size_t)tsa_rng_below(&r, w.len);
        copy[at] ^= (uint8_t)(1u << tsa_rng_below(&r, 8));
        tsa_stat_prophet z;
        memset(&z, 0, sizeof z);
        tsa_rbuf_init(&rb, copy, w.len);
        tsa_status rc = tsa_stat_prophet_load(&z, &rb);
        CHECK(rc == TSA_OK || rc == TSA_EFORMAT);
        if (rc == TSA_OK) {
            double m1[4], l1[4], h1[4];
            tsa_status rc2 = tsa_stat_prophet_forecast(&z, u, 4, 0.9, m1, l1, h1);
            CHECK(rc2 == TSA_OK || rc2 == TSA_ENOMEM);
        }
        tsa_stat_prophet_free(&z);
    }
    free(copy);
    tsa_wbuf_free(&w);
    tsa_stat_prophet_free(&p);
    tsa_stat_prophet_free(&q);
}

TEST_LIST(TEST_CASE(gradient_matches_central_differences),
          TEST_CASE(noise_free_fit_recovers_the_truth), TEST_CASE(auto_seasonality_rules),
          TEST_CASE(changepoints_as_numpy_linspace_round), TEST_CASE(parse_dates),
          TEST_CASE(holiday_effects_recovered),
          TEST_CASE(multiplicative_beats_additive_on_growing_amplitude),
          TEST_CASE(logistic_growth_respects_the_cap), TEST_CASE(custom_period_in_steps),
          TEST_CASE(degenerate_series), TEST_CASE(simulated_interval_matches_the_noise),
          TEST_CASE(save_load_bit_exact_and_robust))
