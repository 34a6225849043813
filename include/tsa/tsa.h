/**
 * @file tsa.h
 * @brief libtsa: time-series forecasting and anomaly detection. Include this.
 *
 * Link with <tt>pkg-config --cflags --libs tsa</tt>.
 *
 * Process-wide state: libtsa has none that a caller can change. The one
 * process-wide act is that the first model call turns off GSL's default
 * error handler (which would abort the process) with
 * <tt>gsl_set_error_handler_off()</tt>; libtsa checks every GSL return
 * value and maps failures to ::tsa_status. A program that installs its own
 * GSL handler should do so after its first libtsa call.
 *
 * Linear algebra goes through OpenBLAS (libtsa links it before GSL, so the
 * CBLAS symbols GSL uses resolve to OpenBLAS, not libgslcblas).
 */
#ifndef TSA_TSA_H
#define TSA_TSA_H

#include <tsa/common.h>
#include <tsa/series.h>
#include <tsa/params.h>
#include <tsa/model.h>
#include <tsa/generate.h>
#include <tsa/metrics.h>

#endif /* TSA_TSA_H */
