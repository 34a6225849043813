/* The store: URL parsing, the connection pool, transactions, the numbered
 * migrations and every operation, written once over the db_backend
 * interface (store_backend.h). Queries are standard SQL that SQLite (>= 3.35:
 * RETURNING, upserts) and PostgreSQL (>= 9.5: ON CONFLICT, SKIP LOCKED) both
 * run; the only per-backend SQL is the DDL, the job claim and the stale-job
 * sweep. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "store_backend.h"
#include "store_crypt.h"

/* ------------------------------------------------------------------------ */
/* Status names, messages, results                                           */
/* ------------------------------------------------------------------------ */

const char *tsa_store_status_name(tsa_store_status st)
{
    switch (st) {
#define TSA_STORE_STATUS_NAME_(name, value, text)                             \
    case name:                                                                \
        return #name;
        TSA_STORE_STATUS_MAP(TSA_STORE_STATUS_NAME_)
#undef TSA_STORE_STATUS_NAME_
    }
    return "TSA_STORE_?";
}

int tsa_store_http_status(tsa_store_status st)
{
    switch (st) {
    case TSA_STORE_OK: return 200;
    case TSA_STORE_NOT_FOUND: return 404;
    case TSA_STORE_CONFLICT: return 409;
    case TSA_STORE_UNAVAILABLE: return 503;
    case TSA_STORE_INVALID: return 400;
    case TSA_STORE_FORBIDDEN: return 403;
    case TSA_STORE_ERROR: return 500;
    }
    return 500;
}

tsa_store_status tsa_store_fail(char *err, tsa_store_status st, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, TSA_STORE_ERR_LEN, fmt, ap);
        va_end(ap);
    }
    return st;
}

void tsa_store_res_clear(db_res *r)
{
    if (!r)
        return;
    if (r->cells)
        for (size_t k = 0; k < r->rows * r->cols; k++)
            free(r->cells[k].p);
    free(r->cells);
    memset(r, 0, sizeof *r);
}

int tsa_store_res_alloc(db_res *r, size_t rows, size_t cols)
{
    r->rows = rows;
    r->cols = cols;
    r->cells = NULL;
    if (rows * cols == 0)
        return 0;
    r->cells = calloc(rows * cols, sizeof *r->cells);
    if (!r->cells) {
        r->rows = 0;
        return -1;
    }
    for (size_t k = 0; k < rows * cols; k++)
        r->cells[k].type = DB_NULL;
    return 0;
}

static db_cell *cell(db_res *r, size_t row, size_t col)
{
    return &r->cells[row * r->cols + col];
}

static int64_t col_int(db_res *r, size_t row, size_t col, int64_t dflt)
{
    db_cell *c = cell(r, row, col);
    if (c->type == DB_INT || c->type == DB_REAL)
        return c->i;
    if (c->type == DB_TEXT)
        return strtoll(c->p, NULL, 10);
    return dflt;
}

static double col_real(db_res *r, size_t row, size_t col)
{
    db_cell *c = cell(r, row, col);
    if (c->type == DB_INT || c->type == DB_REAL)
        return c->d;
    return NAN;
}

/* Takes the cell's malloc'ed text (NULL for SQL NULL). */
static char *col_take(db_res *r, size_t row, size_t col)
{
    db_cell *c = cell(r, row, col);
    char *p = c->p;
    c->p = NULL;
    return p;
}

static void col_copy(db_res *r, size_t row, size_t col, char *dst, size_t cap)
{
    db_cell *c = cell(r, row, col);
    snprintf(dst, cap, "%s", c->p ? c->p : "");
}

/* Parameter constructors. */
static db_val v_int(int64_t i) { return (db_val){.type = DB_INT, .i = i}; }
static db_val v_text(const char *p) { return (db_val){.type = DB_TEXT, .p = p, .null = p == NULL}; }
static db_val v_blob(const void *p, size_t n) { return (db_val){.type = DB_BLOB, .p = p, .n = n}; }
/* SQLite turns NaN into NULL; doing so for both backends keeps them alike. */
static db_val v_real(double d) { return (db_val){.type = DB_REAL, .d = d, .null = !isfinite(d)}; }
static db_val v_null_int(void) { return (db_val){.type = DB_INT, .null = 1}; }

#define NPARAM(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------------ */
/* Small utilities                                                           */
/* ------------------------------------------------------------------------ */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tsa_store_hex(const unsigned char *p, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t k = 0; k < n; k++) {
        out[2 * k] = digits[p[k] >> 4];
        out[2 * k + 1] = digits[p[k] & 15];
    }
    out[2 * n] = '\0';
}

static tsa_store_status sha256_hex(const void *p, size_t n, char out[65], char *err)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_Digest(p, n, md, &len, EVP_sha256(), NULL) != 1 || len != 32)
        return tsa_store_fail(err, TSA_STORE_ERROR, "SHA-256 failed");
    tsa_store_hex(md, 32, out);
    return TSA_STORE_OK;
}

/* A random (version 4) UUID, RFC 9562 section 5.4. */
static tsa_store_status new_uuid(char out[37], char *err)
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof b) != 1)
        return tsa_store_fail(err, TSA_STORE_ERROR, "no random bytes for an id");
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    char h[33];
    tsa_store_hex(b, 16, h);
    snprintf(out, 37, "%.8s-%.4s-%.4s-%.4s-%.12s", h, h + 8, h + 12, h + 16, h + 20);
    return TSA_STORE_OK;
}

/* Names are printable text: no control characters, bounded length. */
static tsa_store_status check_name(const char *what, const char *s, size_t max, int required,
                                   char *err)
{
    if (!s) {
        if (required)
            return tsa_store_fail(err, TSA_STORE_INVALID, "%s: required", what);
        return TSA_STORE_OK;
    }
    size_t n = strlen(s);
    if (n == 0)
        return tsa_store_fail(err, TSA_STORE_INVALID, "%s: must not be empty", what);
    if (n > max)
        return tsa_store_fail(err, TSA_STORE_INVALID, "%s: longer than %zu bytes", what, max);
    for (size_t k = 0; k < n; k++)
        if ((unsigned char)s[k] < 0x20 || s[k] == 0x7f)
            return tsa_store_fail(err, TSA_STORE_INVALID, "%s: control character at byte %zu",
                                  what, k);
    return TSA_STORE_OK;
}

static tsa_store_status check_text(const char *what, const char *s, char *err)
{
    if (s && strlen(s) > TSA_STORE_MAX_TEXT)
        return tsa_store_fail(err, TSA_STORE_INVALID, "%s: longer than %u bytes", what,
                              TSA_STORE_MAX_TEXT);
    return TSA_STORE_OK;
}

static tsa_store_status check_id(const char *id, char *err)
{
    if (!id || strlen(id) != 36)
        return tsa_store_fail(err, TSA_STORE_INVALID, "id: not a UUID");
    for (int k = 0; k < 36; k++) {
        int dash = k == 8 || k == 13 || k == 18 || k == 23;
        char ch = id[k];
        int ok = dash ? ch == '-' : ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                                     (ch >= 'A' && ch <= 'F'));
        if (!ok)
            return tsa_store_fail(err, TSA_STORE_INVALID, "id: not a UUID");
    }
    return TSA_STORE_OK;
}

static tsa_store_status check_limit(size_t *limit, size_t offset, char *err)
{
    if (*limit == 0)
        *limit = TSA_STORE_DEFAULT_LIST;
    if (*limit > TSA_STORE_MAX_LIST)
        return tsa_store_fail(err, TSA_STORE_INVALID, "limit: must be at most %d, got %zu",
                              TSA_STORE_MAX_LIST, *limit);
    if (offset > (size_t)INT64_MAX)
        return tsa_store_fail(err, TSA_STORE_INVALID, "offset: too large");
    return TSA_STORE_OK;
}

#define TRY(expr)                                                            \
    do {                                                                     \
        tsa_store_status try_st_ = (expr);                                   \
        if (try_st_ != TSA_STORE_OK)                                         \
            return try_st_;                                                  \
    } while (0)

static void clear_err(char *err)
{
    if (err)
        err[0] = '\0';
}

/* The start time of process @pid in clock ticks after boot (field 22 of
 * /proc/PID/stat, proc(5)): with the pid it names a process uniquely, so a
 * recycled pid is not mistaken for the job's dead worker. 0 when /proc is
 * unreadable, -1 when the process does not exist. */
static int64_t proc_start_time(int64_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%" PRId64 "/stat", pid);
    FILE *f = fopen(path, "re");
    if (!f)
        return errno == ENOENT ? -1 : 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name (field 2) may hold spaces and ')': skip past the last. */
    char *p = strrchr(buf, ')');
    if (!p)
        return 0;
    p++;
    for (int field = 3; field < 22; field++) {
        while (*p == ' ')
            p++;
        while (*p && *p != ' ')
            p++;
    }
    long long v = strtoll(p, NULL, 10);
    return v > 0 ? (int64_t)v : 0;
}

/* Whether the process that claimed a job on this host is gone. */
static int process_gone(int64_t pid, int64_t start)
{
    if (pid <= 0)
        return 1;
    int64_t now_start = proc_start_time(pid);
    if (now_start < 0)
        return 1;
    if (now_start > 0 && start > 0)
        return now_start != start;
    /* No /proc: fall back to whether the pid exists at all. */
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* ------------------------------------------------------------------------ */
/* Handle, pool, transactions                                                */
/* ------------------------------------------------------------------------ */

typedef enum { DIALECT_SQLITE, DIALECT_PG } dialect;

struct tsa_store {
    const db_backend *be;
    dialect dialect;
    char *target;
    tsa_store_options opt;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    db_conn **idle;
    size_t n_idle, n_open;
    char hostname[256];
    int64_t pid, proc_start;
    store_keyring keys; /* encryption at rest; read-only after open */
};

void tsa_store_options_init(tsa_store_options *opts)
{
    memset(opts, 0, sizeof *opts);
    opts->size = sizeof *opts;
    opts->pool_size = 8;
    opts->acquire_timeout_ms = 10000;
    opts->busy_timeout_ms = 5000;
}

static tsa_store_status pool_acquire(tsa_store *s, db_conn **out, char *err)
{
    struct timespec deadline;
    clock_gettime(CLOCK_MONOTONIC, &deadline);
    deadline.tv_sec += s->opt.acquire_timeout_ms / 1000;
    deadline.tv_nsec += (long)(s->opt.acquire_timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&s->mu);
    while (s->n_idle == 0 && s->n_open >= s->opt.pool_size) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &deadline) == ETIMEDOUT &&
            s->n_idle == 0 && s->n_open >= s->opt.pool_size) {
            pthread_mutex_unlock(&s->mu);
            return tsa_store_fail(err, TSA_STORE_UNAVAILABLE,
                                  "all %u store connections stayed busy for %u ms",
                                  s->opt.pool_size, s->opt.acquire_timeout_ms);
        }
    }
    if (s->n_idle > 0) {
        *out = s->idle[--s->n_idle];
        pthread_mutex_unlock(&s->mu);
        return TSA_STORE_OK;
    }
    s->n_open++;
    pthread_mutex_unlock(&s->mu);
    /* Connecting can take seconds: not under the lock. */
    tsa_store_status st = s->be->connect(s->target, &s->opt, out, err);
    if (st != TSA_STORE_OK) {
        pthread_mutex_lock(&s->mu);
        s->n_open--;
        pthread_cond_signal(&s->cv);
        pthread_mutex_unlock(&s->mu);
    }
    return st;
}

