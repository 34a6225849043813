/* Checks shared by the tests of the neural kinds (tests/unit/models/lstm.c,
 * cnn.c, transformer.c, cnn_lstm.c), through the public API plus the
 * fitted state (nn/forecaster.h) for weight comparisons.
 *
 * Data: tsa_generate's default series (trend + period-24 seasonality +
 * N(0, 0.1^2) noise), 3,200 steps; models train on the first 3,000. The
 * same seed with spikes gives the same series plus 6-sigma spikes. */
#ifndef TSA_TEST_KINDCHECK_H
#define TSA_TEST_KINDCHECK_H

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <tsa/tsa.h>

#include "models/kind.h"
#include "nn/forecaster.h"

#include "harness.h"

enum { KC_N = 3200, KC_TRAIN = 3000, KC_SPIKES = 40, KC_PERIOD = 24 };

static tsa_generated *kc_clean_, *kc_spiked_, *kc_multi_;

static void kc_data(void)
{
    if (kc_clean_)
        return;
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    o.n_samples = KC_N;
    o.seed = 7;
    if (tsa_generate(&o, &kc_clean_) != TSA_OK)
        printf("# generate: %s\n", tsa_last_error());
    o.n_anomalies = KC_SPIKES;
    if (tsa_generate(&o, &kc_spiked_) != TSA_OK)
        printf("# generate: %s\n", tsa_last_error());
    o.n_anomalies = 0;
    o.n_features = 3;
    o.n_samples = 1200;
    if (tsa_generate(&o, &kc_multi_) != TSA_OK)
        printf("# generate: %s\n", tsa_last_error());
}

static tsa_params *kc_params(const char *json)
{
    tsa_params *p = NULL;
    if (tsa_params_from_json(json ? json : "{}", &p) != TSA_OK)
        printf("# params %s: %s\n", json, tsa_last_error());
    return p;
}

/* Creates and fits @kind on the first @n rows of @values (k features). */
static tsa_model *kc_fit(const char *kind, const char *json, const double *values, size_t n,
                         size_t k, const tsa_fit_options *opts)
{
    tsa_params *p = kc_params(json);
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create(kind, p, &m);
    tsa_params_free(p);
    if (rc != TSA_OK) {
        printf("# create %s %s: %s\n", kind, json, tsa_last_error());
        return NULL;
    }
    tsa_series s = tsa_series_view(values, n, k);
    rc = tsa_model_fit(m, &s, opts);
    if (rc != TSA_OK) {
        printf("# fit %s %s: %s\n", kind, json, tsa_last_error());
        tsa_model_free(m);
        return NULL;
    }
    return m;
}

static const tsa_nn_state *kc_state(const tsa_model *m) { return m->state; }

static cJSON *kc_info(const tsa_model *m, cJSON **root)
{
    char *json = NULL;
    *root = NULL;
    if (tsa_model_info_json(m, &json) != TSA_OK)
        return NULL;
    *root = cJSON_Parse(json);
    tsa_free(json);
    return *root ? cJSON_GetObjectItem(*root, "state") : NULL;
}

