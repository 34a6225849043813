/* The Prophet-style model (see stat/prophet.h for the model, the references
 * and the conventions). */
#include "stat/prophet.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <gsl/gsl_cdf.h>

#include "core/error.h"
#include "core/rng.h"
#include "stat/lbfgs.h"

/* Version 2 appends n_outliers; version 1 states still load (as 0). */
#define LAYOUT_VERSION 2u
#define TWO_PI 6.283185307179586476925286766559

void tsa_stat_prophet_opts_init(tsa_stat_prophet_opts *o)
{
    memset(o, 0, sizeof *o);
    o->n_changepoints = 25;
    o->changepoint_range = 0.8;
    o->changepoint_prior_scale = 0.05;
    o->yearly = o->weekly = o->daily = TSA_STAT_PROPHET_AUTO;
    o->seasonality_prior_scale = 10.0;
    o->custom_order = 5;
    o->custom_prior_scale = 10.0;
    o->holidays_prior_scale = 10.0;
    o->uncertainty_samples = 1000;
    o->seed = 42;
    o->max_iter = 10000;
}

void tsa_stat_prophet_free(tsa_stat_prophet *p)
{
    if (!p)
        return;
    free(p->cp);
    free(p->holidays);
    free(p->theta);
    free(p->u_train);
    memset(p, 0, sizeof *p);
}

/* ---- dates and automatic seasonalities ----------------------------------- */

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms"). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static int days_in_month(int64_t y, int64_t m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 ? 28 + leap : dm[m - 1];
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts and removes duplicates; returns the new count. */
static size_t sort_unique(int64_t *v, size_t n)
{
    if (n == 0)
        return 0;
    qsort(v, n, sizeof *v, cmp_i64);
    size_t k = 1;
    for (size_t i = 1; i < n; i++)
        if (v[i] != v[k - 1])
            v[k++] = v[i];
    return k;
}

tsa_status tsa_stat_prophet_parse_dates(const char *s, int64_t **days, size_t *n)
{
    TSA_FAIL_IF(!s || !days || !n, TSA_EINVAL, "holidays: NULL argument");
    *days = NULL;
    *n = 0;
    const char *p = s;
    while (isspace((unsigned char)*p))
        p++;
    if (!*p)
        return TSA_OK;
    size_t cap = 1;
    for (const char *q = s; *q; q++)
        cap += *q == ',';
    TSA_FAIL_IF(cap > TSA_STAT_PROPHET_MAX_HOLIDAYS, TSA_EPARAM,
                "holidays: at most %d dates, got %zu", TSA_STAT_PROPHET_MAX_HOLIDAYS, cap);
    int64_t *v = malloc(cap * sizeof *v);
    TSA_FAIL_IF(!v, TSA_ENOMEM, "holidays: out of memory");
    size_t k = 0;
    for (;;) {
        while (isspace((unsigned char)*p))
            p++;
        const char *start = p;
        int digits[8], nd = 0, ok = 1;
        for (int i = 0; i < 10 && ok; i++, p++) {
            if (i == 4 || i == 7)
                ok = *p == '-';
            else if (isdigit((unsigned char)*p))
                digits[nd++] = *p - '0';
            else
                ok = 0;
        }
        int64_t y = 0, mo = 0, d = 0;
        if (ok) {
            y = digits[0] * 1000 + digits[1] * 100 + digits[2] * 10 + digits[3];
            mo = digits[4] * 10 + digits[5];
            d = digits[6] * 10 + digits[7];
            ok = y >= 1 && mo >= 1 && mo <= 12 && d >= 1 && d <= days_in_month(y, mo);
        }
        if (ok) {
            while (isspace((unsigned char)*p))
                p++;
            ok = *p == ',' || *p == '\0';
        }
        if (!ok) {
            free(v);
            return tsa_error(TSA_EPARAM,
                             "holidays: expected dates as YYYY-MM-DD separated by commas, "
                             "bad entry at character %zu ('%.12s')",
                             (size_t)(start - s), start);
        }
        v[k++] = days_from_civil(y, mo, d);
        if (*p == '\0')
            break;
        p++; /* the comma */
    }
    *n = sort_unique(v, k);
    *days = v;
    return TSA_OK;
}

void tsa_stat_prophet_auto_seasonalities(const int64_t *ts, size_t n, int *yearly, int *weekly,
                                         int *daily)
{
    *yearly = *weekly = *daily = 0;
    if (!ts || n < 2)
        return;
    const double day = TSA_STAT_PROPHET_DAY;
    double span = (double)ts[n - 1] - (double)ts[0], min_dt = INFINITY;
    for (size_t i = 1; i < n; i++) {
        double dt = (double)ts[i] - (double)ts[i - 1];
        if (dt > 0.0 && dt < min_dt)
            min_dt = dt;
    }
    *yearly = span >= 730.0 * day;
    *weekly = span >= 14.0 * day && min_dt < 7.0 * day;
    *daily = span >= 2.0 * day && min_dt < day;
}

/* ---- features and trend ------------------------------------------------- */

/* The K feature values at absolute time @u into @row. */
static void feature_row(const tsa_stat_prophet *p, double u, double *row)
{
    for (size_t b = 0; b < p->n_blocks; b++) {
        const tsa_stat_prophet_block *bl = &p->blocks[b];
        double *c = row + bl->col0;
        if (bl->type == TSA_STAT_PROPHET_FOURIER) {
            /* The phase reduced to one period first keeps the argument small
             * (u is ~2e4 days); the value is that of sin(2 pi n u / P). */
            double r = u / bl->period;
            double x = TWO_PI * (r - floor(r));
            for (size_t j = 0; j < bl->order; j++) {
                double a = (double)(j + 1) * x;
                c[2 * j] = sin(a);
                c[2 * j + 1] = cos(a);
            }
        } else {
            int64_t day = (int64_t)floor(u);
            long w = (long)bl->order;
            for (long o = -w; o <= w; o++) {
                /* Offset o is on when day - o is a holiday. */
                int64_t key = day - o;
                size_t lo = 0, hi = p->n_holidays;
                while (lo < hi) {
                    size_t mid = lo + (hi - lo) / 2;
                    if (p->holidays[mid] < key)
                        lo = mid + 1;
                    else
                        hi = mid;
                }
                c[o + w] = lo < p->n_holidays && p->holidays[lo] == key ? 1.0 : 0.0;
            }
        }
    }
}

/* Per trend segment j = 0..S (the points with j changepoints at or before
 * them): rate K_j and offset. Linear: g = K_j t + B_j with B_j = m -
 * sum_{l<=j} s_l delta_l. Logistic: g = C / (1 + exp(-K_j (t - B_j))) with
 * B_j = m + sum gamma (the continuity recursion of the header). Returns -1
 * when a logistic rate is zero or anything is not finite. */
static int trend_segments(int logistic, const double *th, size_t S, const double *cp,
                          double *Kseg, double *Bseg)
{
    const double *delta = th + TSA_STAT_PROPHET_DELTA;
    Kseg[0] = th[TSA_STAT_PROPHET_K];
    Bseg[0] = th[TSA_STAT_PROPHET_M];
    for (size_t j = 1; j <= S; j++) {
        Kseg[j] = Kseg[j - 1] + delta[j - 1];
        if (!logistic) {
            Bseg[j] = Bseg[j - 1] - cp[j - 1] * delta[j - 1];
        } else {
            if (Kseg[j] == 0.0)
                return -1;
            Bseg[j] = cp[j - 1] - (cp[j - 1] - Bseg[j - 1]) * Kseg[j - 1] / Kseg[j];
        }
        if (!isfinite(Kseg[j]) || !isfinite(Bseg[j]))
            return -1;
    }
    return 0;
}

