/* The registry of model kinds: a fixed table, so lookups need no locking. */
#include <string.h>

#include "models/kind.h"

static const tsa_kind *const kinds[] = {
    &tsa_kind_multivariate,
    &tsa_kind_lstm,
    &tsa_kind_cnn,
    &tsa_kind_transformer,
    &tsa_kind_cnn_lstm,
    &tsa_kind_naive,
    &tsa_kind_seasonal_naive,
    &tsa_kind_ets,
    &tsa_kind_theta,
    &tsa_kind_prophet,
    &tsa_kind_hmm,
    &tsa_kind_ensemble,
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

const tsa_kind *tsa_kind_find(const char *name)
{
    if (!name)
        return NULL;
    for (size_t i = 0; i < N_KINDS; i++) {
        if (strcmp(kinds[i]->name, name) == 0)
            return kinds[i];
        for (const char *const *a = kinds[i]->aliases; a && *a; a++)
            if (strcmp(*a, name) == 0)
                return kinds[i];
    }
    return NULL;
}

size_t tsa_kind_registry_count(void) { return N_KINDS; }

const tsa_kind *tsa_kind_registry_at(size_t i) { return i < N_KINDS ? kinds[i] : NULL; }

TSA_API size_t tsa_kind_count(void) { return N_KINDS; }

TSA_API const char *tsa_kind_name(size_t i) { return i < N_KINDS ? kinds[i]->name : NULL; }

TSA_API unsigned tsa_kind_capabilities(const char *kind)
{
    const tsa_kind *k = tsa_kind_find(kind);
    return k ? k->caps : 0u;
}
