/* tsa: the command-line front end of libtsa.
 *
 * Every subcommand reads CSV (or a model file), calls the public libtsa API
 * and writes CSV or JSON. It holds no model logic: what it adds is file
 * handling, option parsing and the mapping of libtsa status codes to exit
 * codes (documented in docs/cli.md):
 *
 *   0 ok, 1 other failure, 2 usage, 3 bad input data, 4 model or parameter
 *   error, 5 file error, 130 interrupted. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tsa/tsa.h>

#include "csv.h"

enum {
    EXIT_OTHER = 1,
    EXIT_USAGE = 2,
    EXIT_DATA = 3,
    EXIT_MODEL = 4,
    EXIT_FILE = 5,
    EXIT_INTERRUPTED = 130
};

#define DEFAULT_PRECISION 10
/* The largest count an option takes; libtsa checks the real bounds. */
#define ARG_SIZE_MAX ((size_t)(SIZE_MAX < INT64_MAX ? SIZE_MAX : INT64_MAX))
#define BAR_WIDTH 30

/* ---- messages and exit codes ------------------------------------------------ */

static int status_exit(tsa_status s)
{
    switch (s) {
    case TSA_OK:
        return 0;
    case TSA_ENONFINITE:
    case TSA_ESHAPE:
    case TSA_ETOOSHORT:
        return EXIT_DATA;
    case TSA_EPARAM:
    case TSA_EUNKNOWN_KIND:
    case TSA_EUNSUPPORTED:
    case TSA_ENOTFITTED:
        return EXIT_MODEL;
    case TSA_EIO:
    case TSA_EFORMAT:
    case TSA_EVERSION:
        return EXIT_FILE;
    case TSA_ERANGE:
        /* Every range the tool hands to libtsa comes from an option
         * (--horizon, --interval, --threshold, --epochs, generate's). */
        return EXIT_USAGE;
    case TSA_ECANCELED:
        return EXIT_INTERRUPTED;
    default:
        return EXIT_OTHER;
    }
}

/* Reports a failed libtsa call as "tsa: <what>: <libtsa message>". */
static int fail_tsa(const char *what, tsa_status s)
{
    const char *msg = tsa_last_error();
    if (!msg || !*msg)
        msg = tsa_strerror(s);
    fprintf(stderr, "tsa: %s: %s\n", what, msg);
    return status_exit(s);
}

/* As fail_tsa(), and for non-finite data names the file line holding it. */
static int fail_series(const char *what, tsa_status s, const csv_table *t, const char *path)
{
    int code = fail_tsa(what, s);
    if (s == TSA_ENONFINITE && t) {
        for (size_t i = 0; i < t->rows * t->cols; i++)
            if (!(t->mask && t->mask[i]) && !isfinite(t->values[i])) {
                fprintf(stderr, "tsa: %s: the first such value is on line %zu of %s\n", what,
                        t->lines[i / t->cols], csv_display_name(path));
                break;
            }
    }
    return code;
}

static int usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "tsa: %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry 'tsa %s --help'.\n", cmd);
    return EXIT_USAGE;
}

/* getopt_long's '?' and ':' answers, as usage errors. */
static int bad_option(const char *cmd, char **argv, int c)
{
    const char *arg = argv[optind - 1];
    if (c == ':')
        return usage_error(cmd, "option '%s' needs a value", arg);
    if (optopt && !(arg[0] == '-' && arg[1] == '-'))
        return usage_error(cmd, "unknown option '-%c'", optopt);
    return usage_error(cmd, "unknown option '%s'", arg);
}

/* ---- option values ---------------------------------------------------------------- */

static int arg_i64(const char *cmd, const char *opt, const char *s, int64_t lo, int64_t hi,
                   int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (end == s || *end || errno)
        return usage_error(cmd, "%s: expected an integer, got '%s'", opt, s);
    if (v < lo || v > hi)
        return usage_error(cmd, "%s: must be in [%lld, %lld], got %lld", opt, (long long)lo,
                           (long long)hi, v);
    *out = v;
    return 0;
}

static int arg_size(const char *cmd, const char *opt, const char *s, size_t lo, size_t hi,
                    size_t *out)
{
    int64_t v = 0;
    int rc = arg_i64(cmd, opt, s, (int64_t)lo, (int64_t)hi, &v);
    if (rc == 0)
        *out = (size_t)v;
    return rc;
}

static int arg_double(const char *cmd, const char *opt, const char *s, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v))
        return usage_error(cmd, "%s: expected a number, got '%s'", opt, s);
    *out = v;
    return 0;
}

/* Seconds, or a count with a unit: 90, 90s, 15m, 1h, 1d, 1w. */
static int arg_duration(const char *cmd, const char *opt, const char *s, int64_t *out)
{
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    long long unit = 1;
    if (end != s && end[0] && !end[1]) {
        switch (*end) {
        case 's': unit = 1; end++; break;
        case 'm': unit = 60; end++; break;
        case 'h': unit = 3600; end++; break;
        case 'd': unit = 86400; end++; break;
        case 'w': unit = 7 * 86400; end++; break;
        default: break;
        }
    }
    if (end == s || *end || errno || v <= 0 || v > INT64_MAX / unit)
        return usage_error(cmd, "%s: expected a positive number of seconds (or with s, m, h, d, "
                                "w), got '%s'", opt, s);
    *out = v * unit;
    return 0;
}

typedef enum time_choice { TIME_AUTO, TIME_UNIX, TIME_ISO, TIME_DATE } time_choice;

static int arg_time_format(const char *cmd, const char *s, time_choice *out)
{
    static const char *const names[] = {"auto", "unix", "iso", "date"};
    for (int i = 0; i < 4; i++)
        if (strcmp(s, names[i]) == 0) {
            *out = (time_choice)i;
            return 0;
        }
    return usage_error(cmd, "--time-format: expected auto, unix, iso or date, got '%s'", s);
}

/* The form of output timestamps: as asked, or as the input's own. */
static csv_time_format time_out(time_choice c, csv_time_format input)
{
    switch (c) {
    case TIME_UNIX: return CSV_TIME_UNIX;
    case TIME_ISO: return CSV_TIME_DATETIME;
    case TIME_DATE: return CSV_TIME_DATE;
    default: return input != CSV_TIME_NONE ? input : CSV_TIME_UNIX;
    }
}

/* ---- output ------------------------------------------------------------------------ */

