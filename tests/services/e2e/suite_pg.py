"""PostgreSQL-only behaviour: the store going down (503) and coming back,
and two API processes sharing one database and its job queue."""

import os
import signal
import threading
import time

from harness import ApiServer, TestFailure, check, eq, expect_error, wait_for

TRAIN_F = "/api/v1/models/forecasting/train"
TRAIN_A = "/api/v1/models/anomaly/train"
N_JOBS = 6


def store_down(tap, pg, srv):
    api = srv.api
    state = {}

    def down():
        state["models"] = api.ok("GET", "/api/v1/models?limit=1000")
        series = api.ok("POST", "/api/v1/data/generate", {"n_samples": 300, "seed": 21})["data"]
        state["series"] = series
        pg.pause()
        state["paused"] = True
        for path in ("/api/v1/health", "/health"):
            r = api.get(path)
            eq(r.status, 503, path)
            eq(r.json["status"], "degraded", path + " status")
            eq(r.json["store"]["reachable"], False, "store.reachable")
            check(r.json["store"].get("error"), "no store error in health")
        failures = [
            ("GET", "/api/v1/models", None),
            ("GET", "/api/v1/models/my_lstm_model", None),
            ("DELETE", "/api/v1/models/my_lstm_model", None),
            ("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "while_down", "data": series}),
            ("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "while_down_async",
                               "data": series, "async": True}),
            ("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "my_lstm_model",
                               "data": series, "overwrite": True}),
            ("POST", "/api/v1/predict", {"model_name": "my_lstm_model", "steps_ahead": 3}),
            ("POST", "/api/v1/detect_anomalies", {"model_name": "var_detector", "data": series}),
            ("POST", "/api/v1/predict/ensemble", {"models": ["my_lstm_model", "ens_var"], "data": series}),
            ("POST", "/api/v1/analysis/coordinated", {"data": series, "forecasting_model": "my_lstm_model",
                                                      "anomaly_model": "var_detector"}),
            ("GET", "/api/v1/jobs", None),
            ("GET", "/api/v1/jobs/00000000-0000-4000-8000-000000000000", None),
            ("GET", "/api/v1/results", None),
        ]
        bad = []
        for method, path, body in failures:
            r = api.request(method, path, body=body)
            if r.status != 503 or r.error().get("code") != "store_unavailable":
                bad.append("%s %s -> %r" % (method, path, r))
        check(not bad, "expected 503 store_unavailable", "\n".join(bad))
        # what needs no store still works
        eq(api.post("/api/v1/data/generate", {"n_samples": 10}).status, 200, "generate")
        eq(api.post("/api/v1/predict", {"model_type": "multivariate", "data": series,
                                        "steps_ahead": 2}).status, 200, "predict on the fly")
        eq(api.get("/metrics").status, 200, "metrics")

    ok = tap.run("PostgreSQL stopped: health, models, training, predict, jobs, results -> 503 "
                 "store_unavailable; on-the-fly work still answers", down)

    def back():
        if state.get("paused"):
            pg.resume()
            state["paused"] = False
        wait_for(lambda: api.get("/api/v1/health").status == 200, 30, "health to recover")
        eq(api.ok("GET", "/api/v1/models?limit=1000"), state["models"], "models after the outage")
        names = [m["model_name"] for m in state["models"]["models"]]
        check("while_down" not in names, "a model stored while down")
        api.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "after_outage",
                                 "data": state["series"]}, status=201)
        api.ok("POST", "/api/v1/predict", {"model_name": "my_lstm_model", "steps_ahead": 3})
        r = api.post(TRAIN_F, {"model_type": "multivariate", "model_name": "after_outage_async",
                               "data": state["series"], "async": True})
        eq(r.status, 202, "async after the outage")
        wait_for(lambda: api.ok("GET", r.json["job_url"])["status"] == "completed", 30,
                 "the job after the outage")

    if "series" in state:
        tap.run("PostgreSQL back: the same process recovers; nothing was stored during the outage",
                back)
    elif not ok and state.get("paused"):
        pg.resume()


STALE_S = 2  # --job-stale-after of the two processes: heartbeats every 0.5 s


