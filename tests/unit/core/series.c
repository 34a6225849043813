/* Tests of libtsa/core/series.c: validation and the missing-value fill. */
#include <tsa/tsa.h>

#include "core/series.h"
#include "harness.h"

TEST(validate)
{
    double v[6] = {1, 2, 3, 4, 5, 6};
    tsa_series s = tsa_series_view(v, 3, 2);
    CHECK_OK(tsa_series_validate(&s));
    CHECK_STATUS(tsa_series_validate(NULL), TSA_EINVAL);
    s.length = 0;
    CHECK_STATUS(tsa_series_validate(&s), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("empty");
    s = tsa_series_view(NULL, 3, 2);
    CHECK_STATUS(tsa_series_validate(&s), TSA_EINVAL);
    s = tsa_series_view(v, 3, 0);
    CHECK_STATUS(tsa_series_validate(&s), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("n_features");
    v[3] = NAN;
    s = tsa_series_view(v, 3, 2);
    CHECK_STATUS(tsa_series_validate(&s), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("row 1, feature 1 is NaN");
    uint8_t mask[6] = {0, 0, 0, 1, 0, 0};
    s.mask = mask;
    CHECK_OK(tsa_series_validate(&s));
    v[3] = INFINITY;
    s.mask = NULL;
    CHECK_STATUS(tsa_series_validate(&s), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("infinite");
    v[3] = 4;
    int64_t ts[3] = {10, 20, 20};
    s.timestamps = ts;
    CHECK_STATUS(tsa_series_validate(&s), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("timestamps");
    ts[2] = 30;
    CHECK_OK(tsa_series_validate(&s));
    CHECK(tsa_series_median_step(&s) == 10);
    s = tsa_series_view(v, (size_t)1 << 40, 4);
    CHECK_STATUS(tsa_series_validate(&s), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("limit");
}

TEST(fill_missing_interpolates)
{
    /* Feature 0: gap in the middle and at both ends; feature 1 complete. */
    double v[] = {NAN, 10, 1, 11, NAN, 12, NAN, 13, 4, 14, NAN, 15};
    uint8_t mask[] = {1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0};
    tsa_series s = tsa_series_view(v, 6, 2);
    s.mask = mask;
    CHECK(tsa_series_has_missing(&s));
    double *f;
    CHECK_OK(tsa_series_fill_missing(&s, "x", &f));
    CHECK_NEAR(f[0], 1.0, 0);  /* leading gap: nearest value */
    CHECK_NEAR(f[4], 2.0, 1e-15);
    CHECK_NEAR(f[6], 3.0, 1e-15);
    CHECK_NEAR(f[10], 4.0, 0); /* trailing gap */
    CHECK_NEAR(f[5], 12.0, 0);
    free(f);
    uint8_t all[] = {1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0};
    s.mask = all;
    CHECK_STATUS(tsa_series_fill_missing(&s, "x", &f), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("feature 0 has no observed value");
}

TEST_LIST(TEST_CASE(validate), TEST_CASE(fill_missing_interpolates))
