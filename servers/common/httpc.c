/* Blocking HTTP/1.1 client and an A2A skill call (see httpc.h). */
#include "httpc.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "http.h"

static int parse_url(const char *url, char *host, size_t hl, char *port, size_t pl, const char **path)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *h = url + 7, *end = h + strcspn(h, "/");
    const char *colon = NULL;
    if (*h == '[') { /* IPv6 literal */
        const char *rb = strchr(h, ']');
        if (!rb || rb > end)
            return -1;
        snprintf(host, hl, "%.*s", (int)(rb - h - 1), h + 1);
        colon = rb[1] == ':' ? rb + 1 : NULL;
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        snprintf(host, hl, "%.*s", (int)((colon ? colon : end) - h), h);
    }
    if (colon)
        snprintf(port, pl, "%.*s", (int)(end - colon - 1), colon + 1);
    else
        snprintf(port, pl, "80");
    *path = *end ? end : "/";
    return *host ? 0 : -1;
}

static int remaining_ms(double deadline)
{
    double left = deadline - tsa_now();
    return left > 0 ? (int)(left * 1000) + 1 : 0;
}

static int connect_to(const char *host, const char *port, double deadline, char *err, size_t el)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        snprintf(err, el, "cannot resolve %s: %s", host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0)
            continue;
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, remaining_ms(deadline)) == 1) {
                int so = 0;
                socklen_t sl = sizeof so;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl);
                if (so == 0)
                    break;
                errno = so;
            } else {
                errno = ETIMEDOUT;
            }
        }
        snprintf(err, el, "cannot connect to %s:%s: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *buf, size_t len, double deadline)
{
    while (len) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EINTR)
            return -1;
        struct pollfd p = {fd, POLLOUT, 0};
        if (poll(&p, 1, remaining_ms(deadline)) != 1)
            return -1;
    }
    return 0;
}

/* Decodes a chunked body in place; returns the decoded length or -1. */
static long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        char *end;
        unsigned long n = strtoul(b + in, &end, 16);
        char *crlf = strstr(b + in, "\r\n");
        if (!crlf || end == b + in)
            return -1;
        in = (size_t)(crlf - b) + 2;
        if (n == 0)
            return (long)out;
        if (in + n > len)
            return -1;
        memmove(b + out, b + in, n);
        out += n;
        in += n + 2;
        if (in > len)
            return -1;
    }
}

