/* ensemble: combine the forecasts of several kinds fitted on one series.
 *
 *   ensemble data.csv [method] [horizon]
 *
 * The CSV starts with a header row; a "timestamp" column is used as the
 * time axis, a "label" column is ignored, and the first remaining column is
 * the series (ets and theta are univariate). The "ensemble" kind fits ets,
 * theta and multivariate (a VAR, here an AR model) on the same data and
 * combines their forecasts by method: mean, median (default) or
 * weighted_average (weights inverse to each member's holdout RMSE, Bates &
 * Granger 1969). Before fitting on the whole series it measures each
 * member on the last 20% of it; this program prints those errors and, for
 * comparison, the combination's own error on the same rows, then the
 * forecast:
 *
 *   model,weight,holdout_rmse
 *   ets,0.333333,0.101
 *   theta,0.333333,0.118
 *   multivariate,0.333333,0.412
 *   ensemble_median,,0.117
 *   step,mean,lower,upper
 *   1,...
 *
 * The median is the robust choice: one badly specified member moves the
 * mean but not the median.
 *
 * Build against an installed libtsa:
 *   cc ensemble.c $(pkg-config --cflags --libs tsa) -o ensemble
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsa/tsa.h>

/* Reads a CSV with a header row. Returns 0 on success; *stamps is NULL
 * when there is no "timestamp" column. */
static int read_csv(const char *path, double **values, int64_t **stamps, size_t *rows,
                    size_t *cols)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        perror(path);
        return -1;
    }
    char line[8192];
    int ncol = 0, ts_col = -1, label_col = -1;
    if (fgets(line, sizeof line, f))
        for (char *tok = strtok(line, ",\r\n"); tok; tok = strtok(NULL, ",\r\n"), ncol++) {
            if (strcmp(tok, "timestamp") == 0)
                ts_col = ncol;
            else if (strcmp(tok, "label") == 0)
                label_col = ncol;
        }
    size_t k = (size_t)(ncol - (ts_col >= 0) - (label_col >= 0));
    size_t n = 0, cap = 0;
    double *v = NULL;
    int64_t *t = NULL;
    int bad = k == 0;
    while (!bad && fgets(line, sizeof line, f)) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1024;
            double *nv = realloc(v, cap * k * sizeof *v);
            int64_t *nt = nv ? realloc(t, cap * sizeof *t) : NULL;
            if (nv)
                v = nv;
            if (nt)
                t = nt;
            if (!nv || !nt) {
                bad = 1;
                break;
            }
        }
        char *p = line, *end;
        for (int c = 0, j = 0; c < ncol && !bad; c++) {
            if (c == ts_col) {
                t[n] = strtoll(p, &end, 10);
            } else {
                double x = strtod(p, &end);
                if (c != label_col)
                    v[n * k + (size_t)j++] = x;
            }
            bad = end == p;
            p = *end == ',' ? end + 1 : end;
        }
        n++;
    }
    fclose(f);
    if (bad || n == 0) {
        fprintf(stderr, "%s: expected a header row and %d numeric columns\n", path, ncol);
        free(v);
        free(t);
        return -1;
    }
    if (ts_col < 0) {
        free(t);
        t = NULL;
    }
    *values = v;
    *stamps = t;
    *rows = n;
    *cols = k;
    return 0;
}

/* Creates and fits an ensemble of the three members on x. */
static tsa_status fit_ensemble(const tsa_series *x, const char *method, tsa_model **out)
{
    tsa_params *params;
    tsa_status rc = tsa_params_create(&params);
    if (rc == TSA_OK)
        rc = tsa_params_set_str(params, "members", "ets,theta,multivariate");
    if (rc == TSA_OK)
        rc = tsa_params_set_str(params, "method", method);
    if (rc == TSA_OK)
        rc = tsa_params_set_double(params, "validation_fraction", 0.2);
    if (rc == TSA_OK)
        rc = tsa_model_create("ensemble", params, out);
    if (rc == TSA_OK)
        rc = tsa_model_fit(*out, x, NULL);
    tsa_params_free(params);
    return rc;
}

