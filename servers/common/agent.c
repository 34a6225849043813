/* MCP (Streamable HTTP) and A2A (JSON-RPC) over one tool table (agent.h). */
#include "agent.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "jsonschema.h"
#include "series_json.h"

#define MCP_LATEST "2025-11-25"
static const char *const mcp_versions[] = {"2025-11-25", "2025-06-18", "2025-03-26", NULL};

#define MAX_SESSIONS 4096
#define SESSION_IDLE_MS (3600 * 1000LL)
#define MAX_TASKS 2048
#define MAX_TASK_EVENTS 512    /* progress updates past this are dropped; the outcome never is */

/* How a call was cancelled: by its client (notifications/cancelled; no
 * response is sent) or by the server stopping (the call answers an error). */
enum { CANCEL_BY_CLIENT = 1, CANCEL_BY_SHUTDOWN = 2 };

struct tsa_tool_call {
    tsa_http_req *req;         /* MCP over HTTP; NULL otherwise */
    cJSON *progress_token;     /* MCP progressToken, or NULL */
    int sse;                   /* the answer is an SSE stream already */
    _Atomic int cancelled;     /* 0 or CANCEL_BY_* */
    double progress_offset;    /* MCP progress must increase across fit stages */
    double last_progress;
    int n_progress;
    char rpc_id[96];           /* the JSON-RPC id as printed JSON */
    char session[40];
    struct a2a_task *task;     /* A2A */
    tsa_tool_call *next;       /* in-flight list */
};

typedef struct session {
    char id[40];
    char version[16];
    int64_t last_ms;
    int used;
} session;

/* One entry of a task's update log, read by its streams: a status change
 * (or a progress report while WORKING), or the result artifact. */
typedef struct task_event {
    int state;                 /* task_state after the event */
    int artifact;              /* 1: the result artifact (TaskArtifactUpdateEvent) */
    char *text;                /* the status message, or NULL */
    char timestamp[40];
} task_event;

typedef struct a2a_task {
    char id[40];
    char context_id[130];
    char message_id[80];
    int state;                 /* task_state */
    char *skill;
    cJSON *arguments;
    cJSON *result;             /* artifact data */
    char *error;
    char timestamp[40];
    int64_t created_ms;
    _Atomic int cancel;
    tsa_tool_call *call;       /* while running */
    struct tsa_agent *agent;
    cJSON *user_message;       /* as received (for history) */
    int v1;                    /* created through the v1.0 binding */
    char *status_text;         /* the latest progress report while WORKING */
    int last_bucket;           /* progress percent of the last reported update */
    task_event *events;        /* the update log while streamed (lock held) */
    size_t n_events, cap_events;
    int log_closed;            /* the terminal status was logged: nothing follows */
    int watchers;              /* streams reading the log: the task is not evicted */
} a2a_task;

enum task_state { T_SUBMITTED, T_WORKING, T_COMPLETED, T_FAILED, T_CANCELED, T_REJECTED };

struct tsa_agent {
    tsa_agent_config cfg;
    char *name;
    char *allowed_origins;
    char *cors_origins;
    char *url;
    cJSON **inputs;
    cJSON **outputs;
    pthread_mutex_t lock;      /* sessions, calls, tasks, url */
    pthread_cond_t changed;    /* a task's log grew, or a task thread ended */
    int stopping;
    int n_threads;             /* task threads running */
    session *sessions;
    tsa_tool_call *calls;
    a2a_task **tasks;
    size_t n_tasks;
};

/* ---- helpers ------------------------------------------------------------------- */

static void now_iso(char out[40])
{
    int64_t ms = tsa_unix_ms();
    char base[32];
    tsa_format_time(ms / 1000, base);
    /* YYYY-MM-DDTHH:MM:SSZ -> with milliseconds */
    base[19] = '\0';
    snprintf(out, 40, "%s.%03dZ", base, (int)(ms % 1000));
}

static const tsa_tool *find_tool(const tsa_agent *a, const char *name, size_t *index)
{
    for (size_t i = 0; name && i < a->cfg.n_tools; i++)
        if (!strcmp(a->cfg.tools[i].name, name)) {
            if (index)
                *index = i;
            return &a->cfg.tools[i];
        }
    return NULL;
}

tsa_agent *tsa_agent_create(const tsa_agent_config *cfg)
{
    tsa_agent *a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    a->cfg = *cfg;
    a->name = strdup(cfg->name);
    a->allowed_origins = strdup(cfg->allowed_origins ? cfg->allowed_origins : "");
    a->cors_origins = strdup(cfg->cors_origins ? cfg->cors_origins : "");
    a->url = strdup(cfg->public_url ? cfg->public_url : "http://127.0.0.1");
    a->inputs = calloc(cfg->n_tools, sizeof *a->inputs);
    a->outputs = calloc(cfg->n_tools, sizeof *a->outputs);
    a->sessions = calloc(MAX_SESSIONS, sizeof *a->sessions);
    a->tasks = calloc(MAX_TASKS, sizeof *a->tasks);
    pthread_mutex_init(&a->lock, NULL);
    pthread_cond_init(&a->changed, NULL);
    for (size_t i = 0; i < cfg->n_tools; i++) {
        a->inputs[i] = cJSON_Parse(cfg->tools[i].input_schema);
        a->outputs[i] = cJSON_Parse(cfg->tools[i].output_schema);
        if (!a->inputs[i] || !a->outputs[i]) {
            fprintf(stderr, "%s: tool %s has a malformed schema\n", cfg->name, cfg->tools[i].name);
            abort(); /* a programming error in the tool table */
        }
    }
    return a;
}

static void task_free(a2a_task *t)
{
    if (!t)
        return;
    free(t->skill);
    cJSON_Delete(t->arguments);
    cJSON_Delete(t->result);
    cJSON_Delete(t->user_message);
    free(t->error);
    free(t->status_text);
    for (size_t i = 0; i < t->n_events; i++)
        free(t->events[i].text);
    free(t->events);
    free(t);
}

void tsa_agent_free(tsa_agent *a)
{
    if (!a)
        return;
    for (size_t i = 0; i < a->cfg.n_tools; i++) {
        cJSON_Delete(a->inputs[i]);
        cJSON_Delete(a->outputs[i]);
    }
    for (size_t i = 0; i < a->n_tasks; i++)
        task_free(a->tasks[i]);
    free(a->tasks);
    free(a->inputs);
    free(a->outputs);
    free(a->sessions);
    free(a->name);
    free(a->allowed_origins);
    free(a->cors_origins);
    free(a->url);
    pthread_cond_destroy(&a->changed);
    pthread_mutex_destroy(&a->lock);
    free(a);
}

/* The server answers before its port (and so its URL) is known: the URL is
 * swapped and read under the lock. */
void tsa_agent_set_url(tsa_agent *a, const char *url)
{
    char *copy = strdup(url);
    if (!copy)
        return;
    pthread_mutex_lock(&a->lock);
    char *old = a->url;
    a->url = copy;
    pthread_mutex_unlock(&a->lock);
    free(old);
}

int tsa_tool_cancelled(const tsa_tool_call *c)
{
    return c && (c->cancelled || (c->task && c->task->cancel));
}

static void task_progress(a2a_task *t, double progress, double total, const char *message);

