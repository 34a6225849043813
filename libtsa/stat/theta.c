/* The Theta method as SES with drift (see theta.h). */
#include "stat/theta.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <gsl/gsl_cdf.h>

#include "core/error.h"
#include "stat/ets.h"
#include "stat/period.h"

#define THETA_LAYOUT_VERSION 1u
/* thetaf's one-sided 90% test: qnorm(0.95). */
#define THETA_SEASON_Z 1.6448536269514722
/* thetaf falls back to the non-seasonal method below this index. */
#define THETA_MIN_INDEX 1e-4

void tsa_stat_theta_free(tsa_stat_theta *th)
{
    if (!th)
        return;
    free(th->season);
    memset(th, 0, sizeof *th);
}

size_t tsa_stat_theta_context(const tsa_stat_theta *th)
{
    return th->seasonal != TSA_STAT_THETA_NONE ? 2 * th->m : 1;
}

/* (1 - (1 - alpha)^k) / alpha, accurate for small alpha. */
static double ses_gain(double alpha, double k)
{
    return -expm1(k * log1p(-alpha)) / alpha;
}

static double adjust(const tsa_stat_theta *th, const double *season, size_t t, double y)
{
    if (th->seasonal == TSA_STAT_THETA_MULT)
        return y / season[t % th->m];
    if (th->seasonal == TSA_STAT_THETA_ADD)
        return y - season[t % th->m];
    return y;
}

static double reseason(const tsa_stat_theta *th, const double *season, size_t t, double x)
{
    if (th->seasonal == TSA_STAT_THETA_MULT)
        return x * season[t % th->m];
    if (th->seasonal == TSA_STAT_THETA_ADD)
        return x + season[t % th->m];
    return x;
}

