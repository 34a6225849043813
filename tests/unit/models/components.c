/* Tests of tsa_model_components() (libtsa/models/model.c and the prophet
 * and ets hooks) through the public API: the components of a series built
 * from known prophet components (trend, weekly, yearly, holidays) recover
 * them; the components add up to the forecast mean and to the in-sample
 * one-step predictions (1e-9, relative) in and out of sample, additive and
 * multiplicative; ETS level, trend and season of a known series; errors for
 * bad input; concurrent calls on one model agree with a serial one. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tsa/tsa.h>

#include "core/rng.h"

#include "harness.h"

#define DAY 86400
#define T2019 1546300800LL /* 2019-01-01T00:00:00Z */
#define N 730

/* The known components at day i. */
static double k_trend(size_t i) { return 100.0 + 0.05 * (double)i; }
static double k_weekly(int64_t ts)
{
    double u = (double)ts / DAY;
    return 6.0 * sin(2.0 * M_PI * u / 7.0) - 3.0 * cos(4.0 * M_PI * u / 7.0);
}
static double k_yearly(int64_t ts)
{
    double u = (double)ts / DAY;
    return 8.0 * sin(2.0 * M_PI * u / 365.25) + 4.0 * cos(2.0 * M_PI * u / 365.25);
}
/* Holidays: the 10th of every other month, +20. */
static int is_holiday(size_t i) { return i % 61 == 10; }

static int64_t ts_[N];
static double y_[N];
static char holidays_[4096];

static void data_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    tsa_rng r;
    tsa_rng_seed(&r, 7);
    size_t len = 0;
    for (size_t i = 0; i < N; i++) {
        ts_[i] = T2019 + (int64_t)i * DAY;
        y_[i] = k_trend(i) + k_weekly(ts_[i]) + k_yearly(ts_[i]) + (is_holiday(i) ? 20.0 : 0.0) +
                0.3 * tsa_rng_normal(&r);
        if (is_holiday(i)) {
            time_t t = (time_t)ts_[i];
            struct tm tm;
            gmtime_r(&t, &tm);
            len += (size_t)snprintf(holidays_ + len, sizeof holidays_ - len, "%s%04d-%02d-%02d",
                                    len ? "," : "", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        }
    }
}

static tsa_model *fit(const char *kind, const char *json, const double *y, const int64_t *ts,
                      size_t n)
{
    tsa_params *p = NULL;
    tsa_model *m = NULL;
    if (json && tsa_params_from_json(json, &p) != TSA_OK) {
        printf("# params: %s\n", tsa_last_error());
        return NULL;
    }
    if (tsa_model_create(kind, p, &m) != TSA_OK)
        printf("# create: %s\n", tsa_last_error());
    tsa_params_free(p);
    tsa_series s = tsa_series_view(y, n, 1);
    s.timestamps = ts;
    if (m && tsa_model_fit(m, &s, NULL) != TSA_OK) {
        printf("# fit: %s\n", tsa_last_error());
        tsa_model_free(m);
        m = NULL;
    }
    return m;
}

static const double *comp(const tsa_components *c, const char *name)
{
    for (size_t k = 0; k < c->n_components; k++)
        if (strcmp(c->names[k], name) == 0)
            return c->values + k * c->length * c->n_features;
    return NULL;
}

static double rel(double a, double b) { return fabs(a - b) / (1.0 + fabs(b)); }

/* The components' sum is c->mean (checked here too) and equals @expect. */
static void check_sum(const tsa_components *c, const double *expect, const char *what)
{
    double worst = 0.0, worst_mean = 0.0;
    for (size_t i = 0; i < c->length; i++) {
        double s = 0.0;
        for (size_t k = 0; k < c->n_components; k++)
            s += c->values[k * c->length + i];
        worst = fmax(worst, rel(s, expect[i]));
        worst_mean = fmax(worst_mean, rel(c->mean[i], expect[i]));
    }
    CHECK_MSG(worst <= 1e-9 && worst_mean <= 1e-9, "%s: sum off by %g (mean by %g)", what, worst,
              worst_mean);
}

static char *prophet_json(const char *mode)
{
    static char buf[8192];
    snprintf(buf, sizeof buf,
             "{\"n_changepoints\": 0, \"yearly_seasonality\": \"true\", "
             "\"weekly_seasonality\": \"true\", \"daily_seasonality\": \"false\", "
             "\"seasonality_mode\": \"%s\", \"holidays\": \"%s\", \"uncertainty_samples\": 0}",
             mode, holidays_);
    return buf;
}

