/* VAR(p) estimation, order selection, forecasting and scoring on GSL.
 *
 * References: Lütkepohl (2005), "New Introduction to Multiple Time Series
 * Analysis": multivariate least squares (sec. 3.2.1), forecast MSE matrices
 * (sec. 2.2.2, eq. 2.2.11), order selection criteria (sec. 4.3); statsmodels
 * VAR.select_order / VAR.fit / VARResults for the exact conventions (common
 * selection sample, Sigma_u degrees of freedom, criteria, log-likelihood). */
#include "stat/var.h"

#include <gsl/gsl_cdf.h>
#include <gsl/gsl_complex.h>
#include <gsl/gsl_complex_math.h>
#include <gsl/gsl_eigen.h>
#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_matrix.h>
#include <gsl/gsl_vector.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#ifndef M_PI
#define M_PI 3.14159265358979323846
#endif

#define VAR_LAYOUT_VERSION 1u

/* A regressor whose part orthogonal to the earlier columns is below this
 * fraction of its norm makes the design singular for our purposes. */
#define VAR_RANK_TOL 1e-10

static size_t n_det_of(tsa_stat_var_trend t)
{
    return t == TSA_STAT_VAR_TREND_N ? 0 : t == TSA_STAT_VAR_TREND_C ? 1 : 2;
}

const char *tsa_stat_var_trend_name(tsa_stat_var_trend t)
{
    switch (t) {
    case TSA_STAT_VAR_TREND_N:
        return "n";
    case TSA_STAT_VAR_TREND_C:
        return "c";
    case TSA_STAT_VAR_TREND_CT:
        return "ct";
    }
    return "?";
}

int tsa_stat_var_trend_parse(const char *s, tsa_stat_var_trend *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "n") == 0)
        *out = TSA_STAT_VAR_TREND_N;
    else if (strcmp(s, "c") == 0)
        *out = TSA_STAT_VAR_TREND_C;
    else if (strcmp(s, "ct") == 0)
        *out = TSA_STAT_VAR_TREND_CT;
    else
        return -1;
    return 0;
}

const char *tsa_stat_var_ic_name(tsa_stat_var_ic ic)
{
    switch (ic) {
    case TSA_STAT_VAR_IC_AIC:
        return "aic";
    case TSA_STAT_VAR_IC_BIC:
        return "bic";
    case TSA_STAT_VAR_IC_HQIC:
        return "hqic";
    case TSA_STAT_VAR_IC_FIXED:
        return "fixed";
    }
    return "?";
}

int tsa_stat_var_ic_parse(const char *s, tsa_stat_var_ic *out)
{
    if (!s)
        return -1;
    if (strcmp(s, "aic") == 0)
        *out = TSA_STAT_VAR_IC_AIC;
    else if (strcmp(s, "bic") == 0)
        *out = TSA_STAT_VAR_IC_BIC;
    else if (strcmp(s, "hqic") == 0)
        *out = TSA_STAT_VAR_IC_HQIC;
    else
        return -1;
    return 0;
}

void tsa_stat_var_opts_init(tsa_stat_var_opts *o)
{
    memset(o, 0, sizeof *o);
    o->max_lags = 10;
    o->order = 0;
    o->trend = TSA_STAT_VAR_TREND_C;
    o->ic = TSA_STAT_VAR_IC_AIC;
}

size_t tsa_stat_var_min_length(size_t k, size_t lags, size_t n_det)
{
    /* T - lags >= k * lags + n_det + k; sizes are bounded by the callers
     * (k <= TSA_STAT_VAR_MAX_FEATURES, lags <= TSA_STAT_VAR_MAX_ORDER). */
    return lags * (k + 1) + n_det + k;
}

void tsa_stat_var_free(tsa_stat_var *v)
{
    if (!v)
        return;
    free(v->coef);
    free(v->sigma_u);
    free(v->chol);
    free(v->sel);
    memset(v, 0, sizeof *v);
}

/* ---- small dense helpers (row-major, k x k) ------------------------------ */

/* C = A B for k x k matrices. */
static void matmul(size_t k, const double *a, const double *b, double *c)
{
    for (size_t i = 0; i < k; i++) {
        double *ci = c + i * k;
        for (size_t j = 0; j < k; j++)
            ci[j] = 0.0;
        for (size_t l = 0; l < k; l++) {
            double ail = a[i * k + l];
            if (ail == 0.0)
                continue;
            const double *bl = b + l * k;
            for (size_t j = 0; j < k; j++)
                ci[j] += ail * bl[j];
        }
    }
}

/* Lower Cholesky factor of the symmetric (k, k) matrix @s into @l (upper
 * part zeroed) through GSL. Returns 0, or -1 when not positive definite, or
 * -2 on allocation failure. */
static int cholesky(size_t k, const double *s, double *l)
{
    gsl_matrix *m = gsl_matrix_alloc(k, k);
    if (!m)
        return -2;
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < k; j++)
            gsl_matrix_set(m, i, j, s[i * k + j]);
    int rc = gsl_linalg_cholesky_decomp1(m);
    if (rc == GSL_SUCCESS) {
        for (size_t i = 0; i < k; i++) {
            for (size_t j = 0; j < k; j++)
                l[i * k + j] = j <= i ? gsl_matrix_get(m, i, j) : 0.0;
            if (!(l[i * k + i] > 0.0) || !isfinite(l[i * k + i]))
                rc = GSL_EDOM;
        }
    }
    gsl_matrix_free(m);
    return rc == GSL_SUCCESS ? 0 : -1;
}

/* log det of L L' from its Cholesky factor. */
static double chol_logdet(size_t k, const double *l)
{
    double ld = 0.0;
    for (size_t i = 0; i < k; i++)
        ld += log(l[i * k + i]);
    return 2.0 * ld;
}

/* The largest |eigenvalue| of the (kp, kp) companion matrix
 *   [A_1 A_2 ... A_p; I 0 ... 0; ...; 0 ... I 0]  (Lütkepohl eq. 2.1.8). */
