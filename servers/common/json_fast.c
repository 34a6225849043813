/* Fast JSON parsing and printing into and from cJSON trees (see
 * json_fast.h). cJSON reads every number through localeconv and strtod and
 * prints each one with sprintf, sscanf and often sprintf again; these paths
 * do the same work with a correctly rounded decimal conversion and one
 * snprintf, and fall back to cJSON for everything they do not cover. */
#include "json_fast.h"

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- decimal to double -------------------------------------------------------
 * Clinger's fast path (W. D. Clinger, "How to read floating point numbers
 * accurately", PLDI 1990): a mantissa below 2^53 times or over an exact power
 * of ten up to 1e22 is one correctly rounded IEEE operation. Mantissas up to
 * 2^64 (17-19 digits, as printed by %.17g) with powers up to 1e27 are done in
 * x87 extended precision, where both are exact and the one operation rounds
 * correctly to 64 bits; rounding that to 53 bits is then correct unless the
 * 64-bit result lies exactly on a midpoint of the double grid (the midpoints
 * are on the 64-bit grid, so no other midpoint can separate it from the
 * exact value). That case and all others go to strtod. */

static const double pow10d[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

#if LDBL_MANT_DIG == 64 && (defined(__x86_64__) || defined(__i386__))
#define HAVE_X87 1
static const long double pow10l[] = {
    1e0L,  1e1L,  1e2L,  1e3L,  1e4L,  1e5L,  1e6L,  1e7L,  1e8L,  1e9L,
    1e10L, 1e11L, 1e12L, 1e13L, 1e14L, 1e15L, 1e16L, 1e17L, 1e18L, 1e19L,
    1e20L, 1e21L, 1e22L, 1e23L, 1e24L, 1e25L, 1e26L, 1e27L};
#endif

static double slow_strtod(const char *s, size_t n)
{
    char buf[128];
    if (n >= sizeof buf) {
        char *copy = malloc(n + 1);
        if (!copy)
            return strtod(s, NULL); /* the text ends in a non-number byte */
        memcpy(copy, s, n);
        copy[n] = '\0';
        double d = strtod(copy, NULL);
        free(copy);
        return d;
    }
    memcpy(buf, s, n);
    buf[n] = '\0';
    return strtod(buf, NULL);
}

double tsa_json_strtod(const char *s, size_t n)
{
    const char *p = s, *end = s + n;
    int neg = 0;
    if (p < end && *p == '-') {
        neg = 1;
        p++;
    }
    uint64_t m = 0;
    int digits = 0, exp10 = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (digits < 19) {
            m = m * 10 + (uint64_t)(*p - '0');
            if (m)
                digits++;
        } else {
            return slow_strtod(s, n);
        }
    }
    if (p < end && *p == '.') {
        for (p++; p < end && *p >= '0' && *p <= '9'; p++) {
            if (digits >= 19)
                return slow_strtod(s, n);
            m = m * 10 + (uint64_t)(*p - '0');
            if (m)
                digits++;
            exp10--;
        }
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        int eneg = 0, e = 0;
        if (p < end && (*p == '+' || *p == '-'))
            eneg = *p++ == '-';
        for (; p < end && *p >= '0' && *p <= '9'; p++) {
            if (e > 10000)
                return slow_strtod(s, n);
            e = e * 10 + (*p - '0');
        }
        exp10 += eneg ? -e : e;
    }
    double d;
    if (m == 0) {
        d = 0.0;
    } else if (m < (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        d = exp10 < 0 ? (double)m / pow10d[-exp10] : (double)m * pow10d[exp10];
#ifdef HAVE_X87
    } else if (exp10 >= -27 && exp10 <= 27) {
        long double q = exp10 < 0 ? (long double)m / pow10l[-exp10] : (long double)m * pow10l[exp10];
        uint64_t mant;
        memcpy(&mant, &q, sizeof mant); /* the explicit 64-bit significand */
        if ((mant & 0x7ff) == 0x400)
            return slow_strtod(s, n);
        d = (double)q;
#endif
    } else {
        return slow_strtod(s, n);
    }
    return neg ? -d : d;
}

/* ---- parse ------------------------------------------------------------------- */

#define FAST_MAX_DEPTH 256

typedef struct parser {
    const char *p, *end;
    int depth;
} parser;

static void skip_ws(parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\r' || *ps->p == '\t'))
        ps->p++;
}

/* A string body after its opening quote; NULL outside the fast subset. */
static char *parse_str(parser *ps)
{
    const char *start = ps->p;
    size_t escapes = 0;
    const char *q = start;
    for (;; q++) {
        if (q >= ps->end)
            return NULL;
        unsigned char c = (unsigned char)*q;
        if (c == '"')
            break;
        if (c < 0x20)
            return NULL;
        if (c == '\\') {
            if (q + 1 >= ps->end || !strchr("\"\\/bfnrt", q[1]) || !q[1])
                return NULL;
            escapes++;
            q++;
        }
    }
    size_t n = (size_t)(q - start) - escapes;
    char *out = cJSON_malloc(n + 1);
    if (!out)
        return NULL;
    if (!escapes) {
        memcpy(out, start, n);
    } else {
        char *o = out;
        for (const char *r = start; r < q; r++) {
            if (*r != '\\') {
                *o++ = *r;
                continue;
            }
            r++;
            switch (*r) {
            case 'b': *o++ = '\b'; break;
            case 'f': *o++ = '\f'; break;
            case 'n': *o++ = '\n'; break;
            case 'r': *o++ = '\r'; break;
            case 't': *o++ = '\t'; break;
            default: *o++ = *r; break; /* " \ / */
            }
        }
    }
    out[n] = '\0';
    ps->p = q + 1;
    return out;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static cJSON *parse_val(parser *ps);

/* Links @child after @last under @parent (cJSON keeps the last child in the
 * first child's prev). */
static void append(cJSON *parent, cJSON **last, cJSON *child)
{
    if (!*last) {
        parent->child = child;
    } else {
        (*last)->next = child;
        child->prev = *last;
    }
    *last = child;
    parent->child->prev = child;
}

static cJSON *parse_container(parser *ps, int object)
{
    if (++ps->depth > FAST_MAX_DEPTH)
        return NULL;
    cJSON *item = object ? cJSON_CreateObject() : cJSON_CreateArray();
    if (!item)
        return NULL;
    cJSON *last = NULL;
    const char close = object ? '}' : ']';
    ps->p++; /* [ or { */
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        ps->depth--;
        return item;
    }
    for (;;) {
        char *key = NULL;
        if (object) {
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != '"')
                goto fail;
            ps->p++;
            if (!(key = parse_str(ps)))
                goto fail;
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                cJSON_free(key);
                goto fail;
            }
            ps->p++;
        }
        cJSON *v = parse_val(ps);
        if (!v) {
            cJSON_free(key);
            goto fail;
        }
        v->string = key;
        append(item, &last, v);
        skip_ws(ps);
        if (ps->p >= ps->end)
            goto fail;
        if (*ps->p == ',') {
            ps->p++;
            continue;
        }
        if (*ps->p != close)
            goto fail;
        ps->p++;
        ps->depth--;
        return item;
    }
