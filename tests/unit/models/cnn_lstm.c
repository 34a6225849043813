/* Tests of the "cnn_lstm" kind (libtsa/models/cnn_lstm.c: causal
 * convolutions feeding an LSTM, over libtsa/nn) through the public API:
 * accuracy against a seasonal-naive baseline, spike detection at threshold
 * 0.95, save/load to the bit, determinism per seed, progress and
 * cancellation, parameter errors, several features and recursive horizons,
 * and concurrent forecast/score. */
#include "nn/kindcheck.h"

#define FAST "{\"channels\": 8, \"hidden_size\": 16, \"epochs\": 12, \"seed\": 3}"

static tsa_model *fitted(void)
{
    static tsa_model *m;
    static int tried;
    if (!tried) {
        tried = 1;
        kc_data();
        m = kc_fit("cnn_lstm", FAST, kc_clean_->values, KC_TRAIN, 1, NULL);
    }
    return m;
}

TEST(beats_seasonal_naive)
{
    const tsa_model *m = fitted();
    CHECK(m != NULL);
    if (m) {
        CHECK(strcmp(tsa_model_kind(m), "cnn_lstm") == 0);
        kc_check_accuracy(m, "cnn_lstm c8 h16");
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
    kc_check_determinism("cnn_lstm", "{\"channels\": 4, \"hidden_size\": 8, \"num_layers\": 2, "
                                     "\"dropout\": 0.1}");
}

TEST(progress_and_cancel)
{
    kc_check_progress_cancel("cnn_lstm", "{\"channels\": 4, \"hidden_size\": 8}");
}

TEST(parameter_errors)
{
    kc_check_common_params("cnn_lstm");
    kc_check_param("cnn_lstm", "{\"conv_layers\": 0}", "conv_layers");
    kc_check_param("cnn_lstm", "{\"hidden_size\": 5000}", "hidden_size");
    kc_check_param("cnn_lstm", "{\"kernel_size\": 0}", "kernel_size");
}

TEST(multivariate_and_recursive_horizon)
{
    kc_check_multivariate("cnn_lstm",
                          "{\"channels\": 4, \"hidden_size\": 8, \"epochs\": 3, "
                          "\"prediction_length\": 2, \"sequence_length\": 12}",
                          2);
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
          TEST_CASE(multivariate_and_recursive_horizon), TEST_CASE(concurrent_forecast_and_score))
