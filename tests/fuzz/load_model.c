/* libFuzzer target: tsa_model_load on arbitrary bytes must fail cleanly or
 * give a model that forecasts, scores and saves without a fault. Half of the
 * inputs get a valid checksum appended so mutations reach the inner parsers. */
#include <stdlib.h>
#include <string.h>
#include <tsa/tsa.h>

#include "core/buf.h"

static void exercise(const uint8_t *data, size_t size)
{
    tsa_model *m = NULL;
    if (tsa_model_load(data, size, &m) != TSA_OK)
        return;
    tsa_forecast *fc = NULL;
    if (tsa_model_forecast(m, NULL, 5, 0.9, &fc) == TSA_OK)
        tsa_forecast_free(fc);
    size_t k = tsa_model_n_features(m), n = tsa_model_context_length(m) + 8;
    if (k && k < 64 && n < 4096) {
        double *x = calloc(n * k, sizeof *x);
        double *s = calloc(n, sizeof *s);
        if (x && s) {
            for (size_t i = 0; i < n * k; i++)
                x[i] = (double)(i % 7) - 3.0;
            tsa_series v = tsa_series_view(x, n, k);
            tsa_model_score(m, &v, NULL, s);
        }
        free(x);
        free(s);
    }
    void *buf;
    size_t len;
    if (tsa_model_save(m, &buf, &len) == TSA_OK)
        tsa_free(buf);
    char *json;
    if (tsa_model_info_json(m, &json) == TSA_OK)
        tsa_free(json);
    tsa_model_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    exercise(data, size);
    if (size > 4 && (data[size - 1] & 1)) {
        /* Same bytes with a correct CRC in the last four. */
        uint8_t *copy = malloc(size);
        if (!copy)
            return 0;
        memcpy(copy, data, size);
        uint32_t crc = tsa_crc32(0, copy, size - 4);
        for (int i = 0; i < 4; i++)
            copy[size - 4 + i] = (uint8_t)(crc >> (8 * i));
        exercise(copy, size);
        free(copy);
    }
    return 0;
}
