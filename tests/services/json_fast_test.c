/* The services' fast JSON paths against cJSON itself: numbers read back
 * bit for bit as strtod reads them, parsed trees print as cJSON prints what
 * it parses, printed text equals cJSON_PrintUnformatted, and everything
 * outside the fast subset is left to cJSON. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "json_fast.h"

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static const double pow10d[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11};

static int same_bits(double a, double b) { return memcmp(&a, &b, sizeof a) == 0; }

/* Random JSON number text: sign, 1-22 digits, a point anywhere, an exponent
 * sometimes. */
static size_t random_number(char *buf)
{
    size_t n = 0;
    if (next() & 1)
        buf[n++] = '-';
    int digits = 1 + (int)(next() % 22);
    int point = (int)(next() % (uint64_t)(digits + 1));
    for (int i = 0; i < digits; i++) {
        if (i == point && i > 0)
            buf[n++] = '.';
        int d = (int)(next() % 10);
        if (i == 0 && d == 0 && digits > 1 && point != 1)
            d = 1 + (int)(next() % 9);
        buf[n++] = (char)('0' + d);
    }
    if (next() % 4 == 0)
        n += (size_t)sprintf(buf + n, "e%d", (int)(next() % 80) - 40);
    buf[n] = '\0';
    return n;
}

TEST(strtod_matches_libc_on_random_decimals)
{
    char buf[64];
    int bad = 0;
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        size_t n = random_number(buf);
        double want = strtod(buf, NULL), got = tsa_json_strtod(buf, n);
        if (!same_bits(want, got)) {
            CHECK_MSG(0, "%s: strtod %.17g, fast %.17g", buf, want, got);
            bad++;
        }
    }
}

TEST(strtod_matches_libc_on_printed_doubles)
{
    /* What the services print (%.17g and %.15g) must read back exactly. */
    char buf[64];
    int bad = 0;
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        uint64_t bits = next();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (!isfinite(d))
            continue;
        if (i % 2)
            d = ldexp((double)(bits >> 11), -(int)(next() % 80)); /* everyday magnitudes */
        int n = snprintf(buf, sizeof buf, i % 3 ? "%.17g" : "%.15g", d);
        double want = strtod(buf, NULL), got = tsa_json_strtod(buf, (size_t)n);
        if (!same_bits(want, got)) {
            CHECK_MSG(0, "%s: strtod %.17g, fast %.17g", buf, want, got);
            bad++;
        }
    }
    /* Ties and edges. */
    const char *cases[] = {"0", "-0", "9007199254740993", "9007199254740992.5", "1e22", "1e23",
                           "123456789012345678901234", "2.2250738585072014e-308", "4.9e-324",
                           "1.7976931348623157e308", "0.1", "0.30000000000000004", "5e-1", "1E+2",
                           "18446744073709551615", "18446744073709551616", "1e-27", "1e27",
                           "3.0435538528413915"};
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        double want = strtod(cases[k], NULL), got = tsa_json_strtod(cases[k], strlen(cases[k]));
        CHECK_MSG(same_bits(want, got), "%s: strtod %.17g, fast %.17g", cases[k], want, got);
    }
}

TEST(fmt_g_matches_printf)
{
    char a[64], b[64];
    int bad = 0;
    const double fixed[] = {1, -1, 0.5, 1e-5, 1e-4, 9.9999999999999995e-5, 1e14, 1e15, 1e16, 1e17,
                            99999999999999.99, 999999999999999.9, 0.30000000000000004, 1.0 / 3,
                            2.5, 0.125, 1e21, 1e-21, 123456789012345678.0, 3.0435538528413915,
                            0.651391999781481, 5e-324, 1.7976931348623157e308, 0.0, -0.0};
    for (int i = 0; i < 1000000 && bad < 5; i++) {
        double d;
        if (i < (int)(sizeof fixed / sizeof fixed[0])) {
            d = fixed[i];
        } else {
            uint64_t bits = next();
            memcpy(&d, &bits, sizeof d);
            if (i % 3 == 0)
                d = ldexp((double)(int64_t)bits, -(int)(next() % 160)); /* everyday magnitudes */
            else if (i % 3 == 1)
                d = (double)(int64_t)(bits % 2000000001) / pow10d[next() % 12]; /* short decimals */
            if (!isfinite(d))
                continue;
        }
        for (int prec = 15; prec <= 17; prec += 2) {
            int na = tsa_json_fmt_g(a, sizeof a, d, prec);
            int nb = snprintf(b, sizeof b, "%1.*g", prec, d);
            if (na != nb || strcmp(a, b)) {
                CHECK_MSG(0, "%%1.%dg of %a: fast %s, printf %s", prec, d, a, b);
                bad++;
            }
        }
    }
}

/* Parses @text both ways and checks the trees print alike with cJSON. */
static void check_same_tree(const char *text)
{
    cJSON *fast = tsa_json_parse_fast(text, strlen(text));
    cJSON *ref = cJSON_Parse(text);
    CHECK_MSG(fast != NULL, "fast parser refused %s", text);
    CHECK_MSG(ref != NULL, "cJSON refused %s", text);
    if (fast && ref) {
        char *a = cJSON_PrintUnformatted(fast), *b = cJSON_PrintUnformatted(ref);
        CHECK_MSG(a && b && !strcmp(a, b), "%s: fast %s, cJSON %s", text, a, b);
        /* (cJSON_Compare finds duplicate keys unequal even to themselves.) */
        cJSON *ref2 = cJSON_Parse(text);
        CHECK_MSG(cJSON_Compare(fast, ref, 1) == cJSON_Compare(ref2, ref, 1), "%s: trees differ", text);
        cJSON_Delete(ref2);
        cJSON_free(a);
        cJSON_free(b);
        /* Appending works on a parsed array or object (tail kept in child->prev). */
        cJSON *x = cJSON_Duplicate(ref, 1);
        if (cJSON_IsArray(fast) && cJSON_IsArray(x)) {
            cJSON_AddItemToArray(fast, cJSON_CreateNumber(7));
            cJSON_AddItemToArray(x, cJSON_CreateNumber(7));
            CHECK(cJSON_Compare(fast, x, 1));
        }
        cJSON_Delete(x);
    }
    cJSON_Delete(fast);
    cJSON_Delete(ref);
}

