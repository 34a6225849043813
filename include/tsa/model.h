/**
 * @file model.h
 * @brief Models: the registry of kinds and a model's life cycle.
 *
 * A model is created by kind name with parameters, fitted on a series, and
 * then forecasts, scores and detects anomalies, saves and loads itself.
 *
 * Thread-safety: tsa_model_fit() needs the model exclusively. On a fitted
 * model, tsa_model_forecast(), tsa_model_score(), tsa_model_detect(),
 * tsa_model_components(), tsa_model_save(), tsa_model_info_json() and the
 * accessors take a
 * <tt>const tsa_model *</tt>, write nothing into it and keep their scratch
 * memory per call, so any number of threads may call them at once.
 *
 * Anomaly scores: every kind maps its raw score to a calibrated score in
 * [0, 1], the probability that a normal point scores lower. A threshold of
 * 0.95 flags points whose calibrated score exceeds 0.95, whatever the kind.
 */
#ifndef TSA_MODEL_H
#define TSA_MODEL_H

#include <tsa/common.h>
#include <tsa/params.h>
#include <tsa/series.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief An opaque model. @since 0.1 */
typedef struct tsa_model tsa_model;

/** @brief Capability bits of a model kind. @since 0.1 */
typedef enum tsa_capability {
    TSA_CAP_FORECAST = 1u << 0,     /**< tsa_model_forecast() */
    TSA_CAP_SCORE = 1u << 1,        /**< tsa_model_score(), tsa_model_detect() */
    TSA_CAP_MULTIVARIATE = 1u << 2, /**< accepts n_features > 1 */
    TSA_CAP_INTERVALS = 1u << 3,    /**< forecasts carry prediction intervals */
    TSA_CAP_COMPONENTS = 1u << 4    /**< tsa_model_components() (@since 0.2) */
} tsa_capability;

/* ---- registry of kinds ------------------------------------------------ */

/** @brief The number of registered model kinds. @note Thread-safe. @since 0.1 */
TSA_API size_t tsa_kind_count(void);

/**
 * @brief The name of the @p i-th kind (e.g. "multivariate"), NULL past the end.
 * @note Thread-safe. @since 0.1
 */
TSA_API const char *tsa_kind_name(size_t i);

/**
 * @brief The capability bits (::tsa_capability) of @p kind, 0 if unknown.
 * Aliases (e.g. "var" for "multivariate") are accepted.
 * @note Thread-safe. @since 0.1
 */
TSA_API unsigned tsa_kind_capabilities(const char *kind);

/**
 * @brief Describes @p kind as JSON: name, description, capabilities and its
 * parameters, each with type, default, bounds or allowed values and a
 * description.
 * @param kind a name from tsa_kind_name() or an alias.
 * @param[out] json a string to release with tsa_free().
 * @return TSA_OK, TSA_EUNKNOWN_KIND, TSA_EINVAL or TSA_ENOMEM.
 * @note Thread-safe. @since 0.1
 */
TSA_API tsa_status tsa_kind_info_json(const char *kind, char **json);

/* ---- life cycle -------------------------------------------------------- */

/**
 * @brief Creates an unfitted model of @p kind.
 * @param kind a name from tsa_kind_name() or an alias.
 * @param params may be NULL (all defaults). Copied; checked against the
 *        kind's table: unknown keys, wrong types and values out of range fail
 *        with TSA_EPARAM naming the key.
 * @param[out] out the new model; NULL on failure.
 * @return TSA_OK, TSA_EINVAL, TSA_EUNKNOWN_KIND, TSA_EPARAM or TSA_ENOMEM.
 * @since 0.1
 */
TSA_API tsa_status tsa_model_create(const char *kind, const tsa_params *params,
                                    tsa_model **out);

/** @brief Frees @p m. Accepts NULL. Needs @p m exclusively. @since 0.1 */
TSA_API void tsa_model_free(tsa_model *m);

