/* LRU model cache with reference counts (see cache.h). */
#include "cache.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tsa_cached_model {
    char *name;
    int64_t version;
    tsa_model *model;
    size_t bytes;
    int refs;        /* users + 1 while in the cache */
    int in_cache;
    uint64_t last_use;
    tsa_cached_model *next;
};

struct tsa_model_cache {
    pthread_mutex_t lock;
    tsa_cached_model *head;
    size_t bytes;
    size_t max_bytes;
    uint64_t clock;
};

tsa_model_cache *tsa_model_cache_create(size_t max_bytes)
{
    tsa_model_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    pthread_mutex_init(&c->lock, NULL);
    c->max_bytes = max_bytes;
    return c;
}

static void entry_unref(tsa_cached_model *e)
{
    if (--e->refs == 0) {
        tsa_model_free(e->model);
        free(e->name);
        free(e);
    }
}

/* Unlinks @e from the list (lock held). */
static void unlink_entry(tsa_model_cache *c, tsa_cached_model *e)
{
    for (tsa_cached_model **p = &c->head; *p; p = &(*p)->next)
        if (*p == e) {
            *p = e->next;
            break;
        }
    e->in_cache = 0;
    c->bytes -= e->bytes;
    entry_unref(e);
}

void tsa_model_cache_free(tsa_model_cache *c)
{
    if (!c)
        return;
    while (c->head)
        unlink_entry(c, c->head);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

tsa_cached_model *tsa_model_cache_get(tsa_model_cache *c, const char *name, int64_t version)
{
    pthread_mutex_lock(&c->lock);
    tsa_cached_model *found = NULL;
    for (tsa_cached_model *e = c->head; e; e = e->next)
        if (!strcmp(e->name, name)) {
            if (e->version == version) {
                found = e;
                e->refs++;
                e->last_use = ++c->clock;
            } else {
                unlink_entry(c, e); /* stale: replaced elsewhere */
            }
            break;
        }
    pthread_mutex_unlock(&c->lock);
    return found;
}

tsa_cached_model *tsa_model_cache_put(tsa_model_cache *c, const char *name, int64_t version,
                                      tsa_model *m, size_t bytes)
{
    tsa_cached_model *e = calloc(1, sizeof *e);
    if (!e || !(e->name = strdup(name))) {
        free(e);
        tsa_model_free(m);
        return NULL;
    }
    e->version = version;
    e->model = m;
    e->bytes = bytes;
    e->refs = 2; /* the caller and the cache */
    e->in_cache = 1;
    pthread_mutex_lock(&c->lock);
    for (tsa_cached_model *o = c->head; o; o = o->next)
        if (!strcmp(o->name, name)) {
            unlink_entry(c, o);
            break;
        }
    e->last_use = ++c->clock;
    e->next = c->head;
    c->head = e;
    c->bytes += bytes;
    /* Evict least recently used entries past the budget (never the new one). */
    while (c->bytes > c->max_bytes) {
        tsa_cached_model *oldest = NULL;
        for (tsa_cached_model *o = c->head; o; o = o->next)
            if (o != e && (!oldest || o->last_use < oldest->last_use))
                oldest = o;
        if (!oldest)
            break;
        unlink_entry(c, oldest);
    }
    pthread_mutex_unlock(&c->lock);
    return e;
}

void tsa_model_cache_forget(tsa_model_cache *c, const char *name)
{
    pthread_mutex_lock(&c->lock);
    for (tsa_cached_model *e = c->head; e; e = e->next)
        if (!strcmp(e->name, name)) {
            unlink_entry(c, e);
            break;
        }
    pthread_mutex_unlock(&c->lock);
}

const tsa_model *tsa_cached_model_get(const tsa_cached_model *e) { return e->model; }

void tsa_model_cache_release(tsa_model_cache *c, tsa_cached_model *e)
{
    if (!e)
        return;
    pthread_mutex_lock(&c->lock);
    entry_unref(e);
    pthread_mutex_unlock(&c->lock);
}
