/* Tests of libtsa/io/modelfile.c: round trips, and truncated, corrupted and
 * foreign data always failing cleanly. */
#include <tsa/tsa.h>
#include <unistd.h>

#include "core/buf.h"
#include "harness.h"

/* A fitted VAR on a small simulated two-feature series. */
static tsa_model *fitted_model(void)
{
    static double v[2 * 300];
    double a = 0, b = 0;
    unsigned x = 12345;
    for (int t = 0; t < 300; t++) {
        x = x * 1103515245u + 12345u;
        double e1 = ((x >> 8) % 1000) / 1000.0 - 0.5;
        x = x * 1103515245u + 12345u;
        double e2 = ((x >> 8) % 1000) / 1000.0 - 0.5;
        double na = 0.5 * a + 0.1 * b + e1, nb = 0.2 * a + 0.3 * b + e2;
        a = na;
        b = nb;
        v[2 * t] = a;
        v[2 * t + 1] = b;
    }
    tsa_series s = tsa_series_view(v, 300, 2);
    tsa_model *m = NULL;
    if (tsa_model_create("multivariate", NULL, &m) != TSA_OK || tsa_model_fit(m, &s, NULL) != TSA_OK) {
        printf("# setup failed: %s\n", tsa_last_error());
        tsa_model_free(m);
        return NULL;
    }
    return m;
}

static int same_forecast(const tsa_model *a, const tsa_model *b)
{
    tsa_forecast *fa = NULL, *fb = NULL;
    int same = tsa_model_forecast(a, NULL, 7, 0.9, &fa) == TSA_OK &&
               tsa_model_forecast(b, NULL, 7, 0.9, &fb) == TSA_OK &&
               memcmp(fa->mean, fb->mean, 14 * sizeof(double)) == 0 &&
               memcmp(fa->lower, fb->lower, 14 * sizeof(double)) == 0 &&
               memcmp(fa->upper, fb->upper, 14 * sizeof(double)) == 0;
    tsa_forecast_free(fa);
    tsa_forecast_free(fb);
    return same;
}

TEST(round_trip_fitted)
{
    tsa_model *m = fitted_model(), *l = NULL;
    CHECK(m != NULL);
    void *buf;
    size_t len;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    CHECK(len > 16 && memcmp(buf, "TSAMODEL", 8) == 0);
    CHECK_OK(tsa_model_load(buf, len, &l));
    CHECK(l && tsa_model_is_fitted(l));
    CHECK(tsa_model_n_features(l) == 2);
    CHECK(same_forecast(m, l));
    /* Saving the loaded model reproduces the bytes. */
    void *buf2;
    size_t len2;
    CHECK_OK(tsa_model_save(l, &buf2, &len2));
    CHECK(len2 == len && memcmp(buf, buf2, len) == 0);
    tsa_free(buf);
    tsa_free(buf2);
    tsa_model_free(m);
    tsa_model_free(l);
}

TEST(round_trip_unfitted)
{
    tsa_params *p;
    tsa_params_create(&p);
    tsa_params_set_int(p, "max_lags", 4);
    tsa_model *m, *l = NULL;
    CHECK_OK(tsa_model_create("multivariate", p, &m));
    void *buf;
    size_t len;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    CHECK_OK(tsa_model_load(buf, len, &l));
    CHECK(l && !tsa_model_is_fitted(l));
    tsa_params *q = NULL;
    int64_t lags = 0;
    CHECK_OK(tsa_model_params(l, &q));
    CHECK_OK(tsa_params_get_int(q, "max_lags", &lags));
    CHECK(lags == 4);
    tsa_params_free(q);
    tsa_params_free(p);
    tsa_free(buf);
    tsa_model_free(m);
    tsa_model_free(l);
}

TEST(every_truncation_fails)
{
    tsa_model *m = fitted_model(), *l;
    void *buf;
    size_t len;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    for (size_t n = 0; n < len; n++) {
        /* A fresh heap copy of exactly n bytes, so ASan sees any overread. */
        void *cut = malloc(n ? n : 1);
        memcpy(cut, buf, n);
        l = (tsa_model *)1;
        tsa_status rc = tsa_model_load(cut, n, &l);
        CHECK_MSG(rc == TSA_EFORMAT && l == NULL, "length %zu: %s", n, tsa_status_name(rc));
        free(cut);
    }
    tsa_free(buf);
    tsa_model_free(m);
}

