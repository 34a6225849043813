/* Tests of the "multivariate" kind (libtsa/models/multivariate.c) through
 * the public API: parameters, fit, forecasts checked against the
 * coefficients the model reports, scores and detection on injected spikes,
 * the trend time index with timestamps, save/load, info JSON, progress and
 * cancellation, argument errors, and concurrent forecast/score/detect on
 * one fitted model (8 threads x 200 rounds, compared bit for bit with a
 * single-threaded reference). */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <tsa/tsa.h>

#include "core/rng.h"

#include "harness.h"

enum { K = 3, N_TRAIN = 2000, N_TEST = 500 };

/* A stable VAR(2) with correlated innovations (L is the Cholesky factor of
 * [[1, .3, .1], [.3, 1, .2], [.1, .2, 1]]). */
static const double TRUE_C[K] = {0.2, -0.1, 0.1};
static const double TRUE_A[2][K][K] = {
    {{0.4, 0.1, 0.0}, {0.2, 0.3, -0.1}, {0.0, 0.2, 0.3}},
    {{-0.2, 0.0, 0.1}, {0.0, -0.25, 0.0}, {0.1, 0.0, 0.2}},
};

static void simulate(uint64_t seed, size_t T, double *y)
{
    const double L[K][K] = {{1.0, 0.0, 0.0},
                            {0.3, 0.9539392014169456, 0.0},
                            {0.1, 0.17820132316770915, 0.9789022782303006}};
    size_t burn = 300;
    double *all = calloc((T + burn) * K, sizeof *all);
    tsa_rng rng;
    tsa_rng_seed(&rng, seed);
    for (size_t t = 2; t < T + burn; t++) {
        double e[K];
        for (size_t r = 0; r < K; r++)
            e[r] = tsa_rng_normal(&rng);
        for (size_t r = 0; r < K; r++) {
            double v = TRUE_C[r];
            for (size_t i = 1; i <= 2; i++)
                for (size_t c = 0; c < K; c++)
                    v += TRUE_A[i - 1][r][c] * all[(t - i) * K + c];
            for (size_t c = 0; c <= r; c++)
                v += L[r][c] * e[c];
            all[t * K + r] = v;
        }
    }
    memcpy(y, all + burn * K, T * K * sizeof *y);
    free(all);
}

static double train_data[N_TRAIN * K];
static double test_data[N_TEST * K];

static tsa_params *params_json(const char *json)
{
    tsa_params *p = NULL;
    if (tsa_params_from_json(json, &p) != TSA_OK)
        printf("# params %s: %s\n", json, tsa_last_error());
    return p;
}

static tsa_model *fit_with(const char *json, const double *y, size_t T, size_t k)
{
    tsa_params *p = json ? params_json(json) : NULL;
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create("multivariate", p, &m);
    tsa_params_free(p);
    if (rc != TSA_OK) {
        printf("# create: %s\n", tsa_last_error());
        return NULL;
    }
    tsa_series s = tsa_series_view(y, T, k);
    rc = tsa_model_fit(m, &s, NULL);
    if (rc != TSA_OK) {
        printf("# fit: %s\n", tsa_last_error());
        tsa_model_free(m);
        return NULL;
    }
    return m;
}

static cJSON *info_state(const tsa_model *m, cJSON **root)
{
    char *json = NULL;
    *root = NULL;
    if (tsa_model_info_json(m, &json) != TSA_OK)
        return NULL;
    *root = cJSON_Parse(json);
    tsa_free(json);
    return *root ? cJSON_GetObjectItem(*root, "state") : NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* Fills the data once; every test calls it, so any subset can run alone. */
static void data_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    simulate(20240602, N_TRAIN, train_data);
    simulate(99, N_TEST, test_data);
}

