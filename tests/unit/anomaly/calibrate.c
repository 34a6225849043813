/* Tests of libtsa/anomaly/calibrate.c. */
#include <tsa/tsa.h>

#include "anomaly/calibrate.h"
#include "core/rng.h"
#include "harness.h"

TEST(uniform_scores_give_identity)
{
    enum { N = 20000 };
    static double s[N];
    tsa_rng r;
    tsa_rng_seed(&r, 1);
    for (int i = 0; i < N; i++)
        s[i] = tsa_rng_uniform(&r);
    tsa_calibrator c;
    CHECK_OK(tsa_calibrator_fit(&c, s, N));
    for (double x = 0.05; x < 0.9; x += 0.05)
        CHECK_NEAR(tsa_calibrator_cdf(&c, x), x, 0.02);
    CHECK(tsa_calibrator_cdf(&c, -1.0) == 0.0);
}

TEST(exponential_tail_is_ordered_and_below_one)
{
    enum { N = 5000 };
    static double s[N];
    tsa_rng r;
    tsa_rng_seed(&r, 2);
    for (int i = 0; i < N; i++)
        s[i] = -log(1.0 - tsa_rng_uniform(&r)); /* Exp(1) */
    tsa_calibrator c;
    CHECK_OK(tsa_calibrator_fit(&c, s, N));
    /* For Exp(1) the true CDF is 1 - exp(-x); the tail model matches it. */
    CHECK_NEAR(tsa_calibrator_cdf(&c, 3.0), 1 - exp(-3.0), 0.01);
    CHECK_NEAR(tsa_calibrator_cdf(&c, 5.0), 1 - exp(-5.0), 0.005);
    double prev = -1;
    for (double x = 0; x < 40; x += 0.25) {
        double p = tsa_calibrator_cdf(&c, x);
        CHECK(p >= prev && p <= 1.0);
        prev = p;
    }
    CHECK(tsa_calibrator_cdf(&c, 12.0) < tsa_calibrator_cdf(&c, 13.0));
}

TEST(degenerate_and_bad_input)
{
    double same[10] = {2, 2, 2, 2, 2, 2, 2, 2, 2, 2};
    tsa_calibrator c;
    CHECK_OK(tsa_calibrator_fit(&c, same, 10));
    CHECK(tsa_calibrator_cdf(&c, 1.0) == 0.0);
    CHECK(tsa_calibrator_cdf(&c, 3.0) > 0.99);
    CHECK_STATUS(tsa_calibrator_fit(&c, same, 1), TSA_ETOOSHORT);
    same[3] = NAN;
    CHECK_STATUS(tsa_calibrator_fit(&c, same, 10), TSA_ENONFINITE);
}

TEST(save_load)
{
    double s[100];
    for (int i = 0; i < 100; i++)
        s[i] = i * i;
    tsa_calibrator c, d;
    CHECK_OK(tsa_calibrator_fit(&c, s, 100));
    tsa_wbuf w;
    tsa_wbuf_init(&w);
    tsa_calibrator_save(&c, &w);
    tsa_rbuf r;
    tsa_rbuf_init(&r, w.data, w.len);
    CHECK_OK(tsa_calibrator_load(&d, &r));
    CHECK(tsa_rbuf_remaining(&r) == 0);
    for (double x = -5; x < 20000; x += 97)
        CHECK(tsa_calibrator_cdf(&c, x) == tsa_calibrator_cdf(&d, x));
    for (size_t n = 0; n < w.len; n++) {
        tsa_rbuf_init(&r, w.data, n);
        CHECK_STATUS(tsa_calibrator_load(&d, &r), TSA_EFORMAT);
    }
    tsa_wbuf_free(&w);
}

TEST_LIST(TEST_CASE(uniform_scores_give_identity), TEST_CASE(exponential_tail_is_ordered_and_below_one),
          TEST_CASE(degenerate_and_bad_input), TEST_CASE(save_load))
