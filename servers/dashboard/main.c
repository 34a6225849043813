/* tsa-dashboard: the web dashboard (port 5000). Serves the UI embedded from
 * web/, forwards /api/ to the REST API, and gathers the health of the five
 * services for the status panel. No model work happens here: the UI calls
 * the REST API through the proxy. */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <tsa/tsa.h>

#include "assets.h"
#include "config.h"
#include "http.h"
#include "httpc.h"
#include "metrics.h"
#include "proxy.h"

#define SERVICE "web-dashboard"

/* The peers in the status panel, in display order (the dashboard is first). */
enum { PEER_API, PEER_FORECASTING, PEER_ANOMALY, PEER_COORDINATOR, N_PEERS };

static const struct {
    const char *key, *name, *title, *option;
} peer_info[N_PEERS] = {
    {"api", "rest-api", "REST API", "api-url"},
    {"forecasting", "forecasting-mcp", "Forecasting agent", "forecasting-url"},
    {"anomaly", "anomaly-mcp", "Anomaly agent", "anomaly-url"},
    {"coordinator", "coordinator-mcp", "Coordinator agent", "coordinator-url"},
};

typedef struct dashboard {
    dash_upstream api;
    char peer_url[N_PEERS][512];
    char self_url[300];
    int status_timeout_ms;
    double started;
    tsa_metrics *metrics;
} dashboard;

/* ---- static files -------------------------------------------------------- */

static const char *content_type_of(const char *name)
{
    static const struct {
        const char *ext, *type;
    } types[] = {
        {".html", "text/html; charset=utf-8"},
        {".js", "text/javascript; charset=utf-8"},
        {".mjs", "text/javascript; charset=utf-8"},
        {".css", "text/css; charset=utf-8"},
        {".json", "application/json"},
        {".svg", "image/svg+xml"},
        {".png", "image/png"},
        {".ico", "image/x-icon"},
        {".txt", "text/plain; charset=utf-8"},
        {".woff2", "font/woff2"},
    };
    const char *dot = strrchr(name, '.');
    if (dot)
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (!strcmp(dot, types[i].ext))
                return types[i].type;
    return "application/octet-stream";
}

/* Everything the page loads comes from this origin; inline script and the
 * page being framed are refused. */
static const char page_headers[] =
    "Content-Security-Policy: default-src 'self'; img-src 'self' data:; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'\r\n"
    "X-Frame-Options: DENY\r\n"
    "Referrer-Policy: no-referrer\r\n";

/* Looks the name up among the embedded files: only those exact names are
 * served, so no path can reach anything else. */
static void serve_asset(tsa_http_req *r, const char *name)
{
    for (const dash_asset *a = dash_assets; a->name; a++)
        if (!strcmp(a->name, name)) {
            tsa_http_send(r, 200, content_type_of(a->name), page_headers, a->data, a->size);
            return;
        }
    tsa_http_send_error(r, 404, "not_found", NULL, "no such file: /%s", name);
}

static void h_index(tsa_http_req *r, void *user)
{
    (void)user;
    serve_asset(r, "index.html");
}

static void h_asset(tsa_http_req *r, void *user)
{
    (void)user;
    serve_asset(r, tsa_http_param(r, "file"));
}

/* ---- proxy --------------------------------------------------------------- */

static void h_proxy(tsa_http_req *r, void *user)
{
    dashboard *d = user;
    dash_proxy(r, &d->api);
}

/* ---- health and the status panel ----------------------------------------- */

typedef struct probe {
    const char *url;
    int timeout_ms;
    int answered;    /* an HTTP answer came back */
    int http_status;
    cJSON *health;   /* parsed body, or NULL */
    double seconds;
    char err[300];
} probe;

static void *probe_run(void *arg)
{
    probe *p = arg;
    char full[600];
    snprintf(full, sizeof full, "%s/health", p->url);
    tsa_http_response resp;
    double t0 = tsa_now();
    if (tsa_http_request("GET", full, NULL, NULL, p->timeout_ms, &resp, p->err, sizeof p->err) == 0) {
        p->answered = 1;
        p->http_status = resp.status;
        p->health = cJSON_ParseWithLength(resp.body, resp.body_len);
        tsa_http_response_free(&resp);
    }
    p->seconds = tsa_now() - t0;
    return NULL;
}

