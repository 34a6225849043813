/* A small Prometheus registry for the services: request counts and latency
 * by route and code, training durations by kind, anomalies flagged by kind,
 * gauges set by the service (models, jobs by state), and process metrics.
 * Thread-safe. Rendered in the text exposition format (version 0.0.4). */
#ifndef TSA_SERVERS_METRICS_H
#define TSA_SERVERS_METRICS_H

#include <stdint.h>

typedef struct tsa_metrics tsa_metrics;

tsa_metrics *tsa_metrics_create(const char *service);
void tsa_metrics_free(tsa_metrics *m);

void tsa_metrics_observe_request(tsa_metrics *m, const char *route, int code, double seconds);
void tsa_metrics_observe_train(tsa_metrics *m, const char *kind, double seconds);
void tsa_metrics_add_anomalies(tsa_metrics *m, const char *kind, uint64_t n);
/* A gauge family with at most one label: name{label="value"} = v. label may be NULL. */
void tsa_metrics_set_gauge(tsa_metrics *m, const char *name, const char *help, const char *label,
                           const char *value, double v);
/* Adds @n to the counter name{la="va",lb="vb"}; @la and @lb may be NULL. */
void tsa_metrics_count(tsa_metrics *m, const char *name, const char *help, const char *la,
                       const char *va, const char *lb, const char *vb, double n);

/* The exposition text; free() it. */
char *tsa_metrics_render(tsa_metrics *m);

#endif
