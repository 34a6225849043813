"""Every endpoint of tsa-api over real HTTP, against one store backend.

run(tap, server, backend) drives a started ApiServer (--max-body 65536,
--workers 2) whose store is empty. The same suite runs on SQLite and on
PostgreSQL.
"""

import datetime
import json
import math
import os
import statistics
import subprocess
import threading
import time
import uuid

from harness import (SOURCE_DIR, Skip, TestFailure, check, eq, expect_error, short, wait_for)

TRAIN_F = "/api/v1/models/forecasting/train"
TRAIN_A = "/api/v1/models/anomaly/train"
MAX_BODY = 65536

# The product guide's request bodies (docs: /work/shared/product-guide.md,
# section "API 사용 예시"), with its placeholder data replaced by real data.
GUIDE_GENERATE = {"n_samples": 1000, "n_features": 1, "trend": True, "seasonality": True,
                  "noise_level": 0.1}
GUIDE_PLACEHOLDER = "[[1.0], [1.1], [1.2], ...]"


def guide_train(model_type, data):
    return {"model_type": model_type, "data": data, "model_name": "my_lstm_model",
            "sequence_length": 30, "prediction_length": 1, "epochs": 100}


def guide_predict(data):
    return {"model_name": "my_lstm_model", "data": data, "steps_ahead": 10}


def guide_detect(data):
    return {"model_name": "my_prophet_model", "data": data, "threshold": 0.95}


def guide_coordinated(data):
    return {"data": data, "analysis_type": "forecast_and_detect", "forecasting_model": "lstm",
            "anomaly_model": "prophet"}


def parse_time(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)


def iso(t):
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def finite_matrix(m, rows, cols, what):
    check(isinstance(m, list) and len(m) == rows, "%s: expected %d rows" % (what, rows), short(m))
    for r in m:
        check(isinstance(r, list) and len(r) == cols, "%s: expected rows of %d" % (what, cols), short(r))
        for v in r:
            check(isinstance(v, (int, float)) and math.isfinite(v), "%s: non-finite value" % what, short(r))


def check_forecast(f, steps, cols):
    finite_matrix(f.get("predictions"), steps, cols, "predictions")
    finite_matrix(f.get("lower_bound"), steps, cols, "lower_bound")
    finite_matrix(f.get("upper_bound"), steps, cols, "upper_bound")
    for t in range(steps):
        for j in range(cols):
            lo, p, hi = f["lower_bound"][t][j], f["predictions"][t][j], f["upper_bound"][t][j]
            check(lo <= p <= hi, "step %d: %g <= %g <= %g does not hold" % (t, lo, p, hi))
    eq(f.get("steps_ahead"), steps, "steps_ahead")


class World:
    """What the tests of one backend share."""

    def __init__(self, server, backend):
        self.server = server
        self.api = server.api
        self.backend = backend
        self.kinds = {}
        self.gen = None        # the guide's generated data (1000 x 1)
        self.anom = None       # the same generator with injected anomalies
        self.forecaster = "multivariate"
        self.anomaly_kind = "multivariate"
        self.jobs_done = []

    def kind_has(self, kind, param):
        info = self.kinds.get(kind) or {}
        return any(p.get("name") == param for p in info.get("params", []))

    def caps(self, kind):
        return set((self.kinds.get(kind) or {}).get("capabilities", []))

    def snapshot(self):
        """What stored state an error must not change."""
        models = self.api.ok("GET", "/api/v1/models?limit=1000")
        jobs = self.api.ok("GET", "/api/v1/jobs?limit=1000")
        results = self.api.ok("GET", "/api/v1/results?limit=1000")
        return (json.dumps(models, sort_keys=True),
                sorted(j["job_id"] for j in jobs["jobs"]),
                sorted(r["result_id"] for r in results["results"]))

    def fails(self, before, r, status, code=None, field=None, contains=None):
        """An error answer that changed nothing stored."""
        err = expect_error(r, status, code, field, contains)
        self.unchanged(before, "HTTP %d" % status)
        return err

    def unchanged(self, before, what):
        after = self.snapshot()
        if after != before:
            names = ["models", "jobs", "results"]
            diff = [names[i] for i in range(3) if after[i] != before[i]]
            raise TestFailure("%s changed the stored %s" % (what, ", ".join(diff)))

    def slow_job(self, name, data_1f, data_2f):
        """A training request that runs for many seconds and reports progress
        (for cancel and kill tests): an LSTM with many epochs when that kind
        exists, else a large Gaussian HMM fit."""
        if "lstm" in self.kinds and self.kind_has("lstm", "epochs"):
            body = {"model_type": "lstm", "model_name": name, "data": data_1f, "epochs": 10000,
                    "validate": False}
            if self.kind_has("lstm", "patience"):  # no early stop
                body["patience"] = 100000
            return body
        if "hmm" in self.kinds:
            return {"model_type": "hmm", "model_name": name, "data": data_2f, "n_states": 20,
                    "n_init": 50, "max_iter": 10000, "tol": 0, "covariance": "full",
                    "validate": False}
        raise Skip("no slow kind (lstm or hmm) in this build")


def rows_of(data, digits=None):
    if digits is None:
        return data
    return [[round(v, digits) for v in r] for r in data]


