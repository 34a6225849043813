/* The window forecaster shared by the neural kinds (see forecaster.h).
 *
 * Forecast intervals are split conformal (Vovk, Gammerman & Shafer 2005;
 * Lei et al. 2018, "Distribution-free predictive inference for regression"):
 * the absolute residuals of the held-out windows, per step ahead and
 * feature, give the interval half-width at the finite-sample level
 * ceil((n + 1) c) / n for coverage c. They widen with the step because the
 * residual quantiles of later steps are larger (made monotone here); steps
 * beyond prediction_length are forecast recursively and the last direct
 * width grows with sqrt(h / prediction_length), as a random walk's would.
 *
 * The anomaly score of step t is the mean over features of the squared
 * one-step prediction error in units of that feature's held-out RMS error
 * (a Mahalanobis distance with a diagonal covariance), calibrated by the
 * empirical CDF of the held-out windows' scores (anomaly/calibrate.h). */
#include "nn/forecaster.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "nn/window.h"

const char *const tsa_nn_optimizer_choices[] = {"adam", "adamw", NULL};

#define NN_FORMAT 1u

size_t tsa_nn_param_size(const tsa_model *m, const char *key)
{
    int64_t v = tsa_param_int(m, key);
    return v > 0 ? (size_t)v : 0;
}

static const tsa_nn_state *nn_state(const tsa_model *m)
{
    const tsa_nn_state *s = m->state;
    return s && s->w ? s : NULL;
}

void tsa_nn_destroy(void *state)
{
    tsa_nn_state *s = state;
    free(s->w);
    tsa_nn_net_free_prep(&s->net);
    free(s->mean);
    free(s->qtab);
    memset(s, 0, sizeof *s);
}

size_t tsa_nn_context_length(const tsa_model *m)
{
    const tsa_nn_state *s = nn_state(m);
    return s ? s->net.a.L : 0;
}

/* Allocates mean, scale, sigma1 (one block) and qtab. */
static tsa_status alloc_tables(tsa_nn_state *s, size_t F, size_t P)
{
    s->mean = malloc(3 * F * sizeof *s->mean);
    s->qtab = malloc(P * F * TSA_NN_LEVELS * sizeof *s->qtab);
    TSA_FAIL_IF(!s->mean || !s->qtab, TSA_ENOMEM, "fit: out of memory");
    s->scale = s->mean + F;
    s->sigma1 = s->mean + 2 * F;
    return TSA_OK;
}

/* @n rows of @x (n, F) in normalised units, as floats. */
static void normalise(const tsa_nn_state *s, const double *x, size_t n, float *z)
{
    const size_t F = s->net.a.F;
    for (size_t t = 0; t < n; t++)
        for (size_t f = 0; f < F; f++) {
            double v = (x[t * F + f] - s->mean[f]) / s->scale[f];
            /* Out of float's range is undefined in C: saturate to infinity. */
            z[t * F + f] = v > FLT_MAX ? INFINITY : v < -FLT_MAX ? -INFINITY : (float)v;
        }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Residual statistics of windows [first, first + n) of @d predicted by the
 * fitted weights: qtab, sigma1 and the calibrator. */
static tsa_status residual_stats(tsa_nn_state *s, const tsa_nn_windows *d, size_t first,
                                 size_t n)
{
    const size_t F = d->F, P = d->P, L = d->L, PF = P * F;
    float *pred = malloc(n * PF * sizeof *pred);
    double *r = malloc(n * PF * sizeof *r), *col = malloc(n * sizeof *col);
    tsa_nn_infer inf;
    tsa_status rc = TSA_OK;
    if (!pred || !r || !col) {
        rc = tsa_error(TSA_ENOMEM, "fit: out of memory");
        goto done;
    }
    TSA_CHECK_GOTO(tsa_nn_infer_init(&inf, &s->net, n, 0), rc, done);
    tsa_nn_infer_run(&inf, &s->net, s->w, d, first, n, pred);
    tsa_nn_infer_free(&inf);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < PF; k++)
            r[i * PF + k] = (double)d->z[(first + i + L) * F + k] - (double)pred[i * PF + k];
    for (size_t k = 0; k < PF; k++) {
        for (size_t i = 0; i < n; i++)
            col[i] = fabs(r[i * PF + k]);
        qsort(col, n, sizeof *col, cmp_double);
        double *q = s->qtab + k * TSA_NN_LEVELS;
        for (size_t l = 0; l < TSA_NN_LEVELS; l++) {
            double pos = (double)l / (TSA_NN_LEVELS - 1) * (double)(n - 1);
            size_t j = (size_t)pos;
            q[l] = j + 1 < n ? col[j] + (pos - (double)j) * (col[j + 1] - col[j]) : col[n - 1];
        }
    }
    for (size_t f = 0; f < F; f++) {
        double ss = 0.0;
        for (size_t i = 0; i < n; i++)
            ss += r[i * PF + f] * r[i * PF + f];
        double sd = sqrt(ss / (double)n);
        s->sigma1[f] = sd > 1e-6 ? sd : 1e-6;
    }
    for (size_t i = 0; i < n; i++) {
        double e = 0.0;
        for (size_t f = 0; f < F; f++) {
            double u = r[i * PF + f] / s->sigma1[f];
            e += u * u;
        }
        col[i] = e / (double)F;
    }
    rc = tsa_calibrator_fit(&s->cal, col, n);
    s->n_resid = n;
done:
    free(pred);
    free(r);
    free(col);
    return rc;
}

