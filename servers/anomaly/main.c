/* tsa-anomaly: the anomaly detection agent (MCP and A2A, port 8002). */
#include <cjson/cJSON.h>
#include <string.h>

#include "agent_main.h"
#include "evaluate.h"
#include "tools.h"

static cJSON *train(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    return tsa_op_train(ctx, args, "anomaly", NULL, tsa_tool_fit_progress, call, e);
}

static cJSON *detect(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_detect(ctx, args, e);
}

static cJSON *evaluate(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_evaluate_detector(ctx, args, e);
}

static cJSON *select_best(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_select_detector(ctx, args, e);
}

static cJSON *explain(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_explain(ctx, args, e);
}

static cJSON *load(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_tool_load_model_task(ctx, "anomaly", args, e);
}

static cJSON *list(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_tool_list_models_task(ctx, "anomaly", args, e);
}

#define KINDS "prophet, hmm, transformer, lstm, cnn, multivariate (VAR), ets, theta"
#define LABELS "\"labels\": {\"type\": \"array\", \"items\": {\"type\": [\"integer\", \"boolean\"]}, \"description\": \"1 at known anomalies, one per row\"}"

static const tsa_tool tools[] = {
    {"train_anomaly_model", "Train an anomaly model",
     "Fit an anomaly detection model of the given kind on (mostly normal) data and store it under model_name. "
     "Other arguments are the kind's parameters. Reports progress when the call carries a progressToken.",
     "{\"type\": \"object\", \"properties\": {\"model_type\": {\"type\": \"string\", \"description\": \"" KINDS "\"}, "
     TSA_S_MODEL_NAME ", " TSA_S_DATA ", " TSA_S_PARAMS ", " LABELS ", \"overwrite\": {\"type\": \"boolean\", \"default\": false}}, "
     "\"required\": [\"model_type\", \"model_name\", \"data\"]}",
     "{\"type\": \"object\", \"required\": [\"status\", \"model_name\", \"model_type\", \"metrics\"], \"properties\": "
     "{\"status\": {\"type\": \"string\"}, \"model_name\": {\"type\": \"string\"}, \"model_type\": {\"type\": \"string\"}, "
     "\"metrics\": {\"type\": \"object\"}}}",
     TSA_TOOL_DESTRUCTIVE, "anomaly-detection,training",
     "{\"model_type\": \"hmm\", \"model_name\": \"sensor\", \"data\": [[1.0], [1.2], [0.9]]}", train},
    {"detect_anomalies", "Detect anomalies",
     "Score every point with a stored model (model_name) or a model of model_type fitted on the data, and flag "
     "points whose calibrated score exceeds the threshold (0.95 flags points outside the 95% normal range).",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME ", \"model_type\": {\"type\": \"string\"}, " TSA_S_DATA
     ", " TSA_S_THRESHOLD ", " LABELS "}, \"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"anomaly_indices\", \"calibrated_scores\", \"summary\"], \"properties\": "
     "{\"anomaly_indices\": {\"type\": \"array\"}, \"calibrated_scores\": {\"type\": \"array\"}, \"summary\": {\"type\": \"object\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "anomaly-detection",
     "{\"model_name\": \"sensor\", \"data\": [[1.0], [9.0]], \"threshold\": 0.95}", detect},
    {"evaluate_anomaly_model", "Evaluate a detector",
     "Precision, recall and F1 of a stored model or a model type against labels, at the threshold and at the best "
     "threshold found.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME ", \"model_type\": {\"type\": \"string\"}, " TSA_S_DATA
     ", " LABELS ", " TSA_S_THRESHOLD ", " TSA_S_PARAMS "}, \"required\": [\"data\", \"labels\"]}",
     "{\"type\": \"object\", \"required\": [\"precision\", \"recall\", \"f1\", \"best_threshold\"], \"properties\": "
     "{\"precision\": {\"type\": \"number\"}, \"recall\": {\"type\": \"number\"}, \"f1\": {\"type\": \"number\"}, "
     "\"best_threshold\": {\"type\": \"number\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "anomaly-detection,evaluation",
     "{\"model_type\": \"hmm\", \"data\": [1, 2, 9], \"labels\": [0, 0, 1]}", evaluate},
    {"select_best_anomaly_model", "Choose a detector",
     "Choose the anomaly model type with the best F1 on the data: against labels when given, otherwise on a copy "
     "with spikes injected at known rows; says why.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_DATA ", " LABELS ", \"include_neural\": {\"type\": \"boolean\"}}, "
     "\"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"best_model_type\", \"reason\", \"candidates\"], \"properties\": "
     "{\"best_model_type\": {\"type\": \"string\"}, \"reason\": {\"type\": \"string\"}, \"candidates\": {\"type\": \"array\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "anomaly-detection,model-selection", "{\"data\": [1, 2, 3]}", select_best},
    {"load_anomaly_model", "Load an anomaly model", "Load a stored model into memory and describe it.",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME "}, \"required\": [\"model_name\"], "
     "\"additionalProperties\": false}",
     "{\"type\": \"object\", \"required\": [\"status\", \"model_name\", \"model_type\"]}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "anomaly-detection,models", "{\"model_name\": \"sensor\"}", load},
    {"list_anomaly_models", "List anomaly models", "List the stored anomaly detection models.",
     "{\"type\": \"object\", \"properties\": {\"model_type\": {\"type\": \"string\"}, \"limit\": {\"type\": \"integer\", "
     "\"minimum\": 1, \"maximum\": 1000}}, \"additionalProperties\": false}",
     "{\"type\": \"object\", \"required\": [\"models\"], \"properties\": {\"models\": {\"type\": \"array\"}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "anomaly-detection,models", "{}", list},
    {"explain_anomalies", "Explain anomalies",
     "For each flagged point: the value, the expected value and 95% interval from the history before it, the "
     "residual, and which feature deviates most. For models with components (prophet, ets) also the fitted value "
     "and its components at the point; for prophet the component that deviates (deviating_component: trend for a "
     "level shift that persists, a seasonality by name when the residuals around the point follow it, holidays "
     "inside a holiday window, noise for an isolated spike) with the evidence (attribution).",
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME ", \"model_type\": {\"type\": \"string\"}, " TSA_S_DATA
     ", " TSA_S_THRESHOLD ", " TSA_S_PARAMS "}, \"required\": [\"data\"]}",
     "{\"type\": \"object\", \"required\": [\"explanations\", \"n_anomalies\"], \"properties\": {\"explanations\": "
     "{\"type\": \"array\", \"items\": {\"type\": \"object\", \"required\": [\"index\", \"value\", \"explanation\"], "
     "\"properties\": {\"index\": {\"type\": \"integer\"}, \"value\": {\"type\": \"array\"}, "
     "\"explanation\": {\"type\": \"string\"}, \"fitted\": {\"type\": \"number\"}, "
     "\"components\": {\"type\": \"object\", \"additionalProperties\": {\"type\": [\"number\", \"null\"]}}, "
     "\"deviating_component\": {\"type\": \"string\", \"description\": \"trend, a seasonality's name "
     "(yearly, weekly, daily, custom, detected), holidays or noise\"}, "
     "\"attribution\": {\"type\": \"object\", \"required\": [\"residual\", \"residual_sd\", \"in_holiday_window\", "
     "\"level_persistence\", \"seasonal_correlation\"], \"properties\": {\"residual\": {\"type\": \"number\"}, "
     "\"residual_sd\": {\"type\": \"number\"}, \"in_holiday_window\": {\"type\": \"boolean\"}, "
     "\"holiday_effect\": {\"type\": [\"number\", \"null\"]}, \"rows_after\": {\"type\": \"integer\"}, "
     "\"level_persistence\": {\"type\": [\"number\", \"null\"]}, \"level_shift_z\": {\"type\": [\"number\", \"null\"]}, "
     "\"seasonal_correlation\": {\"type\": \"object\"}, \"seasonal_amplitude_change\": {\"type\": \"object\"}, "
     "\"seasonal_share\": {\"type\": \"object\"}, \"phase_repeat\": {\"type\": \"object\"}}}}}}, "
     "\"n_anomalies\": {\"type\": \"integer\"}, \"component_names\": {\"type\": \"array\", \"items\": {\"type\": \"string\"}}}}",
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "anomaly-detection,explanation",
     "{\"model_name\": \"sensor\", \"data\": [[1.0], [9.0]]}", explain},
    TSA_TOOL_GENERATE,
    TSA_TOOL_GET_MODEL,
    TSA_TOOL_DELETE_MODEL,
};

int main(int argc, char **argv)
{
    tsa_agent_program p;
    memset(&p, 0, sizeof p);
    p.service = "anomaly-mcp";
    p.binary = "tsa-anomaly";
    p.port_env = "TSA_ANOMALY_PORT";
    p.default_port = "8002";
    p.agent.name = "tsa-anomaly";
    p.agent.title = "libtsa anomaly detection agent";
    p.agent.description = "Time-series anomaly detection: trains, stores, evaluates and selects detectors "
                          "(Prophet-style, Gaussian HMM, Transformer, VAR, ...) and flags and explains anomalies";
    p.agent.instructions = "Train a detector with train_anomaly_model (or pick a type with select_best_anomaly_model), "
                           "then call detect_anomalies with its model_name; threshold 0.95 flags points outside the "
                           "95% normal range. explain_anomalies says why each point was flagged.";
    p.agent.tools = tools;
    p.agent.n_tools = sizeof tools / sizeof tools[0];
    return tsa_agent_main(&p, argc, argv);
}