int tsa_tool_progress(tsa_tool_call *c, double progress, double total, const char *message)
{
    if (!c)
        return 0;
    if (c->task)
        task_progress(c->task, progress, total, message);
    /* A cancelled call reports nothing more: its client has stopped listening. */
    if (c->req && c->progress_token && !c->cancelled) {
        if (!c->sse) {
            tsa_http_sse_begin(c->req, NULL);
            c->sse = 1;
        }
        cJSON *n = cJSON_CreateObject();
        cJSON_AddStringToObject(n, "jsonrpc", "2.0");
        cJSON_AddStringToObject(n, "method", "notifications/progress");
        cJSON *p = cJSON_AddObjectToObject(n, "params");
        cJSON_AddItemToObject(p, "progressToken", cJSON_Duplicate(c->progress_token, 1));
        /* A fit may restart its count (EM restarts, a second stage); MCP
         * requires progress to increase, so continue from the last value. */
        double sent = c->progress_offset + progress;
        if (c->n_progress && !(sent > c->last_progress)) {
            c->progress_offset = c->last_progress + 1 - progress;
            sent = c->last_progress + 1;
        }
        c->last_progress = sent;
        c->n_progress++;
        cJSON_AddNumberToObject(p, "progress", sent);
        if (total > 0)
            cJSON_AddNumberToObject(p, "total", c->progress_offset + total > sent ? c->progress_offset + total : sent);
        if (message)
            cJSON_AddStringToObject(p, "message", message);
        char *s = cJSON_PrintUnformatted(n);
        cJSON_Delete(n);
        if (s) {
            tsa_http_sse_event(c->req, NULL, s);
            cJSON_free(s);
        }
    }
    return tsa_tool_cancelled(c);
}

/* Validates arguments and runs a tool. */
static cJSON *run_tool(tsa_agent *a, size_t index, const cJSON *args, tsa_tool_call *call, tsa_svc_error *e)
{
    const tsa_tool *t = &a->cfg.tools[index];
    cJSON *empty = NULL;
    if (!args || cJSON_IsNull(args))
        args = empty = cJSON_CreateObject();
    char err[600];
    if (tsa_schema_validate(a->inputs[index], args, err, sizeof err) != 0) {
        cJSON_Delete(empty);
        return tsa_svc_fail(e, 400, "invalid_arguments", NULL, "invalid arguments for %s: %s", t->name, err);
    }
    cJSON *out = t->fn(a->cfg.ctx, args, call, e);
    cJSON_Delete(empty);
    return out;
}

cJSON *tsa_agent_call(tsa_agent *a, const char *tool, const cJSON *args, tsa_svc_error *e)
{
    size_t index;
    if (!find_tool(a, tool, &index))
        return tsa_svc_fail(e, 404, "unknown_tool", "skill", "unknown tool '%.64s'", tool);
    return run_tool(a, index, args, NULL, e);
}

/* ---- Origin check ------------------------------------------------------------- */

/* Whether @origin is listed exactly in the comma-separated @list. */
static int origin_listed(const char *list, const char *origin)
{
    size_t len = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ',' || *p == ' ')
            p++;
        const char *end = p + strcspn(p, ",");
        const char *t = end;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == len && !strncmp(p, origin, len))
            return 1;
        p = end;
    }
    return 0;
}

/* Loopback origins (any port), the allowed list and the origins listed for
 * CORS (a page given CORS access must be able to call) are allowed. */
static int origin_ok(const tsa_agent *a, const char *origin)
{
    if (!origin)
        return 1;
    const char *host = strstr(origin, "://");
    if (host) {
        host += 3;
        size_t n = strcspn(host, ":/");
        if ((n == 9 && !strncmp(host, "localhost", 9)) || (n == 9 && !strncmp(host, "127.0.0.1", 9)) ||
            !strncmp(host, "[::1]", 5))
            return 1;
    }
    if (!strcmp(a->allowed_origins, "*"))
        return 1;
    return origin_listed(a->allowed_origins, origin) || origin_listed(a->cors_origins, origin);
}

/* ---- JSON-RPC -------------------------------------------------------------------- */

static cJSON *rpc_error(const cJSON *id, int code, const char *message, cJSON *data)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jsonrpc", "2.0");
    cJSON_AddItemToObject(o, "id", id ? cJSON_Duplicate(id, 1) : cJSON_CreateNull());
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddNumberToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", message);
    if (data)
        cJSON_AddItemToObject(e, "data", data);
    return o;
}

static cJSON *rpc_result(const cJSON *id, cJSON *result)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "jsonrpc", "2.0");
    cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
    cJSON_AddItemToObject(o, "result", result);
    return o;
}

/* Sends a JSON-RPC message as the HTTP answer, or as the last SSE event. */
static void rpc_send(tsa_http_req *r, int http_status, cJSON *msg, int sse, const char *extra)
{
    char *s = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (!s) {
        tsa_http_send_error(r, 500, "internal", NULL, "out of memory");
        return;
    }
    if (sse) {
        if (!r->status)
            tsa_http_sse_begin(r, extra);
        tsa_http_sse_event(r, NULL, s);
        tsa_http_sse_end(r);
    } else {
        tsa_http_send(r, http_status, "application/json", extra, s, strlen(s));
    }
    cJSON_free(s);
}

/* Classifies a parsed body: -1 parse error / not an object (answer sent). */
static int rpc_check(tsa_http_req *r, const cJSON *msg)
{
    if (cJSON_IsArray(msg)) {
        rpc_send(r, 400, rpc_error(NULL, -32600, "Invalid Request: batches are not supported; send one message per POST", NULL), 0, NULL);
        return -1;
    }
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(msg, "jsonrpc");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    int is_response = cJSON_GetObjectItemCaseSensitive(msg, "result") || cJSON_GetObjectItemCaseSensitive(msg, "error");
    if (!cJSON_IsObject(msg) || !cJSON_IsString(v) || strcmp(v->valuestring, "2.0") ||
        (!cJSON_IsString(method) && !is_response) ||
        (id && !cJSON_IsString(id) && !cJSON_IsNumber(id)) || (cJSON_IsNull(id))) {
        rpc_send(r, 400, rpc_error(cJSON_IsString(id) || cJSON_IsNumber(id) ? id : NULL, -32600,
                                   "Invalid Request: expected a JSON-RPC 2.0 request, notification or response", NULL),
                 0, NULL);
        return -1;
    }
    return 0;
}

static cJSON *parse_body(tsa_http_req *r)
{
    const char *end = NULL;
    cJSON *msg = r->body_len ? cJSON_ParseWithLengthOpts(r->body, r->body_len, &end, 0) : NULL;
    /* Anything after the value (a second message, stray text) makes the body invalid JSON. */
    while (msg && end < r->body + r->body_len && isspace((unsigned char)*end))
        end++;
    if (msg && end != r->body + r->body_len) {
        cJSON_Delete(msg);
        msg = NULL;
    }
    if (!msg) {
        rpc_send(r, 400, rpc_error(NULL, -32700, "Parse error: the body is not valid JSON", NULL), 0, NULL);
        return NULL;
    }
    return msg;
}

/* ---- MCP ------------------------------------------------------------------------- */

static session *session_find(tsa_agent *a, const char *id)
{
    for (size_t i = 0; i < MAX_SESSIONS; i++)
        if (a->sessions[i].used && !strcmp(a->sessions[i].id, id))
            return &a->sessions[i];
    return NULL;
}

