/* Tests of the L-BFGS solver (libtsa/stat/lbfgs.c): the Rosenbrock function
 * in 2 and 20 dimensions to 1e-8, an ill-conditioned quadratic with a known
 * minimiser, an objective undefined on part of the line search (NaN for
 * x <= 0), the progress callback and cancellation, and bad arguments. */
#include <math.h>
#include <string.h>

#include <tsa/tsa.h>

#include "core/error.h"
#include "stat/lbfgs.h"

#include "harness.h"

/* Chained Rosenbrock: sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2, minimum 0
 * at all ones. */
static double rosenbrock(void *user, const double *x, double *g)
{
    size_t n = *(const size_t *)user;
    double f = 0.0;
    memset(g, 0, n * sizeof *g);
    for (size_t i = 0; i + 1 < n; i++) {
        double a = x[i + 1] - x[i] * x[i], b = 1.0 - x[i];
        f += 100.0 * a * a + b * b;
        g[i] += -400.0 * a * x[i] - 2.0 * b;
        g[i + 1] += 200.0 * a;
    }
    return f;
}

static tsa_lbfgs_opts tight(void)
{
    tsa_lbfgs_opts o;
    tsa_lbfgs_opts_init(&o);
    o.gtol = 1e-12;
    o.ftol = 0.0;
    o.xtol = 0.0;
    o.max_iter = 10000;
    return o;
}

TEST(rosenbrock_2d)
{
    size_t n = 2;
    double x[2] = {-1.2, 1.0};
    tsa_lbfgs_opts o = tight();
    tsa_lbfgs_result r;
    CHECK_OK(tsa_lbfgs_minimize(n, x, rosenbrock, &n, &o, &r));
    CHECK_NEAR(x[0], 1.0, 1e-8);
    CHECK_NEAR(x[1], 1.0, 1e-8);
    CHECK(r.f < 1e-16);
    CHECK(r.iterations > 10 && r.iterations < 200);
    printf("# rosenbrock 2d: %d iterations, %d evaluations, f = %.3g, stop %s\n", r.iterations,
           r.evaluations, r.f, tsa_lbfgs_reason_name(r.reason));
}

TEST(rosenbrock_20d)
{
    size_t n = 20;
    double x[20];
    for (size_t i = 0; i < n; i++)
        x[i] = i % 2 ? 1.0 : -1.2;
    tsa_lbfgs_opts o = tight();
    tsa_lbfgs_result r;
    CHECK_OK(tsa_lbfgs_minimize(n, x, rosenbrock, &n, &o, &r));
    for (size_t i = 0; i < n; i++)
        CHECK_NEAR(x[i], 1.0, 1e-8);
    printf("# rosenbrock 20d: %d iterations, %d evaluations, stop %s\n", r.iterations,
           r.evaluations, tsa_lbfgs_reason_name(r.reason));
}

/* f = 1/2 sum c_i (x_i - i)^2 with c_i from 1 to 1e4. */
static double quad(void *user, const double *x, double *g)
{
    (void)user;
    double f = 0.0;
    for (size_t i = 0; i < 8; i++) {
        double c = pow(10.0, (double)i * 4.0 / 7.0), d = x[i] - (double)i;
        f += 0.5 * c * d * d;
        g[i] = c * d;
    }
    return f;
}

TEST(ill_conditioned_quadratic)
{
    double x[8] = {0};
    tsa_lbfgs_opts o = tight();
    o.gtol = 1e-10;
    tsa_lbfgs_result r;
    CHECK_OK(tsa_lbfgs_minimize(8, x, quad, NULL, &o, &r));
    for (size_t i = 0; i < 8; i++)
        CHECK_NEAR(x[i], (double)i, 1e-9);
    CHECK(r.reason == TSA_LBFGS_GTOL);
}

/* x - log x + (y - 2)^2, undefined (NaN) for x <= 0: minimum at (1, 2). */
static double half_domain(void *user, const double *x, double *g)
{
    (void)user;
    if (x[0] <= 0.0) {
        g[0] = g[1] = NAN;
        return NAN;
    }
    g[0] = 1.0 - 1.0 / x[0];
    g[1] = 2.0 * (x[1] - 2.0);
    return x[0] - log(x[0]) + (x[1] - 2.0) * (x[1] - 2.0);
}

TEST(backs_off_where_undefined)
{
    double x[2] = {30.0, -40.0};
    tsa_lbfgs_opts o = tight();
    o.gtol = 1e-10;
    tsa_lbfgs_result r;
    CHECK_OK(tsa_lbfgs_minimize(2, x, half_domain, NULL, &o, &r));
    CHECK_NEAR(x[0], 1.0, 1e-8);
    CHECK_NEAR(x[1], 2.0, 1e-8);
}

typedef struct {
    int calls, stop_at;
    double last_f;
} progress_log;

static tsa_status on_iter(void *user, int iter, double f)
{
    progress_log *p = user;
    p->calls++;
    if (p->calls > 1)
        CHECK(f <= p->last_f); /* monotone */
    p->last_f = f;
    CHECK(iter == p->calls);
    if (p->stop_at && iter == p->stop_at)
        return tsa_error(TSA_ECANCELED, "stop");
    return TSA_OK;
}

TEST(progress_and_cancel)
{
    size_t n = 2;
    double x[2] = {-1.2, 1.0};
    tsa_lbfgs_opts o = tight();
    progress_log log = {0, 0, 0.0};
    o.progress = on_iter;
    o.progress_user = &log;
    tsa_lbfgs_result r;
    CHECK_OK(tsa_lbfgs_minimize(n, x, rosenbrock, &n, &o, &r));
    CHECK(log.calls == r.iterations);

    double y[2] = {-1.2, 1.0};
    progress_log stop = {0, 5, 0.0};
    o.progress_user = &stop;
    CHECK_STATUS(tsa_lbfgs_minimize(n, y, rosenbrock, &n, &o, &r), TSA_ECANCELED);
    CHECK(stop.calls == 5);

    /* The iteration limit is not an error. */
    double z[2] = {-1.2, 1.0};
    o.progress = NULL;
    o.max_iter = 3;
    CHECK_OK(tsa_lbfgs_minimize(n, z, rosenbrock, &n, &o, &r));
    CHECK(r.iterations == 3 && r.reason == TSA_LBFGS_MAXITER);
}

TEST(bad_arguments)
{
    double x[2] = {-1.0, 1.0};
    size_t n = 2;
    CHECK_STATUS(tsa_lbfgs_minimize(0, x, rosenbrock, &n, NULL, NULL), TSA_EINVAL);
    tsa_lbfgs_opts o;
    tsa_lbfgs_opts_init(&o);
    o.c2 = o.c1 / 2;
    CHECK_STATUS(tsa_lbfgs_minimize(2, x, rosenbrock, &n, &o, NULL), TSA_EINVAL);
    double bad[2] = {-1.0, 1.0};
    CHECK_STATUS(tsa_lbfgs_minimize(2, bad, half_domain, NULL, NULL, NULL), TSA_ENUMERIC);
    CHECK(bad[0] == -1.0 && bad[1] == 1.0);
}

TEST_LIST(TEST_CASE(rosenbrock_2d), TEST_CASE(rosenbrock_20d),
          TEST_CASE(ill_conditioned_quadratic), TEST_CASE(backs_off_where_undefined),
          TEST_CASE(progress_and_cancel), TEST_CASE(bad_arguments))
