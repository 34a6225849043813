/* The agents' shared main program (see agent_main.h). */
#include "agent_main.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "cache.h"
#include "metrics.h"
#include "ratelimit.h"
#include "redis.h"
#include "store.h"

void openblas_set_num_threads(int num_threads);

typedef struct program_state {
    const tsa_agent_program *p;
    tsa_svc svc;
    tsa_agent *agent;
    void *ctx;
    double started;
} program_state;

static void h_health(tsa_http_req *r, void *user)
{
    program_state *ps = user;
    char err[TSA_STORE_ERR_LEN];
    int store_ok = tsa_store_ping(ps->svc.store, err) == TSA_STORE_OK;
    int healthy = store_ok;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "service", ps->p->service);
    cJSON_AddStringToObject(o, "version", tsa_version());
    cJSON_AddNumberToObject(o, "uptime_seconds", tsa_now() - ps->started);
    cJSON *st = cJSON_AddObjectToObject(o, "store");
    cJSON_AddStringToObject(st, "backend", tsa_store_backend(ps->svc.store));
    cJSON_AddBoolToObject(st, "reachable", store_ok);
    if (!store_ok)
        cJSON_AddStringToObject(st, "error", err);
    cJSON_AddStringToObject(o, "redis", tsa_redis_check(ps->svc.redis));
    if (ps->p->health)
        ps->p->health(ps->ctx, o, &healthy);
    cJSON_AddStringToObject(o, "status", healthy ? "healthy" : "degraded");
    tsa_http_send_json(r, store_ok ? 200 : 503, o);
}

static void h_metrics(tsa_http_req *r, void *user)
{
    program_state *ps = user;
    tsa_op_refresh_gauges(&ps->svc);
    char *text = tsa_metrics_render(ps->svc.metrics);
    tsa_http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", NULL, text ? text : "", text ? strlen(text) : 0);
    free(text);
}

static void h_index(tsa_http_req *r, void *user)
{
    program_state *ps = user;
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "service", ps->p->service);
    cJSON_AddStringToObject(o, "version", tsa_version());
    cJSON_AddStringToObject(o, "mcp", "/mcp");
    cJSON_AddStringToObject(o, "a2a", "/a2a");
    cJSON_AddStringToObject(o, "agent_card", "/.well-known/agent-card.json");
    cJSON_AddStringToObject(o, "health", "/health");
    tsa_http_send_json(r, 200, o);
}

