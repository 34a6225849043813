/* Synthetic series: level + trend + seasonalities + correlated Gaussian noise,
 * with labelled spike anomalies.
 *
 * Randomness comes from three generators derived from opts->seed: one for the
 * per-feature parameters, one for the noise and one for the anomalies. Each
 * draws a fixed sequence independent of the other options' values, so for a
 * given seed and shape (n_samples, n_features):
 *  - the levels, slopes, amplitudes and phases do not depend on trend,
 *    seasonality, noise_level or n_anomalies (a noiseless run shows the
 *    underlying clean signal of a noisy one);
 *  - the series with anomalies equals the one without plus the spikes.
 *
 * Per feature j (u = uniform draw):
 *   level_j   = U(-1, 1)
 *   slope_j   = trend_slope * amplitude * U(0.5, 1.5)
 *   amp_j,k   = amplitude * U(0.8, 1.2)
 *   phase_j,k = phase_k + U(-pi/8, pi/8), phase_k = U(0, 2 pi) shared by all
 *               features, so seasonal components move together
 *   noise_j(t)= noise_level * (sqrt(w_j) z(t) + sqrt(1 - w_j) z_j(t)),
 *               w_j = U(0.25, 0.75) and z(t) a standard normal shared by all
 *               features (only when n_features > 1): each feature's noise is
 *               still N(0, noise_level^2), features i, j correlate by
 *               sqrt(w_i w_j).
 */
#include <tsa/generate.h>

#include "core/error.h"
#include "core/rng.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GEN_MAX_SAMPLES 10000000u
#define GEN_MAX_FEATURES 1000u
#define GEN_PI 3.14159265358979323846

/* A caller's struct must at least reach n_samples. */
#define GEN_MIN_SIZE (offsetof(tsa_generate_options, n_samples) + sizeof(size_t))

TSA_API void tsa_generate_options_init(tsa_generate_options *o)
{
    if (!o)
        return;
    memset(o, 0, sizeof *o);
    o->size = sizeof *o;
    o->n_samples = 1000;
    o->n_features = 1;
    o->trend = 1;
    o->trend_slope = 0.002;
    o->seasonality = 1;
    o->n_periods = 1;
    o->periods[0] = 24.0;
    o->amplitude = 1.0;
    o->noise_level = 0.1;
    o->n_anomalies = 0;
    o->anomaly_magnitude = 6.0;
    o->seed = 42;
    o->start = 0;
    o->step = 3600;
}

TSA_API void tsa_generated_free(tsa_generated *g)
{
    if (!g)
        return;
    free(g->values);
    free(g->timestamps);
    free(g->labels);
    free(g);
}

/* Copies the fields that @src's size covers over the defaults in @dst. */
static void read_options(const tsa_generate_options *src, tsa_generate_options *dst)
{
    tsa_generate_options_init(dst);
#define GEN_TAKE_(f)                                                        \
    do {                                                                    \
        if (src->size >= offsetof(tsa_generate_options, f) + sizeof src->f) \
            memcpy(&dst->f, &src->f, sizeof src->f);                        \
    } while (0)
    GEN_TAKE_(n_samples);
    GEN_TAKE_(n_features);
    GEN_TAKE_(trend);
    GEN_TAKE_(trend_slope);
    GEN_TAKE_(seasonality);
    GEN_TAKE_(n_periods);
    GEN_TAKE_(periods);
    GEN_TAKE_(amplitude);
    GEN_TAKE_(noise_level);
    GEN_TAKE_(n_anomalies);
    GEN_TAKE_(anomaly_magnitude);
    GEN_TAKE_(seed);
    GEN_TAKE_(start);
    GEN_TAKE_(step);
#undef GEN_TAKE_
}

/* First step anomalies may use; the same count is excluded at the end. */
static size_t edge_margin(size_t n) { return n / 20 + (n % 20 != 0); }

static size_t usable_steps(size_t n)
{
    size_t m = edge_margin(n);
    return n > 2 * m ? n - 2 * m : 0;
}

