/* CivetWeb-based HTTP server with a route table (see http.h). */
#include "http.h"

#include <civetweb.h>
#include <ctype.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "json_fast.h"
#include "metrics.h"
#include "ratelimit.h"

typedef struct route {
    char *method;
    char *pattern;
    char **segments;
    size_t n_segments;
    tsa_http_handler fn;
    void *user;
    const char *role; /* NULL: public */
    const char *rate_class; /* NULL: derived (see route_class) */
} route;


/* ---- time, ids, logs ---------------------------------------------------- */

double tsa_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

int64_t tsa_unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tsa_uuid(char out[37])
{
    unsigned char b[16];
    /* One system call; /dev/urandom only where getrandom is missing. */
    ssize_t got = getrandom(b, sizeof b, 0);
    if (got != (ssize_t)sizeof b) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        got = fd >= 0 ? read(fd, b, sizeof b) : -1;
        if (fd >= 0)
            close(fd);
    }
    if (got != (ssize_t)sizeof b) { /* fall back to time and address entropy */
        uint64_t x = (uint64_t)tsa_unix_ms() ^ (uint64_t)(uintptr_t)&got ^ ((uint64_t)getpid() << 32);
        for (int i = 0; i < 16; i++) {
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            b[i] = (unsigned char)(x >> 56);
        }
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    /* 8-4-4-4-12 hex digits (snprintf with 16 conversions takes a slow
     * path through malloc in glibc). */
    static const char hex[] = "0123456789abcdef";
    char *o = out;
    for (int i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            *o++ = '-';
        *o++ = hex[b[i] >> 4];
        *o++ = hex[b[i] & 15];
    }
    *o = '\0';
}

static int log_threshold = 1; /* 0 debug, 1 info, 2 warn, 3 error; set once at start-up */

static int level_rank(const char *level)
{
    if (!strcmp(level, "debug"))
        return 0;
    if (!strcmp(level, "warn"))
        return 2;
    if (!strcmp(level, "error"))
        return 3;
    return 1;
}

void tsa_log_set_level(const char *level) { log_threshold = level_rank(level ? level : "info"); }

/* Writes one log line: the fixed keys, @fields' members, then @more (text
 * of further members, each starting with a comma). One write per line keeps
 * lines whole across threads. */
static void log_write(const char *service, const char *level, const char *msg, const cJSON *fields,
                      const char *more, size_t more_len)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    /* YYYY-MM-DDTHH:MM:SS.mmmZ by hand: snprintf costs more than the rest of the line. */
    char ts[32];
    const int parts[] = {tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                         tm.tm_min,         tm.tm_sec,     (int)(now.tv_nsec / 1000000)};
    const int widths[] = {4, 2, 2, 2, 2, 2, 3};
    const char seps[] = "--T::.Z";
    char *o = ts;
    for (int i = 0; i < 7; i++) {
        int v = parts[i] < 0 ? 0 : parts[i];
        for (int k = widths[i] - 1; k >= 0; k--) {
            o[k] = (char)('0' + v % 10);
            v /= 10;
        }
        o += widths[i];
        *o++ = seps[i];
    }
    *o = '\0';
    tsa_jbuf b = {0};
    tsa_jbuf_raw(&b, "{\"ts\":", 6);
    tsa_jbuf_str(&b, ts);
    tsa_jbuf_raw(&b, ",\"level\":", 9);
    tsa_jbuf_str(&b, level);
    tsa_jbuf_raw(&b, ",\"service\":", 11);
    tsa_jbuf_str(&b, service ? service : "tsa");
    tsa_jbuf_raw(&b, ",\"msg\":", 7);
    tsa_jbuf_str(&b, msg);
    for (const cJSON *it = fields ? fields->child : NULL; it; it = it->next) {
        char *v = tsa_json_print(it);
        if (!v)
            continue;
        tsa_jbuf_raw(&b, ",", 1);
        tsa_jbuf_str(&b, it->string);
        tsa_jbuf_raw(&b, ":", 1);
        tsa_jbuf_raw(&b, v, strlen(v));
        free(v);
    }
    if (more_len)
        tsa_jbuf_raw(&b, more, more_len);
    tsa_jbuf_raw(&b, "}\n", 2);
    if (!b.oom) {
        ssize_t w = write(STDERR_FILENO, b.s, b.len);
        (void)w;
    }
    free(b.s);
}