TEST(parse_builds_the_tree_cjson_builds)
{
    check_same_tree("{\"model_name\": \"m\", \"data\": [[1.5], [2.25e3], [-0.125]], \"steps_ahead\": 10}");
    check_same_tree(" [true, false, null, \"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\", {}, [], -0, 0.0, 1E-5] \n");
    check_same_tree("{\"a\":{\"a\":1},\"a\":2,\"\":\"\",\"k\\n\":[{\"x\":[[[]]]}]}");
    check_same_tree("\"caf\xc3\xa9\"");
    check_same_tree("12345678901234567890123");
    check_same_tree("3000000000");
    check_same_tree("-3000000000.5");
    const cJSON *t = tsa_json_parse_fast("[true]", 6);
    CHECK(t && t->child && cJSON_IsTrue(t->child) && t->child->valueint == 1);
    cJSON_Delete((cJSON *)t);
}

TEST(parse_leaves_the_rest_to_cjson)
{
    const char *rest[] = {"", " ", "{", "[1,]", "{\"a\"}", "{\"a\":}", "01", "1.", ".5", "+1", "1.2.3",
                          "-", "1e", "[1 2]", "tru", "nul", "\"\\u00e9\"", "\"a\nb\"", "\"\\x\"",
                          "[1]x", "\xef\xbb\xbf[1]", "[1]\f", "NaN", "{\"a\":1,}", "\"open"};
    for (size_t k = 0; k < sizeof rest / sizeof rest[0]; k++) {
        cJSON *j = tsa_json_parse_fast(rest[k], strlen(rest[k]));
        CHECK_MSG(j == NULL, "fast parser took %s", rest[k]);
        cJSON_Delete(j);
    }
    char deep[1200];
    memset(deep, '[', 600);
    memset(deep + 600, ']', 600);
    cJSON *j = tsa_json_parse_fast(deep, 1200);
    CHECK(j == NULL);
    cJSON_Delete(j);
}

static void check_print(const cJSON *item)
{
    char *a = tsa_json_print(item), *b = cJSON_PrintUnformatted(item);
    CHECK_MSG(a && b && !strcmp(a, b), "fast %s, cJSON %s", a ? a : "(null)", b ? b : "(null)");
    free(a);
    cJSON_free(b);
}

TEST(print_matches_cjson)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "s", "q\"b\\s\x01\x1f\t\n\r\b\f/\xc3\xa9");
    cJSON_AddNullToObject(o, "n");
    cJSON_AddTrueToObject(o, "t");
    cJSON_AddFalseToObject(o, "f");
    cJSON_AddItemToObject(o, "e", cJSON_CreateArray());
    cJSON_AddItemToObject(o, "eo", cJSON_CreateObject());
    cJSON_AddRawToObject(o, "r", "{\"raw\":1}");
    const double fixed[] = {0, -0.0, 1, -1, 0.1, 1.0 / 3, 1e300, -1e-300, 2147483647.0, 2147483648.0,
                            -2147483648.0, -2147483649.0, 1e15, 123456789012345678.0, 5e-324,
                            NAN, INFINITY, -INFINITY, 3.0435538528413915, 0.651391999781481};
    cJSON *a = cJSON_AddArrayToObject(o, "nums");
    for (size_t k = 0; k < sizeof fixed / sizeof fixed[0]; k++)
        cJSON_AddItemToArray(a, cJSON_CreateNumber(fixed[k]));
    check_print(o);
    cJSON_Delete(o);
    for (int i = 0; i < 200000; i++) {
        uint64_t bits = next();
        double d;
        memcpy(&d, &bits, sizeof d);
        if (i % 2)
            d = ldexp((double)(int64_t)bits, -(int)(next() % 100));
        if (i % 7 == 0)
            d = (double)(int)(bits % 100000) / 100.0;
        cJSON *n = cJSON_CreateNumber(d);
        char *x = tsa_json_print(n), *y = cJSON_PrintUnformatted(n);
        if (!(x && y && !strcmp(x, y))) {
            CHECK_MSG(0, "%.17g: fast %s, cJSON %s", d, x, y);
            i = 200000;
        }
        /* The number writer used for log lines agrees too. */
        tsa_jbuf b = {0};
        tsa_jbuf_double(&b, d);
        CHECK(b.s && y && !strcmp(b.s, y));
        free(b.s);
        free(x);
        cJSON_free(y);
        cJSON_Delete(n);
    }
}

TEST_LIST(TEST_CASE(strtod_matches_libc_on_random_decimals),
          TEST_CASE(strtod_matches_libc_on_printed_doubles), TEST_CASE(fmt_g_matches_printf),
          TEST_CASE(parse_builds_the_tree_cjson_builds), TEST_CASE(parse_leaves_the_rest_to_cjson),
          TEST_CASE(print_matches_cjson))