fail:
    cJSON_Delete(item);
    return NULL;
}

static cJSON *parse_val(parser *ps)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return NULL;
    const char *p = ps->p;
    size_t left = (size_t)(ps->end - p);
    switch (*p) {
    case '{':
        return parse_container(ps, 1);
    case '[':
        return parse_container(ps, 0);
    case '"': {
        ps->p++;
        char *s = parse_str(ps);
        if (!s)
            return NULL;
        cJSON *item = cJSON_CreateNull();
        if (!item) {
            cJSON_free(s);
            return NULL;
        }
        item->type = cJSON_String;
        item->valuestring = s;
        return item;
    }
    case 't': {
        if (left < 4 || memcmp(p, "true", 4))
            return NULL;
        ps->p += 4;
        cJSON *t = cJSON_CreateTrue();
        if (t)
            t->valueint = 1; /* as cJSON's parser sets it */
        return t;
    }
    case 'f':
        if (left < 5 || memcmp(p, "false", 5))
            return NULL;
        ps->p += 5;
        return cJSON_CreateFalse();
    case 'n':
        if (left < 4 || memcmp(p, "null", 4))
            return NULL;
        ps->p += 4;
        return cJSON_CreateNull();
    default:
        break;
    }
    /* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
    const char *q = p;
    if (q < ps->end && *q == '-')
        q++;
    if (q >= ps->end || !is_digit(*q))
        return NULL;
    if (*q == '0')
        q++;
    else
        while (q < ps->end && is_digit(*q))
            q++;
    if (q < ps->end && *q == '.') {
        q++;
        if (q >= ps->end || !is_digit(*q))
            return NULL;
        while (q < ps->end && is_digit(*q))
            q++;
    }
    if (q < ps->end && (*q == 'e' || *q == 'E')) {
        q++;
        if (q < ps->end && (*q == '+' || *q == '-'))
            q++;
        if (q >= ps->end || !is_digit(*q))
            return NULL;
        while (q < ps->end && is_digit(*q))
            q++;
    }
    /* cJSON reads at most 63 bytes of a number, and reads on through the
     * bytes a number may hold ("1.2.3", "01"): leave those to it. */
    if (q - p > 63 || (q < ps->end && strchr("0123456789+-eE.", *q) && *q))
        return NULL;
    double d = tsa_json_strtod(p, (size_t)(q - p));
    ps->p = q;
    return cJSON_CreateNumber(d);
}

