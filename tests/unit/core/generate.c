/* Tests for libtsa/core/generate.c: determinism, the statistics of each
 * component, anomaly placement and size, timestamps, option validation and
 * the size-versioned options struct. */
#include <tsa/generate.h>

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "../harness.h"

static tsa_generate_options opts_default(void)
{
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    return o;
}

/* Generates or fails the test; NULL on failure. */
static tsa_generated *gen(const tsa_generate_options *o)
{
    tsa_generated *g = NULL;
    CHECK_OK(tsa_generate(o, &g));
    return g;
}

static double mean_of(const tsa_generated *g, size_t j)
{
    double s = 0;
    for (size_t t = 0; t < g->length; t++)
        s += g->values[t * g->n_features + j];
    return s / (double)g->length;
}

static double std_of(const tsa_generated *g, size_t j)
{
    double m = mean_of(g, j), s = 0;
    for (size_t t = 0; t < g->length; t++) {
        double d = g->values[t * g->n_features + j] - m;
        s += d * d;
    }
    return sqrt(s / (double)(g->length - 1));
}

/* Sample autocorrelation of feature @j at @lag. */
static double acf(const tsa_generated *g, size_t j, size_t lag)
{
    size_t n = g->length, nf = g->n_features;
    double m = mean_of(g, j), num = 0, den = 0;
    for (size_t t = 0; t < n; t++) {
        double d = g->values[t * nf + j] - m;
        den += d * d;
        if (t + lag < n)
            num += d * (g->values[(t + lag) * nf + j] - m);
    }
    return num / den;
}

TEST(defaults)
{
    tsa_generate_options o = opts_default();
    CHECK(o.size == sizeof o);
    CHECK(o.n_samples == 1000 && o.n_features == 1);
    CHECK(o.trend == 1 && o.seasonality == 1 && o.n_periods == 1);
    CHECK(o.periods[0] == 24.0 && o.amplitude == 1.0 && o.noise_level == 0.1);
    CHECK(o.trend_slope == 0.002 && o.n_anomalies == 0 && o.anomaly_magnitude == 6.0);
    CHECK(o.seed == 42 && o.start == 0 && o.step == 3600);

    tsa_generated *a = gen(NULL), *b = gen(&o);
    if (a && b) {
        CHECK(a->length == 1000 && a->n_features == 1);
        CHECK(memcmp(a->values, b->values, 1000 * sizeof(double)) == 0);
        size_t nl = 0;
        for (size_t t = 0; t < a->length; t++) {
            nl += a->labels[t];
            CHECK(isfinite(a->values[t]));
        }
        CHECK(nl == 0);
    }
    tsa_generated_free(a);
    tsa_generated_free(b);
    tsa_generated_free(NULL);
    tsa_generate_options_init(NULL);
}

TEST(deterministic)
{
    tsa_generate_options o = opts_default();
    o.n_features = 3;
    o.n_periods = 2;
    o.periods[1] = 168;
    o.n_anomalies = 20;
    o.seed = 1234;
    tsa_generated *a = gen(&o), *b = gen(&o);
    o.seed = 1235;
    tsa_generated *c = gen(&o);
    if (a && b && c) {
        size_t nv = a->length * a->n_features;
        CHECK(memcmp(a->values, b->values, nv * sizeof(double)) == 0);
        CHECK(memcmp(a->labels, b->labels, a->length) == 0);
        CHECK(memcmp(a->timestamps, b->timestamps, a->length * sizeof(int64_t)) == 0);
        size_t differ = 0;
        for (size_t i = 0; i < nv; i++)
            differ += a->values[i] != c->values[i];
        CHECK_MSG(differ > nv * 9 / 10, "only %zu of %zu values differ", differ, nv);
        CHECK(memcmp(a->labels, c->labels, a->length) != 0);
    }
    tsa_generated_free(a);
    tsa_generated_free(b);
    tsa_generated_free(c);
}

