/* The services' store (servers/common/store.c) against SQLite in a temporary
 * directory and, when TSA_TEST_PG_URL names a PostgreSQL database, against
 * that server too (each case in a schema of its own, dropped afterwards, so
 * runs can share a server). Without the variable the PostgreSQL cases are
 * reported as skipped. */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "harness.h"
#include "store.h"
#include "store_crypt.h"

static char tmp_dir[256];
static const char *pg_base;

#define CHECK_ST(expr, expected)                                                        \
    do {                                                                               \
        tsa_store_status cs_ = (expr);                                                 \
        if (cs_ != (expected)) {                                                       \
            printf("#   %s:%d: %s returned %s (%s), expected %s\n", __FILE__, __LINE__,  \
                   #expr, tsa_store_status_name(cs_), err, tsa_store_status_name(expected)); \
            harness_failures_++;                                                       \
        }                                                                              \
    } while (0)
#define CHECK_SOK(expr) CHECK_ST(expr, TSA_STORE_OK)

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- one database per case ---------------------------------------------- */

typedef struct ctx {
    int pg;
    char url[1024];
    char schema[64];
    char path[512];
} ctx;

static void quiet_notice(void *arg, const char *message)
{
    (void)arg;
    (void)message;
}

static PGconn *pg_connect(const char *url)
{
    PGconn *c = PQconnectdb(url);
    if (PQstatus(c) != CONNECTION_OK) {
        printf("#   cannot connect to %s: %s", url, PQerrorMessage(c));
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    return c;
}

/* Runs @sql on @url; the first value of the first row as an integer (0 when
 * none), or -1 on failure. */
static long long pg_query(const char *url, const char *sql)
{
    PGconn *c = pg_connect(url);
    if (!c)
        return -1;
    PGresult *r = PQexec(c, sql);
    long long v = -1;
    if (PQresultStatus(r) == PGRES_COMMAND_OK)
        v = 0;
    else if (PQresultStatus(r) == PGRES_TUPLES_OK)
        v = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 0;
    else
        printf("#   %s: %s", sql, PQresultErrorMessage(r));
    PQclear(r);
    PQfinish(c);
    return v;
}

static int pg_run(const char *sql) { return pg_query(pg_base, sql) < 0 ? -1 : 0; }

static unsigned case_counter;

static int ctx_init(ctx *c, int pg, const char *tag)
{
    memset(c, 0, sizeof *c);
    c->pg = pg;
    case_counter++;
    if (!pg) {
        snprintf(c->path, sizeof c->path, "%s/%s-%u.db", tmp_dir, tag, case_counter);
        snprintf(c->url, sizeof c->url, "sqlite:%s", c->path);
        return 0;
    }
    snprintf(c->schema, sizeof c->schema, "tsa_test_%d_%u_%ld", (int)getpid(), case_counter,
             (long)(time(NULL) % 100000));
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE SCHEMA %s", c->schema);
    if (pg_run(sql) != 0)
        return -1;
    /* The schema goes first on the search path; application_name tells this
     * case's connections apart from other runs on the same server. */
    snprintf(c->url, sizeof c->url, "%s%soptions=-csearch_path%%3D%s&application_name=%s",
             pg_base, strchr(pg_base, '?') ? "&" : "?", c->schema, c->schema);
    return 0;
}

static void ctx_done(ctx *c)
{
    if (c->pg) {
        char sql[128];
        snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", c->schema);
        pg_run(sql);
    }
}

/* Runs one statement directly on the case's database, around the store. */
static int raw_exec(const ctx *c, const char *sql)
{
    if (c->pg)
        return pg_query(c->url, sql) < 0 ? -1 : 0;
    sqlite3 *db = NULL;
    int rc = sqlite3_open(c->path, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
        if (rc != SQLITE_OK)
            printf("#   %s: %s\n", sql, sqlite3_errmsg(db));
    }
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* The first column of the first row of @sql, as an integer; -1 on failure. */
static long long raw_int(const ctx *c, const char *sql)
{
    if (c->pg)
        return pg_query(c->url, sql);
    long long v = -1;
    sqlite3 *db = NULL;
    sqlite3_stmt *stmt = NULL;
    if (sqlite3_open(c->path, &db) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) == SQLITE_OK &&
        sqlite3_step(stmt) == SQLITE_ROW)
        v = sqlite3_column_int64(stmt, 0);
    sqlite3_finalize(stmt);
    sqlite3_close(db);
    return v;
}

static tsa_store *open_ctx(const ctx *c)
{
    char err[TSA_STORE_ERR_LEN];
    tsa_store *s = NULL;
    tsa_store_status st = tsa_store_open(c->url, NULL, &s, err);
    if (st != TSA_STORE_OK) {
        printf("#   open %s: %s: %s\n", c->url, tsa_store_status_name(st), err);
        harness_failures_++;
        return NULL;
    }
    return s;
}

static void fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9e3779b97f4a7c15ull + 1;
    for (size_t k = 0; k < n; k++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[k] = (unsigned char)(x >> 24);
    }
}

static tsa_store_model_in model_in(const char *name, const char *task, const char *kind,
                                   const void *blob, size_t len)
{
    tsa_store_model_in m = {0};
    m.name = name;
    m.kind = kind;
    m.task = task;
    m.params_json = "{\"p\":2}";
    m.metrics_json = "{\"rmse\":0.5}";
    m.owner = "alice";
    m.blob = blob;
    m.blob_len = len;
    return m;
}

/* ---- migrations ---------------------------------------------------------- */

typedef struct open_arg {
    const char *url;
    tsa_store_status st;
    char err[TSA_STORE_ERR_LEN];
} open_arg;

static void *open_thread(void *p)
{
    open_arg *a = p;
    tsa_store *s = NULL;
    a->st = tsa_store_open(a->url, NULL, &s, a->err);
    tsa_store_close(s);
    return NULL;
}

static void t_migrations(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "migrations") != 0) {
        CHECK(0);
        return;
    }
    /* Openers racing on an empty database: one migrates, the rest find the
     * schema in place. */
    pthread_t th[4];
    open_arg args[4];
    for (int k = 0; k < 4; k++) {
        args[k].url = c.url;
        pthread_create(&th[k], NULL, open_thread, &args[k]);
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        CHECK_MSG(args[k].st == TSA_STORE_OK, "concurrent open %d: %s", k, args[k].err);
    }
    tsa_store *s = open_ctx(&c);
    tsa_store *s2 = open_ctx(&c);
    if (!s || !s2) {
        tsa_store_close(s);
        tsa_store_close(s2);
        ctx_done(&c);
        return;
    }
    CHECK(strcmp(tsa_store_backend(s), pg ? "postgresql" : "sqlite") == 0);
    CHECK(tsa_store_schema_version() >= 1);
    CHECK_SOK(tsa_store_ping(s, err));
    /* Data written through one handle survives reopening (no re-migration). */
    unsigned char blob[4] = {1, 2, 3, 4};
    tsa_store_model_in m = model_in("kept", "forecasting", "multivariate", blob, 4);
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    tsa_store_close(s);
    s = open_ctx(&c);
    int64_t n = -1;
    if (s)
        CHECK_SOK(tsa_store_model_count(s, NULL, &n, err));
    CHECK(n == 1);
    tsa_store_close(s);
    tsa_store_close(s2);

    /* Exactly one row per applied version, however many opened. */
    CHECK(raw_int(&c, "SELECT COUNT(*) FROM schema_migrations") == tsa_store_schema_version());
    CHECK(raw_int(&c, "SELECT MAX(version) FROM schema_migrations") ==
          tsa_store_schema_version());

    /* A database migrated by a newer build is refused, not damaged. */
    CHECK(raw_exec(&c, "INSERT INTO schema_migrations (version, applied_at) VALUES (999, 0)") ==
          0);
    tsa_store *s3 = NULL;
    CHECK_ST(tsa_store_open(c.url, NULL, &s3, err), TSA_STORE_ERROR);
    CHECK(s3 == NULL);
    CHECK_MSG(strstr(err, "newer") != NULL, "message: %s", err);
    ctx_done(&c);
}

/* ---- models -------------------------------------------------------------- */