void tsa_log(const char *service, const char *level, const char *msg, cJSON *fields)
{
    if (level_rank(level) >= log_threshold)
        log_write(service, level, msg, fields, NULL, 0);
    cJSON_Delete(fields);
}


/* ---- handler stacks --------------------------------------------------------
 * CivetWeb's worker threads have small stacks (Debian builds them with
 * 100 KiB), too small for GSL, OpenBLAS and deep JSON. Handlers run on an
 * 8 MiB stack that belongs to the worker thread, entered with swapcontext:
 * the request stays on its thread, with no hand-off to another thread, no
 * shared queue lock and no context switch per request. The stack is mapped
 * once per worker (pages are committed as they are touched, behind a guard
 * page) and unmapped when the worker exits. */

static int rate_limit(struct tsa_http_server *s, const route *r, tsa_http_req *req);

#define HANDLER_STACK_BYTES (8u << 20)

typedef struct handler_stack {
    void *map;
    size_t map_len;
    ucontext_t fresh; /* the thread's context, the template of each callee */
    ucontext_t caller, callee;
    route *r;
    tsa_http_req *req;
} handler_stack;

static pthread_key_t stack_key;
static pthread_once_t stack_once = PTHREAD_ONCE_INIT;

static void stack_free(void *arg)
{
    handler_stack *hs = arg;
    munmap(hs->map, hs->map_len);
    free(hs);
}

/* Apart so that no local lives across getcontext's return. */
static int context_init(ucontext_t *uc) { return getcontext(uc); }

static void stack_key_init(void) { pthread_key_create(&stack_key, stack_free); }

