/* Tests of the "hmm" kind (libtsa/models/hmm.c) through the public API:
 * parameters and their errors, recovery of a known 3-state process from
 * the info JSON, BIC state selection, 2-D full covariances, EM progress
 * (monotone, cancelable), detection of injected outliers, forecasts checked
 * against the reported parameters (h = 1 mixture quantiles, the long-run
 * stationary mean), save/load bit for bit, input errors, and concurrent
 * forecast/score on one fitted model. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <tsa/tsa.h>

#include "core/rng.h"

#include "harness.h"

/* ---- data ------------------------------------------------------------------- */

enum { K3 = 3, N3 = 10000, N_TEST = 5000 };
static const double A3[K3 * K3] = {0.95, 0.03, 0.02, 0.02, 0.96, 0.02, 0.03, 0.02, 0.95};
static const double MU3[K3] = {-2.0, 0.0, 3.0};
static const double SD3 = 0.5;

/* T steps of a K-state HMM on d features from state 0; chol (K, d, d). */
static void simulate(uint64_t seed, size_t T, size_t K, size_t d, const double *A,
                     const double *means, const double *chol, double *y, size_t *states)
{
    tsa_rng rng;
    tsa_rng_seed(&rng, seed);
    size_t s = 0;
    double e[8];
    for (size_t t = 0; t < T; t++) {
        if (t > 0) {
            double u = tsa_rng_uniform(&rng), c = 0.0;
            size_t next = K - 1;
            for (size_t j = 0; j < K; j++) {
                c += A[s * K + j];
                if (u < c) {
                    next = j;
                    break;
                }
            }
            s = next;
        }
        if (states)
            states[t] = s;
        for (size_t j = 0; j < d; j++)
            e[j] = tsa_rng_normal(&rng);
        for (size_t r = 0; r < d; r++) {
            double v = means[s * d + r];
            for (size_t c = 0; c <= r; c++)
                v += chol[s * d * d + r * d + c] * e[c];
            y[t * d + r] = v;
        }
    }
}

static double train3[N3];
static double test3[N_TEST];
static size_t test_states[N_TEST];

static void data_init(void)
{
    static int done;
    if (done)
        return;
    done = 1;
    const double ch[K3] = {SD3, SD3, SD3};
    simulate(20240611, N3, K3, 1, A3, MU3, ch, train3, NULL);
    simulate(555, N_TEST, K3, 1, A3, MU3, ch, test3, test_states);
}

static tsa_params *params_json(const char *json)
{
    tsa_params *p = NULL;
    if (tsa_params_from_json(json, &p) != TSA_OK)
        printf("# params %s: %s\n", json, tsa_last_error());
    return p;
}

static tsa_model *fit_with(const char *json, const double *y, size_t T, size_t k)
{
    tsa_params *p = json ? params_json(json) : NULL;
    tsa_model *m = NULL;
    tsa_status rc = tsa_model_create("hmm", p, &m);
    tsa_params_free(p);
    if (rc != TSA_OK) {
        printf("# create: %s\n", tsa_last_error());
        return NULL;
    }
    tsa_series s = tsa_series_view(y, T, k);
    rc = tsa_model_fit(m, &s, NULL);
    if (rc != TSA_OK) {
        printf("# fit: %s\n", tsa_last_error());
        tsa_model_free(m);
        return NULL;
    }
    return m;
}

static cJSON *info_state(const tsa_model *m, cJSON **root)
{
    char *json = NULL;
    *root = NULL;
    if (tsa_model_info_json(m, &json) != TSA_OK)
        return NULL;
    *root = cJSON_Parse(json);
    tsa_free(json);
    return *root ? cJSON_GetObjectItem(*root, "state") : NULL;
}

