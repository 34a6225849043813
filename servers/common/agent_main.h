/* The main program shared by the three agents: options, store, HTTP
 * server with /health and /metrics, MCP and A2A routes, graceful stop. */
#ifndef TSA_SERVERS_AGENT_MAIN_H
#define TSA_SERVERS_AGENT_MAIN_H

#include "agent.h"
#include "config.h"

typedef struct tsa_agent_program {
    const char *service;          /* "forecasting-mcp" */
    const char *binary;           /* "tsa-forecasting" */
    const char *port_env;         /* "TSA_FORECASTING_PORT" */
    const char *default_port;     /* "8001" */
    tsa_agent_config agent;       /* ctx is set to the program's tsa_svc unless given */
    tsa_option *extra;            /* extra options (may be NULL) */
    size_t n_extra;
    /* Called after the store is open, before serving; may set up ctx. */
    int (*setup)(tsa_svc *svc, tsa_option *opts, size_t n_opts, void **ctx);
    /* Adds fields to /health (e.g. reachability of other agents). */
    void (*health)(void *ctx, cJSON *out, int *healthy);
} tsa_agent_program;

int tsa_agent_main(const tsa_agent_program *p, int argc, char **argv);

#endif