static handler_stack *stack_get(void)
{
    pthread_once(&stack_once, stack_key_init);
    handler_stack *hs = pthread_getspecific(stack_key);
    if (hs)
        return hs;
    hs = calloc(1, sizeof *hs);
    if (!hs)
        return NULL;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    hs->map_len = HANDLER_STACK_BYTES + page;
    hs->map = mmap(NULL, hs->map_len, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (hs->map == MAP_FAILED || mprotect(hs->map, page, PROT_NONE) != 0 ||
        context_init(&hs->fresh) != 0 || pthread_setspecific(stack_key, hs) != 0) {
        if (hs->map != MAP_FAILED)
            munmap(hs->map, hs->map_len);
        free(hs);
        return NULL;
    }
    return hs;
}

static void stack_entry(void)
{
    handler_stack *hs = pthread_getspecific(stack_key);
    /* The rate limit may talk to Redis, which needs more stack than
     * CivetWeb's threads have: it runs here too. */
    if (rate_limit(hs->req->server, hs->r, hs->req) == 0)
        hs->r->fn(hs->req, hs->r->user);
    /* Back to the worker's own stack; this context is made afresh next time. */
    swapcontext(&hs->callee, &hs->caller);
}

/* Runs @r's handler for @req on the calling thread's handler stack; -1 when
 * no stack can be had (out of memory). */
static int run_handler(route *r, tsa_http_req *req)
{
    handler_stack *hs = stack_get();
    if (!hs)
        return -1;
    hs->callee = hs->fresh;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    hs->callee.uc_stack.ss_sp = (char *)hs->map + page;
    hs->callee.uc_stack.ss_size = hs->map_len - page;
    hs->callee.uc_link = NULL;
    hs->r = r;
    hs->req = req;
    makecontext(&hs->callee, stack_entry, 0);
    if (swapcontext(&hs->caller, &hs->callee) != 0)
        return -1;
    hs->r = NULL;
    hs->req = NULL;
    return 0;
}

struct tsa_http_server {
    tsa_http_config cfg;
    char *service;
    char *host;
    char *cors;
    route *routes;
    size_t n_routes;
    struct mg_context *ctx;
    int port;
};

/* ---- server -------------------------------------------------------------- */

static pthread_once_t mg_once = PTHREAD_ONCE_INIT;
static void mg_init_once(void) { mg_init_library(0); }

static char *dupstr(const char *s) { return s ? strdup(s) : NULL; }

int tsa_http_create(const tsa_http_config *cfg, tsa_http_server **out)
{
    pthread_once(&mg_once, mg_init_once);
    tsa_http_server *s = calloc(1, sizeof *s);
    if (!s)
        return -1;
    s->cfg = *cfg;
    s->service = dupstr(cfg->service ? cfg->service : "tsa");
    s->host = dupstr(cfg->host ? cfg->host : "127.0.0.1");
    s->cors = dupstr(cfg->cors_origins ? cfg->cors_origins : "");
    s->cfg.service = s->service;
    s->cfg.host = s->host;
    s->cfg.cors_origins = s->cors;
    if (!s->cfg.max_body)
        s->cfg.max_body = 32u << 20;
    if (s->cfg.threads <= 0)
        s->cfg.threads = 16;
    if (s->cfg.request_timeout_ms <= 0)
        s->cfg.request_timeout_ms = 120000;
    *out = s;
    return 0;
}

int tsa_http_route_role(tsa_http_server *s, const char *method, const char *pattern, const char *role,
                        tsa_http_handler fn, void *user)
{
    return tsa_http_route_class(s, method, pattern, role, NULL, fn, user);
}

int tsa_http_route_class(tsa_http_server *s, const char *method, const char *pattern, const char *role,
                         const char *rate_class, tsa_http_handler fn, void *user)
{
    route *r = realloc(s->routes, (s->n_routes + 1) * sizeof *r);
    if (!r)
        return -1;
    s->routes = r;
    r = &s->routes[s->n_routes];
    memset(r, 0, sizeof *r);
    r->method = strdup(method);
    r->pattern = strdup(pattern);
    r->fn = fn;
    r->user = user;
    r->role = role;
    r->rate_class = rate_class;
    /* Split the pattern into segments once. */
    char *copy = strdup(pattern), *save = NULL;
    for (char *tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        r->segments = realloc(r->segments, (r->n_segments + 1) * sizeof *r->segments);
        r->segments[r->n_segments++] = strdup(tok);
    }
    free(copy);
    s->n_routes++;
    return 0;
}

int tsa_http_route(tsa_http_server *s, const char *method, const char *pattern, tsa_http_handler fn,
                   void *user)
{
    return tsa_http_route_role(s, method, pattern, "viewer", fn, user);
}

static int role_rank(const char *role)
{
    if (!role)
        return 0;
    if (!strcmp(role, "viewer"))
        return 1;
    if (!strcmp(role, "trainer"))
        return 2;
    if (!strcmp(role, "admin"))
        return 3;
    return 0;
}

/* Checks the caller's key against the route's role; sends 401/403/503 and
 * returns -1 when the request may not proceed. */
static int authorize(tsa_http_server *s, const route *r, tsa_http_req *req)
{
    if (!s->cfg.auth || !r->role)
        return 0;
    const char *h = mg_get_header(req->conn, "Authorization");
    if (!h || strncasecmp(h, "Bearer ", 7) != 0 || !h[7]) {
        tsa_http_send(req, 401, "application/json", "WWW-Authenticate: Bearer realm=\"libtsa\"\r\n",
                      "{\"error\":{\"code\":\"unauthorized\",\"message\":\"send an API key as Authorization: Bearer KEY\"}}",
                      strlen("{\"error\":{\"code\":\"unauthorized\",\"message\":\"send an API key as Authorization: Bearer KEY\"}}"));
        return -1;
    }
    int rc = s->cfg.auth(s->cfg.auth_user, h + 7, req->role, req->actor);
    if (rc == -2) {
        tsa_http_send_error(req, 503, "store_unavailable", NULL, "the key store is unavailable");
        return -1;
    }
    if (rc != 0) {
        tsa_http_send(req, 401, "application/json", "WWW-Authenticate: Bearer realm=\"libtsa\", error=\"invalid_token\"\r\n",
                      "{\"error\":{\"code\":\"unauthorized\",\"message\":\"unknown API key\"}}",
                      strlen("{\"error\":{\"code\":\"unauthorized\",\"message\":\"unknown API key\"}}"));
        return -1;
    }
    if (role_rank(req->role) < role_rank(r->role)) {
        tsa_http_send_error(req, 403, "forbidden", NULL, "this needs the %s role; the key has %s", r->role, req->role);
        return -1;
    }
    return 0;
}

/* Matches @path against @r; fills path parameters on success. */
static int match(const route *r, const char *path, tsa_http_req *req)
{
    size_t seg = 0, n_params = 0;
    const char *p = path;
    char *values[TSA_HTTP_MAX_PARAMS] = {0};
    while (*p) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (seg >= r->n_segments)
            goto fail;
        const char *want = r->segments[seg];
        if (want[0] == '{') {
            if (n_params >= TSA_HTTP_MAX_PARAMS)
                goto fail;
            values[n_params] = strndup(p, len);
            req->param_names[n_params] = want;
            n_params++;
        } else if (strlen(want) != len || strncmp(want, p, len) != 0) {
            goto fail;
        }
        seg++;
        p += len;
    }
    if (seg != r->n_segments)
        goto fail;
    for (size_t i = 0; i < n_params; i++)
        req->param_values[i] = values[i];
    req->n_params = n_params;
    return 1;
fail:
    for (size_t i = 0; i < n_params; i++)
        free(values[i]);
    return 0;
}

