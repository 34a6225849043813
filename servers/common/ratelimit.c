/* Fixed-window rate limits, shared through Redis when it is there (see
 * ratelimit.h). */
#include "ratelimit.h"

#include <ctype.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http.h"
#include "metrics.h"
#include "ops.h"
#include "redis.h"

static const char *const classes[] = {"read", "compute", "write"};
#define N_CLASSES 3

#define LOCAL_SLOTS 4096
#define LOCAL_PROBES 32

typedef struct slot {
    uint64_t hash;   /* of class and caller; 0 = empty */
    long long window;
    long count;
} slot;

struct tsa_ratelimit {
    long limit[N_CLASSES]; /* per window; 0 = unlimited */
    char service[64];
    tsa_redis *redis;
    tsa_metrics *metrics;
    pthread_mutex_t lock;
    slot local[LOCAL_SLOTS]; /* the in-process fallback */
};

static int class_index(const char *cls)
{
    for (int i = 0; i < N_CLASSES; i++)
        if (!strcmp(classes[i], cls))
            return i;
    return -1;
}

static int parse_count(const char *s, size_t n, long *out)
{
    if (n == 0 || n > 9)
        return -1;
    long v = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i]))
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return 0;
}

int tsa_ratelimit_create(const char *spec, const char *service, tsa_redis *redis, tsa_metrics *metrics,
                         tsa_ratelimit **out, char *err, size_t err_len)
{
    *out = NULL;
    long limit[N_CLASSES] = {0};
    if (!spec || !*spec || !strcmp(spec, "off") || !strcmp(spec, "0"))
        return 0;
    long all;
    if (parse_count(spec, strlen(spec), &all) == 0) {
        for (int i = 0; i < N_CLASSES; i++)
            limit[i] = all;
    } else {
        for (const char *p = spec; *p;) {
            const char *comma = strchr(p, ',');
            size_t len = comma ? (size_t)(comma - p) : strlen(p);
            const char *eq = memchr(p, '=', len);
            char name[16];
            size_t nl = eq ? (size_t)(eq - p) : 0;
            if (!eq || nl == 0 || nl >= sizeof name) {
                snprintf(err, err_len,
                         "--rate-limit: must be N (requests per minute) or read=N,compute=N,write=N, got '%.100s'",
                         spec);
                return -1;
            }
            memcpy(name, p, nl);
            name[nl] = '\0';
            int k = class_index(name);
            if (k < 0) {
                snprintf(err, err_len, "--rate-limit: unknown route class '%s' (read, compute or write)", name);
                return -1;
            }
            if (parse_count(eq + 1, len - nl - 1, &limit[k]) != 0) {
                snprintf(err, err_len, "--rate-limit: %s: must be an integer in [0, 999999999] (requests per minute)", name);
                return -1;
            }
            p += len;
            if (*p == ',')
                p++;
        }
    }
    int any = 0;
    for (int i = 0; i < N_CLASSES; i++)
        any |= limit[i] > 0;
    if (!any)
        return 0;
    tsa_ratelimit *rl = calloc(1, sizeof *rl);
    if (!rl) {
        snprintf(err, err_len, "out of memory");
        return -1;
    }
    memcpy(rl->limit, limit, sizeof limit);
    snprintf(rl->service, sizeof rl->service, "%s", service ? service : "tsa");
    rl->redis = redis;
    rl->metrics = metrics;
    pthread_mutex_init(&rl->lock, NULL);
    *out = rl;
    return 0;
}

void tsa_ratelimit_free(tsa_ratelimit *rl)
{
    if (!rl)
        return;
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

static uint64_t fnv1a(const char *a, const char *b)
{
    uint64_t h = 1469598103934665603ULL;
    for (const char *p = a; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (const char *p = b; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h ? h : 1;
}

/* The in-process count; a full table lets the request through. */
static long count_local(tsa_ratelimit *rl, const char *cls, const char *who, long long window)
{
    uint64_t h = fnv1a(cls, who);
    long n = 0;
    pthread_mutex_lock(&rl->lock);
    for (size_t i = 0; i < LOCAL_PROBES; i++) {
        slot *s = &rl->local[(h + i) % LOCAL_SLOTS];
        if (s->hash == h || s->hash == 0 || s->window != window) {
            if (s->hash != h || s->window != window) {
                s->hash = h;
                s->window = window;
                s->count = 0;
            }
            n = ++s->count;
            break;
        }
    }
    pthread_mutex_unlock(&rl->lock);
    return n;
}

int tsa_ratelimit_check(tsa_ratelimit *rl, const char *cls, const char *who, long *limit, int *retry_after)
{
    int k = class_index(cls);
    if (!rl || k < 0 || rl->limit[k] <= 0)
        return 0;
    time_t now = time(NULL);
    long long window = (long long)now / TSA_RATELIMIT_WINDOW;
    long long n = -1;
    if (rl->redis) {
        char key[512];
        snprintf(key, sizeof key, "tsa:rl:%s:%s:%lld:%s", rl->service, cls, window, who);
        /* The key outlives its window a little, for clocks a few seconds apart. */
        if (tsa_redis_incr(rl->redis, key, TSA_RATELIMIT_WINDOW + 10, &n) != 0)
            n = -1;
    }
    if (n < 0)
        n = count_local(rl, cls, who, window);
    if (n <= rl->limit[k])
        return 0;
    *limit = rl->limit[k];
    *retry_after = (int)((window + 1) * TSA_RATELIMIT_WINDOW - (long long)now);
    if (*retry_after < 1)
        *retry_after = 1;
    tsa_metrics_count(rl->metrics, "tsa_rate_limited_total", "Requests refused with 429 by the rate limit, by route class.",
                      "class", cls, NULL, NULL, 1);
    return 1;
}

int tsa_shared_setup(const tsa_option *opts, size_t n, tsa_svc *svc, tsa_http_config *hc, char *err,
                     size_t err_len)
{
    const char *url = tsa_config_get(opts, n, "redis-url");
    long ttl;
    if (tsa_config_int(opts, n, "forecast-cache-ttl", 0, 86400, &ttl, err, err_len) != 0)
        return -1;
    svc->forecast_ttl = (int)ttl;
    svc->redis = NULL;
    if (url && *url) {
        svc->redis = tsa_redis_create(url, svc->service, svc->metrics, err, err_len);
        if (!svc->redis)
            return -1;
    }
    tsa_ratelimit *rl = NULL;
    if (tsa_ratelimit_create(tsa_config_get(opts, n, "rate-limit"), svc->service, svc->redis, svc->metrics,
                             &rl, err, err_len) != 0) {
        tsa_redis_free(svc->redis);
        svc->redis = NULL;
        return -1;
    }
    hc->ratelimit = rl;
    return 0;
}

void tsa_shared_teardown(tsa_svc *svc, tsa_http_config *hc)
{
    tsa_ratelimit_free(hc->ratelimit);
    hc->ratelimit = NULL;
    tsa_redis_free(svc->redis);
    svc->redis = NULL;
}