static double kc_num(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* The model (fitted on the clean training rows) beats a seasonal-naive
 * forecast on the one-step RMSE of the validation windows, and its forecast
 * of the next 24 steps beats the seasonal-naive forecast too. */
static void kc_check_accuracy(const tsa_model *m, const char *what)
{
    const double *y = kc_clean_->values;
    cJSON *root, *st = kc_info(m, &root);
    CHECK(st != NULL);
    if (!st)
        return;
    double rmse = cJSON_GetArrayItem(cJSON_GetObjectItem(st, "one_step_rmse"), 0)->valuedouble;
    size_t n_val = (size_t)kc_num(st, "validation_windows");
    CHECK(n_val > 100 && n_val < KC_TRAIN);
    double ss = 0;
    for (size_t t = KC_TRAIN - n_val; t < KC_TRAIN; t++)
        ss += (y[t] - y[t - KC_PERIOD]) * (y[t] - y[t - KC_PERIOD]);
    double naive = sqrt(ss / (double)n_val);

    tsa_forecast *fc = NULL;
    double fe = 0, ne = 0;
    CHECK_OK(tsa_model_forecast(m, NULL, KC_PERIOD, 0.9, &fc));
    if (fc) {
        for (size_t h = 0; h < KC_PERIOD; h++) {
            double truth = y[KC_TRAIN + h];
            fe += (fc->mean[h] - truth) * (fc->mean[h] - truth);
            ne += (y[KC_TRAIN + h - KC_PERIOD] - truth) * (y[KC_TRAIN + h - KC_PERIOD] - truth);
            CHECK(fc->lower[h] < fc->mean[h] && fc->mean[h] < fc->upper[h]);
            if (h)
                CHECK(fc->upper[h] - fc->lower[h] >= fc->upper[h - 1] - fc->lower[h - 1] - 1e-12);
        }
        fe = sqrt(fe / KC_PERIOD);
        ne = sqrt(ne / KC_PERIOD);
        CHECK(fc->timestamps == NULL);
    }
    tsa_forecast_free(fc);
    printf("# %s: epochs %g (best %g), %.2f s; one-step val RMSE %.4f vs seasonal naive %.4f; "
           "24-step forecast RMSE %.4f vs %.4f\n",
           what, kc_num(st, "epochs_run"), kc_num(st, "best_epoch"), kc_num(st, "fit_seconds"),
           rmse, naive, fe, ne);
    CHECK(rmse < naive);
    CHECK(fe < ne);
    cJSON_Delete(root);
}

/* Detection on the spiked series. The calibrated score is the probability
 * that a normal step scores lower, so at threshold 0.95 about 5% of normal
 * steps are flagged by design (@max_false_rate allows for the sampling
 * error of a quantile estimated from ~600 held-out windows); at 0.99 about
 * 1%, checked against 2%. At least 90% of the spikes must be found at both. */
static void kc_check_detect(const tsa_model *m, double max_false_rate)
{
    tsa_series x = tsa_series_view(kc_spiked_->values, KC_N, 1);
    tsa_detection *d = NULL;
    CHECK_OK(tsa_model_detect(m, &x, 0.95, &d));
    if (!d)
        return;
    const size_t L = tsa_model_context_length(m);
    size_t spikes = 0, found = 0, false_flags = 0, normal = 0;
    for (size_t t = L; t < KC_N; t++) {
        if (kc_spiked_->labels[t]) {
            spikes++;
            found += d->flags[t];
        } else {
            normal++;
            false_flags += d->flags[t];
        }
    }
    for (size_t t = 0; t < L; t++)
        CHECK(d->raw[t] == 0.0 && d->calibrated[t] == 0.0 && !d->flags[t]);
    double recall = (double)found / (double)spikes, fr = (double)false_flags / (double)normal;
    printf("# detect at 0.95: %zu/%zu spikes (%.1f%%), %zu false flags in %zu normal steps "
           "(%.2f%%)\n",
           found, spikes, 100 * recall, false_flags, normal, 100 * fr);
    CHECK(recall >= 0.9);
    CHECK(fr <= max_false_rate);
    /* At 0.99 hardly any normal step is flagged. */
    tsa_detection *d99 = NULL;
    CHECK_OK(tsa_model_detect(m, &x, 0.99, &d99));
    if (d99) {
        size_t f99 = 0, s99 = 0;
        for (size_t t = L; t < KC_N; t++) {
            f99 += d99->flags[t] && !kc_spiked_->labels[t];
            s99 += d99->flags[t] && kc_spiked_->labels[t];
        }
        printf("# detect at 0.99: %zu/%zu spikes, %.2f%% false flags\n", s99, spikes,
               100.0 * (double)f99 / (double)normal);
        CHECK((double)f99 / (double)normal <= 0.02);
        CHECK((double)s99 / (double)spikes >= 0.9);
    }
    tsa_detection_free(d99);
    tsa_detection_free(d);
}

/* Save, load: forecasts, scores and info identical to the bit; every
 * truncation and a flipped weight byte fail cleanly. */
static void kc_check_save_load(const tsa_model *m)
{
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    if (!buf)
        return;
    tsa_model *u = NULL;
    CHECK_OK(tsa_model_load(buf, len, &u));
    if (u) {
        const size_t H = 40;
        tsa_forecast *a = NULL, *b = NULL;
        CHECK_OK(tsa_model_forecast(m, NULL, H, 0.8, &a));
        CHECK_OK(tsa_model_forecast(u, NULL, H, 0.8, &b));
        if (a && b)
            CHECK(memcmp(a->mean, b->mean, H * sizeof(double)) == 0 &&
                  memcmp(a->lower, b->lower, H * sizeof(double)) == 0 &&
                  memcmp(a->upper, b->upper, H * sizeof(double)) == 0);
        tsa_forecast_free(a);
        tsa_forecast_free(b);
        static double r1[KC_N], r2[KC_N], c1[KC_N], c2[KC_N];
        tsa_series x = tsa_series_view(kc_spiked_->values, KC_N, 1);
        CHECK_OK(tsa_model_score(m, &x, r1, c1));
        CHECK_OK(tsa_model_score(u, &x, r2, c2));
        CHECK(memcmp(r1, r2, sizeof r1) == 0 && memcmp(c1, c2, sizeof c1) == 0);
        char *j1 = NULL, *j2 = NULL;
        CHECK_OK(tsa_model_info_json(m, &j1));
        CHECK_OK(tsa_model_info_json(u, &j2));
        CHECK(j1 && j2 && strcmp(j1, j2) == 0);
        tsa_free(j1);
        tsa_free(j2);
        const tsa_nn_state *s1 = kc_state(m), *s2 = kc_state(u);
        CHECK(s1->n_params == s2->n_params &&
              memcmp(s1->w, s2->w, s1->n_params * sizeof(float)) == 0);
    }
    tsa_model_free(u);

    size_t bad = 0, step = len > 4000 ? len / 2000 : 1;
    for (size_t n = 0; n < len; n += step) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        tsa_model *t = NULL;
        if (tsa_model_load(copy, n, &t) == TSA_OK || t)
            bad++;
        tsa_model_free(t);
        free(copy);
    }
    printf("# %zu-byte model file: %zu truncations loaded\n", len, bad);
    CHECK(bad == 0);
    tsa_free(buf);

    /* The kind's own loader on its payload (past the file's checksum):
     * every truncation, a NaN weight and a wrong weight count fail with
     * TSA_EFORMAT and release what they allocated. */
    tsa_wbuf w;
    tsa_wbuf_init(&w);
    CHECK_OK(m->kind->save(m, &w));
    size_t fails = 0, tried = 0;
    for (size_t n = 0; n <= w.len; n += (n < 64 || n + 97 + 64 > w.len) ? 1 : 97) {
        void *st = calloc(1, m->kind->state_size);
        tsa_rbuf r;
        tsa_rbuf_init(&r, w.data, n);
        tsa_status rc = m->kind->load(m, st, &r);
        tried++;
        if (n < w.len && rc != TSA_EFORMAT)
            printf("# truncated payload of %zu bytes: %s (%s)\n", n, tsa_status_name(rc),
                   tsa_last_error());
        if (n < w.len)
            fails += rc == TSA_EFORMAT;
        else
            CHECK(rc == TSA_OK && tsa_rbuf_remaining(&r) == 0);
        m->kind->destroy(st);
        free(st);
    }
    CHECK(fails + 1 == tried);
    uint8_t *copy = malloc(w.len);
    const size_t w_at = 4 + 3 * 8 + 1 + 8; /* the first weight (see tsa_nn_save) */
    const struct {
        size_t at;
        uint8_t bytes[8];
        size_t n;
    } edits[] = {
        {w_at, {0x00, 0x00, 0xc0, 0x7f}, 4},  /* NaN */
        {w_at - 8, {0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 8}, /* 1 weight */
        {4, {0x09, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00}, 8},         /* 9 features */
        {0, {0x02, 0x00, 0x00, 0x00}, 4},                                 /* format 2 */
    };
    for (size_t e = 0; e < sizeof edits / sizeof edits[0]; e++) {
        memcpy(copy, w.data, w.len);
        memcpy(copy + edits[e].at, edits[e].bytes, edits[e].n);
        void *st = calloc(1, m->kind->state_size);
        tsa_rbuf r;
        tsa_rbuf_init(&r, copy, w.len);
        CHECK_STATUS(m->kind->load(m, st, &r), TSA_EFORMAT);
        m->kind->destroy(st);
        free(st);
    }
    printf("# payload of %zu bytes: %zu truncations and %zu edits rejected\n", w.len, fails,
           sizeof edits / sizeof edits[0]);
    free(copy);
    tsa_wbuf_free(&w);
}

/* The same seed gives the same weights bit for bit; another seed differs. */
static void kc_check_determinism(const char *kind, const char *json)
{
    kc_data();
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    o.epochs = 2;
    const double *y = kc_clean_->values;
    tsa_model *a = kc_fit(kind, json, y, 1000, 1, &o);
    tsa_model *b = kc_fit(kind, json, y, 1000, 1, &o);
    o.seed = 1234;
    tsa_model *c = kc_fit(kind, json, y, 1000, 1, &o);
    CHECK(a && b && c);
    if (a && b && c) {
        const tsa_nn_state *sa = kc_state(a), *sb = kc_state(b), *sc = kc_state(c);
        size_t n = sa->n_params;
        CHECK(n == sb->n_params && n == sc->n_params);
        CHECK(memcmp(sa->w, sb->w, n * sizeof(float)) == 0);
        CHECK(memcmp(sa->w, sc->w, n * sizeof(float)) != 0);
        CHECK(sa->tr.train_loss == sb->tr.train_loss && sa->tr.val_loss == sb->tr.val_loss);
        printf("# determinism: %zu weights equal for one seed, differ for another\n", n);
    }
    tsa_model_free(a);
    tsa_model_free(b);
    tsa_model_free(c);
}

typedef struct kc_progress {
    int64_t calls, cancel_at, total;
    int ok;
} kc_progress;

static int kc_on_progress(const tsa_progress *p, void *user)
{
    kc_progress *s = user;
    s->calls++;
    s->total = p->total;
    s->ok &= strcmp(p->stage, "epoch") == 0 && p->step == s->calls && isfinite(p->train_loss) &&
             p->train_loss >= 0 && isfinite(p->val_loss) && p->elapsed_s >= 0;
    return p->step == s->cancel_at;
}

/* Progress once per epoch with finite losses; cancelling returns
 * TSA_ECANCELED and leaves a fresh model unfitted, a fitted one as it was. */
static void kc_check_progress_cancel(const char *kind, const char *json)
{
    kc_data();
    tsa_params *p = kc_params(json);
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create(kind, p, &m));
    tsa_params_free(p);
    if (!m)
        return;
    tsa_series s = tsa_series_view(kc_clean_->values, 800, 1);
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    o.epochs = 3;
    kc_progress st = {0, -1, 0, 1};
    o.progress = kc_on_progress;
    o.user = &st;
    kc_progress stop = {0, 2, 0, 1};
    tsa_fit_options oc = o;
    oc.user = &stop;
    CHECK_STATUS(tsa_model_fit(m, &s, &oc), TSA_ECANCELED);
    CHECK_ERROR_MENTIONS("cancel");
    CHECK(stop.calls == 2 && stop.ok);
    CHECK(!tsa_model_is_fitted(m));
    CHECK_OK(tsa_model_fit(m, &s, &o));
    CHECK(st.ok && st.calls >= 1 && st.calls <= 3 && st.total == 3);
    tsa_forecast *f1 = NULL, *f2 = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, 5, 0.9, &f1));
    stop.calls = 0;
    CHECK_STATUS(tsa_model_fit(m, &s, &oc), TSA_ECANCELED);
    CHECK(tsa_model_is_fitted(m));
    CHECK_OK(tsa_model_forecast(m, NULL, 5, 0.9, &f2));
    if (f1 && f2)
        CHECK(memcmp(f1->mean, f2->mean, 5 * sizeof(double)) == 0);
    tsa_forecast_free(f1);
    tsa_forecast_free(f2);
    tsa_model_free(m);
}