TEST(noise_only)
{
    /* With trend and seasonality off a noiseless run is the constant level;
     * the noisy run with the same seed scatters around it with sd noise_level. */
    tsa_generate_options o = opts_default();
    o.n_samples = 100000;
    o.n_features = 3;
    o.trend = 0;
    o.seasonality = 0;
    o.noise_level = 0.0;
    o.seed = 7;
    tsa_generated *flat = gen(&o);
    o.noise_level = 0.5;
    tsa_generated *g = gen(&o);
    if (flat && g) {
        for (size_t j = 0; j < 3; j++) {
            double level = flat->values[j];
            CHECK(level >= -1.0 && level <= 1.0);
            for (size_t t = 0; t < flat->length; t++)
                if (flat->values[t * 3 + j] != level) {
                    CHECK_MSG(0, "noiseless feature %zu not constant at t=%zu", j, t);
                    break;
                }
            double sd = std_of(g, j), m = mean_of(g, j);
            CHECK_MSG(fabs(sd - 0.5) < 0.05 * 0.5, "feature %zu sd %g", j, sd);
            /* 5 standard errors: 5 * 0.5 / sqrt(1e5) = 0.0079 */
            CHECK_NEAR(m, level, 0.008);
        }
        /* Features share a noise component, so they correlate positively. */
        double m0 = mean_of(g, 0), m1 = mean_of(g, 1), c = 0;
        for (size_t t = 0; t < g->length; t++)
            c += (g->values[t * 3] - m0) * (g->values[t * 3 + 1] - m1);
        double corr = c / (double)(g->length - 1) / (std_of(g, 0) * std_of(g, 1));
        CHECK_MSG(corr > 0.2 && corr < 0.8, "noise correlation %g", corr);
    }
    tsa_generated_free(flat);
    tsa_generated_free(g);

    /* One feature: plain N(level, noise_level^2). */
    o.n_features = 1;
    o.noise_level = 2.0;
    g = gen(&o);
    if (g) {
        double sd = std_of(g, 0);
        CHECK_MSG(fabs(sd - 2.0) < 0.05 * 2.0, "sd %g", sd);
    }
    tsa_generated_free(g);
}

TEST(seasonal_period)
{
    tsa_generate_options o = opts_default();
    o.n_samples = 2400;
    o.n_features = 2;
    o.trend = 0;
    o.noise_level = 0.05;
    o.periods[0] = 24;
    tsa_generated *g = gen(&o);
    if (g) {
        for (size_t j = 0; j < 2; j++) {
            double r24 = acf(g, j, 24), r12 = acf(g, j, 12), r48 = acf(g, j, 48);
            CHECK_MSG(r24 > 0.9, "feature %zu acf(24) = %g", j, r24);
            CHECK_MSG(r48 > 0.9, "feature %zu acf(48) = %g", j, r48);
            CHECK_MSG(r12 < -0.8, "feature %zu acf(12) = %g", j, r12);
            /* Amplitude in [0.8, 1.2] * amplitude: sd of a sine is amp/sqrt(2). */
            double sd = std_of(g, j);
            CHECK_MSG(sd > 0.75 / sqrt(2.0) && sd < 1.25 / sqrt(2.0), "sd %g", sd);
        }
        /* The shared phase keeps the two features' cycles together. */
        double m0 = mean_of(g, 0), m1 = mean_of(g, 1), c = 0;
        for (size_t t = 0; t < g->length; t++)
            c += (g->values[t * 2] - m0) * (g->values[t * 2 + 1] - m1);
        double corr = c / (double)(g->length - 1) / (std_of(g, 0) * std_of(g, 1));
        CHECK_MSG(corr > 0.5, "seasonal correlation %g", corr);
    }
    tsa_generated_free(g);
}

TEST(trend_linear)
{
    tsa_generate_options o = opts_default();
    o.n_samples = 500;
    o.seasonality = 0;
    o.noise_level = 0;
    o.trend_slope = -0.01;
    o.amplitude = 2.0;
    tsa_generated *g = gen(&o);
    if (g) {
        double slope = g->values[1] - g->values[0];
        /* slope = trend_slope * amplitude * U(0.5, 1.5) */
        CHECK_MSG(slope <= -0.5 * 0.02 && slope >= -1.5 * 0.02, "slope %g", slope);
        for (size_t t = 0; t < g->length; t++)
            CHECK_NEAR(g->values[t], g->values[0] + slope * (double)t, 1e-9);
    }
    tsa_generated_free(g);
}

