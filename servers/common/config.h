/* Service configuration: command-line flags, then TSA_* environment
 * variables, then defaults. */
#ifndef TSA_SERVERS_CONFIG_H
#define TSA_SERVERS_CONFIG_H

#include <stddef.h>

typedef struct tsa_option {
    const char *name;   /* flag without dashes, e.g. "port" */
    const char *env;    /* e.g. "TSA_PORT", or NULL */
    const char *def;    /* default value, or NULL */
    const char *help;
    const char *value;  /* resolved value (points into argv, environ or def) */
} tsa_option;

/* Parses --name VALUE and --name=VALUE. Returns 0 on success, 1 when --help
 * was given (usage printed to stdout), -1 on error (message in @err). */
int tsa_config_parse(tsa_option *opts, size_t n, int argc, char **argv, const char *usage_line,
                     char *err, size_t err_len);
const char *tsa_config_get(const tsa_option *opts, size_t n, const char *name);
/* An integer option within [min, max]; -1 and a message on error. */
int tsa_config_int(const tsa_option *opts, size_t n, const char *name, long min, long max,
                   long *out, char *err, size_t err_len);

/* Blocks until SIGINT or SIGTERM; returns the signal. Call after starting
 * the server threads (the signals are blocked in every thread first by
 * tsa_signals_block, called at the top of main). */
void tsa_signals_block(void);
int tsa_signals_wait(void);

#endif
