/* Tests of libtsa/models/ensemble.c through the public API. */
#include <cjson/cJSON.h>
#include <tsa/tsa.h>

#include "harness.h"

static tsa_generated *series(int anomalies, uint64_t seed)
{
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    o.n_samples = 600;
    o.noise_level = 0.2;
    o.n_anomalies = (size_t)anomalies;
    o.anomaly_magnitude = 8;
    o.seed = seed;
    tsa_generated *g = NULL;
    tsa_generate(&o, &g);
    return g;
}

static tsa_model *fit(const char *kind, const char *json, const tsa_series *s)
{
    tsa_params *p = NULL;
    if (json)
        tsa_params_from_json(json, &p);
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create(kind, p, &m);
    tsa_params_free(p);
    if (rc == TSA_OK)
        rc = tsa_model_fit(m, s, NULL);
    if (rc != TSA_OK) {
        printf("# %s: %s\n", kind, tsa_last_error());
        tsa_model_free(m);
        return NULL;
    }
    return m;
}

TEST(mean_and_median_combine_the_members)
{
    tsa_generated *g = series(0, 1);
    tsa_series s = tsa_series_view(g->values, g->length, 1);
    const char *kinds[] = {"naive", "seasonal_naive", "theta"};
    tsa_forecast *parts[3];
    for (int i = 0; i < 3; i++) {
        tsa_model *m = fit(kinds[i], NULL, &s);
        CHECK(m != NULL);
        CHECK_OK(tsa_model_forecast(m, NULL, 12, 0.9, &parts[i]));
        tsa_model_free(m);
    }
    tsa_model *mean = fit("ensemble", "{\"members\": \"naive,seasonal_naive,theta\"}", &s);
    tsa_model *med = fit("ensemble", "{\"members\": \"naive,seasonal_naive,theta\", \"method\": \"median\"}", &s);
    CHECK(mean && med);
    tsa_forecast *a = NULL, *b = NULL;
    CHECK_OK(tsa_model_forecast(mean, NULL, 12, 0.9, &a));
    CHECK_OK(tsa_model_forecast(med, NULL, 12, 0.9, &b));
    for (int t = 0; a && b && t < 12; t++) {
        double v[3] = {parts[0]->mean[t], parts[1]->mean[t], parts[2]->mean[t]};
        CHECK_NEAR(a->mean[t], (v[0] + v[1] + v[2]) / 3, 1e-9);
        double lo = fmin(v[0], fmin(v[1], v[2])), hi = fmax(v[0], fmax(v[1], v[2]));
        CHECK_NEAR(b->mean[t], v[0] + v[1] + v[2] - lo - hi, 1e-12);
        CHECK(a->lower[t] <= a->mean[t] && a->mean[t] <= a->upper[t]);
    }
    for (int i = 0; i < 3; i++)
        tsa_forecast_free(parts[i]);
    tsa_forecast_free(a);
    tsa_forecast_free(b);
    tsa_model_free(mean);
    tsa_model_free(med);
    tsa_generated_free(g);
}

TEST(weights_favour_the_better_member)
{
    tsa_generated *g = series(0, 2); /* strongly seasonal, period 24 */
    tsa_series s = tsa_series_view(g->values, g->length, 1);
    tsa_model *m = fit("ensemble", "{\"members\": \"naive,seasonal_naive\", \"method\": \"weighted_average\"}", &s);
    CHECK(m != NULL);
    char *json = NULL;
    CHECK_OK(tsa_model_info_json(m, &json));
    cJSON *o = cJSON_Parse(json);
    cJSON *mem = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "state"), "members");
    CHECK(cJSON_GetArraySize(mem) == 2);
    double w0 = cJSON_GetObjectItem(cJSON_GetArrayItem(mem, 0), "weight")->valuedouble;
    double w1 = cJSON_GetObjectItem(cJSON_GetArrayItem(mem, 1), "weight")->valuedouble;
    double r0 = cJSON_GetObjectItem(cJSON_GetArrayItem(mem, 0), "holdout_rmse")->valuedouble;
    double r1 = cJSON_GetObjectItem(cJSON_GetArrayItem(mem, 1), "holdout_rmse")->valuedouble;
    printf("# naive rmse %.3f weight %.3f, seasonal_naive rmse %.3f weight %.3f\n", r0, w0, r1, w1);
    CHECK_NEAR(w0 + w1, 1.0, 1e-12);
    CHECK(r1 < r0 && w1 > w0);
    CHECK_NEAR(w1 / w0, r0 / r1, 1e-9); /* inverse to the holdout errors */
    cJSON_Delete(o);
    tsa_free(json);
    tsa_model_free(m);
    tsa_generated_free(g);
}

