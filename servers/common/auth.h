/* API-key authentication for the services (DESIGN.md section 7): keys are
 * stored as SHA-256 hashes with a role (viewer < trainer < admin). */
#ifndef TSA_SERVERS_AUTH_H
#define TSA_SERVERS_AUTH_H

#include "config.h"
#include "http.h"
#include "store.h"

/* The tsa_http_config.auth callback over a tsa_store (auth_user). */
int tsa_auth_check(void *store, const char *key, char role[16], char name[128]);

/* Handles the shared options --auth auto|on|off and --create-key NAME
 * [--role ROLE]: creates and prints a key and returns 1 (the program then
 * exits 0); decides whether authentication is on for @host and fills @cfg.
 * Returns -1 with a message when the service must not start (on, but no key
 * exists), 0 otherwise. */
int tsa_auth_setup(const char *program, tsa_option *opts, size_t n, tsa_store *store,
                   tsa_http_config *cfg, char *err, size_t err_len);

/* The option entries (append to a program's table). */
#define TSA_AUTH_OPTIONS                                                                                   \
    {"auth", "TSA_AUTH", "auto", "API keys: on, off, or auto (on when listening beyond loopback)", NULL}, \
    {"create-key", NULL, NULL, "create an API key with this name, print it and exit", NULL},             \
    {"role", NULL, "viewer", "role of the key made by --create-key: viewer, trainer or admin", NULL}

#endif