const char *tsa_http_param(const tsa_http_req *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < r->n_params; i++) {
        const char *pn = r->param_names[i]; /* "{name}" */
        if (strlen(pn) == n + 2 && strncmp(pn + 1, name, n) == 0)
            return r->param_values[i];
    }
    return NULL;
}

const char *tsa_http_header(const tsa_http_req *r, const char *name)
{
    return mg_get_header(r->conn, name);
}

const char *tsa_http_query(const tsa_http_req *r, const char *name, char *buf, size_t len)
{
    if (!r->query)
        return NULL;
    int n = mg_get_var(r->query, strlen(r->query), name, buf, len);
    return n >= 0 ? buf : NULL;
}

static const char *status_text(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Status";
    }
}

void tsa_http_send(tsa_http_req *r, int status, const char *content_type, const char *extra_headers,
                   const void *data, size_t len)
{
    if (r->status) /* already answered */
        return;
    r->status = status;
    /* Headers get 2 KiB; a small body follows them in the same buffer. The
     * buffer stays modest: errors are sent from CivetWeb's small stack. */
    enum { HEAD_MAX = 2048 };
    char head[HEAD_MAX + 6144];
    int n = snprintf(head, HEAD_MAX,
                     "HTTP/1.1 %d %s\r\n"
                     "Content-Type: %s\r\n"
                     "Content-Length: %zu\r\n"
                     "X-Request-Id: %s\r\n"
                     "Cache-Control: no-store\r\n"
                     "X-Content-Type-Options: nosniff\r\n"
                     "%s%s\r\n",
                     status, status_text(status), content_type, len, r->request_id, r->cors_headers,
                     extra_headers ? extra_headers : "");
    if (n < 0 || n >= HEAD_MAX)
        n = snprintf(head, HEAD_MAX, "HTTP/1.1 %d %s\r\nContent-Length: %zu\r\n\r\n", status,
                     status_text(status), len);
    if (!len || strcmp(r->method, "HEAD") == 0) {
        mg_write(r->conn, head, (size_t)n);
    } else if (len <= sizeof head - (size_t)n) {
        /* Small responses go out in one send: with TCP_NODELAY, two would
         * be two packets and two wake-ups of the client. */
        memcpy(head + n, data, len);
        mg_write(r->conn, head, (size_t)n + len);
    } else {
        mg_write(r->conn, head, (size_t)n);
        mg_write(r->conn, data, len);
    }
    r->bytes_sent = len;
}

