/* PostgreSQL backend through libpq. Every statement goes through
 * PQexecParams with typed parameters (values never enter SQL text), the
 * blob in binary, and results in binary, decoded by column type. A libpq
 * connection is used by one thread at a time (the pool in store.c). */
#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store_backend.h"

/* Type OIDs from the server's pg_type catalogue; fixed since PostgreSQL 7. */
enum {
    OID_BOOL = 16,
    OID_BYTEA = 17,
    OID_INT8 = 20,
    OID_INT2 = 21,
    OID_INT4 = 23,
    OID_TEXT = 25,
    OID_FLOAT4 = 700,
    OID_FLOAT8 = 701,
};

struct db_conn {
    PGconn *pg;
};

/* libpq's default notice processor prints to stderr; the store never prints. */
static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

/* Copies @msg into @err as one line. */
static void one_line(char *dst, size_t cap, const char *msg)
{
    size_t j = 0;
    for (size_t i = 0; msg && msg[i] && j + 1 < cap; i++) {
        char ch = msg[i];
        if (ch == '\n' || ch == '\r' || ch == '\t') {
            if (msg[i + 1] == '\0')
                break;
            ch = ' ';
        }
        dst[j++] = ch;
    }
    while (j > 0 && dst[j - 1] == ' ')
        j--;
    dst[j] = '\0';
}

static tsa_store_status pg_connect(const char *target, const tsa_store_options *opt,
                                   db_conn **out, char *err)
{
    (void)opt;
    char *perr = NULL;
    PQconninfoOption *parsed = PQconninfoParse(target, &perr);
    if (!parsed) {
        char line[200];
        one_line(line, sizeof line, perr ? perr : "out of memory");
        PQfreemem(perr);
        return tsa_store_fail(err, TSA_STORE_INVALID, "postgresql: bad URL: %s", line);
    }
    PQconninfoFree(parsed);

    /* Defaults first: with expand_dbname the URI's own parameters, expanded
     * later in the list, override them. Without keepalives and a TCP user
     * timeout, a server that vanished (power loss, partition) would hold a
     * worker thread until the kernel gives up, many minutes later, instead
     * of failing UNAVAILABLE; statement_timeout bounds a stuck query, and
     * idle_in_transaction_session_timeout ends the transaction of a client
     * that stopped mid-way (a frozen or partitioned replica), so the row
     * locks it held do not stall the others. Transactions here never wait
     * on the client for long: they are a few statements each. */
    const char *keys[] = {"connect_timeout", "application_name", "keepalives_idle",
                          "keepalives_interval", "keepalives_count", "tcp_user_timeout",
                          "options", "dbname", NULL};
    const char *vals[] = {"10", "tsa", "30", "10", "3", "60000",
                          "-c statement_timeout=120000 -c idle_in_transaction_session_timeout=10000",
                          target, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (!pg)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    if (PQstatus(pg) != CONNECTION_OK) {
        char line[220];
        one_line(line, sizeof line, PQerrorMessage(pg));
        PQfinish(pg);
        return tsa_store_fail(err, TSA_STORE_UNAVAILABLE, "postgresql: cannot connect: %s",
                              line);
    }
    PQsetNoticeProcessor(pg, quiet_notice, NULL);
    db_conn *c = calloc(1, sizeof *c);
    if (!c) {
        PQfinish(pg);
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    }
    c->pg = pg;
    *out = c;
    return TSA_STORE_OK;
}

static void pg_close(db_conn *c)
{
    if (!c)
        return;
    PQfinish(c->pg);
    free(c);
}

/* SQLSTATE classes: 08 connection, 53 resources, 57 operator intervention
 * (shutdown, statement timeout), 40 rollback (deadlock, serialization) and
 * 55P03 (lock not available) are transient; 23505 is a unique key taken;
 * 22 (data) and 23 (other constraints) are bad input. */
static tsa_store_status classify(PGconn *pg, const char *state)
{
    if (PQstatus(pg) != CONNECTION_OK || !state || strlen(state) != 5)
        return TSA_STORE_UNAVAILABLE;
    if (strcmp(state, "23505") == 0)
        return TSA_STORE_CONFLICT;
    if (strcmp(state, "55P03") == 0 || strncmp(state, "08", 2) == 0 ||
        strncmp(state, "53", 2) == 0 || strncmp(state, "57", 2) == 0 ||
        strncmp(state, "40", 2) == 0)
        return TSA_STORE_UNAVAILABLE;
    if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0)
        return TSA_STORE_INVALID;
    return TSA_STORE_ERROR;
}

static tsa_store_status res_fail(db_conn *c, PGresult *res, char *err)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    char line[200];
    one_line(line, sizeof line, primary ? primary : PQerrorMessage(c->pg));
    tsa_store_status st = classify(c->pg, state);
    return tsa_store_fail(err, st, "postgresql: %s%s%s%s", line, state ? " (SQLSTATE " : "",
                          state ? state : "", state ? ")" : "");
}

static uint64_t load_be(const char *p, int len)
{
    uint64_t v = 0;
    for (int k = 0; k < len; k++)
        v = (v << 8) | (unsigned char)p[k];
    return v;
}

