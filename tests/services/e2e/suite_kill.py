"""tsa-api killed (SIGKILL) or stopped (SIGTERM) while a training job runs:
the job ends interrupted, no partial model is stored, every earlier model is
intact and gives the same answers, and a queued job still runs."""

import json
import os
import signal

from harness import ApiServer, Skip, TestFailure, check, eq, expect_error, wait_for

TRAIN_F = "/api/v1/models/forecasting/train"
TRAIN_A = "/api/v1/models/anomaly/train"


def slow_job(kinds, name, data_1f, data_2f):
    """Training that takes far longer than the test waits (it is killed):
    an LSTM with many epochs when that kind exists, else a large HMM fit."""
    def has(kind, param):
        return any(p.get("name") == param for p in kinds.get(kind, {}).get("params", []))
    if "lstm" in kinds and has("lstm", "epochs"):
        body = {"model_type": "lstm", "model_name": name, "data": data_1f, "epochs": 10000,
                "validate": False, "async": True}
        if has("lstm", "patience"):  # no early stop
            body["patience"] = 100000
        return TRAIN_F, body
    if "hmm" in kinds:
        return TRAIN_A, {"model_type": "hmm", "model_name": name, "data": data_2f, "n_states": 20,
                         "n_init": 50, "max_iter": 10000, "tol": 0, "covariance": "full",
                         "validate": False, "async": True}
    raise Skip("no slow kind (lstm or hmm) in this build")


def run(tap, tmp):
    workdir = os.path.join(tmp, "kill")
    os.makedirs(workdir)
    store = "sqlite:" + os.path.join(workdir, "tsa.db")
    st = {"srv": ApiServer(workdir, store, name="api", args=["--workers", "1"])}

    def answers(api):
        """Everything the stored models answer, to compare across restarts."""
        out = {"models": api.ok("GET", "/api/v1/models?limit=1000")}
        for m in out["models"]["models"]:
            name = m["model_name"]
            out["predict " + name] = api.ok("POST", "/api/v1/predict", {"model_name": name,
                                                                       "steps_ahead": 5})
            out["detect " + name] = api.ok("POST", "/api/v1/detect_anomalies",
                                           {"model_name": name, "data": st["probe"]})
        return out

    def setup():
        api = st["srv"].start().api
        kinds = {k["name"]: k for k in api.ok("GET", "/api/v1/model_types")["model_types"]}
        one = api.ok("POST", "/api/v1/data/generate", {"n_samples": 800, "seed": 41})["data"]
        two = api.ok("POST", "/api/v1/data/generate", {"n_samples": 800, "n_features": 2, "seed": 42})["data"]
        st["probe"] = one[-100:]
        st["one"] = [[round(v[0], 5)] for v in one]
        st["two"] = [[round(x, 4) for x in r] for r in two]
        st["kinds"] = kinds
        api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "keep_var", "data": one},
               status=201)
        others = [k for k in ("hmm", "prophet", "ets") if k in kinds]
        for k in others[:2]:
            api.ok("POST", TRAIN_A, {"model_type": k, "model_name": "keep_" + k, "data": one}, status=201)
        st["before"] = answers(api)

    if not tap.run("set-up: tsa-api on SQLite with stored models and their answers recorded", setup):
        st["srv"].kill()
        return

    def kill9():
        srv = st["srv"]
        api = srv.api
        path, body = slow_job(st["kinds"], "killed_model", st["one"], st["two"])
        r = api.post(path, body)
        eq(r.status, 202, "slow job (%r)" % r)
        job = r.json["job_id"]
        # A second job waits in the queue behind it (one worker).
        r = api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "queued_model",
                               "data": st["one"], "async": True})
        eq(r.status, 202, "queued job")
        queued = r.json["job_id"]
        wait_for(lambda: api.ok("GET", "/api/v1/jobs/" + job)["progress"]["epoch"] > 0, 30,
                 "the slow job to report progress")
        eq(api.ok("GET", "/api/v1/jobs/" + queued)["status"], "queued", "the second job")
        os.kill(srv.pid, signal.SIGKILL)
        srv.proc.wait(10)
        eq(srv.proc.returncode, -signal.SIGKILL, "killed")
        srv = st["srv"] = ApiServer(workdir, store, name="api", args=["--workers", "1"]).start()
        api = srv.api
        j = api.ok("GET", "/api/v1/jobs/" + job)
        eq(j["status"], "interrupted", "the killed job after the restart")
        check(j.get("error"), "an interrupted job without an error message", j)
        expect_error(api.get("/api/v1/models/killed_model"), 404, "not_found")
        log = open(srv.log, encoding="utf-8", errors="replace").read().splitlines()
        listening = [json.loads(l) for l in log if '"msg":"listening"' in l]
        eq(listening[-1].get("recovered_jobs"), 1, "recovered_jobs logged at start-up")
        # the queued job survives the crash and runs now
        wait_for(lambda: api.ok("GET", "/api/v1/jobs/" + queued)["status"] == "completed", 30,
                 "the queued job to run after the restart")
        api.ok("DELETE", "/api/v1/models/queued_model")
        after = answers(api)
        for key in st["before"]:
            eq(after[key], st["before"][key], key + " after SIGKILL and restart")
        eq(sorted(after), sorted(st["before"]), "what is stored")

    tap.run("SIGKILL during training: the job is interrupted after a restart, no partial model, "
            "earlier models answer bit for bit as before, the queued job runs", kill9)

    def term():
        srv = st["srv"]
        if not srv.running():
            raise TestFailure("no server (the previous test failed)")
        api = srv.api
        path, body = slow_job(st["kinds"], "stopped_model", st["one"], st["two"])
        r = api.post(path, body)
        eq(r.status, 202, "slow job")
        job = r.json["job_id"]
        wait_for(lambda: api.ok("GET", "/api/v1/jobs/" + job)["progress"]["epoch"] > 0, 30,
                 "the slow job to report progress")
        rc = srv.stop(timeout=20)
        eq(rc, 0, "exit status after SIGTERM")
        srv = st["srv"] = ApiServer(workdir, store, name="api", args=["--workers", "1"]).start()
        api = srv.api
        j = api.ok("GET", "/api/v1/jobs/" + job)
        eq(j["status"], "interrupted", "the job after a graceful stop")
        expect_error(api.get("/api/v1/models/stopped_model"), 404, "not_found")
        after = answers(api)
        eq(after, st["before"], "stored models and their answers")

    tap.run("SIGTERM during training: exits 0 promptly, the job is interrupted, nothing partial "
            "stored", term)
    st["srv"].kill()