void tsa_http_sse_begin(tsa_http_req *r, const char *extra_headers)
{
    if (r->status)
        return;
    r->status = 200;
    char head[2048];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 200 OK\r\n"
                     "Content-Type: text/event-stream\r\n"
                     "Cache-Control: no-cache, no-store\r\n"
                     "Transfer-Encoding: chunked\r\n"
                     "X-Request-Id: %s\r\n"
                     "%s%s\r\n",
                     r->request_id, r->cors_headers, extra_headers ? extra_headers : "");
    if (n > 0 && (size_t)n < sizeof head)
        mg_write(r->conn, head, (size_t)n);
}

int tsa_http_sse_event(tsa_http_req *r, const char *id, const char *data)
{
    size_t len = strlen(data) + (id ? strlen(id) : 0) + 40;
    char *buf = malloc(len);
    if (!buf)
        return -1;
    int n = id ? snprintf(buf, len, "event: message\nid: %s\ndata: %s\n\n", id, data)
               : snprintf(buf, len, "event: message\ndata: %s\n\n", data);
    int rc = -1;
    if (n > 0 && mg_send_chunk(r->conn, buf, (unsigned)n) > 0) {
        r->bytes_sent += (size_t)n;
        rc = 0;
    }
    free(buf);
    return rc;
}

void tsa_http_sse_end(tsa_http_req *r) { mg_send_chunk(r->conn, "", 0); }

void tsa_http_send_json_headers(tsa_http_req *r, int status, cJSON *body, const char *extra_headers)
{
    char *s = body ? tsa_json_print(body) : NULL;
    cJSON_Delete(body);
    if (!s) {
        static const char oom[] = "{\"error\":{\"code\":\"internal\",\"message\":\"out of memory\"}}";
        tsa_http_send(r, 500, "application/json", NULL, oom, sizeof oom - 1);
        return;
    }
    tsa_http_send(r, status, "application/json", extra_headers, s, strlen(s));
    free(s);
}

void tsa_http_send_json(tsa_http_req *r, int status, cJSON *body)
{
    tsa_http_send_json_headers(r, status, body, NULL);
}

void tsa_http_send_error(tsa_http_req *r, int status, const char *code, const char *field,
                         const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", code);
    cJSON_AddStringToObject(e, "message", msg);
    if (field)
        cJSON_AddStringToObject(e, "field", field);
    cJSON_AddStringToObject(e, "request_id", r->request_id);
    tsa_http_send_json(r, status, o);
}

cJSON *tsa_http_parse_json(tsa_http_req *r)
{
    if (r->body_len == 0) {
        tsa_http_send_error(r, 400, "invalid_json", NULL, "request body is empty; send a JSON object");
        return NULL;
    }
    cJSON *j = tsa_json_parse_fast(r->body, r->body_len);
    if (j)
        return j;
    /* Outside the fast parser's subset, or invalid: cJSON decides, and
     * names where it stopped. */
    const char *end = NULL;
    j = cJSON_ParseWithLengthOpts(r->body, r->body_len, &end, 0);
    if (!j) {
        size_t at = end && end >= r->body ? (size_t)(end - r->body) : 0;
        tsa_http_send_error(r, 400, "invalid_json", NULL, "malformed JSON near byte %zu", at);
        return NULL;
    }
    /* Only whitespace may follow the value. */
    for (const char *p = end; p && p < r->body + r->body_len; p++)
        if (!isspace((unsigned char)*p)) {
            cJSON_Delete(j);
            tsa_http_send_error(r, 400, "invalid_json", NULL,
                                "malformed JSON: unexpected data after the value at byte %zu",
                                (size_t)(p - r->body));
            return NULL;
        }
    return j;
}

/* Whether @origin is in the comma-separated allow-list. */
static int origin_allowed(const char *list, const char *origin)
{
    if (!list || !*list)
        return 0;
    if (!strcmp(list, "*"))
        return 1;
    size_t n = strlen(origin);
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > p && t[-1] == ' ')
            t--;
        if ((size_t)(t - p) == n && strncmp(p, origin, n) == 0)
            return 1;
        p = e;
    }
    return 0;
}