static tsa_status report_epoch(void *user, int64_t epoch, int64_t total, double train_loss,
                               double val_loss)
{
    return tsa_fit_report(user, "epoch", epoch, total, train_loss, val_loss);
}

tsa_status tsa_nn_fit(const tsa_model *m, tsa_nn_state *state, const tsa_nn_net *net,
                      const tsa_series *train, const tsa_fit_ctx *ctx, size_t *tail_len)
{
    const size_t F = train->n_features, N = train->length;
    const size_t L = net->a.L, P = net->a.P;
    const size_t np = net->ops->n_params(&net->a);
    TSA_FAIL_IF(np > TSA_NN_MAX_PARAMS, TSA_EPARAM,
                "%s: the network would have %zu parameters, more than the %zu allowed",
                net->ops->name, np, TSA_NN_MAX_PARAMS);

    tsa_nn_train_opts o;
    memset(&o, 0, sizeof o);
    o.epochs = ctx->epochs > 0 ? ctx->epochs : tsa_param_int(m, "epochs");
    o.batch = tsa_nn_param_size(m, "batch_size");
    o.lr = tsa_param_double(m, "learning_rate");
    o.weight_decay = tsa_param_double(m, "weight_decay");
    o.adamw = strcmp(tsa_param_str(m, "optimizer"), "adamw") == 0;
    o.clip = tsa_param_double(m, "clip_norm");
    o.patience = tsa_param_int(m, "patience");
    o.report = report_epoch;
    o.user = (void *)ctx;
    const double split_frac = tsa_param_double(m, "validation_split");

    size_t n_win = tsa_nn_window_count(N, L, P);
    tsa_nn_split split;
    TSA_FAIL_IF(n_win < 2 || tsa_nn_window_split(n_win, split_frac, P, &split) != 0 ||
                    (split.n_val < 2 && split.n_train < 2),
                TSA_ETOOSHORT,
                "train: %zu rows give %zu windows of %zu + %zu steps, too few for "
                "validation_split %g",
                N, n_win, L, P, split_frac);

    tsa_nn_state s;
    memset(&s, 0, sizeof s);
    s.net = *net;
    s.net.prep = NULL;
    s.n_params = np;
    s.centre = tsa_param_bool(m, "center_windows");
    s.w = tsa_nn_alloc(np);
    float *z = malloc(N * F * sizeof *z);
    tsa_status rc = TSA_OK;
    if (!s.w || !z) {
        rc = tsa_error(TSA_ENOMEM, "fit: out of memory");
        goto fail;
    }
    TSA_CHECK_GOTO(alloc_tables(&s, F, P), rc, fail);
    for (size_t f = 0; f < F; f++) {
        double mu = 0.0, ss = 0.0;
        for (size_t t = 0; t < N; t++)
            mu += train->values[t * F + f];
        mu /= (double)N;
        for (size_t t = 0; t < N; t++) {
            double d = train->values[t * F + f] - mu;
            ss += d * d;
        }
        double sd = sqrt(ss / (double)N);
        s.mean[f] = mu;
        /* A constant feature keeps unit scale rather than dividing by 0. */
        s.scale[f] = sd > 1e-12 * (1.0 + fabs(mu)) ? sd : 1.0;
    }
    normalise(&s, train->values, N, z);

    tsa_rng rng;
    tsa_rng_seed(&rng, ctx->seed);
    net->ops->init(&net->a, s.w, &rng);
    tsa_nn_windows d = {z, N, F, L, P, s.centre};
    /* One BLAS thread unless asked for more: the per-step products of these
     * networks are too small to split, and threads that spin waiting for
     * work slow training two to three times on a busy machine. */
    int prev_threads = tsa_nn_blas_threads(ctx->n_threads > 0 ? ctx->n_threads : 1);
    rc = tsa_nn_train(&s.net, s.w, &d, &split, &o, &rng, &s.tr);
    tsa_nn_blas_threads(prev_threads);
    if (rc != TSA_OK)
        goto fail;
    if (tsa_nn_net_cache_prep(&s.net) != 0) {
        rc = tsa_error(TSA_ENOMEM, "fit: out of memory");
        goto fail;
    }
    s.n_train_windows = split.n_train;
    s.n_val_windows = split.n_val;
    s.resid_val = split.n_val >= 2;
    if (s.resid_val)
        rc = residual_stats(&s, &d, split.val_start, split.n_val);
    else
        rc = residual_stats(&s, &d, 0, split.n_train);
    if (rc != TSA_OK)
        goto fail;
    free(z);
    tsa_nn_destroy(state);
    *state = s;
    *tail_len = L;
    return TSA_OK;
fail:
    free(z);
    tsa_nn_destroy(&s);
    return rc;
}