static void t_models(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "models") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    unsigned char blob[100];
    fill_random(blob, sizeof blob, 1);
    const char *names[] = {"m-b", "m-a", "m-c", "m-d"};
    const char *tasks[] = {"forecasting", "anomaly", "forecasting", "forecasting"};
    const char *kinds[] = {"multivariate", "hmm", "prophet", "multivariate"};
    for (int k = 0; k < 4; k++) {
        tsa_store_model_in m = model_in(names[k], tasks[k], kinds[k], blob, sizeof blob - (size_t)k);
        CHECK_SOK(tsa_store_model_put(s, &m, err));
    }

    tsa_store_model got;
    CHECK_SOK(tsa_store_model_get(s, "m-c", &got, err));
    CHECK(got.name && strcmp(got.name, "m-c") == 0);
    CHECK(got.kind && strcmp(got.kind, "prophet") == 0);
    CHECK(got.task && strcmp(got.task, "forecasting") == 0);
    CHECK(got.params_json && strcmp(got.params_json, "{\"p\":2}") == 0);
    CHECK(got.metrics_json && strcmp(got.metrics_json, "{\"rmse\":0.5}") == 0);
    CHECK(got.owner && strcmp(got.owner, "alice") == 0);
    CHECK(got.blob_len == sizeof blob - 2);
    CHECK(got.blob && memcmp(got.blob, blob, sizeof blob - 2) == 0);
    CHECK(strlen(got.blob_sha256) == 64);
    CHECK(got.created_ms > 1600000000000LL && got.updated_ms == got.created_ms);
    int64_t created = got.created_ms;
    tsa_store_model_clear(&got);

    CHECK_SOK(tsa_store_model_get_meta(s, "m-a", &got, err));
    CHECK(got.blob == NULL && got.blob_len == sizeof blob - 1);
    CHECK(got.task && strcmp(got.task, "anomaly") == 0);
    int64_t version = -1;
    CHECK_SOK(tsa_store_model_version(s, "m-a", &version, err));
    CHECK(version == got.updated_ms);
    tsa_store_model_clear(&got);
    version = -1;
    CHECK_ST(tsa_store_model_version(s, "absent", &version, err), TSA_STORE_NOT_FOUND);
    CHECK(version == -1);
    CHECK_ST(tsa_store_model_version(s, "", &version, err), TSA_STORE_INVALID);
    CHECK_ST(tsa_store_model_get(s, "absent", &got, err), TSA_STORE_NOT_FOUND);
    CHECK(got.name == NULL && got.blob == NULL);

    /* Lists: ordered by name, filtered, paged. */
    tsa_store_model *items = NULL;
    size_t n = 0;
    CHECK_SOK(tsa_store_model_list(s, NULL, 0, 0, &items, &n, err));
    CHECK(n == 4);
    if (n == 4) {
        CHECK(strcmp(items[0].name, "m-a") == 0 && strcmp(items[3].name, "m-d") == 0);
        CHECK(items[0].blob == NULL && items[1].blob_len == sizeof blob);
    }
    tsa_store_models_free(items, n);
    tsa_store_model_filter f = {"forecasting", NULL, NULL};
    CHECK_SOK(tsa_store_model_list(s, &f, 2, 1, &items, &n, err));
    CHECK(n == 2);
    if (n == 2)
        CHECK(strcmp(items[0].name, "m-c") == 0 && strcmp(items[1].name, "m-d") == 0);
    tsa_store_models_free(items, n);
    f.kind = "multivariate";
    int64_t count = 0;
    CHECK_SOK(tsa_store_model_count(s, &f, &count, err));
    CHECK(count == 2);
    tsa_store_model_filter by_owner = {NULL, NULL, "bob"};
    CHECK_SOK(tsa_store_model_count(s, &by_owner, &count, err));
    CHECK(count == 0);
    CHECK_ST(tsa_store_model_list(s, NULL, TSA_STORE_MAX_LIST + 1, 0, &items, &n, err),
             TSA_STORE_INVALID);

    /* A taken name: CONFLICT without overwrite, replaced with it. */
    unsigned char other[10] = {9, 9, 9, 9, 9, 9, 9, 9, 9, 9};
    tsa_store_model_in m = model_in("m-a", "anomaly", "hmm", other, sizeof other);
    CHECK_ST(tsa_store_model_put(s, &m, err), TSA_STORE_CONFLICT);
    CHECK_MSG(strstr(err, "m-a") != NULL, "message: %s", err);
    CHECK_SOK(tsa_store_model_get(s, "m-a", &got, err));
    CHECK(got.blob_len == sizeof blob - 1);
    tsa_store_model_clear(&got);
    struct timespec pause = {0, 5 * 1000000L};
    nanosleep(&pause, NULL);
    m.overwrite = 1;
    m.metrics_json = NULL;
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    CHECK_SOK(tsa_store_model_get(s, "m-a", &got, err));
    CHECK(got.blob_len == sizeof other && got.blob && memcmp(got.blob, other, sizeof other) == 0);
    CHECK(got.metrics_json && strcmp(got.metrics_json, "{}") == 0);
    CHECK(got.updated_ms > got.created_ms);
    tsa_store_model_clear(&got);
    (void)created;

    /* Owner guards. */
    m.overwrite_owner = "bob";
    CHECK_ST(tsa_store_model_put(s, &m, err), TSA_STORE_FORBIDDEN);
    m.overwrite_owner = "alice";
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    CHECK_ST(tsa_store_model_delete(s, "m-a", "bob", err), TSA_STORE_FORBIDDEN);
    CHECK_SOK(tsa_store_model_delete(s, "m-a", "alice", err));
    CHECK_ST(tsa_store_model_delete(s, "m-a", NULL, err), TSA_STORE_NOT_FOUND);
    CHECK_SOK(tsa_store_model_delete(s, "m-b", NULL, err));
    CHECK_SOK(tsa_store_model_count(s, NULL, &count, err));
    CHECK(count == 2);

    /* Bad input names the field. */
    tsa_store_model_in bad = model_in("x", "clustering", "hmm", blob, 4);
    CHECK_ST(tsa_store_model_put(s, &bad, err), TSA_STORE_INVALID);
    CHECK_MSG(strstr(err, "task") != NULL, "message: %s", err);
    bad = model_in("", "anomaly", "hmm", blob, 4);
    CHECK_ST(tsa_store_model_put(s, &bad, err), TSA_STORE_INVALID);
    bad = model_in("a\nb", "anomaly", "hmm", blob, 4);
    CHECK_ST(tsa_store_model_put(s, &bad, err), TSA_STORE_INVALID);
    bad = model_in("empty", "anomaly", "hmm", blob, 0);
    CHECK_ST(tsa_store_model_put(s, &bad, err), TSA_STORE_INVALID);
    CHECK_MSG(strstr(err, "blob") != NULL, "message: %s", err);

    /* Names are data, never SQL. */
    tsa_store_model_in tricky = model_in("x'); DROP TABLE models; --", "anomaly", "hmm", blob, 4);
    CHECK_SOK(tsa_store_model_put(s, &tricky, err));
    CHECK_SOK(tsa_store_model_get_meta(s, tricky.name, &got, err));
    tsa_store_model_clear(&got);
    CHECK_SOK(tsa_store_model_count(s, NULL, &count, err));
    CHECK(count == 3);

    tsa_store_close(s);
    ctx_done(&c);
}

static void t_blob(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "blob") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    size_t len = 1u << 20;
    unsigned char *blob = malloc(len);
    fill_random(blob, len, 42);
    /* Every byte value, NULs included, in the first 256 bytes. */
    for (int k = 0; k < 256; k++)
        blob[k] = (unsigned char)k;
    tsa_store_model_in m = model_in("big", "forecasting", "lstm", blob, len);
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    tsa_store_model got;
    CHECK_SOK(tsa_store_model_get(s, "big", &got, err));
    CHECK(got.blob_len == len);
    CHECK(got.blob && memcmp(got.blob, blob, len) == 0);
    tsa_store_model_clear(&got);

    /* A corrupted blob is reported, not handed out. */
    CHECK(raw_exec(&c, pg ? "UPDATE models SET blob = '\\xff'::bytea || substring(blob from 2)"
                          : "UPDATE models SET blob = X'FF' || substr(blob, 2)") == 0);
    CHECK_ST(tsa_store_model_get(s, "big", &got, err), TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, "SHA-256") != NULL, "message: %s", err);
    CHECK(got.blob == NULL);
    free(blob);
    tsa_store_close(s);
    ctx_done(&c);
}

typedef struct put_arg {
    tsa_store *s;
    int idx;
    int same_name;
    int overwrite;
    tsa_store_status st;
    char err[TSA_STORE_ERR_LEN];
} put_arg;

static void *put_thread(void *p)
{
    put_arg *a = p;
    size_t len = 64 * 1024;
    unsigned char *blob = malloc(len);
    fill_random(blob, len, (uint64_t)a->idx + 100);
    char name[32];
    snprintf(name, sizeof name, a->same_name ? "shared" : "model-%d", a->idx);
    tsa_store_model_in m = model_in(name, "forecasting", "multivariate", blob, len);
    m.overwrite = a->overwrite;
    a->st = tsa_store_model_put(a->s, &m, a->err);
    free(blob);
    return NULL;
}

static void run_puts(tsa_store *s, int same_name, int overwrite, put_arg *args)
{
    pthread_t th[8];
    for (int k = 0; k < 8; k++) {
        args[k] = (put_arg){s, k, same_name, overwrite, TSA_STORE_ERROR, ""};
        pthread_create(&th[k], NULL, put_thread, &args[k]);
    }
    for (int k = 0; k < 8; k++)
        pthread_join(th[k], NULL);
}

