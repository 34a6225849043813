/* The services' persistent state: models (metadata + model file), training
 * jobs, stored analysis results, the audit log and API keys, behind one
 * interface with two backends of the same schema (DESIGN.md section 6):
 *
 *   sqlite:PATH               embedded default (`var/tsa.db`), WAL mode,
 *                             safe for several processes on one machine;
 *   postgresql://...          libpq, shared by replicas on many machines;
 *                             jobs are claimed with FOR UPDATE SKIP LOCKED.
 *
 * Internal to servers/ (not part of libtsa's ABI).
 *
 * Conventions
 * - Every call returns a tsa_store_status. TSA_STORE_UNAVAILABLE means the
 *   database cannot be reached or is busy past its timeout (HTTP 503); it is
 *   never used for a problem with the request.
 * - Every call takes a caller-owned `char err[TSA_STORE_ERR_LEN]` (may be
 *   NULL) that receives a one-line message on failure and is set to "" on
 *   entry. There is no shared error state.
 * - Outputs are trailing parameters, untouched (or zeroed for records) on
 *   failure. Records and arrays the store fills are released with the
 *   matching tsa_store_*_clear / tsa_store_*s_free, never free().
 * - Timestamps are milliseconds since the Unix epoch (int64), taken from the
 *   clock of the process making the call; replicas need synchronized clocks
 *   (NTP) for heartbeat timeouts to be meaningful.
 * - Every write runs in one transaction: either all of it is visible or none.
 *
 * Thread-safety
 * - A tsa_store is shared by all threads of a process: every function except
 *   tsa_store_close may be called concurrently on one handle. The handle
 *   keeps a pool of connections (options.pool_size); a call waits up to
 *   options.acquire_timeout_ms for a free one, then fails UNAVAILABLE.
 * - tsa_store_close needs every other call on the handle to have returned.
 * - A handle must not be used across fork(): a child opens its own.
 */
#ifndef TSA_SERVERS_STORE_H
#define TSA_SERVERS_STORE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Size of the caller's message buffer. */
#define TSA_STORE_ERR_LEN 256

/* Limits the store enforces (INVALID past them). */
#define TSA_STORE_MAX_NAME 200                 /* model name, owner, actor, worker id: bytes */
#define TSA_STORE_MAX_TAG 64                   /* kind, task, action, role: bytes */
#define TSA_STORE_MAX_TEXT (64u * 1024 * 1024) /* each JSON document or message */
#define TSA_STORE_MAX_BLOB (512u * 1024 * 1024) /* a model file */
#define TSA_STORE_MAX_LIST 1000                /* rows per list call */
#define TSA_STORE_DEFAULT_LIST 100             /* rows when limit is 0 */

/* Status codes: X(NAME, value, "description"). Never renumbered. */
#define TSA_STORE_STATUS_MAP(X)                                               \
    X(TSA_STORE_OK, 0, "success")                                             \
    X(TSA_STORE_NOT_FOUND, 1, "not found")                                    \
    X(TSA_STORE_CONFLICT, 2, "already exists or in a conflicting state")      \
    X(TSA_STORE_UNAVAILABLE, 3, "store unavailable")                          \
    X(TSA_STORE_INVALID, 4, "invalid argument")                               \
    X(TSA_STORE_FORBIDDEN, 5, "owned by someone else")                        \
    X(TSA_STORE_ERROR, 6, "store error")

typedef enum tsa_store_status {
#define TSA_STORE_STATUS_ENUM_(name, value, text) name = value,
    TSA_STORE_STATUS_MAP(TSA_STORE_STATUS_ENUM_)
#undef TSA_STORE_STATUS_ENUM_
} tsa_store_status;

/* "TSA_STORE_NOT_FOUND"...; a static string, never NULL. Thread-safe. */
const char *tsa_store_status_name(tsa_store_status st);

/* The HTTP status a service answers for @st: 200, 404, 409, 503, 400, 403,
 * 500. Thread-safe. */