static int decode(PGresult *res, int row, int col, db_cell *cell)
{
    if (PQgetisnull(res, row, col)) {
        cell->type = DB_NULL;
        return 0;
    }
    const char *v = PQgetvalue(res, row, col);
    int len = PQgetlength(res, row, col);
    switch (PQftype(res, col)) {
    case OID_INT8:
    case OID_INT4:
    case OID_INT2:
    case OID_BOOL: {
        if (len != 8 && len != 4 && len != 2 && len != 1)
            return -1;
        uint64_t u = load_be(v, len);
        int shift = 64 - 8 * len; /* sign-extend */
        cell->type = DB_INT;
        cell->i = (int64_t)(u << shift) >> shift;
        cell->d = (double)cell->i;
        return 0;
    }
    case OID_FLOAT8:
    case OID_FLOAT4: {
        cell->type = DB_REAL;
        if (len == 8) {
            uint64_t u = load_be(v, 8);
            memcpy(&cell->d, &u, sizeof cell->d);
        } else if (len == 4) {
            uint32_t u = (uint32_t)load_be(v, 4);
            float f;
            memcpy(&f, &u, sizeof f);
            cell->d = f;
        } else {
            return -1;
        }
        cell->i = (int64_t)cell->d;
        return 0;
    }
    default:
        /* text, varchar, bytea: the binary form is the bytes themselves. */
        cell->type = PQftype(res, col) == OID_BYTEA ? DB_BLOB : DB_TEXT;
        cell->p = malloc((size_t)len + 1);
        if (!cell->p)
            return -1;
        if (len)
            memcpy(cell->p, v, (size_t)len);
        cell->p[len] = '\0';
        cell->n = (size_t)len;
        return 0;
    }
}

static tsa_store_status pg_exec(db_conn *c, const char *sql, const db_val *params,
                                size_t n, db_res *res, int64_t *changes, char *err)
{
    if (n > DB_MAX_PARAMS)
        return tsa_store_fail(err, TSA_STORE_ERROR, "postgresql: too many parameters");
    Oid types[DB_MAX_PARAMS];
    const char *values[DB_MAX_PARAMS];
    int lengths[DB_MAX_PARAMS];
    int formats[DB_MAX_PARAMS];
    uint64_t words[DB_MAX_PARAMS];
    for (size_t k = 0; k < n; k++) {
        const db_val *v = &params[k];
        values[k] = NULL;
        lengths[k] = 0;
        formats[k] = 1;
        switch (v->type) {
        case DB_INT:
            types[k] = OID_INT8;
            words[k] = htobe64((uint64_t)v->i);
            break;
        case DB_REAL: {
            types[k] = OID_FLOAT8;
            uint64_t u;
            memcpy(&u, &v->d, sizeof u);
            words[k] = htobe64(u);
            break;
        }
        case DB_BLOB:
            types[k] = OID_BYTEA;
            if (v->n > 0x7fffffffu)
                return tsa_store_fail(err, TSA_STORE_INVALID, "postgresql: value too large");
            lengths[k] = (int)v->n;
            values[k] = v->p ? v->p : "";
            break;
        case DB_TEXT:
        default:
            types[k] = OID_TEXT;
            formats[k] = 0;
            values[k] = v->p;
            break;
        }
        if (v->type == DB_INT || v->type == DB_REAL) {
            values[k] = (const char *)&words[k];
            lengths[k] = 8;
        }
        if (v->null)
            values[k] = NULL;
    }
    PGresult *r = PQexecParams(c->pg, sql, (int)n, types, values, lengths, formats, 1);
    ExecStatusType est = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (est != PGRES_TUPLES_OK && est != PGRES_COMMAND_OK) {
        tsa_store_status st = res_fail(c, r, err);
        PQclear(r);
        return st;
    }
    if (changes) {
        const char *t = PQcmdTuples(r);
        *changes = (t && *t) ? strtoll(t, NULL, 10) : 0;
    }
    if (res) {
        size_t rows = (size_t)PQntuples(r), cols = (size_t)PQnfields(r);
        db_res out = {0, 0, NULL};
        if (tsa_store_res_alloc(&out, rows, cols) != 0) {
            PQclear(r);
            return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
        }
        for (size_t i = 0; i < rows; i++)
            for (size_t k = 0; k < cols; k++)
                if (decode(r, (int)i, (int)k, &out.cells[i * cols + k]) != 0) {
                    PQclear(r);
                    tsa_store_res_clear(&out);
                    return tsa_store_fail(err, TSA_STORE_ERROR,
                                          "postgresql: cannot decode column %zu", k);
                }
        *res = out;
    }
    PQclear(r);
    return TSA_STORE_OK;
}

static tsa_store_status pg_script(db_conn *c, const char *sql, char *err)
{
    /* The simple query protocol runs several statements in one call. */
    PGresult *r = PQexec(c->pg, sql);
    ExecStatusType est = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (est != PGRES_COMMAND_OK && est != PGRES_TUPLES_OK) {
        tsa_store_status st = res_fail(c, r, err);
        PQclear(r);
        return st;
    }
    PQclear(r);
    return TSA_STORE_OK;
}

static int pg_broken(db_conn *c)
{
    return PQstatus(c->pg) != CONNECTION_OK || PQtransactionStatus(c->pg) != PQTRANS_IDLE;
}

const db_backend tsa_store_pg_backend = {
    .name = "postgresql",
    .connect = pg_connect,
    .close = pg_close,
    .exec = pg_exec,
    .script = pg_script,
    .broken = pg_broken,
};
