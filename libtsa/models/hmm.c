/* The "hmm" kind: a Gaussian hidden Markov model from stat/hmm.c behind the
 * model vtable (Rabiner 1989; see stat/hmm.h for the method and references).
 *
 * Forecasts: the filtered state distribution at the end of the history is
 * propagated through the transition matrix; the point forecast is the
 * predictive mixture's mean and the interval its exact quantiles per
 * feature. Without a history the last HMM_TAIL_ROWS training rows are
 * filtered (the filter forgets its start geometrically, so this matches
 * filtering the whole training series for any chain that mixes).
 *
 * Anomaly score ("score"): smoothed, the negative log leave-one-out
 * density -log p(y_t | every other row) (stat/hmm.h, tsa_stat_hmm_loo),
 * which tells a spike that returns from a regime switch that persists;
 * online, the negative log one-step predictive density
 * -log p(y_t | y_0..y_{t-1}) from the forward filter (step 0 uses the
 * stationary mixture), which is surprised by the first step of any switch,
 * a level shift included; or max (the default), the larger of the two, so
 * neither spikes nor one-off shifts are absorbed. Calibrated by the empirical CDF of the training
 * scores with an exponential tail (anomaly/calibrate.h). Every step gets a
 * score: the context length is 0.
 *
 * Robust fit ("robust", on by default): after EM, training rows whose
 * leave-one-out score exceeds tsa_stat_hmm_outlier_cut (farther than 5 sd,
 * in density, from every state they could be in given their neighbours)
 * are replaced by their conditional mean given the other rows and EM runs
 * again, so spikes in the series being screened neither widen the states
 * nor hide themselves; the calibration then leaves those rows out. With no
 * such row (clean data) the fit and calibration are the plain ones. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "anomaly/calibrate.h"
#include "core/error.h"
#include "models/kind.h"
#include "stat/hmm.h"

/* Training rows kept for forecasts without a history. */
#define HMM_TAIL_ROWS 2048

static const char *const hmm_cov_choices[] = {"diag", "full", NULL};
static const char *const hmm_score_choices[] = {"max", "smoothed", "online", NULL};

/* The score choices, as saved (one byte after the calibrator). */
enum { HMM_SCORE_ONLINE = 1, HMM_SCORE_SMOOTHED = 2, HMM_SCORE_MAX = 3 };

static const tsa_param_spec hmm_params[] = {
    {"n_states", TSA_PARAM_INT, 3, NULL, 1, TSA_STAT_HMM_MAX_STATES, NULL,
     "Number of hidden states (ignored when auto_states is true)."},
    {"auto_states", TSA_PARAM_BOOL, 0, NULL, 0, 1, NULL,
     "Choose the number of states by BIC over 1..max_states."},
    {"max_states", TSA_PARAM_INT, 6, NULL, 1, TSA_STAT_HMM_MAX_STATES, NULL,
     "Largest number of states tried when auto_states is true."},
    {"covariance", TSA_PARAM_STRING, 0, "diag", 0, 0, hmm_cov_choices,
     "Emission covariance for multivariate input: diag (independent features per state) or "
     "full."},
    {"n_init", TSA_PARAM_INT, 3, NULL, 1, 50, NULL,
     "EM runs from different k-means++ seeds; the one with the largest log-likelihood is "
     "kept."},
    {"max_iter", TSA_PARAM_INT, 200, NULL, 1, 10000, NULL, "EM iterations per run."},
    {"tol", TSA_PARAM_DOUBLE, 1e-6, NULL, 0, 1, NULL,
     "EM stops when the log-likelihood per time step improves by less than this."},
    {"min_covar", TSA_PARAM_DOUBLE, 1e-6, NULL, 0, 1, NULL,
     "Variance floor, as a fraction of each feature's variance (values below 1e-12 act as "
     "1e-12)."},
    {"seed", TSA_PARAM_INT, 42, NULL, 0, 9007199254740992.0, NULL,
     "Random seed of the k-means++ initialisation."},
    {"score", TSA_PARAM_STRING, 0, "max", 0, 0, hmm_score_choices,
     "Anomaly score: smoothed = -log p(y_t | all other rows), which tells a spike that "
     "returns from a regime switch that persists; online = -log p(y_t | earlier rows), "
     "which needs no later rows and flags the first step of any switch; max = the larger "
     "of the two."},
    {"robust", TSA_PARAM_BOOL, 1, NULL, 0, 1, NULL,
     "Refit with the rows whose leave-one-out score is extreme treated as missing, so "
     "outliers in the training series get no state or variance of their own."},
};