int tsa_store_http_status(tsa_store_status st);

typedef struct tsa_store tsa_store;

/* ------------------------------------------------------------------------ */
/* Opening                                                                   */
/* ------------------------------------------------------------------------ */

typedef struct tsa_store_options {
    size_t size;                 /* sizeof(tsa_store_options), set by _init */
    unsigned pool_size;          /* connections per handle; default 8, 1..256 */
    unsigned acquire_timeout_ms; /* wait for a free connection; default 10000 */
    unsigned busy_timeout_ms;    /* SQLite lock wait; default 5000 */
    /* Encryption at rest (AES-256-GCM) of model files, job requests and
     * analysis results: a key of 32 bytes written as 64 hex digits or 44
     * base64 characters. NULL reads $TSA_ENCRYPTION_KEY; "" means none (new
     * rows are stored in plaintext). */
    const char *encryption_key;
    /* Older keys, comma-separated, that rows may still be encrypted under
     * (key rotation): read, never used for writing. NULL reads
     * $TSA_ENCRYPTION_KEY_PREVIOUS; "" means none. */
    const char *encryption_key_previous;
} tsa_store_options;

void tsa_store_options_init(tsa_store_options *opts);

/* Opens the store at @url, connects once and applies any pending numbered
 * migrations (in one transaction; concurrent openers serialize, so many
 * processes or replicas may start at once).
 *
 * @url: "sqlite:PATH" (also "sqlite://PATH"; the parent directory is created,
 *   a new file gets mode 0600), "postgresql://..." or "postgres://..." (a
 *   libpq URI; connect_timeout defaults to 10 s, any URI parameter
 *   overrides). NULL or "" means $TSA_DATABASE_URL, else "sqlite:var/tsa.db"
 *   relative to the working directory.
 * @opts: NULL for the defaults.
 *
 * Codes: INVALID (unknown scheme, malformed URI, ":memory:"), UNAVAILABLE
 * (cannot connect or open the file; a service may retry), ERROR (the
 * database schema is newer than this build, or a migration failed).
 * Not thread-safe with respect to getenv/setenv when @url is NULL. */
tsa_store_status tsa_store_open(const char *url, const tsa_store_options *opts,
                                tsa_store **out, char *err);

/* Whether new rows are encrypted; when so and @key_id (may be NULL) is
 * given, it receives the current key's id: 16 lowercase hex digits, the
 * first 8 bytes of SHA-256(key) (safe to log). Thread-safe. */
int tsa_store_encrypted(const tsa_store *s, char key_id[17]);

/* Closes every connection. Accepts NULL. No call may be in flight. */
void tsa_store_close(tsa_store *s);

/* "sqlite" or "postgresql". */
const char *tsa_store_backend(const tsa_store *s);

/* The schema version this build migrates to. */
int tsa_store_schema_version(void);

/* A round trip to the database: OK or UNAVAILABLE (health checks). */
tsa_store_status tsa_store_ping(tsa_store *s, char *err);

/* ------------------------------------------------------------------------ */
/* Models                                                                     */
/* ------------------------------------------------------------------------ */

/* A stored model. From tsa_store_model_get, blob holds the model file;
 * from _get_meta and _list, blob is NULL and blob_len its stored size. */
typedef struct tsa_store_model {
    char *name;
    char *kind;          /* libtsa kind name, e.g. "multivariate" */
    char *task;          /* "forecasting" or "anomaly" */
    char *params_json;   /* hyperparameters as given ("{}" when none) */
    char *metrics_json;  /* training metrics ("{}" when none) */
    char *owner;         /* NULL when stored without one */
    char blob_sha256[65];/* lowercase hex */
    int64_t created_ms;  /* first stored */
    int64_t updated_ms;  /* last overwritten */
    size_t blob_len;
    unsigned char *blob;
} tsa_store_model;

