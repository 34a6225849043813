/* Request series in their accepted JSON forms (see series_json.h). */
#include "series_json.h"

#include <ctype.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void tsa_owned_series_free(tsa_owned_series *s)
{
    if (!s)
        return;
    free(s->values);
    free(s->timestamps);
    free(s->mask);
    memset(s, 0, sizeof *s);
}

static int days_from_civil(int y, unsigned m, unsigned d, int64_t *out)
{
    /* Howard Hinnant's days_from_civil: days since 1970-01-01. */
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    *out = (int64_t)era * 146097 + (int64_t)doe - 719468;
    return 0;
}

int tsa_parse_time(const char *s, int64_t *out)
{
    if (!s)
        return -1;
    while (isspace((unsigned char)*s))
        s++;
    /* A plain number of seconds. */
    char *end;
    double num = strtod(s, &end);
    if (end != s && *end == '\0') {
        if (!isfinite(num) || fabs(num) > 9.2e15)
            return -1;
        *out = (int64_t)llround(num);
        return 0;
    }
    int y, mo, d, h = 0, mi = 0, n = 0;
    double sec = 0;
    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3 || n != 10)
        return -1;
    const char *p = s + n;
    if (*p == 'T' || *p == ' ') {
        int k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &h, &mi, &k) != 2 || k != 5)
            return -1;
        p += 1 + k;
        if (*p == ':') {
            char *e;
            sec = strtod(p + 1, &e);
            if (e == p + 1)
                return -1;
            p = e;
        }
    }
    int64_t offset = 0;
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = 0, om = 0, k = 0;
        if (sscanf(p + 1, "%2d:%2d%n", &oh, &om, &k) != 2 || k != 5)
            return -1;
        offset = (int64_t)(oh * 3600 + om * 60) * (*p == '-' ? -1 : 1);
        p += 1 + k;
    }
    if (*p)
        return -1;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61)
        return -1;
    /* 2024-02-31 is not a date (days_from_civil would quietly give March 2). */
    static const int month_days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > month_days[mo - 1] || (mo == 2 && d == 29 && !leap))
        return -1;
    int64_t days;
    days_from_civil(y, (unsigned)mo, (unsigned)d, &days);
    *out = days * 86400 + h * 3600 + mi * 60 + (int64_t)sec - offset;
    return 0;
}

void tsa_format_time(int64_t t, char out[32])
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!gmtime_r(&tt, &tm)) {
        snprintf(out, 32, "%lld", (long long)t);
        return;
    }
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int fail(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *err, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, len, fmt, ap);
    va_end(ap);
    return -1;
}

static int parse_values(const cJSON *arr, const char *field, tsa_owned_series *out, char *err,
                        size_t len)
{
    if (!cJSON_IsArray(arr))
        return fail(err, len, "%s: must be an array of numbers or of rows", field);
    size_t n = (size_t)cJSON_GetArraySize(arr);
    if (n == 0)
        return fail(err, len, "%s: is empty; send at least one value", field);
    const cJSON *first = arr->child;
    int rows = cJSON_IsArray(first);
    size_t k = rows ? (size_t)cJSON_GetArraySize(first) : 1;
    if (rows && k == 0)
        return fail(err, len, "%s[0]: a row must hold at least one value", field);
    if (n > TSA_SERIES_MAX_VALUES / k)
        return fail(err, len, "%s: %zu x %zu values exceed the limit of %u", field, n, k,
                    TSA_SERIES_MAX_VALUES);
    out->values = malloc(n * k * sizeof *out->values);
    if (!out->values)
        return fail(err, len, "%s: out of memory", field);
    size_t t = 0, missing = 0;
    for (const cJSON *row = arr->child; row; row = row->next, t++) {
        if (rows != cJSON_IsArray(row))
            return fail(err, len, "%s[%zu]: mixes rows and plain numbers", field, t);
        if (rows && (size_t)cJSON_GetArraySize(row) != k)
            return fail(err, len, "%s[%zu]: row has %d values, expected %zu (ragged rows)", field, t,
                        cJSON_GetArraySize(row), k);
        const cJSON *cell = rows ? row->child : row;
        for (size_t j = 0; j < k; j++, cell = rows ? cell->next : NULL) {
            double v;
            if (cJSON_IsNumber(cell)) {
                v = cell->valuedouble;
                if (!isfinite(v))
                    return fail(err, len, "%s[%zu]: not a finite number", field, t);
            } else if (cJSON_IsNull(cell)) {
                v = NAN;
                missing++;
            } else {
                if (rows)
                    return fail(err, len, "%s[%zu][%zu]: must be a number or null", field, t, j);
                return fail(err, len, "%s[%zu]: must be a number or null", field, t);
            }
            out->values[t * k + j] = v;
        }
    }
    if (missing) {
        out->mask = calloc(n * k, 1);
        if (!out->mask)
            return fail(err, len, "%s: out of memory", field);
        for (size_t i = 0; i < n * k; i++)
            out->mask[i] = isnan(out->values[i]);
    }
    out->view = tsa_series_view(out->values, n, k);
    out->view.mask = out->mask;
    return 0;
}

