/* What store.c needs from a database: connect, run one parameterised
 * statement, run a DDL script, and say whether a connection is still fit for
 * reuse. store.c writes every query once with $1..$n placeholders (SQLite
 * reads them as named parameters "$1"...), keeps the pool and transactions,
 * and the backends translate values and errors. */
#ifndef TSA_SERVERS_STORE_BACKEND_H
#define TSA_SERVERS_STORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#if defined(__GNUC__)
#define TSA_STORE_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define TSA_STORE_PRINTF(fmt, args)
#endif

typedef enum { DB_INT, DB_REAL, DB_TEXT, DB_BLOB, DB_NULL } db_type;

/* A statement parameter. The type is kept on NULLs so PostgreSQL need not
 * infer it. */
typedef struct db_val {
    db_type type;
    int null;
    int64_t i;
    double d;
    const void *p; /* TEXT: NUL-terminated; BLOB: n bytes */
    size_t n;
} db_val;

/* A result cell: TEXT and BLOB values are malloc'ed copies (TEXT
 * NUL-terminated, BLOB too for convenience), which store.c may take over. */
typedef struct db_cell {
    db_type type; /* DB_NULL for SQL NULL */
    int64_t i;
    double d;
    char *p;
    size_t n;
} db_cell;

/* A fully read result: rows x cols cells, row-major. */
typedef struct db_res {
    size_t rows, cols;
    db_cell *cells;
} db_res;

#define DB_MAX_PARAMS 24

typedef struct db_conn db_conn;

typedef struct db_backend {
    const char *name;
    /* Opens a connection to @target (a file path or a libpq URI). */
    tsa_store_status (*connect)(const char *target, const tsa_store_options *opt,
                                db_conn **out, char *err);
    void (*close)(db_conn *c);
    /* Runs one statement. @res (may be NULL: rows are discarded) is filled
     * on success; @changes (may be NULL) receives the rows affected. */
    tsa_store_status (*exec)(db_conn *c, const char *sql, const db_val *params,
                             size_t n, db_res *res, int64_t *changes, char *err);
    /* Runs several ';'-separated statements without parameters. */
    tsa_store_status (*script)(db_conn *c, const char *sql, char *err);
    /* Non-zero when the connection is lost or not idle (an open transaction
     * after COMMIT/ROLLBACK): it must be closed, not pooled. */
    int (*broken)(db_conn *c);
} db_backend;

extern const db_backend tsa_store_sqlite_backend;
extern const db_backend tsa_store_pg_backend;

/* Writes a message to @err (may be NULL) and returns @st. */
tsa_store_status tsa_store_fail(char *err, tsa_store_status st, const char *fmt, ...)
    TSA_STORE_PRINTF(3, 4);

/* @n bytes as 2n lowercase hex digits and a NUL, into @out. */
void tsa_store_hex(const unsigned char *p, size_t n, char *out);

/* Frees every cell and zeroes @r. */
void tsa_store_res_clear(db_res *r);

/* Allocates rows x cols NULL cells; -1 on allocation failure. */
int tsa_store_res_alloc(db_res *r, size_t rows, size_t cols);

#endif