/* The conformal half-width (normalised units) of step h (0-based) and
 * feature f at coverage @interval. */
static double half_width(const tsa_nn_state *s, size_t h, size_t f, double interval)
{
    const size_t P = s->net.a.P, F = s->net.a.F;
    const double n = (double)s->n_resid;
    double level = interval * (n + 1.0) / n;
    if (level > 1.0)
        level = 1.0;
    double pos = level * (TSA_NN_LEVELS - 1);
    size_t j = (size_t)pos;
    if (j >= TSA_NN_LEVELS - 1)
        j = TSA_NN_LEVELS - 2;
    double fr = pos - (double)j;
    double w = 0.0;
    size_t last = h < P ? h : P - 1;
    for (size_t k = 0; k <= last; k++) { /* monotone in the step */
        const double *q = s->qtab + (k * F + f) * TSA_NN_LEVELS;
        double v = q[j] + fr * (q[j + 1] - q[j]);
        w = v > w ? v : w;
    }
    if (h >= P)
        w *= sqrt((double)(h + 1) / (double)P);
    return w;
}

tsa_status tsa_nn_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                           double interval, tsa_forecast *fc)
{
    const tsa_nn_state *s = nn_state(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "forecast: the model is not fitted");
    const size_t F = s->net.a.F, L = s->net.a.L, P = s->net.a.P;
    TSA_FAIL_IF(history->n_features != F, TSA_ESHAPE,
                "history: has %zu features, the model was fitted on %zu", history->n_features, F);
    TSA_FAIL_IF(history->length < L, TSA_ETOOSHORT, "history: needs at least %zu rows, got %zu",
                L, history->length);
    const size_t rows = L + horizon + P, zn = (rows * F + 15) & ~(size_t)15;
    TSA_FAIL_IF(rows > SIZE_MAX / 8 / F, TSA_ENOMEM, "forecast: out of memory for %zu steps",
                horizon);
    /* The scratch, the normalised history and the outputs: one block. */
    tsa_nn_infer inf;
    tsa_status rc = tsa_nn_infer_init(&inf, &s->net, 1, zn + P * F);
    if (rc != TSA_OK)
        return tsa_error(TSA_ENOMEM, "forecast: out of memory for %zu steps", horizon);
    float *z = inf.extra, *out = inf.extra + zn;
    normalise(s, history->values + (history->length - L) * F, L, z);
    for (size_t done_steps = 0; done_steps < horizon;) {
        tsa_nn_windows d = {z, L + done_steps, F, L, P, s->centre};
        tsa_nn_infer_run(&inf, &s->net, s->w, &d, done_steps, 1, out);
        size_t k = horizon - done_steps < P ? horizon - done_steps : P;
        memcpy(z + (L + done_steps) * F, out, k * F * sizeof *z);
        done_steps += k;
    }
    for (size_t i = 0; i < horizon * F; i++)
        if (!isfinite(z[L * F + i])) {
            rc = tsa_error(TSA_ENUMERIC,
                           "forecast: the network's output is not finite (is the history far "
                           "outside the range of the training series?)");
            goto done;
        }
    for (size_t h = 0; h < horizon; h++)
        for (size_t f = 0; f < F; f++) {
            double mu = (double)z[(L + h) * F + f] * s->scale[f] + s->mean[f];
            double hw = half_width(s, h, f, interval) * s->scale[f];
            fc->mean[h * F + f] = mu;
            fc->lower[h * F + f] = mu - hw;
            fc->upper[h * F + f] = mu + hw;
        }
done:
    tsa_nn_infer_free(&inf);
    return rc;
}

