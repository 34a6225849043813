/* Evaluation and selection operations shared by the agents (evaluate.c). */
#ifndef TSA_SERVERS_EVALUATE_H
#define TSA_SERVERS_EVALUATE_H

#include "ops.h"

/* Rolling-origin backtest: {model_name | model_type (+params), data,
 * horizon (10), n_origins (5)} -> per-horizon MAE, RMSE, sMAPE, MASE. */
cJSON *tsa_op_backtest(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* Chooses a forecasting kind for {data, horizon?, include_neural?}. */
cJSON *tsa_op_select_forecaster(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* Precision, recall, F1 against {labels} and the best threshold. */
cJSON *tsa_op_evaluate_detector(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* Chooses an anomaly kind (by labels, or by injected spikes). */
cJSON *tsa_op_select_detector(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);
/* For each flagged point: expected value and interval, residual, why. */
cJSON *tsa_op_explain(tsa_svc *svc, const cJSON *req, tsa_svc_error *e);

#endif