static int out_open(const char *path, FILE **f)
{
    if (strcmp(path, "-") == 0) {
        *f = stdout;
        return 0;
    }
    *f = fopen(path, "w");
    if (!*f) {
        fprintf(stderr, "tsa: %s: cannot create: %s\n", path, strerror(errno));
        return EXIT_FILE;
    }
    return 0;
}

static int out_close(FILE *f, const char *path)
{
    int bad = ferror(f);
    int err = errno;
    if (f == stdout) {
        if (fflush(f) != 0) {
            bad = 1;
            err = errno;
        }
    } else if (fclose(f) != 0) {
        bad = 1;
        err = errno;
    }
    if (bad) {
        fprintf(stderr, "tsa: %s: write failed: %s\n", csv_display_name(path),
                strerror(err ? err : EIO));
        return EXIT_FILE;
    }
    return 0;
}

static void put_time(FILE *f, int64_t t, csv_time_format fmt)
{
    char buf[48];
    csv_format_time(t, fmt, buf, sizeof buf);
    fputs(buf, f);
}

/* Re-indents compact JSON with two spaces (strings are copied untouched). */
static void json_pretty(FILE *f, const char *s)
{
    int depth = 0;
    for (const char *p = s; *p; p++) {
        char c = *p;
        if (c == '"') {
            fputc(c, f);
            for (p++; *p && *p != '"'; p++) {
                fputc(*p, f);
                if (*p == '\\' && p[1])
                    fputc(*++p, f);
            }
            if (*p)
                fputc('"', f);
            else
                break;
            continue;
        }
        switch (c) {
        case '{':
        case '[': {
            const char *q = p + 1;
            while (*q == ' ' || *q == '\n' || *q == '\t' || *q == '\r')
                q++;
            if (*q == (c == '{' ? '}' : ']')) {
                fputc(c, f);
                fputc(*q, f);
                p = q;
                break;
            }
            fputc(c, f);
            fprintf(f, "\n%*s", 2 * ++depth, "");
            break;
        }
        case '}':
        case ']':
            depth = depth > 0 ? depth - 1 : 0;
            fprintf(f, "\n%*s%c", 2 * depth, "", c);
            break;
        case ',':
            fprintf(f, ",\n%*s", 2 * depth, "");
            break;
        case ':':
            fputs(": ", f);
            break;
        case ' ':
        case '\n':
        case '\t':
        case '\r':
            break;
        default:
            fputc(c, f);
        }
    }
    fputc('\n', f);
}

/* ---- shared steps ---------------------------------------------------------------- */

static int read_table(const char *path, csv_table *t)
{
    char err[512];
    int rc = csv_read(path, t, err, sizeof err);
    if (rc)
        fprintf(stderr, "tsa: %s\n", err);
    return rc;
}

static tsa_series table_series(const csv_table *t)
{
    tsa_series s = tsa_series_view(t->values, t->rows, t->cols);
    s.timestamps = t->timestamps;
    s.mask = t->mask;
    return s;
}

static int load_model(const char *cmd, const char *path, tsa_model **m)
{
    tsa_status s;
    if (strcmp(path, "-") == 0) {
        char err[512], *buf;
        size_t len;
        int rc = csv_read_all(path, &buf, &len, err, sizeof err);
        if (rc) {
            fprintf(stderr, "tsa: %s: %s\n", cmd, err);
            return rc;
        }
        s = tsa_model_load(buf, len, m);
        free(buf);
    } else {
        s = tsa_model_load_file(path, m);
    }
    if (s == TSA_OK)
        return 0;
    if (s == TSA_EIO) /* libtsa's message names the file already */
        return fail_tsa(cmd, s);
    char what[512];
    snprintf(what, sizeof what, "%s: %s", cmd, csv_display_name(path));
    return fail_tsa(what, s);
}

/* ---- fit ------------------------------------------------------------------------------ */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
    (void)sig;
    interrupted = 1;
}

enum { PROGRESS_NONE, PROGRESS_BAR, PROGRESS_LINES };

typedef struct progress_ui {
    int mode;
    int drawn;          /* a bar is on the terminal line */
    int last_percent;   /* of the bar drawn last */
    double last_drawn;  /* its elapsed_s */
    const char *last_stage;
} progress_ui;

#define PROGRESS_HAS(p, field) \
    ((p)->size >= offsetof(tsa_progress, field) + sizeof((p)->field))

static int on_progress(const tsa_progress *p, void *user)
{
    progress_ui *ui = user;
    const char *stage = PROGRESS_HAS(p, stage) && p->stage ? p->stage : "fit";
    long long step = PROGRESS_HAS(p, step) ? (long long)p->step : 0;
    long long total = PROGRESS_HAS(p, total) ? (long long)p->total : 0;
    double loss = PROGRESS_HAS(p, train_loss) ? p->train_loss : NAN;
    double val = PROGRESS_HAS(p, val_loss) ? p->val_loss : NAN;
    double elapsed = PROGRESS_HAS(p, elapsed_s) ? p->elapsed_s : NAN;
    if (ui->mode == PROGRESS_BAR) {
        double frac = total > 0 ? (double)step / (double)total : 0;
        frac = frac < 0 ? 0 : frac > 1 ? 1 : frac;
        const int percent = (int)(frac * 100 + 0.5);
        /* Kinds may report thousands of steps a second: redraw when the
         * figure moves, the stage changes, or ten times a second. */
        if (ui->drawn && percent == ui->last_percent && ui->last_stage == stage &&
            !(isfinite(elapsed) && elapsed - ui->last_drawn >= 0.1) && step != total)
            return interrupted ? 1 : 0;
        ui->last_percent = percent;
        ui->last_stage = stage;
        ui->last_drawn = isfinite(elapsed) ? elapsed : 0;
        if (total > 0) {
            char bar[BAR_WIDTH + 1];
            int fill = (int)(frac * BAR_WIDTH + 0.5);
            for (int i = 0; i < BAR_WIDTH; i++)
                bar[i] = i < fill ? '#' : '-';
            bar[BAR_WIDTH] = '\0';
            fprintf(stderr, "\r%-15s [%s] %3d%% %lld/%lld", stage, bar, percent, step, total);
        } else {
            fprintf(stderr, "\r%-15s %lld", stage, step);
        }
        if (isfinite(loss))
            fprintf(stderr, " loss %.4g", loss);
        if (isfinite(val))
            fprintf(stderr, " val %.4g", val);
        if (isfinite(elapsed))
            fprintf(stderr, " %.1fs", elapsed);
        fputs("\033[K", stderr);
        ui->drawn = 1;
    } else if (ui->mode == PROGRESS_LINES) {
        fprintf(stderr, "progress: stage=%s step=%lld total=%lld", stage, step, total);
        if (isfinite(loss))
            fprintf(stderr, " train_loss=%.6g", loss);
        if (isfinite(val))
            fprintf(stderr, " val_loss=%.6g", val);
        if (isfinite(elapsed))
            fprintf(stderr, " elapsed_s=%.3f", elapsed);
        fputc('\n', stderr);
    }
    fflush(stderr);
    return interrupted ? 1 : 0;
}