def run(tap, server, backend):
    w = World(server, backend)
    api = w.api

    # ---- service basics --------------------------------------------------------

    def model_types():
        j = api.ok("GET", "/api/v1/model_types")
        check(isinstance(j.get("model_types"), list) and j["model_types"], "no model types", j)
        for k in j["model_types"]:
            check(isinstance(k.get("name"), str), "a kind without a name", k)
            check(isinstance(k.get("capabilities"), list), "%s: no capabilities" % k.get("name"))
            check(isinstance(k.get("params"), list), "%s: no params" % k.get("name"))
            for p in k["params"]:
                check("name" in p and "type" in p and "default" in p,
                      "%s: a parameter lacks name/type/default" % k["name"], p)
            w.kinds[k["name"]] = k
        check("multivariate" in w.kinds, "the multivariate kind is missing")
        w.forecaster = "lstm" if "lstm" in w.kinds else "multivariate"
        w.anomaly_kind = "prophet" if "prophet" in w.kinds else "multivariate"
        tap.diag("kinds: %s; guide training uses model_type %s" % (", ".join(w.kinds), w.forecaster))

    if not tap.run("GET /api/v1/model_types describes every kind and its parameters", model_types):
        return w

    def health():
        for path in ("/health", "/api/v1/health"):
            h = api.ok("GET", path)
            eq(h.get("status"), "healthy", path + " status")
            eq(h.get("service"), "rest-api", "service")
            eq(h["store"].get("backend"), backend, "store.backend")
            eq(h["store"].get("reachable"), True, "store.reachable")
            eq(sorted(h.get("model_types", [])), sorted(w.kinds), "model_types")
            check(isinstance(h.get("version"), str) and h["version"], "no version")
        r = api.request("HEAD", "/api/v1/health")
        eq(r.status, 200, "HEAD status")
        eq(r.body, b"", "HEAD body")

    tap.run("GET /health and /api/v1/health: healthy, with the %s store" % backend, health)

    def index():
        j = api.ok("GET", "/")
        eq(j.get("api"), "/api/v1", "api")
        r = api.get(j["openapi"])
        eq(r.status, 200, "GET " + j["openapi"])

    tap.run("GET / names the API, its OpenAPI document and health", index)

    def preflight_unlisted():
        # This API runs without --cors-origins: no origin is listed, so a
        # browser's preflight is refused and carries no CORS header (the
        # HTTP library's own preflight answer, "Allow-Origin: *", is off).
        r = api.request("OPTIONS", "/api/v1/models", headers={
            "Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type"})
        eq(r.status, 403, "status")
        cors = sorted(k for k in r.headers if k.startswith("access-control-"))
        eq(cors, [], "CORS headers")
        g = api.request("GET", "/api/v1/health", headers={"Origin": "http://elsewhere.example"})
        eq(g.status, 200, "GET with an Origin")
        eq(g.header("access-control-allow-origin"), None, "Access-Control-Allow-Origin on GET")

    tap.run("CORS: an origin off the allow-list gets 403 to its preflight and no CORS headers", preflight_unlisted)

    def openapi_served():
        r = api.get("/api/v1/openapi.json")
        eq(r.status, 200, "status")
        check((r.header("content-type") or "").startswith("application/json"), "content type")
        with open(os.path.join(SOURCE_DIR, "servers", "api", "openapi.json")) as f:
            eq(r.json, json.load(f), "the served document (vs servers/api/openapi.json)")

    tap.run("GET /api/v1/openapi.json serves servers/api/openapi.json", openapi_served)

    # ---- data/generate ------------------------------------------------------------

    def generate_guide():
        j = api.ok("POST", "/api/v1/data/generate", GUIDE_GENERATE)
        finite_matrix(j["data"], 1000, 1, "data")
        eq(len(j["timestamps"]), 1000, "timestamps")
        eq(len(j["labels"]), 1000, "labels")
        eq(j["n_samples"], 1000, "n_samples")
        eq(j["n_features"], 1, "n_features")
        ts = [parse_time(t) for t in j["timestamps"]]
        check(all(b > a for a, b in zip(ts, ts[1:])), "timestamps do not increase")
        vals = [r[0] for r in j["data"]]
        check(statistics.pstdev(vals) > 0.1, "the series is flat")
        w.gen = j
        w.gen_rows = j["data"]
        w.gen_str = json.dumps(j["data"])
        a = api.ok("POST", "/api/v1/data/generate", dict(GUIDE_GENERATE, anomalies=10, seed=3))
        eq(len(a["anomaly_indices"]), 10, "anomaly_indices")
        eq(sum(a["labels"]), 10, "labels set")
        eq([i for i, l in enumerate(a["labels"]) if l], a["anomaly_indices"], "labels vs indices")
        w.anom = a

    if not tap.run("POST data/generate with the product guide's body: 1000 x 1 with timestamps",
                   generate_guide):
        return w

    def generate_options():
        a = api.ok("POST", "/api/v1/data/generate", {"n_samples": 50, "seed": 7})
        b = api.ok("POST", "/api/v1/data/generate", {"n_samples": 50, "seed": 7})
        c = api.ok("POST", "/api/v1/data/generate", {"n_samples": 50, "seed": 8})
        eq(a["data"], b["data"], "same seed, same data")
        check(a["data"] != c["data"], "another seed gives the same data")
        m = api.ok("POST", "/api/v1/data/generate",
                   {"n_samples": 40, "n_features": 3, "freq": "D", "start": "2024-03-01"})
        finite_matrix(m["data"], 40, 3, "data")
        eq(m["timestamps"][:2], ["2024-03-01T00:00:00Z", "2024-03-02T00:00:00Z"], "daily timestamps")
        flat = api.ok("POST", "/api/v1/data/generate",
                      {"n_samples": 30, "trend": False, "seasonality": False, "noise_level": 0})
        check(len({r[0] for r in flat["data"]}) == 1, "no trend, season or noise is not constant",
              flat["data"][:5])

    tap.run("data/generate honours seed, n_features, freq, start, trend/seasonality/noise",
            generate_options)

    # ---- the product guide's calls -------------------------------------------------

    def train_guide():
        body = guide_train(w.forecaster, w.gen_str)
        j = api.ok("POST", TRAIN_F, body, status=201)
        eq(j.get("status"), "trained", "status")
        eq(j.get("model_name"), "my_lstm_model", "model_name")
        eq(j.get("model_type"), w.forecaster, "model_type")
        eq(j.get("task"), "forecasting", "task")
        eq(j.get("n_samples"), 1000, "n_samples")
        eq(j.get("n_features"), 1, "n_features")
        check(isinstance(j.get("info"), dict), "no model info", j)
        check(isinstance(j.get("metrics", {}).get("validation"), (dict, str)), "no validation", j)
        ignored = set(j.get("ignored_fields", []))
        for field in ("sequence_length", "prediction_length", "epochs"):
            if not w.kind_has(w.forecaster, field):
                check(field in ignored, "%s is neither a parameter of %s nor reported as ignored"
                      % (field, w.forecaster), j.get("ignored_fields"))
            else:
                check(field not in ignored, "%s is a parameter of %s but reported as ignored"
                      % (field, w.forecaster))
        m = api.ok("GET", "/api/v1/models/my_lstm_model")
        eq(m.get("model_type"), w.forecaster, "stored model_type")

    if not tap.run("train with the guide's body (model_type %s, data as a JSON string) -> 201"
                   % w.forecaster, train_guide):
        return w

    def predict_guide():
        j = api.ok("POST", "/api/v1/predict", guide_predict(w.gen_str))
        check_forecast(j, 10, 1)
        eq(j.get("model_name"), "my_lstm_model", "model_name")
        eq(j.get("interval"), 0.95, "interval")
        eq(j.get("forecast_origin"), "end of the given data", "forecast_origin")
        vals = [r[0] for r in w.gen_rows]
        lo, hi = min(vals), max(vals)
        span = hi - lo
        for r in j["predictions"]:
            check(lo - span <= r[0] <= hi + span, "a forecast far outside the data's range", r)
        w.guide_forecast = j

    tap.run("predict with the guide's body: 10 steps with intervals", predict_guide)

    def detect_guide():
        # The anomaly model the guide's detect call names, trained on the clean
        # series with its timestamps (so seasonalities are detected).
        a = w.anom
        series = {"values": w.gen_rows, "timestamps": w.gen["timestamps"]}
        api.ok("POST", TRAIN_A, {"model_type": w.anomaly_kind, "model_name": "my_prophet_model",
                                 "data": series}, status=201)
        j = api.ok("POST", "/api/v1/detect_anomalies", guide_detect(json.dumps(a["data"])))
        for key in ("scores", "calibrated_scores", "is_anomaly"):
            eq(len(j.get(key, [])), 1000, key + " length")
        check(all(0 <= c <= 1 for c in j["calibrated_scores"]), "calibrated scores outside [0, 1]")
        eq(j["anomaly_indices"], [i for i, f in enumerate(j["is_anomaly"]) if f], "anomaly_indices")
        eq(j["summary"]["n_points"], 1000, "n_points")
        eq(j["summary"]["n_anomalies"], len(j["anomaly_indices"]), "n_anomalies")
        eq(j["summary"]["threshold"], 0.95, "threshold")
        eq(j.get("model_name"), "my_prophet_model", "model_name")
        flagged = set(j["anomaly_indices"])
        for item in j.get("anomalies", []):
            check(item["index"] in flagged, "anomalies[] lists an unflagged point", item)
            check(item["calibrated_score"] > 0.95, "a flagged point below the threshold", item)

    tap.run("detect_anomalies with the guide's body (my_prophet_model, %s)" % w.anomaly_kind,
            detect_guide)

    def detect_finds_injected():
        # VAR scores (Mahalanobis distance of one-step residuals) must find
        # the generator's 6-sigma spikes.
        api.ok("POST", TRAIN_A, {"model_type": "multivariate", "model_name": "var_detector",
                                 "data": w.gen_rows}, status=201)
        a = w.anom
        j = api.ok("POST", "/api/v1/detect_anomalies",
                   {"model_name": "var_detector", "data": a["data"], "threshold": 0.99,
                    "labels": a["labels"]})
        flagged = set(j["anomaly_indices"])
        found = [i for i in a["anomaly_indices"] if i in flagged]
        check(len(found) >= 8, "found %d of the 10 injected anomalies" % len(found),
              {"injected": a["anomaly_indices"], "flagged": sorted(flagged)[:50]})
        check(len(flagged) <= 60, "%d points flagged at threshold 0.99" % len(flagged))
        ev = j.get("evaluation", {})
        check(ev.get("recall", 0) >= 0.8, "evaluation.recall", ev)

    tap.run("detect_anomalies finds the injected spikes (VAR model, labels -> evaluation)",
            detect_finds_injected)

    def coordinated_guide():
        j = api.ok("POST", "/api/v1/analysis/coordinated", guide_coordinated(w.gen_str))
        eq(j.get("analysis_type"), "forecast_and_detect", "analysis_type")
        check(isinstance(j.get("executed_by"), str), "no executed_by")
        check(isinstance(j.get("result_id"), str), "not stored as a result", j)
        have_lstm, have_prophet = "lstm" in w.kinds, "prophet" in w.kinds
        if have_lstm:
            check_forecast(j["forecast"], 10, 1)
        else:
            check("forecast" not in j, "a forecast from an unknown model type")
            codes = [e["error"]["code"] for e in j.get("errors", [])]
            check("unknown_model_type" in codes, "the missing lstm kind is not reported", j.get("errors"))
        if have_prophet:
            eq(len(j["anomalies"]["is_anomaly"]), 1000, "anomalies")
        eq(j.get("partial"), not (have_lstm and have_prophet), "partial")
        r = api.ok("GET", "/api/v1/results/" + j["result_id"])
        eq(r["kind"], "coordinated", "stored kind")
        eq(r["request"], guide_coordinated(w.gen_str), "stored request")

    tap.run("analysis/coordinated with the guide's body (lstm %s, prophet %s)"
            % ("present" if "lstm" in w.kinds else "absent: partial result",
               "present" if "prophet" in w.kinds else "absent"), coordinated_guide)

    def coordinated_stored():
        j = api.ok("POST", "/api/v1/analysis/coordinated",
                   {"data": w.anom["data"], "forecasting_model": "my_lstm_model",
                    "anomaly_model": "var_detector", "steps_ahead": 5, "threshold": 0.99})
        eq(j.get("partial"), False, "partial")
        eq(j.get("errors"), [], "errors")
        check_forecast(j["forecast"], 5, 1)
        eq(j["forecast"].get("model_name"), "my_lstm_model", "forecast.model_name")
        eq(j["anomalies"].get("model_name"), "var_detector", "anomalies.model_name")
        check(j["summary"]["n_anomalies"] >= 8, "the injected anomalies are not flagged", j["summary"])
        e = api.ok("POST", "/api/v1/analysis/coordinated",
                   {"data": w.gen_rows, "analysis_type": "ensemble_forecast",
                    "models": ["my_lstm_model", "multivariate"], "ensemble_method": "median",
                    "steps_ahead": 4})
        eq(e.get("analysis_type"), "ensemble_forecast", "analysis_type")
        check_forecast(e, 4, 1)
        eq(len(e.get("members", [])), 2, "members")

    tap.run("analysis/coordinated with stored models, and ensemble_forecast", coordinated_stored)

    def placeholder():
        before = w.snapshot()
        for path, body in (
                (TRAIN_F, guide_train(w.forecaster, GUIDE_PLACEHOLDER)),
                ("/api/v1/predict", guide_predict(GUIDE_PLACEHOLDER)),
                ("/api/v1/detect_anomalies", guide_detect(GUIDE_PLACEHOLDER)),
                ("/api/v1/analysis/coordinated", guide_coordinated(GUIDE_PLACEHOLDER))):
            if path == TRAIN_F:
                body = dict(body, model_name="placeholder_model")
            w.fails(before, api.post(path, body), 400, "invalid_field", "data",
                         contains="does not hold a JSON array")
        w.unchanged(before, "the guide's literal placeholder data")

    tap.run("the guide's literal \"[[1.0], [1.1], [1.2], ...]\" is a 400 naming data, nothing stored",
            placeholder)

    # ---- data forms -------------------------------------------------------------------

    def data_forms():
        vals = [r[0] for r in w.gen_rows[:300]]
        rows = [[v] for v in vals]
        forms = {
            "rows": rows, "flat": vals, "string of rows": json.dumps(rows),
            "string of flat": json.dumps(vals), "object of rows": {"values": rows},
            "object of flat": {"values": vals},
        }
        ref = None
        for name, data in forms.items():
            j = api.ok("POST", "/api/v1/predict",
                       {"model_type": "multivariate", "data": data, "steps_ahead": 5})
            check_forecast(j, 5, 1)
            if ref is None:
                ref = j["predictions"]
            eq(j["predictions"], ref, "predictions from the %s form" % name)
        multi = api.ok("POST", "/api/v1/data/generate", {"n_samples": 200, "n_features": 3, "seed": 4})
        j = api.ok("POST", "/api/v1/predict",
                   {"model_type": "multivariate", "data": json.dumps(multi["data"]), "steps_ahead": 4})
        check_forecast(j, 4, 3)

    tap.run("data as rows, flat array, JSON string and {values} give identical forecasts",
            data_forms)

    def timestamps():
        vals = [r[0] for r in w.gen_rows[:200]]
        start = datetime.datetime(2024, 1, 1, tzinfo=datetime.timezone.utc)
        day = datetime.timedelta(days=1)
        ts = [iso(start + i * day) for i in range(200)]
        j = api.ok("POST", "/api/v1/predict", {"model_type": "multivariate", "steps_ahead": 3,
                                               "data": {"values": vals, "timestamps": ts}})
        last = start + 199 * day
        eq(j.get("timestamps"), [iso(last + (i + 1) * day) for i in range(3)], "daily forecast timestamps")
        # date-only strings, and an offset that moves the instant to UTC
        ts2 = [(start + i * day).strftime("%Y-%m-%d") for i in range(199)] + ["2024-07-18T09:00:00+09:00"]
        j = api.ok("POST", "/api/v1/predict", {"model_type": "multivariate", "steps_ahead": 1,
                                               "data": {"values": vals, "timestamps": ts2}})
        eq(j["timestamps"][0], "2024-07-19T00:00:00Z", "the step after 2024-07-18T09:00+09:00")
        # seconds since the epoch
        secs = [1700000000 + 60 * i for i in range(200)]
        j = api.ok("POST", "/api/v1/predict", {"model_type": "multivariate", "steps_ahead": 2,
                                               "data": {"values": vals, "timestamps": secs}})
        eq(j["timestamps"], [iso(datetime.datetime.fromtimestamp(secs[-1] + 60 * k, datetime.timezone.utc))
                             for k in (1, 2)], "minutely forecast timestamps")
        # a stored model trained with timestamps forecasts after its training data
        api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "hourly_model",
                                 "data": {"values": w.gen_rows, "timestamps": w.gen["timestamps"]}},
               status=201)
        j = api.ok("POST", "/api/v1/predict", {"model_name": "hourly_model", "steps_ahead": 2})
        end = parse_time(w.gen["timestamps"][-1])
        eq(j["timestamps"], [iso(end + datetime.timedelta(hours=k)) for k in (1, 2)],
           "forecast timestamps after the training data")
        eq(j["forecast_origin"], "end of the training data", "forecast_origin")
        # bad timestamps
        for bad, what in (({"values": vals, "timestamps": ts[:-1]}, "has 199 entries"),
                          ({"values": vals, "timestamps": ts[:100] + ts[99:199]}, "increase"),
                          ({"values": vals, "timestamps": ["yesterday"] * 200}, "ISO-8601"),
                          ({"values": vals, "timestamps": ts[:60] + ["2024-02-30T00:00:00Z"] + ts[61:]},
                           "data.timestamps[60]")):
            expect_error(api.post("/api/v1/predict", {"model_type": "multivariate", "data": bad}),
                         400, "invalid_field", "data", contains=what)

    tap.run("{values, timestamps}: ISO, date-only, offsets and seconds give forecast timestamps",
            timestamps)

    def components():
        vals = [r[0] for r in w.gen_rows[:300]]
        ts = w.gen["timestamps"][:300]
        for kind, extra, names in (("prophet", {"uncertainty_samples": 0}, ["trend", "daily"]),
                                   ("ets", {"season": "N"}, ["level"])):
            body = {"model_type": kind, "steps_ahead": 5, "components": True,
                    "data": {"values": vals, "timestamps": ts}}
            body.update(extra)
            j = api.ok("POST", "/api/v1/predict", body)
            comps = j.get("components")
            check(isinstance(comps, dict), "%s: no components object" % kind)
            eq(list(comps)[:len(names)], names, "%s component names" % kind)
            eq(sorted(j.get("component_modes", {})), sorted(comps), "%s component_modes" % kind)
            for name, m in comps.items():
                finite_matrix(m, 5, 1, "components.%s" % name)
            for t in range(5):
                total = sum(m[t][0] for m in comps.values())
                p = j["predictions"][t][0]
                check(abs(total - p) <= 1e-9 * (1 + abs(p)),
                      "%s step %d: components add up to %r, predictions %r" % (kind, t, total, p))
            # without the flag, no components
            body.pop("components")
            check("components" not in api.ok("POST", "/api/v1/predict", body), "components without the flag")
        before = w.snapshot()
        w.fails(before, api.post("/api/v1/predict", {"model_type": "multivariate", "data": vals,
                                                     "components": True}),
                400, "invalid_field", "components", contains="multivariate")
        w.fails(before, api.post("/api/v1/predict", {"model_type": "prophet", "data": vals,
                                                     "components": "yes"}),
                400, "invalid_field", "components")

    tap.run("predict with components: true splits prophet and ets forecasts into components that add up; "
            "other kinds are a 400 naming components", components)

    def nulls():
        vals = [r[0] for r in w.gen_rows[:300]]
        holes = list(vals)
        for i in (40, 41, 150):
            holes[i] = None
        j = api.ok("POST", "/api/v1/predict", {"model_type": "multivariate", "data": holes,
                                               "steps_ahead": 3})
        check_forecast(j, 3, 1)
        d = api.ok("POST", "/api/v1/detect_anomalies", {"model_name": "var_detector", "data": holes})
        eq(len(d["scores"]), 300, "scores")
        check(all(isinstance(s, (int, float)) for s in d["scores"]), "a null score", d["scores"][35:45])
        before = w.snapshot()
        w.fails(before, api.post("/api/v1/predict", {"model_type": "multivariate", "data": [None] * 50}),
                     400, "invalid_field", "data")
        w.fails(before, api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "all_null",
                                        "data": [[None, None]] * 50}), 400, "invalid_field", "data")
        w.fails(before, api.post("/api/v1/predict", raw=b'{"model_type":"multivariate","data":[1,NaN,2]}'),
                     400, "invalid_json")
        w.fails(before, api.post("/api/v1/predict", raw=b'{"model_type":"multivariate","data":[1,Infinity]}'),
                     400, "invalid_json")
        w.fails(before, api.post("/api/v1/predict", {"model_type": "multivariate", "data": [1, "NaN", 2]}),
                     400, "invalid_field", "data", contains="data[1]")
        w.fails(before, api.post("/api/v1/predict", raw=b'{"model_type":"multivariate","data":[1,1e999,2]}'),
                     400, "invalid_field", "data", contains="finite")
        w.unchanged(before, "NaN-like values")

    tap.run("null is a missing value; NaN, Infinity, \"NaN\" and 1e999 are 400", nulls)

    # ---- async training and jobs ---------------------------------------------------------

    def wait_job(job_id, states, timeout=60):
        def done():
            j = api.ok("GET", "/api/v1/jobs/" + job_id)
            return j if j["status"] in states else None
        return wait_for(done, timeout, "job %s to become %s" % (job_id, "/".join(states)), 0.05)

    def async_train():
        r = api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "async_model",
                               "data": w.gen_rows, "async": True})
        eq(r.status, 202, "status (%r)" % r)
        j = r.json
        eq(j.get("status"), "queued", "status")
        eq(j.get("model_name"), "async_model", "model_name")
        eq(j.get("job_url"), "/api/v1/jobs/" + j["job_id"], "job_url")
        uuid.UUID(j["job_id"])
        done = wait_job(j["job_id"], ("completed", "failed", "canceled", "interrupted"))
        eq(done["status"], "completed", "job status (error: %s)" % done.get("error"))
        eq(done.get("kind"), "train_forecasting", "kind")
        eq(done["result"]["status"], "trained", "result.status")
        for key in ("created_at", "started_at", "finished_at"):
            parse_time(done[key])
        p = api.ok("POST", "/api/v1/predict", {"model_name": "async_model", "steps_ahead": 3})
        check_forecast(p, 3, 1)
        listed = api.ok("GET", "/api/v1/jobs")
        check(j["job_id"] in [x["job_id"] for x in listed["jobs"]], "the job is not listed")
        comp = api.ok("GET", "/api/v1/jobs?state=completed")
        check(all(x["status"] == "completed" for x in comp["jobs"]), "state filter")
        check(j["job_id"] in [x["job_id"] for x in comp["jobs"]], "not in state=completed")
        queued = api.ok("GET", "/api/v1/jobs?state=queued")
        check(j["job_id"] not in [x["job_id"] for x in queued["jobs"]], "in state=queued")
        expect_error(api.get("/api/v1/jobs?state=bogus"), 400, "invalid_field", "state")
        # anomaly training as a job
        r = api.post(TRAIN_A, {"model_type": "multivariate", "model_name": "async_anomaly",
                               "data": w.gen_rows, "async": True})
        eq(r.status, 202, "anomaly job status")
        done = wait_job(r.json["job_id"], ("completed", "failed"))
        eq(done["status"], "completed", "anomaly job")
        eq(done["kind"], "train_anomaly", "anomaly job kind")
        w.completed_job = j["job_id"]

    tap.run("async training: 202 -> job completed -> the model predicts; job list and filters",
            async_train)

    def async_rejected_early():
        before = w.snapshot()
        w.fails(before, api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "no_data",
                                        "async": True}), 400, "missing_field", "data")
        w.fails(before, api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "async_model",
                                        "data": w.gen_rows, "async": True}), 409, "conflict", "model_name")
        w.fails(before, api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "x",
                                        "data": w.gen_rows, "async": "yes"}), 400, "invalid_field", "async")
        w.unchanged(before, "a rejected async request")

    tap.run("async requests are validated before queuing (400, 409: no job created)",
            async_rejected_early)

    def cancel_jobs():
        two = api.ok("POST", "/api/v1/data/generate", {"n_samples": 1000, "n_features": 2, "seed": 11})
        slow_a = w.slow_job("slow_a", rows_of(w.gen_rows, 5), rows_of(two["data"], 4))
        slow_b = dict(slow_a, model_name="slow_b")
        ids = []
        for body in (slow_a, slow_b):
            r = api.post(TRAIN_A if body["model_type"] == "hmm" else TRAIN_F, dict(body, **{"async": True}))
            eq(r.status, 202, "slow job (%r)" % r)
            ids.append(r.json["job_id"])
        for i in ids:  # both workers busy
            wait_job(i, ("running",), 20)
        r = api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "queued_c",
                               "data": w.gen_rows, "async": True})
        eq(r.status, 202, "queued job")
        c = r.json["job_id"]
        time.sleep(0.3)
        eq(api.ok("GET", "/api/v1/jobs/" + c)["status"], "queued", "third job with two workers busy")
        j = api.ok("DELETE", "/api/v1/jobs/" + c)
        eq(j["status"], "canceled", "a queued job is canceled at once")
        # running jobs: cancellation is requested and seen at the next progress report
        wait_for(lambda: api.ok("GET", "/api/v1/jobs/" + ids[0])["progress"]["epoch"] > 0, 15,
                 "the running job to report progress")
        j = api.ok("DELETE", "/api/v1/jobs/" + ids[0])
        eq(j["cancel_requested"], True, "cancel_requested")
        api.ok("DELETE", "/api/v1/jobs/" + ids[1])
        for i in ids:
            j = wait_job(i, ("canceled", "completed", "failed", "interrupted"), 30)
            eq(j["status"], "canceled", "running job after DELETE")
        j = api.ok("DELETE", "/api/v1/jobs/" + ids[0])
        eq(j["status"], "canceled", "DELETE of a canceled job again")
        expect_error(api.delete("/api/v1/jobs/" + w.completed_job), 409, "conflict", "job_id")
        for name in ("slow_a", "slow_b", "queued_c"):
            expect_error(api.get("/api/v1/models/" + name), 404, "not_found")
        time.sleep(1.2)  # the canceled queued job is never run
        eq(api.ok("GET", "/api/v1/jobs/" + c)["status"], "canceled", "the canceled queued job")
        expect_error(api.get("/api/v1/models/queued_c"), 404, "not_found")

    tap.run("DELETE /jobs/{id}: queued -> canceled, running -> canceled at the next progress; "
            "ended -> 409", cancel_jobs)

    # ---- models ----------------------------------------------------------------------

    def models_crud():
        api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "to_delete",
                                 "data": w.gen_rows[:300]}, status=201)
        full = api.ok("GET", "/api/v1/models")
        names = [m["model_name"] for m in full["models"]]
        eq(names, sorted(names), "models ordered by name")
        for n in ("my_lstm_model", "my_prophet_model", "var_detector", "async_model", "to_delete"):
            check(n in names, "%s is not listed" % n, names)
        eq(full["count"], len(names), "count")
        eq(full["total"], len(names), "total")
        for m in full["models"]:
            check(len(m["sha256"]) == 64 and m["size_bytes"] > 0, "sha256/size", m)
            parse_time(m["created_at"])
            parse_time(m["updated_at"])
        an = api.ok("GET", "/api/v1/models?task=anomaly")
        check(an["models"] and all(m["task"] == "anomaly" for m in an["models"]), "task filter", an)
        mv = api.ok("GET", "/api/v1/models?model_type=multivariate")
        check(mv["models"] and all(m["model_type"] == "multivariate" for m in mv["models"]), "kind filter")
        page = api.ok("GET", "/api/v1/models?limit=1&offset=1")
        eq(page["count"], 1, "page count")
        eq(page["total"], len(names), "page total")
        eq(page["models"][0]["model_name"], names[1], "offset 1")
        for q, field in (("limit=5000", "limit"), ("limit=-1", "limit"), ("limit=abc", "limit"),
                         ("offset=x", "offset")):
            expect_error(api.get("/api/v1/models?" + q), 400, "invalid_field", field)
        m = api.ok("GET", "/api/v1/models/my_lstm_model")
        check(isinstance(m.get("info"), dict) and m["info"], "no info", m)
        eq(m["sha256"], [x for x in full["models"] if x["model_name"] == "my_lstm_model"][0]["sha256"],
           "sha256 in get vs list")
        d = api.ok("DELETE", "/api/v1/models/to_delete")
        eq(d, {"status": "deleted", "model_name": "to_delete"}, "delete answer")
        expect_error(api.get("/api/v1/models/to_delete"), 404, "not_found", "model_name")
        expect_error(api.delete("/api/v1/models/to_delete"), 404, "not_found", "model_name")
        expect_error(api.post("/api/v1/predict", {"model_name": "to_delete", "steps_ahead": 2}),
                     404, "not_found", "model_name")
        after = [x["model_name"] for x in api.ok("GET", "/api/v1/models")["models"]]
        eq(after, [n for n in names if n != "to_delete"], "the list after delete")

    tap.run("models: list (order, filters, paging), get, delete; deleted models are gone",
            models_crud)

    def overwrite():
        before = w.snapshot()
        old = api.ok("GET", "/api/v1/models/my_lstm_model")
        p_old = api.ok("POST", "/api/v1/predict", {"model_name": "my_lstm_model", "steps_ahead": 3})
        w.fails(before, api.post(TRAIN_F, guide_train(w.forecaster, w.gen_str)), 409, "conflict",
                     "model_name", contains="overwrite")
        w.unchanged(before, "a 409")
        scaled = [[v[0] * 10 + 100] for v in w.gen_rows]
        body = dict(guide_train(w.forecaster, json.dumps(scaled)), overwrite=True)
        api.ok("POST", TRAIN_F, body, status=201)
        new = api.ok("GET", "/api/v1/models/my_lstm_model")
        check(new["sha256"] != old["sha256"], "the stored model did not change")
        eq(new["created_at"], old["created_at"], "created_at after overwrite")
        p_new = api.ok("POST", "/api/v1/predict", {"model_name": "my_lstm_model", "steps_ahead": 3})
        check(p_new["predictions"] != p_old["predictions"], "predictions from the old (cached) model")
        check(p_new["predictions"][0][0] > 50, "the overwritten model does not forecast the new data",
              p_new["predictions"])

    tap.run("409 for a taken name without overwrite (nothing changes); overwrite replaces the "
            "model and its cached copy", overwrite)

    def race():
        results = []

        def one(i):
            r = api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "race_model",
                                   "data": w.gen_rows[:400], "seed": i})
            results.append(r.status)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        eq(sorted(results), [201] + [409] * 5, "statuses of 6 concurrent trainings of one new name")

    tap.run("6 concurrent trainings of one new name: exactly one 201, five 409", race)

    def concurrent_predict():
        out = []

        def one():
            out.append(api.post("/api/v1/predict", guide_predict(w.gen_str)))

        threads = [threading.Thread(target=one) for _ in range(12)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        check(all(r.status == 200 for r in out), "a concurrent predict failed", [r.status for r in out])
        first = out[0].json["predictions"]
        check(all(r.json["predictions"] == first for r in out), "concurrent predictions differ")

    tap.run("12 concurrent predictions with one stored model agree", concurrent_predict)

    # ---- ensemble and results ---------------------------------------------------------------

    def ensemble():
        api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "ens_var",
                                 "data": w.gen_rows, "max_lags": 3}, status=201)
        others = [k for k in w.kinds if k not in ("multivariate", w.forecaster)
                  and "forecast" in w.caps(k)]
        third = others[0] if others else "multivariate"
        models = ["my_lstm_model", "ens_var", third]
        hist = w.gen_rows[-300:]
        base = {"models": models, "data": hist, "steps_ahead": 6}
        res = {}
        for method in ("mean", "median", "weighted_average"):
            j = api.ok("POST", "/api/v1/predict/ensemble", dict(base, ensemble_method=method))
            check_forecast(j, 6, 1)
            eq(j.get("ensemble_method"), method, "ensemble_method")
            eq([m["model"] for m in j["members"]], models, "members")
            eq([m["stored"] for m in j["members"]], [True, True, False], "members' stored flags")
            check(isinstance(j.get("result_id"), str), "not stored as a result")
            res[method] = j
        for t in range(6):
            p = [m["predictions"][t][0] for m in res["mean"]["members"]]
            got = res["mean"]["predictions"][t][0]
            check(abs(got - sum(p) / 3) <= 1e-9 * max(1, abs(got)), "mean at step %d" % t, [got, p])
            p = [m["predictions"][t][0] for m in res["median"]["members"]]
            eq(res["median"]["predictions"][t][0], sorted(p)[1], "median at step %d" % t)
            wts = res["weighted_average"]["weights"]
            p = [m["predictions"][t][0] for m in res["weighted_average"]["members"]]
            got = res["weighted_average"]["predictions"][t][0]
            check(abs(got - sum(a * b for a, b in zip(wts, p))) <= 1e-9 * max(1, abs(got)),
                  "weighted average at step %d" % t, [got, wts, p])
        wts = res["weighted_average"]["weights"]
        eq(len(wts), 3, "weights")
        check(all(x > 0 for x in wts) and abs(sum(wts) - 1) < 1e-9, "weights", wts)
        j = api.ok("POST", "/api/v1/predict/ensemble", base)
        eq(j["ensemble_method"], "mean", "default method")
        eq(j["predictions"], res["mean"]["predictions"], "default = mean")
        w.ensemble_result = res["median"]["result_id"]
        before = w.snapshot()
        for body, field in ((dict(base, ensemble_method="max"), "ensemble_method"),
                            (dict(base, models=[]), "models"),
                            (dict(base, models=["ens_var"] * 17), "models"),
                            (dict(base, models="ens_var"), "models"),
                            (dict(base, models=["ens_var", 5]), "models[1]"),
                            (dict(base, models=["ens_var", "no_such_thing"]), "models[1]")):
            w.fails(before, api.post("/api/v1/predict/ensemble", body), 400, None, field)
        w.unchanged(before, "a rejected ensemble")

    tap.run("predict/ensemble: mean, median and weighted_average combine the members exactly",
            ensemble)

    def results():
        j = api.ok("GET", "/api/v1/results")
        check(j["count"] >= 5, "results", j)
        kinds = {r["kind"] for r in j["results"]}
        check({"coordinated", "ensemble"} <= kinds, "result kinds", kinds)
        times = [r["created_at"] for r in j["results"]]
        eq(times, sorted(times, reverse=True), "newest first")
        ens = api.ok("GET", "/api/v1/results?kind=ensemble")
        check(ens["results"] and all(r["kind"] == "ensemble" for r in ens["results"]), "kind filter")
        one = api.ok("GET", "/api/v1/results?limit=1")
        eq(one["count"], 1, "limit=1")
        r = api.ok("GET", "/api/v1/results/" + w.ensemble_result)
        eq(r["kind"], "ensemble", "kind")
        eq(r["request"]["ensemble_method"], "median", "stored request")
        eq(r["result"]["ensemble_method"], "median", "stored result")
        check_forecast(r["result"], 6, 1)
        expect_error(api.get("/api/v1/results/" + str(uuid.uuid4())), 404, "not_found", "result_id")
        expect_error(api.get("/api/v1/results/not-an-id"), 404, "not_found", "result_id")
        expect_error(api.get("/api/v1/results?limit=x"), 400, "invalid_field", "limit")

    tap.run("results: list (newest first, kind filter, limit) and get the stored analyses", results)

    # ---- every error ---------------------------------------------------------------------

    long_name = "m" * 129
    vals = [r[0] for r in w.gen_rows[:200]]
    good = {"model_type": "multivariate", "model_name": "never_stored", "data": vals}

    def variant(**kw):
        b = dict(good)
        for k, v in kw.items():
            if v is DROP:
                b.pop(k, None)
            else:
                b[k] = v
        return b

    errors_400 = [
        ("malformed JSON", TRAIN_F, None, b'{"model_type": "multivariate",', "invalid_json", None),
        ("empty body", TRAIN_F, None, b"", "invalid_json", None),
        ("data after the JSON value", TRAIN_F, None, b'{"a": 1} {"b": 2}', "invalid_json", None),
        ("a JSON array body", TRAIN_F, None, b"[1, 2]", "invalid_json", None),
        ("a JSON string body", "/api/v1/predict", None, b'"predict"', "invalid_json", None),
        ("missing model_type", TRAIN_F, variant(model_type=DROP), None, "missing_field", "model_type"),
        ("missing model_name", TRAIN_F, variant(model_name=DROP), None, "missing_field", "model_name"),
        ("missing data", TRAIN_F, variant(data=DROP), None, "missing_field", "data"),
        ("model_type a number", TRAIN_F, variant(model_type=5), None, "invalid_field", "model_type"),
        ("model_name an array", TRAIN_F, variant(model_name=["x"]), None, "invalid_field", "model_name"),
        ("overwrite a string", TRAIN_F, variant(overwrite="yes"), None, "invalid_field", "overwrite"),
        ("data a boolean", TRAIN_F, variant(data=True), None, "invalid_field", "data"),
        ("max_lags a string", TRAIN_F, variant(max_lags="ten"), None, "invalid_field", "max_lags"),
        ("max_lags 2.5", TRAIN_F, variant(max_lags=2.5), None, "invalid_field", "max_lags"),
        ("max_lags 0 (out of range)", TRAIN_F, variant(max_lags=0), None, "invalid_field", "max_lags"),
        ("params not an object", TRAIN_F, variant(params=[1]), None, "invalid_field", "params"),
        ("unknown field", TRAIN_F, variant(colour="blue"), None, "unknown_field", "colour"),
        ("unknown parameter in params", TRAIN_F, variant(params={"colour": 1}), None, "invalid_field", "colour"),
        ("unknown model_type", TRAIN_F, variant(model_type="lstm_xl"), None, "unknown_model_type", "model_type"),
        ("model_name too long (129)", TRAIN_F, variant(model_name=long_name), None, "invalid_field", "model_name"),
        ("model_name with a slash", TRAIN_F, variant(model_name="a/b"), None, "invalid_field", "model_name"),
        ("model_name starting with a dot", TRAIN_F, variant(model_name=".x"), None, "invalid_field", "model_name"),
        ("ragged rows", TRAIN_F, variant(data=[[1, 2], [3, 4], [5]]), None, "invalid_field", "data"),
        ("rows mixed with numbers", TRAIN_F, variant(data=[[1], 2]), None, "invalid_field", "data"),
        ("ragged rows in a string", TRAIN_F, variant(data="[[1,2],[3]]"), None, "invalid_field", "data"),
        ("a string holding a string", TRAIN_F, variant(data='"[1,2]"'), None, "invalid_field", "data"),
        ("empty data", TRAIN_F, variant(data=[]), None, "invalid_field", "data"),
        ("an empty row", TRAIN_F, variant(data=[[]]), None, "invalid_field", "data"),
        ("{} without values", TRAIN_F, variant(data={"timestamps": [1]}), None, "invalid_field", "data"),
        ("a text value", TRAIN_F, variant(data=[1, 2, "3"]), None, "invalid_field", "data"),
        ("labels of the wrong length", TRAIN_A, variant(labels=[0, 1]), None, "invalid_field", "labels"),
        ("anomaly labels not numbers", TRAIN_A, variant(labels=["x"] * 200), None, "invalid_field", "labels"),
        ("steps_ahead a string", "/api/v1/predict", {"model_name": "var_detector", "steps_ahead": "10"},
         None, "invalid_field", "steps_ahead"),
        ("steps_ahead 0", "/api/v1/predict", {"model_name": "var_detector", "steps_ahead": 0},
         None, "invalid_field", "steps_ahead"),
        ("steps_ahead 2.5", "/api/v1/predict", {"model_name": "var_detector", "steps_ahead": 2.5},
         None, "invalid_field", "steps_ahead"),
        ("steps_ahead too long (100001)", "/api/v1/predict",
         {"model_name": "var_detector", "steps_ahead": 100001}, None, "invalid_field", "steps_ahead"),
        ("interval 1.5", "/api/v1/predict", {"model_name": "var_detector", "interval": 1.5},
         None, "invalid_field", "interval"),
        ("predict without model or data", "/api/v1/predict", {"steps_ahead": 3}, None,
         "missing_field", "data"),
        ("predict with data but no model", "/api/v1/predict", {"data": vals}, None,
         "missing_field", "model_name"),
        ("predict with an unknown model_type", "/api/v1/predict", {"model_type": "nope", "data": vals},
         None, "unknown_model_type", "model_type"),
        ("threshold 1.5", "/api/v1/detect_anomalies", {"model_name": "var_detector", "data": vals,
                                                       "threshold": 1.5}, None, "invalid_field", "threshold"),
        ("threshold a string", "/api/v1/detect_anomalies", {"model_name": "var_detector", "data": vals,
                                                            "threshold": "high"}, None, "invalid_field", "threshold"),
        ("detect without data", "/api/v1/detect_anomalies", {"model_name": "var_detector"}, None,
         "missing_field", "data"),
        ("generate n_samples 1.5", "/api/v1/data/generate", {"n_samples": 1.5}, None, "invalid_field", "n_samples"),
        ("generate n_samples 0", "/api/v1/data/generate", {"n_samples": 0}, None, "invalid_field", "n_samples"),
        ("generate too long (1000001)", "/api/v1/data/generate", {"n_samples": 1000001}, None,
         "invalid_field", "n_samples"),
        ("generate too large (n_samples x n_features)", "/api/v1/data/generate",
         {"n_samples": 100000, "n_features": 100}, None, "invalid_field", "n_samples"),
        ("generate trend a string", "/api/v1/data/generate", {"trend": "yes"}, None, "invalid_field", "trend"),
        ("generate unknown field", "/api/v1/data/generate", {"colour": 1}, None, "unknown_field", "colour"),
        ("generate bad freq", "/api/v1/data/generate", {"freq": "fortnight"}, None, "invalid_field", "freq"),
        ("generate bad start", "/api/v1/data/generate", {"start": "yesterday"}, None, "invalid_field", "start"),
        ("generate period 1", "/api/v1/data/generate", {"periods": [1]}, None, "invalid_field", "periods"),
        ("coordinated analysis_type a number", "/api/v1/analysis/coordinated",
         {"data": vals, "analysis_type": 5}, None, "invalid_field", "analysis_type"),
        ("coordinated unknown analysis_type", "/api/v1/analysis/coordinated",
         {"data": vals, "analysis_type": "everything"}, None, "invalid_field", "analysis_type"),
        ("coordinated without data", "/api/v1/analysis/coordinated", {"forecasting_model": "multivariate"},
         None, "missing_field", "data"),
    ]
    if "lstm" in w.kinds and w.kind_has("lstm", "epochs"):
        errors_400.append(("epochs over --max-epochs", TRAIN_F,
                           {"model_type": "lstm", "model_name": "too_many", "data": vals,
                            "epochs": 10001}, None, "invalid_field", "epochs"))

    def error_table(table, status):
        def test():
            before = w.snapshot()
            for name, path, body, raw, code, field in table:
                try:
                    r = api.post(path, body, raw=raw)
                    expect_error(r, status, code, field)
                    check(r.error().get("request_id") == r.header("x-request-id"),
                          "request_id differs from X-Request-Id")
                    w.unchanged(before, "the request")
                except TestFailure as e:
                    raise TestFailure("%s (POST %s): %s" % (name, path, e))
        return test

    tap.run("400 for each of %d malformed, mistyped, missing, unknown, NaN, ragged and too-long "
            "inputs, naming the field; nothing stored changes" % len(errors_400),
            error_table(errors_400, 400))

    def errors_404():
        before = w.snapshot()
        rid = str(uuid.uuid4())
        for method, path, body, field in (
                ("GET", "/api/v1/models/does_not_exist", None, "model_name"),
                ("DELETE", "/api/v1/models/does_not_exist", None, "model_name"),
                ("POST", "/api/v1/predict", {"model_name": "does_not_exist", "steps_ahead": 3}, "model_name"),
                ("POST", "/api/v1/detect_anomalies", {"model_name": "does_not_exist", "data": vals}, "model_name"),
                ("GET", "/api/v1/jobs/" + rid, None, "job_id"),
                ("GET", "/api/v1/jobs/not-a-job", None, "job_id"),
                ("DELETE", "/api/v1/jobs/" + rid, None, "job_id"),
                ("GET", "/api/v1/results/" + rid, None, "result_id"),
                ("GET", "/api/v1/nothing_here", None, None),
                ("POST", "/api/v1/models/forecasting/train/extra", good, None),
                ("GET", "/nothing", None, None),
                ("GET", "/api/v2/models", None, None)):
            r = api.request(method, path, body=body)
            try:
                expect_error(r, 404, "not_found", field)
                w.unchanged(before, "the request")
            except TestFailure as e:
                raise TestFailure("%s %s: %s" % (method, path, e))

    tap.run("404 for unknown models, jobs, results and endpoints", errors_404)

    def errors_405():
        before = w.snapshot()
        for method, path, allow in (("GET", "/api/v1/predict", "POST"),
                                    ("DELETE", "/api/v1/health", "GET"),
                                    ("PUT", "/api/v1/models/my_lstm_model", "GET, DELETE"),
                                    ("POST", "/api/v1/jobs/x", "GET, DELETE"),
                                    ("PATCH", "/api/v1/models", "GET"),
                                    ("GET", TRAIN_F, "POST")):
            r = api.request(method, path, body={} if method in ("PUT", "POST", "PATCH") else None)
            expect_error(r, 405, "method_not_allowed")
            eq(r.header("allow"), allow, "Allow of %s %s" % (method, path))
            w.unchanged(before, "%s %s" % (method, path))

    tap.run("405 with an Allow header for a known path and a wrong method", errors_405)

    def errors_413():
        before = w.snapshot()
        big = dict(good, model_name="too_big", data=[1.2345678901234] * 6000)
        raw = json.dumps(big).encode()
        check(len(raw) > MAX_BODY, "the body is not over the limit")
        w.fails(before, api.post(TRAIN_F, raw=raw), 413, "payload_too_large")
        w.fails(before, api.post(TRAIN_F, raw=raw, chunked=True), 413, "payload_too_large")
        # exactly at the limit is accepted, one byte more is not
        body = b'{"n_samples": 10}'
        at = body + b" " * (MAX_BODY - len(body))
        r = api.post("/api/v1/data/generate", raw=at)
        eq(r.status, 200, "a body of exactly --max-body bytes (%r)" % r)
        w.fails(before, api.post("/api/v1/data/generate", raw=at + b" "), 413, "payload_too_large")
        w.fails(before, api.post("/api/v1/data/generate", raw=at + b" ", chunked=True), 413,
                     "payload_too_large")
        w.unchanged(before, "a 413")
        w.fails(before, api.get("/api/v1/models/too_big"), 404, "not_found")

    tap.run("413 past --max-body (%d bytes), with Content-Length and chunked; the limit itself "
            "passes" % MAX_BODY, errors_413)

    def errors_422():
        before = w.snapshot()
        cases = [
            ("too short to train", TRAIN_F, variant(model_name="short", data=[1.0, 2.0, 1.5, 2.5, 1.7])),
            ("too short to fit on the fly", "/api/v1/predict", {"model_type": "multivariate",
                                                                 "data": [1.0, 2.0, 1.5]}),
            ("history with 3 features for a 1-feature model", "/api/v1/predict",
             {"model_name": "var_detector", "data": [[1, 2, 3]] * 30}),
            ("detect with 2 features on a 1-feature model", "/api/v1/detect_anomalies",
             {"model_name": "var_detector", "data": [[1, 2]] * 30}),
        ]
        univariate = [k for k in w.kinds if "multivariate" not in w.caps(k)]
        if univariate:
            cases.append(("2 features for the univariate kind %s" % univariate[0], TRAIN_F,
                          variant(model_type=univariate[0], model_name="uni",
                                  data=[[float(i), float(i % 7)] for i in range(100)])))
        for name, path, body in cases:
            try:
                expect_error(api.post(path, body), 422, "unprocessable", "data")
                w.unchanged(before, "the request")
            except TestFailure as e:
                raise TestFailure("%s: %s" % (name, e))

    tap.run("422 for data a model cannot use (too short, wrong number of features)", errors_422)

    def request_ids():
        r = api.get("/api/v1/health", headers={"X-Request-Id": "trace-42_a"})
        eq(r.header("x-request-id"), "trace-42_a", "echoed request id")
        r = api.post("/api/v1/predict", raw=b"{", headers={"X-Request-Id": "trace-43"})
        eq(r.error().get("request_id"), "trace-43", "request_id in the error")
        r = api.get("/api/v1/health", headers={"X-Request-Id": "bad id with spaces"})
        uuid.UUID(r.header("x-request-id"))

    tap.run("X-Request-Id is echoed (and replaced when invalid); errors carry it", request_ids)

    def metrics():
        r = api.get("/metrics")
        eq(r.status, 200, "status")
        check((r.header("content-type") or "").startswith("text/plain; version=0.0.4"),
              "content type %s" % r.header("content-type"))
        text = r.body.decode()
        p = subprocess.run(["promtool", "check", "metrics"], input=text, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, universal_newlines=True, timeout=60)
        check(p.returncode == 0, "promtool check metrics failed (%d)" % p.returncode, p.stdout)
        samples = {}
        for line in text.splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                samples[name] = float(value)

        def find(prefix, *parts):
            return sum(v for k, v in samples.items()
                       if k.startswith(prefix + "{") and all(p in k for p in parts))
        check(find("tsa_http_requests_total", 'route="/api/v1/predict"', 'code="200"') >= 10,
              "predict requests are not counted")
        check(find("tsa_http_requests_total", 'code="413"') >= 3, "413s are not counted")
        check(find("tsa_http_requests_total", 'route="unmatched"', 'code="404"') >= 3,
              "unmatched 404s are not counted")
        check(find("tsa_train_duration_seconds_count", 'kind="multivariate"') >= 3,
              "training durations are not counted")
        check(find("tsa_anomalies_flagged_total") >= 8, "flagged anomalies are not counted")
        models = api.ok("GET", "/api/v1/models")["total"]
        eq(find("tsa_models"), float(models), "tsa_models")
        check(find("tsa_jobs", 'state="completed"') >= 2, "tsa_jobs{state=completed}")
        check(find("tsa_jobs", 'state="canceled"') >= 3, "tsa_jobs{state=canceled}")
        check(samples.get("process_resident_memory_bytes", 0) > 1e6, "process_resident_memory_bytes")
        routes = {k.split('route="', 1)[1].split('"', 1)[0] for k in samples if 'route="' in k}
        leaked = sorted(x for x in routes if "my_lstm_model" in x or "/jobs/x" in x)
        check(not leaked, "concrete paths as route labels (unbounded label values)", leaked)

    tap.run("GET /metrics passes promtool check metrics and counts requests, trainings, anomalies",
            metrics)
    return w


DROP = object()
