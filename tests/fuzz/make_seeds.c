/* Writes saved models of every kind into a directory: the fuzzers' seeds. */
#include <stdio.h>
#include <string.h>
#include <tsa/tsa.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    tsa_generate_options go;
    tsa_generate_options_init(&go);
    go.n_samples = 600;
    tsa_generated *g1 = NULL, *g2 = NULL;
    tsa_generate(&go, &g1);
    go.n_features = 2;
    tsa_generate(&go, &g2);
    int written = 0;
    for (size_t i = 0; i < tsa_kind_count(); i++) {
        const char *kind = tsa_kind_name(i);
        int multi = (tsa_kind_capabilities(kind) & TSA_CAP_MULTIVARIATE) != 0;
        tsa_generated *g = multi ? g2 : g1;
        tsa_params *p = NULL;
        tsa_params_create(&p);
        if (tsa_params_from_json("{\"epochs\": 1}", &p) == TSA_OK) {
            tsa_model *probe = NULL;
            if (tsa_model_create(kind, p, &probe) != TSA_OK) { /* no epochs key */
                tsa_params_free(p);
                p = NULL;
            }
            tsa_model_free(probe);
        }
        tsa_model *m = NULL;
        if (tsa_model_create(kind, p, &m) == TSA_OK) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s-unfitted.tsa", argv[1], kind);
            written += tsa_model_save_file(m, path) == TSA_OK;
            tsa_series s = tsa_series_view(g->values, g->length, g->n_features);
            s.timestamps = g->timestamps;
            if (tsa_model_fit(m, &s, NULL) == TSA_OK) {
                snprintf(path, sizeof path, "%s/%s.tsa", argv[1], kind);
                written += tsa_model_save_file(m, path) == TSA_OK;
            } else {
                fprintf(stderr, "%s: %s\n", kind, tsa_last_error());
            }
        }
        tsa_model_free(m);
        tsa_params_free(p);
    }
    tsa_generated_free(g1);
    tsa_generated_free(g2);
    printf("%d seeds\n", written);
    return written > 0 ? 0 : 1;
}