static tsa_status companion_radius(size_t k, size_t p, const double *A, double *radius)
{
    if (p == 0) {
        *radius = 0.0;
        return TSA_OK;
    }
    size_t n = k * p;
    gsl_matrix *c = gsl_matrix_calloc(n, n);
    gsl_vector_complex *ev = gsl_vector_complex_alloc(n);
    gsl_eigen_nonsymm_workspace *w = gsl_eigen_nonsymm_alloc(n);
    tsa_status rc = TSA_OK;
    if (!c || !ev || !w) {
        rc = tsa_error(TSA_ENOMEM, "VAR: out of memory for the %zu x %zu companion matrix", n, n);
        goto done;
    }
    for (size_t i = 1; i <= p; i++)
        for (size_t r = 0; r < k; r++)
            for (size_t col = 0; col < k; col++)
                gsl_matrix_set(c, r, (i - 1) * k + col, A[(i - 1) * k * k + r * k + col]);
    for (size_t i = k; i < n; i++)
        gsl_matrix_set(c, i, i - k, 1.0);
    if (gsl_eigen_nonsymm(c, ev, w) != GSL_SUCCESS) {
        rc = tsa_error(TSA_ENUMERIC, "VAR: eigenvalues of the companion matrix did not converge");
        goto done;
    }
    double mx = 0.0;
    for (size_t i = 0; i < n; i++) {
        double a = gsl_complex_abs(gsl_vector_complex_get(ev, i));
        if (!(a <= mx)) /* NaN propagates */
            mx = a;
    }
    if (!isfinite(mx))
        rc = tsa_error(TSA_ENUMERIC, "VAR: companion matrix has non-finite eigenvalues");
    *radius = mx;
done:
    gsl_eigen_nonsymm_free(w);
    gsl_vector_complex_free(ev);
    gsl_matrix_free(c);
    return rc;
}

/* ---- estimation ---------------------------------------------------------- */

/* The data as the regressions see them: per-feature z-scores (only scaled
 * for trend "n", which has no intercept to absorb a centring) and the
 * trend column (tau - tau_a) / tau_b. */
typedef struct var_data {
    size_t T, k, n_det;
    tsa_stat_var_trend trend;
    double *z;       /* (T, k) (y - mu) / sd */
    double *mu;      /* (k) */
    double *sd;      /* (k) */
    double tau_a, tau_b;
} var_data;

static void var_data_free(var_data *d)
{
    free(d->z);
    free(d->mu);
    free(d->sd);
}

static tsa_status var_data_init(var_data *d, const double *y, size_t T, size_t k,
                                tsa_stat_var_trend trend)
{
    memset(d, 0, sizeof *d);
    d->T = T;
    d->k = k;
    d->trend = trend;
    d->n_det = n_det_of(trend);
    d->z = malloc(T * k * sizeof *d->z);
    d->mu = malloc(k * sizeof *d->mu);
    d->sd = malloc(k * sizeof *d->sd);
    if (!d->z || !d->mu || !d->sd) {
        var_data_free(d);
        return tsa_error(TSA_ENOMEM, "VAR: out of memory for %zu x %zu data", T, k);
    }
    for (size_t j = 0; j < k; j++) {
        double mean = 0.0;
        for (size_t t = 0; t < T; t++)
            mean += y[t * k + j];
        mean /= (double)T;
        double ss = 0.0;
        for (size_t t = 0; t < T; t++) {
            double e = y[t * k + j] - mean;
            ss += e * e;
        }
        double sd = sqrt(ss / (double)T);
        if (!(sd > 1e-12 * fabs(mean))) {
            var_data_free(d);
            return tsa_error(TSA_ENUMERIC,
                             "VAR: feature %zu is constant (%.17g); every feature must vary", j,
                             mean);
        }
        if (trend == TSA_STAT_VAR_TREND_N) {
            d->mu[j] = 0.0;
            d->sd[j] = sqrt(ss / (double)T + mean * mean);
        } else {
            d->mu[j] = mean;
            d->sd[j] = sd;
        }
    }
    for (size_t t = 0; t < T; t++)
        for (size_t j = 0; j < k; j++)
            d->z[t * k + j] = (y[t * k + j] - d->mu[j]) / d->sd[j];
    d->tau_a = 0.5 * ((double)T + 1.0);
    d->tau_b = (double)T;
    return TSA_OK;
}

/* Describes regressor @j of the design in @buf. */
static void regressor_name(const var_data *d, size_t j, char *buf, size_t n)
{
    if (j < d->n_det)
        snprintf(buf, n, "%s", j == 0 ? "the intercept" : "the linear trend");
    else
        snprintf(buf, n, "feature %zu at lag %zu", (j - d->n_det) % d->k,
                 (j - d->n_det) / d->k + 1);
}

/* The design of order @p on rows row0..T-1 into @X (T - row0, n_det + k p),
 * columns ordered intercept, trend, lag 1 features 0..k-1, lag 2, ...;
 * adds each column's sum of squares to @norm (zeroed by the caller). */
static void fill_design(const var_data *d, size_t p, size_t row0, gsl_matrix *X, double *norm)
{
    size_t k = d->k, m = d->n_det + k * p;
    for (size_t t = row0; t < d->T; t++) {
        double *row = gsl_matrix_ptr(X, t - row0, 0);
        size_t j = 0;
        if (d->n_det >= 1)
            row[j++] = 1.0;
        if (d->n_det >= 2)
            row[j++] = ((double)(t + 1) - d->tau_a) / d->tau_b;
        for (size_t i = 1; i <= p; i++) {
            memcpy(row + j, d->z + (t - i) * k, k * sizeof *row);
            j += k;
        }
        for (j = 0; j < m; j++)
            norm[j] += row[j] * row[j];
    }
}

/* Without pivoting, |R_jj| is the norm of column j's part orthogonal to the
 * columns before it: near zero means j is (nearly) their linear combination,
 * e.g. a feature that is constant or collinear. Checks columns j0..j1-1 of
 * the factored design @QR. */
static tsa_status check_rank(const var_data *d, const gsl_matrix *QR, const double *norm,
                             size_t j0, size_t j1)
{
    for (size_t j = j0; j < j1; j++) {
        double rjj = fabs(gsl_matrix_get(QR, j, j));
        if (!(rjj > VAR_RANK_TOL * sqrt(norm[j]))) {
            char name[64];
            regressor_name(d, j, name, sizeof name);
            return tsa_error(TSA_ENUMERIC,
                             "VAR: singular design: %s is a linear combination of the "
                             "regressors before it (constant or collinear features?)",
                             name);
        }
    }
    return TSA_OK;
}