/* Out-of-range and unknown keys fail at creation with TSA_EPARAM naming the
 * key. */
static void kc_check_param(const char *kind, const char *json, const char *key)
{
    tsa_params *p = kc_params(json);
    tsa_model *m = NULL;
    CHECK_STATUS(tsa_model_create(kind, p, &m), TSA_EPARAM);
    CHECK(m == NULL);
    CHECK_ERROR_MENTIONS(key);
    tsa_params_free(p);
}

static void kc_check_common_params(const char *kind)
{
    /* The kind describes its keys, defaults and bounds as JSON. */
    char *json = NULL;
    CHECK_OK(tsa_kind_info_json(kind, &json));
    cJSON *root = json ? cJSON_Parse(json) : NULL;
    tsa_free(json);
    cJSON *params = cJSON_GetObjectItem(root, "params");
    if (!params)
        params = cJSON_GetObjectItem(root, "parameters");
    int seen = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, params)
    {
        const cJSON *name = cJSON_GetObjectItem(it, "name");
        if (!cJSON_IsString(name))
            continue;
        if (strcmp(name->valuestring, "epochs") == 0) {
            seen++;
            CHECK(kc_num(it, "default") == 100 && kc_num(it, "minimum") == 1 &&
                  kc_num(it, "maximum") == 100000);
        } else if (strcmp(name->valuestring, "optimizer") == 0) {
            seen++;
            CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(it, "choices")) == 2);
        } else if (strcmp(name->valuestring, "validation_split") == 0) {
            seen++;
            CHECK(kc_num(it, "default") == 0.2 && kc_num(it, "maximum") == 0.9);
        }
    }
    CHECK_MSG(seen == 3, "kind info of %s lists %d of the 3 keys checked", kind, seen);
    cJSON_Delete(root);

    kc_check_param(kind, "{\"epochs\": 0}", "epochs");
    kc_check_param(kind, "{\"prediction_length\": 1001}", "prediction_length");
    kc_check_param(kind, "{\"learning_rate\": 0}", "learning_rate");
    kc_check_param(kind, "{\"validation_split\": 0.95}", "validation_split");
    kc_check_param(kind, "{\"dropout\": 1}", "dropout");
    kc_check_param(kind, "{\"batch_size\": 0}", "batch_size");
    kc_check_param(kind, "{\"optimizer\": \"sgd\"}", "optimizer");
    kc_check_param(kind, "{\"no_such_key\": 1}", "no_such_key");
    /* Too short a series for the window: TSA_ETOOSHORT. */
    kc_data();
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create(kind, NULL, &m));
    if (m) {
        tsa_series s = tsa_series_view(kc_clean_->values, 31, 1); /* one window */
        CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ETOOSHORT);
        CHECK(!tsa_model_is_fitted(m));
        tsa_forecast *fc = NULL;
        CHECK_STATUS(tsa_model_forecast(m, NULL, 3, 0.9, &fc), TSA_ENOTFITTED);
    }
    tsa_model_free(m);
}