/* The segment of scaled time t: the number of changepoints <= t. */
static size_t segment_of(const double *cp, size_t S, double t)
{
    size_t lo = 0, hi = S;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cp[mid] <= t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The logistic function and p (1 - p), without overflow. */
static double logistic_fn(double z, double *dp)
{
    double e = exp(-fabs(z)), p = z >= 0.0 ? 1.0 / (1.0 + e) : e / (1.0 + e);
    if (dp)
        *dp = e / ((1.0 + e) * (1.0 + e));
    return p;
}

static double trend_value(int logistic, double C, double K, double B, double t)
{
    return logistic ? C * logistic_fn(K * (t - B), NULL) : K * t + B;
}

/* ---- the MAP problem ------------------------------------------------------ */

struct tsa_stat_prophet_problem {
    size_t n, S, K, K_add;
    int logistic;
    double C;             /* scaled capacity */
    double tau;
    double huber;         /* > 0: |delta| replaced by sqrt(delta^2 + huber^2) - huber */
    double sigma;         /* the noise scale of the last evaluation */
    const double *cp;     /* (S) the layout's */
    size_t *cp_first;     /* (S) first row with t >= cp[j] */
    double *t, *y;        /* (n) scaled */
    double *X;            /* (n, K) */
    double *prior_prec;   /* (K) 1 / prior_scale^2 */
    /* scratch of one evaluation */
    double *g, *dz, *dg;  /* (n) trend, its logistic slope, r (1 + X beta_m) */
    size_t *seg;          /* (n) trend segment of each row */
    double *Kseg, *Bseg, *gK, *gB; /* (S + 1) */
    /* Linear growth with additive terms only: r = y - A theta_lin, with
     * A = [t, 1, (t - s_j)+, X] (see lin_setup). */
    int lin_state;        /* 0: not tried, 1: in use, -1: not applicable */
    double *lin_G;        /* (P, P) A'A, P = 2 + S + K */
    double *lin_th0;      /* (P) the reference point */
    double *lin_h0;       /* (P) A' r(th0) */
    double *lin_d;        /* (2 P) scratch: theta_lin - th0, then G d */
    double lin_e0;        /* r(th0)' r(th0) */
};

void tsa_stat_prophet_problem_free(tsa_stat_prophet_problem *pb)
{
    if (!pb)
        return;
    free(pb->cp_first);
    free(pb->t);
    free(pb->X);
    free(pb->prior_prec);
    free(pb->seg);
    free(pb->Kseg);
    free(pb->lin_G);
    free(pb);
}

size_t tsa_stat_prophet_problem_dim(const tsa_stat_prophet_problem *pb)
{
    return 3 + pb->S + pb->K;
}

static tsa_status check_opts(const tsa_stat_prophet_opts *o, int has_ts)
{
    TSA_FAIL_IF(o->n_changepoints > TSA_STAT_PROPHET_MAX_CHANGEPOINTS, TSA_EPARAM,
                "n_changepoints: must be in [0, %d], got %zu", TSA_STAT_PROPHET_MAX_CHANGEPOINTS,
                o->n_changepoints);
    TSA_FAIL_IF(!(o->changepoint_range > 0.0 && o->changepoint_range <= 1.0), TSA_EPARAM,
                "changepoint_range: must be in (0, 1], got %g", o->changepoint_range);
    TSA_FAIL_IF(!(o->changepoint_prior_scale > 0.0) || !isfinite(o->changepoint_prior_scale),
                TSA_EPARAM, "changepoint_prior_scale: must be positive, got %g",
                o->changepoint_prior_scale);
    TSA_FAIL_IF(!(o->seasonality_prior_scale > 0.0) || !isfinite(o->seasonality_prior_scale),
                TSA_EPARAM, "seasonality_prior_scale: must be positive, got %g",
                o->seasonality_prior_scale);
    TSA_FAIL_IF(!(o->holidays_prior_scale > 0.0) || !isfinite(o->holidays_prior_scale),
                TSA_EPARAM, "holidays_prior_scale: must be positive, got %g",
                o->holidays_prior_scale);
    TSA_FAIL_IF(!(o->custom_period >= 0.0) || !isfinite(o->custom_period), TSA_EPARAM,
                "custom_period: must be >= 0, got %g", o->custom_period);
    if (o->custom_period > 0.0) {
        TSA_FAIL_IF(o->custom_order < 1 || o->custom_order > TSA_STAT_PROPHET_MAX_ORDER,
                    TSA_EPARAM, "custom_order: must be in [1, %d], got %zu",
                    TSA_STAT_PROPHET_MAX_ORDER, o->custom_order);
        TSA_FAIL_IF(!(o->custom_prior_scale > 0.0) || !isfinite(o->custom_prior_scale),
                    TSA_EPARAM, "custom_prior_scale: must be positive, got %g",
                    o->custom_prior_scale);
    }
    int sw[3] = {o->yearly, o->weekly, o->daily};
    static const char *const swn[3] = {"yearly_seasonality", "weekly_seasonality",
                                       "daily_seasonality"};
    for (int i = 0; i < 3; i++)
        TSA_FAIL_IF(sw[i] < -1 || sw[i] > 1, TSA_EPARAM, "%s: must be auto, true or false",
                    swn[i]);
    if (o->logistic) {
        TSA_FAIL_IF(!isfinite(o->cap) || !isfinite(o->floor), TSA_EPARAM,
                    "cap: cap and floor must be finite");
        TSA_FAIL_IF(!(o->cap > o->floor), TSA_EPARAM,
                    "cap: logistic growth needs cap > floor, got cap %g, floor %g", o->cap,
                    o->floor);
    }
    TSA_FAIL_IF(o->n_holidays > TSA_STAT_PROPHET_MAX_HOLIDAYS || (o->n_holidays && !o->holidays),
                TSA_EPARAM, "holidays: at most %d dates", TSA_STAT_PROPHET_MAX_HOLIDAYS);
    TSA_FAIL_IF(o->n_holidays && !has_ts, TSA_EPARAM,
                "holidays: dates need a series with timestamps");
    TSA_FAIL_IF(o->holiday_window > TSA_STAT_PROPHET_MAX_WINDOW, TSA_EPARAM,
                "holiday_window: must be in [0, %d], got %zu", TSA_STAT_PROPHET_MAX_WINDOW,
                o->holiday_window);
    TSA_FAIL_IF(o->uncertainty_samples > TSA_STAT_PROPHET_MAX_SAMPLES, TSA_EPARAM,
                "uncertainty_samples: must be in [0, %d], got %zu", TSA_STAT_PROPHET_MAX_SAMPLES,
                o->uncertainty_samples);
    TSA_FAIL_IF(o->max_iter < 1, TSA_EPARAM, "max_iter: must be >= 1, got %d", o->max_iter);
    return TSA_OK;
}

static void add_block(tsa_stat_prophet *L, const char *name, tsa_stat_prophet_block_type type,
                      double period, size_t order, double prior, int mult)
{
    tsa_stat_prophet_block *b = &L->blocks[L->n_blocks++];
    memset(b, 0, sizeof *b);
    snprintf(b->name, sizeof b->name, "%s", name);
    b->type = type;
    b->multiplicative = mult;
    b->period = period;
    b->order = order;
    b->ncols = type == TSA_STAT_PROPHET_FOURIER ? 2 * order : 2 * order + 1;
    b->prior_scale = prior;
}

/* Fills L's blocks from the options, additive blocks first, and assigns
 * columns. */
static void make_blocks(tsa_stat_prophet *L, const tsa_stat_prophet_opts *o, const int64_t *ts,
                        size_t n)
{
    int ay, aw, ad;
    tsa_stat_prophet_auto_seasonalities(ts, n, &ay, &aw, &ad);
    int on[3] = {o->yearly == TSA_STAT_PROPHET_AUTO ? ay : o->yearly,
                 o->weekly == TSA_STAT_PROPHET_AUTO ? aw : o->weekly,
                 o->daily == TSA_STAT_PROPHET_AUTO ? ad : o->daily};
    static const char *const names[3] = {"yearly", "weekly", "daily"};
    static const double periods[3] = {365.25, 7.0, 1.0};
    static const size_t orders[3] = {10, 3, 4};
    tsa_stat_prophet_block tmp[TSA_STAT_PROPHET_MAX_BLOCKS];
    L->n_blocks = 0;
    for (int i = 0; i < 3; i++)
        if (on[i])
            add_block(L, names[i], TSA_STAT_PROPHET_FOURIER, periods[i], orders[i],
                      o->seasonality_prior_scale, o->multiplicative);
    if (o->custom_period > 0.0)
        add_block(L, o->custom_detected ? "detected" : "custom", TSA_STAT_PROPHET_FOURIER,
                  o->custom_period, o->custom_order, o->custom_prior_scale, o->multiplicative);
    if (L->n_holidays)
        add_block(L, "holidays", TSA_STAT_PROPHET_INDICATOR, 0.0, o->holiday_window,
                  o->holidays_prior_scale, o->multiplicative);
    /* Additive blocks first, so each part of X beta is one column range. */
    size_t k = 0, col = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t b = 0; b < L->n_blocks; b++)
            if (L->blocks[b].multiplicative == pass) {
                tmp[k] = L->blocks[b];
                tmp[k].col0 = col;
                col += tmp[k].ncols;
                k++;
            }
    memcpy(L->blocks, tmp, k * sizeof *tmp);
    L->K = col;
    L->K_add = 0;
    for (size_t b = 0; b < L->n_blocks; b++)
        if (!L->blocks[b].multiplicative)
            L->K_add += L->blocks[b].ncols;
}

tsa_status tsa_stat_prophet_problem_create(const double *y, const int64_t *ts, size_t n,
                                           const tsa_stat_prophet_opts *o,
                                           tsa_stat_prophet *layout,
                                           tsa_stat_prophet_problem **out)
{
    TSA_FAIL_IF(!y || !o || !layout || !out, TSA_EINVAL, "prophet: NULL argument");
    *out = NULL;
    TSA_FAIL_IF(n < 2, TSA_ETOOSHORT, "train: the prophet model needs at least 2 rows, got %zu",
                n);
    TSA_FAIL_IF(n > TSA_STAT_PROPHET_MAX_TRAIN, TSA_EINVAL, "train: too long (%zu rows)", n);
    for (size_t i = 0; i < n; i++) {
        TSA_FAIL_IF(!isfinite(y[i]), TSA_ENONFINITE, "train: row %zu is not finite", i);
        TSA_FAIL_IF(ts && i > 0 && ts[i] <= ts[i - 1], TSA_EINVAL,
                    "train: timestamps must increase (row %zu)", i);
    }
    TSA_TRY(check_opts(o, ts != NULL));

    tsa_stat_prophet L;
    memset(&L, 0, sizeof L);
    tsa_stat_prophet_problem *pb = calloc(1, sizeof *pb);
    if (!pb)
        return tsa_error(TSA_ENOMEM, "prophet: out of memory");
    tsa_status rc = TSA_OK;

    L.n_train = n;
    L.logistic = o->logistic != 0;
    L.has_ts = ts != NULL;
    L.floor = L.logistic ? o->floor : 0.0;
    L.cap = L.logistic ? o->cap : 0.0;
    L.uncertainty_samples = o->uncertainty_samples;
    L.seed = o->seed;
    L.u_train = malloc(n * sizeof *L.u_train);
    if (!L.u_train)
        goto nomem;
    for (size_t i = 0; i < n; i++)
        L.u_train[i] = ts ? tsa_stat_prophet_u_of(ts[i]) : (double)i;
    L.u0 = L.u_train[0];
    L.u_scale = L.u_train[n - 1] - L.u_train[0];
    if (!(L.u_scale > 0.0)) {
        rc = tsa_error(TSA_EINVAL, "train: timestamps span no time");
        goto fail;
    }
    /* The reference implementation's "absmax" scaling. */
    double ymax = 0.0;
    for (size_t i = 0; i < n; i++)
        ymax = fmax(ymax, fabs(y[i] - L.floor));
    L.y_scale = ymax > 0.0 ? ymax : 1.0;

    if (o->n_holidays) {
        L.holidays = malloc(o->n_holidays * sizeof *L.holidays);
        if (!L.holidays)
            goto nomem;
        memcpy(L.holidays, o->holidays, o->n_holidays * sizeof *L.holidays);
        L.n_holidays = sort_unique(L.holidays, o->n_holidays);
    }
    make_blocks(&L, o, ts, n);

    pb->n = n;
    pb->K = L.K;
    pb->K_add = L.K_add;
    pb->logistic = L.logistic;
    pb->C = L.logistic ? (L.cap - L.floor) / L.y_scale : 0.0;
    pb->tau = o->changepoint_prior_scale;
    pb->t = malloc(5 * n * sizeof *pb->t);
    pb->X = malloc((L.K ? n * L.K : 1) * sizeof *pb->X);
    pb->prior_prec = malloc((L.K ? L.K : 1) * sizeof *pb->prior_prec);
    pb->seg = malloc(n * sizeof *pb->seg);
    if (!pb->t || !pb->X || !pb->prior_prec || !pb->seg)
        goto nomem;
    pb->y = pb->t + n;
    pb->g = pb->y + n;
    pb->dz = pb->g + n;
    pb->dg = pb->dz + n;
    for (size_t i = 0; i < n; i++) {
        pb->t[i] = (L.u_train[i] - L.u0) / L.u_scale;
        pb->y[i] = (y[i] - L.floor) / L.y_scale;
    }

    /* Changepoints at rows round(linspace(0, h - 1, S + 1))[1:] of the first
     * changepoint_range of the history (set_changepoints of the reference
     * implementation; rint rounds half to even, like numpy). */
    size_t h = (size_t)floor((double)n * o->changepoint_range);
    size_t S = o->n_changepoints;
    if (h < 1)
        S = 0;
    else if (S + 1 > h)
        S = h - 1;
    L.S = S;
    pb->S = S;
    if (S) {
        L.cp = malloc(S * sizeof *L.cp);
        pb->cp_first = malloc(S * sizeof *pb->cp_first);
        if (!L.cp || !pb->cp_first)
            goto nomem;
        for (size_t j = 1; j <= S; j++) {
            size_t idx = (size_t)rint((double)(h - 1) * (double)j / (double)S);
            L.cp[j - 1] = pb->t[idx];
            pb->cp_first[j - 1] = idx;
        }
    }
    pb->cp = L.cp;
    pb->Kseg = malloc(4 * (S + 1) * sizeof *pb->Kseg);
    if (!pb->Kseg)
        goto nomem;
    pb->Bseg = pb->Kseg + (S + 1);
    pb->gK = pb->Bseg + (S + 1);
    pb->gB = pb->gK + (S + 1);
    for (size_t i = 0, j = 0; i < n; i++) {
        while (j < S && pb->t[i] >= L.cp[j])
            j++;
        pb->seg[i] = j;
    }
    for (size_t i = 0; i < n && L.K; i++)
        feature_row(&L, L.u_train[i], pb->X + i * L.K);
    for (size_t b = 0; b < L.n_blocks; b++)
        for (size_t c = 0; c < L.blocks[b].ncols; c++) {
            double s = L.blocks[b].prior_scale;
            pb->prior_prec[L.blocks[b].col0 + c] = 1.0 / (s * s);
        }
    *layout = L;
    *out = pb;
    return TSA_OK;
nomem:
    rc = tsa_error(TSA_ENOMEM, "prophet: out of memory for %zu rows", n);
fail:
    tsa_stat_prophet_problem_free(pb);
    tsa_stat_prophet_free(&L);
    return rc;
}