/* Least squares of order @p on rows row0..T-1 of the standardised data:
 *   z_t = b_0 [+ b_1 tau~_t] + sum_i B_i z_{t-i} + e_t
 * by Householder QR (GSL), one right-hand side per equation.
 * coef (m, k): coef[j * k + r] is regressor j in equation r, regressors
 * ordered intercept, trend, then lag 1 features 0..k-1, lag 2, ...
 * resid (T - row0, k) in standardised units. */
static tsa_status ols(const var_data *d, size_t p, size_t row0, double *coef, double *resid)
{
    size_t k = d->k, T = d->T, nobs = T - row0, m = d->n_det + k * p;
    tsa_status rc = TSA_OK;

    if (m == 0) { /* nothing to fit: the residuals are the data */
        memcpy(resid, d->z + row0 * k, nobs * k * sizeof *resid);
        return TSA_OK;
    }

    gsl_matrix *X = gsl_matrix_alloc(nobs, m);
    gsl_vector *tau = gsl_vector_alloc(m);
    gsl_vector *b = gsl_vector_alloc(nobs);
    gsl_vector *x = gsl_vector_alloc(m);
    gsl_vector *res = gsl_vector_alloc(nobs);
    double *norm = calloc(m, sizeof *norm);
    if (!X || !tau || !b || !x || !res || !norm) {
        rc = tsa_error(TSA_ENOMEM, "VAR: out of memory for a %zu x %zu design", nobs, m);
        goto done;
    }

    fill_design(d, p, row0, X, norm);

    if (gsl_linalg_QR_decomp(X, tau) != GSL_SUCCESS) {
        rc = tsa_error(TSA_ENUMERIC, "VAR: QR decomposition of the %zu x %zu design failed",
                       nobs, m);
        goto done;
    }
    TSA_CHECK_GOTO(check_rank(d, X, norm, 0, m), rc, done);
    for (size_t r = 0; r < k; r++) {
        for (size_t t = row0; t < T; t++)
            gsl_vector_set(b, t - row0, d->z[t * k + r]);
        if (gsl_linalg_QR_lssolve(X, tau, b, x, res) != GSL_SUCCESS) {
            rc = tsa_error(TSA_ENUMERIC, "VAR: least-squares solve failed for equation %zu", r);
            goto done;
        }
        for (size_t j = 0; j < m; j++) {
            double v = gsl_vector_get(x, j);
            if (!isfinite(v)) {
                rc = tsa_error(TSA_ENUMERIC, "VAR: non-finite coefficient in equation %zu", r);
                goto done;
            }
            coef[j * k + r] = v;
        }
        for (size_t t = 0; t < nobs; t++)
            resid[t * k + r] = gsl_vector_get(res, t);
    }

done:
    free(norm);
    gsl_vector_free(res);
    gsl_vector_free(x);
    gsl_vector_free(b);
    gsl_vector_free(tau);
    gsl_matrix_free(X);
    return rc;
}

/* sse = resid' resid in original units, (k, k), exactly symmetric. */
static void residual_sscp(const var_data *d, const double *resid, size_t nobs, double *sse)
{
    size_t k = d->k;
    for (size_t r = 0; r < k; r++)
        for (size_t c = 0; c <= r; c++) {
            double s = 0.0;
            for (size_t t = 0; t < nobs; t++)
                s += resid[t * k + r] * resid[t * k + c];
            s *= d->sd[r] * d->sd[c];
            sse[r * k + c] = s;
            sse[c * k + r] = s;
        }
}

/* Explains a covariance @s (k, k) that is not positive definite: the first
 * feature whose variance, or whose variance given the features before it
 * (the squared Cholesky pivot), vanishes. */
static tsa_status singular_sigma(const double *s, size_t k)
{
    double *l = malloc(k * k * sizeof *l);
    size_t bad = k;
    int exact = 0;
    if (l) {
        for (size_t j = 0; j < k && bad == k; j++) {
            double d = s[j * k + j];
            for (size_t c = 0; c < j; c++)
                d -= l[j * k + c] * l[j * k + c];
            if (!(s[j * k + j] > 0.0)) {
                bad = j;
                exact = 1;
            } else if (!(d > 1e-12 * s[j * k + j])) {
                bad = j;
            } else {
                l[j * k + j] = sqrt(d);
                for (size_t i = j + 1; i < k; i++) {
                    double v = s[i * k + j];
                    for (size_t c = 0; c < j; c++)
                        v -= l[i * k + c] * l[j * k + c];
                    l[i * k + j] = v / l[j * k + j];
                }
            }
        }
        free(l);
    }
    if (bad < k && exact)
        return tsa_error(TSA_ENUMERIC,
                         "VAR: residual covariance is singular: feature %zu is predicted "
                         "exactly by the past",
                         bad);
    if (bad < k)
        return tsa_error(TSA_ENUMERIC,
                         "VAR: residual covariance is singular: the innovation of feature %zu "
                         "is a linear combination of those of features 0..%zu (collinear "
                         "features?)",
                         bad, bad ? bad - 1 : 0);
    return tsa_error(TSA_ENUMERIC, "VAR: residual covariance is not positive definite");
}

/* log det(sse / nobs) through its Cholesky factor (scratch: k*k*2). */
static tsa_status logdet_ml(size_t k, const double *sse, size_t nobs, double *scratch, double *ld)
{
    double *s = scratch, *l = scratch + k * k;
    for (size_t i = 0; i < k * k; i++)
        s[i] = sse[i] / (double)nobs;
    int c = cholesky(k, s, l);
    if (c == -2)
        return tsa_error(TSA_ENOMEM, "VAR: out of memory");
    if (c != 0)
        return singular_sigma(s, k);
    *ld = chol_logdet(k, l);
    return TSA_OK;
}

/* statsmodels' VARResults.info_criteria (Lütkepohl sec. 4.3). */
static void criteria(double ld, size_t nobs, size_t k, size_t p, size_t n_det, double *aic,
                     double *bic, double *hqic)
{
    double n = (double)nobs;
    double fp = (double)(p * k * k + k * n_det);
    *aic = ld + 2.0 / n * fp;
    *bic = ld + log(n) / n * fp;
    *hqic = ld + 2.0 * log(log(n)) / n * fp;
}