TEST(prophet_recovers_known_components)
{
    data_init();
    CHECK(tsa_kind_capabilities("prophet") & TSA_CAP_COMPONENTS);
    CHECK(tsa_kind_capabilities("ets") & TSA_CAP_COMPONENTS);
    CHECK(!(tsa_kind_capabilities("naive") & TSA_CAP_COMPONENTS));
    tsa_model *m = fit("prophet", prophet_json("additive"), y_, ts_, N);
    CHECK(m);
    if (!m)
        return;
    tsa_components *c = NULL;
    CHECK_OK(tsa_model_components(m, NULL, 0, &c));
    if (!c) {
        tsa_model_free(m);
        return;
    }
    CHECK(c->length == N && c->n_features == 1 && c->in_sample == 1);
    CHECK(c->n_components == 4);
    CHECK(c->timestamps && c->timestamps[0] == ts_[0] && c->timestamps[N - 1] == ts_[N - 1]);
    const double *tr = comp(c, "trend"), *wk = comp(c, "weekly"), *yr = comp(c, "yearly"),
                 *ho = comp(c, "holidays");
    CHECK(tr && wk && yr && ho);
    CHECK(strcmp(c->names[0], "trend") == 0);
    if (tr && wk && yr && ho) {
        double et = 0, ew = 0, ey = 0, eh = 0, eh0 = 0;
        for (size_t i = 0; i < N; i++) {
            et = fmax(et, fabs(tr[i] - k_trend(i)));
            ew = fmax(ew, fabs(wk[i] - k_weekly(ts_[i])));
            ey = fmax(ey, fabs(yr[i] - k_yearly(ts_[i])));
            if (is_holiday(i))
                eh = fmax(eh, fabs(ho[i] - 20.0));
            else
                eh0 = fmax(eh0, fabs(ho[i]));
        }
        printf("# largest errors: trend %.3f, weekly %.3f, yearly %.3f, holiday %.3f, "
               "off-holiday %.3g\n",
               et, ew, ey, eh, eh0);
        CHECK(et < 0.25);
        CHECK(ew < 0.2);
        CHECK(ey < 0.5);
        CHECK(eh < 0.5);
        CHECK(eh0 == 0.0);
    }
    /* In-sample sums: the one-step forecast from the rows before each row
     * is the prediction at its time. */
    tsa_series s = tsa_series_view(y_, N, 1);
    s.timestamps = ts_;
    double expect[N];
    for (size_t i = 100; i < N; i += 157) {
        tsa_series h = s;
        h.length = i;
        tsa_forecast *fc = NULL;
        CHECK_OK(tsa_model_forecast(m, &h, 1, 0.9, &fc));
        if (fc)
            CHECK_MSG(rel(c->mean[i], fc->mean[0]) <= 1e-9, "row %zu: %.12g vs %.12g", i,
                      c->mean[i], fc->mean[0]);
        tsa_forecast_free(fc);
    }
    /* In-sample over x gives the same as over the training series. */
    tsa_components *c2 = NULL;
    CHECK_OK(tsa_model_components(m, &s, 0, &c2));
    if (c2) {
        CHECK(c2->length == N && c2->n_components == 4);
        CHECK(memcmp(c2->values, c->values, 4 * N * sizeof(double)) == 0);
    }
    tsa_components_free(c2);
    tsa_components_free(c);

    /* Out of sample: the forecast's mean, from the training end and from a
     * history. */
    for (int with_history = 0; with_history < 2; with_history++) {
        tsa_series h = s;
        h.length = 400;
        const tsa_series *hist = with_history ? &h : NULL;
        tsa_forecast *fc = NULL;
        CHECK_OK(tsa_model_forecast(m, hist, 90, 0.9, &fc));
        CHECK_OK(tsa_model_components(m, hist, 90, &c));
        if (fc && c) {
            CHECK(c->length == 90 && c->in_sample == 0);
            CHECK(c->timestamps && c->timestamps[0] == fc->timestamps[0]);
            check_sum(c, fc->mean, with_history ? "forecast after a history" : "forecast");
            const double *w = comp(c, "weekly");
            for (size_t i = 0; w && i < 90; i++)
                expect[i] = k_weekly(fc->timestamps[i]);
            double ew = 0;
            for (size_t i = 0; w && i < 90; i++)
                ew = fmax(ew, fabs(w[i] - expect[i]));
            CHECK_MSG(ew < 0.3, "weekly forecast off by %g", ew);
        }
        tsa_forecast_free(fc);
        tsa_components_free(c);
        c = NULL;
    }
    tsa_model_free(m);
}