typedef struct hmm_state {
    tsa_stat_hmm h;
    tsa_calibrator cal;
    int score; /* HMM_SCORE_* */
    size_t n_outliers; /* training rows the robust refit replaced */
} hmm_state;

/* The raw score of @x (n rows) under @h: see the top. */
static tsa_status hmm_raw(const tsa_stat_hmm *h, int score, const double *x, size_t n,
                          double *raw)
{
    if (score == HMM_SCORE_ONLINE)
        return tsa_stat_hmm_filter(h, x, n, NULL, raw, NULL, NULL);
    if (score == HMM_SCORE_SMOOTHED)
        return tsa_stat_hmm_loo(h, x, n, NULL, raw, NULL);
    /* Both are negative log densities of y_t in data units: the larger
     * says how surprising y_t is given its past or given all other rows. */
    double *on = malloc((n ? n : 1) * sizeof *on);
    TSA_FAIL_IF(!on, TSA_ENOMEM, "score: out of memory for %zu rows", n);
    tsa_status rc = tsa_stat_hmm_filter(h, x, n, NULL, on, NULL, NULL);
    if (rc == TSA_OK)
        rc = tsa_stat_hmm_loo(h, x, n, NULL, raw, NULL);
    for (size_t t = 0; rc == TSA_OK && t < n; t++)
        raw[t] = fmax(raw[t], on[t]);
    free(on);
    return rc;
}

/* Refits at most this many times, stopping once the set of replaced rows
 * stops changing (each refit sharpens the states, so spikes that hid in
 * the widened states of the first fit can cross the cutoff in the next). */
#define HMM_ROBUST_ROUNDS 3

/* The robust refit (see the top): rows of @y (T, d) whose leave-one-out
 * score under @h exceeds the outlier cutoff are replaced by their
 * conditional mean given the other rows, and the model is refitted on the
 * result into @h. *n_out: the rows replaced (0: @h is untouched). */
static tsa_status hmm_refit(tsa_stat_hmm *h, const double *y, size_t T, size_t d,
                            const tsa_stat_hmm_opts *o, size_t *n_out)
{
    *n_out = 0;
    double *raw = malloc(T * sizeof *raw), *yc = malloc(T * d * sizeof *yc);
    unsigned char *mask = calloc(2 * T, 1), *prev = mask ? mask + T : NULL;
    tsa_status rc = raw && yc && mask ? TSA_OK : tsa_error(TSA_ENOMEM, "fit: out of memory");
    for (int round = 0; rc == TSA_OK && round < HMM_ROBUST_ROUNDS; round++) {
        rc = tsa_stat_hmm_loo(h, y, T, NULL, raw, yc);
        if (rc != TSA_OK)
            break;
        const double cut = tsa_stat_hmm_outlier_cut(h);
        size_t m = 0;
        for (size_t t = 0; t < T; t++) {
            mask[t] = raw[t] > cut;
            m += mask[t];
            if (!mask[t])
                memcpy(yc + t * d, y + t * d, d * sizeof *yc);
        }
        if (memcmp(mask, prev, T) == 0)
            break;
        tsa_stat_hmm h2;
        memset(&h2, 0, sizeof h2);
        rc = tsa_stat_hmm_fit(&h2, yc, T, d, o);
        if (rc != TSA_OK)
            break;
        tsa_stat_hmm_free(h);
        *h = h2;
        *n_out = m;
        memcpy(prev, mask, T);
    }
    free(raw);
    free(yc);
    free(mask);
    return rc;
}