def moderate_job(name, data):
    """A training request of most of a second."""
    return {"model_type": "hmm", "model_name": name, "data": data, "n_states": 8, "n_init": 12,
            "max_iter": 300, "tol": 0, "covariance": "full", "validate": False, "async": True}


def two_processes(tap, pg, tmp):
    servers = []

    def start_both():
        url = pg.new_database("tsa_two")
        for name in ("a", "b"):
            d = os.path.join(tmp, "pg-two-" + name)
            os.makedirs(d)
            servers.append(ApiServer(d, url, name=name,
                                     args=["--workers", "1", "--job-stale-after", str(STALE_S)]))
        # At once: both run the migrations on a new database.
        errs = []

        def go(s):
            try:
                s.start()
            except TestFailure as e:
                errs.append(str(e))
        ts = [threading.Thread(target=go, args=(s,)) for s in servers]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        check(not errs, "a process did not start", "\n".join(errs))

    if not tap.run("two tsa-api processes start at once on one new PostgreSQL database", start_both):
        for s in servers:
            s.kill()
        return
    a, b = servers[0].api, servers[1].api
    try:
        series = a.ok("POST", "/api/v1/data/generate", {"n_samples": 400, "seed": 31})["data"]

        def shared_models():
            a.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "from_a", "data": series},
                 status=201)
            b.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "from_b",
                                   "data": series, "max_lags": 2}, status=201)
            eq(b.ok("GET", "/api/v1/models/from_a")["sha256"], a.ok("GET", "/api/v1/models/from_a")["sha256"],
               "from_a seen by b")
            pa = a.ok("POST", "/api/v1/predict", {"model_name": "from_b", "steps_ahead": 4})
            pb = b.ok("POST", "/api/v1/predict", {"model_name": "from_b", "steps_ahead": 4})
            eq(pa["predictions"], pb["predictions"], "from_b forecasts in a and b")
            # b replaces a model a has cached: a serves the new one
            scaled = [[v[0] * 10 + 50] for v in series]
            b.ok("POST", TRAIN_F, {"model_type": "multivariate", "model_name": "from_b", "data": scaled,
                                   "overwrite": True}, status=201)
            pa2 = a.ok("POST", "/api/v1/predict", {"model_name": "from_b", "steps_ahead": 4})
            check(pa2["predictions"] != pa["predictions"], "a forecasts with its stale cached copy")
            # b deletes a model a has cached: a no longer serves it
            a.ok("POST", "/api/v1/predict", {"model_name": "from_a", "steps_ahead": 2})
            b.ok("DELETE", "/api/v1/models/from_a")
            expect_error(a.post("/api/v1/predict", {"model_name": "from_a", "steps_ahead": 2}), 404,
                         "not_found")
            eq(sorted(m["model_name"] for m in a.ok("GET", "/api/v1/models")["models"]),
               sorted(m["model_name"] for m in b.ok("GET", "/api/v1/models")["models"]), "model lists")

        tap.run("both processes see the models the other trains, replaces and deletes", shared_models)

        def split_jobs():
            two = a.ok("POST", "/api/v1/data/generate", {"n_samples": 600, "n_features": 2, "seed": 5})
            data = [[round(x, 4) for x in r] for r in two["data"]]
            ids = []
            # All queued through a: b's worker must take some from the shared queue.
            for i in range(N_JOBS):
                r = a.post(TRAIN_A, moderate_job("job_%d" % i, data))
                eq(r.status, 202, "job %d (%r)" % (i, r))
                ids.append(r.json["job_id"])

            def all_done():
                states = [b.ok("GET", "/api/v1/jobs/" + i)["status"] for i in ids]
                return states if all(s not in ("queued", "running") for s in states) else None
            states = wait_for(all_done, 90, "the jobs to end", 0.2)
            eq(states, ["completed"] * N_JOBS, "job states")
            rows = pg.psql("SELECT id, pid, worker_id, state FROM jobs WHERE id IN (%s)"
                           % ", ".join("'%s'" % i for i in ids), db="tsa_two")
            eq(len(rows), N_JOBS, "job rows")
            pids = [int(r[1]) for r in rows]
            by = {p: pids.count(p) for p in set(pids)}
            tap.diag("jobs run per pid: %s (a=%d, b=%d)" % (by, servers[0].pid, servers[1].pid))
            check(set(by) <= {servers[0].pid, servers[1].pid}, "a job ran in an unknown process", by)
            check(len(by) == 2, "all jobs ran in one process: the queue is not shared", by)
            for r in rows:
                check(r[2].endswith(":%s" % r[1]), "worker_id does not name the pid", r)
            names = {m["model_name"] for m in b.ok("GET", "/api/v1/models?task=anomaly")["models"]}
            check({"job_%d" % i for i in range(N_JOBS)} <= names, "a job's model is missing", names)

        tap.run("%d jobs queued through one process run in both (claimed from the shared queue)" % N_JOBS,
                split_jobs)

        def replica_hung():
            two = a.ok("POST", "/api/v1/data/generate", {"n_samples": 600, "n_features": 2, "seed": 7})
            data = [[round(x, 4) for x in r] for r in two["data"]]
            body = dict(moderate_job("hung", data), n_states=20, n_init=50, max_iter=10000)
            r = a.post(TRAIN_A, body)
            eq(r.status, 202, "slow job")
            job = r.json["job_id"]
            wait_for(lambda: a.ok("GET", "/api/v1/jobs/" + job)["status"] == "running", 20,
                     "the job to run")
            # A live worker keeps its job past several stale limits.
            time.sleep(3 * STALE_S)
            eq(a.ok("GET", "/api/v1/jobs/" + job)["status"], "running",
               "a job of a live worker after %d s" % (3 * STALE_S))
            pid = int(pg.psql("SELECT pid FROM jobs WHERE id = '%s'" % job, db="tsa_two")[0][0])
            hung = [s for s in servers if s.pid == pid]
            check(hung, "the job runs in an unknown process %d" % pid)
            other = [s for s in servers if s.pid != pid][0]
            # Frozen, not dead: its pid still runs, only the heartbeats stop.
            os.kill(pid, signal.SIGSTOP)
            try:
                j = wait_for(lambda: (lambda x: x if x["status"] != "running" else None)(
                    other.api.ok("GET", "/api/v1/jobs/" + job)), 40,
                    "the other process to interrupt the silent worker's job")
            finally:
                os.kill(pid, signal.SIGCONT)
            eq(j["status"], "interrupted", "the hung worker's job")
            check("heartbeat" in (j.get("error") or ""), "the reason does not name the heartbeat", j)
            # Woken up, the worker learns at its next heartbeat or epoch that
            # the job is no longer its own and stores nothing.
            time.sleep(2 * STALE_S)
            eq(other.api.ok("GET", "/api/v1/jobs/" + job)["status"], "interrupted", "after waking up")
            expect_error(other.api.get("/api/v1/models/hung"), 404, "not_found")
            hung[0].api.ok("GET", "/health")

        tap.run("a hung process (SIGSTOP) loses its job once its heartbeats stop; a live one keeps "
                "a long job", replica_hung)

        def replica_killed():
            two = a.ok("POST", "/api/v1/data/generate", {"n_samples": 600, "n_features": 2, "seed": 6})
            data = [[round(x, 4) for x in r] for r in two["data"]]
            body = dict(moderate_job("orphan", data), n_states=20, n_init=50, max_iter=10000)
            r = a.post(TRAIN_A, body)
            eq(r.status, 202, "slow job")
            job = r.json["job_id"]
            wait_for(lambda: a.ok("GET", "/api/v1/jobs/" + job)["status"] == "running", 20,
                     "the job to run")
            pid = int(pg.psql("SELECT pid FROM jobs WHERE id = '%s'" % job, db="tsa_two")[0][0])
            victim = [s for s in servers if s.pid == pid]
            check(victim, "the job runs in an unknown process %d" % pid)
            survivor = [s for s in servers if s.pid != pid][0]
            victim[0].kill()
            j = wait_for(lambda: (lambda x: x if x["status"] != "running" else None)(
                survivor.api.ok("GET", "/api/v1/jobs/" + job)), 15,
                "the surviving process to mark the dead process's job interrupted")
            eq(j["status"], "interrupted", "the orphaned job")
            expect_error(survivor.api.get("/api/v1/models/orphan"), 404, "not_found")

        tap.run("a process killed mid-job: the surviving process marks its job interrupted "
                "(no restart needed)", replica_killed)
    finally:
        for s in servers:
            s.kill()