/* Copies every member of @p from into @p to (later values win). */
static tsa_status params_merge(tsa_params *to, const tsa_params *from)
{
    for (size_t i = 0; i < tsa_params_count(from); i++) {
        const char *key = tsa_params_key(from, i);
        tsa_status s = TSA_OK;
        switch (tsa_params_type(from, key)) {
        case TSA_PARAM_INT: {
            int64_t v = 0;
            s = tsa_params_get_int(from, key, &v);
            if (s == TSA_OK)
                s = tsa_params_set_int(to, key, v);
            break;
        }
        case TSA_PARAM_DOUBLE: {
            double v = 0;
            s = tsa_params_get_double(from, key, &v);
            if (s == TSA_OK)
                s = tsa_params_set_double(to, key, v);
            break;
        }
        case TSA_PARAM_BOOL: {
            int v = 0;
            s = tsa_params_get_bool(from, key, &v);
            if (s == TSA_OK)
                s = tsa_params_set_bool(to, key, v);
            break;
        }
        case TSA_PARAM_STRING: {
            const char *v = NULL;
            s = tsa_params_get_str(from, key, &v);
            if (s == TSA_OK)
                s = tsa_params_set_str(to, key, v);
            break;
        }
        default:
            break;
        }
        if (s != TSA_OK)
            return s;
    }
    return TSA_OK;
}

static const char fit_help[] =
    "Usage: tsa fit --kind KIND --output MODEL [options]\n"
    "\n"
    "Fits a model of KIND on a CSV series and saves it.\n"
    "\n"
    "  -k, --kind KIND          model kind (see 'tsa kinds')\n"
    "  -i, --input FILE         training CSV (default: - = standard input)\n"
    "  -o, --output MODEL       model file to write (- = standard output)\n"
    "  -p, --param KEY=VALUE    a hyperparameter; repeatable (see 'tsa kinds KIND')\n"
    "      --params-json JSON   hyperparameters as a JSON object, or @FILE to read\n"
    "                           one; --param values given after it win\n"
    "      --epochs N           training epochs (neural kinds; 0 = the parameter)\n"
    "      --seed N             random seed (also stored as the 'seed' parameter)\n"
    "      --threads N          worker threads (0 = library default)\n"
    "      --progress           one line per progress report on standard error\n"
    "                           (a bar is drawn anyway when it is a terminal)\n"
    "  -q, --quiet              no progress bar or summary\n"
    "  -h, --help               show this help\n"
    "\n"
    "The CSV may start with a header row; a first column named timestamp, time,\n"
    "date, datetime or ds holds integer seconds or ISO-8601 dates; a column named\n"
    "label is ignored; empty cells and NA/NaN are missing values.\n"
    "Ctrl-C cancels the fit (exit code 130).\n";

enum {
    OPT_PARAMS_JSON = 256,
    OPT_EPOCHS,
    OPT_SEED,
    OPT_THREADS,
    OPT_PROGRESS,
    OPT_INTERVAL,
    OPT_PRECISION,
    OPT_TIME_FORMAT,
    OPT_NO_HEADER,
    OPT_COMPONENTS,
    OPT_ONLY_ANOMALIES,
    OPT_EVALUATE,
    OPT_COMPACT,
    OPT_NO_TREND,
    OPT_TREND_SLOPE,
    OPT_NO_SEASONALITY,
    OPT_PERIOD,
    OPT_AMPLITUDE,
    OPT_NOISE,
    OPT_ANOMALIES,
    OPT_MAGNITUDE,
    OPT_START,
    OPT_STEP
};

static int add_params_json(const char *cmd, tsa_params *params, const char *arg)
{
    char *text = NULL;
    const char *json = arg;
    if (arg[0] == '@') {
        char err[512];
        size_t len;
        int rc = csv_read_all(arg + 1, &text, &len, err, sizeof err);
        if (rc) {
            fprintf(stderr, "tsa: %s: --params-json: %s\n", cmd, err);
            return rc;
        }
        json = text;
    }
    tsa_params *extra = NULL;
    tsa_status s = tsa_params_from_json(json, &extra);
    free(text);
    if (s == TSA_OK)
        s = params_merge(params, extra);
    tsa_params_free(extra);
    if (s == TSA_OK)
        return 0;
    char what[128];
    snprintf(what, sizeof what, "%s: --params-json", cmd);
    int code = fail_tsa(what, s);
    return s == TSA_EINVAL ? EXIT_MODEL : code; /* not a JSON object: a parameter error */
}