tsa_status tsa_nn_score(const tsa_model *m, const tsa_series *x, double *raw, double *calibrated)
{
    const tsa_nn_state *s = nn_state(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "score: the model is not fitted");
    const size_t F = s->net.a.F, L = s->net.a.L, P = s->net.a.P, n = x->length;
    TSA_FAIL_IF(x->n_features != F, TSA_ESHAPE,
                "x: has %zu features, the model was fitted on %zu", x->n_features, F);
    TSA_FAIL_IF(n <= L, TSA_ETOOSHORT, "x: needs more than %zu rows, got %zu", L, n);
    /* Windows are predicted in chunks so memory stays bounded for long x. */
    const size_t chunk = 4096, n_win = n - L;
    float *z = malloc(n * F * sizeof *z);
    float *pred = malloc((n_win < chunk ? n_win : chunk) * P * F * sizeof *pred);
    tsa_nn_infer inf;
    memset(&inf, 0, sizeof inf);
    tsa_status rc = TSA_OK;
    if (!z || !pred) {
        rc = tsa_error(TSA_ENOMEM, "score: out of memory for %zu rows", n);
        goto done;
    }
    TSA_CHECK_GOTO(tsa_nn_infer_init(&inf, &s->net, n_win < chunk ? n_win : chunk, 0), rc, done);
    normalise(s, x->values, n, z);
    tsa_nn_windows d = {z, n, F, L, P, s->centre};
    for (size_t t = 0; t < L; t++)
        raw[t] = calibrated[t] = 0.0;
    for (size_t i = 0; i < n_win; i += chunk) {
        size_t nc = n_win - i < chunk ? n_win - i : chunk;
        tsa_nn_infer_run(&inf, &s->net, s->w, &d, i, nc, pred);
        for (size_t j = 0; j < nc; j++) {
            size_t t = i + j + L;
            double e = 0.0;
            for (size_t f = 0; f < F; f++) {
                double u = ((double)z[t * F + f] - (double)pred[j * P * F + f]) / s->sigma1[f];
                e += u * u;
            }
            /* Values beyond float's range give no finite prediction: such a
             * step is as anomalous as a score can say. */
            raw[t] = isfinite(e) ? e / (double)F : DBL_MAX;
            calibrated[t] = tsa_calibrator_cdf(&s->cal, raw[t]);
        }
    }
done:
    tsa_nn_infer_free(&inf);
    free(z);
    free(pred);
    return rc;
}

/* ---- persistence ------------------------------------------------------------ */