tsa_status tsa_stat_theta_fit(tsa_stat_theta *out, const double *y, size_t n, size_t m,
                              double theta)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !y, TSA_EINVAL, "theta: NULL argument");
    TSA_FAIL_IF(!(theta >= 1.0 && theta <= 10.0), TSA_EINVAL,
                "theta: must be in [1, 10], got %g", theta);
    TSA_FAIL_IF(m > TSA_STAT_THETA_MAX_M, TSA_EINVAL, "period: must be <= %d, got %zu",
                TSA_STAT_THETA_MAX_M, m);
    TSA_FAIL_IF(n < 7, TSA_ETOOSHORT, "train: the Theta method needs at least 7 rows, got %zu",
                n);
    for (size_t t = 0; t < n; t++)
        TSA_FAIL_IF(!isfinite(y[t]), TSA_ENONFINITE, "theta: value %zu is not finite", t);
    tsa_stat_theta th;
    memset(&th, 0, sizeof th);
    th.m = m > 1 ? m : 1;
    th.theta = theta;
    th.seas_stat = NAN;
    tsa_status rc = TSA_OK;
    double *x = malloc(n * sizeof *x);
    TSA_FAIL_IF(!x, TSA_ENOMEM, "theta: out of memory");

    int constant = 1;
    for (size_t t = 1; t < n; t++)
        constant &= y[t] == y[0];
    if (th.m > 1 && !constant && n > 2 * th.m) {
        double *r = malloc((th.m + 1) * sizeof *r);
        if (!r) {
            free(x);
            return tsa_error(TSA_ENOMEM, "theta: out of memory");
        }
        rc = tsa_stat_acf(y, n, th.m, r);
        if (rc == TSA_OK) {
            double acc = 1.0;
            for (size_t k = 1; k < th.m; k++)
                acc += 2.0 * r[k] * r[k];
            th.seas_stat = fabs(r[th.m]) / sqrt(acc / (double)n);
        }
        free(r);
        if (rc == TSA_OK && th.seas_stat > THETA_SEASON_Z) {
            int positive = 1;
            for (size_t t = 0; t < n; t++)
                positive &= y[t] > 0.0;
            th.season = malloc(th.m * sizeof *th.season);
            if (!th.season) {
                rc = tsa_error(TSA_ENOMEM, "theta: out of memory");
            } else {
                rc = tsa_stat_decompose(y, n, th.m, positive, th.season);
                th.seasonal = positive ? TSA_STAT_THETA_MULT : TSA_STAT_THETA_ADD;
                if (rc == TSA_ENUMERIC) {
                    /* A non-positive moving average: fall back to additive. */
                    rc = tsa_stat_decompose(y, n, th.m, 0, th.season);
                    th.seasonal = TSA_STAT_THETA_ADD;
                }
                if (rc == TSA_OK && th.seasonal == TSA_STAT_THETA_MULT)
                    for (size_t k = 0; k < th.m; k++)
                        if (fabs(th.season[k]) < THETA_MIN_INDEX)
                            th.seasonal = TSA_STAT_THETA_NONE;
                if (rc != TSA_OK || th.seasonal == TSA_STAT_THETA_NONE) {
                    free(th.season);
                    th.season = NULL;
                    th.seasonal = TSA_STAT_THETA_NONE;
                }
            }
        }
    }
    if (rc != TSA_OK) {
        free(x);
        tsa_stat_theta_free(&th);
        return rc;
    }
    for (size_t t = 0; t < n; t++)
        x[t] = adjust(&th, th.season, t, y[t]);

    /* SES by maximum likelihood: forecast::ses is ets(x, "ANN"). */
    tsa_stat_ets_opts o;
    tsa_stat_ets_opts_init(&o);
    o.error = TSA_STAT_ETS_A;
    o.trend = TSA_STAT_ETS_N;
    o.damped = 0;
    o.season = TSA_STAT_ETS_N;
    tsa_stat_ets ses;
    memset(&ses, 0, sizeof ses);
    rc = tsa_stat_ets_fit(&ses, x, n, &o);
    if (rc == TSA_OK) {
        th.alpha = ses.alpha;
        th.l0 = ses.l0;
        th.level = ses.l;
        th.sigma2 = ses.sigma2;
        /* lsfit(0:(n-1), x): the slope of the least-squares line. */
        double tbar = 0.5 * (double)(n - 1), xbar = 0.0, sxy = 0.0, sxx = 0.0;
        for (size_t t = 0; t < n; t++)
            xbar += x[t];
        xbar /= (double)n;
        for (size_t t = 0; t < n; t++) {
            double dt = (double)t - tbar;
            sxy += dt * (x[t] - xbar);
            sxx += dt * dt;
        }
        th.slope = sxy / sxx;
        th.drift = (1.0 - 1.0 / theta) * th.slope;
        th.n_train = n;
        if (!isfinite(th.slope) || !isfinite(th.level))
            rc = tsa_error(TSA_ENUMERIC, "theta: non-finite slope or level");
    }
    tsa_stat_ets_free(&ses);
    free(x);
    if (rc != TSA_OK) {
        tsa_stat_theta_free(&th);
        return rc;
    }
    tsa_stat_theta_free(out);
    *out = th;
    return TSA_OK;
}

/* SES with the theta drift over adjusted values x (n) from level L. */
static void theta_run(const tsa_stat_theta *th, const double *y, const double *season, size_t n,
                      double *L, double *pred, double *resid)
{
    const double a = th->alpha;
    double lv = *L;
    for (size_t t = 0; t < n; t++) {
        double x = adjust(th, season, t, y[t]);
        double mu = lv + th->drift * ses_gain(a, (double)t);
        if (pred)
            pred[t] = mu;
        if (resid)
            resid[t] = x - mu;
        lv = a * x + (1.0 - a) * lv;
    }
    *L = lv;
}