static void t_concurrent_puts(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "puts") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    put_arg args[8];
    run_puts(s, 0, 0, args);
    for (int k = 0; k < 8; k++)
        CHECK_MSG(args[k].st == TSA_STORE_OK, "distinct put %d: %s %s", k,
                  tsa_store_status_name(args[k].st), args[k].err);
    int64_t count = 0;
    CHECK_SOK(tsa_store_model_count(s, NULL, &count, err));
    CHECK(count == 8);

    run_puts(s, 1, 0, args);
    int wins = 0, conflicts = 0, winner = -1;
    for (int k = 0; k < 8; k++) {
        if (args[k].st == TSA_STORE_OK) {
            wins++;
            winner = k;
        } else if (args[k].st == TSA_STORE_CONFLICT) {
            conflicts++;
        } else {
            printf("#   same-name put %d: %s %s\n", k, tsa_store_status_name(args[k].st),
                   args[k].err);
        }
    }
    CHECK_MSG(wins == 1 && conflicts == 7, "wins %d conflicts %d", wins, conflicts);
    tsa_store_model got;
    CHECK_SOK(tsa_store_model_get(s, "shared", &got, err));
    if (got.blob && winner >= 0) {
        unsigned char *want = malloc(got.blob_len);
        fill_random(want, got.blob_len, (uint64_t)winner + 100);
        CHECK(memcmp(want, got.blob, got.blob_len) == 0);
        free(want);
    }
    tsa_store_model_clear(&got);

    /* With overwrite all succeed, and the survivor is one writer's whole blob. */
    run_puts(s, 1, 1, args);
    for (int k = 0; k < 8; k++)
        CHECK_MSG(args[k].st == TSA_STORE_OK, "overwrite put %d: %s", k, args[k].err);
    CHECK_SOK(tsa_store_model_get(s, "shared", &got, err));
    int matches = 0;
    for (int k = 0; k < 8 && got.blob; k++) {
        unsigned char *want = malloc(got.blob_len);
        fill_random(want, got.blob_len, (uint64_t)k + 100);
        matches += memcmp(want, got.blob, got.blob_len) == 0;
        free(want);
    }
    CHECK(matches == 1);
    tsa_store_model_clear(&got);
    tsa_store_close(s);
    ctx_done(&c);
}

/* ---- jobs ---------------------------------------------------------------- */

static void t_jobs(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "jobs") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    char id1[37], id2[37], id3[37];
    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "fc1", "alice",
                                   "{\"epochs\":10}", id1, err));
    CHECK(strlen(id1) == 36 && id1[14] == '4');
    struct timespec pause = {0, 3 * 1000000L};
    nanosleep(&pause, NULL);
    CHECK_SOK(tsa_store_job_create(s, "train_anomaly", NULL, NULL, NULL, id2, err));
    nanosleep(&pause, NULL);
    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "fc3", "bob", NULL, id3, err));
    CHECK(strcmp(id1, id2) != 0);

    tsa_store_job j;
    CHECK_SOK(tsa_store_job_get(s, id1, &j, err));
    CHECK(j.state == TSA_JOB_QUEUED && j.model_name && strcmp(j.model_name, "fc1") == 0);
    CHECK(j.request_json && strcmp(j.request_json, "{\"epochs\":10}") == 0);
    CHECK(j.worker_id == NULL && j.started_ms == 0 && isnan(j.train_loss) && j.eta_ms == -1);
    tsa_store_job_clear(&j);
    CHECK_SOK(tsa_store_job_get(s, id2, &j, err));
    CHECK(j.model_name == NULL && j.owner == NULL && j.request_json &&
          strcmp(j.request_json, "{}") == 0);
    tsa_store_job_clear(&j);

    /* Claims go oldest first, optionally by kind. */
    CHECK_SOK(tsa_store_job_claim(s, "w1", "train_anomaly", &j, err));
    CHECK(strcmp(j.id, id2) == 0 && j.state == TSA_JOB_RUNNING);
    tsa_store_job_clear(&j);
    CHECK_SOK(tsa_store_job_claim(s, "w1", NULL, &j, err));
    CHECK(strcmp(j.id, id1) == 0);
    CHECK(j.state == TSA_JOB_RUNNING && j.worker_id && strcmp(j.worker_id, "w1") == 0);
    CHECK(j.pid == (int64_t)getpid() && j.hostname && j.hostname[0]);
    CHECK(j.started_ms > 0 && j.heartbeat_ms == j.started_ms);
    tsa_store_job_clear(&j);

    int cancel = -1;
    CHECK_SOK(tsa_store_job_progress(s, id1, 3, 10, 0.25, NAN, 1500, &cancel, err));
    CHECK(cancel == 0);
    CHECK_SOK(tsa_store_job_get(s, id1, &j, err));
    CHECK(j.epoch == 3 && j.total_epochs == 10 && j.eta_ms == 1500);
    CHECK(j.train_loss == 0.25 && isnan(j.val_loss));
    tsa_store_job_clear(&j);

    /* Cancel a running job: flagged, seen by the worker, which then ends it. */
    tsa_store_job_state after;
    CHECK_SOK(tsa_store_job_cancel(s, id1, &after, err));
    CHECK(after == TSA_JOB_RUNNING);
    CHECK_SOK(tsa_store_job_heartbeat(s, id1, &cancel, err));
    CHECK(cancel == 1);
    int stop = 0;
    CHECK_SOK(tsa_store_job_cancel_requested(s, id1, &stop, err));
    CHECK(stop == 1);
    CHECK_SOK(tsa_store_job_finish(s, id1, TSA_JOB_CANCELED, NULL, "canceled by user", NULL,
                                   err));
    CHECK_ST(tsa_store_job_finish(s, id1, TSA_JOB_COMPLETED, NULL, NULL, NULL, err),
             TSA_STORE_CONFLICT);
    CHECK_ST(tsa_store_job_progress(s, id1, 4, 10, 0.2, 0.3, -1, NULL, err),
             TSA_STORE_CONFLICT);
    CHECK_SOK(tsa_store_job_cancel(s, id1, &after, err)); /* idempotent */
    CHECK(after == TSA_JOB_CANCELED);

    /* Cancel a queued job: canceled at once, never claimed. */
    CHECK_SOK(tsa_store_job_cancel(s, id3, &after, err));
    CHECK(after == TSA_JOB_CANCELED);
    CHECK_ST(tsa_store_job_claim(s, "w1", NULL, &j, err), TSA_STORE_NOT_FOUND);

    /* Completing with a model stores both in one transaction. */
    unsigned char blob[32];
    fill_random(blob, sizeof blob, 7);
    tsa_store_model_in m = model_in("from-job", "anomaly", "hmm", blob, sizeof blob);
    CHECK_SOK(tsa_store_job_finish(s, id2, TSA_JOB_COMPLETED, "{\"rmse\":1}", NULL, &m, err));
    tsa_store_model got;
    CHECK_SOK(tsa_store_model_get(s, "from-job", &got, err));
    CHECK(got.blob_len == sizeof blob);
    tsa_store_model_clear(&got);
    CHECK_SOK(tsa_store_job_get(s, id2, &j, err));
    CHECK(j.state == TSA_JOB_COMPLETED && j.finished_ms > 0 && j.result_json &&
          strcmp(j.result_json, "{\"rmse\":1}") == 0);
    tsa_store_job_clear(&j);

    /* A model put that fails leaves the job running and nothing stored. */
    char id4[37];
    nanosleep(&pause, NULL); /* a later created_at than id3's, for the newest-first list below */
    CHECK_SOK(tsa_store_job_create(s, "train_anomaly", "from-job", NULL, NULL, id4, err));
    CHECK_SOK(tsa_store_job_claim(s, "w2", NULL, &j, err));
    tsa_store_job_clear(&j);
    CHECK_ST(tsa_store_job_finish(s, id4, TSA_JOB_COMPLETED, "{}", NULL, &m, err),
             TSA_STORE_CONFLICT);
    CHECK_SOK(tsa_store_job_get(s, id4, &j, err));
    CHECK(j.state == TSA_JOB_RUNNING);
    tsa_store_job_clear(&j);
    CHECK_ST(tsa_store_job_finish(s, id4, TSA_JOB_FAILED, NULL, "boom", &m, err),
             TSA_STORE_INVALID);
    CHECK_SOK(tsa_store_job_finish(s, id4, TSA_JOB_FAILED, NULL, "boom", NULL, err));
    /* A model offered for a job that is no longer running is not stored. */
    tsa_store_model_in late = model_in("late", "anomaly", "hmm", blob, sizeof blob);
    CHECK_ST(tsa_store_job_finish(s, id4, TSA_JOB_COMPLETED, "{}", NULL, &late, err),
             TSA_STORE_CONFLICT);
    CHECK_ST(tsa_store_model_get_meta(s, "late", &got, err), TSA_STORE_NOT_FOUND);

    /* Lists and counts by state. */
    int64_t n = 0;
    CHECK_SOK(tsa_store_job_count(s, 0, &n, err));
    CHECK(n == 4);
    CHECK_SOK(tsa_store_job_count(s, TSA_JOB_MASK(TSA_JOB_CANCELED), &n, err));
    CHECK(n == 2);
    CHECK_SOK(tsa_store_job_count(s, TSA_JOB_MASK_ACTIVE, &n, err));
    CHECK(n == 0);
    tsa_store_job *items = NULL;
    size_t ni = 0;
    CHECK_SOK(tsa_store_job_list(s, TSA_JOB_MASK(TSA_JOB_CANCELED) |
                                        TSA_JOB_MASK(TSA_JOB_FAILED),
                                 0, 0, &items, &ni, err));
    CHECK(ni == 3);
    if (ni == 3) /* newest first */
        CHECK(strcmp(items[0].id, id4) == 0 && strcmp(items[2].id, id1) == 0);
    tsa_store_jobs_free(items, ni);
    CHECK_ST(tsa_store_job_list(s, 1u << 9, 0, 0, &items, &ni, err), TSA_STORE_INVALID);

    /* Bad and unknown ids. */
    CHECK_ST(tsa_store_job_get(s, "nope", &j, err), TSA_STORE_INVALID);
    CHECK_ST(tsa_store_job_get(s, "00000000-0000-4000-8000-000000000000", &j, err),
             TSA_STORE_NOT_FOUND);
    CHECK_ST(tsa_store_job_cancel(s, "00000000-0000-4000-8000-000000000000", NULL, err),
             TSA_STORE_NOT_FOUND);
    CHECK_ST(tsa_store_job_finish(s, id1, TSA_JOB_RUNNING, NULL, NULL, NULL, err),
             TSA_STORE_INVALID);
    CHECK(strcmp(tsa_store_job_state_name(TSA_JOB_INTERRUPTED), "interrupted") == 0);
    tsa_store_job_state ps;
    CHECK(tsa_store_job_state_parse("failed", &ps) == 0 && ps == TSA_JOB_FAILED);
    CHECK(tsa_store_job_state_parse("bogus", &ps) == -1);
    tsa_store_close(s);
    ctx_done(&c);
}