int tsa_agent_main(const tsa_agent_program *p, int argc, char **argv)
{
    tsa_option base[] = {
        {"host", "TSA_HOST", "127.0.0.1", "address to listen on", NULL},
        {"port", p->port_env, p->default_port, "port to listen on (0 picks a free one)", NULL},
        {"store", "TSA_DATABASE_URL", "sqlite:var/tsa.db", "sqlite:PATH or postgresql://...", NULL},
        {"threads", "TSA_THREADS", "16", "HTTP worker threads", NULL},
        {"blas-threads", "TSA_BLAS_THREADS", "1", "OpenBLAS threads", NULL},
        {"max-body", "TSA_MAX_BODY", "33554432", "largest request body in bytes", NULL},
        {"max-epochs", "TSA_MAX_EPOCHS", "10000", "largest epochs a call may ask for", NULL},
        {"cache-bytes", "TSA_CACHE_BYTES", "268435456", "memory for cached models", NULL},
        {"allowed-origins", "TSA_ALLOWED_ORIGINS", "", "Origins allowed besides loopback (comma-separated)", NULL},
        {"cors-origins", "TSA_CORS_ORIGINS", "", "origins browsers may call /mcp and /a2a from (CORS; comma-separated, or *)", NULL},
        {"public-url", "TSA_PUBLIC_URL", "", "base URL announced in the agent card (default http://HOST:PORT)", NULL},
        {"log-level", "TSA_LOG_LEVEL", "info", "debug, info, warn or error", NULL},
        {"port-file", "TSA_PORT_FILE", "", "write the bound port to this file", NULL},
        TSA_AUTH_OPTIONS,
        TSA_SHARED_OPTIONS,
    };
    size_t n_base = sizeof base / sizeof base[0], n = n_base + p->n_extra;
    tsa_option *opts = calloc(n, sizeof *opts);
    memcpy(opts, base, sizeof base);
    if (p->n_extra)
        memcpy(opts + n_base, p->extra, p->n_extra * sizeof *opts);
    char err[512], usage[128];
    snprintf(usage, sizeof usage, "%s [options]", p->binary);
    int prc = tsa_config_parse(opts, n, argc, argv, usage, err, sizeof err);
    if (prc == 1) {
        free(opts);
        return 0;
    }
    long port, threads, blas, max_body, max_epochs, cache_bytes;
    if (prc < 0 || tsa_config_int(opts, n, "port", 0, 65535, &port, err, sizeof err) ||
        tsa_config_int(opts, n, "threads", 1, 1024, &threads, err, sizeof err) ||
        tsa_config_int(opts, n, "blas-threads", 1, 256, &blas, err, sizeof err) ||
        tsa_config_int(opts, n, "max-body", 1024, 1L << 31, &max_body, err, sizeof err) ||
        tsa_config_int(opts, n, "max-epochs", 1, 100000, &max_epochs, err, sizeof err) ||
        tsa_config_int(opts, n, "cache-bytes", 0, 1L << 40, &cache_bytes, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", p->binary, err);
        free(opts);
        return 2;
    }
    tsa_signals_block();
    openblas_set_num_threads((int)blas);
    tsa_log_set_level(tsa_config_get(opts, n, "log-level"));

    program_state ps;
    memset(&ps, 0, sizeof ps);
    ps.p = p;
    ps.started = tsa_now();
    ps.svc.service = p->service;
    ps.svc.max_epochs = max_epochs;
    ps.svc.metrics = tsa_metrics_create(p->service);
    ps.svc.cache = tsa_model_cache_create((size_t)cache_bytes);
    char serr[TSA_STORE_ERR_LEN];
    const char *url = tsa_config_get(opts, n, "store");
    if (tsa_store_open(url, NULL, &ps.svc.store, serr) != TSA_STORE_OK) {
        fprintf(stderr, "%s: cannot open the store %s: %s\n", p->binary, url, serr);
        free(opts);
        return 1;
    }
    ps.ctx = &ps.svc;
    if (p->setup && p->setup(&ps.svc, opts, n, &ps.ctx) != 0) {
        fprintf(stderr, "%s: setup failed\n", p->binary);
        free(opts);
        return 1;
    }
    tsa_agent_config ac = p->agent;
    ac.ctx = ps.ctx;
    ac.allowed_origins = tsa_config_get(opts, n, "allowed-origins");
    ac.cors_origins = tsa_config_get(opts, n, "cors-origins");
    ps.agent = tsa_agent_create(&ac);

    tsa_http_config hc;
    memset(&hc, 0, sizeof hc);
    hc.service = p->service;
    hc.host = tsa_config_get(opts, n, "host");
    hc.port = (int)port;
    hc.threads = (int)threads;
    hc.max_body = (size_t)max_body;
    hc.metrics = ps.svc.metrics;
    hc.log_requests = 1;
    hc.cors_origins = ac.cors_origins; /* the same allow-list and variable as tsa-api */
    if (tsa_shared_setup(opts, n, &ps.svc, &hc, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", p->binary, err);
        tsa_store_close(ps.svc.store);
        free(opts);
        return 2;
    }
    int arc = tsa_auth_setup(p->binary, opts, n, ps.svc.store, &hc, err, sizeof err);
    if (arc != 0) {
        tsa_shared_teardown(&ps.svc, &hc);
        if (arc < 0)
            fprintf(stderr, "%s: %s\n", p->binary, err);
        tsa_store_close(ps.svc.store);
        free(opts);
        return arc < 0 ? 1 : 0;
    }
    tsa_http_server *srv;
    tsa_http_create(&hc, &srv);
    tsa_http_route_role(srv, "GET", "/", NULL, h_index, &ps);
    tsa_http_route_role(srv, "GET", "/health", NULL, h_health, &ps);
    tsa_http_route_role(srv, "GET", "/metrics", NULL, h_metrics, &ps);
    tsa_agent_routes(ps.agent, srv);
    if (tsa_http_start(srv, err, sizeof err) != 0) {
        fprintf(stderr, "%s: %s\n", p->binary, err);
        return 1;
    }
    const char *pub = tsa_config_get(opts, n, "public-url");
    char base_url[300];
    if (pub && *pub)
        snprintf(base_url, sizeof base_url, "%s", pub);
    else
        snprintf(base_url, sizeof base_url, "http://%s:%d",
                 !strcmp(hc.host, "0.0.0.0") ? "127.0.0.1" : hc.host, tsa_http_port(srv));
    tsa_agent_set_url(ps.agent, base_url);
    const char *port_file = tsa_config_get(opts, n, "port-file");
    if (port_file && *port_file) {
        FILE *f = fopen(port_file, "w");
        if (f) {
            fprintf(f, "%d\n", tsa_http_port(srv));
            fclose(f);
        }
    }
    cJSON *f = cJSON_CreateObject();
    cJSON_AddNumberToObject(f, "port", tsa_http_port(srv));
    cJSON_AddStringToObject(f, "store", tsa_store_backend(ps.svc.store));
    char key_id[17];
    cJSON_AddStringToObject(f, "encryption_key_id",
                            tsa_store_encrypted(ps.svc.store, key_id) ? key_id : "off");
    cJSON_AddStringToObject(f, "url", base_url);
    tsa_log(p->service, "info", "listening", f);

    int sig = tsa_signals_wait();
    cJSON *g = cJSON_CreateObject();
    cJSON_AddNumberToObject(g, "signal", sig);
    tsa_log(p->service, "info", "shutting down", g);
    tsa_agent_stop(ps.agent);
    tsa_http_destroy(srv);
    tsa_agent_free(ps.agent);
    tsa_model_cache_free(ps.svc.cache);
    tsa_store_close(ps.svc.store);
    tsa_shared_teardown(&ps.svc, &hc);
    tsa_metrics_free(ps.svc.metrics);
    free(opts);
    return 0;
}
