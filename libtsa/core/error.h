/* Internal error reporting: a thread-local message per failure. */
#ifndef TSA_CORE_ERROR_H
#define TSA_CORE_ERROR_H

#include <tsa/common.h>

#if defined(__GNUC__)
#define TSA_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TSA_PRINTF(fmt, args)
#endif

/* Records @code and a printf-style message for the calling thread, returns @code. */
tsa_status tsa_error(tsa_status code, const char *fmt, ...) TSA_PRINTF(2, 3);

/* Fails the enclosing function with @code and a message when @cond holds. */
#define TSA_FAIL_IF(cond, code, ...)                 \
    do {                                             \
        if (cond)                                    \
            return tsa_error((code), __VA_ARGS__);   \
    } while (0)

/* Propagates a non-OK status (the message is already set). */
#define TSA_TRY(expr)                                \
    do {                                             \
        tsa_status tsa_try_rc_ = (expr);             \
        if (tsa_try_rc_ != TSA_OK)                   \
            return tsa_try_rc_;                      \
    } while (0)

/* For cleanup paths: on failure store the status in @rc and jump to @label. */
#define TSA_CHECK_GOTO(expr, rc, label)              \
    do {                                             \
        (rc) = (expr);                               \
        if ((rc) != TSA_OK)                          \
            goto label;                              \
    } while (0)

/* Turns off GSL's abort-on-error handler once per process (see tsa.h). */
void tsa_gsl_init(void);

#endif