TEST(detects_injected_spikes)
{
    tsa_generated *g = series(10, 3);
    tsa_series s = tsa_series_view(g->values, g->length, 1);
    tsa_model *m = fit("ensemble", "{\"members\": \"seasonal_naive,theta\"}", &s);
    CHECK(m != NULL);
    tsa_detection *d = NULL;
    CHECK_OK(tsa_model_detect(m, &s, 0.95, &d));
    size_t found = 0, labelled = 0, false_flags = 0;
    for (size_t t = 0; d && t < g->length; t++) {
        labelled += g->labels[t];
        found += g->labels[t] && d->flags[t];
        false_flags += !g->labels[t] && d->flags[t];
        CHECK(d->calibrated[t] >= 0 && d->calibrated[t] <= 1);
    }
    printf("# found %zu of %zu spikes, %zu other flags of %zu\n", found, labelled, false_flags, g->length);
    CHECK(found >= labelled * 9 / 10);
    CHECK(false_flags <= g->length * 7 / 100); /* 0.95 flags ~5% of normal points by design */
    tsa_detection_free(d);
    tsa_model_free(m);
    tsa_generated_free(g);
}

/* Fitted on the very series it screens, with the default members (ets,
 * theta, naive): the members' tail probabilities combined on a log scale
 * and calibrated find spikes that only some members are sure of (the plain
 * mean of the calibrated scores found 45 of these 75), with at most 2% of
 * normal steps flagged at 0.99. */
TEST(calibrated_mean_finds_spikes_in_its_own_training_series)
{
    size_t found = 0, labelled = 0, false_flags = 0, normal = 0;
    for (uint64_t seed = 11; seed < 16; seed++) {
        tsa_generate_options o;
        tsa_generate_options_init(&o);
        o.n_samples = 2000;
        o.noise_level = 0.1;
        o.n_anomalies = 15;
        o.anomaly_magnitude = 6;
        o.seed = seed;
        tsa_generated *g = NULL;
        CHECK_OK(tsa_generate(&o, &g));
        if (!g)
            continue;
        tsa_series s = tsa_series_view(g->values, g->length, 1);
        tsa_model *m = fit("ensemble", NULL, &s);
        CHECK(m != NULL);
        tsa_detection *d = NULL;
        if (m)
            CHECK_OK(tsa_model_detect(m, &s, 0.99, &d));
        for (size_t t = 100; d && t < g->length; t++) {
            if (g->labels[t]) {
                labelled++;
                found += d->flags[t];
            } else {
                normal++;
                false_flags += d->flags[t];
            }
        }
        tsa_detection_free(d);
        tsa_model_free(m);
        tsa_generated_free(g);
    }
    printf("# default members at 0.99: %zu/%zu spikes, %zu false flags in %zu (%.2f%%)\n", found,
           labelled, false_flags, normal, 100.0 * (double)false_flags / (double)normal);
    CHECK(labelled > 0 && found * 10 >= labelled * 9);
    CHECK(false_flags * 50 <= normal);
}