static int valid_request_id(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 36)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
            return 0;
    return 1;
}

static void finish_request(tsa_http_server *s, tsa_http_req *req, const char *route_label)
{
    double dt = tsa_now() - req->t_start;
    if (s->cfg.metrics)
        tsa_metrics_observe_request(s->cfg.metrics, route_label, req->status, dt);
    const char *level = req->status >= 500 ? "error" : "info";
    if (s->cfg.log_requests && level_rank(level) >= log_threshold) {
        /* Written directly: building a cJSON object per request costs more
         * than the rest of the line. */
        const struct mg_request_info *ri = mg_get_request_info(req->conn);
        tsa_jbuf b = {0};
        tsa_jbuf_raw(&b, ",\"request_id\":", 14);
        tsa_jbuf_str(&b, req->request_id);
        tsa_jbuf_raw(&b, ",\"method\":", 10);
        tsa_jbuf_str(&b, req->method);
        tsa_jbuf_raw(&b, ",\"path\":", 8);
        tsa_jbuf_str(&b, req->path);
        tsa_jbuf_raw(&b, ",\"route\":", 9);
        tsa_jbuf_str(&b, route_label);
        tsa_jbuf_raw(&b, ",\"status\":", 10);
        tsa_jbuf_double(&b, req->status);
        tsa_jbuf_raw(&b, ",\"duration_ms\":", 15);
        tsa_jbuf_double(&b, dt * 1000.0);
        tsa_jbuf_raw(&b, ",\"bytes\":", 9);
        tsa_jbuf_double(&b, (double)req->bytes_sent);
        tsa_jbuf_raw(&b, ",\"remote\":", 10);
        tsa_jbuf_str(&b, ri->remote_addr);
        if (!b.oom)
            log_write(s->service, level, "request", NULL, b.s, b.len);
        free(b.s);
    }
    for (size_t i = 0; i < req->n_params; i++)
        free(req->param_values[i]);
    free(req->body);
}

/* The rate-limit class of a route: as registered, else "write" for what
 * needs more than a viewer, "read" for GET, "compute" for the rest. */
static const char *route_class(const route *r, const char *method)
{
    if (r->rate_class)
        return r->rate_class;
    if (role_rank(r->role) >= 2)
        return "write";
    if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        return "read";
    return "compute";
}

/* Counts the request against the caller's budget; sends 429 and returns -1
 * when it is spent. Public routes are never limited. */
