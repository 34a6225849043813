/* Tests of libtsa/models/model.c and registry.c: the generic life cycle and
 * its argument checks, through the public API. */
#include <tsa/tsa.h>

#include <cjson/cJSON.h>

#include "harness.h"

#define T 400
static double data[T * 2];

static void make_data(void)
{
    double a = 0, b = 0;
    unsigned x = 777;
    for (int t = 0; t < T; t++) {
        x = x * 1103515245u + 12345u;
        double e1 = ((x >> 8) % 1000) / 1000.0 - 0.5;
        x = x * 1103515245u + 12345u;
        double e2 = ((x >> 8) % 1000) / 1000.0 - 0.5;
        double na = 1.0 + 0.5 * a - 0.2 * b + e1, nb = 0.3 * a + 0.4 * b + e2;
        a = na;
        b = nb;
        data[2 * t] = a;
        data[2 * t + 1] = b;
    }
}

static tsa_model *fit_default(void)
{
    tsa_series s = tsa_series_view(data, T, 2);
    tsa_model *m = NULL;
    tsa_model_create("multivariate", NULL, &m);
    if (tsa_model_fit(m, &s, NULL) != TSA_OK)
        printf("# fit failed: %s\n", tsa_last_error());
    return m;
}

TEST(registry)
{
    CHECK(tsa_kind_count() >= 1);
    int found = 0;
    for (size_t i = 0; i < tsa_kind_count(); i++)
        found |= strcmp(tsa_kind_name(i), "multivariate") == 0;
    CHECK(found);
    CHECK(tsa_kind_name(tsa_kind_count()) == NULL);
    unsigned caps = tsa_kind_capabilities("multivariate");
    CHECK(caps & TSA_CAP_FORECAST);
    CHECK(caps & TSA_CAP_SCORE);
    CHECK(caps & TSA_CAP_MULTIVARIATE);
    CHECK(tsa_kind_capabilities("var") == caps);
    CHECK(tsa_kind_capabilities("nope") == 0);
    char *json;
    CHECK_OK(tsa_kind_info_json("var", &json));
    cJSON *o = cJSON_Parse(json);
    CHECK(o && strcmp(cJSON_GetObjectItem(o, "name")->valuestring, "multivariate") == 0);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(o, "params")) >= 4);
    cJSON_Delete(o);
    tsa_free(json);
    CHECK_STATUS(tsa_kind_info_json("nope", &json), TSA_EUNKNOWN_KIND);
}

TEST(create_errors)
{
    tsa_model *m = (tsa_model *)1;
    CHECK_STATUS(tsa_model_create("no_such_kind", NULL, &m), TSA_EUNKNOWN_KIND);
    CHECK(m == NULL);
    CHECK_ERROR_MENTIONS("no_such_kind");
    CHECK_STATUS(tsa_model_create(NULL, NULL, &m), TSA_EINVAL);
    CHECK_STATUS(tsa_model_create("multivariate", NULL, NULL), TSA_EINVAL);
    tsa_params *p;
    tsa_params_create(&p);
    tsa_params_set_int(p, "hidden_size", 3);
    CHECK_STATUS(tsa_model_create("multivariate", p, &m), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("hidden_size");
    tsa_params_free(p);
    CHECK_OK(tsa_model_create("var", NULL, &m));
    CHECK(strcmp(tsa_model_kind(m), "multivariate") == 0);
    CHECK(!tsa_model_is_fitted(m));
    CHECK(tsa_model_n_features(m) == 0);
    CHECK(tsa_model_context_length(m) == 0);
    tsa_model_free(m);
    tsa_model_free(NULL);
}

TEST(fit_input_errors)
{
    tsa_model *m;
    CHECK_OK(tsa_model_create("multivariate", NULL, &m));
    tsa_series s = tsa_series_view(data, 0, 2);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("empty");
    CHECK_STATUS(tsa_model_fit(m, NULL, NULL), TSA_EINVAL);
    CHECK_STATUS(tsa_model_fit(NULL, &s, NULL), TSA_EINVAL);
    s = tsa_series_view(data, 12, 2);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ETOOSHORT);
    double bad[T * 2];
    memcpy(bad, data, sizeof bad);
    bad[101] = NAN;
    s = tsa_series_view(bad, T, 2);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("row 50, feature 1");
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    o.size = 4;
    s = tsa_series_view(data, T, 2);
    CHECK_STATUS(tsa_model_fit(m, &s, &o), TSA_EINVAL);
    CHECK(!tsa_model_is_fitted(m));
    tsa_model_free(m);
}

