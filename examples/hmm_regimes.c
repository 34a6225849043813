/* hmm_regimes: find regimes with a Gaussian hidden Markov model.
 *
 *   hmm_regimes data.csv [n_states] [threshold]
 *
 * The CSV starts with a header row; a "timestamp" column is used as the
 * time axis and a "label" column is ignored; every other column is a
 * feature. The program fits an HMM with n_states states (default 2), prints
 * the number of states and each state's mean (read from the model's JSON
 * description), then flags the points that are improbable under the fitted
 * model:
 *
 *   states: 2
 *   state 0 mean: -2.01
 *   state 1 mean: 1.98
 *   index,value,score
 *   ...
 *
 * Build against an installed libtsa:
 *   cc hmm_regimes.c $(pkg-config --cflags --libs tsa) -o hmm_regimes
 */
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

/* Prints the "means" member of the model's JSON description: an array of
 * n_states arrays of n_features numbers. A real program would use a JSON
 * library; this scan is enough for the fixed shape libtsa writes. */
static int print_state_means(const char *json)
{
    const char *p = strstr(json, "\"means\"");
    if (!p || !(p = strchr(p, '[')))
        return -1;
    p++; /* into the outer array */
    for (int state = 0;; state++) {
        while (*p == ' ' || *p == ',' || *p == '\n')
            p++;
        if (*p != '[')
            return 0; /* the outer array's closing bracket */
        p++;
        printf("state %d mean:", state);
        for (;;) {
            char *end;
            double x = strtod(p, &end);
            if (end == p)
                return -1;
            printf(" %.4g", x);
            p = end;
            while (*p == ' ')
                p++;
            if (*p == ']')
                break;
            p++; /* the comma */
        }
        printf("\n");
        p++;
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s data.csv [n_states] [threshold]\n", argv[0]);
        return 2;
    }
    long n_states = argc > 2 ? strtol(argv[2], NULL, 10) : 2;
    double threshold = argc > 3 ? strtod(argv[3], NULL) : 0.99;

    double *values;
    int64_t *stamps;
    size_t rows, cols;
    if (read_csv(argv[1], &values, &stamps, &rows, &cols))
        return 1;

    tsa_params *params;
    tsa_params_create(&params);
    tsa_params_set_int(params, "n_states", n_states);

    tsa_series x = tsa_series_view(values, rows, cols);
    x.timestamps = stamps;
    tsa_model *model = NULL;
    tsa_detection *det = NULL;
    char *json = NULL;
    tsa_status rc = tsa_model_create("hmm", params, &model);
    if (rc == TSA_OK)
        rc = tsa_model_fit(model, &x, NULL);
    /* The fitted state (means, variances, transition matrix, BIC) is only
     * reachable through the JSON description: the C ABI keeps models
     * opaque so kinds can change their internals without a new soname. */
    if (rc == TSA_OK)
        rc = tsa_model_info_json(model, &json);
    if (rc == TSA_OK) {
        /* The number of states is also a parameter; reading it back from
         * the model gives the resolved value (auto_states may change it). */
        const char *s = strstr(json, "\"n_states\"");
        printf("states: %ld\n", s ? strtol(strchr(s, ':') + 1, NULL, 10) : n_states);
        if (print_state_means(json) != 0)
            fprintf(stderr, "warning: no state means in the model description\n");
        /* The score is the one-step predictive density given everything
         * before the point (the forward filter), so a level that is ordinary
         * in one regime is still flagged while the model believes it is in
         * the other, and a regime switch itself costs only the transition
         * probability. */
        rc = tsa_model_detect(model, &x, threshold, &det);
    }
    if (rc != TSA_OK) {
        fprintf(stderr, "error: %s: %s\n", tsa_strerror(rc), tsa_last_error());
    } else {
        printf("index,value,score\n");
        for (size_t a = 0; a < det->n_anomalies; a++) {
            size_t i = det->indices[a];
            printf("%zu,%.6g,%.6f\n", i, values[i * cols], det->calibrated[i]);
        }
    }
    tsa_free(json);
    tsa_detection_free(det);
    tsa_model_free(model);
    tsa_params_free(params);
    free(values);
    free(stamps);
    return rc == TSA_OK ? 0 : 1;
}