/* Fits the calibrator on the scores @raw (T) of the rows the model does not
 * take for outliers (all rows unless @robust), so that a contaminated
 * training series does not stretch the normal scores' upper quantiles. */
static tsa_status hmm_calibrate(tsa_calibrator *cal, const tsa_stat_hmm *h, const double *y,
                                size_t T, int score, int robust, double *raw)
{
    TSA_TRY(hmm_raw(h, score, y, T, raw));
    if (!robust)
        return tsa_calibrator_fit(cal, raw, T);
    double *loo = malloc(T * sizeof *loo);
    TSA_FAIL_IF(!loo, TSA_ENOMEM, "fit: out of memory");
    tsa_status rc = score != HMM_SCORE_SMOOTHED ? tsa_stat_hmm_loo(h, y, T, NULL, loo, NULL)
                                                : TSA_OK;
    if (score == HMM_SCORE_SMOOTHED)
        memcpy(loo, raw, T * sizeof *loo);
    const double cut = tsa_stat_hmm_outlier_cut(h);
    size_t kept = 0;
    for (size_t t = 0; rc == TSA_OK && t < T; t++)
        if (!(loo[t] > cut))
            raw[kept++] = raw[t];
    if (rc == TSA_OK)
        rc = tsa_calibrator_fit(cal, raw, kept);
    free(loo);
    return rc;
}

static const hmm_state *hmm_get(const tsa_model *m)
{
    const hmm_state *s = m->state;
    return s && s->h.K ? s : NULL;
}

static void hmm_destroy(void *state)
{
    hmm_state *s = state;
    tsa_stat_hmm_free(&s->h);
}

/* Maps EM progress onto the fit's progress callback: one "em" report per
 * iteration with the mean negative log-likelihood per time step. */
typedef struct hmm_progress_ctx {
    const tsa_fit_ctx *ctx;
    size_t T;
} hmm_progress_ctx;

static tsa_status hmm_progress(void *user, size_t n_states, size_t restart, size_t iter,
                               size_t max_iter, double loglik)
{
    (void)n_states;
    (void)restart;
    const hmm_progress_ctx *p = user;
    return tsa_fit_report(p->ctx, "em", (int64_t)iter, (int64_t)max_iter,
                          -loglik / (double)p->T, NAN);
}