static int rate_limit(tsa_http_server *s, const route *r, tsa_http_req *req)
{
    if (!s->cfg.ratelimit || !r->role)
        return 0;
    char who[160];
    if (*req->actor)
        snprintf(who, sizeof who, "key:%s", req->actor);
    else
        snprintf(who, sizeof who, "addr:%s", mg_get_request_info(req->conn)->remote_addr);
    const char *cls = route_class(r, req->method);
    long limit = 0;
    int retry = 0;
    if (tsa_ratelimit_check(s->cfg.ratelimit, cls, who, &limit, &retry) == 0)
        return 0;
    char msg[256], hdr[64];
    snprintf(msg, sizeof msg,
             "rate limit exceeded: %ld %s requests per minute for this %s; retry in %d s", limit, cls,
             *req->actor ? "API key" : "client address", retry);
    snprintf(hdr, sizeof hdr, "Retry-After: %d\r\n", retry);
    cJSON *o = cJSON_CreateObject();
    cJSON *e = cJSON_AddObjectToObject(o, "error");
    cJSON_AddStringToObject(e, "code", "rate_limited");
    cJSON_AddStringToObject(e, "message", msg);
    cJSON_AddStringToObject(e, "request_id", req->request_id);
    tsa_http_send_json_headers(req, 429, o, hdr);
    return -1;
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
    tsa_http_server *s = cbdata;
    const struct mg_request_info *ri = mg_get_request_info(conn);
    tsa_http_req req;
    memset(&req, 0, sizeof req);
    req.conn = conn;
    req.server = s;
    req.server_user = s->cfg.user;
    req.t_start = tsa_now();
    req.method = ri->request_method;
    req.path = ri->local_uri ? ri->local_uri : "/";
    req.query = ri->query_string;
    const char *rid = mg_get_header(conn, "X-Request-Id");
    if (rid && valid_request_id(rid))
        snprintf(req.request_id, sizeof req.request_id, "%s", rid);
    else
        tsa_uuid(req.request_id);

    const char *origin = mg_get_header(conn, "Origin");
    if (origin && origin_allowed(s->cfg.cors_origins, origin) && strlen(origin) < 256)
        snprintf(req.cors_headers, sizeof req.cors_headers,
                 "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\n"
                 "Access-Control-Expose-Headers: X-Request-Id, Mcp-Session-Id\r\n",
                 origin);

    /* Route first, so unknown paths answer 404 without reading bodies. */
    route *found = NULL;
    int path_matched = 0;
    const char *matched_pattern = NULL; /* the metrics label for a 405: never the raw path */
    char allow[128] = "";
    for (size_t i = 0; i < s->n_routes; i++) {
        route *r = &s->routes[i];
        tsa_http_req probe = req;
        probe.n_params = 0;
        if (!match(r, req.path, &probe))
            continue;
        for (size_t k = 0; k < probe.n_params; k++)
            free(probe.param_values[k]);
        path_matched = 1;
        if (!matched_pattern)
            matched_pattern = r->pattern;
        if (strlen(allow) + strlen(r->method) + 3 < sizeof allow) {
            if (*allow)
                strcat(allow, ", ");
            strcat(allow, r->method);
        }
        if (!strcmp(r->method, "*") || !strcmp(r->method, req.method) ||
            (!strcmp(req.method, "HEAD") && !strcmp(r->method, "GET"))) {
            found = r;
            break;
        }
    }
    const char *label = found ? found->pattern : (path_matched ? matched_pattern : "unmatched");

    if (!strcmp(req.method, "OPTIONS") && origin && !found) {
        char hdr[512];
        snprintf(hdr, sizeof hdr,
                 "Access-Control-Allow-Methods: %s, OPTIONS\r\n"
                 "Access-Control-Allow-Headers: Content-Type, Authorization, X-Request-Id, "
                 "Mcp-Session-Id, MCP-Protocol-Version, A2A-Version, Last-Event-ID\r\n"
                 "Access-Control-Max-Age: 600\r\n",
                 *allow ? allow : "GET, POST");
        /* An origin off the list gets 403 and no CORS header at all. */
        tsa_http_send(&req, *req.cors_headers ? 204 : 403, "text/plain", *req.cors_headers ? hdr : NULL, "", 0);
        finish_request(s, &req, path_matched ? label : "unmatched");
        return 1;
    }
    if (!found) {
        if (path_matched) {
            char hdr[200];
            snprintf(hdr, sizeof hdr, "Allow: %s\r\n", allow);
            char msg[300];
            snprintf(msg, sizeof msg,
                     "{\"error\":{\"code\":\"method_not_allowed\",\"message\":\"%s is not allowed on "
                     "this path; allowed: %s\"}}",
                     req.method, allow);
            tsa_http_send(&req, 405, "application/json", hdr, msg, strlen(msg));
        } else {
            tsa_http_send_error(&req, 404, "not_found", NULL, "no such endpoint: %s %s", req.method,
                                req.path);
        }
        finish_request(s, &req, label);
        return 1;
    }

    /* Bounded body. */
    long long declared = ri->content_length;
    if (declared > (long long)s->cfg.max_body) {
        tsa_http_send_error(&req, 413, "payload_too_large", NULL,
                            "request body of %lld bytes exceeds the limit of %zu bytes", declared,
                            s->cfg.max_body);
        finish_request(s, &req, label);
        return 1;
    }
    size_t cap = declared > 0 ? (size_t)declared + 1 : 4096, len = 0;
    req.body = malloc(cap);
    int too_large = 0;
    while (req.body) {
        if (len + 1 >= cap) {
            if (cap > s->cfg.max_body + 1) {
                too_large = 1;
                break;
            }
            char *bigger = realloc(req.body, cap * 2);
            if (!bigger)
                break;
            req.body = bigger;
            cap *= 2;
        }
        int n = mg_read(conn, req.body + len, cap - len - 1);
        if (n <= 0)
            break;
        len += (size_t)n;
        if (len > s->cfg.max_body) {
            too_large = 1;
            break;
        }
        if (declared > 0 && len >= (size_t)declared)
            break; /* all there: no read (and no doubling of the buffer) to find the end */
    }
    if (!req.body) {
        tsa_http_send_error(&req, 500, "internal", NULL, "out of memory reading the request");
        finish_request(s, &req, label);
        return 1;
    }
    req.body[len] = '\0';
    req.body_len = len;
    if (too_large) {
        tsa_http_send_error(&req, 413, "payload_too_large", NULL,
                            "request body exceeds the limit of %zu bytes", s->cfg.max_body);
        finish_request(s, &req, label);
        return 1;
    }

    match(found, req.path, &req);
    req.route = found->pattern;
    if (authorize(s, found, &req) != 0) {
        finish_request(s, &req, label);
        return 1;
    }
    if (run_handler(found, &req) != 0)
        tsa_http_send_error(&req, 503, "out_of_memory", NULL, "no memory to run the request");
    if (!req.status)
        tsa_http_send_error(&req, 500, "internal", NULL, "the handler sent no response");
    finish_request(s, &req, label);
    return 1;
}

