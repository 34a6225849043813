/* forecast_lstm: train a small LSTM on a CSV file and print a forecast.
 *
 *   forecast_lstm data.csv [horizon] [hidden_size] [epochs] [interval]
 *
 * The CSV starts with a header row; a column named "timestamp" (integer
 * seconds) is used as the time axis and a column named "label" is ignored,
 * so the output of `tsa generate` works as is. Every other column is a
 * feature. Training progress goes to standard error, one line per epoch;
 * the forecast goes to standard output as CSV: the step (or its timestamp),
 * then mean, lower and upper for each feature.
 *
 * Build against an installed libtsa:
 *   cc forecast_lstm.c $(pkg-config --cflags --libs tsa) -o forecast_lstm
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

/* Called by tsa_model_fit(); returning non-zero would cancel the fit (a
 * service would do that when its client disconnects). */
static int on_progress(const tsa_progress *p, void *user)
{
    (void)user;
    if (strcmp(p->stage, "epoch") == 0)
        fprintf(stderr, "epoch %" PRId64 "/%" PRId64 " train_loss=%.5f val_loss=%.5f (%.2fs)\n",
                p->step, p->total, p->train_loss, p->val_loss, p->elapsed_s);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s data.csv [horizon] [hidden_size] [epochs] [interval]\n",
                argv[0]);
        return 2;
    }
    size_t horizon = argc > 2 ? strtoul(argv[2], NULL, 10) : 24;
    long hidden = argc > 3 ? strtol(argv[3], NULL, 10) : 16;
    long epochs = argc > 4 ? strtol(argv[4], NULL, 10) : 20;
    double interval = argc > 5 ? strtod(argv[5], NULL) : 0.9;

    double *values;
    int64_t *stamps;
    size_t rows, cols;
    if (read_csv(argv[1], &values, &stamps, &rows, &cols))
        return 1;

    /* A deliberately small network: the defaults (64 units, 100 epochs)
     * suit real data but take longer. Values out of range fail at create
     * with TSA_EPARAM and a message naming the key. */
    tsa_params *params;
    tsa_params_create(&params);
    tsa_params_set_int(params, "hidden_size", hidden);
    tsa_params_set_int(params, "epochs", epochs);
    tsa_params_set_int(params, "sequence_length", 24);
    tsa_params_set_int(params, "prediction_length", 4);
    tsa_params_set_double(params, "learning_rate", 0.01);

    tsa_fit_options opts;
    tsa_fit_options_init(&opts);
    opts.seed = 7; /* a fixed seed makes the run reproducible */
    opts.progress = on_progress;

    tsa_series train = tsa_series_view(values, rows, cols);
    train.timestamps = stamps; /* forecast rows then carry timestamps too */
    tsa_model *model = NULL;
    tsa_forecast *fc = NULL;
    tsa_status rc = tsa_model_create("lstm", params, &model);
    if (rc == TSA_OK)
        rc = tsa_model_fit(model, &train, &opts);
    if (rc == TSA_OK)
        rc = tsa_model_forecast(model, NULL, horizon, interval, &fc);
    if (rc != TSA_OK) {
        fprintf(stderr, "error: %s: %s\n", tsa_strerror(rc), tsa_last_error());
    } else {
        printf("%s", fc->timestamps ? "timestamp" : "step");
        for (size_t j = 0; j < cols; j++)
            printf(",mean_%zu,lower_%zu,upper_%zu", j, j, j);
        printf("\n");
        for (size_t h = 0; h < fc->horizon; h++) {
            if (fc->timestamps)
                printf("%" PRId64, fc->timestamps[h]);
            else
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
    free(stamps);
    return rc == TSA_OK ? 0 : 1;
}