static double num(const cJSON *o, const char *key)
{
    const cJSON *x = cJSON_GetObjectItem(o, key);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

/* a[i][j] of a JSON array of arrays (NaN when absent). */
static double at2(const cJSON *a, int i, int j)
{
    const cJSON *x = cJSON_GetArrayItem(cJSON_GetArrayItem(a, i), j);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static double at1(const cJSON *a, int i)
{
    const cJSON *x = cJSON_GetArrayItem(a, i);
    return cJSON_IsNumber(x) ? x->valuedouble : NAN;
}

static double norm_cdf(double x) { return 0.5 * erfc(-x / sqrt(2.0)); }

/* ---- tests ------------------------------------------------------------------- */

TEST(fit_recovers_known_process)
{
    data_init();
    tsa_model *m = fit_with(NULL, train3, N3, 1);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(strcmp(tsa_model_kind(m), "hmm") == 0);
    CHECK(tsa_model_context_length(m) == 0);
    unsigned caps = tsa_kind_capabilities("hmm");
    CHECK((caps & TSA_CAP_FORECAST) && (caps & TSA_CAP_SCORE) && (caps & TSA_CAP_MULTIVARIATE) &&
          (caps & TSA_CAP_INTERVALS));
    cJSON *root, *st = info_state(m, &root);
    CHECK(st != NULL);
    if (st) {
        CHECK(num(st, "n_states") == 3);
        CHECK(strcmp(cJSON_GetObjectItem(st, "covariance")->valuestring, "diag") == 0);
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(st, "auto_states")));
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(st, "converged")));
        CHECK(cJSON_GetObjectItem(st, "bic_table") == NULL);
        CHECK(cJSON_GetObjectItem(st, "covariances") == NULL);
        /* Clean data: the robust refit replaces nothing. */
        CHECK(num(st, "outliers") == 0);
        CHECK(strcmp(cJSON_GetObjectItem(st, "score")->valuestring, "max") == 0);
        cJSON *mu = cJSON_GetObjectItem(st, "means"), *var = cJSON_GetObjectItem(st, "variances");
        cJSON *A = cJSON_GetObjectItem(st, "transition_matrix");
        cJSON *pi = cJSON_GetObjectItem(st, "initial_distribution");
        cJSON *stat = cJSON_GetObjectItem(st, "stationary_distribution");
        CHECK(cJSON_GetArraySize(mu) == 3 && cJSON_GetArraySize(A) == 3 &&
              cJSON_GetArraySize(pi) == 3 && cJSON_GetArraySize(stat) == 3);
        /* Match states to the truth by sorted means. */
        int perm[3] = {0, 1, 2};
        for (int i = 1; i < 3; i++)
            for (int j = i; j > 0 && at2(mu, perm[j - 1], 0) > at2(mu, perm[j], 0); j--) {
                int t = perm[j];
                perm[j] = perm[j - 1];
                perm[j - 1] = t;
            }
        double emu = 0, esd = 0, eA = 0;
        for (int a = 0; a < 3; a++) {
            emu = fmax(emu, fabs(at2(mu, perm[a], 0) - MU3[a]));
            esd = fmax(esd, fabs(sqrt(at2(var, perm[a], 0)) - SD3));
            for (int b = 0; b < 3; b++)
                eA = fmax(eA, fabs(at2(A, perm[a], perm[b]) - A3[a * 3 + b]));
        }
        printf("# means err %.4f, sd err %.4f, transition err %.4f, loglik %.2f, bic %.2f, "
               "%g iterations\n",
               emu, esd, eA, num(st, "log_likelihood"), num(st, "bic"), num(st, "n_iter"));
        CHECK(emu < 0.05);
        CHECK(esd < 0.03);
        CHECK(eA < 0.02);
        CHECK_NEAR(num(st, "bic"), -2 * num(st, "log_likelihood") + 14 * log((double)N3),
                   1e-6 * fabs(num(st, "bic")));
        CHECK(num(st, "n_params") == 14);
        CHECK(num(st, "n_iter") >= 2);
        double s = 0;
        for (int k = 0; k < 3; k++)
            s += at1(stat, k);
        CHECK_NEAR(s, 1.0, 1e-12);
    }
    cJSON_Delete(root);

    tsa_params *p = NULL;
    CHECK_OK(tsa_model_params(m, &p));
    int64_t v = 0;
    double dv = 0;
    int b = 1;
    const char *str = NULL;
    CHECK_OK(tsa_params_get_int(p, "n_states", &v));
    CHECK(v == 3);
    CHECK_OK(tsa_params_get_bool(p, "auto_states", &b));
    CHECK(b == 0);
    CHECK_OK(tsa_params_get_int(p, "max_states", &v));
    CHECK(v == 6);
    CHECK_OK(tsa_params_get_str(p, "covariance", &str));
    CHECK(str && strcmp(str, "diag") == 0);
    CHECK_OK(tsa_params_get_int(p, "n_init", &v));
    CHECK(v == 3);
    CHECK_OK(tsa_params_get_int(p, "max_iter", &v));
    CHECK(v == 200);
    CHECK_OK(tsa_params_get_double(p, "tol", &dv));
    CHECK(dv == 1e-6);
    CHECK_OK(tsa_params_get_double(p, "min_covar", &dv));
    CHECK(dv == 1e-6);
    CHECK_OK(tsa_params_get_int(p, "seed", &v));
    CHECK(v == 42);
    tsa_params_free(p);
    tsa_model_free(m);
}