void tsa_stat_prophet_problem_init_theta(const tsa_stat_prophet_problem *pb, double *theta)
{
    const size_t n = pb->n, dim = tsa_stat_prophet_problem_dim(pb);
    memset(theta, 0, dim * sizeof *theta);
    double T = pb->t[n - 1] - pb->t[0];
    double k, m;
    if (!pb->logistic) {
        /* linear_growth_init: the line through the first and last points. */
        k = (pb->y[n - 1] - pb->y[0]) / T;
        m = pb->y[0] - k * pb->t[0];
    } else {
        /* logistic_growth_init: the logistic curve through them, with the
         * points clamped inside (0.01 C, 0.99 C). */
        double C = pb->C;
        double y0 = fmax(0.01 * C, fmin(0.99 * C, pb->y[0]));
        double y1 = fmax(0.01 * C, fmin(0.99 * C, pb->y[n - 1]));
        double r0 = C / y0, r1 = C / y1;
        if (fabs(r0 - r1) <= 0.01)
            r0 *= 1.05;
        double L0 = log(r0 - 1.0), L1 = log(r1 - 1.0);
        m = L0 * T / (L0 - L1);
        k = (L0 - L1) / T;
    }
    theta[TSA_STAT_PROPHET_K] = k;
    theta[TSA_STAT_PROPHET_M] = m;
    theta[TSA_STAT_PROPHET_LOG_SIGMA] = 0.0; /* sigma = 1 */
}

/* x . y over n entries with four partial sums (which the compiler turns
 * into vector code; the order is fixed, so results are reproducible). */
static inline double dot4(const double *restrict x, const double *restrict y, size_t n)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += x[i] * y[i];
        s1 += x[i + 1] * y[i + 1];
        s2 += x[i + 2] * y[i + 2];
        s3 += x[i + 3] * y[i + 3];
    }
    for (; i < n; i++)
        s0 += x[i] * y[i];
    return (s0 + s1) + (s2 + s3);
}

/* y += a x over n entries, unrolled likewise. */
static inline void axpy4(double *restrict y, const double *restrict x, double a, size_t n)
{
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {
        y[i] += a * x[i];
        y[i + 1] += a * x[i + 1];
        y[i + 2] += a * x[i + 2];
        y[i + 3] += a * x[i + 3];
    }
    for (; i < n; i++)
        y[i] += a * x[i];
}

/* The smallest noise scale (scaled units) the fit returns: the posterior
 * has no mode when the model reproduces the series exactly (a constant
 * series), as sigma -> 0. */
#define SIGMA_MIN 1e-10

/* Flags of objective_core. */
/* ---- linear growth, additive terms: the normal equations ---------------- */

/* With linear growth and no multiplicative terms the residual is linear in
 * theta_lin = (k, m, delta, beta) (Taylor & Letham 2018, eq. 4 with
 * additive seasonality): r = y - A theta_lin. Then for d = theta_lin - th0
 *   r'r = r0'r0 - 2 d'A'r0 + d'A'A d,   A'r = A'r0 - A'A d,
 * with r0 = r(th0), which costs O(P^2) per evaluation once A'A is known,
 * instead of O(n P). The reference point th0 is moved to the evaluated
 * point (one O(n P) pass) whenever r'r falls below r0'r0 / 64, so the
 * cancellation in the first formula never costs more than about two
 * digits of r'r. */

#define LIN_REFRESH 64.0

/* theta index of theta_lin's coordinate q: theta_lin skips log sigma. */
static size_t lin_index(size_t q) { return q < 2 ? q : q + 1; }

static size_t lin_dim(const tsa_stat_prophet_problem *pb) { return 2 + pb->S + pb->K; }

/* r(th0), r0'r0 and A'r0 by a direct pass at theta (dim), whose trend
 * segments are in Kseg/Bseg; th0 = theta_lin. */
static void lin_reset(tsa_stat_prophet_problem *pb, const double *th)
{
    const size_t n = pb->n, S = pb->S, K = pb->K, P = lin_dim(pb);
    const double *beta = th + TSA_STAT_PROPHET_DELTA + S;
    double *h = pb->lin_h0, *hb = h + 2 + S, *r = pb->dg;
    memset(h, 0, P * sizeof *h);
    double e = 0.0;
    for (size_t i = 0; i < n; i++) {
        const size_t j = pb->seg[i];
        const double *row = pb->X + i * K;
        const double ri =
            pb->y[i] - (pb->Kseg[j] * pb->t[i] + pb->Bseg[j] + dot4(row, beta, K));
        e += ri * ri;
        axpy4(hb, row, ri, K);
        r[i] = ri;
    }
    double s1 = 0.0, st = 0.0;
    size_t i = n;
    for (size_t j = S; j-- > 0;) {
        for (; i > pb->cp_first[j]; i--) {
            s1 += r[i - 1];
            st += r[i - 1] * pb->t[i - 1];
        }
        h[2 + j] = st - pb->cp[j] * s1;
    }
    for (; i > 0; i--) {
        s1 += r[i - 1];
        st += r[i - 1] * pb->t[i - 1];
    }
    h[0] = st;
    h[1] = s1;
    pb->lin_e0 = e;
    for (size_t q = 0; q < P; q++)
        pb->lin_th0[q] = th[lin_index(q)];
}

/* Sets up the normal equations when they apply (lin_state 1), else
 * marks them unused (-1); out of memory also falls back to the direct
 * path, which gives the same objective. */
static void lin_setup(tsa_stat_prophet_problem *pb)
{
    pb->lin_state = -1;
    if (pb->logistic || pb->K_add != pb->K)
        return;
    const size_t n = pb->n, S = pb->S, K = pb->K, P = lin_dim(pb);
    double *A = malloc(n * P * sizeof *A);
    pb->lin_G = malloc((P * P + 4 * P) * sizeof *pb->lin_G);
    if (!A || !pb->lin_G) {
        free(A);
        free(pb->lin_G);
        pb->lin_G = NULL;
        return;
    }
    pb->lin_th0 = pb->lin_G + P * P;
    pb->lin_h0 = pb->lin_th0 + P;
    pb->lin_d = pb->lin_h0 + P;
    for (size_t i = 0; i < n; i++) {
        double *a = A + i * P;
        const double t = pb->t[i];
        a[0] = t;
        a[1] = 1.0;
        for (size_t j = 0; j < S; j++)
            a[2 + j] = i >= pb->cp_first[j] ? t - pb->cp[j] : 0.0;
        memcpy(a + 2 + S, pb->X + i * K, K * sizeof *a);
    }
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)P, (int)n, 1.0, A, (int)P, 0.0,
                pb->lin_G, (int)P);
    free(A);
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b < a; b++)
            pb->lin_G[a * P + b] = pb->lin_G[b * P + a];
    pb->lin_state = 1;
}

/* r'r and A'r (P) at theta through the normal equations (Kseg/Bseg set). */
static double lin_eval(tsa_stat_prophet_problem *pb, const double *th, double *Ar)
{
    const size_t P = lin_dim(pb);
    const double *G = pb->lin_G, *h0 = pb->lin_h0;
    double *d = pb->lin_d, *Gd = d + P;
    for (int attempt = 0; attempt < 2; attempt++) {
        for (size_t q = 0; q < P; q++)
            d[q] = th[lin_index(q)] - pb->lin_th0[q];
        double dh = 0.0, dGd = 0.0;
        for (size_t a = 0; a < P; a++) {
            const double v = dot4(G + a * P, d, P);
            Gd[a] = v;
            dGd += d[a] * v;
            dh += d[a] * h0[a];
        }
        const double rss = pb->lin_e0 - 2.0 * dh + dGd;
        if (attempt == 0 && !(rss * LIN_REFRESH >= pb->lin_e0)) {
            lin_reset(pb, th);
            continue;
        }
        if (Ar)
            for (size_t a = 0; a < P; a++)
                Ar[a] = h0[a] - Gd[a];
        return rss;
    }
    return NAN; /* not reached: the second attempt returns */
}