static tsa_status hmm_fit(const tsa_model *m, void *state, const tsa_series *train,
                          const tsa_fit_ctx *ctx, size_t *tail_len)
{
    tsa_stat_hmm_opts o;
    tsa_stat_hmm_opts_init(&o);
    const char *cov = tsa_param_str(m, "covariance");
    TSA_FAIL_IF(tsa_stat_hmm_cov_parse(cov, &o.cov) != 0, TSA_EPARAM,
                "covariance: must be one of diag, full, got '%.32s'", cov ? cov : "(null)");
    int64_t n_states = tsa_param_int(m, "n_states"), max_states = tsa_param_int(m, "max_states");
    int64_t n_init = tsa_param_int(m, "n_init"), max_iter = tsa_param_int(m, "max_iter");
    TSA_FAIL_IF(n_states < 1 || n_states > TSA_STAT_HMM_MAX_STATES, TSA_EPARAM,
                "n_states: must be in [1, %d], got %lld", TSA_STAT_HMM_MAX_STATES,
                (long long)n_states);
    TSA_FAIL_IF(max_states < 1 || max_states > TSA_STAT_HMM_MAX_STATES, TSA_EPARAM,
                "max_states: must be in [1, %d], got %lld", TSA_STAT_HMM_MAX_STATES,
                (long long)max_states);
    TSA_FAIL_IF(n_init < 1 || n_init > 50, TSA_EPARAM, "n_init: must be in [1, 50], got %lld",
                (long long)n_init);
    TSA_FAIL_IF(max_iter < 1 || max_iter > 10000, TSA_EPARAM,
                "max_iter: must be in [1, 10000], got %lld", (long long)max_iter);
    o.n_states = (size_t)n_states;
    o.auto_states = tsa_param_bool(m, "auto_states");
    o.max_states = (size_t)max_states;
    o.n_init = (size_t)n_init;
    o.max_iter = (size_t)max_iter;
    o.tol = tsa_param_double(m, "tol");
    o.min_covar = tsa_param_double(m, "min_covar");
    o.seed = ctx->seed;
    hmm_progress_ctx pc = {ctx, train->length};
    o.progress = hmm_progress;
    o.user = &pc;

    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    TSA_TRY(tsa_stat_hmm_fit(&h, train->values, train->length, train->n_features, &o));
    const char *sc = tsa_param_str(m, "score");
    const int score = strcmp(sc, "online") == 0     ? HMM_SCORE_ONLINE
                      : strcmp(sc, "smoothed") == 0 ? HMM_SCORE_SMOOTHED
                                                    : HMM_SCORE_MAX;
    const int robust = tsa_param_bool(m, "robust");
    size_t n_out = 0;
    tsa_status rc = robust ? hmm_refit(&h, train->values, train->length, train->n_features,
                                       &o, &n_out)
                           : TSA_OK;

    /* Calibrate on the training series scored exactly as tsa_model_score
     * would score it. */
    tsa_calibrator cal;
    double *raw = malloc(train->length * sizeof *raw);
    if (rc == TSA_OK && !raw)
        rc = tsa_error(TSA_ENOMEM, "fit: out of memory");
    if (rc == TSA_OK)
        rc = hmm_calibrate(&cal, &h, train->values, train->length, score, robust && n_out,
                           raw);
    free(raw);
    if (rc != TSA_OK) {
        tsa_stat_hmm_free(&h);
        return rc;
    }
    hmm_state *s = state;
    tsa_stat_hmm_free(&s->h);
    s->h = h;
    s->cal = cal;
    s->score = score;
    s->n_outliers = n_out;
    *tail_len = train->length < HMM_TAIL_ROWS ? train->length : HMM_TAIL_ROWS;
    return TSA_OK;
}

static size_t hmm_context_length(const tsa_model *m)
{
    (void)m;
    return 0;
}

static tsa_status hmm_forecast(const tsa_model *m, const tsa_series *history, size_t horizon,
                               double interval, tsa_forecast *fc)
{
    const hmm_state *s = hmm_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "forecast: the model is not fitted");
    TSA_FAIL_IF(history->n_features != s->h.d, TSA_ESHAPE,
                "history: has %zu features, the model was fitted on %zu", history->n_features,
                s->h.d);
    return tsa_stat_hmm_forecast(&s->h, history->values, history->length, horizon, interval,
                                 fc->mean, fc->lower, fc->upper);
}

static tsa_status hmm_score(const tsa_model *m, const tsa_series *x, double *raw,
                            double *calibrated)
{
    const hmm_state *s = hmm_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "score: the model is not fitted");
    TSA_FAIL_IF(x->n_features != s->h.d, TSA_ESHAPE,
                "x: has %zu features, the model was fitted on %zu", x->n_features, s->h.d);
    TSA_TRY(hmm_raw(&s->h, s->score, x->values, x->length, raw));
    for (size_t t = 0; t < x->length; t++)
        calibrated[t] = tsa_calibrator_cdf(&s->cal, raw[t]);
    return TSA_OK;
}

static tsa_status hmm_save(const tsa_model *m, tsa_wbuf *w)
{
    const hmm_state *s = hmm_get(m);
    TSA_FAIL_IF(!s, TSA_ENOTFITTED, "save: the HMM state is missing");
    tsa_stat_hmm_save(&s->h, w);
    tsa_calibrator_save(&s->cal, w);
    tsa_wbuf_u8(w, (uint8_t)s->score);
    tsa_wbuf_u64(w, (uint64_t)s->n_outliers);
    TSA_FAIL_IF(w->failed, TSA_ENOMEM, "save: out of memory writing the HMM state");
    return TSA_OK;
}

