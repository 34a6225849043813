/* Byte buffers for the model format: little-endian, bounds-checked reads. */
#include "core/buf.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void tsa_wbuf_init(tsa_wbuf *w) { memset(w, 0, sizeof *w); }

void tsa_wbuf_free(tsa_wbuf *w)
{
    free(w->data);
    memset(w, 0, sizeof *w);
}

static int wbuf_reserve(tsa_wbuf *w, size_t n)
{
    if (w->failed)
        return -1;
    if (n > SIZE_MAX - w->len) {
        w->failed = 1;
        return -1;
    }
    if (w->len + n <= w->cap)
        return 0;
    size_t cap = w->cap ? w->cap : 256;
    while (cap < w->len + n) {
        if (cap > SIZE_MAX / 2) {
            cap = w->len + n;
            break;
        }
        cap *= 2;
    }
    uint8_t *p = realloc(w->data, cap);
    if (!p) {
        w->failed = 1;
        return -1;
    }
    w->data = p;
    w->cap = cap;
    return 0;
}

void tsa_wbuf_bytes(tsa_wbuf *w, const void *src, size_t n)
{
    if (n == 0 || wbuf_reserve(w, n) != 0)
        return;
    memcpy(w->data + w->len, src, n);
    w->len += n;
}

void tsa_wbuf_u8(tsa_wbuf *w, uint8_t v) { tsa_wbuf_bytes(w, &v, 1); }

void tsa_wbuf_u32(tsa_wbuf *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    tsa_wbuf_bytes(w, b, 4);
}

void tsa_wbuf_u64(tsa_wbuf *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    tsa_wbuf_bytes(w, b, 8);
}

void tsa_wbuf_i64(tsa_wbuf *w, int64_t v) { tsa_wbuf_u64(w, (uint64_t)v); }

void tsa_wbuf_f64(tsa_wbuf *w, double v)
{
    uint64_t u;
    memcpy(&u, &v, 8);
    tsa_wbuf_u64(w, u);
}

void tsa_wbuf_f64s(tsa_wbuf *w, const double *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        tsa_wbuf_f64(w, v[i]);
}

void tsa_wbuf_f32s(tsa_wbuf *w, const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        memcpy(&u, &v[i], 4);
        tsa_wbuf_u32(w, u);
    }
}

void tsa_wbuf_str(tsa_wbuf *w, const char *s)
{
    size_t n = s ? strlen(s) : 0;
    if (n > UINT32_MAX) {
        w->failed = 1;
        return;
    }
    tsa_wbuf_u32(w, (uint32_t)n);
    tsa_wbuf_bytes(w, s, n);
}

void tsa_rbuf_init(tsa_rbuf *r, const void *data, size_t len)
{
    r->data = data;
    r->len = data ? len : 0;
    r->pos = 0;
    r->failed = 0;
}

size_t tsa_rbuf_remaining(const tsa_rbuf *r) { return r->len - r->pos; }

int tsa_rbuf_bytes(tsa_rbuf *r, void *dst, size_t n)
{
    if (r->failed || n > r->len - r->pos) {
        r->failed = 1;
        return -1;
    }
    if (n)
        memcpy(dst, r->data + r->pos, n);
    r->pos += n;
    return 0;
}

int tsa_rbuf_u8(tsa_rbuf *r, uint8_t *v) { return tsa_rbuf_bytes(r, v, 1); }

int tsa_rbuf_u32(tsa_rbuf *r, uint32_t *v)
{
    uint8_t b[4];
    if (tsa_rbuf_bytes(r, b, 4) != 0)
        return -1;
    *v = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    return 0;
}

int tsa_rbuf_u64(tsa_rbuf *r, uint64_t *v)
{
    uint8_t b[8];
    if (tsa_rbuf_bytes(r, b, 8) != 0)
        return -1;
    uint64_t x = 0;
    for (int i = 7; i >= 0; i--)
        x = x << 8 | b[i];
    *v = x;
    return 0;
}

int tsa_rbuf_i64(tsa_rbuf *r, int64_t *v)
{
    uint64_t u;
    if (tsa_rbuf_u64(r, &u) != 0)
        return -1;
    *v = (int64_t)u;
    return 0;
}

int tsa_rbuf_f64(tsa_rbuf *r, double *v)
{
    uint64_t u;
    if (tsa_rbuf_u64(r, &u) != 0)
        return -1;
    memcpy(v, &u, 8);
    return 0;
}

int tsa_rbuf_f64s(tsa_rbuf *r, double *dst, size_t n)
{
    if (r->failed || n > (r->len - r->pos) / 8) {
        r->failed = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        tsa_rbuf_f64(r, &dst[i]);
    return 0;
}

int tsa_rbuf_f32s(tsa_rbuf *r, float *dst, size_t n)
{
    if (r->failed || n > (r->len - r->pos) / 4) {
        r->failed = 1;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = 0;
        tsa_rbuf_u32(r, &u);
        memcpy(&dst[i], &u, 4);
    }
    return 0;
}

int tsa_rbuf_f64s_alloc(tsa_rbuf *r, size_t n, double **out)
{
    if (r->failed || n > (r->len - r->pos) / 8) {
        r->failed = 1;
        return -1;
    }
    double *p = malloc(n ? n * sizeof *p : 1);
    if (!p) {
        r->failed = 1;
        return -1;
    }
    tsa_rbuf_f64s(r, p, n);
    *out = p;
    return 0;
}

int tsa_rbuf_str(tsa_rbuf *r, size_t max, char **out)
{
    uint32_t n;
    if (tsa_rbuf_u32(r, &n) != 0)
        return -1;
    if (n > max || n > r->len - r->pos) {
        r->failed = 1;
        return -1;
    }
    char *s = malloc((size_t)n + 1);
    if (!s) {
        r->failed = 1;
        return -1;
    }
    tsa_rbuf_bytes(r, s, n);
    s[n] = '\0';
    *out = s;
    return 0;
}

static uint32_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

uint32_t tsa_crc32(uint32_t crc, const void *data, size_t n)
{
    pthread_once(&crc_once, crc_init);
    const uint8_t *p = data;
    crc = ~crc;
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}