TEST(missing_values_with_mask)
{
    double v[T * 2];
    uint8_t mask[T * 2] = {0};
    memcpy(v, data, sizeof v);
    for (int t = 50; t < T; t += 37) {
        v[2 * t] = NAN;
        mask[2 * t] = 1;
    }
    tsa_series s = tsa_series_view(v, T, 2);
    s.mask = mask;
    tsa_model *m;
    CHECK_OK(tsa_model_create("multivariate", NULL, &m));
    CHECK_OK(tsa_model_fit(m, &s, NULL));
    double scores[T];
    CHECK_OK(tsa_model_score(m, &s, NULL, scores));
    for (int t = 0; t < T; t++)
        CHECK(scores[t] >= 0.0 && scores[t] <= 1.0);
    tsa_model_free(m);
}

TEST(forecast_errors)
{
    tsa_model *m;
    tsa_forecast *fc = (tsa_forecast *)1;
    CHECK_OK(tsa_model_create("multivariate", NULL, &m));
    CHECK_STATUS(tsa_model_forecast(m, NULL, 5, 0.9, &fc), TSA_ENOTFITTED);
    tsa_model_free(m);
    m = fit_default();
    CHECK_STATUS(tsa_model_forecast(m, NULL, 0, 0.9, &fc), TSA_ERANGE);
    CHECK_ERROR_MENTIONS("horizon");
    CHECK_STATUS(tsa_model_forecast(m, NULL, TSA_MAX_HORIZON + 1, 0.9, &fc), TSA_ERANGE);
    CHECK_STATUS(tsa_model_forecast(m, NULL, 5, 1.0, &fc), TSA_ERANGE);
    CHECK_ERROR_MENTIONS("interval");
    CHECK_STATUS(tsa_model_forecast(m, NULL, 5, NAN, &fc), TSA_ERANGE);
    CHECK_STATUS(tsa_model_forecast(m, NULL, 5, 0.9, NULL), TSA_EINVAL);
    tsa_series h = tsa_series_view(data, 50, 1);
    CHECK_STATUS(tsa_model_forecast(m, &h, 5, 0.9, &fc), TSA_ESHAPE);
    CHECK_ERROR_MENTIONS("has 1 features, the model was fitted on 2");
    h = tsa_series_view(data, 1, 2);
    if (tsa_model_context_length(m) > 1) {
        CHECK_STATUS(tsa_model_forecast(m, &h, 5, 0.9, &fc), TSA_ETOOSHORT);
    }
    CHECK(fc == (tsa_forecast *)1); /* outputs untouched on failure */
    tsa_model_free(m);
}

TEST(forecast_shape_and_timestamps)
{
    tsa_model *m = fit_default();
    tsa_forecast *fc;
    CHECK_OK(tsa_model_forecast(m, NULL, 24, 0.8, &fc));
    CHECK(fc->horizon == 24 && fc->n_features == 2 && fc->interval == 0.8);
    CHECK(fc->timestamps == NULL); /* trained without timestamps */
    for (size_t i = 0; i < 48; i++)
        CHECK(fc->lower[i] <= fc->mean[i] && fc->mean[i] <= fc->upper[i]);
    /* Intervals widen with the horizon. */
    CHECK(fc->upper[46] - fc->lower[46] > fc->upper[0] - fc->lower[0]);
    tsa_forecast_free(fc);
    int64_t ts[60];
    for (int i = 0; i < 60; i++)
        ts[i] = 1700000000 + 3600 * i;
    tsa_series h = tsa_series_view(data + 100, 60, 2);
    h.timestamps = ts;
    CHECK_OK(tsa_model_forecast(m, &h, 3, 0.95, &fc));
    CHECK(fc->timestamps && fc->timestamps[0] == ts[59] + 3600 && fc->timestamps[2] == ts[59] + 3 * 3600);
    tsa_forecast_free(fc);
    /* Timestamps that would overflow int64 are an error, not wrap-around. */
    for (int i = 0; i < 60; i++)
        ts[i] = INT64_MAX - 3600 * (60 - i);
    fc = NULL;
    CHECK_STATUS(tsa_model_forecast(m, &h, 3, 0.95, &fc), TSA_ERANGE);
    CHECK(fc == NULL);
    CHECK_ERROR_MENTIONS("overflow");
    tsa_model_free(m);
}

