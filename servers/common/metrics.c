/* Prometheus text exposition for the services (see metrics.h). */
#include "metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const double request_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                         0.1,    0.25,  0.5,    1,     2.5,   5,     10};
#define N_REQ_BUCKETS (sizeof request_buckets / sizeof request_buckets[0])
static const double train_buckets[] = {0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600};
#define N_TRAIN_BUCKETS (sizeof train_buckets / sizeof train_buckets[0])

typedef struct series {
    char *a; /* first label value (route / kind / gauge label value) */
    char *b; /* second label value (code) or NULL */
    double count;
    double sum;
    uint64_t buckets[16];
} series;

typedef struct family {
    series *items;
    size_t n;
} family;

typedef struct gauge {
    char *name;
    char *help;
    char *label;
    char *value;
    double v;
} gauge;

typedef struct counter {
    char *name;
    char *help;
    char *la, *va, *lb, *vb; /* label names and values, or NULL */
    double v;
} counter;

struct tsa_metrics {
    pthread_mutex_t lock;
    char *service;
    family requests;  /* a = route, b = code; histogram */
    family train;     /* a = kind; histogram */
    family anomalies; /* a = kind; counter */
    gauge *gauges;
    size_t n_gauges;
    counter *counters;
    size_t n_counters;
    double start_time;
};

tsa_metrics *tsa_metrics_create(const char *service)
{
    tsa_metrics *m = calloc(1, sizeof *m);
    if (!m)
        return NULL;
    pthread_mutex_init(&m->lock, NULL);
    m->service = strdup(service ? service : "tsa");
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    m->start_time = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    return m;
}

static void family_free(family *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->items[i].a);
        free(f->items[i].b);
    }
    free(f->items);
}

void tsa_metrics_free(tsa_metrics *m)
{
    if (!m)
        return;
    family_free(&m->requests);
    family_free(&m->train);
    family_free(&m->anomalies);
    for (size_t i = 0; i < m->n_gauges; i++) {
        free(m->gauges[i].name);
        free(m->gauges[i].help);
        free(m->gauges[i].label);
        free(m->gauges[i].value);
    }
    free(m->gauges);
    for (size_t i = 0; i < m->n_counters; i++) {
        counter *c = &m->counters[i];
        free(c->name);
        free(c->help);
        free(c->la);
        free(c->va);
        free(c->lb);
        free(c->vb);
    }
    free(m->counters);
    pthread_mutex_destroy(&m->lock);
    free(m->service);
    free(m);
}

static series *find_series(family *f, const char *a, const char *b)
{
    for (size_t i = 0; i < f->n; i++)
        if (!strcmp(f->items[i].a, a) && ((!b && !f->items[i].b) || (b && f->items[i].b && !strcmp(f->items[i].b, b))))
            return &f->items[i];
    series *grown = realloc(f->items, (f->n + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    f->items = grown;
    series *s = &f->items[f->n];
    memset(s, 0, sizeof *s);
    s->a = strdup(a);
    s->b = b ? strdup(b) : NULL;
    if (!s->a || (b && !s->b)) {
        free(s->a);
        free(s->b);
        return NULL;
    }
    f->n++;
    return s;
}

static void observe(series *s, const double *bounds, size_t n, double v)
{
    s->count += 1;
    s->sum += v;
    for (size_t i = 0; i < n; i++)
        if (v <= bounds[i])
            s->buckets[i]++;
}

void tsa_metrics_observe_request(tsa_metrics *m, const char *route, int code, double seconds)
{
    if (!m)
        return;
    char c[8];
    snprintf(c, sizeof c, "%d", code);
    pthread_mutex_lock(&m->lock);
    series *s = find_series(&m->requests, route, c);
    if (s)
        observe(s, request_buckets, N_REQ_BUCKETS, seconds);
    pthread_mutex_unlock(&m->lock);
}

void tsa_metrics_observe_train(tsa_metrics *m, const char *kind, double seconds)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = find_series(&m->train, kind, NULL);
    if (s)
        observe(s, train_buckets, N_TRAIN_BUCKETS, seconds);
    pthread_mutex_unlock(&m->lock);
}

void tsa_metrics_add_anomalies(tsa_metrics *m, const char *kind, uint64_t n)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    series *s = find_series(&m->anomalies, kind, NULL);
    if (s)
        s->count += (double)n;
    pthread_mutex_unlock(&m->lock);
}

