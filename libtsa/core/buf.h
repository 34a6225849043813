/* Little-endian byte writer and bounds-checked reader for model files. */
#ifndef TSA_CORE_BUF_H
#define TSA_CORE_BUF_H

#include <stddef.h>
#include <stdint.h>

/* A growing byte buffer; after an allocation failure @failed is set and
 * further writes are ignored, so callers check once at the end. */
typedef struct tsa_wbuf {
    uint8_t *data;
    size_t len;
    size_t cap;
    int failed;
} tsa_wbuf;

void tsa_wbuf_init(tsa_wbuf *w);
void tsa_wbuf_free(tsa_wbuf *w);
void tsa_wbuf_bytes(tsa_wbuf *w, const void *src, size_t n);
void tsa_wbuf_u8(tsa_wbuf *w, uint8_t v);
void tsa_wbuf_u32(tsa_wbuf *w, uint32_t v);
void tsa_wbuf_u64(tsa_wbuf *w, uint64_t v);
void tsa_wbuf_i64(tsa_wbuf *w, int64_t v);
void tsa_wbuf_f64(tsa_wbuf *w, double v);
void tsa_wbuf_f64s(tsa_wbuf *w, const double *v, size_t n);
void tsa_wbuf_f32s(tsa_wbuf *w, const float *v, size_t n);
/* A string as u32 length then bytes (no NUL). NULL is written as empty. */
void tsa_wbuf_str(tsa_wbuf *w, const char *s);

/* A reader over @len bytes. Every read checks the remaining length first;
 * a short read sets @failed, returns -1 and leaves the output untouched. */
typedef struct tsa_rbuf {
    const uint8_t *data;
    size_t len;
    size_t pos;
    int failed;
} tsa_rbuf;

void tsa_rbuf_init(tsa_rbuf *r, const void *data, size_t len);
size_t tsa_rbuf_remaining(const tsa_rbuf *r);
int tsa_rbuf_bytes(tsa_rbuf *r, void *dst, size_t n);
int tsa_rbuf_u8(tsa_rbuf *r, uint8_t *v);
int tsa_rbuf_u32(tsa_rbuf *r, uint32_t *v);
int tsa_rbuf_u64(tsa_rbuf *r, uint64_t *v);
int tsa_rbuf_i64(tsa_rbuf *r, int64_t *v);
int tsa_rbuf_f64(tsa_rbuf *r, double *v);
/* Reads @n doubles into @dst (n * 8 bytes must remain). */
int tsa_rbuf_f64s(tsa_rbuf *r, double *dst, size_t n);
int tsa_rbuf_f32s(tsa_rbuf *r, float *dst, size_t n);
/* Allocates (malloc) and reads @n doubles; fails without allocating when
 * fewer than n * 8 bytes remain, so a forged count cannot exhaust memory. */
int tsa_rbuf_f64s_alloc(tsa_rbuf *r, size_t n, double **out);
/* Reads a string into a new NUL-terminated malloc'd copy; at most @max bytes. */
int tsa_rbuf_str(tsa_rbuf *r, size_t max, char **out);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32) of @n bytes, continuing @crc
 * (start with 0). */
uint32_t tsa_crc32(uint32_t crc, const void *data, size_t n);

#endif