/* Several features in, all predicted; a horizon beyond prediction_length is
 * recursive and its intervals keep widening; a short history fails. */
static void kc_check_multivariate(const char *kind, const char *json, size_t P)
{
    kc_data();
    const size_t K = 3, n = kc_multi_->length;
    tsa_model *m = kc_fit(kind, json, kc_multi_->values, n, K, NULL);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(tsa_model_n_features(m) == K);
    const size_t H = 3 * P + 2, L = tsa_model_context_length(m);
    tsa_forecast *fc = NULL;
    tsa_series hist = tsa_series_view(kc_multi_->values, L, K);
    CHECK_OK(tsa_model_forecast(m, &hist, H, 0.9, &fc));
    if (fc) {
        CHECK(fc->horizon == H && fc->n_features == K);
        for (size_t f = 0; f < K; f++)
            for (size_t h = 1; h < H; h++)
                CHECK(fc->upper[h * K + f] - fc->lower[h * K + f] >=
                      fc->upper[(h - 1) * K + f] - fc->lower[(h - 1) * K + f] - 1e-12);
        /* Beyond the head the width grows like sqrt(h / P). */
        double w0 = fc->upper[(P - 1) * K] - fc->lower[(P - 1) * K];
        double w1 = fc->upper[(2 * P - 1) * K] - fc->lower[(2 * P - 1) * K];
        CHECK_NEAR(w1 / w0, sqrt(2.0), 1e-9);
        for (size_t i = 0; i < H * K; i++)
            CHECK(isfinite(fc->mean[i]));
    }
    tsa_forecast_free(fc);
    fc = NULL;
    hist.length = L - 1;
    CHECK_STATUS(tsa_model_forecast(m, &hist, 2, 0.9, &fc), TSA_ETOOSHORT);
    tsa_series wrong = tsa_series_view(kc_clean_->values, 100, 1);
    CHECK_STATUS(tsa_model_forecast(m, &wrong, 2, 0.9, &fc), TSA_ESHAPE);
    double raw[100];
    CHECK_STATUS(tsa_model_score(m, &wrong, raw, NULL), TSA_ESHAPE);
    tsa_model_free(m);
}