static session *session_new(tsa_agent *a, const char *version)
{
    int64_t now = tsa_unix_ms();
    session *free_slot = NULL, *oldest = NULL;
    for (size_t i = 0; i < MAX_SESSIONS; i++) {
        session *s = &a->sessions[i];
        if (s->used && now - s->last_ms > SESSION_IDLE_MS)
            s->used = 0;
        if (!s->used && !free_slot)
            free_slot = s;
        if (s->used && (!oldest || s->last_ms < oldest->last_ms))
            oldest = s;
    }
    session *s = free_slot ? free_slot : oldest;
    memset(s, 0, sizeof *s);
    s->used = 1;
    tsa_uuid(s->id);
    snprintf(s->version, sizeof s->version, "%s", version);
    s->last_ms = now;
    return s;
}

static int supported_version(const char *v)
{
    for (int i = 0; mcp_versions[i]; i++)
        if (!strcmp(v, mcp_versions[i]))
            return 1;
    return 0;
}

static cJSON *tool_json(const tsa_agent *a, size_t i)
{
    const tsa_tool *t = &a->cfg.tools[i];
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "name", t->name);
    cJSON_AddStringToObject(o, "title", t->title);
    cJSON_AddStringToObject(o, "description", t->description);
    cJSON_AddItemToObject(o, "inputSchema", cJSON_Duplicate(a->inputs[i], 1));
    cJSON_AddItemToObject(o, "outputSchema", cJSON_Duplicate(a->outputs[i], 1));
    cJSON *an = cJSON_AddObjectToObject(o, "annotations");
    cJSON_AddStringToObject(an, "title", t->title);
    cJSON_AddBoolToObject(an, "readOnlyHint", (t->hints & TSA_TOOL_READ_ONLY) != 0);
    cJSON_AddBoolToObject(an, "destructiveHint", (t->hints & TSA_TOOL_DESTRUCTIVE) != 0);
    cJSON_AddBoolToObject(an, "idempotentHint", (t->hints & TSA_TOOL_IDEMPOTENT) != 0);
    cJSON_AddBoolToObject(an, "openWorldHint", (t->hints & TSA_TOOL_OPEN_WORLD) != 0);
    cJSON *ex = cJSON_AddObjectToObject(o, "execution");
    cJSON_AddStringToObject(ex, "taskSupport", "forbidden");
    return o;
}

/* A one-line text summary of a structured result for the content block. */
static cJSON *call_result(cJSON *structured, const tsa_svc_error *e)
{
    cJSON *res = cJSON_CreateObject();
    cJSON *content = cJSON_AddArrayToObject(res, "content");
    cJSON *text = cJSON_CreateObject();
    cJSON_AddStringToObject(text, "type", "text");
    if (structured) {
        char *s = cJSON_PrintUnformatted(structured);
        cJSON_AddStringToObject(text, "text", s ? s : "{}");
        cJSON_free(s);
        cJSON_AddItemToArray(content, text);
        cJSON_AddItemToObject(res, "structuredContent", structured);
        cJSON_AddBoolToObject(res, "isError", 0);
    } else {
        /* "field: message", unless the message already starts with the field. */
        int prefix = *e->field && strncmp(e->message, e->field, strlen(e->field)) != 0;
        char msg[1024];
        snprintf(msg, sizeof msg, "%s%s%s", prefix ? e->field : "", prefix ? ": " : "", e->message);
        cJSON_AddStringToObject(text, "text", msg);
        cJSON_AddItemToArray(content, text);
        cJSON_AddBoolToObject(res, "isError", 1);
    }
    return res;
}

static void register_call(tsa_agent *a, tsa_tool_call *c)
{
    pthread_mutex_lock(&a->lock);
    c->next = a->calls;
    a->calls = c;
    pthread_mutex_unlock(&a->lock);
}

static void unregister_call(tsa_agent *a, tsa_tool_call *c)
{
    pthread_mutex_lock(&a->lock);
    for (tsa_tool_call **p = &a->calls; *p; p = &(*p)->next)
        if (*p == c) {
            *p = c->next;
            break;
        }
    pthread_mutex_unlock(&a->lock);
}

static void cancel_call(tsa_agent *a, const char *session_id, const cJSON *request_id)
{
    char *id = cJSON_PrintUnformatted(request_id);
    if (!id)
        return;
    pthread_mutex_lock(&a->lock);
    for (tsa_tool_call *c = a->calls; c; c = c->next)
        if (!strcmp(c->session, session_id) && !strcmp(c->rpc_id, id) && !c->cancelled)
            c->cancelled = CANCEL_BY_CLIENT;
    pthread_mutex_unlock(&a->lock);
    cJSON_free(id);
}

static int accepts(const char *accept, const char *type)
{
    return accept && (strstr(accept, type) || strstr(accept, "*/*"));
}

