/* Known-answer and validation tests for libtsa/core/metrics.c. */
#include <tsa/metrics.h>

#include <math.h>
#include <stdint.h>

#include "../harness.h"

static const double Y[] = {1, 2, 3, 4};
static const double YHAT[] = {2, 2, 1, 5}; /* errors 1, 0, 2, 1 */
/* Seasonal-naive in-sample errors: m = 1: 2, 1, 3, 1 (scale 7/4);
 * m = 2: 1, 2, 2 (scale 5/3). */
static const double TRAIN[] = {1, 3, 2, 5, 4};

TEST(mae_known)
{
    double v = -1;
    CHECK_OK(tsa_metric_mae(Y, YHAT, 4, &v));
    CHECK_NEAR(v, 1.0, 1e-15);
    CHECK_OK(tsa_metric_mae(Y, Y, 4, &v));
    CHECK_NEAR(v, 0.0, 0.0);
}

TEST(rmse_known)
{
    double v = -1;
    CHECK_OK(tsa_metric_rmse(Y, YHAT, 4, &v));
    CHECK_NEAR(v, sqrt(6.0 / 4.0), 1e-15);
    CHECK_OK(tsa_metric_rmse(Y, Y, 4, &v));
    CHECK_NEAR(v, 0.0, 0.0);
    /* Squares of these would overflow; the scaled sum does not. */
    const double big[] = {3e200, -4e200}, zero[] = {0, 0};
    CHECK_OK(tsa_metric_rmse(big, zero, 2, &v));
    CHECK_NEAR(v / 1e200, sqrt(12.5), 1e-12);
}

TEST(mape_known)
{
    double v = -1;
    CHECK_OK(tsa_metric_mape(Y, YHAT, 4, &v));
    /* 100/4 * (1/1 + 0/2 + 2/3 + 1/4) */
    CHECK_NEAR(v, 25.0 * (1.0 + 2.0 / 3.0 + 0.25), 1e-12);
    const double yn[] = {-2, 4}, yhn[] = {-1, 5}; /* |y| in the denominator */
    CHECK_OK(tsa_metric_mape(yn, yhn, 2, &v));
    CHECK_NEAR(v, 50.0 * (0.5 + 0.25), 1e-12);
}

TEST(mape_zero_y)
{
    const double y[] = {1, 0, 3}, yh[] = {1, 1, 1};
    double v = -7;
    CHECK_STATUS(tsa_metric_mape(y, yh, 3, &v), TSA_ENUMERIC);
    CHECK_ERROR_MENTIONS("y[1]");
    CHECK(v == -7);
}

TEST(smape_known)
{
    double v = -1;
    CHECK_OK(tsa_metric_smape(Y, YHAT, 4, &v));
    /* 100/4 * (2*1/3 + 0 + 2*2/4 + 2*1/9) */
    CHECK_NEAR(v, 25.0 * (2.0 / 3.0 + 1.0 + 2.0 / 9.0), 1e-12);
    /* The 0/0 term counts 0. */
    const double y0[] = {0, 1}, yh0[] = {0, 3};
    CHECK_OK(tsa_metric_smape(y0, yh0, 2, &v));
    CHECK_NEAR(v, 50.0 * (0.0 + 1.0), 1e-12);
    const double z[] = {0, 0};
    CHECK_OK(tsa_metric_smape(z, z, 2, &v));
    CHECK_NEAR(v, 0.0, 0.0);
    /* Upper bound 200: opposite signs or one side zero. */
    const double a[] = {0, 5}, b[] = {1, -5};
    CHECK_OK(tsa_metric_smape(a, b, 2, &v));
    CHECK_NEAR(v, 200.0, 1e-12);
    /* Near the top of the double range, no overflow. */
    const double hy[] = {1e308}, hyh[] = {-1e308};
    CHECK_OK(tsa_metric_smape(hy, hyh, 1, &v));
    CHECK_NEAR(v, 200.0, 1e-12);
}

