/* The HTTP layer every service shares: CivetWeb underneath, a route table
 * with {name} path parameters, bounded body reading, JSON responses and
 * errors of one shape, request ids, one JSON log line per request, CORS by
 * allow-list, and request metrics. Handlers run on CivetWeb worker threads,
 * on an 8 MiB stack of their own, and must be reentrant. */
#ifndef TSA_SERVERS_HTTP_H
#define TSA_SERVERS_HTTP_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

struct mg_connection;
typedef struct tsa_metrics tsa_metrics;
typedef struct tsa_ratelimit tsa_ratelimit;

#define TSA_HTTP_MAX_PARAMS 4

typedef struct tsa_http_req {
    struct mg_connection *conn;
    const char *method;
    const char *path;          /* decoded, without the query string */
    const char *query;         /* raw query string or NULL */
    const char *route;         /* the matched pattern, e.g. /api/v1/models/{name} */
    char *body;                /* NUL-terminated, body_len bytes (may be "") */
    size_t body_len;
    char request_id[40];
    const char *param_names[TSA_HTTP_MAX_PARAMS];
    char *param_values[TSA_HTTP_MAX_PARAMS];
    size_t n_params;
    double t_start;
    int status;                /* set when a response is sent */
    size_t bytes_sent;
    void *server_user;         /* the user pointer given to the server */
    struct tsa_http_server *server;
    char cors_headers[640];    /* private: CORS lines added to every response */
    char role[16];             /* the caller's role when authenticated ("" otherwise) */
    char actor[128];           /* the API key's name when authenticated */
} tsa_http_req;

typedef void (*tsa_http_handler)(tsa_http_req *req, void *user);

typedef struct tsa_http_config {
    const char *service;        /* name in logs and metrics, e.g. "rest-api" */
    const char *host;           /* "127.0.0.1" */
    int port;
    int threads;                /* worker threads */
    size_t max_body;            /* bytes; larger bodies get 413 */
    const char *cors_origins;   /* comma-separated allow-list, "*" or NULL */
    int request_timeout_ms;
    tsa_metrics *metrics;       /* may be NULL */
    void *user;                 /* passed in tsa_http_req.server_user */
    int log_requests;           /* one JSON line per request on stderr */
    /* API-key authentication: when set, routes with a role need
     * "Authorization: Bearer KEY"; the callback returns 0 and fills @role
     * ("viewer", "trainer", "admin") and @name for a valid key, -1 for an
     * unknown one, -2 when the key store is unavailable. */
    int (*auth)(void *auth_user, const char *key, char role[16], char name[128]);
    void *auth_user;
    /* Request rate limits (ratelimit.h) applied to every route that needs a
     * role, after authentication; NULL: none. Over the limit: 429 with
     * Retry-After. */
    tsa_ratelimit *ratelimit;
} tsa_http_config;

typedef struct tsa_http_server tsa_http_server;

/* Creates a server (not yet listening). */
int tsa_http_create(const tsa_http_config *cfg, tsa_http_server **out);
/* Adds a route: method "GET", "POST", ... or "*"; pattern with {name} segments. */
int tsa_http_route(tsa_http_server *s, const char *method, const char *pattern,
                   tsa_http_handler fn, void *user);
/* Like tsa_http_route with the least role a caller needs when
 * authentication is on: NULL (public), "viewer", "trainer" or "admin".
 * tsa_http_route uses "viewer". */
int tsa_http_route_role(tsa_http_server *s, const char *method, const char *pattern, const char *role,
                        tsa_http_handler fn, void *user);

/* Like tsa_http_route_role with the route's rate-limit class ("read",
 * "compute", "write"; see ratelimit.h) given instead of derived from the
 * role and method. */
int tsa_http_route_class(tsa_http_server *s, const char *method, const char *pattern, const char *role,
                         const char *rate_class, tsa_http_handler fn, void *user);

/* Starts listening; on failure writes a reason (e.g. the port is in use). */
int tsa_http_start(tsa_http_server *s, char *err, size_t err_len);
/* Stops: waits for in-flight requests, then frees. */
void tsa_http_destroy(tsa_http_server *s);
/* The bound port (useful with port 0). */
int tsa_http_port(const tsa_http_server *s);

/* ---- inside handlers ---- */
const char *tsa_http_param(const tsa_http_req *r, const char *name);
const char *tsa_http_header(const tsa_http_req *r, const char *name);
/* A query parameter, URL-decoded into @buf; NULL if absent. */
const char *tsa_http_query(const tsa_http_req *r, const char *name, char *buf, size_t len);

/* Sends @body (taking ownership) as application/json with @status. */
void tsa_http_send_json(tsa_http_req *r, int status, cJSON *body);
/* Likewise with extra header lines ("Name: value\r\n...") or NULL. */
void tsa_http_send_json_headers(tsa_http_req *r, int status, cJSON *body, const char *extra_headers);
/* Sends {"error": {"code", "message", "field"}} (field omitted when NULL). */
void tsa_http_send_error(tsa_http_req *r, int status, const char *code, const char *field,
                         const char *fmt, ...) __attribute__((format(printf, 5, 6)));
/* Sends raw bytes with a content type and optional extra header lines
 * ("Name: value\r\n..."), or NULL. */
void tsa_http_send(tsa_http_req *r, int status, const char *content_type, const char *extra_headers,
                   const void *data, size_t len);

/* Server-sent events on a chunked 200 response: begin writes the head
 * (text/event-stream), event writes one "event: message" with @data (and an
 * id when @id is non-NULL) and returns non-zero when it could not be written
 * (the client went away), end finishes the body. */
void tsa_http_sse_begin(tsa_http_req *r, const char *extra_headers);
int tsa_http_sse_event(tsa_http_req *r, const char *id, const char *data);
void tsa_http_sse_end(tsa_http_req *r);

/* Parses the body as JSON; on failure sends 400 and returns NULL. */
cJSON *tsa_http_parse_json(tsa_http_req *r);

/* Monotonic seconds. */
double tsa_now(void);
/* Unix milliseconds. */
int64_t tsa_unix_ms(void);
/* A random UUID v4 into @out (37 bytes). */
void tsa_uuid(char out[37]);

/* Structured logs: one JSON object per line on stderr. level: "debug",
 * "info", "warn", "error". @fields (owned) may be NULL. */
void tsa_log(const char *service, const char *level, const char *msg, cJSON *fields);
void tsa_log_set_level(const char *level);

#endif