void tsa_metrics_set_gauge(tsa_metrics *m, const char *name, const char *help, const char *label,
                           const char *value, double v)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    gauge *g = NULL;
    for (size_t i = 0; i < m->n_gauges; i++)
        if (!strcmp(m->gauges[i].name, name) &&
            ((!value && !m->gauges[i].value) ||
             (value && m->gauges[i].value && !strcmp(m->gauges[i].value, value))))
            g = &m->gauges[i];
    if (!g) {
        gauge *grown = realloc(m->gauges, (m->n_gauges + 1) * sizeof *grown);
        if (grown) {
            m->gauges = grown;
            g = &m->gauges[m->n_gauges++];
            g->name = strdup(name);
            g->help = strdup(help ? help : name);
            g->label = label ? strdup(label) : NULL;
            g->value = value ? strdup(value) : NULL;
        }
    }
    if (g)
        g->v = v;
    pthread_mutex_unlock(&m->lock);
}

static int same(const char *a, const char *b) { return (!a && !b) || (a && b && !strcmp(a, b)); }

static char *dup_or_null(const char *s) { return s ? strdup(s) : NULL; }

void tsa_metrics_count(tsa_metrics *m, const char *name, const char *help, const char *la,
                       const char *va, const char *lb, const char *vb, double n)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    counter *c = NULL;
    for (size_t i = 0; i < m->n_counters && !c; i++)
        if (!strcmp(m->counters[i].name, name) && same(m->counters[i].va, va) && same(m->counters[i].vb, vb))
            c = &m->counters[i];
    if (!c) {
        counter *grown = realloc(m->counters, (m->n_counters + 1) * sizeof *grown);
        if (grown) {
            m->counters = grown;
            c = &m->counters[m->n_counters++];
            c->name = strdup(name);
            c->help = strdup(help ? help : name);
            c->la = dup_or_null(la);
            c->va = dup_or_null(la ? va : NULL);
            c->lb = dup_or_null(lb);
            c->vb = dup_or_null(lb ? vb : NULL);
            c->v = 0;
        }
    }
    if (c)
        c->v += n;
    pthread_mutex_unlock(&m->lock);
}

/* A growing text buffer. */
typedef struct text {
    char *s;
    size_t len, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->s ? t->s + t->len : NULL, t->s ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->s && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 8192;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *g = realloc(t->s, cap);
        if (!g)
            return;
        t->s = g;
        t->cap = cap;
    }
}

/* Label values escaped as the exposition format requires. */
static void put_escaped(text *t, const char *v)
{
    for (const char *p = v; *p; p++) {
        if (*p == '\\' || *p == '"')
            put(t, "\\%c", *p);
        else if (*p == '\n')
            put(t, "\\n");
        else
            put(t, "%c", *p);
    }
}

static void put_histogram(text *t, const char *name, const char *service, const char *label_a,
                          const char *label_b, const series *s, const double *bounds, size_t n)
{
    for (size_t i = 0; i <= n; i++) {
        put(t, "%s_bucket{service=\"", name);
        put_escaped(t, service);
        put(t, "\",%s=\"", label_a);
        put_escaped(t, s->a);
        if (label_b) {
            put(t, "\",%s=\"", label_b);
            put_escaped(t, s->b);
        }
        if (i < n)
            put(t, "\",le=\"%g\"} %llu\n", bounds[i], (unsigned long long)s->buckets[i]);
        else
            put(t, "\",le=\"+Inf\"} %.0f\n", s->count);
    }
    put(t, "%s_sum{service=\"", name);
    put_escaped(t, service);
    put(t, "\",%s=\"", label_a);
    put_escaped(t, s->a);
    if (label_b) {
        put(t, "\",%s=\"", label_b);
        put_escaped(t, s->b);
    }
    put(t, "\"} %.9g\n", s->sum);
    put(t, "%s_count{service=\"", name);
    put_escaped(t, service);
    put(t, "\",%s=\"", label_a);
    put_escaped(t, s->a);
    if (label_b) {
        put(t, "\",%s=\"", label_b);
        put_escaped(t, s->b);
    }
    put(t, "\"} %.0f\n", s->count);
}

static double resident_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, rss = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

