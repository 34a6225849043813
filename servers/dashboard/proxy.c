/* Reverse proxy from the dashboard to the REST API (see proxy.h). */
#include "proxy.h"

#include <civetweb.h>
#include <ctype.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#define HEAD_LIMIT (64u << 10) /* bytes of response status line + headers */

int dash_upstream_parse(const char *url, dash_upstream *u, char *err, size_t err_len)
{
    memset(u, 0, sizeof *u);
    if (!url || strncmp(url, "http://", 7) != 0) {
        snprintf(err, err_len, "'%s' is not an http:// URL", url ? url : "");
        return -1;
    }
    if (strlen(url) >= sizeof u->url) {
        snprintf(err, err_len, "the URL is longer than %zu bytes", sizeof u->url - 1);
        return -1;
    }
    snprintf(u->url, sizeof u->url, "%s", url);
    size_t n = strlen(u->url);
    while (n > 7 && u->url[n - 1] == '/')
        u->url[--n] = '\0';
    const char *h = u->url + 7, *end = h + strcspn(h, "/?#");
    if (*end == '?' || *end == '#') {
        snprintf(err, err_len, "'%s' has a query or fragment; give scheme, host, port and path only", url);
        return -1;
    }
    const char *colon;
    if (*h == '[') {
        const char *rb = memchr(h, ']', (size_t)(end - h));
        if (!rb) {
            snprintf(err, err_len, "'%s' has an unclosed IPv6 literal", url);
            return -1;
        }
        snprintf(u->host, sizeof u->host, "%.*s", (int)(rb - h - 1), h + 1);
        colon = rb + 1 < end && rb[1] == ':' ? rb + 1 : NULL;
        if (!colon && rb + 1 != end) {
            snprintf(err, err_len, "'%s': unexpected text after the IPv6 literal", url);
            return -1;
        }
    } else {
        colon = memchr(h, ':', (size_t)(end - h));
        snprintf(u->host, sizeof u->host, "%.*s", (int)((colon ? colon : end) - h), h);
    }
    if (!*u->host) {
        snprintf(err, err_len, "'%s' names no host", url);
        return -1;
    }
    if (colon) {
        size_t pl = (size_t)(end - colon - 1);
        char *pe;
        long port = pl && pl < sizeof u->port ? strtol(colon + 1, &pe, 10) : -1;
        if (port < 1 || port > 65535 || pe != end) {
            snprintf(err, err_len, "'%s' has a bad port", url);
            return -1;
        }
        snprintf(u->port, sizeof u->port, "%ld", port);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }
    snprintf(u->prefix, sizeof u->prefix, "%s", end);
    u->connect_timeout_ms = 3000;
    u->timeout_ms = 300000;
    u->max_response = 256u << 20;
    return 0;
}

/* ---- a growable byte buffer ---------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t len, cap;
    int oom;
} sbuf;

static int sbuf_reserve(sbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 1024;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *q = realloc(b->p, cap);
    if (!q) {
        b->oom = 1;
        return -1;
    }
    b->p = q;
    b->cap = cap;
    return 0;
}

static void sbuf_add(sbuf *b, const char *s, size_t n)
{
    if (sbuf_reserve(b, n) != 0)
        return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sbuf_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sbuf_printf(sbuf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || sbuf_reserve(b, (size_t)n) != 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

/* The decoded path, percent-encoded again for the request line: CivetWeb
 * hands handlers the decoded path, and a model name may hold characters that
 * must not appear raw (space, '?', '#', '%'). */
static void add_encoded_path(sbuf *b, const char *path)
{
    static const char keep[] = "-._~/!$&'()*+,;=:@";
    for (const unsigned char *s = (const unsigned char *)path; *s; s++) {
        if (isalnum(*s) || strchr(keep, *s)) {
            char c = (char)*s;
            sbuf_add(b, &c, 1);
        } else {
            sbuf_printf(b, "%%%02X", *s);
        }
    }
}

/* ---- socket I/O with a deadline ------------------------------------------ */

static int left_ms(double deadline)
{
    double left = deadline - tsa_now();
    return left > 0 ? (int)(left * 1000.0) + 1 : 0;
}

static int connect_upstream(const dash_upstream *u, double deadline, char *err, size_t el)
{
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        snprintf(err, el, "cannot resolve %s: %s", u->host, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, ai->ai_protocol);
        if (fd < 0) {
            snprintf(err, el, "socket: %s", strerror(errno));
            continue;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno == EINPROGRESS) {
            struct pollfd p = {fd, POLLOUT, 0};
            if (poll(&p, 1, left_ms(deadline)) == 1) {
                int so = 0;
                socklen_t sl = sizeof so;
                if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &so, &sl) == 0 && so == 0)
                    break;
                errno = so ? so : ECONNREFUSED;
            } else {
                errno = ETIMEDOUT;
            }
        }
        snprintf(err, el, "cannot connect to %s:%s: %s", u->host, u->port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    return fd;
}

