/**
 * @file series.h
 * @brief The non-owning view of a (multivariate) time series.
 */
#ifndef TSA_SERIES_H
#define TSA_SERIES_H

#include <tsa/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief A view of @c length observations of @c n_features variables.
 *
 * libtsa never takes ownership of, nor writes through, any pointer here.
 *
 * - @c values: row-major, @c length x @c n_features doubles; the value of
 *   feature @c j at time @c t is <tt>values[t * n_features + j]</tt>.
 * - @c timestamps: optional (NULL), @c length strictly increasing int64
 *   seconds since the Unix epoch. Without them the spacing is one unit.
 * - @c mask: optional (NULL), @c length x @c n_features bytes laid out like
 *   @c values; non-zero marks a missing value, whose entry in @c values is
 *   ignored (it may be NaN). Without a mask every value must be finite.
 *
 * @since 0.1
 */
typedef struct tsa_series {
    const double *values;     /**< (length, n_features) row-major */
    size_t length;            /**< number of time steps */
    size_t n_features;        /**< number of variables, >= 1 */
    const int64_t *timestamps; /**< (length) seconds, or NULL */
    const uint8_t *mask;      /**< (length, n_features), non-zero = missing, or NULL */
} tsa_series;

/**
 * @brief Fills @p s as a view of @p values with no timestamps and no mask.
 * @since 0.1
 */
static inline tsa_series tsa_series_view(const double *values, size_t length,
                                         size_t n_features)
{
    tsa_series s;
    s.values = values;
    s.length = length;
    s.n_features = n_features;
    s.timestamps = NULL;
    s.mask = NULL;
    return s;
}

/**
 * @brief Checks a series view: non-NULL values, length and n_features > 0,
 * finite values (or masked), strictly increasing timestamps.
 * @return TSA_OK, TSA_EINVAL (NULL/zero sizes, timestamps not increasing) or
 * TSA_ENONFINITE (the message names the row and column).
 * @note Thread-safe. @since 0.1
 */
TSA_API tsa_status tsa_series_validate(const tsa_series *s);

#ifdef __cplusplus
}
#endif

#endif /* TSA_SERIES_H */