int tsa_http_start(tsa_http_server *s, char *err, size_t err_len)
{
    char ports[128], threads[16], timeout[16];
    if (strchr(s->host, ':')) /* IPv6 literal */
        snprintf(ports, sizeof ports, "[%s]:%d", s->host, s->cfg.port);
    else
        snprintf(ports, sizeof ports, "%s:%d", s->host, s->cfg.port);
    snprintf(threads, sizeof threads, "%d", s->cfg.threads);
    snprintf(timeout, sizeof timeout, "%d", s->cfg.request_timeout_ms);
    const char *options[] = {"listening_ports", ports,        "num_threads",        threads,
                             "request_timeout_ms", timeout,   "enable_keep_alive",  "yes",
                             "keep_alive_timeout_ms", "30000", "tcp_nodelay",       "1",
                             /* No built-in CORS: CivetWeb would answer every
                              * preflight with "Allow-Origin: *"; dispatch
                              * answers them from the allow-list. */
                             "access_control_allow_origin", "",
                             NULL};
    struct mg_callbacks cb;
    memset(&cb, 0, sizeof cb);
    struct mg_init_data init;
    memset(&init, 0, sizeof init);
    init.callbacks = &cb;
    init.user_data = s;
    init.configuration_options = options;
    char text[256] = "";
    struct mg_error_data ed;
    memset(&ed, 0, sizeof ed);
    ed.text = text;
    ed.text_buffer_size = sizeof text;
    s->ctx = mg_start2(&init, &ed);
    if (!s->ctx) {
        snprintf(err, err_len, "cannot listen on %s: %s", ports,
                 *text ? text : "address in use or not available");
        return -1;
    }
    mg_set_request_handler(s->ctx, "/", dispatch, s);
    struct mg_server_port sp[4];
    int n = mg_get_server_ports(s->ctx, 4, sp);
    s->port = n > 0 ? sp[0].port : s->cfg.port;
    return 0;
}

int tsa_http_port(const tsa_http_server *s) { return s->port; }

void tsa_http_destroy(tsa_http_server *s)
{
    if (!s)
        return;
    if (s->ctx)
        mg_stop(s->ctx);
    for (size_t i = 0; i < s->n_routes; i++) {
        route *r = &s->routes[i];
        for (size_t k = 0; k < r->n_segments; k++)
            free(r->segments[k]);
        free(r->segments);
        free(r->method);
        free(r->pattern);
    }
    free(s->routes);
    free(s->service);
    free(s->host);
    free(s->cors);
    free(s);
}
