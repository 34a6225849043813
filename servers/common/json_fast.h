/* Fast paths for the JSON every request parses and prints. They build and
 * read the same cJSON trees as cJSON and print the same bytes; what they do
 * not cover is left to cJSON, so inputs cJSON rejects get cJSON's errors.
 * All functions are reentrant. */
#ifndef TSA_SERVERS_JSON_FAST_H
#define TSA_SERVERS_JSON_FAST_H

#include <cjson/cJSON.h>
#include <stddef.h>

/* Parses @len bytes of strict JSON (RFC 8259 whitespace, no \u escapes,
 * no control bytes in strings, nesting under 256, at most trailing
 * whitespace) into the tree cJSON_ParseWithLength would build. NULL when the
 * text is outside that subset or invalid, or memory ran out: parse it with
 * cJSON then. Free the result with cJSON_Delete. */
cJSON *tsa_json_parse_fast(const char *s, size_t len);

/* The text cJSON_PrintUnformatted gives for @item, byte for byte; NULL on
 * out of memory or a raw item without text. Free with free(). */
char *tsa_json_print(const cJSON *item);

/* A growing text buffer. The writers below set oom on allocation failure
 * and then do nothing. */
typedef struct tsa_jbuf {
    char *s;
    size_t len, cap;
    int oom;
} tsa_jbuf;

void tsa_jbuf_raw(tsa_jbuf *b, const char *s, size_t n);
/* @s as a quoted JSON string, escaped as cJSON escapes it. */
void tsa_jbuf_str(tsa_jbuf *b, const char *s);
/* @d as cJSON prints a number whose valueint is @valueint. */
void tsa_jbuf_num(tsa_jbuf *b, double d, int valueint);
/* @d as cJSON prints a number created with cJSON_CreateNumber(d). */
void tsa_jbuf_double(tsa_jbuf *b, double d);

/* The decimal number s[0..n) (JSON syntax) as strtod reads it, correctly
 * rounded; exported for the tests. */
double tsa_json_strtod(const char *s, size_t n);

/* snprintf(out, cap, "%1.*g", prec, d), faster for prec 15 and 17. */
int tsa_json_fmt_g(char *out, size_t cap, double d, int prec);

#endif