TEST(parameter_errors_name_the_key)
{
    struct {
        const char *json, *key;
    } cases[] = {
        {"{\"n_states\": 0}", "n_states"},         {"{\"n_states\": 21}", "n_states"},
        {"{\"covariance\": \"banana\"}", "covariance"}, {"{\"max_states\": 0}", "max_states"},
        {"{\"n_init\": 51}", "n_init"},            {"{\"max_iter\": 0}", "max_iter"},
        {"{\"tol\": 2}", "tol"},                   {"{\"min_covar\": -1}", "min_covar"},
        {"{\"seed\": -1}", "seed"},                {"{\"auto_states\": \"maybe\"}", "auto_states"},
        {"{\"n_state\": 3}", "n_state"},           {"{\"n_states\": \"auto\"}", "n_states"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        tsa_params *p = params_json(cases[i].json);
        tsa_model *m = NULL;
        CHECK_STATUS(tsa_model_create("hmm", p, &m), TSA_EPARAM);
        CHECK_ERROR_MENTIONS(cases[i].key);
        CHECK(m == NULL);
        tsa_params_free(p);
    }
    char *json = NULL;
    CHECK_OK(tsa_kind_info_json("hmm", &json));
    CHECK(json && strstr(json, "\"auto_states\"") && strstr(json, "\"min_covar\""));
    tsa_free(json);
}

TEST(fit_errors)
{
    data_init();
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("hmm", NULL, &m));
    if (!m)
        return;
    /* 3 states on 2 features need 30 rows. */
    double y[29 * 2];
    for (int i = 0; i < 29 * 2; i++)
        y[i] = train3[i];
    tsa_series s = tsa_series_view(y, 29, 2);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ETOOSHORT);
    CHECK_ERROR_MENTIONS("30");
    CHECK(!tsa_model_is_fitted(m));
    s = tsa_series_view(y, 14, 1);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ETOOSHORT);
    y[3] = NAN;
    s = tsa_series_view(y, 29, 1);
    CHECK_STATUS(tsa_model_fit(m, &s, NULL), TSA_ENONFINITE);
    /* Marked missing, the value is interpolated. */
    uint8_t mask[29] = {0};
    mask[3] = 1;
    s.mask = mask;
    CHECK_OK(tsa_model_fit(m, &s, NULL));
    tsa_model_free(m);
}

TEST(auto_states_picks_three)
{
    data_init();
    tsa_model *m = fit_with("{\"auto_states\": true, \"max_states\": 5, \"n_init\": 1}", train3,
                            N3, 1);
    if (!m)
        return;
    cJSON *root, *st = info_state(m, &root);
    CHECK(st && num(st, "n_states") == 3);
    CHECK(st && cJSON_IsTrue(cJSON_GetObjectItem(st, "auto_states")));
    cJSON *tab = st ? cJSON_GetObjectItem(st, "bic_table") : NULL;
    CHECK(cJSON_GetArraySize(tab) == 5);
    double best = INFINITY;
    int arg = -1;
    printf("# BIC:");
    for (int i = 0; i < cJSON_GetArraySize(tab); i++) {
        cJSON *row = cJSON_GetArrayItem(tab, i);
        CHECK(num(row, "n_states") == i + 1);
        printf(" %g:%.1f", num(row, "n_states"), num(row, "bic"));
        if (num(row, "bic") < best) {
            best = num(row, "bic");
            arg = i + 1;
        }
    }
    printf("\n");
    CHECK(arg == 3);
    CHECK(st && num(st, "bic") == best);
    cJSON_Delete(root);
    tsa_model_free(m);
}

TEST(full_covariance_2d)
{
    enum { T = 6000 };
    static double y[T * 2];
    const double A[4] = {0.97, 0.03, 0.04, 0.96};
    const double mu[4] = {10.0, 100.0, 13.0, 94.0};
    /* sd (1, 3) corr 0.8; sd (0.5, 6) corr -0.6. */
    const double sd[2][2] = {{1.0, 3.0}, {0.5, 6.0}}, rho[2] = {0.8, -0.6};
    double ch[8];
    for (int k = 0; k < 2; k++) {
        ch[k * 4 + 0] = sd[k][0];
        ch[k * 4 + 1] = 0.0;
        ch[k * 4 + 2] = rho[k] * sd[k][1];
        ch[k * 4 + 3] = sqrt(1.0 - rho[k] * rho[k]) * sd[k][1];
    }
    simulate(11, T, 2, 2, A, mu, ch, y, NULL);
    tsa_model *m = fit_with("{\"n_states\": 2, \"covariance\": \"full\"}", y, T, 2);
    CHECK(m != NULL);
    if (!m)
        return;
    CHECK(tsa_model_n_features(m) == 2);
    cJSON *root, *st = info_state(m, &root);
    cJSON *means = st ? cJSON_GetObjectItem(st, "means") : NULL;
    cJSON *covs = st ? cJSON_GetObjectItem(st, "covariances") : NULL;
    CHECK(cJSON_GetArraySize(means) == 2 && cJSON_GetArraySize(covs) == 2);
    double emu = 0, erho = 0, esd = 0;
    for (int k = 0; k < 2 && cJSON_GetArraySize(covs) == 2; k++) {
        cJSON *c = cJSON_GetArrayItem(covs, k);
        emu = fmax(emu, fmax(fabs(at2(means, k, 0) - mu[2 * k]) / sd[k][0],
                             fabs(at2(means, k, 1) - mu[2 * k + 1]) / sd[k][1]));
        esd = fmax(esd, fmax(fabs(sqrt(at2(c, 0, 0)) / sd[k][0] - 1),
                             fabs(sqrt(at2(c, 1, 1)) / sd[k][1] - 1)));
        erho = fmax(erho, fabs(at2(c, 0, 1) / sqrt(at2(c, 0, 0) * at2(c, 1, 1)) - rho[k]));
        CHECK(at2(c, 0, 1) == at2(c, 1, 0));
        CHECK(at2(cJSON_GetObjectItem(st, "variances"), k, 1) == at2(c, 1, 1));
    }
    printf("# 2-D full: mean err %.4f sd, relative sd err %.4f, corr err %.4f\n", emu, esd, erho);
    CHECK(emu < 0.1);
    CHECK(esd < 0.05);
    CHECK(erho < 0.03);
    cJSON_Delete(root);
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, 5, 0.9, &fc));
    if (fc)
        for (int i = 0; i < 10; i++)
            CHECK(fc->lower[i] < fc->mean[i] && fc->mean[i] < fc->upper[i]);
    tsa_forecast_free(fc);
    tsa_model_free(m);
}