/* Anomalies: count, placement and size, against the same seed without them. */
static void check_anomalies(size_t n, size_t nf, size_t na, double noise, double mag)
{
    tsa_generate_options o = opts_default();
    o.n_samples = n;
    o.n_features = nf;
    o.noise_level = noise;
    o.anomaly_magnitude = mag;
    o.seed = 99;
    tsa_generated *clean = gen(&o);
    o.n_anomalies = na;
    tsa_generated *g = gen(&o);
    if (!clean || !g)
        goto done;
    size_t margin = (n + 19) / 20, count = 0, pos = 0, neg = 0;
    double spike = mag * (noise > 0 ? noise : 0.1);
    for (size_t t = 0; t < n; t++) {
        CHECK(g->labels[t] == 0 || g->labels[t] == 1);
        if (g->labels[t]) {
            count++;
            CHECK_MSG(t >= margin && t < n - margin, "anomaly at %zu of %zu", t, n);
        }
        double d0 = g->values[t * nf] - clean->values[t * nf];
        for (size_t j = 0; j < nf; j++) {
            double d = g->values[t * nf + j] - clean->values[t * nf + j];
            if (g->labels[t]) {
                CHECK_NEAR(fabs(d), spike, 1e-9 * (1 + spike));
                CHECK_NEAR(d, d0, 1e-9 * (1 + spike)); /* same spike on every feature */
            } else {
                CHECK(d == 0.0);
            }
        }
        if (g->labels[t])
            *(d0 > 0 ? &pos : &neg) += 1;
    }
    CHECK_MSG(count == na, "%zu labels, expected %zu", count, na);
    if (na >= 50)
        CHECK_MSG(pos > na / 5 && neg > na / 5, "signs: %zu up, %zu down", pos, neg);
done:
    tsa_generated_free(clean);
    tsa_generated_free(g);
}

TEST(anomalies)
{
    check_anomalies(2000, 1, 50, 0.2, 6.0);
    check_anomalies(2000, 4, 100, 0.3, 4.0);
    check_anomalies(1000, 2, 10, 0.0, 6.0); /* 6 * 0.1 */
    check_anomalies(1000, 1, 900, 0.1, 3.0); /* the whole middle region */
    check_anomalies(21, 1, 17, 0.1, 3.0);    /* margins of 2 steps */
    check_anomalies(1000, 1, 0, 0.1, 3.0);
}

TEST(timestamps)
{
    tsa_generate_options o = opts_default();
    o.n_samples = 300;
    o.start = -1000;
    o.step = 60;
    tsa_generated *g = gen(&o);
    if (g)
        for (size_t t = 0; t < g->length; t++)
            CHECK(g->timestamps[t] == -1000 + (int64_t)t * 60);
    tsa_generated_free(g);

    /* The last timestamp may be exactly INT64_MAX. */
    o.n_samples = 3;
    o.step = 1000;
    o.start = INT64_MAX - 2000;
    g = gen(&o);
    if (g)
        CHECK(g->timestamps[2] == INT64_MAX);
    tsa_generated_free(g);

    o.n_samples = 1;
    o.start = INT64_MIN;
    o.step = INT64_MAX;
    g = gen(&o);
    if (g)
        CHECK(g->length == 1 && g->timestamps[0] == INT64_MIN && g->labels[0] == 0);
    tsa_generated_free(g);
}

typedef struct bad_case {
    const char *field; /* expected in the message */
    tsa_status code;
    void (*apply)(tsa_generate_options *o);
} bad_case;

#define BAD(name, code, body)                                                 \
    static void bad_##name(tsa_generate_options *o) { body; }
