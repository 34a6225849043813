/* CSV series input and timestamp text for the tsa command-line tool. */
#include "csv.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define CELL_SHOWN 40 /* characters of an offending cell quoted in messages */

const char *csv_display_name(const char *path)
{
    return strcmp(path, "-") == 0 ? "stdin" : path;
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return code;
}

int csv_read_all(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
    const char *name = csv_display_name(path);
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f)
        return fail(err, errlen, CSV_EXIT_FILE, "%s: cannot open: %s", name, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *b = malloc(cap);
    int rc = 0;
    if (!b) {
        rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory", name);
        goto done;
    }
    for (;;) {
        if (cap - n < 2) {
            if (cap > SIZE_MAX / 2) {
                rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: too large", name);
                goto done;
            }
            char *grown = realloc(b, cap * 2);
            if (!grown) {
                rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory reading %zu bytes",
                          name, n);
                goto done;
            }
            b = grown;
            cap *= 2;
        }
        size_t got = fread(b + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            if (ferror(f))
                rc = fail(err, errlen, CSV_EXIT_FILE, "%s: read failed: %s", name,
                          strerror(errno));
            break;
        }
    }
done:
    if (f != stdin)
        fclose(f);
    if (rc) {
        free(b);
        return rc;
    }
    b[n] = '\0';
    *buf = b;
    *len = n;
    return 0;
}

/* ---- timestamps ----------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant,
 * "chrono-Compatible Low-Level Date Algorithms", days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;
    const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* The inverse (Hinnant, civil_from_days). */
static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const int64_t doe = z - era * 146097;
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!isdigit((unsigned char)(*p)[i]))
            return -1;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return 0;
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : dm[m - 1];
}

int csv_parse_time(const char *s, int64_t *out, csv_time_format *fmt)
{
    if (!s || !*s)
        return -1;
    char *end;
    errno = 0;
    long long secs = strtoll(s, &end, 10);
    if (end != s && !*end && errno == 0) {
        *out = secs;
        *fmt = CSV_TIME_UNIX;
        return 0;
    }
    const char *p = s;
    int Y, M, D, h = 0, mi = 0, sec = 0;
    if (take_digits(&p, 4, &Y) || *p++ != '-' || take_digits(&p, 2, &M) || *p++ != '-' ||
        take_digits(&p, 2, &D))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > days_in_month(Y, M))
        return -1;
    csv_time_format f = CSV_TIME_DATE;
    int64_t offset = 0;
    if (*p == 'T' || *p == 't' || *p == ' ') {
        p++;
        if (take_digits(&p, 2, &h) || *p++ != ':' || take_digits(&p, 2, &mi))
            return -1;
        if (*p == ':') {
            p++;
            if (take_digits(&p, 2, &sec))
                return -1;
            if (*p == '.' || *p == ',') { /* fractions of a second are dropped */
                p++;
                if (!isdigit((unsigned char)*p))
                    return -1;
                while (isdigit((unsigned char)*p))
                    p++;
            }
        }
        if (h > 23 || mi > 59 || sec > 60)
            return -1;
        if (*p == 'Z' || *p == 'z') {
            p++;
        } else if (*p == '+' || *p == '-') {
            int sign = *p++ == '-' ? -1 : 1, oh, om = 0;
            if (take_digits(&p, 2, &oh))
                return -1;
            if (*p == ':')
                p++;
            if (isdigit((unsigned char)*p) && take_digits(&p, 2, &om))
                return -1;
            if (oh > 23 || om > 59)
                return -1;
            offset = sign * (int64_t)(oh * 3600 + om * 60);
        }
        f = CSV_TIME_DATETIME;
    }
    if (*p)
        return -1;
    *out = days_from_civil(Y, M, D) * 86400 + h * 3600 + mi * 60 + sec - offset;
    *fmt = f;
    return 0;
}

void csv_format_time(int64_t t, csv_time_format fmt, char *buf, size_t n)
{
    if (fmt != CSV_TIME_DATE && fmt != CSV_TIME_DATETIME) {
        snprintf(buf, n, "%lld", (long long)t);
        return;
    }
    int64_t days = t / 86400, rem = t % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    int64_t y;
    int m, d;
    civil_from_days(days, &y, &m, &d);
    if (fmt == CSV_TIME_DATE && rem == 0)
        snprintf(buf, n, "%04lld-%02d-%02d", (long long)y, m, d);
    else
        snprintf(buf, n, "%04lld-%02d-%02dT%02d:%02d:%02dZ", (long long)y, m, d,
                 (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
}

/* ---- cells ------------------------------------------------------------------- */

typedef struct cells {
    char **v;
    size_t n, cap;
} cells;

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        *--e = '\0';
    return s;
}

/* Splits @p line in place on commas; a cell in double quotes may hold
 * commas, and "" inside it stands for one quote (RFC 4180). */
static int split(char *line, cells *c)
{
    c->n = 0;
    char *p = line;
    for (;;) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 64;
            char **grown = realloc(c->v, cap * sizeof *grown);
            if (!grown)
                return -1;
            c->v = grown;
            c->cap = cap;
        }
        while (*p == ' ' || *p == '\t')
            p++;
        char *cell = p, *next;
        if (*p == '"') {
            char *w = ++p;
            cell = w;
            while (*p && !(*p == '"' && p[1] != '"')) {
                if (*p == '"')
                    p++;
                *w++ = *p++;
            }
            if (*p == '"')
                p++;
            next = strchr(p, ',');
            *w = '\0';
        } else {
            next = strchr(p, ',');
            if (next)
                *next = '\0';
            cell = trim(cell);
        }
        c->v[c->n++] = cell;
        if (!next)
            return 0;
        p = next + 1;
    }
}