/* What to store. */
typedef struct tsa_store_model_in {
    const char *name;         /* 1..TSA_STORE_MAX_NAME bytes, no control chars */
    const char *kind;         /* 1..TSA_STORE_MAX_TAG bytes */
    const char *task;         /* "forecasting" or "anomaly" */
    const char *params_json;  /* NULL = "{}"; stored verbatim, not parsed */
    const char *metrics_json; /* NULL = "{}" */
    const char *owner;        /* may be NULL */
    const void *blob;         /* the model file, 1..TSA_STORE_MAX_BLOB bytes */
    size_t blob_len;
    int overwrite;            /* replace an existing model of this name */
    /* With overwrite: when non-NULL, replace only a model owned by this
     * owner (FORBIDDEN otherwise); NULL replaces any. */
    const char *overwrite_owner;
} tsa_store_model_in;

/* Encryption at rest: with a key, the model file (blob) is stored
 * encrypted; name, kind, task, params, metrics, owner, blob_size and
 * blob_sha256 (of the plaintext file) stay in plaintext for listing and
 * filtering. Reading a model encrypted under a key that is not configured,
 * or whose ciphertext was altered, fails with ERROR and a message naming
 * the model and saying the key does not match. */

/* Stores a model atomically: readers see either no row or the complete row
 * with its whole blob (one INSERT in one transaction). Codes: CONFLICT when
 * the name is taken and !overwrite (of several concurrent puts of one new
 * name exactly one succeeds), FORBIDDEN (overwrite_owner mismatch), INVALID. */
tsa_store_status tsa_store_model_put(tsa_store *s, const tsa_store_model_in *m,
                                     char *err);

/* Fetches a model with its blob; the blob's size and SHA-256 are checked
 * against those stored with it (ERROR on mismatch). Codes: NOT_FOUND.
 * Release @out with tsa_store_model_clear. */
tsa_store_status tsa_store_model_get(tsa_store *s, const char *name,
                                     tsa_store_model *out, char *err);

/* Like _get without reading the blob. */
tsa_store_status tsa_store_model_get_meta(tsa_store *s, const char *name,
                                          tsa_store_model *out, char *err);

/* The model's updated_at (ms since the epoch), which changes whenever it is
 * replaced: one indexed read, for checking a cached copy on every use.
 * Codes: NOT_FOUND. */
tsa_store_status tsa_store_model_version(tsa_store *s, const char *name, int64_t *updated_ms,
                                         char *err);

/* Filter for list and count; NULL fields match everything. */
typedef struct tsa_store_model_filter {
    const char *task;
    const char *kind;
    const char *owner;
} tsa_store_model_filter;

/* Metadata of models matching @f (NULL = all), ordered by name; @limit 0
 * means TSA_STORE_DEFAULT_LIST, above TSA_STORE_MAX_LIST is INVALID.
 * Release with tsa_store_models_free(*items, *n). */
tsa_store_status tsa_store_model_list(tsa_store *s, const tsa_store_model_filter *f,
                                      size_t limit, size_t offset,
                                      tsa_store_model **items, size_t *n, char *err);

tsa_store_status tsa_store_model_count(tsa_store *s, const tsa_store_model_filter *f,
                                       int64_t *n, char *err);

/* Deletes a model. @only_owner: when non-NULL, delete only if the model's
 * owner equals it. Codes: NOT_FOUND, FORBIDDEN. */
tsa_store_status tsa_store_model_delete(tsa_store *s, const char *name,
                                        const char *only_owner, char *err);

void tsa_store_model_clear(tsa_store_model *m);             /* accepts NULL */
void tsa_store_models_free(tsa_store_model *items, size_t n); /* accepts NULL */

/* ------------------------------------------------------------------------ */
/* Jobs                                                                       */
/* ------------------------------------------------------------------------ */

/* queued -> running -> completed | failed | canceled | interrupted;
 * queued -> canceled. Never renumbered. */
