/* The services' Redis layer and rate limits (servers/common/redis.c,
 * ratelimit.c) without a Redis server: URL parsing, the rate-limit
 * specification, the in-process counters, a Redis that cannot be reached
 * (every call fails at once and counting falls back to the process), and the
 * counters' exposition. tests/services/run checks them against a real
 * redis-server. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "harness.h"
#include "metrics.h"
#include "ratelimit.h"
#include "redis.h"

TEST(url_valid)
{
    tsa_redis_url u;
    char err[512] = "";
    CHECK(tsa_redis_parse_url("redis://cache.example:6380/2", &u, err, sizeof err) == 0);
    CHECK(!strcmp(u.host, "cache.example") && u.port == 6380 && u.db == 2 && !*u.user && !*u.password);
    CHECK(tsa_redis_parse_url("redis://localhost", &u, err, sizeof err) == 0);
    CHECK(!strcmp(u.host, "localhost") && u.port == 6379 && u.db == 0);
    CHECK(tsa_redis_parse_url("redis://redis:6379/", &u, err, sizeof err) == 0);
    CHECK(!strcmp(u.host, "redis") && u.db == 0);
    CHECK(tsa_redis_parse_url("redis://:s%40cret@10.0.0.5:7000/1", &u, err, sizeof err) == 0);
    CHECK(!strcmp(u.password, "s@cret") && !*u.user && !strcmp(u.host, "10.0.0.5") && u.port == 7000);
    CHECK(tsa_redis_parse_url("redis://app:pw:x@h/3", &u, err, sizeof err) == 0);
    CHECK(!strcmp(u.user, "app") && !strcmp(u.password, "pw:x") && u.db == 3);
    CHECK(tsa_redis_parse_url("redis://[::1]:6390/0", &u, err, sizeof err) == 0);
    CHECK(!strcmp(u.host, "::1") && u.port == 6390);
}

TEST(url_invalid)
{
    static const struct {
        const char *url, *needle;
    } cases[] = {
        {"", "empty"},
        {"rediss://h:6380/0", "TLS"},
        {"http://h:6379", "must start with redis://"},
        {"redis://", "host is missing"},
        {"redis://h:0/0", "port"},
        {"redis://h:65536", "port"},
        {"redis://h:63x79", "port"},
        {"redis://h/db", "database"},
        {"redis://h/-1", "database"},
        {"redis://user@h", "needs a password"},
        {"redis://:%4@h", "escaped"},
        {"redis://[::1/0", "unclosed"},
        {"redis://h/0?timeout=1", "query"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsa_redis_url u;
        char err[512] = "";
        CHECK_MSG(tsa_redis_parse_url(cases[i].url, &u, err, sizeof err) == -1, "'%s' was accepted", cases[i].url);
        CHECK_MSG(strstr(err, "TSA_REDIS_URL") && strstr(err, cases[i].needle), "'%s': message \"%s\" lacks \"%s\"",
                  cases[i].url, err, cases[i].needle);
    }
}

TEST(spec)
{
    tsa_ratelimit *rl = NULL;
    char err[512] = "";
    static const char *const off[] = {"", "0", "off", "read=0", "read=0,compute=0,write=0"};
    for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
        CHECK(tsa_ratelimit_create(off[i], "t", NULL, NULL, &rl, err, sizeof err) == 0);
        CHECK_MSG(rl == NULL, "'%s' set a limit", off[i]);
    }
    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"often", "must be N"},
        {"-5", "must be N"},
        {"search=5", "unknown route class 'search'"},
        {"read=", "read: must be an integer"},
        {"read=x", "read: must be an integer"},
        {"read=5,write", "must be N"},
        {"compute=1234567890", "compute: must be an integer"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        CHECK_MSG(tsa_ratelimit_create(bad[i].spec, "t", NULL, NULL, &rl, err, sizeof err) == -1,
                  "'%s' was accepted", bad[i].spec);
        CHECK_MSG(strstr(err, "--rate-limit") && strstr(err, bad[i].needle), "'%s': message \"%s\" lacks \"%s\"",
                  bad[i].spec, err, bad[i].needle);
    }
}

/* Sends @n requests of @who in @cls; the number allowed. Repeats when a
 * window boundary fell inside the burst. */
static int allowed_of(tsa_ratelimit *rl, const char *cls, const char *who, int n, long *limit, int *retry)
{
    for (;;) {
        time_t w0 = time(NULL) / TSA_RATELIMIT_WINDOW;
        int ok = 0;
        for (int i = 0; i < n; i++)
            ok += tsa_ratelimit_check(rl, cls, who, limit, retry) == 0;
        if (time(NULL) / TSA_RATELIMIT_WINDOW == w0)
            return ok;
    }
}