tsa_status tsa_stat_theta_filter(const tsa_stat_theta *th, const double *y, size_t n,
                                 double *season, double *level, double *pred, double *resid)
{
    TSA_FAIL_IF(!th || !y || !level || th->n_train == 0, TSA_EINVAL,
                "theta: NULL argument or unfitted model");
    size_t ctx = tsa_stat_theta_context(th);
    TSA_FAIL_IF(n < ctx, TSA_ETOOSHORT, "history: needs at least %zu rows, got %zu", ctx, n);
    if (th->seasonal != TSA_STAT_THETA_NONE) {
        TSA_FAIL_IF(!season, TSA_EINVAL, "theta: NULL seasonal buffer");
        const int mult = th->seasonal == TSA_STAT_THETA_MULT;
        for (size_t t = 0; mult && t < n; t++)
            TSA_FAIL_IF(!(y[t] > 0.0), TSA_EINVAL,
                        "history: the model adjusts multiplicatively and needs positive "
                        "values, got %g at row %zu",
                        y[t], t);
        TSA_TRY(tsa_stat_decompose(y, n, th->m, mult, season));
        if (mult)
            for (size_t k = 0; k < th->m; k++)
                TSA_FAIL_IF(!(fabs(season[k]) >= THETA_MIN_INDEX), TSA_ENUMERIC,
                            "history: seasonal index %zu is close to zero", k);
    }
    /* forecast::ses(initial = "simple"): the level starts at the first value. */
    double lv = adjust(th, season, 0, y[0]);
    theta_run(th, y, season, n, &lv, pred, resid);
    TSA_FAIL_IF(!isfinite(lv), TSA_ENUMERIC, "history: the level diverged");
    *level = lv;
    return TSA_OK;
}

tsa_status tsa_stat_theta_train_resid(const tsa_stat_theta *th, const double *y, size_t n,
                                      double *resid)
{
    TSA_FAIL_IF(!th || !y || !resid || th->n_train == 0, TSA_EINVAL,
                "theta: NULL argument or unfitted model");
    double lv = th->l0;
    theta_run(th, y, th->season, n, &lv, NULL, resid);
    return TSA_OK;
}

tsa_status tsa_stat_theta_forecast(const tsa_stat_theta *th, double level, size_t n_obs,
                                   const double *season, size_t horizon, double interval,
                                   double *mean, double *lower, double *upper)
{
    TSA_FAIL_IF(!th || !mean || !lower || !upper || th->n_train == 0, TSA_EINVAL,
                "theta forecast: NULL argument or unfitted model");
    TSA_FAIL_IF(th->seasonal != TSA_STAT_THETA_NONE && !season, TSA_EINVAL,
                "theta forecast: NULL seasonal indices");
    TSA_FAIL_IF(horizon == 0, TSA_ERANGE, "horizon: must be >= 1");
    TSA_FAIL_IF(!(interval > 0.0 && interval < 1.0), TSA_ERANGE,
                "interval: must be in (0, 1), got %g", interval);
    const double a = th->alpha, sigma = sqrt(th->sigma2);
    const double z = gsl_cdf_ugaussian_Pinv(0.5 * (1.0 + interval));
    const double gain = ses_gain(a, (double)n_obs);
    for (size_t h = 1; h <= horizon; h++) {
        double mu = level + th->drift * ((double)(h - 1) + gain);
        double se = sigma * sqrt(1.0 + (double)(h - 1) * a * a);
        size_t t = n_obs + h - 1;
        double lo = reseason(th, season, t, mu - z * se);
        double hi = reseason(th, season, t, mu + z * se);
        mean[h - 1] = reseason(th, season, t, mu);
        /* A negative multiplicative index would swap the bounds. */
        lower[h - 1] = lo < hi ? lo : hi;
        upper[h - 1] = lo < hi ? hi : lo;
    }
    return TSA_OK;
}

void tsa_stat_theta_save(const tsa_stat_theta *th, tsa_wbuf *w)
{
    if (!th || th->n_train == 0) {
        w->failed = 1;
        return;
    }
    tsa_wbuf_u32(w, THETA_LAYOUT_VERSION);
    tsa_wbuf_u64(w, th->n_train);
    tsa_wbuf_u64(w, th->m);
    tsa_wbuf_u8(w, (uint8_t)th->seasonal);
    tsa_wbuf_f64(w, th->seas_stat);
    if (th->seasonal != TSA_STAT_THETA_NONE)
        tsa_wbuf_f64s(w, th->season, th->m);
    tsa_wbuf_f64(w, th->theta);
    tsa_wbuf_f64(w, th->alpha);
    tsa_wbuf_f64(w, th->l0);
    tsa_wbuf_f64(w, th->sigma2);
    tsa_wbuf_f64(w, th->slope);
    tsa_wbuf_f64(w, th->drift);
    tsa_wbuf_f64(w, th->level);
}