BAD(samples0, TSA_ERANGE, o->n_samples = 0)
BAD(samples_big, TSA_ERANGE, o->n_samples = 10000001)
BAD(features0, TSA_ERANGE, o->n_features = 0)
BAD(features_big, TSA_ERANGE, o->n_features = 1001)
BAD(trend2, TSA_ERANGE, o->trend = 2)
BAD(slope_nan, TSA_ERANGE, o->trend_slope = NAN)
BAD(slope_inf, TSA_ERANGE, o->trend_slope = -INFINITY)
BAD(seas_neg, TSA_ERANGE, o->seasonality = -1)
BAD(nper5, TSA_ERANGE, o->n_periods = 5)
BAD(per_one, TSA_ERANGE, o->periods[0] = 1.0)
BAD(per_nan, TSA_ERANGE, o->periods[0] = NAN)
BAD(per_inf, TSA_ERANGE, o->periods[0] = INFINITY)
BAD(per_second, TSA_ERANGE, (o->n_periods = 2, o->periods[1] = 0.5))
BAD(amp_neg, TSA_ERANGE, o->amplitude = -0.1)
BAD(amp_nan, TSA_ERANGE, o->amplitude = NAN)
BAD(noise_neg, TSA_ERANGE, o->noise_level = -1)
BAD(noise_inf, TSA_ERANGE, o->noise_level = INFINITY)
BAD(anom_many, TSA_ERANGE, o->n_anomalies = 901) /* n 1000: 900 usable */
BAD(anom_short, TSA_ERANGE, (o->n_samples = 2, o->n_anomalies = 1))
BAD(mag0, TSA_ERANGE, (o->n_anomalies = 1, o->anomaly_magnitude = 0))
BAD(mag_neg, TSA_ERANGE, (o->n_anomalies = 1, o->anomaly_magnitude = -6))
BAD(mag_nan, TSA_ERANGE, (o->n_anomalies = 1, o->anomaly_magnitude = NAN))
BAD(step0, TSA_ERANGE, o->step = 0)
BAD(step_neg, TSA_ERANGE, o->step = -3600)
BAD(ts_overflow, TSA_ERANGE, (o->start = INT64_MAX - 1000, o->step = 2))
BAD(step_overflow, TSA_ERANGE, o->step = INT64_MAX / 500)
BAD(size0, TSA_ERANGE, o->size = 0)
BAD(size_small, TSA_ERANGE, o->size = sizeof(size_t))
BAD(noise_overflow, TSA_ERANGE, o->noise_level = 1e308)
BAD(trend_overflow, TSA_ERANGE, o->trend_slope = 1e306)
#undef BAD

TEST(invalid_fields)
{
    static const bad_case cases[] = {
        {"n_samples", TSA_ERANGE, bad_samples0},
        {"n_samples", TSA_ERANGE, bad_samples_big},
        {"n_features", TSA_ERANGE, bad_features0},
        {"n_features", TSA_ERANGE, bad_features_big},
        {"trend", TSA_ERANGE, bad_trend2},
        {"trend_slope", TSA_ERANGE, bad_slope_nan},
        {"trend_slope", TSA_ERANGE, bad_slope_inf},
        {"seasonality", TSA_ERANGE, bad_seas_neg},
        {"n_periods", TSA_ERANGE, bad_nper5},
        {"periods[0]", TSA_ERANGE, bad_per_one},
        {"periods[0]", TSA_ERANGE, bad_per_nan},
        {"periods[0]", TSA_ERANGE, bad_per_inf},
        {"periods[1]", TSA_ERANGE, bad_per_second},
        {"amplitude", TSA_ERANGE, bad_amp_neg},
        {"amplitude", TSA_ERANGE, bad_amp_nan},
        {"noise_level", TSA_ERANGE, bad_noise_neg},
        {"noise_level", TSA_ERANGE, bad_noise_inf},
        {"n_anomalies", TSA_ERANGE, bad_anom_many},
        {"n_anomalies", TSA_ERANGE, bad_anom_short},
        {"anomaly_magnitude", TSA_ERANGE, bad_mag0},
        {"anomaly_magnitude", TSA_ERANGE, bad_mag_neg},
        {"anomaly_magnitude", TSA_ERANGE, bad_mag_nan},
        {"step", TSA_ERANGE, bad_step0},
        {"step", TSA_ERANGE, bad_step_neg},
        {"step", TSA_ERANGE, bad_ts_overflow},
        {"step", TSA_ERANGE, bad_step_overflow},
        {"size", TSA_ERANGE, bad_size0},
        {"size", TSA_ERANGE, bad_size_small},
        {"noise_level", TSA_ERANGE, bad_noise_overflow},
        {"trend_slope", TSA_ERANGE, bad_trend_overflow},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsa_generate_options o = opts_default();
        cases[i].apply(&o);
        tsa_generated *g = (tsa_generated *)&o; /* any non-NULL */
        tsa_status rc = tsa_generate(&o, &g);
        CHECK_MSG(rc == cases[i].code, "case %zu (%s): %s (%s)", i, cases[i].field,
                  tsa_status_name(rc), tsa_last_error());
        CHECK_MSG(tsa_last_status() == cases[i].code, "case %zu last status", i);
        CHECK_MSG(strstr(tsa_last_error(), cases[i].field) != NULL,
                  "case %zu: message \"%s\" lacks \"%s\"", i, tsa_last_error(),
                  cases[i].field);
        CHECK_MSG(g == NULL, "case %zu: out not NULL on failure", i);
        if (rc == TSA_OK)
            tsa_generated_free(g);
    }

    tsa_generate_options o = opts_default();
    CHECK_STATUS(tsa_generate(&o, NULL), TSA_EINVAL);
    CHECK_ERROR_MENTIONS("out");
    CHECK_STATUS(tsa_generate(NULL, NULL), TSA_EINVAL);
    tsa_generate_options_init(NULL);
}