enum {
    OBJ_PROFILE = 1 /* sigma at its optimum given the rest (theta's log sigma ignored) */
};

/* Negative log posterior of the Stan model (constants dropped):
 *   (k^2 + m^2) / (2 * 25) + sum |delta_j| / tau + sigma^2 / (2 * 0.25)
 *   + sum beta_c^2 / (2 s_c^2) + n log sigma + sum r_i^2 / (2 sigma^2),
 * r = y - g (1 + X beta_m) - X beta_a; the gradient by reverse-mode chain
 * rule in one pass over X (the residuals are scaled by 1 / sigma^2 once
 * sigma is known), O(n K + S) per call. With pb->huber > 0, |delta| is
 * replaced by sqrt(delta^2 + huber^2) - huber (the fit's continuation). */
static double objective_core(tsa_stat_prophet_problem *pb, const double *th, double *grad,
                             int flags)
{
    const int profile = flags & OBJ_PROFILE;
    const size_t n = pb->n, S = pb->S, K = pb->K, Ka = pb->K_add;
    const size_t dim = 3 + S + K;
    const double k = th[TSA_STAT_PROPHET_K], m = th[TSA_STAT_PROPHET_M];
    const double ls = th[TSA_STAT_PROPHET_LOG_SIGMA];
    const double *delta = th + TSA_STAT_PROPHET_DELTA, *beta = delta + S;
    double sigma = exp(ls), lsig = ls;
    double *Kseg = pb->Kseg, *Bseg = pb->Bseg;
    double *gbeta = grad ? grad + TSA_STAT_PROPHET_DELTA + S : NULL;
    double *dg = pb->dg; /* r_i (1 + mu_i), then dF/dg_i = -dg_i / sigma^2 */
    if ((!profile && (!isfinite(ls) || !(sigma > 0.0) || !isfinite(sigma))) ||
        trend_segments(pb->logistic, th, S, pb->cp, Kseg, Bseg) != 0)
        goto undefined;
    if (grad)
        memset(grad, 0, dim * sizeof *grad);

    if (pb->lin_state == 0) {
        lin_setup(pb);
        if (pb->lin_state == 1)
            lin_reset(pb, th);
    }
    const int lin = pb->lin_state == 1;
    double *Ar = lin ? pb->lin_d + lin_dim(pb) : NULL; /* reuses G d's slot */
    double rss = 0.0;
    if (lin)
        rss = lin_eval(pb, th, grad ? Ar : NULL);
    for (size_t i = 0; i < n && !lin; i++) {
        const size_t j = pb->seg[i];
        double g;
        if (pb->logistic) {
            double dp;
            g = pb->C * logistic_fn(Kseg[j] * (pb->t[i] - Bseg[j]), &dp);
            pb->dz[i] = pb->C * dp;
        } else {
            g = Kseg[j] * pb->t[i] + Bseg[j];
        }
        const double *row = pb->X + i * K;
        const double a = dot4(row, beta, Ka), mu = dot4(row + Ka, beta + Ka, K - Ka);
        const double r = pb->y[i] - (g * (1.0 + mu) + a);
        rss += r * r;
        if (grad) {
            /* d rss / d beta, unscaled: -2 r x (additive), -2 r g x (mult). */
            axpy4(gbeta, row, r, Ka);
            axpy4(gbeta + Ka, row + Ka, r * g, K - Ka);
            pb->g[i] = g;
            dg[i] = r * (1.0 + mu);
        }
    }
    if (!isfinite(rss))
        goto undefined;
    if (profile) {
        /* d/dsigma [n log sigma + rss / (2 sigma^2) + 2 sigma^2] = 0:
         * 4 sigma^4 + n sigma^2 - rss = 0 (the root written without
         * cancellation). By the envelope theorem the gradient in the other
         * parameters is the one at this sigma. */
        const double nn = (double)n;
        sigma = fmax(sqrt(rss / (0.5 * (nn + sqrt(nn * nn + 16.0 * rss)))), SIGMA_MIN);
        lsig = log(sigma);
    }
    pb->sigma = sigma;
    const double inv = 1.0 / (sigma * sigma), hub = pb->huber;
    double l1 = 0.0, l2 = 0.0;
    for (size_t j = 0; j < S; j++)
        l1 += hub > 0.0 ? sqrt(delta[j] * delta[j] + hub * hub) - hub : fabs(delta[j]);
    for (size_t c = 0; c < K; c++)
        l2 += beta[c] * beta[c] * pb->prior_prec[c];
    const double f = (k * k + m * m) / 50.0 + l1 / pb->tau + 2.0 * sigma * sigma + 0.5 * l2 +
                     (double)n * lsig + 0.5 * rss * inv;
    if (!grad)
        return f;

    if (lin)
        memcpy(gbeta, Ar + 2 + S, K * sizeof *gbeta);
    for (size_t c = 0; c < K; c++)
        gbeta[c] = -gbeta[c] * inv + beta[c] * pb->prior_prec[c];
    grad[TSA_STAT_PROPHET_LOG_SIGMA] = profile ? 0.0 : 4.0 * sigma * sigma + (double)n - rss * inv;
    for (size_t i = 0; i < n && !lin; i++)
        dg[i] *= -inv;

    double *gdelta = grad + TSA_STAT_PROPHET_DELTA;
    if (lin) {
        grad[TSA_STAT_PROPHET_K] = -inv * Ar[0];
        grad[TSA_STAT_PROPHET_M] = -inv * Ar[1];
        for (size_t j = 0; j < S; j++)
            gdelta[j] = -inv * Ar[2 + j];
    } else if (!pb->logistic) {
        /* g_i = k t_i + m + sum_{j: first_j <= i} delta_j (t_i - s_j): suffix
         * sums of dg and dg t over the rows after each changepoint. */
        double s1 = 0.0, st = 0.0;
        size_t i = n;
        for (size_t j = S; j-- > 0;) {
            for (; i > pb->cp_first[j]; i--) {
                s1 += dg[i - 1];
                st += dg[i - 1] * pb->t[i - 1];
            }
            gdelta[j] = st - pb->cp[j] * s1;
        }
        for (; i > 0; i--) {
            s1 += dg[i - 1];
            st += dg[i - 1] * pb->t[i - 1];
        }
        grad[TSA_STAT_PROPHET_K] = st;
        grad[TSA_STAT_PROPHET_M] = s1;
    } else {
        double *gK = pb->gK, *gB = pb->gB;
        memset(gK, 0, (S + 1) * sizeof *gK);
        memset(gB, 0, (S + 1) * sizeof *gB);
        for (size_t i = 0; i < n; i++) {
            const size_t j = pb->seg[i];
            const double dzi = dg[i] * pb->dz[i]; /* dF/dz_i, z = K_j (t - B_j) */
            gK[j] += dzi * (pb->t[i] - Bseg[j]);
            gB[j] -= dzi * Kseg[j];
        }
        /* Back through B_l = s_l - (s_l - B_{l-1}) K_{l-1} / K_l. */
        for (size_t l = S; l >= 1; l--) {
            const double d = pb->cp[l - 1] - Bseg[l - 1], q = Kseg[l - 1] / Kseg[l];
            gB[l - 1] += gB[l] * q;
            gK[l - 1] -= gB[l] * d / Kseg[l];
            gK[l] += gB[l] * d * q / Kseg[l];
        }
        /* K_j = k + sum_{l<=j} delta_l. */
        double acc = 0.0;
        for (size_t j = S; j >= 1; j--) {
            acc += gK[j];
            gdelta[j - 1] = acc;
        }
        grad[TSA_STAT_PROPHET_K] = acc + gK[0];
        grad[TSA_STAT_PROPHET_M] = gB[0];
    }
    grad[TSA_STAT_PROPHET_K] += k / 25.0;
    grad[TSA_STAT_PROPHET_M] += m / 25.0;
    for (size_t j = 0; j < S; j++) {
        const double d = delta[j];
        gdelta[j] += (hub > 0.0 ? d / sqrt(d * d + hub * hub)
                                : (double)((d > 0.0) - (d < 0.0))) / pb->tau;
    }
    return f;

undefined:
    if (grad)
        for (size_t i = 0; i < dim; i++)
            grad[i] = NAN;
    return INFINITY;
}

double tsa_stat_prophet_objective(tsa_stat_prophet_problem *pb, const double *theta,
                                  double *grad)
{
    return objective_core(pb, theta, grad, 0);
}

double tsa_stat_prophet_profile_objective(tsa_stat_prophet_problem *pb, const double *theta,
                                          double *grad)
{
    return objective_core(pb, theta, grad, OBJ_PROFILE);
}

/* ---- fit ---------------------------------------------------------------- */

/* ---- fit ---------------------------------------------------------------- */

/* The fit runs L-BFGS on whitened coordinates x, theta_lin = theta0_lin +
 * L^-T x with L L' = H0, H0 the Gauss-Newton Hessian of the negative log
 * posterior at the start (unit noise) plus the priors' precisions, over
 * theta_lin = (k, m, delta, beta). The changepoint columns (t - s_j)+ are
 * nearly collinear, which leaves the raw problem too ill-conditioned for a
 * limited-memory method (thousands of iterations that stop short of the
 * optimum); whitened, the Hessian is near a multiple of the identity. The
 * noise scale sigma is profiled out (its optimum given the rest is closed
 * form), which leaves the joint posterior mode unchanged. A linear change
 * of variables changes neither the objective's values nor its minimiser. */

/* In-place Cholesky factor (lower) of the (p, p) matrix A; -1 if it is not
 * numerically positive definite. */
static int cholesky(double *A, size_t p)
{
    for (size_t j = 0; j < p; j++) {
        double d = A[j * p + j];
        for (size_t k = 0; k < j; k++)
            d -= A[j * p + k] * A[j * p + k];
        if (!(d > 0.0) || !isfinite(d))
            return -1;
        d = sqrt(d);
        A[j * p + j] = d;
        for (size_t i = j + 1; i < p; i++) {
            double v = A[i * p + j];
            for (size_t k = 0; k < j; k++)
                v -= A[i * p + k] * A[j * p + k];
            A[i * p + j] = v / d;
        }
        for (size_t i = 0; i < j; i++)
            A[i * p + j] = 0.0;
    }
    return 0;
}