/* Information criteria of every order pmin..L on the common rows L..T-1
 * into sel (3 per order: aic, bic, hqic) and the first minimiser of
 * criterion @ic into *best.
 *
 * The candidate designs are nested: order q's regressors are the leading
 * m_q = n_det + k q columns of order L's, on the same rows. With X = QR
 * (Householder, no pivoting), the leading m_q columns of Q and the leading
 * m_q x m_q block of R are a QR factorisation of order q's design, so with
 * c = Q'z its least-squares residual sum of squares and cross-products is
 *   sum_{i >= m_q} c_i c_i'
 * (Golub & Van Loan, "Matrix Computations", 4th ed., sec. 5.3.3; the same
 * nesting Lütkepohl sec. 4.3 uses). One factorisation of the largest design
 * thus gives Sigma_ML of every order without refitting. */
static tsa_status select_order(const var_data *d, size_t L, size_t pmin,
                               const tsa_stat_var_opts *o, double *sel, size_t *best)
{
    size_t k = d->k, T = d->T, nd = d->n_det, nobs = T - L, mmax = nd + k * L;
    size_t n_sel = L - pmin + 1;
    tsa_status rc = TSA_OK;

    gsl_matrix *X = gsl_matrix_alloc(nobs, mmax);
    gsl_matrix *Tm = gsl_matrix_alloc(mmax, mmax);
    gsl_vector *b = gsl_vector_alloc(nobs);
    gsl_vector *work = gsl_vector_alloc(mmax);
    double *norm = calloc(mmax, sizeof *norm);
    double *c = malloc(nobs * k * sizeof *c);
    double *S = calloc(n_sel * k * k, sizeof *S); /* per order, standardised */
    double *sse = malloc(k * k * sizeof *sse);
    double *scratch = malloc(2 * k * k * sizeof *scratch);
    if (!X || !Tm || !b || !work || !norm || !c || !S || !sse || !scratch) {
        rc = tsa_error(TSA_ENOMEM, "VAR: out of memory for a %zu x %zu design", nobs, mmax);
        goto done;
    }

    fill_design(d, L, L, X, norm);
    if (gsl_linalg_QR_decomp_r(X, Tm) != GSL_SUCCESS) {
        rc = tsa_error(TSA_ENUMERIC, "VAR: QR decomposition of the %zu x %zu design failed",
                       nobs, mmax);
        goto done;
    }
    for (size_t r = 0; r < k; r++) {
        for (size_t t = L; t < T; t++)
            gsl_vector_set(b, t - L, d->z[t * k + r]);
        if (gsl_linalg_QR_QTvec_r(X, Tm, b, work) != GSL_SUCCESS) {
            rc = tsa_error(TSA_ENUMERIC, "VAR: applying Q' failed for equation %zu", r);
            goto done;
        }
        for (size_t i = 0; i < nobs; i++)
            c[i * k + r] = gsl_vector_get(b, i);
    }

    /* Tail sums from the largest order down: S_q = S_{q+1} + the rows
     * m_q..m_{q+1}-1 that order q leaves unexplained. */
    for (size_t q = L + 1; q-- > pmin;) {
        double *Sq = S + (q - pmin) * k * k;
        size_t i0 = nd + k * q, i1 = q == L ? nobs : nd + k * (q + 1);
        if (q < L)
            memcpy(Sq, Sq + k * k, k * k * sizeof *Sq);
        for (size_t i = i0; i < i1; i++)
            for (size_t r = 0; r < k; r++)
                for (size_t cc = 0; cc <= r; cc++)
                    Sq[r * k + cc] += c[i * k + r] * c[i * k + cc];
    }

    double best_val = INFINITY;
    *best = pmin;
    for (size_t q = pmin; q <= L; q++) {
        if (o->progress)
            TSA_CHECK_GOTO(o->progress(o->user, q, L), rc, done);
        TSA_CHECK_GOTO(check_rank(d, X, norm, q == pmin ? 0 : nd + k * (q - 1), nd + k * q), rc,
                       done);
        const double *Sq = S + (q - pmin) * k * k;
        for (size_t r = 0; r < k; r++)
            for (size_t cc = 0; cc <= r; cc++) {
                double v = Sq[r * k + cc] * d->sd[r] * d->sd[cc];
                sse[r * k + cc] = v;
                sse[cc * k + r] = v;
            }
        double ld, *row = sel + 3 * (q - pmin);
        TSA_CHECK_GOTO(logdet_ml(k, sse, nobs, scratch, &ld), rc, done);
        criteria(ld, nobs, k, q, nd, &row[0], &row[1], &row[2]);
        double val = row[o->ic];
        if (val < best_val) { /* first minimum, as numpy's argmin */
            best_val = val;
            *best = q;
        }
    }
    if (!isfinite(best_val))
        rc = tsa_error(TSA_ENUMERIC, "VAR: information criteria are not finite");

done:
    free(scratch);
    free(sse);
    free(S);
    free(c);
    free(norm);
    gsl_vector_free(work);
    gsl_vector_free(b);
    gsl_matrix_free(Tm);
    gsl_matrix_free(X);
    return rc;
}

/* Maps standardised coefficients back to original units:
 *   A_i[r][c] = sd_r B_i[r][c] / sd_c,  d_r = sd_r b1_r / tau_b,
 *   c_r = mu_r + sd_r b0_r - d_r tau_a - sum_i sum_c A_i[r][c] mu_c. */
static void unstandardise(const var_data *d, size_t p, const double *cz, double *det, double *A)
{
    size_t k = d->k, nd = d->n_det;
    for (size_t i = 1; i <= p; i++)
        for (size_t r = 0; r < k; r++)
            for (size_t c = 0; c < k; c++)
                A[(i - 1) * k * k + r * k + c] =
                    d->sd[r] * cz[(nd + (i - 1) * k + c) * k + r] / d->sd[c];
    if (nd == 0)
        return;
    for (size_t r = 0; r < k; r++) {
        double slope = 0.0;
        if (nd >= 2) {
            slope = d->sd[r] * cz[1 * k + r] / d->tau_b;
            det[1 * k + r] = slope;
        }
        double c0 = d->mu[r] + d->sd[r] * cz[0 * k + r] - slope * d->tau_a;
        for (size_t i = 1; i <= p; i++)
            for (size_t c = 0; c < k; c++)
                c0 -= A[(i - 1) * k * k + r * k + c] * d->mu[c];
        det[0 * k + r] = c0;
    }
}