TEST(mase_known)
{
    double v = -1;
    CHECK_OK(tsa_metric_mase(Y, YHAT, 4, TRAIN, 5, 1, &v));
    CHECK_NEAR(v, 1.0 / (7.0 / 4.0), 1e-14);
    CHECK_OK(tsa_metric_mase(Y, YHAT, 4, TRAIN, 5, 2, &v));
    CHECK_NEAR(v, 1.0 / (5.0 / 3.0), 1e-14);
    /* Largest valid m: n_train - 1, a single seasonal difference |4 - 1|. */
    CHECK_OK(tsa_metric_mase(Y, YHAT, 4, TRAIN, 5, 4, &v));
    CHECK_NEAR(v, 1.0 / 3.0, 1e-14);
}

TEST(mase_errors)
{
    double v = -7;
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, TRAIN, 5, 0, &v), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("m:");
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, TRAIN, 2, 2, &v), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("n_train");
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, TRAIN, 0, 1, &v), TSA_EINVAL);
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, NULL, 5, 1, &v), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("train");
    const double flat[] = {2, 2, 2};
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, flat, 3, 1, &v), TSA_ENUMERIC);
    CHECK_ERROR_MENTIONS("scale");
    /* Constant at lag 2 but not at lag 1. */
    const double alt[] = {1, 2, 1, 2};
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, alt, 4, 2, &v), TSA_ENUMERIC);
    CHECK_OK(tsa_metric_mase(Y, YHAT, 4, alt, 4, 1, &v));
    CHECK_NEAR(v, 1.0, 1e-15);
    v = -7;
    const double badtrain[] = {1, 2, NAN, 4};
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 4, badtrain, 4, 1, &v), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("train[2]");
    CHECK(v == -7);
}

typedef tsa_status (*pair_metric)(const double *, const double *, size_t, double *);

TEST(pair_validation)
{
    const pair_metric fns[] = {tsa_metric_mae, tsa_metric_rmse, tsa_metric_mape,
                               tsa_metric_smape};
    const char *names[] = {"mae", "rmse", "mape", "smape"};
    const double yb[] = {1, 2, 3, 4}, yhb[] = {1, 2, 3, INFINITY};
    const double ynan[] = {NAN, 2, 3, 4};
    for (size_t k = 0; k < sizeof fns / sizeof fns[0]; k++) {
        double v = -7;
        printf("# %s\n", names[k]);
        CHECK_STATUS(fns[k](NULL, Y, 4, &v), TSA_EINVAL);
        CHECK_ERROR_MENTIONS("y:");
        CHECK_STATUS(fns[k](Y, NULL, 4, &v), TSA_EINVAL);
        CHECK_ERROR_MENTIONS("yhat");
        CHECK_STATUS(fns[k](Y, YHAT, 4, NULL), TSA_EINVAL);
        CHECK_ERROR_MENTIONS("out");
        CHECK_STATUS(fns[k](Y, YHAT, 0, &v), TSA_EINVAL);
        CHECK_ERROR_MENTIONS("n:");
        CHECK_STATUS(fns[k](yb, yhb, 4, &v), TSA_ENONFINITE);
        CHECK_ERROR_MENTIONS("yhat[3]");
        CHECK_STATUS(fns[k](ynan, YHAT, 4, &v), TSA_ENONFINITE);
        CHECK_ERROR_MENTIONS("y[0]");
        CHECK(v == -7); /* outputs untouched on failure */
    }
    double v = -7;
    CHECK_STATUS(tsa_metric_mase(Y, yhb, 4, TRAIN, 5, 1, &v), TSA_ENONFINITE);
    CHECK_ERROR_MENTIONS("yhat[3]");
    CHECK_STATUS(tsa_metric_mase(NULL, YHAT, 4, TRAIN, 5, 1, &v), TSA_EINVAL);
    CHECK_STATUS(tsa_metric_mase(Y, YHAT, 0, TRAIN, 5, 1, &v), TSA_EINVAL);
    CHECK(v == -7);
}

TEST(overflow)
{
    const double a[] = {1e308, 1e308}, b[] = {-1e308, -1e308};
    double v = -7;
    CHECK_STATUS(tsa_metric_mae(a, b, 2, &v), TSA_ENUMERIC);
    CHECK_STATUS(tsa_metric_rmse(a, b, 2, &v), TSA_ENUMERIC);
    const double tiny[] = {1e-300}, huge[] = {1e300};
    CHECK_STATUS(tsa_metric_mape(tiny, huge, 1, &v), TSA_ENUMERIC);
    CHECK(v == -7);
}