typedef struct {
    int64_t calls, runs, bad_order, cancel_at;
    double prev, worst;
    int stage_ok;
} progress_state;

static int on_progress(const tsa_progress *p, void *user)
{
    progress_state *s = user;
    s->stage_ok &= strcmp(p->stage, "em") == 0 && p->total == 60 && isnan(p->val_loss) &&
                   isfinite(p->train_loss);
    if (p->step == 1) {
        s->runs++;
    } else {
        /* The loss is -loglik / T: it must not grow within a run. */
        double rise = (p->train_loss - s->prev) / fabs(s->prev);
        s->worst = fmax(s->worst, rise);
        if (rise > 1e-9)
            s->bad_order++;
    }
    s->prev = p->train_loss;
    s->calls++;
    return s->calls == s->cancel_at;
}

TEST(progress_is_monotone_and_cancels)
{
    data_init();
    tsa_params *p = params_json("{\"n_init\": 2, \"tol\": 0, \"max_iter\": 60}");
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("hmm", p, &m));
    tsa_params_free(p);
    if (!m)
        return;
    tsa_series s = tsa_series_view(train3, 4000, 1);
    tsa_fit_options o;
    tsa_fit_options_init(&o);
    progress_state st = {0, 0, 0, -1, 0, 0, 1};
    o.progress = on_progress;
    o.user = &st;
    CHECK_OK(tsa_model_fit(m, &s, &o));
    printf("# %lld progress reports over %lld runs, largest relative rise %.3g\n",
           (long long)st.calls, (long long)st.runs, st.worst);
    CHECK(st.stage_ok && st.runs == 2 && st.calls >= 4 && st.bad_order == 0);

    /* Cancel a refit at the 3rd report: TSA_ECANCELED, the earlier fit stays. */
    tsa_forecast *before = NULL, *after = NULL;
    CHECK_OK(tsa_model_forecast(m, NULL, 4, 0.9, &before));
    progress_state stop = {0, 0, 0, 3, 0, 0, 1};
    o.user = &stop;
    tsa_series s2 = tsa_series_view(test3, N_TEST, 1);
    CHECK_STATUS(tsa_model_fit(m, &s2, &o), TSA_ECANCELED);
    CHECK(stop.calls == 3);
    CHECK(tsa_model_is_fitted(m));
    CHECK_OK(tsa_model_forecast(m, NULL, 4, 0.9, &after));
    if (before && after)
        CHECK(memcmp(before->mean, after->mean, 4 * sizeof(double)) == 0);
    tsa_forecast_free(before);
    tsa_forecast_free(after);
    tsa_model_free(m);
}

