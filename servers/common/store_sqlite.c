/* SQLite backend. Each pooled connection is opened in multi-thread mode
 * (SQLITE_OPEN_NOMUTEX): the pool hands it to one thread at a time. WAL lets
 * readers run beside the one writer, across processes on one machine;
 * writers take the lock up front (BEGIN IMMEDIATE in store.c) and wait up to
 * busy_timeout for it, so no transaction fails half-way on an upgrade. */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store_backend.h"

/* Prepared statements are kept per connection, keyed by their SQL text: the
 * store runs a small fixed set of statements, and parsing one costs more
 * than running it (a cached model's version check is BEGIN, one SELECT by
 * primary key, COMMIT). */
#define STMT_CACHE 32

typedef struct cached_stmt {
    char *sql;
    sqlite3_stmt *stmt;
} cached_stmt;

struct db_conn {
    sqlite3 *db;
    cached_stmt stmts[STMT_CACHE];
    size_t n_stmts, next_evict;
};

/* Memory statistics cost a global mutex on every SQLite allocation; the
 * store does not read them. Only possible before SQLite initialises. */
static pthread_once_t config_once = PTHREAD_ONCE_INIT;
static void config_sqlite(void) { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); }

/* A prepared statement for @sql, reset and unbound; from the connection's
 * cache when it was prepared before. */
static int stmt_get(db_conn *c, const char *sql, sqlite3_stmt **out)
{
    for (size_t k = 0; k < c->n_stmts; k++)
        if (!strcmp(c->stmts[k].sql, sql)) {
            *out = c->stmts[k].stmt;
            return SQLITE_OK;
        }
    sqlite3_stmt *stmt = NULL;
    int rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    char *copy = strdup(sql);
    if (!copy) { /* run uncached */
        *out = stmt;
        return SQLITE_OK;
    }
    size_t slot = c->n_stmts < STMT_CACHE ? c->n_stmts++ : c->next_evict++ % STMT_CACHE;
    if (c->stmts[slot].stmt) {
        sqlite3_finalize(c->stmts[slot].stmt);
        free(c->stmts[slot].sql);
    }
    c->stmts[slot].sql = copy;
    c->stmts[slot].stmt = stmt;
    *out = stmt;
    return SQLITE_OK;
}

/* Returns @stmt to its connection: reset, bindings cleared (they may point
 * at the caller's memory), or finalized when it was not cached. */
static void stmt_put(db_conn *c, sqlite3_stmt *stmt)
{
    for (size_t k = 0; k < c->n_stmts; k++)
        if (c->stmts[k].stmt == stmt) {
            sqlite3_reset(stmt);
            sqlite3_clear_bindings(stmt);
            return;
        }
    sqlite3_finalize(stmt);
}

/* SQLITE_BUSY/LOCKED after the busy timeout, and I/O conditions a later
 * retry may not meet (disk full, file vanished, read-only mount) are
 * "unavailable"; constraint failures map to what the caller did wrong. */
static tsa_store_status classify(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_PROTOCOL:
        return TSA_STORE_UNAVAILABLE;
    case SQLITE_CONSTRAINT:
        if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
            return TSA_STORE_CONFLICT;
        return TSA_STORE_INVALID;
    case SQLITE_TOOBIG:
    case SQLITE_MISMATCH:
    case SQLITE_RANGE:
        return TSA_STORE_INVALID;
    default:
        return TSA_STORE_ERROR;
    }
}

static tsa_store_status db_fail(sqlite3 *db, int rc, char *err, const char *what)
{
    return tsa_store_fail(err, classify(rc), "sqlite: %s: %s (%s)", what,
                          db ? sqlite3_errmsg(db) : "no connection", sqlite3_errstr(rc));
}

/* A new database file is created 0600: it holds model files and key hashes;
 * SQLite gives the -wal and -shm files the same mode. */
static tsa_store_status precreate(const char *path, char *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0)
        return tsa_store_fail(err, TSA_STORE_UNAVAILABLE, "sqlite: cannot open %s: %s",
                              path, strerror(errno));
    close(fd);
    return TSA_STORE_OK;
}