static void pool_release(tsa_store *s, db_conn *c, int discard)
{
    pthread_mutex_lock(&s->mu);
    if (discard) {
        s->n_open--;
    } else {
        s->idle[s->n_idle++] = c;
        c = NULL;
    }
    pthread_cond_signal(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (c)
        s->be->close(c);
}

/* After a lost connection the idle ones are likely stale too (server
 * restart): close them so the retry connects afresh. */
static void pool_flush_idle(tsa_store *s)
{
    db_conn *stale[256];
    size_t n;
    pthread_mutex_lock(&s->mu);
    n = s->n_idle;
    memcpy(stale, s->idle, n * sizeof *stale);
    s->n_idle = 0;
    s->n_open -= n;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (size_t k = 0; k < n; k++)
        s->be->close(stale[k]);
}

typedef struct tx {
    tsa_store *s;
    db_conn *c;
    char *err;
} tx;

static tsa_store_status q(tx *t, const char *sql, const db_val *p, size_t n, db_res *res,
                          int64_t *changes)
{
    return t->s->be->exec(t->c, sql, p, n, res, changes, t->err);
}

typedef tsa_store_status (*tx_fn)(tx *t, void *arg);

/* TX_ONE: @fn runs one read statement, which is atomic by itself: no
 * BEGIN/COMMIT round trips around it. */
enum { TX_READ = 0, TX_WRITE = 1, TX_ONE = 2 };

/* Runs @fn in one transaction on a pooled connection; commits when it
 * returns OK, else rolls back. SQLite writers take the write lock at BEGIN
 * (IMMEDIATE), so they queue on the busy timeout instead of failing on a
 * read-to-write upgrade. A connection found dead at BEGIN (nothing sent yet)
 * or during a read is replaced and the call retried once. */
static tsa_store_status run_tx(tsa_store *s, int mode, tx_fn fn, void *arg, char *err)
{
    const char *begin =
        (s->dialect == DIALECT_SQLITE && mode == TX_WRITE) ? "BEGIN IMMEDIATE" : "BEGIN";
    for (int attempt = 0;; attempt++) {
        tx t = {s, NULL, err};
        TRY(pool_acquire(s, &t.c, err));
        tsa_store_status st = mode == TX_ONE ? TSA_STORE_OK : q(&t, begin, NULL, 0, NULL, NULL);
        if (st != TSA_STORE_OK) {
            int broken = s->be->broken(t.c);
            pool_release(s, t.c, broken);
            if (broken && attempt == 0) {
                pool_flush_idle(s);
                continue;
            }
            return st;
        }
        st = fn(&t, arg);
        if (mode == TX_ONE) {
            /* nothing to end */
        } else if (st == TSA_STORE_OK) {
            st = q(&t, "COMMIT", NULL, 0, NULL, NULL);
        } else {
            char ignored[TSA_STORE_ERR_LEN];
            s->be->exec(t.c, "ROLLBACK", NULL, 0, NULL, NULL, ignored);
        }
        int broken = s->be->broken(t.c);
        if (broken && s->dialect == DIALECT_SQLITE) {
            /* A failed COMMIT can leave SQLite's transaction open. */
            char ignored[TSA_STORE_ERR_LEN];
            s->be->exec(t.c, "ROLLBACK", NULL, 0, NULL, NULL, ignored);
            broken = s->be->broken(t.c);
        }
        pool_release(s, t.c, broken);
        if (st == TSA_STORE_UNAVAILABLE && broken && mode != TX_WRITE && attempt == 0) {
            pool_flush_idle(s);
            continue;
        }
        return st;
    }
}

/* ------------------------------------------------------------------------ */
/* Migrations                                                                */
/* ------------------------------------------------------------------------ */

/* Version 1. The two dialects differ only in the blob type and the
 * auto-increment column; integers are BIGINT (SQLite: INTEGER affinity),
 * times epoch milliseconds, JSON documents TEXT. */
#define MIGRATION_1(BLOB_TYPE, SERIAL_PK, AFTER_MODELS)                                 \
    "CREATE TABLE models ("                                                             \
    " name TEXT NOT NULL PRIMARY KEY,"                                                  \
    " kind TEXT NOT NULL,"                                                              \
    " task TEXT NOT NULL CHECK (task IN ('forecasting', 'anomaly')),"                   \
    " params TEXT NOT NULL,"                                                            \
    " metrics TEXT NOT NULL,"                                                           \
    " owner TEXT,"                                                                      \
    " blob_size BIGINT NOT NULL,"                                                       \
    " blob_sha256 TEXT NOT NULL,"                                                       \
    " created_at BIGINT NOT NULL,"                                                      \
    " updated_at BIGINT NOT NULL,"                                                      \
    " blob " BLOB_TYPE " NOT NULL);"                                                    \
    AFTER_MODELS                                                                        \
    "CREATE INDEX models_task_kind ON models (task, kind);"                             \
    "CREATE TABLE jobs ("                                                               \
    " id TEXT NOT NULL PRIMARY KEY,"                                                    \
    " kind TEXT NOT NULL,"                                                              \
    " model_name TEXT,"                                                                 \
    " owner TEXT,"                                                                      \
    " request TEXT NOT NULL,"                                                           \
    " state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'completed',"           \
    "   'failed', 'canceled', 'interrupted')),"                                         \
    " cancel_requested INTEGER NOT NULL DEFAULT 0,"                                     \
    " epoch BIGINT NOT NULL DEFAULT 0,"                                                 \
    " total_epochs BIGINT NOT NULL DEFAULT 0,"                                          \
    " train_loss DOUBLE PRECISION,"                                                     \
    " val_loss DOUBLE PRECISION,"                                                       \
    " eta_ms BIGINT,"                                                                   \
    " result TEXT,"                                                                     \
    " error TEXT,"                                                                      \
    " worker_id TEXT,"                                                                  \
    " hostname TEXT,"                                                                   \
    " pid BIGINT,"                                                                      \
    " proc_start BIGINT,"                                                               \
    " created_at BIGINT NOT NULL,"                                                      \
    " started_at BIGINT,"                                                               \
    " heartbeat_at BIGINT,"                                                             \
    " finished_at BIGINT,"                                                              \
    " updated_at BIGINT NOT NULL);"                                                     \
    "CREATE INDEX jobs_state_created ON jobs (state, created_at);"                      \
    "CREATE INDEX jobs_created ON jobs (created_at);"                                   \
    "CREATE TABLE results ("                                                            \
    " id TEXT NOT NULL PRIMARY KEY,"                                                    \
    " kind TEXT NOT NULL,"                                                              \
    " owner TEXT,"                                                                      \
    " request TEXT NOT NULL,"                                                           \
    " result TEXT NOT NULL,"                                                            \
    " created_at BIGINT NOT NULL);"                                                     \
    "CREATE INDEX results_created ON results (created_at);"                             \
    "CREATE TABLE audit_log ("                                                          \
    " id " SERIAL_PK ","                                                                \
    " at BIGINT NOT NULL,"                                                              \
    " actor TEXT,"                                                                      \
    " action TEXT NOT NULL,"                                                            \
    " target TEXT,"                                                                     \
    " detail TEXT);"                                                                    \
    "CREATE INDEX audit_log_actor ON audit_log (actor, id);"                            \
    "CREATE TABLE api_keys ("                                                           \
    " key_hash TEXT NOT NULL PRIMARY KEY,"                                              \
    " name TEXT NOT NULL UNIQUE,"                                                       \
    " role TEXT NOT NULL CHECK (role IN ('viewer', 'trainer', 'admin')),"               \
    " created_at BIGINT NOT NULL);"

typedef struct migration {
    int version;
    const char *sqlite;
    const char *pg;
} migration;

/* Append only: a released migration is never edited; changes are new
 * versions. */
static const migration migrations[] = {
    {1, MIGRATION_1("BLOB", "INTEGER PRIMARY KEY AUTOINCREMENT", ""),
     /* Model files are already dense: store them out of line, uncompressed. */
     MIGRATION_1("BYTEA", "BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY",
                 "ALTER TABLE models ALTER COLUMN blob SET STORAGE EXTERNAL;")},
};

#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

int tsa_store_schema_version(void) { return migrations[N_MIGRATIONS - 1].version; }

/* An arbitrary constant naming this application's advisory lock. */
#define PG_MIGRATION_LOCK "7309151820445231"

static tsa_store_status migrate_fn(tx *t, void *arg)
{
    (void)arg;
    if (t->s->dialect == DIALECT_PG)
        /* Replicas starting together: one migrates, the others wait here and
         * then find nothing to do (CREATE TABLE IF NOT EXISTS alone races on
         * PostgreSQL's catalogue). */
        TRY(q(t, "SELECT pg_advisory_xact_lock(" PG_MIGRATION_LOCK ")", NULL, 0, NULL, NULL));
    TRY(q(t,
          "CREATE TABLE IF NOT EXISTS schema_migrations ("
          " version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
          NULL, 0, NULL, NULL));
    db_res r = {0};
    TRY(q(t, "SELECT MAX(version) FROM schema_migrations", NULL, 0, &r, NULL));
    int64_t current = r.rows ? col_int(&r, 0, 0, 0) : 0;
    tsa_store_res_clear(&r);
    int latest = tsa_store_schema_version();
    if (current > latest)
        return tsa_store_fail(t->err, TSA_STORE_ERROR,
                              "database schema version %" PRId64
                              " is newer than this build's %d",
                              current, latest);
    for (size_t k = 0; k < N_MIGRATIONS; k++) {
        const migration *m = &migrations[k];
        if (m->version <= current)
            continue;
        tsa_store_status st =
            t->s->be->script(t->c, t->s->dialect == DIALECT_PG ? m->pg : m->sqlite, t->err);
        if (st != TSA_STORE_OK) {
            char inner[TSA_STORE_ERR_LEN];
            snprintf(inner, sizeof inner, "%s", t->err ? t->err : "");
            return tsa_store_fail(t->err, st == TSA_STORE_UNAVAILABLE ? st : TSA_STORE_ERROR,
                                  "migration %d: %s", m->version, inner);
        }
        db_val p[] = {v_int(m->version), v_int(now_ms())};
        TRY(q(t, "INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)", p,
              NPARAM(p), NULL, NULL));
    }
    return TSA_STORE_OK;
}

/* ------------------------------------------------------------------------ */
/* Open / close                                                              */
/* ------------------------------------------------------------------------ */

/* mkdir -p of the directory holding @path. */
static tsa_store_status make_parent(const char *path, char *err)
{
    char *dir = strdup(path);
    if (!dir)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    char *slash = strrchr(dir, '/');
    if (!slash || slash == dir) {
        free(dir);
        return TSA_STORE_OK;
    }
    *slash = '\0';
    for (char *p = dir + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        char saved = *p;
        *p = '\0';
        if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
            tsa_store_status st = tsa_store_fail(err, TSA_STORE_UNAVAILABLE,
                                                 "sqlite: cannot create directory %s: %s",
                                                 dir, strerror(errno));
            free(dir);
            return st;
        }
        *p = saved;
        if (saved == '\0')
            break;
    }
    free(dir);
    return TSA_STORE_OK;
}