TEST(detect_flags_injected_outliers)
{
    data_init();
    tsa_model *m = fit_with(NULL, train3, N3, 1);
    if (!m)
        return;
    static double y[N_TEST];
    memcpy(y, test3, sizeof y);
    /* 20 outliers 8 sd beyond the extreme state means (so at least 8 sd from
     * every state), alternating sides. */
    enum { N_OUT = 20 };
    size_t at[N_OUT];
    for (size_t i = 0; i < N_OUT; i++) {
        at[i] = 100 + i * 243;
        y[at[i]] = i % 2 ? MU3[2] + 8 * SD3 : MU3[0] - 8 * SD3;
    }
    tsa_series x = tsa_series_view(y, N_TEST, 1);
    tsa_detection *d = NULL;
    CHECK_OK(tsa_model_detect(m, &x, 0.99, &d));
    if (d) {
        size_t found = 0, other = 0;
        for (size_t i = 0; i < d->n_anomalies; i++) {
            int hit = 0;
            for (size_t j = 0; j < N_OUT; j++)
                hit |= d->indices[i] == at[j];
            found += (size_t)hit;
            other += (size_t)!hit;
            CHECK(d->calibrated[d->indices[i]] > 0.99);
        }
        double min_out = 1;
        for (size_t j = 0; j < N_OUT; j++)
            min_out = fmin(min_out, d->calibrated[at[j]]);
        printf("# detect: %zu/%d outliers flagged (smallest calibrated %.6f), %zu other flags "
               "in %d steps\n",
               found, N_OUT, min_out, other, N_TEST);
        CHECK(found == N_OUT);
        CHECK(other <= N_TEST / 50);
        /* Context 0: the first step is scored too. */
        CHECK(d->raw[0] != 0.0 && d->calibrated[0] > 0.0);
        for (size_t t = 0; t < N_TEST; t++)
            CHECK(d->calibrated[t] >= 0.0 && d->calibrated[t] <= 1.0 && isfinite(d->raw[t]));
        double raw[N_TEST], cal[N_TEST];
        CHECK_OK(tsa_model_score(m, &x, raw, cal));
        CHECK(memcmp(raw, d->raw, sizeof raw) == 0 && memcmp(cal, d->calibrated, sizeof cal) == 0);
        /* The default score's smoothed part uses the rows after t: a
         * prefix's rows match to rounding once the backward recursion has
         * forgotten the cut. */
        tsa_series pre = tsa_series_view(y, 700, 1);
        double r2[700];
        CHECK_OK(tsa_model_score(m, &pre, r2, NULL));
        CHECK(fabs(r2[300] - raw[300]) < 1e-9);
    }
    tsa_detection_free(d);
    /* The online score: a prefix scores the same, bit for bit. */
    tsa_model *on = fit_with("{\"score\": \"online\"}", train3, N3, 1);
    CHECK(on != NULL);
    if (on) {
        static double r1[N_TEST], r2[700];
        tsa_series full = tsa_series_view(y, N_TEST, 1), pre = tsa_series_view(y, 700, 1);
        CHECK_OK(tsa_model_score(on, &full, r1, NULL));
        CHECK_OK(tsa_model_score(on, &pre, r2, NULL));
        CHECK(memcmp(r2, r1, sizeof r2) == 0);
    }
    tsa_model_free(on);
    tsa_model_free(m);
}

/* Spikes counted against labels: found among them, false flags elsewhere. */
static void count_flags(const tsa_detection *d, const unsigned char *lab, size_t n, size_t *found,
                        size_t *false_flags)
{
    *found = *false_flags = 0;
    for (size_t t = 0; t < n; t++) {
        if (lab[t])
            *found += d->flags[t];
        else
            *false_flags += d->flags[t];
    }
}

/* Fitted on the very series it screens: 3,000 steps of the 3-state process
 * with 20 spikes of 7 state sd. A spike that lands in another state's range
 * looks like a switch to the online score, and spikes left in the fit
 * inflate the state variances; the smoothed score and the robust refit
 * together find them all with honest calibration. */
TEST(detect_on_own_contaminated_series)
{
    enum { T = 3000, NS = 20 };
    static double y[T];
    static unsigned char lab[T];
    const double ch[K3] = {SD3, SD3, SD3};
    simulate(4242, T, K3, 1, A3, MU3, ch, y, NULL);
    tsa_rng r;
    tsa_rng_seed(&r, 99);
    for (int k = 0; k < NS;) {
        size_t at = 150 + (size_t)tsa_rng_below(&r, T - 300);
        if (lab[at] || lab[at - 1] || lab[at + 1])
            continue;
        lab[at] = 1;
        y[at] += (tsa_rng_uniform(&r) < 0.5 ? -7.0 : 7.0) * SD3;
        k++;
    }
    static const char *const cfg[] = {"{\"score\": \"online\", \"robust\": false}",
                                      "{\"score\": \"smoothed\", \"robust\": false}", NULL};
    size_t found[3] = {0}, false_flags[3] = {0};
    double sd_err[3] = {0};
    for (int c = 0; c < 3; c++) {
        tsa_model *m = fit_with(cfg[c], y, T, 1);
        CHECK(m != NULL);
        if (!m)
            continue;
        tsa_series x = tsa_series_view(y, T, 1);
        tsa_detection *d = NULL;
        CHECK_OK(tsa_model_detect(m, &x, 0.99, &d));
        if (d)
            count_flags(d, lab, T, &found[c], &false_flags[c]);
        cJSON *root, *st = info_state(m, &root);
        for (int k = 0; st && k < K3; k++)
            sd_err[c] = fmax(sd_err[c],
                             fabs(sqrt(at2(cJSON_GetObjectItem(st, "variances"), k, 0)) - SD3));
        if (!cfg[c]) {
            /* The refit replaced the spikes far from every state (those
             * landing in another state's range stay: a switch could
             * explain them), and nothing else. */
            double n_out = st ? num(st, "outliers") : -1;
            printf("# robust refit replaced %g rows\n", n_out);
            CHECK(n_out >= 1 && n_out <= NS);
        }
        cJSON_Delete(root);
        printf("# %s: %zu/%d spikes, %zu false flags in %d normal steps, largest state sd "
               "error %.3f\n",
               cfg[c] ? cfg[c] : "defaults", found[c], NS, false_flags[c], T - NS, sd_err[c]);
        tsa_detection_free(d);
        tsa_model_free(m);
    }
    CHECK(found[2] >= NS * 9 / 10);
    CHECK(false_flags[2] <= (T - NS) / 50);
    /* The robust refit leaves the spikes out of the state variances. */
    CHECK(sd_err[2] < 0.02 && sd_err[2] < sd_err[1]);
    /* The online score misses spikes that look like switches. */
    CHECK(found[0] < found[2]);
}