#define CLAIM_JOBS 200

typedef struct claim_arg {
    tsa_store *s;
    char worker[16];
    char ids[CLAIM_JOBS][37];
    int n;
    int errors;
    char err[TSA_STORE_ERR_LEN];
} claim_arg;

static void *claim_thread(void *p)
{
    claim_arg *a = p;
    for (;;) {
        tsa_store_job j;
        tsa_store_status st = tsa_store_job_claim(a->s, a->worker, NULL, &j, a->err);
        if (st == TSA_STORE_NOT_FOUND)
            break;
        if (st != TSA_STORE_OK) {
            a->errors++;
            break;
        }
        if (a->n < CLAIM_JOBS)
            memcpy(a->ids[a->n], j.id, 37);
        a->n++;
        tsa_store_job_clear(&j);
    }
    return NULL;
}

static int cmp_id(const void *x, const void *y) { return strcmp(x, y); }

static void t_claim_race(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "claims") != 0) {
        CHECK(0);
        return;
    }
    /* Two handles stand for two processes (or replicas): separate pools. */
    tsa_store *s1 = open_ctx(&c), *s2 = open_ctx(&c);
    if (!s1 || !s2) {
        tsa_store_close(s1);
        tsa_store_close(s2);
        ctx_done(&c);
        return;
    }
    /* And a real second process, claiming through its own handle. */
    int fds[2] = {-1, -1}, go[2] = {-1, -1};
    CHECK(pipe(fds) == 0 && pipe(go) == 0);
    pid_t child = fork();
    if (child == 0) {
        close(fds[0]);
        close(go[1]);
        tsa_store *cs = NULL;
        char cerr[TSA_STORE_ERR_LEN];
        int code = 0;
        char byte;
        /* Open first, then wait for the jobs, to start with the threads. */
        if (tsa_store_open(c.url, NULL, &cs, cerr) != TSA_STORE_OK || read(go[0], &byte, 1) != 1)
            _exit(2);
        for (;;) {
            tsa_store_job j;
            tsa_store_status st = tsa_store_job_claim(cs, "child", NULL, &j, cerr);
            if (st == TSA_STORE_NOT_FOUND)
                break;
            if (st != TSA_STORE_OK || write(fds[1], j.id, 37) != 37) {
                code = 3;
                break;
            }
            tsa_store_job_clear(&j);
        }
        tsa_store_close(cs);
        close(fds[1]);
        _exit(code);
    }
    close(fds[1]);
    close(go[0]);
    for (int k = 0; k < CLAIM_JOBS; k++) {
        char id[37];
        CHECK_SOK(tsa_store_job_create(k % 2 ? s1 : s2, "train_forecasting", NULL, NULL, NULL,
                                       id, err));
    }
    CHECK(write(go[1], "g", 1) == 1);
    close(go[1]);
    enum { CLAIMERS = 8 };
    static claim_arg args[CLAIMERS];
    pthread_t th[CLAIMERS];
    for (int k = 0; k < CLAIMERS; k++) {
        memset(&args[k], 0, sizeof args[k]);
        args[k].s = k % 2 ? s1 : s2;
        snprintf(args[k].worker, sizeof args[k].worker, "w%d", k);
        pthread_create(&th[k], NULL, claim_thread, &args[k]);
    }
    char all[CLAIM_JOBS * 2][37];
    int total = 0, errors = 0;
    for (int k = 0; k < CLAIMERS; k++) {
        pthread_join(th[k], NULL);
        errors += args[k].errors;
        if (args[k].errors)
            printf("#   claimer %d: %s\n", k, args[k].err);
        for (int i = 0; i < args[k].n && total < CLAIM_JOBS * 2; i++)
            memcpy(all[total++], args[k].ids[i], 37);
    }
    char id[37];
    int from_child = 0;
    while (read(fds[0], id, 37) == 37) {
        from_child++;
        if (total < CLAIM_JOBS * 2)
            memcpy(all[total++], id, 37);
    }
    close(fds[0]);
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    CHECK_MSG(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0, "child status %d", wstatus);
    printf("#   the second process claimed %d jobs\n", from_child);
    CHECK(errors == 0);
    CHECK_MSG(total == CLAIM_JOBS, "claimed %d of %d", total, CLAIM_JOBS);
    qsort(all, (size_t)total, sizeof all[0], cmp_id);
    int dups = 0;
    for (int k = 1; k < total; k++)
        dups += strcmp(all[k - 1], all[k]) == 0;
    CHECK_MSG(dups == 0, "%d jobs claimed twice", dups);
    int64_t running = 0;
    CHECK_SOK(tsa_store_job_count(s1, TSA_JOB_MASK(TSA_JOB_RUNNING), &running, err));
    CHECK(running == CLAIM_JOBS);
    tsa_store_close(s1);
    tsa_store_close(s2);
    ctx_done(&c);
}

static void t_interrupted(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "interrupted") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    char dead_id[37], live_id[37], own_id[37];
    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "a", NULL, NULL, dead_id, err));

    /* A worker process claims the job and dies mid-training. */
    pid_t child = fork();
    if (child == 0) {
        tsa_store *cs = NULL;
        char cerr[TSA_STORE_ERR_LEN];
        tsa_store_job j;
        int code = 1;
        if (tsa_store_open(c.url, NULL, &cs, cerr) == TSA_STORE_OK &&
            tsa_store_job_claim(cs, "doomed", NULL, &j, cerr) == TSA_STORE_OK &&
            tsa_store_job_progress(cs, j.id, 1, 5, 1.0, 1.0, -1, NULL, cerr) == TSA_STORE_OK)
            code = 0;
        _exit(code); /* no cleanup: as if killed */
    }
    int wstatus = 0;
    waitpid(child, &wstatus, 0);
    CHECK(WIFEXITED(wstatus) && WEXITSTATUS(wstatus) == 0);

    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "b", NULL, NULL, live_id, err));
    tsa_store_job j;
    CHECK_SOK(tsa_store_job_claim(s, "alive", NULL, &j, err));
    CHECK(strcmp(j.id, live_id) == 0);
    tsa_store_job_clear(&j);

    int64_t marked = -1;
    CHECK_SOK(tsa_store_job_recover(s, 0, &marked, err));
    CHECK_MSG(marked == 1, "marked %lld", (long long)marked);
    CHECK_SOK(tsa_store_job_get(s, dead_id, &j, err));
    CHECK(j.state == TSA_JOB_INTERRUPTED && j.pid == (int64_t)child && j.error &&
          strstr(j.error, "gone") != NULL);
    CHECK(j.finished_ms > 0);
    tsa_store_job_clear(&j);
    /* The dead worker's late writes are refused. */
    CHECK_ST(tsa_store_job_finish(s, dead_id, TSA_JOB_COMPLETED, NULL, NULL, NULL, err),
             TSA_STORE_CONFLICT);
    CHECK_SOK(tsa_store_job_get(s, live_id, &j, err));
    CHECK(j.state == TSA_JOB_RUNNING);
    tsa_store_job_clear(&j);

    /* A silent worker (here: this process, alive but without heartbeats) is
     * interrupted after the timeout. */
    struct timespec pause = {0, 30 * 1000000L};
    nanosleep(&pause, NULL);
    CHECK_SOK(tsa_store_job_recover(s, 60000, &marked, err));
    CHECK(marked == 0);
    CHECK_SOK(tsa_store_job_recover(s, 10, &marked, err));
    CHECK(marked == 1);
    int stop = 0;
    CHECK_SOK(tsa_store_job_cancel_requested(s, live_id, &stop, err));
    CHECK(stop == 1);
    CHECK_ST(tsa_store_job_heartbeat(s, live_id, NULL, err), TSA_STORE_CONFLICT);

    /* A graceful shutdown interrupts only this process's jobs of a worker. */
    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "c", NULL, NULL, own_id, err));
    CHECK_SOK(tsa_store_job_claim(s, "shutdown", NULL, &j, err));
    tsa_store_job_clear(&j);
    CHECK_SOK(tsa_store_job_interrupt_own(s, "other-worker", &marked, err));
    CHECK(marked == 0);
    CHECK_SOK(tsa_store_job_interrupt_own(s, "shutdown", &marked, err));
    CHECK(marked == 1);
    CHECK_SOK(tsa_store_job_get(s, own_id, &j, err));
    CHECK(j.state == TSA_JOB_INTERRUPTED);
    tsa_store_job_clear(&j);
    tsa_store_close(s);
    ctx_done(&c);
}

/* ---- results, audit, keys --------------------------------------------- */