static tsa_store_status parse_url(const char *url, const db_backend **be, dialect *d,
                                  char **target, char *err)
{
    if (strncmp(url, "sqlite:", 7) == 0) {
        const char *path = url + 7;
        if (strncmp(path, "//", 2) == 0)
            path += 2;
        if (*path == '\0')
            return tsa_store_fail(err, TSA_STORE_INVALID, "database URL: sqlite: needs a path");
        if (strcmp(path, ":memory:") == 0 || strncmp(path, "file:", 5) == 0)
            return tsa_store_fail(err, TSA_STORE_INVALID,
                                  "database URL: sqlite: needs a file path (every pooled "
                                  "connection must see the same database)");
        *be = &tsa_store_sqlite_backend;
        *d = DIALECT_SQLITE;
        *target = strdup(path);
    } else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
        *be = &tsa_store_pg_backend;
        *d = DIALECT_PG;
        *target = strdup(url);
    } else {
        const char *colon = strchr(url, ':');
        int n = colon ? (int)(colon - url) : (int)strlen(url);
        if (n > 32)
            n = 32;
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "database URL: unknown scheme '%.*s' (expected sqlite:PATH or "
                              "postgresql://...)",
                              n, url);
    }
    if (!*target)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_open(const char *url, const tsa_store_options *opts,
                                tsa_store **out, char *err)
{
    clear_err(err);
    if (!out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "out: NULL");
    *out = NULL;
    if (!url || !*url) {
        url = getenv("TSA_DATABASE_URL");
        if (!url || !*url)
            url = "sqlite:var/tsa.db";
    }
    tsa_store_options opt;
    tsa_store_options_init(&opt);
    if (opts) {
        size_t n = opts->size < sizeof opt ? opts->size : sizeof opt;
        memcpy(&opt, opts, n);
        opt.size = sizeof opt;
    }
    if (opt.pool_size == 0 || opt.pool_size > 256)
        return tsa_store_fail(err, TSA_STORE_INVALID, "pool_size: must be in [1, 256], got %u",
                              opt.pool_size);
    const char *key = opt.encryption_key ? opt.encryption_key : getenv("TSA_ENCRYPTION_KEY");
    const char *previous = opt.encryption_key_previous ? opt.encryption_key_previous
                                                       : getenv("TSA_ENCRYPTION_KEY_PREVIOUS");
    /* The options keep pointers to the caller's strings: not kept. */
    opt.encryption_key = opt.encryption_key_previous = NULL;

    tsa_store *s = calloc(1, sizeof *s);
    if (!s)
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    s->opt = opt;
    tsa_store_status st = store_keyring_parse(&s->keys, key, previous, err);
    if (st != TSA_STORE_OK) {
        free(s);
        return st;
    }
    st = parse_url(url, &s->be, &s->dialect, &s->target, err);
    if (st != TSA_STORE_OK) {
        store_keyring_wipe(&s->keys);
        free(s);
        return st;
    }
    s->idle = calloc(opt.pool_size, sizeof *s->idle);
    if (!s->idle) {
        store_keyring_wipe(&s->keys);
        free(s->target);
        free(s);
        return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->cv, &ca);
    pthread_condattr_destroy(&ca);
    if (gethostname(s->hostname, sizeof s->hostname - 1) != 0)
        snprintf(s->hostname, sizeof s->hostname, "unknown");
    s->pid = (int64_t)getpid();
    s->proc_start = proc_start_time(s->pid);
    if (s->proc_start < 0)
        s->proc_start = 0;

    if (s->dialect == DIALECT_SQLITE)
        st = make_parent(s->target, err);
    if (st == TSA_STORE_OK)
        st = run_tx(s, TX_WRITE, migrate_fn, NULL, err);
    if (st != TSA_STORE_OK) {
        tsa_store_close(s);
        return st;
    }
    *out = s;
    return TSA_STORE_OK;
}

void tsa_store_close(tsa_store *s)
{
    if (!s)
        return;
    for (size_t k = 0; k < s->n_idle; k++)
        s->be->close(s->idle[k]);
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    free(s->idle);
    free(s->target);
    store_keyring_wipe(&s->keys);
    free(s);
}

const char *tsa_store_backend(const tsa_store *s) { return s->be->name; }

int tsa_store_encrypted(const tsa_store *s, char key_id[17])
{
    if (key_id)
        store_keyring_current_id(&s->keys, key_id);
    return s->keys.has_current;
}

static tsa_store_status ping_fn(tx *t, void *arg)
{
    (void)arg;
    return q(t, "SELECT 1", NULL, 0, NULL, NULL);
}

tsa_store_status tsa_store_ping(tsa_store *s, char *err)
{
    clear_err(err);
    return run_tx(s, TX_READ, ping_fn, NULL, err);
}

/* ------------------------------------------------------------------------ */
/* Models                                                                    */
/* ------------------------------------------------------------------------ */

/* Replaces an encrypted cell (binary envelope, or "TSAE1:" text) by its
 * plaintext; a plaintext cell is left alone. On failure the message names
 * the row: "model 'x' was encrypted under key id ...". */
static tsa_store_status unseal_cell(tx *t, db_cell *c, const char *label, const char *row,
                                    const char *what, const char *name)
{
    if (c->type == DB_NULL || !c->p)
        return TSA_STORE_OK;
    char why[TSA_STORE_ERR_LEN];
    unsigned char *plain = NULL;
    size_t plain_n = 0;
    tsa_store_status st = TSA_STORE_OK;
    if (c->type == DB_BLOB && store_is_sealed(c->p, c->n)) {
        st = store_unseal(&t->s->keys, c->p, c->n, label, row, &plain, &plain_n, why);
    } else if (c->type == DB_TEXT && store_is_sealed_text(c->p)) {
        char *text = NULL;
        st = store_unseal_text(&t->s->keys, c->p, label, row, &text, why);
        plain = (unsigned char *)text;
        plain_n = text ? strlen(text) : 0;
    } else {
        return TSA_STORE_OK;
    }
    if (st != TSA_STORE_OK)
        return tsa_store_fail(t->err, st, "%s '%s' %s", what, name, why);
    free(c->p);
    c->p = (char *)plain;
    c->n = plain_n;
    return TSA_STORE_OK;
}

/* A JSON document to store: its envelope when a key is set (@out, free()),
 * else NULL and the text is stored as it is. */
static tsa_store_status seal_text(tx *t, const char *text, const char *label, const char *row,
                                  char **out)
{
    *out = NULL;
    if (!text || !t->s->keys.has_current)
        return TSA_STORE_OK;
    return store_seal_text(&t->s->keys, text, label, row, out, t->err);
}

#define MODEL_META_COLS                                                       \
    "name, kind, task, params, metrics, owner, blob_size, blob_sha256, created_at, updated_at"

static void model_from_row(db_res *r, size_t row, tsa_store_model *m)
{
    memset(m, 0, sizeof *m);
    m->name = col_take(r, row, 0);
    m->kind = col_take(r, row, 1);
    m->task = col_take(r, row, 2);
    m->params_json = col_take(r, row, 3);
    m->metrics_json = col_take(r, row, 4);
    m->owner = col_take(r, row, 5);
    m->blob_len = (size_t)col_int(r, row, 6, 0);
    col_copy(r, row, 7, m->blob_sha256, sizeof m->blob_sha256);
    m->created_ms = col_int(r, row, 8, 0);
    m->updated_ms = col_int(r, row, 9, 0);
}

static int model_incomplete(const tsa_store_model *m)
{
    return !m->name || !m->kind || !m->task || !m->params_json || !m->metrics_json;
}

void tsa_store_model_clear(tsa_store_model *m)
{
    if (!m)
        return;
    free(m->name);
    free(m->kind);
    free(m->task);
    free(m->params_json);
    free(m->metrics_json);
    free(m->owner);
    free(m->blob);
    memset(m, 0, sizeof *m);
}

void tsa_store_models_free(tsa_store_model *items, size_t n)
{
    if (!items)
        return;
    for (size_t k = 0; k < n; k++)
        tsa_store_model_clear(&items[k]);
    free(items);
}

static tsa_store_status check_model_in(const tsa_store_model_in *m, char *err)
{
    if (!m)
        return tsa_store_fail(err, TSA_STORE_INVALID, "model: NULL");
    TRY(check_name("name", m->name, TSA_STORE_MAX_NAME, 1, err));
    TRY(check_name("kind", m->kind, TSA_STORE_MAX_TAG, 1, err));
    if (!m->task || (strcmp(m->task, "forecasting") != 0 && strcmp(m->task, "anomaly") != 0))
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "task: must be \"forecasting\" or \"anomaly\"");
    TRY(check_text("params", m->params_json, err));
    TRY(check_text("metrics", m->metrics_json, err));
    TRY(check_name("owner", m->owner, TSA_STORE_MAX_NAME, 0, err));
    TRY(check_name("overwrite_owner", m->overwrite_owner, TSA_STORE_MAX_NAME, 0, err));
    if (!m->blob || m->blob_len == 0)
        return tsa_store_fail(err, TSA_STORE_INVALID, "blob: the model file is empty");
    if (m->blob_len > TSA_STORE_MAX_BLOB)
        return tsa_store_fail(err, TSA_STORE_INVALID, "blob: larger than %u bytes",
                              TSA_STORE_MAX_BLOB);
    return TSA_STORE_OK;
}

#define MODEL_INSERT                                                          \
    "INSERT INTO models (name, kind, task, params, metrics, owner, blob_size,"  \
    " blob_sha256, created_at, updated_at, blob)"                              \
    " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10)"

/* The model row and its blob go in one INSERT: no reader can see a row
 * whose blob is missing or partial. */
static tsa_store_status model_put_tx(tx *t, const tsa_store_model_in *m)
{
    char sha[65];
    TRY(sha256_hex(m->blob, m->blob_len, sha, t->err));
    /* blob_size and blob_sha256 describe the plaintext file; the stored
     * blob is its envelope when a key is set. */
    unsigned char *sealed = NULL;
    size_t sealed_len = 0;
    if (t->s->keys.has_current)
        TRY(store_seal(&t->s->keys, m->blob, m->blob_len, "models.blob", m->name, &sealed,
                       &sealed_len, t->err));
    db_val p[] = {
        v_text(m->name),
        v_text(m->kind),
        v_text(m->task),
        v_text(m->params_json ? m->params_json : "{}"),
        v_text(m->metrics_json ? m->metrics_json : "{}"),
        v_text(m->owner),
        v_int((int64_t)m->blob_len),
        v_text(sha),
        v_int(now_ms()),
        sealed ? v_blob(sealed, sealed_len) : v_blob(m->blob, m->blob_len),
        v_text(m->overwrite_owner),
    };
    db_res r = {0};
    tsa_store_status st;
    if (!m->overwrite) {
        /* DO NOTHING + RETURNING: of concurrent puts of one name exactly one
         * gets a row back; PostgreSQL makes the others wait for its commit. */
        st = q(t, MODEL_INSERT " ON CONFLICT (name) DO NOTHING RETURNING name", p,
               NPARAM(p) - 1, &r, NULL);
        if (st == TSA_STORE_OK && r.rows == 0)
            st = tsa_store_fail(t->err, TSA_STORE_CONFLICT, "model '%s' already exists",
                                m->name);
    } else {
        /* created_at stays; the owner guard ($11) makes the update a no-op,
         * hence no row returned, when someone else owns the model. */
        st = q(t,
               MODEL_INSERT " ON CONFLICT (name) DO UPDATE SET kind = excluded.kind,"
               " task = excluded.task, params = excluded.params,"
               " metrics = excluded.metrics, owner = excluded.owner,"
               " blob_size = excluded.blob_size, blob_sha256 = excluded.blob_sha256,"
               " updated_at = excluded.updated_at, blob = excluded.blob"
               " WHERE $11 IS NULL OR models.owner = $11"
               " RETURNING name",
               p, NPARAM(p), &r, NULL);
        if (st == TSA_STORE_OK && r.rows == 0)
            st = tsa_store_fail(t->err, TSA_STORE_FORBIDDEN,
                                "model '%s' belongs to another owner", m->name);
    }
    tsa_store_res_clear(&r);
    free(sealed);
    return st;
}

static tsa_store_status model_put_fn(tx *t, void *arg) { return model_put_tx(t, arg); }

tsa_store_status tsa_store_model_put(tsa_store *s, const tsa_store_model_in *m, char *err)
{
    clear_err(err);
    TRY(check_model_in(m, err));
    return run_tx(s, TX_WRITE, model_put_fn, (void *)m, err);
}

typedef struct model_get_arg {
    const char *name;
    int with_blob;
    tsa_store_model *out;
} model_get_arg;