TEST(every_byte_flip_fails)
{
    tsa_model *m = fitted_model(), *l;
    void *buf;
    size_t len;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    uint8_t *b = buf;
    for (size_t i = 0; i < len; i++) {
        b[i] ^= 0x5a;
        l = NULL;
        tsa_status rc = tsa_model_load(b, len, &l);
        CHECK_MSG((rc == TSA_EFORMAT || rc == TSA_EVERSION) && l == NULL, "byte %zu: %s", i,
                  tsa_status_name(rc));
        b[i] ^= 0x5a;
    }
    tsa_free(buf);
    tsa_model_free(m);
}

/* Corruptions that keep the checksum valid reach the inner parsers. */
TEST(forged_checksums_never_crash)
{
    tsa_model *m = fitted_model(), *l;
    void *buf;
    size_t len;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    uint8_t *copy = malloc(len);
    unsigned x = 99;
    size_t loaded = 0;
    for (int trial = 0; trial < 3000; trial++) {
        memcpy(copy, buf, len);
        int flips = 1 + trial % 4;
        for (int f = 0; f < flips; f++) {
            x = x * 1664525u + 1013904223u;
            size_t at = 12 + (x >> 4) % (len - 16); /* past magic and version */
            x = x * 1664525u + 1013904223u;
            copy[at] = (uint8_t)(x >> 24);
        }
        uint32_t crc = tsa_crc32(0, copy, len - 4);
        for (int i = 0; i < 4; i++)
            copy[len - 4 + i] = (uint8_t)(crc >> (8 * i));
        l = NULL;
        tsa_status rc = tsa_model_load(copy, len, &l);
        if (rc == TSA_OK) {
            loaded++;
            /* Whatever loaded must be usable without crashing. */
            tsa_forecast *fc = NULL;
            if (tsa_model_forecast(l, NULL, 3, 0.9, &fc) == TSA_OK)
                tsa_forecast_free(fc);
            tsa_model_free(l);
        } else {
            CHECK(l == NULL);
        }
    }
    printf("# %zu of 3000 forged files loaded (changed numbers only)\n", loaded);
    free(copy);
    tsa_free(buf);
    tsa_model_free(m);
}

TEST(foreign_and_bad_arguments)
{
    tsa_model *l = (tsa_model *)1;
    const char zip[] = "PK\x03\x04 this is not a model at all";
    CHECK_STATUS(tsa_model_load(zip, sizeof zip, &l), TSA_EFORMAT);
    CHECK(l == NULL);
    CHECK_ERROR_MENTIONS("magic");
    CHECK_STATUS(tsa_model_load(NULL, 10, &l), TSA_EINVAL);
    CHECK_STATUS(tsa_model_load(zip, sizeof zip, NULL), TSA_EINVAL);
    /* A future format version. */
    uint8_t hdr[32] = "TSAMODEL";
    hdr[8] = 9;
    CHECK_STATUS(tsa_model_load(hdr, sizeof hdr, &l), TSA_EVERSION);
    void *buf;
    size_t len;
    CHECK_STATUS(tsa_model_save(NULL, &buf, &len), TSA_EINVAL);
}

TEST(files)
{
    tsa_model *m = fitted_model(), *l = NULL;
    char path[] = "/tmp/tsa-modelfile-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    CHECK_OK(tsa_model_save_file(m, path));
    CHECK_OK(tsa_model_load_file(path, &l));
    CHECK(l && same_forecast(m, l));
    tsa_model_free(l);
    /* A truncated file. */
    FILE *f = fopen(path, "r+b");
    CHECK(f && ftruncate(fileno(f), 40) == 0);
    fclose(f);
    CHECK_STATUS(tsa_model_load_file(path, &l), TSA_EFORMAT);
    unlink(path);
    CHECK_STATUS(tsa_model_load_file(path, &l), TSA_EIO);
    CHECK_ERROR_MENTIONS(path);
    CHECK_STATUS(tsa_model_save_file(m, "/nonexistent-dir/m.tsa"), TSA_EIO);
    CHECK_STATUS(tsa_model_save_file(m, ""), TSA_EINVAL);
    tsa_model_free(m);
}

TEST_LIST(TEST_CASE(round_trip_fitted), TEST_CASE(round_trip_unfitted),
          TEST_CASE(every_truncation_fails), TEST_CASE(every_byte_flip_fails),
          TEST_CASE(forged_checksums_never_crash), TEST_CASE(foreign_and_bad_arguments),
          TEST_CASE(files))