static tsa_status validate(const tsa_generate_options *o)
{
    TSA_FAIL_IF(o->n_samples < 1 || o->n_samples > GEN_MAX_SAMPLES, TSA_ERANGE,
                "n_samples: must be in [1, %u], got %zu", GEN_MAX_SAMPLES, o->n_samples);
    TSA_FAIL_IF(o->n_features < 1 || o->n_features > GEN_MAX_FEATURES, TSA_ERANGE,
                "n_features: must be in [1, %u], got %zu", GEN_MAX_FEATURES, o->n_features);
    TSA_FAIL_IF(o->trend != 0 && o->trend != 1, TSA_ERANGE,
                "trend: must be 0 or 1, got %d", o->trend);
    TSA_FAIL_IF(!isfinite(o->trend_slope), TSA_ERANGE,
                "trend_slope: must be finite, got %g", o->trend_slope);
    TSA_FAIL_IF(o->seasonality != 0 && o->seasonality != 1, TSA_ERANGE,
                "seasonality: must be 0 or 1, got %d", o->seasonality);
    TSA_FAIL_IF(o->n_periods > TSA_GENERATE_MAX_PERIODS, TSA_ERANGE,
                "n_periods: must be in [0, %d], got %zu", TSA_GENERATE_MAX_PERIODS,
                o->n_periods);
    for (size_t k = 0; k < o->n_periods; k++)
        TSA_FAIL_IF(!isfinite(o->periods[k]) || !(o->periods[k] > 1.0), TSA_ERANGE,
                    "periods[%zu]: must be finite and > 1, got %g", k, o->periods[k]);
    TSA_FAIL_IF(!isfinite(o->amplitude) || o->amplitude < 0.0, TSA_ERANGE,
                "amplitude: must be finite and >= 0, got %g", o->amplitude);
    TSA_FAIL_IF(!isfinite(o->noise_level) || o->noise_level < 0.0, TSA_ERANGE,
                "noise_level: must be finite and >= 0, got %g", o->noise_level);
    size_t usable = usable_steps(o->n_samples);
    TSA_FAIL_IF(o->n_anomalies > usable, TSA_ERANGE,
                "n_anomalies: must be in [0, %zu] (the steps outside the first and "
                "last 5%% of n_samples = %zu), got %zu",
                usable, o->n_samples, o->n_anomalies);
    TSA_FAIL_IF(o->n_anomalies > 0 &&
                    (!isfinite(o->anomaly_magnitude) || !(o->anomaly_magnitude > 0.0)),
                TSA_ERANGE, "anomaly_magnitude: must be finite and > 0, got %g",
                o->anomaly_magnitude);
    TSA_FAIL_IF(o->step <= 0, TSA_ERANGE, "step: must be > 0, got %lld",
                (long long)o->step);
    /* The last timestamp, start + (n_samples - 1) * step, must fit in int64. */
    uint64_t last = (uint64_t)(o->n_samples - 1);
    TSA_FAIL_IF(last > 0 && ((uint64_t)o->step > (uint64_t)INT64_MAX / last ||
                             o->start > INT64_MAX - (int64_t)(last * (uint64_t)o->step)),
                TSA_ERANGE,
                "step: start + (n_samples - 1) * step overflows int64 (start %lld, step %lld)",
                (long long)o->start, (long long)o->step);
    return TSA_OK;
}

typedef struct gen_feature {
    double level;
    double slope;
    double shared_w;  /* sqrt(w_j): loading on the shared noise */
    double own_w;     /* sqrt(1 - w_j) */
    double amp[TSA_GENERATE_MAX_PERIODS];
    double phase[TSA_GENERATE_MAX_PERIODS];
} gen_feature;

static void draw_features(tsa_rng *r, const tsa_generate_options *o, gen_feature *feat)
{
    double shared_phase[TSA_GENERATE_MAX_PERIODS];
    for (int k = 0; k < TSA_GENERATE_MAX_PERIODS; k++)
        shared_phase[k] = 2.0 * GEN_PI * tsa_rng_uniform(r);
    /* The same draws for every option set, so parameters depend only on the seed. */
    for (size_t j = 0; j < o->n_features; j++) {
        gen_feature *f = &feat[j];
        f->level = 2.0 * tsa_rng_uniform(r) - 1.0;
        f->slope = o->trend_slope * o->amplitude * (0.5 + tsa_rng_uniform(r));
        double w = 0.25 + 0.5 * tsa_rng_uniform(r);
        f->shared_w = sqrt(w);
        f->own_w = sqrt(1.0 - w);
        for (int k = 0; k < TSA_GENERATE_MAX_PERIODS; k++) {
            f->amp[k] = o->amplitude * (0.8 + 0.4 * tsa_rng_uniform(r));
            f->phase[k] = shared_phase[k] + GEN_PI * (0.25 * tsa_rng_uniform(r) - 0.125);
        }
    }
}