static tsa_store_status model_get_fn(tx *t, void *arg)
{
    model_get_arg *a = arg;
    db_val p[] = {v_text(a->name)};
    db_res r = {0};
    TRY(q(t,
          a->with_blob ? "SELECT " MODEL_META_COLS ", blob FROM models WHERE name = $1"
                       : "SELECT " MODEL_META_COLS " FROM models WHERE name = $1",
          p, NPARAM(p), &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "model '%s' not found", a->name);
    }
    tsa_store_model m;
    model_from_row(&r, 0, &m);
    tsa_store_status st = TSA_STORE_OK;
    if (model_incomplete(&m))
        st = tsa_store_fail(t->err, TSA_STORE_ERROR, "model '%s': incomplete row", a->name);
    if (st == TSA_STORE_OK && a->with_blob) {
        db_cell *b = cell(&r, 0, 10);
        char sha[65];
        /* An encrypted file is decrypted first: size and SHA-256 are those
         * of the plaintext. */
        st = unseal_cell(t, b, "models.blob", a->name, "model", a->name);
        if (st == TSA_STORE_OK && (b->type == DB_NULL || b->n != m.blob_len)) {
            st = tsa_store_fail(t->err, TSA_STORE_ERROR,
                                "model '%s': stored blob has %zu bytes, expected %zu", a->name,
                                b->type == DB_NULL ? (size_t)0 : b->n, m.blob_len);
        } else if (st == TSA_STORE_OK &&
                   (st = sha256_hex(b->p, b->n, sha, t->err)) == TSA_STORE_OK &&
                   strcmp(sha, m.blob_sha256) != 0) {
            st = tsa_store_fail(t->err, TSA_STORE_ERROR,
                                "model '%s': stored blob fails its SHA-256 check", a->name);
        }
        if (st == TSA_STORE_OK)
            m.blob = (unsigned char *)col_take(&r, 0, 10);
    }
    tsa_store_res_clear(&r);
    if (st != TSA_STORE_OK) {
        tsa_store_model_clear(&m);
        return st;
    }
    *a->out = m;
    return TSA_STORE_OK;
}

static tsa_store_status model_get(tsa_store *s, const char *name, int with_blob,
                                  tsa_store_model *out, char *err)
{
    clear_err(err);
    if (!out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "out: NULL");
    memset(out, 0, sizeof *out);
    TRY(check_name("name", name, TSA_STORE_MAX_NAME, 1, err));
    model_get_arg a = {name, with_blob, out};
    return run_tx(s, TX_READ, model_get_fn, &a, err);
}

tsa_store_status tsa_store_model_get(tsa_store *s, const char *name, tsa_store_model *out,
                                     char *err)
{
    return model_get(s, name, 1, out, err);
}

tsa_store_status tsa_store_model_get_meta(tsa_store *s, const char *name,
                                          tsa_store_model *out, char *err)
{
    return model_get(s, name, 0, out, err);
}

typedef struct model_version_arg {
    const char *name;
    int64_t *updated_ms;
} model_version_arg;

