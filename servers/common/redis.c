/* The optional Redis connection pool (see redis.h). */
#include "redis.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifdef TSA_HAVE_HIREDIS
#include <hiredis/hiredis.h>
#endif

#include "http.h"
#include "metrics.h"

#define POOL_MAX 8
#define CONNECT_TIMEOUT_MS 250
#define COMMAND_TIMEOUT_MS 250
#define BACKOFF_FIRST 0.25
#define BACKOFF_MAX 5.0
#define POOL_WAIT_MS 50 /* how long a request waits for a busy pool */

/* ---- URL --------------------------------------------------------------------------- */

static int unescape(const char *s, size_t n, char *out, size_t cap)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            if (!isxdigit((unsigned char)s[i + 1]) || !isxdigit((unsigned char)s[i + 2]))
                return -1;
            char hex[3] = {s[i + 1], s[i + 2], 0};
            c = (int)strtol(hex, NULL, 16);
            i += 2;
        }
        if (k + 1 >= cap)
            return -1;
        out[k++] = (char)c;
    }
    out[k] = '\0';
    return 0;
}

int tsa_redis_parse_url(const char *url, tsa_redis_url *out, char *err, size_t err_len)
{
    memset(out, 0, sizeof *out);
    out->port = 6379;
    if (!url || !*url) {
        snprintf(err, err_len, "TSA_REDIS_URL: is empty");
        return -1;
    }
    if (!strncmp(url, "rediss://", 9)) {
        snprintf(err, err_len,
                 "TSA_REDIS_URL: rediss:// (TLS) needs hiredis built with TLS (hiredis_ssl), which "
                 "this build does not use; use redis:// on a private network or a TLS tunnel");
        return -1;
    }
    if (strncmp(url, "redis://", 8) != 0) {
        snprintf(err, err_len, "TSA_REDIS_URL: must start with redis:// (redis://[user:password@]host:port/db), got '%.100s'", url);
        return -1;
    }
    const char *p = url + 8;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    if (memchr(p, '?', (size_t)(end - p)) || (slash && strchr(slash, '?'))) {
        snprintf(err, err_len, "TSA_REDIS_URL: query parameters are not supported");
        return -1;
    }
    /* userinfo: up to the last '@' before the path */
    const char *at = NULL;
    for (const char *q = p; q < end; q++)
        if (*q == '@')
            at = q;
    if (at) {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (!colon) {
            snprintf(err, err_len, "TSA_REDIS_URL: a user needs a password (redis://user:password@host or redis://:password@host)");
            return -1;
        }
        if (unescape(p, (size_t)(colon - p), out->user, sizeof out->user) ||
            unescape(colon + 1, (size_t)(at - colon - 1), out->password, sizeof out->password)) {
            snprintf(err, err_len, "TSA_REDIS_URL: the user or password is too long or badly %%-escaped");
            return -1;
        }
        p = at + 1;
    }
    /* host[:port] */
    const char *host_end, *port_at = NULL;
    if (*p == '[') {
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) {
            snprintf(err, err_len, "TSA_REDIS_URL: unclosed '[' in the host");
            return -1;
        }
        host_end = close + 1;
        if (host_end < end && *host_end == ':')
            port_at = host_end + 1;
        else if (host_end != end) {
            snprintf(err, err_len, "TSA_REDIS_URL: unexpected text after the host");
            return -1;
        }
        p++;
        host_end = close;
    } else {
        const char *colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        if (colon)
            port_at = colon + 1;
    }
    size_t hl = (size_t)(host_end - p);
    if (hl == 0 || hl >= sizeof out->host) {
        snprintf(err, err_len, "TSA_REDIS_URL: the host is %s", hl ? "too long" : "missing");
        return -1;
    }
    memcpy(out->host, p, hl);
    out->host[hl] = '\0';
    if (port_at) {
        char buf[8];
        size_t pl = (size_t)(end - port_at);
        char *e;
        if (pl == 0 || pl >= sizeof buf) {
            snprintf(err, err_len, "TSA_REDIS_URL: the port must be an integer in [1, 65535]");
            return -1;
        }
        memcpy(buf, port_at, pl);
        buf[pl] = '\0';
        long v = strtol(buf, &e, 10);
        if (*e || v < 1 || v > 65535) {
            snprintf(err, err_len, "TSA_REDIS_URL: the port must be an integer in [1, 65535], got '%s'", buf);
            return -1;
        }
        out->port = (int)v;
    }
    if (slash && slash[1]) {
        char *e;
        errno = 0;
        long v = strtol(slash + 1, &e, 10);
        if (*e || errno || v < 0 || v > 100000 || !isdigit((unsigned char)slash[1])) {
            snprintf(err, err_len, "TSA_REDIS_URL: the database must be a number (redis://host:port/0), got '%.40s'", slash + 1);
            return -1;
        }
        out->db = (int)v;
    }
    return 0;
}

