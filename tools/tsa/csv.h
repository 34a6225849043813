/* CSV series input and timestamp text for the tsa command-line tool.
 *
 * A series file is comma-separated with an optional header row. The first
 * column holds timestamps when its header is timestamp/time/date/datetime/ds
 * or when its first value is an ISO-8601 date; a column whose header is
 * label/is_anomaly/anomaly holds 0/1 labels. Every other column is a feature.
 * Empty cells and NA/NaN/N/A/null mark missing values. */
#ifndef TSA_TOOL_CSV_H
#define TSA_TOOL_CSV_H

#include <stddef.h>
#include <stdint.h>

/* How timestamps are written; ordered so that the widest wins. */
typedef enum csv_time_format {
    CSV_TIME_NONE = 0,
    CSV_TIME_UNIX,     /* integer seconds since the epoch */
    CSV_TIME_DATE,     /* YYYY-MM-DD (a datetime where not at midnight) */
    CSV_TIME_DATETIME  /* YYYY-MM-DDTHH:MM:SSZ */
} csv_time_format;

/* Exit classes returned by the readers (the tool's documented exit codes). */
enum { CSV_EXIT_DATA = 3, CSV_EXIT_FILE = 5, CSV_EXIT_OTHER = 1 };

typedef struct csv_table {
    size_t rows;
    size_t cols;                 /* feature columns */
    double *values;              /* (rows, cols) row-major */
    uint8_t *mask;               /* (rows, cols), 1 = missing; NULL when none is */
    int64_t *timestamps;         /* (rows) or NULL */
    uint8_t *labels;             /* (rows) or NULL without a label column */
    size_t *lines;               /* (rows) line number of each row in the file */
    csv_time_format time_format; /* of the timestamp column, NONE without one */
    char **names;                /* (cols) feature names, or NULL without a header */
    char *text;                  /* the file's text; owns the names */
} csv_table;

/* Reads the whole of @p path ("-" = standard input) into a NUL-terminated
 * buffer. Returns 0, or CSV_EXIT_FILE / CSV_EXIT_OTHER with a message in
 * @p err. */
int csv_read_all(const char *path, char **buf, size_t *len, char *err, size_t errlen);

/* Parses a series file. Returns 0, or an exit class with "where: what" in
 * @p err (where is "file:line" for a problem on one line). */
int csv_read(const char *path, csv_table *t, char *err, size_t errlen);

/* Frees what csv_read() allocated; accepts a zeroed table. */
void csv_free(csv_table *t);

/* The file name used in messages: "stdin" for "-". */
const char *csv_display_name(const char *path);

/* Parses integer seconds or an ISO-8601 date / datetime (UTC unless an
 * offset is given) into seconds since the epoch. Returns 0 on success and
 * sets *fmt to the form it found. */
int csv_parse_time(const char *s, int64_t *out, csv_time_format *fmt);

/* Writes @p t in @p fmt into @p buf (at least 32 bytes). */
void csv_format_time(int64_t t, csv_time_format fmt, char *buf, size_t n);

#endif /* TSA_TOOL_CSV_H */
