/* Tools shared by the agents (model management, data generation) and the
 * JSON Schema fragments their tables use. */
#ifndef TSA_SERVERS_TOOLS_H
#define TSA_SERVERS_TOOLS_H

#include "agent.h"

#define TSA_S_DATA                                                                                   \
    "\"data\": {\"type\": [\"array\", \"string\", \"object\"], \"description\": \"The series: rows " \
    "[[1.0],[1.1]], a flat array, a JSON string holding either, or {values, timestamps}\"}"
#define TSA_S_MODEL_NAME                                                                        \
    "\"model_name\": {\"type\": \"string\", \"minLength\": 1, \"maxLength\": 128, \"description\": " \
    "\"Name of a stored model\"}"
#define TSA_S_MODEL_TYPE "\"model_type\": {\"type\": \"string\", \"description\": \"Model kind, e.g. %s\"}"
#define TSA_S_STEPS                                                                                 \
    "\"steps_ahead\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100000, \"default\": 10, " \
    "\"description\": \"Forecast horizon\"}"
#define TSA_S_THRESHOLD                                                                               \
    "\"threshold\": {\"type\": \"number\", \"minimum\": 0, \"exclusiveMaximum\": 1, \"default\": 0.95, " \
    "\"description\": \"Calibrated score above which a point is an anomaly\"}"
#define TSA_S_PARAMS "\"params\": {\"type\": \"object\", \"description\": \"Model parameters (see the kind's table)\"}"
#define TSA_S_OBJECT "{\"type\": \"object\"}"

/* Progress of a fit reported to an MCP/A2A caller; returns non-zero to cancel. */
int tsa_tool_fit_progress(const tsa_progress *p, void *call);

cJSON *tsa_tool_generate(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e);
cJSON *tsa_tool_get_model(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e);
cJSON *tsa_tool_delete_model(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e);
/* Lists models of the task in the context's tool data ("forecasting"/"anomaly"). */
cJSON *tsa_tool_list_models_task(tsa_svc *svc, const char *task, const cJSON *args, tsa_svc_error *e);
cJSON *tsa_tool_load_model_task(tsa_svc *svc, const char *task, const cJSON *args, tsa_svc_error *e);

#define TSA_TOOL_GENERATE                                                                                      \
    {"generate_sample_data", "Generate sample data",                                                          \
     "Generate a synthetic series with trend, seasonality, noise and labelled anomalies (for trying the tools).", \
     "{\"type\": \"object\", \"properties\": {\"n_samples\": {\"type\": \"integer\", \"minimum\": 1, "          \
     "\"maximum\": 1000000}, \"n_features\": {\"type\": \"integer\", \"minimum\": 1, \"maximum\": 100}, "       \
     "\"trend\": {\"type\": \"boolean\"}, \"seasonality\": {\"type\": \"boolean\"}, \"noise_level\": "           \
     "{\"type\": \"number\", \"minimum\": 0}, \"anomalies\": {\"type\": \"integer\", \"minimum\": 0}, "          \
     "\"seed\": {\"type\": \"integer\", \"minimum\": 0}, \"periods\": {\"type\": \"array\", \"items\": "         \
     "{\"type\": \"number\"}}, \"start\": {\"type\": \"string\"}, \"freq\": {\"type\": \"string\"}}, "           \
     "\"additionalProperties\": false}",                                                                      \
     "{\"type\": \"object\", \"required\": [\"data\", \"timestamps\", \"labels\"], \"properties\": {\"data\": "   \
     "{\"type\": \"array\"}, \"timestamps\": {\"type\": \"array\"}, \"labels\": {\"type\": \"array\"}}}",          \
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "data,synthetic", "{\"n_samples\": 500, \"anomalies\": 5}",      \
     tsa_tool_generate}

#define TSA_TOOL_GET_MODEL                                                                                      \
    {"get_model", "Get a model", "Describe a stored model: kind, parameters, metrics and fitted state.",        \
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME "}, \"required\": [\"model_name\"], "        \
     "\"additionalProperties\": false}",                                                                       \
     "{\"type\": \"object\", \"required\": [\"model_name\", \"model_type\"]}",                               \
     TSA_TOOL_READ_ONLY | TSA_TOOL_IDEMPOTENT, "models", "{\"model_name\": \"my_model\"}", tsa_tool_get_model}

#define TSA_TOOL_DELETE_MODEL                                                                                    \
    {"delete_model", "Delete a model", "Delete a stored model by name.",                                        \
     "{\"type\": \"object\", \"properties\": {" TSA_S_MODEL_NAME "}, \"required\": [\"model_name\"], "         \
     "\"additionalProperties\": false}",                                                                        \
     "{\"type\": \"object\", \"required\": [\"status\", \"model_name\"]}", TSA_TOOL_DESTRUCTIVE | TSA_TOOL_IDEMPOTENT, \
     "models", "{\"model_name\": \"my_model\"}", tsa_tool_delete_model}

#endif
