/* Series checks and the missing-value fill shared by every kind. */
#ifndef TSA_CORE_SERIES_H
#define TSA_CORE_SERIES_H

#include <tsa/series.h>

/* The largest length * n_features libtsa accepts (2^31 values). */
#define TSA_MAX_VALUES ((size_t)1 << 31)

/* tsa_series_validate with @what ("train", "history", "x") in messages. */
tsa_status tsa_series_check(const tsa_series *s, const char *what);

/* Whether any value is marked missing. */
int tsa_series_has_missing(const tsa_series *s);

/* A finite copy of @s's values (length, n_features) with missing values
 * filled by linear interpolation in time (the nearest observed value at the
 * ends). A feature with no observed value fails with TSA_EINVAL. Release
 * with free(). */
tsa_status tsa_series_fill_missing(const tsa_series *s, const char *what, double **out);

/* The median spacing of the timestamps (>= 1), or 0 without timestamps. */
int64_t tsa_series_median_step(const tsa_series *s);

#endif