/* The number after "key": at or after p, or NAN. */
static double json_number(const char *p, const char *key)
{
    p = strstr(p, key);
    p = p ? strchr(p, ':') : NULL;
    return p ? strtod(p + 1, NULL) : NAN;
}

/* Prints each member's kind, weight and holdout RMSE from the model's JSON
 * description ("members": [{"kind": ..., "weight": ..., "holdout_rmse": ...}]).
 * A real program would use a JSON library; this scan relies only on the
 * order of the keys within each member. */
static void print_members(const char *json)
{
    /* "members" is also a parameter: look inside the fitted "state". */
    const char *p = strstr(json, "\"state\"");
    p = p ? strstr(p, "\"members\"") : NULL;
    while (p && (p = strstr(p, "\"kind\""))) {
        const char *q = strchr(strchr(p, ':'), '"') + 1;
        int len = (int)strcspn(q, "\"");
        printf("%.*s,%.6g,%.6g\n", len, q, json_number(q, "\"weight\""),
               json_number(q, "\"holdout_rmse\""));
        p = q + len;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s data.csv [mean|median|weighted_average] [horizon]\n", argv[0]);
        return 2;
    }
    const char *method = argc > 2 ? argv[2] : "median";
    size_t horizon = argc > 3 ? strtoul(argv[3], NULL, 10) : 12;

    double *values;
    int64_t *stamps;
    size_t rows, cols;
    if (read_csv(argv[1], &values, &stamps, &rows, &cols))
        return 1;
    for (size_t t = 0; t < rows; t++) /* keep the first feature only */
        values[t] = values[t * cols];

    tsa_model *model = NULL, *probe = NULL;
    tsa_forecast *fc = NULL, *check = NULL;
    char *json = NULL;
    tsa_series all = tsa_series_view(values, rows, 1);
    all.timestamps = stamps;
    tsa_status rc = fit_ensemble(&all, method, &model);
    if (rc == TSA_OK)
        rc = tsa_model_info_json(model, &json);

    /* The combination's own error on the rows the members were measured
     * on: refit on the rows before them and forecast them. */
    size_t hold = json ? (size_t)json_number(json, "\"holdout_rows\"") : 0;
    double rmse = NAN;
    tsa_series head = all;
    head.length = rows - hold;
    if (rc == TSA_OK && (hold < 1 || hold >= rows))
        rc = TSA_EFORMAT; /* not the description this program expects */
    if (rc == TSA_OK)
        rc = fit_ensemble(&head, method, &probe);
    if (rc == TSA_OK)
        rc = tsa_model_forecast(probe, NULL, hold, 0.9, &check);
    if (rc == TSA_OK)
        rc = tsa_metric_rmse(values + head.length, check->mean, hold, &rmse);

    if (rc == TSA_OK)
        rc = tsa_model_forecast(model, NULL, horizon, 0.9, &fc);
    if (rc != TSA_OK) {
        fprintf(stderr, "error: %s: %s\n", tsa_strerror(rc), tsa_last_error());
    } else {
        printf("model,weight,holdout_rmse\n");
        print_members(json);
        printf("ensemble_%s,,%.6g\n", method, rmse);
        printf("step,mean,lower,upper\n");
        for (size_t h = 0; h < fc->horizon; h++)
            printf("%zu,%.6g,%.6g,%.6g\n", h + 1, fc->mean[h], fc->lower[h], fc->upper[h]);
    }
    tsa_free(json);
    tsa_forecast_free(check);
    tsa_forecast_free(fc);
    tsa_model_free(probe);
    tsa_model_free(model);
    free(values);
    free(stamps);
    return rc == TSA_OK ? 0 : 1;
}