cJSON *tsa_json_parse_fast(const char *s, size_t len)
{
    if (!s || !len || (unsigned char)s[0] == 0xEF) /* a byte-order mark: cJSON's */
        return NULL;
    parser ps = {s, s + len, 0};
    cJSON *item = parse_val(&ps);
    if (!item)
        return NULL;
    skip_ws(&ps);
    if (ps.p != ps.end) {
        cJSON_Delete(item);
        return NULL;
    }
    return item;
}

/* ---- print ------------------------------------------------------------------- */

static int grow(tsa_jbuf *b, size_t more)
{
    if (b->oom)
        return -1;
    if (b->len + more + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more + 1)
        cap *= 2;
    char *g = realloc(b->s, cap);
    if (!g) {
        b->oom = 1;
        return -1;
    }
    b->s = g;
    b->cap = cap;
    return 0;
}

void tsa_jbuf_raw(tsa_jbuf *b, const char *s, size_t n)
{
    if (grow(b, n) != 0)
        return;
    memcpy(b->s + b->len, s, n);
    b->len += n;
    b->s[b->len] = '\0';
}

void tsa_jbuf_str(tsa_jbuf *b, const char *s)
{
    if (!s) {
        tsa_jbuf_raw(b, "\"\"", 2);
        return;
    }
    size_t n = strlen(s);
    if (grow(b, 6 * n + 2) != 0)
        return;
    char *o = b->s + b->len;
    *o++ = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p > 31 && *p != '"' && *p != '\\') {
            *o++ = (char)*p;
            continue;
        }
        *o++ = '\\';
        switch (*p) {
        case '\\': *o++ = '\\'; break;
        case '"': *o++ = '"'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        default:
            o += snprintf(o, 6, "u%04x", *p);
            break;
        }
    }
    *o++ = '"';
    b->len = (size_t)(o - b->s);
    b->s[b->len] = '\0';
}

/* ---- double to decimal ---------------------------------------------------------
 * "%1.<prec>g" for prec 15 and 17 without printf: the digits are
 * round(|d| * 10^k) for the k that gives prec digits. In x87 extended
 * precision the product (or quotient) with an exact power of ten up to 1e27
 * is one correctly rounded operation; the half-integers that decide the
 * rounding lie on the 64-bit grid, so the integer nearest the 64-bit result
 * is the integer nearest the exact value unless the result is itself a
 * half-integer. That case, larger exponents and other machines use
 * snprintf. */

#ifdef HAVE_X87
static const uint64_t pow10u[] = {1ULL,
                                  10ULL,
                                  100ULL,
                                  1000ULL,
                                  10000ULL,
                                  100000ULL,
                                  1000000ULL,
                                  10000000ULL,
                                  100000000ULL,
                                  1000000000ULL,
                                  10000000000ULL,
                                  100000000000ULL,
                                  1000000000000ULL,
                                  10000000000000ULL,
                                  100000000000000ULL,
                                  1000000000000000ULL,
                                  10000000000000000ULL,
                                  100000000000000000ULL};

/* Scales @a by 10^@k in extended precision; 0 when |k| is out of range. */
static long double scale10(double a, int k)
{
    if (k > 27 || k < -27)
        return 0;
    return k >= 0 ? (long double)a * pow10l[k] : (long double)a / pow10l[-k];
}