TEST(fit_selects_order_and_reports_coefficients)
{
    data_init();
    tsa_model *m = fit_with("{\"max_lags\": 8, \"ic\": \"bic\"}", train_data, N_TRAIN, K);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(strcmp(tsa_model_kind(m), "multivariate") == 0);
    CHECK(tsa_model_is_fitted(m));
    CHECK(tsa_model_n_features(m) == K);
    CHECK(tsa_model_context_length(m) == 2);

    cJSON *root, *st = info_state(m, &root);
    CHECK(st != NULL);
    if (st) {
        CHECK(num(st, "order") == 2);
        CHECK(strcmp(cJSON_GetObjectItem(st, "ic")->valuestring, "bic") == 0);
        CHECK(strcmp(cJSON_GetObjectItem(st, "order_selection")->valuestring, "bic") == 0);
        CHECK(strcmp(cJSON_GetObjectItem(st, "trend")->valuestring, "c") == 0);
        CHECK(num(st, "nobs") == N_TRAIN - 2);
        CHECK(num(st, "max_lags") == 8);
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(st, "stable")));
        CHECK(num(st, "max_root_modulus") < 1.0);
        CHECK(isfinite(num(st, "llf")) && isfinite(num(st, "aic")) &&
              isfinite(num(st, "bic")) && isfinite(num(st, "hqic")));
        cJSON *sel = cJSON_GetObjectItem(st, "selection");
        CHECK(cJSON_GetArraySize(sel) == 9); /* orders 0..8 */
        CHECK(num(cJSON_GetArrayItem(sel, 0), "order") == 0);
        CHECK(num(cJSON_GetArrayItem(sel, 8), "order") == 8);
        /* The selected order has the smallest BIC. */
        double best = INFINITY;
        int arg = -1;
        for (int i = 0; i < cJSON_GetArraySize(sel); i++) {
            double b = num(cJSON_GetArrayItem(sel, i), "bic");
            if (b < best) {
                best = b;
                arg = i;
            }
        }
        CHECK(arg == 2);

        cJSON *coef = cJSON_GetObjectItem(st, "coefficients");
        cJSON *icpt = cJSON_GetObjectItem(coef, "intercept");
        cJSON *lags = cJSON_GetObjectItem(coef, "lags");
        CHECK(cJSON_GetArraySize(icpt) == K && cJSON_GetArraySize(lags) == 2);
        CHECK(cJSON_GetObjectItem(coef, "trend") == NULL);
        double err = 0.0;
        for (int r = 0; r < K; r++)
            err = fmax(err, fabs(cJSON_GetArrayItem(icpt, r)->valuedouble - TRUE_C[r]));
        for (int i = 0; i < 2; i++)
            for (int r = 0; r < K; r++)
                for (int c = 0; c < K; c++) {
                    double a = cJSON_GetArrayItem(
                                   cJSON_GetArrayItem(cJSON_GetArrayItem(lags, i), r), c)
                                   ->valuedouble;
                    err = fmax(err, fabs(a - TRUE_A[i][r][c]));
                }
        printf("# BIC order %g, max |coef - true| = %.4f (T = %d)\n", num(st, "order"), err,
               N_TRAIN);
        CHECK(err < 0.08);
        cJSON *sig = cJSON_GetObjectItem(st, "sigma_u");
        CHECK(cJSON_GetArraySize(sig) == K && cJSON_GetArraySize(cJSON_GetArrayItem(sig, 0)) == K);

        /* One step ahead from the training tail equals c + A1 y_T + A2 y_{T-1}
         * with the reported coefficients (cJSON prints ~15-17 significant digits). */
        tsa_forecast *fc = NULL;
        CHECK_OK(tsa_model_forecast(m, NULL, 3, 0.95, &fc));
        if (fc) {
            CHECK(fc->horizon == 3 && fc->n_features == K && fc->interval == 0.95);
            CHECK(fc->timestamps == NULL);
            for (int r = 0; r < K; r++) {
                double e = cJSON_GetArrayItem(icpt, r)->valuedouble;
                for (int i = 0; i < 2; i++)
                    for (int c = 0; c < K; c++)
                        e += cJSON_GetArrayItem(
                                 cJSON_GetArrayItem(cJSON_GetArrayItem(lags, i), r), c)
                                 ->valuedouble *
                             train_data[(N_TRAIN - 1 - i) * K + c];
                CHECK_NEAR(fc->mean[r], e, 1e-9);
                /* h = 1: the interval half-width is 1.96 sqrt(Sigma_u[r][r]). */
                double s = cJSON_GetArrayItem(cJSON_GetArrayItem(sig, r), r)->valuedouble;
                CHECK_NEAR(fc->upper[r] - fc->mean[r], 1.959963984540054 * sqrt(s), 1e-9);
            }
            for (size_t i = 0; i < 3 * K; i++)
                CHECK(fc->lower[i] < fc->mean[i] && fc->mean[i] < fc->upper[i]);
            /* The same history given explicitly gives the same forecast. */
            tsa_series h = tsa_series_view(train_data + (N_TRAIN - 10) * K, 10, K);
            tsa_forecast *fc2 = NULL;
            CHECK_OK(tsa_model_forecast(m, &h, 3, 0.95, &fc2));
            if (fc2)
                CHECK(memcmp(fc->mean, fc2->mean, 3 * K * sizeof(double)) == 0 &&
                      memcmp(fc->upper, fc2->upper, 3 * K * sizeof(double)) == 0);
            tsa_forecast_free(fc2);
        }
        tsa_forecast_free(fc);
    }
    cJSON_Delete(root);
    tsa_model_free(m);
}