static void mcp_post(tsa_http_req *r, tsa_agent *a)
{
    const char *ct = tsa_http_header(r, "Content-Type");
    if (ct && strncasecmp(ct, "application/json", 16) != 0) {
        rpc_send(r, 415, rpc_error(NULL, -32600, "Unsupported Media Type: send application/json", NULL), 0, NULL);
        return;
    }
    const char *accept = tsa_http_header(r, "Accept");
    int json_ok = !accept || accepts(accept, "application/json");
    int sse_ok = accept && accepts(accept, "text/event-stream");
    if (!json_ok && !sse_ok) {
        rpc_send(r, 406, rpc_error(NULL, -32600, "Not Acceptable: accept application/json or text/event-stream", NULL), 0, NULL);
        return;
    }
    cJSON *msg = parse_body(r);
    if (!msg)
        return;
    if (rpc_check(r, msg) != 0) {
        cJSON_Delete(msg);
        return;
    }
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    const char *m = cJSON_IsString(method) ? method->valuestring : NULL;
    int is_initialize = m && !strcmp(m, "initialize");

    /* Protocol version header (absent: 2025-03-26, or the session's). */
    const char *pv = tsa_http_header(r, "MCP-Protocol-Version");
    if (pv && !supported_version(pv)) {
        char text[200];
        snprintf(text, sizeof text, "Bad Request: unsupported MCP-Protocol-Version '%.40s'; supported: 2025-11-25, 2025-06-18, 2025-03-26", pv);
        rpc_send(r, 400, rpc_error(id, -32600, text, NULL), 0, NULL);
        cJSON_Delete(msg);
        return;
    }

    /* Sessions: required after initialize. */
    char session_id[40] = "";
    if (!is_initialize) {
        const char *sid = tsa_http_header(r, "Mcp-Session-Id");
        if (!sid) {
            rpc_send(r, 400, rpc_error(id, -32600, "Bad Request: Mcp-Session-Id header is required; call initialize first", NULL), 0, NULL);
            cJSON_Delete(msg);
            return;
        }
        pthread_mutex_lock(&a->lock);
        session *s = session_find(a, sid);
        if (s) {
            s->last_ms = tsa_unix_ms();
            snprintf(session_id, sizeof session_id, "%s", s->id);
        }
        pthread_mutex_unlock(&a->lock);
        if (!s) {
            rpc_send(r, 404, rpc_error(id, -32001, "Session not found: initialize a new session", NULL), 0, NULL);
            cJSON_Delete(msg);
            return;
        }
    }

    /* Notifications (no id) and responses (no method): 202 without a body. */
    if (!id || !m) {
        if (m && !strcmp(m, "notifications/cancelled")) {
            const cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "requestId");
            if (rid)
                cancel_call(a, session_id, rid);
        }
        tsa_http_send(r, 202, "application/json", NULL, "", 0);
        cJSON_Delete(msg);
        return;
    }
    int use_sse = !json_ok; /* the client accepts only SSE */
    char extra[128] = "";
    cJSON *reply = NULL;

    if (is_initialize) {
        const cJSON *want = cJSON_GetObjectItemCaseSensitive(params, "protocolVersion");
        if (!cJSON_IsObject(params) || !cJSON_IsString(want)) {
            reply = rpc_error(id, -32602, "Invalid params: initialize needs protocolVersion, capabilities and clientInfo", NULL);
        } else {
            const char *version = supported_version(want->valuestring) ? want->valuestring : MCP_LATEST;
            pthread_mutex_lock(&a->lock);
            session *s = session_new(a, version);
            snprintf(session_id, sizeof session_id, "%s", s->id);
            pthread_mutex_unlock(&a->lock);
            snprintf(extra, sizeof extra, "Mcp-Session-Id: %s\r\n", session_id);
            cJSON *res = cJSON_CreateObject();
            cJSON_AddStringToObject(res, "protocolVersion", version);
            cJSON *caps = cJSON_AddObjectToObject(res, "capabilities");
            cJSON *tools = cJSON_AddObjectToObject(caps, "tools");
            cJSON_AddBoolToObject(tools, "listChanged", 0);
            cJSON *info = cJSON_AddObjectToObject(res, "serverInfo");
            cJSON_AddStringToObject(info, "name", a->cfg.name);
            cJSON_AddStringToObject(info, "title", a->cfg.title);
            cJSON_AddStringToObject(info, "version", tsa_version());
            cJSON_AddStringToObject(info, "description", a->cfg.description);
            cJSON_AddStringToObject(res, "instructions", a->cfg.instructions);
            reply = rpc_result(id, res);
        }
    } else if (!strcmp(m, "ping")) {
        reply = rpc_result(id, cJSON_CreateObject());
    } else if (!strcmp(m, "tools/list")) {
        cJSON *res = cJSON_CreateObject();
        cJSON *arr = cJSON_AddArrayToObject(res, "tools");
        for (size_t i = 0; i < a->cfg.n_tools; i++)
            cJSON_AddItemToArray(arr, tool_json(a, i));
        reply = rpc_result(id, res);
    } else if (!strcmp(m, "tools/call")) {
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(params, "name");
        const cJSON *args = cJSON_GetObjectItemCaseSensitive(params, "arguments");
        size_t index;
        if (!cJSON_IsObject(params) || !cJSON_IsString(name)) {
            reply = rpc_error(id, -32602, "Invalid params: tools/call needs a tool name", NULL);
        } else if (!find_tool(a, name->valuestring, &index)) {
            char text[200];
            snprintf(text, sizeof text, "Unknown tool: %.100s", name->valuestring);
            reply = rpc_error(id, -32602, text, NULL);
        } else if (args && !cJSON_IsObject(args) && !cJSON_IsNull(args)) {
            reply = rpc_error(id, -32602, "Invalid params: arguments must be an object", NULL);
        } else {
            tsa_tool_call call;
            memset(&call, 0, sizeof call);
            call.req = r;
            const cJSON *meta = cJSON_GetObjectItemCaseSensitive(params, "_meta");
            const cJSON *tok = cJSON_GetObjectItemCaseSensitive(meta, "progressToken");
            call.progress_token = (cJSON_IsString(tok) || cJSON_IsNumber(tok)) && sse_ok ? (cJSON *)tok : NULL;
            char *idtext = cJSON_PrintUnformatted(id);
            snprintf(call.rpc_id, sizeof call.rpc_id, "%s", idtext ? idtext : "");
            cJSON_free(idtext);
            snprintf(call.session, sizeof call.session, "%s", session_id);
            register_call(a, &call);
            tsa_svc_error e = {0};
            cJSON *out = run_tool(a, index, args, &call, &e);
            unregister_call(a, &call);
            if (call.cancelled == CANCEL_BY_CLIENT) {
                /* Cancelled by the client: no response, whatever the tool
                 * returned (as the SDK's server does). The exchange is an SSE
                 * stream that ends without the result; a client that accepts
                 * only JSON gets 202 and no body. */
                cJSON_Delete(out);
                if (call.sse || sse_ok) {
                    tsa_http_sse_begin(r, NULL);
                    tsa_http_sse_end(r);
                } else {
                    tsa_http_send(r, 202, "application/json", NULL, "", 0);
                }
                cJSON_Delete(msg);
                return;
            }
            reply = rpc_result(id, call_result(out, &e));
            use_sse = use_sse || call.sse;
        }
    } else {
        char text[200];
        snprintf(text, sizeof text, "Method not found: %.100s", m);
        reply = rpc_error(id, -32601, text, NULL);
    }
    rpc_send(r, 200, reply, use_sse, *extra ? extra : NULL);
    cJSON_Delete(msg);
}

static void h_mcp(tsa_http_req *r, void *user)
{
    tsa_agent *a = user;
    if (!origin_ok(a, tsa_http_header(r, "Origin"))) {
        rpc_send(r, 403, rpc_error(NULL, -32600, "Forbidden: Origin not allowed", NULL), 0, NULL);
        return;
    }
    if (!strcmp(r->method, "POST")) {
        mcp_post(r, a);
    } else if (!strcmp(r->method, "DELETE")) {
        const char *sid = tsa_http_header(r, "Mcp-Session-Id");
        if (!sid) {
            rpc_send(r, 400, rpc_error(NULL, -32600, "Bad Request: Mcp-Session-Id header is required", NULL), 0, NULL);
            return;
        }
        pthread_mutex_lock(&a->lock);
        session *s = session_find(a, sid);
        if (s)
            s->used = 0;
        pthread_mutex_unlock(&a->lock);
        if (s)
            tsa_http_send(r, 200, "application/json", NULL, "{}", 2);
        else
            rpc_send(r, 404, rpc_error(NULL, -32001, "Session not found", NULL), 0, NULL);
    } else {
        /* No server-initiated stream: GET answers 405 as the transport allows. */
        tsa_http_send(r, 405, "application/json", "Allow: POST, DELETE\r\n",
                      "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Method Not Allowed: this server offers no GET stream\"}}",
                      strlen("{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32000,\"message\":\"Method Not Allowed: this server offers no GET stream\"}}"));
    }
}

/* ---- A2A --------------------------------------------------------------------------- */

static cJSON *skills_json(const tsa_agent *a)
{
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; i < a->cfg.n_tools; i++) {
        const tsa_tool *t = &a->cfg.tools[i];
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "id", t->name);
        cJSON_AddStringToObject(s, "name", t->title);
        cJSON_AddStringToObject(s, "description", t->description);
        cJSON *tags = cJSON_AddArrayToObject(s, "tags");
        char buf[256];
        snprintf(buf, sizeof buf, "%s", t->tags ? t->tags : "time-series");
        char *save = NULL;
        for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save))
            cJSON_AddItemToArray(tags, cJSON_CreateString(tok));
        cJSON *ex = cJSON_AddArrayToObject(s, "examples");
        cJSON_AddItemToArray(ex, cJSON_CreateString(t->example ? t->example : t->description));
        cJSON *in = cJSON_AddArrayToObject(s, "inputModes");
        cJSON_AddItemToArray(in, cJSON_CreateString("application/json"));
        cJSON *out = cJSON_AddArrayToObject(s, "outputModes");
        cJSON_AddItemToArray(out, cJSON_CreateString("application/json"));
        cJSON_AddItemToArray(arr, s);
    }
    return arr;
}