static void iso_now(char out[32])
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* A peer's entry: state is "up" (200 and healthy), "degraded" (answered,
 * but not healthy) or "down" (no HTTP answer). */
static cJSON *peer_entry(const dashboard *d, int i, const probe *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "key", peer_info[i].key);
    cJSON_AddStringToObject(o, "name", peer_info[i].name);
    cJSON_AddStringToObject(o, "title", peer_info[i].title);
    cJSON_AddStringToObject(o, "url", d->peer_url[i]);
    const cJSON *h = p->health;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(h, "status");
    int healthy = p->answered && p->http_status == 200 &&
                  (!cJSON_IsString(status) || !strcmp(status->valuestring, "healthy"));
    cJSON_AddStringToObject(o, "state", !p->answered ? "down" : healthy ? "up" : "degraded");
    cJSON_AddBoolToObject(o, "reachable", p->answered);
    cJSON_AddNumberToObject(o, "latency_ms", p->seconds * 1000.0);
    if (p->answered) {
        cJSON_AddNumberToObject(o, "http_status", p->http_status);
        if (cJSON_IsString(status))
            cJSON_AddStringToObject(o, "status", status->valuestring);
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(h, "version");
        if (cJSON_IsString(v))
            cJSON_AddStringToObject(o, "version", v->valuestring);
        const cJSON *up = cJSON_GetObjectItemCaseSensitive(h, "uptime_seconds");
        if (cJSON_IsNumber(up))
            cJSON_AddNumberToObject(o, "uptime_seconds", up->valuedouble);
        const cJSON *svc = cJSON_GetObjectItemCaseSensitive(h, "service");
        if (cJSON_IsString(svc))
            cJSON_AddStringToObject(o, "service", svc->valuestring);
        const cJSON *store = cJSON_GetObjectItemCaseSensitive(h, "store");
        if (cJSON_IsObject(store))
            cJSON_AddItemToObject(o, "store", cJSON_Duplicate(store, 1));
        if (!h)
            cJSON_AddStringToObject(o, "error", "the /health answer is not JSON");
    } else {
        cJSON_AddStringToObject(o, "error", p->err);
    }
    return o;
}

static void h_status(tsa_http_req *r, void *user)
{
    dashboard *d = user;
    probe probes[N_PEERS];
    pthread_t threads[N_PEERS];
    int started[N_PEERS];
    memset(probes, 0, sizeof probes);
    /* Concurrently, so one peer that hangs costs one timeout, not four. */
    for (int i = 0; i < N_PEERS; i++) {
        probes[i].url = d->peer_url[i];
        probes[i].timeout_ms = d->status_timeout_ms;
        started[i] = pthread_create(&threads[i], NULL, probe_run, &probes[i]) == 0;
        if (!started[i])
            probe_run(&probes[i]);
    }
    for (int i = 0; i < N_PEERS; i++)
        if (started[i])
            pthread_join(threads[i], NULL);

    cJSON *o = cJSON_CreateObject();
    char now[32];
    iso_now(now);
    cJSON_AddStringToObject(o, "checked_at", now);
    cJSON *arr = cJSON_AddArrayToObject(o, "services");
    cJSON *self = cJSON_CreateObject();
    cJSON_AddStringToObject(self, "key", "web");
    cJSON_AddStringToObject(self, "name", SERVICE);
    cJSON_AddStringToObject(self, "title", "Web dashboard");
    cJSON_AddStringToObject(self, "url", d->self_url);
    cJSON_AddStringToObject(self, "state", "up");
    cJSON_AddBoolToObject(self, "reachable", 1);
    cJSON_AddStringToObject(self, "status", "healthy");
    cJSON_AddStringToObject(self, "version", tsa_version());
    cJSON_AddNumberToObject(self, "uptime_seconds", tsa_now() - d->started);
    cJSON_AddNumberToObject(self, "latency_ms", 0);
    cJSON_AddItemToArray(arr, self);
    int n_up = 1;
    for (int i = 0; i < N_PEERS; i++) {
        cJSON *e = peer_entry(d, i, &probes[i]);
        const char *state = cJSON_GetObjectItemCaseSensitive(e, "state")->valuestring;
        n_up += !strcmp(state, "up");
        tsa_metrics_set_gauge(d->metrics, "tsa_dashboard_service_up",
                              "Whether the target service answered its last /health check healthy (1) or not (0)",
                              "target", peer_info[i].name, !strcmp(state, "up"));
        cJSON_AddItemToArray(arr, e);
        cJSON_Delete(probes[i].health);
    }
    cJSON_AddNumberToObject(o, "services_up", n_up);
    cJSON_AddNumberToObject(o, "services_total", N_PEERS + 1);
    tsa_http_send_json(r, 200, o);
}