TEST(alias_univariate_and_defaults)
{
    data_init();
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("var", NULL, &m));
    CHECK(m && strcmp(tsa_model_kind(m), "multivariate") == 0);
    tsa_params *p = NULL;
    CHECK_OK(tsa_model_params(m, &p));
    int64_t v = 0;
    const char *s = NULL;
    CHECK_OK(tsa_params_get_int(p, "max_lags", &v));
    CHECK(v == 10);
    CHECK_OK(tsa_params_get_int(p, "order", &v));
    CHECK(v == 0);
    CHECK_OK(tsa_params_get_int(p, "seed", &v));
    CHECK(v == 42);
    CHECK_OK(tsa_params_get_str(p, "ic", &s));
    CHECK(s && strcmp(s, "aic") == 0);
    CHECK_OK(tsa_params_get_str(p, "trend", &s));
    CHECK(s && strcmp(s, "c") == 0);
    tsa_params_free(p);
    tsa_model_free(m);

    /* Univariate: feature 0 of the training data, fixed order 1. */
    double *y = malloc(N_TRAIN * sizeof *y);
    for (size_t t = 0; t < N_TRAIN; t++)
        y[t] = train_data[t * K];
    m = fit_with("{\"order\": 1, \"seed\": 7}", y, N_TRAIN, 1);
    CHECK(m != NULL);
    if (m) {
        CHECK(tsa_model_context_length(m) == 1);
        tsa_forecast *fc = NULL;
        CHECK_OK(tsa_model_forecast(m, NULL, 5, 0.9, &fc));
        CHECK(fc && fc->n_features == 1);
        tsa_forecast_free(fc);
    }
    tsa_model_free(m);
    free(y);
}

TEST(parameter_errors_name_the_key)
{
    data_init();
    struct {
        const char *json, *key;
    } cases[] = {
        {"{\"max_lag\": 5}", "max_lag"},   {"{\"ic\": \"foo\"}", "ic"},
        {"{\"trend\": \"ctt\"}", "trend"}, {"{\"max_lags\": 0}", "max_lags"},
        {"{\"max_lags\": 101}", "max_lags"}, {"{\"order\": 101}", "order"},
        {"{\"order\": -1}", "order"},      {"{\"seed\": -1}", "seed"},
        {"{\"ic\": 3}", "ic"},             {"{\"max_lags\": \"ten\"}", "max_lags"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsa_params *p = params_json(cases[i].json);
        tsa_model *m = NULL;
        CHECK_STATUS(tsa_model_create("multivariate", p, &m), TSA_EPARAM);
        CHECK_ERROR_MENTIONS(cases[i].key);
        CHECK(m == NULL);
        tsa_params_free(p);
    }
}

TEST(fit_errors)
{
    data_init();
    tsa_params *p = params_json("{\"max_lags\": 10}");
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("multivariate", p, &m));
    tsa_params_free(p);
    if (!m)
        return;
    tsa_series s = tsa_series_view(train_data, 43, K);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ETOOSHORT);
    CHECK_ERROR_MENTIONS("44");
    CHECK(!tsa_model_is_fitted(m));

    double *y = malloc(300 * K * sizeof *y);
    memcpy(y, train_data, 300 * K * sizeof *y);
    for (size_t t = 0; t < 300; t++)
        y[t * K + 2] = 1.5;
    s = tsa_series_view(y, 300, K);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ENUMERIC);
    CHECK_ERROR_MENTIONS("feature 2");
    CHECK(!tsa_model_is_fitted(m));
    free(y);
    tsa_model_free(m);
}