/** @brief Progress of a fit, passed to ::tsa_progress_fn. @since 0.1 */
typedef struct tsa_progress {
    size_t size;        /**< sizeof(tsa_progress) of the library that filled it */
    const char *stage;  /**< e.g. "order_selection", "epoch", "done" */
    int64_t step;       /**< steps done (epochs for neural kinds) */
    int64_t total;      /**< steps planned, or 0 if unknown */
    double train_loss;  /**< NaN when not applicable */
    double val_loss;    /**< NaN when not applicable */
    double elapsed_s;   /**< seconds since the fit began */
} tsa_progress;

/**
 * @brief Progress callback: return 0 to go on, non-zero to cancel the fit,
 * which then returns TSA_ECANCELED.
 * @since 0.1
 */
typedef int (*tsa_progress_fn)(const tsa_progress *progress, void *user);

/**
 * @brief Options of tsa_model_fit(). Initialise with tsa_fit_options_init();
 * fields are only ever appended, and libtsa reads what @c size covers.
 * @since 0.1
 */
typedef struct tsa_fit_options {
    size_t size;             /**< sizeof(tsa_fit_options), set by init */
    uint64_t seed;           /**< 0: the model's "seed" parameter */
    int64_t epochs;          /**< 0: the model's "epochs" parameter, where it applies */
    int n_threads;           /**< 0: library default */
    tsa_progress_fn progress; /**< may be NULL */
    void *user;              /**< passed to @c progress */
} tsa_fit_options;

/** @brief Sets @p o to the defaults. @since 0.1 */
TSA_API void tsa_fit_options_init(tsa_fit_options *o);

/**
 * @brief Fits @p m on @p train (refitting discards an earlier fit).
 * @param m the model to fit.
 * @param train the training series; the model keeps a copy of what it needs,
 *        so it may be freed once the call returns.
 * @param opts may be NULL (defaults).
 * @return TSA_OK, TSA_EINVAL, TSA_ENONFINITE, TSA_ESHAPE (a univariate-only
 * kind given several features), TSA_ETOOSHORT, TSA_ENUMERIC, TSA_ECANCELED
 * or TSA_ENOMEM. On failure the model keeps its earlier state.
 * @note Needs @p m exclusively. @since 0.1
 */
TSA_API tsa_status tsa_model_fit(tsa_model *m, const tsa_series *train,
                                 const tsa_fit_options *opts);

/**
 * @brief A forecast: @c horizon steps of @c n_features values, row-major.
 * @since 0.1
 */
typedef struct tsa_forecast {
    size_t horizon;       /**< number of steps */
    size_t n_features;    /**< values per step */
    double interval;      /**< the central coverage of [lower, upper], e.g. 0.95 */
    double *mean;         /**< (horizon, n_features) point forecast */
    double *lower;        /**< (horizon, n_features) lower bound */
    double *upper;        /**< (horizon, n_features) upper bound */
    int64_t *timestamps;  /**< (horizon) or NULL when the history had none */
} tsa_forecast;

/** @brief The largest horizon any kind accepts. @since 0.1 */
#define TSA_MAX_HORIZON 100000

/**
 * @brief Forecasts @p horizon steps after @p history.
 * @param m a fitted model.
 * @param history the recent past to forecast from; NULL forecasts from the
 *        end of the training series. It must have the training n_features
 *        and at least the model's context length (tsa_model_context_length()).
 * @param horizon in [1, ::TSA_MAX_HORIZON].
 * @param interval central coverage of the interval, in (0, 1), e.g. 0.95.
 * @param[out] out a forecast to release with tsa_forecast_free().
 * @return TSA_OK, TSA_EINVAL, TSA_ERANGE, TSA_ENOTFITTED, TSA_ESHAPE,
 * TSA_ETOOSHORT, TSA_ENONFINITE, TSA_EUNSUPPORTED or TSA_ENOMEM.
 * @note Thread-safe on a fitted model. @since 0.1
 */
TSA_API tsa_status tsa_model_forecast(const tsa_model *m, const tsa_series *history,
                                      size_t horizon, double interval,
                                      tsa_forecast **out);

