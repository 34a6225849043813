/* An agent: a set of tools served over MCP (Streamable HTTP, revision
 * 2025-11-25, also accepting 2025-06-18 and 2025-03-26 clients) on /mcp and
 * over A2A (v1.0, with the v0.3 method names on the same endpoint; answers
 * at once or streamed over SSE) on /a2a, with its agent card at
 * /.well-known/agent-card.json. Each tool is one A2A skill. Tools are plain functions from JSON arguments to a JSON result
 * (usually thin wrappers over ops.h). */
#ifndef TSA_SERVERS_AGENT_H
#define TSA_SERVERS_AGENT_H

#include <cjson/cJSON.h>
#include <pthread.h>

#include "http.h"
#include "ops.h"

enum {
    TSA_TOOL_READ_ONLY = 1,
    TSA_TOOL_DESTRUCTIVE = 2,
    TSA_TOOL_IDEMPOTENT = 4,
    TSA_TOOL_OPEN_WORLD = 8,
};

typedef struct tsa_tool_call tsa_tool_call;

/* Runs a tool: returns the structured result (conforming to the tool's
 * output schema) or NULL with @e set (reported as a tool error). */
typedef cJSON *(*tsa_tool_fn)(void *ctx, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e);

typedef struct tsa_tool {
    const char *name;
    const char *title;
    const char *description;
    const char *input_schema;  /* JSON Schema text, type object */
    const char *output_schema; /* JSON Schema text, type object */
    unsigned hints;            /* TSA_TOOL_* */
    const char *tags;          /* comma-separated, for the A2A skill */
    const char *example;       /* an example request, for the A2A skill */
    tsa_tool_fn fn;
} tsa_tool;

typedef struct tsa_agent tsa_agent;

typedef struct tsa_agent_config {
    const char *name;          /* "tsa-forecasting" */
    const char *title;
    const char *description;
    const char *instructions;  /* MCP initialize instructions */
    const tsa_tool *tools;
    size_t n_tools;
    void *ctx;                 /* passed to every tool */
    const char *allowed_origins; /* extra allowed Origins (comma-separated); loopback always allowed */
    const char *cors_origins;  /* the CORS allow-list: its entries are allowed Origins too ("*" is not) */
    const char *public_url;    /* base URL in the agent card, e.g. http://127.0.0.1:8001 */
} tsa_agent_config;

tsa_agent *tsa_agent_create(const tsa_agent_config *cfg);
void tsa_agent_free(tsa_agent *a);
/* Adds /mcp, /a2a and the agent card routes. */
void tsa_agent_routes(tsa_agent *a, tsa_http_server *srv);
/* Before the HTTP server stops: cancels the calls and A2A tasks in flight
 * (MCP calls answer an error, tasks end CANCELED, their streams close) and
 * waits for the task threads to finish. */
void tsa_agent_stop(tsa_agent *a);
/* Sets the base URL once the port is known. */
void tsa_agent_set_url(tsa_agent *a, const char *url);
/* Calls a tool in-process (as A2A does); the result or NULL with @e. */
cJSON *tsa_agent_call(tsa_agent *a, const char *tool, const cJSON *args, tsa_svc_error *e);

/* Inside a tool: reports progress (MCP notifications/progress when the
 * caller gave a progressToken; for an A2A task, its status message and a
 * WORKING update on its streams when the percent done changes). Returns
 * non-zero when the call was cancelled (notifications/cancelled,
 * CancelTask, the agent stopping): the tool should stop. */
int tsa_tool_progress(tsa_tool_call *c, double progress, double total, const char *message);
/* Whether the call was cancelled. */
int tsa_tool_cancelled(const tsa_tool_call *c);

#endif