TEST(prophet_multiplicative_components_add_up)
{
    data_init();
    /* y = trend (1 + weekly factor): the factor is recovered as
     * weekly / trend. */
    static double y[N];
    for (size_t i = 0; i < N; i++)
        y[i] = k_trend(i) * (1.0 + 0.01 * k_weekly(ts_[i]));
    tsa_model *m = fit("prophet",
                       "{\"n_changepoints\": 0, \"yearly_seasonality\": \"false\", "
                       "\"weekly_seasonality\": \"true\", \"daily_seasonality\": \"false\", "
                       "\"seasonality_mode\": \"multiplicative\", \"uncertainty_samples\": 0}",
                       y, ts_, N);
    CHECK(m);
    if (!m)
        return;
    tsa_components *c = NULL;
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_components(m, NULL, 30, &c));
    CHECK_OK(tsa_model_forecast(m, NULL, 30, 0.9, &fc));
    if (c && fc) {
        CHECK(c->n_components == 2 && c->multiplicative[0] == 0 && c->multiplicative[1] == 1);
        check_sum(c, fc->mean, "multiplicative forecast");
        double worst = 0;
        for (size_t i = 0; i < 30; i++)
            worst = fmax(worst, fabs(c->values[30 + i] / c->values[i] -
                                     0.01 * k_weekly(fc->timestamps[i])));
        CHECK_MSG(worst < 2e-3, "weekly factor off by %g", worst);
    }
    tsa_forecast_free(fc);
    tsa_components_free(c);
    tsa_model_free(m);
}

TEST(ets_level_trend_season)
{
    enum { T = 240, P = 12 };
    static double y[T];
    tsa_rng r;
    tsa_rng_seed(&r, 3);
    for (size_t t = 0; t < T; t++)
        y[t] = 50.0 + 0.5 * (double)t + 5.0 * sin(2.0 * M_PI * (double)t / P) +
               0.1 * tsa_rng_normal(&r);
    tsa_model *m = fit("ets",
                       "{\"error\": \"A\", \"trend\": \"A\", \"season\": \"A\", \"period\": 12}", y,
                       NULL, T);
    CHECK(m);
    if (!m)
        return;
    tsa_components *c = NULL;
    tsa_forecast *fc = NULL;
    /* From the end of training. */
    CHECK_OK(tsa_model_components(m, NULL, 24, &c));
    CHECK_OK(tsa_model_forecast(m, NULL, 24, 0.9, &fc));
    if (c && fc) {
        CHECK(c->n_components == 3);
        CHECK(strcmp(c->names[0], "level") == 0 && strcmp(c->names[1], "trend") == 0 &&
              strcmp(c->names[2], "season") == 0);
        check_sum(c, fc->mean, "ets forecast");
        double es = 0, eb = 0;
        for (size_t h = 0; h < 24; h++) {
            es = fmax(es, fabs(c->values[48 + h] - 5.0 * sin(2.0 * M_PI * (double)(T + h) / P)));
            eb = fmax(eb, fabs(c->values[24 + h] / (double)(h + 1) - 0.5));
            CHECK(c->values[h] == c->values[0]);
        }
        printf("# ets: season off by %.3f, slope by %.4f\n", es, eb);
        CHECK(es < 0.5);
        CHECK(eb < 0.02);
        /* The level at the end is the de-seasonalised last value. */
        CHECK_NEAR(c->values[0], 50.0 + 0.5 * (T - 1), 1.0);
    }
    tsa_forecast_free(fc);
    tsa_components_free(c);
    c = NULL;
    fc = NULL;
    /* After a history, and in-sample: the one-step forecasts. */
    tsa_series s = tsa_series_view(y, T, 1);
    tsa_series h = s;
    h.length = 150;
    CHECK_OK(tsa_model_components(m, &h, 10, &c));
    CHECK_OK(tsa_model_forecast(m, &h, 10, 0.9, &fc));
    if (c && fc)
        check_sum(c, fc->mean, "ets forecast after a history");
    tsa_forecast_free(fc);
    tsa_components_free(c);
    c = NULL;
    CHECK_OK(tsa_model_components(m, &s, 0, &c));
    const size_t ctx = tsa_model_context_length(m);
    for (size_t i = ctx; c && i < T; i += 37) {
        h.length = i;
        fc = NULL;
        CHECK_OK(tsa_model_forecast(m, &h, 1, 0.9, &fc));
        if (fc)
            CHECK_MSG(rel(c->mean[i], fc->mean[0]) <= 1e-9, "row %zu: %.12g vs %.12g", i,
                      c->mean[i], fc->mean[0]);
        tsa_forecast_free(fc);
    }
    tsa_components_free(c);
    tsa_model_free(m);
}