/* A level shift is one switch: the smoothed score alone calls its first
 * step normal (the rows after it confirm the new level), the online score
 * is surprised by it, and the default (the larger of the two) keeps it in
 * the top few percent. */
TEST(level_shift_is_reported)
{
    enum { T = 2000, SHIFT = 1000 };
    static double y[T];
    tsa_rng r;
    tsa_rng_seed(&r, 9);
    for (size_t t = 0; t < T; t++)
        y[t] = 0.5 * tsa_rng_normal(&r) + (t >= SHIFT ? 3.0 : 0.0);
    static const char *const cfg[] = {"{\"score\": \"smoothed\"}", NULL};
    double cal_at[2] = {0};
    for (int c = 0; c < 2; c++) {
        tsa_model *m = fit_with(cfg[c], y, T, 1);
        CHECK(m != NULL);
        if (!m)
            continue;
        tsa_series x = tsa_series_view(y, T, 1);
        tsa_detection *d = NULL;
        CHECK_OK(tsa_model_detect(m, &x, 0.99, &d));
        if (d) {
            cal_at[c] = d->calibrated[SHIFT];
            printf("# %s: calibrated score at the shift %.4f, %zu flags in %d steps\n",
                   cfg[c] ? cfg[c] : "defaults", cal_at[c], d->n_anomalies, T);
            CHECK(d->n_anomalies <= T / 50);
        }
        tsa_detection_free(d);
        tsa_model_free(m);
    }
    /* The online part's surprise at a one-off switch is about -log of the
     * fitted switch probability, log T: near the 99th percentile here. */
    CHECK(cal_at[0] < 0.9 && cal_at[1] > 0.95);
}

/* Solves F(x) = a for the 1-D mixture of (w, mu, sd) by bisection. */
static double test_mix_quantile(const double *w, const double *mu, const double *sd, int K,
                                double a)
{
    double lo = -1e3, hi = 1e3;
    for (int it = 0; it < 200; it++) {
        double mid = 0.5 * (lo + hi), f = 0;
        for (int k = 0; k < K; k++)
            f += w[k] * norm_cdf((mid - mu[k]) / sd[k]);
        if (f < a)
            lo = mid;
        else
            hi = mid;
    }
    return 0.5 * (lo + hi);
}

TEST(forecast_checks_against_reported_parameters)
{
    data_init();
    tsa_model *m = fit_with(NULL, train3, N3, 1);
    if (!m)
        return;
    cJSON *root, *st = info_state(m, &root);
    cJSON *mu = st ? cJSON_GetObjectItem(st, "means") : NULL;
    cJSON *var = st ? cJSON_GetObjectItem(st, "variances") : NULL;
    cJSON *A = st ? cJSON_GetObjectItem(st, "transition_matrix") : NULL;
    cJSON *stat = st ? cJSON_GetObjectItem(st, "stationary_distribution") : NULL;
    if (cJSON_GetArraySize(mu) != 3) {
        CHECK(0);
        cJSON_Delete(root);
        tsa_model_free(m);
        return;
    }
    /* States are reported in increasing mean, so state 0 is the lowest. A
     * history deep in it leaves the filter certain of it (to ~1e-7), and
     * the h = 1 predictive is the mixture with weights A[0][.]. */
    double hist[10];
    for (int i = 0; i < 10; i++)
        hist[i] = -2.6 - 0.02 * i;
    tsa_series h = tsa_series_view(hist, 10, 1);
    enum { H = 3000 };
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, &h, H, 0.95, &fc));
    double w[3], m3[3], s3[3];
    for (int k = 0; k < 3; k++) {
        w[k] = at2(A, 0, k);
        m3[k] = at2(mu, k, 0);
        s3[k] = sqrt(at2(var, k, 0));
    }
    if (fc) {
        double mean1 = w[0] * m3[0] + w[1] * m3[1] + w[2] * m3[2];
        double lo = test_mix_quantile(w, m3, s3, 3, 0.025);
        double hi = test_mix_quantile(w, m3, s3, 3, 0.975);
        printf("# h=1: mean %.6f (expected %.6f), [%.6f, %.6f] (expected [%.6f, %.6f]); "
               "state-0 Gaussian alone: [%.4f, %.4f]\n",
               fc->mean[0], mean1, fc->lower[0], fc->upper[0], lo, hi,
               m3[0] - 1.959964 * s3[0], m3[0] + 1.959964 * s3[0]);
        CHECK_NEAR(fc->mean[0], mean1, 1e-5);
        CHECK_NEAR(fc->lower[0], lo, 1e-4);
        CHECK_NEAR(fc->upper[0], hi, 1e-4);
        /* Far ahead: the stationary mixture mean. */
        double target = 0;
        for (int k = 0; k < 3; k++)
            target += at1(stat, k) * m3[k];
        printf("# h=%d: mean %.8f, stationary mixture mean %.8f\n", H, fc->mean[H - 1], target);
        CHECK_NEAR(fc->mean[H - 1], target, 1e-9);
        CHECK(fc->timestamps == NULL && fc->horizon == H && fc->n_features == 1);
    }
    tsa_forecast_free(fc);
    cJSON_Delete(root);
    tsa_model_free(m);
}