TEST(forecast_and_score_errors)
{
    data_init();
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("multivariate", NULL, &m));
    if (!m)
        return;
    tsa_forecast *fc = NULL;
    tsa_series h = tsa_series_view(train_data, 20, K);
    CHECK_STATUS(tsa_model_forecast(m, &h, 5, 0.95, &fc), TSA_ENOTFITTED);
    CHECK_STATUS(tsa_model_forecast(m, NULL, 5, 0.95, &fc), TSA_ENOTFITTED);
    double raw[20];
    CHECK_STATUS(tsa_model_score(m, &h, raw, NULL), TSA_ENOTFITTED);
    tsa_model_free(m);

    m = fit_with("{\"order\": 2}", train_data, N_TRAIN, K);
    if (!m)
        return;
    tsa_series wrong = tsa_series_view(train_data, 20, 2);
    CHECK_STATUS(tsa_model_forecast(m, &wrong, 5, 0.95, &fc), TSA_ESHAPE);
    CHECK_STATUS(tsa_model_score(m, &wrong, raw, NULL), TSA_ESHAPE);
    CHECK_STATUS(tsa_model_forecast(m, &h, 0, 0.95, &fc), TSA_ERANGE);
    CHECK_ERROR_MENTIONS("horizon");
    CHECK_STATUS(tsa_model_forecast(m, &h, TSA_MAX_HORIZON + 1, 0.95, &fc), TSA_ERANGE);
    CHECK_STATUS(tsa_model_forecast(m, &h, 5, 1.0, &fc), TSA_ERANGE);
    CHECK_STATUS(tsa_model_forecast(m, &h, 5, 0.0, &fc), TSA_ERANGE);
    tsa_series one = tsa_series_view(train_data, 1, K);
    CHECK_STATUS(tsa_model_forecast(m, &one, 5, 0.95, &fc), TSA_ETOOSHORT);
    CHECK(fc == NULL);

    double y[20 * K];
    memcpy(y, train_data, sizeof y);
    y[7 * K + 1] = NAN;
    tsa_series bad = tsa_series_view(y, 20, K);
    CHECK_STATUS(tsa_model_forecast(m, &bad, 5, 0.95, &fc), TSA_ENONFINITE);
    CHECK_STATUS(tsa_model_score(m, &bad, raw, NULL), TSA_ENONFINITE);
    /* Marked missing, the same value is fine. */
    uint8_t mask[20 * K] = {0};
    mask[7 * K + 1] = 1;
    bad.mask = mask;
    CHECK_OK(tsa_model_forecast(m, &bad, 5, 0.95, &fc));
    tsa_forecast_free(fc);
    fc = NULL;
    CHECK_OK(tsa_model_score(m, &bad, raw, NULL));
    tsa_model_free(m);
}

TEST(detect_flags_injected_spikes)
{
    data_init();
    tsa_model *m = fit_with(NULL, train_data, N_TRAIN, K);
    if (!m)
        return;
    size_t p = tsa_model_context_length(m);
    double y[N_TEST * K];
    memcpy(y, test_data, sizeof y);
    const size_t at[] = {40, 97, 150, 233, 301, 377, 420, 488};
    const size_t n_spikes = sizeof at / sizeof at[0];
    for (size_t s = 0; s < n_spikes; s++)
        y[at[s] * K + s % K] += (s % 2 ? 8.0 : -8.0);
    tsa_series x = tsa_series_view(y, N_TEST, K);
    tsa_detection *d = NULL;
    CHECK_OK(tsa_model_detect(m, &x, 0.99, &d));
    if (d) {
        CHECK(d->length == N_TEST && d->threshold == 0.99);
        size_t found = 0, other = 0;
        for (size_t i = 0; i < d->n_anomalies; i++) {
            int spike = 0;
            for (size_t s = 0; s < n_spikes; s++)
                spike |= d->indices[i] == at[s];
            found += (size_t)spike;
            int after = 0; /* a spike is a lagged regressor for p steps */
            for (size_t s = 0; s < n_spikes; s++)
                after |= d->indices[i] > at[s] && d->indices[i] <= at[s] + p;
            other += (size_t)(!spike && !after);
            CHECK(d->flags[d->indices[i]] == 1);
            CHECK(d->calibrated[d->indices[i]] > 0.99);
            if (i)
                CHECK(d->indices[i] > d->indices[i - 1]);
        }
        printf("# detect: %zu/%zu spikes flagged, %zu other flags in %d steps\n", found,
               n_spikes, other, N_TEST);
        CHECK(found == n_spikes);
        CHECK(other <= 15); /* ~1% of 500 expected */
        for (size_t t = 0; t < p; t++)
            CHECK(d->raw[t] == 0.0 && d->calibrated[t] == 0.0 && d->flags[t] == 0);
        for (size_t t = 0; t < N_TEST; t++)
            CHECK(d->calibrated[t] >= 0.0 && d->calibrated[t] <= 1.0);

        /* score gives the same numbers. */
        double raw[N_TEST], cal[N_TEST];
        CHECK_OK(tsa_model_score(m, &x, raw, cal));
        CHECK(memcmp(raw, d->raw, sizeof raw) == 0 && memcmp(cal, d->calibrated, sizeof cal) == 0);
    }
    tsa_detection_free(d);
    tsa_model_free(m);
}