char *tsa_metrics_render(tsa_metrics *m)
{
    text t = {0};
    pthread_mutex_lock(&m->lock);
    put(&t, "# HELP tsa_http_requests_total HTTP requests by route and status code.\n");
    put(&t, "# TYPE tsa_http_requests_total counter\n");
    for (size_t i = 0; i < m->requests.n; i++) {
        const series *s = &m->requests.items[i];
        put(&t, "tsa_http_requests_total{service=\"");
        put_escaped(&t, m->service);
        put(&t, "\",route=\"");
        put_escaped(&t, s->a);
        put(&t, "\",code=\"%s\"} %.0f\n", s->b, s->count);
    }
    put(&t, "# HELP tsa_http_request_duration_seconds Time to answer HTTP requests.\n");
    put(&t, "# TYPE tsa_http_request_duration_seconds histogram\n");
    for (size_t i = 0; i < m->requests.n; i++)
        put_histogram(&t, "tsa_http_request_duration_seconds", m->service, "route", "code",
                      &m->requests.items[i], request_buckets, N_REQ_BUCKETS);
    put(&t, "# HELP tsa_train_duration_seconds Time to fit models, by kind.\n");
    put(&t, "# TYPE tsa_train_duration_seconds histogram\n");
    for (size_t i = 0; i < m->train.n; i++)
        put_histogram(&t, "tsa_train_duration_seconds", m->service, "kind", NULL, &m->train.items[i],
                      train_buckets, N_TRAIN_BUCKETS);
    put(&t, "# HELP tsa_anomalies_flagged_total Points flagged as anomalies, by model kind.\n");
    put(&t, "# TYPE tsa_anomalies_flagged_total counter\n");
    for (size_t i = 0; i < m->anomalies.n; i++) {
        put(&t, "tsa_anomalies_flagged_total{service=\"");
        put_escaped(&t, m->service);
        put(&t, "\",kind=\"");
        put_escaped(&t, m->anomalies.items[i].a);
        put(&t, "\"} %.0f\n", m->anomalies.items[i].count);
    }
    /* Gauges grouped by name, HELP/TYPE once per family. */
    for (size_t i = 0; i < m->n_gauges; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->gauges[j].name, m->gauges[i].name))
                first = 0;
        if (!first)
            continue;
        put(&t, "# HELP %s %s\n# TYPE %s gauge\n", m->gauges[i].name, m->gauges[i].help,
            m->gauges[i].name);
        for (size_t j = i; j < m->n_gauges; j++) {
            const gauge *g = &m->gauges[j];
            if (strcmp(g->name, m->gauges[i].name))
                continue;
            put(&t, "%s{service=\"", g->name);
            put_escaped(&t, m->service);
            if (g->label) {
                put(&t, "\",%s=\"", g->label);
                put_escaped(&t, g->value ? g->value : "");
            }
            put(&t, "\"} %.17g\n", g->v);
        }
    }
    /* Counters grouped by name likewise. */
    for (size_t i = 0; i < m->n_counters; i++) {
        int first = 1;
        for (size_t j = 0; j < i; j++)
            if (!strcmp(m->counters[j].name, m->counters[i].name))
                first = 0;
        if (!first)
            continue;
        put(&t, "# HELP %s %s\n# TYPE %s counter\n", m->counters[i].name, m->counters[i].help,
            m->counters[i].name);
        for (size_t j = i; j < m->n_counters; j++) {
            const counter *c = &m->counters[j];
            if (strcmp(c->name, m->counters[i].name))
                continue;
            put(&t, "%s{service=\"", c->name);
            put_escaped(&t, m->service);
            if (c->la) {
                put(&t, "\",%s=\"", c->la);
                put_escaped(&t, c->va ? c->va : "");
            }
            if (c->lb) {
                put(&t, "\",%s=\"", c->lb);
                put_escaped(&t, c->vb ? c->vb : "");
            }
            put(&t, "\"} %.17g\n", c->v);
        }
    }
    double start = m->start_time;
    pthread_mutex_unlock(&m->lock);

    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    put(&t, "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n");
    put(&t, "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.6f\n", cpu);
    put(&t, "# HELP process_resident_memory_bytes Resident memory size in bytes.\n");
    put(&t, "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %.0f\n",
        resident_bytes());
    put(&t, "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n");
    put(&t, "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %.3f\n", start);
    return t.s;
}