/** @brief Frees a forecast. Accepts NULL. @since 0.1 */
TSA_API void tsa_forecast_free(tsa_forecast *fc);

/**
 * @brief How tsa_forecast_combine() merges member forecasts.
 * @since 0.2
 */
typedef enum tsa_combine_method {
    TSA_COMBINE_MEAN = 0,     /**< equal-weight mean */
    TSA_COMBINE_MEDIAN = 1,   /**< median of the members, per step and feature */
    TSA_COMBINE_WEIGHTED = 2  /**< weighted mean (weights given or derived) */
} tsa_combine_method;

/**
 * @brief Reads a combination method by name: "mean", "median" or
 * "weighted_average".
 * @param name the method's name.
 * @param[out] out the method.
 * @return TSA_OK, or TSA_EINVAL naming the accepted names (NULL arguments or
 * an unknown name). @since 0.2
 */
TSA_API tsa_status tsa_combine_method_from_name(const char *name, tsa_combine_method *out);

/**
 * @brief The name of a combination method ("mean", "median",
 * "weighted_average"), or "unknown". Never NULL. @since 0.2
 */
TSA_API const char *tsa_combine_method_name(tsa_combine_method method);

/**
 * @brief Combines forecasts of the same shape into one (Bates & Granger,
 * "The combination of forecasts", 1969).
 *
 * The mean, the lower and the upper bounds are each combined by @p method,
 * step by step and feature by feature; the result's bounds are then widened
 * where needed so that lower <= mean <= upper. Its timestamps are the first
 * member's that has them.
 *
 * For ::TSA_COMBINE_WEIGHTED, @p weights gives one non-negative weight per
 * member (normalised here, not all zero). With @p weights NULL each member
 * is weighed by the inverse of the one-step standard deviation its interval
 * implies, (upper - lower) / (2 z) at the first step averaged over the
 * features, with z the normal quantile of the interval: members that claim
 * more certainty count more. When a member's first-step interval has no
 * width, all members count equally. @p weights is ignored by the other
 * methods.
 *
 * @param members @p n forecasts with equal horizon, n_features and interval.
 * @param n the number of members, at least 1.
 * @param method the combination.
 * @param weights NULL, or @p n weights for ::TSA_COMBINE_WEIGHTED.
 * @param[out] weights_used NULL, or room for @p n doubles that receive the
 *        normalised weights applied (1/n each for mean and median).
 * @param[out] out the combined forecast, to release with tsa_forecast_free().
 * @return TSA_OK, TSA_EINVAL (NULL pointers, n of 0, a bad method or
 * weights), TSA_ESHAPE (members differ in horizon, n_features or interval),
 * TSA_ENONFINITE (a member holds NaN or Inf) or TSA_ENOMEM.
 * @note Thread-safe; reads the members only. @since 0.2
 */
TSA_API tsa_status tsa_forecast_combine(const tsa_forecast *const *members, size_t n,
                                        tsa_combine_method method, const double *weights,
                                        double *weights_used, tsa_forecast **out);

/**
 * @brief A model's mean split into named additive components (e.g. trend,
 * seasonalities, holidays), as returned by tsa_model_components().
 *
 * Component @c c is the (length, n_features) block
 * <tt>values + c * length * n_features</tt>, and the components add up to
 * @c mean: <tt>mean = sum_c values[c]</tt> (up to rounding). Components of a
 * multiplicative term (a seasonality that scales the trend) are reported as
 * their contribution in the series' units, trend * factor, with
 * <tt>multiplicative[c]</tt> set; the factor itself is values[c] / the
 * "trend" component.
 * @since 0.2
 */