/* ---- concurrency ------------------------------------------------------------- */

enum { KC_THREADS = 4, KC_ROUNDS = 6, KC_H = 10, KC_NS = 400 };

typedef struct kc_worker {
    const tsa_model *m;
    const double *ref_fc, *ref_raw;
    int bad;
} kc_worker;

static void *kc_work(void *p)
{
    kc_worker *w = p;
    tsa_series x = tsa_series_view(kc_spiked_->values, KC_NS, 1);
    double raw[KC_NS], cal[KC_NS];
    for (int r = 0; r < KC_ROUNDS; r++) {
        tsa_forecast *fc = NULL;
        if (tsa_model_forecast(w->m, NULL, KC_H, 0.9, &fc) != TSA_OK ||
            memcmp(fc->mean, w->ref_fc, KC_H * sizeof(double)) != 0)
            w->bad++;
        tsa_forecast_free(fc);
        if (tsa_model_score(w->m, &x, raw, cal) != TSA_OK ||
            memcmp(raw, w->ref_raw, sizeof raw) != 0)
            w->bad++;
    }
    return NULL;
}

/* forecast and score from several threads on one model equal the
 * single-threaded results bit for bit. */
static void kc_check_concurrency(const tsa_model *m)
{
    static double ref_fc[KC_H], ref_raw[KC_NS];
    double cal[KC_NS];
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, KC_H, 0.9, &fc));
    if (!fc)
        return;
    memcpy(ref_fc, fc->mean, sizeof ref_fc);
    tsa_forecast_free(fc);
    tsa_series x = tsa_series_view(kc_spiked_->values, KC_NS, 1);
    CHECK_OK(tsa_model_score(m, &x, ref_raw, cal));
    pthread_t th[KC_THREADS];
    kc_worker w[KC_THREADS];
    for (int i = 0; i < KC_THREADS; i++) {
        w[i] = (kc_worker){m, ref_fc, ref_raw, 0};
        CHECK(pthread_create(&th[i], NULL, kc_work, &w[i]) == 0);
    }
    int bad = 0;
    for (int i = 0; i < KC_THREADS; i++) {
        pthread_join(th[i], NULL);
        bad += w[i].bad;
    }
    printf("# %d threads x %d rounds: %d mismatches\n", KC_THREADS, KC_ROUNDS, bad);
    CHECK(bad == 0);
}

#endif