static int send_all(int fd, const char *p, size_t n, double deadline)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return -1;
        struct pollfd pf = {fd, POLLOUT, 0};
        if (poll(&pf, 1, left_ms(deadline)) != 1) {
            errno = ETIMEDOUT;
            return -1;
        }
    }
    return 0;
}

/* ---- the response -------------------------------------------------------- */

typedef struct upstream_answer {
    int status;
    char content_type[200];
    char extra[900];     /* relayed header lines */
    long long content_length; /* -1 when absent */
    int chunked;
    size_t head_len;     /* bytes up to and including the blank line */
} upstream_answer;

/* Headers relayed to the browser; the rest are hop-by-hop or set by the
 * dashboard's own layer (length, request id, caching, CORS). */
static const char *const relayed[] = {"Allow", "Location", "Retry-After", "WWW-Authenticate",
                                      "Content-Disposition", "ETag", "Last-Modified"};

static int parse_head(char *buf, size_t head_len, upstream_answer *a)
{
    memset(a, 0, sizeof *a);
    a->content_length = -1;
    a->head_len = head_len;
    if (head_len < 12 || strncmp(buf, "HTTP/1.", 7) != 0 || buf[8] != ' ')
        return -1;
    if (!isdigit((unsigned char)buf[9]) || !isdigit((unsigned char)buf[10]) ||
        !isdigit((unsigned char)buf[11]))
        return -1;
    a->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (a->status < 100 || a->status > 599)
        return -1;
    size_t extra_len = 0;
    char *line = strstr(buf, "\r\n");
    while (line && (size_t)(line - buf) + 2 < head_len) {
        line += 2;
        char *eol = strstr(line, "\r\n");
        if (!eol || eol == line)
            break;
        *eol = '\0';
        char *colon = strchr(line, ':');
        if (colon) {
            *colon = '\0';
            char *v = colon + 1;
            while (*v == ' ' || *v == '\t')
                v++;
            size_t vl = strlen(v);
            while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
                v[--vl] = '\0';
            if (!strcasecmp(line, "Content-Type")) {
                if (vl < sizeof a->content_type)
                    memcpy(a->content_type, v, vl + 1);
            } else if (!strcasecmp(line, "Content-Length")) {
                char *e;
                long long cl = strtoll(v, &e, 10);
                if (*e || cl < 0)
                    return -1;
                a->content_length = cl;
            } else if (!strcasecmp(line, "Transfer-Encoding")) {
                if (strcasestr(v, "chunked"))
                    a->chunked = 1;
            } else {
                for (size_t i = 0; i < sizeof relayed / sizeof relayed[0]; i++) {
                    if (strcasecmp(line, relayed[i]) != 0)
                        continue;
                    size_t need = strlen(relayed[i]) + vl + 4;
                    if (extra_len + need < sizeof a->extra) {
                        snprintf(a->extra + extra_len, sizeof a->extra - extra_len, "%s: %s\r\n", relayed[i], v);
                        extra_len += need;
                    }
                }
            }
            *colon = ':';
        }
        *eol = '\r';
        line = eol;
    }
    return 0;
}

/* Decodes a chunked body in place (RFC 9112 section 7.1); the trailer section
 * is dropped. Returns the decoded length, or -1 when it is malformed or cut. */
static long long dechunk(char *b, size_t len)
{
    size_t in = 0, out = 0;
    for (;;) {
        size_t start = in;
        unsigned long long n = 0;
        while (in < len && isxdigit((unsigned char)b[in])) {
            int c = tolower((unsigned char)b[in]);
            n = n * 16 + (unsigned long long)(isdigit(c) ? c - '0' : c - 'a' + 10);
            if (n > len)
                return -1;
            in++;
        }
        if (in == start)
            return -1;
        while (in + 1 < len && !(b[in] == '\r' && b[in + 1] == '\n')) /* chunk extensions */
            in++;
        if (in + 1 >= len)
            return -1;
        in += 2;
        if (n == 0)
            return (long long)out;
        if (n > len - in)
            return -1;
        memmove(b + out, b + in, (size_t)n);
        out += (size_t)n;
        in += (size_t)n;
        if (in + 2 > len || b[in] != '\r' || b[in + 1] != '\n')
            return -1;
        in += 2;
    }
}

