/**
 * @file common.h
 * @brief Status codes, error messages, versions and memory ownership.
 *
 * Every fallible libtsa call returns a ::tsa_status. TSA_OK is zero; every
 * other code names a class of failure, and the detail of the most recent
 * failure on the calling thread is available from tsa_last_error().
 */
#ifndef TSA_COMMON_H
#define TSA_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include <tsa/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief Marks a symbol as part of the exported ABI. */
#if defined(_WIN32)
#define TSA_API __declspec(dllexport)
#elif defined(__GNUC__)
#define TSA_API __attribute__((visibility("default")))
#else
#define TSA_API
#endif

/** @brief Marks a symbol that will be removed at the next soname bump. */
#if defined(__GNUC__)
#define TSA_DEPRECATED __attribute__((deprecated))
#else
#define TSA_DEPRECATED
#endif

/**
 * @brief The list of status codes: X(NAME, value, "description").
 *
 * Codes are never renumbered or reused; new ones are appended.
 */
#define TSA_STATUS_MAP(X)                                                    \
    X(TSA_OK, 0, "success")                                                  \
    X(TSA_EINVAL, 1, "invalid argument")                                     \
    X(TSA_ENOMEM, 2, "out of memory")                                        \
    X(TSA_EUNSUPPORTED, 3, "operation not supported by this model kind")    \
    X(TSA_ENOTFITTED, 4, "model is not fitted")                              \
    X(TSA_ESHAPE, 5, "series shape does not match the model")               \
    X(TSA_ETOOSHORT, 6, "series too short for the model")                    \
    X(TSA_ENONFINITE, 7, "series holds NaN or Inf not marked missing")      \
    X(TSA_EFORMAT, 8, "malformed, truncated or foreign model data")         \
    X(TSA_EIO, 9, "input/output error")                                      \
    X(TSA_ECANCELED, 10, "canceled by the progress callback")               \
    X(TSA_ENUMERIC, 11, "numerical failure")                                 \
    X(TSA_EUNKNOWN_KIND, 12, "unknown model kind")                           \
    X(TSA_EPARAM, 13, "unknown parameter or value out of range")            \
    X(TSA_ERANGE, 14, "argument out of range")                               \
    X(TSA_EVERSION, 15, "model data written by an incompatible version")

/** @brief Result of every fallible libtsa call. */
typedef enum tsa_status {
#define TSA_STATUS_ENUM_(name, value, text) name = value,
    TSA_STATUS_MAP(TSA_STATUS_ENUM_)
#undef TSA_STATUS_ENUM_
} tsa_status;

/**
 * @brief A fixed English description of @p status.
 * @return A static string, never NULL ("unknown status" for unknown codes).
 * @note Thread-safe. @since 0.1
 */
TSA_API const char *tsa_strerror(tsa_status status);

/**
 * @brief The symbolic name of @p status, e.g. "TSA_EINVAL".
 * @return A static string, never NULL ("TSA_E?" for unknown codes).
 * @note Thread-safe. @since 0.1
 */
TSA_API const char *tsa_status_name(tsa_status status);

/**
 * @brief The message of the last failure on the calling thread.
 *
 * Each failing call sets a message that names the problem, for example
 * "epochs: must be in [1, 100000], got 0". Successful calls leave it as it
 * was. The string belongs to libtsa and stays valid until the next libtsa
 * call on the same thread.
 * @return The message, or "" when nothing failed yet on this thread.
 * @note Thread-safe (the message is thread-local). @since 0.1
 */
TSA_API const char *tsa_last_error(void);

/**
 * @brief The status of the last failure on the calling thread (TSA_OK if none).
 * @note Thread-safe. @since 0.1
 */
TSA_API tsa_status tsa_last_status(void);

/**
 * @brief The library's version string, "MAJOR.MINOR.PATCH".
 *
 * Compare with ::TSA_VERSION_STRING to detect a header/library mismatch.
 * @note Thread-safe. @since 0.1
 */
TSA_API const char *tsa_version(void);

/**
 * @brief The library's version as MAJOR*10000 + MINOR*100 + PATCH.
 * @note Thread-safe. @since 0.1
 */
TSA_API int tsa_version_number(void);

/**
 * @brief Frees memory that libtsa allocated for the caller (saved model
 * buffers, JSON strings). Accepts NULL.
 * @note Thread-safe. @since 0.1
 */
TSA_API void tsa_free(void *ptr);

#ifdef __cplusplus
}
#endif

#endif /* TSA_COMMON_H */
