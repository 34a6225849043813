/* forecast_var: fit a VAR model to a CSV file and print a forecast.
 *
 *   forecast_var data.csv [horizon] [interval]
 *
 * The CSV has one column per feature and an optional header row ("-" reads
 * standard input). The output is CSV: the step, then mean, lower and upper
 * for each feature, with the interval's central coverage (default 0.95).
 *
 * Build against an installed libtsa:
 *   cc forecast_var.c $(pkg-config --cflags --libs tsa) -o forecast_var
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tsa/tsa.h>

/* Reads a numeric CSV into a growing row-major array; skips a header line. */
static int read_csv(FILE *f, double **values, size_t *rows, size_t *cols)
{
    char line[65536];
    size_t cap = 0, n = 0, k = 0;
    double *v = NULL;
    int first = 1;
    while (fgets(line, sizeof line, f)) {
        size_t c = 0;
        char *p = line, *end;
        line[strcspn(line, "\r\n")] = '\0';
        if (!*line)
            continue;
        double row[1024];
        for (;;) {
            double x = strtod(p, &end);
            if (end == p)
                break;
            if (c == 1024)
                return fprintf(stderr, "too many columns\n"), -1;
            row[c++] = x;
            p = end;
            while (*p == ' ' || *p == '\t')
                p++;
            if (*p != ',')
                break;
            p++;
        }
        if (c == 0 || *p) { /* not a numeric row */
            if (first) {
                first = 0;
                continue; /* a header */
            }
            fprintf(stderr, "row %zu: not a list of numbers: %s\n", n + 1, line);
            return -1;
        }
        first = 0;
        if (k == 0)
            k = c;
        if (c != k) {
            fprintf(stderr, "row %zu: %zu columns, expected %zu\n", n + 1, c, k);
            return -1;
        }
        if ((n + 1) * k > cap) {
            cap = cap ? cap * 2 : 1024 * k;
            double *grown = realloc(v, cap * sizeof *v);
            if (!grown)
                return free(v), -1;
            v = grown;
        }
        memcpy(v + n * k, row, k * sizeof *row);
        n++;
    }
    *values = v;
    *rows = n;
    *cols = k;
    return n > 0 ? 0 : -1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s data.csv [horizon] [interval]\n", argv[0]);
        return 2;
    }
    size_t horizon = argc > 2 ? strtoul(argv[2], NULL, 10) : 12;
    double interval = argc > 3 ? strtod(argv[3], NULL) : 0.95;

    FILE *f = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    double *values;
    size_t rows, cols;
    int bad = read_csv(f, &values, &rows, &cols);
    if (f != stdin)
        fclose(f);
    if (bad) {
        fprintf(stderr, "%s: no numeric data\n", argv[1]);
        return 1;
    }

    /* Parameters are key/value pairs; unknown keys are rejected by name. */
    tsa_params *params;
    tsa_params_create(&params);
    tsa_params_set_int(params, "max_lags", 8);
    tsa_params_set_str(params, "ic", "aic");

    tsa_model *model = NULL;
    tsa_forecast *fc = NULL;
    tsa_series train = tsa_series_view(values, rows, cols);
    tsa_status rc = tsa_model_create("multivariate", params, &model);
    if (rc == TSA_OK)
        rc = tsa_model_fit(model, &train, NULL);
    /* NULL history: forecast from the end of the training data. */
    if (rc == TSA_OK)
        rc = tsa_model_forecast(model, NULL, horizon, interval, &fc);
    if (rc != TSA_OK) {
        fprintf(stderr, "error: %s: %s\n", tsa_strerror(rc), tsa_last_error());
    } else {
        printf("step");
        for (size_t j = 0; j < cols; j++)
            printf(",mean_%zu,lower_%zu,upper_%zu", j, j, j);
        printf("\n");
        for (size_t h = 0; h < fc->horizon; h++) {
            printf("%zu", h + 1);
            for (size_t j = 0; j < cols; j++) {
                size_t i = h * cols + j;
                printf(",%.6g,%.6g,%.6g", fc->mean[i], fc->lower[i], fc->upper[i]);
            }
            printf("\n");
        }
    }
    tsa_forecast_free(fc);
    tsa_model_free(model);
    tsa_params_free(params);
    free(values);
    return rc == TSA_OK ? 0 : 1;
}