static int cmd_fit(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'},
        {"input", required_argument, NULL, 'i'},
        {"output", required_argument, NULL, 'o'},
        {"param", required_argument, NULL, 'p'},
        {"params-json", required_argument, NULL, OPT_PARAMS_JSON},
        {"epochs", required_argument, NULL, OPT_EPOCHS},
        {"seed", required_argument, NULL, OPT_SEED},
        {"threads", required_argument, NULL, OPT_THREADS},
        {"progress", no_argument, NULL, OPT_PROGRESS},
        {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *kind = NULL, *input = "-", *output = NULL;
    int want_lines = 0, quiet = 0, rc = 0, c;
    int64_t v = 0;
    tsa_fit_options fo;
    tsa_fit_options_init(&fo);
    tsa_params *params = NULL;
    tsa_model *m = NULL;
    csv_table t = {0};
    tsa_status s = tsa_params_create(&params);
    if (s != TSA_OK)
        return fail_tsa("fit", s);

    while ((c = getopt_long(argc, argv, ":k:i:o:p:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': kind = optarg; break;
        case 'i': input = optarg; break;
        case 'o': output = optarg; break;
        case 'p': {
            char *eq = strchr(optarg, '=');
            if (!eq || eq == optarg) {
                rc = usage_error("fit", "--param: expected KEY=VALUE, got '%s'", optarg);
                goto done;
            }
            *eq = '\0';
            /* Values go in as text: the kind's table converts them to the
             * key's type and reports a value it cannot read, naming the key. */
            s = tsa_params_set_str(params, optarg, eq + 1);
            *eq = '=';
            if (s != TSA_OK) {
                rc = fail_tsa("fit: --param", s);
                goto done;
            }
            break;
        }
        case OPT_PARAMS_JSON:
            if ((rc = add_params_json("fit", params, optarg)) != 0)
                goto done;
            break;
        case OPT_EPOCHS:
            if ((rc = arg_i64("fit", "--epochs", optarg, 0, INT64_MAX, &v)) != 0)
                goto done;
            fo.epochs = v;
            break;
        case OPT_SEED:
            /* 2^53: the largest seed a JSON number (the stored parameters) holds exactly. */
            if ((rc = arg_i64("fit", "--seed", optarg, 0, (int64_t)1 << 53, &v)) != 0)
                goto done;
            fo.seed = (uint64_t)v;
            if ((s = tsa_params_set_int(params, "seed", v)) != TSA_OK) {
                rc = fail_tsa("fit: --seed", s);
                goto done;
            }
            break;
        case OPT_THREADS:
            if ((rc = arg_i64("fit", "--threads", optarg, 0, 1024, &v)) != 0)
                goto done;
            fo.n_threads = (int)v;
            break;
        case OPT_PROGRESS: want_lines = 1; break;
        case 'q': quiet = 1; break;
        case 'h':
            fputs(fit_help, stdout);
            goto done;
        default:
            rc = bad_option("fit", argv, c);
            goto done;
        }
    }
    if (optind < argc) {
        rc = usage_error("fit", "unexpected argument '%s'", argv[optind]);
        goto done;
    }
    if (!kind) {
        rc = usage_error("fit", "--kind is required");
        goto done;
    }
    if (!output) {
        rc = usage_error("fit", "--output is required");
        goto done;
    }
    if (strcmp(output, "-") == 0 && isatty(STDOUT_FILENO)) {
        rc = usage_error("fit", "refusing to write a binary model to a terminal");
        goto done;
    }

    /* The model first: a bad kind or parameter fails before any data is read. */
    if ((s = tsa_model_create(kind, params, &m)) != TSA_OK) {
        rc = fail_tsa("fit", s);
        if (s == TSA_EUNKNOWN_KIND)
            fprintf(stderr, "tsa: fit: 'tsa kinds' lists the known kinds\n");
        goto done;
    }
    if ((rc = read_table(input, &t)) != 0)
        goto done;

    progress_ui ui = {PROGRESS_NONE, 0, -1, 0.0, NULL};
    if (!quiet)
        ui.mode = isatty(STDERR_FILENO) ? PROGRESS_BAR
                  : want_lines          ? PROGRESS_LINES
                                        : PROGRESS_NONE;
    fo.progress = on_progress;
    fo.user = &ui;

    struct sigaction sa, old_sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sa.sa_flags = SA_RESETHAND; /* a second Ctrl-C ends the process at once */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_sa);
    tsa_series train = table_series(&t);
    s = tsa_model_fit(m, &train, &fo);
    sigaction(SIGINT, &old_sa, NULL);
    if (ui.drawn)
        fputc('\n', stderr);
    if (s == TSA_ECANCELED || (s == TSA_OK && interrupted)) {
        fprintf(stderr, "tsa: fit: interrupted\n");
        rc = EXIT_INTERRUPTED;
        goto done;
    }
    if (s != TSA_OK) {
        rc = fail_series("fit", s, &t, input);
        goto done;
    }

    if (strcmp(output, "-") == 0) {
        void *buf = NULL;
        size_t len = 0;
        if ((s = tsa_model_save(m, &buf, &len)) != TSA_OK) {
            rc = fail_tsa("fit: saving the model", s);
            goto done;
        }
        size_t put = fwrite(buf, 1, len, stdout);
        tsa_free(buf);
        if (put != len) {
            fprintf(stderr, "tsa: stdout: write failed: %s\n", strerror(errno));
            rc = EXIT_FILE;
            goto done;
        }
        if ((rc = out_close(stdout, "-")) != 0)
            goto done;
    } else if ((s = tsa_model_save_file(m, output)) != TSA_OK) {
        rc = fail_tsa("fit", s);
        goto done;
    }
    if (ui.mode != PROGRESS_NONE)
        fprintf(stderr, "tsa: fit: %s on %zu rows x %zu features (context %zu) saved to %s\n",
                tsa_model_kind(m), t.rows, t.cols, tsa_model_context_length(m),
                csv_display_name(output));
done:
    csv_free(&t);
    tsa_model_free(m);
    tsa_params_free(params);
    return rc;
}

/* ---- forecast ---------------------------------------------------------------------- */

static const char forecast_help[] =
    "Usage: tsa forecast --model MODEL --horizon N [options]\n"
    "\n"
    "Forecasts N steps after the training series, or after --input.\n"
    "Writes CSV: step[,timestamp],mean_0,lower_0,upper_0,mean_1,... (one triple per\n"
    "feature, features numbered from 0; steps from 1).\n"
    "\n"
    "  -m, --model MODEL        model file (- = standard input)\n"
    "  -i, --input FILE         recent history CSV to forecast from (default: the\n"
    "                           end of the training series)\n"
    "  -H, --horizon N          steps to forecast, in [1, 100000]\n"
    "      --interval P         central coverage of [lower, upper] (default 0.95)\n"
    "  -o, --output FILE        CSV to write (default: - = standard output)\n"
    "      --time-format FMT    auto, unix, iso or date (default auto: as the\n"
    "                           input's timestamps, else integer seconds)\n"
    "      --precision N        significant digits, 1-17 (default 10)\n"
    "      --no-header          omit the header row\n"
    "      --components         also write the forecast's components (kinds\n"
    "                           prophet and ets): NAME_j columns that add up\n"
    "                           to mean_j, e.g. trend_0,weekly_0\n"
    "  -h, --help               show this help\n"
    "\n"
    "Timestamps are written when the history (or the training series) had them:\n"
    "the last one plus multiples of its median spacing.\n";

static int cmd_forecast(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"input", required_argument, NULL, 'i'},
        {"horizon", required_argument, NULL, 'H'},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"output", required_argument, NULL, 'o'},
        {"time-format", required_argument, NULL, OPT_TIME_FORMAT},
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"no-header", no_argument, NULL, OPT_NO_HEADER},
        {"components", no_argument, NULL, OPT_COMPONENTS},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL, *input = NULL, *output = "-";
    size_t horizon = 0, precision = DEFAULT_PRECISION;
    int have_horizon = 0, header = 1, components = 0, c;
    double interval = 0.95;
    time_choice tc = TIME_AUTO;
    int64_t v = 0;

    while ((c = getopt_long(argc, argv, ":m:i:H:o:h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'i': input = optarg; break;
        case 'H':
            rc = arg_i64("forecast", "--horizon", optarg, 1, TSA_MAX_HORIZON, &v);
            horizon = (size_t)v;
            have_horizon = 1;
            break;
        case OPT_INTERVAL:
            rc = arg_double("forecast", "--interval", optarg, &interval);
            if (rc == 0 && !(interval > 0 && interval < 1))
                rc = usage_error("forecast", "--interval: must be in (0, 1), got %s", optarg);
            break;
        case 'o': output = optarg; break;
        case OPT_TIME_FORMAT: rc = arg_time_format("forecast", optarg, &tc); break;
        case OPT_PRECISION:
            rc = arg_size("forecast", "--precision", optarg, 1, 17, &precision);
            break;
        case OPT_NO_HEADER: header = 0; break;
        case OPT_COMPONENTS: components = 1; break;
        case 'h': fputs(forecast_help, stdout); return 0;
        default: return bad_option("forecast", argv, c);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error("forecast", "unexpected argument '%s'", argv[optind]);
    if (!model_path)
        return usage_error("forecast", "--model is required");
    if (!have_horizon)
        return usage_error("forecast", "--horizon is required");
    if (input && strcmp(input, "-") == 0 && strcmp(model_path, "-") == 0)
        return usage_error("forecast", "--model and --input cannot both be standard input");

    tsa_model *m = NULL;
    tsa_forecast *fc = NULL;
    tsa_components *cp = NULL;
    csv_table t = {0};
    FILE *f = NULL;
    int rc = load_model("forecast", model_path, &m);
    if (rc)
        goto done;
    if (components && !(tsa_kind_capabilities(tsa_model_kind(m)) & TSA_CAP_COMPONENTS)) {
        rc = usage_error("forecast", "--components: kind '%s' has no components (prophet and ets do)",
                         tsa_model_kind(m));
        goto done;
    }
    if (input && (rc = read_table(input, &t)) != 0)
        goto done;
    tsa_series hist = table_series(&t);
    tsa_status s = tsa_model_forecast(m, input ? &hist : NULL, horizon, interval, &fc);
    if (s == TSA_OK && components)
        s = tsa_model_components(m, input ? &hist : NULL, horizon, &cp);
    if (s != TSA_OK) {
        rc = fail_series("forecast", s, input ? &t : NULL, input ? input : "-");
        goto done;
    }
    if ((rc = out_open(output, &f)) != 0)
        goto done;
    const int prec = (int)precision;
    const csv_time_format tf = time_out(tc, t.time_format);
    const size_t k = fc->n_features;
    if (header) {
        fputs(fc->timestamps ? "step,timestamp" : "step", f);
        for (size_t j = 0; j < k; j++)
            fprintf(f, ",mean_%zu,lower_%zu,upper_%zu", j, j, j);
        for (size_t q = 0; cp && q < cp->n_components; q++)
            for (size_t j = 0; j < k; j++)
                fprintf(f, ",%s_%zu", cp->names[q], j);
        fputc('\n', f);
    }
    for (size_t h = 0; h < fc->horizon; h++) {
        fprintf(f, "%zu", h + 1);
        if (fc->timestamps) {
            fputc(',', f);
            put_time(f, fc->timestamps[h], tf);
        }
        for (size_t j = 0; j < k; j++)
            fprintf(f, ",%.*g,%.*g,%.*g", prec, fc->mean[h * k + j], prec, fc->lower[h * k + j],
                    prec, fc->upper[h * k + j]);
        for (size_t q = 0; cp && q < cp->n_components; q++)
            for (size_t j = 0; j < k; j++)
                fprintf(f, ",%.*g", prec, cp->values[(q * fc->horizon + h) * k + j]);
        fputc('\n', f);
    }
    rc = out_close(f, output);
done:
    tsa_components_free(cp);
    tsa_forecast_free(fc);
    csv_free(&t);
    tsa_model_free(m);
    return rc;
}

/* ---- detect and score -------------------------------------------------------------- */

static const char detect_help[] =
    "Usage: tsa detect --model MODEL [options]\n"
    "\n"
    "Scores every row of a CSV series and flags anomalies.\n"
    "Writes CSV: index[,timestamp],raw,calibrated,flag (index counts data rows\n"
    "from 0; flag is 1 where calibrated > threshold).\n"
    "\n"
    "  -m, --model MODEL        model file (- = standard input)\n"
    "  -i, --input FILE         CSV to score (default: - = standard input)\n"
    "  -t, --threshold P        calibrated threshold in [0, 1) (default 0.95)\n"
    "      --only-anomalies     write the flagged rows only\n"
    "      --evaluate           compare the flags with the input's label column\n"
    "                           and print precision, recall and F1 on stderr\n"
    "  -o, --output FILE        CSV to write (default: - = standard output)\n"
    "      --time-format FMT    auto, unix, iso or date (default: as the input)\n"
    "      --precision N        significant digits, 1-17 (default 10)\n"
    "      --no-header          omit the header row\n"
    "  -h, --help               show this help\n"
    "\n"
    "The calibrated score of a row is the probability that a normal row scores\n"
    "lower, whatever the kind; the first context-length rows score 0.\n";

static const char score_help[] =
    "Usage: tsa score --model MODEL [options]\n"
    "\n"
    "Writes the anomaly scores of every row of a CSV series.\n"
    "Writes CSV: index[,timestamp],raw,calibrated (index counts data rows from 0).\n"
    "\n"
    "  -m, --model MODEL        model file (- = standard input)\n"
    "  -i, --input FILE         CSV to score (default: - = standard input)\n"
    "  -o, --output FILE        CSV to write (default: - = standard output)\n"
    "      --time-format FMT    auto, unix, iso or date (default: as the input)\n"
    "      --precision N        significant digits, 1-17 (default 10)\n"
    "      --no-header          omit the header row\n"
    "  -h, --help               show this help\n";

static int run_scoring(int argc, char **argv, int detect)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"input", required_argument, NULL, 'i'},
        {"threshold", required_argument, NULL, 't'},
        {"only-anomalies", no_argument, NULL, OPT_ONLY_ANOMALIES},
        {"evaluate", no_argument, NULL, OPT_EVALUATE},
        {"output", required_argument, NULL, 'o'},
        {"time-format", required_argument, NULL, OPT_TIME_FORMAT},
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"no-header", no_argument, NULL, OPT_NO_HEADER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *cmd = detect ? "detect" : "score";
    const char *model_path = NULL, *input = "-", *output = "-";
    size_t precision = DEFAULT_PRECISION;
    int header = 1, only = 0, evaluate = 0, c;
    double threshold = 0.95;
    time_choice tc = TIME_AUTO;

    while ((c = getopt_long(argc, argv, detect ? ":m:i:t:o:h" : ":m:i:o:h", longopts, NULL)) !=
           -1) {
        int rc = 0;
        if (!detect && (c == 't' || c == OPT_ONLY_ANOMALIES || c == OPT_EVALUATE))
            return usage_error(cmd, "option '%s' belongs to 'tsa detect'", argv[optind - 1]);
        switch (c) {
        case 'm': model_path = optarg; break;
        case 'i': input = optarg; break;
        case 't': rc = arg_double(cmd, "--threshold", optarg, &threshold); break;
        case OPT_ONLY_ANOMALIES: only = 1; break;
        case OPT_EVALUATE: evaluate = 1; break;
        case 'o': output = optarg; break;
        case OPT_TIME_FORMAT: rc = arg_time_format(cmd, optarg, &tc); break;
        case OPT_PRECISION: rc = arg_size(cmd, "--precision", optarg, 1, 17, &precision); break;
        case OPT_NO_HEADER: header = 0; break;
        case 'h': fputs(detect ? detect_help : score_help, stdout); return 0;
        default: return bad_option(cmd, argv, c);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!model_path)
        return usage_error(cmd, "--model is required");
    if (strcmp(input, "-") == 0 && strcmp(model_path, "-") == 0)
        return usage_error(cmd, "--model and --input cannot both be standard input");

    tsa_model *m = NULL;
    tsa_detection *det = NULL;
    double *raw = NULL, *cal = NULL;
    csv_table t = {0};
    FILE *f = NULL;
    tsa_status s;
    int rc = load_model(cmd, model_path, &m);
    if (rc)
        goto done;
    if ((rc = read_table(input, &t)) != 0)
        goto done;
    if (evaluate && !t.labels) {
        fprintf(stderr, "tsa: detect: --evaluate: %s has no label column\n",
                csv_display_name(input));
        rc = EXIT_DATA;
        goto done;
    }
    tsa_series x = table_series(&t);
    if (detect) {
        s = tsa_model_detect(m, &x, threshold, &det);
    } else {
        raw = malloc(t.rows * sizeof *raw);
        cal = malloc(t.rows * sizeof *cal);
        s = raw && cal ? tsa_model_score(m, &x, raw, cal) : TSA_ENOMEM;
        if (s == TSA_ENOMEM && (!raw || !cal)) {
            fprintf(stderr, "tsa: score: out of memory\n");
            rc = EXIT_OTHER;
            goto done;
        }
    }
    if (s != TSA_OK) {
        rc = fail_series(cmd, s, &t, input);
        goto done;
    }
    if (detect) {
        raw = det->raw;
        cal = det->calibrated;
    }
    if ((rc = out_open(output, &f)) != 0)
        goto done;
    const int prec = (int)precision;
    const csv_time_format tf = time_out(tc, t.time_format);
    if (header)
        fprintf(f, "index%s,raw,calibrated%s\n", t.timestamps ? ",timestamp" : "",
                detect ? ",flag" : "");
    for (size_t i = 0; i < t.rows; i++) {
        if (detect && only && !det->flags[i])
            continue;
        fprintf(f, "%zu", i);
        if (t.timestamps) {
            fputc(',', f);
            put_time(f, t.timestamps[i], tf);
        }
        fprintf(f, ",%.*g,%.*g", prec, raw[i], prec, cal[i]);
        if (detect)
            fprintf(f, ",%d", det->flags[i] ? 1 : 0);
        fputc('\n', f);
    }
    rc = out_close(f, output);
    if (rc == 0 && evaluate) {
        tsa_classification cl;
        if ((s = tsa_metric_classification(t.labels, det->flags, t.rows, &cl)) != TSA_OK) {
            rc = fail_tsa("detect: --evaluate", s);
            goto done;
        }
        fprintf(stderr,
                "detect: %zu labelled, %zu flagged: precision %.3f recall %.3f f1 %.3f "
                "(tp %zu, fp %zu, fn %zu)\n",
                cl.true_positives + cl.false_negatives, cl.true_positives + cl.false_positives,
                cl.precision, cl.recall, cl.f1, cl.true_positives, cl.false_positives,
                cl.false_negatives);
    }
done:
    if (det) {
        tsa_detection_free(det);
    } else {
        free(raw);
        free(cal);
    }
    csv_free(&t);
    tsa_model_free(m);
    return rc;
}

static int cmd_detect(int argc, char **argv) { return run_scoring(argc, argv, 1); }
static int cmd_score(int argc, char **argv) { return run_scoring(argc, argv, 0); }

/* ---- info ------------------------------------------------------------------------------ */

static const char info_help[] =
    "Usage: tsa info [--compact] MODEL\n"
    "\n"
    "Describes a model file as JSON: kind, library version, parameters, whether\n"
    "it is fitted, its shape and the kind's fitted state.\n"
    "\n"
    "  MODEL                    model file (- = standard input)\n"
    "  -m, --model MODEL        the same, as an option\n"
    "      --compact            one line of JSON instead of indented\n"
    "  -h, --help               show this help\n";

static int cmd_info(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"model", required_argument, NULL, 'm'},
        {"compact", no_argument, NULL, OPT_COMPACT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    const char *model_path = NULL;
    int compact = 0, c;
    while ((c = getopt_long(argc, argv, ":m:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'm': model_path = optarg; break;
        case OPT_COMPACT: compact = 1; break;
        case 'h': fputs(info_help, stdout); return 0;
        default: return bad_option("info", argv, c);
        }
    }
    if (optind < argc && !model_path)
        model_path = argv[optind++];
    if (optind < argc)
        return usage_error("info", "unexpected argument '%s'", argv[optind]);
    if (!model_path)
        return usage_error("info", "a model file is required");

    tsa_model *m = NULL;
    char *json = NULL;
    int rc = load_model("info", model_path, &m);
    if (rc)
        return rc;
    tsa_status s = tsa_model_info_json(m, &json);
    if (s != TSA_OK) {
        rc = fail_tsa("info", s);
    } else {
        if (compact)
            printf("%s\n", json);
        else
            json_pretty(stdout, json);
        rc = out_close(stdout, "-");
    }
    tsa_free(json);
    tsa_model_free(m);
    return rc;
}

/* ---- generate ------------------------------------------------------------------------- */

static const char generate_help[] =
    "Usage: tsa generate [options]\n"
    "\n"
    "Writes a synthetic series as CSV: timestamp,x0,...,x{K-1},label, where label\n"
    "is 1 on the injected anomalies.\n"
    "\n"
    "  -n, --n-samples N        number of rows (default 1000)\n"
    "  -k, --n-features K       number of value columns (default 1)\n"
    "      --no-trend           no linear trend\n"
    "      --trend-slope X      trend per step, in seasonal amplitudes (0.002)\n"
    "      --no-seasonality     no seasonal components\n"
    "      --period P           a seasonal period in steps, > 1; repeat for up to\n"
    "                           4 periods (default 24)\n"
    "      --amplitude X        seasonal amplitude (default 1)\n"
    "      --noise-level X      standard deviation of the noise (default 0.1)\n"
    "      --anomalies N        number of injected anomalies (default 0)\n"
    "      --anomaly-magnitude X  spike size in noise standard deviations (6)\n"
    "      --seed S             random seed (default 42)\n"
    "      --start T            first timestamp: integer seconds or an ISO-8601\n"
    "                           date or datetime (default 0)\n"
    "      --step S             spacing in seconds, or with a unit: 15m, 1h, 1d\n"
    "                           (default 3600)\n"
    "  -o, --output FILE        CSV to write (default: - = standard output)\n"
    "      --time-format FMT    auto, unix, iso or date (default auto: ISO when\n"
    "                           --start is a date, else integer seconds)\n"
    "      --precision N        significant digits, 1-17 (default 10)\n"
    "      --no-header          omit the header row\n"
    "  -h, --help               show this help\n";

static int cmd_generate(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"n-samples", required_argument, NULL, 'n'},
        {"n-features", required_argument, NULL, 'k'},
        {"no-trend", no_argument, NULL, OPT_NO_TREND},
        {"trend-slope", required_argument, NULL, OPT_TREND_SLOPE},
        {"no-seasonality", no_argument, NULL, OPT_NO_SEASONALITY},
        {"period", required_argument, NULL, OPT_PERIOD},
        {"amplitude", required_argument, NULL, OPT_AMPLITUDE},
        {"noise-level", required_argument, NULL, OPT_NOISE},
        {"anomalies", required_argument, NULL, OPT_ANOMALIES},
        {"anomaly-magnitude", required_argument, NULL, OPT_MAGNITUDE},
        {"seed", required_argument, NULL, OPT_SEED},
        {"start", required_argument, NULL, OPT_START},
        {"step", required_argument, NULL, OPT_STEP},
        {"output", required_argument, NULL, 'o'},
        {"time-format", required_argument, NULL, OPT_TIME_FORMAT},
        {"precision", required_argument, NULL, OPT_PRECISION},
        {"no-header", no_argument, NULL, OPT_NO_HEADER},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    tsa_generate_options o;
    tsa_generate_options_init(&o);
    const char *output = "-";
    size_t precision = DEFAULT_PRECISION, n_periods = 0;
    int header = 1, c;
    int64_t v = 0;
    time_choice tc = TIME_AUTO;
    csv_time_format start_fmt = CSV_TIME_UNIX;

    while ((c = getopt_long(argc, argv, ":n:k:o:h", longopts, NULL)) != -1) {
        int rc = 0;
        switch (c) {
        case 'n':
            rc = arg_size("generate", "--n-samples", optarg, 0, ARG_SIZE_MAX, &o.n_samples);
            break;
        case 'k':
            rc = arg_size("generate", "--n-features", optarg, 0, ARG_SIZE_MAX, &o.n_features);
            break;
        case OPT_NO_TREND: o.trend = 0; break;
        case OPT_TREND_SLOPE:
            rc = arg_double("generate", "--trend-slope", optarg, &o.trend_slope);
            break;
        case OPT_NO_SEASONALITY: o.seasonality = 0; break;
        case OPT_PERIOD:
            if (n_periods == TSA_GENERATE_MAX_PERIODS)
                return usage_error("generate", "--period: at most %d periods",
                                   TSA_GENERATE_MAX_PERIODS);
            rc = arg_double("generate", "--period", optarg, &o.periods[n_periods++]);
            o.n_periods = n_periods;
            break;
        case OPT_AMPLITUDE: rc = arg_double("generate", "--amplitude", optarg, &o.amplitude); break;
        case OPT_NOISE: rc = arg_double("generate", "--noise-level", optarg, &o.noise_level); break;
        case OPT_ANOMALIES:
            rc = arg_size("generate", "--anomalies", optarg, 0, ARG_SIZE_MAX, &o.n_anomalies);
            break;
        case OPT_MAGNITUDE:
            rc = arg_double("generate", "--anomaly-magnitude", optarg, &o.anomaly_magnitude);
            break;
        case OPT_SEED:
            rc = arg_i64("generate", "--seed", optarg, 0, INT64_MAX, &v);
            o.seed = (uint64_t)v;
            break;
        case OPT_START:
            if (csv_parse_time(optarg, &o.start, &start_fmt) != 0)
                rc = usage_error("generate", "--start: expected integer seconds or "
                                             "YYYY-MM-DD[THH:MM:SS[Z]], got '%s'", optarg);
            break;
        case OPT_STEP: rc = arg_duration("generate", "--step", optarg, &o.step); break;
        case 'o': output = optarg; break;
        case OPT_TIME_FORMAT: rc = arg_time_format("generate", optarg, &tc); break;
        case OPT_PRECISION:
            rc = arg_size("generate", "--precision", optarg, 1, 17, &precision);
            break;
        case OPT_NO_HEADER: header = 0; break;
        case 'h': fputs(generate_help, stdout); return 0;
        default: return bad_option("generate", argv, c);
        }
        if (rc)
            return rc;
    }
    if (optind < argc)
        return usage_error("generate", "unexpected argument '%s'", argv[optind]);

    tsa_generated *g = NULL;
    tsa_status s = tsa_generate(&o, &g);
    if (s != TSA_OK)
        return fail_tsa("generate", s);
    FILE *f = NULL;
    int rc = out_open(output, &f);
    if (rc == 0) {
        const int prec = (int)precision;
        const csv_time_format tf = time_out(tc, start_fmt);
        const size_t k = g->n_features;
        if (header) {
            fputs("timestamp", f);
            for (size_t j = 0; j < k; j++)
                fprintf(f, ",x%zu", j);
            fputs(",label\n", f);
        }
        for (size_t t = 0; t < g->length; t++) {
            put_time(f, g->timestamps[t], tf);
            for (size_t j = 0; j < k; j++)
                fprintf(f, ",%.*g", prec, g->values[t * k + j]);
            fprintf(f, ",%d\n", g->labels[t] ? 1 : 0);
        }
        rc = out_close(f, output);
    }
    tsa_generated_free(g);
    return rc;
}

/* ---- kinds, version ----------------------------------------------------------------- */

static const char kinds_help[] =
    "Usage: tsa kinds [--long] [KIND]\n"
    "\n"
    "Lists the model kinds, one per line; with KIND (a name or an alias),\n"
    "describes it as JSON: description, capabilities and every parameter with\n"
    "its type, default, bounds or allowed values.\n"
    "\n"
    "  -l, --long               with each kind's capabilities\n"
    "      --compact            one line of JSON instead of indented\n"
    "  -h, --help               show this help\n";

static void put_caps(FILE *f, unsigned caps)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {{TSA_CAP_FORECAST, "forecast"},
                 {TSA_CAP_SCORE, "score"},
                 {TSA_CAP_MULTIVARIATE, "multivariate"},
                 {TSA_CAP_INTERVALS, "intervals"}};
    int first = 1;
    for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        if (caps & names[i].bit) {
            fprintf(f, "%s%s", first ? "" : ",", names[i].name);
            first = 0;
        }
}