TEST(bad_input)
{
    data_init();
    tsa_components *c = (tsa_components *)1;
    CHECK_STATUS(tsa_model_components(NULL, NULL, 1, &c), TSA_EINVAL);
    CHECK(c == NULL);
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("prophet", NULL, &m));
    CHECK_STATUS(tsa_model_components(m, NULL, 1, NULL), TSA_EINVAL);
    CHECK_STATUS(tsa_model_components(m, NULL, 1, &c), TSA_ENOTFITTED);
    tsa_model_free(m);

    m = fit("prophet", "{\"uncertainty_samples\": 0}", y_, ts_, 100);
    CHECK(m);
    CHECK_STATUS(tsa_model_components(m, NULL, TSA_MAX_HORIZON + 1, &c), TSA_ERANGE);
    CHECK_ERROR_MENTIONS("horizon");
    double two[20] = {0};
    tsa_series x2 = tsa_series_view(two, 10, 2);
    CHECK_STATUS(tsa_model_components(m, &x2, 0, &c), TSA_ESHAPE);
    CHECK_ERROR_MENTIONS("x");
    double bad[3] = {1.0, NAN, INFINITY};
    tsa_series xb = tsa_series_view(bad, 3, 1);
    CHECK_STATUS(tsa_model_components(m, &xb, 0, &c), TSA_ENONFINITE);
    CHECK(c == NULL);
    tsa_model_free(m);

    m = fit("naive", NULL, y_, ts_, 100);
    CHECK(m);
    CHECK_STATUS(tsa_model_components(m, NULL, 5, &c), TSA_EUNSUPPORTED);
    CHECK_ERROR_MENTIONS("naive");
    tsa_model_free(m);

    m = fit("ets", "{\"season\": \"N\"}", y_, NULL, 100);
    CHECK(m);
    CHECK_STATUS(tsa_model_components(m, NULL, 0, &c), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("x:");
    CHECK(c == NULL);
    tsa_model_free(m);
    tsa_components_free(NULL);
}

typedef struct {
    const tsa_model *m;
    const tsa_components *ref;
    int mismatches;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *a = p;
    for (int rep = 0; rep < 20; rep++) {
        tsa_components *c = NULL;
        if (tsa_model_components(a->m, NULL, 60, &c) != TSA_OK || c->length != a->ref->length ||
            memcmp(c->values, a->ref->values,
                   c->n_components * c->length * sizeof(double)) != 0)
            a->mismatches++;
        tsa_components_free(c);
    }
    return NULL;
}

TEST(concurrent_calls_agree)
{
    data_init();
    tsa_model *m = fit("prophet", prophet_json("additive"), y_, ts_, N);
    CHECK(m);
    if (!m)
        return;
    tsa_components *ref = NULL;
    CHECK_OK(tsa_model_components(m, NULL, 60, &ref));
    enum { T = 4 };
    pthread_t th[T];
    worker_arg args[T];
    for (int i = 0; ref && i < T; i++) {
        args[i] = (worker_arg){m, ref, 0};
        pthread_create(&th[i], NULL, worker, &args[i]);
    }
    for (int i = 0; ref && i < T; i++) {
        pthread_join(th[i], NULL);
        CHECK_MSG(args[i].mismatches == 0, "thread %d: %d mismatches", i, args[i].mismatches);
    }
    tsa_components_free(ref);
    tsa_model_free(m);
}

TEST_LIST(TEST_CASE(prophet_recovers_known_components),
          TEST_CASE(prophet_multiplicative_components_add_up), TEST_CASE(ets_level_trend_season),
          TEST_CASE(bad_input), TEST_CASE(concurrent_calls_agree))
