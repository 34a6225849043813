/* The model file format (version 1), little-endian:
 *
 *   "TSAMODEL"            8 bytes magic
 *   u32 format_version    1
 *   u32 library_version   TSA_VERSION_NUMBER of the writer
 *   str kind              u32 length + bytes
 *   str params_json       the resolved parameters
 *   u8  fitted
 *   -- when fitted --
 *   u64 n_features, u64 n_train, u8 has_timestamps, i64 last_timestamp,
 *   i64 timestamp_step, u64 tail_len, f64 tail[tail_len * n_features],
 *   u64 payload_len, payload (the kind's state)
 *   --
 *   u32 crc32             over every byte before it
 *
 * Loading checks the length, magic and checksum before parsing, and every
 * count against the bytes that remain, so truncated, corrupted or foreign
 * data yields TSA_EFORMAT, never an out-of-bounds read. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "models/kind.h"

#define MAGIC "TSAMODEL"
#define MAGIC_LEN 8
#define FORMAT_VERSION 1u
#define MAX_FEATURES 1000000u
#define MAX_STR (1u << 20)

TSA_API tsa_status tsa_model_save(const tsa_model *m, void **buf, size_t *len)
{
    TSA_FAIL_IF(!m || !buf || !len, TSA_EINVAL, "model, buf and len: must not be NULL");
    char *params_json;
    TSA_TRY(tsa_params_to_json(m->params, &params_json));
    tsa_wbuf w;
    tsa_wbuf_init(&w);
    tsa_wbuf_bytes(&w, MAGIC, MAGIC_LEN);
    tsa_wbuf_u32(&w, FORMAT_VERSION);
    tsa_wbuf_u32(&w, (uint32_t)TSA_VERSION_NUMBER);
    tsa_wbuf_str(&w, m->kind->name);
    tsa_wbuf_str(&w, params_json);
    free(params_json);
    tsa_wbuf_u8(&w, (uint8_t)(m->fitted != 0));
    if (m->fitted) {
        tsa_wbuf_u64(&w, m->n_features);
        tsa_wbuf_u64(&w, m->n_train);
        tsa_wbuf_u8(&w, (uint8_t)(m->has_timestamps != 0));
        tsa_wbuf_i64(&w, m->last_timestamp);
        tsa_wbuf_i64(&w, m->timestamp_step);
        tsa_wbuf_u64(&w, m->tail_len);
        tsa_wbuf_f64s(&w, m->tail, m->tail_len * m->n_features);
        tsa_wbuf payload;
        tsa_wbuf_init(&payload);
        tsa_status rc = m->kind->save(m, &payload);
        if (rc != TSA_OK || payload.failed) {
            tsa_wbuf_free(&payload);
            tsa_wbuf_free(&w);
            return rc != TSA_OK ? rc : tsa_error(TSA_ENOMEM, "save: out of memory");
        }
        tsa_wbuf_u64(&w, payload.len);
        tsa_wbuf_bytes(&w, payload.data, payload.len);
        tsa_wbuf_free(&payload);
    }
    if (!w.failed)
        tsa_wbuf_u32(&w, tsa_crc32(0, w.data, w.len));
    if (w.failed) {
        tsa_wbuf_free(&w);
        return tsa_error(TSA_ENOMEM, "save: out of memory");
    }
    *buf = w.data;
    *len = w.len;
    return TSA_OK;
}

static tsa_status bad(const char *what) { return tsa_error(TSA_EFORMAT, "model data: %s", what); }

TSA_API tsa_status tsa_model_load(const void *buf, size_t len, tsa_model **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = NULL;
    TSA_FAIL_IF(!buf, TSA_EINVAL, "buf: must not be NULL");
    const uint8_t *bytes = buf;
    if (len < MAGIC_LEN || memcmp(bytes, MAGIC, MAGIC_LEN) != 0)
        return bad(len < MAGIC_LEN ? "truncated (no header)" : "not a libtsa model (bad magic)");
    if (len < MAGIC_LEN + 4 + 4 + 4)
        return bad("truncated header");
    tsa_rbuf r;
    tsa_rbuf_init(&r, bytes + MAGIC_LEN, len - MAGIC_LEN - 4);
    uint32_t format, libver;
    tsa_rbuf_u32(&r, &format);
    tsa_rbuf_u32(&r, &libver);
    if (format > FORMAT_VERSION || format == 0)
        return tsa_error(TSA_EVERSION,
                         "model data: format version %u, this libtsa %s reads up to %u", format,
                         TSA_VERSION_STRING, FORMAT_VERSION);
    uint32_t stored_crc = (uint32_t)bytes[len - 4] | (uint32_t)bytes[len - 3] << 8 |
                          (uint32_t)bytes[len - 2] << 16 | (uint32_t)bytes[len - 1] << 24;
    if (tsa_crc32(0, bytes, len - 4) != stored_crc)
        return bad("checksum mismatch (truncated or corrupted)");

    char *kind_name = NULL, *params_json = NULL;
    tsa_params *given = NULL;
    tsa_model *m = NULL;
    tsa_status rc = TSA_OK;
    if (tsa_rbuf_str(&r, 64, &kind_name) != 0 || tsa_rbuf_str(&r, MAX_STR, &params_json) != 0) {
        rc = bad("truncated kind or parameters");
        goto fail;
    }
    if (!tsa_kind_find(kind_name)) {
        rc = tsa_error(TSA_EUNKNOWN_KIND, "model data: unknown kind '%.64s'", kind_name);
        goto fail;
    }
    if (tsa_params_from_json(params_json, &given) != TSA_OK ||
        tsa_model_create(kind_name, given, &m) != TSA_OK) {
        char why[256];
        snprintf(why, sizeof why, "invalid parameters (%s)", tsa_last_error());
        rc = bad(why);
        goto fail;
    }
    uint8_t fitted = 0;
    if (tsa_rbuf_u8(&r, &fitted) != 0 || fitted > 1) {
        rc = bad("bad fitted flag");
        goto fail;
    }
    if (fitted) {
        uint64_t n_features, n_train, tail_len, payload_len;
        uint8_t has_ts;
        int64_t last_ts, step;
        if (tsa_rbuf_u64(&r, &n_features) || tsa_rbuf_u64(&r, &n_train) ||
            tsa_rbuf_u8(&r, &has_ts) || tsa_rbuf_i64(&r, &last_ts) || tsa_rbuf_i64(&r, &step) ||
            tsa_rbuf_u64(&r, &tail_len)) {
            rc = bad("truncated model header");
            goto fail;
        }
        if (n_features == 0 || n_features > MAX_FEATURES || has_ts > 1 || n_train == 0 ||
            tail_len > n_train || step < 0 ||
            (!(m->kind->caps & TSA_CAP_MULTIVARIATE) && n_features != 1)) {
            rc = bad("inconsistent model header");
            goto fail;
        }
        if (tail_len > tsa_rbuf_remaining(&r) / 8 / n_features) {
            rc = bad("truncated training tail");
            goto fail;
        }
        m->n_features = (size_t)n_features;
        m->n_train = (size_t)n_train;
        m->has_timestamps = has_ts;
        m->last_timestamp = last_ts;
        m->timestamp_step = step;
        m->tail_len = (size_t)tail_len;
        if (tsa_rbuf_f64s_alloc(&r, m->tail_len * m->n_features, &m->tail) != 0) {
            rc = bad("truncated training tail");
            goto fail;
        }
        if (tsa_rbuf_u64(&r, &payload_len) != 0 || payload_len != tsa_rbuf_remaining(&r)) {
            rc = bad("payload length does not match the data");
            goto fail;
        }
        void *state = calloc(1, m->kind->state_size ? m->kind->state_size : 1);
        if (!state) {
            rc = tsa_error(TSA_ENOMEM, "load: out of memory");
            goto fail;
        }
        tsa_rbuf payload;
        tsa_rbuf_init(&payload, r.data + r.pos, (size_t)payload_len);
        rc = m->kind->load(m, state, &payload);
        if (rc == TSA_OK && (payload.failed || tsa_rbuf_remaining(&payload) != 0))
            rc = bad(payload.failed ? "truncated payload" : "trailing bytes in payload");
        else if (rc != TSA_OK && rc != TSA_ENOMEM && rc != TSA_EFORMAT)
            rc = bad(tsa_last_error());
        if (rc != TSA_OK) {
            if (m->kind->destroy)
                m->kind->destroy(state);
            free(state);
            goto fail;
        }
        m->state = state;
        m->fitted = 1;
        /* Every tail value must be finite: forecasts start from it. */
        for (size_t i = 0; i < m->tail_len * m->n_features; i++)
            if (!isfinite(m->tail[i])) {
                rc = bad("non-finite value in the training tail");
                goto fail;
            }
        if (m->tail_len < tsa_model_context_length(m)) {
            rc = bad("training tail shorter than the model's context");
            goto fail;
        }
    } else if (tsa_rbuf_remaining(&r) != 0) {
        rc = bad("trailing bytes after an unfitted model");
        goto fail;
    }
    free(kind_name);
    free(params_json);
    tsa_params_free(given);
    *out = m;
    return TSA_OK;