static int cmd_kinds(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"long", no_argument, NULL, 'l'},
        {"compact", no_argument, NULL, OPT_COMPACT},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0}};
    int lng = 0, compact = 0, c;
    while ((c = getopt_long(argc, argv, ":lh", longopts, NULL)) != -1) {
        switch (c) {
        case 'l': lng = 1; break;
        case OPT_COMPACT: compact = 1; break;
        case 'h': fputs(kinds_help, stdout); return 0;
        default: return bad_option("kinds", argv, c);
        }
    }
    if (argc - optind > 1)
        return usage_error("kinds", "unexpected argument '%s'", argv[optind + 1]);
    if (optind < argc) {
        char *json = NULL;
        tsa_status s = tsa_kind_info_json(argv[optind], &json);
        if (s != TSA_OK) {
            int rc = fail_tsa("kinds", s);
            if (s == TSA_EUNKNOWN_KIND)
                fprintf(stderr, "tsa: kinds: 'tsa kinds' lists the known kinds\n");
            return rc;
        }
        if (compact)
            printf("%s\n", json);
        else
            json_pretty(stdout, json);
        tsa_free(json);
        return out_close(stdout, "-");
    }
    for (size_t i = 0; i < tsa_kind_count(); i++) {
        const char *name = tsa_kind_name(i);
        if (!name)
            break;
        if (lng) {
            printf("%-16s ", name);
            put_caps(stdout, tsa_kind_capabilities(name));
            putchar('\n');
        } else {
            puts(name);
        }
    }
    return out_close(stdout, "-");
}