TEST(trend_index_follows_timestamps)
{
    data_init();
    /* A series with a linear drift, timestamps every 60 s. */
    enum { TT = 800 };
    static double y[TT * 2];
    static int64_t ts[TT];
    tsa_rng rng;
    tsa_rng_seed(&rng, 5);
    double a = 0.0, b = 0.0;
    for (size_t t = 0; t < TT; t++) {
        double na = 0.5 + 0.01 * (double)(t + 1) + 0.5 * a + 0.1 * b + tsa_rng_normal(&rng);
        double nb = -0.2 - 0.005 * (double)(t + 1) + 0.2 * a + 0.3 * b + tsa_rng_normal(&rng);
        a = na;
        b = nb;
        y[2 * t] = a;
        y[2 * t + 1] = b;
        ts[t] = 1700000000 + 60 * (int64_t)t;
    }
    tsa_params *p = params_json("{\"trend\": \"ct\", \"order\": 1}");
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("multivariate", p, &m));
    tsa_params_free(p);
    if (!m)
        return;
    tsa_series s = tsa_series_view(y, TT, 2);
    s.timestamps = ts;
    CHECK_OK(tsa_model_fit(m, &s, NULL));
    cJSON *root, *st = info_state(m, &root);
    cJSON *slope = st ? cJSON_GetObjectItem(cJSON_GetObjectItem(st, "coefficients"), "trend")
                      : NULL;
    CHECK(cJSON_GetArraySize(slope) == 2);
    if (cJSON_GetArraySize(slope) == 2) {
        double d0 = cJSON_GetArrayItem(slope, 0)->valuedouble;
        double d1 = cJSON_GetArrayItem(slope, 1)->valuedouble;
        printf("# trend slopes %.5f %.5f\n", d0, d1);
        /* Without history the forecast continues from the training end; the
         * tail given with its timestamps must give the same numbers. */
        tsa_forecast *f0 = NULL, *f1 = NULL, *f2 = NULL;
        CHECK_OK(tsa_model_forecast(m, NULL, 2, 0.9, &f0));
        tsa_series h = tsa_series_view(y + (TT - 4) * 2, 4, 2);
        h.timestamps = ts + TT - 4;
        CHECK_OK(tsa_model_forecast(m, &h, 2, 0.9, &f1));
        if (f0 && f1) {
            CHECK(memcmp(f0->mean, f1->mean, 4 * sizeof(double)) == 0);
            CHECK(f0->timestamps && f0->timestamps[0] == ts[TT - 1] + 60);
        }
        /* The same rows stamped 5 steps later: the trend moves by 5 slopes. */
        int64_t later[4];
        for (int i = 0; i < 4; i++)
            later[i] = ts[TT - 4 + i] + 5 * 60;
        h.timestamps = later;
        CHECK_OK(tsa_model_forecast(m, &h, 2, 0.9, &f2));
        if (f1 && f2) {
            CHECK_NEAR(f2->mean[0] - f1->mean[0], 5.0 * d0, 1e-9);
            CHECK_NEAR(f2->mean[1] - f1->mean[1], 5.0 * d1, 1e-9);
            CHECK(f2->timestamps && f2->timestamps[0] == later[3] + 60);
        }
        tsa_forecast_free(f0);
        tsa_forecast_free(f1);
        tsa_forecast_free(f2);
    }
    cJSON_Delete(root);
    tsa_model_free(m);
}

