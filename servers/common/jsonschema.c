/* A JSON Schema subset validator for tool arguments (see jsonschema.h). */
#include "jsonschema.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static int type_matches(const char *t, const cJSON *v)
{
    if (!strcmp(t, "object"))
        return cJSON_IsObject(v);
    if (!strcmp(t, "array"))
        return cJSON_IsArray(v);
    if (!strcmp(t, "string"))
        return cJSON_IsString(v);
    if (!strcmp(t, "number"))
        return cJSON_IsNumber(v);
    if (!strcmp(t, "integer"))
        return cJSON_IsNumber(v) && v->valuedouble == floor(v->valuedouble) && fabs(v->valuedouble) < 9.1e15;
    if (!strcmp(t, "boolean"))
        return cJSON_IsBool(v);
    if (!strcmp(t, "null"))
        return cJSON_IsNull(v);
    return 1;
}

static const char *type_name(const cJSON *v)
{
    return cJSON_IsObject(v) ? "an object" : cJSON_IsArray(v) ? "an array" : cJSON_IsString(v) ? "a string"
         : cJSON_IsNumber(v) ? "a number" : cJSON_IsBool(v) ? "a boolean" : "null";
}

static int fail(char *err, size_t len, const char *path, const char *what)
{
    snprintf(err, len, "%s: %s", *path ? path : "arguments", what);
    return -1;
}

static int validate(const cJSON *s, const cJSON *v, const char *path, char *err, size_t len);

static int validate_all_of_list(const cJSON *list, const cJSON *v, const char *path, int one, char *err,
                                size_t len)
{
    int matches = 0;
    char first[512] = "";
    const cJSON *sub;
    cJSON_ArrayForEach(sub, list)
    {
        char e2[512];
        if (validate(sub, v, path, e2, sizeof e2) == 0)
            matches++;
        else if (!*first)
            snprintf(first, sizeof first, "%s", e2);
    }
    if (matches == 0) {
        snprintf(err, len, "%s", *first ? first : "matches none of the allowed forms");
        return -1;
    }
    if (one && matches > 1)
        return fail(err, len, path, "is ambiguous (matches several forms)");
    return 0;
}

static int validate(const cJSON *s, const cJSON *v, const char *path, char *err, size_t len)
{
    if (!cJSON_IsObject(s))
        return 0;
    char msg[400];
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "type");
    if (cJSON_IsString(t) && !type_matches(t->valuestring, v)) {
        snprintf(msg, sizeof msg, "must be %s %s, got %s",
                 strchr("aeiou", t->valuestring[0]) ? "an" : "a", t->valuestring, type_name(v));
        return fail(err, len, path, msg);
    }
    if (cJSON_IsArray(t)) {
        int any = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, t) any |= cJSON_IsString(it) && type_matches(it->valuestring, v);
        if (!any) {
            snprintf(msg, sizeof msg, "has the wrong type (%s)", type_name(v));
            return fail(err, len, path, msg);
        }
    }
    const cJSON *en = cJSON_GetObjectItemCaseSensitive(s, "enum");
    if (cJSON_IsArray(en)) {
        int found = 0;
        const cJSON *it;
        cJSON_ArrayForEach(it, en) found |= cJSON_Compare(it, v, 1);
        if (!found) {
            char *allowed = cJSON_PrintUnformatted(en);
            snprintf(msg, sizeof msg, "must be one of %.300s", allowed ? allowed : "the allowed values");
            cJSON_free(allowed);
            return fail(err, len, path, msg);
        }
    }
    const cJSON *cn = cJSON_GetObjectItemCaseSensitive(s, "const");
    if (cn && !cJSON_Compare(cn, v, 1))
        return fail(err, len, path, "has the wrong value");
    if (cJSON_IsNumber(v)) {
        double x = v->valuedouble;
        const cJSON *b;
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "minimum")) && x < b->valuedouble) {
            snprintf(msg, sizeof msg, "must be at least %g, got %g", b->valuedouble, x);
            return fail(err, len, path, msg);
        }
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "maximum")) && x > b->valuedouble) {
            snprintf(msg, sizeof msg, "must be at most %g, got %g", b->valuedouble, x);
            return fail(err, len, path, msg);
        }
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMinimum")) && x <= b->valuedouble) {
            snprintf(msg, sizeof msg, "must be greater than %g, got %g", b->valuedouble, x);
            return fail(err, len, path, msg);
        }
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "exclusiveMaximum")) && x >= b->valuedouble) {
            snprintf(msg, sizeof msg, "must be less than %g, got %g", b->valuedouble, x);
            return fail(err, len, path, msg);
        }
    }
    if (cJSON_IsString(v)) {
        size_t n = strlen(v->valuestring);
        const cJSON *b;
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "minLength")) && (double)n < b->valuedouble)
            return fail(err, len, path, "is too short");
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "maxLength")) && (double)n > b->valuedouble)
            return fail(err, len, path, "is too long");
    }
    if (cJSON_IsArray(v)) {
        int n = cJSON_GetArraySize(v);
        const cJSON *b;
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "minItems")) && n < b->valuedouble) {
            snprintf(msg, sizeof msg, "needs at least %g items, got %d", b->valuedouble, n);
            return fail(err, len, path, msg);
        }
        if (cJSON_IsNumber(b = cJSON_GetObjectItemCaseSensitive(s, "maxItems")) && n > b->valuedouble) {
            snprintf(msg, sizeof msg, "takes at most %g items, got %d", b->valuedouble, n);
            return fail(err, len, path, msg);
        }
        const cJSON *items = cJSON_GetObjectItemCaseSensitive(s, "items");
        if (cJSON_IsObject(items)) {
            int i = 0;
            const cJSON *it;
            cJSON_ArrayForEach(it, v)
            {
                char sub[256];
                snprintf(sub, sizeof sub, "%s[%d]", *path ? path : "arguments", i++);
                if (validate(items, it, sub, err, len) != 0)
                    return -1;
            }
        }
    }
    if (cJSON_IsObject(v)) {
        const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
        const cJSON *req = cJSON_GetObjectItemCaseSensitive(s, "required");
        const cJSON *it;
        cJSON_ArrayForEach(it, req)
        {
            if (cJSON_IsString(it) && !cJSON_GetObjectItemCaseSensitive(v, it->valuestring)) {
                char sub[256];
                snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", it->valuestring);
                return fail(err, len, sub, "is required");
            }
        }
        const cJSON *addl = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
        cJSON_ArrayForEach(it, v)
        {
            char sub[256];
            snprintf(sub, sizeof sub, "%s%s%s", path, *path ? "." : "", it->string);
            const cJSON *ps = props ? cJSON_GetObjectItemCaseSensitive(props, it->string) : NULL;
            if (ps) {
                if (validate(ps, it, sub, err, len) != 0)
                    return -1;
            } else if (cJSON_IsFalse(addl)) {
                return fail(err, len, sub, "is not a known argument");
            } else if (cJSON_IsObject(addl) && validate(addl, it, sub, err, len) != 0) {
                return -1;
            }
        }
    }
    const cJSON *one = cJSON_GetObjectItemCaseSensitive(s, "oneOf");
    if (cJSON_IsArray(one) && validate_all_of_list(one, v, path, 1, err, len) != 0)
        return -1;
    const cJSON *any = cJSON_GetObjectItemCaseSensitive(s, "anyOf");
    if (cJSON_IsArray(any) && validate_all_of_list(any, v, path, 0, err, len) != 0)
        return -1;
    return 0;
}

int tsa_schema_validate(const cJSON *schema, const cJSON *value, char *err, size_t err_len)
{
    return validate(schema, value, "", err, err_len);
}