/* H0 (p, p), p = 2 + S + K, at theta (see above), from suffix sums over the
 * rows after each changepoint, O(n K^2 + S^2 + S K) rather than O(n p^2):
 * row i's Jacobian is e_i (a0_i, a1_i, (t_i - s_j)+) for the trend and
 * Xt_i for beta, with e = 1, a0 = t, a1 = 1 (linear) or e = C p (1 - p),
 * a0 = t - m, a1 = -k (logistic at delta = 0), and Xt the features, times
 * the trend g_i for multiplicative columns. Returns -1 without memory. */
static int build_h0(const tsa_stat_prophet_problem *pb, const double *th, double *H)
{
    const size_t n = pb->n, S = pb->S, K = pb->K, Ka = pb->K_add, p = 2 + S + K;
    const double k = th[TSA_STAT_PROPHET_K], m = th[TSA_STAT_PROPHET_M];
    enum { NS = 7 }; /* P0, P1, P2, Pa0, Pa0t, Pa1, Pa1t */
    double *suf = malloc((S * (NS + 2 * K) + 2 * K + 1) * sizeof *suf);
    if (!suf)
        return -1;
    double *acc = suf + S * (NS + 2 * K); /* running sums (NS + 2K) ... */
    double run[NS] = {0};
    double *Qc = acc, *Qct = acc + K; /* running e Xt, e Xt t */
    memset(H, 0, p * p * sizeof *H);
    memset(acc, 0, 2 * K * sizeof *acc);
    double *xt = malloc((K ? K : 1) * sizeof *xt);
    if (!xt) {
        free(suf);
        return -1;
    }
    size_t l = S;
    for (size_t i = n; i-- > 0;) {
        const double t = pb->t[i];
        double e = 1.0, a0 = t, a1 = 1.0, g = k * t + m;
        if (pb->logistic) {
            double dp;
            g = pb->C * logistic_fn(k * (t - m), &dp);
            e = pb->C * dp;
            a0 = t - m;
            a1 = -k;
        }
        const double *row = pb->X + i * K;
        for (size_t c = 0; c < K; c++)
            xt[c] = c < Ka ? row[c] : row[c] * g;
        const double e2 = e * e;
        run[0] += e2;
        run[1] += e2 * t;
        run[2] += e2 * t * t;
        run[3] += e2 * a0;
        run[4] += e2 * a0 * t;
        run[5] += e2 * a1;
        run[6] += e2 * a1 * t;
        /* k, m rows over all rows. */
        H[0 * p + 0] += e2 * a0 * a0;
        H[0 * p + 1] += e2 * a0 * a1;
        H[1 * p + 1] += e2 * a1 * a1;
        for (size_t c = 0; c < K; c++) {
            H[0 * p + 2 + S + c] += e * a0 * xt[c];
            H[1 * p + 2 + S + c] += e * a1 * xt[c];
            Qc[c] += e * xt[c];
            Qct[c] += e * xt[c] * t;
            double *hr = H + (2 + S + c) * p + 2 + S;
            for (size_t c2 = c; c2 < K; c2++)
                hr[c2] += xt[c] * xt[c2];
        }
        while (l > 0 && i == pb->cp_first[l - 1]) {
            l--;
            double *sl = suf + l * (NS + 2 * K);
            memcpy(sl, run, NS * sizeof *run);
            memcpy(sl + NS, acc, 2 * K * sizeof *acc);
        }
    }
    for (size_t l2 = 0; l2 < S; l2++) {
        const double *sl = suf + l2 * (NS + 2 * K), s2 = pb->cp[l2];
        const size_t q = 2 + l2;
        H[0 * p + q] = sl[4] - s2 * sl[3];
        H[1 * p + q] = sl[6] - s2 * sl[5];
        /* delta_j, delta_l2 for j <= l2: rows after the later one, s_l2. */
        for (size_t j = 0; j <= l2; j++) {
            const double s1 = pb->cp[j];
            H[(2 + j) * p + q] = sl[2] - (s1 + s2) * sl[1] + s1 * s2 * sl[0];
        }
        for (size_t c = 0; c < K; c++)
            H[q * p + 2 + S + c] = sl[NS + K + c] - s2 * sl[NS + c];
    }
    free(suf);
    free(xt);
    /* Mirror the upper triangle and add the Normal priors' precisions (k,
     * m, beta). No term for delta: a ridge there is large next to the data
     * term at the optimum's small noise and spoils the whitening (every
     * delta column has data, so H0 stays positive definite). */
    for (size_t i = 0; i < p; i++)
        for (size_t j = i + 1; j < p; j++)
            H[j * p + i] = H[i * p + j];
    H[0] += 1.0 / 25.0;
    H[p + 1] += 1.0 / 25.0;
    /* A ridge far below the data's scale, against round-off where a
     * saturated logistic start leaves columns near zero. */
    double dmax = 0.0;
    for (size_t i = 0; i < p; i++)
        dmax = fmax(dmax, H[i * p + i]);
    for (size_t i = 0; i < p; i++)
        H[i * p + i] += 1e-12 * dmax;
    for (size_t c = 0; c < K; c++)
        H[(2 + S + c) * p + 2 + S + c] += pb->prior_prec[c];
    return 0;
}

typedef struct fit_ctx {
    tsa_stat_prophet_problem *pb;
    const tsa_stat_prophet_opts *o;
    size_t p;
    const double *L;      /* (p, p) Cholesky factor of H0 */
    const double *theta0; /* (3 + S + K) */
    double *theta, *gth, *v; /* scratch: theta, its gradient, (p) */
    int iter0;            /* iterations of the earlier phases */
} fit_ctx;

/* theta = theta0 + L^-T x (back substitution with L'). */
static void fit_theta(const fit_ctx *c, const double *x)
{
    const size_t p = c->p;
    for (size_t i = p; i-- > 0;) {
        double v = x[i];
        for (size_t j = i + 1; j < p; j++)
            v -= c->L[j * p + i] * c->v[j];
        c->v[i] = v / c->L[i * p + i];
    }
    memcpy(c->theta, c->theta0, (p + 1) * sizeof *c->theta);
    for (size_t q = 0; q < p; q++)
        c->theta[lin_index(q)] += c->v[q];
}

static double fit_objective(void *user, const double *x, double *grad)
{
    fit_ctx *c = user;
    const size_t p = c->p;
    fit_theta(c, x);
    double f = objective_core(c->pb, c->theta, grad ? c->gth : NULL, OBJ_PROFILE);
    if (grad) {
        /* grad_x = L^-1 grad_theta_lin (forward substitution). */
        for (size_t i = 0; i < p; i++) {
            double v = c->gth[lin_index(i)];
            for (size_t j = 0; j < i; j++)
                v -= c->L[i * p + j] * grad[j];
            grad[i] = v / c->L[i * p + i];
        }
    }
    return f;
}

static tsa_status fit_progress(void *user, int iter, double f)
{
    const fit_ctx *c = user;
    return c->o->progress ? c->o->progress(c->o->user, c->iter0 + iter, c->o->max_iter, f)
                          : TSA_OK;
}

static double mean_abs_delta(const tsa_stat_prophet *p)
{
    if (!p->S)
        return 0.0;
    double s = 0.0;
    for (size_t j = 0; j < p->S; j++)
        s += fabs(p->theta[TSA_STAT_PROPHET_DELTA + j]);
    /* The reference implementation's epsilon keeps the scale positive. */
    return s / (double)p->S + 1e-8;
}

/* One MAP fit of @y (see tsa_stat_prophet_fit). */
static tsa_status fit_map(tsa_stat_prophet *out, const double *y, const int64_t *ts, size_t n,
                          const tsa_stat_prophet_opts *o)
{
    tsa_stat_prophet L;
    tsa_stat_prophet_problem *pb = NULL;
    TSA_TRY(tsa_stat_prophet_problem_create(y, ts, n, o, &L, &pb));
    const size_t dim = tsa_stat_prophet_problem_dim(pb), p = dim - 1;
    tsa_status rc = TSA_OK;
    double *work = NULL;
    L.theta = malloc(dim * sizeof *L.theta);
    if (p > (SIZE_MAX / sizeof(double) - 3 * dim) / (p + 1))
        goto nomem;
    work = malloc((p * p + 3 * dim + 2 * p) * sizeof *work);
    if (!L.theta || !work)
        goto nomem;
    double *H = work, *theta0 = H + p * p, *theta = theta0 + dim, *gth = theta + dim;
    double *v = gth + dim, *x = v + p;
    tsa_stat_prophet_problem_init_theta(pb, theta0);
    if (build_h0(pb, theta0, H) != 0)
        goto nomem;
    if (cholesky(H, p) != 0) {
        /* Whitening is an aid only: without it, plain coordinates. */
        memset(H, 0, p * p * sizeof *H);
        for (size_t i = 0; i < p; i++)
            H[i * p + i] = 1.0;
    }

    /* Stan's optimizer tolerances as the reference implementation calls it:
     * relative objective change 1e4 * DBL_EPSILON, gradient 1e-8, step
     * 1e-8 (here in the whitened coordinates). */
    tsa_lbfgs_opts lo;
    tsa_lbfgs_opts_init(&lo);
    lo.history = 10;
    lo.ftol = 1e4 * 2.220446049250313e-16;
    lo.gtol = 1e-8;
    lo.xtol = 1e-8;
    fit_ctx fc = {pb, o, p, H, theta0, theta, gth, v, 0};
    lo.progress = fit_progress;
    lo.progress_user = &fc;
    memset(x, 0, p * sizeof *x);
    /* Continuation on the Laplace term's kinks: |delta| is smoothed as
     * sqrt(delta^2 + e^2) - e with e = tau / 10, tau / 100, tau / 1000, each
     * stage starting from the last, and the exact objective last. L-BFGS
     * alone creeps along the kinks and stops short of the mode (by ~1 in
     * log posterior on typical series); the stages reach it in fewer
     * iterations. The result is the mode of the exact posterior. */
    tsa_lbfgs_result res;
    memset(&res, 0, sizeof res);
    for (int stage = 0; stage < 4 && fc.iter0 < o->max_iter; stage++) {
        pb->huber = stage < 3 ? pb->tau * pow(10.0, -1.0 - stage) : 0.0;
        lo.max_iter = o->max_iter - fc.iter0;
        rc = tsa_lbfgs_minimize(p, x, fit_objective, &fc, &lo, &res);
        if (rc != TSA_OK)
            goto done;
        fc.iter0 += res.iterations;
    }
    pb->huber = 0.0;
    /* The mode: theta at x, with sigma at its optimum given the rest. */
    fit_theta(&fc, x);
    memcpy(L.theta, theta, dim * sizeof *L.theta);
    double f = objective_core(pb, L.theta, NULL, OBJ_PROFILE);
    L.theta[TSA_STAT_PROPHET_LOG_SIGMA] = log(pb->sigma);
    L.sigma = exp(L.theta[TSA_STAT_PROPHET_LOG_SIGMA]);
    if (!isfinite(f) || !(L.sigma > 0.0) || !isfinite(L.sigma)) {
        rc = tsa_error(TSA_ENUMERIC, "prophet: the fit did not reach a finite optimum");
        goto done;
    }
    L.iterations = fc.iter0;
    L.mean_abs_delta = mean_abs_delta(&L);
    L.objective = tsa_stat_prophet_objective(pb, L.theta, NULL);
    L.reason = (int)res.reason;
    goto done;
nomem:
    rc = tsa_error(TSA_ENOMEM, "prophet: out of memory for %zu parameters", dim);
done:
    free(work);
    tsa_stat_prophet_problem_free(pb);
    if (rc != TSA_OK) {
        tsa_stat_prophet_free(&L);
        return rc;
    }
    tsa_stat_prophet_free(out);
    *out = L;
    return TSA_OK;
}