TEST(save_load_round_trip)
{
    data_init();
    tsa_model *m = fit_with("{\"max_lags\": 6, \"ic\": \"hqic\"}", train_data, N_TRAIN, K);
    if (!m)
        return;
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    tsa_model *u = NULL;
    CHECK_OK(tsa_model_load(buf, len, &u));
    if (u) {
        CHECK(tsa_model_context_length(u) == tsa_model_context_length(m));
        tsa_forecast *a = NULL, *b = NULL;
        CHECK_OK(tsa_model_forecast(m, NULL, 30, 0.8, &a));
        CHECK_OK(tsa_model_forecast(u, NULL, 30, 0.8, &b));
        if (a && b)
            CHECK(memcmp(a->mean, b->mean, 30 * K * sizeof(double)) == 0 &&
                  memcmp(a->lower, b->lower, 30 * K * sizeof(double)) == 0 &&
                  memcmp(a->upper, b->upper, 30 * K * sizeof(double)) == 0);
        tsa_forecast_free(a);
        tsa_forecast_free(b);
        double r1[N_TEST], r2[N_TEST];
        tsa_series x = tsa_series_view(test_data, N_TEST, K);
        CHECK_OK(tsa_model_score(m, &x, r1, NULL));
        CHECK_OK(tsa_model_score(u, &x, r2, NULL));
        CHECK(memcmp(r1, r2, sizeof r1) == 0);
        char *j1 = NULL, *j2 = NULL;
        CHECK_OK(tsa_model_info_json(m, &j1));
        CHECK_OK(tsa_model_info_json(u, &j2));
        CHECK(j1 && j2 && strcmp(j1, j2) == 0);
        tsa_free(j1);
        tsa_free(j2);
    }
    tsa_model_free(u);

    /* Every truncation fails cleanly. */
    size_t bad = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        tsa_model *t = NULL;
        tsa_status rc = tsa_model_load(copy, n, &t);
        if (rc == TSA_OK || t != NULL)
            bad++;
        tsa_model_free(t);
        free(copy);
    }
    printf("# %zu truncated model files, %zu loaded\n", len, bad);
    CHECK(bad == 0);
    tsa_free(buf);
    tsa_model_free(m);
}

typedef struct {
    int64_t calls, last_step, total;
    int64_t cancel_at;
    int stage_ok;
} progress_state;

static int on_progress(const tsa_progress *p, void *user)
{
    progress_state *s = user;
    s->stage_ok &= strcmp(p->stage, "order_selection") == 0 && p->step == s->calls &&
                   isnan(p->train_loss) && isnan(p->val_loss);
    s->calls++;
    s->last_step = p->step;
    s->total = p->total;
    return p->step == s->cancel_at;
}

TEST(progress_and_cancel)
{
    data_init();
    tsa_params *p = params_json("{\"max_lags\": 5}");
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("multivariate", p, &m));
    tsa_params_free(p);
    if (!m)
        return;
    tsa_series s = tsa_series_view(train_data, N_TRAIN, K);
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    progress_state st = {0, -1, 0, -1, 1};
    o.progress = on_progress;
    o.user = &st;
    CHECK_OK(tsa_model_fit(m, &s, &o));
    CHECK(st.stage_ok && st.calls == 6 && st.last_step == 5 && st.total == 5);

    /* Cancel a refit at order 3: TSA_ECANCELED, the earlier fit stays. */
    tsa_forecast *before = NULL, *after = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, 4, 0.9, &before));
    progress_state stop = {0, -1, 0, 3, 1};
    o.user = &stop;
    tsa_series s2 = tsa_series_view(test_data, N_TEST, K);
    CHECK_STATUS(tsa_model_fit(m, &s2, &o), TSA_ECANCELED);
    CHECK(stop.calls == 4);
    CHECK(tsa_model_is_fitted(m));
    CHECK_OK(tsa_model_forecast(m, NULL, 4, 0.9, &after));
    if (before && after)
        CHECK(memcmp(before->mean, after->mean, 4 * K * sizeof(double)) == 0);
    tsa_forecast_free(before);
    tsa_forecast_free(after);
    tsa_model_free(m);
}

/* ---- concurrency ------------------------------------------------------------- */

enum { N_THREADS = 8, ROUNDS = 200, H = 12, N_SCORE = 300 };

typedef struct {
    const tsa_model *m;
    const double *ref_fc_null; /* (H, K) mean, lower, upper stacked */
    const double *ref_fc_hist;
    const double *ref_raw, *ref_cal;
    size_t ref_n_anom;
    int mismatches;
    int errors;
} worker_arg;

static int same_forecast(const tsa_forecast *fc, const double *ref)
{
    size_t n = H * K * sizeof(double);
    return memcmp(fc->mean, ref, n) == 0 && memcmp(fc->lower, ref + H * K, n) == 0 &&
           memcmp(fc->upper, ref + 2 * H * K, n) == 0;
}