TEST(save_load_round_trip)
{
    tsa_generated *g = series(0, 4);
    tsa_series s = tsa_series_view(g->values, g->length, 1);
    tsa_model *m = fit("ensemble", "{\"members\": \"ets,theta\", \"method\": \"weighted_average\"}", &s);
    CHECK(m != NULL);
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    tsa_model *l = NULL;
    CHECK_OK(tsa_model_load(buf, len, &l));
    tsa_forecast *a = NULL, *b = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, 24, 0.8, &a));
    CHECK_OK(tsa_model_forecast(l, NULL, 24, 0.8, &b));
    CHECK(a && b && memcmp(a->mean, b->mean, 24 * sizeof(double)) == 0);
    CHECK(a && b && memcmp(a->upper, b->upper, 24 * sizeof(double)) == 0);
    double *r1 = malloc(g->length * sizeof *r1), *r2 = malloc(g->length * sizeof *r2);
    double *c1 = malloc(g->length * sizeof *c1), *c2 = malloc(g->length * sizeof *c2);
    CHECK_OK(tsa_model_score(m, &s, r1, c1));
    CHECK_OK(tsa_model_score(l, &s, r2, c2));
    CHECK(memcmp(r1, r2, g->length * sizeof *r1) == 0 && memcmp(c1, c2, g->length * sizeof *c1) == 0);
    free(r1);
    free(r2);
    free(c1);
    free(c2);
    for (size_t n = 0; n < len; n += 1 + n / 16) {
        tsa_model *x = NULL;
        void *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        CHECK(tsa_model_load(cut, n, &x) == TSA_EFORMAT && x == NULL);
        free(cut);
    }
    tsa_forecast_free(a);
    tsa_forecast_free(b);
    tsa_free(buf);
    tsa_model_free(l);
    tsa_model_free(m);
    tsa_generated_free(g);
}

TEST(bad_members)
{
    tsa_generated *g = series(0, 5);
    tsa_series s = tsa_series_view(g->values, g->length, 1);
    tsa_params *p = NULL;
    tsa_model *m = NULL;
    CHECK_OK(tsa_params_from_json("{\"members\": \"naive,banana\"}", &p));
    CHECK_OK(tsa_model_create("ensemble", p, &m));
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("members: unknown model kind 'banana'");
    CHECK(!tsa_model_is_fitted(m));
    tsa_model_free(m);
    tsa_params_free(p);
    CHECK_OK(tsa_params_from_json("{\"members\": \"ensemble\"}", &p));
    CHECK_OK(tsa_model_create("ensemble", p, &m));
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_EPARAM);
    tsa_model_free(m);
    tsa_params_free(p);
    CHECK_OK(tsa_params_from_json("{\"method\": \"mode\"}", &p));
    CHECK_STATUS(tsa_model_create("ensemble", p, &m), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("method");
    tsa_params_free(p);
    /* Two features with univariate members. */
    double two[200];
    for (int i = 0; i < 200; i++)
        two[i] = sin(i * 0.3) + (i % 2);
    tsa_series s2 = tsa_series_view(two, 100, 2);
    CHECK_OK(tsa_params_from_json("{\"members\": \"multivariate,ets\"}", &p));
    CHECK_OK(tsa_model_create("ensemble", p, &m));
    CHECK_STATUS(tsa_model_fit(m, &s2, NULL), TSA_ESHAPE);
    CHECK_ERROR_MENTIONS("univariate");
    tsa_model_free(m);
    tsa_params_free(p);
    tsa_generated_free(g);
}

TEST(multivariate_members)
{
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    o.n_samples = 400;
    o.n_features = 2;
    tsa_generated *g = NULL;
    CHECK_OK(tsa_generate(&o, &g));
    tsa_series s = tsa_series_view(g->values, g->length, 2);
    tsa_model *m = fit("ensemble", NULL, &s); /* auto: multivariate,hmm */
    CHECK(m != NULL);
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, &s, 5, 0.9, &fc));
    CHECK(fc && fc->n_features == 2);
    tsa_forecast_free(fc);
    tsa_model_free(m);
    tsa_generated_free(g);
}

TEST_LIST(TEST_CASE(mean_and_median_combine_the_members), TEST_CASE(weights_favour_the_better_member),
          TEST_CASE(detects_injected_spikes),
          TEST_CASE(calibrated_mean_finds_spikes_in_its_own_training_series), TEST_CASE(save_load_round_trip), TEST_CASE(bad_members),
          TEST_CASE(multivariate_members))
