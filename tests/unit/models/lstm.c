/* Tests of the "lstm" kind (libtsa/models/lstm.c over libtsa/nn) through
 * the public API: accuracy against a seasonal-naive baseline, spike
 * detection at threshold 0.95, save/load to the bit, determinism per seed,
 * progress and cancellation, parameter errors, several features and
 * recursive horizons, and concurrent forecast/score. */
#include "nn/kindcheck.h"

/* Small enough to train in about a second (and under a minute with
 * sanitizers), large enough to beat the baseline. */
#define FAST "{\"hidden_size\": 16, \"epochs\": 20, \"seed\": 3}"

static tsa_model *fitted(void)
{
    static tsa_model *m;
    static int tried;
    if (!tried) {
        tried = 1;
        kc_data();
        m = kc_fit("lstm", FAST, kc_clean_->values, KC_TRAIN, 1, NULL);
    }
    return m;
}

TEST(beats_seasonal_naive)
{
    const tsa_model *m = fitted();
    CHECK(m != NULL);
    if (m) {
        CHECK(strcmp(tsa_model_kind(m), "lstm") == 0);
        CHECK(tsa_model_context_length(m) == 30);
        kc_check_accuracy(m, "lstm h16");
    }
}

TEST(detects_spikes)
{
    const tsa_model *m = fitted();
    if (m)
        kc_check_detect(m, 0.07);
}

TEST(save_load_bit_exact)
{
    const tsa_model *m = fitted();
    if (m)
        kc_check_save_load(m);
}

TEST(deterministic_per_seed)
{
    kc_check_determinism("lstm", "{\"hidden_size\": 8, \"num_layers\": 2, \"dropout\": 0.2}");
}

TEST(progress_and_cancel) { kc_check_progress_cancel("lstm", "{\"hidden_size\": 8}"); }

TEST(parameter_errors)
{
    kc_check_common_params("lstm");
    kc_check_param("lstm", "{\"hidden_size\": 0}", "hidden_size");
    kc_check_param("lstm", "{\"num_layers\": 5}", "num_layers");
    kc_check_param("lstm", "{\"sequence_length\": 1}", "sequence_length");
    /* The alias names the same kind. */
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("multivariate_lstm", NULL, &m));
    CHECK(m && strcmp(tsa_model_kind(m), "lstm") == 0);
    tsa_model_free(m);
    CHECK(tsa_kind_capabilities("lstm") ==
          (TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS));
}

TEST(multivariate_and_recursive_horizon)
{
    kc_check_multivariate("lstm",
                          "{\"hidden_size\": 8, \"epochs\": 3, \"prediction_length\": 4, "
                          "\"sequence_length\": 12, \"num_layers\": 2}",
                          4);
}

TEST(uncentred_windows_and_no_validation)
{
    kc_data();
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    o.epochs = 3;
    tsa_model *m = kc_fit("lstm",
                          "{\"hidden_size\": 8, \"center_windows\": false, "
                          "\"validation_split\": 0, \"optimizer\": \"adamw\", "
                          "\"weight_decay\": 0.01}",
                          kc_clean_->values, 600, 1, &o);
    CHECK(m != NULL);
    if (!m)
        return;
    cJSON *root, *st = kc_info(m, &root);
    CHECK(kc_num(st, "validation_windows") == 0 && kc_num(st, "epochs_run") == 3 &&
          kc_num(st, "best_epoch") == 3);
    CHECK(strcmp(cJSON_GetObjectItem(st, "calibrated_on")->valuestring, "training") == 0);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(st, "val_loss")));
    cJSON_Delete(root);
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, 3, 0.5, &fc));
    if (fc)
        CHECK(isfinite(fc->mean[2]) && fc->lower[2] < fc->upper[2]);
    tsa_forecast_free(fc);
    kc_check_save_load(m);
    tsa_model_free(m);
}

/* Values far outside float's range: the forecast fails cleanly, and the
 * step scores as anomalous as possible. */
TEST(extreme_values)
{
    const tsa_model *m = fitted();
    if (!m)
        return;
    static double x[100];
    memcpy(x, kc_clean_->values, sizeof x);
    x[60] = 1e300;
    tsa_series h = tsa_series_view(x, 61, 1);
    tsa_forecast *fc = NULL;
    CHECK_STATUS(tsa_model_forecast(m, &h, 3, 0.9, &fc), TSA_ENUMERIC);
    CHECK(fc == NULL);
    double raw[100], cal[100];
    tsa_series s = tsa_series_view(x, 100, 1);
    CHECK_OK(tsa_model_score(m, &s, raw, cal));
    CHECK(cal[60] == 1.0 && raw[60] > 1e300);
    for (size_t t = 30; t < 100; t++)
        CHECK(cal[t] >= 0.0 && cal[t] <= 1.0 && !isnan(raw[t]));
}

TEST(concurrent_forecast_and_score)
{
    const tsa_model *m = fitted();
    if (m)
        kc_check_concurrency(m);
}

TEST_LIST(TEST_CASE(beats_seasonal_naive), TEST_CASE(detects_spikes),
          TEST_CASE(save_load_bit_exact), TEST_CASE(deterministic_per_seed),
          TEST_CASE(progress_and_cancel), TEST_CASE(parameter_errors),
          TEST_CASE(multivariate_and_recursive_horizon),
          TEST_CASE(uncentred_windows_and_no_validation), TEST_CASE(extreme_values),
          TEST_CASE(concurrent_forecast_and_score))
