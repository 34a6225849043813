/* Limited-memory BFGS for smooth (or piecewise smooth) unconstrained
 * minimisation in double precision.
 *
 * The search direction is the two-loop recursion of Nocedal, "Updating
 * quasi-Newton matrices with limited storage", Math. Comp. 35 (1980), with
 * the initial inverse Hessian scaled by s'y / y'y (Nocedal & Wright,
 * "Numerical Optimization", 2nd ed., 2006, eq. 7.20). Steps satisfy the
 * strong Wolfe conditions through the bracketing and zoom line search of
 * Nocedal & Wright, algorithms 3.5 and 3.6, with safeguarded cubic
 * interpolation; a trial point whose objective is not finite counts as too
 * long a step, so objectives that overflow far from the optimum are fine.
 *
 * Everything the solver needs is allocated per call: any number of threads
 * may minimise at once.
 */
#ifndef TSA_STAT_LBFGS_H
#define TSA_STAT_LBFGS_H

#include <stddef.h>

#include <tsa/common.h>

/* The objective: returns f(x) and writes its gradient into @grad (n).
 * Returning NaN or +Inf marks @x as outside the domain. */
typedef double (*tsa_lbfgs_fn)(void *user, const double *x, double *grad);

/* Called after every accepted step with the iteration number (1-based) and
 * the objective; a non-OK status (message already set) stops the solver,
 * which returns it. */
typedef tsa_status (*tsa_lbfgs_progress_fn)(void *user, int iter, double f);

typedef struct tsa_lbfgs_opts {
    size_t history;    /* correction pairs kept, >= 1 (default 10) */
    int max_iter;      /* iterations, >= 1 (default 1000) */
    double gtol;       /* stop when max |g_i| <= gtol (default 1e-8) */
    double ftol;       /* stop when f_prev - f <= ftol * max(|f_prev|, |f|, 1)
                        * (default 1e-12; 0 disables) */
    double xtol;       /* stop when max |x_i - x_prev_i| <= xtol (default 1e-12) */
    int max_linesearch; /* objective evaluations per line search (default 40) */
    double c1, c2;     /* Wolfe constants, 0 < c1 < c2 < 1 (1e-4, 0.9) */
    tsa_lbfgs_progress_fn progress; /* may be NULL */
    void *progress_user;
} tsa_lbfgs_opts;

/* Why the solver stopped. */
typedef enum tsa_lbfgs_reason {
    TSA_LBFGS_GTOL = 0,       /* gradient small */
    TSA_LBFGS_FTOL = 1,       /* relative decrease small */
    TSA_LBFGS_XTOL = 2,       /* step small */
    TSA_LBFGS_MAXITER = 3,    /* iteration limit */
    TSA_LBFGS_LINESEARCH = 4  /* no acceptable step even along -g: x is the
                               * best point found (typical at a kink or at
                               * the limit of floating-point resolution) */
} tsa_lbfgs_reason;

typedef struct tsa_lbfgs_result {
    int iterations;
    int evaluations;
    double f;          /* objective at the returned x */
    double gnorm;      /* max |g_i| there */
    tsa_lbfgs_reason reason;
} tsa_lbfgs_result;

/* Sets @o to the defaults above. */
void tsa_lbfgs_opts_init(tsa_lbfgs_opts *o);

/* A short name of @r ("gtol", "ftol", "xtol", "max_iter", "line_search"). */
const char *tsa_lbfgs_reason_name(tsa_lbfgs_reason r);

/* Minimises @fn from @x (n), overwriting @x with the best point found; the
 * objective never increases between iterations. @o may be NULL (defaults);
 * @res may be NULL. Returns TSA_OK (also when the iteration limit is reached
 * or the line search gives up: see res->reason), TSA_EINVAL (n = 0, bad
 * options), TSA_ENUMERIC (the objective or its gradient is not finite at
 * the start), TSA_ENOMEM, or what the progress callback returned. */
tsa_status tsa_lbfgs_minimize(size_t n, double *x, tsa_lbfgs_fn fn, void *user,
                              const tsa_lbfgs_opts *o, tsa_lbfgs_result *res);

#endif