static void t_results(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "results") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    char ids[3][37];
    const char *kinds[] = {"coordinated", "ensemble", "coordinated"};
    struct timespec pause = {0, 3 * 1000000L};
    for (int k = 0; k < 3; k++) {
        char body[64];
        snprintf(body, sizeof body, "{\"k\":%d,\"s\":\"\\u00e9 \xc3\xa9\"}", k);
        CHECK_SOK(tsa_store_result_put(s, kinds[k], k ? "bob" : NULL, "{\"q\":1}", body, ids[k],
                                       err));
        nanosleep(&pause, NULL);
    }
    tsa_store_result r;
    CHECK_SOK(tsa_store_result_get(s, ids[1], &r, err));
    CHECK(strcmp(r.id, ids[1]) == 0 && r.kind && strcmp(r.kind, "ensemble") == 0);
    CHECK(r.result_json && strcmp(r.result_json, "{\"k\":1,\"s\":\"\\u00e9 \xc3\xa9\"}") == 0);
    CHECK(r.request_json && strcmp(r.request_json, "{\"q\":1}") == 0);
    CHECK(r.owner && strcmp(r.owner, "bob") == 0 && r.created_ms > 0);
    tsa_store_result_clear(&r);
    tsa_store_result *items = NULL;
    size_t n = 0;
    CHECK_SOK(tsa_store_result_list(s, "coordinated", 0, 0, &items, &n, err));
    CHECK(n == 2);
    if (n == 2)
        CHECK(strcmp(items[0].id, ids[2]) == 0 && strcmp(items[1].id, ids[0]) == 0 &&
              items[1].owner == NULL);
    tsa_store_results_free(items, n);
    CHECK_SOK(tsa_store_result_list(s, NULL, 1, 1, &items, &n, err));
    CHECK(n == 1 && strcmp(items[0].id, ids[1]) == 0);
    tsa_store_results_free(items, n);
    CHECK_SOK(tsa_store_result_delete(s, ids[0], err));
    CHECK_ST(tsa_store_result_delete(s, ids[0], err), TSA_STORE_NOT_FOUND);
    CHECK_ST(tsa_store_result_get(s, ids[0], &r, err), TSA_STORE_NOT_FOUND);
    char id[37];
    CHECK_ST(tsa_store_result_put(s, "x", NULL, NULL, NULL, id, err), TSA_STORE_INVALID);
    tsa_store_close(s);
    ctx_done(&c);
}

/* ---- encryption at rest ---------------------------------------------------- */

/* Three keys: hex, base64 (bytes 0..31) and hex. */
#define KEY1 "3f1c9a0be2d47a65c81e5f903b2dd6e4a7c05b19f38e2d6c4b0a9f8e7d6c5b4a"
#define KEY2 "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="
#define KEY3 "0000000000000000000000000000000000000000000000000000000000000000"
#define SECRET "SECRET-SERIES-7731"

static tsa_store *open_keyed(const ctx *c, const char *key, const char *previous)
{
    char err[TSA_STORE_ERR_LEN];
    tsa_store_options o;
    tsa_store_options_init(&o);
    o.encryption_key = key;
    o.encryption_key_previous = previous;
    tsa_store *s = NULL;
    tsa_store_status st = tsa_store_open(c->url, &o, &s, err);
    if (st != TSA_STORE_OK) {
        printf("#   open %s: %s: %s\n", c->url, tsa_store_status_name(st), err);
        harness_failures_++;
        return NULL;
    }
    return s;
}

/* Rows of @table whose @col holds SECRET, read around the store. */
static long long raw_secret(const ctx *c, const char *table, const char *col, int blob)
{
    char sql[256];
    if (c->pg)
        snprintf(sql, sizeof sql,
                 blob ? "SELECT COUNT(*) FROM %s WHERE position(convert_to('" SECRET
                        "', 'UTF8') in %s) > 0"
                      : "SELECT COUNT(*) FROM %s WHERE strpos(%s, '" SECRET "') > 0",
                 table, col);
    else
        snprintf(sql, sizeof sql,
                 blob ? "SELECT COUNT(*) FROM %s WHERE instr(%s, CAST('" SECRET "' AS BLOB)) > 0"
                      : "SELECT COUNT(*) FROM %s WHERE instr(%s, '" SECRET "') > 0",
                 table, col);
    return raw_int(c, sql);
}

static int model_matches(tsa_store *s, const char *name, const unsigned char *blob, size_t len)
{
    char err[TSA_STORE_ERR_LEN];
    tsa_store_model m;
    int ok = tsa_store_model_get(s, name, &m, err) == TSA_STORE_OK && m.blob_len == len &&
             m.blob && memcmp(m.blob, blob, len) == 0;
    if (!ok)
        printf("#   model %s: %s\n", name, err);
    tsa_store_model_clear(&m);
    return ok;
}

static int result_matches(tsa_store *s, const char *id, const char *result)
{
    char err[TSA_STORE_ERR_LEN];
    tsa_store_result r;
    int ok = tsa_store_result_get(s, id, &r, err) == TSA_STORE_OK && r.result_json &&
             strcmp(r.result_json, result) == 0 && r.request_json &&
             strstr(r.request_json, SECRET) != NULL;
    if (!ok)
        printf("#   result %s: %s\n", id, err);
    tsa_store_result_clear(&r);
    return ok;
}

