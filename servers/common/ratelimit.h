/* Request rate limits per caller (API key name, or client address when
 * authentication is off) and route class, in fixed one-minute windows.
 * With Redis the count is shared by every replica of the service (INCR and
 * EXPIRE on a key naming the window); without it, or while it is down, each
 * process counts for itself. Thread-safe.
 *
 * Route classes: "read" (GET), "compute" (other methods a viewer may call:
 * predict, detect, generate, MCP and A2A calls), "write" (train, delete,
 * administration). Public routes (health, metrics, agent cards) are never
 * limited. */
#ifndef TSA_SERVERS_RATELIMIT_H
#define TSA_SERVERS_RATELIMIT_H

#include <stddef.h>

#include "config.h"

typedef struct tsa_metrics tsa_metrics;
typedef struct tsa_redis tsa_redis;
typedef struct tsa_ratelimit tsa_ratelimit;
struct tsa_svc;
struct tsa_http_config;

#define TSA_RATELIMIT_WINDOW 60 /* seconds */

/* The options every service takes for Redis, rate limits and the shared
 * forecast cache. */
#define TSA_SHARED_OPTIONS                                                                         \
    {"redis-url", "TSA_REDIS_URL", "", "redis://[user:password@]host:port/db: shared forecast cache and rate-limit counters (empty: none)", NULL}, \
    {"rate-limit", "TSA_RATE_LIMIT", "", "requests per minute per API key (or client address): N for every route class, or read=N,compute=N,write=N (empty or 0: no limit)", NULL}, \
    {"forecast-cache-ttl", "TSA_FORECAST_CACHE_TTL", "60", "seconds a forecast stays in the Redis cache (0: no cache)", NULL}

/* Parses @spec ("", "0", "off", "N", or "class=N,..."); @out is NULL when no
 * limit is set. -1 and a message naming --rate-limit on error. */
int tsa_ratelimit_create(const char *spec, const char *service, tsa_redis *redis, tsa_metrics *metrics,
                         tsa_ratelimit **out, char *err, size_t err_len);
void tsa_ratelimit_free(tsa_ratelimit *rl);

/* Counts one request of @who in @cls. 0 when allowed; 1 when over the limit,
 * with the limit in @limit and the seconds until the window ends in
 * @retry_after. */
int tsa_ratelimit_check(tsa_ratelimit *rl, const char *cls, const char *who, long *limit, int *retry_after);

/* Reads TSA_SHARED_OPTIONS: connects Redis (svc->redis), sets
 * svc->forecast_ttl and hc->ratelimit. -1 and a message on a bad value. */
int tsa_shared_setup(const tsa_option *opts, size_t n, struct tsa_svc *svc, struct tsa_http_config *hc,
                     char *err, size_t err_len);
/* Frees what tsa_shared_setup made. */
void tsa_shared_teardown(struct tsa_svc *svc, struct tsa_http_config *hc);

#endif
