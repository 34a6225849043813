/**
 * @file params.h
 * @brief Key/value hyperparameters shared by C callers, services and bindings.
 *
 * A ::tsa_params is a small bag of typed values. It is checked against a
 * model kind's parameter table when a model is created: unknown keys, wrong
 * types and out-of-range values fail with TSA_EPARAM and a message naming
 * the key. tsa_kind_params_json() describes each kind's keys and bounds.
 */
#ifndef TSA_PARAMS_H
#define TSA_PARAMS_H

#include <tsa/common.h>

#ifdef __cplusplus
extern "C" {
#endif

/** @brief An opaque set of parameters. @since 0.1 */
typedef struct tsa_params tsa_params;

/** @brief The type of a parameter value. @since 0.1 */
typedef enum tsa_param_type {
    TSA_PARAM_INT = 1,    /**< int64 */
    TSA_PARAM_DOUBLE = 2, /**< double */
    TSA_PARAM_STRING = 3, /**< UTF-8 string */
    TSA_PARAM_BOOL = 4    /**< 0 or 1 */
} tsa_param_type;

/**
 * @brief Creates an empty parameter set.
 * @param[out] out the new set; NULL on failure.
 * @return TSA_OK, TSA_EINVAL (out NULL) or TSA_ENOMEM.
 * @since 0.1
 */
TSA_API tsa_status tsa_params_create(tsa_params **out);

/** @brief Frees @p p. Accepts NULL. @since 0.1 */
TSA_API void tsa_params_free(tsa_params *p);

/**
 * @brief Creates a parameter set from a JSON object's members.
 *
 * Integral numbers of magnitude below 2^53 become TSA_PARAM_INT, other
 * numbers TSA_PARAM_DOUBLE, strings TSA_PARAM_STRING, true/false
 * TSA_PARAM_BOOL. (A kind's table converts between them where no precision
 * is lost, and parses numbers and booleans given as strings, so "64", 64 and
 * 64.0 all set an integer key.)
 * Any other member type (null, array, object) fails naming the key.
 * @param json a NUL-terminated JSON object.
 * @param[out] out the new set; NULL on failure.
 * @return TSA_OK, TSA_EINVAL (not a JSON object), TSA_EPARAM or TSA_ENOMEM.
 * @since 0.1
 */
TSA_API tsa_status tsa_params_from_json(const char *json, tsa_params **out);

/**
 * @brief Serialises @p p as a JSON object, keys in insertion order.
 * @param p the parameters to serialise.
 * @param[out] json a string to release with tsa_free().
 * @since 0.1
 */
TSA_API tsa_status tsa_params_to_json(const tsa_params *p, char **json);

/** @brief Sets (or replaces) an integer parameter. @since 0.1 */
TSA_API tsa_status tsa_params_set_int(tsa_params *p, const char *key, int64_t value);
/** @brief Sets (or replaces) a floating-point parameter; must be finite. @since 0.1 */
TSA_API tsa_status tsa_params_set_double(tsa_params *p, const char *key, double value);
/** @brief Sets (or replaces) a string parameter (copied). @since 0.1 */
TSA_API tsa_status tsa_params_set_str(tsa_params *p, const char *key, const char *value);
/** @brief Sets (or replaces) a boolean parameter. @since 0.1 */
TSA_API tsa_status tsa_params_set_bool(tsa_params *p, const char *key, int value);

/**
 * @brief Reads an integer parameter.
 * @return TSA_OK, TSA_EPARAM (absent, or not an integer; a double with an
 * integral value is accepted) or TSA_EINVAL (NULL arguments).
 * @since 0.1
 */
TSA_API tsa_status tsa_params_get_int(const tsa_params *p, const char *key, int64_t *out);
/** @brief Reads a number (an int is converted). @since 0.1 */
TSA_API tsa_status tsa_params_get_double(const tsa_params *p, const char *key, double *out);
/**
 * @brief Reads a string parameter; @p *out points into @p p and is valid
 * until @p p changes or is freed.
 * @since 0.1
 */
TSA_API tsa_status tsa_params_get_str(const tsa_params *p, const char *key, const char **out);
/** @brief Reads a boolean parameter (an int 0/1 is accepted). @since 0.1 */
TSA_API tsa_status tsa_params_get_bool(const tsa_params *p, const char *key, int *out);

/** @brief Whether @p key is set. @since 0.1 */
TSA_API int tsa_params_has(const tsa_params *p, const char *key);
/** @brief The number of keys in @p p (0 for NULL). @since 0.1 */
TSA_API size_t tsa_params_count(const tsa_params *p);
/**
 * @brief The @p i-th key in insertion order, or NULL past the end.
 * @since 0.1
 */
TSA_API const char *tsa_params_key(const tsa_params *p, size_t i);
/** @brief The type of @p key, or 0 when absent. @since 0.1 */
TSA_API tsa_param_type tsa_params_type(const tsa_params *p, const char *key);
/** @brief Removes @p key; TSA_EPARAM when absent. @since 0.1 */
TSA_API tsa_status tsa_params_unset(tsa_params *p, const char *key);

#ifdef __cplusplus
}
#endif

#endif /* TSA_PARAMS_H */