typedef enum tsa_store_job_state {
    TSA_JOB_QUEUED = 0,
    TSA_JOB_RUNNING = 1,
    TSA_JOB_COMPLETED = 2,
    TSA_JOB_FAILED = 3,
    TSA_JOB_CANCELED = 4,
    TSA_JOB_INTERRUPTED = 5,
} tsa_store_job_state;

#define TSA_JOB_STATE_COUNT 6
/* State masks for list/count: TSA_JOB_MASK(TSA_JOB_QUEUED) | ...; 0 = all. */
#define TSA_JOB_MASK(state) (1u << (unsigned)(state))
#define TSA_JOB_MASK_ACTIVE (TSA_JOB_MASK(TSA_JOB_QUEUED) | TSA_JOB_MASK(TSA_JOB_RUNNING))

/* "queued", "running", ...; "unknown" for other values. */
const char *tsa_store_job_state_name(tsa_store_job_state st);
/* Parses a state name; returns 0 on success, -1 otherwise. */
int tsa_store_job_state_parse(const char *name, tsa_store_job_state *out);

typedef struct tsa_store_job {
    char id[37];              /* UUID v4 */
    char *kind;               /* e.g. "train_forecasting" */
    char *model_name;         /* may be NULL */
    char *owner;              /* may be NULL */
    char *request_json;       /* NULL only when request_sealed */
    /* 1 when the stored request is encrypted under a key this process does
     * not have (or was altered): request_json is then NULL. */
    int request_sealed;
    char *result_json;        /* NULL until finished with one */
    char *error;              /* NULL unless failed/interrupted */
    char *worker_id;          /* NULL until claimed */
    char *hostname;           /* of the claiming process */
    tsa_store_job_state state;
    int cancel_requested;
    int64_t epoch, total_epochs;
    double train_loss, val_loss; /* NaN when not reported (or not finite) */
    int64_t eta_ms;           /* -1 when unknown */
    int64_t pid;              /* of the claiming process, 0 before */
    int64_t created_ms, started_ms, heartbeat_ms, finished_ms, updated_ms; /* 0 = not yet */
} tsa_store_job;

/* Queues a job; @id_out receives its UUID. @model_name, @owner may be NULL;
 * @request_json NULL = "{}". */
tsa_store_status tsa_store_job_create(tsa_store *s, const char *kind,
                                      const char *model_name, const char *owner,
                                      const char *request_json,
                                      char id_out[37], char *err);

/* Claims the oldest queued job (of @kind, or any when NULL) for @worker_id:
 * it becomes running, stamped with this process's hostname, pid and start
 * time. Two claimers (threads, processes, replicas) never get the same job.
 * Codes: NOT_FOUND when nothing is queued. Release @out with
 * tsa_store_job_clear. */
tsa_store_status tsa_store_job_claim(tsa_store *s, const char *worker_id,
                                     const char *kind, tsa_store_job *out,
                                     char *err);

/* Records progress of a running job and refreshes its heartbeat.
 * Non-finite losses are stored as unknown; @eta_ms < 0 = unknown.
 * @cancel_out (may be NULL) receives 1 when cancellation was requested.
 * Codes: NOT_FOUND; CONFLICT when the job is not running any more (it was
 * marked interrupted, e.g. after a missed heartbeat): the worker must stop. */
tsa_store_status tsa_store_job_progress(tsa_store *s, const char *id,
                                        int64_t epoch, int64_t total_epochs,
                                        double train_loss, double val_loss,
                                        int64_t eta_ms, int *cancel_out,
                                        char *err);

/* Refreshes a running job's heartbeat (same codes as _progress). A worker
 * whose epochs are long calls this at least every stale_after_ms / 4. */
tsa_store_status tsa_store_job_heartbeat(tsa_store *s, const char *id,
                                         int *cancel_out, char *err);

/* @stop_out receives 1 when the worker should stop: cancellation requested
 * or the job is no longer running. Codes: NOT_FOUND. */
tsa_store_status tsa_store_job_cancel_requested(tsa_store *s, const char *id,
                                                int *stop_out, char *err);