tsa_status tsa_nn_save(const tsa_model *m, tsa_wbuf *w)
{
    const tsa_nn_state *s = nn_state(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "save: the network state is missing");
    const size_t F = s->net.a.F, P = s->net.a.P;
    tsa_wbuf_u32(w, NN_FORMAT);
    tsa_wbuf_u64(w, F);
    tsa_wbuf_u64(w, s->net.a.L);
    tsa_wbuf_u64(w, P);
    tsa_wbuf_u8(w, (uint8_t)s->centre);
    tsa_wbuf_u64(w, s->n_params);
    tsa_wbuf_f32s(w, s->w, s->n_params);
    tsa_wbuf_f64s(w, s->mean, 3 * F);
    tsa_wbuf_u32(w, TSA_NN_LEVELS);
    tsa_wbuf_f64s(w, s->qtab, P * F * TSA_NN_LEVELS);
    tsa_wbuf_u64(w, s->n_resid);
    tsa_wbuf_u8(w, (uint8_t)s->resid_val);
    tsa_calibrator_save(&s->cal, w);
    tsa_wbuf_i64(w, s->tr.epochs_run);
    tsa_wbuf_i64(w, s->tr.best_epoch);
    tsa_wbuf_f64(w, s->tr.train_loss);
    tsa_wbuf_f64(w, s->tr.val_loss);
    /* The fit's duration is not part of the model: same seed, same bytes. */
    tsa_wbuf_f64(w, 0.0);
    tsa_wbuf_u64(w, s->n_train_windows);
    tsa_wbuf_u64(w, s->n_val_windows);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the network");
    return TSA_OK;
}

#define BAD(...) tsa_error(TSA_EFORMAT, __VA_ARGS__)

static int all_finite_f32(const float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(v[i]))
            return 0;
    return 1;
}

static tsa_status load_into(const tsa_model *m, tsa_nn_state *s, tsa_rbuf *r)
{
    const size_t F = s->net.a.F, L = s->net.a.L, P = s->net.a.P;
    uint32_t ver, levels;
    uint64_t f64, l64, p64, np, n_resid, ntw, nvw;
    uint8_t centre, resid_val;
    if (tsa_rbuf_u32(r, &ver) || tsa_rbuf_u64(r, &f64) || tsa_rbuf_u64(r, &l64) ||
        tsa_rbuf_u64(r, &p64) || tsa_rbuf_u8(r, &centre) || tsa_rbuf_u64(r, &np))
        return BAD("network state: truncated header");
    if (ver != NN_FORMAT)
        return BAD("network state: unknown format %u", ver);
    if (f64 != F || f64 != m->n_features || l64 != L || p64 != P)
        return BAD("network state: shape (%llu features, window %llu, %llu steps) does not "
                   "match the parameters (%zu, %zu, %zu)",
                   (unsigned long long)f64, (unsigned long long)l64, (unsigned long long)p64, F,
                   L, P);
    if (centre != (uint8_t)s->centre)
        return BAD("network state: center_windows does not match the parameters");
    if (m->tail_len < L || m->n_train < L + P + 1)
        return BAD("network state: %zu training rows, %zu kept, for a window of %zu", m->n_train,
                   m->tail_len, L);
    if (np != s->n_params || np > tsa_rbuf_remaining(r) / sizeof(float))
        return BAD("network state: %llu weights, the architecture has %zu",
                   (unsigned long long)np, s->n_params);
    s->w = tsa_nn_alloc(s->n_params);
    if (!s->w)
        return tsa_error(TSA_ENOMEM, "load: out of memory");
    if (tsa_rbuf_f32s(r, s->w, s->n_params) || !all_finite_f32(s->w, s->n_params))
        return BAD("network state: bad weights");
    if (P * F * TSA_NN_LEVELS > tsa_rbuf_remaining(r) / sizeof(double))
        return BAD("network state: truncated tables");
    TSA_TRY(alloc_tables(s, F, P));
    if (tsa_rbuf_f64s(r, s->mean, 3 * F))
        return BAD("network state: truncated normalisation");
    for (size_t f = 0; f < F; f++)
        if (!isfinite(s->mean[f]) || !(s->scale[f] > 0) || !isfinite(s->scale[f]) ||
            !(s->sigma1[f] > 0) || !isfinite(s->sigma1[f]))
            return BAD("network state: bad normalisation of feature %zu", f);
    if (tsa_rbuf_u32(r, &levels) || levels != TSA_NN_LEVELS ||
        tsa_rbuf_f64s(r, s->qtab, P * F * TSA_NN_LEVELS))
        return BAD("network state: bad interval table");
    for (size_t i = 0; i < P * F * TSA_NN_LEVELS; i++)
        if (!(s->qtab[i] >= 0) || !isfinite(s->qtab[i]) ||
            (i % TSA_NN_LEVELS && s->qtab[i] < s->qtab[i - 1]))
            return BAD("network state: interval table not increasing");
    if (tsa_rbuf_u64(r, &n_resid) || tsa_rbuf_u8(r, &resid_val) || n_resid < 2 ||
        n_resid > m->n_train || resid_val > 1)
        return BAD("network state: bad residual count");
    s->n_resid = (size_t)n_resid;
    s->resid_val = resid_val;
    TSA_TRY(tsa_calibrator_load(&s->cal, r));
    if (tsa_rbuf_i64(r, &s->tr.epochs_run) || tsa_rbuf_i64(r, &s->tr.best_epoch) ||
        tsa_rbuf_f64(r, &s->tr.train_loss) || tsa_rbuf_f64(r, &s->tr.val_loss) ||
        tsa_rbuf_f64(r, &s->tr.seconds) || tsa_rbuf_u64(r, &ntw) || tsa_rbuf_u64(r, &nvw))
        return BAD("network state: truncated training summary");
    if (s->tr.epochs_run < 1 || s->tr.epochs_run > 100000 || s->tr.best_epoch < 1 ||
        s->tr.best_epoch > s->tr.epochs_run || ntw < 1 || ntw > m->n_train || nvw > m->n_train)
        return BAD("network state: bad training summary");
    s->n_train_windows = (size_t)ntw;
    s->n_val_windows = (size_t)nvw;
    return TSA_OK;
}