typedef struct tsa_components {
    size_t length;            /**< time steps */
    size_t n_features;        /**< values per step */
    size_t n_components;      /**< number of components */
    char **names;             /**< (n_components) names, e.g. "trend", "weekly" */
    uint8_t *multiplicative;  /**< (n_components) 1 where the term scales the trend */
    double *values;           /**< (n_components, length, n_features) */
    double *mean;             /**< (length, n_features) the sum: the fitted values
                               *   (in-sample) or the forecast mean */
    int64_t *timestamps;      /**< (length) or NULL when the series has none */
    int in_sample;            /**< 1: over the given series; 0: a forecast after it */
} tsa_components;

/**
 * @brief Splits the model's mean into its components, over a series
 * (in-sample fitted values) or over a forecast horizon after it.
 *
 * Kinds with ::TSA_CAP_COMPONENTS implement it: "prophet" (components
 * "trend", then one per seasonality by name: "yearly", "weekly", "daily",
 * "custom" (or "detected": the period found in a series without
 * timestamps), and "holidays"; multiplicative seasonalities flagged as
 * such) and "ets" ("level", then "trend" with a trend, "season" with a season; a
 * multiplicative season is reported as (level + trend) (s - 1)).
 *
 * With @p horizon 0 the components cover the rows of @p x, and their sum is
 * the model's in-sample fit: for "prophet" its prediction at each row's
 * time (as tsa_model_score() compares against), for "ets" the one-step
 * prediction of each row from the rows before it (as tsa_model_score()
 * filters). With @p horizon > 0 they cover the steps after @p x (after the
 * training series for NULL), and their sum equals the mean of
 * tsa_model_forecast() with the same history and horizon.
 *
 * @param m a fitted model whose kind has ::TSA_CAP_COMPONENTS.
 * @param x the series, with the training n_features and at least the
 *        context length; NULL: the training series ("ets" keeps only its
 *        final state, so it needs @p x for @p horizon 0).
 * @param horizon 0 (in-sample over @p x) or in [1, ::TSA_MAX_HORIZON].
 * @param[out] out release with tsa_components_free(); NULL on failure.
 * @return TSA_OK, TSA_EINVAL (NULL @p m or @p out; "ets" with NULL @p x
 * and @p horizon 0), TSA_EUNSUPPORTED (the kind has no components),
 * TSA_ENOTFITTED, TSA_ERANGE (horizon), TSA_ESHAPE (n_features),
 * TSA_ETOOSHORT, TSA_ENONFINITE, TSA_ENUMERIC or TSA_ENOMEM.
 * @note Thread-safe on a fitted model. @since 0.2
 */
TSA_API tsa_status tsa_model_components(const tsa_model *m, const tsa_series *x, size_t horizon,
                                        tsa_components **out);

/** @brief Frees components. Accepts NULL. @since 0.2 */
TSA_API void tsa_components_free(tsa_components *c);

/**
 * @brief Anomaly scores of each time step of @p x.
 * @param m a fitted model whose kind scores (::TSA_CAP_SCORE).
 * @param x the series to score, with the training n_features.
 * @param raw (x->length) caller buffer for the kind's raw score, or NULL.
 * @param calibrated (x->length) caller buffer for scores in [0, 1], or NULL.
 *        At least one of the two must be given. Steps without enough context
 *        (the first tsa_model_context_length() ones) and fully masked steps
 *        score 0 in both.
 * @return TSA_OK, TSA_EINVAL, TSA_ENOTFITTED, TSA_ESHAPE, TSA_ETOOSHORT,
 * TSA_ENONFINITE, TSA_EUNSUPPORTED or TSA_ENOMEM.
 * @note Thread-safe on a fitted model. @since 0.1
 */
TSA_API tsa_status tsa_model_score(const tsa_model *m, const tsa_series *x,
                                   double *raw, double *calibrated);

/** @brief The result of tsa_model_detect(). @since 0.1 */
typedef struct tsa_detection {
    size_t length;        /**< time steps scored */
    double threshold;     /**< the calibrated threshold used */
    double *raw;          /**< (length) raw scores */
    double *calibrated;   /**< (length) calibrated scores in [0, 1] */
    uint8_t *flags;       /**< (length) 1 where calibrated > threshold */
    size_t *indices;      /**< (n_anomalies) flagged steps, increasing */
    size_t n_anomalies;   /**< number of flagged steps */
} tsa_detection;

