/* Tests of the "cnn" kind (libtsa/models/cnn.c, a TCN over libtsa/nn)
 * through the public API: accuracy against a seasonal-naive baseline, spike
 * detection at threshold 0.95, the receptive-field rule for n_layers,
 * save/load to the bit, determinism per seed, progress and cancellation,
 * parameter errors, several features and recursive horizons, and
 * concurrent forecast/score. */
#include "nn/kindcheck.h"

#define FAST "{\"channels\": 16, \"epochs\": 12, \"seed\": 3}"

static tsa_model *fitted(void)
{
    static tsa_model *m;
    static int tried;
    if (!tried) {
        tried = 1;
        kc_data();
        m = kc_fit("cnn", FAST, kc_clean_->values, KC_TRAIN, 1, NULL);
    }
    return m;
}

TEST(beats_seasonal_naive)
{
    const tsa_model *m = fitted();
    CHECK(m != NULL);
    if (m) {
        CHECK(strcmp(tsa_model_kind(m), "cnn") == 0);
        kc_check_accuracy(m, "cnn c16");
    }
}

TEST(detects_spikes)
{
    const tsa_model *m = fitted();
    if (m)
        kc_check_detect(m, 0.07);
}

TEST(receptive_field_covers_the_window)
{
    const tsa_model *m = fitted();
    if (m) {
        /* kernel 3, window 30: 4 layers see 1 + 2 * 15 = 31 rows, 3 only 15. */
        cJSON *root, *st = kc_info(m, &root);
        CHECK(kc_num(st, "conv_layers") == 4 && kc_num(st, "receptive_field") == 31);
        cJSON_Delete(root);
    }
    kc_data();
    tsa_model *bad = NULL;
    tsa_params *p = kc_params("{\"n_layers\": 3}");
    CHECK_OK(tsa_model_create("cnn", p, &bad));
    tsa_params_free(p);
    if (bad) {
        tsa_series s = tsa_series_view(kc_clean_->values, 500, 1);
        CHECK_STATUS(tsa_model_fit(bad, &s, NULL), TSA_EPARAM);
        CHECK_ERROR_MENTIONS("n_layers");
        CHECK(!tsa_model_is_fitted(bad));
    }
    tsa_model_free(bad);
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    o.epochs = 1;
    /* kernel 11: 2 layers see 1 + 10 * 3 = 31 rows. */
    tsa_model *ok = kc_fit("cnn", "{\"n_layers\": 2, \"kernel_size\": 11, \"channels\": 4}",
                           kc_clean_->values, 500, 1, &o);
    CHECK(ok != NULL);
    tsa_model_free(ok);
}

TEST(save_load_bit_exact)
{
    const tsa_model *m = fitted();
    if (m)
        kc_check_save_load(m);
}

TEST(deterministic_per_seed)
{
    kc_check_determinism("cnn", "{\"channels\": 8, \"dropout\": 0.1}");
}

TEST(progress_and_cancel) { kc_check_progress_cancel("cnn", "{\"channels\": 8}"); }

TEST(parameter_errors)
{
    kc_check_common_params("cnn");
    kc_check_param("cnn", "{\"channels\": 0}", "channels");
    kc_check_param("cnn", "{\"kernel_size\": 1}", "kernel_size");
    kc_check_param("cnn", "{\"n_layers\": 17}", "n_layers");
}

TEST(multivariate_and_recursive_horizon)
{
    kc_check_multivariate("cnn",
                          "{\"channels\": 8, \"epochs\": 3, \"prediction_length\": 3, "
                          "\"sequence_length\": 16}",
                          3);
}

TEST(concurrent_forecast_and_score)
{
    const tsa_model *m = fitted();
    if (m)
        kc_check_concurrency(m);
}

TEST_LIST(TEST_CASE(beats_seasonal_naive), TEST_CASE(detects_spikes),
          TEST_CASE(receptive_field_covers_the_window), TEST_CASE(save_load_bit_exact),
          TEST_CASE(deterministic_per_seed), TEST_CASE(progress_and_cancel),
          TEST_CASE(parameter_errors), TEST_CASE(multivariate_and_recursive_horizon),
          TEST_CASE(concurrent_forecast_and_score))