TEST(score_and_detect_errors)
{
    tsa_model *m = fit_default();
    double raw[T];
    tsa_series x = tsa_series_view(data, T, 2);
    CHECK_STATUS(tsa_model_score(m, &x, NULL, NULL), TSA_EINVAL);
    tsa_detection *d = NULL;
    CHECK_STATUS(tsa_model_detect(m, &x, 1.0, &d), TSA_ERANGE);
    CHECK_ERROR_MENTIONS("threshold");
    CHECK_STATUS(tsa_model_detect(m, &x, -0.1, &d), TSA_ERANGE);
    x = tsa_series_view(data, tsa_model_context_length(m), 2);
    CHECK_STATUS(tsa_model_score(m, &x, raw, NULL), TSA_ETOOSHORT);
    x = tsa_series_view(data, T, 2);
    CHECK_OK(tsa_model_detect(m, &x, 0.99, &d));
    CHECK(d && d->length == T);
    size_t flagged = 0;
    for (size_t t = 0; t < T; t++)
        flagged += d->flags[t];
    CHECK(flagged == d->n_anomalies);
    for (size_t i = 0; i < d->n_anomalies; i++)
        CHECK(d->calibrated[d->indices[i]] > 0.99);
    tsa_detection_free(d);
    tsa_model_free(m);
}

TEST(failed_refit_keeps_model)
{
    tsa_model *m = fit_default();
    tsa_forecast *a, *b;
    CHECK_OK(tsa_model_forecast(m, NULL, 5, 0.9, &a));
    tsa_series s = tsa_series_view(data, 5, 2);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ETOOSHORT);
    CHECK(tsa_model_is_fitted(m));
    CHECK_OK(tsa_model_forecast(m, NULL, 5, 0.9, &b));
    CHECK(memcmp(a->mean, b->mean, 10 * sizeof(double)) == 0);
    tsa_forecast_free(a);
    tsa_forecast_free(b);
    tsa_model_free(m);
}

static int calls;
static int cancel_at_second(const tsa_progress *p, void *user)
{
    (void)user;
    calls++;
    return p->step >= 2;
}

TEST(progress_cancels)
{
    tsa_model *m;
    CHECK_OK(tsa_model_create("multivariate", NULL, &m));
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    o.progress = cancel_at_second;
    tsa_series s = tsa_series_view(data, T, 2);
    calls = 0;
    CHECK_STATUS(tsa_model_fit(m, &s, &o), TSA_ECANCELED);
    CHECK(calls >= 1);
    CHECK(!tsa_model_is_fitted(m));
    tsa_model_free(m);
}

TEST(info_json)
{
    tsa_model *m = fit_default();
    char *json;
    CHECK_OK(tsa_model_info_json(m, &json));
    cJSON *o = cJSON_Parse(json);
    CHECK(o != NULL);
    CHECK(strcmp(cJSON_GetObjectItem(o, "kind")->valuestring, "multivariate") == 0);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(o, "fitted")));
    CHECK(cJSON_GetObjectItem(o, "n_features")->valuedouble == 2);
    CHECK(cJSON_GetObjectItem(o, "state") != NULL);
    CHECK(strcmp(cJSON_GetObjectItem(o, "library_version")->valuestring, tsa_version()) == 0);
    cJSON_Delete(o);
    tsa_free(json);
    tsa_model_free(m);
}

static void setup(void) { make_data(); }

TEST(init) { setup(); }

TEST_LIST(TEST_CASE(init), TEST_CASE(registry), TEST_CASE(create_errors), TEST_CASE(fit_input_errors),
          TEST_CASE(missing_values_with_mask), TEST_CASE(forecast_errors),
          TEST_CASE(forecast_shape_and_timestamps), TEST_CASE(score_and_detect_errors),
          TEST_CASE(failed_refit_keeps_model), TEST_CASE(progress_cancels), TEST_CASE(info_json))
