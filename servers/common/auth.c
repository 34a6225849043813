/* API keys (see auth.h). */
#include "auth.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int tsa_auth_check(void *store, const char *key, char role[16], char name[128])
{
    char hash[65], err[TSA_STORE_ERR_LEN];
    if (tsa_store_hash_key(key, strlen(key), hash, err) != TSA_STORE_OK)
        return -1;
    tsa_store_apikey k;
    tsa_store_status st = tsa_store_apikey_lookup(store, hash, &k, err);
    if (st == TSA_STORE_UNAVAILABLE)
        return -2;
    if (st != TSA_STORE_OK)
        return -1;
    snprintf(role, 16, "%s", k.role);
    snprintf(name, 128, "%s", k.name ? k.name : "");
    tsa_store_apikey_clear(&k);
    return 0;
}

static int loopback(const char *host)
{
    return !strcmp(host, "127.0.0.1") || !strcmp(host, "localhost") || !strcmp(host, "::1") ||
           !strncmp(host, "127.", 4);
}

int tsa_auth_setup(const char *program, tsa_option *opts, size_t n, tsa_store *store, tsa_http_config *cfg,
                   char *err, size_t err_len)
{
    const char *create = tsa_config_get(opts, n, "create-key");
    char serr[TSA_STORE_ERR_LEN];
    if (create && *create) {
        const char *role = tsa_config_get(opts, n, "role");
        unsigned char raw[24];
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        int ok = fd >= 0 && read(fd, raw, sizeof raw) == (ssize_t)sizeof raw;
        if (fd >= 0)
            close(fd);
        if (!ok) {
            snprintf(err, err_len, "cannot read /dev/urandom");
            return -1;
        }
        char key[64] = "tsa_";
        for (size_t i = 0; i < sizeof raw; i++)
            snprintf(key + 4 + 2 * i, 3, "%02x", raw[i]);
        char hash[65];
        if (tsa_store_hash_key(key, strlen(key), hash, serr) != TSA_STORE_OK ||
            tsa_store_apikey_put(store, hash, role, create, serr) != TSA_STORE_OK) {
            snprintf(err, err_len, "cannot store the key: %s", serr);
            return -1;
        }
        printf("%s\n", key);
        fprintf(stderr, "%s: created API key '%s' with role %s; send it as Authorization: Bearer KEY\n", program,
                create, role);
        return 1;
    }
    const char *mode = tsa_config_get(opts, n, "auth");
    int on;
    if (!strcmp(mode, "on"))
        on = 1;
    else if (!strcmp(mode, "off"))
        on = 0;
    else if (!strcmp(mode, "auto"))
        on = !loopback(cfg->host);
    else {
        snprintf(err, err_len, "--auth: must be on, off or auto, got '%s'", mode);
        return -1;
    }
    if (!on)
        return 0;
    int64_t keys = 0;
    if (tsa_store_apikey_count(store, &keys, serr) != TSA_STORE_OK || keys == 0) {
        snprintf(err, err_len,
                 "API keys are required (--auth %s, listening on %s) but none exists; create one with "
                 "`%s --create-key NAME --role admin` (same --store)",
                 mode, cfg->host, program);
        return -1;
    }
    cfg->auth = tsa_auth_check;
    cfg->auth_user = store;
    return 0;
}