/* Allocates the coefficient block and views of @v for (k, p, trend). */
static tsa_status alloc_state(tsa_stat_var *v, size_t k, size_t p, tsa_stat_var_trend trend)
{
    memset(v, 0, sizeof *v);
    v->k = k;
    v->p = p;
    v->trend = trend;
    v->n_det = n_det_of(trend);
    size_t nc = v->n_det * k + p * k * k;
    v->coef = malloc((nc ? nc : 1) * sizeof *v->coef);
    v->sigma_u = malloc(k * k * sizeof *v->sigma_u);
    v->chol = malloc(k * k * sizeof *v->chol);
    if (!v->coef || !v->sigma_u || !v->chol) {
        tsa_stat_var_free(v);
        return tsa_error(TSA_ENOMEM, "VAR: out of memory for the state (k=%zu, p=%zu)", k, p);
    }
    v->det = v->n_det ? v->coef : NULL;
    v->A = p ? v->coef + v->n_det * k : NULL;
    v->llf = v->aic = v->bic = v->hqic = NAN;
    v->ic = TSA_STAT_VAR_IC_FIXED;
    return TSA_OK;
}

/* Cholesky factor and companion roots of a state whose coef and sigma_u
 * are set. */
static tsa_status finish_state(tsa_stat_var *v)
{
    int c = cholesky(v->k, v->sigma_u, v->chol);
    if (c == -2)
        return tsa_error(TSA_ENOMEM, "VAR: out of memory");
    if (c != 0)
        return singular_sigma(v->sigma_u, v->k);
    TSA_TRY(companion_radius(v->k, v->p, v->A, &v->max_root_modulus));
    v->stable = v->max_root_modulus < 1.0;
    return TSA_OK;
}

tsa_status tsa_stat_var_init(tsa_stat_var *out, size_t k, size_t p, tsa_stat_var_trend trend,
                             const double *coef, const double *sigma_u)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !sigma_u, TSA_EINVAL, "VAR: NULL argument");
    TSA_FAIL_IF(k == 0 || k > TSA_STAT_VAR_MAX_FEATURES, TSA_EINVAL,
                "VAR: k must be in [1, %d], got %zu", TSA_STAT_VAR_MAX_FEATURES, k);
    TSA_FAIL_IF(p > TSA_STAT_VAR_MAX_ORDER, TSA_EINVAL, "VAR: order must be <= %d, got %zu",
                TSA_STAT_VAR_MAX_ORDER, p);
    TSA_FAIL_IF(trend != TSA_STAT_VAR_TREND_N && trend != TSA_STAT_VAR_TREND_C &&
                    trend != TSA_STAT_VAR_TREND_CT,
                TSA_EINVAL, "VAR: unknown trend %d", (int)trend);
    size_t nc = n_det_of(trend) * k + p * k * k;
    TSA_FAIL_IF(nc > 0 && !coef, TSA_EINVAL, "VAR: NULL coefficients");
    tsa_stat_var v;
    TSA_TRY(alloc_state(&v, k, p, trend));
    if (nc)
        memcpy(v.coef, coef, nc * sizeof *coef);
    memcpy(v.sigma_u, sigma_u, k * k * sizeof *sigma_u);
    tsa_status rc = finish_state(&v);
    if (rc != TSA_OK) {
        tsa_stat_var_free(&v);
        return rc;
    }
    *out = v;
    return TSA_OK;
}

