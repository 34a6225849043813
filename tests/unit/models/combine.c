/* Tests of libtsa/models/combine.c (tsa_forecast_combine) through the
 * public API, on hand-made member forecasts with known combinations. */
#include <tsa/tsa.h>

#include "harness.h"

enum { H = 3, K = 2 };

/* A member of H steps and K features: mean m + t, bounds mean -/+ half. */
typedef struct member {
    tsa_forecast fc;
    double mean[H * K], lower[H * K], upper[H * K];
    int64_t ts[H];
} member;

static void member_init(member *x, double m, double half, double interval)
{
    for (size_t i = 0; i < H * K; i++) {
        x->mean[i] = m + (double)(i / K);
        x->lower[i] = x->mean[i] - half;
        x->upper[i] = x->mean[i] + half;
    }
    for (size_t t = 0; t < H; t++)
        x->ts[t] = 1000 + 60 * (int64_t)t;
    x->fc = (tsa_forecast){H, K, interval, x->mean, x->lower, x->upper, NULL};
}

TEST(method_names_round_trip_and_unknown_names_fail)
{
    tsa_combine_method m = TSA_COMBINE_MEAN;
    const char *names[] = {"mean", "median", "weighted_average"};
    for (int i = 0; i < 3; i++) {
        CHECK_OK(tsa_combine_method_from_name(names[i], &m));
        CHECK(m == (tsa_combine_method)i);
        CHECK(strcmp(tsa_combine_method_name(m), names[i]) == 0);
    }
    CHECK_STATUS(tsa_combine_method_from_name("average", &m), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("'average'");
    CHECK_ERROR_MENTIONS("weighted_average");
    CHECK(m == TSA_COMBINE_WEIGHTED); /* untouched on failure */
    CHECK_STATUS(tsa_combine_method_from_name(NULL, &m), TSA_EINVAL);
    CHECK(strcmp(tsa_combine_method_name((tsa_combine_method)7), "unknown") == 0);
}

TEST(mean_and_median_of_three_members)
{
    member a, b, c;
    member_init(&a, 1.0, 0.5, 0.9);
    member_init(&b, 2.0, 1.0, 0.9);
    member_init(&c, 6.0, 4.0, 0.9);
    const tsa_forecast *ms[] = {&a.fc, &b.fc, &c.fc};
    tsa_forecast *fc = NULL;
    double w[3];
    CHECK_OK(tsa_forecast_combine(ms, 3, TSA_COMBINE_MEAN, NULL, w, &fc));
    for (size_t i = 0; fc && i < H * K; i++) {
        double t = (double)(i / K);
        CHECK_NEAR(fc->mean[i], 3.0 + t, 1e-12);
        CHECK_NEAR(fc->lower[i], 3.0 + t - 5.5 / 3.0, 1e-12);
        CHECK_NEAR(fc->upper[i], 3.0 + t + 5.5 / 3.0, 1e-12);
    }
    CHECK(fc && fc->horizon == H && fc->n_features == K && fc->interval == 0.9);
    CHECK(fc && fc->timestamps == NULL);
    CHECK_NEAR(w[0], 1.0 / 3.0, 1e-15);
    tsa_forecast_free(fc);

    fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 3, TSA_COMBINE_MEDIAN, NULL, w, &fc));
    for (size_t i = 0; fc && i < H * K; i++) {
        double t = (double)(i / K);
        CHECK_NEAR(fc->mean[i], 2.0 + t, 1e-12);
        CHECK_NEAR(fc->lower[i], 1.0 + t, 1e-12);  /* median of 0.5, 1, 2 */
        CHECK_NEAR(fc->upper[i], 3.0 + t, 1e-12);  /* median of 1.5, 3, 10 */
    }
    tsa_forecast_free(fc);

    /* An even count takes the middle pair's mean. */
    fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEDIAN, NULL, NULL, &fc));
    CHECK(fc && fc->mean[0] == 1.5 && fc->lower[0] == 0.75 && fc->upper[0] == 2.25);
    tsa_forecast_free(fc);
}