/* Ends a running job with @state COMPLETED, FAILED or CANCELED, storing
 * @result_json / @error (either may be NULL). With @model (COMPLETED only),
 * the model is stored in the same transaction, so a job is completed iff
 * its model exists. Codes: NOT_FOUND; CONFLICT when the job is not running
 * (nothing is stored), or from the model put; FORBIDDEN; INVALID. */
tsa_store_status tsa_store_job_finish(tsa_store *s, const char *id,
                                      tsa_store_job_state state,
                                      const char *result_json, const char *error,
                                      const tsa_store_model_in *model, char *err);

/* Requests cancellation: a queued job becomes canceled at once, a running
 * one gets cancel_requested (its worker sees it through _progress,
 * _heartbeat or _cancel_requested). @state_out (may be NULL) receives the
 * state after the call. Idempotent on a canceled job. Codes: NOT_FOUND;
 * CONFLICT when the job already ended otherwise. */
tsa_store_status tsa_store_job_cancel(tsa_store *s, const char *id,
                                      tsa_store_job_state *state_out, char *err);

tsa_store_status tsa_store_job_get(tsa_store *s, const char *id,
                                   tsa_store_job *out, char *err);

/* Jobs whose state is in @state_mask (0 = all), newest first. */
tsa_store_status tsa_store_job_list(tsa_store *s, unsigned state_mask,
                                    size_t limit, size_t offset,
                                    tsa_store_job **items, size_t *n, char *err);

tsa_store_status tsa_store_job_count(tsa_store *s, unsigned state_mask,
                                     int64_t *n, char *err);

/* Marks as interrupted the running jobs claimed by this process (and by
 * @worker_id when non-NULL): for a graceful shutdown. @n_out may be NULL. */
tsa_store_status tsa_store_job_interrupt_own(tsa_store *s, const char *worker_id,
                                             int64_t *n_out, char *err);

/* Marks as interrupted the running jobs whose process is gone: those claimed
 * on this host by a pid that no longer runs (or now belongs to another
 * process: the process start time is compared), and, when
 * @stale_after_ms > 0, those on any host whose heartbeat is older than that.
 * Call at startup and periodically. @n_out (may be NULL) receives how many
 * were marked. */
tsa_store_status tsa_store_job_recover(tsa_store *s, int64_t stale_after_ms,
                                       int64_t *n_out, char *err);

void tsa_store_job_clear(tsa_store_job *j);             /* accepts NULL */
void tsa_store_jobs_free(tsa_store_job *items, size_t n); /* accepts NULL */

/* ------------------------------------------------------------------------ */
/* Analysis results                                                           */
/* ------------------------------------------------------------------------ */

typedef struct tsa_store_result {
    char id[37];
    char *kind;          /* e.g. "coordinated", "ensemble" */
    char *owner;         /* may be NULL */
    char *request_json;  /* encrypted at rest when a key is set */
    char *result_json;   /* encrypted at rest when a key is set */
    /* From _list only: 1 when the payloads cannot be decrypted with the
     * configured keys; request_json and result_json are then NULL. _get
     * fails with ERROR instead. */
    int sealed;
    int64_t created_ms;
} tsa_store_result;

tsa_store_status tsa_store_result_put(tsa_store *s, const char *kind,
                                      const char *owner, const char *request_json,
                                      const char *result_json, char id_out[37],
                                      char *err);

tsa_store_status tsa_store_result_get(tsa_store *s, const char *id,
                                      tsa_store_result *out, char *err);

/* Results of @kind (NULL = all), newest first. */
tsa_store_status tsa_store_result_list(tsa_store *s, const char *kind,
                                       size_t limit, size_t offset,
                                       tsa_store_result **items, size_t *n,
                                       char *err);

tsa_store_status tsa_store_result_delete(tsa_store *s, const char *id, char *err);

void tsa_store_result_clear(tsa_store_result *r);
void tsa_store_results_free(tsa_store_result *items, size_t n);