/* Own liveness plus whether the REST API answers: the dashboard is of no use
 * without it, so "degraded" then (still 200: this process itself is fine). */
static void h_health(tsa_http_req *r, void *user)
{
    dashboard *d = user;
    probe p;
    memset(&p, 0, sizeof p);
    p.url = d->api.url;
    p.timeout_ms = d->status_timeout_ms;
    probe_run(&p);
    int api_ok = p.answered && p.http_status == 200;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "status", api_ok ? "healthy" : "degraded");
    cJSON_AddStringToObject(o, "service", SERVICE);
    cJSON_AddStringToObject(o, "version", tsa_version());
    cJSON_AddNumberToObject(o, "uptime_seconds", tsa_now() - d->started);
    cJSON *api = cJSON_AddObjectToObject(o, "api");
    cJSON_AddStringToObject(api, "url", d->api.url);
    cJSON_AddBoolToObject(api, "reachable", p.answered);
    cJSON_AddBoolToObject(api, "healthy", api_ok);
    if (p.answered)
        cJSON_AddNumberToObject(api, "http_status", p.http_status);
    else
        cJSON_AddStringToObject(api, "error", p.err);
    cJSON_AddNumberToObject(api, "latency_ms", p.seconds * 1000.0);
    cJSON_Delete(p.health);
    tsa_http_send_json(r, 200, o);
}

static void h_metrics(tsa_http_req *r, void *user)
{
    dashboard *d = user;
    tsa_metrics_set_gauge(d->metrics, "tsa_dashboard_uptime_seconds", "Seconds since the dashboard started", NULL,
                          NULL, tsa_now() - d->started);
    char *text = tsa_metrics_render(d->metrics);
    tsa_http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text ? text : "",
                  text ? strlen(text) : 0);
    free(text);
}

/* ---- main ---------------------------------------------------------------- */