/* ---- prediction ------------------------------------------------------------ */

/* Per-call scratch: the trend segments and one feature row. */
typedef struct pred_scratch {
    double *Kseg, *Bseg, *row;
} pred_scratch;

static tsa_status scratch_init(const tsa_stat_prophet *p, pred_scratch *s)
{
    s->Kseg = malloc((2 * (p->S + 1) + p->K + 1) * sizeof *s->Kseg);
    TSA_FAIL_IF(!s->Kseg, TSA_ENOMEM, "prophet: out of memory");
    s->Bseg = s->Kseg + p->S + 1;
    s->row = s->Bseg + p->S + 1;
    if (trend_segments(p->logistic, p->theta, p->S, p->cp, s->Kseg, s->Bseg) != 0) {
        free(s->Kseg);
        return tsa_error(TSA_ENUMERIC, "prophet: the fitted trend is undefined");
    }
    return TSA_OK;
}

static double scaled_cap(const tsa_stat_prophet *p)
{
    return p->logistic ? (p->cap - p->floor) / p->y_scale : 0.0;
}

/* Scaled time, scaled MAP trend, and the additive and multiplicative parts
 * of X beta (scaled) at u; comp (when non-NULL, stride n) gets each block. */
static void predict_point(const tsa_stat_prophet *p, const pred_scratch *s, double u,
                          double *t_out, double *g_out, double *add_out, double *mul_out,
                          double *comp, size_t stride)
{
    const double t = (u - p->u0) / p->u_scale;
    const size_t j = segment_of(p->cp, p->S, t);
    const double g = trend_value(p->logistic, scaled_cap(p), s->Kseg[j], s->Bseg[j], t);
    const double *beta = p->theta + TSA_STAT_PROPHET_DELTA + p->S;
    double add = 0.0, mul = 0.0;
    if (p->K)
        feature_row(p, u, s->row);
    for (size_t b = 0; b < p->n_blocks; b++) {
        const tsa_stat_prophet_block *bl = &p->blocks[b];
        double v = 0.0;
        for (size_t c = bl->col0; c < bl->col0 + bl->ncols; c++)
            v += s->row[c] * beta[c];
        if (bl->multiplicative)
            mul += v;
        else
            add += v;
        if (comp)
            comp[b * stride] = bl->multiplicative ? v : v * p->y_scale;
    }
    *t_out = t;
    *g_out = g;
    *add_out = add;
    *mul_out = mul;
}

static double combine(const tsa_stat_prophet *p, double g, double add, double mul, double noise)
{
    return (g * p->y_scale + p->floor) * (1.0 + mul) + (add + noise) * p->y_scale;
}

tsa_status tsa_stat_prophet_predict(const tsa_stat_prophet *p, const double *u, size_t n,
                                    double *yhat, double *trend, double *comp)
{
    TSA_FAIL_IF(!p || !p->n_train || !p->theta, TSA_EINVAL, "prophet: not fitted");
    TSA_FAIL_IF(!u || !yhat, TSA_EINVAL, "prophet: NULL argument");
    pred_scratch s;
    TSA_TRY(scratch_init(p, &s));
    for (size_t i = 0; i < n; i++) {
        double t, g, add, mul;
        predict_point(p, &s, u[i], &t, &g, &add, &mul, comp ? comp + i : NULL, n);
        yhat[i] = combine(p, g, add, mul, 0.0);
        if (trend)
            trend[i] = g * p->y_scale + p->floor;
    }
    free(s.Kseg);
    return TSA_OK;
}

/* ---- intervals ---------------------------------------------------------- */

/* A bijective 64-bit mixer (MurmurHash3's finaliser), to give each sample
 * stream an unrelated seed. */
static uint64_t mix64(uint64_t z)
{
    z ^= z >> 33;
    z *= 0xff51afd7ed558ccdULL;
    z ^= z >> 33;
    z *= 0xc4ceb9fe1a85ec53ULL;
    z ^= z >> 33;
    return z;
}

/* One simulated path: its trend segment after the future changepoints so
 * far, the time of the next one, and its two generators. */
typedef struct path_state {
    double K, B, next;
    int changed;
    /* The polar method makes normals in pairs: the second waits here, in
     * this call's scratch, for the path's next point. */
    int has_spare;
    double spare;
    tsa_rng trend_rng, noise_rng;
} path_state;

/* The next standard normal of path @q's noise stream (Marsaglia & Bray
 * 1964, the polar method; both values of each pair are used). */
static double path_normal(path_state *q)
{
    if (q->has_spare) {
        q->has_spare = 0;
        return q->spare;
    }
    double u, v, s;
    do {
        u = 2.0 * tsa_rng_uniform(&q->noise_rng) - 1.0;
        v = 2.0 * tsa_rng_uniform(&q->noise_rng) - 1.0;
        s = u * u + v * v;
    } while (s >= 1.0 || s == 0.0);
    const double f = sqrt(-2.0 * log(s) / s);
    q->spare = v * f;
    q->has_spare = 1;
    return u * f;
}

static double exp_gap(tsa_rng *r, double rate)
{
    return -log1p(-tsa_rng_uniform(r)) / rate;
}

static double laplace(tsa_rng *r, double scale)
{
    for (;;) {
        double v = tsa_rng_uniform(r) - 0.5, a = 1.0 - 2.0 * fabs(v);
        if (a > 0.0)
            return (v < 0.0 ? scale : -scale) * log(a);
    }
}

/* Partitions x[l..r) around piv: x[l..j) < piv (or <= piv with @le) and
 * the rest not, returning j. The swap is unconditional and j advances by
 * the comparison's value, so the loop has no data-dependent branch to
 * mispredict (Lomuto's scheme, branch-free as in Edelkamp & Weiss 2016,
 * "BlockQuicksort"). */
static size_t partition_bf(double *x, size_t l, size_t r, double piv, int le)
{
    size_t j = l;
    if (le) {
        for (size_t i = l; i < r; i++) {
            const double v = x[i];
            x[i] = x[j];
            x[j] = v;
            j += v <= piv;
        }
    } else {
        for (size_t i = l; i < r; i++) {
            const double v = x[i];
            x[i] = x[j];
            x[j] = v;
            j += v < piv;
        }
    }
    return j;
}

/* Selects the k-th smallest of x (n) in place (Hoare's FIND with a
 * median-of-three pivot): afterwards x[k] is it, x[< k] <= x[k] and
 * x[> k] >= x[k]. */
static double select_kth(double *x, size_t n, size_t k)
{
    size_t l = 0, r = n;
    while (r - l > 1) {
        const double a = x[l], b = x[l + (r - l) / 2], c = x[r - 1];
        const double lo = a < b ? a : b, hi = a < b ? b : a;
        const double piv = c < lo ? lo : (c > hi ? hi : c);
        size_t j = partition_bf(x, l, r, piv, 0);
        if (j == l) {
            /* Nothing below the pivot: split off the elements equal to it,
             * of which there is at least one. */
            j = partition_bf(x, l, r, piv, 1);
            if (k < j)
                break;
            l = j;
        } else if (k < j) {
            r = j;
        } else {
            l = j;
        }
    }
    return x[k];
}

/* numpy.percentile's default (linear interpolation between order
 * statistics at q (n - 1)) at qlo <= qhi, into *lo and *hi. One selection
 * of the upper order statistic leaves the lower ones in x[0..kh), where
 * the second selection runs; the statistic after each selected one is the
 * minimum of the part above it. */
static void quantile_pair(double *x, size_t n, double qlo, double qhi, double *lo, double *hi)
{
    const double hh = qhi * (double)(n - 1), hl = qlo * (double)(n - 1);
    size_t kh = (size_t)floor(hh), kl = (size_t)floor(hl);
    double ah, bh = 0.0;
    if (kh >= n - 1) {
        kh = n - 1;
        ah = select_kth(x, n, kh);
        *hi = ah;
    } else {
        ah = select_kth(x, n, kh);
        bh = x[kh + 1];
        for (size_t i = kh + 2; i < n; i++)
            bh = x[i] < bh ? x[i] : bh;
        *hi = ah + (hh - (double)kh) * (bh - ah);
    }
    if (kl >= n - 1) {
        *lo = ah; /* then kh = n - 1 too */
        return;
    }
    double al, bl;
    if (kl >= kh) { /* kl == kh < n - 1 */
        al = ah;
        bl = bh;
    } else {
        al = select_kth(x, kh, kl);
        bl = x[kh];
        for (size_t i = kl + 1; i < kh; i++)
            bl = x[i] < bl ? x[i] : bl;
    }
    *lo = al + (hl - (double)kl) * (bl - al);
}