static tsa_store_status sq_connect(const char *target, const tsa_store_options *opt,
                                   db_conn **out, char *err)
{
    tsa_store_status st = precreate(target, err);
    if (st != TSA_STORE_OK)
        return st;
    pthread_once(&config_once, config_sqlite);
    db_conn *c = calloc(1, sizeof *c);
    if (!c)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
    flags |= SQLITE_OPEN_EXRESCODE;
#endif
    int rc = sqlite3_open_v2(target, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        st = db_fail(c->db, rc, err, target);
        if ((rc & 0xff) != SQLITE_NOTADB && (rc & 0xff) != SQLITE_CORRUPT)
            st = TSA_STORE_UNAVAILABLE;
        sqlite3_close(c->db);
        free(c);
        return st;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, (int)opt->busy_timeout_ms);

    /* journal_mode=WAL is persistent in the file; switching needs a brief
     * exclusive lock, which the busy timeout covers when processes start
     * together. The other pragmas are per connection. */
    sqlite3_stmt *stmt = NULL;
    /* Processes opening a new file together can get SQLITE_BUSY here
     * without the busy handler running (the switch to WAL is not a
     * transaction): retry for up to the busy timeout. */
    for (unsigned waited = 0;; waited += 50) {
        rc = sqlite3_prepare_v2(c->db, "PRAGMA journal_mode=WAL", -1, &stmt, NULL);
        if (rc == SQLITE_OK)
            rc = sqlite3_step(stmt);
        if (((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED) || waited >= opt->busy_timeout_ms)
            break;
        sqlite3_finalize(stmt);
        stmt = NULL;
        sqlite3_sleep(50);
    }
    if (rc == SQLITE_ROW) {
        const unsigned char *mode = sqlite3_column_text(stmt, 0);
        if (!mode || strcmp((const char *)mode, "wal") != 0) {
            sqlite3_finalize(stmt);
            st = tsa_store_fail(err, TSA_STORE_ERROR,
                                "sqlite: %s: cannot use WAL journal mode (got %s)",
                                target, mode ? (const char *)mode : "nothing");
            sqlite3_close(c->db);
            free(c);
            return st;
        }
        rc = SQLITE_OK;
    }
    sqlite3_finalize(stmt);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(c->db,
                          "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                          " PRAGMA trusted_schema=OFF;"
                          /* Model blobs make the WAL grow; cut it back to
                           * 64 MiB after each checkpoint. */
                          " PRAGMA journal_size_limit=67108864;",
                          NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        st = db_fail(c->db, rc, err, target);
        sqlite3_close(c->db);
        free(c);
        return st;
    }
    *out = c;
    return TSA_STORE_OK;
}

static void sq_close(db_conn *c)
{
    if (!c)
        return;
    for (size_t k = 0; k < c->n_stmts; k++) {
        sqlite3_finalize(c->stmts[k].stmt);
        free(c->stmts[k].sql);
    }
    sqlite3_close(c->db);
    free(c);
}

static int read_row(sqlite3_stmt *stmt, db_cell *cells, int cols)
{
    for (int k = 0; k < cols; k++) {
        db_cell *cell = &cells[k];
        switch (sqlite3_column_type(stmt, k)) {
        case SQLITE_INTEGER:
            cell->type = DB_INT;
            cell->i = sqlite3_column_int64(stmt, k);
            cell->d = (double)cell->i;
            break;
        case SQLITE_FLOAT:
            cell->type = DB_REAL;
            cell->d = sqlite3_column_double(stmt, k);
            cell->i = (int64_t)cell->d;
            break;
        case SQLITE_TEXT:
        case SQLITE_BLOB: {
            int is_text = sqlite3_column_type(stmt, k) == SQLITE_TEXT;
            const void *src = is_text ? (const void *)sqlite3_column_text(stmt, k)
                                      : sqlite3_column_blob(stmt, k);
            size_t n = (size_t)sqlite3_column_bytes(stmt, k);
            cell->p = malloc(n + 1);
            if (!cell->p)
                return -1;
            if (n)
                memcpy(cell->p, src, n);
            cell->p[n] = '\0';
            cell->n = n;
            cell->type = is_text ? DB_TEXT : DB_BLOB;
            break;
        }
        default:
            cell->type = DB_NULL;
            break;
        }
    }
    return 0;
}

/* Appends one row to @r, growing its cell array geometrically. */
static int push_row(db_res *r, size_t *cap, sqlite3_stmt *stmt, int cols)
{
    if (r->rows == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        db_cell *cells = realloc(r->cells, ncap * (size_t)cols * sizeof *cells);
        if (!cells)
            return -1;
        memset(cells + *cap * (size_t)cols, 0, (ncap - *cap) * (size_t)cols * sizeof *cells);
        r->cells = cells;
        *cap = ncap;
    }
    db_cell *row = r->cells + r->rows * (size_t)cols;
    r->rows++;
    return read_row(stmt, row, cols);
}

static tsa_store_status bind_all(sqlite3 *db, sqlite3_stmt *stmt, const db_val *params,
                                 size_t n, char *err)
{
    for (size_t k = 0; k < n; k++) {
        char pname[24];
        snprintf(pname, sizeof pname, "$%zu", k + 1);
        int idx = sqlite3_bind_parameter_index(stmt, pname);
        if (idx == 0)
            continue;
        const db_val *v = &params[k];
        int rc;
        if (v->null) {
            rc = sqlite3_bind_null(stmt, idx);
        } else {
            switch (v->type) {
            case DB_INT:
                rc = sqlite3_bind_int64(stmt, idx, v->i);
                break;
            case DB_REAL:
                rc = sqlite3_bind_double(stmt, idx, v->d);
                break;
            case DB_TEXT:
                rc = sqlite3_bind_text64(stmt, idx, v->p, (sqlite3_uint64)strlen(v->p),
                                         SQLITE_STATIC, SQLITE_UTF8);
                break;
            case DB_BLOB:
                rc = sqlite3_bind_blob64(stmt, idx, v->p, (sqlite3_uint64)v->n,
                                         SQLITE_STATIC);
                break;
            default:
                rc = sqlite3_bind_null(stmt, idx);
                break;
            }
        }
        if (rc != SQLITE_OK)
            return db_fail(db, rc, err, "bind");
    }
    return TSA_STORE_OK;
}

static tsa_store_status sq_exec(db_conn *c, const char *sql, const db_val *params,
                                size_t n, db_res *res, int64_t *changes, char *err)
{
    sqlite3_stmt *stmt = NULL;
    int rc = stmt_get(c, sql, &stmt);
    if (rc != SQLITE_OK)
        return db_fail(c->db, rc, err, "prepare");
    tsa_store_status st = bind_all(c->db, stmt, params, n, err);
    if (st != TSA_STORE_OK) {
        stmt_put(c, stmt);
        return st;
    }
    int cols = sqlite3_column_count(stmt);
    db_res r = {0, (size_t)cols, NULL};
    size_t cap = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (!res || cols == 0)
            continue;
        if (push_row(&r, &cap, stmt, cols) != 0) {
            stmt_put(c, stmt);
            tsa_store_res_clear(&r);
            return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
        }
    }
    if (rc != SQLITE_DONE) {
        st = db_fail(c->db, rc, err, "step");
        stmt_put(c, stmt);
        tsa_store_res_clear(&r);
        return st;
    }
    stmt_put(c, stmt);
    if (changes)
        *changes = sqlite3_changes64(c->db);
    if (res)
        *res = r;
    else
        tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

static tsa_store_status sq_script(db_conn *c, const char *sql, char *err)
{
    int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK)
        return db_fail(c->db, rc, err, "script");
    return TSA_STORE_OK;
}

static int sq_broken(db_conn *c)
{
    return sqlite3_get_autocommit(c->db) == 0;
}

const db_backend tsa_store_sqlite_backend = {
    .name = "sqlite",
    .connect = sq_connect,
    .close = sq_close,
    .exec = sq_exec,
    .script = sq_script,
    .broken = sq_broken,
};