int tsa_http_request(const char *method, const char *url, const char *extra_headers, const char *body,
                     int timeout_ms, tsa_http_response *resp, char *err, size_t err_len)
{
    memset(resp, 0, sizeof *resp);
    char host[256], port[16];
    const char *path;
    if (parse_url(url, host, sizeof host, port, sizeof port, &path) != 0) {
        snprintf(err, err_len, "unsupported URL '%.200s' (use http://host:port)", url);
        return -1;
    }
    double deadline = tsa_now() + timeout_ms / 1000.0;
    int fd = connect_to(host, port, deadline, err, err_len);
    if (fd < 0)
        return -1;
    size_t blen = body ? strlen(body) : 0;
    size_t hlen = strlen(path) + strlen(host) + (extra_headers ? strlen(extra_headers) : 0) + 256;
    char *head = malloc(hlen);
    int n = snprintf(head, hlen,
                     "%s %s HTTP/1.1\r\nHost: %s:%s\r\nConnection: close\r\nAccept: application/json\r\n"
                     "%s%s%s",
                     method, path, host, port, body ? "Content-Type: application/json\r\n" : "",
                     extra_headers ? extra_headers : "", "");
    char cl[64];
    snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n", blen);
    int rc = -1;
    if (send_all(fd, head, (size_t)n, deadline) != 0 || send_all(fd, cl, strlen(cl), deadline) != 0 ||
        (blen && send_all(fd, body, blen, deadline) != 0)) {
        snprintf(err, err_len, "sending to %s:%s failed: %s", host, port, errno ? strerror(errno) : "timeout");
        goto done;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    for (;;) {
        if (len + 1 >= cap) {
            if (cap > (256u << 20)) {
                snprintf(err, err_len, "answer from %s:%s is too large", host, port);
                free(buf);
                goto done;
            }
            cap *= 2;
            buf = realloc(buf, cap);
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, remaining_ms(deadline));
        if (pr != 1) {
            snprintf(err, err_len, "no answer from %s:%s within %d ms", host, port, timeout_ms);
            free(buf);
            goto done;
        }
        ssize_t got = recv(fd, buf + len, cap - len - 1, 0);
        if (got < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    buf[len] = '\0';
    if (len == 0) {
        snprintf(err, err_len, "no answer from %s:%s (connection closed)", host, port);
        free(buf);
        goto done;
    }
    char *sep = strstr(buf, "\r\n\r\n");
    if (strncmp(buf, "HTTP/1.", 7) != 0 || !sep) {
        snprintf(err, err_len, "malformed answer from %s:%s", host, port);
        free(buf);
        goto done;
    }
    resp->status = atoi(buf + 9);
    *sep = '\0';
    int chunked = 0;
    for (char *line = strstr(buf, "\r\n"); line; line = strstr(line + 2, "\r\n"))
        if (!strncasecmp(line + 2, "Transfer-Encoding:", 18) && strstr(line + 2, "chunked"))
            chunked = 1;
    char *b = sep + 4;
    size_t bl = len - (size_t)(b - buf);
    if (chunked) {
        long dl = dechunk(b, bl);
        if (dl < 0) {
            snprintf(err, err_len, "malformed chunked answer from %s:%s", host, port);
            free(buf);
            goto done;
        }
        bl = (size_t)dl;
    }
    resp->body = malloc(bl + 1);
    memcpy(resp->body, b, bl);
    resp->body[bl] = '\0';
    resp->body_len = bl;
    free(buf);
    rc = 0;
done:
    free(head);
    close(fd);
    return rc;
}

void tsa_http_response_free(tsa_http_response *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

void tsa_a2a_headers(char *buf, size_t len)
{
    /* With API keys on, calls between services carry TSA_AGENT_KEY. */
    const char *key = getenv("TSA_AGENT_KEY");
    if (key && *key && strlen(key) < 200)
        snprintf(buf, len, "A2A-Version: 1.0\r\nAuthorization: Bearer %s\r\n", key);
    else
        snprintf(buf, len, "A2A-Version: 1.0\r\n");
}

cJSON *tsa_a2a_call(const char *base_url, const char *skill, const cJSON *arguments, int timeout_ms, char *err,
                    size_t err_len)
{
    cJSON *req = cJSON_CreateObject();
    cJSON_AddStringToObject(req, "jsonrpc", "2.0");
    char id[40];
    tsa_uuid(id);
    cJSON_AddStringToObject(req, "id", id);
    cJSON_AddStringToObject(req, "method", "SendMessage");
    cJSON *params = cJSON_AddObjectToObject(req, "params");
    cJSON *msg = cJSON_AddObjectToObject(params, "message");
    char mid[40];
    tsa_uuid(mid);
    cJSON_AddStringToObject(msg, "messageId", mid);
    cJSON_AddStringToObject(msg, "role", "ROLE_USER");
    cJSON *parts = cJSON_AddArrayToObject(msg, "parts");
    cJSON *part = cJSON_CreateObject();
    cJSON *data = cJSON_AddObjectToObject(part, "data");
    cJSON_AddStringToObject(data, "skill", skill);
    cJSON_AddItemToObject(data, "arguments", arguments ? cJSON_Duplicate(arguments, 1) : cJSON_CreateObject());
    cJSON_AddStringToObject(part, "mediaType", "application/json");
    cJSON_AddItemToArray(parts, part);
    char *body = cJSON_PrintUnformatted(req);
    cJSON_Delete(req);
    char url[600];
    snprintf(url, sizeof url, "%s/a2a", base_url);
    tsa_http_response resp;
    char headers[300];
    tsa_a2a_headers(headers, sizeof headers);
    int rc = tsa_http_request("POST", url, headers, body, timeout_ms, &resp, err, err_len);
    cJSON_free(body);
    if (rc != 0)
        return NULL;
    cJSON *j = cJSON_Parse(resp.body);
    int status = resp.status;
    tsa_http_response_free(&resp);
    if (!j) {
        snprintf(err, err_len, "%s answered HTTP %d without JSON", url, status);
        return NULL;
    }
    cJSON *out = NULL;
    const cJSON *error = cJSON_GetObjectItemCaseSensitive(j, "error");
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "result"), "task");
    if (error) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(error, "message");
        snprintf(err, err_len, "%s: %s", skill, cJSON_IsString(m) ? m->valuestring : "error");
    } else if (!task) {
        snprintf(err, err_len, "%s: the agent answered without a task", skill);
    } else {
        const cJSON *st = cJSON_GetObjectItemCaseSensitive(task, "status");
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(st, "state");
        if (!cJSON_IsString(state) || strcmp(state->valuestring, "TASK_STATE_COMPLETED") != 0) {
            const cJSON *parts2 = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "message"), "parts");
            const cJSON *text = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(parts2, 0), "text");
            snprintf(err, err_len, "%s %s: %s", skill,
                     cJSON_IsString(state) ? state->valuestring : "ended", cJSON_IsString(text) ? text->valuestring : "no reason given");
        } else {
            const cJSON *arts = cJSON_GetObjectItemCaseSensitive(task, "artifacts");
            const cJSON *p0 = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arts, 0), "parts"), 0);
            const cJSON *d = cJSON_GetObjectItemCaseSensitive(p0, "data");
            if (d)
                out = cJSON_Duplicate(d, 1);
            else
                snprintf(err, err_len, "%s: the completed task has no data artifact", skill);
        }
    }
    cJSON_Delete(j);
    return out;
}
