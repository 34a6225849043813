/* The `data` field of requests as a series: a JSON array of rows
 * ([[1.0],[1.1]]), a flat array ([1.0, 1.1]), a JSON string holding either
 * ("[[1.0], [1.1]]", the product guide's form), or an object
 * {values, timestamps}. null marks a missing value. Timestamps are numbers
 * (seconds) or ISO-8601 strings (YYYY-MM-DD[THH:MM[:SS]][Z]). */
#ifndef TSA_SERVERS_SERIES_JSON_H
#define TSA_SERVERS_SERIES_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>
#include <tsa/model.h>
#include <tsa/series.h>

#define TSA_SERIES_MAX_VALUES 10000000u

typedef struct tsa_owned_series {
    tsa_series view;     /* points into the arrays below */
    double *values;
    int64_t *timestamps; /* or NULL */
    uint8_t *mask;       /* or NULL when nothing is missing */
} tsa_owned_series;

/* Parses @item (the value of field @field) into @out. On failure returns -1
 * and writes a message naming the field and position into @err. */
int tsa_series_from_json(const cJSON *item, const char *field, tsa_owned_series *out, char *err,
                         size_t err_len);
void tsa_owned_series_free(tsa_owned_series *s);

/* Parses an ISO-8601 date/time (UTC unless an offset is given) or a decimal
 * number of seconds; 0 on success. */
int tsa_parse_time(const char *s, int64_t *out);
/* Formats seconds as YYYY-MM-DDTHH:MM:SSZ. */
void tsa_format_time(int64_t t, char out[32]);

/* A (rows, cols) row-major array as a JSON array of rows (or a flat array
 * when cols == 1 and @flat). */
cJSON *tsa_json_matrix(const double *v, size_t rows, size_t cols, int flat);

/* Adds a forecast's fields to @out: predictions, lower_bound, upper_bound
 * (arrays of rows), timestamps (ISO-8601, when the forecast has them),
 * steps_ahead and interval. */
void tsa_json_add_forecast(cJSON *out, const tsa_forecast *fc);

/* Adds "components" ({name: (length, n_features) array of rows}, in the
 * series' units, adding up to the mean) and "component_modes" ({name:
 * "additive" | "multiplicative"}: a multiplicative term is reported as its
 * contribution trend * factor). */
void tsa_json_add_components(cJSON *out, const tsa_components *c);

/* Reads those fields back (a forecast another service produced) into @fc,
 * whose arrays this allocates; release them with tsa_json_forecast_clear().
 * Timestamps are not read. On failure returns -1, leaves @fc empty and
 * writes what was wrong into @err. */
int tsa_json_forecast_read(const cJSON *obj, tsa_forecast *fc, char *err, size_t err_len);
void tsa_json_forecast_clear(tsa_forecast *fc);

#endif