tsa_status tsa_nn_load(const tsa_model *m, tsa_nn_state *state, const tsa_nn_net *net,
                       tsa_rbuf *r)
{
    tsa_nn_state s;
    memset(&s, 0, sizeof s);
    s.net = *net;
    s.net.prep = NULL;
    s.n_params = net->ops->n_params(&net->a);
    s.centre = tsa_param_bool(m, "center_windows");
    if (s.n_params > TSA_NN_MAX_PARAMS) /* parameters forged in the header */
        return BAD("network state: %zu parameters is too many", s.n_params);
    tsa_status rc = load_into(m, &s, r);
    if (rc == TSA_OK && tsa_nn_net_cache_prep(&s.net) != 0)
        rc = tsa_error(TSA_ENOMEM, "load: out of memory");
    if (rc != TSA_OK) {
        tsa_nn_destroy(&s);
        return rc;
    }
    tsa_nn_destroy(state);
    *state = s;
    return TSA_OK;
}

/* ---- info ------------------------------------------------------------------- */

tsa_status tsa_nn_info(const tsa_model *m, cJSON *obj)
{
    const tsa_nn_state *s = nn_state(m);
    if (!s)
        return TSA_OK;
    const size_t F = s->net.a.F;
    int bad = 0;
    bad |= !cJSON_AddStringToObject(obj, "network", s->net.ops->name);
    bad |= !cJSON_AddNumberToObject(obj, "n_params", (double)s->n_params);
    bad |= !cJSON_AddNumberToObject(obj, "epochs_run", (double)s->tr.epochs_run);
    bad |= !cJSON_AddNumberToObject(obj, "best_epoch", (double)s->tr.best_epoch);
    bad |= !cJSON_AddNumberToObject(obj, "train_loss", s->tr.train_loss);
    bad |= !cJSON_AddNumberToObject(obj, "val_loss", s->tr.val_loss);
    bad |= !cJSON_AddNumberToObject(obj, "train_windows", (double)s->n_train_windows);
    bad |= !cJSON_AddNumberToObject(obj, "validation_windows", (double)s->n_val_windows);
    bad |= !cJSON_AddNumberToObject(obj, "calibration_windows", (double)s->n_resid);
    bad |= !cJSON_AddStringToObject(obj, "calibrated_on",
                                    s->resid_val ? "validation" : "training");
    cJSON *rmse = cJSON_AddArrayToObject(obj, "one_step_rmse");
    bad |= !rmse;
    for (size_t f = 0; rmse && f < F; f++) {
        cJSON *v = cJSON_CreateNumber(s->sigma1[f] * s->scale[f]);
        if (!v || !cJSON_AddItemToArray(rmse, v)) {
            cJSON_Delete(v);
            bad = 1;
        }
    }
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the network state");
    return TSA_OK;
}