static tsa_status hmm_load(const tsa_model *m, void *state, tsa_rbuf *r)
{
    tsa_stat_hmm h;
    memset(&h, 0, sizeof h);
    TSA_TRY(tsa_stat_hmm_load(&h, m->n_features, r));
    tsa_calibrator cal;
    tsa_status rc = tsa_calibrator_load(&cal, r);
    /* States written before the score choice end here: online scores. */
    uint8_t mode = HMM_SCORE_ONLINE;
    uint64_t n_out = 0;
    if (rc == TSA_OK && tsa_rbuf_remaining(r) &&
        (tsa_rbuf_u8(r, &mode) || mode < HMM_SCORE_ONLINE || mode > HMM_SCORE_MAX ||
         tsa_rbuf_u64(r, &n_out) || n_out > h.n_train))
        rc = tsa_error(TSA_EFORMAT, "HMM state: bad score mode or outlier count");
    if (rc == TSA_OK && m->n_train && h.n_train != m->n_train)
        rc = tsa_error(TSA_EFORMAT, "HMM state: fitted on %zu rows, the model header says %zu",
                       h.n_train, m->n_train);
    if (rc != TSA_OK) {
        tsa_stat_hmm_free(&h);
        return rc;
    }
    hmm_state *s = state;
    tsa_stat_hmm_free(&s->h);
    s->h = h;
    s->cal = cal;
    s->score = mode;
    s->n_outliers = (size_t)n_out;
    return TSA_OK;
}

/* ---- info ------------------------------------------------------------------ */

