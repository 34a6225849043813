/* An optional Redis connection shared by a service's request threads
 * (TSA_REDIS_URL, hiredis): a small pool of connections with connect and
 * command timeouts. Redis is never allowed to fail a request: every call
 * returns -1 quickly when Redis is unreachable, and the caller carries on
 * without it (no cache, local counters). After a failure the next attempt
 * waits a backoff (0.25 s doubling to 5 s); the change of state is logged
 * once per outage and exported as the gauge tsa_redis_up. Thread-safe.
 *
 * Built without hiredis, a configured URL still parses, but the connection
 * stays down and says why. */
#ifndef TSA_SERVERS_REDIS_H
#define TSA_SERVERS_REDIS_H

#include <stddef.h>

typedef struct tsa_metrics tsa_metrics;
typedef struct tsa_redis tsa_redis;

/* redis://[[user]:password@]host[:port][/db] */
typedef struct tsa_redis_url {
    char host[256];
    int port;          /* default 6379 */
    char user[128];    /* "" when not given */
    char password[256];/* "" when not given */
    int db;            /* default 0 */
} tsa_redis_url;

/* Parses @url; -1 and a message naming TSA_REDIS_URL on error (rediss://
 * needs hiredis with TLS, which this build does not use). */
int tsa_redis_parse_url(const char *url, tsa_redis_url *out, char *err, size_t err_len);

/* A connection pool for @url (not connected until first used, except for
 * one PING that sets the initial state). NULL and a message for a bad URL.
 * @service names the log lines; @metrics (may be NULL) gets tsa_redis_up. */
tsa_redis *tsa_redis_create(const char *url, const char *service, tsa_metrics *metrics, char *err,
                            size_t err_len);
void tsa_redis_free(tsa_redis *r);

/* "ok", "down", or "off" for NULL (not configured). */
const char *tsa_redis_state(const tsa_redis *r);
/* PINGs (unless waiting out a backoff) and returns the state. */
const char *tsa_redis_check(tsa_redis *r);
/* The last connection error ("" when none); copied into @buf. */
void tsa_redis_last_error(tsa_redis *r, char *buf, size_t len);

/* GET: 1 and a malloc'ed copy in @val (NUL-terminated, @len bytes) when
 * the key exists, 0 when not, -1 when Redis is unavailable. */
int tsa_redis_get(tsa_redis *r, const char *key, char **val, size_t *len);
/* SET key value EX ttl_s: 0, or -1 when Redis is unavailable. */
int tsa_redis_set(tsa_redis *r, const char *key, const void *val, size_t len, int ttl_s);
/* INCR key then EXPIRE key ttl_s in one round trip: 0 and the new count,
 * or -1 when Redis is unavailable. */
int tsa_redis_incr(tsa_redis *r, const char *key, int ttl_s, long long *count);

#endif