/* ---- pool -------------------------------------------------------------------------- */

struct tsa_redis {
    tsa_redis_url url;
    char service[64];
    tsa_metrics *metrics;
    pthread_mutex_t lock;
    pthread_cond_t freed;
    void *idle[POOL_MAX]; /* redisContext * */
    int n_idle;
    int n_open;
    _Atomic int up;
    double retry_at;
    double backoff;
    char last_error[512];
};

static void set_gauge(tsa_redis *r)
{
    tsa_metrics_set_gauge(r->metrics, "tsa_redis_up", "Whether Redis (TSA_REDIS_URL) is reachable.", NULL,
                          NULL, r->up ? 1 : 0);
}

/* Called with the lock held. */
static void mark_down(tsa_redis *r, const char *why)
{
    double now = tsa_now();
    snprintf(r->last_error, sizeof r->last_error, "%s", why);
    if (r->up) {
        r->up = 0;
        r->backoff = BACKOFF_FIRST;
        cJSON *f = cJSON_CreateObject();
        cJSON_AddStringToObject(f, "host", r->url.host);
        cJSON_AddNumberToObject(f, "port", r->url.port);
        cJSON_AddStringToObject(f, "error", why);
        tsa_log(r->service, "warn", "redis unavailable: serving without the shared cache and with local rate-limit counters", f);
        set_gauge(r);
    } else {
        r->backoff = r->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX : r->backoff * 2;
    }
    r->retry_at = now + r->backoff;
#ifdef TSA_HAVE_HIREDIS
    /* The idle connections most likely broke too. */
    for (int i = 0; i < r->n_idle; i++)
        redisFree(r->idle[i]);
    r->n_open -= r->n_idle;
    r->n_idle = 0;
#endif
}

static void mark_up(tsa_redis *r)
{
    if (r->up)
        return;
    r->up = 1;
    r->last_error[0] = '\0';
    cJSON *f = cJSON_CreateObject();
    cJSON_AddStringToObject(f, "host", r->url.host);
    cJSON_AddNumberToObject(f, "port", r->url.port);
    tsa_log(r->service, "info", "redis available", f);
    set_gauge(r);
}

const char *tsa_redis_state(const tsa_redis *r)
{
    if (!r)
        return "off";
    return r->up ? "ok" : "down";
}

void tsa_redis_last_error(tsa_redis *r, char *buf, size_t len)
{
    if (!r) {
        snprintf(buf, len, "%s", "");
        return;
    }
    pthread_mutex_lock(&r->lock);
    snprintf(buf, len, "%s", r->last_error);
    pthread_mutex_unlock(&r->lock);
}

#ifdef TSA_HAVE_HIREDIS

static struct timeval ms_tv(int ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    return tv;
}

/* A new connection, authenticated and on the right database; NULL and @why. */
static redisContext *connect_one(const tsa_redis_url *u, char *why, size_t why_len)
{
    redisContext *c = redisConnectWithTimeout(u->host, u->port, ms_tv(CONNECT_TIMEOUT_MS));
    if (!c || c->err) {
        snprintf(why, why_len, "cannot connect to %s:%d: %s", u->host, u->port,
                 c ? c->errstr : "out of memory");
        if (c)
            redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, ms_tv(COMMAND_TIMEOUT_MS));
    redisEnableKeepAlive(c);
    redisReply *rep = NULL;
    if (*u->password) {
        if (*u->user) {
            const char *argv[] = {"AUTH", u->user, u->password};
            rep = redisCommandArgv(c, 3, argv, NULL);
        } else {
            const char *argv[] = {"AUTH", u->password};
            rep = redisCommandArgv(c, 2, argv, NULL);
        }
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, why_len, "AUTH failed: %s", rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(rep);
    }
    if (u->db) {
        char db[16];
        snprintf(db, sizeof db, "%d", u->db);
        const char *argv[] = {"SELECT", db};
        rep = redisCommandArgv(c, 2, argv, NULL);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(why, why_len, "SELECT %d failed: %s", u->db, rep ? rep->str : c->errstr);
            if (rep)
                freeReplyObject(rep);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(rep);
    }
    return c;
}

