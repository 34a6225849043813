/* A small blocking HTTP/1.1 client for calls between the services (A2A,
 * health checks): plain http://, Content-Length or chunked bodies, a
 * deadline for the whole exchange. Thread-safe. */
#ifndef TSA_SERVERS_HTTPC_H
#define TSA_SERVERS_HTTPC_H

#include <cjson/cJSON.h>
#include <stddef.h>

typedef struct tsa_http_response {
    int status;     /* HTTP status, 0 when no answer */
    char *body;     /* NUL-terminated, free() it */
    size_t body_len;
} tsa_http_response;

/* Sends @method to @url with an optional JSON @body and extra header lines
 * ("Name: value\r\n"...). Returns 0 with @resp filled, or -1 with @err
 * (connection refused, timeout, bad URL...). */
int tsa_http_request(const char *method, const char *url, const char *extra_headers, const char *body,
                     int timeout_ms, tsa_http_response *resp, char *err, size_t err_len);
void tsa_http_response_free(tsa_http_response *r);

/* The request headers of an A2A call: A2A-Version 1.0 and, when API keys
 * are on, "Authorization: Bearer $TSA_AGENT_KEY". */
void tsa_a2a_headers(char *buf, size_t len);

/* Calls an A2A skill on the agent at @base_url (v1.0 SendMessage, blocking)
 * and returns the task's data artifact. On failure returns NULL and writes
 * why (unreachable, failed task with its message, protocol error). */
cJSON *tsa_a2a_call(const char *base_url, const char *skill, const cJSON *arguments, int timeout_ms,
                    char *err, size_t err_len);

#endif
