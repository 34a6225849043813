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
/* Up to this period a history takes the fitted seasonal indices, aligned to
 * its phase (O(m^2)); beyond it, its own. */
#define THETA_MAX_ALIGN_M 2000

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

/* The adjusted value of y at seasonal slot k (t mod m for row t). */
static double adjust(const tsa_stat_theta *th, const double *season, size_t k, double y)
{
    if (th->seasonal == TSA_STAT_THETA_MULT)
        return y / season[k];
    if (th->seasonal == TSA_STAT_THETA_ADD)
        return y - season[k];
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

/* ---- simple exponential smoothing ------------------------------------------------- */

/* SES (ETS(A,N,N)): l_t = (1 - alpha) l_{t-1} + alpha x_t, one-step
 * prediction l_{t-1}. The errors are affine in the initial level: from a
 * start l0 = c they are e_t = f_t - (1 - alpha)^t d with d = l0 - c and f_t
 * the errors from c, so for a given alpha the SSE is a quadratic in l0
 * whose minimum is closed-form: d = sum f c_t / sum c_t^2, SSE = sum f^2 -
 * d sum f c_t, c_t = (1 - alpha)^t. The Gaussian likelihood at sigma^2 =
 * SSE / n is monotone in the SSE, so maximum likelihood over (alpha, l0)
 * minimises this profile over alpha alone. Starting from c = x_0 keeps the
 * errors of the order of the noise, so the subtraction loses little. */
static double ses_profile(const double *x, size_t n, double alpha, double *l0)
{
    const double oma = 1.0 - alpha, c0 = x[0];
    double l = c0, c = 1.0, sff = 0.0, sfc = 0.0, scc = 0.0;
    for (size_t t = 0; t < n; t++) {
        double f = x[t] - l;
        sff += f * f;
        sfc += f * c;
        scc += c * c;
        l = oma * l + alpha * x[t];
        c *= oma;
    }
    double d = sfc / scc;
    *l0 = c0 + d;
    double sse = sff - d * sfc;
    return sse > 0.0 ? sse : 0.0;
}

/* The SES filter from l0: the SSE and the final level. */
static double ses_run(const double *x, size_t n, double alpha, double l0, double *level)
{
    const double oma = 1.0 - alpha;
    double l = l0, sse = 0.0;
    for (size_t t = 0; t < n; t++) {
        double e = x[t] - l;
        sse += e * e;
        l = oma * l + alpha * x[t];
    }
    *level = l;
    return sse;
}

/* Minimises the profile SSE over alpha in [lo, hi] by Brent's method
 * (golden section with parabolic steps; Brent 1973, "Algorithms for
 * Minimization without Derivatives", ch. 5), from the bracket's best point
 * v with value fv. Returns the best alpha. */
static double ses_brent(const double *x, size_t n, double lo, double hi, double v, double fv)
{
    const double cg = 0.3819660112501051, tol = 1e-9;
    double a = lo, b = hi, w = v, xx = v, fw = fv, fx = fv, d = 0.0, e = 0.0, l0;
    for (int it = 0; it < 100; it++) {
        double xm = 0.5 * (a + b), tol1 = tol * fabs(xx) + 1e-12, tol2 = 2.0 * tol1;
        if (fabs(xx - xm) <= tol2 - 0.5 * (b - a))
            break;
        int golden = 1;
        if (fabs(e) > tol1) {
            double r = (xx - w) * (fx - fv), q = (xx - v) * (fx - fw);
            double pp = (xx - v) * q - (xx - w) * r;
            q = 2.0 * (q - r);
            if (q > 0.0)
                pp = -pp;
            q = fabs(q);
            double etemp = e;
            e = d;
            if (fabs(pp) < fabs(0.5 * q * etemp) && pp > q * (a - xx) && pp < q * (b - xx)) {
                d = pp / q;
                double u = xx + d;
                if (u - a < tol2 || b - u < tol2)
                    d = xm >= xx ? tol1 : -tol1;
                golden = 0;
            }
        }
        if (golden) {
            e = (xx >= xm ? a : b) - xx;
            d = cg * e;
        }
        double u = fabs(d) >= tol1 ? xx + d : xx + (d > 0.0 ? tol1 : -tol1);
        double fu = ses_profile(x, n, u, &l0);
        if (fu <= fx) {
            if (u >= xx)
                a = xx;
            else
                b = xx;
            v = w;
            fv = fw;
            w = xx;
            fw = fx;
            xx = u;
            fx = fu;
        } else {
            if (u < xx)
                a = u;
            else
                b = u;
            if (fu <= fw || w == xx) {
                v = w;
                fv = fw;
                w = u;
                fw = fu;
            } else if (fu <= fv || v == xx || v == w) {
                v = u;
                fv = fu;
            }
        }
    }
    return xx;
}

/* SES by maximum likelihood (forecast::ses, i.e. ets(x, "ANN")) with
 * alpha in forecast's usual region [1e-4, 0.9999]: a grid over alpha, then
 * Brent's method between the neighbours of the best grid point (the
 * profile can have more than one local minimum). sigma2 = SSE / (n - 2),
 * as ets's for two estimated parameters. */
static tsa_status ses_fit(const double *x, size_t n, double *alpha, double *l0, double *level,
                          double *sigma2)
{
    static const double grid[] = {TSA_STAT_ETS_LOWER, 0.002, 0.01, 0.03, 0.06, 0.1, 0.15,
                                  0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.97,
                                  TSA_STAT_ETS_UPPER};
    const size_t ng = sizeof grid / sizeof grid[0];
    double fg[sizeof grid / sizeof grid[0]], tmp;
    size_t ib = 0;
    for (size_t i = 0; i < ng; i++) {
        fg[i] = ses_profile(x, n, grid[i], &tmp);
        TSA_FAIL_IF(!isfinite(fg[i]), TSA_ENUMERIC, "theta: non-finite SES errors");
        if (fg[i] < fg[ib])
            ib = i;
    }
    double lo = grid[ib > 0 ? ib - 1 : 0], hi = grid[ib + 1 < ng ? ib + 1 : ng - 1];
    double a = ses_brent(x, n, lo, hi, grid[ib], fg[ib]);
    double fa = ses_profile(x, n, a, l0);
    if (!(fa <= fg[ib])) {
        a = grid[ib];
        ses_profile(x, n, a, l0);
    }
    double sse = ses_run(x, n, a, *l0, level);
    TSA_FAIL_IF(!isfinite(sse) || !isfinite(*l0) || !isfinite(*level), TSA_ENUMERIC,
                "theta: non-finite SES fit");
    *alpha = a;
    *sigma2 = sse / (double)(n - 2);
    /* A perfect fit leaves no noise to scale intervals and scores with. */
    double ymax = 0.0;
    for (size_t t = 0; t < n; t++)
        ymax = fmax(ymax, fabs(x[t]));
    double floor = ymax > 0.0 ? 1e-24 * ymax * ymax : 1e-24;
    if (!(*sigma2 > floor))
        *sigma2 = floor;
    return TSA_OK;
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
    for (size_t t = 0, k = 0; t < n; t++, k = k + 1 == th.m ? 0 : k + 1)
        x[t] = adjust(&th, th.season, k, y[t]);

    /* SES by maximum likelihood: forecast::ses is ets(x, "ANN"). */
    rc = ses_fit(x, n, &th.alpha, &th.l0, &th.level, &th.sigma2);
    if (rc == TSA_OK) {
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
    const double a = th->alpha, oma = 1.0 - a;
    double lv = *L, pw = 1.0; /* (1 - alpha)^t */
    for (size_t t = 0, k = 0; t < n; t++, k = k + 1 == th->m ? 0 : k + 1) {
        double x = adjust(th, season, k, y[t]);
        /* ses_gain(a, t) without a log and an exp per row. */
        double mu = lv + th->drift * ((1.0 - pw) / a);
        pw *= oma;
        if (pred)
            pred[t] = mu;
        if (resid)
            resid[t] = x - mu;
        lv = a * x + oma * lv;
    }
    *L = lv;
}

/* Replaces a history's own seasonal indices (season, m values, phase
 * origin at its row 0) by the fitted ones, rotated to the phase whose
 * centred indices correlate best with the history's: the history's
 * decomposition only places it in the cycle, and the indices come from the
 * longer training series, undisturbed by what the history holds (such as
 * the anomalies being scored). O(m^2). */
static void align_season(const tsa_stat_theta *th, double *season)
{
    const size_t m = th->m;
    double hbar = 0.0, fbar = 0.0;
    for (size_t k = 0; k < m; k++) {
        hbar += season[k];
        fbar += th->season[k];
    }
    hbar /= (double)m;
    fbar /= (double)m;
    size_t best = 0;
    double best_c = -INFINITY;
    for (size_t r = 0; r < m; r++) {
        double c = 0.0;
        for (size_t k = 0, j = r; k < m; k++, j = j + 1 == m ? 0 : j + 1)
            c += (season[k] - hbar) * (th->season[j] - fbar);
        if (c > best_c) {
            best_c = c;
            best = r;
        }
    }
    for (size_t k = 0, j = best; k < m; k++, j = j + 1 == m ? 0 : j + 1)
        season[k] = th->season[j];
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
        if (th->m <= THETA_MAX_ALIGN_M)
            align_season(th, season);
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