/* Whether @b holds a whole chunked body (walks the chunk sizes only). */
static int chunked_complete(const char *b, size_t len)
{
    size_t in = 0;
    for (;;) {
        size_t start = in;
        unsigned long long n = 0;
        while (in < len && isxdigit((unsigned char)b[in])) {
            int c = tolower((unsigned char)b[in]);
            n = n * 16 + (unsigned long long)(isdigit(c) ? c - '0' : c - 'a' + 10);
            if (n > len)
                return 0;
            in++;
        }
        if (in == start)
            return 0;
        while (in + 1 < len && !(b[in] == '\r' && b[in + 1] == '\n'))
            in++;
        if (in + 1 >= len)
            return 0;
        in += 2;
        if (n == 0) /* no trailers from the services: the blank line ends it */
            return in + 2 <= len && b[in] == '\r' && b[in + 1] == '\n';
        if (n + 2 > len - in)
            return 0;
        in += (size_t)n + 2;
    }
}

static int no_body(const char *method, int status)
{
    return !strcmp(method, "HEAD") || status < 200 || status == 204 || status == 304;
}

/* @kind: "bad_gateway" (no usable connection), "bad_gateway_answer" (a
 * malformed or cut answer) or "gateway_timeout". */
static void fail(tsa_http_req *r, const dash_upstream *u, int status, const char *kind, const char *why)
{
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "request_id", r->request_id);
    cJSON_AddStringToObject(f, "upstream", u->url);
    cJSON_AddStringToObject(f, "error", why);
    tsa_log("web-dashboard", "warn", "REST API call failed", f);
    const char *what = status == 504                       ? "did not answer in time"
                       : !strcmp(kind, "bad_gateway_answer") ? "gave a bad answer"
                                                             : "is unreachable";
    tsa_http_send_error(r, status, status == 504 ? "gateway_timeout" : "bad_gateway", NULL,
                        "the REST API at %s %s: %s", u->url, what, why);
}

