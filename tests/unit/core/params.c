/* Tests of libtsa/core/params.c: typed values, JSON, and checking against a
 * kind's parameter table. */
#include <tsa/tsa.h>

#include "harness.h"
#include "models/kind.h"

TEST(typed_set_get)
{
    tsa_params *p;
    CHECK_OK(tsa_params_create(&p));
    CHECK_OK(tsa_params_set_int(p, "a", 42));
    CHECK_OK(tsa_params_set_double(p, "b", 0.25));
    CHECK_OK(tsa_params_set_str(p, "c", "aic"));
    CHECK_OK(tsa_params_set_bool(p, "d", 1));
    int64_t i = 0;
    double d = 0;
    const char *s = NULL;
    int b = 0;
    CHECK_OK(tsa_params_get_int(p, "a", &i));
    CHECK(i == 42);
    CHECK_OK(tsa_params_get_double(p, "a", &d)); /* ints read as numbers */
    CHECK(d == 42.0);
    CHECK_OK(tsa_params_get_double(p, "b", &d));
    CHECK(d == 0.25);
    CHECK_STATUS(tsa_params_get_int(p, "b", &i), TSA_EPARAM); /* 0.25 is not integral */
    CHECK_ERROR_MENTIONS("b");
    CHECK_OK(tsa_params_get_str(p, "c", &s));
    CHECK(s && strcmp(s, "aic") == 0);
    CHECK_OK(tsa_params_get_bool(p, "d", &b));
    CHECK(b == 1);
    CHECK(tsa_params_count(p) == 4);
    CHECK(strcmp(tsa_params_key(p, 2), "c") == 0);
    CHECK(tsa_params_key(p, 4) == NULL);
    CHECK(tsa_params_type(p, "b") == TSA_PARAM_DOUBLE);
    CHECK(tsa_params_type(p, "zz") == 0);
    /* Replacing keeps one entry and changes the type. */
    CHECK_OK(tsa_params_set_str(p, "a", "x"));
    CHECK(tsa_params_count(p) == 4);
    CHECK(tsa_params_type(p, "a") == TSA_PARAM_STRING);
    CHECK_OK(tsa_params_unset(p, "a"));
    CHECK(!tsa_params_has(p, "a"));
    CHECK_STATUS(tsa_params_unset(p, "a"), TSA_EPARAM);
    CHECK_STATUS(tsa_params_get_int(p, "missing", &i), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("missing");
    tsa_params_free(p);
}

TEST(bad_arguments)
{
    tsa_params *p;
    CHECK_STATUS(tsa_params_create(NULL), TSA_EINVAL);
    CHECK_OK(tsa_params_create(&p));
    CHECK_STATUS(tsa_params_set_int(p, NULL, 1), TSA_EINVAL);
    CHECK_STATUS(tsa_params_set_int(p, "", 1), TSA_EINVAL);
    CHECK_STATUS(tsa_params_set_int(NULL, "a", 1), TSA_EINVAL);
    CHECK_STATUS(tsa_params_set_double(p, "x", NAN), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("x");
    CHECK_STATUS(tsa_params_set_double(p, "x", INFINITY), TSA_EPARAM);
    CHECK_STATUS(tsa_params_set_str(p, "s", NULL), TSA_EINVAL);
    char longkey[300];
    memset(longkey, 'k', sizeof longkey - 1);
    longkey[sizeof longkey - 1] = '\0';
    CHECK_STATUS(tsa_params_set_int(p, longkey, 1), TSA_EPARAM);
    CHECK(tsa_params_count(p) == 0);
    tsa_params_free(p);
    tsa_params_free(NULL);
    CHECK(tsa_params_count(NULL) == 0);
}

TEST(json_round_trip)
{
    tsa_params *p, *q;
    CHECK_OK(tsa_params_from_json("{\"max_lags\": 8, \"ic\": \"bic\", \"x\": 0.5, \"f\": false}", &p));
    CHECK(tsa_params_type(p, "max_lags") == TSA_PARAM_INT);
    CHECK(tsa_params_type(p, "x") == TSA_PARAM_DOUBLE);
    CHECK(tsa_params_type(p, "f") == TSA_PARAM_BOOL);
    char *json;
    CHECK_OK(tsa_params_to_json(p, &json));
    CHECK_OK(tsa_params_from_json(json, &q));
    CHECK(tsa_params_count(q) == 4);
    const char *s;
    CHECK_OK(tsa_params_get_str(q, "ic", &s));
    CHECK(strcmp(s, "bic") == 0);
    double x;
    CHECK_OK(tsa_params_get_double(q, "x", &x));
    CHECK(x == 0.5);
    tsa_free(json);
    tsa_params_free(p);
    tsa_params_free(q);
}

TEST(json_errors)
{
    tsa_params *p = (tsa_params *)1;
    CHECK_STATUS(tsa_params_from_json("{\"a\": ", &p), TSA_EINVAL);
    CHECK(p == NULL);
    CHECK_ERROR_MENTIONS("malformed");
    CHECK_STATUS(tsa_params_from_json("[1, 2]", &p), TSA_EINVAL);
    CHECK_STATUS(tsa_params_from_json("{\"a\": 1} trailing", &p), TSA_EINVAL);
    CHECK_STATUS(tsa_params_from_json("{\"nested\": {\"a\": 1}}", &p), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("nested");
    CHECK_STATUS(tsa_params_from_json("{\"n\": null}", &p), TSA_EPARAM);
    CHECK_ERROR_MENTIONS("n");
    CHECK_STATUS(tsa_params_from_json(NULL, &p), TSA_EINVAL);
}

static const char *const colours[] = {"red", "green", NULL};
static const tsa_param_spec specs[] = {
    {"count", TSA_PARAM_INT, 10, NULL, 1, 100, NULL, "a count"},
    {"rate", TSA_PARAM_DOUBLE, 0.5, NULL, 0, 1, NULL, "a rate"},
    {"colour", TSA_PARAM_STRING, 0, "red", 0, 0, colours, "a colour"},
    {"flag", TSA_PARAM_BOOL, 1, NULL, 0, 1, NULL, "a flag"},
};
static const tsa_kind test_kind = {.name = "testkind", .params = specs, .n_params = 4};

TEST(resolve_fills_defaults)
{
    tsa_params *r;
    CHECK_OK(tsa_params_resolve(&test_kind, NULL, &r));
    int64_t i;
    double d;
    const char *s;
    int b;
    CHECK_OK(tsa_params_get_int(r, "count", &i));
    CHECK(i == 10);
    CHECK_OK(tsa_params_get_double(r, "rate", &d));
    CHECK(d == 0.5);
    CHECK_OK(tsa_params_get_str(r, "colour", &s));
    CHECK(strcmp(s, "red") == 0);
    CHECK_OK(tsa_params_get_bool(r, "flag", &b));
    CHECK(b == 1);
    tsa_params_free(r);
}

TEST(resolve_converts_and_checks)
{
    tsa_params *g, *r;
    /* Strings from a command line and integral doubles are accepted. */
    CHECK_OK(tsa_params_from_json("{\"count\": \"64\", \"rate\": 1, \"flag\": \"false\"}", &g));
    CHECK_OK(tsa_params_resolve(&test_kind, g, &r));
    int64_t i;
    CHECK_OK(tsa_params_get_int(r, "count", &i));
    CHECK(i == 64);
    CHECK(tsa_params_type(r, "rate") == TSA_PARAM_DOUBLE);
    tsa_params_free(r);
    tsa_params_free(g);

    static const struct {
        const char *json;
        const char *key;
    } bad[] = {
        {"{\"count\": 0}", "count: must be in [1, 100], got 0"},
        {"{\"count\": 101}", "count"},
        {"{\"count\": 2.5}", "count: must be an integer"},
        {"{\"count\": \"ten\"}", "count: must be a number"},
        {"{\"count\": true}", "count"},
        {"{\"rate\": 1.5}", "rate"},
        {"{\"colour\": \"blue\"}", "colour: must be one of red, green, got 'blue'"},
        {"{\"colour\": 3}", "colour: must be a string"},
        {"{\"flag\": 2}", "flag"},
        {"{\"epochs\": 3}", "epochs: unknown parameter for kind 'testkind' (known: count, rate, colour, flag)"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        CHECK_OK(tsa_params_from_json(bad[k].json, &g));
        r = (tsa_params *)1;
        CHECK_STATUS(tsa_params_resolve(&test_kind, g, &r), TSA_EPARAM);
        CHECK(r == NULL);
        CHECK_ERROR_MENTIONS(bad[k].key);
        tsa_params_free(g);
    }
}

TEST(specs_describe_bounds)
{
    cJSON *a = tsa_param_specs_json(specs, 4);
    CHECK(cJSON_GetArraySize(a) == 4);
    cJSON *c = cJSON_GetArrayItem(a, 0);
    CHECK(strcmp(cJSON_GetObjectItem(c, "name")->valuestring, "count") == 0);
    CHECK(cJSON_GetObjectItem(c, "maximum")->valuedouble == 100);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetArrayItem(a, 2), "choices")) == 2);
    cJSON_Delete(a);
}

TEST(status_texts)
{
    CHECK(strcmp(tsa_status_name(TSA_EPARAM), "TSA_EPARAM") == 0);
    CHECK(strcmp(tsa_status_name((tsa_status)999), "TSA_E?") == 0);
    CHECK(tsa_strerror((tsa_status)-1) != NULL);
    CHECK(strcmp(tsa_strerror(TSA_OK), "success") == 0);
    for (int s = 0; s <= TSA_EVERSION; s++)
        CHECK(strlen(tsa_strerror((tsa_status)s)) > 0);
}

TEST_LIST(TEST_CASE(typed_set_get), TEST_CASE(bad_arguments), TEST_CASE(json_round_trip),
          TEST_CASE(json_errors), TEST_CASE(resolve_fills_defaults),
          TEST_CASE(resolve_converts_and_checks), TEST_CASE(specs_describe_bounds),
          TEST_CASE(status_texts))
