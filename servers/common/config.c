/* Flags, environment and defaults for the services (see config.h). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static tsa_option *find(tsa_option *opts, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (strlen(opts[i].name) == len && strncmp(opts[i].name, name, len) == 0)
            return &opts[i];
    return NULL;
}

int tsa_config_parse(tsa_option *opts, size_t n, int argc, char **argv, const char *usage_line,
                     char *err, size_t err_len)
{
    for (size_t i = 0; i < n; i++) {
        const char *env = opts[i].env ? getenv(opts[i].env) : NULL;
        opts[i].value = env && *env ? env : opts[i].def;
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (!strcmp(arg, "--help") || !strcmp(arg, "-h")) {
            printf("usage: %s\n\noptions (flag, environment variable, default):\n", usage_line);
            for (size_t i = 0; i < n; i++)
                printf("  --%-20s %-24s %s\n      %s\n", opts[i].name, opts[i].env ? opts[i].env : "",
                       opts[i].def ? opts[i].def : "(none)", opts[i].help);
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, err_len, "unexpected argument '%s' (see --help)", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        tsa_option *o = find(opts, n, name, len);
        if (!o) {
            snprintf(err, err_len, "unknown option '--%.*s' (see --help)", (int)len, name);
            return -1;
        }
        if (eq) {
            o->value = eq + 1;
        } else if (a + 1 < argc) {
            o->value = argv[++a];
        } else {
            snprintf(err, err_len, "option '--%s' needs a value", o->name);
            return -1;
        }
    }
    return 0;
}

const char *tsa_config_get(const tsa_option *opts, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(opts[i].name, name))
            return opts[i].value;
    return NULL;
}

int tsa_config_int(const tsa_option *opts, size_t n, const char *name, long min, long max,
                   long *out, char *err, size_t err_len)
{
    const char *v = tsa_config_get(opts, n, name);
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < min || x > max) {
        snprintf(err, err_len, "--%s: must be an integer in [%ld, %ld], got '%s'", name, min, max,
                 v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

static sigset_t stop_signals;

void tsa_signals_block(void)
{
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGINT);
    sigaddset(&stop_signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int tsa_signals_wait(void)
{
    int sig = 0;
    sigwait(&stop_signals, &sig);
    return sig;
}