static void *worker(void *p)
{
    worker_arg *w = p;
    tsa_series hist = tsa_series_view(test_data + 50 * K, 25, K);
    tsa_series x = tsa_series_view(test_data, N_SCORE, K);
    double *raw = malloc(N_SCORE * sizeof *raw), *cal = malloc(N_SCORE * sizeof *cal);
    for (int r = 0; r < ROUNDS; r++) {
        tsa_forecast *fc = NULL;
        if (tsa_model_forecast(w->m, (r & 1) ? &hist : NULL, H, 0.9, &fc) != TSA_OK) {
            w->errors++;
        } else if (!same_forecast(fc, (r & 1) ? w->ref_fc_hist : w->ref_fc_null)) {
            w->mismatches++;
        }
        tsa_forecast_free(fc);
        if (tsa_model_score(w->m, &x, raw, cal) != TSA_OK)
            w->errors++;
        else if (memcmp(raw, w->ref_raw, N_SCORE * sizeof *raw) != 0 ||
                 memcmp(cal, w->ref_cal, N_SCORE * sizeof *cal) != 0)
            w->mismatches++;
        tsa_detection *d = NULL;
        if (tsa_model_detect(w->m, &x, 0.95, &d) != TSA_OK)
            w->errors++;
        else if (d->n_anomalies != w->ref_n_anom ||
                 memcmp(d->calibrated, w->ref_cal, N_SCORE * sizeof *cal) != 0)
            w->mismatches++;
        tsa_detection_free(d);
    }
    free(raw);
    free(cal);
    return NULL;
}

TEST(concurrent_forecast_score_detect)
{
    data_init();
    tsa_model *m = fit_with(NULL, train_data, N_TRAIN, K);
    if (!m)
        return;
    static double ref_null[3 * H * K], ref_hist[3 * H * K], ref_raw[N_SCORE], ref_cal[N_SCORE];
    tsa_series hist = tsa_series_view(test_data + 50 * K, 25, K);
    tsa_series x = tsa_series_view(test_data, N_SCORE, K);
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, H, 0.9, &fc));
    if (!fc) {
        tsa_model_free(m);
        return;
    }
    memcpy(ref_null, fc->mean, H * K * sizeof(double));
    memcpy(ref_null + H * K, fc->lower, H * K * sizeof(double));
    memcpy(ref_null + 2 * H * K, fc->upper, H * K * sizeof(double));
    tsa_forecast_free(fc);
    fc = NULL;
    CHECK_OK(tsa_model_forecast(m, &hist, H, 0.9, &fc));
    if (!fc) {
        tsa_model_free(m);
        return;
    }
    memcpy(ref_hist, fc->mean, H * K * sizeof(double));
    memcpy(ref_hist + H * K, fc->lower, H * K * sizeof(double));
    memcpy(ref_hist + 2 * H * K, fc->upper, H * K * sizeof(double));
    tsa_forecast_free(fc);
    CHECK_OK(tsa_model_score(m, &x, ref_raw, ref_cal));
    tsa_detection *d = NULL;
    CHECK_OK(tsa_model_detect(m, &x, 0.95, &d));
    size_t n_anom = d ? d->n_anomalies : 0;
    tsa_detection_free(d);

    pthread_t th[N_THREADS];
    worker_arg args[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = (worker_arg){m, ref_null, ref_hist, ref_raw, ref_cal, n_anom, 0, 0};
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    int mismatches = 0, errors = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        mismatches += args[i].mismatches;
        errors += args[i].errors;
    }
    printf("# %d threads x %d rounds x 3 calls: %d errors, %d mismatches\n", N_THREADS, ROUNDS,
           errors, mismatches);
    CHECK(errors == 0 && mismatches == 0);
    tsa_model_free(m);
}

TEST_LIST(TEST_CASE(fit_selects_order_and_reports_coefficients),
          TEST_CASE(alias_univariate_and_defaults), TEST_CASE(parameter_errors_name_the_key),
          TEST_CASE(fit_errors), TEST_CASE(forecast_and_score_errors),
          TEST_CASE(detect_flags_injected_spikes), TEST_CASE(trend_index_follows_timestamps),
          TEST_CASE(save_load_round_trip), TEST_CASE(progress_and_cancel),
          TEST_CASE(concurrent_forecast_score_detect))