TEST(given_weights_are_normalised)
{
    member a, b;
    member_init(&a, 0.0, 1.0, 0.8);
    member_init(&b, 10.0, 1.0, 0.8);
    const tsa_forecast *ms[] = {&a.fc, &b.fc};
    const double given[] = {3.0, 1.0};
    double used[2];
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 2, TSA_COMBINE_WEIGHTED, given, used, &fc));
    CHECK_NEAR(used[0], 0.75, 1e-15);
    CHECK_NEAR(used[1], 0.25, 1e-15);
    CHECK(fc && fabs(fc->mean[0] - 2.5) < 1e-12 && fabs(fc->upper[K] - 4.5) < 1e-12);
    tsa_forecast_free(fc);
    /* Weights only matter for the weighted method. */
    fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, given, used, &fc));
    CHECK(fc && fc->mean[0] == 5.0 && used[0] == 0.5);
    tsa_forecast_free(fc);
}

TEST(derived_weights_are_inverse_to_the_implied_spread)
{
    /* 95% intervals of half-width z * sd: sd 1 and sd 2 weigh 2/3 and 1/3. */
    const double z = 1.959963984540054;
    member a, b;
    member_init(&a, 0.0, z * 1.0, 0.95);
    member_init(&b, 3.0, z * 2.0, 0.95);
    const tsa_forecast *ms[] = {&a.fc, &b.fc};
    double used[2];
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 2, TSA_COMBINE_WEIGHTED, NULL, used, &fc));
    CHECK_NEAR(used[0], 2.0 / 3.0, 1e-9);
    CHECK_NEAR(used[1], 1.0 / 3.0, 1e-9);
    CHECK(fc && fabs(fc->mean[0] - 1.0) < 1e-8);
    tsa_forecast_free(fc);

    /* A member without spread makes the weights equal. */
    member c;
    member_init(&c, 9.0, 0.0, 0.95);
    const tsa_forecast *ms3[] = {&a.fc, &b.fc, &c.fc};
    double used3[3];
    fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms3, 3, TSA_COMBINE_WEIGHTED, NULL, used3, &fc));
    CHECK(used3[0] == 1.0 / 3.0 && used3[2] == 1.0 / 3.0);
    CHECK(fc && fabs(fc->mean[0] - 4.0) < 1e-12);
    tsa_forecast_free(fc);
}

TEST(timestamps_come_from_the_first_member_that_has_them)
{
    member a, b;
    member_init(&a, 0.0, 1.0, 0.9);
    member_init(&b, 1.0, 1.0, 0.9);
    b.fc.timestamps = b.ts;
    const tsa_forecast *ms[] = {&a.fc, &b.fc};
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, NULL, NULL, &fc));
    CHECK(fc && fc->timestamps && fc->timestamps != b.ts && fc->timestamps[2] == 1120);
    tsa_forecast_free(fc);
}

TEST(bounds_never_cross_the_mean)
{
    /* Malformed members (bounds on the wrong side) still give an ordered
     * result. */
    member a;
    member_init(&a, 0.0, -1.0, 0.9);
    const tsa_forecast *ms[] = {&a.fc};
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_forecast_combine(ms, 1, TSA_COMBINE_MEAN, NULL, NULL, &fc));
    for (size_t i = 0; fc && i < H * K; i++)
        CHECK(fc->lower[i] == fc->mean[i] && fc->upper[i] == fc->mean[i]);
    tsa_forecast_free(fc);
}

