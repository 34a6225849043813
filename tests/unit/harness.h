/* A minimal TAP test harness: each file defines TEST(name) functions, lists
 * them with TEST_LIST, and gets a main that runs them (or those named on
 * the command line) and prints "ok N - name" / "not ok N - name". */
#ifndef TSA_TEST_HARNESS_H
#define TSA_TEST_HARNESS_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int harness_failures_;
static const char *harness_current_;

#define TEST(name) static void test_##name(void)

#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
            harness_failures_++;                                             \
        }                                                                    \
    } while (0)

#define CHECK_MSG(cond, ...)                                                 \
    do {                                                                     \
        if (!(cond)) {                                                       \
            printf("#   %s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
            printf(__VA_ARGS__);                                             \
            printf("\n");                                                    \
            harness_failures_++;                                             \
        }                                                                    \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                \
    do {                                                                     \
        double ha_ = (double)(a), hb_ = (double)(b), ht_ = (double)(tol);    \
        if (!(fabs(ha_ - hb_) <= ht_)) {                                     \
            printf("#   %s:%d: %s = %.10g, %s = %.10g, |diff| = %.3g > %.3g\n", \
                   __FILE__, __LINE__, #a, ha_, #b, hb_, fabs(ha_ - hb_), ht_); \
            harness_failures_++;                                             \
        }                                                                    \
    } while (0)

/* Checks that a tsa call returns @expected, printing libtsa's message if not. */
#define CHECK_STATUS(expr, expected)                                         \
    do {                                                                     \
        tsa_status hs_ = (expr);                                             \
        if (hs_ != (expected)) {                                             \
            printf("#   %s:%d: %s returned %s (%s), expected %s\n", __FILE__, \
                   __LINE__, #expr, tsa_status_name(hs_), tsa_last_error(),  \
                   tsa_status_name(expected));                               \
            harness_failures_++;                                             \
        }                                                                    \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, TSA_OK)

/* Checks that the last error message contains @needle. */
#define CHECK_ERROR_MENTIONS(needle)                                         \
    CHECK_MSG(strstr(tsa_last_error(), (needle)) != NULL,                    \
              "message \"%s\" lacks \"%s\"", tsa_last_error(), (needle))

typedef struct {
    const char *name;
    void (*fn)(void);
} harness_case_;

#define TEST_CASE(name) {#name, test_##name}

#define TEST_LIST(...)                                                       \
    static const harness_case_ harness_cases_[] = {__VA_ARGS__};             \
    int main(int argc, char **argv)                                          \
    {                                                                        \
        size_t n = sizeof harness_cases_ / sizeof harness_cases_[0];         \
        size_t run = 0, failed = 0;                                          \
        setvbuf(stdout, NULL, _IONBF, 0);                                    \
        for (size_t i = 0; i < n; i++) {                                     \
            int wanted = argc < 2;                                           \
            for (int a = 1; a < argc; a++)                                   \
                if (strcmp(argv[a], harness_cases_[i].name) == 0)            \
                    wanted = 1;                                              \
            if (wanted)                                                      \
                run++;                                                       \
        }                                                                    \
        printf("1..%zu\n", run);                                             \
        run = 0;                                                             \
        for (size_t i = 0; i < n; i++) {                                     \
            int wanted = argc < 2;                                           \
            for (int a = 1; a < argc; a++)                                   \
                if (strcmp(argv[a], harness_cases_[i].name) == 0)            \
                    wanted = 1;                                              \
            if (!wanted)                                                     \
                continue;                                                    \
            int before = harness_failures_;                                  \
            harness_current_ = harness_cases_[i].name;                       \
            harness_cases_[i].fn();                                          \
            run++;                                                           \
            if (harness_failures_ != before) {                               \
                failed++;                                                    \
                printf("not ok %zu - %s\n", run, harness_cases_[i].name);    \
            } else {                                                         \
                printf("ok %zu - %s\n", run, harness_cases_[i].name);        \
            }                                                                \
        }                                                                    \
        (void)harness_current_;                                              \
        return failed ? 1 : 0;                                               \
    }

#endif