tsa_status tsa_stat_prophet_forecast(const tsa_stat_prophet *p, const double *u, size_t n,
                                     double interval, double *mean, double *lower, double *upper)
{
    TSA_FAIL_IF(!p || !p->n_train || !p->theta, TSA_EINVAL, "prophet: not fitted");
    TSA_FAIL_IF(!u || !mean || !lower || !upper, TSA_EINVAL, "prophet: NULL argument");
    TSA_FAIL_IF(!(interval > 0.0 && interval < 1.0), TSA_ERANGE,
                "interval: must be in (0, 1), got %g", interval);
    for (size_t i = 1; i < n; i++)
        TSA_FAIL_IF(!(u[i] >= u[i - 1]), TSA_EINVAL, "prophet: forecast times must not decrease");
    if (n == 0)
        return TSA_OK;
    const size_t ns = p->uncertainty_samples;
    if (ns == 0) {
        /* No simulation: the observation noise's Normal interval. */
        TSA_TRY(tsa_stat_prophet_predict(p, u, n, mean, NULL, NULL));
        const double half = gsl_cdf_ugaussian_Pinv(0.5 + 0.5 * interval) * p->sigma * p->y_scale;
        for (size_t i = 0; i < n; i++) {
            lower[i] = mean[i] - half;
            upper[i] = mean[i] + half;
        }
        return TSA_OK;
    }

    /* Points are processed in blocks so that the (block, samples) buffer
     * stays near 8 MB whatever the horizon; each path carries its state
     * across blocks, so the result does not depend on the block size. */
    size_t B = ((size_t)1 << 20) / ns;
    if (B < 1)
        B = 1;
    if (B > n)
        B = n;
    pred_scratch s;
    TSA_TRY(scratch_init(p, &s));
    path_state *ps = malloc(ns * sizeof *ps);
    double *buf = malloc(B * ns * sizeof *buf);
    double *pt = malloc(4 * B * sizeof *pt);
    if (!ps || !buf || !pt) {
        free(ps);
        free(buf);
        free(pt);
        free(s.Kseg);
        return tsa_error(TSA_ENOMEM, "forecast: out of memory for %zu samples", ns);
    }
    double *tb = pt, *gb = pt + B, *ab = pt + 2 * B, *mb = pt + 3 * B;
    /* Future changepoints arrive at the historical rate: S per unit of
     * scaled time (the history spans one unit). */
    const double rate = (double)p->S, lambda = p->mean_abs_delta;
    const double C = scaled_cap(p);
    for (size_t k = 0; k < ns; k++) {
        path_state *q = &ps[k];
        tsa_rng_seed(&q->trend_rng, mix64(p->seed ^ mix64(2 * (uint64_t)k + 1)));
        tsa_rng_seed(&q->noise_rng, mix64(p->seed ^ mix64(2 * (uint64_t)k + 2)));
        q->K = s.Kseg[p->S];
        q->B = s.Bseg[p->S];
        q->changed = 0;
        q->has_spare = 0;
        q->spare = 0.0;
        q->next = rate > 0.0 ? 1.0 + exp_gap(&q->trend_rng, rate) : INFINITY;
    }
    const double qlo = 0.5 - 0.5 * interval, qhi = 0.5 + 0.5 * interval;
    for (size_t i0 = 0; i0 < n; i0 += B) {
        const size_t nb = n - i0 < B ? n - i0 : B;
        for (size_t i = 0; i < nb; i++) {
            predict_point(p, &s, u[i0 + i], &tb[i], &gb[i], &ab[i], &mb[i], NULL, 0);
            mean[i0 + i] = combine(p, gb[i], ab[i], mb[i], 0.0);
        }
        for (size_t k = 0; k < ns; k++) {
            path_state *q = &ps[k];
            for (size_t i = 0; i < nb; i++) {
                while (q->next <= tb[i]) {
                    const double c = q->next, d = laplace(&q->trend_rng, lambda);
                    if (!p->logistic) {
                        q->K += d;
                        q->B -= c * d;
                    } else if (q->K + d != 0.0) {
                        /* The continuity offset of the logistic trend. */
                        q->B = c - (c - q->B) * q->K / (q->K + d);
                        q->K += d;
                    }
                    q->changed = 1;
                    q->next = c + exp_gap(&q->trend_rng, rate);
                }
                const double g =
                    q->changed ? trend_value(p->logistic, C, q->K, q->B, tb[i]) : gb[i];
                const double e = p->sigma * path_normal(q);
                buf[i * ns + k] = combine(p, g, ab[i], mb[i], e);
            }
        }
        for (size_t i = 0; i < nb; i++) {
            quantile_pair(buf + i * ns, ns, qlo, qhi, &lower[i0 + i], &upper[i0 + i]);
        }
    }
    free(ps);
    free(buf);
    free(pt);
    free(s.Kseg);
    return TSA_OK;
}

tsa_status tsa_stat_prophet_score(const tsa_stat_prophet *p, const double *u, const double *y,
                                  size_t n, double *raw, double *calibrated)
{
    TSA_FAIL_IF(!p || !p->n_train || !p->theta, TSA_EINVAL, "prophet: not fitted");
    TSA_FAIL_IF(!u || !y, TSA_EINVAL, "prophet: NULL argument");
    pred_scratch s;
    TSA_TRY(scratch_init(p, &s));
    const double sd = p->sigma * p->y_scale;
    for (size_t i = 0; i < n; i++) {
        double t, g, add, mul;
        predict_point(p, &s, u[i], &t, &g, &add, &mul, NULL, 0);
        const double z = fabs(y[i] - combine(p, g, add, mul, 0.0)) / sd;
        if (raw)
            raw[i] = z;
        if (calibrated)
            calibrated[i] = erf(z / sqrt(2.0));
    }
    free(s.Kseg);
    return TSA_OK;
}

/* ---- robust refit ---------------------------------------------------------- */

/* Cutoff of the robust refit, in robust standard deviations (1.4826 times
 * the median absolute residual, the Normal-consistent MAD about the fit):
 * a Normal residual passes it with probability 1 - 5.7e-7, so clean data
 * keep every point and give the plain MAP fit. */
#define ROBUST_CUTOFF 5.0
/* Refits at most this many times, stopping early when the outlier set
 * stops changing. */
#define ROBUST_ROUNDS 2

/* Marks in @out (n) the rows whose residual y - yhat under @p exceeds
 * ROBUST_CUTOFF robust standard deviations; returns their number, or
 * (size_t)-1 out of memory. @yhat, @scratch: (n) each. */
static size_t robust_mask(const tsa_stat_prophet *p, const double *y, size_t n, double *yhat,
                          double *scratch, unsigned char *out)
{
    if (tsa_stat_prophet_predict(p, p->u_train, n, yhat, NULL, NULL) != TSA_OK)
        return (size_t)-1;
    for (size_t i = 0; i < n; i++)
        scratch[i] = fabs(y[i] - yhat[i]);
    /* The median absolute residual (upper median for even n). */
    const double mad = select_kth(scratch, n, n / 2);
    const double cut = ROBUST_CUTOFF * 1.482602218505602 * mad;
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        out[i] = cut > 0.0 && fabs(y[i] - yhat[i]) > cut;
        m += out[i];
    }
    return m;
}

tsa_status tsa_stat_prophet_fit(tsa_stat_prophet *out, const double *y, const int64_t *ts,
                                size_t n, const tsa_stat_prophet_opts *o)
{
    TSA_FAIL_IF(!out || !o, TSA_EINVAL, "prophet: NULL argument");
    tsa_stat_prophet fit;
    memset(&fit, 0, sizeof fit);
    TSA_TRY(fit_map(&fit, y, ts, n, o));
    if (!o->robust) {
        tsa_stat_prophet_free(out);
        *out = fit;
        return TSA_OK;
    }
    /* Outliers as missing values: rows beyond the cutoff get the current
     * fit's prediction (the conditional mean of a missing response) and
     * the model is refitted; the noise scale is then estimated from the
     * kept rows alone, as the imputed rows carry no residual. */
    tsa_status rc = TSA_OK;
    double *yc = malloc(3 * n * sizeof *yc);
    unsigned char *mask = malloc(2 * n), *prev = mask ? mask + n : NULL;
    if (!yc || !mask) {
        rc = tsa_error(TSA_ENOMEM, "prophet: out of memory for %zu rows", n);
        goto done;
    }
    double *yhat = yc + n, *scratch = yhat + n;
    memset(prev, 0, n);
    size_t masked = 0;
    for (int round = 0; round < ROBUST_ROUNDS; round++) {
        size_t m = robust_mask(&fit, y, n, yhat, scratch, mask);
        if (m == (size_t)-1) {
            rc = tsa_error(TSA_ENOMEM, "prophet: out of memory for %zu rows", n);
            goto done;
        }
        if (memcmp(mask, prev, n) == 0)
            break;
        for (size_t i = 0; i < n; i++)
            yc[i] = mask[i] ? yhat[i] : y[i];
        tsa_stat_prophet refit;
        memset(&refit, 0, sizeof refit);
        rc = fit_map(&refit, yc, ts, n, o);
        if (rc != TSA_OK)
            goto done;
        tsa_stat_prophet_free(&fit);
        fit = refit;
        memcpy(prev, mask, n);
        masked = m;
    }
    if (masked) {
        /* sigma's mode given the rest over the n - masked kept rows (the
         * profile formula of objective_core with n the kept count). */
        if (tsa_stat_prophet_predict(&fit, fit.u_train, n, yhat, NULL, NULL) != TSA_OK) {
            rc = tsa_error(TSA_ENOMEM, "prophet: out of memory for %zu rows", n);
            goto done;
        }
        double rss = 0.0;
        for (size_t i = 0; i < n; i++)
            if (!prev[i]) {
                const double r = (y[i] - yhat[i]) / fit.y_scale;
                rss += r * r;
            }
        const double nn = (double)(n - masked);
        const double sigma = fmax(sqrt(rss / (0.5 * (nn + sqrt(nn * nn + 16.0 * rss)))), SIGMA_MIN);
        fit.theta[TSA_STAT_PROPHET_LOG_SIGMA] = log(sigma);
        /* As load computes it, so a saved model predicts bit for bit. */
        fit.sigma = exp(fit.theta[TSA_STAT_PROPHET_LOG_SIGMA]);
    }
    fit.n_outliers = masked;
done:
    free(yc);
    free(mask);
    if (rc != TSA_OK) {
        tsa_stat_prophet_free(&fit);
        return rc;
    }
    tsa_stat_prophet_free(out);
    *out = fit;
    return TSA_OK;
}

