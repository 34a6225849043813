/**
 * @file generate.h
 * @brief Synthetic series with trend, seasonalities, noise and labelled anomalies.
 */
#ifndef TSA_GENERATE_H
#define TSA_GENERATE_H

#include <tsa/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief The most seasonal periods tsa_generate() combines. @since 0.1 */
#define TSA_GENERATE_MAX_PERIODS 4

/**
 * @brief Options of tsa_generate(); initialise with tsa_generate_options_init().
 *
 * Feature j at step t is
 * @verbatim
   level_j + trend * slope_j * t
           + sum_k amp_j,k * sin(2 pi t / period_k + phase_j,k)
           + noise_level * N(0, 1)
   @endverbatim
 * with per-feature levels, slopes, amplitudes and phases drawn from the
 * seed, and features correlated through a shared component when
 * n_features > 1. Anomalies are added on top.
 * @since 0.1
 */
typedef struct tsa_generate_options {
    size_t size;               /**< sizeof(tsa_generate_options) */
    size_t n_samples;          /**< length, in [1, 10000000] (1000) */
    size_t n_features;         /**< in [1, 1000] (1) */
    int trend;                 /**< add a linear trend (1) */
    double trend_slope;        /**< trend per step in units of the seasonal amplitude (0.002) */
    int seasonality;           /**< add seasonal components (1) */
    size_t n_periods;          /**< number of entries of @c periods used (1) */
    double periods[TSA_GENERATE_MAX_PERIODS]; /**< in steps, > 1 ({24}) */
    double amplitude;          /**< seasonal amplitude (1.0) */
    double noise_level;        /**< standard deviation of the Gaussian noise, >= 0 (0.1) */
    size_t n_anomalies;        /**< number of injected anomalies (0) */
    double anomaly_magnitude;  /**< size of a spike, in multiples of noise_level
                                    (or of 0.1 when noise_level is 0) (6.0) */
    uint64_t seed;             /**< random seed (42) */
    int64_t start;             /**< first timestamp, seconds (0) */
    int64_t step;              /**< spacing of timestamps, seconds, > 0 (3600) */
} tsa_generate_options;

/** @brief Sets @p o to the defaults shown in ::tsa_generate_options. @since 0.1 */
TSA_API void tsa_generate_options_init(tsa_generate_options *o);

/** @brief A generated series; release with tsa_generated_free(). @since 0.1 */
typedef struct tsa_generated {
    size_t length;         /**< n_samples */
    size_t n_features;     /**< n_features */
    double *values;        /**< (length, n_features) row-major */
    int64_t *timestamps;   /**< (length) start + t * step */
    uint8_t *labels;       /**< (length) 1 at injected anomalies */
} tsa_generated;

/**
 * @brief Generates a series. Anomalies are spikes of +/- anomaly_magnitude
 * noise standard deviations on every feature at distinct steps chosen from
 * the seed, away from the first and last 5% of the series.
 * @param opts NULL for the defaults.
 * @param[out] out release with tsa_generated_free().
 * @return TSA_OK, TSA_EINVAL, TSA_ERANGE (a field out of range, named in the
 * message) or TSA_ENOMEM.
 * @note Thread-safe. @since 0.1
 */
TSA_API tsa_status tsa_generate(const tsa_generate_options *opts, tsa_generated **out);

/** @brief Frees a generated series. Accepts NULL. @since 0.1 */
TSA_API void tsa_generated_free(tsa_generated *g);

#ifdef __cplusplus
}
#endif

#endif /* TSA_GENERATE_H */
