/* detect_prophet: fit a Prophet-style model and flag anomalous rows.
 *
 *   detect_prophet [data.csv] [threshold]
 *
 * The CSV starts with a header row and holds a "timestamp" column (integer
 * seconds; Prophet's seasonalities are in days, so it needs real times) and
 * one value column; a "label" column is ignored, so the output of
 * `tsa generate` works as is. Without a file (or with "-" and a threshold)
 * a series with five injected spikes is generated with tsa_generate().
 *
 * The model is fitted on the whole series and then scores the same series:
 * a point far from the fitted trend + seasonality gets a calibrated score
 * near 1. Flagged rows go to standard output as CSV:
 *   index,timestamp,value,raw_score,score
 *
 * Build against an installed libtsa:
 *   cc detect_prophet.c $(pkg-config --cflags --libs tsa) -o detect_prophet
 */
#include <inttypes.h>
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

int main(int argc, char **argv)
{
    const char *path = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    double threshold = argc > 2 ? strtod(argv[2], NULL) : 0.99;

    double *values = NULL;
    int64_t *stamps = NULL;
    size_t rows, cols;
    tsa_generated *gen = NULL;
    if (path) {
        if (read_csv(path, &values, &stamps, &rows, &cols))
            return 1;
    } else {
        /* Two weeks of hourly data with a daily cycle and five spikes. */
        tsa_generate_options g;
        tsa_generate_options_init(&g);
        g.n_samples = 336;
        g.n_anomalies = 5;
        g.seed = 11;
        if (tsa_generate(&g, &gen) != TSA_OK) {
            fprintf(stderr, "generate: %s\n", tsa_last_error());
            return 1;
        }
        rows = gen->length;
        cols = gen->n_features;
    }

    tsa_series x = gen ? tsa_series_view(gen->values, rows, cols)
                       : tsa_series_view(values, rows, cols);
    x.timestamps = gen ? gen->timestamps : stamps;

    /* uncertainty_samples only shapes forecast intervals, which this
     * program does not use; fewer makes the fit cheaper. */
    tsa_params *params;
    tsa_params_create(&params);
    tsa_params_set_int(params, "uncertainty_samples", 100);

    tsa_model *model = NULL;
    tsa_detection *det = NULL;
    tsa_status rc = tsa_model_create("prophet", params, &model);
    if (rc == TSA_OK)
        rc = tsa_model_fit(model, &x, NULL);
    /* Scoring the training data itself is fine for a one-off look; in
     * production fit on a clean history and score new data. */
    if (rc == TSA_OK)
        rc = tsa_model_detect(model, &x, threshold, &det);
    if (rc != TSA_OK) {
        fprintf(stderr, "error: %s: %s\n", tsa_strerror(rc), tsa_last_error());
    } else {
        printf("index,timestamp,value,raw_score,score\n");
        for (size_t a = 0; a < det->n_anomalies; a++) {
            size_t i = det->indices[a];
            printf("%zu,%" PRId64 ",%.6g,%.4g,%.6f\n", i, x.timestamps ? x.timestamps[i] : 0,
                   x.values[i * cols], det->raw[i], det->calibrated[i]);
        }
        fprintf(stderr, "%zu of %zu rows flagged at threshold %g\n", det->n_anomalies, rows,
                threshold);
        if (gen) { /* generated data knows where its spikes are */
            size_t hit = 0, injected = 0;
            for (size_t i = 0; i < rows; i++) {
                injected += gen->labels[i];
                hit += gen->labels[i] && det->flags[i];
            }
            fprintf(stderr, "%zu of %zu injected anomalies flagged\n", hit, injected);
        }
    }
    tsa_detection_free(det);
    tsa_model_free(model);
    tsa_params_free(params);
    tsa_generated_free(gen);
    free(values);
    free(stamps);
    return rc == TSA_OK ? 0 : 1;
}
