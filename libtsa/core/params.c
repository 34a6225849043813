/* Key/value parameters, their JSON form, and checking against a kind's table. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/kind.h"

typedef struct param_entry {
    char *key;
    tsa_param_type type;
    int64_t i;
    double d;
    char *s;
} param_entry;

struct tsa_params {
    param_entry *items;
    size_t count;
    size_t cap;
};

#define TSA_PARAM_KEY_MAX 128

TSA_API tsa_status tsa_params_create(tsa_params **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = calloc(1, sizeof **out);
    TSA_FAIL_IF(!*out, TSA_ENOMEM, "out of memory creating parameters");
    return TSA_OK;
}

TSA_API void tsa_params_free(tsa_params *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->count; i++) {
        free(p->items[i].key);
        free(p->items[i].s);
    }
    free(p->items);
    free(p);
}

static param_entry *find(const tsa_params *p, const char *key)
{
    for (size_t i = 0; i < p->count; i++)
        if (strcmp(p->items[i].key, key) == 0)
            return &p->items[i];
    return NULL;
}

static tsa_status check_key(const tsa_params *p, const char *key)
{
    TSA_FAIL_IF(!p, TSA_EINVAL, "params: must not be NULL");
    TSA_FAIL_IF(!key || !*key, TSA_EINVAL, "key: must be a non-empty string");
    TSA_FAIL_IF(strlen(key) > TSA_PARAM_KEY_MAX, TSA_EPARAM,
                "key: longer than %d bytes", TSA_PARAM_KEY_MAX);
    return TSA_OK;
}

/* Returns the entry for @key, created empty when absent. */
static tsa_status slot(tsa_params *p, const char *key, param_entry **out)
{
    param_entry *e = find(p, key);
    if (e) {
        free(e->s);
        e->s = NULL;
        *out = e;
        return TSA_OK;
    }
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 8;
        param_entry *items = realloc(p->items, cap * sizeof *items);
        TSA_FAIL_IF(!items, TSA_ENOMEM, "out of memory setting '%s'", key);
        p->items = items;
        p->cap = cap;
    }
    e = &p->items[p->count];
    memset(e, 0, sizeof *e);
    e->key = strdup(key);
    TSA_FAIL_IF(!e->key, TSA_ENOMEM, "out of memory setting '%s'", key);
    p->count++;
    *out = e;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_set_int(tsa_params *p, const char *key, int64_t value)
{
    param_entry *e = NULL;
    TSA_TRY(check_key(p, key));
    TSA_TRY(slot(p, key, &e));
    e->type = TSA_PARAM_INT;
    e->i = value;
    e->d = (double)value;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_set_double(tsa_params *p, const char *key, double value)
{
    param_entry *e = NULL;
    TSA_TRY(check_key(p, key));
    TSA_FAIL_IF(!isfinite(value), TSA_EPARAM, "%s: must be a finite number", key);
    TSA_TRY(slot(p, key, &e));
    e->type = TSA_PARAM_DOUBLE;
    e->d = value;
    e->i = 0;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_set_str(tsa_params *p, const char *key, const char *value)
{
    param_entry *e = NULL;
    TSA_TRY(check_key(p, key));
    TSA_FAIL_IF(!value, TSA_EINVAL, "%s: value must not be NULL", key);
    char *copy = strdup(value);
    TSA_FAIL_IF(!copy, TSA_ENOMEM, "out of memory setting '%s'", key);
    tsa_status rc = slot(p, key, &e);
    if (rc != TSA_OK) {
        free(copy);
        return rc;
    }
    e->type = TSA_PARAM_STRING;
    e->s = copy;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_set_bool(tsa_params *p, const char *key, int value)
{
    param_entry *e = NULL;
    TSA_TRY(check_key(p, key));
    TSA_TRY(slot(p, key, &e));
    e->type = TSA_PARAM_BOOL;
    e->i = value != 0;
    e->d = (double)e->i;
    return TSA_OK;
}

static tsa_status get(const tsa_params *p, const char *key, const param_entry **out)
{
    TSA_FAIL_IF(!p || !key, TSA_EINVAL, "params and key: must not be NULL");
    const param_entry *e = find(p, key);
    TSA_FAIL_IF(!e, TSA_EPARAM, "%s: not set", key);
    *out = e;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_get_int(const tsa_params *p, const char *key, int64_t *out)
{
    const param_entry *e = NULL;
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_TRY(get(p, key, &e));
    if (e->type == TSA_PARAM_INT || e->type == TSA_PARAM_BOOL) {
        *out = e->i;
        return TSA_OK;
    }
    if (e->type == TSA_PARAM_DOUBLE && e->d == floor(e->d) && fabs(e->d) < 9007199254740992.0) {
        *out = (int64_t)e->d;
        return TSA_OK;
    }
    return tsa_error(TSA_EPARAM, "%s: not an integer", key);
}

TSA_API tsa_status tsa_params_get_double(const tsa_params *p, const char *key, double *out)
{
    const param_entry *e = NULL;
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_TRY(get(p, key, &e));
    TSA_FAIL_IF(e->type == TSA_PARAM_STRING, TSA_EPARAM, "%s: not a number", key);
    *out = e->type == TSA_PARAM_DOUBLE ? e->d : (double)e->i;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_get_str(const tsa_params *p, const char *key, const char **out)
{
    const param_entry *e = NULL;
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_TRY(get(p, key, &e));
    TSA_FAIL_IF(e->type != TSA_PARAM_STRING, TSA_EPARAM, "%s: not a string", key);
    *out = e->s;
    return TSA_OK;
}

TSA_API tsa_status tsa_params_get_bool(const tsa_params *p, const char *key, int *out)
{
    const param_entry *e = NULL;
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    TSA_TRY(get(p, key, &e));
    if (e->type == TSA_PARAM_BOOL || (e->type == TSA_PARAM_INT && (e->i == 0 || e->i == 1))) {
        *out = (int)e->i;
        return TSA_OK;
    }
    return tsa_error(TSA_EPARAM, "%s: not a boolean", key);
}

TSA_API int tsa_params_has(const tsa_params *p, const char *key)
{
    return p && key && find(p, key) != NULL;
}

TSA_API size_t tsa_params_count(const tsa_params *p) { return p ? p->count : 0; }

TSA_API const char *tsa_params_key(const tsa_params *p, size_t i)
{
    return p && i < p->count ? p->items[i].key : NULL;
}

TSA_API tsa_param_type tsa_params_type(const tsa_params *p, const char *key)
{
    const param_entry *e = p && key ? find(p, key) : NULL;
    return e ? e->type : (tsa_param_type)0;
}

TSA_API tsa_status tsa_params_unset(tsa_params *p, const char *key)
{
    TSA_TRY(check_key(p, key));
    param_entry *e = find(p, key);
    TSA_FAIL_IF(!e, TSA_EPARAM, "%s: not set", key);
    free(e->key);
    free(e->s);
    size_t at = (size_t)(e - p->items);
    memmove(&p->items[at], &p->items[at + 1], (p->count - at - 1) * sizeof *e);
    p->count--;
    return TSA_OK;
}

tsa_status tsa_params_copy(const tsa_params *p, tsa_params **out)
{
    tsa_params *c;
    TSA_TRY(tsa_params_create(&c));
    tsa_status rc = TSA_OK;
    for (size_t i = 0; i < p->count && rc == TSA_OK; i++) {
        const param_entry *e = &p->items[i];
        switch (e->type) {
        case TSA_PARAM_INT:
            rc = tsa_params_set_int(c, e->key, e->i);
            break;
        case TSA_PARAM_DOUBLE:
            rc = tsa_params_set_double(c, e->key, e->d);
            break;
        case TSA_PARAM_STRING:
            rc = tsa_params_set_str(c, e->key, e->s);
            break;
        case TSA_PARAM_BOOL:
            rc = tsa_params_set_bool(c, e->key, (int)e->i);
            break;
        }
    }
    if (rc != TSA_OK) {
        tsa_params_free(c);
        return rc;
    }
    *out = c;
    return TSA_OK;
}

/* ---- JSON --------------------------------------------------------------- */

TSA_API tsa_status tsa_params_from_json(const char *json, tsa_params **out)
{
    TSA_FAIL_IF(!out, TSA_EINVAL, "out: must not be NULL");
    *out = NULL;
    TSA_FAIL_IF(!json, TSA_EINVAL, "json: must not be NULL");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (!root) {
        size_t at = end && end >= json ? (size_t)(end - json) : 0;
        return tsa_error(TSA_EINVAL, "json: malformed near byte %zu", at);
    }
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return tsa_error(TSA_EINVAL, "json: must be an object of parameters");
    }
    tsa_params *p;
    tsa_status rc = tsa_params_create(&p);
    if (rc != TSA_OK) {
        cJSON_Delete(root);
        return rc;
    }
    for (const cJSON *it = root->child; it && rc == TSA_OK; it = it->next) {
        const char *key = it->string;
        if (cJSON_IsBool(it)) {
            rc = tsa_params_set_bool(p, key, cJSON_IsTrue(it));
        } else if (cJSON_IsNumber(it)) {
            double v = it->valuedouble;
            if (v == floor(v) && fabs(v) < 9007199254740992.0)
                rc = tsa_params_set_int(p, key, (int64_t)v);
            else
                rc = tsa_params_set_double(p, key, v);
        } else if (cJSON_IsString(it)) {
            rc = tsa_params_set_str(p, key, it->valuestring);
        } else {
            rc = tsa_error(TSA_EPARAM, "%s: must be a number, string or boolean",
                           key ? key : "(key)");
        }
    }
    cJSON_Delete(root);
    if (rc != TSA_OK) {
        tsa_params_free(p);
        return rc;
    }
    *out = p;
    return TSA_OK;
}

static cJSON *params_to_cjson(const tsa_params *p)
{
    cJSON *obj = cJSON_CreateObject();
    if (!obj)
        return NULL;
    for (size_t i = 0; p && i < p->count; i++) {
        const param_entry *e = &p->items[i];
        cJSON *v = NULL;
        switch (e->type) {
        case TSA_PARAM_INT:
            v = cJSON_CreateNumber((double)e->i);
            break;
        case TSA_PARAM_DOUBLE:
            v = cJSON_CreateNumber(e->d);
            break;
        case TSA_PARAM_STRING:
            v = cJSON_CreateString(e->s);
            break;
        case TSA_PARAM_BOOL:
            v = cJSON_CreateBool(e->i != 0);
            break;
        }
        if (!v || !cJSON_AddItemToObject(obj, e->key, v)) {
            cJSON_Delete(v);
            cJSON_Delete(obj);
            return NULL;
        }
    }
    return obj;
}

cJSON *tsa_params_cjson(const tsa_params *p) { return params_to_cjson(p); }

TSA_API tsa_status tsa_params_to_json(const tsa_params *p, char **json)
{
    TSA_FAIL_IF(!p || !json, TSA_EINVAL, "params and json: must not be NULL");
    cJSON *obj = params_to_cjson(p);
    TSA_FAIL_IF(!obj, TSA_ENOMEM, "out of memory serialising parameters");
    char *s = cJSON_PrintUnformatted(obj);
    cJSON_Delete(obj);
    TSA_FAIL_IF(!s, TSA_ENOMEM, "out of memory serialising parameters");
    /* cJSON allocates with malloc by default; copy so tsa_free() is right
     * whatever hooks cJSON was built with. */
    char *copy = strdup(s);
    cJSON_free(s);
    TSA_FAIL_IF(!copy, TSA_ENOMEM, "out of memory serialising parameters");
    *json = copy;
    return TSA_OK;
}

/* ---- checking against a kind's table ------------------------------------ */

static const tsa_param_spec *spec_find(const tsa_kind *kind, const char *key)
{
    for (size_t i = 0; i < kind->n_params; i++)
        if (strcmp(kind->params[i].name, key) == 0)
            return &kind->params[i];
    return NULL;
}

static tsa_status unknown_key(const tsa_kind *kind, const char *key)
{
    char known[512];
    size_t at = 0;
    known[0] = '\0';
    for (size_t i = 0; i < kind->n_params && at < sizeof known; i++) {
        int n = snprintf(known + at, sizeof known - at, "%s%s", i ? ", " : "",
                         kind->params[i].name);
        if (n < 0)
            break;
        at += (size_t)n;
    }
    return tsa_error(TSA_EPARAM, "%s: unknown parameter for kind '%s' (known: %s)", key,
                     kind->name, known);
}

/* Parses a whole string as a number; 0 on success. */
static int parse_number(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s))
        return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno || !isfinite(v))
        return -1;
    *out = v;
    return 0;
}

static tsa_status resolve_one(const tsa_param_spec *sp, const param_entry *e, tsa_params *out)
{
    const char *key = sp->name;
    double v = 0;
    switch (sp->type) {
    case TSA_PARAM_INT:
    case TSA_PARAM_DOUBLE:
        if (e->type == TSA_PARAM_STRING) {
            TSA_FAIL_IF(parse_number(e->s, &v) != 0, TSA_EPARAM,
                        "%s: must be a number, got '%s'", key, e->s);
        } else if (e->type == TSA_PARAM_BOOL) {
            return tsa_error(TSA_EPARAM, "%s: must be a number, got a boolean", key);
        } else {
            v = e->type == TSA_PARAM_DOUBLE ? e->d : (double)e->i;
        }
        if (sp->type == TSA_PARAM_INT) {
            TSA_FAIL_IF(v != floor(v), TSA_EPARAM, "%s: must be an integer, got %g", key, v);
            TSA_FAIL_IF(v < sp->min || v > sp->max, TSA_EPARAM,
                        "%s: must be in [%.17g, %.17g], got %.17g", key, sp->min, sp->max, v);
            int64_t iv = e->type == TSA_PARAM_INT ? e->i : (int64_t)v;
            return tsa_params_set_int(out, key, iv);
        }
        TSA_FAIL_IF(!(v >= sp->min && v <= sp->max), TSA_EPARAM,
                    "%s: must be in [%g, %g], got %g", key, sp->min, sp->max, v);
        return tsa_params_set_double(out, key, v);
    case TSA_PARAM_BOOL:
        if (e->type == TSA_PARAM_BOOL || (e->type == TSA_PARAM_INT && (e->i == 0 || e->i == 1)))
            return tsa_params_set_bool(out, key, (int)e->i);
        if (e->type == TSA_PARAM_STRING) {
            if (!strcmp(e->s, "true") || !strcmp(e->s, "1"))
                return tsa_params_set_bool(out, key, 1);
            if (!strcmp(e->s, "false") || !strcmp(e->s, "0"))
                return tsa_params_set_bool(out, key, 0);
        }
        return tsa_error(TSA_EPARAM, "%s: must be true or false", key);
    case TSA_PARAM_STRING:
        TSA_FAIL_IF(e->type != TSA_PARAM_STRING, TSA_EPARAM, "%s: must be a string", key);
        if (sp->choices) {
            for (const char *const *c = sp->choices; *c; c++)
                if (strcmp(*c, e->s) == 0)
                    return tsa_params_set_str(out, key, e->s);
            char allowed[256];
            size_t at = 0;
            allowed[0] = '\0';
            for (const char *const *c = sp->choices; *c && at < sizeof allowed; c++) {
                int n = snprintf(allowed + at, sizeof allowed - at, "%s%s",
                                 c == sp->choices ? "" : ", ", *c);
                if (n < 0)
                    break;
                at += (size_t)n;
            }
            return tsa_error(TSA_EPARAM, "%s: must be one of %s, got '%.64s'", key, allowed, e->s);
        }
        return tsa_params_set_str(out, key, e->s);
    }
    return tsa_error(TSA_EPARAM, "%s: unsupported type", key);
}

static tsa_status set_default(const tsa_param_spec *sp, tsa_params *out)
{
    switch (sp->type) {
    case TSA_PARAM_INT:
        return tsa_params_set_int(out, sp->name, (int64_t)sp->def_num);
    case TSA_PARAM_DOUBLE:
        return tsa_params_set_double(out, sp->name, sp->def_num);
    case TSA_PARAM_BOOL:
        return tsa_params_set_bool(out, sp->name, sp->def_num != 0);
    case TSA_PARAM_STRING:
        return tsa_params_set_str(out, sp->name, sp->def_str ? sp->def_str : "");
    }
    return tsa_error(TSA_EPARAM, "%s: unsupported type", sp->name);
}

tsa_status tsa_params_resolve(const tsa_kind *kind, const tsa_params *given, tsa_params **out)
{
    tsa_params *r;
    *out = NULL;
    for (size_t i = 0; given && i < given->count; i++)
        if (!spec_find(kind, given->items[i].key))
            return unknown_key(kind, given->items[i].key);
    TSA_TRY(tsa_params_create(&r));
    tsa_status rc = TSA_OK;
    for (size_t i = 0; i < kind->n_params && rc == TSA_OK; i++) {
        const tsa_param_spec *sp = &kind->params[i];
        const param_entry *e = given ? find(given, sp->name) : NULL;
        rc = e ? resolve_one(sp, e, r) : set_default(sp, r);
    }
    if (rc != TSA_OK) {
        tsa_params_free(r);
        return rc;
    }
    *out = r;
    return TSA_OK;
}

cJSON *tsa_param_specs_json(const tsa_param_spec *specs, size_t n)
{
    static const char *const type_names[] = {"", "int", "double", "string", "bool"};
    cJSON *arr = cJSON_CreateArray();
    for (size_t i = 0; arr && i < n; i++) {
        const tsa_param_spec *sp = &specs[i];
        cJSON *o = cJSON_CreateObject();
        if (!o || !cJSON_AddItemToArray(arr, o)) {
            cJSON_Delete(o);
            cJSON_Delete(arr);
            return NULL;
        }
        cJSON_AddStringToObject(o, "name", sp->name);
        cJSON_AddStringToObject(o, "type", type_names[sp->type]);
        switch (sp->type) {
        case TSA_PARAM_INT:
        case TSA_PARAM_DOUBLE:
            cJSON_AddNumberToObject(o, "default", sp->def_num);
            cJSON_AddNumberToObject(o, "minimum", sp->min);
            cJSON_AddNumberToObject(o, "maximum", sp->max);
            break;
        case TSA_PARAM_BOOL:
            cJSON_AddBoolToObject(o, "default", sp->def_num != 0);
            break;
        case TSA_PARAM_STRING:
            cJSON_AddStringToObject(o, "default", sp->def_str ? sp->def_str : "");
            if (sp->choices) {
                cJSON *c = cJSON_AddArrayToObject(o, "choices");
                for (const char *const *s = sp->choices; c && *s; s++)
                    cJSON_AddItemToArray(c, cJSON_CreateString(*s));
            }
            break;
        }
        cJSON_AddStringToObject(o, "description", sp->description ? sp->description : "");
    }
    return arr;
}

/* Typed reads of a resolved model's parameters: the key exists with the
 * table's type, so failures are programming errors and give neutral values. */
int64_t tsa_param_int(const tsa_model *m, const char *key)
{
    const param_entry *e = find(m->params, key);
    return e ? (e->type == TSA_PARAM_DOUBLE ? (int64_t)e->d : e->i) : 0;
}

double tsa_param_double(const tsa_model *m, const char *key)
{
    const param_entry *e = find(m->params, key);
    return e ? (e->type == TSA_PARAM_DOUBLE ? e->d : (double)e->i) : 0.0;
}

const char *tsa_param_str(const tsa_model *m, const char *key)
{
    const param_entry *e = find(m->params, key);
    return e && e->type == TSA_PARAM_STRING ? e->s : "";
}

int tsa_param_bool(const tsa_model *m, const char *key)
{
    const param_entry *e = find(m->params, key);
    return e ? e->i != 0 : 0;
}
