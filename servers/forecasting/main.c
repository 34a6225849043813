/* tsa-forecasting: the forecasting agent (MCP and A2A, port 8001). */
#include <cjson/cJSON.h>
#include <string.h>

#include "agent_main.h"
#include "evaluate.h"
#include "tools.h"

static cJSON *train(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    return tsa_op_train(ctx, args, "forecasting", NULL, tsa_tool_fit_progress, call, e);
}

static cJSON *predict(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_predict(ctx, args, e);
}

static cJSON *evaluate(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_backtest(ctx, args, e);
}

static cJSON *select_best(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_select_forecaster(ctx, args, e);
}

static cJSON *load(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_tool_load_model_task(ctx, "forecasting", args, e);
}

static cJSON *list(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_tool_list_models_task(ctx, "forecasting", args, e);
}

#define KINDS "multivariate (VAR), lstm, cnn, transformer, prophet, ets, theta, naive, seasonal_naive"

static const tsa_tool tools[] = {
    {"train_forecasting_model", "Train a forecasting model",
     "Fit a forecasting model of the given kind on the data and store it under model_name. Other arguments are "
     "the kind's parameters (e.g. sequence_length, prediction_length, epochs for lstm). Reports progress per "
     "epoch when the call carries a progressToken; cancelling the call stops the training.",
     "{\"type\": \"object\", \"properties\": {\"model_type\": {\"type\": \"string\", \"description\": \"" KINDS "\"}, "
     TSA_S_MODEL_NAME ", " TSA_S_DATA ", " TSA_S_PARAMS ", \"overwrite\": {\"type\": \"boolean\", \"default\": false}, "
     "\"validate\": {\"type\": \"boolean\", \"default\": true}, \"sequence_length\": {\"type\": \"integer\", \"minimum\": 1}, "
     "\"prediction_length\": {\"type\": \"integer\", \"minimum\": 1}, \"epochs\": {\"type\": \"integer\", \"minimum\": 1}}, "
     "\"required\": [\"model_type\", \"model_name\", \"data\"]}",
     "{\"type\": \"object\", \"required\": [\"status\", \"model_name\", \"model_type\", \"metrics\"], \"properties\": "
     "{\"status\": {\"type\": \"string\"}, \"model_name\": {\"type\": \"string\"}, \"model_type\": {\"type\": \"string\"}, "
     "\"metrics\": {\"type\": \"object\"}, \"info\": {\"type\": \"object\"}}}",
     TSA_TOOL_DESTRUCTIVE, "forecasting,training",
     "{\"model_type\": \"multivariate\", \"model_name\": \"sales\", \"data\": [[1.0], [1.2], [0.9]]}", train},
    {"predict_forecasting", "Forecast",
     "Forecast steps_ahead steps with a stored model (model_name; from the given data, or from the end of its "
     "training data) or with a model of model_type fitted on the given data. Returns predictions with lower and "
     "upper bounds.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME ", \"model_type\": {\"type\": \"string\"}, " TSA_S_DATA
     ", " TSA_S_STEPS ", \"interval\": {\"type\": \"number\", \"minimum\": 0.5, \"maximum\": 0.999}}}",
     "{\"type\": \"object\", \"required\": [\"predictions\", \"lower_bound\", \"upper_bound\", \"steps_ahead\"], "
     "\"properties\": {\"predictions\": {\"type\": \"array\"}, \"lower_bound\": {\"type\": \"array\"}, "
     "\"upper_bound\": {\"type\": \"array\"}, \"steps_ahead\": {\"type\": \"integer\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "forecasting,prediction",
     "{\"model_name\": \"sales\", \"steps_ahead\": 24}", predict},
    {"evaluate_forecasting_model", "Backtest a forecaster",
     "Rolling-origin backtest of a stored model or a model type on the data: MAE, RMSE, sMAPE and MASE per "
     "horizon step and overall, with 95% interval coverage.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME ", \"model_type\": {\"type\": \"string\"}, " TSA_S_DATA
     ", " TSA_S_PARAMS ", \"horizon\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 1000}, "
     "\"n_origins\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 50}}, \"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"per_horizon\", \"overall\"], \"properties\": {\"per_horizon\": "
     "{\"type\": \"array\"}, \"overall\": {\"type\": \"object\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "forecasting,evaluation",
     "{\"model_type\": \"ets\", \"data\": [1, 2, 3], \"horizon\": 12}", evaluate},
    {"select_best_forecasting_model", "Choose a forecaster",
     "Choose the forecasting model type that suits the data (length, number of features, trend, seasonality), "
     "confirmed by a quick rolling-origin backtest of each candidate, and say why.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_DATA ", \"horizon\": {\"type\": \"integer\", \"minimum\": 1}, "
     "\"include_neural\": {\"type\": \"boolean\", \"default\": false}}, \"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"best_model_type\", \"reason\", \"candidates\"], \"properties\": "
     "{\"best_model_type\": {\"type\": \"string\"}, \"reason\": {\"type\": \"string\"}, \"candidates\": {\"type\": \"array\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "forecasting,model-selection", "{\"data\": [1, 2, 3]}", select_best},
    {"load_forecasting_model", "Load a forecasting model",
     "Load a stored model into memory (so later forecasts are fast) and describe it.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME "}, \"required\": [\"model_name\"], "
     "\"additionalProperties\": false}",
     "{\"type\": \"object\", \"required\": [\"status\", \"model_name\", \"model_type\"]}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "forecasting,models", "{\"model_name\": \"sales\"}", load},
    {"list_forecasting_models", "List forecasting models", "List the stored forecasting models.",
     "{\"type\": \"object\", \"properties\": {\"model_type\": {\"type\": \"string\"}, \"limit\": {\"type\": \"integer\", "
     "\"minimum\": 1, \"maximum\": 1000}}, \"additionalProperties\": false}",
     "{\"type\": \"object\", \"required\": [\"models\"], \"properties\": {\"models\": {\"type\": \"array\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "forecasting,models", "{}", list},
    TSA_TOOL_GENERATE,
    TSA_TOOL_GET_MODEL,
    TSA_TOOL_DELETE_MODEL,
};

int main(int argc, char **argv)
{
    tsa_agent_program p;
    memset(&p, 0, sizeof p);
    p.service = "forecasting-mcp";
    p.binary = "tsa-forecasting";
    p.port_env = "TSA_FORECASTING_PORT";
    p.default_port = "8001";
    p.agent.name = "tsa-forecasting";
    p.agent.title = "libtsa forecasting agent";
    p.agent.description = "Time-series forecasting: trains, stores, evaluates and selects forecasting models "
                          "(VAR, LSTM, CNN, Transformer, Prophet-style, ETS, Theta) and forecasts with intervals";
    p.agent.instructions = "Train a model with train_forecasting_model (or pick a type with "
                           "select_best_forecasting_model), then call predict_forecasting with its model_name. "
                           "Data is an array of rows such as [[1.0],[1.1]]. Errors say which argument to fix.";
    p.agent.tools = tools;
    p.agent.n_tools = sizeof tools / sizeof tools[0];
    return tsa_agent_main(&p, argc, argv);
}