static cJSON *card_json(tsa_agent *a, int v1)
{
    char base[400], url[512];
    pthread_mutex_lock(&a->lock);
    snprintf(base, sizeof base, "%s", a->url);
    pthread_mutex_unlock(&a->lock);
    snprintf(url, sizeof url, "%s/a2a", base);
    cJSON *c = cJSON_CreateObject();
    cJSON_AddStringToObject(c, "name", a->cfg.name);
    cJSON_AddStringToObject(c, "description", a->cfg.description);
    cJSON *ifs = cJSON_AddArrayToObject(c, "supportedInterfaces");
    const char *versions[] = {"1.0", "0.3"};
    for (int i = 0; i < 2; i++) {
        cJSON *it = cJSON_CreateObject();
        cJSON_AddStringToObject(it, "url", url);
        cJSON_AddStringToObject(it, "protocolBinding", "JSONRPC");
        cJSON_AddStringToObject(it, "protocolVersion", versions[i]);
        cJSON_AddItemToArray(ifs, it);
    }
    cJSON *prov = cJSON_AddObjectToObject(c, "provider");
    cJSON_AddStringToObject(prov, "organization", "libtsa");
    cJSON_AddStringToObject(prov, "url", base);
    cJSON_AddStringToObject(c, "version", tsa_version());
    cJSON *caps = cJSON_AddObjectToObject(c, "capabilities");
    cJSON_AddBoolToObject(caps, "streaming", 1);
    cJSON_AddBoolToObject(caps, "pushNotifications", 0);
    if (v1)
        cJSON_AddBoolToObject(caps, "extendedAgentCard", 0);
    cJSON *im = cJSON_AddArrayToObject(c, "defaultInputModes");
    cJSON_AddItemToArray(im, cJSON_CreateString("application/json"));
    cJSON_AddItemToArray(im, cJSON_CreateString("text/plain"));
    cJSON *om = cJSON_AddArrayToObject(c, "defaultOutputModes");
    cJSON_AddItemToArray(om, cJSON_CreateString("application/json"));
    cJSON_AddItemToArray(om, cJSON_CreateString("text/plain"));
    cJSON_AddItemToObject(c, "skills", skills_json(a));
    if (!v1) { /* the v0.3 fields, so 0.3 clients read the same card */
        cJSON_AddStringToObject(c, "protocolVersion", "0.3.0");
        cJSON_AddStringToObject(c, "url", url);
        cJSON_AddStringToObject(c, "preferredTransport", "JSONRPC");
        cJSON_AddBoolToObject(c, "supportsAuthenticatedExtendedCard", 0);
    }
    return c;
}

static void h_card(tsa_http_req *r, void *user)
{
    tsa_agent *a = user;
    const char *v = tsa_http_header(r, "A2A-Version");
    int v1 = v && !strncmp(v, "1.", 2);
    cJSON *c = card_json(a, v1);
    char *s = cJSON_PrintUnformatted(c);
    cJSON_Delete(c);
    tsa_http_send(r, 200, "application/json", "Cache-Control: max-age=60\r\n", s, strlen(s));
    cJSON_free(s);
}

static const char *state_name(int state, int v1)
{
    static const char *const v1_names[] = {"TASK_STATE_SUBMITTED", "TASK_STATE_WORKING", "TASK_STATE_COMPLETED",
                                           "TASK_STATE_FAILED", "TASK_STATE_CANCELED", "TASK_STATE_REJECTED"};
    static const char *const v03_names[] = {"submitted", "working", "completed", "failed", "canceled", "rejected"};
    return v1 ? v1_names[state] : v03_names[state];
}

static int terminal(int state) { return state >= T_COMPLETED; }

static cJSON *text_part(const char *text, int v1)
{
    cJSON *p = cJSON_CreateObject();
    if (!v1)
        cJSON_AddStringToObject(p, "kind", "text");
    cJSON_AddStringToObject(p, "text", text);
    if (v1)
        cJSON_AddStringToObject(p, "mediaType", "text/plain");
    return p;
}

static cJSON *data_part(cJSON *data, int v1)
{
    cJSON *p = cJSON_CreateObject();
    if (!v1)
        cJSON_AddStringToObject(p, "kind", "data");
    cJSON_AddItemToObject(p, "data", data);
    if (v1)
        cJSON_AddStringToObject(p, "mediaType", "application/json");
    return p;
}

static cJSON *agent_message(const char *text, const char *context_id, const char *task_id, int v1)
{
    cJSON *m = cJSON_CreateObject();
    if (!v1)
        cJSON_AddStringToObject(m, "kind", "message");
    char mid[40];
    tsa_uuid(mid);
    cJSON_AddStringToObject(m, "messageId", mid);
    cJSON_AddStringToObject(m, "role", v1 ? "ROLE_AGENT" : "agent");
    cJSON *parts = cJSON_AddArrayToObject(m, "parts");
    cJSON_AddItemToArray(parts, text_part(text, v1));
    if (context_id)
        cJSON_AddStringToObject(m, "contextId", context_id);
    if (task_id)
        cJSON_AddStringToObject(m, "taskId", task_id);
    return m;
}

static cJSON *artifact_json(const a2a_task *t, int v1)
{
    cJSON *art = cJSON_CreateObject();
    char aid[40];
    snprintf(aid, sizeof aid, "%.8s-result", t->id);
    cJSON_AddStringToObject(art, "artifactId", aid);
    cJSON_AddStringToObject(art, "name", t->skill);
    cJSON_AddStringToObject(art, "description", "the skill's structured result");
    cJSON *parts = cJSON_AddArrayToObject(art, "parts");
    cJSON_AddItemToArray(parts, data_part(cJSON_Duplicate(t->result, 1), v1));
    return art;
}

/* A TaskStatus: state, timestamp and an optional agent message. */
static cJSON *status_json(const a2a_task *t, int state, const char *timestamp, const char *text, int v1)
{
    cJSON *st = cJSON_CreateObject();
    cJSON_AddStringToObject(st, "state", state_name(state, v1));
    cJSON_AddStringToObject(st, "timestamp", timestamp);
    if (text)
        cJSON_AddItemToObject(st, "message", agent_message(text, t->context_id, t->id, v1));
    return st;
}

/* The task in the caller's protocol version (lock held). */
static cJSON *task_json(const a2a_task *t, int v1)
{
    cJSON *o = cJSON_CreateObject();
    if (!v1)
        cJSON_AddStringToObject(o, "kind", "task");
    cJSON_AddStringToObject(o, "id", t->id);
    cJSON_AddStringToObject(o, "contextId", t->context_id);
    /* A failed task says why; a working one shows its latest progress. */
    const char *text = t->error ? t->error : !terminal(t->state) ? t->status_text : NULL;
    cJSON_AddItemToObject(o, "status", status_json(t, t->state, t->timestamp, text, v1));
    cJSON *arts = cJSON_AddArrayToObject(o, "artifacts");
    if (t->result)
        cJSON_AddItemToArray(arts, artifact_json(t, v1));
    cJSON *hist = cJSON_AddArrayToObject(o, "history");
    if (t->user_message)
        cJSON_AddItemToArray(hist, cJSON_Duplicate(t->user_message, 1));
    cJSON *meta = cJSON_AddObjectToObject(o, "metadata");
    cJSON_AddStringToObject(meta, "skill", t->skill);
    return o;
}

/* A stream event in the caller's version: v1.0 wraps each kind in a member
 * ({"task"}, {"message"}, {"statusUpdate"}, {"artifactUpdate"}); v0.3 marks
 * it with "kind", and its status updates carry "final". */