static const char version_help[] =
    "Usage: tsa version\n"
    "\n"
    "Prints the version of the tool and of the libtsa it runs with.\n";

static int cmd_version(int argc, char **argv)
{
    static const struct option longopts[] = {{"help", no_argument, NULL, 'h'},
                                             {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        if (c == 'h') {
            fputs(version_help, stdout);
            return 0;
        }
        return bad_option("version", argv, c);
    }
    if (optind < argc)
        return usage_error("version", "unexpected argument '%s'", argv[optind]);
    printf("tsa %s (libtsa %s)\n", TSA_VERSION_STRING, tsa_version());
    return out_close(stdout, "-");
}

/* ---- main ------------------------------------------------------------------------------ */

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"fit", cmd_fit, "fit a model on a CSV series and save it"},
    {"forecast", cmd_forecast, "forecast from a saved model (CSV out)"},
    {"detect", cmd_detect, "flag anomalies in a CSV series (CSV out)"},
    {"score", cmd_score, "raw and calibrated anomaly scores (CSV out)"},
    {"info", cmd_info, "describe a model file as JSON"},
    {"generate", cmd_generate, "write a synthetic series with labelled anomalies"},
    {"kinds", cmd_kinds, "list the model kinds, or describe one"},
    {"version", cmd_version, "print the versions"},
};