fail:
    free(kind_name);
    free(params_json);
    tsa_params_free(given);
    tsa_model_free(m);
    return rc;
}

TSA_API tsa_status tsa_model_save_file(const tsa_model *m, const char *path)
{
    TSA_FAIL_IF(!path || !*path, TSA_EINVAL, "path: must be a non-empty string");
    void *buf;
    size_t len;
    TSA_TRY(tsa_model_save(m, &buf, &len));
    size_t plen = strlen(path);
    char *tmp = malloc(plen + 32);
    if (!tmp) {
        free(buf);
        return tsa_error(TSA_ENOMEM, "save: out of memory");
    }
    snprintf(tmp, plen + 32, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    tsa_status rc = TSA_OK;
    if (!f) {
        rc = tsa_error(TSA_EIO, "%s: cannot create: %s", tmp, strerror(errno));
    } else {
        int ok = fwrite(buf, 1, len, f) == len;
        ok = fflush(f) == 0 && ok;
        ok = fsync(fileno(f)) == 0 && ok;
        int err = errno;
        ok = fclose(f) == 0 && ok;
        if (!ok)
            rc = tsa_error(TSA_EIO, "%s: write failed: %s", tmp, strerror(err ? err : errno));
        else if (rename(tmp, path) != 0)
            rc = tsa_error(TSA_EIO, "%s: cannot rename into place: %s", path, strerror(errno));
        if (rc != TSA_OK)
            unlink(tmp);
    }
    free(tmp);
    free(buf);
    return rc;
}

TSA_API tsa_status tsa_model_load_file(const char *path, tsa_model **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = NULL;
    TSA_FAIL_IF(!path || !*path, TSA_EINVAL, "path: must be a non-empty string");
    FILE *f = fopen(path, "rb");
    TSA_FAIL_IF(!f, TSA_EIO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    uint8_t *buf = malloc(cap);
    tsa_status rc = TSA_OK;
    while (buf) {
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (len < cap) {
            if (ferror(f))
                rc = tsa_error(TSA_EIO, "%s: read failed: %s", path, strerror(errno));
            break;
        }
        uint8_t *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = bigger;
        cap *= 2;
    }
    fclose(f);
    if (!buf)
        return tsa_error(TSA_ENOMEM, "%s: out of memory reading", path);
    if (rc == TSA_OK)
        rc = tsa_model_load(buf, len, out);
    free(buf);
    return rc;
}