static cJSON *stream_wrap(const char *v1_member, cJSON *value, int v1)
{
    if (!v1)
        return value;
    cJSON *w = cJSON_CreateObject();
    cJSON_AddItemToObject(w, v1_member, value);
    return w;
}

/* The update event for log entry @ev (lock held). */
static cJSON *event_json(const a2a_task *t, const task_event *ev, int v1)
{
    cJSON *o = cJSON_CreateObject();
    if (!v1)
        cJSON_AddStringToObject(o, "kind", ev->artifact ? "artifact-update" : "status-update");
    cJSON_AddStringToObject(o, "taskId", t->id);
    cJSON_AddStringToObject(o, "contextId", t->context_id);
    if (ev->artifact) {
        cJSON_AddItemToObject(o, "artifact", artifact_json(t, v1));
        cJSON_AddBoolToObject(o, "append", 0);
        cJSON_AddBoolToObject(o, "lastChunk", 1);
        return stream_wrap("artifactUpdate", o, v1);
    }
    cJSON_AddItemToObject(o, "status", status_json(t, ev->state, ev->timestamp, ev->text, v1));
    if (!v1)
        cJSON_AddBoolToObject(o, "final", terminal(ev->state));
    return stream_wrap("statusUpdate", o, v1);
}

static void task_set(a2a_task *t, int state)
{
    t->state = state;
    now_iso(t->timestamp);
}

/* Only streams read a task's log, each from the point it attached, so a
 * task nobody streams keeps none (lock held). */
static void log_trim(a2a_task *t)
{
    if (t->watchers)
        return;
    for (size_t i = 0; i < t->n_events; i++)
        free(t->events[i].text);
    free(t->events);
    t->events = NULL;
    t->n_events = t->cap_events = 0;
}

/* Logs an update for the task's streams and wakes them (lock held). Nothing
 * follows a terminal status; progress stops at MAX_TASK_EVENTS. */
static void task_log(tsa_agent *a, a2a_task *t, int artifact, const char *text)
{
    if (t->log_closed)
        return;
    int final = !artifact && terminal(t->state);
    if (final)
        t->log_closed = 1;
    if (t->watchers && (final || artifact || t->n_events < MAX_TASK_EVENTS)) {
        if (t->n_events == t->cap_events) {
            size_t cap = t->cap_events ? 2 * t->cap_events : 8;
            task_event *grown = realloc(t->events, cap * sizeof *grown);
            if (grown) {
                t->events = grown;
                t->cap_events = cap;
            }
        }
        /* Out of memory, the update is lost; the streams still end on log_closed. */
        if (t->n_events < t->cap_events) {
            task_event *ev = &t->events[t->n_events++];
            ev->state = t->state;
            ev->artifact = artifact;
            ev->text = text ? strdup(text) : NULL;
            snprintf(ev->timestamp, sizeof ev->timestamp, "%s", t->timestamp);
        }
    }
    pthread_cond_broadcast(&a->changed);
}

/* A new state, logged with an optional status message (lock held). */
static void task_move(tsa_agent *a, a2a_task *t, int state, const char *text)
{
    task_set(t, state);
    task_log(a, t, 0, text);
}

/* Progress from the running tool: a WORKING update each time the percent
 * done changes (or the count restarts), so a long training streams about a
 * hundred updates per stage rather than one per epoch. */
static void task_progress(a2a_task *t, double progress, double total, const char *message)
{
    tsa_agent *a = t->agent;
    int bucket = total > 0 ? (int)(100.0 * progress / total) : (int)progress;
    pthread_mutex_lock(&a->lock);
    if (t->state == T_WORKING && bucket != t->last_bucket && message) {
        t->last_bucket = bucket;
        char *copy = strdup(message);
        if (copy) {
            free(t->status_text);
            t->status_text = copy;
        }
        task_move(a, t, T_WORKING, message);
    }
    pthread_mutex_unlock(&a->lock);
}

static void run_task(a2a_task *t)
{
    tsa_agent *a = t->agent;
    tsa_tool_call call;
    memset(&call, 0, sizeof call);
    call.task = t;
    pthread_mutex_lock(&a->lock);
    if (t->state == T_CANCELED) {
        pthread_mutex_unlock(&a->lock);
        return;
    }
    char text[200];
    snprintf(text, sizeof text, "running %.100s", t->skill);
    task_move(a, t, T_WORKING, text);
    t->call = &call;
    pthread_mutex_unlock(&a->lock);
    size_t index = 0;
    find_tool(a, t->skill, &index);
    tsa_svc_error e = {0};
    cJSON *out = run_tool(a, index, t->arguments, &call, &e);
    pthread_mutex_lock(&a->lock);
    t->call = NULL;
    if (t->cancel || t->state == T_CANCELED) {
        cJSON_Delete(out);
        task_move(a, t, T_CANCELED, "canceled");
    } else if (out) {
        t->result = out;
        task_log(a, t, 1, NULL);
        task_move(a, t, T_COMPLETED, NULL);
    } else {
        char msg[1000];
        snprintf(msg, sizeof msg, "%s", e.message);
        t->error = strdup(msg);
        task_move(a, t, T_FAILED, msg);
    }
    pthread_mutex_unlock(&a->lock);
}

static void *task_thread(void *arg)
{
    a2a_task *t = arg;
    tsa_agent *a = t->agent;
    run_task(t);
    pthread_mutex_lock(&a->lock);
    a->n_threads--;
    pthread_cond_broadcast(&a->changed);
    pthread_mutex_unlock(&a->lock);
    return NULL;
}

/* Runs the task on its own thread (inline if none can be started). */
static void task_launch(tsa_agent *a, a2a_task *t)
{
    pthread_t th;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 8u << 20);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_mutex_lock(&a->lock);
    a->n_threads++;
    pthread_mutex_unlock(&a->lock);
    if (pthread_create(&th, &attr, task_thread, t) != 0)
        task_thread(t);
    pthread_attr_destroy(&attr);
}

/* Stores a task, evicting the oldest finished one nobody streams when full
 * (lock held). */
static int task_store(tsa_agent *a, a2a_task *t)
{
    if (a->n_tasks == MAX_TASKS) {
        size_t victim = MAX_TASKS;
        for (size_t i = 0; i < a->n_tasks; i++)
            if (terminal(a->tasks[i]->state) && !a->tasks[i]->watchers && !a->tasks[i]->call) {
                victim = i;
                break;
            }
        if (victim == MAX_TASKS)
            return -1;
        task_free(a->tasks[victim]);
        memmove(&a->tasks[victim], &a->tasks[victim + 1], (a->n_tasks - victim - 1) * sizeof *a->tasks);
        a->n_tasks--;
    }
    a->tasks[a->n_tasks++] = t;
    return 0;
}

static a2a_task *task_find(tsa_agent *a, const char *id)
{
    for (size_t i = 0; id && i < a->n_tasks; i++)
        if (!strcmp(a->tasks[i]->id, id))
            return a->tasks[i];
    return NULL;
}

static cJSON *a2a_error(const cJSON *id, int code, const char *message, const char *reason, int v1)
{
    cJSON *data = NULL;
    if (v1 && reason) {
        data = cJSON_CreateArray();
        cJSON *info = cJSON_CreateObject();
        cJSON_AddStringToObject(info, "@type", "type.googleapis.com/google.rpc.ErrorInfo");
        cJSON_AddStringToObject(info, "reason", reason);
        cJSON_AddStringToObject(info, "domain", "a2a-protocol.org");
        cJSON_AddItemToArray(data, info);
    }
    return rpc_error(id, code, message, data);
}

