/* Status names and texts, and the thread-local last error. */
#include "core/error.h"

#include <gsl/gsl_errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char last_message[512];
static _Thread_local tsa_status last_code = TSA_OK;

TSA_API const char *tsa_strerror(tsa_status status)
{
    switch (status) {
#define TSA_STATUS_TEXT_(name, value, text) \
    case name:                              \
        return text;
        TSA_STATUS_MAP(TSA_STATUS_TEXT_)
#undef TSA_STATUS_TEXT_
    }
    return "unknown status";
}

TSA_API const char *tsa_status_name(tsa_status status)
{
    switch (status) {
#define TSA_STATUS_NAME_(name, value, text) \
    case name:                              \
        return #name;
        TSA_STATUS_MAP(TSA_STATUS_NAME_)
#undef TSA_STATUS_NAME_
    }
    return "TSA_E?";
}

TSA_API const char *tsa_last_error(void) { return last_message; }

TSA_API tsa_status tsa_last_status(void) { return last_code; }

tsa_status tsa_error(tsa_status code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_code = code;
    return code;
}

TSA_API const char *tsa_version(void) { return TSA_VERSION_STRING; }

TSA_API int tsa_version_number(void) { return TSA_VERSION_NUMBER; }

TSA_API void tsa_free(void *ptr) { free(ptr); }

static pthread_once_t gsl_once = PTHREAD_ONCE_INIT;

static void gsl_handler_off(void) { gsl_set_error_handler_off(); }

void tsa_gsl_init(void) { pthread_once(&gsl_once, gsl_handler_off); }