tsa_status tsa_stat_var_fit(tsa_stat_var *out, const double *y, size_t T, size_t k,
                            const tsa_stat_var_opts *o)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !y || !o, TSA_EINVAL, "VAR: NULL argument");
    TSA_FAIL_IF(k == 0 || k > TSA_STAT_VAR_MAX_FEATURES, TSA_EINVAL,
                "VAR: n_features must be in [1, %d], got %zu", TSA_STAT_VAR_MAX_FEATURES, k);
    TSA_FAIL_IF(o->trend != TSA_STAT_VAR_TREND_N && o->trend != TSA_STAT_VAR_TREND_C &&
                    o->trend != TSA_STAT_VAR_TREND_CT,
                TSA_EINVAL, "VAR: unknown trend %d", (int)o->trend);
    TSA_FAIL_IF(o->order > TSA_STAT_VAR_MAX_ORDER, TSA_EINVAL,
                "order: must be in [0, %d], got %zu", TSA_STAT_VAR_MAX_ORDER, o->order);
    int select = o->order == 0;
    if (select) {
        TSA_FAIL_IF(o->max_lags < 1 || o->max_lags > TSA_STAT_VAR_MAX_ORDER, TSA_EINVAL,
                    "max_lags: must be in [1, %d], got %zu", TSA_STAT_VAR_MAX_ORDER,
                    o->max_lags);
        TSA_FAIL_IF(o->ic != TSA_STAT_VAR_IC_AIC && o->ic != TSA_STAT_VAR_IC_BIC &&
                        o->ic != TSA_STAT_VAR_IC_HQIC,
                    TSA_EINVAL, "ic: unknown criterion %d", (int)o->ic);
    }
    size_t nd = n_det_of(o->trend);
    size_t L = select ? o->max_lags : o->order;
    size_t need = tsa_stat_var_min_length(k, L, nd);
    TSA_FAIL_IF(T < need, TSA_ETOOSHORT,
                "VAR: series too short: %zu features, %s %zu and trend \"%s\" need at least "
                "%zu rows (%s * (n_features + 1) + n_deterministic + n_features), got %zu; "
                "lower %s or give more rows",
                k, select ? "max_lags" : "order", L, tsa_stat_var_trend_name(o->trend), need,
                select ? "max_lags" : "order", T, select ? "max_lags" : "order");
    for (size_t i = 0; i < T * k; i++)
        TSA_FAIL_IF(!isfinite(y[i]), TSA_ENONFINITE, "VAR: non-finite value at row %zu, column %zu",
                    i / k, i % k);

    tsa_status rc;
    var_data d;
    TSA_TRY(var_data_init(&d, y, T, k, o->trend));

    size_t mmax = nd + k * L;
    double *cz = malloc((mmax ? mmax : 1) * k * sizeof *cz);
    double *resid = malloc(T * k * sizeof *resid);
    double *sse = malloc(k * k * sizeof *sse);
    double *scratch = malloc(2 * k * k * sizeof *scratch);
    double *sel = NULL;
    tsa_stat_var v;
    memset(&v, 0, sizeof v);
    size_t pmin = nd ? 0 : 1, n_sel = 0, p = o->order;
    if (!cz || !resid || !sse || !scratch) {
        rc = tsa_error(TSA_ENOMEM, "VAR: out of memory");
        goto fail;
    }

    if (select) {
        /* statsmodels VAR.select_order: every order on the same rows L..T-1
         * (its offset = maxlags - p), Sigma_ML = resid'resid / nobs. */
        n_sel = L - pmin + 1;
        sel = malloc(3 * n_sel * sizeof *sel);
        if (!sel) {
            rc = tsa_error(TSA_ENOMEM, "VAR: out of memory");
            goto fail;
        }
        size_t best = pmin;
        TSA_CHECK_GOTO(select_order(&d, L, pmin, o, sel, &best), rc, fail);
        p = best;
    }

    /* The final fit on rows p..T-1, as VAR.fit(maxlags, ic) refits. */
    TSA_CHECK_GOTO(alloc_state(&v, k, p, o->trend), rc, fail);
    size_t nobs = T - p;
    TSA_CHECK_GOTO(ols(&d, p, p, cz, resid), rc, fail);
    unstandardise(&d, p, cz, v.det, v.A);
    residual_sscp(&d, resid, nobs, sse);
    double ld;
    TSA_CHECK_GOTO(logdet_ml(k, sse, nobs, scratch, &ld), rc, fail);
    /* Lütkepohl (3.2.19) with statsmodels' df_resid = nobs - (k p + n_det). */
    double df = (double)(nobs - (k * p + nd));
    for (size_t i = 0; i < k * k; i++)
        v.sigma_u[i] = sse[i] / df;
    TSA_CHECK_GOTO(finish_state(&v), rc, fail);
    for (size_t i = 0; i < nd * k + p * k * k; i++)
        if (!isfinite(v.coef[i])) {
            rc = tsa_error(TSA_ENUMERIC, "VAR: non-finite coefficient");
            goto fail;
        }
    v.n_train = T;
    v.nobs = nobs;
    /* statsmodels var_loglike at Sigma_ML. */
    v.llf = -0.5 * (double)nobs * (double)k * log(2.0 * M_PI) -
            0.5 * (double)nobs * (ld + (double)k);
    criteria(ld, nobs, k, p, nd, &v.aic, &v.bic, &v.hqic);
    v.ic = select ? o->ic : TSA_STAT_VAR_IC_FIXED;
    v.max_lags = select ? L : 0;
    v.sel_pmin = select ? pmin : 0;
    v.n_sel = n_sel;
    v.sel = sel;
    sel = NULL;
    *out = v;
    rc = TSA_OK;
    goto done;

fail:
    tsa_stat_var_free(&v);
done:
    free(sel);
    free(scratch);
    free(sse);
    free(resid);
    free(cz);
    var_data_free(&d);
    return rc;
}

/* ---- prediction ---------------------------------------------------------- */

/* The conditional mean c + d tau + sum_i A_i y_{t-i} into @out (k), with
 * lags[i - 1] pointing at the row y_{t-i}. */
static void predict_row(const tsa_stat_var *v, double tau, const double *const *lags,
                        double *out)
{
    size_t k = v->k;
    for (size_t r = 0; r < k; r++) {
        double s = 0.0;
        if (v->n_det >= 1)
            s += v->det[r];
        if (v->n_det >= 2)
            s += v->det[k + r] * tau;
        for (size_t i = 1; i <= v->p; i++) {
            const double *a = v->A + (i - 1) * k * k + r * k;
            const double *yl = lags[i - 1];
            for (size_t c = 0; c < k; c++)
                s += a[c] * yl[c];
        }
        out[r] = s;
    }
}

/* Phi_i into ring slot i % (p + 1) (Lütkepohl eq. 2.1.22):
 * Phi_0 = I, Phi_i = sum_{j=1}^{min(i,p)} Phi_{i-j} A_j. */
static void next_phi(const tsa_stat_var *v, size_t i, double *ring, double *tmp)
{
    size_t k = v->k, p = v->p, kk = k * k;
    double *phi = ring + (i % (p + 1)) * kk;
    if (i == 0) {
        memset(phi, 0, kk * sizeof *phi);
        for (size_t r = 0; r < k; r++)
            phi[r * k + r] = 1.0;
        return;
    }
    double *acc = tmp + kk; /* phi's slot may hold Phi_{i-p-1}, still unused */
    memset(acc, 0, kk * sizeof *acc);
    size_t jmax = i < p ? i : p;
    for (size_t j = 1; j <= jmax; j++) {
        matmul(k, ring + ((i - j) % (p + 1)) * kk, v->A + (j - 1) * kk, tmp);
        for (size_t e = 0; e < kk; e++)
            acc[e] += tmp[e];
    }
    memcpy(phi, acc, kk * sizeof *phi);
}

static tsa_status check_fitted(const tsa_stat_var *v)
{
    TSA_FAIL_IF(!v || v->k == 0 || !v->sigma_u || !v->chol, TSA_EINVAL, "VAR: state not fitted");
    return TSA_OK;
}

