/**
 * @file metrics.h
 * @brief Forecast accuracy and detection metrics.
 *
 * All functions are pure and thread-safe. Inputs must be finite; a
 * non-finite value fails with TSA_ENONFINITE naming its index.
 */
#ifndef TSA_METRICS_H
#define TSA_METRICS_H

#include <tsa/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Mean absolute error of @p yhat against @p y (n > 0). @since 0.1 */
TSA_API tsa_status tsa_metric_mae(const double *y, const double *yhat, size_t n, double *out);

/** @brief Root mean squared error. @since 0.1 */
TSA_API tsa_status tsa_metric_rmse(const double *y, const double *yhat, size_t n, double *out);

/**
 * @brief Mean absolute percentage error, in percent: 100/n sum |y - yhat| / |y|.
 * @return TSA_ENUMERIC when some y is 0.
 * @since 0.1
 */
TSA_API tsa_status tsa_metric_mape(const double *y, const double *yhat, size_t n, double *out);

/**
 * @brief Symmetric MAPE in percent, 100/n sum 2|y - yhat| / (|y| + |yhat|),
 * terms with y = yhat = 0 counting 0 (range [0, 200]).
 * @since 0.1
 */
TSA_API tsa_status tsa_metric_smape(const double *y, const double *yhat, size_t n, double *out);

/**
 * @brief Mean absolute scaled error (Hyndman & Koehler 2006): MAE divided by
 * the in-sample MAE of the seasonal-naive forecast with period @p m on
 * @p train (n_train > m, m >= 1).
 * @return TSA_ENUMERIC when that scale is 0 (a constant training series).
 * @since 0.1
 */
TSA_API tsa_status tsa_metric_mase(const double *y, const double *yhat, size_t n,
                                   const double *train, size_t n_train, size_t m,
                                   double *out);

/** @brief Counts and rates of flagged points against labels. @since 0.1 */
typedef struct tsa_classification {
    size_t true_positives;  /**< flagged and labelled */
    size_t false_positives; /**< flagged, not labelled */
    size_t false_negatives; /**< labelled, not flagged */
    size_t true_negatives;  /**< neither flagged nor labelled */
    double precision;  /**< tp / (tp + fp), 0 when nothing was flagged */
    double recall;     /**< tp / (tp + fn), 0 when nothing is labelled */
    double f1;         /**< harmonic mean of precision and recall, 0 if both are 0 */
} tsa_classification;

/**
 * @brief Compares flags with labels point by point (non-zero = anomaly).
 * @since 0.1
 */
TSA_API tsa_status tsa_metric_classification(const uint8_t *labels, const uint8_t *flags,
                                             size_t n, tsa_classification *out);

#ifdef __cplusplus
}
#endif

#endif /* TSA_METRICS_H */