/* One SSE event carrying a JSON-RPC result; non-zero when the client is gone. */
static int stream_send(tsa_http_req *r, const cJSON *id, cJSON *result)
{
    cJSON *msg = rpc_result(id, result);
    char *s = cJSON_PrintUnformatted(msg);
    cJSON_Delete(msg);
    if (!s)
        return -1;
    int rc = tsa_http_sse_event(r, NULL, s);
    cJSON_free(s);
    return rc;
}

/* Streams task @t: the task as it is now, then each logged update until a
 * terminal status, then closes the stream. @start launches the task after
 * the snapshot (SendStreamingMessage). A client that goes away stops the
 * stream, not the task. Called with the lock held; returns without it. */
static void a2a_stream(tsa_agent *a, tsa_http_req *r, const cJSON *id, a2a_task *t, int v1, int start)
{
    t->watchers++;
    cJSON *first = stream_wrap("task", task_json(t, v1), v1);
    size_t next = t->n_events;
    int done = t->log_closed;
    pthread_mutex_unlock(&a->lock);
    if (start)
        task_launch(a, t);
    tsa_http_sse_begin(r, NULL);
    int gone = stream_send(r, id, first) != 0;
    while (!gone && !done) {
        cJSON *batch = cJSON_CreateArray();
        pthread_mutex_lock(&a->lock);
        while (next == t->n_events && !t->log_closed)
            pthread_cond_wait(&a->changed, &a->lock);
        for (; next < t->n_events; next++)
            cJSON_AddItemToArray(batch, event_json(t, &t->events[next], v1));
        done = t->log_closed;
        pthread_mutex_unlock(&a->lock);
        cJSON *ev = batch->child;
        while (ev && !gone) {
            cJSON *following = ev->next;
            gone = stream_send(r, id, cJSON_DetachItemViaPointer(batch, ev)) != 0;
            ev = following;
        }
        cJSON_Delete(batch);
    }
    pthread_mutex_lock(&a->lock);
    t->watchers--;
    log_trim(t);
    pthread_mutex_unlock(&a->lock);
    if (!gone)
        tsa_http_sse_end(r);
}

/* Finds {skill, arguments} in a data part. */
static const cJSON *find_skill_part(const cJSON *parts)
{
    const cJSON *p;
    cJSON_ArrayForEach(p, parts)
    {
        const cJSON *data = cJSON_GetObjectItemCaseSensitive(p, "data");
        if (cJSON_IsObject(data) && cJSON_GetObjectItemCaseSensitive(data, "skill"))
            return data;
    }
    return NULL;
}

/* SendMessage / message/send, or with @stream SendStreamingMessage /
 * message/stream. Returns the reply to send, or NULL when the answer was
 * streamed already. */
static cJSON *a2a_send(tsa_agent *a, tsa_http_req *r, const cJSON *id, const cJSON *params, int v1, int stream)
{
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(params, "message");
    const cJSON *parts = cJSON_GetObjectItemCaseSensitive(message, "parts");
    const cJSON *mid = cJSON_GetObjectItemCaseSensitive(message, "messageId");
    if (!cJSON_IsObject(message) || !cJSON_IsArray(parts) || cJSON_GetArraySize(parts) == 0 || !cJSON_IsString(mid))
        return a2a_error(id, -32602, "Invalid params: message with messageId and at least one part is required", "INVALID_PARAMS", v1);
    const cJSON *ctx = cJSON_GetObjectItemCaseSensitive(message, "contextId");
    char context_id[130];
    int has_ctx = cJSON_IsString(ctx) && *ctx->valuestring;
    if ((ctx && !cJSON_IsNull(ctx) && !cJSON_IsString(ctx)) || (has_ctx && strlen(ctx->valuestring) >= sizeof context_id))
        return a2a_error(id, -32602, "Invalid params: message.contextId must be a string of at most 129 characters",
                         "INVALID_PARAMS", v1);
    if (has_ctx)
        snprintf(context_id, sizeof context_id, "%s", ctx->valuestring);
    else
        tsa_uuid(context_id);
    const cJSON *sp = find_skill_part(parts);
    if (!sp) {
        /* A text-only message: say what this agent can do. */
        char text[4096];
        size_t at = (size_t)snprintf(text, sizeof text,
                                     "%s. Send a data part {\"skill\": NAME, \"arguments\": {...}} to run a skill. Skills: ",
                                     a->cfg.description);
        for (size_t i = 0; i < a->cfg.n_tools && at < sizeof text; i++)
            at += (size_t)snprintf(text + at, sizeof text - at, "%s%s (%s)", i ? "; " : "", a->cfg.tools[i].name,
                                   a->cfg.tools[i].title);
        cJSON *msg = stream_wrap("message", agent_message(text, context_id, NULL, v1), v1);
        if (stream) { /* a stream of exactly one Message */
            tsa_http_sse_begin(r, NULL);
            if (stream_send(r, id, msg) == 0)
                tsa_http_sse_end(r);
            return NULL;
        }
        return rpc_result(id, msg);
    }
    const cJSON *skill = cJSON_GetObjectItemCaseSensitive(sp, "skill");
    const cJSON *args = cJSON_GetObjectItemCaseSensitive(sp, "arguments");
    if (!cJSON_IsString(skill) || !find_tool(a, skill->valuestring, NULL)) {
        char text[600];
        snprintf(text, sizeof text, "Invalid params: unknown skill '%.100s'; see the agent card for the skills",
                 cJSON_IsString(skill) ? skill->valuestring : "?");
        return a2a_error(id, -32602, text, "INVALID_PARAMS", v1);
    }
    if (args && !cJSON_IsObject(args))
        return a2a_error(id, -32602, "Invalid params: arguments must be an object", "INVALID_PARAMS", v1);
    a2a_task *t = calloc(1, sizeof *t);
    if (!t)
        return a2a_error(id, -32603, "Internal error: out of memory", NULL, v1);
    tsa_uuid(t->id);
    snprintf(t->context_id, sizeof t->context_id, "%s", context_id);
    t->skill = strdup(skill->valuestring);
    t->arguments = args ? cJSON_Duplicate(args, 1) : cJSON_CreateObject();
    t->user_message = cJSON_Duplicate(message, 1);
    t->agent = a;
    t->v1 = v1;
    t->last_bucket = -1;
    t->created_ms = tsa_unix_ms();
    task_set(t, T_SUBMITTED);
    pthread_mutex_lock(&a->lock);
    int stored = !a->stopping && task_store(a, t) == 0;
    if (stored && stream) {
        a2a_stream(a, r, id, t, v1, 1);
        return NULL;
    }
    pthread_mutex_unlock(&a->lock);
    if (!stored) {
        task_free(t);
        return a2a_error(id, -32603, "Internal error: too many tasks in progress", NULL, v1);
    }
    /* Blocking unless the caller asked to return at once. */
    const cJSON *conf = cJSON_GetObjectItemCaseSensitive(params, "configuration");
    int immediate = v1 ? cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(conf, "returnImmediately"))
                       : cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(conf, "blocking"));
    if (immediate)
        task_launch(a, t);
    else
        run_task(t);
    pthread_mutex_lock(&a->lock);
    cJSON *tj = task_json(t, v1);
    pthread_mutex_unlock(&a->lock);
    return rpc_result(id, stream_wrap("task", tj, v1));
}

/* GetTask, CancelTask and SubscribeToTask (and their v0.3 names) on one
 * task id. Returns the reply, or NULL when the answer was streamed. */
