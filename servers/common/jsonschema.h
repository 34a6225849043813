/* A validator for the subset of JSON Schema (2020-12) the tools' input
 * schemas use: type (one or a list), properties, required,
 * additionalProperties (false or a schema), enum, const, minimum, maximum,
 * exclusiveMinimum, exclusiveMaximum, minLength, maxLength, items, minItems,
 * maxItems, oneOf/anyOf. Messages name the failing path ("steps_ahead: must
 * be at most 100000"). */
#ifndef TSA_SERVERS_JSONSCHEMA_H
#define TSA_SERVERS_JSONSCHEMA_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* 0 when @value conforms to @schema; otherwise -1 and a message. */
int tsa_schema_validate(const cJSON *schema, const cJSON *value, char *err, size_t err_len);

#endif