static void t_encryption(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "crypt") != 0) {
        CHECK(0);
        return;
    }
    /* A model file with the secret in it, and one row of each kind written
     * before encryption was turned on. */
    size_t len = 70000;
    unsigned char *blob = malloc(len);
    fill_random(blob, len, 7);
    memcpy(blob + 1000, SECRET, strlen(SECRET));
    const char *request = "{\"series\":[1,2,3],\"note\":\"" SECRET "\"}";
    const char *result = "{\"forecast\":[4,5],\"note\":\"" SECRET "\"}";
    char old_result[37], new_result[37], other_result[37], old_job[37], new_job[37];
    tsa_store *s = open_keyed(&c, "", "");
    if (!s) {
        free(blob);
        ctx_done(&c);
        return;
    }
    CHECK(tsa_store_encrypted(s, NULL) == 0);
    tsa_store_model_in m = model_in("old", "forecasting", "lstm", blob, len);
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    CHECK_SOK(tsa_store_result_put(s, "ensemble", NULL, request, result, old_result, err));
    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "old", NULL, request, old_job, err));
    tsa_store_close(s);
    /* The raw checks find plaintext when there is some. */
    CHECK(raw_secret(&c, "models", "blob", 1) == 1);
    CHECK(raw_secret(&c, "results", "result", 0) == 1);
    CHECK(raw_secret(&c, "jobs", "request", 0) == 1);

    /* With a key: new rows are encrypted, old ones stay readable. */
    s = open_keyed(&c, KEY1, "");
    if (!s) {
        free(blob);
        ctx_done(&c);
        return;
    }
    char key_id[17];
    CHECK(tsa_store_encrypted(s, key_id) == 1);
    CHECK_MSG(strlen(key_id) == 16, "key id %s", key_id);
    m.name = "m1";
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    m.name = "m2";
    CHECK_SOK(tsa_store_model_put(s, &m, err));
    CHECK_SOK(tsa_store_result_put(s, "ensemble", NULL, request, result, new_result, err));
    CHECK_SOK(tsa_store_result_put(s, "ensemble", NULL, request, "{\"other\":1}", other_result,
                                   err));
    CHECK_SOK(tsa_store_job_create(s, "train_forecasting", "m1", NULL, request, new_job, err));
    CHECK(raw_secret(&c, "models", "blob", 1) == 1); /* only "old" */
    CHECK(raw_secret(&c, "results", "result", 0) == 1);
    CHECK(raw_secret(&c, "results", "request", 0) == 1);
    CHECK(raw_secret(&c, "jobs", "request", 0) == 1);
    CHECK(raw_int(&c, pg ? "SELECT COUNT(*) FROM models WHERE substring(blob from 1 for 4) = "
                           "'TSAE'::bytea"
                         : "SELECT COUNT(*) FROM models WHERE substr(blob, 1, 4) = "
                           "CAST('TSAE' AS BLOB)") == 2);
    CHECK(raw_int(&c, "SELECT COUNT(*) FROM results WHERE result LIKE 'TSAE1:%'") == 2);
    /* Round trips, old and new. */
    CHECK(model_matches(s, "old", blob, len));
    CHECK(model_matches(s, "m1", blob, len));
    CHECK(result_matches(s, old_result, result));
    CHECK(result_matches(s, new_result, result));
    tsa_store_model meta;
    CHECK_SOK(tsa_store_model_get_meta(s, "m1", &meta, err));
    CHECK(meta.blob_len == len);
    tsa_store_model_clear(&meta);
    tsa_store_job j;
    CHECK_SOK(tsa_store_job_get(s, new_job, &j, err));
    CHECK(!j.request_sealed && j.request_json && strcmp(j.request_json, request) == 0);
    tsa_store_job_clear(&j);
    CHECK_SOK(tsa_store_job_claim(s, "w1", NULL, &j, err)); /* the oldest: "old" */
    CHECK(strcmp(j.id, old_job) == 0 && j.request_json && strcmp(j.request_json, request) == 0);
    tsa_store_job_clear(&j);

    /* A flipped byte in the ciphertext. */
    CHECK(raw_exec(&c, pg ? "UPDATE models SET blob = set_byte(blob, 500, get_byte(blob, 500) # 1)"
                            " WHERE name = 'm2'"
                          : "UPDATE models SET blob = CAST(substr(blob, 1, 500) || CASE WHEN"
                            " substr(blob, 501, 1) = X'00' THEN X'01' ELSE X'00' END ||"
                            " substr(blob, 502) AS BLOB) WHERE name = 'm2'") == 0);
    tsa_store_model got;
    CHECK_ST(tsa_store_model_get(s, "m2", &got, err), TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, "model 'm2'") && strstr(err, "authentication failed") &&
                  strstr(err, "key does not match"),
              "message: %s", err);
    CHECK(got.blob == NULL);
    /* A blob moved to another row (with its metadata) fails the same way. */
    CHECK(raw_exec(&c, "UPDATE models SET blob = (SELECT blob FROM models WHERE name = 'm1'),"
                       " blob_sha256 = (SELECT blob_sha256 FROM models WHERE name = 'm1')"
                       " WHERE name = 'm2'") == 0);
    CHECK_ST(tsa_store_model_get(s, "m2", &got, err), TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, "authentication failed"), "message: %s", err);
    CHECK(model_matches(s, "m1", blob, len));
    char sql[400];
    snprintf(sql, sizeof sql,
             "UPDATE results SET result = (SELECT result FROM results WHERE id = '%s')"
             " WHERE id = '%s'",
             new_result, other_result);
    CHECK(raw_exec(&c, sql) == 0);
    tsa_store_result r;
    CHECK_ST(tsa_store_result_get(s, other_result, &r, err), TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, other_result) && strstr(err, "authentication failed"), "message: %s",
              err);
    CHECK(result_matches(s, new_result, result));
    CHECK_SOK(tsa_store_model_delete(s, "m2", NULL, err));
    CHECK_SOK(tsa_store_result_delete(s, other_result, err));
    tsa_store_close(s);

    /* Another key: encrypted rows fail cleanly naming the row, the rest
     * works (plaintext rows, metadata, lists). */
    s = open_keyed(&c, KEY3, "");
    if (s) {
        CHECK_ST(tsa_store_model_get(s, "m1", &got, err), TSA_STORE_ERROR);
        CHECK_MSG(strstr(err, "model 'm1'") && strstr(err, key_id) &&
                      strstr(err, "key does not match") && !strstr(err, KEY3),
                  "message: %s", err);
        CHECK(model_matches(s, "old", blob, len));
        tsa_store_model *items = NULL;
        size_t n = 0;
        CHECK_SOK(tsa_store_model_list(s, NULL, 0, 0, &items, &n, err));
        CHECK(n == 2);
        tsa_store_models_free(items, n);
        CHECK_ST(tsa_store_result_get(s, new_result, &r, err), TSA_STORE_ERROR);
        CHECK_MSG(strstr(err, new_result) && strstr(err, "key does not match"), "message: %s",
                  err);
        CHECK(result_matches(s, old_result, result));
        tsa_store_result *rs = NULL;
        CHECK_SOK(tsa_store_result_list(s, NULL, 0, 0, &rs, &n, err));
        CHECK(n == 2);
        for (size_t k = 0; k < n; k++) {
            int is_new = strcmp(rs[k].id, new_result) == 0;
            CHECK(rs[k].sealed == is_new);
            CHECK(is_new ? rs[k].result_json == NULL
                         : rs[k].result_json && strcmp(rs[k].result_json, result) == 0);
        }
        tsa_store_results_free(rs, n);
        CHECK_SOK(tsa_store_job_get(s, new_job, &j, err));
        CHECK(j.request_sealed && j.request_json == NULL && j.state == TSA_JOB_QUEUED);
        tsa_store_job_clear(&j);
        CHECK_SOK(tsa_store_job_claim(s, "w2", NULL, &j, err));
        CHECK(strcmp(j.id, new_job) == 0 && j.request_sealed && j.request_json == NULL);
        tsa_store_job_clear(&j);
        tsa_store_close(s);
    }
    /* No key at all. */
    s = open_keyed(&c, "", "");
    if (s) {
        CHECK_ST(tsa_store_model_get(s, "m1", &got, err), TSA_STORE_ERROR);
        CHECK_MSG(strstr(err, "model 'm1'") && strstr(err, "TSA_ENCRYPTION_KEY is not set"),
                  "message: %s", err);
        tsa_store_close(s);
    }

    /* Rotation: KEY3 current, KEY1 among the previous keys. */
    s = open_keyed(&c, KEY3, " " KEY2 " , " KEY1 ",");
    if (s) {
        CHECK(model_matches(s, "m1", blob, len));
        CHECK(result_matches(s, new_result, result));
        m.name = "m3";
        CHECK_SOK(tsa_store_model_put(s, &m, err));
        tsa_store_rekey_stats st;
        CHECK_SOK(tsa_store_rekey(s, &st, err));
        /* old, m1, m3 (already); the two jobs; the two results. */
        CHECK_MSG(st.models == 2 && st.jobs == 2 && st.results == 2 && st.unchanged == 1,
                  "rekeyed %lld models, %lld jobs, %lld results, %lld unchanged",
                  (long long)st.models, (long long)st.jobs, (long long)st.results,
                  (long long)st.unchanged);
        CHECK_SOK(tsa_store_rekey(s, &st, err));
        CHECK_MSG(st.models == 0 && st.jobs == 0 && st.results == 0 && st.unchanged == 7,
                  "rekeyed %lld models, %lld jobs, %lld results, %lld unchanged",
                  (long long)st.models, (long long)st.jobs, (long long)st.results,
                  (long long)st.unchanged);
        tsa_store_close(s);
    }
    CHECK(raw_secret(&c, "models", "blob", 1) == 0);
    CHECK(raw_secret(&c, "results", "result", 0) == 0);
    CHECK(raw_secret(&c, "jobs", "request", 0) == 0);
    /* After the rekey the previous key is no longer needed. */
    s = open_keyed(&c, KEY3, "");
    if (s) {
        CHECK(model_matches(s, "old", blob, len));
        CHECK(model_matches(s, "m1", blob, len));
        CHECK(model_matches(s, "m3", blob, len));
        CHECK(result_matches(s, old_result, result));
        CHECK(result_matches(s, new_result, result));
        CHECK_SOK(tsa_store_job_get(s, new_job, &j, err));
        CHECK(!j.request_sealed && j.request_json && strcmp(j.request_json, request) == 0);
        tsa_store_job_clear(&j);
        tsa_store_close(s);
    }
    /* Without a current key there is nothing to rekey to. */
    s = open_keyed(&c, "", KEY3);
    if (s) {
        CHECK(model_matches(s, "m1", blob, len));
        CHECK_ST(tsa_store_rekey(s, NULL, err), TSA_STORE_INVALID);
        CHECK_MSG(strstr(err, "TSA_ENCRYPTION_KEY"), "message: %s", err);
        tsa_store_close(s);
    }
    free(blob);
    ctx_done(&c);
}

static void t_audit(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "audit") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    int64_t ids[3];
    CHECK_SOK(tsa_store_audit_append(s, "admin", "apikey.create", "ci", NULL, &ids[0], err));
    CHECK_SOK(tsa_store_audit_append(s, "alice", "model.train", "m1", "{\"epochs\":5}", &ids[1],
                                     err));
    CHECK_SOK(tsa_store_audit_append(s, NULL, "model.delete", "m1", NULL, &ids[2], err));
    CHECK(ids[0] < ids[1] && ids[1] < ids[2]);
    tsa_store_audit *items = NULL;
    size_t n = 0;
    CHECK_SOK(tsa_store_audit_list(s, NULL, 0, 0, &items, &n, err));
    CHECK(n == 3);
    if (n == 3) {
        CHECK(items[0].id == ids[2] && items[0].actor == NULL &&
              strcmp(items[0].action, "model.delete") == 0);
        CHECK(items[1].detail_json && strcmp(items[1].detail_json, "{\"epochs\":5}") == 0);
        CHECK(items[2].at_ms > 0 && strcmp(items[2].target, "ci") == 0);
    }
    tsa_store_audits_free(items, n);
    CHECK_SOK(tsa_store_audit_list(s, "alice", 0, 0, &items, &n, err));
    CHECK(n == 1 && items[0].id == ids[1]);
    tsa_store_audits_free(items, n);
    CHECK_ST(tsa_store_audit_append(s, "x", NULL, NULL, NULL, NULL, err), TSA_STORE_INVALID);
    tsa_store_close(s);
    ctx_done(&c);
}