TEST(valid_edges)
{
    /* Unused periods and an unused magnitude are not checked; bounds are inclusive. */
    tsa_generate_options o = opts_default();
    o.periods[1] = 0.5;
    o.periods[3] = NAN;
    o.anomaly_magnitude = 0;
    tsa_generated *g = gen(&o);
    tsa_generated_free(g);

    o = opts_default();
    o.n_samples = 1;
    o.n_features = 1000;
    o.n_periods = 4;
    o.periods[1] = 1.5;
    o.periods[2] = 7;
    o.periods[3] = 1e9;
    g = gen(&o);
    if (g)
        CHECK(g->length == 1 && g->n_features == 1000);
    tsa_generated_free(g);

    o = opts_default();
    o.n_periods = 0;
    o.amplitude = 0;
    o.trend = 0;
    o.noise_level = 0;
    o.n_anomalies = 5;
    g = gen(&o); /* a constant level with 0.6 spikes */
    if (g) {
        size_t spikes = 0;
        for (size_t t = 0; t < g->length; t++)
            spikes += fabs(g->values[t] - g->values[0]) > 0.5;
        CHECK(spikes == 5);
    }
    tsa_generated_free(g);
}

TEST(small_size)
{
    /* An older caller's struct ending at noise_level: the rest takes the
     * defaults whatever lies beyond it in memory. */
    tsa_generate_options full = opts_default();
    full.n_samples = 400;
    full.n_features = 2;
    full.trend_slope = 0.01;
    full.periods[0] = 12;
    full.amplitude = 3;
    full.noise_level = 0.3;

    tsa_generate_options old = full;
    old.size = offsetof(tsa_generate_options, noise_level) + sizeof(double);
    old.n_anomalies = (size_t)-1;
    old.anomaly_magnitude = NAN;
    old.seed = 7;
    old.step = -5;

    tsa_generated *a = gen(&full), *b = gen(&old);
    if (a && b) {
        CHECK(memcmp(a->values, b->values, 400 * 2 * sizeof(double)) == 0);
        CHECK(memcmp(a->labels, b->labels, 400) == 0);
        CHECK(b->timestamps[1] == 3600);
    }
    tsa_generated_free(a);
    tsa_generated_free(b);

    /* Only n_samples covered. */
    tsa_generate_options tiny = opts_default();
    tiny.n_samples = 50;
    tiny.size = offsetof(tsa_generate_options, n_samples) + sizeof(size_t);
    tiny.n_features = 0; /* beyond size: ignored */
    b = gen(&tiny);
    if (b)
        CHECK(b->length == 50 && b->n_features == 1);
    tsa_generated_free(b);

    /* A struct cut in the middle of the periods array uses the default periods. */
    tsa_generate_options cut = opts_default();
    cut.size = offsetof(tsa_generate_options, periods) + sizeof(double);
    cut.periods[0] = -1;
    b = gen(&cut);
    tsa_generated_free(b);

    /* A newer caller's larger struct is accepted. */
    struct {
        tsa_generate_options o;
        double future_field;
    } big;
    tsa_generate_options_init(&big.o);
    big.o.size = sizeof big;
    big.future_field = 1;
    b = gen(&big.o);
    tsa_generated_free(b);
}

TEST_LIST(TEST_CASE(defaults), TEST_CASE(deterministic), TEST_CASE(noise_only),
          TEST_CASE(seasonal_period), TEST_CASE(trend_linear), TEST_CASE(anomalies),
          TEST_CASE(timestamps), TEST_CASE(invalid_fields), TEST_CASE(valid_edges),
          TEST_CASE(small_size))
