/* The dashboard's web files, embedded at build time by embed_web.py. */
#ifndef TSA_DASHBOARD_ASSETS_H
#define TSA_DASHBOARD_ASSETS_H

#include <stddef.h>

typedef struct dash_asset {
    const char *name;           /* base name, e.g. "app.js" */
    const unsigned char *data;  /* size bytes, then a NUL */
    size_t size;
} dash_asset;

/* Ends with an entry whose name is NULL. */
extern const dash_asset dash_assets[];

#endif