TEST(local_counts)
{
    tsa_metrics *m = tsa_metrics_create("t");
    tsa_ratelimit *rl = NULL;
    char err[512] = "";
    CHECK(tsa_ratelimit_create("read=3,write=1", "t", NULL, m, &rl, err, sizeof err) == 0 && rl);
    long limit = 0;
    int retry = 0;
    char who[32];
    /* A fresh caller per burst, so a repeated burst starts from zero. */
    for (int k = 0;; k++) {
        snprintf(who, sizeof who, "key:alice%d", k);
        time_t w0 = time(NULL) / TSA_RATELIMIT_WINDOW;
        int ok = 0;
        for (int i = 0; i < 5; i++)
            ok += tsa_ratelimit_check(rl, "read", who, &limit, &retry) == 0;
        if (time(NULL) / TSA_RATELIMIT_WINDOW == w0) {
            CHECK_MSG(ok == 3, "%d of 5 reads allowed with read=3", ok);
            break;
        }
    }
    CHECK(limit == 3);
    CHECK(retry >= 1 && retry <= TSA_RATELIMIT_WINDOW);
    CHECK(allowed_of(rl, "read", "key:bob", 3, &limit, &retry) == 3);     /* callers count apart */
    CHECK(allowed_of(rl, "compute", who, 50, &limit, &retry) == 50);      /* no limit for compute */
    CHECK(allowed_of(rl, "write", "addr:10.0.0.9", 2, &limit, &retry) == 1);
    char *text = tsa_metrics_render(m);
    CHECK(text && strstr(text, "# TYPE tsa_rate_limited_total counter\n"));
    CHECK(text && strstr(text, "tsa_rate_limited_total{service=\"t\",class=\"read\"} 2\n"));
    CHECK(text && strstr(text, "tsa_rate_limited_total{service=\"t\",class=\"write\"} 1\n"));
    free(text);
    tsa_ratelimit_free(rl);
    tsa_metrics_free(m);
}

TEST(unreachable)
{
    tsa_metrics *m = tsa_metrics_create("t");
    char err[512] = "";
    /* Port 1 on loopback: connection refused. */
    tsa_redis *r = tsa_redis_create("redis://127.0.0.1:1/0", "t", m, err, sizeof err);
    CHECK(r != NULL);
    CHECK(!strcmp(tsa_redis_state(r), "down"));
    CHECK(!strcmp(tsa_redis_state(NULL), "off"));
    char why[512];
    tsa_redis_last_error(r, why, sizeof why);
    CHECK_MSG(*why, "no reason for the outage");
    char *val = NULL;
    size_t len = 0;
    long long n = 0;
    CHECK(tsa_redis_get(r, "k", &val, &len) == -1 && val == NULL);
    CHECK(tsa_redis_set(r, "k", "v", 1, 10) == -1);
    CHECK(tsa_redis_incr(r, "k", 10, &n) == -1);
    CHECK(!strcmp(tsa_redis_check(r), "down"));
    /* Rate limits fall back to the process's own counters. */
    tsa_ratelimit *rl = NULL;
    CHECK(tsa_ratelimit_create("2", "t", r, m, &rl, err, sizeof err) == 0 && rl);
    long limit = 0;
    int retry = 0;
    CHECK(allowed_of(rl, "compute", "addr:127.0.0.1", 4, &limit, &retry) == 2);
    char *text = tsa_metrics_render(m);
    CHECK(text && strstr(text, "tsa_redis_up{service=\"t\"} 0\n"));
    free(text);
    tsa_ratelimit_free(rl);
    tsa_redis_free(r);
    tsa_metrics_free(m);
}

TEST(counters)
{
    tsa_metrics *m = tsa_metrics_create("svc");
    tsa_metrics_count(m, "tsa_cache_requests_total", "Lookups.", "cache", "forecast", "result", "hit", 1);
    tsa_metrics_count(m, "tsa_cache_requests_total", "Lookups.", "cache", "forecast", "result", "miss", 1);
    tsa_metrics_count(m, "tsa_cache_requests_total", "Lookups.", "cache", "forecast", "result", "hit", 2);
    tsa_metrics_count(m, "tsa_other_total", "Other.", NULL, NULL, NULL, NULL, 5);
    char *text = tsa_metrics_render(m);
    CHECK(text != NULL);
    if (text) {
        const char *help = "# HELP tsa_cache_requests_total Lookups.\n# TYPE tsa_cache_requests_total counter\n";
        const char *first = strstr(text, help);
        CHECK(first && !strstr(first + 1, "# HELP tsa_cache_requests_total"));
        CHECK(strstr(text, "tsa_cache_requests_total{service=\"svc\",cache=\"forecast\",result=\"hit\"} 3\n"));
        CHECK(strstr(text, "tsa_cache_requests_total{service=\"svc\",cache=\"forecast\",result=\"miss\"} 1\n"));
        CHECK(strstr(text, "tsa_other_total{service=\"svc\"} 5\n"));
    }
    free(text);
    tsa_metrics_free(m);
}

TEST_LIST(TEST_CASE(url_valid), TEST_CASE(url_invalid), TEST_CASE(spec), TEST_CASE(local_counts),
          TEST_CASE(unreachable), TEST_CASE(counters))
