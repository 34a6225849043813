/* Tools shared by the agents (see tools.h). */
#include "tools.h"

#include <stdio.h>
#include <string.h>

int tsa_tool_fit_progress(const tsa_progress *p, void *call)
{
    char msg[160];
    if (p->train_loss == p->train_loss)
        snprintf(msg, sizeof msg, "%s %lld/%lld, loss %.6g", p->stage, (long long)p->step, (long long)p->total,
                 p->train_loss);
    else
        snprintf(msg, sizeof msg, "%s %lld/%lld", p->stage, (long long)p->step, (long long)p->total);
    return tsa_tool_progress(call, (double)p->step, (double)p->total, msg);
}

cJSON *tsa_tool_generate(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)ctx;
    (void)call;
    return tsa_op_generate(args, e);
}

cJSON *tsa_tool_get_model(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_model_get(ctx, cJSON_GetObjectItemCaseSensitive(args, "model_name")->valuestring, e);
}

cJSON *tsa_tool_delete_model(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    (void)call;
    return tsa_op_model_delete(ctx, cJSON_GetObjectItemCaseSensitive(args, "model_name")->valuestring, "mcp", e);
}

cJSON *tsa_tool_list_models_task(tsa_svc *svc, const char *task, const cJSON *args, tsa_svc_error *e)
{
    const cJSON *k = cJSON_GetObjectItemCaseSensitive(args, "model_type");
    const cJSON *l = cJSON_GetObjectItemCaseSensitive(args, "limit");
    return tsa_op_model_list(svc, task, cJSON_IsString(k) ? k->valuestring : NULL,
                             cJSON_IsNumber(l) ? (size_t)l->valuedouble : 100, 0, e);
}

cJSON *tsa_tool_load_model_task(tsa_svc *svc, const char *task, const cJSON *args, tsa_svc_error *e)
{
    const char *name = cJSON_GetObjectItemCaseSensitive(args, "model_name")->valuestring;
    cJSON *out = tsa_op_model_get(svc, name, e);
    if (!out)
        return NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(out, "task");
    if (cJSON_IsString(t) && strcmp(t->valuestring, task) != 0) {
        /* Any model can be loaded; say what it is for. */
        cJSON_AddStringToObject(out, "note", "this model was trained for another task");
    }
    cJSON_AddStringToObject(out, "status", "loaded");
    return out;
}