TEST(save_load_round_trip)
{
    data_init();
    tsa_model *m = fit_with("{\"auto_states\": true, \"max_states\": 4, \"n_init\": 1}",
                            train3, 3000, 1);
    if (!m)
        return;
    void *buf = NULL;
    size_t len = 0;
    CHECK_OK(tsa_model_save(m, &buf, &len));
    tsa_model *u = NULL;
    CHECK_OK(tsa_model_load(buf, len, &u));
    if (u) {
        CHECK(tsa_model_context_length(u) == 0 && tsa_model_n_features(u) == 1);
        tsa_forecast *a = NULL, *b = NULL;
        CHECK_OK(tsa_model_forecast(m, NULL, 30, 0.8, &a));
        CHECK_OK(tsa_model_forecast(u, NULL, 30, 0.8, &b));
        if (a && b)
            CHECK(memcmp(a->mean, b->mean, 30 * sizeof(double)) == 0 &&
                  memcmp(a->lower, b->lower, 30 * sizeof(double)) == 0 &&
                  memcmp(a->upper, b->upper, 30 * sizeof(double)) == 0);
        tsa_forecast_free(a);
        tsa_forecast_free(b);
        a = b = NULL;
        tsa_series h = tsa_series_view(test3 + 200, 77, 1);
        CHECK_OK(tsa_model_forecast(m, &h, 30, 0.95, &a));
        CHECK_OK(tsa_model_forecast(u, &h, 30, 0.95, &b));
        if (a && b)
            CHECK(memcmp(a->mean, b->mean, 30 * sizeof(double)) == 0 &&
                  memcmp(a->lower, b->lower, 30 * sizeof(double)) == 0 &&
                  memcmp(a->upper, b->upper, 30 * sizeof(double)) == 0);
        tsa_forecast_free(a);
        tsa_forecast_free(b);
        static double r1[N_TEST], r2[N_TEST], c1[N_TEST], c2[N_TEST];
        tsa_series x = tsa_series_view(test3, N_TEST, 1);
        CHECK_OK(tsa_model_score(m, &x, r1, c1));
        CHECK_OK(tsa_model_score(u, &x, r2, c2));
        CHECK(memcmp(r1, r2, sizeof r1) == 0 && memcmp(c1, c2, sizeof c1) == 0);
        char *j1 = NULL, *j2 = NULL;
        CHECK_OK(tsa_model_info_json(m, &j1));
        CHECK_OK(tsa_model_info_json(u, &j2));
        CHECK(j1 && j2 && strcmp(j1, j2) == 0);
        CHECK(j2 && strstr(j2, "\"bic_table\""));
        tsa_free(j1);
        tsa_free(j2);
    }
    tsa_model_free(u);

    size_t bad = 0;
    for (size_t n = 0; n < len; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, buf, n);
        tsa_model *t = NULL;
        tsa_status rc = tsa_model_load(copy, n, &t);
        if (rc == TSA_OK || t != NULL)
            bad++;
        tsa_model_free(t);
        free(copy);
    }
    printf("# %zu truncated model files, %zu loaded\n", len, bad);
    CHECK(bad == 0);
    tsa_free(buf);
    tsa_model_free(m);
}

TEST(forecast_and_score_errors)
{
    data_init();
    tsa_model *m = NULL;
    CHECK_OK(tsa_model_create("hmm", NULL, &m));
    if (!m)
        return;
    tsa_forecast *fc = NULL;
    tsa_series h = tsa_series_view(test3, 20, 1);
    double raw[20];
    CHECK_STATUS(tsa_model_forecast(m, &h, 5, 0.95, &fc), TSA_ENOTFITTED);
    CHECK_STATUS(tsa_model_score(m, &h, raw, NULL), TSA_ENOTFITTED);
    tsa_model_free(m);

    m = fit_with("{\"n_init\": 1}", train3, 2000, 1);
    if (!m)
        return;
    tsa_series wrong = tsa_series_view(test3, 10, 2);
    CHECK_STATUS(tsa_model_forecast(m, &wrong, 5, 0.95, &fc), TSA_ESHAPE);
    CHECK_STATUS(tsa_model_score(m, &wrong, raw, NULL), TSA_ESHAPE);
    CHECK_STATUS(tsa_model_forecast(m, &h, 0, 0.95, &fc), TSA_ERANGE);
    CHECK_STATUS(tsa_model_forecast(m, &h, 5, 1.0, &fc), TSA_ERANGE);
    /* One row of history is enough. */
    tsa_series one = tsa_series_view(test3, 1, 1);
    CHECK_OK(tsa_model_forecast(m, &one, 5, 0.95, &fc));
    tsa_forecast_free(fc);
    fc = NULL;
    double y[20];
    memcpy(y, test3, sizeof y);
    y[7] = NAN;
    tsa_series bad = tsa_series_view(y, 20, 1);
    CHECK_STATUS(tsa_model_forecast(m, &bad, 5, 0.95, &fc), TSA_ENONFINITE);
    CHECK_STATUS(tsa_model_score(m, &bad, raw, NULL), TSA_ENONFINITE);
    uint8_t mask[20] = {0};
    mask[7] = 1;
    bad.mask = mask;
    CHECK_OK(tsa_model_score(m, &bad, raw, NULL));
    CHECK(raw[7] == 0.0); /* fully missing steps score 0 */
    CHECK_OK(tsa_model_forecast(m, &bad, 5, 0.95, &fc));
    tsa_forecast_free(fc);
    tsa_model_free(m);
}