static int is_missing(const char *s)
{
    static const char *const words[] = {"na", "nan", "n/a", "null", "none", "-nan", "+nan"};
    if (!*s)
        return 1;
    for (size_t i = 0; i < sizeof words / sizeof *words; i++)
        if (strcasecmp(s, words[i]) == 0)
            return 1;
    return 0;
}

/* Infinite values are numbers here; libtsa rejects them unless masked. */
static int parse_number(const char *s, double *v)
{
    char *end;
    double x = strtod(s, &end);
    if (end == s || *end)
        return -1;
    *v = x;
    return 0;
}

static int name_is(const char *s, const char *const *names)
{
    for (; *names; names++)
        if (strcasecmp(s, *names) == 0)
            return 1;
    return 0;
}

static const char *const time_names[] = {"timestamp", "time", "date", "datetime", "ds", NULL};
static const char *const label_names[] = {"label", "is_anomaly", "anomaly", NULL};

/* ---- the table ------------------------------------------------------------- */

void csv_free(csv_table *t)
{
    if (!t)
        return;
    free(t->values);
    free(t->mask);
    free(t->timestamps);
    free(t->labels);
    free(t->lines);
    free(t->names);
    free(t->text);
    memset(t, 0, sizeof *t);
}

static int grow(csv_table *t, size_t *cap, size_t need, int has_time, int has_label)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap * 2 : 1024;
    while (nc < need)
        nc *= 2;
    if (nc > SIZE_MAX / sizeof(double) / (t->cols ? t->cols : 1))
        return -1;
    double *v = realloc(t->values, nc * t->cols * sizeof *v);
    if (v)
        t->values = v;
    uint8_t *mk = realloc(t->mask, nc * t->cols);
    if (mk)
        t->mask = mk;
    size_t *ln = realloc(t->lines, nc * sizeof *ln);
    if (ln)
        t->lines = ln;
    if (!v || !mk || !ln)
        return -1;
    if (has_time) {
        int64_t *ts = realloc(t->timestamps, nc * sizeof *ts);
        if (!ts)
            return -1;
        t->timestamps = ts;
    }
    if (has_label) {
        uint8_t *lb = realloc(t->labels, nc);
        if (!lb)
            return -1;
        t->labels = lb;
    }
    *cap = nc;
    return 0;
}

