/* libFuzzer target: parameter JSON, checked against every kind's table. */
#include <stdlib.h>
#include <string.h>
#include <tsa/tsa.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    tsa_params *p = NULL;
    if (tsa_params_from_json(s, &p) == TSA_OK) {
        char *json;
        if (tsa_params_to_json(p, &json) == TSA_OK)
            tsa_free(json);
        for (size_t i = 0; i < tsa_kind_count(); i++) {
            tsa_model *m = NULL;
            if (tsa_model_create(tsa_kind_name(i), p, &m) == TSA_OK)
                tsa_model_free(m);
        }
        tsa_params_free(p);
    }
    free(s);
    return 0;
}
