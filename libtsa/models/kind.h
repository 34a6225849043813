/* The vtable every model kind implements, its parameter table, and the
 * model object shared by the generic life cycle (models/model.c). */
#ifndef TSA_MODELS_KIND_H
#define TSA_MODELS_KIND_H

#include <cjson/cJSON.h>
#include <tsa/model.h>

#include "core/buf.h"

/* One hyperparameter: name, type, default, inclusive numeric bounds (ints and
 * doubles) or a NULL-terminated list of allowed strings. */
typedef struct tsa_param_spec {
    const char *name;
    tsa_param_type type;
    double def_num;              /* default of INT, DOUBLE and BOOL keys */
    const char *def_str;         /* default of STRING keys */
    double min;
    double max;
    const char *const *choices;  /* STRING keys: allowed values, or NULL for any */
    const char *description;
} tsa_param_spec;

/* What a fit may use besides the data: resolved seed/epochs/threads, and
 * the caller's progress callback (report through tsa_fit_report). */
typedef struct tsa_fit_ctx {
    uint64_t seed;
    int64_t epochs;      /* 0 when the caller did not override the parameter */
    int n_threads;
    tsa_progress_fn progress;
    void *user;
    double t_start;      /* monotonic seconds at the start of the fit */
} tsa_fit_ctx;

/* Calls the progress callback, if any; TSA_ECANCELED (with a message) when it
 * asks to stop. */
tsa_status tsa_fit_report(const tsa_fit_ctx *ctx, const char *stage, int64_t step,
                          int64_t total, double train_loss, double val_loss);

typedef struct tsa_kind tsa_kind;

struct tsa_model {
    const tsa_kind *kind;
    tsa_params *params;   /* resolved: every key of the kind's table is set */
    int fitted;
    size_t n_features;    /* of the training series */
    size_t n_train;       /* training length */
    int has_timestamps;   /* whether training had timestamps */
    int64_t last_timestamp;
    int64_t timestamp_step; /* median spacing of the training timestamps */
    size_t tail_len;      /* rows of training data kept for forecasts without history */
    double *tail;         /* (tail_len, n_features) */
    void *state;          /* the kind's fitted state, kind->state_size bytes */
};

struct tsa_kind {
    const char *name;
    const char *const *aliases;  /* NULL-terminated, or NULL */
    const char *description;
    unsigned caps;               /* tsa_capability bits */
    const tsa_param_spec *params;
    size_t n_params;
    size_t state_size;

    /* Releases what the state points to (not the state block itself). */
    void (*destroy)(void *state);

    /* Fits into @state, a zeroed block of state_size bytes. @m gives the
     * resolved params and n_features; @train is validated, finite (missing
     * values already interpolated) and has m->n_features columns. On failure
     * the generic code destroys @state. Must set *tail_len to the number of
     * trailing training rows a forecast without history needs. */
    tsa_status (*fit)(const tsa_model *m, void *state, const tsa_series *train,
                      const tsa_fit_ctx *ctx, size_t *tail_len);

    /* The number of leading rows a forecast or score needs. */
    size_t (*context_length)(const tsa_model *m);

    /* Fills fc->mean/lower/upper ((horizon, n_features), allocated by the
     * caller) from @history, which is validated, finite and at least
     * context_length long. */
    tsa_status (*forecast)(const tsa_model *m, const tsa_series *history, size_t horizon,
                           double interval, tsa_forecast *fc);

    /* Fills raw and calibrated (both non-NULL, x->length) for a validated,
     * finite @x at least context_length long; steps without context get 0. */
    tsa_status (*score)(const tsa_model *m, const tsa_series *x, double *raw,
                        double *calibrated);

    /* Writes / reads the fitted state. load gets a zeroed state block and must
     * check every size it reads against m->n_features and sane limits, and
     * fail with TSA_EFORMAT (the generic code then calls destroy). */
    tsa_status (*save)(const tsa_model *m, tsa_wbuf *w);
    tsa_status (*load)(const tsa_model *m, void *state, tsa_rbuf *r);

    /* Adds the fitted state's description to @obj. */
    tsa_status (*info)(const tsa_model *m, cJSON *obj);

    /* NULL for kinds without TSA_CAP_COMPONENTS. Splits the mean over @x
     * (horizon 0) or over @horizon steps after it into components: @x is
     * validated and finite, or NULL for the training series. @c arrives with
     * length, n_features, in_sample and timestamps set (timestamps NULL when
     * unknown; the kind may fill them for a NULL @x); the kind calls
     * tsa_components_alloc and fills names and values. The generic code sums
     * the values into c->mean and frees @c on failure. */
    tsa_status (*components)(const tsa_model *m, const tsa_series *x, size_t horizon,
                             tsa_components *c);
};

/* Allocates c->names, c->multiplicative and zeroed c->values for
 * @n_components of c->length rows (models/model.c). */
tsa_status tsa_components_alloc(tsa_components *c, size_t n_components);
/* Sets component @i's name (copied) and multiplicative flag. */
tsa_status tsa_components_name(tsa_components *c, size_t i, const char *name, int multiplicative);

/* The registry (models/registry.c). */
const tsa_kind *tsa_kind_find(const char *name);
size_t tsa_kind_registry_count(void);
const tsa_kind *tsa_kind_registry_at(size_t i);

/* Parameter tables (core/params.c): fill defaults and check @given against
 * @kind's table into a new resolved set. */
tsa_status tsa_params_resolve(const tsa_kind *kind, const tsa_params *given,
                              tsa_params **out);
/* A deep copy of @p. */
tsa_status tsa_params_copy(const tsa_params *p, tsa_params **out);

/* The parameters as a new cJSON object (NULL on allocation failure). */
cJSON *tsa_params_cjson(const tsa_params *p);

/* Describes a table as a JSON array of {name, type, default, min, max,
 * choices, description}. */
cJSON *tsa_param_specs_json(const tsa_param_spec *specs, size_t n);

/* Typed reads of resolved parameters (the key is known to exist). */
int64_t tsa_param_int(const tsa_model *m, const char *key);
double tsa_param_double(const tsa_model *m, const char *key);
const char *tsa_param_str(const tsa_model *m, const char *key);
int tsa_param_bool(const tsa_model *m, const char *key);

/* The kinds. */
extern const tsa_kind tsa_kind_multivariate;
extern const tsa_kind tsa_kind_lstm;
extern const tsa_kind tsa_kind_cnn;
extern const tsa_kind tsa_kind_transformer;
extern const tsa_kind tsa_kind_cnn_lstm;
extern const tsa_kind tsa_kind_naive;
extern const tsa_kind tsa_kind_seasonal_naive;
extern const tsa_kind tsa_kind_ets;
extern const tsa_kind tsa_kind_theta;
extern const tsa_kind tsa_kind_prophet;
extern const tsa_kind tsa_kind_hmm;
extern const tsa_kind tsa_kind_ensemble;

#endif