TSA_API tsa_status tsa_generate(const tsa_generate_options *opts, tsa_generated **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = NULL;

    tsa_generate_options o;
    if (opts) {
        TSA_FAIL_IF(opts->size < GEN_MIN_SIZE, TSA_ERANGE,
                    "size: must be at least %zu (set by tsa_generate_options_init), got %zu",
                    (size_t)GEN_MIN_SIZE, opts->size);
        read_options(opts, &o);
    } else {
        tsa_generate_options_init(&o);
    }
    TSA_TRY(validate(&o));

    const size_t n = o.n_samples, nf = o.n_features;
    TSA_FAIL_IF(n > SIZE_MAX / nf || n * nf > SIZE_MAX / sizeof(double) ||
                    n > SIZE_MAX / sizeof(int64_t),
                TSA_ENOMEM, "n_samples * n_features: %zu x %zu values do not fit in memory",
                n, nf);

    tsa_status rc = TSA_OK;
    gen_feature *feat = calloc(nf, sizeof *feat);
    tsa_generated *g = calloc(1, sizeof *g);
    if (!feat || !g) {
        rc = tsa_error(TSA_ENOMEM, "tsa_generate: out of memory");
        goto fail;
    }
    g->length = n;
    g->n_features = nf;
    g->values = malloc(n * nf * sizeof *g->values);
    g->timestamps = malloc(n * sizeof *g->timestamps);
    g->labels = calloc(n, sizeof *g->labels);
    if (!g->values || !g->timestamps || !g->labels) {
        rc = tsa_error(TSA_ENOMEM, "tsa_generate: out of memory for %zu x %zu values", n, nf);
        goto fail;
    }

    tsa_rng master, r_param, r_noise, r_anom;
    tsa_rng_seed(&master, o.seed);
    tsa_rng_seed(&r_param, tsa_rng_next(&master));
    tsa_rng_seed(&r_noise, tsa_rng_next(&master));
    tsa_rng_seed(&r_anom, tsa_rng_next(&master));

    draw_features(&r_param, &o, feat);

    const size_t n_per = o.seasonality ? o.n_periods : 0;
    double omega[TSA_GENERATE_MAX_PERIODS];
    for (size_t k = 0; k < n_per; k++)
        omega[k] = 2.0 * GEN_PI / o.periods[k];

    for (size_t t = 0; t < n; t++) {
        double *row = g->values + t * nf; /* (n_features) */
        double z_shared = 0.0;
        if (o.noise_level > 0.0 && nf > 1)
            z_shared = tsa_rng_normal(&r_noise);
        for (size_t j = 0; j < nf; j++) {
            const gen_feature *f = &feat[j];
            double v = f->level;
            if (o.trend)
                v += f->slope * (double)t;
            for (size_t k = 0; k < n_per; k++)
                v += f->amp[k] * sin(omega[k] * (double)t + f->phase[k]);
            if (o.noise_level > 0.0) {
                double z = tsa_rng_normal(&r_noise);
                v += nf > 1 ? o.noise_level * (f->shared_w * z_shared + f->own_w * z)
                            : o.noise_level * z;
            }
            row[j] = v;
        }
        g->timestamps[t] = o.start + (int64_t)t * o.step;
    }

    if (o.n_anomalies > 0) {
        /* Floyd's sampling of n_anomalies distinct steps of the middle region,
         * using labels as the set: O(n_anomalies), no index array. */
        const double spike = o.anomaly_magnitude * (o.noise_level > 0.0 ? o.noise_level : 0.1);
        const size_t lo = edge_margin(n), usable = usable_steps(n);
        for (size_t i = usable - o.n_anomalies; i < usable; i++) {
            size_t pos = lo + (size_t)tsa_rng_below(&r_anom, (uint64_t)i + 1);
            if (g->labels[pos])
                pos = lo + i;
            g->labels[pos] = 1;
            double s = (tsa_rng_next(&r_anom) >> 63) ? spike : -spike;
            for (size_t j = 0; j < nf; j++)
                g->values[pos * nf + j] += s;
        }
    }

    /* Finite options can still overflow (a huge amplitude, slope or spike). */
    for (size_t i = 0; i < n * nf; i++) {
        if (!isfinite(g->values[i])) {
            rc = tsa_error(TSA_ERANGE,
                           "amplitude, trend_slope, noise_level, anomaly_magnitude: "
                           "value at step %zu, feature %zu overflows double",
                           i / nf, i % nf);
            goto fail;
        }
    }

    free(feat);
    *out = g;
    return TSA_OK;

fail:
    free(feat);
    tsa_generated_free(g);
    return rc;
}