tsa_status tsa_stat_theta_load(tsa_stat_theta *out, tsa_rbuf *r)
{
    TSA_FAIL_IF(!out || !r, TSA_EINVAL, "theta: NULL argument");
    tsa_stat_theta th;
    memset(&th, 0, sizeof th);
    uint32_t version;
    uint64_t n_train, m;
    uint8_t seasonal;
    tsa_status rc = TSA_OK;
#define LOAD_FAIL(...)                                              \
    do {                                                            \
        rc = tsa_error(TSA_EFORMAT, "Theta state: " __VA_ARGS__);   \
        goto done;                                                  \
    } while (0)
    if (tsa_rbuf_u32(r, &version) || tsa_rbuf_u64(r, &n_train) || tsa_rbuf_u64(r, &m) ||
        tsa_rbuf_u8(r, &seasonal) || tsa_rbuf_f64(r, &th.seas_stat))
        LOAD_FAIL("truncated header");
    if (version != THETA_LAYOUT_VERSION)
        LOAD_FAIL("unknown layout version %u", (unsigned)version);
    if (n_train < 7 || n_train > ((uint64_t)1 << 40))
        LOAD_FAIL("bad training length");
    if (m == 0 || m > TSA_STAT_THETA_MAX_M || seasonal > TSA_STAT_THETA_ADD ||
        (seasonal != TSA_STAT_THETA_NONE && (m < 2 || n_train <= 2 * m)))
        LOAD_FAIL("bad period %llu or adjustment code %u", (unsigned long long)m,
                  (unsigned)seasonal);
    th.n_train = (size_t)n_train;
    th.m = (size_t)m;
    th.seasonal = seasonal;
    if (!isfinite(th.seas_stat) && !isnan(th.seas_stat))
        LOAD_FAIL("bad test statistic");
    if (seasonal != TSA_STAT_THETA_NONE) {
        if (tsa_rbuf_f64s_alloc(r, th.m, &th.season))
            LOAD_FAIL("truncated seasonal indices");
        for (size_t k = 0; k < th.m; k++)
            if (!isfinite(th.season[k]) ||
                (seasonal == TSA_STAT_THETA_MULT && !(fabs(th.season[k]) >= THETA_MIN_INDEX)))
                LOAD_FAIL("bad seasonal index %zu", k);
    }
    if (tsa_rbuf_f64(r, &th.theta) || tsa_rbuf_f64(r, &th.alpha) || tsa_rbuf_f64(r, &th.l0) ||
        tsa_rbuf_f64(r, &th.sigma2) || tsa_rbuf_f64(r, &th.slope) || tsa_rbuf_f64(r, &th.drift) ||
        tsa_rbuf_f64(r, &th.level))
        LOAD_FAIL("truncated parameters");
    if (!(th.theta >= 1.0 && th.theta <= 10.0))
        LOAD_FAIL("theta %g out of [1, 10]", th.theta);
    if (!(th.alpha > 0.0 && th.alpha < 1.0))
        LOAD_FAIL("alpha %g out of (0, 1)", th.alpha);
    if (!(th.sigma2 > 0.0) || !isfinite(th.sigma2) || !isfinite(th.l0) || !isfinite(th.slope) ||
        !isfinite(th.drift) || !isfinite(th.level))
        LOAD_FAIL("non-finite or negative parameters");
#undef LOAD_FAIL
done:
    if (rc != TSA_OK) {
        tsa_stat_theta_free(&th);
        return rc;
    }
    tsa_stat_theta_free(out);
    *out = th;
    return TSA_OK;
}