/* ------------------------------------------------------------------------ */
/* Key rotation                                                               */
/* ------------------------------------------------------------------------ */

/* Counts of one tsa_store_rekey run. */
typedef struct tsa_store_rekey_stats {
    int64_t models, jobs, results; /* rows rewritten under the current key */
    int64_t unchanged;             /* rows already under it */
} tsa_store_rekey_stats;

/* Re-encrypts every model file, job request and result written in
 * plaintext or under a previous key with the current key, one row per
 * transaction (a row written concurrently is simply encrypted again), so
 * the previous keys can then be dropped. Model metadata (updated_ms) does
 * not change. Codes: INVALID (no current key), ERROR naming the first row
 * that cannot be decrypted (the rows before it stay rekeyed; run again
 * with the missing key in TSA_ENCRYPTION_KEY_PREVIOUS), UNAVAILABLE.
 * @stats may be NULL. */
tsa_store_status tsa_store_rekey(tsa_store *s, tsa_store_rekey_stats *stats, char *err);

/* ------------------------------------------------------------------------ */
/* Audit log                                                                  */
/* ------------------------------------------------------------------------ */

typedef struct tsa_store_audit {
    int64_t id;          /* increasing */
    int64_t at_ms;
    char *actor;         /* key name, or NULL when anonymous */
    char *action;        /* e.g. "model.delete" */
    char *target;        /* may be NULL */
    char *detail_json;   /* may be NULL */
} tsa_store_audit;

/* Appends an entry; @id_out may be NULL. */
tsa_store_status tsa_store_audit_append(tsa_store *s, const char *actor,
                                        const char *action, const char *target,
                                        const char *detail_json, int64_t *id_out,
                                        char *err);

/* Entries (of @actor when non-NULL), newest first. */
tsa_store_status tsa_store_audit_list(tsa_store *s, const char *actor,
                                      size_t limit, size_t offset,
                                      tsa_store_audit **items, size_t *n, char *err);

void tsa_store_audits_free(tsa_store_audit *items, size_t n);

/* ------------------------------------------------------------------------ */
/* API keys (only SHA-256 hashes are stored)                                  */
/* ------------------------------------------------------------------------ */

typedef struct tsa_store_apikey {
    char key_hash[65];   /* lowercase hex SHA-256 of the key */
    char role[16];       /* "viewer", "trainer" or "admin" */
    char *name;
    int64_t created_ms;
} tsa_store_apikey;

/* Hashes a presented key: @out receives 64 lowercase hex digits + NUL.
 * Codes: INVALID (empty key), ERROR (OpenSSL failure). Thread-safe. */
tsa_store_status tsa_store_hash_key(const char *key, size_t len, char out[65],
                                    char *err);

/* Stores a key by its hash (64 hex digits; upper case is folded). Codes:
 * CONFLICT when the hash or the name exists, INVALID (role, hash). */
tsa_store_status tsa_store_apikey_put(tsa_store *s, const char *key_hash,
                                      const char *role, const char *name,
                                      char *err);

/* Codes: NOT_FOUND for an unknown hash. Release with _apikey_clear. */
tsa_store_status tsa_store_apikey_lookup(tsa_store *s, const char *key_hash,
                                         tsa_store_apikey *out, char *err);

/* Revokes the key named @name. Codes: NOT_FOUND. */
tsa_store_status tsa_store_apikey_delete(tsa_store *s, const char *name, char *err);

/* All keys ordered by name (hashes included). */
tsa_store_status tsa_store_apikey_list(tsa_store *s, tsa_store_apikey **items,
                                       size_t *n, char *err);

tsa_store_status tsa_store_apikey_count(tsa_store *s, int64_t *n, char *err);

void tsa_store_apikey_clear(tsa_store_apikey *k);
void tsa_store_apikeys_free(tsa_store_apikey *items, size_t n);

#ifdef __cplusplus
}
#endif

#endif