static cJSON *hmm_vec(const double *x, size_t n)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < n; i++) {
        cJSON *num = cJSON_CreateNumber(x[i]);
        if (!num || !cJSON_AddItemToArray(a, num)) {
            cJSON_Delete(num);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

/* A (rows, cols) row-major matrix as an array of rows. */
static cJSON *hmm_mat(const double *x, size_t rows, size_t cols)
{
    cJSON *a = cJSON_CreateArray();
    for (size_t i = 0; a && i < rows; i++) {
        cJSON *row = hmm_vec(x + i * cols, cols);
        if (!row || !cJSON_AddItemToArray(a, row)) {
            cJSON_Delete(row);
            cJSON_Delete(a);
            return NULL;
        }
    }
    return a;
}

static int hmm_add(cJSON *obj, const char *key, cJSON *item)
{
    if (!item)
        return -1;
    if (!cJSON_AddItemToObject(obj, key, item)) {
        cJSON_Delete(item);
        return -1;
    }
    return 0;
}

static int hmm_num(cJSON *obj, const char *key, double x)
{
    return cJSON_AddNumberToObject(obj, key, x) ? 0 : -1;
}

static tsa_status hmm_info(const tsa_model *m, cJSON *obj)
{
    const hmm_state *s = hmm_get(m);
    if (!s)
        return TSA_OK;
    const tsa_stat_hmm *h = &s->h;
    size_t K = h->K, d = h->d;
    int bad = 0;
    double *mu = malloc(K * d * sizeof *mu), *var = malloc(K * d * sizeof *var);
    double *cv = malloc(d * d * sizeof *cv);
    if (!mu || !var || !cv) {
        free(mu);
        free(var);
        free(cv);
        return tsa_error(TSA_ENOMEM, "info: out of memory");
    }
    cJSON *covs = h->cov == TSA_STAT_HMM_FULL ? cJSON_CreateArray() : NULL;
    if (h->cov == TSA_STAT_HMM_FULL && !covs)
        bad = 1;
    for (size_t k = 0; k < K; k++) {
        tsa_stat_hmm_state_mean(h, k, mu + k * d);
        tsa_stat_hmm_state_cov(h, k, cv);
        for (size_t j = 0; j < d; j++)
            var[k * d + j] = cv[j * d + j];
        if (covs) {
            cJSON *c = hmm_mat(cv, d, d);
            if (!c || !cJSON_AddItemToArray(covs, c)) {
                cJSON_Delete(c);
                bad = 1;
            }
        }
    }
    bad |= hmm_num(obj, "n_states", (double)K);
    bad |= hmm_add(obj, "covariance", cJSON_CreateString(tsa_stat_hmm_cov_name(h->cov)));
    bad |= cJSON_AddBoolToObject(obj, "auto_states", h->auto_states) ? 0 : -1;
    bad |= hmm_add(obj, "means", hmm_mat(mu, K, d));
    bad |= hmm_add(obj, "variances", hmm_mat(var, K, d));
    if (covs)
        bad |= hmm_add(obj, "covariances", covs);
    bad |= hmm_add(obj, "transition_matrix", hmm_mat(h->A, K, K));
    bad |= hmm_add(obj, "initial_distribution", hmm_vec(h->pi, K));
    bad |= hmm_add(obj, "stationary_distribution", hmm_vec(h->stat, K));
    bad |= hmm_num(obj, "log_likelihood", h->loglik);
    bad |= hmm_num(obj, "bic", h->bic);
    bad |= hmm_num(obj, "n_params", (double)tsa_stat_hmm_n_params(K, d, h->cov));
    bad |= hmm_num(obj, "n_iter", (double)h->n_iter);
    bad |= hmm_add(obj, "score", cJSON_CreateString(hmm_score_choices[HMM_SCORE_MAX - s->score]));
    bad |= hmm_num(obj, "outliers", (double)s->n_outliers);
    bad |= cJSON_AddBoolToObject(obj, "converged", h->converged) ? 0 : -1;
    bad |= hmm_add(obj, "layout",
                   cJSON_CreateString("states ordered by the mean of feature 0; "
                                      "transition_matrix[i][j] = P(state j at t | state i at "
                                      "t-1); means, variances and covariances in data units"));
    if (h->n_sel) {
        cJSON *sel = cJSON_CreateArray();
        for (size_t q = 0; sel && q < h->n_sel; q++) {
            cJSON *row = cJSON_CreateObject();
            if (!row || !cJSON_AddItemToArray(sel, row)) {
                cJSON_Delete(row);
                bad = 1;
                break;
            }
            bad |= hmm_num(row, "n_states", h->sel[3 * q]);
            bad |= hmm_num(row, "log_likelihood", h->sel[3 * q + 1]);
            bad |= hmm_num(row, "bic", h->sel[3 * q + 2]);
        }
        bad |= hmm_add(obj, "bic_table", sel);
    }
    free(mu);
    free(var);
    free(cv);
    TSA_FAIL_IF(bad, TSA_ENOMEM, "info: out of memory writing the HMM state");
    return TSA_OK;
}

const tsa_kind tsa_kind_hmm = {
    .name = "hmm",
    .aliases = NULL,
    .description = "Gaussian hidden Markov model: scaled Baum-Welch EM from k-means++ starts "
                   "(diagonal or full covariances, states by BIC on request), forecasts of "
                   "the predictive mixture with exact quantile intervals, anomaly score = "
                   "negative log leave-one-out (or one-step) predictive density, calibrated "
                   "on training scores; robust refit without outlying rows.",
    .caps = TSA_CAP_FORECAST | TSA_CAP_SCORE | TSA_CAP_MULTIVARIATE | TSA_CAP_INTERVALS,
    .params = hmm_params,
    .n_params = sizeof hmm_params / sizeof hmm_params[0],
    .state_size = sizeof(hmm_state),
    .destroy = hmm_destroy,
    .fit = hmm_fit,
    .context_length = hmm_context_length,
    .forecast = hmm_forecast,
    .score = hmm_score,
    .save = hmm_save,
    .load = hmm_load,
    .info = hmm_info,
};