/* A connection, or NULL right away when Redis is down and the backoff has
 * not passed, or after a short wait when every connection is busy. */
static redisContext *acquire(tsa_redis *r, int *reused)
{
    *reused = 0;
    pthread_mutex_lock(&r->lock);
    double deadline = tsa_now() + POOL_WAIT_MS / 1000.0;
    for (;;) {
        if (!r->up) {
            double now = tsa_now();
            if (now < r->retry_at) {
                pthread_mutex_unlock(&r->lock);
                return NULL;
            }
            /* This caller probes; the others keep skipping Redis meanwhile. */
            r->retry_at = now + r->backoff;
        }
        if (r->n_idle > 0) {
            redisContext *c = r->idle[--r->n_idle];
            *reused = 1;
            pthread_mutex_unlock(&r->lock);
            return c;
        }
        if (r->n_open < POOL_MAX) {
            r->n_open++;
            tsa_redis_url u = r->url;
            pthread_mutex_unlock(&r->lock);
            char why[512];
            redisContext *c = connect_one(&u, why, sizeof why);
            if (!c) {
                pthread_mutex_lock(&r->lock);
                r->n_open--;
                mark_down(r, why);
                pthread_cond_signal(&r->freed);
                pthread_mutex_unlock(&r->lock);
            }
            return c;
        }
        struct timespec ts;
        double left = deadline - tsa_now();
        if (left <= 0) {
            pthread_mutex_unlock(&r->lock);
            return NULL;
        }
        clock_gettime(CLOCK_REALTIME, &ts);
        long ns = ts.tv_nsec + (long)(left * 1e9);
        ts.tv_sec += ns / 1000000000L;
        ts.tv_nsec = ns % 1000000000L;
        pthread_cond_timedwait(&r->freed, &r->lock, &ts);
    }
}

/* Returns @c to the pool; a connection that failed is closed and Redis
 * counts as down until the backoff passes. */
static void release(tsa_redis *r, redisContext *c, const char *failure)
{
    pthread_mutex_lock(&r->lock);
    if (failure) {
        redisFree(c);
        r->n_open--;
        mark_down(r, failure);
    } else {
        mark_up(r);
        r->idle[r->n_idle++] = c;
    }
    pthread_cond_signal(&r->freed);
    pthread_mutex_unlock(&r->lock);
}

/* Closes a connection that failed without counting Redis as down. */
static void discard(tsa_redis *r, redisContext *c)
{
    redisFree(c);
    pthread_mutex_lock(&r->lock);
    r->n_open--;
    pthread_cond_signal(&r->freed);
    pthread_mutex_unlock(&r->lock);
}

/* Runs @n pipelined commands; the replies go to @out (free them). 0, or -1
 * when the connection failed (Redis then counts as down). A pooled
 * connection that fails (Redis restarted, or closed it when idle) gets one
 * retry on a new connection. */
static int run(tsa_redis *r, int n, int argc[], const char **argv[], const size_t *lens[],
               redisReply *out[])
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int reused;
        redisContext *c = acquire(r, &reused);
        if (!c)
            return -1;
        for (int i = 0; i < n; i++)
            out[i] = NULL;
        for (int i = 0; i < n; i++)
            redisAppendCommandArgv(c, argc[i], argv[i], lens[i]);
        int failed = 0;
        for (int i = 0; i < n && !failed; i++) {
            void *rep = NULL;
            if (redisGetReply(c, &rep) != REDIS_OK || !rep)
                failed = 1;
            else
                out[i] = rep;
        }
        if (!failed) {
            release(r, c, NULL);
            return 0;
        }
        for (int k = 0; k < n; k++)
            if (out[k])
                freeReplyObject(out[k]);
        if (reused && attempt == 0) {
            discard(r, c);
            continue;
        }
        char why[256];
        snprintf(why, sizeof why, "%s", c->errstr[0] ? c->errstr : "no reply");
        release(r, c, why);
        return -1;
    }
    return -1;
}

const char *tsa_redis_check(tsa_redis *r)
{
    if (!r)
        return "off";
    const char *argv[] = {"PING"};
    int argc[] = {1};
    const char **av[] = {argv};
    const size_t *lens[] = {NULL};
    redisReply *rep[1];
    if (run(r, 1, argc, av, lens, rep) == 0)
        freeReplyObject(rep[0]);
    pthread_mutex_lock(&r->lock);
    const char *s = tsa_redis_state(r);
    pthread_mutex_unlock(&r->lock);
    return s;
}