TEST(classification_known)
{
    const uint8_t labels[] = {1, 1, 0, 0, 1, 0};
    const uint8_t flags[] = {1, 0, 1, 0, 1, 0};
    tsa_classification c;
    CHECK_OK(tsa_metric_classification(labels, flags, 6, &c));
    CHECK(c.true_positives == 2);
    CHECK(c.false_negatives == 1);
    CHECK(c.false_positives == 1);
    CHECK(c.true_negatives == 2);
    CHECK_NEAR(c.precision, 2.0 / 3.0, 1e-15);
    CHECK_NEAR(c.recall, 2.0 / 3.0, 1e-15);
    CHECK_NEAR(c.f1, 2.0 / 3.0, 1e-15);

    /* Any non-zero byte is an anomaly. tp 1, fp 2, fn 1, tn 0. */
    const uint8_t l2[] = {7, 0, 0, 1}, f2[] = {255, 2, 1, 0};
    CHECK_OK(tsa_metric_classification(l2, f2, 4, &c));
    CHECK(c.true_positives == 1 && c.false_positives == 2);
    CHECK(c.false_negatives == 1 && c.true_negatives == 0);
    CHECK_NEAR(c.precision, 1.0 / 3.0, 1e-15);
    CHECK_NEAR(c.recall, 0.5, 1e-15);
    CHECK_NEAR(c.f1, 2.0 * (1.0 / 3.0) * 0.5 / (1.0 / 3.0 + 0.5), 1e-15); /* 0.4 */
}

TEST(classification_degenerate)
{
    tsa_classification c;
    /* Nothing flagged: precision 0 by convention, recall 0. */
    const uint8_t labels[] = {0, 1, 1, 0}, none[] = {0, 0, 0, 0}, some[] = {1, 0, 0, 1};
    CHECK_OK(tsa_metric_classification(labels, none, 4, &c));
    CHECK(c.true_positives == 0 && c.false_positives == 0);
    CHECK(c.false_negatives == 2 && c.true_negatives == 2);
    CHECK(c.precision == 0.0 && c.recall == 0.0 && c.f1 == 0.0);
    /* Nothing labelled: recall 0, precision 0 (all flags false). */
    CHECK_OK(tsa_metric_classification(none, some, 4, &c));
    CHECK(c.true_positives == 0 && c.false_positives == 2);
    CHECK(c.false_negatives == 0 && c.true_negatives == 2);
    CHECK(c.precision == 0.0 && c.recall == 0.0 && c.f1 == 0.0);
    /* Neither. */
    CHECK_OK(tsa_metric_classification(none, none, 4, &c));
    CHECK(c.true_negatives == 4);
    CHECK(c.precision == 0.0 && c.recall == 0.0 && c.f1 == 0.0);
    /* Perfect. */
    CHECK_OK(tsa_metric_classification(labels, labels, 4, &c));
    CHECK(c.precision == 1.0 && c.recall == 1.0 && c.f1 == 1.0);
}

TEST(classification_validation)
{
    const uint8_t a[] = {1, 0};
    tsa_classification c = {.true_positives = 99};
    CHECK_STATUS(tsa_metric_classification(NULL, a, 2, &c), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("labels");
    CHECK_STATUS(tsa_metric_classification(a, NULL, 2, &c), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("flags");
    CHECK_STATUS(tsa_metric_classification(a, a, 2, NULL), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("out");
    CHECK_STATUS(tsa_metric_classification(a, a, 0, &c), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("n:");
    CHECK(c.true_positives == 99);
}

TEST_LIST(TEST_CASE(mae_known), TEST_CASE(rmse_known), TEST_CASE(mape_known),
          TEST_CASE(mape_zero_y), TEST_CASE(smape_known), TEST_CASE(mase_known),
          TEST_CASE(mase_errors), TEST_CASE(pair_validation), TEST_CASE(overflow),
          TEST_CASE(classification_known), TEST_CASE(classification_degenerate),
          TEST_CASE(classification_validation))
