/* An in-memory cache of loaded models, shared read-only across request
 * threads, evicted least-recently-used by the size of the model files.
 * Entries are reference-counted: an evicted or replaced model is freed when
 * its last user releases it. Keyed by name and version (the store's
 * updated_at), so a model replaced by another process is reloaded. */
#ifndef TSA_SERVERS_CACHE_H
#define TSA_SERVERS_CACHE_H

#include <stddef.h>
#include <stdint.h>
#include <tsa/model.h>

typedef struct tsa_model_cache tsa_model_cache;
typedef struct tsa_cached_model tsa_cached_model;

tsa_model_cache *tsa_model_cache_create(size_t max_bytes);
void tsa_model_cache_free(tsa_model_cache *c);

/* The cached model for (name, version), or NULL (then load it and put it). */
tsa_cached_model *tsa_model_cache_get(tsa_model_cache *c, const char *name, int64_t version);
/* Inserts a loaded model (taking ownership) and returns a held reference. */
tsa_cached_model *tsa_model_cache_put(tsa_model_cache *c, const char *name, int64_t version,
                                      tsa_model *m, size_t bytes);
/* Drops @name (after a delete or overwrite). */
void tsa_model_cache_forget(tsa_model_cache *c, const char *name);
const tsa_model *tsa_cached_model_get(const tsa_cached_model *e);
void tsa_model_cache_release(tsa_model_cache *c, tsa_cached_model *e);

#endif