static tsa_store_status model_version_fn(tx *t, void *arg)
{
    model_version_arg *a = arg;
    db_val p[] = {v_text(a->name)};
    db_res r = {0};
    TRY(q(t, "SELECT updated_at FROM models WHERE name = $1", p, NPARAM(p), &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "model '%s' not found", a->name);
    }
    *a->updated_ms = col_int(&r, 0, 0, 0);
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_model_version(tsa_store *s, const char *name, int64_t *updated_ms,
                                         char *err)
{
    clear_err(err);
    if (!updated_ms)
        return tsa_store_fail(err, TSA_STORE_INVALID, "updated_ms: NULL");
    TRY(check_name("name", name, TSA_STORE_MAX_NAME, 1, err));
    model_version_arg a = {name, updated_ms};
    return run_tx(s, TX_ONE, model_version_fn, &a, err);
}

typedef struct model_list_arg {
    const tsa_store_model_filter *f;
    size_t limit, offset;
    int count_only;
    int64_t count;
    tsa_store_model *items;
    size_t n;
} model_list_arg;

#define MODEL_FILTER                                                          \
    " FROM models WHERE ($1 IS NULL OR task = $1) AND ($2 IS NULL OR kind = $2)" \
    " AND ($3 IS NULL OR owner = $3)"

static tsa_store_status model_list_fn(tx *t, void *arg)
{
    model_list_arg *a = arg;
    static const tsa_store_model_filter none = {NULL, NULL, NULL};
    const tsa_store_model_filter *f = a->f ? a->f : &none;
    db_val p[] = {v_text(f->task), v_text(f->kind), v_text(f->owner),
                  v_int((int64_t)a->limit), v_int((int64_t)a->offset)};
    db_res r = {0};
    if (a->count_only) {
        TRY(q(t, "SELECT COUNT(*)" MODEL_FILTER, p, 3, &r, NULL));
        a->count = r.rows ? col_int(&r, 0, 0, 0) : 0;
        tsa_store_res_clear(&r);
        return TSA_STORE_OK;
    }
    TRY(q(t, "SELECT " MODEL_META_COLS MODEL_FILTER " ORDER BY name LIMIT $4 OFFSET $5", p,
          NPARAM(p), &r, NULL));
    if (r.rows) {
        a->items = calloc(r.rows, sizeof *a->items);
        if (!a->items) {
            tsa_store_res_clear(&r);
            return tsa_store_fail(t->err, TSA_STORE_ERROR, "out of memory");
        }
    }
    for (size_t k = 0; k < r.rows; k++)
        model_from_row(&r, k, &a->items[k]);
    a->n = r.rows;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

static tsa_store_status check_model_filter(const tsa_store_model_filter *f, char *err)
{
    if (!f)
        return TSA_STORE_OK;
    TRY(check_name("task", f->task, TSA_STORE_MAX_TAG, 0, err));
    TRY(check_name("kind", f->kind, TSA_STORE_MAX_TAG, 0, err));
    return check_name("owner", f->owner, TSA_STORE_MAX_NAME, 0, err);
}

tsa_store_status tsa_store_model_list(tsa_store *s, const tsa_store_model_filter *f,
                                      size_t limit, size_t offset, tsa_store_model **items,
                                      size_t *n, char *err)
{
    clear_err(err);
    if (!items || !n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "items: NULL");
    *items = NULL;
    *n = 0;
    TRY(check_model_filter(f, err));
    TRY(check_limit(&limit, offset, err));
    model_list_arg a = {f, limit, offset, 0, 0, NULL, 0};
    tsa_store_status st = run_tx(s, TX_READ, model_list_fn, &a, err);
    if (st != TSA_STORE_OK) {
        tsa_store_models_free(a.items, a.n);
        return st;
    }
    *items = a.items;
    *n = a.n;
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_model_count(tsa_store *s, const tsa_store_model_filter *f,
                                       int64_t *n, char *err)
{
    clear_err(err);
    if (!n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "n: NULL");
    TRY(check_model_filter(f, err));
    model_list_arg a = {f, 0, 0, 1, 0, NULL, 0};
    TRY(run_tx(s, TX_READ, model_list_fn, &a, err));
    *n = a.count;
    return TSA_STORE_OK;
}

typedef struct model_delete_arg {
    const char *name, *only_owner;
} model_delete_arg;

static tsa_store_status model_delete_fn(tx *t, void *arg)
{
    model_delete_arg *a = arg;
    db_val p[] = {v_text(a->name), v_text(a->only_owner)};
    int64_t changes = 0;
    TRY(q(t, "DELETE FROM models WHERE name = $1 AND ($2 IS NULL OR owner = $2)", p,
          NPARAM(p), NULL, &changes));
    if (changes > 0)
        return TSA_STORE_OK;
    db_res r = {0};
    TRY(q(t, "SELECT 1 FROM models WHERE name = $1", p, 1, &r, NULL));
    size_t rows = r.rows;
    tsa_store_res_clear(&r);
    if (rows)
        return tsa_store_fail(t->err, TSA_STORE_FORBIDDEN, "model '%s' belongs to another owner",
                              a->name);
    return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "model '%s' not found", a->name);
}

tsa_store_status tsa_store_model_delete(tsa_store *s, const char *name, const char *only_owner,
                                        char *err)
{
    clear_err(err);
    TRY(check_name("name", name, TSA_STORE_MAX_NAME, 1, err));
    TRY(check_name("owner", only_owner, TSA_STORE_MAX_NAME, 0, err));
    model_delete_arg a = {name, only_owner};
    return run_tx(s, TX_WRITE, model_delete_fn, &a, err);
}

/* ------------------------------------------------------------------------ */
/* Jobs                                                                      */
/* ------------------------------------------------------------------------ */

static const char *const job_state_names[TSA_JOB_STATE_COUNT] = {
    "queued", "running", "completed", "failed", "canceled", "interrupted",
};

const char *tsa_store_job_state_name(tsa_store_job_state st)
{
    if ((unsigned)st < TSA_JOB_STATE_COUNT)
        return job_state_names[st];
    return "unknown";
}

int tsa_store_job_state_parse(const char *name, tsa_store_job_state *out)
{
    if (!name)
        return -1;
    for (int k = 0; k < TSA_JOB_STATE_COUNT; k++)
        if (strcmp(name, job_state_names[k]) == 0) {
            if (out)
                *out = (tsa_store_job_state)k;
            return 0;
        }
    return -1;
}

#define JOB_COLS                                                                   \
    "id, kind, model_name, owner, request, state, cancel_requested, epoch,"        \
    " total_epochs, train_loss, val_loss, eta_ms, result, error, worker_id,"       \
    " hostname, pid, created_at, started_at, heartbeat_at, finished_at, updated_at"

/* Decrypts an encrypted request in place. A request that cannot be
 * decrypted is not an error for the job's other fields (state, progress):
 * request_json becomes NULL and request_sealed 1. */
static void job_open_request(tx *t, tsa_store_job *j)
{
    if (!store_is_sealed_text(j->request_json))
        return;
    char *plain = NULL, why[TSA_STORE_ERR_LEN];
    if (store_unseal_text(&t->s->keys, j->request_json, "jobs.request", j->id, &plain, why) !=
        TSA_STORE_OK)
        j->request_sealed = 1;
    free(j->request_json);
    j->request_json = plain;
}

static tsa_store_status job_from_row(tx *t, db_res *r, size_t row, tsa_store_job *j,
                                     char *err)
{
    memset(j, 0, sizeof *j);
    col_copy(r, row, 0, j->id, sizeof j->id);
    j->kind = col_take(r, row, 1);
    j->model_name = col_take(r, row, 2);
    j->owner = col_take(r, row, 3);
    j->request_json = col_take(r, row, 4);
    db_cell *state = cell(r, row, 5);
    if (!state->p || tsa_store_job_state_parse(state->p, &j->state) != 0)
        return tsa_store_fail(err, TSA_STORE_ERROR, "job %s: unknown state", j->id);
    j->cancel_requested = col_int(r, row, 6, 0) != 0;
    j->epoch = col_int(r, row, 7, 0);
    j->total_epochs = col_int(r, row, 8, 0);
    j->train_loss = col_real(r, row, 9);
    j->val_loss = col_real(r, row, 10);
    j->eta_ms = col_int(r, row, 11, -1);
    j->result_json = col_take(r, row, 12);
    j->error = col_take(r, row, 13);
    j->worker_id = col_take(r, row, 14);
    j->hostname = col_take(r, row, 15);
    j->pid = col_int(r, row, 16, 0);
    j->created_ms = col_int(r, row, 17, 0);
    j->started_ms = col_int(r, row, 18, 0);
    j->heartbeat_ms = col_int(r, row, 19, 0);
    j->finished_ms = col_int(r, row, 20, 0);
    j->updated_ms = col_int(r, row, 21, 0);
    if (!j->kind || !j->request_json)
        return tsa_store_fail(err, TSA_STORE_ERROR, "job %s: incomplete row", j->id);
    job_open_request(t, j);
    return TSA_STORE_OK;
}

void tsa_store_job_clear(tsa_store_job *j)
{
    if (!j)
        return;
    free(j->kind);
    free(j->model_name);
    free(j->owner);
    free(j->request_json);
    free(j->result_json);
    free(j->error);
    free(j->worker_id);
    free(j->hostname);
    memset(j, 0, sizeof *j);
}

void tsa_store_jobs_free(tsa_store_job *items, size_t n)
{
    if (!items)
        return;
    for (size_t k = 0; k < n; k++)
        tsa_store_job_clear(&items[k]);
    free(items);
}

/* One job row out of @r into @out; clears it on failure. */
static tsa_store_status take_job(tx *t, db_res *r, tsa_store_job *out, char *err)
{
    tsa_store_job j;
    tsa_store_status st = job_from_row(t, r, 0, &j, err);
    tsa_store_res_clear(r);
    if (st != TSA_STORE_OK) {
        tsa_store_job_clear(&j);
        return st;
    }
    *out = j;
    return TSA_STORE_OK;
}

typedef struct job_create_arg {
    const char *kind, *model_name, *owner, *request;
    char *id;
} job_create_arg;

static tsa_store_status job_create_fn(tx *t, void *arg)
{
    job_create_arg *a = arg;
    char *sealed;
    TRY(seal_text(t, a->request, "jobs.request", a->id, &sealed));
    db_val p[] = {v_text(a->id), v_text(a->kind), v_text(a->model_name), v_text(a->owner),
                  v_text(sealed ? sealed : a->request), v_int(now_ms())};
    tsa_store_status st = q(t,
                            "INSERT INTO jobs (id, kind, model_name, owner, request, state,"
                            " created_at, updated_at) VALUES ($1, $2, $3, $4, $5, 'queued', $6, $6)",
                            p, NPARAM(p), NULL, NULL);
    free(sealed);
    return st;
}

tsa_store_status tsa_store_job_create(tsa_store *s, const char *kind, const char *model_name,
                                      const char *owner, const char *request_json,
                                      char id_out[37], char *err)
{
    clear_err(err);
    if (!id_out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "id_out: NULL");
    TRY(check_name("kind", kind, TSA_STORE_MAX_TAG, 1, err));
    TRY(check_name("model_name", model_name, TSA_STORE_MAX_NAME, 0, err));
    TRY(check_name("owner", owner, TSA_STORE_MAX_NAME, 0, err));
    TRY(check_text("request", request_json, err));
    char id[37];
    TRY(new_uuid(id, err));
    job_create_arg a = {kind, model_name, owner, request_json ? request_json : "{}", id};
    TRY(run_tx(s, TX_WRITE, job_create_fn, &a, err));
    memcpy(id_out, id, sizeof id);
    return TSA_STORE_OK;
}

typedef struct job_claim_arg {
    const char *worker_id, *kind;
    tsa_store_job *out;
} job_claim_arg;

static tsa_store_status job_claim_fn(tx *t, void *arg)
{
    job_claim_arg *a = arg;
    tsa_store *s = t->s;
    db_val p[] = {v_text(a->worker_id), v_text(s->hostname), v_int(s->pid),
                  v_int(s->proc_start), v_int(now_ms()), v_text(a->kind)};
    /* SQLite: the IMMEDIATE transaction already excludes other writers.
     * PostgreSQL: SKIP LOCKED lets concurrent claimers pass over a row another
     * one is taking instead of queueing behind it (and then finding it gone). */
    const char *sql =
        s->dialect == DIALECT_PG
            ? "UPDATE jobs SET state = 'running', worker_id = $1, hostname = $2, pid = $3,"
              " proc_start = $4, started_at = $5, heartbeat_at = $5, updated_at = $5"
              " WHERE state = 'queued' AND id = (SELECT id FROM jobs WHERE state = 'queued'"
              " AND ($6 IS NULL OR kind = $6) ORDER BY created_at, id LIMIT 1"
              " FOR UPDATE SKIP LOCKED) RETURNING " JOB_COLS
            : "UPDATE jobs SET state = 'running', worker_id = $1, hostname = $2, pid = $3,"
              " proc_start = $4, started_at = $5, heartbeat_at = $5, updated_at = $5"
              " WHERE state = 'queued' AND id = (SELECT id FROM jobs WHERE state = 'queued'"
              " AND ($6 IS NULL OR kind = $6) ORDER BY created_at, id LIMIT 1)"
              " RETURNING " JOB_COLS;
    db_res r = {0};
    TRY(q(t, sql, p, NPARAM(p), &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "no queued job");
    }
    return take_job(t, &r, a->out, t->err);
}

tsa_store_status tsa_store_job_claim(tsa_store *s, const char *worker_id, const char *kind,
                                     tsa_store_job *out, char *err)
{
    clear_err(err);
    if (!out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "out: NULL");
    memset(out, 0, sizeof *out);
    TRY(check_name("worker_id", worker_id, TSA_STORE_MAX_NAME, 1, err));
    TRY(check_name("kind", kind, TSA_STORE_MAX_TAG, 0, err));
    job_claim_arg a = {worker_id, kind, out};
    return run_tx(s, TX_WRITE, job_claim_fn, &a, err);
}

/* Why a running-only update touched nothing: NOT_FOUND or CONFLICT. */
static tsa_store_status not_running(tx *t, const char *id)
{
    db_val p[] = {v_text(id)};
    db_res r = {0};
    TRY(q(t, "SELECT state FROM jobs WHERE id = $1", p, 1, &r, NULL));
    tsa_store_status st;
    if (r.rows == 0)
        st = tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "job %s not found", id);
    else
        st = tsa_store_fail(t->err, TSA_STORE_CONFLICT, "job %s is %s, not running", id,
                            cell(&r, 0, 0)->p ? cell(&r, 0, 0)->p : "?");
    tsa_store_res_clear(&r);
    return st;
}

typedef struct job_progress_arg {
    const char *id;
    int heartbeat_only;
    int64_t epoch, total;
    double train_loss, val_loss;
    int64_t eta_ms;
    int cancel;
} job_progress_arg;

static tsa_store_status job_progress_fn(tx *t, void *arg)
{
    job_progress_arg *a = arg;
    db_val p[] = {v_text(a->id),       v_int(now_ms()),     v_int(a->epoch),
                  v_int(a->total),     v_real(a->train_loss), v_real(a->val_loss),
                  a->eta_ms >= 0 ? v_int(a->eta_ms) : v_null_int()};
    db_res r = {0};
    if (a->heartbeat_only)
        TRY(q(t,
              "UPDATE jobs SET heartbeat_at = $2 WHERE id = $1 AND state = 'running'"
              " RETURNING cancel_requested",
              p, 2, &r, NULL));
    else
        TRY(q(t,
              "UPDATE jobs SET epoch = $3, total_epochs = $4, train_loss = $5,"
              " val_loss = $6, eta_ms = $7, heartbeat_at = $2, updated_at = $2"
              " WHERE id = $1 AND state = 'running' RETURNING cancel_requested",
              p, NPARAM(p), &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return not_running(t, a->id);
    }
    a->cancel = col_int(&r, 0, 0, 0) != 0;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_progress(tsa_store *s, const char *id, int64_t epoch,
                                        int64_t total_epochs, double train_loss,
                                        double val_loss, int64_t eta_ms, int *cancel_out,
                                        char *err)
{
    clear_err(err);
    TRY(check_id(id, err));
    if (epoch < 0 || total_epochs < 0)
        return tsa_store_fail(err, TSA_STORE_INVALID, "epoch: must not be negative");
    job_progress_arg a = {id, 0, epoch, total_epochs, train_loss, val_loss, eta_ms, 0};
    TRY(run_tx(s, TX_WRITE, job_progress_fn, &a, err));
    if (cancel_out)
        *cancel_out = a.cancel;
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_heartbeat(tsa_store *s, const char *id, int *cancel_out,
                                         char *err)
{
    clear_err(err);
    TRY(check_id(id, err));
    job_progress_arg a = {id, 1, 0, 0, NAN, NAN, -1, 0};
    TRY(run_tx(s, TX_WRITE, job_progress_fn, &a, err));
    if (cancel_out)
        *cancel_out = a.cancel;
    return TSA_STORE_OK;
}

typedef struct job_get_arg {
    const char *id;
    tsa_store_job *out;
    int stop;
} job_get_arg;

static tsa_store_status job_stop_fn(tx *t, void *arg)
{
    job_get_arg *a = arg;
    db_val p[] = {v_text(a->id)};
    db_res r = {0};
    TRY(q(t, "SELECT state, cancel_requested FROM jobs WHERE id = $1", p, 1, &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "job %s not found", a->id);
    }
    const char *state = cell(&r, 0, 0)->p;
    a->stop = col_int(&r, 0, 1, 0) != 0 || !state || strcmp(state, "running") != 0;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_cancel_requested(tsa_store *s, const char *id, int *stop_out,
                                                char *err)
{
    clear_err(err);
    TRY(check_id(id, err));
    job_get_arg a = {id, NULL, 0};
    TRY(run_tx(s, TX_READ, job_stop_fn, &a, err));
    if (stop_out)
        *stop_out = a.stop;
    return TSA_STORE_OK;
}

typedef struct job_finish_arg {
    const char *id;
    tsa_store_job_state state;
    const char *result, *error;
    const tsa_store_model_in *model;
} job_finish_arg;

static tsa_store_status job_finish_fn(tx *t, void *arg)
{
    job_finish_arg *a = arg;
    db_val p[] = {v_text(a->id), v_text(job_state_names[a->state]), v_text(a->result),
                  v_text(a->error), v_int(now_ms())};
    /* Lock the row first (PostgreSQL; SQLite's IMMEDIATE transaction already
     * holds the database), so a concurrent recover cannot interleave between
     * the check and the model write. */
    db_res r = {0};
    TRY(q(t,
          t->s->dialect == DIALECT_PG ? "SELECT state FROM jobs WHERE id = $1 FOR UPDATE"
                                      : "SELECT state FROM jobs WHERE id = $1",
          p, 1, &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "job %s not found", a->id);
    }
    const char *state = cell(&r, 0, 0)->p;
    if (!state || strcmp(state, "running") != 0) {
        tsa_store_status st = tsa_store_fail(t->err, TSA_STORE_CONFLICT,
                                             "job %s is %s, not running", a->id,
                                             state ? state : "?");
        tsa_store_res_clear(&r);
        return st;
    }
    tsa_store_res_clear(&r);
    if (a->model)
        TRY(model_put_tx(t, a->model));
    return q(t,
             "UPDATE jobs SET state = $2, result = $3, error = $4, finished_at = $5,"
             " heartbeat_at = $5, updated_at = $5 WHERE id = $1",
             p, NPARAM(p), NULL, NULL);
}

tsa_store_status tsa_store_job_finish(tsa_store *s, const char *id, tsa_store_job_state state,
                                      const char *result_json, const char *error,
                                      const tsa_store_model_in *model, char *err)
{
    clear_err(err);
    TRY(check_id(id, err));
    if (state != TSA_JOB_COMPLETED && state != TSA_JOB_FAILED && state != TSA_JOB_CANCELED)
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "state: a job finishes completed, failed or canceled, not %s",
                              tsa_store_job_state_name(state));
    if (model && state != TSA_JOB_COMPLETED)
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "model: only a completed job stores a model");
    if (model)
        TRY(check_model_in(model, err));
    TRY(check_text("result", result_json, err));
    TRY(check_text("error", error, err));
    job_finish_arg a = {id, state, result_json, error, model};
    return run_tx(s, TX_WRITE, job_finish_fn, &a, err);
}

typedef struct job_cancel_arg {
    const char *id;
    tsa_store_job_state state;
} job_cancel_arg;

static tsa_store_status job_cancel_fn(tx *t, void *arg)
{
    job_cancel_arg *a = arg;
    db_val p[] = {v_text(a->id), v_int(now_ms())};
    int64_t changes = 0;
    TRY(q(t,
          "UPDATE jobs SET state = 'canceled', cancel_requested = 1, finished_at = $2,"
          " updated_at = $2 WHERE id = $1 AND state = 'queued'",
          p, NPARAM(p), NULL, &changes));
    if (changes > 0) {
        a->state = TSA_JOB_CANCELED;
        return TSA_STORE_OK;
    }
    TRY(q(t,
          "UPDATE jobs SET cancel_requested = 1, updated_at = $2"
          " WHERE id = $1 AND state = 'running'",
          p, NPARAM(p), NULL, &changes));
    if (changes > 0) {
        a->state = TSA_JOB_RUNNING;
        return TSA_STORE_OK;
    }
    db_res r = {0};
    TRY(q(t, "SELECT state FROM jobs WHERE id = $1", p, 1, &r, NULL));
    tsa_store_status st = TSA_STORE_OK;
    tsa_store_job_state js = TSA_JOB_CANCELED;
    if (r.rows == 0)
        st = tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "job %s not found", a->id);
    else if (!cell(&r, 0, 0)->p || tsa_store_job_state_parse(cell(&r, 0, 0)->p, &js) != 0)
        st = tsa_store_fail(t->err, TSA_STORE_ERROR, "job %s: unknown state", a->id);
    else if (js != TSA_JOB_CANCELED)
        st = tsa_store_fail(t->err, TSA_STORE_CONFLICT, "job %s already %s", a->id,
                            job_state_names[js]);
    a->state = js;
    tsa_store_res_clear(&r);
    return st;
}

tsa_store_status tsa_store_job_cancel(tsa_store *s, const char *id,
                                      tsa_store_job_state *state_out, char *err)
{
    clear_err(err);
    TRY(check_id(id, err));
    job_cancel_arg a = {id, TSA_JOB_QUEUED};
    TRY(run_tx(s, TX_WRITE, job_cancel_fn, &a, err));
    if (state_out)
        *state_out = a.state;
    return TSA_STORE_OK;
}

static tsa_store_status job_get_fn(tx *t, void *arg)
{
    job_get_arg *a = arg;
    db_val p[] = {v_text(a->id)};
    db_res r = {0};
    TRY(q(t, "SELECT " JOB_COLS " FROM jobs WHERE id = $1", p, 1, &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "job %s not found", a->id);
    }
    return take_job(t, &r, a->out, t->err);
}

tsa_store_status tsa_store_job_get(tsa_store *s, const char *id, tsa_store_job *out, char *err)
{
    clear_err(err);
    if (!out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "out: NULL");
    memset(out, 0, sizeof *out);
    TRY(check_id(id, err));
    job_get_arg a = {id, out, 0};
    return run_tx(s, TX_READ, job_get_fn, &a, err);
}

/* " WHERE state IN ('queued', ...)" from a mask of known states; the names
 * are constants, never caller text. */
static void state_clause(unsigned mask, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (mask == 0)
        return;
    size_t len = (size_t)snprintf(buf, cap, " WHERE state IN (");
    int first = 1;
    for (int k = 0; k < TSA_JOB_STATE_COUNT; k++)
        if (mask & TSA_JOB_MASK(k)) {
            len += (size_t)snprintf(buf + len, cap - len, "%s'%s'", first ? "" : ", ",
                                    job_state_names[k]);
            first = 0;
        }
    snprintf(buf + len, cap - len, ")");
}

typedef struct job_list_arg {
    unsigned mask;
    size_t limit, offset;
    int count_only;
    int64_t count;
    tsa_store_job *items;
    size_t n;
} job_list_arg;

static tsa_store_status job_list_fn(tx *t, void *arg)
{
    job_list_arg *a = arg;
    char where[160], sql[640];
    state_clause(a->mask, where, sizeof where);
    db_val p[] = {v_int((int64_t)a->limit), v_int((int64_t)a->offset)};
    db_res r = {0};
    if (a->count_only) {
        snprintf(sql, sizeof sql, "SELECT COUNT(*) FROM jobs%s", where);
        TRY(q(t, sql, NULL, 0, &r, NULL));
        a->count = r.rows ? col_int(&r, 0, 0, 0) : 0;
        tsa_store_res_clear(&r);
        return TSA_STORE_OK;
    }
    snprintf(sql, sizeof sql,
             "SELECT " JOB_COLS " FROM jobs%s ORDER BY created_at DESC, id LIMIT $1 OFFSET $2",
             where);
    TRY(q(t, sql, p, NPARAM(p), &r, NULL));
    if (r.rows) {
        a->items = calloc(r.rows, sizeof *a->items);
        if (!a->items) {
            tsa_store_res_clear(&r);
            return tsa_store_fail(t->err, TSA_STORE_ERROR, "out of memory");
        }
    }
    tsa_store_status st = TSA_STORE_OK;
    for (size_t k = 0; k < r.rows && st == TSA_STORE_OK; k++) {
        st = job_from_row(t, &r, k, &a->items[k], t->err);
        a->n = k + 1;
    }
    tsa_store_res_clear(&r);
    return st;
}

static tsa_store_status check_mask(unsigned mask, char *err)
{
    if (mask >> TSA_JOB_STATE_COUNT)
        return tsa_store_fail(err, TSA_STORE_INVALID, "state: unknown state in mask 0x%x",
                              mask);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_list(tsa_store *s, unsigned state_mask, size_t limit,
                                    size_t offset, tsa_store_job **items, size_t *n, char *err)
{
    clear_err(err);
    if (!items || !n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "items: NULL");
    *items = NULL;
    *n = 0;
    TRY(check_mask(state_mask, err));
    TRY(check_limit(&limit, offset, err));
    job_list_arg a = {state_mask, limit, offset, 0, 0, NULL, 0};
    tsa_store_status st = run_tx(s, TX_READ, job_list_fn, &a, err);
    if (st != TSA_STORE_OK) {
        tsa_store_jobs_free(a.items, a.n);
        return st;
    }
    *items = a.items;
    *n = a.n;
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_count(tsa_store *s, unsigned state_mask, int64_t *n, char *err)
{
    clear_err(err);
    if (!n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "n: NULL");
    TRY(check_mask(state_mask, err));
    job_list_arg a = {state_mask, 0, 0, 1, 0, NULL, 0};
    TRY(run_tx(s, TX_READ, job_list_fn, &a, err));
    *n = a.count;
    return TSA_STORE_OK;
}

typedef struct job_recover_arg {
    const char *worker_id;
    int64_t stale_after_ms;
    int64_t marked;
} job_recover_arg;

static tsa_store_status job_interrupt_own_fn(tx *t, void *arg)
{
    job_recover_arg *a = arg;
    tsa_store *s = t->s;
    db_val p[] = {v_text(s->hostname), v_int(s->pid), v_int(s->proc_start),
                  v_text(a->worker_id), v_int(now_ms()),
                  v_text("interrupted: the service stopped while the job ran")};
    int64_t changes = 0;
    TRY(q(t,
          "UPDATE jobs SET state = 'interrupted', error = $6, finished_at = $5,"
          " updated_at = $5 WHERE state = 'running' AND hostname = $1 AND pid = $2"
          " AND proc_start = $3 AND ($4 IS NULL OR worker_id = $4)",
          p, NPARAM(p), NULL, &changes));
    a->marked = changes;
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_interrupt_own(tsa_store *s, const char *worker_id,
                                             int64_t *n_out, char *err)
{
    clear_err(err);
    TRY(check_name("worker_id", worker_id, TSA_STORE_MAX_NAME, 0, err));
    job_recover_arg a = {worker_id, 0, 0};
    TRY(run_tx(s, TX_WRITE, job_interrupt_own_fn, &a, err));
    if (n_out)
        *n_out = a.marked;
    return TSA_STORE_OK;
}

static tsa_store_status job_recover_fn(tx *t, void *arg)
{
    job_recover_arg *a = arg;
    tsa_store *s = t->s;
    int64_t now = now_ms();
    db_val host[] = {v_text(s->hostname)};
    db_res r = {0};
    TRY(q(t, "SELECT id, pid, proc_start FROM jobs WHERE state = 'running' AND hostname = $1",
          host, 1, &r, NULL));
    for (size_t k = 0; k < r.rows; k++) {
        if (!process_gone(col_int(&r, k, 1, 0), col_int(&r, k, 2, 0)))
            continue;
        db_val p[] = {v_text(cell(&r, k, 0)->p), v_int(now),
                      v_text("interrupted: the worker process is gone")};
        int64_t changes = 0;
        tsa_store_status st = q(t,
                                "UPDATE jobs SET state = 'interrupted', error = $3,"
                                " finished_at = $2, updated_at = $2"
                                " WHERE id = $1 AND state = 'running'",
                                p, NPARAM(p), NULL, &changes);
        if (st != TSA_STORE_OK) {
            tsa_store_res_clear(&r);
            return st;
        }
        a->marked += changes;
    }
    tsa_store_res_clear(&r);
    if (a->stale_after_ms > 0) {
        db_val p[] = {v_int(now - a->stale_after_ms), v_int(now),
                      v_text("interrupted: the worker stopped sending heartbeats")};
        int64_t changes = 0;
        /* PostgreSQL: rows a frozen worker still locks are skipped (taken
         * at a later sweep, once its transaction timed out) rather than
         * stalling this worker behind them. */
        TRY(q(t,
              s->dialect == DIALECT_PG
                  ? "UPDATE jobs SET state = 'interrupted', error = $3, finished_at = $2,"
                    " updated_at = $2 WHERE id IN (SELECT id FROM jobs WHERE state = 'running'"
                    " AND heartbeat_at < $1 FOR UPDATE SKIP LOCKED)"
                  : "UPDATE jobs SET state = 'interrupted', error = $3, finished_at = $2,"
                    " updated_at = $2 WHERE state = 'running' AND heartbeat_at < $1",
              p, NPARAM(p), NULL, &changes));
        a->marked += changes;
    }
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_job_recover(tsa_store *s, int64_t stale_after_ms, int64_t *n_out,
                                       char *err)
{
    clear_err(err);
    job_recover_arg a = {NULL, stale_after_ms, 0};
    TRY(run_tx(s, TX_WRITE, job_recover_fn, &a, err));
    if (n_out)
        *n_out = a.marked;
    return TSA_STORE_OK;
}

/* ------------------------------------------------------------------------ */
/* Results                                                                   */
/* ------------------------------------------------------------------------ */

#define RESULT_COLS "id, kind, owner, request, result, created_at"

/* @soft (lists): payloads that cannot be decrypted become NULL with
 * o->sealed = 1 instead of failing the call. */
static tsa_store_status result_from_row(tx *t, db_res *r, size_t row, tsa_store_result *o,
                                        int soft, char *err)
{
    memset(o, 0, sizeof *o);
    col_copy(r, row, 0, o->id, sizeof o->id);
    for (size_t col = 3; col <= 4; col++) {
        tsa_store_status st = unseal_cell(t, cell(r, row, col),
                                          col == 3 ? "results.request" : "results.result", o->id,
                                          "result", o->id);
        if (st == TSA_STORE_OK)
            continue;
        if (!soft)
            return st;
        o->sealed = 1;
    }
    if (o->sealed) {
        free(cell(r, row, 3)->p);
        free(cell(r, row, 4)->p);
        cell(r, row, 3)->p = cell(r, row, 4)->p = NULL;
    }
    o->kind = col_take(r, row, 1);
    o->owner = col_take(r, row, 2);
    o->request_json = col_take(r, row, 3);
    o->result_json = col_take(r, row, 4);
    o->created_ms = col_int(r, row, 5, 0);
    if (!o->kind || (!o->sealed && (!o->request_json || !o->result_json)))
        return tsa_store_fail(err, TSA_STORE_ERROR, "result %s: incomplete row", o->id);
    return TSA_STORE_OK;
}

void tsa_store_result_clear(tsa_store_result *r)
{
    if (!r)
        return;
    free(r->kind);
    free(r->owner);
    free(r->request_json);
    free(r->result_json);
    memset(r, 0, sizeof *r);
}

void tsa_store_results_free(tsa_store_result *items, size_t n)
{
    if (!items)
        return;
    for (size_t k = 0; k < n; k++)
        tsa_store_result_clear(&items[k]);
    free(items);
}

typedef struct result_arg {
    const char *id, *kind, *owner, *request, *result;
    size_t limit, offset;
    tsa_store_result *one;
    tsa_store_result *items;
    size_t n;
} result_arg;

static tsa_store_status result_put_fn(tx *t, void *arg)
{
    result_arg *a = arg;
    char *request, *result;
    TRY(seal_text(t, a->request, "results.request", a->id, &request));
    tsa_store_status st = seal_text(t, a->result, "results.result", a->id, &result);
    if (st != TSA_STORE_OK) {
        free(request);
        return st;
    }
    db_val p[] = {v_text(a->id), v_text(a->kind), v_text(a->owner),
                  v_text(request ? request : a->request), v_text(result ? result : a->result),
                  v_int(now_ms())};
    st = q(t, "INSERT INTO results (" RESULT_COLS ") VALUES ($1, $2, $3, $4, $5, $6)", p,
           NPARAM(p), NULL, NULL);
    free(request);
    free(result);
    return st;
}

tsa_store_status tsa_store_result_put(tsa_store *s, const char *kind, const char *owner,
                                      const char *request_json, const char *result_json,
                                      char id_out[37], char *err)
{
    clear_err(err);
    if (!id_out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "id_out: NULL");
    TRY(check_name("kind", kind, TSA_STORE_MAX_TAG, 1, err));
    TRY(check_name("owner", owner, TSA_STORE_MAX_NAME, 0, err));
    if (!result_json)
        return tsa_store_fail(err, TSA_STORE_INVALID, "result: required");
    TRY(check_text("request", request_json, err));
    TRY(check_text("result", result_json, err));
    char id[37];
    TRY(new_uuid(id, err));
    result_arg a = {id, kind, owner, request_json ? request_json : "{}", result_json, 0, 0,
                    NULL, NULL, 0};
    TRY(run_tx(s, TX_WRITE, result_put_fn, &a, err));
    memcpy(id_out, id, sizeof id);
    return TSA_STORE_OK;
}

static tsa_store_status result_get_fn(tx *t, void *arg)
{
    result_arg *a = arg;
    db_val p[] = {v_text(a->id)};
    db_res r = {0};
    TRY(q(t, "SELECT " RESULT_COLS " FROM results WHERE id = $1", p, 1, &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "result %s not found", a->id);
    }
    tsa_store_result o;
    tsa_store_status st = result_from_row(t, &r, 0, &o, 0, t->err);
    tsa_store_res_clear(&r);
    if (st != TSA_STORE_OK) {
        tsa_store_result_clear(&o);
        return st;
    }
    *a->one = o;
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_result_get(tsa_store *s, const char *id, tsa_store_result *out,
                                      char *err)
{
    clear_err(err);
    if (!out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "out: NULL");
    memset(out, 0, sizeof *out);
    TRY(check_id(id, err));
    result_arg a = {.id = id, .one = out};
    return run_tx(s, TX_READ, result_get_fn, &a, err);
}

static tsa_store_status result_list_fn(tx *t, void *arg)
{
    result_arg *a = arg;
    db_val p[] = {v_text(a->kind), v_int((int64_t)a->limit), v_int((int64_t)a->offset)};
    db_res r = {0};
    TRY(q(t,
          "SELECT " RESULT_COLS " FROM results WHERE ($1 IS NULL OR kind = $1)"
          " ORDER BY created_at DESC, id LIMIT $2 OFFSET $3",
          p, NPARAM(p), &r, NULL));
    if (r.rows) {
        a->items = calloc(r.rows, sizeof *a->items);
        if (!a->items) {
            tsa_store_res_clear(&r);
            return tsa_store_fail(t->err, TSA_STORE_ERROR, "out of memory");
        }
    }
    tsa_store_status st = TSA_STORE_OK;
    for (size_t k = 0; k < r.rows && st == TSA_STORE_OK; k++) {
        st = result_from_row(t, &r, k, &a->items[k], 1, t->err);
        a->n = k + 1;
    }
    tsa_store_res_clear(&r);
    return st;
}

tsa_store_status tsa_store_result_list(tsa_store *s, const char *kind, size_t limit,
                                       size_t offset, tsa_store_result **items, size_t *n,
                                       char *err)
{
    clear_err(err);
    if (!items || !n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "items: NULL");
    *items = NULL;
    *n = 0;
    TRY(check_name("kind", kind, TSA_STORE_MAX_TAG, 0, err));
    TRY(check_limit(&limit, offset, err));
    result_arg a = {.kind = kind, .limit = limit, .offset = offset};
    tsa_store_status st = run_tx(s, TX_READ, result_list_fn, &a, err);
    if (st != TSA_STORE_OK) {
        tsa_store_results_free(a.items, a.n);
        return st;
    }
    *items = a.items;
    *n = a.n;
    return TSA_STORE_OK;
}

static tsa_store_status result_delete_fn(tx *t, void *arg)
{
    result_arg *a = arg;
    db_val p[] = {v_text(a->id)};
    int64_t changes = 0;
    TRY(q(t, "DELETE FROM results WHERE id = $1", p, 1, NULL, &changes));
    if (changes == 0)
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "result %s not found", a->id);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_result_delete(tsa_store *s, const char *id, char *err)
{
    clear_err(err);
    TRY(check_id(id, err));
    result_arg a = {.id = id};
    return run_tx(s, TX_WRITE, result_delete_fn, &a, err);
}

/* ------------------------------------------------------------------------ */
/* Key rotation                                                              */
/* ------------------------------------------------------------------------ */

/* The encrypted columns, per table, and the column naming the row (the
 * row identity of the envelopes). */
typedef struct sealed_table {
    const char *table, *key_col;
    const char *cols[2];
    const char *labels[2];
    const char *what;
} sealed_table;

static const sealed_table sealed_tables[] = {
    {"models", "name", {"blob", NULL}, {"models.blob", NULL}, "model"},
    {"jobs", "id", {"request", NULL}, {"jobs.request", NULL}, "job"},
    {"results", "id", {"request", "result"}, {"results.request", "results.result"}, "result"},
};

#define REKEY_PAGE 200

typedef struct rekey_arg {
    const sealed_table *tab;
    const char *after; /* paging: keys greater than this */
    char **keys;
    size_t n;
    const char *row;   /* the row to re-encrypt */
    int changed;
} rekey_arg;

static tsa_store_status rekey_page_fn(tx *t, void *arg)
{
    rekey_arg *a = arg;
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT %s FROM %s WHERE %s > $1 ORDER BY %s LIMIT %d",
             a->tab->key_col, a->tab->table, a->tab->key_col, a->tab->key_col, REKEY_PAGE);
    db_val p[] = {v_text(a->after)};
    db_res r = {0};
    TRY(q(t, sql, p, NPARAM(p), &r, NULL));
    a->keys = r.rows ? calloc(r.rows, sizeof *a->keys) : NULL;
    if (r.rows && !a->keys) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_ERROR, "out of memory");
    }
    for (size_t k = 0; k < r.rows; k++)
        a->keys[k] = col_take(&r, k, 0);
    a->n = r.rows;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

static int cell_current(const store_keyring *kr, const db_cell *c)
{
    if (c->type == DB_NULL || !c->p)
        return 1; /* nothing to encrypt */
    if (c->type == DB_BLOB)
        return store_sealed_current(kr, c->p, c->n);
    return store_sealed_text_current(kr, c->p);
}

/* One row: decrypt what is not under the current key, encrypt it again. */
static tsa_store_status rekey_row_fn(tx *t, void *arg)
{
    rekey_arg *a = arg;
    const sealed_table *tab = a->tab;
    const store_keyring *kr = &t->s->keys;
    size_t ncols = tab->cols[1] ? 2 : 1;
    char sql[200];
    snprintf(sql, sizeof sql, "SELECT %s%s%s FROM %s WHERE %s = $1%s", tab->cols[0],
             ncols > 1 ? ", " : "", ncols > 1 ? tab->cols[1] : "", tab->table, tab->key_col,
             t->s->dialect == DIALECT_PG ? " FOR UPDATE" : "");
    db_val p[] = {v_text(a->row)};
    db_res r = {0};
    TRY(q(t, sql, p, NPARAM(p), &r, NULL));
    a->changed = 0;
    if (r.rows == 0) { /* deleted meanwhile */
        tsa_store_res_clear(&r);
        return TSA_STORE_OK;
    }
    tsa_store_status st = TSA_STORE_OK;
    db_val up[3] = {v_text(a->row)};
    unsigned char *sealed[2] = {NULL, NULL};
    for (size_t k = 0; k < ncols && st == TSA_STORE_OK; k++) {
        db_cell *c = cell(&r, 0, k);
        up[k + 1] = c->type == DB_BLOB ? v_blob(c->p, c->n) : v_text(c->p);
        if (cell_current(kr, c))
            continue;
        st = unseal_cell(t, c, tab->labels[k], a->row, tab->what, a->row);
        if (st != TSA_STORE_OK)
            break;
        size_t n = 0;
        if (c->type == DB_BLOB) {
            st = store_seal(kr, c->p, c->n, tab->labels[k], a->row, &sealed[k], &n, t->err);
            up[k + 1] = v_blob(sealed[k], n);
        } else {
            char *text = NULL;
            st = store_seal_text(kr, c->p, tab->labels[k], a->row, &text, t->err);
            sealed[k] = (unsigned char *)text;
            up[k + 1] = v_text(text);
        }
        a->changed = 1;
    }
    if (st == TSA_STORE_OK && a->changed) {
        snprintf(sql, sizeof sql, "UPDATE %s SET %s = $2%s%s%s WHERE %s = $1", tab->table,
                 tab->cols[0], ncols > 1 ? ", " : "", ncols > 1 ? tab->cols[1] : "",
                 ncols > 1 ? " = $3" : "", tab->key_col);
        st = q(t, sql, up, ncols + 1, NULL, NULL);
    }
    free(sealed[0]);
    free(sealed[1]);
    tsa_store_res_clear(&r);
    return st;
}

tsa_store_status tsa_store_rekey(tsa_store *s, tsa_store_rekey_stats *stats, char *err)
{
    clear_err(err);
    tsa_store_rekey_stats total = {0};
    if (!s->keys.has_current)
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "TSA_ENCRYPTION_KEY: required to re-encrypt the store");
    tsa_store_status st = TSA_STORE_OK;
    for (size_t tk = 0; tk < NPARAM(sealed_tables) && st == TSA_STORE_OK; tk++) {
        char *after = strdup("");
        if (!after)
            return tsa_store_fail(err, TSA_STORE_ERROR, "out of memory");
        for (;;) {
            rekey_arg page = {.tab = &sealed_tables[tk], .after = after};
            st = run_tx(s, TX_READ, rekey_page_fn, &page, err);
            for (size_t k = 0; k < page.n && st == TSA_STORE_OK; k++) {
                rekey_arg row = {.tab = &sealed_tables[tk], .row = page.keys[k]};
                st = run_tx(s, TX_WRITE, rekey_row_fn, &row, err);
                if (st != TSA_STORE_OK)
                    break;
                int64_t *count = tk == 0 ? &total.models : tk == 1 ? &total.jobs : &total.results;
                *count += row.changed;
                total.unchanged += !row.changed;
            }
            size_t n = page.n;
            if (n > 0 && st == TSA_STORE_OK) {
                free(after);
                after = page.keys[n - 1];
                page.keys[n - 1] = NULL;
            }
            for (size_t k = 0; k < n; k++)
                free(page.keys[k]);
            free(page.keys);
            if (st != TSA_STORE_OK || n < REKEY_PAGE)
                break;
        }
        free(after);
    }
    if (stats)
        *stats = total;
    return st;
}

/* ------------------------------------------------------------------------ */
/* Audit log                                                                 */
/* ------------------------------------------------------------------------ */

typedef struct audit_arg {
    const char *actor, *action, *target, *detail;
    int64_t id;
    size_t limit, offset;
    tsa_store_audit *items;
    size_t n;
} audit_arg;

static tsa_store_status audit_append_fn(tx *t, void *arg)
{
    audit_arg *a = arg;
    db_val p[] = {v_int(now_ms()), v_text(a->actor), v_text(a->action), v_text(a->target),
                  v_text(a->detail)};
    db_res r = {0};
    TRY(q(t,
          "INSERT INTO audit_log (at, actor, action, target, detail)"
          " VALUES ($1, $2, $3, $4, $5) RETURNING id",
          p, NPARAM(p), &r, NULL));
    a->id = r.rows ? col_int(&r, 0, 0, 0) : 0;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_audit_append(tsa_store *s, const char *actor, const char *action,
                                        const char *target, const char *detail_json,
                                        int64_t *id_out, char *err)
{
    clear_err(err);
    TRY(check_name("actor", actor, TSA_STORE_MAX_NAME, 0, err));
    TRY(check_name("action", action, TSA_STORE_MAX_TAG, 1, err));
    TRY(check_text("target", target, err));
    TRY(check_text("detail", detail_json, err));
    audit_arg a = {.actor = actor, .action = action, .target = target, .detail = detail_json};
    TRY(run_tx(s, TX_WRITE, audit_append_fn, &a, err));
    if (id_out)
        *id_out = a.id;
    return TSA_STORE_OK;
}

static tsa_store_status audit_list_fn(tx *t, void *arg)
{
    audit_arg *a = arg;
    db_val p[] = {v_text(a->actor), v_int((int64_t)a->limit), v_int((int64_t)a->offset)};
    db_res r = {0};
    TRY(q(t,
          "SELECT id, at, actor, action, target, detail FROM audit_log"
          " WHERE ($1 IS NULL OR actor = $1) ORDER BY id DESC LIMIT $2 OFFSET $3",
          p, NPARAM(p), &r, NULL));
    if (r.rows) {
        a->items = calloc(r.rows, sizeof *a->items);
        if (!a->items) {
            tsa_store_res_clear(&r);
            return tsa_store_fail(t->err, TSA_STORE_ERROR, "out of memory");
        }
    }
    for (size_t k = 0; k < r.rows; k++) {
        tsa_store_audit *e = &a->items[k];
        e->id = col_int(&r, k, 0, 0);
        e->at_ms = col_int(&r, k, 1, 0);
        e->actor = col_take(&r, k, 2);
        e->action = col_take(&r, k, 3);
        e->target = col_take(&r, k, 4);
        e->detail_json = col_take(&r, k, 5);
    }
    a->n = r.rows;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_audit_list(tsa_store *s, const char *actor, size_t limit,
                                      size_t offset, tsa_store_audit **items, size_t *n,
                                      char *err)
{
    clear_err(err);
    if (!items || !n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "items: NULL");
    *items = NULL;
    *n = 0;
    TRY(check_name("actor", actor, TSA_STORE_MAX_NAME, 0, err));
    TRY(check_limit(&limit, offset, err));
    audit_arg a = {.actor = actor, .limit = limit, .offset = offset};
    tsa_store_status st = run_tx(s, TX_READ, audit_list_fn, &a, err);
    if (st != TSA_STORE_OK) {
        tsa_store_audits_free(a.items, a.n);
        return st;
    }
    *items = a.items;
    *n = a.n;
    return TSA_STORE_OK;
}

void tsa_store_audits_free(tsa_store_audit *items, size_t n)
{
    if (!items)
        return;
    for (size_t k = 0; k < n; k++) {
        free(items[k].actor);
        free(items[k].action);
        free(items[k].target);
        free(items[k].detail_json);
    }
    free(items);
}

/* ------------------------------------------------------------------------ */
/* API keys                                                                  */
/* ------------------------------------------------------------------------ */

tsa_store_status tsa_store_hash_key(const char *key, size_t len, char out[65], char *err)
{
    clear_err(err);
    if (!key || len == 0 || !out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "key: empty");
    return sha256_hex(key, len, out, err);
}

/* Hashes are compared as lowercase hex. */
static tsa_store_status norm_hash(const char *in, char out[65], char *err)
{
    if (!in || strlen(in) != 64)
        return tsa_store_fail(err, TSA_STORE_INVALID, "key_hash: not 64 hex digits");
    for (int k = 0; k < 64; k++) {
        char ch = in[k];
        if (ch >= 'A' && ch <= 'F')
            ch = (char)(ch - 'A' + 'a');
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
            return tsa_store_fail(err, TSA_STORE_INVALID, "key_hash: not 64 hex digits");
        out[k] = ch;
    }
    out[64] = '\0';
    return TSA_STORE_OK;
}

static int role_ok(const char *role)
{
    return role && (strcmp(role, "viewer") == 0 || strcmp(role, "trainer") == 0 ||
                    strcmp(role, "admin") == 0);
}

typedef struct apikey_arg {
    const char *hash, *role, *name;
    tsa_store_apikey *one;
    tsa_store_apikey *items;
    size_t n;
    int64_t count;
} apikey_arg;

static tsa_store_status apikey_put_fn(tx *t, void *arg)
{
    apikey_arg *a = arg;
    db_val p[] = {v_text(a->hash), v_text(a->name), v_text(a->role), v_int(now_ms())};
    tsa_store_status st = q(t,
                            "INSERT INTO api_keys (key_hash, name, role, created_at)"
                            " VALUES ($1, $2, $3, $4)",
                            p, NPARAM(p), NULL, NULL);
    if (st == TSA_STORE_CONFLICT)
        /* Never echo the hash: the message may reach a log. */
        return tsa_store_fail(t->err, TSA_STORE_CONFLICT,
                              "an API key named '%s' or with this hash exists", a->name);
    return st;
}

tsa_store_status tsa_store_apikey_put(tsa_store *s, const char *key_hash, const char *role,
                                      const char *name, char *err)
{
    clear_err(err);
    char hash[65];
    TRY(norm_hash(key_hash, hash, err));
    if (!role_ok(role))
        return tsa_store_fail(err, TSA_STORE_INVALID,
                              "role: must be \"viewer\", \"trainer\" or \"admin\"");
    TRY(check_name("name", name, TSA_STORE_MAX_NAME, 1, err));
    apikey_arg a = {.hash = hash, .role = role, .name = name};
    return run_tx(s, TX_WRITE, apikey_put_fn, &a, err);
}

static void apikey_from_row(db_res *r, size_t row, tsa_store_apikey *k)
{
    memset(k, 0, sizeof *k);
    col_copy(r, row, 0, k->key_hash, sizeof k->key_hash);
    k->name = col_take(r, row, 1);
    col_copy(r, row, 2, k->role, sizeof k->role);
    k->created_ms = col_int(r, row, 3, 0);
}

static tsa_store_status apikey_lookup_fn(tx *t, void *arg)
{
    apikey_arg *a = arg;
    db_val p[] = {v_text(a->hash)};
    db_res r = {0};
    TRY(q(t, "SELECT key_hash, name, role, created_at FROM api_keys WHERE key_hash = $1", p,
          1, &r, NULL));
    if (r.rows == 0) {
        tsa_store_res_clear(&r);
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "unknown API key");
    }
    apikey_from_row(&r, 0, a->one);
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_apikey_lookup(tsa_store *s, const char *key_hash,
                                         tsa_store_apikey *out, char *err)
{
    clear_err(err);
    if (!out)
        return tsa_store_fail(err, TSA_STORE_INVALID, "out: NULL");
    memset(out, 0, sizeof *out);
    char hash[65];
    TRY(norm_hash(key_hash, hash, err));
    apikey_arg a = {.hash = hash, .one = out};
    return run_tx(s, TX_READ, apikey_lookup_fn, &a, err);
}

static tsa_store_status apikey_delete_fn(tx *t, void *arg)
{
    apikey_arg *a = arg;
    db_val p[] = {v_text(a->name)};
    int64_t changes = 0;
    TRY(q(t, "DELETE FROM api_keys WHERE name = $1", p, 1, NULL, &changes));
    if (changes == 0)
        return tsa_store_fail(t->err, TSA_STORE_NOT_FOUND, "no API key named '%s'", a->name);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_apikey_delete(tsa_store *s, const char *name, char *err)
{
    clear_err(err);
    TRY(check_name("name", name, TSA_STORE_MAX_NAME, 1, err));
    apikey_arg a = {.name = name};
    return run_tx(s, TX_WRITE, apikey_delete_fn, &a, err);
}

static tsa_store_status apikey_list_fn(tx *t, void *arg)
{
    apikey_arg *a = arg;
    db_val p[] = {v_int(TSA_STORE_MAX_LIST)};
    db_res r = {0};
    TRY(q(t, "SELECT key_hash, name, role, created_at FROM api_keys ORDER BY name LIMIT $1", p,
          1, &r, NULL));
    if (r.rows) {
        a->items = calloc(r.rows, sizeof *a->items);
        if (!a->items) {
            tsa_store_res_clear(&r);
            return tsa_store_fail(t->err, TSA_STORE_ERROR, "out of memory");
        }
    }
    for (size_t k = 0; k < r.rows; k++)
        apikey_from_row(&r, k, &a->items[k]);
    a->n = r.rows;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_apikey_list(tsa_store *s, tsa_store_apikey **items, size_t *n,
                                       char *err)
{
    clear_err(err);
    if (!items || !n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "items: NULL");
    *items = NULL;
    *n = 0;
    apikey_arg a = {0};
    tsa_store_status st = run_tx(s, TX_READ, apikey_list_fn, &a, err);
    if (st != TSA_STORE_OK) {
        tsa_store_apikeys_free(a.items, a.n);
        return st;
    }
    *items = a.items;
    *n = a.n;
    return TSA_STORE_OK;
}

static tsa_store_status apikey_count_fn(tx *t, void *arg)
{
    apikey_arg *a = arg;
    db_res r = {0};
    TRY(q(t, "SELECT COUNT(*) FROM api_keys", NULL, 0, &r, NULL));
    a->count = r.rows ? col_int(&r, 0, 0, 0) : 0;
    tsa_store_res_clear(&r);
    return TSA_STORE_OK;
}

tsa_store_status tsa_store_apikey_count(tsa_store *s, int64_t *n, char *err)
{
    clear_err(err);
    if (!n)
        return tsa_store_fail(err, TSA_STORE_INVALID, "n: NULL");
    apikey_arg a = {0};
    TRY(run_tx(s, TX_READ, apikey_count_fn, &a, err));
    *n = a.count;
    return TSA_STORE_OK;
}

void tsa_store_apikey_clear(tsa_store_apikey *k)
{
    if (!k)
        return;
    free(k->name);
    memset(k, 0, sizeof *k);
}

void tsa_store_apikeys_free(tsa_store_apikey *items, size_t n)
{
    if (!items)
        return;
    for (size_t k = 0; k < n; k++)
        tsa_store_apikey_clear(&items[k]);
    free(items);
}