/**
 * @brief Scores @p x and flags steps whose calibrated score exceeds
 * @p threshold, in [0, 1).
 * @param m a fitted model whose kind scores (::TSA_CAP_SCORE).
 * @param x the series to score, with the training n_features.
 * @param threshold the calibrated score a step must exceed to be flagged,
 *        e.g. 0.99 for about one false alarm per hundred normal steps.
 * @param[out] out release with tsa_detection_free().
 * @return as tsa_model_score(), and TSA_ERANGE for a bad threshold.
 * @note Thread-safe on a fitted model. @since 0.1
 */
TSA_API tsa_status tsa_model_detect(const tsa_model *m, const tsa_series *x,
                                    double threshold, tsa_detection **out);

/** @brief Frees a detection. Accepts NULL. @since 0.1 */
TSA_API void tsa_detection_free(tsa_detection *d);

/* ---- persistence -------------------------------------------------------- */

/**
 * @brief Serialises @p m (fitted or not) in the libtsa model format: a header
 * with magic, format version, kind, library version and parameters as JSON,
 * then the payload, covered by a CRC-32 checksum.
 * @param m the model to serialise.
 * @param[out] buf release with tsa_free().
 * @param[out] len its size in bytes.
 * @note Thread-safe on a fitted model. @since 0.1
 */
TSA_API tsa_status tsa_model_save(const tsa_model *m, void **buf, size_t *len);

/**
 * @brief Restores a model from tsa_model_save() output.
 * @return TSA_OK, TSA_EINVAL, TSA_EFORMAT (truncated, corrupted or foreign
 * data: never a crash or an out-of-bounds read), TSA_EVERSION,
 * TSA_EUNKNOWN_KIND or TSA_ENOMEM.
 * @since 0.1
 */
TSA_API tsa_status tsa_model_load(const void *buf, size_t len, tsa_model **out);

/** @brief tsa_model_save() to a file (written to a temporary name, then renamed). @since 0.1 */
TSA_API tsa_status tsa_model_save_file(const tsa_model *m, const char *path);

/** @brief tsa_model_load() from a file; TSA_EIO when it cannot be read. @since 0.1 */
TSA_API tsa_status tsa_model_load_file(const char *path, tsa_model **out);

/* ---- introspection ------------------------------------------------------ */

/**
 * @brief Describes @p m as JSON: kind, library version, parameters (with
 * defaults filled in), fitted, n_features, training length, context length,
 * and the kind's fitted state (for VAR: order, coefficients, covariance,
 * information criteria, stability).
 * @param m the model to describe.
 * @param[out] json release with tsa_free().
 * @note Thread-safe on a fitted model. @since 0.1
 */
TSA_API tsa_status tsa_model_info_json(const tsa_model *m, char **json);

/** @brief The canonical kind name of @p m, NULL for NULL. @since 0.1 */
TSA_API const char *tsa_model_kind(const tsa_model *m);
/** @brief Whether @p m is fitted. @since 0.1 */
TSA_API int tsa_model_is_fitted(const tsa_model *m);
/** @brief The number of features @p m was fitted on (0 when unfitted). @since 0.1 */
TSA_API size_t tsa_model_n_features(const tsa_model *m);
/**
 * @brief The number of past steps a forecast or a score needs before the
 * first predicted step (e.g. the VAR order), 0 when unfitted.
 * @since 0.1
 */
TSA_API size_t tsa_model_context_length(const tsa_model *m);

/**
 * @brief A copy of the model's resolved parameters (defaults filled in).
 * @param m the model.
 * @param[out] out release with tsa_params_free().
 * @since 0.1
 */
TSA_API tsa_status tsa_model_params(const tsa_model *m, tsa_params **out);

#ifdef __cplusplus
}
#endif

#endif /* TSA_MODEL_H */