void dash_proxy(tsa_http_req *r, const dash_upstream *u)
{
    /* The query string arrives raw; control characters or spaces in it
     * would split the request line. */
    if (r->query)
        for (const unsigned char *q = (const unsigned char *)r->query; *q; q++)
            if (*q <= 0x20 || *q == 0x7f) {
                tsa_http_send_error(r, 400, "invalid_request", NULL, "the query string holds a control character or space");
                return;
            }

    sbuf req = {0};
    sbuf_printf(&req, "%s ", r->method);
    add_encoded_path(&req, u->prefix);
    add_encoded_path(&req, r->path);
    if (r->query && *r->query)
        sbuf_printf(&req, "?%s", r->query);
    int v6 = strchr(u->host, ':') != NULL;
    sbuf_printf(&req, " HTTP/1.1\r\nHost: %s%s%s%s%s\r\nConnection: close\r\nX-Request-Id: %s\r\n",
                v6 ? "[" : "", u->host, v6 ? "]" : "", strcmp(u->port, "80") ? ":" : "",
                strcmp(u->port, "80") ? u->port : "", r->request_id);
    static const char *const forwarded[] = {"Content-Type", "Accept", "Authorization", "Accept-Language"};
    for (size_t i = 0; i < sizeof forwarded / sizeof forwarded[0]; i++) {
        const char *v = tsa_http_header(r, forwarded[i]);
        if (v)
            sbuf_printf(&req, "%s: %s\r\n", forwarded[i], v);
    }
    const struct mg_request_info *ri = mg_get_request_info(r->conn);
    if (ri && *ri->remote_addr)
        sbuf_printf(&req, "X-Forwarded-For: %s\r\n", ri->remote_addr);
    const char *host = tsa_http_header(r, "Host");
    if (host)
        sbuf_printf(&req, "X-Forwarded-Host: %s\r\n", host);
    if (r->body_len || strcmp(r->method, "GET") != 0)
        sbuf_printf(&req, "Content-Length: %zu\r\n", r->body_len);
    sbuf_add(&req, "\r\n", 2);
    if (req.oom) {
        free(req.p);
        tsa_http_send_error(r, 500, "internal", NULL, "out of memory building the upstream request");
        return;
    }

    char err[400] = "";
    double deadline = tsa_now() + u->timeout_ms / 1000.0;
    double connect_deadline = tsa_now() + u->connect_timeout_ms / 1000.0;
    if (connect_deadline > deadline)
        connect_deadline = deadline;
    int fd = connect_upstream(u, connect_deadline, err, sizeof err);
    if (fd < 0) {
        free(req.p);
        fail(r, u, 502, "bad_gateway", err);
        return;
    }
    if (send_all(fd, req.p, req.len, deadline) != 0 ||
        (r->body_len && send_all(fd, r->body, r->body_len, deadline) != 0)) {
        int timed_out = errno == ETIMEDOUT;
        snprintf(err, sizeof err, "sending the request failed: %s", strerror(errno));
        free(req.p);
        close(fd);
        fail(r, u, timed_out ? 504 : 502, timed_out ? "gateway_timeout" : "bad_gateway", err);
        return;
    }
    free(req.p);

    /* Read the answer: the head first, then the body by its length, to the
     * end of a chunked body, or to the close (the request asked for one). */
    sbuf in = {0};
    upstream_answer a;
    int have_head = 0, status = 0;
    const char *kind = "bad_gateway";
    size_t limit = HEAD_LIMIT + u->max_response;
    for (;;) {
        if (have_head) {
            size_t body = in.len - a.head_len;
            if (no_body(r->method, a.status))
                break;
            if (!a.chunked && a.content_length >= 0 && body >= (size_t)a.content_length)
                break;
            if (a.chunked && body >= 5 && !memcmp(in.p + in.len - 5, "0\r\n\r\n", 5) &&
                chunked_complete(in.p + a.head_len, body))
                break;
        }
        if (in.len >= limit) {
            snprintf(err, sizeof err, "the answer is larger than %zu bytes", u->max_response);
            status = 502;
            kind = "bad_gateway_answer";
            break;
        }
        if (sbuf_reserve(&in, 65536) != 0) {
            snprintf(err, sizeof err, "out of memory reading the answer");
            status = 502;
            break;
        }
        struct pollfd p = {fd, POLLIN, 0};
        int pr = poll(&p, 1, left_ms(deadline));
        if (pr == 0) {
            snprintf(err, sizeof err, "no complete answer within %d ms", u->timeout_ms);
            status = 504;
            kind = "gateway_timeout";
            break;
        }
        ssize_t got = pr > 0 ? recv(fd, in.p + in.len, in.cap - in.len - 1, 0) : -1;
        if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
            continue;
        if (got < 0) {
            snprintf(err, sizeof err, "reading the answer failed: %s", strerror(errno));
            status = 502;
            break;
        }
        if (got == 0) { /* closed */
            if (!have_head) {
                snprintf(err, sizeof err, in.len ? "the answer ended inside its headers" : "the connection closed without an answer");
                status = 502;
                if (in.len)
                    kind = "bad_gateway_answer";
            } else if (!a.chunked && a.content_length >= 0 && in.len - a.head_len < (size_t)a.content_length) {
                snprintf(err, sizeof err, "the answer ended after %zu of %lld body bytes", in.len - a.head_len, a.content_length);
                status = 502;
                kind = "bad_gateway_answer";
            }
            break;
        }
        in.len += (size_t)got;
        in.p[in.len] = '\0';
        if (!have_head) {
            char *sep = strstr(in.p, "\r\n\r\n");
            if (!sep && in.len > HEAD_LIMIT) {
                snprintf(err, sizeof err, "the answer's headers exceed %u bytes", HEAD_LIMIT);
                status = 502;
                kind = "bad_gateway_answer";
                break;
            }
            if (sep) {
                size_t head_len = (size_t)(sep - in.p) + 4;
                char saved = in.p[head_len];
                in.p[head_len] = '\0';
                int bad = parse_head(in.p, head_len, &a);
                in.p[head_len] = saved;
                if (bad) {
                    snprintf(err, sizeof err, "the answer is not HTTP/1.x");
                    status = 502;
                    kind = "bad_gateway_answer";
                    break;
                }
                if (a.content_length > (long long)u->max_response) {
                    snprintf(err, sizeof err, "the answer of %lld bytes is larger than %zu bytes", a.content_length,
                             u->max_response);
                    status = 502;
                    kind = "bad_gateway_answer";
                    break;
                }
                have_head = 1;
            }
        }
    }
    close(fd);
    if (status) {
        free(in.p);
        fail(r, u, status, kind, err);
        return;
    }
    char *body = in.p + a.head_len;
    size_t body_len = no_body(r->method, a.status) ? 0 : in.len - a.head_len;
    if (!a.chunked && a.content_length >= 0 && body_len > (size_t)a.content_length)
        body_len = (size_t)a.content_length;
    if (a.chunked && body_len) {
        long long n = dechunk(body, body_len);
        if (n < 0) {
            free(in.p);
            fail(r, u, 502, "bad_gateway_answer", "the chunked answer is malformed or cut short");
            return;
        }
        body_len = (size_t)n;
    }
    tsa_http_send(r, a.status, *a.content_type ? a.content_type : "application/octet-stream",
                  *a.extra ? a.extra : NULL, body, body_len);
    free(in.p);
}