static int parse_timestamps(const cJSON *arr, size_t n, const char *field, tsa_owned_series *out,
                            char *err, size_t len)
{
    if (!cJSON_IsArray(arr))
        return fail(err, len, "%s: must be an array of seconds or ISO-8601 strings", field);
    if ((size_t)cJSON_GetArraySize(arr) != n)
        return fail(err, len, "%s: has %d entries, the values have %zu rows", field,
                    cJSON_GetArraySize(arr), n);
    out->timestamps = malloc(n * sizeof *out->timestamps);
    if (!out->timestamps)
        return fail(err, len, "%s: out of memory", field);
    size_t t = 0;
    for (const cJSON *it = arr->child; it; it = it->next, t++) {
        int64_t v;
        if (cJSON_IsNumber(it) && isfinite(it->valuedouble) && fabs(it->valuedouble) < 9.2e15)
            v = (int64_t)llround(it->valuedouble);
        else if (cJSON_IsString(it) && tsa_parse_time(it->valuestring, &v) == 0)
            ;
        else
            return fail(err, len, "%s[%zu]: must be seconds or an ISO-8601 date-time", field, t);
        if (t && v <= out->timestamps[t - 1])
            return fail(err, len, "%s[%zu]: timestamps must increase strictly", field, t);
        out->timestamps[t] = v;
    }
    out->view.timestamps = out->timestamps;
    return 0;
}

int tsa_series_from_json(const cJSON *item, const char *field, tsa_owned_series *out, char *err,
                         size_t err_len)
{
    memset(out, 0, sizeof *out);
    int rc;
    if (!item || cJSON_IsNull(item)) {
        rc = fail(err, err_len, "%s: is required", field);
    } else if (cJSON_IsString(item)) {
        /* The product guide's form: a JSON document inside a string. */
        const char *end = NULL;
        cJSON *inner = cJSON_ParseWithOpts(item->valuestring, &end, 1);
        if (!inner) {
            rc = fail(err, err_len, "%s: the string does not hold a JSON array (malformed near character %zu)",
                      field, end ? (size_t)(end - item->valuestring) : 0);
        } else {
            rc = cJSON_IsString(inner) ? fail(err, err_len, "%s: nested strings are not accepted", field)
                                       : tsa_series_from_json(inner, field, out, err, err_len);
            cJSON_Delete(inner);
        }
        return rc;
    } else if (cJSON_IsObject(item)) {
        char sub[96];
        snprintf(sub, sizeof sub, "%s.values", field);
        const cJSON *values = cJSON_GetObjectItemCaseSensitive(item, "values");
        rc = values ? parse_values(values, sub, out, err, err_len)
                    : fail(err, err_len, "%s.values: is required in the object form", field);
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(item, "timestamps");
        if (rc == 0 && ts && !cJSON_IsNull(ts)) {
            snprintf(sub, sizeof sub, "%s.timestamps", field);
            rc = parse_timestamps(ts, out->view.length, sub, out, err, err_len);
        }
    } else {
        rc = parse_values(item, field, out, err, err_len);
    }
    if (rc != 0)
        tsa_owned_series_free(out);
    return rc;
}