static cJSON *a2a_task_method(tsa_agent *a, tsa_http_req *r, const cJSON *id, const cJSON *params, int v1, int cancel,
                              int subscribe)
{
    const cJSON *tid = cJSON_GetObjectItemCaseSensitive(params, "id");
    if (!cJSON_IsString(tid))
        return a2a_error(id, -32602, "Invalid params: the task id is required", "INVALID_PARAMS", v1);
    cJSON *reply;
    char text[200];
    pthread_mutex_lock(&a->lock);
    a2a_task *t = task_find(a, tid->valuestring);
    if (!t) {
        snprintf(text, sizeof text, "Task not found: %.100s", tid->valuestring);
        reply = a2a_error(id, -32001, text, "TASK_NOT_FOUND", v1);
    } else if (cancel && terminal(t->state)) {
        snprintf(text, sizeof text, "Task cannot be canceled: it is %s", state_name(t->state, 0));
        reply = a2a_error(id, -32002, text, "TASK_NOT_CANCELABLE", v1);
    } else if (subscribe && terminal(t->state)) {
        snprintf(text, sizeof text, "Unsupported operation: task %.40s is %s; a finished task cannot be subscribed to",
                 t->id, state_name(t->state, 0));
        reply = a2a_error(id, -32004, text, "UNSUPPORTED_OPERATION", v1);
    } else if (subscribe) {
        a2a_stream(a, r, id, t, v1, 0);
        return NULL;
    } else {
        if (cancel) {
            t->cancel = 1;
            if (t->call && !t->call->cancelled)
                t->call->cancelled = CANCEL_BY_CLIENT;
            task_move(a, t, T_CANCELED, "canceled");
        }
        /* GetTask and CancelTask answer the Task itself in both versions. */
        reply = rpc_result(id, task_json(t, v1));
    }
    pthread_mutex_unlock(&a->lock);
    return reply;
}

static void h_a2a(tsa_http_req *r, void *user)
{
    tsa_agent *a = user;
    if (!origin_ok(a, tsa_http_header(r, "Origin"))) {
        rpc_send(r, 403, rpc_error(NULL, -32600, "Forbidden: Origin not allowed", NULL), 0, NULL);
        return;
    }
    const char *ver = tsa_http_header(r, "A2A-Version");
    cJSON *msg = parse_body(r);
    if (!msg)
        return;
    if (cJSON_IsArray(msg) || rpc_check(r, msg) != 0) {
        if (cJSON_IsArray(msg))
            rpc_send(r, 200, rpc_error(NULL, -32600, "Invalid Request: batches are not supported", NULL), 0, NULL);
        cJSON_Delete(msg);
        return;
    }
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(msg, "id");
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(msg, "method");
    const cJSON *params = cJSON_GetObjectItemCaseSensitive(msg, "params");
    if (!id || !cJSON_IsString(method)) { /* notification or response: nothing to answer */
        tsa_http_send(r, 202, "application/json", NULL, "", 0);
        cJSON_Delete(msg);
        return;
    }
    const char *m = method->valuestring;
    int v1_method = !strcmp(m, "SendMessage") || !strcmp(m, "GetTask") || !strcmp(m, "CancelTask") ||
                    !strcmp(m, "SendStreamingMessage") || !strcmp(m, "ListTasks") || !strcmp(m, "SubscribeToTask") ||
                    !strcmp(m, "GetExtendedAgentCard");
    int v1;
    if (ver && *ver) {
        if (!strncmp(ver, "1.0", 3))
            v1 = 1;
        else if (!strncmp(ver, "0.3", 3))
            v1 = 0;
        else {
            char text[160];
            snprintf(text, sizeof text, "Version not supported: A2A-Version %.20s; supported: 1.0, 0.3", ver);
            rpc_send(r, 200, a2a_error(id, -32009, text, "VERSION_NOT_SUPPORTED", 1), 0, NULL);
            cJSON_Delete(msg);
            return;
        }
    } else {
        v1 = v1_method; /* no header means 0.3, but answer v1.0 names in their own shape */
    }
    cJSON *reply;
    if (!strcmp(m, "SendMessage") || !strcmp(m, "message/send")) {
        reply = a2a_send(a, r, id, params, v1, 0);
    } else if (!strcmp(m, "SendStreamingMessage") || !strcmp(m, "message/stream")) {
        reply = a2a_send(a, r, id, params, v1, 1);
    } else if (!strcmp(m, "GetTask") || !strcmp(m, "tasks/get")) {
        reply = a2a_task_method(a, r, id, params, v1, 0, 0);
    } else if (!strcmp(m, "CancelTask") || !strcmp(m, "tasks/cancel")) {
        reply = a2a_task_method(a, r, id, params, v1, 1, 0);
    } else if (!strcmp(m, "SubscribeToTask") || !strcmp(m, "tasks/resubscribe")) {
        reply = a2a_task_method(a, r, id, params, v1, 0, 1);
    } else if (!strncmp(m, "tasks/pushNotificationConfig", 28) || strstr(m, "PushNotificationConfig")) {
        reply = a2a_error(id, -32003, "Push notifications are not supported", "PUSH_NOTIFICATION_NOT_SUPPORTED", v1);
    } else if (!strcmp(m, "GetExtendedAgentCard") || !strcmp(m, "agent/getAuthenticatedExtendedCard")) {
        reply = a2a_error(id, -32007, "No extended agent card is configured", "EXTENDED_AGENT_CARD_NOT_CONFIGURED", v1);
    } else {
        char text[200];
        snprintf(text, sizeof text, "Method not found: %.100s", m);
        reply = a2a_error(id, -32601, text, "METHOD_NOT_FOUND", v1);
    }
    if (reply)
        rpc_send(r, 200, reply, 0, NULL);
    cJSON_Delete(msg);
}

void tsa_agent_stop(tsa_agent *a)
{
    pthread_mutex_lock(&a->lock);
    a->stopping = 1;
    for (tsa_tool_call *c = a->calls; c; c = c->next)
        if (!c->cancelled)
            c->cancelled = CANCEL_BY_SHUTDOWN;
    for (size_t i = 0; i < a->n_tasks; i++) {
        a2a_task *t = a->tasks[i];
        if (terminal(t->state))
            continue;
        t->cancel = 1;
        if (t->call && !t->call->cancelled)
            t->call->cancelled = CANCEL_BY_SHUTDOWN;
        task_move(a, t, T_CANCELED, "canceled: the agent is shutting down");
    }
    while (a->n_threads > 0)
        pthread_cond_wait(&a->changed, &a->lock);
    pthread_mutex_unlock(&a->lock);
}

void tsa_agent_routes(tsa_agent *a, tsa_http_server *srv)
{
    /* With API keys on, the tools (which train and delete) need a trainer. */
    /* Tool calls count as "compute" for rate limits, whatever they do. */
    tsa_http_route_class(srv, "POST", "/mcp", "trainer", "compute", h_mcp, a);
    tsa_http_route_class(srv, "GET", "/mcp", "trainer", "compute", h_mcp, a);
    tsa_http_route_class(srv, "DELETE", "/mcp", "trainer", "compute", h_mcp, a);
    tsa_http_route_class(srv, "POST", "/a2a", "trainer", "compute", h_a2a, a);
    tsa_http_route_role(srv, "GET", "/.well-known/agent-card.json", NULL, h_card, a);
    tsa_http_route_role(srv, "GET", "/.well-known/agent.json", NULL, h_card, a);
}