static void main_help(FILE *f)
{
    fputs("Usage: tsa COMMAND [options]\n"
          "\n"
          "Time-series forecasting and anomaly detection with libtsa.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fputs("\n"
          "'tsa COMMAND --help' describes a command. Files default to standard input\n"
          "and output ('-').\n"
          "\n"
          "Exit codes: 0 ok, 1 other failure, 2 usage, 3 bad input data, 4 model or\n"
          "parameter error, 5 file error, 130 interrupted.\n",
          f);
}

static const command *find_command(const char *name)
{
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

int main(int argc, char **argv)
{
    opterr = 0;
    if (argc < 2) {
        fputs("tsa: missing command\n", stderr);
        main_help(stderr);
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "help") == 0) {
        if (strcmp(name, "help") == 0 && argc > 2) {
            const command *cmd = find_command(argv[2]);
            if (!cmd) {
                fprintf(stderr, "tsa: unknown command '%s'\nTry 'tsa --help'.\n", argv[2]);
                return EXIT_USAGE;
            }
            char *sub[] = {argv[2], "--help", NULL};
            return cmd->run(2, sub);
        }
        main_help(stdout);
        return 0;
    }
    if (strcmp(name, "-V") == 0 || strcmp(name, "--version") == 0)
        name = "version";
    const command *cmd = find_command(name);
    if (!cmd) {
        fprintf(stderr, "tsa: unknown command '%s'\nTry 'tsa --help'.\n", name);
        return EXIT_USAGE;
    }
    if (name != argv[1]) {
        char *sub[] = {"version", NULL};
        return cmd->run(1, sub);
    }
    return cmd->run(argc - 1, argv + 1);
}