/* ---- concurrency -------------------------------------------------------------- */

enum { N_THREADS = 6, ROUNDS = 40, H = 8, N_SCORE = 400 };

typedef struct {
    const tsa_model *m;
    const double *ref_fc; /* (H) mean, lower, upper */
    const double *ref_raw;
    int mismatches, errors;
} worker_arg;

static void *worker(void *p)
{
    worker_arg *w = p;
    tsa_series hist = tsa_series_view(test3 + 50, 25, 1);
    tsa_series x = tsa_series_view(test3, N_SCORE, 1);
    double raw[N_SCORE];
    for (int r = 0; r < ROUNDS; r++) {
        tsa_forecast *fc = NULL;
        if (tsa_model_forecast(w->m, &hist, H, 0.9, &fc) != TSA_OK)
            w->errors++;
        else if (memcmp(fc->mean, w->ref_fc, H * sizeof(double)) ||
                 memcmp(fc->lower, w->ref_fc + H, H * sizeof(double)) ||
                 memcmp(fc->upper, w->ref_fc + 2 * H, H * sizeof(double)))
            w->mismatches++;
        tsa_forecast_free(fc);
        if (tsa_model_score(w->m, &x, raw, NULL) != TSA_OK)
            w->errors++;
        else if (memcmp(raw, w->ref_raw, sizeof raw) != 0)
            w->mismatches++;
    }
    return NULL;
}

TEST(concurrent_forecast_and_score)
{
    data_init();
    tsa_model *m = fit_with("{\"n_init\": 1}", train3, 3000, 1);
    if (!m)
        return;
    static double ref_fc[3 * H], ref_raw[N_SCORE];
    tsa_series hist = tsa_series_view(test3 + 50, 25, 1);
    tsa_series x = tsa_series_view(test3, N_SCORE, 1);
    tsa_forecast *fc = NULL;
    CHECK_OK(tsa_model_forecast(m, &hist, H, 0.9, &fc));
    if (!fc) {
        tsa_model_free(m);
        return;
    }
    memcpy(ref_fc, fc->mean, H * sizeof(double));
    memcpy(ref_fc + H, fc->lower, H * sizeof(double));
    memcpy(ref_fc + 2 * H, fc->upper, H * sizeof(double));
    tsa_forecast_free(fc);
    CHECK_OK(tsa_model_score(m, &x, ref_raw, NULL));
    pthread_t th[N_THREADS];
    worker_arg args[N_THREADS];
    for (int i = 0; i < N_THREADS; i++) {
        args[i] = (worker_arg){m, ref_fc, ref_raw, 0, 0};
        CHECK(pthread_create(&th[i], NULL, worker, &args[i]) == 0);
    }
    int mismatches = 0, errors = 0;
    for (int i = 0; i < N_THREADS; i++) {
        pthread_join(th[i], NULL);
        mismatches += args[i].mismatches;
        errors += args[i].errors;
    }
    printf("# %d threads x %d rounds: %d errors, %d mismatches\n", N_THREADS, ROUNDS, errors,
           mismatches);
    CHECK(errors == 0 && mismatches == 0);
    tsa_model_free(m);
}

TEST_LIST(TEST_CASE(fit_recovers_known_process), TEST_CASE(parameter_errors_name_the_key),
          TEST_CASE(fit_errors), TEST_CASE(auto_states_picks_three),
          TEST_CASE(full_covariance_2d), TEST_CASE(progress_is_monotone_and_cancels),
          TEST_CASE(detect_flags_injected_outliers), TEST_CASE(detect_on_own_contaminated_series),
          TEST_CASE(level_shift_is_reported),
          TEST_CASE(forecast_checks_against_reported_parameters),
          TEST_CASE(save_load_round_trip), TEST_CASE(forecast_and_score_errors),
          TEST_CASE(concurrent_forecast_and_score))