static void t_apikeys(int pg)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, pg, "keys") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    char h1[65], h2[65], h3[65];
    CHECK_SOK(tsa_store_hash_key("tsa_key_one", 11, h1, err));
    CHECK_SOK(tsa_store_hash_key("tsa_key_two", 11, h2, err));
    CHECK_SOK(tsa_store_hash_key("tsa_key_three", 13, h3, err));
    CHECK_SOK(tsa_store_apikey_put(s, h1, "admin", "root", err));
    CHECK_SOK(tsa_store_apikey_put(s, h2, "viewer", "dash", err));
    CHECK_ST(tsa_store_apikey_put(s, h3, "viewer", "dash", err), TSA_STORE_CONFLICT);
    CHECK_ST(tsa_store_apikey_put(s, h1, "viewer", "again", err), TSA_STORE_CONFLICT);
    CHECK_MSG(strstr(err, h1) == NULL, "the hash leaked into: %s", err);
    CHECK_ST(tsa_store_apikey_put(s, h3, "superuser", "x", err), TSA_STORE_INVALID);
    CHECK_ST(tsa_store_apikey_put(s, "abc", "viewer", "x", err), TSA_STORE_INVALID);

    tsa_store_apikey k;
    CHECK_SOK(tsa_store_apikey_lookup(s, h2, &k, err));
    CHECK(strcmp(k.role, "viewer") == 0 && k.name && strcmp(k.name, "dash") == 0);
    CHECK(strcmp(k.key_hash, h2) == 0 && k.created_ms > 0);
    tsa_store_apikey_clear(&k);
    char upper[65];
    for (int i = 0; i < 65; i++)
        upper[i] = (char)(h1[i] >= 'a' && h1[i] <= 'f' ? h1[i] - 32 : h1[i]);
    CHECK_SOK(tsa_store_apikey_lookup(s, upper, &k, err));
    CHECK(strcmp(k.role, "admin") == 0);
    tsa_store_apikey_clear(&k);
    CHECK_ST(tsa_store_apikey_lookup(s, h3, &k, err), TSA_STORE_NOT_FOUND);

    int64_t count = 0;
    CHECK_SOK(tsa_store_apikey_count(s, &count, err));
    CHECK(count == 2);
    tsa_store_apikey *items = NULL;
    size_t n = 0;
    CHECK_SOK(tsa_store_apikey_list(s, &items, &n, err));
    CHECK(n == 2 && strcmp(items[0].name, "dash") == 0 && strcmp(items[1].role, "admin") == 0);
    tsa_store_apikeys_free(items, n);
    CHECK_SOK(tsa_store_apikey_delete(s, "dash", err));
    CHECK_ST(tsa_store_apikey_delete(s, "dash", err), TSA_STORE_NOT_FOUND);
    CHECK_ST(tsa_store_apikey_lookup(s, h2, &k, err), TSA_STORE_NOT_FOUND);
    tsa_store_close(s);
    ctx_done(&c);
}

/* PostgreSQL only: connections the server dropped (restart, failover,
 * idle timeout) are replaced without the caller noticing. */
static void t_pg_reconnect(void)
{
    ctx c;
    char err[TSA_STORE_ERR_LEN] = "";
    if (ctx_init(&c, 1, "reconnect") != 0) {
        CHECK(0);
        return;
    }
    tsa_store *s = open_ctx(&c);
    if (!s) {
        ctx_done(&c);
        return;
    }
    int64_t n = 0;
    CHECK_SOK(tsa_store_model_count(s, NULL, &n, err));
    char sql[256];
    snprintf(sql, sizeof sql,
             "SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = '%s' AND pid <> pg_backend_pid()",
             c.schema);
    struct timespec pause = {0, 50 * 1000000L};
    /* A write first: the dead connection is found at BEGIN, before anything
     * was sent, so the write is retried on a new one. */
    CHECK(pg_query(pg_base, sql) >= 1);
    nanosleep(&pause, NULL);
    CHECK_SOK(tsa_store_audit_append(s, "a", "x.y", NULL, NULL, NULL, err));
    CHECK(pg_query(pg_base, sql) >= 1);
    nanosleep(&pause, NULL);
    CHECK_SOK(tsa_store_model_count(s, NULL, &n, err));
    CHECK_SOK(tsa_store_ping(s, err));
    tsa_store_audit *items = NULL;
    size_t ni = 0;
    CHECK_SOK(tsa_store_audit_list(s, NULL, 0, 0, &items, &ni, err));
    CHECK(ni == 1); /* written once, not twice */
    tsa_store_audits_free(items, ni);
    tsa_store_close(s);
    ctx_done(&c);
}

/* ---- backend-independent cases ------------------------------------------ */

TEST(invalid_url)
{
    char err[TSA_STORE_ERR_LEN] = "";
    tsa_store *s = (tsa_store *)&s;
    CHECK_ST(tsa_store_open("mysql://u@h/db", NULL, &s, err), TSA_STORE_INVALID);
    CHECK(s == NULL);
    CHECK_MSG(strstr(err, "mysql") != NULL, "message: %s", err);
    CHECK_ST(tsa_store_open("sqlite:", NULL, &s, err), TSA_STORE_INVALID);
    CHECK_ST(tsa_store_open("sqlite::memory:", NULL, &s, err), TSA_STORE_INVALID);
    CHECK_ST(tsa_store_open("/var/tsa.db", NULL, &s, err), TSA_STORE_INVALID);
    CHECK_ST(tsa_store_open("postgresql://u@h/db?no_such_option=1", NULL, &s, err),
             TSA_STORE_INVALID);
    tsa_store_options o;
    tsa_store_options_init(&o);
    o.pool_size = 0;
    CHECK_ST(tsa_store_open("sqlite:/tmp/never.db", &o, &s, err), TSA_STORE_INVALID);
    CHECK(strcmp(tsa_store_status_name(TSA_STORE_UNAVAILABLE), "TSA_STORE_UNAVAILABLE") == 0);
    CHECK(tsa_store_http_status(TSA_STORE_UNAVAILABLE) == 503);
    CHECK(tsa_store_http_status(TSA_STORE_CONFLICT) == 409);
    CHECK(tsa_store_http_status(TSA_STORE_NOT_FOUND) == 404);
    CHECK(tsa_store_http_status(TSA_STORE_FORBIDDEN) == 403);
}

/* A port nobody listens on: bind an ephemeral port, then close it. */
static int closed_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0)
        close(fd);
    return port;
}

TEST(unavailable)
{
    char err[TSA_STORE_ERR_LEN] = "";
    char url[128];
    snprintf(url, sizeof url, "postgresql://tsa@127.0.0.1:%d/tsa?connect_timeout=2",
             closed_port());
    tsa_store *s = NULL;
    int64_t t0 = mono_ms();
    CHECK_ST(tsa_store_open(url, NULL, &s, err), TSA_STORE_UNAVAILABLE);
    CHECK(s == NULL);
    CHECK_MSG(mono_ms() - t0 < 5000, "took %lld ms", (long long)(mono_ms() - t0));
    /* A black-holed address waits out connect_timeout, then gives up. */
    t0 = mono_ms();
    CHECK_ST(tsa_store_open("postgresql://tsa@192.0.2.1:5432/tsa?connect_timeout=2", NULL, &s,
                            err),
             TSA_STORE_UNAVAILABLE);
    CHECK_MSG(mono_ms() - t0 < 6000, "took %lld ms", (long long)(mono_ms() - t0));
    /* SQLite: a file that cannot be created. */
    CHECK_ST(tsa_store_open("sqlite:/proc/no-such-dir/x.db", NULL, &s, err),
             TSA_STORE_UNAVAILABLE);
}

TEST(default_url)
{
    char err[TSA_STORE_ERR_LEN] = "";
    char cwd[512], path[512], url[600];
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    snprintf(path, sizeof path, "%s/fromenv.db", tmp_dir);
    snprintf(url, sizeof url, "sqlite://%s", path);
    setenv("TSA_DATABASE_URL", url, 1);
    tsa_store *s = NULL;
    CHECK_SOK(tsa_store_open(NULL, NULL, &s, err));
    tsa_store_close(s);
    struct stat st;
    CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
    unsetenv("TSA_DATABASE_URL");

    /* Without the variable: var/tsa.db under the working directory. */
    char work[512];
    snprintf(work, sizeof work, "%s/workdir", tmp_dir);
    mkdir(work, 0700);
    if (chdir(work) == 0) {
        s = NULL;
        CHECK_SOK(tsa_store_open("", NULL, &s, err));
        tsa_store_close(s);
        CHECK(stat("var/tsa.db", &st) == 0);
        CHECK(stat("var/tsa.db-wal", &st) == 0 || stat("var/tsa.db", &st) == 0);
        CHECK(chdir(cwd) == 0);
    } else {
        CHECK(0);
    }
}

/* Key formats: 64 hex digits or 44 base64 characters; anything else is
 * refused naming the variable, never echoing the key. */
TEST(encryption_key)
{
    char err[TSA_STORE_ERR_LEN] = "";
    char url[600];
    snprintf(url, sizeof url, "sqlite:%s/keys.db", tmp_dir);
    static const char *const bad[] = {
        "abc",
        KEY1 "0",                                                          /* 65 hex digits */
        "3f1c9a0be2d47a65c81e5f903b2dd6e4a7c05b19f38e2d6c4b0a9f8e7d6c5bzz", /* not hex */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8",                     /* no padding */
        "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh*=",                    /* not base64 */
    };
    tsa_store_options o;
    tsa_store_options_init(&o);
    tsa_store *s = NULL;
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        o.encryption_key = bad[k];
        o.encryption_key_previous = "";
        CHECK_ST(tsa_store_open(url, &o, &s, err), TSA_STORE_INVALID);
        CHECK_MSG(strncmp(err, "TSA_ENCRYPTION_KEY: must be 32 bytes", 36) == 0 &&
                      !strstr(err, bad[k]),
                  "message: %s", err);
        CHECK(s == NULL);
    }
    o.encryption_key = KEY1;
    o.encryption_key_previous = KEY2 ",nothex";
    CHECK_ST(tsa_store_open(url, &o, &s, err), TSA_STORE_INVALID);
    CHECK_MSG(strstr(err, "TSA_ENCRYPTION_KEY_PREVIOUS (entry 2)") && !strstr(err, "nothex"),
              "message: %s", err);
    /* The key id is the first 8 bytes of SHA-256(key), in either form. */
    char id[17];
    o.encryption_key = KEY3;
    o.encryption_key_previous = "";
    CHECK_SOK(tsa_store_open(url, &o, &s, err));
    CHECK(s && tsa_store_encrypted(s, id) && strcmp(id, "66687aadf862bd77") == 0);
    tsa_store_close(s);
    o.encryption_key = KEY2;
    CHECK_SOK(tsa_store_open(url, &o, &s, err));
    CHECK(s && tsa_store_encrypted(s, id) && strcmp(id, "630dcd2966c43366") == 0);
    tsa_store_close(s);
    /* NULL reads the environment. */
    setenv("TSA_ENCRYPTION_KEY", "0123", 1);
    CHECK_ST(tsa_store_open(url, NULL, &s, err), TSA_STORE_INVALID);
    CHECK_MSG(strstr(err, "TSA_ENCRYPTION_KEY:") && strstr(err, "got 4 characters"),
              "message: %s", err);
    setenv("TSA_ENCRYPTION_KEY", KEY2, 1);
    CHECK_SOK(tsa_store_open(url, NULL, &s, err));
    CHECK(s && tsa_store_encrypted(s, id) && strcmp(id, "630dcd2966c43366") == 0);
    tsa_store_close(s);
    unsetenv("TSA_ENCRYPTION_KEY");
    CHECK_SOK(tsa_store_open(url, NULL, &s, err));
    CHECK(s && !tsa_store_encrypted(s, id) && id[0] == '\0');
    tsa_store_close(s);
}