TEST(bad_input_is_refused_with_a_named_cause)
{
    member a, b;
    member_init(&a, 0.0, 1.0, 0.9);
    member_init(&b, 1.0, 1.0, 0.9);
    const tsa_forecast *ms[] = {&a.fc, &b.fc};
    tsa_forecast *fc = (tsa_forecast *)&a; /* must stay untouched on failure */
    tsa_forecast *const keep = fc;

    CHECK_STATUS(tsa_forecast_combine(NULL, 2, TSA_COMBINE_MEAN, NULL, NULL, &fc), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("members");
    CHECK_STATUS(tsa_forecast_combine(ms, 0, TSA_COMBINE_MEAN, NULL, NULL, &fc), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("n:");
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, NULL, NULL, NULL), TSA_EINVAL);
    CHECK_STATUS(tsa_forecast_combine(ms, 2, (tsa_combine_method)9, NULL, NULL, &fc), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("method");

    b.fc.horizon = 2;
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, NULL, NULL, &fc), TSA_ESHAPE);
    CHECK_ERROR_MENTIONS("members[1]");
    b.fc.horizon = H;
    b.fc.interval = 0.8;
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, NULL, NULL, &fc), TSA_ESHAPE);
    CHECK_ERROR_MENTIONS("interval");
    b.fc.interval = 0.9;
    b.mean[4] = NAN;
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, NULL, NULL, &fc), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("members[1]");
    b.mean[4] = 1.0;
    const tsa_forecast *with_null[] = {&a.fc, NULL};
    CHECK_STATUS(tsa_forecast_combine(with_null, 2, TSA_COMBINE_MEAN, NULL, NULL, &fc), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("members[1]");

    const double negative[] = {1.0, -1.0}, zero[] = {0.0, 0.0}, nan_w[] = {1.0, NAN};
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_WEIGHTED, negative, NULL, &fc), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("weights[1]");
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_WEIGHTED, zero, NULL, &fc), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("weights");
    CHECK_STATUS(tsa_forecast_combine(ms, 2, TSA_COMBINE_WEIGHTED, nan_w, NULL, &fc), TSA_EINVAL);
    CHECK(fc == keep);
}

TEST(the_ensemble_kind_forecasts_the_combination_of_its_members)
{
    /* An ensemble of naive and seasonal_naive with the mean equals the
     * library's combination of the two members fitted alone. */
    double y[96];
    for (int t = 0; t < 96; t++)
        y[t] = 10.0 + (double)(t % 12) + 0.01 * (double)t;
    tsa_series s = tsa_series_view(y, 96, 1);
    const char *kinds[] = {"naive", "seasonal_naive"};
    tsa_forecast *parts[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        tsa_model *m = NULL;
        CHECK_OK(tsa_model_create(kinds[i], NULL, &m));
        CHECK_OK(tsa_model_fit(m, &s, NULL));
        CHECK_OK(tsa_model_forecast(m, NULL, 6, 0.9, &parts[i]));
        tsa_model_free(m);
    }
    tsa_params *p = NULL;
    tsa_model *e = NULL;
    CHECK_OK(tsa_params_from_json("{\"members\": \"naive,seasonal_naive\", \"method\": \"mean\"}", &p));
    CHECK_OK(tsa_model_create("ensemble", p, &e));
    tsa_params_free(p);
    tsa_forecast *got = NULL, *want = NULL;
    if (e && parts[0] && parts[1]) {
        CHECK_OK(tsa_model_fit(e, &s, NULL));
        CHECK_OK(tsa_model_forecast(e, NULL, 6, 0.9, &got));
        const tsa_forecast *ms[] = {parts[0], parts[1]};
        CHECK_OK(tsa_forecast_combine(ms, 2, TSA_COMBINE_MEAN, NULL, NULL, &want));
        for (size_t t = 0; got && want && t < 6; t++)
            CHECK_NEAR(got->mean[t], want->mean[t], 1e-9);
    }
    tsa_forecast_free(got);
    tsa_forecast_free(want);
    tsa_forecast_free(parts[0]);
    tsa_forecast_free(parts[1]);
    tsa_model_free(e);
}

TEST_LIST(TEST_CASE(method_names_round_trip_and_unknown_names_fail),
          TEST_CASE(mean_and_median_of_three_members), TEST_CASE(given_weights_are_normalised),
          TEST_CASE(derived_weights_are_inverse_to_the_implied_spread),
          TEST_CASE(timestamps_come_from_the_first_member_that_has_them),
          TEST_CASE(bounds_never_cross_the_mean), TEST_CASE(bad_input_is_refused_with_a_named_cause),
          TEST_CASE(the_ensemble_kind_forecasts_the_combination_of_its_members))