tsa_status tsa_stat_var_forecast(const tsa_stat_var *v, const double *hist, size_t n_hist,
                                 double t_last, size_t horizon, double interval, double *mean,
                                 double *lower, double *upper)
{
    tsa_gsl_init();
    TSA_TRY(check_fitted(v));
    TSA_FAIL_IF(!mean || !lower || !upper || (v->p > 0 && !hist), TSA_EINVAL,
                "VAR: NULL argument");
    TSA_FAIL_IF(horizon == 0, TSA_ERANGE, "horizon: must be >= 1, got 0");
    TSA_FAIL_IF(!(interval > 0.0 && interval < 1.0), TSA_ERANGE,
                "interval: must be in (0, 1), got %g", interval);
    TSA_FAIL_IF(n_hist < v->p, TSA_ETOOSHORT,
                "VAR: history has %zu rows, the order-%zu model needs at least %zu", n_hist,
                v->p, v->p);
    size_t k = v->k, p = v->p, kk = k * k;
    /* z = Phi^{-1}((1 + interval) / 2), through the upper tail for accuracy
     * near interval = 1. */
    double z = gsl_cdf_ugaussian_Qinv(0.5 * (1.0 - interval));

    const double **lags = malloc((p ? p : 1) * sizeof *lags);
    double *ring = malloc((p + 1) * kk * sizeof *ring);
    double *tmp = malloc(3 * kk * sizeof *tmp);
    double *var = calloc(k, sizeof *var);
    if (!lags || !ring || !tmp || !var) {
        free(lags);
        free(ring);
        free(tmp);
        free(var);
        return tsa_error(TSA_ENOMEM, "VAR: out of memory for a %zu-step forecast", horizon);
    }
    double *pl = tmp + 2 * kk;
    for (size_t h = 0; h < horizon; h++) {
        /* y_{T+h+1-i}: earlier forecasts, then the history. */
        for (size_t i = 1; i <= p; i++)
            lags[i - 1] = i <= h ? mean + (h - i) * k : hist + (n_hist + h - i) * k;
        predict_row(v, t_last + (double)(h + 1), lags, mean + h * k);
        /* diag MSE(h+1) += diag(Phi_h Sigma_u Phi_h') = row norms of Phi_h L. */
        next_phi(v, h, ring, tmp);
        matmul(k, ring + (h % (p + 1)) * kk, v->chol, pl);
        for (size_t r = 0; r < k; r++) {
            double s = 0.0;
            for (size_t c = 0; c < k; c++)
                s += pl[r * k + c] * pl[r * k + c];
            var[r] += s;
            double half = z * sqrt(var[r]);
            lower[h * k + r] = mean[h * k + r] - half;
            upper[h * k + r] = mean[h * k + r] + half;
        }
    }
    free(lags);
    free(ring);
    free(tmp);
    free(var);
    return TSA_OK;
}

tsa_status tsa_stat_var_forecast_mse(const tsa_stat_var *v, size_t horizon, double *mse)
{
    TSA_TRY(check_fitted(v));
    TSA_FAIL_IF(!mse, TSA_EINVAL, "VAR: NULL argument");
    TSA_FAIL_IF(horizon == 0, TSA_ERANGE, "horizon: must be >= 1, got 0");
    size_t k = v->k, p = v->p, kk = k * k;
    double *ring = malloc((p + 1) * kk * sizeof *ring);
    double *tmp = malloc(3 * kk * sizeof *tmp);
    if (!ring || !tmp) {
        free(ring);
        free(tmp);
        return tsa_error(TSA_ENOMEM, "VAR: out of memory");
    }
    double *ps = tmp + 2 * kk;
    for (size_t h = 0; h < horizon; h++) {
        next_phi(v, h, ring, tmp);
        const double *phi = ring + (h % (p + 1)) * kk;
        matmul(k, phi, v->sigma_u, ps);
        double *out = mse + h * kk;
        for (size_t r = 0; r < k; r++)
            for (size_t c = 0; c < k; c++) {
                double s = 0.0;
                for (size_t l = 0; l < k; l++)
                    s += ps[r * k + l] * phi[c * k + l];
                out[r * k + c] = (h ? mse[(h - 1) * kk + r * k + c] : 0.0) + s;
            }
    }
    free(ring);
    free(tmp);
    return TSA_OK;
}

tsa_status tsa_stat_var_score(const tsa_stat_var *v, const double *y, size_t n, double t_last,
                              double *raw, double *calibrated)
{
    tsa_gsl_init();
    TSA_TRY(check_fitted(v));
    TSA_FAIL_IF(!y || (!raw && !calibrated), TSA_EINVAL, "VAR: NULL argument");
    TSA_FAIL_IF(n < v->p, TSA_ETOOSHORT,
                "VAR: series has %zu rows, the order-%zu model needs at least %zu", n, v->p,
                v->p);
    size_t k = v->k, p = v->p;
    double *e = malloc(2 * k * sizeof *e);
    const double **lags = malloc((p ? p : 1) * sizeof *lags);
    if (!e || !lags) {
        free(e);
        free(lags);
        return tsa_error(TSA_ENOMEM, "VAR: out of memory");
    }
    double *w = e + k;
    for (size_t t = 0; t < n; t++) {
        if (t < p) {
            if (raw)
                raw[t] = 0.0;
            if (calibrated)
                calibrated[t] = 0.0;
            continue;
        }
        for (size_t i = 1; i <= p; i++)
            lags[i - 1] = y + (t - i) * k;
        predict_row(v, t_last - (double)(n - 1 - t), lags, e);
        /* d^2 = e' Sigma_u^{-1} e = |L^{-1} e|^2 by forward substitution. */
        double d2 = 0.0;
        for (size_t r = 0; r < k; r++) {
            double s = y[t * k + r] - e[r];
            for (size_t c = 0; c < r; c++)
                s -= v->chol[r * k + c] * w[c];
            w[r] = s / v->chol[r * k + r];
            d2 += w[r] * w[r];
        }
        if (raw)
            raw[t] = sqrt(d2);
        if (calibrated)
            calibrated[t] = gsl_cdf_chisq_P(d2, (double)k);
    }
    free(e);
    free(lags);
    return TSA_OK;
}

/* ---- persistence --------------------------------------------------------- */

void tsa_stat_var_save(const tsa_stat_var *v, tsa_wbuf *w)
{
    if (!v || v->k == 0) {
        w->failed = 1;
        return;
    }
    size_t k = v->k;
    tsa_wbuf_u32(w, VAR_LAYOUT_VERSION);
    tsa_wbuf_u64(w, k);
    tsa_wbuf_u64(w, v->p);
    tsa_wbuf_u8(w, (uint8_t)v->trend);
    tsa_wbuf_u8(w, (uint8_t)v->ic);
    tsa_wbuf_u64(w, v->n_train);
    tsa_wbuf_u64(w, v->nobs);
    tsa_wbuf_f64s(w, v->coef, v->n_det * k + v->p * k * k);
    tsa_wbuf_f64s(w, v->sigma_u, k * k);
    tsa_wbuf_f64(w, v->llf);
    tsa_wbuf_f64(w, v->aic);
    tsa_wbuf_f64(w, v->bic);
    tsa_wbuf_f64(w, v->hqic);
    tsa_wbuf_u64(w, v->max_lags);
    tsa_wbuf_u64(w, v->sel_pmin);
    tsa_wbuf_u64(w, v->n_sel);
    tsa_wbuf_f64s(w, v->sel, 3 * v->n_sel);
}