static int fmt_g_fast(char *out, double d, int prec)
{
    double a = fabs(d);
    int x = (int)floor(log10(a));
    long double lo = (long double)pow10u[prec - 1], hi = (long double)pow10u[prec];
    long double q = scale10(a, prec - 1 - x);
    if (q != 0 && q < lo)
        q = scale10(a, prec - 1 - --x);
    else if (q >= hi)
        q = scale10(a, prec - 1 - ++x);
    if (q < lo || q >= hi)
        return -1;
    long double fl = floorl(q);
    if (q - fl == 0.5L)
        return -1; /* a tie or a near one: let printf decide */
    uint64_t n = (uint64_t)(q + 0.5L);
    if (n == pow10u[prec]) {
        n = pow10u[prec - 1];
        x++;
    }
    char dig[20];
    for (int i = prec - 1; i >= 0; i--) {
        dig[i] = (char)('0' + n % 10);
        n /= 10;
    }
    int nd = prec; /* significant digits left after stripping zeros */
    while (nd > 1 && dig[nd - 1] == '0')
        nd--;
    char *o = out;
    if (signbit(d))
        *o++ = '-';
    if (x < -4 || x >= prec) {
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            memcpy(o, dig + 1, (size_t)nd - 1);
            o += nd - 1;
        }
        *o++ = 'e';
        *o++ = x < 0 ? '-' : '+';
        unsigned ex = (unsigned)(x < 0 ? -x : x);
        if (ex >= 100)
            *o++ = (char)('0' + ex / 100);
        *o++ = (char)('0' + ex / 10 % 10);
        *o++ = (char)('0' + ex % 10);
    } else if (x >= 0) {
        memcpy(o, dig, (size_t)x + 1);
        o += x + 1;
        if (nd > x + 1) {
            *o++ = '.';
            memcpy(o, dig + x + 1, (size_t)(nd - x - 1));
            o += nd - x - 1;
        }
    } else {
        *o++ = '0';
        *o++ = '.';
        for (int i = 0; i < -x - 1; i++)
            *o++ = '0';
        memcpy(o, dig, (size_t)nd);
        o += nd;
    }
    *o = '\0';
    return (int)(o - out);
}
#endif

int tsa_json_fmt_g(char *out, size_t cap, double d, int prec)
{
#ifdef HAVE_X87
    if (cap >= 32 && (prec == 15 || prec == 17) && isfinite(d) && d != 0) {
        int n = fmt_g_fast(out, d, prec);
        if (n > 0)
            return n;
    }
#endif
    return snprintf(out, cap, "%1.*g", prec, d);
}

/* cJSON's test that %.15g gave the number back. */
static int close_enough(double a, double b)
{
    double max = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) <= max * DBL_EPSILON;
}

void tsa_jbuf_num(tsa_jbuf *b, double d, int valueint)
{
    char buf[32];
    int n;
    if (isnan(d) || isinf(d)) {
        tsa_jbuf_raw(b, "null", 4);
        return;
    }
    if (d == (double)valueint && !(d == 0 && signbit(d))) {
        /* Integers: digits by hand, as "%d" prints them. */
        char *e = buf + sizeof buf, *o = e;
        unsigned u = valueint < 0 ? 0u - (unsigned)valueint : (unsigned)valueint;
        do {
            *--o = (char)('0' + u % 10);
            u /= 10;
        } while (u);
        if (valueint < 0)
            *--o = '-';
        tsa_jbuf_raw(b, o, (size_t)(e - o));
        return;
    }
    n = tsa_json_fmt_g(buf, sizeof buf, d, 15);
    if (n <= 0 || !close_enough(tsa_json_strtod(buf, (size_t)n), d))
        n = tsa_json_fmt_g(buf, sizeof buf, d, 17);
    if (n > 0)
        tsa_jbuf_raw(b, buf, (size_t)n);
}

void tsa_jbuf_double(tsa_jbuf *b, double d)
{
    int vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
    tsa_jbuf_num(b, d, vi);
}

static int print_item(tsa_jbuf *b, const cJSON *item)
{
    switch (item->type & 0xff) {
    case cJSON_NULL: tsa_jbuf_raw(b, "null", 4); return 0;
    case cJSON_False: tsa_jbuf_raw(b, "false", 5); return 0;
    case cJSON_True: tsa_jbuf_raw(b, "true", 4); return 0;
    case cJSON_Number: tsa_jbuf_num(b, item->valuedouble, item->valueint); return 0;
    case cJSON_Raw:
        if (!item->valuestring)
            return -1;
        tsa_jbuf_raw(b, item->valuestring, strlen(item->valuestring));
        return 0;
    case cJSON_String: tsa_jbuf_str(b, item->valuestring); return 0;
    case cJSON_Array:
    case cJSON_Object: {
        int object = (item->type & 0xff) == cJSON_Object;
        tsa_jbuf_raw(b, object ? "{" : "[", 1);
        for (const cJSON *c = item->child; c; c = c->next) {
            if (object) {
                tsa_jbuf_str(b, c->string);
                tsa_jbuf_raw(b, ":", 1);
            }
            if (print_item(b, c) != 0)
                return -1;
            if (c->next)
                tsa_jbuf_raw(b, ",", 1);
        }
        tsa_jbuf_raw(b, object ? "}" : "]", 1);
        return 0;
    }
    default:
        return -1;
    }
}

char *tsa_json_print(const cJSON *item)
{
    if (!item)
        return NULL;
    tsa_jbuf b = {0};
    if (print_item(&b, item) != 0 || b.oom || !b.s) {
        free(b.s);
        return NULL;
    }
    return b.s;
}