cJSON *tsa_json_matrix(const double *v, size_t rows, size_t cols, int flat)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t t = 0; a && t < rows; t++) {
        if (flat && cols == 1) {
            cJSON_AddItemToArray(a, cJSON_CreateNumber(v[t]));
            continue;
        }
        cJSON *row = cJSON_CreateArray();
        for (size_t j = 0; j < cols; j++)
            cJSON_AddItemToArray(row, cJSON_CreateNumber(v[t * cols + j]));
        cJSON_AddItemToArray(a, row);
    }
    return a;
}

void tsa_json_add_forecast(cJSON *out, const tsa_forecast *fc)
{
    cJSON_AddItemToObject(out, "predictions", tsa_json_matrix(fc->mean, fc->horizon, fc->n_features, 0));
    cJSON_AddItemToObject(out, "lower_bound", tsa_json_matrix(fc->lower, fc->horizon, fc->n_features, 0));
    cJSON_AddItemToObject(out, "upper_bound", tsa_json_matrix(fc->upper, fc->horizon, fc->n_features, 0));
    if (fc->timestamps) {
        cJSON *ts = cJSON_AddArrayToObject(out, "timestamps");
        for (size_t h = 0; h < fc->horizon; h++) {
            char buf[32];
            tsa_format_time(fc->timestamps[h], buf);
            cJSON_AddItemToArray(ts, cJSON_CreateString(buf));
        }
    }
    cJSON_AddNumberToObject(out, "steps_ahead", (double)fc->horizon);
    cJSON_AddNumberToObject(out, "interval", fc->interval);
}

void tsa_json_add_components(cJSON *out, const tsa_components *c)
{
    const size_t cells = c->length * c->n_features;
    cJSON *obj = cJSON_AddObjectToObject(out, "components");
    cJSON *modes = cJSON_AddObjectToObject(out, "component_modes");
    for (size_t k = 0; obj && modes && k < c->n_components; k++) {
        cJSON_AddItemToObject(obj, c->names[k], tsa_json_matrix(c->values + k * cells, c->length, c->n_features, 0));
        cJSON_AddStringToObject(modes, c->names[k], c->multiplicative[k] ? "multiplicative" : "additive");
    }
}

/* One of a forecast's matrices, read as a series (the same forms and
 * checks as request data) into @dst; it must have no missing value and,
 * after the first (*rows == 0), the first one's shape. */
static int read_part(const cJSON *obj, const char *name, size_t *rows, size_t *cols, double **dst, char *err,
                     size_t err_len)
{
    tsa_owned_series s;
    if (tsa_series_from_json(cJSON_GetObjectItemCaseSensitive(obj, name), name, &s, err, err_len) != 0)
        return -1;
    if (s.mask || (*rows && (s.view.length != *rows || s.view.n_features != *cols))) {
        snprintf(err, err_len, "%s: %s", name,
                 s.mask ? "must not hold missing values" : "must have the shape of predictions");
        tsa_owned_series_free(&s);
        return -1;
    }
    *rows = s.view.length;
    *cols = s.view.n_features;
    *dst = s.values;
    s.values = NULL;
    tsa_owned_series_free(&s);
    return 0;
}

int tsa_json_forecast_read(const cJSON *obj, tsa_forecast *fc, char *err, size_t err_len)
{
    memset(fc, 0, sizeof *fc);
    const cJSON *iv = cJSON_GetObjectItemCaseSensitive(obj, "interval");
    if (!cJSON_IsNumber(iv) || !(iv->valuedouble > 0 && iv->valuedouble < 1)) {
        snprintf(err, err_len, "interval: must be a number in (0, 1)");
        return -1;
    }
    size_t rows = 0, k = 0;
    if (read_part(obj, "predictions", &rows, &k, &fc->mean, err, err_len) < 0 ||
        read_part(obj, "lower_bound", &rows, &k, &fc->lower, err, err_len) < 0 ||
        read_part(obj, "upper_bound", &rows, &k, &fc->upper, err, err_len) < 0) {
        tsa_json_forecast_clear(fc);
        return -1;
    }
    fc->horizon = rows;
    fc->n_features = k;
    fc->interval = iv->valuedouble;
    return 0;
}

void tsa_json_forecast_clear(tsa_forecast *fc)
{
    free(fc->mean);
    free(fc->lower);
    free(fc->upper);
    memset(fc, 0, sizeof *fc);
}