int main(int argc, char **argv)
{
    tsa_option opts[] = {
        {"host", "TSA_HOST", "127.0.0.1", "address to listen on", NULL},
        {"port", "TSA_DASHBOARD_PORT", "5000", "port to listen on (0 picks a free one)", NULL},
        {"api-url", "TSA_API_URL", "http://127.0.0.1:5001", "the REST API that /api/ is forwarded to", NULL},
        {"forecasting-url", "TSA_FORECASTING_URL", "http://127.0.0.1:8001", "the forecasting agent (status panel)", NULL},
        {"anomaly-url", "TSA_ANOMALY_URL", "http://127.0.0.1:8002", "the anomaly agent (status panel)", NULL},
        {"coordinator-url", "TSA_COORDINATOR_URL", "http://127.0.0.1:8003", "the coordinator agent (status panel)", NULL},
        {"api-timeout-ms", "TSA_API_TIMEOUT_MS", "300000", "longest wait for one REST API answer", NULL},
        {"status-timeout-ms", "TSA_STATUS_TIMEOUT_MS", "2000", "longest wait for one service's /health", NULL},
        {"threads", "TSA_THREADS", "16", "HTTP worker threads", NULL},
        {"max-body", "TSA_MAX_BODY", "33554432", "largest request body in bytes", NULL},
        {"log-level", "TSA_LOG_LEVEL", "info", "debug, info, warn or error", NULL},
        {"port-file", "TSA_PORT_FILE", "", "write the bound port to this file", NULL},
    };
    const size_t n_opts = sizeof opts / sizeof opts[0];
    char err[512];
    int prc = tsa_config_parse(opts, n_opts, argc, argv, "tsa-dashboard [options]", err, sizeof err);
    if (prc == 1)
        return 0;
    long port, api_timeout, status_timeout, threads, max_body;
    if (prc < 0 || tsa_config_int(opts, n_opts, "port", 0, 65535, &port, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "api-timeout-ms", 100, 3600000, &api_timeout, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "status-timeout-ms", 50, 60000, &status_timeout, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "threads", 1, 1024, &threads, err, sizeof err) ||
        tsa_config_int(opts, n_opts, "max-body", 1024, 1L << 31, &max_body, err, sizeof err)) {
        fprintf(stderr, "tsa-dashboard: %s\n", err);
        return 2;
    }

    dashboard d;
    memset(&d, 0, sizeof d);
    d.started = tsa_now();
    d.status_timeout_ms = (int)status_timeout;
    for (int i = 0; i < N_PEERS; i++) {
        const char *url = tsa_config_get(opts, n_opts, peer_info[i].option);
        dash_upstream check;
        if (dash_upstream_parse(url, &check, err, sizeof err) != 0) {
            fprintf(stderr, "tsa-dashboard: --%s: %s\n", peer_info[i].option, err);
            return 2;
        }
        snprintf(d.peer_url[i], sizeof d.peer_url[i], "%s", check.url);
        if (i == PEER_API)
            d.api = check;
    }
    d.api.timeout_ms = (int)api_timeout;
    if (d.api.connect_timeout_ms > d.api.timeout_ms)
        d.api.connect_timeout_ms = d.api.timeout_ms;

    tsa_signals_block();
    tsa_log_set_level(tsa_config_get(opts, n_opts, "log-level"));
    d.metrics = tsa_metrics_create(SERVICE);

    tsa_http_config hc;
    memset(&hc, 0, sizeof hc);
    hc.service = SERVICE;
    hc.host = tsa_config_get(opts, n_opts, "host");
    hc.port = (int)port;
    hc.threads = (int)threads;
    hc.max_body = (size_t)max_body;
    /* Requests wait on the REST API for as long as it may take. */
    hc.request_timeout_ms = (int)api_timeout + 5000;
    hc.metrics = d.metrics;
    hc.log_requests = 1;
    tsa_http_server *srv;
    if (tsa_http_create(&hc, &srv) != 0) {
        fprintf(stderr, "tsa-dashboard: out of memory\n");
        return 1;
    }
    /* First match wins: the fixed routes, then /api/ (forwarded whatever
     * the method), then the embedded files. The route layer matches whole
     * segments, so each depth of /api/... is its own pattern. */
    static const char *const api_patterns[] = {
        "/api",
        "/api/{a}",
        "/api/{a}/{b}",
        "/api/{a}/{b}/{c}",
        "/api/{a}/{b}/{c}/{d}",
        "/api/v1/{a}/{b}/{c}/{d}",
    };
    tsa_http_route(srv, "GET", "/health", h_health, &d);
    tsa_http_route(srv, "GET", "/metrics", h_metrics, &d);
    tsa_http_route(srv, "GET", "/status.json", h_status, &d);
    for (size_t i = 0; i < sizeof api_patterns / sizeof api_patterns[0]; i++)
        tsa_http_route(srv, "*", api_patterns[i], h_proxy, &d);
    tsa_http_route(srv, "GET", "/", h_index, &d);
    tsa_http_route(srv, "GET", "/{file}", h_asset, &d);
    if (tsa_http_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "tsa-dashboard: %s\n", err);
        tsa_http_destroy(srv);
        tsa_metrics_free(d.metrics);
        return 1;
    }
    int is_v6 = strchr(hc.host, ':') != NULL;
    const char *shown = !strcmp(hc.host, "0.0.0.0") ? "127.0.0.1" : !strcmp(hc.host, "::") ? "::1" : hc.host;
    snprintf(d.self_url, sizeof d.self_url, "http://%s%s%s:%d", is_v6 ? "[" : "", shown, is_v6 ? "]" : "",
             tsa_http_port(srv));
    const char *port_file = tsa_config_get(opts, n_opts, "port-file");
    if (port_file && *port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", tsa_http_port(srv));
            fclose(f);
        }
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "port", tsa_http_port(srv));
    cJSON_AddStringToObject(f, "url", d.self_url);
    cJSON_AddStringToObject(f, "api_url", d.api.url);
    cJSON_AddStringToObject(f, "version", tsa_version());
    tsa_log(SERVICE, "info", "listening", f);

    int sig = tsa_signals_wait();
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "signal", sig);
    tsa_log(SERVICE, "info", "shutting down", g);
    tsa_http_destroy(srv);
    tsa_metrics_free(d.metrics);
    tsa_log(SERVICE, "info", "stopped", NULL);
    return 0;
}
