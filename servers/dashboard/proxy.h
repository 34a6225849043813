/* The dashboard's reverse proxy to the REST API: forwards one request
 * (method, path, query, body and the headers that carry meaning: Content-Type,
 * Accept, Authorization) and relays the answer (status, Content-Type, body and
 * a few headers such as Allow and Location). The shared client in httpc.h
 * always labels bodies as JSON and returns no response headers, so the proxy
 * speaks HTTP/1.1 itself. Thread-safe: nothing but the const upstream is
 * shared between calls. */
#ifndef TSA_DASHBOARD_PROXY_H
#define TSA_DASHBOARD_PROXY_H

#include <stddef.h>

#include "http.h"

typedef struct dash_upstream {
    char url[512];     /* as configured, without a trailing slash (for messages) */
    char host[256];    /* without IPv6 brackets */
    char port[16];
    char prefix[256];  /* path prefix put before every forwarded path, "" or "/x" */
    int connect_timeout_ms;
    int timeout_ms;    /* the whole exchange */
    size_t max_response;
} dash_upstream;

/* Parses "http://host[:port][/prefix]". Returns 0, or -1 with a reason. */
int dash_upstream_parse(const char *url, dash_upstream *u, char *err, size_t err_len);

/* Forwards @r to @u and answers @r: the upstream's answer, 502 with a JSON
 * error when the upstream cannot be reached or answers garbage, 504 when it
 * does not answer in time. */
void dash_proxy(tsa_http_req *r, const dash_upstream *u);

#endif