int csv_read(const char *path, csv_table *t, char *err, size_t errlen)
{
    memset(t, 0, sizeof *t);
    const char *name = csv_display_name(path);
    cells c = {0};
    size_t line_no = 0, cap = 0, ncells = 0, len = 0;
    int started = 0, header = 0, time_col = 0, any_iso = 0, all_date = 1, any_missing = 0;
    size_t label_col = SIZE_MAX;
    char **header_cells = NULL;
    size_t *feature_col = NULL; /* file column of each feature */
    int rc = csv_read_all(path, &t->text, &len, err, errlen);
    if (rc)
        return rc;
    if (strlen(t->text) != len) {
        rc = fail(err, errlen, CSV_EXIT_DATA, "%s: not a text file (holds NUL bytes)", name);
        goto out;
    }

    char *p = t->text;
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3; /* UTF-8 byte-order mark */

    while (*p) {
        char *line = p;
        char *nl = strchr(p, '\n');
        if (nl) {
            *nl = '\0';
            p = nl + 1;
        } else {
            p += strlen(p);
        }
        line_no++;
        size_t ll = strlen(line);
        if (ll && line[ll - 1] == '\r')
            line[--ll] = '\0';
        char *content = trim(line);
        if (!*content || *content == '#')
            continue;
        if (split(content, &c) != 0) {
            rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory", name);
            goto out;
        }

        if (!started) {
            /* A first line with any cell that is neither a number, a missing
             * mark nor (first cell) a date is a header. */
            started = 1;
            ncells = c.n;
            for (size_t i = 0; i < c.n && !header; i++) {
                double v;
                int64_t ts;
                csv_time_format tf;
                if (is_missing(c.v[i]) || parse_number(c.v[i], &v) == 0)
                    continue;
                if (i == 0 && csv_parse_time(c.v[i], &ts, &tf) == 0)
                    continue;
                header = 1;
            }
            if (header) {
                header_cells = malloc(c.n * sizeof *header_cells);
                if (!header_cells) {
                    rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory", name);
                    goto out;
                }
                memcpy(header_cells, c.v, c.n * sizeof *header_cells);
                time_col = name_is(header_cells[0], time_names);
                continue;
            }
        }

        if (c.n != ncells) {
            rc = fail(err, errlen, CSV_EXIT_DATA, "%s:%zu: %zu cells, expected %zu as in the %s",
                      name, line_no, c.n, ncells, header ? "header" : "first row");
            goto out;
        }

        if (!feature_col) {
            /* The first data row settles which columns are what. */
            double v;
            int64_t ts;
            csv_time_format tf;
            if (!time_col && c.n > 1 && parse_number(c.v[0], &v) != 0 && !is_missing(c.v[0]) &&
                csv_parse_time(c.v[0], &ts, &tf) == 0)
                time_col = 1;
            if (header)
                for (size_t i = (size_t)time_col; i < c.n; i++)
                    if (name_is(header_cells[i], label_names)) {
                        label_col = i;
                        break;
                    }
            feature_col = malloc(c.n * sizeof *feature_col);
            if (!feature_col) {
                rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory", name);
                goto out;
            }
            for (size_t i = (size_t)time_col; i < c.n; i++)
                if (i != label_col)
                    feature_col[t->cols++] = i;
            if (t->cols == 0) {
                rc = fail(err, errlen, CSV_EXIT_DATA, "%s:%zu: no value columns", name, line_no);
                goto out;
            }
            if (header) {
                t->names = malloc(t->cols * sizeof *t->names);
                if (!t->names) {
                    rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory", name);
                    goto out;
                }
                for (size_t j = 0; j < t->cols; j++)
                    t->names[j] = header_cells[feature_col[j]];
            }
        }

        if (grow(t, &cap, t->rows + 1, time_col, label_col != SIZE_MAX) != 0) {
            rc = fail(err, errlen, CSV_EXIT_OTHER, "%s: out of memory at line %zu", name,
                      line_no);
            goto out;
        }
        const size_t r = t->rows;
        t->lines[r] = line_no;
        if (time_col) {
            int64_t ts;
            csv_time_format tf;
            if (is_missing(c.v[0])) {
                rc = fail(err, errlen, CSV_EXIT_DATA, "%s:%zu: timestamp missing", name, line_no);
                goto out;
            }
            if (csv_parse_time(c.v[0], &ts, &tf) != 0) {
                rc = fail(err, errlen, CSV_EXIT_DATA,
                          "%s:%zu: column 1: not a timestamp: '%.*s' (expected integer seconds "
                          "or YYYY-MM-DD[THH:MM:SS[Z]])",
                          name, line_no, CELL_SHOWN, c.v[0]);
                goto out;
            }
            if (r > 0 && ts <= t->timestamps[r - 1]) {
                rc = fail(err, errlen, CSV_EXIT_DATA,
                          "%s:%zu: timestamp '%.*s' is not after the previous row's; "
                          "timestamps must increase strictly",
                          name, line_no, CELL_SHOWN, c.v[0]);
                goto out;
            }
            t->timestamps[r] = ts;
            if (tf != CSV_TIME_UNIX)
                any_iso = 1;
            if (tf != CSV_TIME_DATE)
                all_date = 0;
        }
        if (label_col != SIZE_MAX) {
            double v = 0;
            if (!is_missing(c.v[label_col]) && parse_number(c.v[label_col], &v) != 0) {
                rc = fail(err, errlen, CSV_EXIT_DATA,
                          "%s:%zu: column %zu ('%s'): not a 0/1 label: '%.*s'", name, line_no,
                          label_col + 1, header_cells[label_col], CELL_SHOWN, c.v[label_col]);
                goto out;
            }
            t->labels[r] = v != 0.0;
        }
        for (size_t j = 0; j < t->cols; j++) {
            const char *cell = c.v[feature_col[j]];
            double v;
            uint8_t missing = 0;
            if (is_missing(cell)) {
                v = NAN;
                missing = 1;
                any_missing = 1;
            } else if (parse_number(cell, &v) != 0) {
                rc = fail(err, errlen, CSV_EXIT_DATA,
                          "%s:%zu: column %zu%s%s%s: not a number: '%.*s'", name, line_no,
                          feature_col[j] + 1, header ? " ('" : "",
                          header ? header_cells[feature_col[j]] : "", header ? "')" : "",
                          CELL_SHOWN, cell);
                goto out;
            }
            t->values[r * t->cols + j] = v;
            t->mask[r * t->cols + j] = missing;
        }
        t->rows++;
    }

    if (t->rows == 0) {
        rc = fail(err, errlen, CSV_EXIT_DATA, "%s: no data rows", name);
        goto out;
    }
    if (!any_missing) {
        free(t->mask);
        t->mask = NULL;
    }
    if (time_col)
        t->time_format = !any_iso ? CSV_TIME_UNIX : all_date ? CSV_TIME_DATE : CSV_TIME_DATETIME;
out:
    free(c.v);
    free(header_cells);
    free(feature_col);
    if (rc)
        csv_free(t);
    return rc;
}