/* The envelope itself: every truncation, every flipped bit of a short
 * envelope, another row or column, and malformed text forms fail cleanly
 * (ERROR, no output); the right key round-trips. */
TEST(envelope)
{
    char err[TSA_STORE_ERR_LEN] = "";
    store_keyring kr, other;
    CHECK_SOK(store_keyring_parse(&kr, KEY1, KEY2, err));
    CHECK_SOK(store_keyring_parse(&other, KEY2, "", err));
    const char *msg = "{\"series\":[1,2,3]}";
    size_t len = strlen(msg);
    unsigned char *env = NULL, *out = NULL;
    size_t n = 0, out_n = 0;
    CHECK_SOK(store_seal(&kr, msg, len, "results.result", "row-1", &env, &n, err));
    CHECK(n == len + 41 && store_is_sealed(env, n) && store_sealed_current(&kr, env, n));
    CHECK(!store_sealed_current(&other, env, n));
    CHECK_SOK(store_unseal(&kr, env, n, "results.result", "row-1", &out, &out_n, err));
    CHECK(out && out_n == len && memcmp(out, msg, len) == 0 && out[len] == '\0');
    free(out);
    /* Two envelopes of one plaintext differ (random nonce). */
    unsigned char *env2 = NULL;
    size_t n2 = 0;
    CHECK_SOK(store_seal(&kr, msg, len, "results.result", "row-1", &env2, &n2, err));
    CHECK(n2 == n && memcmp(env, env2, n) != 0);
    free(env2);
    int bad = 0;
    for (size_t cut = 0; cut < n; cut++) {
        out = NULL;
        bad += store_unseal(&kr, env, cut, "results.result", "row-1", &out, &out_n, err) !=
                   TSA_STORE_ERROR ||
               out != NULL;
    }
    for (size_t byte = 0; byte < n; byte++)
        for (int bit = 0; bit < 8; bit++) {
            env[byte] ^= (unsigned char)(1u << bit);
            out = NULL;
            bad += store_unseal(&kr, env, n, "results.result", "row-1", &out, &out_n, err) !=
                       TSA_STORE_ERROR ||
                   out != NULL;
            env[byte] ^= (unsigned char)(1u << bit);
        }
    CHECK_MSG(bad == 0, "%d altered envelopes were accepted", bad);
    CHECK_ST(store_unseal(&kr, env, n, "results.result", "row-2", &out, &out_n, err),
             TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, "authentication failed"), "message: %s", err);
    CHECK_ST(store_unseal(&kr, env, n, "results.request", "row-1", &out, &out_n, err),
             TSA_STORE_ERROR);
    CHECK_ST(store_unseal(&other, env, n, "results.result", "row-1", &out, &out_n, err),
             TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, "key does not match"), "message: %s", err);
    /* A previous key reads; a keyring without keys says so. */
    store_keyring rotated, none;
    CHECK_SOK(store_keyring_parse(&rotated, KEY2, KEY3 "," KEY1, err));
    CHECK_SOK(store_unseal(&rotated, env, n, "results.result", "row-1", &out, &out_n, err));
    free(out);
    CHECK_SOK(store_keyring_parse(&none, "", "", err));
    CHECK_ST(store_unseal(&none, env, n, "results.result", "row-1", &out, &out_n, err),
             TSA_STORE_ERROR);
    CHECK_MSG(strstr(err, "TSA_ENCRYPTION_KEY is not set"), "message: %s", err);
    free(env);
    /* Text form. */
    char *text = NULL, *plain = NULL;
    CHECK_SOK(store_seal_text(&kr, msg, "jobs.request", "j", &text, err));
    CHECK(text && store_is_sealed_text(text) && store_sealed_text_current(&kr, text));
    CHECK(text && !store_sealed_text_current(&other, text));
    CHECK_SOK(store_unseal_text(&kr, text, "jobs.request", "j", &plain, err));
    CHECK(plain && strcmp(plain, msg) == 0);
    free(plain);
    static const char *const broken[] = {"TSAE1:", "TSAE1:abc", "TSAE1:!!!!", "TSAE1:AAAA"};
    for (size_t k = 0; k < sizeof broken / sizeof broken[0]; k++) {
        plain = NULL;
        CHECK_ST(store_unseal_text(&kr, broken[k], "jobs.request", "j", &plain, err),
                 TSA_STORE_ERROR);
        CHECK(plain == NULL);
    }
    text[strlen(text) - 5] = text[strlen(text) - 5] == 'A' ? 'B' : 'A';
    CHECK_ST(store_unseal_text(&kr, text, "jobs.request", "j", &plain, err), TSA_STORE_ERROR);
    free(text);
    store_keyring_wipe(&kr);
    store_keyring_wipe(&other);
    store_keyring_wipe(&rotated);
}

TEST(hash_key)
{
    char err[TSA_STORE_ERR_LEN] = "";
    char h[65];
    CHECK_SOK(tsa_store_hash_key("abc", 3, h, err));
    /* FIPS 180-2, appendix B.1. */
    CHECK(strcmp(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    CHECK_ST(tsa_store_hash_key("", 0, h, err), TSA_STORE_INVALID);
}

/* ---- the case table ------------------------------------------------------- */

#define BOTH(name)                                                           \
    static void test_sqlite_##name(void) { t_##name(0); }                    \
    static void test_pg_##name(void) { t_##name(1); }
BOTH(migrations)
BOTH(models)
BOTH(blob)
BOTH(concurrent_puts)
BOTH(jobs)
BOTH(claim_race)
BOTH(interrupted)
BOTH(results)
BOTH(encryption)
BOTH(audit)
BOTH(apikeys)
static void test_pg_reconnect(void) { t_pg_reconnect(); }

typedef struct store_case {
    const char *name;
    void (*fn)(void);
    int needs_pg;
} store_case;

#define SQ(name) {"sqlite_" #name, test_sqlite_##name, 0}
#define PG(name) {"pg_" #name, test_pg_##name, 1}

static const store_case cases[] = {
    {"invalid_url", test_invalid_url, 0},
    {"unavailable", test_unavailable, 0},
    {"default_url", test_default_url, 0},
    {"hash_key", test_hash_key, 0},
    {"encryption_key", test_encryption_key, 0},
    {"envelope", test_envelope, 0},
    SQ(migrations), SQ(models), SQ(blob), SQ(concurrent_puts), SQ(jobs),
    SQ(claim_race), SQ(interrupted), SQ(results), SQ(encryption), SQ(audit), SQ(apikeys),
    PG(migrations), PG(models), PG(blob), PG(concurrent_puts), PG(jobs),
    PG(claim_race), PG(interrupted), PG(results), PG(encryption), PG(audit), PG(apikeys),
    PG(reconnect),
};

static void remove_tree(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *t = getenv("TMPDIR");
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tsa-store-XXXXXX", t && *t ? t : "/tmp");
    if (!mkdtemp(tmp_dir)) {
        printf("Bail out! mkdtemp: %s\n", strerror(errno));
        return 1;
    }
    pg_base = getenv("TSA_TEST_PG_URL");
    if (pg_base && !*pg_base)
        pg_base = NULL;

    size_t n = sizeof cases / sizeof cases[0], run = 0, failed = 0;
    int wanted[sizeof cases / sizeof cases[0]];
    for (size_t i = 0; i < n; i++) {
        wanted[i] = argc < 2;
        for (int a = 1; a < argc; a++)
            if (strcmp(argv[a], cases[i].name) == 0)
                wanted[i] = 1;
        run += (size_t)wanted[i];
    }
    printf("1..%zu\n", run);
    run = 0;
    for (size_t i = 0; i < n; i++) {
        if (!wanted[i])
            continue;
        run++;
        if (cases[i].needs_pg && !pg_base) {
            printf("ok %zu - %s # SKIP no TSA_TEST_PG_URL\n", run, cases[i].name);
            continue;
        }
        int before = harness_failures_;
        harness_current_ = cases[i].name;
        int64_t t0 = mono_ms();
        cases[i].fn();
        if (harness_failures_ != before) {
            failed++;
            printf("not ok %zu - %s\n", run, cases[i].name);
        } else {
            printf("# %s: %lld ms\n", cases[i].name, (long long)(mono_ms() - t0));
            printf("ok %zu - %s\n", run, cases[i].name);
        }
    }
    remove_tree(tmp_dir);
    return failed ? 1 : 0;
}
