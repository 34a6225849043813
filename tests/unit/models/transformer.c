/* Tests of the "transformer" kind (libtsa/models/transformer.c, a pre-norm
 * causal encoder over libtsa/nn) through the public API: accuracy against a
 * seasonal-naive baseline, spike detection at threshold 0.95, save/load to
 * the bit, determinism per seed, progress and cancellation, parameter
 * errors (n_heads must divide d_model), several features and recursive
 * horizons, and concurrent forecast/score. */
#include "nn/kindcheck.h"

#define FAST                                                                                 \
    "{\"d_model\": 16, \"n_heads\": 2, \"n_layers\": 1, \"ff_size\": 32, \"window\": 32, "  \
    "\"epochs\": 12, \"seed\": 3}"

static tsa_model *fitted(void)
{
    static tsa_model *m;
    static int tried;
    if (!tried) {
        tried = 1;
        kc_data();
        m = kc_fit("transformer", FAST, kc_clean_->values, KC_TRAIN, 1, NULL);
    }
    return m;
}

TEST(beats_seasonal_naive)
{
    const tsa_model *m = fitted();
    CHECK(m != NULL);
    if (m) {
        CHECK(strcmp(tsa_model_kind(m), "transformer") == 0);
        CHECK(tsa_model_context_length(m) == 32);
        kc_check_accuracy(m, "transformer d16");
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
    kc_check_determinism("transformer", "{\"d_model\": 8, \"n_heads\": 2, \"n_layers\": 2, "
                                        "\"ff_size\": 16, \"window\": 16, \"dropout\": 0.1}");
}

TEST(progress_and_cancel)
{
    kc_check_progress_cancel("transformer", "{\"d_model\": 8, \"n_heads\": 2, \"window\": 16}");
}

TEST(parameter_errors)
{
    kc_check_common_params("transformer");
    kc_check_param("transformer", "{\"d_model\": 1}", "d_model");
    kc_check_param("transformer", "{\"n_heads\": 0}", "n_heads");
    kc_check_param("transformer", "{\"window\": 1}", "window");
    kc_check_param("transformer", "{\"sequence_length\": 30}", "sequence_length");
    /* Heads must divide the width: known only with both, so at fit. */
    kc_data();
    tsa_model *m = NULL;
    tsa_params *p = kc_params("{\"d_model\": 30, \"n_heads\": 4}");
    CHECK_OK(tsa_model_create("transformer", p, &m));
    tsa_params_free(p);
    if (m) {
        tsa_series s = tsa_series_view(kc_clean_->values, 500, 1);
        CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_EPARAM);
        CHECK_ERROR_MENTIONS("n_heads");
    }
    tsa_model_free(m);
}

TEST(multivariate_and_recursive_horizon)
{
    kc_check_multivariate("transformer",
                          "{\"d_model\": 8, \"n_heads\": 2, \"ff_size\": 16, \"epochs\": 3, "
                          "\"prediction_length\": 5, \"window\": 20}",
                          5);
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