/* ---- persistence ---------------------------------------------------------- */

void tsa_stat_prophet_save(const tsa_stat_prophet *p, tsa_wbuf *w)
{
    tsa_wbuf_u32(w, LAYOUT_VERSION);
    tsa_wbuf_u64(w, p->n_train);
    tsa_wbuf_u8(w, (uint8_t)p->logistic);
    tsa_wbuf_u8(w, (uint8_t)p->has_ts);
    tsa_wbuf_f64(w, p->u0);
    tsa_wbuf_f64(w, p->u_scale);
    tsa_wbuf_f64(w, p->y_scale);
    tsa_wbuf_f64(w, p->floor);
    tsa_wbuf_f64(w, p->cap);
    tsa_wbuf_u64(w, p->S);
    tsa_wbuf_f64s(w, p->cp, p->S);
    tsa_wbuf_u64(w, p->n_blocks);
    for (size_t b = 0; b < p->n_blocks; b++) {
        const tsa_stat_prophet_block *bl = &p->blocks[b];
        tsa_wbuf_str(w, bl->name);
        tsa_wbuf_u8(w, (uint8_t)bl->type);
        tsa_wbuf_u8(w, (uint8_t)bl->multiplicative);
        tsa_wbuf_f64(w, bl->period);
        tsa_wbuf_u64(w, bl->order);
        tsa_wbuf_u64(w, bl->col0);
        tsa_wbuf_u64(w, bl->ncols);
        tsa_wbuf_f64(w, bl->prior_scale);
    }
    tsa_wbuf_u64(w, p->K);
    tsa_wbuf_u64(w, p->K_add);
    tsa_wbuf_u64(w, p->n_holidays);
    for (size_t i = 0; i < p->n_holidays; i++)
        tsa_wbuf_i64(w, p->holidays[i]);
    tsa_wbuf_f64s(w, p->theta, 3 + p->S + p->K);
    tsa_wbuf_u64(w, p->uncertainty_samples);
    tsa_wbuf_u64(w, p->seed);
    tsa_wbuf_f64s(w, p->u_train, p->n_train);
    tsa_wbuf_f64(w, p->objective);
    tsa_wbuf_u32(w, (uint32_t)p->iterations);
    tsa_wbuf_u32(w, (uint32_t)p->reason);
    tsa_wbuf_u64(w, (uint64_t)p->n_outliers);
}

static tsa_status bad(tsa_stat_prophet *p, const char *what)
{
    tsa_stat_prophet_free(p);
    return tsa_error(TSA_EFORMAT, "prophet state: %s", what);
}

static int all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return 0;
    return 1;
}

tsa_status tsa_stat_prophet_load(tsa_stat_prophet *out, tsa_rbuf *r)
{
    TSA_FAIL_IF(!out || !r, TSA_EINVAL, "prophet: NULL argument");
    tsa_stat_prophet p;
    memset(&p, 0, sizeof p);
    uint32_t ver, iters, reason;
    uint64_t n_train, S, n_blocks, K, K_add, n_hol, samples;
    uint8_t logistic, has_ts;
    if (tsa_rbuf_u32(r, &ver) || ver < 1 || ver > LAYOUT_VERSION)
        return bad(&p, "unknown layout version");
    if (tsa_rbuf_u64(r, &n_train) || tsa_rbuf_u8(r, &logistic) || tsa_rbuf_u8(r, &has_ts) ||
        tsa_rbuf_f64(r, &p.u0) || tsa_rbuf_f64(r, &p.u_scale) || tsa_rbuf_f64(r, &p.y_scale) ||
        tsa_rbuf_f64(r, &p.floor) || tsa_rbuf_f64(r, &p.cap) || tsa_rbuf_u64(r, &S))
        return bad(&p, "truncated header");
    if (n_train < 2 || n_train > TSA_STAT_PROPHET_MAX_TRAIN || logistic > 1 || has_ts > 1 ||
        S > TSA_STAT_PROPHET_MAX_CHANGEPOINTS || S >= n_train)
        return bad(&p, "counts out of range");
    p.n_train = (size_t)n_train;
    p.logistic = logistic;
    p.has_ts = has_ts;
    p.S = (size_t)S;
    if (!isfinite(p.u0) || !(p.u_scale > 0.0) || !isfinite(p.u_scale) || !(p.y_scale > 0.0) ||
        !isfinite(p.y_scale) || !isfinite(p.floor) || !isfinite(p.cap) ||
        (p.logistic && !(p.cap > p.floor)))
        return bad(&p, "bad scaling");
    if (p.S && tsa_rbuf_f64s_alloc(r, p.S, &p.cp))
        return bad(&p, "truncated changepoints");
    for (size_t j = 0; j < p.S; j++)
        if (!(p.cp[j] >= 0.0 && p.cp[j] <= 1.0) || (j && !(p.cp[j] > p.cp[j - 1])))
            return bad(&p, "changepoints not increasing in [0, 1]");
    if (tsa_rbuf_u64(r, &n_blocks) || n_blocks > TSA_STAT_PROPHET_MAX_BLOCKS)
        return bad(&p, "bad block count");
    p.n_blocks = (size_t)n_blocks;
    size_t col = 0, kadd = 0;
    int saw_mult = 0, saw_ind = 0;
    for (size_t b = 0; b < p.n_blocks; b++) {
        tsa_stat_prophet_block *bl = &p.blocks[b];
        char *name = NULL;
        uint8_t type, mult;
        uint64_t order, col0, ncols;
        if (tsa_rbuf_str(r, sizeof bl->name - 1, &name))
            return bad(&p, "truncated block");
        snprintf(bl->name, sizeof bl->name, "%s", name);
        free(name);
        if (tsa_rbuf_u8(r, &type) || tsa_rbuf_u8(r, &mult) || tsa_rbuf_f64(r, &bl->period) ||
            tsa_rbuf_u64(r, &order) || tsa_rbuf_u64(r, &col0) || tsa_rbuf_u64(r, &ncols) ||
            tsa_rbuf_f64(r, &bl->prior_scale))
            return bad(&p, "truncated block");
        if (type > 1 || mult > 1 || (saw_mult && !mult) || col0 != col ||
            !(bl->prior_scale > 0.0) || !isfinite(bl->prior_scale))
            return bad(&p, "inconsistent block");
        if (type == TSA_STAT_PROPHET_FOURIER) {
            if (order < 1 || order > TSA_STAT_PROPHET_MAX_ORDER || ncols != 2 * order ||
                !(bl->period > 0.0) || !isfinite(bl->period))
                return bad(&p, "inconsistent seasonality block");
        } else if (order > TSA_STAT_PROPHET_MAX_WINDOW || ncols != 2 * order + 1 || saw_ind ||
                   !has_ts) {
            return bad(&p, "inconsistent holiday block");
        }
        saw_ind |= type == TSA_STAT_PROPHET_INDICATOR;
        saw_mult |= mult;
        bl->type = (tsa_stat_prophet_block_type)type;
        bl->multiplicative = mult;
        bl->order = (size_t)order;
        bl->col0 = (size_t)col0;
        bl->ncols = (size_t)ncols;
        col += bl->ncols;
        if (!mult)
            kadd += bl->ncols;
    }
    if (tsa_rbuf_u64(r, &K) || tsa_rbuf_u64(r, &K_add) || K != col || K_add != kadd)
        return bad(&p, "column counts do not match the blocks");
    p.K = (size_t)K;
    p.K_add = (size_t)K_add;
    if (tsa_rbuf_u64(r, &n_hol) || n_hol > TSA_STAT_PROPHET_MAX_HOLIDAYS ||
        (n_hol > 0) != (saw_ind != 0) || n_hol > tsa_rbuf_remaining(r) / 8)
        return bad(&p, "bad holiday count");
    p.n_holidays = (size_t)n_hol;
    if (p.n_holidays) {
        p.holidays = malloc(p.n_holidays * sizeof *p.holidays);
        if (!p.holidays) {
            tsa_stat_prophet_free(&p);
            return tsa_error(TSA_ENOMEM, "prophet: out of memory");
        }
        for (size_t i = 0; i < p.n_holidays; i++)
            if (tsa_rbuf_i64(r, &p.holidays[i]) || (i && p.holidays[i] <= p.holidays[i - 1]))
                return bad(&p, "holidays not increasing");
    }
    const size_t dim = 3 + p.S + p.K;
    if (tsa_rbuf_f64s_alloc(r, dim, &p.theta) || !all_finite(p.theta, dim))
        return bad(&p, "truncated or non-finite parameters");
    if (tsa_rbuf_u64(r, &samples) || samples > TSA_STAT_PROPHET_MAX_SAMPLES ||
        tsa_rbuf_u64(r, &p.seed))
        return bad(&p, "bad sampling settings");
    p.uncertainty_samples = (size_t)samples;
    if (tsa_rbuf_f64s_alloc(r, p.n_train, &p.u_train))
        return bad(&p, "truncated training times");
    if (p.u_train[0] != p.u0 || !all_finite(p.u_train, p.n_train))
        return bad(&p, "training times do not match the scaling");
    for (size_t i = 1; i < p.n_train; i++)
        if (!(p.u_train[i] > p.u_train[i - 1]))
            return bad(&p, "training times not increasing");
    if (tsa_rbuf_f64(r, &p.objective) || tsa_rbuf_u32(r, &iters) || tsa_rbuf_u32(r, &reason) ||
        reason > TSA_LBFGS_LINESEARCH || iters > 100000000u)
        return bad(&p, "bad fit diagnostics");
    p.iterations = (int)iters;
    p.reason = (int)reason;
    if (ver >= 2) {
        uint64_t outl;
        if (tsa_rbuf_u64(r, &outl) || outl > p.n_train)
            return bad(&p, "bad outlier count");
        p.n_outliers = (size_t)outl;
    }
    p.sigma = exp(p.theta[TSA_STAT_PROPHET_LOG_SIGMA]);
    if (!(p.sigma > 0.0) || !isfinite(p.sigma))
        return bad(&p, "sigma out of range");
    pred_scratch sc;
    if (scratch_init(&p, &sc) != TSA_OK)
        return bad(&p, "the trend is undefined");
    free(sc.Kseg);
    p.mean_abs_delta = mean_abs_delta(&p);
    tsa_stat_prophet_free(out);
    *out = p;
    return TSA_OK;
}