int tsa_redis_get(tsa_redis *r, const char *key, char **val, size_t *len)
{
    if (!r)
        return -1;
    const char *argv[] = {"GET", key};
    int argc[] = {2};
    const char **av[] = {argv};
    const size_t *lens[] = {NULL};
    redisReply *rep[1];
    if (run(r, 1, argc, av, lens, rep) != 0)
        return -1;
    int rc = -1;
    if (rep[0]->type == REDIS_REPLY_NIL) {
        rc = 0;
    } else if (rep[0]->type == REDIS_REPLY_STRING) {
        *val = malloc(rep[0]->len + 1);
        if (*val) {
            memcpy(*val, rep[0]->str, rep[0]->len);
            (*val)[rep[0]->len] = '\0';
            *len = rep[0]->len;
            rc = 1;
        }
    }
    freeReplyObject(rep[0]);
    return rc;
}

int tsa_redis_set(tsa_redis *r, const char *key, const void *val, size_t len, int ttl_s)
{
    if (!r)
        return -1;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s > 0 ? ttl_s : 1);
    const char *argv[] = {"SET", key, val, "EX", ttl};
    size_t lv[] = {3, strlen(key), len, 2, strlen(ttl)};
    int argc[] = {5};
    const char **av[] = {argv};
    const size_t *lens[] = {lv};
    redisReply *rep[1];
    if (run(r, 1, argc, av, lens, rep) != 0)
        return -1;
    int rc = rep[0]->type == REDIS_REPLY_STATUS ? 0 : -1;
    freeReplyObject(rep[0]);
    return rc;
}

int tsa_redis_incr(tsa_redis *r, const char *key, int ttl_s, long long *count)
{
    if (!r)
        return -1;
    char ttl[16];
    snprintf(ttl, sizeof ttl, "%d", ttl_s > 0 ? ttl_s : 1);
    const char *incr[] = {"INCR", key};
    const char *expire[] = {"EXPIRE", key, ttl};
    int argc[] = {2, 3};
    const char **av[] = {incr, expire};
    const size_t *lens[] = {NULL, NULL};
    redisReply *rep[2];
    if (run(r, 2, argc, av, lens, rep) != 0)
        return -1;
    int rc = -1;
    if (rep[0]->type == REDIS_REPLY_INTEGER) {
        *count = rep[0]->integer;
        rc = 0;
    }
    freeReplyObject(rep[0]);
    freeReplyObject(rep[1]);
    return rc;
}

static void close_all(tsa_redis *r)
{
    for (int i = 0; i < r->n_idle; i++)
        redisFree(r->idle[i]);
    r->n_idle = 0;
}

#else /* built without hiredis: configured Redis stays down */

const char *tsa_redis_check(tsa_redis *r) { return tsa_redis_state(r); }

int tsa_redis_get(tsa_redis *r, const char *key, char **val, size_t *len)
{
    (void)r, (void)key, (void)val, (void)len;
    return -1;
}

int tsa_redis_set(tsa_redis *r, const char *key, const void *val, size_t len, int ttl_s)
{
    (void)r, (void)key, (void)val, (void)len, (void)ttl_s;
    return -1;
}

int tsa_redis_incr(tsa_redis *r, const char *key, int ttl_s, long long *count)
{
    (void)r, (void)key, (void)ttl_s, (void)count;
    return -1;
}

static void close_all(tsa_redis *r) { (void)r; }

#endif

tsa_redis *tsa_redis_create(const char *url, const char *service, tsa_metrics *metrics, char *err,
                            size_t err_len)
{
    tsa_redis_url u;
    if (tsa_redis_parse_url(url, &u, err, err_len) != 0)
        return NULL;
    tsa_redis *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, err_len, "out of memory");
        return NULL;
    }
    r->url = u;
    snprintf(r->service, sizeof r->service, "%s", service ? service : "tsa");
    r->metrics = metrics;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->freed, NULL);
    r->up = 1; /* so that a first failure is logged */
    r->backoff = BACKOFF_FIRST;
#ifdef TSA_HAVE_HIREDIS
    tsa_redis_check(r);
    if (r->up)
        set_gauge(r);
#else
    pthread_mutex_lock(&r->lock);
    mark_down(r, "this build has no Redis support (hiredis was not found when it was built)");
    r->retry_at = 1e300;
    pthread_mutex_unlock(&r->lock);
#endif
    return r;
}

void tsa_redis_free(tsa_redis *r)
{
    if (!r)
        return;
    close_all(r);
    pthread_cond_destroy(&r->freed);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