#define LOAD_FAIL(...)                                    \
    do {                                                  \
        rc = tsa_error(TSA_EFORMAT, "VAR state: " __VA_ARGS__); \
        goto done;                                        \
    } while (0)

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

tsa_status tsa_stat_var_load(tsa_stat_var *out, size_t k_expected, tsa_rbuf *r)
{
    tsa_gsl_init();
    TSA_FAIL_IF(!out || !r, TSA_EINVAL, "VAR: NULL argument");
    tsa_status rc = TSA_OK;
    double *coef = NULL, *sigma = NULL, *sel = NULL;
    tsa_stat_var v;
    memset(&v, 0, sizeof v);
    uint32_t version;
    uint64_t k, p, n_train, nobs, max_lags, pmin, n_sel;
    uint8_t trend, ic;
    double crit[4];

    if (tsa_rbuf_u32(r, &version) || tsa_rbuf_u64(r, &k) || tsa_rbuf_u64(r, &p) ||
        tsa_rbuf_u8(r, &trend) || tsa_rbuf_u8(r, &ic) || tsa_rbuf_u64(r, &n_train) ||
        tsa_rbuf_u64(r, &nobs))
        LOAD_FAIL("truncated header");
    if (version != VAR_LAYOUT_VERSION)
        LOAD_FAIL("unknown layout version %u", (unsigned)version);
    if (k != k_expected || k == 0 || k > TSA_STAT_VAR_MAX_FEATURES)
        LOAD_FAIL("%llu features, the model has %zu", (unsigned long long)k, k_expected);
    if (p > TSA_STAT_VAR_MAX_ORDER)
        LOAD_FAIL("order %llu out of [0, %d]", (unsigned long long)p, TSA_STAT_VAR_MAX_ORDER);
    if (trend > TSA_STAT_VAR_TREND_CT)
        LOAD_FAIL("unknown trend code %u", (unsigned)trend);
    if (ic > TSA_STAT_VAR_IC_FIXED)
        LOAD_FAIL("unknown criterion code %u", (unsigned)ic);
    size_t nd = n_det_of((tsa_stat_var_trend)trend);
    if (p == 0 && nd == 0)
        LOAD_FAIL("order 0 without deterministic terms");
    /* k <= 1e5 and p <= 1000: these products cannot overflow. */
    size_t ncoef = nd * (size_t)k + (size_t)p * (size_t)k * (size_t)k;
    if (nobs > UINT64_MAX - p || nobs + p != n_train)
        LOAD_FAIL("nobs %llu + order %llu != training length %llu", (unsigned long long)nobs,
                  (unsigned long long)p, (unsigned long long)n_train);
    if (nobs <= (uint64_t)(k * p + nd) || n_train > (uint64_t)SIZE_MAX)
        LOAD_FAIL("nobs %llu leaves no degrees of freedom", (unsigned long long)nobs);
    if (tsa_rbuf_f64s_alloc(r, ncoef, &coef))
        LOAD_FAIL("truncated coefficients");
    if (tsa_rbuf_f64s_alloc(r, (size_t)(k * k), &sigma))
        LOAD_FAIL("truncated covariance");
    if (!all_finite(coef, ncoef) || !all_finite(sigma, (size_t)(k * k)))
        LOAD_FAIL("non-finite coefficients or covariance");
    for (size_t i = 0; i < k; i++)
        for (size_t j = 0; j < i; j++)
            if (sigma[i * k + j] != sigma[j * k + i])
                LOAD_FAIL("covariance not symmetric");
    if (tsa_rbuf_f64(r, &crit[0]) || tsa_rbuf_f64(r, &crit[1]) || tsa_rbuf_f64(r, &crit[2]) ||
        tsa_rbuf_f64(r, &crit[3]))
        LOAD_FAIL("truncated criteria");
    if (tsa_rbuf_u64(r, &max_lags) || tsa_rbuf_u64(r, &pmin) || tsa_rbuf_u64(r, &n_sel))
        LOAD_FAIL("truncated selection header");
    if (n_sel == 0) {
        if (ic != TSA_STAT_VAR_IC_FIXED || max_lags != 0 || pmin != 0 || p == 0)
            LOAD_FAIL("inconsistent fixed-order fields");
    } else {
        if (ic == TSA_STAT_VAR_IC_FIXED || max_lags < 1 || max_lags > TSA_STAT_VAR_MAX_ORDER ||
            pmin != (nd ? 0u : 1u) || n_sel != max_lags - pmin + 1 || p < pmin || p > max_lags)
            LOAD_FAIL("inconsistent order-selection fields");
        if (tsa_rbuf_f64s_alloc(r, (size_t)(3 * n_sel), &sel))
            LOAD_FAIL("truncated selection table");
    }

    rc = tsa_stat_var_init(&v, (size_t)k, (size_t)p, (tsa_stat_var_trend)trend, coef, sigma);
    if (rc == TSA_ENOMEM)
        goto done;
    if (rc != TSA_OK)
        LOAD_FAIL("covariance not positive definite or bad coefficients");
    v.n_train = (size_t)n_train;
    v.nobs = (size_t)nobs;
    v.llf = crit[0];
    v.aic = crit[1];
    v.bic = crit[2];
    v.hqic = crit[3];
    v.ic = (tsa_stat_var_ic)ic;
    v.max_lags = (size_t)max_lags;
    v.sel_pmin = (size_t)pmin;
    v.n_sel = (size_t)n_sel;
    v.sel = sel;
    sel = NULL;
    *out = v;
    memset(&v, 0, sizeof v);

done:
    tsa_stat_var_free(&v);
    free(coef);
    free(sigma);
    free(sel);
    return rc;
}
